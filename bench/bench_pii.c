/*
 * bench_pii.c — PII scan throughput and per-request latency.
 *
 * 1. 32 MiB of generated English prompt text (deterministic PRNG) with
 *    sparse PII and many look-alikes (years, prices, versions, order ids,
 *    ms timestamps, UUIDs, hex hashes, times, URLs), scanned with the full
 *    default pack; reported in MB/s next to `grep -c @` over the same file
 *    in the same run, as a ratio (machines are shared and noisy).
 * 2. A ~2 KiB chat completions request: tg_pii_scan_request() median.
 */
#include "engine/limits.h"
#include "engine/pii.h"
#include "engine/request.h"
#include "policy/pii_pack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define CORPUS_BYTES (32u * 1024u * 1024u)

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint32_t
rnd(uint32_t n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng % n);
}

/* CPU time of this thread: "per core" figures that stay meaningful when
 * the machine is shared (wall time is reported alongside). */
static double
now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double
children_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_CHILDREN, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static const char *const words[] = {
    "the", "of", "and", "to", "a", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by",
    "on", "not", "he", "this", "are", "or", "his", "from", "at", "which", "but", "have", "an", "they",
    "you", "were", "their", "one", "all", "we", "can", "her", "has", "there", "been", "if", "more",
    "when", "will", "would", "who", "so", "no", "please", "summarize", "following", "customer",
    "report", "meeting", "project", "deadline", "quarterly", "revenue", "analysis", "document",
    "function", "error", "request", "response", "server", "database", "performance", "review",
    "Note:", "Example:", "well-known", "e-mail", "follow-up", "step-by-step", "state-of-the-art",
    "implementation", "configuration", "international", "responsibilities", "approximately",
};

static const char *
lookalike(char *b, size_t cap)
{
    switch (rnd(16)) {
    case 0: snprintf(b, cap, "%u", 1990 + rnd(35)); break;                           /* year */
    case 1: snprintf(b, cap, "$%u.%02u", rnd(5000), rnd(100)); break;                /* price */
    case 2: snprintf(b, cap, "v%u.%u.%u", rnd(10), rnd(30), rnd(100)); break;        /* version */
    case 3: snprintf(b, cap, "#%u", 100000 + rnd(900000)); break;                    /* order id */
    case 4: snprintf(b, cap, "17%011u", rnd(2000000000)); break;                     /* ms timestamp */
    case 5: snprintf(b, cap, "%08x-%04x-4%03x-a%03x-%08x%04x", rnd(0xffffffffu), rnd(0xffff),
                     rnd(0xfff), rnd(0xfff), rnd(0xffffffffu), rnd(0xffff)); break;   /* UUID */
    case 6: snprintf(b, cap, "%08x%08x%08x%08x%08x", rnd(0xffffffffu), rnd(0xffffffffu),
                     rnd(0xffffffffu), rnd(0xffffffffu), rnd(0xffffffffu)); break;    /* sha1 */
    case 7: snprintf(b, cap, "%u:%02u", rnd(24), rnd(60)); break;                    /* time */
    case 8: snprintf(b, cap, "https://docs.example.org/guide/section-%u.html", rnd(100)); break;
    case 9: snprintf(b, cap, "%u%%", rnd(100)); break;
    case 10: snprintf(b, cap, "2024-%02u-%02u", 1 + rnd(12), 1 + rnd(28)); break;    /* date */
    case 11: snprintf(b, cap, "978-%u-%02u-%06u-%u", rnd(10), rnd(100), rnd(1000000), rnd(10)); break;
    case 12: snprintf(b, cap, "%u,%03u", rnd(1000), rnd(1000)); break;
    case 13: snprintf(b, cap, "@%s", words[rnd(sizeof words / sizeof *words)]); break; /* mention */
    case 14: snprintf(b, cap, "%u", rnd(100)); break;
    default: snprintf(b, cap, "4%015u", rnd(2000000000)); break;                     /* Luhn-failing mostly */
    }
    return b;
}

static const char *
pii(char *b, size_t cap)
{
    switch (rnd(6)) {
    case 0: snprintf(b, cap, "jane.roe%u@example.com", rnd(1000)); break;
    case 1: snprintf(b, cap, "+1 (415) 555-%04u", rnd(10000)); break;
    case 2: snprintf(b, cap, "4111 1111 1111 1111"); break;
    case 3: snprintf(b, cap, "SSN 536-22-%04u", 1 + rnd(9999)); break;
    case 4: snprintf(b, cap, "10.%u.%u.%u", rnd(256), rnd(256), rnd(256)); break;
    default: snprintf(b, cap, "GB82 WEST 1234 5698 7654 32"); break;
    }
    return b;
}

/* permille of words that are numeric/code look-alikes */
static uint32_t lookalike_pm = 60;

static char *
make_corpus(size_t n)
{
    char *t = malloc(n + 1), tmp[96];
    size_t o = 0, col = 0;

    if (t == NULL)
        return NULL;
    while (o < n) {
        const char *w;
        uint32_t r = rnd(1000);
        if (r < lookalike_pm)
            w = lookalike(tmp, sizeof tmp);
        else if (r == 999 && rnd(8) == 0)
            w = pii(tmp, sizeof tmp);
        else
            w = words[rnd(sizeof words / sizeof *words)];
        size_t wl = strlen(w);
        if (o + wl + 1 > n)
            break;
        memcpy(t + o, w, wl);
        o += wl;
        col += wl + 1;
        t[o++] = col > 100 && rnd(4) == 0 ? '\n' : ' ';
        if (t[o - 1] == '\n')
            col = 0;
    }
    while (o < n)
        t[o++] = ' ';
    t[n] = '\0';
    return t;
}

/* A CSV export with a header line: ids, names, e-mail addresses, card and
 * NHS numbers, amounts with thousands separators, dates and notes; every
 * NHS value takes its context from the header (column context). */
static char *
make_csv(size_t n)
{
    static const char head[] = "id,name,email,card,nhs_number,amount,date,note\n";
    char *t = malloc(n + 1);
    size_t o = sizeof head - 1;
    uint32_t row = 0;

    if (t == NULL)
        return NULL;
    memcpy(t, head, o);
    while (o < n) {
        char line[256];
        /* findings stay under TG_MAX_FINDINGS at 4 MiB: e-mail addresses
         * in one row of 20, valid cards in one of 40, and the random NHS
         * numbers pass their check digit about one time in eleven */
        int l = snprintf(line, sizeof line, "%u,%s %s,%s%s,%s,943%07u,\"%u,%03u.%02u\",2026-%02u-%02u,%s %s\n",
                         ++row, words[rnd(sizeof words / sizeof *words)], words[rnd(sizeof words / sizeof *words)],
                         words[rnd(sizeof words / sizeof *words)], rnd(20) == 0 ? "@example.com" : "",
                         rnd(40) == 0 ? "4111 1111 1111 1111" : "4111 1111 1111 1112", rnd(10000000), rnd(100),
                         rnd(1000), rnd(100), 1 + rnd(12), 1 + rnd(28), words[rnd(sizeof words / sizeof *words)],
                         words[rnd(sizeof words / sizeof *words)]);
        if (l < 0 || o + (size_t)l > n)
            break;
        memcpy(t + o, line, (size_t)l);
        o += (size_t)l;
    }
    while (o < n)
        t[o++] = '\n';
    t[n] = '\0';
    return t;
}

static int
dcmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int
main(void)
{
    struct tg_arena pa, a;
    struct tg_pii_detector_spec *specs;
    size_t nspecs;
    struct tg_pii_db *db = NULL;
    struct tg_pii_scratch *s = NULL;
    struct tg_err err = { 0 };
    char *corpus, path[] = "/tmp/tg_bench_pii_XXXXXX";
    double best = 1e9, gbest = 1e9, wbest = 1e9;
    uint32_t found = 0;
    int i, fd;

    tg_arena_init(&pa, 0);
    tg_arena_init(&a, 1 << 20);
    /* BENCH_PII_PACK: another pack (e.g. a saved copy of an older default) to
     * compare against in the same session. */
    const char *pack = getenv("BENCH_PII_PACK") ? getenv("BENCH_PII_PACK") : TG_DATA_DIR "/rules/pii/default.yaml";
    if (tg_pii_pack_load(pack, &pa, &specs, &nspecs, NULL, NULL, &err) != TG_OK ||
        tg_pii_db_build(specs, nspecs, &db, &err) != TG_OK || tg_pii_scratch_new(db, &s) != TG_OK) {
        fprintf(stderr, "bench_pii: %s\n", err.msg);
        return 1;
    }
    /* BENCH_PII_ONLY=dense|sparse|csv|request|round1 runs one part (for perf) */
    const char *only = getenv("BENCH_PII_ONLY");
#define BENCH_RUN(part) (only == NULL || strcmp(only, (part)) == 0)
    double rate[2] = { 0, 0 };   /* dense, sparse with the pack above, for the round-1 comparison */
    for (int pass = 0; pass < 2; pass++) {
        if (!BENCH_RUN(pass == 0 ? "dense" : "sparse"))
            continue;
        lookalike_pm = pass == 0 ? 60 : 10;
        rng = 0x9e3779b97f4a7c15ull;
        best = gbest = wbest = 1e9;
        corpus = make_corpus(CORPUS_BYTES);
        if (corpus == NULL)
            return 1;
        if (getenv("BENCH_PII_DUMP") != NULL) {   /* inspect what it finds: PATH.0 dense, PATH.1 sparse */
            char dp[4096];
            snprintf(dp, sizeof dp, "%s.%d", getenv("BENCH_PII_DUMP"), pass);
            FILE *df = fopen(dp, "wb");
            if (df != NULL) {
                fwrite(corpus, 1, CORPUS_BYTES, df);
                fclose(df);
            }
        }
        for (i = 0; i < 3; i++) {
            struct tg_findings f = { 0 };
            double t0 = now(), w0 = wall(), dt;
            tg_arena_reset(&a);
            if (tg_pii_scan(db, s, corpus, CORPUS_BYTES, 0, 0.5, &a, &f, &err) != TG_OK) {
                fprintf(stderr, "bench_pii: %s\n", err.msg);
                return 1;
            }
            dt = now() - t0;
            if (dt < best)
                best = dt;
            if (wall() - w0 < wbest)
                wbest = wall() - w0;
            found = f.n;
        }
        strcpy(path, "/tmp/tg_bench_pii_XXXXXX");
        fd = mkstemp(path);
        if (fd >= 0 && write(fd, corpus, CORPUS_BYTES) == (ssize_t)CORPUS_BYTES) {
            char cmd[128];
            snprintf(cmd, sizeof cmd, "grep -c @ %s >/dev/null", path);
            for (i = 0; i < 3; i++) {
                double t0 = children_cpu();
                if (system(cmd) == -1)
                    break;
                double dt = children_cpu() - t0;
                if (dt > 0 && dt < gbest)
                    gbest = dt;
            }
        }
        if (fd >= 0) {
            close(fd);
            unlink(path);
        }
        printf("pii scan: %u MiB English text (%.0f%% look-alike words), %zu detectors, %u findings: %.1f MB/s per core "
               "(CPU time, best of 3; wall %.1f MB/s)\n",
               CORPUS_BYTES >> 20, lookalike_pm / 10.0, tg_pii_db_count(db), found, CORPUS_BYTES / best / 1e6, CORPUS_BYTES / wbest / 1e6);
        printf("grep -c @ same file: %.1f MB/s per core (CPU time incl. process start); ratio pii/grep = %.3f\n",
               CORPUS_BYTES / gbest / 1e6, gbest / best);
        rate[pass] = CORPUS_BYTES / best / 1e6;
        if (BENCH_RUN("round1") || only == NULL) {
            /* the same corpus with round 1's 26-detector pack, this scanner */
            struct tg_arena ra;
            struct tg_pii_detector_spec *rs;
            size_t rn;
            struct tg_pii_db *rdb = NULL;
            struct tg_pii_scratch *rsc = NULL;
            double rbest = 1e9;
            tg_arena_init(&ra, 0);
            if (tg_pii_pack_load(TG_DATA_DIR "/bench/packs/round1-26.yaml", &ra, &rs, &rn, NULL, NULL, &err) == TG_OK &&
                tg_pii_db_build(rs, rn, &rdb, &err) == TG_OK && tg_pii_scratch_new(rdb, &rsc) == TG_OK) {
                for (i = 0; i < 3; i++) {
                    struct tg_findings f = { 0 };
                    double t0 = now(), dt;
                    tg_arena_reset(&a);
                    if (tg_pii_scan(rdb, rsc, corpus, CORPUS_BYTES, 0, 0.5, &a, &f, &err) != TG_OK)
                        break;
                    dt = now() - t0;
                    if (dt < rbest)
                        rbest = dt;
                }
                printf("same corpus, round 1's %zu-detector pack (bench/packs/round1-26.yaml): %.1f MB/s per core; "
                       "this pack runs at %.2fx of it\n", tg_pii_db_count(rdb), CORPUS_BYTES / rbest / 1e6,
                       rate[pass] / (CORPUS_BYTES / rbest / 1e6));
            } else {
                printf("round-1 pack: %s\n", err.msg);
            }
            tg_pii_scratch_free(rsc);
            tg_pii_db_free(rdb);
            tg_arena_free(&ra);
        }


        free(corpus);
    }
    /* CSV pastes of 1 and 4 MiB: the same rate for both shows the column
     * context costs the same per row however far the header is */
    for (int mb = 1; mb <= 4 && BENCH_RUN("csv"); mb *= 4) {
        size_t cn = (size_t)mb << 20;
        char *csv;
        rng = 7;
        csv = make_csv(cn);
        if (csv == NULL)
            return 1;
        best = 1e9;
        for (i = 0; i < 3; i++) {
            struct tg_findings f = { 0 };
            double t0 = now(), dt;
            tg_arena_reset(&a);
            if (tg_pii_scan(db, s, csv, cn, 0, 0.5, &a, &f, &err) != TG_OK) {
                fprintf(stderr, "bench_pii: %s\n", err.msg);
                return 1;
            }
            dt = now() - t0;
            if (dt < best)
                best = dt;
            found = f.n;
        }
        printf("pii scan: %d MiB CSV with a header line, %u findings%s: %.1f MB/s per core (CPU time, best of 3)\n",
               mb, found, found >= TG_MAX_FINDINGS ? " (the findings cap)" : "", cn / best / 1e6);
        if (mb == 1) {
            /* the same rows with the header blanked out: no column can be
             * named, so this is the scan without column context; the
             * ratio is what the header lookups cost */
            double hbest = best, nbest = 1e9;
            uint32_t nfound = 0;
            char *nl = memchr(csv, '\n', cn);
            if (nl != NULL)
                memset(csv, ' ', (size_t)(nl - csv));
            for (i = 0; i < 3; i++) {
                struct tg_findings f = { 0 };
                double t0 = now(), dt;
                tg_arena_reset(&a);
                if (tg_pii_scan(db, s, csv, cn, 0, 0.5, &a, &f, &err) != TG_OK)
                    break;
                dt = now() - t0;
                if (dt < nbest)
                    nbest = dt;
                nfound = f.n;
            }
            printf("same rows, header blanked (no column context), %u findings: %.1f MB/s per core; "
                   "with the header at %.2fx of that\n", nfound, cn / nbest / 1e6, nbest / hbest);
        }
        free(csv);
    }
    /* 2 KiB chat request */
    if (BENCH_RUN("request")) {
        char body[4096], content[2100];
        struct tg_request req;
        double t[2001];
        size_t cl = 0;
        rng = 42;
        while (cl < 1900) {
            const char *w = rnd(30) == 0 ? lookalike((char[96]){ 0 }, 96) : words[rnd(sizeof words / sizeof *words)];
            size_t wl = strlen(w);
            memcpy(content + cl, w, wl);
            cl += wl;
            content[cl++] = ' ';
        }
        content[cl] = '\0';
        snprintf(body, sizeof body,
                 "{\"model\":\"gpt-4o\",\"messages\":[{\"role\":\"system\",\"content\":\"You are helpful.\"},"
                 "{\"role\":\"user\",\"content\":\"%s Contact jane@example.com.\"}]}", content);
        tg_arena_reset(&a);
        if (tg_request_parse(body, strlen(body), &a, &req, &err) != TG_OK) {
            fprintf(stderr, "bench_pii: request: %s\n", err.msg);
            return 1;
        }
        for (i = 0; i < 2001; i++) {
            struct tg_arena ra;
            struct tg_findings f = { 0 };
            tg_arena_init(&ra, 4096);
            double t0 = now();
            tg_pii_scan_request(db, s, &req, 0.5, &ra, &f, &err);
            t[i] = now() - t0;
            tg_arena_free(&ra);
        }
        qsort(t, 2001, sizeof *t, dcmp);
        printf("2 KiB chat request (%zu bytes body): median %.2f us, p99 %.2f us (target <= 10 us)\n",
               strlen(body), t[1000] * 1e6, t[1980] * 1e6);
        tg_request_dispose(&req);
    }
    tg_pii_scratch_free(s);
    tg_pii_db_free(db);
    tg_arena_free(&a);
    tg_arena_free(&pa);
    return 0;
}
