/*
 * outguard.c — the output guard (engine/outguard.h): scan answer text with
 * the policy's packs, count what the guarded classes found, replace or
 * refuse, and for streams hold back a bounded tail so a value split across
 * chunks is seen whole.
 */
#include "engine/outguard.h"
#include "engine/limits.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tg_og_ph {
    const char *entity;   /* points into the db */
    const char *val;      /* copy in g->a: stream buffers move */
    size_t      len;
    uint32_t    num;
};

bool
tg_outguard_enabled(const struct tg_policy *p)
{
    return p != NULL && (p->resp_secrets != TG_RESP_PASS || p->resp_pii != TG_RESP_PASS);
}

const char *
tg_outguard_action_name(enum tg_resp_action a)
{
    switch (a) {
    case TG_RESP_REDACT: return "redact";
    case TG_RESP_DENY:   return "deny";
    default:             return "pass";
    }
}

void
tg_outguard_init(struct tg_outguard *g, const struct tg_policy *p, const struct tg_decision *d,
                 bool allow_lists_off, struct tg_pii_scratch *scratch, struct tg_arena *a)
{
    memset(g, 0, sizeof(*g));
    g->p = p;
    g->scratch = scratch;
    g->a = a;
    g->allow_off = allow_lists_off;
    g->scope = (struct tg_allow_scope){
        .lists = { p->pii_allow, d != NULL && d->rule ? d->rule->pii_allow : NULL,
                   d != NULL && d->tenant_cfg ? d->tenant_cfg->pii_allow : NULL },
        .nlists = { p->npii_allow, d != NULL && d->rule ? d->rule->npii_allow : 0,
                    d != NULL && d->tenant_cfg ? d->tenant_cfg->npii_allow : 0 },
        .role = p->role_allow,
        .special_ip = p->special_ip_allow,
    };
    if (d != NULL && d->verdict == TG_REDACT) {
        g->seed = d->pii;
        g->nseed = d->npii;
    }
    /* small: most scans find nothing and allocate nothing */
    tg_arena_init(&g->tmp, 4096);
}

void
tg_outguard_free(struct tg_outguard *g)
{
    if (g != NULL)
        tg_arena_free(&g->tmp);
}

void
tg_outguard_chan_free(struct tg_outguard_chan *c)
{
    if (c == NULL)
        return;
    free(c->buf);
    free(c->obuf);
    memset(c, 0, sizeof(*c));
}

static enum tg_resp_action
action_of(const struct tg_outguard *g, const struct tg_finding *f)
{
    return f->cls == TG_PII_CLASS_SECRET ? g->p->resp_secrets : g->p->resp_pii;
}

static void
deny(struct tg_outguard *g, const char *rule)
{
    /* the first reason sticks: it is what the client and the audit are told */
    if (g->verdict != TG_RESP_DENY)
        g->rule = rule;
    g->verdict = TG_RESP_DENY;
}

static int
count(struct tg_outguard *g, const struct tg_finding *f)
{
    uint32_t k = 0;

    while (k < g->ncounts && strcmp(g->counts[k].entity, f->entity) != 0)
        k++;
    if (k == g->ncounts) {
        if (g->ncounts == g->capcounts) {
            uint32_t nc = g->capcounts ? 2 * g->capcounts : 8;
            struct tg_pii_count *v = tg_arena_calloc(g->a, nc, sizeof(*v));
            if (v == NULL)
                return TG_ENOMEM;
            if (g->ncounts)
                memcpy(v, g->counts, g->ncounts * sizeof(*v));
            g->counts = v;
            g->capcounts = nc;
        }
        g->counts[k] = (struct tg_pii_count){ f->entity, 0, f->cls };
        g->ncounts++;
    }
    g->counts[k].count++;
    g->nfindings++;
    return TG_OK;
}

/* The placeholder number of (entity, value): the same value keeps its
 * number; a new one takes the next after every number already used for the
 * entity, the request's included. */
static int
ph_number(struct tg_outguard *g, const char *entity, const char *val, size_t len, uint32_t *num)
{
    uint32_t next = 1;

    for (uint32_t i = 0; i < g->nseed; i++)
        if (strcmp(g->seed[i].entity, entity) == 0)
            next = g->seed[i].count + 1;
    for (uint32_t i = 0; i < g->nph; i++) {
        if (strcmp(g->ph[i].entity, entity) != 0)
            continue;
        if (g->ph[i].len == len && memcmp(g->ph[i].val, val, len) == 0) {
            *num = g->ph[i].num;
            return TG_OK;
        }
        if (g->ph[i].num >= next)
            next = g->ph[i].num + 1;
    }
    if (g->nph == g->capph) {
        uint32_t nc = g->capph ? 2 * g->capph : 8;
        struct tg_og_ph *v = tg_arena_calloc(g->a, nc, sizeof(*v));
        if (v == NULL)
            return TG_ENOMEM;
        if (g->nph)
            memcpy(v, g->ph, g->nph * sizeof(*v));
        g->ph = v;
        g->capph = nc;
    }
    char *copy = tg_arena_strndup(g->a, val, len);
    if (copy == NULL)
        return TG_ENOMEM;
    g->ph[g->nph++] = (struct tg_og_ph){ entity, copy, len, next };
    *num = next;
    return TG_OK;
}

static int
fcmp(const void *a, const void *b)
{
    const struct tg_finding *x = a, *y = b;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end > y->end ? -1 : x->end < y->end;
}

/*
 * Scan text[0, len) (g->tmp findings, allow lists applied), sorted by start.
 * Sets *unscannable when a limit was hit.  TG_OK or TG_ENOMEM.
 */
static int
scan(struct tg_outguard *g, const char *text, size_t len, struct tg_findings *f, bool *unscannable,
     struct tg_err *err)
{
    int rc;

    memset(f, 0, sizeof(*f));
    *unscannable = false;
    tg_arena_reset(&g->tmp);
    if (g->p->pii == NULL || len == 0)
        return TG_OK;
    if (g->scratch == NULL) {
        *unscannable = true;   /* nothing to scan with: cannot vouch for the text */
        return TG_OK;
    }
    rc = tg_pii_scan(g->p->pii, g->scratch, text, len, 0, g->p->pii_min_score, &g->tmp, f, err);
    if (rc == TG_ENOMEM)
        return rc;
    if (rc != TG_OK || f->unscannable) {
        *unscannable = true;
        return TG_OK;
    }
    if (!g->allow_off && f->n > 0) {
        struct tg_part part = { .text = text, .len = len, .message = TG_PART_NO_MESSAGE };
        struct tg_allow_hit *hits;
        uint32_t nhits;
        if ((rc = tg_allow_apply(&g->scope, &part, 1, f, &g->tmp, &hits, &nhits, err)) != TG_OK)
            return rc;
    }
    if (f->n > 1)
        qsort(f->v, f->n, sizeof(*f->v), fcmp);
    return TG_OK;
}

/*
 * Write text[from, to) into *dst (growable malloc buffer, cap *dcap) with
 * every redact-class finding of f that lies in [from, to) — a finding that
 * began before `from` is replaced from `from` on — replaced by its
 * placeholder.  *dlen gets the length; NUL-terminated.
 */
static int
render(struct tg_outguard *g, const char *text, size_t from, size_t to, const struct tg_findings *f,
       char **dst, size_t *dcap, size_t *dlen)
{
    size_t need = to - from + 1, o = 0, pos = from;

    for (uint32_t i = 0; i < f->n; i++)
        if (action_of(g, &f->v[i]) == TG_RESP_REDACT)
            need += strlen(f->v[i].entity) + 16;
    if (need > *dcap) {
        char *nb = realloc(*dst, need);
        if (nb == NULL)
            return TG_ENOMEM;
        *dst = nb;
        *dcap = need;
    }
    for (uint32_t i = 0; i < f->n; i++) {
        const struct tg_finding *fd = &f->v[i];
        size_t s = fd->start < from ? from : fd->start;
        uint32_t num;
        int w;
        if (action_of(g, fd) != TG_RESP_REDACT || fd->end <= from || fd->start >= to || s < pos ||
            fd->end > to)
            continue;   /* not ours to replace, outside, or overlapping the previous one */
        memcpy(*dst + o, text + pos, s - pos);
        o += s - pos;
        if (ph_number(g, fd->entity, text + fd->start, fd->end - fd->start, &num) != TG_OK)
            return TG_ENOMEM;
        w = snprintf(*dst + o, *dcap - o, "<%s_%u>", fd->entity, num);
        if (w < 0 || (size_t)w >= *dcap - o)
            return TG_ENOMEM;
        o += (size_t)w;
        pos = fd->end;
        if (g->verdict == TG_RESP_PASS)
            g->verdict = TG_RESP_REDACT;
    }
    memcpy(*dst + o, text + pos, to - pos);
    o += to - pos;
    (*dst)[o] = '\0';
    *dlen = o;
    return TG_OK;
}

/* Count the guarded findings of f ending in (from, to] and decide: a deny
 * class among them denies.  TG_OK or TG_ENOMEM. */
static int
judge(struct tg_outguard *g, const struct tg_findings *f, size_t from, size_t to)
{
    for (uint32_t i = 0; i < f->n; i++) {
        const struct tg_finding *fd = &f->v[i];
        enum tg_resp_action act = action_of(g, fd);
        if (act == TG_RESP_PASS || fd->end <= from || fd->end > to)
            continue;
        if (count(g, fd) != TG_OK)
            return TG_ENOMEM;
        if (act == TG_RESP_DENY)
            deny(g, fd->cls == TG_PII_CLASS_SECRET ? "response.secrets" : "response.pii");
    }
    return TG_OK;
}

int
tg_outguard_text(struct tg_outguard *g, const char *text, size_t len, const char **out,
                 size_t *outlen, struct tg_err *err)
{
    struct tg_findings f;
    bool unscannable;
    char *buf = NULL;
    size_t cap = 0, n = 0;
    int rc;

    *out = NULL;
    *outlen = 0;
    if (g->verdict == TG_RESP_DENY)
        return TG_OK;
    if ((rc = scan(g, text, len, &f, &unscannable, err)) != TG_OK)
        goto nomem;
    if (unscannable) {
        deny(g, "response.unscannable");
        return TG_OK;
    }
    if ((rc = judge(g, &f, 0, len)) != TG_OK)
        goto nomem;
    if (g->verdict == TG_RESP_DENY)
        return TG_OK;
    bool any = false;
    for (uint32_t i = 0; i < f.n && !any; i++)
        any = action_of(g, &f.v[i]) == TG_RESP_REDACT;
    if (!any) {
        *out = text;
        *outlen = len;
        return TG_OK;
    }
    if ((rc = render(g, text, 0, len, &f, &buf, &cap, &n)) != TG_OK)
        goto nomem;
    *out = tg_arena_strndup(g->a, buf, n);
    free(buf);
    buf = NULL;
    if (*out == NULL)
        goto nomem;
    *outlen = n;
    return TG_OK;
nomem:
    free(buf);
    *out = NULL;
    deny(g, "response.unscannable");
    return tg_err_set(err, TG_ENOMEM, "out of memory guarding the answer");
}

static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\n' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

/* Back off to the start of a UTF-8 sequence, never below lo. */
static size_t
utf8_start(const char *b, size_t i, size_t lo)
{
    while (i > lo && ((unsigned char)b[i] & 0xC0) == 0x80)
        i--;
    return i;
}

/* Where the held text may be cut now (bytes of c->buf before it are
 * released), before findings are considered. */
static size_t
initial_cut(const struct tg_outguard_chan *c)
{
    size_t held = c->len - c->ctx, limit, lo, i;

    if (held <= TG_OUTGUARD_WINDOW)
        return c->ctx;
    limit = c->len - TG_OUTGUARD_WINDOW;
    lo = limit - c->ctx > TG_OUTGUARD_SNAP ? limit - TG_OUTGUARD_SNAP : c->ctx;
    for (i = limit; i > lo; i--)
        if (is_space((unsigned char)c->buf[i - 1]))
            return i;   /* just after the whitespace: the token after it stays whole */
    return utf8_start(c->buf, limit, c->ctx);
}

int
tg_outguard_feed(struct tg_outguard *g, struct tg_outguard_chan *c, const char *text, size_t len,
                 bool final, const char **out, size_t *outlen, struct tg_err *err)
{
    struct tg_findings f;
    bool unscannable, moved;
    size_t cut, keep;
    int rc;

    *out = "";
    *outlen = 0;
    if (g->verdict == TG_RESP_DENY)
        return TG_OK;
    if (len > 0) {
        if (c->len + len + 1 > c->cap) {
            size_t nc = c->cap ? c->cap : 1024;
            while (nc < c->len + len + 1)
                nc *= 2;
            char *nb = realloc(c->buf, nc);
            if (nb == NULL)
                goto nomem;
            c->buf = nb;
            c->cap = nc;
        }
        memcpy(c->buf + c->len, text, len);
        c->len += len;
    }
    cut = final ? c->len : initial_cut(c);
    if (!final && c->len < c->next_scan)
        cut = c->ctx;   /* a value is held: wait for it to grow (see below) */
    if (cut <= c->ctx) {
        if (c->len - c->ctx > TG_OUTGUARD_MAX_HOLD)
            deny(g, "response.unscannable");
        return TG_OK;   /* nothing to release yet: no scan */
    }
    if ((rc = scan(g, c->buf, c->len, &f, &unscannable, err)) != TG_OK)
        goto nomem;
    if (unscannable) {
        deny(g, "response.unscannable");
        return TG_OK;
    }
    /* A deny-class value anywhere in the held text ends the stream now:
     * waiting for it to be released would only relay more. */
    for (uint32_t i = 0; i < f.n; i++) {
        const struct tg_finding *fd = &f.v[i];
        if (fd->end > c->ctx && action_of(g, fd) == TG_RESP_DENY) {
            if (count(g, fd) != TG_OK)
                goto nomem;
            deny(g, fd->cls == TG_PII_CLASS_SECRET ? "response.secrets" : "response.pii");
        }
    }
    if (g->verdict == TG_RESP_DENY)
        return TG_OK;
    /* A value the cut would split is held whole: move the cut to its start
     * (which may uncover another value reaching it; repeat). */
    do {
        moved = false;
        for (uint32_t i = 0; i < f.n && !final; i++) {
            const struct tg_finding *fd = &f.v[i];
            size_t s = fd->start < c->ctx ? c->ctx : fd->start;
            if (fd->end > cut && s < cut) {
                cut = s;
                moved = true;
            }
        }
    } while (moved && cut > c->ctx);
    if (cut <= c->ctx) {
        /* A value holds everything back.  Rescanning the whole held text on
         * every small chunk would be quadratic in a long value (a provider
         * streaming a PEM block byte by byte); wait until the held text has
         * grown by half, so the scans add up to a few times the hold. */
        size_t held = c->len - c->ctx;
        c->next_scan = c->len + (held / 2 > TG_OUTGUARD_WINDOW ? held / 2 : TG_OUTGUARD_WINDOW / 4);
        if (held > TG_OUTGUARD_MAX_HOLD)
            deny(g, "response.unscannable");
        return TG_OK;
    }
    c->next_scan = 0;
    if ((rc = judge(g, &f, c->ctx, cut)) != TG_OK)
        goto nomem;
    if ((rc = render(g, c->buf, c->ctx, cut, &f, &c->obuf, &c->ocap, outlen)) != TG_OK)
        goto nomem;
    *out = c->obuf;
    /* keep some released text as the next scan's left context */
    keep = cut > TG_OUTGUARD_CONTEXT ? cut - TG_OUTGUARD_CONTEXT : 0;
    keep = utf8_start(c->buf, keep, 0);
    memmove(c->buf, c->buf + keep, c->len - keep);
    c->len -= keep;
    c->ctx = cut - keep;
    return TG_OK;
nomem:
    *out = "";
    *outlen = 0;
    deny(g, "response.unscannable");
    return tg_err_set(err, TG_ENOMEM, "out of memory guarding the stream");
}
