/*
 * cmd_check.c — `tollgate check CONFIG` (docs/interface.md §1): load and validate a
 * configuration merged over the registry, print every warning and error as
 * FILE:LINE:COL: warning|error: MESSAGE on stderr (or as JSON on stdout with
 * --json), then a one-line summary.  Exit 0 valid (warnings allowed),
 * 1 invalid, 2 usage or unreadable file.
 */
#include "adapters/cli/cli.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: tollgate check [--json] [--registry FILE] [--no-registry] [--quiet] CONFIG\n"
        "\n"
        "Load CONFIG merged over the model registry (rules/registry.yaml), validate it,\n"
        "compile its PII packs and export markings, and report problems as\n"
        "  FILE:LINE:COL: warning|error: MESSAGE\n"
        "on stderr.  On success prints a summary with the policy_version on stdout.\n"
        "\n"
        "  --json          print {\"valid\", \"errors\", \"warnings\", \"diagnostics\": [...],\n"
        "                  \"policy_version\", ...} on stdout instead\n"
        "  --registry FILE use FILE instead of the shipped registry\n"
        "  --no-registry   load CONFIG alone\n"
        "  --quiet         errors only (no warnings, no summary)\n"
        "\n"
        "exit: 0 valid (warnings allowed), 1 invalid, 2 usage or unreadable file\n");
}

struct check_ctx {
    bool   json;
    bool   quiet;
    cJSON *diags;     /* --json: collected diagnostics */
    bool   oom;
};

static void
check_diag(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    struct check_ctx *c = ud;
    if (!c->json) {
        if (level == TG_DIAG_WARNING && c->quiet)
            return;
        fprintf(stderr, "%s:%u:%u: %s: %s\n",
                pos && pos->file ? pos->file : "?", pos ? pos->line : 0, pos ? pos->col : 0,
                level == TG_DIAG_ERROR ? "error" : "warning", msg);
        return;
    }
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(c->diags, o)) {
        cJSON_Delete(o);
        c->oom = true;
        return;
    }
    if (!cJSON_AddStringToObject(o, "file", pos && pos->file ? pos->file : "") ||
        !cJSON_AddNumberToObject(o, "line", pos ? pos->line : 0) ||
        !cJSON_AddNumberToObject(o, "col", pos ? pos->col : 0) ||
        !cJSON_AddStringToObject(o, "level", level == TG_DIAG_ERROR ? "error" : "warning") ||
        !cJSON_AddStringToObject(o, "message", msg))
        c->oom = true;
}

static unsigned
count_level(const cJSON *diags, const char *level)
{
    unsigned n = 0;
    const cJSON *d;
    cJSON_ArrayForEach(d, diags) {
        const cJSON *l = cJSON_GetObjectItemCaseSensitive(d, "level");
        if (cJSON_IsString(l) && strcmp(l->valuestring, level) == 0)
            n++;
    }
    return n;
}

int
tg_cmd_check(int argc, char **argv)
{
    struct check_ctx c = {0};
    struct tg_load_opts opts = { .diag = check_diag, .diag_ud = &c };
    struct tg_policy *p = NULL;
    struct tg_err err = {0};
    const char *config = NULL;
    cJSON *root = NULL;
    int rc = 2;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            c.json = true;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            c.quiet = true;
        } else if (strcmp(a, "--no-registry") == 0) {
            opts.no_registry = true;
        } else if (strcmp(a, "--registry") == 0) {
            if (++i >= argc) {
                tg_cli_error("check", "--registry needs a file");
                usage(stderr);
                return 2;
            }
            opts.registry_path = argv[i];
        } else if (a[0] == '-' && a[1] != '\0') {
            tg_cli_error("check", "unknown option '%s'", a);
            usage(stderr);
            return 2;
        } else if (config == NULL) {
            config = a;
        } else {
            tg_cli_error("check", "only one CONFIG may be given");
            usage(stderr);
            return 2;
        }
    }
    if (config == NULL) {
        tg_cli_error("check", "missing CONFIG");
        usage(stderr);
        return 2;
    }
    /* Unreadable is a usage/IO problem (2), not an invalid config (1). */
    if (access(config, R_OK) != 0) {
        tg_cli_error("check", "cannot read %s: %s", config, strerror(errno));
        return 2;
    }
    if (c.json && (c.diags = cJSON_CreateArray()) == NULL) {
        tg_cli_error("check", "out of memory");
        return 2;
    }

    int lrc = tg_policy_load(config, &opts, &p, &err);
    if (lrc == TG_EIO || lrc == TG_ELIMIT || lrc == TG_ENOMEM) {
        tg_cli_error("check", "%s", err.msg);
        rc = 2;
        goto out;
    }
    rc = lrc == TG_OK ? 0 : 1;

    if (c.json) {
        root = cJSON_CreateObject();
        if (root == NULL)
            goto oom;
        cJSON_AddBoolToObject(root, "valid", rc == 0);
        cJSON_AddStringToObject(root, "config", config);
        cJSON_AddNumberToObject(root, "errors", count_level(c.diags, "error"));
        cJSON_AddNumberToObject(root, "warnings", count_level(c.diags, "warning"));
        cJSON_AddItemToObject(root, "diagnostics", c.diags);
        c.diags = NULL;
        if (p != NULL) {
            cJSON_AddStringToObject(root, "policy_version", p->policy_version);
            cJSON_AddNumberToObject(root, "providers", p->nproviders);
            cJSON_AddNumberToObject(root, "models", p->nmodels);
            cJSON_AddNumberToObject(root, "rules", p->nrules);
            cJSON_AddNumberToObject(root, "tenants", p->ntenants);
        }
        char *s = cJSON_PrintUnformatted(root);
        if (s == NULL || c.oom)
            goto oom;
        printf("%s\n", s);
        cJSON_free(s);
    } else if (rc == 0) {
        if (!c.quiet)
            printf("ok: %u providers, %u models, %u rules, %u tenants, policy_version %s\n",
                   p->nproviders, p->nmodels, p->nrules, p->ntenants, p->policy_version);
    } else {
        tg_cli_error("check", "%s: %s", config, err.msg);
    }
    goto out;
oom:
    tg_cli_error("check", "out of memory");
    rc = 2;
out:
    cJSON_Delete(root);
    cJSON_Delete(c.diags);
    tg_policy_unref(p);
    return rc;
}
