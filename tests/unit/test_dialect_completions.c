/*
 * test_dialect_completions.c — the legacy Completions dialect: decode to a
 * canonical body the engine accepts (and scans), the refusals, the answer
 * and the stream translations (fed whole and split at every byte).
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/dialects/dialect.h"
#include "adapters/providers/provider.h"
#include "engine/request.h"

static struct tg_arena A;
static const struct tg_dialect_ops *OPS;

static void setup(void) { tg_arena_init(&A, 0); OPS = tg_dialect_get(TG_DIALECT_COMPLETIONS); }
static void teardown(void) { tg_arena_free(&A); }

TestSuite(completions, .init = setup, .fini = teardown);

static struct tg_dialect_ctx
ctx0(void)
{
    struct tg_dialect_ctx c = { .id = TG_DIALECT_COMPLETIONS, .answer_id = "abc123", .now_s = 1700000000 };
    return c;
}

/* decode, then parse the canonical body as the engine does */
static cJSON *
decode_ok(const char *body, struct tg_dialect_ctx *ctx, struct tg_request *r)
{
    struct tg_err err = {0};
    char *canon = NULL;
    size_t n = 0;
    cr_assert_eq(OPS->decode(body, strlen(body), &A, ctx, &canon, &n, &err), TG_OK, "%s: %s", body, err.msg);
    cr_assert_eq(strlen(canon), n);
    cr_assert_eq(tg_request_parse(canon, n, &A, r, &err), TG_OK, "canonical %s: %s", canon, err.msg);
    cJSON *j = cJSON_Parse(canon);
    cr_assert_not_null(j);
    return j;
}

Test(completions, registry)
{
    cr_assert_eq(tg_dialect_for_path("/v1/completions", 15), OPS);
    cr_assert_eq(tg_dialect_for_path("/completions?x=1", 16), OPS);
    cr_assert_eq(tg_dialect_by_name("completions"), OPS);
    cr_assert_not_null(OPS->decode);
    cr_assert_not_null(OPS->stream_new);
}

Test(completions, decode_carries_the_prompt_and_options)
{
    struct tg_dialect_ctx ctx = ctx0();
    struct tg_request r;
    cJSON *j = decode_ok("{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":\"Write to jane@example.com\","
                         "\"max_tokens\":16,\"temperature\":0.2,\"top_p\":0.9,\"stop\":[\"\\n\\n\"],"
                         "\"user\":\"u-42\",\"seed\":7,\"logprobs\":3,\"best_of\":2,\"n\":1,\"echo\":false,"
                         "\"suffix\":\"\",\"metadata\":{\"category\":\"qa\"},\"vendor_opt\":1}",
                         &ctx, &r);
    cr_assert_str_eq(ctx.client_model, "gpt-3.5-turbo-instruct");
    cr_assert_not(ctx.stream);
    const cJSON *m = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 0);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "messages")), 1);
    cr_assert_str_eq(cJSON_GetObjectItem(m, "role")->valuestring, "user");
    cr_assert_str_eq(cJSON_GetObjectItem(m, "content")->valuestring, "Write to jane@example.com");
    cr_assert_eq(cJSON_GetObjectItem(j, "max_tokens")->valueint, 16);
    cr_assert_float_eq(cJSON_GetObjectItem(j, "temperature")->valuedouble, 0.2, 1e-12);
    cr_assert_float_eq(cJSON_GetObjectItem(j, "top_p")->valuedouble, 0.9, 1e-12);
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "stop"), 0)->valuestring, "\n\n");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "user")->valuestring, "u-42");
    cr_assert_eq(cJSON_GetObjectItem(j, "seed")->valueint, 7);
    cr_assert_eq(cJSON_GetObjectItem(j, "vendor_opt")->valueint, 1, "unknown fields are carried");
    /* dropped: they only tune what comes back, or are defaults */
    static const char *const gone[] = { "prompt", "logprobs", "best_of", "n", "echo", "suffix", "stream" };
    for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++)
        cr_expect_null(cJSON_GetObjectItem(j, gone[i]), "%s", gone[i]);
    /* the engine sees the prompt as message content and the metadata */
    cr_assert_eq(r.max_tokens, 16);
    cr_assert_str_eq(r.meta_category, "qa");
    bool prompt = false;
    for (uint32_t i = 0; i < r.nparts; i++)
        prompt |= r.parts[i].kind == TG_PART_CONTENT && strcmp(r.parts[i].text, "Write to jane@example.com") == 0;
    cr_assert(prompt);
    cJSON_Delete(j);
}

Test(completions, decode_stream_asks_for_usage)
{
    struct tg_dialect_ctx ctx = ctx0();
    struct tg_request r;
    cJSON *j = decode_ok("{\"model\":\"m\",\"prompt\":[\"only one\"],\"stream\":true}", &ctx, &r);
    cr_assert(ctx.stream);
    cr_assert(r.stream);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stream_options"), "include_usage")));
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 0)->child->next->valuestring,
                     "only one");
    cJSON_Delete(j);
    /* not streaming: stream_options would be refused upstream; dropped */
    j = decode_ok("{\"prompt\":\"p\",\"stream\":false,\"stream_options\":{\"include_usage\":true}}", &ctx, &r);
    cr_assert_null(cJSON_GetObjectItem(j, "stream_options"));
    cr_assert_null(cJSON_GetObjectItem(j, "model"));
    cr_assert_eq(cJSON_GetObjectItem(j, "max_tokens")->valueint, 16, "the Completions API's default");
    cr_assert_eq(r.max_tokens, 16);
    cJSON_Delete(j);
    j = decode_ok("{\"prompt\":\"p\",\"max_tokens\":null}", &ctx, &r);
    cr_assert_eq(cJSON_GetArraySize(j), 2, "messages and one max_tokens member");
    cr_assert_eq(cJSON_GetObjectItem(j, "max_tokens")->valueint, 16);
    cJSON_Delete(j);
}

Test(completions, decode_refusals)
{
    static const struct { const char *body; const char *msg; } cases[] = {
        { "{\"model\":\"m\"}", "prompt is required" },
        { "{\"prompt\":null}", "prompt is required" },
        { "{\"prompt\":[]}", "non-empty array" },
        { "{\"prompt\":7}", "non-empty array" },
        { "{\"prompt\":[\"a\",\"b\"]}", "one prompt per request" },
        { "{\"prompt\":[1,2,3]}", "token-id prompts" },
        { "{\"prompt\":[[1,2],[3]]}", "token-id prompts" },
        { "{\"prompt\":\"a\",\"suffix\":\"}\"}", "suffix" },
        { "{\"prompt\":\"a\",\"suffix\":3}", "suffix" },
        { "{\"prompt\":\"a\",\"n\":2}", "n must be 1" },
        { "{\"prompt\":\"a\",\"n\":\"1\"}", "n must be 1" },
        { "{\"prompt\":\"a\",\"echo\":true}", "echo" },
        { "{\"prompt\":\"a\",\"logprobs\":\"5\"}", "logprobs must be an integer" },
        { "{\"prompt\":\"a\",\"stream\":\"yes\"}", "stream must be a boolean" },
        { "{\"prompt\":\"a\",\"stream\":true,\"stream_options\":[]}", "stream_options" },
        { "{\"prompt\":\"a\",\"model\":1}", "model must be a string" },
        { "{\"prompt\":\"a\",\"prompt\":\"b\"}", "duplicate key 'prompt'" },
        { "{\"prompt\":\"a\\u0000b\"}", "NUL" },
        { "{\"prompt\":\"a\"} x", "trailing data" },
        { "{\"prompt\":", "not valid JSON" },
        { "[\"a\"]", "JSON object" },
        { "{\"prompt\":\"a\",\"messages\":[{\"role\":\"system\",\"content\":\"x\"}]}", "messages is not" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tg_dialect_ctx ctx = ctx0();
        struct tg_err err = {0};
        char *canon = (char *)"untouched";
        size_t n = 9;
        cr_expect_eq(OPS->decode(cases[i].body, strlen(cases[i].body), &A, &ctx, &canon, &n, &err),
                     TG_EINVAL, "%s", cases[i].body);
        cr_expect(strstr(err.msg, cases[i].msg) != NULL, "%s: '%s' lacks '%s'", cases[i].body, err.msg,
                  cases[i].msg);
        cr_expect_str_eq(canon, "untouched");
    }
}

Test(completions, escaped_backslash_before_u0000_text_is_fine)
{
    struct tg_dialect_ctx ctx = ctx0();
    struct tg_request r;
    /* "\\u0000" is a backslash then the letters u0000, not a NUL */
    cJSON *j = decode_ok("{\"prompt\":\"path C:\\\\u0000x\"}", &ctx, &r);
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "messages"), 0)->child->next->valuestring,
                     "path C:\\u0000x");
    cJSON_Delete(j);
}

Test(completions, encode_answer)
{
    struct tg_dialect_ctx ctx = ctx0();
    ctx.client_model = "gpt-3.5-turbo-instruct";
    const char *chat = "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"deepseek-v4-flash\","
                       "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"Hello there\"},"
                       "\"finish_reason\":\"length\"}],"
                       "\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2,\"total_tokens\":7,\"extra\":{\"x\":1}}}";
    struct tg_err err = {0};
    char *out = NULL;
    size_t n = 0;
    cr_assert_eq(OPS->encode_answer(&ctx, chat, strlen(chat), &out, &n, &err), TG_OK, "%s", err.msg);
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j, "%s", out);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "id")->valuestring, "cmpl-abc123");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "text_completion");
    cr_assert_eq(cJSON_GetObjectItem(j, "created")->valuedouble, 1700000000.0);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "gpt-3.5-turbo-instruct");
    const cJSON *c = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(c, "text")->valuestring, "Hello there");
    cr_assert_eq(cJSON_GetObjectItem(c, "index")->valueint, 0);
    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(c, "logprobs")));
    cr_assert_str_eq(cJSON_GetObjectItem(c, "finish_reason")->valuestring, "length");
    const cJSON *u = cJSON_GetObjectItem(j, "usage");
    cr_assert_eq(cJSON_GetObjectItem(u, "prompt_tokens")->valueint, 5);
    cr_assert_eq(cJSON_GetObjectItem(u, "completion_tokens")->valueint, 2);
    cr_assert_eq(cJSON_GetObjectItem(u, "total_tokens")->valueint, 7);
    cr_assert_null(cJSON_GetObjectItem(u, "extra"));
    cJSON_Delete(j);
    free(out);
}

Test(completions, encode_answer_from_echo_and_refusals)
{
    struct tg_dialect_ctx ctx = ctx0();
    struct tg_err err = {0};
    struct tg_prov_usage u;
    char *chat = NULL, *out = NULL;
    size_t cn = 0, n = 0;
    const char *canon = "{\"messages\":[{\"role\":\"user\",\"content\":\"ping\"}]}";
    cr_assert_eq(tg_prov_echo("m-echo", canon, strlen(canon), false, 1, "x", &chat, &cn, &u, &err), TG_OK);
    cr_assert_eq(OPS->encode_answer(&ctx, chat, cn, &out, &n, &err), TG_OK, "%s", err.msg);
    cr_assert_not_null(strstr(out, "\"text\":\"[echo] ping\""), "%s", out);
    cr_assert_not_null(strstr(out, "\"model\":\"m-echo\""), "no client model: the answer's: %s", out);
    free(out);
    free(chat);
    static const char *const bad[] = {
        "[]", "{\"object\":\"chat.completion\"}", "{\"object\":\"list\",\"choices\":[]}",
        "{\"choices\":[1]}", "nope",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = NULL;
        cr_expect_eq(OPS->encode_answer(&ctx, bad[i], strlen(bad[i]), &out, &n, &err), TG_EINVAL, "%s", bad[i]);
        cr_expect_null(out);
    }
}

/* ---- stream -------------------------------------------------------------------- */

struct acc {
    char  *buf;
    size_t len, cap;
    int    fail_after;   /* emits before refusing; <0 never */
};

static int
acc_emit(void *ud, const char *b, size_t n)
{
    struct acc *a = ud;
    if (a->fail_after == 0)
        return 1;
    if (a->fail_after > 0)
        a->fail_after--;
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

/* The translation of `in` fed in two pieces split at `cut`. */
static char *
translate(const struct tg_dialect_ctx *ctx, const char *in, size_t cut, bool ok, int *rc_out)
{
    struct acc a = { .fail_after = -1 };
    struct tg_dialect_stream *s = NULL;
    size_t len = strlen(in);
    int rc;
    cr_assert_eq(OPS->stream_new(ctx, acc_emit, &a, &s), TG_OK);
    rc = OPS->stream_feed(s, in, cut);
    if (rc == TG_OK)
        rc = OPS->stream_feed(s, in + cut, len - cut);
    if (rc == TG_OK)
        rc = OPS->stream_end(s, ok);
    OPS->stream_free(s);
    *rc_out = rc;
    return a.buf != NULL ? a.buf : strdup("");
}

static char *
echo_stream(const char *prompt, bool include_usage, struct tg_dialect_ctx *ctx)
{
    char body[512];
    struct tg_err err = {0};
    char *canon = NULL, *res = NULL;
    size_t n = 0, rn = 0;
    struct tg_prov_usage u;
    snprintf(body, sizeof(body), "{\"model\":\"gpt-3.5-turbo-instruct\",\"prompt\":\"%s\",\"stream\":true%s}",
             prompt, include_usage ? ",\"stream_options\":{\"include_usage\":true}" : "");
    cr_assert_eq(OPS->decode(body, strlen(body), &A, ctx, &canon, &n, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_prov_echo("m-echo", canon, n, true, 5, "id", &res, &rn, &u, &err), TG_OK, "%s", err.msg);
    return res;
}

/* Concatenated choice texts, the number of events and of usage events. */
static void
summarise(const char *out, char *text, size_t tcap, int *nev, int *nusage, bool *done, bool *error)
{
    const char *p = out;
    size_t tl = 0;
    *nev = *nusage = 0;
    *done = *error = false;
    text[0] = '\0';
    while (*p) {
        cr_assert(strncmp(p, "data: ", 6) == 0, "event starts with data: at %s", p);
        const char *e = strstr(p, "\n\n");
        cr_assert_not_null(e);
        char *data = strndup(p + 6, (size_t)(e - p - 6));
        cr_assert_not(*done, "nothing after [DONE]");
        if (strcmp(data, "[DONE]") == 0) {
            *done = true;
        } else {
            cJSON *j = cJSON_Parse(data);
            cr_assert_not_null(j, "%s", data);
            if (cJSON_GetObjectItem(j, "error") != NULL) {
                *error = true;
            } else {
                cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "text_completion");
                cr_assert_str_eq(cJSON_GetObjectItem(j, "id")->valuestring, "cmpl-abc123");
                cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "gpt-3.5-turbo-instruct");
                const cJSON *c;
                cJSON_ArrayForEach(c, cJSON_GetObjectItem(j, "choices")) {
                    const char *t = cJSON_GetObjectItem(c, "text")->valuestring;
                    cr_assert(cJSON_IsNull(cJSON_GetObjectItem(c, "logprobs")));
                    size_t l = strlen(t);
                    cr_assert_lt(tl + l, tcap);
                    memcpy(text + tl, t, l + 1);
                    tl += l;
                }
                if (cJSON_GetObjectItem(j, "usage") != NULL)
                    (*nusage)++;
            }
            cJSON_Delete(j);
        }
        free(data);
        (*nev)++;
        p = e + 2;
    }
}

Test(completions, stream_from_echo_split_everywhere)
{
    for (int usage = 0; usage < 2; usage++) {
        struct tg_dialect_ctx ctx = ctx0();
        char *in = echo_stream("one two three", usage, &ctx);
        size_t len = strlen(in);
        char *whole = NULL;
        for (size_t cut = 0; cut <= len; cut++) {
            int rc;
            char *out = translate(&ctx, in, cut, true, &rc);
            cr_assert_eq(rc, TG_OK, "cut %zu", cut);
            if (whole == NULL) {
                char text[256];
                int nev, nusage;
                bool done, error;
                summarise(out, text, sizeof(text), &nev, &nusage, &done, &error);
                cr_assert_str_eq(text, "[echo] one two three");
                cr_assert(done);
                cr_assert_not(error);
                cr_assert_eq(nusage, usage, "usage only when the client asked");
                cr_assert_not_null(strstr(out, "\"finish_reason\":\"stop\""));
                whole = out;
            } else {
                cr_assert_str_eq(out, whole, "the split at %zu changes the output", cut);
                free(out);
            }
        }
        free(whole);
        free(in);
    }
}

Test(completions, stream_broken_ends_in_an_error_event)
{
    struct tg_dialect_ctx ctx = ctx0();
    char *in = echo_stream("alpha beta", false, &ctx);
    char *dn = strstr(in, "data: [DONE]");
    cr_assert_not_null(dn);
    *dn = '\0';                               /* the upstream broke off before [DONE] */
    int rc;
    char *out = translate(&ctx, in, strlen(in) / 2, false, &rc);
    cr_assert_eq(rc, TG_OK);
    char text[256];
    int nev, nusage;
    bool done, error;
    summarise(out, text, sizeof(text), &nev, &nusage, &done, &error);
    cr_assert(error);
    cr_assert_not(done, "no [DONE] after a failure: the SDK raises on the error");
    free(out);
    /* the same bytes, ended ok: a [DONE] closes the stream */
    out = translate(&ctx, in, 3, true, &rc);
    summarise(out, text, sizeof(text), &nev, &nusage, &done, &error);
    cr_assert(done);
    cr_assert_not(error);
    free(out);
    free(in);
}

Test(completions, stream_malformed_and_emit_refused)
{
    struct tg_dialect_ctx ctx = ctx0();
    static const char *const bad[] = {
        "data: {not json}\n\n",
        "data: [1,2]\n\n",
        "data: {\"id\":\"x\"}\n\n",
        "data: {\"choices\":[7]}\n\n",
        "data: [DONE]\n\ndata: {\"choices\":[]}\n\n",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc;
        char *out = translate(&ctx, bad[i], 0, true, &rc);
        cr_expect_lt(rc, 0, "%s", bad[i]);
        free(out);
    }
    /* an upstream error event is passed on and ends the stream */
    int rc;
    char *out = translate(&ctx, "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n", 5,
                          true, &rc);
    cr_assert_eq(rc, TG_OK);
    cr_assert_str_eq(out, "data: {\"error\":{\"message\":\"overloaded\",\"type\":\"server_error\"}}\n\n");
    free(out);

    /* the client going away stops the translation */
    char *in = echo_stream("x y z", false, &ctx);
    struct acc a = { .fail_after = 1 };
    struct tg_dialect_stream *s = NULL;
    cr_assert_eq(OPS->stream_new(&ctx, acc_emit, &a, &s), TG_OK);
    cr_assert_lt(OPS->stream_feed(s, in, strlen(in)), 0);
    OPS->stream_free(s);
    free(a.buf);
    free(in);
}
