/*
 * server.c — the egress gateway: evhttp loops, the chat completions request
 * state machine, libcurl multi on the same loops, breakers, reload, drain.
 *
 * Request path (POST /v1/chat/completions), all on one loop thread:
 *   read body (413) -> auth (401) -> tenant rate (429) -> parse (400)
 *   -> tg_preflight_decide -> deny: 403 | route: attempt 1..n (fallback on
 *   connect/timeout/5xx/429, breaker updated) -> audit append -> (writer
 *   thread: durable) -> event_active -> response sent.
 * Streams relay SSE as it arrives; the audit entry is appended when the
 * stream ends (the decision was already made and is what the entry
 * records; only usage and outcome were pending), and the chunked response
 * is closed once it is durable.
 */
#include "adapters/http/gateway.h"
#include "adapters/http/hdrguard.h"
#include "adapters/http/metrics.h"
#include "adapters/http/upstream.h"
#include "adapters/providers/provider.h"
#include "adapters/capture/capture.h"
#include "adapters/http/tls.h"
#include "adapters/dialects/dialect.h"
#include "audit/audit.h"
#include "engine/breaker.h"
#include "engine/context.h"
#include "engine/cost.h"
#include "engine/limits.h"
#include "engine/next.h"
#include "engine/preflight.h"
#include "engine/redact.h"
#include "engine/request.h"
#include "policy/policy.h"

#include <sys/queue.h>   /* TAILQ_FOREACH over evkeyvalq */

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <event2/util.h>
#include <openssl/evp.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <malloc.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GW_DRAIN_MAX_MS        30000   /* in-flight requests get this long on SIGTERM */
#define GW_UPSTREAM_BODY_MAX   (32u * 1024u * 1024u)  /* a non-streamed answer larger than this is bad */
#define GW_BUSY_TIMEOUT_S      600     /* connection timeout while a request is being served */
#define GW_STREAM_STALL_S      60      /* a started stream with no byte for this long is dead */
#define GW_TEL_MAX_BUFFER      10000u  /* telemetry events held per loop before dropping */
#define GW_EASY_POOL           128u    /* idle curl handles kept per loop: an easy handle owns
                                          ~80 KiB of buffers, and malloc/free of that per
                                          request showed up as a fifth of the CPU */

/* ---- shared state -------------------------------------------------------- */

struct gw_rate {
    int64_t  window_ms;
    uint32_t count;
};

/* A policy plus the run-time state indexed by it (breakers per model, rate
 * windows per tenant).  Requests hold a reference for their whole life. */
struct gw_snap {
    atomic_int         refs;
    struct tg_policy  *p;
    struct tg_breaker *br;     /* [p->nmodels], under gw.br_mu */
    struct gw_rate    *rate;   /* [p->ntenants], under gw.br_mu */
    /* Upstream header lists, [provider * 2 + stream], built on first use and
     * then read-only (curl only reads them): a provider's headers depend on
     * nothing but the provider and streaming (provider.h), so building and
     * freeing a list per attempt was wasted work.  Published with a CAS, so
     * loop threads need no lock. */
    _Atomic(struct curl_slist *) *hdrs;
    uint8_t           *native;   /* [p->nproviders]: in-loop HTTP/1.1 client (upstream.h) */
};

struct gw_loop;

struct gw {
    struct tg_gw_opts  opts;
    char               listen[300];
    int                listen_lock;    /* abstract socket naming the address (listen_lock()) */
    pthread_mutex_t    snap_mu;
    struct gw_snap    *snap;
    pthread_mutex_t    br_mu;
    struct tg_audit_log *audit;
    bool               audit_wait;   /* fsync always|batch: answer once the entry is durable */
    struct tg_capture *capture;
    struct tg_tls     *tls;          /* server.tls: NULL = plain HTTP (tls.h) */
    char              *cainfo, *proxy_cainfo, *capath;  /* libcurl's built-in trust (providers without ca_bundle) */
    struct gw_loop    *loops;
    uint32_t           nloops;
    struct event_base *main_base;
    struct timespec    cfg_mtime;
    off_t              cfg_size;
    atomic_bool        draining;
    atomic_uint_fast64_t reloads_ok, reloads_failed;
    int64_t            drain_deadline_ms;
};

struct gw_tel {
    char   **ev;          /* JSON objects waiting to be sent */
    uint32_t n, cap;
    bool     in_flight;   /* one POST at a time per loop */
    uint32_t sending;     /* events in the POST in flight */
    struct event *timer;
    CURL    *easy;
    struct curl_slist *hdrs;
    char    *body;
};

struct gw_loop {
    struct gw          *gw;
    uint32_t            idx;
    pthread_t           th;
    struct event_base  *base;
    struct evhttp      *http;
    struct evhttp_bound_socket *bound;
    CURLM              *multi;
    struct event       *curl_timer;
    struct tg_up_pool  *up;        /* plain-HTTP upstream connections of this loop */
    uint32_t            busy_poll_us;  /* server.busy_poll_us at start */
    uint64_t            activity;  /* bumped by request/upstream callbacks (busy polling) */
    struct tg_pii_scratch *scratch;
    struct tg_policy   *scratch_pol;   /* scratch belongs to this policy's db (ref held) */
    struct event       *drain_ev;
    struct event       *drain_timer;
    uint32_t            inflight;
    CURL               *pool[GW_EASY_POOL];  /* idle easy handles, shared options set (easy_get) */
    uint32_t            npool;
    struct tg_gw_metrics m;
    struct gw_tel       tel;
    EVP_MD             *sha256;    /* fetched once: EVP_sha256() per call re-fetches (OpenSSL 3) */
    time_t              date_s;    /* the second date[] shows */
    char                date[32];  /* the Date header: evhttp formats it afresh per response */
    EVP_MD_CTX         *mdctx;
};

/* What a curl easy handle belongs to (CURLOPT_PRIVATE). */
enum gw_xfer_kind { GW_XFER_ATTEMPT = 0, GW_XFER_TELEMETRY = 1 };
struct gw_xfer {
    enum gw_xfer_kind kind;
};

struct gw_req {
    struct gw_xfer      xfer;          /* first: CURLOPT_PRIVATE points here */
    struct gw_loop     *L;
    struct evhttp_request *ev;
    struct gw_snap     *snap;
    const struct tg_policy *p;
    struct tg_arena     arena;
    char                id[33];
    int64_t             t0_ms, t0_us_mono, ts_us;
    const struct tg_tenant *tenant;
    const struct tg_dialect_ops *dialect;  /* the door the request came in by */
    struct tg_dialect_ctx dctx;
    struct tg_dialect_stream *ds;          /* canonical stream -> the client's dialect */
    const char         *fwd_beta;          /* "anthropic-beta: ..." to forward to an Anthropic upstream */
    struct curl_slist  *xhdrs;             /* this attempt's header list when it has fwd_beta */
    const char         *client_body;       /* the client's bytes (HMAC'd into the audit entry) */
    size_t              client_len;
    const char         *body;              /* the canonical request (== client_body for chat) */
    size_t              body_len;
    struct tg_request   req;
    bool                have_req;
    struct tg_decision  d;
    bool                have_d;
    char               *redacted;
    size_t              redacted_len;
    bool                stream;
    int64_t             deadline_ms;
    uint32_t            ri;
    struct tg_audit_attempt att[TG_MAX_CHAIN + 1];
    uint32_t            natt;
    bool                hit_deadline;

    /* current attempt: a curl handle, or the in-loop client's request */
    CURL               *easy;
    struct tg_up_req    up;
    bool                up_on;
    const struct tg_model *cur_m;
    const struct tg_provider *cur_prov;
    int32_t             cur_mi;
    int64_t             att_t0;
    uint32_t            att_timeout_ms;
    bool                att_deadline_cut;   /* the attempt's timeout is the overall deadline */
    struct tg_prov_http http;
    struct evbuffer    *ubuf;
    long                ustatus;
    int64_t             retry_after_ms;
    bool                status_checked, relaying;
    struct tg_prov_stream st;
    bool                st_init;
    int                 stream_err;
    struct evbuffer    *chunk;             /* SSE bytes for the client from one feed */
    struct event       *fb_timer;          /* stream: first byte, then idle gap */
    bool                client_started;    /* chunked reply started: no more fallback */
    bool                client_gone;

    /* outcome */
    int                 status;
    const char         *event_kind;
    const char         *auth;              /* "key" | "mtls" | "key+mtls": how the tenant was known */
    const struct tg_model *served;
    struct tg_prov_usage usage;
    double              cost;
    struct evbuffer    *out;
    const char         *ctype;
    const char         *error;
    struct event       *done_ev;
    int                 audit_rc;
    bool                finishing;
};

static struct gw G;

/* ---- small helpers ------------------------------------------------------- */

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int64_t
wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
tg_gw_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon;
    char *end;
    long v;
    size_t hl;

    if (s == NULL || *s == '\0')
        return TG_EINVAL;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':')
            return TG_EINVAL;
        hl = (size_t)(rb - s - 1);
        if (hl + 1 > hostlen)
            return TG_EINVAL;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return TG_EINVAL;
        hl = (size_t)(colon - s);
        if (hl + 1 > hostlen)
            return TG_EINVAL;
        memcpy(host, s, hl);
        host[hl] = '\0';
        if (hl == 0 || strcmp(host, "*") == 0)
            snprintf(host, hostlen, "0.0.0.0");
        else if (strcmp(host, "localhost") == 0)
            snprintf(host, hostlen, "127.0.0.1");
    }
    errno = 0;
    v = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || v < 0 || v > 65535)
        return TG_EINVAL;
    *port = (uint16_t)v;
    return TG_OK;
}

bool
tg_gw_bearer(const char *a, const char **tok, size_t *len)
{
    size_t n;

    if (a == NULL)
        return false;
    while (*a == ' ' || *a == '\t')
        a++;
    if (strncasecmp(a, "bearer", 6) != 0 || (a[6] != ' ' && a[6] != '\t'))
        return false;
    a += 6;
    while (*a == ' ' || *a == '\t')
        a++;
    n = strlen(a);
    while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
        n--;
    if (n == 0)
        return false;
    *tok = a;
    *len = n;
    return true;
}

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

static void
json_escape(struct tg_gw_buf *b, const char *s)
{
    tg_gw_buf_printf(b, "\"");
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            tg_gw_buf_printf(b, "\\%c", c);
        else if (c < 0x20)
            tg_gw_buf_printf(b, "\\u%04x", c);
        else
            tg_gw_buf_printf(b, "%c", c);
    }
    tg_gw_buf_printf(b, "\"");
}

/* ---- snapshots ----------------------------------------------------------- */

static struct gw_snap *
snap_new(struct tg_policy *p, const struct gw_snap *old)
{
    struct gw_snap *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->br = calloc(p->nmodels ? p->nmodels : 1, sizeof(*s->br));
    s->rate = calloc(p->ntenants ? p->ntenants : 1, sizeof(*s->rate));
    s->hdrs = calloc(p->nproviders ? 2u * p->nproviders : 1, sizeof(*s->hdrs));
    s->native = calloc(p->nproviders ? p->nproviders : 1, 1);
    if (s->br == NULL || s->rate == NULL || s->hdrs == NULL || s->native == NULL) {
        free(s->br);
        free(s->rate);
        free(s->hdrs);
        free(s->native);
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->p = p;
    for (uint32_t i = 0; i < p->nmodels; i++)
        tg_breaker_init(&s->br[i]);
    for (uint32_t i = 0; i < p->nproviders; i++)
        s->native[i] = p->providers[i].transport == TG_TRANSPORT_AUTO &&
                       !tg_prov_is_local(p->providers[i].adapter) &&
                       p->providers[i].proxy == NULL &&   /* only libcurl speaks to proxies */
                       tg_up_eligible(p->providers[i].base_url);
    if (old != NULL) {
        /* Carry breaker state and rate windows over by id: a reload must not
         * reopen traffic to a provider that is down, nor reset limits. */
        pthread_mutex_lock(&G.br_mu);
        for (uint32_t i = 0; i < old->p->nmodels; i++) {
            int32_t k = tg_policy_model_index(p, old->p->models[i].id);
            if (k >= 0)
                s->br[k] = old->br[i];
        }
        for (uint32_t i = 0; i < old->p->ntenants; i++) {
            const struct tg_tenant *t = tg_policy_tenant(p, old->p->tenants[i].id);
            if (t != NULL)
                s->rate[t - p->tenants] = old->rate[i];
        }
        pthread_mutex_unlock(&G.br_mu);
    }
    return s;
}

static struct gw_snap *
snap_get(void)
{
    struct gw_snap *s;

    pthread_mutex_lock(&G.snap_mu);
    s = G.snap;
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&G.snap_mu);
    return s;
}

static void
snap_put(struct gw_snap *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (uint32_t i = 0; i < 2u * s->p->nproviders; i++)
        curl_slist_free_all(atomic_load(&s->hdrs[i]));
    tg_policy_unref(s->p);
    free(s->br);
    free(s->rate);
    free(s->hdrs);
    free(s->native);
    free(s);
}

/* ---- responses ----------------------------------------------------------- */

static const char *
reason_phrase(int code)
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
static void
set_error(struct gw_req *r, int status, const char *type, const char *code, const char *msg,
          const char *extra)
{
    struct tg_gw_buf b = { 0 };

    if (r->dialect != NULL && r->dialect->errors == TG_DIALECT_ERR_ANTHROPIC) {
        /* Anthropic's shape; OpenAI's code rides along for scripts. */
        tg_gw_buf_printf(&b, "{\"type\":\"error\",\"error\":{\"type\":\"%s\",\"message\":",
                         tg_dialect_anthropic_error_type(status));
        json_escape(&b, msg);
        tg_gw_buf_printf(&b, ",\"code\":\"%s\"", code);
    } else {
        tg_gw_buf_printf(&b, "{\"error\":{\"message\":");
        json_escape(&b, msg);
        tg_gw_buf_printf(&b, ",\"type\":\"%s\",\"param\":null,\"code\":\"%s\"", type, code);
    }
    if (extra)
        tg_gw_buf_printf(&b, ",%s", extra);
    tg_gw_buf_printf(&b, ",\"decision_id\":\"%s\"}}", r->id);
    evbuffer_drain(r->out, evbuffer_get_length(r->out));
    if (!b.oom)
        evbuffer_add(r->out, b.p, b.len);
    tg_gw_buf_free(&b);
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

static void req_free(struct gw_req *r);
static void easy_put(struct gw_loop *L, CURL *e);
static void finish(struct gw_req *r);
static void start_next(struct gw_req *r);

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

static void
send_response(struct gw_req *r)
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
        evhttp_send_reply(r->ev, r->status, reason_phrase(r->status), r->out);
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
        set_error(r, 503, "server_error", "audit_unavailable",
                  "the audit log could not record this request", NULL);
    }
    send_response(r);
    req_free(r);
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

static void
req_free(struct gw_req *r)
{
    if (r->easy != NULL)
        easy_put(r->L, r->easy);
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
    snap_put(r->snap);
    r->L->inflight--;
    free(r);
}

static void
tel_push(struct gw_loop *L, struct gw_req *r);

/* Metrics, telemetry and capture for a finished request (loop thread). */
static void
account(struct gw_req *r)
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
    for (uint32_t i = 0; i < r->natt; i++)
        tg_gw_metrics_attempt(m, r->att[i].model, r->att[i].outcome);
    tg_gw_metrics_latency(m, (double)(mono_us() - r->t0_us_mono) / 1e6);
    pthread_mutex_unlock(&m->mu);

    if (r->p != NULL && r->p->telemetry.enabled && r->p->telemetry.endpoint != NULL &&
        r->p->telemetry.endpoint[0] != '\0')
        tel_push(r->L, r);

    if (G.capture != NULL && r->have_req && r->have_d) {
        struct tg_capture_extra x = { r->id, r->usage.prompt_tokens, r->usage.completion_tokens,
                                      r->dialect ? r->dialect->path : NULL };
        (void)tg_capture_record_ex(G.capture, r->ts_us, &r->req, &r->d, &x, &r->arena);
    }
}

/* Build the audit entry for the outcome in r and append it; the response is
 * sent when the entry is durable (or at once without an audit log). */
static void
finish(struct gw_req *r)
{
    struct tg_audit_event ev;
    struct tg_audit_text entry;
    int rc;

    if (r->finishing)
        return;
    r->finishing = true;
    account(r);
    if (G.audit == NULL) {
        send_response(r);
        req_free(r);
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
        tg_audit_request_hmac(G.audit, r->tenant->id, r->client_body, r->client_len, ev.request_hmac);
        ev.has_request_hmac = true;
        ev.request_len = r->client_len;
    }
    ev.endpoint = r->dialect ? r->dialect->path : NULL;
    ev.auth = r->auth;
    ev.stream = r->stream;
    ev.error = r->error;
    /* Rendered here as the bytes of the line (no tree): the writer thread
     * only adds the chain fields (docs/gateway.md: per-request CPU). */
    if (tg_audit_entry_text(&ev, &entry) != TG_OK) {
        rc = TG_ENOMEM;
    } else if (!G.audit_wait) {
        /* fsync: never promises no durability, so there is nothing to wait
         * for: enqueued (in order) is as good as it gets. */
        rc = tg_audit_append_text(G.audit, &entry, NULL, NULL);
        if (rc == TG_OK) {
            send_response(r);
            req_free(r);
            return;
        }
    } else if ((r->done_ev = event_new(r->L->base, -1, 0, on_audit_done_ev, r)) == NULL) {
        tg_audit_text_free(&entry);
        rc = TG_ENOMEM;
    } else {
        rc = tg_audit_append_text(G.audit, &entry, on_audit_done, r);
    }
    if (rc != TG_OK) {
        /* Nothing unaudited leaves: the upstream answer is dropped. */
        r->audit_rc = rc;
        on_audit_done_ev(-1, 0, r);
    }
}

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
    pthread_mutex_lock(&G.br_mu);
    if (ok)
        tg_breaker_on_success(&r->snap->br[mi], mono_ms());
    else
        tg_breaker_on_failure(&r->snap->br[mi], &r->p->breaker, mono_ms(), retry_after_ms);
    pthread_mutex_unlock(&G.br_mu);
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

/* An easy handle with the options every attempt shares already set.  Pooled
 * handles are not curl_easy_reset (~3k instructions): start_next sets every
 * option that varies between attempts, each time. */
static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud);
static size_t on_header(char *buf, size_t size, size_t nitems, void *ud);

static CURL *
easy_get(struct gw_loop *L)
{
    CURL *e;

    if (L->npool > 0)
        return L->pool[--L->npool];
    if ((e = curl_easy_init()) == NULL)
        return NULL;
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    return e;
}

static void
easy_put(struct gw_loop *L, CURL *e)
{
    curl_multi_remove_handle(L->multi, e);
    if (L->npool < GW_EASY_POOL && !atomic_load(&G.draining)) {
        L->pool[L->npool++] = e;   /* options kept; buffers and connection cache too */
    } else {
        curl_easy_cleanup(e);
    }
}

static void
attempt_cleanup(struct gw_req *r)
{
    if (r->easy != NULL) {
        easy_put(r->L, r->easy);
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
static int
client_emit(void *ud, const char *buf, size_t len)
{
    struct gw_req *r = ud;

    if (r->dialect == NULL || r->dialect->stream_new == NULL)
        return evbuffer_add(r->chunk, buf, len);
    if (r->ds == NULL && r->dialect->stream_new(&r->dctx, dialect_emit, r, &r->ds) != TG_OK)
        return -1;
    return r->dialect->stream_feed(r->ds, buf, len);
}

/* A whole canonical answer (chat.completion JSON, or for a stream the
 * whole canonical SSE text) into r->out in the client's dialect. */
static int
answer_out(struct gw_req *r, const char *canon, size_t len, struct tg_err *err)
{
    const struct tg_dialect_ops *d = r->dialect;

    if (r->stream && d != NULL && d->stream_new != NULL) {
        int rc = client_emit(r, canon, len);
        if (rc == 0)
            rc = d->stream_end(r->ds, true);
        d->stream_free(r->ds);
        r->ds = NULL;
        if (rc != 0) {
            evbuffer_drain(r->chunk, evbuffer_get_length(r->chunk));
            return tg_err_set(err, TG_EINVAL, "answer could not be translated");
        }
        evbuffer_add_buffer(r->out, r->chunk);
        return TG_OK;
    }
    if (!r->stream && d != NULL && d->encode_answer != NULL) {
        char *out = NULL;
        size_t olen = 0;
        int rc = d->encode_answer(&r->dctx, canon, len, &out, &olen, err);
        if (rc != TG_OK)
            return rc;
        rc = evbuffer_add(r->out, out, olen) == 0 ? TG_OK : TG_ENOMEM;
        free(out);
        return rc;
    }
    return evbuffer_add(r->out, canon, len) == 0 ? TG_OK : TG_ENOMEM;
}

/* Push what one feed produced to the client, starting the chunked reply on
 * the first byte: from here on there is no fallback. */
static bool
flush_client(struct gw_req *r)
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

/* The upstream's status is known: a 2xx stream starts relaying. */
static void
got_status(struct gw_req *r, long status)
{
    r->ustatus = status;
    r->status_checked = true;
    if (r->http.stream && status >= 200 && status < 300) {
        r->relaying = true;
        tg_prov_stream_init(&r->st, r->cur_prov->adapter, r->http.strip_usage, r->cur_m->id,
                            r->ts_us / 1000000, client_emit, r);
        r->st_init = true;
    }
}

static size_t
on_write(char *ptr, size_t size, size_t nmemb, void *ud)
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
        if (!flush_client(r))
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

static size_t
on_header(char *buf, size_t size, size_t nitems, void *ud)
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
static void
attempt_done(struct gw_req *r, CURLcode res)
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
    if (r->relaying) {
        (void)flush_client(r);
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
            } else if (!ok) {
                static const char msg[] = "data: {\"error\":{\"message\":\"upstream stream interrupted\","
                                          "\"type\":\"upstream_error\",\"code\":\"upstream_error\"}}\n\n";
                if (r->ev && evhttp_request_get_connection(r->ev))
                    evbuffer_add(r->chunk, msg, sizeof(msg) - 1);
            }
            attempt_cleanup(r);
            finish(r);
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
            if (conv == NULL && (r->dialect == NULL || r->dialect->encode_answer == NULL)) {
                evbuffer_add_buffer(r->out, r->ubuf);   /* relayed unchanged: no copy */
                arc = TG_OK;
            } else {
                arc = answer_out(r, conv ? conv : body, conv ? convlen : len, &err);
            }
            free(conv);
            if (arc == TG_OK) {
                o = TG_ATT_OK;
                r->usage = u;
                served_ok(r, m);
                r->ctype = "application/json";
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
        finish(r);
        return;
    }
    if (nx.try_next) {
        start_next(r);
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
            set_error(r, 502, "upstream_error", "upstream_auth", msg, NULL);
        } else {
            snprintf(msg, sizeof(msg), "upstream %s refused the request (HTTP %ld)", m->id, st);
            set_error(r, nx.status, "invalid_request_error", "upstream_rejected", msg, NULL);
        }
    }
    finish(r);
}

static void
on_stream_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct gw_req *r = arg;

    (void)fd;
    (void)what;
    if (r->easy != NULL || r->up_on)
        attempt_done(r, CURLE_OPERATION_TIMEDOUT);
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
    return on_write((char *)p, 1, n, ud) == n ? 0 : 1;
}

static void
up_on_done(void *ud, enum tg_up_result res)
{
    struct gw_req *r = ud;
    CURLcode c;

    r->L->activity++;
    r->up_on = false;
    switch (res) {   /* the outcomes attempt_done already knows, in curl's terms */
    case TG_UP_OK:           c = CURLE_OK; break;
    case TG_UP_CONNECT:      c = CURLE_COULDNT_CONNECT; break;
    case TG_UP_TIMEOUT:      c = CURLE_OPERATION_TIMEDOUT; break;
    case TG_UP_ABORTED:      c = CURLE_WRITE_ERROR; break;
    case TG_UP_BAD_RESPONSE: c = CURLE_WEIRD_SERVER_REPLY; break;
    default:                 c = CURLE_RECV_ERROR; break;
    }
    attempt_done(r, c);
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
    struct tg_gw_buf b = { 0 };
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
    tg_gw_buf_printf(&b, "every compliant candidate failed (%u attempt%s)", r->natt,
                     r->natt == 1 ? "" : "s");
    for (uint32_t i = 0; i < r->natt; i++) {
        tg_gw_buf_printf(&b, "%s %s: %s", i ? ";" : ":", r->att[i].model, r->att[i].outcome);
        if (r->att[i].http_status)
            tg_gw_buf_printf(&b, " (HTTP %d)", r->att[i].http_status);
        tg_gw_buf_printf(&b, " after %u ms", r->att[i].ms);
    }
    if (r->hit_deadline)
        tg_gw_buf_printf(&b, "; deadline of %u ms reached", r->d.deadline_ms);
    r->event_kind = "upstream_failure";
    set_error(r, status, "upstream_error", status == 504 ? "upstream_timeout" : "upstream_failed",
              b.oom ? "every compliant candidate failed" : b.p, NULL);
    tg_gw_buf_free(&b);
    finish(r);
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
static void
start_next(struct gw_req *r)
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
        pthread_mutex_lock(&G.br_mu);
        admitted = tg_breaker_admits(&r->snap->br[mi], now);
        if (admitted)
            tg_breaker_on_start(&r->snap->br[mi], now);
        pthread_mutex_unlock(&G.br_mu);
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
        r->stream_err = 0;
        evbuffer_drain(r->ubuf, evbuffer_get_length(r->ubuf));
        body = outgoing_body(r, c, &blen, &err);
        if (body == NULL) {
            set_error(r, 500, "server_error", "redaction_failed", "could not redact the request", NULL);
            finish(r);
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
            if (answer_out(r, res, rlen, &err) != TG_OK) {
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
            finish(r);
            return;
        }
        memset(&r->http, 0, sizeof(r->http));
        if ((r->req.kind == TG_REQUEST_EMBEDDING
                 ? tg_prov_embed_build(prov, m, body, blen, &r->arena, &r->http, &err)
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
        r->easy = easy_get(r->L);
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
            easy_put(r->L, r->easy);
            r->easy = NULL;
            continue;
        }
        curl_easy_setopt(r->easy, CURLOPT_URL, r->http.url);
        {
            /* Pooled handles keep their options: set both every time (a
             * NULL proxy is libcurl's default: the *_proxy environment). */
            const struct tg_provider *pv = &r->p->providers[m->provider];
            const char *ca = pv->ca_bundle != NULL ? pv->ca_bundle : G.cainfo;
            curl_easy_setopt(r->easy, CURLOPT_PROXY, pv->proxy);
            curl_easy_setopt(r->easy, CURLOPT_CAINFO, ca);
            curl_easy_setopt(r->easy, CURLOPT_PROXY_CAINFO, pv->ca_bundle != NULL ? pv->ca_bundle : G.proxy_cainfo);
            /* The bundle replaces the default trust: no CA directory either. */
            curl_easy_setopt(r->easy, CURLOPT_CAPATH, pv->ca_bundle != NULL ? NULL : G.capath);
            curl_easy_setopt(r->easy, CURLOPT_PROXY_CAPATH, pv->ca_bundle != NULL ? NULL : G.capath);
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
            attempt_done(r, CURLE_FAILED_INIT);
            return;
        }
        return;
    }
    all_failed(r);
}

/* ---- curl multi on libevent -------------------------------------------- */

static void check_multi(struct gw_loop *L);
static void tel_done(struct gw_loop *L, CURLcode res);

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
            tel_done(L, msg->data.result);
        else
            attempt_done((struct gw_req *)x, msg->data.result);
    }
}

/* ---- telemetry -------------------------------------------------------- */

static struct gw_xfer tel_xfer = { GW_XFER_TELEMETRY };

static void
tel_drop(struct gw_loop *L, uint32_t n)
{
    pthread_mutex_lock(&L->m.mu);
    L->m.telemetry_dropped += n;
    pthread_mutex_unlock(&L->m.mu);
}

static void
tel_flush(struct gw_loop *L)
{
    struct gw_tel *t = &L->tel;
    struct gw_snap *s;
    struct tg_gw_buf b = { 0 };
    uint32_t n;

    if (t->in_flight || t->n == 0)
        return;
    s = snap_get();
    if (s == NULL || !s->p->telemetry.enabled || s->p->telemetry.endpoint == NULL) {
        snap_put(s);
        return;
    }
    n = t->n;
    if (s->p->telemetry.batch_size > 0 && n > s->p->telemetry.batch_size)
        n = s->p->telemetry.batch_size;
    tg_gw_buf_printf(&b, "{\"source\":\"tollgate\",\"events\":[");
    for (uint32_t i = 0; i < n; i++)
        tg_gw_buf_printf(&b, "%s%s", i ? "," : "", t->ev[i]);
    tg_gw_buf_printf(&b, "]}");
    for (uint32_t i = 0; i < n; i++)
        free(t->ev[i]);
    memmove(t->ev, t->ev + n, (t->n - n) * sizeof(*t->ev));
    t->n -= n;
    if (b.oom || (t->easy = curl_easy_init()) == NULL) {
        tg_gw_buf_free(&b);
        tel_drop(L, n);
        snap_put(s);
        return;
    }
    t->body = b.p;
    t->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    t->hdrs = curl_slist_append(t->hdrs, "Expect:");
    curl_easy_setopt(t->easy, CURLOPT_URL, s->p->telemetry.endpoint);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b.len);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, &tel_xfer);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    t->sending = n;
    t->in_flight = true;
    snap_put(s);
    if (curl_multi_add_handle(L->multi, t->easy) != CURLM_OK)
        tel_done(L, CURLE_FAILED_INIT);
}

static void
tel_done(struct gw_loop *L, CURLcode res)
{
    struct gw_tel *t = &L->tel;
    long st = 0;

    if (t->easy != NULL) {
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &st);
        curl_multi_remove_handle(L->multi, t->easy);
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    curl_slist_free_all(t->hdrs);
    t->hdrs = NULL;
    free(t->body);
    t->body = NULL;
    t->in_flight = false;
    if (res == CURLE_OK && st >= 200 && st < 300) {
        pthread_mutex_lock(&L->m.mu);
        L->m.telemetry_sent += t->sending;
        pthread_mutex_unlock(&L->m.mu);
    } else {
        /* Telemetry is not the audit log: a failed batch is counted, not retried. */
        tel_drop(L, t->sending);
    }
    t->sending = 0;
}

static void
on_tel_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tel_flush(arg);
}

static void
tel_push(struct gw_loop *L, struct gw_req *r)
{
    struct gw_tel *t = &L->tel;
    struct tg_gw_buf b = { 0 };

    if (t->n >= GW_TEL_MAX_BUFFER) {
        tel_drop(L, 1);
        return;
    }
    if (t->n == t->cap) {
        uint32_t nc = t->cap ? t->cap * 2 : 64;
        char **nv = realloc(t->ev, nc * sizeof(*nv));
        if (nv == NULL) {
            tel_drop(L, 1);
            return;
        }
        t->ev = nv;
        t->cap = nc;
    }
    /* Ids, labels and numbers only: never prompt text. */
    tg_gw_buf_printf(&b, "{\"ts_us\":%lld,\"decision_id\":\"%s\",\"tenant\":", (long long)r->ts_us, r->id);
    json_escape(&b, r->tenant ? r->tenant->id : "");
    tg_gw_buf_printf(&b, ",\"category\":");
    json_escape(&b, r->have_req && r->req.category ? r->req.category : "");
    tg_gw_buf_printf(&b, ",\"feature\":");
    json_escape(&b, r->have_req && r->req.feature ? r->req.feature : "");
    tg_gw_buf_printf(&b, ",\"decision\":\"%s\",\"status\":%d,\"model\":",
                     r->have_d ? tg_verdict_name(r->d.verdict) : "none", r->status);
    json_escape(&b, r->served ? r->served->id : "");
    tg_gw_buf_printf(&b, ",\"attempts\":%u,\"latency_ms\":%lld,\"prompt_tokens\":%lld,"
                         "\"completion_tokens\":%lld,\"cost_usd\":%.8f,\"stream\":%s}",
                     r->natt, (long long)(mono_ms() - r->t0_ms), (long long)r->usage.prompt_tokens,
                     (long long)r->usage.completion_tokens, isnan(r->cost) ? 0.0 : r->cost,
                     r->stream ? "true" : "false");
    if (b.oom) {
        tg_gw_buf_free(&b);
        tel_drop(L, 1);
        return;
    }
    t->ev[t->n++] = b.p;
    if (r->p->telemetry.batch_size > 0 && t->n >= r->p->telemetry.batch_size)
        tel_flush(L);
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
    r->snap = snap_get();
    r->p = r->snap ? r->snap->p : NULL;
    L->inflight++;
    if (r->out == NULL || r->ubuf == NULL || r->chunk == NULL || r->snap == NULL) {
        r->ev = NULL;
        req_free(r);
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
    evhttp_send_reply(ev, code, reason_phrase(code), b);
    evbuffer_free(b);
}

/* The connection's bufferevent as made by on_new_bev (the header guard's
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
    set_error(r, 401, "invalid_request_error", "invalid_api_key", msg, NULL);
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
    bool have_cert = G.tls != NULL && tg_tls_peer_sha256(conn_bev(r->ev), fp);
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
    pthread_mutex_lock(&G.br_mu);
    if (now - w->window_ms >= 60000 || w->window_ms == 0) {
        w->window_ms = now;
        w->count = 0;
    }
    ok = w->count < lim;
    if (ok)
        w->count++;
    pthread_mutex_unlock(&G.br_mu);
    return ok;
}

static void
add_reason(struct tg_gw_buf *b, struct tg_gw_buf *rj, uint32_t *n, const struct tg_reason *rs,
           const char *model)
{
    const char *rule = rs->rule ? rs->rule : "?";

    tg_gw_buf_printf(b, "%s [%s] %s", *n ? ";" : ":", rule, rs->message ? rs->message : "");
    if (model != NULL)
        tg_gw_buf_printf(b, " (%s)", model);
    tg_gw_buf_printf(rj, "%s", *n ? "," : "");
    json_escape(rj, rule);
    (*n)++;
}

/* "request denied by policy: [rule] reason; ..." and the rule ids as a JSON
 * member.  Reasons carry rule ids and entity types, never matched text. */
static const char *
deny_message(struct gw_req *r, char **rules_json)
{
    struct tg_gw_buf b = { 0 }, rj = { 0 };
    const struct tg_decision *d = &r->d;
    uint32_t n = 0;
    char *msg;

    tg_gw_buf_printf(&b, "request denied by policy");
    tg_gw_buf_printf(&rj, "\"rules\":[");
    for (uint32_t i = 0; i < d->nreasons && n < 32; i++)
        add_reason(&b, &rj, &n, &d->reasons[i], NULL);
    if (d->nreasons == 0)
        for (uint32_t c = 0; c < d->ncands && n < 32; c++)
            for (uint32_t i = 0; i < d->cands[c].nreasons && n < 32; i++)
                add_reason(&b, &rj, &n, &d->cands[c].reasons[i], r->p->models[d->cands[c].model].id);
    if (n == 0)
        tg_gw_buf_printf(&b, ": [route.empty] no compliant candidate");
    tg_gw_buf_printf(&rj, "]");
    msg = b.oom ? NULL : tg_arena_strndup(&r->arena, b.p, b.len);
    *rules_json = rj.oom ? NULL : tg_arena_strndup(&r->arena, rj.p, rj.len);
    tg_gw_buf_free(&b);
    tg_gw_buf_free(&rj);
    return msg ? msg : "request denied by policy";
}

/* The scratch of this loop for policy p's PII database. */
static struct tg_pii_scratch *
scratch_for(struct gw_loop *L, const struct tg_policy *p)
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
    set_error(r, why->status, "invalid_request_error", why->code, why->msg, NULL);
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
        set_error(r, 413, "invalid_request_error", "request_too_large", msg, NULL);
        goto done;
    }
    if (!authenticate(r))
        goto done;
    if (!rate_ok(r)) {
        r->event_kind = "error";
        set_error(r, 429, "rate_limit_exceeded", "rate_limit_exceeded",
                  "tenant request limit per minute reached", NULL);
        evhttp_add_header(evhttp_request_get_output_headers(ev), "Retry-After", "60");
        goto done;
    }
    if (G.audit != NULL && !tg_audit_healthy(G.audit)) {
        /* Fail closed: no upstream call that cannot be recorded. */
        r->event_kind = "error";
        set_error(r, 503, "server_error", "audit_unavailable", "the audit log is unavailable", NULL);
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
        set_error(r, 400, "invalid_request_error", "invalid_request", err.msg, NULL);
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
        set_error(r, 400, "invalid_request_error", "invalid_request", "bad export control header", NULL);
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
            pthread_mutex_lock(&G.br_mu);
            for (uint32_t i = 0; i < rule->nchain; i++)
                open[rule->chain[i]] = !tg_breaker_admits(&r->snap->br[rule->chain[i]], now);
            pthread_mutex_unlock(&G.br_mu);
            bv.open = open;
            bv.n = r->p->nmodels;
            bvp = &bv;
        }
        rc = tg_preflight_decide(r->p, &r->req, bvp, scratch_for(L, r->p), &r->arena, &r->d, &err);
        if (rc != TG_OK)
            goto oom;
        r->have_d = true;
    }
    if ((r->d.verdict == TG_DENY && r->d.enforced) || r->d.nroute == 0) {
        char *rules = NULL;
        const char *msg = deny_message(r, &rules);
        set_error(r, 403, "policy_denied", "policy_denied", msg, rules);
        goto done;
    }
    r->deadline_ms = r->t0_ms + (r->d.deadline_ms ? r->d.deadline_ms : 60000);
    start_next(r);
    return;
oom:
    /* Fail closed. */
    set_error(r, 503, "server_error", "internal_error", "out of memory", NULL);
done:
    finish(r);
}

static void
handle_models(struct gw_loop *L, struct evhttp_request *ev)
{
    struct gw_req *r = req_new(L, ev);
    struct tg_gw_buf b = { 0 };
    const struct tg_policy *p;
    uint8_t *seen;
    uint32_t n = 0;

    if (r == NULL) {
        evhttp_send_error(ev, 503, "Service Unavailable");
        return;
    }
    p = r->p;
    if (!authenticate(r)) {
        finish(r);   /* audited like any unauthenticated call */
        return;
    }
    seen = tg_arena_calloc(&r->arena, p->nmodels ? p->nmodels : 1, 1);
    tg_gw_buf_printf(&b, "{\"object\":\"list\",\"data\":[");
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
            tg_gw_buf_printf(&b, "%s{\"id\":", n++ ? "," : "");
            json_escape(&b, m->id);
            tg_gw_buf_printf(&b, ",\"object\":\"model\",\"created\":0,\"owned_by\":");
            json_escape(&b, pv->id);
            tg_gw_buf_printf(&b, "}");
        }
    }
    tg_gw_buf_printf(&b, "]}");
    if (b.oom) {
        set_error(r, 503, "server_error", "internal_error", "out of memory", NULL);
    } else {
        evbuffer_add(r->out, b.p, b.len);
        r->status = 200;
        r->ctype = "application/json";
    }
    tg_gw_buf_free(&b);
    /* A listing is not a decision: answered without an audit entry. */
    account(r);
    send_response(r);
    req_free(r);
}

static void
handle_metrics(struct gw_loop *L, struct evhttp_request *ev)
{
    struct gw *g = L->gw;
    struct tg_gw_metrics **ms = calloc(g->nloops, sizeof(*ms));
    struct tg_gw_buf b = { 0 };
    struct gw_snap *s = snap_get();
    char lbl[200];

    if (ms == NULL) {
        evhttp_send_error(ev, 500, NULL);
        snap_put(s);
        return;
    }
    for (uint32_t i = 0; i < g->nloops; i++)
        ms[i] = &g->loops[i].m;
    tg_gw_metrics_render(ms, g->nloops, &b);
    free(ms);
    tg_gw_buf_printf(&b, "# HELP tollgate_breaker_state Circuit breaker per model: 0 closed, 1 open, 2 half-open.\n"
                         "# TYPE tollgate_breaker_state gauge\n");
    if (s != NULL) {
        pthread_mutex_lock(&G.br_mu);
        for (uint32_t i = 0; i < s->p->nmodels; i++) {
            tg_gw_label_escape(s->p->models[i].id, lbl, sizeof(lbl));
            tg_gw_buf_printf(&b, "tollgate_breaker_state{model=\"%s\"} %d\n", lbl, (int)s->br[i].state);
        }
        pthread_mutex_unlock(&G.br_mu);
    }
    tg_gw_buf_printf(&b, "# HELP tollgate_audit_queue_depth Audit entries waiting for the writer.\n"
                         "# TYPE tollgate_audit_queue_depth gauge\n"
                         "tollgate_audit_queue_depth %zu\n",
                     g->audit ? tg_audit_queue_depth(g->audit) : (size_t)0);
    tg_gw_buf_printf(&b, "# HELP tollgate_policy_reloads_total Configuration reloads, by result.\n"
                         "# TYPE tollgate_policy_reloads_total counter\n"
                         "tollgate_policy_reloads_total{result=\"ok\"} %llu\n"
                         "tollgate_policy_reloads_total{result=\"rejected\"} %llu\n",
                     (unsigned long long)atomic_load(&g->reloads_ok),
                     (unsigned long long)atomic_load(&g->reloads_failed));
    if (s != NULL) {
        tg_gw_label_escape(s->p->policy_version, lbl, sizeof(lbl));
        tg_gw_buf_printf(&b, "# HELP tollgate_policy_info The policy being served.\n"
                             "# TYPE tollgate_policy_info gauge\n"
                             "tollgate_policy_info{policy_version=\"%s\"} 1\n", lbl);
    }
    snap_put(s);
    if (b.oom)
        evhttp_send_error(ev, 500, NULL);
    else
        reply_plain(ev, 200, "text/plain; version=0.0.4", b.p, b.len);
    tg_gw_buf_free(&b);
}

/* A request the framing guard refused, outside the chat endpoint. */
static void
refused_plain(struct evhttp_request *ev)
{
    const struct tg_hg_reason *why =
        tg_hg_reason(evhttp_find_header(evhttp_request_get_input_headers(ev), TG_HG_MARKER));
    struct tg_gw_buf b = { 0 };
    char id[33];

    if (why == NULL)
        why = tg_hg_reason("field");
    tg_audit_new_id(id);
    tg_gw_buf_printf(&b, "{\"error\":{\"message\":");
    json_escape(&b, why->msg);
    tg_gw_buf_printf(&b, ",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"%s\"}}", why->code);
    evhttp_add_header(evhttp_request_get_output_headers(ev), "X-Tollgate-Decision-Id", id);
    evhttp_add_header(evhttp_request_get_output_headers(ev), "Connection", "close");
    if (b.oom)
        evhttp_send_error(ev, 500, NULL);
    else
        reply_plain(ev, why->status, "application/json", b.p, b.len);
    tg_gw_buf_free(&b);
}

static void
on_request(struct evhttp_request *ev, void *arg)
{
    struct gw_loop *L = arg;

    /* evhttp falls back to a plain socket when on_new_bev fails (out of
     * memory): on a TLS listener such a connection is never served (the
     * error closes it). */
    if (G.tls != NULL && !tg_tls_is_tls(conn_bev(ev))) {
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
        struct gw_snap *s = snap_get();
        bool ready = s != NULL && !atomic_load(&G.draining) && (G.audit == NULL || tg_audit_healthy(G.audit));
        snap_put(s);
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
    tel_flush(L);
    L->drain_timer = event_new(L->base, -1, EV_PERSIST, on_drain_check, L);
    if (L->drain_timer == NULL) {
        event_base_loopexit(L->base, NULL);
        return;
    }
    event_add(L->drain_timer, &tv);
}

static void *
loop_main(void *arg)
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

static struct bufferevent *on_new_bev(struct event_base *base, void *arg);

static int
loop_init(struct gw_loop *L, const struct sockaddr *sa, int salen, const struct tg_policy *p,
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
        return tg_err_set(err, TG_EIO, "cannot listen on %s: %s", G.listen, strerror(errno));
    L->bound = evhttp_bind_listener(L->http, lst);
    if (L->bound == NULL) {
        evconnlistener_free(lst);
        return tg_err_set(err, TG_EIO, "cannot bind http server on %s", G.listen);
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
    evhttp_set_gencb(L->http, on_request, L);
    evhttp_set_bevcb(L->http, on_new_bev, L);

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
        L->tel.timer = event_new(L->base, -1, EV_PERSIST, on_tel_timer, L);
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
struct gw_conn {
    struct tg_hg        hg;      /* first: the input filter's context */
    struct event_base  *base;
    struct bufferevent *f, *under;
    struct bufferevent *tls;     /* under, when it is TLS: one reference ours (tg_tls_bev_release) */
    bool                nodelay;   /* TLS: TCP_NODELAY set */
    struct event       *kick, *wr;
    bool                kick_pending, wr_pending;
    bool                in_kick;   /* conn_out may write: we are in a loop callback */
};

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
static void on_wr(evutil_socket_t fd, short what, void *arg);
static void kick(struct gw_conn *c);

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
static struct bufferevent *
on_new_bev(struct event_base *base, void *arg)
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
    under = G.tls != NULL ? tg_tls_bev_new(G.tls, base) : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
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
    if (G.tls != NULL) {
        bufferevent_incref(under);   /* conn_free's: conn_out writes through it until the end */
        c->tls = under;
    }
    return c->f;
}

static void
loop_free(struct gw_loop *L)
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

/* ---- reload, signals --------------------------------------------------- */

struct diag_first {
    char line[400];
    uint32_t errors;
};

static void
diag_collect(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    struct diag_first *d = ud;
    if (level != TG_DIAG_ERROR)
        return;
    if (d->errors++ == 0)
        snprintf(d->line, sizeof(d->line), "%s:%u:%u: %s", pos && pos->file ? pos->file : "?",
                 pos ? pos->line : 0, pos ? pos->col : 0, msg);
}

static bool
cfg_stat(struct timespec *mt, off_t *size)
{
    struct stat st;
    if (stat(G.opts.config_path, &st) != 0)
        return false;
    *mt = st.st_mtim;
    *size = st.st_size;
    return true;
}

static void
reload(const char *why)
{
    struct diag_first d = { .errors = 0 };
    struct tg_load_opts lo = { .diag = diag_collect, .diag_ud = &d };
    struct tg_policy *p = NULL;
    struct tg_err err = { 0 };
    struct gw_snap *s, *old;

    cfg_stat(&G.cfg_mtime, &G.cfg_size);
    if (tg_policy_load(G.opts.config_path, &lo, &p, &err) != TG_OK) {
        atomic_fetch_add(&G.reloads_failed, 1);
        fprintf(stderr, "tollgate: serve: reload (%s) rejected, keeping the running policy: %s\n", why,
                d.errors ? d.line : err.msg);
        return;
    }
    /* The listener's mode is fixed when it binds; its certificates are
     * not: a new TLS context serves new connections from here on. */
    if ((p->server.tls.cert != NULL) != (G.tls != NULL)) {
        tg_policy_unref(p);
        atomic_fetch_add(&G.reloads_failed, 1);
        fprintf(stderr, "tollgate: serve: reload (%s) rejected, keeping the running policy: server.tls cannot be "
                        "switched %s by a reload; restart tollgate\n", why, G.tls != NULL ? "off" : "on");
        return;
    }
    if (G.tls != NULL && tg_tls_reload(G.tls, &p->server.tls, &err) != TG_OK) {
        tg_policy_unref(p);
        atomic_fetch_add(&G.reloads_failed, 1);
        fprintf(stderr, "tollgate: serve: reload (%s) rejected, keeping the running policy and certificates: %s\n",
                why, err.msg);
        return;
    }
    s = snap_new(p, G.snap);
    if (s == NULL) {
        tg_policy_unref(p);
        atomic_fetch_add(&G.reloads_failed, 1);
        fprintf(stderr, "tollgate: serve: reload (%s) failed: out of memory\n", why);
        return;
    }
    pthread_mutex_lock(&G.snap_mu);
    old = G.snap;
    G.snap = s;
    pthread_mutex_unlock(&G.snap_mu);
    snap_put(old);   /* in-flight requests keep their own reference */
    atomic_fetch_add(&G.reloads_ok, 1);
    fprintf(stderr, "tollgate: serve: policy reloaded (%s): version %.12s\n", why, p->policy_version);
}

static void
on_sighup(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    reload("SIGHUP");
}

static void
on_watch(evutil_socket_t fd, short what, void *arg)
{
    struct timespec mt;
    off_t size;

    (void)fd;
    (void)what;
    (void)arg;
    if (!cfg_stat(&mt, &size))
        return;
    if (mt.tv_sec != G.cfg_mtime.tv_sec || mt.tv_nsec != G.cfg_mtime.tv_nsec || size != G.cfg_size)
        reload("file changed");
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (atomic_exchange(&G.draining, true))
        return;
    fprintf(stderr, "tollgate: serve: signal %d: draining\n", (int)fd);
    G.drain_deadline_ms = mono_ms() + GW_DRAIN_MAX_MS;
    for (uint32_t i = 0; i < G.nloops; i++)
        event_active(G.loops[i].drain_ev, 0, 0);
    event_base_loopexit(G.main_base, NULL);
}

/* ---- entry ------------------------------------------------------------ */

/* A handshake refused over the client certificate is an authentication
 * failure like a bad key: audited, with OpenSSL's verify reason only. */
static void
on_tls_refused(const char *reason)
{
    struct tg_audit_event ev;
    struct tg_audit_text text;
    struct gw_snap *s;
    char id[33], why[160];

    if (G.audit == NULL || atomic_load(&G.draining))
        return;
    s = snap_get();
    tg_audit_new_id(id);
    snprintf(why, sizeof(why), "client certificate refused: %s", reason);
    memset(&ev, 0, sizeof(ev));
    ev.event = "unauthenticated";
    ev.decision_id = id;
    ev.ts_us = wall_us();
    ev.policy = s ? s->p : NULL;
    ev.mode = s && s->p->mode == TG_MODE_AUDIT ? "audit" : "enforce";
    ev.cost_usd = NAN;
    ev.prompt_tokens = ev.completion_tokens = -1;
    ev.error = why;
    ev.auth = "mtls";
    if (tg_audit_entry_text(&ev, &text) == TG_OK)
        (void)tg_audit_append_text(G.audit, &text, NULL, NULL);
    snap_put(s);
}

/*
 * The loops listen with SO_REUSEPORT (one socket per loop), which would
 * also let a second tollgate bind the same port and take half the traffic
 * — into a second audit log, or the same one.  An abstract Unix socket
 * named after the address is bound first: only one process can hold the
 * name, the kernel frees it when the process dies, and it leaves no file.
 */
static int
listen_lock(const char *host, uint16_t port, struct tg_err *err)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), n;

    if (fd < 0)
        return tg_err_set(err, TG_EIO, "cannot create the listen lock: %s", strerror(errno));
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "tollgate/listen/%s:%u", host, port);
    if (bind(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) != 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            return tg_err_set(err, TG_EBUSY, "another tollgate already serves %s:%u (one gateway per address)",
                              host, port);
        return tg_err_set(err, TG_EIO, "cannot bind the listen lock: %s", strerror(e));
    }
    G.listen_lock = fd;
    return TG_OK;
}

/* mkdir -p the directory part of path (0700), so a fresh checkout's
 * var/audit.log just works.  Errors surface when the file is opened. */
static void
mkdir_parent(const char *path)
{
    char buf[4096];
    char *slash;

    if (path == NULL || snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return;
    slash = strrchr(buf, '/');
    if (slash == NULL || slash == buf)
        return;
    *slash = '\0';
    for (char *c = buf + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            (void)mkdir(buf, 0700);
            *c = '/';
        }
    (void)mkdir(buf, 0700);
}

int
tg_gw_serve(const struct tg_gw_opts *o, struct tg_err *err)
{
    struct diag_first d = { .errors = 0 };
    struct tg_load_opts lo = { .diag = diag_collect, .diag_ud = &d };
    struct tg_policy *p = NULL;
    struct sockaddr_storage ss;
    int salen = sizeof(ss);
    char host[256];
    uint16_t port;
    struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL, *ev_watch = NULL;
    uint32_t started = 0;
    int rc;

    memset(&G, 0, sizeof(G));
    G.listen_lock = -1;
    G.opts = *o;
    pthread_mutex_init(&G.snap_mu, NULL);
    pthread_mutex_init(&G.br_mu, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit (ulimit -f) must fail the audit write with EFBIG,
     * which the writer survives, not kill the gateway. */
    signal(SIGXFSZ, SIG_IGN);
    /* glibc consolidates its fastbins on every allocation of 1 KiB or more
     * (arena chunks, evbuffers, JSON); with per-request memory that was a
     * tenth of the CPU.  tcache still serves the small sizes. */
    (void)mallopt(M_MXFAST, 0);
    evthread_use_pthreads();   /* the audit writer wakes loops with event_active */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return tg_err_set(err, TG_EIO, "curl initialisation failed");
    {
        CURL *e = curl_easy_init();
        char *v = NULL;
        if (e != NULL && curl_easy_getinfo(e, CURLINFO_CAINFO, &v) == CURLE_OK && v != NULL)
            G.cainfo = strdup(v);
        v = NULL;
        if (e != NULL && curl_easy_getinfo(e, CURLINFO_CAPATH, &v) == CURLE_OK && v != NULL)
            G.capath = strdup(v);
        v = NULL;
        /* libcurl has no getter for the proxy's default; it is the same bundle. */
        G.proxy_cainfo = G.cainfo != NULL ? strdup(G.cainfo) : NULL;
        curl_easy_cleanup(e);
    }

    rc = tg_policy_load(o->config_path, &lo, &p, err);
    if (rc != TG_OK) {
        if (d.errors)
            tg_err_set(err, rc, "%s", d.line);
        goto out;
    }
    cfg_stat(&G.cfg_mtime, &G.cfg_size);
    snprintf(G.listen, sizeof(G.listen), "%s",
             o->listen ? o->listen : p->server.listen ? p->server.listen : "127.0.0.1:8080");
    if (tg_gw_parse_listen(G.listen, host, sizeof(host), &port) != TG_OK) {
        rc = tg_err_set(err, TG_EINVAL, "bad listen address '%s' (want HOST:PORT)", G.listen);
        goto out;
    }
    {
        char hp[300];
        snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
        if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &salen) != 0) {
            rc = tg_err_set(err, TG_EINVAL, "bad listen address '%s' (numeric host expected)", G.listen);
            goto out;
        }
    }
    if ((rc = listen_lock(host, port, err)) != TG_OK)
        goto out;
    if (p->audit.path == NULL && !o->no_audit) {
        rc = tg_err_set(err, TG_EPOLICY, "audit.path is not set: refusing to serve without an audit log "
                                         "(fail closed; --no-audit for demos)");
        goto out;
    }
    /* Certificates before any log is touched: a refused start leaves no trace. */
    if (p->server.tls.cert != NULL && (rc = tg_tls_open(&p->server.tls, on_tls_refused, &G.tls, err)) != TG_OK)
        goto out;
    mkdir_parent(p->audit.path);
    mkdir_parent(p->audit.signing_key);
    mkdir_parent(p->capture.path);
    /* The capture file is locked before the audit log is touched: a refused
     * start leaves no trace in a log it does not own. */
    if (p->capture.path != NULL && (rc = tg_capture_open(&p->capture, &G.capture, err)) != TG_OK)
        goto out;
    if (p->audit.path != NULL && (rc = tg_audit_open(&p->audit, &G.audit, err)) != TG_OK)
        goto out;
    G.audit_wait = p->audit.fsync != TG_FSYNC_NEVER;
    G.snap = snap_new(p, NULL);
    if (G.snap == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    p = NULL;

    G.nloops = o->threads ? o->threads : G.snap->p->server.threads;
    if (G.nloops == 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        G.nloops = nc > 0 ? (uint32_t)nc : 1;
    }
    if (G.nloops > 256)
        G.nloops = 256;
    G.loops = calloc(G.nloops, sizeof(*G.loops));
    if (G.loops == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < G.nloops; i++) {
        G.loops[i].gw = &G;
        G.loops[i].idx = i;
        if ((rc = loop_init(&G.loops[i], (struct sockaddr *)&ss, salen, G.snap->p, err)) != TG_OK)
            goto out;
    }
    G.main_base = event_base_new();
    if (G.main_base == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "cannot create event base");
        goto out;
    }
    ev_term = evsignal_new(G.main_base, SIGTERM, on_stop, NULL);
    ev_int = evsignal_new(G.main_base, SIGINT, on_stop, NULL);
    ev_hup = evsignal_new(G.main_base, SIGHUP, on_sighup, NULL);
    ev_watch = event_new(G.main_base, -1, EV_PERSIST, on_watch, NULL);
    if (!ev_term || !ev_int || !ev_hup || !ev_watch) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    event_add(ev_term, NULL);
    event_add(ev_int, NULL);
    event_add(ev_hup, NULL);
    {
        struct timeval one = { 1, 0 };
        event_add(ev_watch, &one);
    }
    for (; started < G.nloops; started++)
        if (pthread_create(&G.loops[started].th, NULL, loop_main, &G.loops[started]) != 0) {
            rc = tg_err_set(err, TG_EIO, "cannot start loop thread");
            on_stop(SIGTERM, 0, NULL);
            break;
        }
    if (started == G.nloops) {
        fprintf(stderr, "tollgate: serve: listening on %s%s (%u threads, policy %.12s%s)\n",
                G.tls != NULL ? "https://" : "", G.listen, G.nloops, G.snap->p->policy_version,
                G.audit ? "" : ", NO AUDIT LOG");
        rc = TG_OK;
        event_base_dispatch(G.main_base);
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(G.loops[i].th, NULL);
out:
    if (ev_term)
        event_free(ev_term);
    if (ev_int)
        event_free(ev_int);
    if (ev_hup)
        event_free(ev_hup);
    if (ev_watch)
        event_free(ev_watch);
    for (uint32_t i = 0; G.loops && i < G.nloops; i++)
        loop_free(&G.loops[i]);
    free(G.loops);
    if (G.main_base)
        event_base_free(G.main_base);
    if (G.audit != NULL) {
        struct tg_err cerr = { 0 };
        if (tg_audit_close(G.audit, &cerr) != TG_OK && rc == TG_OK)
            rc = tg_err_set(err, cerr.code, "closing the audit log: %s", cerr.msg);
    }
    tg_capture_close(G.capture);
    tg_tls_close(G.tls);
    G.tls = NULL;
    free(G.cainfo);
    free(G.proxy_cainfo);
    free(G.capath);
    if (G.listen_lock >= 0)
        close(G.listen_lock);
    snap_put(G.snap);
    if (p)
        tg_policy_unref(p);
    curl_global_cleanup();
    pthread_mutex_destroy(&G.snap_mu);
    pthread_mutex_destroy(&G.br_mu);
    return rc;
}
