/*
 * cmd_scan.c — `tollgate scan [--config CONFIG] [--pack FILE]... [--jsonl]
 * [--min-score F] [FILE|-]` (docs/interface.md §1): PII and secret scan of text.
 *
 * Packs: --pack files if given, else the config's policy.pii.packs (and its
 * min_score), else rules/pii/default.yaml from the data directory.
 * Human output is one line per finding with the match masked — a scan
 * report must not itself become a copy of the PII.  --jsonl reads one JSON
 * object per line with a string `text`, echoes it back with `findings`
 * (code point offsets, Presidio style).  A bad line is reported on stderr
 * with its number and skipped; the exit status is then 2.
 *
 * Allow lists (engine/allow.h) apply as the gateway applies them, at the
 * policy level: the config's policy.pii.allow and role-mailbox setting, or
 * without a config the default (role and no-reply mailboxes are not
 * personal data).  Allowed findings are counted, not listed; --no-allow
 * shows the detectors' raw output.
 */
#include "adapters/cli/cli.h"
#include "engine/allow.h"
#include "engine/pii.h"
#include "policy/pii_pack.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CMD "scan"
#define SCAN_MAX_INPUT (1024u * 1024u * 1024u)
#define MAX_PACKS 64

static void
usage(FILE *f)
{
    fprintf(f,
        "usage: tollgate scan [--config CONFIG] [--pack FILE]... [--jsonl] [--min-score F] [FILE|-]\n"
        "\n"
        "Scan text (FILE, or stdin) for PII and secrets.  Detector packs come from\n"
        "--pack (repeatable), else the config's policy.pii.packs, else\n"
        "rules/pii/default.yaml.  Default min score: the config's, else 0.5.\n"
        "\n"
        "  --jsonl       input lines are JSON objects with a string \"text\"; each is\n"
        "                printed back with \"findings\": [{entity,start,end,score,detector}]\n"
        "                (start/end in Unicode code points, end exclusive), and\n"
        "                \"allowed\": [{entity,count}] when an allow list took some out\n"
        "  --no-allow    ignore allow lists and the built-in defaults (role mailboxes, special-purpose IPs): every\n"
        "                detector match is listed\n"
        "\n"
        "Human output: LINE:COL ENTITY score=S detector=ID match=MASKED\n"
        "exit: 0 scanned (findings or not), 2 usage / I/O / bad input line\n");
}

static int
build_db(const char **packs, int npacks, struct tg_pii_db **db)
{
    struct tg_arena a;
    struct tg_pii_detector_spec *all = NULL;
    size_t nall = 0, cap = 0;
    struct tg_err err = { 0 };
    int rc = TG_OK, i;

    tg_arena_init(&a, 0);
    for (i = 0; i < npacks && rc == TG_OK; i++) {
        struct tg_pii_detector_spec *s = NULL;
        size_t n = 0;
        rc = tg_pii_pack_load(packs[i], &a, &s, &n, tg_cli_diag, NULL, &err);
        if (rc != TG_OK) {
            tg_cli_error(CMD, "%s", err.msg);
            break;
        }
        if (nall + n > cap) {
            struct tg_pii_detector_spec *v;
            cap = (nall + n) * 2;
            v = tg_arena_alloc(&a, cap * sizeof *v);
            if (v == NULL) {
                rc = TG_ENOMEM;
                tg_cli_error(CMD, "out of memory");
                break;
            }
            if (nall)
                memcpy(v, all, nall * sizeof *v);
            all = v;
        }
        if (n)
            memcpy(all + nall, s, n * sizeof *s);
        nall += n;
    }
    if (rc == TG_OK && (rc = tg_pii_db_build(all, nall, db, &err)) != TG_OK)
        tg_cli_error(CMD, "%s", err.msg);
    tg_arena_free(&a);
    return rc;
}

/* Human report: LINE:COL (1-based, column in code points). */
static void
print_human(const char *text, size_t len, const struct tg_findings *f)
{
    uint32_t i, line = 1;
    size_t line_start = 0, pos = 0;

    for (i = 0; i < f->n; i++) {
        const struct tg_finding *x = &f->v[i];
        char masked[256];
        size_t mlen = x->end - x->start;
        while (pos < x->start && pos < len) {
            if (text[pos] == '\n') {
                line++;
                line_start = pos + 1;
            }
            pos++;
        }
        if (mlen > 120)
            mlen = 120;   /* a PEM block: the head is enough to find it */
        tg_pii_mask(text + x->start, mlen, masked, sizeof masked);
        for (char *c = masked; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        printf("%u:%u %s score=%.2f detector=%s match=%s%s\n", line,
               tg_pii_codepoint_offset(text + line_start, len - line_start, x->start - line_start) + 1,
               x->entity, x->score, x->detector, masked, mlen < x->end - x->start ? "..." : "");
    }
}

/* The scan's allow scope: the policy level only (no rule or tenant here). */
struct scan_allow {
    struct tg_allow_scope sc;
    bool on;
};

/* Take allowed findings out of f; *nallowed_out per entity into counts. */
static int
scan_apply_allow(const struct scan_allow *al, const char *text, size_t len, struct tg_arena *a,
                 struct tg_findings *f, struct tg_allow_hit **hits, uint32_t *nhits)
{
    struct tg_part part = { .text = text, .len = len };
    struct tg_err err = { 0 };
    *hits = NULL;
    *nhits = 0;
    if (!al->on)
        return TG_OK;
    return tg_allow_apply(&al->sc, &part, 1, f, a, hits, nhits, &err);
}

/* "EMAIL_ADDRESS x2, PHONE_NUMBER x1" on stderr: counted, never shown. */
static void
report_allowed(const struct tg_allow_hit *h, uint32_t n)
{
    char b[512];
    size_t o = 0;
    uint32_t total = 0;
    if (n == 0)
        return;
    b[0] = '\0';
    for (uint32_t i = 0; i < n; i++) {
        bool seen = false;
        for (uint32_t k = 0; k < i; k++)
            seen |= strcmp(h[k].entry->entity, h[i].entry->entity) == 0;
        total += h[i].count;
        if (seen)
            continue;
        uint32_t c = 0;
        for (uint32_t k = i; k < n; k++)
            if (strcmp(h[k].entry->entity, h[i].entry->entity) == 0)
                c += h[k].count;
        if (o < sizeof(b))
            o += (size_t)snprintf(b + o, sizeof(b) - o, "%s%s x%u", o ? ", " : "", h[i].entry->entity, c);
    }
    tg_cli_error(CMD, "%u match%s not listed: allowed by the allow lists or the built-in defaults (%s); --no-allow lists them",
                 total, total == 1 ? "" : "es", b);
}

static int
scan_jsonl(const struct tg_pii_db *db, struct tg_pii_scratch *s, double min_score,
           const struct scan_allow *al, char *buf, size_t len)
{
    struct tg_arena a;
    size_t pos = 0;
    unsigned long lineno = 0;
    int bad = 0;

    tg_arena_init(&a, 0);
    while (pos < len) {
        size_t e = pos;
        cJSON *j, *t, *arr;
        struct tg_findings f = { 0 };
        struct tg_err err = { 0 };
        char *out;

        while (e < len && buf[e] != '\n')
            e++;
        lineno++;
        if (e > pos && buf[e - 1] == '\r')
            buf[e - 1] = ' ';
        {
            size_t k = pos;
            while (k < e && (buf[k] == ' ' || buf[k] == '\t'))
                k++;
            if (k == e) {
                pos = e + 1;
                continue;
            }
        }
        j = cJSON_ParseWithLength(buf + pos, e - pos);
        pos = e + 1;
        t = j != NULL ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
        if (!cJSON_IsObject(j) || !cJSON_IsString(t)) {
            tg_cli_error(CMD, "line %lu: not a JSON object with a string \"text\"", lineno);
            cJSON_Delete(j);
            bad = 1;
            continue;
        }
        tg_arena_reset(&a);
        if (tg_pii_scan(db, s, t->valuestring, strlen(t->valuestring), 0, min_score, &a, &f, &err) != TG_OK) {
            tg_cli_error(CMD, "line %lu: %s", lineno, err.msg);
            cJSON_Delete(j);
            bad = 1;
            continue;
        }
        struct tg_allow_hit *hits;
        uint32_t nhits;
        if (scan_apply_allow(al, t->valuestring, strlen(t->valuestring), &a, &f, &hits, &nhits) != TG_OK) {
            tg_cli_error(CMD, "line %lu: out of memory", lineno);
            cJSON_Delete(j);
            bad = 1;
            continue;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(j, "findings");
        cJSON_DeleteItemFromObjectCaseSensitive(j, "allowed");
        arr = cJSON_AddArrayToObject(j, "findings");
        for (uint32_t i = 0; arr != NULL && i < f.n; i++) {
            const struct tg_finding *x = &f.v[i];
            size_t tl = strlen(t->valuestring);
            cJSON *o = cJSON_CreateObject();
            if (o == NULL)
                break;
            cJSON_AddItemToArray(arr, o);
            cJSON_AddStringToObject(o, "entity", x->entity);
            cJSON_AddNumberToObject(o, "start", tg_pii_codepoint_offset(t->valuestring, tl, x->start));
            cJSON_AddNumberToObject(o, "end", tg_pii_codepoint_offset(t->valuestring, tl, x->end));
            cJSON_AddNumberToObject(o, "score", (double)(int)(x->score * 100 + 0.5) / 100.0);
            cJSON_AddStringToObject(o, "detector", x->detector);
        }
        if (nhits > 0 && (arr = cJSON_AddArrayToObject(j, "allowed")) != NULL) {
            /* per entity, entity and count only */
            for (uint32_t i = 0; i < nhits; i++) {
                cJSON *o = NULL;
                for (int k = 0; k < cJSON_GetArraySize(arr) && o == NULL; k++) {
                    cJSON *x = cJSON_GetArrayItem(arr, k);
                    if (strcmp(cJSON_GetObjectItemCaseSensitive(x, "entity")->valuestring,
                               hits[i].entry->entity) == 0)
                        o = x;
                }
                if (o != NULL) {
                    cJSON *cnt = cJSON_GetObjectItemCaseSensitive(o, "count");
                    cJSON_SetNumberValue(cnt, cnt->valuedouble + hits[i].count);
                } else if ((o = cJSON_CreateObject()) != NULL) {
                    cJSON_AddItemToArray(arr, o);
                    cJSON_AddStringToObject(o, "entity", hits[i].entry->entity);
                    cJSON_AddNumberToObject(o, "count", hits[i].count);
                }
            }
        }
        if (f.unscannable)
            cJSON_AddTrueToObject(j, "unscannable");
        out = cJSON_PrintUnformatted(j);
        if (out == NULL) {
            tg_cli_error(CMD, "line %lu: out of memory", lineno);
            bad = 1;
        } else {
            puts(out);
            free(out);
        }
        cJSON_Delete(j);
    }
    tg_arena_free(&a);
    return bad ? 2 : 0;
}

int
tg_cmd_scan(int argc, char **argv)
{
    static const struct option opts[] = {
        { "config", required_argument, NULL, 'c' },
        { "pack", required_argument, NULL, 'p' },
        { "jsonl", no_argument, NULL, 'j' },
        { "min-score", required_argument, NULL, 'm' },
        { "no-allow", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config = NULL, *input = "-";
    const char *packs[MAX_PACKS];
    int npacks = 0, c, rc = 2;
    bool jsonl = false, have_min = false, no_allow = false;
    /* without a config: the default, role mailboxes are not personal data */
    static const struct tg_allow_entry builtin_role = { .source = TG_ALLOW_SRC_ROLE,
                                                        .entity = "EMAIL_ADDRESS" };
    static const struct tg_allow_entry builtin_ip = { .source = TG_ALLOW_SRC_SPECIAL_IP,
                                                      .entity = "IP_ADDRESS" };
    struct scan_allow al = { .on = false };
    double min_score = 0.5;
    struct tg_policy *pol = NULL;
    struct tg_pii_db *owned = NULL;
    const struct tg_pii_db *db = NULL;
    struct tg_pii_scratch *s = NULL;
    char *buf = NULL, *defpack = NULL;
    size_t len = 0;
    struct tg_err err = { 0 };

    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'c': config = optarg; break;
        case 'p':
            if (npacks == MAX_PACKS) {
                tg_cli_error(CMD, "too many --pack (max %d)", MAX_PACKS);
                return 2;
            }
            packs[npacks++] = optarg;
            break;
        case 'j': jsonl = true; break;
        case 'n': no_allow = true; break;
        case 'm': {
            char *end;
            min_score = strtod(optarg, &end);
            if (end == optarg || *end != '\0' || !(min_score >= 0 && min_score <= 1)) {
                tg_cli_error(CMD, "--min-score must be a number in [0, 1]");
                return 2;
            }
            have_min = true;
            break;
        }
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind < argc)
        input = argv[optind++];
    if (optind < argc) {
        tg_cli_error(CMD, "one input file at most");
        usage(stderr);
        return 2;
    }
    if (config != NULL) {
        pol = tg_cli_load_policy(CMD, config, false);
        if (pol == NULL)
            goto out;
        if (!have_min)
            min_score = pol->pii_min_score;
        if (npacks == 0) {
            db = pol->pii;
            if (db == NULL) {
                tg_cli_error(CMD, "%s: the policy has no PII packs", config);
                goto out;
            }
        }
    }
    if (db == NULL) {
        if (npacks == 0) {
            const char *dir = getenv("TOLLGATE_HOME");
            size_t n;
            if (dir == NULL || *dir == '\0')
                dir = TG_DATA_DIR;
            n = strlen(dir) + sizeof "/rules/pii/default.yaml";
            defpack = malloc(n);
            if (defpack == NULL)
                goto out;
            snprintf(defpack, n, "%s/rules/pii/default.yaml", dir);
            packs[npacks++] = defpack;
        }
        if (build_db(packs, npacks, &owned) != TG_OK)
            goto out;
        db = owned;
    }
    if (!no_allow) {
        al.on = true;
        if (pol != NULL) {
            al.sc.lists[0] = pol->pii_allow;
            al.sc.nlists[0] = pol->npii_allow;
            al.sc.role = pol->role_allow;
            al.sc.special_ip = pol->special_ip_allow;
        } else {
            al.sc.role = &builtin_role;
            al.sc.special_ip = &builtin_ip;
        }
    }
    if (tg_pii_scratch_new(db, &s) != TG_OK) {
        tg_cli_error(CMD, "out of memory");
        goto out;
    }
    if (tg_cli_read_file(input, SCAN_MAX_INPUT, &buf, &len, &err) != TG_OK) {
        tg_cli_error(CMD, "%s", err.msg);
        goto out;
    }
    if (jsonl) {
        rc = scan_jsonl(db, s, min_score, &al, buf, len);
    } else {
        struct tg_arena a;
        struct tg_findings f = { 0 };
        tg_arena_init(&a, 0);
        if (tg_pii_scan(db, s, buf, len, 0, min_score, &a, &f, &err) != TG_OK) {
            tg_cli_error(CMD, "%s", err.msg);
        } else {
            struct tg_allow_hit *hits;
            uint32_t nhits;
            if (scan_apply_allow(&al, buf, len, &a, &f, &hits, &nhits) != TG_OK) {
                tg_cli_error(CMD, "out of memory");
                tg_arena_free(&a);
                goto out;
            }
            print_human(buf, len, &f);
            report_allowed(hits, nhits);
            if (f.unscannable)
                tg_cli_error(CMD, "a scan limit was hit: the text could not be fully scanned "
                                  "(the gateway treats this as PII present)");
            rc = 0;
        }
        tg_arena_free(&a);
    }
out:
    if (fflush(stdout) != 0 && rc == 0)
        rc = 2;
    free(buf);
    free(defpack);
    tg_pii_scratch_free(s);
    tg_pii_db_free(owned);
    if (pol != NULL)
        tg_policy_unref(pol);
    return rc;
}
