/*
 * pii_norm.c — what the scanner reads: the text as a model would read it.
 *
 * Personal data written to slip past a byte-wise scanner reads the same to
 * an LLM: digits of another script (Arabic-Indic ٤١١١, Devanagari ४१११,
 * full-width, mathematical bold, circled, superscript), invisible format
 * characters between the digits (zero-width space and joiners, word
 * joiner, bidi marks and isolates, BOM, soft hyphen, variation selectors),
 * unusual spaces and dashes, JSON "\uXXXX", "\n" and "\t" escapes in tool arguments,
 * percent-encoding (jane%40example.com) and HTML character references
 * (jane&#64;example.com, &commat;).  The normaliser folds each of these to
 * the ASCII byte it stands for (or drops it), copies everything else as
 * is, and records where each run of output came from (segments), so
 * findings map back to the client's own text.
 * Each output byte consumes at least one input byte: the output is never
 * longer than the input.
 */
#include "engine/pii_int.h"

#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Decimal digit zeros of every script with a contiguous 0..9 block (Unicode
 * general category Nd).  A code point in [z, z+9] is the digit cp - z. */
static const uint32_t digit_zeros[] = {
    0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66,
    0x0DE6, 0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90,
    0x1B50, 0x1BB0, 0x1C40, 0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10,
    0x104A0, 0x10D30, 0x11066, 0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650,
    0x116C0, 0x11730, 0x118E0, 0x11950, 0x11C50, 0x11D50, 0x11DA0, 0x16A60, 0x16AC0, 0x16B50,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E950, 0x1FBF0,
};

/*
 * What a code point reads as: an ASCII byte (1..127), 0 to drop it, or -1
 * to keep its bytes as they are.
 */
static int
fold_cp(uint32_t cp)
{
    if (cp < 0x80)
        return (int)cp;
    /* invisible and format characters */
    if (cp == 0x00AD || cp == 0x034F || cp == 0x061C || cp == 0x180E || (cp >= 0x200B && cp <= 0x200F) ||
        (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2064) || (cp >= 0x2066 && cp <= 0x2069) ||
        cp == 0xFEFF || (cp >= 0xFE00 && cp <= 0xFE0F))
        return 0;
    /* spaces */
    if (cp == 0x00A0 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x202F || cp == 0x205F || cp == 0x3000)
        return ' ';
    /* dashes and minus */
    if ((cp >= 0x2010 && cp <= 0x2015) || cp == 0x2212 || cp == 0xFE58 || cp == 0xFE63)
        return '-';
    /* full-width ASCII */
    if (cp >= 0xFF01 && cp <= 0xFF5E)
        return (int)(0x21 + (cp - 0xFF01));
    /* small forms and other compatibility punctuation that matters to identifiers */
    if (cp == 0xFE52 || cp == 0x2024)
        return '.';
    if (cp == 0xFE6B)
        return '@';
    /* superscript, subscript and circled digits */
    if (cp == 0x2070 || cp == 0x2080 || cp == 0x24EA || cp == 0x1F100)
        return '0';
    if (cp == 0x00B9)
        return '1';
    if (cp == 0x00B2 || cp == 0x00B3)
        return (int)('2' + (cp - 0x00B2));
    if (cp >= 0x2074 && cp <= 0x2079)
        return (int)('4' + (cp - 0x2074));
    if (cp >= 0x2081 && cp <= 0x2089)
        return (int)('1' + (cp - 0x2081));
    if (cp >= 0x2460 && cp <= 0x2468)
        return (int)('1' + (cp - 0x2460));
    if (cp >= 0x2776 && cp <= 0x277E)
        return (int)('1' + (cp - 0x2776));
    if (cp >= 0x2780 && cp <= 0x2788)
        return (int)('1' + (cp - 0x2780));
    if (cp >= 0x278A && cp <= 0x2792)
        return (int)('1' + (cp - 0x278A));
    for (size_t i = 0; i < TG_ARRAY_LEN(digit_zeros); i++)
        if (cp >= digit_zeros[i] && cp <= digit_zeros[i] + 9)
            return (int)('0' + (cp - digit_zeros[i]));
    return -1;
}

/* Decode one UTF-8 sequence at t (strict: no overlongs, no surrogates);
 * its length, or 0 when t does not start a valid sequence. */
static size_t
utf8_at(const unsigned char *t, size_t n, uint32_t *cp)
{
    unsigned char c = t[0];

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF && n >= 2 && (t[1] & 0xC0) == 0x80) {
        *cp = (uint32_t)(c & 0x1F) << 6 | (t[1] & 0x3F);
        return 2;
    }
    if (c >= 0xE0 && c <= 0xEF && n >= 3 && (t[1] & 0xC0) == 0x80 && (t[2] & 0xC0) == 0x80) {
        *cp = (uint32_t)(c & 0x0F) << 12 | (uint32_t)(t[1] & 0x3F) << 6 | (t[2] & 0x3F);
        return *cp >= 0x800 && (*cp < 0xD800 || *cp > 0xDFFF) ? 3 : 0;
    }
    if (c >= 0xF0 && c <= 0xF4 && n >= 4 && (t[1] & 0xC0) == 0x80 && (t[2] & 0xC0) == 0x80 &&
        (t[3] & 0xC0) == 0x80) {
        *cp = (uint32_t)(c & 0x07) << 18 | (uint32_t)(t[1] & 0x3F) << 12 | (uint32_t)(t[2] & 0x3F) << 6 |
              (t[3] & 0x3F);
        return *cp >= 0x10000 && *cp <= 0x10FFFF ? 4 : 0;
    }
    return 0;
}

static int
hexval(unsigned char c)
{
    return c >= '0' && c <= '9' ? c - '0' : (c | 0x20) >= 'a' && (c | 0x20) <= 'f' ? (c | 0x20) - 'a' + 10 : -1;
}

/* "\uXXXX" (JSON text inside tool arguments): the code point, or -1. */
static long
json_escape(const unsigned char *t, size_t n)
{
    long v = 0;

    if (n < 6 || t[0] != '\\' || t[1] != 'u')
        return -1;
    for (int k = 2; k < 6; k++) {
        int d = hexval(t[k]);
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* "\n", "\r", "\t", "\/" (JSON text inside tool arguments: a card written
 * over lines is "4111\n1111..." there): the character, or -1.  Only these:
 * "\\" and "\"" read as themselves anyway. */
static long
json_short_escape(const unsigned char *t, size_t n)
{
    if (n < 2 || t[0] != '\\')
        return -1;
    switch (t[1]) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case '/': return '/';
    default: return -1;
    }
}

/* "%XX" decoding to a printable ASCII byte (jane%40example.com) or a
 * space (a URL query's "iban=DE89%203704..."): the byte, or -1.  Only
 * those: a percent-encoded control or non-ASCII byte reads as nothing an
 * identifier is made of. */
static int
pct_escape(const unsigned char *t, size_t n)
{
    int hi, lo, v;

    if (n < 3 || t[0] != '%' || (hi = hexval(t[1])) < 0 || (lo = hexval(t[2])) < 0)
        return -1;
    v = hi * 16 + lo;
    return v >= 0x20 && v < 0x7F ? v : -1;
}

/* HTML character references: &#64; &#x40; and the few named ones an
 * identifier is written with.  The code point and the reference's length. */
static long
html_ref(const unsigned char *t, size_t n, size_t *len)
{
    static const struct { const char *name; long cp; } named[] = {
        { "&commat;", '@' }, { "&period;", '.' }, { "&hyphen;", '-' }, { "&dash;", '-' },
        { "&minus;", '-' },  { "&plus;", '+' },   { "&nbsp;", 0xA0 }, { "&amp;", '&' },
        { "&num;", '#' },    { "&colon;", ':' },  { "&sol;", '/' },   { "&lowbar;", '_' },
        { "&lpar;", '(' },   { "&rpar;", ')' },   { "&equals;", '=' }, { "&quot;", '"' },
        { "&apos;", '\'' },  { "&lt;", '<' },     { "&gt;", '>' },
    };
    if (n < 4 || t[0] != '&')
        return -1;
    if (t[1] == '#') {
        size_t i = 2;
        long v = 0;
        bool hex = i < n && (t[i] == 'x' || t[i] == 'X');
        if (hex)
            i++;
        size_t start = i;
        while (i < n && i - start < 7) {
            int d = hex ? hexval(t[i]) : (t[i] >= '0' && t[i] <= '9' ? t[i] - '0' : -1);
            if (d < 0)
                break;
            v = v * (hex ? 16 : 10) + d;
            i++;
        }
        if (i == start || i >= n || t[i] != ';' || v <= 0 || v > 0x10FFFF)
            return -1;
        *len = i + 1;
        return v;
    }
    for (size_t k = 0; k < TG_ARRAY_LEN(named); k++) {
        size_t l = strlen(named[k].name);
        if (l <= n && memcmp(t, named[k].name, l) == 0) {
            *len = l;
            return named[k].cp;
        }
    }
    return -1;
}

/* Length of the run at t that needs no normalising: ASCII other than
 * '\\', '%' and '&' — sixteen bytes a step with SSE2, else eight. */
static inline size_t
plain_run(const unsigned char *t, size_t n)
{
    size_t i = 0;

#if defined(__SSE2__)
    const __m128i bs = _mm_set1_epi8('\\'), pc = _mm_set1_epi8('%'), am = _mm_set1_epi8('&');
    while (i + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + i));
        __m128i hit = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, bs), _mm_cmpeq_epi8(v, pc)),
                                   _mm_cmpeq_epi8(v, am));
        /* movemask of v itself gives the bytes >= 0x80 */
        unsigned m = (unsigned)_mm_movemask_epi8(hit) | (unsigned)_mm_movemask_epi8(v);
        if (m != 0)
            return i + (size_t)__builtin_ctz(m);
        i += 16;
    }
#else
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    while (i + 8 <= n) {
        uint64_t w, a, b, c;
        memcpy(&w, t + i, 8);
        a = w ^ (ones * '\\');
        b = w ^ (ones * '%');
        c = w ^ (ones * '&');
        if ((w & high) || (((a - ones) & ~a) & high) || (((b - ones) & ~b) & high) || (((c - ones) & ~c) & high))
            break;
        i += 8;
    }
#endif
    while (i < n && t[i] < 0x80 && t[i] != '\\' && t[i] != '%' && t[i] != '&')
        i++;
    return i;
}

bool
tg__pii_needs_norm(const unsigned char *t, size_t n)
{
    /* pure ASCII without '\\', '%' or '&' (most text) needs nothing */
    return plain_run(t, n) < n;
}

/* Output byte o came from input [i, i + w): extend the last segment when
 * it continues it, start a new one otherwise. */
static inline void
seg_put(struct tg__pii_seg *seg, size_t *nseg, size_t o, size_t i, uint32_t w)
{
    if (*nseg > 0) {
        const struct tg__pii_seg *l = &seg[*nseg - 1];
        if (l->w == w && (size_t)l->i + (o - l->o) * w == i)
            return;
    }
    seg[*nseg].o = (uint32_t)o;
    seg[*nseg].i = (uint32_t)i;
    seg[*nseg].w = w;
    (*nseg)++;
}

size_t
tg__pii_normalise(char *out, struct tg__pii_seg *seg, size_t *nseg, const unsigned char *t, size_t n,
                  bool *same)
{
    size_t i = 0, o = 0;
    /* Until the first character that reads differently nothing is written:
     * text with a '%' or an accent that folds to nothing else is scanned
     * where it is, without a copy. */
    bool copying = false;

    *nseg = 0;
    while (i < n) {
        unsigned char c;
        size_t used = 1, run = plain_run(t + i, n - i);
        long v = -1;
        int f;

        if (run > 0) {
            if (copying) {
                memcpy(out + o, t + i, run);
                seg_put(seg, nseg, o, i, 1);
            }
            o += run;
            i += run;
            if (i == n)
                break;
        }
        c = t[i];
        if (c == '\\' && (v = json_escape(t + i, n - i)) >= 0) {
            used = 6;
        } else if (c == '\\' && i + 1 < n && t[i + 1] == '\\' && (v = json_escape(t + i + 1, n - i - 1)) >= 0) {
            /* an escaped escape (JSON inside a JSON string: tool arguments
             * that carry JSON text) reads the same to a model */
            used = 7;
        } else if (c == '\\' && (v = json_short_escape(t + i, n - i)) >= 0) {
            used = 2;
        } else if (c == '%' && (v = pct_escape(t + i, n - i)) >= 0) {
            used = 3;
        } else if (c == '&' && (v = html_ref(t + i, n - i, &used)) >= 0) {
            /* used set by html_ref */
        } else if (c >= 0x80) {
            uint32_t cp;
            size_t k = utf8_at(t + i, n - i, &cp);
            if (k > 0) {
                v = cp;
                used = k;
            }
        }
        f = v < 0 ? -1 : fold_cp((uint32_t)v);
        if (f < 0 || (f > 0 && used == 1)) {
            /* as is: a byte of an invalid sequence, a lone escape byte, an
             * escape of something that does not fold (its text is kept),
             * or a character that reads as itself */
            size_t k = (v < 0 || c == '\\' || c == '%' || c == '&') ? 1 : used;
            if (copying) {
                memcpy(out + o, t + i, k);
                seg_put(seg, nseg, o, i, 1);
            }
            o += k;
            i += k;
            continue;
        }
        if (!copying) {
            /* the first change: everything before it was as is */
            memcpy(out, t, i);
            if (i > 0)
                seg_put(seg, nseg, 0, 0, 1);
            copying = true;
        }
        if (f == 0) {          /* dropped: invisible */
            i += used;
            continue;
        }
        out[o] = (char)f;
        seg_put(seg, nseg, o, i, (uint32_t)used);
        o++;
        i += used;
    }
    *same = !copying;
    if (copying)
        out[o] = '\0';
    return o;
}

void
tg__pii_norm_span(const struct tg__pii_seg *seg, size_t nseg, uint32_t s, uint32_t e,
                  uint32_t *is, uint32_t *ie)
{
    const struct tg__pii_seg *a, *b;
    size_t lo = 0, hi = nseg;

    /* the last segment starting at or before s, then walk to e - 1 */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (seg[mid].o <= s)
            lo = mid;
        else
            hi = mid;
    }
    a = &seg[lo];
    b = a;
    while (b + 1 < seg + nseg && b[1].o <= e - 1)
        b++;
    *is = a->i + (s - a->o) * a->w;
    *ie = b->i + (e - 1 - b->o) * b->w + b->w;
}
