/*
 * yaml_tree.c — libyaml events -> a node tree with 1-based marks.
 *
 * The loader needs positions for every value and a second pass (merging the
 * registry, resolving references) after parsing, so events are folded into
 * a small tree first.  ${VAR} / ${VAR:-default} are expanded here, in value
 * scalars only (never in keys), so every consumer sees the same text.
 * Aliases are rejected: a policy is hand-written, and refusing them removes
 * the "billion laughs" expansion problem at once.
 */
#include "policy/policy_int.h"
#include "engine/limits.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define YT_MAX_DEPTH 64u

struct frame {
    struct tg__ynode *node;
    struct tg__ynode **kids;    /* malloc'd while open */
    uint32_t nkids, cap;
};

static bool
is_name_start(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static bool
is_name_char(char c)
{
    return is_name_start(c) || (c >= '0' && c <= '9');
}

/* Append s[0..n) to a growing malloc'd buffer. */
static int
buf_put(char **b, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 64;
        while (nc < *len + n + 1)
            nc *= 2;
        char *nb = realloc(*b, nc);
        if (nb == NULL)
            return TG_ENOMEM;
        *b = nb;
        *cap = nc;
    }
    memcpy(*b + *len, s, n);
    *len += n;
    (*b)[*len] = '\0';
    return TG_OK;
}

/*
 * Expand ${NAME} and ${NAME:-default} ("$${" is a literal "${").  An unset
 * NAME without default expands to "" so that absent API keys load (the
 * gateway then fails the upstream call, not the config).  Returns TG_OK,
 * TG_EINVAL on bad syntax (message in err), TG_ENOMEM.
 */
static int
interpolate(struct tg_arena *a, const char *s, size_t n, const char **out, size_t *outlen,
            bool *changed, struct tg_err *err)
{
    char *b = NULL;
    size_t len = 0, cap = 0, i = 0;
    int rc = TG_ENOMEM;

    *changed = false;
    if (memchr(s, '$', n) == NULL) {
        *out = s;
        *outlen = n;
        return TG_OK;
    }
    while (i < n) {
        if (s[i] == '$' && i + 2 < n && s[i + 1] == '$' && s[i + 2] == '{') {
            if (buf_put(&b, &len, &cap, "${", 2) != TG_OK)
                goto out;
            i += 3;
            continue;
        }
        if (s[i] == '$' && i + 1 < n && s[i + 1] == '{') {
            size_t j = i + 2, name0 = j, namelen;
            const char *def = NULL;
            size_t deflen = 0;
            if (j >= n || !is_name_start(s[j])) {
                rc = tg_err_set(err, TG_EINVAL, "bad ${...}: expected a variable name after '${'");
                goto out;
            }
            while (j < n && is_name_char(s[j]))
                j++;
            namelen = j - name0;
            if (j + 1 < n && s[j] == ':' && s[j + 1] == '-') {
                size_t d0 = j + 2;
                j = d0;
                while (j < n && s[j] != '}')
                    j++;
                def = s + d0;
                deflen = j - d0;
            }
            if (j >= n || s[j] != '}') {
                rc = tg_err_set(err, TG_EINVAL, "bad ${...}: missing '}'");
                goto out;
            }
            char name[256];
            if (namelen >= sizeof(name)) {
                rc = tg_err_set(err, TG_EINVAL, "bad ${...}: variable name too long");
                goto out;
            }
            memcpy(name, s + name0, namelen);
            name[namelen] = '\0';
            const char *v = getenv(name);
            if (v != NULL && (*v != '\0' || def == NULL)) {
                if (buf_put(&b, &len, &cap, v, strlen(v)) != TG_OK)
                    goto out;
            } else if (def != NULL) {
                if (buf_put(&b, &len, &cap, def, deflen) != TG_OK)
                    goto out;
            }
            *changed = true;
            i = j + 1;
            continue;
        }
        if (buf_put(&b, &len, &cap, s + i, 1) != TG_OK)
            goto out;
        i++;
    }
    if (b == NULL && buf_put(&b, &len, &cap, "", 0) != TG_OK)
        goto out;
    *out = tg_arena_strndup(a, b, len);
    if (*out == NULL)
        goto out;
    *outlen = len;
    rc = TG_OK;
out:
    free(b);
    return rc;
}

static struct tg__ynode *
new_node(struct tg_arena *a, enum tg__ynode_kind kind, const char *file, yaml_mark_t m)
{
    struct tg__ynode *n = tg_arena_calloc(a, 1, sizeof(*n));
    if (n == NULL)
        return NULL;
    n->kind = kind;
    n->pos.file = file;
    n->pos.line = (uint32_t)m.line + 1;
    n->pos.col = (uint32_t)m.column + 1;
    return n;
}

static int
frame_add(struct frame *f, struct tg__ynode *kid)
{
    if (f->nkids == f->cap) {
        uint32_t nc = f->cap ? f->cap * 2 : 8;
        struct tg__ynode **nk = realloc(f->kids, nc * sizeof(*nk));
        if (nk == NULL)
            return TG_ENOMEM;
        f->kids = nk;
        f->cap = nc;
    }
    f->kids[f->nkids++] = kid;
    return TG_OK;
}

/* Close a frame: move its kids into the arena. */
static int
frame_close(struct tg_arena *a, struct frame *f)
{
    struct tg__ynode *n = f->node;
    if (f->nkids > 0) {
        n->kids = tg_arena_alloc(a, f->nkids * sizeof(*n->kids));
        if (n->kids == NULL)
            return TG_ENOMEM;
        memcpy(n->kids, f->kids, f->nkids * sizeof(*n->kids));
    }
    n->n = n->kind == TG__YN_MAP ? f->nkids / 2 : f->nkids;
    free(f->kids);
    f->kids = NULL;
    f->nkids = f->cap = 0;
    return TG_OK;
}

int
tg__yaml_parse(struct tg__ld *ld, const char *file, const char *buf, size_t len,
               struct tg_arena *a, struct tg__ynode **root)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct frame stack[YT_MAX_DEPTH + 1];
    uint32_t depth = 0;
    struct tg__ynode *top = NULL;
    unsigned ndocs = 0;
    bool have_ev = false, done = false;
    int rc = TG_ENOMEM;

    memset(stack, 0, sizeof(stack));
    *root = NULL;
    if (!yaml_parser_initialize(&parser))
        return TG_ENOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

    while (!done) {
        if (!yaml_parser_parse(&parser, &ev)) {
            struct tg_pos pos = { file, (uint32_t)parser.problem_mark.line + 1,
                                  (uint32_t)parser.problem_mark.column + 1 };
            if (parser.error == YAML_MEMORY_ERROR)
                goto out;
            if (parser.context != NULL)
                tg__diag_at(ld, TG_DIAG_ERROR, &pos, "YAML syntax error: %s %s started at line %u",
                            parser.problem ? parser.problem : "invalid YAML", parser.context,
                            (unsigned)parser.context_mark.line + 1);
            else
                tg__diag_at(ld, TG_DIAG_ERROR, &pos, "YAML syntax error: %s",
                            parser.problem ? parser.problem : "invalid YAML");
            rc = TG_EPOLICY;
            goto out;
        }
        have_ev = true;
        struct tg__ynode *n = NULL;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++ndocs > 1) {
                struct tg_pos pos = { file, (uint32_t)ev.start_mark.line + 1,
                                      (uint32_t)ev.start_mark.column + 1 };
                tg__diag_at(ld, TG_DIAG_ERROR, &pos, "only one YAML document is allowed");
                rc = TG_EPOLICY;
                goto out;
            }
            break;
        case YAML_ALIAS_EVENT: {
            struct tg_pos pos = { file, (uint32_t)ev.start_mark.line + 1,
                                  (uint32_t)ev.start_mark.column + 1 };
            tg__diag_at(ld, TG_DIAG_ERROR, &pos, "YAML aliases are not supported");
            rc = TG_EPOLICY;
            goto out;
        }
        case YAML_SCALAR_EVENT: {
            bool is_key = depth > 0 && stack[depth - 1].node->kind == TG__YN_MAP &&
                          stack[depth - 1].nkids % 2 == 0;
            const char *tag = (const char *)ev.data.scalar.tag;
            n = new_node(a, TG__YN_SCALAR, file, ev.start_mark);
            if (n == NULL)
                goto out;
            n->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                        (tag != NULL && strcmp(tag, YAML_STR_TAG) == 0);
            const char *raw = tg_arena_strndup(a, (const char *)ev.data.scalar.value,
                                               ev.data.scalar.length);
            if (raw == NULL)
                goto out;
            n->val = raw;
            n->len = ev.data.scalar.length;
            if (!is_key) {
                struct tg_err e = {0};
                int irc = interpolate(a, raw, n->len, &n->val, &n->len, &n->interpolated, &e);
                if (irc == TG_ENOMEM)
                    goto out;
                if (irc != TG_OK) {
                    tg__diag_node(ld, TG_DIAG_ERROR, n, "%s", e.msg);
                    n->val = "";
                    n->len = 0;
                    n->interpolated = true;
                }
            }
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            n = new_node(a, ev.type == YAML_MAPPING_START_EVENT ? TG__YN_MAP : TG__YN_SEQ,
                         file, ev.start_mark);
            if (n == NULL)
                goto out;
            if (depth >= YT_MAX_DEPTH) {
                tg__diag_node(ld, TG_DIAG_ERROR, n, "nesting deeper than %u levels", YT_MAX_DEPTH);
                rc = TG_EPOLICY;
                goto out;
            }
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            struct frame *f = &stack[--depth];
            if (frame_close(a, f) != TG_OK)
                goto out;
            n = f->node;
            /* attach the finished collection to its parent below */
            if (depth == 0)
                top = n;
            else if (frame_add(&stack[depth - 1], n) != TG_OK)
                goto out;
            n = NULL;
            break;
        }
        default:
            break;
        }
        if (n != NULL) {
            if (n->kind != TG__YN_SCALAR) {
                stack[depth].node = n;
                depth++;
            } else if (depth == 0) {
                top = n;
            } else if (frame_add(&stack[depth - 1], n) != TG_OK) {
                goto out;
            }
        }
        yaml_event_delete(&ev);
        have_ev = false;
    }
    *root = top;
    rc = TG_OK;
out:
    if (have_ev)
        yaml_event_delete(&ev);
    for (uint32_t i = 0; i < YT_MAX_DEPTH + 1; i++)
        free(stack[i].kids);
    yaml_parser_delete(&parser);
    return rc;
}
