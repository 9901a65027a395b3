/*
 * gw_reply.c — the answer: errors in the client's dialect, common headers,
 * whole answers and stream relay through the dialect encoder, and the audit
 * entry written before anything is sent.
 */
#include "adapters/http/gw_int.h"

static void add_common_headers(struct gw_req *r);
static void restore_idle_timeout(struct gw_req *r);
static void on_audit_done_ev(evutil_socket_t fd, short what, void *arg);
static void on_audit_done(void *arg, int status, uint64_t seq);
static int dialect_emit(void *ud, const char *buf, size_t len);


void
tg__gw_json_escape(struct tg_jtext *b, const char *s)
{
    tg_jtext_printf(b, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            tg_jtext_printf(b, "\\%c", c);
        else if (c < 0x20)
            tg_jtext_printf(b, "\\u%04x", c);
        else
            tg_jtext_printf(b, "%c", c);
    }
    tg_jtext_printf(b, "\"");
}


/* ---- responses ----------------------------------------------------------- */

const char *
tg__gw_reason_phrase(int code)
{
    switch (code) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Payload Too Large";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default:  return code < 400 ? "OK" : "Error";
    }
}


/* OpenAI error body into r->out. extra: pre-rendered JSON members (or NULL). */
void
tg__gw_set_error(struct gw_req *r, int status, const char *type, const char *code, const char *msg,
          const char *extra)
{
    struct tg_jtext b = { 0 };

    if (r->dialect != NULL && r->dialect->errors == TG_DIALECT_ERR_ANTHROPIC) {
        /* Anthropic's shape; OpenAI's code rides along for scripts. */
        tg_jtext_printf(&b, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":",
                         tg_dialect_anthropic_error_type(status));
        tg__gw_json_escape(&b, msg);
        tg_jtext_printf(&b, ",\"code\":\"%s\"", code);
    } else {
        tg_jtext_printf(&b, "{\"error\":{\"message\":");
        tg__gw_json_escape(&b, msg);
        tg_jtext_printf(&b, ",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"", type, code);
    }
    if (extra)
        tg_jtext_printf(&b, ",%s", extra);
    tg_jtext_printf(&b, ",\"decision_id\":\"%s\"}}", r->id);
    evbuffer_drain(r->out, evbuffer_get_length(r->out));
    if (!b.fail)
        evbuffer_add(r->out, b.p, b.len);
    tg_jtext_free(&b);
    r->status = status;
    r->ctype = "application/json";
    if (r->error == NULL)
        r->error = code;
}


static void
add_common_headers(struct gw_req *r)
{
    static const char wd[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
    static const char mo[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
    struct gw_loop *L = r->L;
    time_t now = time(NULL);
    struct tm tm;

    /* evhttp adds a Date header only when there is none; formatting it once
     * a second per loop instead of per response saves ~3k instructions. */
    if (now != L->date_s && gmtime_r(&now, &tm) != NULL) {
        snprintf(L->date, sizeof(L->date), "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday % 7],
                 tm.tm_mday, mo[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
        L->date_s = now;
    }
    if (L->date[0] != '\0')
        evhttp_add_header(h, "Date", L->date);
    evhttp_add_header(h, "X-Tollgate-Decision-Id", r->id);
    if (r->served != NULL)
        evhttp_add_header(h, "X-Tollgate-Model", r->served->id);
    if (r->p != NULL)
        evhttp_add_header(h, "X-Tollgate-Policy-Version", r->p->policy_version);
}


/* ---- request lifecycle ---------------------------------------------------- */


static void
restore_idle_timeout(struct gw_req *r)
{
    struct evhttp_connection *c = r->ev ? evhttp_request_get_connection(r->ev) : NULL;
    if (c != NULL && r->p != NULL) {
        uint32_t ms = r->p->server.idle_timeout_ms ? r->p->server.idle_timeout_ms : 60000;
        struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
        evhttp_connection_set_timeout_tv(c, &tv);
    }
}


void
tg__gw_send_response(struct gw_req *r)
{
    if (r->ev == NULL)
        return;
    restore_idle_timeout(r);
    if (r->client_started) {
        if (r->chunk && evbuffer_get_length(r->chunk) > 0)
            evhttp_send_reply_chunk(r->ev, r->chunk);
        evhttp_send_reply_end(r->ev);
    } else {
        add_common_headers(r);
        evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Content-Type",
                          r->ctype ? r->ctype : "application/json");
        if (r->stream && r->status == 200)
            evhttp_add_header(evhttp_request_get_output_headers(r->ev), "Cache-Control", "no-cache");
        evhttp_send_reply(r->ev, r->status, tg__gw_reason_phrase(r->status), r->out);
    }
    r->ev = NULL;   /* evhttp frees it once written */
}


static void
on_audit_done_ev(evutil_socket_t fd, short what, void *arg)
{
    struct gw_req *r = arg;

    (void)fd;
    (void)what;
    if (r->audit_rc != TG_OK && !r->client_started) {
        r->served = NULL;
        tg__gw_set_error(r, 503, "server_error", "audit_unavailable",
                  "the audit log could not record this request", NULL);
    }
    tg__gw_send_response(r);
    tg__gw_req_free(r);
}


/* Writer thread: hop back to the request's loop. */
static void
on_audit_done(void *arg, int status, uint64_t seq)
{
    struct gw_req *r = arg;

    (void)seq;
    r->audit_rc = status;
    event_active(r->done_ev, 0, 0);
}


void
tg__gw_req_free(struct gw_req *r)
{
    if (r->easy != NULL)
        tg__gw_easy_put(r->L, r->easy);
    if (r->up_on)
        tg_up_cancel(&r->up);
    if (r->fb_timer)
        event_free(r->fb_timer);
    if (r->done_ev)
        event_free(r->done_ev);
    if (r->st_init)
        tg_prov_stream_free(&r->st);
    if (r->ds != NULL)
        r->dialect->stream_free(r->ds);
    tg__gw_guard_free(r);
    curl_slist_free_all(r->xhdrs);
    if (r->ubuf)
        evbuffer_free(r->ubuf);
    if (r->chunk)
        evbuffer_free(r->chunk);
    if (r->out)
        evbuffer_free(r->out);
    if (r->have_req)
        tg_request_dispose(&r->req);
    tg_arena_free(&r->arena);
    tg__gw_snap_put(r->snap);
    r->L->inflight--;
    free(r);
}



/* Metrics, telemetry and capture for a finished request (loop thread). */
void
tg__gw_account(struct gw_req *r)
{
    struct tg_gw_metrics *m = &r->L->m;

    pthread_mutex_lock(&m->mu);
    tg_gw_metrics_code(m, r->status);
    if (r->have_d) {
        tg_gw_metrics_decision(m, (int)r->d.verdict);
        for (uint32_t i = 0; i < r->d.nreasons; i++)
            tg_gw_metrics_rule(m, r->d.reasons[i].rule);
        for (uint32_t c = 0; c < r->d.ncands; c++)
            for (uint32_t i = 0; i < r->d.cands[c].nreasons; i++)
                tg_gw_metrics_rule(m, r->d.cands[c].reasons[i].rule);
    }
    if (r->og != NULL && r->og->verdict == TG_RESP_DENY && r->og->rule != NULL)
        tg_gw_metrics_rule(m, r->og->rule);
    for (uint32_t i = 0; i < r->natt; i++)
        tg_gw_metrics_attempt(m, r->att[i].model, r->att[i].outcome);
    tg_gw_metrics_latency(m, (double)(mono_us() - r->t0_us_mono) / 1e6);
    pthread_mutex_unlock(&m->mu);

    if (r->p != NULL && r->p->telemetry.enabled && r->p->telemetry.endpoint != NULL &&
        r->p->telemetry.endpoint[0] != '\0')
        tg__gw_tel_push(r->L, r);

    if (tg__gw.capture != NULL && r->have_req && r->have_d) {
        struct tg_capture_extra x = { r->id, r->usage.prompt_tokens, r->usage.completion_tokens,
                                      r->dialect ? r->dialect->path : NULL, NULL, 0 };
        if (r->client_body != NULL && r->body != r->client_body) {
            /* another door: its own body too (contract: the original body) */
            x.client_body = r->client_body;
            x.client_len = r->client_len;
        }
        (void)tg_capture_record_ex(tg__gw.capture, r->ts_us, &r->req, &r->d, &x, &r->arena);
    }
}


/* Build the audit entry for the outcome in r and append it; the response is
 * sent when the entry is durable (or at once without an audit log). */
void
tg__gw_finish(struct gw_req *r)
{
    struct tg_audit_event ev;
    struct tg_audit_text entry;
    int rc;

    if (r->finishing)
        return;
    r->finishing = true;
    tg__gw_account(r);
    if (tg__gw.audit == NULL) {
        tg__gw_send_response(r);
        tg__gw_req_free(r);
        return;
    }
    memset(&ev, 0, sizeof(ev));
    ev.event = r->event_kind ? r->event_kind : "decision";
    ev.decision_id = r->id;
    ev.ts_us = r->ts_us;
    ev.policy = r->p;
    ev.decision = r->have_d ? &r->d : NULL;
    ev.tenant = r->tenant ? r->tenant->id : NULL;
    ev.mode = r->p && r->p->mode == TG_MODE_AUDIT ? "audit" : "enforce";
    ev.http_status = r->status;
    ev.model = r->served ? r->served->id : NULL;
    ev.provider = r->served ? r->p->providers[r->served->provider].id : NULL;
    ev.attempts = r->att;
    ev.nattempts = r->natt;
    ev.latency_ms = (uint32_t)(mono_ms() - r->t0_ms);
    ev.prompt_tokens = r->usage.prompt_tokens;
    ev.completion_tokens = r->usage.completion_tokens;
    ev.cost_usd = r->cost;
    if (r->client_body != NULL && r->tenant != NULL) {
        tg_audit_request_hmac(tg__gw.audit, r->tenant->id, r->client_body, r->client_len, ev.request_hmac);
        ev.has_request_hmac = true;
        ev.request_len = r->client_len;
    }
    ev.endpoint = r->dialect ? r->dialect->path : NULL;
    ev.auth = r->auth;
    ev.stream = r->stream;
    ev.error = r->error;
    if (r->og != NULL && r->served != NULL &&
        (r->og_blocked || r->client_started || r->status == 200)) {
        /* the guard read the answer that was served (or blocked), not one
         * of a failed attempt */
        ev.resp_verdict = tg_outguard_action_name(r->og->verdict);
        ev.resp_rule = r->og->verdict == TG_RESP_DENY ? r->og->rule : NULL;
        ev.resp_findings = r->og->counts;
        ev.nresp_findings = r->og->ncounts;
    }
    /* Rendered here as the bytes of the line (no tree): the writer thread
     * only adds the chain fields (docs/gateway.md: per-request CPU). */
    if (tg_audit_entry_text(&ev, &entry) != TG_OK) {
        rc = TG_ENOMEM;
    } else if (!tg__gw.audit_wait) {
        /* fsync: never promises no durability, so there is nothing to wait
         * for: enqueued (in order) is as good as it gets. */
        rc = tg_audit_append_text(tg__gw.audit, &entry, NULL, NULL);
        if (rc == TG_OK) {
            tg__gw_send_response(r);
            tg__gw_req_free(r);
            return;
        }
    } else if ((r->done_ev = event_new(r->L->base, -1, 0, on_audit_done_ev, r)) == NULL) {
        tg_audit_text_free(&entry);
        rc = TG_ENOMEM;
    } else {
        rc = tg_audit_append_text(tg__gw.audit, &entry, on_audit_done, r);
    }
    if (rc != TG_OK) {
        /* Nothing unaudited leaves: the upstream answer is dropped. */
        r->audit_rc = rc;
        on_audit_done_ev(-1, 0, r);
    }
}


/* The client's dialect's events for one feed, bound for r->chunk. */
static int
dialect_emit(void *ud, const char *buf, size_t len)
{
    struct gw_req *r = ud;
    return evbuffer_add(r->chunk, buf, len);
}


/* Canonical SSE from the provider adapter (or echo): relayed as is to a
 * Chat Completions client, translated for any other dialect.  The
 * translator is made on the first canonical byte, so an attempt that fails
 * before it leaves nothing behind for the fallback. */
int
tg__gw_client_emit(void *ud, const char *buf, size_t len)
{
    struct gw_req *r = ud;

    if (r->dialect == NULL || r->dialect->stream_new == NULL)
        return evbuffer_add(r->chunk, buf, len);
    if (r->ds == NULL && r->dialect->stream_new(&r->dctx, dialect_emit, r, &r->ds) != TG_OK)
        return -1;
    return r->dialect->stream_feed(r->ds, buf, len);
}


/* A whole canonical stream (a local adapter's SSE text) into r->out in the
 * client's dialect, through the output guard when it is on. */
static int
stream_out(struct gw_req *r, const char *canon, size_t len, struct tg_err *err)
{
    const struct tg_dialect_ops *d = r->dialect;
    bool guard = tg__gw_guard_on(r);
    int rc;

    if (guard)
        tg__gw_guard_begin(r, true);
    rc = guard ? tg__gw_canon_emit(r, canon, len) : tg__gw_client_emit(r, canon, len);
    if (rc == 0 && r->ds != NULL)
        rc = d->stream_end(r->ds, true);
    if (r->ds != NULL) {
        d->stream_free(r->ds);
        r->ds = NULL;
    }
    if (rc != 0) {
        evbuffer_drain(r->chunk, evbuffer_get_length(r->chunk));
        if (r->og_blocked)
            return tg_err_set(err, TG_EPOLICY, "the answer was blocked by the response policy");
        return tg_err_set(err, TG_EINVAL, "answer could not be translated");
    }
    evbuffer_add_buffer(r->out, r->chunk);
    return TG_OK;
}


/* A whole canonical answer (chat.completion JSON, or for a stream the
 * whole canonical SSE text) into r->out in the client's dialect.  With the
 * output guard on it is scanned first: TG_EPOLICY when the guard blocked it
 * (r->og_blocked; nothing is in r->out). */
int
tg__gw_answer_out(struct gw_req *r, const char *canon, size_t len, struct tg_err *err)
{
    const struct tg_dialect_ops *d = r->dialect;
    char *guarded = NULL;
    size_t glen = 0;
    int rc;

    if (r->stream && ((d != NULL && d->stream_new != NULL) || tg__gw_guard_on(r)))
        return stream_out(r, canon, len, err);
    if (!r->stream && tg__gw_guard_on(r)) {
        if ((rc = tg__gw_guard_answer(r, canon, len, &guarded, &glen, err)) != TG_OK)
            return rc;
        if (guarded != NULL) {
            canon = guarded;
            len = glen;
        }
    }
    if (!r->stream && d != NULL && d->encode_answer != NULL) {
        char *out = NULL;
        size_t olen = 0;
        rc = d->encode_answer(&r->dctx, canon, len, &out, &olen, err);
        if (rc == TG_OK) {
            rc = evbuffer_add(r->out, out, olen) == 0 ? TG_OK : TG_ENOMEM;
            free(out);
        }
    } else {
        rc = evbuffer_add(r->out, canon, len) == 0 ? TG_OK : TG_ENOMEM;
    }
    free(guarded);
    return rc;
}


/* Push what one feed produced to the client, starting the chunked reply on
 * the first byte: from here on there is no fallback. */
bool
tg__gw_flush_client(struct gw_req *r)
{
    if (evbuffer_get_length(r->chunk) == 0)
        return true;
    if (r->ev == NULL || evhttp_request_get_connection(r->ev) == NULL) {
        r->client_gone = true;
        return false;
    }
    if (!r->client_started) {
        struct evkeyvalq *h = evhttp_request_get_output_headers(r->ev);
        struct bufferevent *bev = evhttp_connection_get_bufferevent(evhttp_request_get_connection(r->ev));
        int one = 1;
        /* Chunks are small and frequent: without TCP_NODELAY, Nagle holds
         * each one until the client's (delayed) ACK of the previous. */
        if (bev != NULL && bufferevent_getfd(bev) >= 0)
            (void)setsockopt(bufferevent_getfd(bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        r->served = r->cur_m;
        add_common_headers(r);
        evhttp_add_header(h, "Content-Type", "text/event-stream");
        evhttp_add_header(h, "Cache-Control", "no-cache");
        evhttp_send_reply_start(r->ev, 200, "OK");
        r->client_started = true;
    }
    evhttp_send_reply_chunk(r->ev, r->chunk);
    return true;
}
