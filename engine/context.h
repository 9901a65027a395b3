/*
 * context.h — who is asking, for what: the one resolution of tenant,
 * feature, task category and export tags from what the client sent.
 *
 * serve (headers + authenticated tenant), explain (flags + the request
 * file) and dry-run (capture lines) all call tg_context_resolve(), so the
 * three cannot disagree on which rule a request falls under.
 *
 * Category, first found:
 *   1. what the caller was told explicitly (X-Task-Category, --category,
 *      a capture line's category);
 *   2. the body's metadata.category;
 *   3. the body's `model` when it names a rule's category;
 *   4. the body's `model` when it is one of a rule's `aliases`
 *      (client model names such as claude-opus-5-5 or gpt-5-codex);
 *   5. the tenant's default_category.
 * Tenant: the authenticated/explicit one, else metadata.tenant.
 * Feature: the explicit one, else metadata.feature.
 */
#ifndef TG_CONTEXT_H
#define TG_CONTEXT_H

#include "engine/tg.h"
#include "engine/arena.h"
#include "engine/request.h"
#include "engine/model.h"

struct tg_context_in {
    const char *tenant;       /* authenticated tenant id / --tenant / capture; NULL: metadata */
    const char *category;     /* header / flag / capture; NULL: resolve from the body */
    const char *feature;      /* header / flag / capture; NULL: metadata */
    const char *export_tags;  /* "itar, ear" (header syntax) or NULL */
};

/* Where the category came from (recorded for explain and the audit). */
enum tg_context_source {
    TG_CTX_NONE      = 0,
    TG_CTX_EXPLICIT  = 1,
    TG_CTX_METADATA  = 2,
    TG_CTX_MODEL     = 3,
    TG_CTX_ALIAS     = 4,
    TG_CTX_DEFAULT   = 5,
};

/*
 * Fill r->tenant_id, r->feature, r->category and append export tags from
 * in and the parsed body.  Strings are copied into a.  Returns TG_OK,
 * TG_ELIMIT (too many export tags) or TG_ENOMEM.  A category that names no
 * rule is left as given: the pre-flight denies it (category.unknown).
 * *src (may be NULL) says where the category came from.
 */
int tg_context_resolve(const struct tg_policy *p, const struct tg_context_in *in,
                       struct tg_request *r, struct tg_arena *a, enum tg_context_source *src,
                       struct tg_err *err);

/* "header", "metadata", "model", "alias", "default", or "none". */
const char *tg_context_source_name(enum tg_context_source s);

#endif /* TG_CONTEXT_H */
