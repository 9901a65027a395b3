/* entry.c — render one audit entry (docs/interface.md §6) from an event. */
#include "audit/audit.h"
#include "audit/audit_int.h"

#include <math.h>
#include <stdlib.h>
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

/* ---- rendering ---------------------------------------------------------------
 *
 * An entry is rendered once, straight to the bytes the writer prints after
 * its header: one growing buffer instead of a tree of ~50 nodes, and the
 * writer copies it into the line.  tg_audit_entry_json() is the parse of
 * these bytes, so there is one renderer to keep right.
 *
 * Separators: `comma` says whether the next member or element needs one;
 * keys and array elements write it, values set it, brackets clear it.
 */
struct tb {
    bool   fail;
    bool   comma;
    char  *p;
    size_t len, cap;
};

/* Out of line: rarely taken (the first size fits most entries). */
static bool
tb_grow(struct tb *b, size_t more)
{
    size_t ncap = b->cap ? b->cap : 1024;
    char *np;

    while (ncap - b->len < more)
        ncap *= 2;
    if ((np = realloc(b->p, ncap)) == NULL) {
        b->fail = true;
        return false;
    }
    b->p = np;
    b->cap = ncap;
    return true;
}

static inline bool
tb_room(struct tb *b, size_t more)
{
    if (b->fail)
        return false;
    return b->cap - b->len >= more || tb_grow(b, more);
}

static inline void
tb_raw(struct tb *b, const char *s, size_t n)
{
    if (tb_room(b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

/* Member name, quoted with its colon: `"k":` (n bytes).  Names are
 * literals of this file (nothing to escape), so tb_key pastes the quotes
 * and colon at compile time and no strlen runs per member. */
static inline void
tb_keyn(struct tb *b, const char *qk, size_t n)
{
    if (!tb_room(b, n + 1))
        return;
    if (b->comma)
        b->p[b->len++] = ',';
    memcpy(b->p + b->len, qk, n);
    b->len += n;
}

#define tb_key(b, k) tb_keyn((b), "\"" k "\":", sizeof("\"" k "\":") - 1)

/* Before an array element. */
static inline void
tb_elem(struct tb *b)
{
    if (b->comma)
        tb_raw(b, ",", 1);
}

static inline void
tb_open(struct tb *b, char c)
{
    tb_raw(b, &c, 1);
    b->comma = false;
}

static inline void
tb_close(struct tb *b, char c)
{
    tb_raw(b, &c, 1);
    b->comma = true;
}

/* An empty array. */
static inline void
tb_empty(struct tb *b)
{
    tb_raw(b, "[]", 2);
    b->comma = true;
}

static inline void
tb_null(struct tb *b)
{
    tb_raw(b, "null", 4);
    b->comma = true;
}

static inline void
tb_bool(struct tb *b, bool v)
{
    if (v)
        tb_raw(b, "true", 4);
    else
        tb_raw(b, "false", 5);
    b->comma = true;
}

/* A string, or null. */
static inline void
tb_str(struct tb *b, const char *s)
{
    size_t n;

    if (s == NULL) {
        tb_null(b);
        return;
    }
    n = strlen(s);
    if (tb_room(b, 2 + 6 * n))
        b->len += tg__audit_esc_str(b->p + b->len, s, n);
    b->comma = true;
}

/* Any double, non-finite as null (num_or_null; num() never gets one). */
static inline void
tb_num(struct tb *b, double v)
{
    size_t n;

    if (tb_room(b, TG__AUDIT_NUM_MAX)) {
        if ((n = tg__audit_fmt_num(v, b->p + b->len)) == 0)
            b->fail = true;
        b->len += n;
    }
    b->comma = true;
}

/* An int or uint32_t member: exact as a double,
 * so put_num would print it as this integer. */
static inline void
tb_int(struct tb *b, int64_t v)
{
    if (tb_room(b, 20))
        b->len += tg__audit_fmt_i64(v, b->p + b->len);
    b->comma = true;
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
    for (uint32_t i = 0; i < d->findings.n && i < AUDIT_MAX_SPANS; i++) {
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
    if (d->findings.n > AUDIT_MAX_SPANS) {
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

/* put_engine_decision */
static void
tb_engine_decision(struct tb *b, const struct tg_policy *p, const struct tg_decision *d)
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
        tb_key(b, "class");
        tb_str(b, d->pii[i].cls == TG_PII_CLASS_SECRET ? "secret" : "pii");
        tb_close(b, '}');
    }
    tb_close(b, ']');
    tb_key(b, "pii_unscannable");
    tb_bool(b, d->findings.unscannable);
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
    tb_key(b, "policy_version");
    tb_str(b, d->policy_version);
    tb_spans(b, d);
    tb_rules(b, d);
}

/* put_bare_decision */
static void
tb_bare_decision(struct tb *b, const struct tg_decision *d)
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

/* put_no_decision */
static void
tb_no_decision(struct tb *b, const struct tg_audit_event *ev)
{
    static const char unauth_rule[] = "tenant.unknown", unauth_msg[] = "unknown or missing API key";
    static const char cert_rule[] = "tenant.certificate",
                      cert_msg[] = "client certificate refused or bound to no tenant";
    bool is_unauth = ev->event != NULL && strcmp(ev->event, "unauthenticated") == 0;
    bool by_cert = is_unauth && ev->auth != NULL && strcmp(ev->auth, "mtls") == 0;
    /* A token count is answered by tollgate itself: nothing was sent
     * anywhere, nothing refused. */
    bool local = ev->event != NULL && strcmp(ev->event, "count_tokens") == 0 && ev->http_status == 200;

    tb_key(b, "decision");
    tb_str(b, local ? "allow" : "deny");
    tb_key(b, "tenant");
    tb_str(b, ev->tenant);
    tb_key(b, "feature");
    tb_null(b);
    tb_key(b, "category");
    tb_null(b);
    tb_key(b, "export_tags");
    tb_empty(b);
    tb_key(b, "pii");
    tb_empty(b);
    tb_key(b, "candidates");
    tb_empty(b);
    tb_key(b, "route");
    tb_empty(b);
    tb_key(b, "reasons");
    tb_open(b, '[');
    if (is_unauth) {
        tb_open(b, '{');
        tb_key(b, "rule");
        tb_str(b, by_cert ? cert_rule : unauth_rule);
        tb_key(b, "message");
        tb_str(b, by_cert ? cert_msg : unauth_msg);
        tb_close(b, '}');
    }
    tb_close(b, ']');
    tb_key(b, "rules");
    tb_open(b, '[');
    if (is_unauth)
        tb_str(b, by_cert ? cert_rule : unauth_rule);
    tb_close(b, ']');
    tb_key(b, "policy_version");
    tb_str(b, ev->policy ? ev->policy->policy_version : NULL);
}

int
tg_audit_entry_text(const struct tg_audit_event *ev, struct tg_audit_text *out)
{
    /* Sized for the usual entry from the counts alone (measuring every
     * string first would cost as much as copying it); tb_grow doubles it
     * for the rest. */
    struct tb b = { false, false, NULL, 0, 0 };
    const struct tg_decision *d = ev->decision;
    const char *event = ev->event ? ev->event : "decision";
    char ts[32], hex[65];
    size_t elen = strlen(event);

    *out = (struct tg_audit_text){ NULL, 0, NULL };
    if (!tb_room(&b, 1024 + 128 * ev->nattempts +
                         (d != NULL ? 320 * d->ncands + 96 * (d->nreasons + d->npii) +
                                      48 * (d->findings.n < AUDIT_MAX_SPANS ? d->findings.n : AUDIT_MAX_SPANS)
                                    : 0)))
        return TG_ENOMEM;
    tg__audit_fmt_ts(ev->ts_us != 0 ? ev->ts_us : tg__audit_now_us(), ts);
    /* `event` is the writer's (its header): not a member here. */
    tb_key(&b, "ts");
    tb_str(&b, ts);
    tb_key(&b, "decision_id");
    tb_str(&b, ev->decision_id);
    tb_key(&b, "mode");
    tb_str(&b, ev->mode);
    if (ev->decision != NULL && ev->policy != NULL)
        tb_engine_decision(&b, ev->policy, ev->decision);
    else if (ev->decision != NULL)
        tb_bare_decision(&b, ev->decision);
    else
        tb_no_decision(&b, ev);
    tb_key(&b, "model");
    tb_str(&b, ev->model);
    tb_key(&b, "provider");
    tb_str(&b, ev->provider);
    tb_key(&b, "status");
    tb_int(&b, ev->http_status);
    tb_key(&b, "attempts");
    tb_open(&b, '[');
    for (uint32_t i = 0; i < ev->nattempts; i++) {
        const struct tg_audit_attempt *a = &ev->attempts[i];
        tb_elem(&b);
        tb_open(&b, '{');
        tb_key(&b, "model");
        tb_str(&b, a->model);
        tb_key(&b, "provider");
        tb_str(&b, a->provider);
        tb_key(&b, "outcome");
        tb_str(&b, a->outcome);
        tb_key(&b, "http_status");
        tb_int(&b, a->http_status);
        tb_key(&b, "ms");
        tb_int(&b, a->ms);
        tb_close(&b, '}');
    }
    tb_close(&b, ']');
    tb_key(&b, "latency_ms");
    tb_int(&b, ev->latency_ms);
    tb_key(&b, "usage");
    tb_open(&b, '{');
    tb_key(&b, "prompt_tokens");
    if (ev->prompt_tokens >= 0)
        tb_num(&b, (double)ev->prompt_tokens);
    else
        tb_null(&b);
    tb_key(&b, "completion_tokens");
    if (ev->completion_tokens >= 0)
        tb_num(&b, (double)ev->completion_tokens);
    else
        tb_null(&b);
    tb_close(&b, '}');
    tb_key(&b, "cost_usd");
    tb_num(&b, ev->cost_usd);
    tb_key(&b, "request_sha256");
    if (ev->has_request_hmac) {
        tg__audit_hex(ev->request_hmac, 32, hex);
        tb_str(&b, hex);
    } else {
        tb_null(&b);
    }
    tb_key(&b, "request_len");
    tb_num(&b, (double)ev->request_len);
    tb_key(&b, "stream");
    tb_bool(&b, ev->stream);
    if (ev->error != NULL) {
        tb_key(&b, "error");
        tb_str(&b, ev->error);
    }
    if (ev->endpoint != NULL) {
        tb_key(&b, "endpoint");
        tb_str(&b, ev->endpoint);
    }
    if (ev->auth != NULL) {
        tb_key(&b, "auth");
        tb_str(&b, ev->auth);
    }
    /* The event name rides behind the members, in the same block. */
    if (tb_room(&b, elen + 2)) {
        b.p[b.len] = '\0';
        memcpy(b.p + b.len + 1, event, elen + 1);
    }
    if (b.fail) {
        free(b.p);
        return TG_ENOMEM;
    }
    *out = (struct tg_audit_text){ b.p, b.len, b.p + b.len + 1 };
    return TG_OK;
}

cJSON *
tg_audit_entry_json(const struct tg_audit_event *ev)
{
    struct tg_audit_text t;
    size_t elen, n = 0;
    char *j;
    cJSON *o = NULL;

    if (tg_audit_entry_text(ev, &t) != TG_OK)
        return NULL;
    elen = strlen(t.event);
    /* {"event":<event>,<members>} — the member order the writer prints */
    /* 9 for {"event": + the quoted, escaped name (<= 2 + 6 * elen) + "," + members + "}" */
    if ((j = malloc(9 + 2 + 6 * elen + 1 + t.len + 1)) != NULL) {
        memcpy(j, "{\"event\":", 9);
        n = 9 + tg__audit_esc_str(j + 9, t.event, elen);
        j[n++] = ',';
        memcpy(j + n, t.buf, t.len);
        n += t.len;
        j[n++] = '}';
        o = cJSON_ParseWithLength(j, n);
        free(j);
    }
    tg_audit_text_free(&t);
    return o;
}

void
tg_audit_text_free(struct tg_audit_text *t)
{
    if (t == NULL)
        return;
    free(t->buf);
    *t = (struct tg_audit_text){ NULL, 0, NULL };
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
