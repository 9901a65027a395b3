/*
 * fuzz_outguard.c — the output guard's stream scanner (engine/outguard.h)
 * and its canonical SSE filter (adapters/http/respguard.h) over arbitrary
 * bytes and split points.
 *
 * Input: byte 0 picks the settings (secrets, pii: pass/redact/deny each)
 * and byte 1 the chunk size; the rest is (a) streamed text fed to one
 * channel in chunks, then ended, and (b) canonical SSE fed to the filter in
 * the same chunks.  Invariants: no crash or leak; nothing is held past the
 * end; when nothing was replaced or refused, the released text is exactly
 * the input; the filter emits only whole "data: ...\n\n" events.
 */
#include "adapters/http/respguard.h"
#include "engine/outguard.h"
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tg_policy *pol;
static struct tg_pii_scratch *scratch;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct tg_load_opts o = { 0 };
    struct tg_err err = { 0 };

    (void)argc;
    (void)argv;
    if (tg_policy_load(TG_DATA_DIR "/tests/cases/policies/outguard.yaml", &o, &pol, &err) != TG_OK ||
        pol->pii == NULL || tg_pii_scratch_new(pol->pii, &scratch) != TG_OK) {
        fprintf(stderr, "fuzz_outguard: %s\n", err.msg);
        abort();
    }
    return 0;
}

struct acc {
    char  *p;
    size_t n, cap;
};

static int
acc_add(void *ud, const char *s, size_t n)
{
    struct acc *a = ud;
    if (a->n + n + 1 > a->cap) {
        size_t nc = (a->n + n + 1) * 2;
        char *nb = realloc(a->p, nc);
        if (nb == NULL)
            abort();
        a->p = nb;
        a->cap = nc;
    }
    memcpy(a->p + a->n, s, n);
    a->n += n;
    a->p[a->n] = '\0';
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_arena a;
    struct tg_outguard g;
    struct tg_outguard_chan c = { 0 };
    struct tg_rg_stream *rs = NULL;
    struct acc out = { 0 }, ev = { 0 };
    struct tg_err err = { 0 };
    const char *t;
    size_t n, chunk;

    if (pol == NULL)
        LLVMFuzzerInitialize(NULL, NULL);
    if (size < 2)
        return 0;
    pol->resp_secrets = (enum tg_resp_action)(data[0] % 3);
    pol->resp_pii = (enum tg_resp_action)((data[0] / 3) % 3);
    chunk = 1 + data[1] % 97;
    t = (const char *)data + 2;
    n = size - 2;

    /* (a) one text channel */
    tg_arena_init(&a, 0);
    tg_outguard_init(&g, pol, NULL, false, scratch, &a);
    for (size_t pos = 0; pos <= n; pos += chunk) {
        size_t k = n - pos < chunk ? n - pos : chunk;
        bool final = pos + k >= n;
        const char *o;
        size_t ol;
        if (tg_outguard_feed(&g, &c, t + pos, k, final, &o, &ol, &err) != TG_OK && g.verdict != TG_RESP_DENY)
            abort();   /* an error must deny */
        acc_add(&out, o, ol);
        if (final)
            break;
    }
    if (g.verdict == TG_RESP_PASS) {
        /* nothing replaced or refused: every byte out, unchanged */
        if (out.n != n || (n > 0 && memcmp(out.p, t, n) != 0))
            abort();
        if (c.len != c.ctx)
            abort();   /* nothing held after the end */
    }
    if (g.verdict == TG_RESP_REDACT && (pol->resp_secrets != TG_RESP_REDACT && pol->resp_pii != TG_RESP_REDACT))
        abort();
    tg_outguard_chan_free(&c);
    tg_outguard_free(&g);

    /* (b) the same bytes as canonical SSE */
    tg_outguard_init(&g, pol, NULL, false, scratch, &a);
    if (tg_rg_stream_new(&g, true, acc_add, &ev, &rs) == TG_OK) {
        for (size_t pos = 0; pos < n; pos += chunk) {
            size_t k = n - pos < chunk ? n - pos : chunk;
            if (tg_rg_stream_feed(rs, t + pos, k) != TG_OK)
                break;
        }
        tg_rg_stream_free(rs);
    }
    /* whole events only */
    for (size_t i = 0; i < ev.n;) {
        char *end;
        if (ev.n - i < 6 || memcmp(ev.p + i, "data: ", 6) != 0)
            abort();
        end = strstr(ev.p + i, "\n\n");
        if (end == NULL)
            abort();
        i = (size_t)(end - ev.p) + 2;
    }
    tg_outguard_free(&g);
    tg_arena_free(&a);
    free(out.p);
    free(ev.p);
    return 0;
}
