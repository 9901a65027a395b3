/* dryrun_report.c — dry-run's text report and its docs/interface.md §7 JSON. */
#include "adapters/cli/dryrun_int.h"
#include "engine/allow.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *const vname[3] = { "allow", "redact", "deny" };

/* Tenant and category names come from the capture: never let them drive
 * the terminal (escape sequences), so control bytes print as '?'. */
static void
put_safe(FILE *f, const char *s, int width)
{
    int n = 0;
    for (; s && *s; s++, n++)
        fputc((unsigned char)*s < 0x20 || *s == 0x7f ? '?' : *s, f);
    for (; n < width; n++)
        fputc(' ', f);
}

/* "$12.34", "$0.000123" below a cent (per-request costs), "n/a" when unknown. */
void
dr_money(char *b, size_t n, double v)
{
    if (isnan(v))
        snprintf(b, n, "n/a");
    else if (v != 0 && fabs(v) < 0.01)
        snprintf(b, n, "$%.6f", v);
    else
        snprintf(b, n, "$%.2f", v);
}

static void
groups_table(FILE *f, const char *title, const struct dr_table *t, bool baseline)
{
    uint32_t n;
    struct dr_group **g = dr_table_sorted(t, &n);
    char m1[64], m2[64];

    fprintf(f, "\n%s\n  %-28s %9s %9s %9s %9s %14s", title, "", "requests", "allow", "redact", "deny",
            "cost");
    if (baseline)
        fprintf(f, " %14s", "baseline cost");
    fputc('\n', f);
    for (uint32_t i = 0; g && i < n; i++) {
        fputs("  ", f);
        put_safe(f, g[i]->key, 28);
        dr_money(m1, sizeof(m1), g[i]->c.cost_usd);
        fprintf(f, " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %9" PRIu64 " %14s", g[i]->c.requests,
                g[i]->c.v[0], g[i]->c.v[1], g[i]->c.v[2], m1);
        if (baseline) {
            dr_money(m2, sizeof(m2), g[i]->c.baseline_usd);
            fprintf(f, " %14s", m2);
        }
        fputc('\n', f);
    }
    if (t->folded)
        fprintf(f, "  (more than %u distinct keys: the rest are counted under %s)\n", DR_MAX_GROUPS,
                DR_OTHER);
    free(g);
}

static void
examples_text(FILE *f, const struct dr_examples *e)
{
    if (e->n == 0)
        return;
    fputs("   e.g. ", f);
    for (uint32_t i = 0; i < e->n; i++) {
        if (i)
            fputs(", ", f);
        put_safe(f, e->id[i], 0);
    }
}

static void
span_text(FILE *f, const struct dr_report *r)
{
    double s = (double)(r->ts_max - r->ts_min) / 1e6;
    if (s >= 86400)
        fprintf(f, "%.1f days", s / 86400);
    else if (s >= 3600)
        fprintf(f, "%.1f hours", s / 3600);
    else if (s >= 60)
        fprintf(f, "%.1f minutes", s / 60);
    else
        fprintf(f, "%.1f seconds", s);
}

const char *
dr_allow_source(const struct tg_allow_entry *e, char *b, size_t n)
{
    switch (e->source) {
    case TG_ALLOW_SRC_POLICY: snprintf(b, n, "policy"); break;
    case TG_ALLOW_SRC_RULE:   snprintf(b, n, "rule %s", e->owner ? e->owner : "?"); break;
    case TG_ALLOW_SRC_TENANT: snprintf(b, n, "tenant %s", e->owner ? e->owner : "?"); break;
    case TG_ALLOW_SRC_ROLE:   snprintf(b, n, "role mailboxes"); break;
    case TG_ALLOW_SRC_SPECIAL_IP: snprintf(b, n, "special-purpose IPs"); break;
    }
    return b;
}

static const char *const source_key[] = { "policy", "rule", "tenant", "role_addresses", "special_ips" };

/* What each allow entry took out: the price of every exception. */
static void
allow_text(FILE *f, const struct dr_report *r)
{
    char src[160];
    if (r->nallow == 0)
        return;
    fprintf(f, "\nallow lists (findings each entry took out of the decision; values never shown)\n"
               "  %-30s %-16s %-24s %10s %9s\n", "entry", "entity", "where", "findings", "requests");
    for (uint32_t i = 0; i < r->nallow; i++) {
        const struct dr_allow *a = &r->allow[i];
        char at[64];
        if (a->e == NULL)
            continue;
        if (a->e->file != NULL)
            snprintf(at, sizeof(at), "line %u", a->e->line);
        else
            snprintf(at, sizeof(at), "built in");
        fputs("  ", f);
        put_safe(f, dr_allow_source(a->e, src, sizeof(src)), 30);
        fputc(' ', f);
        put_safe(f, a->e->entity, 16);
        fprintf(f, " %-24s %10" PRIu64 " %9" PRIu64 "%s\n", at, a->suppressed, a->requests,
                a->requests == 0 ? "   (unused)" : "");
    }
    fprintf(f, "  %" PRIu64 " requests had an allowed finding; without the allow lists %" PRIu64
               " of them would be denied and %" PRIu64 " redacted instead\n",
            r->allow_requests, r->allow_changed[TG_DENY], r->allow_changed[TG_REDACT]);
}

void
dr_report_text(FILE *f, const struct dr_report *r)
{
    char m1[64], m2[64];
    uint32_t n;
    struct dr_group **g;

    fprintf(f, "tollgate dry-run: %" PRIu64 " requests replayed from ", r->requests);
    put_safe(f, r->traffic, 0);
    if (r->rd.malformed)
        fprintf(f, " (%" PRIu64 " malformed lines skipped)", r->rd.malformed);
    fprintf(f, "\n  policy    %s  (policy_version %.12s)\n", r->cur.path, r->cur.policy->policy_version);
    if (r->has_baseline)
        fprintf(f, "  baseline  %s  (policy_version %.12s)\n", r->base.path,
                r->base.policy->policy_version);

    fprintf(f, "\ndecisions %18s", "policy");
    if (r->has_baseline)
        fprintf(f, " %9s %9s", "baseline", "change");
    fputc('\n', f);
    for (int v = 0; v < 3; v++) {
        fprintf(f, "  %-14s %11" PRIu64, vname[v], r->cur.v[v]);
        if (r->has_baseline)
            fprintf(f, " %9" PRIu64 " %+9" PRId64, r->base.v[v],
                    (int64_t)r->cur.v[v] - (int64_t)r->base.v[v]);
        fputc('\n', f);
    }

    fprintf(f, "\nhits per rule (requests whose decision names the rule)\n");
    g = dr_table_sorted(&r->by_rule, &n);
    if (n == 0)
        fputs("  (none)\n", f);
    for (uint32_t i = 0; g && i < n; i++) {
        fputs("  ", f);
        put_safe(f, g[i]->key, 22);
        fprintf(f, " %9" PRIu64 "   (deny %" PRIu64 ", redact %" PRIu64 ", allow %" PRIu64 ")", g[i]->c.requests,
                g[i]->c.v[2], g[i]->c.v[1], g[i]->c.v[0]);
        if (r->has_baseline) {
            const struct dr_counts *b = NULL;
            for (uint32_t k = 0; k < r->base_by_rule.cap; k++)
                if (r->base_by_rule.slots[k].key && strcmp(r->base_by_rule.slots[k].key, g[i]->key) == 0)
                    b = &r->base_by_rule.slots[k].c;
            fprintf(f, "   baseline %" PRIu64, b ? b->requests : 0);
        }
        fputc('\n', f);
    }
    free(g);

    groups_table(f, "by category", &r->by_category, r->has_baseline);
    groups_table(f, "by tenant", &r->by_tenant, r->has_baseline);
    allow_text(f, r);

    if (r->has_baseline) {
        fprintf(f, "\ntransitions (rows: baseline, columns: policy)\n  %-12s", "");
        for (int c = 0; c < 3; c++)
            fprintf(f, " %10s", vname[c]);
        fputc('\n', f);
        for (int b = 0; b < 3; b++) {
            fprintf(f, "  %-12s", vname[b]);
            for (int c = 0; c < 3; c++)
                fprintf(f, " %10" PRIu64, r->matrix[b][c]);
            fputc('\n', f);
        }
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 3; c++) {
                if (b == c || r->matrix[b][c] == 0)
                    continue;
                fprintf(f, "  %s -> %s: %" PRIu64, vname[b], vname[c], r->matrix[b][c]);
                examples_text(f, &r->matrix_ex[b][c]);
                fputc('\n', f);
            }
        fprintf(f, "  newly denied:  %" PRIu64, r->newly_denied);
        examples_text(f, &r->ex_newly_denied);
        fprintf(f, "\n  newly allowed: %" PRIu64, r->newly_allowed);
        examples_text(f, &r->ex_newly_allowed);
        fprintf(f, "\n  route changed: %" PRIu64, r->route_changed);
        examples_text(f, &r->ex_route_changed);
        fprintf(f, "\n  unchanged:     %" PRIu64 "\n", r->unchanged);
    }

    fprintf(f, "\ncost (routed model = first route entry; %" PRIu64 " input + %" PRIu64
            " output tokens, usage captured for %" PRIu64 " of %" PRIu64 " requests, estimated for the rest)\n",
            r->in_tokens, r->out_tokens, r->with_usage, r->requests);
    dr_money(m1, sizeof(m1), r->cur.cost_usd);
    dr_money(m2, sizeof(m2), dr_annualise(r, r->cur.cost_usd));
    fprintf(f, "  %-28s %14s", "policy", m1);
    if (r->annual_factor > 0)
        fprintf(f, "   annualised %s", m2);
    fputc('\n', f);
    if (r->has_baseline) {
        dr_money(m1, sizeof(m1), r->base.cost_usd);
        dr_money(m2, sizeof(m2), dr_annualise(r, r->base.cost_usd));
        fprintf(f, "  %-28s %14s", "baseline", m1);
        if (r->annual_factor > 0)
            fprintf(f, "   annualised %s", m2);
        fputc('\n', f);
    }
    if (r->annual_factor > 0) {
        fputs("  (annualised: scaled from the capture's time span of ", f);
        span_text(f, r);
        fputs(" to 365 days)\n", f);
    } else {
        fputs("  (per capture: no time span in the traffic to annualise from)\n", f);
    }
    if (r->cur.unpriced)
        fprintf(f, "  (%" PRIu64 " routed requests went to a model without a price: not counted)\n",
                r->cur.unpriced);
    fprintf(f, "\nthe same traffic sent monolithically to one model\n  %-28s %14s %14s %16s %12s\n", "",
            "all requests", "annualised", "allowed only", "vs routed");
    for (uint32_t m = 0; m < r->nmono; m++) {
        char m3[64];
        dr_money(m1, sizeof(m1), r->mono[m].usd);
        dr_money(m2, sizeof(m2), dr_annualise(r, r->mono[m].usd));
        dr_money(m3, sizeof(m3), r->mono[m].usd_allowed);
        fprintf(f, "  %-28s %14s %14s %16s", r->mono[m].model, m1, r->annual_factor > 0 ? m2 : "-", m3);
        if (!isnan(r->mono[m].usd_allowed) && r->cur.cost_usd > 0)
            fprintf(f, " %11.1fx", r->mono[m].usd_allowed / r->cur.cost_usd);
        fputc('\n', f);
    }
    dr_money(m1, sizeof(m1), r->cur.cost_usd);
    dr_money(m2, sizeof(m2), dr_annualise(r, r->cur.cost_usd));
    fprintf(f, "  %-28s %14s %14s %16s %11.1fx\n", "routed by the policy", "-",
            r->annual_factor > 0 ? m2 : "-", m1, 1.0);
    fprintf(f, "  (all requests: the %" PRIu64 " captured requests; allowed only: the %" PRIu64
            " the policy allows or redacts, like for like with the routed cost)\n",
            r->requests, r->cur.v[TG_ALLOW] + r->cur.v[TG_REDACT]);

    if (r->rd.malformed) {
        fprintf(f, "\nmalformed lines: %" PRIu64 " skipped (lines ", r->rd.malformed);
        for (uint64_t k = 0; k < r->rd.malformed && k < TG_CAPTURE_MALFORMED_KEEP; k++)
            fprintf(f, "%s%" PRIu64, k ? ", " : "", r->rd.malformed_lines[k]);
        fprintf(f, "%s); first: %s\n", r->rd.malformed > TG_CAPTURE_MALFORMED_KEEP ? ", ..." : "",
                r->rd.first_reason);
    }
}

/* ---- JSON --------------------------------------------------------------- */

static cJSON *
num(double v)
{
    return isnan(v) || isinf(v) ? cJSON_CreateNull() : cJSON_CreateNumber(v);
}

/* USD figures rounded to 1e-9: enough for per-token prices, and stable
 * across platforms' last-digit differences. */
static double
round9(double v)
{
    return isnan(v) ? v : round(v * 1e9) / 1e9;
}

static cJSON *
groups_json(const struct dr_table *t, bool baseline)
{
    cJSON *o = cJSON_CreateObject();
    uint32_t n;
    struct dr_group **g = dr_table_sorted(t, &n);

    for (uint32_t i = 0; o && g && i < n; i++) {
        cJSON *e = cJSON_AddObjectToObject(o, g[i]->key);
        if (e == NULL)
            continue;
        cJSON_AddNumberToObject(e, "requests", (double)g[i]->c.requests);
        for (int v = 0; v < 3; v++)
            cJSON_AddNumberToObject(e, vname[v], (double)g[i]->c.v[v]);
        cJSON_AddItemToObject(e, "cost_usd", num(round9(g[i]->c.cost_usd)));
        if (baseline)
            cJSON_AddItemToObject(e, "baseline_usd", num(round9(g[i]->c.baseline_usd)));
    }
    free(g);
    return o;
}

static cJSON *
examples_json(const struct dr_examples *e)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < e->n; i++)
        cJSON_AddItemToArray(a, cJSON_CreateString(e->id[i]));
    return a;
}

cJSON *
dr_report_json(const struct dr_report *r)
{
    cJSON *o = cJSON_CreateObject(), *d, *rules, *cost, *mono, *mal;
    uint32_t n;
    struct dr_group **g;

    if (o == NULL)
        return NULL;
    cJSON_AddNumberToObject(o, "requests", (double)r->requests);
    d = cJSON_AddObjectToObject(o, "decisions");
    for (int v = 0; d && v < 3; v++)
        cJSON_AddNumberToObject(d, vname[v], (double)r->cur.v[v]);

    rules = cJSON_AddObjectToObject(o, "by_rule");
    g = dr_table_sorted(&r->by_rule, &n);
    for (uint32_t i = 0; rules && g && i < n; i++)
        cJSON_AddNumberToObject(rules, g[i]->key, (double)g[i]->c.requests);
    free(g);
    cJSON_AddItemToObject(o, "by_category", groups_json(&r->by_category, r->has_baseline));
    cJSON_AddItemToObject(o, "by_tenant", groups_json(&r->by_tenant, r->has_baseline));

    if (r->has_baseline) {
        cJSON *ch = cJSON_AddObjectToObject(o, "changes"), *ex, *mx, *bd;
        if (ch) {
            cJSON_AddNumberToObject(ch, "newly_denied", (double)r->newly_denied);
            cJSON_AddNumberToObject(ch, "newly_allowed", (double)r->newly_allowed);
            cJSON_AddNumberToObject(ch, "route_changed", (double)r->route_changed);
            cJSON_AddNumberToObject(ch, "unchanged", (double)r->unchanged);
            ex = cJSON_AddObjectToObject(ch, "examples");
            if (ex) {
                cJSON_AddItemToObject(ex, "newly_denied", examples_json(&r->ex_newly_denied));
                cJSON_AddItemToObject(ex, "newly_allowed", examples_json(&r->ex_newly_allowed));
                cJSON_AddItemToObject(ex, "route_changed", examples_json(&r->ex_route_changed));
                for (int b = 0; b < 3; b++)
                    for (int c = 0; c < 3; c++) {
                        char k[32];
                        if (b == c || r->matrix_ex[b][c].n == 0)
                            continue;
                        snprintf(k, sizeof(k), "%s->%s", vname[b], vname[c]);
                        cJSON_AddItemToObject(ex, k, examples_json(&r->matrix_ex[b][c]));
                    }
            }
            /* matrix[baseline][policy] */
            mx = cJSON_AddObjectToObject(ch, "matrix");
            for (int b = 0; mx && b < 3; b++) {
                cJSON *row = cJSON_AddObjectToObject(mx, vname[b]);
                for (int c = 0; row && c < 3; c++)
                    cJSON_AddNumberToObject(row, vname[c], (double)r->matrix[b][c]);
            }
            bd = cJSON_AddObjectToObject(ch, "baseline_decisions");
            for (int v = 0; bd && v < 3; v++)
                cJSON_AddNumberToObject(bd, vname[v], (double)r->base.v[v]);
        }
    }

    cost = cJSON_AddObjectToObject(o, "cost");
    if (cost) {
        cJSON_AddItemToObject(cost, "estimated_usd", num(round9(r->cur.cost_usd)));
        if (r->has_baseline) {
            cJSON_AddItemToObject(cost, "baseline_usd", num(round9(r->base.cost_usd)));
            cJSON_AddItemToObject(cost, "baseline_annualised_usd",
                                  num(round9(dr_annualise(r, r->base.cost_usd))));
        }
        cJSON_AddItemToObject(cost, "annualised_usd", num(round9(dr_annualise(r, r->cur.cost_usd))));
        cJSON_AddItemToObject(cost, "span_seconds",
                              r->has_ts ? cJSON_CreateNumber((double)(r->ts_max - r->ts_min) / 1e6)
                                        : cJSON_CreateNull());
        cJSON_AddNumberToObject(cost, "input_tokens", (double)r->in_tokens);
        cJSON_AddNumberToObject(cost, "output_tokens", (double)r->out_tokens);
        cJSON_AddNumberToObject(cost, "requests_with_usage", (double)r->with_usage);
        mono = cJSON_AddArrayToObject(cost, "monolithic");
        for (uint32_t m = 0; mono && m < r->nmono; m++) {
            cJSON *e = cJSON_CreateObject();
            if (e == NULL)
                break;
            cJSON_AddStringToObject(e, "model", r->mono[m].model);
            cJSON_AddItemToObject(e, "usd", num(round9(r->mono[m].usd)));
            cJSON_AddItemToObject(e, "annualised_usd", num(round9(dr_annualise(r, r->mono[m].usd))));
            cJSON_AddItemToObject(e, "allowed_usd", num(round9(r->mono[m].usd_allowed)));
            cJSON_AddItemToArray(mono, e);
        }
    }
    /* allow lists: per entry, entity and counts only (never values) */
    cJSON *al = cJSON_AddArrayToObject(o, "allow_list");
    for (uint32_t i = 0; al && i < r->nallow; i++) {
        const struct dr_allow *a = &r->allow[i];
        cJSON *e;
        if (a->e == NULL || (e = cJSON_CreateObject()) == NULL)
            continue;
        cJSON_AddStringToObject(e, "entity", a->e->entity);
        cJSON_AddStringToObject(e, "source", source_key[a->e->source]);
        cJSON_AddItemToObject(e, "owner", a->e->owner ? cJSON_CreateString(a->e->owner) : cJSON_CreateNull());
        cJSON_AddItemToObject(e, "line", a->e->file ? cJSON_CreateNumber(a->e->line) : cJSON_CreateNull());
        cJSON_AddNumberToObject(e, "values", a->e->nvalues);
        cJSON_AddNumberToObject(e, "patterns", a->e->npatterns);
        cJSON_AddNumberToObject(e, "suppressed", (double)a->suppressed);
        cJSON_AddNumberToObject(e, "requests", (double)a->requests);
        cJSON_AddItemToArray(al, e);
    }
    cJSON *ae = cJSON_AddObjectToObject(o, "allow_list_effect");
    if (ae) {
        cJSON_AddNumberToObject(ae, "requests", (double)r->allow_requests);
        cJSON_AddNumberToObject(ae, "denied_without", (double)r->allow_changed[TG_DENY]);
        cJSON_AddNumberToObject(ae, "redacted_without", (double)r->allow_changed[TG_REDACT]);
    }
    cJSON_AddNumberToObject(o, "malformed", (double)r->rd.malformed);
    mal = cJSON_AddArrayToObject(o, "malformed_lines");
    for (uint64_t k = 0; mal && k < r->rd.malformed && k < TG_CAPTURE_MALFORMED_KEEP; k++)
        cJSON_AddItemToArray(mal, cJSON_CreateNumber((double)r->rd.malformed_lines[k]));
    return o;
}
