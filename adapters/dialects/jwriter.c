/*
 * jwriter.c — the dialects' JSON text writer: bounded, growable, errors
 * sticky (after the first failure every call is a no-op and the caller
 * checks rc once, as curl's dynbuf does), strings escaped in runs found 16
 * bytes a step.  Canonical bodies are built in the request's arena; answers
 * and stream events are malloc'd and handed to the caller.
 */
#include "adapters/dialects/jwriter.h"
#include "adapters/dialects/dialect_int.h"
#include "engine/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

void
tg__jw_init(struct tg__jw *w, size_t max)
{
    memset(w, 0, sizeof(*w));
    w->max = max;
}

void
tg__jw_free(struct tg__jw *w)
{
    if (w->a == NULL)
        free(w->buf);
    w->buf = NULL;
    w->len = w->cap = 0;
}

bool
tg__jw_room(struct tg__jw *w, size_t n)
{
    size_t need, nc;
    char *nb;

    if (w->rc != TG_OK)
        return false;
    if (n > w->max || w->len > w->max - n) {
        w->rc = TG_ELIMIT;
        return false;
    }
    need = w->len + n + 1;
    if (need <= w->cap)
        return true;
    nc = w->cap ? w->cap : 512;
    while (nc < need)
        nc *= 2;
    if (nc > w->max + 1)
        nc = w->max + 1;
    if (w->a != NULL) {
        /* the old block stays in the arena: growth doubles, so the waste
         * is below the final size */
        nb = tg_arena_alloc(w->a, nc);
        if (nb != NULL && w->len > 0)
            memcpy(nb, w->buf, w->len + 1);
    } else {
        nb = realloc(w->buf, nc);
    }
    if (nb == NULL) {
        w->rc = TG_ENOMEM;
        return false;
    }
    w->buf = nb;
    w->cap = nc;
    return true;
}

/* Reserve about n bytes at once (an estimate of the final size). */
void
tg__jw_reserve(struct tg__jw *w, size_t n)
{
    char *nb;

    if (n > w->max)
        n = w->max;
    if (w->rc != TG_OK || n + 1 <= w->cap)
        return;
    nb = w->a != NULL ? tg_arena_alloc(w->a, n + 1) : realloc(w->buf, n + 1);
    if (nb == NULL) {
        w->rc = TG_ENOMEM;
        return;
    }
    if (w->a != NULL && w->len > 0)
        memcpy(nb, w->buf, w->len + 1);
    w->buf = nb;
    w->cap = n + 1;
}

/* Offset of the next byte at or after i that JSON must escape ('"', '\\',
 * a control character), n if none: 16 bytes per step where SSE2 is there,
 * as the parser crosses strings (engine/json.c). */
static size_t
next_to_escape(const char *s, size_t i, size_t n)
{
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), ctl = _mm_set1_epi8(0x1f);
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)),
                                 _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
        unsigned bits = (unsigned)_mm_movemask_epi8(m);
        if (bits != 0)
            return i + (size_t)__builtin_ctz(bits);
        i += 16;
    }
#endif
    /* the tail (and short keys): one table lookup per byte */
    while (i < n && !tg__dialect_json_esc[(unsigned char)s[i]])
        i++;
    return i;
}

/* s[0..n) as the inside of a JSON string (no quotes). */
void
tg__jw_esc(struct tg__jw *w, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t i = 0, j;

    while ((j = next_to_escape(s, i, n)) < n) {
        unsigned char c = (unsigned char)s[j];
        char e[6];
        size_t el = 2;
        tg__jw_raw(w, s + i, j - i);
        e[0] = '\\';
        switch (c) {
        case '"':  e[1] = '"';  break;
        case '\\': e[1] = '\\'; break;
        case '\n': e[1] = 'n';  break;
        case '\r': e[1] = 'r';  break;
        case '\t': e[1] = 't';  break;
        case '\b': e[1] = 'b';  break;
        case '\f': e[1] = 'f';  break;
        default:
            e[1] = 'u'; e[2] = '0'; e[3] = '0'; e[4] = hex[c >> 4]; e[5] = hex[c & 15];
            el = 6;
        }
        tg__jw_raw(w, e, el);
        i = j + 1;
    }
    tg__jw_raw(w, s + i, n - i);
}

/* s[0..n), which needs no escape, between quotes. */
static void
jw_plain(struct tg__jw *w, const char *s, size_t n)
{
    if (w->rc != TG_OK || (w->len + n + 3 > w->cap && !tg__jw_room(w, n + 2)))
        return;
    w->buf[w->len] = '"';
    memcpy(w->buf + w->len + 1, s, n);
    w->buf[w->len + n + 1] = '"';
    w->len += n + 2;
    w->buf[w->len] = '\0';
}

/* s[0..n) as a quoted JSON string. */
void
tg__jw_strn(struct tg__jw *w, const char *s, size_t n)
{
    /* Most strings (keys, ids, prose) need no escape: one scan, one copy. */
    if (next_to_escape(s, 0, n) == n) {
        jw_plain(w, s, n);
        return;
    }
    TG__JW_LIT(w, "\"");
    tg__jw_esc(w, s, n);
    TG__JW_LIT(w, "\"");
}

/* A quoted string, or null for NULL. */
void
tg__jw_str(struct tg__jw *w, const char *s)
{
    if (s == NULL)
        TG__JW_LIT(w, "null");
    else
        tg__jw_strn(w, s, strlen(s));
}

/* A C string as it is (JSON text the caller made). */
void
tg__jw_cstr(struct tg__jw *w, const char *s)
{
    tg__jw_raw(w, s, strlen(s));
}

void
tg__jw_int(struct tg__jw *w, int64_t v)
{
    char t[TG__DIALECT_INT_CHARS], *q = tg__dialect_fmt_int(t, v);
    tg__jw_raw(w, q, (size_t)(t + sizeof(t) - q));
}

static void
jw_num(struct tg__jw *w, double d)
{
    char nb[40];
    int n;

    if (!isfinite(d))
        n = snprintf(nb, sizeof(nb), "null");
    else if (d == floor(d) && fabs(d) < 1e15) {
        /* what "%.0f" prints, without the printf machinery */
        if (d == 0 && signbit(d))
            TG__JW_LIT(w, "-0");
        else
            tg__jw_int(w, (int64_t)d);
        return;
    } else {
        /* shortest of 15 or 17 digits that reads back the same double */
        n = snprintf(nb, sizeof(nb), "%1.15g", d);
        if (strtod(nb, NULL) != d)
            n = snprintf(nb, sizeof(nb), "%1.17g", d);
    }
    tg__jw_raw(w, nb, (size_t)n);
}


/* Any parsed value, verbatim (recursion bounded by the parse depth cap). */
void
tg__jw_value(struct tg__jw *w, const cJSON *v)
{
    const cJSON *c;

    if (v == NULL) {
        TG__JW_LIT(w, "null");
        return;
    }
    switch (v->type & 0xFF) {
    case cJSON_False:  TG__JW_LIT(w, "false"); break;
    case cJSON_True:   TG__JW_LIT(w, "true"); break;
    case cJSON_Number: jw_num(w, v->valuedouble); break;
    case cJSON_String:
        if ((v->type & TG_JSON_PLAIN) && v->valuestring != NULL)
            jw_plain(w, v->valuestring, strlen(v->valuestring));
        else
            tg__jw_str(w, v->valuestring ? v->valuestring : "");
        break;
    case cJSON_Array:
        TG__JW_LIT(w, "[");
        for (c = v->child; c != NULL; c = c->next) {
            if (c != v->child)
                TG__JW_LIT(w, ",");
            tg__jw_value(w, c);
        }
        TG__JW_LIT(w, "]");
        break;
    case cJSON_Object:
        TG__JW_LIT(w, "{");
        for (c = v->child; c != NULL; c = c->next) {
            const char *k = c->string ? c->string : "";
            size_t kn = 0, sep = c != v->child;
            /* `,"key":` in one write: keys are names, they rarely need
             * escapes.  One pass finds the end and any byte to escape: the
             * table marks NUL too (a control byte). */
            while (!tg__dialect_json_esc[(unsigned char)k[kn]])
                kn++;
            if (k[kn] == '\0' && w->rc == TG_OK &&
                (w->len + kn + 4 + 1 <= w->cap || tg__jw_room(w, kn + 4))) {
                char *o = w->buf + w->len;
                o[0] = ',';
                o[sep] = '"';
                memcpy(o + sep + 1, k, kn);
                o[sep + 1 + kn] = '"';
                o[sep + 2 + kn] = ':';
                w->len += sep + 3 + kn;
                w->buf[w->len] = '\0';
            } else {
                if (sep)
                    TG__JW_LIT(w, ",");
                tg__jw_str(w, k);
                TG__JW_LIT(w, ":");
            }
            tg__jw_value(w, c);
        }
        TG__JW_LIT(w, "}");
        break;
    default:           TG__JW_LIT(w, "null"); break;
    }
}
