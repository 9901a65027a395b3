/*
 * policy.h — the policy loader (docs/interface.md §2): YAML -> the engine's
 * model (engine/model.h).
 *
 * tg_policy_load() reads the YAML with libyaml, merges it over the registry
 * shipped in rules/ (providers, models, regions, export markings, PII packs),
 * validates it with FILE:LINE:COL diagnostics, interpolates ${VAR}, compiles
 * the PII packs and markings, hashes the effective configuration, and
 * returns a struct tg_policy (engine/model.h).
 */
#ifndef TG_POLICY_H
#define TG_POLICY_H

#include "engine/model.h"

/* Diagnostics: called once per warning or error, in file order. */
enum tg_diag_level { TG_DIAG_WARNING = 0, TG_DIAG_ERROR = 1 };
typedef void (*tg_diag_fn)(void *ud, enum tg_diag_level level, const struct tg_pos *pos,
                           const char *msg);

struct tg_load_opts {
    const char *registry_path;  /* NULL: <data dir>/rules/registry.yaml */
    bool        no_registry;    /* tests: load the config alone */
    bool        skip_compile;   /* fuzzing/validation only: check pack and markings files
                                   exist but do not compile them (pii, markings stay NULL) */
    tg_diag_fn  diag;           /* NULL: diagnostics dropped */
    void       *diag_ud;
};

/*
 * Load, validate and compile a policy.  On success *out holds a policy with
 * one reference.  On failure *out is untouched, every problem was reported
 * through opts->diag, and err says how many errors there were.
 */
int  tg_policy_load(const char *path, const struct tg_load_opts *opts,
                    struct tg_policy **out, struct tg_err *err);
/* Same, from a buffer (fuzzing, tests); `name` is used in positions. */
int  tg_policy_load_buffer(const char *name, const char *buf, size_t len,
                           const struct tg_load_opts *opts,
                           struct tg_policy **out, struct tg_err *err);

/* The data directory holding rules/ (TOLLGATE_HOME, else the build's source dir). */
const char *tg_data_dir(void);
/* Resolve a path given in config: absolute as is; else relative to the
 * config file's directory, then to tg_data_dir().  Returns arena memory. */
char *tg_policy_resolve_path(struct tg_arena *a, const char *config_path, const char *rel);

#endif /* TG_POLICY_H */
