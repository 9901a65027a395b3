/*
 * pii.c — the PII/secret scanner: the prefilter, candidate windows, context
 * (words beside a match, a table's column header) and the detectors' runs.
 * The database it reads is built by engine/pii_db.c, the text it reads is
 * normalised by engine/pii_norm.c, and engine/pii_request.c scans a whole
 * request with it.
 *
 * Why a prefilter: running ~30 PCRE2 patterns over every byte costs far
 * more than the scan budget.  One pass skips, sixteen bytes at a time
 * (SSE2; eight without it), to the next byte that can take part in a
 * candidate (a digit, '@', ':', '=', '_', "--"); only the
 * whitespace-delimited token around it is examined.
 * Its byte classes give the triggers (digits, '@', hex separators, dotted
 * quads, long tokens, capitals+digits, "key=" assignments, "-----BEGIN"),
 * and a triggered token opens a candidate window of the token plus a few
 * neighbouring bytes.  Per window we compute cheap features (digit
 * cluster lengths, literals, context words when a context-only detector
 * needs them) and run only the detectors whose prefilter admits them, over
 * that window alone.  Plain prose costs well under one operation per byte.
 *
 * Where the time goes on numeric-heavy text is per window, so the window
 * path works on bitmaps (digits, separators, letters, whitespace: SSE2
 * compares, 16 bytes a step) rather than byte loops with a mispredicted
 * exit: detectors are admitted by OR-ing precomputed masks, the gate of
 * context-only detectors looks only for their own context words, and the
 * full context/exclude words are read once per surviving match.
 *
 * Scores: base score from the pack; a validator may drop the match or set
 * its score (1.0 = checksum confirmed); a context word (whole word, up to
 * CTX_BEFORE bytes before / CTX_AFTER after) adds CTX_BOOST, capped at 1.
 * Overlaps are resolved by score, then length.
 */
#include "engine/pii_db_int.h"
#include "engine/limits.h"
#include "engine/request.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Bytes of context looked at before / after a match for context words. */
#define CTX_BEFORE 48u
#define CTX_AFTER  16u
/* Window extension around a trigger token. */
#define WIN_BACK   16u
#define WIN_FWD    8u
#define WIN_SNAP   256u       /* max bytes to extend to a token boundary */
#define PEM_MAX    65536u     /* a PEM block longer than this is cut off */
#define PEM_CUT    4096u      /* bytes after a BEGIN line without an END line */
#define WIN_MERGE_MAX 1024u   /* windows merge up to this size, then a new one starts */

/* ---- byte classes ---------------------------------------------------------- */

enum {
    C_WS = 0x01, C_DIGIT = 0x02, C_AT = 0x04, C_COLON = 0x08, C_DASH = 0x10, C_EQ = 0x20,
    C_DOT = 0x40, C_PUNCT = 0x80,   /* '/', '_', '+': not in addresses */
};

static const uint8_t bclass[256] = {
    [' '] = C_WS, ['\t'] = C_WS, ['\n'] = C_WS, ['\r'] = C_WS, ['\v'] = C_WS, ['\f'] = C_WS,
    ['0'] = C_DIGIT, ['1'] = C_DIGIT, ['2'] = C_DIGIT, ['3'] = C_DIGIT, ['4'] = C_DIGIT,
    ['5'] = C_DIGIT, ['6'] = C_DIGIT, ['7'] = C_DIGIT, ['8'] = C_DIGIT, ['9'] = C_DIGIT,
    ['@'] = C_AT, [':'] = C_COLON, ['-'] = C_DASH, ['='] = C_EQ, ['.'] = C_DOT, ['/'] = C_PUNCT, ['_'] = C_PUNCT, ['+'] = C_PUNCT,
};

/* Bytes that can begin a candidate: digits, '@', ':', '=', '_', '-'. */
static const uint8_t interesting[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['@'] = 1, [':'] = 1, ['='] = 1, ['_'] = 1, ['-'] = 1,
};

#define TOKEN_BACK_MAX 4096u   /* a trigger deep inside a huge token looks back this far */

static inline bool is_ws(unsigned char c) { return bclass[c] & C_WS; }
static inline bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A 16-bit mask's population count without the POPCNT instruction (not
 * in the x86-64 baseline; GCC would call libgcc for it). */
static inline unsigned
pop16(unsigned x)
{
    x = x - ((x >> 1) & 0x5555u);
    x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
    x = (x + (x >> 4)) & 0x0f0fu;
    return (x + (x >> 8)) & 0x1fu;
}

/* Bit k set when p[k] (k < nb <= 64) is a word byte (is_wordc); avail
 * bytes may be read (>= nb): whole SSE blocks over-read into them, their
 * bits past nb cleared, instead of a byte loop over the last block. */
static inline uint64_t
alnum_bits(const unsigned char *p, size_t nb, size_t avail)
{
    uint64_t am = 0;
    size_t k = 0;
#if defined(__SSE2__)
    const __m128i x20 = _mm_set1_epi8(0x20), offa = _mm_set1_epi8((char)(0x80 - 'a'));
    const __m128i off0 = _mm_set1_epi8((char)(0x80 - '0'));
    const __m128i lim26 = _mm_set1_epi8((char)(-128 + 26)), lim10 = _mm_set1_epi8((char)(-128 + 10));
    for (; k < nb && k + 16 <= avail; k += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
        /* 'A'..'Z' | 0x20 = 'a'..'z'; no other byte lands there */
        __m128i al = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(v, x20), offa), lim26);
        __m128i dg = _mm_cmplt_epi8(_mm_add_epi8(v, off0), lim10);
        __m128i hi = _mm_cmplt_epi8(v, _mm_setzero_si128());   /* >= 0x80 */
        am |= (uint64_t)(unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(al, dg), hi)) << k;
    }
    if (k > nb) {
        am &= ((uint64_t)1 << nb) - 1;   /* nb < 64 here: k <= 64 */
        return am;
    }
#endif
    for (; k < nb; k++)
        am |= (uint64_t)is_wordc(p[k]) << k;
    return am;
}

/* Context mask of the whole words in t[lo, hi) that pass filter wf (their
 * first two bytes have a bit of sel); words cut by lo/hi do not count.
 * *excl (if not NULL) gets the exclude mask of the whole words in
 * t[lo, split): one pass serves both, since a word wholly before split is
 * also wholly inside [lo, hi). */
static detmask
words_mask(const struct tg_pii_db *db, const struct wfilter *wf, uint32_t sel, const unsigned char *t,
           size_t tn, size_t lo, size_t hi, size_t split, detmask *excl)
{
    detmask m = dm_zero(), x = dm_zero();
    /* a word cut at lo does not count: the byte before lo acts as a letter */
    uint64_t prev = lo > 0 && is_wordc(t[lo - 1]);
    unsigned char w[WORD_MAX];
    size_t c;

    /* 64 bytes at a time: a bitmap of letters/digits gives the word
     * starts, and only starts whose first two letters the filter admits
     * are looked at, so prose costs a few operations per byte instead of
     * a mispredicted branch per word. */
    for (c = lo; c < hi; c += 64) {
        size_t nb = hi - c < 64 ? hi - c : 64, k;
        uint64_t am = alnum_bits(t + c, nb, tn - c), fm = 0, starts, sb;
        starts = am & ~((am << 1) | prev);
        prev = am >> 63;
        sb = starts;
        if (c + nb == tn && (sb >> (nb - 1) & 1)) {
            /* a word start on the text's last byte: past it a NUL, as
             * for a one-letter word (one cut at hi is dropped below) */
            sb &= ~((uint64_t)1 << (nb - 1));
            fm = (uint64_t)((wf->w2f[(t[tn - 1] | 0x20u) | 0x2000u] & sel) != 0) << (nb - 1);
        }
        for (; sb; sb &= sb - 1) {
            /* first two bytes, folded: the compiler makes the pair one
             * 16-bit load */
            size_t at;
            k = (size_t)__builtin_ctzll(sb);
            at = c + k;
            fm |= (uint64_t)((wf->w2f[((unsigned)t[at] | (unsigned)t[at + 1] << 8) | 0x2020u] & sel) != 0) << k;
        }
        starts &= fm;
        while (starts) {
            size_t kk = (size_t)__builtin_ctzll(starts), st = c + kk, e, n;
            uint64_t nz = ~am >> kk;   /* bits past nb are clear in am */
            uint32_t h = 2166136261u;
            starts &= starts - 1;
            e = nz ? st + (size_t)__builtin_ctzll(nz) : c + 64;
            while (e < hi && is_wordc(t[e]))   /* a word running into the next chunk */
                e++;
            n = e - st;
            if (n >= WORD_MAX || !(wf->lens & (1u << n)) || (e == hi && e < tn && is_wordc(t[e])))
                continue;
            {
                unsigned k2 = w2l_key(wkey(t[st]) << 8 | (n > 1 ? wkey(t[st + 1]) : 0), n);
                if (!(wf->w2l[k2 >> 3] & (1u << (k2 & 7))))
                    continue;
            }
            for (k = 0; k < n; k++) {
                w[k] = lc(t[st + k]);
                h = (h ^ w[k]) * 16777619u;
            }
            {
                const struct wh *he = wh_find(db, w, n, h);
                if (he != NULL) {
                    dm_or(&m, &he->ctx);
                    if (e <= split)
                        dm_or(&x, &he->excl);
                }
            }
        }
    }
    if (excl != NULL)
        *excl = x;
    return m;
}


/* ---- normalisation ------------------------------------------------------------ */

/* The normaliser itself is engine/pii_norm.c. */

static int
grow_norm(struct tg_pii_scratch *s, size_t n)
{
    if (n + 1 <= s->ncap)
        return TG_OK;
    char *b = realloc(s->nbuf, n + 1);
    if (b == NULL)
        return TG_ENOMEM;
    s->nbuf = b;
    struct tg__pii_seg *g = realloc(s->nseg, (n + 1) * sizeof *g);
    if (g == NULL)
        return TG_ENOMEM;
    s->nseg = g;
    s->ncap = n + 1;
    return TG_OK;
}

/* ---- scanning ----------------------------------------------------------------- */

/* Column context: a CSV/TSV or Markdown table's header line names each
 * column, far more than CTX_BEFORE bytes above most of its values.  The
 * table around a match is found lazily and remembered, so a pasted
 * export costs one look at each line however many values it holds. */
#define COL_LINE_MAX 4096u    /* a longer line is prose, not a table row */
#define COL_BACK_MAX 65536u   /* how far above a row its header is looked for */
#define COL_HEAD_CELL 48u     /* a longer header cell is prose, not a column name */
#define COL_NEAR 64u          /* window tail searched for a delimiter: a token
                               * and the WIN_BACK bytes before it, mostly */

struct table {
    size_t floor;          /* lines before this were looked at already */
    size_t hs, he;         /* header line [hs, he); he == 0: no table */
    size_t rows_end;       /* end of the last line known to be a row */
    size_t cl_lo, cl_hi;   /* the line [cl_lo, cl_hi] last looked up ... */
    bool cl_long;          /* ... was longer than COL_LINE_MAX */
    size_t qls, qle;       /* the line last asked about ... */
    bool qin;              /* ... and whether it is a row of the table */
    unsigned char delim;
    uint32_t nd;           /* delimiters per line */
    detmask gate;          /* context-only detectors named by the header */
};

struct scan {
    const struct tg_pii_db *db;
    struct tg_pii_scratch *s;
    const unsigned char *t;
    size_t n;
    double min_score;
    detmask live;          /* detectors that can reach min_score at all */
    struct table tb;
};

/* Start of the line holding p (not below lo), or SIZE_MAX when the line is
 * longer than COL_LINE_MAX. */
static size_t
col_line_start(const unsigned char *t, size_t p, size_t lo)
{
    size_t b = p - lo > COL_LINE_MAX ? p - COL_LINE_MAX : lo;
    const unsigned char *nl = p > b ? memrchr(t + b, '\n', p - b) : NULL;
    if (nl != NULL)
        return (size_t)(nl - t) + 1;
    return b == lo ? lo : SIZE_MAX;
}

static size_t
col_line_end(const unsigned char *t, size_t n, size_t p)
{
    const unsigned char *nl = p < n ? memchr(t + p, '\n', n - p) : NULL;
    return nl != NULL ? (size_t)(nl - t) : n;
}

/* The line [*ls, *le) holding p, unless longer than COL_LINE_MAX.  The
 * last line is remembered: windows and matches come in text order, so
 * each line is searched for its ends about once, long ones included. */
static bool
col_line(struct scan *sc, size_t p, size_t *ls, size_t *le)
{
    struct table *tb = &sc->tb;
    const unsigned char *t = sc->t;
    size_t s, e, lim;
    const unsigned char *nl;

    if (tb->cl_hi != 0 && p >= tb->cl_lo && p <= tb->cl_hi) {
        *ls = tb->cl_lo;
        *le = tb->cl_hi;
        return !tb->cl_long;
    }
    s = col_line_start(t, p, 0);
    lim = s != SIZE_MAX && s + COL_LINE_MAX + 1 < sc->n ? s + COL_LINE_MAX + 1 : sc->n;
    nl = s != SIZE_MAX && p < lim ? memchr(t + p, '\n', lim - p) : NULL;
    if (s != SIZE_MAX && (nl != NULL || lim == sc->n)) {
        e = nl != NULL ? (size_t)(nl - t) : sc->n;
        tb->cl_long = e - s > COL_LINE_MAX;
    } else {
        /* too long: remember the rest of it as such */
        if (s == SIZE_MAX)
            s = p;
        e = col_line_end(t, sc->n, p);
        tb->cl_long = true;
    }
    tb->cl_lo = *ls = s;
    tb->cl_hi = *le = e;
    return !tb->cl_long;
}

#if defined(__SSE2__)
/* Sum of the byte lanes of acc (each a count of at most 255). */
static inline uint32_t
lanes_sum(__m128i acc)
{
    __m128i s = _mm_sad_epu8(acc, _mm_setzero_si128());
    return (uint32_t)_mm_cvtsi128_si32(s) + (uint32_t)_mm_cvtsi128_si32(_mm_srli_si128(s, 8));
}
#endif

/* Delimiters d in [s, e) outside double quotes; with *col (if not NULL)
 * set to how many come before stop. */
static uint32_t
col_count(const unsigned char *t, size_t s, size_t e, unsigned char d, size_t stop, uint32_t *col)
{
    uint32_t c = 0;
    bool q = false;
#if defined(__SSE2__)
    /* no quotes (most lines): sixteen bytes a step */
    if (col == NULL && memchr(t + s, '"', e - s) == NULL) {
        /* a compare is -1 per matching lane: subtracting it counts, 255
         * blocks at most before the lanes are summed */
        const __m128i dv = _mm_set1_epi8((char)d);
        while (s + 16 <= e) {
            __m128i acc = _mm_setzero_si128();
            for (unsigned b = 0; b < 255 && s + 16 <= e; b++, s += 16)
                acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(t + s)), dv));
            c += lanes_sum(acc);
        }
    }
#endif
    for (; s < e; s++) {
        if (s == stop && col != NULL)
            *col = c;
        if (t[s] == '"')
            q = !q;
        else if (t[s] == d && !q)
            c++;
    }
    return c;
}

static inline bool
col_delim_byte(unsigned char c)
{
    return c == ',' || c == '\t' || c == '|' || c == ';';
}

/* Is there a tab, '|', ';' or ',' in t[k, e) (n: the text's length)?
 * Sixteen bytes a compare with SSE2: it runs for every new line's
 * windows. */
static inline bool
col_has_delim(const unsigned char *t, size_t k, size_t e, size_t n)
{
#if defined(__SSE2__)
    const __m128i cm = _mm_set1_epi8(','), tb = _mm_set1_epi8('\t'), br = _mm_set1_epi8('|'),
                  sc = _mm_set1_epi8(';');
    for (; k < e && k + 16 <= n; k += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + k));
        __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, cm), _mm_cmpeq_epi8(v, tb)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, br), _mm_cmpeq_epi8(v, sc)));
        unsigned mm = (unsigned)_mm_movemask_epi8(m);
        if (e - k < 16)
            mm &= (1u << (e - k)) - 1;
        if (mm)
            return true;
    }
#endif
    for (; k < e; k++)
        if (col_delim_byte(t[k]))
            return true;
    return false;
}

/* The delimiter of a row: the most frequent of tab, '|', ';', ',' outside
 * double quotes (one pass for all four). */
static unsigned char
col_delim(const unsigned char *t, size_t s, size_t e, uint32_t *nd)
{
    static const unsigned char ds[5] = { 0, '\t', '|', ';', ',' };
    uint32_t c[5] = { 0 }, bn = 0;
    unsigned char best = 0;
    bool q = false;
    unsigned k;
#if defined(__SSE2__)
    if (memchr(t + s, '"', e - s) == NULL)
        while (s + 16 <= e) {
            /* per-lane counts as in col_count(), four delimiters at once */
            __m128i a1 = _mm_setzero_si128(), a2 = a1, a3 = a1, a4 = a1;
            const __m128i d1 = _mm_set1_epi8('\t'), d2 = _mm_set1_epi8('|'), d3 = _mm_set1_epi8(';'),
                          d4 = _mm_set1_epi8(',');
            for (unsigned b = 0; b < 255 && s + 16 <= e; b++, s += 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + s));
                a1 = _mm_sub_epi8(a1, _mm_cmpeq_epi8(v, d1));
                a2 = _mm_sub_epi8(a2, _mm_cmpeq_epi8(v, d2));
                a3 = _mm_sub_epi8(a3, _mm_cmpeq_epi8(v, d3));
                a4 = _mm_sub_epi8(a4, _mm_cmpeq_epi8(v, d4));
            }
            c[1] += lanes_sum(a1);
            c[2] += lanes_sum(a2);
            c[3] += lanes_sum(a3);
            c[4] += lanes_sum(a4);
        }
#endif
    for (; s < e; s++) {
        unsigned char b = t[s];
        if (b == '"')
            q = !q;
        else if (!q)
            c[b == '\t' ? 1 : b == '|' ? 2 : b == ';' ? 3 : b == ',' ? 4 : 0]++;
    }
    for (k = 1; k < 5; k++)
        if (c[k] > bn) {
            bn = c[k];
            best = ds[k];
        }
    *nd = bn;
    return best;
}

/* Does [s, e) look like a header line: names, every cell at most
 * COL_HEAD_CELL bytes?  Prose lines with as many commas as the next line
 * have long stretches between them and are not taken for a header. */
static bool
col_header(const unsigned char *t, size_t s, size_t e, unsigned char d)
{
    size_t cs = s;
    bool q = false;
    for (; s <= e; s++) {
        if (s < e && t[s] == '"')
            q = !q;
        else if (s == e || (t[s] == d && !q)) {
            if (s - cs > COL_HEAD_CELL)
                return false;
            cs = s + 1;
        }
    }
    return true;
}

/* Is the line [ls, le) a row of a table with a header line above it?
 * Fills sc->tb.  Lines are looked at about once each: rows below a known
 * header are checked from the last known row on, and a search for a new
 * header stops at the lines already looked at. */
static bool
col_table(struct scan *sc, size_t ls, size_t le)
{
    struct table *tb = &sc->tb;
    const unsigned char *t = sc->t;
    size_t h, lo;
    unsigned char d;
    uint32_t nd;

    if (ls == tb->qls && le == tb->qle)
        return tb->qin;
    tb->qls = ls;
    tb->qle = le;
    tb->qin = false;
    if (tb->he != 0 && ls >= tb->he) {
        size_t q = tb->rows_end;
        if (ls <= q)
            return tb->qin = true;
        while (q < ls) {
            size_t s2 = q + 1, e2 = col_line_end(t, sc->n, s2);
            if (e2 - s2 > COL_LINE_MAX || col_count(t, s2, e2, tb->delim, e2, NULL) != tb->nd) {
                tb->he = 0;           /* the table ended */
                tb->floor = s2;
                break;
            }
            q = e2;
        }
        if (tb->he != 0) {
            tb->rows_end = q;
            return tb->qin = true;
        }
    }
    if (ls < tb->floor)
        return false;
    d = col_delim(t, ls, le, &nd);
    if (d == 0) {
        tb->floor = le;
        return false;
    }
    lo = ls - tb->floor > COL_BACK_MAX ? ls - COL_BACK_MAX : tb->floor;
    for (h = ls; h > lo;) {
        size_t ps = col_line_start(t, h - 1, lo);
        if (ps == SIZE_MAX || col_count(t, ps, h - 1, d, h - 1, NULL) != nd)
            break;
        h = ps;
    }
    tb->floor = ls;
    if (h == ls || !col_header(t, h, col_line_end(t, sc->n, h), d))
        return false;
    tb->hs = h;
    tb->he = col_line_end(t, sc->n, h);
    tb->rows_end = le;
    tb->delim = d;
    tb->nd = nd;
    tb->gate = dm_and(words_mask(sc->db, &sc->db->wgate, ~0u, t, sc->n, tb->hs, tb->he, tb->hs, NULL),
                      &sc->db->ctx_req);
    return tb->qin = true;
}

/* Context (*cm) and exclude (*ex) words of the header cell above the value
 * [p, pe), when it is a cell of a table row; false otherwise. */
static __attribute__((noinline)) bool
col_context(struct scan *sc, size_t p, size_t pe, detmask *cm, detmask *ex)
{
    const unsigned char *t = sc->t;
    size_t ls, le, k, cs, ce, b = p, a = pe;
    uint32_t col = 0, c = 0;
    bool q = false;

    /* a value that fills its cell: a delimiter, line end or quote on both
     * sides (most matches in prose have neither and cost nothing more) */
    while (b > 0 && (t[b - 1] == ' ' || t[b - 1] == '"' || t[b - 1] == '\''))
        b--;
    while (a < sc->n && (t[a] == ' ' || t[a] == '"' || t[a] == '\'' || t[a] == '\r'))
        a++;
    if (!(b == 0 || t[b - 1] == '\n' || col_delim_byte(t[b - 1])) ||
        !(a == sc->n || t[a] == '\n' || col_delim_byte(t[a])))
        return false;
    if (!col_line(sc, p, &ls, &le) || !col_table(sc, ls, le))
        return false;
    col_count(t, ls, le, sc->tb.delim, p, &col);
    for (k = sc->tb.hs, cs = k; k < sc->tb.he && c < col; k++) {
        if (t[k] == '"')
            q = !q;
        else if (t[k] == sc->tb.delim && !q && ++c == col)
            cs = k + 1;
    }
    if (c < col)
        return false;
    for (ce = cs, q = false; ce < sc->tb.he && (q || t[ce] != sc->tb.delim); ce++)
        if (t[ce] == '"')
            q = !q;
    *cm = words_mask(sc->db, &sc->db->wall, ~0u, t, sc->n, cs, ce, ce, ex);
    return true;
}

/* Or into *m the context-only detectors named by the header of the table
 * the window [wl, wr) is in.  Out of line: most windows are prose and
 * leave after the delimiter check, and the window path stays small. */
static __attribute__((noinline)) void
col_gate(struct scan *sc, size_t wl, size_t wr, detmask *m)
{
    const struct table *tb = &sc->tb;
    /* a window reaches WIN_BACK bytes before its token and WIN_FWD after,
     * so its ends may lie on the lines around; the line of its (last)
     * token decides, one line a window, which the table remembers */
    size_t p = wr > wl + WIN_FWD ? wr - WIN_FWD - 1 : wl, ls, le;

    if (!(tb->cl_hi != 0 && p >= tb->cl_lo && p <= tb->cl_hi)) {
        /* a new line: a table row has a delimiter beside its value (within
         * the last COL_NEAR bytes); most prose windows have none */
        if (!col_has_delim(sc->t, wr - wl > COL_NEAR ? wr - COL_NEAR : wl, wr, sc->n))
            return;
    }
    if (col_line(sc, p, &ls, &le) && col_table(sc, ls, le))
        dm_or(m, &sc->tb.gate);
}

/* Those of the context-only detectors todo whose context words occur in
 * window [wl, wr) plus the context margins: only those need their pattern
 * run (a subset of ctx_req; a few more than todo when gbits are shared). */
static detmask
window_gate(struct scan *sc, size_t wl, size_t wr, const detmask *todo)
{
    size_t lo = wl > CTX_BEFORE ? wl - CTX_BEFORE : 0;
    size_t hi = wr + CTX_AFTER < sc->n ? wr + CTX_AFTER : sc->n;
    uint32_t sel = 0;
    unsigned k;
    for (k = dm_first(todo); k < MAX_DETECTORS; k = dm_next(todo, k))
        sel |= sc->db->gbit[k];
    detmask m = dm_and(words_mask(sc->db, &sc->db->wgate, sel, sc->t, sc->n, lo, hi, lo, NULL), &sc->db->ctx_req);
    /* or named by the header of the table the window is in */
    if (dm_any(&sc->db->ctx_req))
        col_gate(sc, wl, wr, &m);
    return m;
}

static int
push_cand(struct tg_pii_scratch *s, uint32_t st, uint32_t e, double score, uint32_t det)
{
    if (s->nc == s->ccap) {
        size_t nc = s->ccap ? s->ccap * 2 : 64;
        struct cand *c;
        if (nc > 4 * (size_t)TG_MAX_FINDINGS + 64)
            nc = 4 * (size_t)TG_MAX_FINDINGS + 64;
        if (s->nc == nc) {
            s->limit_hit = true;   /* far past TG_MAX_FINDINGS: fail closed */
            return TG_OK;
        }
        c = realloc(s->c, nc * sizeof *c);
        if (c == NULL)
            return TG_ENOMEM;
        s->c = c;
        s->ccap = nc;
    }
    s->c[s->nc++] = (struct cand){ st, e, (float)score, det };
    return TG_OK;
}

/* Run detector di's pattern over [wl, wr) once, for every admitted
 * detector in grp that shares it (di among them). */
static int
run_detector(struct scan *sc, uint32_t di, const detmask *grp, size_t wl, size_t wr)
{
    const struct det *d = &sc->db->d[di];
    struct tg_pii_scratch *s = sc->s;
    size_t off = wl;

    /* after a match the window's rest is mostly a word or two: too short
     * for another, and not worth a call into the matcher */
    while (off < wr && wr - off >= d->minlen) {
        int rc;
        PCRE2_SIZE *ov;
        size_t ms, me, fs, fe;
        detmask ex = dm_zero(), cm = dm_zero();
        unsigned k;
        bool have_ctx = false, have_col = false;

        if (d->jit)
            rc = pcre2_jit_match(d->re, sc->t, wr, off, 0, s->md, s->mctx);
        else
            rc = pcre2_match(d->re, sc->t, wr, off, 0, s->md, s->mctx);
        if (rc == PCRE2_ERROR_NOMATCH)
            break;
        if (rc < 0) {
            /* match/depth/heap/JIT-stack limit or anything else: fail closed */
            s->limit_hit = true;
            break;
        }
        ov = pcre2_get_ovector_pointer(s->md);
        ms = ov[0];
        me = ov[1];
        off = me > ms ? me : ms + 1;
        fs = ms;
        fe = me;
        if (d->group && (uint32_t)rc > d->group && ov[2 * d->group] != PCRE2_UNSET) {
            fs = ov[2 * d->group];
            fe = ov[2 * d->group + 1];
        }
        if (fe <= fs)
            continue;
        for (k = dm_first(grp); k < MAX_DETECTORS; k = dm_next(grp, k)) {
            const struct det *dk = &sc->db->d[k];
            double score = dk->score;
            if (dk->validate != NULL) {
                double v = dk->validate((const char *)sc->t + fs, fe - fs);
                if (v < 0)
                    continue;
                if (v > 0)
                    score = v;
            }
            if (dk->nexcl || dk->nctx) {
                /* context only now that a match survived its validator: most
                 * windows never get here; detectors sharing the match share
                 * the one pass over its words */
                if (!have_ctx) {
                    size_t lo = fs > CTX_BEFORE ? fs - CTX_BEFORE : 0;
                    size_t hi = fe + CTX_AFTER < sc->n ? fe + CTX_AFTER : sc->n;
                    cm = words_mask(sc->db, &sc->db->wall, ~0u, sc->t, sc->n, lo, hi, fs, &ex);
                    have_ctx = true;
                }
                if (dk->nexcl && dm_test(&ex, k))
                    continue;
                if (dk->nctx && !dm_test(&cm, k) && !have_col && (dk->ctx_req || score < sc->min_score)) {
                    /* no word beside it: the column's header may name it
                     * (only looked up where that decides the finding) */
                    detmask hc, hx;
                    have_col = true;
                    if (col_context(sc, fs, fe, &hc, &hx)) {
                        dm_or(&cm, &hc);
                        dm_or(&ex, &hx);
                    }
                    if (dk->nexcl && dm_test(&ex, k))
                        continue;
                }
                if (dk->nctx && dm_test(&cm, k)) {
                    if (score < 1.0)
                        score = score + CTX_BOOST > 1.0 ? 1.0 : score + CTX_BOOST;
                } else if (dk->ctx_req)
                    continue;
            }
            if (score < sc->min_score)
                continue;
            if (push_cand(s, (uint32_t)fs, (uint32_t)fe, score, k) != TG_OK)
                return TG_ENOMEM;
            if (s->limit_hit)
                return TG_OK;
        }
    }
    return TG_OK;
}

#define CLUSTER_FAST_MAX 256u

/* First bit at or after pos that is set (want) or clear (!want) in
 * bitmap b of len bits; len if none. */
static inline size_t
bit_next(const uint64_t *b, size_t pos, size_t len, bool want)
{
    while (pos < len) {
        uint64_t w = want ? b[pos >> 6] : ~b[pos >> 6];
        w >>= pos & 63;
        if (w)
            return pos + (size_t)__builtin_ctzll(w) < len ? pos + (size_t)__builtin_ctzll(w) : len;
        pos = (pos | 63) + 1;
    }
    return len;
}

/* The digit-cluster lengths of p[0, len) (len <= CLUSTER_FAST_MAX) as a
 * bitmask, exactly as the byte loop in flush_window() computes them, but
 * from bitmaps of digits and separators: the work is per run of digits,
 * not per byte.  *grouped gets the lengths of the clusters written in
 * groups: two or more runs joined by separators, or one after a '+' (a
 * cluster at p[0], whose byte before is not known here, counts as grouped,
 * and so does a CSV field of a cluster that is: this may only admit more). */
static uint64_t
digit_clusters(const unsigned char *p, size_t len, size_t avail, uint64_t *grouped)
{
    uint64_t dg[CLUSTER_FAST_MAX / 64] = { 0 }, sp[CLUSTER_FAST_MAX / 64] = { 0 }, clusters = 0, gr = 0;
    size_t k = 0, i, j, g, cur = 0, field = 0, plus = SIZE_MAX;
    bool joined = false;

#if defined(__SSE2__)
    {
        const __m128i off0 = _mm_set1_epi8((char)(0x80 - '0')), lim10 = _mm_set1_epi8((char)(-128 + 10));
        const __m128i off28 = _mm_set1_epi8((char)(0x80 - '(')), lim8 = _mm_set1_epi8((char)(-128 + 8));
        const __m128i star = _mm_set1_epi8('*'), blank = _mm_set1_epi8(' ');
        const __m128i under = _mm_set1_epi8('_'), nl = _mm_set1_epi8('\n');
        /* whole blocks while the text lasts; bits past len are cut below */
        for (; k < len && k + 16 <= avail; k += 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + k));
            __m128i d = _mm_cmplt_epi8(_mm_add_epi8(v, off0), lim10);
            /* ' ' and "()+,-./" (0x28..0x2f without '*') */
            __m128i sx = _mm_andnot_si128(_mm_cmpeq_epi8(v, star),
                                          _mm_cmplt_epi8(_mm_add_epi8(v, off28), lim8));
            sx = _mm_or_si128(sx, _mm_or_si128(_mm_cmpeq_epi8(v, blank),
                                               _mm_or_si128(_mm_cmpeq_epi8(v, under), _mm_cmpeq_epi8(v, nl))));
            dg[k >> 6] |= (uint64_t)(unsigned)_mm_movemask_epi8(d) << (k & 63);
            sp[k >> 6] |= (uint64_t)(unsigned)_mm_movemask_epi8(sx) << (k & 63);
        }
    }
#endif
    if (k > len) {
        size_t w;
        for (w = len >> 6; w < CLUSTER_FAST_MAX / 64; w++) {
            uint64_t keep = w == len >> 6 ? ((uint64_t)1 << (len & 63)) - 1 : 0;
            dg[w] &= keep;
            sp[w] &= keep;
        }
    }
    for (; k < len; k++) {
        unsigned char c = p[k];
        dg[k >> 6] |= (uint64_t)(c >= '0' && c <= '9') << (k & 63);
        sp[k >> 6] |= (uint64_t)(c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' || c == ')' ||
                                 c == '+' || c == ',' || c == '_' || c == '\n') << (k & 63);
    }
    i = bit_next(dg, 0, len, true);
    while (i < len) {
        if (cur == 0)   /* a cluster starts: after a '+' it is grouped */
            joined = i == 0 || p[i - 1] == '+';
        if (i > 0 && p[i - 1] == '+')
            plus = 0;   /* an international number starts here, whatever came before */
        j = bit_next(dg, i, len, false);       /* end of this run of digits */
        cur += j - i;
        field += j - i;
        if (plus != SIZE_MAX)
            plus += j - i;
        g = bit_next(dg, j, len, true);        /* start of the next run */
        if (g < len && g - j <= 2 && ((sp[j >> 6] >> (j & 63)) & 1) &&
            (g - j == 1 || ((sp[(j + 1) >> 6] >> ((j + 1) & 63)) & 1))) {
            if (p[j] == ',' || p[g - 1] == ',') {
                /* a comma may also end a CSV field: its digits alone count
                 * too, from four on (three or fewer are a thousands group,
                 * and admitting detectors for those costs prose time) */
                if (field >= 4) {
                    clusters |= (uint64_t)1 << (field > 63 ? 63 : field);
                    if (joined)
                        gr |= (uint64_t)1 << (field > 63 ? 63 : field);
                }
                field = 0;
            }
            joined = true;
            i = g;                             /* joined by one or two separators */
            continue;
        }
        clusters |= (uint64_t)1 << (cur > 63 ? 63 : cur);
        if (joined)
            gr |= (uint64_t)1 << (cur > 63 ? 63 : cur);
        if (field >= 4) {
            clusters |= (uint64_t)1 << (field > 63 ? 63 : field);
            if (joined)
                gr |= (uint64_t)1 << (field > 63 ? 63 : field);
        }
        if (plus != SIZE_MAX && plus >= 4) {
            /* "ref 2201 +1 (415) 555-0199": the digits from the '+' on
             * count on their own, or the number before would push the
             * cluster past a phone's length */
            clusters |= (uint64_t)1 << (plus > 63 ? 63 : plus);
            gr |= (uint64_t)1 << (plus > 63 ? 63 : plus);
        }
        plus = SIZE_MAX;
        cur = 0;
        field = 0;
        i = g;
    }
    *grouped = gr;
    return clusters;
}

/* Run the admitted detectors over window [wl, wr) opened by triggers trig;
 * lits = detectors whose literal occurs in the window's long tokens. */
static int
flush_window(struct scan *sc, size_t wl, size_t wr, uint32_t trig, const detmask *lits)
{
    const unsigned char *t = sc->t;
    uint64_t clusters = 0, grouped = 0;
    uint32_t cur = 0, gap = 0;
    const struct tg_pii_db *db = sc->db;
    size_t i;
    detmask adm = dm_zero(), todo;
    unsigned di, k;
    uint32_t rest = trig & ~TG_PII_TRIG_DIGITS;

    /* Digit clusters: digits joined by at most two separator bytes. */
    if ((trig & TG_PII_TRIG_DIGITS) && wr - wl <= CLUSTER_FAST_MAX) {
        clusters = digit_clusters(t + wl, wr - wl, sc->n - wl, &grouped);
    } else if (trig & TG_PII_TRIG_DIGITS) {
        uint32_t field = 0;   /* digits since the last comma (a CSV field) */
        uint32_t plus = 0;    /* digits since a '+' (as in digit_clusters()) */
        for (i = wl; i < wr; i++) {
            unsigned char c = t[i];
            if (c >= '0' && c <= '9') {
                if (i > wl && t[i - 1] == '+')
                    plus = 1;
                else if (plus)
                    plus++;
                cur++;
                field++;
                gap = 0;
            } else if (cur && gap < 2 && (c == ' ' || c == '-' || c == '.' || c == '/' || c == '(' ||
                                          c == ')' || c == '+' || c == ',' || c == '_' || c == '\n')) {
                gap++;
                if (c == ',') {
                    if (field >= 4)   /* as in digit_clusters() */
                        clusters |= (uint64_t)1 << (field > 63 ? 63 : field);
                    field = 0;
                }
            } else if (cur) {
                clusters |= (uint64_t)1 << (cur > 63 ? 63 : cur);
                if (field >= 4)
                    clusters |= (uint64_t)1 << (field > 63 ? 63 : field);
                if (plus >= 4)
                    clusters |= (uint64_t)1 << (plus > 63 ? 63 : plus);
                cur = 0;
                field = 0;
                plus = 0;
                gap = 0;
            }
        }
        if (cur)
            clusters |= (uint64_t)1 << (cur > 63 ? 63 : cur);
        if (field >= 4)
            clusters |= (uint64_t)1 << (field > 63 ? 63 : field);
        if (plus >= 4)
            clusters |= (uint64_t)1 << (plus > 63 ? 63 : plus);
        grouped = clusters;   /* not told apart on this rare path: admits more, never less */
    }
    /* A detector runs when a trigger other than digits admits it, or the
     * digits trigger does and a cluster length fits its bounds. */
    while (rest) {
        dm_or(&adm, &db->trig_det[__builtin_ctz(rest)]);
        rest &= rest - 1;
    }
    if (trig & TG_PII_TRIG_DIGITS) {
        detmask dm = dm_zero();
        uint64_t cl = clusters;
        while (cl) {
            dm_or(&dm, &db->clus_det[__builtin_ctzll(cl)]);
            cl &= cl - 1;
        }
        if (grouped != clusters && dm_meets(&dm, &db->grp_det)) {
            /* digits_grouped detectors (phone numbers): a plain run such as
             * a timestamp does not admit them, only the grouped clusters */
            detmask gm = dm_zero();
            for (cl = grouped; cl; cl &= cl - 1)
                dm_or(&gm, &db->clus_det[__builtin_ctzll(cl)]);
            for (k = 0; k < DM_WORDS; k++)
                dm.w[k] = (dm.w[k] & ~db->grp_det.w[k]) | (gm.w[k] & db->grp_det.w[k]);
        }
        dm = dm_and(dm, &db->dig_det);
        dm_or(&adm, &dm);
    }
    /* adm &= (~lit_need | lits) & live, a word at a time */
    for (k = 0; k < DM_WORDS; k++)
        adm.w[k] &= (~db->lit_need.w[k] | lits->w[k]) & sc->live.w[k];
    /* context-only detectors: one pass over the window's words first */
    todo = dm_and(adm, &db->ctx_req);
    if (dm_any(&todo)) {
        detmask gate = window_gate(sc, wl, wr, &todo);   /* a subset of ctx_req */
        for (k = 0; k < DM_WORDS; k++)
            adm.w[k] &= ~db->ctx_req.w[k] | gate.w[k];
    }
    todo = adm;
    for (di = dm_first(&todo); di < MAX_DETECTORS; di = dm_first(&todo)) {
        detmask grp = dm_and(db->d[di].same, &todo);
        todo = dm_andnot(todo, &grp);
        if (run_detector(sc, di, &grp, wl, wr) != TG_OK)
            return TG_ENOMEM;
        if (sc->s->limit_hit)
            break;
    }
    return TG_OK;
}

/* Does t[i, hi) start with w (lower case, wl bytes), case-insensitively? */
static inline bool
at_ci(const unsigned char *t, size_t i, size_t hi, const char *w, size_t wl)
{
    size_t j;
    if (hi - i < wl)
        return false;
    for (j = 0; j < wl && lc(t[i + j]) == (unsigned char)w[j]; j++)
        ;
    return j == wl;
}

/* Does t[lo, hi) name a credential: "key", "secret", "token", "passw",
 * "pwd", "auth" or "credential" anywhere in it, in any case?  One pass,
 * each byte dispatched on the keyword it could start. */
static bool
keyish(const unsigned char *t, size_t lo, size_t hi)
{
    /* the bytes a keyword starts with, either case: most bytes of a key
     * ("Note", "Example", "id") start none, and cost one load */
    static const uint8_t first[256] = {
        ['k'] = 1, ['K'] = 1, ['s'] = 1, ['S'] = 1, ['t'] = 1, ['T'] = 1,
        ['p'] = 1, ['P'] = 1, ['a'] = 1, ['A'] = 1, ['c'] = 1, ['C'] = 1,
    };
    size_t i;

    for (i = lo; i + 3 <= hi; i++) {   /* the shortest keywords ("key", "pwd") have 3 bytes */
        if (!first[t[i]])
            continue;
        switch (lc(t[i])) {
        case 'k': if (at_ci(t, i + 1, hi, "ey", 2)) return true; break;
        case 's': if (at_ci(t, i + 1, hi, "ecret", 5)) return true; break;
        case 't': if (at_ci(t, i + 1, hi, "oken", 4)) return true; break;
        case 'p': if (at_ci(t, i + 1, hi, "assw", 4) || at_ci(t, i + 1, hi, "wd", 2)) return true; break;
        case 'a': if (at_ci(t, i + 1, hi, "uth", 3)) return true; break;
        case 'c': if (at_ci(t, i + 1, hi, "redential", 9)) return true; break;
        default: break;
        }
    }
    return false;
}

/* Is there a key naming a credential in a later field of the token whose
 * first "key=" or "key:" ends at k: "handler=x|api_key=v",
 * "https://host/p?x=1&token=v"?  A field starts after '|', '&', '?', ';'
 * or ','. */
static bool
later_key(const unsigned char *t, size_t k, size_t e)
{
    size_t ks = 0, j;
    for (j = k + 1; j < e; j++) {
        unsigned char c = t[j];
        if (c == '|' || c == '&' || c == '?' || c == ';' || c == ',')
            ks = j + 1;
        else if ((c == '=' || c == ':') && ks != 0 && j > ks) {
            if (keyish(t, ks, j))
                return true;
            ks = 0;
        }
    }
    return false;
}

/* Add to *m the detectors whose literal occurs in token t[st, e); true
 * when there was one. */
static bool
token_lits(const struct tg_pii_db *db, const unsigned char *t, size_t st, size_t e, detmask *m)
{
    size_t i;
    uint32_t k;
    bool found = false;

    /* One bit per byte pair first: with a hundred literals nearly every
     * letter starts one, but few pairs do, so this test rejects most
     * bytes of a long token without a branch taken. */
    if (e - st >= 2) {
        unsigned key = t[st];
        for (i = st; i + 1 < e; i++) {
            const struct pix *px;
            uint32_t h;
            key = (key << 8 | t[i + 1]) & 0xffffu;
            if (!(db->lit2[key >> 3] & (1u << (key & 7))))
                continue;
            for (h = pix_slot(key, db->npix); db->pix[h].key != 0 && db->pix[h].key != key + 1;
                 h = (h + 1) & (db->npix - 1))
                ;
            px = &db->pix[h];
            for (k = px->lo; k < px->hi; k++) {
                const struct lit *l = &db->lits[k];
                uint32_t j;
                if (l->len > e - i)
                    continue;
                for (j = 2; j < l->len && (unsigned char)l->s[j] == t[i + j]; j++)
                    ;
                if (j == l->len) {
                    dm_or(m, &l->mask);
                    found = true;
                }
            }
        }
    }
    if (db->nlit1)
        for (i = st; i < e; i++)
            if (db->lit1[t[i]])
                for (k = db->lit_lo[t[i]]; k < db->lit_hi[t[i]]; k++)
                    if (db->lits[k].len == 1) {
                        dm_or(m, &db->lits[k].mask);
                        found = true;
                    }
    return found;
}

/* The token before the one at st (up to 8 blanks back, at most 32 bytes
 * long), for "password : x" and "AB 12 34 56 C".  Returns true. */
static bool
prev_token(const unsigned char *t, size_t st, size_t *ps, size_t *pe)
{
    size_t e = st, b;
    while (e > 0 && st - e < 8 && is_ws(t[e - 1]))
        e--;
    b = e;
    while (b > 0 && e - b < 32 && !is_ws(t[b - 1]))
        b--;
    *ps = b;
    *pe = e;
    return true;
}

/* Does byte c end a key or field before a value: whitespace, CSV ',' ';'
 * '|', "key=" or "key:", a quote, bracket, URL '?'/'&' or markup '>'?
 * (Not '_', '-', '.' or a letter/digit: those join a longer token.) */
static inline bool
field_delim(unsigned char c)
{
    switch (c) {
    case ' ': case '\t': case '\n': case '\r': case ',': case ';': case '|': case '=': case ':':
    case '"': case '\'': case '`': case '<': case '>': case '(': case ')': case '[': case ']':
    case '{': case '}': case '?': case '&':
        return true;
    default:
        return false;
    }
}

/* Do two capitals start a field inside token [k, e): after a delimiter of
 * structured text (CSV ',' ';' '|', "key=" or "key:", a quote, bracket,
 * URL '?'/'&' or markup '>')? */
static inline bool
caps2_field(const unsigned char *t, size_t k, size_t e)
{
    for (k++; k + 2 <= e; k++)
        if (t[k] >= 'A' && t[k] <= 'Z' && t[k + 1] >= 'A' && t[k + 1] <= 'Z' && !is_alnum(t[k - 1]) &&
            t[k - 1] != '_' && t[k - 1] != '-' && t[k - 1] != '.')
            return true;
    return false;
}

/* Does the token at st follow (across up to 8 blanks) a byte that ends a
 * key: '>', ',', '(', '[', '{', a quote or a Markdown cell's '|'; or one
 * tab (a TSV row's name, value)? */
static inline bool
after_delim(const unsigned char *t, size_t st)
{
    size_t e = st;
    while (e > 0 && st - e < 8 && is_ws(t[e - 1]))
        e--;
    if (e == st || e == 0)
        return false;
    switch (t[e - 1]) {
    case '>': case ',': case '(': case '[': case '{': case '"': case '\'': case '`': case '|':
        return true;
    default:
        return st - e == 1 && t[e] == '\t';
    }
}

#if defined(__SSE2__)
/* Bit k set when p[k] (k < 16) is whitespace (' ', '\t'..'\r'). */
static inline unsigned
ws_bits16(const unsigned char *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i c = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - 9))), _mm_set1_epi8((char)(-128 + 5)));
    return (unsigned)_mm_movemask_epi8(_mm_or_si128(c, _mm_cmpeq_epi8(v, _mm_set1_epi8(' '))));
}
#endif

/* What the trigger tests need to know of a token besides its bytes' C_*
 * classes: capitals (C_UPPER), and how many dots and hyphens it holds. */
#define C_UPPER  0x100u
#define C_NONHEX 0x200u   /* a byte other than 0-9, a-f and '-' */
struct tok {
    unsigned f;          /* C_* classes of its bytes, and C_UPPER */
    unsigned dots;       /* dots with a digit on both sides ("10.0.0.1" has 3) */
    unsigned dashes;
};

/* End of the token starting at st (next whitespace or n), and what *k
 * says of it.  Sixteen bytes a step with SSE2: tokens are short, so this
 * is mostly one step and no mispredicted loop exit, and the counts come
 * from the same compares. */
static inline size_t
token_end(const unsigned char *t, size_t st, size_t n, struct tok *k)
{
    size_t e = st;
    unsigned cl = 0, dots = 0, dashes = 0;
#if defined(__SSE2__)
    while (e + 16 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + e));
        unsigned wsm = ws_bits16(t + e), valid = wsm ? (1u << __builtin_ctz(wsm)) - 1 : 0xffffu;
        unsigned dg = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - '0'))),
                                                                 _mm_set1_epi8((char)(-128 + 10))));
        unsigned up = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - 'A'))),
                                                                 _mm_set1_epi8((char)(-128 + 26))));
        unsigned dm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('.'))) & valid;
        unsigned hm = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('-'))) & valid;
        unsigned af = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8((char)(0x80 - 'a'))),
                                                                 _mm_set1_epi8((char)(-128 + 6))));
#define TG__CLS(ch, bit) \
    if ((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(ch))) & valid) \
        cl |= (bit)
        if (dg & valid)
            cl |= C_DIGIT;
        if (up & valid)
            cl |= C_UPPER;
        if (valid & ~(dg | af | hm))
            cl |= C_NONHEX;
        if (dm) {
            /* a dot between digits (one at either end of the block counts:
             * its other neighbour is in the next or last block) */
            cl |= C_DOT;
            dots += pop16(dm & ((dg << 1) | 1u) & ((dg >> 1) | 0x8000u));
        }
        if (hm) {
            cl |= C_DASH;
            dashes += pop16(hm);
        }
        TG__CLS('@', C_AT);
        TG__CLS(':', C_COLON);
        TG__CLS('=', C_EQ);
        TG__CLS('/', C_PUNCT);
        TG__CLS('_', C_PUNCT);
        TG__CLS('+', C_PUNCT);
#undef TG__CLS
        if (wsm) {
            k->f = cl;
            k->dots = dots;
            k->dashes = dashes;
            return e + (size_t)__builtin_ctz(wsm);
        }
        e += 16;
    }
#endif
    while (e < n && !((cl |= bclass[t[e]]) & C_WS)) {
        cl |= t[e] >= 'A' && t[e] <= 'Z' ? C_UPPER : 0u;
        cl |= (t[e] >= '0' && t[e] <= '9') || (t[e] >= 'a' && t[e] <= 'f') || t[e] == '-' ? 0u : C_NONHEX;
        dots += t[e] == '.' && e > st && e + 1 < n && t[e - 1] >= '0' && t[e - 1] <= '9' &&
                t[e + 1] >= '0' && t[e + 1] <= '9';
        dashes += t[e] == '-';
        e++;
    }
    k->f = cl & ~(unsigned)C_WS;
    k->dots = dots;
    k->dashes = dashes;
    return e;
}

/* Is there a "://" in t[st, e)?  (A token with ':' and '/' only: the
 * caller checks its classes first.) */
static inline bool
has_scheme_sep(const unsigned char *t, size_t st, size_t e)
{
    for (size_t k = st; k + 3 <= e; k++)
        if (t[k] == ':' && t[k + 1] == '/' && t[k + 2] == '/')
            return true;
    return false;
}

/* Can the '@' of token t[st, e) belong to an address: is one preceded by
 * a byte of an e-mail's local part, or does the token hold "://" (the
 * user:password@ of a URL)?  "@mention", "(@x" are not looked at. */
static bool
at_worthy(const unsigned char *t, size_t st, size_t e, unsigned f)
{
    for (size_t k = st + 1; k < e; k++)
        if (t[k] == '@' && (is_alnum(t[k - 1]) || t[k - 1] == '.' || t[k - 1] == '_' || t[k - 1] == '%' ||
                            t[k - 1] == '+' || t[k - 1] == '-'))
            return true;
    return (f & (C_COLON | C_PUNCT)) == (C_COLON | C_PUNCT) && has_scheme_sep(t, st, e);
}


/* Does the token before st end in two capitals that start a field ("AB"
 * 12 34 56 C, "nino=AB" 12 ..., "<vat>DE" 858950309)?  Their start, or
 * SIZE_MAX. */
static inline size_t
prev_is_caps2(const unsigned char *t, size_t st)
{
    size_t e = st;
    while (e > 0 && st - e < 8 && is_ws(t[e - 1]))
        e--;
    return e >= 2 && t[e - 1] >= 'A' && t[e - 1] <= 'Z' && t[e - 2] >= 'A' && t[e - 2] <= 'Z' &&
           (e == 2 || field_delim(t[e - 3])) ? e - 2 : SIZE_MAX;
}

/* Does the token before st (up to 8 blanks back) end in a field of one to
 * six capitals and hyphens with a capital first: "HRB" 12345, "HB-UC"
 * 8330, "C" 103, "kfz=HB-UC" 8330?  Its start, or SIZE_MAX. */
static inline size_t
prev_is_caps_word(const unsigned char *t, size_t st)
{
    size_t e = st, b;
    while (e > 0 && st - e < 8 && is_ws(t[e - 1]))
        e--;
    if (e == st)
        return SIZE_MAX;
    for (b = e; b > 0 && e - b < 7 && ((t[b - 1] >= 'A' && t[b - 1] <= 'Z') || t[b - 1] == '-'); b--)
        ;
    return b < e && e - b <= 6 && t[b] >= 'A' && t[b] <= 'Z' && (b == 0 || field_delim(t[b - 1])) ? b : SIZE_MAX;
}

/* Index of the next byte at or after i that can start a candidate (see
 * interesting[]; a '-' only when another follows), or n.  Sixteen bytes
 * per step where SSE2 is there, which every x86-64 has. */
static size_t
skip_plain(const unsigned char *t, size_t i, size_t n)
{
#if defined(__SSE2__)
    const __m128i off = _mm_set1_epi8((char)(0x80 - '0')), lim = _mm_set1_epi8((char)(-128 + 11));
    const __m128i at = _mm_set1_epi8('@'), eq = _mm_set1_epi8('='), us = _mm_set1_epi8('_');
    const __m128i da = _mm_set1_epi8('-');
    while (i + 17 <= n) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(t + i));
        __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(t + i + 1));
        /* '0'..'9' and ':' are 0x30..0x3a: one signed compare after a shift */
        __m128i m = _mm_cmplt_epi8(_mm_add_epi8(v, off), lim);
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, at));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, eq));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(v, us));
        m = _mm_or_si128(m, _mm_and_si128(_mm_cmpeq_epi8(v, da), _mm_cmpeq_epi8(v1, da)));
        unsigned mm = (unsigned)_mm_movemask_epi8(m);
        if (mm)
            return i + (size_t)__builtin_ctz(mm);
        i += 16;
    }
#endif
    while (i + 8 <= n && !(interesting[t[i]] | interesting[t[i + 1]] | interesting[t[i + 2]] |
                           interesting[t[i + 3]] | interesting[t[i + 4]] | interesting[t[i + 5]] |
                           interesting[t[i + 6]] | interesting[t[i + 7]]))
        i += 8;
    while (i < n && !interesting[t[i]])
        i++;
    return i;
}

/* Is t[st, e) a key and its colon, "Note:", "else:", "\"name\":": one
 * colon, at the end, after bytes not all of the lone operators' ('?',
 * '|', '!')?  Prose and code stop at such tokens more than at any other.
 * Without digits, '@', '=', '-', '.', '/', '_' or '+' and under 20 bytes,
 * the only trigger such a token can set is ASSIGN, for a key naming a
 * credential: the scan asks keyish() and moves on (each other trigger
 * needs one of those bytes, 20 or more bytes, "::" or a colon between hex
 * digits; a lone operator looks at the token before). */
static inline bool
word_colon(const unsigned char *t, size_t st, size_t e)
{
    size_t k;
    bool lone = true;
    if (e - st < 2 || t[e - 1] != ':')
        return false;
    for (k = st; k < e - 1; k++) {
        if (t[k] == ':')
            return false;
        if (t[k] != '?' && t[k] != '|' && t[k] != '!')
            lone = false;
    }
    return !lone;
}

/* Can a Bitcoin address start at p, a run of 25 or more letters and
 * digits?  Legacy ones start with 1 or 3, bech32 ones with bc1 or tb1
 * (the crypto pattern's own first bytes).  Most long runs are hashes and
 * git commit ids, which this turns away before any pattern runs. */
static inline bool
coin_start(const unsigned char *p)
{
    return p[0] == '1' || p[0] == '3' || (((p[0] == 'b' && p[1] == 'c') || (p[0] == 't' && p[1] == 'b')) && p[2] == '1');
}

static int
scan_text(struct scan *sc)
{
    const unsigned char *t = sc->t;
    size_t n = sc->n, i = 0, pl = 0, pr = 0, prev_st = 0, prev_e = 0, tok_floor = 0, key_lo;
    bool have_prev;
    uint32_t pf = 0;
    detmask plits = dm_zero();
    int rc;

    for (;;) {
        size_t st, e, wl, wr, cw;
        unsigned f = 0;
        struct tok tk;
        uint32_t trig = 0;
        detmask lits = dm_zero();

        /* Skip to the next byte that can start a candidate: plain words
         * (most of any prose) cost one table lookup per byte, 8 at a time. */
        i = skip_plain(t, i, n);
        if (i >= n)
            break;
        if (t[i] == '-' && !(i + 1 < n && t[i + 1] == '-')) {
            i++;   /* a hyphen; only "--" (PEM armour) matters */
            continue;
        }
        /* the whitespace-delimited token around it */
        st = i;
#if defined(__SSE2__)
        if (i >= 16 && i - 16 >= tok_floor) {
            unsigned m = ws_bits16(t + i - 16);
            st = m ? i - 16 + (size_t)(32 - __builtin_clz(m)) : i - 16;
        }
#endif
        while (st > tok_floor && !is_ws(t[st - 1]) && i - st < TOKEN_BACK_MAX)
            st--;
        e = token_end(t, st, n, &tk);
        f = tk.f;
        i = e;
        tok_floor = e;
        if (!(f & (C_DIGIT | C_AT | C_EQ | C_DASH | C_DOT | C_PUNCT)) && e - st < 20 && word_colon(t, st, e) &&
            !keyish(t, st, e - 1))
            continue;   /* "Note:", "else:", "\"name\":" naming no credential: nothing below fires */
        /* the previous token, for "password : x" and "AB 12 34 56 C" */
        have_prev = false;   /* found on demand: few tokens need it */
        key_lo = SIZE_MAX;
        if (f & C_DIGIT)
            trig |= TG_PII_TRIG_DIGITS;
        if ((f & C_AT) && at_worthy(t, st, e, f))
            trig |= TG_PII_TRIG_AT;
        if ((f & C_DIGIT) && tk.dots >= 3)
            trig |= TG_PII_TRIG_DOTS;
        /* Keys, tokens and addresses are long and rarely plain words. */
        /* Crypto addresses: long tokens of letters and digits only (give or
         * take quotes, brackets and sentence punctuation around them). */
        if (e - st >= 25) {
            size_t a0 = st, a1 = e, k;
            while (a0 < a1 && !is_alnum(t[a0]))
                a0++;
            while (a1 > a0 && !is_alnum(t[a1 - 1]))
                a1--;
            for (k = a0; k < a1 && is_alnum(t[k]); k++)
                ;
            if (k == a1 && a1 - a0 >= 25)
                trig |= TG_PII_TRIG_LONGWORD | (coin_start(t + a0) ? TG_PII_TRIG_COIN : 0);
            else if (k < a1 && a1 - a0 >= 25) {
                /* or as a field of one: "4411,1BU3w4...,2026-11-02",
                 * "wallet=bc1q..." (a run of 25+ between field delimiters) */
                size_t r0 = a0;
                for (; k <= a1; k++)
                    if (k == a1 || !is_alnum(t[k])) {
                        if (k - r0 >= 25 && (r0 == st || field_delim(t[r0 - 1])) &&
                            (k == e || field_delim(t[k]))) {
                            trig |= TG_PII_TRIG_LONGWORD;
                            if (coin_start(t + r0)) {
                                trig |= TG_PII_TRIG_COIN;
                                break;
                            }
                        }
                        r0 = k + 1;
                    }
            }
        }
        /* IBAN and NINO start with two capitals and have digits. */
        {
            size_t k = st;
            while (k < e && (t[k] == '(' || t[k] == '"' || t[k] == '\'' || t[k] == ':'))
                k++;
            if (k + 2 <= e && t[k] >= 'A' && t[k] <= 'Z' && t[k + 1] >= 'A' && t[k + 1] <= 'Z' &&
                (f & C_DIGIT))
                trig |= TG_PII_TRIG_CAPS;
            else if ((f & C_DIGIT) && t[st] >= '0' && t[st] <= '9' && (cw = prev_is_caps2(t, st)) != SIZE_MAX) {
                trig |= TG_PII_TRIG_CAPS;   /* spaced "AB 12 34 56 C" */
                if (cw < key_lo)
                    key_lo = cw;   /* the window must hold the capitals */
            }
        }
        if ((f & (C_COLON | C_PUNCT)) == (C_COLON | C_PUNCT) && e - st >= 8 && has_scheme_sep(t, st, e))
            trig |= TG_PII_TRIG_URL;
        /* Plates and register numbers: "M-AB 1234", "HRB 12345" */
        if ((f & C_DIGIT) && t[st] >= '0' && t[st] <= '9' && (cw = prev_is_caps_word(t, st)) != SIZE_MAX) {
            trig |= TG_PII_TRIG_CAPSWORD;
            if (cw < key_lo)
                key_lo = cw;
        }
        /* Document numbers, tax codes and plates mix capitals and digits
         * anywhere in the token ("12345678Z", "RSSMRA85T10A562S"); only
         * tokens that already have a digit are looked at. */
        if ((f & (C_DIGIT | C_UPPER)) == (C_DIGIT | C_UPPER)) {
            size_t k;
            for (k = st; k < e && !(t[k] >= 'A' && t[k] <= 'Z'); k++)
                ;
            if (k < e) {
                trig |= TG_PII_TRIG_MIXED;
                /* IBAN as a field: "4411,SE30 ...", "account=GB82...",
                 * "Acme,PX6989621" (a row starting with a word) */
                if (caps2_field(t, k > st ? k - 1 : k, e))
                    trig |= TG_PII_TRIG_CAPS;
            }
        }
        if (e - st >= 32 || (e - st >= 20 && (f & (C_DIGIT | C_DASH)))) {
            trig |= TG_PII_TRIG_LONG;
            if ((f & C_NONHEX) || sc->db->lit_hex)   /* a hash or a UUID holds no literal */
                token_lits(sc->db, t, st, e, &lits);
        } else if (e - st >= 20) {
            size_t k;
            for (k = st; k < e && t[k] != '_'; k++)
                ;
            if (k < e) {
                trig |= TG_PII_TRIG_LONG;
                token_lits(sc->db, t, st, e, &lits);
            }
        }
        if (f & C_COLON) {
            size_t k, hexcolons = 0;
            for (k = st; k < e; k++) {
                /* IPv6 and MAC need two or more hex-flanked colons (or "::");
                 * a clock time "12:30" has one */
                if (t[k] == ':' && ((k + 1 < e && t[k + 1] == ':') ||
                                    ((k > st && k + 1 < e && is_hex(t[k - 1]) && is_hex(t[k + 1])) &&
                                     ++hexcolons >= 2))) {
                    trig |= TG_PII_TRIG_HEXSEP;
                    break;
                }
            }
        }
        if (tk.dashes >= 5) {
            trig |= TG_PII_TRIG_HEXSEP;
            if (e - st >= 10 && memmem(t + st, e - st, "-----BEGIN", 10) != NULL) {
                trig |= TG_PII_TRIG_PEM;
                token_lits(sc->db, t, st, e, &lits);
            }
        }
        if (f & (C_COLON | C_EQ)) {
            /* "api_key=...", "password:" or a lone operator (":", "=",
             * ".=", "?=", "::=") after "token" */
            size_t k = st, ps2, pe2;
            bool lone;
            while (k < e && t[k] != ':' && t[k] != '=')
                k++;
            for (lone = true, ps2 = st; ps2 < k && lone; ps2++)
                lone = t[ps2] == '.' || t[ps2] == '?' || t[ps2] == '+' || t[ps2] == '|' || t[ps2] == '!';
            if (lone && !have_prev)
                have_prev = prev_token(t, st, &prev_st, &prev_e);
            /* the key names the credential ("DATADOG_API_KEY = ..."):
             * its literals admit keyword detectors as the value's do */
            if (!lone && (keyish(t, st, k) || later_key(t, k, e))) {
                trig |= TG_PII_TRIG_ASSIGN;
                token_lits(sc->db, t, st, e, &lits);
            } else if (lone && prev_e > prev_st && keyish(t, prev_st, prev_e)) {
                trig |= TG_PII_TRIG_ASSIGN;
                token_lits(sc->db, t, prev_st, prev_e, &lits);
                key_lo = prev_st;   /* the window must hold the key */
            } else if (lone && prev_e > prev_st && prev_e - prev_st <= 16 &&
                       prev_token(t, prev_st, &ps2, &pe2) && pe2 > ps2 && keyish(t, ps2, pe2)) {
                /* a type between key and operator: `var key string = "v"` */
                trig |= TG_PII_TRIG_ASSIGN;
                token_lits(sc->db, t, ps2, pe2, &lits);
                key_lo = ps2;
            }
        }
        if ((trig & TG_PII_TRIG_LONG) && !(trig & TG_PII_TRIG_ASSIGN) && sc->db->nlits &&
            after_delim(t, st)) {
            /* a value on its own after a key-ending delimiter: the token
             * before it may name the vendor (`<datadogToken>` above the
             * value, `System.setProperty("DATADOG_TOKEN", "v")`); its
             * literals count, and the window then reaches back to it.
             * Values after a plain word (prose: "the hash 3f2a...") are
             * not looked behind: that would cost every long token. */
            size_t ps2, pe2;
            prev_token(t, st, &ps2, &pe2);
            if (pe2 == ps2 + 1 && t[ps2] == '|')
                prev_token(t, ps2, &ps2, &pe2);   /* "| KEY | v |": the cell before */
            if (pe2 > ps2 && token_lits(sc->db, t, ps2, pe2, &lits))
                key_lo = ps2;
        }
        if (trig == 0)
            continue;

        /* Window: the token, WIN_BACK bytes before and WIN_FWD after, snapped
         * to token boundaries so no pattern sees half a token. */
        wl = st > WIN_BACK ? st - WIN_BACK : 0;
#if defined(__SSE2__) && WIN_BACK == 16
        if (wl > 0) {
            /* first wl in [st - 16, st) just after whitespace, else st */
            unsigned m = ws_bits16(t + st - 17);
            wl = m ? st - 16 + (size_t)__builtin_ctz(m) : st;
        }
#endif
        while (wl > 0 && wl < st && !is_ws(t[wl - 1]))
            wl++;
        if (key_lo < wl)
            wl = key_lo;
        if (trig & TG_PII_TRIG_PEM) {
            const unsigned char *endm;
            size_t lim = n - st > PEM_MAX ? st + PEM_MAX : n;
            endm = memmem(t + st, lim - st, "-----END", 8);
            /* no END line: a key cut off mid-paste is still a key, so the
             * window takes what follows, up to PEM_CUT bytes */
            wr = endm ? (size_t)(endm - t) + 8 : (lim - st > PEM_CUT ? st + PEM_CUT : lim);
            while (wr < lim && t[wr] != '\n')
                wr++;
        } else {
            size_t lim;
            wr = e + WIN_FWD < n ? e + WIN_FWD : n;
            lim = wr + WIN_SNAP < n ? wr + WIN_SNAP : n;
#if defined(__SSE2__)
            while (wr + 16 <= lim) {
                unsigned m = ws_bits16(t + wr);
                if (m) {
                    wr += (size_t)__builtin_ctz(m);
                    break;
                }
                wr += 16;
            }
#endif
            while (wr < lim && !is_ws(t[wr]))
                wr++;
            if (wr < n && !is_ws(t[wr])) {
                /* a huge token follows: stop before it */
                while (wr > e && !is_ws(t[wr - 1]))
                    wr--;
                if (wr < e)
                    wr = e;
            }
        }
        if (pf && wl <= pr && pr - pl < WIN_MERGE_MAX) {
            if (wr > pr)
                pr = wr;
            pf |= trig;
            dm_or(&plits, &lits);
        } else {
            if (pf) {
                rc = flush_window(sc, pl, pr, pf, &plits);
                if (rc != TG_OK)
                    return rc;
                if (sc->s->limit_hit)
                    return TG_OK;
            }
            pl = wl;
            pr = wr;
            pf = trig;
            plits = lits;
        }
    }
    if (pf)
        return flush_window(sc, pl, pr, pf, &plits);
    return TG_OK;
}

static int
cand_cmp_start(const void *a, const void *b)
{
    const struct cand *x = a, *y = b;
    if (x->s != y->s)
        return x->s < y->s ? -1 : 1;
    if (x->e != y->e)
        return x->e > y->e ? -1 : 1;
    return x->det < y->det ? -1 : x->det > y->det;
}

/* Does candidate a beat b for an overlapping span? */
static bool
better(const struct cand *a, const struct cand *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->e - a->s != b->e - b->s)
        return a->e - a->s > b->e - b->s;
    if (a->s != b->s)
        return a->s < b->s;
    return a->det < b->det;
}

/* Resolve overlaps in place: within each cluster of overlapping candidates
 * keep, greedily, the best (score, then length) that overlaps nothing kept.
 * Marks losers with det = UINT32_MAX. */
static void
resolve(struct cand *c, size_t n)
{
    size_t i = 0;

    qsort(c, n, sizeof *c, cand_cmp_start);
    while (i < n) {
        size_t j = i + 1, k, m;
        uint32_t end = c[i].e;
        while (j < n && c[j].s < end) {
            if (c[j].e > end)
                end = c[j].e;
            j++;
        }
        /* cluster [i, j): selection sort by preference, keep non-overlapping */
        for (;;) {
            size_t best = SIZE_MAX;
            for (k = i; k < j; k++) {
                if (c[k].det == UINT32_MAX || (c[k].det & 0x80000000u))
                    continue;
                if (best == SIZE_MAX || better(&c[k], &c[best]))
                    best = k;
            }
            if (best == SIZE_MAX)
                break;
            c[best].det |= 0x80000000u;   /* kept */
            for (m = i; m < j; m++)
                if (m != best && !(c[m].det & 0x80000000u) && c[m].det != UINT32_MAX &&
                    c[m].s < c[best].e && c[best].s < c[m].e)
                    c[m].det = UINT32_MAX;
        }
        for (k = i; k < j; k++)
            if (c[k].det != UINT32_MAX)
                c[k].det &= ~0x80000000u;
        i = j;
    }
}

int
tg__pii_append_finding(struct tg_arena *a, struct tg_findings *out, const struct tg_finding *f)
{
    if (out->n == out->cap) {
        uint32_t nc = out->cap ? out->cap * 2 : 16;
        struct tg_finding *v = tg_arena_alloc(a, (size_t)nc * sizeof *v);
        if (v == NULL)
            return TG_ENOMEM;
        if (out->n)
            memcpy(v, out->v, (size_t)out->n * sizeof *v);
        out->v = v;
        out->cap = nc;
    }
    out->v[out->n++] = *f;
    return TG_OK;
}

int
tg_pii_scan(const struct tg_pii_db *db, struct tg_pii_scratch *s,
            const char *text, size_t len, uint32_t part, double min_score,
            struct tg_arena *a, struct tg_findings *out, struct tg_err *err)
{
    struct scan sc;
    bool norm, same = false;
    size_t i;
    int rc;

    if (db == NULL || s == NULL || out == NULL || (text == NULL && len > 0))
        return tg_err_set(err, TG_EINVAL, "tg_pii_scan: missing argument");
    if (len == 0 || db->n == 0)
        return TG_OK;
    if (len >= UINT32_MAX) {
        out->unscannable = true;
        return TG_OK;
    }
    if (db->max_groups > s->max_groups)
        return tg_err_set(err, TG_EINVAL, "tg_pii_scan: scratch was made for another database");
    s->nc = 0;
    s->limit_hit = false;
    norm = tg__pii_needs_norm((const unsigned char *)text, len);
    sc.db = db;
    sc.s = s;
    sc.min_score = min_score;
    /* A detector whose best score stays under min_score (a low-score
     * pattern such as URL, for callers who lower the threshold) costs
     * nothing at the default threshold. */
    memset(&sc.tb, 0, sizeof sc.tb);
    sc.tb.qls = SIZE_MAX;
    sc.live = dm_zero();
    for (i = 0; i < db->nlive && db->live_at[i] >= min_score; i++)
        sc.live = db->live_mask[i];
    if (norm) {
        if (grow_norm(s, len) != TG_OK)
            return tg_err_set(err, TG_ENOMEM, "out of memory normalising text for the PII scan");
        sc.n = tg__pii_normalise(s->nbuf, s->nseg, &s->nsegs, (const unsigned char *)text, len, &same);
        sc.t = (const unsigned char *)s->nbuf;
        if (same)
            norm = false;
    }
    if (!norm) {
        sc.t = (const unsigned char *)text;
        sc.n = len;
    }
    rc = scan_text(&sc);
    if (rc != TG_OK)
        return tg_err_set(err, rc, "out of memory in the PII scan");
    if (s->limit_hit)
        out->unscannable = true;
    if (s->nc == 0)
        return TG_OK;
    resolve(s->c, s->nc);
    for (i = 0; i < s->nc; i++) {
        const struct cand *c = &s->c[i];
        const struct det *d;
        struct tg_finding f;
        if (c->det == UINT32_MAX)
            continue;
        if (out->n >= TG_MAX_FINDINGS) {
            out->unscannable = true;
            break;
        }
        d = &db->d[c->det];
        f.part = part;
        if (norm) {
            tg__pii_norm_span(s->nseg, s->nsegs, c->s, c->e, &f.start, &f.end);
        } else {
            f.start = c->s;
            f.end = c->e;
        }
        f.entity = d->entity;
        f.detector = d->id;
        f.cls = d->cls;
        f.score = c->score;
        if (tg__pii_append_finding(a, out, &f) != TG_OK)
            return tg_err_set(err, TG_ENOMEM, "out of memory storing PII findings");
    }
    return TG_OK;
}
