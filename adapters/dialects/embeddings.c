/*
 * embeddings.c — OpenAI Embeddings.
 */
#include "adapters/dialects/dialect_int.h"

const struct tg_dialect_ops tg__dialect_embeddings = {
    .id = TG_DIALECT_EMBEDDINGS,
    .name = "embeddings",
    .path = "/v1/embeddings",
    .errors = TG_DIALECT_ERR_OPENAI,
};
