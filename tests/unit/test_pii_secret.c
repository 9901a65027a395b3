/* test_pii_secret.c — the secret validators (engine/pii_valid_secret.c):
 * entropy minimums, the allowlist, generic secrets that are code, connection
 * string passwords, PEM bodies; and the secret pack's size and classes. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "engine/pii.h"
#include "engine/pii_int.h"
#include "policy/pii_pack.h"

#define DEFAULT_PACK TG_DATA_DIR "/rules/pii/default.yaml"

static double
run(const char *validator, const char *v)
{
    tg__pii_validator_fn fn = tg__pii_validator(validator);
    cr_assert_not_null(fn, "validator %s", validator);
    return fn(v, strlen(v));
}

Test(pii_secret, every_secret_validator_is_known)
{
    static const char *names[] = { "secret", "secret_e20", "secret_e30", "secret_e35", "secret_e40",
                                   "secret_e45", "generic_secret", "conn_password", "pem_key" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        cr_assert(tg_pii_validator_exists(names[i]), "%s", names[i]);
    cr_assert_not(tg_pii_validator_exists("secret_e99"));
}

Test(pii_secret, entropy_minimum_is_the_threshold)
{
    /* 16 distinct symbols, each once: exactly 4.0 bits per byte */
    const char *four = "ghp_0Aa1Bb2Cc3Dd4E";   /* 18 bytes, entropy just over 4 */
    cr_assert_float_eq(tg__pii_entropy("0123456789abcdef", 16), 4.0, 1e-9);
    cr_assert_geq(run("secret_e40", "k9Xq2LmP7vR4tZ8wB1nC"), 0.0);
    cr_assert_lt(run("secret_e40", "abababababababababab"), 0.0);   /* 1 bit per byte */
    cr_assert_geq(run("secret_e20", "a1b2a1b2c3a1b2a1b2c3"), 0.0);  /* ~2.5 bits */
    cr_assert_lt(run("secret_e30", "a1b2a1b2c3a1b2a1b2c3"), 0.0);
    cr_assert_geq(run("secret_e40", four), 0.0);
    cr_assert_lt(run("secret_e45", four), 0.0);
}

Test(pii_secret, allowlist)
{
    static const char *drop[] = { "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                                  "ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "sk_live_000000Kq3mZ",
                                  "sk-your-key-here-please-1", "glpat-123456abKq9ZpL2mNx",
                                  "AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs", "token_REDACTED_9f8e",
                                  "${GITHUB_TOKEN}", "<token>" };
    for (size_t i = 0; i < sizeof drop / sizeof *drop; i++)
        cr_assert_lt(run("secret", drop[i]), 0.0, "%s", drop[i]);
    cr_assert_geq(run("secret", "ghp_9Kq3mZ7vR2tL8wB4nC1xY6pD0fH5jG3sQ2aE"), 0.0);
    /* words in a token's shape are prose, drawn lower-case keys are not */
    cr_assert_lt(run("secret_e30", "sk-learn-preprocessing-pipeline-v2"), 0.0);
    cr_assert_geq(run("secret_e20", "dp.pt.ic4udyfkozm4lncz7kywhjpmc9cuhy39t0tp1yx262l"), 0.0);
    cr_assert_geq(run("secret_e20", "hf_qwkjzrtplmxnbvcdfghsawertyuiopzxcvbn"), 0.0);
}

Test(pii_secret, generic_rejects_code)
{
    static const char *code[] = { "os.getcwd", "self.password", "get_cache_token", "TokenList",
                                  "current_ast_node.value", "ed25519.Ed25519PrivateKey", "geheim$parole",
                                  "secret%3Dpassword", "SOCKS5_NO_ACCEPTABLE_AUTH", "settings.SECRET_KEY",
                                  "$API_KEY_VALUE", "/var/run/secrets/token", "~/.ssh/id_rsa", "2024-01-01",
                                  "1234567890123", "redacted_for_privacy", "not_a_real_secret", "********" };
    for (size_t i = 0; i < sizeof code / sizeof *code; i++)
        cr_assert_lt(run("generic_secret", code[i]), 0.0, "%s", code[i]);
    static const char *secret[] = { "gQX8MSZjNI6Pu3igP4GAG8Df", "Tr0ub4dor#3xyz", "b4aB-_-m#QOEOavhlJal%3-k",
                                    "yyskNsvOFwKJ1QBbZnhHSk4H", "8P!Y-KL-sHrrKISbu-S5" };
    for (size_t i = 0; i < sizeof secret / sizeof *secret; i++)
        cr_assert_geq(run("generic_secret", secret[i]), 0.0, "%s", secret[i]);
}

Test(pii_secret, connection_string_password)
{
    /* URL forms: the password between user: and @; 1.0 outranks the e-mail look-alike */
    cr_assert_eq(run("conn_password", "postgres://app:Zq8!rT2wLp@db.acme.org:5432"), 1.0);
    cr_assert_lt(run("conn_password", "postgres://user:password@localhost"), 0.0);
    cr_assert_lt(run("conn_password", "mysql://scott:tiger@localhost"), 0.0);
    cr_assert_lt(run("conn_password", "redis://:xxxxxxxx@cache"), 0.0);
    /* key=value forms: the password alone */
    cr_assert_eq(run("conn_password", "Kq3mZ7vR2t"), 0.0);
    cr_assert_lt(run("conn_password", "changeme"), 0.0);
    cr_assert_lt(run("conn_password", "***"), 0.0);
}

Test(pii_secret, pem_body)
{
    char key[600];
    const char *line = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj";
    snprintf(key, sizeof key, "-----BEGIN PRIVATE KEY-----\n%s\n%s\n-----END PRIVATE KEY-----", line, line + 3);
    cr_assert_geq(run("pem_key", key), 0.0);
    snprintf(key, sizeof key, "-----BEGIN PRIVATE KEY-----\\n%s\\n%s\\n-----END PRIVATE KEY-----", line, line + 3);
    cr_assert_geq(run("pem_key", key), 0.0, "JSON-escaped newlines");
    cr_assert_lt(run("pem_key", "-----BEGIN PRIVATE KEY-----\\nXXXX\\nXXXX\\n-----END PRIVATE KEY-----"), 0.0);
    cr_assert_lt(run("pem_key", "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nabc\n"
                                "-----END RSA PRIVATE KEY-----"), 0.0, "headers are not body");
}

Test(pii_secret, secret_pack_loads_as_secrets)
{
    struct tg_arena a;
    struct tg_pii_detector_spec *specs;
    struct tg_pii_db *db = NULL;
    size_t n, i, secrets = 0;
    struct tg_err err = { 0 };

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_pii_pack_load(DEFAULT_PACK, &a, &specs, &n, NULL, NULL, &err), TG_OK, "%s", err.msg);
    for (i = 0; i < n; i++)
        if (strcmp(specs[i].file + strlen(specs[i].file) - strlen("secrets.yaml"), "secrets.yaml") == 0) {
            cr_assert_eq(specs[i].cls, TG_PII_CLASS_SECRET, "%s", specs[i].id);
            secrets++;
        }
    cr_assert_geq(secrets, 60, "the secret pack has %zu detectors", secrets);
    cr_assert_gt(n, 64, "more detectors than one 64-bit set holds");
    cr_assert_eq(tg_pii_db_build(specs, n, &db, &err), TG_OK, "%s", err.msg);
    tg_pii_db_free(db);
    tg_arena_free(&a);
}
