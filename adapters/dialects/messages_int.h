/*
 * messages_int.h — what messages.c shares with count_tokens.c: the one
 * Anthropic Messages decoder, with or without the dialect's mandatory
 * max_tokens.  Not for use outside adapters/dialects/.
 */
#ifndef TG_MESSAGES_INT_H
#define TG_MESSAGES_INT_H

#include "adapters/dialects/dialect_int.h"

/* Per-dialect stream caps (engine/limits.h holds the engine's). */

/* Tool calls one streamed answer may open: OpenAI tool-call indexes are
 * small integers; past this many the canonical stream is refused rather
 * than tracked without bound. */
#define TG_MESSAGES_MAX_STREAM_TOOLS 1024u

/* One Anthropic event written to the client: its text comes from one
 * canonical event (the SSE parser caps those at 1 MiB), re-escaped no
 * longer than it was escaped there; 4 MiB leaves room for the rest. */
#define TG_MESSAGES_MAX_EVENT_BYTES  (4u * 1024u * 1024u)

/*
 * Decode an Anthropic Messages body (or a count_tokens body:
 * count_tokens = true, where max_tokens is optional and `stream` is
 * ignored) into the canonical chat completions body.  Contract as
 * tg_dialect_ops.decode_tree (tree may be NULL: text only).
 */
int tg__messages_decode(const char *body, size_t len, struct tg_arena *a,
                        struct tg_dialect_ctx *ctx, bool count_tokens,
                        char **canon, size_t *canon_len, cJSON **tree, struct tg_err *err);

#endif /* TG_MESSAGES_INT_H */
