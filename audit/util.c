/* util.c — audit line format, hashing, Merkle roots, Ed25519 keys, timestamps. */
#include "audit/audit_int.h"

#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
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

void
tg__audit_fmt_ts(int64_t us, char out[32])
{
    time_t s = (time_t)(us / 1000000);
    long frac = (long)(us % 1000000);
    struct tm tm;

    if (frac < 0) {
        frac += 1000000;
        s -= 1;
    }
    gmtime_r(&s, &tm);
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
