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
#include "engine/json.h"
#include "engine/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <math.h>

/* Tokens charged per base64 image: one high-detail 512px tile on GPT-4o
 * class models costs 765 tokens; we cannot look at the image, so we charge
 * at least that (errs high, like the rest of the estimate). */
#define TG__IMAGE_TOKENS 765u

struct parts_buf {
    struct tg_part *v;
    uint32_t n, cap;
};

enum prescan_rc { PRESCAN_OK = 0, PRESCAN_DEEP, PRESCAN_NUL };

/*
 * One pass over the raw body before cJSON sees it:
 *  - the deepest [ / { nesting, counted outside strings, stopping as soon as
 *    it exceeds max, so a hostile body never reaches cJSON's recursive
 *    descent past our own cap (reported first, as the more basic problem);
 *  - a NUL, raw or escaped as \u0000 inside a string: it ends the C string
 *    cJSON gives us, and the text after it would reach the provider (which
 *    parses the JSON itself) without ever being scanned.  Fail closed.
 */
static enum prescan_rc
prescan(const char *s, size_t len, unsigned max)
{
    unsigned depth = 0;
    bool nul = memchr(s, '\0', len) != NULL;

    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '"') {
            /* inside a string: jump from escape to escape */
            for (i = tg_json_next_special(s, i + 1, len); i < len && s[i] == '\\';
                 i = tg_json_next_special(s, i + 2, len)) {
                if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0)
                    nul = true;
            }
        } else if (c == '[' || c == '{') {
            if (++depth > max)
                return PRESCAN_DEEP;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return nul ? PRESCAN_NUL : PRESCAN_OK;
}

/* Same check on an already-parsed tree (capture readers hand us cJSON). */
static bool
tree_depth_ok(const cJSON *n, unsigned depth, unsigned max)
{
    if (n == NULL)
        return true;
    /* the type test inline: this walks every node of a decoder's tree */
    if ((n->type & 0xFF) == cJSON_Array || (n->type & 0xFF) == cJSON_Object) {
        if (depth + 1 > max)
            return false;
        for (const cJSON *c = n->child; c != NULL; c = c->next)
            if (!tree_depth_ok(c, depth + 1, max))
                return false;
    }
    return true;
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

/*
 * Everything the provider receives is indexed (fail closed): the walk
 * visits every value of the body, every key of every object (duplicates
 * included: cJSON keeps them as separate children, so the walk reads
 * children lists and rejects duplicates outright), and turns every string
 * into a part, except a short allowlist of structural fields below.
 * Known places keep their kinds (message content, names, tool arguments),
 * so the token estimate and the existing behaviour do not change for
 * ordinary bodies; everything else is TG_PART_OTHER.
 */
struct walker {
    struct parts_buf pb;
    struct tg_arena *a;
    struct tg_request *r;
    struct tg_err *err;
};

/* Keys whose string values are structure, not content: roles, part and
 * tool types, ids the provider generated, enum-like options.  A value is
 * skipped only while it also looks like an identifier (structural_shape),
 * so "role": "mail jane@example.com" is still scanned.  "model" is
 * replaced by the upstream model id before sending anyway. */
static const char *const structural_keys[] = {
    "detail", "finish_reason", "format", "id", "modalities", "model", "reasoning_effort",
    "role", "service_tier", "tool_call_id", "tool_choice", "type", "voice",
};

/* Keys of the chat completions API and JSON Schema, sorted bytewise (strcmp)
 * for bsearch.
 * Any other key is text the provider reads, indexed as an unredactable part
 * (a key cannot be masked in place). */
static const char *const known_keys[] = {
    "$defs", "$ref", "$schema", "additionalProperties", "allOf", "annotations", "anyOf",
    "arguments", "audio", "category", "const", "content", "data", "default", "definitions",
    "description", "detail", "enum", "examples", "feature", "file", "file_data", "file_id",
    "filename", "finish_reason", "format", "frequency_penalty", "function", "function_call",
    "functions", "id", "image_url", "include_usage", "input_audio", "items", "json_schema",
    "logit_bias", "logprobs", "maxItems", "maxLength", "max_completion_tokens",
    "max_tokens", "maximum", "messages", "metadata", "minItems", "minLength", "minimum",
    "modalities", "model", "n", "name", "not", "nullable", "oneOf", "parallel_tool_calls",
    "parameters", "pattern", "prediction", "presence_penalty", "properties",
    "reasoning_effort", "refusal", "required", "response_format", "role", "schema", "seed",
    "service_tier", "stop", "store", "stream", "stream_options", "strict", "temperature",
    "tenant", "text", "title", "tool_call_id", "tool_calls", "tool_choice", "tools",
    "top_logprobs", "top_p", "type", "url", "user", "voice", "web_search_options",
};

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool
key_is_known(const char *k)
{
    return bsearch(&k, known_keys, TG_ARRAY_LEN(known_keys), sizeof(known_keys[0]),
                   str_cmp) != NULL;
}

static bool
key_is_structural(const char *k)
{
    for (size_t i = 0; k != NULL && i < TG_ARRAY_LEN(structural_keys); i++)
        if (strcmp(k, structural_keys[i]) == 0)
            return true;
    return false;
}

/* 1..128 bytes of [A-Za-z0-9._:/-]: ids, enum values, model names. */
static bool
structural_shape(const char *s)
{
    size_t i = 0;
    for (; s[i] != '\0'; i++) {
        char c = s[i];
        if (i >= 128 || !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                          (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' ||
                          c == '/' || c == '-'))
            return false;
    }
    return i > 0;
}

static int
add_part(struct walker *w, cJSON *node, const char *text, size_t len, uint32_t msg,
         enum tg_part_kind kind, bool unredactable)
{
    struct parts_buf *pb = &w->pb;
    if (pb->n == pb->cap) {
        uint32_t ncap = pb->cap ? pb->cap * 2 : 16;
        if (pb->n >= TG_MAX_TEXT_PARTS)
            return tg_err_set(w->err, TG_ELIMIT, "request has more than %u text parts",
                              TG_MAX_TEXT_PARTS);
        if (ncap > TG_MAX_TEXT_PARTS)
            ncap = TG_MAX_TEXT_PARTS;
        struct tg_part *nv = tg_arena_calloc(w->a, ncap, sizeof(*nv));
        if (nv == NULL)
            return tg_err_set(w->err, TG_ENOMEM, "out of memory indexing the request");
        if (pb->n)
            memcpy(nv, pb->v, pb->n * sizeof(*nv));
        pb->v = nv;
        pb->cap = ncap;
    }
    struct tg_part *p = &pb->v[pb->n++];
    p->text = text;
    p->len = len;
    p->message = msg;
    p->kind = kind;
    /* a part that is not the node's own text cannot be redacted through it */
    p->node = unredactable ? NULL : node;
    p->unredactable = unredactable;
    return TG_OK;
}

/* An object key outside known_keys is text too (a free-form map's key). */
static int
add_key(struct walker *w, const cJSON *child, uint32_t msg)
{
    if (child->string == NULL || key_is_known(child->string))
        return TG_OK;
    return add_part(w, NULL, child->string, strlen(child->string), msg, TG_PART_OTHER, true);
}

/* ---- data URLs ------------------------------------------------------------ */

static int
b64_val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;   /* standard and URL-safe alphabets */
    if (c == '/' || c == '_') return 63;
    return -1;
}

/*
 * Decode base64 (either alphabet, optional '=' padding) into out (capacity
 * >= len/4*3+3).  Lenient (strict false): ASCII whitespace is ignored and
 * padding is optional, to decode whatever a provider might.  Strict: no
 * whitespace and whole 4-character groups, the test for "this really is
 * an opaque binary payload" before we decide not to scan it.  Returns the
 * decoded length, or -1 if s is not base64.  out may be NULL to validate.
 */
static long
b64_decode(const char *s, size_t len, unsigned char *out, bool strict)
{
    uint32_t acc = 0;
    unsigned bits = 0, npad = 0;
    size_t o = 0, i = 0, nc = 0;
    bool pad = false;
    for (; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            if (strict)
                return -1;
            continue;
        }
        nc++;
        if (c == '=') {
            pad = true;
            if (++npad > 2)
                return -1;
            continue;
        }
        int v = b64_val(c);
        if (v < 0 || pad)
            return -1;                      /* junk, or data after padding */
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out != NULL)
                out[o] = (unsigned char)(acc >> bits);
            o++;
        }
    }
    if (bits >= 6)
        return -1;                          /* a lone trailing sextet */
    if (strict && (nc == 0 || nc % 4 != 0))
        return -1;
    return (long)o;
}

static int
hexv(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool
starts_ci(const char *s, size_t n, const char *pre)
{
    size_t l = strlen(pre);
    return n >= l && strncasecmp(s, pre, l) == 0;
}

static bool
ends_ci(const char *s, size_t n, const char *suf)
{
    size_t l = strlen(suf);
    return n >= l && strncasecmp(s + n - l, suf, l) == 0;
}

enum media_class { MEDIA_TEXT, MEDIA_BINARY, MEDIA_UNKNOWN };

static enum media_class
media_class(const char *mt, size_t n)
{
    static const char *const textual[] = {
        "application/json", "application/xml", "application/javascript",
        "application/x-javascript", "application/ecmascript", "application/yaml",
        "application/x-yaml", "application/x-www-form-urlencoded", "application/csv",
        "application/x-ndjson", "application/sql", "application/graphql",
        "application/x-sh", "application/rtf", "message/rfc822",
    };
    if (n == 0 || starts_ci(mt, n, "text/") || ends_ci(mt, n, "+json") ||
        ends_ci(mt, n, "+xml") || ends_ci(mt, n, "+yaml"))
        return MEDIA_TEXT;                  /* RFC 2397: empty means text/plain */
    for (size_t i = 0; i < TG_ARRAY_LEN(textual); i++)
        if (n == strlen(textual[i]) && strncasecmp(mt, textual[i], n) == 0)
            return MEDIA_TEXT;
    if (starts_ci(mt, n, "image/") || starts_ci(mt, n, "audio/") || starts_ci(mt, n, "video/"))
        return MEDIA_BINARY;
    return MEDIA_UNKNOWN;
}

/* Text a person could have typed: valid UTF-8 with no NUL, DEL or C0
 * control but tab/LF/FF/CR.  Binary formats fail within a few bytes
 * (PDF's second line, PNG's \x89, a zip's \x03\x04). */
static bool
looks_textual(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c < 0x80) {
            if ((c < 0x20 && c != '\t' && c != '\n' && c != '\f' && c != '\r') || c == 0x7f)
                return false;
            continue;
        }
        size_t need = (c >= 0xC2 && c <= 0xDF) ? 1 : (c >= 0xE0 && c <= 0xEF) ? 2
                    : (c >= 0xF0 && c <= 0xF4) ? 3 : 0;
        if (need == 0 || i + need >= n)
            return false;
        for (size_t k = 1; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
        i += need;
    }
    return true;
}

/*
 * A `data:` URL (RFC 2397) anywhere in the body.  Issue 3 counted base64
 * payloads without decoding them; issue 7 needs their text scanned.  So:
 *   - image/audio/video base64: counted (token charge), not decoded;
 *   - textual media types (text/..., JSON, XML, ...) and percent-encoded
 *     payloads: decoded into the arena and indexed as an UNREDACTABLE part
 *     (masking decoded bytes cannot be written back into the base64), so a
 *     finding in it makes every PII-restricted candidate non-compliant,
 *     even under on_violation: redact;
 *   - any other media type: decoded and indexed if it is text, else counted
 *     as an opaque payload, which makes the request unscannable for
 *     PII-restricted candidates (we cannot vouch for a PDF or a zip).
 * Returns 1 when s is not a data URL we understand (the caller indexes the
 * raw string), TG_OK when handled, negative on error.
 */
static int
data_url(struct walker *w, const char *s, size_t len, uint32_t msg)
{
    if (!starts_ci(s, len, "data:"))
        return 1;
    const char *hdr = s + 5;
    const char *comma = memchr(hdr, ',', len - 5);
    if (comma == NULL)
        return 1;
    size_t hlen = (size_t)(comma - hdr);
    bool b64 = ends_ci(hdr, hlen, ";base64");
    const char *semi = memchr(hdr, ';', hlen);
    size_t mlen = semi != NULL ? (size_t)(semi - hdr) : hlen;
    const char *pl = comma + 1;
    size_t plen = len - (size_t)(pl - s);
    enum media_class mc = media_class(hdr, mlen);

    if (b64 && mc == MEDIA_BINARY) {
        if (b64_decode(pl, plen, NULL, true) < 0)
            return 1;                       /* not base64: scan it as the text it is */
        w->r->data_urls++;
        return TG_OK;
    }
    /* base64 shrinks by 3/4; percent-decoding never grows */
    unsigned char *buf = tg_arena_alloc(w->a, (b64 ? plen / 4 * 3 + 3 : plen) + 1);
    if (buf == NULL)
        return tg_err_set(w->err, TG_ENOMEM, "out of memory decoding a data URL");
    size_t n = 0;
    if (b64) {
        long d = b64_decode(pl, plen, buf, false);
        if (d < 0)
            return 1;
        n = (size_t)d;
    } else {
        for (size_t i = 0; i < plen; i++) {
            if (pl[i] == '%' && i + 2 < plen && hexv(pl[i + 1]) >= 0 && hexv(pl[i + 2]) >= 0) {
                buf[n++] = (unsigned char)(hexv(pl[i + 1]) * 16 + hexv(pl[i + 2]));
                i += 2;
            } else {
                buf[n++] = (unsigned char)pl[i];
            }
        }
    }
    buf[n] = '\0';
    if (mc != MEDIA_TEXT && !looks_textual(buf, n)) {
        w->r->data_urls++;
        w->r->opaque_payloads++;
        return TG_OK;
    }
    w->r->decoded_parts++;
    return add_part(w, NULL, (const char *)buf, n, msg, TG_PART_OTHER, true);
}

/* A string value at a content position: data URLs decoded, else as is. */
static int
add_string(struct walker *w, cJSON *node, uint32_t msg, enum tg_part_kind kind)
{
    size_t len = strlen(node->valuestring);
    if (len >= 5 && (node->valuestring[0] == 'd' || node->valuestring[0] == 'D')) {
        int rc = data_url(w, node->valuestring, len, msg);
        if (rc <= 0)
            return rc;
    }
    return add_part(w, node, node->valuestring, len, msg, kind, false);
}

/* ---- duplicate keys --------------------------------------------------------- */

static int
dup_error(struct walker *w, const char *k)
{
    /* Name the key only when it cannot carry personal data: errors reach
     * the client, the audit log and the logs. */
    bool safe = k != NULL && k[0] != '\0' && strlen(k) <= 32;
    for (const char *c = k; safe && *c; c++)
        safe = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
               (*c >= '0' && *c <= '9') || *c == '_' || *c == '$';
    if (safe)
        return tg_err_set(w->err, TG_EINVAL, "duplicate key '%s' in request body", k);
    return tg_err_set(w->err, TG_EINVAL, "duplicate key in request body");
}

/*
 * Reject an object with the same key twice: parsers disagree on which one
 * wins (cJSON's lookups take the first, Python's json the last), so what
 * we scanned might not be what the provider reads.  Many API gateways
 * reject such bodies too.
 */
static int
check_dup_keys(struct walker *w, const cJSON *obj)
{
    uint32_t n = 0;
    for (const cJSON *c = obj->child; c != NULL; c = c->next)
        n++;
    if (n < 2)
        return TG_OK;
    if (n <= 16) {
        for (const cJSON *c = obj->child; c != NULL; c = c->next)
            for (const cJSON *d = c->next; d != NULL; d = d->next)
                if (strcmp(c->string ? c->string : "", d->string ? d->string : "") == 0)
                    return dup_error(w, c->string);
        return TG_OK;
    }
    /* a big map (logit_bias, schema properties): sort, compare neighbours */
    const char **keys = tg_arena_alloc(w->a, n * sizeof(*keys));
    if (keys == NULL)
        return tg_err_set(w->err, TG_ENOMEM, "out of memory indexing the request");
    uint32_t i = 0;
    for (const cJSON *c = obj->child; c != NULL; c = c->next)
        keys[i++] = c->string ? c->string : "";
    qsort(keys, n, sizeof(*keys), str_cmp);
    for (i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return dup_error(w, keys[i]);
    return TG_OK;
}

/* ---- the walk ------------------------------------------------------------------ */

/*
 * Any value at an unknown or free-form position: every string is a part
 * (TG_PART_OTHER) unless it is a structural field's identifier-shaped
 * value; arrays' elements inherit the key (e.g. "modalities": ["text"]).
 */
static int
walk_any(struct walker *w, cJSON *n, uint32_t msg, const char *key, const char *parent)
{
    int rc;
    if (cJSON_IsString(n)) {
        if (key_is_structural(key) && structural_shape(n->valuestring))
            return TG_OK;
        /* input_audio.data is raw base64 audio: not text, like an image
         * data URL (not charged either, as before) — but only if it is
         * base64, else it is scanned as text. */
        if (key != NULL && parent != NULL && strcmp(key, "data") == 0 &&
            strcmp(parent, "input_audio") == 0 &&
            b64_decode(n->valuestring, strlen(n->valuestring), NULL, true) >= 0)
            return TG_OK;
        return add_string(w, n, msg, TG_PART_OTHER);
    }
    if (cJSON_IsArray(n)) {
        for (cJSON *c = n->child; c != NULL; c = c->next)
            if ((rc = walk_any(w, c, msg, key, parent)) != TG_OK)
                return rc;
        return TG_OK;
    }
    if (cJSON_IsObject(n)) {
        if ((rc = check_dup_keys(w, n)) != TG_OK)
            return rc;
        for (cJSON *c = n->child; c != NULL; c = c->next)
            if ((rc = add_key(w, c, msg)) != TG_OK ||
                (rc = walk_any(w, c, msg, c->string, key)) != TG_OK)
                return rc;
    }
    return TG_OK;                           /* numbers, booleans, null */
}

static int
walk_image_url(struct walker *w, cJSON *iu, uint32_t i)
{
    int rc;
    if (cJSON_IsString(iu))
        return add_string(w, iu, i, TG_PART_OTHER);
    if ((rc = check_dup_keys(w, iu)) != TG_OK)
        return rc;
    for (cJSON *c = iu->child; c != NULL; c = c->next) {
        if ((rc = add_key(w, c, i)) != TG_OK)
            return rc;
        /* a remote URL is text the provider reads (it may carry ids) */
        rc = strcmp(c->string, "url") == 0 ? add_string(w, c, i, TG_PART_OTHER)
                                           : walk_any(w, c, i, c->string, "image_url");
        if (rc != TG_OK)
            return rc;
    }
    return TG_OK;
}

static int
walk_content(struct walker *w, cJSON *content, uint32_t i)
{
    int rc;
    if (content == NULL || cJSON_IsNull(content))
        return TG_OK;                      /* assistant turns with tool_calls only */
    if (cJSON_IsString(content))
        return add_string(w, content, i, TG_PART_CONTENT);
    if (!cJSON_IsArray(content))
        return tg_err_set(w->err, TG_EINVAL,
                          "messages[%u].content must be a string or an array of parts", i);
    uint32_t j = 0;
    for (cJSON *part = content->child; part != NULL; part = part->next, j++) {
        if (!cJSON_IsObject(part))
            return tg_err_set(w->err, TG_EINVAL, "messages[%u].content[%u] must be an object",
                              i, j);
        if ((rc = check_dup_keys(w, part)) != TG_OK)
            return rc;
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        if (!cJSON_IsString(type))
            return tg_err_set(w->err, TG_EINVAL, "messages[%u].content[%u].type must be a string",
                              i, j);
        const char *textkey = NULL;
        bool image = false;
        if (strcmp(type->valuestring, "text") == 0 || strcmp(type->valuestring, "refusal") == 0) {
            textkey = type->valuestring[0] == 't' ? "text" : "refusal";
            if (!cJSON_IsString(cJSON_GetObjectItemCaseSensitive(part, textkey)))
                return tg_err_set(w->err, TG_EINVAL,
                                  "messages[%u].content[%u].%s must be a string", i, j, textkey);
        } else if (strcmp(type->valuestring, "image_url") == 0) {
            const cJSON *iu = cJSON_GetObjectItemCaseSensitive(part, "image_url");
            const cJSON *url = cJSON_IsObject(iu) ? cJSON_GetObjectItemCaseSensitive(iu, "url")
                                                  : (cJSON_IsString(iu) ? iu : NULL);
            if (!cJSON_IsString(url))
                return tg_err_set(w->err, TG_EINVAL,
                                  "messages[%u].content[%u].image_url.url must be a string", i, j);
            image = true;
        }
        /* Every other key and part type (file, input_audio, future ones)
         * goes through walk_any: its strings are indexed, its data URLs
         * decoded or counted. */
        for (cJSON *c = part->child; c != NULL; c = c->next) {
            if ((rc = add_key(w, c, i)) != TG_OK)
                return rc;
            if (textkey != NULL && strcmp(c->string, textkey) == 0)
                rc = add_string(w, c, i, TG_PART_CONTENT);
            else if (image && strcmp(c->string, "image_url") == 0)
                rc = walk_image_url(w, c, i);
            else
                rc = walk_any(w, c, i, c->string, NULL);
            if (rc != TG_OK)
                return rc;
        }
    }
    return TG_OK;
}

static int
walk_function(struct walker *w, cJSON *fn, uint32_t i, const char *where)
{
    int rc;
    if (!cJSON_IsObject(fn))
        return tg_err_set(w->err, TG_EINVAL, "messages[%u].%s must be an object", i, where);
    if ((rc = check_dup_keys(w, fn)) != TG_OK)
        return rc;
    for (cJSON *c = fn->child; c != NULL; c = c->next) {
        if ((rc = add_key(w, c, i)) != TG_OK)
            return rc;
        bool is_name = strcmp(c->string, "name") == 0;
        if (is_name || strcmp(c->string, "arguments") == 0) {
            if (cJSON_IsNull(c))
                continue;
            if (!cJSON_IsString(c))
                return tg_err_set(w->err, TG_EINVAL, "messages[%u].%s.%s must be a string",
                                  i, where, c->string);
            rc = add_string(w, c, i, is_name ? TG_PART_OTHER : TG_PART_TOOL_ARGS);
        } else {
            rc = walk_any(w, c, i, c->string, "function");
        }
        if (rc != TG_OK)
            return rc;
    }
    return TG_OK;
}

static int
walk_tool_calls(struct walker *w, cJSON *tcs, uint32_t i)
{
    int rc;
    if (!cJSON_IsArray(tcs))
        return tg_err_set(w->err, TG_EINVAL, "messages[%u].tool_calls must be an array", i);
    uint32_t k = 0;
    for (cJSON *tc = tcs->child; tc != NULL; tc = tc->next, k++) {
        if (!cJSON_IsObject(tc))
            return tg_err_set(w->err, TG_EINVAL, "messages[%u].tool_calls[%u] must be an object",
                              i, k);
        if ((rc = check_dup_keys(w, tc)) != TG_OK)
            return rc;
        for (cJSON *c = tc->child; c != NULL; c = c->next) {
            if ((rc = add_key(w, c, i)) != TG_OK)
                return rc;
            if (strcmp(c->string, "function") == 0) {
                char where[48];
                snprintf(where, sizeof(where), "tool_calls[%u].function", k);
                rc = walk_function(w, c, i, where);
            } else {
                rc = walk_any(w, c, i, c->string, "tool_calls");
            }
            if (rc != TG_OK)
                return rc;
        }
    }
    return TG_OK;
}

static int
walk_message(struct walker *w, cJSON *m, uint32_t i)
{
    int rc;
    if (!cJSON_IsObject(m))
        return tg_err_set(w->err, TG_EINVAL, "messages[%u] must be an object", i);
    if ((rc = check_dup_keys(w, m)) != TG_OK)
        return rc;
    const cJSON *role = cJSON_GetObjectItemCaseSensitive(m, "role");
    if (!cJSON_IsString(role) || role->valuestring[0] == '\0')
        return tg_err_set(w->err, TG_EINVAL, "messages[%u].role must be a non-empty string", i);
    /* The roles the Chat Completions API defines; anything else a provider
     * refuses or, worse, reads as one of them.  (The value is not echoed:
     * it is client text that could carry anything.) */
    if (strcmp(role->valuestring, "system") != 0 && strcmp(role->valuestring, "user") != 0 &&
        strcmp(role->valuestring, "assistant") != 0 && strcmp(role->valuestring, "tool") != 0 &&
        strcmp(role->valuestring, "developer") != 0 && strcmp(role->valuestring, "function") != 0)
        return tg_err_set(w->err, TG_EINVAL,
                          "messages[%u].role must be one of system, user, assistant, tool, developer, function", i);

    /* In document order, so parts follow what the provider reads. */
    for (cJSON *c = m->child; c != NULL; c = c->next) {
        const char *k = c->string;
        if ((rc = add_key(w, c, i)) != TG_OK)
            return rc;
        if (strcmp(k, "content") == 0) {
            rc = walk_content(w, c, i);
        } else if (strcmp(k, "name") == 0) {
            if (cJSON_IsNull(c))
                continue;
            if (!cJSON_IsString(c))
                return tg_err_set(w->err, TG_EINVAL, "messages[%u].name must be a string", i);
            rc = add_string(w, c, i, TG_PART_NAME);
        } else if (strcmp(k, "tool_calls") == 0) {
            if (cJSON_IsNull(c))
                continue;
            rc = walk_tool_calls(w, c, i);
        } else if (strcmp(k, "function_call") == 0) {
            if (cJSON_IsNull(c))
                continue;
            rc = walk_function(w, c, i, "function_call");
        } else {
            rc = walk_any(w, c, i, k, NULL);   /* role, tool_call_id, unknown fields */
        }
        if (rc != TG_OK)
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
    struct walker w = { .a = a, .r = &r, .err = err };
    int rc;

    memset(&r, 0, sizeof(r));
    r.max_tokens = -1;

    if (!cJSON_IsObject(body))
        return tg_err_set(err, TG_EINVAL, "request body must be a JSON object");
    /* before any lookup by name, so each name means one value */
    if ((rc = check_dup_keys(&w, body)) != TG_OK)
        return rc;

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
    for (cJSON *m = msgs->child; m != NULL; m = m->next, i++)
        if (i >= TG_MAX_MESSAGES)
            return tg_err_set(err, TG_ELIMIT, "request has more than %u messages",
                              TG_MAX_MESSAGES);
    /* The whole body, in document order: top-level fields (tools, user,
     * response_format, prediction, ...) are text the provider reads too. */
    for (cJSON *c = body->child; c != NULL; c = c->next) {
        if ((rc = add_key(&w, c, TG_PART_NO_MESSAGE)) != TG_OK)
            return rc;
        if (strcmp(c->string, "messages") == 0) {
            i = 0;
            for (cJSON *m = c->child; m != NULL; m = m->next, i++)
                if ((rc = walk_message(&w, m, i)) != TG_OK)
                    return rc;
        } else if ((rc = walk_any(&w, c, TG_PART_NO_MESSAGE, c->string, NULL)) != TG_OK) {
            return rc;
        }
    }
    r.nmessages = i;
    r.parts = w.pb.v;
    r.nparts = w.pb.n;
    for (uint32_t k = 0; k < w.pb.n; k++)
        r.text_bytes += w.pb.v[k].len;
    r.body = body;
    r.body_len = body_len;
    *out = r;
    return TG_OK;
}

typedef int (*index_fn)(cJSON *body, size_t body_len, struct tg_arena *a,
                        struct tg_request *out, struct tg_err *err);

static int
parse(const char *body, size_t len, struct tg_arena *a, struct tg_request *out,
      struct tg_err *err, index_fn index)
{
    memset(out, 0, sizeof(*out));
    out->max_tokens = -1;
    if (body == NULL)
        return tg_err_set(err, TG_EINVAL, "request body is missing");
    if (len > TG_MAX_BODY_BYTES)
        return tg_err_set(err, TG_ELIMIT, "request body is larger than %u bytes",
                          TG_MAX_BODY_BYTES);
    switch (prescan(body, len, TG_MAX_JSON_DEPTH)) {
    case PRESCAN_DEEP:
        return tg_err_set(err, TG_ELIMIT, "request JSON nests deeper than %u levels",
                          TG_MAX_JSON_DEPTH);
    case PRESCAN_NUL:
        return tg_err_set(err, TG_EINVAL,
                          "request body contains a NUL character (raw or \\u0000), which is not accepted");
    default:
        break;
    }
    cJSON *j = NULL;
    size_t off = 0;
    bool trailing = false;
    int rc = tg_json_text(body, len, TG_MAX_JSON_DEPTH, a, &j, &off, &trailing);
    if (rc == TG_ENOMEM)
        return tg_err_set(err, TG_ENOMEM, "out of memory parsing the request body");
    if (rc == TG_ELIMIT)
        return tg_err_set(err, TG_ELIMIT, "request JSON nests deeper than %u levels", TG_MAX_JSON_DEPTH);
    if (rc != TG_OK) {
        /* Strict RFC 8259 in valid UTF-8 (engine/json.h): invalid UTF-8
         * could hide an identifier from the scanner that a lenient
         * consumer downstream would still read. */
        if (tg_json_utf8_check(body, len) != len)
            return tg_err_set(err, TG_EINVAL, "request body is not valid UTF-8 (near byte %zu)",
                              tg_json_utf8_check(body, len));
        if (trailing)
            return tg_err_set(err, TG_EINVAL, "request body has trailing data after the JSON value");
        return tg_err_set(err, TG_EINVAL, "request body is not valid JSON (near byte %zu)", off);
    }
    /* The tree lives in the arena: nothing to free on failure. */
    rc = index(j, len, a, out, err);
    if (rc != TG_OK) {
        memset(out, 0, sizeof(*out));
        out->max_tokens = -1;
    }
    return rc;
}

int
tg_request_parse(const char *body, size_t len, struct tg_arena *a,
                 struct tg_request *out, struct tg_err *err)
{
    return parse(body, len, a, out, err, index_body);
}

static int
from_tree(cJSON *tree, size_t body_len, struct tg_arena *a, struct tg_request *out,
          struct tg_err *err, index_fn index)
{
    int rc;

    memset(out, 0, sizeof(*out));
    out->max_tokens = -1;
    if (tree == NULL)
        return tg_err_set(err, TG_EINVAL, "request body is missing");
    /* The checks parse() makes on the text, in its order, with its
     * messages: the size, then the depth (prescan() counts the brackets
     * the tree's containers print as).  No NUL check: the caller vouches
     * for that (request.h). */
    if (body_len > TG_MAX_BODY_BYTES)
        return tg_err_set(err, TG_ELIMIT, "request body is larger than %u bytes",
                          TG_MAX_BODY_BYTES);
    if (!tree_depth_ok(tree, 0, TG_MAX_JSON_DEPTH))
        return tg_err_set(err, TG_ELIMIT, "request JSON nests deeper than %u levels",
                          TG_MAX_JSON_DEPTH);
    rc = index(tree, body_len, a, out, err);
    if (rc != TG_OK) {
        memset(out, 0, sizeof(*out));
        out->max_tokens = -1;
    }
    return rc;
}

int
tg_request_from_tree(cJSON *tree, size_t body_len, struct tg_arena *a,
                     struct tg_request *out, struct tg_err *err)
{
    return from_tree(tree, body_len, a, out, err, index_body);
}

/* ---- embeddings -------------------------------------------------------------- */

/* A token array: every element a non-negative integer below 2^32 (token
 * ids of any tokenizer).  Returns the number of ids, or -1. */
static long
token_array_len(const cJSON *arr)
{
    long n = 0;
    for (const cJSON *c = arr->child; c != NULL; c = c->next, n++) {
        if (!cJSON_IsNumber(c))
            return -1;
        double v = c->valuedouble;
        if (!(v >= 0) || v != floor(v) || v > 4294967295.0)
            return -1;
    }
    return n;
}

/* One entry of `input`: TG_OK, a negative TG_E*, or 1 when c is neither a
 * string nor a non-empty token array. */
static int
embed_input(struct walker *w, cJSON *c, uint32_t idx)
{
    struct tg_request *r = w->r;
    int rc;
    if (cJSON_IsString(c)) {
        size_t before = w->pb.n;
        /* add_string, so a data URL in an input is decoded or counted as in chat */
        if ((rc = add_string(w, c, idx, TG_PART_CONTENT)) != TG_OK)
            return rc;
        uint64_t est = 0;
        for (size_t k = before; k < w->pb.n; k++)
            est += (w->pb.v[k].len + 3) / 4;
        if (est > r->max_input_tokens)
            r->max_input_tokens = est > UINT32_MAX ? UINT32_MAX : (uint32_t)est;
        return TG_OK;
    }
    long n = cJSON_IsArray(c) ? token_array_len(c) : -1;
    if (n <= 0)
        return 1;                           /* not an input: the caller says why */
    /* token ids: text we cannot read, so the scan cannot vouch for it */
    r->opaque_payloads++;
    r->token_ids += (uint64_t)n;
    if ((uint64_t)n > r->max_input_tokens)
        r->max_input_tokens = (uint64_t)n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
    return TG_OK;
}

#define TG__EMBED_INPUT_SHAPE \
    "input must be a string, an array of strings, an array of token ids or an array of token arrays"

static int
walk_embedding_input(struct walker *w, cJSON *in)
{
    int rc;
    if (cJSON_IsString(in)) {
        w->r->ninputs = 1;
        return embed_input(w, in, 0);
    }
    if (!cJSON_IsArray(in) || in->child == NULL)
        return tg_err_set(w->err, TG_EINVAL, TG__EMBED_INPUT_SHAPE " (non-empty)");
    if (cJSON_IsNumber(in->child)) {
        /* one token array */
        w->r->ninputs = 1;
        if ((rc = embed_input(w, in, 0)) == 1)
            return tg_err_set(w->err, TG_EINVAL,
                              "input: a token array must hold non-negative integers only");
        return rc;
    }
    uint32_t i = 0;
    bool strings = cJSON_IsString(in->child);
    for (cJSON *c = in->child; c != NULL; c = c->next, i++) {
        if (i >= TG_MAX_EMBEDDING_INPUTS)
            return tg_err_set(w->err, TG_ELIMIT, "input has more than %u entries",
                              TG_MAX_EMBEDDING_INPUTS);
        /* one shape per request, as the API defines it */
        if (cJSON_IsString(c) != strings)
            return tg_err_set(w->err, TG_EINVAL, TG__EMBED_INPUT_SHAPE " (input[%u] differs)", i);
        if ((rc = embed_input(w, c, i)) == 1)
            return tg_err_set(w->err, TG_EINVAL, TG__EMBED_INPUT_SHAPE " (input[%u])", i);
        if (rc != TG_OK)
            return rc;
    }
    w->r->ninputs = i;
    return TG_OK;
}

static int
index_embedding(cJSON *body, size_t body_len, struct tg_arena *a, struct tg_request *out,
                struct tg_err *err)
{
    struct tg_request r;
    struct walker w = { .a = a, .r = &r, .err = err };
    int rc;

    memset(&r, 0, sizeof(r));
    r.kind = TG_REQUEST_EMBEDDING;
    r.max_tokens = 0;   /* no output tokens: the cost is the input's alone */

    if (!cJSON_IsObject(body))
        return tg_err_set(err, TG_EINVAL, "request body must be a JSON object");
    if ((rc = check_dup_keys(&w, body)) != TG_OK)
        return rc;
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(body, "model");
    if (model != NULL && !cJSON_IsNull(model)) {
        if (!cJSON_IsString(model))
            return tg_err_set(err, TG_EINVAL, "model must be a string");
        r.model = model->valuestring;
    }
    const cJSON *ef = cJSON_GetObjectItemCaseSensitive(body, "encoding_format");
    if (ef != NULL && !cJSON_IsNull(ef) &&
        !(cJSON_IsString(ef) && (strcmp(ef->valuestring, "float") == 0 ||
                                 strcmp(ef->valuestring, "base64") == 0)))
        return tg_err_set(err, TG_EINVAL, "encoding_format must be \"float\" or \"base64\"");
    int64_t dims = -1;
    if ((rc = get_count(body, "dimensions", &dims, err)) != TG_OK)
        return rc;
    if (dims == 0)
        return tg_err_set(err, TG_EINVAL, "dimensions must be a positive integer");
    const cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    if (meta != NULL && !cJSON_IsNull(meta)) {
        if (!cJSON_IsObject(meta))
            return tg_err_set(err, TG_EINVAL, "metadata must be an object");
        if ((rc = get_meta(meta, "tenant", &r.meta_tenant, err)) != TG_OK ||
            (rc = get_meta(meta, "feature", &r.meta_feature, err)) != TG_OK ||
            (rc = get_meta(meta, "category", &r.meta_category, err)) != TG_OK)
            return rc;
    }
    cJSON *in = cJSON_GetObjectItemCaseSensitive(body, "input");
    if (in == NULL)
        return tg_err_set(err, TG_EINVAL, "input is required");

    /* The whole body in document order, as for chat: `user`, metadata and
     * unknown fields are text the provider reads too. */
    for (cJSON *c = body->child; c != NULL; c = c->next) {
        const char *k = c->string;
        if (strcmp(k, "input") == 0)
            rc = walk_embedding_input(&w, c);
        else if (strcmp(k, "dimensions") == 0 || strcmp(k, "encoding_format") == 0)
            rc = TG_OK;                         /* checked above: a number, an enum */
        else if ((rc = add_key(&w, c, TG_PART_NO_MESSAGE)) == TG_OK)
            rc = walk_any(&w, c, TG_PART_NO_MESSAGE, k, NULL);
        if (rc != TG_OK)
            return rc;
    }
    r.parts = w.pb.v;
    r.nparts = w.pb.n;
    for (uint32_t k = 0; k < w.pb.n; k++)
        r.text_bytes += w.pb.v[k].len;
    r.body = body;
    r.body_len = body_len;
    *out = r;
    return TG_OK;
}

int
tg_request_parse_embedding(const char *body, size_t len, struct tg_arena *a,
                           struct tg_request *out, struct tg_err *err)
{
    return parse(body, len, a, out, err, index_embedding);
}

int
tg_request_embedding_from_tree(cJSON *tree, size_t body_len, struct tg_arena *a,
                               struct tg_request *out, struct tg_err *err)
{
    return from_tree(tree, body_len, a, out, err, index_embedding);
}

void
tg_request_dispose(struct tg_request *r)
{
    if (r == NULL)
        return;
    r->body = NULL;   /* the arena's */
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
    uint64_t t = r->kind == TG_REQUEST_EMBEDDING ? r->token_ids : 3;   /* no reply to prime */
    for (uint32_t i = 0; i < r->nparts; i++)
        t += (r->parts[i].len + 3) / 4;
    t += 4ull * r->nmessages;
    t += (uint64_t)TG__IMAGE_TOKENS * r->data_urls;
    return t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
}
