/*
 * dryrun_html.c — `dry-run --html OUT`: one self-contained HTML file (inline
 * CSS, inline SVG charts drawn here, no network, no external script) that a
 * reviewer opens in a browser.  Every string that came from a policy or the
 * capture (tenant, category, rule, model, request id) is HTML-escaped: a
 * tenant called "<script>" must print, not run.
 */
#include "adapters/cli/dryrun_int.h"
#include "engine/allow.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define TOP_N 30   /* bars per chart; the rest are summarised in one line */

static const char *const vname[3] = { "allow", "redact", "deny" };
static const char *const vcolor[3] = { "#2e7d32", "#f9a825", "#c62828" };

/* Escape for both element text and quoted attribute values. */
static void
esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default:
            if (c < 0x20 && c != '\t')
                fputs("&#xFFFD;", f);   /* control bytes: visible, inert */
            else
                fputc(c, f);
        }
    }
}

/* Stacked horizontal bars: one row per group, allow/redact/deny segments. */
static void
chart_stacked(FILE *f, const char *title, struct dr_group **g, uint32_t n)
{
    uint32_t rows = n < TOP_N ? n : TOP_N;
    uint64_t max = 1;
    const int lw = 220, bw = 480, rh = 22;
    int h = (int)rows * rh + 30;

    for (uint32_t i = 0; i < rows; i++)
        if (g[i]->c.requests > max)
            max = g[i]->c.requests;
    fprintf(f, "<figure><figcaption>");
    esc(f, title);
    fprintf(f, "</figcaption>\n<svg class=\"chart\" role=\"img\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">\n",
            lw + bw + 90, h, lw + bw + 90, h);
    for (uint32_t i = 0; i < rows; i++) {
        double x = lw;
        int y = (int)i * rh + 4;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"lbl\">", lw - 6, y + 14);
        esc(f, g[i]->key);
        fputs("</text>", f);
        for (int v = 0; v < 3; v++) {
            double w = (double)g[i]->c.v[v] / (double)max * bw;
            if (w <= 0)
                continue;
            fprintf(f, "<rect x=\"%.1f\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
                    "<title>%s: %" PRIu64 "</title></rect>", x, y, w, rh - 6, vcolor[v], vname[v],
                    g[i]->c.v[v]);
            x += w;
        }
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"val\">%" PRIu64 "</text>\n", x + 4, y + 14,
                g[i]->c.requests);
    }
    fprintf(f, "<g transform=\"translate(%d,%d)\">", lw, (int)rows * rh + 10);
    for (int v = 0; v < 3; v++)
        fprintf(f, "<rect x=\"%d\" y=\"0\" width=\"12\" height=\"12\" fill=\"%s\"/>"
                "<text x=\"%d\" y=\"11\" class=\"lbl\">%s</text>", v * 90, vcolor[v], v * 90 + 16,
                vname[v]);
    fputs("</g></svg>\n", f);
    if (n > rows)
        fprintf(f, "<p class=\"note\">%u more not shown.</p>\n", n - rows);
    fputs("</figure>\n", f);
}

struct bar {
    const char *label;
    double      a, b;       /* b < 0: single bar */
    bool        hl;         /* the routed figures, drawn apart from single models */
};

/* Horizontal money bars, optionally two per row (policy vs baseline). */
static void
chart_money(FILE *f, const char *title, const struct bar *bars, uint32_t n, bool pair,
            const char *la, const char *lb)
{
    const int lw = 220, bw = 420, rh = pair ? 30 : 22;
    double max = 0;
    int h = (int)n * rh + 30;
    char m[64];

    for (uint32_t i = 0; i < n; i++) {
        if (!isnan(bars[i].a) && bars[i].a > max)
            max = bars[i].a;
        if (pair && !isnan(bars[i].b) && bars[i].b > max)
            max = bars[i].b;
    }
    if (max <= 0)
        max = 1;
    fputs("<figure><figcaption>", f);
    esc(f, title);
    fprintf(f, "</figcaption>\n<svg class=\"chart\" role=\"img\" width=\"%d\" height=\"%d\" "
            "viewBox=\"0 0 %d %d\" xmlns=\"http://www.w3.org/2000/svg\">\n",
            lw + bw + 140, h, lw + bw + 140, h);
    for (uint32_t i = 0; i < n; i++) {
        int y = (int)i * rh + 4;
        double w = isnan(bars[i].a) ? 0 : bars[i].a / max * bw;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" class=\"lbl\">", lw - 6,
                y + (pair ? 16 : 14));
        esc(f, bars[i].label);
        fputs("</text>", f);
        dr_money(m, sizeof(m), bars[i].a);
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\">"
                "<title>%s</title></rect><text x=\"%.1f\" y=\"%d\" class=\"val\">%s</text>\n",
                lw, y, w, pair ? 11 : 16, bars[i].hl ? "#6a1b9a" : "#1565c0", m, lw + w + 4,
                y + (pair ? 10 : 13), m);
        if (pair) {
            w = isnan(bars[i].b) ? 0 : bars[i].b / max * bw;
            dr_money(m, sizeof(m), bars[i].b);
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"11\" fill=\"#90a4ae\">"
                    "<title>%s</title></rect><text x=\"%.1f\" y=\"%d\" class=\"val\">%s</text>\n",
                    lw, y + 12, w, m, lw + w + 4, y + 22, m);
        }
    }
    if (pair) {
        fprintf(f, "<g transform=\"translate(%d,%d)\"><rect width=\"12\" height=\"12\" fill=\"#1565c0\"/>"
                "<text x=\"16\" y=\"11\" class=\"lbl\">", lw, (int)n * rh + 8);
        esc(f, la);
        fputs("</text><rect x=\"140\" width=\"12\" height=\"12\" fill=\"#90a4ae\"/>"
              "<text x=\"156\" y=\"11\" class=\"lbl\">", f);
        esc(f, lb);
        fputs("</text></g>", f);
    }
    fputs("</svg></figure>\n", f);
}

static void
examples(FILE *f, const struct dr_examples *e)
{
    for (uint32_t i = 0; i < e->n; i++) {
        fputs(i ? ", " : "<br><span class=\"ex\">", f);
        esc(f, e->id[i]);
        if (i + 1 == e->n)
            fputs("</span>", f);
    }
}

static void
matrix(FILE *f, const struct dr_report *r)
{
    uint64_t max = 1;
    for (int b = 0; b < 3; b++)
        for (int c = 0; c < 3; c++)
            if (r->matrix[b][c] > max)
                max = r->matrix[b][c];
    fputs("<h2>Transitions</h2>\n<table class=\"matrix\"><tr><th>baseline &#8595; / policy &#8594;</th>", f);
    for (int c = 0; c < 3; c++)
        fprintf(f, "<th>%s</th>", vname[c]);
    fputs("</tr>\n", f);
    for (int b = 0; b < 3; b++) {
        fprintf(f, "<tr><th>%s</th>", vname[b]);
        for (int c = 0; c < 3; c++) {
            double alpha = 0.08 + 0.6 * (double)r->matrix[b][c] / (double)max;
            const char *rgb = b == c ? "120,144,156" : (c > b ? "198,40,40" : "46,125,50");
            fprintf(f, "<td style=\"background: rgba(%s,%.2f)\"><b>%" PRIu64 "</b>", rgb, alpha,
                    r->matrix[b][c]);
            if (b != c)
                examples(f, &r->matrix_ex[b][c]);
            fputs("</td>", f);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n<ul class=\"changes\">", f);
    fprintf(f, "<li>newly denied: <b>%" PRIu64 "</b>", r->newly_denied);
    examples(f, &r->ex_newly_denied);
    fprintf(f, "</li><li>newly allowed: <b>%" PRIu64 "</b>", r->newly_allowed);
    examples(f, &r->ex_newly_allowed);
    fprintf(f, "</li><li>route changed: <b>%" PRIu64 "</b>", r->route_changed);
    examples(f, &r->ex_route_changed);
    fprintf(f, "</li><li>unchanged: <b>%" PRIu64 "</b></li></ul>\n", r->unchanged);
}

static void
group_table(FILE *f, const char *title, const struct dr_table *t, bool baseline)
{
    uint32_t n;
    struct dr_group **g = dr_table_sorted(t, &n);
    char m[64];

    fputs("<h2>", f);
    esc(f, title);
    fputs("</h2>\n<table class=\"groups\"><tr><th></th><th>requests</th><th>allow</th><th>redact</th>"
          "<th>deny</th><th>cost</th>", f);
    if (baseline)
        fputs("<th>baseline cost</th>", f);
    fputs("</tr>\n", f);
    for (uint32_t i = 0; g && i < n; i++) {
        fputs("<tr><td>", f);
        esc(f, g[i]->key);
        fprintf(f, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
                "</td>", g[i]->c.requests, g[i]->c.v[0], g[i]->c.v[1], g[i]->c.v[2]);
        dr_money(m, sizeof(m), g[i]->c.cost_usd);
        fprintf(f, "<td>%s</td>", m);
        if (baseline) {
            dr_money(m, sizeof(m), g[i]->c.baseline_usd);
            fprintf(f, "<td>%s</td>", m);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n", f);
    free(g);
}

/* What each allow entry took out of the decisions, so a reviewer sees what
 * every exception costs (entity and counts, never a value). */
static void
allow_table(FILE *f, const struct dr_report *r)
{
    char src[160];
    if (r->nallow == 0)
        return;
    fputs("<h2>Allow lists</h2>\n<table class=\"groups allow\"><tr><th>entry</th><th>entity</th>"
          "<th>line</th><th>findings allowed</th><th>requests</th></tr>\n", f);
    for (uint32_t i = 0; i < r->nallow; i++) {
        const struct dr_allow *a = &r->allow[i];
        if (a->e == NULL)
            continue;
        fputs("<tr><td>", f);
        esc(f, dr_allow_source(a->e, src, sizeof(src)));
        fputs("</td><td>", f);
        esc(f, a->e->entity);
        if (a->e->file != NULL)
            fprintf(f, "</td><td>%u", a->e->line);
        else
            fputs("</td><td>built in", f);
        fprintf(f, "</td><td>%" PRIu64 "</td><td>%" PRIu64 "%s</td></tr>\n", a->suppressed,
                a->requests, a->requests == 0 ? " (unused)" : "");
    }
    fprintf(f, "</table>\n<p class=\"note\">%" PRIu64 " requests had a finding an allow list took out; "
            "without the allow lists %" PRIu64 " of them would have been denied and %" PRIu64
            " redacted.</p>\n", r->allow_requests, r->allow_changed[TG_DENY], r->allow_changed[TG_REDACT]);
}

static const char css[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:980px;"
    "color:#212121;padding:0 16px}"
    "h1{font-size:22px;margin-bottom:4px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #ddd}"
    ".meta{color:#555;font-size:13px}.meta code{font-size:12px}"
    ".cards{display:flex;gap:12px;flex-wrap:wrap;margin:16px 0}"
    ".card{border:1px solid #ddd;border-radius:6px;padding:10px 14px;min-width:120px}"
    ".card .n{font-size:22px;font-weight:600}.card.allow .n{color:#2e7d32}"
    ".card.redact .n{color:#b28704}.card.deny .n{color:#c62828}"
    "figure{margin:12px 0}figcaption{font-weight:600;margin-bottom:6px}"
    "svg.chart .lbl{font:12px system-ui,sans-serif;fill:#333}svg.chart .val{font:11px system-ui,sans-serif;fill:#555}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:4px 8px;text-align:right}"
    "td:first-child,th:first-child{text-align:left}table.matrix td{min-width:120px;vertical-align:top}"
    ".ex{font-size:11px;color:#444;font-family:ui-monospace,monospace}.note{color:#666;font-size:12px}"
    "ul.changes li{margin:4px 0}";

int
dr_report_html(const char *path, const struct dr_report *r, struct tg_err *err)
{
    FILE *f = fopen(path, "w");
    uint32_t n;
    struct dr_group **g;
    struct bar *bars = NULL;
    char m[64];
    int rc = TG_EIO;

    if (f == NULL)
        return tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
    /* The error handler comes first so that any script error, anywhere,
     * marks the page; the last script marks a complete render. */
    fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
          "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
          "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
          "<title>tollgate dry-run</title>\n"
          "<script>window.onerror=function(){document.documentElement.setAttribute('data-render','error');};</script>\n<style>", f);
    fputs(css, f);
    fputs("</style></head><body>\n<h1>tollgate dry-run</h1>\n<p class=\"meta\">", f);
    fprintf(f, "%" PRIu64 " requests replayed from <code>", r->requests);
    esc(f, r->traffic);
    fputs("</code><br>policy <code>", f);
    esc(f, r->cur.path);
    fprintf(f, "</code> (%.12s)", r->cur.policy->policy_version);
    if (r->has_baseline) {
        fputs("<br>baseline <code>", f);
        esc(f, r->base.path);
        fprintf(f, "</code> (%.12s)", r->base.policy->policy_version);
    }
    if (r->rd.malformed) {
        fprintf(f, "<br>%" PRIu64 " malformed lines skipped (lines ", r->rd.malformed);
        for (uint64_t k = 0; k < r->rd.malformed && k < TG_CAPTURE_MALFORMED_KEEP; k++)
            fprintf(f, "%s%" PRIu64, k ? ", " : "", r->rd.malformed_lines[k]);
        fputs(r->rd.malformed > TG_CAPTURE_MALFORMED_KEEP ? ", &#8230;)" : ")", f);
    }
    fputs("</p>\n<div class=\"cards\">", f);
    for (int v = 0; v < 3; v++) {
        fprintf(f, "<div class=\"card %s\"><div>%s</div><div class=\"n\" id=\"n-%s\">%" PRIu64 "</div>",
                vname[v], vname[v], vname[v], r->cur.v[v]);
        if (r->has_baseline)
            fprintf(f, "<div class=\"note\">baseline %" PRIu64 "</div>", r->base.v[v]);
        fputs("</div>", f);
    }
    dr_money(m, sizeof(m), r->cur.cost_usd);
    fprintf(f, "<div class=\"card\"><div>routed cost</div><div class=\"n\">%s</div>", m);
    if (r->has_baseline) {
        dr_money(m, sizeof(m), r->base.cost_usd);
        fprintf(f, "<div class=\"note\">baseline %s</div>", m);
    }
    fputs("</div>", f);
    dr_money(m, sizeof(m), dr_annualise(r, r->cur.cost_usd));
    fprintf(f, "<div class=\"card\"><div>annualised</div><div class=\"n\">%s</div>%s</div></div>\n",
            r->annual_factor > 0 ? m : "per capture",
            r->annual_factor > 0 ? "<div class=\"note\">scaled from the capture's span</div>" : "");

    g = dr_table_sorted(&r->by_rule, &n);
    fputs("<h2>Decisions per rule</h2>\n", f);
    if (n == 0)
        fputs("<p class=\"note\">No rule was hit.</p>\n", f);
    else if (g)
        chart_stacked(f, "requests whose decision names the rule, by final decision", g, n);
    free(g);

    g = dr_table_sorted(&r->by_category, &n);
    if (g && n) {
        chart_stacked(f, "decisions per category", g, n);
        bars = calloc(n, sizeof(*bars));
        if (bars) {
            uint32_t k = n < TOP_N ? n : TOP_N;
            for (uint32_t i = 0; i < k; i++)
                bars[i] = (struct bar){ g[i]->key, g[i]->c.cost_usd, g[i]->c.baseline_usd, false };
            fputs("<h2>Cost per category</h2>\n", f);
            chart_money(f, "estimated USD of the routed models", bars, k, r->has_baseline, "policy",
                        "baseline");
            free(bars);
            bars = NULL;
        }
    }
    free(g);

    if (r->has_baseline)
        matrix(f, r);

    fputs("<h2>Monolithic vs routed</h2>\n", f);
    bars = calloc(r->nmono + 2, sizeof(*bars));
    if (bars) {
        uint32_t k = 0;
        bars[k++] = (struct bar){ "routed (policy)", r->cur.cost_usd, -1, true };
        if (r->has_baseline)
            bars[k++] = (struct bar){ "routed (baseline)", r->base.cost_usd, -1, true };
        for (uint32_t i = 0; i < r->nmono; i++)
            if (!isnan(r->mono[i].usd_allowed))
                bars[k++] = (struct bar){ r->mono[i].model, r->mono[i].usd_allowed, -1, false };
        chart_money(f, "the requests the policy lets through, sent to one model instead "
                    "(USD for this capture, like for like with the routed cost)", bars, k, false, "", "");
        free(bars);
        bars = NULL;
    }
    fprintf(f, "<p class=\"note\">%" PRIu64 " input and %" PRIu64 " output tokens; provider usage "
            "captured for %" PRIu64 " requests, estimated for the rest. Routed cost counts allowed "
            "and redacted requests on their first route entry.</p>\n",
            r->in_tokens, r->out_tokens, r->with_usage);

    group_table(f, "By category", &r->by_category, r->has_baseline);
    group_table(f, "By tenant", &r->by_tenant, r->has_baseline);
    allow_table(f, r);

    fputs("<script>(function(){var n=document.querySelectorAll('svg.chart').length;"
          "var h=document.documentElement;if(h.getAttribute('data-render')!=='error'&&n>0){h.setAttribute('data-render','ok');}})();</script>\n"
          "</body></html>\n", f);
    rc = TG_OK;
    if (ferror(f))
        rc = tg_err_set(err, TG_EIO, "%s: write error", path);
    if (fclose(f) != 0 && rc == TG_OK)
        rc = tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
    return rc;
}
