/* test_gateway_providers.c — the outbound adapters' pure transforms:
 * request building (model names, header injection), the Anthropic
 * translation both ways (whole and streamed), the OpenAI stream relay, the
 * echo provider, Retry-After, and the server's small parsers. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "adapters/http/gateway.h"
#include "adapters/http/metrics.h"
#include "adapters/providers/provider.h"

static struct tg_provider
prov(enum tg_adapter_kind k, const char *base, const char *key)
{
    struct tg_provider p = { .id = "p", .adapter = k, .base_url = base, .api_key = key,
                             .region = "us", .jurisdiction = "US", .pii_allowed = true };
    return p;
}

static struct tg_model
model(const char *id, const char *upstream)
{
    struct tg_model m = { .id = id, .upstream = upstream, .provider = 0,
                          .input_per_m = NAN, .output_per_m = NAN };
    return m;
}

static bool
has_header(const struct tg_prov_http *h, const char *line)
{
    for (uint32_t i = 0; i < h->nheaders; i++)
        if (strcmp(h->headers[i], line) == 0)
            return true;
    return false;
}

static const char CHAT[] =
    "{\"model\":\"whatever\",\"metadata\":{\"category\":\"qa\"},\"messages\":["
    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"user\",\"content\":\"Hello\"},"
    "{\"role\":\"assistant\",\"content\":\"Hi\"},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Second\"},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,AAAA\"}}]}],"
    "\"temperature\":0.5,\"stop\":\"END\",\"max_tokens\":77}";

Test(openai, build_sets_upstream_model_and_drops_metadata)
{
    struct tg_arena a;
    struct tg_provider p = prov(TG_ADAPTER_OPENAI, "http://h:1/v1/", "sk-1");
    struct tg_model m = model("gpt-x", "gpt-4o-mini");
    struct tg_prov_http h;
    struct tg_err err;
    cJSON *j;

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_prov_build(&p, &m, CHAT, strlen(CHAT), 1024, &a, &h, &err), TG_OK, "%s", err.msg);
    cr_assert_str_eq(h.url, "http://h:1/v1/chat/completions");
    cr_assert(has_header(&h, "Authorization: Bearer sk-1"));
    cr_assert(has_header(&h, "Content-Type: application/json"));
    cr_assert_not(h.stream);
    j = cJSON_ParseWithLength(h.body, h.body_len);
    cr_assert_not_null(j);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "gpt-4o-mini");
    cr_assert_null(cJSON_GetObjectItem(j, "metadata"));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "messages")), 4);
    cJSON_Delete(j);
    tg_arena_free(&a);
}

Test(openai, stream_asks_for_usage_and_marks_it_for_stripping)
{
    static const char body[] = "{\"model\":\"m\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    static const char body2[] = "{\"model\":\"m\",\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                                "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    struct tg_arena a;
    struct tg_provider p = prov(TG_ADAPTER_OPENAI, "http://h", "");
    struct tg_model m = model("m", NULL);
    struct tg_prov_http h;
    struct tg_err err;
    cJSON *j;

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_prov_build(&p, &m, body, strlen(body), 0, &a, &h, &err), TG_OK);
    cr_assert(h.stream);
    cr_assert(h.strip_usage);
    cr_assert(has_header(&h, "Accept: text/event-stream"));
    for (uint32_t i = 0; i < h.nheaders; i++)
        cr_assert_null(strstr(h.headers[i], "Authorization"), "no key configured, no header");
    j = cJSON_Parse(h.body);
    cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "stream_options"), "include_usage")));
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "m", "upstream defaults to the id");
    cJSON_Delete(j);
    cr_assert_eq(tg_prov_build(&p, &m, body2, strlen(body2), 0, &a, &h, &err), TG_OK);
    cr_assert_not(h.strip_usage, "the client asked for usage: relay it");
    tg_arena_free(&a);
}

Test(openai, header_injection_in_config_is_refused)
{
    struct tg_arena a;
    struct tg_provider p = prov(TG_ADAPTER_OPENAI, "http://h", "sk-1\r\nX-Evil: 1");
    struct tg_model m = model("m", NULL);
    struct tg_prov_http h;
    struct tg_err err;

    tg_arena_init(&a, 0);
    h.url = "untouched";
    cr_assert_eq(tg_prov_build(&p, &m, CHAT, strlen(CHAT), 0, &a, &h, &err), TG_EINVAL);
    cr_assert_str_eq(h.url, "untouched");
    cr_assert_null(strstr(err.msg, "sk-1"), "the key never appears in errors");
    tg_arena_free(&a);
}

Test(openai, bad_bodies_are_refused)
{
    struct tg_arena a;
    struct tg_provider p = prov(TG_ADAPTER_OPENAI, "http://h", "");
    struct tg_provider e = prov(TG_ADAPTER_ECHO, "", "");
    struct tg_model m = model("m", NULL);
    struct tg_prov_http h;
    struct tg_err err;

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_prov_build(&p, &m, "[1]", 3, 0, &a, &h, &err), TG_EINVAL);
    cr_assert_eq(tg_prov_build(&p, &m, "{", 1, 0, &a, &h, &err), TG_EINVAL);
    cr_assert_eq(tg_prov_build(&e, &m, CHAT, strlen(CHAT), 0, &a, &h, &err), TG_EINVAL, "echo has no upstream");
    tg_arena_free(&a);
}

Test(openai, response_usage_and_validation)
{
    static const char ok[] = "{\"id\":\"c\",\"choices\":[{\"message\":{\"content\":\"hi\"}}],"
                             "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}";
    struct tg_prov_usage u;
    struct tg_err err;
    char *out;
    size_t n;

    cr_assert_eq(tg_prov_response(TG_ADAPTER_OPENAI, "m", ok, strlen(ok), 0, &out, &n, &u, &err), TG_OK);
    cr_assert_null(out, "openai answers are relayed unchanged");
    cr_assert_eq(u.prompt_tokens, 12);
    cr_assert_eq(u.completion_tokens, 3);
    cr_assert_eq(tg_prov_response(TG_ADAPTER_OPENAI, "m", "{\"x\":1}", 7, 0, &out, &n, &u, &err), TG_EINVAL);
    cr_assert_eq(tg_prov_response(TG_ADAPTER_OPENAI, "m", "<html>", 6, 0, &out, &n, &u, &err), TG_EINVAL);
}

struct sink {
    char buf[8192];
    size_t len;
};

static int
sink_emit(void *ud, const char *b, size_t n)
{
    struct sink *s = ud;
    cr_assert_lt(s->len + n, sizeof(s->buf));
    memcpy(s->buf + s->len, b, n);
    s->len += n;
    s->buf[s->len] = '\0';
    return 0;
}

Test(openai, stream_relay_strips_the_usage_chunk_we_added)
{
    static const char up[] =
        "data: {\"choices\":[{\"delta\":{\"content\":\"He\"}}]}\n\n"
        "data: {\"choices\":[{\"delta\":{\"content\":\"llo\"}}]}\n\n"
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n"
        "data: [DONE]\n\n";
    struct tg_prov_stream s;
    struct sink k = { .len = 0 };

    tg_prov_stream_init(&s, TG_ADAPTER_OPENAI, true, "m", 0, sink_emit, &k);
    cr_assert_eq(tg_prov_stream_feed(&s, up, strlen(up)), 0);
    cr_assert(s.done);
    cr_assert_eq(s.usage.prompt_tokens, 5);
    cr_assert_eq(s.usage.completion_tokens, 2);
    cr_assert_null(strstr(k.buf, "usage"), "usage chunk dropped: %s", k.buf);
    cr_assert_not_null(strstr(k.buf, "\"He\""));
    cr_assert_not_null(strstr(k.buf, "data: [DONE]\n\n"));
    tg_prov_stream_free(&s);

    k.len = 0;
    tg_prov_stream_init(&s, TG_ADAPTER_OPENAI, false, "m", 0, sink_emit, &k);
    cr_assert_eq(tg_prov_stream_feed(&s, up, strlen(up)), 0);
    cr_assert_not_null(strstr(k.buf, "usage"), "client asked for it: kept");
    tg_prov_stream_free(&s);
}

Test(openai, stream_error_and_garbage_fail_the_stream)
{
    struct tg_prov_stream s;
    struct sink k = { .len = 0 };
    static const char err_ev[] = "data: {\"error\":{\"message\":\"overloaded\"}}\n\n";

    tg_prov_stream_init(&s, TG_ADAPTER_OPENAI, false, "m", 0, sink_emit, &k);
    cr_assert_lt(tg_prov_stream_feed(&s, err_ev, strlen(err_ev)), 0);
    cr_assert(s.upstream_error);
    cr_assert_eq(k.len, 0, "nothing relayed, so the gateway may still fall back");
    tg_prov_stream_free(&s);

    tg_prov_stream_init(&s, TG_ADAPTER_OPENAI, false, "m", 0, sink_emit, &k);
    cr_assert_lt(tg_prov_stream_feed(&s, "data: {nope\n\n", 13), 0);
    tg_prov_stream_free(&s);
}

Test(anthropic, request_translation)
{
    struct tg_arena a;
    struct tg_provider p = prov(TG_ADAPTER_ANTHROPIC, "https://api.anthropic.com", "sk-ant");
    struct tg_model m = model("claude", "claude-sonnet-4-5");
    struct tg_prov_http h;
    struct tg_err err;
    cJSON *j, *msgs, *last, *img;

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_prov_build(&p, &m, CHAT, strlen(CHAT), 1024, &a, &h, &err), TG_OK, "%s", err.msg);
    cr_assert_str_eq(h.url, "https://api.anthropic.com/v1/messages");
    cr_assert(has_header(&h, "x-api-key: sk-ant"));
    cr_assert(has_header(&h, "anthropic-version: 2023-06-01"));
    j = cJSON_ParseWithLength(h.body, h.body_len);
    cr_assert_not_null(j);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "claude-sonnet-4-5");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "system")->valuestring, "Be brief.");
    cr_assert_eq(cJSON_GetObjectItem(j, "max_tokens")->valueint, 77);
    cr_assert_null(cJSON_GetObjectItem(j, "metadata"));
    cr_assert_str_eq(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "stop_sequences"), 0)->valuestring, "END");
    msgs = cJSON_GetObjectItem(j, "messages");
    cr_assert_eq(cJSON_GetArraySize(msgs), 3, "system moved out");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 1), "role")->valuestring, "assistant");
    last = cJSON_GetObjectItem(cJSON_GetArrayItem(msgs, 2), "content");
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetArrayItem(last, 0), "text")->valuestring, "Second");
    img = cJSON_GetObjectItem(cJSON_GetArrayItem(last, 1), "source");
    cr_assert_str_eq(cJSON_GetObjectItem(img, "type")->valuestring, "base64");
    cr_assert_str_eq(cJSON_GetObjectItem(img, "media_type")->valuestring, "image/png");
    cr_assert_str_eq(cJSON_GetObjectItem(img, "data")->valuestring, "AAAA");
    cJSON_Delete(j);

    /* registry style base_url ending in /v1; default max_tokens */
    p.base_url = "https://api.anthropic.com/v1/";
    {
        static const char b[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"stream\":true}";
        cr_assert_eq(tg_prov_build(&p, &m, b, strlen(b), 333, &a, &h, &err), TG_OK);
        cr_assert_str_eq(h.url, "https://api.anthropic.com/v1/messages");
        cr_assert(h.stream);
        j = cJSON_Parse(h.body);
        cr_assert_eq(cJSON_GetObjectItem(j, "max_tokens")->valueint, 333);
        cr_assert(cJSON_IsTrue(cJSON_GetObjectItem(j, "stream")));
        cJSON_Delete(j);
    }
    tg_arena_free(&a);
}

Test(anthropic, response_translation)
{
    static const char up[] =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
        "\"content\":[{\"type\":\"text\",\"text\":\"Hello \"},{\"type\":\"text\",\"text\":\"there\"}],"
        "\"stop_reason\":\"max_tokens\",\"usage\":{\"input_tokens\":10,\"output_tokens\":4}}";
    struct tg_prov_usage u;
    struct tg_err err;
    char *out = NULL;
    size_t n;
    cJSON *j, *ch;

    cr_assert_eq(tg_prov_response(TG_ADAPTER_ANTHROPIC, "claude", up, strlen(up), 1700000000, &out, &n,
                                  &u, &err), TG_OK, "%s", err.msg);
    cr_assert_not_null(out);
    j = cJSON_ParseWithLength(out, n);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "chat.completion");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "claude");
    ch = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0);
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(ch, "message"), "content")->valuestring,
                     "Hello there");
    cr_assert_str_eq(cJSON_GetObjectItem(ch, "finish_reason")->valuestring, "length");
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "total_tokens")->valueint, 14);
    cr_assert_eq(u.prompt_tokens, 10);
    cr_assert_eq(u.completion_tokens, 4);
    cJSON_Delete(j);
    free(out);
    out = NULL;
    cr_assert_eq(tg_prov_response(TG_ADAPTER_ANTHROPIC, "c", "{\"type\":\"error\"}", 16, 0, &out, &n, &u,
                                  &err), TG_EINVAL);
}

Test(anthropic, stream_translation)
{
    static const char up[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_9\",\"usage\":{\"input_tokens\":21,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: ping\ndata: {\"type\":\"ping\"}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"Hi\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":6}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    struct tg_prov_stream s;
    struct sink k = { .len = 0 };
    int chunks = 0;

    tg_prov_stream_init(&s, TG_ADAPTER_ANTHROPIC, false, "claude", 5, sink_emit, &k);
    cr_assert_eq(tg_prov_stream_feed(&s, up, strlen(up)), 0);
    cr_assert(s.done);
    cr_assert_eq(s.usage.prompt_tokens, 21);
    cr_assert_eq(s.usage.completion_tokens, 6);
    for (const char *c = k.buf; (c = strstr(c, "chat.completion.chunk")) != NULL; c++)
        chunks++;
    cr_assert_eq(chunks, 3, "role, content, finish: %s", k.buf);
    cr_assert_not_null(strstr(k.buf, "\"content\":\"Hi\""));
    cr_assert_not_null(strstr(k.buf, "\"finish_reason\":\"stop\""));
    cr_assert_not_null(strstr(k.buf, "\"id\":\"msg_9\""));
    cr_assert_eq(strcmp(k.buf + k.len - 14, "data: [DONE]\n\n"), 0);
    tg_prov_stream_free(&s);

    k.len = 0;
    tg_prov_stream_init(&s, TG_ADAPTER_ANTHROPIC, false, "claude", 5, sink_emit, &k);
    cr_assert_lt(tg_prov_stream_feed(&s, "event: error\ndata: {\"type\":\"error\",\"error\":{}}\n\n", 49), 0);
    cr_assert(s.upstream_error);
    tg_prov_stream_free(&s);
}

Test(echo, answers_with_the_last_user_message)
{
    struct tg_prov_usage u;
    struct tg_err err;
    char *out = NULL;
    size_t n;
    cJSON *j, *msg;

    cr_assert_eq(tg_prov_echo("echo-m", CHAT, strlen(CHAT), false, 1, "abc", &out, &n, &u, &err), TG_OK);
    j = cJSON_ParseWithLength(out, n);
    msg = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "choices"), 0), "message");
    cr_assert_str_eq(cJSON_GetObjectItem(msg, "content")->valuestring, "[echo] Second");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "echo-m");
    cr_assert_gt(u.prompt_tokens, 0);
    cr_assert_eq(u.completion_tokens, (int64_t)((strlen("[echo] Second") + 3) / 4));
    cJSON_Delete(j);
    free(out);
}

Test(echo, stream_is_valid_sse_with_done)
{
    static const char b[] = "{\"stream\":true,\"stream_options\":{\"include_usage\":true},"
                            "\"messages\":[{\"role\":\"user\",\"content\":\"one two three\"}]}";
    struct tg_prov_usage u;
    struct tg_err err;
    char *out = NULL;
    size_t n;
    struct tg_prov_stream s;
    struct sink k = { .len = 0 };

    cr_assert_eq(tg_prov_echo("e", b, strlen(b), true, 1, "id", &out, &n, &u, &err), TG_OK);
    /* Our own relay must accept what echo produces, and keep the text. */
    tg_prov_stream_init(&s, TG_ADAPTER_OPENAI, false, "e", 0, sink_emit, &k);
    cr_assert_eq(tg_prov_stream_feed(&s, out, n), 0);
    cr_assert(s.done);
    cr_assert_eq(s.usage.completion_tokens, u.completion_tokens);
    cr_assert_not_null(strstr(out, "\"[echo]\""));
    cr_assert_not_null(strstr(out, "\" three\""));
    tg_prov_stream_free(&s);
    free(out);
    cr_assert_eq(tg_prov_echo("e", "{}", 2, false, 1, "id", &out, &n, &u, &err), TG_EINVAL);
}

Test(retry_after, seconds_dates_and_garbage)
{
    int64_t now = 784111777;   /* Sun, 06 Nov 1994 08:49:37 GMT */
    cr_assert_eq(tg_prov_retry_after_ms("120", now), 120000);
    cr_assert_eq(tg_prov_retry_after_ms(" 0 ", now), 0);
    cr_assert_eq(tg_prov_retry_after_ms("99999999999", now), 3600000, "capped at an hour");
    cr_assert_eq(tg_prov_retry_after_ms("Sun, 06 Nov 1994 08:50:07 GMT", now), 30000);
    cr_assert_eq(tg_prov_retry_after_ms("Sun, 06 Nov 1994 08:00:00 GMT", now), 0, "past date");
    cr_assert_eq(tg_prov_retry_after_ms("soon", now), -1);
    cr_assert_eq(tg_prov_retry_after_ms("12abc", now), -1);
    cr_assert_eq(tg_prov_retry_after_ms("Sun, 06 Foo 1994 08:50:07 GMT", now), -1);
    cr_assert_eq(tg_prov_retry_after_ms(NULL, now), -1);
}

Test(server, listen_addresses)
{
    char h[64];
    uint16_t port;
    cr_assert_eq(tg_gw_parse_listen("127.0.0.1:8080", h, sizeof(h), &port), TG_OK);
    cr_assert_str_eq(h, "127.0.0.1");
    cr_assert_eq(port, 8080);
    cr_assert_eq(tg_gw_parse_listen("[::1]:9", h, sizeof(h), &port), TG_OK);
    cr_assert_str_eq(h, "::1");
    cr_assert_eq(tg_gw_parse_listen("localhost:1", h, sizeof(h), &port), TG_OK);
    cr_assert_str_eq(h, "127.0.0.1");
    cr_assert_eq(tg_gw_parse_listen(":80", h, sizeof(h), &port), TG_OK);
    cr_assert_str_eq(h, "0.0.0.0");
    cr_assert_eq(tg_gw_parse_listen("127.0.0.1", h, sizeof(h), &port), TG_EINVAL);
    cr_assert_eq(tg_gw_parse_listen("h:70000", h, sizeof(h), &port), TG_EINVAL);
    cr_assert_eq(tg_gw_parse_listen("h:", h, sizeof(h), &port), TG_EINVAL);
    cr_assert_eq(tg_gw_parse_listen("[::1:80", h, sizeof(h), &port), TG_EINVAL);
}

Test(server, bearer_tokens)
{
    const char *t;
    size_t n;
    cr_assert(tg_gw_bearer("Bearer abc", &t, &n));
    cr_assert_eq(n, 3);
    cr_assert_eq(strncmp(t, "abc", 3), 0);
    cr_assert(tg_gw_bearer("  bearer   k-1  ", &t, &n));
    cr_assert_eq(n, 3);
    cr_assert_not(tg_gw_bearer("Basic abc", &t, &n));
    cr_assert_not(tg_gw_bearer("Bearer ", &t, &n));
    cr_assert_not(tg_gw_bearer("Bearerabc", &t, &n));
    cr_assert_not(tg_gw_bearer(NULL, &t, &n));
}

Test(metrics, summed_across_threads_in_prometheus_text)
{
    struct tg_gw_metrics a, b;
    struct tg_gw_metrics *ms[2] = { &a, &b };
    struct tg_jtext out = { 0 };

    tg_gw_metrics_init(&a);
    tg_gw_metrics_init(&b);
    tg_gw_metrics_code(&a, 200);
    tg_gw_metrics_code(&b, 200);
    tg_gw_metrics_code(&b, 403);
    tg_gw_metrics_rule(&a, "pii.rule");
    tg_gw_metrics_rule(&b, "pii.rule");
    tg_gw_metrics_rule(&b, "pii.rule");
    tg_gw_metrics_attempt(&a, "m\"x", "ok");
    tg_gw_metrics_latency(&a, 0.0002);
    tg_gw_metrics_latency(&b, 2.0);
    tg_gw_metrics_render(ms, 2, &out);
    cr_assert_not(out.fail);
    cr_assert_not_null(strstr(out.p, "tollgate_requests_total{code=\"200\"} 2\n"));
    cr_assert_not_null(strstr(out.p, "tollgate_requests_total{code=\"403\"} 1\n"));
    cr_assert_not_null(strstr(out.p, "tollgate_rule_hits_total{rule=\"pii.rule\"} 3\n"));
    cr_assert_not_null(strstr(out.p, "tollgate_upstream_attempts_total{model=\"m\\\"x\",outcome=\"ok\"} 1\n"));
    cr_assert_not_null(strstr(out.p, "tollgate_request_duration_seconds_bucket{le=\"0.00025\"} 1\n"));
    cr_assert_not_null(strstr(out.p, "tollgate_request_duration_seconds_bucket{le=\"+Inf\"} 2\n"));
    cr_assert_not_null(strstr(out.p, "tollgate_request_duration_seconds_count 2\n"));
    tg_jtext_free(&out);
    tg_gw_metrics_destroy(&a);
    tg_gw_metrics_destroy(&b);
}

/* ---- openai fast path (byte splicing) ------------------------------------
 * The spliced body must mean exactly what the cJSON path would have sent:
 * the client's tree with model replaced, metadata removed, and
 * stream_options.include_usage added to a stream that has none. */

static cJSON *
expected_tree(const char *body, const char *upstream)
{
    cJSON *j = cJSON_Parse(body);

    cr_assert(j != NULL);
    cJSON_DeleteItemFromObjectCaseSensitive(j, "model");
    cJSON_AddStringToObject(j, "model", upstream);
    cJSON_DeleteItemFromObjectCaseSensitive(j, "metadata");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream")) &&
        cJSON_GetObjectItemCaseSensitive(j, "stream_options") == NULL)
        cJSON_AddTrueToObject(cJSON_AddObjectToObject(j, "stream_options"), "include_usage");
    return j;
}

Test(openai, spliced_body_equals_the_tree_rewrite)
{
    static const char *const bodies[] = {
        "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        " { \"messages\" : [{\"role\":\"user\",\"content\":\"a,}\\\"]{\\\\\"}] , \"model\" : \"x\" , "
        "\"metadata\" : {\"category\":\"c\"} } ",
        "{\"metadata\":{\"a\":[1,{\"b\":\"}\"}]},\"model\":null,\"messages\":[],\"stream\":true}",
        "{\"model\":\"a\",\"stream\":true,\"stream_options\":{\"include_usage\":false},\"metadata\":{}}",
        "{\"model\":1.5e3,\"temperature\":0.5,\"stream\":false,\"messages\":[{\"role\":\"user\",\"content\":\"\\u00e9\"}]}",
        "{\"messages\":[],\"mod\\u0065l\":\"x\"}",
        "{\"messages\":[]}",
        "{\"model\":\"a\\\\\",\"messages\":[{\"content\":\"x\\\\\\\"y\\\\\"}]}",
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],\"metadata\":{\"k\":\"v\"}}",
    };
    struct tg_provider p = prov(TG_ADAPTER_OPENAI, "http://h:1/v1", "sk-1");
    struct tg_model m = model("gpt-x", "gpt-\"4o\\mini");

    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        struct tg_arena a;
        struct tg_prov_http h;
        struct tg_err err = { 0 };
        cJSON *want = expected_tree(bodies[i], "gpt-\"4o\\mini"), *got;

        tg_arena_init(&a, 0);
        cr_assert_eq(tg_prov_build(&p, &m, bodies[i], strlen(bodies[i]), 0, &a, &h, &err), TG_OK,
                     "case %zu: %s", i, err.msg);
        got = cJSON_ParseWithLength(h.body, h.body_len);
        cr_assert(got != NULL, "case %zu: not JSON: %.*s", i, (int)h.body_len, h.body);
        cr_assert(cJSON_Compare(want, got, true), "case %zu: %.*s", i, (int)h.body_len, h.body);
        cr_assert_eq(h.stream, cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(got, "stream")), "case %zu", i);
        cJSON_Delete(want);
        cJSON_Delete(got);
        tg_arena_free(&a);
    }
}

Test(openai, body_with_a_nul_sends_only_what_cjson_saw)
{
    /* The pre-flight scans strings up to a NUL; the bytes after it must not
     * reach the provider (they were never scanned). */
    static const char body[] =
        "{\"model\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"x\\u0000 jane.roe@example.com\"}]}";
    struct tg_provider p = prov(TG_ADAPTER_OPENAI, "http://h:1/v1", "");
    struct tg_model m = model("gpt-x", "up");
    struct tg_arena a;
    struct tg_prov_http h;
    struct tg_err err = { 0 };

    tg_arena_init(&a, 0);
    cr_assert_eq(tg_prov_build(&p, &m, body, strlen(body), 0, &a, &h, &err), TG_OK, "%s", err.msg);
    cr_assert_null(memmem(h.body, h.body_len, "example.com", 11), "%.*s", (int)h.body_len, h.body);
    tg_arena_free(&a);
}

/* ---- header guard (adapters/http/hdrguard.h) ------------------------------ */
#include "adapters/http/hdrguard.h"

static char *
guard(const char *in, size_t n, size_t step)
{
    struct tg_hg g;
    struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();
    char *out;
    size_t len;

    tg_hg_init(&g);
    /* Fed in pieces: lines split across reads must come out the same. */
    for (size_t i = 0; i < n; i += step) {
        evbuffer_add(src, in + i, n - i < step ? n - i : step);
        (void)tg_hg_filter(src, dst, -1, BEV_NORMAL, &g);
    }
    len = evbuffer_get_length(dst);
    out = calloc(1, len + 1);
    evbuffer_remove(dst, out, len);
    evbuffer_free(src);
    evbuffer_free(dst);
    tg_hg_free(&g);
    return out;
}

/* Each input fed whole and in pieces of every size class: the output must
 * not depend on how the bytes arrived. */
static void
guard_eq(const char *in, size_t n, const char *want)
{
    for (size_t step = 1; step <= n + 1; step += 5) {
        char *out = guard(in, n, step);
        cr_assert_str_eq(out, want, "step %zu", step);
        free(out);
    }
}

Test(hdrguard, content_length_bodies_and_pipelined_requests_pass_untouched)
{
    static const char in[] =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n"
        " a\rb\r\n\tc: d"   /* body: looks like bad header lines, must pass as is */
        "GET /healthz HTTP/1.1\r\nhost: y\r\nX-A:  b \r\n\r\n";

    guard_eq(in, sizeof(in) - 1, in);
}

Test(hdrguard, bare_cr_and_obs_fold_are_refused_and_nothing_after_passes)
{
    /* Only the request line, the attribution headers and the reason go on;
     * the body and the request hidden after it never reach evhttp. */
    static const char in1[] =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer k\r\n"
        "X-Feature-Id: feat\rX-Injected: 1\r\nContent-Length: 5\r\n\r\nhello"
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char in2[] =
        "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Task-Category: chat\r\n"
        "X-Export-Control: a\r\n folded: 1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char want1[] =
        "POST /v1/chat/completions HTTP/1.1\r\nAuthorization: Bearer k\r\n"
        TG_HG_MARKER ": field\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
    static const char want2[] =
        "POST /v1/chat/completions HTTP/1.1\r\nX-Task-Category: chat\r\n"
        TG_HG_MARKER ": field\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

    guard_eq(in1, sizeof(in1) - 1, want1);
    guard_eq(in2, sizeof(in2) - 1, want2);
    cr_assert_not_null(tg_hg_reason("field"));
    cr_assert_eq(tg_hg_reason("field")->status, 400);
    cr_assert_null(tg_hg_reason("1"));
}

Test(hdrguard, chunked_bodies_reach_evhttp_decoded_with_a_content_length)
{
    /* Extensions ignored, trailers dropped, Transfer-Encoding and Expect
     * removed; the next request follows untouched. */
    static const char in[] =
        "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n"
        "3;a=b\r\nabc\r\n00002 ; q=\"x y\"\r\n\r\n\r\n0\r\nX-T: 1\r\n\r\n"
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char want[] =
        "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nabc\r\n"
        "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";

    guard_eq(in, sizeof(in) - 1, want);
}

Test(hdrguard, absolute_form_reaches_evhttp_as_origin_form)
{
    static const char in[] =
        "GET http://x:8080/healthz?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST HTTPS://x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n"
        "GET http://x:99999/ HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char want[] =
        "GET /healthz?a=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz"
        "GET /__tollgate/refused HTTP/1.1\r\n" TG_HG_MARKER ": request-line\r\nConnection: close\r\n"
        "Content-Length: 0\r\n\r\n";

    guard_eq(in, sizeof(in) - 1, want);
}

Test(hdrguard, a_bad_chunk_refuses_the_whole_request)
{
    static const char in[] =
        "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3\r\nabc\r\n0x2\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    static const char want[] =
        "POST /x HTTP/1.1\r\n" TG_HG_MARKER ": chunked\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";

    guard_eq(in, sizeof(in) - 1, want);
}

/* Anthropic tool_use streams become OpenAI tool_calls deltas: the start
 * carries id, type and name with empty arguments; each input_json_delta
 * carries only index and an arguments fragment; stop_reason tool_use maps
 * to finish_reason tool_calls. */
Test(anthropic, stream_tool_calls_translation)
{
    static const char up[] =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_t\",\"usage\":{\"input_tokens\":3,\"output_tokens\":1}}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"lookup\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"q\\\":\"}}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\"},\"usage\":{\"output_tokens\":4}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    struct tg_prov_stream s;
    struct sink k = { .len = 0 };

    tg_prov_stream_init(&s, TG_ADAPTER_ANTHROPIC, false, "claude", 5, sink_emit, &k);
    cr_assert_eq(tg_prov_stream_feed(&s, up, strlen(up)), 0);
    cr_assert(s.done);
    cr_assert_not_null(strstr(k.buf, "\"tool_calls\":[{\"index\":1,\"id\":\"toolu_1\",\"type\":\"function\","
                                     "\"function\":{\"name\":\"lookup\",\"arguments\":\"\"}}]"), "%s", k.buf);
    cr_assert_not_null(strstr(k.buf, "\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{\\\"q\\\":\"}}]"),
                       "%s", k.buf);
    cr_assert_not_null(strstr(k.buf, "\"finish_reason\":\"tool_calls\""), "%s", k.buf);
    tg_prov_stream_free(&s);
}

/* max_output_tokens: a request asking for more than the model can answer is
 * sent with the cap, on either adapter; one asking for less is untouched. */
static int
built_max_tokens(enum tg_adapter_kind k, uint32_t cap, const char *body, uint32_t dflt)
{
    struct tg_arena a;
    struct tg_provider p = prov(k, "http://h:1/v1/", "sk-1");
    struct tg_model m = model("m", "up");
    struct tg_prov_http h;
    struct tg_err err;
    cJSON *j, *v;
    int got;

    m.max_output_tokens = cap;
    tg_arena_init(&a, 0);
    cr_assert_eq(tg_prov_build(&p, &m, body, strlen(body), dflt, &a, &h, &err), TG_OK, "%s", err.msg);
    j = cJSON_ParseWithLength(h.body, h.body_len);
    cr_assert_not_null(j);
    v = cJSON_GetObjectItem(j, "max_tokens");
    if (v == NULL)
        v = cJSON_GetObjectItem(j, "max_completion_tokens");
    got = cJSON_IsNumber(v) ? v->valueint : -1;
    cJSON_Delete(j);
    tg_arena_free(&a);
    return got;
}

Test(max_output_tokens, a_larger_request_is_capped)
{
    static const char big[] = "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":32000}";
    static const char big2[] = "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_completion_tokens\":32000}";
    static const char none[] = "{\"model\":\"x\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

    cr_assert_eq(built_max_tokens(TG_ADAPTER_OPENAI, 8192, big, 0), 8192);
    cr_assert_eq(built_max_tokens(TG_ADAPTER_OPENAI, 8192, big2, 0), 8192);
    cr_assert_eq(built_max_tokens(TG_ADAPTER_OPENAI, 0, big, 0), 32000, "no cap: as sent");
    cr_assert_eq(built_max_tokens(TG_ADAPTER_OPENAI, 64000, big, 0), 32000, "under the cap: as sent");
    cr_assert_eq(built_max_tokens(TG_ADAPTER_OPENAI, 8192, none, 0), -1, "absent stays absent");
    cr_assert_eq(built_max_tokens(TG_ADAPTER_ANTHROPIC, 8192, big, 0), 8192);
    cr_assert_eq(built_max_tokens(TG_ADAPTER_ANTHROPIC, 64000, big, 0), 32000);
    cr_assert_eq(built_max_tokens(TG_ADAPTER_ANTHROPIC, 2048, none, 4096), 2048, "the default is capped too");
}

/* A Messages body passed through: as written, but for the upstream model,
 * tollgate's category hint and the model's answer cap. */
Test(anthropic, build_messages_passes_the_body_through)
{
    static const char body[] =
        "{\"model\":\"claude-opus-4-1\",\"max_tokens\":64000,\"top_k\":5,"
        "\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},"
        "\"system\":[{\"type\":\"text\",\"text\":\"Be brief.\",\"cache_control\":{\"type\":\"ephemeral\"}}],"
        "\"metadata\":{\"user_id\":\"u-1\",\"category\":\"claude\"},"
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"Hi\","
        "\"cache_control\":{\"type\":\"ephemeral\"}}]}],\"stream\":true}";
    static const char only_cat[] =
        "{\"model\":\"x\",\"max_tokens\":10,\"metadata\":{\"category\":\"claude\"},"
        "\"messages\":[{\"role\":\"user\",\"content\":\"Hi\"}]}";
    struct tg_arena a;
    struct tg_provider p = prov(TG_ADAPTER_ANTHROPIC, "http://h:1/anthropic", "ak-1");
    struct tg_provider o = prov(TG_ADAPTER_OPENAI, "http://h:1/v1", "sk-1");
    struct tg_model m = model("claude", "claude-sonnet-4-5");
    struct tg_prov_http h;
    struct tg_err err;
    cJSON *j, *want;

    m.max_output_tokens = 32000;
    tg_arena_init(&a, 0);
    cr_assert_eq(tg_prov_build_messages(&p, &m, body, strlen(body), &a, &h, &err), TG_OK, "%s", err.msg);
    cr_assert_str_eq(h.url, "http://h:1/anthropic/v1/messages");
    cr_assert(has_header(&h, "anthropic-version: 2023-06-01"));
    cr_assert(has_header(&h, "x-api-key: ak-1"));
    cr_assert(has_header(&h, "Accept: text/event-stream"));
    cr_assert(h.stream);
    j = cJSON_ParseWithLength(h.body, h.body_len);
    want = cJSON_Parse(body);
    cr_assert_not_null(j);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "claude-sonnet-4-5");
    cr_assert_eq(cJSON_GetObjectItem(j, "max_tokens")->valuedouble, 32000, "cut to max_output_tokens");
    cr_assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "category"));
    cr_assert_str_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "metadata"), "user_id")->valuestring, "u-1");
    /* everything else as the client wrote it */
    for (const char *const *k = (const char *const[]){ "top_k", "thinking", "system", "messages", "stream", NULL };
         *k != NULL; k++)
        cr_assert(cJSON_Compare(cJSON_GetObjectItem(j, *k), cJSON_GetObjectItem(want, *k), true), "%s", *k);
    cJSON_Delete(j);
    cJSON_Delete(want);

    /* a metadata object left empty is not sent */
    cr_assert_eq(tg_prov_build_messages(&p, &m, only_cat, strlen(only_cat), &a, &h, &err), TG_OK);
    j = cJSON_ParseWithLength(h.body, h.body_len);
    cr_assert_null(cJSON_GetObjectItem(j, "metadata"));
    cr_assert_eq(cJSON_GetObjectItem(j, "max_tokens")->valuedouble, 10);
    cr_assert_not(h.stream);
    cJSON_Delete(j);

    /* only an anthropic provider speaks it; a body must be an object */
    cr_assert_eq(tg_prov_build_messages(&o, &m, body, strlen(body), &a, &h, &err), TG_EINVAL);
    cr_assert_eq(tg_prov_build_messages(&p, &m, "[1]", 3, &a, &h, &err), TG_EINVAL);
    tg_arena_free(&a);
}
