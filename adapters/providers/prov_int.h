/* prov_int.h — internals shared by the provider adapters (provider.c,
 * anthropic.c, echo.c). Not for use outside adapters/providers/. */
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

int tg__prov_anthropic_build(const struct tg_provider *prov, const struct tg_model *m, cJSON *j,
                             uint32_t default_max_tokens, struct tg_arena *a,
                             struct tg_prov_http *h, struct tg_err *err);
int tg__prov_anthropic_response(const char *model_id, const char *body, size_t len, int64_t now_s,
                                char **out, size_t *outlen, struct tg_prov_usage *u,
                                struct tg_err *err);
int tg__prov_anthropic_event(struct tg_prov_stream *s, const char *event, const char *data,
                             size_t len);

#endif /* TG_PROV_INT_H */
