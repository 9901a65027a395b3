/*
 * pii_pack.c — PII detector packs: YAML (libyaml events -> a small node
 * tree with positions) -> struct tg_pii_detector_spec[].
 */
#include "policy/pii_pack.h"
#include "engine/limits.h"

#include <errno.h>
#include <math.h>
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
    uint32_t n;           /* map: pairs; seq: items */
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

/* Build a node from the parser's next events; NULL on error (reported). */
static struct yn *
parse_node(struct pk *p, yaml_parser_t *ps, yaml_event_t *ev, int depth)
{
    struct yn *n;
    size_t cap = 0;

    if (depth > 32) {
        pk_error(p, (uint32_t)ev->start_mark.line + 1, (uint32_t)ev->start_mark.column + 1,
                 "nesting too deep");
        return NULL;
    }
    n = tg_arena_calloc(p->a, 1, sizeof *n);
    if (n == NULL) {
        p->oom = true;
        return NULL;
    }
    n->line = (uint32_t)ev->start_mark.line + 1;
    n->col = (uint32_t)ev->start_mark.column + 1;
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
            if (kid == NULL)
                return NULL;
            if ((size_t)n->n * (map ? 1 : 1) >= cap || n->kids == NULL) {
                size_t total = 0;
                struct yn **nk;
                /* count of stored kids */
                total = map ? 0 : n->n;
                (void)total;
            }
            {
                size_t stored = 0;
                /* number of kid pointers stored so far */
                stored = (size_t)(uintptr_t)0;
                (void)stored;
            }
            {
                /* append kid (maps store keys and values alternately) */
                static const size_t grow = 8;
                size_t have = cap;
                size_t used;
                struct yn **nk;
                used = n->kids ? (size_t)n->n : 0;
                (void)used;
                (void)have;
                (void)grow;
                (void)nk;
            }
            if (!yn_push(p, n, kid, &cap))
                return NULL;
        }
        if (map && (n->n & 1)) {
            pk_error(p, n->line, n->col, "mapping with a key but no value");
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
        pk_error(p, n->line, n->col, "unexpected YAML event");
        return NULL;
    }
}
