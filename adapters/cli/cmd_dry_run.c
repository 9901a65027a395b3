/* cmd_dry_run.c — placeholder until its issue lands; replaced by the real command. */
#include "adapters/cli/cli.h"

int
tg_cmd_dry_run(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tg_cli_error("dry_run", "this command is not built yet");
    return 2;
}
