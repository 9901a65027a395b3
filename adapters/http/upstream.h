/*
 * upstream.h — the in-loop plain-HTTP/1.1 client for the upstream hop.
 *
 * Why not libcurl for everything: on a plain-HTTP hop to a sidecar, an
 * egress proxy or a local model server, libcurl's per-transfer work (URL
 * parse, request formatting, a poll() liveness check per reused
 * connection, socket-callback churn on the loop) cost more than the rest of
 * the request (docs/gateway.md has the profile).  This client does one
 * sendmsg() and reads straight into a fixed buffer on the loop that owns it.
 * It serves `http://` URLs whose host is an IP literal or `localhost` (no
 * DNS: a blocking resolver must not run on the loop); TLS and host names
 * stay with libcurl (server.c picks, tg_up_eligible()).
 *
 * Two layers:
 *   tg_h1r_*  a pure, incremental HTTP/1.1 response parser (status line,
 *             headers, Content-Length / chunked / read-until-close bodies,
 *             1xx skipped); no I/O, fuzzed (tests/fuzz/fuzz_h1resp.c).
 *   tg_up_*   connections and requests on one event_base: non-blocking
 *             connect, keep-alive pool with close detection while idle, one
 *             retry on a fresh connection when a reused one turns out dead
 *             before any response byte, per-request connect and total
 *             timeouts.  Single-threaded: everything on the pool's loop.
 */
#ifndef TG_UPSTREAM_H
#define TG_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>
#include <event2/event_struct.h>

/* ---- response parser ----------------------------------------------------- */

#define TG_H1R_LINE_MAX    8192u      /* one status/header/chunk-size line */
#define TG_H1R_HEAD_MAX    65536u     /* the whole header section */

enum tg_h1r_rc {
    TG_H1R_MORE  = 0,   /* consumed everything, message not complete */
    TG_H1R_DONE  = 1,   /* message complete; *used says how far */
    TG_H1R_ERROR = -1,  /* not HTTP/1.x or bad framing: the connection is unusable */
    TG_H1R_ABORT = -2,  /* the body callback asked to stop */
};

struct tg_h1r_cbs {
    /* Final (non-1xx) status and headers parsed; retry_after is the raw
     * Retry-After value or NULL.  Non-zero return aborts. */
    int (*on_head)(void *ud, int status, const char *retry_after);
    /* Decoded body bytes (chunk framing removed).  Non-zero return aborts. */
    int (*on_body)(void *ud, const char *p, size_t n);
};

struct tg_h1r {
    int      state;
    int      status;
    bool     http10;
    bool     close;          /* the connection cannot be reused after this message */
    bool     keep_alive;     /* HTTP/1.0 "Connection: keep-alive" */
    bool     chunked;
    bool     have_len;
    bool     until_close;    /* body ends at EOF */
    uint64_t remaining;      /* body (or chunk) bytes still expected */
    size_t   head_bytes;
    bool     any;            /* a byte of the response arrived */
    size_t   llen;
    char     retry_after[64];
    char     line[TG_H1R_LINE_MAX];
};

void tg_h1r_init(struct tg_h1r *p);
/* Feed bytes; *used = bytes consumed (all of them unless DONE/ERROR/ABORT). */
int  tg_h1r_feed(struct tg_h1r *p, const char *buf, size_t len, size_t *used,
                 const struct tg_h1r_cbs *cb, void *ud);
/* The peer closed: DONE when the body was read-until-close, ERROR otherwise. */
int  tg_h1r_eof(struct tg_h1r *p);
/* Nothing of the response has arrived yet (for the stale keep-alive retry). */
bool tg_h1r_pristine(const struct tg_h1r *p);

/* ---- client ---------------------------------------------------------------- */

enum tg_up_result {
    TG_UP_OK = 0,
    TG_UP_CONNECT,      /* could not connect (refused, unreachable) */
    TG_UP_TIMEOUT,      /* the connect or the total timeout passed (as libcurl's
                           CURLE_OPERATION_TIMEDOUT: the gateway records "timeout") */
    TG_UP_RESET,        /* the connection broke mid-exchange */
    TG_UP_BAD_RESPONSE, /* not a valid HTTP/1.x response */
    TG_UP_ABORTED,      /* a callback asked to stop */
};

struct tg_up_pool;
struct tg_up_conn;

/* Callbacks run on the pool's loop.  After on_done the request is over and
 * its struct may be reused or freed (even from inside on_done). */
struct tg_up_cbs {
    int  (*on_head)(void *ud, int status, const char *retry_after);
    int  (*on_body)(void *ud, const char *p, size_t n);
    void (*on_done)(void *ud, enum tg_up_result res);
};

/* A request; caller-owned storage (e.g. inside the caller's request), whose
 * fields are private to upstream.c.  Valid from tg_up_start until on_done or
 * tg_up_cancel. */
struct tg_up_req {
    struct tg_up_pool *pool;
    struct tg_up_conn *conn;
    const struct tg_up_cbs *cbs;
    void       *ud;
    char       *head;          /* request line + headers, malloc'd */
    size_t      head_len;
    const char *body;          /* caller's, kept alive until done */
    size_t      body_len;
    size_t      sent;
    uint32_t    connect_ms;
    int64_t     deadline_ms;   /* monotonic; 0 = none */
    bool        retried;
    bool        active;
    struct tg_h1r *parser;     /* the connection's */
    struct event timer;        /* connect/total timeout */
    bool        timer_set;
};

/* True when `url` can take this client: http:// with an IP literal or
 * localhost host (which means 127.0.0.1 here; write [::1] for IPv6). */
bool tg_up_eligible(const char *url);

int  tg_up_pool_new(struct event_base *base, struct tg_up_pool **out);
/* Closes every connection; requests still active are dropped without callbacks. */
void tg_up_pool_free(struct tg_up_pool *pool);
/* Idle connections kept (for tests and metrics). */
uint32_t tg_up_pool_idle(const struct tg_up_pool *pool);

/*
 * POST `body` to `url` with `headers` ("Name: value" each, no CR/LF).
 * connect_ms bounds the connect; total_ms (0 = none) the whole exchange.
 * Returns 0 when started (callbacks follow, never from inside this call),
 * -1 when it cannot start (bad URL or out of memory; no callbacks).
 */
int  tg_up_start(struct tg_up_pool *pool, struct tg_up_req *rq, const char *url,
                 const char *const *headers, uint32_t nheaders, const char *body, size_t body_len,
                 uint32_t connect_ms, uint32_t total_ms, const struct tg_up_cbs *cbs, void *ud);
/* Stop an active request: its connection is closed, no callbacks follow.
 * Not from inside on_head/on_body (return non-zero there to stop). */
void tg_up_cancel(struct tg_up_req *rq);

#endif /* TG_UPSTREAM_H */
