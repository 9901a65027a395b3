/* test_cost.c — token pricing, annual figures (the seed's table), count parsing. */
#include <criterion/criterion.h>
#include <math.h>

#include "engine/cost.h"

static struct tg_model
model(double in, double out)
{
    struct tg_model m = { .id = "m", .input_per_m = in, .output_per_m = out };
    return m;
}

Test(cost, per_request)
{
    struct tg_model m = model(2.50, 10.00);
    cr_assert_float_eq(tg_cost_usd(&m, 1000000, 0), 2.50, 1e-12);
    cr_assert_float_eq(tg_cost_usd(&m, 1000, 500), 0.0025 + 0.005, 1e-12);
    cr_assert_float_eq(tg_cost_usd(&m, 0, 0), 0.0, 0);
}

Test(cost, unknown_price_only_matters_when_billed)
{
    struct tg_model m = model(NAN, 1.0);
    cr_assert(isnan(tg_cost_usd(&m, 1, 0)));
    cr_assert_float_eq(tg_cost_usd(&m, 0, 1000000), 1.0, 1e-12);
    cr_assert(isnan(tg_cost_annual(&m, 1e6, 0.5)));
    cr_assert_float_eq(tg_cost_annual(&m, 1e6, 1.0), 365.0, 1e-9);
}

/* The seed's annual table: 50M tokens/day, all priced at output. */
Test(cost, seed_table)
{
    static const struct { double out, annual; } t[] = {
        { 10.00, 182500.0 },   /* GPT-4o */
        { 15.00, 273750.0 },   /* Claude 3.5 */
        { 0.25, 4562.50 },     /* DeepSeek V4 Flash */
        { 0.28, 5110.0 },      /* Qwen3-32B */
        { 1.92, 35040.0 },     /* GLM-5 */
    };
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        struct tg_model m = model(0.1, t[i].out);
        double a = tg_cost_annual(&m, 50e6, 1.0);
        cr_assert_float_eq(round(a * 100) / 100, t[i].annual, 1e-9, "row %zu: %.6f", i, a);
    }
    struct tg_model m = model(2.0, 6.0);
    cr_assert_float_eq(tg_cost_annual(&m, 1e6, 0.25), 365.0 * (0.75 * 2 + 0.25 * 6), 1e-9);
}

Test(cost, parse_count)
{
    double v = 0;
    cr_assert_eq(tg_cost_parse_count("50M", &v), TG_OK);
    cr_assert_float_eq(v, 50e6, 0);
    cr_assert_eq(tg_cost_parse_count("1.5B", &v), TG_OK);
    cr_assert_float_eq(v, 1.5e9, 0);
    cr_assert_eq(tg_cost_parse_count("10k", &v), TG_OK);
    cr_assert_float_eq(v, 1e4, 0);
    cr_assert_eq(tg_cost_parse_count("20000", &v), TG_OK);
    cr_assert_float_eq(v, 20000, 0);
    const char *bad[] = { "", "M", "5X", "5MM", "-5", "nan", "inf", "0x10", "5 M", "1e3" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(tg_cost_parse_count(bad[i], &v), TG_EINVAL, "'%s' accepted", bad[i]);
}
