/* test_next.c — engine/next.h: which outcomes fall back, and what each
 * does to the provider's breaker. */
#include <criterion/criterion.h>

#include "engine/next.h"

struct row {
    enum tg_attempt_outcome o;
    bool started;
    int status;
    int64_t retry_after;
    bool try_next;
    enum tg_breaker_effect br;
    int64_t hold;
    int client_status;
    const char *name;
};

static const struct row rows[] = {
    { TG_ATT_OK,            false, 200, -1,   false, TG_BREAKER_SUCCESS,   -1,   0,   "ok" },
    { TG_ATT_TIMEOUT,       false, 0,   -1,   true,  TG_BREAKER_FAILURE,   -1,   0,   "timeout" },
    { TG_ATT_DEADLINE,      false, 0,   -1,   true,  TG_BREAKER_FAILURE,   -1,   0,   "deadline" },
    { TG_ATT_CONNECT,       false, 0,   -1,   true,  TG_BREAKER_FAILURE,   -1,   0,   "connect" },
    { TG_ATT_RESET,         false, 0,   -1,   true,  TG_BREAKER_FAILURE,   -1,   0,   "reset" },
    { TG_ATT_HTTP_5XX,      false, 503, -1,   true,  TG_BREAKER_FAILURE,   -1,   0,   "http_5xx" },
    { TG_ATT_HTTP_429,      false, 429, 7000, true,  TG_BREAKER_FAILURE,   7000, 0,   "http_429" },
    { TG_ATT_HTTP_4XX,      false, 422, -1,   false, TG_BREAKER_SUCCESS,   -1,   422, "http_4xx" },
    { TG_ATT_UPSTREAM_AUTH, false, 401, -1,   false, TG_BREAKER_SUCCESS,   -1,   502, "http_4xx" },
    { TG_ATT_BAD_RESPONSE,  false, 200, -1,   true,  TG_BREAKER_FAILURE,   -1,   0,   "bad_response" },
    { TG_ATT_BUILD_FAILED,  false, 0,   -1,   true,  TG_BREAKER_SUCCESS,   -1,   0,   "bad_response" },
    { TG_ATT_BREAKER_OPEN,  false, 0,   -1,   true,  TG_BREAKER_NO_CHANGE, -1,   0,   "breaker_open" },
    { TG_ATT_CLIENT_GONE,   false, 0,   -1,   false, TG_BREAKER_NO_CHANGE, -1,   499, "client_gone" },
    /* once bytes reached the client nothing falls back, but health still counts */
    { TG_ATT_RESET,         true,  200, -1,   false, TG_BREAKER_FAILURE,   -1,   0,   "reset" },
    { TG_ATT_HTTP_429,      true,  429, 5000, false, TG_BREAKER_FAILURE,   5000, 0,   "http_429" },
    { TG_ATT_OK,            true,  200, -1,   false, TG_BREAKER_SUCCESS,   -1,   0,   "ok" },
};

Test(next, table)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        const struct row *w = &rows[i];
        struct tg_next nx;
        tg_next_after(w->o, w->started, w->status, w->retry_after, &nx);
        cr_expect_eq(nx.try_next, w->try_next, "row %zu (%s): try_next", i, w->name);
        cr_expect_eq(nx.breaker, w->br, "row %zu (%s): breaker", i, w->name);
        cr_expect_eq(nx.hold_open_ms, w->hold, "row %zu (%s): hold", i, w->name);
        cr_expect_eq(nx.status, w->client_status, "row %zu (%s): status", i, w->name);
        cr_expect_str_eq(tg_next_outcome_name(w->o), w->name, "row %zu", i);
    }
}

Test(next, outcome_of_status)
{
    cr_expect_eq(tg_next_outcome_of_status(200), TG_ATT_OK);
    cr_expect_eq(tg_next_outcome_of_status(204), TG_ATT_OK);
    cr_expect_eq(tg_next_outcome_of_status(429), TG_ATT_HTTP_429);
    cr_expect_eq(tg_next_outcome_of_status(401), TG_ATT_UPSTREAM_AUTH);
    cr_expect_eq(tg_next_outcome_of_status(403), TG_ATT_UPSTREAM_AUTH);
    cr_expect_eq(tg_next_outcome_of_status(407), TG_ATT_UPSTREAM_AUTH);
    cr_expect_eq(tg_next_outcome_of_status(400), TG_ATT_HTTP_4XX);
    cr_expect_eq(tg_next_outcome_of_status(404), TG_ATT_HTTP_4XX);
    cr_expect_eq(tg_next_outcome_of_status(500), TG_ATT_HTTP_5XX);
    cr_expect_eq(tg_next_outcome_of_status(529), TG_ATT_HTTP_5XX);
    cr_expect_eq(tg_next_outcome_of_status(302), TG_ATT_BAD_RESPONSE);
    cr_expect_str_eq(tg_next_outcome_name((enum tg_attempt_outcome)99), "bad_response");
}
