/*
 * bench_config.c — configuration load time and memory (issue 2 targets:
 * registry + default packs <= 50 ms, loaded policy <= 10 MiB RSS).
 *
 * Measures, over N loads of CONFIG (default: the seed template):
 *   full    tg_policy_load(): YAML, registry merge, validation, PII packs
 *           and markings compiled, policy_version hashed;
 *   nocomp  the same with skip_compile (everything but PCRE2 compilation);
 *   yaml    baseline: libyaml parsing the same bytes (registry + config +
 *           packs + markings) to events and nothing else.
 * Prints medians in ms and the ratio full/yaml, then the RSS held by one
 * loaded policy (resident-set delta, /proc/self/statm) and the arena bytes.
 *
 *   bench_config [CONFIG] [N]
 */
#include "policy/policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <yaml.h>

static double
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int
cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof(*v), cmp_d);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long
rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

static char *
slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    long n;
    if (f == NULL)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc((size_t)n + 1);
    if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        *len = (size_t)n;
    }
    return buf;
}

/* Parse to events and drop them: the floor any YAML loader pays. */
static int
yaml_events(const char *buf, size_t len)
{
    yaml_parser_t p;
    yaml_event_t ev;
    int n = 0, done = 0;
    if (!yaml_parser_initialize(&p))
        return -1;
    yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
    while (!done) {
        if (!yaml_parser_parse(&p, &ev)) {
            n = -1;
            break;
        }
        done = ev.type == YAML_STREAM_END_EVENT;
        yaml_event_delete(&ev);
        n++;
    }
    yaml_parser_delete(&p);
    return n;
}

int
main(int argc, char **argv)
{
    const char *config = argc > 1 ? argv[1] : TG_DATA_DIR "/rules/examples/seed-template.yaml";
    int n = argc > 2 ? atoi(argv[2]) : 31;
    double *full = calloc((size_t)n, sizeof(double)), *nocomp = calloc((size_t)n, sizeof(double)),
           *base = calloc((size_t)n, sizeof(double));
    struct tg_err err = {0};
    struct tg_policy *p = NULL;
    char *bufs[70] = {0};
    size_t lens[70];
    int nfiles = 0;
    int rc = 1;

    if (n < 1 || full == NULL || nocomp == NULL || base == NULL)
        goto out;

    /* One load first, to hold it for the RSS figure and to learn the files. */
    long rss0 = rss_kib();
    struct tg_load_opts o = {0};
    if (tg_policy_load(config, &o, &p, &err) != TG_OK) {
        fprintf(stderr, "bench_config: %s: %s\n", config, err.msg);
        goto out;
    }
    long rss1 = rss_kib();

    /* The baseline parses exactly the files the load reads. */
    const char *files[70];
    files[nfiles++] = TG_DATA_DIR "/rules/registry.yaml";
    files[nfiles++] = config;
    for (uint32_t i = 0; i < p->npii_packs && nfiles < 68; i++)
        files[nfiles++] = p->pii_packs[i];
    files[nfiles++] = TG_DATA_DIR "/rules/export/markings.yaml";
    for (int i = 0; i < nfiles; i++)
        if ((bufs[i] = slurp(files[i], &lens[i])) == NULL) {
            fprintf(stderr, "bench_config: cannot read %s\n", files[i]);
            goto out;
        }

    for (int i = 0; i < n; i++) {
        struct tg_policy *q = NULL;
        double t0 = now_ms();
        if (tg_policy_load(config, &o, &q, &err) != TG_OK)
            goto out;
        full[i] = now_ms() - t0;
        tg_policy_unref(q);

        struct tg_load_opts o2 = { .skip_compile = true };
        t0 = now_ms();
        if (tg_policy_load(config, &o2, &q, &err) != TG_OK)
            goto out;
        nocomp[i] = now_ms() - t0;
        tg_policy_unref(q);

        t0 = now_ms();
        for (int j = 0; j < nfiles; j++)
            if (yaml_events(bufs[j], lens[j]) < 0)
                goto out;
        base[i] = now_ms() - t0;
    }
    double mf = median(full, n), mn = median(nocomp, n), mb = median(base, n);
    printf("config load (%s, %d runs, %d files: registry, config, %u pack(s), markings)\n",
           config, n, nfiles, p->npii_packs);
    printf("  full load (packs compiled)   median %8.3f ms   target <= 50 ms\n", mf);
    printf("  load without compiling packs median %8.3f ms\n", mn);
    printf("  baseline: libyaml events     median %8.3f ms\n", mb);
    printf("  ratio full/baseline %.1fx, no-compile/baseline %.1fx\n", mb > 0 ? mf / mb : 0,
           mb > 0 ? mn / mb : 0);
    printf("  memory: one loaded policy RSS delta %ld KiB (target <= 10240 KiB), policy arena %zu KiB\n",
           rss1 - rss0, p->arena.total / 1024);
    printf("  %u providers, %u models, %u rules, policy_version %.16s...\n", p->nproviders,
           p->nmodels, p->nrules, p->policy_version);
    rc = 0;
out:
    for (int i = 0; i < nfiles; i++)
        free(bufs[i]);
    if (rc != 0 && err.msg[0])
        fprintf(stderr, "bench_config: %s\n", err.msg);
    tg_policy_unref(p);
    free(full);
    free(nocomp);
    free(base);
    return rc;
}
