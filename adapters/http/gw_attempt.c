/*
 * gw_attempt.c — upstream attempts in route order (libcurl or the in-loop
 * client, local adapters), classification of each outcome, and what follows
 * it as engine/next.h decides.
 */
#include "adapters/http/gw_int.h"

static const struct tg_cand * cand_for(const struct tg_decision *d, uint32_t mi);
static void record_attempt(struct gw_req *r, const struct tg_model *m, const char *outcome, int status,                int64_t ms);
static void breaker_outcome(struct gw_req *r, uint32_t mi, bool ok, int64_t retry_after_ms);
static void served_ok(struct gw_req *r, const struct tg_model *m);
static void attempt_cleanup(struct gw_req *r);
static void got_status(struct gw_req *r, long status);
static enum tg_attempt_outcome curl_outcome(CURLcode c);
static void apply_breaker(struct gw_req *r, uint32_t mi, const struct tg_next *nx);
static void on_stream_timeout(evutil_socket_t fd, short what, void *arg);
static int up_on_head(void *ud, int status, const char *retry_after);
static int up_on_body(void *ud, const char *p, size_t n);
static void up_on_done(void *ud, enum tg_up_result res);
static bool start_native(struct gw_req *r, uint32_t tmo);
static void all_failed(struct gw_req *r);
static const char * outgoing_body(struct gw_req *r, const struct tg_cand *c, size_t *len, struct tg_err *err);
static struct curl_slist * upstream_headers(struct gw_req *r, uint32_t prov);


/* ---- upstream attempts ---------------------------------------------------- */

static const struct tg_cand *
cand_for(const struct tg_decision *d, uint32_t mi)
{
    for (uint32_t i = 0; i < d->ncands; i++)
        if (d->cands[i].model == mi)
            return &d->cands[i];
    return NULL;
}


static void
record_attempt(struct gw_req *r, const struct tg_model *m, const char *outcome, int status,
               int64_t ms)
{
    struct tg_audit_attempt *a;

    if (r->natt >= TG_ARRAY_LEN(r->att))
        return;
    a = &r->att[r->natt++];
    a->model = m->id;
    a->provider = r->p->providers[m->provider].id;
    a->outcome = outcome;
    a->http_status = status;
    a->ms = ms < 0 ? 0 : (uint32_t)ms;
}


static void
breaker_outcome(struct gw_req *r, uint32_t mi, bool ok, int64_t retry_after_ms)
{
    pthread_mutex_lock(&tg__gw.br_mu);
    if (ok)
        tg_breaker_on_success(&r->snap->br[mi], mono_ms());
    else
        tg_breaker_on_failure(&r->snap->br[mi], &r->p->breaker, mono_ms(), retry_after_ms);
    pthread_mutex_unlock(&tg__gw.br_mu);
}


static void
served_ok(struct gw_req *r, const struct tg_model *m)
{
    r->served = m;
    r->status = 200;
    if (r->usage.prompt_tokens >= 0 && r->usage.completion_tokens >= 0)
        r->cost = tg_cost_usd(m, (uint64_t)r->usage.prompt_tokens,
                              (uint64_t)r->usage.completion_tokens);
}


static void
attempt_cleanup(struct gw_req *r)
{
    if (r->easy != NULL) {
        tg__gw_easy_put(r->L, r->easy);
        r->easy = NULL;
    }
    if (r->up_on) {
        tg_up_cancel(&r->up);
        r->up_on = false;
    }
    if (r->fb_timer)
        evtimer_del(r->fb_timer);
    if (r->st_init) {
        tg_prov_stream_free(&r->st);
        r->st_init = false;
    }
    if (r->xhdrs != NULL) {
        curl_slist_free_all(r->xhdrs);
        r->xhdrs = NULL;
    }
}


/* The canonical events of a verbatim stream: only counted (st.events). */
static int
verbatim_discard(void *ud, const char *buf, size_t len)
{
    (void)ud;
    (void)buf;
    (void)len;
    return 0;
}

/* The upstream's status is known: a 2xx stream starts relaying. */
static void
got_status(struct gw_req *r, long status)
{
    r->ustatus = status;
    r->status_checked = true;
    if (r->http.stream && status >= 200 && status < 300) {
        r->relaying = true;
        /* the output guard (when on) sits between the adapter and the dialect */
        tg__gw_guard_begin(r, true);
        /* verbatim: the client gets the provider's bytes; the adapter still
         * reads the events, for usage and whether the stream ended well */
        tg_prov_stream_init(&r->st, r->cur_prov->adapter, r->http.strip_usage, r->cur_m->id,
                            r->ts_us / 1000000, r->verbatim ? verbatim_discard : tg__gw_canon_emit, r);
        r->st_init = true;
    }
}


size_t
tg__gw_on_write(char *ptr, size_t size, size_t nmemb, void *ud)
{
    struct gw_req *r = ud;
    size_t n = size * nmemb;

    if (!r->status_checked) {
        long st = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
        got_status(r, st);
    }
    if (r->relaying) {
        int rc;
        if (r->fb_timer) {
            /* The attempt timeout is also the longest silence allowed
             * between chunks: a stalled stream releases its client. */
            struct timeval tv = { r->att_timeout_ms / 1000, (r->att_timeout_ms % 1000) * 1000 };
            evtimer_add(r->fb_timer, &tv);
        }
        rc = tg_prov_stream_feed(&r->st, ptr, n);
        if (r->verbatim) {
            /* the provider's bytes as they came; held back until the
             * adapter has read a real event, so that a stream failing at
             * once can still fall back to the next model */
            if (evbuffer_add(r->chunk, ptr, n) != 0) {
                r->stream_err = TG_ENOMEM;
                return 0;
            }
            if (r->st.events == 0 && !r->st.done) {
                if (rc < 0) {
                    r->stream_err = rc;   /* nothing went out: the next model may answer */
                    return 0;
                }
                return n;
            }
        }
        if (r->og_blocked) {
            /* What this feed released before the block is clean; but when
             * nothing has reached the client yet it gets a plain error. */
            if (!r->client_started)
                evbuffer_drain(r->chunk, evbuffer_get_length(r->chunk));
            else
                (void)tg__gw_flush_client(r);
            return 0;   /* stop reading the answer */
        }
        if (!tg__gw_flush_client(r))
            return 0;   /* client gone: abort the transfer */
        if (rc < 0) {
            r->stream_err = rc;
            return 0;
        }
        return n;
    }
    if (evbuffer_get_length(r->ubuf) + n > GW_UPSTREAM_BODY_MAX)
        return 0;
    evbuffer_add(r->ubuf, ptr, n);
    return n;
}


size_t
tg__gw_on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    struct gw_req *r = ud;
    size_t n = size * nitems;

    if (n > 12 && strncasecmp(buf, "retry-after:", 12) == 0) {
        char v[128];
        size_t k = n - 12 < sizeof(v) - 1 ? n - 12 : sizeof(v) - 1;
        memcpy(v, buf + 12, k);
        v[k] = '\0';
        while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' '))
            v[--k] = '\0';
        r->retry_after_ms = tg_prov_retry_after_ms(v, r->ts_us / 1000000);
    } else if (n > 5 && strncmp(buf, "HTTP/", 5) == 0) {
        r->retry_after_ms = -1;   /* a new response (after 100-continue) */
    }
    return n;
}


static enum tg_attempt_outcome
curl_outcome(CURLcode c)
{
    switch (c) {
    case CURLE_OPERATION_TIMEDOUT:
        return TG_ATT_TIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
        return TG_ATT_CONNECT;
    default:
        return TG_ATT_RESET;
    }
}


/* Breaker effect of an attempt, as the engine decided it. */
static void
apply_breaker(struct gw_req *r, uint32_t mi, const struct tg_next *nx)
{
    if (nx->breaker == TG_BREAKER_NO_CHANGE)
        return;
    breaker_outcome(r, mi, nx->breaker == TG_BREAKER_SUCCESS, nx->hold_open_ms);
}


/* The attempt ended (curl finished, or we aborted it).  This classifies
 * what happened; tg_next_after() (engine/next.h) decides what follows. */
void
tg__gw_attempt_done(struct gw_req *r, CURLcode res)
{
    const struct tg_model *m = r->cur_m;
    uint32_t mi = (uint32_t)r->cur_mi;
    int64_t ms = mono_ms() - r->att_t0;
    long st = r->ustatus;
    enum tg_attempt_outcome o;
    struct tg_next nx;
    struct tg_err err = { 0 };

    if (!r->status_checked && r->easy != NULL)
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &st);
    if (r->relaying && r->og_blocked) {
        /* The provider answered; the output guard refused what it said.  No
         * fallback: another model asked the same could say the same. */
        tg_next_after(TG_ATT_OK, r->client_started, (int)st, -1, &nx);
        record_attempt(r, m, tg_next_outcome_name(TG_ATT_OK), (int)st, ms);
        apply_breaker(r, mi, &nx);
        if (r->st.usage.prompt_tokens >= 0)
            r->usage = r->st.usage;
        served_ok(r, m);
        if (r->client_started) {
            tg__gw_guard_end_stream(r);
        } else {
            if (r->ds != NULL) {
                r->dialect->stream_free(r->ds);
                r->ds = NULL;
            }
            evbuffer_drain(r->chunk, evbuffer_get_length(r->chunk));
            tg__gw_guard_blocked(r);
        }
        attempt_cleanup(r);
        tg__gw_finish(r);
        return;
    }
    if (r->relaying) {
        (void)tg__gw_flush_client(r);
        if (r->client_started) {
            /* Bytes reached the client: no fallback.  Close the stream with
             * an error event when it broke, so SDKs raise instead of hanging. */
            bool ok = res == CURLE_OK && r->st.done && !r->st.upstream_error && r->stream_err == 0;
            if (r->st.usage.prompt_tokens >= 0)
                r->usage = r->st.usage;
            o = ok ? TG_ATT_OK : (r->st.upstream_error ? TG_ATT_BAD_RESPONSE : curl_outcome(res));
            if (r->client_gone)
                o = TG_ATT_CLIENT_GONE;
            tg_next_after(o, true, (int)st, -1, &nx);
            record_attempt(r, m, tg_next_outcome_name(o), (int)st, ms);
            apply_breaker(r, mi, &nx);
            served_ok(r, m);
            if (!ok)
                r->error = "stream_interrupted";
            if (r->ds != NULL) {
                /* The dialect closes its stream (its failed/error event when !ok). */
                (void)r->dialect->stream_end(r->ds, ok);
            } else if (!ok && r->verbatim && !r->st.upstream_error) {
                /* (the provider's own error event has already gone out) */
                static const char msg[] = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"api_error\","
                                          "\"message\":\"upstream stream interrupted\"}}\n\n";
                if (r->ev && evhttp_request_get_connection(r->ev))
                    evbuffer_add(r->chunk, msg, sizeof(msg) - 1);
            } else if (!ok && !r->verbatim) {
                static const char msg[] = "data: {\"error\":{\"message\":\"upstream stream interrupted\","
                                          "\"type\":\"upstream_error\",\"code\":\"upstream_error\"}}\n\n";
                if (r->ev && evhttp_request_get_connection(r->ev))
                    evbuffer_add(r->chunk, msg, sizeof(msg) - 1);
            }
            attempt_cleanup(r);
            tg__gw_finish(r);
            return;
        }
        if (r->client_gone) {
            o = TG_ATT_CLIENT_GONE;
        } else {
            /* 2xx, but nothing for the client came out of it: the next
             * attempt starts its translation afresh. */
            if (r->ds != NULL) {
                r->dialect->stream_free(r->ds);
                r->ds = NULL;
            }
            evbuffer_drain(r->chunk, evbuffer_get_length(r->chunk));
            o = r->st.upstream_error || res == CURLE_OK || r->stream_err ? TG_ATT_BAD_RESPONSE
                                                                         : curl_outcome(res);
        }
    } else if (res != CURLE_OK) {
        o = curl_outcome(res);
    } else if ((o = tg_next_outcome_of_status((int)st)) == TG_ATT_OK) {
        size_t len = evbuffer_get_length(r->ubuf);
        const char *body = (const char *)evbuffer_pullup(r->ubuf, -1);
        char *conv = NULL;
        size_t convlen = 0;
        struct tg_prov_usage u;
        o = TG_ATT_BAD_RESPONSE;
        int prc = r->req.kind == TG_REQUEST_EMBEDDING
                      ? tg_prov_embed_response(m->id, body ? body : "", len, r->req.ninputs, &conv, &convlen,
                                               &u, &err)
                      : tg_prov_response(r->cur_prov->adapter, m->id, body ? body : "", len,
                                         r->ts_us / 1000000, &conv, &convlen, &u, &err);
        if (prc == TG_OK) {
            int arc;
            if ((conv == NULL && (r->dialect == NULL || r->dialect->encode_answer == NULL) &&
                 !tg__gw_guard_on(r)) || r->verbatim) {
                /* relayed unchanged: no copy (a verbatim Messages answer too:
                 * conv, read for usage and validity, is not what the client gets) */
                evbuffer_add_buffer(r->out, r->ubuf);
                arc = TG_OK;
            } else {
                arc = tg__gw_answer_out(r, conv ? conv : body, conv ? convlen : len, &err);
            }
            free(conv);
            if (arc == TG_OK) {
                o = TG_ATT_OK;
                r->usage = u;
                served_ok(r, m);
                r->ctype = "application/json";
            } else if (arc == TG_EPOLICY && r->og_blocked) {
                /* answered, and refused by the output guard: no fallback */
                o = TG_ATT_OK;
                r->usage = u;
                served_ok(r, m);
                evbuffer_drain(r->out, evbuffer_get_length(r->out));
                tg__gw_guard_blocked(r);
            } else {
                evbuffer_drain(r->out, evbuffer_get_length(r->out));
            }
        }
    }
    if (o == TG_ATT_TIMEOUT && r->att_deadline_cut)
        o = TG_ATT_DEADLINE;
    tg_next_after(o, false, res == CURLE_OK ? (int)st : 0, r->retry_after_ms, &nx);
    record_attempt(r, m, tg_next_outcome_name(o), res == CURLE_OK ? (int)st : 0, ms);
    apply_breaker(r, mi, &nx);
    attempt_cleanup(r);
    if (o == TG_ATT_OK) {
        tg__gw_finish(r);
        return;
    }
    if (nx.try_next) {
        tg__gw_start_next(r);
        return;
    }
    /* The request ends here without an answer. */
    if (nx.status == 499) {
        r->status = 499;
        r->error = "client_gone";
    } else {
        char msg[256];
        r->served = m;
        if (nx.status == 502) {
            snprintf(msg, sizeof(msg), "upstream %s rejected tollgate's credentials (HTTP %ld)", m->id, st);
            tg__gw_set_error(r, 502, "upstream_error", "upstream_auth", msg, NULL);
        } else {
            snprintf(msg, sizeof(msg), "upstream %s refused the request (HTTP %ld)", m->id, st);
            tg__gw_set_error(r, nx.status, "invalid_request_error", "upstream_rejected", msg, NULL);
        }
    }
    tg__gw_finish(r);
}


static void
on_stream_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct gw_req *r = arg;

    (void)fd;
    (void)what;
    if (r->easy != NULL || r->up_on)
        tg__gw_attempt_done(r, CURLE_OPERATION_TIMEDOUT);
}


/* ---- the in-loop client's callbacks (upstream.h) ----------------------- */

static int
up_on_head(void *ud, int status, const char *retry_after)
{
    struct gw_req *r = ud;

    r->L->activity++;
    r->retry_after_ms = retry_after ? tg_prov_retry_after_ms(retry_after, r->ts_us / 1000000) : -1;
    got_status(r, status);
    return 0;
}


static int
up_on_body(void *ud, const char *p, size_t n)
{
    return tg__gw_on_write((char *)p, 1, n, ud) == n ? 0 : 1;
}


static void
up_on_done(void *ud, enum tg_up_result res)
{
    struct gw_req *r = ud;
    CURLcode c;

    r->L->activity++;
    r->up_on = false;
    switch (res) {   /* the outcomes tg__gw_attempt_done already knows, in curl's terms */
    case TG_UP_OK:           c = CURLE_OK; break;
    case TG_UP_CONNECT:      c = CURLE_COULDNT_CONNECT; break;
    case TG_UP_TIMEOUT:      c = CURLE_OPERATION_TIMEDOUT; break;
    case TG_UP_ABORTED:      c = CURLE_WRITE_ERROR; break;
    case TG_UP_BAD_RESPONSE: c = CURLE_WEIRD_SERVER_REPLY; break;
    default:                 c = CURLE_RECV_ERROR; break;
    }
    tg__gw_attempt_done(r, c);
}


static const struct tg_up_cbs up_cbs = { up_on_head, up_on_body, up_on_done };

/* Start the attempt on the in-loop client; false when it cannot start. */
static bool
start_native(struct gw_req *r, uint32_t tmo)
{
    const char *h[TG_PROV_MAX_HEADERS + 2];
    uint32_t n = 0;

    h[n++] = "User-Agent: tollgate/0.1";
    for (uint32_t i = 0; i < r->http.nheaders && n < TG_ARRAY_LEN(h) - 1; i++)
        h[n++] = r->http.headers[i];
    if (r->fwd_beta != NULL && r->cur_prov->adapter == TG_ADAPTER_ANTHROPIC)
        h[n++] = r->fwd_beta;
    /* Streams: time to first byte and gaps are the fb_timer's (as with
     * curl); the total bound is for whole answers only. */
    if (tg_up_start(r->L->up, &r->up, r->http.url, h, n, r->http.body, r->http.body_len, tmo,
                    r->http.stream ? 0 : tmo, &up_cbs, r) != 0)
        return false;
    r->up_on = true;
    return true;
}


static void
all_failed(struct gw_req *r)
{
    struct tg_jtext b = { 0 };
    uint32_t tried = 0, timed_out = 0;
    int status;

    /* 504 when time ran out (the deadline, or every real attempt timed out);
     * 502 otherwise (errors, or every breaker open). */
    for (uint32_t i = 0; i < r->natt; i++) {
        if (strcmp(r->att[i].outcome, "breaker_open") == 0)
            continue;
        tried++;
        if (strcmp(r->att[i].outcome, "timeout") == 0 || strcmp(r->att[i].outcome, "deadline") == 0)
            timed_out++;
    }
    status = r->hit_deadline || (tried > 0 && timed_out == tried) ? 504 : 502;
    tg_jtext_printf(&b, "every compliant candidate failed (%u attempt%s)", r->natt,
                     r->natt == 1 ? "" : "s");
    for (uint32_t i = 0; i < r->natt; i++) {
        tg_jtext_printf(&b, "%s %s: %s", i ? ";" : ":", r->att[i].model, r->att[i].outcome);
        if (r->att[i].http_status)
            tg_jtext_printf(&b, " (HTTP %d)", r->att[i].http_status);
        tg_jtext_printf(&b, " after %u ms", r->att[i].ms);
    }
    if (r->hit_deadline)
        tg_jtext_printf(&b, "; deadline of %u ms reached", r->d.deadline_ms);
    r->event_kind = "upstream_failure";
    tg__gw_set_error(r, status, "upstream_error", status == 504 ? "upstream_timeout" : "upstream_failed",
              b.fail ? "every compliant candidate failed" : b.p, NULL);
    tg_jtext_free(&b);
    tg__gw_finish(r);
}


static const char *
outgoing_body(struct gw_req *r, const struct tg_cand *c, size_t *len, struct tg_err *err)
{
    if (c == NULL || !c->redact) {
        *len = r->body_len;
        return r->body;
    }
    if (r->redacted == NULL &&
        tg_redact_body(&r->req, &r->d.findings, &r->arena, &r->redacted, &r->redacted_len, err) != TG_OK)
        return NULL;
    *len = r->redacted_len;
    return r->redacted;
}


/* The header list for this attempt (r->http built): the snapshot's shared
 * list for the provider, built on first use; NULL when out of memory. */
static struct curl_slist *
upstream_headers(struct gw_req *r, uint32_t prov)
{
    _Atomic(struct curl_slist *) *slot = &r->snap->hdrs[2u * prov + (r->http.stream ? 1u : 0u)];
    struct curl_slist *h = atomic_load_explicit(slot, memory_order_acquire), *l, *expect = NULL;

    if (h != NULL)
        return h;
    l = expect = curl_slist_append(NULL, "Expect:");   /* no 100-continue round trip */
    if (l != NULL)
        l = curl_slist_append(l, "User-Agent: tollgate/0.1");
    for (uint32_t i = 0; l != NULL && i < r->http.nheaders; i++)
        l = curl_slist_append(l, r->http.headers[i]);
    if (l == NULL) {
        curl_slist_free_all(expect);
        return NULL;
    }
    /* Another loop may have built the same list meanwhile: keep theirs. */
    if (!atomic_compare_exchange_strong_explicit(slot, &h, expect, memory_order_acq_rel,
                                                 memory_order_acquire)) {
        curl_slist_free_all(expect);
        return h;
    }
    return expect;
}


/* Try route entries from r->ri on until one is in flight or answered. */
void
tg__gw_start_next(struct gw_req *r)
{
    while (r->ri < r->d.nroute) {
        uint32_t mi = r->d.route[r->ri++];
        const struct tg_model *m = &r->p->models[mi];
        const struct tg_provider *prov = &r->p->providers[m->provider];
        const struct tg_cand *c = cand_for(&r->d, mi);
        int64_t now = mono_ms(), remaining = r->deadline_ms - now;
        uint32_t tmo;
        const char *body;
        size_t blen;
        bool admitted;
        struct curl_slist *hdrs;
        struct tg_err err = { 0 };

        if (remaining <= 0) {
            r->hit_deadline = true;
            break;
        }
        pthread_mutex_lock(&tg__gw.br_mu);
        admitted = tg_breaker_admits(&r->snap->br[mi], now);
        if (admitted)
            tg_breaker_on_start(&r->snap->br[mi], now);
        pthread_mutex_unlock(&tg__gw.br_mu);
        if (!admitted) {
            record_attempt(r, m, "breaker_open", 0, 0);
            continue;
        }
        r->cur_m = m;
        r->cur_prov = prov;
        r->cur_mi = (int32_t)mi;
        r->att_t0 = now;
        r->ustatus = 0;
        r->retry_after_ms = -1;
        r->status_checked = r->relaying = false;
        r->verbatim = false;   /* decided below, for remote providers only */
        r->stream_err = 0;
        evbuffer_drain(r->ubuf, evbuffer_get_length(r->ubuf));
        body = outgoing_body(r, c, &blen, &err);
        if (body == NULL) {
            tg__gw_set_error(r, 500, "server_error", "redaction_failed", "could not redact the request", NULL);
            tg__gw_finish(r);
            return;
        }
        if (tg_prov_is_local(prov->adapter)) {
            /* An adapter that answers in process (echo): no attempt on the wire. */
            char *res = NULL;
            size_t rlen = 0;
            struct tg_prov_usage u;
            if (tg_prov_answer_local(prov->adapter, r->req.kind == TG_REQUEST_EMBEDDING, m->id, body, blen,
                                     r->stream, r->ts_us / 1000000, r->id, &res, &rlen, &u, &err) != TG_OK) {
                record_attempt(r, m, "bad_response", 0, mono_ms() - now);
                continue;
            }
            int arc = tg__gw_answer_out(r, res, rlen, &err);
            if (arc == TG_EPOLICY && r->og_blocked) {
                free(res);
                record_attempt(r, m, "ok", 200, mono_ms() - now);
                breaker_outcome(r, mi, true, -1);
                r->usage = u;
                served_ok(r, m);
                evbuffer_drain(r->out, evbuffer_get_length(r->out));
                tg__gw_guard_blocked(r);
                tg__gw_finish(r);
                return;
            }
            if (arc != TG_OK) {
                free(res);
                record_attempt(r, m, "bad_response", 0, mono_ms() - now);
                continue;
            }
            free(res);
            record_attempt(r, m, "ok", 200, mono_ms() - now);
            breaker_outcome(r, mi, true, -1);
            r->usage = u;
            served_ok(r, m);
            r->ctype = r->stream ? "text/event-stream" : "application/json";
            tg__gw_finish(r);
            return;
        }
        memset(&r->http, 0, sizeof(r->http));
        /* A Messages client served by an Anthropic provider gets its body
         * through as it wrote it (thinking, cache_control, top_k kept),
         * when everything in it was scanned, nothing needs redacting and
         * no output guard needs the canonical answer; otherwise the
         * translated way, as for any provider (docs/dialects.md). */
        r->verbatim = r->dialect != NULL && r->dialect->id == TG_DIALECT_MESSAGES && r->dctx.verbatim &&
                      prov->adapter == TG_ADAPTER_ANTHROPIC && body == r->body && !tg__gw_guard_on(r);
        if ((r->req.kind == TG_REQUEST_EMBEDDING
                 ? tg_prov_embed_build(prov, m, body, blen, &r->arena, &r->http, &err)
             : r->verbatim
                 ? tg_prov_build_messages(prov, m, r->client_body, r->client_len, &r->arena, &r->http, &err)
                 : tg_prov_build(prov, m, body, blen, r->p->default_output_tokens, &r->arena, &r->http,
                                 &err)) != TG_OK) {
            record_attempt(r, m, "bad_response", 0, 0);
            breaker_outcome(r, mi, true, -1);   /* our problem, not the provider's */
            continue;
        }
        tmo = c && c->timeout_ms ? c->timeout_ms : 30000;
        r->att_deadline_cut = remaining < (int64_t)tmo;
        if (r->att_deadline_cut)
            tmo = (uint32_t)remaining;
        r->att_timeout_ms = tmo;

        if (r->snap->native[m->provider]) {
            if (r->http.stream) {
                struct timeval tv = { tmo / 1000, (tmo % 1000) * 1000 };
                if (r->fb_timer == NULL)
                    r->fb_timer = evtimer_new(r->L->base, on_stream_timeout, r);
                if (r->fb_timer)
                    evtimer_add(r->fb_timer, &tv);
            }
            if (!start_native(r, tmo)) {
                if (r->fb_timer)
                    evtimer_del(r->fb_timer);
                record_attempt(r, m, "connect", 0, 0);
                continue;
            }
            return;
        }
        r->easy = tg__gw_easy_get(r->L);
        if (r->easy == NULL) {
            record_attempt(r, m, "connect", 0, 0);
            continue;
        }
        hdrs = upstream_headers(r, m->provider);
        if (hdrs != NULL && r->fwd_beta != NULL && prov->adapter == TG_ADAPTER_ANTHROPIC) {
            /* A Messages client's anthropic-beta goes to an Anthropic
             * upstream: this attempt gets its own copy of the shared list. */
            struct curl_slist *l = NULL, *x, *t;
            for (x = hdrs; x != NULL; x = x->next) {
                if ((t = curl_slist_append(l, x->data)) == NULL)
                    break;
                l = t;
            }
            t = x == NULL ? curl_slist_append(l, r->fwd_beta) : NULL;
            if (t == NULL)
                curl_slist_free_all(l);   /* out of memory: the attempt fails below */
            curl_slist_free_all(r->xhdrs);
            r->xhdrs = hdrs = t;
        }
        if (hdrs == NULL) {
            record_attempt(r, m, "connect", 0, 0);   /* out of memory */
            tg__gw_easy_put(r->L, r->easy);
            r->easy = NULL;
            continue;
        }
        curl_easy_setopt(r->easy, CURLOPT_URL, r->http.url);
        {
            /* Pooled handles keep their options: set both every time (a
             * NULL proxy is libcurl's default: the *_proxy environment). */
            const struct tg_provider *pv = &r->p->providers[m->provider];
            const char *ca = pv->ca_bundle != NULL ? pv->ca_bundle : tg__gw.cainfo;
            curl_easy_setopt(r->easy, CURLOPT_PROXY, pv->proxy);
            curl_easy_setopt(r->easy, CURLOPT_CAINFO, ca);
            curl_easy_setopt(r->easy, CURLOPT_PROXY_CAINFO, pv->ca_bundle != NULL ? pv->ca_bundle : tg__gw.proxy_cainfo);
            /* The bundle replaces the default trust: no CA directory either. */
            curl_easy_setopt(r->easy, CURLOPT_CAPATH, pv->ca_bundle != NULL ? NULL : tg__gw.capath);
            curl_easy_setopt(r->easy, CURLOPT_PROXY_CAPATH, pv->ca_bundle != NULL ? NULL : tg__gw.capath);
        }
        curl_easy_setopt(r->easy, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDS, r->http.body);
        curl_easy_setopt(r->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->http.body_len);
        curl_easy_setopt(r->easy, CURLOPT_WRITEDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_HEADERDATA, r);
        curl_easy_setopt(r->easy, CURLOPT_PRIVATE, &r->xfer);
        curl_easy_setopt(r->easy, CURLOPT_CONNECTTIMEOUT_MS, (long)tmo);
        if (r->http.stream) {
            /* Time to first byte, and then the longest gap between chunks,
             * is the attempt timeout; a started stream may run long as
             * long as it flows (LOW_SPEED is a backstop). */
            struct timeval tv = { tmo / 1000, (tmo % 1000) * 1000 };
            curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
            curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, (long)GW_STREAM_STALL_S);
            curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, 0L);   /* the handle may come from a non-stream */
            if (r->fb_timer == NULL)
                r->fb_timer = evtimer_new(r->L->base, on_stream_timeout, r);
            if (r->fb_timer)
                evtimer_add(r->fb_timer, &tv);
        } else {
            curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_LIMIT, 0L);   /* ... or from a stream */
            curl_easy_setopt(r->easy, CURLOPT_LOW_SPEED_TIME, 0L);
            curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)tmo);
        }
        if (curl_multi_add_handle(r->L->multi, r->easy) != CURLM_OK) {
            tg__gw_attempt_done(r, CURLE_FAILED_INIT);
            return;
        }
        return;
    }
    all_failed(r);
}
