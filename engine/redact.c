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
        uint32_t num;
        int w;
        if (f->start < pos || f->end > len || f->end <= f->start)
            continue;   /* overlapping or out of range: the earlier one won */
        memcpy(buf + o, text + pos, f->start - pos);
        o += f->start - pos;
        if (ph_lookup(tab, a, f->entity, text + f->start, f->end - f->start, &num) != TG_OK)
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
