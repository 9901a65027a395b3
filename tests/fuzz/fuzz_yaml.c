/*
 * fuzz_yaml.c — libFuzzer harness for the configuration loader: arbitrary
 * bytes as a config merged over the shipped registry.  Packs and markings
 * are checked for existence but not compiled (skip_compile), so each input
 * exercises the YAML tree, the schema walk, interpolation, merging,
 * resolution, warnings and hashing.  Must never crash, leak or hang; a
 * successful load must yield a 64-hex policy_version.
 */
#include "policy/policy.h"

#include <stdlib.h>
#include <string.h>

static void
count_diag(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    size_t *n = ud;
    (void)level;
    /* Every diagnostic carries a position and a message. */
    if (pos == NULL || msg == NULL || msg[0] == '\0')
        abort();
    (*n)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t ndiag = 0;
    struct tg_load_opts o = { .skip_compile = true, .diag = count_diag, .diag_ud = &ndiag };
    struct tg_policy *p = NULL;
    struct tg_err err = {0};

    if (size > 256 * 1024)
        return 0;
    int rc = tg_policy_load_buffer("fuzz.yaml", (const char *)data, size, &o, &p, &err);
    if (rc == TG_OK) {
        if (p == NULL || strlen(p->policy_version) != 64)
            abort();
        tg_policy_unref(p);
    } else if (p != NULL || (rc == TG_EPOLICY && ndiag == 0)) {
        abort();   /* failure leaves *out untouched and says why */
    }
    return 0;
}
