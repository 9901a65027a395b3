/*
 * writer_open.c — opening an audit log: the one-writer lock beside it, the
 * signing key (made on first use), and the chain resumed from the active
 * file (and the last rotated one): its last seq and hash, the entries since
 * the last seal, and a torn last line recorded instead of silently cut.
 */
#include "audit/writer_int.h"
#include "engine/limits.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/hmac.h>


/* ---- open: resume the chain ------------------------------------------------ */

struct scan {
    uint64_t seq;
    uint8_t  prev[32];
    char     key_id[33];
    uint64_t first_seq;       /* first entry in the scanned file */
    uint64_t leaves_first;
    uint8_t *leaves;
    size_t   nleaves, cap;
    /* torn tail: bytes after the last complete line */
    uint64_t torn_off;
    size_t   torn_len;
    uint8_t  torn_sha[32];
};

static int
read_all(const char *path, char **out, size_t *len, struct tg_err *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char *b;
    size_t off = 0;

    if (fd < 0) {
        if (errno == ENOENT) {
            *out = NULL;
            *len = 0;
            return TG_OK;
        }
        return tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
    }
    if (fstat(fd, &st) != 0 || (b = malloc((size_t)st.st_size + 1)) == NULL) {
        close(fd);
        return tg_err_set(err, TG_EIO, "%s: cannot read", path);
    }
    while (off < (size_t)st.st_size) {
        ssize_t r = read(fd, b + off, (size_t)st.st_size - off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        off += (size_t)r;
    }
    close(fd);
    *out = b;
    *len = off;
    return TG_OK;
}

static bool
scan_leaf(struct scan *s, uint64_t seq, const uint8_t h[32])
{
    if (s->nleaves == s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 1024;
        uint8_t *nl = realloc(s->leaves, ncap * 32);
        if (nl == NULL)
            return false;
        s->leaves = nl;
        s->cap = ncap;
    }
    if (s->nleaves == 0)
        s->leaves_first = seq;
    memcpy(s->leaves + 32 * s->nleaves++, h, 32);
    return true;
}

/* Walk one file, continuing the chain in s.  Complete lines must all be valid
 * entries (or junk accepted by a following recovery entry); only a final
 * partial line is a torn tail. */
static int
scan_file(const char *path, const char *b, size_t len, struct scan *s, struct tg_err *err)
{
    size_t pos = 0;

    s->torn_len = 0;
    while (pos < len) {
        const char *nl = memchr(b + pos, '\n', len - pos);
        struct tg__audit_line ln;
        const char *why;
        uint8_t h[32];

        if (nl == NULL) {
            s->torn_off = pos;
            s->torn_len = len - pos;
            tg__audit_sha256(b + pos, s->torn_len, s->torn_sha);
            break;
        }
        size_t n = (size_t)(nl - b) - pos;
        bool ok = tg__audit_parse_line(b + pos, n, &ln, &why) == TG_OK;
        if (ok) {
            tg__audit_sha256(b + pos, ln.prefix_len, h);
            ok = memcmp(h, ln.hash, 32) == 0 && ln.seq == s->seq + 1 && memcmp(ln.prev, s->prev, 32) == 0;
        }
        if (!ok) {
            /* Accept junk only when the next line is the recovery entry recording it. */
            const char *nl2 = memchr(nl + 1, '\n', len - (size_t)(nl + 1 - b));
            cJSON *j = NULL;
            bool rec = false;
            if (nl2 != NULL) {
                size_t n2 = (size_t)(nl2 - nl - 1);
                struct tg__audit_line l2;
                if (tg__audit_parse_line(nl + 1, n2, &l2, &why) == TG_OK &&
                    strcmp(l2.event, "recovery") == 0 && l2.seq == s->seq + 1 &&
                    (j = cJSON_ParseWithLength(nl + 1, n2)) != NULL)
                    rec = tg__audit_recovery_ok(j, s->seq, pos, b + pos, n);
                cJSON_Delete(j);
            }
            if (!rec)
                return tg_err_set(err, TG_ETAMPER,
                                  "%s: entry at byte %zu (after seq %llu) is not valid and not a torn "
                                  "tail; run `tollgate audit verify` and move the file aside",
                                  path, pos, (unsigned long long)s->seq);
            pos = (size_t)(nl - b) + 1;
            continue;
        }
        if (s->first_seq == 0)
            s->first_seq = ln.seq;
        s->seq = ln.seq;
        memcpy(s->prev, ln.hash, 32);
        memcpy(s->key_id, ln.key_id, 33);
        if (strcmp(ln.event, "seal") == 0) {
            s->nleaves = 0;
        } else if (strcmp(ln.event, "rotation") == 0) {
            cJSON *j = cJSON_ParseWithLength(b + pos, n);
            const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "rotation");
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "new_key_id");
            if (!cJSON_IsString(id) || strlen(id->valuestring) != 32) {
                cJSON_Delete(j);
                return tg_err_set(err, TG_ETAMPER, "%s: malformed rotation entry at seq %llu", path,
                                  (unsigned long long)ln.seq);
            }
            memcpy(s->key_id, id->valuestring, 33);
            cJSON_Delete(j);
            s->nleaves = 0;
        } else if (!scan_leaf(s, ln.seq, ln.hash)) {
            return tg_err_set(err, TG_ENOMEM, "out of memory");
        }
        pos = (size_t)(nl - b) + 1;
    }
    return TG_OK;
}

/* Highest PATH.<n> rotated file, or NULL. */
static char *
last_rotated(const char *path)
{
    char *d = strdup(path), *b = strdup(path), *best = NULL;
    unsigned long long bestn = 0;
    DIR *dir;
    struct dirent *de;

    if (d == NULL || b == NULL)
        goto out;
    const char *dn = dirname(d), *bn = basename(b);
    size_t bl = strlen(bn);
    if ((dir = opendir(dn)) == NULL)
        goto out;
    while ((de = readdir(dir)) != NULL) {
        char *end;
        if (strncmp(de->d_name, bn, bl) != 0 || de->d_name[bl] != '.' || de->d_name[bl + 1] < '0' ||
            de->d_name[bl + 1] > '9')
            continue;
        unsigned long long n = strtoull(de->d_name + bl + 1, &end, 10);
        if (*end != '\0' || (best != NULL && n <= bestn))
            continue;
        free(best);
        best = tg__aw_rotated_name(path, n);
        bestn = n;
    }
    closedir(dir);
out:
    free(d);
    free(b);
    return best;
}

static char *
pub_path_for(const char *key_path)
{
    size_t n = strlen(key_path);
    char *s = malloc(n + 5);
    if (s == NULL)
        return NULL;
    if (n > 4 && strcmp(key_path + n - 4, ".key") == 0)
        snprintf(s, n + 5, "%.*s.pub", (int)(n - 4), key_path);
    else
        snprintf(s, n + 5, "%s.pub", key_path);
    return s;
}

static int
load_or_create_key(struct tg_audit_log *l, bool *generated, struct tg_err *err)
{
    int rc = tg__audit_load_key(l->key_path, &l->key, err);
    char *pub;

    *generated = false;
    if (rc != TG_ENOTFOUND)
        return rc;
    if ((rc = tg__audit_gen_key(&l->key, err)) != TG_OK)
        return rc;
    if ((pub = pub_path_for(l->key_path)) == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    rc = tg__audit_write_keys(l->key, l->key_path, pub, err);
    free(pub);
    if (rc != TG_OK)
        return tg_err_set(err, rc, "audit.signing_key: cannot create %s (%s)", l->key_path, err->msg);
    *generated = true;
    return TG_OK;
}

void
tg__aw_free_log(struct tg_audit_log *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->qlen; i++)
        tg__aw_fail_item(&l->q[(l->qhead + i) % l->qcap]);
    if (l->fd >= 0)
        close(l->fd);
    if (l->lock_fd >= 0)
        close(l->lock_fd);   /* releases the flock */
    EVP_PKEY_free(l->key);
    EVP_MD_CTX_free(l->md);
    EVP_MD_CTX_free(l->sha);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->not_empty);
    pthread_cond_destroy(&l->not_full);
    free(l->q);
    free(l->pd);
    free(l->buf);
    free(l->path);
    free(l->key_path);
    tg__audit_hmac_free(atomic_load(&l->hmac));
    free(l);
}

static const char *
fsync_name(enum tg_fsync f)
{
    return f == TG_FSYNC_ALWAYS ? "always" : f == TG_FSYNC_NEVER ? "never" : "batch";
}

/*
 * One writer per log: two processes appending to one chain would make it
 * unverifiable for good.  The lock is on .<name>.lock beside the log, not
 * the log itself,
 * because rotation renames the log; it is held (flock, released by the
 * kernel even on kill -9) for the writer's whole life, and names its pid.
 */
static int
lock_log(struct tg_audit_log *l, struct tg_err *err)
{
    size_t n = strlen(l->path) + sizeof "/..lock";
    char *lp = malloc(n), pid[32] = "";
    const char *slash = strrchr(l->path, '/');
    int fd, k;

    if (lp == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    /* A hidden sibling, so that `audit verify log.*` globs never pick it up. */
    if (slash != NULL)
        snprintf(lp, n, "%.*s/.%s.lock", (int)(slash - l->path), l->path, slash + 1);
    else
        snprintf(lp, n, ".%s.lock", l->path);
    fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        int rc = tg_err_set(err, TG_EIO, "%s: %s", lp, strerror(errno));
        free(lp);
        return rc;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        ssize_t got = pread(fd, pid, sizeof pid - 1, 0);
        pid[got > 0 ? got : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        close(fd);
        k = tg_err_set(err, TG_EBUSY, e == EWOULDBLOCK
                       ? "audit log %s is in use by another tollgate (pid %s): one writer per log"
                       : "audit log %s: cannot lock: %s", l->path, e == EWOULDBLOCK ? (pid[0] ? pid : "?")
                                                                                       : strerror(e));
        free(lp);
        return k;
    }
    k = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)k, 0) != k)
        (void)0;   /* the pid is a courtesy for the message above; the lock is what counts */
    free(lp);
    l->lock_fd = fd;
    return TG_OK;
}

int
tg_audit_open(const struct tg_audit_cfg *cfg, struct tg_audit_log **out, struct tg_err *err)
{
    struct tg_audit_log *l = NULL;
    struct scan s;
    char *data = NULL, *rot = NULL, *rdata = NULL;
    size_t dlen = 0, rlen = 0;
    bool generated = false;
    int rc = TG_ENOMEM;

    memset(&s, 0, sizeof(s));
    if (cfg == NULL || cfg->path == NULL || cfg->signing_key == NULL)
        return tg_err_set(err, TG_EINVAL, "audit: path and signing_key are required");
    if ((l = calloc(1, sizeof(*l))) == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    l->fd = -1;
    l->lock_fd = -1;
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->not_empty, NULL);
    pthread_cond_init(&l->not_full, NULL);
    l->cfg = *cfg;
    l->path = strdup(cfg->path);
    l->key_path = strdup(cfg->signing_key);
    l->cfg.path = l->path;
    l->cfg.signing_key = l->key_path;
    l->qcap = cfg->queue_depth ? cfg->queue_depth : TG_AUDIT_QUEUE_DEPTH;
    l->q = calloc(l->qcap, sizeof(*l->q));
    l->cappd = MAX_BATCH + 16;
    l->pd = calloc(l->cappd, sizeof(*l->pd));
    l->md = EVP_MD_CTX_new();
    l->sha = EVP_MD_CTX_new();
    if (l->path == NULL || l->key_path == NULL || l->q == NULL || l->pd == NULL || l->md == NULL ||
        l->sha == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }

    if ((rc = lock_log(l, err)) != TG_OK)
        goto out;
    /* Resume: the active file, or (right after a file rotation) the last rotated file. */
    if ((rc = read_all(l->path, &data, &dlen, err)) != TG_OK)
        goto out;
    if (dlen == 0 && (rot = last_rotated(l->path)) != NULL) {
        if ((rc = read_all(rot, &rdata, &rlen, err)) != TG_OK)
            goto out;
        /* A rotated file starts mid-chain: take its first entry's seq/prev as given. */
        struct tg__audit_line first;
        const char *why;
        const char *nl = rdata ? memchr(rdata, '\n', rlen) : NULL;
        if (nl == NULL || tg__audit_parse_line(rdata, (size_t)(nl - rdata), &first, &why) != TG_OK) {
            rc = tg_err_set(err, TG_ETAMPER, "%s: cannot resume from rotated file", rot);
            goto out;
        }
        s.seq = first.seq - 1;
        memcpy(s.prev, first.prev, 32);
        if ((rc = scan_file(rot, rdata, rlen, &s, err)) != TG_OK)
            goto out;
        if (s.torn_len > 0) {
            rc = tg_err_set(err, TG_ETAMPER, "%s: rotated file has a torn tail", rot);
            goto out;
        }
        s.first_seq = 0;
    } else if (dlen > 0) {
        struct tg__audit_line first;
        const char *why;
        const char *nl = memchr(data, '\n', dlen);
        /* The active file may itself start mid-chain after a rotation. */
        if (nl != NULL && tg__audit_parse_line(data, (size_t)(nl - data), &first, &why) == TG_OK &&
            first.seq > 1) {
            s.seq = first.seq - 1;
            memcpy(s.prev, first.prev, 32);
        }
        if ((rc = scan_file(l->path, data, dlen, &s, err)) != TG_OK)
            goto out;
    }

    if ((rc = load_or_create_key(l, &generated, err)) != TG_OK)
        goto out;
    if ((rc = tg__audit_key_id(l->key, l->key_id)) != TG_OK ||
        (rc = tg__aw_derive_hmac_master(l)) != TG_OK) {
        rc = tg_err_set(err, TG_ECRYPTO, "%s: unusable key", l->key_path);
        goto out;
    }
    if (s.seq > 0 && strcmp(s.key_id, l->key_id) != 0) {
        rc = tg_err_set(err, TG_ECRYPTO,
                        "%s: log is signed by key %s but audit.signing_key is %s; rotate keys with "
                        "`tollgate audit rotate-key` instead of swapping the file",
                        l->path, s.key_id, l->key_id);
        goto out;
    }

    l->seq = s.seq;
    memcpy(l->prev, s.prev, 32);
    l->file_bytes = dlen;
    l->file_first_seq = s.first_seq;
    for (size_t i = 0; i < s.nleaves; i++)
        if (!tg__aw_leaf_push(l, s.leaves_first + i, s.leaves + 32 * i)) {
            rc = tg_err_set(err, TG_ENOMEM, "out of memory");
            goto out;
        }

    if (tg__aw_open_active(l) != TG_OK) {
        rc = tg_err_set(err, TG_EIO, "%s: %s", l->path, strerror(errno));
        goto out;
    }
    {
        char inner[512], ts[32], hex[65];
        int n;
        tg__audit_fmt_ts(tg__audit_now_us(), ts);
        if (s.torn_len > 0) {
            /* Keep the torn bytes in place (evidence), end them with a newline,
             * and record exactly what they were. */
            tg__audit_hex(s.torn_sha, 32, hex);
            n = snprintf(inner, sizeof(inner),
                         "\"ts\":\"%s\",\"recovery\":{\"after_seq\":%llu,\"offset\":%llu,"
                         "\"discarded_bytes\":%zu,\"discarded_sha256\":\"%s\"}",
                         ts, (unsigned long long)s.seq, (unsigned long long)s.torn_off, s.torn_len, hex);
            if (!tg__aw_buf_reserve(l, 1)) {
                rc = tg_err_set(err, TG_ENOMEM, "out of memory");
                goto out;
            }
            tg__aw_buf_put(l, "\n", 1);
            if ((rc = tg__aw_emit(l, "recovery", inner, (size_t)n, true, NULL)) != TG_OK) {
                rc = tg_err_set(err, rc, "cannot write recovery entry");
                goto out;
            }
        }
        n = snprintf(inner, sizeof(inner),
                     "\"ts\":\"%s\",\"start\":{\"version\":\"tollgate 0.1.0\",\"resumed_after_seq\":%llu,"
                     "\"key_generated\":%s,\"fsync\":\"%s\",\"sign\":\"%s\"}",
                     ts, (unsigned long long)s.seq, generated ? "true" : "false", fsync_name(cfg->fsync),
                     cfg->sign == TG_SIGN_EACH ? "each" : "seal");
        if ((rc = tg__aw_emit(l, "start", inner, (size_t)n, true, NULL)) != TG_OK) {
            rc = tg_err_set(err, rc, "cannot write start entry");
            goto out;
        }
        /* The start entry is durable before any request is served. */
        if (tg__aw_flush_buf(l) != TG_OK || fsync(l->fd) != 0) {
            rc = tg_err_set(err, TG_EIO, "%s: write failed: %s", l->path, strerror(errno));
            goto out;
        }
    }
    l->durable_seq = l->seq;
    if (pthread_create(&l->thr, NULL, tg__aw_writer_main, l) != 0) {
        rc = tg_err_set(err, TG_EIO, "cannot start the audit writer thread");
        goto out;
    }
    l->started = true;
    *out = l;
    l = NULL;
    rc = TG_OK;
out:
    free(data);
    free(rdata);
    free(rot);
    free(s.leaves);
    tg__aw_free_log(l);
    return rc;
}

