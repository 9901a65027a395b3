/* test_pii.c — validators, SHA-256, normalisation and offset mapping,
 * code point offsets, limits, pack loading, request scanning, redaction. */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/limits.h"
#include "engine/pii.h"
#include "engine/pii_int.h"
#include "engine/redact.h"
#include "engine/request.h"
#include "policy/pii_pack.h"

#define DEFAULT_PACK TG_DATA_DIR "/rules/pii/default.yaml"

static struct tg_arena A;
static struct tg_pii_db *DB;
static struct tg_pii_scratch *S;

static void
load_default(void)
{
    struct tg_pii_detector_spec *specs;
    size_t n;
    struct tg_err err = { 0 };

    tg_arena_init(&A, 0);
    cr_assert_eq(tg_pii_pack_load(DEFAULT_PACK, &A, &specs, &n, NULL, NULL, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_pii_db_build(specs, n, &DB, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_pii_scratch_new(DB, &S), TG_OK);
}

static void
unload(void)
{
    tg_pii_scratch_free(S);
    tg_pii_db_free(DB);
    tg_arena_free(&A);
    S = NULL;
    DB = NULL;
}

static struct tg_findings
scan(const char *text, size_t len)
{
    struct tg_findings f = { 0 };
    struct tg_err err = { 0 };
    cr_assert_eq(tg_pii_scan(DB, S, text, len, 0, 0.5, &A, &f, &err), TG_OK, "%s", err.msg);
    return f;
}

static const struct tg_finding *
find(const struct tg_findings *f, const char *entity)
{
    for (uint32_t i = 0; i < f->n; i++)
        if (strcmp(f->v[i].entity, entity) == 0)
            return &f->v[i];
    return NULL;
}

static void
hex(const unsigned char *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* ---- primitives ---------------------------------------------------------- */

Test(pii_sha256, fips_vectors)
{
    unsigned char d[32];
    char h[65];
    struct tg__sha256 c;
    char *million = malloc(1000000);

    tg__sha256("", 0, d);
    hex(d, 32, h);
    cr_assert_str_eq(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    tg__sha256("abc", 3, d);
    hex(d, 32, h);
    cr_assert_str_eq(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    tg__sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, d);
    hex(d, 32, h);
    cr_assert_str_eq(h, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    memset(million, 'a', 1000000);
    /* incremental, in uneven pieces, must equal the one-shot digest */
    tg__sha256_init(&c);
    for (size_t off = 0; off < 1000000;) {
        size_t take = off % 7 == 0 ? 63 : 1001;
        if (take > 1000000 - off)
            take = 1000000 - off;
        tg__sha256_update(&c, million + off, take);
        off += take;
    }
    tg__sha256_final(&c, d);
    hex(d, 32, h);
    cr_assert_str_eq(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    free(million);
}

Test(pii_validators, luhn)
{
    cr_assert(tg__pii_luhn("4111111111111111", 16));
    cr_assert(tg__pii_luhn("79927398713", 11));
    cr_assert_not(tg__pii_luhn("4111111111111112", 16));
    cr_assert_not(tg__pii_luhn("79927398710", 11));
    cr_assert_not(tg__pii_luhn("", 0));
    cr_assert_not(tg__pii_luhn("41x1", 4));
}

Test(pii_validators, iban_mod97)
{
    cr_assert(tg__pii_iban_ok("GB82WEST12345698765432", 22));
    cr_assert(tg__pii_iban_ok("DE89370400440532013000", 22));
    cr_assert(tg__pii_iban_ok("NL91ABNA0417164300", 18));
    cr_assert_not(tg__pii_iban_ok("GB83WEST12345698765432", 22));      /* check digits */
    cr_assert_not(tg__pii_iban_ok("GB82WEST1234569876543", 21));       /* GB length is 22 */
    cr_assert_not(tg__pii_iban_ok("QQ82WEST12345698765432", 22));      /* no such country */
}

Test(pii_validators, aba_checksum)
{
    cr_assert(tg__pii_aba_ok("021000021"));
    cr_assert(tg__pii_aba_ok("011000015"));
    cr_assert_not(tg__pii_aba_ok("021000022"));
    cr_assert_not(tg__pii_aba_ok("991000021"));   /* no such Fed district prefix */
    cr_assert_not(tg__pii_aba_ok("000000000"));
}

Test(pii_validators, nhs_mod11)
{
    cr_assert(tg__pii_nhs_ok("9434765919"));
    cr_assert_not(tg__pii_nhs_ok("9434765918"));
    cr_assert_not(tg__pii_nhs_ok("94347659x9"));
}

Test(pii_validators, cn_iso7064)
{
    cr_assert(tg__pii_cn_id_ok("11010519491231002X"));
    cr_assert(tg__pii_cn_id_ok("11010519491231002x"));
    cr_assert_not(tg__pii_cn_id_ok("110105194912310021"));
    cr_assert_not(tg__pii_cn_id_ok("11010519491231002Y"));
}

Test(pii_validators, base58check)
{
    cr_assert(tg__pii_base58check_ok("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2", 34));
    cr_assert(tg__pii_base58check_ok("3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy", 34));
    cr_assert(tg__pii_base58check_ok("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa", 34));
    cr_assert_not(tg__pii_base58check_ok("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3", 34));
    cr_assert_not(tg__pii_base58check_ok("1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN0", 34)); /* '0' not base58 */
    cr_assert(tg__pii_base58check_ok("1111111111111111111114oLvT2", 27));    /* burn address: zero hash */
    cr_assert_not(tg__pii_base58check_ok("1111111111111111111114oLvT3", 27));
}

Test(pii_validators, bech32)
{
    static const char *ok[] = {
        "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4",
        "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
        "bc1p5d7rjq7g6rdk2yhzks9smlaqtedr4dekq08ge8ztwac72sfr9rusxg3297",  /* bech32m */
        "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
    };
    for (size_t i = 0; i < TG_ARRAY_LEN(ok); i++)
        cr_assert(tg__pii_bech32_ok(ok[i], strlen(ok[i])), "%s", ok[i]);
    cr_assert_not(tg__pii_bech32_ok("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t5", 42));
    cr_assert_not(tg__pii_bech32_ok("bc1Qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", 42));  /* mixed case */
    cr_assert_not(tg__pii_bech32_ok("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3tb", 42));  /* 'b' not in charset */
}

Test(pii_validators, entropy)
{
    cr_assert_float_eq(tg__pii_entropy("aaaa", 4), 0.0, 1e-9);
    cr_assert_float_eq(tg__pii_entropy("abcd", 4), 2.0, 1e-9);
    cr_assert_float_eq(tg__pii_entropy("0123456789abcdef", 16), 4.0, 1e-9);
    cr_assert_float_eq(tg__pii_entropy("aabb", 4), 1.0, 1e-9);
    tg__pii_validator_fn ent = tg__pii_validator("entropy");
    cr_assert_not_null(ent);
    cr_assert_geq(ent("k9Xq2LmP7vR4tZ8wB1nC", 20), 0.0);
    cr_assert_lt(ent("aaaaaaaaaaaaaaaaaaaa", 20), 0.0);
    cr_assert_lt(ent("YOUR_API_KEY_HERE", 17), 0.0);
}

Test(pii_validators, ipv6_forms)
{
    static const char *ok[] = { "::1", "::", "fe80::1", "2001:db8::8a2e:370:7334", "1:2:3:4:5:6:7:8",
                                "::ffff:192.0.2.128", "64:ff9b::192.0.2.33", "1::", "fe80::1%eth0" };
    static const char *bad[] = { "1:2:3:4:5:6:7", "1::2::3", "12345::1", ":1:2", "1:2:3:4:5:6:7:8:9",
                                 "::ffff:300.0.2.1", "1:2:3:4:5:6:7:", "::ffff:1.2.3" };
    for (size_t i = 0; i < TG_ARRAY_LEN(ok); i++)
        cr_assert(tg__pii_ipv6_ok(ok[i], strlen(ok[i])), "%s", ok[i]);
    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++)
        cr_assert_not(tg__pii_ipv6_ok(bad[i], strlen(bad[i])), "%s", bad[i]);
}

Test(pii_validators, ssn_and_phone_rules)
{
    tg__pii_validator_fn ssn = tg__pii_validator("us_ssn"), ph = tg__pii_validator("phone");
    cr_assert_geq(ssn("536-22-1234", 11), 0);
    cr_assert_lt(ssn("000-22-1234", 11), 0);
    cr_assert_lt(ssn("666-22-1234", 11), 0);
    cr_assert_lt(ssn("912-22-1234", 11), 0);
    cr_assert_lt(ssn("536-00-1234", 11), 0);
    cr_assert_lt(ssn("536-22-0000", 11), 0);
    cr_assert_lt(ssn("078-05-1120", 11), 0);
    cr_assert_lt(ssn("123-45-6789", 11), 0);
    cr_assert_geq(ph("+44 20 7946 0958", 16), 0);
    cr_assert_lt(ph("+44 20 7946 09", 14), 0);       /* UK national number too short */
    cr_assert_geq(ph("+33 1 42 68 53 00", 17), 0);
    cr_assert_lt(ph("+33 1 42 68 53", 14), 0);
    cr_assert_lt(ph("123-456-7890", 12), 0);          /* NANP area code cannot start with 1 */
    cr_assert_geq(ph("+86 138 0013 8000", 17), 0);
    cr_assert_lt(ph("+86 128 0013 8000", 17), 0);     /* CN mobiles are 13x-19x */
    cr_assert_not(tg_pii_validator_exists("no_such_validator"));
    cr_assert(tg_pii_validator_exists("credit_card"));
}

Test(pii_validators, jwt_header_must_be_json_with_alg)
{
    tg__pii_validator_fn jwt = tg__pii_validator("jwt");
    const char *good = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.sig";
    const char *noalg = "eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.sig";     /* {"typ":"JWT"} */
    cr_assert_eq(jwt(good, strlen(good)), 1.0);
    cr_assert_lt(jwt(noalg, strlen(noalg)), 0);
}

/* ---- scanning, normalisation, offsets -------------------------------------------- */

TestSuite(pii_scan, .init = load_default, .fini = unload);

Test(pii_scan, basic_entities_and_order)
{
    const char *t = "Mail jane.doe@example.com, card 4111 1111 1111 1111, ip 10.1.2.3 and "
                    "key AKIAZ5Q2L7W3X4Y5J6K7 end";
    struct tg_findings f = scan(t, strlen(t));
    const struct tg_finding *e = find(&f, "EMAIL_ADDRESS"), *c = find(&f, "CREDIT_CARD");
    cr_assert_not_null(e);
    cr_assert_not_null(c);
    cr_assert_eq(e->start, 5);
    cr_assert_eq(e->end, 25);
    cr_assert_eq(c->score, 1.0f);
    cr_assert_not_null(find(&f, "IP_ADDRESS"));
    const struct tg_finding *k = find(&f, "AWS_ACCESS_KEY");
    cr_assert_not_null(k);
    cr_assert_eq(k->cls, TG_PII_CLASS_SECRET);
    cr_assert_eq(e->cls, TG_PII_CLASS_PII);
    for (uint32_t i = 0; i < f.n; i++) {
        cr_assert_lt(f.v[i].start, f.v[i].end);
        cr_assert_leq(f.v[i].end, strlen(t));
        if (i)
            cr_assert_geq(f.v[i].start, f.v[i - 1].end, "sorted and non-overlapping");
    }
}

Test(pii_scan, context_raises_score)
{
    const char *a = "the number is 536-22-1234 ok";
    const char *b = "my SSN is 536-22-1234 ok";
    struct tg_findings fa = scan(a, strlen(a)), fb = scan(b, strlen(b));
    const struct tg_finding *x = find(&fa, "US_SSN"), *y = find(&fb, "US_SSN");
    cr_assert_not_null(x);
    cr_assert_not_null(y);
    cr_assert_float_eq(x->score, 0.6, 1e-6);
    cr_assert_float_eq(y->score, 0.95, 1e-6);
    /* whole words only: "assn" is not "ssn" */
    const char *c = "classn 536-22-1234";
    struct tg_findings fc = scan(c, strlen(c));
    cr_assert_float_eq(find(&fc, "US_SSN")->score, 0.6, 1e-6);
}

Test(pii_scan, fullwidth_folded_and_mapped_back)
{
    /* "ｊｏｈｎ＠ｅｘａｍｐｌｅ．ｃｏｍ" = 16 full-width chars x 3 bytes, after "Hi " */
    const char *t = "Hi \xef\xbd\x8a\xef\xbd\x8f\xef\xbd\x88\xef\xbd\x8e\xef\xbc\xa0\xef\xbd\x85\xef\xbd\x98"
                    "\xef\xbd\x81\xef\xbd\x8d\xef\xbd\x90\xef\xbd\x8c\xef\xbd\x85\xef\xbc\x8e\xef\xbd\x83"
                    "\xef\xbd\x8f\xef\xbd\x8d!";
    struct tg_findings f = scan(t, strlen(t));
    const struct tg_finding *e = find(&f, "EMAIL_ADDRESS");
    cr_assert_not_null(e);
    cr_assert_eq(e->start, 3);
    cr_assert_eq(e->end, 3 + 16 * 3);
    cr_assert_eq(tg_pii_codepoint_offset(t, strlen(t), e->start), 3);
    cr_assert_eq(tg_pii_codepoint_offset(t, strlen(t), e->end), 19);
}

Test(pii_scan, zero_width_and_soft_hyphen_removed)
{
    /* 4111 1111 1111 1111 with U+200B after the first digit and U+00AD in the last group */
    const char *t = "card 4\xe2\x80\x8b" "111 1111 1111 11\xc2\xad" "11 ok";
    struct tg_findings f = scan(t, strlen(t));
    const struct tg_finding *c = find(&f, "CREDIT_CARD");
    cr_assert_not_null(c);
    cr_assert_eq(c->start, 5);
    cr_assert_eq(c->end, strlen(t) - 3);
    /* U+2060 and U+FEFF inside an email */
    const char *u = "x jo\xe2\x81\xa0hn@exa\xef\xbb\xbfmple.com";
    struct tg_findings g = scan(u, strlen(u));
    const struct tg_finding *e = find(&g, "EMAIL_ADDRESS");
    cr_assert_not_null(e);
    cr_assert_eq(e->start, 2);
    cr_assert_eq(e->end, strlen(u));
}

Test(pii_scan, invalid_utf8_scanned_bytewise)
{
    char t[128];
    int n = snprintf(t, sizeof t, "\xff\xfe\xc3 bad \xe2\x80 jane@example.com \x80\xbf ssn 536-22-1234");
    struct tg_findings f = scan(t, (size_t)n);
    const struct tg_finding *e = find(&f, "EMAIL_ADDRESS"), *s = find(&f, "US_SSN");
    cr_assert_not_null(e);
    cr_assert_not_null(s);
    cr_assert_eq(memcmp(t + e->start, "jane@example.com", 16), 0);
    cr_assert_eq(e->end - e->start, 16);
    cr_assert_eq(memcmp(t + s->start, "536-22-1234", 11), 0);
    /* invalid bytes count one code point each */
    cr_assert_eq(tg_pii_codepoint_offset(t, (size_t)n, e->start), e->start - 0);
}

Test(pii_scan, json_escapes_decoded_and_mapped_back)
{
    /* tool-call arguments are JSON text: \u0040 is '@', \u200b vanishes */
    const char *t = "{\"to\":\"jane.roe\\u0040exa\\u200bmple.com\"}";
    struct tg_findings f = scan(t, strlen(t));
    const struct tg_finding *e = find(&f, "EMAIL_ADDRESS");
    cr_assert_not_null(e);
    cr_assert_eq(memcmp(t + e->start, "jane.roe", 8), 0);
    cr_assert_eq(e->end, strlen(t) - 2);
    /* a backslash that is no such escape changes nothing */
    const char *u = "path C:\\users\\x and \\u12 jane@example.com";
    struct tg_findings g = scan(u, strlen(u));
    cr_assert_not_null(find(&g, "EMAIL_ADDRESS"));
}

Test(pii_scan, value_split_across_parts)
{
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"my email is jane.roe@\"},"
                       "{\"role\":\"user\",\"content\":\"example.com\"},{\"role\":\"user\",\"content\":\"card 4111 1111\"},"
                       "{\"role\":\"user\",\"content\":\"1111 1111 thanks\"}]}";
    struct tg_request r;
    struct tg_err err = { 0 };
    struct tg_findings f = { 0 };
    uint32_t emails = 0, cards = 0;
    cr_assert_eq(tg_request_parse(body, strlen(body), &A, &r, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_pii_scan_request(DB, S, &r, 0.5, &A, &f, &err), TG_OK);
    for (uint32_t i = 0; i < f.n; i++) {
        if (strcmp(f.v[i].entity, "EMAIL_ADDRESS") == 0)
            emails |= 1u << f.v[i].part;
        if (strcmp(f.v[i].entity, "CREDIT_CARD") == 0)
            cards |= 1u << f.v[i].part;
        if (i)
            cr_assert(f.v[i - 1].part < f.v[i].part ||
                      (f.v[i - 1].part == f.v[i].part && f.v[i - 1].start <= f.v[i].start), "sorted");
    }
    cr_assert_eq(emails, 0x3, "one fragment in each of parts 0 and 1");
    cr_assert_eq(cards, 0xc, "one fragment in each of parts 2 and 3");
    char *out;
    size_t len;
    cr_assert_eq(tg_redact_body(&r, &f, &A, &out, &len, &err), TG_OK);
    cr_assert_null(strstr(out, "example.com"), "%s", out);
    cr_assert_null(strstr(out, "4111"), "%s", out);
    tg_request_dispose(&r);
}

Test(pii_scan, codepoint_offsets)
{
    const char *t = "h\xc3\xa9llo \xe4\xb8\xad\xe6\x96\x87 \xf0\x9f\x98\x80!";   /* héllo 中文 😀! */
    size_t n = strlen(t);
    cr_assert_eq(tg_pii_codepoint_offset(t, n, 0), 0);
    cr_assert_eq(tg_pii_codepoint_offset(t, n, 3), 2);     /* after "hé" */
    cr_assert_eq(tg_pii_codepoint_offset(t, n, 7), 6);     /* "héllo " */
    cr_assert_eq(tg_pii_codepoint_offset(t, n, 13), 8);    /* "héllo 中文" */
    cr_assert_eq(tg_pii_codepoint_offset(t, n, 14), 9);    /* "héllo 中文 " */
    cr_assert_eq(tg_pii_codepoint_offset(t, n, 15), 10);   /* inside the emoji: counts it */
    cr_assert_eq(tg_pii_codepoint_offset(t, n, n), 11);
}

Test(pii_scan, min_score_filters)
{
    const char *t = "order 536221234 shipped";   /* bare 9 digits: SSN at 0.3 */
    struct tg_findings f = { 0 }, g = { 0 };
    struct tg_err err = { 0 };
    cr_assert_eq(tg_pii_scan(DB, S, t, strlen(t), 0, 0.5, &A, &f, &err), TG_OK);
    cr_assert_null(find(&f, "US_SSN"));
    cr_assert_eq(tg_pii_scan(DB, S, t, strlen(t), 7, 0.2, &A, &g, &err), TG_OK);
    const struct tg_finding *x = find(&g, "US_SSN");
    cr_assert_not_null(x);
    cr_assert_eq(x->part, 7);
}

Test(pii_scan, too_many_findings_is_unscannable)
{
    size_t n = (TG_MAX_FINDINGS + 5) * 12;
    char *t = malloc(n + 1);
    size_t o = 0;
    while (o + 12 <= n) {
        memcpy(t + o, "ab@cd.co.uk ", 12);
        o += 12;
    }
    struct tg_findings f = scan(t, o);
    cr_assert(f.unscannable);
    cr_assert_leq(f.n, TG_MAX_FINDINGS);
    free(t);
}

Test(pii_scan, scan_request_tags_parts)
{
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"system\",\"content\":\"be nice\"},"
                       "{\"role\":\"user\",\"name\":\"bob\",\"content\":[{\"type\":\"text\",\"text\":\"mail a@example.com\"}]},"
                       "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"1\",\"type\":\"function\","
                       "\"function\":{\"name\":\"lookup\",\"arguments\":\"{\\\"ssn\\\":\\\"536-22-1234\\\"}\"}}]}]}";
    struct tg_request r;
    struct tg_err err = { 0 };
    struct tg_findings f = { 0 };
    cr_assert_eq(tg_request_parse(body, strlen(body), &A, &r, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_pii_scan_request(DB, S, &r, 0.5, &A, &f, &err), TG_OK, "%s", err.msg);
    const struct tg_finding *e = find(&f, "EMAIL_ADDRESS"), *s = find(&f, "US_SSN");
    cr_assert_not_null(e);
    cr_assert_not_null(s);
    cr_assert_neq(e->part, s->part);
    cr_assert_str_eq(r.parts[s->part].text + 0, "{\"ssn\":\"536-22-1234\"}");
    cr_assert_eq(r.parts[s->part].kind, TG_PART_TOOL_ARGS);
    cr_assert_eq(memcmp(r.parts[e->part].text + e->start, "a@example.com", 13), 0);
    tg_request_dispose(&r);
}

/* A blank line inside one text (Anthropic text blocks are joined by one,
 * and people hide numbers so): a finding across it spans both halves and
 * the line breaks; blank lines between words, or between numbers that are
 * no identifier together, find nothing. */
static struct tg_findings
scan_request_text(const char *text, struct tg_request *r)
{
    char body[1024];
    struct tg_err err = { 0 };
    struct tg_findings f = { 0 };
    size_t o = (size_t)snprintf(body, sizeof body, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"");
    for (const char *p = text; *p; p++) {
        if (*p == '\n') { body[o++] = '\\'; body[o++] = 'n'; }
        else body[o++] = *p;
    }
    snprintf(body + o, sizeof body - o, "\"}]}");
    cr_assert_eq(tg_request_parse(body, strlen(body), &A, r, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_pii_scan_request(DB, S, r, 0.5, &A, &f, &err), TG_OK, "%s", err.msg);
    return f;
}

Test(pii_scan, scan_request_finds_values_across_a_blank_line)
{
    static const struct { const char *text, *entity, *span; } yes[] = {
        { "pay with 4111 1111\n\n 1111 1111 today", "CREDIT_CARD", "4111 1111\n\n 1111 1111" },
        { "pay with 4111 1111 \n\n1111 1111 today", "CREDIT_CARD", "4111 1111 \n\n1111 1111" },
        { "write to jane.roe@\n\nexample.com please", "EMAIL_ADDRESS", "jane.roe@\n\nexample.com" },
        { "a\n\nb\n\ncard 4111\n\n\n1111 1111 1111 x\n\ny", "CREDIT_CARD", "4111\n\n\n1111 1111 1111" },
    };
    static const char *const no[] = {
        "version 4111 1111\n\n 1111 1112 today",     /* fails Luhn joined */
        "Step 1\n\n2. Install the package",
        "Total: 12\n\n34 items left",
    };
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        struct tg_request r;
        struct tg_findings f = scan_request_text(yes[i].text, &r);
        const struct tg_finding *e = find(&f, yes[i].entity);
        cr_assert_not_null(e, "%zu: no %s", i, yes[i].entity);
        cr_assert_eq(e->end - e->start, strlen(yes[i].span), "%zu: span %u..%u", i, e->start, e->end);
        cr_assert_eq(memcmp(r.parts[e->part].text + e->start, yes[i].span, strlen(yes[i].span)), 0, "%zu", i);
        tg_request_dispose(&r);
    }
    for (size_t i = 0; i < sizeof no / sizeof *no; i++) {
        struct tg_request r;
        struct tg_findings f = scan_request_text(no[i], &r);
        cr_assert_eq(f.n, 0, "%zu: %u findings, first %s", i, f.n, f.n ? f.v[0].entity : "");
        tg_request_dispose(&r);
    }
}

/* ---- redaction ---------------------------------------------------------------------- */

Test(pii_scan, redact_text_stable_placeholders)
{
    const char *t = "a@example.com wrote to b@example.com; cc a@example.com, card 4111111111111111";
    struct tg_findings f = scan(t, strlen(t));
    char *out;
    size_t len;
    struct tg_err err = { 0 };
    cr_assert_eq(tg_redact_text(t, strlen(t), &f, &A, &out, &len, &err), TG_OK);
    cr_assert_str_eq(out, "<EMAIL_ADDRESS_1> wrote to <EMAIL_ADDRESS_2>; cc <EMAIL_ADDRESS_1>, card <CREDIT_CARD_1>");
    cr_assert_eq(len, strlen(out));
}

/* Findings from different passes may overlap (a card found across a blank
 * line, a phone number found in the part): nothing of either is left. */
Test(pii_scan, redact_text_overlapping_findings_mask_both)
{
    const char *t = "call 555 4111 1111\n\n1111 1111 now";
    struct tg_finding v[2] = {
        { .part = 0, .start = 5, .end = 18, .entity = "PHONE_NUMBER", .score = 0.6f },
        { .part = 0, .start = 9, .end = 29, .entity = "CREDIT_CARD", .score = 1.0f },
    };
    struct tg_findings f = { .v = v, .n = 2, .cap = 2 };
    char *out;
    size_t len;
    struct tg_err err = { 0 };

    cr_assert_eq(tg_redact_text(t, strlen(t), &f, &A, &out, &len, &err), TG_OK);
    cr_assert_str_eq(out, "call <PHONE_NUMBER_1><CREDIT_CARD_1> now");
    cr_assert_null(strstr(out, "1111"), "%s", out);
}

Test(pii_scan, redact_body_valid_json_same_value_same_placeholder)
{
    const char *body = "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"I am \\\"a@example.com\\\" SSN 536-22-1234\"},"
                       "{\"role\":\"assistant\",\"content\":\"noted a@example.com\"},"
                       "{\"role\":\"user\",\"content\":\"also b@example.com\"}]}";
    struct tg_request r;
    struct tg_err err = { 0 };
    struct tg_findings f = { 0 };
    char *out;
    size_t len;
    cr_assert_eq(tg_request_parse(body, strlen(body), &A, &r, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_pii_scan_request(DB, S, &r, 0.5, &A, &f, &err), TG_OK);
    cr_assert_eq(tg_redact_body(&r, &f, &A, &out, &len, &err), TG_OK, "%s", err.msg);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "redacted body is valid JSON: %s", out);
    cJSON *msgs = cJSON_GetObjectItem(j, "messages");
    cr_assert_str_eq(cJSON_GetArrayItem(msgs, 0)->child->next->valuestring,
                     "I am \"<EMAIL_ADDRESS_1>\" SSN <US_SSN_1>");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "content")->valuestring,
                     "noted <EMAIL_ADDRESS_1>");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 2), "content")->valuestring,
                     "also <EMAIL_ADDRESS_2>");
    cr_assert_null(strstr(out, "example.com"));
    /* the request itself is unchanged */
    cr_assert_not_null(strstr(r.parts[1].text, "a@example.com"));
    cJSON_Delete(j);
    tg_request_dispose(&r);
}

/* ---- limits, build errors, packs ---------------------------------------------------------- */

static int
build_one(const char *pattern, uint32_t triggers, struct tg_pii_db **db, struct tg_err *err)
{
    struct tg_pii_detector_spec s = { 0 };
    s.id = "t";
    s.entity = "TEST";
    s.pattern = pattern;
    s.score = 0.9;
    s.triggers = triggers;
    s.file = "inline";
    s.line = 3;
    s.col = 5;
    return tg_pii_db_build(&s, 1, db, err);
}

Test(pii_limits, catastrophic_backtracking_is_unscannable)
{
    struct tg_pii_db *db = NULL;
    struct tg_pii_scratch *s = NULL;
    struct tg_arena a;
    struct tg_err err = { 0 };
    struct tg_findings f = { 0 };
    char t[80];

    tg_arena_init(&a, 0);
    cr_assert_eq(build_one("(a|aa)+$", TG_PII_TRIG_LONG | TG_PII_TRIG_DIGITS, &db, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_pii_scratch_new(db, &s), TG_OK);
    memset(t, 'a', sizeof t);
    t[0] = '1';
    t[sizeof t - 1] = 'c';
    cr_assert_eq(tg_pii_scan(db, s, t, sizeof t, 0, 0.5, &a, &f, &err), TG_OK);
    cr_assert(f.unscannable, "a PCRE2 match limit must fail closed");
    tg_pii_scratch_free(s);
    tg_pii_db_free(db);
    tg_arena_free(&a);
}

Test(pii_limits, build_errors_name_the_detector)
{
    struct tg_pii_db *db = NULL;
    struct tg_err err = { 0 };
    cr_assert_eq(build_one("(unclosed", 0, &db, &err), TG_EPOLICY);
    cr_assert_null(db);
    cr_assert_not_null(strstr(err.msg, "inline:3:5"), "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "detector t"), "%s", err.msg);
    struct tg_pii_detector_spec s = { .id = "v", .entity = "X", .pattern = "a", .validator = "nope" };
    cr_assert_eq(tg_pii_db_build(&s, 1, &db, &err), TG_EPOLICY);
    cr_assert_not_null(strstr(err.msg, "nope"), "%s", err.msg);
}

struct diags {
    int n;
    char last[256];
    uint32_t line, col;
};

static void
collect(void *ud, enum tg_diag_level lvl, const struct tg_pos *pos, const char *msg)
{
    struct diags *d = ud;
    (void)lvl;
    d->n++;
    snprintf(d->last, sizeof d->last, "%s", msg);
    d->line = pos->line;
    d->col = pos->col;
}

Test(pii_pack, default_pack_loads_every_entity)
{
    struct tg_arena a;
    struct tg_pii_detector_spec *specs;
    size_t n, i, j;
    struct tg_err err = { 0 };
    static const char *ents[] = { "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "IBAN_CODE",
        "IP_ADDRESS", "US_PASSPORT", "US_DRIVER_LICENSE", "US_ITIN", "US_BANK_NUMBER", "ABA_ROUTING_NUMBER",
        "UK_NHS", "UK_NINO", "CN_RESIDENT_ID", "MAC_ADDRESS", "CRYPTO", "DATE_OF_BIRTH", "AWS_ACCESS_KEY",
        "PRIVATE_KEY", "GITHUB_TOKEN", "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "SLACK_TOKEN", "JWT",
        "GENERIC_SECRET" };
    tg_arena_init(&a, 0);
    cr_assert_eq(tg_pii_pack_load(DEFAULT_PACK, &a, &specs, &n, NULL, NULL, &err), TG_OK, "%s", err.msg);
    for (i = 0; i < TG_ARRAY_LEN(ents); i++) {
        for (j = 0; j < n && strcmp(specs[j].entity, ents[i]) != 0; j++)
            ;
        cr_assert_lt(j, n, "default pack lacks %s", ents[i]);
    }
    tg_arena_free(&a);
}

Test(pii_pack, bad_entries_report_positions)
{
    struct tg_arena a;
    struct tg_pii_detector_spec *specs = NULL;
    size_t n = 0;
    struct tg_err err = { 0 };
    struct diags d = { 0 };
    const char *y = "detectors:\n"
                    "  - id: a\n"
                    "    entity: A\n"
                    "    pattern: 'x'\n"
                    "    validator: nope\n";
    tg_arena_init(&a, 0);
    cr_assert_eq(tg_pii_pack_load_buffer("p.yaml", y, strlen(y), &a, &specs, &n, collect, &d, &err), TG_EPOLICY);
    cr_assert_eq(d.n, 1);
    cr_assert_eq(d.line, 5);
    cr_assert_eq(d.col, 16);
    cr_assert_not_null(strstr(d.last, "unknown validator"));
    cr_assert_null(specs);

    const char *y2 = "detectors:\n"
                     "  - id: a\n"
                     "    entity: A\n"
                     "    pattern: 'x'\n"
                     "    colour: red\n"
                     "    triggers: [digits, bogus]\n"
                     "  - id: a\n"
                     "    entity: lower\n"
                     "    score: 2\n"
                     "    pattern: 'y'\n";
    memset(&d, 0, sizeof d);
    cr_assert_eq(tg_pii_pack_load_buffer("p.yaml", y2, strlen(y2), &a, &specs, &n, collect, &d, &err), TG_EPOLICY);
    cr_assert_eq(d.n, 5, "unknown key, unknown trigger, entity case, score range, duplicate id (got %d)", d.n);

    const char *y3 = "detectors: [ {id: a, entity: A, pattern: 'x' ";   /* syntax error */
    memset(&d, 0, sizeof d);
    cr_assert_eq(tg_pii_pack_load_buffer("p.yaml", y3, strlen(y3), &a, &specs, &n, collect, &d, &err), TG_EPOLICY);
    cr_assert_geq(d.n, 1);
    cr_assert_eq(tg_pii_pack_load("/nonexistent/pack.yaml", &a, &specs, &n, collect, &d, &err), TG_EIO);
    tg_arena_free(&a);
}

Test(pii_misc, mask_never_shows_the_value)
{
    char out[64];
    tg_pii_mask("john@example.com", 16, out, sizeof out);
    cr_assert_str_eq(out, "j***@e******.com");
    tg_pii_mask("536-22-1234", 11, out, sizeof out);
    cr_assert_str_eq(out, "5**-2*-1***");
    tg_pii_mask("abcdef", 6, out, 4);
    cr_assert_str_eq(out, "a**");
}

static void
write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(pii_pack, include_loads_other_packs_and_refuses_cycles_and_duplicates)
{
    struct tg_arena a;
    struct tg_pii_detector_spec *specs = NULL;
    size_t n = 0;
    struct tg_err err = { 0 };
    struct diags d = { 0 };
    char dir[] = "/tmp/tg-pack-XXXXXX", pa[64], pb[64];
    const char *det = "    class: pii\n    pattern: 'Q[0-9]{4}'\n    triggers: [digits]\n    score: 0.9\n";
    char buf[512];

    cr_assert_not_null(mkdtemp(dir));
    snprintf(pa, sizeof pa, "%s/a.yaml", dir);
    snprintf(pb, sizeof pb, "%s/b.yaml", dir);
    tg_arena_init(&a, 0);
    snprintf(buf, sizeof buf, "include: [b.yaml]\ndetectors:\n  - id: a1\n    entity: A_X\n%s", det);
    write_file(pa, buf);
    snprintf(buf, sizeof buf, "detectors:\n  - id: b1\n    entity: B_X\n%s", det);
    write_file(pb, buf);
    cr_assert_eq(tg_pii_pack_load(pa, &a, &specs, &n, collect, &d, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(specs[0].id, "b1", "included packs come first");
    cr_assert_str_eq(specs[1].id, "a1");
    cr_assert_not_null(strstr(specs[0].file, "b.yaml"), "a spec names its own file");

    /* the same id in both files */
    snprintf(buf, sizeof buf, "detectors:\n  - id: a1\n    entity: B_X\n%s", det);
    write_file(pb, buf);
    memset(&d, 0, sizeof d);
    cr_assert_eq(tg_pii_pack_load(pa, &a, &specs, &n, collect, &d, &err), TG_EPOLICY);
    cr_assert_not_null(strstr(err.msg, "duplicate"));

    /* a cycle is bounded, not a hang */
    write_file(pb, "include: [a.yaml]\n");
    cr_assert_eq(tg_pii_pack_load(pa, &a, &specs, &n, collect, &d, &err), TG_EPOLICY);
    cr_assert_not_null(strstr(err.msg, "deep"));

    /* include is a file-level key: a buffer cannot include */
    memset(&d, 0, sizeof d);
    cr_assert_eq(tg_pii_pack_load_buffer("p.yaml", "include: [b.yaml]\n", 18, &a, &specs, &n, collect, &d,
                                         &err), TG_EPOLICY);
    unlink(pa);
    unlink(pb);
    rmdir(dir);
    tg_arena_free(&a);
}

/* Normalisation maps every folded character back to the client's bytes:
 * a finding written in Arabic-Indic digits, percent-encoded or with an HTML
 * reference covers exactly the original text. */
Test(pii_norm, spans_map_back_to_the_original_bytes, .init = load_default, .fini = unload)
{
    static const struct { const char *text, *entity, *expect; } c[] = {
        { "card \xd9\xa4\xd9\xa1\xd9\xa1\xd9\xa1 \xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1 \xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1 "
          "\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1 ok", "CREDIT_CARD",
          "\xd9\xa4\xd9\xa1\xd9\xa1\xd9\xa1 \xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1 \xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1 "
          "\xd9\xa1\xd9\xa1\xd9\xa1\xd9\xa1" },
        { "write to jane.roe%40example.com today", "EMAIL_ADDRESS", "jane.roe%40example.com" },
        { "write to jane.roe&#64;example.com today", "EMAIL_ADDRESS", "jane.roe&#64;example.com" },
        { "card 4111\xe2\x80\x8b" "1111\xe2\x80\x8b" "1111\xe2\x80\x8b" "1111.", "CREDIT_CARD",
          "4111\xe2\x80\x8b" "1111\xe2\x80\x8b" "1111\xe2\x80\x8b" "1111" },
        { "{\"to\":\"jane.roe\\\\u0040example.com\"}", "EMAIL_ADDRESS", "jane.roe\\\\u0040example.com" },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct tg_findings f = scan(c[i].text, strlen(c[i].text));
        const struct tg_finding *x = find(&f, c[i].entity);
        cr_assert_not_null(x, "case %zu: no %s", i, c[i].entity);
        cr_expect_eq(x->end - x->start, strlen(c[i].expect), "case %zu: span length", i);
        cr_expect(memcmp(c[i].text + x->start, c[i].expect, strlen(c[i].expect)) == 0, "case %zu: span", i);
    }
}
