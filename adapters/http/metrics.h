/*
 * metrics.h — the gateway's Prometheus counters.  One struct per event-loop
 * thread, written by its owner only (under its own mutex, uncontended
 * except while /metrics reads it), summed across threads on read.
 */
#ifndef TG_GW_METRICS_H
#define TG_GW_METRICS_H

#include "engine/tg.h"
#include "engine/jtext.h"

#include <pthread.h>

#define TG_GW_HIST_N        14u    /* latency buckets, see metrics.c */
#define TG_GW_MAX_RULES     128u   /* distinct rule ids counted per thread */
#define TG_GW_MAX_ATTEMPTS  256u   /* distinct (model, outcome) pairs per thread */

struct tg_gw_metrics {
    pthread_mutex_t mu;
    uint64_t by_code[600];                 /* tollgate_requests_total{code} */
    uint64_t decisions[3];                 /* allow, redact, deny */
    struct { char name[64]; uint64_t n; } rules[TG_GW_MAX_RULES];
    uint32_t nrules;
    struct { char model[96]; char outcome[16]; uint64_t n; } att[TG_GW_MAX_ATTEMPTS];
    uint32_t natt;
    uint64_t hist[TG_GW_HIST_N + 1];       /* last = +Inf */
    uint64_t hist_count;
    double   hist_sum;                     /* seconds */
    uint64_t telemetry_sent, telemetry_dropped;
};

void tg_gw_metrics_init(struct tg_gw_metrics *m);
void tg_gw_metrics_destroy(struct tg_gw_metrics *m);

/* Updates: the caller holds m->mu (one lock per finished request). */
void tg_gw_metrics_code(struct tg_gw_metrics *m, int code);
void tg_gw_metrics_decision(struct tg_gw_metrics *m, int verdict);
void tg_gw_metrics_rule(struct tg_gw_metrics *m, const char *rule);
void tg_gw_metrics_attempt(struct tg_gw_metrics *m, const char *model, const char *outcome);
void tg_gw_metrics_latency(struct tg_gw_metrics *m, double seconds);

/* A growable text buffer for rendering. */

/* Append the summed counters of ms[0..n) in Prometheus text format. */
void tg_gw_metrics_render(struct tg_gw_metrics *const *ms, uint32_t n, struct tg_jtext *b);

/* Escape a label value (", \ and newline) into out (NUL-terminated, truncated). */
void tg_gw_label_escape(const char *in, char *out, size_t outlen);

#endif /* TG_GW_METRICS_H */
