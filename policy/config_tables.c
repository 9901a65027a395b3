/*
 * config_tables.c — what each configuration key may hold: the schema tables
 * the generic walker (schema.c) reads, the handlers for shapes a table
 * cannot say (maps of providers, models, rules, tenants, tags, allow
 * lists), the export-markings file's table, and the value checks (listen
 * addresses, TLS files, proxies, jurisdictions).  docs/interface.md §2.
 */
#include "policy/config_int.h"
#include "policy/pii_pack.h"
#include "engine/limits.h"
#include "engine/markings.h"
#include "engine/pii.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#define NOOFF TG__NOOFF
#define OFF(t, m) offsetof(t, m)

static const char *const adapter_names[] = { "openai", "anthropic", "echo", NULL };
static const char *const model_kind_names[] = { "chat", "embedding", NULL };
static const char *const mode_names[]    = { "enforce", "audit", NULL };
static const char *const action_names[]  = { "deny", "redact", NULL };
static const char *const transport_names[] = { "auto", "curl", NULL };
static const char *const fsync_names[]   = { "batch", "always", "never", NULL };
static const char *const sign_names[]    = { "seal", "each", NULL };
static const char *const role_names[]    = { "not_personal", "personal", NULL };
static const char *const resp_names[]    = { "pass", "redact", "deny", NULL };  /* enum tg_resp_action */

/* Field constructors keep the tables one line per key. */
#define F_STR(k, t, m, fl, d)   { k, TG__F_STR, OFF(t, m), 0, NOOFF, 0, 0, d, NULL, NULL, NULL, fl }
#define F_STRV(k, t, m, fl, d, fn) { k, TG__F_STR, OFF(t, m), 0, NOOFF, 0, 0, d, NULL, NULL, fn, fl }
#define F_REF(k, t, m, fl, d)   { k, TG__F_REF, OFF(t, m), 0, NOOFF, 0, 0, d, NULL, NULL, NULL, fl }
#define F_BOOL(k, t, m, d)      { k, TG__F_BOOL, OFF(t, m), 0, NOOFF, 0, 0, d, NULL, NULL, NULL, 0 }
#define F_BOOLP(k, t, m, p, d)  { k, TG__F_BOOL, OFF(t, m), 0, OFF(t, p), 0, 0, d, NULL, NULL, NULL, 0 }
#define F_U32(k, t, m, lo, hi, fl, d) { k, TG__F_U32, OFF(t, m), 0, NOOFF, lo, hi, d, NULL, NULL, NULL, fl }
#define F_U32P(k, t, m, p, lo, hi, fl, d) { k, TG__F_U32, OFF(t, m), 0, OFF(t, p), lo, hi, d, NULL, NULL, NULL, fl }
#define F_U64(k, t, m, lo, hi, fl, d) { k, TG__F_U64, OFF(t, m), 0, NOOFF, lo, hi, d, NULL, NULL, NULL, fl }
#define F_DBL(k, t, m, lo, hi, fl, d) { k, TG__F_DBL, OFF(t, m), 0, NOOFF, lo, hi, d, NULL, NULL, NULL, fl }
#define F_DBLP(k, t, m, p, lo, hi, fl, d) { k, TG__F_DBL, OFF(t, m), 0, OFF(t, p), lo, hi, d, NULL, NULL, NULL, fl }
#define F_ENUM(k, t, m, names, d) { k, TG__F_ENUM, OFF(t, m), 0, NOOFF, 0, 0, d, names, NULL, NULL, 0 }
#define F_STRL(k, t, m, c, d)   { k, TG__F_STRLIST, OFF(t, m), OFF(t, c), NOOFF, 0, 0, d, NULL, NULL, NULL, 0 }
#define F_STRLP(k, t, m, c, p)  { k, TG__F_STRLIST, OFF(t, m), OFF(t, c), OFF(t, p), 0, 0, NULL, NULL, NULL, NULL, 0 }
#define F_REFL(k, t, m, c, d)   { k, TG__F_REFLIST, OFF(t, m), OFF(t, c), NOOFF, 0, 0, d, NULL, NULL, NULL, 0 }
#define F_MAP(k, t, m, sub, fl) { k, TG__F_MAP, OFF(t, m), 0, NOOFF, 0, 0, NULL, NULL, sub, NULL, fl }
#define F_MAPP(k, t, m, p, sub, fl) { k, TG__F_MAP, OFF(t, m), 0, OFF(t, p), 0, 0, NULL, NULL, sub, NULL, fl }
#define F_FN(k, fn, fl)         { k, TG__F_CUSTOM, 0, 0, NOOFF, 0, 0, NULL, NULL, NULL, fn, fl }
#define F_END                   { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }

#define INF INFINITY
#define U32MAX 4294967295.0

/* ---- tables --------------------------------------------------------------- */

static const struct tg__field telemetry_tab[] = {
    F_BOOL("enabled", struct tg_telemetry_cfg, enabled, "false"),
    F_STR("endpoint", struct tg_telemetry_cfg, endpoint, 0, NULL),
    F_U32("batch_size", struct tg_telemetry_cfg, batch_size, 1, 1000000, 0, "100"),
    F_U32("flush_interval_ms", struct tg_telemetry_cfg, flush_interval_ms, 0, U32MAX, TG__GT, "5000"),
    F_END
};

static bool valid_listen(const char *s);
static int v_jurisdiction(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int v_listen(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int v_nonempty(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int v_proxy(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int v_ca_bundle(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int v_tls_cert(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int v_tls_key(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int v_tls_ca(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int v_tls_version(struct tg__ld *ld, const struct tg__ynode *v, void *obj);

static const struct tg__field provider_tab[] = {
    F_ENUM("adapter", struct tg_provider, adapter, adapter_names, "openai"),
    F_STR("base_url", struct tg_provider, base_url, 0, NULL),
    F_STR("api_key", struct tg_provider, api_key, TG__SECRET, ""),
    F_STRV("region", struct tg_provider, region, TG__REQ, NULL, v_nonempty),
    F_STRV("jurisdiction", struct tg_provider, jurisdiction, TG__REQ, NULL, v_jurisdiction),
    F_BOOL("pii_allowed", struct tg_provider, pii_allowed, "false"),
    F_ENUM("transport", struct tg_provider, transport, transport_names, "auto"),
    F_STRV("proxy", struct tg_provider, proxy, TG__SECRET, NULL, v_proxy),
    F_STRV("ca_bundle", struct tg_provider, ca_bundle, 0, NULL, v_ca_bundle),
    F_END
};

static const struct tg__field pricing_tab[] = {
    F_DBL("input_per_m", struct rprice, input_per_m, 0, 1e6, 0, NULL),
    F_DBL("output_per_m", struct rprice, output_per_m, 0, 1e6, 0, NULL),
    F_END
};

static int h_scores(struct tg__ld *ld, const struct tg__ynode *v, void *obj);

static const struct tg__field model_tab[] = {
    F_REF("provider", struct rmodel, provider, TG__REQ, NULL),
    F_STR("upstream_model", struct rmodel, upstream, 0, NULL),
    F_ENUM("kind", struct rmodel, kind, model_kind_names, "chat"),
    F_U32("max_context", struct rmodel, max_context, 1, U32MAX, 0, NULL),
    F_U32("max_output_tokens", struct rmodel, max_output_tokens, 1, U32MAX, 0, NULL),
    F_BOOL("streaming", struct rmodel, streaming, "true"),
    F_BOOL("vision", struct rmodel, vision, "false"),
    F_MAP("pricing", struct rmodel, price, pricing_tab, 0),
    F_FN("scores", h_scores, 0),
    F_DBL("latency_ms", struct rmodel, latency_ms, 0, 1e9, TG__GT, NULL),
    F_DBL("tokens_per_s", struct rmodel, tokens_per_s, 0, 1e9, TG__GT, NULL),
    F_END
};

static const struct tg__field cand_tab[] = {
    F_REF("provider", struct rcand, provider, TG__REQ, NULL),
    F_REF("model", struct rcand, model, TG__REQ, NULL),
    F_U32P("max_context", struct rcand, max_context, max_context_pos, 1, U32MAX, 0, NULL),
    F_BOOLP("streaming", struct rcand, streaming, streaming_pos, NULL),
    F_END
};

static const struct tg__field constraints_tab[] = {
    F_DBLP("quality_threshold", struct rrule, quality_threshold, qt_pos, 0, 100, 0, NULL),
    F_DBLP("max_cost_per_request", struct rrule, max_cost, cost_pos, 0, 1e6, 0, NULL),
    F_U32("timeout_ms", struct rrule, timeout_ms, 0, 86400000, TG__GT, "30000"),
    F_U32P("deadline_ms", struct rrule, deadline_ms, deadline_pos, 0, 86400000, TG__GT, NULL),
    F_END
};

static const struct tg__field compliance_tab[] = {
    F_REF("data_residency", struct rrule, residency, 0, "global"),
    F_BOOL("pii_allowed", struct rrule, pii_allowed, "false"),
    F_BOOLP("export_controlled", struct rrule, export_controlled, export_pos, "false"),
    F_END
};

static int h_fallback(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int h_rule_allow(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int h_tenant_allow(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int h_pol_allow(struct tg__ld *ld, const struct tg__ynode *v, void *obj);

static const struct tg__field rule_tab[] = {
    F_REF("category", struct rrule, category, TG__REQ, NULL),
    F_MAPP("primary", struct rrule, primary, primary.pos, cand_tab, TG__REQ),
    F_FN("fallback", h_fallback, 0),
    F_MAP("constraints", struct rrule, category, constraints_tab, 0),
    F_MAP("compliance", struct rrule, category, compliance_tab, 0),
    F_REF("quality_metric", struct rrule, metric, 0, "humaneval"),
    F_STRL("aliases", struct rrule, aliases, naliases, NULL),
    F_FN("pii_allow", h_rule_allow, 0),
    F_END
};

static const struct tg__field breaker_tab[] = {
    F_U32("failure_threshold", struct tg_breaker_cfg, failure_threshold, 1, 1000000, 0, "5"),
    F_U32("recovery_timeout_ms", struct tg_breaker_cfg, recovery_timeout_ms, 0, 86400000, TG__GT, "30000"),
    F_BOOL("progressive_timeout", struct tg_breaker_cfg, progressive_timeout, "true"),
    F_END
};

static const struct tg__field pii_tab[] = {
    F_REFL("packs", struct fconf, packs, npacks, "rules/pii/default.yaml"),
    F_DBL("min_score", struct fconf, min_score, 0, 1, 0, "0.5"),
    F_ENUM("on_violation", struct fconf, action, action_names, "deny"),
    F_BOOL("deny_secrets", struct fconf, deny_secrets, "false"),
    F_FN("allow", h_pol_allow, 0),
    F_ENUM("role_addresses", struct fconf, role_mode, role_names, "not_personal"),
    F_ENUM("special_ips", struct fconf, special_ip_mode, role_names, "not_personal"),
    F_END
};

static int h_tags(struct tg__ld *ld, const struct tg__ynode *v, void *obj);

static const struct tg__field export_tab[] = {
    F_STR("header", struct fconf, export_header, 0, "X-Export-Control"),
    F_REF("markings", struct fconf, markings, 0, "rules/export/markings.yaml"),
    F_FN("tags", h_tags, 0),
    F_END
};

/* policy.response: the output guard (engine/outguard.h) */
static const struct tg__field response_tab[] = {
    F_ENUM("secrets", struct fconf, resp_secrets, resp_names, "pass"),
    F_ENUM("pii", struct fconf, resp_pii, resp_names, "pass"),
    F_END
};

static const struct tg__field policy_tab[] = {
    F_ENUM("mode", struct fconf, mode, mode_names, "enforce"),
    F_MAP("pii", struct fconf, version, pii_tab, 0),
    F_MAP("response", struct fconf, version, response_tab, 0),
    F_MAP("export_control", struct fconf, version, export_tab, 0),
    F_U32("default_output_tokens", struct fconf, default_output_tokens, 1, 10000000, 0, "1024"),
    F_END
};

static const struct tg__field tenant_tab[] = {
    F_REF("id", struct rtenant, id, TG__REQ, NULL),
    F_REF("api_key_sha256", struct rtenant, key, 0, NULL),
    F_REF("client_cert_sha256", struct rtenant, cert, 0, NULL),
    F_REF("data_residency", struct rtenant, residency, 0, NULL),
    F_BOOL("pii_allowed", struct rtenant, pii_allowed, "true"),
    F_REFL("export_tags", struct rtenant, tags, ntags, NULL),
    F_DBL("max_cost_per_request", struct rtenant, max_cost, 0, 1e6, 0, NULL),
    F_REFL("categories", struct rtenant, cats, ncats, NULL),
    F_U32("requests_per_minute", struct rtenant, rpm, 0, 100000000, 0, "0"),
    F_REF("default_category", struct rtenant, default_category, 0, NULL),
    F_FN("pii_allow", h_tenant_allow, 0),
    F_END
};

static const struct tg__field audit_tab[] = {
    F_STR("path", struct tg_audit_cfg, path, 0, NULL),
    F_STR("signing_key", struct tg_audit_cfg, signing_key, 0, NULL),
    F_ENUM("fsync", struct tg_audit_cfg, fsync, fsync_names, "batch"),
    F_ENUM("sign", struct tg_audit_cfg, sign, sign_names, "seal"),
    F_U32("seal_every", struct tg_audit_cfg, seal_every, 1, 100000000, 0, "1000"),
    F_U32("seal_interval_ms", struct tg_audit_cfg, seal_interval_ms, 0, 86400000, TG__GT, "1000"),
    F_U64("rotate_bytes", struct tg_audit_cfg, rotate_bytes, 0, 1e18, 0, "0"),
    F_U32("queue_depth", struct tg_audit_cfg, queue_depth, 1, 16777216, 0, "65536"),
    F_END
};

static const struct tg__field capture_tab[] = {
    F_STR("path", struct tg_capture_cfg, path, 0, NULL),
    F_BOOL("redact", struct tg_capture_cfg, redact, "true"),
    F_DBL("sample", struct tg_capture_cfg, sample, 0, 1, 0, "1.0"),
    F_END
};

static const struct tg__field tls_tab[] = {
    F_STRV("cert", struct tg_tls_cfg, cert, TG__REQ, NULL, v_tls_cert),
    F_STRV("key", struct tg_tls_cfg, key, TG__REQ, NULL, v_tls_key),
    F_STRV("client_ca", struct tg_tls_cfg, client_ca, 0, NULL, v_tls_ca),
    F_STRV("min_version", struct tg_tls_cfg, min_version, 0, "1.2", v_tls_version),
    F_END
};

static const struct tg__field server_tab[] = {
    F_STRV("listen", struct tg_server_cfg, listen, 0, "127.0.0.1:8080", v_listen),
    F_U32("threads", struct tg_server_cfg, threads, 0, 1024, 0, "0"),
    F_U32("max_body_bytes", struct tg_server_cfg, max_body_bytes, 1024, TG_MAX_BODY_BYTES, 0, "4194304"),
    F_U32("header_timeout_ms", struct tg_server_cfg, header_timeout_ms, 0, 86400000, TG__GT, "10000"),
    F_U32("idle_timeout_ms", struct tg_server_cfg, idle_timeout_ms, 0, 86400000, TG__GT, "60000"),
    F_U32("busy_poll_us", struct tg_server_cfg, busy_poll_us, 0, 10000, 0, "0"),
    F_MAPP("tls", struct tg_server_cfg, tls, tls.pos, tls_tab, 0),
    F_END
};

static int h_providers(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int h_models(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int h_regions(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int h_rules(struct tg__ld *ld, const struct tg__ynode *v, void *obj);
static int h_tenants(struct tg__ld *ld, const struct tg__ynode *v, void *obj);

static const struct tg__field orch_tab[] = {
    F_STR("version", struct fconf, version, 0, NULL),
    F_MAP("telemetry", struct fconf, telemetry, telemetry_tab, 0),
    F_FN("providers", h_providers, 0),
    F_FN("models", h_models, 0),
    F_FN("regions", h_regions, 0),
    F_FN("routing_rules", h_rules, 0),
    F_MAP("circuit_breaker", struct fconf, breaker, breaker_tab, 0),
    F_MAP("policy", struct fconf, version, policy_tab, 0),
    F_FN("tenants", h_tenants, 0),
    F_MAP("audit", struct fconf, audit, audit_tab, 0),
    F_MAP("capture", struct fconf, capture, capture_tab, 0),
    F_MAP("server", struct fconf, server, server_tab, 0),
    F_END
};

/* The registry holds only the capability data. */
static const struct tg__field reg_orch_tab[] = {
    F_STR("version", struct fconf, version, 0, NULL),
    F_FN("providers", h_providers, 0),
    F_FN("models", h_models, 0),
    F_FN("regions", h_regions, 0),
    F_END
};

const struct tg__field tg__cfg_root_tab[] = {
    F_MAP("orchestration", struct fconf, version, orch_tab, TG__REQ),
    F_END
};
const struct tg__field tg__cfg_reg_root_tab[] = {
    F_MAP("orchestration", struct fconf, version, reg_orch_tab, TG__REQ),
    F_END
};

/*
 * A note on F_MAP offsets: the walker passes obj + off to the sub-table.
 * Sub-tables written against the SAME struct (constraints/compliance over
 * rrule, the policy blocks over fconf) must get obj itself, so their F_MAP
 * entries name the struct's first member (offset 0), checked here.
 */
_Static_assert(offsetof(struct rrule, category) == 0, "rule sub-tables walk the rule itself");
_Static_assert(offsetof(struct fconf, version) == 0, "policy sub-tables walk fconf itself");


/* ---- custom handlers ------------------------------------------------------ */

static bool
check_map(struct tg__ld *ld, const struct tg__ynode *v, const char *what)
{
    if (v->kind != TG__YN_MAP) {
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must be a mapping", what);
        return false;
    }
    return true;
}

static bool
check_seq(struct tg__ld *ld, const struct tg__ynode *v, const char *what)
{
    if (v->kind != TG__YN_SEQ) {
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must be a list", what);
        return false;
    }
    return true;
}

/* Entries of a mapping or list past a TG_MAX_* cap are an error, and are
 * not even looked at: this also bounds the loader's own work. */
static uint32_t
capped(struct tg__ld *ld, const struct tg__ynode *v, uint32_t cap, const char *what)
{
    if (v->n <= cap)
        return v->n;
    tg__diag_node(ld, TG_DIAG_ERROR, v, "more than %u %s", cap, what);
    return cap;
}

/* Key of a keyed mapping entry (providers, models, ...): a non-empty
 * string, not seen before in the same mapping. */
static bool
entry_key(struct tg__ld *ld, const struct tg__ynode *m, uint32_t i, const char *what)
{
    const struct tg__ynode *k = m->kids[2 * i];
    char b[80];
    if (k->kind != TG__YN_SCALAR || k->len == 0 || memchr(k->val, '\0', k->len) != NULL) {
        tg__diag_node(ld, TG_DIAG_ERROR, k, "%s ids must be non-empty strings", what);
        return false;
    }
    for (uint32_t j = 0; j < i; j++) {
        const struct tg__ynode *o = m->kids[2 * j];
        if (o->kind == TG__YN_SCALAR && strcmp(o->val, k->val) == 0) {
            tg__diag_node(ld, TG_DIAG_ERROR, k, "duplicate %s '%s' (first at line %u)", what,
                          tg__shown(k, false, b, sizeof(b)), o->pos.line);
            return false;
        }
    }
    return true;
}

static char *
pstr(struct tg__ld *ld, const struct tg__ynode *n)
{
    char *s = tg_arena_strndup(&ld->p->arena, n->val, n->len);
    if (s == NULL)
        ld->oom = true;
    return s;
}

static int
h_providers(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    struct fconf *fc = obj;
    if (tg__is_null(v) || !check_map(ld, v, "providers"))
        return TG_OK;
    uint32_t n = capped(ld, v, TG_MAX_PROVIDERS, "providers");
    fc->prov = tg_arena_calloc(&ld->tmp, n ? n : 1, sizeof(*fc->prov));
    if (fc->prov == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const struct tg__ynode *val = v->kids[2 * i + 1];
        struct tg_provider *pv = &fc->prov[fc->nprov];
        int rc;
        if (!entry_key(ld, v, i, "provider"))
            continue;
        if ((pv->id = pstr(ld, v->kids[2 * i])) == NULL)
            return TG_ENOMEM;
        pv->pos = v->kids[2 * i]->pos;
        if (!check_map(ld, val, pv->id))
            continue;
        if ((rc = tg__walk_map(ld, val, provider_tab, pv)) != TG_OK)
            return rc;
        if (pv->adapter != TG_ADAPTER_ECHO && (pv->base_url == NULL || !*pv->base_url))
            tg__diag_node(ld, TG_DIAG_ERROR, val, "provider '%s' needs a base_url (only the echo adapter has none)", pv->id);
        if (pv->base_url == NULL)
            pv->base_url = "";
        if (pv->api_key == NULL)
            pv->api_key = "";
        /* Missing required keys were reported; keep later checks NULL-free. */
        if (pv->region == NULL)
            pv->region = "";
        if (pv->jurisdiction == NULL)
            pv->jurisdiction = "";
        fc->nprov++;
    }
    return TG_OK;
}

static int
h_scores(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    struct rmodel *m = obj;
    static const struct tg__field score_f = { "score", TG__F_DBL, 0, 0, TG__NOOFF, 0, 100, NULL,
                                              NULL, NULL, NULL, 0 };
    if (tg__is_null(v) || !check_map(ld, v, "scores"))
        return TG_OK;
    uint32_t n = capped(ld, v, 64u, "scores");
    m->scores = tg_arena_calloc(&ld->p->arena, n ? n : 1, sizeof(*m->scores));
    if (m->scores == NULL)
        return TG_ENOMEM;
    m->nscores = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct tg_score *s = &m->scores[m->nscores];
        unsigned before = ld->nerrors;
        if (!entry_key(ld, v, i, "score metric"))
            continue;
        if ((s->metric = pstr(ld, v->kids[2 * i])) == NULL)
            return TG_ENOMEM;
        s->value = NAN;
        int rc = tg__set_field(ld, &score_f, v->kids[2 * i + 1], &s->value);
        if (rc != TG_OK)
            return rc;
        if (ld->nerrors == before)
            m->nscores++;
    }
    return TG_OK;
}

static int
h_models(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    struct fconf *fc = obj;
    if (tg__is_null(v) || !check_map(ld, v, "models"))
        return TG_OK;
    uint32_t n = capped(ld, v, TG_MAX_MODELS, "models");
    fc->models = tg_arena_calloc(&ld->tmp, n ? n : 1, sizeof(*fc->models));
    if (fc->models == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const struct tg__ynode *val = v->kids[2 * i + 1];
        struct rmodel *m = &fc->models[fc->nmodels];
        int rc;
        if (!entry_key(ld, v, i, "model"))
            continue;
        if ((m->id = pstr(ld, v->kids[2 * i])) == NULL)
            return TG_ENOMEM;
        m->pos = v->kids[2 * i]->pos;
        m->price.input_per_m = m->price.output_per_m = m->latency_ms = m->tokens_per_s = NAN;
        if (!check_map(ld, val, m->id))
            continue;
        if ((rc = tg__walk_map(ld, val, model_tab, m)) != TG_OK)
            return rc;
        if (m->upstream == NULL)
            m->upstream = m->id;
        fc->nmodels++;
    }
    return TG_OK;
}

static int
h_regions(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    struct fconf *fc = obj;
    static const struct tg__field list_f = { "regions", TG__F_STRLIST,
        offsetof(struct tg_region_set, regions), offsetof(struct tg_region_set, nregions),
        TG__NOOFF, 0, 0, NULL, NULL, NULL, NULL, 0 };
    if (tg__is_null(v) || !check_map(ld, v, "regions"))
        return TG_OK;
    uint32_t n = capped(ld, v, TG_MAX_MODELS, "region labels");
    fc->regions = tg_arena_calloc(&ld->tmp, n ? n : 1, sizeof(*fc->regions));
    if (fc->regions == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct tg_region_set *r = &fc->regions[fc->nregions];
        const struct tg__ynode *val = v->kids[2 * i + 1];
        if (!entry_key(ld, v, i, "region label"))
            continue;
        if ((r->label = pstr(ld, v->kids[2 * i])) == NULL)
            return TG_ENOMEM;
        r->pos = v->kids[2 * i]->pos;
        if (!tg__is_null(val) && !check_seq(ld, val, r->label))
            continue;
        int rc = tg__set_field(ld, &list_f, val, r);
        if (rc != TG_OK)
            return rc;
        fc->nregions++;
    }
    return TG_OK;
}

static int
h_tags(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    struct fconf *fc = obj;   /* export_control walks fconf itself */
    static const struct tg__field tag_tab[] = {
        F_STRLP("allow_jurisdictions", struct rtag, t.allow, t.nallow, allow_pos),
        F_STRL("deny_jurisdictions", struct rtag, t.deny, t.ndeny, NULL),
        F_END
    };
    fc->tags_given = true;
    if (tg__is_null(v) || !check_map(ld, v, "tags"))
        return TG_OK;
    uint32_t n = capped(ld, v, 256u, "export tags");
    fc->tags = tg_arena_calloc(&ld->tmp, n ? n : 1, sizeof(*fc->tags));
    if (fc->tags == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct rtag *t = &fc->tags[fc->ntags];
        const struct tg__ynode *val = v->kids[2 * i + 1];
        if (!entry_key(ld, v, i, "export tag"))
            continue;
        char *name = pstr(ld, v->kids[2 * i]);
        if (name == NULL)
            return TG_ENOMEM;
        for (char *c = name; *c; c++)   /* tags compare case-insensitively: store lower case */
            *c = (char)tolower((unsigned char)*c);
        t->t.name = name;
        t->t.pos = v->kids[2 * i]->pos;
        if (!tg__is_null(val) && !check_map(ld, val, name))
            continue;
        int rc = tg__walk_map(ld, tg__is_null(val) ? NULL : val, tag_tab, t);
        if (rc != TG_OK)
            return rc;
        t->t.has_allow = t->allow_pos.line != 0;
        if (!t->t.has_allow && t->t.ndeny == 0)
            tg__diag_node(ld, TG_DIAG_WARNING, v->kids[2 * i],
                          "export tag '%s' has neither allow_jurisdictions nor deny_jurisdictions: it restricts nothing", name);
        fc->ntags++;
    }
    return TG_OK;
}

static int
walk_cand(struct tg__ld *ld, const struct tg__ynode *v, struct rcand *c)
{
    c->pos = v->pos;
    if (!check_map(ld, v, "candidate"))
        return TG_OK;
    return tg__walk_map(ld, v, cand_tab, c);
}

static int
h_fallback(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    struct rrule *r = obj;
    if (tg__is_null(v))
        return TG_OK;
    if (!check_seq(ld, v, "fallback"))
        return TG_OK;
    uint32_t n = capped(ld, v, TG_MAX_CHAIN - 1, "fallback candidates");
    r->fallback = tg_arena_calloc(&ld->tmp, n ? n : 1, sizeof(*r->fallback));
    if (r->fallback == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        int rc = walk_cand(ld, v->kids[i], &r->fallback[r->nfallback]);
        if (rc != TG_OK)
            return rc;
        r->nfallback++;
    }
    return TG_OK;
}

static int
h_rules(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    struct fconf *fc = obj;
    if (tg__is_null(v) || !check_seq(ld, v, "routing_rules"))
        return TG_OK;
    uint32_t n = capped(ld, v, TG_MAX_RULES, "routing rules");
    fc->rules = tg_arena_calloc(&ld->tmp, n ? n : 1, sizeof(*fc->rules));
    if (fc->rules == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct rrule *r = &fc->rules[fc->nrules];
        const struct tg__ynode *it = v->kids[i];
        r->pos = it->pos;
        r->quality_threshold = NAN;
        r->max_cost = INFINITY;
        if (!check_map(ld, it, "routing rule"))
            continue;
        int rc = tg__walk_map(ld, it, rule_tab, r);
        if (rc != TG_OK)
            return rc;
        fc->nrules++;
    }
    return TG_OK;
}

static int
h_tenants(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    struct fconf *fc = obj;
    if (tg__is_null(v) || !check_seq(ld, v, "tenants"))
        return TG_OK;
    uint32_t n = capped(ld, v, TG_MAX_TENANTS, "tenants");
    fc->tenants = tg_arena_calloc(&ld->tmp, n ? n : 1, sizeof(*fc->tenants));
    if (fc->tenants == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        struct rtenant *t = &fc->tenants[fc->ntenants];
        const struct tg__ynode *it = v->kids[i];
        t->pos = it->pos;
        t->max_cost = INFINITY;
        if (!check_map(ld, it, "tenant"))
            continue;
        int rc = tg__walk_map(ld, it, tenant_tab, t);
        if (rc != TG_OK)
            return rc;
        fc->ntenants++;
    }
    return TG_OK;
}

/* Allow lists: the walk and everything after it live in allow_load.c. */
static int
h_pol_allow(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    return tg__allow_walk(ld, v, "allow", &((struct fconf *)obj)->allow);
}

static int
h_rule_allow(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    return tg__allow_walk(ld, v, "pii_allow", &((struct rrule *)obj)->allow);
}

static int
h_tenant_allow(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    return tg__allow_walk(ld, v, "pii_allow", &((struct rtenant *)obj)->allow);
}

/* Hand every level's raw allow list to allow_load.c, by rule and tenant id. */
int
tg__cfg_load_allow(struct tg__ld *ld, const struct fconf *cfg)
{
    const struct tg__rallow_list **rl = tg_arena_calloc(&ld->tmp, cfg->nrules + 1, sizeof(*rl));
    const struct tg__rallow_list **tl = tg_arena_calloc(&ld->tmp, cfg->ntenants + 1, sizeof(*tl));
    const char **rid = tg_arena_calloc(&ld->tmp, cfg->nrules + 1, sizeof(*rid));
    const char **tid = tg_arena_calloc(&ld->tmp, cfg->ntenants + 1, sizeof(*tid));
    uint32_t nr = 0, nt = 0;
    if (rl == NULL || tl == NULL || rid == NULL || tid == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < cfg->nrules; i++)
        if (cfg->rules[i].allow.n > 0 && cfg->rules[i].category.s != NULL) {
            rl[nr] = &cfg->rules[i].allow;
            rid[nr++] = cfg->rules[i].category.s;
        }
    for (uint32_t i = 0; i < cfg->ntenants; i++)
        if (cfg->tenants[i].allow.n > 0 && cfg->tenants[i].id.s != NULL) {
            tl[nt] = &cfg->tenants[i].allow;
            tid[nt++] = cfg->tenants[i].id.s;
        }
    return tg__allow_load(ld, &cfg->allow, cfg->role_mode == 1, cfg->special_ip_mode == 1, rl, rid, nr, tl,
                          tid, nt);
}

/* ---- markings file ---------------------------------------------------------- */

static int
h_markings(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    static const struct tg__field mk_tab[] = {
        F_STR("id", struct tg_marking_spec, id, TG__REQ, NULL),
        F_STR("tag", struct tg_marking_spec, tag, TG__REQ, NULL),
        F_STR("pattern", struct tg_marking_spec, pattern, TG__REQ, NULL),
        F_END
    };
    struct mconf *mc = obj;
    if (tg__is_null(v) || !check_seq(ld, v, "markings"))
        return TG_OK;
    mc->specs = tg_arena_calloc(&ld->tmp, v->n ? v->n : 1, sizeof(*mc->specs));
    if (mc->specs == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < v->n; i++) {
        struct tg_marking_spec *s = &mc->specs[mc->n];
        const struct tg__ynode *it = v->kids[i];
        unsigned before = ld->nerrors;
        if (!check_map(ld, it, "marking"))
            continue;
        int rc = tg__walk_map(ld, it, mk_tab, s);
        if (rc != TG_OK)
            return rc;
        if (ld->nerrors != before)
            continue;
        s->file = it->pos.file;
        s->line = it->pos.line;
        s->col = it->pos.col;
        for (char *c = (char *)s->tag; *c; c++)
            *c = (char)tolower((unsigned char)*c);
        mc->n++;
    }
    return TG_OK;
}

const struct tg__field tg__cfg_markings_root_tab[] = {
    F_FN("markings", h_markings, TG__REQ),
    F_END
};

static bool
valid_listen(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return false;
    char *end;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    return *end == '\0' && colon[1] != '\0' && errno == 0 && port >= 0 && port <= 65535;
}

static int
v_listen(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    (void)obj;
    char b[80];
    if (!valid_listen(v->val))
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'listen' must be HOST:PORT (got %s)",
                      tg__shown(v, false, b, sizeof(b)));
    return TG_OK;
}

/* A path value of the configuration, resolved against its directory (as
 * packs are); the file must be readable now, so that a typo is a load
 * error rather than a failure on the first connection. */
static int
resolve_file(struct tg__ld *ld, const struct tg__ynode *v, const char **field, const char *what)
{
    char *path;

    if (v->len == 0) {
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must name a file", what);
        return TG_OK;
    }
    path = tg_policy_resolve_path(&ld->p->arena, ld->p->source, *field);
    if (path == NULL) {
        ld->oom = true;
        return TG_ENOMEM;
    }
    /* The value as written: a relative path was looked up from the
     * configuration's directory (then the data directory). */
    if (!tg__cfg_file_exists(path))
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s': cannot read %s: %s", what, *field, strerror(errno));
    *field = path;
    return TG_OK;
}

static int
v_ca_bundle(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    return resolve_file(ld, v, &((struct tg_provider *)obj)->ca_bundle, "ca_bundle");
}

static int
v_tls_cert(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    return resolve_file(ld, v, &((struct tg_tls_cfg *)obj)->cert, "tls.cert");
}

static int
v_tls_key(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    return resolve_file(ld, v, &((struct tg_tls_cfg *)obj)->key, "tls.key");
}

static int
v_tls_ca(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    return resolve_file(ld, v, &((struct tg_tls_cfg *)obj)->client_ca, "tls.client_ca");
}

static int
v_tls_version(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    struct tg_tls_cfg *t = obj;
    char b[80];

    if (v->len == 3 && memcmp(v->val, "1.2", 3) == 0) {
        t->min = TG_TLS_V1_2;
    } else if (v->len == 3 && memcmp(v->val, "1.3", 3) == 0) {
        t->min = TG_TLS_V1_3;
    } else if ((v->len == 3 && (memcmp(v->val, "1.0", 3) == 0 || memcmp(v->val, "1.1", 3) == 0)) ||
               (v->len == 1 && v->val[0] == '1')) {
        tg__diag_node(ld, TG_DIAG_ERROR, v,
                      "'min_version' %s is refused: TLS 1.0 and 1.1 are obsolete (RFC 8996); use \"1.2\" or \"1.3\"",
                      tg__shown(v, false, b, sizeof(b)));
    } else {
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'min_version' must be \"1.2\" or \"1.3\" (got %s)",
                      tg__shown(v, false, b, sizeof(b)));
    }
    return TG_OK;
}

/* Outbound proxy: a URL libcurl takes as CURLOPT_PROXY.  The value may
 * carry credentials, so messages show only its scheme. */
static int
v_proxy(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    static const char *const schemes[] = { "http://", "https://", "socks5://", "socks5h://" };
    const char *sep = memmem(v->val, v->len, "://", 3);
    size_t host;

    (void)obj;
    for (size_t i = 0; i < TG_ARRAY_LEN(schemes); i++) {
        size_t sl = strlen(schemes[i]);
        if (v->len > sl && strncasecmp(v->val, schemes[i], sl) == 0) {
            host = sl;
            /* skip user:password@ */
            const char *at = memchr(v->val + sl, '@', v->len - sl);
            if (at != NULL)
                host = (size_t)(at - v->val) + 1;
            if (host < v->len && v->val[host] != '/' && v->val[host] != ':')
                return TG_OK;
            tg__diag_node(ld, TG_DIAG_ERROR, v, "'proxy' has no host (want %.*sHOST:PORT)", (int)sl, schemes[i]);
            return TG_OK;
        }
    }
    if (sep != NULL && sep - v->val < 16)
        tg__diag_node(ld, TG_DIAG_ERROR, v,
                      "'proxy' scheme '%.*s' is not supported (want http://, https://, socks5:// or socks5h://)",
                      (int)(sep - v->val), v->val);
    else
        tg__diag_node(ld, TG_DIAG_ERROR, v,
                      "'proxy' must be a URL such as http://HOST:PORT (schemes http, https, socks5, socks5h)");
    return TG_OK;
}

/* server.tls as a whole, after the walk: a block without its files, and
 * tenant identities no listener can ever ask for. */
static int
v_jurisdiction(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    (void)obj;
    char b[80];
    if (v->len != 2 || !isupper((unsigned char)v->val[0]) || !isupper((unsigned char)v->val[1]))
        tg__diag_node(ld, TG_DIAG_ERROR, v,
                      "'jurisdiction' must be an ISO 3166-1 alpha-2 code in capitals such as US or CN (got %s)",
                      tg__shown(v, false, b, sizeof(b)));
    return TG_OK;
}

static int
v_nonempty(struct tg__ld *ld, const struct tg__ynode *v, void *obj)
{
    (void)obj;
    if (v->len == 0)
        tg__diag_node(ld, TG_DIAG_ERROR, v, "value must not be empty");
    return TG_OK;
}

bool
tg__cfg_file_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

