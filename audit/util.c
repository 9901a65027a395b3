/* util.c — audit line format, hashing, Merkle roots, Ed25519 keys, timestamps. */
#include "audit/audit_int.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/sha.h>

static const char hexdig[] = "0123456789abcdef";

void
tg__audit_hex(const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdig[in[i] >> 4];
        out[2 * i + 1] = hexdig[in[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Lower-case hex digits only (upper case is rejected: one spelling per
 * value, so a flipped case bit is caught); 0xff = not a digit. */
static const uint8_t hexval[256] = {
    ['0'] = 0,  ['1'] = 1,  ['2'] = 2,  ['3'] = 3,  ['4'] = 4,  ['5'] = 5,  ['6'] = 6,  ['7'] = 7,
    ['8'] = 8,  ['9'] = 9,  ['a'] = 10, ['b'] = 11, ['c'] = 12, ['d'] = 13, ['e'] = 14, ['f'] = 15,
};

static bool
is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

bool
tg__audit_unhex(const char *in, size_t n, uint8_t *out)
{
    unsigned bad = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char hi = (unsigned char)in[2 * i], lo = (unsigned char)in[2 * i + 1];
        bad |= !is_hex(hi) | !is_hex(lo);
        out[i] = (uint8_t)(hexval[hi] << 4 | hexval[lo]);
    }
    return bad == 0;
}

static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

void
tg__audit_sha256_ctx(EVP_MD_CTX *ctx, const void *p, size_t n, uint8_t out[32])
{
    unsigned int len = 32;

    /* A reused context with a prefetched digest: no allocation, no lookup. */
    pthread_once(&sha256_once, sha256_fetch);
    if (ctx == NULL || sha256_md == NULL || EVP_DigestInit_ex(ctx, sha256_md, NULL) != 1 ||
        EVP_DigestUpdate(ctx, p, n) != 1 || EVP_DigestFinal_ex(ctx, out, &len) != 1)
        tg__audit_sha256(p, n, out);
}

void
tg__audit_sha256(const void *p, size_t n, uint8_t out[32])
{
    /* SHA256() looks the algorithm up on every call (a locked table walk in
     * OpenSSL 3): fetch once, it is the verifier's and writer's hot path. */
    pthread_once(&sha256_once, sha256_fetch);
    if (sha256_md == NULL || EVP_Digest(p, n, out, NULL, sha256_md, NULL) != 1)
        SHA256(p, n, out);
}

static bool
expect_lit(const char *s, size_t len, size_t *pos, const char *lit)
{
    size_t n = strlen(lit);
    if (len - *pos < n || memcmp(s + *pos, lit, n) != 0)
        return false;
    *pos += n;
    return true;
}

int
tg__audit_parse_line(const char *s, size_t len, struct tg__audit_line *out, const char **why)
{
    size_t pos = 0, suf;
    uint64_t seq = 0;
    size_t ndig = 0, ev = 0;

    *why = "malformed entry";
    if (!expect_lit(s, len, &pos, "{\"seq\":"))
        return TG_EINVAL;
    /* Decimal without leading zeros, so each seq has exactly one spelling. */
    while (pos < len && s[pos] >= '0' && s[pos] <= '9') {
        if (ndig == 19 || (ndig > 0 && seq == 0))
            return TG_EINVAL;
        seq = seq * 10 + (uint64_t)(s[pos] - '0');
        ndig++;
        pos++;
    }
    if (ndig == 0 || seq == 0)
        return TG_EINVAL;
    if (!expect_lit(s, len, &pos, ",\"prev\":\"") || len - pos < 64 ||
        !tg__audit_unhex(s + pos, 32, out->prev))
        return TG_EINVAL;
    pos += 64;
    if (!expect_lit(s, len, &pos, "\",\"key_id\":\"") || len - pos < 32)
        return TG_EINVAL;
    {
        uint8_t tmp[16];
        if (!tg__audit_unhex(s + pos, 16, tmp))
            return TG_EINVAL;
    }
    memcpy(out->key_id, s + pos, 32);
    out->key_id[32] = '\0';
    pos += 32;
    if (!expect_lit(s, len, &pos, "\",\"event\":\""))
        return TG_EINVAL;
    while (pos < len && ((s[pos] >= 'a' && s[pos] <= 'z') || s[pos] == '_')) {
        if (ev == TG__AUDIT_EVENT_MAX)
            return TG_EINVAL;
        out->event[ev++] = s[pos++];
    }
    out->event[ev] = '\0';
    if (ev == 0 || !expect_lit(s, len, &pos, "\""))
        return TG_EINVAL;

    /* Suffix: fixed shapes, tried long (signed) first; they cannot be confused
     * because the short shape's last 212 bytes put `,"hash` where hex must be. */
    out->has_sig = false;
    *why = "malformed hash/sig suffix";
    if (len >= pos + TG__AUDIT_SUFFIX_LONG) {
        suf = len - TG__AUDIT_SUFFIX_LONG;
        size_t p = suf;
        if (expect_lit(s, len, &p, ",\"hash\":\"") && tg__audit_unhex(s + p, 32, out->hash) &&
            (p += 64, expect_lit(s, len, &p, "\",\"sig\":\"")) &&
            tg__audit_unhex(s + p, 64, out->sig) && (p += 128, expect_lit(s, len, &p, "\"}")) &&
            p == len) {
            out->has_sig = true;
            goto body;
        }
    }
    if (len < pos + TG__AUDIT_SUFFIX_SHORT)
        return TG_EINVAL;
    suf = len - TG__AUDIT_SUFFIX_SHORT;
    {
        size_t p = suf;
        if (!expect_lit(s, len, &p, ",\"hash\":\"") || !tg__audit_unhex(s + p, 32, out->hash))
            return TG_EINVAL;
        p += 64;
        if (!expect_lit(s, len, &p, "\"}") || p != len)
            return TG_EINVAL;
    }
body:
    /* The body, if any, continues the object after the header. */
    if (suf != pos && s[pos] != ',')
        return TG_EINVAL;
    out->seq = seq;
    out->prefix_len = suf;
    *why = NULL;
    return TG_OK;
}

void
tg__audit_merkle_root(const uint8_t *leaves, size_t n, uint8_t *scratch, uint8_t out[32])
{
    uint8_t buf[65];

    /* Bottom-up with the odd last node promoted unchanged: equal to RFC 9162's
     * recursive split at the largest power of two below n. */
    for (size_t i = 0; i < n; i++) {
        buf[0] = 0x00;
        memcpy(buf + 1, leaves + 32 * i, 32);
        SHA256(buf, 33, scratch + 32 * i);
    }
    while (n > 1) {
        size_t m = 0;
        for (size_t i = 0; i + 1 < n; i += 2) {
            buf[0] = 0x01;
            memcpy(buf + 1, scratch + 32 * i, 32);
            memcpy(buf + 33, scratch + 32 * (i + 1), 32);
            SHA256(buf, 65, scratch + 32 * m++);
        }
        if (n & 1)
            memmove(scratch + 32 * m++, scratch + 32 * (n - 1), 32);
        n = m;
    }
    memcpy(out, scratch, 32);
}

static void
mtree_node(EVP_MD_CTX *c, const uint8_t l[32], const uint8_t r[32], uint8_t out[32])
{
    uint8_t buf[65];

    buf[0] = 0x01;
    memcpy(buf + 1, l, 32);
    memcpy(buf + 33, r, 32);
    tg__audit_sha256_ctx(c, buf, sizeof(buf), out);
}

void
tg__audit_mtree_add(struct tg__audit_mtree *m, EVP_MD_CTX *c, const uint8_t leaf[32])
{
    uint8_t buf[33];

    buf[0] = 0x00;
    memcpy(buf + 1, leaf, 32);
    tg__audit_sha256_ctx(c, buf, sizeof(buf), m->node[m->depth++]);
    /* Leaf n (1-based) completes one subtree per trailing zero bit of n. */
    for (uint64_t k = ++m->n; (k & 1) == 0 && m->depth >= 2; k >>= 1) {
        mtree_node(c, m->node[m->depth - 2], m->node[m->depth - 1], m->node[m->depth - 2]);
        m->depth--;
    }
}

void
tg__audit_mtree_root(const struct tg__audit_mtree *m, EVP_MD_CTX *c, uint8_t out[32])
{
    uint8_t h[32];

    /* Fold right to left: RFC 9162's split at the largest power of two. */
    memcpy(h, m->node[m->depth - 1], 32);
    for (uint32_t i = m->depth - 1; i-- > 0;)
        mtree_node(c, m->node[i], h, h);
    memcpy(out, h, 32);
}

int
tg__audit_key_id(EVP_PKEY *k, char out[33])
{
    uint8_t raw[32], h[32];
    size_t n = sizeof(raw);

    if (EVP_PKEY_get_raw_public_key(k, raw, &n) != 1 || n != 32)
        return TG_ECRYPTO;
    SHA256(raw, 32, h);
    tg__audit_hex(h, 16, out);
    return TG_OK;
}

int
tg__audit_sign(EVP_MD_CTX *ctx, EVP_PKEY *k, const uint8_t hash[32], uint8_t sig[64])
{
    size_t n = 64;

    /* Ed25519 is one-shot: the digest is NULL and EVP_DigestSign does it all.
     * A context already initialised for this key is reused (as `openssl
     * speed` does): initialising allocates, and costs a third of a signature.
     * Where OpenSSL refuses a second EVP_DigestSign, initialise again. */
    if (EVP_MD_CTX_get_pkey_ctx(ctx) != NULL && EVP_DigestSign(ctx, sig, &n, hash, 32) == 1 && n == 64)
        return TG_OK;
    ERR_clear_error();
    n = 64;
    if (EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
        EVP_DigestSign(ctx, sig, &n, hash, 32) != 1 || n != 64) {
        ERR_clear_error();
        return TG_ECRYPTO;
    }
    return TG_OK;
}

bool
tg__audit_sig_ok(EVP_MD_CTX *ctx, EVP_PKEY *pub, const uint8_t hash[32], const uint8_t sig[64])
{
    bool ok = EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
              EVP_DigestVerify(ctx, sig, 64, hash, 32) == 1;
    if (!ok)
        ERR_clear_error();
    return ok;
}

static bool
is_ed25519(EVP_PKEY *k)
{
    return EVP_PKEY_get_id(k) == EVP_PKEY_ED25519;
}

int
tg__audit_load_key(const char *path, EVP_PKEY **out, struct tg_err *err)
{
    FILE *f = fopen(path, "r");
    EVP_PKEY *k;

    if (f == NULL) {
        if (errno == ENOENT)
            return tg_err_set(err, TG_ENOTFOUND, "%s: no such file", path);
        return tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
    }
    k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    if (k == NULL || !is_ed25519(k)) {
        ERR_clear_error();
        EVP_PKEY_free(k);
        return tg_err_set(err, TG_ECRYPTO, "%s: not a PEM Ed25519 private key", path);
    }
    *out = k;
    return TG_OK;
}

int
tg__audit_gen_key(EVP_PKEY **out, struct tg_err *err)
{
    EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

    if (k == NULL) {
        ERR_clear_error();
        return tg_err_set(err, TG_ECRYPTO, "Ed25519 key generation failed");
    }
    *out = k;
    return TG_OK;
}

static int
write_pem(const char *path, mode_t mode, EVP_PKEY *k, bool priv, struct tg_err *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    FILE *f;
    int ok;

    if (fd < 0) {
        if (errno == EEXIST)
            return tg_err_set(err, TG_EINVAL, "%s: already exists, refusing to overwrite", path);
        return tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
    }
    (void)fchmod(fd, mode);   /* the umask must not widen or narrow what we promise */
    f = fdopen(fd, "w");
    if (f == NULL) {
        close(fd);
        unlink(path);
        return tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
    }
    ok = priv ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, k);
    ok = ok == 1 && fflush(f) == 0 && fsync(fileno(f)) == 0;
    if (fclose(f) != 0)
        ok = 0;
    if (!ok) {
        ERR_clear_error();
        unlink(path);
        return tg_err_set(err, TG_EIO, "%s: write failed", path);
    }
    return TG_OK;
}

int
tg__audit_write_keys(EVP_PKEY *k, const char *key_path, const char *pub_path, struct tg_err *err)
{
    struct stat st;
    int rc;

    /* Check both first so a refused overwrite leaves nothing half-written. */
    if (stat(key_path, &st) == 0)
        return tg_err_set(err, TG_EINVAL, "%s: already exists, refusing to overwrite", key_path);
    if (pub_path != NULL && stat(pub_path, &st) == 0)
        return tg_err_set(err, TG_EINVAL, "%s: already exists, refusing to overwrite", pub_path);
    rc = write_pem(key_path, 0600, k, true, err);
    if (rc != TG_OK || pub_path == NULL)
        return rc;
    rc = write_pem(pub_path, 0644, k, false, err);
    if (rc != TG_OK)
        unlink(key_path);
    return rc;
}

int
tg__audit_parse_pub(const char *pem, size_t len, EVP_PKEY **out, struct tg_err *err)
{
    BIO *b = BIO_new_mem_buf(pem, (int)(len > 1u << 20 ? 1u << 20 : len));
    EVP_PKEY *k = NULL;

    if (b != NULL)
        k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    if (k == NULL && b != NULL) {
        /* A private key file is accepted too: its public half is what we need. */
        (void)BIO_reset(b);
        k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    }
    BIO_free(b);
    if (k == NULL || !is_ed25519(k)) {
        ERR_clear_error();
        EVP_PKEY_free(k);
        return tg_err_set(err, TG_ECRYPTO, "not a PEM Ed25519 public key");
    }
    *out = k;
    return TG_OK;
}

static void
put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        p[i] = (char)('0' + v % 10);
}

void
tg__audit_fmt_ts(int64_t us, char out[32])
{
    /* 0000-01-01 .. 9999-12-31 in seconds since the epoch: the range where
     * the fields have their natural widths. */
    static const int64_t lo = -62167219200LL, hi = 253402300799LL;
    int64_t s = us / 1000000;
    long frac = (long)(us % 1000000);
    struct tm tm;

    if (frac < 0) {
        frac += 1000000;
        s -= 1;
    }
    if (s >= lo && s <= hi) {
        /* Proleptic Gregorian calendar by arithmetic (days -> year/month/day
         * over 400-year eras, years starting in March so the leap day comes
         * last).  gmtime_r takes glibc's time zone lock on every call, and
         * this runs on every request of every event-loop thread. */
        int64_t days = (s - lo) / 86400, sec = (s - lo) % 86400;
        int64_t z = days - 60;                       /* days since 0000-03-01 */
        int64_t era = (z >= 0 ? z : z - 146096) / 146097;
        unsigned doe = (unsigned)(z - era * 146097);  /* day of era, 0..146096 */
        unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
        unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        unsigned mp = (5 * doy + 2) / 153;            /* month from March = 0 */
        unsigned d = doy - (153 * mp + 2) / 5 + 1;
        unsigned m = mp < 10 ? mp + 3 : mp - 9;
        int64_t y = (int64_t)yoe + era * 400 + (m <= 2);

        put_digits(out, (unsigned)y, 4);
        out[4] = '-';
        put_digits(out + 5, m, 2);
        out[7] = '-';
        put_digits(out + 8, d, 2);
        out[10] = 'T';
        put_digits(out + 11, (unsigned)(sec / 3600), 2);
        out[13] = ':';
        put_digits(out + 14, (unsigned)(sec / 60 % 60), 2);
        out[16] = ':';
        put_digits(out + 17, (unsigned)(sec % 60), 2);
        out[19] = '.';
        put_digits(out + 20, (unsigned)frac, 6);
        out[26] = 'Z';
        out[27] = '\0';
        return;
    }
    /* Outside it, whatever gmtime_r and the bounded widths make of it. */
    time_t t = (time_t)s;
    if (gmtime_r(&t, &tm) == NULL)
        memset(&tm, 0, sizeof(tm));
    /* The modulos only bound the field widths for the compiler; real values fit. */
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
             (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u,
             (unsigned)frac % 1000000u);
}

int64_t
tg__audit_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static bool
digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return true;
}

bool
tg__audit_parse_ts(const char *s, int64_t *us)
{
    struct tm tm;
    int y, mo, d, h = 0, mi = 0, se = 0;
    int64_t frac = 0, off = 0;
    const char *p = s;

    memset(&tm, 0, sizeof(tm));
    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) || *p++ != '-' ||
        !digits(&p, 2, &d))
        return false;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &se))
                return false;
            if (*p == '.') {
                int64_t scale = 100000;
                p++;
                if (*p < '0' || *p > '9')
                    return false;
                while (*p >= '0' && *p <= '9') {
                    frac += (*p - '0') * scale;
                    scale /= 10;
                    p++;
                }
            }
        }
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int oh, om, sign = *p == '-' ? -1 : 1;
            p++;
            if (!digits(&p, 2, &oh) || *p++ != ':' || !digits(&p, 2, &om))
                return false;
            off = sign * ((int64_t)oh * 3600 + om * 60);
        }
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = se;
    *us = ((int64_t)timegm(&tm) - off) * 1000000 + frac;
    return true;
}

bool
tg__audit_get_u64(const cJSON *obj, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9007199254740992.0 ||
        v->valuedouble != (double)(uint64_t)v->valuedouble)
        return false;
    *out = (uint64_t)v->valuedouble;
    return true;
}

bool
tg__audit_recovery_ok(const cJSON *j, uint64_t after_seq, uint64_t off, const char *junk, size_t n)
{
    const cJSON *r = cJSON_GetObjectItemCaseSensitive(j, "recovery");
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(r, "discarded_sha256");
    uint64_t a, o, len;
    uint8_t want[32], got[32];

    if (!cJSON_IsObject(r) || !tg__audit_get_u64(r, "after_seq", &a) ||
        !tg__audit_get_u64(r, "offset", &o) || !tg__audit_get_u64(r, "discarded_bytes", &len) ||
        !cJSON_IsString(h) || strlen(h->valuestring) != 64 || !tg__audit_unhex(h->valuestring, 32, want))
        return false;
    if (a != after_seq || o != off || len != n)
        return false;
    SHA256((const unsigned char *)junk, n, got);
    return memcmp(want, got, 32) == 0;
}

/* ---- request HMAC with precomputed keyed state ------------------------------
 * HMAC-SHA-256(k, m) = H((k ^ opad) || H((k ^ ipad) || m)).  The two padded
 * key blocks are absorbed once per key and the SHA-256 states kept, so a
 * request costs two state copies and the hashing of its body: no algorithm
 * fetch, no key schedule, no per-tenant key derivation (HMAC() did all of
 * that on every call, most of its cost for a short body). */

struct hmac_keyed {
    EVP_MD_CTX *ictx;   /* after (k ^ ipad) */
    EVP_MD_CTX *octx;   /* after (k ^ opad) */
};

/* Tenants cached per key: a fixed open-addressed table, filled lock-free
 * (compare-and-swap into empty slots) and never changed after, so lookups
 * are plain acquire loads from any thread.  Bounded: past the fill limit a
 * tenant is derived per call (correct, just slower). */
#define HMAC_SLOTS    512u
#define HMAC_MAX_FILL 384u

struct hmac_tenant {
    struct hmac_keyed k;
    uint64_t          h;
    size_t            len;
    char              name[];
};

struct tg__audit_hmac {
    uint8_t                       master[32];
    struct hmac_keyed             mk;        /* keyed state of master */
    _Atomic(struct hmac_tenant *) slot[HMAC_SLOTS];
    atomic_uint                   fill;
    struct tg__audit_hmac        *older;     /* kept alive until the log is freed */
};

static void
keyed_free(struct hmac_keyed *k)
{
    EVP_MD_CTX_free(k->ictx);   /* the provider clears the SHA-256 state on free */
    EVP_MD_CTX_free(k->octx);
    k->ictx = k->octx = NULL;
}

static bool
keyed_init(struct hmac_keyed *k, const uint8_t *key, size_t n)
{
    uint8_t blk[64], kh[32];
    bool ok;

    pthread_once(&sha256_once, sha256_fetch);
    k->ictx = EVP_MD_CTX_new();
    k->octx = EVP_MD_CTX_new();
    if (sha256_md == NULL || k->ictx == NULL || k->octx == NULL) {
        keyed_free(k);
        return false;
    }
    if (n > sizeof(blk)) {   /* RFC 2104: longer keys are hashed first */
        tg__audit_sha256(key, n, kh);
        key = kh;
        n = sizeof(kh);
    }
    memset(blk, 0x36, sizeof(blk));
    for (size_t i = 0; i < n; i++)
        blk[i] ^= key[i];
    ok = EVP_DigestInit_ex(k->ictx, sha256_md, NULL) == 1 && EVP_DigestUpdate(k->ictx, blk, 64) == 1;
    for (size_t i = 0; i < sizeof(blk); i++)
        blk[i] ^= 0x36 ^ 0x5c;
    ok = ok && EVP_DigestInit_ex(k->octx, sha256_md, NULL) == 1 && EVP_DigestUpdate(k->octx, blk, 64) == 1;
    OPENSSL_cleanse(blk, sizeof(blk));
    OPENSSL_cleanse(kh, sizeof(kh));
    if (!ok)
        keyed_free(k);
    return ok;
}

/* HMAC with keyed state k, using the caller's scratch context c. */
static bool
keyed_mac(const struct hmac_keyed *k, EVP_MD_CTX *c, const void *m, size_t n, uint8_t out[32])
{
    uint8_t ih[32];
    unsigned int len = 32;
    bool ok = EVP_MD_CTX_copy_ex(c, k->ictx) == 1 && EVP_DigestUpdate(c, m, n) == 1 &&
              EVP_DigestFinal_ex(c, ih, &len) == 1 && EVP_MD_CTX_copy_ex(c, k->octx) == 1 &&
              EVP_DigestUpdate(c, ih, 32) == 1 && EVP_DigestFinal_ex(c, out, &len) == 1;
    OPENSSL_cleanse(ih, sizeof(ih));
    return ok;
}

int
tg__audit_hmac_new(const uint8_t master[32], struct tg__audit_hmac *older, struct tg__audit_hmac **out)
{
    struct tg__audit_hmac *h = calloc(1, sizeof(*h));

    if (h == NULL)
        return TG_ENOMEM;
    memcpy(h->master, master, 32);
    if (!keyed_init(&h->mk, master, 32)) {
        OPENSSL_cleanse(h->master, 32);
        free(h);
        return TG_ECRYPTO;
    }
    for (size_t i = 0; i < HMAC_SLOTS; i++)
        atomic_init(&h->slot[i], NULL);
    atomic_init(&h->fill, 0);
    h->older = older;
    *out = h;
    return TG_OK;
}

void
tg__audit_hmac_free(struct tg__audit_hmac *h)
{
    while (h != NULL) {
        struct tg__audit_hmac *older = h->older;
        for (size_t i = 0; i < HMAC_SLOTS; i++) {
            struct hmac_tenant *t = atomic_load(&h->slot[i]);
            if (t != NULL) {
                keyed_free(&t->k);
                free(t);
            }
        }
        keyed_free(&h->mk);
        OPENSSL_cleanse(h->master, 32);
        free(h);
        h = older;
    }
}

static uint64_t
name_hash(const char *s, size_t n)
{
    uint64_t x = 1469598103934665603ULL;   /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        x = (x ^ (unsigned char)s[i]) * 1099511628211ULL;
    return x;
}

/* The tenant's keyed state: cached, or derived (and cached if there is room).
 * NULL on allocation failure.  *tmp receives an uncached entry the caller frees. */
static const struct hmac_tenant *
tenant_keyed(struct tg__audit_hmac *h, EVP_MD_CTX *c, const char *t, struct hmac_tenant **tmp)
{
    size_t n = strlen(t);
    uint64_t x = name_hash(t, n);
    size_t i = (size_t)x & (HMAC_SLOTS - 1), probes;
    struct hmac_tenant *e, *mine;
    uint8_t tk[32];
    bool ok;

    for (probes = 0; probes < HMAC_SLOTS; probes++) {
        e = atomic_load_explicit(&h->slot[(i + probes) & (HMAC_SLOTS - 1)], memory_order_acquire);
        if (e == NULL)
            break;
        if (e->h == x && e->len == n && memcmp(e->name, t, n) == 0)
            return e;
    }
    /* Per-tenant key = HMAC(master, tenant): equal prompts of two tenants do not collide. */
    if ((mine = malloc(sizeof(*mine) + n + 1)) == NULL)
        return NULL;
    ok = keyed_mac(&h->mk, c, t, n, tk) && keyed_init(&mine->k, tk, 32);
    OPENSSL_cleanse(tk, sizeof(tk));
    if (!ok) {
        free(mine);
        return NULL;
    }
    mine->h = x;
    mine->len = n;
    memcpy(mine->name, t, n + 1);
    /* Load first: once full, the counter stops moving (it cannot wrap). */
    if (atomic_load(&h->fill) < HMAC_MAX_FILL && atomic_fetch_add(&h->fill, 1) < HMAC_MAX_FILL) {
        for (; probes < HMAC_SLOTS; probes++) {
            struct hmac_tenant *expect = NULL;
            _Atomic(struct hmac_tenant *) *s = &h->slot[(i + probes) & (HMAC_SLOTS - 1)];
            if (atomic_compare_exchange_strong_explicit(s, &expect, mine, memory_order_acq_rel,
                                                        memory_order_acquire))
                return mine;
            /* Another thread filled this slot first, maybe with the same tenant. */
            if (expect->h == x && expect->len == n && memcmp(expect->name, t, n) == 0) {
                keyed_free(&mine->k);
                free(mine);
                return expect;
            }
        }
    }
    *tmp = mine;
    return mine;
}

void
tg__audit_hmac_request(struct tg__audit_hmac *h, const char *tenant, const void *body, size_t len,
                       uint8_t out[32])
{
    const char *t = tenant != NULL ? tenant : "";
    const void *m = body != NULL ? body : "";
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    struct hmac_tenant *tmp = NULL;
    const struct hmac_tenant *e = c != NULL ? tenant_keyed(h, c, t, &tmp) : NULL;

    if (e == NULL || !keyed_mac(&e->k, c, m, len, out)) {
        /* Out of memory on the way: the same value the slow way, never a wrong one. */
        uint8_t tk[32];
        ERR_clear_error();
        HMAC(EVP_sha256(), h->master, 32, (const unsigned char *)t, strlen(t), tk, NULL);
        HMAC(EVP_sha256(), tk, 32, m, len, out, NULL);
        OPENSSL_cleanse(tk, sizeof(tk));
    }
    if (tmp != NULL) {
        keyed_free(&tmp->k);
        free(tmp);
    }
    EVP_MD_CTX_free(c);
}

