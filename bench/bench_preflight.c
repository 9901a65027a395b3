/*
 * bench_preflight.c — one pre-flight decision WITHOUT the PII scan (policy
 * with no packs) for a 2 KiB chat request against 20 models and 10
 * routing rules: export markings, tenant, residency, export control, cost,
 * quality, context, route and timeouts.  Target (issue 2): <= 5 us median.
 *
 * Baseline, measured in the same run: cJSON parsing the same 2 KiB body —
 * the least any gateway does with a request — so the ratio says how many
 * "parses" a decision costs, independent of the machine's speed.
 * Prints medians over batches (ns per operation).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engine/preflight.h"
#include "policy/policy.h"
#include "engine/request.h"

#define BATCH   200
#define BATCHES 301

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median(double *v, size_t n)
{
    qsort(v, n, sizeof(*v), cmp_d);
    return v[n / 2];
}

static char *
make_policy(void)
{
    size_t cap = 1 << 16, o = 0;
    char *y = malloc(cap);
    static const char *const prov[] = { "us", "eu", "cn", "sg" };
    static const char *const jur[] = { "US", "DE", "CN", "SG" };
    o += (size_t)snprintf(y + o, cap - o, "orchestration:\n  version: \"bench\"\n  providers:\n");
    for (int i = 0; i < 4; i++)
        o += (size_t)snprintf(y + o, cap - o,
                              "    p%s: {adapter: echo, region: %s, jurisdiction: %s, pii_allowed: %s}\n",
                              prov[i], prov[i], jur[i], i % 2 ? "false" : "true");
    o += (size_t)snprintf(y + o, cap - o, "  models:\n");
    for (int i = 0; i < 20; i++)
        o += (size_t)snprintf(y + o, cap - o,
                              "    m%02d: {provider: p%s, max_context: %d, pricing: {input_per_m: %.2f, output_per_m: %.2f},"
                              " scores: {humaneval: %.1f, mmlu: %.1f}}\n",
                              i, prov[i % 4], 32000 + i * 8000, 0.1 + i * 0.2, 0.3 + i * 0.6,
                              80.0 + i, 70.0 + i);
    o += (size_t)snprintf(y + o, cap - o,
                          "  regions:\n    any: [us, eu, cn, sg]\n    west: [us, eu]\n  routing_rules:\n");
    for (int r = 0; r < 10; r++) {
        o += (size_t)snprintf(y + o, cap - o,
                              "    - category: cat%d\n      primary: {provider: p%s, model: m%02d}\n      fallback:\n",
                              r, prov[(r * 2) % 4], (r * 2) % 20);
        for (int k = 1; k <= 3; k++) {
            int m = (r * 2 + k * 5) % 20;
            o += (size_t)snprintf(y + o, cap - o, "        - {provider: p%s, model: m%02d}\n", prov[m % 4], m);
        }
        o += (size_t)snprintf(y + o, cap - o,
                              "      constraints: {quality_threshold: %d, max_cost_per_request: 0.05, timeout_ms: 800}\n"
                              "      compliance: {data_residency: %s, pii_allowed: true, export_controlled: true}\n",
                              82 + r % 5, r % 2 ? "west" : "any");
    }
    o += (size_t)snprintf(y + o, cap - o,
                          "  policy:\n    pii: {packs: []}\n    export_control:\n      tags:\n"
                          "        itar: {allow_jurisdictions: [US]}\n        ear: {deny_jurisdictions: [CN]}\n"
                          "  tenants:\n    - {id: acme, data_residency: any, max_cost_per_request: 0.10}\n"
                          "    - {id: other}\n");
    return y;
}

static char *
make_request(size_t *len)
{
    static const char words[] =
        "The quarterly report covers revenue growth in three regions and the plan for the "
        "next release of the billing service including migration steps and rollback notes. ";
    size_t cap = 4096, o = 0;
    char *b = malloc(cap);
    o += (size_t)snprintf(b + o, cap - o, "{\"model\":\"auto\",\"max_tokens\":512,\"messages\":[");
    for (int m = 0; m < 6; m++) {
        o += (size_t)snprintf(b + o, cap - o, "%s{\"role\":\"%s\",\"content\":\"", m ? "," : "",
                              m == 0 ? "system" : (m % 2 ? "user" : "assistant"));
        for (int k = 0; k < 2; k++)
            o += (size_t)snprintf(b + o, cap - o, "%s", words);
        o += (size_t)snprintf(b + o, cap - o, "\"}");
    }
    o += (size_t)snprintf(b + o, cap - o, "]}");
    *len = o;
    return b;
}

int
main(void)
{
    struct tg_load_opts lo = { .no_registry = true };
    struct tg_policy *p = NULL;
    struct tg_err err = {0};
    char *y = make_policy();
    if (tg_policy_load_buffer("bench.yaml", y, strlen(y), &lo, &p, &err) != TG_OK) {
        fprintf(stderr, "bench_preflight: policy: %s\n", err.msg);
        return 1;
    }
    size_t blen;
    char *body = make_request(&blen);
    struct tg_arena req_arena, a;
    struct tg_request r;
    tg_arena_init(&req_arena, 0);
    tg_arena_init(&a, 64 * 1024);
    if (tg_request_parse(body, blen, &req_arena, &r, &err) != TG_OK) {
        fprintf(stderr, "bench_preflight: request: %s\n", err.msg);
        return 1;
    }
    r.tenant_id = "acme";

    static double dec[BATCHES], full[BATCHES], base[BATCHES];
    struct tg_decision d;
    volatile uint32_t sink = 0;
    for (int b = 0; b < BATCHES; b++) {
        /* decision only (request already parsed), all 10 rules in turn */
        double t0 = now_ns();
        for (int i = 0; i < BATCH; i++) {
            static const char *const cats[] = { "cat0", "cat1", "cat2", "cat3", "cat4",
                                                "cat5", "cat6", "cat7", "cat8", "cat9" };
            r.category = cats[i % 10];
            tg_arena_reset(&a);
            if (tg_preflight_decide(p, &r, NULL, NULL, &a, &d, &err) != TG_OK)
                return 1;
            sink += d.nroute;
        }
        dec[b] = (now_ns() - t0) / BATCH;

        /* parse + decision: what the gateway pays per request before the PII scan */
        t0 = now_ns();
        for (int i = 0; i < BATCH; i++) {
            struct tg_request q;
            tg_arena_reset(&a);
            if (tg_request_parse(body, blen, &a, &q, &err) != TG_OK)
                return 1;
            q.tenant_id = "acme";
            q.category = "cat3";
            if (tg_preflight_decide(p, &q, NULL, NULL, &a, &d, &err) != TG_OK)
                return 1;
            sink += d.nroute;
            tg_request_dispose(&q);
        }
        full[b] = (now_ns() - t0) / BATCH;

        /* baseline: cJSON parse + free of the same body */
        t0 = now_ns();
        for (int i = 0; i < BATCH; i++) {
            cJSON *j = cJSON_ParseWithLength(body, blen);
            sink += j != NULL;
            cJSON_Delete(j);
        }
        base[b] = (now_ns() - t0) / BATCH;
    }
    double md = median(dec, BATCHES), mf = median(full, BATCHES), mb = median(base, BATCHES);
    printf("request: %zu bytes, %u messages; policy: %u models, %u rules (no PII packs)\n",
           blen, r.nmessages, p->nmodels, p->nrules);
    printf("preflight decision (parsed request)   median %8.0f ns  (target <= 5000 ns)\n", md);
    printf("parse + preflight decision            median %8.0f ns\n", mf);
    printf("baseline: cJSON parse of the body     median %8.0f ns\n", mb);
    printf("ratio decision / baseline             %8.2fx\n", md / mb);
    printf("ratio parse+decision / baseline       %8.2fx\n", mf / mb);
    (void)sink;
    tg_request_dispose(&r);
    tg_arena_free(&a);
    tg_arena_free(&req_arena);
    tg_policy_unref(p);
    free(body);
    free(y);
    return 0;
}
