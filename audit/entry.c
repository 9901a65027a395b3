/* entry.c — render one audit entry (docs/interface.md §6) from an event. */
#include "audit/audit.h"
#include "audit/audit_int.h"
#include "engine/decision_text.h"
#include "engine/limits.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/rand.h>

/* ---- rendering ---------------------------------------------------------------
 *
 * An entry is rendered once, straight to the bytes the writer prints after
 * its header (engine/jtext.h), the decision by the engine's one decision
 * renderer (engine/decision_text.h); tg_audit_entry_json() is the parse of
 * these bytes, so there is one renderer to keep right. */

#define tb                 tg_jtext
#define tb_key             tg_jtext_key
#define tb_str             tg_jtext_str
#define tb_bool            tg_jtext_bool
#define tb_int             tg_jtext_int
#define tb_num             tg_jtext_num
#define tb_null            tg_jtext_null
#define tb_empty           tg_jtext_empty
#define tb_open            tg_jtext_open
#define tb_close           tg_jtext_close
#define tb_elem            tg_jtext_elem
#define tb_raw             tg_jtext_raw
#define tb_room            tg_jtext_room

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
    tb_key(b, "allowed");
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
    struct tb b = { false, false, NULL, 0, 0, 0 };
    const struct tg_decision *d = ev->decision;
    const char *event = ev->event ? ev->event : "decision";
    char ts[32], hex[65];
    size_t elen = strlen(event);

    *out = (struct tg_audit_text){ NULL, 0, NULL };
    if (!tb_room(&b, 1024 + 128 * ev->nattempts +
                         (d != NULL ? 320 * d->ncands + 96 * (d->nreasons + d->npii + d->nallowed) +
                                      48 * (d->findings.n < TG_MAX_AUDIT_SPANS ? d->findings.n : TG_MAX_AUDIT_SPANS)
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
        tg_decision_render(&b, ev->policy, ev->decision, TG_DECISION_CAND_REASONS | TG_DECISION_AUDIT);
    else if (ev->decision != NULL)
        tg_decision_render_bare(&b, ev->decision);
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
    if (ev->resp_verdict != NULL) {
        tb_key(&b, "response_findings");
        tb_open(&b, '[');
        for (uint32_t i = 0; i < ev->nresp_findings; i++) {
            tb_elem(&b);
            tb_open(&b, '{');
            tb_key(&b, "entity");
            tb_str(&b, ev->resp_findings[i].entity);
            tb_key(&b, "count");
            tb_int(&b, ev->resp_findings[i].count);
            tb_close(&b, '}');
        }
        tb_close(&b, ']');
        tb_key(&b, "response_verdict");
        tb_str(&b, ev->resp_verdict);
        if (ev->resp_rule != NULL) {
            tb_key(&b, "response_rule");
            tb_str(&b, ev->resp_rule);
        }
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
