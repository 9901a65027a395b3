/*
 * hdrguard.h — an input filter in front of libevent's HTTP parser that
 * neutralises header lines RFC 9112 forbids: a bare CR (§2.2), obs-fold
 * line folding (§5.2) and NUL bytes.
 *
 * Why: libevent 2.1 (evhttp_parse_headers_) refuses a header value with a
 * bare CR by failing the connection: it writes its own HTML 400 and closes
 * at once, with the rest of the request still unread, so the kernel answers
 * the client's remaining bytes with a RST and the client usually sees no
 * answer at all.  obs-fold it silently joins into the previous value.
 * Instead each such line is replaced by the marker header TG_HG_MARKER, the
 * request is read in full, and the gateway answers a clear 400 (OpenAI error
 * body, audited) when it sees the marker.
 *
 * The filter follows request framing (request line, header lines, a
 * Content-Length body) so it never touches body bytes; anything it cannot
 * frame with certainty (Transfer-Encoding, a repeated or odd
 * Content-Length, a line over 80 KiB) switches it to pass-through for the
 * rest of the connection, leaving those cases to libevent's own checks.
 */
#ifndef TG_HDRGUARD_H
#define TG_HDRGUARD_H

#include "engine/tg.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#define TG_HG_MARKER "X-Tollgate-Malformed-Header"

struct tg_hg {
    int      st;          /* internal state */
    uint64_t left;        /* body bytes still to pass */
    uint32_t ncl;         /* Content-Length lines in this header block */
    uint64_t cl;
    bool     cl_bad, te, body_method;
};

/* Fresh state for a new connection. */
void tg_hg_init(struct tg_hg *g);

/* A bufferevent_filter_cb (input side): moves src to dst line by line,
 * replacing forbidden header lines with "TG_HG_MARKER: 1\r\n".  ctx is a
 * struct tg_hg. */
enum bufferevent_filter_result tg_hg_filter(struct evbuffer *src, struct evbuffer *dst,
                                            ev_ssize_t dst_limit, enum bufferevent_flush_mode mode,
                                            void *ctx);

/* The output side: pass-through.  (libevent 2.1.12 with evthread_use_pthreads
 * never flushes a filter's output when no output filter is given.) */
enum bufferevent_filter_result tg_hg_pass(struct evbuffer *src, struct evbuffer *dst,
                                          ev_ssize_t dst_limit, enum bufferevent_flush_mode mode,
                                          void *ctx);

#endif /* TG_HDRGUARD_H */
