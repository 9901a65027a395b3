#!/usr/bin/env bash
# decision_cases.sh — data-driven request -> decision cases (tests/cases/decisions/*.json).
#
# Each case file is one JSON object:
#   "description"  what the case shows
#   "config"       policy file: tests/cases/policies/<name>, or a path from the repo root
#                  when it starts with "rules/"
#   "args"         extra `tollgate explain` flags (--tenant, --category, --export-tags, ...)
#   "request"      the chat completions body (or "request_raw": the body as a string)
#   "expect"       checks on the decision JSON (all optional):
#       exit         explain's exit status (default 0)
#       decision     allow | redact | deny        enforced / mode / tenant / category / feature
#       route        exact list of model ids       reasons    decision-level rule ids that must appear
#       excluded     {model: rule id or [ids]}: model not eligible and each id among its reasons
#       compliant    {model: bool}                 redact     {model: bool}
#       cost         {model: USD or null}          timeouts   {model: ms}
#       deadline_ms, tokens {input, output}, export_tags (set), pii {entity: count}, ncandidates
# Every case runs through `tollgate explain`, i.e. the same tg_preflight_decide() as serve.
# Prints PASS:/FAIL: per case.
set -uo pipefail
ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${TOLLGATE:-$ROOT/build/tollgate}
if ! command -v python3 >/dev/null 2>&1; then echo "SKIP: python3 not installed"; exit 0; fi
exec python3 - "$ROOT" "$BIN" <<'PY'
import json, math, os, subprocess, sys, tempfile, glob

root, binary = sys.argv[1], sys.argv[2]
pol_dir = os.environ.get("TG_CASE_POLICIES", os.path.join(root, "tests/cases/policies"))
tmp = tempfile.mkdtemp(prefix="tg-cases-")
failed = 0

def check(name, c):
    cfg = c["config"]
    cfg = os.path.join(root, cfg) if cfg.startswith("rules/") else os.path.join(pol_dir, cfg)
    body = c["request_raw"] if "request_raw" in c else json.dumps(c["request"])
    rpath = os.path.join(tmp, "req.json")
    with open(rpath, "w") as f:
        f.write(body)
    p = subprocess.run([binary, "explain", "--config", cfg, "--request", rpath] + c.get("args", []),
                       capture_output=True, text=True, timeout=30)
    e = c["expect"]
    errs = []
    if p.returncode != e.get("exit", 0):
        errs.append("exit %d, want %d (stderr: %s)" % (p.returncode, e.get("exit", 0), p.stderr.strip()[:300]))
    try:
        d = json.loads(p.stdout)
    except ValueError:
        return errs + ["stdout is not JSON: %r (stderr: %s)" % (p.stdout[:200], p.stderr.strip()[:300])]
    cands = {x["model"]: x for x in d.get("candidates", [])}
    for k in ("decision", "enforced", "mode", "tenant", "category", "feature", "deadline_ms"):
        if k in e and d.get(k) != e[k]:
            errs.append("%s = %r, want %r" % (k, d.get(k), e[k]))
    if "route" in e and d.get("route") != e["route"]:
        errs.append("route = %r, want %r" % (d.get("route"), e["route"]))
    if "ncandidates" in e and len(d.get("candidates", [])) != e["ncandidates"]:
        errs.append("%d candidates, want %d" % (len(d.get("candidates", [])), e["ncandidates"]))
    have = [r["rule"] for r in d.get("reasons", [])]
    for r in e.get("reasons", []):
        if r not in have:
            errs.append("decision reasons %r lack %s" % (have, r))
    for m, rules in e.get("excluded", {}).items():
        if m not in cands:
            errs.append("no candidate %s" % m); continue
        if cands[m]["eligible"]:
            errs.append("%s is eligible, want excluded" % m)
        got = [r["rule"] for r in cands[m].get("reasons", [])]
        for r in ([rules] if isinstance(rules, str) else rules):
            if r not in got:
                errs.append("%s reasons %r lack %s" % (m, got, r))
        for r in cands[m].get("reasons", []):
            if not r.get("message"):
                errs.append("%s: reason %s has no message" % (m, r["rule"]))
    for key, field in (("compliant", "compliant"), ("redact", "redact"), ("timeouts", "timeout_ms")):
        for m, v in e.get(key, {}).items():
            if m not in cands or cands[m].get(field) != v:
                errs.append("%s.%s = %r, want %r" % (m, field, cands.get(m, {}).get(field), v))
    for m, v in e.get("cost", {}).items():
        got = cands.get(m, {}).get("estimated_cost_usd", "missing")
        if v is None:
            ok = got is None
        else:
            ok = isinstance(got, (int, float)) and math.isclose(got, v, rel_tol=1e-9, abs_tol=1e-12)
        if not ok:
            errs.append("%s cost = %r, want %r" % (m, got, v))
    if "tokens" in e and d.get("estimated_tokens") != e["tokens"]:
        errs.append("estimated_tokens = %r, want %r" % (d.get("estimated_tokens"), e["tokens"]))
    if "export_tags" in e and sorted(d.get("export_tags", [])) != sorted(e["export_tags"]):
        errs.append("export_tags = %r, want %r" % (d.get("export_tags"), e["export_tags"]))
    if "pii" in e:
        got = {x["entity"]: x["count"] for x in d.get("pii", [])}
        for ent, n in e["pii"].items():
            if got.get(ent) != n:
                errs.append("pii %s = %r, want %d (all: %r)" % (ent, got.get(ent), n, got))
    # decisions never carry the request's text
    if "request" in c:
        for m in c["request"].get("messages", []):
            t = m.get("content")
            if isinstance(t, str) and len(t) > 12 and t in p.stdout:
                errs.append("decision JSON contains request text")
    return errs

files = sorted(glob.glob(os.path.join(root, "tests/cases/decisions/*.json")))
for path in files:
    name = os.path.basename(path)[:-5]
    try:
        with open(path) as f:
            c = json.load(f)
        errs = check(name, c)
    except Exception as ex:  # a broken case file is a failure, not a crash
        errs = ["%s: %s" % (type(ex).__name__, ex)]
    if errs:
        failed += 1
        print("FAIL: decision/%s" % name)
        for m in errs:
            print("    " + m)
    else:
        print("PASS: decision/%s" % name)
if not files:
    print("FAIL: decision/no-cases")
for f in os.listdir(tmp):
    os.remove(os.path.join(tmp, f))
os.rmdir(tmp)
sys.exit(1 if failed or not files else 0)
PY
