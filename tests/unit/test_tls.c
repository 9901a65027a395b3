/*
 * test_tls.c — transport security pieces that need no network: the loader's
 * server.tls / client_cert_sha256 / proxy / ca_bundle, the tenant lookup by
 * certificate, the audit entry's `auth` member, and tg_tls_open's refusals
 * (key file permissions, a certificate that is not one, a key that does not
 * match).  The handshakes themselves are tested against a real server in
 * tests/scripts/gateway_tls.sh and tests/e2e/tls.test.mjs.
 */
#include "adapters/http/tls.h"
#include "audit/audit.h"
#include "policy/policy.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

static char dir[64];

static void
mkfile(const char *name, const char *text, mode_t mode, char *path, size_t size)
{
    FILE *f;
    snprintf(path, size, "%s/%s", dir, name);
    f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    cr_assert_eq(chmod(path, mode), 0);
}

static void
setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/tg-test-tls-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void
teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    (void)system(cmd);
}

static void
quiet(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    unsigned *errors = ud;
    if (level == TG_DIAG_ERROR)
        (*errors)++;
    fprintf(stderr, "  %u:%u: %s\n", pos ? pos->line : 0, pos ? pos->col : 0, msg);
}

static struct tg_policy *
load(const char *yaml, unsigned *errors)
{
    struct tg_load_opts o = { .diag = quiet, .diag_ud = errors, .skip_compile = true };
    struct tg_policy *p = NULL;
    struct tg_err err = { 0 };
    *errors = 0;
    (void)tg_policy_load_buffer("t.yaml", yaml, strlen(yaml), &o, &p, &err);
    return p;
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 20);

Test(tls, loader_reads_tls_and_certificate_identities)
{
    char cert[256], key[256], ca[256], yaml[4096];
    unsigned errors;
    uint8_t fp[32];

    mkfile("s.pem", "x\n", 0644, cert, sizeof(cert));
    mkfile("s.key", "x\n", 0600, key, sizeof(key));
    mkfile("ca.pem", "x\n", 0644, ca, sizeof(ca));
    snprintf(yaml, sizeof(yaml),
             "orchestration:\n"
             "  providers:\n"
             "    openai: {adapter: openai, base_url: \"https://api.openai.com/v1\", region: us, jurisdiction: US,\n"
             "             proxy: \"http://u:p@proxy.internal:3128\", ca_bundle: \"%s\"}\n"
             "  routing_rules:\n"
             "    - {category: chat, primary: {provider: openai, model: gpt-4o-mini}}\n"
             "  tenants:\n"
             "    - {id: a, client_cert_sha256: \"%s\"}\n"
             "    - {id: b, api_key_sha256: \"%s\"}\n"
             "  server:\n"
             "    tls: {cert: \"%s\", key: \"%s\", client_ca: \"%s\", min_version: \"1.3\"}\n",
             ca, "00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff",
             "0011223344556677889900112233445566778899001122334455667788990011", cert, key, ca);
    struct tg_policy *p = load(yaml, &errors);
    cr_assert_eq(errors, 0);
    cr_assert_not_null(p);
    cr_assert_str_eq(p->server.tls.cert, cert);
    cr_assert_str_eq(p->server.tls.key, key);
    cr_assert_str_eq(p->server.tls.client_ca, ca);
    cr_assert_eq(p->server.tls.min, TG_TLS_V1_3);
    const struct tg_provider *pv = NULL;
    for (uint32_t i = 0; i < p->nproviders; i++)
        if (strcmp(p->providers[i].id, "openai") == 0)
            pv = &p->providers[i];
    cr_assert_not_null(pv);
    cr_assert_str_eq(pv->proxy, "http://u:p@proxy.internal:3128");
    cr_assert_str_eq(pv->ca_bundle, ca);

    for (unsigned i = 0; i < 32; i++)
        fp[i] = (uint8_t)((i % 16) * 0x11);
    const struct tg_tenant *t = tg_policy_tenant_by_cert(p, fp);
    cr_assert_not_null(t);
    cr_assert_str_eq(t->id, "a");
    cr_assert(!t->has_key);
    fp[31] ^= 1;
    cr_assert_null(tg_policy_tenant_by_cert(p, fp), "one bit off names nobody");
    /* b's key hash is not a certificate identity */
    uint8_t kh[32];
    for (unsigned i = 0; i < 32; i++)
        kh[i] = p->tenants[1].key_sha256[i];
    cr_assert_null(tg_policy_tenant_by_cert(p, kh));
    char v[65];
    snprintf(v, sizeof(v), "%s", p->policy_version);
    tg_policy_unref(p);

    /* The proxy is part of the policy version (hashed, never shown). */
    char *at = strstr(yaml, "u:p@");
    cr_assert_not_null(at);
    at[2] = 'q';
    p = load(yaml, &errors);
    cr_assert_not_null(p);
    cr_assert_str_neq(p->policy_version, v);
    tg_policy_unref(p);
}

Test(tls, loader_defaults_and_refusals)
{
    char cert[256], key[256], yaml[2048];
    unsigned errors;

    mkfile("s.pem", "x\n", 0644, cert, sizeof(cert));
    mkfile("s.key", "x\n", 0600, key, sizeof(key));
    snprintf(yaml, sizeof(yaml),
             "orchestration:\n  server:\n    tls: {cert: \"%s\", key: \"%s\"}\n", cert, key);
    struct tg_policy *p = load(yaml, &errors);
    cr_assert_eq(errors, 0);
    cr_assert_eq(p->server.tls.min, TG_TLS_V1_2, "1.2 by default");
    cr_assert_null(p->server.tls.client_ca);
    tg_policy_unref(p);

    static const char *const bad[] = { "\"1.1\"", "\"1.0\"", "1", "\"2\"", "\"tls1.3\"" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(yaml, sizeof(yaml),
                 "orchestration:\n  server:\n    tls: {cert: \"%s\", key: \"%s\", min_version: %s}\n", cert, key,
                 bad[i]);
        p = load(yaml, &errors);
        cr_assert_null(p, "min_version %s refused", bad[i]);
        cr_assert_eq(errors, 1);
    }
    /* No TLS at all: plain HTTP, nothing set. */
    p = load("orchestration:\n  version: \"2.1\"\n", &errors);
    cr_assert_not_null(p);
    cr_assert_null(p->server.tls.cert);
    tg_policy_unref(p);
}

Test(tls, audit_entry_records_auth)
{
    struct tg_audit_event ev;
    struct tg_audit_text t;

    memset(&ev, 0, sizeof(ev));
    ev.event = "unauthenticated";
    ev.decision_id = "0123456789abcdef0123456789abcdef";
    ev.ts_us = 1700000000000000LL;
    ev.mode = "enforce";
    ev.prompt_tokens = ev.completion_tokens = -1;
    ev.cost_usd = 0;
    ev.error = "client certificate refused: no client certificate";
    ev.auth = "mtls";
    cr_assert_eq(tg_audit_entry_text(&ev, &t), TG_OK);
    cr_assert_not_null(strstr(t.buf, "\"auth\":\"mtls\""), "%s", t.buf);
    cr_assert_not_null(strstr(t.buf, "\"rules\":[\"tenant.certificate\"]"), "%s", t.buf);
    tg_audit_text_free(&t);

    ev.auth = "key";
    cr_assert_eq(tg_audit_entry_text(&ev, &t), TG_OK);
    cr_assert_not_null(strstr(t.buf, "\"auth\":\"key\""), "%s", t.buf);
    cr_assert_not_null(strstr(t.buf, "\"rules\":[\"tenant.unknown\"]"), "a bad key stays tenant.unknown: %s", t.buf);
    tg_audit_text_free(&t);

    ev.auth = NULL;   /* CLI entries: no member at all (additive) */
    cr_assert_eq(tg_audit_entry_text(&ev, &t), TG_OK);
    cr_assert_null(strstr(t.buf, "\"auth\""), "%s", t.buf);
    tg_audit_text_free(&t);
}

/* A self-signed P-256 certificate and its key, written as PEM. */
static void
make_pair(const char *cert_path, const char *key_path, mode_t key_mode)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    FILE *f;

    cr_assert_not_null(k);
    cr_assert_not_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_set_pubkey(x, k);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"localhost", -1,
                               -1, 0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    cr_assert(X509_sign(x, k, EVP_sha256()) > 0);
    f = fopen(cert_path, "w");
    cr_assert(PEM_write_X509(f, x));
    fclose(f);
    f = fopen(key_path, "w");
    cr_assert(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL));
    fclose(f);
    cr_assert_eq(chmod(key_path, key_mode), 0);
    X509_free(x);
    EVP_PKEY_free(k);
}

Test(tls, open_checks_key_mode_and_pair)
{
    char cert[256], key[256], cert2[256], key2[256];
    struct tg_tls_cfg cfg = { 0 };
    struct tg_tls *t = NULL;
    struct tg_err err = { 0 };

    snprintf(cert, sizeof(cert), "%s/a.pem", dir);
    snprintf(key, sizeof(key), "%s/a.key", dir);
    snprintf(cert2, sizeof(cert2), "%s/b.pem", dir);
    snprintf(key2, sizeof(key2), "%s/b.key", dir);
    make_pair(cert, key, 0600);
    make_pair(cert2, key2, 0600);
    cfg.cert = cert;
    cfg.key = key;
    cr_assert_eq(tg_tls_open(&cfg, NULL, &t, &err), TG_OK, "%s", err.msg);
    cr_assert_not_null(t);

    /* A reload with a mismatched key is refused; the running context stays usable. */
    cfg.key = key2;
    cr_assert_neq(tg_tls_reload(t, &cfg, &err), TG_OK);
    cr_assert_not_null(strstr(err.msg, "does not match"), "%s", err.msg);
    cfg.cert = cert2;
    cr_assert_eq(tg_tls_reload(t, &cfg, &err), TG_OK, "%s", err.msg);
    tg_tls_close(t);
    t = NULL;

    /* group/other permissions: refused, one line naming the file and the mode */
    cr_assert_eq(chmod(key, 0640), 0);
    cfg.cert = cert;
    cfg.key = key;
    cr_assert_eq(tg_tls_open(&cfg, NULL, &t, &err), TG_EPOLICY);
    cr_assert_null(t);
    cr_assert_not_null(strstr(err.msg, "accessible by group or others (mode 0640)"), "%s", err.msg);
    cr_assert_null(strchr(err.msg, '\n'));

    /* a "certificate" that is not one */
    char junk[256];
    cr_assert_eq(chmod(key, 0600), 0);
    mkfile("junk.pem", "not a certificate\n", 0644, junk, sizeof(junk));
    cfg.cert = junk;
    cr_assert_neq(tg_tls_open(&cfg, NULL, &t, &err), TG_OK);
    cr_assert_null(t);
    cr_assert_not_null(strstr(err.msg, "server.tls.cert"), "%s", err.msg);
}
