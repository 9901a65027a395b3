/*
 * provider.h — outbound adapters (openai, anthropic, echo) as pure data
 * transforms: build the upstream HTTP request for a chat completions body,
 * and turn the provider's answer (whole or streamed) back into an OpenAI
 * chat.completion / chat.completion.chunk stream.  No I/O here: the
 * gateway's loop (adapters/http/server.c) moves the bytes with libcurl.
 *
 * Header injection: upstream headers are built here from configuration
 * only; client headers are never copied.  A configured value containing CR
 * or LF is refused.
 */
#ifndef TG_PROVIDER_H
#define TG_PROVIDER_H

#include "engine/tg.h"
#include "engine/arena.h"
#include "policy/policy.h"
#include "adapters/providers/sse.h"

/* Token usage reported by the provider; -1 = not reported. */
struct tg_prov_usage {
    int64_t prompt_tokens;
    int64_t completion_tokens;
};

#define TG_PROV_MAX_HEADERS 6

/* One upstream request, all strings in the caller's arena. */
struct tg_prov_http {
    const char *url;
    const char *headers[TG_PROV_MAX_HEADERS];   /* "Name: value"; a function of the provider and
                                                   `stream` only: the gateway caches the list */
    uint32_t    nheaders;
    const char *body;
    size_t      body_len;
    bool        stream;
    bool        strip_usage;  /* we asked for a usage chunk the client did not: drop it when relaying */
};

/*
 * Build the request for provider `prov` serving model `m` from a client
 * chat completions body (the original or the redacted one): sets the
 * upstream model name, drops `metadata` (tollgate routing hints), and for
 * anthropic translates to the Messages API.  default_max_tokens fills
 * anthropic's mandatory max_tokens.  Echo providers have no HTTP request
 * (TG_EINVAL).  On failure *out is untouched.
 */
int tg_prov_build(const struct tg_provider *prov, const struct tg_model *m,
                  const char *body, size_t len, uint32_t default_max_tokens,
                  struct tg_arena *a, struct tg_prov_http *out, struct tg_err *err);

/*
 * Build the request for an anthropic provider from a client's Messages
 * body passed through (tg_dialect_ctx.verbatim said it may be): the body
 * as the client wrote it, but for `model` (the registry's upstream name),
 * `metadata.category` (tollgate's routing hint, dropped) and `max_tokens`
 * (cut to the model's max_output_tokens).  TG_EINVAL for another adapter
 * or a body that is not a JSON object.  On failure *out is untouched.
 */
int tg_prov_build_messages(const struct tg_provider *prov, const struct tg_model *m, const char *body,
                           size_t len, struct tg_arena *a, struct tg_prov_http *out, struct tg_err *err);

/*
 * A 2xx non-streamed upstream body -> the chat.completion for the client.
 * *out = NULL means "relay body unchanged" (openai); else malloc'd JSON.
 * model_id names the registry model (anthropic answers are relabelled with
 * it); now_s fills `created` where the provider has none.  TG_EINVAL (with
 * err) when the body is not a valid completion: the attempt failed.
 */
int tg_prov_response(enum tg_adapter_kind kind, const char *model_id, const char *body,
                     size_t len, int64_t now_s, char **out, size_t *outlen,
                     struct tg_prov_usage *u, struct tg_err *err);

/* Receives complete client-side SSE events ("data: ...\n\n"). Non-zero aborts. */
typedef int (*tg_prov_emit_fn)(void *ud, const char *buf, size_t len);

struct tg_prov_stream {
    enum tg_adapter_kind kind;
    bool        strip_usage;
    struct tg_sse sse;
    tg_prov_emit_fn emit;
    void       *ud;
    struct tg_prov_usage usage;
    bool        done;          /* [DONE] / message_stop seen */
    bool        upstream_error;/* provider sent an error event */
    uint32_t    events;        /* events relayed to the client */
    int64_t     created;
    char        id[128];
    char        model[128];
    char        finish[32];
};

/* Start translating/relaying one upstream stream. */
void tg_prov_stream_init(struct tg_prov_stream *s, enum tg_adapter_kind kind, bool strip_usage,
                         const char *model_id, int64_t now_s, tg_prov_emit_fn emit, void *ud);
/* Feed upstream bytes. 0, or negative TG_E* (malformed stream, error event,
 * emit refused). */
int  tg_prov_stream_feed(struct tg_prov_stream *s, const char *buf, size_t len);
void tg_prov_stream_free(struct tg_prov_stream *s);

/*
 * The echo provider: answers locally with a chat.completion (or, stream,
 * the whole SSE text) whose content is "[echo] " + the last user message of
 * body (the body it would have sent: the redacted one when redacting).
 * Usage is estimated (bytes/4).  *out malloc'd.  TG_EINVAL on a body that
 * is not a chat request.
 */
int tg_prov_echo(const char *model_id, const char *body, size_t len, bool stream,
                 int64_t now_s, const char *id, char **out, size_t *outlen,
                 struct tg_prov_usage *u, struct tg_err *err);

/* ---- embeddings (embeddings.c) -------------------------------------------
 *
 * An embeddings request is its own canonical form: the OpenAI embeddings
 * body the client sent (or its redacted copy), parsed by
 * tg_request_parse_embedding() and routed only to `kind: embedding`
 * models.  The answer is an OpenAI embeddings list in every case.
 */

/*
 * Build the upstream request for an embeddings body: openai adapter ->
 * POST {base_url}/embeddings with `model` set to the upstream name and
 * `metadata` dropped (never streamed).  Anthropic has no embeddings API
 * and echo no upstream: both TG_EINVAL (the attempt fails; echo is served
 * by tg_prov_echo_embed).  Strings in arena a.  On failure *out untouched.
 */
int tg_prov_embed_build(const struct tg_provider *prov, const struct tg_model *m,
                        const char *body, size_t len, struct tg_arena *a,
                        struct tg_prov_http *out, struct tg_err *err);

/*
 * Validate a 2xx embeddings answer {object: "list", data: [{object:
 * "embedding", index, embedding: [numbers] | base64 float32 string}],
 * model, usage} and relabel `model` with the registry id model_id.  Each
 * index must be new and below ninputs (the request's tg_request.ninputs;
 * 0 = unknown: below TG_MAX_EMBEDDING_INPUTS), and with ninputs > 0 there
 * must be exactly ninputs vectors.  u->prompt_tokens from usage (-1 if
 * absent), completion_tokens 0.  *out malloc'd JSON.  TG_EINVAL when the
 * answer is not valid (the attempt failed).
 */
int tg_prov_embed_response(const char *model_id, const char *body, size_t len, uint32_t ninputs,
                           char **out, size_t *outlen, struct tg_prov_usage *u,
                           struct tg_err *err);

/*
 * The echo provider's embeddings: one deterministic vector per input
 * (8 components, or `dimensions` up to TG_ECHO_EMBED_MAX_DIMS, each in
 * [-1, 1) from a hash of the input's text or token ids; base64 float32
 * when encoding_format is "base64"), with usage (≈ bytes/4 per string, one
 * per token id).  Not a model: equal texts give equal vectors, nothing
 * more.  *out malloc'd.  TG_EINVAL on a body without a valid `input`.
 */
int tg_prov_echo_embed(const char *model_id, const char *body, size_t len, char **out,
                       size_t *outlen, struct tg_prov_usage *u, struct tg_err *err);

/*
 * Retry-After header value -> milliseconds from now: delta-seconds or an
 * HTTP-date (IMF-fixdate).  -1 when absent or unparseable; capped at one
 * hour so a hostile upstream cannot park a breaker forever.
 */
int64_t tg_prov_retry_after_ms(const char *value, int64_t now_s);

/* Does the adapter answer in process (echo) rather than over HTTP? */
bool tg_prov_is_local(enum tg_adapter_kind k);

/*
 * A local adapter's answer for the canonical body: a chat.completion (or,
 * stream, the whole canonical SSE text), or with `embedding` an embeddings
 * list.  *out malloc'd.  TG_EINVAL for a remote adapter or a bad body.
 */
int tg_prov_answer_local(enum tg_adapter_kind k, bool embedding, const char *model_id, const char *body,
                         size_t len, bool stream, int64_t now_s, const char *id, char **out,
                         size_t *outlen, struct tg_prov_usage *u, struct tg_err *err);

/* Name of an adapter kind ("openai"|"anthropic"|"echo"). */
const char *tg_prov_kind_name(enum tg_adapter_kind k);

#endif /* TG_PROVIDER_H */
