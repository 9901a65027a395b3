/*
 * decision_text.c — the one renderer of a decision as JSON members: explain
 * prints it (tg_decision_to_json parses it), the audit log records it, so
 * what a reviewer reads in one is what the other says.  Entity types,
 * counts, offsets and rule ids only: never matched text.
 */
#include "engine/decision_text.h"
#include "engine/limits.h"

#include <stdlib.h>
#include <string.h>

#define tb                 tg_jtext
#define tb_key             tg_jtext_key
#define tb_str             tg_jtext_str
#define tb_bool            tg_jtext_bool
#define tb_int             tg_jtext_int
#define tb_num             tg_jtext_num
#define tb_null            tg_jtext_null
#define tb_open            tg_jtext_open
#define tb_close           tg_jtext_close
#define tb_elem            tg_jtext_elem

static const char *
verdict_name(enum tg_verdict v)
{
    switch (v) {
    case TG_ALLOW:  return "allow";
    case TG_REDACT: return "redact";
    default:        return "deny";
    }
}

static void
tb_reasons(struct tb *b, const struct tg_reason *r, uint32_t n)
{
    tb_key(b, "reasons");
    tb_open(b, '[');
    for (uint32_t i = 0; i < n; i++) {
        tb_elem(b);
        tb_open(b, '{');
        tb_key(b, "rule");
        tb_str(b, r[i].rule);
        tb_key(b, "message");
        tb_str(b, r[i].message);
        tb_close(b, '}');
    }
    tb_close(b, ']');
}

/* Distinct rule ids seen so far (add_rule_id compares against the array it builds). */
struct seen {
    const char **v;
    size_t       n;
    const char  *small[32];
};

static void
tb_rule_id(struct tb *b, struct seen *s, const char *id)
{
    if (id == NULL)
        return;
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i], id) == 0)
            return;
    s->v[s->n++] = id;
    tb_elem(b);
    tb_str(b, id);
}

static void
tb_rules(struct tb *b, const struct tg_decision *d)
{
    struct seen s;
    size_t max = d->nreasons;

    for (uint32_t i = 0; i < d->ncands; i++)
        max += d->cands[i].nreasons;
    s.n = 0;
    s.v = max <= TG_ARRAY_LEN(s.small) ? s.small : malloc(max * sizeof(*s.v));
    if (s.v == NULL) {
        b->fail = true;
        return;
    }
    tb_key(b, "rules");
    tb_open(b, '[');
    for (uint32_t i = 0; i < d->ncands; i++)
        for (uint32_t j = 0; j < d->cands[i].nreasons; j++)
            tb_rule_id(b, &s, d->cands[i].reasons[j].rule);
    for (uint32_t j = 0; j < d->nreasons; j++)
        tb_rule_id(b, &s, d->reasons[j].rule);
    tb_close(b, ']');
    if (s.v != s.small)
        free(s.v);
}

static void
tb_spans(struct tb *b, const struct tg_decision *d)
{
    tb_key(b, "pii_spans");
    tb_open(b, '[');
    for (uint32_t i = 0; i < d->findings.n && i < TG_MAX_AUDIT_SPANS; i++) {
        const struct tg_finding *f = &d->findings.v[i];
        tb_elem(b);
        tb_open(b, '{');
        tb_key(b, "entity");
        tb_str(b, f->entity);
        tb_key(b, "part");
        tb_int(b, f->part);
        tb_key(b, "start");
        tb_int(b, f->start);
        tb_key(b, "end");
        tb_int(b, f->end);
        tb_close(b, '}');
    }
    tb_close(b, ']');
    if (d->findings.n > TG_MAX_AUDIT_SPANS) {
        tb_key(b, "pii_spans_truncated");
        tb_bool(b, true);
    }
}

/* An array of strings (the member name written by the caller). */
static void
tb_strings(struct tb *b, const char *const *v, uint32_t n)
{
    tb_open(b, '[');
    for (uint32_t i = 0; i < n; i++) {
        tb_elem(b);
        tb_str(b, v[i]);
    }
    tb_close(b, ']');
}

/* Allow-listed findings per entity (entity and count, never the value),
 * as tg_decision_to_json() writes them. */
static void
tb_allowed(struct tb *b, const struct tg_decision *d)
{
    tb_key(b, "allowed");
    tb_open(b, '[');
    for (uint32_t i = 0; i < d->nallowed; i++) {
        tb_elem(b);
        tb_open(b, '{');
        tb_key(b, "entity");
        tb_str(b, d->allowed[i].entity);
        tb_key(b, "count");
        tb_int(b, d->allowed[i].count);
        tb_close(b, '}');
    }
    tb_close(b, ']');
}

/* Members shared by the two decision shapes, up to and including `export_tags`. */
static void
tb_decision_head(struct tb *b, const struct tg_decision *d)
{
    tb_key(b, "decision");
    tb_str(b, verdict_name(d->verdict));
    tb_key(b, "enforced");
    tb_bool(b, d->enforced);
    tb_key(b, "tenant");
    tb_str(b, d->tenant);
    tb_key(b, "feature");
    tb_str(b, d->feature);
    tb_key(b, "category");
    tb_str(b, d->category);
    tb_key(b, "export_tags");
    tb_strings(b, d->export_tags, d->nexport_tags);
}

void
tg_decision_render(struct tg_jtext *b, const struct tg_policy *p, const struct tg_decision *d, unsigned flags)
{
    tb_key(b, "decision");
    tb_str(b, verdict_name(d->verdict));
    if (flags & TG_DECISION_MODE) {
        tb_key(b, "mode");
        tb_str(b, d->enforced ? "enforce" : "audit");
    }
    tb_key(b, "enforced");
    tb_bool(b, d->enforced);
    tb_key(b, "tenant");
    tb_str(b, d->tenant);
    tb_key(b, "feature");
    tb_str(b, d->feature);
    tb_key(b, "category");
    tb_str(b, d->category);
    tb_key(b, "export_tags");
    tb_strings(b, d->export_tags, d->nexport_tags);
    tb_key(b, "pii");
    tb_open(b, '[');
    for (uint32_t i = 0; i < d->npii; i++) {
        tb_elem(b);
        tb_open(b, '{');
        tb_key(b, "entity");
        tb_str(b, d->pii[i].entity);
        tb_key(b, "count");
        tb_int(b, d->pii[i].count);
        tb_key(b, "class");
        tb_str(b, d->pii[i].cls == TG_PII_CLASS_SECRET ? "secret" : "pii");
        tb_close(b, '}');
    }
    tb_close(b, ']');
    tb_key(b, "pii_unscannable");
    tb_bool(b, d->findings.unscannable);
    tb_allowed(b, d);
    tb_key(b, "candidates");
    tb_open(b, '[');
    for (uint32_t i = 0; i < d->ncands; i++) {
        const struct tg_cand *c = &d->cands[i];
        const struct tg_model *m = c->model < p->nmodels ? &p->models[c->model] : NULL;
        const struct tg_provider *pv = m != NULL && m->provider < p->nproviders ? &p->providers[m->provider] : NULL;
        tb_elem(b);
        tb_open(b, '{');
        tb_key(b, "model");
        tb_str(b, m ? m->id : NULL);
        tb_key(b, "provider");
        tb_str(b, pv ? pv->id : NULL);
        tb_key(b, "region");
        tb_str(b, pv ? pv->region : NULL);
        tb_key(b, "jurisdiction");
        tb_str(b, pv ? pv->jurisdiction : NULL);
        tb_key(b, "compliant");
        tb_bool(b, c->compliant);
        tb_key(b, "eligible");
        tb_bool(b, c->eligible);
        tb_key(b, "redact");
        tb_bool(b, c->redact);
        tb_key(b, "estimated_cost_usd");
        tb_num(b, c->est_cost_usd);
        tb_key(b, "timeout_ms");
        tb_int(b, c->timeout_ms);
        if (flags & TG_DECISION_CAND_REASONS)
            tb_reasons(b, c->reasons, c->nreasons);
        tb_close(b, '}');
    }
    tb_close(b, ']');
    tb_key(b, "route");
    tb_open(b, '[');
    for (uint32_t i = 0; i < d->nroute; i++) {
        tb_elem(b);
        tb_str(b, d->route[i] < p->nmodels ? p->models[d->route[i]].id : NULL);
    }
    tb_close(b, ']');
    tb_reasons(b, d->reasons, d->nreasons);
    tb_key(b, "estimated_tokens");
    tb_open(b, '{');
    tb_key(b, "input");
    tb_int(b, d->est_input_tokens);
    tb_key(b, "output");
    tb_int(b, d->est_output_tokens);
    tb_close(b, '}');
    tb_key(b, "deadline_ms");
    tb_int(b, d->deadline_ms);
    if (flags & TG_DECISION_FINDINGS) {
        /* offsets only: the matched text never leaves the request */
        tb_key(b, "findings");
        tb_open(b, '[');
        for (uint32_t i = 0; i < d->findings.n; i++) {
            const struct tg_finding *f = &d->findings.v[i];
            tb_elem(b);
            tb_open(b, '{');
            tb_key(b, "entity");
            tb_str(b, f->entity);
            tb_key(b, "part");
            tb_int(b, f->part);
            tb_key(b, "start");
            tb_int(b, f->start);
            tb_key(b, "end");
            tb_int(b, f->end);
            tb_key(b, "score");
            tb_num(b, (double)f->score);
            tb_key(b, "detector");
            tb_str(b, f->detector);
            tb_close(b, '}');
        }
        tb_close(b, ']');
    }
    tb_key(b, "policy_version");
    tb_str(b, d->policy_version);
    if (flags & TG_DECISION_AUDIT) {
        tb_spans(b, d);
        tb_rules(b, d);
    }
}

void
tg_decision_render_bare(struct tg_jtext *b, const struct tg_decision *d)
{
    tb_decision_head(b, d);
    tb_key(b, "pii");
    tb_open(b, '[');
    for (uint32_t i = 0; i < d->npii; i++) {
        tb_elem(b);
        tb_open(b, '{');
        tb_key(b, "entity");
        tb_str(b, d->pii[i].entity);
        tb_key(b, "count");
        tb_int(b, d->pii[i].count);
        tb_close(b, '}');
    }
    tb_close(b, ']');
    tb_spans(b, d);
    if (d->findings.unscannable) {
        tb_key(b, "pii_unscannable");
        tb_bool(b, true);
    }
    tb_allowed(b, d);
    tb_key(b, "candidates");
    tb_open(b, '[');
    for (uint32_t i = 0; i < d->ncands; i++) {
        const struct tg_cand *c = &d->cands[i];
        tb_elem(b);
        tb_open(b, '{');
        tb_key(b, "model");
        tb_null(b);
        tb_key(b, "provider");
        tb_null(b);
        tb_key(b, "region");
        tb_null(b);
        tb_key(b, "compliant");
        tb_bool(b, c->compliant);
        tb_key(b, "eligible");
        tb_bool(b, c->eligible);
        tb_key(b, "estimated_cost_usd");
        tb_num(b, c->est_cost_usd);
        tb_reasons(b, c->reasons, c->nreasons);
        tb_close(b, '}');
    }
    tb_close(b, ']');
    tb_key(b, "route");
    tb_open(b, '[');
    for (uint32_t i = 0; i < d->nroute; i++) {
        tb_elem(b);
        tb_null(b);
    }
    tb_close(b, ']');
    tb_reasons(b, d->reasons, d->nreasons);
    tb_rules(b, d);
    tb_key(b, "policy_version");
    tb_str(b, d->policy_version);
}

