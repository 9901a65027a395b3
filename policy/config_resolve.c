/*
 * config_resolve.c — from the raw configuration to the policy model: the
 * config's providers, models and regions merged over the registry's, names
 * resolved to indices with every dangling reference reported, the static
 * warnings a reviewer wants (a fallback that can never be compliant, a
 * threshold no candidate meets), tenants indexed by key and certificate.
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

int
tg__cfg_merge(struct tg__ld *ld, const struct fconf *reg, const struct fconf *cfg,
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

int
tg__cfg_resolve_rule(struct tg__ld *ld, const struct rrule *rr, struct tg_route_rule *r)
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

int
tg__cfg_resolve_tenants(struct tg__ld *ld, const struct fconf *cfg)
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

void
tg__cfg_check_tls(struct tg__ld *ld, const struct tg_policy *p)
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

