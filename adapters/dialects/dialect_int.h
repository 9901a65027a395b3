/*
 * dialect_int.h — what the dialect files share: each dialect's ops table,
 * defined in its own file (chat.c, responses.c, messages.c, completions.c,
 * embeddings.c), and small helpers.
 */
#ifndef TG_DIALECT_INT_H
#define TG_DIALECT_INT_H

#include "adapters/dialects/dialect.h"

#include <cjson/cJSON.h>

#include <string.h>

extern const struct tg_dialect_ops tg__dialect_chat;
extern const struct tg_dialect_ops tg__dialect_responses;
extern const struct tg_dialect_ops tg__dialect_messages;
extern const struct tg_dialect_ops tg__dialect_count_tokens;
extern const struct tg_dialect_ops tg__dialect_embeddings;
extern const struct tg_dialect_ops tg__dialect_completions;

/* 1 for the bytes a JSON string must escape ('"', '\\', controls): the
 * byte-at-a-time tails of the writers' SIMD scans look them up. */
extern const unsigned char tg__dialect_json_esc[256];

/*
 * cJSON_GetObjectItemCaseSensitive, inline: the same member (the first of
 * that key; NULL for a NULL object or key, and at the first member
 * without a key, as cJSON stops there), with the first byte compared
 * before strcmp.  Decoders look up dozens of members per request.
 */
static inline const cJSON *
tg__dialect_get(const cJSON *o, const char *k)
{
    const cJSON *c;

    if (o == NULL || k == NULL)
        return NULL;
    for (c = o->child; c != NULL && c->string != NULL; c = c->next)
        if (c->string[0] == k[0] && strcmp(c->string, k) == 0)
            return c;
    return NULL;
}

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

/*
 * Building the canonical body as a tree in the request's arena, the shape
 * tg_json_parse gives (engine/json.h): read-only for everyone else, never
 * cJSON_Delete'd.  The decoders build it, print it as the canonical text
 * and hand both on (decode_tree), so the engine indexes the tree instead
 * of parsing the text again.  Out of memory is sticky in struct tg__jt:
 * every call after it is a no-op, checked once at the end.
 */
struct tg__jt {
    struct tg_arena *a;
    bool oom;
};

cJSON *tg__jt_obj(struct tg__jt *t);
cJSON *tg__jt_arr(struct tg__jt *t);
/* A string node holding s itself (not a copy): s must live as long as the
 * arena, as the client's parse tree and arena strings do. */
cJSON *tg__jt_str(struct tg__jt *t, const char *s);
/* A string node holding v's string (v a node of the client's parse tree),
 * as tg__jt_str(t, v->valuestring) does, and keeping its TG_JSON_PLAIN
 * mark: a string that had no escape is printed without a scan. */
cJSON *tg__jt_sv(struct tg__jt *t, const cJSON *v);
/* A string node holding a copy of s[0..n) in the arena. */
cJSON *tg__jt_strn(struct tg__jt *t, const char *s, size_t n);
cJSON *tg__jt_null(struct tg__jt *t);
cJSON *tg__jt_bool(struct tg__jt *t, bool v);
/*
 * v (a node of the client's parse tree) placed in the canonical tree: a
 * new node with v's type and value whose members or elements are v's own,
 * shared rather than copied.  Every canonical node stays distinct from
 * every other (the engine maps parts to nodes), as long as each client
 * value is placed once.  NULL v gives NULL (and no error).
 */
cJSON *tg__jt_ref(struct tg__jt *t, const cJSON *v);
/* Append item to an object under key (a literal or arena string), or to an
 * array (key NULL).  A NULL parent or item marks the build failed. */
void tg__jt_add(struct tg__jt *t, cJSON *parent, const char *key, cJSON *item);

#endif /* TG_DIALECT_INT_H */
