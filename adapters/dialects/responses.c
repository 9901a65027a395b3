/*
 * responses.c — the OpenAI Responses dialect: its ops table, and what its
 * three parts share (a bounded JSON writer and tree lookups, declared in
 * responses_int.h).  The parts: responses_decode.c (request -> canonical
 * chat body), responses_answer.c (chat.completion -> Response object),
 * responses_stream.c (chat.completion.chunk SSE -> Responses events).
 *
 * Answers and events are written by hand into a bounded buffer, never
 * built as a cJSON tree: they run on every answer and every streamed token.
 */
#include "adapters/dialects/responses_int.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

const cJSON *
tg__resp_get(const cJSON *o, const char *k)
{
    return tg__dialect_get(o, k);
}

void
tg__resp_top_read(const cJSON *root, struct tg__resp_top *t)
{
    static const struct { const char *k; size_t off; } keys[] = {
#define K(name) { #name, offsetof(struct tg__resp_top, name) }
        K(model), K(input), K(stream), K(instructions), K(temperature), K(top_p), K(max_output_tokens),
        K(tool_choice), K(tools), K(parallel_tool_calls), K(user), K(text), K(metadata),
        K(previous_response_id), K(conversation), K(prompt),
#undef K
    };

    memset(t, 0, sizeof *t);
    /* keys are unique (duplicates were refused): the first match is the one */
    for (const cJSON *c = root != NULL ? root->child : NULL; c != NULL; c = c->next) {
        if (c->string == NULL)
            continue;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            if (c->string[0] == keys[i].k[0] && strcmp(c->string, keys[i].k) == 0) {
                const cJSON **slot = (const cJSON **)(void *)((char *)t + keys[i].off);
                if (*slot == NULL)
                    *slot = c;
                break;
            }
    }
}

bool
tg__resp_present(const cJSON *n)
{
    return n != NULL && !cJSON_IsNull(n);
}

const char *
tg__resp_str_or(const cJSON *n, const char *dflt)
{
    return cJSON_IsString(n) ? n->valuestring : dflt;
}

bool
tg__resp_streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

const struct tg_dialect_ops tg__dialect_responses = {
    .id = TG_DIALECT_RESPONSES,
    .name = "responses",
    .path = "/v1/responses",
    .errors = TG_DIALECT_ERR_OPENAI,
    .decode = tg__resp_decode,
    .decode_tree = tg__resp_decode_tree,
    .encode_answer = tg__resp_encode_answer,
    .stream_new = tg__resp_stream_new,
    .stream_feed = tg__resp_stream_feed,
    .stream_end = tg__resp_stream_end,
    .stream_free = tg__resp_stream_free,
};