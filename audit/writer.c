/*
 * writer.c — the audit log writer: bounded queue, one writer thread, group
 * commit, seals, file rotation, key rotation, and resume/recovery at open.
 *
 * Chain state (seq, prev, Merkle leaves, key) is touched by tg_audit_open
 * before the thread starts and by the writer thread afterwards, never by
 * producers: they only enqueue under the mutex.
 */
#include "audit/audit.h"
#include "audit/audit_int.h"
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

#define DEFAULT_SEAL_EVERY       1000u
#define DEFAULT_SEAL_INTERVAL_MS 1000u
/* Items taken from the queue per group commit: bounds the time one batch
 * holds its producers' done callbacks back. */
#define MAX_BATCH                8192u
/* fsync: never — after a batch the writer naps this long instead of being
 * woken per entry: a futex wake and two context switches per request were
 * the largest single cost of the audit log on the gateway (docs/gateway.md).
 * No durability is promised in this mode; entries reach the file within
 * this bound (or at once when the queue fills to NAP_WAKE_QLEN). */
#define NAP_US                   1000
#define NAP_WAKE_QLEN            1024u
/* After a failed write (disk full, file too large, I/O error) the writer
 * tries again this often; requests are refused (503) meanwhile. */
#define RETRY_US                 500000

enum item_kind { ITEM_ENTRY = 0, ITEM_ROTATE_KEY = 1 };

struct item {
    enum item_kind   kind;
    cJSON           *entry;        /* ITEM_ENTRY: a tree (tg_audit_append) ... */
    char            *text;         /* ... or rendered members (tg_audit_append_text), */
    size_t           text_len;
    const char      *text_event;   /* its event name, inside text */
    EVP_PKEY        *newkey;       /* ITEM_ROTATE_KEY: ownership passes to the writer */
    tg_audit_done_fn done;
    void            *arg;
};

struct pending_done {
    tg_audit_done_fn done;
    void            *arg;
    uint64_t         seq;
};

struct tg_audit_log {
    struct tg_audit_cfg cfg;
    char           *path;
    char           *key_path;

    int             fd;
    int             lock_fd;         /* .<name>.lock beside the log, flock'd for the writer's life */
    uint64_t        file_bytes;      /* size of the active file */
    uint64_t        file_first_seq;  /* first entry in the active file; 0 = empty */

    /* chain state: writer thread only (open before it starts) */
    uint64_t        seq;
    uint8_t         prev[32];
    struct tg__audit_mtree mt;       /* Merkle tree of the entries since the last seal (mt.n of them) */
    uint64_t        leaves_first;    /* seq of the first of them */
    int64_t         pending_since;   /* monotonic µs of the first unsealed entry */
    EVP_PKEY       *key;
    char            key_id[33];
    EVP_MD_CTX     *md;
    EVP_MD_CTX     *sha;
    /* request HMAC keyed state; replaced on key rotation while producers
     * may be reading it, so the old one lives until free_log */
    _Atomic(struct tg__audit_hmac *) hmac;

    /* the batch being formatted */
    char           *buf;
    size_t          len, cap;
    struct pending_done *pd;
    size_t          npd, cappd;

    /* queue, under mu */
    pthread_mutex_t mu;
    pthread_cond_t  not_empty, not_full;
    struct item    *q;
    size_t          qcap, qhead, qlen;
    bool            stopping;
    bool            writer_waiting;
    bool            writer_napping;   /* waiting out NAP_US: producers need not wake it */
    atomic_bool     failed;          /* for good: an entry could not be formatted */
    /* A write or fsync failed (ENOSPC, EFBIG, EIO): the file was cut back to
     * its last whole line and the batch kept; requests are refused until a
     * retry writes the batch and a recovery entry saying so. */
    atomic_bool     degraded;
    int             io_errno;
    int64_t         retry_at;        /* monotonic µs of the next attempt */
    uint64_t        durable_seq;     /* last seq known written */
    uint64_t        late_from;       /* first seq of the batch held back; 0 = none */
    bool            recovery_queued; /* the recovery entry is in the batch */
    bool            started;
    pthread_t       thr;
};

static int64_t
mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool
buf_reserve(struct tg_audit_log *l, size_t more)
{
    if (l->cap - l->len >= more)
        return true;
    size_t ncap = l->cap ? l->cap : 65536;
    while (ncap - l->len < more)
        ncap *= 2;
    char *nb = realloc(l->buf, ncap);
    if (nb == NULL)
        return false;
    l->buf = nb;
    l->cap = ncap;
    return true;
}

static void
buf_put(struct tg_audit_log *l, const char *s, size_t n)
{
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

static bool
leaf_push(struct tg_audit_log *l, uint64_t seq, const uint8_t h[32])
{
    if (l->mt.n == 0) {
        l->leaves_first = seq;
        l->pending_since = mono_us();
        l->mt.depth = 0;
    }
    /* Folded in now, a few hashes per entry: a seal of 1,000 entries used
     * to hash all 2,000 nodes at once, a burst on the writer that showed in
     * the gateway's one-connection p99 (docs/gateway.md). */
    tg__audit_mtree_add(&l->mt, l->sha, h);
    return true;
}

/* Start an entry line in the batch buffer: the fixed header. */
static int
emit_begin(struct tg_audit_log *l, const char *event, size_t *start)
{
    /* {"seq":N,"prev":"<64>","key_id":"<32>","event":"<event>", assembled
     * by hand rather than by an snprintf per entry on the writer thread. */
    char seq[20], rev[20];
    size_t ns = 0, nr = 0, ne = strlen(event), nk = strlen(l->key_id), n;
    uint64_t v = l->seq + 1;

    do {
        rev[nr++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (nr > 0)
        seq[ns++] = rev[--nr];
    n = 7 + ns + 9 + 64 + 12 + nk + 11 + ne + 1;
    if (n >= 256)   /* the bound the header always had */
        return TG_EINVAL;
    if (!buf_reserve(l, n))
        return TG_ENOMEM;
    *start = l->len;
    buf_put(l, "{\"seq\":", 7);
    buf_put(l, seq, ns);
    buf_put(l, ",\"prev\":\"", 9);
    tg__audit_hex(l->prev, 32, l->buf + l->len);   /* 64 digits and a NUL, overwritten next */
    l->len += 64;
    buf_put(l, "\",\"key_id\":\"", 12);
    buf_put(l, l->key_id, nk);
    buf_put(l, "\",\"event\":\"", 11);
    buf_put(l, event, ne);
    buf_put(l, "\"", 1);
    return TG_OK;
}

/* Finish the line begun at `start`: hash the canonical bytes, sign, suffix, advance the chain. */
static int
emit_end(struct tg_audit_log *l, size_t start, bool sign, uint64_t *seq_out)
{
    char hex[129];
    uint8_t h[32], sig[64];
    uint64_t seq = l->seq + 1;

    if (!buf_reserve(l, TG__AUDIT_SUFFIX_LONG + 1)) {
        l->len = start;
        return TG_ENOMEM;
    }
    tg__audit_sha256_ctx(l->sha, l->buf + start, l->len - start, h);
    if (sign && tg__audit_sign(l->md, l->key, h, sig) != TG_OK) {
        l->len = start;
        return TG_ECRYPTO;
    }
    if (!leaf_push(l, seq, h)) {
        l->len = start;
        return TG_ENOMEM;
    }
    tg__audit_hex(h, 32, hex);
    buf_put(l, ",\"hash\":\"", 9);
    buf_put(l, hex, 64);
    if (sign) {
        tg__audit_hex(sig, 64, hex);
        buf_put(l, "\",\"sig\":\"", 9);
        buf_put(l, hex, 128);
    }
    buf_put(l, "\"}\n", 3);
    l->seq = seq;
    memcpy(l->prev, h, 32);
    if (l->file_first_seq == 0)
        l->file_first_seq = seq;
    if (seq_out != NULL)
        *seq_out = seq;
    return TG_OK;
}

/*
 * Append one entry line to the batch buffer and advance the chain.
 * inner = the body's members without the surrounding braces (may be empty).
 */
static int
emit(struct tg_audit_log *l, const char *event, const char *inner, size_t inner_len, bool sign,
     uint64_t *seq_out)
{
    size_t start;
    int rc = emit_begin(l, event, &start);

    if (rc != TG_OK)
        return rc;
    if (inner_len > 0) {
        if (!buf_reserve(l, inner_len + 1)) {
            l->len = start;
            return TG_ENOMEM;
        }
        buf_put(l, ",", 1);
        buf_put(l, inner, inner_len);
    }
    return emit_end(l, start, sign, seq_out);
}

/* ---- compact JSON printer --------------------------------------------------
 * cJSON_PrintUnformatted prints every number with sprintf and reads it back
 * with sscanf; on the writer thread that was most of the cost of an entry.
 * Integers take a fast path; other numbers the same shortest-round-trip rule.
 * Scalars are spelled by tg__audit_fmt_num / tg__audit_esc_str (util.c),
 * which tg_audit_entry_text uses too: both paths must hash the same bytes. */

static bool
put_lit(struct tg_audit_log *l, const char *s, size_t n)
{
    if (!buf_reserve(l, n))
        return false;
    buf_put(l, s, n);
    return true;
}

static bool
put_str(struct tg_audit_log *l, const char *s)
{
    size_t n = strlen(s);

    if (!buf_reserve(l, 2 + 6 * n))
        return false;
    l->len += tg__audit_esc_str(l->buf + l->len, s, n);
    return true;
}

static bool
put_num(struct tg_audit_log *l, double d)
{
    size_t n;

    if (!buf_reserve(l, TG__AUDIT_NUM_MAX))
        return false;
    n = tg__audit_fmt_num(d, l->buf + l->len);
    l->len += n;
    return n > 0;
}

static bool put_value(struct tg_audit_log *l, const cJSON *v, int depth);

static bool
put_members(struct tg_audit_log *l, const cJSON *obj, int depth, bool top)
{
    static const char *const chain[] = { "seq", "prev", "key_id", "event", "hash", "sig" };
    bool first = !top;   /* at the top level, members follow the header */
    const cJSON *c;

    for (c = obj->child; c != NULL; c = c->next) {
        if (c->string == NULL)
            return false;
        if (top) {
            /* The chain fields belong to the writer: drop any a producer put in. */
            bool skip = false;
            for (size_t i = 0; i < TG_ARRAY_LEN(chain) && !skip; i++)
                skip = strcmp(c->string, chain[i]) == 0;
            if (skip)
                continue;
        }
        if (!first && !put_lit(l, ",", 1))
            return false;
        first = false;
        if (!put_str(l, c->string) || !put_lit(l, ":", 1) || !put_value(l, c, depth + 1))
            return false;
    }
    return true;
}

static bool
put_value(struct tg_audit_log *l, const cJSON *v, int depth)
{
    if (depth > (int)TG_MAX_JSON_DEPTH)
        return false;
    switch (v->type & 0xff) {
    case cJSON_False:  return put_lit(l, "false", 5);
    case cJSON_True:   return put_lit(l, "true", 4);
    case cJSON_NULL:   return put_lit(l, "null", 4);
    case cJSON_Number: return put_num(l, v->valuedouble);
    case cJSON_String: return v->valuestring != NULL ? put_str(l, v->valuestring) : put_lit(l, "null", 4);
    case cJSON_Array: {
        bool first = true;
        if (!put_lit(l, "[", 1))
            return false;
        for (const cJSON *c = v->child; c != NULL; c = c->next) {
            if ((!first && !put_lit(l, ",", 1)) || !put_value(l, c, depth + 1))
                return false;
            first = false;
        }
        return put_lit(l, "]", 1);
    }
    case cJSON_Object:
        return put_lit(l, "{", 1) && put_members(l, v, depth, false) && put_lit(l, "}", 1);
    default:
        return false;   /* cJSON_Raw: unvalidated bytes have no place in the log */
    }
}

/* An entry object: header, its members (minus chain fields), suffix. */
static int
emit_json(struct tg_audit_log *l, const char *event, const cJSON *body, bool sign, uint64_t *seq_out)
{
    size_t start;
    int rc = emit_begin(l, event, &start);

    if (rc != TG_OK)
        return rc;
    if (!put_members(l, body, 0, true)) {
        l->len = start;
        return TG_EINVAL;
    }
    return emit_end(l, start, sign, seq_out);
}

static int
emit_seal(struct tg_audit_log *l)
{
    char inner[320], ts[32], root[32], roothex[65];
    int n;

    if (l->mt.n == 0)
        return TG_OK;
    tg__audit_mtree_root(&l->mt, l->sha, (uint8_t *)root);
    tg__audit_hex((uint8_t *)root, 32, roothex);
    tg__audit_fmt_ts(tg__audit_now_us(), ts);
    n = snprintf(inner, sizeof(inner),
                 "\"ts\":\"%s\",\"seal\":{\"first_seq\":%llu,\"last_seq\":%llu,\"count\":%zu,\"root\":\"%s\"}",
                 ts, (unsigned long long)l->leaves_first,
                 (unsigned long long)(l->leaves_first + l->mt.n - 1), (size_t)l->mt.n, roothex);
    if (n < 0 || (size_t)n >= sizeof(inner))
        return TG_EINVAL;
    /* A seal closes its range; the next range starts after it, so the
     * seal's own hash is not a leaf of the next one. */
    int rc = emit(l, "seal", inner, (size_t)n, true, NULL);
    l->mt.n = 0;
    return rc;
}

/*
 * Write the batch buffer; fsync per mode.  On a write or sync failure the
 * file is cut back to where the batch began (a half-written line would make
 * the log unverifiable), the batch is kept for a retry and the log is
 * degraded: producers are refused until retry_degraded() succeeds.
 */
static int
flush_buf(struct tg_audit_log *l)
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
    l->retry_at = mono_us() + RETRY_US;
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
        if (n > 0 && (size_t)n < sizeof inner && emit(l, "recovery", inner, (size_t)n, true, NULL) == TG_OK)
            l->recovery_queued = true;
        else
            atomic_store(&l->failed, true);   /* cannot even say what happened */
    }
    if (flush_buf(l) == TG_OK) {
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
    int rc = atomic_load(&l->failed) || atomic_load(&l->degraded) ? TG_EIO : flush_buf(l);
    run_dones(l, rc == TG_OK ? TG_OK : TG_EIO);
    return rc;
}

static char *
rotated_name(const char *path, uint64_t first_seq)
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

static int
open_active(struct tg_audit_log *l)
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

    if ((rc = emit_seal(l)) != TG_OK)
        return rc;
    if ((rc = flush(l)) != TG_OK)
        return rc;
    if (fsync(l->fd) != 0 || (to = rotated_name(l->path, l->file_first_seq)) == NULL) {
        atomic_store(&l->failed, true);
        return TG_EIO;
    }
    close(l->fd);
    l->fd = -1;
    rc = rename(l->path, to) == 0 ? TG_OK : TG_EIO;
    free(to);
    if (rc == TG_OK)
        rc = open_active(l);
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
        rc = emit(l, event, it->text, it->text_len, l->cfg.sign == TG_SIGN_EACH, &seq);
    } else {
        ev = cJSON_GetObjectItemCaseSensitive(it->entry, "event");
        if (cJSON_IsString(ev) && valid_event(ev->valuestring))
            snprintf(event, sizeof(event), "%s", ev->valuestring);
        rc = emit_json(l, event, it->entry, l->cfg.sign == TG_SIGN_EACH, &seq);
    }
    if (rc == TG_OK && l->npd < l->cappd) {
        l->pd[l->npd].done = it->done;
        l->pd[l->npd].arg = it->arg;
        l->pd[l->npd].seq = seq;
        l->npd++;
    }
    return rc;
}

static int
derive_hmac_master(struct tg_audit_log *l)
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
    if ((rc = emit_seal(l)) != TG_OK)
        return rc;
    tg__audit_hex(raw, 32, pubhex);
    tg__audit_fmt_ts(tg__audit_now_us(), ts);
    n = snprintf(inner, sizeof(inner), "\"ts\":\"%s\",\"rotation\":{\"new_key_id\":\"%s\",\"new_public_key\":\"%s\"}",
                 ts, newid, pubhex);
    if (n < 0 || (size_t)n >= sizeof(inner))
        return TG_EINVAL;
    if ((rc = emit(l, "rotation", inner, (size_t)n, true, NULL)) != TG_OK)
        return rc;
    l->mt.n = 0;   /* the rotation entry is signed by itself; the new key's first seal starts after it */
    EVP_PKEY_free(l->key);
    l->key = newkey;
    /* A context initialised with the old key must not be reused for the new one. */
    EVP_MD_CTX_reset(l->md);
    memcpy(l->key_id, newid, sizeof(newid));
    return derive_hmac_master(l);
}

static void
fail_item(struct item *it)
{
    if (it->kind == ITEM_ROTATE_KEY)
        EVP_PKEY_free(it->newkey);
    cJSON_Delete(it->entry);
    free(it->text);
    if (it->done != NULL)
        it->done(it->arg, TG_EIO, 0);
}

static void *
writer_main(void *arg)
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
                int64_t wait = l->retry_at - mono_us();
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
                int64_t wait = l->pending_since + interval - mono_us();
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

        if (atomic_load(&l->degraded) && !atomic_load(&l->failed) && (stop || mono_us() >= l->retry_at))
            retry_degraded(l);
        for (size_t i = 0; i < n; i++) {
            struct item *it = &batch[i];
            int rc = TG_EIO;
            if (atomic_load(&l->failed) || atomic_load(&l->degraded)) {
                fail_item(it);
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
            if (l->mt.n >= seal_every && emit_seal(l) != TG_OK)
                atomic_store(&l->failed, true);
            if (l->cfg.rotate_bytes > 0 && l->file_bytes + l->len >= l->cfg.rotate_bytes &&
                !atomic_load(&l->failed))
                (void)rotate_file(l);
        }
        if (!atomic_load(&l->failed) && !atomic_load(&l->degraded) && l->mt.n > 0 &&
            (stop || mono_us() - l->pending_since >= interval) && emit_seal(l) != TG_OK)
            atomic_store(&l->failed, true);
        if (l->len > 0 || l->npd > 0)
            (void)flush(l);
        if (stop)
            break;
    }
    free(batch);
    return NULL;
}

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
        best = rotated_name(path, n);
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

static void
free_log(struct tg_audit_log *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->qlen; i++)
        fail_item(&l->q[(l->qhead + i) % l->qcap]);
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
        (rc = derive_hmac_master(l)) != TG_OK) {
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
        if (!leaf_push(l, s.leaves_first + i, s.leaves + 32 * i)) {
            rc = tg_err_set(err, TG_ENOMEM, "out of memory");
            goto out;
        }

    if (open_active(l) != TG_OK) {
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
            if (!buf_reserve(l, 1)) {
                rc = tg_err_set(err, TG_ENOMEM, "out of memory");
                goto out;
            }
            buf_put(l, "\n", 1);
            if ((rc = emit(l, "recovery", inner, (size_t)n, true, NULL)) != TG_OK) {
                rc = tg_err_set(err, rc, "cannot write recovery entry");
                goto out;
            }
        }
        n = snprintf(inner, sizeof(inner),
                     "\"ts\":\"%s\",\"start\":{\"version\":\"tollgate 0.1.0\",\"resumed_after_seq\":%llu,"
                     "\"key_generated\":%s,\"fsync\":\"%s\",\"sign\":\"%s\"}",
                     ts, (unsigned long long)s.seq, generated ? "true" : "false", fsync_name(cfg->fsync),
                     cfg->sign == TG_SIGN_EACH ? "each" : "seal");
        if ((rc = emit(l, "start", inner, (size_t)n, true, NULL)) != TG_OK) {
            rc = tg_err_set(err, rc, "cannot write start entry");
            goto out;
        }
        /* The start entry is durable before any request is served. */
        if (flush_buf(l) != TG_OK || fsync(l->fd) != 0) {
            rc = tg_err_set(err, TG_EIO, "%s: write failed: %s", l->path, strerror(errno));
            goto out;
        }
    }
    l->durable_seq = l->seq;
    if (pthread_create(&l->thr, NULL, writer_main, l) != 0) {
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
    free_log(l);
    return rc;
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

/* Tests only (audit_int.h): put_members on a scratch log that has no file. */
int
tg__audit_print_members(const cJSON *obj, char **out, size_t *len)
{
    struct tg_audit_log *l = calloc(1, sizeof(*l));
    int rc = TG_ENOMEM;

    *out = NULL;
    *len = 0;
    if (l == NULL)
        return TG_ENOMEM;
    if (!put_members(l, obj, 0, true)) {
        rc = TG_EINVAL;
        goto out;
    }
    if (!buf_reserve(l, 1))
        goto out;
    /* At the top level every member is preceded by a comma; the first one
     * is the separator emit() writes after the header. */
    *len = l->len > 0 ? l->len - 1 : 0;
    memmove(l->buf, l->buf + (l->len > 0), *len);
    l->buf[*len] = '\0';
    *out = l->buf;
    l->buf = NULL;
    rc = TG_OK;
out:
    free(l->buf);
    free(l);
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
    free_log(l);
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
