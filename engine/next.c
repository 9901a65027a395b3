/*
 * next.c — fallback and breaker effects of an attempt's outcome (next.h).
 */
#include "engine/next.h"

void
tg_next_after(enum tg_attempt_outcome o, bool client_started, int upstream_status,
              int64_t retry_after_ms, struct tg_next *out)
{
    out->try_next = false;
    out->breaker = TG_BREAKER_NO_CHANGE;
    out->hold_open_ms = -1;
    out->status = 0;
    switch (o) {
    case TG_ATT_OK:
        out->breaker = TG_BREAKER_SUCCESS;
        return;
    case TG_ATT_TIMEOUT:
    case TG_ATT_DEADLINE:
    case TG_ATT_CONNECT:
    case TG_ATT_RESET:
    case TG_ATT_HTTP_5XX:
    case TG_ATT_BAD_RESPONSE:
        /* The provider failed: another one may not. */
        out->breaker = TG_BREAKER_FAILURE;
        out->try_next = !client_started;
        return;
    case TG_ATT_HTTP_429:
        /* A 429's Retry-After keeps the breaker open that long. */
        out->breaker = TG_BREAKER_FAILURE;
        out->hold_open_ms = retry_after_ms;
        out->try_next = !client_started;
        return;
    case TG_ATT_HTTP_4XX:
        /* The provider is healthy and refused this request: the next one
         * would refuse it too, and the client should see why. */
        out->breaker = TG_BREAKER_SUCCESS;
        out->status = upstream_status >= 400 && upstream_status < 500 ? upstream_status : 400;
        return;
    case TG_ATT_UPSTREAM_AUTH:
        /* Our credentials, not the client's request: a gateway error. */
        out->breaker = TG_BREAKER_SUCCESS;
        out->status = 502;
        return;
    case TG_ATT_BUILD_FAILED:
        /* Our problem, not the provider's; another provider's wire may work. */
        out->breaker = TG_BREAKER_SUCCESS;
        out->try_next = !client_started;
        return;
    case TG_ATT_BREAKER_OPEN:
        out->try_next = !client_started;
        return;
    case TG_ATT_CLIENT_GONE:
        /* Says nothing about the provider; nobody left to answer. */
        out->status = 499;   /* nginx's "client closed request" */
        return;
    }
}

enum tg_attempt_outcome
tg_next_outcome_of_status(int status)
{
    if (status >= 200 && status < 300)
        return TG_ATT_OK;
    if (status == 429)
        return TG_ATT_HTTP_429;
    if (status == 401 || status == 403 || status == 407)
        return TG_ATT_UPSTREAM_AUTH;
    if (status >= 400 && status < 500)
        return TG_ATT_HTTP_4XX;
    if (status >= 500)
        return TG_ATT_HTTP_5XX;
    return TG_ATT_BAD_RESPONSE;   /* 1xx/3xx as a final answer: not an answer */
}

const char *
tg_next_outcome_name(enum tg_attempt_outcome o)
{
    static const char *const names[] = {
        [TG_ATT_OK] = "ok", [TG_ATT_TIMEOUT] = "timeout", [TG_ATT_DEADLINE] = "deadline",
        [TG_ATT_CONNECT] = "connect", [TG_ATT_RESET] = "reset", [TG_ATT_HTTP_429] = "http_429",
        [TG_ATT_HTTP_5XX] = "http_5xx", [TG_ATT_HTTP_4XX] = "http_4xx",
        [TG_ATT_UPSTREAM_AUTH] = "http_4xx", [TG_ATT_BAD_RESPONSE] = "bad_response",
        [TG_ATT_BUILD_FAILED] = "bad_response", [TG_ATT_BREAKER_OPEN] = "breaker_open",
        [TG_ATT_CLIENT_GONE] = "client_gone",
    };
    return (unsigned)o < TG_ARRAY_LEN(names) && names[o] ? names[o] : "bad_response";
}
