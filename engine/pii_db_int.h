/*
 * pii_db_int.h — the compiled detector database and the per-thread scratch,
 * shared by the builder (engine/pii_db.c) and the scanner (engine/pii.c).
 * Internal to engine/: types, detector sets as bitmasks, the context-word
 * hash and the byte tables both sides read.
 */
#ifndef TG_PII_DB_INT_H
#define TG_PII_DB_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/pii.h"
#include "engine/pii_int.h"

#include <pcre2.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* What a context word beside a match adds to its score (capped at 1). */
#define CTX_BOOST  0.35

/* A set of detectors is one bit each, so the prefilter admits a window's
 * detectors with a few ORs instead of a loop over every detector.  The
 * default packs (PII, national identifiers by region, one detector per
 * credential format) hold about 150, so 256 bits: four 64-bit words, each
 * operation a fixed four-step loop the compiler unrolls. */
#define MAX_DETECTORS 256u
#define DM_WORDS (MAX_DETECTORS / 64u)
typedef struct { uint64_t w[DM_WORDS]; } detmask;

static inline detmask
dm_zero(void)
{
    detmask m = { { 0 } };
    return m;
}

static inline void
dm_set(detmask *m, unsigned i)
{
    m->w[i >> 6] |= (uint64_t)1 << (i & 63);
}

static inline detmask
dm_bit(unsigned i)
{
    detmask m = dm_zero();
    dm_set(&m, i);
    return m;
}

static inline bool
dm_test(const detmask *m, unsigned i)
{
    return (m->w[i >> 6] >> (i & 63)) & 1;
}

static inline void
dm_or(detmask *a, const detmask *b)
{
    unsigned k;
    for (k = 0; k < DM_WORDS; k++)
        a->w[k] |= b->w[k];
}

static inline detmask
dm_and(detmask a, const detmask *b)
{
    unsigned k;
    for (k = 0; k < DM_WORDS; k++)
        a.w[k] &= b->w[k];
    return a;
}

/* a & ~b */
static inline detmask
dm_andnot(detmask a, const detmask *b)
{
    unsigned k;
    for (k = 0; k < DM_WORDS; k++)
        a.w[k] &= ~b->w[k];
    return a;
}

static inline bool
dm_any(const detmask *m)
{
    unsigned k;
    uint64_t o = 0;
    for (k = 0; k < DM_WORDS; k++)
        o |= m->w[k];
    return o != 0;
}

/* Do a and b share a bit? */
static inline bool
dm_meets(const detmask *a, const detmask *b)
{
    unsigned k;
    uint64_t o = 0;
    for (k = 0; k < DM_WORDS; k++)
        o |= a->w[k] & b->w[k];
    return o != 0;
}

/* Index of the lowest set bit of m, or MAX_DETECTORS when m is empty:
 * `for (k = dm_first(&m); k < MAX_DETECTORS; k = dm_next(&m, k))`. */
static inline unsigned
dm_first(const detmask *m)
{
    unsigned k;
    for (k = 0; k < DM_WORDS; k++)
        if (m->w[k])
            return k * 64u + (unsigned)__builtin_ctzll(m->w[k]);
    return MAX_DETECTORS;
}

/* Lowest set bit of m above i, or MAX_DETECTORS. */
static inline unsigned
dm_next(const detmask *m, unsigned i)
{
    unsigned k = (i + 1) >> 6;
    uint64_t w;
    if (i + 1 >= MAX_DETECTORS)
        return MAX_DETECTORS;
    w = m->w[k] & (~(uint64_t)0 << ((i + 1) & 63));
    for (;;) {
        if (w)
            return k * 64u + (unsigned)__builtin_ctzll(w);
        if (++k == DM_WORDS)
            return MAX_DETECTORS;
        w = m->w[k];
    }
}

struct det {
    const char *id, *entity;
    enum tg_pii_class cls;
    pcre2_code *re;
    bool jit;
    uint32_t minlen;       /* PCRE2's lower bound on a match's length: a
                            * window (or its rest after a match) shorter
                            * than that is not searched */
    tg__pii_validator_fn validate;
    const char **ctx;      uint32_t nctx;     /* lower case */
    const char **lits;     uint32_t nlits;
    const char **excl;     uint32_t nexcl;    /* lower case */
    double score;
    bool ctx_req;
    uint32_t triggers;
    uint64_t digit_mask;   /* bit k: a digit cluster of length k admits this detector */
    uint32_t group;
    detmask same;          /* detectors with this very pattern and group (self
                            * included): one PCRE2 pass serves them all */
    double best;           /* highest score a match can reach (1 with a validator) */
};

/* Context/exclude words, hashed: one pass over the words near a match
 * yields the set of detectors whose context is present (a bitmask). */
#define WH_SIZE   1024u
/* German compounds ("Steueridentifikationsnummer", 27 letters) need more
 * than 24; a word is a bit of wfilter.lens, so 32 at most. */
#define WORD_MAX  32u

struct wh {
    char     w[WORD_MAX];
    uint8_t  len;
    detmask  ctx, excl;      /* detectors listing this word */
};

struct lit {
    const char *s;
    uint32_t    len;
    detmask     mask;        /* detectors listing this literal */
};

/* Cheap filters that reject most words before hashing them. */
struct wfilter {
    uint32_t lens;           /* bit k: some word has length k */
    uint8_t  w2l[8192];      /* bit per (first two bytes, length): with ~300
                              * words nearly every prefix and length occurs
                              * somewhere, but few prose words match a word
                              * in both */
    uint32_t w2f[65536];     /* per first two bytes of a word as the text has
                              * them, bit 5 set on both, keyed little-endian
                              * ((a | 0x20) | (b | 0x20) << 8): the gbit of each
                              * detector with such a word (wall: 1).  Cases fold
                              * alike, and so do a few other pairs, so it may
                              * pass more, never fewer.  Every word start of a
                              * context window reads it: a 16-bit load, an OR,
                              * a load and an AND (the letter pairs in use span
                              * a few KiB) */
};

static inline unsigned
w2l_key(unsigned key2, size_t len)
{
    return (key2 * 33u + (unsigned)len * 2654435761u) & 0xffffu;
}

/* The literals of one byte pair: lits[lo, hi) (lits[] is sorted). */
struct pix {
    uint32_t key;            /* pair + 1 (0 = empty slot) */
    uint16_t lo, hi;
};

struct tg_pii_db {
    struct tg_arena arena;   /* strings and arrays */
    struct det *d;
    size_t n;
    uint32_t max_groups;
    struct wh *wh;           /* WH_SIZE slots */
    struct lit *lits;
    uint32_t nlits, litcap;
    uint8_t lit1[256];       /* first bytes of one-byte literals */
    uint32_t nlit1;          /* how many one-byte literals */
    bool     lit_hex;        /* some literal is made of 0-9, a-f and '-' only: without
                              * one, a token of those bytes (a hash, a UUID) holds none */
    uint8_t lit2[8192];      /* bit per first two bytes of a longer literal */
    struct pix *pix;         /* byte pair -> its literals in lits[] (open
                              * addressing, npix slots, a power of two) */
    uint32_t npix;
    uint16_t lit_lo[256], lit_hi[256]; /* lits[] sorted by first byte: the
                              * literals starting with byte c are
                              * [lit_lo[c], lit_hi[c]) (used for one-byte
                              * literals; longer ones go through pix) */
    struct wfilter wall;     /* every context and exclude word */
    struct wfilter wgate;    /* context words of context-only detectors: the
                              * per-window gate looks for these alone, and
                              * far fewer prose words get past its filters */
    uint32_t gbit[MAX_DETECTORS]; /* a context-only detector's bit in wgate.w2f
                              * (shared modulo 32): a window's gate passes only
                              * the words of the detectors it admitted */
    double  *live_at;        /* the detectors' distinct best scores, highest first */
    detmask *live_mask;      /* live_mask[k]: detectors whose best >= live_at[k] */
    uint32_t nlive;
    detmask  lit_need;       /* detectors that need a literal */
    detmask  ctx_req;        /* context-only detectors */
    /* Prefilter as masks, so a window admits its detectors in a few ORs
     * instead of a loop over every detector. */
    detmask  trig_det[16];   /* bit b of triggers (not digits) -> detectors */
    detmask  dig_det;        /* detectors with the digits trigger */
    detmask  grp_det;        /* ... admitted by grouped clusters only (digits_grouped) */
    detmask  clus_det[64];   /* digit cluster length k -> detectors admitting it */
};

struct cand {
    uint32_t s, e;      /* normalised offsets */
    float score;
    uint32_t det;
};

struct tg_pii_scratch {
    pcre2_match_data    *md;
    pcre2_match_context *mctx;
    pcre2_jit_stack     *jstack;
    uint32_t max_groups;
    /* normalisation */
    char     *nbuf;
    struct tg__pii_seg *nseg;   /* where each run of normalised bytes came from */
    size_t    nsegs, ncap;
    /* candidates */
    struct cand *c;
    size_t nc, ccap;
    bool limit_hit;
};


/* lower-cased letters and digits; 0 for every other byte */
static const uint8_t wordch[256] = {
    ['0'] = '0', ['1'] = '1', ['2'] = '2', ['3'] = '3', ['4'] = '4', ['5'] = '5', ['6'] = '6',
    ['7'] = '7', ['8'] = '8', ['9'] = '9',
    ['a'] = 'a', ['b'] = 'b', ['c'] = 'c', ['d'] = 'd', ['e'] = 'e', ['f'] = 'f', ['g'] = 'g',
    ['h'] = 'h', ['i'] = 'i', ['j'] = 'j', ['k'] = 'k', ['l'] = 'l', ['m'] = 'm', ['n'] = 'n',
    ['o'] = 'o', ['p'] = 'p', ['q'] = 'q', ['r'] = 'r', ['s'] = 's', ['t'] = 't', ['u'] = 'u',
    ['v'] = 'v', ['w'] = 'w', ['x'] = 'x', ['y'] = 'y', ['z'] = 'z',
    ['A'] = 'a', ['B'] = 'b', ['C'] = 'c', ['D'] = 'd', ['E'] = 'e', ['F'] = 'f', ['G'] = 'g',
    ['H'] = 'h', ['I'] = 'i', ['J'] = 'j', ['K'] = 'k', ['L'] = 'l', ['M'] = 'm', ['N'] = 'n',
    ['O'] = 'o', ['P'] = 'p', ['Q'] = 'q', ['R'] = 'r', ['S'] = 's', ['T'] = 't', ['U'] = 'u',
    ['V'] = 'v', ['W'] = 'w', ['X'] = 'x', ['Y'] = 'y', ['Z'] = 'z',
};

static inline bool is_alnum(unsigned char c) { return wordch[c] != 0; }
/* Context words are runs of ASCII letters/digits and of UTF-8 bytes, so
 * "Führerschein", "henkilötunnus" or a Hangul word can be context words
 * (ASCII letters folded to lower case, other letters compared as bytes). */
static inline bool is_wordc(unsigned char c) { return wordch[c] != 0 || c >= 0x80; }
static inline unsigned wkey(unsigned char c) { return c >= 0x80 ? c : wordch[c]; }
static inline unsigned char lc(unsigned char c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

static inline uint32_t
word_hash(const unsigned char *w, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;
    for (i = 0; i < n; i++)
        h = (h ^ w[i]) * 16777619u;
    return h;
}

static inline const struct wh *
wh_find(const struct tg_pii_db *db, const unsigned char *w, size_t n, uint32_t h)
{
    uint32_t k;
    for (k = 0; k < WH_SIZE; k++) {
        const struct wh *e = &db->wh[(h + k) & (WH_SIZE - 1)];
        if (e->len == 0)
            return NULL;
        if (e->len == n && memcmp(e->w, w, n) == 0)
            return e;
    }
    return NULL;
}

static inline uint32_t
pix_slot(uint32_t pair, uint32_t npix)
{
    return (pair * 2654435761u >> 16) & (npix - 1);
}

#endif /* TG_PII_DB_INT_H */
