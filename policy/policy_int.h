/*
 * policy_int.h — internals shared by the policy loader's files: the YAML
 * node tree (yaml_tree.c), the table-driven schema walker (schema.c), the
 * loader context with its diagnostics list, and the canonical hash
 * (policy_hash.c).  Not for use outside policy/.
 */
#ifndef TG_POLICY_INT_H
#define TG_POLICY_INT_H

#include "policy/policy.h"

#include <stdarg.h>

/* ---- YAML node tree ------------------------------------------------------ */

enum tg__ynode_kind { TG__YN_SCALAR = 0, TG__YN_SEQ = 1, TG__YN_MAP = 2 };

/* One YAML node with its start mark.  Maps hold kids[2*i] = key and
 * kids[2*i+1] = value, n = number of pairs; sequences hold n items. */
struct tg__ynode {
    enum tg__ynode_kind kind;
    struct tg_pos pos;
    const char *val;            /* scalar text after ${VAR} interpolation */
    size_t      len;
    bool        quoted;         /* quoted/literal/!!str: a string, never a number/bool/null */
    bool        interpolated;   /* came (partly) from the environment: never shown */
    struct tg__ynode **kids;
    uint32_t    n;
};

struct tg__ld;

/* Parse buf into a tree allocated from `a`; `file` is the name used in
 * positions (must outlive the tree).  Syntax problems are reported through
 * the loader's diagnostics; returns TG_OK with *root set (NULL for an empty
 * document), TG_EPOLICY after a reported syntax error, or TG_ENOMEM. */
int tg__yaml_parse(struct tg__ld *ld, const char *file, const char *buf, size_t len,
                   struct tg_arena *a, struct tg__ynode **root);

/* ---- diagnostics ---------------------------------------------------------- */

struct tg__diag {
    enum tg_diag_level level;
    struct tg_pos pos;
    unsigned rank;              /* file order: registry, config, then others */
    unsigned seq;               /* emission order, for a stable sort */
    char *msg;
};

/* ---- schema tables -------------------------------------------------------- */

enum tg__ftype {
    TG__F_STR = 0,    /* const char *; null -> NULL */
    TG__F_REF,        /* struct tg__ref: string + its position */
    TG__F_BOOL,
    TG__F_U32,
    TG__F_U64,
    TG__F_DBL,
    TG__F_ENUM,       /* int-sized enum, index into `enums` */
    TG__F_STRLIST,    /* const char ** at off, uint32_t count at off2 */
    TG__F_REFLIST,    /* struct tg__ref * at off, uint32_t count at off2 */
    TG__F_MAP,        /* nested table `sub` over obj + off */
    TG__F_CUSTOM,     /* handler(ld, value node, obj) */
};

#define TG__REQ     0x1u   /* key must be present */
#define TG__GT      0x2u   /* numbers: strictly greater than min */
#define TG__SECRET  0x4u   /* never show the value in messages */

#define TG__NOOFF   ((size_t)-1)

struct tg__ref {
    const char   *s;
    struct tg_pos pos;      /* line 0 = absent */
};

struct tg__field;
typedef int (*tg__handler)(struct tg__ld *ld, const struct tg__ynode *val, void *obj);

struct tg__field {
    const char *key;
    enum tg__ftype type;
    size_t off;
    size_t off2;                      /* list count */
    size_t pos_off;                   /* struct tg_pos of the value, or TG__NOOFF */
    double min, max;                  /* numeric bounds (inclusive unless TG__GT) */
    const char *def;                  /* default, as YAML scalar text; NULL = leave as initialised */
    const char *const *enums;         /* NULL-terminated names; index = enum value */
    const struct tg__field *sub;      /* TG__F_MAP: NULL-key-terminated table */
    tg__handler fn;                   /* TG__F_CUSTOM; for TG__F_STR/REF a validator of the value */
    unsigned flags;
};

/* ---- loader context ------------------------------------------------------- */

struct tg__ld {
    struct tg_policy *p;        /* being built; p->arena owns the result */
    struct tg_arena   tmp;      /* trees and scratch, freed when loading ends */
    tg_diag_fn diag;
    void      *diag_ud;
    unsigned   nerrors, nwarnings;
    bool       oom;
    unsigned   rank;            /* rank of the file being parsed */
    const char *rank_files[8];  /* file name per rank (ranks >= 8 share the last) */
    unsigned   nranks;
    struct tg__diag *diags;     /* malloc'd; emitted sorted at the end */
    unsigned   ndiags, cap_diags;
    signed char *res_memo;      /* [label][rule]: label admits a candidate? 0 unknown, 1 yes, -1 no */
};

#define TG__MAX_DIAGS 2000u

void tg__diag_at(struct tg__ld *ld, enum tg_diag_level lvl, const struct tg_pos *pos,
                 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void tg__diag_node(struct tg__ld *ld, enum tg_diag_level lvl, const struct tg__ynode *n,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Rank of a file name for ordering diagnostics (registers new names). */
unsigned tg__ld_rank(struct tg__ld *ld, const char *file);

/* Walk a mapping node (or NULL = section absent: defaults only) with a
 * table.  Errors are reported and counted; returns TG_ENOMEM only on OOM. */
int tg__walk_map(struct tg__ld *ld, const struct tg__ynode *n, const struct tg__field *tab, void *obj);
/* Apply one field's value node to obj (used by custom handlers too). */
int tg__set_field(struct tg__ld *ld, const struct tg__field *f, const struct tg__ynode *v, void *obj);

/* Shown form of a scalar in messages: the value, or a placeholder when it
 * is secret or came from the environment. Truncated to fit. */
const char *tg__shown(const struct tg__ynode *n, bool secret, char *buf, size_t size);
bool tg__is_null(const struct tg__ynode *n);
/* Closest key of a table to `key` (edit distance <= 2-3), or NULL. */
const char *tg__suggest(const char *key, const char *const *cands, size_t n);

/* ---- allow lists (allow_load.c) --------------------------------------------- */

/* One `{entity, values, patterns}` entry as written. */
struct tg__rallow {
    struct tg__ref  entity;
    struct tg__ref *values;
    uint32_t        nvalues;
    struct tg__ref *patterns;
    uint32_t        npatterns;
    struct tg_pos   pos;
};

struct tg__rallow_list {
    struct tg__rallow *v;
    uint32_t n;
    struct tg_pos pos;
};

/* Walk an allow list (the value of `key`) into *out; errors reported. */
int tg__allow_walk(struct tg__ld *ld, const struct tg__ynode *v, const char *key,
                   struct tg__rallow_list *out);
/* After the rules, tenants and PII packs are in ld->p: compile every list
 * into p->pii_allow, each rule's and tenant's pii_allow (found by id) and
 * the built-in role entry, with the checks of allow_load.c. */
int tg__allow_load(struct tg__ld *ld, const struct tg__rallow_list *policy_list, bool roles_personal,
                   bool special_personal,
                   const struct tg__rallow_list *const *rule_lists, const char *const *rule_ids,
                   uint32_t nrules, const struct tg__rallow_list *const *tenant_lists,
                   const char *const *tenant_ids, uint32_t ntenants);

/* Known shapes of an entity's values, for the allow-pattern heuristics:
 * samples its detectors report (tests/unit/test_allow.c proves it), the
 * characters its values are made of, and their longest length. */
struct tg__allow_shape {
    const char        *entity;
    const char *const *samples;   /* NULL-terminated */
    const char        *alphabet;
    uint32_t           maxlen;
};
extern const struct tg__allow_shape tg__allow_shapes[];   /* entity NULL ends it */
const struct tg__allow_shape *tg__allow_shape(const char *entity);

/* ---- canonical hash --------------------------------------------------------- */

/* Fill p->policy_version.  extra: per-file digests of packs and markings. */
int tg__policy_hash(struct tg_policy *p, const char *const *files, uint32_t nfiles,
                    struct tg_err *err);

#endif /* TG_POLICY_INT_H */
