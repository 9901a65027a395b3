/*
 * test_request_tree.c — decode_tree (adapters/dialects/dialect.h) with
 * tg_request_from_tree (engine/request.h) must give the request that
 * decode with tg_request_parse gives: the same canonical text, the same
 * parts, and the same refusals (duplicate keys anywhere, nesting past the
 * cap) with the same messages.  tests/fuzz/canon_tree.h checks the same on
 * every fuzz input; these are the cases named.
 */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "adapters/dialects/dialect.h"
#include "engine/limits.h"
#include "engine/request.h"

struct both {
    int dec_rc, req_rc_text, req_rc_tree;
    char dec_msg[TG_ERR_MSG_MAX], text_msg[TG_ERR_MSG_MAX], tree_msg[TG_ERR_MSG_MAX];
    uint32_t nparts_text, nparts_tree;
    bool same_parts;
};

static struct both
run(enum tg_dialect_id id, const char *body)
{
    const struct tg_dialect_ops *ops = tg_dialect_get(id);
    struct tg_dialect_ctx c1 = { .id = id, .answer_id = "t" }, c2 = c1;
    struct tg_arena a1, a2;
    struct tg_err e1 = { 0 }, e2 = { 0 };
    char *t1 = NULL, *t2 = NULL;
    size_t l1 = 0, l2 = 0;
    cJSON *tree = NULL;
    struct both r = { 0 };

    cr_assert_not_null(ops->decode_tree, "the dialect builds a tree");
    tg_arena_init(&a1, 0);
    tg_arena_init(&a2, 0);
    r.dec_rc = ops->decode(body, strlen(body), &a1, &c1, &t1, &l1, &e1);
    cr_assert_eq(ops->decode_tree(body, strlen(body), &a2, &c2, &t2, &l2, &tree, &e2), r.dec_rc);
    cr_assert_str_eq(e1.msg, e2.msg);
    snprintf(r.dec_msg, sizeof(r.dec_msg), "%s", e1.msg);
    if (r.dec_rc == TG_OK) {
        struct tg_request q1, q2;
        struct tg_err f1 = { 0 }, f2 = { 0 };
        cr_assert_eq(l1, l2);
        cr_assert(memcmp(t1, t2, l1) == 0, "the same canonical text");
        r.req_rc_text = tg_request_parse(t1, l1, &a1, &q1, &f1);
        r.req_rc_tree = tg_request_from_tree(tree, l2, &a2, &q2, &f2);
        snprintf(r.text_msg, sizeof(r.text_msg), "%s", f1.msg);
        snprintf(r.tree_msg, sizeof(r.tree_msg), "%s", f2.msg);
        if (r.req_rc_text == TG_OK && r.req_rc_tree == TG_OK) {
            r.nparts_text = q1.nparts;
            r.nparts_tree = q2.nparts;
            r.same_parts = q1.nparts == q2.nparts && q1.nmessages == q2.nmessages &&
                           q1.text_bytes == q2.text_bytes && q1.max_tokens == q2.max_tokens;
            for (uint32_t i = 0; r.same_parts && i < q1.nparts; i++)
                r.same_parts = q1.parts[i].len == q2.parts[i].len &&
                               memcmp(q1.parts[i].text, q2.parts[i].text, q1.parts[i].len) == 0 &&
                               q1.parts[i].kind == q2.parts[i].kind &&
                               q1.parts[i].message == q2.parts[i].message &&
                               q1.parts[i].unredactable == q2.parts[i].unredactable;
        }
    }
    tg_arena_free(&a1);
    tg_arena_free(&a2);
    return r;
}

static const char responses_body[] =
    "{\"model\":\"m\",\"instructions\":\"be brief\",\"max_output_tokens\":64,\"input\":["
    "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"mail jane@example.com\"},"
    "{\"type\":\"input_image\",\"image_url\":\"https://example.com/a.png\"}]},"
    "{\"type\":\"function_call\",\"call_id\":\"c1\",\"name\":\"f\",\"arguments\":\"{\\\"x\\\":1}\"},"
    "{\"type\":\"function_call_output\",\"call_id\":\"c1\",\"output\":\"ok\"}],"
    "\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"description\":\"d\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"x\":{\"type\":\"integer\",\"description\":\"an unknown key follows\"}},"
    "\"x-note\":\"free text\"}}],\"metadata\":{\"category\":\"code\",\"who\":\"bob\"}}";

static const char messages_body[] =
    "{\"model\":\"m\",\"max_tokens\":64,\"system\":[{\"type\":\"text\",\"text\":\"be brief\"}],\"messages\":["
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"mail jane@example.com\"}]},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t1\",\"name\":\"f\",\"input\":{\"x\":1}}]},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t1\",\"content\":\"ok\","
    "\"is_error\":true},{\"type\":\"text\",\"text\":\"next\"}]}],"
    "\"tools\":[{\"name\":\"f\",\"description\":\"d\",\"input_schema\":{\"type\":\"object\","
    "\"properties\":{\"x\":{\"type\":\"integer\"}},\"x-note\":\"free text\"}}]}";

Test(request_tree, responses_same_request)
{
    struct both r = run(TG_DIALECT_RESPONSES, responses_body);
    cr_assert_eq(r.dec_rc, TG_OK, "%s", r.dec_msg);
    cr_assert_eq(r.req_rc_text, TG_OK, "%s", r.text_msg);
    cr_assert_eq(r.req_rc_tree, TG_OK, "%s", r.tree_msg);
    cr_assert_gt(r.nparts_text, 5);
    cr_assert(r.same_parts, "parts differ (%u vs %u)", r.nparts_text, r.nparts_tree);
}

Test(request_tree, messages_same_request)
{
    struct both r = run(TG_DIALECT_MESSAGES, messages_body);
    cr_assert_eq(r.dec_rc, TG_OK, "%s", r.dec_msg);
    cr_assert_eq(r.req_rc_text, TG_OK, "%s", r.text_msg);
    cr_assert_eq(r.req_rc_tree, TG_OK, "%s", r.tree_msg);
    cr_assert_gt(r.nparts_text, 5);
    cr_assert(r.same_parts, "parts differ (%u vs %u)", r.nparts_text, r.nparts_tree);
}

/* A duplicate key inside a value the decoder carries without reading it
 * (a tool's parameters): the decoder passes it on, and the engine refuses
 * it from the tree exactly as from the text. */
Test(request_tree, duplicate_key_in_carried_value)
{
    static const char body[] =
        "{\"model\":\"m\",\"input\":\"hi\",\"tools\":[{\"type\":\"function\",\"name\":\"f\","
        "\"parameters\":{\"type\":\"object\",\"type\":\"string\"}}]}";
    struct both r = run(TG_DIALECT_RESPONSES, body);
    cr_assert_eq(r.dec_rc, TG_OK, "%s", r.dec_msg);
    cr_assert_eq(r.req_rc_text, TG_EINVAL);
    cr_assert_eq(r.req_rc_tree, TG_EINVAL);
    cr_assert_str_eq(r.text_msg, r.tree_msg);
    cr_assert(strstr(r.tree_msg, "duplicate key") != NULL, "%s", r.tree_msg);
}

/* Parameters nested as deep as the decoder takes: the canonical body puts
 * them two levels deeper (tools[].function.parameters), past the engine's
 * cap, and both paths refuse it with the same message. */
Test(request_tree, canonical_deeper_than_the_cap)
{
    char body[4096];
    size_t n = 0;
    n += (size_t)snprintf(body + n, sizeof(body) - n,
                          "{\"model\":\"m\",\"input\":\"hi\",\"tools\":[{\"type\":\"function\",\"name\":\"f\",\"parameters\":");
    for (unsigned i = 0; i < TG_MAX_JSON_DEPTH - 3; i++)
        n += (size_t)snprintf(body + n, sizeof(body) - n, "{\"a\":");
    n += (size_t)snprintf(body + n, sizeof(body) - n, "1");
    for (unsigned i = 0; i < TG_MAX_JSON_DEPTH - 3; i++)
        body[n++] = '}';
    n += (size_t)snprintf(body + n, sizeof(body) - n, "}]}");
    struct both r = run(TG_DIALECT_RESPONSES, body);
    cr_assert_eq(r.dec_rc, TG_OK, "%s", r.dec_msg);
    cr_assert_eq(r.req_rc_text, TG_ELIMIT, "%s", r.text_msg);
    cr_assert_eq(r.req_rc_tree, TG_ELIMIT, "%s", r.tree_msg);
    cr_assert_str_eq(r.text_msg, r.tree_msg);
}
