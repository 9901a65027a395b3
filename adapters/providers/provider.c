/*
 * provider.c — the provider adapters' one entry point: each adapter
 * (openai.c, anthropic.c, echo.c) is an ops table (prov_int.h); this file
 * dispatches through it and holds the helpers they share.  See provider.h.
 */
#include "adapters/providers/provider.h"
#include "adapters/providers/prov_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const struct tg__prov_ops *
ops_of(enum tg_adapter_kind k)
{
    switch (k) {
    case TG_ADAPTER_OPENAI:    return &tg__prov_openai;
    case TG_ADAPTER_ANTHROPIC: return &tg__prov_anthropic;
    case TG_ADAPTER_ECHO:      return &tg__prov_echo;
    }
    return NULL;
}

const char *
tg_prov_kind_name(enum tg_adapter_kind k)
{
    const struct tg__prov_ops *o = ops_of(k);
    return o ? o->name : "unknown";
}

bool
tg_prov_is_local(enum tg_adapter_kind k)
{
    const struct tg__prov_ops *o = ops_of(k);
    return o != NULL && o->local;
}

int
tg_prov_answer_local(enum tg_adapter_kind k, bool embedding, const char *model_id, const char *body,
                     size_t len, bool stream, int64_t now_s, const char *id, char **out,
                     size_t *outlen, struct tg_prov_usage *u, struct tg_err *err)
{
    const struct tg__prov_ops *o = ops_of(k);

    if (o == NULL || !o->local)
        return tg_err_set(err, TG_EINVAL, "adapter %s does not answer locally", tg_prov_kind_name(k));
    if (embedding)
        return o->local_embed ? o->local_embed(model_id, body, len, out, outlen, u, err)
                              : tg_err_set(err, TG_EINVAL, "adapter %s has no embeddings", o->name);
    return o->local_chat(model_id, body, len, stream, now_s, id, out, outlen, u, err);
}

bool
tg__prov_has_crlf(const char *s)
{
    return s != NULL && strpbrk(s, "\r\n") != NULL;
}

char *
tg__prov_print(cJSON *j, struct tg_arena *a, size_t *len)
{
    char *s = cJSON_PrintUnformatted(j), *d;
    size_t n;

    if (s == NULL)
        return NULL;
    n = strlen(s);
    d = tg_arena_strndup(a, s, n);
    free(s);
    if (d != NULL)
        *len = n;
    return d;
}

char *
tg__prov_url(struct tg_arena *a, const char *base, const char *path)
{
    size_t n = strlen(base);

    while (n > 0 && base[n - 1] == '/')
        n--;
    return tg_arena_sprintf(a, "%.*s%s", (int)n, base, path);
}

/* URL and headers of an openai-adapter request. */

int
tg__prov_retarget(cJSON *j, const struct tg_model *m)
{
    /* The registry decides the upstream name, whatever the client sent. */
    cJSON *model = cJSON_CreateString(m->upstream ? m->upstream : m->id);

    /* Case-sensitive throughout: "modeL" is not "model" (cJSON_HasObjectItem
     * ignores case, and the replacement string leaked). */
    if (model == NULL ||
        (cJSON_GetObjectItemCaseSensitive(j, "model") != NULL
             ? !cJSON_ReplaceItemInObjectCaseSensitive(j, "model", model)
             : !cJSON_AddItemToObject(j, "model", model))) {
        cJSON_Delete(model);
        return TG_ENOMEM;
    }
    /* The model's answer cap: a request asking for more gets the cap (the
     * provider would refuse it otherwise, and pre-flight costed it so). */
    if (m->max_output_tokens > 0) {
        static const char *const keys[] = { "max_tokens", "max_completion_tokens" };
        for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
            cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[k]);
            if (cJSON_IsNumber(v) && v->valuedouble > (double)m->max_output_tokens)
                cJSON_SetNumberValue(v, (double)m->max_output_tokens);
        }
    }
    return TG_OK;
}

int
tg__prov_canonical_tree(const char *body, size_t len, const struct tg_model *m, cJSON **out,
                        struct tg_err *err)
{
    cJSON *j = cJSON_ParseWithLength(body, len);

    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return tg_err_set(err, TG_EINVAL, "request body is not a JSON object");
    }
    if (tg__prov_retarget(j, m) != TG_OK) {
        cJSON_Delete(j);
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    }
    /* metadata carries tollgate's routing hints (tenant, category); the
     * provider has no use for them. */
    cJSON_DeleteItemFromObjectCaseSensitive(j, "metadata");
    *out = j;
    return TG_OK;
}

int
tg_prov_build(const struct tg_provider *prov, const struct tg_model *m,
              const char *body, size_t len, uint32_t default_max_tokens,
              struct tg_arena *a, struct tg_prov_http *out, struct tg_err *err)
{
    const struct tg__prov_ops *o = ops_of(prov->adapter);

    if (o == NULL || o->build == NULL)
        return tg_err_set(err, TG_EINVAL, "%s provider has no upstream", o ? o->name : "unknown");
    if (tg__prov_has_crlf(prov->api_key) || tg__prov_has_crlf(prov->base_url))
        return tg_err_set(err, TG_EINVAL, "provider %s: api_key/base_url contains a line break", prov->id);
    return o->build(prov, m, body, len, default_max_tokens, a, out, err);
}

cJSON *
tg__prov_chunk(const char *id, int64_t created, const char *model, const char *fingerprint,
               cJSON *delta, const char *finish)
{
    cJSON *o = cJSON_CreateObject(), *choices, *ch;

    if (o == NULL) {
        cJSON_Delete(delta);
        return NULL;
    }
    cJSON_AddStringToObject(o, "id", id);
    cJSON_AddStringToObject(o, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(o, "created", (double)created);
    cJSON_AddStringToObject(o, "model", model);
    if (fingerprint != NULL)
        cJSON_AddStringToObject(o, "system_fingerprint", fingerprint);
    choices = cJSON_AddArrayToObject(o, "choices");
    if (delta != NULL) {
        ch = cJSON_CreateObject();
        if (choices == NULL || ch == NULL || !cJSON_AddItemToArray(choices, ch)) {
            cJSON_Delete(ch);
            cJSON_Delete(delta);
            cJSON_Delete(o);
            return NULL;
        }
        cJSON_AddNumberToObject(ch, "index", 0);
        cJSON_AddItemToObject(ch, "delta", delta);
        if (finish)
            cJSON_AddStringToObject(ch, "finish_reason", finish);
        else
            cJSON_AddNullToObject(ch, "finish_reason");
    }
    return o;
}

int64_t
tg__prov_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15)
        return -1;
    return (int64_t)v->valuedouble;
}

int
tg_prov_response(enum tg_adapter_kind kind, const char *model_id, const char *body,
                 size_t len, int64_t now_s, char **out, size_t *outlen,
                 struct tg_prov_usage *u, struct tg_err *err)
{
    const struct tg__prov_ops *o = ops_of(kind);

    u->prompt_tokens = u->completion_tokens = -1;
    *out = NULL;
    *outlen = 0;
    if (o == NULL || o->answer == NULL)
        return tg_err_set(err, TG_EINVAL, "no upstream answer for this adapter");
    return o->answer(model_id, body, len, now_s, out, outlen, u, err);
}

/* ---- streaming ---------------------------------------------------------- */

static int
sse_cb(void *ud, const char *event, const char *data, size_t len)
{
    struct tg_prov_stream *s = ud;
    const struct tg__prov_ops *o = ops_of(s->kind);

    if (o == NULL || o->event == NULL)
        return TG_EINVAL;   /* a local adapter has no upstream stream */
    return o->event(s, event, data, len);
}

void
tg_prov_stream_init(struct tg_prov_stream *s, enum tg_adapter_kind kind, bool strip_usage,
                    const char *model_id, int64_t now_s, tg_prov_emit_fn emit, void *ud)
{
    memset(s, 0, sizeof(*s));
    s->kind = kind;
    s->strip_usage = strip_usage;
    tg_sse_init(&s->sse, 0);
    s->emit = emit;
    s->ud = ud;
    s->usage.prompt_tokens = s->usage.completion_tokens = -1;
    s->created = now_s;
    snprintf(s->model, sizeof(s->model), "%s", model_id ? model_id : "");
}

int
tg_prov_stream_feed(struct tg_prov_stream *s, const char *buf, size_t len)
{
    int rc = tg_sse_feed(&s->sse, buf, len, sse_cb, s);
    return rc > 0 ? TG_EINVAL : rc;
}

void
tg_prov_stream_free(struct tg_prov_stream *s)
{
    tg_sse_free(&s->sse);
}

/* ---- Retry-After ---------------------------------------------------------- */

int64_t
tg_prov_retry_after_ms(const char *v, int64_t now_s)
{
    static const char *mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    const int64_t cap = 3600 * 1000;
    struct tm tm;
    char wk[4], mo[4], gmt[4];
    int d, y, hh, mm, ss, n = 0;
    int64_t secs = 0;

    if (v == NULL)
        return -1;
    while (*v == ' ' || *v == '\t')
        v++;
    if (isdigit((unsigned char)*v)) {
        const char *p = v;
        while (isdigit((unsigned char)*p)) {
            secs = secs * 10 + (*p - '0');
            if (secs > 3600)
                secs = 3600;
            p++;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != '\0')
            return -1;
        return secs * 1000 > cap ? cap : secs * 1000;
    }
    /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
    if (sscanf(v, "%3s, %d %3s %d %d:%d:%d %3s%n", wk, &d, mo, &y, &hh, &mm, &ss, gmt, &n) != 8 ||
        strcmp(gmt, "GMT") != 0 || v[n] != '\0')
        return -1;
    memset(&tm, 0, sizeof(tm));
    tm.tm_mon = -1;
    for (int i = 0; i < 12; i++)
        if (strcmp(mo, mon[i]) == 0)
            tm.tm_mon = i;
    if (tm.tm_mon < 0 || d < 1 || d > 31 || y < 1970 || y > 9999 || hh > 23 || mm > 59 || ss > 60 ||
        hh < 0 || mm < 0 || ss < 0)
        return -1;
    tm.tm_mday = d;
    tm.tm_year = y - 1900;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    secs = (int64_t)timegm(&tm) - now_s;
    if (secs < 0)
        return 0;
    return secs * 1000 > cap ? cap : secs * 1000;
}
