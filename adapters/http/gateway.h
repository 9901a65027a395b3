/*
 * gateway.h — `tollgate serve`: the egress gateway (docs/interface.md §5).
 *
 * N event-loop threads (libevent evhttp, SO_REUSEPORT listeners on one
 * port), upstream calls through one libcurl multi handle per loop driven by
 * the same loop (multi-socket API), a shared reference-counted policy
 * snapshot swapped on reload (SIGHUP, or the config file's mtime polled
 * every second), per-model circuit breakers shared by all loops under one
 * mutex, per-thread metrics summed on read.  docs/gateway.md describes the
 * endpoints, headers, metrics and configuration keys.
 */
#ifndef TG_GATEWAY_H
#define TG_GATEWAY_H

#include "engine/tg.h"

struct tg_gw_opts {
    const char *config_path;
    const char *listen;     /* "HOST:PORT"; NULL: server.listen, else 127.0.0.1:8080 */
    uint32_t    threads;    /* 0: server.threads, else one per core */
    bool        no_audit;   /* demo only: serve without an audit log (else fail closed) */
};

/*
 * Load the policy, open the audit log, bind, serve until SIGTERM/SIGINT,
 * then drain: stop accepting, finish in-flight requests (30 s at most),
 * close the audit log with its final seal.  Returns TG_OK after a clean
 * drain; a negative code with err filled when it could not start.
 */
int tg_gw_serve(const struct tg_gw_opts *o, struct tg_err *err);

/* "HOST:PORT", "[v6]:PORT", "localhost:PORT" -> host (numeric) and port.
 * TG_EINVAL when the port is missing or out of range. */
int tg_gw_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port);

/* The token of an "Authorization: Bearer <token>" value (scheme caseless,
 * surrounding blanks dropped); false when absent, empty or another scheme. */
bool tg_gw_bearer(const char *authz, const char **tok, size_t *len);

#endif /* TG_GATEWAY_H */
