/*
 * test_respguard.c — the output guard on canonical answers and streams
 * (adapters/http/respguard.h), with the real loader, packs and engine:
 * which texts of a chat.completion are guarded; a stream's events in and
 * out (split anywhere), channel switches, [DONE] without a finish, events
 * kept until text is released, deny, audit mode relaying bytes unchanged.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/http/respguard.h"
#include "policy/policy.h"

#ifndef TG_DATA_DIR
#define TG_DATA_DIR "."
#endif

#define GH    "ghp_QOqb7XOfCsVtaXrZMAzSv2gENfMTx0MOdOQw"
#define EMAIL "jane.doe@acme-corp.com"

static struct tg_policy *P;
static struct tg_pii_scratch *S;
static struct tg_arena A;
static struct tg_outguard G;

static void
setup(void)
{
    char path[512];
    struct tg_load_opts o = { 0 };
    struct tg_err err = { 0 };
    snprintf(path, sizeof(path), "%s/tests/cases/policies/outguard.yaml", TG_DATA_DIR);
    cr_assert_eq(tg_policy_load(path, &o, &P, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_pii_scratch_new(P->pii, &S), TG_OK);
    tg_arena_init(&A, 0);
    P->resp_pii = TG_RESP_REDACT;   /* secrets: redact (the file), pii: redact */
    tg_outguard_init(&G, P, NULL, false, S, &A);
}

static void
teardown(void)
{
    tg_outguard_free(&G);
    tg_arena_free(&A);
    tg_pii_scratch_free(S);
    tg_policy_unref(P);
}

TestSuite(respguard, .init = setup, .fini = teardown);

/* ---- whole answers ---------------------------------------------------------- */

Test(respguard, answer_guards_every_text_of_every_choice)
{
    const char *in =
        "{\"id\":\"x\",\"object\":\"chat.completion\",\"choices\":["
        "{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"use " GH "\","
        "\"refusal\":null,\"tool_calls\":[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":\"mail\","
        "\"arguments\":\"{\\\"to\\\":\\\"" EMAIL "\\\"}\"}}]}},"
        "{\"index\":1,\"message\":{\"role\":\"assistant\",\"content\":[{\"type\":\"text\",\"text\":\"me: " EMAIL "\"}],"
        "\"reasoning_content\":\"the token " GH " was in the file\"}}],\"usage\":{\"prompt_tokens\":3}}";
    char *out = NULL;
    size_t n = 0;
    struct tg_err err = { 0 };
    cr_assert_eq(tg_rg_answer(&G, in, strlen(in), &out, &n, &err), TG_OK, "%s", err.msg);
    cr_assert_not_null(out);
    cr_assert_null(strstr(out, "QOqb7XOf"));
    cr_assert_null(strstr(out, "jane.doe"));
    cJSON *j = cJSON_Parse(out);
    cr_assert_not_null(j);
    cJSON *c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    cJSON *m0 = cJSON_GetObjectItem(c0, "message");
    cr_assert_str_eq(cJSON_GetObjectItem(m0, "content")->valuestring, "use <GITHUB_TOKEN_1>");
    cJSON *args = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(m0, "tool_calls"), 0),
                                                          "function"), "arguments");
    cr_assert_str_eq(args->valuestring, "{\"to\":\"<EMAIL_ADDRESS_1>\"}");
    cJSON *m1 = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 1), "message");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(m1, "content"), 0), "text")->valuestring,
                     "me: <EMAIL_ADDRESS_1>");
    cr_assert_str_eq(cJSON_GetObjectItem(m1, "reasoning_content")->valuestring,
                     "the token <GITHUB_TOKEN_1> was in the file");
    cr_assert_not_null(cJSON_GetObjectItem(j, "usage"), "everything else is kept");
    cJSON_Delete(j);
    free(out);
    cr_assert_eq(G.nfindings, 4);
}

Test(respguard, clean_answer_is_sent_as_it_is)
{
    const char *in = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"42\"}}]}";
    char *out = (char *)1;
    size_t n = 7;
    struct tg_err err = { 0 };
    cr_assert_eq(tg_rg_answer(&G, in, strlen(in), &out, &n, &err), TG_OK);
    cr_assert_null(out);
    cr_assert_eq(n, 0);
    cr_assert_eq(G.verdict, TG_RESP_PASS);
}

Test(respguard, answer_deny_gives_nothing)
{
    const char *in = "{\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"" GH "\"}}]}";
    char *out = NULL;
    size_t n = 0;
    struct tg_err err = { 0 };
    P->resp_secrets = TG_RESP_DENY;
    cr_assert_eq(tg_rg_answer(&G, in, strlen(in), &out, &n, &err), TG_OK);
    cr_assert_null(out);
    cr_assert_eq(G.verdict, TG_RESP_DENY);
    cr_assert_str_eq(G.rule, "response.secrets");
}

Test(respguard, answer_not_json_is_refused)
{
    char *out = NULL;
    size_t n = 0;
    struct tg_err err = { 0 };
    cr_assert_eq(tg_rg_answer(&G, "nope", 4, &out, &n, &err), TG_EINVAL);
}

/* ---- streams ------------------------------------------------------------------ */

struct acc {
    char  *p;
    size_t n, cap;
    int    calls;
};

static int
acc_add(void *ud, const char *s, size_t n)
{
    struct acc *a = ud;
    if (a->n + n + 1 > a->cap) {
        a->cap = (a->n + n + 1) * 2;
        a->p = realloc(a->p, a->cap);
        cr_assert_not_null(a->p);
    }
    memcpy(a->p + a->n, s, n);
    a->n += n;
    a->p[a->n] = '\0';
    a->calls++;
    return 0;
}

static void
ev_add(struct acc *a, const char *json)
{
    acc_add(a, "data: ", 6);
    acc_add(a, json, strlen(json));
    acc_add(a, "\n\n", 2);
}

static void
content_ev(struct acc *a, int choice, const char *text, const char *finish)
{
    cJSON *j = cJSON_CreateObject(), *chs = cJSON_AddArrayToObject(j, "choices"), *ch = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", "chatcmpl-1");
    cJSON_AddStringToObject(j, "object", "chat.completion.chunk");
    cJSON_AddNumberToObject(j, "created", 1);
    cJSON_AddStringToObject(j, "model", "m");
    cJSON_AddItemToArray(chs, ch);
    cJSON_AddNumberToObject(ch, "index", choice);
    cJSON *d = cJSON_AddObjectToObject(ch, "delta");
    if (text != NULL)
        cJSON_AddStringToObject(d, "content", text);
    if (finish != NULL)
        cJSON_AddStringToObject(ch, "finish_reason", finish);
    else
        cJSON_AddNullToObject(ch, "finish_reason");
    char *s = cJSON_PrintUnformatted(j);
    ev_add(a, s);
    free(s);
    cJSON_Delete(j);
}

static void
tool_ev(struct acc *a, int tool, const char *id, const char *name, const char *args)
{
    char buf[1024], head[256] = "", nm[128] = "";
    if (id != NULL)
        snprintf(head, sizeof(head), ",\"id\":\"%s\",\"type\":\"function\"", id);
    if (name != NULL)
        snprintf(nm, sizeof(nm), "\"name\":\"%s\",", name);
    snprintf(buf, sizeof(buf),
             "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":"
             "[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":%d%s,\"function\":{%s\"arguments\":\"%s\"}}]},"
             "\"finish_reason\":null}]}",
             tool, head, nm, args);
    ev_add(a, buf);
}

/* Feed in in pieces of `step` bytes; collect the output. */
static int
run(struct acc *in, size_t step, bool enforce, struct acc *out)
{
    struct tg_rg_stream *s = NULL;
    int rc = TG_OK;
    cr_assert_eq(tg_rg_stream_new(&G, enforce, acc_add, out, &s), TG_OK);
    for (size_t pos = 0; pos < in->n && rc == TG_OK; pos += step)
        rc = tg_rg_stream_feed(s, in->p + pos, in->n - pos < step ? in->n - pos : step);
    tg_rg_stream_free(s);
    return rc;
}

/* The content deltas of choice `choice`, concatenated, and whether [DONE] came. */
static char *
text_of(const struct acc *out, int choice, bool *done, int *events)
{
    struct acc t = { 0 };
    const char *p = out->p;
    acc_add(&t, "", 0);
    *done = false;
    *events = 0;
    while (p != NULL && (p = strstr(p, "data: ")) != NULL) {
        const char *e = strstr(p, "\n\n");
        cr_assert_not_null(e, "a whole event");
        if (e - p - 6 == 6 && memcmp(p + 6, "[DONE]", 6) == 0) {
            *done = true;
        } else {
            cJSON *j = cJSON_ParseWithLength(p + 6, (size_t)(e - p - 6));
            cr_assert_not_null(j, "event is JSON");
            cJSON *ch;
            cJSON_ArrayForEach(ch, cJSON_GetObjectItem(j, "choices")) {
                cJSON *c = cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "delta"), "content");
                if (cJSON_GetObjectItem(ch, "index")->valueint == choice && cJSON_IsString(c))
                    acc_add(&t, c->valuestring, strlen(c->valuestring));
            }
            cJSON_Delete(j);
        }
        (*events)++;
        p = e + 2;
    }
    return t.p;
}

static const char *const WORDS =
    "This paragraph is ordinary prose about deployments that carries nothing sensitive at all. ";

Test(respguard, stream_split_value_redacted_at_any_byte_split)
{
    struct acc in = { 0 };
    struct acc want = { 0 };
    content_ev(&in, 0, "", NULL);
    for (int i = 0; i < 5; i++) {
        content_ev(&in, 0, WORDS, NULL);
        acc_add(&want, WORDS, strlen(WORDS));
    }
    /* the token and an address, four bytes a chunk */
    const char *val = "token " GH " mail " EMAIL " ok";
    for (size_t i = 0; i < strlen(val); i += 4) {
        char piece[5] = { 0 };
        memcpy(piece, val + i, strlen(val) - i < 4 ? strlen(val) - i : 4);
        content_ev(&in, 0, piece, NULL);
    }
    acc_add(&want, "token <GITHUB_TOKEN_1> mail <EMAIL_ADDRESS_1> ok", strlen("token <GITHUB_TOKEN_1> mail <EMAIL_ADDRESS_1> ok"));
    content_ev(&in, 0, NULL, "stop");
    ev_add(&in, "[DONE]");
    static const size_t steps[] = { 1, 7, 64, 100000 };
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        struct acc out = { 0 };
        bool done;
        int events;
        tg_outguard_free(&G);
        tg_outguard_init(&G, P, NULL, false, S, &A);
        cr_assert_eq(run(&in, steps[k], true, &out), TG_OK);
        char *t = text_of(&out, 0, &done, &events);
        cr_assert_str_eq(t, want.p, "step %zu", steps[k]);
        cr_assert(done);
        cr_assert_null(strstr(out.p, "QOqb7XOf"));
        cr_assert(strstr(out.p, "\"finish_reason\":\"stop\"") != NULL);
        free(t);
        free(out.p);
    }
    free(in.p);
    free(want.p);
}

Test(respguard, stream_events_kept_until_text_released_then_deny_sends_nothing)
{
    struct acc in = { 0 }, out = { 0 };
    P->resp_secrets = TG_RESP_DENY;
    content_ev(&in, 0, "", NULL);              /* the role event */
    content_ev(&in, 0, "short ", NULL);
    content_ev(&in, 0, GH, NULL);
    content_ev(&in, 0, NULL, "stop");
    ev_add(&in, "[DONE]");
    cr_assert_eq(run(&in, 1000000, true, &out), TG_EPOLICY);
    cr_assert_eq(out.n, 0, "nothing was sent: the caller can still answer 502 (%s)", out.p);
    cr_assert_str_eq(G.rule, "response.secrets");
}

Test(respguard, stream_deny_after_release_stops_before_the_value)
{
    struct acc in = { 0 }, out = { 0 };
    P->resp_secrets = TG_RESP_DENY;
    content_ev(&in, 0, "", NULL);
    for (int i = 0; i < 8; i++)
        content_ev(&in, 0, WORDS, NULL);
    content_ev(&in, 0, "key ghp_QOqb", NULL);
    content_ev(&in, 0, "7XOfCsVtaXrZMAzSv2gENfMTx0MOdOQw more", NULL);
    content_ev(&in, 0, NULL, "stop");
    ev_add(&in, "[DONE]");
    cr_assert_eq(run(&in, 1000000, true, &out), TG_EPOLICY);
    cr_assert(out.n > 0, "text before the value went out");
    cr_assert_null(strstr(out.p, "ghp_"));
    cr_assert_null(strstr(out.p, "[DONE]"));
    free(out.p);
    free(in.p);
}

Test(respguard, stream_channel_switch_flushes_text_before_the_tool_call)
{
    struct acc in = { 0 }, out = { 0 };
    content_ev(&in, 0, "", NULL);
    content_ev(&in, 0, "Calling the tool now.", NULL);
    tool_ev(&in, 0, "call_1", "deploy", "{\\\"tok");
    tool_ev(&in, 0, NULL, NULL, "en\\\":\\\"" GH "\\\"}");
    tool_ev(&in, 1, "call_2", "notify", "{}");
    content_ev(&in, 0, NULL, "tool_calls");
    ev_add(&in, "[DONE]");
    cr_assert_eq(run(&in, 13, true, &out), TG_OK);
    /* the text comes out before the first tool call's event, each tool's
     * arguments before the next tool call starts */
    const char *text = strstr(out.p, "Calling the tool now.");
    const char *call1 = strstr(out.p, "call_1");
    const char *args1 = strstr(out.p, "<GITHUB_TOKEN_1>");
    const char *call2 = strstr(out.p, "call_2");
    cr_assert(text && call1 && args1 && call2, "%s", out.p);
    cr_assert(text < call1 && call1 < args1 && args1 < call2, "%s", out.p);
    cr_assert_null(strstr(out.p, "QOqb7XOf"));
    free(out.p);
    free(in.p);
}

Test(respguard, stream_done_without_finish_flushes_every_choice)
{
    struct acc in = { 0 }, out = { 0 };
    bool done;
    int events;
    content_ev(&in, 0, "first answer ", NULL);
    content_ev(&in, 1, "second " EMAIL, NULL);
    ev_add(&in, "[DONE]");
    cr_assert_eq(run(&in, 5, true, &out), TG_OK);
    char *t0 = text_of(&out, 0, &done, &events);
    char *t1 = text_of(&out, 1, &done, &events);
    cr_assert_str_eq(t0, "first answer ");
    cr_assert_str_eq(t1, "second <EMAIL_ADDRESS_1>");
    cr_assert(done);
    cr_assert(strstr(out.p, "data: [DONE]\n\n") == out.p + out.n - 14, "[DONE] last");
    free(t0);
    free(t1);
    free(out.p);
    free(in.p);
}

Test(respguard, audit_mode_relays_bytes_unchanged_and_counts)
{
    struct acc in = { 0 }, out = { 0 };
    P->resp_secrets = TG_RESP_DENY;
    content_ev(&in, 0, "", NULL);
    content_ev(&in, 0, "key " GH " end", NULL);
    content_ev(&in, 0, NULL, "stop");
    ev_add(&in, "[DONE]");
    cr_assert_eq(run(&in, 9, false, &out), TG_OK);
    cr_assert_eq(out.n, in.n);
    cr_assert_eq(memcmp(out.p, in.p, in.n), 0);
    cr_assert_eq(G.verdict, TG_RESP_DENY, "recorded");
    cr_assert_eq(G.nfindings, 1);
    free(out.p);
    free(in.p);
}

Test(respguard, stream_event_that_is_not_json_is_refused)
{
    struct acc in = { 0 }, out = { 0 };
    ev_add(&in, "{not json");
    cr_assert_eq(run(&in, 100, true, &out), TG_EINVAL);
    cr_assert_eq(out.n, 0);
    free(in.p);
}

Test(respguard, blocked_event_names_the_rule)
{
    char buf[512];
    int n = tg_rg_blocked_event("response.pii", buf, sizeof(buf));
    cr_assert(n > 0);
    cr_assert_eq((size_t)n, strlen(buf));
    cr_assert(strncmp(buf, "data: {", 7) == 0);
    cr_assert_not_null(strstr(buf, "\"code\":\"response_blocked\""));
    cr_assert_not_null(strstr(buf, "\"rules\":[\"response.pii\"]"));
    cr_assert_eq(tg_rg_blocked_event("response.pii", buf, 10), -1);
}
