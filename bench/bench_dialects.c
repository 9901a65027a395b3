/*
 * bench_dialects.c — what a door costs: the same conversation (a system
 * prompt, a tool definition, a user turn, an assistant tool call, its
 * result and a follow-up, ~2.5 KiB of text) sent as OpenAI Chat
 * Completions, OpenAI Responses and Anthropic Messages, each taken through
 * what the gateway does per request before and after the provider:
 * decode to the canonical request (identity for chat), parse, pre-flight
 * decision with the default PII packs, and encoding a short answer back
 * into the client's dialect (chat: relayed as is).  A dialect with
 * decode_tree hands its tree to tg_request_from_tree instead of having
 * its text parsed again, as the gateway should (docs/dialects.md, "Cost").
 *
 * Baseline in the same run: the Chat Completions request itself; the
 * issue's goal is <= 1.2x for Responses and Messages.  Medians over
 * batches, ns per request.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapters/dialects/dialect.h"
#include "engine/context.h"
#include "engine/pii.h"
#include "engine/preflight.h"
#include "policy/policy.h"
#include "engine/request.h"

#define BATCH   100
#define BATCHES 101

static double
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static const char policy[] =
    "orchestration:\n"
    "  version: \"bench\"\n"
    "  providers:\n"
    "    cn: {adapter: echo, region: cn, jurisdiction: CN, pii_allowed: false}\n"
    "    us: {adapter: echo, region: us, jurisdiction: US, pii_allowed: true}\n"
    "  models:\n"
    "    cheap: {provider: cn, max_context: 128000, pricing: {input_per_m: 0.1, output_per_m: 0.25}, scores: {humaneval: 92}}\n"
    "    big: {provider: us, max_context: 128000, pricing: {input_per_m: 2.5, output_per_m: 10}, scores: {humaneval: 93}}\n"
    "  regions:\n    any: [us, cn]\n"
    "  routing_rules:\n"
    "    - category: code\n"
    "      primary: {provider: cn, model: cheap}\n"
    "      fallback: [{provider: us, model: big}]\n"
    "      constraints: {quality_threshold: 90, max_cost_per_request: 0.5, timeout_ms: 800}\n"
    "      compliance: {data_residency: any, pii_allowed: true}\n"
    "  policy:\n    pii: {packs: [" TG_DATA_DIR "/rules/pii/default.yaml]}\n"
    "  tenants:\n    - {id: t}\n";

#define SYS "You are a careful coding assistant for the billing team. Follow the repository's style guide, " \
            "prefer small functions, write tests for every change and explain trade-offs briefly. "
#define USR "The quarterly report job fails when the invoice list is empty; find the cause in the " \
            "scheduler and propose a fix with a test. Keep the change minimal and compatible. "
#define TOOLDESC "Read a file of the repository and return its text"
#define ARGS "{\\\"path\\\":\\\"src/scheduler/report.c\\\"}"
#define RESULT "static int run(struct job *j) { if (j->n == 0) return divide(j->total, j->n); return 0; } " \
               "/* the report divides by the invoice count without checking it */ "
#define FOLLOW "Thanks. Now also check the retry path for the same problem and summarise both fixes. "

static char *
rep(const char *s, int n)
{
    size_t l = strlen(s);
    char *o = malloc(l * (size_t)n + 1);
    for (int i = 0; i < n; i++)
        memcpy(o + l * (size_t)i, s, l);
    o[l * (size_t)n] = '\0';
    return o;
}

struct door {
    const char *name;
    enum tg_dialect_id id;
    char *body;
    size_t len;
    double med;              /* ns per request, median batch */
    double ratio, r_lo, r_hi; /* to chat: median and quartiles of per-batch ratios */
};

static const char answer[] =
    "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,\"model\":\"cheap\","
    "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"The division needs a guard; "
    "here is the patch and a test.\"},\"finish_reason\":\"stop\"}],"
    "\"usage\":{\"prompt_tokens\":700,\"completion_tokens\":20,\"total_tokens\":720}}";

int
main(void)
{
    struct tg_load_opts lo = { .no_registry = true };
    struct tg_policy *p = NULL;
    struct tg_pii_scratch *scratch = NULL;
    struct tg_err err = { 0 };
    char *sys = rep(SYS, 4), *usr = rep(USR, 3), *res = rep(RESULT, 3), *fol = rep(FOLLOW, 2);
    struct door doors[3];
    static double t[BATCHES], tb[3][BATCHES];
    struct tg_arena a;
    volatile size_t sink = 0;

    if (tg_policy_load_buffer("bench.yaml", policy, strlen(policy), &lo, &p, &err) != TG_OK ||
        tg_pii_scratch_new(p->pii, &scratch) != TG_OK) {
        fprintf(stderr, "bench_dialects: policy: %s\n", err.msg);
        return 1;
    }
    doors[0].name = "chat.completions";
    doors[0].id = TG_DIALECT_CHAT;
    doors[1].name = "responses";
    doors[1].id = TG_DIALECT_RESPONSES;
    doors[2].name = "messages";
    doors[2].id = TG_DIALECT_MESSAGES;
    for (int i = 0; i < 3; i++)
        doors[i].body = malloc(16384);
    doors[0].len = (size_t)snprintf(doors[0].body, 16384,
        "{\"model\":\"gpt-5-codex\",\"max_tokens\":1024,\"messages\":["
        "{\"role\":\"system\",\"content\":\"%s\"},{\"role\":\"user\",\"content\":\"%s\"},"
        "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\",\"type\":\"function\","
        "\"function\":{\"name\":\"read_file\",\"arguments\":\"%s\"}}]},"
        "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"%s\"},{\"role\":\"user\",\"content\":\"%s\"}],"
        "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"read_file\",\"description\":\"%s\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":[\"path\"]}}}]}",
        sys, usr, ARGS, res, fol, TOOLDESC);
    doors[1].len = (size_t)snprintf(doors[1].body, 16384,
        "{\"model\":\"gpt-5-codex\",\"max_output_tokens\":1024,\"instructions\":\"%s\",\"input\":["
        "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"%s\"}]},"
        "{\"type\":\"function_call\",\"call_id\":\"call_1\",\"name\":\"read_file\",\"arguments\":\"%s\"},"
        "{\"type\":\"function_call_output\",\"call_id\":\"call_1\",\"output\":\"%s\"},"
        "{\"type\":\"message\",\"role\":\"user\",\"content\":[{\"type\":\"input_text\",\"text\":\"%s\"}]}],"
        "\"tools\":[{\"type\":\"function\",\"name\":\"read_file\",\"description\":\"%s\","
        "\"parameters\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":[\"path\"]}}]}",
        sys, usr, ARGS, res, fol, TOOLDESC);
    doors[2].len = (size_t)snprintf(doors[2].body, 16384,
        "{\"model\":\"claude-opus-5-5\",\"max_tokens\":1024,\"system\":\"%s\",\"messages\":["
        "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"%s\"}]},"
        "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"read_file\","
        "\"input\":{\"path\":\"src/scheduler/report.c\"}}]},"
        "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"content\":\"%s\"},"
        "{\"type\":\"text\",\"text\":\"%s\"}]}],"
        "\"tools\":[{\"name\":\"read_file\",\"description\":\"%s\","
        "\"input_schema\":{\"type\":\"object\",\"properties\":{\"path\":{\"type\":\"string\"}},\"required\":[\"path\"]}}]}",
        sys, usr, res, fol, TOOLDESC);

    tg_arena_init(&a, 256 * 1024);
    /* The doors take turns batch by batch, so a change in the machine's load
     * falls on all three alike; each batch gives a ratio to the Chat
     * Completions batch next to it, and the medians are reported. */
    /* BENCH_DOOR=0|1|2 and BENCH_BATCHES=N run one door for N batches only:
     * for counting instructions per request under callgrind, which the
     * machine's load cannot disturb (docs/dialects.md, "Cost") */
    const char *only = getenv("BENCH_DOOR"), *nb = getenv("BENCH_BATCHES");
    int batches = nb != NULL && atoi(nb) > 0 && atoi(nb) <= BATCHES ? atoi(nb) : BATCHES;
    for (int b = 0; b < batches; b++) {
        for (int di = 0; di < 3; di++) {
            struct door *dr = &doors[di];
            const struct tg_dialect_ops *ops = tg_dialect_get(dr->id);
            double t0;
            if (only != NULL && atoi(only) != di) {
                tb[di][b] = 1;
                continue;
            }
            if (ops->decode == NULL && dr->id != TG_DIALECT_CHAT) {
                tb[di][b] = 0;
                continue;
            }
            t0 = now_ns();
            for (int i = 0; i < BATCH; i++) {
                struct tg_dialect_ctx ctx = { .id = dr->id, .answer_id = "0123456789abcdef", .now_s = 1 };
                struct tg_context_in cin = { "t", NULL, NULL, NULL };
                struct tg_request q;
                struct tg_decision d;
                const char *canon = dr->body;
                size_t clen = dr->len;
                cJSON *tree = NULL;
                int prc;
                tg_arena_reset(&a);
                if (ops->decode != NULL) {
                    char *c = NULL;
                    int drc = ops->decode_tree != NULL
                                  ? ops->decode_tree(dr->body, dr->len, &a, &ctx, &c, &clen, &tree, &err)
                                  : ops->decode(dr->body, dr->len, &a, &ctx, &c, &clen, &err);
                    if (drc != TG_OK) {
                        fprintf(stderr, "bench_dialects: %s: decode: %s\n", dr->name, err.msg);
                        return 1;
                    }
                    canon = c;
                }
                /* as the gateway does: the decoder's tree when it has one */
                prc = tree != NULL ? tg_request_from_tree(tree, clen, &a, &q, &err)
                                   : tg_request_parse(canon, clen, &a, &q, &err);
                if (prc != TG_OK || tg_context_resolve(p, &cin, &q, &a, NULL, &err) != TG_OK) {
                    fprintf(stderr, "bench_dialects: %s: parse: %s\n", dr->name, err.msg);
                    return 1;
                }
                q.category = "code";
                if (tg_preflight_decide(p, &q, NULL, scratch, &a, &d, &err) != TG_OK)
                    return 1;
                sink += d.nroute;
                if (ops->encode_answer != NULL) {
                    char *out = NULL;
                    size_t olen = 0;
                    if (ops->encode_answer(&ctx, answer, sizeof answer - 1, &out, &olen, &err) != TG_OK)
                        return 1;
                    sink += olen;
                    free(out);
                }
                tg_request_dispose(&q);
            }
            tb[di][b] = (now_ns() - t0) / BATCH;
        }
    }
    for (int di = 0; di < 3; di++) {
        double r[BATCHES];
        for (int b = 0; b < batches; b++) {
            t[b] = tb[di][b];
            r[b] = tb[0][b] > 0 ? tb[di][b] / tb[0][b] : 0;
        }
        qsort(t, (size_t)batches, sizeof t[0], cmp_d);
        qsort(r, (size_t)batches, sizeof r[0], cmp_d);
        doors[di].med = t[batches / 2];
        doors[di].ratio = r[batches / 2];
        doors[di].r_lo = r[batches / 4];
        doors[di].r_hi = r[3 * batches / 4];
    }
    printf("the same conversation through each door: decode, parse, pre-flight with PII scan, answer encode\n"
           "(doors interleaved batch by batch; ratio = median of per-batch ratios to chat, quartiles in brackets)\n");
    for (int di = 0; di < 3; di++)
        if (doors[di].med > 0)
            printf("%-18s %5zu bytes  median %8.0f ns  ratio to chat %5.2fx [%4.2f-%4.2f]%s\n", doors[di].name,
                   doors[di].len, doors[di].med, doors[di].ratio, doors[di].r_lo, doors[di].r_hi,
                   di == 0 ? " (baseline)" : "  (goal <= 1.20x)");
    (void)sink;
    tg_pii_scratch_free(scratch);
    tg_policy_unref(p);
    tg_arena_free(&a);
    for (int i = 0; i < 3; i++)
        free(doors[i].body);
    free(sys);
    free(usr);
    free(res);
    free(fol);
    return 0;
}
