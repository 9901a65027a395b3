/*
 * audit_int.h — internals shared by the audit writer, verifier and CLI.
 *
 * Line format (one entry per line, see docs/audit.md):
 *
 *   {"seq":N,"prev":"<64 hex>","key_id":"<32 hex>","event":"<name>"<,body...>,"hash":"<64 hex>"[,"sig":"<128 hex>"]}\n
 *
 * hash = SHA-256 of the raw bytes from the opening '{' up to (not including)
 * `,"hash":"`; sig = Ed25519 over the 32 raw hash bytes.  The header and the
 * suffix have a fixed shape so the verifier checks raw bytes without a full
 * JSON parse, and any modified byte changes either the hashed prefix or the
 * strictly formatted suffix.
 */
#ifndef TG_AUDIT_INT_H
#define TG_AUDIT_INT_H

#include "engine/tg.h"

#include <openssl/evp.h>

#define TG__AUDIT_SUFFIX_SHORT 75u    /* ,"hash":"<64>"} */
#define TG__AUDIT_SUFFIX_LONG  212u   /* ,"hash":"<64>","sig":"<128>"} */
#define TG__AUDIT_EVENT_MAX    32u

struct tg__audit_line {
    uint64_t    seq;
    uint8_t     prev[32];
    char        key_id[33];
    char        event[TG__AUDIT_EVENT_MAX + 1];
    uint8_t     hash[32];      /* as claimed by the line */
    bool        has_sig;
    uint8_t     sig[64];
    size_t      prefix_len;    /* bytes covered by the hash */
};

/* Parse one line (without its '\n') strictly.  TG_OK or TG_EINVAL with a short reason in *why. */
int  tg__audit_parse_line(const char *line, size_t len, struct tg__audit_line *out, const char **why);

void tg__audit_sha256(const void *p, size_t n, uint8_t out[32]);
/* Same with a caller-owned context reused across calls (hot loops). */
void tg__audit_sha256_ctx(EVP_MD_CTX *ctx, const void *p, size_t n, uint8_t out[32]);
/* Lower-case hex of n bytes into out (2n chars + NUL). */
void tg__audit_hex(const uint8_t *in, size_t n, char *out);
/* Strict lower-case hex (2n chars) into n bytes; false on any other char. */
bool tg__audit_unhex(const char *in, size_t n, uint8_t *out);

/* RFC 9162 Merkle tree hash over leaves (each a 32-byte entry hash): leaf =
 * SHA-256(0x00||h), node = SHA-256(0x01||l||r).  n >= 1.  Uses scratch of n*32 bytes. */
void tg__audit_merkle_root(const uint8_t *leaves, size_t n, uint8_t *scratch, uint8_t out[32]);

/* The same root, built a leaf at a time (the writer): a stack of the roots of
 * complete subtrees, merged as soon as two have the same size, so that a seal
 * costs at most log2(n) hashes instead of 2n in one burst on the writer thread.
 * Zero-initialised = empty. */
struct tg__audit_mtree {
    uint8_t  node[64][32];
    uint32_t depth;
    uint64_t n;
};
void tg__audit_mtree_add(struct tg__audit_mtree *m, EVP_MD_CTX *c, const uint8_t leaf[32]);
/* n >= 1 */
void tg__audit_mtree_root(const struct tg__audit_mtree *m, EVP_MD_CTX *c, uint8_t out[32]);

/* Key id: hex of the first 16 bytes of SHA-256(raw 32-byte public key). */
int  tg__audit_key_id(EVP_PKEY *k, char out[33]);
/* Sign with k.  ctx is bound to the first key it signs with (it is reused
 * across calls): EVP_MD_CTX_reset() it before signing with another key. */
int  tg__audit_sign(EVP_MD_CTX *ctx, EVP_PKEY *k, const uint8_t hash[32], uint8_t sig[64]);
bool tg__audit_sig_ok(EVP_MD_CTX *ctx, EVP_PKEY *pub, const uint8_t hash[32], const uint8_t sig[64]);

/* Load a PEM private Ed25519 key.  TG_ENOTFOUND if the file does not exist. */
int  tg__audit_load_key(const char *path, EVP_PKEY **out, struct tg_err *err);
/* New Ed25519 key. */
int  tg__audit_gen_key(EVP_PKEY **out, struct tg_err *err);
/* Write key_path (PKCS#8 PEM, 0600, O_EXCL) and pub_path (PEM, O_EXCL).  Refuses to overwrite. */
int  tg__audit_write_keys(EVP_PKEY *k, const char *key_path, const char *pub_path, struct tg_err *err);
/* Public key from PEM (SubjectPublicKeyInfo) bytes; must be Ed25519. */
int  tg__audit_parse_pub(const char *pem, size_t len, EVP_PKEY **out, struct tg_err *err);

/*
 * Request-body HMAC keys (tg_audit_request_hmac): the master key's and each
 * tenant's HMAC-SHA-256 keyed state, computed once and shared read-only by
 * all threads.  tg__audit_hmac_request is thread-safe; `older` (may be NULL)
 * is a previous key's state that producers may still be using: it is freed
 * together with this one.
 */
struct tg__audit_hmac;
int  tg__audit_hmac_new(const uint8_t master[32], struct tg__audit_hmac *older, struct tg__audit_hmac **out);
void tg__audit_hmac_free(struct tg__audit_hmac *h);
/* HMAC(HMAC(master, tenant), body); tenant NULL counts as "". */
void tg__audit_hmac_request(struct tg__audit_hmac *h, const char *tenant, const void *body, size_t len,
                            uint8_t out[32]);

/* RFC 3339 UTC with microseconds: 2026-01-02T03:04:05.123456Z (28 chars + NUL). */
void tg__audit_fmt_ts(int64_t us, char out[32]);
int64_t tg__audit_now_us(void);
/* Parse RFC 3339-ish (date, optional time, fraction, Z or offset) to µs since epoch. */
bool tg__audit_parse_ts(const char *s, int64_t *us);


#include <cjson/cJSON.h>
#include "engine/jtext.h"

/* ---- canonical JSON scalars ------------------------------------------------
 * One spelling per value, shared by the writer's tree printer (writer.c) and
 * the entry text path (entry.c): an entry must hash the same whichever path
 * produced it. */

/* The spelling lives in engine/jtext.h (the decision renderer uses it too);
 * these names stay for the writer's tree printer. */
#define TG__AUDIT_NUM_MAX  TG_JTEXT_NUM_MAX
#define tg__audit_fmt_i64  tg_jtext_fmt_i64
#define tg__audit_fmt_num  tg_jtext_fmt_num
#define tg__audit_esc_str  tg_jtext_esc_str

/* Does the parsed recovery entry `j` describe the discarded bytes junk[0..n)
 * found at file offset `off`, right after entry `after_seq`? */
bool tg__audit_recovery_ok(const cJSON *j, uint64_t after_seq, uint64_t off, const char *junk, size_t n);

/* Integer field of an object as uint64 (exact, non-negative); false if absent or not one. */
bool tg__audit_get_u64(const cJSON *obj, const char *key, uint64_t *out);

/* Tests only: the bytes the writer prints for entry tree obj after its
 * header and the separating comma (members minus the chain fields), as
 * tg_audit_entry_text() renders them; *out is malloc'd and NUL-terminated. */
int  tg__audit_print_members(const cJSON *obj, char **out, size_t *len);

#endif /* TG_AUDIT_INT_H */
