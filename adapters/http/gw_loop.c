/*
 * gw_loop.c — the event loops: listeners, connections (framing guard, TLS),
 * the output path, drain, and libcurl multi driven by each loop.
 */
#include "adapters/http/gw_int.h"

static void on_curl_event(evutil_socket_t fd, short what, void *arg);
static void on_curl_timeout(evutil_socket_t fd, short what, void *arg);
static int curl_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *sockp);
static int curl_timer_cb(CURLM *multi, long timeout_ms, void *userp);
static void check_multi(struct gw_loop *L);
static void on_drain_check(evutil_socket_t fd, short what, void *arg);
static void on_drain(evutil_socket_t fd, short what, void *arg);
static void conn_free(void *arg);
static void on_kick(evutil_socket_t fd, short what, void *arg);
static enum bufferevent_filter_result conn_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim, enum bufferevent_flush_mode mode,          void *arg);
static void on_wr(evutil_socket_t fd, short what, void *arg);
static void kick(struct gw_conn *c);
static void on_conn_output(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg);
static void on_hg(void *arg, int what);


/* An easy handle with the options every attempt shares already set.  Pooled
 * handles are not curl_easy_reset (~3k instructions): tg__gw_start_next sets every
 * option that varies between attempts, each time. */

CURL *
tg__gw_easy_get(struct gw_loop *L)
{
    CURL *e;

    if (L->npool > 0)
        return L->pool[--L->npool];
    if ((e = curl_easy_init()) == NULL)
        return NULL;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, tg__gw_on_write);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, tg__gw_on_header);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    return e;
}


void
tg__gw_easy_put(struct gw_loop *L, CURL *e)
{
    curl_multi_remove_handle(L->multi, e);
    if (L->npool < GW_EASY_POOL && !atomic_load(&tg__gw.draining)) {
        L->pool[L->npool++] = e;   /* options kept; buffers and connection cache too */
    } else {
        curl_easy_cleanup(e);
    }
}


/* ---- curl multi on libevent -------------------------------------------- */


static void
on_curl_event(evutil_socket_t fd, short what, void *arg)
{
    struct gw_loop *L = arg;
    int running = 0, flags = 0;

    if (what & EV_READ)
        flags |= CURL_CSELECT_IN;
    if (what & EV_WRITE)
        flags |= CURL_CSELECT_OUT;
    L->activity++;
    curl_multi_socket_action(L->multi, fd, flags, &running);
    check_multi(L);
}


static void
on_curl_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct gw_loop *L = arg;
    int running = 0;

    (void)fd;
    (void)what;
    curl_multi_socket_action(L->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_multi(L);
}


static int
curl_sock_cb(CURL *e, curl_socket_t s, int what, void *userp, void *sockp)
{
    struct gw_loop *L = userp;
    struct event *ev = sockp;
    short kind;

    (void)e;
    if (what == CURL_POLL_REMOVE) {
        if (ev != NULL) {
            event_free(ev);
            curl_multi_assign(L->multi, s, NULL);
        }
        return 0;
    }
    kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) | ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
    if (ev == NULL) {
        ev = event_new(L->base, s, kind, on_curl_event, L);
        if (ev == NULL)
            return -1;
        curl_multi_assign(L->multi, s, ev);
    } else {
        event_del(ev);
        event_assign(ev, L->base, s, kind, on_curl_event, L);
    }
    event_add(ev, NULL);
    return 0;
}


static int
curl_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
    struct gw_loop *L = userp;
    struct timeval tv;

    (void)multi;
    if (timeout_ms < 0) {
        evtimer_del(L->curl_timer);
        return 0;
    }
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    evtimer_add(L->curl_timer, &tv);
    return 0;
}


static void
check_multi(struct gw_loop *L)
{
    CURLMsg *msg;
    int left;

    while ((msg = curl_multi_info_read(L->multi, &left)) != NULL) {
        struct gw_xfer *x = NULL;
        if (msg->msg != CURLMSG_DONE)
            continue;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
        if (x == NULL)
            continue;
        if (x->kind == GW_XFER_TELEMETRY)
            tg__gw_tel_done(L, msg->data.result);
        else
            tg__gw_attempt_done((struct gw_req *)x, msg->data.result);
    }
}


/* The scratch of this loop for policy p's PII database. */
struct tg_pii_scratch *
tg__gw_scratch_for(struct gw_loop *L, const struct tg_policy *p)
{
    if (p->pii == NULL)
        return NULL;
    if (L->scratch_pol != p) {
        struct tg_pii_scratch *s = NULL;
        if (tg_pii_scratch_new(p->pii, &s) != TG_OK)
            return NULL;
        tg_pii_scratch_free(L->scratch);
        if (L->scratch_pol)
            tg_policy_unref(L->scratch_pol);
        L->scratch = s;
        L->scratch_pol = tg_policy_ref((struct tg_policy *)p);
    }
    return L->scratch;
}


/* ---- loops, drain ------------------------------------------------------ */

static void
on_drain_check(evutil_socket_t fd, short what, void *arg)
{
    struct gw_loop *L = arg;

    (void)fd;
    (void)what;
    if (L->inflight == 0 || mono_ms() >= L->gw->drain_deadline_ms)
        event_base_loopexit(L->base, NULL);
}


static void
on_drain(evutil_socket_t fd, short what, void *arg)
{
    struct gw_loop *L = arg;
    struct timeval tv = { 0, 20000 };

    (void)fd;
    (void)what;
    if (L->bound != NULL) {
        evhttp_del_accept_socket(L->http, L->bound);   /* stop accepting */
        L->bound = NULL;
    }
    tg__gw_tel_flush(L);
    L->drain_timer = event_new(L->base, -1, EV_PERSIST, on_drain_check, L);
    if (L->drain_timer == NULL) {
        event_base_loopexit(L->base, NULL);
        return;
    }
    event_add(L->drain_timer, &tv);
}


void *
tg__gw_loop_main(void *arg)
{
    struct gw_loop *L = arg;
    sigset_t set;

    /* Signals belong to the main thread. */
    sigfillset(&set);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (L->busy_poll_us == 0) {
        event_base_dispatch(L->base);
        return NULL;
    }
    /*
     * Busy polling (server.busy_poll_us), as HAProxy's `busy-polling`: on a
     * VM, every sleep in epoll_wait gives the vCPU back, and the wake-up on
     * the next packet costs tens of microseconds: twice per proxied request
     * (the client's request, the upstream's answer).  After any activity
     * the loop keeps polling without blocking for busy_poll_us, then
     * sleeps; an idle gateway burns nothing.  Trades CPU for latency.
     */
    {
        uint64_t seen = L->activity;
        int64_t last = mono_us();
        for (;;) {
            if (mono_us() - last < (int64_t)L->busy_poll_us) {
                event_base_loop(L->base, EVLOOP_NONBLOCK);
                /* Spin without starving: if another thread (the audit
                 * writer, a co-located upstream) is runnable here, it runs. */
                sched_yield();
            } else {
                event_base_loop(L->base, EVLOOP_ONCE);
                last = mono_us();
            }
            if (event_base_got_exit(L->base) || event_base_got_break(L->base))
                break;
            if (L->activity != seen) {
                seen = L->activity;
                last = mono_us();
            }
        }
    }
    return NULL;
}



int
tg__gw_loop_init(struct gw_loop *L, const struct sockaddr *sa, int salen, const struct tg_policy *p,
          struct tg_err *err)
{
    struct evconnlistener *lst;
    struct timeval tv;
    uint32_t ht = p->server.header_timeout_ms ? p->server.header_timeout_ms : 30000;

    tg_gw_metrics_init(&L->m);
    L->base = event_base_new();
    if (L->base == NULL)
        return tg_err_set(err, TG_ENOMEM, "cannot create event base");
    L->http = evhttp_new(L->base);
    if (L->http == NULL)
        return tg_err_set(err, TG_ENOMEM, "cannot create http server");
    lst = evconnlistener_new_bind(L->base, NULL, NULL,
                                  LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
                                  LEV_OPT_CLOSE_ON_EXEC,
                                  1024, sa, salen);
    if (lst == NULL)
        return tg_err_set(err, TG_EIO, "cannot listen on %s: %s", tg__gw.listen, strerror(errno));
    L->bound = evhttp_bind_listener(L->http, lst);
    if (L->bound == NULL) {
        evconnlistener_free(lst);
        return tg_err_set(err, TG_EIO, "cannot bind http server on %s", tg__gw.listen);
    }
    evhttp_set_allowed_methods(L->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD);
    /* The framing guard (hdrguard.h) refuses bodies and header blocks past
     * its caps with a JSON answer; evhttp's caps sit above them so its HTML
     * error pages are never reached.  server.max_body_bytes is enforced
     * below them with an audited 413. */
    evhttp_set_max_body_size(L->http, (ev_ssize_t)TG_MAX_WIRE_BODY_BYTES * 2);
    evhttp_set_max_headers_size(L->http, TG_MAX_HEADER_BLOCK * 2);
    tv.tv_sec = ht / 1000;
    tv.tv_usec = (ht % 1000) * 1000;
    evhttp_set_timeout_tv(L->http, &tv);
    evhttp_set_gencb(L->http, tg__gw_on_request, L);
    evhttp_set_bevcb(L->http, tg__gw_on_new_bev, L);

    L->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    L->mdctx = EVP_MD_CTX_new();
    if (L->sha256 == NULL || L->mdctx == NULL)
        return tg_err_set(err, TG_ENOMEM, "cannot set up SHA-256");
    L->busy_poll_us = p->server.busy_poll_us;
    L->multi = curl_multi_init();
    if (L->multi == NULL)
        return tg_err_set(err, TG_ENOMEM, "cannot create curl multi handle");
    if (tg_up_pool_new(L->base, &L->up) != 0)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    L->curl_timer = evtimer_new(L->base, on_curl_timeout, L);
    curl_multi_setopt(L->multi, CURLMOPT_SOCKETFUNCTION, curl_sock_cb);
    curl_multi_setopt(L->multi, CURLMOPT_SOCKETDATA, L);
    curl_multi_setopt(L->multi, CURLMOPT_TIMERFUNCTION, curl_timer_cb);
    curl_multi_setopt(L->multi, CURLMOPT_TIMERDATA, L);
    /* Keep-alive pools per upstream host: reuse instead of a TLS handshake per request. */
    curl_multi_setopt(L->multi, CURLMOPT_MAXCONNECTS, 256L);

    L->drain_ev = event_new(L->base, -1, 0, on_drain, L);
    if (L->curl_timer == NULL || L->drain_ev == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    if (p->telemetry.enabled && p->telemetry.endpoint != NULL && p->telemetry.endpoint[0]) {
        uint32_t fi = p->telemetry.flush_interval_ms ? p->telemetry.flush_interval_ms : 5000;
        struct timeval ft = { fi / 1000, (fi % 1000) * 1000 };
        L->tel.timer = event_new(L->base, -1, EV_PERSIST, tg__gw_on_tel_timer, L);
        if (L->tel.timer)
            event_add(L->tel.timer, &ft);
    }
    return TG_OK;
}


/* Per connection: the header guard's state, and the "kick" that moves a
 * queued reply through the filter.  evhttp queues a reply while EV_WRITE is
 * still disabled and enables it afterwards; a filter bufferevent only moves
 * output when data is added, so the reply would sit there.  The kick runs
 * from the loop right after, holding a reference on the filter so evhttp
 * freeing the connection meanwhile cannot pull it away; all output moves
 * from there (conn_out), never from inside evhttp's own calls. */

static void
conn_free(void *arg)
{
    struct gw_conn *c = arg;

    tg_hg_free(&c->hg);
    if (c->tls != NULL)
        tg_tls_bev_release(c->tls);
    if (c->kick != NULL)
        event_free(c->kick);
    if (c->wr != NULL)
        event_free(c->wr);
    free(c);
}


static void
on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct gw_conn *c = arg;

    (void)fd;
    (void)what;
    c->kick_pending = false;
    c->in_kick = true;
    bufferevent_flush(c->f, EV_WRITE, BEV_NORMAL);
    c->in_kick = false;
    bufferevent_decref(c->f);
}


/* Output side of the filter.  evhttp counts a reply as written once the
 * filter's output is empty and may then free the connection, which drops
 * whatever the socket bufferevent below still holds (a "Connection: close"
 * reply would vanish).  So bytes go straight to the kernel here, and one
 * byte stays in the filter until the socket bufferevent below has drained:
 * "written" then means what it means without a filter. */

static enum bufferevent_filter_result
conn_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t lim, enum bufferevent_flush_mode mode,
         void *arg)
{
    struct gw_conn *c = arg;
    evutil_socket_t fd = bufferevent_getfd(c->under);
    size_t before = evbuffer_get_length(src), n;

    (void)lim;
    (void)mode;
    if (!c->in_kick) {
        /* Called while evhttp adds to the output (evbuffer_add in
         * evhttp_send_reply_end, before it sets its "done" callback):
         * finishing the write here would run evhttp's write callback too
         * early and the connection would never read again.  Later. */
        kick(c);
        return BEV_NEED_MORE;
    }
    if (c->tls != NULL && fd >= 0) {
        /* TLS: the same rule, encrypted here.  The TLS bufferevent below
         * would write on its own later cycle; so replies are encrypted and
         * written straight to the kernel, and what the socket does not take
         * waits here (never in the layer below) for writability. */
        int w;
        if (before == 0)
            return BEV_NEED_MORE;
        if (!c->nodelay) {
            /* A reply is one or a few records written back to back: Nagle
             * would hold the last one for the client's delayed ACK. */
            int one = 1;
            (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
            c->nodelay = true;
        }
        w = tg_tls_write_from(c->tls, src);
        if (w < 0) {
            evbuffer_add_buffer(dst, src);
            return BEV_OK;
        }
        if (w == 0 && !c->wr_pending) {
            if (c->wr == NULL)
                c->wr = event_new(c->base, fd, EV_WRITE, on_wr, c);
            if (c->wr == NULL) {
                evbuffer_add_buffer(dst, src);
                return BEV_OK;
            }
            c->wr_pending = true;
            bufferevent_incref(c->f);
            event_add(c->wr, NULL);
        }
        return evbuffer_get_length(src) < before ? BEV_OK : BEV_NEED_MORE;
    }
    if (fd < 0) {
        evbuffer_add_buffer(dst, src);
        return before > 0 ? BEV_OK : BEV_NEED_MORE;
    }
    if (evbuffer_get_length(dst) == 0) {
        while (evbuffer_get_length(src) > 0) {
            int w = evbuffer_write(src, fd);
            if (w > 0)
                continue;
            if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                /* Broken connection: the socket bufferevent reports it. */
                evbuffer_add_buffer(dst, src);
                return BEV_OK;
            }
            break;
        }
        n = evbuffer_get_length(src);
        if (n > 1) {
            evbuffer_remove_buffer(src, dst, n - 1);   /* written when the socket allows */
        } else if (n == 1 && !c->wr_pending) {
            /* The last byte waits for writability here; nothing below would call us. */
            if (c->wr == NULL)
                c->wr = event_new(c->base, fd, EV_WRITE, on_wr, c);
            if (c->wr != NULL) {
                c->wr_pending = true;
                bufferevent_incref(c->f);
                event_add(c->wr, NULL);
            } else {
                evbuffer_add_buffer(dst, src);
            }
        }
    }
    /* No progress must say so: the filter loops while we answer BEV_OK. */
    return evbuffer_get_length(src) < before ? BEV_OK : BEV_NEED_MORE;
}


static void
on_wr(evutil_socket_t fd, short what, void *arg)
{
    struct gw_conn *c = arg;

    (void)fd;
    (void)what;
    c->wr_pending = false;
    c->in_kick = true;
    bufferevent_flush(c->f, EV_WRITE, BEV_NORMAL);
    c->in_kick = false;
    bufferevent_decref(c->f);
}


static void
kick(struct gw_conn *c)
{
    if (!c->kick_pending) {
        c->kick_pending = true;
        bufferevent_incref(c->f);
        event_active(c->kick, EV_WRITE, 0);
    }
}


static void
on_conn_output(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
    (void)b;
    if (info->n_added > 0)
        kick(arg);
}


/* The framing guard holds a chunked request until it is whole (hdrguard.h). */
static void
on_hg(void *arg, int what)
{
    struct gw_conn *c = arg;
    evutil_socket_t fd = bufferevent_getfd(c->under);

    if (what == TG_HG_PROGRESS) {
        /* Re-arms evhttp's read timeout: the client is sending. */
        if (bufferevent_get_enabled(c->f) & EV_READ)
            bufferevent_enable(c->f, EV_READ);
    } else if (fd >= 0 && evbuffer_get_length(bufferevent_get_output(c->f)) == 0 &&
               evbuffer_get_length(bufferevent_get_output(c->under)) == 0) {
        /* Only with nothing else queued, so it cannot overtake an answer;
         * otherwise the client sends after its own wait. */
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        (void)!send(fd, cont, sizeof(cont) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
    }
}


/* evhttp's bufferevent for a new connection: the socket behind the header
 * guard (hdrguard.h).  NULL (out of memory) makes evhttp use a plain one. */
struct bufferevent *
tg__gw_on_new_bev(struct event_base *base, void *arg)
{
    struct bufferevent *under;
    struct gw_conn *c = calloc(1, sizeof(*c));

    (void)arg;
    if (c == NULL)
        return NULL;
    tg_hg_init(&c->hg);
    c->hg.hook = on_hg;
    c->hg.hook_arg = c;
    c->base = base;
    c->kick = event_new(base, -1, 0, on_kick, c);
    under = tg__gw.tls != NULL ? tg_tls_bev_new(tg__gw.tls, base) : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (c->kick == NULL || under == NULL) {
        if (under != NULL)
            bufferevent_free(under);
        conn_free(c);
        return NULL;
    }
    c->under = under;
    c->f = bufferevent_filter_new(under, tg_hg_filter, conn_out, BEV_OPT_CLOSE_ON_FREE, conn_free, c);
    if (c->f == NULL) {
        bufferevent_free(under);
        conn_free(c);
        return NULL;
    }
    if (evbuffer_add_cb(bufferevent_get_output(c->f), on_conn_output, c) == NULL) {
        bufferevent_free(c->f);   /* frees c too */
        return NULL;
    }
    if (tg__gw.tls != NULL) {
        bufferevent_incref(under);   /* conn_free's: conn_out writes through it until the end */
        c->tls = under;
    }
    return c->f;
}


void
tg__gw_loop_free(struct gw_loop *L)
{
    if (L->tel.easy) {
        curl_multi_remove_handle(L->multi, L->tel.easy);
        curl_easy_cleanup(L->tel.easy);
        curl_slist_free_all(L->tel.hdrs);
        free(L->tel.body);
    }
    for (uint32_t i = 0; i < L->npool; i++)
        curl_easy_cleanup(L->pool[i]);
    L->npool = 0;
    for (uint32_t i = 0; i < L->tel.n; i++)
        free(L->tel.ev[i]);
    free(L->tel.ev);
    if (L->tel.timer)
        event_free(L->tel.timer);
    if (L->http)
        evhttp_free(L->http);
    if (L->multi)
        curl_multi_cleanup(L->multi);
    tg_up_pool_free(L->up);
    L->up = NULL;
    if (L->curl_timer)
        event_free(L->curl_timer);
    if (L->drain_ev)
        event_free(L->drain_ev);
    if (L->drain_timer)
        event_free(L->drain_timer);
    EVP_MD_CTX_free(L->mdctx);
    EVP_MD_free(L->sha256);
    tg_pii_scratch_free(L->scratch);
    if (L->scratch_pol)
        tg_policy_unref(L->scratch_pol);
    if (L->base)
        event_base_free(L->base);
    tg_gw_metrics_destroy(&L->m);
}
