/*
 * dryrun_int.h — `tollgate dry-run` internals shared by its files:
 * cmd_dry_run.c (arguments, replay loop, aggregation), dryrun_report.c
 * (text and JSON) and dryrun_html.c (the self-contained HTML report).
 *
 * Every aggregate is bounded: group tables hold at most DR_MAX_GROUPS keys
 * (the rest fold into "(other)") and examples are fixed-size, so memory
 * stays flat however long the capture is.
 */
#ifndef TG_DRYRUN_INT_H
#define TG_DRYRUN_INT_H

#include "adapters/capture/capture.h"
#include "engine/preflight.h"
#include "policy/policy.h"

#include <cjson/cJSON.h>
#include <stdio.h>

#define DR_MAX_GROUPS    4096u   /* distinct tenants / categories / rules kept */
#define DR_EXAMPLES      3u      /* example request ids per transition cell */
#define DR_ID_MAX        80u     /* example ids are truncated to this */
#define DR_OTHER         "(other)"
#define DR_NONE          "(none)"

struct dr_counts {
    uint64_t requests;
    uint64_t v[3];               /* indexed by enum tg_verdict */
    double   cost_usd;           /* routed, policy under test */
    double   baseline_usd;       /* routed, baseline (with --baseline) */
};

struct dr_group {
    char            *key;        /* malloc'd; NULL = empty slot */
    struct dr_counts c;
};

/* Open addressing, bounded; keys compared as strings. */
struct dr_table {
    struct dr_group *slots;
    uint32_t         cap;        /* power of two, > DR_MAX_GROUPS */
    uint32_t         n;
    bool             folded;     /* some keys went to "(other)" */
};

struct dr_examples {
    uint32_t n;
    char     id[DR_EXAMPLES][DR_ID_MAX];
};

/* One policy's side of the replay. */
struct dr_side {
    const char        *path;
    struct tg_policy  *policy;
    struct tg_pii_scratch *scratch;
    uint64_t           v[3];
    double             cost_usd;       /* routed model, first route entry */
    uint64_t           unpriced;       /* routed requests whose model has no price */
};

struct dr_model_cost {
    const char *model;                 /* points into the policy */
    double      usd;                   /* every request; NAN: the model has no price */
    double      usd_allowed;           /* only those the policy allows or redacts:
                                          the like-for-like figure next to the routed cost */
};

/* One allow-list entry of the policy under test and what it took out. */
struct dr_allow {
    const struct tg_allow_entry *e;
    uint64_t suppressed;               /* findings it allowed */
    uint64_t requests;                 /* requests with at least one of them */
};

struct dr_report {
    const char  *traffic;
    bool         has_baseline;
    struct dr_side cur, base;

    uint64_t     requests;
    uint64_t     in_tokens, out_tokens;  /* summed: usage when captured, else estimate */
    uint64_t     with_usage;

    struct dr_table by_rule, by_category, by_tenant, base_by_rule;

    /* Transitions, rows = baseline verdict, columns = policy verdict. */
    uint64_t     matrix[3][3];
    struct dr_examples matrix_ex[3][3];
    uint64_t     newly_denied, newly_allowed, route_changed, unchanged;
    struct dr_examples ex_newly_denied, ex_newly_allowed, ex_route_changed;

    struct dr_allow *allow;            /* by entry id: every entry, used or not */
    uint32_t     nallow;
    uint64_t     allow_requests;       /* requests with an allowed finding */
    uint64_t     allow_changed[3];     /* of those, verdict with the lists off (when it differs) */

    struct dr_model_cost *mono;        /* one per model of the policy's registry */
    uint32_t     nmono;

    bool         has_ts;
    int64_t      ts_min, ts_max;       /* µs */
    double       annual_factor;        /* span -> a year; 0 when unknown */

    struct tg_capture_reader_stats rd;
};

/* Tables. */
int  dr_table_init(struct dr_table *t);
void dr_table_free(struct dr_table *t);
/* Counts for key (NULL -> "(none)"); NULL only on out of memory. */
struct dr_counts *dr_table_get(struct dr_table *t, const char *key);
/* Groups sorted by requests (desc), then key; caller frees the array. */
struct dr_group **dr_table_sorted(const struct dr_table *t, uint32_t *n);

void dr_examples_add(struct dr_examples *e, const char *id);

/* "policy", "rule code_generation", "tenant acme", "role mailboxes" into b. */
const char *dr_allow_source(const struct tg_allow_entry *e, char *b, size_t n);

/* Reports. */
void   dr_report_text(FILE *f, const struct dr_report *r);
cJSON *dr_report_json(const struct dr_report *r);
int    dr_report_html(const char *path, const struct dr_report *r, struct tg_err *err);

/* Annualised USD for a capture total, or NAN when the capture has no span. */
double dr_annualise(const struct dr_report *r, double usd);

/* Format USD for reports: cents, or six decimals below a cent; "n/a" if NAN. */
void dr_money(char *b, size_t n, double v);

#endif /* TG_DRYRUN_INT_H */
