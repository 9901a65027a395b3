/*
 * canon_tree.h — the invariant of decode_tree (adapters/dialects/dialect.h),
 * shared by the dialect harnesses: on any input, decode_tree gives what
 * decode gives (the same result, the same canonical text or the same
 * error), its tree is the parse of that text, and the engine makes the
 * same request of the tree (tg_request_from_tree) as of the text
 * (tg_request_parse): the same error, or the same parts with the same
 * kinds, messages and redactability.  Any difference aborts.
 */
#ifndef TG_FUZZ_CANON_TREE_H
#define TG_FUZZ_CANON_TREE_H

#include <stdlib.h>
#include <string.h>

#include "adapters/dialects/dialect.h"
#include "engine/json.h"
#include "engine/limits.h"
#include "engine/request.h"

static bool
ct_same_str(const char *x, const char *y)
{
    return (x == NULL && y == NULL) || (x != NULL && y != NULL && strcmp(x, y) == 0);
}

static bool
ct_same_tree(const cJSON *x, const cJSON *y)
{
    if (x == NULL || y == NULL)
        return x == y;
    if ((x->type & 0xFF) != (y->type & 0xFF) || !ct_same_str(x->string, y->string))
        return false;
    switch (x->type & 0xFF) {
    case cJSON_Number:
        return x->valuedouble == y->valuedouble && x->valueint == y->valueint;
    case cJSON_String:
        return ct_same_str(x->valuestring, y->valuestring);
    case cJSON_Array:
    case cJSON_Object:
        for (x = x->child, y = y->child; x != NULL && y != NULL; x = x->next, y = y->next)
            if (!ct_same_tree(x, y))
                return false;
        return x == NULL && y == NULL;
    default:
        return true;
    }
}

static void
ct_same_request(const struct tg_request *p, const struct tg_request *t)
{
    if (p->nparts != t->nparts || p->nmessages != t->nmessages || p->stream != t->stream ||
        p->max_tokens != t->max_tokens || p->body_len != t->body_len ||
        p->data_urls != t->data_urls || p->decoded_parts != t->decoded_parts ||
        p->opaque_payloads != t->opaque_payloads || p->text_bytes != t->text_bytes ||
        !ct_same_str(p->model, t->model) || !ct_same_str(p->meta_tenant, t->meta_tenant) ||
        !ct_same_str(p->meta_feature, t->meta_feature) ||
        !ct_same_str(p->meta_category, t->meta_category))
        abort();
    for (uint32_t i = 0; i < p->nparts; i++) {
        const struct tg_part *a = &p->parts[i], *b = &t->parts[i];
        if (a->len != b->len || memcmp(a->text, b->text, a->len) != 0 ||
            a->message != b->message || a->kind != b->kind ||
            a->unredactable != b->unredactable || (a->node == NULL) != (b->node == NULL))
            abort();
    }
}

static void
canon_tree_check(enum tg_dialect_id id, const char *in, size_t size)
{
    const struct tg_dialect_ops *ops = tg_dialect_get(id);
    struct tg_dialect_ctx c1 = { .id = id, .answer_id = "ct", .now_s = 1 }, c2 = c1;
    struct tg_arena a1, a2;
    struct tg_err e1 = { 0 }, e2 = { 0 };
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    cJSON *tree = NULL, *parsed = NULL;
    const char *end;
    int r1, r2;

    if (ops->decode_tree == NULL)
        return;
    tg_arena_init(&a1, 0);
    tg_arena_init(&a2, 0);
    r1 = ops->decode(in, size, &a1, &c1, &t1, &l1, &e1);
    r2 = ops->decode_tree(in, size, &a2, &c2, &t2, &l2, &tree, &e2);
    if (r1 != r2 || strcmp(e1.msg, e2.msg) != 0)
        abort();
    if (r1 == TG_OK && (!ct_same_str(c1.client_model, c2.client_model) || c1.stream != c2.stream))
        abort();
    if (r1 == TG_OK) {
        struct tg_request q1, q2;
        struct tg_err f1 = { 0 }, f2 = { 0 };
        if (l1 != l2 || memcmp(t1, t2, l1) != 0 || tree == NULL)
            abort();
        /* the tree is the text's parse (deeper than the engine takes is
         * refused by both below; cJSON's own limit bounds this parse) */
        if (tg_json_parse(t1, l1, CJSON_NESTING_LIMIT, &a1, &parsed, &end) != TG_OK ||
            !ct_same_tree(parsed, tree))
            abort();
        r1 = tg_request_parse(t1, l1, &a1, &q1, &f1);
        r2 = tg_request_from_tree(tree, l2, &a2, &q2, &f2);
        if (r1 != r2 || strcmp(f1.msg, f2.msg) != 0)
            abort();
        if (r1 == TG_OK)
            ct_same_request(&q1, &q2);
        else if (q1.body != NULL || q2.body != NULL)
            abort();
    }
    tg_arena_free(&a1);
    tg_arena_free(&a2);
}

#endif /* TG_FUZZ_CANON_TREE_H */
