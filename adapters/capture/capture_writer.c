/* capture_writer.c — serve's traffic recorder: one redacted JSON line per request. */
#include "adapters/capture/capture.h"
#include "engine/redact.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct tg_capture {
    int             fd;
    bool            redact;
    double          sample;
    pthread_mutex_t mu;       /* guards acc, counters and the write */
    double          acc;      /* running fraction for deterministic sampling */
    uint64_t        written, skipped;
    char           *path;
};

int
tg_capture_open(const struct tg_capture_cfg *cfg, struct tg_capture **out, struct tg_err *err)
{
    struct tg_capture *c = NULL;
    int rc = TG_EINVAL;

    if (cfg == NULL || cfg->path == NULL || cfg->path[0] == '\0')
        return tg_err_set(err, TG_EINVAL, "capture: no path");
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return tg_err_set(err, TG_ENOMEM, "capture: out of memory");
    c->fd = -1;
    c->path = strdup(cfg->path);
    if (c->path == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "capture: out of memory");
        goto out;
    }
    c->redact = cfg->redact;
    c->sample = isnan(cfg->sample) ? 0.0 : cfg->sample < 0 ? 0.0 : cfg->sample > 1 ? 1.0 : cfg->sample;
    /* 0600: captures hold prompts (redacted or not); nobody else may read them.
     * O_APPEND so several writers (and a restarted gateway) never overwrite. */
    c->fd = open(cfg->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (c->fd < 0) {
        rc = tg_err_set(err, TG_EIO, "capture: %s: %s", cfg->path, strerror(errno));
        goto out;
    }
    /* One writer per capture file, as for the audit log. */
    if (flock(c->fd, LOCK_EX | LOCK_NB) != 0) {
        rc = tg_err_set(err, TG_EBUSY, "capture: %s is in use by another tollgate: one writer per file",
                        cfg->path);
        goto out;
    }
    /* An existing file keeps its mode unless it is wider than 0600. */
    {
        struct stat sb;
        if (fstat(c->fd, &sb) == 0 && (sb.st_mode & 077) != 0)
            (void)fchmod(c->fd, sb.st_mode & 0700);
    }
    if (pthread_mutex_init(&c->mu, NULL) != 0) {
        rc = tg_err_set(err, TG_ENOMEM, "capture: mutex init failed");
        goto out;
    }
    *out = c;
    c = NULL;
    rc = TG_OK;
out:
    if (c != NULL) {
        if (c->fd >= 0)
            close(c->fd);
        free(c->path);
        free(c);
    }
    return rc;
}

/* Decide under the lock whether this request is sampled. */
static bool
sampled(struct tg_capture *c)
{
    bool take;
    pthread_mutex_lock(&c->mu);
    c->acc += c->sample;
    take = c->acc >= 1.0 - 1e-12;
    if (take)
        c->acc -= 1.0;
    else
        c->skipped++;
    pthread_mutex_unlock(&c->mu);
    return take;
}

static void
count_skip(struct tg_capture *c)
{
    pthread_mutex_lock(&c->mu);
    c->skipped++;
    pthread_mutex_unlock(&c->mu);
}

static void
format_ts(int64_t ts_us, char out[96])
{
    time_t s = (time_t)(ts_us / 1000000);
    long us = (long)(ts_us % 1000000);
    struct tm tm;

    if (us < 0) {
        us += 1000000;
        s -= 1;
    }
    gmtime_r(&s, &tm);
    snprintf(out, 96, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, us);
}

static cJSON *
str_or_null(const char *s)
{
    return s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* The record's fields other than "request", as one JSON object. */
static cJSON *
record_head(int64_t ts_us, const struct tg_request *req, const struct tg_decision *d,
            const struct tg_capture_extra *x)
{
    cJSON *o = cJSON_CreateObject(), *tags;
    char ts[96];

    if (o == NULL)
        return NULL;
    format_ts(ts_us, ts);
    cJSON_AddItemToObject(o, "ts", cJSON_CreateString(ts));
    if (x && x->id)
        cJSON_AddItemToObject(o, "id", cJSON_CreateString(x->id));
    /* `request` is the canonical (chat completions) form the policy decided
     * on, whatever the door: replaying it gives the same decision. */
    if (x && x->endpoint)
        cJSON_AddItemToObject(o, "endpoint", cJSON_CreateString(x->endpoint));
    cJSON_AddItemToObject(o, "tenant", str_or_null(req->tenant_id));
    cJSON_AddItemToObject(o, "feature", str_or_null(req->feature));
    cJSON_AddItemToObject(o, "category", str_or_null(req->category));
    /* Only the tags the client sent: tenant tags and content markings are
     * derived again from the policy on replay. */
    tags = cJSON_AddArrayToObject(o, "export_tags");
    for (uint32_t i = 0; tags && i < req->nexport_tags; i++)
        cJSON_AddItemToArray(tags, cJSON_CreateString(req->export_tags[i]));
    if (x && (x->prompt_tokens >= 0 || x->completion_tokens >= 0)) {
        cJSON *u = cJSON_AddObjectToObject(o, "usage");
        if (u && x->prompt_tokens >= 0)
            cJSON_AddNumberToObject(u, "prompt_tokens", (double)x->prompt_tokens);
        if (u && x->completion_tokens >= 0)
            cJSON_AddNumberToObject(u, "completion_tokens", (double)x->completion_tokens);
    }
    if (d) {
        cJSON_AddItemToObject(o, "decision", cJSON_CreateString(tg_verdict_name(d->verdict)));
        if (d->policy_version)
            cJSON_AddItemToObject(o, "policy_version", cJSON_CreateString(d->policy_version));
    }
    return o;
}

/* "body": the client's own bytes in its dialect, one line, with the same
 * placeholders as "request".  Left out when that cannot be done with
 * certainty (a value written differently in the body, or in a key): the
 * canonical "request" is still there, and replay uses it. */
static void
add_client_body(struct tg_capture *c, cJSON *head, const struct tg_request *req, const struct tg_decision *d,
                const struct tg_capture_extra *x, struct tg_arena *a)
{
    struct tg_err err = { 0 };
    char *red = NULL;
    size_t rl = 0;
    cJSON *b;

    if (c->redact && d != NULL && d->findings.n > 0) {
        if (tg_redact_values(x->client_body, x->client_len, req, &d->findings, a, &red, &rl, &err) != TG_OK)
            return;
        b = cJSON_ParseWithLength(red, rl);
    } else {
        b = cJSON_ParseWithLength(x->client_body, x->client_len);
    }
    if (b != NULL)
        cJSON_AddItemToObject(head, "body", b);
}

static int
write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return TG_EIO;
        }
        p += w;
        n -= (size_t)w;
    }
    return TG_OK;
}

int
tg_capture_record_ex(struct tg_capture *c, int64_t ts_us, const struct tg_request *req,
                     const struct tg_decision *d, const struct tg_capture_extra *x,
                     struct tg_arena *a)
{
    cJSON *head = NULL;
    char *head_s = NULL, *body_s = NULL, *line;
    const char *body;
    size_t body_len, head_len, n;
    struct tg_err err = {0};
    int rc = TG_EINVAL;

    if (c == NULL || req == NULL || req->body == NULL)
        return TG_EINVAL;
    if (!sampled(c))
        return TG_OK;
    if (c->redact) {
        /* Without a complete scan there is nothing to redact with: better
         * a missing record than a prompt with PII on disk. */
        if (d == NULL || d->findings.unscannable) {
            count_skip(c);
            return TG_OK;
        }
        if (d->findings.n > 0) {
            char *rb;
            if ((rc = tg_redact_body(req, &d->findings, a, &rb, &body_len, &err)) != TG_OK) {
                count_skip(c);
                return rc;
            }
            body = rb;
        } else {
            body = NULL;
        }
    } else {
        body = NULL;
    }
    if (body == NULL) {
        body_s = cJSON_PrintUnformatted(req->body);
        if (body_s == NULL) {
            rc = TG_ENOMEM;
            goto out;
        }
        body = body_s;
        body_len = strlen(body_s);
    }
    head = record_head(ts_us, req, d, x);
    if (head != NULL && x != NULL && x->client_body != NULL)
        add_client_body(c, head, req, d, x, a);
    head_s = head ? cJSON_PrintUnformatted(head) : NULL;
    if (head_s == NULL) {
        rc = TG_ENOMEM;
        goto out;
    }
    head_len = strlen(head_s);   /* "{...}" : splice the body before the final '}' */
    n = head_len - 1 + sizeof(",\"request\":") - 1 + body_len + 2;
    line = tg_arena_alloc(a, n + 1);
    if (line == NULL) {
        rc = TG_ENOMEM;
        goto out;
    }
    {
        size_t o = head_len - 1;
        memcpy(line, head_s, o);
        if (head_len > 2)
            line[o++] = ',';
        memcpy(line + o, "\"request\":", 10);
        o += 10;
        memcpy(line + o, body, body_len);
        o += body_len;
        line[o++] = '}';
        line[o++] = '\n';
        n = o;
    }
    pthread_mutex_lock(&c->mu);
    rc = write_all(c->fd, line, n);
    if (rc == TG_OK)
        c->written++;
    else
        c->skipped++;
    pthread_mutex_unlock(&c->mu);
out:
    cJSON_Delete(head);
    free(head_s);
    free(body_s);
    return rc;
}

int
tg_capture_record(struct tg_capture *c, int64_t ts_us, const struct tg_request *req,
                  const struct tg_decision *d, struct tg_arena *a)
{
    return tg_capture_record_ex(c, ts_us, req, d, NULL, a);
}

void
tg_capture_stats(struct tg_capture *c, uint64_t *written, uint64_t *skipped)
{
    pthread_mutex_lock(&c->mu);
    if (written)
        *written = c->written;
    if (skipped)
        *skipped = c->skipped;
    pthread_mutex_unlock(&c->mu);
}

void
tg_capture_close(struct tg_capture *c)
{
    if (c == NULL)
        return;
    if (c->fd >= 0) {
        (void)fsync(c->fd);
        close(c->fd);
    }
    pthread_mutex_destroy(&c->mu);
    free(c->path);
    free(c);
}
