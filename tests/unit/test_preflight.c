/*
 * test_preflight.c — tg_preflight_decide() on policies from
 * tests/cases/policies/ (loaded with the real loader), for what the
 * explain-driven case files cannot reach: breaker views, unscannable
 * requests, out-of-memory at every allocation, the JSON shape.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/limits.h"
#include "engine/pii.h"
#include "engine/preflight.h"
#include "policy/policy.h"
#include "engine/request.h"

#ifndef TG_DATA_DIR
#define TG_DATA_DIR "."
#endif

static struct tg_policy *P;
static struct tg_pii_scratch *S;
static struct tg_arena A;
static struct tg_request R;

static struct tg_policy *
load(const char *name)
{
    char path[512];
    struct tg_load_opts o = {0};
    struct tg_policy *p = NULL;
    struct tg_err err = {0};
    snprintf(path, sizeof(path), "%s/tests/cases/policies/%s", TG_DATA_DIR, name);
    cr_assert_eq(tg_policy_load(path, &o, &p, &err), TG_OK, "%s: %s", path, err.msg);
    return p;
}

static void
use(const char *policy)
{
    P = load(policy);
    if (P->pii != NULL)
        cr_assert_eq(tg_pii_scratch_new(P->pii, &S), TG_OK);
}

static void setup(void) { tg_arena_init(&A, 0); memset(&R, 0, sizeof(R)); P = NULL; S = NULL; }
static void teardown(void)
{
    tg_request_dispose(&R);
    tg_arena_free(&A);
    tg_pii_scratch_free(S);
    if (P != NULL)
        tg_policy_unref(P);
}

TestSuite(preflight, .init = setup, .fini = teardown);

static void
request(const char *body, const char *tenant, const char *category)
{
    struct tg_err err = {0};
    cr_assert_eq(tg_request_parse(body, strlen(body), &A, &R, &err), TG_OK, "%s", err.msg);
    R.tenant_id = tenant;
    R.category = category;
}

static bool
has_reason(const struct tg_reason *r, uint32_t n, const char *rule)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(r[i].rule, rule) == 0)
            return true;
    return false;
}

static const struct tg_cand *
cand(const struct tg_decision *d, const char *model)
{
    for (uint32_t i = 0; i < d->ncands; i++)
        if (strcmp(P->models[d->cands[i].model].id, model) == 0)
            return &d->cands[i];
    cr_assert_fail("no candidate %s", model);
    return NULL;
}

static const char *
route(const struct tg_decision *d, uint32_t i)
{
    cr_assert_lt(i, d->nroute);
    return P->models[d->route[i]].id;
}

#define HI "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"
#define EMAIL "{\"messages\":[{\"role\":\"user\",\"content\":\"mail alice.smith@example.com\"}]}"

Test(preflight, allow_with_progressive_timeouts)
{
    struct tg_decision d;
    struct tg_err err = {0};
    use("base.yaml");
    request(HI, "t-open", "qa");
    cr_assert_eq(tg_preflight_decide(P, &R, NULL, S, &A, &d, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(d.verdict, TG_ALLOW);
    cr_assert(d.enforced);
    cr_assert_eq(d.nroute, 2);
    cr_assert_str_eq(route(&d, 0), "m-us");
    cr_assert_str_eq(route(&d, 1), "m-eu");
    cr_assert_eq(cand(&d, "m-us")->timeout_ms, 800);
    cr_assert_eq(cand(&d, "m-eu")->timeout_ms, 1200);
    cr_assert_eq(d.deadline_ms, 2000);
    cr_assert_eq(d.est_input_tokens, 8);
    cr_assert_eq(d.est_output_tokens, 1024);
    cr_assert_float_eq(cand(&d, "m-us")->est_cost_usd, 8e-6 + 1024 * 2e-6, 1e-12);
    const struct tg_cand *cn = cand(&d, "m-cn");
    cr_assert_not(cn->compliant);
    cr_assert(has_reason(cn->reasons, cn->nreasons, "residency.rule"));
    cr_assert_str_eq(d.policy_version, P->policy_version);
}

Test(preflight, breaker_open_skips_a_model)
{
    struct tg_decision d;
    struct tg_err err = {0};
    use("base.yaml");
    request(HI, "t-open", "qa");
    uint8_t open[TG_MAX_MODELS] = {0};
    open[tg_policy_model_index(P, "m-us")] = 1;
    struct tg_breaker_view bv = { open, P->nmodels };
    cr_assert_eq(tg_preflight_decide(P, &R, &bv, S, &A, &d, &err), TG_OK);
    cr_assert_eq(d.verdict, TG_ALLOW);
    cr_assert_eq(d.nroute, 1);
    cr_assert_str_eq(route(&d, 0), "m-eu");
    const struct tg_cand *us = cand(&d, "m-us");
    cr_assert(us->compliant, "an open breaker is not a compliance failure");
    cr_assert_not(us->eligible);
    cr_assert(has_reason(us->reasons, us->nreasons, "breaker"));
    cr_assert_eq(cand(&d, "m-eu")->timeout_ms, 800, "first routed attempt gets the base timeout");

    /* every breaker open: deny with route.empty and breaker */
    open[tg_policy_model_index(P, "m-eu")] = 1;
    tg_request_dispose(&R);
    request(HI, "t-open", "qa");
    cr_assert_eq(tg_preflight_decide(P, &R, &bv, S, &A, &d, &err), TG_OK);
    cr_assert_eq(d.verdict, TG_DENY);
    cr_assert(has_reason(d.reasons, d.nreasons, "route.empty"));
    cr_assert(has_reason(d.reasons, d.nreasons, "breaker"));
}

Test(preflight, no_scratch_means_unscannable)
{
    struct tg_decision d;
    struct tg_err err = {0};
    use("redact.yaml");
    cr_assert_not_null(P->pii, "the case policies use the default PII pack");
    request(HI, "t-open", "code");
    /* no scratch: the text cannot be vouched for, and what was not scanned
     * cannot be redacted either — deny even under on_violation: redact */
    cr_assert_eq(tg_preflight_decide(P, &R, NULL, NULL, &A, &d, &err), TG_OK);
    cr_assert(d.findings.unscannable);
    cr_assert_eq(d.verdict, TG_DENY);
    cr_assert(has_reason(d.reasons, d.nreasons, "pii.unscannable"));
    cr_assert(has_reason(cand(&d, "m-cn")->reasons, cand(&d, "m-cn")->nreasons, "pii.unscannable"));

    /* where PII is allowed everywhere, unscannable text is allowed */
    tg_request_dispose(&R);
    request(HI, "t-open", "qa");
    cr_assert_eq(tg_preflight_decide(P, &R, NULL, NULL, &A, &d, &err), TG_OK);
    cr_assert_eq(d.verdict, TG_ALLOW);
}

Test(preflight, audit_mode_reports_but_routes)
{
    struct tg_decision d;
    struct tg_err err = {0};
    use("audit.yaml");
    request(EMAIL, "t-open", "code");
    cr_assert_eq(tg_preflight_decide(P, &R, NULL, S, &A, &d, &err), TG_OK);
    cr_assert_eq(d.verdict, TG_DENY);
    cr_assert_not(d.enforced);
    cr_assert_eq(d.nroute, 2);
    cr_assert_str_eq(route(&d, 0), "m-cn");
    cr_assert_str_eq(route(&d, 1), "m-us");
    cr_assert(has_reason(d.reasons, d.nreasons, "pii.rule"));
}

Test(preflight, malformed_is_a_deny_with_a_reason)
{
    struct tg_decision d;
    use("base.yaml");
    cr_assert_eq(tg_preflight_malformed(P, "t-open", "f", "qa", "messages must be a non-empty array",
                                        &A, &d), TG_OK);
    cr_assert_eq(d.verdict, TG_DENY);
    cr_assert_eq(d.nroute, 0);
    cr_assert_eq(d.nreasons, 1);
    cr_assert_str_eq(d.reasons[0].rule, "request.malformed");
    cr_assert_not_null(strstr(d.reasons[0].message, "messages must be"));

    /* a request struct without a body is treated the same way */
    struct tg_request empty;
    struct tg_err err = {0};
    memset(&empty, 0, sizeof(empty));
    cr_assert_eq(tg_preflight_decide(P, &empty, NULL, S, &A, &d, &err), TG_OK);
    cr_assert_eq(d.verdict, TG_DENY);
    cr_assert_str_eq(d.reasons[0].rule, "request.malformed");
}

Test(preflight, json_shape_and_no_pii_text)
{
    struct tg_decision d;
    struct tg_err err = {0};
    use("base.yaml");
    request(EMAIL, "t-open", "qa");
    R.feature = "support";
    cr_assert_eq(tg_preflight_decide(P, &R, NULL, S, &A, &d, &err), TG_OK);
    cJSON *j = tg_decision_to_json(P, &d, true);
    cr_assert_not_null(j);
    char *s = cJSON_PrintUnformatted(j);
    cr_assert_null(strstr(s, "alice"), "decision JSON leaks the matched text: %s", s);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "decision")->valuestring, "allow");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "tenant")->valuestring, "t-open");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "feature")->valuestring, "support");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "category")->valuestring, "qa");
    cr_assert(cJSON_IsArray(cJSON_GetObjectItem(j, "export_tags")));
    cJSON *pii = cJSON_GetObjectItem(j, "pii");
    cr_assert_eq(cJSON_GetArraySize(pii), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(pii, 0), "entity")->valuestring,
                     "EMAIL_ADDRESS");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(pii, 0), "count")->valueint, 1);
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "candidates"), 0);
    const char *keys[] = { "model", "provider", "region", "compliant", "eligible",
                           "estimated_cost_usd", "reasons", "redact", "timeout_ms" };
    for (size_t i = 0; i < TG_ARRAY_LEN(keys); i++)
        cr_assert_not_null(cJSON_GetObjectItem(c0, keys[i]), "candidate lacks %s", keys[i]);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "route")), 2);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "policy_version")->valuestring, P->policy_version);
    cJSON *f0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "findings"), 0);
    cr_assert_not_null(f0);
    cr_assert_eq(cJSON_GetObjectItem(f0, "start")->valueint, 5);
    cr_assert_eq(cJSON_GetObjectItem(f0, "end")->valueint, 28);
    cJSON_free(s);
    cJSON_Delete(j);

    /* detail=false drops per-candidate reasons and findings */
    j = tg_decision_to_json(P, &d, false);
    c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "candidates"), 0);
    cr_assert_null(cJSON_GetObjectItem(c0, "reasons"));
    cr_assert_null(cJSON_GetObjectItem(j, "findings"));
    cJSON_Delete(j);
}

/* Fail the n-th arena allocation for every n: the result is TG_OK or a
 * TG_ENOMEM deny, never a crash, a leak or an allow built on half a decision. */
Test(preflight, every_allocation_failure_fails_closed)
{
    struct tg_err err = {0};
    use("base.yaml");
    request(EMAIL, "t-open", "defense");
    cr_assert_eq(tg_request_add_tags(&R, "ear", &A), TG_OK);
    int oom = 0;
    bool done = false;
    for (long n = 1; n < 1000 && !done; n++) {
        struct tg_arena a;
        struct tg_decision d;
        tg_arena_init(&a, 256);
        tg_arena_fail_after(n);
        int rc = tg_preflight_decide(P, &R, NULL, S, &a, &d, &err);
        tg_arena_fail_after(0);
        if (rc == TG_ENOMEM) {
            oom++;
            cr_assert_eq(d.verdict, TG_DENY, "n=%ld: ENOMEM must leave a deny", n);
            cr_assert_eq(d.nroute, 0);
        } else {
            cr_assert_eq(rc, TG_OK, "n=%ld: rc %d", n, rc);
            cr_assert_eq(d.verdict, TG_ALLOW, "n=%ld", n);
            cr_assert_eq(d.nroute, 2, "n=%ld", n);
            done = true;   /* past the last allocation */
        }
        tg_arena_free(&a);
    }
    cr_assert(done, "decision never completed");
    cr_assert_gt(oom, 3, "fault injection never hit the decision's allocations");
}

Test(preflight, verdict_names)
{
    cr_assert_str_eq(tg_verdict_name(TG_ALLOW), "allow");
    cr_assert_str_eq(tg_verdict_name(TG_REDACT), "redact");
    cr_assert_str_eq(tg_verdict_name(TG_DENY), "deny");
}
