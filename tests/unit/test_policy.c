/*
 * test_policy.c — the configuration loader: the seed template, the
 * registry's figures, merge/override, interpolation, defaults, refcount,
 * policy_version, lookups, every validation error class, and allocation
 * failure at every step.
 */
#include "policy/policy.h"
#include "engine/limits.h"
#include "engine/markings.h"

#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAXD 64

struct diags {
    unsigned n, errors, warnings;
    struct { int level; unsigned line, col; char msg[TG_ERR_MSG_MAX]; char file[256]; } d[MAXD];
};

static void
collect(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    struct diags *ds = ud;
    if (level == TG_DIAG_ERROR)
        ds->errors++;
    else
        ds->warnings++;
    if (ds->n >= MAXD)
        return;
    ds->d[ds->n].level = level;
    ds->d[ds->n].line = pos ? pos->line : 0;
    ds->d[ds->n].col = pos ? pos->col : 0;
    snprintf(ds->d[ds->n].msg, sizeof(ds->d[0].msg), "%s", msg);
    snprintf(ds->d[ds->n].file, sizeof(ds->d[0].file), "%s", pos && pos->file ? pos->file : "");
    ds->n++;
}

static void
dump(const struct diags *ds)
{
    for (unsigned i = 0; i < ds->n; i++)
        fprintf(stderr, "  %s:%u:%u: %s: %s\n", ds->d[i].file, ds->d[i].line, ds->d[i].col,
                ds->d[i].level ? "error" : "warning", ds->d[i].msg);
}

/* Load YAML text merged over the shipped registry; packs are checked for
 * existence but not compiled unless `compile`. */
static int
load_text(const char *yaml, struct diags *ds, struct tg_policy **out, bool compile)
{
    struct tg_load_opts o = { .diag = collect, .diag_ud = ds, .skip_compile = !compile };
    struct tg_err err = {0};
    memset(ds, 0, sizeof(*ds));
    return tg_policy_load_buffer("t.yaml", yaml, strlen(yaml), &o, out, &err);
}

static bool
has_diag(const struct diags *ds, int level, unsigned line, unsigned col, const char *frag)
{
    for (unsigned i = 0; i < ds->n; i++)
        if (ds->d[i].level == level && ds->d[i].line == line && (col == 0 || ds->d[i].col == col) &&
            strstr(ds->d[i].msg, frag) != NULL)
            return true;
    return false;
}

static const char *MIN_RULE =
    "  routing_rules:\n"
    "    - category: chat\n"
    "      primary: {provider: openai, model: gpt-4o-mini}\n";

/* ---- the seed ------------------------------------------------------------- */

Test(policy, seed_template_loads_with_glm5_warning)
{
    struct tg_load_opts o = { .diag = collect, .skip_compile = true };
    struct diags ds = {0};
    struct tg_policy *p = NULL;
    struct tg_err err = {0};
    o.diag_ud = &ds;
    int rc = tg_policy_load(TG_DATA_DIR "/rules/examples/seed-template.yaml", &o, &p, &err);
    if (rc != TG_OK)
        dump(&ds);
    cr_assert_eq(rc, TG_OK, "%s", err.msg);
    cr_assert_eq(ds.errors, 0);
    cr_assert_eq(p->nrules, 2);
    cr_assert_str_eq(p->version, "2.1");
    const struct tg_route_rule *r = tg_policy_rule(p, "enterprise_qa");
    cr_assert_not_null(r);
    cr_assert_eq(r->nchain, 2);
    cr_assert_str_eq(p->models[r->chain[0]].id, "gpt-4o");
    cr_assert_str_eq(p->models[r->chain[1]].id, "glm-5");
    cr_assert_float_eq(r->quality_threshold, 92.0, 1e-12);
    cr_assert_float_eq(r->max_cost_per_request, 0.15, 1e-12);
    cr_assert_eq(r->timeout_ms, 1200);
    cr_assert(r->pii_allowed);
    cr_assert_str_eq(p->regions[r->residency].label, "us_eu");
    cr_assert_str_eq(r->quality_metric, "humaneval");
    /* The fallback entry "- provider: zhipu" is line 36, column 11. */
    cr_assert(has_diag(&ds, TG_DIAG_WARNING, 36, 11, "can never be compliant"), "no GLM-5 warning");
    cr_assert(has_diag(&ds, TG_DIAG_WARNING, 36, 11, "'glm-5'"));
    r = tg_policy_rule(p, "code_generation");
    cr_assert_not_null(r);
    cr_assert_str_eq(p->models[r->chain[0]].id, "deepseek-v4-flash");
    cr_assert_str_eq(p->models[r->chain[1]].id, "qwen3-coder");
    cr_assert_eq(r->timeout_ms, 800);
    cr_assert_not(r->pii_allowed);
    cr_assert_eq(p->breaker.failure_threshold, 5);
    cr_assert_eq(p->breaker.recovery_timeout_ms, 30000);
    cr_assert(p->breaker.progressive_timeout);
    cr_assert(p->telemetry.enabled);
    cr_assert_eq(p->telemetry.batch_size, 100);
    cr_assert_eq(strlen(p->policy_version), 64);
    tg_policy_unref(p);
}

/* The full load, with the PII packs and markings compiled. */
Test(policy, seed_template_compiles_packs)
{
    struct tg_load_opts o = { .diag = collect };
    struct diags ds = {0};
    struct tg_policy *p = NULL;
    struct tg_err err = {0};
    o.diag_ud = &ds;
    int rc = tg_policy_load(TG_DATA_DIR "/rules/examples/seed-template.yaml", &o, &p, &err);
    if (rc != TG_OK)
        dump(&ds);
    cr_assert_eq(rc, TG_OK, "%s", err.msg);
    cr_assert_not_null(p->pii);
    cr_assert_not_null(p->markings);
    cr_assert_eq(p->npii_packs, 1);
    tg_policy_unref(p);
}

/* ---- registry figures, exactly as the seeds give them ---------------------- */

struct fig {
    const char *id, *provider;
    double in, out;
    double humaneval, mmlu, ceval;
    uint32_t ctx;
    double latency, tps;
    int vision;   /* -1 = not given */
};

Test(policy, registry_figures_exact)
{
    static const struct fig figs[] = {
        { "gpt-4o", "openai", 2.50, 10.00, 92.5, 88.7, 88.5, 128000, 680, 50, 1 },
        { "claude-3.5-sonnet", "anthropic", 3.00, 15.00, 93.0, 89.0, NAN, 0, NAN, NAN, -1 },
        { "gemini-1.5-pro", "google", 1.25, 5.00, NAN, NAN, NAN, 0, NAN, NAN, -1 },
        { "gpt-4o-mini", "openai", 0.15, 0.60, NAN, NAN, NAN, 0, NAN, NAN, -1 },
        { "deepseek-v4-flash", "deepseek", 0.18, 0.25, 92.0, 85.5, 88.0, 128000, 450, 60, 0 },
        { "qwen3-32b", "qwen", 0.18, 0.28, NAN, NAN, 89.0, 0, NAN, NAN, -1 },
        { "glm-5", "zhipu", 0.73, 1.92, NAN, 86.0, 91.0, 128000, 590, NAN, -1 },
        { "kimi-k2.5", "moonshot", 0.59, 3.00, NAN, 87.0, 90.5, 0, NAN, NAN, -1 },
        { "qwen3-coder", "qwen", 0.18, 0.35, 91.5, NAN, NAN, 131072, 520, NAN, -1 },
        { "deepseek-coder", "deepseek", NAN, 0.25, 91.0, NAN, NAN, 0, NAN, NAN, -1 },
        { "qwen3.5-397b", "qwen", NAN, 2.34, NAN, 87.5, NAN, 0, NAN, NAN, -1 },
    };
    struct diags ds;
    struct tg_policy *p = NULL;
    cr_assert_eq(load_text("orchestration:\n  version: '1'\n", &ds, &p, false), TG_OK);
    cr_assert_eq(p->nmodels, TG_ARRAY_LEN(figs));
#define SAME(a, b) ((isnan(a) && isnan(b)) || (a) == (b))
    for (size_t i = 0; i < TG_ARRAY_LEN(figs); i++) {
        const struct fig *f = &figs[i];
        int32_t mi = tg_policy_model_index(p, f->id);
        cr_assert_geq(mi, 0, "model %s missing", f->id);
        const struct tg_model *m = &p->models[mi];
        cr_assert_str_eq(p->providers[m->provider].id, f->provider, "%s", f->id);
        cr_assert(SAME(m->input_per_m, f->in), "%s input %g", f->id, m->input_per_m);
        cr_assert(SAME(m->output_per_m, f->out), "%s output %g", f->id, m->output_per_m);
        cr_assert(SAME(tg_model_score(m, "humaneval"), f->humaneval), "%s humaneval", f->id);
        cr_assert(SAME(tg_model_score(m, "mmlu"), f->mmlu), "%s mmlu", f->id);
        cr_assert(SAME(tg_model_score(m, "ceval"), f->ceval), "%s ceval", f->id);
        cr_assert_eq(m->max_context, f->ctx, "%s ctx", f->id);
        cr_assert(SAME(m->latency_ms, f->latency), "%s latency", f->id);
        cr_assert(SAME(m->tokens_per_s, f->tps), "%s tps", f->id);
        if (f->vision >= 0)
            cr_assert_eq(m->vision, f->vision == 1, "%s vision", f->id);
    }
#undef SAME
    static const struct { const char *id, *region, *jur; } provs[] = {
        { "openai", "us", "US" }, { "anthropic", "us", "US" }, { "google", "us", "US" },
        { "deepseek", "cn", "CN" }, { "qwen", "cn", "CN" }, { "zhipu", "cn", "CN" },
        { "moonshot", "cn", "CN" },
    };
    cr_assert_eq(p->nproviders, TG_ARRAY_LEN(provs));
    for (size_t i = 0; i < TG_ARRAY_LEN(provs); i++) {
        const struct tg_provider *pv = &p->providers[i];
        cr_assert_str_eq(pv->id, provs[i].id);
        cr_assert_str_eq(pv->region, provs[i].region, "%s", pv->id);
        cr_assert_str_eq(pv->jurisdiction, provs[i].jur, "%s", pv->id);
        cr_assert_not(pv->pii_allowed, "%s: a DPA is the customer's to declare", pv->id);
        cr_assert(strncmp(pv->base_url, "https://", 8) == 0, "%s", pv->id);
    }
    cr_assert_eq(p->providers[1].adapter, TG_ADAPTER_ANTHROPIC);
    /* Regions. */
    int32_t g = tg_policy_region_index(p, "global"), ue = tg_policy_region_index(p, "us_eu");
    cr_assert_geq(g, 0);
    cr_assert_geq(ue, 0);
    cr_assert(tg_policy_region_admits(p, g, "cn"));
    cr_assert(tg_policy_region_admits(p, g, "sg"));
    cr_assert(tg_policy_region_admits(p, ue, "eu"));
    cr_assert_not(tg_policy_region_admits(p, ue, "cn"));
    cr_assert(tg_policy_region_admits(p, -1, "cn"), "no label = no restriction");
    cr_assert_eq(tg_policy_region_index(p, "nope"), -1);
    tg_policy_unref(p);
}

/* ---- merge ---------------------------------------------------------------- */

Test(policy, config_overrides_and_extends_registry)
{
    struct diags ds;
    struct tg_policy *p = NULL;
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "orchestration:\n"
             "  providers:\n"
             "    openai: {adapter: openai, base_url: 'http://127.0.0.1:1/v1', region: eu, jurisdiction: US, pii_allowed: true}\n"
             "    mine: {adapter: echo, region: eu, jurisdiction: DE}\n"
             "  models:\n"
             "    gpt-4o: {provider: openai, pricing: {input_per_m: 1, output_per_m: 2}}\n"
             "    my-echo: {provider: mine, max_context: 4096}\n"
             "  regions:\n"
             "    eu: [eu, ch]\n"
             "    moon: [moon]\n%s", MIN_RULE);
    int rc = load_text(yaml, &ds, &p, false);
    if (rc != TG_OK)
        dump(&ds);
    cr_assert_eq(rc, TG_OK);
    cr_assert_eq(p->nproviders, 8);
    cr_assert_str_eq(p->providers[0].id, "openai", "override keeps the registry's slot");
    cr_assert(p->providers[0].pii_allowed);
    cr_assert_str_eq(p->providers[0].region, "eu");
    cr_assert_str_eq(p->providers[7].id, "mine");
    cr_assert_eq(p->providers[7].adapter, TG_ADAPTER_ECHO);
    cr_assert_str_eq(p->providers[7].base_url, "");
    int32_t mi = tg_policy_model_index(p, "gpt-4o");
    cr_assert_eq(mi, 0);
    /* Override = the whole entry is replaced: no scores, no context now. */
    cr_assert_float_eq(p->models[mi].input_per_m, 1.0, 1e-12);
    cr_assert(isnan(tg_model_score(&p->models[mi], "humaneval")));
    cr_assert_eq(p->models[mi].max_context, 0);
    cr_assert_str_eq(p->models[mi].upstream, "gpt-4o", "upstream defaults to the id");
    mi = tg_policy_model_index(p, "my-echo");
    cr_assert_eq(mi, 11);
    cr_assert_str_eq(p->providers[p->models[mi].provider].id, "mine");
    cr_assert(isnan(p->models[mi].input_per_m), "no price given = unknown, not 0");
    int32_t eu = tg_policy_region_index(p, "eu");
    cr_assert(tg_policy_region_admits(p, eu, "ch"));
    cr_assert_geq(tg_policy_region_index(p, "moon"), 0);
    tg_policy_unref(p);
}

/* ---- interpolation -------------------------------------------------------- */

Test(policy, env_interpolation)
{
    struct diags ds;
    struct tg_policy *p = NULL;
    char yaml[2048];
    setenv("TG_T_KEY", "k-123", 1);
    setenv("TG_T_EMPTY", "", 1);
    unsetenv("TG_T_UNSET");
    snprintf(yaml, sizeof(yaml),
             "orchestration:\n"
             "  version: \"v-${TG_T_KEY}-x\"\n"
             "  providers:\n"
             "    a: {base_url: 'http://h/${TG_T_UNSET:-def}/v1', api_key: '${TG_T_KEY}', region: us, jurisdiction: US}\n"
             "    b: {base_url: 'http://h', api_key: '${TG_T_UNSET}', region: us, jurisdiction: US}\n"
             "    c: {base_url: 'http://h/$${LITERAL}', api_key: '${TG_T_EMPTY:-fallback}', region: us, jurisdiction: US}\n"
             "  server:\n    threads: ${TG_T_UNSET:-3}\n"
             "  circuit_breaker: {failure_threshold: '${TG_T_UNSET:-7}', progressive_timeout: \"${TG_T_UNSET:-false}\"}\n%s",
             MIN_RULE);
    int rc = load_text(yaml, &ds, &p, false);
    if (rc != TG_OK)
        dump(&ds);
    cr_assert_eq(rc, TG_OK);
    cr_assert_str_eq(p->version, "v-k-123-x");
    const struct tg_provider *a = &p->providers[7], *b = &p->providers[8], *c = &p->providers[9];
    cr_assert_str_eq(a->id, "a");
    cr_assert_str_eq(a->base_url, "http://h/def/v1");
    cr_assert_str_eq(a->api_key, "k-123");
    cr_assert_str_eq(b->api_key, "", "unset without default = empty");
    cr_assert_str_eq(c->base_url, "http://h/${LITERAL}");
    cr_assert_str_eq(c->api_key, "fallback", ":- also applies to empty values");
    cr_assert_eq(p->server.threads, 3);
    cr_assert_eq(p->breaker.failure_threshold, 7, "quoted ${...} is typed by its value");
    cr_assert_not(p->breaker.progressive_timeout);
    tg_policy_unref(p);
}

Test(policy, interpolated_values_never_shown)
{
    struct diags ds;
    struct tg_policy *p = NULL;
    char yaml[1024];
    setenv("TG_T_SECRET", "hunter2-secret", 1);
    snprintf(yaml, sizeof(yaml),
             "orchestration:\n"
             "  circuit_breaker: {failure_threshold: '${TG_T_SECRET}'}\n"
             "  policy: {mode: '${TG_T_SECRET}'}\n"
             "  providers:\n"
             "    x: {base_url: 'http://h', api_key: '${TG_T_SECRET', region: us, jurisdiction: US}\n%s",
             MIN_RULE);
    cr_assert_eq(load_text(yaml, &ds, &p, false), TG_EPOLICY);
    cr_assert_geq(ds.errors, 3);
    for (unsigned i = 0; i < ds.n; i++)
        cr_assert_null(strstr(ds.d[i].msg, "hunter2"), "secret printed: %s", ds.d[i].msg);
    cr_assert(has_diag(&ds, TG_DIAG_ERROR, 5, 0, "missing '}'"));
}

/* ---- defaults --------------------------------------------------------------- */

Test(policy, defaults)
{
    struct diags ds;
    struct tg_policy *p = NULL;
    char yaml[512];
    snprintf(yaml, sizeof(yaml), "orchestration:\n%s", MIN_RULE);
    cr_assert_eq(load_text(yaml, &ds, &p, false), TG_OK);
    const struct tg_route_rule *r = tg_policy_rule(p, "chat");
    cr_assert_str_eq(r->quality_metric, "humaneval");
    cr_assert(isnan(r->quality_threshold));
    cr_assert(isinf(r->max_cost_per_request));
    cr_assert_not(r->pii_allowed, "fail closed");
    cr_assert_not(r->export_controlled);
    cr_assert_str_eq(p->regions[r->residency].label, "global");
    cr_assert_eq(p->mode, TG_MODE_ENFORCE);
    cr_assert_eq(p->npii_packs, 1);
    cr_assert_not_null(strstr(p->pii_packs[0], "rules/pii/default.yaml"));
    cr_assert_float_eq(p->pii_min_score, 0.5, 1e-12);
    cr_assert_eq(p->pii_action, TG_PII_ACTION_DENY);
    cr_assert_not(p->deny_secrets);
    cr_assert_str_eq(p->export_header, "X-Export-Control");
    cr_assert_eq(p->default_output_tokens, 1024);
    cr_assert_eq(p->breaker.failure_threshold, 5);
    cr_assert_eq(p->breaker.recovery_timeout_ms, 30000);
    cr_assert(p->breaker.progressive_timeout);
    cr_assert_eq(p->audit.fsync, TG_FSYNC_BATCH);
    cr_assert_eq(p->audit.sign, TG_SIGN_SEAL);
    cr_assert_eq(p->audit.seal_every, 1000);
    cr_assert_eq(p->audit.seal_interval_ms, 1000);
    cr_assert_eq(p->audit.queue_depth, 65536);
    cr_assert_null(p->audit.path);
    cr_assert(p->capture.redact);
    cr_assert_float_eq(p->capture.sample, 1.0, 1e-12);
    cr_assert_null(p->capture.path);
    cr_assert_str_eq(p->server.listen, "127.0.0.1:8080");
    cr_assert_eq(p->server.max_body_bytes, TG_MAX_BODY_BYTES);
    cr_assert_eq(p->server.header_timeout_ms, 10000);
    cr_assert_eq(p->server.idle_timeout_ms, 60000);
    /* Default export tags. */
    const struct tg_export_tag *itar = tg_policy_export_tag(p, "ITAR"), *ear = tg_policy_export_tag(p, "ear");
    cr_assert_not_null(itar);
    cr_assert_not_null(ear);
    cr_assert(itar->has_allow);
    cr_assert_eq(itar->nallow, 1);
    cr_assert_str_eq(itar->allow[0], "US");
    cr_assert_not(ear->has_allow);
    cr_assert_eq(ear->ndeny, 6);
    tg_policy_unref(p);
}

/* ---- refcount, lookups ------------------------------------------------------ */

Test(policy, refcount_and_lookups)
{
    struct diags ds;
    struct tg_policy *p = NULL;
    uint8_t key[32];
    const char *yaml =
        "orchestration:\n"
        "  routing_rules:\n"
        "    - category: chat\n"
        "      primary: {provider: openai, model: gpt-4o-mini}\n"
        "  tenants:\n"
        "    - id: acme\n"
        "      api_key_sha256: 0acc129edf9d897cd6b9a386a18ebb5a0fd5834ec7fafad5a602c0805decea08\n"
        "      data_residency: us_eu\n"
        "      export_tags: [ITAR]\n"
        "      categories: [chat]\n"
        "      max_cost_per_request: 0.1\n"
        "      requests_per_minute: 60\n"
        "    - id: other\n";
    cr_assert_eq(load_text(yaml, &ds, &p, false), TG_OK);
    cr_assert_eq(atomic_load(&p->refs), 1);
    cr_assert_eq(tg_policy_ref(p), p);
    cr_assert_eq(atomic_load(&p->refs), 2);
    tg_policy_unref(p);
    cr_assert_eq(atomic_load(&p->refs), 1);

    for (int i = 0; i < 32; i++) {
        static const char hex[] = "0acc129edf9d897cd6b9a386a18ebb5a0fd5834ec7fafad5a602c0805decea08";
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        key[i] = (uint8_t)v;
    }
    const struct tg_tenant *t = tg_policy_tenant_by_key(p, key);
    cr_assert_not_null(t);
    cr_assert_str_eq(t->id, "acme");
    cr_assert_eq(t, tg_policy_tenant(p, "acme"));
    cr_assert_eq(t->nexport_tags, 1);
    cr_assert_str_eq(t->export_tags[0], "itar");
    cr_assert_eq(t->ncategories, 1);
    cr_assert_eq(t->requests_per_minute, 60);
    cr_assert(t->pii_allowed, "tenants add no PII restriction by default");
    cr_assert_str_eq(p->regions[t->residency].label, "us_eu");
    const struct tg_tenant *o = tg_policy_tenant(p, "other");
    cr_assert_eq(o->residency, -1);
    cr_assert_not(o->has_key);
    key[31] ^= 1;
    cr_assert_null(tg_policy_tenant_by_key(p, key));
    cr_assert_null(tg_policy_tenant(p, "nobody"));
    cr_assert_null(tg_policy_rule(p, "nothing"));
    cr_assert_null(tg_policy_export_tag(p, "nope"));
    cr_assert_eq(tg_policy_model_index(p, "nope"), -1);
    tg_policy_unref(p);
}

Test(policy, resolve_path_and_data_dir)
{
    struct tg_arena a;
    tg_arena_init(&a, 0);
    cr_assert_str_eq(tg_policy_resolve_path(&a, "/x/y.yaml", "/abs/p.yaml"), "/abs/p.yaml");
    /* Not next to the config -> under the data dir. */
    char *r = tg_policy_resolve_path(&a, "/nonexistent/c.yaml", "rules/registry.yaml");
    cr_assert_str_eq(r, TG_DATA_DIR "/rules/registry.yaml");
    /* Next to the config wins when it exists. */
    r = tg_policy_resolve_path(&a, TG_DATA_DIR "/rules/examples/full.yaml", "seed-template.yaml");
    cr_assert_str_eq(r, TG_DATA_DIR "/rules/examples/seed-template.yaml");
    setenv("TOLLGATE_HOME", "/opt/tg", 1);
    cr_assert_str_eq(tg_data_dir(), "/opt/tg");
    unsetenv("TOLLGATE_HOME");
    cr_assert_str_eq(tg_data_dir(), TG_DATA_DIR);
    tg_arena_free(&a);
}

/* ---- policy_version ---------------------------------------------------------- */

static void
version_of(const char *yaml, char out[65])
{
    struct diags ds;
    struct tg_policy *p = NULL;
    int rc = load_text(yaml, &ds, &p, false);
    if (rc != TG_OK)
        dump(&ds);
    cr_assert_eq(rc, TG_OK);
    memcpy(out, p->policy_version, 65);
    tg_policy_unref(p);
}

Test(policy, policy_version_is_semantic)
{
    char v1[65], v2[65], v3[65], v4[65], v5[65], v6[65];
    const char *base =
        "orchestration:\n"
        "  routing_rules:\n"
        "    - category: chat\n"
        "      primary: {provider: openai, model: gpt-4o-mini}\n"
        "      constraints: {max_cost_per_request: 0.05}\n";
    version_of(base, v1);
    version_of(base, v2);
    cr_assert_str_eq(v1, v2, "same config, same hash");
    /* Layout and comments are not semantics. */
    version_of("# comment\norchestration:\n  routing_rules:\n  - category: chat\n"
               "    primary:\n      provider: openai\n      model: gpt-4o-mini\n"
               "    constraints:\n      max_cost_per_request: 0.050\n", v3);
    cr_assert_str_eq(v1, v3);
    /* A different ceiling is a different policy. */
    version_of("orchestration:\n  routing_rules:\n    - category: chat\n"
               "      primary: {provider: openai, model: gpt-4o-mini}\n"
               "      constraints: {max_cost_per_request: 0.06}\n", v4);
    cr_assert_str_neq(v1, v4);
    /* A default made explicit is the same effective policy. */
    version_of("orchestration:\n  policy: {mode: enforce}\n  routing_rules:\n    - category: chat\n"
               "      primary: {provider: openai, model: gpt-4o-mini}\n"
               "      constraints: {max_cost_per_request: 0.05}\n", v5);
    cr_assert_str_eq(v1, v5);
    /* A rotated API key changes it (hashed, never included raw). */
    setenv("OPENAI_API_KEY", "sk-rotated", 1);
    version_of(base, v6);
    unsetenv("OPENAI_API_KEY");
    cr_assert_str_neq(v1, v6);
}

/* ---- validation errors, one per class ---------------------------------------- */

struct ecase {
    const char *yaml;
    unsigned line, col;
    const char *frag;
};

Test(policy, validation_error_classes)
{
    static const struct ecase cases[] = {
        { "orchestration:\n  telemetry: {enabeld: true}\n", 2, 15, "unknown key 'enabeld' (did you mean 'enabled'?)" },
        { "orchestration:\n  bogus: 1\n", 2, 3, "unknown key 'bogus'" },
        { "orchestration:\n  server: {threads: many}\n", 2, 21, "must be a non-negative integer" },
        { "orchestration:\n  server: {threads: -1}\n", 2, 21, "must not be negative" },
        { "orchestration:\n  server: {threads: 5000}\n", 2, 21, "<= 1024" },
        { "orchestration:\n  server: {listen: localhost}\n", 2, 20, "HOST:PORT" },
        { "orchestration:\n  server: {max_body_bytes: 999999999}\n", 2, 28, "<= 4194304" },
        { "orchestration:\n  audit: {fsync: sometimes}\n", 2, 18, "invalid value 'sometimes' for 'fsync'" },
        { "orchestration:\n  audit: {sign: never}\n", 2, 17, "invalid value 'never' for 'sign'" },
        { "orchestration:\n  audit: {seal_every: 0}\n", 2, 23, ">= 1" },
        { "orchestration:\n  capture: {sample: -0.1}\n", 2, 21, "must not be negative" },
        { "orchestration:\n  capture: {redact: '1'}\n", 2, 21, "true or false" },
        { "orchestration:\n  policy: {pii: {min_score: 2}}\n", 2, 29, "<= 1" },
        { "orchestration:\n  policy: {pii: {packs: nope.yaml}}\n", 2, 25, "must be a list" },
        { "orchestration:\n  policy: {pii: {packs: [missing.yaml]}}\n", 2, 26, "PII pack not found: missing.yaml" },
        { "orchestration:\n  policy: {export_control: {markings: none.yaml}}\n", 2, 39, "export markings file not found" },
        { "orchestration:\n  policy: {default_output_tokens: 0}\n", 2, 35, ">= 1" },
        { "orchestration:\n  circuit_breaker: {recovery_timeout_ms: 0}\n", 2, 42, "> 0" },
        { "orchestration:\n  regions: {x: us}\n", 2, 16, "'x' must be a list" },
        { "orchestration:\n  models: {m: {provider: ghost}}\n", 2, 26, "unknown provider 'ghost'" },
        { "orchestration:\n  models: {m: {provider: openai, pricing: {input_per_m: -2}}}\n", 2, 57, "must not be negative" },
        { "orchestration:\n  models: {m: {provider: openai, scores: {mmlu: high}}}\n", 2, 49, "must be a number" },
        { "orchestration:\n  models: {m: {provider: openai, max_context: 0}}\n", 2, 47, ">= 1" },
        { "orchestration:\n  providers: {p: {region: us, jurisdiction: US}}\n", 2, 18, "needs a base_url" },
        { "orchestration:\n  providers: {p: {base_url: x, region: us}}\n", 2, 18, "missing required key 'jurisdiction'" },
        { "orchestration:\n  providers: {p: {base_url: x, region: us, jurisdiction: usa}}\n", 2, 58, "alpha-2" },
        { "orchestration:\n  providers: {p: {adapter: grpc, base_url: x, region: us, jurisdiction: US}}\n", 2, 28, "invalid value 'grpc' for 'adapter'" },
        { "orchestration:\n  routing_rules:\n    - category: c\n      primary: {provider: openai, model: gpt4o}\n", 4, 42, "unknown model 'gpt4o' (did you mean 'gpt-4o'?)" },
        { "orchestration:\n  routing_rules:\n    - category: c\n      primary: {provider: anthropic, model: gpt-4o}\n", 4, 45, "belongs to provider 'openai', not 'anthropic'" },
        { "orchestration:\n  routing_rules:\n    - category: c\n      primary: {provider: openai, model: gpt-4o}\n      compliance: {data_residency: mars}\n", 5, 36, "unknown data_residency region label 'mars'" },
        { "orchestration:\n  routing_rules:\n    - category: c\n      primary: {provider: openai, model: gpt-4o}\n    - category: c\n      primary: {provider: openai, model: gpt-4o}\n", 5, 17, "duplicate category 'c'" },
        { "orchestration:\n  routing_rules:\n    - category: c\n      primary: {provider: openai, model: gpt-4o}\n      fallback: {provider: openai}\n", 5, 17, "'fallback' must be a list" },
        { "orchestration:\n  routing_rules:\n    - category: c\n      primary: {provider: openai, model: gpt-4o}\n      constraints: {quality_threshold: 100.5}\n", 5, 40, "<= 100" },
        { "orchestration:\n  routing_rules:\n    - category: c\n      primary: {provider: openai, model: gpt-4o}\n      constraints: {deadline_ms: 0}\n", 5, 34, "> 0" },
        { "orchestration:\n  tenants:\n    - {id: t, data_residency: atlantis}\n", 3, 31, "unknown data_residency region label 'atlantis'" },
        { "orchestration:\n  tenants:\n    - {id: t, api_key_sha256: abc}\n", 3, 31, "64 hex digits" },
        { "orchestration:\n  tenants:\n    - {id: t, export_tags: [earr]}\n", 3, 29, "unknown export tag 'earr' (did you mean 'ear'?)" },
        { "orchestration:\n  tenants:\n    - {id: t}\n    - {id: t}\n", 4, 12, "duplicate tenant id 't'" },
        { "orchestration:\n  tenants:\n    - {id: t, max_cost_per_request: -1}\n", 3, 37, "must not be negative" },
        { "orchestration:\n  policy: {export_control: {tags: {x: {allow_jurisdictions: US}}}}\n", 2, 61, "must be a list" },
        { "orchestration: [1, 2]\n", 1, 16, "expected a mapping" },
        { "other: 1\n", 1, 1, "missing required key 'orchestration'" },
        { "", 1, 1, "empty file" },
        { "orchestration:\n  version: &a x\n  telemetry: *a\n", 3, 14, "aliases are not supported" },
        { "orchestration: {}\n---\norchestration: {}\n", 2, 1, "only one YAML document" },
        { "orchestration:\n  version: \"2.1\n", 3, 1, "YAML syntax error" },
    };
    for (size_t i = 0; i < TG_ARRAY_LEN(cases); i++) {
        const struct ecase *c = &cases[i];
        struct diags ds;
        struct tg_policy *p = NULL;
        char yaml[1024];
        /* Add a valid rule where the case has none, so only its error shows. */
        snprintf(yaml, sizeof(yaml), "%s", c->yaml);
        int rc = load_text(yaml, &ds, &p, false);
        if (rc == TG_OK || !has_diag(&ds, TG_DIAG_ERROR, c->line, c->col, c->frag)) {
            fprintf(stderr, "case %zu:\n%s\n", i, c->yaml);
            dump(&ds);
        }
        cr_expect_eq(rc, TG_EPOLICY, "case %zu loaded", i);
        cr_expect(has_diag(&ds, TG_DIAG_ERROR, c->line, c->col, c->frag),
                  "case %zu: no error %u:%u '%s'", i, c->line, c->col, c->frag);
        if (rc == TG_OK)
            tg_policy_unref(p);
        else
            cr_expect_null(p);
    }
}

/* ---- warnings ------------------------------------------------------------------ */

Test(policy, static_warnings)
{
    struct diags ds;
    struct tg_policy *p = NULL;
    const char *yaml =
        "orchestration:\n"
        "  routing_rules:\n"
        "    - category: qa\n"                                                    /* 3 */
        "      primary: {provider: anthropic, model: claude-3.5-sonnet}\n"
        "      fallback:\n"
        "        - {provider: deepseek, model: deepseek-v4-flash}\n"              /* 6 */
        "        - {provider: deepseek, model: deepseek-coder}\n"                 /* 7 */
        "      constraints: {quality_threshold: 93.5, max_cost_per_request: 0.1}\n"  /* 8 */
        "      compliance: {data_residency: us, pii_allowed: true, export_controlled: true}\n"
        "  policy:\n"
        "    export_control:\n"
        "      tags:\n"
        "        itar: {allow_jurisdictions: [US]}\n"
        "        empty: {}\n";                                                   /* 14 */
    int rc = load_text(yaml, &ds, &p, false);
    if (rc != TG_OK)
        dump(&ds);
    cr_assert_eq(rc, TG_OK);
    cr_assert(has_diag(&ds, TG_DIAG_WARNING, 6, 11, "can never be compliant"));
    cr_assert(has_diag(&ds, TG_DIAG_WARNING, 7, 11, "can never be compliant"));
    cr_assert(has_diag(&ds, TG_DIAG_WARNING, 4, 16, "below quality_threshold 93.5"));
    cr_assert(has_diag(&ds, TG_DIAG_WARNING, 8, 40, "no candidate meets quality_threshold 93.5"));
    cr_assert(has_diag(&ds, TG_DIAG_WARNING, 7, 11, "no input price"));
    cr_assert(has_diag(&ds, TG_DIAG_WARNING, 3, 7, "allows PII but no candidate's provider"));
    cr_assert(has_diag(&ds, TG_DIAG_WARNING, 14, 9, "restricts nothing"));
    /* Diagnostics arrive in file order. */
    for (unsigned i = 1; i < ds.n; i++)
        cr_assert(ds.d[i - 1].line < ds.d[i].line ||
                  (ds.d[i - 1].line == ds.d[i].line && ds.d[i - 1].col <= ds.d[i].col),
                  "out of order at %u", i);
    tg_policy_unref(p);
}

/* ---- allocation failure at every step ---------------------------------------- */

Test(policy, fault_injection_every_allocation)
{
    const char *yaml = NULL;
    char *buf = NULL;
    FILE *f = fopen(TG_DATA_DIR "/rules/examples/full.yaml", "rb");
    cr_assert_not_null(f);
    buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    fclose(f);
    buf[n] = '\0';
    yaml = buf;
    int ok_at = -1;
    for (long k = 1; k < 20000; k++) {
        struct diags ds;
        struct tg_policy *p = NULL;
        tg_arena_fail_after(k);
        int rc = load_text(yaml, &ds, &p, false);
        tg_arena_fail_after(0);
        if (rc == TG_OK) {
            tg_policy_unref(p);
            ok_at = (int)k;
            break;
        }
        cr_assert_eq(rc, TG_ENOMEM, "allocation %ld failed with %d, not ENOMEM", k, rc);
        cr_assert_null(p);
    }
    cr_assert_gt(ok_at, 10, "never succeeded or too few allocations");
    free(buf);
}

/* Export markings fail closed: a marking whose pattern hits a PCRE2 limit
 * on a text counts as present there, so no text hides a marking by
 * defeating the matcher; one that simply does not occur is absent. */
Test(markings, found_absent_and_limit_fails_closed)
{
    const struct tg_marking_spec specs[] = {
        { .id = "itar", .tag = "ITAR", .pattern = "\\bITAR\\b" },
        { .id = "slow", .tag = "slow", .pattern = "^(a+)+[bc]" },
    };
    struct tg_markings *m = NULL;
    struct tg_err err = { 0 };
    const char *tags[4];
    char text[64];

    cr_assert_eq(tg_markings_build(specs, 2, &m, &err), TG_OK, "%s", err.msg);
    cr_expect_eq(tg_markings_scan(m, "plain text", 10, tags, 0, 4), 0);
    cr_expect_eq(tg_markings_scan(m, "an itar item", 12, tags, 0, 4), 1);
    cr_expect_str_eq(tags[0], "itar");
    cr_expect_eq(tg_markings_scan(m, "aab", 3, tags, 0, 4), 1);
    cr_expect_str_eq(tags[0], "slow");
    /* 40 a's and no b: (a+)+ backtracks past the match limit */
    memset(text, 'a', 40);
    text[40] = '!';
    cr_expect_eq(tg_markings_scan(m, text, 41, tags, 0, 4), 1, "the limit counts as a match");
    cr_expect_str_eq(tags[0], "slow");
    tg_markings_free(m);
}
