/*
 * test_audit.c — the audit log: writer, chain, seals, keys, recovery, and
 * the verifier against every tampering the issue lists (each bit flipped,
 * entries deleted/inserted/swapped/duplicated, truncation, wrong/unlisted/
 * expired keys, re-sealing with a newer key).
 */
#include "audit/audit.h"
#include "audit/audit_int.h"
#include "engine/preflight.h"

#include <criterion/criterion.h>

#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/pem.h>

/* ---- helpers ------------------------------------------------------------- */

static char dir[256];

static void
mkdir_tmp(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tg_audit_test.XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
rm_tmp(void)
{
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)system(cmd);
}

static char *
path_in(const char *name)
{
    static char bufs[8][320];
    static int i;
    char *p = bufs[i++ % 8];
    snprintf(p, 320, "%s/%s", dir, name);
    return p;
}

struct buf {
    char  *p;
    size_t n;
};

static struct buf
slurp(const char *path)
{
    struct buf b = { 0 };
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    b.n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    b.p = malloc(b.n + 1);
    cr_assert_eq(fread(b.p, 1, b.n, f), b.n);
    b.p[b.n] = 0;
    fclose(f);
    return b;
}

static void
spit(const char *path, const char *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static char *
keygen(const char *name, char id[33])
{
    struct tg_err err = { 0 };
    char *prefix = path_in(name);
    cr_assert_eq(tg_audit_keygen(prefix, id, &err), TG_OK, "%s", err.msg);
    return prefix;
}

static struct buf
pub_pem(const char *prefix)
{
    char p[340];
    snprintf(p, sizeof(p), "%s.pub", prefix);
    return slurp(p);
}

static struct tg_audit_cfg
cfg_for(const char *log, const char *prefix, enum tg_sign_mode sign, uint32_t seal_every)
{
    static char key[8][340];
    static int i;
    char *k = key[i++ % 8];
    snprintf(k, 340, "%s.key", prefix);
    struct tg_audit_cfg c = { .path = log, .signing_key = k, .fsync = TG_FSYNC_NEVER, .sign = sign,
                              .seal_every = seal_every, .seal_interval_ms = 60000, .queue_depth = 64 };
    return c;
}

static void
append_n(struct tg_audit_log *l, int n, const char *tenant)
{
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "event", "decision");
        cJSON_AddStringToObject(e, "tenant", tenant);
        cJSON_AddNumberToObject(e, "i", i);
        cr_assert_eq(tg_audit_append(l, e, NULL, NULL), TG_OK);
    }
}

/* Write a log: n decision entries in one session. */
static void
write_log(const char *log, const char *prefix, enum tg_sign_mode sign, uint32_t seal_every, int n)
{
    struct tg_audit_cfg c = cfg_for(log, prefix, sign, seal_every);
    struct tg_audit_log *l = NULL;
    struct tg_err err = { 0 };
    cr_assert_eq(tg_audit_open(&c, &l, &err), TG_OK, "%s", err.msg);
    append_n(l, n, "acme");
    cr_assert_eq(tg_audit_close(l, &err), TG_OK, "%s", err.msg);
}

struct outcome {
    struct tg_audit_verify_result r;
    char first[256];
};

static void
rep(void *ud, const char *kind, uint64_t seq, const char *reason)
{
    struct outcome *o = ud;
    if (o->first[0] == 0 && strcmp(kind, "recovered") != 0)
        snprintf(o->first, sizeof(o->first), "%s: seq %llu: %s", kind, (unsigned long long)seq, reason);
}

/* Verify files (NULL-terminated list of buffers) with keys (NULL-terminated prefixes). */
static struct outcome
verify_bufs(const struct buf *files, size_t nfiles, const char *const *keys, const char *expect)
{
    struct outcome o;
    struct tg_audit_verifier *v = NULL;
    struct tg_err err = { 0 };
    memset(&o, 0, sizeof(o));
    cr_assert_eq(tg_audit_verifier_new(rep, &o, &v, &err), TG_OK);
    for (size_t i = 0; keys[i] != NULL; i++) {
        struct buf p = pub_pem(keys[i]);
        cr_assert_eq(tg_audit_verifier_add_key(v, p.p, p.n, NULL, &err), TG_OK, "%s", err.msg);
        free(p.p);
    }
    if (expect != NULL)
        cr_assert_eq(tg_audit_verifier_expect_head(v, expect, &err), TG_OK);
    for (size_t i = 0; i < nfiles; i++)
        tg_audit_verifier_feed(v, files[i].p, files[i].n);
    tg_audit_verifier_finish(v, &o.r);
    tg_audit_verifier_free(v);
    return o;
}

static bool
clean(const struct outcome *o)
{
    return o->r.problems == 0 && o->r.unsealed == 0 && o->r.entries > 0 && o->r.verified == o->r.entries;
}

static struct outcome
verify1(struct buf b, const char *key)
{
    const char *keys[] = { key, NULL };
    return verify_bufs(&b, 1, keys, NULL);
}

/* Split a buffer into line offsets. */
static size_t
lines(struct buf b, size_t *off, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < b.n && n < max; i++) {
        if (i == 0 || b.p[i - 1] == '\n')
            off[n++] = i;
    }
    off[n] = b.n;
    return n;
}

/* Rebuild a file from a permutation/selection of its lines. */
static struct buf
relines(struct buf b, const size_t *off, const int *pick, size_t npick)
{
    struct buf o = { malloc(b.n * 2 + 1), 0 };
    for (size_t i = 0; i < npick; i++) {
        size_t s = off[pick[i]], e = off[pick[i] + 1];
        memcpy(o.p + o.n, b.p + s, e - s);
        o.n += e - s;
    }
    return o;
}

TestSuite(audit, .init = mkdir_tmp, .fini = rm_tmp, .timeout = 180);

/* ---- basics -------------------------------------------------------------- */

Test(audit, keygen_mode_and_no_overwrite)
{
    char id[33], id2[33];
    struct stat st;
    struct tg_err err = { 0 };
    char *prefix = keygen("k", id);
    char kp[340];

    snprintf(kp, sizeof(kp), "%s.key", prefix);
    cr_assert_eq(stat(kp, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
    cr_assert_eq(strlen(id), 32);
    struct buf before = slurp(kp);
    cr_assert_neq(tg_audit_keygen(prefix, id2, &err), TG_OK);
    cr_assert(strstr(err.msg, "refusing to overwrite") != NULL, "%s", err.msg);
    struct buf after = slurp(kp);
    cr_assert(before.n == after.n && memcmp(before.p, after.p, before.n) == 0);
    free(before.p);
    free(after.p);
}

Test(audit, merkle_root_rfc9162)
{
    uint8_t leaves[3 * 32], scratch[3 * 32], root[32], a[33], b[33], c[33], ha[32], hb[32], hc[32],
        ab[65], hab[32], top[65], want[32];
    for (int i = 0; i < 96; i++)
        leaves[i] = (uint8_t)i;
    /* by hand: MTH(3) = H(1 || H(1 || H(0||a) || H(0||b)) || H(0||c)) */
    a[0] = b[0] = c[0] = 0;
    memcpy(a + 1, leaves, 32);
    memcpy(b + 1, leaves + 32, 32);
    memcpy(c + 1, leaves + 64, 32);
    tg__audit_sha256(a, 33, ha);
    tg__audit_sha256(b, 33, hb);
    tg__audit_sha256(c, 33, hc);
    ab[0] = 1;
    memcpy(ab + 1, ha, 32);
    memcpy(ab + 33, hb, 32);
    tg__audit_sha256(ab, 65, hab);
    top[0] = 1;
    memcpy(top + 1, hab, 32);
    memcpy(top + 33, hc, 32);
    tg__audit_sha256(top, 65, want);
    tg__audit_merkle_root(leaves, 3, scratch, root);
    cr_assert_eq(memcmp(root, want, 32), 0);
    tg__audit_merkle_root(leaves, 1, scratch, root);
    cr_assert_eq(memcmp(root, ha, 32), 0);
}

Test(audit, request_hmac_per_tenant)
{
    char id[33];
    char *k = keygen("k", id);
    struct tg_audit_cfg c = cfg_for(path_in("log"), k, TG_SIGN_SEAL, 100);
    struct tg_audit_log *l = NULL;
    struct tg_err err = { 0 };
    uint8_t h1[32], h2[32], h3[32], plain[32];

    cr_assert_eq(tg_audit_open(&c, &l, &err), TG_OK, "%s", err.msg);
    cr_assert_str_eq(tg_audit_key_id(l), id);
    tg_audit_request_hmac(l, "a", "hello", 5, h1);
    tg_audit_request_hmac(l, "a", "hello", 5, h2);
    tg_audit_request_hmac(l, "b", "hello", 5, h3);
    tg__audit_sha256("hello", 5, plain);
    cr_assert_eq(memcmp(h1, h2, 32), 0);
    cr_assert_neq(memcmp(h1, h3, 32), 0);
    cr_assert_neq(memcmp(h1, plain, 32), 0);
    cr_assert(tg_audit_healthy(l));
    cr_assert_eq(tg_audit_close(l, &err), TG_OK);
}

Test(audit, entry_json_fields_and_no_pii)
{
    struct tg_reason rs[] = { { "pii.provider", "provider not allowed PII" }, { "cost.rule", "too costly" } };
    struct tg_reason drs[] = { { "route.empty", "no compliant candidate" }, { "pii.provider", "x" } };
    struct tg_cand cands[] = { { .model = 0, .compliant = false, .est_cost_usd = 0.01, .reasons = rs, .nreasons = 2 } };
    struct tg_finding fs[] = { { .part = 0, .start = 9, .end = 25, .entity = "EMAIL_ADDRESS", .detector = "email" } };
    struct tg_pii_count pc[] = { { "EMAIL_ADDRESS", 1, TG_PII_CLASS_PII } };
    const char *tags[] = { "ear" };
    struct tg_decision d = { .verdict = TG_DENY, .enforced = true, .tenant = "acme", .feature = "chat",
                             .category = "general", .export_tags = tags, .nexport_tags = 1,
                             .findings = { .v = fs, .n = 1 }, .pii = pc, .npii = 1, .cands = cands,
                             .ncands = 1, .reasons = drs, .nreasons = 2, .policy_version = "abc" };
    struct tg_audit_attempt at[] = { { "m1", "p1", "timeout", 0, 800 } };
    struct tg_audit_event ev = { .event = "decision", .decision_id = "0123", .ts_us = 1700000000123456LL,
                                 .decision = &d, .mode = "enforce", .http_status = 403, .attempts = at,
                                 .nattempts = 1, .latency_ms = 5, .prompt_tokens = -1, .completion_tokens = 7,
                                 .cost_usd = NAN, .has_request_hmac = true, .request_len = 42 };
    cJSON *e = tg_audit_entry_json(&ev);
    char *s;

    cr_assert_not_null(e);
    s = cJSON_PrintUnformatted(e);
    cr_assert(strstr(s, "\"ts\":\"2023-11-14T22:13:20.123456Z\"") != NULL, "%s", s);
    cr_assert(strstr(s, "\"decision\":\"deny\"") != NULL);
    cr_assert(strstr(s, "\"rules\":[\"pii.provider\",\"cost.rule\",\"route.empty\"]") != NULL, "%s", s);
    cr_assert(strstr(s, "\"pii_spans\":[{\"entity\":\"EMAIL_ADDRESS\",\"part\":0,\"start\":9,\"end\":25}]") != NULL, "%s", s);
    cr_assert(strstr(s, "\"attempts\":[{\"model\":\"m1\",\"provider\":\"p1\",\"outcome\":\"timeout\",\"http_status\":0,\"ms\":800}]") != NULL, "%s", s);
    cr_assert(strstr(s, "\"usage\":{\"prompt_tokens\":null,\"completion_tokens\":7}") != NULL, "%s", s);
    cr_assert(strstr(s, "\"cost_usd\":null") != NULL);
    cr_assert(strstr(s, "\"request_len\":42") != NULL);
    cr_assert(strstr(s, "\"status\":403") != NULL);
    cr_assert(strstr(s, "@") == NULL, "no PII value may appear: %s", s);
    free(s);
    cJSON_Delete(e);
}

Test(audit, new_id_unique_hex)
{
    char a[33], b[33];
    tg_audit_new_id(a);
    tg_audit_new_id(b);
    cr_assert_eq(strlen(a), 32);
    cr_assert_str_neq(a, b);
    for (int i = 0; i < 32; i++)
        cr_assert(strchr("0123456789abcdef", a[i]) != NULL);
}

Test(audit, written_log_verifies_seal_mode)
{
    char id[33];
    char *k = keygen("k", id);
    write_log(path_in("log"), k, TG_SIGN_SEAL, 4, 10);
    struct buf b = slurp(path_in("log"));
    struct outcome o = verify1(b, k);
    cr_assert(clean(&o), "%s (%llu/%llu)", o.first, (unsigned long long)o.r.verified,
              (unsigned long long)o.r.entries);
    /* start + 10 entries + seals after 4, 8 and at close */
    cr_assert_eq(o.r.entries, 14, "%llu", (unsigned long long)o.r.entries);
    cr_assert(strstr(b.p, "\"event\":\"seal\"") != NULL);
    cr_assert(strstr(b.p, "\"root\":\"") != NULL);
    free(b.p);
}

Test(audit, written_log_verifies_sign_each)
{
    char id[33];
    char *k = keygen("k", id);
    write_log(path_in("log"), k, TG_SIGN_EACH, 1000, 6);
    struct buf b = slurp(path_in("log"));
    size_t off[64];
    size_t n = lines(b, off, 63);
    for (size_t i = 0; i < n; i++)
        cr_assert(memmem(b.p + off[i], off[i + 1] - off[i], "\"sig\":\"", 7) != NULL, "line %zu unsigned", i);
    struct outcome o = verify1(b, k);
    cr_assert(clean(&o), "%s", o.first);
    free(b.p);
}

/* ---- tampering ----------------------------------------------------------- */

Test(audit, every_bit_flip_is_caught)
{
    char id[33];
    char *k = keygen("k", id);
    write_log(path_in("log"), k, TG_SIGN_SEAL, 2, 2);   /* start, e1, seal, e2, seal */
    struct buf b = slurp(path_in("log"));
    struct buf p = pub_pem(k);
    struct tg_err err = { 0 };
    size_t missed = 0;

    for (size_t i = 0; i < b.n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            struct tg_audit_verifier *v = NULL;
            struct tg_audit_verify_result r;
            cr_assert_eq(tg_audit_verifier_new(NULL, NULL, &v, &err), TG_OK);
            cr_assert_eq(tg_audit_verifier_add_key(v, p.p, p.n, NULL, &err), TG_OK);
            b.p[i] ^= (char)(1 << bit);
            tg_audit_verifier_feed(v, b.p, b.n);
            b.p[i] ^= (char)(1 << bit);
            tg_audit_verifier_finish(v, &r);
            tg_audit_verifier_free(v);
            if (r.problems == 0 && r.unsealed == 0 && r.verified == r.entries)
                missed++;
        }
    }
    cr_assert_eq(missed, 0, "%zu of %zu bit flips not detected", missed, b.n * 8);
    struct outcome o = verify1(b, k);
    cr_assert(clean(&o), "the untouched log still verifies: %s", o.first);
    free(b.p);
    free(p.p);
}

Test(audit, delete_each_entry_is_caught)
{
    char id[33];
    char *k = keygen("k", id);
    write_log(path_in("log"), k, TG_SIGN_SEAL, 3, 8);
    struct buf b = slurp(path_in("log"));
    size_t off[64];
    int pick[64];
    size_t n = lines(b, off, 63);

    for (size_t del = 0; del + 1 < n; del++) {   /* the last one is "truncation", tested below */
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (i != del)
                pick[m++] = (int)i;
        struct buf t = relines(b, off, pick, m);
        struct outcome o = verify1(t, k);
        cr_assert(!clean(&o), "deleting line %zu went unnoticed", del);
        cr_assert(o.r.problems > 0);
        free(t.p);
    }
    free(b.p);
}

Test(audit, duplicate_swap_and_insert_are_caught)
{
    char id[33];
    char *k = keygen("k", id);
    write_log(path_in("log"), k, TG_SIGN_SEAL, 3, 8);
    struct buf b = slurp(path_in("log"));
    size_t off[64];
    int pick[80];
    size_t n = lines(b, off, 63);

    for (size_t d = 0; d < n; d++) {         /* duplicate line d */
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            pick[m++] = (int)i;
            if (i == d)
                pick[m++] = (int)i;
        }
        struct buf t = relines(b, off, pick, m);
        struct outcome o = verify1(t, k);
        cr_assert(o.r.problems > 0, "duplicating line %zu went unnoticed", d);
        free(t.p);
    }
    for (size_t s = 0; s + 1 < n; s++) {     /* swap s and s+1 */
        for (size_t i = 0; i < n; i++)
            pick[i] = (int)i;
        pick[s] = (int)s + 1;
        pick[s + 1] = (int)s;
        struct buf t = relines(b, off, pick, n);
        struct outcome o = verify1(t, k);
        cr_assert(o.r.problems > 0, "swapping lines %zu,%zu went unnoticed", s, s + 1);
        free(t.p);
    }
    /* Insert a well-formed entry with a correct hash that continues the chain
     * at line 3 (an attacker without the key): the following entries' prev
     * and the seal's root no longer match. */
    {
        struct tg__audit_line l2;
        const char *why;
        char prevhex[65], hex[65], line[512];
        uint8_t h[32];
        cr_assert_eq(tg__audit_parse_line(b.p + off[2], off[3] - off[2] - 1, &l2, &why), TG_OK);
        tg__audit_hex(l2.hash, 32, prevhex);
        int w = snprintf(line, sizeof(line), "{\"seq\":%llu,\"prev\":\"%s\",\"key_id\":\"%s\",\"event\":\"decision\",\"tenant\":\"evil\"",
                         (unsigned long long)l2.seq + 1, prevhex, id);
        tg__audit_sha256(line, (size_t)w, h);
        tg__audit_hex(h, 32, hex);
        w += snprintf(line + w, sizeof(line) - (size_t)w, ",\"hash\":\"%s\"}\n", hex);
        struct buf t = { malloc(b.n + (size_t)w), 0 };
        memcpy(t.p, b.p, off[3]);
        memcpy(t.p + off[3], line, (size_t)w);
        memcpy(t.p + off[3] + w, b.p + off[3], b.n - off[3]);
        t.n = b.n + (size_t)w;
        struct outcome o = verify1(t, k);
        cr_assert(o.r.problems > 0, "inserted entry went unnoticed");
        free(t.p);
    }
    free(b.p);
}

Test(audit, truncation_needs_expect_head)
{
    char id[33];
    char *k = keygen("k", id);
    write_log(path_in("log"), k, TG_SIGN_SEAL, 3, 8);
    struct buf b = slurp(path_in("log"));
    struct outcome full = verify1(b, k);
    cr_assert(clean(&full));
    char head[65];
    memcpy(head, full.r.head, 65);
    const char *keys[] = { k, NULL };
    size_t off[64];
    size_t n = lines(b, off, 63);

    for (size_t cut = 1; cut < n; cut++) {
        struct buf t = { b.p, off[cut] };
        struct outcome o = verify_bufs(&t, 1, keys, head);
        cr_assert(!clean(&o), "truncation to %zu lines went unnoticed with --expect-head", cut);
    }
    struct outcome o = verify_bufs(&b, 1, keys, head);
    cr_assert(clean(&o), "%s", o.first);
    /* A partial last line is always caught. */
    struct buf t = { b.p, b.n - 5 };
    o = verify1(t, k);
    cr_assert(o.r.problems > 0);
    free(b.p);
}

Test(audit, wrong_and_unlisted_key)
{
    char id[33], id2[33];
    char *k = keygen("k", id);
    char *other = keygen("other", id2);
    write_log(path_in("log"), k, TG_SIGN_SEAL, 3, 5);
    struct buf b = slurp(path_in("log"));
    struct outcome o = verify1(b, other);
    cr_assert(o.r.problems > 0);
    cr_assert(strstr(o.first, "not given with --pubkey") != NULL, "%s", o.first);
    cr_assert_eq(o.r.verified, 0);
    free(b.p);
}

static void
rotate(const char *log, const char *old, const char *newp, int before, int after)
{
    struct tg_audit_cfg c = cfg_for(log, old, TG_SIGN_SEAL, 3);
    struct tg_audit_log *l = NULL;
    struct tg_err err = { 0 };
    char nid[33], kp[340];
    snprintf(kp, sizeof(kp), "%s.key", newp);
    cr_assert_eq(tg_audit_open(&c, &l, &err), TG_OK, "%s", err.msg);
    append_n(l, before, "acme");
    cr_assert_eq(tg_audit_rotate_key(l, kp, nid, &err), TG_OK, "%s", err.msg);
    cr_assert_str_eq(tg_audit_key_id(l), nid);
    append_n(l, after, "acme");
    cr_assert_eq(tg_audit_close(l, &err), TG_OK, "%s", err.msg);
}

Test(audit, key_rotation_windows)
{
    char a[33], bid[33];
    char *ka = keygen("a", a);
    char *kb = keygen("b", bid);
    rotate(path_in("log"), ka, kb, 4, 4);
    struct buf b = slurp(path_in("log"));
    const char *both[] = { ka, kb, NULL }, *reversed[] = { kb, ka, NULL };

    cr_assert(strstr(b.p, "\"event\":\"rotation\"") != NULL);
    struct outcome o = verify_bufs(&b, 1, both, NULL);
    cr_assert(clean(&o), "%s", o.first);
    o = verify1(b, ka);   /* new key not listed */
    cr_assert(o.r.problems > 0 && strstr(o.first, "not given with --pubkey") != NULL, "%s", o.first);
    o = verify_bufs(&b, 1, reversed, NULL);   /* keys must be oldest first */
    cr_assert(o.r.problems > 0, "reversed key order accepted");

    /* Reopening with the old key after rotation is refused: the log's key is b. */
    {
        struct tg_audit_cfg c = cfg_for(path_in("log"), ka, TG_SIGN_SEAL, 3);
        struct tg_audit_log *l = NULL;
        struct tg_err err = { 0 };
        cr_assert_neq(tg_audit_open(&c, &l, &err), TG_OK);
        cr_assert(strstr(err.msg, "rotate") != NULL, "%s", err.msg);
    }
    /* Expired key: a holder of the old key appends a signed entry after the rotation. */
    {
        EVP_PKEY *old = NULL;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        struct tg_err err = { 0 };
        char kp[340], prevhex[65], hex[129], line[600];
        uint8_t h[32], sig[64];
        snprintf(kp, sizeof(kp), "%s.key", ka);
        cr_assert_eq(tg__audit_load_key(kp, &old, &err), TG_OK);
        struct outcome full = verify_bufs(&b, 1, both, NULL);
        int w = snprintf(line, sizeof(line), "{\"seq\":%llu,\"prev\":\"%s\",\"key_id\":\"%s\",\"event\":\"decision\"",
                         (unsigned long long)full.r.head_seq + 1, full.r.head, a);
        (void)prevhex;
        tg__audit_sha256(line, (size_t)w, h);
        cr_assert_eq(tg__audit_sign(md, old, h, sig), TG_OK);
        tg__audit_hex(h, 32, hex);
        w += snprintf(line + w, sizeof(line) - (size_t)w, ",\"hash\":\"%s\"", hex);
        tg__audit_hex(sig, 64, hex);
        w += snprintf(line + w, sizeof(line) - (size_t)w, ",\"sig\":\"%s\"}\n", hex);
        struct buf t = { malloc(b.n + (size_t)w), b.n + (size_t)w };
        memcpy(t.p, b.p, b.n);
        memcpy(t.p + b.n, line, (size_t)w);
        o = verify_bufs(&t, 1, both, NULL);
        cr_assert(o.r.problems > 0 && strstr(o.first, "not valid at this seq") != NULL, "%s", o.first);
        free(t.p);
        EVP_PKEY_free(old);
        EVP_MD_CTX_free(md);
    }
    free(b.p);
}

Test(audit, reseal_with_newer_key_fails)
{
    char a[33], bid[33];
    char *ka = keygen("a", a);
    char *kb = keygen("b", bid);
    const char *both[] = { ka, kb, NULL };

    /* History rewritten and signed by the newer key from the start. */
    write_log(path_in("forged"), kb, TG_SIGN_SEAL, 3, 6);
    struct buf f = slurp(path_in("forged"));
    struct outcome o = verify_bufs(&f, 1, both, NULL);
    cr_assert(o.r.problems > 0, "log re-signed by the newer key accepted");
    free(f.p);

    /* A seal by the new key appended after rotation, claiming the old range. */
    rotate(path_in("log"), ka, kb, 4, 0);
    struct buf b = slurp(path_in("log"));
    {
        EVP_PKEY *nk = NULL;
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        struct tg_err err = { 0 };
        char kp[340], hex[129], line[800], roothex[65];
        uint8_t h[32], sig[64], leaves[32 * 8], scratch[32 * 8], root[32];
        size_t off[64];
        size_t n = lines(b, off, 63), nl = 0;
        struct outcome full = verify_bufs(&b, 1, both, NULL);
        cr_assert(clean(&full), "%s", full.first);
        for (size_t i = 0; i < n && nl < 4; i++) {
            struct tg__audit_line ln;
            const char *why;
            cr_assert_eq(tg__audit_parse_line(b.p + off[i], off[i + 1] - off[i] - 1, &ln, &why), TG_OK);
            if (ln.seq >= 1 && ln.seq <= 4)
                memcpy(leaves + 32 * nl++, ln.hash, 32);
        }
        tg__audit_merkle_root(leaves, nl, scratch, root);
        tg__audit_hex(root, 32, roothex);
        snprintf(kp, sizeof(kp), "%s.key", kb);
        cr_assert_eq(tg__audit_load_key(kp, &nk, &err), TG_OK);
        int w = snprintf(line, sizeof(line),
                         "{\"seq\":%llu,\"prev\":\"%s\",\"key_id\":\"%s\",\"event\":\"seal\",\"seal\":{\"first_seq\":1,\"last_seq\":4,\"count\":4,\"root\":\"%s\"}",
                         (unsigned long long)full.r.head_seq + 1, full.r.head, bid, roothex);
        tg__audit_sha256(line, (size_t)w, h);
        cr_assert_eq(tg__audit_sign(md, nk, h, sig), TG_OK);
        tg__audit_hex(h, 32, hex);
        w += snprintf(line + w, sizeof(line) - (size_t)w, ",\"hash\":\"%s\"", hex);
        tg__audit_hex(sig, 64, hex);
        w += snprintf(line + w, sizeof(line) - (size_t)w, ",\"sig\":\"%s\"}\n", hex);
        struct buf t = { malloc(b.n + (size_t)w), b.n + (size_t)w };
        memcpy(t.p, b.p, b.n);
        memcpy(t.p + b.n, line, (size_t)w);
        o = verify_bufs(&t, 1, both, NULL);
        cr_assert(o.r.problems > 0, "re-seal of old entries by the new key accepted");
        free(t.p);
        EVP_PKEY_free(nk);
        EVP_MD_CTX_free(md);
    }
    free(b.p);
}

/* ---- resume, recovery, rotation ------------------------------------------ */

Test(audit, resume_continues_chain)
{
    char id[33];
    char *k = keygen("k", id);
    write_log(path_in("log"), k, TG_SIGN_SEAL, 4, 5);
    write_log(path_in("log"), k, TG_SIGN_SEAL, 4, 5);
    struct buf b = slurp(path_in("log"));
    struct outcome o = verify1(b, k);
    cr_assert(clean(&o), "%s", o.first);
    cr_assert(o.r.entries >= 14);
    free(b.p);
}

Test(audit, torn_tail_recovered)
{
    char id[33];
    char *k = keygen("k", id);
    write_log(path_in("log"), k, TG_SIGN_SEAL, 100, 5);
    struct buf b = slurp(path_in("log"));
    /* crash mid-write: half of a line made it to disk */
    const char torn[] = "{\"seq\":99,\"prev\":\"00ab";
    int fd = open(path_in("log"), O_WRONLY | O_APPEND);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, torn, sizeof(torn) - 1), (ssize_t)sizeof(torn) - 1);
    close(fd);
    struct buf t = slurp(path_in("log"));
    struct outcome o = verify1(t, k);
    cr_assert(o.r.problems > 0, "torn tail must be reported before recovery");
    free(t.p);

    write_log(path_in("log"), k, TG_SIGN_SEAL, 100, 3);
    t = slurp(path_in("log"));
    cr_assert(memmem(t.p, t.n, torn, sizeof(torn) - 1) != NULL, "torn bytes are kept in place");
    cr_assert(strstr(t.p, "\"event\":\"recovery\"") != NULL);
    o = verify1(t, k);
    cr_assert(o.r.problems == 0 && o.r.unsealed == 0, "%s", o.first);
    cr_assert_eq(o.r.recoveries, 1);
    /* and the kept torn bytes are themselves protected */
    char *p = memmem(t.p, t.n, torn, sizeof(torn) - 1);
    p[3] ^= 1;
    o = verify1(t, k);
    cr_assert(o.r.problems > 0, "a modified torn region must be caught");
    free(t.p);
    free(b.p);
}

Test(audit, corrupt_middle_refuses_open)
{
    char id[33];
    char *k = keygen("k", id);
    write_log(path_in("log"), k, TG_SIGN_SEAL, 100, 5);
    struct buf b = slurp(path_in("log"));
    char *p = strstr(b.p, "\"tenant\":\"acme\"");
    cr_assert_not_null(p);
    p[11] = 'X';
    spit(path_in("log"), b.p, b.n);
    struct tg_audit_cfg c = cfg_for(path_in("log"), k, TG_SIGN_SEAL, 100);
    struct tg_audit_log *l = NULL;
    struct tg_err err = { 0 };
    cr_assert_neq(tg_audit_open(&c, &l, &err), TG_OK);
    cr_assert(strstr(err.msg, "not a torn") != NULL, "%s", err.msg);
    free(b.p);
}

Test(audit, file_rotation_chain_continues)
{
    char id[33];
    char *k = keygen("k", id);
    struct tg_audit_cfg c = cfg_for(path_in("log"), k, TG_SIGN_SEAL, 5);
    struct tg_audit_log *l = NULL;
    struct tg_err err = { 0 };
    c.rotate_bytes = 2000;
    cr_assert_eq(tg_audit_open(&c, &l, &err), TG_OK, "%s", err.msg);
    append_n(l, 40, "acme");
    cr_assert_eq(tg_audit_close(l, &err), TG_OK);
    /* and resume after rotation */
    cr_assert_eq(tg_audit_open(&c, &l, &err), TG_OK, "%s", err.msg);
    append_n(l, 5, "acme");
    cr_assert_eq(tg_audit_close(l, &err), TG_OK);

    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ls %s/log.* | sort > %s/list", dir, dir);
    cr_assert_eq(system(cmd), 0);
    struct buf list = slurp(path_in("list"));
    struct buf files[64];
    size_t nf = 0;
    for (char *s = strtok(list.p, "\n"); s != NULL && nf < 62; s = strtok(NULL, "\n"))
        files[nf++] = slurp(s);
    cr_assert(nf >= 3, "expected several rotated files, got %zu", nf);
    files[nf++] = slurp(path_in("log"));
    const char *keys[] = { k, NULL };
    struct outcome o = verify_bufs(files, nf, keys, NULL);
    cr_assert(clean(&o), "%s", o.first);
    /* a missing middle file */
    struct buf missing[64];
    memcpy(missing, files, sizeof(files[0]));
    memcpy(missing + 1, files + 2, (nf - 2) * sizeof(files[0]));
    o = verify_bufs(missing, nf - 1, keys, NULL);
    cr_assert(o.r.problems > 0);
    /* files out of order */
    struct buf swapped[64];
    memcpy(swapped, files, nf * sizeof(files[0]));
    swapped[0] = files[1];
    swapped[1] = files[0];
    o = verify_bufs(swapped, nf, keys, NULL);
    cr_assert(o.r.problems > 0);
    for (size_t i = 0; i < nf; i++)
        free(files[i].p);
    free(list.p);
}

/* ---- writer under concurrency -------------------------------------------- */

struct prod {
    struct tg_audit_log *l;
    int n;
};

static atomic_int dones, bad;

static void
on_done(void *arg, int status, uint64_t seq)
{
    (void)arg;
    if (status != TG_OK || seq == 0)
        atomic_fetch_add(&bad, 1);
    atomic_fetch_add(&dones, 1);
}

static void *
producer(void *arg)
{
    struct prod *p = arg;
    for (int i = 0; i < p->n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "tenant", "t");
        if (tg_audit_append(p->l, e, on_done, NULL) != TG_OK)
            atomic_fetch_add(&bad, 1);
    }
    return NULL;
}

Test(audit, backpressure_never_drops)
{
    char id[33];
    char *k = keygen("k", id);
    struct tg_audit_cfg c = cfg_for(path_in("log"), k, TG_SIGN_SEAL, 50);
    struct tg_audit_log *l = NULL;
    struct tg_err err = { 0 };
    pthread_t th[4];
    struct prod p;

    c.queue_depth = 2;
    c.fsync = TG_FSYNC_BATCH;
    cr_assert_eq(tg_audit_open(&c, &l, &err), TG_OK, "%s", err.msg);
    p.l = l;
    p.n = 500;
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, producer, &p);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    cr_assert_eq(tg_audit_close(l, &err), TG_OK);
    cr_assert_eq(atomic_load(&bad), 0);
    cr_assert_eq(atomic_load(&dones), 2000);
    /* appends after close fail (the caller must deny) */
    struct buf b = slurp(path_in("log"));
    struct outcome o = verify1(b, k);
    cr_assert(clean(&o), "%s", o.first);
    size_t off[4096];
    size_t decisions = 0, n = lines(b, off, 4095);
    for (size_t i = 0; i < n; i++)
        decisions += memmem(b.p + off[i], off[i + 1] - off[i], "\"event\":\"decision\"", 18) != NULL;
    cr_assert_eq(decisions, 2000);
    free(b.p);
}

Test(audit, missing_key_is_generated)
{
    struct tg_audit_cfg c = { .path = path_in("log"), .signing_key = path_in("new.key"), .fsync = TG_FSYNC_BATCH };
    struct tg_audit_log *l = NULL;
    struct tg_err err = { 0 };
    struct stat st;
    cr_assert_eq(tg_audit_open(&c, &l, &err), TG_OK, "%s", err.msg);
    append_n(l, 2, "x");
    cr_assert_eq(tg_audit_close(l, &err), TG_OK);
    cr_assert_eq(stat(path_in("new.key"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(path_in("log"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    char prefix[340];
    snprintf(prefix, sizeof(prefix), "%s", path_in("new"));
    struct buf b = slurp(path_in("log"));
    cr_assert(strstr(b.p, "\"key_generated\":true") != NULL);
    struct outcome o = verify1(b, prefix);
    cr_assert(clean(&o), "%s", o.first);
    free(b.p);

    struct tg_audit_cfg bad_cfg = { .path = path_in("log2"), .signing_key = "/proc/nonexistent/dir/k.key" };
    cr_assert_neq(tg_audit_open(&bad_cfg, &l, &err), TG_OK);
}

Test(audit, entry_json_with_policy_uses_engine_json)
{
    struct tg_provider pv = { .id = "openai", .region = "us", .jurisdiction = "US", .base_url = "" };
    struct tg_model m = { .id = "gpt-4o", .provider = 0, .input_per_m = 2.5, .output_per_m = 10 };
    struct tg_policy p;
    struct tg_reason rs[] = { { "residency.rule", "region us not admitted" } };
    struct tg_cand cands[] = { { .model = 0, .compliant = false, .est_cost_usd = 0.01, .reasons = rs, .nreasons = 1 } };
    struct tg_reason drs[] = { { "route.empty", "no compliant candidate" } };
    struct tg_decision d = { .verdict = TG_DENY, .enforced = false, .tenant = "acme", .category = "general",
                             .cands = cands, .ncands = 1, .reasons = drs, .nreasons = 1, .policy_version = "pv" };
    struct tg_audit_event ev = { .event = "decision", .decision_id = "id", .ts_us = 1, .policy = &p,
                                 .decision = &d, .mode = "audit", .prompt_tokens = -1, .completion_tokens = -1,
                                 .cost_usd = NAN };
    memset(&p, 0, sizeof(p));
    p.providers = &pv;
    p.nproviders = 1;
    p.models = &m;
    p.nmodels = 1;
    snprintf(p.policy_version, sizeof(p.policy_version), "pv");

    cJSON *e = tg_audit_entry_json(&ev);
    cr_assert_not_null(e);
    char *s = cJSON_PrintUnformatted(e);
    cr_assert(strstr(s, "\"mode\":\"audit\"") != NULL, "%s", s);
    cr_assert(strstr(s, "\"model\":\"gpt-4o\"") != NULL, "%s", s);
    cr_assert(strstr(s, "\"reasons\":[{\"rule\":\"residency.rule\"") != NULL, "%s", s);
    cr_assert(strstr(s, "\"rules\":[\"residency.rule\",\"route.empty\"]") != NULL, "%s", s);
    /* one key per name: the writer's canonical line must be unambiguous JSON */
    cr_assert_eq(strstr(strstr(s, "\"mode\"") + 1, "\"mode\"") , NULL, "%s", s);
    free(s);
    cJSON_Delete(e);
}

Test(audit, writer_prints_any_entry_as_valid_json)
{
    char id[33];
    char *k = keygen("k", id);
    struct tg_audit_cfg c = cfg_for(path_in("log"), k, TG_SIGN_SEAL, 100);
    struct tg_audit_log *l = NULL;
    struct tg_err err = { 0 };
    cJSON *e = cJSON_CreateObject(), *arr;

    cr_assert_eq(tg_audit_open(&c, &l, &err), TG_OK, "%s", err.msg);
    cJSON_AddStringToObject(e, "event", "error");
    cJSON_AddStringToObject(e, "s", "quote\" backslash\\ nl\n tab\t ctl\x01 utf8 \xc3\xa9");
    cJSON_AddNumberToObject(e, "f", 0.1);
    cJSON_AddNumberToObject(e, "big", 1e300);
    cJSON_AddNumberToObject(e, "neg", -5);
    cJSON_AddNumberToObject(e, "i", 1152921504606846976.0);
    cJSON_AddNumberToObject(e, "nan", NAN);
    arr = cJSON_AddArrayToObject(e, "a");
    cJSON_AddItemToArray(arr, cJSON_CreateTrue());
    cJSON_AddItemToArray(arr, cJSON_CreateObject());
    cJSON_AddItemToArray(arr, cJSON_CreateArray());
    /* chain fields from a producer are dropped, never trusted */
    cJSON_AddNumberToObject(e, "seq", 999);
    cJSON_AddStringToObject(e, "hash", "forged");
    cr_assert_eq(tg_audit_append(l, e, NULL, NULL), TG_OK);
    cr_assert_eq(tg_audit_close(l, &err), TG_OK);

    struct buf b = slurp(path_in("log"));
    size_t off[16];
    size_t n = lines(b, off, 15);
    cr_assert_eq(n, 3);   /* start, the entry, seal */
    char *line = strndup(b.p + off[1], off[2] - off[1] - 1);
    cJSON *j = cJSON_Parse(line);
    cr_assert_not_null(j, "not JSON: %s", line);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "event")->valuestring, "error");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "s")->valuestring, "quote\" backslash\\ nl\n tab\t ctl\x01 utf8 \xc3\xa9");
    cr_assert_eq(cJSON_GetObjectItem(j, "f")->valuedouble, 0.1);
    cr_assert_eq(cJSON_GetObjectItem(j, "big")->valuedouble, 1e300);
    cr_assert_eq(cJSON_GetObjectItem(j, "neg")->valuedouble, -5);
    cr_assert_eq(cJSON_GetObjectItem(j, "i")->valuedouble, 1152921504606846976.0);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(j, "nan")));
    cr_assert_eq(cJSON_GetObjectItem(j, "seq")->valuedouble, 2);
    cr_assert_str_neq(cJSON_GetObjectItem(j, "hash")->valuestring, "forged");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "a")), 3);
    cJSON_Delete(j);
    free(line);
    struct outcome o = verify1(b, k);
    cr_assert(clean(&o), "%s", o.first);
    free(b.p);
}

static atomic_int durable;

static void
count_done(void *arg, int status, uint64_t seq)
{
    (void)arg;
    (void)seq;
    if (status == TG_OK)
        atomic_fetch_add(&durable, 1);
}

Test(audit, idle_heartbeat_seals_and_fsync_always)
{
    char id[33];
    char *k = keygen("k", id);
    struct tg_audit_cfg c = cfg_for(path_in("log"), k, TG_SIGN_SEAL, 1000);
    struct tg_audit_log *l = NULL;
    struct tg_err err = { 0 };

    c.seal_interval_ms = 100;
    c.fsync = TG_FSYNC_ALWAYS;
    cr_assert_eq(tg_audit_open(&c, &l, &err), TG_OK, "%s", err.msg);
    for (int i = 0; i < 3; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "tenant", "t");
        cr_assert_eq(tg_audit_append(l, e, count_done, NULL), TG_OK);
    }
    for (int i = 0; i < 100 && atomic_load(&durable) < 3; i++)
        usleep(10000);
    cr_assert_eq(atomic_load(&durable), 3, "done callbacks after durable write");
    usleep(400000);   /* idle for longer than seal_interval_ms: the writer seals on its own */
    struct buf b = slurp(path_in("log"));
    struct outcome o = verify1(b, k);
    cr_assert(clean(&o), "log not sealed while idle: %s", o.first);
    cr_assert(strstr(b.p, "\"first_seq\":1,\"last_seq\":4") != NULL, "%s", b.p);
    cr_assert_eq(tg_audit_queue_depth(l), 0);
    cr_assert_eq(tg_audit_close(l, &err), TG_OK);
    free(b.p);
}

Test(audit, unauthenticated_entry_names_its_rule)
{
    struct tg_audit_event ev = { .event = "unauthenticated", .decision_id = "x", .ts_us = 1, .mode = "enforce",
                                 .http_status = 401, .prompt_tokens = -1, .completion_tokens = -1, .cost_usd = NAN };
    cJSON *e = tg_audit_entry_json(&ev);
    char *s = cJSON_PrintUnformatted(e);
    cr_assert(strstr(s, "\"decision\":\"deny\"") != NULL, "%s", s);
    cr_assert(strstr(s, "\"rules\":[\"tenant.unknown\"]") != NULL, "%s", s);
    cr_assert(strstr(s, "\"request_sha256\":null") != NULL, "%s", s);
    free(s);
    cJSON_Delete(e);
}

/*
 * The audit entry builds its decision fields directly (fast path) instead of
 * merging tg_decision_to_json(): this test keeps the two from drifting apart.
 * Real decisions from the engine on a real policy, every docs/interface.md §4 field
 * compared value for value.
 */
static void
entry_matches_decision(const struct tg_policy *p, const char *tenant, const char *category,
                       const char *body)
{
    static const char *const fields[] = { "decision", "tenant", "feature", "category", "export_tags",
                                          "pii", "allowed", "route", "policy_version" };
    struct tg_arena a;
    struct tg_request req;
    struct tg_decision d;
    struct tg_pii_scratch *sc = NULL;
    struct tg_err err = {0};
    cJSON *want, *got, *wc, *gc;

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_pii_scratch_new(p->pii, &sc), TG_OK);
    cr_assert_eq(tg_request_parse(body, strlen(body), &a, &req, &err), TG_OK, "%s", err.msg);
    req.tenant_id = tenant;
    req.category = category;
    req.feature = "drift-test";
    cr_assert_eq(tg_preflight_decide(p, &req, NULL, sc, &a, &d, &err), TG_OK, "%s", err.msg);

    struct tg_audit_event ev = { .event = "decision", .decision_id = "00", .ts_us = 1700000000000000LL,
                                 .policy = p, .decision = &d, .mode = "enforce", .prompt_tokens = -1,
                                 .completion_tokens = -1, .cost_usd = NAN };
    want = tg_decision_to_json(p, &d, false);
    got = tg_audit_entry_json(&ev);
    cr_assert_not_null(want);
    cr_assert_not_null(got);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        cJSON *w = cJSON_GetObjectItemCaseSensitive(want, fields[i]);
        cJSON *g = cJSON_GetObjectItemCaseSensitive(got, fields[i]);
        char *ws = w ? cJSON_PrintUnformatted(w) : NULL, *gs = g ? cJSON_PrintUnformatted(g) : NULL;
        cr_assert(w != NULL && g != NULL && cJSON_Compare(w, g, true),
                  "%s/%s field %s: decision JSON %s, audit entry %s", tenant, category, fields[i],
                  ws ? ws : "(absent)", gs ? gs : "(absent)");
        free(ws);
        free(gs);
    }
    /* Candidates: same models, same compliance and eligibility, in order. */
    wc = cJSON_GetObjectItemCaseSensitive(want, "candidates");
    gc = cJSON_GetObjectItemCaseSensitive(got, "candidates");
    cr_assert(cJSON_IsArray(wc) && cJSON_IsArray(gc));
    cr_assert_eq(cJSON_GetArraySize(wc), cJSON_GetArraySize(gc));
    for (int i = 0; i < cJSON_GetArraySize(wc); i++) {
        static const char *const cf[] = { "model", "provider", "region", "compliant", "eligible" };
        for (size_t k = 0; k < sizeof(cf) / sizeof(cf[0]); k++)
            cr_assert(cJSON_Compare(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(wc, i), cf[k]),
                                    cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(gc, i), cf[k]), true),
                      "candidate %d field %s differs", i, cf[k]);
    }
    cJSON_Delete(want);
    cJSON_Delete(got);
    tg_request_dispose(&req);
    tg_pii_scratch_free(sc);
    tg_arena_free(&a);
}

Test(audit, entry_decision_fields_match_engine_json)
{
    struct tg_load_opts opts = {0};
    struct tg_policy *p = NULL;
    struct tg_err err = {0};
    char path[4096];

    snprintf(path, sizeof(path), "%s/tests/cases/policies/base.yaml", tg_data_dir());
    cr_assert_eq(tg_policy_load(path, &opts, &p, &err), TG_OK, "%s", err.msg);
    entry_matches_decision(p, "t-open", "qa",
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}");
    entry_matches_decision(p, "t-nopii", "qa",
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"mail jane.doe@example.com\"}]}");
    entry_matches_decision(p, "t-itar", "code",
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"ITAR controlled drawing\"}]}");
    entry_matches_decision(p, "nobody", "qa",
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    entry_matches_decision(p, "t-open", "no-such-category",
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    tg_policy_unref(p);

    /* allow lists: "allowed" per entity, with and without remaining findings */
    snprintf(path, sizeof(path), "%s/tests/cases/policies/allow.yaml", tg_data_dir());
    cr_assert_eq(tg_policy_load(path, &opts, &p, &err), TG_OK, "%s", err.msg);
    entry_matches_decision(p, "t-a", "support",
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"from noreply@anthropic.com, "
                           "ops@acme.example, desk +44 20 7946 0958, postmaster@example.org\"}]}");
    entry_matches_decision(p, "t-b", "code",
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"from noreply@anthropic.com "
                           "to jane.doe@gmail.com\"}]}");
    tg_policy_unref(p);
}

/* ---- the text path (tg_audit_entry_text / tg_audit_append_text) --------- */

/* The writer's escaping and number spelling before they moved to util.c,
 * kept here verbatim as the reference the shared helpers must reproduce. */
static size_t
ref_put_str(char *o, const char *s)
{
    static const char hexd[] = "0123456789abcdef";
    size_t n = strlen(s), k = 0;

    o[k++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            o[k++] = '\\';
            o[k++] = (char)c;
        } else if (c < 0x20) {
            o[k++] = '\\';
            switch (c) {
            case '\n': o[k++] = 'n'; break;
            case '\r': o[k++] = 'r'; break;
            case '\t': o[k++] = 't'; break;
            case '\b': o[k++] = 'b'; break;
            case '\f': o[k++] = 'f'; break;
            default:
                memcpy(o + k, "u00", 3);
                k += 3;
                o[k++] = hexd[c >> 4];
                o[k++] = hexd[c & 15];
            }
        } else {
            o[k++] = (char)c;
        }
    }
    o[k++] = '"';
    return k;
}

static size_t
ref_put_num(char *tmp, double d)
{
    int n;

    if (!isfinite(d)) {
        memcpy(tmp, "null", 4);
        return 4;
    }
    if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d) {
        n = snprintf(tmp, 40, "%lld", (long long)(int64_t)d);
    } else {
        n = snprintf(tmp, 40, "%1.15g", d);
        if (strtod(tmp, NULL) != d)
            n = snprintf(tmp, 40, "%1.17g", d);
    }
    return (size_t)n;
}

Test(audit, json_scalars_match_reference)
{
    static const double nums[] = { 0.0, -0.0, 1, -1, 42, 9007199254740991.0, -9007199254740991.0,
                                   9007199254740992.0, -9007199254740992.0, 1152921504606846976.0,
                                   9223372036854775807.0, -9223372036854775808.0, 0.1, 1.0 / 3, -2.5, 1e-12,
                                   1e300, -1e-300, 5e-324, 1.7976931348623157e308, 0.000273, 0.00459,
                                   4294967295.0, 4294967296.5, NAN, INFINITY, -INFINITY, 0.3, 0.1 + 0.2,
                                   1e-4, 1e-5, 1.5e-5, 9.99e-5, 1e-7, 1.23456789012345e-7, 9.9e-8, 123.456,
                                   99999999999999.9, 12345678901234.5, 1e14 + 0.5, 0.000123456789012345,
                                   -0.00459, 2.5e-7, 0.5, 1.5, 10.25, 1e-22, 1e-23 };
    static const int64_t ints[] = { 0, 1, -1, 9, 10, 99, 100, INT64_MAX, INT64_MIN, INT64_MIN + 1,
                                    1234567890123456789LL, -1000000 };
    char a[8192], b[8192], s[1100];

    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        size_t na = ref_put_num(a, nums[i]), nb = tg__audit_fmt_num(nums[i], b);
        cr_assert(na == nb && memcmp(a, b, na) == 0, "number %.17g: want %.*s got %.*s", nums[i], (int)na, a,
                  (int)nb, b);
    }
    /* Random decimals of every length and scale (the printf-free fast path
     * for short fractions and its edges) and random bit patterns. */
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 400000; i++) {
        static const double p10[] = { 1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13,
                                      1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22 };
        double d;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (i % 4 == 3) {
            memcpy(&d, &x, sizeof(d));
            if (!isfinite(d))
                continue;
        } else {
            uint64_t digits = 1 + (x >> 20) % 17;                          /* 1..17 significant digits */
            uint64_t m = (x >> 8) % (uint64_t)p10[digits > 15 ? 15 : digits];
            if (digits > 15)
                m = m * 100 + (x & 63);
            d = (double)m / p10[(x >> 2) % 23];
            if (i % 3 == 0)
                d = -d;
            if (i % 5 == 0)
                d = d * 1.0000000000000002;   /* one ulp off a short decimal */
        }
        size_t na = ref_put_num(a, d), nb = tg__audit_fmt_num(d, b);
        cr_assert(na == nb && memcmp(a, b, na) == 0, "number %.17g: want %.*s got %.*s", d, (int)na, a, (int)nb, b);
    }
    for (size_t i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
        int na = snprintf(a, sizeof(a), "%lld", (long long)ints[i]);
        size_t nb = tg__audit_fmt_i64(ints[i], b);
        cr_assert(nb == (size_t)na && memcmp(a, b, nb) == 0, "int %lld: got %.*s", (long long)ints[i], (int)nb, b);
    }
    /* Every byte value, alone, in runs, between clean text, at both ends. */
    for (int c = 1; c < 256; c++) {
        /* '@' stands for the byte */
        const char *shapes[] = { "@", "@@", "ab@cd", "@xyz", "xyz@", "@\xc3\xa9@\"\\" };
        for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
            size_t m = 0;
            for (const char *q = shapes[k]; *q; q++)
                s[m++] = *q == '@' ? (char)c : *q;
            s[m] = 0;
            size_t na = ref_put_str(a, s), nb = tg__audit_esc_str(b, s, strlen(s));
            cr_assert(na == nb && memcmp(a, b, na) == 0, "byte %d shape %zu: want %.*s got %.*s", c, k, (int)na, a,
                      (int)nb, b);
        }
    }
    /* Each byte at each position of a longer clean run (the word-at-a-time scan). */
    for (int c = 1; c < 256; c++) {
        for (int pos = 0; pos < 24; pos++) {
            memset(s, 'x', 23);
            s[23] = 0;
            s[pos < 23 ? pos : 22] = (char)c;
            if (pos == 23)
                s[3] = (char)0xc3;   /* a UTF-8 lead byte in the same word */
            size_t na = ref_put_str(a, s), nb = tg__audit_esc_str(b, s, strlen(s));
            cr_assert(na == nb && memcmp(a, b, na) == 0, "byte %d at %d: want %.*s got %.*s", c, pos, (int)na, a,
                      (int)nb, b);
        }
    }
    for (int i = 0; i < 1024; i++)
        s[i] = (char)(1 + (i * 37) % 255);
    s[1024] = 0;
    size_t na = ref_put_str(a, s), nb = tg__audit_esc_str(b, s, strlen(s));
    cr_assert(na == nb && memcmp(a, b, na) == 0, "all bytes mixed");
    cr_assert_eq(tg__audit_esc_str(b, "", 0), 2);
    cr_assert_eq(memcmp(b, "\"\"", 2), 0);
}

/* A battery of gateway-like events covering every shape of entry. */
struct battery {
    struct tg_provider  pv[3];
    struct tg_model     m[3];
    struct tg_policy    p;
    struct tg_reason    crs[3], drs[3];
    struct tg_cand      cands[5];
    uint32_t            route[3];
    struct tg_finding   fs[300];
    struct tg_pii_count pc[3];
    const char         *tags[3];
    struct tg_decision  d;
    struct tg_audit_attempt at[3];
};

#define NASTY "q\"uote b\\ack nl\n tab\t cr\r bs\b ff\f ctl\x01\x1f del\x7f utf8 \xc3\xa9\xe2\x82\xac \xf0\x9f\x98\x80"

static void
battery_init(struct battery *B)
{
    memset(B, 0, sizeof(*B));
    B->pv[0] = (struct tg_provider){ .id = "openai", .region = "us", .jurisdiction = "US", .base_url = "" };
    B->pv[1] = (struct tg_provider){ .id = "azure-eu", .region = "eu-west", .jurisdiction = NULL, .base_url = "" };
    B->pv[2] = (struct tg_provider){ .id = "odd \"prov\"", .region = NASTY, .jurisdiction = "EU", .base_url = "" };
    B->m[0] = (struct tg_model){ .id = "gpt-4o", .provider = 0 };
    B->m[1] = (struct tg_model){ .id = "gpt-4o-eu", .provider = 1 };
    B->m[2] = (struct tg_model){ .id = "m\\2", .provider = 7 };   /* provider out of range */
    B->p.providers = B->pv;
    B->p.nproviders = 3;
    B->p.models = B->m;
    B->p.nmodels = 3;
    snprintf(B->p.policy_version, sizeof(B->p.policy_version), "sha256:4f2a\"9c");
    B->crs[0] = (struct tg_reason){ "residency.eu_only", "provider region us not admitted" };
    B->crs[1] = (struct tg_reason){ "pii.provider", "provider not allowed PII \"EMAIL_ADDRESS\"\n" };
    B->crs[2] = (struct tg_reason){ NULL, NASTY };
    B->drs[0] = (struct tg_reason){ "pii.redact", "redacted 2 entities" };
    B->drs[1] = (struct tg_reason){ "pii.provider", "again: counted once in rules" };
    B->drs[2] = (struct tg_reason){ "r\xc3\xa9gle\t1", NULL };
    B->cands[0] = (struct tg_cand){ .model = 0, .compliant = false, .est_cost_usd = 0.00459, .timeout_ms = 30000,
                                    .reasons = B->crs, .nreasons = 3 };
    B->cands[1] = (struct tg_cand){ .model = 1, .compliant = true, .eligible = true, .redact = true,
                                    .est_cost_usd = 1.0 / 3, .timeout_ms = 30000 };
    B->cands[2] = (struct tg_cand){ .model = 2, .compliant = false, .est_cost_usd = NAN, .timeout_ms = 0,
                                    .reasons = B->crs + 1, .nreasons = 1 };
    B->cands[3] = (struct tg_cand){ .model = 9, .compliant = true, .eligible = false, .est_cost_usd = 0,
                                    .timeout_ms = UINT32_MAX };   /* model out of range */
    B->cands[4] = (struct tg_cand){ .model = 1, .compliant = true, .eligible = true, .est_cost_usd = -2.5e-7,
                                    .timeout_ms = 15000, .reasons = B->drs, .nreasons = 3 };
    B->route[0] = 1;
    B->route[1] = 0;
    B->route[2] = 42;   /* out of range: null */
    for (uint32_t i = 0; i < 300; i++)
        B->fs[i] = (struct tg_finding){ .part = i % 3, .start = 10 + 40 * i, .end = 27 + 40 * i,
                                        .entity = i % 2 ? "EMAIL_ADDRESS" : "PHONE_NUMBER", .detector = "x" };
    B->pc[0] = (struct tg_pii_count){ "EMAIL_ADDRESS", 150, TG_PII_CLASS_PII };
    B->pc[1] = (struct tg_pii_count){ "AWS_KEY", 1, TG_PII_CLASS_SECRET };
    B->pc[2] = (struct tg_pii_count){ NULL, 0, TG_PII_CLASS_PII };
    B->tags[0] = "ear99";
    B->tags[1] = NASTY;
    B->tags[2] = NULL;
    B->d = (struct tg_decision){ .verdict = TG_ALLOW, .enforced = true, .tenant = "acme-bank",
                                 .feature = "support \"chat\"", .category = "customer_support",
                                 .export_tags = B->tags, .nexport_tags = 3, .findings = { .v = B->fs, .n = 3 },
                                 .pii = B->pc, .npii = 3, .cands = B->cands, .ncands = 5, .route = B->route,
                                 .nroute = 3, .reasons = B->drs, .nreasons = 3, .est_input_tokens = 812,
                                 .est_output_tokens = 1024, .deadline_ms = 60000, .policy_version = "pv\\1" };
    B->at[0] = (struct tg_audit_attempt){ "gpt-4o-eu", "azure-eu", "http_5xx", 503, 87 };
    B->at[1] = (struct tg_audit_attempt){ NASTY, NULL, "timeout", 0, UINT32_MAX };
    B->at[2] = (struct tg_audit_attempt){ "gpt-4o", "openai", "ok", 200, 412 };
}

#define NVARIANTS 16

/* Variant v of the battery's event (B is reset first). */
static struct tg_audit_event
battery_event(struct battery *B, int v)
{
    struct tg_audit_event ev = { .event = "decision", .decision_id = "9f86d081884c7d659a2feaa0c55ad015",
                                 .ts_us = 1763942400123456LL, .policy = &B->p, .decision = &B->d,
                                 .tenant = "acme-bank", .mode = "enforce", .http_status = 200,
                                 .model = "gpt-4o-eu", .provider = "azure-eu", .attempts = B->at,
                                 .nattempts = 3, .latency_ms = 503, .prompt_tokens = 798,
                                 .completion_tokens = 256, .cost_usd = 0.000273, .has_request_hmac = true,
                                 .request_len = 1500, .stream = false };

    battery_init(B);
    for (int i = 0; i < 32; i++)
        ev.request_hmac[i] = (uint8_t)(i * 29 + v);
    switch (v) {
    case 0: break;                                                        /* allow, everything */
    case 1: B->d.verdict = TG_REDACT; B->d.findings.n = 300; B->d.findings.unscannable = true; break;
    case 2: B->d.verdict = TG_DENY; B->d.enforced = false; B->d.nroute = 0; ev.http_status = 403;
            ev.model = ev.provider = NULL; ev.nattempts = 0; ev.cost_usd = NAN; ev.prompt_tokens = -1;
            ev.completion_tokens = -1; ev.error = NASTY; ev.mode = "audit"; break;
    case 3: ev.event = "unauthenticated"; ev.decision = NULL; ev.policy = NULL; ev.tenant = NULL;
            ev.has_request_hmac = false; ev.http_status = 401; ev.nattempts = 0; break;
    case 4: ev.event = "error"; ev.decision = NULL; ev.error = "upstream \"timeout\"\n"; ev.tenant = NASTY; break;
    case 5: ev.policy = NULL; break;                                      /* put_bare_decision */
    case 6: ev.policy = NULL; B->d.findings.n = 257; B->d.findings.unscannable = true; B->d.verdict = TG_DENY;
            ev.stream = true; break;
    case 7: ev.event = NULL; ev.mode = NULL; ev.decision_id = NULL; B->d.tenant = NULL; B->d.feature = NULL;
            B->d.category = NULL; B->d.policy_version = NULL; break;
    case 8: ev.cost_usd = 1e-12; ev.latency_ms = UINT32_MAX; ev.prompt_tokens = INT64_MAX / 2;
            ev.completion_tokens = 0; ev.request_len = ((size_t)1 << 53) + 1; ev.http_status = -1; break;
    case 9: ev.event = "upstream_failure"; ev.cost_usd = 1e300; ev.ts_us = -62135596800000000LL;
            B->d.ncands = 0; B->d.nreasons = 0; B->d.npii = 0; B->d.nexport_tags = 0; B->d.nroute = 0; break;
    case 10: ev.event = "Not-A-Valid_Event"; ev.cost_usd = -0.0; ev.ts_us = 253402300799999999LL; break;
    case 11: ev.decision = NULL; ev.event = "decision"; ev.tenant = "t"; break;   /* no decision, policy */
    case 12: ev.policy = NULL; B->d.ncands = 0; B->d.findings.n = 0; B->d.npii = 0; ev.cost_usd = 0.1; break;
    case 13: B->d.verdict = TG_REDACT; B->d.findings.n = 256; ev.cost_usd = 2.0 / 3; ev.prompt_tokens = 0; break;
    case 14: ev.event = "unauthenticated"; ev.decision = NULL; ev.policy = &B->p; ev.error = ""; break;
    case 15: ev.event = ""; B->d.nexport_tags = 1; B->d.ncands = 1; B->d.nreasons = 1; break;
    default: break;
    }
    return ev;
}

/* Both renderings of ev: the writer's print of the tree, and the text path. */
static void
check_text_matches_tree(const struct tg_audit_event *ev, int v)
{
    struct tg_audit_text t;
    cJSON *tree = tg_audit_entry_json(ev);
    char *want = NULL;
    size_t wlen = 0;
    const cJSON *te;

    cr_assert_not_null(tree, "variant %d", v);
    cr_assert_eq(tg__audit_print_members(tree, &want, &wlen), TG_OK, "variant %d", v);
    cr_assert_eq(tg_audit_entry_text(ev, &t), TG_OK, "variant %d", v);
    cr_assert(t.len == wlen && memcmp(t.buf, want, wlen) == 0, "variant %d differs:\n tree: %s\n text: %.*s", v, want,
              (int)t.len, t.buf);
    cr_assert_eq(t.buf[t.len], '\0');
    te = cJSON_GetObjectItemCaseSensitive(tree, "event");
    cr_assert(cJSON_IsString(te));
    cr_assert_str_eq(t.event, te->valuestring, "variant %d", v);
    /* and it is the body of a valid JSON object */
    char *obj = malloc(t.len + 3);
    obj[0] = '{';
    memcpy(obj + 1, t.buf, t.len);
    memcpy(obj + 1 + t.len, "}", 2);
    cJSON *j = cJSON_Parse(obj);
    cr_assert_not_null(j, "variant %d: not JSON: %s", v, obj);
    cJSON_Delete(j);
    free(obj);
    free(want);
    tg_audit_text_free(&t);
    cr_assert_null(t.buf);
    cJSON_Delete(tree);
}

Test(audit, entry_text_matches_tree)
{
    struct battery *B = malloc(sizeof(*B));

    for (int v = 0; v < NVARIANTS; v++) {
        struct tg_audit_event ev = battery_event(B, v);
        check_text_matches_tree(&ev, v);
    }
    free(B);
}

/* The engine's real decisions on a real policy, through both paths. */
static void
text_matches_tree_real(const struct tg_policy *p, const char *tenant, const char *category, const char *body)
{
    struct tg_arena a;
    struct tg_request req;
    struct tg_decision d;
    struct tg_pii_scratch *sc = NULL;
    struct tg_err err = {0};

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_pii_scratch_new(p->pii, &sc), TG_OK);
    cr_assert_eq(tg_request_parse(body, strlen(body), &a, &req, &err), TG_OK, "%s", err.msg);
    req.tenant_id = tenant;
    req.category = category;
    req.feature = "drift-test";
    cr_assert_eq(tg_preflight_decide(p, &req, NULL, sc, &a, &d, &err), TG_OK, "%s", err.msg);
    struct tg_audit_event ev = { .event = "decision", .decision_id = "00", .ts_us = 1700000000000000LL,
                                 .policy = p, .decision = &d, .mode = "enforce", .prompt_tokens = -1,
                                 .completion_tokens = -1, .cost_usd = NAN };
    check_text_matches_tree(&ev, -1);
    ev.policy = NULL;
    check_text_matches_tree(&ev, -2);
    tg_request_dispose(&req);
    tg_pii_scratch_free(sc);
    tg_arena_free(&a);
}

Test(audit, entry_text_matches_tree_engine_decisions)
{
    struct tg_load_opts opts = {0};
    struct tg_policy *p = NULL;
    struct tg_err err = {0};
    char path[4096];

    snprintf(path, sizeof(path), "%s/tests/cases/policies/base.yaml", tg_data_dir());
    cr_assert_eq(tg_policy_load(path, &opts, &p, &err), TG_OK, "%s", err.msg);
    text_matches_tree_real(p, "t-open", "qa", "{\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}");
    text_matches_tree_real(p, "t-nopii", "qa",
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"mail jane.doe@example.com\"}]}");
    text_matches_tree_real(p, "t-itar", "code",
                           "{\"messages\":[{\"role\":\"user\",\"content\":\"ITAR controlled drawing\"}]}");
    text_matches_tree_real(p, "nobody", "qa", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    tg_policy_unref(p);
}

static atomic_int text_dones;

static void
text_done(void *arg, int status, uint64_t seq)
{
    (void)arg;
    (void)seq;
    if (status == TG_OK)
        atomic_fetch_add(&text_dones, 1);
}

/* Entries appended as text and as trees, interleaved, in both signing
 * modes: the log verifies, each text entry's line carries exactly the
 * rendered members, and a tree and a text of the same event give the same
 * line apart from the chain fields. */
static void
text_log_verifies(enum tg_sign_mode sign)
{
    char id[33];
    char *k = keygen("k", id);
    struct tg_audit_cfg c = cfg_for(path_in("log"), k, sign, 7);
    struct tg_audit_log *l = NULL;
    struct tg_err err = { 0 };
    struct battery *B = malloc(sizeof(*B));
    char *rendered[NVARIANTS];
    size_t rlen[NVARIANTS];

    atomic_store(&text_dones, 0);
    c.fsync = TG_FSYNC_BATCH;
    cr_assert_eq(tg_audit_open(&c, &l, &err), TG_OK, "%s", err.msg);
    for (int v = 0; v < NVARIANTS; v++) {
        struct tg_audit_event ev = battery_event(B, v);
        struct tg_audit_text t;
        cr_assert_eq(tg_audit_entry_text(&ev, &t), TG_OK);
        rendered[v] = strndup(t.buf, t.len);
        rlen[v] = t.len;
        cr_assert_eq(tg_audit_append_text(l, &t, text_done, NULL), TG_OK);
        cr_assert_null(t.buf, "ownership passes to the log");
        cr_assert_eq(tg_audit_append(l, tg_audit_entry_json(&ev), text_done, NULL), TG_OK);
    }
    /* Invalid arguments still take ownership (ASan's leak check would say). */
    {
        struct tg_audit_event ev = battery_event(B, 0);
        struct tg_audit_text t;
        cr_assert_eq(tg_audit_entry_text(&ev, &t), TG_OK);
        cr_assert_eq(tg_audit_append_text(NULL, &t, NULL, NULL), TG_EINVAL);
        cr_assert_null(t.buf);
        cr_assert_eq(tg_audit_append_text(l, NULL, NULL, NULL), TG_EINVAL);
    }
    cr_assert_eq(tg_audit_close(l, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(atomic_load(&text_dones), 2 * NVARIANTS);

    struct buf b = slurp(path_in("log"));
    struct outcome o = verify1(b, k);
    cr_assert(clean(&o), "%s", o.first);
    cr_assert_geq(o.r.entries, 2 * NVARIANTS + 1);

    /* Line by line: skip the start entry and seals. */
    size_t off[128];
    size_t n = lines(b, off, 127);
    int v = 0, which = 0;
    char *text_line = NULL;
    for (size_t i = 0; i < n && v < NVARIANTS; i++) {
        struct tg__audit_line ln;
        const char *why;
        size_t len = off[i + 1] - off[i] - 1;
        const char *line = b.p + off[i];
        cr_assert_eq(tg__audit_parse_line(line, len, &ln, &why), TG_OK, "%s", why);
        if (strcmp(ln.event, "seal") == 0 || strcmp(ln.event, "start") == 0)
            continue;
        /* body = after the header's event member and comma, up to the hash */
        const char *ev_end = strstr(line, "\"event\":\"");
        cr_assert_not_null(ev_end);
        ev_end = strchr(ev_end + 9, '"') + 2;
        size_t body_len = (size_t)(line + ln.prefix_len - ev_end);
        cr_assert(body_len == rlen[v] && memcmp(ev_end, rendered[v], body_len) == 0,
                  "variant %d (%s): line body differs:\n line: %.*s\n text: %s", v, which ? "tree" : "text",
                  (int)body_len, ev_end, rendered[v]);
        if (which == 0) {
            text_line = strndup(ev_end, body_len);
        } else {
            cr_assert_str_eq(text_line, rendered[v]);
            free(text_line);
            free(rendered[v]);
            v++;
        }
        which ^= 1;
    }
    cr_assert_eq(v, NVARIANTS, "all entries found");
    free(B);
    free(b.p);
}

Test(audit, text_entries_verify_seal_mode)
{
    text_log_verifies(TG_SIGN_SEAL);
}

Test(audit, text_entries_verify_sign_each)
{
    text_log_verifies(TG_SIGN_EACH);
}

/* The writer's leaf-at-a-time Merkle root equals the verifier's one-shot
 * root for every size, powers of two and their neighbours included. */
Test(audit, incremental_merkle_root_matches)
{
    static uint8_t leaves[1100 * 32], scratch[1100 * 32];
    static struct tg__audit_mtree m;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    uint8_t want[32], got[32];

    cr_assert_not_null(c);
    for (size_t i = 0; i < sizeof(leaves); i++)
        leaves[i] = (uint8_t)(i * 131u + (i >> 7) * 17u);
    memset(&m, 0, sizeof(m));
    for (size_t n = 1; n <= 1100; n++) {
        tg__audit_mtree_add(&m, c, leaves + 32 * (n - 1));
        cr_assert_eq(m.n, n);
        tg__audit_merkle_root(leaves, n, scratch, want);
        tg__audit_mtree_root(&m, c, got);
        cr_assert(memcmp(want, got, 32) == 0, "root differs at n = %zu", n);
    }
    /* a different leaf changes the root */
    leaves[5] ^= 1;
    tg__audit_merkle_root(leaves, 1100, scratch, want);
    cr_assert(memcmp(want, got, 32) != 0);
    EVP_MD_CTX_free(c);
}
