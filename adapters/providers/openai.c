/*
 * openai.c — the openai adapter: any OpenAI-compatible chat completions
 * API.  The canonical request is already a chat completions body, so the
 * request goes out nearly as it came (a byte splice, not a re-print), the
 * answer is relayed unchanged once its `usage` is read, and stream events
 * are relayed as they arrive.
 */
#include "adapters/providers/provider.h"
#include "adapters/providers/prov_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
openai_headers(const struct tg_provider *prov, bool stream, struct tg_arena *a,
               struct tg_prov_http *h, struct tg_err *err)
{
    h->url = tg__prov_url(a, prov->base_url ? prov->base_url : "", "/chat/completions");
    h->headers[h->nheaders++] = "Content-Type: application/json";
    h->headers[h->nheaders++] = stream ? "Accept: text/event-stream" : "Accept: application/json";
    if (prov->api_key != NULL && prov->api_key[0] != '\0')
        h->headers[h->nheaders++] = tg_arena_sprintf(a, "Authorization: Bearer %s", prov->api_key);
    if (h->url == NULL || h->headers[h->nheaders - 1] == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    return TG_OK;
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
    (void)m;
    return openai_headers(prov, h->stream, a, h, err);
}

/* ---- openai fast path: splice bytes instead of parse + print -------------
 *
 * For the openai adapter the body goes upstream as the client sent it,
 * except: "model" becomes the registry's upstream name, "metadata" is
 * dropped, and a stream gets stream_options.include_usage.  Parsing 2 KiB
 * into a cJSON tree and printing it again was a sixth of the gateway's CPU
 * per request; finding the three top-level members and copying the bytes
 * around them is a single pass.  Anything unexpected (a key with an escape,
 * a repeated key, not an object, a NUL) falls back to the cJSON path, so
 * the provider never gets bytes the pre-flight did not see. */

struct top_member {
    size_t ks, ve;   /* key's opening quote .. end of the value */
    size_t vs;       /* start of the value */
    bool   present;
};

static size_t
skip_ws(const char *b, size_t i, size_t n)
{
    while (i < n && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r'))
        i++;
    return i;
}

/* End (exclusive) of the string starting at b[i] == '"'; 0 if unterminated.
 * *esc tells whether it contained a backslash.  memchr to each quote: a
 * 2 KiB prompt is one string, skipped at memchr speed. */
static size_t
skip_string(const char *b, size_t i, size_t n, bool *esc)
{
    size_t from = i + 1;

    for (;;) {
        const char *q = from < n ? memchr(b + from, '"', n - from) : NULL;
        size_t k, bs = 0;

        if (q == NULL)
            return 0;
        k = (size_t)(q - b);
        while (k - bs > i + 1 && b[k - bs - 1] == '\\')
            bs++;
        if (!*esc && memchr(b + from, '\\', k - from) != NULL)
            *esc = true;
        if (bs % 2 == 0)
            return k + 1;
        from = k + 1;   /* an escaped quote */
    }
}

/* Does b[0..n) contain the escape \u0000 (a backslash that is not itself
 * escaped, then u0000)? */
static bool
has_escaped_nul(const char *b, size_t n)
{
    const char *p = b, *end = b + n;

    while ((p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
            return true;
        p += 2;   /* skip the escaped character, whatever it is */
        if (p >= end)
            break;
    }
    return false;
}

/* End (exclusive) of the JSON value at b[i]; 0 on malformed input. */
static size_t
skip_value(const char *b, size_t i, size_t n)
{
    bool esc = false;
    uint32_t depth = 0;

    if (i >= n)
        return 0;
    if (b[i] == '"')
        return skip_string(b, i, n, &esc);
    if (b[i] != '{' && b[i] != '[') {
        size_t s0 = i;
        while (i < n && b[i] != ',' && b[i] != '}' && b[i] != ']' && b[i] != ' ' && b[i] != '\t' &&
               b[i] != '\n' && b[i] != '\r')
            i++;
        return i > s0 ? i : 0;
    }
    for (; i < n; i++) {
        char c = b[i];
        if (c == '"') {
            size_t e = skip_string(b, i, n, &esc);
            if (e == 0)
                return 0;
            i = e - 1;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            if (--depth == 0)
                return i + 1;
        }
    }
    return 0;
}

struct prov_sb {
    char  *p;
    size_t len, cap;
};

static bool
sb_add(struct prov_sb *sb, const char *s, size_t n)
{
    if (sb->len + n > sb->cap)
        return false;
    memcpy(sb->p + sb->len, s, n);
    sb->len += n;
    return true;
}

static void
json_str(struct prov_sb *sb, const char *s)
{
    static const char hex[] = "0123456789abcdef";

    sb_add(sb, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char e[2] = { '\\', (char)c };
            sb_add(sb, e, 2);
        } else if (c < 0x20) {
            char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            sb_add(sb, e, 6);
        } else {
            sb_add(sb, (const char *)&c, 1);
        }
    }
    sb_add(sb, "\"", 1);
}

/* TG_OK with h->body set; TG_EINVAL: use the cJSON path; TG_ENOMEM. */
static int
splice_openai(const char *b, size_t n, const char *upstream, struct tg_arena *a,
              struct tg_prov_http *h)
{
    struct top_member model = { 0 }, meta = { 0 }, stream = { 0 }, sopt = { 0 };
    size_t i = skip_ws(b, 0, n), open_at, close_at, cap;
    struct prov_sb sb;
    bool want_usage;

    if (i >= n || b[i] != '{')
        return TG_EINVAL;
    /* A NUL (raw, or escaped as \u0000) ends a cJSON string: the pre-flight
     * scanned the text up to it, and the cJSON path sends no more than that.
     * Spliced, the unscanned rest would reach the provider. */
    if (memchr(b, '\0', n) != NULL || has_escaped_nul(b, n))
        return TG_EINVAL;
    open_at = i;
    i = skip_ws(b, i + 1, n);
    if (i < n && b[i] == '}')
        return TG_EINVAL;   /* {}: not a chat request anyway; let the slow path say so */
    for (;;) {
        struct top_member *m = NULL;
        size_t ks = i, ke, vs, ve;
        bool esc = false;

        if (i >= n || b[i] != '"' || (ke = skip_string(b, i, n, &esc)) == 0 || esc)
            return TG_EINVAL;
#define KEY_IS(lit) (ke - ks - 2 == sizeof(lit) - 1 && memcmp(b + ks + 1, lit, sizeof(lit) - 1) == 0)
        if (KEY_IS("model"))
            m = &model;
        else if (KEY_IS("metadata"))
            m = &meta;
        else if (KEY_IS("stream"))
            m = &stream;
        else if (KEY_IS("stream_options"))
            m = &sopt;
#undef KEY_IS
        i = skip_ws(b, ke, n);
        if (i >= n || b[i] != ':')
            return TG_EINVAL;
        vs = skip_ws(b, i + 1, n);
        if ((ve = skip_value(b, vs, n)) == 0)
            return TG_EINVAL;
        if (m != NULL) {
            if (m->present)
                return TG_EINVAL;   /* repeated key: the slow path's rules apply */
            m->present = true;
            m->ks = ks;
            m->vs = vs;
            m->ve = ve;
        }
        i = skip_ws(b, ve, n);
        if (i < n && b[i] == ',') {
            i = skip_ws(b, i + 1, n);
            continue;
        }
        if (i < n && b[i] == '}')
            break;
        return TG_EINVAL;
    }
    close_at = i;
    if (skip_ws(b, close_at + 1, n) != n || !model.present)
        return TG_EINVAL;   /* trailing bytes; no model member (rare: the slow path adds it) */
    h->stream = stream.present && stream.ve - stream.vs == 4 && memcmp(b + stream.vs, "true", 4) == 0;
    want_usage = h->stream && !sopt.present;
    h->strip_usage = want_usage;

    cap = n + 2 * 6 * strlen(upstream) + 64;
    sb.p = tg_arena_alloc(a, cap);
    sb.len = 0;
    sb.cap = cap;
    if (sb.p == NULL)
        return TG_ENOMEM;
    /* Copy [open_at, close_at) with the model value replaced and the
     * metadata member cut out, then the additions, then "}". */
    sb_add(&sb, b, open_at + 1);
    {
        size_t pos = open_at + 1;
        /* Regions to skip or replace, in order. */
        size_t cut_s = 0, cut_e = 0;
        if (meta.present) {
            /* Cut the member and one adjacent comma: the one after it, else
             * the one before it (it was the last member). */
            size_t e = skip_ws(b, meta.ve, n);
            if (b[e] == ',') {
                cut_s = meta.ks;
                cut_e = skip_ws(b, e + 1, n);
            } else {
                size_t s0 = meta.ks;
                while (s0 > open_at + 1 && b[s0 - 1] != ',')
                    s0--;
                cut_s = s0 > open_at + 1 ? s0 - 1 : meta.ks;
                cut_e = meta.ve;
            }
        }
        while (pos < close_at) {
            size_t next = close_at;
            if (model.vs >= pos && model.vs < next)
                next = model.vs;
            if (meta.present && cut_s >= pos && cut_s < next)
                next = cut_s;
            sb_add(&sb, b + pos, next - pos);
            if (next == close_at)
                break;
            if (next == model.vs) {
                json_str(&sb, upstream);
                pos = model.ve;
            } else {
                pos = cut_e;
            }
        }
    }
    if (want_usage) {
        static const char so[] = ",\"stream_options\":{\"include_usage\":true}";
        sb_add(&sb, so, sizeof(so) - 1);
    }
    if (!sb_add(&sb, b + close_at, n - close_at))
        return TG_ENOMEM;
    h->body = sb.p;
    h->body_len = sb.len;
    return TG_OK;
}

static int
openai_build(const struct tg_provider *prov, const struct tg_model *m, const char *body, size_t len,
             uint32_t default_max_tokens, struct tg_arena *a, struct tg_prov_http *out,
             struct tg_err *err)
{
    struct tg_prov_http h;
    cJSON *j = NULL;
    int rc;

    (void)default_max_tokens;
    memset(&h, 0, sizeof(h));
    /* a capped model may need max_tokens rewritten: the tree path does it */
    rc = m->max_output_tokens > 0 ? TG_EINVAL : splice_openai(body, len, m->upstream ? m->upstream : m->id, a, &h);
    if (rc == TG_ENOMEM)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    if (rc == TG_OK) {
        bool stream = h.stream, strip = h.strip_usage;
        const char *bd = h.body;
        size_t bl = h.body_len;
        memset(&h, 0, sizeof(h));
        if ((rc = openai_headers(prov, stream, a, &h, err)) != TG_OK)
            return rc;
        h.stream = stream;
        h.strip_usage = strip;
        h.body = bd;
        h.body_len = bl;
        *out = h;
        return TG_OK;
    }
    /* Anything the splice is unsure of goes through the tree. */
    memset(&h, 0, sizeof(h));
    if ((rc = tg__prov_canonical_tree(body, len, m, &j, err)) != TG_OK)
        return rc;
    rc = build_openai(prov, m, j, a, &h, err);
    if (rc == TG_OK && (h.body = tg__prov_print(j, a, &h.body_len)) == NULL)
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
    if (rc == TG_OK)
        *out = h;
    cJSON_Delete(j);
    return rc;
}

/* ---- the upstream answer: a validating scan for `usage` ------------------
 *
 * The answer is relayed to the client byte for byte; all tollgate needs from
 * it is `usage` (for cost) and the certainty that it is a JSON object with a
 * `choices` array.  Building a cJSON tree of the whole answer costs ~25k
 * instructions per request, most of it on `choices` text we never read; this
 * scan checks the grammar (RFC 8259) without building anything and hands
 * only the `usage` object to cJSON.  It is stricter than cJSON: whenever it
 * is not sure (a surrogate escape, an escaped top-level key, deep nesting,
 * trailing bytes, anything cJSON might read differently) it says so and the
 * caller falls back to the full parse, so the outcome never differs from
 * cJSON's. */

#define PROV_SCAN_DEPTH 64

static const char *
scan_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static bool
scan_hex(char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* p at '"'; returns the byte after the closing quote, NULL when unsure.
 * *escaped tells whether the string held a backslash. */
static const char *
scan_string(const char *p, const char *e, bool *escaped)
{
    *escaped = false;
    for (p++; p < e; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '"')
            return p + 1;
        if (c < 0x20)
            return NULL;
        if (c != '\\')
            continue;
        *escaped = true;
        if (e - p < 2)
            return NULL;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p++;
            break;
        case 'u':
            if (e - p < 6 || !scan_hex(p[2]) || !scan_hex(p[3]) || !scan_hex(p[4]) || !scan_hex(p[5]))
                return NULL;
            /* Surrogates: cJSON rejects some pairs RFC 8259 admits. */
            if ((p[2] | 0x20) == 'd' && (p[3] >= '8' || (p[3] | 0x20) >= 'a'))
                return NULL;
            p += 5;
            break;
        default:
            return NULL;
        }
    }
    return NULL;
}

static const char *
scan_digits(const char *p, const char *e)
{
    const char *s = p;
    while (p < e && *p >= '0' && *p <= '9')
        p++;
    return p > s ? p : NULL;
}

static const char *
scan_number(const char *p, const char *e)
{
    const char *s = p;

    if (p < e && *p == '-')
        p++;
    if (p < e && *p == '0')
        p++;
    else if ((p = scan_digits(p, e)) == NULL)
        return NULL;
    if (p < e && *p == '.' && (p = scan_digits(p + 1, e)) == NULL)
        return NULL;
    if (p < e && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if ((p = scan_digits(p, e)) == NULL)
            return NULL;
    }
    /* cJSON reads at most 63 bytes of a number and then fails on the rest. */
    return p - s < 64 ? p : NULL;
}

static const char *
scan_lit(const char *p, const char *e, const char *lit, size_t n)
{
    return (size_t)(e - p) >= n && memcmp(p, lit, n) == 0 ? p + n : NULL;
}

/* One value at p (no leading whitespace); returns the byte after it. */
static const char *
scan_value(const char *p, const char *e, unsigned depth)
{
    bool esc;

    if (p >= e)
        return NULL;
    switch (*p) {
    case '"':
        return scan_string(p, e, &esc);
    case 't':
        return scan_lit(p, e, "true", 4);
    case 'f':
        return scan_lit(p, e, "false", 5);
    case 'n':
        return scan_lit(p, e, "null", 4);
    case '{':
    case '[': {
        char close = *p == '{' ? '}' : ']';
        bool obj = *p == '{';
        if (depth >= PROV_SCAN_DEPTH)
            return NULL;
        p = scan_ws(p + 1, e);
        if (p < e && *p == close)
            return p + 1;
        for (;;) {
            if (obj) {
                if (p >= e || *p != '"' || (p = scan_string(p, e, &esc)) == NULL)
                    return NULL;
                p = scan_ws(p, e);
                if (p >= e || *p != ':')
                    return NULL;
                p = scan_ws(p + 1, e);
            }
            if ((p = scan_value(p, e, depth + 1)) == NULL)
                return NULL;
            p = scan_ws(p, e);
            if (p < e && *p == ',') {
                p = scan_ws(p + 1, e);
                continue;
            }
            return p < e && *p == close ? p + 1 : NULL;
        }
    }
    default:
        return *p == '-' || (*p >= '0' && *p <= '9') ? scan_number(p, e) : NULL;
    }
}

/* The members of the object at p ('{', already known to be well formed or
 * about to be checked): for each of keys[], where its first occurrence's
 * value starts and ends (NULL when absent).  Returns the byte after the
 * object, NULL when unsure (bad grammar, or a key with an escape, which
 * cJSON would decode before comparing). */
static const char *
scan_members(const char *p, const char *e, const char *const *keys, size_t nkeys,
             const char **vals, const char **val_ends)
{
    bool esc;

    for (size_t i = 0; i < nkeys; i++)
        vals[i] = val_ends[i] = NULL;
    p = scan_ws(p + 1, e);
    if (p < e && *p == '}')
        return p + 1;
    for (;;) {
        const char *k, *v;
        size_t klen;
        if (p >= e || *p != '"' || (v = scan_string(p, e, &esc)) == NULL || esc)
            return NULL;
        k = p + 1;
        klen = (size_t)(v - k) - 1;
        p = scan_ws(v, e);
        if (p >= e || *p != ':')
            return NULL;
        p = scan_ws(p + 1, e);
        v = p;
        if ((p = scan_value(p, e, 1)) == NULL)
            return NULL;
        /* The first of duplicate keys counts, as cJSON_GetObjectItem finds it. */
        for (size_t i = 0; i < nkeys; i++)
            if (vals[i] == NULL && strlen(keys[i]) == klen && memcmp(k, keys[i], klen) == 0) {
                vals[i] = v;
                val_ends[i] = p;
                break;
            }
        p = scan_ws(p, e);
        if (p < e && *p == ',') {
            p = scan_ws(p + 1, e);
            continue;
        }
        return p < e && *p == '}' ? p + 1 : NULL;
    }
}

/* A token count as tg__prov_int reads it: a number in [0, 9e15], else -1.
 * strtod on a copy, as cJSON converts numbers. */
static int64_t
scan_count(const char *v, const char *ve)
{
    char num[64];
    double d;

    if (v == NULL || (*v != '-' && (*v < '0' || *v > '9')) || (size_t)(ve - v) >= sizeof(num))
        return -1;
    memcpy(num, v, (size_t)(ve - v));
    num[ve - v] = '\0';
    d = strtod(num, NULL);
    return d < 0 || d > 9e15 ? -1 : (int64_t)d;
}

/* 1: a JSON object with a `choices` array, usage filled in; 0: not sure,
 * use the full parse. */
static int
openai_response_scan(const char *body, size_t len, struct tg_prov_usage *u)
{
    static const char *const top[] = { "choices", "usage" };
    static const char *const cnt[] = { "prompt_tokens", "completion_tokens" };
    const char *e = body + len, *p = scan_ws(body, e), *v[2], *ve[2], *uv[2], *uve[2];

    if (p >= e || *p != '{' || (p = scan_members(p, e, top, 2, v, ve)) == NULL)
        return 0;
    if (scan_ws(p, e) != e || v[0] == NULL || *v[0] != '[')
        return 0;   /* trailing bytes, or no choices: the full parse decides */
    if (v[1] != NULL && *v[1] == '{') {
        /* Numbers longer than scan_count's buffer: let cJSON read them. */
        if (scan_members(v[1], ve[1], cnt, 2, uv, uve) == NULL ||
            (uv[0] != NULL && (size_t)(uve[0] - uv[0]) >= 64) || (uv[1] != NULL && (size_t)(uve[1] - uv[1]) >= 64))
            return 0;
        u->prompt_tokens = scan_count(uv[0], uve[0]);
        u->completion_tokens = scan_count(uv[1], uve[1]);
    }
    return 1;
}

static int
openai_response(const char *body, size_t len, struct tg_prov_usage *u, struct tg_err *err)
{
    cJSON *j, *usage, *choices;
    int rc = TG_EINVAL;

    if (openai_response_scan(body, len, u))
        return TG_OK;
    u->prompt_tokens = u->completion_tokens = -1;
    j = cJSON_ParseWithLength(body, len);
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

static int
openai_answer(const char *model_id, const char *body, size_t len, int64_t now_s, char **out,
              size_t *outlen, struct tg_prov_usage *u, struct tg_err *err)
{
    (void)model_id;
    (void)now_s;
    *out = NULL;   /* relayed unchanged */
    *outlen = 0;
    return openai_response(body, len, u, err);
}

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
openai_stream_event(struct tg_prov_stream *s, const char *event, const char *data, size_t len)
{
    if (strcmp(event, "error") == 0) {
        s->upstream_error = true;
        return TG_EUPSTREAM;
    }
    return openai_event(s, data, len);
}

const struct tg__prov_ops tg__prov_openai = {
    .kind = TG_ADAPTER_OPENAI,
    .name = "openai",
    .build = openai_build,
    .answer = openai_answer,
    .event = openai_stream_event,
};
