/*
 * responses.c — the OpenAI Responses dialect: its ops table, and what its
 * three parts share (a bounded JSON writer and tree lookups, declared in
 * responses_int.h).  The parts: responses_decode.c (request -> canonical
 * chat body), responses_answer.c (chat.completion -> Response object),
 * responses_stream.c (chat.completion.chunk SSE -> Responses events).
 *
 * Answers and events are written by hand into a bounded buffer, never
 * built as a cJSON tree: they run on every answer and every streamed token.
 */
#include "adapters/dialects/responses_int.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdio.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif
#include <stdlib.h>
#include <stddef.h>
#include <string.h>

/* ---- a bounded, growable JSON writer ------------------------------------ */

void
tg__resp_jb_init(struct tg__resp_jb *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max;
}

void
tg__resp_jb_free(struct tg__resp_jb *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

bool
tg__resp_jb_reserve(struct tg__resp_jb *b, size_t n)
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

void
tg__resp_jb_cstr(struct tg__resp_jb *b, const char *s)
{
    tg__resp_jb_raw(b, s, strlen(s));
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
void
tg__resp_jb_esc(struct tg__resp_jb *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, run;

    while (i < n) {
        run = next_escape(s, i, n);
        if (run > i)
            tg__resp_jb_raw(b, s + i, run - i);
        if (run >= n)
            break;
        unsigned char c = (unsigned char)s[run];
        switch (c) {
        case '"':  TG__RESP_JB(b, "\\\""); break;
        case '\\': TG__RESP_JB(b, "\\\\"); break;
        case '\n': TG__RESP_JB(b, "\\n"); break;
        case '\r': TG__RESP_JB(b, "\\r"); break;
        case '\t': TG__RESP_JB(b, "\\t"); break;
        case '\b': TG__RESP_JB(b, "\\b"); break;
        case '\f': TG__RESP_JB(b, "\\f"); break;
        default: {
            char u[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            tg__resp_jb_raw(b, u, 6);
        }
        }
        i = run + 1;
    }
}

void
tg__resp_jb_strn(struct tg__resp_jb *b, const char *s, size_t n)
{
    /* Most strings (keys, ids, prose) need no escape: one scan, one copy. */
    if (next_escape(s, 0, n) == n) {
        if (b->err || (b->len + n + 3 > b->cap && !tg__resp_jb_reserve(b, n + 2)))
            return;
        b->p[b->len] = '"';
        memcpy(b->p + b->len + 1, s, n);
        b->p[b->len + n + 1] = '"';
        b->len += n + 2;
        b->p[b->len] = '\0';
        return;
    }
    TG__RESP_JB(b, "\"");
    tg__resp_jb_esc(b, s, n);
    TG__RESP_JB(b, "\"");
}

/* A quoted string, or null for NULL. */
void
tg__resp_jb_str(struct tg__resp_jb *b, const char *s)
{
    if (s == NULL)
        TG__RESP_JB(b, "null");
    else
        tg__resp_jb_strn(b, s, strlen(s));
}

void
tg__resp_jb_int(struct tg__resp_jb *b, int64_t v)
{
    char t[TG__DIALECT_INT_CHARS], *q = tg__dialect_fmt_int(t, v);
    tg__resp_jb_raw(b, q, (size_t)(t + sizeof(t) - q));
}

/* A number as cJSON prints it: integers exactly, others with the shortest
 * of 15 or 17 significant digits that reads back the same. */
static void
jb_num(struct tg__resp_jb *b, double d)
{
    char t[64];
    int n;

    if (!isfinite(d)) {
        TG__RESP_JB(b, "null");
        return;
    }
    if (d == floor(d) && fabs(d) < 1e15) {
        /* what "%.0f" prints, without the printf machinery */
        if (d == 0 && signbit(d))
            TG__RESP_JB(b, "-0");
        else
            tg__resp_jb_int(b, (int64_t)d);
        return;
    } else {
        n = snprintf(t, sizeof(t), "%1.15g", d);
        if (strtod(t, NULL) != d)
            n = snprintf(t, sizeof(t), "%1.17g", d);
    }
    tg__resp_jb_raw(b, t, (size_t)n);
}

/* Any parsed value, verbatim, as cJSON prints it.  Recursion is bounded by
 * the parser's depth cap (TG_MAX_JSON_DEPTH).  Every canonical body is
 * printed by this, so it switches on the type once instead of asking
 * cJSON_Is* (library calls) in turn. */
void
tg__resp_jb_value(struct tg__resp_jb *b, const cJSON *v)
{
    const cJSON *c;

    if (v == NULL) {
        TG__RESP_JB(b, "null");
        return;
    }
    switch (v->type & 0xFF) {
    case cJSON_False:
        TG__RESP_JB(b, "false");
        break;
    case cJSON_True:
        TG__RESP_JB(b, "true");
        break;
    case cJSON_Number:
        jb_num(b, v->valuedouble);
        break;
    case cJSON_String:
        tg__resp_jb_str(b, v->valuestring);
        break;
    case cJSON_Array:
        TG__RESP_JB(b, "[");
        for (c = v->child; c != NULL; c = c->next) {
            tg__resp_jb_value(b, c);
            if (c->next != NULL)
                TG__RESP_JB(b, ",");
        }
        TG__RESP_JB(b, "]");
        break;
    case cJSON_Object:
        TG__RESP_JB(b, "{");
        for (c = v->child; c != NULL; c = c->next) {
            const char *k = c->string ? c->string : "";
            size_t kn = strlen(k), sep = c != v->child;
            /* `,"key":` in one write: keys are names, they rarely need escapes */
            if (next_escape(k, 0, kn) == kn && !b->err &&
                (b->len + kn + 4 + 1 <= b->cap || tg__resp_jb_reserve(b, kn + 4))) {
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
                    TG__RESP_JB(b, ",");
                tg__resp_jb_strn(b, k, kn);
                TG__RESP_JB(b, ":");
            }
            tg__resp_jb_value(b, c);
        }
        TG__RESP_JB(b, "}");
        break;
    default:                       /* null, and anything a parse cannot make */
        TG__RESP_JB(b, "null");
    }
}

/* ---- small helpers ------------------------------------------------------ */

const cJSON *
tg__resp_get(const cJSON *o, const char *k)
{
    return tg__dialect_get(o, k);
}

void
tg__resp_top_read(const cJSON *root, struct tg__resp_top *t)
{
    static const struct { const char *k; size_t off; } keys[] = {
#define K(name) { #name, offsetof(struct tg__resp_top, name) }
        K(model), K(input), K(stream), K(instructions), K(temperature), K(top_p), K(max_output_tokens),
        K(tool_choice), K(tools), K(parallel_tool_calls), K(user), K(text), K(metadata),
        K(previous_response_id), K(conversation), K(prompt),
#undef K
    };

    memset(t, 0, sizeof *t);
    /* keys are unique (duplicates were refused): the first match is the one */
    for (const cJSON *c = root != NULL ? root->child : NULL; c != NULL; c = c->next) {
        if (c->string == NULL)
            continue;
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
            if (c->string[0] == keys[i].k[0] && strcmp(c->string, keys[i].k) == 0) {
                const cJSON **slot = (const cJSON **)(void *)((char *)t + keys[i].off);
                if (*slot == NULL)
                    *slot = c;
                break;
            }
    }
}

bool
tg__resp_present(const cJSON *n)
{
    return n != NULL && !cJSON_IsNull(n);
}

const char *
tg__resp_str_or(const cJSON *n, const char *dflt)
{
    return cJSON_IsString(n) ? n->valuestring : dflt;
}

bool
tg__resp_streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

const struct tg_dialect_ops tg__dialect_responses = {
    .id = TG_DIALECT_RESPONSES,
    .name = "responses",
    .path = "/v1/responses",
    .errors = TG_DIALECT_ERR_OPENAI,
    .decode = tg__resp_decode,
    .decode_tree = tg__resp_decode_tree,
    .encode_answer = tg__resp_encode_answer,
    .stream_new = tg__resp_stream_new,
    .stream_feed = tg__resp_stream_feed,
    .stream_end = tg__resp_stream_end,
    .stream_free = tg__resp_stream_free,
};