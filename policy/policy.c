/*
 * policy.c — where a policy's files are: the data directory and paths
 * given in a config.  (Reference counting and lookups are pure and live in
 * engine/model.c.)
 */
#include "policy/policy_int.h"
#include "engine/markings.h"
#include "engine/pii.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#ifndef TG_DATA_DIR
#define TG_DATA_DIR "."
#endif

const char *
tg_data_dir(void)
{
    const char *h = getenv("TOLLGATE_HOME");
    return h != NULL && *h != '\0' ? h : TG_DATA_DIR;
}

char *
tg_policy_resolve_path(struct tg_arena *a, const char *config_path, const char *rel)
{
    if (rel == NULL)
        return NULL;
    if (rel[0] == '/')
        return tg_arena_strdup(a, rel);
    /* Next to the config first: a config directory can carry its own packs. */
    if (config_path != NULL) {
        const char *slash = strrchr(config_path, '/');
        char *cand = slash != NULL
            ? tg_arena_sprintf(a, "%.*s/%s", (int)(slash - config_path), config_path, rel)
            : tg_arena_strdup(a, rel);
        if (cand == NULL)
            return NULL;
        if (access(cand, F_OK) == 0)
            return cand;
    }
    return tg_arena_sprintf(a, "%s/%s", tg_data_dir(), rel);
}
