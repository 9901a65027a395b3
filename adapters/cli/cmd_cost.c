/*
 * cmd_cost.c — `tollgate cost [--config CONFIG] --tokens-per-day N
 * [--output-share F] [--json]` (docs/interface.md §1): what a daily token volume
 * costs per year on each model of the registry (or of CONFIG merged over it).
 *
 *   annual = N * 365 * ((1 - F) * input_per_m + F * output_per_m) / 1e6
 *
 * F defaults to 0.25: the 3:1 input:output blend that public price
 * comparisons (e.g. Artificial Analysis's "blended price") use for chat
 * traffic.  --output-share 1 prices every token at the output price, which
 * is how the seed's annual-cost table is computed (50M tokens/day on GPT-4o
 * at $10/M output = $182,500).  Figures are rounded to cents; a model
 * whose needed price is unknown is listed with null.
 */
#include "adapters/cli/cli.h"
#include "engine/cost.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_OUTPUT_SHARE 0.25

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: tollgate cost [--config CONFIG] --tokens-per-day N [--output-share F] [--json]\n"
        "\n"
        "Annual cost of N tokens a day on every model of the registry (or of CONFIG\n"
        "merged over it): N * 365 * ((1-F) * input price + F * output price) per 1M tokens.\n"
        "\n"
        "  --tokens-per-day N   tokens a day; suffixes K, M, B (50M = 50,000,000)\n"
        "  --output-share F     share of tokens priced as output, 0..1 (default 0.25, the\n"
        "                       common 3:1 input:output blend; 1 reproduces the seed's table)\n"
        "  --json               print {\"models\": [{\"model\", \"annual_usd\", ...}]}\n"
        "\n"
        "exit: 0 printed, 1 bad config, 2 usage\n");
}

/* Errors only: the empty config's "no routing_rules" warning is expected. */
static void
registry_diag(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    if (level == TG_DIAG_ERROR)
        tg_cli_diag(ud, level, pos, msg);
}

/* Registry-only policy: an empty orchestration merged over rules/registry.yaml. */
static struct tg_policy *
load_registry(void)
{
    /* no packs: pricing needs no PII detectors */
    static const char cfg[] = "orchestration:\n  version: \"registry\"\n"
                              "  policy:\n    pii:\n      packs: []\n";
    struct tg_load_opts opts = { .skip_compile = true, .diag = registry_diag };
    struct tg_policy *p = NULL;
    struct tg_err err = {0};
    if (tg_policy_load_buffer("<registry>", cfg, sizeof(cfg) - 1, &opts, &p, &err) != TG_OK) {
        tg_cli_error("cost", "cannot load the model registry: %s", err.msg);
        return NULL;
    }
    return p;
}

static double
cents(double v)
{
    return round(v * 100.0) / 100.0;
}

static cJSON *
jnum(double v)
{
    return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull();
}

static int
print_json(const struct tg_policy *p, double tpd, double share)
{
    int ret = 1;
    char *s = NULL;
    cJSON *j = cJSON_CreateObject(), *arr = NULL;
    if (j == NULL)
        goto out;
    if (!cJSON_AddNumberToObject(j, "tokens_per_day", tpd) ||
        !cJSON_AddNumberToObject(j, "output_share", share) ||
        (arr = cJSON_AddArrayToObject(j, "models")) == NULL)
        goto out;
    for (uint32_t i = 0; i < p->nmodels; i++) {
        const struct tg_model *m = &p->models[i];
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            goto out;
        }
        double annual = tg_cost_annual(m, tpd, share);
        if (!cJSON_AddStringToObject(o, "model", m->id) ||
            !cJSON_AddStringToObject(o, "provider", p->providers[m->provider].id) ||
            !cJSON_AddItemToObject(o, "input_per_m", jnum(m->input_per_m)) ||
            !cJSON_AddItemToObject(o, "output_per_m", jnum(m->output_per_m)) ||
            !cJSON_AddItemToObject(o, "annual_usd", jnum(isnan(annual) ? annual : cents(annual))))
            goto out;
    }
    if ((s = cJSON_Print(j)) == NULL)
        goto out;
    puts(s);
    ret = 0;
out:
    if (ret != 0)
        tg_cli_error("cost", "out of memory");
    free(s);
    cJSON_Delete(j);
    return ret;
}

static void
money(char *buf, size_t n, double v)
{
    if (!isfinite(v)) {
        snprintf(buf, n, "%s", "unknown");
        return;
    }
    /* thousands separators: a table of annual dollars is read by humans */
    char raw[64];
    snprintf(raw, sizeof(raw), "%.2f", cents(v));
    size_t intlen = strcspn(raw, ".");
    size_t o = 0;
    for (size_t i = 0; raw[i] && o + 2 < n; i++) {
        if (i > 0 && i < intlen && (intlen - i) % 3 == 0)
            buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
}

static void
print_table(const struct tg_policy *p, double tpd, double share)
{
    char annual[64], in[32], outp[32];
    printf("%.0f tokens/day, %.0f%% priced as output, 365 days\n\n", tpd, share * 100.0);
    printf("%-28s %-12s %10s %10s %18s\n", "MODEL", "PROVIDER", "IN $/M", "OUT $/M", "ANNUAL USD");
    for (uint32_t i = 0; i < p->nmodels; i++) {
        const struct tg_model *m = &p->models[i];
        money(annual, sizeof(annual), tg_cost_annual(m, tpd, share));
        if (isnan(m->input_per_m))
            snprintf(in, sizeof(in), "?");
        else
            snprintf(in, sizeof(in), "%.2f", m->input_per_m);
        if (isnan(m->output_per_m))
            snprintf(outp, sizeof(outp), "?");
        else
            snprintf(outp, sizeof(outp), "%.2f", m->output_per_m);
        printf("%-28s %-12s %10s %10s %18s\n", m->id, p->providers[m->provider].id, in, outp,
               annual);
    }
}

int
tg_cmd_cost(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config",         required_argument, NULL, 'c' },
        { "tokens-per-day", required_argument, NULL, 't' },
        { "output-share",   required_argument, NULL, 's' },
        { "json",           no_argument,       NULL, 'j' },
        { "help",           no_argument,       NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *tpd_s = NULL, *share_s = NULL;
    bool json = false;
    double tpd = 0, share = DEFAULT_OUTPUT_SHARE;
    struct tg_policy *p = NULL;
    int ret = 2, c;

    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 't': tpd_s = optarg; break;
        case 's': share_s = optarg; break;
        case 'j': json = true; break;
        case 'h': usage(stdout); return 0;
        default:
            tg_cli_error("cost", "unknown or incomplete option '%s' (see --help)", argv[optind - 1]);
            return 2;
        }
    }
    if (optind < argc) {
        tg_cli_error("cost", "unexpected argument '%s' (see --help)", argv[optind]);
        return 2;
    }
    if (tpd_s == NULL) {
        tg_cli_error("cost", "--tokens-per-day is required (see --help)");
        return 2;
    }
    if (tg_cost_parse_count(tpd_s, &tpd) != TG_OK) {
        tg_cli_error("cost", "--tokens-per-day: '%s' is not a token count (e.g. 20000, 10K, 50M, 1.5B)",
                     tpd_s);
        return 2;
    }
    if (share_s != NULL) {
        char *end = NULL;
        share = strtod(share_s, &end);
        if (end == share_s || *end != '\0' || !(share >= 0.0 && share <= 1.0)) {
            tg_cli_error("cost", "--output-share: '%s' is not a number between 0 and 1", share_s);
            return 2;
        }
    }

    p = config != NULL ? tg_cli_load_policy("cost", config, false) : load_registry();
    if (p == NULL)
        return 1;
    if (json) {
        ret = print_json(p, tpd, share);
    } else {
        print_table(p, tpd, share);
        ret = 0;
    }
    tg_policy_unref(p);
    return ret;
}
