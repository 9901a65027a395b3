/* cli_policy.c — load a policy for a command, diagnostics to stderr. */
#include "adapters/cli/cli.h"

#include <stdio.h>

struct tg_policy *
tg_cli_load_policy(const char *cmd, const char *path, bool show_warnings)
{
    struct tg_cli_diag_ctx dc = { show_warnings };
    struct tg_load_opts opts = { .diag = tg_cli_diag, .diag_ud = &dc };
    struct tg_policy *p = NULL;
    struct tg_err err = {0};

    if (tg_policy_load(path, &opts, &p, &err) != TG_OK) {
        tg_cli_error(cmd, "%s: %s", path, err.msg);
        return NULL;
    }
    return p;
}

