/*
 * cmd_dry_run.c — `tollgate dry-run`: replay captured traffic against a
 * policy (and a baseline) through tg_preflight_decide(), the function serve
 * and explain call, and report what changes and what it costs (docs/interface.md §7).
 *
 * Streaming: one request in memory at a time, one arena reset per request,
 * bounded aggregate tables; memory is flat for any capture size.
 */
#include "adapters/cli/cli.h"
#include "adapters/cli/dryrun_int.h"
#include "engine/context.h"
#include "engine/cost.h"
#include "engine/limits.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CMD "dry-run"
#define MAX_FAIL_ON 16

/* ---- bounded string-keyed tables -------------------------------------- */

static uint32_t
hash_str(const char *s)
{
    uint32_t h = 2166136261u;   /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

int
dr_table_init(struct dr_table *t)
{
    memset(t, 0, sizeof(*t));
    t->cap = 8192;   /* > 2 * DR_MAX_GROUPS: probes stay short */
    t->slots = calloc(t->cap, sizeof(*t->slots));
    return t->slots ? TG_OK : TG_ENOMEM;
}

void
dr_table_free(struct dr_table *t)
{
    for (uint32_t i = 0; t->slots && i < t->cap; i++)
        free(t->slots[i].key);
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

struct dr_counts *
dr_table_get(struct dr_table *t, const char *key)
{
    uint32_t i;

    if (key == NULL)
        key = DR_NONE;
    for (int pass = 0; pass < 2; pass++) {
        i = hash_str(key) & (t->cap - 1);
        for (;;) {
            struct dr_group *g = &t->slots[i];
            if (g->key == NULL)
                break;
            if (strcmp(g->key, key) == 0)
                return &g->c;
            i = (i + 1) & (t->cap - 1);
        }
        /* Not present: add it, or fold into "(other)" once the table is full
         * (the one slot kept free for it is the reason for '+ 1'). */
        if (t->n + 1 < DR_MAX_GROUPS || strcmp(key, DR_OTHER) == 0) {
            struct dr_group *g = &t->slots[i];
            g->key = strdup(key);
            if (g->key == NULL)
                return NULL;
            t->n++;
            return &g->c;
        }
        t->folded = true;
        key = DR_OTHER;
    }
    return NULL;
}

static int
cmp_group(const void *a, const void *b)
{
    const struct dr_group *x = *(const struct dr_group *const *)a;
    const struct dr_group *y = *(const struct dr_group *const *)b;
    if (x->c.requests != y->c.requests)
        return x->c.requests > y->c.requests ? -1 : 1;
    return strcmp(x->key, y->key);
}

struct dr_group **
dr_table_sorted(const struct dr_table *t, uint32_t *n)
{
    struct dr_group **v = calloc(t->n ? t->n : 1, sizeof(*v));
    uint32_t k = 0;
    if (v == NULL) {
        *n = 0;
        return NULL;
    }
    for (uint32_t i = 0; i < t->cap; i++)
        if (t->slots[i].key != NULL)
            v[k++] = &t->slots[i];
    qsort(v, k, sizeof(*v), cmp_group);
    *n = k;
    return v;
}

void
dr_examples_add(struct dr_examples *e, const char *id)
{
    if (e->n >= DR_EXAMPLES || id == NULL)
        return;
    snprintf(e->id[e->n], DR_ID_MAX, "%s", id);
    e->n++;
}

double
dr_annualise(const struct dr_report *r, double usd)
{
    if (r->annual_factor <= 0)
        return NAN;
    return usd * r->annual_factor;
}

/* ---- arguments ---------------------------------------------------------- */

enum fo_key { FO_NEWLY_DENIED = 0, FO_NEWLY_ALLOWED, FO_ROUTE_CHANGED, FO_DENY };
static const char *const fo_names[] = { "newly_denied", "newly_allowed", "route_changed", "deny" };

struct fail_on {
    enum fo_key key;
    bool        ge;       /* >= instead of > */
    uint64_t    n;
    const char *text;
};

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: tollgate dry-run --config CONFIG --traffic FILE [--baseline CONFIG]\n"
        "                        [--json] [--html OUT] [--decisions OUT] [--fail-on EXPR]...\n"
        "                        [--quiet]\n"
        "\n"
        "Replay captured traffic (JSON Lines: tollgate capture records and OpenAI Batch\n"
        "API input lines, mixed) against CONFIG with the same decision code as serve,\n"
        "and report decisions, rule hits, per-category and per-tenant counts, cost of the\n"
        "routed models (annualised over the capture's time span) and the cost of sending\n"
        "everything to each single model.  With --baseline, also the transitions between\n"
        "the baseline's decisions and CONFIG's.\n"
        "\n"
        "  --config CONFIG     the policy under test\n"
        "  --traffic FILE      captured traffic ('-' = stdin)\n"
        "  --baseline CONFIG   the policy in force, to diff against\n"
        "  --json              print the docs/interface.md section 7 JSON on stdout instead of text\n"
        "  --html OUT          also write a self-contained HTML report to OUT\n"
        "  --decisions OUT     also write one JSON line per request to OUT: id, line, tenant,\n"
        "                      category, decision, route, rules, cost_usd (and the baseline's)\n"
        "  --fail-on EXPR      exit 1 when EXPR holds; EXPR is KEY>N or KEY>=N with KEY one of\n"
        "                      newly_denied, newly_allowed, route_changed (need --baseline), deny.\n"
        "                      Repeatable.\n"
        "  --quiet             no progress bar\n"
        "\n"
        "exit: 0 replayed, 1 a --fail-on threshold was exceeded, 2 usage, I/O or config error\n");
}

static int
parse_fail_on(const char *s, struct fail_on *fo)
{
    const char *op = strchr(s, '>');
    size_t klen;
    char *end;
    unsigned long long n;

    if (op == NULL)
        return TG_EINVAL;
    klen = (size_t)(op - s);
    fo->text = s;
    fo->ge = op[1] == '=';
    op += fo->ge ? 2 : 1;
    for (size_t k = 0; k < TG_ARRAY_LEN(fo_names); k++) {
        if (strlen(fo_names[k]) == klen && strncmp(s, fo_names[k], klen) == 0) {
            if (*op < '0' || *op > '9')
                return TG_EINVAL;
            errno = 0;
            n = strtoull(op, &end, 10);
            if (errno != 0 || *end != '\0')
                return TG_EINVAL;
            fo->key = (enum fo_key)k;
            fo->n = n;
            return TG_OK;
        }
    }
    return TG_EINVAL;
}

/* ---- progress ----------------------------------------------------------- */

struct progress {
    bool     on;
    double   last;
    double   start;
};

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void
progress_draw(struct progress *p, const struct tg_capture_reader *rd, bool final)
{
    struct tg_capture_reader_stats st;
    double t = now_s();
    char bar[41];

    if (!p->on || (!final && t - p->last < 0.1))
        return;
    p->last = t;
    tg_capture_reader_stats(rd, &st);
    if (st.file_size > 0) {
        double frac = (double)st.bytes / (double)st.file_size;
        int fill;
        if (frac > 1)
            frac = 1;
        fill = (int)(frac * 40);
        memset(bar, '#', (size_t)fill);
        memset(bar + fill, '.', (size_t)(40 - fill));
        bar[40] = '\0';
        fprintf(stderr, "\r[%s] %5.1f%% %" PRIu64 " requests, %.0f/s", bar, frac * 100,
                st.records, st.records / (t - p->start + 1e-9));
    } else {
        fprintf(stderr, "\r%" PRIu64 " requests, %.0f/s", st.records,
                st.records / (t - p->start + 1e-9));
    }
    if (final)
        fputs("\n", stderr);
    fflush(stderr);
}

/* ---- replay ------------------------------------------------------------- */

static bool
same_route(const struct tg_policy *pa, const struct tg_decision *a,
           const struct tg_policy *pb, const struct tg_decision *b)
{
    if (a->nroute != b->nroute)
        return false;
    for (uint32_t i = 0; i < a->nroute; i++) {
        if (a->route[i] >= pa->nmodels || b->route[i] >= pb->nmodels)
            return false;
        if (strcmp(pa->models[a->route[i]].id, pb->models[b->route[i]].id) != 0)
            return false;
    }
    return true;
}

/* The decision for one item, through the one engine path. */
static int
decide(struct dr_side *s, struct tg_capture_item *it, struct tg_arena *a,
       struct tg_decision *d, struct tg_err *err)
{
    if (it->request_ok) {
        /* Context per policy: aliases and default categories are the
         * policy's, so baseline and candidate may resolve differently. */
        struct tg_context_in cin = { it->tenant, it->category, it->feature, NULL };
        int rc = tg_context_resolve(s->policy, &cin, &it->req, a, NULL, err);
        if (rc != TG_OK)
            return rc;
        return tg_preflight_decide(s->policy, &it->req, NULL, s->scratch, a, d, err);
    }
    /* A line in capture form whose body is not a chat request: serve answers
     * such a body with a request.malformed deny, so the replay does too. */
    return tg_preflight_malformed(s->policy, it->tenant, it->feature, it->category,
                                  it->request_error, a, d);
}

/* Every allow entry of the policy, by id, so that unused ones show too
 * (an exception that never fires is worth removing). */
static int
allow_init(struct dr_report *r)
{
    const struct tg_policy *p = r->cur.policy;
    r->nallow = p->nallow;
    r->allow = calloc(p->nallow ? p->nallow : 1, sizeof(*r->allow));
    if (r->allow == NULL)
        return TG_ENOMEM;
#define PUT(list, n)                                                   \
    for (uint32_t k_ = 0; k_ < (n); k_++)                              \
        if ((list)[k_].id < r->nallow)                                 \
            r->allow[(list)[k_].id].e = &(list)[k_]
    PUT(p->pii_allow, p->npii_allow);
    for (uint32_t i = 0; i < p->nrules; i++)
        PUT(p->rules[i].pii_allow, p->rules[i].npii_allow);
    for (uint32_t i = 0; i < p->ntenants; i++)
        PUT(p->tenants[i].pii_allow, p->tenants[i].npii_allow);
    if (p->role_allow != NULL && p->role_allow->id < r->nallow)
        r->allow[p->role_allow->id].e = p->role_allow;
    if (p->special_ip_allow != NULL && p->special_ip_allow->id < r->nallow)
        r->allow[p->special_ip_allow->id].e = p->special_ip_allow;
#undef PUT
    return TG_OK;
}

/* Count what each entry allowed, and decide the request again with the
 * lists off: a verdict that differs is what the exceptions changed. */
static int
allow_account(struct dr_report *r, struct tg_capture_item *it, struct tg_arena *a,
              const struct tg_decision *d, struct tg_err *err)
{
    struct tg_decision without;
    int rc;

    if (d->nallow_hits == 0)
        return TG_OK;
    for (uint32_t i = 0; i < d->nallow_hits; i++) {
        uint32_t id = d->allow_hits[i].entry->id;
        if (id < r->nallow) {
            r->allow[id].suppressed += d->allow_hits[i].count;
            r->allow[id].requests++;
        }
    }
    r->allow_requests++;
    it->req.allow_lists_off = true;
    rc = decide(&r->cur, it, a, &without, err);
    it->req.allow_lists_off = false;
    if (rc == TG_OK && without.verdict != d->verdict)
        r->allow_changed[without.verdict]++;
    return rc;
}

/* Tokens for cost: captured usage when present, else the engine's estimate. */
static void
tokens_for(const struct dr_side *s, const struct tg_capture_item *it, const struct tg_decision *d,
           uint64_t *in, uint64_t *out)
{
    uint64_t ei = d->est_input_tokens, eo = d->est_output_tokens;

    /* A deny that stopped before estimating (malformed, unknown tenant) still
     * has tokens for the monolithic comparison: estimate the same way. */
    if (ei == 0 && it->request_ok)
        ei = tg_request_estimate_tokens(&it->req);
    if (eo == 0 && it->request_ok)
        eo = it->req.max_tokens > 0 ? (uint64_t)it->req.max_tokens
                                    : s->policy->default_output_tokens;
    *in = it->prompt_tokens >= 0 ? (uint64_t)it->prompt_tokens : ei;
    *out = it->completion_tokens >= 0 ? (uint64_t)it->completion_tokens : eo;
}

/* Count the distinct rule ids a decision names — decision-level reasons and
 * the reasons that excluded candidates — once each in t. */
static int
for_each_rule(const struct tg_decision *d, struct dr_table *t)
{
    const char *seen[64];
    uint32_t nseen = 0;

#define VISIT(rid)                                                            \
    do {                                                                      \
        const char *r_ = (rid);                                               \
        bool dup_ = false;                                                    \
        if (r_ == NULL)                                                       \
            break;                                                            \
        for (uint32_t k_ = 0; k_ < nseen; k_++)                               \
            if (strcmp(seen[k_], r_) == 0) {                                  \
                dup_ = true;                                                  \
                break;                                                        \
            }                                                                 \
        if (dup_)                                                             \
            break;                                                            \
        if (nseen < TG_ARRAY_LEN(seen))                                       \
            seen[nseen++] = r_;                                               \
        struct dr_counts *c_ = dr_table_get(t, r_);                           \
        if (c_ == NULL)                                                       \
            return TG_ENOMEM;                                                 \
        c_->requests++;                                                       \
        c_->v[d->verdict]++;                                                  \
    } while (0)

    for (uint32_t i = 0; i < d->nreasons; i++)
        VISIT(d->reasons[i].rule);
    for (uint32_t c = 0; c < d->ncands; c++)
        for (uint32_t i = 0; i < d->cands[c].nreasons; i++)
            VISIT(d->cands[c].reasons[i].rule);
#undef VISIT
    return TG_OK;
}

static double
routed_cost(struct dr_side *s, const struct tg_decision *d, uint64_t in, uint64_t out)
{
    double usd;
    if (d->verdict == TG_DENY || d->nroute == 0 || d->route[0] >= s->policy->nmodels)
        return 0.0;
    usd = tg_cost_usd(&s->policy->models[d->route[0]], in, out);
    if (isnan(usd)) {
        s->unpriced++;
        return 0.0;
    }
    return usd;
}

static int
account(struct dr_report *r, struct tg_capture_item *it, const struct tg_decision *d,
        const struct tg_decision *bd)
{
    uint64_t in, out;
    double usd, busd = 0;
    struct dr_counts *cc, *tc;
    int rc;

    r->requests++;
    tokens_for(&r->cur, it, d, &in, &out);
    r->in_tokens += in;
    r->out_tokens += out;
    if (it->prompt_tokens >= 0 || it->completion_tokens >= 0)
        r->with_usage++;
    if (it->has_ts) {
        if (!r->has_ts || it->ts_us < r->ts_min)
            r->ts_min = it->ts_us;
        if (!r->has_ts || it->ts_us > r->ts_max)
            r->ts_max = it->ts_us;
        r->has_ts = true;
    }

    r->cur.v[d->verdict]++;
    usd = routed_cost(&r->cur, d, in, out);
    r->cur.cost_usd += usd;
    for (uint32_t m = 0; m < r->nmono; m++) {
        if (!isnan(r->mono[m].usd)) {
            double v = tg_cost_usd(&r->cur.policy->models[m], in, out);
            r->mono[m].usd = isnan(v) ? NAN : r->mono[m].usd + v;
            if (d->verdict != TG_DENY)
                r->mono[m].usd_allowed = isnan(v) ? NAN : r->mono[m].usd_allowed + v;
        }
    }
    if ((rc = for_each_rule(d, &r->by_rule)) != TG_OK)
        return rc;

    if (bd != NULL) {
        uint64_t bin, bout;
        tokens_for(&r->base, it, bd, &bin, &bout);
        busd = routed_cost(&r->base, bd, bin, bout);
        r->base.cost_usd += busd;
        r->base.v[bd->verdict]++;
        if ((rc = for_each_rule(bd, &r->base_by_rule)) != TG_OK)
            return rc;
        r->matrix[bd->verdict][d->verdict]++;
        dr_examples_add(&r->matrix_ex[bd->verdict][d->verdict], it->id);
        if (bd->verdict != TG_DENY && d->verdict == TG_DENY) {
            r->newly_denied++;
            dr_examples_add(&r->ex_newly_denied, it->id);
        } else if (bd->verdict == TG_DENY && d->verdict != TG_DENY) {
            r->newly_allowed++;
            dr_examples_add(&r->ex_newly_allowed, it->id);
        } else if (bd->verdict != TG_DENY &&
                   !same_route(r->base.policy, bd, r->cur.policy, d)) {
            r->route_changed++;
            dr_examples_add(&r->ex_route_changed, it->id);
        } else if (bd->verdict == d->verdict) {
            r->unchanged++;
        }
    }

    cc = dr_table_get(&r->by_category, it->category);
    tc = dr_table_get(&r->by_tenant, it->tenant);
    if (cc == NULL || tc == NULL)
        return TG_ENOMEM;
    cc->requests++;
    cc->v[d->verdict]++;
    cc->cost_usd += usd;
    cc->baseline_usd += busd;
    tc->requests++;
    tc->v[d->verdict]++;
    tc->cost_usd += usd;
    tc->baseline_usd += busd;
    return TG_OK;
}

static int
side_open(struct dr_side *s, const char *path)
{
    s->path = path;
    s->policy = tg_cli_load_policy(CMD, path, false);
    if (s->policy == NULL)
        return TG_EPOLICY;
    if (s->policy->pii != NULL && tg_pii_scratch_new(s->policy->pii, &s->scratch) != TG_OK) {
        tg_cli_error(CMD, "out of memory");
        return TG_ENOMEM;
    }
    return TG_OK;
}

static void
side_close(struct dr_side *s)
{
    if (s->scratch)
        tg_pii_scratch_free(s->scratch);
    if (s->policy)
        tg_policy_unref(s->policy);
}

static bool
fail_on_hit(const struct fail_on *fo, const struct dr_report *r)
{
    uint64_t v = 0;
    switch (fo->key) {
    case FO_NEWLY_DENIED:  v = r->newly_denied; break;
    case FO_NEWLY_ALLOWED: v = r->newly_allowed; break;
    case FO_ROUTE_CHANGED: v = r->route_changed; break;
    case FO_DENY:          v = r->cur.v[TG_DENY]; break;
    }
    return fo->ge ? v >= fo->n : v > fo->n;
}

static cJSON *
route_json(const struct tg_policy *p, const struct tg_decision *d)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < d->nroute; i++)
        if (d->route[i] < p->nmodels)
            cJSON_AddItemToArray(a, cJSON_CreateString(p->models[d->route[i]].id));
    return a;
}

static cJSON *
rules_json(const struct tg_decision *d)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t i = 0; a && i < d->nreasons; i++)
        if (d->reasons[i].rule)
            cJSON_AddItemToArray(a, cJSON_CreateString(d->reasons[i].rule));
    return a;
}

/* Rule ids that excluded candidates, once each (an allow can still have
 * excluded a candidate: the report shows what the policy cost it). */
static cJSON *
candidate_rules_json(const struct tg_decision *d)
{
    cJSON *a = cJSON_CreateArray();
    for (uint32_t c = 0; a && c < d->ncands; c++)
        for (uint32_t i = 0; i < d->cands[c].nreasons; i++) {
            const char *rule = d->cands[c].reasons[i].rule;
            bool dup = rule == NULL;
            for (int k = 0; !dup && k < cJSON_GetArraySize(a); k++)
                dup = strcmp(cJSON_GetArrayItem(a, k)->valuestring, rule) == 0;
            if (!dup)
                cJSON_AddItemToArray(a, cJSON_CreateString(rule));
        }
    return a;
}

/* One line of --decisions output.  Ids, tenants and categories only; never
 * request text. */
static int
write_decision(FILE *f, const struct dr_report *r, const struct tg_capture_item *it,
               const struct tg_decision *d, const struct tg_decision *bd)
{
    cJSON *o = cJSON_CreateObject(), *b;
    char *s;
    uint64_t in, out;

    if (o == NULL)
        return TG_ENOMEM;
    cJSON_AddStringToObject(o, "id", it->id);
    cJSON_AddNumberToObject(o, "line", (double)it->line);
    cJSON_AddItemToObject(o, "tenant", it->tenant ? cJSON_CreateString(it->tenant) : cJSON_CreateNull());
    /* The category the policy resolved (header, metadata, model, alias or
     * the tenant's default), as serve records it. */
    cJSON_AddItemToObject(o, "category", d->category ? cJSON_CreateString(d->category) : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "decision", tg_verdict_name(d->verdict));
    cJSON_AddItemToObject(o, "route", route_json(r->cur.policy, d));
    cJSON_AddItemToObject(o, "rules", rules_json(d));
    cJSON_AddItemToObject(o, "candidate_rules", candidate_rules_json(d));
    tokens_for(&r->cur, it, d, &in, &out);
    cJSON_AddNumberToObject(o, "input_tokens", (double)in);
    cJSON_AddNumberToObject(o, "output_tokens", (double)out);
    if (d->verdict != TG_DENY && d->nroute > 0 && d->route[0] < r->cur.policy->nmodels) {
        double usd = tg_cost_usd(&r->cur.policy->models[d->route[0]], in, out);
        cJSON_AddItemToObject(o, "cost_usd", isnan(usd) ? cJSON_CreateNull() : cJSON_CreateNumber(usd));
    } else {
        cJSON_AddNumberToObject(o, "cost_usd", 0);
    }
    if (bd != NULL && (b = cJSON_AddObjectToObject(o, "baseline")) != NULL) {
        cJSON_AddStringToObject(b, "decision", tg_verdict_name(bd->verdict));
        cJSON_AddItemToObject(b, "route", route_json(r->base.policy, bd));
        cJSON_AddItemToObject(b, "rules", rules_json(bd));
    }
    s = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (s == NULL)
        return TG_ENOMEM;
    fputs(s, f);
    fputc('\n', f);
    cJSON_free(s);   /* allocated through the replay's hooks, see json_hooks_on() */
    return ferror(f) ? TG_EIO : TG_OK;
}

/* During the replay loop cJSON allocates from the per-request arena: what
 * it builds or prints there (a Batch line's body printed for its door's
 * decoder, report fragments) dies with tg_arena_reset() instead of one
 * free() per node.  So anything cJSON hands out in the loop goes back
 * through cJSON_free/cJSON_Delete, never free().  Only this single-threaded
 * command sets the hooks, and only around the loop.  (The lines themselves
 * are parsed by engine/json.c into the same arena.) */
static struct tg_arena *json_arena;

static void *
json_alloc(size_t n)
{
    return tg_arena_alloc(json_arena, n);
}

static void
json_free(void *p)
{
    (void)p;
}

static void
json_hooks(struct tg_arena *a)
{
    cJSON_Hooks h = { json_alloc, json_free };
    json_arena = a;
    cJSON_InitHooks(a ? &h : NULL);
}

int
tg_cmd_dry_run(int argc, char **argv)
{
    const char *config = NULL, *traffic = NULL, *baseline = NULL, *html = NULL, *decisions = NULL;
    FILE *decf = NULL;
    bool json = false, quiet = false;
    struct fail_on fo[MAX_FAIL_ON];
    uint32_t nfo = 0;
    struct dr_report *r = NULL;
    struct tg_capture_reader *rd = NULL;
    struct tg_arena arena;
    struct tg_err err = {0};
    struct progress prog = {0};
    int ret = 2, rc;

    tg_arena_init(&arena, 256 * 1024);   /* one chunk holds a typical request */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            ret = 0;
            goto out;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--quiet") == 0 || strcmp(a, "-q") == 0) {
            quiet = true;
        } else if ((strcmp(a, "--config") == 0 || strcmp(a, "--traffic") == 0 ||
                    strcmp(a, "--baseline") == 0 || strcmp(a, "--html") == 0 ||
                    strcmp(a, "--fail-on") == 0 || strcmp(a, "--decisions") == 0) && next == NULL) {
            tg_cli_error(CMD, "%s needs a value", a);
            usage(stderr);
            goto out;
        } else if (strcmp(a, "--config") == 0) {
            config = argv[++i];
        } else if (strcmp(a, "--traffic") == 0) {
            traffic = argv[++i];
        } else if (strcmp(a, "--baseline") == 0) {
            baseline = argv[++i];
        } else if (strcmp(a, "--html") == 0) {
            html = argv[++i];
        } else if (strcmp(a, "--decisions") == 0) {
            decisions = argv[++i];
        } else if (strcmp(a, "--fail-on") == 0) {
            if (nfo == MAX_FAIL_ON) {
                tg_cli_error(CMD, "at most %d --fail-on thresholds", MAX_FAIL_ON);
                goto out;
            }
            if (parse_fail_on(argv[++i], &fo[nfo]) != TG_OK) {
                tg_cli_error(CMD, "bad --fail-on '%s' (want KEY>N or KEY>=N, KEY one of "
                             "newly_denied, newly_allowed, route_changed, deny)", argv[i]);
                goto out;
            }
            nfo++;
        } else {
            tg_cli_error(CMD, "unknown option '%s'", a);
            usage(stderr);
            goto out;
        }
    }
    if (config == NULL || traffic == NULL) {
        tg_cli_error(CMD, "--config and --traffic are required");
        usage(stderr);
        goto out;
    }
    for (uint32_t k = 0; k < nfo; k++)
        if (fo[k].key != FO_DENY && baseline == NULL) {
            tg_cli_error(CMD, "--fail-on %s needs --baseline", fo[k].text);
            goto out;
        }

    r = calloc(1, sizeof(*r));
    if (r == NULL || dr_table_init(&r->by_rule) != TG_OK ||
        dr_table_init(&r->by_category) != TG_OK || dr_table_init(&r->by_tenant) != TG_OK ||
        dr_table_init(&r->base_by_rule) != TG_OK) {
        tg_cli_error(CMD, "out of memory");
        goto out;
    }
    r->traffic = traffic;
    r->has_baseline = baseline != NULL;
    if (side_open(&r->cur, config) != TG_OK)
        goto out;
    if (baseline && side_open(&r->base, baseline) != TG_OK)
        goto out;
    r->nmono = r->cur.policy->nmodels;
    r->mono = calloc(r->nmono ? r->nmono : 1, sizeof(*r->mono));
    if (r->mono == NULL) {
        tg_cli_error(CMD, "out of memory");
        goto out;
    }
    for (uint32_t m = 0; m < r->nmono; m++)
        r->mono[m].model = r->cur.policy->models[m].id;
    if (allow_init(r) != TG_OK) {
        tg_cli_error(CMD, "out of memory");
        goto out;
    }

    if (tg_capture_reader_open(traffic, &rd, &err) != TG_OK) {
        tg_cli_error(CMD, "%s", err.msg);
        goto out;
    }
    if (decisions != NULL && (decf = fopen(decisions, "w")) == NULL) {
        tg_cli_error(CMD, "%s: %s", decisions, strerror(errno));
        goto out;
    }
    prog.on = !quiet && isatty(STDERR_FILENO);
    prog.start = prog.last = now_s();

    json_hooks(&arena);
    for (;;) {
        struct tg_capture_item it;
        struct tg_decision d, bd;

        tg_arena_reset(&arena);   /* per request: memory stays flat */
        rc = tg_capture_reader_next(rd, &arena, &it, &err);
        if (rc == 0)
            break;
        if (rc < 0) {
            json_hooks(NULL);
            tg_cli_error(CMD, "%s: %s", traffic, err.msg);
            goto out;
        }
        rc = decide(&r->cur, &it, &arena, &d, &err);
        if (rc == TG_OK && baseline)
            rc = decide(&r->base, &it, &arena, &bd, &err);
        if (rc == TG_OK)
            rc = account(r, &it, &d, baseline ? &bd : NULL);
        if (rc == TG_OK)
            rc = allow_account(r, &it, &arena, &d, &err);
        if (rc == TG_OK && decf != NULL && (rc = write_decision(decf, r, &it, &d, baseline ? &bd : NULL)) != TG_OK)
            tg_err_set(&err, rc, "%s: write failed", decisions);
        tg_request_dispose(&it.req);
        if (rc != TG_OK) {
            json_hooks(NULL);
            tg_cli_error(CMD, "%s line %" PRIu64 ": %s", traffic, it.line,
                         err.msg[0] ? err.msg : tg_status_name(rc));
            goto out;
        }
        if ((r->requests & 1023) == 0)
            progress_draw(&prog, rd, false);
    }
    json_hooks(NULL);
    progress_draw(&prog, rd, true);
    tg_capture_reader_stats(rd, &r->rd);
    if (r->has_ts && r->ts_max > r->ts_min)
        r->annual_factor = 365.0 * 86400.0 * 1e6 / (double)(r->ts_max - r->ts_min);

    if (json) {
        cJSON *j = dr_report_json(r);
        char *s = j ? cJSON_PrintUnformatted(j) : NULL;
        cJSON_Delete(j);
        if (s == NULL) {
            tg_cli_error(CMD, "out of memory");
            goto out;
        }
        puts(s);
        free(s);
    } else {
        dr_report_text(stdout, r);
    }
    if (r->rd.malformed > 0) {
        char lines[160] = "";
        size_t o = 0;
        for (uint64_t k = 0; k < r->rd.malformed && k < TG_CAPTURE_MALFORMED_KEEP; k++)
            o += (size_t)snprintf(lines + o, o < sizeof(lines) ? sizeof(lines) - o : 0, "%s%" PRIu64,
                                  k ? "," : "", r->rd.malformed_lines[k]);
        tg_cli_error(CMD, "%s: %" PRIu64 " malformed line(s) skipped (lines %s%s; first: %s)",
                     traffic, r->rd.malformed, lines,
                     r->rd.malformed > TG_CAPTURE_MALFORMED_KEEP ? ",..." : "", r->rd.first_reason);
    }
    if (html != NULL && dr_report_html(html, r, &err) != TG_OK) {
        tg_cli_error(CMD, "%s", err.msg);
        goto out;
    }
    if (fflush(stdout) != 0) {
        tg_cli_error(CMD, "stdout: %s", strerror(errno));
        goto out;
    }
    ret = 0;
    for (uint32_t k = 0; k < nfo; k++)
        if (fail_on_hit(&fo[k], r)) {
            tg_cli_error(CMD, "threshold exceeded: %s", fo[k].text);
            ret = 1;
        }
out:
    if (decf != NULL && fclose(decf) != 0 && ret == 0) {
        tg_cli_error(CMD, "%s: %s", decisions, strerror(errno));
        ret = 2;
    }
    tg_capture_reader_close(rd);
    if (r != NULL) {
        side_close(&r->cur);
        side_close(&r->base);
        dr_table_free(&r->by_rule);
        dr_table_free(&r->by_category);
        dr_table_free(&r->by_tenant);
        dr_table_free(&r->base_by_rule);
        free(r->mono);
        free(r->allow);
        free(r);
    }
    tg_arena_free(&arena);
    return ret;
}
