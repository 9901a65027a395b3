/*
 * audit.h — the signed, hash-chained decision log (CONTRACT §6).
 *
 * Producers (event-loop threads, CLI) build an entry with
 * tg_audit_entry_json() and hand it to tg_audit_append(); one writer thread
 * owns the chain state (seq, prev hash, seals), serialises canonical bytes,
 * signs (Ed25519, OpenSSL EVP), appends with O_APPEND and fsyncs per
 * policy.  Producers never touch chain state, they only enqueue.
 *
 * Integrity: entry.hash = SHA-256 over the canonical bytes of the entry
 * without hash/sig; entry.prev = previous entry's hash; signatures on every
 * entry (sign: each) or on seal entries carrying a Merkle root over the
 * entries since the last seal (sign: seal).
 */
#ifndef TG_AUDIT_H
#define TG_AUDIT_H

#include "engine/preflight.h"
#include "policy/policy.h"

#include <cjson/cJSON.h>

/* One upstream attempt, for the entry's `attempts` array. */
struct tg_audit_attempt {
    const char *model;
    const char *provider;
    const char *outcome;     /* "ok" "timeout" "connect" "reset" "http_5xx" "http_429"
                                "http_4xx" "bad_response" "breaker_open" "deadline" */
    int         http_status; /* 0 if none */
    uint32_t    ms;
};

struct tg_audit_event {
    const char *event;               /* "decision" | "unauthenticated" | "upstream_failure" | "error" */
    const char *decision_id;         /* from tg_audit_new_id() */
    int64_t     ts_us;               /* wall clock of the decision, µs since the epoch */
    const struct tg_policy   *policy;   /* may be NULL (no policy loaded) */
    const struct tg_decision *decision; /* may be NULL (unauthenticated, malformed before decide) */
    const char *tenant;              /* used when decision is NULL */
    const char *mode;                /* "enforce" | "audit" */
    int         http_status;         /* what the client got; 0 for CLI */
    const char *model;               /* model that served, NULL if none */
    const char *provider;
    const struct tg_audit_attempt *attempts;
    uint32_t    nattempts;
    uint32_t    latency_ms;
    int64_t     prompt_tokens;       /* from provider usage; -1 unknown */
    int64_t     completion_tokens;
    double      cost_usd;            /* usage x price; NAN unknown */
    bool        has_request_hmac;
    uint8_t     request_hmac[32];    /* tg_audit_request_hmac() of the body */
    size_t      request_len;
    bool        stream;
    const char *error;               /* short reason, never PII */
};

/* Entry JSON without the chain fields (seq, prev, hash, key_id, sig), which the writer adds. NULL on ENOMEM. */
cJSON *tg_audit_entry_json(const struct tg_audit_event *ev);

struct tg_audit_log;

/* Open (create 0600 or resume) the log per cfg; starts the writer thread. */
int  tg_audit_open(const struct tg_audit_cfg *cfg, struct tg_audit_log **out, struct tg_err *err);

/* Called on the writer thread once the entry is durable per the fsync mode
 * (status TG_OK, its seq) or could not be written (TG_EIO). Keep it short:
 * e.g. event_active() a libevent event. */
typedef void (*tg_audit_done_fn)(void *arg, int status, uint64_t seq);

/*
 * Enqueue an entry; takes ownership of `entry` in every case.  Blocks while
 * the queue is full (backpressure; entries are never dropped).  Returns
 * TG_EIO without enqueueing (and without calling done) when the log has
 * failed or is closed: the caller must then deny (503).
 */
int  tg_audit_append(struct tg_audit_log *log, cJSON *entry, tg_audit_done_fn done, void *arg);

/* Per-tenant keyed hash of a request body (key derived from the signing key). */
void tg_audit_request_hmac(const struct tg_audit_log *log, const char *tenant,
                           const void *body, size_t len, uint8_t out[32]);

size_t tg_audit_queue_depth(const struct tg_audit_log *log);
bool   tg_audit_healthy(const struct tg_audit_log *log);
const char *tg_audit_key_id(const struct tg_audit_log *log);

/* Drain, write a final seal, fsync, stop the thread, free. */
int  tg_audit_close(struct tg_audit_log *log, struct tg_err *err);

/* 128-bit random id as 32 hex chars + NUL. */
void tg_audit_new_id(char out[33]);

#endif /* TG_AUDIT_H */
