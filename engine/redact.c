/*
 * redact.c — replace findings with typed placeholders (<EMAIL_ADDRESS_1>).
 *
 * Numbering is per entity type in order of first appearance, and the same
 * value gets the same placeholder everywhere in one request, so a model
 * reading the redacted conversation can still tell "the same person"
 * apart from "another person".  JSON stays valid because we replace the
 * string values of a duplicated cJSON tree and print it again.
 */
#include "engine/redact.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ph {
    const char *entity;
    const char *val;
    size_t      len;
    uint32_t    num;
};

struct phtab {
    struct ph *v;
    size_t n, cap;
};

static int
ph_lookup(struct phtab *t, struct tg_arena *a, const char *entity, const char *val, size_t len,
          uint32_t *num)
{
    size_t i;
    uint32_t next = 1;

    for (i = 0; i < t->n; i++) {
        if (strcmp(t->v[i].entity, entity) != 0)
            continue;
        if (t->v[i].len == len && memcmp(t->v[i].val, val, len) == 0) {
            *num = t->v[i].num;
            return TG_OK;
        }
        next = t->v[i].num + 1;
    }
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 16;
        struct ph *v = tg_arena_alloc(a, nc * sizeof *v);
        if (v == NULL)
            return TG_ENOMEM;
        if (t->n)
            memcpy(v, t->v, t->n * sizeof *v);
        t->v = v;
        t->cap = nc;
    }
    t->v[t->n++] = (struct ph){ entity, val, len, next };
    *num = next;
    return TG_OK;
}

static int
fcmp(const void *a, const void *b)
{
    const struct tg_finding *x = *(const struct tg_finding *const *)a;
    const struct tg_finding *y = *(const struct tg_finding *const *)b;
    if (x->part != y->part)
        return x->part < y->part ? -1 : 1;
    if (x->start != y->start)
        return x->start < y->start ? -1 : 1;
    return x->end > y->end ? -1 : x->end < y->end;
}

/* Sorted pointers to the findings (by part, start). NULL on OOM. */
static const struct tg_finding **
sorted(const struct tg_findings *f, struct tg_arena *a)
{
    const struct tg_finding **v;
    uint32_t i;

    v = tg_arena_calloc(a, f->n ? f->n : 1, sizeof *v);
    if (v == NULL)
        return NULL;
    for (i = 0; i < f->n; i++)
        v[i] = &f->v[i];
    qsort(v, f->n, sizeof *v, fcmp);
    return v;
}

/* Redact text with findings fs[0..n) (one part, sorted).  Arena output. */
static int
redact_one(const char *text, size_t len, const struct tg_finding **fs, size_t n,
           struct phtab *tab, struct tg_arena *a, char **out, size_t *outlen)
{
    size_t cap = len + 1, i, o = 0, pos = 0;
    char *buf;

    for (i = 0; i < n; i++)
        cap += strlen(fs[i]->entity) + 16;
    buf = tg_arena_alloc(a, cap);
    if (buf == NULL)
        return TG_ENOMEM;
    for (i = 0; i < n; i++) {
        const struct tg_finding *f = fs[i];
        size_t st = f->start;
        uint32_t num;
        int w;
        if (f->end > len || f->end <= f->start || f->end <= pos)
            continue;   /* out of range, or inside the one before: masked already */
        if (st < pos)
            st = pos;   /* reaching past the one before (a value found across a
                         * joint overlapping one found in the part): mask the
                         * rest too, or part of it would be sent */
        memcpy(buf + o, text + pos, st - pos);
        o += st - pos;
        if (ph_lookup(tab, a, f->entity, text + st, f->end - st, &num) != TG_OK)
            return TG_ENOMEM;
        w = snprintf(buf + o, cap - o, "<%s_%u>", f->entity, num);
        if (w < 0 || (size_t)w >= cap - o)
            return TG_EINVAL;
        o += (size_t)w;
        pos = f->end;
    }
    memcpy(buf + o, text + pos, len - pos);
    o += len - pos;
    buf[o] = '\0';
    *out = buf;
    *outlen = o;
    return TG_OK;
}

int
tg_redact_text(const char *text, size_t len, const struct tg_findings *f,
               struct tg_arena *a, char **out, size_t *outlen, struct tg_err *err)
{
    const struct tg_finding **v;
    struct phtab tab = { 0 };
    size_t n = 0;
    uint32_t i;
    int rc;

    if (text == NULL || f == NULL || out == NULL || outlen == NULL)
        return tg_err_set(err, TG_EINVAL, "tg_redact_text: missing argument");
    v = sorted(f, a);
    if (v == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory redacting");
    for (i = 0; i < f->n; i++)
        if (v[i]->part == 0)
            v[n++] = v[i];
    rc = redact_one(text, len, v, n, &tab, a, out, outlen);
    if (rc != TG_OK)
        return tg_err_set(err, rc, "out of memory redacting");
    return TG_OK;
}

struct nodemap {
    const cJSON *node;
    uint32_t part;
};

static int
nm_cmp(const void *a, const void *b)
{
    const struct nodemap *x = a, *y = b;
    return x->node < y->node ? -1 : x->node > y->node;
}

/* Walk the original and its duplicate in step; replace redacted strings. */
static int
walk(const cJSON *o, cJSON *d, const struct nodemap *nm, size_t nn, char **red, int depth)
{
    const cJSON *oc;
    cJSON *dc;

    if (depth > 256)
        return TG_EINVAL;
    if (cJSON_IsString(o)) {
        struct nodemap key = { o, 0 };
        const struct nodemap *hit = nn ? bsearch(&key, nm, nn, sizeof *nm, nm_cmp) : NULL;
        if (hit != NULL && red[hit->part] != NULL)
            if (cJSON_SetValuestring(d, red[hit->part]) == NULL)
                return TG_ENOMEM;
        return TG_OK;
    }
    for (oc = o->child, dc = d->child; oc != NULL && dc != NULL; oc = oc->next, dc = dc->next) {
        int rc = walk(oc, dc, nm, nn, red, depth + 1);
        if (rc != TG_OK)
            return rc;
    }
    return TG_OK;
}

int
tg_redact_body(const struct tg_request *req, const struct tg_findings *f,
               struct tg_arena *a, char **out, size_t *outlen, struct tg_err *err)
{
    const struct tg_finding **v;
    struct phtab tab = { 0 };
    struct nodemap *nm = NULL;
    char **red;
    cJSON *dup = NULL;
    char *printed = NULL;
    size_t i, j, nn = 0;
    int rc = TG_ENOMEM;

    if (req == NULL || req->body == NULL || f == NULL || out == NULL || outlen == NULL)
        return tg_err_set(err, TG_EINVAL, "tg_redact_body: missing argument");
    v = sorted(f, a);
    red = tg_arena_calloc(a, req->nparts ? req->nparts : 1, sizeof *red);
    nm = tg_arena_calloc(a, req->nparts ? req->nparts : 1, sizeof *nm);
    if (v == NULL || red == NULL || nm == NULL)
        goto out;
    /* Redact each part with findings, in part order so numbering follows
     * the conversation. */
    for (i = 0; i < f->n; i = j) {
        uint32_t p = v[i]->part;
        size_t rl;
        for (j = i; j < f->n && v[j]->part == p; j++)
            ;
        if (p >= req->nparts) {
            rc = TG_EINVAL;
            tg_err_set(err, rc, "finding for part %u but the request has %u parts", p, req->nparts);
            goto out_noset;
        }
        if (req->parts[p].unredactable || req->parts[p].node == NULL) {
            /* decoded data or a key: masking it could not be written back,
             * and sending it unmasked would leak (preflight never asks) */
            rc = TG_EINVAL;
            tg_err_set(err, rc, "part %u cannot be redacted (decoded data or an object key)", p);
            goto out_noset;
        }
        rc = redact_one(req->parts[p].text, req->parts[p].len, v + i, j - i, &tab, a, &red[p], &rl);
        if (rc != TG_OK)
            goto out;
    }
    for (i = 0; i < req->nparts; i++)
        if (red[i] != NULL && req->parts[i].node != NULL)
            nm[nn++] = (struct nodemap){ req->parts[i].node, (uint32_t)i };
    qsort(nm, nn, sizeof *nm, nm_cmp);
    dup = cJSON_Duplicate(req->body, 1);
    if (dup == NULL)
        goto out;
    rc = walk(req->body, dup, nm, nn, red, 0);
    if (rc != TG_OK)
        goto out;
    printed = cJSON_PrintUnformatted(dup);
    if (printed == NULL) {
        rc = TG_ENOMEM;
        goto out;
    }
    *out = tg_arena_strdup(a, printed);
    if (*out == NULL) {
        rc = TG_ENOMEM;
        goto out;
    }
    *outlen = strlen(*out);
    rc = TG_OK;
out:
    if (rc != TG_OK)
        tg_err_set(err, rc, rc == TG_ENOMEM ? "out of memory redacting the request"
                                            : "could not redact the request");
out_noset:
    free(printed);
    cJSON_Delete(dup);
    return rc;
}

/* ---- the client's own body ----------------------------------------------- */

/* A value to replace and its placeholder, with a flag for "found". */
struct rv {
    const char *val;
    size_t      len;
    char        ph[96];
    bool        seen;
};

/* The values and which bytes can start one (most bytes of a body cannot:
 * one table lookup each instead of a comparison per value). */
struct rvset {
    struct rv *v;
    size_t     n;
    bool       first[256];
};

static int
rv_cmp_len(const void *a, const void *b)
{
    const struct rv *x = a, *y = b;
    return x->len < y->len ? 1 : x->len > y->len ? -1 : 0;   /* longest first */
}

/* The value of vs that starts at s + i, or nv. */
static size_t
value_at(const char *s, size_t n, size_t i, const struct rvset *rs)
{
    const struct rv *vs = rs->v;
    size_t k, nv = rs->n;
    if (!rs->first[(unsigned char)s[i]])
        return nv;
    for (k = 0; k < nv; k++)
        if (vs[k].len > 0 && vs[k].len <= n - i && memcmp(s + i, vs[k].val, vs[k].len) == 0)
            break;
    return k;
}

/* s with every value of vs replaced by its placeholder (longest first, as
 * vs is sorted); NULL when nothing changed (*changed false) or on OOM. */
static char *
replace_all(const char *s, const struct rvset *rs, struct tg_arena *a, bool *changed, bool *oom)
{
    struct rv *vs = rs->v;
    size_t nv = rs->n;
    size_t n = strlen(s), out = 0, o = 0, i, k;
    char *buf;

    *changed = false;
    /* measure first: the exact size, whatever the lengths involved */
    for (i = 0; i < n;) {
        k = value_at(s, n, i, rs);
        if (k == nv) {
            out++;
            i++;
        } else {
            out += strlen(vs[k].ph);
            i += vs[k].len;
            *changed = true;
        }
    }
    if (!*changed)
        return NULL;
    buf = tg_arena_alloc(a, out + 1);
    if (buf == NULL) {
        *oom = true;
        return NULL;
    }
    for (i = 0; i < n;) {
        k = value_at(s, n, i, rs);
        if (k == nv) {
            buf[o++] = s[i++];
        } else {
            size_t pl = strlen(vs[k].ph);
            memcpy(buf + o, vs[k].ph, pl);
            o += pl;
            i += vs[k].len;
            vs[k].seen = true;
        }
    }
    buf[o] = '\0';
    return buf;
}

static int
walk_values(cJSON *j, const struct rvset *rs, struct tg_arena *a, int depth)
{
    bool changed = false, oom = false;

    if (depth > 256)
        return TG_EINVAL;
    if (j->string != NULL) {
        /* an object key carrying a value cannot be rewritten safely */
        (void)replace_all(j->string, rs, a, &changed, &oom);
        if (oom)
            return TG_ENOMEM;
        if (changed)
            return TG_EINVAL;
    }
    if (cJSON_IsString(j) && j->valuestring != NULL) {
        char *r = replace_all(j->valuestring, rs, a, &changed, &oom);
        if (oom)
            return TG_ENOMEM;
        if (changed && cJSON_SetValuestring(j, r) == NULL)
            return TG_ENOMEM;
        return TG_OK;
    }
    for (cJSON *c = j->child; c != NULL; c = c->next) {
        int rc = walk_values(c, rs, a, depth + 1);
        if (rc != TG_OK)
            return rc;
    }
    return TG_OK;
}

int
tg_redact_values(const char *json, size_t len, const struct tg_request *req, const struct tg_findings *f,
                 struct tg_arena *a, char **out, size_t *outlen, struct tg_err *err)
{
    const struct tg_finding **v;
    struct phtab tab = { 0 };
    struct rvset rs = { 0 };
    struct rv *vs = NULL;
    size_t nv = 0, i;
    cJSON *j = NULL;
    char *printed = NULL;
    int rc = TG_ENOMEM;

    if (json == NULL || req == NULL || f == NULL || out == NULL || outlen == NULL)
        return tg_err_set(err, TG_EINVAL, "tg_redact_values: missing argument");
    v = sorted(f, a);
    vs = tg_arena_calloc(a, f->n ? f->n : 1, sizeof *vs);
    if (v == NULL || vs == NULL)
        goto out;
    /* the placeholders tg_redact_body() gives: same table, same order */
    for (i = 0; i < f->n; i++) {
        const struct tg_finding *fi = v[i];
        const struct tg_part *p;
        uint32_t num;
        size_t k;
        if (fi->part >= req->nparts || fi->end > req->parts[fi->part].len || fi->end <= fi->start) {
            rc = TG_EINVAL;
            goto out;
        }
        p = &req->parts[fi->part];
        if (ph_lookup(&tab, a, fi->entity, p->text + fi->start, fi->end - fi->start, &num) != TG_OK)
            goto out;
        for (k = 0; k < nv; k++)
            if (vs[k].len == fi->end - fi->start && memcmp(vs[k].val, p->text + fi->start, vs[k].len) == 0)
                break;
        if (k < nv)
            continue;
        vs[nv].val = p->text + fi->start;
        vs[nv].len = fi->end - fi->start;
        snprintf(vs[nv].ph, sizeof vs[nv].ph, "<%s_%u>", fi->entity, num);
        nv++;
    }
    qsort(vs, nv, sizeof *vs, rv_cmp_len);
    rs.v = vs;
    rs.n = nv;
    for (i = 0; i < nv; i++)
        rs.first[(unsigned char)vs[i].val[0]] = true;
    j = cJSON_ParseWithLength(json, len);
    if (j == NULL) {
        rc = TG_EINVAL;
        goto out;
    }
    rc = walk_values(j, &rs, a, 0);
    if (rc != TG_OK)
        goto out;
    /* Every value must have been found in the body as text: one that was
     * not (written differently there) would be on disk unredacted. */
    for (i = 0; i < nv; i++)
        if (!vs[i].seen) {
            rc = TG_EINVAL;
            goto out;
        }
    printed = cJSON_PrintUnformatted(j);
    if (printed == NULL)
        goto out;
    *out = tg_arena_strdup(a, printed);
    if (*out == NULL)
        goto out;
    *outlen = strlen(*out);
    rc = TG_OK;
out:
    if (rc != TG_OK)
        tg_err_set(err, rc, rc == TG_ENOMEM ? "out of memory redacting the client's body"
                                            : "the client's body cannot be redacted with certainty");
    free(printed);
    cJSON_Delete(j);
    return rc;
}
