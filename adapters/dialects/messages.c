/*
 * messages.c — Anthropic Messages <-> canonical (decode, answer, stream).
 */
#include "adapters/dialects/dialect_int.h"

const struct tg_dialect_ops tg__dialect_messages = {
    .id = TG_DIALECT_MESSAGES,
    .name = "messages",
    .path = "/v1/messages",
    .errors = TG_DIALECT_ERR_ANTHROPIC,
};
