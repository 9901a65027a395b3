/* entry.c — build the JSON of one audit entry (CONTRACT §6) from an event. */
#include "audit/audit.h"
#include "audit/audit_int.h"

#include <math.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/rand.h>

/* PII spans kept per entry: offsets are useful evidence, but a request with
 * thousands of findings must not make a megabyte audit line. */
#define AUDIT_MAX_SPANS 256u

/*
 * The tree is built directly, in the exact member order the writer will
 * serialise (its bytes are what the chain hashes), with the fewest
 * allocations cJSON allows.  This runs on every request of every event-loop
 * thread, and the writer thread frees what it allocates.
 *
 *   - member names are string literals, attached without copying
 *     (cJSON_AddItemToObjectCS);
 *   - values that are literals of this file are references;
 *   - values owned by the caller (ids, names, messages: the entry outlives
 *     the request and maybe its policy) are copied into ONE block, sized
 *     by a first pass, and referenced from there.  The block hangs off the
 *     root object's valuestring (unused for objects), so cJSON_Delete of the
 *     root frees it after the members; reference nodes never free their
 *     string.  Should the block run out, a value gets its own copy.
 *
 * Failures are collected in one flag and checked once.
 */
struct eb {
    bool   fail;
    char  *pool;   /* the shared string block (owned by the root) */
    size_t used, cap;
};

/* Attach item under key (a string literal: not copied) or append it to an array (key NULL). */
static cJSON *
put(struct eb *b, cJSON *parent, const char *key, cJSON *item)
{
    if (item == NULL || parent == NULL) {
        cJSON_Delete(item);
        b->fail = true;
        return NULL;
    }
    if (key != NULL ? !cJSON_AddItemToObjectCS(parent, key, item) : !cJSON_AddItemToArray(parent, item)) {
        cJSON_Delete(item);
        b->fail = true;
        return NULL;
    }
    return item;
}

/* A caller's string (copied into the block, or on its own), or null. */
static cJSON *
str(struct eb *b, const char *s)
{
    size_t n;

    if (s == NULL)
        return cJSON_CreateNull();
    n = strlen(s) + 1;
    if (b->cap - b->used < n)
        return cJSON_CreateString(s);
    memcpy(b->pool + b->used, s, n);
    b->used += n;
    return cJSON_CreateStringReference(b->pool + b->used - n);
}

static size_t
slen(const char *s)
{
    return s != NULL ? strlen(s) + 1 : 0;
}

static size_t
reasons_len(const struct tg_reason *r, uint32_t n)
{
    size_t t = 0;
    for (uint32_t i = 0; i < n; i++)
        t += slen(r[i].rule) * 2 + slen(r[i].message);   /* rule ids twice: reasons and `rules` */
    return t;
}

/* Bytes of every caller string the entry copies (an upper bound: a value
 * missed here only costs it its own allocation). */
static size_t
strings_len(const struct tg_audit_event *ev)
{
    const struct tg_decision *d = ev->decision;
    const struct tg_policy *p = ev->policy;
    size_t t = 32 + 65 + slen(ev->event) + slen(ev->decision_id) + slen(ev->mode) + slen(ev->tenant) +
               slen(ev->model) + slen(ev->provider) + slen(ev->error);

    for (uint32_t i = 0; i < ev->nattempts; i++)
        t += slen(ev->attempts[i].model) + slen(ev->attempts[i].provider) + slen(ev->attempts[i].outcome);
    if (p != NULL)
        t += sizeof(p->policy_version);
    if (d == NULL)
        return t;
    t += slen(d->tenant) + slen(d->feature) + slen(d->category) + slen(d->policy_version);
    for (uint32_t i = 0; i < d->nexport_tags; i++)
        t += slen(d->export_tags[i]);
    for (uint32_t i = 0; i < d->npii; i++)
        t += slen(d->pii[i].entity);
    for (uint32_t i = 0; i < d->findings.n && i < AUDIT_MAX_SPANS; i++)
        t += slen(d->findings.v[i].entity);
    for (uint32_t i = 0; i < d->ncands; i++) {
        const struct tg_cand *c = &d->cands[i];
        if (p != NULL && c->model < p->nmodels) {
            const struct tg_model *m = &p->models[c->model];
            t += slen(m->id);
            if (m->provider < p->nproviders) {
                const struct tg_provider *pv = &p->providers[m->provider];
                t += slen(pv->id) + slen(pv->region) + slen(pv->jurisdiction);
            }
        }
        t += reasons_len(c->reasons, c->nreasons);
    }
    for (uint32_t i = 0; p != NULL && i < d->nroute; i++)
        t += d->route[i] < p->nmodels ? slen(p->models[d->route[i]].id) : 0;
    return t + reasons_len(d->reasons, d->nreasons);
}

/* A string literal of this file: referenced, never freed. */
static cJSON *
lit(const char *s)
{
    return cJSON_CreateStringReference(s);
}

static cJSON *
num(double v)
{
    return cJSON_CreateNumber(v);
}

static cJSON *
num_or_null(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

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
put_reasons(struct eb *b, cJSON *obj, const struct tg_reason *r, uint32_t n)
{
    cJSON *arr = put(b, obj, "reasons", cJSON_CreateArray());

    for (uint32_t i = 0; arr != NULL && i < n; i++) {
        cJSON *o = put(b, arr, NULL, cJSON_CreateObject());
        put(b, o, "rule", str(b, r[i].rule));
        put(b, o, "message", str(b, r[i].message));
    }
}

/* `rules`: the distinct rule ids of the candidates' reasons, then the decision's, first seen first. */
static void
add_rule_id(struct eb *b, cJSON *rules, const char *id)
{
    const cJSON *it;

    if (id == NULL || rules == NULL)
        return;
    cJSON_ArrayForEach(it, rules)
        if (strcmp(it->valuestring, id) == 0)
            return;
    put(b, rules, NULL, str(b, id));
}

static void
put_rules(struct eb *b, cJSON *o, const struct tg_decision *d)
{
    cJSON *rules = put(b, o, "rules", cJSON_CreateArray());

    for (uint32_t i = 0; i < d->ncands; i++)
        for (uint32_t j = 0; j < d->cands[i].nreasons; j++)
            add_rule_id(b, rules, d->cands[i].reasons[j].rule);
    for (uint32_t j = 0; j < d->nreasons; j++)
        add_rule_id(b, rules, d->reasons[j].rule);
}

/* Offsets only: where, never what. */
static void
put_spans(struct eb *b, cJSON *o, const struct tg_decision *d)
{
    cJSON *arr = put(b, o, "pii_spans", cJSON_CreateArray());

    for (uint32_t i = 0; arr != NULL && i < d->findings.n && i < AUDIT_MAX_SPANS; i++) {
        const struct tg_finding *f = &d->findings.v[i];
        cJSON *e = put(b, arr, NULL, cJSON_CreateObject());
        put(b, e, "entity", str(b, f->entity));
        put(b, e, "part", num(f->part));
        put(b, e, "start", num(f->start));
        put(b, e, "end", num(f->end));
    }
    if (d->findings.n > AUDIT_MAX_SPANS)
        put(b, o, "pii_spans_truncated", cJSON_CreateTrue());
}

static void
put_strings(struct eb *b, cJSON *o, const char *key, const char *const *v, uint32_t n)
{
    cJSON *arr = put(b, o, key, cJSON_CreateArray());

    for (uint32_t i = 0; arr != NULL && i < n; i++)
        put(b, arr, NULL, str(b, v[i]));
}

/*
 * With a policy: the engine's CONTRACT §4 decision JSON (tg_decision_to_json
 * with detail off, the printer `explain` uses) minus its `mode` (the event's
 * own wins), each candidate with its `reasons` (why it was excluded), then
 * bounded PII offsets and the distinct rule ids.  Member for member what the
 * engine prints, built here without its intermediate tree: keep the two in
 * step (bench_audit checks old and new output agree).
 */
static void
put_engine_decision(struct eb *b, cJSON *o, const struct tg_policy *p, const struct tg_decision *d)
{
    cJSON *arr, *e;

    put(b, o, "decision", lit(verdict_name(d->verdict)));
    put(b, o, "enforced", cJSON_CreateBool(d->enforced));
    put(b, o, "tenant", str(b, d->tenant));
    put(b, o, "feature", str(b, d->feature));
    put(b, o, "category", str(b, d->category));
    put_strings(b, o, "export_tags", d->export_tags, d->nexport_tags);
    arr = put(b, o, "pii", cJSON_CreateArray());
    for (uint32_t i = 0; arr != NULL && i < d->npii; i++) {
        e = put(b, arr, NULL, cJSON_CreateObject());
        put(b, e, "entity", str(b, d->pii[i].entity));
        put(b, e, "count", num(d->pii[i].count));
        put(b, e, "class", lit(d->pii[i].cls == TG_PII_CLASS_SECRET ? "secret" : "pii"));
    }
    put(b, o, "pii_unscannable", cJSON_CreateBool(d->findings.unscannable));
    arr = put(b, o, "candidates", cJSON_CreateArray());
    for (uint32_t i = 0; arr != NULL && i < d->ncands; i++) {
        const struct tg_cand *c = &d->cands[i];
        const struct tg_model *m = c->model < p->nmodels ? &p->models[c->model] : NULL;
        const struct tg_provider *pv = m != NULL && m->provider < p->nproviders ? &p->providers[m->provider] : NULL;
        e = put(b, arr, NULL, cJSON_CreateObject());
        put(b, e, "model", str(b, m ? m->id : NULL));
        put(b, e, "provider", str(b, pv ? pv->id : NULL));
        put(b, e, "region", str(b, pv ? pv->region : NULL));
        put(b, e, "jurisdiction", str(b, pv ? pv->jurisdiction : NULL));
        put(b, e, "compliant", cJSON_CreateBool(c->compliant));
        put(b, e, "eligible", cJSON_CreateBool(c->eligible));
        put(b, e, "redact", cJSON_CreateBool(c->redact));
        put(b, e, "estimated_cost_usd", num_or_null(c->est_cost_usd));
        put(b, e, "timeout_ms", num(c->timeout_ms));
        if (e != NULL)
            put_reasons(b, e, c->reasons, c->nreasons);
    }
    arr = put(b, o, "route", cJSON_CreateArray());
    for (uint32_t i = 0; arr != NULL && i < d->nroute; i++)
        put(b, arr, NULL, str(b, d->route[i] < p->nmodels ? p->models[d->route[i]].id : NULL));
    put_reasons(b, o, d->reasons, d->nreasons);
    e = put(b, o, "estimated_tokens", cJSON_CreateObject());
    put(b, e, "input", num(d->est_input_tokens));
    put(b, e, "output", num(d->est_output_tokens));
    put(b, o, "deadline_ms", num(d->deadline_ms));
    put(b, o, "policy_version", str(b, d->policy_version));
    put_spans(b, o, d);
    put_rules(b, o, d);
}

/* Without a policy (tests, a decision made before load): the same fields
 * from the struct alone; models and providers cannot be named. */
static void
put_bare_decision(struct eb *b, cJSON *o, const struct tg_decision *d)
{
    cJSON *arr, *e;

    put(b, o, "decision", lit(verdict_name(d->verdict)));
    put(b, o, "enforced", cJSON_CreateBool(d->enforced));
    put(b, o, "tenant", str(b, d->tenant));
    put(b, o, "feature", str(b, d->feature));
    put(b, o, "category", str(b, d->category));
    put_strings(b, o, "export_tags", d->export_tags, d->nexport_tags);
    arr = put(b, o, "pii", cJSON_CreateArray());
    for (uint32_t i = 0; arr != NULL && i < d->npii; i++) {
        e = put(b, arr, NULL, cJSON_CreateObject());
        put(b, e, "entity", str(b, d->pii[i].entity));
        put(b, e, "count", num(d->pii[i].count));
    }
    put_spans(b, o, d);
    if (d->findings.unscannable)
        put(b, o, "pii_unscannable", cJSON_CreateTrue());
    arr = put(b, o, "candidates", cJSON_CreateArray());
    for (uint32_t i = 0; arr != NULL && i < d->ncands; i++) {
        const struct tg_cand *c = &d->cands[i];
        e = put(b, arr, NULL, cJSON_CreateObject());
        put(b, e, "model", cJSON_CreateNull());
        put(b, e, "provider", cJSON_CreateNull());
        put(b, e, "region", cJSON_CreateNull());
        put(b, e, "compliant", cJSON_CreateBool(c->compliant));
        put(b, e, "eligible", cJSON_CreateBool(c->eligible));
        put(b, e, "estimated_cost_usd", num_or_null(c->est_cost_usd));
        if (e != NULL)
            put_reasons(b, e, c->reasons, c->nreasons);
    }
    arr = put(b, o, "route", cJSON_CreateArray());
    for (uint32_t i = 0; arr != NULL && i < d->nroute; i++)
        put(b, arr, NULL, cJSON_CreateNull());
    put_reasons(b, o, d->reasons, d->nreasons);
    put_rules(b, o, d);
    put(b, o, "policy_version", str(b, d->policy_version));
}

/* No decision (unauthenticated, malformed before decide): the same fields,
 * empty, so readers need no special case.  An unauthenticated request never
 * reached the policy: name the rule it failed so `audit stats --by rule`
 * counts it. */
static void
put_no_decision(struct eb *b, cJSON *o, const struct tg_audit_event *ev)
{
    static const struct tg_reason unauth = { "tenant.unknown", "unknown or missing API key" };
    bool is_unauth = ev->event != NULL && strcmp(ev->event, "unauthenticated") == 0;
    cJSON *arr;

    put(b, o, "decision", lit("deny"));
    put(b, o, "tenant", str(b, ev->tenant));
    put(b, o, "feature", cJSON_CreateNull());
    put(b, o, "category", cJSON_CreateNull());
    put(b, o, "export_tags", cJSON_CreateArray());
    put(b, o, "pii", cJSON_CreateArray());
    put(b, o, "candidates", cJSON_CreateArray());
    put(b, o, "route", cJSON_CreateArray());
    arr = put(b, o, "reasons", cJSON_CreateArray());
    if (is_unauth && arr != NULL) {
        cJSON *r = put(b, arr, NULL, cJSON_CreateObject());
        put(b, r, "rule", lit(unauth.rule));
        put(b, r, "message", lit(unauth.message));
    }
    arr = put(b, o, "rules", cJSON_CreateArray());
    if (is_unauth)
        put(b, arr, NULL, lit(unauth.rule));
    put(b, o, "policy_version", str(b, ev->policy ? ev->policy->policy_version : NULL));
}

cJSON *
tg_audit_entry_json(const struct tg_audit_event *ev)
{
    struct eb b = { false, NULL, 0, 0 };
    cJSON *o = cJSON_CreateObject(), *arr, *u;
    char ts[32], hex[65];
    size_t need = strings_len(ev);

    if (o == NULL)
        return NULL;
    if ((b.pool = cJSON_malloc(need)) != NULL) {
        b.cap = need;
        o->valuestring = b.pool;   /* freed by cJSON_Delete(o), after the members */
    }
    tg__audit_fmt_ts(ev->ts_us != 0 ? ev->ts_us : tg__audit_now_us(), ts);
    put(&b, o, "event", ev->event ? str(&b, ev->event) : lit("decision"));
    put(&b, o, "ts", str(&b, ts));
    put(&b, o, "decision_id", str(&b, ev->decision_id));
    put(&b, o, "mode", str(&b, ev->mode));
    if (ev->decision != NULL && ev->policy != NULL)
        put_engine_decision(&b, o, ev->policy, ev->decision);
    else if (ev->decision != NULL)
        put_bare_decision(&b, o, ev->decision);
    else
        put_no_decision(&b, o, ev);
    put(&b, o, "model", str(&b, ev->model));
    put(&b, o, "provider", str(&b, ev->provider));
    put(&b, o, "status", num(ev->http_status));
    arr = put(&b, o, "attempts", cJSON_CreateArray());
    for (uint32_t i = 0; arr != NULL && i < ev->nattempts; i++) {
        const struct tg_audit_attempt *a = &ev->attempts[i];
        cJSON *e = put(&b, arr, NULL, cJSON_CreateObject());
        put(&b, e, "model", str(&b, a->model));
        put(&b, e, "provider", str(&b, a->provider));
        put(&b, e, "outcome", str(&b, a->outcome));
        put(&b, e, "http_status", num(a->http_status));
        put(&b, e, "ms", num(a->ms));
    }
    put(&b, o, "latency_ms", num(ev->latency_ms));
    u = put(&b, o, "usage", cJSON_CreateObject());
    put(&b, u, "prompt_tokens", ev->prompt_tokens >= 0 ? num((double)ev->prompt_tokens) : cJSON_CreateNull());
    put(&b, u, "completion_tokens",
        ev->completion_tokens >= 0 ? num((double)ev->completion_tokens) : cJSON_CreateNull());
    put(&b, o, "cost_usd", num_or_null(ev->cost_usd));
    if (ev->has_request_hmac)
        tg__audit_hex(ev->request_hmac, 32, hex);
    put(&b, o, "request_sha256", ev->has_request_hmac ? str(&b, hex) : cJSON_CreateNull());
    put(&b, o, "request_len", num((double)ev->request_len));
    put(&b, o, "stream", cJSON_CreateBool(ev->stream));
    if (ev->error != NULL)
        put(&b, o, "error", str(&b, ev->error));
    if (b.fail) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

void
tg_audit_new_id(char out[33])
{
    uint8_t b[16];

    /* getrandom first: it cannot fail once the pool is initialised and needs no OpenSSL state. */
    if (getrandom(b, sizeof(b), 0) != (ssize_t)sizeof(b) && RAND_bytes(b, sizeof(b)) != 1) {
        /* Unreachable in practice; an id must still be unique-ish, so mix the clock. */
        int64_t t = tg__audit_now_us();
        memset(b, 0, sizeof(b));
        memcpy(b, &t, sizeof(t));
    }
    tg__audit_hex(b, sizeof(b), out);
}
