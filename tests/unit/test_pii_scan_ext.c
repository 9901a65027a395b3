/* test_pii_scan_ext.c — scanner features the national-id packs rely on:
 * more than 64 detectors, UTF-8 context words, detectors sharing one
 * pattern, detectors that cannot reach min_score, the mixed/capsword/url
 * triggers.  Packs are built in memory so each property is tested alone. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pii.h"
#include "policy/pii_pack.h"

struct db {
    struct tg_arena a;
    struct tg_pii_db *db;
    struct tg_pii_scratch *s;
};

static void
build(struct db *d, const char *yaml)
{
    struct tg_pii_detector_spec *specs;
    size_t n;
    struct tg_err err = { 0 };

    tg_arena_init(&d->a, 0);
    cr_assert_eq(tg_pii_pack_load_buffer("t.yaml", yaml, strlen(yaml), &d->a, &specs, &n, NULL, NULL, &err), TG_OK,
                 "%s", err.msg);
    cr_assert_eq(tg_pii_db_build(specs, n, &d->db, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_pii_scratch_new(d->db, &d->s), TG_OK);
}

static void
drop(struct db *d)
{
    tg_pii_scratch_free(d->s);
    tg_pii_db_free(d->db);
    tg_arena_free(&d->a);
}

/* Entities found in text at min_score ms, as "E1,E2," (arena-free copy). */
static const char *
found(struct db *d, const char *text, double ms)
{
    static char out[512];
    struct tg_findings f = { 0 };
    struct tg_err err = { 0 };
    size_t o = 0;

    cr_assert_eq(tg_pii_scan(d->db, d->s, text, strlen(text), 0, ms, &d->a, &f, &err), TG_OK, "%s", err.msg);
    out[0] = '\0';
    for (uint32_t i = 0; i < f.n && o < sizeof out - 40; i++)
        o += (size_t)snprintf(out + o, sizeof out - o, "%s,", f.v[i].entity);
    return out;
}

#define DET(id, ent, pat, extra) \
    "  - id: " id "\n    entity: " ent "\n    class: pii\n    pattern: '" pat "'\n" extra

Test(pii_scan_ext, more_than_64_detectors)
{
    /* 100 detectors; only the last one can match "zq" + digits */
    size_t cap = 100 * 160, o = 0;
    char *y = malloc(cap);
    struct db d;
    cr_assert_not_null(y);
    o += (size_t)snprintf(y + o, cap - o, "version: 1\ndetectors:\n");
    for (int i = 0; i < 100; i++)
        o += (size_t)snprintf(y + o, cap - o,
                              "  - id: d%d\n    entity: E%d\n    class: pii\n    triggers: [digits]\n"
                              "    pattern: '(?<![a-z])z%c[0-9]{4}'\n    score: 0.9\n",
                              i, i, i == 99 ? 'q' : 'x');
    build(&d, y);
    cr_expect_eq(tg_pii_db_count(d.db), 100);
    cr_expect_str_eq(found(&d, "code zq1234 here", 0.5), "E99,");
    cr_expect_str_eq(found(&d, "code zx1234 here", 0.5), "E0,");
    drop(&d);
    free(y);
}

/* Detector sets are 256 bits wide (four words): detectors past 64, 128
 * and 192 keep their own bit for triggers, context and literals. */
static char *
many_pack(int n)
{
    size_t cap = (size_t)n * 220 + 64, o = 0;
    char *y = malloc(cap);
    cr_assert_not_null(y);
    o += (size_t)snprintf(y + o, cap - o, "version: 1\ndetectors:\n");
    for (int i = 0; i < n; i++)
        o += (size_t)snprintf(y + o, cap - o,
                              "  - id: d%d\n    entity: E%d\n    class: pii\n    triggers: [digits]\n"
                              "    pattern: '(?<![a-z])z%c%c[0-9]{4}'\n    score: %s\n%s",
                              i, i, 'a' + i / 26, 'a' + i % 26, i == 200 ? "0.4" : "0.9",
                              i == 200 ? "    context: [widget]\n" :
                              i == 250 ? "    context: [gizmo]\n    context_required: true\n" : "");
    return y;
}

Test(pii_scan_ext, more_than_128_detectors)
{
    char *y = many_pack(256);
    struct db d;
    build(&d, y);
    cr_expect_eq(tg_pii_db_count(d.db), 256);
    /* 130 = "zfa", 199 = "zhr", 255 = "zjv": one detector each */
    cr_expect_str_eq(found(&d, "code zfa1234 here", 0.5), "E130,");
    cr_expect_str_eq(found(&d, "code zhr1234 here", 0.5), "E199,");
    cr_expect_str_eq(found(&d, "code zjv1234 here", 0.5), "E255,");
    /* 200 ("zhs") reaches 0.5 only with its context word */
    cr_expect_str_eq(found(&d, "code zhs1234 here", 0.5), "");
    cr_expect_str_eq(found(&d, "widget code zhs1234 here", 0.5), "E200,");
    /* 250 ("zjq") is context-only */
    cr_expect_str_eq(found(&d, "code zjq1234 here", 0.5), "");
    cr_expect_str_eq(found(&d, "gizmo code zjq1234 here", 0.5), "E250,");
    drop(&d);
    free(y);
}

Test(pii_scan_ext, more_than_256_detectors_refused)
{
    char *y = many_pack(257);
    struct tg_pii_detector_spec *specs;
    struct tg_pii_db *db = NULL;
    struct tg_arena a;
    size_t n;
    struct tg_err err = { 0 };

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_pii_pack_load_buffer("t.yaml", y, strlen(y), &a, &specs, &n, NULL, NULL, &err), TG_OK, "%s",
                 err.msg);
    cr_expect_neq(tg_pii_db_build(specs, n, &db, &err), TG_OK);
    cr_expect_null(db);
    tg_arena_free(&a);
    free(y);
}

Test(pii_scan_ext, utf8_context_words)
{
    struct db d;
    build(&d, "version: 1\ndetectors:\n" DET("fs", "FS", "(?<![0-9])[0-9]{6}(?![0-9])",
                                             "    context: [führerschein, 주민등록번호]\n    context_required: true\n"));
    cr_expect_str_eq(found(&d, "Führerschein 123456", 0.5), "FS,");
    cr_expect_str_eq(found(&d, "führerschein: 123456", 0.5), "FS,");
    cr_expect_str_eq(found(&d, "주민등록번호 123456", 0.5), "FS,");
    cr_expect_str_eq(found(&d, "Fuhrerschein 123456", 0.5), "", "a different word");
    cr_expect_str_eq(found(&d, "Führerscheine 123456", 0.5), "", "whole words only");
    cr_expect_str_eq(found(&d, "Nummer 123456", 0.5), "");
    drop(&d);
}

Test(pii_scan_ext, shared_pattern_each_validator)
{
    /* same pattern, different validators: each detector keeps its own verdict */
    struct db d;
    build(&d, "version: 1\ndetectors:\n"
              DET("a", "NIF", "(?<![0-9A-Z])[0-9]{8}[A-Z](?![0-9A-Z])", "    triggers: [mixed]\n    validator: es_nif\n")
              DET("b", "ANY", "(?<![0-9A-Z])[0-9]{8}[A-Z](?![0-9A-Z])", "    triggers: [mixed]\n    score: 0.6\n"));
    cr_expect_str_eq(found(&d, "x 12345678Z y", 0.5), "NIF,", "the checksum-confirmed reading wins the overlap");
    cr_expect_str_eq(found(&d, "x 12345678A y", 0.5), "ANY,", "the NIF validator drops it, the other stays");
    drop(&d);
}

Test(pii_scan_ext, below_min_score_not_run)
{
    struct db d;
    build(&d, "version: 1\ndetectors:\n" DET("u", "URL", "https?://[a-z.]+", "    triggers: [url]\n    score: 0.3\n"));
    cr_expect_str_eq(found(&d, "see https://example.org now", 0.5), "");
    cr_expect_str_eq(found(&d, "see https://example.org now", 0.3), "URL,");
    cr_expect_str_eq(found(&d, "see example.org now", 0.3), "", "no scheme, no url trigger");
    drop(&d);
}

Test(pii_scan_ext, triggers)
{
    struct db d;
    build(&d, "version: 1\ndetectors:\n"
              DET("m", "MIXED", "(?<![0-9A-Za-z])[a-z]{2}[0-9]{3}[A-Z](?![0-9A-Za-z])", "    triggers: [mixed]\n    score: 0.9\n")
              DET("c", "CAPSWORD", "(?<![A-Za-z])QQ-RR [0-9]{3}(?![0-9])", "    triggers: [capsword]\n    score: 0.9\n"));
    cr_expect_str_eq(found(&d, "id ab123C.", 0.5), "MIXED,", "a capital anywhere in a token with digits");
    cr_expect_str_eq(found(&d, "plate QQ-RR 123", 0.5), "CAPSWORD,", "digits after a short capitals word");
    cr_expect_str_eq(found(&d, "plate qq-rr 123", 0.5), "");
    drop(&d);
}

Test(pii_scan_ext, default_pack_has_every_region)
{
    struct tg_pii_detector_spec *specs;
    size_t n, i;
    struct tg_arena a;
    struct tg_err err = { 0 };
    const char *want[] = { "DE_TAX_ID", "ES_NIF", "IT_FISCAL_CODE", "FI_PERSONAL_IDENTITY_CODE", "PL_PESEL",
                           "SE_PERSONNUMMER", "UK_DRIVING_LICENCE", "KR_RRN", "SG_NRIC_FIN", "IN_AADHAAR",
                           "TH_TNIN", "AU_ABN", "CA_SIN", "US_NPI", "ZA_ID_NUMBER", "TR_NATIONAL_ID",
                           "MEDICAL_LICENSE", "URL", "DATE_TIME" };

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_pii_pack_load(TG_DATA_DIR "/rules/pii/default.yaml", &a, &specs, &n, NULL, NULL, &err), TG_OK,
                 "%s", err.msg);
    for (size_t w = 0; w < sizeof want / sizeof *want; w++) {
        for (i = 0; i < n && strcmp(specs[i].entity, want[w]) != 0; i++)
            ;
        cr_expect(i < n, "%s missing from the default pack", want[w]);
    }
    tg_arena_free(&a);
}

/* digits_grouped: a detector whose numbers are always written in groups
 * (or after a '+') is not admitted by one plain run of digits; the same
 * pattern without the flag is.  The pattern itself would match the plain
 * run, so what is tested is the prefilter's admission alone. */
Test(pii_scan_ext, digits_grouped_admission)
{
    struct db d;
    build(&d, "version: 1\ndetectors:\n"
              DET("g", "GROUPED", "(?<![0-9])\\+?[0-9][0-9 -]{5,14}[0-9](?![0-9])",
                  "    triggers: [digits]\n    min_digits: 7\n    max_digits: 15\n    digits_grouped: true\n"
                  "    score: 0.9\n")
              DET("p", "PLAIN", "(?<![0-9])[0-9]{9}(?![0-9])",
                  "    triggers: [digits]\n    min_digits: 9\n    max_digits: 9\n    score: 0.9\n"));
    /* one plain run: only the detector without the flag runs */
    cr_expect_str_eq(found(&d, "id 123456789 here", 0.5), "PLAIN,");
    /* written in groups, or after a '+': the grouped detector runs */
    cr_expect_str_eq(found(&d, "call 123 456 7890 now", 0.5), "GROUPED,");
    cr_expect_str_eq(found(&d, "call +1234567890 now", 0.5), "GROUPED,");
    /* digits before a '+' number do not hide it: "+..." counts alone */
    cr_expect_str_eq(found(&d, "ref 9876543210987654321 +12 345 678 now", 0.5), "GROUPED,");
    drop(&d);
}

Test(pii_scan_ext, digits_grouped_must_be_bool)
{
    struct tg_arena a;
    struct tg_pii_detector_spec *specs;
    size_t n;
    struct tg_err err = { 0 };
    static const char y[] = "version: 1\ndetectors:\n"
        DET("g", "G", "[0-9]{7}", "    digits_grouped: yes\n");
    tg_arena_init(&a, 0);
    cr_expect_neq(tg_pii_pack_load_buffer("t.yaml", y, strlen(y), &a, &specs, &n, NULL, NULL, &err), TG_OK);
    tg_arena_free(&a);
}

/* A hash-like token (0-9, a-f, '-') is searched for literals only when a
 * literal could be in it: a pack with a hex literal still finds it. */
Test(pii_scan_ext, literals_in_hex_tokens)
{
    struct db d;
    build(&d, "version: 1\ndetectors:\n"
              DET("h", "HEXLIT", "(?<![0-9a-f])[0-9a-f]{8}(?:-?[0-9a-f]{4}){6}(?![0-9a-f])",
                  "    triggers: [long]\n    literals: [deadbeef]\n    score: 0.9\n")
              DET("v", "VENDOR", "zq_[0-9a-f]{29}", "    triggers: [long]\n    literals: [zq_]\n    score: 0.9\n"));
    cr_expect_str_eq(found(&d, "hash deadbeef0123456789abcdef01234567 here", 0.5), "HEXLIT,");
    cr_expect_str_eq(found(&d, "uuid deadbeef-0123-4567-89ab-cdef-0123-4567 here", 0.5), "HEXLIT,");
    cr_expect_str_eq(found(&d, "hash 0123456789abcdef0123456789abcdef here", 0.5), "", "no literal in it");
    cr_expect_str_eq(found(&d, "key zq_0123456789abcdef0123456789abc here", 0.5), "VENDOR,");
    drop(&d);
}

/* coin: a run of 25+ letters and digits admits a detector only when it
 * starts as a Bitcoin address can (1, 3, bc1, tb1); longword admits every
 * such run.  The same loose pattern in both, so what differs is the
 * prefilter's admission alone. */
Test(pii_scan_ext, coin_trigger)
{
    struct db c, l;
    build(&c, "version: 1\ndetectors:\n"
              DET("c", "COIN", "(?<![0-9A-Za-z])[0-9A-Za-z]{25,}(?![0-9A-Za-z])", "    triggers: [coin]\n    score: 0.9\n"));
    build(&l, "version: 1\ndetectors:\n"
              DET("l", "LONG", "(?<![0-9A-Za-z])[0-9A-Za-z]{25,}(?![0-9A-Za-z])", "    triggers: [longword]\n    score: 0.9\n"));
    static const char *const coin[] = {
        "pay 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2 now", "pay 3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy now",
        "pay bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq now", "pay tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx now",
        "pay (1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2). now",
    };
    static const char *const other[] = {
        "commit 0123456789abcdef0123456789abcdef01234567 here", "sha a94a8fe5ccb19ba61c4c0873d391e987982fbbd3 ok",
        "run bc2qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq x", "run BC1QAR0SRRR7XFKVY5L643LYDNW9RE59GTZZWF5MDQ x",
        "run 2J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy x",
    };
    for (size_t i = 0; i < sizeof coin / sizeof *coin; i++) {
        cr_expect_str_eq(found(&c, coin[i], 0.5), "COIN,", "%s", coin[i]);
        cr_expect_str_eq(found(&l, coin[i], 0.5), "LONG,", "%s", coin[i]);
    }
    for (size_t i = 0; i < sizeof other / sizeof *other; i++) {
        cr_expect_str_eq(found(&c, other[i], 0.5), "", "%s", other[i]);
        cr_expect_str_eq(found(&l, other[i], 0.5), "LONG,", "%s", other[i]);
    }
    /* fields of one token: an address after a hash field still admits the
     * window (whose pattern then reads both runs) */
    cr_expect_str_eq(found(&c, "x,0123456789abcdef0123456789abcdef01234567,1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2,2026", 0.5),
                     "COIN,COIN,");
    cr_expect_str_eq(found(&c, "x,0123456789abcdef0123456789abcdef01234567,a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", 0.5),
                     "");
    drop(&c);
    drop(&l);
}

/* The gate of context-only detectors passes only the words of the
 * detectors a window admitted; past 32 such detectors their filter bits
 * are shared (d5 and d37 here), which may pass a word the window does not
 * need but must never admit a detector without its own word. */
Test(pii_scan_ext, context_gate_per_detector)
{
    size_t cap = 40 * 200 + 64, o = 0;
    char *y = malloc(cap);
    struct db d;
    char text[128];
    cr_assert_not_null(y);
    o += (size_t)snprintf(y + o, cap - o, "version: 1\ndetectors:\n");
    for (int i = 0; i < 40; i++)
        o += (size_t)snprintf(y + o, cap - o,
                              "  - id: d%d\n    entity: E%d\n    class: pii\n    triggers: [digits]\n"
                              "    pattern: '(?<![a-z])z%c%c[0-9]{4}'\n    context: [word%c%c]\n"
                              "    context_required: true\n    score: 0.9\n",
                              i, i, 'a' + i / 26, 'a' + i % 26, 'a' + i / 26, 'a' + i % 26);
    build(&d, y);
    for (int i = 0; i < 40; i++) {
        int j = (i + 32) % 40;   /* for i = 5: 37, a detector sharing its bit */
        snprintf(text, sizeof text, "word%c%c code z%c%c1234 here", 'a' + i / 26, 'a' + i % 26, 'a' + i / 26,
                 'a' + i % 26);
        char want[16];
        snprintf(want, sizeof want, "E%d,", i);
        cr_expect_str_eq(found(&d, text, 0.5), want, "%s", text);
        snprintf(text, sizeof text, "word%c%c code z%c%c1234 here", 'a' + j / 26, 'a' + j % 26, 'a' + i / 26,
                 'a' + i % 26);
        cr_expect_str_eq(found(&d, text, 0.5), "", "%s", text);
    }
    /* one window admits d5 and d37 (their words share a filter bit) and
     * d6: each is found with its own word only */
    cr_expect_str_eq(found(&d, "wordaf z-af1234 zbl5678 zag9999", 0.5), "", "no word of theirs");
    cr_expect_str_eq(found(&d, "wordaf zaf1234 zbl5678 zag9999", 0.5), "E5,");
    cr_expect_str_eq(found(&d, "wordbl zaf1234 zbl5678 zag9999", 0.5), "E37,");
    cr_expect_str_eq(found(&d, "wordag zaf1234 zbl5678 zag9999", 0.5), "E6,");
    drop(&d);
    free(y);
}

/* A word and its colon ("Note:", "token:") is the token prose and code
 * stop at most: it opens a window only when the word names a credential,
 * and a lone operator ("?:", "|:") still looks at the word before it. */
Test(pii_scan_ext, key_colon_tokens)
{
    struct db d;
    build(&d, "version: 1\ndetectors:\n"
              DET("a", "ASSIGNED", "(?<=: )[A-Za-z0-9]{20}(?![A-Za-z0-9])", "    triggers: [assign]\n    score: 0.9\n"));
    cr_expect_str_eq(found(&d, "token: Zx9qT4mW8vR2kL7pN3sB", 0.5), "ASSIGNED,");
    cr_expect_str_eq(found(&d, "Api_Key: Zx9qT4mW8vR2kL7pN3sB", 0.5), "ASSIGNED,");
    cr_expect_str_eq(found(&d, "{\"Password\": Zx9qT4mW8vR2kL7pN3sB}", 0.5), "ASSIGNED,");
    cr_expect_str_eq(found(&d, "AUTH: Zx9qT4mW8vR2kL7pN3sB", 0.5), "ASSIGNED,");
    cr_expect_str_eq(found(&d, "token ?: Zx9qT4mW8vR2kL7pN3sB", 0.5), "ASSIGNED,", "a lone operator after the key");
    cr_expect_str_eq(found(&d, "secret |: Zx9qT4mW8vR2kL7pN3sB", 0.5), "ASSIGNED,", "a lone operator after the key");
    cr_expect_str_eq(found(&d, "Note: Zx9qT4mW8vR2kL7pN3sB", 0.5), "");
    cr_expect_str_eq(found(&d, "else: Zx9qT4mW8vR2kL7pN3sB", 0.5), "");
    cr_expect_str_eq(found(&d, "Note ?: Zx9qT4mW8vR2kL7pN3sB", 0.5), "");
    drop(&d);
}
