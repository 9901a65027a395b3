/* test_breaker.c — every transition of the per-model circuit breaker. */
#include <criterion/criterion.h>

#include "engine/breaker.h"

static const struct tg_breaker_cfg CFG = { .failure_threshold = 3, .recovery_timeout_ms = 1000,
                                           .progressive_timeout = true };

Test(breaker, opens_after_threshold_consecutive_failures)
{
    struct tg_breaker b;
    tg_breaker_init(&b);
    cr_assert_eq(b.state, TG_BREAKER_CLOSED);
    tg_breaker_on_failure(&b, &CFG, 0, 0);
    tg_breaker_on_failure(&b, &CFG, 1, 0);
    cr_assert_eq(b.state, TG_BREAKER_CLOSED);
    cr_assert(tg_breaker_admits(&b, 2));
    tg_breaker_on_failure(&b, &CFG, 2, 0);
    cr_assert_eq(b.state, TG_BREAKER_OPEN);
    cr_assert_not(tg_breaker_admits(&b, 3));
    cr_assert_not(tg_breaker_admits(&b, 1001));
    cr_assert(tg_breaker_admits(&b, 1002), "recovery elapsed at open + 1000");
}

Test(breaker, success_resets_the_count)
{
    struct tg_breaker b;
    tg_breaker_init(&b);
    tg_breaker_on_failure(&b, &CFG, 0, 0);
    tg_breaker_on_failure(&b, &CFG, 0, 0);
    tg_breaker_on_success(&b, 0);
    tg_breaker_on_failure(&b, &CFG, 0, 0);
    tg_breaker_on_failure(&b, &CFG, 0, 0);
    cr_assert_eq(b.state, TG_BREAKER_CLOSED, "failures must be consecutive");
}

Test(breaker, half_open_admits_one_probe)
{
    struct tg_breaker b;
    tg_breaker_init(&b);
    for (int i = 0; i < 3; i++)
        tg_breaker_on_failure(&b, &CFG, 0, 0);
    cr_assert(tg_breaker_admits(&b, 1000));
    tg_breaker_on_start(&b, 1000);
    cr_assert_eq(b.state, TG_BREAKER_HALF_OPEN);
    cr_assert_not(tg_breaker_admits(&b, 1001), "second caller must wait for the probe");
    tg_breaker_on_success(&b, 1100);
    cr_assert_eq(b.state, TG_BREAKER_CLOSED);
    cr_assert(tg_breaker_admits(&b, 1101));
}

Test(breaker, failed_probe_reopens)
{
    struct tg_breaker b;
    tg_breaker_init(&b);
    for (int i = 0; i < 3; i++)
        tg_breaker_on_failure(&b, &CFG, 0, 0);
    tg_breaker_on_start(&b, 1000);
    tg_breaker_on_failure(&b, &CFG, 1050, 0);
    cr_assert_eq(b.state, TG_BREAKER_OPEN);
    cr_assert_not(tg_breaker_admits(&b, 2049));
    cr_assert(tg_breaker_admits(&b, 2050));
}

Test(breaker, retry_after_opens_at_once_for_at_least_that_long)
{
    struct tg_breaker b;
    tg_breaker_init(&b);
    tg_breaker_on_failure(&b, &CFG, 0, 5000);
    cr_assert_eq(b.state, TG_BREAKER_OPEN);
    cr_assert_not(tg_breaker_admits(&b, 4999));
    cr_assert(tg_breaker_admits(&b, 5000));

    /* a short Retry-After does not shorten the recovery timeout */
    tg_breaker_init(&b);
    tg_breaker_on_failure(&b, &CFG, 0, 10);
    cr_assert_not(tg_breaker_admits(&b, 999));
}

Test(breaker, names)
{
    cr_assert_str_eq(tg_breaker_state_name(TG_BREAKER_CLOSED), "closed");
    cr_assert_str_eq(tg_breaker_state_name(TG_BREAKER_OPEN), "open");
    cr_assert_str_eq(tg_breaker_state_name(TG_BREAKER_HALF_OPEN), "half-open");
}
