/*
 * allow.c — allow lists (engine/allow.h): exact values, anchored PCRE2
 * patterns and the built-in role-mailbox entry, applied to the findings of
 * one request after the scan.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/allow.h"
#include "engine/limits.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct tg_allow_re {
    pcre2_code *code;
    const char *src;      /* for tg_allow_re_info() */
};

struct tg_allow_matcher {
    pcre2_match_data    *md;
    pcre2_match_context *mctx;
};

/*
 * Mailboxes that belong to a function, not a person.  The line: names that
 * standards reserve for operating a mail or web service (RFC 5321
 * postmaster; RFC 2142 abuse, noc, security, hostmaster, webmaster), the
 * bounce sender mailer-daemon, and the no-reply family, which by
 * construction no one reads.  Business role names (info@, sales@,
 * support@, contact@, admin@) are left out: in a small firm they are one
 * person's inbox.  Only the whole local part counts: "noreply+1234@" or
 * "1234+jane@users.noreply.github.com" may encode a person and stay
 * findings.
 */
const char *const tg_allow_role_locals[] = {
    "noreply", "no-reply", "no_reply", "no.reply",
    "donotreply", "do-not-reply", "do_not_reply", "do.not.reply",
    "mailer-daemon", "postmaster", "hostmaster", "webmaster",
    "abuse", "noc", "security",
    NULL
};

/* ---- memory from an arena for PCRE2 ------------------------------------------ */

static void *
arena_malloc(PCRE2_SIZE n, void *ud)
{
    return tg_arena_alloc(ud, n);
}

static void
arena_free(void *p, void *ud)
{
    /* the arena frees everything at once */
    (void)p;
    (void)ud;
}

int
tg_allow_re_compile(const char *src, struct tg_arena *a, struct tg_allow_re **out,
                    size_t *erroff, struct tg_err *err)
{
    pcre2_general_context *g;
    pcre2_compile_context *cc;
    struct tg_allow_re *re;
    int ec = 0;
    PCRE2_SIZE eo = 0;

    *erroff = 0;
    if ((g = pcre2_general_context_create(arena_malloc, arena_free, a)) == NULL ||
        (cc = pcre2_compile_context_create(g)) == NULL ||
        (re = tg_arena_calloc(a, 1, sizeof(*re))) == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory compiling an allow pattern");
    /* \C could split a byte sequence the rest of the pattern relies on;
     * no pattern needs it. */
    re->code = pcre2_compile((PCRE2_SPTR)src, PCRE2_ZERO_TERMINATED,
                             PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_NEVER_BACKSLASH_C,
                             &ec, &eo, cc);
    if (re->code == NULL) {
        PCRE2_UCHAR msg[160];
        /* the compiler reports its own allocation failure as a compile error */
        if (ec == PCRE2_ERROR_NOMEMORY || ec == PCRE2_ERROR_HEAP_FAILED)
            return tg_err_set(err, TG_ENOMEM, "out of memory compiling an allow pattern");
        pcre2_get_error_message(ec, msg, sizeof(msg));
        *erroff = eo;
        return tg_err_set(err, TG_EINVAL, "%s", (const char *)msg);
    }
    re->src = src;
    *out = re;
    return TG_OK;
}

void
tg_allow_re_info(const struct tg_allow_re *re, struct tg_allow_re_info *out)
{
    uint32_t type = 0, cu = 0, minlen = 0;
    const uint8_t *bitmap = NULL;
    int ec;
    PCRE2_SIZE eo;
    /* PCRE2 records no required byte for an anchored pattern (it need not
     * search for one), so the facts come from an unanchored copy: the same
     * matches, minus the anchoring.  Load time only. */
    pcre2_code *u = pcre2_compile((PCRE2_SPTR)re->src, PCRE2_ZERO_TERMINATED,
                                  PCRE2_NEVER_BACKSLASH_C, &ec, &eo, NULL);
    const pcre2_code *c = u != NULL ? u : re->code;

    memset(out, 0, sizeof(*out));
    pcre2_pattern_info(c, PCRE2_INFO_MINLENGTH, &minlen);
    out->minlen = minlen;
    /* first byte: one known unit, a bitmap of candidates, or anything */
    pcre2_pattern_info(c, PCRE2_INFO_FIRSTCODETYPE, &type);
    if (type == 1) {
        pcre2_pattern_info(c, PCRE2_INFO_FIRSTCODEUNIT, &cu);
        out->first_bytes[cu & 0xff] = true;
        out->required[out->nrequired++] = (uint8_t)cu;
    } else if (pcre2_pattern_info(c, PCRE2_INFO_FIRSTBITMAP, &bitmap) == 0 && bitmap != NULL) {
        for (unsigned k = 0; k < 256; k++)
            out->first_bytes[k] = (bitmap[k / 8] >> (k % 8)) & 1;
    } else {
        memset(out->first_bytes, 1, sizeof(out->first_bytes));
    }
    type = 0;
    pcre2_pattern_info(c, PCRE2_INFO_LASTCODETYPE, &type);
    if (type == 1 && pcre2_pattern_info(c, PCRE2_INFO_LASTCODEUNIT, &cu) == 0)
        out->required[out->nrequired++] = (uint8_t)cu;
    pcre2_code_free(u);
}

/* ---- values -------------------------------------------------------------------- */

static bool
caseless_entity(const char *entity)
{
    /* mail domains are case-insensitive and mail systems treat local parts so */
    return strcmp(entity, "EMAIL_ADDRESS") == 0;
}

/* Compare value [a, a+alen) with NUL-terminated b: bytes, or ASCII case folded. */
static int
vcmp(const char *a, size_t alen, const char *b, bool fold)
{
    size_t i = 0;
    for (; i < alen && b[i] != '\0'; i++) {
        int x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (fold) {
            if (x >= 'A' && x <= 'Z') x += 'a' - 'A';
            if (y >= 'A' && y <= 'Z') y += 'a' - 'A';
        }
        if (x != y)
            return x < y ? -1 : 1;
    }
    if (i < alen)
        return 1;
    return b[i] != '\0' ? -1 : 0;
}

static int
sort_exact(const void *x, const void *y)
{
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    return vcmp(a, strlen(a), b, false);
}

static int
sort_fold(const void *x, const void *y)
{
    const char *a = *(const char *const *)x, *b = *(const char *const *)y;
    return vcmp(a, strlen(a), b, true);
}

void
tg_allow_entry_finish(struct tg_allow_entry *e)
{
    if (e->nvalues > 1)
        qsort(e->values, e->nvalues, sizeof(*e->values),
              caseless_entity(e->entity) ? sort_fold : sort_exact);
}

static bool
value_listed(const struct tg_allow_entry *e, const char *v, size_t len)
{
    bool fold = caseless_entity(e->entity);
    uint32_t lo = 0, hi = e->nvalues;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = vcmp(v, len, e->values[mid], fold);
        if (c == 0)
            return true;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return false;
}

/* ---- matching --------------------------------------------------------------------- */

int
tg_allow_matcher_new(struct tg_arena *a, struct tg_allow_matcher **out)
{
    pcre2_general_context *g = pcre2_general_context_create(arena_malloc, arena_free, a);
    struct tg_allow_matcher *m = tg_arena_calloc(a, 1, sizeof(*m));
    if (g == NULL || m == NULL)
        return TG_ENOMEM;
    /* one pair of offsets: we only ask whether the whole value matches */
    m->md = pcre2_match_data_create(1, g);
    m->mctx = pcre2_match_context_create(g);
    if (m->md == NULL || m->mctx == NULL)
        return TG_ENOMEM;
    pcre2_set_match_limit(m->mctx, TG_PCRE2_MATCH_LIMIT);
    pcre2_set_depth_limit(m->mctx, TG_PCRE2_DEPTH_LIMIT);
    pcre2_set_heap_limit(m->mctx, TG_PCRE2_HEAP_LIMIT_KIB);
    *out = m;
    return TG_OK;
}

int
tg_allow_entry_test(const struct tg_allow_entry *e, const char *v, size_t len,
                    struct tg_allow_matcher *m)
{
    int why = 0;
    if (e->nvalues > 0 && value_listed(e, v, len))
        return 1;
    if (m == NULL)
        return 0;
    for (uint32_t i = 0; i < e->npatterns; i++) {
        int rc = pcre2_match(e->re[i]->code, (PCRE2_SPTR)v, len, 0, 0, m->md, m->mctx);
        /* rc 0: a match whose groups did not fit the one-pair ovector */
        if (rc >= 0)
            return 1;
        if (rc == PCRE2_ERROR_NOMEMORY)
            why = TG_ENOMEM;
        else if (rc != PCRE2_ERROR_NOMATCH && why == 0)
            why = TG_ELIMIT;
    }
    return why;
}

bool
tg_allow_entry_match(const struct tg_allow_entry *e, const char *v, size_t len,
                     struct tg_allow_matcher *m)
{
    /* a limit or out of memory: not allowed (the finding stands) */
    return tg_allow_entry_test(e, v, len, m) > 0;
}

bool
tg_allow_role_address(const char *v, size_t len)
{
    const char *at = memchr(v, '@', len);
    if (at == NULL || at == v)
        return false;
    size_t n = (size_t)(at - v);
    for (const char *const *r = tg_allow_role_locals; *r != NULL; r++)
        if (strlen(*r) == n && strncasecmp(*r, v, n) == 0)
            return true;
    return false;
}

/* a.b.c.d -> 32 bits; false when v is not a dotted quad */
static bool
ipv4_of(const char *v, size_t len, uint32_t *out)
{
    uint32_t a = 0, part = 0, dots = 0, digits = 0;

    for (size_t i = 0; i < len; i++) {
        if (v[i] >= '0' && v[i] <= '9') {
            part = part * 10 + (uint32_t)(v[i] - '0');
            if (++digits > 3 || part > 255)
                return false;
        } else if (v[i] == '.' && digits > 0 && dots < 3) {
            a = a << 8 | part;
            part = digits = 0;
            dots++;
        } else {
            return false;
        }
    }
    if (dots != 3 || digits == 0)
        return false;
    *out = a << 8 | part;
    return true;
}

static bool
special_v4(uint32_t a)
{
    static const struct { uint32_t net; unsigned bits; } r[] = {
        { 0x00000000u, 8 },  { 0x0A000000u, 8 },  { 0x64400000u, 10 }, { 0x7F000000u, 8 },
        { 0xA9FE0000u, 16 }, { 0xAC100000u, 12 }, { 0xC0000000u, 24 }, { 0xC0000200u, 24 },
        { 0xC0A80000u, 16 }, { 0xC6120000u, 15 }, { 0xC6336400u, 24 }, { 0xCB007100u, 24 },
        { 0xE0000000u, 4 },  { 0xF0000000u, 4 },
    };
    for (size_t i = 0; i < TG_ARRAY_LEN(r); i++)
        if ((a & (0xFFFFFFFFu << (32 - r[i].bits))) == r[i].net)
            return true;
    /* a netmask: ones then zeros (255.255.255.0, 255.255.0.0, ...) */
    return a != 0 && ((~a + 1) & ~a) == 0 && (a >> 31) == 1;
}

/* Parse an IPv6 text (:: once, an optional trailing dotted quad, an
 * optional %zone) into 16 bytes. */
static bool
ipv6_of(const char *v, size_t len, uint8_t out[16])
{
    uint16_t w[8] = { 0 };
    int nw = 0, gap = -1;
    size_t i = 0;
    const char *pct = memchr(v, '%', len);

    if (pct != NULL)
        len = (size_t)(pct - v);
    if (len >= 2 && v[0] == ':' && v[1] == ':') {
        gap = 0;
        i = 2;
    }
    while (i < len) {
        size_t j = i;
        uint32_t x = 0;
        const char *dot = NULL;
        while (j < len && v[j] != ':') {
            if (v[j] == '.')
                dot = v + j;
            j++;
        }
        if (dot != NULL) {   /* an embedded IPv4 ends the address */
            uint32_t a4;
            if (j != len || nw > 6 || !ipv4_of(v + i, j - i, &a4))
                return false;
            w[nw++] = (uint16_t)(a4 >> 16);
            w[nw++] = (uint16_t)a4;
            i = j;
            break;
        }
        if (j == i || j - i > 4)
            return false;
        for (size_t k = i; k < j; k++) {
            char c = v[k];
            int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                  : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
            if (d < 0)
                return false;
            x = x << 4 | (uint32_t)d;
        }
        if (nw >= 8)
            return false;
        w[nw++] = (uint16_t)x;
        i = j;
        if (i < len) {   /* at ':' */
            if (i + 1 < len && v[i + 1] == ':') {
                if (gap >= 0)
                    return false;
                gap = nw;
                i += 2;
            } else {
                i++;
                if (i == len)
                    return false;
            }
        }
    }
    if (gap < 0 ? nw != 8 : nw > 7)
        return false;
    if (gap >= 0) {
        int tail = nw - gap;
        memmove(w + 8 - tail, w + gap, (size_t)tail * sizeof(w[0]));
        memset(w + gap, 0, (size_t)(8 - tail - gap) * sizeof(w[0]));
    }
    for (int k = 0; k < 8; k++) {
        out[2 * k] = (uint8_t)(w[k] >> 8);
        out[2 * k + 1] = (uint8_t)w[k];
    }
    return true;
}

bool
tg_allow_special_ip(const char *v, size_t len)
{
    uint32_t a;
    uint8_t b[16];
    static const uint8_t zero12[12] = { 0 }, mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

    if (ipv4_of(v, len, &a))
        return special_v4(a);
    if (!ipv6_of(v, len, b))
        return false;
    if (memcmp(b, zero12, 12) == 0)
        return true;   /* ::/96: unspecified, loopback, IPv4-compatible (deprecated) */
    if (memcmp(b, mapped, 12) == 0)
        return special_v4((uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 | (uint32_t)b[14] << 8 | b[15]);
    return (b[0] & 0xfe) == 0xfc ||                      /* fc00::/7 unique local */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||    /* fe80::/10 link-local */
           b[0] == 0xff ||                               /* ff00::/8 multicast */
           (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8) ||   /* 2001:db8::/32 */
           (b[0] == 0x20 && b[1] == 0x01 && b[2] < 0x02) ||   /* 2001::/23 IETF protocol assignments
                                                               * (Teredo, benchmarking, ORCHID, anycast) */
           (b[0] == 0x01 && b[1] == 0x00 && memcmp(b + 2, zero12, 6) == 0);     /* 100::/64 discard */
}

bool
tg_allow_ip_network(const char *v, size_t len, const char *after, size_t alen)
{
    uint8_t b[16];
    uint32_t a, n = 0, bits;
    size_t i = 1;

    if (alen < 2 || after[0] != '/')
        return false;
    while (i < alen && i <= 3 && after[i] >= '0' && after[i] <= '9')
        n = n * 10 + (uint32_t)(after[i++] - '0');
    if (i == 1 || (i < alen && after[i] >= '0' && after[i] <= '9') ||
        (i + 1 < alen && after[i] == '.' && after[i + 1] >= '0' && after[i + 1] <= '9'))
        return false;   /* no length, or a longer number than one */
    if (ipv4_of(v, len, &a)) {
        bits = 32;
        for (int k = 0; k < 4; k++)
            b[k] = (uint8_t)(a >> (24 - 8 * k));
    } else if (memchr(v, '%', len) == NULL && ipv6_of(v, len, b)) {
        bits = 128;
    } else {
        return false;
    }
    if (n >= bits)
        return false;   /* /32, /128: one host */
    for (uint32_t k = n; k < bits; k++)
        if (b[k >> 3] & (0x80u >> (k & 7)))
            return false;   /* a host bit set: an interface address and its prefix */
    return true;
}

static bool
role_entry_match(const struct tg_allow_entry *e, const char *v, size_t len,
                 struct tg_allow_matcher *m)
{
    /* the built-in entry may also carry the operator's own values/patterns */
    return tg_allow_role_address(v, len) || tg_allow_entry_match(e, v, len, m);
}

int
tg_allow_apply(const struct tg_allow_scope *sc, const struct tg_part *parts, uint32_t nparts,
               struct tg_findings *f, struct tg_arena *a,
               struct tg_allow_hit **hits, uint32_t *nhits, struct tg_err *err)
{
    struct tg_allow_matcher *m = NULL;
    const struct tg_allow_entry **by = NULL;   /* entry that allowed finding i, or NULL */
    struct tg_allow_hit *hv;
    uint32_t nh = 0, total = 0;
    bool any_patterns = false, any = sc->role != NULL || sc->special_ip != NULL;

    *hits = NULL;
    *nhits = 0;
    for (int l = 0; l < 3; l++) {
        if (sc->nlists[l] > 0)
            any = true;
        for (uint32_t k = 0; k < sc->nlists[l]; k++)
            any_patterns |= sc->lists[l][k].npatterns > 0;
    }
    if (!any || f->n == 0)
        return TG_OK;
    if (any_patterns && tg_allow_matcher_new(a, &m) != TG_OK)
        return tg_err_set(err, TG_ENOMEM, "out of memory matching allow lists");
    if ((by = tg_arena_calloc(a, f->n, sizeof(*by))) == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory matching allow lists");

    for (uint32_t i = 0; i < f->n; i++) {
        const struct tg_finding *fd = &f->v[i];
        if (fd->part >= nparts || fd->end <= fd->start || fd->end > parts[fd->part].len)
            continue;   /* no text to compare: the finding stands */
        const char *v = parts[fd->part].text + fd->start;
        size_t len = fd->end - fd->start;
        for (int l = 0; l < 3 && by[i] == NULL; l++)
            for (uint32_t k = 0; k < sc->nlists[l] && by[i] == NULL; k++) {
                const struct tg_allow_entry *e = &sc->lists[l][k];
                if (strcmp(e->entity, fd->entity) == 0 && tg_allow_entry_match(e, v, len, m))
                    by[i] = e;
            }
        if (by[i] == NULL && sc->role != NULL && strcmp(sc->role->entity, fd->entity) == 0 &&
            role_entry_match(sc->role, v, len, m))
            by[i] = sc->role;
        if (by[i] == NULL && sc->special_ip != NULL && strcmp(sc->special_ip->entity, fd->entity) == 0 &&
            (tg_allow_special_ip(v, len) ||
             tg_allow_ip_network(v, len, parts[fd->part].text + fd->end, parts[fd->part].len - fd->end) ||
             tg_allow_entry_match(sc->special_ip, v, len, m)))
            by[i] = sc->special_ip;
        if (by[i] != NULL)
            total++;
    }
    if (total == 0)
        return TG_OK;

    /* hits per entry, first-use order; allocated before f changes */
    if ((hv = tg_arena_calloc(a, total, sizeof(*hv))) == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory matching allow lists");
    for (uint32_t i = 0; i < f->n; i++) {
        if (by[i] == NULL)
            continue;
        uint32_t k = 0;
        while (k < nh && hv[k].entry != by[i])
            k++;
        if (k == nh)
            hv[nh++].entry = by[i];
        hv[k].count++;
    }
    uint32_t o = 0;
    for (uint32_t i = 0; i < f->n; i++)
        if (by[i] == NULL)
            f->v[o++] = f->v[i];
    f->n = o;
    *hits = hv;
    *nhits = nh;
    return TG_OK;
}
