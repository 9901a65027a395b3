/*
 * pii_valid.c — validators that turn a PCRE2 match into a confirmed finding
 * or drop it: checksums (Luhn, mod 97, ABA, NHS mod 11, ISO 7064, Base58Check
 * over SHA-256, bech32), structure checks (phone numbering plans, SSN/ITIN
 * ranges, IPv6, dates) and Shannon entropy for secrets.
 */
#include "engine/pii_int.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <string.h>

/* ---- SHA-256 (FIPS 180-4) --------------------------------------------- */

static const uint32_t sha_k[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void
sha256_block(struct tg__sha256 *c, const unsigned char *p)
{
    uint32_t w[64], a, b, cc, d, e, f, g, h, t1, t2;
    int i;

    for (i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
               (uint32_t)p[4 * i + 2] << 8 | (uint32_t)p[4 * i + 3];
    for (i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    a = c->h[0]; b = c->h[1]; cc = c->h[2]; d = c->h[3];
    e = c->h[4]; f = c->h[5]; g = c->h[6]; h = c->h[7];
    for (i = 0; i < 64; i++) {
        t1 = h + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + sha_k[i] + w[i];
        t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & cc) ^ (b & cc));
        h = g; g = f; f = e; e = d + t1;
        d = cc; cc = b; b = a; a = t1 + t2;
    }
    c->h[0] += a; c->h[1] += b; c->h[2] += cc; c->h[3] += d;
    c->h[4] += e; c->h[5] += f; c->h[6] += g; c->h[7] += h;
}

void
tg__sha256_init(struct tg__sha256 *c)
{
    static const uint32_t iv[8] = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                    0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
    memcpy(c->h, iv, sizeof iv);
    c->len = 0;
    c->nbuf = 0;
}

void
tg__sha256_update(struct tg__sha256 *c, const void *data, size_t n)
{
    const unsigned char *p = data;

    c->len += n;
    while (n > 0) {
        size_t take = 64 - c->nbuf;
        if (take > n)
            take = n;
        memcpy(c->buf + c->nbuf, p, take);
        c->nbuf += take;
        p += take;
        n -= take;
        if (c->nbuf == 64) {
            sha256_block(c, c->buf);
            c->nbuf = 0;
        }
    }
}

void
tg__sha256_final(struct tg__sha256 *c, unsigned char out[32])
{
    uint64_t bits = c->len * 8;
    unsigned char pad = 0x80, zero = 0, lenb[8];
    int i;

    tg__sha256_update(c, &pad, 1);
    while (c->nbuf != 56)
        tg__sha256_update(c, &zero, 1);
    for (i = 0; i < 8; i++)
        lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
    tg__sha256_update(c, lenb, 8);
    for (i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(c->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(c->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(c->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)c->h[i];
    }
}

void
tg__sha256(const void *data, size_t n, unsigned char out[32])
{
    struct tg__sha256 c;
    tg__sha256_init(&c);
    tg__sha256_update(&c, data, n);
    tg__sha256_final(&c, out);
}

/* ---- helpers ------------------------------------------------------------ */

static inline bool isdig(char c) { return c >= '0' && c <= '9'; }
static inline bool isup(char c) { return c >= 'A' && c <= 'Z'; }
static inline bool islow(char c) { return c >= 'a' && c <= 'z'; }
static inline char lower(char c) { return isup(c) ? (char)(c + 32) : c; }

/* Copy the digits of m into d (at most cap), return how many. */
static size_t
digits_of(const char *m, size_t len, char *d, size_t cap)
{
    size_t n = 0, i;
    for (i = 0; i < len; i++)
        if (isdig(m[i])) {
            if (n == cap)
                return cap + 1;   /* too many: callers reject */
            d[n++] = m[i];
        }
    return n;
}

static int
num(const char *d, size_t n)
{
    int v = 0;
    size_t i;
    for (i = 0; i < n; i++)
        v = v * 10 + (d[i] - '0');
    return v;
}

/* ---- checksums ------------------------------------------------------------ */

bool
tg__pii_luhn(const char *digits, size_t n)
{
    unsigned sum = 0;
    size_t i;
    bool dbl = false;

    if (n == 0)
        return false;
    for (i = n; i-- > 0;) {
        unsigned v = (unsigned)(digits[i] - '0');
        if (v > 9)
            return false;
        if (dbl) {
            v *= 2;
            if (v > 9)
                v -= 9;
        }
        sum += v;
        dbl = !dbl;
    }
    return sum % 10 == 0;
}

static const struct { char cc[3]; uint8_t len; } iban_len[] = {
    {"AD",24},{"AE",23},{"AL",28},{"AT",20},{"AZ",28},{"BA",20},{"BE",16},{"BG",22},{"BH",22},
    {"BR",29},{"BY",28},{"CH",21},{"CR",22},{"CY",28},{"CZ",24},{"DE",22},{"DK",18},{"DO",28},
    {"EE",20},{"EG",29},{"ES",24},{"FI",18},{"FO",18},{"FR",27},{"GB",22},{"GE",22},{"GI",23},
    {"GL",18},{"GR",27},{"GT",28},{"HR",21},{"HU",28},{"IE",22},{"IL",23},{"IQ",23},{"IS",26},
    {"IT",27},{"JO",30},{"KW",30},{"KZ",20},{"LB",28},{"LC",32},{"LI",21},{"LT",20},{"LU",20},
    {"LV",21},{"MC",27},{"MD",24},{"ME",22},{"MK",19},{"MR",27},{"MT",31},{"MU",30},{"NL",18},
    {"NO",15},{"PK",24},{"PL",28},{"PS",29},{"PT",25},{"QA",29},{"RO",24},{"RS",22},{"SA",24},
    {"SC",31},{"SE",24},{"SI",19},{"SK",24},{"SM",27},{"ST",25},{"SV",28},{"TL",23},{"TN",24},
    {"TR",26},{"UA",29},{"VA",22},{"VG",24},{"XK",20},
};

bool
tg__pii_iban_ok(const char *s, size_t n)
{
    size_t i, want = 0;
    unsigned rem = 0;

    if (n < 15 || n > 34)
        return false;
    for (i = 0; i < TG_ARRAY_LEN(iban_len); i++)
        if (s[0] == iban_len[i].cc[0] && s[1] == iban_len[i].cc[1]) {
            want = iban_len[i].len;
            break;
        }
    if (want != n || !isdig(s[2]) || !isdig(s[3]))
        return false;
    /* Move the first four characters to the end, letters -> 10..35, mod 97. */
    for (i = 0; i < n; i++) {
        char c = s[(i + 4) % n];
        if (isdig(c))
            rem = (rem * 10 + (unsigned)(c - '0')) % 97;
        else if (isup(c))
            rem = (rem * 100 + (unsigned)(c - 'A' + 10)) % 97;
        else
            return false;
    }
    return rem == 1;
}

bool
tg__pii_aba_ok(const char *d)
{
    unsigned sum = 0, p;
    int i;
    static const unsigned w[3] = { 3, 7, 1 };

    for (i = 0; i < 9; i++)
        if (!isdig(d[i]))
            return false;
    if (memcmp(d, "000000000", 9) == 0)
        return false;
    /* First two digits: Federal Reserve routing symbol ranges. */
    p = (unsigned)num(d, 2);
    if (!(p <= 12 || (p >= 21 && p <= 32) || (p >= 61 && p <= 72) || p == 80))
        return false;
    for (i = 0; i < 9; i++)
        sum += w[i % 3] * (unsigned)(d[i] - '0');
    return sum % 10 == 0;
}

bool
tg__pii_nhs_ok(const char *d)
{
    unsigned sum = 0, check;
    int i;

    for (i = 0; i < 10; i++)
        if (!isdig(d[i]))
            return false;
    for (i = 0; i < 9; i++)
        sum += (unsigned)(d[i] - '0') * (unsigned)(10 - i);
    check = 11 - sum % 11;
    if (check == 11)
        check = 0;
    if (check == 10)
        return false;
    return check == (unsigned)(d[9] - '0');
}

bool
tg__pii_cn_id_ok(const char *s)
{
    static const unsigned w[17] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
    static const char map[11] = { '1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2' };
    unsigned sum = 0;
    int i;
    char last;

    for (i = 0; i < 17; i++) {
        if (!isdig(s[i]))
            return false;
        sum += w[i] * (unsigned)(s[i] - '0');
    }
    last = s[17] == 'x' ? 'X' : s[17];
    return map[sum % 11] == last;
}

static const char b58_alpha[] = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";

bool
tg__pii_base58check_ok(const char *s, size_t n)
{
    unsigned char bin[64];
    size_t i, j, zeros = 0, blen = 0;
    unsigned char h1[32], h2[32];

    if (n == 0 || n > 60)
        return false;
    memset(bin, 0, sizeof bin);
    while (zeros < n && s[zeros] == '1')
        zeros++;
    /* Big-number base conversion, little-endian into bin[]. */
    for (i = 0; i < n; i++) {
        const char *p = memchr(b58_alpha, s[i], 58);
        unsigned carry;
        if (p == NULL || s[i] == '\0')
            return false;
        carry = (unsigned)(p - b58_alpha);
        for (j = 0; j < blen || carry; j++) {
            if (j >= sizeof bin)
                return false;
            carry += 58u * bin[j];
            bin[j] = (unsigned char)(carry & 0xff);
            carry >>= 8;
            if (j + 1 > blen)
                blen = j + 1;
        }
    }
    {
        unsigned char be[64];
        size_t total = zeros + blen;
        if (total < 5 || total > sizeof be)
            return false;
        memset(be, 0, zeros);
        for (i = 0; i < blen; i++)
            be[zeros + i] = bin[blen - 1 - i];
        /* Bitcoin addresses: 1 version byte + 20-byte hash + 4-byte checksum. */
        if (total != 25 || (be[0] != 0x00 && be[0] != 0x05 && be[0] != 0x6f && be[0] != 0xc4))
            return false;
        tg__sha256(be, total - 4, h1);
        tg__sha256(h1, 32, h2);
        return memcmp(h2, be + total - 4, 4) == 0;
    }
}

static uint32_t
bech32_polymod_step(uint32_t chk, unsigned v)
{
    static const uint32_t gen[5] = { 0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3 };
    uint32_t top = chk >> 25;
    int i;

    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (i = 0; i < 5; i++)
        if ((top >> i) & 1)
            chk ^= gen[i];
    return chk;
}

bool
tg__pii_bech32_ok(const char *s, size_t n)
{
    static const char charset[] = "qpzry9x8gf2tvdw0s3jn54khce6mua7l";
    size_t sep = 0, i;
    uint32_t chk = 1;
    bool has_low = false, has_up = false;

    if (n < 8 || n > 90)
        return false;
    for (i = 0; i < n; i++) {
        if (s[i] == '1')
            sep = i;
        if (islow(s[i])) has_low = true;
        if (isup(s[i])) has_up = true;
        if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126)
            return false;
    }
    if ((has_low && has_up) || sep < 1 || sep + 7 > n)
        return false;
    for (i = 0; i < sep; i++)
        chk = bech32_polymod_step(chk, (unsigned)lower(s[i]) >> 5);
    chk = bech32_polymod_step(chk, 0);
    for (i = 0; i < sep; i++)
        chk = bech32_polymod_step(chk, (unsigned)lower(s[i]) & 31);
    for (i = sep + 1; i < n; i++) {
        const char *p = memchr(charset, lower(s[i]), 32);
        if (p == NULL)
            return false;
        chk = bech32_polymod_step(chk, (unsigned)(p - charset));
    }
    /* bech32 (BIP 173) or bech32m (BIP 350). */
    return chk == 1 || chk == 0x2bc830a3;
}

static int
hexval(char c)
{
    if (isdig(c)) return c - '0';
    c = lower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

bool
tg__pii_ipv6_ok(const char *s, size_t n)
{
    size_t i = 0, groups = 0;
    bool dcolon = false;

    /* zone id (%eth0) is not part of the address proper */
    for (i = 0; i < n; i++)
        if (s[i] == '%') {
            n = i;
            break;
        }
    i = 0;
    if (n >= 2 && s[0] == ':' && s[1] == ':') {
        dcolon = true;
        i = 2;
        if (i == n)
            return true;
    } else if (n >= 1 && s[0] == ':')
        return false;
    while (i < n) {
        size_t st = i, h = 0;
        while (i < n && hexval(s[i]) >= 0 && h < 5) {
            i++;
            h++;
        }
        if (i < n && s[i] == '.') {
            /* embedded IPv4 tail: counts as two groups and must end the address */
            unsigned parts = 0, v = 0, nd = 0;
            for (i = st; i <= n; i++) {
                if (i == n || s[i] == '.') {
                    if (nd == 0 || nd > 3 || v > 255 || (nd > 1 && s[i - nd] == '0'))
                        return false;
                    parts++;
                    v = 0;
                    nd = 0;
                } else if (isdig(s[i])) {
                    v = v * 10 + (unsigned)(s[i] - '0');
                    nd++;
                } else
                    return false;
            }
            if (parts != 4)
                return false;
            groups += 2;
            break;
        }
        if (h == 0 || h > 4)
            return false;
        groups++;
        if (i == n)
            break;
        if (s[i] != ':')
            return false;
        i++;
        if (i < n && s[i] == ':') {
            if (dcolon)
                return false;
            dcolon = true;
            i++;
            if (i == n)
                break;
        } else if (i == n)
            return false;   /* trailing single colon */
    }
    return dcolon ? groups <= 7 : groups == 8;
}

double
tg__pii_entropy(const char *s, size_t n)
{
    unsigned cnt[256] = { 0 };
    double e = 0;
    size_t i;

    if (n == 0)
        return 0;
    for (i = 0; i < n; i++)
        cnt[(unsigned char)s[i]]++;
    for (i = 0; i < 256; i++)
        if (cnt[i]) {
            double p = (double)cnt[i] / (double)n;
            e -= p * log2(p);
        }
    return e;
}

long
tg__pii_b64url_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t i, o = 0;

    for (i = 0; i < n; i++) {
        char c = s[i];
        int v;
        if (isup(c)) v = c - 'A';
        else if (islow(c)) v = c - 'a' + 26;
        else if (isdig(c)) v = c - '0' + 52;
        else if (c == '-' || c == '+') v = 62;
        else if (c == '_' || c == '/') v = 63;
        else if (c == '=') break;
        else return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o == cap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

/* ---- validators ----------------------------------------------------------- */

static double
v_credit_card(const char *m, size_t len)
{
    char d[24];
    size_t n = digits_of(m, len, d, 19), i, groups = 0, glen = 0, first = 0;
    char sep = 0;
    int p2, p3, p4, p6;
    bool ok = false;

    if (n < 13 || n > 19)
        return -1;
    /* The checksum first: it turns away nine random numbers in ten (long
     * ids, timestamps), and the layout and brand rules below only ever
     * reject too. */
    if (!tg__pii_luhn(d, n))
        return -1;
    /* Separators, if any, are one consistent character with card-like groups. */
    for (i = 0; i <= len; i++) {
        if (i == len || !isdig(m[i])) {
            if (i < len) {
                if (sep && m[i] != sep)
                    return -1;
                sep = m[i];
            }
            if (groups == 0)
                first = glen;
            if (glen < 3 || glen > 6) {
                if (!(sep == 0 && groups == 0))
                    return -1;
            }
            groups++;
            glen = 0;
        } else
            glen++;
    }
    if (sep && first != 4)
        return -1;
    p2 = num(d, 2); p3 = num(d, 3); p4 = num(d, 4); p6 = num(d, 6);
    (void)p6;
    if (d[0] == '4')
        ok = n == 13 || n == 16 || n == 19;                          /* Visa */
    else if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
        ok = n == 16;                                                /* Mastercard */
    else if (p2 == 34 || p2 == 37)
        ok = n == 15;                                                /* Amex */
    else if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65)
        ok = n >= 16;                                                /* Discover */
    else if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38 || p2 == 39)
        ok = n >= 14;                                                /* Diners */
    else if (p4 >= 3528 && p4 <= 3589)
        ok = n >= 16;                                                /* JCB */
    else if (p2 == 62)
        ok = n >= 16;                                                /* UnionPay */
    else if (p4 == 5018 || p4 == 5020 || p4 == 5038 || p4 == 5893 || p4 == 6304 ||
             p4 == 6759 || (p4 >= 6761 && p4 <= 6763))
        ok = n >= 13;                                                /* Maestro */
    if (!ok)
        return -1;
    /* All one digit passes Luhn for some lengths: never a real card. */
    for (i = 1; i < n && d[i] == d[0]; i++)
        ;
    return i == n ? -1 : 1.0;
}

static bool
has_sep(const char *m, size_t len)
{
    size_t i;
    for (i = 0; i < len; i++)
        if (!isdig(m[i]))
            return true;
    return false;
}

static double
v_us_ssn(const char *m, size_t len)
{
    char d[10];
    size_t n = digits_of(m, len, d, 9), i;
    int area, group, serial;
    static const char *const bad[] = { "078051120", "219099999", "123456789", "987654320",
                                       "987654321", "987654322", "987654323", "987654324",
                                       "987654325", "987654326", "987654327", "987654328",
                                       "987654329" };

    if (n != 9)
        return -1;
    area = num(d, 3); group = num(d + 3, 2); serial = num(d + 5, 4);
    if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0)
        return -1;
    for (i = 0; i < TG_ARRAY_LEN(bad); i++)
        if (memcmp(d, bad[i], 9) == 0)
            return -1;
    for (i = 1; i < 9 && d[i] == d[0]; i++)
        ;
    if (i == 9)
        return -1;
    /* Nine bare digits are as likely an order number: context must help. */
    return has_sep(m, len) ? 0 : 0.3;
}

static double
v_us_itin(const char *m, size_t len)
{
    char d[10];
    size_t n = digits_of(m, len, d, 9);
    int g;

    if (n != 9 || d[0] != '9')
        return -1;
    g = num(d + 3, 2);
    if (!((g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || (g >= 94 && g <= 99)))
        return -1;
    return has_sep(m, len) ? 0 : 0.3;
}

static double
v_iban(const char *m, size_t len)
{
    char s[40];
    size_t n = 0, i;

    for (i = 0; i < len; i++) {
        if (m[i] == ' ' || m[i] == '.' || m[i] == '_' || m[i] == '/' || m[i] == '-')
            continue;   /* group separators (the pattern keeps them consistent) */
        if (n == sizeof s)
            return -1;
        s[n++] = m[i];
    }
    return tg__pii_iban_ok(s, n) ? 1.0 : -1;
}

static double
v_aba(const char *m, size_t len)
{
    char d[10];
    if (digits_of(m, len, d, 9) != 9)
        return -1;
    return tg__pii_aba_ok(d) ? 0 : -1;
}

static double
v_uk_nhs(const char *m, size_t len)
{
    char d[11];
    size_t i;

    if (digits_of(m, len, d, 10) != 10)
        return -1;
    if (!tg__pii_nhs_ok(d))
        return -1;
    for (i = 1; i < 10 && d[i] == d[0]; i++)
        ;
    if (i == 10)
        return -1;
    /* NHS numbers are written 3-3-4 with spaces; dashes look like a US
     * phone number and bare digits like any id, so context must decide. */
    if (memchr(m, ' ', len) != NULL)
        return 0;
    return memchr(m, '-', len) != NULL ? 0.5 : 0.4;
}

static double
v_cn_id(const char *m, size_t len)
{
    if (len != 18)
        return -1;
    return tg__pii_cn_id_ok(m) ? 1.0 : -1;
}

static double
v_crypto(const char *m, size_t len)
{
    if (len > 3 && (m[0] == 'b' || m[0] == 't' || m[0] == 'B' || m[0] == 'T'))
        if (tg__pii_bech32_ok(m, len))
            return 1.0;
    return tg__pii_base58check_ok(m, len) ? 1.0 : -1;
}

static double
v_ipv4(const char *m, size_t len)
{
    unsigned parts = 0, v = 0, nd = 0;
    size_t i;

    for (i = 0; i <= len; i++) {
        if (i == len || m[i] == '.') {
            if (nd == 0 || nd > 3 || v > 255 || (nd > 1 && m[i - nd] == '0'))
                return -1;
            parts++;
            v = 0;
            nd = 0;
        } else if (isdig(m[i])) {
            v = v * 10 + (unsigned)(m[i] - '0');
            nd++;
        } else
            return -1;
    }
    return parts == 4 ? 0 : -1;
}

static double
v_ipv6(const char *m, size_t len)
{
    size_t i, colons = 0;
    bool digit = false;

    if (!tg__pii_ipv6_ok(m, len))
        return -1;
    for (i = 0; i < len; i++) {
        if (isdig(m[i])) digit = true;
        if (m[i] == ':') colons++;
    }
    /* "a::b" or "dead::beef" in code is not an address worth reporting. */
    if (!digit || colons < 2)
        return -1;
    return 0;
}

static double
v_mac(const char *m, size_t len)
{
    size_t i;
    bool same = true;
    for (i = 1; i < len; i++)
        if (lower(m[i]) != lower(m[0]) && hexval(m[i]) >= 0)
            same = false;
    return same ? -1 : 0;
}

static bool
nanp_ok(const char *d)
{
    /* NPA and NXX start with 2-9; N11 codes are service numbers. */
    if (d[0] < '2' || d[3] < '2')
        return false;
    if (d[1] == '1' && d[2] == '1')
        return false;
    if (d[4] == '1' && d[5] == '1')
        return false;
    return true;
}

static double
v_phone(const char *m, size_t len)
{
    char d[20];
    size_t n = digits_of(m, len, d, 17), nat;
    bool plus = len > 0 && m[0] == '+';

    if (n > 17 || n < 7)
        return -1;
    if (plus) {
        if (d[0] == '1')
            return n == 11 && nanp_ok(d + 1) ? 0 : -1;
        nat = n - 2;
        if (d[0] == '4' && d[1] == '4')              /* UK */
            return (nat == 10 || nat == 9) && d[2] != '0' ? 0 : -1;
        if (d[0] == '4' && d[1] == '9')              /* DE */
            return nat >= 6 && nat <= 12 && d[2] != '0' ? 0 : -1;
        if (d[0] == '3' && d[1] == '3')              /* FR */
            return nat == 9 && d[2] != '0' ? 0 : -1;
        if (d[0] == '9' && d[1] == '1')              /* IN */
            return nat == 10 && d[2] >= '6' ? 0 : (nat == 10 && d[2] != '0' ? 0 : -1);
        if (d[0] == '8' && d[1] == '6') {            /* CN */
            if (d[2] == '1')
                return nat == 11 && d[3] >= '3' ? 0 : -1;
            return nat >= 9 && nat <= 11 && d[2] != '0' ? 0 : -1;
        }
        return n >= 8 && n <= 15 ? 0 : -1;           /* other E.164 */
    }
    if (d[0] == '0')                                 /* trunk prefix: UK, DE, FR, IN, CN */
        return n >= 10 && n <= 12 && d[1] != '0' ? 0 : -1;
    if (n == 10)
        return nanp_ok(d) || d[0] >= '6' ? 0 : -1;   /* US/CA, IN mobile */
    if (n == 11 && d[0] == '1')
        return (d[1] >= '3' && d[2] != '0') || nanp_ok(d + 1) ? 0 : -1;  /* CN mobile, 1-NANP */
    return -1;
}

static double
v_email(const char *m, size_t len)
{
    const char *at = memchr(m, '@', len), *dot;
    size_t i, tl;
    static const char *const ext[] = { "png", "jpg", "jpeg", "gif", "svg", "webp", "bmp", "ico",
                                       "pdf", "txt", "js", "ts", "css", "json", "yaml", "yml",
                                       "md", "html", "py", "go", "rs", "zip" };

    if (at == NULL || at == m || m[0] == '.' || at[-1] == '.')
        return -1;
    for (i = 0; i + 1 < len; i++)
        if (m[i] == '.' && m[i + 1] == '.')
            return -1;
    dot = NULL;
    for (i = len; i-- > (size_t)(at - m);)
        if (m[i] == '.') {
            dot = m + i;
            break;
        }
    if (dot == NULL)
        return -1;
    tl = len - (size_t)(dot + 1 - m);
    for (i = 0; i < TG_ARRAY_LEN(ext); i++)
        if (strlen(ext[i]) == tl && strncasecmp(ext[i], dot + 1, tl) == 0) {
            /* icon@2x.png is a file name, but jane@example.com.pdf is an
             * address glued to an extension (a common file name): back off
             * one label and accept when what is left is still a domain with
             * an alphabetic TLD.  Fail closed: report it. */
            const char *d2 = NULL;
            size_t j, t2;
            for (j = (size_t)(dot - m); j-- > (size_t)(at - m);)
                if (m[j] == '.') {
                    d2 = m + j;
                    break;
                }
            if (d2 == NULL)
                return -1;
            t2 = (size_t)(dot - d2) - 1;
            if (t2 < 2)
                return -1;
            for (j = 1; j <= t2; j++)
                if (!((d2[j] >= 'a' && d2[j] <= 'z') || (d2[j] >= 'A' && d2[j] <= 'Z')))
                    return -1;
            return 1.0;
        }
    return 1.0;
}

static const char *const months[12] = { "jan", "feb", "mar", "apr", "may", "jun",
                                         "jul", "aug", "sep", "oct", "nov", "dec" };

static bool
date_ok(int y, int mo, int d)
{
    static const int mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (y < 100)
        y += y < 30 ? 2000 : 1900;
    if (y < 1900 || y > 2030 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    if (mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return false;
    return true;
}

static double
v_date(const char *m, size_t len)
{
    int f[3], nf = 0, mon = 0;
    size_t fl[3] = { 0 }, i = 0;

    while (i < len && nf < 3) {
        if (isdig(m[i])) {
            size_t st = i;
            int v = 0;
            while (i < len && isdig(m[i]) && i - st < 5)
                v = v * 10 + (m[i++] - '0');
            fl[nf] = i - st;
            f[nf++] = v;
        } else if (isup(m[i]) || islow(m[i])) {
            int k;
            for (k = 0; k < 12 && mon == 0; k++)
                if (i + 3 <= len && lower(m[i]) == months[k][0] && lower(m[i + 1]) == months[k][1] &&
                    lower(m[i + 2]) == months[k][2])
                    mon = k + 1;
            while (i < len && (isup(m[i]) || islow(m[i])))
                i++;
        } else
            i++;
    }
    if (mon) {
        if (nf != 2)
            return -1;
        if (fl[1] == 4)
            return date_ok(f[1], mon, f[0]) ? 0 : -1;
        return -1;
    }
    if (nf != 3)
        return -1;
    if (fl[0] == 4)
        return date_ok(f[0], f[1], f[2]) ? 0 : -1;
    if (fl[2] == 4 || fl[2] == 2)
        return date_ok(f[2], f[0], f[1]) || date_ok(f[2], f[1], f[0]) ? 0 : -1;
    return -1;
}

static bool
contains_ci(const char *m, size_t len, const char *w)
{
    size_t wl = strlen(w), i, j;
    for (i = 0; i + wl <= len; i++) {
        for (j = 0; j < wl && lower(m[i + j]) == w[j]; j++)
            ;
        if (j == wl)
            return true;
    }
    return false;
}

static double
v_entropy(const char *m, size_t len)
{
    size_t i, upper_ = 0;
    double e;

    if (len < 8)
        return -1;
    /* Placeholders and documentation examples, not secrets. */
    if (contains_ci(m, len, "example") || contains_ci(m, len, "xxxx") || contains_ci(m, len, "your") ||
        contains_ci(m, len, "placeholder") || contains_ci(m, len, "redacted") || contains_ci(m, len, "..."))
        return -1;
    for (i = 0; i < len; i++)
        if (isup(m[i]) || m[i] == '_')
            upper_++;
    if (upper_ == len)
        return -1;   /* YOUR_API_KEY style constant names */
    e = tg__pii_entropy(m, len);
    /* Random keys reach ~log2(alphabet) bits/char; short values cannot. */
    if (e < (len >= 20 ? 3.0 : 2.7))
        return -1;
    return 0;
}

static double
v_jwt(const char *m, size_t len)
{
    const char *dot = memchr(m, '.', len);
    unsigned char hdr[1024];
    long n;
    cJSON *j;
    double r = -1;

    if (dot == NULL)
        return -1;
    n = tg__pii_b64url_decode(m, (size_t)(dot - m), hdr, sizeof hdr - 1);
    if (n < 2 || hdr[0] != '{')
        return -1;
    j = cJSON_ParseWithLength((const char *)hdr, (size_t)n);
    if (j != NULL && cJSON_IsObject(j) && cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "alg")))
        r = 1.0;
    cJSON_Delete(j);
    return r;
}

static double
v_aws_key(const char *m, size_t len)
{
    if (contains_ci(m, len, "example"))
        return -1;
    return tg__pii_entropy(m + 4, len > 4 ? len - 4 : 0) >= 2.5 ? 0 : -1;
}

static const struct {
    const char *name;
    tg__pii_validator_fn fn;
} validators[] = {
    { "credit_card", v_credit_card }, { "us_ssn", v_us_ssn },   { "us_itin", v_us_itin },
    { "iban", v_iban },               { "aba", v_aba },         { "uk_nhs", v_uk_nhs },
    { "cn_id", v_cn_id },             { "crypto", v_crypto },   { "ipv4", v_ipv4 },
    { "ipv6", v_ipv6 },               { "mac", v_mac },         { "phone", v_phone },
    { "email", v_email },             { "date", v_date },       { "entropy", v_entropy },
    { "jwt", v_jwt },                 { "aws_key", v_aws_key },
};

tg__pii_validator_fn
tg__pii_validator(const char *name)
{
    size_t i;
    if (name == NULL)
        return NULL;
    for (i = 0; i < TG_ARRAY_LEN(validators); i++)
        if (strcmp(validators[i].name, name) == 0)
            return validators[i].fn;
    {
        tg__pii_validator_fn fn = tg__pii_validator_intl(name);
        return fn != NULL ? fn : tg__pii_secret_validator(name);
    }
}

bool
tg_pii_validator_exists(const char *name)
{
    return tg__pii_validator(name) != NULL;
}
