/*
 * hdrguard.h — a strict HTTP/1.1 request framing guard in front of
 * libevent's HTTP parser (evhttp).  docs/http.md says what it accepts.
 *
 * Why: evhttp 2.1 is lenient where RFC 9112 says a server MUST reject and
 * close: it takes "+5" or "5, 6" as a Content-Length, "0x5" or "-0" as a
 * chunk size, whitespace before a header name's colon, bare-LF line ends,
 * any Transfer-Encoding with "chunked" somewhere in it, and it answers its
 * own errors in HTML and keeps reading the connection afterwards.  Where a
 * front proxy and evhttp frame a request differently, a body becomes a
 * second request (smuggling).
 *
 * The guard is a bufferevent filter on each connection's input.  It frames
 * every request itself (request line, header block, Content-Length or
 * chunked body, trailers) and hands evhttp only what is strictly valid:
 * the request line and header block byte for byte, a Content-Length body
 * byte for byte as it arrives.  A chunked request is held whole (its body
 * is bounded by TG_MAX_WIRE_BODY_BYTES, and the gateway buffers every body
 * anyway) and passed on once valid with its header block minus
 * Transfer-Encoding and Expect, plus the Content-Length of the decoded
 * body: evhttp never parses a chunk (it takes "5;a=b" for a broken size,
 * "0x5" for five) nor a trailer (it ignores them, and reads them as the
 * next request).  Holding also means a bad chunk is refused like a bad
 * header, before evhttp saw anything of the request ("100 Continue" and
 * the read timeout go through the hook below for it).
 *
 * On the first violation the guard stops
 * reading for good (the rest of the connection is dropped, so nothing after
 * a bad request is ever served) and hands evhttp a synthetic request that
 * carries the reason in the TG_HG_MARKER header and "Connection: close":
 *  - in the request line or header block: the request line (or a fixed one
 *    if that was the bad part), the client's Authorization, X-Task-Category
 *    and X-Feature-Id lines (so a chat request's refusal is attributed and
 *    audited), the marker, "Connection: close", "Content-Length: 0".  A bad
 *    chunked body is refused the same way (nothing of it was passed on).
 * The gateway answers a request carrying the marker with the reason's
 * status and an OpenAI-shaped JSON error, and evhttp closes the connection.
 * A client cannot send the marker itself: that is a violation too.
 */
#ifndef TG_HDRGUARD_H
#define TG_HDRGUARD_H

#include "engine/tg.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#define TG_HG_MARKER "X-Tollgate-Rejected"

struct tg_hg {
    int      st;          /* internal state */
    uint64_t left;        /* body or chunk bytes still to pass */
    uint64_t body;        /* chunked body bytes so far */
    size_t   off;         /* header block (or trailer) bytes checked so far */
    size_t   t0, tauth;   /* request-target offset; scheme+authority length (absolute-form) */
    uint32_t lines, blank;
    uint32_t nhost, ncl, nte, nchunked, ncodings;
    uint64_t cl;
    int      why;         /* first violation in the header block, 0 if none */
    bool     http10, head, te_last_chunked, te_unknown, te_exact;
    bool     expect;      /* Expect: 100-continue */
    struct evbuffer *hold, *buf;   /* a chunked request's header lines and body */
    /* Set by the owner after tg_hg_init: called with TG_HG_PROGRESS when
     * bytes of a held request arrive (evhttp sees none: its read timeout
     * must not take a body in progress for an idle client), and with
     * TG_HG_CONTINUE when a held request wants "100 Continue" now. */
    void   (*hook)(void *arg, int what);
    void    *hook_arg;
};

enum { TG_HG_PROGRESS = 0, TG_HG_CONTINUE };

/* Why a request was refused at the door. */
struct tg_hg_reason {
    const char *name;     /* the marker's value */
    int         status;   /* HTTP status to answer */
    const char *code;     /* OpenAI error "code" */
    const char *msg;      /* human message (no request bytes in it) */
};

/* Fresh state for a new connection; tg_hg_free releases what it holds. */
void tg_hg_init(struct tg_hg *g);
void tg_hg_free(struct tg_hg *g);

/* The reason a marker value names; NULL when it names none. */
const struct tg_hg_reason *tg_hg_reason(const char *marker_value);

/* A bufferevent_filter_cb (input side).  ctx is a struct tg_hg. */
enum bufferevent_filter_result tg_hg_filter(struct evbuffer *src, struct evbuffer *dst,
                                            ev_ssize_t dst_limit, enum bufferevent_flush_mode mode,
                                            void *ctx);

/* The output side: pass-through.  (libevent 2.1.12 with evthread_use_pthreads
 * never flushes a filter's output when no output filter is given.) */
enum bufferevent_filter_result tg_hg_pass(struct evbuffer *src, struct evbuffer *dst,
                                          ev_ssize_t dst_limit, enum bufferevent_flush_mode mode,
                                          void *ctx);

#endif /* TG_HDRGUARD_H */
