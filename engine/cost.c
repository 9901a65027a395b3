/*
 * cost.c — the one place tollgate turns tokens into dollars.
 */
#include "engine/cost.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double
tg_cost_usd(const struct tg_model *m, uint64_t in_tokens, uint64_t out_tokens)
{
    double c = 0.0;
    /* A price that is unknown only matters when tokens would be billed at it. */
    if (in_tokens > 0) {
        if (isnan(m->input_per_m))
            return NAN;
        c += (double)in_tokens * m->input_per_m / 1e6;
    }
    if (out_tokens > 0) {
        if (isnan(m->output_per_m))
            return NAN;
        c += (double)out_tokens * m->output_per_m / 1e6;
    }
    return c;
}

double
tg_cost_annual(const struct tg_model *m, double tokens_per_day, double output_share)
{
    double s = output_share;
    double in_share = 1.0 - s;
    double per_m = 0.0;
    if (in_share > 0) {
        if (isnan(m->input_per_m))
            return NAN;
        per_m += in_share * m->input_per_m;
    }
    if (s > 0) {
        if (isnan(m->output_per_m))
            return NAN;
        per_m += s * m->output_per_m;
    }
    /* tokens/day * 365 / 1e6 * price: multiply the integer-ish factors first
     * so that 50M * 365 / 1e6 = 18250 is exact before the price scales it. */
    return tokens_per_day * 365.0 / 1e6 * per_m;
}

int
tg_cost_parse_count(const char *s, double *out)
{
    if (s == NULL || *s == '\0')
        return TG_EINVAL;
    char *end = NULL;
    double v = strtod(s, &end);
    if (end == s || !isfinite(v) || v < 0)
        return TG_EINVAL;
    double mul = 1;
    switch (*end) {
    case '\0': break;
    case 'k': case 'K': mul = 1e3; end++; break;
    case 'm': case 'M': mul = 1e6; end++; break;
    case 'b': case 'B': case 'g': case 'G': mul = 1e9; end++; break;
    default: return TG_EINVAL;
    }
    if (*end != '\0')
        return TG_EINVAL;
    /* strtod accepts "nan", "inf" and hex; none of them is a token count */
    for (const char *p = s; p < end; p++)
        if (!((*p >= '0' && *p <= '9') || *p == '.' || strchr("kKmMbBgG", *p)))
            return TG_EINVAL;
    *out = v * mul;
    return TG_OK;
}
