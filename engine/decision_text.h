/*
 * decision_text.h — a decision as JSON members (no surrounding braces),
 * written by one renderer for explain (tg_decision_to_json) and the audit
 * log (audit/entry.c).
 */
#ifndef TG_DECISION_TEXT_H
#define TG_DECISION_TEXT_H

#include "engine/jtext.h"
#include "engine/preflight.h"

enum {
    TG_DECISION_MODE         = 1u << 0,  /* "mode": enforce|audit (explain; the audit entry has its own) */
    TG_DECISION_CAND_REASONS = 1u << 1,  /* each candidate's reasons */
    TG_DECISION_FINDINGS     = 1u << 2,  /* "findings": entity, part, offsets, score, detector */
    TG_DECISION_AUDIT        = 1u << 3,  /* "pii_spans" (capped) and the distinct "rules" */
};

/* The members of an engine decision on policy p; flags add the optional ones. */
void tg_decision_render(struct tg_jtext *b, const struct tg_policy *p, const struct tg_decision *d,
                        unsigned flags);

/* A decision without its policy (e.g. a malformed request recorded before
 * one could be consulted): model ids unknown, null. */
void tg_decision_render_bare(struct tg_jtext *b, const struct tg_decision *d);

#endif /* TG_DECISION_TEXT_H */
