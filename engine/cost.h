/*
 * cost.h — pricing arithmetic shared by the router, `tollgate cost`,
 * dry-run and the audit's actual cost (usage x price).  One place, so every
 * figure tollgate prints comes from the same code.
 */
#ifndef TG_COST_H
#define TG_COST_H

#include "engine/model.h"

/* USD for in/out tokens on model m; NAN if a needed price is unknown. */
double tg_cost_usd(const struct tg_model *m, uint64_t in_tokens, uint64_t out_tokens);

/* Annual USD for tokens_per_day, output_share of them priced as output
 * (1.0 reproduces the seed's table), 365 days. NAN if unknown price. */
double tg_cost_annual(const struct tg_model *m, double tokens_per_day, double output_share);

/* Parse "50M", "1.5B", "20000", "10k" -> value; TG_EINVAL on garbage. */
int    tg_cost_parse_count(const char *s, double *out);

#endif /* TG_COST_H */
