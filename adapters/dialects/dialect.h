/*
 * dialect.h — inbound API dialects (OpenAI Chat Completions, Responses,
 * legacy Completions, Embeddings; Anthropic Messages and count_tokens),
 * each behind one ops table.
 *
 * Every dialect decodes the client's body to the ONE canonical request and
 * encodes the canonical answer and stream events back into the client's
 * shape; no dialect is ever translated to another directly (as LLVM lowers
 * every front end to one IR).  The canonical request is an OpenAI chat
 * completions body (docs/internals/canonical.md): the engine parses it
 * (engine/request.h), scans every text in it, redacts it in place, and the
 * provider adapters encode it for their wire (adapters/providers/).  The
 * canonical answer is a chat.completion object; canonical stream events are
 * the SSE text of chat.completion.chunk events ending in `data: [DONE]`, as
 * the provider adapters produce them (tg_prov_stream, tg_prov_echo).
 *
 * Pure data work: no I/O, no clocks, no randomness (ids and times come in
 * through struct tg_dialect_ctx).  Bounded: every buffer has a maximum.
 *
 * Unknown-field rule (stated in docs/dialects.md): a field the canonical
 * form can carry is carried; a field that only tunes the provider and that
 * the canonical form cannot carry is dropped; a field whose loss would
 * change what the model is asked to do (an input item of an unknown type,
 * a content block the dialect does not define) is refused with 400.  Every
 * text that is carried is scanned; a dropped text never leaves tollgate.
 */
#ifndef TG_DIALECT_H
#define TG_DIALECT_H

#include "engine/tg.h"
#include "engine/arena.h"

#include <cjson/cJSON.h>

enum tg_dialect_id {
    TG_DIALECT_CHAT         = 0,   /* POST /v1/chat/completions (identity) */
    TG_DIALECT_RESPONSES    = 1,   /* POST /v1/responses */
    TG_DIALECT_MESSAGES     = 2,   /* POST /v1/messages */
    TG_DIALECT_COUNT_TOKENS = 3,   /* POST /v1/messages/count_tokens */
    TG_DIALECT_EMBEDDINGS   = 4,   /* POST /v1/embeddings */
    TG_DIALECT_COMPLETIONS  = 5,   /* POST /v1/completions */
    TG_DIALECT_N            = 6,
};

/* Which error-body family a dialect answers in. */
enum tg_dialect_errors {
    TG_DIALECT_ERR_OPENAI    = 0,  /* {"error":{"message","type","param","code"}} */
    TG_DIALECT_ERR_ANTHROPIC = 1,  /* {"type":"error","error":{"type","message"}} */
};

/*
 * What the decoder learned that the encoders need back.  Filled by the
 * server before decode (id, now_s) and by decode (the rest); lives in the
 * request's arena.
 */
struct tg_dialect_ctx {
    enum tg_dialect_id id;
    const char *answer_id;     /* in: the id to give the answer ("resp_…", "msg_…" are
                                  made from it by the encoder); the audit decision id */
    int64_t     now_s;         /* in: wall clock seconds for `created`/`created_at` */
    const char *client_model;  /* out: the model name the client sent (echoed back) */
    bool        stream;        /* out: the client asked for a stream */
    bool        verbatim;      /* out (messages): every member and block of the body
                                  was carried into the canonical request, or is a
                                  setting that holds no text and only Anthropic reads
                                  (cache_control, top_k, service_tier, thinking): the
                                  body may go to an Anthropic provider as it is, since
                                  all it carries was scanned (tg_prov_build_messages) */
    void       *priv;          /* out: dialect-private decode facts (arena), e.g. the
                                  names of Responses custom tools, the request's
                                  instructions/tools to echo in a Response object */
};

struct tg_dialect_stream;      /* one stream translator (malloc'd, dialect-private) */

/* Receives bytes for the client (complete SSE events). Non-zero aborts. */
typedef int (*tg_dialect_emit_fn)(void *ud, const char *buf, size_t len);

struct tg_dialect_ops {
    enum tg_dialect_id id;
    const char *name;          /* "chat.completions", "responses", "messages", ... (audit `endpoint`
                                  records the path; this names the dialect in captures) */
    const char *path;          /* "/v1/responses" */
    enum tg_dialect_errors errors;

    /*
     * Client body -> canonical chat completions body (JSON text, NUL
     * terminated, in arena a).  TG_EINVAL with a client-facing message
     * (no request text in it) for a body this dialect refuses; TG_ELIMIT
     * past a cap; TG_ENOMEM.  On failure *canon is untouched.
     */
    int (*decode)(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
                  char **canon, size_t *canon_len, struct tg_err *err);

    /*
     * decode, and also the canonical body as a parse tree in arena a
     * (*tree): what tg_json_parse makes of *canon, built while decoding
     * rather than parsed from the text.  Hand the pair to
     * tg_request_from_tree (engine/request.h) instead of tg_request_parse:
     * same request, same errors, one parse fewer; *canon is still the
     * body sent upstream.  The tree is read-only (engine/json.h) and may
     * share strings and members with the client's parse tree.  NULL: the
     * dialect has only decode.  Contract otherwise as decode.
     */
    int (*decode_tree)(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
                       char **canon, size_t *canon_len, cJSON **tree, struct tg_err *err);

    /*
     * Canonical chat.completion JSON -> the client's answer (malloc'd into
     * *out).  TG_EINVAL when `chat` is not a chat.completion.
     */
    int (*encode_answer)(const struct tg_dialect_ctx *ctx, const char *chat, size_t len,
                         char **out, size_t *outlen, struct tg_err *err);

    /*
     * Stream translation: canonical SSE bytes in (split anywhere), the
     * dialect's SSE events out through emit.  end() closes the stream:
     * ok = the canonical stream completed; !ok = it broke (emit the
     * dialect's error/failed event so SDKs raise instead of hanging).
     * feed/end return 0 or a negative TG_E* (malformed canonical stream,
     * emit refused).  NULL members: the dialect has no stream.
     */
    int  (*stream_new)(const struct tg_dialect_ctx *ctx, tg_dialect_emit_fn emit, void *ud,
                       struct tg_dialect_stream **out);
    int  (*stream_feed)(struct tg_dialect_stream *s, const char *buf, size_t len);
    int  (*stream_end)(struct tg_dialect_stream *s, bool ok);
    void (*stream_free)(struct tg_dialect_stream *s);
};

/* The ops of a dialect. */
const struct tg_dialect_ops *tg_dialect_get(enum tg_dialect_id id);

/*
 * The dialect served at a request path ("/v1/responses", "/responses";
 * the query string, if any, is ignored).  NULL for any other path.
 */
const struct tg_dialect_ops *tg_dialect_for_path(const char *path, size_t len);

/* The dialect named `name` ("responses", ... as in ops->name); NULL if none. */
const struct tg_dialect_ops *tg_dialect_by_name(const char *name);

/* Anthropic's error type for an HTTP status (403 -> "permission_error", ...). */
const char *tg_dialect_anthropic_error_type(int status);

/*
 * An error body in the dialect's family, malloc'd into *out.  type/code
 * are OpenAI's (e.g. "policy_denied"); the Anthropic family maps them
 * and the status to its error types (403 -> permission_error, 401 ->
 * authentication_error, 400/404/413 -> invalid_request_error, 429 ->
 * rate_limit_error, 529/503 -> overloaded_error, else api_error).
 * rules_json, when not NULL, is a JSON array member text such as
 * `"rules":["pii.rule"]` added to the error object.
 */
int tg_dialect_error_body(enum tg_dialect_errors fam, int status, const char *type, const char *code,
                          const char *msg, const char *rules_json, char **out, size_t *outlen);

/*
 * A raw NUL, or an escaped \u0000 whose backslash is not itself escaped,
 * anywhere in s[0..len): it would end the C string a parse tree holds, so
 * the text after it could differ between what a dialect translates (and
 * the engine scans) and what the client meant.  Every decoder refuses such
 * a body, as the chat door does (engine/request.c), and so does the
 * capture reader for a replayed line.
 */
bool tg_dialect_has_nul(const char *s, size_t len);

#endif /* TG_DIALECT_H */
