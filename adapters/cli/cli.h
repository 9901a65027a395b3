/*
 * cli.h — the command-line front, an inbound adapter like the HTTP server.
 * Each command lives in cmd_<name>.c; main.c dispatches.  Conventions
 * (docs/interface.md §1): every command has --help; errors go to stderr, one line
 * each ("tollgate: <command>: message"); JSON goes to stdout.  Exit 2 is
 * usage / I/O, 1 is "invalid"/"tampered", 0 success.
 */
#ifndef TG_CLI_H
#define TG_CLI_H

#include "policy/policy.h"

int tg_cmd_check(int argc, char **argv);
int tg_cmd_scan(int argc, char **argv);
int tg_cmd_explain(int argc, char **argv);
int tg_cmd_serve(int argc, char **argv);
int tg_cmd_keygen(int argc, char **argv);
int tg_cmd_audit(int argc, char **argv);
int tg_cmd_dry_run(int argc, char **argv);
int tg_cmd_cost(int argc, char **argv);

/* Print "tollgate: <cmd>: <msg>" to stderr. */
void tg_cli_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* What tg_cli_diag prints: errors always, warnings when show_warnings. */
struct tg_cli_diag_ctx {
    bool show_warnings;
};

/* Diagnostic printer for tg_load_opts.diag (ud: struct tg_cli_diag_ctx *, or NULL for all): "FILE:LINE:COL: warning|error: MSG" on stderr. */
void tg_cli_diag(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg);

/* Load a policy for a command, printing diagnostics (warnings only when
 * show_warnings).  Returns NULL (after printing) on failure. */
struct tg_policy *tg_cli_load_policy(const char *cmd, const char *path, bool show_warnings);

/* Read a whole file ("-" = stdin) into a malloc'd NUL-terminated buffer, at most max bytes. */
int tg_cli_read_file(const char *path, size_t max, char **out, size_t *outlen, struct tg_err *err);

#endif /* TG_CLI_H */
