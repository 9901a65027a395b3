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

static const char *
verdict_name(enum tg_verdict v)
{
    switch (v) {
    case TG_ALLOW:  return "allow";
    case TG_REDACT: return "redact";
    default:        return "deny";
    }
}

static cJSON *
str_or_null(const char *s)
{
    return s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static bool
add(cJSON *obj, const char *key, cJSON *val)
{
    if (val == NULL)
        return false;
    cJSON_AddItemToObject(obj, key, val);
    return true;
}

static bool
add_item_str(cJSON *arr, const char *s)
{
    cJSON *v = cJSON_CreateString(s);
    if (v == NULL)
        return false;
    cJSON_AddItemToArray(arr, v);
    return true;
}

static cJSON *
reasons_json(const struct tg_reason *r, uint32_t n)
{
    cJSON *arr = cJSON_CreateArray();
    for (uint32_t i = 0; arr != NULL && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !add(o, "rule", str_or_null(r[i].rule)) ||
            !add(o, "message", str_or_null(r[i].message))) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddItemToArray(arr, o);
    }
    return arr;
}

static bool add_spans(cJSON *o, const struct tg_decision *d);

static bool
add_rule_id(cJSON *rules, const char *id)
{
    cJSON *it;
    if (id == NULL)
        return true;
    cJSON_ArrayForEach(it, rules)
        if (strcmp(it->valuestring, id) == 0)
            return true;
    return add_item_str(rules, id);
}

/* The decision fields of CONTRACT §4 plus what the audit adds, built from the
 * struct directly: used when no policy is at hand (the engine's printer
 * needs one to name models), e.g. tests and a decision made before load. */
static bool
add_decision(cJSON *o, const struct tg_policy *p, const struct tg_decision *d)
{
    cJSON *arr, *rules;

    if (!add(o, "decision", cJSON_CreateString(verdict_name(d->verdict))) ||
        !add(o, "enforced", cJSON_CreateBool(d->enforced)) ||
        !add(o, "tenant", str_or_null(d->tenant)) || !add(o, "feature", str_or_null(d->feature)) ||
        !add(o, "category", str_or_null(d->category)))
        return false;
    if ((arr = cJSON_AddArrayToObject(o, "export_tags")) == NULL)
        return false;
    for (uint32_t i = 0; i < d->nexport_tags; i++)
        if (!add_item_str(arr, d->export_tags[i]))
            return false;
    if ((arr = cJSON_AddArrayToObject(o, "pii")) == NULL)
        return false;
    for (uint32_t i = 0; i < d->npii; i++) {
        cJSON *e = cJSON_CreateObject();
        if (e == NULL)
            return false;
        cJSON_AddItemToArray(arr, e);
        if (!add(e, "entity", str_or_null(d->pii[i].entity)) ||
            !add(e, "count", cJSON_CreateNumber(d->pii[i].count)))
            return false;
    }
    /* Offsets only: where, never what. */
    if (!add_spans(o, d))
        return false;
    if (d->findings.unscannable && !add(o, "pii_unscannable", cJSON_CreateTrue()))
        return false;

    if ((rules = cJSON_CreateArray()) == NULL)
        return false;
    if ((arr = cJSON_AddArrayToObject(o, "candidates")) == NULL) {
        cJSON_Delete(rules);
        return false;
    }
    for (uint32_t i = 0; i < d->ncands; i++) {
        const struct tg_cand *c = &d->cands[i];
        const struct tg_model *m = p != NULL && c->model < p->nmodels ? &p->models[c->model] : NULL;
        const struct tg_provider *pv = m != NULL && m->provider < p->nproviders ? &p->providers[m->provider] : NULL;
        cJSON *e = cJSON_CreateObject();
        if (e == NULL)
            goto fail;
        cJSON_AddItemToArray(arr, e);
        if (!add(e, "model", str_or_null(m ? m->id : NULL)) ||
            !add(e, "provider", str_or_null(pv ? pv->id : NULL)) ||
            !add(e, "region", str_or_null(pv ? pv->region : NULL)) ||
            !add(e, "compliant", cJSON_CreateBool(c->compliant)) ||
            !add(e, "eligible", cJSON_CreateBool(c->eligible)) ||
            !add(e, "estimated_cost_usd",
                 isfinite(c->est_cost_usd) ? cJSON_CreateNumber(c->est_cost_usd) : cJSON_CreateNull()) ||
            !add(e, "reasons", reasons_json(c->reasons, c->nreasons)))
            goto fail;
        for (uint32_t j = 0; j < c->nreasons; j++)
            if (!add_rule_id(rules, c->reasons[j].rule))
                goto fail;
    }
    if ((arr = cJSON_AddArrayToObject(o, "route")) == NULL)
        goto fail;
    for (uint32_t i = 0; i < d->nroute; i++) {
        const char *id = p != NULL && d->route[i] < p->nmodels ? p->models[d->route[i]].id : NULL;
        cJSON *s = str_or_null(id);
        if (s == NULL)
            goto fail;
        cJSON_AddItemToArray(arr, s);
    }
    if (!add(o, "reasons", reasons_json(d->reasons, d->nreasons)))
        goto fail;
    for (uint32_t j = 0; j < d->nreasons; j++)
        if (!add_rule_id(rules, d->reasons[j].rule))
            goto fail;
    cJSON_AddItemToObject(o, "rules", rules);
    return add(o, "policy_version",
               str_or_null(d->policy_version ? d->policy_version : p ? p->policy_version : NULL));
fail:
    cJSON_Delete(rules);
    return false;
}

static bool
add_spans(cJSON *o, const struct tg_decision *d)
{
    cJSON *arr = cJSON_AddArrayToObject(o, "pii_spans");
    if (arr == NULL)
        return false;
    for (uint32_t i = 0; i < d->findings.n && i < AUDIT_MAX_SPANS; i++) {
        const struct tg_finding *f = &d->findings.v[i];
        cJSON *e = cJSON_CreateObject();
        if (e == NULL)
            return false;
        cJSON_AddItemToArray(arr, e);
        if (!add(e, "entity", str_or_null(f->entity)) || !add(e, "part", cJSON_CreateNumber(f->part)) ||
            !add(e, "start", cJSON_CreateNumber(f->start)) || !add(e, "end", cJSON_CreateNumber(f->end)))
            return false;
    }
    return d->findings.n <= AUDIT_MAX_SPANS || add(o, "pii_spans_truncated", cJSON_CreateTrue());
}

/*
 * The engine's CONTRACT §4 JSON (one printer for explain and audit), without
 * its unbounded per-finding detail, plus what the audit adds: each
 * candidate's reasons (why it was excluded), bounded PII offsets, and the
 * distinct rule ids of every reason.
 */
static bool
merge_engine_decision(cJSON *o, const struct tg_policy *p, const struct tg_decision *d)
{
    cJSON *dj = tg_decision_to_json(p, d, false), *cands, *c, *rules;
    uint32_t i = 0;

    if (dj == NULL)
        return false;
    while (dj->child != NULL) {
        cJSON *it = cJSON_DetachItemViaPointer(dj, dj->child);
        if (cJSON_GetObjectItemCaseSensitive(o, it->string) != NULL)
            cJSON_Delete(it);   /* the event's own value (e.g. mode) wins */
        else
            cJSON_AddItemToObject(o, it->string, it);
    }
    cJSON_Delete(dj);
    cands = cJSON_GetObjectItemCaseSensitive(o, "candidates");
    cJSON_ArrayForEach(c, cands) {
        if (i >= d->ncands)
            break;
        if (cJSON_GetObjectItemCaseSensitive(c, "reasons") == NULL &&
            !add(c, "reasons", reasons_json(d->cands[i].reasons, d->cands[i].nreasons)))
            return false;
        i++;
    }
    if (!add_spans(o, d) || (rules = cJSON_CreateArray()) == NULL)
        return false;
    cJSON_AddItemToObject(o, "rules", rules);
    for (i = 0; i < d->ncands; i++)
        for (uint32_t j = 0; j < d->cands[i].nreasons; j++)
            if (!add_rule_id(rules, d->cands[i].reasons[j].rule))
                return false;
    for (uint32_t j = 0; j < d->nreasons; j++)
        if (!add_rule_id(rules, d->reasons[j].rule))
            return false;
    return true;
}

cJSON *
tg_audit_entry_json(const struct tg_audit_event *ev)
{
    cJSON *o = cJSON_CreateObject(), *arr;
    char ts[32];

    if (o == NULL)
        return NULL;
    tg__audit_fmt_ts(ev->ts_us != 0 ? ev->ts_us : tg__audit_now_us(), ts);
    if (!add(o, "event", cJSON_CreateString(ev->event ? ev->event : "decision")) ||
        !add(o, "ts", cJSON_CreateString(ts)) || !add(o, "decision_id", str_or_null(ev->decision_id)) ||
        !add(o, "mode", str_or_null(ev->mode)))
        goto fail;
    if (ev->decision != NULL && ev->policy != NULL) {
        if (!merge_engine_decision(o, ev->policy, ev->decision))
            goto fail;
    } else if (ev->decision != NULL) {
        if (!add_decision(o, ev->policy, ev->decision))
            goto fail;
    } else {
        /* No decision (unauthenticated, malformed before decide): the same
         * fields, empty, so readers need no special case. */
        /* An unauthenticated request never reached the policy: name the
         * rule it failed so `audit stats --by rule` counts it. */
        static const struct tg_reason unauth = { "tenant.unknown", "unknown or missing API key" };
        bool is_unauth = ev->event != NULL && strcmp(ev->event, "unauthenticated") == 0;
        cJSON *rules;
        if (!add(o, "decision", cJSON_CreateString("deny")) ||
            !add(o, "tenant", str_or_null(ev->tenant)) || !add(o, "feature", cJSON_CreateNull()) ||
            !add(o, "category", cJSON_CreateNull()) || !cJSON_AddArrayToObject(o, "export_tags") ||
            !cJSON_AddArrayToObject(o, "pii") || !cJSON_AddArrayToObject(o, "candidates") ||
            !cJSON_AddArrayToObject(o, "route") ||
            !add(o, "reasons", reasons_json(&unauth, is_unauth ? 1 : 0)) ||
            (rules = cJSON_AddArrayToObject(o, "rules")) == NULL ||
            (is_unauth && !add_item_str(rules, unauth.rule)) ||
            !add(o, "policy_version", str_or_null(ev->policy ? ev->policy->policy_version : NULL)))
            goto fail;
    }
    if (!add(o, "model", str_or_null(ev->model)) || !add(o, "provider", str_or_null(ev->provider)) ||
        !add(o, "status", cJSON_CreateNumber(ev->http_status)))
        goto fail;
    if ((arr = cJSON_AddArrayToObject(o, "attempts")) == NULL)
        goto fail;
    for (uint32_t i = 0; i < ev->nattempts; i++) {
        const struct tg_audit_attempt *a = &ev->attempts[i];
        cJSON *e = cJSON_CreateObject();
        if (e == NULL)
            goto fail;
        cJSON_AddItemToArray(arr, e);
        if (!add(e, "model", str_or_null(a->model)) || !add(e, "provider", str_or_null(a->provider)) ||
            !add(e, "outcome", str_or_null(a->outcome)) ||
            !add(e, "http_status", cJSON_CreateNumber(a->http_status)) ||
            !add(e, "ms", cJSON_CreateNumber(a->ms)))
            goto fail;
    }
    if (!add(o, "latency_ms", cJSON_CreateNumber(ev->latency_ms)))
        goto fail;
    {
        cJSON *u = cJSON_CreateObject();
        if (!add(o, "usage", u) ||
            !add(u, "prompt_tokens", ev->prompt_tokens >= 0 ? cJSON_CreateNumber((double)ev->prompt_tokens)
                                                             : cJSON_CreateNull()) ||
            !add(u, "completion_tokens", ev->completion_tokens >= 0
                                             ? cJSON_CreateNumber((double)ev->completion_tokens)
                                             : cJSON_CreateNull()))
            goto fail;
    }
    if (!add(o, "cost_usd", isfinite(ev->cost_usd) ? cJSON_CreateNumber(ev->cost_usd) : cJSON_CreateNull()))
        goto fail;
    if (ev->has_request_hmac) {
        char hex[65];
        tg__audit_hex(ev->request_hmac, 32, hex);
        if (!add(o, "request_sha256", cJSON_CreateString(hex)))
            goto fail;
    } else if (!add(o, "request_sha256", cJSON_CreateNull())) {
        goto fail;
    }
    if (!add(o, "request_len", cJSON_CreateNumber((double)ev->request_len)) ||
        !add(o, "stream", cJSON_CreateBool(ev->stream)))
        goto fail;
    if (ev->error != NULL && !add(o, "error", cJSON_CreateString(ev->error)))
        goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
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
