/*
 * next.h — what happens after an upstream attempt: fall back or stop, and
 * what the attempt says about the provider's health (its breaker).
 *
 * The gateway executes attempts and reports each outcome; this pure
 * function decides.  Keeping the decision here means a new door or a new
 * transport cannot quietly change which failures fall back.
 */
#ifndef TG_NEXT_H
#define TG_NEXT_H

#include "engine/tg.h"

enum tg_attempt_outcome {
    TG_ATT_OK            = 0,   /* a usable answer */
    TG_ATT_TIMEOUT       = 1,   /* the attempt's own timeout */
    TG_ATT_DEADLINE      = 2,   /* the request's overall deadline cut the attempt short */
    TG_ATT_CONNECT       = 3,   /* no connection: refused, unresolvable, TLS failed */
    TG_ATT_RESET         = 4,   /* the connection broke */
    TG_ATT_HTTP_429      = 5,   /* the provider is rate limiting */
    TG_ATT_HTTP_5XX      = 6,
    TG_ATT_HTTP_4XX      = 7,   /* the provider refused this request (it would refuse it anywhere) */
    TG_ATT_UPSTREAM_AUTH = 8,   /* 401/403/407: the provider refused tollgate's own credentials */
    TG_ATT_BAD_RESPONSE  = 9,   /* 2xx that is not a valid answer, or a broken stream */
    TG_ATT_BUILD_FAILED  = 10,  /* tollgate could not build the upstream request */
    TG_ATT_BREAKER_OPEN  = 11,  /* not tried: the model's breaker is open */
    TG_ATT_CLIENT_GONE   = 12,  /* the client hung up */
};

enum tg_breaker_effect {
    TG_BREAKER_NO_CHANGE = 0,
    TG_BREAKER_SUCCESS   = 1,
    TG_BREAKER_FAILURE   = 2,
};

struct tg_next {
    bool    try_next;              /* try the next candidate of the route */
    enum tg_breaker_effect breaker;
    int64_t hold_open_ms;          /* with FAILURE: keep the breaker open at least this long; -1 none */
    int     status;                /* when the request ends here unanswered: the client's status
                                      (502 upstream auth, the provider's 4xx, 499 client gone); 0 otherwise */
};

/*
 * Decide after an attempt.  client_started: bytes of this attempt already
 * reached the client (a stream), so nothing can fall back any more.
 * upstream_status: the provider's HTTP status (0 if none).
 * retry_after_ms: the provider's Retry-After, -1 if none.
 */
void tg_next_after(enum tg_attempt_outcome o, bool client_started, int upstream_status,
                   int64_t retry_after_ms, struct tg_next *out);

/* The outcome of a completed HTTP exchange by status (2xx -> OK). */
enum tg_attempt_outcome tg_next_outcome_of_status(int status);

/* The audit name: "ok", "timeout", "deadline", "connect", "reset", "http_429",
 * "http_5xx", "http_4xx" (refusals, upstream auth included), "bad_response",
 * "breaker_open", "client_gone". */
const char *tg_next_outcome_name(enum tg_attempt_outcome o);

#endif /* TG_NEXT_H */
