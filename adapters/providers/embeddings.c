/*
 * embeddings.c — OpenAI embeddings requests to providers and back: the
 * upstream request (openai: POST {base_url}/embeddings; anthropic has no
 * embeddings API and refuses), the validation of a provider's answer, and
 * the echo provider's local vectors.  See provider.h.
 */
#include "adapters/providers/provider.h"
#include "adapters/providers/prov_int.h"
#include "engine/limits.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
tg_prov_embed_build(const struct tg_provider *prov, const struct tg_model *m, const char *body,
                    size_t len, struct tg_arena *a, struct tg_prov_http *out, struct tg_err *err)
{
    struct tg_prov_http h;
    cJSON *j = NULL, *model;
    int rc = TG_EINVAL;

    memset(&h, 0, sizeof(h));
    if (prov->adapter == TG_ADAPTER_ECHO) {
        rc = tg_err_set(err, TG_EINVAL, "echo provider has no upstream");
        goto out;
    }
    if (prov->adapter != TG_ADAPTER_OPENAI) {
        /* Anthropic offers no embeddings endpoint; a policy that routes
         * embeddings to it fails the attempt rather than mistranslating. */
        rc = tg_err_set(err, TG_EINVAL, "provider %s (%s adapter) has no embeddings API", prov->id,
                        tg_prov_kind_name(prov->adapter));
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
    model = cJSON_CreateString(m->upstream ? m->upstream : m->id);
    if (model == NULL ||
        (cJSON_GetObjectItemCaseSensitive(j, "model") != NULL
             ? !cJSON_ReplaceItemInObjectCaseSensitive(j, "model", model)
             : !cJSON_AddItemToObject(j, "model", model))) {
        cJSON_Delete(model);
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    /* tollgate's routing hints are not the provider's business */
    cJSON_DeleteItemFromObjectCaseSensitive(j, "metadata");

    h.url = tg__prov_url(a, prov->base_url ? prov->base_url : "", "/embeddings");
    h.headers[h.nheaders++] = "Content-Type: application/json";
    h.headers[h.nheaders++] = "Accept: application/json";
    if (prov->api_key != NULL && prov->api_key[0] != '\0')
        h.headers[h.nheaders++] = tg_arena_sprintf(a, "Authorization: Bearer %s", prov->api_key);
    h.body = tg__prov_print(j, a, &h.body_len);
    if (h.url == NULL || h.headers[h.nheaders - 1] == NULL || h.body == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    *out = h;
    rc = TG_OK;
out:
    cJSON_Delete(j);
    return rc;
}

/* Strict standard base64 of whole float32 values. */
static bool
b64_floats(const char *s)
{
    size_t n = strlen(s), pad = 0;

    if (n == 0 || n % 4 != 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '=') {
            if (i < n - 2)
                return false;
            pad++;
        } else if (pad > 0 ||
                   !((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '+' || c == '/')) {
            return false;
        }
    }
    return (n / 4 * 3 - pad) % 4 == 0;
}

int
tg_prov_embed_response(const char *model_id, const char *body, size_t len, uint32_t ninputs,
                       char **out, size_t *outlen, struct tg_prov_usage *u, struct tg_err *err)
{
    cJSON *j = cJSON_ParseWithLength(body, len), *model;
    const cJSON *data, *d, *usage;
    uint8_t *seen = NULL;
    uint32_t cap = ninputs > 0 ? ninputs : TG_MAX_EMBEDDING_INPUTS, n = 0;
    char *text = NULL;
    int rc = TG_EINVAL;

    if (!cJSON_IsObject(j)) {
        rc = tg_err_set(err, TG_EINVAL, "embeddings answer is not a JSON object");
        goto out;
    }
    if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "object")) ||
        strcmp(cJSON_GetObjectItemCaseSensitive(j, "object")->valuestring, "list") != 0) {
        rc = tg_err_set(err, TG_EINVAL, "embeddings answer: object is not \"list\"");
        goto out;
    }
    data = cJSON_GetObjectItemCaseSensitive(j, "data");
    if (!cJSON_IsArray(data)) {
        rc = tg_err_set(err, TG_EINVAL, "embeddings answer: data is not an array");
        goto out;
    }
    if ((seen = calloc(cap, 1)) == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    cJSON_ArrayForEach(d, data) {
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(d, "object");
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(d, "index");
        const cJSON *e = cJSON_GetObjectItemCaseSensitive(d, "embedding");
        double v = cJSON_IsNumber(ix) ? ix->valuedouble : -1;

        if (!cJSON_IsObject(d) || !cJSON_IsString(o) || strcmp(o->valuestring, "embedding") != 0) {
            rc = tg_err_set(err, TG_EINVAL, "embeddings answer: data[%u] is not an embedding", n);
            goto out;
        }
        /* each input answered once: a missing or repeated index would hand
         * the client a vector for the wrong text */
        if (!(v >= 0 && v < cap && v == floor(v)) || seen[(uint32_t)v]) {
            rc = tg_err_set(err, TG_EINVAL, "embeddings answer: data[%u].index is not a new input index", n);
            goto out;
        }
        seen[(uint32_t)v] = 1;
        if (cJSON_IsArray(e) && e->child != NULL) {
            const cJSON *x;
            cJSON_ArrayForEach(x, e) {
                if (!cJSON_IsNumber(x) || !isfinite(x->valuedouble)) {
                    rc = tg_err_set(err, TG_EINVAL, "embeddings answer: data[%u].embedding holds a non-number", n);
                    goto out;
                }
            }
        } else if (!(cJSON_IsString(e) && b64_floats(e->valuestring))) {
            rc = tg_err_set(err, TG_EINVAL,
                            "embeddings answer: data[%u].embedding is neither numbers nor base64 floats", n);
            goto out;
        }
        n++;
    }
    if (n == 0 || (ninputs > 0 && n != ninputs)) {
        rc = tg_err_set(err, TG_EINVAL, "embeddings answer has %u vectors for %u inputs", n, ninputs);
        goto out;
    }
    usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
    u->prompt_tokens = tg__prov_int(usage, "prompt_tokens");
    u->completion_tokens = u->prompt_tokens >= 0 ? 0 : -1;
    /* the client sees the registry's model id, as for chat answers */
    if ((model = cJSON_CreateString(model_id)) == NULL ||
        (cJSON_GetObjectItemCaseSensitive(j, "model") != NULL
             ? !cJSON_ReplaceItemInObjectCaseSensitive(j, "model", model)
             : !cJSON_AddItemToObject(j, "model", model))) {
        cJSON_Delete(model);
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    if ((text = cJSON_PrintUnformatted(j)) == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    *out = text;
    *outlen = strlen(text);
    rc = TG_OK;
out:
    free(seen);
    cJSON_Delete(j);
    return rc;
}

/* ---- echo ------------------------------------------------------------------- */

static uint64_t
fnv1a(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t
splitmix(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* Component k of the vector of seed h: k/2^23 - 1 for a 24-bit k, exact
 * in float32 and double alike, so both encodings carry the same value. */
static double
component(uint64_t h, uint32_t k)
{
    return (double)(splitmix(h + k) >> 40) / 8388608.0 - 1.0;
}

static void
b64_encode(const unsigned char *in, size_t n, char *out)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tab[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tab[v & 63] : '=';
    }
    out[o] = '\0';
}

/* One input's seed and token estimate; false when it is not an input. */
static bool
echo_input(const cJSON *in, uint64_t *seed, int64_t *tokens)
{
    const cJSON *x;
    uint64_t h = 0xcbf29ce484222325ull;
    int64_t n = 0;

    if (cJSON_IsString(in)) {
        size_t l = strlen(in->valuestring);
        *seed = fnv1a(h, in->valuestring, l);
        *tokens = (int64_t)((l + 3) / 4);
        return true;
    }
    if (!cJSON_IsArray(in) || in->child == NULL)
        return false;
    cJSON_ArrayForEach(x, in) {
        double v = cJSON_IsNumber(x) ? x->valuedouble : -1;
        uint32_t t;
        if (!(v >= 0 && v <= 4294967295.0 && v == floor(v)))
            return false;
        t = (uint32_t)v;
        h = fnv1a(h, &t, sizeof(t));
        n++;
    }
    *seed = h;
    *tokens = n;
    return true;
}

static cJSON *
echo_vector(uint64_t seed, uint32_t dims, bool b64)
{
    if (!b64) {
        cJSON *arr = cJSON_CreateArray();
        for (uint32_t k = 0; arr != NULL && k < dims; k++) {
            cJSON *x = cJSON_CreateNumber(component(seed, k));
            if (x == NULL || !cJSON_AddItemToArray(arr, x)) {
                cJSON_Delete(x);
                cJSON_Delete(arr);
                return NULL;
            }
        }
        return arr;
    }
    unsigned char raw[TG_ECHO_EMBED_MAX_DIMS * 4];
    char text[(TG_ECHO_EMBED_MAX_DIMS * 4 + 2) / 3 * 4 + 1];
    for (uint32_t k = 0; k < dims; k++) {
        float f = (float)component(seed, k);
        uint32_t bits;
        memcpy(&bits, &f, sizeof(bits));
        /* little-endian float32, as OpenAI's base64 encoding */
        raw[4 * k] = (unsigned char)bits;
        raw[4 * k + 1] = (unsigned char)(bits >> 8);
        raw[4 * k + 2] = (unsigned char)(bits >> 16);
        raw[4 * k + 3] = (unsigned char)(bits >> 24);
    }
    b64_encode(raw, (size_t)dims * 4, text);
    return cJSON_CreateString(text);
}

int
tg_prov_echo_embed(const char *model_id, const char *body, size_t len, char **out,
                   size_t *outlen, struct tg_prov_usage *u, struct tg_err *err)
{
    cJSON *j = cJSON_ParseWithLength(body, len), *o = NULL, *arr, *usage;
    const cJSON *in, *x, *ef, *dm;
    uint32_t dims = 8, n = 0;
    int64_t tokens = 0;
    bool b64 = false, single;
    char *text;
    int rc = TG_ENOMEM;

    in = cJSON_GetObjectItemCaseSensitive(j, "input");
    ef = cJSON_GetObjectItemCaseSensitive(j, "encoding_format");
    dm = cJSON_GetObjectItemCaseSensitive(j, "dimensions");
    b64 = cJSON_IsString(ef) && strcmp(ef->valuestring, "base64") == 0;
    if (dm != NULL && !cJSON_IsNull(dm)) {
        double v = cJSON_IsNumber(dm) ? dm->valuedouble : 0;
        if (!(v >= 1 && v <= TG_ECHO_EMBED_MAX_DIMS && v == floor(v))) {
            rc = tg_err_set(err, TG_EINVAL, "echo embeddings: dimensions must be 1..%u",
                            TG_ECHO_EMBED_MAX_DIMS);
            goto out;
        }
        dims = (uint32_t)v;
    }
    /* a string or one token array is one input; else an array of them */
    single = cJSON_IsString(in) || (cJSON_IsArray(in) && cJSON_IsNumber(in->child));
    if (!single && !(cJSON_IsArray(in) && in->child != NULL)) {
        rc = tg_err_set(err, TG_EINVAL, "input must be a string or a non-empty array");
        goto out;
    }
    if ((o = cJSON_CreateObject()) == NULL || !cJSON_AddStringToObject(o, "object", "list") ||
        (arr = cJSON_AddArrayToObject(o, "data")) == NULL)
        goto out;
    for (x = single ? in : in->child; x != NULL; x = single ? NULL : x->next, n++) {
        uint64_t seed;
        int64_t t;
        cJSON *d, *vec;
        if (n >= TG_MAX_EMBEDDING_INPUTS) {
            rc = tg_err_set(err, TG_ELIMIT, "input has more than %u entries", TG_MAX_EMBEDDING_INPUTS);
            goto out;
        }
        if (!echo_input(x, &seed, &t)) {
            rc = tg_err_set(err, TG_EINVAL, "input[%u] is neither a string nor a token array", n);
            goto out;
        }
        tokens += t;
        if ((d = cJSON_CreateObject()) == NULL || !cJSON_AddItemToArray(arr, d) ||
            !cJSON_AddStringToObject(d, "object", "embedding") ||
            !cJSON_AddNumberToObject(d, "index", n) || (vec = echo_vector(seed, dims, b64)) == NULL)
            goto out;
        if (!cJSON_AddItemToObject(d, "embedding", vec)) {
            cJSON_Delete(vec);
            goto out;
        }
    }
    if (!cJSON_AddStringToObject(o, "model", model_id) ||
        (usage = cJSON_AddObjectToObject(o, "usage")) == NULL ||
        !cJSON_AddNumberToObject(usage, "prompt_tokens", (double)tokens) ||
        !cJSON_AddNumberToObject(usage, "total_tokens", (double)tokens))
        goto out;
    if ((text = cJSON_PrintUnformatted(o)) == NULL)
        goto out;
    u->prompt_tokens = tokens;
    u->completion_tokens = 0;
    *out = text;
    *outlen = strlen(text);
    rc = TG_OK;
out:
    if (rc == TG_ENOMEM)
        tg_err_set(err, TG_ENOMEM, "out of memory");
    cJSON_Delete(o);
    cJSON_Delete(j);
    return rc;
}
