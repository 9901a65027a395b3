#!/usr/bin/env bash
# deps.sh [run|test] — install what tollgate needs, only when missing:
# `apt-get update` at most once, then `apt-get install -y` of the missing
# Debian packages.
#   run   building and serving (`make run`): compiler, pkg-config, the -dev
#         packages of the linked libraries, curl (the demo's readiness wait)
#   test  (default) also what the tests, sanitizers, fuzzers and benchmarks
#         use, and the npm packages of the e2e tests (package-lock.json)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-test}

run_pkgs=(build-essential pkg-config
          libpcre2-dev libyaml-dev libcjson-dev libcurl4-openssl-dev libssl-dev libevent-dev
          curl)
test_pkgs=(clang libclang-rt-14-dev libcriterion-dev openssl python3 jq nodejs npm
           wrk nginx-light chromium valgrind util-linux systemd)
pkgs=("${run_pkgs[@]}")
[ "$mode" = run ] || pkgs+=("${test_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# node/npm may come from outside Debian (nvm, nodesource): do not fight it.
if command -v node >/dev/null 2>&1; then
  tmp=(); for p in "${missing[@]}"; do [[ $p == nodejs || $p == npm ]] || tmp+=("$p"); done
  missing=("${tmp[@]+"${tmp[@]}"}")
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
else
  echo "deps: all Debian packages present ($mode)"
fi
if [ "$mode" != run ] && [ -f package.json ] && command -v npm >/dev/null 2>&1; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
