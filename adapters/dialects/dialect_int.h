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

/*
 * A raw NUL, or an escaped \u0000 whose backslash is not itself escaped,
 * anywhere in s[0..len): it would end the C string a parse tree holds, so
 * the text after it could differ between what a dialect translates (and
 * the engine scans) and what the client meant.  Every decoder refuses such
 * a body, as the chat door does (engine/request.c).
 */
bool tg__dialect_has_nul(const char *s, size_t len);

/* Room for any int64_t in decimal, with its sign. */
#define TG__DIALECT_INT_CHARS 24

/*
 * The decimal digits of v (what "%lld" prints) written to the END of
 * t[TG__DIALECT_INT_CHARS]; returns where they start, and they run to
 * t + TG__DIALECT_INT_CHARS (no NUL).  Answers and stream events print a
 * handful of integers each, and snprintf cost more than the rest of a
 * small event put together.
 */
char *tg__dialect_fmt_int(char t[TG__DIALECT_INT_CHARS], int64_t v);

#endif /* TG_DIALECT_INT_H */
