/*
 * request.h — an OpenAI chat completions request as the engine sees it.
 *
 * tg_request_parse() parses the body once (cJSON) and indexes every piece of
 * text a provider would receive as parts, so the PII scan, the export
 * markings, token estimation and redaction all walk the same list: every
 * string value anywhere in the body (message content, names, tool
 * arguments, tool definitions, response_format, user, unknown fields...)
 * and every object key outside the API's own vocabulary.  Only a short
 * allowlist of structural fields (role, type, id, model, ...) holding
 * identifier-shaped values is skipped.  Objects with a duplicate key are
 * rejected (TG_EINVAL).  Data URLs: image/audio/video base64 payloads are
 * counted, not decoded; textual ones are decoded and indexed as
 * unredactable parts; other binary payloads make the request opaque (see
 * request.c, data_url()).
 *
 * The inbound adapter then fills the routing context (tenant, feature,
 * category, header export tags) before calling tg_preflight_decide().
 */
#ifndef TG_REQUEST_H
#define TG_REQUEST_H

#include "engine/tg.h"
#include "engine/arena.h"

#include <cjson/cJSON.h>

/* What the client asks for: the model kind that may serve it
 * (tg_model.kind, engine/model.h) is chosen by this. */
enum tg_request_kind {
    TG_REQUEST_CHAT      = 0,   /* a chat completions body (and every dialect decoded to it) */
    TG_REQUEST_EMBEDDING = 1,   /* an OpenAI embeddings body (tg_request_parse_embedding) */
};

enum tg_part_kind {
    TG_PART_CONTENT   = 0,  /* message content (or a text part of it); an embedding input */
    TG_PART_NAME      = 1,  /* message `name` */
    TG_PART_TOOL_ARGS = 2,  /* tool_calls[].function.arguments / function_call.arguments */
    TG_PART_OTHER     = 3,  /* everything else: tool definitions, user, unknown fields,
                               function names, decoded data URLs, unknown keys */
};

/* tg_part.message of a part outside messages[] (top-level fields). */
#define TG_PART_NO_MESSAGE UINT32_MAX

struct tg_part {
    const char *text;       /* NUL-terminated, owned by the cJSON node */
    size_t      len;
    uint32_t    message;    /* index in messages[], or TG_PART_NO_MESSAGE */
    enum tg_part_kind kind;
    cJSON      *node;       /* the string node (redaction replaces its value);
                               NULL when unredactable */
    bool        unredactable; /* decoded data-URL text or an object key: text
                               the provider reads that cannot be masked in
                               place; a finding here rules out redaction */
};

struct tg_request {
    enum tg_request_kind kind;
    cJSON      *body;       /* an arena tree from tg_json_parse (engine/json.h) */
    size_t      body_len;
    const char *model;      /* body.model, NULL if absent */
    bool        stream;
    int64_t     max_tokens; /* max_tokens / max_completion_tokens; -1 if absent */
    struct tg_part *parts;  /* arena */
    uint32_t    nparts;
    uint32_t    nmessages;
    uint32_t    data_urls;  /* binary data URLs seen (charged as images, not scanned) */
    uint32_t    decoded_parts;   /* textual data URLs decoded into parts */
    uint32_t    opaque_payloads; /* data URLs neither media nor text (PDF, zip, ...):
                                    cannot be scanned, so the PII scan is
                                    incomplete (tg_preflight_decide fails closed) */
    uint64_t    text_bytes; /* sum of part lengths */

    /* Embedding requests only (kind == TG_REQUEST_EMBEDDING). */
    uint32_t    ninputs;    /* entries of `input` (1 for a single string or token array) */
    uint64_t    token_ids;  /* token ids in token-array inputs (counted as input tokens) */
    uint32_t    max_input_tokens; /* the largest single input's estimate: embedding
                                     models bound each input, not the sum */

    /* body.metadata.{tenant,feature,category} (Batch API input), NULL if absent */
    const char *meta_tenant;
    const char *meta_feature;
    const char *meta_category;

    /* Routing context, set by the inbound adapter after parsing. */
    const char  *tenant_id;
    const char  *feature;
    const char  *category;
    const char **export_tags;   /* from the header or the capture record */
    uint32_t     nexport_tags;

    /* Replay of a redacted capture (dry-run): typed placeholders such as
     * <EMAIL_ADDRESS_1> count as findings of their entity, so the replayed
     * decision equals the one serve made on the original text.
     * tg_preflight_decide() then calls tg_placeholder_scan() (engine/placeholder.h)
     * on every part after the PII scan.  Zero-initialised: off. */
    bool         placeholders_are_pii;

    /* Decide as if no allow list existed (engine/allow.h): dry-run decides
     * a request with allowed findings twice to show what the lists change.
     * Zero-initialised: the lists apply. */
    bool         allow_lists_off;
};

/*
 * Parse a chat completions body.  Fails with TG_EINVAL and a message such
 * as "messages must be a non-empty array" for anything that is not a valid
 * chat request (the gateway answers 400); TG_ELIMIT past limits.h caps.
 * On failure *out is left with body == NULL.
 */
int  tg_request_parse(const char *body, size_t len, struct tg_arena *a,
                      struct tg_request *out, struct tg_err *err);
/*
 * Same, from a canonical body a dialect decoder built as a tree in arena a
 * (adapters/dialects/dialect.h, decode_tree) together with its text of
 * body_len bytes, so that the text is not parsed a second time.  The
 * result is what tg_request_parse gives on that text — the same size and
 * depth limits, duplicate-key refusal, parts and errors — provided the
 * tree is what tg_json_parse makes of the text and no string in it was cut
 * at a NUL (the decoders refuse a client body holding a raw or escaped NUL
 * before building it; the capture reader refuses such a line).  The tree
 * stays the arena's; on failure *out is left with body == NULL.
 */
int  tg_request_from_tree(cJSON *tree, size_t body_len, struct tg_arena *a,
                          struct tg_request *out, struct tg_err *err);
void tg_request_dispose(struct tg_request *r);

/*
 * Parse an OpenAI embeddings body (POST /v1/embeddings): `input` is a
 * string, an array of strings, an array of token ids or an array of token
 * arrays (at most TG_MAX_EMBEDDING_INPUTS entries); `model`, `dimensions`
 * (positive integer), `encoding_format` ("float" | "base64"), `user`,
 * `metadata` as in chat.  The result has kind TG_REQUEST_EMBEDDING and
 * max_tokens 0 (an embedding produces no tokens).  Every input string is a
 * redactable part (TG_PART_CONTENT, message = its index in `input`), and
 * every other string of the body a part too, as for chat.  Token arrays
 * cannot be scanned: each one counts as an opaque payload
 * (opaque_payloads), so a policy that restricts personal data fails
 * closed on it (pii.unscannable), exactly as for an opaque data URL.
 * Errors and ownership as tg_request_parse.
 */
int  tg_request_parse_embedding(const char *body, size_t len, struct tg_arena *a,
                                struct tg_request *out, struct tg_err *err);
/* Same, from a tree tg_json_parse made (the arena's), as tg_request_from_tree. */
int  tg_request_embedding_from_tree(cJSON *tree, size_t body_len, struct tg_arena *a,
                                    struct tg_request *out, struct tg_err *err);

/* Parse "itar, ear" (header syntax) into lower-case tags appended to r. */
int  tg_request_add_tags(struct tg_request *r, const char *csv, struct tg_arena *a);

/* Estimated prompt tokens (≈ bytes/4 per part + per-message overhead;
 * for embeddings, bytes/4 per part + the token ids of token arrays). */
uint32_t tg_request_estimate_tokens(const struct tg_request *r);

#endif /* TG_REQUEST_H */
