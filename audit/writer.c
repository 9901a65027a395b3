/*
 * writer.c — the audit log writer: bounded queue, one writer thread, group
 * commit, file rotation, key rotation, a full disk survived.  Framing an
 * entry is writer_emit.c; opening (resume, keys, lock) is writer_open.c.
 *
 * Chain state (seq, prev, Merkle leaves, key) is touched by tg_audit_open
 * before the thread starts and by the writer thread afterwards, never by
 * producers: they only enqueue under the mutex.
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


/*
 * Write the batch buffer; fsync per mode.  On a write or sync failure the
 * file is cut back to where the batch began (a half-written line would make
 * the log unverifiable), the batch is kept for a retry and the log is
 * degraded: producers are refused until retry_degraded() succeeds.
 */
int
tg__aw_flush_buf(struct tg_audit_log *l)
{
    size_t off = 0;
    int e = 0;

    while (off < l->len) {
        ssize_t w = write(l->fd, l->buf + off, l->len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            e = errno;
            goto bad;
        }
        off += (size_t)w;
    }
    /* After a failed fsync the kernel may have dropped the dirty pages: the
     * bytes count as unwritten and go again. */
    if ((l->cfg.fsync == TG_FSYNC_ALWAYS && fsync(l->fd) != 0) ||
        (l->cfg.fsync == TG_FSYNC_BATCH && fdatasync(l->fd) != 0)) {
        e = errno;
        goto bad;
    }
    l->file_bytes += l->len;
    l->len = 0;
    l->durable_seq = l->seq;
    return TG_OK;
bad:
    (void)ftruncate(l->fd, (off_t)l->file_bytes);
    if (!atomic_load(&l->degraded)) {
        l->io_errno = e;
        l->late_from = l->durable_seq + 1;
        atomic_store(&l->degraded, true);
    }
    l->retry_at = tg__aw_mono_us() + RETRY_US;
    return TG_EIO;
}

/* Degraded: write the held batch and, once, a signed recovery entry saying
 * which entries were written late (their requests were answered 503, so no
 * answer left unaudited) and why.  The chain stays whole. */
static void
retry_degraded(struct tg_audit_log *l)
{
    if (!l->recovery_queued) {
        char inner[256];
        int n = snprintf(inner, sizeof inner,
                         "\"reason\":\"write_failed\",\"error\":\"%s\",\"late_from_seq\":%llu,"
                         "\"late_to_seq\":%llu,\"answered\":503",
                         l->io_errno == ENOSPC ? "ENOSPC" : l->io_errno == EFBIG ? "EFBIG"
                         : l->io_errno == EDQUOT ? "EDQUOT" : "EIO",
                         (unsigned long long)l->late_from, (unsigned long long)l->seq);
        if (n > 0 && (size_t)n < sizeof inner && tg__aw_emit(l, "recovery", inner, (size_t)n, true, NULL) == TG_OK)
            l->recovery_queued = true;
        else
            atomic_store(&l->failed, true);   /* cannot even say what happened */
    }
    if (tg__aw_flush_buf(l) == TG_OK) {
        l->recovery_queued = false;
        l->late_from = 0;
        atomic_store(&l->degraded, false);
    }
}

static void
run_dones(struct tg_audit_log *l, int status)
{
    for (size_t i = 0; i < l->npd; i++)
        if (l->pd[i].done != NULL)
            l->pd[i].done(l->pd[i].arg, status, l->pd[i].seq);
    l->npd = 0;
}

static int
flush(struct tg_audit_log *l)
{
    int rc = atomic_load(&l->failed) || atomic_load(&l->degraded) ? TG_EIO : tg__aw_flush_buf(l);
    run_dones(l, rc == TG_OK ? TG_OK : TG_EIO);
    return rc;
}

char *
tg__aw_rotated_name(const char *path, uint64_t first_seq)
{
    size_t n = strlen(path) + 32;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "%s.%012llu", path, (unsigned long long)first_seq);
    return s;
}

static void
fsync_dir(const char *path)
{
    char *tmp = strdup(path);
    if (tmp == NULL)
        return;
    int dfd = open(dirname(tmp), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    free(tmp);
}

int
tg__aw_open_active(struct tg_audit_log *l)
{
    l->fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    return l->fd < 0 ? TG_EIO : TG_OK;
}

/* Size-based file rotation: seal, flush, rename PATH -> PATH.<first seq>, reopen. */
static int
rotate_file(struct tg_audit_log *l)
{
    char *to;
    int rc;

    if ((rc = tg__aw_emit_seal(l)) != TG_OK)
        return rc;
    if ((rc = flush(l)) != TG_OK)
        return rc;
    if (fsync(l->fd) != 0 || (to = tg__aw_rotated_name(l->path, l->file_first_seq)) == NULL) {
        atomic_store(&l->failed, true);
        return TG_EIO;
    }
    close(l->fd);
    l->fd = -1;
    rc = rename(l->path, to) == 0 ? TG_OK : TG_EIO;
    free(to);
    if (rc == TG_OK)
        rc = tg__aw_open_active(l);
    if (rc != TG_OK) {
        atomic_store(&l->failed, true);
        return TG_EIO;
    }
    fsync_dir(l->path);
    l->file_bytes = 0;
    l->file_first_seq = 0;
    return TG_OK;
}

static bool
valid_event(const char *s)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (!((s[n] >= 'a' && s[n] <= 'z') || s[n] == '_') || n >= TG__AUDIT_EVENT_MAX)
            return false;
    return n > 0;
}

static int
write_entry(struct tg_audit_log *l, struct item *it)
{
    char event[TG__AUDIT_EVENT_MAX + 1] = "decision";
    const cJSON *ev;
    uint64_t seq = 0;
    int rc;

    if (it->text != NULL) {
        /* Rendered by the producer: only the header and suffix are ours. */
        if (valid_event(it->text_event))
            snprintf(event, sizeof(event), "%s", it->text_event);
        rc = tg__aw_emit(l, event, it->text, it->text_len, l->cfg.sign == TG_SIGN_EACH, &seq);
    } else {
        ev = cJSON_GetObjectItemCaseSensitive(it->entry, "event");
        if (cJSON_IsString(ev) && valid_event(ev->valuestring))
            snprintf(event, sizeof(event), "%s", ev->valuestring);
        rc = tg__aw_emit_json(l, event, it->entry, l->cfg.sign == TG_SIGN_EACH, &seq);
    }
    if (rc == TG_OK && l->npd < l->cappd) {
        l->pd[l->npd].done = it->done;
        l->pd[l->npd].arg = it->arg;
        l->pd[l->npd].seq = seq;
        l->npd++;
    }
    return rc;
}

int
tg__aw_derive_hmac_master(struct tg_audit_log *l)
{
    uint8_t raw[32], master[32];
    size_t n = sizeof(raw);
    static const char label[] = "tollgate audit request hmac v1";
    struct tg__audit_hmac *h;
    int rc;

    if (EVP_PKEY_get_raw_private_key(l->key, raw, &n) != 1 || n != 32) {
        ERR_clear_error();
        return TG_ECRYPTO;
    }
    /* HMAC(signing key, label): the request hash keys cannot be derived from
     * anything in the log, and change with the signing key. */
    if (HMAC(EVP_sha256(), raw, 32, (const unsigned char *)label, sizeof(label) - 1, master, NULL) == NULL)
        rc = TG_ECRYPTO;
    else
        rc = tg__audit_hmac_new(master, atomic_load(&l->hmac), &h);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(master, sizeof(master));
    if (rc == TG_OK)
        atomic_store(&l->hmac, h);
    return rc;
}

static int
write_rotation(struct tg_audit_log *l, EVP_PKEY *newkey)
{
    char inner[320], ts[32], newid[33], pubhex[65];
    uint8_t raw[32];
    size_t rawn = sizeof(raw);
    int n, rc;

    if (tg__audit_key_id(newkey, newid) != TG_OK ||
        EVP_PKEY_get_raw_public_key(newkey, raw, &rawn) != 1 || rawn != 32)
        return TG_ECRYPTO;
    /* Entries so far are sealed by the old key, so no old entry can later be
     * covered by a seal of the new one. */
    if ((rc = tg__aw_emit_seal(l)) != TG_OK)
        return rc;
    tg__audit_hex(raw, 32, pubhex);
    tg__audit_fmt_ts(tg__audit_now_us(), ts);
    n = snprintf(inner, sizeof(inner), "\"ts\":\"%s\",\"rotation\":{\"new_key_id\":\"%s\",\"new_public_key\":\"%s\"}",
                 ts, newid, pubhex);
    if (n < 0 || (size_t)n >= sizeof(inner))
        return TG_EINVAL;
    if ((rc = tg__aw_emit(l, "rotation", inner, (size_t)n, true, NULL)) != TG_OK)
        return rc;
    l->mt.n = 0;   /* the rotation entry is signed by itself; the new key's first seal starts after it */
    EVP_PKEY_free(l->key);
    l->key = newkey;
    /* A context initialised with the old key must not be reused for the new one. */
    EVP_MD_CTX_reset(l->md);
    memcpy(l->key_id, newid, sizeof(newid));
    return tg__aw_derive_hmac_master(l);
}

void
tg__aw_fail_item(struct item *it)
{
    if (it->kind == ITEM_ROTATE_KEY)
        EVP_PKEY_free(it->newkey);
    cJSON_Delete(it->entry);
    free(it->text);
    if (it->done != NULL)
        it->done(it->arg, TG_EIO, 0);
}

void *
tg__aw_writer_main(void *arg)
{
    struct tg_audit_log *l = arg;
    struct item *batch = malloc(sizeof(*batch) * MAX_BATCH);
    uint32_t seal_every = l->cfg.seal_every ? l->cfg.seal_every : DEFAULT_SEAL_EVERY;
    int64_t interval = (int64_t)(l->cfg.seal_interval_ms ? l->cfg.seal_interval_ms : DEFAULT_SEAL_INTERVAL_MS) * 1000;

    if (batch == NULL)
        atomic_store(&l->failed, true);
    bool napped_work = false;

    for (;;) {
        size_t n = 0;
        bool stop;

        pthread_mutex_lock(&l->mu);
        if (napped_work && l->cfg.fsync == TG_FSYNC_NEVER && l->qlen < NAP_WAKE_QLEN && !l->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += NAP_US * 1000L;
            if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
            }
            l->writer_waiting = l->writer_napping = true;
            pthread_cond_timedwait(&l->not_empty, &l->mu, &ts);
            l->writer_waiting = l->writer_napping = false;
        }
        while (l->qlen == 0 && !l->stopping) {
            if (atomic_load(&l->degraded) && !atomic_load(&l->failed)) {
                int64_t wait = l->retry_at - tg__aw_mono_us();
                struct timespec ts;
                if (wait <= 0)
                    break;   /* time to try the disk again */
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += wait / 1000000;
                ts.tv_nsec += (long)(wait % 1000000) * 1000;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                l->writer_waiting = true;
                pthread_cond_timedwait(&l->not_empty, &l->mu, &ts);
                l->writer_waiting = false;
            } else if (l->mt.n > 0) {
                int64_t wait = l->pending_since + interval - tg__aw_mono_us();
                struct timespec ts;
                if (wait <= 0)
                    break;   /* heartbeat: seal what is pending */
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += wait / 1000000;
                ts.tv_nsec += (long)(wait % 1000000) * 1000;
                if (ts.tv_nsec >= 1000000000L) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000L;
                }
                l->writer_waiting = true;
                pthread_cond_timedwait(&l->not_empty, &l->mu, &ts);
                l->writer_waiting = false;
            } else {
                l->writer_waiting = true;
                pthread_cond_wait(&l->not_empty, &l->mu);
                l->writer_waiting = false;
            }
        }
        while (batch != NULL && l->qlen > 0 && n < MAX_BATCH) {
            batch[n++] = l->q[l->qhead];
            l->qhead = (l->qhead + 1) % l->qcap;
            l->qlen--;
        }
        stop = l->stopping && l->qlen == 0;
        napped_work = n > 0;
        if (n > 0)
            pthread_cond_broadcast(&l->not_full);
        pthread_mutex_unlock(&l->mu);

        if (atomic_load(&l->degraded) && !atomic_load(&l->failed) && (stop || tg__aw_mono_us() >= l->retry_at))
            retry_degraded(l);
        for (size_t i = 0; i < n; i++) {
            struct item *it = &batch[i];
            int rc = TG_EIO;
            if (atomic_load(&l->failed) || atomic_load(&l->degraded)) {
                tg__aw_fail_item(it);
                continue;
            }
            if (it->kind == ITEM_ROTATE_KEY) {
                rc = write_rotation(l, it->newkey);
                if (rc != TG_OK)
                    EVP_PKEY_free(it->newkey);
                it->newkey = NULL;
                if (rc == TG_OK) {
                    rc = flush(l);
                    if (it->done)
                        it->done(it->arg, rc, l->seq);
                } else if (it->done) {
                    it->done(it->arg, rc, 0);
                }
                continue;
            }
            rc = write_entry(l, it);
            cJSON_Delete(it->entry);
            free(it->text);
            if (rc != TG_OK) {
                /* An entry we cannot format is an entry we cannot record: fail closed. */
                atomic_store(&l->failed, true);
                if (it->done)
                    it->done(it->arg, TG_EIO, 0);
                continue;
            }
            if (l->mt.n >= seal_every && tg__aw_emit_seal(l) != TG_OK)
                atomic_store(&l->failed, true);
            if (l->cfg.rotate_bytes > 0 && l->file_bytes + l->len >= l->cfg.rotate_bytes &&
                !atomic_load(&l->failed))
                (void)rotate_file(l);
        }
        if (!atomic_load(&l->failed) && !atomic_load(&l->degraded) && l->mt.n > 0 &&
            (stop || tg__aw_mono_us() - l->pending_since >= interval) && tg__aw_emit_seal(l) != TG_OK)
            atomic_store(&l->failed, true);
        if (l->len > 0 || l->npd > 0)
            (void)flush(l);
        if (stop)
            break;
    }
    free(batch);
    return NULL;
}

/* Queue one entry (a tree or rendered text; exactly one is non-NULL).
 * Ownership passes to the queue on TG_OK; otherwise the caller still owns it. */
static int
enqueue(struct tg_audit_log *l, cJSON *entry, char *text, size_t text_len, const char *text_event,
        tg_audit_done_fn done, void *arg)
{
    int rc = TG_EIO;

    pthread_mutex_lock(&l->mu);
    while (l->qlen == l->qcap && !l->stopping && !atomic_load(&l->failed))
        pthread_cond_wait(&l->not_full, &l->mu);
    if (!l->stopping && !atomic_load(&l->failed) && !atomic_load(&l->degraded)) {
        struct item *it = &l->q[(l->qhead + l->qlen) % l->qcap];
        it->kind = ITEM_ENTRY;
        it->entry = entry;
        it->text = text;
        it->text_len = text_len;
        it->text_event = text_event;
        it->newkey = NULL;
        it->done = done;
        it->arg = arg;
        l->qlen++;
        /* Wake the writer only if it sleeps: under load it is busy and the
         * producer's cost stays a lock round trip. */
        if (l->writer_waiting && (!l->writer_napping || l->qlen >= NAP_WAKE_QLEN))
            pthread_cond_signal(&l->not_empty);
        rc = TG_OK;
    }
    pthread_mutex_unlock(&l->mu);
    return rc;
}

int
tg_audit_append(struct tg_audit_log *l, cJSON *entry, tg_audit_done_fn done, void *arg)
{
    int rc;

    if (l == NULL || entry == NULL) {
        cJSON_Delete(entry);
        return TG_EINVAL;
    }
    if ((rc = enqueue(l, entry, NULL, 0, NULL, done, arg)) != TG_OK)
        cJSON_Delete(entry);
    return rc;
}

int
tg_audit_append_text(struct tg_audit_log *l, struct tg_audit_text *text, tg_audit_done_fn done, void *arg)
{
    struct tg_audit_text t = { NULL, 0, NULL };
    int rc;

    /* Ours in every case: the caller's struct is emptied before anything can fail. */
    if (text != NULL) {
        t = *text;
        *text = (struct tg_audit_text){ NULL, 0, NULL };
    }
    if (l == NULL || t.buf == NULL || t.event == NULL) {
        free(t.buf);
        return TG_EINVAL;
    }
    if ((rc = enqueue(l, NULL, t.buf, t.len, t.event, done, arg)) != TG_OK)
        free(t.buf);
    return rc;
}

struct rot_wait {
    pthread_mutex_t mu;
    pthread_cond_t  cv;
    bool            done;
    int             status;
};

static void
rot_done(void *arg, int status, uint64_t seq)
{
    struct rot_wait *w = arg;
    (void)seq;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->status = status;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

int
tg_audit_rotate_key(struct tg_audit_log *l, const char *new_key_path, char new_key_id[33], struct tg_err *err)
{
    EVP_PKEY *k = NULL;
    struct rot_wait w = { .done = false, .status = TG_EIO };
    int rc = tg__audit_load_key(new_key_path, &k, err);
    bool queued = false;

    if (rc != TG_OK)
        return rc;
    if (tg__audit_key_id(k, new_key_id) != TG_OK) {
        EVP_PKEY_free(k);
        return tg_err_set(err, TG_ECRYPTO, "%s: unusable key", new_key_path);
    }
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    pthread_mutex_lock(&l->mu);
    while (l->qlen == l->qcap && !l->stopping && !atomic_load(&l->failed))
        pthread_cond_wait(&l->not_full, &l->mu);
    if (!l->stopping && !atomic_load(&l->failed)) {
        struct item *it = &l->q[(l->qhead + l->qlen) % l->qcap];
        it->kind = ITEM_ROTATE_KEY;
        it->entry = NULL;
        it->text = NULL;
        it->newkey = k;
        it->done = rot_done;
        it->arg = &w;
        l->qlen++;
        queued = true;
        pthread_cond_signal(&l->not_empty);
    }
    pthread_mutex_unlock(&l->mu);
    if (!queued) {
        EVP_PKEY_free(k);
        rc = tg_err_set(err, TG_EIO, "audit log is closed or failed");
        goto out;
    }
    pthread_mutex_lock(&w.mu);
    while (!w.done)
        pthread_cond_wait(&w.cv, &w.mu);
    pthread_mutex_unlock(&w.mu);
    rc = w.status == TG_OK ? TG_OK : tg_err_set(err, TG_EIO, "key rotation entry could not be written");
out:
    pthread_mutex_destroy(&w.mu);
    pthread_cond_destroy(&w.cv);
    return rc;
}

void
tg_audit_request_hmac(const struct tg_audit_log *l, const char *tenant, const void *body, size_t len,
                      uint8_t out[32])
{
    /* Per-tenant key = HMAC(master, tenant): equal prompts of two tenants do
     * not collide.  Keyed states are cached per tenant (util.c). */
    tg__audit_hmac_request(atomic_load(&l->hmac), tenant, body, len, out);
}

size_t
tg_audit_queue_depth(const struct tg_audit_log *l)
{
    size_t n;
    pthread_mutex_lock((pthread_mutex_t *)&l->mu);
    n = l->qlen;
    pthread_mutex_unlock((pthread_mutex_t *)&l->mu);
    return n;
}

bool
tg_audit_healthy(const struct tg_audit_log *l)
{
    return l != NULL && !atomic_load(&l->failed) && !atomic_load(&l->degraded);
}

const char *
tg_audit_key_id(const struct tg_audit_log *l)
{
    return l->key_id;
}

int
tg_audit_close(struct tg_audit_log *l, struct tg_err *err)
{
    int rc = TG_OK;

    if (l == NULL)
        return TG_OK;
    pthread_mutex_lock(&l->mu);
    l->stopping = true;
    pthread_cond_broadcast(&l->not_empty);
    pthread_cond_broadcast(&l->not_full);
    pthread_mutex_unlock(&l->mu);
    if (l->started)
        pthread_join(l->thr, NULL);
    if (atomic_load(&l->failed))
        rc = tg_err_set(err, TG_EIO, "%s: audit log write failed", l->path);
    else if (atomic_load(&l->degraded))
        /* The file ends at its last whole entry and verifies; the held
         * entries' requests were answered 503.  Said, not fatal. */
        fprintf(stderr, "tollgate: audit: %s: %s at shutdown; entries %llu..%llu were not written "
                "(their requests were refused)\n", l->path, strerror(l->io_errno),
                (unsigned long long)l->late_from, (unsigned long long)l->seq);
    else if (l->fd >= 0 && fsync(l->fd) != 0)
        rc = tg_err_set(err, TG_EIO, "%s: fsync: %s", l->path, strerror(errno));
    tg__aw_free_log(l);
    return rc;
}

int
tg_audit_keygen(const char *prefix, char key_id[33], struct tg_err *err)
{
    size_t n = strlen(prefix) + 5;
    char *kp = malloc(n), *pp = malloc(n);
    EVP_PKEY *k = NULL;
    int rc = TG_ENOMEM;

    if (kp == NULL || pp == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    snprintf(kp, n, "%s.key", prefix);
    snprintf(pp, n, "%s.pub", prefix);
    if ((rc = tg__audit_gen_key(&k, err)) != TG_OK)
        goto out;
    if ((rc = tg__audit_key_id(k, key_id)) != TG_OK) {
        rc = tg_err_set(err, rc, "key id failed");
        goto out;
    }
    rc = tg__audit_write_keys(k, kp, pp, err);
out:
    EVP_PKEY_free(k);
    free(kp);
    free(pp);
    return rc;
}

