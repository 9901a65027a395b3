/* test_dialect_messages.c — the Anthropic Messages dialect: decoding to
 * the canonical chat body (which tg_request_parse must accept), refusals,
 * answer encoding, stream translation (whole, byte by byte, tool_use,
 * failure), count_tokens, the Anthropic error bodies, and the marker case
 * file tests/cases/dialects/messages_markers.cases. */
#include <criterion/criterion.h>

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/dialects/dialect.h"
#include "engine/request.h"

static struct tg_arena A;

static void setup(void) { tg_arena_init(&A, 0); }
static void teardown(void) { tg_arena_free(&A); }

TestSuite(messages, .init = setup, .fini = teardown);

static const struct tg_dialect_ops *
M(void)
{
    return tg_dialect_get(TG_DIALECT_MESSAGES);
}

/* Decode with the Messages (or count_tokens) ops; returns rc. */
static int
dec_with(enum tg_dialect_id id, const char *body, struct tg_dialect_ctx *ctx, char **canon,
         struct tg_err *err)
{
    size_t n = 0;
    memset(ctx, 0, sizeof(*ctx));
    ctx->id = id;
    ctx->answer_id = "dec1";
    *canon = NULL;
    return tg_dialect_get(id)->decode(body, strlen(body), &A, ctx, canon, &n, err);
}

/* Decode, then require the canonical text to be a chat request the engine
 * accepts; returns the canonical body as a cJSON tree (caller deletes). */
static cJSON *
decode_ok(const char *body, struct tg_dialect_ctx *ctx)
{
    struct tg_err err = { 0 };
    struct tg_request r;
    char *canon;
    cJSON *j;
    int rc = dec_with(TG_DIALECT_MESSAGES, body, ctx, &canon, &err);

    cr_assert_eq(rc, TG_OK, "decode: %s", err.msg);
    cr_assert_eq(tg_request_parse(canon, strlen(canon), &A, &r, &err), TG_OK,
                 "canonical rejected (%s): %s", err.msg, canon);
    tg_request_dispose(&r);
    j = cJSON_Parse(canon);
    cr_assert_not_null(j);
    return j;
}

static void
decode_refused(const char *body, int want, const char *msg_part)
{
    struct tg_dialect_ctx ctx;
    struct tg_err err = { 0 };
    char *canon = (char *)"untouched";
    int rc;

    memset(&ctx, 0, sizeof(ctx));
    {
        size_t n = 0;
        rc = M()->decode(body, strlen(body), &A, &ctx, &canon, &n, &err);
    }
    cr_assert_eq(rc, want, "rc %d (%s) for %s", rc, err.msg, body);
    cr_assert_str_eq(canon, "untouched", "output left untouched on failure");
    if (msg_part != NULL)
        cr_assert(strstr(err.msg, msg_part) != NULL, "message '%s' lacks '%s'", err.msg, msg_part);
}

static const char *
str_at(const cJSON *j, const char *path)
{
    /* path: dot-separated keys and [n] indexes, e.g. "messages[1].content" */
    char buf[256], *p = buf, *tok;
    const cJSON *cur = j;

    snprintf(buf, sizeof(buf), "%s", path);
    while ((tok = strsep(&p, ".")) != NULL && cur != NULL) {
        char *br = strchr(tok, '[');
        if (br != NULL) {
            *br = '\0';
            if (*tok)
                cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
            while (br != NULL && cur != NULL) {
                cur = cJSON_GetArrayItem(cur, atoi(br + 1));
                br = strchr(br + 1, '[');
            }
        } else {
            cur = cJSON_GetObjectItemCaseSensitive(cur, tok);
        }
    }
    return cJSON_IsString(cur) ? cur->valuestring : NULL;
}

/* Whether the JSON text of j contains s. */
static bool
printed_contains(const cJSON *j, const char *s)
{
    char *t = cJSON_PrintUnformatted(j);
    bool r = t != NULL && strstr(t, s) != NULL;
    free(t);
    return r;
}

static const cJSON *
at(const cJSON *j, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(j, key);
}

/* ---- decode ------------------------------------------------------------------ */

Test(messages, minimal_string_content)
{
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"claude-x\",\"max_tokens\":64,\"system\":\"be brief\","
                         "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}", &ctx);

    cr_assert_str_eq(ctx.client_model, "claude-x");
    cr_assert(!ctx.stream);
    cr_assert_str_eq(str_at(j, "model"), "claude-x");
    cr_assert_eq(cJSON_GetArraySize(at(j, "messages")), 2);
    cr_assert_str_eq(str_at(j, "messages[0].role"), "system");
    cr_assert_str_eq(str_at(j, "messages[0].content"), "be brief");
    cr_assert_str_eq(str_at(j, "messages[1].role"), "user");
    cr_assert_str_eq(str_at(j, "messages[1].content"), "hello");
    cr_assert_eq(at(j, "max_tokens")->valuedouble, 64);
    cr_assert_null(at(j, "stream"));
    cJSON_Delete(j);
}

Test(messages, system_blocks_and_text_blocks_join)
{
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":1,"
        "\"system\":[{\"type\":\"text\",\"text\":\"one\",\"cache_control\":{\"type\":\"ephemeral\"}},"
        "{\"type\":\"text\",\"text\":\"two\"}],"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
        "{\"type\":\"text\",\"text\":\"b\",\"cache_control\":{\"type\":\"ephemeral\"}}]}]}", &ctx);

    cr_assert_str_eq(str_at(j, "messages[0].content"), "one\n\ntwo");
    cr_assert_str_eq(str_at(j, "messages[1].content"), "a\n\nb");
    cr_assert(!printed_contains(j, "cache_control"));
    cJSON_Delete(j);
}

Test(messages, images_become_image_url_parts)
{
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"text\",\"text\":\"look\"},"
        "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\"}},"
        "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x.example/a.png\"}}]}]}", &ctx);

    cr_assert_str_eq(str_at(j, "messages[0].content[0].type"), "text");
    cr_assert_str_eq(str_at(j, "messages[0].content[0].text"), "look");
    cr_assert_str_eq(str_at(j, "messages[0].content[1].type"), "image_url");
    cr_assert_str_eq(str_at(j, "messages[0].content[1].image_url.url"),
                     "data:image/png;base64,iVBORw0KGgo=");
    cr_assert_str_eq(str_at(j, "messages[0].content[2].image_url.url"), "https://x.example/a.png");
    cJSON_Delete(j);
}

Test(messages, tool_use_and_tool_result_round)
{
    struct tg_dialect_ctx ctx;
    cJSON *args;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":1,\"messages\":["
        "{\"role\":\"user\",\"content\":\"weather?\"},"
        "{\"role\":\"assistant\",\"content\":["
        "{\"type\":\"thinking\",\"thinking\":\"secret plan\",\"signature\":\"sig\"},"
        "{\"type\":\"text\",\"text\":\"checking\"},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\",\"n\":2}},"
        "{\"type\":\"tool_use\",\"id\":\"toolu_2\",\"name\":\"get_time\",\"input\":{}}]},"
        "{\"role\":\"user\",\"content\":["
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"18C\"},"
        "{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_2\",\"is_error\":true,\"content\":["
        "{\"type\":\"text\",\"text\":\"clock broken\"},"
        "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x.example/c.png\"}}]},"
        "{\"type\":\"text\",\"text\":\"thanks\"}]}]}", &ctx);

    /* user, assistant, tool, tool, user */
    cr_assert_eq(cJSON_GetArraySize(at(j, "messages")), 5);
    cr_assert_str_eq(str_at(j, "messages[1].role"), "assistant");
    cr_assert_str_eq(str_at(j, "messages[1].content"), "checking");
    cr_assert_str_eq(str_at(j, "messages[1].tool_calls[0].id"), "toolu_1");
    cr_assert_str_eq(str_at(j, "messages[1].tool_calls[0].type"), "function");
    cr_assert_str_eq(str_at(j, "messages[1].tool_calls[0].function.name"), "get_weather");
    args = cJSON_Parse(str_at(j, "messages[1].tool_calls[0].function.arguments"));
    cr_assert_str_eq(str_at(args, "city"), "Paris");
    cr_assert_eq(at(args, "n")->valuedouble, 2);
    cJSON_Delete(args);
    cr_assert_str_eq(str_at(j, "messages[1].tool_calls[1].function.arguments"), "{}");
    cr_assert_str_eq(str_at(j, "messages[2].role"), "tool");
    cr_assert_str_eq(str_at(j, "messages[2].tool_call_id"), "toolu_1");
    cr_assert_str_eq(str_at(j, "messages[2].content"), "18C");
    cr_assert_str_eq(str_at(j, "messages[3].tool_call_id"), "toolu_2");
    cr_assert_str_eq(str_at(j, "messages[3].content"), "Error: clock broken");
    /* the tool result's image moves to the user message that follows */
    cr_assert_str_eq(str_at(j, "messages[4].role"), "user");
    cr_assert_str_eq(str_at(j, "messages[4].content[0].image_url.url"), "https://x.example/c.png");
    cr_assert_str_eq(str_at(j, "messages[4].content[1].text"), "thanks");
    /* thinking never leaves tollgate */
    cr_assert(!printed_contains(j, "secret plan"));
    cJSON_Delete(j);
}

Test(messages, tool_result_only_turn_has_no_user_message)
{
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":1,\"messages\":["
        "{\"role\":\"user\",\"content\":\"go\"},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\"}]}]}", &ctx);

    cr_assert_eq(cJSON_GetArraySize(at(j, "messages")), 3);
    cr_assert(cJSON_IsNull(at(cJSON_GetArrayItem(at(j, "messages"), 1), "content")));
    cr_assert_str_eq(str_at(j, "messages[2].role"), "tool");
    cr_assert_str_eq(str_at(j, "messages[2].content"), "");
    cJSON_Delete(j);
}

Test(messages, documents)
{
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":["
        "{\"type\":\"document\",\"title\":\"T\",\"context\":\"C\",\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":\"body\"}},"
        "{\"type\":\"document\",\"title\":\"r.pdf\",\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\",\"data\":\"JVBERi0xLjQK\"}},"
        "{\"type\":\"document\",\"source\":{\"type\":\"content\",\"content\":[{\"type\":\"text\",\"text\":\"chunk\"}]}}]}]}",
        &ctx);

    cr_assert_str_eq(str_at(j, "messages[0].content[0].text"), "T");
    cr_assert_str_eq(str_at(j, "messages[0].content[1].text"), "C");
    cr_assert_str_eq(str_at(j, "messages[0].content[2].text"), "body");
    cr_assert_str_eq(str_at(j, "messages[0].content[3].type"), "file");
    cr_assert_str_eq(str_at(j, "messages[0].content[3].file.filename"), "r.pdf");
    cr_assert_str_eq(str_at(j, "messages[0].content[3].file.file_data"),
                     "data:application/pdf;base64,JVBERi0xLjQK");
    cr_assert_str_eq(str_at(j, "messages[0].content[4].text"), "chunk");
    cJSON_Delete(j);
}

Test(messages, pdf_is_an_opaque_payload_for_the_engine)
{
    struct tg_dialect_ctx ctx;
    struct tg_err err = { 0 };
    struct tg_request r;
    char *canon;

    cr_assert_eq(dec_with(TG_DIALECT_MESSAGES, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":"
        "\"user\",\"content\":[{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":"
        "\"application/pdf\",\"data\":\"JVBERi0xLjQKJeLjz9MKMSAwIG9iago8PC9UeXBlIC9DYXRhbG9nPj4KZW5kb2JqCg==\"}}]}]}",
        &ctx, &canon, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_request_parse(canon, strlen(canon), &A, &r, &err), TG_OK, "%s", err.msg);
    /* the engine cannot vouch for a PDF: it fails closed for PII-restricted models */
    cr_assert_eq(r.opaque_payloads, 1);
    tg_request_dispose(&r);
}

Test(messages, tools_and_tool_choice)
{
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"tools\":[{\"name\":\"f\",\"description\":\"does f\",\"input_schema\":{\"type\":\"object\","
        "\"properties\":{\"a\":{\"type\":\"string\"}}},\"cache_control\":{\"type\":\"ephemeral\"}},"
        "{\"type\":\"web_search_20250305\",\"name\":\"web_search\",\"max_uses\":3},"
        "{\"type\":\"bash_20250124\",\"name\":\"bash\"},"
        "{\"type\":\"custom\",\"name\":\"g\",\"input_schema\":{\"type\":\"object\"}}],"
        "\"tool_choice\":{\"type\":\"tool\",\"name\":\"g\",\"disable_parallel_tool_use\":true}}", &ctx);

    cr_assert_eq(cJSON_GetArraySize(at(j, "tools")), 2);
    cr_assert_str_eq(str_at(j, "tools[0].type"), "function");
    cr_assert_str_eq(str_at(j, "tools[0].function.name"), "f");
    cr_assert_str_eq(str_at(j, "tools[0].function.description"), "does f");
    cr_assert_str_eq(str_at(j, "tools[0].function.parameters.properties.a.type"), "string");
    cr_assert_str_eq(str_at(j, "tools[1].function.name"), "g");
    cr_assert_str_eq(str_at(j, "tool_choice.type"), "function");
    cr_assert_str_eq(str_at(j, "tool_choice.function.name"), "g");
    cr_assert(cJSON_IsFalse(at(j, "parallel_tool_calls")));
    cJSON_Delete(j);
}

Test(messages, tool_choice_kinds)
{
    static const char *const in[] = { "auto", "any", "none" };
    static const char *const out[] = { "auto", "required", "none" };
    for (int i = 0; i < 3; i++) {
        struct tg_dialect_ctx ctx;
        char body[512];
        cJSON *j;
        snprintf(body, sizeof(body), "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\","
                 "\"content\":\"x\"}],\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}],"
                 "\"tool_choice\":{\"type\":\"%s\"}}", in[i]);
        j = decode_ok(body, &ctx);
        cr_assert_str_eq(str_at(j, "tool_choice"), out[i], "%s", in[i]);
        cr_assert_null(at(j, "parallel_tool_calls"));
        cJSON_Delete(j);
    }
}

Test(messages, only_server_tools_leave_no_tools)
{
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}],\"tool_choice\":{\"type\":\"any\"}}",
        &ctx);

    cr_assert_null(at(j, "tools"));
    cr_assert_null(at(j, "tool_choice"));
    cJSON_Delete(j);
}

Test(messages, parameters_stream_metadata)
{
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":100,\"stream\":true,\"temperature\":0.5,"
        "\"top_p\":0.9,\"top_k\":5,\"stop_sequences\":[\"END\",\"STOP\"],\"thinking\":{\"type\":\"enabled\","
        "\"budget_tokens\":2048},\"service_tier\":\"auto\",\"container\":\"c1\",\"mcp_servers\":[],"
        "\"metadata\":{\"user_id\":\"u-1\",\"category\":\"code_generation\"},"
        "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &ctx);

    cr_assert(ctx.stream);
    cr_assert(cJSON_IsTrue(at(j, "stream")));
    cr_assert(cJSON_IsTrue(at(at(j, "stream_options"), "include_usage")));
    cr_assert_float_eq(at(j, "temperature")->valuedouble, 0.5, 1e-12);
    cr_assert_float_eq(at(j, "top_p")->valuedouble, 0.9, 1e-12);
    cr_assert_str_eq(str_at(j, "stop[0]"), "END");
    cr_assert_str_eq(str_at(j, "stop[1]"), "STOP");
    cr_assert_str_eq(str_at(j, "user"), "u-1");
    cr_assert_str_eq(str_at(j, "metadata.category"), "code_generation");
    cr_assert_null(at(j, "top_k"));
    cr_assert_null(at(j, "thinking"));
    cr_assert_null(at(j, "service_tier"));
    cr_assert_null(at(j, "container"));
    cr_assert_null(at(j, "mcp_servers"));
    cJSON_Delete(j);
}

Test(messages, category_reaches_the_engine)
{
    struct tg_dialect_ctx ctx;
    struct tg_err err = { 0 };
    struct tg_request r;
    char *canon;

    cr_assert_eq(dec_with(TG_DIALECT_MESSAGES, "{\"model\":\"m\",\"max_tokens\":1,\"metadata\":"
        "{\"category\":\"code_generation\"},\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
        &ctx, &canon, &err), TG_OK);
    cr_assert_eq(tg_request_parse(canon, strlen(canon), &A, &r, &err), TG_OK, "%s", err.msg);
    cr_assert_str_eq(r.meta_category, "code_generation");
    cr_assert_eq(r.max_tokens, 1);
    tg_request_dispose(&r);
}

Test(messages, output_config_format_becomes_response_format)
{
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
        "\"output_config\":{\"effort\":\"high\",\"format\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"object\"}}}}",
        &ctx);

    cr_assert_str_eq(str_at(j, "response_format.type"), "json_schema");
    cr_assert_str_eq(str_at(j, "response_format.json_schema.schema.type"), "object");
    cJSON_Delete(j);
}

Test(messages, system_role_message_and_escapes)
{
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":1,\"messages\":["
        "{\"role\":\"system\",\"content\":\"rules\"},"
        "{\"role\":\"user\",\"content\":\"q\\\"uote \\\\ back\\n\\u00e9\\u0001\"}]}", &ctx);

    cr_assert_str_eq(str_at(j, "messages[0].role"), "system");
    cr_assert_str_eq(str_at(j, "messages[1].content"), "q\"uote \\ back\n\xc3\xa9\x01");
    cJSON_Delete(j);
}

Test(messages, refusals)
{
    decode_refused("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   TG_EINVAL, "max_tokens");
    decode_refused("{\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   TG_EINVAL, "model");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[]}", TG_EINVAL, "messages");
    decode_refused("{\"model\":\"m\",\"max_tokens\":-1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   TG_EINVAL, "max_tokens");
    decode_refused("{\"model\":\"m\",\"max_tokens\":\"9\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   TG_EINVAL, "max_tokens");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"stream\":\"yes\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
                   TG_EINVAL, "stream");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"tool\",\"content\":\"x\"}]}",
                   TG_EINVAL, "messages[0].role");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":7}]}",
                   TG_EINVAL, "messages[0].content");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":["
                   "{\"type\":\"server_tool_use\",\"id\":\"s\",\"name\":\"web_search\",\"input\":{}}]}]}",
                   TG_EINVAL, "server_tool_use");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"assistant\",\"content\":["
                   "{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"s\",\"content\":[]}]}]}",
                   TG_EINVAL, "web_search_tool_result");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":["
                   "{\"type\":\"hologram\",\"text\":\"x\"}]}]}", TG_EINVAL, "messages[0].content[0]");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":["
                   "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{}}]}]}",
                   TG_EINVAL, "assistant");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"assistant\",\"content\":["
                   "{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":\"x\"}]}]}",
                   TG_EINVAL, "user messages");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":["
                   "{\"type\":\"image\",\"source\":{\"type\":\"file\",\"file_id\":\"f\"}}]}]}",
                   TG_EINVAL, "image sources");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":["
                   "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png,x\",\"data\":\"AA==\"}}]}]}",
                   TG_EINVAL, "media_type");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":["
                   "{\"type\":\"document\",\"source\":{\"type\":\"url\",\"url\":\"https://x/a.pdf\"}}]}]}",
                   TG_EINVAL, "document sources");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":["
                   "{\"type\":\"document\",\"source\":{\"type\":\"base64\",\"media_type\":\"application/zip\",\"data\":\"AA==\"}}]}]}",
                   TG_EINVAL, "application/pdf");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"tools\":[{\"type\":\"teleport_20990101\",\"name\":\"t\"}]}", TG_EINVAL, "tools[0]");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"tools\":[{\"name\":\"f\"}]}", TG_EINVAL, "input_schema");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"tools\":[{\"name\":\"f\",\"input_schema\":{}}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"g\"}}",
                   TG_EINVAL, "tool_choice");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"tool_choice\":{\"type\":\"sometimes\"}}", TG_EINVAL, "tool_choice");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"a\\u0000b\"}]}",
                   TG_EINVAL, "NUL");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"a\\\\\\u0000b\"}]}",
                   TG_EINVAL, "NUL");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]} x",
                   TG_EINVAL, "trailing");
    decode_refused("{\"model\":", TG_EINVAL, "not valid JSON");
    decode_refused("[1]", TG_EINVAL, "object");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"system\":\"a\",\"system\":\"b\","
                   "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", TG_EINVAL, "duplicate key");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"assistant\",\"content\":"
                   "[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{\"k\":1,\"k\":2}}]}]}",
                   TG_EINVAL, "duplicate key");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"stop_sequences\":[1]}", TG_EINVAL, "stop_sequences");
    decode_refused("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                   "\"metadata\":{\"user_id\":5}}", TG_EINVAL, "metadata");
}

Test(messages, escaped_backslash_before_u0000_is_text)
{
    /* "\\u0000" in JSON is a backslash then the text u0000, not a NUL */
    struct tg_dialect_ctx ctx;
    cJSON *j = decode_ok("{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\","
                         "\"content\":\"see \\\\u0000 and \\\\\\\\u0000\"}]}", &ctx);
    cr_assert_str_eq(str_at(j, "messages[0].content"), "see \\u0000 and \\\\u0000");
    cJSON_Delete(j);
}

Test(messages, refusal_messages_carry_no_request_text)
{
    struct tg_dialect_ctx ctx;
    struct tg_err err = { 0 };
    char *canon;

    /* a block type and a tool type made of personal data are never echoed */
    cr_assert_eq(dec_with(TG_DIALECT_MESSAGES, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":"
        "\"user\",\"content\":[{\"type\":\"jane.doe@example.com\"}]}]}", &ctx, &canon, &err), TG_EINVAL);
    cr_assert_null(strstr(err.msg, "jane"), "%s", err.msg);
    cr_assert_eq(dec_with(TG_DIALECT_MESSAGES, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":"
        "\"user\",\"content\":\"x\"}],\"tools\":[{\"type\":\"jane.doe@example.com\"}]}", &ctx, &canon,
        &err), TG_EINVAL);
    cr_assert_null(strstr(err.msg, "jane"), "%s", err.msg);
}

Test(messages, depth_cap_keeps_canonical_within_engine_cap)
{
    /* input_schema nested to the decoder's cap still gives a canonical body
     * the engine accepts; one level more is refused by the decoder */
    char body[4096];
    struct tg_dialect_ctx ctx;
    struct tg_err err = { 0 };
    struct tg_request r;
    char *canon;
    for (int extra = 0; extra < 2; extra++) {
        size_t n = 0;
        /* root{ tools[ tool{ input_schema{ ... } } } : depth 4 before nesting */
        int levels = 63 - 4 + extra;
        n += (size_t)snprintf(body + n, sizeof(body) - n, "{\"model\":\"m\",\"max_tokens\":1,"
                              "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"tools\":[{\"name\":\"f\","
                              "\"input_schema\":{\"type\":\"object\"");
        for (int i = 0; i < levels; i++)
            n += (size_t)snprintf(body + n, sizeof(body) - n, ",\"p\":{\"k\":1");
        for (int i = 0; i < levels; i++)
            n += (size_t)snprintf(body + n, sizeof(body) - n, "}");
        n += (size_t)snprintf(body + n, sizeof(body) - n, "}}]}");
        int rc = dec_with(TG_DIALECT_MESSAGES, body, &ctx, &canon, &err);
        if (extra == 0) {
            cr_assert_eq(rc, TG_OK, "%s", err.msg);
            cr_assert_eq(tg_request_parse(canon, strlen(canon), &A, &r, &err), TG_OK, "%s", err.msg);
            tg_request_dispose(&r);
        } else {
            cr_assert_eq(rc, TG_ELIMIT, "%s", err.msg);
        }
    }
}

Test(messages, canonical_body_past_the_engine_cap_is_a_limit)
{
    /* 2.5 MiB of quotes in a tool input: escaped once more inside
     * `arguments`, the canonical body would pass 4 MiB */
    size_t q = 2600u * 1024u, n = 0;
    char *body = malloc(q + 512);
    struct tg_dialect_ctx ctx;
    struct tg_err err = { 0 };
    char *canon;

    n += (size_t)snprintf(body, q + 512, "{\"model\":\"m\",\"max_tokens\":1,\"messages\":[{\"role\":\"assistant\","
                         "\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{\"s\":\"");
    for (size_t i = 0; i + 1 < q; i += 2) {
        body[n++] = '\\';
        body[n++] = '"';
    }
    n += (size_t)snprintf(body + n, q + 512 - n, "\"}}]}]}");
    cr_assert_lt(n, 4u * 1024u * 1024u);
    cr_assert_eq(dec_with(TG_DIALECT_MESSAGES, body, &ctx, &canon, &err), TG_ELIMIT, "%s", err.msg);
    cr_assert(strstr(err.msg, "translated request") != NULL, "%s", err.msg);
    free(body);
}

Test(messages, every_allocation_failure_fails_cleanly)
{
    const char *body = "{\"model\":\"m\",\"max_tokens\":1,\"system\":[{\"type\":\"text\",\"text\":\"s\"}],"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
        "{\"type\":\"image\",\"source\":{\"type\":\"url\",\"url\":\"https://x/i.png\"}}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"f\",\"input\":{\"a\":[1,2]}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t\",\"content\":[{\"type\":\"text\",\"text\":\"r\"}]}]}],"
        "\"stop_sequences\":[\"x\"],\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}]}";
    bool ok = false;

    for (long n = 1; n < 200 && !ok; n++) {
        struct tg_arena a;
        struct tg_dialect_ctx ctx = { 0 };
        struct tg_err err = { 0 };
        char *canon = NULL;
        size_t len = 0;
        int rc;
        tg_arena_init(&a, 0);
        tg_arena_fail_after(n);
        rc = M()->decode(body, strlen(body), &a, &ctx, &canon, &len, &err);
        tg_arena_fail_after(0);
        if (rc == TG_OK) {
            ok = true;
            cr_assert_not_null(canon);
        } else {
            cr_assert_eq(rc, TG_ENOMEM, "allocation %ld: rc %d (%s)", n, rc, err.msg);
            cr_assert_null(canon);
        }
        tg_arena_free(&a);
    }
    cr_assert(ok, "decode never succeeded");
}

/* ---- count_tokens ---------------------------------------------------------------- */

Test(messages, count_tokens_needs_no_max_tokens)
{
    struct tg_dialect_ctx ctx;
    struct tg_err err = { 0 };
    struct tg_request r;
    char *canon;
    const struct tg_dialect_ops *ct = tg_dialect_get(TG_DIALECT_COUNT_TOKENS);

    cr_assert_not_null(ct->decode);
    cr_assert_null(ct->encode_answer);
    cr_assert_null(ct->stream_new);
    cr_assert_eq(dec_with(TG_DIALECT_COUNT_TOKENS, "{\"model\":\"m\",\"stream\":true,\"system\":\"s\","
        "\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}],"
        "\"tools\":[{\"name\":\"f\",\"input_schema\":{\"type\":\"object\"}}]}", &ctx, &canon, &err),
        TG_OK, "%s", err.msg);
    cr_assert(!ctx.stream);
    cr_assert_null(strstr(canon, "\"stream\""));
    cr_assert_eq(tg_request_parse(canon, strlen(canon), &A, &r, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(r.max_tokens, -1);
    cr_assert_gt(tg_request_estimate_tokens(&r), 3);
    tg_request_dispose(&r);
    /* the rest of the Messages rules still hold */
    cr_assert_eq(dec_with(TG_DIALECT_COUNT_TOKENS, "{\"model\":\"m\",\"messages\":[{\"role\":\"user\","
        "\"content\":[{\"type\":\"server_tool_use\"}]}]}", &ctx, &canon, &err), TG_EINVAL);
    cr_assert_eq(tg_dialect_for_path("/v1/messages/count_tokens?beta=true", 35), ct);
    cr_assert_eq(tg_dialect_for_path("/v1/messages?beta=true", 22), M());
}

/* ---- answers ------------------------------------------------------------------- */

static cJSON *
answer(const char *chat, const char *stops_body)
{
    struct tg_dialect_ctx ctx;
    struct tg_err err = { 0 };
    char *canon, *out = NULL;
    size_t n = 0;
    cJSON *j;
    char body[512];

    snprintf(body, sizeof(body), "{\"model\":\"claude-client\",\"max_tokens\":5,%s\"messages\":"
             "[{\"role\":\"user\",\"content\":\"x\"}]}", stops_body ? stops_body : "");
    cr_assert_eq(dec_with(TG_DIALECT_MESSAGES, body, &ctx, &canon, &err), TG_OK, "%s", err.msg);
    ctx.answer_id = "abc123";
    cr_assert_eq(M()->encode_answer(&ctx, chat, strlen(chat), &out, &n, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(strlen(out), n);
    j = cJSON_Parse(out);
    cr_assert_not_null(j, "%s", out);
    free(out);
    return j;
}

Test(messages, answer_text)
{
    cJSON *j = answer("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"deepseek\","
        "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hi \\\"there\\\"\"},"
        "\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":3,\"total_tokens\":14}}",
        NULL);

    cr_assert_str_eq(str_at(j, "id"), "msg_abc123");
    cr_assert_str_eq(str_at(j, "type"), "message");
    cr_assert_str_eq(str_at(j, "role"), "assistant");
    cr_assert_str_eq(str_at(j, "model"), "claude-client");
    cr_assert_eq(cJSON_GetArraySize(at(j, "content")), 1);
    cr_assert_str_eq(str_at(j, "content[0].type"), "text");
    cr_assert_str_eq(str_at(j, "content[0].text"), "Hi \"there\"");
    cr_assert_str_eq(str_at(j, "stop_reason"), "end_turn");
    cr_assert(cJSON_IsNull(at(j, "stop_sequence")));
    cr_assert_eq(at(at(j, "usage"), "input_tokens")->valuedouble, 11);
    cr_assert_eq(at(at(j, "usage"), "output_tokens")->valuedouble, 3);
    cr_assert_eq(at(at(j, "usage"), "cache_creation_input_tokens")->valuedouble, 0);
    cr_assert_eq(at(at(j, "usage"), "cache_read_input_tokens")->valuedouble, 0);
    cJSON_Delete(j);
}

Test(messages, answer_tool_calls)
{
    cJSON *j = answer("{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\","
        "\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"get\","
        "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"days\\\":[1,2]}\"}},"
        "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"now\",\"arguments\":\"\"}},"
        "{\"type\":\"function\",\"function\":{\"name\":\"bad\",\"arguments\":\"{\\\"a\\\":\"}}]},"
        "\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":100,\"completion_tokens\":9,"
        "\"prompt_tokens_details\":{\"cached_tokens\":60}}}", NULL);

    cr_assert_eq(cJSON_GetArraySize(at(j, "content")), 3);
    cr_assert_str_eq(str_at(j, "content[0].type"), "tool_use");
    cr_assert_str_eq(str_at(j, "content[0].id"), "call_1");
    cr_assert_str_eq(str_at(j, "content[0].name"), "get");
    cr_assert_str_eq(str_at(j, "content[0].input.city"), "Paris");
    cr_assert_eq(cJSON_GetArraySize(at(at(cJSON_GetArrayItem(at(j, "content"), 0), "input"), "days")), 2);
    cr_assert(cJSON_IsObject(at(cJSON_GetArrayItem(at(j, "content"), 1), "input")));
    cr_assert_null(at(cJSON_GetArrayItem(at(j, "content"), 1), "tollgate_arguments"));
    /* broken arguments: input {} and the model's text kept */
    cr_assert_str_eq(str_at(j, "content[2].id"), "toolu_abc123_2");
    cr_assert_eq(cJSON_GetArraySize(at(cJSON_GetArrayItem(at(j, "content"), 2), "input")), 0);
    cr_assert_str_eq(str_at(j, "content[2].tollgate_arguments"), "{\"a\":");
    cr_assert_str_eq(str_at(j, "stop_reason"), "tool_use");
    /* cached prompt tokens are reported apart, as Anthropic does */
    cr_assert_eq(at(at(j, "usage"), "input_tokens")->valuedouble, 40);
    cr_assert_eq(at(at(j, "usage"), "cache_read_input_tokens")->valuedouble, 60);
    cJSON_Delete(j);
}

Test(messages, answer_stop_reasons)
{
    static const char *const fin[] = { "length", "content_filter", "stop", "tool_calls" };
    static const char *const want[] = { "max_tokens", "refusal", "end_turn", "tool_use" };
    for (int i = 0; i < 4; i++) {
        char chat[256];
        cJSON *j;
        snprintf(chat, sizeof(chat), "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"x\"},"
                 "\"finish_reason\":\"%s\"}]}", fin[i]);
        j = answer(chat, NULL);
        cr_assert_str_eq(str_at(j, "stop_reason"), want[i], "%s", fin[i]);
        cJSON_Delete(j);
    }
}

Test(messages, answer_stop_sequence_when_the_provider_names_it)
{
    cJSON *j = answer("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"x\"},"
                      "\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}]}",
                      "\"stop_sequences\":[\"STOP\",\"END\"],");
    cr_assert_str_eq(str_at(j, "stop_reason"), "stop_sequence");
    cr_assert_str_eq(str_at(j, "stop_sequence"), "END");
    cJSON_Delete(j);
    /* a stop_reason that is not one of the request's sequences is not one */
    j = answer("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"x\"},"
               "\"finish_reason\":\"stop\",\"stop_reason\":\"OTHER\"}]}", "\"stop_sequences\":[\"END\"],");
    cr_assert_str_eq(str_at(j, "stop_reason"), "end_turn");
    cJSON_Delete(j);
}

Test(messages, answer_empty_and_malformed)
{
    struct tg_dialect_ctx ctx = { .answer_id = "z", .client_model = "m" };
    struct tg_err err = { 0 };
    char *out = NULL;
    size_t n;
    cJSON *j = answer("{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"\"},"
                      "\"finish_reason\":\"length\"}]}", NULL);

    cr_assert_eq(cJSON_GetArraySize(at(j, "content")), 0);
    cr_assert_str_eq(str_at(j, "stop_reason"), "max_tokens");
    cJSON_Delete(j);
    cr_assert_eq(M()->encode_answer(&ctx, "{\"error\":{}}", 12, &out, &n, &err), TG_EINVAL);
    cr_assert_null(out);
    cr_assert_eq(M()->encode_answer(&ctx, "not json", 8, &out, &n, &err), TG_EINVAL);
    cr_assert_null(out);
}

/* ---- streams ------------------------------------------------------------------ */

struct acc {
    char  *buf;
    size_t len, cap;
    int    refuse_after;   /* >0: emit fails on that call */
    int    calls;
};

static int
acc_emit(void *ud, const char *b, size_t n)
{
    struct acc *a = ud;
    if (a->refuse_after > 0 && ++a->calls >= a->refuse_after)
        return 1;
    if (a->len + n + 1 > a->cap) {
        a->cap = (a->len + n + 1) * 2;
        a->buf = realloc(a->buf, a->cap);
        cr_assert_not_null(a->buf);
    }
    memcpy(a->buf + a->len, b, n);
    a->len += n;
    a->buf[a->len] = '\0';
    return 0;
}

/* Translate `in` fed in pieces of `step` bytes (0: whole); end(ok). */
static char *
translate(const char *in, size_t step, bool ok, int *feed_rc)
{
    struct tg_dialect_ctx ctx = { .id = TG_DIALECT_MESSAGES, .answer_id = "s1",
                                  .client_model = "claude-client" };
    struct tg_dialect_stream *s = NULL;
    struct acc a = { 0 };
    size_t n = strlen(in), off = 0;
    int rc = 0;

    cr_assert_eq(M()->stream_new(&ctx, acc_emit, &a, &s), TG_OK);
    while (off < n && rc == 0) {
        size_t k = step == 0 ? n : (n - off < step ? n - off : step);
        rc = M()->stream_feed(s, in + off, k);
        off += k;
    }
    if (feed_rc != NULL)
        *feed_rc = rc;
    cr_assert_eq(M()->stream_end(s, ok && rc == 0), 0);
    M()->stream_free(s);
    if (a.buf == NULL)
        a.buf = strdup("");
    return a.buf;
}

/* Split the output into events; each must be "event: X\ndata: {json with
 * type X}\n\n".  Returns the event names joined by ",". */
static char *
event_names(const char *out, cJSON **datas, int max)
{
    static char names[4096];
    const char *p = out;
    int n = 0;

    names[0] = '\0';
    while (*p) {
        const char *nl = strchr(p, '\n'), *end = strstr(p, "\n\n");
        char name[64], *data;
        cJSON *j;
        cr_assert(strncmp(p, "event: ", 7) == 0, "event line expected at: %s", p);
        cr_assert(nl != NULL && end != NULL && nl < end);
        snprintf(name, sizeof(name), "%.*s", (int)(nl - p - 7), p + 7);
        cr_assert(strncmp(nl + 1, "data: ", 6) == 0);
        data = strndup(nl + 7, (size_t)(end - nl - 7));
        j = cJSON_Parse(data);
        cr_assert_not_null(j, "data is JSON: %s", data);
        cr_assert_str_eq(str_at(j, "type"), name);
        free(data);
        if (datas != NULL && n < max)
            datas[n] = j;
        else
            cJSON_Delete(j);
        n++;
        strncat(names, name, sizeof(names) - strlen(names) - 2);
        strcat(names, ",");
        p = end + 2;
    }
    return names;
}

static const char TEXT_STREAM[] =
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"content\":\"Hel\"},\"finish_reason\":null}]}\r\n\r\n"
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":"
    "{\"content\":\"lo \\\"w\\\"\\n\"},\"finish_reason\":null}]}\n\n"
    ": keep-alive\n\n"
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{},"
    "\"finish_reason\":\"stop\"}]}\n\n"
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":"
    "{\"prompt_tokens\":12,\"completion_tokens\":4,\"total_tokens\":16}}\n\n"
    "data: [DONE]\n\n";

Test(messages, stream_text)
{
    cJSON *ev[16] = { 0 };
    int frc;
    char *out = translate(TEXT_STREAM, 0, true, &frc);
    const char *names = event_names(out, ev, 16);

    cr_assert_eq(frc, 0);
    cr_assert_str_eq(names, "message_start,content_block_start,content_block_delta,content_block_delta,"
                            "content_block_stop,message_delta,message_stop,");
    cr_assert_str_eq(str_at(ev[0], "message.id"), "msg_s1");
    cr_assert_str_eq(str_at(ev[0], "message.model"), "claude-client");
    cr_assert_str_eq(str_at(ev[0], "message.role"), "assistant");
    cr_assert_eq(cJSON_GetArraySize(at(at(ev[0], "message"), "content")), 0);
    cr_assert_eq(at(ev[1], "index")->valuedouble, 0);
    cr_assert_str_eq(str_at(ev[1], "content_block.type"), "text");
    cr_assert_str_eq(str_at(ev[2], "delta.type"), "text_delta");
    cr_assert_str_eq(str_at(ev[2], "delta.text"), "Hel");
    cr_assert_str_eq(str_at(ev[3], "delta.text"), "lo \"w\"\n");
    cr_assert_eq(at(ev[4], "index")->valuedouble, 0);
    cr_assert_str_eq(str_at(ev[5], "delta.stop_reason"), "end_turn");
    cr_assert_eq(at(at(ev[5], "usage"), "output_tokens")->valuedouble, 4);
    cr_assert_eq(at(at(ev[5], "usage"), "input_tokens")->valuedouble, 12);
    for (int i = 0; i < 16; i++)
        cJSON_Delete(ev[i]);
    free(out);
}

Test(messages, stream_split_anywhere_gives_identical_output)
{
    char *whole = translate(TEXT_STREAM, 0, true, NULL);
    size_t n = strlen(TEXT_STREAM);

    for (size_t step = 1; step <= 7; step++) {
        char *pieces = translate(TEXT_STREAM, step, true, NULL);
        cr_assert_str_eq(pieces, whole, "fed %zu bytes at a time", step);
        free(pieces);
    }
    /* and every two-piece split */
    for (size_t cut = 0; cut <= n; cut++) {
        struct tg_dialect_ctx ctx = { .answer_id = "s1", .client_model = "claude-client" };
        struct tg_dialect_stream *s;
        struct acc a = { 0 };
        cr_assert_eq(M()->stream_new(&ctx, acc_emit, &a, &s), 0);
        cr_assert_eq(M()->stream_feed(s, TEXT_STREAM, cut), 0);
        cr_assert_eq(M()->stream_feed(s, TEXT_STREAM + cut, n - cut), 0);
        cr_assert_eq(M()->stream_end(s, true), 0);
        M()->stream_free(s);
        cr_assert_str_eq(a.buf, whole, "split at %zu", cut);
        free(a.buf);
    }
    free(whole);
}

static const char TOOL_STREAM[] =
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"Let me check.\"}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_a\",\"type\":"
    "\"function\",\"function\":{\"name\":\"get_weather\",\"arguments\":\"\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"{\\\"city\\\":\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":"
    "{\"arguments\":\"\\\"Paris\\\"}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"call_b\","
    "\"function\":{\"name\":\"get_time\",\"arguments\":\"{}\"}}]}}]}\n\n"
    "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}],"
    "\"usage\":{\"prompt_tokens\":30,\"completion_tokens\":20}}\n\n"
    "data: [DONE]\n\n";

Test(messages, stream_tool_use)
{
    cJSON *ev[16] = { 0 };
    char *out = translate(TOOL_STREAM, 0, true, NULL);
    char *bytewise = translate(TOOL_STREAM, 1, true, NULL);
    const char *names = event_names(out, ev, 16);
    char *joined;
    cJSON *input;

    cr_assert_str_eq(bytewise, out);
    cr_assert_str_eq(names, "message_start,"
        "content_block_start,content_block_delta,content_block_stop,"
        "content_block_start,content_block_delta,content_block_delta,content_block_stop,"
        "content_block_start,content_block_delta,content_block_stop,"
        "message_delta,message_stop,");
    cr_assert_str_eq(str_at(ev[4], "content_block.type"), "tool_use");
    cr_assert_str_eq(str_at(ev[4], "content_block.id"), "call_a");
    cr_assert_str_eq(str_at(ev[4], "content_block.name"), "get_weather");
    cr_assert(cJSON_IsObject(at(at(ev[4], "content_block"), "input")));
    cr_assert_eq(at(ev[4], "index")->valuedouble, 1);
    cr_assert_str_eq(str_at(ev[5], "delta.type"), "input_json_delta");
    /* the partial_json pieces concatenate to the arguments */
    joined = malloc(256);
    snprintf(joined, 256, "%s%s", str_at(ev[5], "delta.partial_json"), str_at(ev[6], "delta.partial_json"));
    input = cJSON_Parse(joined);
    cr_assert_str_eq(str_at(input, "city"), "Paris");
    cJSON_Delete(input);
    free(joined);
    cr_assert_eq(at(ev[7], "index")->valuedouble, 1);
    cr_assert_str_eq(str_at(ev[8], "content_block.id"), "call_b");
    cr_assert_eq(at(ev[8], "index")->valuedouble, 2);
    cr_assert_str_eq(str_at(ev[11], "delta.stop_reason"), "tool_use");
    cr_assert_eq(at(at(ev[11], "usage"), "output_tokens")->valuedouble, 20);
    for (int i = 0; i < 16; i++)
        cJSON_Delete(ev[i]);
    free(out);
    free(bytewise);
}

Test(messages, stream_failure_ends_with_an_error_event)
{
    /* the upstream broke after one delta */
    static const char partial[] =
        "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";
    cJSON *ev[8] = { 0 };
    char *out = translate(partial, 0, false, NULL);
    const char *names = event_names(out, ev, 8);

    cr_assert_str_eq(names, "message_start,content_block_start,content_block_delta,error,");
    cr_assert_str_eq(str_at(ev[3], "error.type"), "api_error");
    cr_assert_not_null(str_at(ev[3], "error.message"));
    for (int i = 0; i < 8; i++)
        cJSON_Delete(ev[i]);
    free(out);
    /* nothing at all before the failure: just the error */
    out = translate("", 0, false, NULL);
    cr_assert_str_eq(event_names(out, NULL, 0), "error,");
    free(out);
}

Test(messages, stream_malformed_or_interleaved_is_refused)
{
    int frc = 0;
    char *out = translate("data: {not json}\n\n", 0, true, &frc);
    cr_assert_eq(frc, TG_EINVAL);
    cr_assert_str_eq(event_names(out, NULL, 0), "error,");
    free(out);
    /* a fragment for a tool call whose block is closed cannot be placed */
    out = translate("data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"a\",\"function\":{\"name\":\"f\",\"arguments\":\"{\"}}]}}]}\n\n"
                    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":1,\"id\":\"b\",\"function\":{\"name\":\"g\",\"arguments\":\"{}\"}}]}}]}\n\n"
                    "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"}\"}}]}}]}\n\n",
                    0, true, &frc);
    cr_assert_eq(frc, TG_EINVAL);
    cr_assert(strstr(out, "event: error\n") != NULL);
    free(out);
    /* an upstream error event inside the canonical stream */
    out = translate("data: {\"error\":{\"message\":\"boom\"}}\n\n", 0, true, &frc);
    cr_assert_eq(frc, TG_EUPSTREAM);
    cr_assert_null(strstr(out, "boom"), "upstream text is not relayed");
    free(out);
}

Test(messages, stream_complete_without_done_and_after_done)
{
    int frc;
    /* ok without [DONE]: the translator still closes the message */
    char *out = translate("data: {\"choices\":[{\"delta\":{\"content\":\"x\"},\"finish_reason\":\"length\"}]}\n\n",
                          0, true, &frc);
    cJSON *ev[8] = { 0 };
    const char *names = event_names(out, ev, 8);
    cr_assert_str_eq(names, "message_start,content_block_start,content_block_delta,content_block_stop,"
                            "message_delta,message_stop,");
    cr_assert_str_eq(str_at(ev[4], "delta.stop_reason"), "max_tokens");
    for (int i = 0; i < 8; i++)
        cJSON_Delete(ev[i]);
    free(out);
    /* data after [DONE] is ignored, and a later failure adds nothing */
    out = translate("data: [DONE]\n\ndata: {\"choices\":[{\"delta\":{\"content\":\"late\"}}]}\n\n", 0, false, &frc);
    cr_assert_str_eq(event_names(out, NULL, 0), "message_start,message_delta,message_stop,");
    free(out);
}

Test(messages, stream_emit_refusal_stops_the_stream)
{
    struct tg_dialect_ctx ctx = { .answer_id = "s1", .client_model = "m" };
    struct tg_dialect_stream *s;
    struct acc a = { .refuse_after = 2 };

    cr_assert_eq(M()->stream_new(&ctx, acc_emit, &a, &s), 0);
    cr_assert_eq(M()->stream_feed(s, TEXT_STREAM, strlen(TEXT_STREAM)), TG_EIO);
    cr_assert_eq(M()->stream_feed(s, "data: [DONE]\n\n", 14), TG_EIO, "sticky");
    M()->stream_free(s);
    free(a.buf);
}

Test(messages, stream_stop_sequence)
{
    struct tg_dialect_ctx ctx;
    struct tg_err err = { 0 };
    struct tg_dialect_stream *s;
    struct acc a = { 0 };
    char *canon;
    static const char in[] =
        "data: {\"choices\":[{\"delta\":{\"content\":\"a\"},\"finish_reason\":\"stop\",\"stop_reason\":\"END\"}]}\n\n"
        "data: [DONE]\n\n";

    cr_assert_eq(dec_with(TG_DIALECT_MESSAGES, "{\"model\":\"m\",\"max_tokens\":5,\"stream\":true,"
        "\"stop_sequences\":[\"END\"],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &ctx, &canon,
        &err), TG_OK);
    cr_assert_eq(M()->stream_new(&ctx, acc_emit, &a, &s), 0);
    cr_assert_eq(M()->stream_feed(s, in, strlen(in)), 0);
    cr_assert_eq(M()->stream_end(s, true), 0);
    M()->stream_free(s);
    cr_assert(strstr(a.buf, "\"stop_reason\":\"stop_sequence\",\"stop_sequence\":\"END\"") != NULL, "%s", a.buf);
    free(a.buf);
}

/* ---- error bodies --------------------------------------------------------------- */

Test(messages, anthropic_error_bodies)
{
    static const struct { int status; const char *type; } map[] = {
        { 400, "invalid_request_error" }, { 404, "invalid_request_error" },
        { 413, "invalid_request_error" }, { 401, "authentication_error" },
        { 403, "permission_error" }, { 429, "rate_limit_error" },
        { 503, "overloaded_error" }, { 529, "overloaded_error" },
        { 500, "api_error" }, { 502, "api_error" },
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        char *out = NULL;
        size_t n = 0;
        cJSON *j;
        cr_assert_eq(tg_dialect_error_body(TG_DIALECT_ERR_ANTHROPIC, map[i].status, "policy_denied",
                                           NULL, "denied: pii.rule", NULL, &out, &n), TG_OK);
        cr_assert_eq(strlen(out), n);
        j = cJSON_Parse(out);
        cr_assert_str_eq(str_at(j, "type"), "error");
        cr_assert_str_eq(str_at(j, "error.type"), map[i].type, "status %d", map[i].status);
        cr_assert_str_eq(str_at(j, "error.message"), "denied: pii.rule");
        cr_assert_null(at(at(j, "error"), "code"));
        cr_assert_null(at(at(j, "error"), "rules"));
        cJSON_Delete(j);
        free(out);
    }
}

Test(messages, anthropic_error_body_with_code_and_rules)
{
    char *out = NULL;
    size_t n = 0;
    cJSON *j;
    const cJSON *rules;

    cr_assert_eq(tg_dialect_error_body(TG_DIALECT_ERR_ANTHROPIC, 403, "policy_denied", "policy_denied",
                                       "request denied by rule pii.card", "\"rules\":[\"pii.card\",\"export.itar\"]",
                                       &out, &n), TG_OK);
    j = cJSON_Parse(out);
    cr_assert_str_eq(str_at(j, "error.type"), "permission_error");
    cr_assert_str_eq(str_at(j, "error.code"), "policy_denied");
    rules = at(at(j, "error"), "rules");
    cr_assert_eq(cJSON_GetArraySize(rules), 2);
    cr_assert_str_eq(cJSON_GetArrayItem(rules, 0)->valuestring, "pii.card");
    cr_assert_str_eq(cJSON_GetArrayItem(rules, 1)->valuestring, "export.itar");
    cr_assert(strstr(str_at(j, "error.message"), "pii.card") != NULL);
    cJSON_Delete(j);
    free(out);
    /* the OpenAI family for the other doors */
    cr_assert_eq(tg_dialect_error_body(TG_DIALECT_ERR_OPENAI, 403, "policy_denied", "policy_denied",
                                       "no", "\"rules\":[\"r\"]", &out, &n), TG_OK);
    j = cJSON_Parse(out);
    cr_assert_null(at(j, "type"));
    cr_assert_str_eq(str_at(j, "error.type"), "policy_denied");
    cr_assert_str_eq(str_at(j, "error.code"), "policy_denied");
    cr_assert(cJSON_IsNull(at(at(j, "error"), "param")));
    cr_assert_eq(cJSON_GetArraySize(at(at(j, "error"), "rules")), 1);
    cJSON_Delete(j);
    free(out);
    cr_assert_eq(tg_dialect_get(TG_DIALECT_MESSAGES)->errors, TG_DIALECT_ERR_ANTHROPIC);
    cr_assert_eq(tg_dialect_get(TG_DIALECT_COUNT_TOKENS)->errors, TG_DIALECT_ERR_ANTHROPIC);
}

/* ---- markers: every text of a Messages body is in a scanned part ------------------ */

/*
 * tests/cases/dialects/messages_markers.cases: blocks of
 *   === name
 *   expect: ok | einval        (default ok)
 *   dropped: MRK_A MRK_B       (markers that must not reach the canonical body)
 *   <Messages JSON body, one or more lines>
 * Every token MRK_[A-Z0-9_]+ in the body that is not listed as dropped must
 * appear in the text of a part tg_request_parse indexes from the canonical
 * body (so the PII scan sees it); dropped ones must appear nowhere in it.
 */
struct mcase {
    char name[128];
    char expect[16];
    char dropped[512];
    char *body;
    size_t blen, bcap;
};

/* strlcpy: a header field longer than its buffer is cut (names, flags) */
static void
copy_field(char *dst, size_t n, const char *src)
{
    size_t l = strlen(src);
    if (l >= n)
        l = n - 1;
    memcpy(dst, src, l);
    dst[l] = '\0';
}

static void
run_marker_case(struct mcase *c, int *nchecks)
{
    struct tg_dialect_ctx ctx;
    struct tg_err err = { 0 };
    struct tg_request r;
    struct tg_arena a;
    char *canon = NULL;
    size_t clen = 0;
    int rc;

    tg_arena_init(&a, 0);
    memset(&ctx, 0, sizeof(ctx));
    rc = M()->decode(c->body, c->blen, &a, &ctx, &canon, &clen, &err);
    if (strcmp(c->expect, "einval") == 0) {
        cr_assert_eq(rc, TG_EINVAL, "case %s: rc %d", c->name, rc);
        (*nchecks)++;
        tg_arena_free(&a);
        return;
    }
    cr_assert_eq(rc, TG_OK, "case %s: %s", c->name, err.msg);
    cr_assert_eq(tg_request_parse(canon, clen, &a, &r, &err), TG_OK, "case %s: %s", c->name, err.msg);
    for (const char *p = c->body; (p = strstr(p, "MRK_")) != NULL;) {
        char tok[64];
        size_t n = 0;
        bool found = false, dropped;
        while ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9') || p[n] == '_')
            n++;
        snprintf(tok, sizeof(tok), "%.*s", (int)n, p);
        p += n;
        {
            char pad[80];
            snprintf(pad, sizeof(pad), " %s ", tok);
            char dl[520];
            snprintf(dl, sizeof(dl), " %s ", c->dropped);
            dropped = strstr(dl, pad) != NULL;
        }
        for (uint32_t i = 0; i < r.nparts && !found; i++)
            found = memmem(r.parts[i].text, r.parts[i].len, tok, strlen(tok)) != NULL;
        if (dropped) {
            cr_assert(!found && strstr(canon, tok) == NULL, "case %s: %s must be dropped", c->name, tok);
        } else {
            cr_assert(found, "case %s: %s is in no scanned part of %s", c->name, tok, canon);
        }
        (*nchecks)++;
    }
    tg_request_dispose(&r);
    tg_arena_free(&a);
}

Test(messages, marker_case_file)
{
    FILE *f = fopen(TG_DATA_DIR "/tests/cases/dialects/messages_markers.cases", "r");
    char line[65536];
    struct mcase c;
    bool in = false;
    int ncases = 0, nchecks = 0;

    cr_assert_not_null(f);
    memset(&c, 0, sizeof(c));
    for (;;) {
        bool eof = fgets(line, sizeof(line), f) == NULL;
        if (eof || strncmp(line, "=== ", 4) == 0) {
            if (in) {
                cr_assert_gt(c.blen, 0, "case %s has no body", c.name);
                run_marker_case(&c, &nchecks);
                ncases++;
            }
            if (eof)
                break;
            free(c.body);
            memset(&c, 0, sizeof(c));
            copy_field(c.name, sizeof(c.name), line + 4);
            c.name[strcspn(c.name, "\n")] = '\0';
            snprintf(c.expect, sizeof(c.expect), "ok");
            in = true;
            continue;
        }
        if (!in || line[0] == '#')
            continue;
        if (strncmp(line, "expect: ", 8) == 0) {
            copy_field(c.expect, sizeof(c.expect), line + 8);
            c.expect[strcspn(c.expect, "\n")] = '\0';
        } else if (strncmp(line, "dropped: ", 9) == 0) {
            copy_field(c.dropped, sizeof(c.dropped), line + 9);
            c.dropped[strcspn(c.dropped, "\n")] = '\0';
        } else {
            size_t n = strlen(line);
            if (c.blen + n + 1 > c.bcap) {
                c.bcap = (c.blen + n + 1) * 2;
                c.body = realloc(c.body, c.bcap);
                cr_assert_not_null(c.body);
            }
            memcpy(c.body + c.blen, line, n + 1);
            c.blen += n;
        }
    }
    free(c.body);
    fclose(f);
    cr_assert_geq(ncases, 10, "only %d cases", ncases);
    cr_assert_geq(nchecks, 30, "only %d marker checks", nchecks);
    cr_log_info("%d cases, %d marker checks", ncases, nchecks);
}

/* ---- real Claude Code requests ---------------------------------------------------- */

/*
 * tests/cases/dialects/claude_code/: the request bodies Claude Code
 * 2.1.332 sent (`claude -p`, captured on loopback; see
 * tests/e2e/fixtures/README.md): system blocks with cache_control, twelve
 * tools (one with defer_loading), metadata.user_id holding JSON text,
 * thinking, stream, a tool_use / tool_result round.  Each must decode, and
 * every string in it (but structural ones and documented drops) must reach
 * a part the engine scans.
 */
static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *b;
    long n;
    cr_assert_not_null(f, "%s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    b = malloc((size_t)n + 1);
    cr_assert_eq(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return b;
}

static bool
in_parts(const struct tg_request *r, const char *s, size_t n)
{
    for (uint32_t i = 0; i < r->nparts; i++)
        if (memmem(r->parts[i].text, r->parts[i].len, s, n) != NULL)
            return true;
    return false;
}

/* Walk the client body; count strings checked. in_input: inside a
 * tool_use input, whose text the canonical body holds JSON-escaped. */
static void
every_string_scanned(const cJSON *v, const char *key, bool in_input, const struct tg_request *r,
                     int *checked)
{
    if (cJSON_IsString(v)) {
        const char *s = v->valuestring;
        if (s[0] == '\0')
            return;
        if (in_input) {
            char *q = cJSON_PrintUnformatted(v);   /* "…" escaped */
            cr_assert(in_parts(r, q + 1, strlen(q) - 2), "tool input string not scanned: %.60s", s);
            free(q);
        } else {
            cr_assert(in_parts(r, s, strlen(s)), "string under '%s' not scanned: %.60s",
                      key ? key : "", s);
        }
        (*checked)++;
        return;
    }
    for (const cJSON *c = v->child; c != NULL; c = c->next) {
        const char *k = c->string ? c->string : key;
        /* structural values the engine skips by design, and documented drops */
        if (c->string != NULL && (strcmp(k, "type") == 0 || strcmp(k, "id") == 0 ||
                                  strcmp(k, "tool_use_id") == 0 || strcmp(k, "role") == 0 ||
                                  strcmp(k, "cache_control") == 0 || strcmp(k, "thinking") == 0 ||
                                  strcmp(k, "signature") == 0))
            continue;
        every_string_scanned(c, k, in_input || (c->string != NULL && strcmp(c->string, "input") == 0),
                             r, checked);
    }
}

Test(messages, claude_code_requests)
{
    static const char *const files[] = { "claude-code-hello-1.json", "claude-code-tool-1.json",
                                         "claude-code-tool-2.json" };
    for (size_t f = 0; f < 3; f++) {
        char path[512];
        size_t len, clen = 0;
        char *body, *canon = NULL;
        struct tg_dialect_ctx ctx = { .answer_id = "cc" };
        struct tg_err err = { 0 };
        struct tg_request r;
        cJSON *in, *out;
        int checked = 0;

        snprintf(path, sizeof(path), TG_DATA_DIR "/tests/cases/dialects/claude_code/%s", files[f]);
        body = slurp(path, &len);
        cr_assert_eq(M()->decode(body, len, &A, &ctx, &canon, &clen, &err), TG_OK, "%s: %s",
                     files[f], err.msg);
        cr_assert(ctx.stream);
        cr_assert_str_eq(ctx.client_model, "claude-sonnet-4-5");
        cr_assert_eq(tg_request_parse(canon, clen, &A, &r, &err), TG_OK, "%s: %s", files[f], err.msg);
        in = cJSON_Parse(body);
        out = cJSON_Parse(canon);
        cr_assert_eq(cJSON_GetArraySize(at(out, "tools")), cJSON_GetArraySize(at(in, "tools")));
        cr_assert_str_eq(str_at(out, "messages[0].role"), "system");
        cr_assert_str_eq(str_at(out, "user"), str_at(in, "metadata.user_id"));
        cr_assert(cJSON_IsTrue(at(at(out, "stream_options"), "include_usage")));
        every_string_scanned(in, NULL, false, &r, &checked);
        cr_assert_gt(checked, 100, "%s: only %d strings", files[f], checked);
        if (f == 2) {
            /* the tool round: assistant tool_calls then the tool message */
            const cJSON *msgs = at(out, "messages");
            int n = cJSON_GetArraySize(msgs);
            cr_assert_str_eq(str_at(cJSON_GetArrayItem(msgs, n - 1), "role"), "tool");
            cr_assert_str_eq(str_at(cJSON_GetArrayItem(msgs, n - 1), "tool_call_id"), "toolu_capture_1");
            cr_assert_str_eq(str_at(cJSON_GetArrayItem(msgs, n - 2), "tool_calls[0].function.name"), "Read");
        }
        tg_request_dispose(&r);
        cJSON_Delete(in);
        cJSON_Delete(out);
        free(body);
    }
}

/* ctx.verbatim: the body may go to an Anthropic provider as written only
 * when everything in it was carried into the canonical request (so
 * scanned), or is a setting with no text that only Anthropic reads. */
Test(messages, verbatim_only_when_everything_was_carried)
{
    static const struct { const char *body; bool verbatim; } c[] = {
        { "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", true },
        /* Claude Code's shape: cached system blocks, metadata.user_id, tools, thinking, top_k */
        { "{\"model\":\"m\",\"max_tokens\":9,\"top_k\":5,\"service_tier\":\"auto\","
          "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":1024},"
          "\"system\":[{\"type\":\"text\",\"text\":\"s\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
          "\"metadata\":{\"user_id\":\"u\",\"category\":\"c\"},"
          "\"tools\":[{\"name\":\"t\",\"description\":\"d\",\"input_schema\":{\"type\":\"object\"},"
          "\"cache_control\":{\"type\":\"ephemeral\"}}],\"tool_choice\":{\"type\":\"auto\"},"
          "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"},"
          "{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":\"image/png\",\"data\":\"AAAA\"}}]},"
          "{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
          "{\"type\":\"tool_use\",\"id\":\"tu1\",\"name\":\"t\",\"input\":{}}]},"
          "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"tu1\","
          "\"content\":[{\"type\":\"text\",\"text\":\"r\"}],\"cache_control\":{\"type\":\"ephemeral\"}}]}]}", true },
        /* a thinking block of an earlier turn: dropped, never scanned */
        { "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":\"q\"},"
          "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"t\",\"signature\":\"s\"},"
          "{\"type\":\"text\",\"text\":\"a\"}]},{\"role\":\"user\",\"content\":\"q2\"}]}", false },
        /* a field tollgate does not know */
        { "{\"model\":\"m\",\"max_tokens\":9,\"x\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false },
        /* an Anthropic-defined tool */
        { "{\"model\":\"m\",\"max_tokens\":9,\"tools\":[{\"type\":\"web_search_20250305\",\"name\":\"web_search\"}],"
          "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false },
        /* a custom tool with a field tollgate drops */
        { "{\"model\":\"m\",\"max_tokens\":9,\"tools\":[{\"name\":\"t\",\"input_schema\":{},\"input_examples\":[{}]}],"
          "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false },
        /* citations on a text block, a metadata key, a system message in the list */
        { "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
          "\"text\":\"hi\",\"citations\":[]}]}]}", false },
        { "{\"model\":\"m\",\"max_tokens\":9,\"metadata\":{\"user_id\":\"u\",\"trace\":\"t\"},"
          "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", false },
        { "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"system\",\"content\":\"s\"},"
          "{\"role\":\"user\",\"content\":\"hi\"}]}", false },
        /* a document by text is carried; a search result is rewritten */
        { "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\","
          "\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":\"d\"},\"title\":\"t\"}]}]}", true },
        { "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"search_result\","
          "\"source\":\"s\",\"title\":\"t\",\"content\":[{\"type\":\"text\",\"text\":\"x\"}]}]}]}", false },
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        struct tg_dialect_ctx ctx;
        cJSON *j = decode_ok(c[i].body, &ctx);
        cr_expect_eq(ctx.verbatim, c[i].verbatim, "case %zu", i);
        cJSON_Delete(j);
    }
    /* count_tokens never goes upstream this way */
    {
        struct tg_dialect_ctx ctx;
        struct tg_err err = { 0 };
        char *canon;
        cr_assert_eq(dec_with(TG_DIALECT_COUNT_TOKENS, c[0].body, &ctx, &canon, &err), TG_OK, "%s", err.msg);
        cr_expect_not(ctx.verbatim);
    }
}

/* What Claude Code really sends (tests/e2e/fixtures) goes through as written. */
Test(messages, claude_code_bodies_are_verbatim)
{
    static const char *const files[] = { "claude-code-hello-1.json", "claude-code-tool-1.json", "claude-code-tool-2.json" };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char path[512], *text, *buf;
        size_t n;
        cJSON *rec, *j;
        struct tg_dialect_ctx ctx;
        snprintf(path, sizeof path, "%s/tests/e2e/fixtures/%s", TG_DATA_DIR, files[i]);
        buf = slurp(path, &n);
        rec = cJSON_ParseWithLength(buf, n);
        cr_assert_not_null(rec);
        text = cJSON_PrintUnformatted(cJSON_GetObjectItem(rec, "body"));
        cr_assert_not_null(text);
        j = decode_ok(text, &ctx);
        cr_expect(ctx.verbatim, "%s", files[i]);
        cJSON_Delete(j);
        free(text);
        cJSON_Delete(rec);
        free(buf);
    }
}

/* The settings passed through carry no text of the client's: a value that
 * is not Anthropic's own word sends the request the translated way. */
Test(messages, verbatim_settings_hold_no_text)
{
    static const char *const bodies[] = {
        "{\"model\":\"m\",\"max_tokens\":9,\"system\":[{\"type\":\"text\",\"text\":\"s\","
        "\"cache_control\":{\"type\":\"ephemeral\",\"note\":\"4111 1111 1111 1111\"}}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m\",\"max_tokens\":9,\"system\":[{\"type\":\"text\",\"text\":\"s\","
        "\"cache_control\":{\"type\":\"jane@example.com\"}}],\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m\",\"max_tokens\":9,\"service_tier\":\"jane@example.com\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m\",\"max_tokens\":9,\"thinking\":{\"type\":\"123-45-6789\"},\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m\",\"max_tokens\":9,\"tools\":[{\"name\":\"t\",\"input_schema\":{},\"strict\":\"no\"}],"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\","
        "\"source\":{\"type\":\"text\",\"media_type\":\"text/x-ssn-123-45-6789\",\"data\":\"d\"}}]}]}",
    };
    static const char ok[] =
        "{\"model\":\"m\",\"max_tokens\":9,\"cache_control\":{\"type\":\"ephemeral\",\"ttl\":\"1h\"},"
        "\"service_tier\":\"auto\",\"thinking\":{\"type\":\"adaptive\"},"
        "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        struct tg_dialect_ctx ctx;
        cJSON *j = decode_ok(bodies[i], &ctx);
        cr_expect_not(ctx.verbatim, "case %zu", i);
        cJSON_Delete(j);
    }
    {
        struct tg_dialect_ctx ctx;
        cJSON *j = decode_ok(ok, &ctx);
        cr_expect(ctx.verbatim);
        cJSON_Delete(j);
    }
}
