#!/usr/bin/env bash
# install.sh — `make install DESTDIR=… PREFIX=/usr` lays out the binary,
# rules, docs, an example config and the systemd unit; the installed binary
# finds its rules without the source tree (the data directory is compiled
# in, checked through TOLLGATE_HOME pointing into DESTDIR); the unit passes
# `systemd-analyze verify`.
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok() { if eval "$2"; then echo "PASS: $1"; else echo "FAIL: $1"; fi; }
[ -n "${TG_SANITIZER:-}" ] && { echo "SKIP: install is checked in the plain build"; exit 0; }
make -s install DESTDIR="$tmp/root" PREFIX=/usr >"$tmp/make.out" 2>&1
ok "make_install_succeeds" '[ $? -eq 0 ]'
r=$tmp/root
ok "binary_installed" '[ -x "$r/usr/bin/tollgate" ]'
ok "rules_installed" '[ -f "$r/usr/share/tollgate/rules/pii/default.yaml" ] && [ -f "$r/usr/share/tollgate/rules/registry.yaml" ]'
ok "docs_installed" '[ -f "$r/usr/share/tollgate/docs/interface.md" ]'
ok "example_config_in_etc" '[ -f "$r/etc/tollgate/tollgate.yaml.example" ]'
ok "unit_installed" '[ -f "$r/usr/lib/systemd/system/tollgate.service" ]'
ok "unit_filled_in" '! grep -q "@[A-Z]*@" "$r/usr/lib/systemd/system/tollgate.service" && grep -q "^ExecStart=/usr/bin/tollgate serve --config /etc/tollgate/tollgate.yaml" "$r/usr/lib/systemd/system/tollgate.service"'
ok "data_dir_compiled_in" 'strings "$r/usr/bin/tollgate" | grep -x "/usr/share/tollgate" >/dev/null'
# The installed binary, away from the source tree, with its data directory in DESTDIR.
(cd "$tmp" && TOLLGATE_HOME="$r/usr/share/tollgate" "$r/usr/bin/tollgate" check "$r/usr/share/tollgate/rules/examples/full.yaml") >"$tmp/check.out" 2>&1
ok "installed_binary_loads_a_config" '[ $? -eq 0 ]'
if command -v systemd-analyze >/dev/null 2>&1; then
  cp "$r/usr/lib/systemd/system/tollgate.service" "$tmp/tollgate.service"
  sed -i "s|/usr/bin/tollgate|$r/usr/bin/tollgate|g" "$tmp/tollgate.service"
  SYSTEMD_LOG_LEVEL=warning systemd-analyze verify "$tmp/tollgate.service" >"$tmp/verify.out" 2>&1
  rc=$?
  ok "systemd_analyze_verify (rc $rc)" '[ $rc -eq 0 ] && ! grep -qi "unknown\|invalid\|ignoring" "$tmp/verify.out"'
  [ $rc -eq 0 ] || head -5 "$tmp/verify.out"
  systemd-analyze security --offline=true "$tmp/tollgate.service" >"$tmp/sec.out" 2>&1 &&
    echo "  exposure: $(grep -o 'Overall exposure level.*' "$tmp/sec.out" | head -1)"
else
  echo "SKIP: systemd-analyze not installed"
fi
