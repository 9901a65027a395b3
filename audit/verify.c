/*
 * verify.c — check an audit log: raw-byte hashes, the chain, seals (Merkle
 * roots), signatures and key validity windows, across rotated files.
 *
 * The verifier trusts nothing in the log but the public keys it is given:
 * every entry's hash is recomputed from its bytes, every signature checked
 * against a listed key, and a key is valid only from the first entry (or
 * the rotation that introduced it) to the rotation that retired it.
 */
#include "audit/audit.h"
#include "audit/audit_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

struct vkey {
    char      id[33];
    EVP_PKEY *pub;
    EVP_MD_CTX *md;          /* one per key: re-initialising a context with another key is not reliable */
    bool      reported;      /* "unlisted"/"bad" already said once */
};

struct pend {
    uint8_t  hash[32];
    uint64_t seq;
    bool     good;           /* passed the chain checks */
    bool     counted;        /* already counted as verified (own signature) */
};

struct tg_audit_verifier {
    tg_audit_report_fn report;
    void       *ud;
    EVP_MD_CTX *md;
    struct vkey *keys;
    size_t      nkeys;

    bool        started;
    bool        resync;      /* after an unparsable line: adopt the next entry's position */
    uint64_t    seq;
    uint8_t     prev[32];
    bool        have_key;
    char        cur_key[33];
    char        unlisted[33];/* last unlisted key reported */
    uint64_t    last_boundary;   /* seq of the last seal or rotation */

    struct pend *pend;
    size_t      npend, cappend;
    uint8_t    *leaves, *scratch;
    size_t      capleaves;

    bool        has_anchor;
    uint8_t     anchor[32];
    bool        has_expect;
    uint8_t     expect[32];
    bool        expect_found;

    EVP_MD_CTX *sha;
    uint8_t     head[32];
    struct tg_audit_verify_result res;
};

static void
problem(struct tg_audit_verifier *v, uint64_t seq, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
problem(struct tg_audit_verifier *v, uint64_t seq, const char *fmt, ...)
{
    char msg[256];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    v->res.problems++;
    if (v->res.first_bad_seq == 0)
        v->res.first_bad_seq = seq ? seq : 1;
    if (v->report != NULL)
        v->report(v->ud, "tampered", seq, msg);
}

int
tg_audit_verifier_new(tg_audit_report_fn report, void *ud, struct tg_audit_verifier **out,
                      struct tg_err *err)
{
    struct tg_audit_verifier *v = calloc(1, sizeof(*v));

    if (v == NULL || (v->md = EVP_MD_CTX_new()) == NULL || (v->sha = EVP_MD_CTX_new()) == NULL) {
        if (v != NULL)
            EVP_MD_CTX_free(v->md);
        free(v);
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    }
    v->report = report;
    v->ud = ud;
    *out = v;
    return TG_OK;
}

void
tg_audit_verifier_free(struct tg_audit_verifier *v)
{
    if (v == NULL)
        return;
    for (size_t i = 0; i < v->nkeys; i++) {
        EVP_PKEY_free(v->keys[i].pub);
        EVP_MD_CTX_free(v->keys[i].md);
    }
    free(v->keys);
    free(v->pend);
    free(v->leaves);
    free(v->scratch);
    EVP_MD_CTX_free(v->md);
    EVP_MD_CTX_free(v->sha);
    free(v);
}

int
tg_audit_verifier_add_key(struct tg_audit_verifier *v, const char *pem, size_t len, char key_id[33],
                          struct tg_err *err)
{
    EVP_PKEY *k = NULL;
    struct vkey *nk;
    int rc = tg__audit_parse_pub(pem, len, &k, err);

    if (rc != TG_OK)
        return rc;
    nk = realloc(v->keys, (v->nkeys + 1) * sizeof(*nk));
    if (nk == NULL) {
        EVP_PKEY_free(k);
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    }
    v->keys = nk;
    memset(&nk[v->nkeys], 0, sizeof(nk[0]));
    nk[v->nkeys].pub = k;
    if ((nk[v->nkeys].md = EVP_MD_CTX_new()) == NULL) {
        EVP_PKEY_free(k);
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    }
    if (tg__audit_key_id(k, nk[v->nkeys].id) != TG_OK) {
        EVP_PKEY_free(k);
        EVP_MD_CTX_free(nk[v->nkeys].md);
        return tg_err_set(err, TG_ECRYPTO, "unusable public key");
    }
    if (key_id != NULL)
        memcpy(key_id, nk[v->nkeys].id, 33);
    v->nkeys++;
    return TG_OK;
}

int
tg_audit_verifier_expect_head(struct tg_audit_verifier *v, const char *hex, struct tg_err *err)
{
    if (hex == NULL || strlen(hex) != 64 || !tg__audit_unhex(hex, 32, v->expect))
        return tg_err_set(err, TG_EINVAL, "--expect-head: want 64 lower-case hex characters");
    v->has_expect = true;
    return TG_OK;
}

int
tg_audit_verifier_start_after(struct tg_audit_verifier *v, const char *hex, struct tg_err *err)
{
    if (hex == NULL || strlen(hex) != 64 || !tg__audit_unhex(hex, 32, v->anchor))
        return tg_err_set(err, TG_EINVAL, "--start-after: want 64 lower-case hex characters");
    v->has_anchor = true;
    return TG_OK;
}

static struct vkey *
find_key(struct tg_audit_verifier *v, const char *id)
{
    for (size_t i = 0; i < v->nkeys; i++)
        if (memcmp(v->keys[i].id, id, 32) == 0)
            return &v->keys[i];
    return NULL;
}

static bool
pend_push(struct tg_audit_verifier *v, uint64_t seq, const uint8_t h[32], bool good, bool counted)
{
    if (v->npend == v->cappend) {
        size_t ncap = v->cappend ? v->cappend * 2 : 1024;
        struct pend *np = realloc(v->pend, ncap * sizeof(*np));
        if (np == NULL)
            return false;
        v->pend = np;
        v->cappend = ncap;
    }
    memcpy(v->pend[v->npend].hash, h, 32);
    v->pend[v->npend].seq = seq;
    v->pend[v->npend].good = good;
    v->pend[v->npend].counted = counted;
    v->npend++;
    return true;
}

static bool
merkle_of_pending(struct tg_audit_verifier *v, uint8_t out[32])
{
    if (v->npend > v->capleaves) {
        uint8_t *a = realloc(v->leaves, v->npend * 32), *b;
        if (a == NULL)
            return false;
        v->leaves = a;
        if ((b = realloc(v->scratch, v->npend * 32)) == NULL)
            return false;
        v->scratch = b;
        v->capleaves = v->npend;
    }
    for (size_t i = 0; i < v->npend; i++)
        memcpy(v->leaves + 32 * i, v->pend[i].hash, 32);
    tg__audit_merkle_root(v->leaves, v->npend, v->scratch, out);
    return true;
}

/* A seal: check its range and root; on success its signature covers the pending entries. */
static void
check_seal(struct tg_audit_verifier *v, const struct tg__audit_line *ln, const char *line, size_t len,
           bool sig_ok)
{
    cJSON *j = cJSON_ParseWithLength(line, len);
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(j, "seal");
    const cJSON *root = cJSON_GetObjectItemCaseSensitive(s, "root");
    uint64_t first, last, count;
    uint8_t want[32], got[32];

    if (!cJSON_IsObject(s) || !tg__audit_get_u64(s, "first_seq", &first) ||
        !tg__audit_get_u64(s, "last_seq", &last) || !tg__audit_get_u64(s, "count", &count) ||
        !cJSON_IsString(root) || strlen(root->valuestring) != 64 ||
        !tg__audit_unhex(root->valuestring, 32, want)) {
        problem(v, ln->seq, "malformed seal");
        goto out;
    }
    if (first != v->last_boundary + 1 || last + 1 != ln->seq || count != v->npend ||
        count != last - first + 1) {
        /* Say what differs: a range that matches while the count does not
         * means entries inside it are missing (or extra). */
        if (first == v->last_boundary + 1 && last + 1 == ln->seq)
            problem(v, ln->seq, "seal covers seq %llu..%llu (%llu entries) but %llu of them are present",
                    (unsigned long long)first, (unsigned long long)last, (unsigned long long)count,
                    (unsigned long long)v->npend);
        else
            problem(v, ln->seq, "seal covers seq %llu..%llu but the entries since the last seal are %llu..%llu",
                    (unsigned long long)first, (unsigned long long)last,
                    (unsigned long long)(v->last_boundary + 1), (unsigned long long)(ln->seq - 1));
        goto out;
    }
    if (count > 0 && (!merkle_of_pending(v, got) || memcmp(got, want, 32) != 0)) {
        problem(v, ln->seq, "seal Merkle root does not match the sealed entries");
        goto out;
    }
    if (!sig_ok)
        goto out;   /* already reported */
    for (size_t i = 0; i < v->npend; i++)
        if (v->pend[i].good && !v->pend[i].counted)
            v->res.verified++;
out:
    cJSON_Delete(j);
}

static void
check_rotation(struct tg_audit_verifier *v, const struct tg__audit_line *ln, const char *line, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(line, len);
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "rotation");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(r, "new_key_id");
    uint8_t tmp[16];

    if (!cJSON_IsString(id) || strlen(id->valuestring) != 32 || !tg__audit_unhex(id->valuestring, 16, tmp)) {
        problem(v, ln->seq, "malformed rotation entry");
    } else {
        struct vkey *cur = find_key(v, v->cur_key), *nk = find_key(v, id->valuestring);
        /* With keys listed oldest first, a rotation must move to the next one. */
        size_t ci = cur != NULL ? (size_t)(cur - v->keys) : 0;
        if (cur != NULL && nk != NULL && ci + 1 < v->nkeys && memcmp(nk->id, v->keys[ci + 1].id, 32) != 0)
            problem(v, ln->seq, "rotation to key %s skips the order of --pubkey", id->valuestring);
        memcpy(v->cur_key, id->valuestring, 33);
    }
    for (size_t i = 0; i < v->npend; i++)
        if (!v->pend[i].counted) {
            problem(v, v->pend[i].seq, "not sealed by key %s before it was rotated out", ln->key_id);
            break;
        }
    cJSON_Delete(j);
}

/* One complete, parsed, hash-correct line. */
static void
check_entry(struct tg_audit_verifier *v, const struct tg__audit_line *ln, const char *line, size_t len)
{
    static const uint8_t zero[32];
    bool good = true, sig_ok = false;
    bool control = strcmp(ln->event, "seal") == 0 || strcmp(ln->event, "rotation") == 0 ||
                   strcmp(ln->event, "recovery") == 0 || strcmp(ln->event, "start") == 0;
    struct vkey *k;

    if (!v->started && v->has_anchor) {
        /* Verifying from a trusted earlier head (older files archived): the
         * first entry must continue it; files start right after a seal. */
        v->started = true;
        v->last_boundary = ln->seq - 1;
        if (memcmp(ln->prev, v->anchor, 32) != 0) {
            problem(v, ln->seq, "does not continue the --start-after head");
            good = false;
        }
    } else if (!v->started) {
        v->started = true;
        if (ln->seq != 1 || memcmp(ln->prev, zero, 32) != 0) {
            problem(v, ln->seq, "chain does not start at seq 1 (earlier entries or rotated files missing)");
            good = false;
            v->last_boundary = ln->seq - 1;
        }
    } else if (v->resync) {
        /* position adopted silently: the unparsable line was already reported */
    } else if (ln->seq != v->seq + 1) {
        if (ln->seq <= v->seq)
            problem(v, ln->seq, "duplicate or out-of-order entry (after seq %llu)", (unsigned long long)v->seq);
        else
            problem(v, v->seq + 1, "entry missing or out of order (next entry found is seq %llu)",
                    (unsigned long long)ln->seq);
        good = false;
    } else if (memcmp(ln->prev, v->prev, 32) != 0) {
        problem(v, ln->seq, "prev does not match the previous entry's hash (entry inserted or replaced)");
        good = false;
    }
    v->resync = false;

    if (!v->have_key) {
        v->have_key = true;
        memcpy(v->cur_key, ln->key_id, 33);
        /* Keys are listed oldest first: the chain must start with the first
         * one, so a newer key cannot re-sign history from the beginning. */
        if (v->nkeys > 0 && find_key(v, ln->key_id) != NULL && memcmp(v->keys[0].id, ln->key_id, 32) != 0) {
            problem(v, ln->seq, "key %s signs the start of the chain but the first --pubkey is %s "
                    "(list keys oldest first; a newer key may not re-sign old entries)", ln->key_id, v->keys[0].id);
            good = false;
        }
    }
    if (memcmp(ln->key_id, v->cur_key, 32) != 0) {
        problem(v, ln->seq, "key %s is not valid at this seq (key %s is)", ln->key_id, v->cur_key);
        good = false;
    }
    k = find_key(v, ln->key_id);
    if (k == NULL) {
        if (strcmp(v->unlisted, ln->key_id) != 0) {
            problem(v, ln->seq, "signed by key %s, which was not given with --pubkey", ln->key_id);
            memcpy(v->unlisted, ln->key_id, 33);
        }
        good = false;
    } else if (ln->has_sig) {
        sig_ok = tg__audit_sig_ok(k->md, k->pub, ln->hash, ln->sig);
        if (!sig_ok) {
            problem(v, ln->seq, "bad signature for key %s", ln->key_id);
            good = false;
        }
    }
    if (control && !ln->has_sig) {
        problem(v, ln->seq, "%s entry is not signed", ln->event);
        good = false;
    }
    sig_ok = sig_ok && good;

    if (v->has_expect && memcmp(ln->hash, v->expect, 32) == 0)
        v->expect_found = true;

    if (strcmp(ln->event, "seal") == 0) {
        check_seal(v, ln, line, len, sig_ok);
        v->npend = 0;
        v->last_boundary = ln->seq;
    } else if (strcmp(ln->event, "rotation") == 0) {
        check_rotation(v, ln, line, len);
        v->npend = 0;
        v->last_boundary = ln->seq;
    } else if (!pend_push(v, ln->seq, ln->hash, good, sig_ok)) {
        problem(v, ln->seq, "out of memory");
    }
    if (sig_ok)
        v->res.verified++;
    v->seq = ln->seq;
    memcpy(v->prev, ln->hash, 32);
    memcpy(v->head, ln->hash, 32);
    v->res.head_seq = ln->seq;
}

/* Is the line after [pos, pos+n) a recovery entry accounting for it? */
static bool
recovered(struct tg_audit_verifier *v, const char *b, size_t blen, size_t pos, size_t n)
{
    const char *start = b + pos + n + 1, *nl;
    struct tg__audit_line l2;
    const char *why;
    cJSON *j;
    bool ok = false;

    if (pos + n + 1 >= blen || (nl = memchr(start, '\n', blen - pos - n - 1)) == NULL)
        return false;
    if (tg__audit_parse_line(start, (size_t)(nl - start), &l2, &why) != TG_OK ||
        strcmp(l2.event, "recovery") != 0 || l2.seq != v->seq + 1 || !l2.has_sig)
        return false;
    /* The recovery entry's own hash and signature are checked when it is read next. */
    if ((j = cJSON_ParseWithLength(start, (size_t)(nl - start))) != NULL)
        ok = tg__audit_recovery_ok(j, v->seq, pos, b + pos, n);
    cJSON_Delete(j);
    return ok;
}

void
tg_audit_verifier_feed(struct tg_audit_verifier *v, const char *b, size_t len)
{
    size_t pos = 0;

    while (pos < len) {
        const char *nl = memchr(b + pos, '\n', len - pos);
        size_t n = nl != NULL ? (size_t)(nl - b) - pos : len - pos;
        struct tg__audit_line ln;
        const char *why = NULL;
        uint8_t h[32];

        v->res.entries++;
        if (nl == NULL) {
            problem(v, v->seq + 1, "incomplete last line (%zu bytes: torn write or truncation)", n);
            break;
        }
        if (tg__audit_parse_line(b + pos, n, &ln, &why) == TG_OK) {
            tg__audit_sha256_ctx(v->sha, b + pos, ln.prefix_len, h);
            if (memcmp(h, ln.hash, 32) == 0) {
                check_entry(v, &ln, b + pos, n);
                pos += n + 1;
                continue;
            }
            why = "hash mismatch (entry modified)";
        }
        if (recovered(v, b, len, pos, n)) {
            v->res.entries--;
            v->res.recoveries++;
            if (v->report != NULL) {
                char msg[128];
                snprintf(msg, sizeof(msg), "%zu bytes of a torn write kept in place and recorded by a recovery entry", n);
                v->report(v->ud, "recovered", v->seq + 1, msg);
            }
            pos += n + 1;
            continue;
        }
        problem(v, v->seq + 1, "%s", why);
        if (why != NULL && strcmp(why, "hash mismatch (entry modified)") == 0) {
            /* Keep the claimed position so one modified entry is one problem. */
            if (!v->started)
                v->started = true;
            (void)pend_push(v, ln.seq, ln.hash, false, false);
            v->seq = ln.seq;
            memcpy(v->prev, ln.hash, 32);
        } else {
            v->resync = v->started;
        }
        pos += n + 1;
    }
}

void
tg_audit_verifier_finish(struct tg_audit_verifier *v, struct tg_audit_verify_result *res)
{
    uint64_t first = 0, last = 0, n = 0;

    for (size_t i = 0; i < v->npend; i++)
        if (!v->pend[i].counted) {
            if (n == 0)
                first = v->pend[i].seq;
            last = v->pend[i].seq;
            n++;
        }
    v->res.unsealed = n;
    if (n > 0 && v->report != NULL) {
        char msg[160];
        snprintf(msg, sizeof(msg), "%llu entries up to seq %llu are not covered by a signed seal yet",
                 (unsigned long long)n, (unsigned long long)last);
        v->report(v->ud, "unsealed", first, msg);
    }
    if (v->has_expect && !v->expect_found) {
        char hex[65];
        tg__audit_hex(v->expect, 32, hex);
        problem(v, v->seq + 1, "expected head %.16s... not found: the log was truncated or rewritten", hex);
    }
    v->npend = 0;
    tg__audit_hex(v->head, 32, v->res.head);
    *res = v->res;
}
