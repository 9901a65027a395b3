/*
 * breaker.h — per-model circuit breaker state machine (pure: time is an
 * argument).  closed -> open after failure_threshold consecutive failures
 * (or a 429 with Retry-After, which opens it until then); open -> half-open
 * after recovery_timeout_ms; half-open admits one probe: success closes,
 * failure re-opens.  The gateway owns the state; the engine only sees a
 * tg_breaker_view built from tg_breaker_admits().
 */
#ifndef TG_BREAKER_H
#define TG_BREAKER_H

#include "engine/tg.h"
#include "engine/model.h"

enum tg_breaker_state {
    TG_BREAKER_CLOSED    = 0,
    TG_BREAKER_OPEN      = 1,
    TG_BREAKER_HALF_OPEN = 2,
};

struct tg_breaker {
    enum tg_breaker_state state;
    uint32_t failures;        /* consecutive */
    int64_t  open_until_ms;   /* open: when half-open may start */
    bool     probe_in_flight; /* half-open: one probe at a time */
};

void tg_breaker_init(struct tg_breaker *b);
/* May an attempt start at now_ms? (half-open: true once, for the probe; call tg_breaker_on_start) */
bool tg_breaker_admits(const struct tg_breaker *b, int64_t now_ms);
void tg_breaker_on_start(struct tg_breaker *b, int64_t now_ms);
/* Outcome of an attempt. retry_after_ms > 0 (from a 429/503 Retry-After) keeps it open at least that long. */
void tg_breaker_on_success(struct tg_breaker *b, int64_t now_ms);
void tg_breaker_on_failure(struct tg_breaker *b, const struct tg_breaker_cfg *cfg,
                           int64_t now_ms, int64_t retry_after_ms);
const char *tg_breaker_state_name(enum tg_breaker_state s);

#endif /* TG_BREAKER_H */
