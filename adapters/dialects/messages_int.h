/*
 * messages_int.h — what the Anthropic Messages dialect's files share:
 * the bounded JSON writer (messages.c), the decoder (messages_decode.c,
 * also used by count_tokens.c, with or without the dialect's mandatory
 * max_tokens), the answer helpers the stream reuses (messages_answer.c)
 * and the stream (messages_stream.c), all named by the ops table in
 * messages.c.  Not for use outside adapters/dialects/.
 */
#ifndef TG_MESSAGES_INT_H
#define TG_MESSAGES_INT_H

#include "adapters/dialects/dialect_int.h"
#include "adapters/dialects/jwriter.h"

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Per-dialect stream caps (engine/limits.h holds the engine's). */

/* Tool calls one streamed answer may open: OpenAI tool-call indexes are
 * small integers; past this many the canonical stream is refused rather
 * than tracked without bound. */
#define TG_MESSAGES_MAX_STREAM_TOOLS 1024u

/* One Anthropic event written to the client: its text comes from one
 * canonical event (the SSE parser caps those at 1 MiB), re-escaped no
 * longer than it was escaped there; 4 MiB leaves room for the rest. */
#define TG_MESSAGES_MAX_EVENT_BYTES  (4u * 1024u * 1024u)

/* May body (a Messages body the decoder accepted) go to an Anthropic
 * provider as it is (messages_pass.c; tg_dialect_ctx.verbatim)? */
bool tg__msg_verbatim_ok(const cJSON *body);

/*
 * Decode an Anthropic Messages body (or a count_tokens body:
 * count_tokens = true, where max_tokens is optional and `stream` is
 * ignored) into the canonical chat completions body.  Contract as
 * tg_dialect_ops.decode_tree (tree may be NULL: text only).
 */
int tg__messages_decode(const char *body, size_t len, struct tg_arena *a,
                        struct tg_dialect_ctx *ctx, bool count_tokens,
                        char **canon, size_t *canon_len, cJSON **tree, struct tg_err *err);

/* ---- messages.c: a bounded JSON text writer ------------------------------ */


static inline const cJSON *
tg__msg_get(const cJSON *o, const char *k)
{
    return tg__dialect_get(o, k);
}

/* ---- messages_decode.c ---------------------------------------------------- */

/* What the request asked for that the encoders need back. */
struct tg__msg_priv {
    const char **stops;     /* stop_sequences, to report which one ended the answer */
    uint32_t     nstops;
};

int tg__msg_decode(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
                   char **canon, size_t *canon_len, struct tg_err *err);
int tg__msg_decode_tree(const char *body, size_t len, struct tg_arena *a,
                        struct tg_dialect_ctx *ctx, char **canon, size_t *canon_len,
                        cJSON **tree, struct tg_err *err);

/* ---- messages_answer.c ---------------------------------------------------- */

const char *tg__msg_stop_reason(const char *finish, bool tool_calls);
int64_t tg__msg_usage_int(const cJSON *o, const char *k);
void tg__msg_write_usage(struct tg__jw *w, int64_t prompt, int64_t completion,
                         int64_t cached, bool input);
int tg__msg_encode_answer(const struct tg_dialect_ctx *ctx, const char *chat, size_t len,
                          char **out, size_t *outlen, struct tg_err *err);

/* ---- messages_stream.c ---------------------------------------------------- */

int tg__msg_stream_new(const struct tg_dialect_ctx *ctx, tg_dialect_emit_fn emit, void *ud,
                       struct tg_dialect_stream **out);
int tg__msg_stream_feed(struct tg_dialect_stream *s, const char *buf, size_t len);
int tg__msg_stream_end(struct tg_dialect_stream *s, bool ok);
void tg__msg_stream_free(struct tg_dialect_stream *s);

#endif /* TG_MESSAGES_INT_H */
