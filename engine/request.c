/*
 * request.c — parse an OpenAI chat completions body and index its text.
 *
 * Every piece of text a provider would read becomes a struct tg_part, so
 * that the PII scan, export markings, token estimate and redaction agree on
 * what "the request" is.  Anything that is not a well-formed chat request is
 * TG_EINVAL with a message naming the offending field (the gateway answers
 * 400 and the audit records request.malformed), never a best-effort pass.
 */
#include "engine/request.h"
#include "engine/limits.h"

#include <stdio.h>
#include <string.h>
#include <math.h>

/* Tokens charged per base64 image: one high-detail 512px tile on GPT-4o
 * class models costs 765 tokens; we cannot look at the image, so we charge
 * at least that (errs high, like the rest of the estimate). */
#define TG__IMAGE_TOKENS 765u

struct parts_buf {
    struct tg_part *v;
    uint32_t n, cap;
};

/*
 * Deepest [ / { nesting of a JSON text, counted outside strings, stopping
 * as soon as it exceeds max.  Done before cJSON so a hostile body never
 * reaches cJSON's recursive descent past our own cap.
 */
static bool
json_depth_ok(const char *s, size_t len, unsigned max)
{
    unsigned depth = 0;
    bool in_str = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"') {
            in_str = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

/* Same check on an already-parsed tree (capture readers hand us cJSON). */
static bool
tree_depth_ok(const cJSON *n, unsigned depth, unsigned max)
{
    if (n == NULL)
        return true;
    if (cJSON_IsArray(n) || cJSON_IsObject(n)) {
        if (depth + 1 > max)
            return false;
        for (const cJSON *c = n->child; c != NULL; c = c->next)
            if (!tree_depth_ok(c, depth + 1, max))
                return false;
    }
    return true;
}

static int
add_part(struct parts_buf *pb, struct tg_arena *a, cJSON *node, uint32_t msg,
         enum tg_part_kind kind, struct tg_err *err)
{
    if (pb->n == pb->cap) {
        uint32_t ncap = pb->cap ? pb->cap * 2 : 16;
        if (pb->n >= TG_MAX_TEXT_PARTS)
            return tg_err_set(err, TG_ELIMIT, "request has more than %u text parts",
                              TG_MAX_TEXT_PARTS);
        if (ncap > TG_MAX_TEXT_PARTS)
            ncap = TG_MAX_TEXT_PARTS;
        struct tg_part *nv = tg_arena_calloc(a, ncap, sizeof(*nv));
        if (nv == NULL)
            return tg_err_set(err, TG_ENOMEM, "out of memory indexing the request");
        if (pb->n)
            memcpy(nv, pb->v, pb->n * sizeof(*nv));
        pb->v = nv;
        pb->cap = ncap;
    }
    struct tg_part *p = &pb->v[pb->n++];
    p->text = node->valuestring;
    p->len = strlen(node->valuestring);
    p->message = msg;
    p->kind = kind;
    p->node = node;
    return TG_OK;
}

/* A non-negative integer field; absent or null leaves *out alone. */
static int
get_count(const cJSON *obj, const char *key, int64_t *out, struct tg_err *err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (n == NULL || cJSON_IsNull(n))
        return TG_OK;
    if (!cJSON_IsNumber(n))
        return tg_err_set(err, TG_EINVAL, "%s must be a non-negative integer", key);
    double v = n->valuedouble;
    /* 2^31 tokens is far past any model's context: reject rather than
     * let an absurd value overflow the cost arithmetic. */
    if (!(v >= 0) || v != floor(v) || v > 2147483647.0)
        return tg_err_set(err, TG_EINVAL, "%s must be a non-negative integer", key);
    *out = (int64_t)v;
    return TG_OK;
}

/* body.metadata.<key>: a string or absent. */
static int
get_meta(const cJSON *meta, const char *key, const char **out, struct tg_err *err)
{
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(meta, key);
    if (n == NULL || cJSON_IsNull(n))
        return TG_OK;
    if (!cJSON_IsString(n))
        return tg_err_set(err, TG_EINVAL, "metadata.%s must be a string", key);
    *out = n->valuestring;
    return TG_OK;
}

static int
walk_content(cJSON *content, uint32_t i, struct parts_buf *pb, struct tg_arena *a,
             struct tg_request *r, struct tg_err *err)
{
    if (content == NULL || cJSON_IsNull(content))
        return TG_OK;                      /* assistant turns with tool_calls only */
    if (cJSON_IsString(content))
        return add_part(pb, a, content, i, TG_PART_CONTENT, err);
    if (!cJSON_IsArray(content))
        return tg_err_set(err, TG_EINVAL,
                          "messages[%u].content must be a string or an array of parts", i);
    uint32_t j = 0;
    for (cJSON *part = content->child; part != NULL; part = part->next, j++) {
        if (!cJSON_IsObject(part))
            return tg_err_set(err, TG_EINVAL, "messages[%u].content[%u] must be an object", i, j);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        if (!cJSON_IsString(type))
            return tg_err_set(err, TG_EINVAL, "messages[%u].content[%u].type must be a string",
                              i, j);
        if (strcmp(type->valuestring, "text") == 0 || strcmp(type->valuestring, "refusal") == 0) {
            const char *key = type->valuestring[0] == 't' ? "text" : "refusal";
            cJSON *t = cJSON_GetObjectItemCaseSensitive(part, key);
            if (!cJSON_IsString(t))
                return tg_err_set(err, TG_EINVAL, "messages[%u].content[%u].%s must be a string",
                                  i, j, key);
            int rc = add_part(pb, a, t, i, TG_PART_CONTENT, err);
            if (rc != TG_OK)
                return rc;
        } else if (strcmp(type->valuestring, "image_url") == 0) {
            const cJSON *iu = cJSON_GetObjectItemCaseSensitive(part, "image_url");
            cJSON *url = cJSON_IsObject(iu) ? cJSON_GetObjectItemCaseSensitive(iu, "url")
                                            : (cJSON_IsString(iu) ? (cJSON *)iu : NULL);
            if (!cJSON_IsString(url))
                return tg_err_set(err, TG_EINVAL,
                                  "messages[%u].content[%u].image_url.url must be a string", i, j);
            if (strncmp(url->valuestring, "data:", 5) == 0) {
                /* base64 payloads are counted, never decoded or regex-scanned */
                r->data_urls++;
            } else {
                /* a remote URL is text the provider reads (it may carry ids) */
                int rc = add_part(pb, a, url, i, TG_PART_OTHER, err);
                if (rc != TG_OK)
                    return rc;
            }
        }
        /* input_audio, file, ...: binary payloads we cannot scan as text;
         * they are passed through and not indexed. */
    }
    return TG_OK;
}

static int
walk_function(cJSON *fn, uint32_t i, const char *where, struct parts_buf *pb,
              struct tg_arena *a, struct tg_err *err)
{
    if (!cJSON_IsObject(fn))
        return tg_err_set(err, TG_EINVAL, "messages[%u].%s must be an object", i, where);
    cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
    cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
    if (name != NULL && !cJSON_IsNull(name)) {
        if (!cJSON_IsString(name))
            return tg_err_set(err, TG_EINVAL, "messages[%u].%s.name must be a string", i, where);
        int rc = add_part(pb, a, name, i, TG_PART_OTHER, err);
        if (rc != TG_OK)
            return rc;
    }
    if (args != NULL && !cJSON_IsNull(args)) {
        if (!cJSON_IsString(args))
            return tg_err_set(err, TG_EINVAL, "messages[%u].%s.arguments must be a string",
                              i, where);
        int rc = add_part(pb, a, args, i, TG_PART_TOOL_ARGS, err);
        if (rc != TG_OK)
            return rc;
    }
    return TG_OK;
}

static int
walk_message(cJSON *m, uint32_t i, struct parts_buf *pb, struct tg_arena *a,
             struct tg_request *r, struct tg_err *err)
{
    int rc;
    if (!cJSON_IsObject(m))
        return tg_err_set(err, TG_EINVAL, "messages[%u] must be an object", i);
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsString(role) || role->valuestring[0] == '\0')
        return tg_err_set(err, TG_EINVAL, "messages[%u].role must be a non-empty string", i);

    rc = walk_content(cJSON_GetObjectItemCaseSensitive(m, "content"), i, pb, a, r, err);
    if (rc != TG_OK)
        return rc;

    cJSON *name = cJSON_GetObjectItemCaseSensitive(m, "name");
    if (name != NULL && !cJSON_IsNull(name)) {
        if (!cJSON_IsString(name))
            return tg_err_set(err, TG_EINVAL, "messages[%u].name must be a string", i);
        if ((rc = add_part(pb, a, name, i, TG_PART_NAME, err)) != TG_OK)
            return rc;
    }

    cJSON *tcs = cJSON_GetObjectItemCaseSensitive(m, "tool_calls");
    if (tcs != NULL && !cJSON_IsNull(tcs)) {
        if (!cJSON_IsArray(tcs))
            return tg_err_set(err, TG_EINVAL, "messages[%u].tool_calls must be an array", i);
        uint32_t k = 0;
        for (cJSON *tc = tcs->child; tc != NULL; tc = tc->next, k++) {
            if (!cJSON_IsObject(tc))
                return tg_err_set(err, TG_EINVAL, "messages[%u].tool_calls[%u] must be an object",
                                  i, k);
            cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
            if (fn == NULL)
                continue;                  /* custom tool types carry no function */
            char where[48];
            snprintf(where, sizeof(where), "tool_calls[%u].function", k);
            if ((rc = walk_function(fn, i, where, pb, a, err)) != TG_OK)
                return rc;
        }
    }

    cJSON *fc = cJSON_GetObjectItemCaseSensitive(m, "function_call");
    if (fc != NULL && !cJSON_IsNull(fc)) {
        if ((rc = walk_function(fc, i, "function_call", pb, a, err)) != TG_OK)
            return rc;
    }
    return TG_OK;
}

/* Index a parsed body into out; body stays owned by the caller on failure. */
static int
index_body(cJSON *body, size_t body_len, struct tg_arena *a, struct tg_request *out,
           struct tg_err *err)
{
    struct tg_request r;
    struct parts_buf pb = {0};
    int rc;

    memset(&r, 0, sizeof(r));
    r.max_tokens = -1;

    if (!cJSON_IsObject(body))
        return tg_err_set(err, TG_EINVAL, "request body must be a JSON object");

    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (model != NULL && !cJSON_IsNull(model)) {
        if (!cJSON_IsString(model))
            return tg_err_set(err, TG_EINVAL, "model must be a string");
        r.model = model->valuestring;
    }
    const cJSON *stream = cJSON_GetObjectItemCaseSensitive(body, "stream");
    if (stream != NULL && !cJSON_IsNull(stream)) {
        if (!cJSON_IsBool(stream))
            return tg_err_set(err, TG_EINVAL, "stream must be a boolean");
        r.stream = cJSON_IsTrue(stream);
    }
    /* Both may be present (SDKs in transition); the larger bounds the
     * output, which is what the cost ceiling needs. */
    int64_t mt = -1, mct = -1;
    if ((rc = get_count(body, "max_tokens", &mt, err)) != TG_OK)
        return rc;
    if ((rc = get_count(body, "max_completion_tokens", &mct, err)) != TG_OK)
        return rc;
    r.max_tokens = mt > mct ? mt : mct;

    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    if (meta != NULL && !cJSON_IsNull(meta)) {
        if (!cJSON_IsObject(meta))
            return tg_err_set(err, TG_EINVAL, "metadata must be an object");
        if ((rc = get_meta(meta, "tenant", &r.meta_tenant, err)) != TG_OK ||
            (rc = get_meta(meta, "feature", &r.meta_feature, err)) != TG_OK ||
            (rc = get_meta(meta, "category", &r.meta_category, err)) != TG_OK)
            return rc;
    }

    cJSON *msgs = cJSON_GetObjectItemCaseSensitive(body, "messages");
    if (!cJSON_IsArray(msgs) || msgs->child == NULL)
        return tg_err_set(err, TG_EINVAL, "messages must be a non-empty array");
    uint32_t i = 0;
    for (cJSON *m = msgs->child; m != NULL; m = m->next, i++) {
        if (i >= TG_MAX_MESSAGES)
            return tg_err_set(err, TG_ELIMIT, "request has more than %u messages",
                              TG_MAX_MESSAGES);
        if ((rc = walk_message(m, i, &pb, a, &r, err)) != TG_OK)
            return rc;
    }
    r.nmessages = i;
    r.parts = pb.v;
    r.nparts = pb.n;
    for (uint32_t k = 0; k < pb.n; k++)
        r.text_bytes += pb.v[k].len;
    r.body = body;
    r.body_len = body_len;
    *out = r;
    return TG_OK;
}

int
tg_request_from_json(cJSON *body, size_t body_len, struct tg_arena *a,
                     struct tg_request *out, struct tg_err *err)
{
    int rc;
    memset(out, 0, sizeof(*out));
    out->max_tokens = -1;
    if (body == NULL)
        return tg_err_set(err, TG_EINVAL, "request body is missing");
    if (!tree_depth_ok(body, 0, TG_MAX_JSON_DEPTH)) {
        rc = tg_err_set(err, TG_ELIMIT, "request JSON nests deeper than %u levels",
                        TG_MAX_JSON_DEPTH);
        goto out;
    }
    rc = index_body(body, body_len, a, out, err);
out:
    if (rc != TG_OK) {
        cJSON_Delete(body);
        out->body = NULL;
    }
    return rc;
}

int
tg_request_parse(const char *body, size_t len, struct tg_arena *a,
                 struct tg_request *out, struct tg_err *err)
{
    memset(out, 0, sizeof(*out));
    out->max_tokens = -1;
    if (body == NULL)
        return tg_err_set(err, TG_EINVAL, "request body is missing");
    if (len > TG_MAX_BODY_BYTES)
        return tg_err_set(err, TG_ELIMIT, "request body is larger than %u bytes",
                          TG_MAX_BODY_BYTES);
    if (!json_depth_ok(body, len, TG_MAX_JSON_DEPTH))
        return tg_err_set(err, TG_ELIMIT, "request JSON nests deeper than %u levels",
                          TG_MAX_JSON_DEPTH);
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (j == NULL) {
        size_t off = end != NULL && end >= body ? (size_t)(end - body) : 0;
        return tg_err_set(err, TG_EINVAL, "request body is not valid JSON (near byte %zu)", off);
    }
    /* Trailing garbage after the value is as malformed as a broken value. */
    for (const char *p = end; p != NULL && p < body + len; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n' && *p != '\0') {
            cJSON_Delete(j);
            return tg_err_set(err, TG_EINVAL,
                              "request body has trailing data after the JSON value");
        }
    }
    int rc = index_body(j, len, a, out, err);
    if (rc != TG_OK) {
        cJSON_Delete(j);
        memset(out, 0, sizeof(*out));
        out->max_tokens = -1;
    }
    return rc;
}

void
tg_request_dispose(struct tg_request *r)
{
    if (r == NULL)
        return;
    cJSON_Delete(r->body);
    r->body = NULL;
    r->parts = NULL;
    r->nparts = 0;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int
tg_request_add_tags(struct tg_request *r, const char *csv, struct tg_arena *a)
{
    if (csv == NULL)
        return TG_OK;
    /* A fresh array each call: the existing one may be the caller's const
     * storage (a capture record), never written through. */
    const char **tags = tg_arena_calloc(a, TG_MAX_EXPORT_TAGS, sizeof(*tags));
    if (tags == NULL)
        return TG_ENOMEM;
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->nexport_tags && n < TG_MAX_EXPORT_TAGS; i++)
        tags[n++] = r->export_tags[i];

    const char *p = csv;
    while (*p != '\0') {
        while (is_space(*p) || *p == ',')
            p++;
        const char *s = p;
        while (*p != '\0' && *p != ',')
            p++;
        const char *e = p;
        while (e > s && is_space(e[-1]))
            e--;
        if (e == s)
            continue;
        char *t = tg_arena_strndup(a, s, (size_t)(e - s));
        if (t == NULL)
            return TG_ENOMEM;
        for (char *c = t; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        bool dup = false;
        for (uint32_t k = 0; k < n && !dup; k++)
            dup = strcmp(tags[k], t) == 0;
        if (dup)
            continue;
        if (n >= TG_MAX_EXPORT_TAGS)
            return TG_ELIMIT;   /* r unchanged: a cap is an error, not a truncation */
        tags[n++] = t;
    }
    r->export_tags = tags;
    r->nexport_tags = n;
    return TG_OK;
}

/*
 * ceil(bytes/4) per part + 4 per message + 3 for the reply priming, plus
 * TG__IMAGE_TOKENS per inline image.  English BPE runs ~4 bytes/token and
 * CJK or code runs higher bytes per token, so bytes/4 over-counts for
 * most text: deliberate, since the estimate feeds the cost ceiling and the
 * context check, where guessing low would admit requests that overrun.
 */
uint32_t
tg_request_estimate_tokens(const struct tg_request *r)
{
    uint64_t t = 3;
    for (uint32_t i = 0; i < r->nparts; i++)
        t += (r->parts[i].len + 3) / 4;
    t += 4ull * r->nmessages;
    t += (uint64_t)TG__IMAGE_TOKENS * r->data_urls;
    return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}
