/*
 * tls.h — TLS on the gateway's listener (docs/tls.md, docs/interface.md §13).
 *
 * One server context (OpenSSL SSL_CTX) built from server.tls: certificate
 * chain and key, TLS 1.2 or 1.3 at least, forward-secret AEAD ciphers,
 * ALPN http/1.1, session tickets and a session cache, and, with client_ca,
 * client certificates required and verified.  A reload builds a new context
 * and swaps it in: connections already open keep the one they started with
 * (each SSL holds a reference), new connections get the new one.
 *
 * Per connection the gateway stacks its header-guard filter over the TLS
 * bufferevent made here (server.c on_new_bev).
 */
#ifndef TG_HTTP_TLS_H
#define TG_HTTP_TLS_H

#include "engine/tg.h"
#include "policy/policy.h"

struct bufferevent;
struct evbuffer;
struct event_base;
struct tg_tls;

/* Called on the loop thread when a handshake is refused over the client's
 * certificate (none, unverifiable, expired, ...).  `reason` is a short
 * fixed phrase from OpenSSL's verify result, never the certificate's
 * subject or any other personal data. */
typedef void (*tg_tls_refused_fn)(const char *reason);

/*
 * Build the server context from cfg (cfg->cert must be set).  Refuses a key
 * file readable or writable by group or others, an unreadable or
 * mismatching certificate/key pair, an unusable client_ca.  On failure err
 * holds one line and *out is untouched.
 */
int  tg_tls_open(const struct tg_tls_cfg *cfg, tg_tls_refused_fn refused, struct tg_tls **out,
                 struct tg_err *err);

/* Build a context from cfg and swap it in for new connections; on failure
 * the running context stays and err says why. Any thread. */
int  tg_tls_reload(struct tg_tls *t, const struct tg_tls_cfg *cfg, struct tg_err *err);

/* Free (after every loop has stopped). NULL is a no-op. */
void tg_tls_close(struct tg_tls *t);

/* A server-side TLS bufferevent for a connection evhttp is about to accept
 * (no socket yet: evhttp sets it), owning its SSL; NULL on out of memory. */
struct bufferevent *tg_tls_bev_new(struct tg_tls *t, struct event_base *base);

/* Called once the connection's filter above `bev` is gone, with the one
 * reference on bev that the caller took: close_notify, then free. */
void tg_tls_bev_release(struct bufferevent *bev);

/*
 * Encrypt src and write it to the socket now, outside the bufferevent's own
 * write cycle (whose queue must be empty), draining what was written:
 * 1 all of it is in the kernel; 0 the socket is full — call again when it
 * is writable, with src holding at least the same bytes (OpenSSL's retry
 * rule); -1 not possible (handshake unfinished, connection failed): hand
 * src to the bufferevent, which reports the failure.
 */
int tg_tls_write_from(struct bufferevent *bev, struct evbuffer *src);

/* Is bev (or the bufferevent directly under it) a TLS one? */
bool tg_tls_is_tls(struct bufferevent *bev);

/* SHA-256 of the DER client certificate of the connection behind `bev`
 * (the TLS bufferevent or a filter directly over it).  false: not TLS, or
 * no certificate. */
bool tg_tls_peer_sha256(struct bufferevent *bev, uint8_t out[32]);

#endif /* TG_HTTP_TLS_H */
