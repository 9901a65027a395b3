/* prov_int.h — internals shared by the provider adapters (provider.c,
 * openai.c, anthropic.c, echo.c, embeddings.c). Not for use outside
 * adapters/providers/. */
#ifndef TG_PROV_INT_H
#define TG_PROV_INT_H

#include "adapters/providers/provider.h"

#include <cjson/cJSON.h>

bool    tg__prov_has_crlf(const char *s);
/* Serialise j into the arena; NULL on ENOMEM. */
char   *tg__prov_print(cJSON *j, struct tg_arena *a, size_t *len);
/* base (trailing slashes dropped) + path, in the arena. */
char   *tg__prov_url(struct tg_arena *a, const char *base, const char *path);
/* A chat.completion.chunk object {id, object, created, model,
 * [system_fingerprint], choices: [{index: 0, delta, finish_reason}]}
 * (choices empty when delta is NULL).  Consumes delta in every case;
 * NULL on ENOMEM. */
cJSON  *tg__prov_chunk(const char *id, int64_t created, const char *model,
                       const char *fingerprint, cJSON *delta, const char *finish);
/* Non-negative integer field, or -1. */
int64_t tg__prov_int(const cJSON *o, const char *key);

/* Point request tree j at model m: `model` set to the registry's upstream
 * name, max_tokens / max_completion_tokens cut to m's max_output_tokens.
 * TG_ENOMEM. */
int tg__prov_retarget(cJSON *j, const struct tg_model *m);

/* The canonical body as a tree for an adapter that rewrites it: `model`
 * set to the registry's upstream name, `metadata` (tollgate's routing
 * hints) dropped.  *out is the caller's to cJSON_Delete. */
int tg__prov_canonical_tree(const char *body, size_t len, const struct tg_model *m, cJSON **out,
                            struct tg_err *err);

/*
 * One provider adapter.  Remote adapters build the upstream request from
 * the canonical (chat completions) body, turn a whole answer into a
 * chat.completion (or relay it: *out NULL) and translate stream events
 * into chat.completion.chunk events; local adapters answer in process.
 * Adding a provider wire is adding one of these, in its own file.
 */
struct tg__prov_ops {
    enum tg_adapter_kind kind;
    const char *name;
    bool        local;
    int  (*build)(const struct tg_provider *prov, const struct tg_model *m, const char *body, size_t len,
                  uint32_t default_max_tokens, struct tg_arena *a, struct tg_prov_http *out,
                  struct tg_err *err);
    int  (*answer)(const char *model_id, const char *body, size_t len, int64_t now_s, char **out,
                   size_t *outlen, struct tg_prov_usage *u, struct tg_err *err);
    int  (*event)(struct tg_prov_stream *s, const char *event, const char *data, size_t len);
    int  (*local_chat)(const char *model_id, const char *body, size_t len, bool stream, int64_t now_s,
                       const char *id, char **out, size_t *outlen, struct tg_prov_usage *u,
                       struct tg_err *err);
    int  (*local_embed)(const char *model_id, const char *body, size_t len, char **out, size_t *outlen,
                        struct tg_prov_usage *u, struct tg_err *err);
};

extern const struct tg__prov_ops tg__prov_openai;
extern const struct tg__prov_ops tg__prov_anthropic;
extern const struct tg__prov_ops tg__prov_echo;

#endif /* TG_PROV_INT_H */
