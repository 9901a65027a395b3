/*
 * test_dialect_responses.c — the OpenAI Responses dialect: decode (case
 * files in tests/cases/dialects/responses/, every one checked against
 * tg_request_parse), answer encoding, and stream translation (whole and
 * byte by byte, tool calls, usage, incomplete, failures).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "adapters/dialects/dialect.h"
#include "engine/arena.h"
#include "engine/request.h"

#define CASES_DIR TG_DATA_DIR "/tests/cases/dialects/responses"

static const struct tg_dialect_ops *
ops(void)
{
    const struct tg_dialect_ops *o = tg_dialect_get(TG_DIALECT_RESPONSES);
    cr_assert_not_null(o);
    cr_assert_not_null(o->decode);
    return o;
}

static char *
read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;

    cr_assert_not_null(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    cr_assert_not_null(buf);
    cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* ---- decode case files ---------------------------------------------------- */

/* Is marker in some part of the parsed canonical request? */
static bool
in_parts(const struct tg_request *r, const char *marker)
{
    for (uint32_t i = 0; i < r->nparts; i++)
        if (memmem(r->parts[i].text, r->parts[i].len, marker, strlen(marker)) != NULL)
            return true;
    return false;
}

static bool
listed(const cJSON *arr, const char *tok)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, arr)
        if (cJSON_IsString(c) && strcmp(c->valuestring, tok) == 0)
            return true;
    return false;
}

/* Every MK_... token of the body text must be in carried or dropped. */
static void
check_markers_listed(const char *name, const char *body, const cJSON *carried,
                     const cJSON *dropped)
{
    for (const char *p = strstr(body, "MK_"); p != NULL; p = strstr(p + 3, "MK_")) {
        char tok[64];
        size_t n = 3;
        while (n < sizeof(tok) - 1 && ((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= '0' && p[n] <= '9')))
            n++;
        memcpy(tok, p, n);
        tok[n] = '\0';
        cr_assert(listed(carried, tok) || listed(dropped, tok),
                  "%s: marker %s is in the body but in neither carried nor dropped", name, tok);
    }
}

static int
run_case(const char *name, const char *text)
{
    cJSON *c = cJSON_Parse(text);
    const cJSON *body, *body_text, *want, *want_err, *carried, *dropped, *m;
    struct tg_dialect_ctx ctx = { .id = TG_DIALECT_RESPONSES, .answer_id = "t1", .now_s = 1 };
    struct tg_arena a;
    struct tg_err err = { 0 };
    char *in, *canon = NULL;
    size_t canon_len = 0;
    int rc, checks = 0;

    cr_assert_not_null(c, "%s: case file is not JSON", name);
    body = cJSON_GetObjectItem(c, "body");
    body_text = cJSON_GetObjectItem(c, "body_text");
    want = cJSON_GetObjectItem(c, "canon");
    want_err = cJSON_GetObjectItem(c, "error");
    carried = cJSON_GetObjectItem(c, "carried");
    dropped = cJSON_GetObjectItem(c, "dropped");
    cr_assert(body != NULL || cJSON_IsString(body_text), "%s: no body", name);
    cr_assert(want != NULL || want_err != NULL || carried != NULL, "%s: nothing to check", name);
    in = body != NULL ? cJSON_PrintUnformatted(body) : strdup(body_text->valuestring);
    check_markers_listed(name, in, carried, dropped);

    tg_arena_init(&a, 0);
    rc = ops()->decode(in, strlen(in), &a, &ctx, &canon, &canon_len, &err);
    if (want_err != NULL) {
        cr_assert(rc == TG_EINVAL || rc == TG_ELIMIT, "%s: want an error, got %d", name, rc);
        cr_assert_null(canon, "%s: output touched on failure", name);
        cr_assert(strstr(err.msg, want_err->valuestring) != NULL, "%s: error '%s' lacks '%s'",
                  name, err.msg, want_err->valuestring);
        cr_assert_null(strstr(err.msg, "MK_"), "%s: request text in the error: %s", name, err.msg);
        checks++;
    } else {
        struct tg_request r;
        struct tg_err perr = { 0 };
        cr_assert_eq(rc, TG_OK, "%s: decode failed: %s", name, err.msg);
        cr_assert_eq(strlen(canon), canon_len);
        if (want != NULL) {
            cJSON *got = cJSON_Parse(canon);
            cr_assert_not_null(got, "%s: canonical body is not JSON: %s", name, canon);
            if (!cJSON_Compare(got, want, true)) {
                char *w = cJSON_PrintUnformatted(want);
                cr_assert_fail("%s:\n got  %s\n want %s", name, canon, w);
            }
            cJSON_Delete(got);
            checks++;
        }
        /* the engine must accept it, and read every carried text */
        rc = tg_request_parse(canon, canon_len, &a, &r, &perr);
        cr_assert_eq(rc, TG_OK, "%s: tg_request_parse refused the canonical body: %s\n%s", name,
                     perr.msg, canon);
        cJSON_ArrayForEach(m, carried) {
            cr_assert(in_parts(&r, m->valuestring), "%s: %s is not in any part\n%s", name,
                      m->valuestring, canon);
            checks++;
        }
        tg_request_dispose(&r);
        cr_assert_eq(ctx.stream, cJSON_IsTrue(cJSON_GetObjectItem(body, "stream")), "%s", name);
    }
    cJSON_ArrayForEach(m, dropped) {
        cr_assert(canon == NULL || strstr(canon, m->valuestring) == NULL,
                  "%s: dropped %s reached the canonical body", name, m->valuestring);
        checks++;
    }
    tg_arena_free(&a);
    free(in);
    cJSON_Delete(c);
    return checks;
}

Test(responses, cases)
{
    DIR *d = opendir(CASES_DIR);
    struct dirent *e;
    int files = 0, checks = 0;

    cr_assert_not_null(d, "no %s", CASES_DIR);
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name), len;
        char path[1024];
        char *text;
        if (n < 6 || strcmp(e->d_name + n - 5, ".json") != 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", CASES_DIR, e->d_name);
        text = read_file(path, &len);
        checks += run_case(e->d_name, text);
        free(text);
        files++;
    }
    closedir(d);
    cr_assert_geq(files, 40, "only %d case files", files);
    cr_log_info("%d case files, %d checks", files, checks);
}

/* Decode a body for the answer and stream tests (ctx->priv knows its tools). */
static void
decode_ctx(const char *body, struct tg_arena *a, struct tg_dialect_ctx *ctx)
{
    char *canon = NULL;
    size_t n = 0;
    struct tg_err err = { 0 };

    memset(ctx, 0, sizeof(*ctx));
    ctx->id = TG_DIALECT_RESPONSES;
    ctx->answer_id = "abc123";
    ctx->now_s = 1750000000;
    tg_arena_init(a, 0);
    cr_assert_eq(ops()->decode(body, strlen(body), a, ctx, &canon, &n, &err), TG_OK, "%s", err.msg);
}

static const char *TOOLS_BODY =
    "{\"model\":\"gpt-5-codex\",\"instructions\":\"Be brief.\",\"input\":\"hi\","
    "\"tools\":[{\"type\":\"function\",\"name\":\"shell\",\"parameters\":{\"type\":\"object\"}},"
    "{\"type\":\"custom\",\"name\":\"apply_patch\"}],\"tool_choice\":\"auto\","
    "\"parallel_tool_calls\":false,\"metadata\":{\"k\":\"v\"},\"stream\":true}";

Test(responses, decode_sets_ctx)
{
    struct tg_arena a;
    struct tg_dialect_ctx ctx;

    decode_ctx(TOOLS_BODY, &a, &ctx);
    cr_assert_str_eq(ctx.client_model, "gpt-5-codex");
    cr_assert(ctx.stream);
    cr_assert_not_null(ctx.priv);
    tg_arena_free(&a);
}

/* Every allocation of decode can fail; the decoder fails cleanly each time. */
Test(responses, decode_arena_failures)
{
    size_t len = strlen(TOOLS_BODY);
    int ok_at = -1;

    for (long n = 1; n < 200 && ok_at < 0; n++) {
        struct tg_arena a;
        struct tg_dialect_ctx ctx = { .answer_id = "x" };
        struct tg_err err = { 0 };
        char *canon = NULL;
        size_t cl = 0;
        int rc;
        tg_arena_init(&a, 256);
        tg_arena_fail_after(n);
        rc = ops()->decode(TOOLS_BODY, len, &a, &ctx, &canon, &cl, &err);
        tg_arena_fail_after(0);
        if (rc == TG_OK)
            ok_at = (int)n;
        else
            cr_assert(rc == TG_ENOMEM && canon == NULL && ctx.priv == NULL,
                      "n=%ld: rc %d (%s)", n, rc, err.msg);
        tg_arena_free(&a);
    }
    cr_assert_gt(ok_at, 1, "decode never failed or never succeeded (%d)", ok_at);
}

/* ---- encode_answer ---------------------------------------------------------- */

static cJSON *
encode(const struct tg_dialect_ctx *ctx, const char *chat)
{
    char *out = NULL;
    size_t n = 0;
    struct tg_err err = { 0 };
    cJSON *j;

    cr_assert_eq(ops()->encode_answer(ctx, chat, strlen(chat), &out, &n, &err), TG_OK, "%s",
                 err.msg);
    cr_assert_eq(strlen(out), n);
    j = cJSON_Parse(out);
    cr_assert_not_null(j, "not JSON: %s", out);
    free(out);
    return j;
}

static const char *
jstr(const cJSON *o, const char *path)
{
    /* "a.b.0.c" */
    char buf[256], *save = NULL, *tok;
    const cJSON *cur = o;
    snprintf(buf, sizeof(buf), "%s", path);
    for (tok = strtok_r(buf, ".", &save); tok != NULL && cur != NULL; tok = strtok_r(NULL, ".", &save))
        cur = (tok[0] >= '0' && tok[0] <= '9') ? cJSON_GetArrayItem(cur, atoi(tok))
                                                : cJSON_GetObjectItemCaseSensitive(cur, tok);
    if (cJSON_IsString(cur))
        return cur->valuestring;
    if (cJSON_IsNumber(cur)) {
        static char num[64];
        snprintf(num, sizeof(num), "%.0f", cur->valuedouble);
        return num;
    }
    if (cJSON_IsNull(cur))
        return "null";
    if (cJSON_IsBool(cur))
        return cJSON_IsTrue(cur) ? "true" : "false";
    return cur == NULL ? "(absent)" : "(object)";
}

Test(responses, answer_text_and_usage)
{
    struct tg_arena a;
    struct tg_dialect_ctx ctx;
    cJSON *r;

    decode_ctx(TOOLS_BODY, &a, &ctx);
    r = encode(&ctx, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
                     "\"model\":\"deepseek-chat\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                     "\"assistant\",\"content\":\"Hello \\\"world\\\"\\n\"},\"finish_reason\":\"stop\"}],"
                     "\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":7,\"total_tokens\":18,"
                     "\"prompt_tokens_details\":{\"cached_tokens\":3},"
                     "\"completion_tokens_details\":{\"reasoning_tokens\":2}}}");
    cr_assert_str_eq(jstr(r, "id"), "resp_abc123");
    cr_assert_str_eq(jstr(r, "object"), "response");
    cr_assert_str_eq(jstr(r, "created_at"), "1750000000");
    cr_assert_str_eq(jstr(r, "status"), "completed");
    cr_assert_str_eq(jstr(r, "model"), "gpt-5-codex");
    cr_assert_str_eq(jstr(r, "instructions"), "Be brief.");
    cr_assert_str_eq(jstr(r, "parallel_tool_calls"), "false");
    cr_assert_str_eq(jstr(r, "tools.1.name"), "apply_patch");
    cr_assert_str_eq(jstr(r, "metadata.k"), "v");
    cr_assert_str_eq(jstr(r, "incomplete_details"), "null");
    cr_assert_str_eq(jstr(r, "error"), "null");
    cr_assert_str_eq(jstr(r, "output.0.type"), "message");
    cr_assert_str_eq(jstr(r, "output.0.role"), "assistant");
    cr_assert_str_eq(jstr(r, "output.0.status"), "completed");
    cr_assert_str_eq(jstr(r, "output.0.content.0.type"), "output_text");
    cr_assert_str_eq(jstr(r, "output.0.content.0.text"), "Hello \"world\"\n");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(
                     cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetArrayItem(
                         cJSON_GetObjectItem(r, "output"), 0), "content"), 0), "annotations")), 0);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "output")), 1);
    cr_assert_str_eq(jstr(r, "usage.input_tokens"), "11");
    cr_assert_str_eq(jstr(r, "usage.output_tokens"), "7");
    cr_assert_str_eq(jstr(r, "usage.total_tokens"), "18");
    cr_assert_str_eq(jstr(r, "usage.input_tokens_details.cached_tokens"), "3");
    cr_assert_str_eq(jstr(r, "usage.output_tokens_details.reasoning_tokens"), "2");
    cJSON_Delete(r);
    tg_arena_free(&a);
}

Test(responses, answer_tool_calls_and_custom)
{
    struct tg_arena a;
    struct tg_dialect_ctx ctx;
    cJSON *r;

    decode_ctx(TOOLS_BODY, &a, &ctx);
    r = encode(&ctx, "{\"object\":\"chat.completion\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                     "\"assistant\",\"content\":null,\"tool_calls\":["
                     "{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name\":\"shell\","
                     "\"arguments\":\"{\\\"cmd\\\":[\\\"ls\\\"]}\"}},"
                     "{\"id\":\"call_2\",\"type\":\"function\",\"function\":{\"name\":\"apply_patch\","
                     "\"arguments\":\"{\\\"input\\\":\\\"*** Begin Patch\\\\n\\\"}\"}},"
                     "{\"type\":\"function\",\"function\":{\"name\":\"apply_patch\",\"arguments\":\"not json\"}}]},"
                     "\"finish_reason\":\"tool_calls\"}]}");
    cr_assert_str_eq(jstr(r, "status"), "completed");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(r, "output")), 3, "no empty message item");
    cr_assert_str_eq(jstr(r, "output.0.type"), "function_call");
    cr_assert_str_eq(jstr(r, "output.0.call_id"), "call_1");
    cr_assert_str_eq(jstr(r, "output.0.name"), "shell");
    cr_assert_str_eq(jstr(r, "output.0.arguments"), "{\"cmd\":[\"ls\"]}");
    cr_assert_str_eq(jstr(r, "output.0.status"), "completed");
    cr_assert(strncmp(jstr(r, "output.0.id"), "fc_", 3) == 0);
    cr_assert_str_eq(jstr(r, "output.1.type"), "custom_tool_call");
    cr_assert_str_eq(jstr(r, "output.1.call_id"), "call_2");
    cr_assert_str_eq(jstr(r, "output.1.input"), "*** Begin Patch\n");
    cr_assert(strncmp(jstr(r, "output.1.id"), "ctc_", 4) == 0);
    /* arguments that are not {"input": ...} are passed as the input itself; a missing id is made */
    cr_assert_str_eq(jstr(r, "output.2.input"), "not json");
    cr_assert(strncmp(jstr(r, "output.2.call_id"), "call_abc123", 11) == 0);
    cr_assert_str_eq(jstr(r, "usage"), "null");
    cJSON_Delete(r);
    tg_arena_free(&a);
}

Test(responses, answer_length_refusal_and_no_ctx)
{
    struct tg_dialect_ctx ctx = { .id = TG_DIALECT_RESPONSES, .answer_id = "z", .now_s = 5 };
    cJSON *r;
    char *out = NULL;
    size_t n;
    struct tg_err err = { 0 };

    /* no decode: defaults for the echoed members, no custom tools */
    r = encode(&ctx, "{\"choices\":[{\"message\":{\"content\":\"partial\",\"refusal\":\"I can't\"},"
                     "\"finish_reason\":\"length\"}]}");
    cr_assert_str_eq(jstr(r, "status"), "incomplete");
    cr_assert_str_eq(jstr(r, "incomplete_details.reason"), "max_output_tokens");
    cr_assert_str_eq(jstr(r, "completed_at"), "null");
    cr_assert_str_eq(jstr(r, "output.0.status"), "incomplete");
    cr_assert_str_eq(jstr(r, "output.0.content.0.text"), "partial");
    cr_assert_str_eq(jstr(r, "output.0.content.1.type"), "refusal");
    cr_assert_str_eq(jstr(r, "output.0.content.1.refusal"), "I can't");
    cr_assert_str_eq(jstr(r, "model"), "");
    cr_assert_str_eq(jstr(r, "tool_choice"), "auto");
    cJSON_Delete(r);

    r = encode(&ctx, "{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"No.\"},"
                     "\"finish_reason\":\"stop\"}]}");
    cr_assert_str_eq(jstr(r, "output.0.content.0.type"), "refusal");
    cr_assert_str_eq(jstr(r, "output.0.content.1.type"), "(absent)");
    cJSON_Delete(r);

    r = encode(&ctx, "{\"choices\":[{\"message\":{\"content\":\"\"},\"finish_reason\":\"stop\"}]}");
    cr_assert_str_eq(jstr(r, "output.0.content.0.text"), "", "an empty answer keeps one message");
    cJSON_Delete(r);

    cr_assert_eq(ops()->encode_answer(&ctx, "{\"object\":\"list\"}", 17, &out, &n, &err), TG_EINVAL);
    cr_assert_eq(ops()->encode_answer(&ctx, "nope", 4, &out, &n, &err), TG_EINVAL);
    cr_assert_null(out);
}

/* ---- stream ----------------------------------------------------------------- */

struct acc {
    char  *buf;
    size_t len, cap;
    int    refuse_after;   /* >0: refuse the n-th emit */
    int    calls;
};

static int
on_emit(void *ud, const char *b, size_t n)
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

/* Feed sse in pieces of `piece` bytes (0: whole), end with ok; return the output. */
static char *
translate(const struct tg_dialect_ctx *ctx, const char *sse, size_t piece, bool ok, int *feed_rc,
          int *end_rc)
{
    struct tg_dialect_stream *s = NULL;
    struct acc out = { 0 };
    size_t n = strlen(sse);
    int rc = 0;

    cr_assert_eq(ops()->stream_new(ctx, on_emit, &out, &s), TG_OK);
    if (piece == 0)
        piece = n ? n : 1;
    for (size_t i = 0; i < n && rc == 0; i += piece)
        rc = ops()->stream_feed(s, sse + i, n - i < piece ? n - i : piece);
    if (feed_rc)
        *feed_rc = rc;
    rc = ops()->stream_end(s, ok);
    if (end_rc)
        *end_rc = rc;
    ops()->stream_free(s);
    return out.buf ? out.buf : strdup("");
}

struct events {
    char   names[64][64];
    cJSON *data[64];
    int    n;
};

/* Split "event: X\ndata: J\n\n" events; check type == X and sequence numbers 0, 1, ... */
static void
parse_events(const char *out, struct events *ev)
{
    const char *p = out;
    memset(ev, 0, sizeof(*ev));
    while (*p) {
        const char *nl, *end;
        cr_assert(strncmp(p, "event: ", 7) == 0, "bad event start: %.40s", p);
        nl = strchr(p, '\n');
        cr_assert_not_null(nl);
        cr_assert_lt(ev->n, 64);
        snprintf(ev->names[ev->n], sizeof(ev->names[0]), "%.*s", (int)(nl - p - 7), p + 7);
        cr_assert(strncmp(nl + 1, "data: ", 6) == 0);
        end = strstr(nl + 1, "\n\n");
        cr_assert_not_null(end);
        {
            size_t dl = (size_t)(end - (nl + 7));
            char *d = strndup(nl + 7, dl);
            cr_assert_null(memchr(d, '\n', dl), "data spans lines");
            ev->data[ev->n] = cJSON_Parse(d);
            cr_assert_not_null(ev->data[ev->n], "event data not JSON: %s", d);
            free(d);
        }
        cr_assert_str_eq(jstr(ev->data[ev->n], "type"), ev->names[ev->n]);
        cr_assert_eq(cJSON_GetObjectItem(ev->data[ev->n], "sequence_number")->valuedouble, ev->n);
        ev->n++;
        p = end + 2;
    }
}

static void
free_events(struct events *ev)
{
    for (int i = 0; i < ev->n; i++)
        cJSON_Delete(ev->data[i]);
}

static void
expect_names(const struct events *ev, const char *const *want, int n)
{
    char got[4096] = "";
    for (int i = 0; i < ev->n; i++) {
        strcat(got, ev->names[i]);
        strcat(got, " ");
    }
    cr_assert_eq(ev->n, n, "events: %s", got);
    for (int i = 0; i < n; i++)
        cr_assert_str_eq(ev->names[i], want[i], "event %d; events: %s", i, got);
}

#define CHUNK(delta, finish) \
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"x\"," \
    "\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" finish "}]}\n\n"

static const char *TEXT_SSE =
    CHUNK("{\"role\":\"assistant\",\"content\":\"\"}", "null")
    CHUNK("{\"content\":\"Hel\"}", "null")
    ": keep-alive comment\n\n"
    CHUNK("{\"content\":\"lo \\\"\\u00e9\\\"\"}", "null")
    CHUNK("{}", "\"stop\"")
    "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":"
    "{\"prompt_tokens\":9,\"completion_tokens\":3,\"total_tokens\":12,\"prompt_cache_hit_tokens\":4}}\n\n"
    "data: [DONE]\n\n";

Test(responses, stream_text_whole_and_bytewise)
{
    struct tg_arena a;
    struct tg_dialect_ctx ctx;
    struct events ev;
    char *whole, *bytes, *split;
    int frc, erc;
    static const char *const want[] = {
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.delta", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.completed",
    };

    decode_ctx(TOOLS_BODY, &a, &ctx);
    whole = translate(&ctx, TEXT_SSE, 0, true, &frc, &erc);
    cr_assert_eq(frc, 0);
    cr_assert_eq(erc, 0);
    bytes = translate(&ctx, TEXT_SSE, 1, true, NULL, NULL);
    split = translate(&ctx, TEXT_SSE, 7, true, NULL, NULL);
    cr_assert_str_eq(bytes, whole, "1-byte pieces differ from one piece");
    cr_assert_str_eq(split, whole, "7-byte pieces differ from one piece");

    parse_events(whole, &ev);
    expect_names(&ev, want, 10);
    cr_assert_str_eq(jstr(ev.data[0], "response.status"), "in_progress");
    cr_assert_str_eq(jstr(ev.data[0], "response.id"), "resp_abc123");
    cr_assert_str_eq(jstr(ev.data[0], "response.usage"), "null");
    cr_assert_str_eq(jstr(ev.data[2], "item.type"), "message");
    cr_assert_str_eq(jstr(ev.data[2], "item.status"), "in_progress");
    cr_assert_str_eq(jstr(ev.data[2], "output_index"), "0");
    cr_assert_str_eq(jstr(ev.data[3], "part.text"), "");
    cr_assert_str_eq(jstr(ev.data[4], "delta"), "Hel");
    cr_assert_str_eq(jstr(ev.data[5], "delta"), "lo \"\xc3\xa9\"");
    cr_assert_str_eq(jstr(ev.data[4], "item_id"), jstr(ev.data[2], "item.id"));
    cr_assert_str_eq(jstr(ev.data[4], "content_index"), "0");
    cr_assert_str_eq(jstr(ev.data[6], "text"), "Hello \"\xc3\xa9\"");
    cr_assert_str_eq(jstr(ev.data[7], "part.text"), "Hello \"\xc3\xa9\"");
    cr_assert_str_eq(jstr(ev.data[8], "item.content.0.text"), "Hello \"\xc3\xa9\"");
    cr_assert_str_eq(jstr(ev.data[8], "item.status"), "completed");
    cr_assert_str_eq(jstr(ev.data[9], "response.status"), "completed");
    cr_assert_str_eq(jstr(ev.data[9], "response.output.0.content.0.text"), "Hello \"\xc3\xa9\"");
    cr_assert_str_eq(jstr(ev.data[9], "response.usage.input_tokens"), "9");
    cr_assert_str_eq(jstr(ev.data[9], "response.usage.output_tokens"), "3");
    cr_assert_str_eq(jstr(ev.data[9], "response.usage.total_tokens"), "12");
    cr_assert_str_eq(jstr(ev.data[9], "response.usage.input_tokens_details.cached_tokens"), "4");
    cr_assert_str_eq(jstr(ev.data[9], "response.instructions"), "Be brief.");
    free_events(&ev);
    free(whole);
    free(bytes);
    free(split);
    tg_arena_free(&a);
}

#define TC(idx, rest) "{\"index\":" #idx "," rest "}"

static const char *TOOL_SSE =
    CHUNK("{\"role\":\"assistant\",\"content\":\"Let me look.\"}", "null")
    CHUNK("{\"tool_calls\":[" TC(0, "\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"shell\",\"arguments\":\"\"}") "]}", "null")
    CHUNK("{\"tool_calls\":[" TC(0, "\"function\":{\"arguments\":\"{\\\"cmd\\\":\"}") "]}", "null")
    CHUNK("{\"tool_calls\":[" TC(1, "\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"apply_patch\",\"arguments\":\"{\\\"input\\\":\"}") "]}", "null")
    CHUNK("{\"tool_calls\":[" TC(0, "\"function\":{\"arguments\":\"[\\\"ls\\\"]}\"}") "]}", "null")
    CHUNK("{\"tool_calls\":[" TC(1, "\"function\":{\"arguments\":\"\\\"*** Begin\\\\n\\\"}\"}") "]}", "null")
    CHUNK("{}", "\"tool_calls\"")
    "data: [DONE]\n\n";

Test(responses, stream_tool_calls)
{
    struct tg_arena a;
    struct tg_dialect_ctx ctx;
    struct events ev;
    char *whole, *bytes;
    const cJSON *out;
    static const char *const want[] = {
        "response.created", "response.in_progress",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.done", "response.output_item.done",
        "response.custom_tool_call_input.delta", "response.custom_tool_call_input.done",
        "response.output_item.done", "response.completed",
    };

    decode_ctx(TOOLS_BODY, &a, &ctx);
    whole = translate(&ctx, TOOL_SSE, 0, true, NULL, NULL);
    bytes = translate(&ctx, TOOL_SSE, 1, true, NULL, NULL);
    cr_assert_str_eq(bytes, whole);
    parse_events(whole, &ev);
    expect_names(&ev, want, 18);
    cr_assert_str_eq(jstr(ev.data[8], "item.type"), "function_call");
    cr_assert_str_eq(jstr(ev.data[8], "item.call_id"), "call_a");
    cr_assert_str_eq(jstr(ev.data[8], "item.name"), "shell");
    cr_assert_str_eq(jstr(ev.data[8], "item.arguments"), "");
    cr_assert_str_eq(jstr(ev.data[8], "output_index"), "1");
    cr_assert_str_eq(jstr(ev.data[9], "delta"), "{\"cmd\":");
    cr_assert_str_eq(jstr(ev.data[10], "item.type"), "custom_tool_call");
    cr_assert_str_eq(jstr(ev.data[10], "output_index"), "2");
    cr_assert_str_eq(jstr(ev.data[11], "delta"), "[\"ls\"]}");
    cr_assert_str_eq(jstr(ev.data[11], "output_index"), "1");
    cr_assert_str_eq(jstr(ev.data[12], "arguments"), "{\"cmd\":[\"ls\"]}");
    cr_assert_str_eq(jstr(ev.data[12], "name"), "shell");
    cr_assert_str_eq(jstr(ev.data[13], "item.arguments"), "{\"cmd\":[\"ls\"]}");
    cr_assert_str_eq(jstr(ev.data[13], "item.status"), "completed");
    cr_assert_str_eq(jstr(ev.data[14], "delta"), "*** Begin\n");
    cr_assert_str_eq(jstr(ev.data[15], "input"), "*** Begin\n");
    cr_assert_str_eq(jstr(ev.data[16], "item.input"), "*** Begin\n");
    cr_assert_str_eq(jstr(ev.data[16], "item.call_id"), "call_b");
    out = cJSON_GetObjectItem(cJSON_GetObjectItem(ev.data[17], "response"), "output");
    cr_assert_eq(cJSON_GetArraySize(out), 3);
    cr_assert_str_eq(jstr(ev.data[17], "response.output.0.content.0.text"), "Let me look.");
    cr_assert_str_eq(jstr(ev.data[17], "response.output.1.arguments"), "{\"cmd\":[\"ls\"]}");
    cr_assert_str_eq(jstr(ev.data[17], "response.output.2.input"), "*** Begin\n");
    cr_assert_str_eq(jstr(ev.data[17], "response.usage"), "null", "no usage chunk was sent");
    free_events(&ev);
    free(whole);
    free(bytes);
    tg_arena_free(&a);
}

Test(responses, stream_length_is_incomplete)
{
    struct tg_dialect_ctx ctx = { .answer_id = "q", .now_s = 1 };
    struct events ev;
    char *out = translate(&ctx, CHUNK("{\"content\":\"abc\"}", "null") CHUNK("{}", "\"length\"")
                                "data: [DONE]\n\n", 0, true, NULL, NULL);
    parse_events(out, &ev);
    cr_assert_str_eq(ev.names[ev.n - 1], "response.incomplete");
    cr_assert_str_eq(jstr(ev.data[ev.n - 1], "response.status"), "incomplete");
    cr_assert_str_eq(jstr(ev.data[ev.n - 1], "response.incomplete_details.reason"),
                     "max_output_tokens");
    free_events(&ev);
    free(out);
}

Test(responses, stream_empty_answer_has_a_message)
{
    struct tg_dialect_ctx ctx = { .answer_id = "q", .now_s = 1 };
    struct events ev;
    char *out = translate(&ctx, CHUNK("{\"role\":\"assistant\",\"content\":\"\"}", "\"stop\"")
                                "data: [DONE]\n\n", 0, true, NULL, NULL);
    static const char *const want[] = {
        "response.created", "response.in_progress", "response.output_item.added",
        "response.content_part.added", "response.output_text.done", "response.content_part.done",
        "response.output_item.done", "response.completed",
    };
    parse_events(out, &ev);
    expect_names(&ev, want, 8);
    cr_assert_str_eq(jstr(ev.data[7], "response.output.0.content.0.text"), "");
    free_events(&ev);
    free(out);
}

Test(responses, stream_refusal)
{
    struct tg_dialect_ctx ctx = { .answer_id = "q", .now_s = 1 };
    struct events ev;
    char *out = translate(&ctx, CHUNK("{\"refusal\":\"No\"}", "null") CHUNK("{\"refusal\":\".\"}", "\"stop\"")
                                "data: [DONE]\n\n", 0, true, NULL, NULL);
    parse_events(out, &ev);
    cr_assert_str_eq(ev.names[3], "response.content_part.added");
    cr_assert_str_eq(jstr(ev.data[3], "part.type"), "refusal");
    cr_assert_str_eq(ev.names[4], "response.refusal.delta");
    cr_assert_str_eq(ev.names[6], "response.refusal.done");
    cr_assert_str_eq(jstr(ev.data[6], "refusal"), "No.");
    cr_assert_str_eq(jstr(ev.data[ev.n - 1], "response.output.0.content.0.refusal"), "No.");
    free_events(&ev);
    free(out);
}

Test(responses, stream_broken_is_failed)
{
    struct tg_dialect_ctx ctx = { .answer_id = "q", .now_s = 1 };
    struct events ev;
    int frc = 1, erc = 1;
    char *out = translate(&ctx, CHUNK("{\"content\":\"half\"}", "null"), 0, false, &frc, &erc);

    cr_assert_eq(frc, 0);
    cr_assert_eq(erc, 0);
    parse_events(out, &ev);
    cr_assert_str_eq(ev.names[ev.n - 2], "error");
    cr_assert_str_eq(jstr(ev.data[ev.n - 2], "code"), "server_error");
    cr_assert_str_neq(jstr(ev.data[ev.n - 2], "message"), "(absent)");
    cr_assert_str_neq(jstr(ev.data[ev.n - 2], "error.message"), "(absent)",
                      "SDKs raise on the error member");
    cr_assert_str_eq(ev.names[ev.n - 1], "response.failed");
    cr_assert_str_eq(jstr(ev.data[ev.n - 1], "response.status"), "failed");
    cr_assert_str_eq(jstr(ev.data[ev.n - 1], "response.error.code"), "server_error");
    cr_assert_str_eq(jstr(ev.data[ev.n - 1], "response.output.0.content.0.text"), "half");
    free_events(&ev);
    free(out);

    /* nothing at all before the break: still created, then the failure */
    out = translate(&ctx, "", 0, false, NULL, NULL);
    parse_events(out, &ev);
    cr_assert_eq(ev.n, 4);
    cr_assert_str_eq(ev.names[0], "response.created");
    cr_assert_str_eq(ev.names[3], "response.failed");
    free_events(&ev);
    free(out);
}

Test(responses, stream_upstream_error_chunk)
{
    struct tg_dialect_ctx ctx = { .answer_id = "q", .now_s = 1 };
    struct events ev;
    int frc = 0;
    char *out = translate(&ctx, CHUNK("{\"content\":\"a\"}", "null")
                                "data: {\"error\":{\"message\":\"secret jane@example.com\"}}\n\n"
                                CHUNK("{\"content\":\"b\"}", "null"), 0, false, &frc, NULL);
    cr_assert_eq(frc, TG_EUPSTREAM);
    cr_assert_null(strstr(out, "jane@example.com"), "the provider's message is not relayed");
    parse_events(out, &ev);
    cr_assert_str_eq(ev.names[ev.n - 1], "response.failed");
    cr_assert_eq(strcmp(ev.names[ev.n - 2], "error"), 0);
    free_events(&ev);
    free(out);
}

Test(responses, stream_malformed_and_no_done)
{
    struct tg_dialect_ctx ctx = { .answer_id = "q", .now_s = 1 };
    struct events ev;
    int frc = 0, erc = 0;
    char *out = translate(&ctx, "data: {not json\n\n", 0, false, &frc, &erc);
    cr_assert_eq(frc, TG_EINVAL);
    parse_events(out, &ev);
    cr_assert_str_eq(ev.names[ev.n - 1], "response.failed");
    free_events(&ev);
    free(out);

    /* a stream that ends without [DONE] but is declared complete */
    out = translate(&ctx, CHUNK("{\"content\":\"x\"}", "\"stop\""), 0, true, &frc, &erc);
    cr_assert_eq(frc, 0);
    cr_assert_eq(erc, 0);
    parse_events(out, &ev);
    cr_assert_str_eq(ev.names[ev.n - 1], "response.completed");
    free_events(&ev);
    free(out);

    /* after [DONE], nothing more is emitted, even on a later failure */
    out = translate(&ctx, CHUNK("{\"content\":\"x\"}", "\"stop\"") "data: [DONE]\n\n"
                          CHUNK("{\"content\":\"y\"}", "null"), 0, false, NULL, NULL);
    parse_events(out, &ev);
    cr_assert_str_eq(ev.names[ev.n - 1], "response.completed");
    cr_assert_null(strstr(out, "\"y\""));
    free_events(&ev);
    free(out);
}

Test(responses, stream_emit_refused)
{
    struct tg_dialect_ctx ctx = { .answer_id = "q", .now_s = 1 };
    struct tg_dialect_stream *s = NULL;
    struct acc out = { .refuse_after = 3 };
    const char *sse = TEXT_SSE;

    cr_assert_eq(ops()->stream_new(&ctx, on_emit, &out, &s), TG_OK);
    cr_assert_eq(ops()->stream_feed(s, sse, strlen(sse)), TG_EIO);
    cr_assert_eq(ops()->stream_feed(s, "data: [DONE]\n\n", 14), TG_EIO, "errors are sticky");
    (void)ops()->stream_end(s, false);
    ops()->stream_free(s);
    free(out.buf);
}

/* Codex's multi_agent_v1 namespace: calls come back under their namespace. */
Test(responses, namespace_calls_map_back)
{
    struct tg_arena a;
    struct tg_dialect_ctx ctx;
    struct events ev;
    cJSON *r;
    char *out;

    decode_ctx("{\"input\":\"x\",\"tools\":[{\"type\":\"namespace\",\"name\":\"multi_agent_v1\","
               "\"description\":\"d\",\"tools\":[{\"type\":\"function\",\"name\":\"spawn_agent\"}]}]}",
               &a, &ctx);
    r = encode(&ctx, "{\"choices\":[{\"message\":{\"tool_calls\":[{\"id\":\"c9\",\"type\":\"function\","
                     "\"function\":{\"name\":\"multi_agent_v1__spawn_agent\",\"arguments\":\"{}\"}},"
                     "{\"id\":\"c10\",\"type\":\"function\",\"function\":{\"name\":\"other\","
                     "\"arguments\":\"{}\"}}]},\"finish_reason\":\"tool_calls\"}]}");
    cr_assert_str_eq(jstr(r, "output.0.name"), "spawn_agent");
    cr_assert_str_eq(jstr(r, "output.0.namespace"), "multi_agent_v1");
    cr_assert_str_eq(jstr(r, "output.1.name"), "other");
    cr_assert_str_eq(jstr(r, "output.1.namespace"), "(absent)");
    cJSON_Delete(r);

    out = translate(&ctx, CHUNK("{\"tool_calls\":[" TC(0, "\"id\":\"c9\",\"type\":\"function\",\"function\":"
                                "{\"name\":\"multi_agent_v1__spawn_agent\",\"arguments\":\"{}\"}") "]}",
                                "\"tool_calls\"") "data: [DONE]\n\n", 0, true, NULL, NULL);
    parse_events(out, &ev);
    cr_assert_str_eq(jstr(ev.data[2], "item.name"), "spawn_agent");
    cr_assert_str_eq(jstr(ev.data[2], "item.namespace"), "multi_agent_v1");
    cr_assert_str_eq(ev.names[4], "response.function_call_arguments.done");
    cr_assert_str_eq(jstr(ev.data[4], "name"), "spawn_agent");
    cr_assert_str_eq(jstr(ev.data[ev.n - 1], "response.output.0.namespace"), "multi_agent_v1");
    free_events(&ev);
    free(out);
    tg_arena_free(&a);
}
