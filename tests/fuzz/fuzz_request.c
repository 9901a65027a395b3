/*
 * fuzz_request.c — request JSON -> decision.  Any byte string goes through
 * tg_request_parse() and, when it parses, tg_preflight_decide() and
 * tg_decision_to_json() against a small fixed policy (loaded once), with
 * the invariants of docs/interface.md §3 checked on every decision:
 *   - allow/redact has a non-empty route of eligible (compliant) candidates;
 *   - an enforced deny routes nowhere;
 *   - every non-eligible candidate carries at least one reason with a rule id.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/pii.h"
#include "engine/preflight.h"
#include "policy/policy.h"
#include "engine/request.h"

static const char POLICY[] =
    "orchestration:\n"
    "  version: \"fuzz\"\n"
    "  providers:\n"
    "    us: {adapter: echo, region: us, jurisdiction: US, pii_allowed: true}\n"
    "    cn: {adapter: echo, region: cn, jurisdiction: CN, pii_allowed: false}\n"
    "  models:\n"
    "    a: {provider: us, max_context: 4000, pricing: {input_per_m: 1.0, output_per_m: 2.0}, scores: {humaneval: 90}}\n"
    "    b: {provider: cn, max_context: 100000, pricing: {input_per_m: 0.1, output_per_m: 0.2}, scores: {humaneval: 95}}\n"
    "  regions:\n"
    "    any: [us, cn]\n"
    "    us: [us]\n"
    "  routing_rules:\n"
    "    - category: qa\n"
    "      primary: {provider: us, model: a}\n"
    "      fallback: [{provider: cn, model: b}]\n"
    "      constraints: {quality_threshold: 85, max_cost_per_request: 0.01, timeout_ms: 500}\n"
    "      compliance: {data_residency: any, pii_allowed: true, export_controlled: true}\n"
    "    - category: code\n"
    "      primary: {provider: cn, model: b}\n"
    "      fallback: [{provider: us, model: a}]\n"
    "      compliance: {data_residency: us, pii_allowed: false}\n"
    "  policy:\n"
    "    pii: {packs: [rules/pii/default.yaml], on_violation: redact, deny_secrets: true}\n"
    "    export_control:\n"
    "      tags:\n"
    "        itar: {allow_jurisdictions: [US]}\n"
    "        ear: {deny_jurisdictions: [CN]}\n"
    "  tenants:\n"
    "    - {id: t1}\n"
    "    - {id: t2, pii_allowed: false, export_tags: [ear], max_cost_per_request: 0.001}\n";

static struct tg_policy *P;
static struct tg_pii_scratch *S;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    struct tg_load_opts o = { .no_registry = true };
    struct tg_err err = {0};
    if (tg_policy_load_buffer("fuzz.yaml", POLICY, sizeof(POLICY) - 1, &o, &P, &err) != TG_OK) {
        fprintf(stderr, "fuzz_request: policy: %s\n", err.msg);
        abort();
    }
    if (P->pii != NULL && tg_pii_scratch_new(P->pii, &S) != TG_OK)
        abort();
    return 0;
}

static void
check(const struct tg_decision *d)
{
    if (d->verdict != TG_DENY) {
        if (d->nroute == 0)
            abort();
        for (uint32_t i = 0; i < d->ncands; i++)
            if (d->cands[i].model == d->route[0] && !d->cands[i].eligible)
                abort();
    } else if (d->enforced && d->nroute != 0) {
        abort();
    }
    for (uint32_t i = 0; i < d->ncands; i++) {
        const struct tg_cand *c = &d->cands[i];
        if (c->eligible && !c->compliant)
            abort();
        if (!c->eligible && c->nreasons == 0)
            abort();
        for (uint32_t r = 0; r < c->nreasons; r++)
            if (c->reasons[r].rule == NULL || c->reasons[r].message == NULL)
                abort();
    }
    if (d->verdict == TG_DENY && d->nreasons == 0)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const tenants[] = { "t1", "t2", NULL, "nobody" };
    static const char *const cats[] = { "qa", "code", NULL, "other" };
    static const char *const tags[] = { NULL, "itar", "ear, ITAR", "unknown" };
    struct tg_arena a;
    struct tg_request r;
    struct tg_decision d;
    struct tg_err err = {0};

    tg_arena_init(&a, 0);
    if (tg_request_parse((const char *)data, size, &a, &r, &err) == TG_OK) {
        /* routing context from the size, so every corpus file varies it */
        r.tenant_id = tenants[size % 4];
        r.category = cats[(size / 4) % 4];
        if (tg_request_add_tags(&r, tags[(size / 16) % 4], &a) == TG_OK &&
            tg_preflight_decide(P, &r, NULL, S, &a, &d, &err) == TG_OK) {
            check(&d);
            cJSON *j = tg_decision_to_json(P, &d, true);
            char *s = j != NULL ? cJSON_PrintUnformatted(j) : NULL;
            free(s);
            cJSON_Delete(j);
        }
        (void)tg_request_estimate_tokens(&r);
    } else if (r.body != NULL) {
        abort();   /* failure must leave no body */
    }
    tg_request_dispose(&r);
    tg_arena_free(&a);
    return 0;
}
