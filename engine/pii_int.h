/*
 * pii_int.h — internals shared by the PII scanner's files: validators and
 * the checksum primitives they are built from (exposed for unit tests).
 * Not for use outside engine/ and its tests.
 */
#ifndef TG_PII_INT_H
#define TG_PII_INT_H

#include "engine/tg.h"
#include "engine/pii.h"

/*
 * A validator looks at one pattern match (normalised bytes) and returns
 *   < 0  drop the match (checksum or structure failed),
 *   == 0 keep it at the detector's base score (context may raise it),
 *   > 0  the score to use instead (1.0 = confirmed by a checksum).
 */
typedef double (*tg__pii_validator_fn)(const char *m, size_t len);

/* Validator by name, NULL if unknown. */
tg__pii_validator_fn tg__pii_validator(const char *name);

/* Normalisation before matching (engine/pii_norm.c): does text need it,
 * and the text as a model reads it.  The map back to the input is a list
 * of segments, not an entry per byte: most text is copied as is, and a
 * per-byte map cost more than the scan it served.  Output bytes
 * [seg.o, next seg.o) came from input bytes seg.i + k * seg.w for k = 0, 1, ...
 * each seg.w long (w = 1: copied as is; w > 1: one folded character). */
struct tg__pii_seg {
    uint32_t o, i, w;
};
bool   tg__pii_needs_norm(const unsigned char *t, size_t n);
/* out needs room for n + 1 bytes, seg for n + 1 segments; returns the
 * output length (never more than n) and the segment count in *nseg.
 * *same: nothing reads differently; out and seg were not written and the
 * text is to be scanned as it is. */
size_t tg__pii_normalise(char *out, struct tg__pii_seg *seg, size_t *nseg, const unsigned char *t, size_t n,
                         bool *same);
/* Input span [*is, *ie) of the output span [s, e), e > s. */
void   tg__pii_norm_span(const struct tg__pii_seg *seg, size_t nseg, uint32_t s, uint32_t e,
                         uint32_t *is, uint32_t *ie);
/* Scanner internals shared with engine/pii_request.c and pii_show.c. */
int tg__pii_append_finding(struct tg_arena *a, struct tg_findings *out, const struct tg_finding *f);
static inline bool
tg__pii_ascii_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}
/* National identifiers (engine/pii_valid_intl.c), NULL if unknown. */
tg__pii_validator_fn tg__pii_validator_intl(const char *name);
/* The secret validators (engine/pii_valid_secret.c), NULL if unknown. */
tg__pii_validator_fn tg__pii_secret_validator(const char *name);

/* Primitives. Digit strings are ASCII digits only unless said otherwise. */
bool   tg__pii_luhn(const char *digits, size_t n);
/* IBAN (no spaces, upper case): country length table + ISO 7064 mod 97-10. */
bool   tg__pii_iban_ok(const char *s, size_t n);
bool   tg__pii_aba_ok(const char *digits9);
bool   tg__pii_nhs_ok(const char *digits10);
/* 18 chars, last may be 'X'/'x': ISO 7064 MOD 11-2. */
bool   tg__pii_cn_id_ok(const char *s18);
bool   tg__pii_base58check_ok(const char *s, size_t n);
bool   tg__pii_bech32_ok(const char *s, size_t n);
bool   tg__pii_ipv6_ok(const char *s, size_t n);
/* ISO 7064 MOD 11,10 over n digits, the last being the check digit. */
bool   tg__pii_mod11_10_ok(const char *digits, size_t n);
/* Verhoeff over n digits, the last being the check digit. */
bool   tg__pii_verhoeff_ok(const char *digits, size_t n);
/* Shannon entropy in bits per byte. */
double tg__pii_entropy(const char *s, size_t n);
/* base64url (no padding needed) decode into out (cap bytes); -1 on bad input. */
long   tg__pii_b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap);

/* SHA-256 (FIPS 180-4), engine-local because engine/ may not use OpenSSL. */
struct tg__sha256 {
    uint32_t h[8];
    uint64_t len;
    unsigned char buf[64];
    size_t   nbuf;
};
void tg__sha256_init(struct tg__sha256 *c);
void tg__sha256_update(struct tg__sha256 *c, const void *data, size_t n);
void tg__sha256_final(struct tg__sha256 *c, unsigned char out[32]);
void tg__sha256(const void *data, size_t n, unsigned char out[32]);

#endif /* TG_PII_INT_H */
