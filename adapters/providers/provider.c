/* provider.c — dispatch, shared helpers and the openai adapter (any
 * OpenAI-compatible chat completions API). See provider.h. */
#include "adapters/providers/provider.h"
#include "adapters/providers/prov_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *
tg_prov_kind_name(enum tg_adapter_kind k)
{
    switch (k) {
    case TG_ADAPTER_OPENAI:    return "openai";
    case TG_ADAPTER_ANTHROPIC: return "anthropic";
    case TG_ADAPTER_ECHO:      return "echo";
    }
    return "unknown";
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

static int
build_openai(const struct tg_provider *prov, const struct tg_model *m, cJSON *j,
             struct tg_arena *a, struct tg_prov_http *h, struct tg_err *err)
{
    cJSON *stream = cJSON_GetObjectItemCaseSensitive(j, "stream");

    h->stream = cJSON_IsTrue(stream);
    if (h->stream && cJSON_GetObjectItemCaseSensitive(j, "stream_options") == NULL) {
        /* Ask for the usage chunk so the audit gets real token counts; the
         * client did not ask for it, so the relay drops it again. */
        cJSON *so = cJSON_AddObjectToObject(j, "stream_options");
        if (so == NULL || cJSON_AddTrueToObject(so, "include_usage") == NULL)
            return tg_err_set(err, TG_ENOMEM, "out of memory");
        h->strip_usage = true;
    }
    h->url = tg__prov_url(a, prov->base_url ? prov->base_url : "", "/chat/completions");
    h->headers[h->nheaders++] = "Content-Type: application/json";
    h->headers[h->nheaders++] = h->stream ? "Accept: text/event-stream" : "Accept: application/json";
    if (prov->api_key != NULL && prov->api_key[0] != '\0')
        h->headers[h->nheaders++] = tg_arena_sprintf(a, "Authorization: Bearer %s", prov->api_key);
    (void)m;
    if (h->url == NULL || h->headers[h->nheaders - 1] == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    return TG_OK;
}

int
tg_prov_build(const struct tg_provider *prov, const struct tg_model *m,
              const char *body, size_t len, uint32_t default_max_tokens,
              struct tg_arena *a, struct tg_prov_http *out, struct tg_err *err)
{
    struct tg_prov_http h;
    cJSON *j = NULL, *model;
    int rc = TG_EINVAL;

    memset(&h, 0, sizeof(h));
    if (prov->adapter == TG_ADAPTER_ECHO) {
        rc = tg_err_set(err, TG_EINVAL, "echo provider has no upstream");
        goto out;
    }
    if (tg__prov_has_crlf(prov->api_key) || tg__prov_has_crlf(prov->base_url)) {
        rc = tg_err_set(err, TG_EINVAL, "provider %s: api_key/base_url contains a line break", prov->id);
        goto out;
    }
    j = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(j)) {
        rc = tg_err_set(err, TG_EINVAL, "request body is not a JSON object");
        goto out;
    }
    /* The registry decides the upstream name, whatever the client sent. */
    model = cJSON_CreateString(m->upstream ? m->upstream : m->id);
    if (model == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    /* Case-sensitive throughout: "modeL" is not "model" (cJSON_HasObjectItem
     * ignores case, and the replacement string leaked). */
    if (cJSON_GetObjectItemCaseSensitive(j, "model") != NULL
            ? !cJSON_ReplaceItemInObjectCaseSensitive(j, "model", model)
            : !cJSON_AddItemToObject(j, "model", model)) {
        cJSON_Delete(model);
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    /* metadata carries tollgate's routing hints (tenant, category); the
     * provider has no use for them. */
    cJSON_DeleteItemFromObjectCaseSensitive(j, "metadata");

    if (prov->adapter == TG_ADAPTER_ANTHROPIC) {
        rc = tg__prov_anthropic_build(prov, m, j, default_max_tokens, a, &h, err);
        if (rc != TG_OK)
            goto out;
    } else {
        rc = build_openai(prov, m, j, a, &h, err);
        if (rc != TG_OK)
            goto out;
        h.body = tg__prov_print(j, a, &h.body_len);
        if (h.body == NULL) {
            rc = tg_err_set(err, TG_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = h;
    rc = TG_OK;
out:
    cJSON_Delete(j);
    return rc;
}

int64_t
tg__prov_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15)
        return -1;
    return (int64_t)v->valuedouble;
}

static int
openai_response(const char *body, size_t len, struct tg_prov_usage *u, struct tg_err *err)
{
    cJSON *j = cJSON_ParseWithLength(body, len), *usage, *choices;
    int rc = TG_EINVAL;

    if (!cJSON_IsObject(j)) {
        rc = tg_err_set(err, TG_EINVAL, "upstream answer is not a JSON object");
        goto out;
    }
    choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    if (!cJSON_IsArray(choices)) {
        rc = tg_err_set(err, TG_EINVAL, "upstream answer has no choices");
        goto out;
    }
    usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
    u->prompt_tokens = tg__prov_int(usage, "prompt_tokens");
    u->completion_tokens = tg__prov_int(usage, "completion_tokens");
    rc = TG_OK;
out:
    cJSON_Delete(j);
    return rc;
}

int
tg_prov_response(enum tg_adapter_kind kind, const char *model_id, const char *body,
                 size_t len, int64_t now_s, char **out, size_t *outlen,
                 struct tg_prov_usage *u, struct tg_err *err)
{
    u->prompt_tokens = u->completion_tokens = -1;
    *out = NULL;
    *outlen = 0;
    switch (kind) {
    case TG_ADAPTER_OPENAI:
        return openai_response(body, len, u, err);
    case TG_ADAPTER_ANTHROPIC:
        return tg__prov_anthropic_response(model_id, body, len, now_s, out, outlen, u, err);
    case TG_ADAPTER_ECHO:
        break;
    }
    return tg_err_set(err, TG_EINVAL, "no upstream answer for this adapter");
}

/* ---- streaming ---------------------------------------------------------- */

static int
openai_event(struct tg_prov_stream *s, const char *data, size_t len)
{
    cJSON *j, *usage, *choices;
    bool drop = false;

    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        s->done = true;
        return s->emit(s->ud, "data: [DONE]\n\n", 14) ? TG_EIO : 0;
    }
    j = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return TG_EINVAL;
    }
    if (cJSON_GetObjectItemCaseSensitive(j, "error") != NULL) {
        s->upstream_error = true;
        cJSON_Delete(j);
        return TG_EUPSTREAM;
    }
    usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
    if (cJSON_IsObject(usage)) {
        s->usage.prompt_tokens = tg__prov_int(usage, "prompt_tokens");
        s->usage.completion_tokens = tg__prov_int(usage, "completion_tokens");
    }
    choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    if (s->strip_usage && cJSON_IsArray(choices) && cJSON_GetArraySize(choices) == 0)
        drop = true;
    cJSON_Delete(j);
    if (drop)
        return 0;
    /* Relay the provider's bytes unchanged: re-serialising would cost time
     * and could reorder what the client's SDK expects.  Data that came in
     * several data: lines goes out the same way (one line per "\n"). */
    {
        const char *d = data, *end = data + len;
        while (d <= end) {
            const char *nl = memchr(d, '\n', (size_t)(end - d));
            size_t k = nl ? (size_t)(nl - d) : (size_t)(end - d);
            if (s->emit(s->ud, "data: ", 6) || s->emit(s->ud, d, k) || s->emit(s->ud, "\n", 1))
                return TG_EIO;
            if (nl == NULL)
                break;
            d = nl + 1;
        }
        if (s->emit(s->ud, "\n", 1))
            return TG_EIO;
    }
    s->events++;
    return 0;
}

static int
sse_cb(void *ud, const char *event, const char *data, size_t len)
{
    struct tg_prov_stream *s = ud;

    if (s->kind == TG_ADAPTER_ANTHROPIC)
        return tg__prov_anthropic_event(s, event, data, len);
    if (strcmp(event, "error") == 0) {
        s->upstream_error = true;
        return TG_EUPSTREAM;
    }
    return openai_event(s, data, len);
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
