/*
 * writer_int.h — the audit writer's state, shared by its three files:
 * writer.c (queue, writer thread, group commit, rotation, the API),
 * writer_emit.c (framing entries: chain fields, hash, signature, seals)
 * and writer_open.c (resuming the chain at open, keys, the one-writer lock).
 * Internal to audit/.
 */
#ifndef TG_WRITER_INT_H
#define TG_WRITER_INT_H

#include "audit/audit.h"
#include "audit/audit_int.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <openssl/evp.h>

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


/* cross-file internals of the writer */
int64_t tg__aw_mono_us(void);
bool tg__aw_buf_reserve(struct tg_audit_log *l, size_t more);
void tg__aw_buf_put(struct tg_audit_log *l, const char *s, size_t n);
bool tg__aw_leaf_push(struct tg_audit_log *l, uint64_t seq, const uint8_t h[32]);
int tg__aw_emit(struct tg_audit_log *l, const char *event, const char *inner, size_t inner_len, bool sign,
                uint64_t *seq_out);
int tg__aw_emit_json(struct tg_audit_log *l, const char *event, const cJSON *body, bool sign, uint64_t *seq_out);
int tg__aw_emit_seal(struct tg_audit_log *l);
void tg__aw_free_log(struct tg_audit_log *l);
int tg__aw_flush_buf(struct tg_audit_log *l);
char *tg__aw_rotated_name(const char *path, uint64_t first_seq);
int tg__aw_open_active(struct tg_audit_log *l);
int tg__aw_derive_hmac_master(struct tg_audit_log *l);
void *tg__aw_writer_main(void *arg);
/* an item that will never be written: free it and tell its producer */
void tg__aw_fail_item(struct item *it);

#endif /* TG_WRITER_INT_H */
