/*
 * pii_pack.c — PII detector packs: YAML (libyaml events -> a small node
 * tree with positions) -> struct tg_pii_detector_spec[].
 */
#include "policy/pii_pack.h"
#include "engine/limits.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum yk { YK_SCALAR = 0, YK_SEQ = 1, YK_MAP = 2 };

struct yn {
    enum yk kind;
    uint32_t line, col;
    const char *val;      /* scalar */
    struct yn **kids;     /* map: key, value, key, value...; seq: items */
    uint32_t n;           /* map: pairs; seq: items (while parsing: pointers stored) */
};

struct pk {
    struct tg_arena *a;
    const char *file;
    tg_diag_fn diag;
    void *ud;
    unsigned nerr;
    bool oom;
};

static void
pk_error(struct pk *p, uint32_t line, uint32_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
pk_error(struct pk *p, uint32_t line, uint32_t col, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    struct tg_pos pos = { p->file, line, col };

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->nerr++;
    if (p->diag != NULL)
        p->diag(p->ud, TG_DIAG_ERROR, &pos, msg);
}

static bool
yn_push(struct pk *p, struct yn *n, struct yn *kid, uint32_t *cap)
{
    if (n->n == *cap) {
        uint32_t nc = *cap ? *cap * 2 : 8;
        struct yn **k = tg_arena_alloc(p->a, nc * sizeof *k);
        if (k == NULL) {
            p->oom = true;
            return false;
        }
        if (n->n)
            memcpy(k, n->kids, n->n * sizeof *k);
        n->kids = k;
        *cap = nc;
    }
    n->kids[n->n++] = kid;
    return true;
}

/* Build a node from ev and the events that follow; NULL on error (reported). */
static struct yn *
parse_node(struct pk *p, yaml_parser_t *ps, yaml_event_t *ev, int depth)
{
    struct yn *n;
    uint32_t cap = 0;

    n = tg_arena_calloc(p->a, 1, sizeof *n);
    if (n == NULL) {
        p->oom = true;
        return NULL;
    }
    n->line = (uint32_t)ev->start_mark.line + 1;
    n->col = (uint32_t)ev->start_mark.column + 1;
    if (depth > 32) {
        pk_error(p, n->line, n->col, "nesting too deep");
        return NULL;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n->kind = YK_SCALAR;
        n->val = tg_arena_strndup(p->a, (const char *)ev->data.scalar.value, ev->data.scalar.length);
        if (n->val == NULL)
            p->oom = true;
        return n->val ? n : NULL;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_type_t end = map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        n->kind = map ? YK_MAP : YK_SEQ;
        for (;;) {
            yaml_event_t e;
            struct yn *kid;
            if (!yaml_parser_parse(ps, &e)) {
                pk_error(p, (uint32_t)ps->problem_mark.line + 1, (uint32_t)ps->problem_mark.column + 1,
                         "YAML syntax: %s", ps->problem ? ps->problem : "error");
                return NULL;
            }
            if (e.type == end) {
                yaml_event_delete(&e);
                break;
            }
            kid = parse_node(p, ps, &e, depth + 1);
            yaml_event_delete(&e);
            if (kid == NULL || !yn_push(p, n, kid, &cap))
                return NULL;
        }
        if (map)
            n->n /= 2;
        return n;
    }
    case YAML_ALIAS_EVENT:
        pk_error(p, n->line, n->col, "YAML aliases are not supported in packs");
        return NULL;
    default:
        pk_error(p, n->line, n->col, "unexpected YAML content");
        return NULL;
    }
}

static struct yn *
parse_doc(struct pk *p, const char *buf, size_t len)
{
    yaml_parser_t ps;
    yaml_event_t ev;
    struct yn *root = NULL;
    bool done = false;

    if (!yaml_parser_initialize(&ps)) {
        p->oom = true;
        return NULL;
    }
    yaml_parser_set_input_string(&ps, (const unsigned char *)buf, len);
    while (!done) {
        if (!yaml_parser_parse(&ps, &ev)) {
            pk_error(p, (uint32_t)ps.problem_mark.line + 1, (uint32_t)ps.problem_mark.column + 1,
                     "YAML syntax: %s", ps.problem ? ps.problem : "error");
            root = NULL;
            break;
        }
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_SCALAR_EVENT:
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
        case YAML_ALIAS_EVENT:
            if (root != NULL) {
                pk_error(p, (uint32_t)ev.start_mark.line + 1, (uint32_t)ev.start_mark.column + 1,
                         "a pack holds one YAML document");
                done = true;
                root = NULL;
                break;
            }
            root = parse_node(p, &ps, &ev, 0);
            if (root == NULL)
                done = true;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&ps);
    return root;
}

/* ---- schema ------------------------------------------------------------------- */

static const struct yn *
map_get(const struct yn *m, const char *key)
{
    uint32_t i;
    for (i = 0; i < m->n; i++)
        if (m->kids[2 * i]->kind == YK_SCALAR && strcmp(m->kids[2 * i]->val, key) == 0)
            return m->kids[2 * i + 1];
    return NULL;
}

static const char *
get_str(struct pk *p, const struct yn *m, const char *key, bool req, const struct yn *owner)
{
    const struct yn *v = map_get(m, key);
    if (v == NULL) {
        if (req)
            pk_error(p, owner->line, owner->col, "detector lacks `%s`", key);
        return NULL;
    }
    if (v->kind != YK_SCALAR || v->val[0] == '\0') {
        pk_error(p, v->line, v->col, "`%s` must be a non-empty string", key);
        return NULL;
    }
    return v->val;
}

static bool
get_num(struct pk *p, const struct yn *m, const char *key, double lo, double hi, double *out)
{
    const struct yn *v = map_get(m, key);
    char *end;
    double d;

    if (v == NULL)
        return true;
    if (v->kind != YK_SCALAR) {
        pk_error(p, v->line, v->col, "`%s` must be a number", key);
        return false;
    }
    errno = 0;
    d = strtod(v->val, &end);
    if (errno || end == v->val || *end != '\0' || !(d >= lo && d <= hi)) {
        pk_error(p, v->line, v->col, "`%s` must be a number in [%g, %g]", key, lo, hi);
        return false;
    }
    *out = d;
    return true;
}

static bool
get_list(struct pk *p, const struct yn *m, const char *key, const char ***out, uint32_t *n)
{
    const struct yn *v = map_get(m, key);
    uint32_t i;

    *out = NULL;
    *n = 0;
    if (v == NULL)
        return true;
    if (v->kind == YK_SCALAR && v->val[0] == '\0')
        return true;
    if (v->kind != YK_SEQ) {
        pk_error(p, v->line, v->col, "`%s` must be a list of strings", key);
        return false;
    }
    if (v->n == 0)
        return true;
    *out = tg_arena_calloc(p->a, v->n, sizeof **out);
    if (*out == NULL) {
        p->oom = true;
        return false;
    }
    for (i = 0; i < v->n; i++) {
        if (v->kids[i]->kind != YK_SCALAR || v->kids[i]->val[0] == '\0') {
            pk_error(p, v->kids[i]->line, v->kids[i]->col, "`%s` items must be non-empty strings", key);
            return false;
        }
        (*out)[i] = v->kids[i]->val;
    }
    *n = v->n;
    return true;
}

static const char *const known_keys[] = {
    "id", "entity", "class", "pattern", "validator", "context", "score", "context_required",
    "triggers", "min_digits", "max_digits", "digits_grouped", "literals", "exclude", "group", "description", NULL,
};

static void
load_detector(struct pk *p, const struct yn *d, struct tg_pii_detector_spec *s)
{
    unsigned before = p->nerr;
    const struct yn *v;
    const char **trig = NULL;
    uint32_t ntrig = 0, i;
    double x;

    memset(s, 0, sizeof *s);
    s->file = p->file;
    s->line = d->line;
    s->col = d->col;
    if (d->kind != YK_MAP) {
        pk_error(p, d->line, d->col, "a detector must be a mapping");
        return;
    }
    for (i = 0; i < d->n; i++) {
        const struct yn *k = d->kids[2 * i];
        size_t j;
        for (j = 0; known_keys[j] != NULL; j++)
            if (k->kind == YK_SCALAR && strcmp(k->val, known_keys[j]) == 0)
                break;
        if (known_keys[j] == NULL)
            pk_error(p, k->line, k->col, "unknown detector key `%s`", k->kind == YK_SCALAR ? k->val : "?");
    }
    s->id = get_str(p, d, "id", true, d);
    s->entity = get_str(p, d, "entity", true, d);
    s->pattern = get_str(p, d, "pattern", true, d);
    s->validator = get_str(p, d, "validator", false, d);
    if (s->entity != NULL)
        for (const char *c = s->entity; *c; c++)
            if (!((*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_')) {
                v = map_get(d, "entity");
                pk_error(p, v->line, v->col, "entity must be UPPER_SNAKE_CASE");
                break;
            }
    if (s->validator != NULL && !tg_pii_validator_exists(s->validator)) {
        v = map_get(d, "validator");
        pk_error(p, v->line, v->col, "unknown validator \"%s\"", s->validator);
    }
    v = map_get(d, "class");
    s->cls = TG_PII_CLASS_PII;
    if (v != NULL) {
        if (v->kind == YK_SCALAR && strcmp(v->val, "pii") == 0)
            s->cls = TG_PII_CLASS_PII;
        else if (v->kind == YK_SCALAR && strcmp(v->val, "secret") == 0)
            s->cls = TG_PII_CLASS_SECRET;
        else
            pk_error(p, v->line, v->col, "class must be pii or secret");
    }
    x = 0.5;
    get_num(p, d, "score", 0, 1, &x);
    s->score = x;
    x = 0;
    if (get_num(p, d, "min_digits", 0, 64, &x))
        s->min_digits = (uint32_t)x;
    x = 0;
    if (get_num(p, d, "max_digits", 0, 64, &x))
        s->max_digits = (uint32_t)x;
    x = 0;
    if (get_num(p, d, "group", 0, 99, &x))
        s->group = (uint32_t)x;
    v = map_get(d, "context_required");
    if (v != NULL) {
        if (v->kind == YK_SCALAR && strcmp(v->val, "true") == 0)
            s->context_required = true;
        else if (v->kind == YK_SCALAR && strcmp(v->val, "false") == 0)
            s->context_required = false;
        else
            pk_error(p, v->line, v->col, "context_required must be true or false");
    }
    v = map_get(d, "digits_grouped");
    if (v != NULL) {
        if (v->kind == YK_SCALAR && strcmp(v->val, "true") == 0)
            s->digits_grouped = true;
        else if (v->kind == YK_SCALAR && strcmp(v->val, "false") == 0)
            s->digits_grouped = false;
        else
            pk_error(p, v->line, v->col, "digits_grouped must be true or false");
    }
    get_list(p, d, "context", &s->context, &s->ncontext);
    get_list(p, d, "literals", &s->literals, &s->nliterals);
    get_list(p, d, "exclude", &s->exclude, &s->nexclude);
    if (get_list(p, d, "triggers", &trig, &ntrig)) {
        v = map_get(d, "triggers");
        for (i = 0; i < ntrig; i++) {
            uint32_t b = tg_pii_trigger_bit(trig[i]);
            if (b == 0)
                pk_error(p, v->kids[i]->line, v->kids[i]->col,
                         "unknown trigger \"%s\" (digits, at, hexsep, long, assign, pem, dots, longword, caps, mixed, capsword, url)", trig[i]);
            s->triggers |= b;
        }
    }
    if (s->context_required && s->ncontext == 0)
        pk_error(p, d->line, d->col, "context_required without context words");
    (void)before;
}

/* The pack in buf, and (incs != NULL) its `include:` list; a pack that
 * includes others may have an empty `detectors:` list or none. */
static int
load_buffer(const char *name, const char *buf, size_t len, struct tg_arena *a,
            struct tg_pii_detector_spec **out, size_t *n, const char ***incs, uint32_t *nincs,
            tg_diag_fn diag, void *ud, struct tg_err *err)
{
    struct pk p = { a, name, diag, ud, 0, false };
    struct yn *root;
    const struct yn *dets;
    static const struct yn no_dets = { YK_SEQ, 0, 0, NULL, NULL, 0 };
    struct tg_pii_detector_spec *specs = NULL;
    uint32_t i, j;

    root = parse_doc(&p, buf, len);
    if (p.oom)
        return tg_err_set(err, TG_ENOMEM, "out of memory reading %s", name);
    if (root == NULL) {
        if (p.nerr == 0)
            pk_error(&p, 1, 1, "empty pack");
        return tg_err_set(err, TG_EPOLICY, "%s: %u error(s)", name, p.nerr);
    }
    dets = root->kind == YK_MAP ? map_get(root, "detectors") : NULL;
    if (dets == NULL && root->kind == YK_MAP && incs != NULL && map_get(root, "include") != NULL)
        dets = &no_dets;
    if (root->kind != YK_MAP || dets == NULL || dets->kind != YK_SEQ) {
        pk_error(&p, root->line, root->col, "a pack is a mapping with a `detectors:` list");
        return tg_err_set(err, TG_EPOLICY, "%s: %u error(s)", name, p.nerr);
    }
    for (i = 0; i < root->n; i++) {
        const struct yn *k = root->kids[2 * i];
        if (k->kind == YK_SCALAR && strcmp(k->val, "include") == 0 && incs != NULL) {
            if (!get_list(&p, root, "include", incs, nincs) && p.oom)
                return tg_err_set(err, TG_ENOMEM, "out of memory reading %s", name);
            continue;
        }
        if (k->kind != YK_SCALAR || (strcmp(k->val, "detectors") != 0 && strcmp(k->val, "version") != 0 &&
                                     strcmp(k->val, "description") != 0))
            pk_error(&p, k->line, k->col, "unknown pack key `%s`", k->kind == YK_SCALAR ? k->val : "?");
    }
    if (dets->n) {
        specs = tg_arena_calloc(a, dets->n, sizeof *specs);
        if (specs == NULL)
            return tg_err_set(err, TG_ENOMEM, "out of memory reading %s", name);
    }
    for (i = 0; i < dets->n; i++) {
        load_detector(&p, dets->kids[i], &specs[i]);
        if (p.oom)
            return tg_err_set(err, TG_ENOMEM, "out of memory reading %s", name);
        for (j = 0; j < i && specs[i].id != NULL; j++)
            if (specs[j].id != NULL && strcmp(specs[j].id, specs[i].id) == 0) {
                pk_error(&p, specs[i].line, specs[i].col, "duplicate detector id \"%s\" (first at line %u)",
                         specs[i].id, specs[j].line);
                break;
            }
    }
    if (p.nerr)
        return tg_err_set(err, TG_EPOLICY, "%s: %u error(s)", name, p.nerr);
    *out = specs;
    *n = dets->n;
    return TG_OK;
}

int
tg_pii_pack_load_buffer(const char *name, const char *buf, size_t len, struct tg_arena *a,
                        struct tg_pii_detector_spec **out, size_t *n, tg_diag_fn diag,
                        void *ud, struct tg_err *err)
{
    return load_buffer(name, buf, len, a, out, n, NULL, NULL, diag, ud, err);
}

/* One file and, recursively, the packs it includes (depth-bounded, so a
 * cycle is an error rather than a hang); specs of included packs first. */
static int load_file(const char *path, unsigned depth, struct tg_arena *a,
                     struct tg_pii_detector_spec **out, size_t *n, tg_diag_fn diag, void *ud,
                     struct tg_err *err);

static int
load_includes(const char *path, const char **incs, uint32_t nincs, unsigned depth, struct tg_arena *a,
              struct tg_pii_detector_spec **specs, size_t *n, tg_diag_fn diag, void *ud,
              struct tg_err *err)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;

    for (uint32_t i = 0; i < nincs; i++) {
        struct tg_pii_detector_spec *s = NULL, *all;
        size_t k = 0, plen = strlen(incs[i]);
        char *sub = tg_arena_alloc(a, dirlen + plen + 1);
        int rc;

        if (sub == NULL)
            return tg_err_set(err, TG_ENOMEM, "out of memory");
        /* Relative names are relative to the including pack's directory. */
        if (incs[i][0] == '/')
            dirlen = 0;
        memcpy(sub, path, dirlen);
        memcpy(sub + dirlen, incs[i], plen + 1);
        rc = load_file(sub, depth + 1, a, &s, &k, diag, ud, err);
        if (rc != TG_OK)
            return rc;
        if (k == 0)
            continue;
        all = tg_arena_calloc(a, *n + k, sizeof *all);
        if (all == NULL)
            return tg_err_set(err, TG_ENOMEM, "out of memory");
        if (*n)
            memcpy(all, *specs, *n * sizeof *all);
        memcpy(all + *n, s, k * sizeof *all);
        *specs = all;
        *n += k;
    }
    return TG_OK;
}

int
tg_pii_pack_load(const char *path, struct tg_arena *a, struct tg_pii_detector_spec **out,
                 size_t *n, tg_diag_fn diag, void *ud, struct tg_err *err)
{
    struct tg_pii_detector_spec *specs = NULL;
    size_t k = 0;
    int rc = load_file(path, 0, a, &specs, &k, diag, ud, err);

    if (rc != TG_OK)
        return rc;
    /* Ids are unique across a pack and everything it includes. */
    for (size_t i = 1; i < k; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(specs[i].id, specs[j].id) == 0) {
                struct tg_pos pos = { specs[i].file, specs[i].line, specs[i].col };
                char msg[300];
                snprintf(msg, sizeof msg, "duplicate detector id \"%s\" (first in %s:%u)", specs[i].id,
                         specs[j].file ? specs[j].file : "?", specs[j].line);
                if (diag != NULL)
                    diag(ud, TG_DIAG_ERROR, &pos, msg);
                return tg_err_set(err, TG_EPOLICY, "%s: duplicate detector id \"%s\"", path, specs[i].id);
            }
    *out = specs;
    *n = k;
    return TG_OK;
}

static int
load_file(const char *path, unsigned depth, struct tg_arena *a, struct tg_pii_detector_spec **out,
          size_t *n, tg_diag_fn diag, void *ud, struct tg_err *err)
{
    const char **incs = NULL;
    uint32_t nincs = 0;
    struct tg_pii_detector_spec *own = NULL;
    size_t nown = 0;
    FILE *f = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    const char *name;
    int rc;

    name = tg_arena_strdup(a, path);
    if (name == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    f = fopen(path, "rb");
    if (f == NULL) {
        rc = tg_err_set(err, TG_EIO, "%s: cannot open: %s", path, strerror(errno));
        goto out;
    }
    for (;;) {
        size_t got;
        if (len == cap) {
            char *nb;
            cap = cap ? cap * 2 : 65536;
            if (cap > TG_MAX_CONFIG_BYTES + 1)
                cap = TG_MAX_CONFIG_BYTES + 1;
            if (len == cap) {
                rc = tg_err_set(err, TG_EPOLICY, "%s: larger than %u bytes", path, TG_MAX_CONFIG_BYTES);
                goto out;
            }
            nb = realloc(buf, cap);
            if (nb == NULL) {
                rc = tg_err_set(err, TG_ENOMEM, "out of memory reading %s", path);
                goto out;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            if (ferror(f)) {
                rc = tg_err_set(err, TG_EIO, "%s: read error", path);
                goto out;
            }
            break;
        }
    }
    if (depth > TG_MAX_PACK_INCLUDE_DEPTH) {
        rc = tg_err_set(err, TG_EPOLICY, "%s: packs include each other more than %u deep (a cycle?)", path,
                        TG_MAX_PACK_INCLUDE_DEPTH);
        goto out;
    }
    rc = load_buffer(name, buf ? buf : "", len, a, &own, &nown, &incs, &nincs, diag, ud, err);
    if (rc == TG_OK) {
        struct tg_pii_detector_spec *specs = NULL;
        size_t k = 0;
        rc = load_includes(name, incs, nincs, depth, a, &specs, &k, diag, ud, err);
        if (rc == TG_OK && nown > 0) {
            struct tg_pii_detector_spec *all = tg_arena_calloc(a, k + nown, sizeof *all);
            if (all == NULL) {
                rc = tg_err_set(err, TG_ENOMEM, "out of memory");
                goto out;
            }
            if (k)
                memcpy(all, specs, k * sizeof *all);
            memcpy(all + k, own, nown * sizeof *all);
            specs = all;
            k += nown;
        }
        if (rc == TG_OK) {
            *out = specs;
            *n = k;
        }
    }
out:
    if (f != NULL)
        fclose(f);
    free(buf);
    return rc;
}
