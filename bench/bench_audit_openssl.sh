#!/usr/bin/env bash
# bench_audit_openssl.sh — `openssl speed ed25519` sign/s on this machine, the
# reference the audit log's `sign: each` rate is compared with (bench_audit
# measures EVP_DigestSign in-process in the same run, around its own test).
command -v openssl >/dev/null || { echo "openssl not installed: skipped"; exit 0; }
openssl speed -seconds 2 ed25519 2>/dev/null |
  awk '/Ed25519/ { printf "openssl speed ed25519: %s signs/s, %s verifies/s\n", $(NF-1), $NF }'
