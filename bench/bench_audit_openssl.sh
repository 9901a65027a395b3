#!/usr/bin/env bash
# bench_audit_openssl.sh — `openssl speed ed25519` sign/s on this machine, the
# reference the audit log's `sign: each` rate is compared with (bench_audit
# also measures EVP_DigestSign in-process in the same run).
command -v openssl >/dev/null || { echo "openssl not installed: skipped"; exit 0; }
openssl speed -seconds 2 ed25519 2>/dev/null | awk '/Ed25519/ && /sign/ {next} /ed25519/ {print "openssl speed ed25519: " $(NF-1) " signs/s, " $NF " verifies/s"}'
