/*
 * fuzz_http_body.c — what the gateway does with a client body before any
 * byte leaves: parse (tg_request_parse), pre-flight decision, redaction of
 * the outgoing body, and the provider adapters' request building (openai,
 * anthropic translation) and the echo answer, for every routed candidate.
 * The first input byte picks the category and export header.
 *
 * The policy is loaded once from the YAML below (no registry); if that
 * fails (e.g. a pack missing in a stripped tree) only the adapter half
 * runs, so the harness still exercises the translations.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/providers/provider.h"
#include "engine/preflight.h"
#include "engine/redact.h"
#include "engine/request.h"
#include "policy/policy.h"

static const char CONFIG[] =
    "orchestration:\n"
    "  version: \"fuzz\"\n"
    "  providers:\n"
    "    oa: {adapter: openai, base_url: \"http://127.0.0.1:9/v1\", api_key: \"k\", region: us, jurisdiction: US, pii_allowed: true}\n"
    "    an: {adapter: anthropic, base_url: \"http://127.0.0.1:9\", api_key: \"k\", region: eu, jurisdiction: DE, pii_allowed: false}\n"
    "    ec: {adapter: echo, region: us, jurisdiction: US, pii_allowed: true}\n"
    "  models:\n"
    "    m-oa: {provider: oa, max_context: 128000, streaming: true, pricing: {input_per_m: 1, output_per_m: 2}, scores: {humaneval: 90}}\n"
    "    m-an: {provider: an, upstream_model: claude-x, max_context: 200000, streaming: true, pricing: {input_per_m: 3, output_per_m: 15}, scores: {humaneval: 92}}\n"
    "    m-ec: {provider: ec, max_context: 32000, streaming: true, pricing: {input_per_m: 0, output_per_m: 0}, scores: {humaneval: 50}}\n"
    "  regions:\n"
    "    global: [us, eu, cn, sg]\n"
    "  routing_rules:\n"
    "    - category: chat\n"
    "      primary: {provider: an, model: m-an}\n"
    "      fallback: [{provider: oa, model: m-oa}, {provider: ec, model: m-ec}]\n"
    "      constraints: {max_cost_per_request: 1.0, timeout_ms: 500}\n"
    "      compliance: {data_residency: global, pii_allowed: true, export_controlled: true}\n"
    "    - category: strict\n"
    "      primary: {provider: ec, model: m-ec}\n"
    "      constraints: {timeout_ms: 500}\n"
    "      compliance: {data_residency: global, pii_allowed: false}\n"
    "  policy:\n"
    "    mode: enforce\n"
    "    pii: {packs: [rules/pii/default.yaml], min_score: 0.5, on_violation: redact}\n"
    "    export_control:\n"
    "      header: X-Export-Control\n"
    "      tags: {itar: {allow_jurisdictions: [US]}, ear: {deny_jurisdictions: [CN]}}\n"
    "  tenants:\n"
    "    - id: t\n"
    "      api_key_sha256: \"0000000000000000000000000000000000000000000000000000000000000000\"\n";

static struct tg_policy *P;
static struct tg_pii_scratch *S;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    struct tg_load_opts o = { .no_registry = true };
    struct tg_err err;

    (void)argc;
    (void)argv;
    if (tg_policy_load_buffer("fuzz.yaml", CONFIG, sizeof(CONFIG) - 1, &o, &P, &err) != TG_OK) {
        fprintf(stderr, "fuzz_http_body: policy not loaded (%s); adapters only\n", err.msg);
        P = NULL;
    } else if (P->pii != NULL && tg_pii_scratch_new(P->pii, &S) != TG_OK) {
        S = NULL;
    }
    return 0;
}

static void
adapters(const char *body, size_t len, bool stream)
{
    struct tg_provider pv[2] = {
        { .id = "oa", .adapter = TG_ADAPTER_OPENAI, .base_url = "http://h/v1", .api_key = "k" },
        { .id = "an", .adapter = TG_ADAPTER_ANTHROPIC, .base_url = "http://h", .api_key = "k" },
    };
    struct tg_model m = { .id = "m", .upstream = "up" };
    struct tg_arena a;
    struct tg_err err;
    struct tg_prov_usage u;
    char *out = NULL;
    size_t n;

    tg_arena_init(&a, 0);
    for (int i = 0; i < 2; i++) {
        struct tg_prov_http h;
        (void)tg_prov_build(&pv[i], &m, body, len, 1024, &a, &h, &err);
    }
    if (tg_prov_echo("m", body, len, stream, 0, "id", &out, &n, &u, &err) == TG_OK)
        free(out);
    out = NULL;
    /* The same bytes as an upstream answer. */
    if (tg_prov_response(TG_ADAPTER_ANTHROPIC, "m", body, len, 0, &out, &n, &u, &err) == TG_OK)
        free(out);
    out = NULL;
    (void)tg_prov_response(TG_ADAPTER_OPENAI, "m", body, len, 0, &out, &n, &u, &err);
    tg_arena_free(&a);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *cats[] = { "chat", "strict", "nope", NULL };
    static const char *tags[] = { NULL, "itar", "ear, itar", "unknown" };
    struct tg_arena a;
    struct tg_request req;
    struct tg_decision d;
    struct tg_err err;
    const char *body;
    size_t len;
    uint8_t sel = 0;

    if (size > 0) {
        sel = data[0];
        data++;
        size--;
    }
    body = (const char *)data;
    len = size;
    adapters(body, len, (sel & 0x10) != 0);
    if (P == NULL)
        return 0;

    tg_arena_init(&a, 0);
    memset(&req, 0, sizeof(req));
    if (tg_request_parse(body, len, &a, &req, &err) != TG_OK) {
        (void)tg_preflight_malformed(P, "t", NULL, cats[sel & 3], err.msg, &a, &d);
        goto out;
    }
    req.tenant_id = "t";
    req.category = cats[sel & 3] ? cats[sel & 3] : req.meta_category;
    req.feature = req.meta_feature;
    if (tags[(sel >> 2) & 3])
        (void)tg_request_add_tags(&req, tags[(sel >> 2) & 3], &a);
    if (tg_preflight_decide(P, &req, NULL, S, &a, &d, &err) != TG_OK)
        goto out;
    for (uint32_t i = 0; i < d.nroute; i++) {
        const struct tg_model *m = &P->models[d.route[i]];
        const struct tg_provider *pv = &P->providers[m->provider];
        const char *ob = body;
        size_t ol = len;
        char *red = NULL;
        size_t rl = 0;
        struct tg_prov_http h;
        for (uint32_t c = 0; c < d.ncands; c++)
            if (d.cands[c].model == d.route[i] && d.cands[c].redact &&
                tg_redact_body(&req, &d.findings, &a, &red, &rl, &err) == TG_OK) {
                ob = red;
                ol = rl;
            }
        if (pv->adapter == TG_ADAPTER_ECHO) {
            struct tg_prov_usage u;
            char *out = NULL;
            size_t n;
            if (tg_prov_echo(m->id, ob, ol, req.stream, 0, "id", &out, &n, &u, &err) == TG_OK)
                free(out);
        } else if (tg_prov_build(pv, m, ob, ol, P->default_output_tokens, &a, &h, &err) != TG_OK &&
                   err.code != TG_EINVAL) {
            abort();   /* a body the engine accepted must translate */
        }
    }
out:
    tg_request_dispose(&req);
    tg_arena_free(&a);
    return 0;
}
