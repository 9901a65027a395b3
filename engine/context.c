/*
 * context.c — tenant, feature, category and export tags, resolved once
 * for serve, explain and dry-run alike (context.h).
 */
#include "engine/context.h"
#include "engine/limits.h"

#include <string.h>

static const struct tg_route_rule *
rule_by_alias(const struct tg_policy *p, const char *model)
{
    for (uint32_t i = 0; i < p->nrules; i++)
        for (uint32_t k = 0; k < p->rules[i].naliases; k++)
            if (strcmp(p->rules[i].aliases[k], model) == 0)
                return &p->rules[i];
    return NULL;
}

int
tg_context_resolve(const struct tg_policy *p, const struct tg_context_in *in,
                   struct tg_request *r, struct tg_arena *a, enum tg_context_source *src,
                   struct tg_err *err)
{
    enum tg_context_source from = TG_CTX_NONE;
    const char *tenant = in->tenant ? in->tenant : r->meta_tenant;
    const char *feature = in->feature ? in->feature : r->meta_feature;
    const char *category = NULL;
    const struct tg_route_rule *rule;
    int rc;

    if (in->category != NULL) {
        category = in->category;
        from = TG_CTX_EXPLICIT;
    } else if (r->meta_category != NULL) {
        category = r->meta_category;
        from = TG_CTX_METADATA;
    } else if (r->model != NULL && tg_policy_rule(p, r->model) != NULL) {
        /* SDK convenience: `model: "code_generation"` names the category. */
        category = r->model;
        from = TG_CTX_MODEL;
    } else if (r->model != NULL && (rule = rule_by_alias(p, r->model)) != NULL) {
        category = rule->category;
        from = TG_CTX_ALIAS;
    } else if (tenant != NULL) {
        const struct tg_tenant *t = tg_policy_tenant(p, tenant);
        if (t != NULL && t->default_category != NULL) {
            category = t->default_category;
            from = TG_CTX_DEFAULT;
        }
    }
    /* Copies: the inputs may be header values that die before the request. */
    r->tenant_id = tenant ? tg_arena_strdup(a, tenant) : NULL;
    r->feature = feature ? tg_arena_strdup(a, feature) : NULL;
    r->category = category ? tg_arena_strdup(a, category) : NULL;
    if ((tenant && !r->tenant_id) || (feature && !r->feature) || (category && !r->category))
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    if (in->export_tags != NULL && (rc = tg_request_add_tags(r, in->export_tags, a)) != TG_OK)
        return rc == TG_ELIMIT ? tg_err_set(err, rc, "more than %u export tags", TG_MAX_EXPORT_TAGS)
                               : tg_err_set(err, rc, "out of memory");
    if (src != NULL)
        *src = from;
    return TG_OK;
}

const char *
tg_context_source_name(enum tg_context_source s)
{
    switch (s) {
    case TG_CTX_EXPLICIT: return "header";
    case TG_CTX_METADATA: return "metadata";
    case TG_CTX_MODEL:    return "model";
    case TG_CTX_ALIAS:    return "alias";
    case TG_CTX_DEFAULT:  return "default";
    default:              return "none";
    }
}
