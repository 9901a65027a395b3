/*
 * responses.c — OpenAI Responses <-> canonical (decode, answer, stream).
 */
#include "adapters/dialects/dialect_int.h"

const struct tg_dialect_ops tg__dialect_responses = {
    .id = TG_DIALECT_RESPONSES,
    .name = "responses",
    .path = "/v1/responses",
    .errors = TG_DIALECT_ERR_OPENAI,
};
