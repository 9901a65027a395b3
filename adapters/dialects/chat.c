/*
 * chat.c — OpenAI Chat Completions: the canonical form itself.  NULL decode/encode/stream
 * members mean identity: the body is already canonical and answers and
 * streams are relayed unchanged (no copy on the gateway's hot path).
 */
#include "adapters/dialects/dialect_int.h"

const struct tg_dialect_ops tg__dialect_chat = {
    .id = TG_DIALECT_CHAT,
    .name = "chat.completions",
    .path = "/v1/chat/completions",
    .errors = TG_DIALECT_ERR_OPENAI,
};
