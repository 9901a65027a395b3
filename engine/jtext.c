/*
 * jtext.c — the one JSON text builder: bounded growth and the canonical
 * spelling of scalars (numbers, strings) shared by decisions, audit entries
 * and dialect answers.  An audit entry must hash the same bytes whichever
 * path produced it, so there is one spelling of each value.
 */
#include "engine/jtext.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char hexdig[] = "0123456789abcdef";

bool
tg__jtext_grow(struct tg_jtext *b, size_t more)
{
    size_t ncap = b->cap ? b->cap : 1024, max = b->max ? b->max : TG_JTEXT_MAX;
    char *np;

    if (b->len + more > max) {
        b->fail = true;   /* past the stated maximum: the render fails, never truncates */
        return false;
    }
    while (ncap - b->len < more)
        ncap *= 2;
    if (ncap > max)
        ncap = max;
    if ((np = realloc(b->p, ncap)) == NULL) {
        b->fail = true;
        return false;
    }
    b->p = np;
    b->cap = ncap;
    return true;
}

void
tg_jtext_printf(struct tg_jtext *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (b->fail)
        return;
    va_start(ap, fmt);
    n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->fail = true;
        return;
    }
    if (b->p != NULL && (size_t)n < b->cap - b->len) {
        b->len += (size_t)n;
        return;
    }
    if (!tg_jtext_room(b, (size_t)n + 1))
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void
tg_jtext_free(struct tg_jtext *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}


size_t
tg_jtext_fmt_i64(int64_t v, char *out)
{
    char tmp[20];
    size_t n = 0, k = 0;
    /* Magnitude in unsigned arithmetic: -INT64_MIN does not fit an int64_t. */
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        out[k++] = '-';
    while (n > 0)
        out[k++] = tmp[--n];
    return k;
}

/*
 * %1.15g without printf for the common fractional values (prices, costs):
 * d is m / 10^k for an integer m of at most 15 digits.  Such a decimal is
 * the only one of 15 significant digits that rounds to d (they lie further
 * apart than a double's ulp), so it is exactly what %1.15g prints, and it
 * reads back as d (the %1.17g retry is never taken).  m / 10^k with both
 * exact doubles (k <= 22) is one correctly rounded division, so the check
 * `m / 10^k == d` is exact; the smallest such k leaves m without trailing
 * zeros, as %g strips them.  Returns 0 when d has no such form (then printf).
 */
static size_t
short_decimal(double d, char *out)
{
    static const double p10[] = { 1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
    double a = fabs(d), m = 0;
    char dig[20];
    int k, nd = 0, x;
    size_t o = 0;
    int64_t mi;

    if (a >= 1e14 || a < 1e-7)
        return 0;
    for (k = 1; k <= 22; k++) {
        m = nearbyint(a * p10[k]);
        if (m >= 1e15)
            return 0;
        if (m / p10[k] == a)
            break;
    }
    if (k > 22 || m < 1)
        return 0;
    for (mi = (int64_t)m; mi > 0; mi /= 10)
        dig[nd++] = (char)('0' + mi % 10);   /* least significant first */
    x = nd - 1 - k;                           /* decimal exponent of the leading digit */
    if (d < 0)
        out[o++] = '-';
    if (x >= -4) {
        /* fixed: x < 14 here, below %1.15g's precision */
        if (x < 0) {
            out[o++] = '0';
            out[o++] = '.';
            for (int i = -1; i > x; i--)
                out[o++] = '0';
        }
        for (int i = nd - 1; i >= 0; i--) {
            out[o++] = dig[i];
            if (i == k && i > 0 && x >= 0)
                out[o++] = '.';
        }
    } else {
        /* exponential: d[.ddd]e-XX, at least two exponent digits */
        out[o++] = dig[nd - 1];
        if (nd > 1) {
            out[o++] = '.';
            for (int i = nd - 2; i >= 0; i--)
                out[o++] = dig[i];
        }
        out[o++] = 'e';
        out[o++] = '-';
        x = -x;
        if (x >= 100)
            out[o++] = (char)('0' + x / 100);
        out[o++] = (char)('0' + x / 10 % 10);
        out[o++] = (char)('0' + x % 10);
    }
    return o;
}

size_t
tg_jtext_fmt_num(double d, char out[TG_JTEXT_NUM_MAX])
{
    int n;

    if (!isfinite(d)) {
        memcpy(out, "null", 4);
        return 4;
    }
    /* Almost every number of an entry is an integer (counts, offsets, ms):
     * no snprintf for those.  The bound keeps the cast defined and exact. */
    if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d)
        return tg_jtext_fmt_i64((int64_t)d, out);
    if ((n = (int)short_decimal(d, out)) > 0)
        return (size_t)n;
    n = snprintf(out, TG_JTEXT_NUM_MAX, "%1.15g", d);
    if (strtod(out, NULL) != d)
        n = snprintf(out, TG_JTEXT_NUM_MAX, "%1.17g", d);
    return n > 0 && (size_t)n < TG_JTEXT_NUM_MAX ? (size_t)n : 0;
}

/* Per byte: 0 = copied as is, otherwise the letter after the backslash ('u': \u00xx). */
static const char esc_tab[256] = {
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'b', 't', 'n', 'u', 'f', 'r', 'u', 'u',
    'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u', 'u',
    ['"'] = '"', ['\\'] = '\\',
};

/* Does any of the 8 bytes at p need escaping (below 0x20, '"' or '\\')?
 * Word-at-a-time tests (exact, bytes >= 0x80 never match): a byte below n
 * borrows into its top bit in w - n*0x01..; an equal byte is a zero of w ^ c*0x01... */
static inline bool
word_needs_escape(const char *p)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t w, q, bs;

    memcpy(&w, p, 8);
    q = w ^ (ones * '"');
    bs = w ^ (ones * '\\');
    return (((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & high;
}

size_t
tg_jtext_esc_str(char *dst, const char *s, size_t n)
{
    char *o = dst;
    size_t i = 0;

    *o++ = '"';
    for (;;) {
        /* Most strings (ids, names, messages) need no escaping at all: copy
         * each clean run with one memcpy. */
        size_t j = i;
        while (j + 8 <= n && !word_needs_escape(s + j))
            j += 8;
        while (j < n && esc_tab[(unsigned char)s[j]] == 0)
            j++;
        memcpy(o, s + i, j - i);
        o += j - i;
        if (j == n)
            break;
        unsigned char c = (unsigned char)s[j];
        char e = esc_tab[c];
        *o++ = '\\';
        *o++ = e;
        if (e == 'u') {
            *o++ = '0';
            *o++ = '0';
            *o++ = hexdig[c >> 4];
            *o++ = hexdig[c & 15];
        }
        i = j + 1;
    }
    *o++ = '"';
    return (size_t)(o - dst);
}
