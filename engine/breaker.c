/*
 * breaker.c — per-model circuit breaker (see breaker.h).  Pure: the caller
 * passes "now", so tests drive it through every transition without sleeping.
 */
#include "engine/breaker.h"

void
tg_breaker_init(struct tg_breaker *b)
{
    b->state = TG_BREAKER_CLOSED;
    b->failures = 0;
    b->open_until_ms = 0;
    b->probe_in_flight = false;
}

bool
tg_breaker_admits(const struct tg_breaker *b, int64_t now_ms)
{
    switch (b->state) {
    case TG_BREAKER_CLOSED:
        return true;
    case TG_BREAKER_OPEN:
        /* recovery elapsed: the first caller becomes the half-open probe */
        return now_ms >= b->open_until_ms;
    case TG_BREAKER_HALF_OPEN:
        return !b->probe_in_flight;
    }
    return false;
}

void
tg_breaker_on_start(struct tg_breaker *b, int64_t now_ms)
{
    if (b->state == TG_BREAKER_OPEN && now_ms >= b->open_until_ms)
        b->state = TG_BREAKER_HALF_OPEN;
    if (b->state == TG_BREAKER_HALF_OPEN)
        b->probe_in_flight = true;
}

void
tg_breaker_on_success(struct tg_breaker *b, int64_t now_ms)
{
    (void)now_ms;
    /* A success while open (an attempt started before it opened) closes it
     * too: the provider answered, which is the evidence we wait for. */
    b->state = TG_BREAKER_CLOSED;
    b->failures = 0;
    b->probe_in_flight = false;
    b->open_until_ms = 0;
}

void
tg_breaker_on_failure(struct tg_breaker *b, const struct tg_breaker_cfg *cfg,
                      int64_t now_ms, int64_t retry_after_ms)
{
    uint32_t threshold = cfg && cfg->failure_threshold ? cfg->failure_threshold : 5;
    int64_t recovery = cfg ? (int64_t)cfg->recovery_timeout_ms : 30000;
    int64_t until = now_ms + recovery;
    if (retry_after_ms > 0 && now_ms + retry_after_ms > until)
        until = now_ms + retry_after_ms;

    if (b->failures < UINT32_MAX)
        b->failures++;
    bool open = b->state == TG_BREAKER_HALF_OPEN   /* the probe failed */
             || b->failures >= threshold
             || retry_after_ms > 0;                /* the provider told us to back off */
    if (b->state == TG_BREAKER_OPEN) {
        /* late failure of an attempt started before opening: extend only */
        if (until > b->open_until_ms)
            b->open_until_ms = until;
        return;
    }
    if (open) {
        b->state = TG_BREAKER_OPEN;
        b->open_until_ms = until;
        b->probe_in_flight = false;
    }
}

const char *
tg_breaker_state_name(enum tg_breaker_state s)
{
    switch (s) {
    case TG_BREAKER_CLOSED:    return "closed";
    case TG_BREAKER_OPEN:      return "open";
    case TG_BREAKER_HALF_OPEN: return "half-open";
    }
    return "unknown";
}
