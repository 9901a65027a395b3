/* test_request.c — chat body parsing, text indexing, tags, token estimate. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/limits.h"
#include "engine/request.h"
#include "engine/json.h"
#include "policy/policy.h"

static struct tg_arena A;
static struct tg_request R;

static void setup(void) { tg_arena_init(&A, 0); memset(&R, 0, sizeof(R)); }
static void teardown(void) { tg_request_dispose(&R); tg_arena_free(&A); }

TestSuite(request, .init = setup, .fini = teardown);

static int
parse(const char *s, struct tg_err *err)
{
    return tg_request_parse(s, strlen(s), &A, &R, err);
}

Test(request, simple_string_content)
{
    struct tg_err err = {0};
    cr_assert_eq(parse("{\"model\":\"gpt-4o\",\"stream\":true,\"max_tokens\":100,"
                       "\"messages\":[{\"role\":\"system\",\"content\":\"be brief\"},"
                       "{\"role\":\"user\",\"content\":\"hello world\",\"name\":\"bob\"}]}", &err),
                 TG_OK, "%s", err.msg);
    cr_assert_str_eq(R.model, "gpt-4o");
    cr_assert(R.stream);
    cr_assert_eq(R.max_tokens, 100);
    cr_assert_eq(R.nmessages, 2);
    cr_assert_eq(R.nparts, 3);
    cr_assert_str_eq(R.parts[0].text, "be brief");
    cr_assert_eq(R.parts[0].message, 0);
    cr_assert_eq(R.parts[1].kind, TG_PART_CONTENT);
    cr_assert_eq(R.parts[2].kind, TG_PART_NAME);
    cr_assert_str_eq(R.parts[2].text, "bob");
    cr_assert_eq(R.parts[2].message, 1);
    cr_assert_eq(R.text_bytes, 8 + 11 + 3);
    cr_assert_not_null(R.body);
}

Test(request, multipart_images_and_tools)
{
    struct tg_err err = {0};
    cr_assert_eq(parse("{\"messages\":["
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"look\"},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}},"
        "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.example/a.png\"}},"
        "{\"type\":\"input_audio\",\"input_audio\":{\"data\":\"AAAA\",\"format\":\"wav\"}}]},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\","
        "\"function\":{\"name\":\"lookup\",\"arguments\":\"{\\\"q\\\":1}\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"c1\",\"content\":\"result\"},"
        "{\"role\":\"assistant\",\"function_call\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}", &err),
        TG_OK, "%s", err.msg);
    cr_assert_eq(R.nmessages, 4);
    cr_assert_eq(R.data_urls, 1);
    /* look, remote url, lookup, args, result, f, {} */
    cr_assert_eq(R.nparts, 7);
    cr_assert_str_eq(R.parts[0].text, "look");
    cr_assert_eq(R.parts[1].kind, TG_PART_OTHER);
    cr_assert_eq(R.parts[3].kind, TG_PART_TOOL_ARGS);
    cr_assert_str_eq(R.parts[3].text, "{\"q\":1}");
    cr_assert_str_eq(R.parts[4].text, "result");
    cr_assert_eq(R.parts[4].message, 2);
    cr_assert_eq(R.parts[6].kind, TG_PART_TOOL_ARGS);
    cr_assert_eq(R.max_tokens, -1);
    cr_assert_null(R.model);
}

Test(request, metadata_and_max_completion_tokens)
{
    struct tg_err err = {0};
    cr_assert_eq(parse("{\"max_tokens\":10,\"max_completion_tokens\":300,"
                       "\"metadata\":{\"tenant\":\"acme\",\"feature\":\"chat\",\"category\":\"qa\"},"
                       "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &err), TG_OK);
    cr_assert_eq(R.max_tokens, 300);
    cr_assert_str_eq(R.meta_tenant, "acme");
    cr_assert_str_eq(R.meta_feature, "chat");
    cr_assert_str_eq(R.meta_category, "qa");
}

/* Every malformed shape: the status and the words of the message. */
static const struct {
    const char *body;
    int code;
    const char *msg;
} bad[] = {
    { "", TG_EINVAL, "not valid JSON" },
    { "{\"messages\":", TG_EINVAL, "not valid JSON" },
    { "{} x", TG_EINVAL, "trailing data" },
    { "[]", TG_EINVAL, "must be a JSON object" },
    { "{}", TG_EINVAL, "messages must be a non-empty array" },
    { "{\"messages\":[]}", TG_EINVAL, "messages must be a non-empty array" },
    { "{\"messages\":{}}", TG_EINVAL, "messages must be a non-empty array" },
    { "{\"messages\":[1]}", TG_EINVAL, "messages[0] must be an object" },
    { "{\"messages\":[{\"content\":\"x\"}]}", TG_EINVAL, "messages[0].role" },
    { "{\"messages\":[{\"role\":5,\"content\":\"x\"}]}", TG_EINVAL, "messages[0].role" },
    { "{\"messages\":[{\"role\":\"wizard\",\"content\":\"x\"}]}", TG_EINVAL, "messages[0].role must be one of" },
    { "{\"messages\":[{\"role\":\"user jane\",\"content\":\"x\"}]}", TG_EINVAL, "messages[0].role must be one of" },
    { "{\"messages\":[{\"role\":\"User\",\"content\":\"x\"}]}", TG_EINVAL, "messages[0].role must be one of" },
    { "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\",\"content\":\"b\"},"
      "{\"role\":\"user\",\"content\":7}]}", TG_EINVAL,
      "messages[2].content must be a string or an array of parts" },
    { "{\"messages\":[{\"role\":\"user\",\"content\":[5]}]}", TG_EINVAL, "content[0] must be an object" },
    { "{\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":\"x\"}]}]}", TG_EINVAL, "content[0].type" },
    { "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":1}]}]}", TG_EINVAL,
      "content[0].text must be a string" },
    { "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":{}}]}]}",
      TG_EINVAL, "image_url.url" },
    { "{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"name\":3}]}", TG_EINVAL, "messages[0].name" },
    { "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":{}}]}", TG_EINVAL, "tool_calls must be an array" },
    { "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[1]}]}", TG_EINVAL, "tool_calls[0] must be an object" },
    { "{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"function\":{\"arguments\":{}}}]}]}",
      TG_EINVAL, "arguments must be a string" },
    { "{\"messages\":[{\"role\":\"assistant\",\"function_call\":\"x\"}]}", TG_EINVAL, "function_call must be an object" },
    { "{\"model\":4,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", TG_EINVAL, "model must be a string" },
    { "{\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", TG_EINVAL, "stream must be a boolean" },
    { "{\"max_tokens\":-1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", TG_EINVAL, "max_tokens must be a non-negative integer" },
    { "{\"max_tokens\":1.5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", TG_EINVAL, "max_tokens must be" },
    { "{\"max_tokens\":\"9\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", TG_EINVAL, "max_tokens must be" },
    { "{\"max_completion_tokens\":1e12,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", TG_EINVAL, "max_completion_tokens" },
    { "{\"metadata\":[],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", TG_EINVAL, "metadata must be an object" },
    { "{\"metadata\":{\"tenant\":1},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", TG_EINVAL, "metadata.tenant" },
};

Test(request, malformed_bodies)
{
    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++) {
        struct tg_err err = {0};
        memset(&R, 0, sizeof(R));
        int rc = parse(bad[i].body, &err);
        cr_assert_eq(rc, bad[i].code, "case %zu (%s): rc %d", i, bad[i].body, rc);
        cr_assert_not_null(strstr(err.msg, bad[i].msg), "case %zu: message '%s' lacks '%s'",
                           i, err.msg, bad[i].msg);
        cr_assert_null(R.body, "case %zu left a body", i);
    }
}

Test(request, depth_limit)
{
    char buf[512];
    size_t o = 0;
    /* {"messages":[{"role":"user","content":"x","x": [[[[...]]]]}]} */
    o += (size_t)snprintf(buf, sizeof(buf), "{\"messages\":[{\"role\":\"user\",\"content\":\"x\",\"x\":");
    for (unsigned i = 0; i < TG_MAX_JSON_DEPTH; i++)
        buf[o++] = '[';
    for (unsigned i = 0; i < TG_MAX_JSON_DEPTH; i++)
        buf[o++] = ']';
    o += (size_t)snprintf(buf + o, sizeof(buf) - o, "}]}");
    struct tg_err err = {0};
    cr_assert_eq(tg_request_parse(buf, o, &A, &R, &err), TG_ELIMIT);
    cr_assert_not_null(strstr(err.msg, "nests deeper"));

    /* brackets inside strings do not count */
    char deep[300];
    memset(deep, '[', 200);
    deep[200] = 0;
    char body[600];
    snprintf(body, sizeof(body), "{\"messages\":[{\"role\":\"user\",\"content\":\"%s\"}]}", deep);
    cr_assert_eq(parse(body, &err), TG_OK, "%s", err.msg);
}

/* A tree already parsed into the arena (a decoder's, a capture line's) is
 * indexed where it is; a bad one leaves no body behind. */
Test(request, from_tree_keeps_the_arena_tree)
{
    struct tg_err err = {0};
    static const char ok[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", badj[] = "{\"messages\":7}";
    cJSON *j = NULL;
    const char *end;
    cr_assert_eq(tg_json_parse(ok, sizeof ok - 1, TG_MAX_JSON_DEPTH, &A, &j, &end), TG_OK);
    cr_assert_eq(tg_request_from_tree(j, sizeof ok - 1, &A, &R, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(R.body, j);
    cr_assert_eq(R.nparts, 1);
    tg_request_dispose(&R);
    cr_assert_eq(tg_json_parse(badj, sizeof badj - 1, TG_MAX_JSON_DEPTH, &A, &j, &end), TG_OK);
    cr_assert_eq(tg_request_from_tree(j, sizeof badj - 1, &A, &R, &err), TG_EINVAL);
    cr_assert_null(R.body);
}

Test(request, message_limit)
{
    size_t n = TG_MAX_MESSAGES + 1, cap = 32 + n * 32;
    char *b = malloc(cap);
    size_t o = (size_t)snprintf(b, cap, "{\"messages\":[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(b + o, cap - o, "%s{\"role\":\"user\",\"content\":\"\"}", i ? "," : "");
    o += (size_t)snprintf(b + o, cap - o, "]}");
    struct tg_err err = {0};
    cr_assert_eq(tg_request_parse(b, o, &A, &R, &err), TG_ELIMIT, "%s", err.msg);
    free(b);
}

Test(request, tags)
{
    struct tg_err err = {0};
    cr_assert_eq(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &err), TG_OK);
    cr_assert_eq(tg_request_add_tags(&R, " itar, EAR ,,itar", &A), TG_OK);
    cr_assert_eq(R.nexport_tags, 2);
    cr_assert_str_eq(R.export_tags[0], "itar");
    cr_assert_str_eq(R.export_tags[1], "ear");
    cr_assert_eq(tg_request_add_tags(&R, "Ear,eccn", &A), TG_OK);
    cr_assert_eq(R.nexport_tags, 3);
    cr_assert_str_eq(R.export_tags[2], "eccn");
    cr_assert_eq(tg_request_add_tags(&R, "", &A), TG_OK);
    cr_assert_eq(R.nexport_tags, 3);

    char many[TG_MAX_EXPORT_TAGS * 8];
    size_t o = 0;
    for (unsigned i = 0; i < TG_MAX_EXPORT_TAGS; i++)
        o += (size_t)snprintf(many + o, sizeof(many) - o, "t%u,", i);
    cr_assert_eq(tg_request_add_tags(&R, many, &A), TG_ELIMIT);
    cr_assert_eq(R.nexport_tags, 3, "a failed add leaves the tags unchanged");
}

Test(request, token_estimate)
{
    struct tg_err err = {0};
    /* parts of 8 and 9 bytes: 2 + 3 tokens, 2 messages * 4, + 3 */
    cr_assert_eq(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"12345678\"},"
                       "{\"role\":\"user\",\"content\":\"123456789\"}]}", &err), TG_OK);
    cr_assert_eq(tg_request_estimate_tokens(&R), 2 + 3 + 8 + 3);
    tg_request_dispose(&R);
    cr_assert_eq(parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                       "\"image_url\":{\"url\":\"data:image/png;base64,AA==\"}}]}]}", &err), TG_OK);
    cr_assert_eq(tg_request_estimate_tokens(&R), 4 + 3 + 765);
    tg_request_dispose(&R);
    /* not whole base64 groups: not trusted as an image, scanned (and charged) as text */
    cr_assert_eq(parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
                       "\"image_url\":{\"url\":\"data:image/png;base64,AA\"}}]}]}", &err), TG_OK);
    cr_assert_eq(R.data_urls, 0);
    cr_assert_eq(tg_request_estimate_tokens(&R), 4 + 3 + (24 + 3) / 4);
}

/* ---- the whole body is indexed (issue: PII in unindexed fields) ----------- */

/* Is there a part whose text contains needle?  Returns its index or -1. */
static int
part_with(const char *needle)
{
    for (uint32_t i = 0; i < R.nparts; i++) {
        const char *t = R.parts[i].text;
        size_t n = strlen(needle);
        for (size_t k = 0; k + n <= R.parts[i].len; k++)
            if (memcmp(t + k, needle, n) == 0)
                return (int)i;
    }
    return -1;
}

/* Data-driven: each body hides "jane" somewhere a provider would read it. */
static const struct {
    const char *what, *body;
    bool unredactable;
} hidden[] = {
    { "tools description", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":"
      "\"function\",\"function\":{\"name\":\"f\",\"description\":\"send to jane\",\"parameters\":{}}}]}", false },
    { "response_format schema", "{\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":"
      "\"x\",\"schema\":{\"description\":\"jane\"}}},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false },
    { "user field", "{\"user\":\"jane\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false },
    { "prediction", "{\"prediction\":{\"type\":\"content\",\"content\":\"jane\"},"
      "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false },
    { "unknown message field", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\",\"context\":\"jane\"}]}", false },
    { "extra field in text part", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
      "\"text\":\"hi\",\"note\":\"jane\"}]}]}", false },
    { "unknown part type", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_text\","
      "\"text\":\"jane\"}]}]}", false },
    { "file name", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":"
      "{\"filename\":\"jane.txt\",\"file_id\":\"file-1\"}}]}]}", false },
    { "stop sequences", "{\"stop\":[\"x\",\"jane\"],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false },
    { "unknown key", "{\"metadata\":{\"jane\":1},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", true },
    /* "jane roe" in base64 ("amFuZSByb2U="), as a text data URL in a file part */
    { "file part text data URL", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":"
      "{\"filename\":\"a.txt\",\"file_data\":\"data:text/plain;base64,amFuZSByb2U=\"}}]}]}", true },
    { "image_url with a text data URL", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
      "\"image_url\":{\"url\":\"data:text/plain;base64,amFuZSByb2U=\"}}]}]}", true },
    { "percent-encoded data URL", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":"
      "{\"file_data\":\"data:,%6Aane\"}}]}]}", true },
    { "JSON data URL", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"x\":"
      "\"data:application/json;base64,eyJuIjoiamFuZSJ9\"}", true },
    { "unknown media type that is text", "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"x\":"
      "\"data:application/octet-stream;base64,amFuZSByb2U=\"}", true },
    { "not base64 behind an image type", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\","
      "\"image_url\":{\"url\":\"data:image/png;base64,jane@@\"}}]}]}", false },
    { "input_audio data that is not base64", "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":"
      "\"input_audio\",\"input_audio\":{\"data\":\"jane roe\",\"format\":\"wav\"}}]}]}", false },
};

Test(request, every_string_is_indexed)
{
    for (size_t i = 0; i < TG_ARRAY_LEN(hidden); i++) {
        struct tg_err err = {0};
        memset(&R, 0, sizeof(R));
        cr_assert_eq(parse(hidden[i].body, &err), TG_OK, "%s: %s", hidden[i].what, err.msg);
        int k = part_with("jane");
        cr_assert_geq(k, 0, "%s: 'jane' is not in any part", hidden[i].what);
        cr_assert_eq(R.parts[k].unredactable, hidden[i].unredactable, "%s", hidden[i].what);
        if (hidden[i].unredactable)
            cr_assert_null(R.parts[k].node, "%s: an unredactable part has no node", hidden[i].what);
        else
            cr_assert_str_eq(R.parts[k].node->valuestring, R.parts[k].text, "%s", hidden[i].what);
        tg_request_dispose(&R);
    }
}

Test(request, structural_fields_are_not_text)
{
    struct tg_err err = {0};
    cr_assert_eq(parse("{\"model\":\"gpt-4o-2024-08-06\",\"tool_choice\":\"auto\",\"modalities\":[\"text\"],"
                       "\"reasoning_effort\":\"low\",\"messages\":["
                       "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_AbC123\","
                       "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]},"
                       "{\"role\":\"tool\",\"tool_call_id\":\"call_AbC123\",\"content\":\"ok\"},"
                       "{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
                       "{\"url\":\"https://x.test/a.png\",\"detail\":\"high\"}}]}],"
                       "\"response_format\":{\"type\":\"json_object\"}}", &err), TG_OK, "%s", err.msg);
    /* f, {}, ok, the remote url: nothing else */
    cr_assert_eq(R.nparts, 4);
    cr_assert_str_eq(R.parts[0].text, "f");
    cr_assert_eq(R.parts[1].kind, TG_PART_TOOL_ARGS);
    cr_assert_str_eq(R.parts[2].text, "ok");
    cr_assert_eq(R.parts[2].kind, TG_PART_CONTENT);
    cr_assert_str_eq(R.parts[3].text, "https://x.test/a.png");
    cr_assert_eq(R.parts[3].kind, TG_PART_OTHER);
}

Test(request, top_level_parts_have_no_message)
{
    struct tg_err err = {0};
    cr_assert_eq(parse("{\"user\":\"u-1 x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", &err),
                 TG_OK, "%s", err.msg);
    cr_assert_eq(R.nparts, 2);
    cr_assert_str_eq(R.parts[0].text, "u-1 x");
    cr_assert_eq(R.parts[0].message, TG_PART_NO_MESSAGE);
    cr_assert_eq(R.parts[0].kind, TG_PART_OTHER);
    cr_assert_eq(R.parts[1].message, 0);
}

Test(request, data_urls_decoded_or_counted)
{
    struct tg_err err = {0};
    /* text data URL: decoded into a part, not charged as an image */
    cr_assert_eq(parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
                       "{\"url\":\"data:text/plain;charset=utf-8;base64,aGVsbG8gd29ybGQ=\"}}]}]}", &err),
                 TG_OK, "%s", err.msg);
    cr_assert_eq(R.data_urls, 0);
    cr_assert_eq(R.decoded_parts, 1);
    cr_assert_eq(R.nparts, 1);
    cr_assert_eq(R.parts[0].len, 11);
    cr_assert_eq(memcmp(R.parts[0].text, "hello world", 11), 0);
    cr_assert(R.parts[0].unredactable);
    tg_request_dispose(&R);

    /* image: counted, never decoded */
    cr_assert_eq(parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
                       "{\"url\":\"DATA:image/png;base64,aGVsbG8gd29ybGQ=\"}}]}]}", &err), TG_OK);
    cr_assert_eq(R.data_urls, 1);
    cr_assert_eq(R.nparts, 0);
    cr_assert_eq(R.opaque_payloads, 0);
    tg_request_dispose(&R);

    /* binary payload of no media type we know (a PDF): opaque */
    cr_assert_eq(parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":"
                       "{\"file_data\":\"data:application/pdf;base64,JVBERi0xLjcKJeLjz9MK\"}}]}]}", &err),
                 TG_OK, "%s", err.msg);
    cr_assert_eq(R.opaque_payloads, 1);
    cr_assert_eq(R.data_urls, 1);
    cr_assert_eq(part_with("JVBER"), -1, "the base64 itself is not scanned as text");
    tg_request_dispose(&R);

    /* raw base64 audio stays out of the text, as before */
    cr_assert_eq(parse("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
                       "\"input_audio\":{\"data\":\"UklGRiQAAABXQVZF\",\"format\":\"wav\"}}]}]}", &err), TG_OK);
    cr_assert_eq(R.nparts, 0);
}

Test(request, duplicate_keys_rejected)
{
    static const struct { const char *body, *msg; } dup[] = {
        { "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"messages\":[{\"role\":\"user\",\"content\":\"b\"}]}",
          "duplicate key 'messages' in request body" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":\"a\",\"content\":\"b\"}]}",
          "duplicate key 'content'" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\",\"text\":\"b\"}]}]}",
          "duplicate key 'text'" },
        { "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"x\":{\"y\":{\"k\":1,\"k\":2}}}",
          "duplicate key 'k'" },
        /* a key that could be personal data is not echoed */
        { "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"metadata\":{\"jane@x.test\":1,\"jane@x.test\":2}}",
          "duplicate key in request body" },
    };
    for (size_t i = 0; i < TG_ARRAY_LEN(dup); i++) {
        struct tg_err err = {0};
        memset(&R, 0, sizeof(R));
        cr_assert_eq(parse(dup[i].body, &err), TG_EINVAL, "case %zu", i);
        cr_assert_not_null(strstr(err.msg, dup[i].msg), "case %zu: '%s'", i, err.msg);
        cr_assert_null(strstr(err.msg, "jane"), "case %zu: key echoed", i);
        cr_assert_null(R.body);
    }

    /* a big object (sorted path): 40 distinct keys pass, a repeated one fails */
    char b[2048];
    size_t o = (size_t)snprintf(b, sizeof(b), "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"logit_bias\":{");
    for (int k = 0; k < 40; k++)
        o += (size_t)snprintf(b + o, sizeof(b) - o, "%s\"%d\":1", k ? "," : "", k * 7);
    struct tg_err err = {0};
    snprintf(b + o, sizeof(b) - o, "}}");
    memset(&R, 0, sizeof(R));
    cr_assert_eq(parse(b, &err), TG_OK, "%s", err.msg);
    tg_request_dispose(&R);
    snprintf(b + o, sizeof(b) - o, ",\"133\":2}}");
    cr_assert_eq(parse(b, &err), TG_EINVAL);
    cr_assert_not_null(strstr(err.msg, "duplicate key '133'"), "%s", err.msg);
}

Test(request, part_limit_counts_every_string)
{
    /* TG_MAX_TEXT_PARTS strings in an unknown array field, plus the content */
    size_t n = TG_MAX_TEXT_PARTS, cap = 128 + n * 4;
    char *b = malloc(cap);
    size_t o = (size_t)snprintf(b, cap, "{\"messages\":[{\"role\":\"user\",\"content\":\"a\"}],\"x\":[");
    for (size_t i = 0; i < n; i++)
        o += (size_t)snprintf(b + o, cap - o, "%s\"x\"", i ? "," : "");
    o += (size_t)snprintf(b + o, cap - o, "]}");
    struct tg_err err = {0};
    cr_assert_eq(tg_request_parse(b, o, &A, &R, &err), TG_ELIMIT, "%s", err.msg);
    cr_assert_not_null(strstr(err.msg, "text parts"));
    free(b);
}

/* ---- what the new parts mean to the pre-flight and to redaction -------------- */

#include "engine/pii.h"
#include "engine/preflight.h"
#include "engine/redact.h"

#ifndef TG_DATA_DIR
#define TG_DATA_DIR "."
#endif

static struct tg_policy *RP;
static struct tg_pii_scratch *RS;

static void
decide(const char *body, const char *category, struct tg_decision *d)
{
    struct tg_err err = {0};
    if (RP == NULL) {
        char path[512];
        struct tg_load_opts o = {0};
        snprintf(path, sizeof(path), "%s/tests/cases/policies/redact.yaml", TG_DATA_DIR);
        cr_assert_eq(tg_policy_load(path, &o, &RP, &err), TG_OK, "%s", err.msg);
        cr_assert_not_null(RP->pii);
        cr_assert_eq(tg_pii_scratch_new(RP->pii, &RS), TG_OK);
    }
    tg_request_dispose(&R);
    cr_assert_eq(tg_request_parse(body, strlen(body), &A, &R, &err), TG_OK, "%s", err.msg);
    R.tenant_id = "t-open";
    R.category = category;
    cr_assert_eq(tg_preflight_decide(RP, &R, NULL, RS, &A, d, &err), TG_OK, "%s", err.msg);
}

static bool
any_cand_reason(const struct tg_decision *d, const char *rule)
{
    for (uint32_t i = 0; i < d->ncands; i++)
        for (uint32_t k = 0; k < d->cands[i].nreasons; k++)
            if (strcmp(d->cands[i].reasons[k].rule, rule) == 0)
                return true;
    return false;
}

static void
pf_teardown(void)
{
    teardown();
    tg_pii_scratch_free(RS);
    if (RP != NULL)
        tg_policy_unref(RP);
    RP = NULL;
    RS = NULL;
}

TestSuite(request_preflight, .init = setup, .fini = pf_teardown);

/* rule "code" has pii_allowed: false, the policy on_violation: redact */
Test(request_preflight, pii_in_a_tool_description_is_redacted)
{
    struct tg_decision d;
    struct tg_err err = {0};
    decide("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":\"function\","
           "\"function\":{\"name\":\"f\",\"description\":\"send to jane.roe@example.com\"}}]}", "code", &d);
    cr_assert_eq(d.verdict, TG_REDACT);
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(tg_redact_body(&R, &d.findings, &A, &out, &len, &err), TG_OK, "%s", err.msg);
    cr_assert_null(strstr(out, "jane.roe"), "%s", out);
    cr_assert_not_null(strstr(out, "send to <EMAIL_ADDRESS"), "%s", out);
}

Test(request_preflight, pii_in_decoded_data_cannot_be_redacted)
{
    struct tg_decision d;
    struct tg_err err = {0};
    /* base64 of "jane.roe@example.com" */
    decide("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{\"filename\":\"a.txt\","
           "\"file_data\":\"data:text/plain;base64,amFuZS5yb2VAZXhhbXBsZS5jb20=\"}}]}]}", "code", &d);
    cr_assert_eq(d.npii, 1);
    cr_assert_str_eq(d.pii[0].entity, "EMAIL_ADDRESS");
    cr_assert_eq(d.verdict, TG_DENY, "masking decoded bytes cannot be written back");
    cr_assert(any_cand_reason(&d, "pii.unredactable"));
    /* and redaction itself refuses, should a caller ask anyway */
    char *out = NULL;
    size_t len = 0;
    cr_assert_eq(tg_redact_body(&R, &d.findings, &A, &out, &len, &err), TG_EINVAL);
    cr_assert_null(strstr(err.msg, "jane"));

    /* where personal data is allowed, the same request goes through */
    decide("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":{\"filename\":\"a.txt\","
           "\"file_data\":\"data:text/plain;base64,amFuZS5yb2VAZXhhbXBsZS5jb20=\"}}]}]}", "qa", &d);
    cr_assert_eq(d.verdict, TG_ALLOW);
}

Test(request_preflight, pii_in_an_unknown_key_cannot_be_redacted)
{
    struct tg_decision d;
    decide("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
           "\"metadata\":{\"jane.roe@example.com\":\"x\"}}", "code", &d);
    cr_assert_eq(d.npii, 1);
    cr_assert_eq(d.verdict, TG_DENY);
    cr_assert(any_cand_reason(&d, "pii.unredactable"));
}

Test(request_preflight, opaque_payload_is_unscannable)
{
    struct tg_decision d;
    static const char pdf[] =
        "{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"file\",\"file\":"
        "{\"file_data\":\"data:application/pdf;base64,JVBERi0xLjcKJeLjz9MK\"}}]}]}";
    decide(pdf, "code", &d);
    cr_assert(d.findings.unscannable);
    cr_assert_eq(d.verdict, TG_DENY);
    decide(pdf, "qa", &d);
    cr_assert_eq(d.verdict, TG_ALLOW, "PII allowed everywhere: an unscannable file is fine");

    /* an image is not opaque: counted, allowed */
    decide("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
           "{\"url\":\"data:image/png;base64,iVBORw0KGgo=\"}}]}]}", "code", &d);
    cr_assert(!d.findings.unscannable);
    cr_assert_eq(d.verdict, TG_ALLOW);
}

/* Text after a NUL would be forwarded but never scanned: such bodies are refused. */
Test(request, nul_is_rejected_raw_and_escaped)
{
    static const char esc[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000 jane@example.com\"}]}";
    static const char raw[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"a\0b\"}]}";
    static const char lit[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"path C:\\\\u0000x\"}]}";
    struct tg_arena a;
    struct tg_request r;
    struct tg_err err = {0};

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_request_parse(esc, sizeof(esc) - 1, &a, &r, &err), TG_EINVAL);
    cr_assert(strstr(err.msg, "NUL") != NULL, "%s", err.msg);
    cr_assert_null(r.body);
    cr_assert_eq(tg_request_parse(raw, sizeof(raw) - 1, &a, &r, &err), TG_EINVAL);
    /* An escaped backslash followed by "u0000" is ordinary text. */
    cr_assert_eq(tg_request_parse(lit, sizeof(lit) - 1, &a, &r, &err), TG_OK, "%s", err.msg);
    tg_request_dispose(&r);
    tg_arena_free(&a);
}

/* The pre-scan jumps through string content 16 bytes at a time: escapes and
 * quotes past the first block, at block edges and in the scalar tail must
 * still be seen, and brackets inside strings must not count as nesting. */
Test(request, prescan_long_strings)
{
    struct tg_arena a;
    struct tg_request r;
    struct tg_err err = {0};
    char body[4096];

    tg_arena_init(&a, 0);
    for (int pad = 0; pad < 40; pad++) {
        /* an escaped NUL after `pad` bytes of text and an escaped quote */
        int n = snprintf(body, sizeof(body),
                         "{\"messages\":[{\"role\":\"user\",\"content\":\"%.*s\\\"q\\u0000 x\"}]}", pad,
                         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
        cr_assert_eq(tg_request_parse(body, (size_t)n, &a, &r, &err), TG_EINVAL, "pad %d", pad);
        cr_assert(strstr(err.msg, "NUL") != NULL, "pad %d: %s", pad, err.msg);
        /* the same with the backslash itself escaped: ordinary text */
        n = snprintf(body, sizeof(body),
                     "{\"messages\":[{\"role\":\"user\",\"content\":\"%.*s\\\"q\\\\u0000 x\"}]}", pad,
                     "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
        cr_assert_eq(tg_request_parse(body, (size_t)n, &a, &r, &err), TG_OK, "pad %d: %s", pad, err.msg);
        tg_request_dispose(&r);
    }
    /* 300 brackets inside a string are text, not nesting */
    {
        int n = snprintf(body, sizeof(body), "{\"messages\":[{\"role\":\"user\",\"content\":\"");
        for (int i = 0; i < 300; i++)
            body[n++] = '[';
        n += snprintf(body + n, sizeof(body) - (size_t)n, "\"}]}");
        cr_assert_eq(tg_request_parse(body, (size_t)n, &a, &r, &err), TG_OK, "%s", err.msg);
        tg_request_dispose(&r);
    }
    /* ... and 300 real ones are too deep */
    {
        int n = snprintf(body, sizeof(body), "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"m\":");
        for (int i = 0; i < 300; i++)
            body[n++] = '[';
        cr_assert_eq(tg_request_parse(body, (size_t)n, &a, &r, &err), TG_ELIMIT);
    }
    tg_arena_free(&a);
}
