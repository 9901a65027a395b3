#!/usr/bin/env bash
# Install what tollgate needs to build and test, only when missing:
# `apt-get update` at most once, then `apt-get install -y` of the missing
# Debian packages; then the npm packages of the e2e tests (package-lock.json).
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config clang libclang-rt-14-dev
      libpcre2-dev libyaml-dev libcjson-dev libcurl4-openssl-dev libssl-dev
      libevent-dev libcriterion-dev
      openssl curl python3 nodejs npm wrk nginx-light chromium)
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
  echo "deps: all Debian packages present"
fi
if [ -f package.json ] && command -v npm >/dev/null 2>&1; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
    npm ci --no-audit --no-fund --loglevel=error
  fi
fi
