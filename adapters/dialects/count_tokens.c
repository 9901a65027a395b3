/*
 * count_tokens.c — Anthropic count_tokens: decoded like a Messages body
 * (max_tokens optional, `stream` ignored) so that every text in it is
 * scanned like any request's; answered locally by the gateway with
 * {"input_tokens": N} from its estimate, so there is no answer or stream
 * encoder.
 */
#include "adapters/dialects/messages_int.h"

static int
count_tokens_decode(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
                    char **canon, size_t *canon_len, struct tg_err *err)
{
    return tg__messages_decode(body, len, a, ctx, true, canon, canon_len, NULL, err);
}

const struct tg_dialect_ops tg__dialect_count_tokens = {
    .id = TG_DIALECT_COUNT_TOKENS,
    .name = "messages.count_tokens",
    .path = "/v1/messages/count_tokens",
    .errors = TG_DIALECT_ERR_ANTHROPIC,
    .decode = count_tokens_decode,
};
