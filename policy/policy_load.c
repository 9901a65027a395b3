/*
 * policy_load.c — docs/interface.md §2: read the registry and the config, merge,
 * resolve references, validate, compile PII packs and export markings, hash.
 *
 * Three phases:
 *   1. parse each file into a tree and walk it with the schema tables below
 *      into a `struct fconf` (raw, names not yet resolved);
 *   2. merge the config's providers/models/regions over the registry's
 *      (same id = replace the entry, new id = add);
 *   3. resolve names to indices, check cross-references, emit the static
 *      warnings a reviewer wants, then compile packs/markings and hash.
 * Every problem is reported with its FILE:LINE:COL and loading goes on, so
 * one run of `tollgate check` lists them all.
 */
#include "policy/policy_int.h"
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

/* ---- raw (unresolved) structures ----------------------------------------- */

struct rmodel {
    const char     *id;
    struct tg__ref  provider;
    const char     *upstream;
    enum tg_model_kind kind;
    uint32_t        max_context, max_output_tokens;
    bool            streaming, vision;
    struct rprice { double input_per_m, output_per_m; } price;
    struct tg_score *scores;
    uint32_t        nscores;
    double          latency_ms, tokens_per_s;
    struct tg_pos   pos;
};

struct rcand {
    struct tg__ref provider, model;
    uint32_t       max_context;
    struct tg_pos  max_context_pos;
    bool           streaming;
    struct tg_pos  streaming_pos;
    struct tg_pos  pos;
};

struct rrule {
    struct tg__ref category;
    struct rcand   primary;
    struct rcand  *fallback;
    uint32_t       nfallback;
    double         quality_threshold;
    struct tg_pos  qt_pos;
    double         max_cost;
    struct tg_pos  cost_pos;
    uint32_t       timeout_ms, deadline_ms;
    struct tg_pos  deadline_pos;
    struct tg__ref residency;
    bool           pii_allowed;
    bool           export_controlled;
    struct tg_pos  export_pos;
    struct tg__ref metric;
    const char   **aliases;        /* client model names that select this category */
    uint32_t       naliases;
    struct tg__rallow_list allow;   /* pii_allow */
    struct tg_pos  pos;
};

struct rtenant {
    struct tg__ref  id;
    struct tg__ref  key;
    struct tg__ref  cert;
    struct tg__ref  residency;
    bool            pii_allowed;
    struct tg__ref *tags;
    uint32_t        ntags;
    double          max_cost;
    struct tg__ref *cats;
    uint32_t        ncats;
    uint32_t        rpm;
    struct tg__ref  default_category;
    struct tg__rallow_list allow;  /* pii_allow */
    struct tg_pos   pos;
};

struct rtag {
    struct tg_export_tag t;
    struct tg_pos allow_pos;
};

struct fconf {
    const char *version;
    struct tg_telemetry_cfg telemetry;
    struct tg_provider   *prov;     uint32_t nprov;
    struct rmodel        *models;   uint32_t nmodels;
    struct tg_region_set *regions;  uint32_t nregions;
    struct rrule         *rules;    uint32_t nrules;
    struct tg_breaker_cfg breaker;
    /* policy: */
    int                   mode;
    struct tg__ref       *packs;    uint32_t npacks;
    double                min_score;
    int                   action;
    bool                  deny_secrets;
    struct tg__rallow_list allow;    /* policy.pii.allow */
    int                   role_mode;
    int                   special_ip_mode;
    int                   resp_secrets, resp_pii;   /* policy.response */
    const char           *export_header;
    struct tg__ref        markings;
    struct rtag          *tags;     uint32_t ntags;
    bool                  tags_given;
    uint32_t              default_output_tokens;
    struct rtenant       *tenants;  uint32_t ntenants;
    struct tg_audit_cfg   audit;
    struct tg_capture_cfg capture;
    struct tg_server_cfg  server;
};

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
static bool file_exists(const char *path);
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

static const struct tg__field root_tab[] = {
    F_MAP("orchestration", struct fconf, version, orch_tab, TG__REQ),
    F_END
};
static const struct tg__field reg_root_tab[] = {
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
static int
load_allow(struct tg__ld *ld, const struct fconf *cfg)
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

struct mconf {
    struct tg_marking_spec *specs;
    uint32_t n;
};

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

static const struct tg__field markings_root_tab[] = {
    F_FN("markings", h_markings, TG__REQ),
    F_END
};

/* ---- file reading --------------------------------------------------------- */

static int
read_file(const char *path, struct tg_arena *a, char **out, size_t *outlen, struct tg_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = TG_EIO;

    if (f == NULL)
        return tg_err_set(err, TG_EIO, "cannot read %s: %s", path, strerror(errno));
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16384;
            if (cap >= (size_t)TG_MAX_CONFIG_BYTES + 1) {
                rc = tg_err_set(err, TG_ELIMIT, "%s: larger than %u bytes", path, TG_MAX_CONFIG_BYTES);
                goto out;
            }
            char *nb = realloc(buf, nc + 1);
            if (nb == NULL) {
                rc = tg_err_set(err, TG_ENOMEM, "out of memory reading %s", path);
                goto out;
            }
            buf = nb;
            cap = nc;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                rc = tg_err_set(err, TG_EIO, "cannot read %s: read error", path);
                goto out;
            }
            break;
        }
    }
    if (len > TG_MAX_CONFIG_BYTES) {
        rc = tg_err_set(err, TG_ELIMIT, "%s: larger than %u bytes", path, TG_MAX_CONFIG_BYTES);
        goto out;
    }
    *out = tg_arena_alloc(a, len + 1);
    if (*out == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    memcpy(*out, buf ? buf : "", len);
    (*out)[len] = '\0';
    *outlen = len;
    rc = TG_OK;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* Parse one YAML buffer and walk it with `root`. */
static int
load_tree(struct tg__ld *ld, const char *file, const char *buf, size_t len,
          const struct tg__field *root, void *obj)
{
    struct tg__ynode *tree = NULL;
    int rc;

    tg__ld_rank(ld, file);
    if (len > TG_MAX_CONFIG_BYTES) {
        struct tg_pos pos = { file, 1, 1 };
        tg__diag_at(ld, TG_DIAG_ERROR, &pos, "file larger than %u bytes", TG_MAX_CONFIG_BYTES);
        return TG_OK;
    }
    rc = tg__yaml_parse(ld, file, buf, len, &ld->tmp, &tree);
    if (rc == TG_EPOLICY)
        return TG_OK;   /* reported */
    if (rc != TG_OK)
        return rc;
    if (tree == NULL || tg__is_null(tree)) {
        struct tg_pos pos = { file, 1, 1 };
        tg__diag_at(ld, TG_DIAG_ERROR, &pos, "empty file: expected a mapping with '%s:'", root[0].key);
        return TG_OK;
    }
    return tg__walk_map(ld, tree, root, obj);
}

/* ---- merge and resolve ------------------------------------------------------ */

static const char **
id_list(struct tg__ld *ld, const void *base, size_t stride, size_t off, uint32_t n)
{
    const char **ids = tg_arena_calloc(&ld->tmp, n ? n : 1, sizeof(*ids));
    if (ids == NULL) {
        ld->oom = true;
        return NULL;
    }
    for (uint32_t i = 0; i < n; i++)
        ids[i] = *(const char *const *)(const void *)((const char *)base + i * stride + off);
    return ids;
}

/* "unknown X 'y'" with a did-you-mean over the known ids. */
static void
unknown_ref(struct tg__ld *ld, const struct tg__ref *r, const char *what,
            const void *base, size_t stride, size_t off, uint32_t n)
{
    const char **ids = id_list(ld, base, stride, off, n);
    const char *sug = ids ? tg__suggest(r->s, ids, n) : NULL;
    if (sug != NULL)
        tg__diag_at(ld, TG_DIAG_ERROR, &r->pos, "unknown %s '%s' (did you mean '%s'?)", what, r->s, sug);
    else
        tg__diag_at(ld, TG_DIAG_ERROR, &r->pos, "unknown %s '%s'", what, r->s);
}

static int32_t
find_provider(const struct tg_policy *p, const char *id)
{
    for (uint32_t i = 0; i < p->nproviders; i++)
        if (strcmp(p->providers[i].id, id) == 0)
            return (int32_t)i;
    return -1;
}

static int
merge(struct tg__ld *ld, const struct fconf *reg, const struct fconf *cfg,
      struct rmodel **models_out)
{
    struct tg_policy *p = ld->p;
    uint32_t np = reg->nprov + cfg->nprov, nm = reg->nmodels + cfg->nmodels,
             nr = reg->nregions + cfg->nregions;

    p->providers = tg_arena_calloc(&p->arena, np ? np : 1, sizeof(*p->providers));
    p->regions = tg_arena_calloc(&p->arena, nr ? nr : 1, sizeof(*p->regions));
    struct rmodel *models = tg_arena_calloc(&ld->tmp, nm ? nm : 1, sizeof(*models));
    if (p->providers == NULL || p->regions == NULL || models == NULL)
        return TG_ENOMEM;

    /* Same id in the config = replace the registry's entry in place (its
     * index is kept so the registry's order stays stable); new ids append. */
    for (int pass = 0; pass < 2; pass++) {
        const struct fconf *fc = pass ? cfg : reg;
        for (uint32_t i = 0; i < fc->nprov; i++) {
            int32_t at = find_provider(p, fc->prov[i].id);
            if (at < 0)
                at = (int32_t)p->nproviders++;
            p->providers[at] = fc->prov[i];
        }
        for (uint32_t i = 0; i < fc->nregions; i++) {
            uint32_t at = p->nregions;
            for (uint32_t j = 0; j < p->nregions; j++)
                if (strcmp(p->regions[j].label, fc->regions[i].label) == 0)
                    at = j;
            if (at == p->nregions)
                p->nregions++;
            p->regions[at] = fc->regions[i];
        }
        for (uint32_t i = 0; i < fc->nmodels; i++) {
            uint32_t at = p->nmodels;
            for (uint32_t j = 0; j < p->nmodels; j++)
                if (strcmp(models[j].id, fc->models[i].id) == 0)
                    at = j;
            if (at == p->nmodels)
                p->nmodels++;
            models[at] = fc->models[i];
        }
    }
    if (p->nproviders > TG_MAX_PROVIDERS) {
        tg__diag_at(ld, TG_DIAG_ERROR, &cfg->prov[0].pos, "more than %u providers", TG_MAX_PROVIDERS);
        p->nproviders = TG_MAX_PROVIDERS;
    }
    if (p->nmodels > TG_MAX_MODELS) {
        tg__diag_at(ld, TG_DIAG_ERROR, &cfg->models[0].pos, "more than %u models", TG_MAX_MODELS);
        p->nmodels = TG_MAX_MODELS;
    }

    /* Models -> tg_model with the provider resolved. */
    p->models = tg_arena_calloc(&p->arena, p->nmodels ? p->nmodels : 1, sizeof(*p->models));
    if (p->models == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < p->nmodels; i++) {
        const struct rmodel *rm = &models[i];
        struct tg_model *m = &p->models[i];
        int32_t pi = rm->provider.s ? find_provider(p, rm->provider.s) : -1;
        if (rm->provider.s != NULL && pi < 0)
            unknown_ref(ld, &rm->provider, "provider", p->providers, sizeof(*p->providers),
                        offsetof(struct tg_provider, id), p->nproviders);
        m->id = rm->id;
        m->upstream = rm->upstream;
        m->provider = pi < 0 ? 0 : (uint32_t)pi;
        m->kind = rm->kind;
        m->max_context = rm->max_context;
        m->max_output_tokens = rm->max_output_tokens;
        m->streaming = rm->streaming;
        m->vision = rm->vision;
        m->input_per_m = rm->price.input_per_m;
        m->output_per_m = rm->price.output_per_m;
        m->scores = rm->scores;
        m->nscores = rm->nscores;
        m->latency_ms = rm->latency_ms;
        m->tokens_per_s = rm->tokens_per_s;
        m->pos = rm->pos;
    }
    *models_out = models;
    return TG_OK;
}

static const char *
region_list(const struct tg_region_set *r, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (uint32_t i = 0; i < r->nregions && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%s", i ? ", " : "", r->regions[i]);
    return buf;
}

static bool
tag_admits(const struct tg_export_tag *t, const char *jur)
{
    if (t->has_allow) {
        bool in = false;
        for (uint32_t i = 0; i < t->nallow; i++)
            if (strcasecmp(t->allow[i], jur) == 0)
                in = true;
        if (!in)
            return false;
    }
    for (uint32_t i = 0; i < t->ndeny; i++)
        if (strcasecmp(t->deny[i], jur) == 0)
            return false;
    return true;
}

static int
resolve_rule(struct tg__ld *ld, const struct rrule *rr, struct tg_route_rule *r)
{
    struct tg_policy *p = ld->p;
    const struct rcand *cands[TG_MAX_CHAIN];
    uint32_t nc = 0;
    char b[200];

    r->category = rr->category.s;
    r->pos = rr->pos;
    r->quality_threshold = rr->quality_threshold;
    r->quality_metric = rr->metric.s ? rr->metric.s : "humaneval";
    r->aliases = rr->aliases;
    r->naliases = rr->naliases;
    r->max_cost_per_request = rr->max_cost;
    r->timeout_ms = rr->timeout_ms;
    r->deadline_ms = rr->deadline_ms;
    if (r->deadline_ms != 0 && r->deadline_ms < r->timeout_ms)
        tg__diag_at(ld, TG_DIAG_WARNING, &rr->deadline_pos,
                    "rule '%s': deadline_ms %u is shorter than timeout_ms %u, so the primary attempt is cut short",
                    rr->category.s, r->deadline_ms, r->timeout_ms);
    r->pii_allowed = rr->pii_allowed;
    r->export_controlled = rr->export_controlled;
    r->residency = -1;
    if (rr->residency.s != NULL) {
        r->residency = tg_policy_region_index(p, rr->residency.s);
        if (r->residency < 0) {
            struct tg__ref ref = rr->residency;
            if (ref.pos.line == 0)
                ref.pos = rr->pos;
            unknown_ref(ld, &ref, "data_residency region label", p->regions, sizeof(*p->regions),
                        offsetof(struct tg_region_set, label), p->nregions);
        }
    }

    cands[nc++] = &rr->primary;
    for (uint32_t i = 0; i < rr->nfallback && nc < TG_MAX_CHAIN; i++)
        cands[nc++] = &rr->fallback[i];

    r->chain = tg_arena_calloc(&p->arena, nc, sizeof(*r->chain));
    if (r->chain == NULL)
        return TG_ENOMEM;

    bool any_meets = false, any_scored = false;
    for (uint32_t i = 0; i < nc; i++) {
        const struct rcand *c = cands[i];
        const char *role = i == 0 ? "primary" : "fallback";
        if (c->model.s == NULL || c->provider.s == NULL)
            continue;   /* missing key already reported */
        int32_t mi = tg_policy_model_index(p, c->model.s);
        int32_t pi = find_provider(p, c->provider.s);
        if (pi < 0)
            unknown_ref(ld, &c->provider, "provider", p->providers, sizeof(*p->providers),
                        offsetof(struct tg_provider, id), p->nproviders);
        if (mi < 0) {
            unknown_ref(ld, &c->model, "model", p->models, sizeof(*p->models),
                        offsetof(struct tg_model, id), p->nmodels);
            continue;
        }
        const struct tg_model *m = &p->models[mi];
        const struct tg_provider *pv = &p->providers[m->provider];
        if (pi >= 0 && (uint32_t)pi != m->provider) {
            tg__diag_at(ld, TG_DIAG_ERROR, &c->model.pos,
                        "model '%s' belongs to provider '%s', not '%s'", m->id, pv->id, c->provider.s);
            continue;
        }
        for (uint32_t j = 0; j < r->nchain; j++)
            if (r->chain[j] == (uint32_t)mi)
                tg__diag_at(ld, TG_DIAG_WARNING, &c->pos,
                            "rule '%s': model '%s' appears twice in the chain", r->category, m->id);
        r->chain[r->nchain++] = (uint32_t)mi;

        if (c->max_context_pos.line != 0 && c->max_context != m->max_context)
            tg__diag_at(ld, TG_DIAG_WARNING, &c->max_context_pos,
                        "max_context %u differs from the registry's %u for model '%s' (the registry's value is used)",
                        c->max_context, m->max_context, m->id);
        if (c->streaming_pos.line != 0 && c->streaming != m->streaming)
            tg__diag_at(ld, TG_DIAG_WARNING, &c->streaming_pos,
                        "streaming: %s differs from the registry's %s for model '%s' (the registry's value is used)",
                        c->streaming ? "true" : "false", m->streaming ? "true" : "false", m->id);

        /* Residency: a candidate the rule's own label never admits is dead
         * weight at best, and a compliance smell at worst. */
        if (r->residency >= 0 && !tg_policy_region_admits(p, r->residency, pv->region)) {
            const struct tg_region_set *rs = &p->regions[r->residency];
            tg__diag_at(ld, TG_DIAG_WARNING, &c->pos,
                        "%s '%s' (provider '%s', region '%s') can never be compliant: rule '%s' has data_residency '%s', which admits only [%s]",
                        role, m->id, pv->id, pv->region, r->category, rs->label,
                        region_list(rs, b, sizeof(b)));
        }
        double sc = tg_model_score(m, r->quality_metric);
        if (!isnan(r->quality_threshold)) {
            if (isnan(sc)) {
                tg__diag_at(ld, TG_DIAG_WARNING, &c->pos,
                            "%s '%s' has no '%s' score: quality_threshold %g cannot be checked (never eligible)",
                            role, m->id, r->quality_metric, r->quality_threshold);
            } else {
                any_scored = true;
                if (sc >= r->quality_threshold)
                    any_meets = true;
                else
                    tg__diag_at(ld, TG_DIAG_WARNING, &c->pos,
                                "%s '%s' scores %g on '%s', below quality_threshold %g (never eligible)",
                                role, m->id, sc, r->quality_metric, r->quality_threshold);
            }
        }
        if (isfinite(r->max_cost_per_request) && (isnan(m->input_per_m) || isnan(m->output_per_m)))
            tg__diag_at(ld, TG_DIAG_WARNING, &c->pos,
                        "%s '%s' has no %s price: its cost cannot be checked against max_cost_per_request %g (never eligible)",
                        role, m->id, isnan(m->input_per_m) ? "input" : "output", r->max_cost_per_request);
    }
    if (!isnan(r->quality_threshold) && any_scored && !any_meets && r->nchain > 0)
        tg__diag_at(ld, TG_DIAG_WARNING, &rr->qt_pos,
                    "rule '%s': no candidate meets quality_threshold %g on '%s'",
                    r->category, r->quality_threshold, r->quality_metric);

    /* PII: a rule that allows PII but whose candidates' providers all refuse
     * it will deny every request that contains PII. */
    if (r->pii_allowed && r->nchain > 0) {
        bool any = false;
        for (uint32_t i = 0; i < r->nchain; i++)
            if (p->providers[p->models[r->chain[i]].provider].pii_allowed)
                any = true;
        if (!any)
            tg__diag_at(ld, TG_DIAG_WARNING, &rr->pos,
                        "rule '%s' allows PII but no candidate's provider has pii_allowed: true, so requests with PII are denied",
                        r->category);
    }
    /* Export: for each defined tag, some candidate must pass it. */
    if (r->export_controlled && r->nchain > 0) {
        for (uint32_t t = 0; t < p->ntags; t++) {
            bool any = false;
            for (uint32_t i = 0; i < r->nchain; i++)
                if (tag_admits(&p->tags[t], p->providers[p->models[r->chain[i]].provider].jurisdiction))
                    any = true;
            if (!any)
                tg__diag_at(ld, TG_DIAG_WARNING, &rr->export_pos,
                            "rule '%s' is export_controlled but no candidate passes export tag '%s': requests tagged '%s' are denied",
                            r->category, p->tags[t].name, p->tags[t].name);
        }
    }
    return TG_OK;
}

static int
hex_nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A certificate fingerprint: 64 hex digits, or 32 colon-separated pairs
 * as `openssl x509 -fingerprint -sha256` prints them. */
static bool
parse_fingerprint(const char *s, uint8_t out[32])
{
    size_t n = strlen(s);
    bool colons = n == 95;

    if (n != 64 && !colons)
        return false;
    for (size_t j = 0; j < 32; j++) {
        const char *c = s + (colons ? 3 * j : 2 * j);
        int hi = hex_nibble(c[0]), lo = hex_nibble(c[1]);
        if (hi < 0 || lo < 0 || (colons && j < 31 && c[2] != ':'))
            return false;
        out[j] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

/* A small open-addressing set of tenants, by id or by key hash. */
struct slots {
    const struct tg_tenant **v;
    uint32_t mask;
};

static int
slots_init(struct tg__ld *ld, struct slots *s, uint32_t n)
{
    uint32_t size = 16;
    while (size < 2 * n)
        size *= 2;
    s->v = tg_arena_calloc(&ld->tmp, size, sizeof(*s->v));
    s->mask = size - 1;
    return s->v == NULL ? TG_ENOMEM : TG_OK;
}

static uint32_t
tenant_hash(const struct tg_tenant *t, bool by_key)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    if (by_key)
        return (uint32_t)t->key_sha256[0] | (uint32_t)t->key_sha256[1] << 8 |
               (uint32_t)t->key_sha256[2] << 16 | (uint32_t)t->key_sha256[3] << 24;
    for (const char *c = t->id; *c; c++)
        h = (h ^ (uint8_t)*c) * 16777619u;
    return h;
}

static const struct tg_tenant *
slot_find(const struct slots *s, const struct tg_tenant *t, bool by_key)
{
    for (uint32_t i = tenant_hash(t, by_key) & s->mask; s->v[i] != NULL; i = (i + 1) & s->mask) {
        const struct tg_tenant *o = s->v[i];
        if (by_key ? memcmp(o->key_sha256, t->key_sha256, 32) == 0 : strcmp(o->id, t->id) == 0)
            return o;
    }
    return NULL;
}

static void
slot_add(struct slots *s, const struct tg_tenant *t, bool by_key)
{
    uint32_t i = tenant_hash(t, by_key) & s->mask;
    while (s->v[i] != NULL)
        i = (i + 1) & s->mask;
    s->v[i] = t;
}

/* Tenant restrictions that make a category it may use always deny. */
static void
tenant_warnings(struct tg__ld *ld, const struct rtenant *rt, const struct tg_tenant *t)
{
    const struct tg_policy *p = ld->p;
    for (uint32_t i = 0; i < p->nrules; i++) {
        const struct tg_route_rule *r = &p->rules[i];
        bool allowed = t->ncategories == 0;
        for (uint32_t j = 0; j < t->ncategories; j++)
            if (strcmp(t->categories[j], r->category) == 0)
                allowed = true;
        if (!allowed || r->nchain == 0)
            continue;
        if (t->residency >= 0) {
            /* Memoised per (label, rule): tenants share a few labels, and
             * 65536 tenants x 1024 rules x 16 candidates is too much work. */
            signed char *m = ld->res_memo ? &ld->res_memo[(size_t)t->residency * p->nrules + i] : NULL;
            bool any = false;
            if (m != NULL && *m != 0) {
                any = *m > 0;
            } else {
                for (uint32_t j = 0; j < r->nchain; j++) {
                    const char *region = p->providers[p->models[r->chain[j]].provider].region;
                    if (tg_policy_region_admits(p, t->residency, region) &&
                        tg_policy_region_admits(p, r->residency, region))
                        any = true;
                }
                if (m != NULL)
                    *m = any ? 1 : -1;
            }
            if (!any)
                tg__diag_at(ld, TG_DIAG_WARNING, &rt->residency.pos,
                            "tenant '%s': data_residency '%s' admits no candidate of rule '%s', so its '%s' requests are denied",
                            t->id, p->regions[t->residency].label, r->category, r->category);
        }
        if (t->nexport_tags > 0 && !r->export_controlled && t->ncategories > 0)
            tg__diag_at(ld, TG_DIAG_WARNING, &rt->tags[0].pos,
                        "tenant '%s' always carries export tag '%s' but rule '%s' is not export_controlled, so its '%s' requests are denied",
                        t->id, t->export_tags[0], r->category, r->category);
    }
}

static int
resolve_tenants(struct tg__ld *ld, const struct fconf *cfg)
{
    struct tg_policy *p = ld->p;
    if (cfg->ntenants > TG_MAX_TENANTS) {
        tg__diag_at(ld, TG_DIAG_ERROR, &cfg->tenants[TG_MAX_TENANTS].pos, "more than %u tenants", TG_MAX_TENANTS);
        return TG_OK;
    }
    p->tenants = tg_arena_calloc(&p->arena, cfg->ntenants ? cfg->ntenants : 1, sizeof(*p->tenants));
    if (p->tenants == NULL)
        return TG_ENOMEM;
    /* Up to TG_MAX_TENANTS: duplicate checks go through hash sets. */
    struct slots ids, keys;
    if (slots_init(ld, &ids, cfg->ntenants) != TG_OK || slots_init(ld, &keys, cfg->ntenants) != TG_OK)
        return TG_ENOMEM;
    if (p->nregions > 0 && p->nrules > 0 &&
        (ld->res_memo = tg_arena_calloc(&ld->tmp, (size_t)p->nregions * p->nrules, 1)) == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < cfg->ntenants; i++) {
        const struct rtenant *rt = &cfg->tenants[i];
        struct tg_tenant *t = &p->tenants[p->ntenants];
        if (rt->id.s == NULL)
            continue;
        if (*rt->id.s == '\0') {
            tg__diag_at(ld, TG_DIAG_ERROR, &rt->id.pos, "tenant id must not be empty");
            continue;
        }
        t->id = rt->id.s;
        t->pos = rt->pos;
        t->pii_allowed = rt->pii_allowed;
        t->max_cost_per_request = rt->max_cost;
        t->requests_per_minute = rt->rpm;
        t->residency = -1;
        const struct tg_tenant *first = slot_find(&ids, t, false);
        if (first != NULL)
            tg__diag_at(ld, TG_DIAG_ERROR, &rt->id.pos, "duplicate tenant id '%s' (first at line %u)",
                        t->id, first->pos.line);
        else
            slot_add(&ids, t, false);
        if (rt->key.s != NULL) {
            const char *k = rt->key.s;
            bool ok = strlen(k) == 64;
            for (size_t j = 0; ok && j < 32; j++) {
                int hi = hex_nibble(k[2 * j]), lo = hex_nibble(k[2 * j + 1]);
                if (hi < 0 || lo < 0)
                    ok = false;
                else
                    t->key_sha256[j] = (uint8_t)(hi << 4 | lo);
            }
            if (!ok) {
                tg__diag_at(ld, TG_DIAG_ERROR, &rt->key.pos,
                            "tenant '%s': api_key_sha256 must be 64 hex digits (the SHA-256 of the client's bearer token)", t->id);
            } else {
                t->has_key = true;
                const struct tg_tenant *other = slot_find(&keys, t, true);
                if (other != NULL)
                    tg__diag_at(ld, TG_DIAG_ERROR, &rt->key.pos,
                                "tenant '%s': api_key_sha256 already used by tenant '%s'", t->id, other->id);
                else
                    slot_add(&keys, t, true);
            }
        }
        if (rt->cert.s != NULL) {
            if (!parse_fingerprint(rt->cert.s, t->cert_sha256)) {
                tg__diag_at(ld, TG_DIAG_ERROR, &rt->cert.pos,
                            "tenant '%s': client_cert_sha256 must be the SHA-256 of the client certificate (DER) "
                            "as 64 hex digits, colons allowed (openssl x509 -noout -fingerprint -sha256)", t->id);
            } else {
                t->has_cert = true;
                for (uint32_t j = 0; j < p->ntenants; j++)
                    if (p->tenants[j].has_cert && memcmp(p->tenants[j].cert_sha256, t->cert_sha256, 32) == 0) {
                        tg__diag_at(ld, TG_DIAG_ERROR, &rt->cert.pos,
                                    "tenant '%s': client_cert_sha256 already used by tenant '%s'", t->id,
                                    p->tenants[j].id);
                        break;
                    }
            }
        }
        if (rt->residency.s != NULL) {
            t->residency = tg_policy_region_index(p, rt->residency.s);
            if (t->residency < 0)
                unknown_ref(ld, &rt->residency, "data_residency region label", p->regions,
                            sizeof(*p->regions), offsetof(struct tg_region_set, label), p->nregions);
        }
        t->export_tags = tg_arena_calloc(&p->arena, rt->ntags ? rt->ntags : 1, sizeof(*t->export_tags));
        t->categories = tg_arena_calloc(&p->arena, rt->ncats ? rt->ncats : 1, sizeof(*t->categories));
        if (t->export_tags == NULL || t->categories == NULL)
            return TG_ENOMEM;
        for (uint32_t j = 0; j < rt->ntags; j++) {
            const struct tg_export_tag *tag = tg_policy_export_tag(p, rt->tags[j].s);
            if (tag == NULL)
                unknown_ref(ld, &rt->tags[j], "export tag", p->tags, sizeof(*p->tags),
                            offsetof(struct tg_export_tag, name), p->ntags);
            else
                t->export_tags[t->nexport_tags++] = tag->name;
        }
        for (uint32_t j = 0; j < rt->ncats; j++) {
            const struct tg_route_rule *r = tg_policy_rule(p, rt->cats[j].s);
            if (r == NULL)
                unknown_ref(ld, &rt->cats[j], "category", p->rules, sizeof(*p->rules),
                            offsetof(struct tg_route_rule, category), p->nrules);
            else
                t->categories[t->ncategories++] = r->category;
        }
        if (rt->default_category.s != NULL) {
            const struct tg_route_rule *r = tg_policy_rule(p, rt->default_category.s);
            if (r == NULL)
                unknown_ref(ld, &rt->default_category, "category", p->rules, sizeof(*p->rules),
                            offsetof(struct tg_route_rule, category), p->nrules);
            else
                t->default_category = r->category;
        }
        tenant_warnings(ld, rt, t);
        p->ntenants++;
    }
    return TG_OK;
}

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
    if (!file_exists(path))
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
static void
check_tls(struct tg__ld *ld, const struct tg_policy *p)
{
    const struct tg_tls_cfg *t = &p->server.tls;

    for (uint32_t i = 0; i < p->ntenants; i++)
        if (p->tenants[i].has_cert && (t->cert == NULL || t->client_ca == NULL)) {
            tg__diag_at(ld, TG_DIAG_WARNING, &p->tenants[i].pos,
                        "tenant '%s' has client_cert_sha256 but server.tls.client_ca is not set: "
                        "client certificates are never asked for", p->tenants[i].id);
            break;
        }
}

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

static void
pack_diag(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    struct tg__ld *ld = ud;
    struct tg_pos copy = pos ? *pos : (struct tg_pos){ NULL, 0, 0 };
    /* The pack loader's file names may live in memory it frees: keep a copy. */
    if (copy.file != NULL && (copy.file = tg_arena_strdup(&ld->tmp, copy.file)) == NULL)
        ld->oom = true;
    tg__diag_at(ld, level, &copy, "%s", msg);
}

static bool
file_exists(const char *path)
{
    return access(path, R_OK) == 0;
}

/* Compile PII packs and markings; collect the files hashed into policy_version. */
static int
compile(struct tg__ld *ld, const struct fconf *cfg, const char *config_path, bool skip,
        const char **files, uint32_t *nfiles, struct tg_err *err)
{
    struct tg_policy *p = ld->p;
    struct tg_pii_detector_spec *all = NULL;
    size_t nall = 0;
    int rc;

    p->pii_packs = tg_arena_calloc(&p->arena, cfg->npacks ? cfg->npacks : 1, sizeof(*p->pii_packs));
    if (p->pii_packs == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < cfg->npacks; i++) {
        char *path = tg_policy_resolve_path(&p->arena, config_path, cfg->packs[i].s);
        if (path == NULL)
            return TG_ENOMEM;
        if (!file_exists(path)) {
            if (cfg->packs[i].pos.line != 0)
                tg__diag_at(ld, TG_DIAG_ERROR, &cfg->packs[i].pos, "PII pack not found: %s", cfg->packs[i].s);
            else   /* the default pack: an installation problem, not a config typo */
                tg__diag_at(ld, TG_DIAG_ERROR, &(struct tg_pos){ config_path, 1, 1 },
                            "default PII pack not found: %s (set policy.pii.packs, or TOLLGATE_HOME to the directory holding rules/)", path);
            continue;
        }
        p->pii_packs[p->npii_packs++] = path;
        files[(*nfiles)++] = path;
    }
    if (cfg->npacks == 0)
        tg__diag_at(ld, TG_DIAG_WARNING, &(struct tg_pos){ config_path, 1, 1 },
                    "policy.pii.packs is empty: no PII detection, every request passes the PII check");
    if (cfg->npacks == 0 && (cfg->resp_secrets != TG_RESP_PASS || cfg->resp_pii != TG_RESP_PASS))
        tg__diag_at(ld, TG_DIAG_WARNING, &(struct tg_pos){ config_path, 1, 1 },
                    "policy.response guards answers but policy.pii.packs is empty: nothing in an answer is found");

    const char *mpath = NULL;
    if (cfg->markings.s != NULL && *cfg->markings.s) {
        mpath = tg_policy_resolve_path(&p->arena, config_path, cfg->markings.s);
        if (mpath == NULL)
            return TG_ENOMEM;
        if (!file_exists(mpath)) {
            struct tg_pos pos = cfg->markings.pos.line ? cfg->markings.pos
                                                       : (struct tg_pos){ config_path, 1, 1 };
            tg__diag_at(ld, TG_DIAG_ERROR, &pos, "export markings file not found: %s", cfg->markings.s);
            mpath = NULL;
        } else {
            files[(*nfiles)++] = mpath;
        }
    }
    if (ld->nerrors > 0 || skip)
        return TG_OK;

    /* PII packs -> one spec array -> one database. */
    for (uint32_t i = 0; i < p->npii_packs; i++) {
        struct tg_pii_detector_spec *specs = NULL;
        size_t n = 0;
        struct tg_err e = {0};
        unsigned before = ld->nerrors;
        rc = tg_pii_pack_load(p->pii_packs[i], &ld->tmp, &specs, &n, pack_diag, ld, &e);
        if (rc == TG_ENOMEM)
            return tg_err_set(err, rc, "out of memory loading %s", p->pii_packs[i]);
        if (rc != TG_OK) {
            struct tg_pos pos = cfg->packs[i].pos.line ? cfg->packs[i].pos
                                                       : (struct tg_pos){ config_path, 1, 1 };
            if (ld->nerrors == before)   /* the pack loader said nothing itself */
                tg__diag_at(ld, TG_DIAG_ERROR, &pos, "PII pack %s: %s", cfg->packs[i].s,
                            e.msg[0] ? e.msg : "invalid");
            continue;
        }
        struct tg_pii_detector_spec *grown = tg_arena_calloc(&ld->tmp, nall + n + 1, sizeof(*grown));
        if (grown == NULL)
            return TG_ENOMEM;
        if (nall)
            memcpy(grown, all, nall * sizeof(*grown));
        if (n)
            memcpy(grown + nall, specs, n * sizeof(*grown));
        all = grown;
        nall += n;
    }
    if (ld->nerrors > 0)
        return TG_OK;
    /* Packs a listed pack includes are hashed too: editing one is a policy
     * change.  Every spec names its file; add each file once. */
    for (size_t i = 0; i < nall; i++) {
        bool seen = all[i].file == NULL;
        for (uint32_t k = 0; !seen && k < *nfiles; k++)
            seen = strcmp(files[k], all[i].file) == 0;
        if (seen)
            continue;
        if (*nfiles >= TG_MAX_PACK_FILES) {
            tg__diag_at(ld, TG_DIAG_ERROR, &(struct tg_pos){ config_path, 1, 1 },
                        "more than %u PII pack files (with includes)", TG_MAX_PACK_FILES);
            return TG_OK;
        }
        files[(*nfiles)++] = tg_arena_strdup(&p->arena, all[i].file);
        if (files[*nfiles - 1] == NULL)
            return TG_ENOMEM;
    }
    for (size_t i = 0; i < nall; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(all[i].id, all[j].id) == 0) {
                struct tg_pos pos = { all[i].file, all[i].line, all[i].col };
                tg__diag_at(ld, TG_DIAG_ERROR, &pos, "PII detector id '%s' defined twice (packs overlap)", all[i].id);
                break;
            }
    if (ld->nerrors > 0)
        return TG_OK;
    {
        struct tg_err e = {0};
        rc = tg_pii_db_build(all, nall, &p->pii, &e);
        if (rc == TG_ENOMEM)
            return tg_err_set(err, rc, "out of memory compiling PII packs");
        if (rc != TG_OK) {
            struct tg_pos pos = cfg->npacks && cfg->packs[0].pos.line ? cfg->packs[0].pos
                                                                      : (struct tg_pos){ config_path, 1, 1 };
            tg__diag_at(ld, TG_DIAG_ERROR, &pos, "PII packs: %s", e.msg);
            return TG_OK;
        }
    }

    if (mpath != NULL) {
        struct mconf mc = {0};
        char *buf;
        size_t len;
        const char *mfile = tg_arena_strdup(&p->arena, mpath);
        if (mfile == NULL)
            return TG_ENOMEM;
        rc = read_file(mpath, &ld->tmp, &buf, &len, err);
        if (rc == TG_ENOMEM)
            return rc;
        if (rc != TG_OK) {
            tg__diag_at(ld, TG_DIAG_ERROR, &cfg->markings.pos, "%s", err->msg);
            return TG_OK;
        }
        if ((rc = load_tree(ld, mfile, buf, len, markings_root_tab, &mc)) != TG_OK)
            return rc;
        if (ld->nerrors > 0)
            return TG_OK;
        for (uint32_t i = 0; i < mc.n; i++)
            if (tg_policy_export_tag(p, mc.specs[i].tag) == NULL) {
                struct tg_pos pos = { mc.specs[i].file, mc.specs[i].line, mc.specs[i].col };
                tg__diag_at(ld, TG_DIAG_WARNING, &pos,
                            "marking '%s' implies export tag '%s', which policy.export_control.tags does not define (requests with it are denied)",
                            mc.specs[i].id, mc.specs[i].tag);
            }
        struct tg_err e = {0};
        rc = tg_markings_build(mc.specs, mc.n, &p->markings, &e);
        if (rc == TG_ENOMEM)
            return tg_err_set(err, rc, "out of memory compiling markings");
        if (rc != TG_OK) {
            struct tg_pos pos = { mfile, 1, 1 };
            tg__diag_at(ld, TG_DIAG_ERROR, &pos, "export markings: %s", e.msg);
        }
    }
    return TG_OK;
}

static int
diag_cmp(const void *a, const void *b)
{
    const struct tg__diag *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    if (x->pos.line != y->pos.line) return x->pos.line < y->pos.line ? -1 : 1;
    if (x->pos.col != y->pos.col) return x->pos.col < y->pos.col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
emit_diags(struct tg__ld *ld)
{
    if (ld->ndiags > 1)
        qsort(ld->diags, ld->ndiags, sizeof(*ld->diags), diag_cmp);
    for (unsigned i = 0; i < ld->ndiags; i++) {
        if (ld->diag != NULL)
            ld->diag(ld->diag_ud, ld->diags[i].level, &ld->diags[i].pos, ld->diags[i].msg);
        free(ld->diags[i].msg);
    }
    free(ld->diags);
    ld->diags = NULL;
    ld->ndiags = ld->cap_diags = 0;
}

static void
init_fconf(struct fconf *fc)
{
    memset(fc, 0, sizeof(*fc));
}

/* Default export tags (docs/interface.md §2) when policy.export_control.tags is absent. */
static int
default_tags(struct tg__ld *ld)
{
    static const char *const itar_allow[] = { "US" };
    static const char *const ear_deny[] = { "CN", "RU", "IR", "KP", "CU", "SY" };
    struct tg_policy *p = ld->p;
    p->tags = tg_arena_calloc(&p->arena, 2, sizeof(*p->tags));
    if (p->tags == NULL)
        return TG_ENOMEM;
    p->tags[0] = (struct tg_export_tag){ .name = "itar", .has_allow = true,
        .allow = (const char **)itar_allow, .nallow = 1 };
    p->tags[1] = (struct tg_export_tag){ .name = "ear",
        .deny = (const char **)ear_deny, .ndeny = TG_ARRAY_LEN(ear_deny) };
    p->ntags = 2;
    return TG_OK;
}

static int
build(struct tg__ld *ld, const char *name, const char *buf, size_t len,
      const struct tg_load_opts *opts, struct tg_err *err)
{
    struct tg_policy *p = ld->p;
    struct fconf reg, cfg;
    struct rmodel *models = NULL;
    const char *files[TG_MAX_PACK_FILES + 2];
    uint32_t nfiles = 0;
    int rc;

    init_fconf(&reg);
    init_fconf(&cfg);

    const char *cfgname = tg_arena_strdup(&p->arena, name);
    if (cfgname == NULL)
        return TG_ENOMEM;
    p->source = cfgname;

    if (!opts->no_registry) {
        const char *rpath = opts->registry_path;
        char *rbuf;
        size_t rlen;
        if (rpath == NULL && (rpath = tg_arena_sprintf(&p->arena, "%s/rules/registry.yaml", tg_data_dir())) == NULL)
            return TG_ENOMEM;
        rpath = tg_arena_strdup(&p->arena, rpath);
        if (rpath == NULL)
            return TG_ENOMEM;
        rc = read_file(rpath, &ld->tmp, &rbuf, &rlen, err);
        if (rc != TG_OK)
            return rc == TG_ENOMEM ? rc : tg_err_set(err, TG_EIO, "registry: %s", err->msg);
        if ((rc = load_tree(ld, rpath, rbuf, rlen, reg_root_tab, &reg)) != TG_OK)
            return rc;
    }
    tg__ld_rank(ld, cfgname);
    if ((rc = load_tree(ld, cfgname, buf, len, root_tab, &cfg)) != TG_OK)
        return rc;
    /* A syntax error leaves nothing meaningful to resolve. */
    if (ld->nerrors > 0 && cfg.rules == NULL && cfg.nprov == 0 && cfg.nmodels == 0 &&
        cfg.version == NULL)
        return TG_OK;

    if ((rc = merge(ld, &reg, &cfg, &models)) != TG_OK)
        return rc;

    /* Export tags: the config's, or the contract's defaults. */
    if (cfg.tags_given) {
        p->tags = tg_arena_calloc(&p->arena, cfg.ntags ? cfg.ntags : 1, sizeof(*p->tags));
        if (p->tags == NULL)
            return TG_ENOMEM;
        for (uint32_t i = 0; i < cfg.ntags; i++) {
            p->tags[i] = cfg.tags[i].t;
            for (uint32_t j = 0; j < p->tags[i].nallow; j++)
                for (char *c = (char *)p->tags[i].allow[j]; *c; c++)
                    *c = (char)toupper((unsigned char)*c);
            for (uint32_t j = 0; j < p->tags[i].ndeny; j++)
                for (char *c = (char *)p->tags[i].deny[j]; *c; c++)
                    *c = (char)toupper((unsigned char)*c);
        }
        p->ntags = cfg.ntags;
    } else if ((rc = default_tags(ld)) != TG_OK) {
        return rc;
    }

    /* Rules. */
    if (cfg.nrules > TG_MAX_RULES) {
        tg__diag_at(ld, TG_DIAG_ERROR, &cfg.rules[TG_MAX_RULES].pos, "more than %u routing rules", TG_MAX_RULES);
        cfg.nrules = TG_MAX_RULES;
    }
    p->rules = tg_arena_calloc(&p->arena, cfg.nrules ? cfg.nrules : 1, sizeof(*p->rules));
    if (p->rules == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < cfg.nrules; i++) {
        const struct rrule *rr = &cfg.rules[i];
        if (rr->category.s == NULL)
            continue;
        if (*rr->category.s == '\0') {
            tg__diag_at(ld, TG_DIAG_ERROR, &rr->category.pos, "category must not be empty");
            continue;
        }
        const struct tg_route_rule *dup = tg_policy_rule(p, rr->category.s);
        if (dup != NULL) {
            tg__diag_at(ld, TG_DIAG_ERROR, &rr->category.pos,
                        "duplicate category '%s' (first rule at line %u)", rr->category.s, dup->pos.line);
            continue;
        }
        if ((rc = resolve_rule(ld, rr, &p->rules[p->nrules])) != TG_OK)
            return rc;
        p->nrules++;
    }
    if (cfg.nrules == 0)
        tg__diag_at(ld, TG_DIAG_WARNING, &(struct tg_pos){ cfgname, 1, 1 },
                    "no routing_rules: every request is denied (unknown category)");
    /* An alias selects exactly one rule: one naming two rules, or naming
     * another rule's category, would make the category depend on order. */
    for (uint32_t i = 0; i < p->nrules; i++)
        for (uint32_t k = 0; k < p->rules[i].naliases; k++) {
            const char *al = p->rules[i].aliases[k];
            const struct tg_route_rule *other = tg_policy_rule(p, al);
            if (other != NULL && other != &p->rules[i])
                tg__diag_at(ld, TG_DIAG_ERROR, &p->rules[i].pos,
                            "rule '%s': alias '%s' is the category of another rule", p->rules[i].category, al);
            for (uint32_t j = 0; j < i; j++)
                for (uint32_t m = 0; m < p->rules[j].naliases; m++)
                    if (strcmp(p->rules[j].aliases[m], al) == 0)
                        tg__diag_at(ld, TG_DIAG_ERROR, &p->rules[i].pos,
                                    "rule '%s': alias '%s' already selects rule '%s'", p->rules[i].category, al,
                                    p->rules[j].category);
        }

    if ((rc = resolve_tenants(ld, &cfg)) != TG_OK)
        return rc;

    /* Scalars. */
    p->version = cfg.version ? cfg.version : "";
    p->mode = (enum tg_mode)cfg.mode;
    p->pii_min_score = cfg.min_score;
    p->pii_action = (enum tg_pii_action)cfg.action;
    p->deny_secrets = cfg.deny_secrets;
    p->resp_secrets = (enum tg_resp_action)cfg.resp_secrets;
    p->resp_pii = (enum tg_resp_action)cfg.resp_pii;
    p->export_header = cfg.export_header ? cfg.export_header : "X-Export-Control";
    p->default_output_tokens = cfg.default_output_tokens;
    p->breaker = cfg.breaker;
    p->telemetry = cfg.telemetry;
    p->audit = cfg.audit;
    p->capture = cfg.capture;
    p->server = cfg.server;
    if (p->server.listen == NULL)
        p->server.listen = "127.0.0.1:8080";
    check_tls(ld, p);
    if (p->telemetry.enabled && (p->telemetry.endpoint == NULL || !*p->telemetry.endpoint))
        tg__diag_at(ld, TG_DIAG_WARNING, &(struct tg_pos){ cfgname, 1, 1 },
                    "telemetry is enabled but has no endpoint");

    if (cfg.npacks > 64) {
        tg__diag_at(ld, TG_DIAG_ERROR, &cfg.packs[64].pos, "more than 64 PII packs");
        cfg.npacks = 64;
    }
    if ((rc = compile(ld, &cfg, cfgname, opts->skip_compile, files, &nfiles, err)) != TG_OK)
        return rc;
    if ((rc = load_allow(ld, &cfg)) != TG_OK)
        return rc;
    if (ld->nerrors > 0)
        return TG_OK;
    return tg__policy_hash(p, files, nfiles, err);
}

static int
load(const char *name, const char *buf, size_t len, const struct tg_load_opts *opts,
     struct tg_policy **out, struct tg_err *err)
{
    static const struct tg_load_opts no_opts;
    struct tg__ld ld;
    struct tg_policy *p;
    int rc;

    if (opts == NULL)
        opts = &no_opts;
    memset(&ld, 0, sizeof(ld));
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    atomic_init(&p->refs, 1);
    tg_arena_init(&p->arena, 64 * 1024);
    tg_arena_init(&ld.tmp, 64 * 1024);
    ld.p = p;
    ld.diag = opts->diag;
    ld.diag_ud = opts->diag_ud;

    rc = build(&ld, name, buf, len, opts, err);
    if (rc == TG_OK && ld.oom)
        rc = TG_ENOMEM;
    if (rc == TG_ENOMEM)
        tg_err_set(err, TG_ENOMEM, "out of memory loading %s", name);
    emit_diags(&ld);
    if (rc == TG_OK && ld.nerrors > 0)
        rc = tg_err_set(err, TG_EPOLICY, "%u error%s, %u warning%s", ld.nerrors,
                        ld.nerrors == 1 ? "" : "s", ld.nwarnings, ld.nwarnings == 1 ? "" : "s");
    tg_arena_free(&ld.tmp);
    if (rc != TG_OK) {
        tg_policy_unref(p);
        return rc;
    }
    *out = p;
    return TG_OK;
}

int
tg_policy_load_buffer(const char *name, const char *buf, size_t len,
                      const struct tg_load_opts *opts, struct tg_policy **out, struct tg_err *err)
{
    return load(name ? name : "<buffer>", buf, len, opts, out, err);
}

int
tg_policy_load(const char *path, const struct tg_load_opts *opts, struct tg_policy **out,
               struct tg_err *err)
{
    struct tg_arena a;
    char *buf;
    size_t len;
    int rc;

    tg_arena_init(&a, 0);
    rc = read_file(path, &a, &buf, &len, err);
    if (rc == TG_OK)
        rc = load(path, buf, len, opts, out, err);
    tg_arena_free(&a);
    return rc;
}
