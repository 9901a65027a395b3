/*
 * messages.c — the Anthropic Messages dialect's ops table, and what its
 * three files share: a bounded JSON text writer.
 *
 * The jobs are in messages_decode.c (a Messages body -> the canonical
 * chat body), messages_answer.c (a chat.completion -> a Message) and
 * messages_stream.c (canonical SSE -> Anthropic events).  What is
 * carried, dropped or refused, field by field, is in docs/dialects.md
 * ("Anthropic Messages"); the comments say why.
 */

#include "adapters/dialects/messages_int.h"
#include "engine/limits.h"

#include <cjson/cJSON.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


const struct tg_dialect_ops tg__dialect_messages = {
    .id = TG_DIALECT_MESSAGES,
    .name = "messages",
    .path = "/v1/messages",
    .errors = TG_DIALECT_ERR_ANTHROPIC,
    .decode = tg__msg_decode,
    .decode_tree = tg__msg_decode_tree,
    .encode_answer = tg__msg_encode_answer,
    .stream_new = tg__msg_stream_new,
    .stream_feed = tg__msg_stream_feed,
    .stream_end = tg__msg_stream_end,
    .stream_free = tg__msg_stream_free,
};
