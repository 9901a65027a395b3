/*
 * pii_valid_secret.c — validators for credentials (rules/pii/secrets.yaml).
 *
 * Three kinds:
 *   secret, secret_eNN   a vendor-shaped token: drop allow-listed
 *                        placeholders, then (eNN) anything whose Shannon
 *                        entropy is under N.N bits per byte — the rule's
 *                        entropy minimum, so a run of one letter in the
 *                        right shape is not a key;
 *   generic_secret       the value of a secret-named key: must look random
 *                        and must not be code (an identifier, words, an
 *                        attribute path, a path, a template, a number);
 *   conn_password        the password of a URL or connection string: not a
 *                        documentation placeholder (user:password@host);
 *   pem_key              a PEM private key with a body of key material, not
 *                        a template (BEGIN ... XXXX ... END).
 * Hooked into tg__pii_validator() by tg__pii_secret_validator().
 */
#include "engine/pii_int.h"

#include <string.h>

static inline bool isdig(char c) { return c >= '0' && c <= '9'; }
static inline bool isup(char c) { return c >= 'A' && c <= 'Z'; }
static inline bool islow(char c) { return c >= 'a' && c <= 'z'; }
static inline bool isalpha_(char c) { return isup(c) || islow(c); }
static inline bool isalnum_(char c) { return isalpha_(c) || isdig(c); }
static inline char lower(char c) { return isup(c) ? (char)(c + 32) : c; }

static bool
has_ci(const char *m, size_t len, const char *w)
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

/* Longest run of one byte (case folded), and of ascending bytes
 * ("123456", "abcdef"): placeholders are typed, keys are drawn. */
static void
runs(const char *m, size_t len, size_t *same, size_t *asc)
{
    size_t i, s = 1, a = 1;
    *same = len ? 1 : 0;
    *asc = len ? 1 : 0;
    for (i = 1; i < len; i++) {
        char p = lower(m[i - 1]), c = lower(m[i]);
        s = c == p ? s + 1 : 1;
        a = isalnum_(c) && c == p + 1 ? a + 1 : 1;
        if (s > *same)
            *same = s;
        if (a > *asc)
            *asc = a;
    }
}

/* Keys published as examples, whole: the Firebase Android SDK's sample
 * API keys, Yarn's public registry key, and the example credentials of
 * the OAuth 2.0 RFCs (6749: access and refresh token, authorization code,
 * client credentials in Basic form; 6750: bearer token).  (AWS's
 * documentation keys carry "EXAMPLE" and fall to the word list.) */
static const char *const doc_keys[] = {
    "AIzaSyabcdefghijklmnopqrstuvwxyz1234567", "AIzaSyAnLA7NfeLquW1tJFpx_eQCxoX-oo6YyIs",
    "AIzaSyCkEhVjf3pduRDt6d1yKOMitrUEke8agEM", "AIzaSyDMAScliyLx7F0NPDEJi1QmyCgHIAODrlU",
    "AIzaSyD3asb-2pEZVqMkmL6M9N6nHZRR_znhrh0", "AIzayDNSXIbFmlXbIE6mCzDLQAqITYefhixbX4A",
    "AIzaSyAdOS2zB6NCsk1pCdZ4-P6GBdi_UUPwX7c", "AIzaSyASWm6HmTMdYWpgMnjRBjxcQ9CKctWmLd4",
    "AIzaSyANUvH9H9BsUccjsu2pCmEkOPjjaXeDQgY", "AIzaSyA5_iVawFQ8ABuTZNUdcwERLJv_a_p4wtM",
    "AIzaSyA4UrcGxgwQFTfaI3no3t7Lt1sjmdnP5sQ", "AIzaSyDSb51JiIcB6OJpwwMicseKRhhrOq1cS7g",
    "AIzaSyBF2RrAIm4a0mO64EShQfqfd2AFnzAvvuU", "AIzaSyBcE-OOIbhjyR83gm4r2MFCu4MJmprNXsw",
    "AIzaSyB8qGxt4ec15vitgn44duC5ucxaOi4FmqE", "AIzaSyA8vmApnrHNFE0bApF4hoZ11srVL_n0nvY",
    "6fe4476ee5a1832882e326b506d14126",
    "2YotnFZFEjr1zCsicMWpAA", "tGzv3JOkF0XG5Qx2TlKWIA", "SplxlOBeZQQYbYS6WxSbIA",
    "czZCaGRSa3F0MzpnWDFmQmF0M2JW", "mF_9.B5f-4.1JqM",
};

/* Allow-list facts shared by every secret validator: documentation keys
 * (AWS's AKIAIOSFODNN7EXAMPLE, doc_keys[]), fill-in words and typed runs. */
static bool
placeholder(const char *m, size_t len)
{
    static const char *const words[] = { "example", "xxxx", "your", "placeholder", "redacted", "changeme",
                                         "dummy", "sample", "replaceme", "replace_me", "insert", "...",
                                         "****", "<", ">", "${", "{{" };
    size_t i, same, asc;

    for (i = 0; i < TG_ARRAY_LEN(words); i++)
        if (has_ci(m, len, words[i]))
            return true;
    for (i = 0; i < TG_ARRAY_LEN(doc_keys); i++)
        if (strlen(doc_keys[i]) == len && memcmp(doc_keys[i], m, len) == 0)
            return true;
    runs(m, len, &same, &asc);
    return same >= 6 || asc >= 6;
}

static bool codelike(const char *m, size_t len);

static double
secret_min(const char *m, size_t len, double min_entropy)
{
    /* words in a token's shape ("sk-learn-preprocessing-pipeline-v2") are
     * prose or code; drawn keys never read as words */
    if (placeholder(m, len) || codelike(m, len))
        return -1;
    if (min_entropy > 0 && tg__pii_entropy(m, len) < min_entropy)
        return -1;
    return 0;
}

static double v_secret(const char *m, size_t len) { return secret_min(m, len, 0); }
static double v_secret_e20(const char *m, size_t len) { return secret_min(m, len, 2.0); }
static double v_secret_e30(const char *m, size_t len) { return secret_min(m, len, 3.0); }
static double v_secret_e35(const char *m, size_t len) { return secret_min(m, len, 3.5); }
static double v_secret_e40(const char *m, size_t len) { return secret_min(m, len, 4.0); }
static double v_secret_e45(const char *m, size_t len) { return secret_min(m, len, 4.5); }

/* A run of letters that reads as a word or an identifier part: one case
 * throughout, Capitalised, or camelCase with few humps.  A drawn key of
 * mixed case changes case every other letter or so. */
static bool
wordlike(const char *s, size_t n)
{
    size_t i, humps = 0;
    bool up = false, lo = false;

    for (i = 0; i < n; i++) {
        if (isup(s[i]))
            up = true;
        else
            lo = true;
        if (i > 0 && islow(s[i - 1]) && isup(s[i]))
            humps++;
    }
    if (!up || !lo)
        return true;
    return humps <= 1 + n / 6;
}

/*
 * Is m[0, len) code or prose rather than a drawn value?  Split on
 * anything not a letter or digit: when every piece is a word
 * (wordlike()), a number or a short tag (v2, md5, x86), it is an
 * identifier (get_cache_token, TokenList), an attribute path
 * (os.getcwd, self.password), a constant (YOUR_API_KEY) or words
 * (geheim$parole, redacted_for_privacy).
 */
/* Longest run of consonants (y counts as a vowel). */
static size_t
consonants(const char *s, size_t n)
{
    size_t i, run = 0, best = 0;
    for (i = 0; i < n; i++) {
        char c = lower(s[i]);
        run = strchr("aeiouy", c) == NULL ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    return best;
}

/* "SOCKS5", "sha256", "utf8": a word, then a number. */
static bool
word_then_number(const char *s, size_t n)
{
    size_t k = 0;
    while (k < n && isalpha_(s[k]))
        k++;
    if (k == 0 || k == n || !wordlike(s, k) || consonants(s, k) >= 5)
        return false;
    while (k < n && isdig(s[k]))
        k++;
    return k == n;
}

/* A PEM private key, not a template of one: its body (the lines between
 * BEGIN and END, less "Key: value" headers and "\n" escapes) holds at
 * least 64 base64 characters of key-like entropy. */
static double
v_pem_key(const char *m, size_t len)
{
    unsigned char body[4096];
    size_t i = 0, n = 0;
    const char *end;

    while (i < len && m[i] != '\n' && !(m[i] == '\\' && i + 1 < len && m[i + 1] == 'n'))
        i++;   /* past the BEGIN line */
    end = len > 8 ? memmem(m + i, len - i, "-----END", 8) : NULL;
    len = end != NULL ? (size_t)(end - m) : len;
    while (i < len && n < sizeof body) {
        size_t ls = i, le;
        bool header = false;
        while (i < len && m[i] != '\n' && !(m[i] == '\\' && i + 1 < len && m[i + 1] == 'n'))
            if (m[i++] == ':')
                header = true;
        le = i;
        i += i < len && m[i] == '\\' ? 2 : 1;
        if (header)
            continue;
        for (; ls < le && n < sizeof body; ls++)
            if (isalnum_(m[ls]) || m[ls] == '+' || m[ls] == '/')
                body[n++] = (unsigned char)m[ls];
    }
    if (n < 64 || placeholder((const char *)body, n > 256 ? 256 : n))
        return -1;
    return tg__pii_entropy((const char *)body, n) >= 4.0 ? 0 : -1;
}

static bool
dotted_path(const char *m, size_t len)
{
    size_t i, parts = 1, last = 0, k = 0;
    char w[64];

    /* os.path.join, ed25519.Ed25519PrivateKey: identifiers joined by dots,
     * the last one words once its digits are set aside */
    for (i = 0; i < len; i++) {
        if (m[i] == '.') {
            if (i == last || isdig(m[last]) || i + 1 == len)
                return false;
            parts++;
            last = i + 1;
        } else if (!isalnum_(m[i]) && m[i] != '_')
            return false;
    }
    if (parts < 2 || isdig(m[last]))
        return false;
    for (i = last; i < len && k < sizeof w; i++)
        if (isalpha_(m[i]))
            w[k++] = m[i];
    return k >= 3 && wordlike(w, k) && consonants(w, k) < 5;
}

static bool
codelike(const char *m, size_t len)
{
    size_t i = 0, singles = 0;

    if (dotted_path(m, len))
        return true;
    while (i < len) {
        size_t st, nl = 0, nd = 0;
        /* separators, and %XX escapes (secret%3Dpassword is two words) */
        while (i < len && !isalnum_(m[i]))
            i += m[i] == '%' && i + 2 < len && isalnum_(m[i + 1]) && isalnum_(m[i + 2]) ? 3 : 1;
        st = i;
        while (i < len && isalnum_(m[i])) {
            if (isdig(m[i]))
                nd++;
            else
                nl++;
            i++;
        }
        if (i == st)
            break;
        /* identifiers and words rarely hold two one-letter pieces;
         * symbol-rich passwords (b4aB-_-m#QOEO...%3-k) do */
        if (i - st == 1 && ++singles >= 2)
            return false;
        if (nd == 0 && (!wordlike(m + st, i - st) || consonants(m + st, i - st) >= 5))
            return false;   /* drawn letters: no word has "kwhjf" in it */
        if (nd > 0 && nl > 0 && i - st > 4 && !(nl >= 3 && word_then_number(m + st, i - st)))
            return false;   /* letters and digits mixed: drawn, or a password */
        if (nd > 0 && nl == 0 && i - st > 8)
            return false;   /* a long digit run inside other text */
    }
    return true;
}

static double
v_generic(const char *m, size_t len)
{
    size_t i, nd = 0;
    double e;

    if (len < 8 || placeholder(m, len))
        return -1;
    /* templates, shell variables, paths (masks are runs: placeholder()) */
    if (m[0] == '$' || m[0] == '%' || m[0] == '/' || m[0] == '~' || (m[0] == '.' && (m[1] == '/' || m[1] == '.')))
        return -1;
    for (i = 0; i < len; i++)
        if (isdig(m[i]) || m[i] == '.' || m[i] == '-' || m[i] == '_')
            nd++;
    if (nd == len)
        return -1;   /* numbers, versions, dates */
    if (codelike(m, len))
        return -1;
    e = tg__pii_entropy(m, len);
    /* Random keys reach ~log2(alphabet) bits/char; short values cannot. */
    if (e < (len >= 20 ? 3.0 : 2.7))
        return -1;
    return 0;
}

static double
v_conn_password(const char *m, size_t len)
{
    const char *sch = len > 3 ? memmem(m, len, "://", 3) : NULL;
    double ok = 0;

    /* a URL: the password runs from the colon after the user to the '@' */
    if (sch != NULL) {
        const char *u = sch + 3, *end = m + len, *c, *at;
        c = memchr(u, ':', (size_t)(end - u));
        at = c != NULL ? memchr(c, '@', (size_t)(end - c)) : NULL;
        if (c == NULL || at == NULL)
            return -1;
        m = c + 1;
        len = (size_t)(at - m);
        ok = 1.0;   /* outranks the user@host e-mail look-alike inside it */
    }
    static const char *const fill[] = { "password", "passwd", "pass", "pwd", "pw", "secret", "changeme",
                                        "xxx", "foo", "bar", "tiger", "pass123", "password123" };
    size_t i, same, asc;

    if (len < 3 || placeholder(m, len))
        return -1;
    for (i = 0; i < TG_ARRAY_LEN(fill); i++)
        if (strlen(fill[i]) == len && has_ci(m, len, fill[i]))
            return -1;
    if (m[0] == '$' || m[0] == '%' || m[0] == '*')
        return -1;
    runs(m, len, &same, &asc);
    if (same == len || asc == len)
        return -1;   /* "xxx", "***", "1234" */
    return ok;
}

/* An Authorization header's credential: Basic is base64 of user:password
 * (judged as a connection-string password: "user:password" is a
 * placeholder); Bearer and the rest are tokens (judged as generic). */
static double
v_auth_header(const char *m, size_t len)
{
    unsigned char dec[512];
    long n = len % 4 == 0 && len < 680 ? tg__pii_b64url_decode(m, len, dec, sizeof dec) : -1;
    long i, colon = -1;

    if (placeholder(m, len))
        return -1;
    for (i = 0; i < n; i++) {
        if (dec[i] < 0x20 || dec[i] > 0x7e)
            break;
        if (dec[i] == ':' && colon < 0)
            colon = i;
    }
    if (n > 0 && i == n && colon >= 0)
        return v_conn_password((const char *)dec + colon + 1, (size_t)(n - colon - 1));
    return v_generic(m, len);
}

static const struct {
    const char *name;
    tg__pii_validator_fn fn;
} secret_validators[] = {
    { "secret", v_secret },           { "secret_e20", v_secret_e20 }, { "secret_e30", v_secret_e30 },
    { "secret_e35", v_secret_e35 },   { "secret_e40", v_secret_e40 }, { "secret_e45", v_secret_e45 },
    { "generic_secret", v_generic },  { "conn_password", v_conn_password },
    { "pem_key", v_pem_key },         { "auth_header", v_auth_header },
};

tg__pii_validator_fn
tg__pii_secret_validator(const char *name)
{
    size_t i;
    for (i = 0; name != NULL && i < TG_ARRAY_LEN(secret_validators); i++)
        if (strcmp(secret_validators[i].name, name) == 0)
            return secret_validators[i].fn;
    return NULL;
}
