#!/usr/bin/env bash
# dryrun_html.sh — the --html report renders in headless Chromium with no
# script error and no console message: the page marks its root element
# data-render="ok" after drawing, and its window.onerror handler "error"
# (the page's title stays the user's: "tollgate dry-run").
# Also: self-contained (no URL to fetch), hostile names escaped, every chart
# present.  Prints SKIP when chromium is not installed (scripts/deps.sh
# installs it).
set -uo pipefail
cd "${TG_ROOT:-$(dirname "$0")/../..}"
TOLLGATE=${TOLLGATE:-$PWD/build/tollgate}
CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ok() { if eval "$2"; then echo "PASS: $1"; else echo "FAIL: $1"; fi; }
E=rules/examples

# The example pair, plus a line whose names try to inject markup.
cp $E/traffic-sample.jsonl "$tmp/t.jsonl"
printf '{"id":"x\\"><script>document.title=\\"pwned\\"</script>","tenant":"<img src=x onerror=alert(1)>","category":"</svg><script>throw 1</script>","request":{"messages":[{"role":"user","content":"hi"}]}}\n' >>"$tmp/t.jsonl"
"$TOLLGATE" dry-run --config $E/policy-strict.yaml --baseline $E/policy-baseline.yaml \
  --traffic "$tmp/t.jsonl" --html "$tmp/report.html" --quiet >/dev/null 2>&1
ok "html_written" '[ -s "$tmp/report.html" ]'
ok "html_self_contained" '! grep -Eqi "(src|href|action)=\"?[a-z]*:?//|@import|url\(" "$tmp/report.html"'
ok "html_escaped" '! grep -q "<img src=x" "$tmp/report.html" && ! grep -q "<script>throw" "$tmp/report.html" && grep -q "&lt;img src=x onerror=alert(1)&gt;" "$tmp/report.html"'
ok "html_sections" 'for s in "Decisions per rule" "Cost per category" "Transitions" "Monolithic vs routed" "By tenant"; do grep -q "$s" "$tmp/report.html" || exit 1; done'

if [ -z "$CHROME" ]; then echo "SKIP: chromium not installed"; exit 0; fi
run_chrome() {
  timeout 90 "$CHROME" --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --user-data-dir="$tmp/profile" \
    --enable-logging=stderr --v=0 "$@" 2>"$tmp/chrome.err"
}
run_chrome --dump-dom "file://$tmp/report.html" >"$tmp/dom.html"
ok "chromium_rendered_ok" 'grep -q "<html[^>]*data-render=\"ok\"" "$tmp/dom.html" && grep -q "<title>tollgate dry-run</title>" "$tmp/dom.html"'
ok "chromium_no_console_messages" '! grep -q "CONSOLE" "$tmp/chrome.err"'
ok "chromium_svg_charts" '[ "$(grep -o "<svg class=\"chart\"" "$tmp/dom.html" | wc -l)" -ge 4 ]'
ok "chromium_injection_inert" '! grep -q "pwned" <(grep -o "<title>[^<]*</title>" "$tmp/dom.html" | head -1)'

# The check must be able to fail: a page with a script error is caught.
sed 's#</body>#<script>undefinedFunction();</script></body>#' "$tmp/report.html" >"$tmp/broken.html"
run_chrome --dump-dom "file://$tmp/broken.html" >"$tmp/dom2.html"
ok "chromium_catches_script_error" 'grep -q "<html[^>]*data-render=\"error\"" "$tmp/dom2.html" || grep -q "CONSOLE" "$tmp/chrome.err"'
exit 0
