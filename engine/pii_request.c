/*
 * pii_request.c — scanning a whole request: every part, then what only the
 * parts together show — a value split over two adjacent parts, and one
 * split by a blank line inside a part (text blocks joined into one string).
 * The scanner itself is engine/pii.c.
 */
#include "engine/pii.h"
#include "engine/pii_int.h"
#include "engine/limits.h"
#include "engine/request.h"

#include <stdlib.h>
#include <string.h>

#define BOUNDARY_SPAN 96u   /* bytes each side of a part boundary scanned together */

static int
finding_cmp(const void *a, const void *b)
{
    const struct tg_finding *x = a, *y = b;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Is [st, e) of part already covered by a finding of the same entity? */
static bool
covered(const struct tg_findings *out, uint32_t part, uint32_t st, uint32_t e, const char *entity)
{
    for (uint32_t k = 0; k < out->n; k++) {
        const struct tg_finding *f = &out->v[k];
        if (f->part == part && f->entity == entity && f->start < e && st < f->end)
            return true;
    }
    return false;
}

static int
scan_boundary(const struct tg_pii_db *db, struct tg_pii_scratch *s, const struct tg_request *req,
              uint32_t i, double min_score, struct tg_arena *a, struct tg_findings *out,
              struct tg_err *err)
{
    const struct tg_part *pa = &req->parts[i], *pb = &req->parts[i + 1];
    size_t ta, tb, j;
    char *buf;
    int rc;

    if (pa->len == 0 || pb->len == 0)
        return TG_OK;
    ta = pa->len < BOUNDARY_SPAN ? pa->len : BOUNDARY_SPAN;
    tb = pb->len < BOUNDARY_SPAN ? pb->len : BOUNDARY_SPAN;
    buf = tg_arena_alloc(a, ta + 1 + tb);
    if (buf == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory in the PII scan");
    for (j = 0; j < 2; j++) {
        struct tg_findings tf = { 0 };
        size_t jl = j, len = ta + jl + tb;
        memcpy(buf, pa->text + pa->len - ta, ta);
        if (jl)
            buf[ta] = ' ';
        memcpy(buf + ta + jl, pb->text, tb);
        rc = tg_pii_scan(db, s, buf, len, i, min_score, a, &tf, err);
        if (rc != TG_OK)
            return rc;
        if (tf.unscannable)
            out->unscannable = true;
        for (uint32_t k = 0; k < tf.n; k++) {
            struct tg_finding fa = tf.v[k], fb = tf.v[k];
            if (!(fa.start < ta && fa.end > ta + jl))
                continue;   /* inside one part: the part scans found it */
            fa.part = i;
            fa.start = (uint32_t)(pa->len - ta + fa.start);
            fa.end = (uint32_t)pa->len;
            fb.part = i + 1;
            fb.start = 0;
            fb.end = (uint32_t)(fb.end - ta - jl);
            if (covered(out, fa.part, fa.start, fa.end, fa.entity) ||
                covered(out, fb.part, fb.start, fb.end, fb.entity))
                continue;
            if (out->n + 2 > TG_MAX_FINDINGS) {
                out->unscannable = true;
                return TG_OK;
            }
            if (tg__pii_append_finding(a, out, &fa) != TG_OK || tg__pii_append_finding(a, out, &fb) != TG_OK)
                return tg_err_set(err, TG_ENOMEM, "out of memory storing PII findings");
        }
    }
    return TG_OK;
}

/* ---- seams: blank lines inside one part --------------------------------
 *
 * Text blocks of one message are joined with a blank line when a dialect
 * turns them into one string (Anthropic text blocks), and a person hiding
 * a number can do the same: "4111 1111\n\n1111 1111" reads as one card to
 * a model.  A run of two or more line breaks between characters that can
 * belong to one identifier (one side a digit or '@') is a seam: the text
 * around it is scanned again with the seam taken out (and as one space),
 * and a finding that spans it is reported over the whole span. */

#define SEAM_SPAN 96u   /* bytes each side of a seam scanned together */

struct seam {
    size_t s, e;        /* the line breaks [s, e) in the part */
};

static inline bool
seam_side(unsigned char c)
{
    return tg__pii_ascii_alnum(c) || c == '@' || c == '.' || c == '-' || c == '+';
}

/* The seam starting at or after *pos; false when there is none. */
static bool
next_seam(const unsigned char *t, size_t n, size_t *pos, struct seam *sm)
{
    size_t i = *pos;

    while (i < n) {
        const unsigned char *nl = memchr(t + i, '\n', n - i);
        size_t s0, e0, b, f, breaks = 0;
        if (nl == NULL)
            break;
        s0 = (size_t)(nl - t);
        if (s0 > 0 && t[s0 - 1] == '\r')
            s0--;
        for (e0 = s0; e0 < n && (t[e0] == '\n' || t[e0] == '\r'); e0++)
            breaks += t[e0] == '\n';
        i = e0;
        if (breaks < 2)
            continue;
        for (b = s0; b > 0 && (t[b - 1] == ' ' || t[b - 1] == '\t') && s0 - b < 4; b--)
            ;
        for (f = e0; f < n && (t[f] == ' ' || t[f] == '\t') && f - e0 < 4; f++)
            ;
        if (b == 0 || f == n || !seam_side(t[b - 1]) || !seam_side(t[f]))
            continue;
        if (!(t[b - 1] >= '0' && t[b - 1] <= '9') && !(t[f] >= '0' && t[f] <= '9') && t[b - 1] != '@' &&
            t[f] != '@')
            continue;
        sm->s = s0;
        sm->e = e0;
        *pos = e0;
        return true;
    }
    *pos = n;
    return false;
}

/* Part offset of window-buffer offset x (x not inside a joiner): the
 * window starts at part offset w0, seams sm[0..k) were replaced by jl
 * bytes at buffer offsets bp[]. */
static size_t
seam_unmap(size_t x, size_t w0, const struct seam *sm, const size_t *bp, size_t k, size_t jl)
{
    size_t off = w0 + x;
    for (size_t j = 0; j < k && bp[j] < x; j++)
        off += (sm[j].e - sm[j].s) - jl;
    return off;
}

/* Scan window [w0, w1) of part i with its seams sm[0..k) replaced by jl
 * spaces; add the findings that span a seam. */
static int
scan_seam_window(const struct tg_pii_db *db, struct tg_pii_scratch *s, const struct tg_request *req, uint32_t i,
                 size_t w0, size_t w1, const struct seam *sm, size_t k, double min_score, struct tg_arena *a,
                 struct tg_findings *out, struct tg_err *err)
{
    const char *t = req->parts[i].text;
    size_t *bp = tg_arena_alloc(a, (k ? k : 1) * sizeof *bp);
    char *buf = tg_arena_alloc(a, w1 - w0 + 1);
    int rc;

    if (bp == NULL || buf == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory in the PII scan");
    for (size_t jl = 0; jl < 2; jl++) {
        struct tg_findings tf = { 0 };
        size_t o = 0, from = w0;
        for (size_t j = 0; j < k; j++) {
            memcpy(buf + o, t + from, sm[j].s - from);
            o += sm[j].s - from;
            bp[j] = o;
            if (jl)
                buf[o++] = ' ';
            from = sm[j].e;
        }
        memcpy(buf + o, t + from, w1 - from);
        o += w1 - from;
        rc = tg_pii_scan(db, s, buf, o, i, min_score, a, &tf, err);
        if (rc != TG_OK)
            return rc;
        if (tf.unscannable)
            out->unscannable = true;
        for (uint32_t q = 0; q < tf.n; q++) {
            struct tg_finding f = tf.v[q];
            bool spans = false;
            for (size_t j = 0; j < k && !spans; j++)
                spans = f.start < bp[j] && f.end > bp[j] + jl;
            if (!spans)
                continue;   /* within one side: the part scan found it */
            f.part = i;
            f.start = (uint32_t)seam_unmap(f.start, w0, sm, bp, k, jl);
            f.end = (uint32_t)seam_unmap(f.end, w0, sm, bp, k, jl);
            if (covered(out, f.part, f.start, f.end, f.entity))
                continue;
            if (out->n + 1 > TG_MAX_FINDINGS) {
                out->unscannable = true;
                return TG_OK;
            }
            if (tg__pii_append_finding(a, out, &f) != TG_OK)
                return tg_err_set(err, TG_ENOMEM, "out of memory storing PII findings");
        }
    }
    return TG_OK;
}

static int
scan_seams(const struct tg_pii_db *db, struct tg_pii_scratch *s, const struct tg_request *req, uint32_t i,
           double min_score, struct tg_arena *a, struct tg_findings *out, struct tg_err *err)
{
    const struct tg_part *p = &req->parts[i];
    const unsigned char *t = (const unsigned char *)p->text;
    struct seam *sm = NULL, one;
    size_t pos = 0, k = 0, cap = 0, w0 = 0, w1 = 0;
    int rc;

    /* windows of SEAM_SPAN around each seam, merged where they touch: each
     * byte is scanned at most twice more, however many seams there are */
    while (next_seam(t, p->len, &pos, &one)) {
        size_t a0 = one.s > SEAM_SPAN ? one.s - SEAM_SPAN : 0;
        size_t a1 = one.e + SEAM_SPAN < p->len ? one.e + SEAM_SPAN : p->len;
        if (k > 0 && a0 > w1) {
            if ((rc = scan_seam_window(db, s, req, i, w0, w1, sm, k, min_score, a, out, err)) != TG_OK)
                return rc;
            k = 0;
        }
        if (k == 0)
            w0 = a0;
        if (k == cap) {
            size_t nc = cap ? cap * 2 : 8;
            struct seam *v = tg_arena_alloc(a, nc * sizeof *v);
            if (v == NULL)
                return tg_err_set(err, TG_ENOMEM, "out of memory in the PII scan");
            if (k)
                memcpy(v, sm, k * sizeof *v);
            sm = v;
            cap = nc;
        }
        sm[k++] = one;
        w1 = a1;
    }
    if (k > 0)
        return scan_seam_window(db, s, req, i, w0, w1, sm, k, min_score, a, out, err);
    return TG_OK;
}

int
tg_pii_scan_request(const struct tg_pii_db *db, struct tg_pii_scratch *s,
                    const struct tg_request *req, double min_score,
                    struct tg_arena *a, struct tg_findings *out, struct tg_err *err)
{
    uint32_t i, n0;
    int rc;

    if (req == NULL)
        return tg_err_set(err, TG_EINVAL, "tg_pii_scan_request: no request");
    n0 = out->n;
    for (i = 0; i < req->nparts; i++) {
        const struct tg_part *p = &req->parts[i];
        rc = tg_pii_scan(db, s, p->text, p->len, i, min_score, a, out, err);
        if (rc != TG_OK)
            return rc;
        if (out->unscannable && out->n >= TG_MAX_FINDINGS)
            return TG_OK;
    }
    /* A value split over two consecutive parts ("jane@" + "example.com",
     * "4111 1111" + "1111 1111") reaches the provider whole: scan each
     * boundary, joined with nothing and with a space, and report a value
     * that spans it as one finding in each part. */
    for (i = 0; i + 1 < req->nparts; i++) {
        rc = scan_boundary(db, s, req, i, min_score, a, out, err);
        if (rc != TG_OK)
            return rc;
    }
    for (i = 0; i < req->nparts; i++) {
        rc = scan_seams(db, s, req, i, min_score, a, out, err);
        if (rc != TG_OK)
            return rc;
    }
    if (out->n > n0 + 1)
        qsort(out->v + n0, out->n - n0, sizeof *out->v, finding_cmp);
    return TG_OK;
}

