/*
 * pii_valid_intl.c — validators for national identifiers (EU, UK, APAC,
 * Americas, Africa, Turkey): check digits and structure rules published by
 * the issuing authorities, as Presidio's recognizers use them.
 *
 * Every validator sees the pattern's match (normalised bytes) and first
 * reduces it to its letters and digits, so separators the pattern allows
 * (space, dash, dot, slash) never reach the arithmetic.  Return values
 * follow pii_int.h: < 0 drop, 0 keep the base score (a weak checksum such
 * as Luhn or mod 10 passes one random number in ten, so the pack keeps the
 * base score under min_score and a context word decides), > 0 the score
 * (1.0 for checksums that pass about one random value in 23 or fewer).
 */
#include "engine/pii_int.h"

#include <string.h>

/* Longest identifier any validator here looks at (the 16-character Italian
 * fiscal code and the 15-character GSTIN are the longest; spare room). */
#define ID_MAX 24u

/* Letters (upper-cased) and digits of m into out; 0 if there are more
 * than cap or the match holds any other byte than a separator. */
static size_t
alnum(const char *m, size_t len, char *out, size_t cap)
{
    size_t i, n = 0;
    for (i = 0; i < len; i++) {
        char c = m[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 32);
        if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z')) {
            if (n == cap)
                return 0;
            out[n++] = c;
        } else if (c != ' ' && c != '-' && c != '.' && c != '/') {
            return 0;
        }
    }
    return n;
}

static bool
all_digits(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/*
 * Is m written in one of the layouts given ('N' a digit, other bytes
 * themselves), NULL-terminated?  Detectors of one length share a loose
 * pattern ("13 digits, a space or dash anywhere") so the scanner runs it
 * once for all of them; each validator then accepts only its own layouts.
 */
static bool
shape(const char *m, size_t len, const char *const *shapes)
{
    for (; *shapes != NULL; shapes++) {
        const char *f = *shapes;
        size_t i;
        if (strlen(f) != len)
            continue;
        for (i = 0; i < len; i++)
            if (f[i] == 'N' ? (unsigned char)(m[i] - '0') > 9 : m[i] != f[i])
                break;
        if (i == len)
            return true;
    }
    return false;
}

#define SHAPES(...) ((const char *const[]){ __VA_ARGS__, NULL })

static int
dv(char c)
{
    return c - '0';
}

static int
num2(const char *s)
{
    return dv(s[0]) * 10 + dv(s[1]);
}

static bool
leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* A calendar date; year in full. */
static bool
date_ok(int y, int mo, int d)
{
    static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (mo < 1 || mo > 12 || d < 1)
        return false;
    return d <= mdays[mo - 1] + (mo == 2 && leap(y));
}

/* Weighted sum of the first n digits. */
static int
wsum(const char *s, const int *w, size_t n)
{
    int sum = 0;
    size_t i;
    for (i = 0; i < n; i++)
        sum += dv(s[i]) * w[i];
    return sum;
}

/* ---- primitives (pii_int.h) ------------------------------------------------ */

bool
tg__pii_mod11_10_ok(const char *d, size_t n)
{
    int product = 10, sum, check;
    size_t i;

    if (n < 2 || !all_digits(d, n))
        return false;
    for (i = 0; i + 1 < n; i++) {
        sum = (dv(d[i]) + product) % 10;
        if (sum == 0)
            sum = 10;
        product = (sum * 2) % 11;
    }
    check = 11 - product;
    if (check == 10)
        check = 0;
    return check == dv(d[n - 1]);
}

/* Verhoeff (dihedral group D5), used by Aadhaar. */
bool
tg__pii_verhoeff_ok(const char *d, size_t n)
{
    static const unsigned char mul[10][10] = {
        { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, { 1, 2, 3, 4, 0, 6, 7, 8, 9, 5 },
        { 2, 3, 4, 0, 1, 7, 8, 9, 5, 6 }, { 3, 4, 0, 1, 2, 8, 9, 5, 6, 7 },
        { 4, 0, 1, 2, 3, 9, 5, 6, 7, 8 }, { 5, 9, 8, 7, 6, 0, 4, 3, 2, 1 },
        { 6, 5, 9, 8, 7, 1, 0, 4, 3, 2 }, { 7, 6, 5, 9, 8, 2, 1, 0, 4, 3 },
        { 8, 7, 6, 5, 9, 3, 2, 1, 0, 4 }, { 9, 8, 7, 6, 5, 4, 3, 2, 1, 0 },
    };
    static const unsigned char perm[8][10] = {
        { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 }, { 1, 5, 7, 6, 2, 8, 3, 0, 9, 4 },
        { 5, 8, 0, 3, 7, 9, 6, 1, 4, 2 }, { 8, 9, 1, 6, 0, 4, 3, 5, 2, 7 },
        { 9, 4, 5, 3, 1, 2, 6, 8, 7, 0 }, { 4, 2, 8, 6, 5, 7, 3, 9, 0, 1 },
        { 2, 7, 9, 3, 8, 0, 6, 4, 1, 5 }, { 7, 0, 4, 6, 9, 1, 3, 2, 5, 8 },
    };
    unsigned c = 0;
    size_t i;

    if (n == 0 || !all_digits(d, n))
        return false;
    for (i = 0; i < n; i++)
        c = mul[c][perm[i % 8][dv(d[n - 1 - i])]];
    return c == 0;
}

/* ICAO 9303 check digit (weights 7, 3, 1; letters A=10..Z=35). */
static int
icao_check(const char *s, size_t n)
{
    static const int w[3] = { 7, 3, 1 };
    int sum = 0;
    size_t i;
    for (i = 0; i < n; i++) {
        int v = s[i] >= 'A' ? s[i] - 'A' + 10 : dv(s[i]);
        sum += v * w[i % 3];
    }
    return sum % 10;
}

/* ---- Germany ---------------------------------------------------------------- */

/* Steuer-ID: 11 digits, no leading 0; in the first ten exactly one digit
 * repeats (twice or three times, never three in a row) and the rest are
 * distinct; ISO 7064 MOD 11,10 check digit. */
static double
v_de_tax_id(const char *m, size_t len)
{
    char d[ID_MAX];
    int cnt[10] = { 0 }, rep = 0, i;

    if (!shape(m, len, SHAPES("NNNNNNNNNNN", "NN NNN NNN NNN")) || alnum(m, len, d, sizeof d) != 11 || d[0] == '0')
        return -1;
    for (i = 0; i < 10; i++)
        cnt[dv(d[i])]++;
    for (i = 0; i < 10; i++) {
        if (cnt[i] > 3)
            return -1;
        if (cnt[i] >= 2)
            rep++;
    }
    if (rep != 1)
        return -1;
    for (i = 0; i + 2 < 10; i++)
        if (d[i] == d[i + 1] && d[i] == d[i + 2])
            return -1;
    return tg__pii_mod11_10_ok(d, 11) ? 1.0 : -1;
}

/* USt-IdNr: DE + 9 digits, MOD 11,10 over the digits. */
static double
v_de_vat(const char *m, size_t len)
{
    char d[ID_MAX];
    if (alnum(m, len, d, sizeof d) != 11 || d[0] != 'D' || d[1] != 'E' || !all_digits(d + 2, 9) || d[2] == '0')
        return -1;
    return tg__pii_mod11_10_ok(d + 2, 9) ? 1.0 : -1;
}

/* Reisepass: 8 characters of the ICAO set + an ICAO check digit. */
static double
v_icao9(const char *m, size_t len)
{
    char d[ID_MAX];
    if (alnum(m, len, d, sizeof d) != 9 || d[8] < '0' || d[8] > '9')
        return -1;
    return icao_check(d, 8) == dv(d[8]) ? 0 : -1;
}

/* Rentenversicherungsnummer: area (2) + birth date DDMMYY + initial letter
 * + serial (2) + check digit; the letter counts as its two-digit alphabet
 * position, weights 2 1 2 5 7 1 2 1 2 1 2 1 over the resulting twelve
 * digits, digit sums of the products added, mod 10. */
static double
v_de_rvnr(const char *m, size_t len)
{
    static const int w[12] = { 2, 1, 2, 5, 7, 1, 2, 1, 2, 1, 2, 1 };
    char d[ID_MAX], x[12];
    int sum = 0, i, day;

    if (alnum(m, len, d, sizeof d) != 12 || !all_digits(d, 8) || d[8] < 'A' || d[8] > 'Z' ||
        !all_digits(d + 9, 3))
        return -1;
    day = num2(d + 2);
    if (day > 31)
        day -= 50;   /* a second number for the same date and letter */
    if (!date_ok(2000, num2(d + 4), day))
        return -1;
    memcpy(x, d, 8);
    x[8] = (char)('0' + (d[8] - 'A' + 1) / 10);
    x[9] = (char)('0' + (d[8] - 'A' + 1) % 10);
    x[10] = d[9];
    x[11] = d[10];
    for (i = 0; i < 12; i++) {
        int p = dv(x[i]) * w[i];
        sum += p / 10 + p % 10;
    }
    return sum % 10 == dv(d[11]) ? 1.0 : -1;
}

/* Krankenversichertennummer: letter + 8 digits + check digit; the letter
 * as two digits, weights 1 2 alternating, digit sums added, mod 10 (one
 * random value in ten passes: the pack wants a context word). */
static double
v_de_kvnr(const char *m, size_t len)
{
    char d[ID_MAX], x[10];
    int sum = 0, i;

    if (alnum(m, len, d, sizeof d) != 10 || d[0] < 'A' || d[0] > 'Z' || !all_digits(d + 1, 9))
        return -1;
    x[0] = (char)('0' + (d[0] - 'A' + 1) / 10);
    x[1] = (char)('0' + (d[0] - 'A' + 1) % 10);
    memcpy(x + 2, d + 1, 8);
    for (i = 0; i < 10; i++) {
        int p = dv(x[i]) * (i % 2 ? 2 : 1);
        sum += p / 10 + p % 10;
    }
    return sum % 10 == dv(d[9]) ? 0 : -1;
}

/* LANR: six-digit doctor number, check digit (weights 4 9 4 9 4 9, ten
 * minus the sum mod 10), two-digit speciality. */
static double
v_de_lanr(const char *m, size_t len)
{
    static const int w[6] = { 4, 9, 4, 9, 4, 9 };
    char d[ID_MAX];
    if (alnum(m, len, d, sizeof d) != 9 || !all_digits(d, 9))
        return -1;
    return (10 - wsum(d, w, 6) % 10) % 10 == dv(d[6]) ? 0 : -1;
}

/* ---- Spain -------------------------------------------------------------------- */

static const char es_letters[] = "TRWAGMYFPDXBNJZSQVHLCKE";

/* DNI/NIF: 8 digits + letter = number mod 23; NIE: X/Y/Z (as 0/1/2) + 7
 * digits + the same letter. */
static double
v_es_nif(const char *m, size_t len)
{
    char d[ID_MAX];
    long v = 0;
    size_t n = alnum(m, len, d, sizeof d), i;

    if (n != 9)
        return -1;
    if (d[0] == 'X' || d[0] == 'Y' || d[0] == 'Z')
        v = d[0] - 'X';
    else if (d[0] < '0' || d[0] > '9')
        return -1;
    else
        v = dv(d[0]);
    if (!all_digits(d + 1, 7))
        return -1;
    for (i = 1; i < 8; i++)
        v = v * 10 + dv(d[i]);
    return es_letters[v % 23] == d[8] ? 1.0 : -1;
}

/* ---- Italy -------------------------------------------------------------------- */

/* Codice fiscale: 15 characters + a check letter from the values of the
 * odd (1st, 3rd, ...) and even positions, mod 26.  Digits in the date and
 * town may be replaced by letters (omocodia). */
static double
v_it_fiscal(const char *m, size_t len)
{
    static const int odd[36] = {
        /* 0-9 */ 1, 0, 5, 7, 9, 13, 15, 17, 19, 21,
        /* A-Z */ 1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23,
    };
    static const char omo[] = "LMNPQRSTUV";
    char d[ID_MAX];
    int sum = 0, i, mo, day;
    const char *p;

    if (alnum(m, len, d, sizeof d) != 16)
        return -1;
    for (i = 0; i < 15; i++) {
        int v = d[i] >= 'A' ? d[i] - 'A' + 10 : dv(d[i]);
        if (i % 2 == 0)
            sum += odd[v];
        else
            sum += d[i] >= 'A' ? d[i] - 'A' : dv(d[i]);
    }
    if (d[15] != 'A' + sum % 26)
        return -1;
    /* month letter and day (41..71 for women); d[] holds no NUL, so
     * strchr finds only real letters */
    p = strchr("ABCDEHLMPRST", d[8]);
    if (p == NULL)
        return -1;
    mo = (int)(p - "ABCDEHLMPRST") + 1;
    for (i = 9, day = 0; i < 11; i++) {
        const char *q = strchr(omo, d[i]);
        if (d[i] >= '0' && d[i] <= '9')
            day = day * 10 + dv(d[i]);
        else if (q != NULL)
            day = day * 10 + (int)(q - omo);   /* omocodia: L=0 .. V=9 */
        else
            return -1;
    }
    if (day > 40)
        day -= 40;
    return date_ok(2000, mo, day) ? 1.0 : -1;
}

/* Partita IVA: 11 digits, Luhn; office code (digits 8-10) 001-100, 120, 121, 888, 999. */
static double
v_it_vat(const char *m, size_t len)
{
    char d[ID_MAX];
    size_t n = alnum(m, len, d, sizeof d);
    const char *x = d;
    int off;

    if (!shape(m, len, SHAPES("NNNNNNNNNNN", "ITNNNNNNNNNNN", "IT NNNNNNNNNNN")))
        return -1;
    if (n == 13 && d[0] == 'I' && d[1] == 'T') {
        x = d + 2;
        n = 11;
    }
    if (n != 11 || !all_digits(x, 11))
        return -1;
    off = dv(x[7]) * 100 + dv(x[8]) * 10 + dv(x[9]);
    if (!((off >= 1 && off <= 100) || off == 120 || off == 121 || off == 888 || off == 999))
        return -1;
    return tg__pii_luhn(x, 11) ? 0 : -1;
}

/* ---- Finland, Poland, Sweden ----------------------------------------------------- */

/* Henkilötunnus: DDMMYY, century sign, individual number, check character
 * (the nine digits mod 31 into a 31-character alphabet). */
static double
v_fi_hetu(const char *m, size_t len)
{
    static const char chk[] = "0123456789ABCDEFHJKLMNPRSTUVWXY";
    long v = 0;
    int y, i;

    if (len != 11 || !all_digits(m, 6) || !all_digits(m + 7, 3))
        return -1;
    switch (m[6]) {
    case '+': y = 1800; break;
    case '-': case 'Y': case 'X': case 'W': case 'V': case 'U': y = 1900; break;
    case 'A': case 'B': case 'C': case 'D': case 'E': case 'F': y = 2000; break;
    default: return -1;
    }
    y += num2(m + 4);
    if (!date_ok(y, num2(m + 2), num2(m)))
        return -1;
    for (i = 0; i < 6; i++)
        v = v * 10 + dv(m[i]);
    for (i = 7; i < 10; i++)
        v = v * 10 + dv(m[i]);
    return chk[v % 31] == m[10] ? 1.0 : -1;
}

/* PESEL: YYMMDD (month + 20/40/60/80 for other centuries), serial, check
 * digit with weights 1 3 7 9 1 3 7 9 1 3. */
static double
v_pl_pesel(const char *m, size_t len)
{
    static const int w[10] = { 1, 3, 7, 9, 1, 3, 7, 9, 1, 3 };
    char d[ID_MAX];
    int mo, y;

    if (!shape(m, len, SHAPES("NNNNNNNNNNN")) || alnum(m, len, d, sizeof d) != 11)
        return -1;
    mo = num2(d + 2);
    y = num2(d);
    switch (mo / 20) {
    case 0: y += 1900; break;
    case 1: y += 2000; break;
    case 2: y += 2100; break;
    case 3: y += 2200; break;
    default: y += 1800; break;
    }
    if (!date_ok(y, mo % 20, num2(d + 4)))
        return -1;
    return (10 - wsum(d, w, 10) % 10) % 10 == dv(d[10]) ? 0 : -1;
}

/* Personnummer: [YY]YYMMDD, '-' or '+' (over 100), NNN + Luhn digit over
 * the last ten digits; day + 60 is a samordningsnummer.  Written with its
 * separator it is the unmistakable Swedish form. */
static double
v_se_pnr(const char *m, size_t len)
{
    char d[ID_MAX];
    size_t n = alnum(m, len, d, sizeof d);
    const char *x;
    int day;

    if ((n != 10 && n != 12) || !all_digits(d, n))
        return -1;
    x = d + (n - 10);
    day = num2(x + 4);
    if (day > 60)
        day -= 60;
    if (!date_ok(n == 12 ? num2(d) * 100 + num2(x) : 2000, num2(x + 2), day))
        return -1;
    if (!tg__pii_luhn(x, 10))
        return -1;
    return memchr(m, '-', len) != NULL || memchr(m, '+', len) != NULL ? 0.6 : 0;
}

/* Organisationsnummer: ten digits, third digit >= 2 (no month), Luhn. */
static double
v_se_org(const char *m, size_t len)
{
    char d[ID_MAX];
    size_t n = alnum(m, len, d, sizeof d);
    const char *x = d;

    if (n == 12 && d[0] == '1' && d[1] == '6')
        x = d + 2;   /* "16" century prefix used in some registers */
    else if (n != 10)
        return -1;
    if (!all_digits(x, 10) || dv(x[2]) < 2)
        return -1;
    return tg__pii_luhn(x, 10) ? 0 : -1;
}

/* ---- United Kingdom --------------------------------------------------------------- */

/* Driving licence: surname (5, padded with 9), decade, month (+5 for
 * women), day, year digit, initials (2, padded with 9), a digit, 2 check
 * characters.  No public checksum: the birth date must exist. */
static double
v_uk_dl(const char *m, size_t len)
{
    int mo, i;
    if (len != 16)
        return -1;
    for (i = 0; i < 5; i++)
        if (!((m[i] >= 'A' && m[i] <= 'Z') || m[i] == '9'))
            return -1;
    if (m[0] == '9')
        return -1;
    mo = num2(m + 6);
    if (mo > 50)
        mo -= 50;
    return date_ok(1900 + dv(m[5]) * 10 + dv(m[10]), mo, num2(m + 8)) ? 0 : -1;
}

/* ---- Korea -------------------------------------------------------------------------- */

/* RRN / FRN: YYMMDD + sex/century digit + 6; check digit with weights
 * 2..9,2..5: (11 - sum mod 11) mod 10.  want_foreign picks 5-8 (FRN)
 * over 1-4 and 9/0 (RRN). */
static double
kr_rn(const char *m, size_t len, bool want_foreign)
{
    static const int w[12] = { 2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5 };
    char d[ID_MAX];
    int g, y;

    if (!shape(m, len, SHAPES("NNNNNNNNNNNNN", "NNNNNN-NNNNNNN", "NNNNNN NNNNNNN")) ||
        alnum(m, len, d, sizeof d) != 13)
        return -1;
    g = dv(d[6]);
    if (want_foreign != (g >= 5 && g <= 8))
        return -1;
    y = num2(d) + (g == 9 || g == 0 ? 1800 : (g == 1 || g == 2 || g == 5 || g == 6) ? 1900 : 2000);
    if (!date_ok(y, num2(d + 2), num2(d + 4)))
        return -1;
    /* The check digit is mod 11 folded to 0-9: one random value in ten
     * passes, and 13-digit millisecond timestamps often hold a valid date.
     * Written YYMMDD-NNNNNNN it stands alone; bare digits need context. */
    if ((11 - wsum(d, w, 12) % 11) % 10 != dv(d[12]))
        return -1;
    return memchr(m, '-', len) != NULL ? 0.75 : 0;
}

static double
v_kr_rrn(const char *m, size_t len)
{
    return kr_rn(m, len, false);
}

static double
v_kr_frn(const char *m, size_t len)
{
    return kr_rn(m, len, true);
}

/* Business registration number: weights 1 3 7 1 3 7 1 3 5 plus the tens
 * of 5 x the ninth digit; check = (10 - sum mod 10) mod 10. */
static double
v_kr_brn(const char *m, size_t len)
{
    static const int w[9] = { 1, 3, 7, 1, 3, 7, 1, 3, 5 };
    char d[ID_MAX];
    int sum;
    if (alnum(m, len, d, sizeof d) != 10 || !all_digits(d, 10))
        return -1;
    sum = wsum(d, w, 9) + dv(d[8]) * 5 / 10;
    return (10 - sum % 10) % 10 == dv(d[9]) ? 0 : -1;
}

/* ---- Singapore, India, Thailand ------------------------------------------------------ */

/* NRIC/FIN: S/T/F/G + 7 digits + check letter (weights 2 7 6 5 4 3 2, T
 * and G add 4; citizens' and foreigners' series have their own tables). */
static double
v_sg_nric(const char *m, size_t len)
{
    static const int w[7] = { 2, 7, 6, 5, 4, 3, 2 };
    char d[ID_MAX];
    const char *tab;
    int sum, r;

    if (alnum(m, len, d, sizeof d) != 9 || !all_digits(d + 1, 7))
        return -1;
    sum = wsum(d + 1, w, 7);
    switch (d[0]) {
    case 'S': tab = "JZIHGFEDCBA"; break;
    case 'T': tab = "JZIHGFEDCBA"; sum += 4; break;
    case 'F': tab = "XWUTRQPNMLK"; break;
    case 'G': tab = "XWUTRQPNMLK"; sum += 4; break;
    default: return -1;
    }
    r = sum % 11;
    return tab[r] == d[8] ? 1.0 : -1;
}

static double
v_in_aadhaar(const char *m, size_t len)
{
    char d[ID_MAX];
    size_t i;
    if (alnum(m, len, d, sizeof d) != 12 || !all_digits(d, 12) || d[0] < '2')
        return -1;
    /* palindromes are not issued */
    for (i = 0; i < 6 && d[i] == d[11 - i]; i++)
        ;
    if (i == 6)
        return -1;
    return tg__pii_verhoeff_ok(d, 12) ? 0 : -1;
}

/* GSTIN: state (01-38, 97, 99) + PAN + entity + 'Z' + check character:
 * base-36 values with alternating weights 1 2, each product split into
 * quotient and remainder by 36 and added; check = (36 - sum mod 36) mod 36. */
static double
v_in_gstin(const char *m, size_t len)
{
    static const char b36[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    char d[ID_MAX];
    int sum = 0, i, st;

    if (alnum(m, len, d, sizeof d) != 15 || !all_digits(d, 2))
        return -1;
    st = num2(d);
    if (!((st >= 1 && st <= 38) || st == 97 || st == 99))
        return -1;
    for (i = 0; i < 14; i++) {
        const char *p = strchr(b36, d[i]);
        int v = (int)(p - b36) * (i % 2 ? 2 : 1);
        sum += v / 36 + v % 36;
    }
    return b36[(36 - sum % 36) % 36] == d[14] ? 1.0 : -1;
}

/* Thai national id: 13 digits, weights 13..2, (11 - sum mod 11) mod 10. */
static double
v_th_tnin(const char *m, size_t len)
{
    static const int w[12] = { 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2 };
    char d[ID_MAX];
    if (!shape(m, len, SHAPES("NNNNNNNNNNNNN", "N-NNNN-NNNNN-NN-N", "N NNNN NNNNN NN N")) ||
        alnum(m, len, d, sizeof d) != 13 || d[0] == '0' || d[0] == '9')
        return -1;
    if ((11 - wsum(d, w, 12) % 11) % 10 != dv(d[12]))
        return -1;
    return memchr(m, '-', len) != NULL || memchr(m, ' ', len) != NULL ? 0.6 : 0;
}

/* ---- Australia ------------------------------------------------------------------------- */

/* ABN: first digit minus 1, weights 10 1 3 5 ... 19, sum divisible by 89. */
static double
v_au_abn(const char *m, size_t len)
{
    static const int w[11] = { 10, 1, 3, 5, 7, 9, 11, 13, 15, 17, 19 };
    char d[ID_MAX];
    if (!shape(m, len, SHAPES("NNNNNNNNNNN", "NN NNN NNN NNN")) || alnum(m, len, d, sizeof d) != 11 || d[0] == '0')
        return -1;
    return (wsum(d, w, 11) - w[0]) % 89 == 0 ? 1.0 : -1;
}

/* ACN: weights 8..1 over eight digits, check = (10 - sum mod 10) mod 10. */
static double
v_au_acn(const char *m, size_t len)
{
    static const int w[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
    char d[ID_MAX];
    if (alnum(m, len, d, sizeof d) != 9 || !all_digits(d, 9))
        return -1;
    return (10 - wsum(d, w, 8) % 10) % 10 == dv(d[8]) ? 0 : -1;
}

/* TFN: nine digits, weights 1 4 3 7 5 8 6 9 10, sum divisible by 11. */
static double
v_au_tfn(const char *m, size_t len)
{
    static const int w[9] = { 1, 4, 3, 7, 5, 8, 6, 9, 10 };
    char d[ID_MAX];
    if (alnum(m, len, d, sizeof d) != 9 || !all_digits(d, 9))
        return -1;
    return wsum(d, w, 9) % 11 == 0 ? 0 : -1;
}

/* Medicare: first digit 2-6, weights 1 3 7 9 1 3 7 9 over eight digits,
 * mod 10 is the ninth; then issue number (and an optional IRN). */
static double
v_au_medicare(const char *m, size_t len)
{
    static const int w[8] = { 1, 3, 7, 9, 1, 3, 7, 9 };
    char d[ID_MAX];
    size_t n = alnum(m, len, d, sizeof d);
    if ((n != 10 && n != 11) || !all_digits(d, n) || d[0] < '2' || d[0] > '6')
        return -1;
    return wsum(d, w, 8) % 10 == dv(d[8]) ? 0 : -1;
}

/* ---- Americas ---------------------------------------------------------------------------- */

/* SIN: nine digits, Luhn; 0 and 8 are not issued as first digits. */
static double
v_ca_sin(const char *m, size_t len)
{
    char d[ID_MAX];
    if (alnum(m, len, d, sizeof d) != 9 || !all_digits(d, 9) || d[0] == '0' || d[0] == '8')
        return -1;
    return tg__pii_luhn(d, 9) ? 0 : -1;
}

/* NPI: ten digits, Luhn over "80840" + the number. */
static double
v_us_npi(const char *m, size_t len)
{
    char d[ID_MAX], x[15] = { '8', '0', '8', '4', '0' };
    if (alnum(m, len, d, sizeof d) != 10 || !all_digits(d, 10) || (d[0] != '1' && d[0] != '2'))
        return -1;
    memcpy(x + 5, d, 10);
    return tg__pii_luhn(x, 15) ? 0 : -1;
}

/* DEA registration: 2 letters + 7 digits; (d1+d3+d5) + 2(d2+d4+d6) ends in d7. */
static double
v_dea(const char *m, size_t len)
{
    char d[ID_MAX];
    int sum;
    if (alnum(m, len, d, sizeof d) != 9 || !all_digits(d + 2, 7))
        return -1;
    sum = dv(d[2]) + dv(d[4]) + dv(d[6]) + 2 * (dv(d[3]) + dv(d[5]) + dv(d[7]));
    /* one random shape-valid value in ten passes: enough alone, not 1.0 */
    return sum % 10 == dv(d[8]) ? 0.6 : -1;
}

/* ---- South Africa, Turkey ------------------------------------------------------------------ */

/* ZA id: YYMMDD, 4-digit sequence, citizenship 0/1/2, a digit (8/9), Luhn. */
static double
v_za_id(const char *m, size_t len)
{
    char d[ID_MAX];
    if (!shape(m, len, SHAPES("NNNNNNNNNNNNN", "NNNNNN NNNN NNN")) || alnum(m, len, d, sizeof d) != 13 ||
        d[10] > '2')
        return -1;
    if (!date_ok(2000, num2(d + 2), num2(d + 4)))
        return -1;
    return tg__pii_luhn(d, 13) ? 0 : -1;
}

/* TC kimlik no: 11 digits, no leading 0; d10 = (7 x odd - even) mod 10,
 * d11 = sum of the first ten mod 10. */
static double
v_tr_id(const char *m, size_t len)
{
    char d[ID_MAX];
    int odd, even, i, s10 = 0;
    if (!shape(m, len, SHAPES("NNNNNNNNNNN")) || alnum(m, len, d, sizeof d) != 11 || d[0] == '0')
        return -1;
    odd = dv(d[0]) + dv(d[2]) + dv(d[4]) + dv(d[6]) + dv(d[8]);
    even = dv(d[1]) + dv(d[3]) + dv(d[5]) + dv(d[7]);
    if (((odd * 7 - even) % 10 + 10) % 10 != dv(d[9]))
        return -1;
    for (i = 0; i < 10; i++)
        s10 += dv(d[i]);
    /* two check digits, but 11-digit runs are common (mobile numbers):
     * the pack keeps the base score and wants a context word */
    return s10 % 10 == dv(d[10]) ? 0 : -1;
}

/* ---- Russia, Philippines ------------------------------------------------------------- */

/* mod 11 of a weighted sum, 10 counting as 0 (INN) */
static int
inn_check(const char *d, const int *w, size_t n)
{
    int c = wsum(d, w, n) % 11;
    return c > 9 ? 0 : c;
}

/* INN: 10 digits (organisations, one check digit) or 12 (people, two). */
static double
v_ru_inn(const char *m, size_t len)
{
    static const int w10[9] = { 2, 4, 10, 3, 5, 9, 4, 6, 8 };
    static const int w11[10] = { 7, 2, 4, 10, 3, 5, 9, 4, 6, 8 };
    static const int w12[11] = { 3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8 };
    char d[ID_MAX];

    if (shape(m, len, SHAPES("NNNNNNNNNN")))
        return inn_check(m, w10, 9) == dv(m[9]) ? 0 : -1;
    if (!shape(m, len, SHAPES("NNNNNNNNNNNN")))
        return -1;
    memcpy(d, m, 12);
    return inn_check(d, w11, 10) == dv(d[10]) && inn_check(d, w12, 11) == dv(d[11]) ? 0 : -1;
}

/* SNILS: nine digits weighted 9..1, sum mod 101 (100 counts as 00) is the
 * two-digit control number.  The printed layout (three groups of three
 * digits, then the two control digits: "112-233-445 95") stands alone. */
static double
v_ru_snils(const char *m, size_t len)
{
    static const int w[9] = { 9, 8, 7, 6, 5, 4, 3, 2, 1 };
    char d[ID_MAX];
    int c;

    if (!shape(m, len, SHAPES("NNNNNNNNNNN", "NNN-NNN-NNN NN", "NNN-NNN-NNN-NN")) ||
        alnum(m, len, d, sizeof d) != 11)
        return -1;
    c = wsum(d, w, 9) % 101;
    if (c == 100)
        c = 0;
    if (c != num2(d + 9))
        return -1;
    return len > 11 ? 0.75 : 0;
}

/* PhilHealth PIN: 12 digits, weights 2..12 over the first eleven,
 * 11 - sum mod 11 (11 is 0, 10 is never issued).  "NN-NNNNNNNNN-N" stands
 * alone. */
static double
v_ph_philhealth(const char *m, size_t len)
{
    static const int w[11] = { 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    char d[ID_MAX];
    int c;

    if (!shape(m, len, SHAPES("NNNNNNNNNNNN", "NN-NNNNNNNNN-N")) || alnum(m, len, d, sizeof d) != 12)
        return -1;
    c = 11 - wsum(d, w, 11) % 11;
    if (c == 11)
        c = 0;
    if (c == 10 || c != dv(d[11]))
        return -1;
    return len > 12 ? 0.6 : 0;
}

/* Eleven plain digits (a detector without a checksum on the shared
 * 11-digit pattern). */
static double
v_digits11(const char *m, size_t len)
{
    return shape(m, len, SHAPES("NNNNNNNNNNN")) ? 0 : -1;
}

static const struct {
    const char *name;
    tg__pii_validator_fn fn;
} validators_intl[] = {
    { "digits11", v_digits11 },
    { "ru_inn", v_ru_inn },       { "ru_snils", v_ru_snils },   { "ph_philhealth", v_ph_philhealth },
    { "de_tax_id", v_de_tax_id }, { "de_vat", v_de_vat },       { "icao9", v_icao9 },
    { "de_rvnr", v_de_rvnr },     { "de_kvnr", v_de_kvnr },     { "de_lanr", v_de_lanr },
    { "es_nif", v_es_nif },       { "it_fiscal", v_it_fiscal }, { "it_vat", v_it_vat },
    { "fi_hetu", v_fi_hetu },     { "pl_pesel", v_pl_pesel },   { "se_pnr", v_se_pnr },
    { "se_org", v_se_org },       { "uk_dl", v_uk_dl },         { "kr_rrn", v_kr_rrn },
    { "kr_frn", v_kr_frn },       { "kr_brn", v_kr_brn },       { "sg_nric", v_sg_nric },
    { "in_aadhaar", v_in_aadhaar }, { "in_gstin", v_in_gstin }, { "th_tnin", v_th_tnin },
    { "au_abn", v_au_abn },       { "au_acn", v_au_acn },       { "au_tfn", v_au_tfn },
    { "au_medicare", v_au_medicare }, { "ca_sin", v_ca_sin },   { "us_npi", v_us_npi },
    { "dea", v_dea },             { "za_id", v_za_id },         { "tr_id", v_tr_id },
};

tg__pii_validator_fn
tg__pii_validator_intl(const char *name)
{
    size_t i;
    for (i = 0; i < TG_ARRAY_LEN(validators_intl); i++)
        if (strcmp(validators_intl[i].name, name) == 0)
            return validators_intl[i].fn;
    return NULL;
}
