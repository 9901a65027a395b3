/*
 * policy_load.c — docs/interface.md §2: read the registry and the config, merge,
 * resolve references, validate, compile PII packs and export markings, hash.
 *
 * Three phases:
 *   1. parse each file into a tree and walk it with the schema tables
 *      (config_tables.c) into a `struct fconf` (raw, names not yet resolved);
 *   2. merge the config's providers/models/regions over the registry's
 *      (same id = replace the entry, new id = add: config_resolve.c);
 *   3. resolve names to indices, check cross-references, emit the static
 *      warnings a reviewer wants (config_resolve.c), then compile
 *      packs/markings and hash (here).
 * Every problem is reported with its FILE:LINE:COL and loading goes on, so
 * one run of `tollgate check` lists them all.
 */
#include "policy/config_int.h"
#include "policy/pii_pack.h"
#include "engine/limits.h"
#include "engine/markings.h"
#include "engine/pii.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>


/* ---- file reading --------------------------------------------------------- */

static int
read_file(const char *path, struct tg_arena *a, char **out, size_t *outlen, struct tg_err *err)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = TG_EIO;

    if (f == NULL)
        return tg_err_set(err, TG_EIO, "cannot read %s: %s", path, strerror(errno));
    for (;;) {
        if (len == cap) {
            size_t nc = cap ? cap * 2 : 16384;
            if (cap >= (size_t)TG_MAX_CONFIG_BYTES + 1) {
                rc = tg_err_set(err, TG_ELIMIT, "%s: larger than %u bytes", path, TG_MAX_CONFIG_BYTES);
                goto out;
            }
            char *nb = realloc(buf, nc + 1);
            if (nb == NULL) {
                rc = tg_err_set(err, TG_ENOMEM, "out of memory reading %s", path);
                goto out;
            }
            buf = nb;
            cap = nc;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                rc = tg_err_set(err, TG_EIO, "cannot read %s: read error", path);
                goto out;
            }
            break;
        }
    }
    if (len > TG_MAX_CONFIG_BYTES) {
        rc = tg_err_set(err, TG_ELIMIT, "%s: larger than %u bytes", path, TG_MAX_CONFIG_BYTES);
        goto out;
    }
    *out = tg_arena_alloc(a, len + 1);
    if (*out == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory reading %s", path);
        goto out;
    }
    memcpy(*out, buf ? buf : "", len);
    (*out)[len] = '\0';
    *outlen = len;
    rc = TG_OK;
out:
    free(buf);
    fclose(f);
    return rc;
}

/* Parse one YAML buffer and walk it with `root`. */
static int
load_tree(struct tg__ld *ld, const char *file, const char *buf, size_t len,
          const struct tg__field *root, void *obj)
{
    struct tg__ynode *tree = NULL;
    int rc;

    tg__ld_rank(ld, file);
    if (len > TG_MAX_CONFIG_BYTES) {
        struct tg_pos pos = { file, 1, 1 };
        tg__diag_at(ld, TG_DIAG_ERROR, &pos, "file larger than %u bytes", TG_MAX_CONFIG_BYTES);
        return TG_OK;
    }
    rc = tg__yaml_parse(ld, file, buf, len, &ld->tmp, &tree);
    if (rc == TG_EPOLICY)
        return TG_OK;   /* reported */
    if (rc != TG_OK)
        return rc;
    if (tree == NULL || tg__is_null(tree)) {
        struct tg_pos pos = { file, 1, 1 };
        tg__diag_at(ld, TG_DIAG_ERROR, &pos, "empty file: expected a mapping with '%s:'", root[0].key);
        return TG_OK;
    }
    return tg__walk_map(ld, tree, root, obj);
}

static void
pack_diag(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    struct tg__ld *ld = ud;
    struct tg_pos copy = pos ? *pos : (struct tg_pos){ NULL, 0, 0 };
    /* The pack loader's file names may live in memory it frees: keep a copy. */
    if (copy.file != NULL && (copy.file = tg_arena_strdup(&ld->tmp, copy.file)) == NULL)
        ld->oom = true;
    tg__diag_at(ld, level, &copy, "%s", msg);
}

/* Compile PII packs and markings; collect the files hashed into policy_version. */
static int
compile(struct tg__ld *ld, const struct fconf *cfg, const char *config_path, bool skip,
        const char **files, uint32_t *nfiles, struct tg_err *err)
{
    struct tg_policy *p = ld->p;
    struct tg_pii_detector_spec *all = NULL;
    size_t nall = 0;
    int rc;

    p->pii_packs = tg_arena_calloc(&p->arena, cfg->npacks ? cfg->npacks : 1, sizeof(*p->pii_packs));
    if (p->pii_packs == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < cfg->npacks; i++) {
        char *path = tg_policy_resolve_path(&p->arena, config_path, cfg->packs[i].s);
        if (path == NULL)
            return TG_ENOMEM;
        if (!tg__cfg_file_exists(path)) {
            if (cfg->packs[i].pos.line != 0)
                tg__diag_at(ld, TG_DIAG_ERROR, &cfg->packs[i].pos, "PII pack not found: %s", cfg->packs[i].s);
            else   /* the default pack: an installation problem, not a config typo */
                tg__diag_at(ld, TG_DIAG_ERROR, &(struct tg_pos){ config_path, 1, 1 },
                            "default PII pack not found: %s (set policy.pii.packs, or TOLLGATE_HOME to the directory holding rules/)", path);
            continue;
        }
        p->pii_packs[p->npii_packs++] = path;
        files[(*nfiles)++] = path;
    }
    if (cfg->npacks == 0)
        tg__diag_at(ld, TG_DIAG_WARNING, &(struct tg_pos){ config_path, 1, 1 },
                    "policy.pii.packs is empty: no PII detection, every request passes the PII check");
    if (cfg->npacks == 0 && (cfg->resp_secrets != TG_RESP_PASS || cfg->resp_pii != TG_RESP_PASS))
        tg__diag_at(ld, TG_DIAG_WARNING, &(struct tg_pos){ config_path, 1, 1 },
                    "policy.response guards answers but policy.pii.packs is empty: nothing in an answer is found");

    const char *mpath = NULL;
    if (cfg->markings.s != NULL && *cfg->markings.s) {
        mpath = tg_policy_resolve_path(&p->arena, config_path, cfg->markings.s);
        if (mpath == NULL)
            return TG_ENOMEM;
        if (!tg__cfg_file_exists(mpath)) {
            struct tg_pos pos = cfg->markings.pos.line ? cfg->markings.pos
                                                       : (struct tg_pos){ config_path, 1, 1 };
            tg__diag_at(ld, TG_DIAG_ERROR, &pos, "export markings file not found: %s", cfg->markings.s);
            mpath = NULL;
        } else {
            files[(*nfiles)++] = mpath;
        }
    }
    if (ld->nerrors > 0 || skip)
        return TG_OK;

    /* PII packs -> one spec array -> one database. */
    for (uint32_t i = 0; i < p->npii_packs; i++) {
        struct tg_pii_detector_spec *specs = NULL;
        size_t n = 0;
        struct tg_err e = {0};
        unsigned before = ld->nerrors;
        rc = tg_pii_pack_load(p->pii_packs[i], &ld->tmp, &specs, &n, pack_diag, ld, &e);
        if (rc == TG_ENOMEM)
            return tg_err_set(err, rc, "out of memory loading %s", p->pii_packs[i]);
        if (rc != TG_OK) {
            struct tg_pos pos = cfg->packs[i].pos.line ? cfg->packs[i].pos
                                                       : (struct tg_pos){ config_path, 1, 1 };
            if (ld->nerrors == before)   /* the pack loader said nothing itself */
                tg__diag_at(ld, TG_DIAG_ERROR, &pos, "PII pack %s: %s", cfg->packs[i].s,
                            e.msg[0] ? e.msg : "invalid");
            continue;
        }
        struct tg_pii_detector_spec *grown = tg_arena_calloc(&ld->tmp, nall + n + 1, sizeof(*grown));
        if (grown == NULL)
            return TG_ENOMEM;
        if (nall)
            memcpy(grown, all, nall * sizeof(*grown));
        if (n)
            memcpy(grown + nall, specs, n * sizeof(*grown));
        all = grown;
        nall += n;
    }
    if (ld->nerrors > 0)
        return TG_OK;
    /* Packs a listed pack includes are hashed too: editing one is a policy
     * change.  Every spec names its file; add each file once. */
    for (size_t i = 0; i < nall; i++) {
        bool seen = all[i].file == NULL;
        for (uint32_t k = 0; !seen && k < *nfiles; k++)
            seen = strcmp(files[k], all[i].file) == 0;
        if (seen)
            continue;
        if (*nfiles >= TG_MAX_PACK_FILES) {
            tg__diag_at(ld, TG_DIAG_ERROR, &(struct tg_pos){ config_path, 1, 1 },
                        "more than %u PII pack files (with includes)", TG_MAX_PACK_FILES);
            return TG_OK;
        }
        files[(*nfiles)++] = tg_arena_strdup(&p->arena, all[i].file);
        if (files[*nfiles - 1] == NULL)
            return TG_ENOMEM;
    }
    for (size_t i = 0; i < nall; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(all[i].id, all[j].id) == 0) {
                struct tg_pos pos = { all[i].file, all[i].line, all[i].col };
                tg__diag_at(ld, TG_DIAG_ERROR, &pos, "PII detector id '%s' defined twice (packs overlap)", all[i].id);
                break;
            }
    if (ld->nerrors > 0)
        return TG_OK;
    {
        struct tg_err e = {0};
        rc = tg_pii_db_build(all, nall, &p->pii, &e);
        if (rc == TG_ENOMEM)
            return tg_err_set(err, rc, "out of memory compiling PII packs");
        if (rc != TG_OK) {
            struct tg_pos pos = cfg->npacks && cfg->packs[0].pos.line ? cfg->packs[0].pos
                                                                      : (struct tg_pos){ config_path, 1, 1 };
            tg__diag_at(ld, TG_DIAG_ERROR, &pos, "PII packs: %s", e.msg);
            return TG_OK;
        }
    }

    if (mpath != NULL) {
        struct mconf mc = {0};
        char *buf;
        size_t len;
        const char *mfile = tg_arena_strdup(&p->arena, mpath);
        if (mfile == NULL)
            return TG_ENOMEM;
        rc = read_file(mpath, &ld->tmp, &buf, &len, err);
        if (rc == TG_ENOMEM)
            return rc;
        if (rc != TG_OK) {
            tg__diag_at(ld, TG_DIAG_ERROR, &cfg->markings.pos, "%s", err->msg);
            return TG_OK;
        }
        if ((rc = load_tree(ld, mfile, buf, len, tg__cfg_markings_root_tab, &mc)) != TG_OK)
            return rc;
        if (ld->nerrors > 0)
            return TG_OK;
        for (uint32_t i = 0; i < mc.n; i++)
            if (tg_policy_export_tag(p, mc.specs[i].tag) == NULL) {
                struct tg_pos pos = { mc.specs[i].file, mc.specs[i].line, mc.specs[i].col };
                tg__diag_at(ld, TG_DIAG_WARNING, &pos,
                            "marking '%s' implies export tag '%s', which policy.export_control.tags does not define (requests with it are denied)",
                            mc.specs[i].id, mc.specs[i].tag);
            }
        struct tg_err e = {0};
        rc = tg_markings_build(mc.specs, mc.n, &p->markings, &e);
        if (rc == TG_ENOMEM)
            return tg_err_set(err, rc, "out of memory compiling markings");
        if (rc != TG_OK) {
            struct tg_pos pos = { mfile, 1, 1 };
            tg__diag_at(ld, TG_DIAG_ERROR, &pos, "export markings: %s", e.msg);
        }
    }
    return TG_OK;
}

static int
diag_cmp(const void *a, const void *b)
{
    const struct tg__diag *x = a, *y = b;
    if (x->rank != y->rank) return x->rank < y->rank ? -1 : 1;
    if (x->pos.line != y->pos.line) return x->pos.line < y->pos.line ? -1 : 1;
    if (x->pos.col != y->pos.col) return x->pos.col < y->pos.col ? -1 : 1;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
emit_diags(struct tg__ld *ld)
{
    if (ld->ndiags > 1)
        qsort(ld->diags, ld->ndiags, sizeof(*ld->diags), diag_cmp);
    for (unsigned i = 0; i < ld->ndiags; i++) {
        if (ld->diag != NULL)
            ld->diag(ld->diag_ud, ld->diags[i].level, &ld->diags[i].pos, ld->diags[i].msg);
        free(ld->diags[i].msg);
    }
    free(ld->diags);
    ld->diags = NULL;
    ld->ndiags = ld->cap_diags = 0;
}

static void
init_fconf(struct fconf *fc)
{
    memset(fc, 0, sizeof(*fc));
}

/* Default export tags (docs/interface.md §2) when policy.export_control.tags is absent. */
static int
default_tags(struct tg__ld *ld)
{
    static const char *const itar_allow[] = { "US" };
    static const char *const ear_deny[] = { "CN", "RU", "IR", "KP", "CU", "SY" };
    struct tg_policy *p = ld->p;
    p->tags = tg_arena_calloc(&p->arena, 2, sizeof(*p->tags));
    if (p->tags == NULL)
        return TG_ENOMEM;
    p->tags[0] = (struct tg_export_tag){ .name = "itar", .has_allow = true,
        .allow = (const char **)itar_allow, .nallow = 1 };
    p->tags[1] = (struct tg_export_tag){ .name = "ear",
        .deny = (const char **)ear_deny, .ndeny = TG_ARRAY_LEN(ear_deny) };
    p->ntags = 2;
    return TG_OK;
}

static int
build(struct tg__ld *ld, const char *name, const char *buf, size_t len,
      const struct tg_load_opts *opts, struct tg_err *err)
{
    struct tg_policy *p = ld->p;
    struct fconf reg, cfg;
    struct rmodel *models = NULL;
    const char *files[TG_MAX_PACK_FILES + 2];
    uint32_t nfiles = 0;
    int rc;

    init_fconf(&reg);
    init_fconf(&cfg);

    const char *cfgname = tg_arena_strdup(&p->arena, name);
    if (cfgname == NULL)
        return TG_ENOMEM;
    p->source = cfgname;

    if (!opts->no_registry) {
        const char *rpath = opts->registry_path;
        char *rbuf;
        size_t rlen;
        if (rpath == NULL && (rpath = tg_arena_sprintf(&p->arena, "%s/rules/registry.yaml", tg_data_dir())) == NULL)
            return TG_ENOMEM;
        rpath = tg_arena_strdup(&p->arena, rpath);
        if (rpath == NULL)
            return TG_ENOMEM;
        rc = read_file(rpath, &ld->tmp, &rbuf, &rlen, err);
        if (rc != TG_OK)
            return rc == TG_ENOMEM ? rc : tg_err_set(err, TG_EIO, "registry: %s", err->msg);
        if ((rc = load_tree(ld, rpath, rbuf, rlen, tg__cfg_reg_root_tab, &reg)) != TG_OK)
            return rc;
    }
    tg__ld_rank(ld, cfgname);
    if ((rc = load_tree(ld, cfgname, buf, len, tg__cfg_root_tab, &cfg)) != TG_OK)
        return rc;
    /* A syntax error leaves nothing meaningful to resolve. */
    if (ld->nerrors > 0 && cfg.rules == NULL && cfg.nprov == 0 && cfg.nmodels == 0 &&
        cfg.version == NULL)
        return TG_OK;

    if ((rc = tg__cfg_merge(ld, &reg, &cfg, &models)) != TG_OK)
        return rc;

    /* Export tags: the config's, or the contract's defaults. */
    if (cfg.tags_given) {
        p->tags = tg_arena_calloc(&p->arena, cfg.ntags ? cfg.ntags : 1, sizeof(*p->tags));
        if (p->tags == NULL)
            return TG_ENOMEM;
        for (uint32_t i = 0; i < cfg.ntags; i++) {
            p->tags[i] = cfg.tags[i].t;
            for (uint32_t j = 0; j < p->tags[i].nallow; j++)
                for (char *c = (char *)p->tags[i].allow[j]; *c; c++)
                    *c = (char)toupper((unsigned char)*c);
            for (uint32_t j = 0; j < p->tags[i].ndeny; j++)
                for (char *c = (char *)p->tags[i].deny[j]; *c; c++)
                    *c = (char)toupper((unsigned char)*c);
        }
        p->ntags = cfg.ntags;
    } else if ((rc = default_tags(ld)) != TG_OK) {
        return rc;
    }

    /* Rules. */
    if (cfg.nrules > TG_MAX_RULES) {
        tg__diag_at(ld, TG_DIAG_ERROR, &cfg.rules[TG_MAX_RULES].pos, "more than %u routing rules", TG_MAX_RULES);
        cfg.nrules = TG_MAX_RULES;
    }
    p->rules = tg_arena_calloc(&p->arena, cfg.nrules ? cfg.nrules : 1, sizeof(*p->rules));
    if (p->rules == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < cfg.nrules; i++) {
        const struct rrule *rr = &cfg.rules[i];
        if (rr->category.s == NULL)
            continue;
        if (*rr->category.s == '\0') {
            tg__diag_at(ld, TG_DIAG_ERROR, &rr->category.pos, "category must not be empty");
            continue;
        }
        const struct tg_route_rule *dup = tg_policy_rule(p, rr->category.s);
        if (dup != NULL) {
            tg__diag_at(ld, TG_DIAG_ERROR, &rr->category.pos,
                        "duplicate category '%s' (first rule at line %u)", rr->category.s, dup->pos.line);
            continue;
        }
        if ((rc = tg__cfg_resolve_rule(ld, rr, &p->rules[p->nrules])) != TG_OK)
            return rc;
        p->nrules++;
    }
    if (cfg.nrules == 0)
        tg__diag_at(ld, TG_DIAG_WARNING, &(struct tg_pos){ cfgname, 1, 1 },
                    "no routing_rules: every request is denied (unknown category)");
    /* An alias selects exactly one rule: one naming two rules, or naming
     * another rule's category, would make the category depend on order. */
    for (uint32_t i = 0; i < p->nrules; i++)
        for (uint32_t k = 0; k < p->rules[i].naliases; k++) {
            const char *al = p->rules[i].aliases[k];
            const struct tg_route_rule *other = tg_policy_rule(p, al);
            if (other != NULL && other != &p->rules[i])
                tg__diag_at(ld, TG_DIAG_ERROR, &p->rules[i].pos,
                            "rule '%s': alias '%s' is the category of another rule", p->rules[i].category, al);
            for (uint32_t j = 0; j < i; j++)
                for (uint32_t m = 0; m < p->rules[j].naliases; m++)
                    if (strcmp(p->rules[j].aliases[m], al) == 0)
                        tg__diag_at(ld, TG_DIAG_ERROR, &p->rules[i].pos,
                                    "rule '%s': alias '%s' already selects rule '%s'", p->rules[i].category, al,
                                    p->rules[j].category);
        }

    if ((rc = tg__cfg_resolve_tenants(ld, &cfg)) != TG_OK)
        return rc;

    /* Scalars. */
    p->version = cfg.version ? cfg.version : "";
    p->mode = (enum tg_mode)cfg.mode;
    p->pii_min_score = cfg.min_score;
    p->pii_action = (enum tg_pii_action)cfg.action;
    p->deny_secrets = cfg.deny_secrets;
    p->resp_secrets = (enum tg_resp_action)cfg.resp_secrets;
    p->resp_pii = (enum tg_resp_action)cfg.resp_pii;
    p->export_header = cfg.export_header ? cfg.export_header : "X-Export-Control";
    p->default_output_tokens = cfg.default_output_tokens;
    p->breaker = cfg.breaker;
    p->telemetry = cfg.telemetry;
    p->audit = cfg.audit;
    p->capture = cfg.capture;
    p->server = cfg.server;
    if (p->server.listen == NULL)
        p->server.listen = "127.0.0.1:8080";
    tg__cfg_check_tls(ld, p);
    if (p->telemetry.enabled && (p->telemetry.endpoint == NULL || !*p->telemetry.endpoint))
        tg__diag_at(ld, TG_DIAG_WARNING, &(struct tg_pos){ cfgname, 1, 1 },
                    "telemetry is enabled but has no endpoint");

    if (cfg.npacks > 64) {
        tg__diag_at(ld, TG_DIAG_ERROR, &cfg.packs[64].pos, "more than 64 PII packs");
        cfg.npacks = 64;
    }
    if ((rc = compile(ld, &cfg, cfgname, opts->skip_compile, files, &nfiles, err)) != TG_OK)
        return rc;
    if ((rc = tg__cfg_load_allow(ld, &cfg)) != TG_OK)
        return rc;
    if (ld->nerrors > 0)
        return TG_OK;
    return tg__policy_hash(p, files, nfiles, err);
}

static int
load(const char *name, const char *buf, size_t len, const struct tg_load_opts *opts,
     struct tg_policy **out, struct tg_err *err)
{
    static const struct tg_load_opts no_opts;
    struct tg__ld ld;
    struct tg_policy *p;
    int rc;

    if (opts == NULL)
        opts = &no_opts;
    memset(&ld, 0, sizeof(ld));
    p = calloc(1, sizeof(*p));
    if (p == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    atomic_init(&p->refs, 1);
    tg_arena_init(&p->arena, 64 * 1024);
    tg_arena_init(&ld.tmp, 64 * 1024);
    ld.p = p;
    ld.diag = opts->diag;
    ld.diag_ud = opts->diag_ud;

    rc = build(&ld, name, buf, len, opts, err);
    if (rc == TG_OK && ld.oom)
        rc = TG_ENOMEM;
    if (rc == TG_ENOMEM)
        tg_err_set(err, TG_ENOMEM, "out of memory loading %s", name);
    emit_diags(&ld);
    if (rc == TG_OK && ld.nerrors > 0)
        rc = tg_err_set(err, TG_EPOLICY, "%u error%s, %u warning%s", ld.nerrors,
                        ld.nerrors == 1 ? "" : "s", ld.nwarnings, ld.nwarnings == 1 ? "" : "s");
    tg_arena_free(&ld.tmp);
    if (rc != TG_OK) {
        tg_policy_unref(p);
        return rc;
    }
    *out = p;
    return TG_OK;
}

int
tg_policy_load_buffer(const char *name, const char *buf, size_t len,
                      const struct tg_load_opts *opts, struct tg_policy **out, struct tg_err *err)
{
    return load(name ? name : "<buffer>", buf, len, opts, out, err);
}

int
tg_policy_load(const char *path, const struct tg_load_opts *opts, struct tg_policy **out,
               struct tg_err *err)
{
    struct tg_arena a;
    char *buf;
    size_t len;
    int rc;

    tg_arena_init(&a, 0);
    rc = read_file(path, &a, &buf, &len, err);
    if (rc == TG_OK)
        rc = load(path, buf, len, opts, out, err);
    tg_arena_free(&a);
    return rc;
}

