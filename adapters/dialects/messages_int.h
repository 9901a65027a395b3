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

/* Errors are sticky: after the first failure every call is a no-op and
 * the caller checks rc once at the end (curl's dynbuf does the same).
 * With an arena the text is built where it will live (the canonical body
 * is the request's), sized up front so that it rarely moves; without one
 * it is malloc'd (answers and stream events, handed to the caller). */
struct tg__msg_jw {
    char  *buf;     /* NUL-terminated while len > 0 */
    size_t len, cap, max;
    struct tg_arena *a;  /* NULL: malloc/realloc */
    int    rc;      /* TG_OK, TG_ENOMEM or TG_ELIMIT */
};

void tg__msg_jw_init(struct tg__msg_jw *w, size_t max);
void tg__msg_jw_free(struct tg__msg_jw *w);
bool tg__msg_jw_room(struct tg__msg_jw *w, size_t n);
void tg__msg_jw_reserve(struct tg__msg_jw *w, size_t n);
void tg__msg_jw_esc(struct tg__msg_jw *w, const char *s, size_t n);
void tg__msg_jw_str(struct tg__msg_jw *w, const char *s);
void tg__msg_jw_int(struct tg__msg_jw *w, int64_t v);
void tg__msg_jw_value(struct tg__msg_jw *w, const cJSON *v);

/* Most writes are a few bytes into room already there: that path is a
 * compare and a copy, growth stays out of line in tg__msg_jw_room. */
static inline void
tg__msg_jw_raw(struct tg__msg_jw *w, const char *s, size_t n)
{
    if (n == 0 || w->rc != TG_OK || (w->len + n + 1 > w->cap && !tg__msg_jw_room(w, n)))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* literals only: "" lit "" does not compile for a pointer, whose sizeof would lie */
#define TG__MSG_JW_LIT(w, lit) tg__msg_jw_raw((w), "" lit "", sizeof(lit) - 1)

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
void tg__msg_write_usage(struct tg__msg_jw *w, int64_t prompt, int64_t completion,
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
