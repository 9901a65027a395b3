/*
 * preflight.h — the one decision function (docs/interface.md §3, §4).
 *
 * serve, explain and dry-run all call tg_preflight_decide(), so what dry-run
 * predicts is what the gateway does.  It is pure: the policy, the parsed
 * request, a read-only view of breaker state and the caller's per-thread
 * PII scratch go in; a struct tg_decision allocated from the request's
 * arena comes out.  No clocks (breaker state is already evaluated at "now"
 * by the caller), no I/O, no globals.
 *
 * Rule ids used in reasons (stable: dry-run and audit stats group by them):
 *   request.malformed  tenant.unknown  tenant.category  category.unknown
 *   pii.unscannable    pii.rule  pii.tenant  pii.provider  pii.secret
 *   residency.rule     residency.tenant
 *   export.rule        export.<tag> (e.g. export.itar)   export.unknown_tag
 *   cost.rule          cost.tenant   cost.unknown
 *   quality            context        breaker          route.empty
 *   model.kind         (a chat model for an embedding request, or the reverse)
 */
#ifndef TG_PREFLIGHT_H
#define TG_PREFLIGHT_H

#include "engine/tg.h"
#include "engine/allow.h"
#include "engine/arena.h"
#include "engine/pii.h"
#include "engine/request.h"
#include "engine/model.h"

enum tg_verdict {
    TG_ALLOW  = 0,
    TG_REDACT = 1,   /* allowed, but at least the first routed candidate gets a redacted body */
    TG_DENY   = 2,
};

struct tg_reason {
    const char *rule;       /* rule id, see above */
    const char *message;    /* human reason; never contains matched PII */
};

struct tg_cand {
    uint32_t    model;          /* index into policy->models */
    bool        compliant;      /* residency, PII, export control all pass */
    bool        eligible;       /* compliant and cost/quality/context/breaker pass */
    bool        redact;         /* receives the redacted body */
    double      est_cost_usd;   /* NAN if pricing unknown */
    uint32_t    timeout_ms;     /* this attempt's timeout (progressive) */
    struct tg_reason *reasons;  /* why not compliant/eligible */
    uint32_t    nreasons;
};

struct tg_pii_count {
    const char *entity;
    uint32_t    count;
    enum tg_pii_class cls;
};

struct tg_decision {
    enum tg_verdict verdict;     /* what the policy decides */
    bool        enforced;        /* false in mode: audit (the verdict is recorded, not applied) */
    const char *tenant;          /* ids as given (may be NULL when unknown) */
    const char *feature;
    const char *category;
    const struct tg_tenant     *tenant_cfg;  /* NULL if unknown */
    const struct tg_route_rule *rule;        /* NULL if no rule */

    const char **export_tags;    uint32_t nexport_tags;   /* header ∪ tenant ∪ content */
    struct tg_findings findings;                          /* with score >= min_score */
    struct tg_pii_count *pii;    uint32_t npii;           /* per entity */
    /* Findings an allow list (engine/allow.h) took out of `findings`: not
     * personal data for the decision, counted per entity for the audit and
     * per entry for dry-run.  Never the values. */
    struct tg_pii_count *allowed;       uint32_t nallowed;
    struct tg_allow_hit *allow_hits;    uint32_t nallow_hits;

    struct tg_cand *cands;       uint32_t ncands;         /* the rule's chain, in order */
    uint32_t   *route;           uint32_t nroute;         /* model indices to try, in order */
    struct tg_reason *reasons;   uint32_t nreasons;       /* decision-level (deny) reasons */

    uint32_t    est_input_tokens;
    uint32_t    est_output_tokens;
    uint32_t    deadline_ms;     /* overall deadline for all attempts */
    const char *policy_version;
};

/* Breaker state at "now" as seen by the caller: open[i] != 0 means model i
 * must not be tried (open, or half-open with its probe already in flight). */
struct tg_breaker_view {
    const uint8_t *open;
    uint32_t       n;
};

/*
 * Decide.  Returns TG_OK with *out filled for every outcome including deny
 * (a malformed or unknown-tenant request is a deny with a reason, so it is
 * audited like any other).  Returns TG_ENOMEM only when the arena fails; the
 * caller must then deny (fail closed).  bv may be NULL (all closed);
 * scratch may be NULL only if the policy has no PII packs.
 */
int  tg_preflight_decide(const struct tg_policy *p, const struct tg_request *req,
                         const struct tg_breaker_view *bv, struct tg_pii_scratch *scratch,
                         struct tg_arena *a, struct tg_decision *out, struct tg_err *err);

/* Deny decision for a request that could not be parsed (reason request.malformed). */
int  tg_preflight_malformed(const struct tg_policy *p, const char *tenant, const char *feature,
                            const char *category, const char *why, struct tg_arena *a,
                            struct tg_decision *out);

const char *tg_verdict_name(enum tg_verdict v);   /* "allow" | "redact" | "deny" */

/*
 * The decision as docs/interface.md §4 JSON.  detail=false drops per-candidate
 * reasons (audit entries of large chains).  Returns NULL on ENOMEM.
 */
cJSON *tg_decision_to_json(const struct tg_policy *p, const struct tg_decision *d, bool detail);

#endif /* TG_PREFLIGHT_H */
