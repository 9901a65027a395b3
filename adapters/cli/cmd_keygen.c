/* cmd_keygen.c — `tollgate keygen --out PREFIX`: an Ed25519 audit signing key pair. */
#include "adapters/cli/cli.h"
#include "audit/audit.h"

#include <stdio.h>
#include <string.h>

static void
keygen_usage(FILE *f)
{
    fprintf(f, "usage: tollgate keygen --out PREFIX\n\n"
               "Generate an Ed25519 key pair for signing the audit log:\n"
               "  PREFIX.key  private key, PEM (PKCS#8), mode 0600\n"
               "  PREFIX.pub  public key, PEM: give it to whoever verifies the log\n"
               "Existing files are never overwritten (exit 2).  Prints the key id:\n"
               "the first 16 bytes of SHA-256 of the raw public key, in hex.\n");
}

int
tg_cmd_keygen(int argc, char **argv)
{
    const char *out = NULL;
    char key_id[33];
    struct tg_err err = { 0 };

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            keygen_usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc) {
            out = argv[++i];
        } else if (strncmp(argv[i], "--out=", 6) == 0) {
            out = argv[i] + 6;
        } else {
            tg_cli_error("keygen", "unexpected argument '%s' (see --help)", argv[i]);
            return 2;
        }
    }
    if (out == NULL || out[0] == '\0') {
        tg_cli_error("keygen", "--out PREFIX is required");
        return 2;
    }
    if (tg_audit_keygen(out, key_id, &err) != TG_OK) {
        tg_cli_error("keygen", "%s", err.msg);
        return 2;
    }
    printf("%s\n", key_id);
    return 0;
}
