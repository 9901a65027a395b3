/*
 * test_pii_norm.c — the normaliser's output and its map back to the input.
 *
 * Texts are built from pieces whose normalised form and source span are
 * known (plain ASCII, full-width digits, invisible characters, escapes,
 * kept non-ASCII, invalid bytes); for every output span the segment map
 * must give the input span a per-byte reference gives.
 */
#include "engine/pii_int.h"

#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct piece {
    const char *in;     /* input bytes */
    const char *out;    /* what they read as ("" = dropped) */
    int per_byte;       /* 1: each output byte maps to one input byte */
};

static const struct piece pieces[] = {
    { "abc ", "abc ", 1 },
    { "x", "x", 1 },
    { "\xEF\xBC\x91", "1", 0 },              /* FULLWIDTH DIGIT ONE */
    { "\xE2\x80\x8B", "", 0 },               /* ZERO WIDTH SPACE */
    { "%40", "@", 0 },
    { "&#64;", "@", 0 },
    { "\\u0034", "4", 0 },
    { "\\n", "\n", 0 },                      /* JSON short escape in tool arguments */
    { "\xC3\xA9", "\xC3\xA9", 1 },           /* e-acute: kept as is */
    { "\xFF", "\xFF", 1 },                   /* invalid byte: kept */
    { "%zz", "%zz", 1 },                     /* not an escape */
    { "\xD9\xA4", "4", 0 },                  /* ARABIC-INDIC DIGIT FOUR */
    { "\xC2\xAD", "", 0 },                   /* SOFT HYPHEN */
};

#define NP (sizeof pieces / sizeof *pieces)

Test(pii_norm, segments_map_every_span_back)
{
    uint64_t r = 0x2545F4914F6CDD1Dull;
    int nsame = 0;

    for (int round = 0; round < 300; round++) {
        char in[2048], exp[2048];
        uint32_t ref_s[2048], ref_e[2048];
        size_t il = 0, ol = 0, nseg = 0, got;
        bool same;
        int npieces = 1 + (int)(r % 40);

        for (int k = 0; k < npieces; k++) {
            r ^= r << 13; r ^= r >> 7; r ^= r << 17;
            const struct piece *p = &pieces[r % NP];
            size_t pl = strlen(p->in), ql = strlen(p->out);
            memcpy(in + il, p->in, pl);
            for (size_t j = 0; j < ql; j++) {
                exp[ol + j] = p->out[j];
                ref_s[ol + j] = (uint32_t)(il + (p->per_byte ? j : 0));
                ref_e[ol + j] = (uint32_t)(p->per_byte ? il + j + 1 : il + pl);
            }
            il += pl;
            ol += ql;
        }
        char *out = malloc(il + 1);
        struct tg__pii_seg *seg = malloc((il + 1) * sizeof *seg);
        cr_assert(out != NULL && seg != NULL);
        got = tg__pii_normalise(out, seg, &nseg, (const unsigned char *)in, il, &same);
        cr_assert_eq(got, ol, "round %d: output length %zu, expected %zu", round, got, ol);
        /* nothing changed: the scanner reads the input itself */
        cr_assert_eq(same, il == ol && memcmp(in, exp, ol) == 0, "round %d: same=%d", round, same);
        if (same) {
            nsame++;
            free(out);
            free(seg);
            continue;
        }
        cr_assert(memcmp(out, exp, ol) == 0, "round %d: output differs", round);
        cr_assert(nseg <= il + 1);
        for (size_t s = 0; s < ol; s++)
            for (size_t e = s + 1; e <= ol && e <= s + 24; e++) {
                uint32_t is, ie;
                tg__pii_norm_span(seg, nseg, (uint32_t)s, (uint32_t)e, &is, &ie);
                cr_assert_eq(is, ref_s[s], "round %d: start of [%zu,%zu) is %u, expected %u", round, s, e, is, ref_s[s]);
                cr_assert_eq(ie, ref_e[e - 1], "round %d: end of [%zu,%zu) is %u, expected %u", round, s, e, ie, ref_e[e - 1]);
            }
        free(out);
        free(seg);
    }
    cr_assert(nsame > 0 && nsame < 300, "both kinds of text were tried (%d unchanged)", nsame);
}

Test(pii_norm, unchanged_text_is_not_copied)
{
    const char *t = "plain ASCII text with no escapes at all, long enough for word-at-a-time";
    size_t n = strlen(t), nseg = 0;
    char out[128];
    struct tg__pii_seg seg[128];

    bool same = false;

    cr_assert_not(tg__pii_needs_norm((const unsigned char *)t, n));
    /* "50%" and "R&D" need a look but read as themselves: no copy */
    t = "growth of 50% in R&D, caf\xC3\xA9 \\q";
    n = strlen(t);
    cr_assert(tg__pii_needs_norm((const unsigned char *)t, n));
    cr_assert_eq(tg__pii_normalise(out, seg, &nseg, (const unsigned char *)t, n, &same), n);
    cr_assert(same);
    /* one change in the middle: three segments, the first copied as is */
    t = "card 4111\xE2\x80\x8B" "1111 end";
    n = strlen(t);
    cr_assert_eq(tg__pii_normalise(out, seg, &nseg, (const unsigned char *)t, n, &same), n - 3);
    cr_assert_not(same);
    cr_assert_eq(nseg, 2);
    cr_assert_eq(seg[0].o, 0);
    cr_assert_eq(seg[0].w, 1);
    cr_assert_eq(seg[1].o, 9);
    cr_assert_eq(seg[1].i, 12);
    cr_assert_str_eq(out, "card 41111111 end");
}
