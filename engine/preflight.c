/*
 * preflight.c — the one decision function (docs/interface.md §3) and its JSON (§4).
 *
 * Order of evaluation, for a request and the category's chain:
 *   1. request-level facts: tenant, category, export tags (header ∪ tenant ∪
 *      content markings), PII findings.  A missing or unknown tenant or
 *      category is a deny before any candidate is looked at (fail closed).
 *   2. per candidate, compliance: residency (rule, tenant), PII (rule,
 *      tenant, provider; secrets), export control (per tag, rule flag).
 *   3. per candidate, routing constraints: cost (rule, tenant), quality,
 *      context, breaker.
 *   4. route = compliant and eligible candidates in chain order; verdict.
 *
 * Every reason is computed for every candidate (not just the first), so a
 * compliance officer sees all the grounds at once, and dry-run can count
 * by rule id.  Messages name models, providers, regions, tags and entity
 * types, never request text.
 *
 * Audit mode: the verdict is computed exactly as in enforce mode and
 * reported with enforced=false.  The route is the enforce-mode route when
 * there is one; when enforce would deny, the route is every candidate that
 * passes the routing constraints (cost/quality/context/breaker) ignoring
 * compliance, so the gateway can still serve while recording the deny.
 */
#include "engine/preflight.h"
#include "engine/decision_text.h"
#include "engine/cost.h"
#include "engine/limits.h"
#include "engine/markings.h"
#include "engine/placeholder.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Cost comparisons tolerate binary rounding: a ceiling of 0.05 must admit
 * a request that costs exactly 0.05 in decimal. */
#define TG__COST_EPS 1e-12

struct reasons {
    struct tg_reason *v;
    uint32_t n, cap;
};

static int
reason_add(struct reasons *rs, struct tg_arena *a, const char *rule, const char *msg)
{
    if (rule == NULL || msg == NULL)
        return TG_ENOMEM;
    if (rs->n == rs->cap) {
        uint32_t ncap = rs->cap ? rs->cap * 2 : 8;
        struct tg_reason *nv = tg_arena_calloc(a, ncap, sizeof(*nv));
        if (nv == NULL)
            return TG_ENOMEM;
        if (rs->n)
            memcpy(nv, rs->v, rs->n * sizeof(*nv));
        rs->v = nv;
        rs->cap = ncap;
    }
    rs->v[rs->n].rule = rule;
    rs->v[rs->n].message = msg;
    rs->n++;
    return TG_OK;
}

const char *
tg_verdict_name(enum tg_verdict v)
{
    switch (v) {
    case TG_ALLOW:  return "allow";
    case TG_REDACT: return "redact";
    case TG_DENY:   return "deny";
    }
    return "deny";
}

static void
decision_init(const struct tg_policy *p, struct tg_decision *out)
{
    memset(out, 0, sizeof(*out));
    out->verdict = TG_DENY;
    out->enforced = p == NULL || p->mode != TG_MODE_AUDIT;
    out->policy_version = p != NULL ? p->policy_version : "";
}

int
tg_preflight_malformed(const struct tg_policy *p, const char *tenant, const char *feature,
                       const char *category, const char *why, struct tg_arena *a,
                       struct tg_decision *out)
{
    struct reasons rs = {0};
    decision_init(p, out);
    out->tenant = tenant;
    out->feature = feature;
    out->category = category;
    if (tenant != NULL && p != NULL)
        out->tenant_cfg = tg_policy_tenant(p, tenant);
    if (category != NULL && p != NULL)
        out->rule = tg_policy_rule(p, category);
    int rc = reason_add(&rs, a, "request.malformed",
                        tg_arena_sprintf(a, "malformed request: %s",
                                         why != NULL ? why : "unparseable body"));
    out->reasons = rs.v;
    out->nreasons = rs.n;
    return rc;
}

/* ---- request-level facts ------------------------------------------------ */

static int
add_tag(const char **tags, uint32_t *n, const char *t, bool *over)
{
    for (uint32_t k = 0; k < *n; k++)
        if (strcmp(tags[k], t) == 0)
            return TG_OK;
    if (*n >= TG_MAX_EXPORT_TAGS) {
        *over = true;
        return TG_OK;
    }
    tags[(*n)++] = t;
    return TG_OK;
}

static int
collect_tags(const struct tg_policy *p, const struct tg_request *req, struct tg_arena *a,
             struct tg_decision *out, bool *over)
{
    const char **tags = tg_arena_calloc(a, TG_MAX_EXPORT_TAGS, sizeof(*tags));
    uint32_t n = 0;
    if (tags == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < req->nexport_tags; i++)
        add_tag(tags, &n, req->export_tags[i], over);
    if (out->tenant_cfg != NULL)
        for (uint32_t i = 0; i < out->tenant_cfg->nexport_tags; i++)
            add_tag(tags, &n, out->tenant_cfg->export_tags[i], over);
    if (p->markings != NULL)
        for (uint32_t i = 0; i < req->nparts && n < TG_MAX_EXPORT_TAGS; i++)
            n = tg_markings_scan(p->markings, req->parts[i].text, req->parts[i].len,
                                 tags, n, TG_MAX_EXPORT_TAGS);
    out->export_tags = tags;
    out->nexport_tags = n;
    return TG_OK;
}

/* Take allowed findings out of d->findings (policy, rule, tenant lists,
 * then the role-mailbox entry) and count them per entity. */
static int
apply_allow(const struct tg_policy *p, const struct tg_request *req, struct tg_arena *a,
            struct tg_decision *d, struct tg_err *err)
{
    if (req->allow_lists_off)
        return TG_OK;
    struct tg_allow_scope sc = {
        .lists = { p->pii_allow, d->rule ? d->rule->pii_allow : NULL,
                   d->tenant_cfg ? d->tenant_cfg->pii_allow : NULL },
        .nlists = { p->npii_allow, d->rule ? d->rule->npii_allow : 0,
                    d->tenant_cfg ? d->tenant_cfg->npii_allow : 0 },
        .role = p->role_allow,
        .special_ip = p->special_ip_allow,
    };
    int rc = tg_allow_apply(&sc, req->parts, req->nparts, &d->findings, a,
                            &d->allow_hits, &d->nallow_hits, err);
    if (rc != TG_OK || d->nallow_hits == 0)
        return rc;
    struct tg_pii_count *pc = tg_arena_calloc(a, d->nallow_hits, sizeof(*pc));
    if (pc == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory counting allowed findings");
    uint32_t np = 0;
    for (uint32_t i = 0; i < d->nallow_hits; i++) {
        const struct tg_allow_entry *e = d->allow_hits[i].entry;
        uint32_t k = 0;
        while (k < np && strcmp(pc[k].entity, e->entity) != 0)
            k++;
        if (k == np)
            pc[np++].entity = e->entity;
        pc[k].count += d->allow_hits[i].count;
    }
    d->allowed = pc;
    d->nallowed = np;
    return TG_OK;
}

static int
scan_pii(const struct tg_policy *p, const struct tg_request *req,
         struct tg_pii_scratch *scratch, struct tg_arena *a, struct tg_decision *out,
         struct tg_err *err)
{
    if (p->pii != NULL) {
        if (scratch == NULL) {
            /* no scratch to scan with: cannot vouch for the text */
            out->findings.unscannable = true;
        } else {
            int rc = tg_pii_scan_request(p->pii, scratch, req, p->pii_min_score, a,
                                         &out->findings, err);
            if (rc == TG_ENOMEM)
                return rc;
            if (rc != TG_OK)
                out->findings.unscannable = true;   /* fail closed */
            else if ((rc = apply_allow(p, req, a, out, err)) != TG_OK)
                return rc;
        }
        /* a data URL we could neither decode to text nor classify as an
         * image/audio/video (a PDF, a zip): its content is unknown */
        if (req->opaque_payloads > 0)
            out->findings.unscannable = true;
    }
    if (req->placeholders_are_pii) {
        for (uint32_t i = 0; i < req->nparts; i++) {
            int rc = tg_placeholder_scan(req->parts[i].text, req->parts[i].len, i, a,
                                         &out->findings);
            if (rc == TG_ENOMEM)
                return tg_err_set(err, TG_ENOMEM, "out of memory scanning placeholders");
        }
    }

    /* per-entity counts, in first-seen order */
    uint32_t nf = out->findings.n;
    if (nf == 0)
        return TG_OK;
    struct tg_pii_count *pc = tg_arena_calloc(a, nf, sizeof(*pc));
    if (pc == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory counting findings");
    uint32_t np = 0;
    for (uint32_t i = 0; i < nf; i++) {
        const struct tg_finding *f = &out->findings.v[i];
        uint32_t k = 0;
        while (k < np && strcmp(pc[k].entity, f->entity) != 0)
            k++;
        if (k == np) {
            pc[np].entity = f->entity;
            pc[np].cls = f->cls;
            np++;
        }
        pc[k].count++;
        if (f->cls == TG_PII_CLASS_SECRET)
            pc[k].cls = TG_PII_CLASS_SECRET;
    }
    out->pii = pc;
    out->npii = np;
    return TG_OK;
}

/* ---- per-candidate checks ----------------------------------------------- */

struct facts {
    bool sensitive;        /* PII or secret found, or could not scan */
    bool secret;           /* a secret-class finding */
    bool unscannable;
    bool unredactable;     /* a finding in a part that cannot be masked in place */
    bool tags_over;        /* more tags than TG_MAX_EXPORT_TAGS */
    const char *entities;  /* "EMAIL_ADDRESS, US_SSN" for messages */
};

static const char *
region_label(const struct tg_policy *p, int32_t i)
{
    return i >= 0 && (uint32_t)i < p->nregions ? p->regions[i].label : "?";
}

static bool
in_list(const char *const *v, uint32_t n, const char *s)
{
    for (uint32_t i = 0; i < n; i++)
        if (s != NULL && strcasecmp(v[i], s) == 0)
            return true;
    return false;
}

/* Categories are ids, matched exactly like tg_policy_rule() does. */
static bool
tenant_may_use(const struct tg_tenant *t, const char *category)
{
    if (t->ncategories == 0)
        return true;
    for (uint32_t i = 0; i < t->ncategories; i++)
        if (strcmp(t->categories[i], category) == 0)
            return true;
    return false;
}

/* Residency, PII and export control.  Sets c->compliant and c->redact. */
static int
check_compliance(const struct tg_policy *p, const struct tg_route_rule *rule,
                 const struct tg_tenant *t, const struct tg_decision *d, const struct facts *fx,
                 struct tg_cand *c, struct reasons *rs, struct tg_arena *a)
{
    const struct tg_model *m = &p->models[c->model];
    const struct tg_provider *pv = &p->providers[m->provider];
    bool ok = true;
    int rc;
#define ADD(rule_id, ...)                                                          \
    do {                                                                           \
        if ((rc = reason_add(rs, a, (rule_id), tg_arena_sprintf(a, __VA_ARGS__))) != TG_OK) \
            return rc;                                                             \
    } while (0)

    /* 1. residency */
    if (rule->residency >= 0 && !tg_policy_region_admits(p, rule->residency, pv->region)) {
        ok = false;
        ADD("residency.rule", "provider %s processes data in region %s, not admitted by rule %s's data_residency %s",
            pv->id, pv->region, rule->category, region_label(p, rule->residency));
    }
    if (t != NULL && t->residency >= 0 && !tg_policy_region_admits(p, t->residency, pv->region)) {
        ok = false;
        ADD("residency.tenant", "provider %s processes data in region %s, not admitted by tenant %s's data_residency %s",
            pv->id, pv->region, t->id, region_label(p, t->residency));
    }

    /* 2. PII */
    if (fx->sensitive) {
        bool pii_ok = true;
        if (!rule->pii_allowed) {
            pii_ok = false;
            ADD("pii.rule", "request contains personal data (%s) and rule %s has pii_allowed: false",
                fx->entities, rule->category);
        }
        if (t != NULL && !t->pii_allowed) {
            pii_ok = false;
            ADD("pii.tenant", "request contains personal data (%s) and tenant %s has pii_allowed: false",
                fx->entities, t->id);
        }
        if (!pv->pii_allowed) {
            pii_ok = false;
            ADD("pii.provider", "request contains personal data (%s) and provider %s has pii_allowed: false",
                fx->entities, pv->id);
        }
        if (fx->unscannable && (!pii_ok || p->deny_secrets)) {
            /* what we could not scan we cannot redact, nor rule out secrets in */
            ok = false;
            ADD("pii.unscannable", "the request could not be fully scanned for personal data (a scan limit was hit)");
        } else if (fx->secret && p->deny_secrets) {
            ok = false;
            ADD("pii.secret", "request contains a secret (credential or key) and policy.pii.deny_secrets is on");
        } else if (!pii_ok) {
            if (p->pii_action == TG_PII_ACTION_REDACT && !fx->unscannable && !fx->unredactable) {
                c->redact = true;   /* compliant once masked; the reasons stay, informational */
            } else {
                ok = false;
                if (p->pii_action == TG_PII_ACTION_REDACT && fx->unredactable)
                    ADD("pii.unredactable", "personal data inside decoded data (a data URL) or an object key cannot be redacted");
            }
        }
    }

    /* 3. export control */
    if (d->nexport_tags > 0 || fx->tags_over) {
        if (!rule->export_controlled) {
            ok = false;
            ADD("export.rule", "request is export-controlled and rule %s has export_controlled: false",
                rule->category);
        }
        if (fx->tags_over) {
            ok = false;
            ADD("export.unknown_tag", "request carries more than %u export tags", TG_MAX_EXPORT_TAGS);
        }
        for (uint32_t i = 0; i < d->nexport_tags; i++) {
            const char *tag = d->export_tags[i];
            const struct tg_export_tag *et = tg_policy_export_tag(p, tag);
            if (et == NULL) {
                ok = false;
                ADD("export.unknown_tag", "export tag %s is not defined in policy.export_control.tags", tag);
                continue;
            }
            bool allowed = !et->has_allow || in_list(et->allow, et->nallow, pv->jurisdiction);
            bool denied = in_list(et->deny, et->ndeny, pv->jurisdiction);
            if (!allowed || denied) {
                ok = false;
                ADD(tg_arena_sprintf(a, "export.%s", et->name),
                    "provider %s (jurisdiction %s) may not receive %s-controlled data (%s)",
                    pv->id, pv->jurisdiction ? pv->jurisdiction : "unknown", et->name,
                    denied ? "jurisdiction denied" : "jurisdiction not allowed");
            }
        }
    }
    c->compliant = ok;
    if (!ok)
        c->redact = false;
    return TG_OK;
}

/* Model kind, cost, quality, context, breaker.  Returns via *tech_ok.
 * A model of the wrong kind is a routing constraint, not a compliance
 * one: audit mode, which serves past compliance denies, must still never
 * send an embedding request to a chat model. */
static int
check_constraints(const struct tg_policy *p, const struct tg_route_rule *rule,
                  const struct tg_tenant *t, const struct tg_request *req,
                  const struct tg_decision *d, const struct tg_breaker_view *bv,
                  struct tg_cand *c, bool *tech_ok, struct reasons *rs, struct tg_arena *a)
{
    const struct tg_model *m = &p->models[c->model];
    bool embedding = req->kind == TG_REQUEST_EMBEDDING;
    bool ok = true;
    int rc;

    if (m->kind != (embedding ? TG_MODEL_EMBEDDING : TG_MODEL_CHAT)) {
        ok = false;
        ADD("model.kind", "model %s is %s model and this is %s request", m->id,
            m->kind == TG_MODEL_EMBEDDING ? "an embedding" : "a chat",
            embedding ? "an embedding" : "a chat");
    }

    /* a model with an answer cap is sent (and so costs and needs) no more */
    uint32_t out_tokens = m->max_output_tokens > 0 && d->est_output_tokens > m->max_output_tokens
                              ? m->max_output_tokens : d->est_output_tokens;
    c->est_cost_usd = tg_cost_usd(m, d->est_input_tokens, out_tokens);
    double tmax = t != NULL ? t->max_cost_per_request : INFINITY;
    if (isnan(c->est_cost_usd)) {
        if (isfinite(rule->max_cost_per_request) || isfinite(tmax)) {
            ok = false;
            ADD("cost.unknown", "model %s has no price for the tokens this request needs; the cost ceiling cannot be checked",
                m->id);
        }
    } else {
        if (isfinite(rule->max_cost_per_request) &&
            c->est_cost_usd > rule->max_cost_per_request + TG__COST_EPS) {
            ok = false;
            ADD("cost.rule", "estimated cost $%.6f (%u input + %u output tokens) exceeds rule %s's max_cost_per_request $%.6f",
                c->est_cost_usd, d->est_input_tokens, out_tokens, rule->category,
                rule->max_cost_per_request);
        }
        if (isfinite(tmax) && c->est_cost_usd > tmax + TG__COST_EPS) {
            ok = false;
            ADD("cost.tenant", "estimated cost $%.6f exceeds tenant %s's max_cost_per_request $%.6f",
                c->est_cost_usd, t->id, tmax);
        }
    }

    if (!isnan(rule->quality_threshold)) {
        const char *metric = rule->quality_metric != NULL ? rule->quality_metric : "humaneval";
        double s = tg_model_score(m, metric);
        if (isnan(s)) {
            ok = false;
            ADD("quality", "model %s has no %s score; quality_threshold %.2f cannot be checked",
                m->id, metric, rule->quality_threshold);
        } else if (s < rule->quality_threshold) {
            ok = false;
            ADD("quality", "model %s scores %.2f on %s, below rule %s's quality_threshold %.2f",
                m->id, s, metric, rule->category, rule->quality_threshold);
        }
    }

    uint64_t need = (uint64_t)d->est_input_tokens + out_tokens;
    if (embedding && m->max_context > 0 && req->max_input_tokens > m->max_context) {
        /* an embedding model bounds each input, not the request */
        ok = false;
        ADD("context", "an input needs about %u tokens, over model %s's max_context %u",
            req->max_input_tokens, m->id, m->max_context);
    } else if (!embedding && m->max_context > 0 && need > m->max_context) {
        ok = false;
        ADD("context", "request needs about %llu tokens (%u input + %u output), over model %s's max_context %u",
            (unsigned long long)need, d->est_input_tokens, out_tokens, m->id,
            m->max_context);
    }

    if (bv != NULL && bv->open != NULL && c->model < bv->n && bv->open[c->model]) {
        ok = false;
        ADD("breaker", "circuit breaker for model %s is open", m->id);
    }
#undef ADD
    *tech_ok = ok;
    return TG_OK;
}

/* "EMAIL_ADDRESS, US_SSN" (entity types only). */
static const char *
entity_list(const struct tg_decision *d, bool unscannable, struct tg_arena *a)
{
    size_t len = 1 + (unscannable ? 20 : 0);
    for (uint32_t i = 0; i < d->npii; i++)
        len += strlen(d->pii[i].entity) + 2;
    char *s = tg_arena_alloc(a, len);
    if (s == NULL)
        return NULL;
    size_t o = 0;
    s[0] = '\0';
    for (uint32_t i = 0; i < d->npii; i++) {
        size_t l = strlen(d->pii[i].entity);
        if (o) {
            memcpy(s + o, ", ", 2);
            o += 2;
        }
        memcpy(s + o, d->pii[i].entity, l);
        o += l;
    }
    if (unscannable) {
        const char *u = o ? ", unscanned text" : "unscanned text";
        memcpy(s + o, u, strlen(u));
        o += strlen(u);
    }
    s[o] = '\0';
    return s;
}

int
tg_preflight_decide(const struct tg_policy *p, const struct tg_request *req,
                    const struct tg_breaker_view *bv, struct tg_pii_scratch *scratch,
                    struct tg_arena *a, struct tg_decision *out, struct tg_err *err)
{
    struct reasons drs = {0};
    struct facts fx = {0};
    bool *tech = NULL;
    bool early = false;   /* denied on tenant/category: no candidate evaluated */
    const struct tg_route_rule *rule;
    int rc = TG_OK;

    decision_init(p, out);
    out->tenant = req->tenant_id != NULL ? req->tenant_id : req->meta_tenant;
    out->feature = req->feature != NULL ? req->feature : req->meta_feature;
    out->category = req->category != NULL ? req->category : req->meta_category;

    if (req->body == NULL) {
        rc = tg_preflight_malformed(p, out->tenant, out->feature, out->category,
                                    "no request body", a, out);
        return rc == TG_OK ? rc : tg_err_set(err, rc, "out of memory deciding the request");
    }

    out->est_input_tokens = tg_request_estimate_tokens(req);
    out->est_output_tokens = req->max_tokens >= 0
        ? (req->max_tokens > UINT32_MAX ? UINT32_MAX : (uint32_t)req->max_tokens)
        : p->default_output_tokens;

    /* tenant: a config without tenants serves anonymous callers with no
     * tenant restrictions; once tenants exist, every request must name one */
    if (out->tenant != NULL) {
        out->tenant_cfg = tg_policy_tenant(p, out->tenant);
        if (out->tenant_cfg == NULL)
            rc = reason_add(&drs, a, "tenant.unknown",
                            tg_arena_sprintf(a, "tenant %s is not defined in the policy", out->tenant));
    } else if (p->ntenants > 0) {
        rc = reason_add(&drs, a, "tenant.unknown", "no tenant given and the policy defines tenants");
    }
    if (rc != TG_OK)
        goto nomem;

    if (out->category == NULL) {
        rc = reason_add(&drs, a, "category.unknown", "no task category given (X-Task-Category or metadata.category)");
    } else {
        out->rule = tg_policy_rule(p, out->category);
        if (out->rule == NULL)
            rc = reason_add(&drs, a, "category.unknown",
                            tg_arena_sprintf(a, "no routing rule for category %s", out->category));
        else if (out->tenant_cfg != NULL && !tenant_may_use(out->tenant_cfg, out->category))
            rc = reason_add(&drs, a, "tenant.category",
                            tg_arena_sprintf(a, "tenant %s may not use category %s",
                                             out->tenant_cfg->id, out->category));
    }
    if (rc != TG_OK)
        goto nomem;
    early = drs.n > 0;

    /* request-level facts (also reported on early denies, for the audit) */
    if ((rc = collect_tags(p, req, a, out, &fx.tags_over)) != TG_OK)
        goto nomem;
    if ((rc = scan_pii(p, req, scratch, a, out, err)) != TG_OK)
        goto out;
    fx.unscannable = out->findings.unscannable;
    fx.sensitive = out->findings.n > 0 || fx.unscannable;
    for (uint32_t i = 0; i < out->findings.n && !fx.unredactable; i++) {
        uint32_t part = out->findings.v[i].part;
        fx.unredactable = part < req->nparts && req->parts[part].unredactable;
    }
    for (uint32_t i = 0; i < out->npii; i++)
        fx.secret |= out->pii[i].cls == TG_PII_CLASS_SECRET;
    if (fx.sensitive && (fx.entities = entity_list(out, fx.unscannable, a)) == NULL)
        goto nomem;
    if (fx.unscannable &&
        (rc = reason_add(&drs, a, "pii.unscannable",
                         "a scan limit was hit; the request is treated as containing personal data")) != TG_OK)
        goto nomem;

    if (early)
        goto verdict;

    rule = out->rule;
    out->ncands = rule->nchain;
    out->cands = tg_arena_calloc(a, rule->nchain ? rule->nchain : 1, sizeof(*out->cands));
    out->route = tg_arena_calloc(a, rule->nchain ? rule->nchain : 1, sizeof(*out->route));
    tech = tg_arena_calloc(a, rule->nchain ? rule->nchain : 1, sizeof(*tech));
    if (out->cands == NULL || out->route == NULL || tech == NULL)
        goto nomem;

    for (uint32_t i = 0; i < rule->nchain; i++) {
        struct tg_cand *c = &out->cands[i];
        struct reasons rs = {0};
        c->model = rule->chain[i];
        if ((rc = check_compliance(p, rule, out->tenant_cfg, out, &fx, c, &rs, a)) != TG_OK)
            goto nomem;
        if ((rc = check_constraints(p, rule, out->tenant_cfg, req, out, bv, c, &tech[i], &rs, a)) != TG_OK)
            goto nomem;
        c->eligible = c->compliant && tech[i];
        c->reasons = rs.v;
        c->nreasons = rs.n;
        if (c->eligible)
            out->route[out->nroute++] = i;   /* chain position for now; models below */
    }

verdict:
    if (out->nroute == 0) {
        out->verdict = TG_DENY;
        if (!early) {
            const char *msg = out->ncands == 0
                ? tg_arena_sprintf(a, "rule %s has no candidates", out->rule->category)
                : tg_arena_sprintf(a, "none of the %u candidates of rule %s is compliant and eligible",
                                   out->ncands, out->rule->category);
            if ((rc = reason_add(&drs, a, "route.empty", msg)) != TG_OK)
                goto nomem;
            /* each distinct candidate rule id once, so a deny names its causes */
            for (uint32_t i = 0; i < out->ncands; i++) {
                for (uint32_t r = 0; r < out->cands[i].nreasons; r++) {
                    const struct tg_reason *cr = &out->cands[i].reasons[r];
                    bool seen = false;
                    for (uint32_t k = 0; k < drs.n && !seen; k++)
                        seen = strcmp(drs.v[k].rule, cr->rule) == 0;
                    if (!seen && (rc = reason_add(&drs, a, cr->rule, cr->message)) != TG_OK)
                        goto nomem;
                }
            }
        }
        /* audit mode serves anyway: what enforce would route, ignoring compliance */
        if (!out->enforced && tech != NULL)
            for (uint32_t i = 0; i < out->ncands; i++)
                if (tech[i])
                    out->route[out->nroute++] = i;
    } else {
        out->verdict = out->cands[out->route[0]].redact ? TG_REDACT : TG_ALLOW;
    }

    /* timeouts by route position; chain positions become model indices */
    if (out->rule != NULL && out->nroute > 0) {
        uint32_t sum = 0, base = out->rule->timeout_ms;
        for (uint32_t i = 0; i < out->nroute; i++) {
            struct tg_cand *c = &out->cands[out->route[i]];
            uint64_t t = p->breaker.progressive_timeout ? (uint64_t)base * (2 + i) / 2 : base;
            c->timeout_ms = t > UINT32_MAX ? UINT32_MAX : (uint32_t)t;
            sum = sum + c->timeout_ms < sum ? UINT32_MAX : sum + c->timeout_ms;
            out->route[i] = c->model;
        }
        out->deadline_ms = out->rule->deadline_ms ? out->rule->deadline_ms : sum;
    }
    rc = TG_OK;
    goto out;

nomem:
    rc = tg_err_set(err, TG_ENOMEM, "out of memory deciding the request");
out:
    out->reasons = drs.v;
    out->nreasons = drs.n;
    if (rc != TG_OK) {
        out->verdict = TG_DENY;
        out->nroute = 0;
    }
    return rc;
}

/* ---- JSON ------------------------------------------------------------------ */

cJSON *
tg_decision_to_json(const struct tg_policy *p, const struct tg_decision *d, bool detail)
{
    struct tg_jtext b = { 0 };
    cJSON *j = NULL;

    /* The parse of the one renderer's text (engine/decision_text.c), so
     * explain and the audit log cannot drift apart. */
    tg_jtext_open(&b, '{');
    tg_decision_render(&b, p, d, TG_DECISION_MODE | (detail ? TG_DECISION_CAND_REASONS | TG_DECISION_FINDINGS : 0));
    tg_jtext_close(&b, '}');
    if (!b.fail)
        j = cJSON_ParseWithLength(b.p, b.len);
    tg_jtext_free(&b);
    return j;
}
