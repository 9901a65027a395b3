/*
 * dialect_int.h — what the dialect files share: each dialect's ops table,
 * defined in its own file (chat.c, responses.c, messages.c, completions.c,
 * embeddings.c), and small helpers.
 */
#ifndef TG_DIALECT_INT_H
#define TG_DIALECT_INT_H

#include "adapters/dialects/dialect.h"

extern const struct tg_dialect_ops tg__dialect_chat;
extern const struct tg_dialect_ops tg__dialect_responses;
extern const struct tg_dialect_ops tg__dialect_messages;
extern const struct tg_dialect_ops tg__dialect_count_tokens;
extern const struct tg_dialect_ops tg__dialect_embeddings;
extern const struct tg_dialect_ops tg__dialect_completions;

#endif /* TG_DIALECT_INT_H */
