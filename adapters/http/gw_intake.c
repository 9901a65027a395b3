/*
 * gw_intake.c — the doors: routing by path, authentication (key, client
 * certificate), tenant rate, the dialect decode, context resolution and the
 * pre-flight decision; /v1/models and /metrics.
 */
#include "adapters/http/gw_int.h"

static int header_count(struct evhttp_request *ev, const char *name, const char **last);
static bool value_ok(const char *v);
static const char * header_value(struct evhttp_request *ev, const char *name);
static int add_export_tags(struct gw_req *r, const char *name);
static struct gw_req * req_new(struct gw_loop *L, struct evhttp_request *ev);
static void reply_plain(struct evhttp_request *ev, int code, const char *ctype, const char *body, size_t len);
static struct bufferevent * conn_bev(struct evhttp_request *ev);
static bool auth_fail(struct gw_req *r, const char *msg);
static bool authenticate(struct gw_req *r);
static bool rate_ok(struct gw_req *r);
static void add_reason(struct tg_jtext *b, struct tg_jtext *rj, uint32_t *n, const struct tg_reason *rs,            const char *model);
static const char * deny_message(struct gw_req *r, char **rules_json);
static bool refused_at_door(struct gw_req *r);
static void answer_count_tokens(struct gw_req *r);
static void handle_infer(struct gw_loop *L, struct evhttp_request *ev, const struct tg_dialect_ops *dialect);
static void handle_models(struct gw_loop *L, struct evhttp_request *ev);
static void handle_metrics(struct gw_loop *L, struct evhttp_request *ev);
static void refused_plain(struct evhttp_request *ev);


/* How often a request header occurs; the last value in *last. */
static int
header_count(struct evhttp_request *ev, const char *name, const char **last)
{
    struct evkeyval *kv;
    int n = 0;

    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(ev), next)
        if (strcasecmp(kv->key, name) == 0) {
            n++;
            if (last)
                *last = kv->value;
        }
    return n;
}


static bool
value_ok(const char *v)
{
    if (v == NULL || strlen(v) > TG_MAX_HEADER_VALUE)
        return false;
    for (const char *c = v; *c; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t')
            return false;
    return true;
}


/* A routing header we copy into the request context: bounded, no control
 * bytes.  Repeated, the last one wins (a client overriding its SDK's
 * default header), as for curl -H given twice. */
static const char *
header_value(struct evhttp_request *ev, const char *name)
{
    const char *v = NULL;

    if (header_count(ev, name, &v) == 0 || !value_ok(v))
        return NULL;
    return v;
}


/* Export tags: every occurrence counts (a union can only restrict more). */
static int
add_export_tags(struct gw_req *r, const char *name)
{
    struct evkeyval *kv;

    TAILQ_FOREACH(kv, evhttp_request_get_input_headers(r->ev), next)
        if (strcasecmp(kv->key, name) == 0) {
            if (!value_ok(kv->value) || tg_request_add_tags(&r->req, kv->value, &r->arena) != TG_OK)
                return TG_EINVAL;
        }
    return TG_OK;
}


/* ---- handlers ----------------------------------------------------------- */

static struct gw_req *
req_new(struct gw_loop *L, struct evhttp_request *ev)
{
    struct gw_req *r = calloc(1, sizeof(*r));

    if (r == NULL)
        return NULL;
    r->xfer.kind = GW_XFER_ATTEMPT;
    r->L = L;
    r->ev = ev;
    r->t0_ms = mono_ms();
    r->t0_us_mono = mono_us();
    r->ts_us = wall_us();
    r->cost = NAN;
    r->usage.prompt_tokens = r->usage.completion_tokens = -1;
    r->retry_after_ms = -1;
    r->status = 500;
    tg_arena_init(&r->arena, 0);
    r->out = evbuffer_new();
    r->ubuf = evbuffer_new();
    r->chunk = evbuffer_new();
    tg_audit_new_id(r->id);
    r->snap = tg__gw_snap_get();
    r->p = r->snap ? r->snap->p : NULL;
    L->inflight++;
    if (r->out == NULL || r->ubuf == NULL || r->chunk == NULL || r->snap == NULL) {
        r->ev = NULL;
        tg__gw_req_free(r);
        return NULL;
    }
    return r;
}


static void
reply_plain(struct evhttp_request *ev, int code, const char *ctype, const char *body, size_t len)
{
    struct evbuffer *b = evbuffer_new();

    if (b == NULL) {
        evhttp_send_error(ev, 500, NULL);
        return;
    }
    evhttp_add_header(evhttp_request_get_output_headers(ev), "Content-Type", ctype);
    if (evhttp_request_get_command(ev) == EVHTTP_REQ_HEAD) {
        /* evhttp 2.1 would send the body after a HEAD answer's headers,
         * where the client reads it as the start of the next answer. */
        char cl[24];
        snprintf(cl, sizeof(cl), "%zu", len);
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Content-Length", cl);
    } else {
        evbuffer_add(b, body, len);
    }
    evhttp_send_reply(ev, code, tg__gw_reason_phrase(code), b);
    evbuffer_free(b);
}


/* The connection's bufferevent as made by tg__gw_on_new_bev (the header guard's
 * filter, over TLS when the listener speaks it). */
static struct bufferevent *
conn_bev(struct evhttp_request *ev)
{
    struct evhttp_connection *c = ev ? evhttp_request_get_connection(ev) : NULL;
    return c ? evhttp_connection_get_bufferevent(c) : NULL;
}


static bool
auth_fail(struct gw_req *r, const char *msg)
{
    r->event_kind = "unauthenticated";
    tg__gw_set_error(r, 401, "invalid_request_error", "invalid_api_key", msg, NULL);
    return false;
}


/*
 * Auth; on failure r holds the 401 and false is returned.  A tenant is
 * known by its API key, by its client certificate (mTLS: verified against
 * server.tls.client_ca in the handshake, then matched by fingerprint), or
 * by both: a key whose tenant has a certificate configured counts only
 * over that certificate, and a key and a certificate of two different
 * tenants are refused.  A sent key must always be valid.
 */
static bool
authenticate(struct gw_req *r)
{
    const char *tok = NULL, *xtok;
    size_t len = 0, xlen;
    uint8_t h[32], fp[32];
    unsigned int hl = 0;
    const char *authz = NULL, *xkey = NULL;
    int na = header_count(r->ev, "Authorization", &authz), nx = header_count(r->ev, "x-api-key", &xkey);
    bool key_sent = na + nx >= 1;
    bool ok = na <= 1 && nx <= 1 && key_sent;
    bool have_cert = tg__gw.tls != NULL && tg_tls_peer_sha256(conn_bev(r->ev), fp);
    const struct tg_tenant *by_cert = have_cert ? tg_policy_tenant_by_cert(r->p, fp) : NULL;
    const struct tg_tenant *by_key = NULL;

    r->auth = have_cert ? (key_sent ? "key+mtls" : "mtls") : "key";
    if (!key_sent && by_cert != NULL) {
        r->tenant = by_cert;
        return true;
    }
    /* Bearer (OpenAI clients) or x-api-key (Anthropic clients).  Two of a
     * header, or both headers with different keys, are ambiguous
     * credentials: refused. */
    if (ok && na == 1)
        ok = tg_gw_bearer(authz, &tok, &len);
    if (ok && nx == 1) {
        xtok = xkey;
        while (*xtok == ' ' || *xtok == '\t')
            xtok++;
        xlen = strlen(xtok);
        while (xlen > 0 && (xtok[xlen - 1] == ' ' || xtok[xlen - 1] == '\t'))
            xlen--;
        if (na == 1)
            ok = xlen == len && memcmp(xtok, tok, len) == 0;
        tok = xtok;
        len = xlen;
        ok = ok && len > 0;
    }
    if (!ok ||
        EVP_DigestInit_ex2(r->L->mdctx, r->L->sha256, NULL) != 1 ||
        EVP_DigestUpdate(r->L->mdctx, tok, len) != 1 || EVP_DigestFinal_ex(r->L->mdctx, h, &hl) != 1 ||
        (by_key = tg_policy_tenant_by_key(r->p, h)) == NULL)
        return auth_fail(r, have_cert && !key_sent
                                ? "the client certificate belongs to no tenant and no API key was sent"
                                : "missing or unknown API key (Authorization: Bearer <key>, or x-api-key: <key>)");
    if (by_key->has_cert && by_cert != by_key)
        return auth_fail(r, "this API key is bound to a client certificate, which was not presented");
    if (by_cert != NULL && by_cert != by_key)
        return auth_fail(r, "the API key and the client certificate belong to different tenants");
    if (by_cert == NULL)
        r->auth = "key";   /* a certificate that names nobody adds nothing */
    r->tenant = by_key;
    return true;
}


static bool
rate_ok(struct gw_req *r)
{
    uint32_t lim = r->tenant->requests_per_minute;
    struct gw_rate *w;
    int64_t now = mono_ms();
    bool ok;

    if (lim == 0)
        return true;
    w = &r->snap->rate[r->tenant - r->p->tenants];
    pthread_mutex_lock(&tg__gw.br_mu);
    if (now - w->window_ms >= 60000 || w->window_ms == 0) {
        w->window_ms = now;
        w->count = 0;
    }
    ok = w->count < lim;
    if (ok)
        w->count++;
    pthread_mutex_unlock(&tg__gw.br_mu);
    return ok;
}


static void
add_reason(struct tg_jtext *b, struct tg_jtext *rj, uint32_t *n, const struct tg_reason *rs,
           const char *model)
{
    const char *rule = rs->rule ? rs->rule : "?";

    tg_jtext_printf(b, "%s [%s] %s", *n ? ";" : ":", rule, rs->message ? rs->message : "");
    if (model != NULL)
        tg_jtext_printf(b, " (%s)", model);
    tg_jtext_printf(rj, "%s", *n ? "," : "");
    tg__gw_json_escape(rj, rule);
    (*n)++;
}


/* "request denied by policy: [rule] reason; ..." and the rule ids as a JSON
 * member.  Reasons carry rule ids and entity types, never matched text. */
static const char *
deny_message(struct gw_req *r, char **rules_json)
{
    struct tg_jtext b = { 0 }, rj = { 0 };
    const struct tg_decision *d = &r->d;
    uint32_t n = 0;
    char *msg;

    tg_jtext_printf(&b, "request denied by policy");
    tg_jtext_printf(&rj, "\"rules\":[");
    for (uint32_t i = 0; i < d->nreasons && n < 32; i++)
        add_reason(&b, &rj, &n, &d->reasons[i], NULL);
    if (d->nreasons == 0)
        for (uint32_t c = 0; c < d->ncands && n < 32; c++)
            for (uint32_t i = 0; i < d->cands[c].nreasons && n < 32; i++)
                add_reason(&b, &rj, &n, &d->cands[c].reasons[i], r->p->models[d->cands[c].model].id);
    if (n == 0)
        tg_jtext_printf(&b, ": [route.empty] no compliant candidate");
    tg_jtext_printf(&rj, "]");
    msg = b.fail ? NULL : tg_arena_strndup(&r->arena, b.p, b.len);
    *rules_json = rj.fail ? NULL : tg_arena_strndup(&r->arena, rj.p, rj.len);
    tg_jtext_free(&b);
    tg_jtext_free(&rj);
    return msg ? msg : "request denied by policy";
}


/* The framing guard refused this request (hdrguard.h): answer its reason,
 * attributed to the tenant when the key is good, and close.  Refused rather
 * than repaired: what a malformed request "really" said is exactly what a
 * smuggling attempt wants us to guess. */
static bool
refused_at_door(struct gw_req *r)
{
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(r->ev), TG_HG_MARKER);
    const struct tg_hg_reason *why = tg_hg_reason(v);

    if (v == NULL)
        return false;
    if (why == NULL)
        why = tg_hg_reason("field");
    if (authenticate(r)) {
        if (tg_preflight_malformed(r->p, r->tenant->id, NULL, NULL, why->msg, &r->arena, &r->d) == TG_OK)
            r->have_d = true;
    } else {
        r->error = NULL;   /* the framing is the reason, not the key */
    }
    tg__gw_set_error(r, why->status, "invalid_request_error", why->code, why->msg, NULL);
    evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Connection", "close");
    return true;
}


/* count_tokens: answered here from the estimate, nothing goes upstream;
 * audited like any answer. */
static void
answer_count_tokens(struct gw_req *r)
{
    char buf[64];
    int n = snprintf(buf, sizeof buf, "{\"input_tokens\":%u}", tg_request_estimate_tokens(&r->req));

    r->event_kind = "count_tokens";
    r->status = 200;
    r->ctype = "application/json";
    evbuffer_add(r->out, buf, (size_t)n);
}


/* Every inference door (chat completions, responses, messages,
 * count_tokens, embeddings, completions): one path.  The dialect decodes the
 * client's body to the canonical request; everything after that is the same
 * for every door, and answers go back through the dialect's encoder. */
static void
handle_infer(struct gw_loop *L, struct evhttp_request *ev, const struct tg_dialect_ops *dialect)
{
    struct gw_req *r = req_new(L, ev);
    struct evbuffer *in;
    struct tg_err err = { 0 };
    const char *category, *feature;
    cJSON *tree = NULL;
    size_t max;
    int rc;

    if (r == NULL) {
        evhttp_send_error(ev, 503, "Service Unavailable");
        return;
    }
    r->dialect = dialect;
    {
        /* The request may wait on upstreams far longer than the idle timeout. */
        struct evhttp_connection *c = evhttp_request_get_connection(ev);
        struct timeval tv = { GW_BUSY_TIMEOUT_S, 0 };
        if (c)
            evhttp_connection_set_timeout_tv(c, &tv);
    }
    if (refused_at_door(r))
        goto done;
    in = evhttp_request_get_input_buffer(ev);
    max = r->p->server.max_body_bytes ? r->p->server.max_body_bytes : TG_MAX_BODY_BYTES;
    if (evbuffer_get_length(in) > max) {
        char msg[128];
        snprintf(msg, sizeof(msg), "request body larger than %zu bytes", max);
        r->event_kind = "error";
        tg__gw_set_error(r, 413, "invalid_request_error", "request_too_large", msg, NULL);
        goto done;
    }
    if (!authenticate(r))
        goto done;
    if (!rate_ok(r)) {
        r->event_kind = "error";
        tg__gw_set_error(r, 429, "rate_limit_exceeded", "rate_limit_exceeded",
                  "tenant request limit per minute reached", NULL);
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Retry-After", "60");
        goto done;
    }
    if (tg__gw.audit != NULL && !tg_audit_healthy(tg__gw.audit)) {
        /* Fail closed: no upstream call that cannot be recorded. */
        r->event_kind = "error";
        tg__gw_set_error(r, 503, "server_error", "audit_unavailable", "the audit log is unavailable", NULL);
        goto done;
    }
    r->client_len = evbuffer_get_length(in);
    r->client_body = (const char *)evbuffer_pullup(in, -1);
    if (r->client_body == NULL)
        r->client_body = "";
    r->body = r->client_body;
    r->body_len = r->client_len;
    category = header_value(ev, "X-Task-Category");
    feature = header_value(ev, "X-Feature-Id");
    if (dialect->errors == TG_DIALECT_ERR_ANTHROPIC) {
        /* Claude Code and the Anthropic SDK name the API betas they use; an
         * Anthropic upstream gets them (nobody else knows what they mean). */
        const char *beta = header_value(ev, "anthropic-beta");
        if (beta != NULL && strlen(beta) <= 512 && strspn(beta, "abcdefghijklmnopqrstuvwxyz"
                                                                "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_., ") == strlen(beta))
            r->fwd_beta = tg_arena_sprintf(&r->arena, "anthropic-beta: %s", beta);
    }

    rc = TG_OK;
    if (dialect->decode != NULL) {
        char *canon = NULL;
        size_t clen = 0;
        r->dctx.id = dialect->id;
        r->dctx.answer_id = r->id;
        r->dctx.now_s = r->ts_us / 1000000;
        /* A dialect that builds the canonical tree hands it over as well as
         * its text: the engine indexes the tree instead of parsing the text
         * it was printed from (dialect.h). */
        rc = dialect->decode_tree != NULL
                 ? dialect->decode_tree(r->client_body, r->client_len, &r->arena, &r->dctx, &canon, &clen,
                                        &tree, &err)
                 : dialect->decode(r->client_body, r->client_len, &r->arena, &r->dctx, &canon, &clen, &err);
        if (rc == TG_OK) {
            r->body = canon;
            r->body_len = clen;
        }
    }
    if (rc == TG_OK)
        rc = dialect->id == TG_DIALECT_EMBEDDINGS
                 ? tg_request_parse_embedding(r->body, r->body_len, &r->arena, &r->req, &err)
             : tree != NULL ? tg_request_from_tree(tree, r->body_len, &r->arena, &r->req, &err)
                            : tg_request_parse(r->body, r->body_len, &r->arena, &r->req, &err);
    if (rc == TG_ENOMEM)
        goto oom;
    if (rc != TG_OK) {
        if (tg_preflight_malformed(r->p, r->tenant->id, feature, category, err.msg, &r->arena,
                                   &r->d) == TG_OK)
            r->have_d = true;
        tg__gw_set_error(r, 400, "invalid_request_error", "invalid_request", err.msg, NULL);
        goto done;
    }
    r->have_req = true;
    r->stream = r->req.stream;
    if (dialect->id == TG_DIALECT_COUNT_TOKENS) {
        answer_count_tokens(r);
        goto done;
    }
    {
        /* The one context resolution serve, explain and dry-run share. */
        struct tg_context_in cin = { r->tenant->id, category, feature, NULL };
        rc = tg_context_resolve(r->p, &cin, &r->req, &r->arena, NULL, &err);
        if (rc == TG_ENOMEM)
            goto oom;
    }
    if (add_export_tags(r, r->p->export_header ? r->p->export_header : "X-Export-Control") != TG_OK) {
        tg__gw_set_error(r, 400, "invalid_request_error", "invalid_request", "bad export control header", NULL);
        goto done;
    }

    {
        const struct tg_route_rule *rule = r->req.category ? tg_policy_rule(r->p, r->req.category) : NULL;
        struct tg_breaker_view bv = { NULL, 0 }, *bvp = NULL;
        if (rule != NULL && r->p->nmodels > 0) {
            uint8_t *open = tg_arena_calloc(&r->arena, r->p->nmodels, 1);
            int64_t now = mono_ms();
            if (open == NULL)
                goto oom;
            pthread_mutex_lock(&tg__gw.br_mu);
            for (uint32_t i = 0; i < rule->nchain; i++)
                open[rule->chain[i]] = !tg_breaker_admits(&r->snap->br[rule->chain[i]], now);
            pthread_mutex_unlock(&tg__gw.br_mu);
            bv.open = open;
            bv.n = r->p->nmodels;
            bvp = &bv;
        }
        rc = tg_preflight_decide(r->p, &r->req, bvp, tg__gw_scratch_for(L, r->p), &r->arena, &r->d, &err);
        if (rc != TG_OK)
            goto oom;
        r->have_d = true;
    }
    if ((r->d.verdict == TG_DENY && r->d.enforced) || r->d.nroute == 0) {
        char *rules = NULL;
        const char *msg = deny_message(r, &rules);
        tg__gw_set_error(r, 403, "policy_denied", "policy_denied", msg, rules);
        goto done;
    }
    r->deadline_ms = r->t0_ms + (r->d.deadline_ms ? r->d.deadline_ms : 60000);
    tg__gw_start_next(r);
    return;
oom:
    /* Fail closed. */
    tg__gw_set_error(r, 503, "server_error", "internal_error", "out of memory", NULL);
done:
    tg__gw_finish(r);
}


static void
handle_models(struct gw_loop *L, struct evhttp_request *ev)
{
    struct gw_req *r = req_new(L, ev);
    struct tg_jtext b = { 0 };
    const struct tg_policy *p;
    uint8_t *seen;
    uint32_t n = 0;

    if (r == NULL) {
        evhttp_send_error(ev, 503, "Service Unavailable");
        return;
    }
    p = r->p;
    if (!authenticate(r)) {
        tg__gw_finish(r);   /* audited like any unauthenticated call */
        return;
    }
    seen = tg_arena_calloc(&r->arena, p->nmodels ? p->nmodels : 1, 1);
    tg_jtext_printf(&b, "{\"object\":\"list\",\"data\":[");
    for (uint32_t i = 0; seen && i < p->nrules; i++) {
        const struct tg_route_rule *ru = &p->rules[i];
        bool allowed = r->tenant->ncategories == 0;
        for (uint32_t k = 0; k < r->tenant->ncategories; k++)
            if (strcmp(r->tenant->categories[k], ru->category) == 0)
                allowed = true;
        if (!allowed)
            continue;
        for (uint32_t c = 0; c < ru->nchain; c++) {
            const struct tg_model *m = &p->models[ru->chain[c]];
            const struct tg_provider *pv = &p->providers[m->provider];
            if (seen[ru->chain[c]])
                continue;
            if (!tg_policy_region_admits(p, ru->residency, pv->region))
                continue;
            if (r->tenant->residency >= 0 && !tg_policy_region_admits(p, r->tenant->residency, pv->region))
                continue;
            seen[ru->chain[c]] = 1;
            tg_jtext_printf(&b, "%s{\"id\":", n++ ? "," : "");
            tg__gw_json_escape(&b, m->id);
            tg_jtext_printf(&b, ",\"object\":\"model\",\"created\":0,\"owned_by\":");
            tg__gw_json_escape(&b, pv->id);
            tg_jtext_printf(&b, "}");
        }
    }
    tg_jtext_printf(&b, "]}");
    if (b.fail) {
        tg__gw_set_error(r, 503, "server_error", "internal_error", "out of memory", NULL);
    } else {
        evbuffer_add(r->out, b.p, b.len);
        r->status = 200;
        r->ctype = "application/json";
    }
    tg_jtext_free(&b);
    /* A listing is not a decision: answered without an audit entry. */
    tg__gw_account(r);
    tg__gw_send_response(r);
    tg__gw_req_free(r);
}


static void
handle_metrics(struct gw_loop *L, struct evhttp_request *ev)
{
    struct gw *g = L->gw;
    struct tg_gw_metrics **ms = calloc(g->nloops, sizeof(*ms));
    struct tg_jtext b = { 0 };
    struct gw_snap *s = tg__gw_snap_get();
    char lbl[200];

    if (ms == NULL) {
        evhttp_send_error(ev, 500, NULL);
        tg__gw_snap_put(s);
        return;
    }
    for (uint32_t i = 0; i < g->nloops; i++)
        ms[i] = &g->loops[i].m;
    tg_gw_metrics_render(ms, g->nloops, &b);
    free(ms);
    tg_jtext_printf(&b, "# HELP tollgate_breaker_state Circuit breaker per model: 0 closed, 1 open, 2 half-open.\n"
                         "# TYPE tollgate_breaker_state gauge\n");
    if (s != NULL) {
        pthread_mutex_lock(&tg__gw.br_mu);
        for (uint32_t i = 0; i < s->p->nmodels; i++) {
            tg_gw_label_escape(s->p->models[i].id, lbl, sizeof(lbl));
            tg_jtext_printf(&b, "tollgate_breaker_state{model=\"%s\"} %d\n", lbl, (int)s->br[i].state);
        }
        pthread_mutex_unlock(&tg__gw.br_mu);
    }
    tg_jtext_printf(&b, "# HELP tollgate_audit_queue_depth Audit entries waiting for the writer.\n"
                         "# TYPE tollgate_audit_queue_depth gauge\n"
                         "tollgate_audit_queue_depth %zu\n",
                     g->audit ? tg_audit_queue_depth(g->audit) : (size_t)0);
    tg_jtext_printf(&b, "# HELP tollgate_policy_reloads_total Configuration reloads, by result.\n"
                         "# TYPE tollgate_policy_reloads_total counter\n"
                         "tollgate_policy_reloads_total{result=\"ok\"} %llu\n"
                         "tollgate_policy_reloads_total{result=\"rejected\"} %llu\n",
                     (unsigned long long)atomic_load(&g->reloads_ok),
                     (unsigned long long)atomic_load(&g->reloads_failed));
    if (s != NULL) {
        tg_gw_label_escape(s->p->policy_version, lbl, sizeof(lbl));
        tg_jtext_printf(&b, "# HELP tollgate_policy_info The policy being served.\n"
                             "# TYPE tollgate_policy_info gauge\n"
                             "tollgate_policy_info{policy_version=\"%s\"} 1\n", lbl);
    }
    tg__gw_snap_put(s);
    if (b.fail)
        evhttp_send_error(ev, 500, NULL);
    else
        reply_plain(ev, 200, "text/plain; version=0.0.4", b.p, b.len);
    tg_jtext_free(&b);
}


/* A request the framing guard refused, outside the chat endpoint. */
static void
refused_plain(struct evhttp_request *ev)
{
    const struct tg_hg_reason *why =
        tg_hg_reason(evhttp_find_header(evhttp_request_get_input_headers(ev), TG_HG_MARKER));
    struct tg_jtext b = { 0 };
    char id[33];

    if (why == NULL)
        why = tg_hg_reason("field");
    tg_audit_new_id(id);
    tg_jtext_printf(&b, "{\"error\":{\"message\":");
    tg__gw_json_escape(&b, why->msg);
    tg_jtext_printf(&b, ",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"%s\"}}", why->code);
    evhttp_add_header(evhttp_request_get_output_headers(ev), "X-Tollgate-Decision-Id", id);
    evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
    if (b.fail)
        evhttp_send_error(ev, 500, NULL);
    else
        reply_plain(ev, why->status, "application/json", b.p, b.len);
    tg_jtext_free(&b);
}


void
tg__gw_on_request(struct evhttp_request *ev, void *arg)
{
    struct gw_loop *L = arg;

    /* evhttp falls back to a plain socket when tg__gw_on_new_bev fails (out of
     * memory): on a TLS listener such a connection is never served (the
     * error closes it). */
    if (tg__gw.tls != NULL && !tg_tls_is_tls(conn_bev(ev))) {
        evhttp_send_error(ev, 503, "Service Unavailable");
        return;
    }

    L->activity++;
    const char *uri = evhttp_request_get_uri(ev);
    enum evhttp_cmd_type cmd = evhttp_request_get_command(ev);
    size_t plen = strcspn(uri, "?");

#define PATH_IS(lit) (plen == sizeof(lit) - 1 && memcmp(uri, lit, plen) == 0)
    const struct tg_dialect_ops *door = tg_dialect_for_path(uri, plen);

    if (evhttp_find_header(evhttp_request_get_input_headers(ev), TG_HG_MARKER) != NULL &&
        !(door != NULL && cmd == EVHTTP_REQ_POST)) {
        /* Refused by the framing guard; inference doors answer this
         * themselves (audited, in their dialect), everything else plainly. */
        refused_plain(ev);
        return;
    }
    if (door != NULL) {
        if (cmd != EVHTTP_REQ_POST)
            goto method;
        handle_infer(L, ev, door);
    } else if (PATH_IS("/v1/models") || PATH_IS("/models")) {
        if (cmd != EVHTTP_REQ_GET)
            goto method;
        handle_models(L, ev);
    } else if (PATH_IS("/healthz")) {
        reply_plain(ev, 200, "text/plain", "ok\n", 3);
    } else if (PATH_IS("/readyz")) {
        struct gw_snap *s = tg__gw_snap_get();
        bool ready = s != NULL && !atomic_load(&tg__gw.draining) && (tg__gw.audit == NULL || tg_audit_healthy(tg__gw.audit));
        tg__gw_snap_put(s);
        if (ready)
            reply_plain(ev, 200, "text/plain", "ready\n", 6);
        else
            reply_plain(ev, 503, "text/plain", "not ready\n", 10);
    } else if (PATH_IS("/metrics")) {
        handle_metrics(L, ev);
    } else {
        static const char nf[] = "{\"error\":{\"message\":\"no such endpoint\",\"type\":\"invalid_request_error\","
                                 "\"param\":null,\"code\":\"not_found\"}}";
        char id[33];
        tg_audit_new_id(id);   /* every /v1 answer carries an id, even without an audit entry */
        evhttp_add_header(evhttp_request_get_output_headers(ev), "X-Tollgate-Decision-Id", id);
        reply_plain(ev, 404, "application/json", nf, sizeof(nf) - 1);
    }
    return;
method:
    {
        static const char mn[] = "{\"error\":{\"message\":\"method not allowed\",\"type\":\"invalid_request_error\","
                                 "\"param\":null,\"code\":\"method_not_allowed\"}}";
        char id[33];
        tg_audit_new_id(id);
        evhttp_add_header(evhttp_request_get_output_headers(ev), "X-Tollgate-Decision-Id", id);
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Allow",
                          strstr(uri, "models") ? "GET" : "POST");
        reply_plain(ev, 405, "application/json", mn, sizeof(mn) - 1);
    }
#undef PATH_IS
}
