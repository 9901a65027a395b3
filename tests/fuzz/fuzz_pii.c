/*
 * fuzz_pii.c — the PII scanner over arbitrary bytes (invalid UTF-8,
 * full-width and zero-width sequences, huge inputs, backtracking bait).
 * Checks: the scan returns, findings are inside the input, sorted and
 * non-overlapping, code point offsets are monotonic, redaction works.
 */
#include "engine/pii.h"
#include "engine/request.h"
#include "engine/redact.h"
#include "policy/pii_pack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct tg_pii_db *db;
static struct tg_pii_scratch *scratch;
static struct tg_arena packs;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct tg_pii_detector_spec *specs;
    size_t n;
    struct tg_err err = { 0 };

    (void)argc;
    (void)argv;
    tg_arena_init(&packs, 0);
    if (tg_pii_pack_load(TG_DATA_DIR "/rules/pii/default.yaml", &packs, &specs, &n, NULL, NULL, &err) != TG_OK ||
        tg_pii_db_build(specs, n, &db, &err) != TG_OK || tg_pii_scratch_new(db, &scratch) != TG_OK) {
        fprintf(stderr, "fuzz_pii: %s\n", err.msg);
        abort();
    }
    return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_arena a;
    struct tg_findings f = { 0 };
    struct tg_err err = { 0 };
    const char *t = (const char *)data;
    uint32_t i, prev_cp = 0;
    char *out;
    size_t outlen;

    if (db == NULL)
        LLVMFuzzerInitialize(NULL, NULL);
    tg_arena_init(&a, 0);
    /* min score 0: every candidate the validators keep */
    if (tg_pii_scan(db, scratch, t, size, 0, 0.0, &a, &f, &err) != TG_OK)
        abort();
    for (i = 0; i < f.n; i++) {
        const struct tg_finding *x = &f.v[i];
        uint32_t cp;
        if (x->start >= x->end || x->end > size)
            abort();
        if (i > 0 && x->start < f.v[i - 1].end)
            abort();
        if (!(x->score >= 0.0f && x->score <= 1.0f) || x->entity == NULL || x->detector == NULL)
            abort();
        cp = tg_pii_codepoint_offset(t, size, x->start);
        if (cp < prev_cp || cp > x->start)
            abort();
        prev_cp = cp;
        {
            char m[64];
            tg_pii_mask(t + x->start, x->end - x->start, m, sizeof m);
        }
    }
    if (tg_redact_text(t, size, &f, &a, &out, &outlen, &err) != TG_OK || out[outlen] != '\0')
        abort();
    /* The same bytes as a request of two parts (split at the middle): what
     * only the whole request shows — a value across the joint, or across a
     * blank-line seam inside a part — must still lie inside its part. */
    {
        struct tg_request req;
        struct tg_part parts[2];
        struct tg_findings rf = { 0 };
        size_t half = size / 2;
        char *p0 = tg_arena_alloc(&a, half + 1), *p1 = tg_arena_alloc(&a, size - half + 1);
        if (p0 == NULL || p1 == NULL)
            abort();
        memcpy(p0, t, half);
        p0[half] = '\0';
        memcpy(p1, t + half, size - half);
        p1[size - half] = '\0';
        memset(&req, 0, sizeof req);
        memset(parts, 0, sizeof parts);
        parts[0].text = p0;
        parts[0].len = half;
        parts[1].text = p1;
        parts[1].len = size - half;
        req.parts = parts;
        req.nparts = 2;
        if (tg_pii_scan_request(db, scratch, &req, 0.5, &a, &rf, &err) != TG_OK)
            abort();
        for (i = 0; i < rf.n; i++) {
            const struct tg_finding *x = &rf.v[i];
            if (x->part > 1 || x->start >= x->end || x->end > parts[x->part].len || x->entity == NULL)
                abort();
            if (i > 0 && (rf.v[i - 1].part > x->part ||
                          (rf.v[i - 1].part == x->part && rf.v[i - 1].start > x->start)))
                abort();   /* sorted by part, then start */
        }
    }
    tg_arena_free(&a);
    return 0;
}
