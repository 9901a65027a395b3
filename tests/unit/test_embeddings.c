/*
 * test_embeddings.c — embedding requests end to end in the engine and the
 * provider adapters: the parse (every input a part, token arrays opaque,
 * caps), the pre-flight's model-kind filter with residency/PII/export
 * applied as for chat (tests/cases/policies/embeddings.yaml), the upstream
 * request, the answer validation and the echo vectors.
 */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/providers/provider.h"
#include "engine/limits.h"
#include "engine/pii.h"
#include "engine/preflight.h"
#include "engine/redact.h"
#include "engine/request.h"
#include "engine/json.h"

static struct tg_arena A;
static struct tg_request R;
static struct tg_policy *P;
static struct tg_pii_scratch *S;

static void setup(void) { tg_arena_init(&A, 0); memset(&R, 0, sizeof(R)); P = NULL; S = NULL; }
static void teardown(void)
{
    tg_request_dispose(&R);
    tg_arena_free(&A);
    tg_pii_scratch_free(S);
    if (P != NULL)
        tg_policy_unref(P);
}

TestSuite(embed_parse, .init = setup, .fini = teardown);
TestSuite(embed_preflight, .init = setup, .fini = teardown);
TestSuite(embed_provider, .init = setup, .fini = teardown);

static int
parse(const char *body, struct tg_err *err)
{
    return tg_request_parse_embedding(body, strlen(body), &A, &R, err);
}

static void
parse_ok(const char *body)
{
    struct tg_err err = {0};
    cr_assert_eq(parse(body, &err), TG_OK, "%s: %s", body, err.msg);
    cr_assert_eq(R.kind, TG_REQUEST_EMBEDDING);
    cr_assert_eq(R.max_tokens, 0);
}

/* Does some part hold exactly `text`, of kind `kind`, at input `msg`? */
static bool
has_part(const char *text, enum tg_part_kind kind, uint32_t msg)
{
    for (uint32_t i = 0; i < R.nparts; i++)
        if (R.parts[i].len == strlen(text) && memcmp(R.parts[i].text, text, R.parts[i].len) == 0 &&
            R.parts[i].kind == kind && R.parts[i].message == msg)
            return true;
    return false;
}

Test(embed_parse, single_string_is_one_part)
{
    parse_ok("{\"model\":\"text-embedding-3-small\",\"input\":\"Jane Roe lives at 12 Elm St\"}");
    cr_assert_eq(R.ninputs, 1);
    cr_assert_str_eq(R.model, "text-embedding-3-small");
    cr_assert(has_part("Jane Roe lives at 12 Elm St", TG_PART_CONTENT, 0));
    cr_assert_eq(R.opaque_payloads, 0);
    cr_assert_not_null(R.parts[0].node, "input strings are redactable in place");
}

Test(embed_parse, every_input_position_is_a_part)
{
    parse_ok("{\"input\":[\"alpha\",\"beta gamma\",\"\",\"delta\"],\"user\":\"u-jane@example.com\","
             "\"metadata\":{\"tenant\":\"t-open\",\"category\":\"rag\"},\"extra\":{\"note\":\"zeta\"}}");
    cr_assert_eq(R.ninputs, 4);
    cr_assert(has_part("alpha", TG_PART_CONTENT, 0));
    cr_assert(has_part("beta gamma", TG_PART_CONTENT, 1));
    cr_assert(has_part("", TG_PART_CONTENT, 2));
    cr_assert(has_part("delta", TG_PART_CONTENT, 3));
    /* the rest of the body is text the provider reads, as for chat */
    cr_assert(has_part("u-jane@example.com", TG_PART_OTHER, TG_PART_NO_MESSAGE));
    cr_assert(has_part("zeta", TG_PART_OTHER, TG_PART_NO_MESSAGE));
    cr_assert(has_part("extra", TG_PART_OTHER, TG_PART_NO_MESSAGE), "unknown keys are text too");
    cr_assert_str_eq(R.meta_tenant, "t-open");
    cr_assert_str_eq(R.meta_category, "rag");
    cr_assert_eq(R.text_bytes, 5 + 10 + 0 + 5 + 18 + 6 + 3 + 5 + 4 + 4);
}

Test(embed_parse, token_arrays_are_opaque)
{
    parse_ok("{\"input\":[1,2,3,4,5]}");
    cr_assert_eq(R.ninputs, 1);
    cr_assert_eq(R.opaque_payloads, 1);
    cr_assert_eq(R.token_ids, 5);
    cr_assert_eq(R.nparts, 0);
    tg_request_dispose(&R);

    parse_ok("{\"input\":[[10,20],[30],[40,50,60]],\"encoding_format\":\"base64\",\"dimensions\":256}");
    cr_assert_eq(R.ninputs, 3);
    cr_assert_eq(R.opaque_payloads, 3);
    cr_assert_eq(R.token_ids, 6);
    cr_assert_eq(R.max_input_tokens, 3);
    cr_assert_eq(R.nparts, 0, "encoding_format and dimensions are not text");
    /* token ids are counted as input tokens, with no chat overhead */
    cr_assert_eq(tg_request_estimate_tokens(&R), 6);
}

Test(embed_parse, estimate_is_bytes_over_four_per_input)
{
    parse_ok("{\"input\":[\"abcdefgh\",\"abcdefghijklmnopq\"]}");
    cr_assert_eq(tg_request_estimate_tokens(&R), 2 + 5);
    cr_assert_eq(R.max_input_tokens, 5);
}

Test(embed_parse, refusals)
{
    static const struct { const char *body; int rc; const char *msg; } cases[] = {
        { "{\"model\":\"m\"}", TG_EINVAL, "input is required" },
        { "{\"input\":[]}", TG_EINVAL, "input must be" },
        { "{\"input\":42}", TG_EINVAL, "input must be" },
        { "{\"input\":{\"a\":\"b\"}}", TG_EINVAL, "input must be" },
        { "{\"input\":[\"a\",[1,2]]}", TG_EINVAL, "input[1] differs" },
        { "{\"input\":[[1,2],\"a\"]}", TG_EINVAL, "input[1] differs" },
        { "{\"input\":[[1,2],[]]}", TG_EINVAL, "input[1]" },
        { "{\"input\":[1,-2]}", TG_EINVAL, "non-negative integers" },
        { "{\"input\":[1,2.5]}", TG_EINVAL, "non-negative integers" },
        { "{\"input\":[[1,\"x\"]]}", TG_EINVAL, "input[0]" },
        { "{\"input\":\"a\",\"encoding_format\":\"int8\"}", TG_EINVAL, "encoding_format" },
        { "{\"input\":\"a\",\"dimensions\":0}", TG_EINVAL, "dimensions" },
        { "{\"input\":\"a\",\"dimensions\":\"8\"}", TG_EINVAL, "dimensions" },
        { "{\"input\":\"a\",\"model\":7}", TG_EINVAL, "model must be a string" },
        { "{\"input\":\"a\",\"input\":\"b\"}", TG_EINVAL, "duplicate key 'input'" },
        { "{\"input\":\"a\",\"metadata\":[]}", TG_EINVAL, "metadata must be an object" },
        { "[\"a\"]", TG_EINVAL, "JSON object" },
        { "{\"input\":\"a\\u0000b\"}", TG_EINVAL, "NUL" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tg_err err = {0};
        int rc = parse(cases[i].body, &err);
        cr_expect_eq(rc, cases[i].rc, "%s: rc %d", cases[i].body, rc);
        cr_expect(strstr(err.msg, cases[i].msg) != NULL, "%s: '%s' lacks '%s'", cases[i].body,
                  err.msg, cases[i].msg);
        cr_expect_null(R.body, "failure leaves no body");
    }
}

Test(embed_parse, input_cap)
{
    /* TG_MAX_EMBEDDING_INPUTS strings pass, one more is TG_ELIMIT */
    size_t cap = 32 + (TG_MAX_EMBEDDING_INPUTS + 1) * 4;
    char *b = malloc(cap);
    for (int over = 0; over < 2; over++) {
        size_t o = (size_t)snprintf(b, cap, "{\"input\":[");
        for (uint32_t i = 0; i < TG_MAX_EMBEDDING_INPUTS + (uint32_t)over; i++)
            o += (size_t)snprintf(b + o, cap - o, "%s\"x\"", i ? "," : "");
        snprintf(b + o, cap - o, "]}");
        struct tg_err err = {0};
        tg_request_dispose(&R);
        int rc = parse(b, &err);
        if (over) {
            cr_assert_eq(rc, TG_ELIMIT, "%s", err.msg);
        } else {
            cr_assert_eq(rc, TG_OK, "%s", err.msg);
            cr_assert_eq(R.ninputs, TG_MAX_EMBEDDING_INPUTS);
        }
    }
    free(b);
}

Test(embed_parse, data_url_input_is_decoded_and_unredactable)
{
    /* base64 of "Call 212-555-0199" as text/plain */
    parse_ok("{\"input\":[\"plain\",\"data:text/plain;base64,Q2FsbCAyMTItNTU1LTAxOTk=\"]}");
    cr_assert(has_part("Call 212-555-0199", TG_PART_OTHER, 1));
    cr_assert_eq(R.decoded_parts, 1);
}

Test(embed_parse, from_tree)
{
    struct tg_err err = {0};
    static const char ok[] = "{\"input\":[\"one\",\"two\"]}", bad[] = "{\"input\":[]}";
    cJSON *j = NULL;
    const char *end;
    cr_assert_eq(tg_json_parse(ok, sizeof ok - 1, TG_MAX_JSON_DEPTH, &A, &j, &end), TG_OK);
    cr_assert_eq(tg_request_embedding_from_tree(j, sizeof ok - 1, &A, &R, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(R.kind, TG_REQUEST_EMBEDDING);
    cr_assert(has_part("two", TG_PART_CONTENT, 1));
    tg_request_dispose(&R);
    cr_assert_eq(tg_json_parse(bad, sizeof bad - 1, TG_MAX_JSON_DEPTH, &A, &j, &end), TG_OK);
    cr_assert_eq(tg_request_embedding_from_tree(j, sizeof bad - 1, &A, &R, &err), TG_EINVAL);
    cr_assert_null(R.body);
}

Test(embed_parse, chat_bodies_are_not_embeddings)
{
    struct tg_err err = {0};
    cr_assert_eq(tg_request_parse("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", 44, &A, &R,
                                  &err), TG_OK, "%s", err.msg);
    cr_assert_eq(R.kind, TG_REQUEST_CHAT);
    tg_request_dispose(&R);
    cr_assert_eq(parse("{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", &err), TG_EINVAL);
}

Test(embed_parse, redaction_rewrites_inputs_in_place)
{
    struct tg_err err = {0};
    struct tg_policy *p = NULL;
    struct tg_load_opts o = {0};
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/cases/policies/embeddings.yaml", TG_DATA_DIR);
    cr_assert_eq(tg_policy_load(path, &o, &p, &err), TG_OK, "%s", err.msg);
    P = p;
    cr_assert_eq(tg_pii_scratch_new(P->pii, &S), TG_OK);
    parse_ok("{\"input\":[\"clean text\",\"write to jane.roe@example.com today\"]}");
    struct tg_findings f = {0};
    cr_assert_eq(tg_pii_scan_request(P->pii, S, &R, P->pii_min_score, &A, &f, &err), TG_OK);
    cr_assert_geq(f.n, 1);
    char *out = NULL;
    size_t n = 0;
    cr_assert_eq(tg_redact_body(&R, &f, &A, &out, &n, &err), TG_OK, "%s", err.msg);
    cr_assert_null(strstr(out, "jane.roe@example.com"), "%s", out);
    cr_assert_not_null(strstr(out, "<EMAIL_ADDRESS_1>"), "%s", out);
    /* the redacted body is still an embeddings body with two inputs */
    tg_request_dispose(&R);
    cr_assert_eq(tg_request_parse_embedding(out, n, &A, &R, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(R.ninputs, 2);
}

/* ---- pre-flight ------------------------------------------------------------ */

static void
use_policy(void)
{
    struct tg_err err = {0};
    struct tg_load_opts o = {0};
    char path[512];
    snprintf(path, sizeof(path), "%s/tests/cases/policies/embeddings.yaml", TG_DATA_DIR);
    cr_assert_eq(tg_policy_load(path, &o, &P, &err), TG_OK, "%s", err.msg);
    if (P->pii != NULL)
        cr_assert_eq(tg_pii_scratch_new(P->pii, &S), TG_OK);
}

static struct tg_decision D;

static void
decide(const char *body, const char *tenant, const char *category)
{
    struct tg_err err = {0};
    parse_ok(body);
    R.tenant_id = tenant;
    R.category = category;
    cr_assert_eq(tg_preflight_decide(P, &R, NULL, S, &A, &D, &err), TG_OK, "%s", err.msg);
}

static const struct tg_cand *
cand(const char *model)
{
    for (uint32_t i = 0; i < D.ncands; i++)
        if (strcmp(P->models[D.cands[i].model].id, model) == 0)
            return &D.cands[i];
    cr_assert_fail("no candidate %s", model);
    return NULL;
}

static bool
cand_has(const char *model, const char *rule)
{
    const struct tg_cand *c = cand(model);
    for (uint32_t i = 0; i < c->nreasons; i++)
        if (strcmp(c->reasons[i].rule, rule) == 0)
            return true;
    return false;
}

static bool
routes(uint32_t n, const char *const *ids)
{
    if (D.nroute != n)
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(P->models[D.route[i]].id, ids[i]) != 0)
            return false;
    return true;
}

Test(embed_preflight, kind_filter_in_a_mixed_chain)
{
    use_policy();
    decide("{\"input\":\"quarterly revenue table\"}", "t-open", "mixed");
    cr_assert_eq(D.verdict, TG_ALLOW);
    cr_assert(routes(2, (const char *const[]){ "e-cn", "e-us" }));
    cr_assert(cand_has("c-us", "model.kind"));
    cr_assert_not(cand("c-us")->eligible);
    cr_assert(cand("c-us")->compliant, "kind is routing, not compliance");
    cr_assert_not(cand_has("e-cn", "model.kind"));
    cr_assert_eq(D.est_output_tokens, 0, "an embedding has no output tokens");
    cr_assert_eq(D.est_input_tokens, 6);
    /* input-only pricing: 6 tokens at $0.10/M */
    cr_assert_float_eq(cand("e-cn")->est_cost_usd, 6 * 0.10 / 1e6, 1e-15);
}

Test(embed_preflight, pii_in_an_input_excludes_a_provider_without_dpa)
{
    use_policy();
    decide("{\"input\":[\"fine\",\"SSN 078-05-1120 of Jane Roe, jane.roe@example.com\"]}", "t-open", "rag");
    cr_assert_eq(D.verdict, TG_ALLOW);
    cr_assert_gt(D.findings.n, 0);
    cr_assert(cand_has("e-cn", "pii.provider"));
    cr_assert(routes(1, (const char *const[]){ "e-us" }));
}

Test(embed_preflight, pii_tenant_denies)
{
    use_policy();
    decide("{\"input\":\"mail jane.roe@example.com\"}", "t-nopii", "rag");
    cr_assert_eq(D.verdict, TG_DENY);
    cr_assert(cand_has("e-us", "pii.tenant"));
    cr_assert(cand_has("e-cn", "pii.tenant"));
}

Test(embed_preflight, token_arrays_fail_closed_where_pii_is_restricted)
{
    use_policy();
    decide("{\"input\":[[1,2,3]]}", "t-open", "rag");
    cr_assert(D.findings.unscannable);
    cr_assert(cand_has("e-cn", "pii.unscannable"));
    cr_assert(routes(1, (const char *const[]){ "e-us" }));
    tg_request_dispose(&R);
    decide("{\"input\":[[1,2,3]]}", "t-nopii", "rag");
    cr_assert_eq(D.verdict, TG_DENY);
}

Test(embed_preflight, residency_applies)
{
    use_policy();
    decide("{\"input\":\"hello\"}", "t-open", "eu");
    cr_assert_eq(D.verdict, TG_DENY);
    cr_assert(cand_has("e-us", "residency.rule"));
}

Test(embed_preflight, export_markings_in_inputs)
{
    use_policy();
    R.export_tags = NULL;
    decide("{\"input\":[\"spec sheet\",\"ECCN: 3A001 controlled under the EAR\"]}", "t-open", "rag");
    bool ear = false;
    for (uint32_t i = 0; i < D.nexport_tags; i++)
        ear |= strcmp(D.export_tags[i], "ear") == 0;
    cr_assert(ear, "the marking in input[1] tags the request");
    cr_assert(cand_has("e-cn", "export.ear"));
    cr_assert(routes(1, (const char *const[]){ "e-us" }));
}

Test(embed_preflight, context_is_per_input)
{
    use_policy();
    /* two inputs of 300 bytes: 75 tokens each, 150 in all; e-cn's
     * max_context 100 bounds each input, so both fit */
    char body[1024];
    char a[301];
    memset(a, 'a', 300);
    a[300] = '\0';
    snprintf(body, sizeof(body), "{\"input\":[\"%s\",\"%s\"]}", a, a);
    decide(body, "t-open", "mixed");
    cr_assert_not(cand_has("e-cn", "context"));
    cr_assert_eq(D.est_input_tokens, 150);
    tg_request_dispose(&R);
    /* one input of 600 bytes (150 tokens) does not fit */
    char big[601];
    memset(big, 'b', 600);
    big[600] = '\0';
    snprintf(body, sizeof(body), "{\"input\":\"%s\"}", big);
    decide(body, "t-open", "mixed");
    cr_assert(cand_has("e-cn", "context"));
    cr_assert(routes(1, (const char *const[]){ "e-us" }));
}

Test(embed_preflight, audit_mode_never_routes_the_wrong_kind)
{
    use_policy();
    P->mode = TG_MODE_AUDIT;
    struct tg_err err = {0};
    cr_assert_eq(tg_request_parse("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", 45, &A, &R,
                                  &err), TG_OK, "%s", err.msg);
    R.tenant_id = "t-open";
    R.category = "rag";
    cr_assert_eq(tg_preflight_decide(P, &R, NULL, S, &A, &D, &err), TG_OK);
    cr_assert_eq(D.verdict, TG_DENY);
    cr_assert_not(D.enforced);
    cr_assert_eq(D.nroute, 0, "audit mode serves past compliance, never past the model kind");
    cr_assert(cand_has("e-cn", "model.kind"));
}

Test(embed_preflight, fails_closed_at_every_allocation)
{
    use_policy();
    const char *body = "{\"input\":[\"a\",\"mail jane.roe@example.com\"]}";
    bool nomem = false, ok = false;
    for (long n = 1; n < 400 && !ok; n++) {
        struct tg_err err = {0};
        struct tg_arena a;
        struct tg_request r;
        struct tg_decision d;
        tg_arena_init(&a, 256);
        tg_arena_fail_after(n);
        int rc = tg_request_parse_embedding(body, strlen(body), &a, &r, &err);
        if (rc == TG_OK) {
            r.tenant_id = "t-open";
            r.category = "rag";
            rc = tg_preflight_decide(P, &r, NULL, S, &a, &d, &err);
            if (rc != TG_OK)
                cr_assert_eq(d.nroute, 0, "n=%ld: a failed decision routes nowhere", n);
        }
        tg_arena_fail_after(0);
        tg_arena_free(&a);
        cr_assert(rc == TG_OK || rc == TG_ENOMEM, "n=%ld rc=%d", n, rc);
        nomem |= rc == TG_ENOMEM;
        ok = rc == TG_OK;
    }
    cr_assert(nomem, "some allocation failed");
    cr_assert(ok, "and past the last one, the decision is made");
}

/* ---- providers -------------------------------------------------------------- */

static const struct tg_provider OPENAI = {
    .id = "oa", .adapter = TG_ADAPTER_OPENAI, .base_url = "https://api.example.com/v1/",
    .api_key = "sk-test", .region = "us", .jurisdiction = "US",
};
static const struct tg_model EMODEL = { .id = "e-reg", .upstream = "text-embedding-3-small",
                                        .kind = TG_MODEL_EMBEDDING };

Test(embed_provider, openai_build)
{
    struct tg_err err = {0};
    struct tg_prov_http h;
    const char *body = "{\"model\":\"client-name\",\"input\":[\"a\",\"b\"],\"metadata\":{\"tenant\":\"t\"},"
                       "\"dimensions\":256}";
    cr_assert_eq(tg_prov_embed_build(&OPENAI, &EMODEL, body, strlen(body), &A, &h, &err), TG_OK, "%s",
                 err.msg);
    cr_assert_str_eq(h.url, "https://api.example.com/v1/embeddings");
    cr_assert_not(h.stream);
    bool auth = false;
    for (uint32_t i = 0; i < h.nheaders; i++)
        auth |= strcmp(h.headers[i], "Authorization: Bearer sk-test") == 0;
    cr_assert(auth);
    cJSON *j = cJSON_ParseWithLength(h.body, h.body_len);
    cr_assert_not_null(j);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "text-embedding-3-small");
    cr_assert_null(cJSON_GetObjectItem(j, "metadata"));
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "input")), 2);
    cr_assert_eq(cJSON_GetObjectItem(j, "dimensions")->valueint, 256);
    cJSON_Delete(j);
}

Test(embed_provider, anthropic_and_echo_refuse)
{
    struct tg_err err = {0};
    struct tg_prov_http h;
    struct tg_provider an = OPENAI, ec = OPENAI, bad = OPENAI;
    an.adapter = TG_ADAPTER_ANTHROPIC;
    ec.adapter = TG_ADAPTER_ECHO;
    bad.api_key = "sk\r\nX-Evil: 1";
    const char *body = "{\"input\":\"a\"}";
    cr_assert_eq(tg_prov_embed_build(&an, &EMODEL, body, strlen(body), &A, &h, &err), TG_EINVAL);
    cr_assert(strstr(err.msg, "no embeddings API") != NULL, "%s", err.msg);
    cr_assert_eq(tg_prov_embed_build(&ec, &EMODEL, body, strlen(body), &A, &h, &err), TG_EINVAL);
    cr_assert_eq(tg_prov_embed_build(&bad, &EMODEL, body, strlen(body), &A, &h, &err), TG_EINVAL);
    cr_assert(strstr(err.msg, "line break") != NULL);
}

Test(embed_provider, validate_answer)
{
    const char *ok = "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.5,-1]},"
                     "{\"object\":\"embedding\",\"index\":0,\"embedding\":\"AAAAPwAAgL8=\"}],"
                     "\"model\":\"text-embedding-3-small-upstream\",\"usage\":{\"prompt_tokens\":7,\"total_tokens\":7}}";
    struct tg_err err = {0};
    struct tg_prov_usage u = { -5, -5 };
    char *out = NULL;
    size_t n = 0;
    cr_assert_eq(tg_prov_embed_response("e-reg", ok, strlen(ok), 2, &out, &n, &u, &err), TG_OK, "%s",
                 err.msg);
    cr_assert_eq(u.prompt_tokens, 7);
    cr_assert_eq(u.completion_tokens, 0);
    cJSON *j = cJSON_Parse(out);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "e-reg");
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 2);
    cJSON_Delete(j);
    free(out);

    static const struct { const char *body; uint32_t n; const char *msg; } bad[] = {
        { "[]", 1, "not a JSON object" },
        { "{\"object\":\"dict\",\"data\":[]}", 1, "not \"list\"" },
        { "{\"object\":\"list\"}", 1, "not an array" },
        { "{\"object\":\"list\",\"data\":[]}", 1, "0 vectors for 1" },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[1]}]}", 2, "1 vectors for 2" },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[1]},"
          "{\"object\":\"embedding\",\"index\":0,\"embedding\":[1]}]}", 2, "not a new input index" },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":2,\"embedding\":[1]}]}", 2, "not a new input index" },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0.5,\"embedding\":[1]}]}", 1, "not a new input index" },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"chat\",\"index\":0,\"embedding\":[1]}]}", 1, "not an embedding" },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[1,\"x\"]}]}", 1, "non-number" },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[]}]}", 1, "neither" },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":\"AAA\"}]}", 1, "neither" },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":\"AAAA\"}]}", 1, "neither" },
        { "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":\"AA*AAAA=\"}]}", 1, "neither" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        out = NULL;
        cr_expect_eq(tg_prov_embed_response("e-reg", bad[i].body, strlen(bad[i].body), bad[i].n, &out, &n,
                                            &u, &err), TG_EINVAL, "%s", bad[i].body);
        cr_expect(strstr(err.msg, bad[i].msg) != NULL, "%s: '%s' lacks '%s'", bad[i].body, err.msg,
                  bad[i].msg);
        cr_expect_null(out);
    }
}

Test(embed_provider, usage_may_be_absent)
{
    const char *ok = "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0,\"embedding\":[1]}]}";
    struct tg_err err = {0};
    struct tg_prov_usage u;
    char *out = NULL;
    size_t n;
    cr_assert_eq(tg_prov_embed_response("e-reg", ok, strlen(ok), 0, &out, &n, &u, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(u.prompt_tokens, -1);
    cr_assert_not_null(strstr(out, "\"model\":\"e-reg\""));
    free(out);
}

static cJSON *
echo(const char *body, struct tg_prov_usage *u)
{
    struct tg_err err = {0};
    char *out = NULL;
    size_t n = 0;
    cr_assert_eq(tg_prov_echo_embed("e-reg", body, strlen(body), &out, &n, u, &err), TG_OK, "%s", err.msg);
    /* what echo answers must pass the validator the real providers pass */
    char *v = NULL;
    size_t vn;
    struct tg_prov_usage vu;
    cr_assert_eq(tg_prov_embed_response("e-reg", out, n, 0, &v, &vn, &vu, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(vu.prompt_tokens, u->prompt_tokens);
    free(v);
    cJSON *j = cJSON_Parse(out);
    free(out);
    cr_assert_not_null(j);
    return j;
}

static const cJSON *
vec(const cJSON *j, int i)
{
    return cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(j, "data"), i), "embedding");
}

Test(embed_provider, echo_vectors)
{
    struct tg_prov_usage u;
    cJSON *j = echo("{\"input\":[\"same text\",\"other text\",\"same text\"]}", &u);
    cr_assert_str_eq(cJSON_GetObjectItem(j, "model")->valuestring, "e-reg");
    cr_assert_str_eq(cJSON_GetObjectItem(j, "object")->valuestring, "list");
    cr_assert_eq(cJSON_GetArraySize(vec(j, 0)), 8);
    cr_assert(cJSON_Compare(vec(j, 0), vec(j, 2), true), "equal texts, equal vectors");
    cr_assert_not(cJSON_Compare(vec(j, 0), vec(j, 1), true), "different texts, different vectors");
    const cJSON *x;
    cJSON_ArrayForEach(x, vec(j, 1))
        cr_assert(x->valuedouble >= -1 && x->valuedouble < 1);
    cr_assert_eq(u.prompt_tokens, 3 + 3 + 3);
    cr_assert_eq(u.completion_tokens, 0);
    cr_assert_eq(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "usage"), "prompt_tokens")->valueint, 9);

    /* deterministic across calls */
    cJSON *k = echo("{\"input\":\"other text\"}", &u);
    cr_assert(cJSON_Compare(vec(j, 1), vec(k, 0), true));
    cJSON_Delete(k);

    /* base64 carries the same float32 values, little-endian */
    k = echo("{\"input\":\"other text\",\"encoding_format\":\"base64\",\"dimensions\":8}", &u);
    const char *b = vec(k, 0)->valuestring;
    cr_assert_eq(strlen(b), 44);
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char raw[33];
    size_t o = 0;
    for (size_t i = 0; i < 44; i += 4) {
        uint32_t v = 0;
        int pad = 0;
        for (int q = 0; q < 4; q++) {
            char c = b[i + q];
            v <<= 6;
            if (c == '=')
                pad++;
            else
                v |= (uint32_t)(strchr(tab, c) - tab);
        }
        for (int q = 0; q < 3 - pad; q++)
            raw[o++] = (unsigned char)(v >> (16 - 8 * q));
    }
    cr_assert_eq(o, 32);
    for (int i = 0; i < 8; i++) {
        uint32_t bits = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                        (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
        float f;
        memcpy(&f, &bits, 4);
        cr_assert_eq((double)f, cJSON_GetArrayItem(vec(j, 1), i)->valuedouble, "component %d", i);
    }
    cJSON_Delete(k);
    cJSON_Delete(j);
}

Test(embed_provider, echo_token_arrays_and_dimensions)
{
    struct tg_prov_usage u;
    cJSON *j = echo("{\"input\":[[1,2,3],[4]],\"dimensions\":3}", &u);
    cr_assert_eq(cJSON_GetArraySize(vec(j, 0)), 3);
    cr_assert_eq(u.prompt_tokens, 4);
    cJSON_Delete(j);
    j = echo("{\"input\":[5,6]}", &u);
    cr_assert_eq(cJSON_GetArraySize(cJSON_GetObjectItem(j, "data")), 1);
    cr_assert_eq(u.prompt_tokens, 2);
    cJSON_Delete(j);

    struct tg_err err = {0};
    char *out = NULL;
    size_t n;
    static const char *const bad[] = {
        "{\"input\":\"a\",\"dimensions\":0}", "{\"input\":\"a\",\"dimensions\":257}",
        "{\"input\":[]}", "{\"input\":[\"a\",{}]}", "{}", "not json",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        cr_expect_eq(tg_prov_echo_embed("e", bad[i], strlen(bad[i]), &out, &n, &u, &err), TG_EINVAL,
                     "%s", bad[i]);
        cr_expect_null(out);
    }
}

/* The demo's rag_indexing rule, as docs/embeddings-completions.md tells it. */
Test(embed_preflight, demo_rag_indexing)
{
    struct tg_err err = {0};
    struct tg_load_opts o = {0};
    char path[512];
    snprintf(path, sizeof(path), "%s/rules/examples/demo.yaml", TG_DATA_DIR);
    cr_assert_eq(tg_policy_load(path, &o, &P, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_pii_scratch_new(P->pii, &S), TG_OK);

    decide("{\"model\":\"text-embedding-3-small\",\"input\":[\"chunk one\",\"chunk two\"]}", "globex",
           "rag_indexing");
    cr_assert(routes(2, (const char *const[]){ "text-embedding-v4", "text-embedding-3-small" }));
    tg_request_dispose(&R);

    decide("{\"input\":[\"contact jane.roe@example.com\"]}", "globex", "rag_indexing");
    cr_assert(cand_has("text-embedding-v4", "pii.provider"));
    cr_assert(routes(1, (const char *const[]){ "text-embedding-3-small" }));
    tg_request_dispose(&R);

    decide("{\"input\":\"quarterly figures\"}", "acme-bank", "rag_indexing");
    cr_assert(cand_has("text-embedding-v4", "residency.tenant"));
    cr_assert(cand_has("text-embedding-v4", "export.ear"));
    cr_assert(routes(1, (const char *const[]){ "text-embedding-3-small" }));
    tg_request_dispose(&R);

    decide("{\"input\":\"contact jane.roe@example.com\"}", "acme-bank", "rag_indexing");
    cr_assert_eq(D.verdict, TG_DENY);
    cr_assert(cand_has("text-embedding-3-small", "pii.tenant"));
}
