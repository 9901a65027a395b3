/*
 * audit.h — the signed, hash-chained decision log (docs/interface.md §6).
 *
 * Producers (event-loop threads, CLI) build an entry with
 * tg_audit_entry_json() and hand it to tg_audit_append() (or render it with
 * tg_audit_entry_text() and hand it to tg_audit_append_text()); one writer thread
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
    const char *endpoint;            /* the door: "/v1/chat/completions", "/v1/messages", ...; NULL: none */
    const char *auth;                /* how the client was identified: "key" | "mtls" | "key+mtls"; NULL: none */
    /* The output guard (engine/outguard.h); resp_verdict NULL: it did not
     * run (policy.response off, or no answer).  Entity names and counts,
     * never values. */
    const char *resp_verdict;        /* "pass" | "redact" | "deny" */
    const char *resp_rule;           /* "response.secrets" | "response.pii" | "response.unscannable"; deny only */
    const struct tg_pii_count *resp_findings;
    uint32_t    nresp_findings;
};

/* Entry JSON without the chain fields (seq, prev, hash, key_id, sig), which
 * the writer adds: the parse of tg_audit_entry_text() with "event" first.
 * NULL on ENOMEM.  For callers that inspect or extend an entry (CLI); the
 * gateway appends the text. */
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

/*
 * The same entry without a tree (the gateway's per-request path): the
 * members rendered by tg_audit_entry_text() are copied into the line as they
 * are, so the writer thread only adds the header and suffix.
 */
struct tg_audit_text {
    char       *buf;     /* malloc'd: the members, NUL, the event name, NUL */
    size_t      len;     /* bytes of the members (NUL excluded) */
    const char *event;   /* points into buf */
};

/*
 * Render ev into out: exactly the bytes the writer prints after its header
 * — every member except `event` (which goes into the header), with no
 * leading comma — and the event name ("decision" when ev->event is NULL).  TG_OK, or TG_ENOMEM with out emptied.
 * Release an entry that is not appended with tg_audit_text_free().
 */
int  tg_audit_entry_text(const struct tg_audit_event *ev, struct tg_audit_text *out);
void tg_audit_text_free(struct tg_audit_text *t);

/* tg_audit_append for a rendered entry, with the same contract: takes
 * ownership of text->buf in every case (*text is emptied), blocks while the
 * queue is full, TG_EIO without calling done when the log failed or is closed. */
int  tg_audit_append_text(struct tg_audit_log *log, struct tg_audit_text *text, tg_audit_done_fn done,
                          void *arg);

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

/* ---- additions (issue 4) ------------------------------------------------ */

/*
 * Rotate the signing key of an open log: the writer seals pending entries
 * with the old key, writes a `rotation` entry (signed by the old key) naming
 * the new key id, then signs with the new key.  new_key_path must hold a PEM
 * Ed25519 private key.  Blocks until the rotation entry is written.
 */
int  tg_audit_rotate_key(struct tg_audit_log *log, const char *new_key_path, char new_key_id[33],
                         struct tg_err *err);

/* Generate PREFIX.key (PKCS#8 PEM, 0600) and PREFIX.pub; refuses to
 * overwrite either (TG_EINVAL).  key_id gets the key's id. */
int  tg_audit_keygen(const char *prefix, char key_id[33], struct tg_err *err);

/*
 * Verifier.  Feed each log file's bytes in chain order, then finish.
 * Problems are reported through `report` as they are found:
 *   kind "tampered"  — an integrity failure at seq (first bad entry first);
 *   kind "unsealed"  — entries from seq on are not covered by any signature yet;
 *   kind "recovered" — a torn write recorded by a recovery entry (not a failure).
 */
typedef void (*tg_audit_report_fn)(void *ud, const char *kind, uint64_t seq, const char *reason);

struct tg_audit_verify_result {
    uint64_t entries;        /* lines read (entries, including bad ones) */
    uint64_t verified;       /* entries that passed every check and are covered by a valid signature */
    uint64_t problems;       /* "tampered" reports */
    uint64_t unsealed;       /* entries not yet covered by a signature */
    uint64_t recoveries;
    uint64_t first_bad_seq;  /* 0 if none */
    uint64_t head_seq;       /* last entry read */
    char     head[65];       /* its hash (hex) */
};

struct tg_audit_verifier;
int  tg_audit_verifier_new(tg_audit_report_fn report, void *ud, struct tg_audit_verifier **out,
                           struct tg_err *err);
/* Add a trusted public key (PEM; a private key PEM is accepted too).  List keys oldest first. */
int  tg_audit_verifier_add_key(struct tg_audit_verifier *v, const char *pem, size_t len,
                               char key_id[33], struct tg_err *err);
/* Start verification after a trusted head (hex hash of the last entry of
 * files already verified and archived): the first entry fed must continue it. */
int  tg_audit_verifier_start_after(struct tg_audit_verifier *v, const char *hex, struct tg_err *err);
/* Require an entry with this hash (hex): detects a truncated tail. */
int  tg_audit_verifier_expect_head(struct tg_audit_verifier *v, const char *hex, struct tg_err *err);
void tg_audit_verifier_feed(struct tg_audit_verifier *v, const char *buf, size_t len);
void tg_audit_verifier_finish(struct tg_audit_verifier *v, struct tg_audit_verify_result *res);
void tg_audit_verifier_free(struct tg_audit_verifier *v);

#endif /* TG_AUDIT_H */
