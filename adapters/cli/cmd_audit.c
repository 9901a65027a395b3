/* cmd_audit.c — placeholder until its issue lands; replaced by the real command. */
#include "adapters/cli/cli.h"

int
tg_cmd_audit(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    tg_cli_error("audit", "this command is not built yet");
    return 2;
}
