/*
 * responses_int.h — what the OpenAI Responses dialect's files share: the
 * bounded JSON writer, tree lookups, the per-request state decode leaves
 * for the encoders (ctx->priv), the Response object's pieces the stream
 * reuses, and the entry points the ops table (responses.c) names.  Not for
 * use outside adapters/dialects/.
 */
#ifndef TG_RESPONSES_INT_H
#define TG_RESPONSES_INT_H

#include "adapters/dialects/dialect_int.h"
#include "adapters/dialects/jwriter.h"
#include "engine/json.h"
#include "engine/limits.h"

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- small helpers ------------------------------------------------------ */

const cJSON *tg__resp_get(const cJSON *o, const char *k);
bool tg__resp_present(const cJSON *n);
const char *tg__resp_str_or(const cJSON *n, const char *dflt);
bool tg__resp_streq(const char *a, const char *b);

/* ---- decode: Responses request -> canonical chat body -------------------- */

/* A function of a tool namespace, sent to the chat model as `flat`. */
struct tg__resp_ns_fn {
    const char *flat, *ns, *name;
};

/* What the encoders need from the request (ctx->priv, in the arena). */
/* The request's top-level members a decoder and an answer read, found in
 * one pass over the object (NULL: absent) instead of a search each. */
struct tg__resp_top {
    const cJSON *model, *input, *stream, *instructions, *temperature, *top_p, *max_output_tokens,
                *tool_choice, *tools, *parallel_tool_calls, *user, *text, *metadata,
                *previous_response_id, *conversation, *prompt;
};
void tg__resp_top_read(const cJSON *root, struct tg__resp_top *t);

struct tg__resp_priv {
    const char **custom;     /* names of custom tools (answers -> custom_tool_call) */
    uint32_t     ncustom;
    struct tg__resp_ns_fn *nsfn; /* namespaced functions (answers carry `namespace`) */
    uint32_t     nnsfn;
    const cJSON *root;       /* the request as parsed (arena): what a Response echoes,
                                serialized only when an answer is encoded */
    struct tg__resp_top top; /* root's members */
};

int tg__resp_decode_tree(const char *body, size_t len, struct tg_arena *a,
                         struct tg_dialect_ctx *ctx,
                         char **canon, size_t *canon_len, cJSON **tree, struct tg_err *err);
int tg__resp_decode(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
                    char **canon, size_t *canon_len, struct tg_err *err);

/* ---- the Response object (responses_answer.c) ---------------------------- */

struct tg__resp_usage {
    bool    have;
    int64_t in, out, total, cached, reasoning;
};

void tg__resp_usage_read(struct tg__resp_usage *u, const cJSON *cu);
const char *tg__resp_answer_id(const struct tg_dialect_ctx *ctx);
void tg__resp_item_id(struct tg__jw *b, const struct tg_dialect_ctx *ctx, const char *prefix,
                      uint32_t idx);
const char *tg__resp_incomplete_reason(const char *finish);
void tg__resp_build_echo(struct tg__jw *b, const struct tg_dialect_ctx *ctx);
void tg__resp_write_head(struct tg__jw *b, const struct tg_dialect_ctx *ctx, const char *status,
                         const char *incomplete, const char *err_msg);
void tg__resp_write_tail(struct tg__jw *b, const struct tg_dialect_ctx *ctx, const struct tg__jw *echo,
                         const struct tg__resp_usage *u);
void tg__resp_write_response(struct tg__jw *b, const struct tg_dialect_ctx *ctx,
                             const struct tg__jw *echo,
                             const char *status,
                             const char *incomplete, const char *output, size_t output_len,
                             const struct tg__resp_usage *u, const char *err_msg);
bool tg__resp_is_custom(const struct tg_dialect_ctx *ctx, const char *name);
const char *tg__resp_client_name(const struct tg_dialect_ctx *ctx, const char *flat,
                                 const char **ns);
void tg__resp_write_custom_input(struct tg__jw *b, const char *args, size_t len);
void tg__resp_write_msg_item(struct tg__jw *b, const struct tg_dialect_ctx *ctx, uint32_t idx,
                             const char *status,
                             const char *text, size_t tlen, int text_ci, const char *refusal, size_t rlen,
                             int refusal_ci);
void tg__resp_write_call_item(struct tg__jw *b, const struct tg_dialect_ctx *ctx, uint32_t idx,
                              bool custom,
                              const char *status, const char *call_id, const char *name, const char *args,
                              size_t alen);
int tg__resp_encode_answer(const struct tg_dialect_ctx *ctx, const char *chat, size_t len,
                           char **out,
                           size_t *outlen, struct tg_err *err);

/* ---- stream (responses_stream.c) ----------------------------------------- */

int tg__resp_stream_new(const struct tg_dialect_ctx *ctx, tg_dialect_emit_fn emit, void *ud,
                        struct tg_dialect_stream **out);
int tg__resp_stream_feed(struct tg_dialect_stream *s, const char *buf, size_t len);
int tg__resp_stream_end(struct tg_dialect_stream *s, bool ok);
void tg__resp_stream_free(struct tg_dialect_stream *s);

#endif /* TG_RESPONSES_INT_H */
