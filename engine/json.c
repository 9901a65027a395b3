/*
 * json.c — arena-built, read-only cJSON trees (json.h).
 *
 * The grammar is RFC 8259's, strictly (json.h lists what that refuses); the
 * tree is the one cJSON 1.7 builds for the same text: numbers converted by
 * strtod with valueint saturated, the first child's prev pointing at the
 * last child.
 */
#include "engine/json.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

size_t
tg_json_next_special(const char *s, size_t i, size_t len)
{
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    while (i + 16 <= len) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)));
        if (m != 0)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#endif
    while (i < len && s[i] != '"' && s[i] != '\\')
        i++;
    return i;
}

struct jp {
    const char      *s;
    size_t           len, i;
    unsigned         depth, max_depth;
    struct tg_arena *a;
    int              rc;   /* why parsing stopped: TG_EINVAL / TG_ELIMIT / TG_ENOMEM */
};

/* RFC 8259 section 2: space, tab, LF, CR; nothing else (no form feed,
 * vertical tab, NUL or other control bytes, which cJSON skips). */
static void
skip_ws(struct jp *p)
{
    while (p->i < p->len && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
                             p->s[p->i] == '\r'))
        p->i++;
}

/* As tg_json_next_special, also stopping at a control byte (< 0x20): a
 * string may not hold one raw (RFC 8259 section 7).  *hi gets a non-zero
 * bit when a byte >= 0x80 came before the stop: without one the run is
 * ASCII and needs no UTF-8 check. */
static size_t
next_special_ctl(const char *s, size_t i, size_t len, unsigned *hi)
{
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), c1f = _mm_set1_epi8(0x1f);
    while (i + 16 <= len) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        /* unsigned v <= 0x1f  <=>  max(v, 0x1f) == 0x1f */
        __m128i ctl = _mm_cmpeq_epi8(_mm_max_epu8(v, c1f), c1f);
        unsigned m = (unsigned)_mm_movemask_epi8(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, q), _mm_cmpeq_epi8(v, bs)), ctl));
        unsigned h = (unsigned)_mm_movemask_epi8(v);   /* the top bit of each byte */
        if (m != 0) {
            *hi |= h & ((m & -m) - 1);
            return i + (size_t)__builtin_ctz(m);
        }
        *hi |= h;
        i += 16;
    }
#endif
    while (i < len && s[i] != '"' && s[i] != '\\' && (unsigned char)s[i] >= 0x20) {
        *hi |= (unsigned char)s[i] & 0x80u;
        i++;
    }
    return i;
}

size_t
tg_json_utf8_check(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < len) {
        unsigned c = s[i], need, cp, min;
        if (c < 0x80) {
            /* ASCII runs 8 bytes a step: most of any prompt. */
            while (i + 8 <= len) {
                uint64_t w;
                memcpy(&w, s + i, 8);
                if (w & 0x8080808080808080ull)
                    break;
                i += 8;
            }
            if (i < len && s[i] < 0x80)
                i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1; cp = c & 0x1F; min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2; cp = c & 0x0F; min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3; cp = c & 0x07; min = 0x10000;
        } else {
            return i;   /* a continuation byte first, C0/C1 (overlong), F5..FF */
        }
        if (len - i <= need)
            return i;   /* truncated */
        for (unsigned k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return i;   /* overlong, past Unicode, a surrogate */
        i += need + 1;
    }
    return len;
}

static int
hex4(const char *h, unsigned *out)
{
    unsigned v = 0;

    for (int k = 0; k < 4; k++) {
        char c = h[k];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return -1;
    }
    *out = v;
    return 0;
}

/* p->s[p->i] is the opening quote.  *out = the decoded string (arena);
 * *plain = it had no escape, so it holds no byte JSON must escape. */
static bool
parse_string(struct jp *p, char **out, bool *plain)
{
    size_t start = p->i + 1, end = start, n = 0;
    unsigned hi = 0;
    char *o;

    *plain = true;
    /* Find the closing quote; its distance bounds the decoded length. */
    for (;;) {
        end = next_special_ctl(p->s, end, p->len, &hi);
        if (end >= p->len)
            goto bad;
        if (p->s[end] == '"')
            break;
        if (p->s[end] != '\\') {
            p->i = end;
            goto bad;   /* a raw control byte */
        }
        *plain = false;
        if (end + 1 >= p->len)
            goto bad;   /* a backslash as the last byte */
        end += 2;
    }
    if ((o = tg_arena_alloc(p->a, end - start + 1)) == NULL) {
        p->rc = TG_ENOMEM;
        return false;
    }
    if (*plain && hi == 0) {
        /* ASCII without escapes (most keys and prose): the text is the value */
        memcpy(o, p->s + start, end - start);
        n = end - start;
        goto done;
    }
    for (size_t i = start; i < end;) {
        size_t j = tg_json_next_special(p->s, i, end);
        unsigned cp, lo;
        size_t u = tg_json_utf8_check(p->s + i, j - i);
        if (u != j - i) {
            p->i = i + u;
            goto bad;
        }
        memcpy(o + n, p->s + i, j - i);
        n += j - i;
        if (j >= end)
            break;
        /* p->s[j] == '\\' (a quote cannot occur before end) */
        switch (p->s[j + 1]) {
        case 'b':  o[n++] = '\b'; i = j + 2; continue;
        case 'f':  o[n++] = '\f'; i = j + 2; continue;
        case 'n':  o[n++] = '\n'; i = j + 2; continue;
        case 'r':  o[n++] = '\r'; i = j + 2; continue;
        case 't':  o[n++] = '\t'; i = j + 2; continue;
        case '"': case '\\': case '/':
            o[n++] = p->s[j + 1];
            i = j + 2;
            continue;
        case 'u':
            break;
        default:
            p->i = j;
            goto bad;
        }
        if (end - j < 6 || hex4(p->s + j + 2, &cp) != 0 || (cp >= 0xDC00 && cp <= 0xDFFF)) {
            p->i = j;
            goto bad;
        }
        i = j + 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            /* a high surrogate needs its low half right after */
            if (end - i < 6 || p->s[i] != '\\' || p->s[i + 1] != 'u' || hex4(p->s + i + 2, &lo) != 0 ||
                lo < 0xDC00 || lo > 0xDFFF) {
                p->i = j;
                goto bad;
            }
            cp = 0x10000 + (((cp & 0x3FF) << 10) | (lo & 0x3FF));
            i += 6;
        }
        if (cp < 0x80) {
            o[n++] = (char)cp;
        } else if (cp < 0x800) {
            o[n++] = (char)(0xC0 | (cp >> 6));
            o[n++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            o[n++] = (char)(0xE0 | (cp >> 12));
            o[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            o[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            o[n++] = (char)(0xF0 | (cp >> 18));
            o[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            o[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            o[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
done:
    o[n] = '\0';
    *out = o;
    p->i = end + 1;
    return true;
bad:
    p->rc = TG_EINVAL;
    return false;
}

/* RFC 8259 section 6: -? ( 0 | [1-9][0-9]* ) ( . [0-9]+ )? ( [eE] [+-]? [0-9]+ )?
 * and nothing number-like right after it ("01", "1.", "-.5", "1e", "+1",
 * "1.5.2" are refused, not read as a prefix). */
static bool
parse_number(struct jp *p, cJSON *item)
{
    char sbuf[64], *buf = sbuf, *after;
    const char *s = p->s + p->i;
    size_t n = p->len - p->i, k = 0;
    double d;

#define DIGIT(x) ((x) >= '0' && (x) <= '9')
    if (k < n && s[k] == '-')
        k++;
    if (k < n && s[k] == '0')
        k++;
    else if (k < n && s[k] >= '1' && s[k] <= '9')
        while (k < n && DIGIT(s[k]))
            k++;
    else
        goto bad;
    if (k < n && s[k] == '.') {
        if (++k >= n || !DIGIT(s[k]))
            goto bad;
        while (k < n && DIGIT(s[k]))
            k++;
    }
    if (k < n && (s[k] == 'e' || s[k] == 'E')) {
        k++;
        if (k < n && (s[k] == '+' || s[k] == '-'))
            k++;
        if (k >= n || !DIGIT(s[k]))
            goto bad;
        while (k < n && DIGIT(s[k]))
            k++;
    }
    if (k < n && (DIGIT(s[k]) || s[k] == '.' || s[k] == 'e' || s[k] == 'E' || s[k] == '+' || s[k] == '-'))
        goto bad;
#undef DIGIT
    {
        /* A plain integer of up to 15 digits (counts, ids, timestamps: most
         * numbers in requests and answers) is exact in a double, so summing
         * its digits gives what strtod gives, at a fraction of the cost. */
        const char *q = p->s + p->i;
        size_t neg = q[0] == '-', j = neg;
        uint64_t u = 0;
        while (j < k && j - neg < 16 && q[j] >= '0' && q[j] <= '9')
            u = u * 10 + (uint64_t)(q[j++] - '0');
        if (j == k && j > neg && j - neg <= 15) {
            d = neg ? -(double)u : (double)u;
            goto done;
        }
    }
    if (k >= sizeof(sbuf) && (buf = tg_arena_alloc(p->a, k + 1)) == NULL) {
        p->rc = TG_ENOMEM;
        return false;
    }
    memcpy(buf, s, k);
    buf[k] = '\0';
    d = strtod(buf, &after);
    if (after != buf + k)
        goto bad;   /* cannot happen for the grammar above; kept as a guard */
done:
    item->type = cJSON_Number;
    item->valuedouble = d;
    if (d >= INT_MAX)
        item->valueint = INT_MAX;
    else if (d <= (double)INT_MIN)
        item->valueint = INT_MIN;
    else
        item->valueint = (int)d;
    p->i += k;
    return true;
bad:
    p->i += k;
    p->rc = TG_EINVAL;
    return false;
}

static bool parse_value(struct jp *p, cJSON *item);

static cJSON *
new_item(struct jp *p)
{
    cJSON *c = tg_arena_alloc(p->a, sizeof(*c));
    if (c == NULL)
        p->rc = TG_ENOMEM;
    else
        *c = (cJSON){ 0 };   /* stores the compiler inlines, not a memset call */
    return c;
}

/* '[' or '{' at p->i. */
static bool
parse_container(struct jp *p, cJSON *item, bool object)
{
    char close = object ? '}' : ']';
    cJSON *head = NULL, *cur = NULL;

    if (++p->depth > p->max_depth) {
        p->rc = TG_ELIMIT;
        return false;
    }
    p->i++;
    skip_ws(p);
    if (p->i < p->len && p->s[p->i] == close)
        goto done;
    for (;;) {
        cJSON *c = new_item(p);
        if (c == NULL)
            return false;
        if (head == NULL) {
            head = c;
        } else {
            cur->next = c;
            c->prev = cur;
        }
        cur = c;
        skip_ws(p);
        if (object) {
            bool kplain;
            if (p->i >= p->len || p->s[p->i] != '"' || !parse_string(p, &c->string, &kplain)) {
                if (p->rc == 0)
                    p->rc = TG_EINVAL;
                return false;
            }
            skip_ws(p);
            if (p->i >= p->len || p->s[p->i] != ':') {
                p->rc = TG_EINVAL;
                return false;
            }
            p->i++;
            skip_ws(p);
        }
        if (!parse_value(p, c))
            return false;
        skip_ws(p);
        if (p->i < p->len && p->s[p->i] == ',') {
            p->i++;
            continue;
        }
        if (p->i < p->len && p->s[p->i] == close)
            break;
        p->rc = TG_EINVAL;
        return false;
    }
done:
    if (head != NULL)
        head->prev = cur;
    item->type = object ? cJSON_Object : cJSON_Array;
    item->child = head;
    p->i++;
    p->depth--;
    return true;
}

static bool
parse_value(struct jp *p, cJSON *item)
{
    const char *s = p->s + p->i;
    size_t left = p->len - p->i;

    if (left >= 4 && memcmp(s, "null", 4) == 0) {
        item->type = cJSON_NULL;
        p->i += 4;
        return true;
    }
    if (left >= 5 && memcmp(s, "false", 5) == 0) {
        item->type = cJSON_False;
        p->i += 5;
        return true;
    }
    if (left >= 4 && memcmp(s, "true", 4) == 0) {
        item->type = cJSON_True;
        item->valueint = 1;
        p->i += 4;
        return true;
    }
    if (left == 0) {
        p->rc = TG_EINVAL;
        return false;
    }
    if (*s == '"') {
        bool plain;
        if (!parse_string(p, &item->valuestring, &plain))
            return false;
        item->type = cJSON_String | (plain ? TG_JSON_PLAIN : 0);
        return true;
    }
    if (*s == '-' || (*s >= '0' && *s <= '9'))
        return parse_number(p, item);
    if (*s == '[' || *s == '{')
        return parse_container(p, item, *s == '{');
    p->rc = TG_EINVAL;
    return false;
}

int
tg_json_parse(const char *s, size_t len, unsigned max_depth, struct tg_arena *a, cJSON **out,
              const char **end)
{
    struct jp p = { s, len, 0, 0, max_depth, a, 0 };
    cJSON *root;

    *out = NULL;
    /* No BOM skipping: it is not JSON whitespace (RFC 8259 section 8.1). */
    skip_ws(&p);
    if ((root = new_item(&p)) == NULL || !parse_value(&p, root)) {
        if (end != NULL)
            *end = s + (p.i < len ? p.i : len);
        return p.rc != 0 ? p.rc : TG_EINVAL;
    }
    if (end != NULL)
        *end = s + p.i;
    *out = root;
    return TG_OK;
}

int
tg_json_text(const char *s, size_t len, unsigned max_depth, struct tg_arena *a, cJSON **out,
             size_t *off, bool *trailing)
{
    const char *end = NULL;
    int rc;
    size_t i;

    if (trailing != NULL)
        *trailing = false;
    rc = tg_json_parse(s, len, max_depth, a, out, &end);
    i = end != NULL && end >= s ? (size_t)(end - s) : 0;

    if (rc == TG_OK) {
        while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'))
            i++;
        if (i < len) {
            *out = NULL;
            rc = TG_EINVAL;   /* trailing data after the value */
            if (trailing != NULL)
                *trailing = true;
        }
    }
    if (off != NULL)
        *off = i;
    return rc;
}
