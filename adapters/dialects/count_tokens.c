/*
 * count_tokens.c — Anthropic count_tokens: decoded like a Messages body; answered locally.
 */
#include "adapters/dialects/dialect_int.h"

const struct tg_dialect_ops tg__dialect_count_tokens = {
    .id = TG_DIALECT_COUNT_TOKENS,
    .name = "messages.count_tokens",
    .path = "/v1/messages/count_tokens",
    .errors = TG_DIALECT_ERR_ANTHROPIC,
};
