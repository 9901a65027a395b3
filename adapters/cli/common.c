/* common.c — helpers shared by the CLI commands. */
#include "adapters/cli/cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
tg_cli_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tollgate: %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

void
tg_cli_diag(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    const struct tg_cli_diag_ctx *c = ud;
    if (level == TG_DIAG_WARNING && c != NULL && !c->show_warnings)
        return;
    fprintf(stderr, "%s:%u:%u: %s: %s\n",
            pos && pos->file ? pos->file : "?", pos ? pos->line : 0, pos ? pos->col : 0,
            level == TG_DIAG_ERROR ? "error" : "warning", msg);
}

int
tg_cli_read_file(const char *path, size_t max, char **out, size_t *outlen, struct tg_err *err)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int rc = TG_EIO;

    if (f == NULL)
        return tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
    for (;;) {
        if (cap - len < 65536) {
            size_t ncap = cap ? cap * 2 : 65536;
            char *nb;
            if (ncap > max + 65537)
                ncap = max + 65537;
            if (ncap <= cap) {
                rc = tg_err_set(err, TG_ELIMIT, "%s: larger than %zu bytes", path, max);
                goto out;
            }
            nb = realloc(buf, ncap);
            if (nb == NULL) {
                rc = tg_err_set(err, TG_ENOMEM, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len - 1, f);
        len += n;
        if (len > max) {
            rc = tg_err_set(err, TG_ELIMIT, "%s: larger than %zu bytes", path, max);
            goto out;
        }
        if (n == 0) {
            if (ferror(f)) {
                rc = tg_err_set(err, TG_EIO, "%s: read error", path);
                goto out;
            }
            break;
        }
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    buf = NULL;
    rc = TG_OK;
out:
    free(buf);
    if (f != stdin)
        fclose(f);
    return rc;
}
