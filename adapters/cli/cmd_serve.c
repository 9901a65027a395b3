/* cmd_serve.c — `tollgate serve --config CONFIG [--listen HOST:PORT] [--threads N] [--no-audit]`. */
#include "adapters/cli/cli.h"
#include "adapters/http/gateway.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: tollgate serve --config CONFIG [--listen HOST:PORT] [--threads N] [--no-audit]\n"
            "\n"
            "Run the OpenAI-compatible egress gateway (POST /v1/chat/completions, GET /v1/models,\n"
            "/healthz, /readyz, /metrics).  SIGHUP or an edit of CONFIG reloads the policy (an\n"
            "invalid one is rejected and the running policy kept); SIGTERM/SIGINT drain and exit 0.\n"
            "\n"
            "  --config CONFIG      policy file (docs/interface.md §2)\n"
            "  --listen HOST:PORT   overrides server.listen (default 127.0.0.1:8080)\n"
            "  --threads N          event-loop threads (default server.threads, else one per core)\n"
            "  --no-audit           demos only: serve although audit.path is unset\n");
}

int
tg_cmd_serve(int argc, char **argv)
{
    struct tg_gw_opts o = { 0 };
    struct tg_err err = { 0 };

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--config") == 0 && i + 1 < argc) {
            o.config_path = argv[++i];
        } else if (strncmp(a, "--config=", 9) == 0) {
            o.config_path = a + 9;
        } else if (strcmp(a, "--listen") == 0 && i + 1 < argc) {
            o.listen = argv[++i];
        } else if (strncmp(a, "--listen=", 9) == 0) {
            o.listen = a + 9;
        } else if ((strcmp(a, "--threads") == 0 && i + 1 < argc) || strncmp(a, "--threads=", 10) == 0) {
            const char *v = a[9] == '=' ? a + 10 : argv[++i];
            char *end;
            long n;
            errno = 0;
            n = strtol(v, &end, 10);
            if (errno || *end || n < 1 || n > 256) {
                tg_cli_error("serve", "--threads wants 1..256, not '%s'", v);
                return 2;
            }
            o.threads = (uint32_t)n;
        } else if (strcmp(a, "--no-audit") == 0) {
            o.no_audit = true;
        } else {
            tg_cli_error("serve", "unknown or incomplete option '%s'", a);
            usage(stderr);
            return 2;
        }
    }
    if (o.config_path == NULL) {
        tg_cli_error("serve", "--config is required");
        usage(stderr);
        return 2;
    }
    if (o.listen != NULL) {
        char host[256];
        uint16_t port;
        if (tg_gw_parse_listen(o.listen, host, sizeof(host), &port) != TG_OK) {
            tg_cli_error("serve", "bad --listen '%s' (want HOST:PORT)", o.listen);
            return 2;
        }
    }
    if (tg_gw_serve(&o, &err) != TG_OK) {
        tg_cli_error("serve", "%s", err.msg);
        return err.code == TG_EPOLICY || err.code == TG_EINVAL ? 1 : 2;
    }
    return 0;
}
