#!/usr/bin/env bash
# crash_kill9.sh — the short version of tests/crash/kill9.sh for `make test`:
# 5 kill -9 of a loaded gateway (fsync always/batch alternating, a torn tail
# emulated on the 3rd), then the audit log verifies and no acknowledged
# request is missing its entry.  The 20-kill run: KILLS=20 tests/crash/kill9.sh
TG_ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
KILLS=${KILLS:-5} exec bash "$TG_ROOT/tests/crash/kill9.sh"
