/*
 * completions.c — OpenAI legacy Completions <-> canonical.
 */
#include "adapters/dialects/dialect_int.h"

const struct tg_dialect_ops tg__dialect_completions = {
    .id = TG_DIALECT_COMPLETIONS,
    .name = "completions",
    .path = "/v1/completions",
    .errors = TG_DIALECT_ERR_OPENAI,
};
