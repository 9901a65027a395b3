/*
 * responses.c — OpenAI Responses <-> canonical (decode, answer, stream).
 *
 * decode: a POST /v1/responses body -> a chat completions body.  `input`
 * (a string or items) becomes messages: message items keep their role
 * (developer -> system), function_call / custom_tool_call items are grouped
 * into one assistant message with tool_calls, *_output items become tool
 * messages; `instructions` is the first system message.  Function tools
 * map one to one; a custom tool becomes a function taking one string
 * argument `input`, and its name is remembered so that answers come back
 * as custom_tool_call items.  What a chat model cannot take is dropped or
 * refused by the rule of dialect.h; docs/dialects.md lists each field.
 *
 * encode_answer / stream: chat.completion (chunks) -> a Response object
 * and the Responses event stream (response.created ... response.completed),
 * with the shapes of openai/openai-openapi.
 *
 * decode builds the canonical body as a tree in the request's arena
 * (strings shared with the client's parse tree, not copied), prints it
 * once, and hands text and tree on (decode_tree), so the engine indexes
 * the tree rather than parsing the text a second time.  Answers and
 * events are written by hand into a bounded buffer, never built as a
 * cJSON tree: they run on every answer and every streamed token.
 */
#include "adapters/dialects/dialect_int.h"
#include "adapters/providers/sse.h"
#include "engine/json.h"
#include "engine/limits.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <string.h>

/* ---- a bounded, growable JSON writer ------------------------------------ */

struct jb {
    char  *p;
    size_t len, cap, max;
    int    err;          /* sticky: TG_ENOMEM or TG_ELIMIT; later writes are no-ops */
};

static void
jb_init(struct jb *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

static void
jb_free(struct jb *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

static bool
jb_reserve(struct jb *b, size_t n)
{
    size_t nc;
    char *np;

    if (b->err)
        return false;
    if (n > b->max - b->len) {
        b->err = TG_ELIMIT;
        return false;
    }
    if (b->len + n + 1 <= b->cap)
        return true;
    nc = b->cap ? b->cap : 1024;
    while (nc < b->len + n + 1)
        nc *= 2;
    if (nc > b->max + 1)
        nc = b->max + 1;
    if ((np = realloc(b->p, nc)) == NULL) {
        b->err = TG_ENOMEM;
        return false;
    }
    b->p = np;
    b->cap = nc;
    return true;
}

/* Most writes are a few bytes into room already there: that path is a
 * compare and a copy, the growth path stays out of line. */
static inline void
jb_raw(struct jb *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap && !jb_reserve(b, n))
        return;
    if (b->err)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

/* JB takes string literals only (sizeof); jb_cstr any NUL-terminated text. */
#define JB(b, lit) jb_raw((b), "" lit "", sizeof(lit) - 1)

static void
jb_cstr(struct jb *b, const char *s)
{
    jb_raw(b, s, strlen(s));
}

/* Offset of the next byte at or after i that JSON must escape ('"', '\\',
 * a control), n if none; 16 bytes per step where SSE2 is there. */
static size_t
next_escape(const char *s, size_t i, size_t n)
{
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, c1f), c1f);   /* v <= 0x1f, unsigned */
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(ctl, _mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs))));
        if (m != 0)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    /* the tail (and short keys): one table lookup per byte */
    while (i < n && !tg__dialect_json_esc[(unsigned char)s[i]])
        i++;
    return i;
}

/* The contents of a JSON string (no quotes): bytes other than '"', '\\'
 * and controls are copied as they are, in runs. */
static void
jb_esc(struct jb *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run;

    while (i < n) {
        run = next_escape(s, i, n);
        if (run > i)
            jb_raw(b, s + i, run - i);
        if (run >= n)
            break;
        unsigned char c = (unsigned char)s[run];
        switch (c) {
        case '"':  JB(b, "\\\""); break;
        case '\\': JB(b, "\\\\"); break;
        case '\n': JB(b, "\\n"); break;
        case '\r': JB(b, "\\r"); break;
        case '\t': JB(b, "\\t"); break;
        case '\b': JB(b, "\\b"); break;
        case '\f': JB(b, "\\f"); break;
        default: {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            jb_raw(b, u, 6);
        }
        }
        i = run + 1;
    }
}

static void
jb_strn(struct jb *b, const char *s, size_t n)
{
    /* Most strings (keys, ids, prose) need no escape: one scan, one copy. */
    if (next_escape(s, 0, n) == n) {
        if (b->err || (b->len + n + 3 > b->cap && !jb_reserve(b, n + 2)))
            return;
        b->p[b->len] = '"';
        memcpy(b->p + b->len + 1, s, n);
        b->p[b->len + n + 1] = '"';
        b->len += n + 2;
        b->p[b->len] = '\0';
        return;
    }
    JB(b, "\"");
    jb_esc(b, s, n);
    JB(b, "\"");
}

/* A quoted string, or null for NULL. */
static void
jb_str(struct jb *b, const char *s)
{
    if (s == NULL)
        JB(b, "null");
    else
        jb_strn(b, s, strlen(s));
}

static void
jb_int(struct jb *b, int64_t v)
{
    char t[TG__DIALECT_INT_CHARS], *q = tg__dialect_fmt_int(t, v);
    jb_raw(b, q, (size_t)(t + sizeof(t) - q));
}

/* A number as cJSON prints it: integers exactly, others with the shortest
 * of 15 or 17 significant digits that reads back the same. */
static void
jb_num(struct jb *b, double d)
{
    char t[64];
    int n;

    if (!isfinite(d)) {
        JB(b, "null");
        return;
    }
    if (d == floor(d) && fabs(d) < 1e15) {
        /* what "%.0f" prints, without the printf machinery */
        if (d == 0 && signbit(d))
            JB(b, "-0");
        else
            jb_int(b, (int64_t)d);
        return;
    } else {
        n = snprintf(t, sizeof(t), "%1.15g", d);
        if (strtod(t, NULL) != d)
            n = snprintf(t, sizeof(t), "%1.17g", d);
    }
    jb_raw(b, t, (size_t)n);
}

/* Any parsed value, verbatim, as cJSON prints it.  Recursion is bounded by
 * the parser's depth cap (TG_MAX_JSON_DEPTH).  Every canonical body is
 * printed by this, so it switches on the type once instead of asking
 * cJSON_Is* (library calls) in turn. */
static void
jb_value(struct jb *b, const cJSON *v)
{
    const cJSON *c;

    if (v == NULL) {
        JB(b, "null");
        return;
    }
    switch (v->type & 0xFF) {
    case cJSON_False:
        JB(b, "false");
        break;
    case cJSON_True:
        JB(b, "true");
        break;
    case cJSON_Number:
        jb_num(b, v->valuedouble);
        break;
    case cJSON_String:
        jb_str(b, v->valuestring);
        break;
    case cJSON_Array:
        JB(b, "[");
        for (c = v->child; c != NULL; c = c->next) {
            jb_value(b, c);
            if (c->next != NULL)
                JB(b, ",");
        }
        JB(b, "]");
        break;
    case cJSON_Object:
        JB(b, "{");
        for (c = v->child; c != NULL; c = c->next) {
            const char *k = c->string ? c->string : "";
            size_t kn = strlen(k), sep = c != v->child;
            /* `,"key":` in one write: keys are names, they rarely need escapes */
            if (next_escape(k, 0, kn) == kn && !b->err &&
                (b->len + kn + 4 + 1 <= b->cap || jb_reserve(b, kn + 4))) {
                char *o = b->p + b->len;
                o[0] = ',';
                o[sep] = '"';
                memcpy(o + sep + 1, k, kn);
                o[sep + 1 + kn] = '"';
                o[sep + 2 + kn] = ':';
                b->len += sep + 3 + kn;
                b->p[b->len] = '\0';
            } else {
                if (sep)
                    JB(b, ",");
                jb_strn(b, k, kn);
                JB(b, ":");
            }
            jb_value(b, c);
        }
        JB(b, "}");
        break;
    default:                       /* null, and anything a parse cannot make */
        JB(b, "null");
    }
}

/* ---- small helpers ------------------------------------------------------ */

static const cJSON *
get(const cJSON *o, const char *k)
{
    return tg__dialect_get(o, k);
}

static bool
present(const cJSON *n)
{
    return n != NULL && !cJSON_IsNull(n);
}

static const char *
str_or(const cJSON *n, const char *dflt)
{
    return cJSON_IsString(n) ? n->valuestring : dflt;
}

/* A type name safe to quote in an error (errors reach logs and the audit
 * log, so never a value that could be request text). */
static const char *
safe_name(const char *s)
{
    size_t i = 0;
    for (; s != NULL && s[i] != '\0'; i++) {
        char c = s[i];
        /* the API's type and key names are lower-case snake case */
        if (i >= 40 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return "(unnamed)";
    }
    return i > 0 ? s : "(unnamed)";
}

static bool
streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/*
 * Reject an object with a key twice: we read the first, another parser
 * the last, so what we scan and send could differ from what the client
 * meant.  Only the objects this file interprets are checked here; values
 * copied verbatim are checked by tg_request_parse on the canonical body.
 */
static int
check_dups(const cJSON *o, const char *where, struct tg_err *err)
{
    uint32_t n = 0;
    for (const cJSON *c = o->child; c != NULL; c = c->next)
        n++;
    if (n < 2)
        return TG_OK;
    if (n > 64)   /* request objects of this API have far fewer members */
        return tg_err_set(err, TG_EINVAL, "%s has too many members", where);
    for (const cJSON *c = o->child; c != NULL; c = c->next)
        for (const cJSON *d = c->next; d != NULL; d = d->next)
            if (strcmp(c->string ? c->string : "", d->string ? d->string : "") == 0)
                return tg_err_set(err, TG_EINVAL, "duplicate key '%s' in %s",
                                  safe_name(c->string), where);
    return TG_OK;
}

/* ---- decode: Responses request -> canonical chat body -------------------- */

/* A function of a tool namespace, sent to the chat model as `flat`. */
struct resp_ns_fn {
    const char *flat, *ns, *name;
};

/* What the encoders need from the request (ctx->priv, in the arena). */
struct resp_priv {
    const char **custom;     /* names of custom tools (answers -> custom_tool_call) */
    uint32_t     ncustom;
    struct resp_ns_fn *nsfn; /* namespaced functions (answers carry `namespace`) */
    uint32_t     nnsfn;
    const cJSON *root;       /* the request as parsed (arena): what a Response echoes,
                                serialized only when an answer is encoded */
};

/*
 * The canonical body is built as a tree in the request's arena (the shape
 * tg_json_parse gives), printed once as the canonical text, and handed to
 * the engine with it (decode_tree): the engine indexes the tree instead of
 * parsing the text again.  Strings are the client's own (its parse tree
 * lives in the same arena), not copies.
 */
struct dec {
    struct tg__jt     t;
    struct jb         tmp;
    struct tg_arena  *a;
    struct tg_err    *err;
    struct resp_priv *pv;
    cJSON            *root;       /* the canonical body */
    cJSON            *msgs;       /* its messages */
    cJSON            *tools;      /* its tools, once one is written */
    cJSON            *open;       /* an assistant message tool calls may still join */
    cJSON            *open_tcs;   /* its tool_calls, once one joined */
    cJSON            *deferred;   /* image/file parts of tool outputs, sent as a user message */
    uint32_t          nmsgs;
    const char      **names;      /* tool names written, for the uniqueness check */
    uint32_t          nnames;
};

#define HOSTED_N 19
/* Tool types OpenAI (or the client's OpenAI-defined runtime) executes.  A
 * chat model cannot run them, so they are dropped; their definitions carry
 * no request text a chat model would read. */
static const char *const hosted_tools[HOSTED_N] = {
    "apply_patch", "code_interpreter", "computer", "computer_use", "computer_use_preview",
    "file_search", "image_generation", "local_shell", "mcp", "programmatic_tool_calling",
    "shell", "tool_search", "web_search", "web_search_2025_08_26", "web_search_preview",
    "web_search_preview_2025_03_11", "container", "code_execution", "web_fetch",
};

static bool
is_hosted(const char *t)
{
    for (unsigned i = 0; i < HOSTED_N; i++)
        if (strcmp(t, hosted_tools[i]) == 0)
            return true;
    return false;
}

static void
close_open(struct dec *d)
{
    d->open = NULL;
    d->open_tcs = NULL;
}

static cJSON *
msg_start(struct dec *d, const char *role)
{
    cJSON *m = tg__jt_obj(&d->t);
    d->nmsgs++;
    tg__jt_add(&d->t, d->msgs, NULL, m);
    tg__jt_add(&d->t, m, "role", tg__jt_str(&d->t, role));
    return m;
}

/* Images and files a tool returned: chat tool messages hold text only, so
 * they follow the run of tool messages as one user message. */
static void
flush_deferred(struct dec *d)
{
    if (d->deferred == NULL)
        return;
    tg__jt_add(&d->t, msg_start(d, "user"), "content", d->deferred);
    d->deferred = NULL;
}

enum part_kind { PART_TEXT = 0, PART_MEDIA = 1 };

/*
 * Check one content part; say whether it is text (input_text, output_text,
 * refusal: *text set) or media (input_image, input_file).
 */
static int
part_check(const cJSON *p, const char *where, uint32_t j, enum part_kind *kind,
           const char **text, struct tg_err *err)
{
    const cJSON *t;
    int rc;

    if (!cJSON_IsObject(p))
        return tg_err_set(err, TG_EINVAL, "%s[%u] must be an object", where, j);
    if ((rc = check_dups(p, "a content part", err)) != TG_OK)
        return rc;
    t = get(p, "type");
    if (!cJSON_IsString(t))
        return tg_err_set(err, TG_EINVAL, "%s[%u].type must be a string", where, j);
    if (streq(t->valuestring, "input_text") || streq(t->valuestring, "output_text") ||
        streq(t->valuestring, "refusal")) {
        const char *key = t->valuestring[0] == 'r' ? "refusal" : "text";
        const cJSON *s = get(p, key);
        if (!cJSON_IsString(s))
            return tg_err_set(err, TG_EINVAL, "%s[%u].%s must be a string", where, j, key);
        *kind = PART_TEXT;
        *text = s->valuestring;
        return TG_OK;
    }
    if (streq(t->valuestring, "input_image")) {
        if (!cJSON_IsString(get(p, "image_url")))
            return tg_err_set(err, TG_EINVAL,
                              "%s[%u]: input_image needs image_url (a file_id names a file "
                              "stored by OpenAI, which a chat model cannot read)", where, j);
        *kind = PART_MEDIA;
        return TG_OK;
    }
    if (streq(t->valuestring, "input_file")) {
        if (present(get(p, "file_url")))
            return tg_err_set(err, TG_EINVAL,
                              "%s[%u]: input_file with file_url is not supported (chat models "
                              "take file_data); send the file's content", where, j);
        if (!cJSON_IsString(get(p, "file_data")) && !cJSON_IsString(get(p, "file_id")))
            return tg_err_set(err, TG_EINVAL, "%s[%u]: input_file needs file_data", where, j);
        *kind = PART_MEDIA;
        return TG_OK;
    }
    return tg_err_set(err, TG_EINVAL, "%s[%u]: content type '%s' is not supported", where, j,
                      safe_name(t->valuestring));
}

/* A checked media part as a chat content part. */
static cJSON *
media_part(struct dec *d, const cJSON *p)
{
    struct tg__jt *t = &d->t;
    const cJSON *ty = get(p, "type");
    cJSON *o = tg__jt_obj(t), *in = tg__jt_obj(t);

    if (streq(ty->valuestring, "input_image")) {
        const char *detail = str_or(get(p, "detail"), NULL);
        tg__jt_add(t, o, "type", tg__jt_str(t, "image_url"));
        tg__jt_add(t, o, "image_url", in);
        tg__jt_add(t, in, "url", tg__jt_str(t, get(p, "image_url")->valuestring));
        /* chat knows auto/low/high; "original" (no downscaling) is closest to high */
        if (detail != NULL)
            tg__jt_add(t, in, "detail", tg__jt_str(t, streq(detail, "original") ? "high" : detail));
    } else {
        static const char *const keys[] = { "file_data", "file_id", "filename" };
        tg__jt_add(t, o, "type", tg__jt_str(t, "file"));
        tg__jt_add(t, o, "file", in);
        for (unsigned k = 0; k < 3; k++) {
            const cJSON *v = get(p, keys[k]);
            if (cJSON_IsString(v))
                tg__jt_add(t, in, keys[k], tg__jt_str(t, v->valuestring));
        }
    }
    return o;
}

/* The text of a part part_check passed, NULL for media. */
static const char *
part_text(const cJSON *p)
{
    const char *ty = get(p, "type")->valuestring;
    if (ty[0] == 'r')
        return get(p, "refusal")->valuestring;
    if (streq(ty, "input_text") || streq(ty, "output_text"))
        return get(p, "text")->valuestring;
    return NULL;
}

/* The texts of checked parts joined, n bytes in all: a chat model reads
 * them as one text anyway. */
static cJSON *
joined(struct dec *d, const cJSON *first, size_t n)
{
    char *s = d->t.oom ? NULL : tg_arena_alloc(d->a, n + 1), *o = s;
    if (s == NULL) {
        d->t.oom = true;
        return NULL;
    }
    for (const cJSON *p = first; p != NULL; p = p->next) {
        const char *x = part_text(p);
        if (x != NULL) {
            size_t l = strlen(x);
            memcpy(o, x, l);
            o += l;
        }
    }
    *o = '\0';
    return tg__jt_str(&d->t, s);
}

/*
 * A message's content.  Text-only content is joined into one string (chat
 * providers that take no part arrays still read it; the parts of a
 * Responses message are read as one text anyway); content with images or
 * files stays an array of chat parts.
 */
static int
write_content(struct dec *d, cJSON *m, const cJSON *content, const char *where)
{
    struct tg__jt *t = &d->t;
    const cJSON *p;
    bool media = false;
    size_t n = 0;
    uint32_t j = 0;
    cJSON *arr;
    int rc;

    if (cJSON_IsString(content)) {
        tg__jt_add(t, m, "content", tg__jt_str(t, content->valuestring));
        return TG_OK;
    }
    if (!cJSON_IsArray(content))
        return tg_err_set(d->err, TG_EINVAL, "%s must be a string or an array of parts", where);
    for (p = content->child; p != NULL; p = p->next, j++) {
        enum part_kind k = PART_TEXT;
        const char *x = NULL;
        if ((rc = part_check(p, where, j, &k, &x, d->err)) != TG_OK)
            return rc;
        media |= k == PART_MEDIA;
        if (x != NULL)
            n += strlen(x);
    }
    if (!media) {
        tg__jt_add(t, m, "content", joined(d, content->child, n));
        return TG_OK;
    }
    tg__jt_add(t, m, "content", arr = tg__jt_arr(t));
    for (p = content->child; p != NULL; p = p->next) {
        const char *x = part_text(p);
        if (x != NULL) {
            cJSON *o = tg__jt_obj(t);
            tg__jt_add(t, o, "type", tg__jt_str(t, "text"));
            tg__jt_add(t, o, "text", tg__jt_str(t, x));
            tg__jt_add(t, arr, NULL, o);
        } else {
            tg__jt_add(t, arr, NULL, media_part(d, p));
        }
    }
    return TG_OK;
}

/* "input[<i>]<suffix>" for error messages, without printf (every message
 * item formats one). */
static void
where_at(char buf[48], uint32_t i, const char *suffix)
{
    char t[TG__DIALECT_INT_CHARS], *q = tg__dialect_fmt_int(t, i);
    size_t nq = (size_t)(t + sizeof(t) - q), ns = strlen(suffix);
    memcpy(buf, "input[", 6);
    memcpy(buf + 6, q, nq);
    buf[6 + nq] = ']';
    memcpy(buf + 7 + nq, suffix, ns + 1);   /* 7 + 10 digits + a short suffix < 48 */
}

static int
dec_message(struct dec *d, const cJSON *it, uint32_t i)
{
    const cJSON *role = get(it, "role");
    char where[48];
    const char *r;
    cJSON *m;
    int rc;

    if (!cJSON_IsString(role))
        return tg_err_set(d->err, TG_EINVAL, "input[%u].role must be a string", i);
    r = role->valuestring;
    if (!streq(r, "user") && !streq(r, "assistant") && !streq(r, "system") &&
        !streq(r, "developer"))
        return tg_err_set(d->err, TG_EINVAL,
                          "input[%u].role must be user, assistant, system or developer", i);
    close_open(d);
    flush_deferred(d);
    /* developer is OpenAI's newer name for system; most chat providers only know system */
    m = msg_start(d, streq(r, "developer") ? "system" : r);
    where_at(where, i, ".content");
    if ((rc = write_content(d, m, get(it, "content"), where)) != TG_OK)
        return rc;
    if (streq(r, "assistant"))
        d->open = m;   /* following function calls join this turn */
    return TG_OK;
}

/* function_call / custom_tool_call -> one tool_calls[] entry. */
static int
dec_call(struct dec *d, const cJSON *it, uint32_t i, bool custom)
{
    struct tg__jt *t = &d->t;
    const cJSON *call_id = get(it, "call_id"), *name = get(it, "name");
    const cJSON *args = get(it, custom ? "input" : "arguments"), *ns;
    cJSON *tc, *fn, *a;
    const char *nm;

    if (!cJSON_IsString(call_id) || call_id->valuestring[0] == '\0')
        return tg_err_set(d->err, TG_EINVAL, "input[%u].call_id must be a non-empty string", i);
    if (!cJSON_IsString(name))
        return tg_err_set(d->err, TG_EINVAL, "input[%u].name must be a string", i);
    if (!cJSON_IsString(args))
        return tg_err_set(d->err, TG_EINVAL, "input[%u].%s must be a string", i,
                          custom ? "input" : "arguments");
    ns = get(it, "namespace");
    if (present(ns) && !cJSON_IsString(ns))
        return tg_err_set(d->err, TG_EINVAL, "input[%u].namespace must be a string", i);
    if (d->open == NULL) {
        flush_deferred(d);
        d->open = msg_start(d, "assistant");
        tg__jt_add(t, d->open, "content", tg__jt_null(t));
    }
    if (d->open_tcs == NULL)
        tg__jt_add(t, d->open, "tool_calls", d->open_tcs = tg__jt_arr(t));
    nm = name->valuestring;
    /* the name its namespace's function was sent under (dec_one_tool) */
    if (cJSON_IsString(ns) &&
        (nm = tg_arena_sprintf(d->a, "%s__%s", ns->valuestring, name->valuestring)) == NULL)
        return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding the request");
    tc = tg__jt_obj(t);
    fn = tg__jt_obj(t);
    tg__jt_add(t, d->open_tcs, NULL, tc);
    tg__jt_add(t, tc, "id", tg__jt_str(t, call_id->valuestring));
    tg__jt_add(t, tc, "type", tg__jt_str(t, "function"));
    tg__jt_add(t, tc, "function", fn);
    tg__jt_add(t, fn, "name", tg__jt_str(t, nm));
    if (custom) {
        /* the custom tool's free-form input as the one argument of its function */
        d->tmp.len = 0;
        JB(&d->tmp, "{\"input\":");
        jb_str(&d->tmp, args->valuestring);
        JB(&d->tmp, "}");
        if (d->tmp.err)
            return tg_err_set(d->err, d->tmp.err, "custom tool input too large");
        a = tg__jt_strn(t, d->tmp.p, d->tmp.len);
    } else {
        a = tg__jt_str(t, args->valuestring);
    }
    tg__jt_add(t, fn, "arguments", a);
    return TG_OK;
}

/* function_call_output / custom_tool_call_output -> a tool message. */
static int
dec_output(struct dec *d, const cJSON *it, uint32_t i)
{
    struct tg__jt *t = &d->t;
    const cJSON *call_id = get(it, "call_id"), *out = get(it, "output"), *p;
    char where[48];
    uint32_t j = 0;
    size_t n = 0;
    cJSON *m;
    int rc;

    if (!cJSON_IsString(call_id) || call_id->valuestring[0] == '\0')
        return tg_err_set(d->err, TG_EINVAL, "input[%u].call_id must be a non-empty string", i);
    where_at(where, i, ".output");
    if (!cJSON_IsString(out) && !cJSON_IsArray(out))
        return tg_err_set(d->err, TG_EINVAL, "%s must be a string or an array of parts", where);
    for (p = cJSON_IsArray(out) ? out->child : NULL; p != NULL; p = p->next, j++) {
        enum part_kind k = PART_TEXT;
        const char *x = NULL;
        if ((rc = part_check(p, where, j, &k, &x, d->err)) != TG_OK)
            return rc;
        if (x != NULL)
            n += strlen(x);
    }
    close_open(d);
    m = msg_start(d, "tool");
    tg__jt_add(t, m, "tool_call_id", tg__jt_str(t, call_id->valuestring));
    if (cJSON_IsString(out)) {
        tg__jt_add(t, m, "content", tg__jt_str(t, out->valuestring));
        return TG_OK;
    }
    tg__jt_add(t, m, "content", joined(d, out->child, n));
    for (p = out->child; p != NULL; p = p->next) {
        if (part_text(p) != NULL)
            continue;
        if (d->deferred == NULL)
            d->deferred = tg__jt_arr(t);
        tg__jt_add(t, d->deferred, NULL, media_part(d, p));
    }
    return TG_OK;
}

static int
dec_input(struct dec *d, const cJSON *input)
{
    uint32_t i = 0;
    int rc;

    if (cJSON_IsString(input)) {
        close_open(d);
        tg__jt_add(&d->t, msg_start(d, "user"), "content", tg__jt_str(&d->t, input->valuestring));
        return TG_OK;
    }
    if (!cJSON_IsArray(input))
        return tg_err_set(d->err, TG_EINVAL, "input must be a string or an array of items");
    for (const cJSON *it = input->child; it != NULL; it = it->next, i++) {
        const cJSON *type, *role;
        const char *t;
        if (i >= TG_MAX_MESSAGES)
            return tg_err_set(d->err, TG_ELIMIT, "input has more than %u items",
                              TG_MAX_MESSAGES);
        if (!cJSON_IsObject(it))
            return tg_err_set(d->err, TG_EINVAL, "input[%u] must be an object", i);
        if ((rc = check_dups(it, "an input item", d->err)) != TG_OK)
            return rc;
        type = get(it, "type");
        role = get(it, "role");
        if (present(type)) {
            if (!cJSON_IsString(type))
                return tg_err_set(d->err, TG_EINVAL, "input[%u].type must be a string", i);
            t = type->valuestring;
        } else if (present(role)) {
            t = "message";           /* EasyInputMessage: type is optional */
        } else if (present(get(it, "id"))) {
            t = "item_reference";    /* ItemReferenceParam: type is optional too */
        } else {
            return tg_err_set(d->err, TG_EINVAL, "input[%u] has neither type nor role", i);
        }
        if (streq(t, "message"))
            rc = dec_message(d, it, i);
        else if (streq(t, "function_call"))
            rc = dec_call(d, it, i, false);
        else if (streq(t, "custom_tool_call"))
            rc = dec_call(d, it, i, true);
        else if (streq(t, "function_call_output") || streq(t, "custom_tool_call_output"))
            rc = dec_output(d, it, i);
        else if (streq(t, "reasoning"))
            rc = TG_OK;  /* a model's own (often encrypted) reasoning: another provider
                            cannot read it, and it is not the client's request */
        else if (streq(t, "item_reference"))
            return tg_err_set(d->err, TG_EINVAL,
                              "input[%u]: item_reference names an item stored by OpenAI; "
                              "tollgate keeps no server-side state, send the item itself", i);
        else
            return tg_err_set(d->err, TG_EINVAL,
                              "input[%u]: item type '%s' cannot be sent to a chat model", i,
                              safe_name(t));
        if (rc != TG_OK)
            return rc;
    }
    close_open(d);
    flush_deferred(d);
    return TG_OK;
}

/* ---- tools ---- */

struct allowed {
    const char **names;      /* NULL: every tool is allowed */
    uint32_t     n;
};

static bool
allowed_has(const struct allowed *al, const char *name)
{
    if (al->names == NULL)
        return true;
    for (uint32_t i = 0; i < al->n; i++)
        if (strcmp(al->names[i], name) == 0)
            return true;
    return false;
}

static int
add_name(struct dec *d, const char *name, uint32_t i)
{
    for (uint32_t k = 0; k < d->nnames; k++)
        if (strcmp(d->names[k], name) == 0)
            return tg_err_set(d->err, TG_EINVAL,
                              "tools[%u]: a tool of the same name is already defined", i);
    d->names[d->nnames++] = name;
    return TG_OK;
}

/* An optional member carried as the client sent it. */
static void
write_opt(struct dec *d, cJSON *o, const char *key, const cJSON *v)
{
    if (present(v))
        tg__jt_add(&d->t, o, key, tg__jt_ref(&d->t, v));
}

/*
 * One function or custom tool -> a chat function tool.  ns: the namespace
 * it belongs to (NULL at top level); its functions are sent as
 * "<namespace>__<name>" (chat has no namespaces) and mapped back in answers.
 */
static int
dec_one_tool(struct dec *d, const cJSON *t, uint32_t i, const cJSON *ns, const struct allowed *al,
             uint32_t *n)
{
    struct tg__jt *jt = &d->t;
    const cJSON *type = get(t, "type"), *name = get(t, "name"), *desc = get(t, "description");
    const char *flat;
    cJSON *to, *fo;
    bool custom = streq(type->valuestring, "custom");
    int rc;

    if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
        return tg_err_set(d->err, TG_EINVAL, "tools[%u].name must be a non-empty string", i);
    if (present(desc) && !cJSON_IsString(desc))
        return tg_err_set(d->err, TG_EINVAL, "tools[%u].description must be a string", i);
    flat = name->valuestring;
    if (ns != NULL) {
        const char *nsn = get(ns, "name")->valuestring;
        struct resp_ns_fn *f = &d->pv->nsfn[d->pv->nnsfn];
        if ((flat = tg_arena_sprintf(d->a, "%s__%s", nsn, name->valuestring)) == NULL)
            return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tools");
        f->flat = flat;
        f->ns = nsn;
        f->name = name->valuestring;
        d->pv->nnsfn++;
    }
    if ((rc = add_name(d, flat, i)) != TG_OK)
        return rc;
    if (custom)
        d->pv->custom[d->pv->ncustom++] = flat;
    if (!allowed_has(al, flat) && !allowed_has(al, name->valuestring))
        return TG_OK;        /* tool_choice.allowed_tools leaves it out */
    if ((*n)++ == 0)
        tg__jt_add(jt, d->root, "tools", d->tools = tg__jt_arr(jt));
    to = tg__jt_obj(jt);
    fo = tg__jt_obj(jt);
    tg__jt_add(jt, d->tools, NULL, to);
    tg__jt_add(jt, to, "type", tg__jt_str(jt, "function"));
    tg__jt_add(jt, to, "function", fo);
    tg__jt_add(jt, fo, "name", tg__jt_str(jt, flat));
    if (ns != NULL && cJSON_IsString(get(ns, "description"))) {
        /* the namespace's description is text the model reads too */
        const char *nd = get(ns, "description")->valuestring;
        const char *both = cJSON_IsString(desc)
                               ? tg_arena_sprintf(d->a, "%s\n\n%s", nd, desc->valuestring) : nd;
        if (both == NULL)
            return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tools");
        tg__jt_add(jt, fo, "description", tg__jt_str(jt, both));
    } else {
        write_opt(d, fo, "description", desc);
    }
    if (!custom) {
        const cJSON *params = get(t, "parameters"), *strict = get(t, "strict");
        if (present(params) && !cJSON_IsObject(params))
            return tg_err_set(d->err, TG_EINVAL, "tools[%u].parameters must be an object", i);
        if (present(strict) && !cJSON_IsBool(strict))
            return tg_err_set(d->err, TG_EINVAL, "tools[%u].strict must be a boolean", i);
        write_opt(d, fo, "parameters", params);
        write_opt(d, fo, "strict", strict);
    } else {
        /* One string argument.  A grammar the model must follow goes
         * into its description: a chat model cannot be constrained by
         * it, but it reads it (and it is scanned like any text). */
        const cJSON *fmt = get(t, "format");
        const char *syntax = NULL, *def = NULL;
        if (present(fmt)) {
            const cJSON *ft = get(fmt, "type");
            if (!cJSON_IsObject(fmt) || !cJSON_IsString(ft))
                return tg_err_set(d->err, TG_EINVAL, "tools[%u].format must be an object "
                                  "with a type", i);
            if (streq(ft->valuestring, "grammar")) {
                syntax = str_or(get(fmt, "syntax"), "grammar");
                def = str_or(get(fmt, "definition"), NULL);
                if (def == NULL)
                    return tg_err_set(d->err, TG_EINVAL,
                                      "tools[%u].format.definition must be a string", i);
            } else if (!streq(ft->valuestring, "text")) {
                return tg_err_set(d->err, TG_EINVAL,
                                  "tools[%u].format.type must be text or grammar", i);
            }
        }
        cJSON *pa = tg__jt_obj(jt), *props = tg__jt_obj(jt), *in = tg__jt_obj(jt);
        cJSON *req = tg__jt_arr(jt);
        tg__jt_add(jt, fo, "parameters", pa);
        tg__jt_add(jt, pa, "type", tg__jt_str(jt, "object"));
        tg__jt_add(jt, pa, "properties", props);
        tg__jt_add(jt, props, "input", in);
        tg__jt_add(jt, in, "type", tg__jt_str(jt, "string"));
        if (def != NULL) {
            const char *g = tg_arena_sprintf(d->a, "The input must follow this %s grammar:\n%s",
                                             syntax, def);
            if (g == NULL)
                return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tools");
            tg__jt_add(jt, in, "description", tg__jt_str(jt, g));
        }
        tg__jt_add(jt, pa, "required", req);
        tg__jt_add(jt, req, NULL, tg__jt_str(jt, "input"));
        tg__jt_add(jt, pa, "additionalProperties", tg__jt_bool(jt, false));
    }
    return TG_OK;
}

static bool
is_tool_kind(const cJSON *t)
{
    const cJSON *type = get(t, "type");
    return cJSON_IsString(type) &&
           (streq(type->valuestring, "function") || streq(type->valuestring, "custom"));
}

/* tools -> `,"tools":[...]`; *ntools = how many were written. */
static int
dec_tools(struct dec *d, const cJSON *tools, const struct allowed *al, uint32_t *ntools)
{
    uint32_t i = 0, n = 0, total = 0;
    int rc;

    *ntools = 0;
    if (!present(tools))
        return TG_OK;
    if (!cJSON_IsArray(tools))
        return tg_err_set(d->err, TG_EINVAL, "tools must be an array");
    for (const cJSON *t = tools->child; t != NULL; t = t->next) {
        const cJSON *inner = get(t, "tools");
        total += 1 + (cJSON_IsArray(inner) ? (uint32_t)cJSON_GetArraySize(inner) : 0);
        if (total > TG_MAX_RESP_TOOLS)
            return tg_err_set(d->err, TG_ELIMIT, "more than %u tools", TG_MAX_RESP_TOOLS);
    }
    d->names = tg_arena_calloc(d->a, total + 1, sizeof(*d->names));
    d->pv->custom = tg_arena_calloc(d->a, total + 1, sizeof(*d->pv->custom));
    d->pv->nsfn = tg_arena_calloc(d->a, total + 1, sizeof(*d->pv->nsfn));
    if (d->names == NULL || d->pv->custom == NULL || d->pv->nsfn == NULL)
        return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tools");
    for (const cJSON *t = tools->child; t != NULL; t = t->next, i++) {
        const cJSON *type;
        if (!cJSON_IsObject(t))
            return tg_err_set(d->err, TG_EINVAL, "tools[%u] must be an object", i);
        if ((rc = check_dups(t, "a tool", d->err)) != TG_OK)
            return rc;
        type = get(t, "type");
        if (!cJSON_IsString(type))
            return tg_err_set(d->err, TG_EINVAL, "tools[%u].type must be a string", i);
        if (is_tool_kind(t)) {
            rc = dec_one_tool(d, t, i, NULL, al, &n);
        } else if (streq(type->valuestring, "namespace")) {
            const cJSON *nsn = get(t, "name"), *inner = get(t, "tools");
            if (!cJSON_IsString(nsn) || nsn->valuestring[0] == '\0' || !cJSON_IsArray(inner))
                return tg_err_set(d->err, TG_EINVAL,
                                  "tools[%u]: a namespace needs a name and tools", i);
            if (present(get(t, "description")) && !cJSON_IsString(get(t, "description")))
                return tg_err_set(d->err, TG_EINVAL, "tools[%u].description must be a string", i);
            rc = TG_OK;
            for (const cJSON *f = inner->child; f != NULL && rc == TG_OK; f = f->next) {
                if (!cJSON_IsObject(f) || !is_tool_kind(f))
                    return tg_err_set(d->err, TG_EINVAL, "tools[%u]: a namespace holds function "
                                      "and custom tools only", i);
                if ((rc = check_dups(f, "a tool", d->err)) != TG_OK)
                    return rc;
                rc = dec_one_tool(d, f, i, t, al, &n);
            }
        } else if (is_hosted(type->valuestring)) {
            continue;        /* run by OpenAI: a chat model cannot use it */
        } else {
            return tg_err_set(d->err, TG_EINVAL, "tools[%u]: tool type '%s' is not supported",
                              i, safe_name(type->valuestring));
        }
        if (rc != TG_OK)
            return rc;
    }
    *ntools = n;
    return TG_OK;
}

/* tool_choice: read before the tools (allowed_tools filters them). */
static int
dec_tool_choice(struct dec *d, const cJSON *tc, struct allowed *al, const char **mode,
                const char **forced)
{
    const cJSON *type;

    *mode = NULL;
    *forced = NULL;
    al->names = NULL;
    al->n = 0;
    if (!present(tc))
        return TG_OK;
    if (cJSON_IsString(tc)) {
        if (!streq(tc->valuestring, "none") && !streq(tc->valuestring, "auto") &&
            !streq(tc->valuestring, "required"))
            return tg_err_set(d->err, TG_EINVAL, "tool_choice must be none, auto, required "
                              "or an object");
        *mode = tc->valuestring;
        return TG_OK;
    }
    type = get(tc, "type");
    if (!cJSON_IsObject(tc) || !cJSON_IsString(type))
        return tg_err_set(d->err, TG_EINVAL, "tool_choice must be a string or an object with "
                          "a type");
    if (streq(type->valuestring, "function") || streq(type->valuestring, "custom")) {
        const cJSON *name = get(tc, "name"), *ns = get(tc, "namespace");
        if (!cJSON_IsString(name))
            return tg_err_set(d->err, TG_EINVAL, "tool_choice.name must be a string");
        *forced = name->valuestring;
        if (cJSON_IsString(ns) &&   /* the name a namespaced function is sent under */
            (*forced = tg_arena_sprintf(d->a, "%s__%s", ns->valuestring, name->valuestring)) == NULL)
            return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tool_choice");
        return TG_OK;
    }
    if (streq(type->valuestring, "allowed_tools")) {
        const cJSON *m = get(tc, "mode"), *tools = get(tc, "tools");
        uint32_t n = 0;
        if (!cJSON_IsString(m) || (!streq(m->valuestring, "auto") &&
                                   !streq(m->valuestring, "required")))
            return tg_err_set(d->err, TG_EINVAL, "tool_choice.mode must be auto or required");
        if (!cJSON_IsArray(tools))
            return tg_err_set(d->err, TG_EINVAL, "tool_choice.tools must be an array");
        for (const cJSON *t = tools->child; t != NULL; t = t->next)
            if (++n > TG_MAX_RESP_TOOLS)
                return tg_err_set(d->err, TG_ELIMIT, "more than %u allowed tools",
                                  TG_MAX_RESP_TOOLS);
        al->names = tg_arena_calloc(d->a, n + 1, sizeof(*al->names));
        if (al->names == NULL)
            return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tool_choice");
        /* The chat form of the same constraint: only the allowed tools are
         * sent.  Hosted tools among them are dropped with the tools. */
        for (const cJSON *t = tools->child; t != NULL; t = t->next) {
            const char *nm = str_or(get(t, "name"), NULL);
            if (nm != NULL)
                al->names[al->n++] = nm;
        }
        *mode = m->valuestring;
        return TG_OK;
    }
    return tg_err_set(d->err, TG_EINVAL, "tool_choice forces the tool type '%s', which a chat "
                      "model cannot run", safe_name(type->valuestring));
}

/* text.format -> response_format. */
static int
dec_text_format(struct dec *d, const cJSON *text)
{
    const cJSON *fmt, *ft;

    if (!present(text))
        return TG_OK;
    if (!cJSON_IsObject(text))
        return tg_err_set(d->err, TG_EINVAL, "text must be an object");
    fmt = get(text, "format");
    if (!present(fmt))
        return TG_OK;
    ft = get(fmt, "type");
    if (!cJSON_IsObject(fmt) || !cJSON_IsString(ft))
        return tg_err_set(d->err, TG_EINVAL, "text.format must be an object with a type");
    if (streq(ft->valuestring, "text"))
        return TG_OK;
    if (streq(ft->valuestring, "json_object")) {
        cJSON *rf = tg__jt_obj(&d->t);
        tg__jt_add(&d->t, d->root, "response_format", rf);
        tg__jt_add(&d->t, rf, "type", tg__jt_str(&d->t, "json_object"));
        return TG_OK;
    }
    if (streq(ft->valuestring, "json_schema")) {
        const cJSON *schema = get(fmt, "schema"), *name = get(fmt, "name");
        if (!cJSON_IsObject(schema))
            return tg_err_set(d->err, TG_EINVAL, "text.format.schema must be an object");
        if (present(name) && !cJSON_IsString(name))
            return tg_err_set(d->err, TG_EINVAL, "text.format.name must be a string");
        cJSON *rf = tg__jt_obj(&d->t), *js = tg__jt_obj(&d->t);
        tg__jt_add(&d->t, d->root, "response_format", rf);
        tg__jt_add(&d->t, rf, "type", tg__jt_str(&d->t, "json_schema"));
        tg__jt_add(&d->t, rf, "json_schema", js);
        tg__jt_add(&d->t, js, "name", tg__jt_str(&d->t, str_or(name, "response")));
        write_opt(d, js, "description", get(fmt, "description"));
        write_opt(d, js, "schema", schema);
        write_opt(d, js, "strict", get(fmt, "strict"));
        return TG_OK;
    }
    return tg_err_set(d->err, TG_EINVAL, "text.format.type '%s' is not supported",
                      safe_name(ft->valuestring));
}

static int
want_number(const cJSON *v, const char *key, struct tg_err *err)
{
    if (present(v) && !cJSON_IsNumber(v))
        return tg_err_set(err, TG_EINVAL, "%s must be a number", key);
    return TG_OK;
}

/* Fields refused because tollgate cannot honour them. */
static int
refuse_state(const cJSON *root, struct tg_err *err)
{
    if (present(get(root, "previous_response_id")))
        return tg_err_set(err, TG_EINVAL, "previous_response_id is not supported: tollgate "
                          "keeps no server-side state; send the whole conversation in input");
    if (present(get(root, "conversation")))
        return tg_err_set(err, TG_EINVAL, "conversation is not supported: tollgate keeps no "
                          "server-side state; send the whole conversation in input");
    if (present(get(root, "prompt")))
        return tg_err_set(err, TG_EINVAL, "prompt (a template stored by OpenAI) is not "
                          "supported: tollgate cannot read it; send instructions and input");
    return TG_OK;
}

static int
resp_decode_tree(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
                 char **canon, size_t *canon_len, cJSON **tree, struct tg_err *err)
{
    struct dec d;
    struct jb out;
    struct allowed al;
    cJSON *root = NULL, *m;
    const cJSON *v, *model, *input, *stream, *instr;
    const char *end = NULL, *mode = NULL, *forced = NULL;
    uint32_t ntools = 0;
    char *text;
    int rc;

    memset(&d, 0, sizeof(d));
    jb_init(&out, TG_MAX_RESP_CANON_BYTES);
    jb_init(&d.tmp, TG_MAX_RESP_CANON_BYTES);
    d.a = a;
    d.t.a = a;
    d.err = err;

    rc = tg_json_parse(body, len, TG_MAX_JSON_DEPTH, a, &root, &end);
    if (rc == TG_ELIMIT) {
        rc = tg_err_set(err, TG_ELIMIT, "request body nests deeper than %u levels",
                        TG_MAX_JSON_DEPTH);
        goto out;
    }
    if (rc != TG_OK) {
        rc = tg_err_set(err, rc, rc == TG_ENOMEM ? "out of memory parsing the request"
                                                 : "request body is not valid JSON");
        goto out;
    }
    while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (end != body + len) {
        rc = tg_err_set(err, TG_EINVAL, "request body is not valid JSON");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = tg_err_set(err, TG_EINVAL, "request body must be a JSON object");
        goto out;
    }
    if (tg__dialect_has_nul(body, len)) {
        rc = tg_err_set(err, TG_EINVAL, "request body contains a NUL character");
        goto out;
    }
    if ((rc = check_dups(root, "the request body", err)) != TG_OK ||
        (rc = refuse_state(root, err)) != TG_OK)
        goto out;
    if ((d.pv = tg_arena_calloc(a, 1, sizeof(*d.pv))) == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory decoding the request");
        goto out;
    }

    model = get(root, "model");
    input = get(root, "input");
    stream = get(root, "stream");
    instr = get(root, "instructions");
    if (present(model) && !cJSON_IsString(model)) {
        rc = tg_err_set(err, TG_EINVAL, "model must be a string");
        goto out;
    }
    if (present(stream) && !cJSON_IsBool(stream)) {
        rc = tg_err_set(err, TG_EINVAL, "stream must be a boolean");
        goto out;
    }
    if (present(instr) && !cJSON_IsString(instr)) {
        rc = tg_err_set(err, TG_EINVAL, "instructions must be a string");
        goto out;
    }
    if (!present(input)) {
        rc = tg_err_set(err, TG_EINVAL, "input is required (a string or an array of items)");
        goto out;
    }
    if ((rc = want_number(get(root, "temperature"), "temperature", err)) != TG_OK ||
        (rc = want_number(get(root, "top_p"), "top_p", err)) != TG_OK ||
        (rc = want_number(get(root, "max_output_tokens"), "max_output_tokens", err)) != TG_OK)
        goto out;
    v = get(root, "max_output_tokens");
    if (cJSON_IsNumber(v) && !(v->valuedouble >= 0 && v->valuedouble == floor(v->valuedouble) &&
                               v->valuedouble <= 2147483647.0)) {
        rc = tg_err_set(err, TG_EINVAL, "max_output_tokens must be a non-negative integer");
        goto out;
    }

    d.root = tg__jt_obj(&d.t);
    if (cJSON_IsString(model))
        tg__jt_add(&d.t, d.root, "model", tg__jt_str(&d.t, model->valuestring));
    tg__jt_add(&d.t, d.root, "messages", d.msgs = tg__jt_arr(&d.t));
    if (cJSON_IsString(instr) && instr->valuestring[0] != '\0')
        tg__jt_add(&d.t, msg_start(&d, "system"), "content", tg__jt_str(&d.t, instr->valuestring));
    if ((rc = dec_input(&d, input)) != TG_OK)
        goto out;
    if (d.nmsgs == 0) {
        rc = tg_err_set(err, TG_EINVAL, "input has no message a chat model can read");
        goto out;
    }

    if ((rc = dec_tool_choice(&d, get(root, "tool_choice"), &al, &mode, &forced)) != TG_OK ||
        (rc = dec_tools(&d, get(root, "tools"), &al, &ntools)) != TG_OK)
        goto out;
    if (ntools > 0) {
        /* chat APIs refuse tool_choice and parallel_tool_calls without tools */
        if (forced != NULL) {
            cJSON *tc = tg__jt_obj(&d.t), *fn = tg__jt_obj(&d.t);
            tg__jt_add(&d.t, d.root, "tool_choice", tc);
            tg__jt_add(&d.t, tc, "type", tg__jt_str(&d.t, "function"));
            tg__jt_add(&d.t, tc, "function", fn);
            tg__jt_add(&d.t, fn, "name", tg__jt_str(&d.t, forced));
        } else if (mode != NULL) {
            tg__jt_add(&d.t, d.root, "tool_choice", tg__jt_str(&d.t, mode));
        }
        v = get(root, "parallel_tool_calls");
        if (present(v) && !cJSON_IsBool(v)) {
            rc = tg_err_set(err, TG_EINVAL, "parallel_tool_calls must be a boolean");
            goto out;
        }
        write_opt(&d, d.root, "parallel_tool_calls", v);
    } else if (forced != NULL || streq(mode, "required")) {
        rc = tg_err_set(err, TG_EINVAL, "tool_choice requires a tool call, but no function or "
                        "custom tool is defined (hosted tools are dropped)");
        goto out;
    }

    write_opt(&d, d.root, "max_tokens", get(root, "max_output_tokens"));
    write_opt(&d, d.root, "temperature", get(root, "temperature"));
    write_opt(&d, d.root, "top_p", get(root, "top_p"));
    v = get(root, "user");
    if (present(v) && !cJSON_IsString(v)) {
        rc = tg_err_set(err, TG_EINVAL, "user must be a string");
        goto out;
    }
    write_opt(&d, d.root, "user", v);
    if ((rc = dec_text_format(&d, get(root, "text"))) != TG_OK)
        goto out;
    v = get(root, "metadata");
    if (present(v) && !cJSON_IsObject(v)) {
        rc = tg_err_set(err, TG_EINVAL, "metadata must be an object");
        goto out;
    }
    write_opt(&d, d.root, "metadata", v);
    if (cJSON_IsTrue(stream)) {
        tg__jt_add(&d.t, d.root, "stream", tg__jt_bool(&d.t, true));
        tg__jt_add(&d.t, d.root, "stream_options", m = tg__jt_obj(&d.t));
        tg__jt_add(&d.t, m, "include_usage", tg__jt_bool(&d.t, true));
    }
    /* Everything else (store, include, reasoning, prompt_cache_key, truncation,
     * service_tier, safety_identifier, background, stream_options, ...) only
     * tunes OpenAI's service: dropped, and its text never leaves tollgate. */

    if (d.t.oom) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory decoding the request");
        goto out;
    }
    /* the canonical text is about the client's size: one allocation */
    jb_reserve(&out, len + len / 8 + 1024);
    jb_value(&out, d.root);
    if (out.err) {
        rc = tg_err_set(err, out.err, out.err == TG_ELIMIT ? "decoded request too large"
                                                           : "out of memory decoding the request");
        goto out;
    }
    d.pv->root = root;
    if ((text = tg_arena_alloc(a, out.len + 1)) == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory decoding the request");
        goto out;
    }
    memcpy(text, out.p, out.len + 1);
    ctx->client_model = cJSON_IsString(model) ? model->valuestring : NULL;
    ctx->stream = cJSON_IsTrue(stream);
    ctx->priv = d.pv;
    *canon = text;
    *canon_len = out.len;
    if (tree != NULL)
        *tree = d.root;
    rc = TG_OK;
out:
    jb_free(&out);
    jb_free(&d.tmp);
    return rc;
}

static int
resp_decode(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
            char **canon, size_t *canon_len, struct tg_err *err)
{
    return resp_decode_tree(body, len, a, ctx, canon, canon_len, NULL, err);
}

/* ---- the Response object ------------------------------------------------- */

struct usage {
    bool    have;
    int64_t in, out, total, cached, reasoning;
};

static int64_t
int_of(const cJSON *o, const char *k)
{
    const cJSON *v = get(o, k);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e15
               ? (int64_t)v->valuedouble : 0;
}

/* A chat usage object (OpenAI's details or DeepSeek's cache counter). */
static void
usage_read(struct usage *u, const cJSON *cu)
{
    if (!cJSON_IsObject(cu))
        return;
    u->have = true;
    u->in = int_of(cu, "prompt_tokens");
    u->out = int_of(cu, "completion_tokens");
    u->total = cJSON_IsNumber(get(cu, "total_tokens")) ? int_of(cu, "total_tokens")
                                                       : u->in + u->out;
    u->cached = int_of(get(cu, "prompt_tokens_details"), "cached_tokens");
    if (u->cached == 0)
        u->cached = int_of(cu, "prompt_cache_hit_tokens");
    u->reasoning = int_of(get(cu, "completion_tokens_details"), "reasoning_tokens");
}

static void
usage_write(struct jb *b, const struct usage *u)
{
    if (u == NULL || !u->have) {
        JB(b, "null");
        return;
    }
    JB(b, "{\"input_tokens\":");
    jb_int(b, u->in);
    JB(b, ",\"input_tokens_details\":{\"cached_tokens\":");
    jb_int(b, u->cached);
    JB(b, "},\"output_tokens\":");
    jb_int(b, u->out);
    JB(b, ",\"output_tokens_details\":{\"reasoning_tokens\":");
    jb_int(b, u->reasoning);
    JB(b, "},\"total_tokens\":");
    jb_int(b, u->total);
    JB(b, "}");
}

static const char *
answer_id(const struct tg_dialect_ctx *ctx)
{
    return ctx->answer_id != NULL && ctx->answer_id[0] != '\0' ? ctx->answer_id : "tollgate";
}

/* An output item's id: "<prefix>_<answer id>_<output index>". */
static void
item_id(struct jb *b, const struct tg_dialect_ctx *ctx, const char *prefix, uint32_t idx)
{
    const char *id = answer_id(ctx);
    JB(b, "\"");
    jb_esc(b, prefix, strlen(prefix));
    JB(b, "_");
    jb_esc(b, id, strlen(id));
    JB(b, "_");
    jb_int(b, idx);
    JB(b, "\"");
}

/* The incomplete reason of a chat finish_reason, NULL when complete. */
static const char *
incomplete_reason(const char *finish)
{
    if (streq(finish, "length"))
        return "max_output_tokens";
    if (streq(finish, "content_filter"))
        return "content_filter";
    return NULL;
}

/* The Response members that echo the request (as OpenAI's do), starting
 * with ','; defaults without a request.  Built once per answer or stream. */
static void
build_echo(struct jb *b, const struct tg_dialect_ctx *ctx)
{
    const struct resp_priv *pv = ctx->priv;
    const cJSON *root = pv != NULL ? pv->root : NULL, *v;

    JB(b, ",\"instructions\":");
    v = get(root, "instructions");
    jb_value(b, cJSON_IsString(v) ? v : NULL);
    JB(b, ",\"max_output_tokens\":");
    v = get(root, "max_output_tokens");
    jb_value(b, cJSON_IsNumber(v) ? v : NULL);
    JB(b, ",\"metadata\":");
    v = get(root, "metadata");
    if (cJSON_IsObject(v))
        jb_value(b, v);
    else
        JB(b, "{}");
    v = get(root, "parallel_tool_calls");
    JB(b, ",\"parallel_tool_calls\":");
    jb_cstr(b, cJSON_IsFalse(v) ? "false" : "true");
    JB(b, ",\"previous_response_id\":null,\"reasoning\":{\"effort\":null,\"summary\":null}"
          ",\"service_tier\":\"default\",\"store\":false,\"temperature\":");
    v = get(root, "temperature");
    if (cJSON_IsNumber(v))
        jb_value(b, v);
    else
        JB(b, "1");
    JB(b, ",\"text\":");
    v = get(root, "text");
    if (cJSON_IsObject(v) && cJSON_IsObject(get(v, "format")))
        jb_value(b, v);
    else
        JB(b, "{\"format\":{\"type\":\"text\"}}");
    JB(b, ",\"tool_choice\":");
    v = get(root, "tool_choice");
    if (present(v))
        jb_value(b, v);
    else
        JB(b, "\"auto\"");
    JB(b, ",\"tools\":");
    v = get(root, "tools");
    if (cJSON_IsArray(v))
        jb_value(b, v);
    else
        JB(b, "[]");
    JB(b, ",\"top_p\":");
    v = get(root, "top_p");
    if (cJSON_IsNumber(v))
        jb_value(b, v);
    else
        JB(b, "1");
    JB(b, ",\"truncation\":\"disabled\",\"user\":");
    v = get(root, "user");
    jb_value(b, cJSON_IsString(v) ? v : NULL);
}

/*
 * A Response object around `output` (the items' JSON, without brackets).
 * status: in_progress | completed | incomplete | failed.
 */
static void
write_response(struct jb *b, const struct tg_dialect_ctx *ctx, const struct jb *echo,
               const char *status,
               const char *incomplete, const char *output, size_t output_len,
               const struct usage *u, const char *err_msg)
{
    const char *id = answer_id(ctx);

    JB(b, "{\"id\":\"resp_");
    jb_esc(b, id, strlen(id));
    JB(b, "\",\"object\":\"response\",\"created_at\":");
    jb_int(b, ctx->now_s);
    JB(b, ",\"status\":");
    jb_str(b, status);
    JB(b, ",\"background\":false,\"completed_at\":");
    if (streq(status, "completed"))
        jb_int(b, ctx->now_s);
    else
        JB(b, "null");
    JB(b, ",\"error\":");
    if (err_msg != NULL) {
        JB(b, "{\"code\":\"server_error\",\"message\":");
        jb_str(b, err_msg);
        JB(b, "}");
    } else {
        JB(b, "null");
    }
    JB(b, ",\"incomplete_details\":");
    if (incomplete != NULL) {
        JB(b, "{\"reason\":");
        jb_str(b, incomplete);
        JB(b, "}");
    } else {
        JB(b, "null");
    }
    JB(b, ",\"model\":");
    jb_str(b, ctx->client_model != NULL ? ctx->client_model : "");
    JB(b, ",\"output\":[");
    jb_raw(b, output, output_len);
    JB(b, "]");
    jb_raw(b, echo->p ? echo->p : "", echo->len);
    JB(b, ",\"usage\":");
    usage_write(b, u);
    JB(b, "}");
}

static bool
is_custom(const struct tg_dialect_ctx *ctx, const char *name)
{
    const struct resp_priv *pv = ctx->priv;
    for (uint32_t i = 0; pv != NULL && name != NULL && i < pv->ncustom; i++)
        if (strcmp(pv->custom[i], name) == 0)
            return true;
    return false;
}

/* A function name as the chat model saw it -> the client's name and, for a
 * namespaced function, its namespace (NULL otherwise). */
static const char *
client_name(const struct tg_dialect_ctx *ctx, const char *flat, const char **ns)
{
    const struct resp_priv *pv = ctx->priv;
    *ns = NULL;
    for (uint32_t i = 0; pv != NULL && flat != NULL && i < pv->nnsfn; i++)
        if (strcmp(pv->nsfn[i].flat, flat) == 0) {
            *ns = pv->nsfn[i].ns;
            return pv->nsfn[i].name;
        }
    return flat;
}

/* The `input` argument of a custom tool's call; the raw arguments when the
 * model did not send {"input": "..."}. */
static void
write_custom_input(struct jb *b, const char *args, size_t len)
{
    struct tg_arena a;
    cJSON *root = NULL;
    const char *end;
    const cJSON *in;

    tg_arena_init(&a, 0);
    if (tg_json_parse(args, len, TG_MAX_JSON_DEPTH, &a, &root, &end) == TG_OK &&
        cJSON_IsString(in = get(root, "input")))
        jb_str(b, in->valuestring);
    else
        jb_strn(b, args, len);
    tg_arena_free(&a);
}

/* A message item; text/refusal parts in content_index order. */
static void
write_msg_item(struct jb *b, const struct tg_dialect_ctx *ctx, uint32_t idx, const char *status,
               const char *text, size_t tlen, int text_ci, const char *refusal, size_t rlen,
               int refusal_ci)
{
    JB(b, "{\"id\":");
    item_id(b, ctx, "msg", idx);
    JB(b, ",\"type\":\"message\",\"status\":");
    jb_str(b, status);
    JB(b, ",\"role\":\"assistant\",\"content\":[");
    for (int ci = 0; ci < 2; ci++) {
        if (ci == text_ci) {
            if (ci > 0)
                JB(b, ",");
            JB(b, "{\"type\":\"output_text\",\"text\":");
            jb_strn(b, text, tlen);
            JB(b, ",\"annotations\":[],\"logprobs\":[]}");
        } else if (ci == refusal_ci) {
            if (ci > 0)
                JB(b, ",");
            JB(b, "{\"type\":\"refusal\",\"refusal\":");
            jb_strn(b, refusal, rlen);
            JB(b, "}");
        }
    }
    JB(b, "]}");
}

static void
write_call_item(struct jb *b, const struct tg_dialect_ctx *ctx, uint32_t idx, bool custom,
                const char *status, const char *call_id, const char *name, const char *args,
                size_t alen)
{
    JB(b, "{\"id\":");
    item_id(b, ctx, custom ? "ctc" : "fc", idx);
    jb_cstr(b, custom ? ",\"type\":\"custom_tool_call\",\"status\":"
                 : ",\"type\":\"function_call\",\"status\":");
    jb_str(b, status);
    JB(b, ",\"call_id\":");
    jb_str(b, call_id);
    const char *ns;
    JB(b, ",\"name\":");
    jb_str(b, client_name(ctx, name, &ns));
    if (ns != NULL) {
        JB(b, ",\"namespace\":");
        jb_str(b, ns);
    }
    if (custom) {
        JB(b, ",\"input\":");
        write_custom_input(b, args, alen);
    } else {
        JB(b, ",\"arguments\":");
        jb_strn(b, args, alen);
    }
    JB(b, "}");
}

/* ---- encode_answer: chat.completion -> Response --------------------------- */

static int
resp_encode_answer(const struct tg_dialect_ctx *ctx, const char *chat, size_t len, char **out,
                   size_t *outlen, struct tg_err *err)
{
    struct tg_arena a;
    struct jb items, b, echo;
    struct usage u = { 0 };
    cJSON *root = NULL;
    const cJSON *choice, *msg, *content, *refusal, *tcs;
    const char *end, *finish, *incomplete, *status;
    uint32_t idx = 0;
    int rc;

    tg_arena_init(&a, 0);
    jb_init(&items, TG_MAX_RESP_EVENT_BYTES);
    jb_init(&b, TG_MAX_RESP_EVENT_BYTES);
    jb_init(&echo, TG_MAX_RESP_EVENT_BYTES);
    rc = tg_json_parse(chat, len, TG_MAX_JSON_DEPTH, &a, &root, &end);
    if (rc != TG_OK || !cJSON_IsObject(root)) {
        rc = tg_err_set(err, rc == TG_ENOMEM ? TG_ENOMEM : TG_EINVAL,
                        "answer is not a chat.completion");
        goto out;
    }
    choice = cJSON_GetArrayItem(get(root, "choices"), 0);
    msg = get(choice, "message");
    if (!cJSON_IsArray(get(root, "choices")) || !cJSON_IsObject(msg)) {
        rc = tg_err_set(err, TG_EINVAL, "answer is not a chat.completion");
        goto out;
    }
    finish = str_or(get(choice, "finish_reason"), NULL);
    incomplete = incomplete_reason(finish);
    status = incomplete != NULL ? "incomplete" : "completed";
    content = get(msg, "content");
    refusal = get(msg, "refusal");
    tcs = get(msg, "tool_calls");

    /* A message item when there is text, a refusal, or nothing else at all
     * (clients read output[0] of a plain answer). */
    {
        bool has_text = cJSON_IsString(content) && content->valuestring[0] != '\0';
        bool has_ref = cJSON_IsString(refusal) && refusal->valuestring[0] != '\0';
        bool has_calls = cJSON_IsArray(tcs) && tcs->child != NULL;
        if (has_text || has_ref || !has_calls) {
            const char *t = cJSON_IsString(content) ? content->valuestring : "";
            const char *r = has_ref ? refusal->valuestring : "";
            int text_ci = has_text || !has_ref ? 0 : -1;
            write_msg_item(&items, ctx, idx++, status, t, strlen(t), text_ci, r, strlen(r),
                           has_ref ? text_ci + 1 : -1);
        }
    }
    for (const cJSON *tc = cJSON_IsArray(tcs) ? tcs->child : NULL; tc != NULL; tc = tc->next) {
        const cJSON *fn = get(tc, "function");
        const char *name = str_or(get(fn, "name"), "");
        const char *args = str_or(get(fn, "arguments"), "");
        const cJSON *id = get(tc, "id");
        char gen[96];
        if (!cJSON_IsObject(fn))
            continue;
        if (!cJSON_IsString(id)) {
            snprintf(gen, sizeof(gen), "call_%.64s_%u", answer_id(ctx), idx);
        }
        if (idx > 0)
            JB(&items, ",");
        write_call_item(&items, ctx, idx, is_custom(ctx, name), "completed",
                        cJSON_IsString(id) ? id->valuestring : gen, name, args, strlen(args));
        idx++;
    }
    usage_read(&u, get(root, "usage"));
    build_echo(&echo, ctx);
    /* the Response is the items, the echo and ~1 KiB more: one allocation */
    jb_reserve(&b, items.len + echo.len + 1024);
    write_response(&b, ctx, &echo, status, incomplete, items.p ? items.p : "", items.len, &u,
                   NULL);
    if (items.err || b.err || echo.err) {
        rc = tg_err_set(err, items.err ? items.err : b.err ? b.err : echo.err, "answer too large");
        goto out;
    }
    *out = b.p;
    *outlen = b.len;
    b.p = NULL;
    rc = TG_OK;
out:
    jb_free(&items);
    jb_free(&b);
    jb_free(&echo);
    tg_arena_free(&a);
    return rc;
}

/* ---- stream: chat.completion.chunk SSE -> Responses events ----------------- */

enum item_kind { IT_MSG = 0, IT_FN = 1, IT_CUSTOM = 2 };

struct sitem {
    enum item_kind kind;
    int64_t  chat_index;     /* tool_calls[].index */
    bool     done;
    struct jb text;          /* message text, or the call's arguments */
    struct jb refusal;
    int      text_ci, refusal_ci;  /* content_index of each part, -1 if none */
    char    *call_id, *name;
};

struct tg_dialect_stream {
    const struct tg_dialect_ctx *ctx;   /* in the request's arena: outlives the stream */
    tg_dialect_emit_fn emit;
    void    *ud;
    struct tg_sse sse;
    struct tg_arena ea;                 /* one canonical event's parse, reset per event */
    struct jb ev;                       /* the event being written */
    struct jb echo;                     /* build_echo, once per stream */
    uint64_t seq;
    bool     started, finished;
    int      failed;                    /* sticky error of feed */
    struct sitem *items;
    uint32_t nitems, cap;
    int      open_msg;                  /* items[] index of the open message, -1 */
    char     finish[32];
    struct usage usage;
    size_t   text_total;
};

static int
ev_send(struct tg_dialect_stream *s, const char *name)
{
    int rc;
    if (s->ev.err)
        return s->ev.err;
    rc = s->emit(s->ud, "event: ", 7) || s->emit(s->ud, name, strlen(name)) ||
         s->emit(s->ud, "\ndata: ", 7) || s->emit(s->ud, s->ev.p, s->ev.len) ||
         s->emit(s->ud, "\n\n", 2) ? TG_EIO : TG_OK;
    s->ev.len = 0;
    return rc;
}

/* Start an event's data: {"type":NAME,"sequence_number":N */
static void
ev_begin(struct tg_dialect_stream *s, const char *name)
{
    s->ev.len = 0;
    JB(&s->ev, "{\"type\":");
    jb_str(&s->ev, name);
    JB(&s->ev, ",\"sequence_number\":");
    jb_int(&s->ev, (int64_t)s->seq++);
}

/* output: every item in its current state, comma-separated. */
static void
write_items(struct tg_dialect_stream *s, struct jb *b, const char *final_status)
{
    for (uint32_t i = 0; i < s->nitems; i++) {
        struct sitem *it = &s->items[i];
        const char *st = final_status != NULL ? final_status
                                              : (it->done ? "completed" : "in_progress");
        if (i > 0)
            JB(b, ",");
        if (it->kind == IT_MSG)
            write_msg_item(b, s->ctx, i, st, it->text.p ? it->text.p : "", it->text.len,
                           it->text_ci, it->refusal.p ? it->refusal.p : "", it->refusal.len,
                           it->refusal_ci);
        else
            write_call_item(b, s->ctx, i, it->kind == IT_CUSTOM, st, it->call_id, it->name,
                            it->text.p ? it->text.p : "", it->text.len);
    }
}

/* response.created / in_progress / completed / incomplete / failed */
static int
ev_response(struct tg_dialect_stream *s, const char *name, const char *status,
            const char *incomplete, const char *item_status, const char *err_msg)
{
    struct jb items;
    int rc;

    jb_init(&items, TG_MAX_RESP_EVENT_BYTES);
    write_items(s, &items, item_status);
    ev_begin(s, name);
    JB(&s->ev, ",\"response\":");
    if (s->echo.len == 0)
        build_echo(&s->echo, s->ctx);
    if (s->echo.err)
        s->ev.err = s->echo.err;
    write_response(&s->ev, s->ctx, &s->echo, status, incomplete, items.p ? items.p : "", items.len,
                   streq(status, "in_progress") ? NULL : &s->usage, err_msg);
    JB(&s->ev, "}");
    if (items.err)
        s->ev.err = items.err;
    jb_free(&items);
    rc = ev_send(s, name);
    return rc;
}

static int
start(struct tg_dialect_stream *s)
{
    int rc;
    if (s->started)
        return TG_OK;
    s->started = true;
    if ((rc = ev_response(s, "response.created", "in_progress", NULL, NULL, NULL)) != TG_OK)
        return rc;
    return ev_response(s, "response.in_progress", "in_progress", NULL, NULL, NULL);
}

/* output_item.added / .done for item i */
static int
ev_item(struct tg_dialect_stream *s, uint32_t i, bool done)
{
    struct sitem *it = &s->items[i];
    const char *name = done ? "response.output_item.done" : "response.output_item.added";
    const char *st = done ? "completed" : "in_progress";

    ev_begin(s, name);
    JB(&s->ev, ",\"output_index\":");
    jb_int(&s->ev, i);
    JB(&s->ev, ",\"item\":");
    if (it->kind == IT_MSG)
        write_msg_item(&s->ev, s->ctx, i, st, it->text.p ? it->text.p : "", it->text.len,
                       done ? it->text_ci : -1, it->refusal.p ? it->refusal.p : "",
                       it->refusal.len, done ? it->refusal_ci : -1);
    else
        write_call_item(&s->ev, s->ctx, i, it->kind == IT_CUSTOM, st, it->call_id, it->name,
                        done ? (it->text.p ? it->text.p : "") : "", done ? it->text.len : 0);
    JB(&s->ev, "}");
    return ev_send(s, name);
}

/* The common head of item-scoped events: ,"item_id":...,"output_index":i */
static void
ev_item_ref(struct tg_dialect_stream *s, uint32_t i)
{
    static const char *const prefix[] = { "msg", "fc", "ctc" };
    JB(&s->ev, ",\"item_id\":");
    item_id(&s->ev, s->ctx, prefix[s->items[i].kind], i);
    JB(&s->ev, ",\"output_index\":");
    jb_int(&s->ev, i);
}

static int
ev_part(struct tg_dialect_stream *s, uint32_t i, bool refusal, bool done)
{
    struct sitem *it = &s->items[i];
    const char *name = done ? "response.content_part.done" : "response.content_part.added";
    struct jb *t = refusal ? &it->refusal : &it->text;

    ev_begin(s, name);
    ev_item_ref(s, i);
    JB(&s->ev, ",\"content_index\":");
    jb_int(&s->ev, refusal ? it->refusal_ci : it->text_ci);
    jb_cstr(&s->ev, refusal ? ",\"part\":{\"type\":\"refusal\",\"refusal\":"
                       : ",\"part\":{\"type\":\"output_text\",\"text\":");
    if (done)
        jb_strn(&s->ev, t->p ? t->p : "", t->len);
    else
        JB(&s->ev, "\"\"");
    jb_cstr(&s->ev, refusal ? "}}" : ",\"annotations\":[],\"logprobs\":[]}}");
    return ev_send(s, name);
}

static int
new_item(struct tg_dialect_stream *s, enum item_kind kind, uint32_t *out)
{
    struct sitem *it;
    if (s->nitems >= TG_MAX_RESP_STREAM_ITEMS)
        return TG_ELIMIT;
    if (s->nitems == s->cap) {
        uint32_t nc = s->cap ? s->cap * 2 : 4;
        struct sitem *ni = realloc(s->items, nc * sizeof(*ni));
        if (ni == NULL)
            return TG_ENOMEM;
        s->items = ni;
        s->cap = nc;
    }
    it = &s->items[s->nitems];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->text_ci = it->refusal_ci = -1;
    it->chat_index = -1;
    jb_init(&it->text, TG_MAX_RESP_STREAM_TEXT);
    jb_init(&it->refusal, TG_MAX_RESP_STREAM_TEXT);
    *out = s->nitems++;
    return TG_OK;
}

static int
add_text(struct tg_dialect_stream *s, struct jb *b, const char *t, size_t n)
{
    if (n > TG_MAX_RESP_STREAM_TEXT - s->text_total)
        return TG_ELIMIT;
    s->text_total += n;
    jb_raw(b, t, n);
    return b->err;
}

/* Close item i: the done events of its parts or arguments, then its own. */
static int
close_item(struct tg_dialect_stream *s, uint32_t i)
{
    struct sitem *it = &s->items[i];
    int rc = TG_OK;

    if (it->done)
        return TG_OK;
    it->done = true;
    if (it->kind == IT_MSG) {
        if (it->text_ci < 0 && it->refusal_ci < 0) {
            /* an empty answer still has one (empty) text part */
            it->text_ci = 0;
            if ((rc = ev_part(s, i, false, false)) != TG_OK)
                return rc;
        }
        for (int ci = 0; ci < 2; ci++) {
            bool ref = ci == it->refusal_ci;
            struct jb *t = ref ? &it->refusal : &it->text;
            const char *name = ref ? "response.refusal.done" : "response.output_text.done";
            if (ci != it->text_ci && ci != it->refusal_ci)
                continue;
            ev_begin(s, name);
            ev_item_ref(s, i);
            JB(&s->ev, ",\"content_index\":");
            jb_int(&s->ev, ci);
            jb_cstr(&s->ev, ref ? ",\"refusal\":" : ",\"text\":");
            jb_strn(&s->ev, t->p ? t->p : "", t->len);
            if (!ref)
                JB(&s->ev, ",\"logprobs\":[]");
            JB(&s->ev, "}");
            if ((rc = ev_send(s, name)) != TG_OK || (rc = ev_part(s, i, ref, true)) != TG_OK)
                return rc;
        }
    } else if (it->kind == IT_FN) {
        ev_begin(s, "response.function_call_arguments.done");
        ev_item_ref(s, i);
        const char *ns;
        JB(&s->ev, ",\"name\":");
        jb_str(&s->ev, client_name(s->ctx, it->name, &ns));
        JB(&s->ev, ",\"arguments\":");
        jb_strn(&s->ev, it->text.p ? it->text.p : "", it->text.len);
        JB(&s->ev, "}");
        if ((rc = ev_send(s, "response.function_call_arguments.done")) != TG_OK)
            return rc;
    } else {
        /* A custom tool's input is the "input" member of the arguments the
         * chat model streamed: known only once they are complete. */
        const char *names[2] = { "response.custom_tool_call_input.delta",
                                 "response.custom_tool_call_input.done" };
        for (int k = 0; k < 2; k++) {
            ev_begin(s, names[k]);
            ev_item_ref(s, i);
            jb_cstr(&s->ev, k == 0 ? ",\"delta\":" : ",\"input\":");
            write_custom_input(&s->ev, it->text.p ? it->text.p : "", it->text.len);
            JB(&s->ev, "}");
            if ((rc = ev_send(s, names[k])) != TG_OK)
                return rc;
        }
    }
    if ((int)i == s->open_msg)
        s->open_msg = -1;
    return ev_item(s, i, true);
}

static int
open_message(struct tg_dialect_stream *s, uint32_t *out)
{
    int rc;
    if (s->open_msg >= 0) {
        *out = (uint32_t)s->open_msg;
        return TG_OK;
    }
    if ((rc = new_item(s, IT_MSG, out)) != TG_OK)
        return rc;
    s->open_msg = (int)*out;
    return ev_item(s, *out, false);
}

/* Text or refusal delta of the message. */
static int
on_text(struct tg_dialect_stream *s, const char *t, bool refusal)
{
    size_t n = strlen(t);
    uint32_t i;
    struct sitem *it;
    int rc;

    if (n == 0)
        return TG_OK;
    if ((rc = open_message(s, &i)) != TG_OK)
        return rc;
    it = &s->items[i];
    if ((refusal ? it->refusal_ci : it->text_ci) < 0) {
        int ci = (it->text_ci >= 0) + (it->refusal_ci >= 0);
        if (refusal)
            it->refusal_ci = ci;
        else
            it->text_ci = ci;
        if ((rc = ev_part(s, i, refusal, false)) != TG_OK)
            return rc;
    }
    if ((rc = add_text(s, refusal ? &it->refusal : &it->text, t, n)) != TG_OK)
        return rc;
    ev_begin(s, refusal ? "response.refusal.delta" : "response.output_text.delta");
    ev_item_ref(s, i);
    JB(&s->ev, ",\"content_index\":");
    jb_int(&s->ev, refusal ? it->refusal_ci : it->text_ci);
    JB(&s->ev, ",\"delta\":");
    jb_strn(&s->ev, t, n);
    jb_cstr(&s->ev, refusal ? "}" : ",\"logprobs\":[]}");
    return ev_send(s, refusal ? "response.refusal.delta" : "response.output_text.delta");
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

static int
on_tool_call(struct tg_dialect_stream *s, const cJSON *tc, int64_t pos)
{
    const cJSON *fn = get(tc, "function"), *idx = get(tc, "index");
    const char *name = str_or(get(fn, "name"), NULL);
    const char *args = str_or(get(fn, "arguments"), "");
    int64_t ci = cJSON_IsNumber(idx) ? (int64_t)idx->valuedouble : pos;
    uint32_t i = UINT32_MAX;
    struct sitem *it;
    int rc;

    if (!cJSON_IsObject(tc))
        return TG_EINVAL;
    for (uint32_t k = 0; k < s->nitems; k++)
        if (s->items[k].kind != IT_MSG && s->items[k].chat_index == ci && !s->items[k].done) {
            i = k;
            break;
        }
    if (i == UINT32_MAX) {
        const char *id = str_or(get(tc, "id"), NULL);
        char gen[96];
        /* text before a tool call is a message of its own: close it */
        if (s->open_msg >= 0 && (rc = close_item(s, (uint32_t)s->open_msg)) != TG_OK)
            return rc;
        if ((rc = new_item(s, is_custom(s->ctx, name) ? IT_CUSTOM : IT_FN, &i)) != TG_OK)
            return rc;
        it = &s->items[i];
        it->chat_index = ci;
        if (id == NULL || id[0] == '\0') {
            snprintf(gen, sizeof(gen), "call_%.64s_%u", answer_id(s->ctx), i);
            id = gen;
        }
        it->call_id = dup_str(id);
        it->name = dup_str(name != NULL ? name : "");
        if (it->call_id == NULL || it->name == NULL)
            return TG_ENOMEM;
        if ((rc = ev_item(s, i, false)) != TG_OK)
            return rc;
    } else if (name != NULL && name[0] != '\0' && s->items[i].name[0] == '\0') {
        /* a provider that names the function after its first chunk */
        char *nm = dup_str(name);
        if (nm == NULL)
            return TG_ENOMEM;
        free(s->items[i].name);
        s->items[i].name = nm;
    }
    it = &s->items[i];
    if (args[0] == '\0')
        return TG_OK;
    if ((rc = add_text(s, &it->text, args, strlen(args))) != TG_OK)
        return rc;
    if (it->kind == IT_CUSTOM)
        return TG_OK;
    ev_begin(s, "response.function_call_arguments.delta");
    ev_item_ref(s, i);
    JB(&s->ev, ",\"delta\":");
    jb_str(&s->ev, args);
    JB(&s->ev, "}");
    return ev_send(s, "response.function_call_arguments.delta");
}

/* Close every item and send the terminal event. */
static int
finish(struct tg_dialect_stream *s)
{
    const char *incomplete = incomplete_reason(s->finish);
    uint32_t i;
    int rc;

    if (s->finished)
        return TG_OK;
    if ((rc = start(s)) != TG_OK)
        return rc;
    if (s->nitems == 0 && (rc = open_message(s, &i)) != TG_OK)
        return rc;
    for (i = 0; i < s->nitems; i++)
        if ((rc = close_item(s, i)) != TG_OK)
            return rc;
    s->finished = true;
    return incomplete != NULL
               ? ev_response(s, "response.incomplete", "incomplete", incomplete, "incomplete", NULL)
               : ev_response(s, "response.completed", "completed", NULL, "completed", NULL);
}

/* The stream broke: an `error` event (the SDKs raise on its `error`
 * member; its top-level members are the documented ones) and
 * response.failed (what Codex waits for). */
static int
fail(struct tg_dialect_stream *s, const char *msg)
{
    int rc;

    if (s->finished)
        return TG_OK;
    s->finished = true;
    if ((rc = start(s)) != TG_OK)
        return rc;
    ev_begin(s, "error");
    JB(&s->ev, ",\"code\":\"server_error\",\"message\":");
    jb_str(&s->ev, msg);
    JB(&s->ev, ",\"param\":null,\"error\":{\"type\":\"server_error\",\"code\":\"server_error\","
               "\"message\":");
    jb_str(&s->ev, msg);
    JB(&s->ev, ",\"param\":null}}");
    if ((rc = ev_send(s, "error")) != TG_OK)
        return rc;
    return ev_response(s, "response.failed", "failed", NULL, "incomplete", msg);
}

static int
on_event(void *ud, const char *event, const char *data, size_t len)
{
    struct tg_dialect_stream *s = ud;
    const cJSON *choices, *err_obj;
    cJSON *root = NULL;
    const char *end;
    int64_t pos;
    int rc;

    if (s->finished)
        return TG_OK;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
        return finish(s);
    tg_arena_reset(&s->ea);
    rc = tg_json_parse(data, len, TG_MAX_JSON_DEPTH, &s->ea, &root, &end);
    if (rc != TG_OK)
        return rc == TG_ENOMEM ? TG_ENOMEM : TG_EINVAL;
    if (!cJSON_IsObject(root))
        return TG_EINVAL;
    if ((rc = start(s)) != TG_OK)
        return rc;
    err_obj = get(root, "error");
    if (present(err_obj)) {
        /* the provider's message is not ours to relay (it may quote the request) */
        rc = fail(s, "the upstream provider reported an error during the stream");
        return rc != TG_OK ? rc : TG_EUPSTREAM;
    }
    choices = get(root, "choices");
    if (present(choices) && !cJSON_IsArray(choices))
        return TG_EINVAL;
    for (const cJSON *ch = cJSON_IsArray(choices) ? choices->child : NULL; ch != NULL;
         ch = ch->next) {
        const cJSON *delta = get(ch, "delta"), *ix = get(ch, "index"), *tcs;
        const char *fr = str_or(get(ch, "finish_reason"), NULL);
        if (cJSON_IsNumber(ix) && ix->valuedouble != 0)
            continue;          /* Responses has one answer; n > 1 is never asked for */
        if (cJSON_IsObject(delta)) {
            const cJSON *c = get(delta, "content"), *r = get(delta, "refusal");
            if (cJSON_IsString(c) && (rc = on_text(s, c->valuestring, false)) != TG_OK)
                return rc;
            if (cJSON_IsString(r) && (rc = on_text(s, r->valuestring, true)) != TG_OK)
                return rc;
            tcs = get(delta, "tool_calls");
            pos = 0;
            for (const cJSON *tc = cJSON_IsArray(tcs) ? tcs->child : NULL; tc != NULL;
                 tc = tc->next, pos++)
                if ((rc = on_tool_call(s, tc, pos)) != TG_OK)
                    return rc;
        }
        if (fr != NULL)
            snprintf(s->finish, sizeof(s->finish), "%s", fr);
    }
    if (present(get(root, "usage")))
        usage_read(&s->usage, get(root, "usage"));
    return TG_OK;
}

static int
resp_stream_new(const struct tg_dialect_ctx *ctx, tg_dialect_emit_fn emit, void *ud,
                struct tg_dialect_stream **out)
{
    struct tg_dialect_stream *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return TG_ENOMEM;
    s->ctx = ctx;
    s->emit = emit;
    s->ud = ud;
    s->open_msg = -1;
    tg_sse_init(&s->sse, TG_MAX_RESP_STREAM_TEXT);
    tg_arena_init(&s->ea, 0);
    jb_init(&s->ev, TG_MAX_RESP_EVENT_BYTES);
    jb_init(&s->echo, TG_MAX_RESP_EVENT_BYTES);
    *out = s;
    return TG_OK;
}

static int
resp_stream_feed(struct tg_dialect_stream *s, const char *buf, size_t len)
{
    int rc;

    if (s->failed)
        return s->failed;
    rc = tg_sse_feed(&s->sse, buf, len, on_event, s);
    if (rc > 0)
        rc = TG_EINVAL;
    if (rc != TG_OK)
        s->failed = rc;
    return rc;
}

static int
resp_stream_end(struct tg_dialect_stream *s, bool ok)
{
    int rc, why = ok ? s->failed : TG_OK;

    if (ok && !s->failed) {
        rc = finish(s);
        if (rc == TG_OK || rc == TG_EIO)
            return rc;
        why = rc;    /* could not build the final events (a cap): tell the client */
    }
    rc = fail(s, "the upstream stream ended before the answer was complete");
    return rc != TG_OK ? rc : why;
}

static void
resp_stream_free(struct tg_dialect_stream *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->nitems; i++) {
        jb_free(&s->items[i].text);
        jb_free(&s->items[i].refusal);
        free(s->items[i].call_id);
        free(s->items[i].name);
    }
    free(s->items);
    tg_sse_free(&s->sse);
    tg_arena_free(&s->ea);
    jb_free(&s->ev);
    jb_free(&s->echo);
    free(s);
}

const struct tg_dialect_ops tg__dialect_responses = {
    .id = TG_DIALECT_RESPONSES,
    .name = "responses",
    .path = "/v1/responses",
    .errors = TG_DIALECT_ERR_OPENAI,
    .decode = resp_decode,
    .decode_tree = resp_decode_tree,
    .encode_answer = resp_encode_answer,
    .stream_new = resp_stream_new,
    .stream_feed = resp_stream_feed,
    .stream_end = resp_stream_end,
    .stream_free = resp_stream_free,
};
