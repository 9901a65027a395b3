/* main.c — `tollgate <command> ...`: dispatch to adapters/cli/cmd_*.c. */
#include "adapters/cli/cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "check",   tg_cmd_check,   "load and validate a configuration" },
    { "scan",    tg_cmd_scan,    "PII and secret scan of text" },
    { "explain", tg_cmd_explain, "one pre-flight + routing decision as JSON" },
    { "serve",   tg_cmd_serve,   "run the gateway" },
    { "keygen",  tg_cmd_keygen,  "generate an Ed25519 audit signing key pair" },
    { "audit",   tg_cmd_audit,   "verify, show or summarise audit logs" },
    { "dry-run", tg_cmd_dry_run, "replay captured traffic against a policy" },
    { "cost",    tg_cmd_cost,    "annual cost of a daily token volume per model" },
};

static void
usage(FILE *f)
{
    fprintf(f, "usage: tollgate <command> [options]   (tollgate <command> --help)\n\ncommands:\n");
    for (size_t i = 0; i < TG_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-8s  %s\n", commands[i].name, commands[i].summary);
}

int
main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("tollgate 0.1.0\n");
        return 0;
    }
    for (size_t i = 0; i < TG_ARRAY_LEN(commands); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tollgate: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
