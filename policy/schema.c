/*
 * schema.c — the table-driven YAML walk and the loader's diagnostics.
 *
 * Every mapping of the configuration is described by a table of
 * struct tg__field {key, type, offset, bounds, default, ...} (nginx's
 * ngx_command_t, Redis's static_configs[]): one walker applies any table,
 * so unknown keys, wrong types, bounds and defaults are handled the same
 * way everywhere, and adding a key is one table line.
 */
#include "policy/policy_int.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- diagnostics ---------------------------------------------------------- */

unsigned
tg__ld_rank(struct tg__ld *ld, const char *file)
{
    if (file == NULL)
        return 0;
    for (unsigned i = 0; i < ld->nranks; i++)
        if (ld->rank_files[i] == file || strcmp(ld->rank_files[i], file) == 0)
            return i;
    if (ld->nranks < TG_ARRAY_LEN(ld->rank_files)) {
        ld->rank_files[ld->nranks] = file;
        return ld->nranks++;
    }
    return (unsigned)TG_ARRAY_LEN(ld->rank_files);
}

static void
diag_v(struct tg__ld *ld, enum tg_diag_level lvl, const struct tg_pos *pos,
       const char *fmt, va_list ap)
{
    char msg[TG_ERR_MSG_MAX];

    if (lvl == TG_DIAG_ERROR)
        ld->nerrors++;
    else
        ld->nwarnings++;
    if (ld->ndiags >= TG__MAX_DIAGS)
        return;   /* counted, not kept: bounds memory on hostile input */
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (ld->ndiags == ld->cap_diags) {
        unsigned nc = ld->cap_diags ? ld->cap_diags * 2 : 16;
        struct tg__diag *nd = realloc(ld->diags, nc * sizeof(*nd));
        if (nd == NULL) {
            ld->oom = true;
            return;
        }
        ld->diags = nd;
        ld->cap_diags = nc;
    }
    struct tg__diag *d = &ld->diags[ld->ndiags];
    d->msg = strdup(msg);
    if (d->msg == NULL) {
        ld->oom = true;
        return;
    }
    d->level = lvl;
    d->pos = pos ? *pos : (struct tg_pos){ NULL, 0, 0 };
    d->rank = tg__ld_rank(ld, d->pos.file);
    d->seq = ld->ndiags;
    ld->ndiags++;
}

void
tg__diag_at(struct tg__ld *ld, enum tg_diag_level lvl, const struct tg_pos *pos,
            const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_v(ld, lvl, pos, fmt, ap);
    va_end(ap);
}

void
tg__diag_node(struct tg__ld *ld, enum tg_diag_level lvl, const struct tg__ynode *n,
              const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    diag_v(ld, lvl, n ? &n->pos : NULL, fmt, ap);
    va_end(ap);
}

/* ---- helpers -------------------------------------------------------------- */

const char *
tg__shown(const struct tg__ynode *n, bool secret, char *buf, size_t size)
{
    if (n == NULL || n->kind != TG__YN_SCALAR)
        return "(not a scalar)";
    if (secret)
        return "(secret value)";
    if (n->interpolated)
        return "(value from the environment)";
    size_t len = n->len;
    if (len + 3 > size) {
        snprintf(buf, size, "%.*s...", (int)(size - 4), n->val);
        return buf;
    }
    snprintf(buf, size, "%.*s", (int)len, n->val);
    /* A NUL inside the scalar would truncate silently; harmless for display. */
    return buf;
}

bool
tg__is_null(const struct tg__ynode *n)
{
    if (n == NULL)
        return true;
    if (n->kind != TG__YN_SCALAR || n->quoted)
        return false;
    return n->len == 0 || strcmp(n->val, "~") == 0 || strcmp(n->val, "null") == 0 ||
           strcmp(n->val, "Null") == 0 || strcmp(n->val, "NULL") == 0;
}

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and adjacent transpositions ("caht" -> "chat" is one edit), the typos
 * people make in keys and ids. */
static size_t
edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t d[3][64];    /* rows i-2, i-1, i (mod 3) */
    if (la >= 63 || lb >= 63)
        return 99;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t *cur = d[i % 3], *prev = d[(i - 1) % 3], *pp = d[(i + 1) % 3];
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j - 1] + cost;
            if (prev[j] + 1 < best)
                best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < best)
                best = pp[j - 2] + 1;
            cur[j] = best;
        }
    }
    return d[la % 3][lb];
}

const char *
tg__suggest(const char *key, const char *const *cands, size_t n)
{
    const char *best = NULL;
    size_t bestd = 99, klen = strlen(key);
    /* Short keys tolerate one edit, longer ones up to three. */
    size_t limit = klen <= 4 ? 1 : klen <= 8 ? 2 : 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(key, cands[i]);
        if (d < bestd) {
            bestd = d;
            best = cands[i];
        }
    }
    return bestd <= limit ? best : NULL;
}

static const char *
type_name(enum tg__ftype t)
{
    switch (t) {
    case TG__F_STR: case TG__F_REF: return "a string";
    case TG__F_BOOL: return "true or false";
    case TG__F_U32: case TG__F_U64: return "a non-negative integer";
    case TG__F_DBL: return "a number";
    case TG__F_ENUM: return "one of the listed values";
    case TG__F_STRLIST: case TG__F_REFLIST: return "a list of strings";
    case TG__F_MAP: return "a mapping";
    default: return "a value";
    }
}

static const char *
kind_name(const struct tg__ynode *n)
{
    return n->kind == TG__YN_MAP ? "a mapping" : n->kind == TG__YN_SEQ ? "a list" : "a scalar";
}

#define FIELD_AT(obj, off, type) ((type *)(void *)((char *)(obj) + (off)))

static char *
node_str(struct tg__ld *ld, const struct tg__ynode *v)
{
    char *s = tg_arena_strndup(&ld->p->arena, v->val, v->len);
    if (s == NULL)
        ld->oom = true;
    return s;
}

static bool
check_scalar(struct tg__ld *ld, const struct tg__field *f, const struct tg__ynode *v)
{
    if (v->kind != TG__YN_SCALAR) {
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must be %s, not %s", f->key,
                      type_name(f->type), kind_name(v));
        return false;
    }
    if (memchr(v->val, '\0', v->len) != NULL) {
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' contains a NUL byte", f->key);
        return false;
    }
    return true;
}

static void
bounds_error(struct tg__ld *ld, const struct tg__field *f, const struct tg__ynode *v)
{
    char b[80];
    const char *shown = tg__shown(v, f->flags & TG__SECRET, b, sizeof(b));
    if (f->min == 0 && !(f->flags & TG__GT) && v->len > 0 && v->val[0] == '-')
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must not be negative (got %s)", f->key, shown);
    else if (isinf(f->max))
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must be %s %.15g (got %s)", f->key,
                      (f->flags & TG__GT) ? ">" : ">=", f->min, shown);
    else
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must be %s %.15g and <= %.15g (got %s)", f->key,
                      (f->flags & TG__GT) ? ">" : ">=", f->min, f->max, shown);
}

static bool
parse_bool(const struct tg__ynode *v, bool *out)
{
    static const char *const t[] = { "true", "True", "TRUE", "yes", "Yes", "YES", "on", "On", "ON" };
    static const char *const fl[] = { "false", "False", "FALSE", "no", "No", "NO", "off", "Off", "OFF" };
    /* A quoted scalar is a string, except "${VAR}": quoting is how YAML
     * lets a ${...} reference stand anywhere, so its value is typed. */
    if (v->quoted && !v->interpolated)
        return false;
    for (size_t i = 0; i < TG_ARRAY_LEN(t); i++) {
        if (strcmp(v->val, t[i]) == 0) { *out = true; return true; }
        if (strcmp(v->val, fl[i]) == 0) { *out = false; return true; }
    }
    return false;
}

static bool
parse_double(const struct tg__ynode *v, double *out)
{
    char *end;
    if ((v->quoted && !v->interpolated) || v->len == 0)
        return false;
    /* Only decimal notation: strtod also takes hex floats, "inf" and "nan". */
    for (size_t i = 0; i < v->len; i++) {
        char c = v->val[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return false;
    }
    errno = 0;
    double d = strtod(v->val, &end);
    if (end != v->val + v->len || errno == ERANGE || !isfinite(d))
        return false;
    *out = d;
    return true;
}

static bool
parse_uint(const struct tg__ynode *v, unsigned long long *out, bool *negative)
{
    *negative = false;
    if ((v->quoted && !v->interpolated) || v->len == 0)
        return false;
    size_t i = 0;
    if (v->val[0] == '-' || v->val[0] == '+') {
        *negative = v->val[0] == '-';
        i = 1;
    }
    if (i >= v->len)
        return false;
    for (size_t k = i; k < v->len; k++)
        if (v->val[k] < '0' || v->val[k] > '9')
            return false;
    if (*negative)
        return false;
    errno = 0;
    unsigned long long x = strtoull(v->val + i, NULL, 10);
    if (errno == ERANGE)
        return false;
    *out = x;
    return true;
}

static bool
in_bounds(const struct tg__field *f, double x)
{
    if (f->flags & TG__GT) {
        if (!(x > f->min))
            return false;
    } else if (!(x >= f->min)) {
        return false;
    }
    return x <= f->max;
}

static int
set_list(struct tg__ld *ld, const struct tg__field *f, const struct tg__ynode *v, void *obj)
{
    uint32_t n = 0;
    if (!tg__is_null(v) && v->kind != TG__YN_SEQ) {
        tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must be a list of strings, not %s", f->key,
                      kind_name(v));
        return TG_OK;
    }
    uint32_t cnt = v->kind == TG__YN_SEQ ? v->n : 0;
    if (f->type == TG__F_STRLIST) {
        const char **arr = cnt ? tg_arena_calloc(&ld->p->arena, cnt, sizeof(*arr)) : NULL;
        if (cnt && arr == NULL)
            return TG_ENOMEM;
        for (uint32_t i = 0; i < cnt; i++) {
            const struct tg__ynode *it = v->kids[i];
            if (it->kind != TG__YN_SCALAR || tg__is_null(it)) {
                tg__diag_node(ld, TG_DIAG_ERROR, it, "'%s' items must be strings", f->key);
                continue;
            }
            if ((arr[n] = node_str(ld, it)) == NULL)
                return TG_ENOMEM;
            n++;
        }
        *FIELD_AT(obj, f->off, const char **) = arr;
    } else {
        struct tg__ref *arr = cnt ? tg_arena_calloc(&ld->p->arena, cnt, sizeof(*arr)) : NULL;
        if (cnt && arr == NULL)
            return TG_ENOMEM;
        for (uint32_t i = 0; i < cnt; i++) {
            const struct tg__ynode *it = v->kids[i];
            if (it->kind != TG__YN_SCALAR || tg__is_null(it)) {
                tg__diag_node(ld, TG_DIAG_ERROR, it, "'%s' items must be strings", f->key);
                continue;
            }
            if ((arr[n].s = node_str(ld, it)) == NULL)
                return TG_ENOMEM;
            arr[n].pos = it->pos;
            n++;
        }
        *FIELD_AT(obj, f->off, struct tg__ref *) = arr;
    }
    *FIELD_AT(obj, f->off2, uint32_t) = n;
    return TG_OK;
}

int
tg__set_field(struct tg__ld *ld, const struct tg__field *f, const struct tg__ynode *v, void *obj)
{
    char b[80];
    bool secret = (f->flags & TG__SECRET) != 0;

    if (f->pos_off != TG__NOOFF)
        *FIELD_AT(obj, f->pos_off, struct tg_pos) = v->pos;

    switch (f->type) {
    case TG__F_STR:
    case TG__F_REF: {
        const char *s = NULL;
        if (!check_scalar(ld, f, v))
            return TG_OK;
        if (!tg__is_null(v) && (s = node_str(ld, v)) == NULL)
            return TG_ENOMEM;
        if (f->type == TG__F_STR) {
            *FIELD_AT(obj, f->off, const char *) = s;
        } else {
            struct tg__ref *r = FIELD_AT(obj, f->off, struct tg__ref);
            r->s = s;
            r->pos = v->pos;
        }
        /* A string field's fn is its validator, run on the stored value. */
        return f->fn != NULL && s != NULL ? f->fn(ld, v, obj) : TG_OK;
    }
    case TG__F_BOOL: {
        bool x;
        if (!check_scalar(ld, f, v))
            return TG_OK;
        if (!parse_bool(v, &x)) {
            tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must be true or false (got %s)", f->key,
                          tg__shown(v, secret, b, sizeof(b)));
            return TG_OK;
        }
        *FIELD_AT(obj, f->off, bool) = x;
        return TG_OK;
    }
    case TG__F_U32:
    case TG__F_U64: {
        unsigned long long x;
        bool neg;
        if (!check_scalar(ld, f, v))
            return TG_OK;
        if (!parse_uint(v, &x, &neg)) {
            if (neg)
                bounds_error(ld, f, v);
            else
                tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must be a non-negative integer (got %s)",
                              f->key, tg__shown(v, secret, b, sizeof(b)));
            return TG_OK;
        }
        if (!in_bounds(f, (double)x)) {
            bounds_error(ld, f, v);
            return TG_OK;
        }
        if (f->type == TG__F_U32)
            *FIELD_AT(obj, f->off, uint32_t) = (uint32_t)x;
        else
            *FIELD_AT(obj, f->off, uint64_t) = (uint64_t)x;
        return TG_OK;
    }
    case TG__F_DBL: {
        double x;
        if (!check_scalar(ld, f, v))
            return TG_OK;
        if (!parse_double(v, &x)) {
            tg__diag_node(ld, TG_DIAG_ERROR, v, "'%s' must be a number (got %s)", f->key,
                          tg__shown(v, secret, b, sizeof(b)));
            return TG_OK;
        }
        if (!in_bounds(f, x)) {
            bounds_error(ld, f, v);
            return TG_OK;
        }
        *FIELD_AT(obj, f->off, double) = x;
        return TG_OK;
    }
    case TG__F_ENUM: {
        if (!check_scalar(ld, f, v))
            return TG_OK;
        for (int i = 0; f->enums[i] != NULL; i++) {
            if (strcmp(v->val, f->enums[i]) == 0) {
                *FIELD_AT(obj, f->off, int) = i;
                return TG_OK;
            }
        }
        char list[160] = "";
        size_t used = 0;
        for (int i = 0; f->enums[i] != NULL && used < sizeof(list); i++)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                     f->enums[i]);
        tg__diag_node(ld, TG_DIAG_ERROR, v, "invalid value '%s' for '%s' (expected one of: %s)",
                      tg__shown(v, secret, b, sizeof(b)), f->key, list);
        return TG_OK;
    }
    case TG__F_STRLIST:
    case TG__F_REFLIST:
        return set_list(ld, f, v, obj);
    case TG__F_MAP:
        return tg__walk_map(ld, tg__is_null(v) ? NULL : v, f->sub, FIELD_AT(obj, f->off, char));
    case TG__F_CUSTOM:
        return f->fn(ld, v, obj);
    }
    return TG_OK;
}

int
tg__walk_map(struct tg__ld *ld, const struct tg__ynode *n, const struct tg__field *tab, void *obj)
{
    const struct tg__ynode *seen[64];
    size_t nf = 0;
    int rc;

    while (tab[nf].key != NULL)
        nf++;
    memset(seen, 0, sizeof(seen));
    if (n != NULL && n->kind != TG__YN_MAP) {
        tg__diag_node(ld, TG_DIAG_ERROR, n, "expected a mapping, not %s", kind_name(n));
        n = NULL;   /* still apply defaults so later checks see sane values */
    }
    for (uint32_t i = 0; n != NULL && i < n->n; i++) {
        const struct tg__ynode *k = n->kids[2 * i], *v = n->kids[2 * i + 1];
        size_t fi;
        if (k->kind != TG__YN_SCALAR) {
            tg__diag_node(ld, TG_DIAG_ERROR, k, "mapping keys must be strings");
            continue;
        }
        for (fi = 0; fi < nf; fi++)
            if (strcmp(tab[fi].key, k->val) == 0)
                break;
        if (fi == nf) {
            const char *keys[64];
            char b[80];
            for (size_t j = 0; j < nf && j < 64; j++)
                keys[j] = tab[j].key;
            const char *sug = tg__suggest(k->val, keys, nf < 64 ? nf : 64);
            if (sug != NULL)
                tg__diag_node(ld, TG_DIAG_ERROR, k, "unknown key '%s' (did you mean '%s'?)",
                              tg__shown(k, false, b, sizeof(b)), sug);
            else
                tg__diag_node(ld, TG_DIAG_ERROR, k, "unknown key '%s'",
                              tg__shown(k, false, b, sizeof(b)));
            continue;
        }
        if (fi < 64 && seen[fi] != NULL) {
            tg__diag_node(ld, TG_DIAG_ERROR, k, "duplicate key '%s' (first at line %u)",
                          tab[fi].key, seen[fi]->pos.line);
            continue;
        }
        if (fi < 64)
            seen[fi] = k;
        if ((rc = tg__set_field(ld, &tab[fi], v, obj)) != TG_OK)
            return rc;
        if (ld->oom)
            return TG_ENOMEM;
    }
    /* Absent keys: required ones are errors, the rest take their defaults. */
    for (size_t fi = 0; fi < nf && fi < 64; fi++) {
        const struct tg__field *f = &tab[fi];
        if (seen[fi] != NULL)
            continue;
        if (f->flags & TG__REQ) {
            if (n != NULL)
                tg__diag_node(ld, TG_DIAG_ERROR, n, "missing required key '%s'", f->key);
            continue;
        }
        if (f->type == TG__F_MAP) {
            if ((rc = tg__walk_map(ld, NULL, f->sub, FIELD_AT(obj, f->off, char))) != TG_OK)
                return rc;
        } else if (f->def != NULL) {
            struct tg__ynode dn = { .kind = TG__YN_SCALAR, .val = f->def, .len = strlen(f->def) };
            struct tg__field copy = *f;
            copy.pos_off = TG__NOOFF;   /* defaults have no position */
            if (f->type == TG__F_STRLIST || f->type == TG__F_REFLIST) {
                /* A list default is one element. */
                struct tg__ynode *kid = &dn, seq = { .kind = TG__YN_SEQ, .n = 1 };
                seq.kids = &kid;
                rc = tg__set_field(ld, &copy, &seq, obj);
            } else {
                rc = tg__set_field(ld, &copy, &dn, obj);
            }
            if (rc != TG_OK)
                return rc;
        }
        if (ld->oom)
            return TG_ENOMEM;
    }
    return ld->oom ? TG_ENOMEM : TG_OK;
}
