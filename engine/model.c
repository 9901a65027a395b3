/*
 * model.c — the loaded policy as the engine sees it: reference counting
 * and lookups (declared in engine/model.h; policy/ fills it).  Pure:
 * no files, environment or clocks, so the engine's link closure stays
 * free of them (make check-purity).  Lookups are linear: TG_MAX_* keep the
 * tables small, and a linear scan over a few dozen entries beats hashing.
 */
#include "engine/model.h"
#include "engine/markings.h"
#include "engine/pii.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tg_policy *
tg_policy_ref(struct tg_policy *p)
{
    if (p != NULL)
        atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return p;
}

void
tg_policy_unref(struct tg_policy *p)
{
    if (p == NULL)
        return;
    /* acq_rel: the thread that frees must see every other thread's reads done. */
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
        return;
    if (p->pii != NULL)
        tg_pii_db_free(p->pii);
    if (p->markings != NULL)
        tg_markings_free(p->markings);
    tg_arena_free(&p->arena);
    free(p);
}

const struct tg_tenant *
tg_policy_tenant(const struct tg_policy *p, const char *id)
{
    if (id == NULL)
        return NULL;
    for (uint32_t i = 0; i < p->ntenants; i++)
        if (strcmp(p->tenants[i].id, id) == 0)
            return &p->tenants[i];
    return NULL;
}

const struct tg_tenant *
tg_policy_tenant_by_key(const struct tg_policy *p, const uint8_t sha256[32])
{
    for (uint32_t i = 0; i < p->ntenants; i++) {
        const struct tg_tenant *t = &p->tenants[i];
        /* Compare every byte: the scan's timing must not tell how much of a
         * guessed key's hash matched. */
        unsigned diff = 0;
        for (unsigned j = 0; j < 32; j++)
            diff |= (unsigned)(t->key_sha256[j] ^ sha256[j]);
        if (t->has_key && diff == 0)
            return t;
    }
    return NULL;
}

const struct tg_tenant *
tg_policy_tenant_by_cert(const struct tg_policy *p, const uint8_t sha256[32])
{
    for (uint32_t i = 0; i < p->ntenants; i++) {
        const struct tg_tenant *t = &p->tenants[i];
        unsigned diff = 0;
        for (unsigned j = 0; j < 32; j++)
            diff |= (unsigned)(t->cert_sha256[j] ^ sha256[j]);
        if (t->has_cert && diff == 0)
            return t;
    }
    return NULL;
}

const struct tg_route_rule *
tg_policy_rule(const struct tg_policy *p, const char *category)
{
    if (category == NULL)
        return NULL;
    for (uint32_t i = 0; i < p->nrules; i++)
        if (strcmp(p->rules[i].category, category) == 0)
            return &p->rules[i];
    return NULL;
}

int32_t
tg_policy_model_index(const struct tg_policy *p, const char *model_id)
{
    if (model_id == NULL)
        return -1;
    for (uint32_t i = 0; i < p->nmodels; i++)
        if (strcmp(p->models[i].id, model_id) == 0)
            return (int32_t)i;
    return -1;
}

int32_t
tg_policy_region_index(const struct tg_policy *p, const char *label)
{
    if (label == NULL)
        return -1;
    for (uint32_t i = 0; i < p->nregions; i++)
        if (strcmp(p->regions[i].label, label) == 0)
            return (int32_t)i;
    return -1;
}

const struct tg_export_tag *
tg_policy_export_tag(const struct tg_policy *p, const char *name)
{
    if (name == NULL)
        return NULL;
    for (uint32_t i = 0; i < p->ntags; i++)
        if (strcasecmp(p->tags[i].name, name) == 0)
            return &p->tags[i];
    return NULL;
}

bool
tg_policy_region_admits(const struct tg_policy *p, int32_t set, const char *region)
{
    if (set < 0)
        return true;   /* no label: no restriction (tenants without data_residency) */
    if ((uint32_t)set >= p->nregions || region == NULL)
        return false;
    const struct tg_region_set *r = &p->regions[set];
    for (uint32_t i = 0; i < r->nregions; i++)
        if (strcmp(r->regions[i], region) == 0)
            return true;
    return false;
}

double
tg_model_score(const struct tg_model *m, const char *metric)
{
    if (metric == NULL)
        return NAN;
    for (uint32_t i = 0; i < m->nscores; i++)
        if (strcmp(m->scores[i].metric, metric) == 0)
            return m->scores[i].value;
    return NAN;
}

