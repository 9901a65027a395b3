/* metrics.c — per-thread counters and their Prometheus rendering. */
#include "adapters/http/metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Upper bounds in seconds: the gateway's own overhead is µs, upstream calls
 * are 100 ms .. tens of seconds, so both ends get buckets. */
static const double bounds[TG_GW_HIST_N] = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5, 30,
};

void
tg_gw_metrics_init(struct tg_gw_metrics *m)
{
    memset(m, 0, sizeof(*m));
    pthread_mutex_init(&m->mu, NULL);
}

void
tg_gw_metrics_destroy(struct tg_gw_metrics *m)
{
    pthread_mutex_destroy(&m->mu);
}

void
tg_gw_metrics_code(struct tg_gw_metrics *m, int code)
{
    if (code >= 100 && code < 600)
        m->by_code[code]++;
}

void
tg_gw_metrics_decision(struct tg_gw_metrics *m, int verdict)
{
    if (verdict >= 0 && verdict < 3)
        m->decisions[verdict]++;
}

void
tg_gw_metrics_rule(struct tg_gw_metrics *m, const char *rule)
{
    uint32_t i;

    if (rule == NULL)
        return;
    for (i = 0; i < m->nrules; i++)
        if (strcmp(m->rules[i].name, rule) == 0) {
            m->rules[i].n++;
            return;
        }
    /* Rule ids are a small fixed set (plus export.<tag>); past the table
     * they are counted under "other" rather than growing without bound. */
    if (m->nrules == TG_GW_MAX_RULES) {
        rule = "other";
        for (i = 0; i < m->nrules; i++)
            if (strcmp(m->rules[i].name, rule) == 0) {
                m->rules[i].n++;
                return;
            }
        i = m->nrules - 1;
        snprintf(m->rules[i].name, sizeof(m->rules[i].name), "%s", rule);
        m->rules[i].n++;
        return;
    }
    snprintf(m->rules[m->nrules].name, sizeof(m->rules[0].name), "%s", rule);
    m->rules[m->nrules++].n = 1;
}

void
tg_gw_metrics_attempt(struct tg_gw_metrics *m, const char *model, const char *outcome)
{
    uint32_t i;

    for (i = 0; i < m->natt; i++)
        if (strcmp(m->att[i].model, model) == 0 && strcmp(m->att[i].outcome, outcome) == 0) {
            m->att[i].n++;
            return;
        }
    if (m->natt == TG_GW_MAX_ATTEMPTS)
        return;
    snprintf(m->att[m->natt].model, sizeof(m->att[0].model), "%s", model);
    snprintf(m->att[m->natt].outcome, sizeof(m->att[0].outcome), "%s", outcome);
    m->att[m->natt++].n = 1;
}

void
tg_gw_metrics_latency(struct tg_gw_metrics *m, double s)
{
    uint32_t i = 0;

    while (i < TG_GW_HIST_N && s > bounds[i])
        i++;
    m->hist[i]++;
    m->hist_count++;
    m->hist_sum += s;
}


void
tg_gw_label_escape(const char *in, char *out, size_t outlen)
{
    size_t o = 0;

    for (; in && *in && o + 3 < outlen; in++) {
        if (*in == '"' || *in == '\\') {
            out[o++] = '\\';
            out[o++] = *in;
        } else if (*in == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        } else {
            out[o++] = *in;
        }
    }
    out[o] = '\0';
}

void
tg_gw_metrics_render(struct tg_gw_metrics *const *ms, uint32_t n, struct tg_jtext *b)
{
    struct tg_gw_metrics *sum = calloc(1, sizeof(*sum));
    char l1[200], l2[64];
    uint64_t cum = 0;
    uint32_t t, i;

    if (sum == NULL) {
        b->fail = true;
        return;
    }
    for (t = 0; t < n; t++) {
        struct tg_gw_metrics *m = ms[t];
        pthread_mutex_lock(&m->mu);
        for (i = 0; i < 600; i++)
            sum->by_code[i] += m->by_code[i];
        for (i = 0; i < 3; i++)
            sum->decisions[i] += m->decisions[i];
        for (i = 0; i < m->nrules; i++) {
            uint64_t k = m->rules[i].n;
            uint32_t before = sum->nrules;
            /* add with the same table logic, then fix the count */
            tg_gw_metrics_rule(sum, m->rules[i].name);
            (void)before;
            for (uint32_t j = 0; j < sum->nrules; j++)
                if (strcmp(sum->rules[j].name, m->rules[i].name) == 0)
                    sum->rules[j].n += k - 1;
        }
        for (i = 0; i < m->natt; i++) {
            uint64_t k = m->att[i].n;
            tg_gw_metrics_attempt(sum, m->att[i].model, m->att[i].outcome);
            for (uint32_t j = 0; j < sum->natt; j++)
                if (strcmp(sum->att[j].model, m->att[i].model) == 0 &&
                    strcmp(sum->att[j].outcome, m->att[i].outcome) == 0)
                    sum->att[j].n += k - 1;
        }
        for (i = 0; i <= TG_GW_HIST_N; i++)
            sum->hist[i] += m->hist[i];
        sum->hist_count += m->hist_count;
        sum->hist_sum += m->hist_sum;
        sum->telemetry_sent += m->telemetry_sent;
        sum->telemetry_dropped += m->telemetry_dropped;
        pthread_mutex_unlock(&m->mu);
    }

    tg_jtext_printf(b, "# HELP tollgate_requests_total Requests answered, by HTTP status.\n"
                        "# TYPE tollgate_requests_total counter\n");
    for (i = 100; i < 600; i++)
        if (sum->by_code[i])
            tg_jtext_printf(b, "tollgate_requests_total{code=\"%u\"} %llu\n", i,
                             (unsigned long long)sum->by_code[i]);
    tg_jtext_printf(b, "# HELP tollgate_decisions_total Pre-flight decisions, by verdict.\n"
                        "# TYPE tollgate_decisions_total counter\n");
    tg_jtext_printf(b, "tollgate_decisions_total{decision=\"allow\"} %llu\n"
                        "tollgate_decisions_total{decision=\"redact\"} %llu\n"
                        "tollgate_decisions_total{decision=\"deny\"} %llu\n",
                     (unsigned long long)sum->decisions[0], (unsigned long long)sum->decisions[1],
                     (unsigned long long)sum->decisions[2]);
    tg_jtext_printf(b, "# HELP tollgate_rule_hits_total Reasons recorded, by policy rule id.\n"
                        "# TYPE tollgate_rule_hits_total counter\n");
    for (i = 0; i < sum->nrules; i++) {
        tg_gw_label_escape(sum->rules[i].name, l1, sizeof(l1));
        tg_jtext_printf(b, "tollgate_rule_hits_total{rule=\"%s\"} %llu\n", l1,
                         (unsigned long long)sum->rules[i].n);
    }
    tg_jtext_printf(b, "# HELP tollgate_upstream_attempts_total Upstream attempts, by model and outcome.\n"
                        "# TYPE tollgate_upstream_attempts_total counter\n");
    for (i = 0; i < sum->natt; i++) {
        tg_gw_label_escape(sum->att[i].model, l1, sizeof(l1));
        tg_gw_label_escape(sum->att[i].outcome, l2, sizeof(l2));
        tg_jtext_printf(b, "tollgate_upstream_attempts_total{model=\"%s\",outcome=\"%s\"} %llu\n",
                         l1, l2, (unsigned long long)sum->att[i].n);
    }
    tg_jtext_printf(b, "# HELP tollgate_request_duration_seconds Time from request to response.\n"
                        "# TYPE tollgate_request_duration_seconds histogram\n");
    for (i = 0; i < TG_GW_HIST_N; i++) {
        cum += sum->hist[i];
        tg_jtext_printf(b, "tollgate_request_duration_seconds_bucket{le=\"%g\"} %llu\n", bounds[i],
                         (unsigned long long)cum);
    }
    cum += sum->hist[TG_GW_HIST_N];
    tg_jtext_printf(b, "tollgate_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
                        "tollgate_request_duration_seconds_sum %.6f\n"
                        "tollgate_request_duration_seconds_count %llu\n",
                     (unsigned long long)cum, sum->hist_sum, (unsigned long long)sum->hist_count);
    tg_jtext_printf(b, "# HELP tollgate_telemetry_sent_total Telemetry events delivered.\n"
                        "# TYPE tollgate_telemetry_sent_total counter\n"
                        "tollgate_telemetry_sent_total %llu\n"
                        "# HELP tollgate_telemetry_dropped_total Telemetry events dropped (endpoint down or buffer full).\n"
                        "# TYPE tollgate_telemetry_dropped_total counter\n"
                        "tollgate_telemetry_dropped_total %llu\n",
                     (unsigned long long)sum->telemetry_sent, (unsigned long long)sum->telemetry_dropped);
    free(sum);
}
