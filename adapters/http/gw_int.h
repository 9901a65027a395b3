/*
 * gw_int.h — what the gateway's files share (adapters/http/gw_*.c and
 * server.c): the gateway's state, its loops and the per-request state
 * machine, and the functions one file calls in another.  Not for use
 * outside adapters/http/.
 *
 * The gateway: evhttp loops, the request state machine for every door,
 * libcurl multi on the same loops, breakers, reload, drain.
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
#ifndef TG_GW_INT_H
#define TG_GW_INT_H

#include "adapters/http/gateway.h"
#include "adapters/http/hdrguard.h"
#include "adapters/http/metrics.h"
#include "adapters/http/upstream.h"
#include "adapters/providers/provider.h"
#include "adapters/capture/capture.h"
#include "adapters/http/tls.h"
#include "adapters/http/respguard.h"
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
    CURL               *pool[GW_EASY_POOL];  /* idle easy handles, shared options set (tg__gw_easy_get) */
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
    bool                verbatim;          /* this attempt sends the client's Messages body to an
                                              Anthropic provider as it is, and relays the answer
                                              (whole or streamed) as the provider sent it */
    struct tg_prov_stream st;
    bool                st_init;
    struct tg_outguard *og;                /* output guard of this attempt's answer; NULL: off (gw_guard.c) */
    struct tg_rg_stream *rgs;              /* its stream filter (canonical SSE in, guarded out) */
    bool                og_blocked;        /* the guard denied the answer (policy mode enforce) */
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

/* The first configuration error of a (re)load, for one log line. */
struct diag_first {
    char line[400];
    uint32_t errors;
};

extern struct gw tg__gw;   /* the one gateway of this process (server.c) */

/* ---- clocks ---- */


/* ---- small helpers ------------------------------------------------------- */

static inline int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static inline int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


static inline int64_t
wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---- across the gateway's files ---- */

void tg__gw_account(struct gw_req *r);
int tg__gw_answer_out(struct gw_req *r, const char *canon, size_t len, struct tg_err *err);
/* the output guard (gw_guard.c) */
bool tg__gw_guard_on(const struct gw_req *r);
void tg__gw_guard_begin(struct gw_req *r, bool stream);
int  tg__gw_canon_emit(void *ud, const char *buf, size_t len);
int  tg__gw_guard_answer(struct gw_req *r, const char *canon, size_t len, char **out, size_t *outlen,
                         struct tg_err *err);
void tg__gw_guard_blocked(struct gw_req *r);
void tg__gw_guard_end_stream(struct gw_req *r);
void tg__gw_guard_free(struct gw_req *r);
void tg__gw_attempt_done(struct gw_req *r, CURLcode res);
bool tg__gw_cfg_stat(struct timespec *mt, off_t *size);
int tg__gw_client_emit(void *ud, const char *buf, size_t len);
void tg__gw_diag_collect(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg);
CURL * tg__gw_easy_get(struct gw_loop *L);
void tg__gw_easy_put(struct gw_loop *L, CURL *e);
void tg__gw_finish(struct gw_req *r);
bool tg__gw_flush_client(struct gw_req *r);
void tg__gw_json_escape(struct tg_jtext *b, const char *s);
void tg__gw_loop_free(struct gw_loop *L);
int tg__gw_loop_init(struct gw_loop *L, const struct sockaddr *sa, int salen, const struct tg_policy *p,           struct tg_err *err);
void * tg__gw_loop_main(void *arg);
size_t tg__gw_on_header(char *buf, size_t size, size_t nitems, void *ud);
struct bufferevent * tg__gw_on_new_bev(struct event_base *base, void *arg);
void tg__gw_on_request(struct evhttp_request *ev, void *arg);
void tg__gw_on_sighup(evutil_socket_t fd, short what, void *arg);
void tg__gw_on_tel_timer(evutil_socket_t fd, short what, void *arg);
void tg__gw_on_watch(evutil_socket_t fd, short what, void *arg);
size_t tg__gw_on_write(char *ptr, size_t size, size_t nmemb, void *ud);
const char * tg__gw_reason_phrase(int code);
void tg__gw_req_free(struct gw_req *r);
struct tg_pii_scratch * tg__gw_scratch_for(struct gw_loop *L, const struct tg_policy *p);
void tg__gw_send_response(struct gw_req *r);
void tg__gw_set_error(struct gw_req *r, int status, const char *type, const char *code, const char *msg,           const char *extra);
struct gw_snap * tg__gw_snap_get(void);
struct gw_snap * tg__gw_snap_new(struct tg_policy *p, const struct gw_snap *old);
void tg__gw_snap_put(struct gw_snap *s);
void tg__gw_start_next(struct gw_req *r);
void tg__gw_tel_done(struct gw_loop *L, CURLcode res);
void tg__gw_tel_flush(struct gw_loop *L);
void tg__gw_tel_push(struct gw_loop *L, struct gw_req *r);

#endif /* TG_GW_INT_H */
