/*
 * cmd_explain.c — `tollgate explain --config CONFIG --request FILE
 * [--tenant ID] [--category C] [--feature F] [--export-tags a,b]`
 * (docs/interface.md §1): one pre-flight + routing decision as the JSON of §4.
 *
 * It runs the same tg_preflight_decide() as serve and dry-run, so what it
 * prints is what the gateway would do (with every breaker closed).
 * The tenant, feature and category come from the flags, else from the
 * body's metadata.  A config that defines no tenants serves an anonymous
 * default tenant with no restrictions, so the seed's template (which has
 * none) gives real decisions; once tenants exist a request must name one.
 *
 * Exit 0 for any decision (allow, redact or deny); 1 when the config does
 * not load or the request file is not a chat request (a request.malformed
 * deny is still printed on stdout in that case); 2 usage / unreadable file.
 */
#include "adapters/cli/cli.h"
#include "adapters/dialects/dialect.h"
#include "engine/context.h"
#include "engine/limits.h"
#include "engine/preflight.h"
#include "engine/request.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: tollgate explain --config CONFIG --request FILE [--tenant ID] [--category C]\n"
        "                        [--feature F] [--export-tags a,b] [--endpoint PATH]\n"
        "                        [--compact] [--brief]\n"
        "\n"
        "Evaluate one request body (FILE, or - for stdin) against the policy in CONFIG and\n"
        "print the decision as JSON: verdict, export tags, PII entity counts, every\n"
        "candidate with its compliance/eligibility reasons, and the route.  The category\n"
        "is resolved as the gateway resolves it: --category, body metadata.category, a\n"
        "`model` naming a category or one of a rule's aliases, the tenant's\n"
        "default_category.  Tenant and feature default to body.metadata.{tenant,feature}.\n"
        "\n"
        "  --endpoint   the door the body is for (default /v1/chat/completions):\n"
        "               /v1/responses, /v1/messages, /v1/embeddings, /v1/completions, ...\n"
        "  --compact    one line of JSON instead of pretty-printed\n"
        "  --brief      drop per-candidate reasons and finding offsets\n"
        "\n"
        "exit: 0 evaluated (any decision), 1 bad config or request, 2 usage\n");
}

static int
print_json(cJSON *j, bool compact)
{
    char *s = compact ? cJSON_PrintUnformatted(j) : cJSON_Print(j);
    if (s == NULL)
        return -1;
    fputs(s, stdout);
    fputc('\n', stdout);
    free(s);
    return 0;
}

int
tg_cmd_explain(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config",      required_argument, NULL, 'c' },
        { "request",     required_argument, NULL, 'r' },
        { "tenant",      required_argument, NULL, 't' },
        { "category",    required_argument, NULL, 'C' },
        { "feature",     required_argument, NULL, 'f' },
        { "export-tags", required_argument, NULL, 'e' },
        { "endpoint",    required_argument, NULL, 'E' },
        { "compact",     no_argument,       NULL, 'k' },
        { "brief",       no_argument,       NULL, 'b' },
        { "help",        no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *reqpath = NULL, *tenant = NULL, *category = NULL;
    const char *feature = NULL, *tags = NULL, *endpoint = NULL;
    const struct tg_dialect_ops *door = tg_dialect_get(TG_DIALECT_CHAT);
    bool compact = false, brief = false;
    struct tg_policy *p = NULL;
    struct tg_pii_scratch *scratch = NULL;
    struct tg_request req;
    struct tg_decision d;
    struct tg_arena a;
    struct tg_err err = {0};
    cJSON *j = NULL;
    char *body = NULL;
    size_t blen = 0;
    int ret = 2, c;

    memset(&req, 0, sizeof(req));
    tg_arena_init(&a, 0);
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'r': reqpath = optarg; break;
        case 't': tenant = optarg; break;
        case 'C': category = optarg; break;
        case 'f': feature = optarg; break;
        case 'e': tags = optarg; break;
        case 'E': endpoint = optarg; break;
        case 'k': compact = true; break;
        case 'b': brief = true; break;
        case 'h': usage(stdout); ret = 0; goto out;
        default:
            tg_cli_error("explain", "unknown or incomplete option '%s' (see --help)",
                         argv[optind - 1]);
            goto out;
        }
    }
    if (optind < argc) {
        tg_cli_error("explain", "unexpected argument '%s' (see --help)", argv[optind]);
        goto out;
    }
    if (config == NULL || reqpath == NULL) {
        tg_cli_error("explain", "--config and --request are required (see --help)");
        goto out;
    }
    if (endpoint != NULL && (door = tg_dialect_for_path(endpoint, strlen(endpoint))) == NULL &&
        (door = tg_dialect_by_name(endpoint)) == NULL) {
        tg_cli_error("explain", "--endpoint %s: not an endpoint tollgate serves (see --help)", endpoint);
        goto out;
    }

    ret = 1;
    if ((p = tg_cli_load_policy("explain", config, false)) == NULL)
        goto out;
    if (tg_cli_read_file(reqpath, TG_MAX_BODY_BYTES, &body, &blen, &err) != TG_OK) {
        tg_cli_error("explain", "%s", err.msg);
        goto out;
    }
    if (p->pii != NULL && tg_pii_scratch_new(p->pii, &scratch) != TG_OK) {
        tg_cli_error("explain", "out of memory");
        goto out;
    }

    const char *canon = body;
    size_t clen = blen;
    int rc = TG_OK;
    if (door->decode != NULL) {
        /* The gateway's decoder: what serve would decide on, exactly. */
        struct tg_dialect_ctx dctx = { .id = door->id, .answer_id = "explain" };
        char *cb = NULL;
        rc = door->decode(body, blen, &a, &dctx, &cb, &clen, &err);
        canon = cb;
    }
    if (rc == TG_OK)
        rc = door->id == TG_DIALECT_EMBEDDINGS ? tg_request_parse_embedding(canon, clen, &a, &req, &err)
                                               : tg_request_parse(canon, clen, &a, &req, &err);
    if (rc == TG_OK) {
        struct tg_context_in cin = { tenant, category, feature, tags };
        rc = tg_context_resolve(p, &cin, &req, &a, NULL, &err);
        if (rc == TG_ELIMIT)
            tg_err_set(&err, rc, "--export-tags: more than %u tags", TG_MAX_EXPORT_TAGS);
    }
    if (rc != TG_OK) {
        /* still print the deny the gateway would audit, then fail */
        tg_cli_error("explain", "%s: %s", reqpath, err.msg);
        if (tg_preflight_malformed(p, tenant, feature, category, err.msg, &a, &d) == TG_OK &&
            (j = tg_decision_to_json(p, &d, !brief)) != NULL)
            print_json(j, compact);
        goto out;
    }
    if (tg_preflight_decide(p, &req, NULL, scratch, &a, &d, &err) != TG_OK) {
        tg_cli_error("explain", "%s", err.msg);
        goto out;
    }
    if ((j = tg_decision_to_json(p, &d, !brief)) == NULL || print_json(j, compact) != 0) {
        tg_cli_error("explain", "out of memory");
        goto out;
    }
    ret = 0;
out:
    cJSON_Delete(j);
    tg_request_dispose(&req);
    tg_arena_free(&a);
    tg_pii_scratch_free(scratch);
    if (p != NULL)
        tg_policy_unref(p);
    free(body);
    return ret;
}
