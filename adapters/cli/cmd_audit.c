/*
 * cmd_audit.c — `tollgate audit verify|show|stats|rotate-key` (docs/interface.md §1, §6).
 *
 * Hidden subcommands for tests and benchmarks: `_append` (entries from JSON
 * lines on stdin, through the real writer) and `_stress` (synthetic entries
 * as fast as the writer takes them; the crash test kills it with -9).
 */
#include "adapters/cli/cli.h"
#include "audit/audit.h"
#include "audit/audit_int.h"
#include "engine/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_PUBKEYS   64
#define MAX_REPORTED  1000   /* problem lines printed before summarising the rest */

/* ---- verify ----------------------------------------------------------------- */

struct vreport {
    uint64_t printed, suppressed;
    bool     quiet;
};

static void
verify_report(void *ud, const char *kind, uint64_t seq, const char *reason)
{
    struct vreport *r = ud;
    if (r->quiet && strcmp(kind, "recovered") == 0)
        return;
    if (r->printed >= MAX_REPORTED) {
        r->suppressed++;
        return;
    }
    r->printed++;
    printf("%s: seq %llu: %s\n", kind, (unsigned long long)seq, reason);
}

static int
map_file(const char *path, const char **buf, size_t *len, struct tg_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    void *p;

    if (fd < 0)
        return tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0) {
        close(fd);
        return tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
    }
    if (st.st_size == 0) {
        close(fd);
        *buf = "";
        *len = 0;
        return TG_OK;
    }
    p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED)
        return tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
    (void)madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
    *buf = p;
    *len = (size_t)st.st_size;
    return TG_OK;
}

struct mapped {
    const char *buf;
    size_t      len;
    uint64_t    first;   /* seq of the first entry; UINT64_MAX if unreadable */
    size_t      order;   /* position on the command line */
};

static uint64_t
first_seq(const char *b, size_t len)
{
    const char *nl = memchr(b, '\n', len);
    struct tg__audit_line ln;
    const char *why;
    if (nl == NULL || tg__audit_parse_line(b, (size_t)(nl - b), &ln, &why) != TG_OK)
        return UINT64_MAX;
    return ln.seq;
}

static int
mapped_cmp(const void *a, const void *b)
{
    const struct mapped *x = a, *y = b;
    if (x->first != y->first)
        return x->first < y->first ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void
unmap_all(struct mapped *m, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (m[i].len > 0)
            munmap((void *)m[i].buf, m[i].len);
}

static void
verify_usage(FILE *f)
{
    fprintf(f,
            "usage: tollgate audit verify LOG... --pubkey PUB [--pubkey PUB]... [--expect-head HASH]\n"
            "                             [--start-after HASH] [--allow-unsealed] [--quiet]\n\n"
            "Check every entry's hash, the chain (seq, prev), seals (Merkle roots) and\n"
            "signatures, and which key may sign where.  Keys: oldest first.  Rotated files\n"
            "may be given in any order (LOG*): they are read in chain order.\n"
            "  --expect-head HASH   a head recorded earlier (`head:` of a previous verify);\n"
            "                       if it is missing, the tail was cut\n"
            "  --start-after HASH   verify recent files only, continuing from the head of\n"
            "                       older files verified before (and archived)\n"
            "  --allow-unsealed     accept entries after the last seal (a live log); they\n"
            "                       are unverifiable, so by default they make verify exit 1\n"
            "Prints `tampered: seq N: REASON` per problem and `N/M entries verified`.\n"
            "Exit 0 intact, 1 tampered or unverifiable, 2 usage/IO.\n");
}

static int
cmd_verify(int argc, char **argv)
{
    const char *logs[256];
    size_t nlogs = 0;
    const char *expect = NULL, *after = NULL;
    bool allow_unsealed = false;
    struct vreport rep = { 0 };
    struct tg_audit_verifier *v = NULL;
    struct tg_audit_verify_result res;
    struct tg_err err = { 0 };
    int npub = 0, rc = 2;

    if (tg_audit_verifier_new(verify_report, &rep, &v, &err) != TG_OK) {
        tg_cli_error("audit verify", "%s", err.msg);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            verify_usage(stdout);
            rc = 0;
            goto out;
        } else if (strcmp(a, "--pubkey") == 0 && i + 1 < argc) {
            char *pem = NULL, id[33];
            size_t n;
            const char *path = argv[++i];
            if (npub == MAX_PUBKEYS || tg_cli_read_file(path, 1 << 20, &pem, &n, &err) != TG_OK) {
                tg_cli_error("audit verify", "%s", npub == MAX_PUBKEYS ? "too many --pubkey" : err.msg);
                goto out;
            }
            int r = tg_audit_verifier_add_key(v, pem, n, id, &err);
            free(pem);
            if (r != TG_OK) {
                tg_cli_error("audit verify", "%s: %s", path, err.msg);
                goto out;
            }
            npub++;
        } else if (strcmp(a, "--expect-head") == 0 && i + 1 < argc) {
            expect = argv[++i];
        } else if (strcmp(a, "--start-after") == 0 && i + 1 < argc) {
            after = argv[++i];
        } else if (strcmp(a, "--allow-unsealed") == 0) {
            allow_unsealed = true;
        } else if (strcmp(a, "--quiet") == 0) {
            rep.quiet = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            tg_cli_error("audit verify", "unknown option '%s' (see --help)", a);
            goto out;
        } else if (nlogs < TG_ARRAY_LEN(logs)) {
            logs[nlogs++] = a;
        } else {
            tg_cli_error("audit verify", "too many log files");
            goto out;
        }
    }
    if (nlogs == 0 || npub == 0) {
        tg_cli_error("audit verify", "need at least one LOG and one --pubkey (see --help)");
        goto out;
    }
    if (after != NULL && tg_audit_verifier_start_after(v, after, &err) != TG_OK) {
        tg_cli_error("audit verify", "%s", err.msg);
        goto out;
    }
    if (expect != NULL && tg_audit_verifier_expect_head(v, expect, &err) != TG_OK) {
        tg_cli_error("audit verify", "%s", err.msg);
        goto out;
    }
    /* Feed files in chain order whatever order the shell globbed them in
     * (audit.log sorts before audit.log.000000000001): by first seq. */
    struct mapped files[256];
    size_t nfiles = 0;
    for (size_t i = 0; i < nlogs; i++) {
        struct mapped *m = &files[nfiles];
        if (map_file(logs[i], &m->buf, &m->len, &err) != TG_OK) {
            tg_cli_error("audit verify", "%s", err.msg);
            unmap_all(files, nfiles);
            goto out;
        }
        m->first = first_seq(m->buf, m->len);
        m->order = i;
        nfiles++;
    }
    qsort(files, nfiles, sizeof(files[0]), mapped_cmp);
    for (size_t i = 0; i < nfiles; i++)
        tg_audit_verifier_feed(v, files[i].buf, files[i].len);
    unmap_all(files, nfiles);
    tg_audit_verifier_finish(v, &res);
    if (rep.suppressed > 0)
        printf("... %llu more problems not shown\n", (unsigned long long)rep.suppressed);
    printf("%llu/%llu entries verified", (unsigned long long)res.verified, (unsigned long long)res.entries);
    if (res.unsealed > 0)
        printf(", %llu unsealed", (unsigned long long)res.unsealed);
    if (res.recoveries > 0)
        printf(", %llu recovered torn writes", (unsigned long long)res.recoveries);
    printf("\nhead: seq %llu %s\n", (unsigned long long)res.head_seq, res.head_seq ? res.head : "-");
    rc = res.problems > 0 || (res.unsealed > 0 && !allow_unsealed) || res.entries == 0 ? 1 : 0;
    if (res.problems == 0 && res.unsealed > 0 && !allow_unsealed)
        fprintf(stderr, "hint: the newest entries are not sealed yet (a running gateway seals every "
                        "second and at shutdown): verify again shortly, or pass --allow-unsealed to "
                        "accept a live log's unsealed tail\n");
    if (res.entries == 0)
        printf("tampered: seq 1: log is empty\n");
out:
    tg_audit_verifier_free(v);
    return rc;
}

/* ---- reading entries for show / stats ---------------------------------------- */

typedef void (*entry_fn)(void *ud, cJSON *e, const char *line, size_t len);

static int
each_entry(const char *cmd, const char *path, entry_fn fn, void *ud)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    uint64_t bad = 0;

    if (f == NULL) {
        tg_cli_error(cmd, "%s: %s", path, strerror(errno));
        return 2;
    }
    while ((n = getline(&line, &cap, f)) > 0) {
        if ((size_t)n > TG_MAX_LINE_BYTES) {
            bad++;
            continue;
        }
        if (line[n - 1] == '\n')
            line[--n] = '\0';
        cJSON *e = cJSON_ParseWithLength(line, (size_t)n);
        if (!cJSON_IsObject(e)) {
            bad++;   /* torn write kept in place by a recovery entry, or damage: verify reports it */
            cJSON_Delete(e);
            continue;
        }
        fn(ud, e, line, (size_t)n);
        cJSON_Delete(e);
    }
    free(line);
    if (f != stdin)
        fclose(f);
    if (bad > 0)
        tg_cli_error(cmd, "%s: skipped %llu unreadable lines (run `tollgate audit verify`)", path,
                     (unsigned long long)bad);
    return 0;
}

static const char *
sfield(const cJSON *e, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool
is_request(const cJSON *e)
{
    const char *ev = sfield(e, "event");
    return ev == NULL || !(strcmp(ev, "seal") == 0 || strcmp(ev, "rotation") == 0 ||
                           strcmp(ev, "recovery") == 0 || strcmp(ev, "start") == 0);
}

static double
nfield(const cJSON *e, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(e, key);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int64_t
tokens(const cJSON *e, const char *key)
{
    const cJSON *u = cJSON_GetObjectItemCaseSensitive(e, "usage");
    double d = nfield(u, key);
    return isfinite(d) && d > 0 ? (int64_t)d : 0;
}

/* ---- show --------------------------------------------------------------------- */

struct show {
    const char *tenant, *decision, *category, *model;
    bool has_since, has_until, json;
    int64_t since, until;
    uint64_t shown;
};

static void
show_one(void *ud, cJSON *e, const char *line, size_t len)
{
    struct show *s = ud;
    const char *ts = sfield(e, "ts");
    int64_t t;
    char cost[32];

    if ((s->tenant && (!sfield(e, "tenant") || strcmp(sfield(e, "tenant"), s->tenant) != 0)) ||
        (s->decision && (!sfield(e, "decision") || strcmp(sfield(e, "decision"), s->decision) != 0)) ||
        (s->category && (!sfield(e, "category") || strcmp(sfield(e, "category"), s->category) != 0)) ||
        (s->model && (!sfield(e, "model") || strcmp(sfield(e, "model"), s->model) != 0)))
        return;
    if (s->has_since || s->has_until) {
        if (ts == NULL || !tg__audit_parse_ts(ts, &t) || (s->has_since && t < s->since) ||
            (s->has_until && t > s->until))
            return;
    }
    s->shown++;
    if (s->json) {
        fwrite(line, 1, len, stdout);
        fputc('\n', stdout);
        return;
    }
    double c = nfield(e, "cost_usd");
    if (isfinite(c))
        snprintf(cost, sizeof(cost), "%.6f", c);
    else
        snprintf(cost, sizeof(cost), "-");
    const cJSON *rules = cJSON_GetObjectItemCaseSensitive(e, "rules"), *r;
    char rl[256] = "";
    size_t off = 0;
    cJSON_ArrayForEach(r, rules) {
        if (cJSON_IsString(r) && off < sizeof(rl) - 1) {
            int w = snprintf(rl + off, sizeof(rl) - off, "%s%s", off ? "," : "", r->valuestring);
            off += w > 0 ? (size_t)w : 0;
            if (off >= sizeof(rl))
                off = sizeof(rl) - 1;
        }
    }
    /* the output guard's block (docs/output-guard.md) is a rule too */
    const cJSON *rr = cJSON_GetObjectItemCaseSensitive(e, "response_rule");
    if (cJSON_IsString(rr) && off < sizeof(rl) - 1) {
        int w = snprintf(rl + off, sizeof(rl) - off, "%s%s", off ? "," : "", rr->valuestring);
        off += w > 0 ? (size_t)w : 0;
        if (off >= sizeof(rl))
            off = sizeof(rl) - 1;
    }
    double st = nfield(e, "status");
    char stbuf[24];
    if (isfinite(st) && st > 0 && st < 1000)
        snprintf(stbuf, sizeof(stbuf), "%d", (int)st);
    else
        snprintf(stbuf, sizeof(stbuf), "-");
    printf("%-8.0f %-27s %-16s %-14s %-16s %-8s %-20s %-6s %-10s %s\n", nfield(e, "seq"), ts ? ts : "-",
           sfield(e, "event") ? sfield(e, "event") : "-", sfield(e, "tenant") ? sfield(e, "tenant") : "-",
           sfield(e, "category") ? sfield(e, "category") : "-",
           sfield(e, "decision") ? sfield(e, "decision") : "-", sfield(e, "model") ? sfield(e, "model") : "-",
           stbuf, is_request(e) ? cost : "", rl);
}

static void
show_usage(FILE *f)
{
    fprintf(f, "usage: tollgate audit show LOG... [--tenant T] [--decision allow|redact|deny] [--category C]\n"
               "                           [--model M] [--since TS] [--until TS] [--json]\n\n"
               "List entries.  TS is RFC 3339 (2026-01-31, 2026-01-31T12:00:00Z, ...), inclusive.\n"
               "--json prints the matching entries as JSON Lines, byte for byte as logged.\n");
}

static int
cmd_show(int argc, char **argv)
{
    struct show s = { 0 };
    const char *logs[256];
    size_t nlogs = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            show_usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            s.json = true;
        } else if (next && strcmp(a, "--tenant") == 0) {
            s.tenant = argv[++i];
        } else if (next && strcmp(a, "--decision") == 0) {
            s.decision = argv[++i];
        } else if (next && strcmp(a, "--category") == 0) {
            s.category = argv[++i];
        } else if (next && strcmp(a, "--model") == 0) {
            s.model = argv[++i];
        } else if (next && (strcmp(a, "--since") == 0 || strcmp(a, "--until") == 0)) {
            bool since = a[2] == 's';
            int64_t t;
            if (!tg__audit_parse_ts(next, &t)) {
                tg_cli_error("audit show", "%s: not an RFC 3339 time: %s", a, next);
                return 2;
            }
            /* A bare date as --until means the whole day. */
            if (!since && strlen(next) == 10)
                t += 86400LL * 1000000 - 1;
            if (since) {
                s.has_since = true;
                s.since = t;
            } else {
                s.has_until = true;
                s.until = t;
            }
            i++;
        } else if (a[0] == '-' && a[1] != '\0') {
            tg_cli_error("audit show", "unknown option or missing value '%s' (see --help)", a);
            return 2;
        } else if (nlogs < TG_ARRAY_LEN(logs)) {
            logs[nlogs++] = a;
        }
    }
    if (nlogs == 0) {
        tg_cli_error("audit show", "need at least one LOG (see --help)");
        return 2;
    }
    if (!s.json)
        printf("%-8s %-27s %-16s %-14s %-16s %-8s %-20s %-6s %-10s %s\n", "SEQ", "TS", "EVENT", "TENANT",
               "CATEGORY", "DECISION", "MODEL", "STATUS", "COST_USD", "RULES");
    for (size_t i = 0; i < nlogs; i++)
        if (each_entry("audit show", logs[i], show_one, &s) != 0)
            return 2;
    return 0;
}

/* ---- stats -------------------------------------------------------------------- */

struct group {
    char    *key;
    uint64_t requests, allow, redact, deny;
    int64_t  prompt, completion;
    double   cost;
};

struct stats {
    const char   *by;
    struct group *g;
    size_t        n, cap;
    bool          oom;
};

static struct group *
group_for(struct stats *st, const char *key)
{
    for (size_t i = 0; i < st->n; i++)
        if (strcmp(st->g[i].key, key) == 0)
            return &st->g[i];
    if (st->n == st->cap) {
        size_t ncap = st->cap ? st->cap * 2 : 64;
        struct group *ng = realloc(st->g, ncap * sizeof(*ng));
        if (ng == NULL)
            return NULL;
        st->g = ng;
        st->cap = ncap;
    }
    struct group *g = &st->g[st->n];
    memset(g, 0, sizeof(*g));
    if ((g->key = strdup(key)) == NULL)
        return NULL;
    st->n++;
    return g;
}

static void
stats_add(struct stats *st, const char *key, const cJSON *e)
{
    struct group *g = group_for(st, key != NULL ? key : "(none)");
    const char *d = sfield(e, "decision");
    double c = nfield(e, "cost_usd");

    if (g == NULL) {
        st->oom = true;
        return;
    }
    g->requests++;
    if (d != NULL && strcmp(d, "allow") == 0)
        g->allow++;
    else if (d != NULL && strcmp(d, "redact") == 0)
        g->redact++;
    else if (d != NULL && strcmp(d, "deny") == 0)
        g->deny++;
    g->prompt += tokens(e, "prompt_tokens");
    g->completion += tokens(e, "completion_tokens");
    if (isfinite(c))
        g->cost += c;
}

static void
stats_one(void *ud, cJSON *e, const char *line, size_t len)
{
    struct stats *st = ud;
    (void)line;
    (void)len;

    if (!is_request(e))
        return;
    if (strcmp(st->by, "rule") == 0) {
        const cJSON *rules = cJSON_GetObjectItemCaseSensitive(e, "rules"), *r;
        bool any = false;
        cJSON_ArrayForEach(r, rules) {
            if (cJSON_IsString(r)) {
                stats_add(st, r->valuestring, e);
                any = true;
            }
        }
        r = cJSON_GetObjectItemCaseSensitive(e, "response_rule");   /* the output guard's block */
        if (cJSON_IsString(r)) {
            stats_add(st, r->valuestring, e);
            any = true;
        }
        if (!any)
            stats_add(st, NULL, e);
        return;
    }
    stats_add(st, sfield(e, st->by), e);
}

static int
group_cmp(const void *a, const void *b)
{
    return strcmp(((const struct group *)a)->key, ((const struct group *)b)->key);
}

/* Sums of prices carry binary noise (0.1 + 0.2); report to the nano-dollar. */
static double
round_usd(double x)
{
    return round(x * 1e9) / 1e9;
}

static void
stats_usage(FILE *f)
{
    fprintf(f, "usage: tollgate audit stats LOG... [--by tenant|feature|category|model|rule|decision] [--json]\n\n"
               "Requests, decisions, tokens (from the providers' usage) and USD per group.\n"
               "Seal, rotation, recovery and start entries are not requests.  With --by rule an\n"
               "entry counts once under each rule id it matched.  --json prints\n"
               "{\"by\", \"groups\": [{\"key\", \"requests\", \"decisions\": {\"allow\",\"redact\",\"deny\"},\n"
               "  \"prompt_tokens\", \"completion_tokens\", \"cost_usd\"}]}\n");
}

static int
cmd_stats(int argc, char **argv)
{
    struct stats st = { .by = "tenant" };
    const char *logs[256];
    size_t nlogs = 0;
    bool json = false;
    int rc = 2;
    static const char *const bys[] = { "tenant", "feature", "category", "model", "rule", "decision" };

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            stats_usage(stdout);
            return 0;
        } else if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--by") == 0 && i + 1 < argc) {
            st.by = argv[++i];
            bool ok = false;
            for (size_t k = 0; k < TG_ARRAY_LEN(bys); k++)
                ok = ok || strcmp(st.by, bys[k]) == 0;
            if (!ok) {
                tg_cli_error("audit stats", "--by: want tenant|feature|category|model|rule|decision");
                return 2;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            tg_cli_error("audit stats", "unknown option or missing value '%s' (see --help)", a);
            return 2;
        } else if (nlogs < TG_ARRAY_LEN(logs)) {
            logs[nlogs++] = a;
        }
    }
    if (nlogs == 0) {
        tg_cli_error("audit stats", "need at least one LOG (see --help)");
        return 2;
    }
    for (size_t i = 0; i < nlogs; i++)
        if (each_entry("audit stats", logs[i], stats_one, &st) != 0)
            goto out;
    if (st.oom) {
        tg_cli_error("audit stats", "out of memory");
        goto out;
    }
    if (st.n > 0)
        qsort(st.g, st.n, sizeof(*st.g), group_cmp);
    if (json) {
        cJSON *o = cJSON_CreateObject(), *arr;
        char *s;
        if (o == NULL || !cJSON_AddStringToObject(o, "by", st.by) ||
            (arr = cJSON_AddArrayToObject(o, "groups")) == NULL) {
            cJSON_Delete(o);
            goto out;
        }
        for (size_t i = 0; i < st.n; i++) {
            struct group *g = &st.g[i];
            cJSON *e = cJSON_CreateObject(), *d;
            if (e == NULL)
                break;
            cJSON_AddItemToArray(arr, e);
            cJSON_AddStringToObject(e, "key", g->key);
            cJSON_AddNumberToObject(e, "requests", (double)g->requests);
            d = cJSON_AddObjectToObject(e, "decisions");
            cJSON_AddNumberToObject(d, "allow", (double)g->allow);
            cJSON_AddNumberToObject(d, "redact", (double)g->redact);
            cJSON_AddNumberToObject(d, "deny", (double)g->deny);
            cJSON_AddNumberToObject(e, "prompt_tokens", (double)g->prompt);
            cJSON_AddNumberToObject(e, "completion_tokens", (double)g->completion);
            cJSON_AddNumberToObject(e, "cost_usd", round_usd(g->cost));
        }
        s = cJSON_PrintUnformatted(o);
        cJSON_Delete(o);
        if (s == NULL)
            goto out;
        printf("%s\n", s);
        free(s);
    } else {
        struct group tot = { .key = "TOTAL" };
        printf("%-24s %9s %8s %8s %8s %14s %14s %14s\n", st.by, "requests", "allow", "redact", "deny",
               "prompt_tok", "completion_tok", "cost_usd");
        for (size_t i = 0; i <= st.n; i++) {
            struct group *g = i < st.n ? &st.g[i] : &tot;
            if (i == st.n && strcmp(st.by, "rule") == 0)
                break;   /* rule groups overlap: a total would double count */
            printf("%-24s %9llu %8llu %8llu %8llu %14lld %14lld %14.6f\n", g->key,
                   (unsigned long long)g->requests, (unsigned long long)g->allow,
                   (unsigned long long)g->redact, (unsigned long long)g->deny, (long long)g->prompt,
                   (long long)g->completion, round_usd(g->cost));
            if (i < st.n) {
                tot.requests += g->requests;
                tot.allow += g->allow;
                tot.redact += g->redact;
                tot.deny += g->deny;
                tot.prompt += g->prompt;
                tot.completion += g->completion;
                tot.cost += g->cost;
            }
        }
    }
    rc = 0;
out:
    for (size_t i = 0; i < st.n; i++)
        free(st.g[i].key);
    free(st.g);
    return rc;
}

/* ---- writer-side commands ----------------------------------------------------- */

struct wopts {
    struct tg_audit_cfg cfg;
    const char *new_key;
    uint64_t count;
};

static int
parse_wopts(const char *cmd, int argc, char **argv, struct wopts *o)
{
    memset(o, 0, sizeof(*o));
    o->cfg.fsync = TG_FSYNC_BATCH;
    o->cfg.sign = TG_SIGN_SEAL;
    o->count = 1000;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            tg_cli_error(cmd, "missing value or unknown option '%s'", a);
            return 2;
        }
        i++;
        if (strcmp(a, "--log") == 0)
            o->cfg.path = v;
        else if (strcmp(a, "--key") == 0)
            o->cfg.signing_key = v;
        else if (strcmp(a, "--new-key") == 0)
            o->new_key = v;
        else if (strcmp(a, "--count") == 0)
            o->count = strtoull(v, NULL, 10);
        else if (strcmp(a, "--seal-every") == 0)
            o->cfg.seal_every = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--seal-interval-ms") == 0)
            o->cfg.seal_interval_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--rotate-bytes") == 0)
            o->cfg.rotate_bytes = strtoull(v, NULL, 10);
        else if (strcmp(a, "--queue-depth") == 0)
            o->cfg.queue_depth = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--sign") == 0 && (strcmp(v, "each") == 0 || strcmp(v, "seal") == 0))
            o->cfg.sign = strcmp(v, "each") == 0 ? TG_SIGN_EACH : TG_SIGN_SEAL;
        else if (strcmp(a, "--fsync") == 0 && strcmp(v, "always") == 0)
            o->cfg.fsync = TG_FSYNC_ALWAYS;
        else if (strcmp(a, "--fsync") == 0 && strcmp(v, "batch") == 0)
            o->cfg.fsync = TG_FSYNC_BATCH;
        else if (strcmp(a, "--fsync") == 0 && strcmp(v, "never") == 0)
            o->cfg.fsync = TG_FSYNC_NEVER;
        else {
            tg_cli_error(cmd, "bad option '%s %s'", a, v);
            return 2;
        }
    }
    if (o->cfg.path == NULL || o->cfg.signing_key == NULL) {
        tg_cli_error(cmd, "--log PATH and --key KEY are required");
        return 2;
    }
    return 0;
}

static int
cmd_rotate_key(int argc, char **argv)
{
    struct wopts o;
    struct tg_audit_log *log = NULL;
    struct tg_err err = { 0 };
    char id[33];
    int rc;

    if (argc > 1 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("usage: tollgate audit rotate-key --log PATH --key OLD.key --new-key NEW.key\n\n"
               "Seal the log with the old key, write a rotation entry signed by it naming the\n"
               "new key, and continue the chain under the new key (set audit.signing_key to\n"
               "NEW.key before the gateway starts again).  Verify with both keys, oldest first.\n");
        return 0;
    }
    if ((rc = parse_wopts("audit rotate-key", argc, argv, &o)) != 0)
        return rc;
    if (o.new_key == NULL) {
        tg_cli_error("audit rotate-key", "--new-key is required");
        return 2;
    }
    if (tg_audit_open(&o.cfg, &log, &err) != TG_OK) {
        tg_cli_error("audit rotate-key", "%s", err.msg);
        return 2;
    }
    rc = tg_audit_rotate_key(log, o.new_key, id, &err);
    if (rc != TG_OK)
        tg_cli_error("audit rotate-key", "%s", err.msg);
    if (tg_audit_close(log, &err) != TG_OK && rc == TG_OK) {
        tg_cli_error("audit rotate-key", "%s", err.msg);
        rc = TG_EIO;
    }
    if (rc != TG_OK)
        return 2;
    printf("%s\n", id);
    return 0;
}

static int
open_log(const char *cmd, struct wopts *o, struct tg_audit_log **log)
{
    struct tg_err err = { 0 };
    if (tg_audit_open(&o->cfg, log, &err) != TG_OK) {
        tg_cli_error(cmd, "%s", err.msg);
        return 2;
    }
    return 0;
}

static int
close_log(const char *cmd, struct tg_audit_log *log)
{
    struct tg_err err = { 0 };
    if (tg_audit_close(log, &err) != TG_OK) {
        tg_cli_error(cmd, "%s", err.msg);
        return 2;
    }
    return 0;
}

/* _append: each stdin line is an entry body (JSON object) appended as is. */
static int
cmd_append(int argc, char **argv)
{
    struct wopts o;
    struct tg_audit_log *log;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc;

    if ((rc = parse_wopts("audit _append", argc, argv, &o)) != 0 || (rc = open_log("audit _append", &o, &log)) != 0)
        return rc;
    while ((n = getline(&line, &cap, stdin)) > 0) {
        cJSON *e = cJSON_ParseWithLength(line, (size_t)n);
        if (!cJSON_IsObject(e)) {
            cJSON_Delete(e);
            continue;
        }
        if (tg_audit_append(log, e, NULL, NULL) != TG_OK) {
            tg_cli_error("audit _append", "append failed");
            rc = 2;
            break;
        }
    }
    free(line);
    return close_log("audit _append", log) != 0 ? 2 : rc;
}

static void
stress_done(void *arg, int status, uint64_t seq)
{
    (void)seq;
    if (status != TG_OK)
        *(int *)arg = 1;
}

/* _stress: synthetic decision entries as fast as the writer takes them. */
static int
cmd_stress(int argc, char **argv)
{
    static const char *const tenants[] = { "acme-bank", "globex", "initech" };
    static const char *const decisions[] = { "allow", "allow", "redact", "deny" };
    struct wopts o;
    struct tg_audit_log *log;
    static int failed;
    int rc;

    if ((rc = parse_wopts("audit _stress", argc, argv, &o)) != 0 || (rc = open_log("audit _stress", &o, &log)) != 0)
        return rc;
    for (uint64_t i = 0; i < o.count; i++) {
        struct tg_audit_event ev = { 0 };
        char id[33];
        tg_audit_new_id(id);
        ev.event = "decision";
        ev.decision_id = id;
        ev.tenant = tenants[i % 3];
        ev.mode = "enforce";
        ev.http_status = 200;
        ev.model = "gpt-4o";
        ev.provider = "openai";
        ev.prompt_tokens = 100 + (int64_t)(i % 7);
        ev.completion_tokens = 50;
        ev.cost_usd = 0.00075;
        ev.latency_ms = 12;
        ev.has_request_hmac = true;
        tg_audit_request_hmac(log, ev.tenant, "hello", 5, ev.request_hmac);
        ev.request_len = 5;
        cJSON *e = tg_audit_entry_json(&ev);
        if (e != NULL) {
            cJSON_ReplaceItemInObjectCaseSensitive(e, "decision", cJSON_CreateString(decisions[i % 4]));
            cJSON_ReplaceItemInObjectCaseSensitive(e, "category", cJSON_CreateString("chat"));
        }
        if (e == NULL || tg_audit_append(log, e, stress_done, &failed) != TG_OK) {
            tg_cli_error("audit _stress", "append failed");
            rc = 2;
            break;
        }
    }
    if (close_log("audit _stress", log) != 0 || failed)
        rc = 2;
    return rc;
}

static void
audit_usage(FILE *f)
{
    fprintf(f, "usage: tollgate audit verify|show|stats|rotate-key ... (tollgate audit <sub> --help)\n\n"
               "  verify LOG... --pubkey PUB [--pubkey PUB]... [--expect-head HASH]\n"
               "  show LOG... [--tenant T] [--decision D] [--category C] [--model M] [--since TS] [--until TS] [--json]\n"
               "  stats LOG... [--by tenant|feature|category|model|rule|decision] [--json]\n"
               "  rotate-key --log PATH --key OLD.key --new-key NEW.key\n");
}

int
tg_cmd_audit(int argc, char **argv)
{
    if (argc < 2) {
        audit_usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        audit_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "verify") == 0)
        return cmd_verify(argc - 1, argv + 1);
    if (strcmp(argv[1], "show") == 0)
        return cmd_show(argc - 1, argv + 1);
    if (strcmp(argv[1], "stats") == 0)
        return cmd_stats(argc - 1, argv + 1);
    if (strcmp(argv[1], "rotate-key") == 0)
        return cmd_rotate_key(argc - 1, argv + 1);
    if (strcmp(argv[1], "_append") == 0)
        return cmd_append(argc - 1, argv + 1);
    if (strcmp(argv[1], "_stress") == 0)
        return cmd_stress(argc - 1, argv + 1);
    tg_cli_error("audit", "unknown subcommand '%s'", argv[1]);
    audit_usage(stderr);
    return 2;
}
