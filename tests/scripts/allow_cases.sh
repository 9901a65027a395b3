#!/usr/bin/env bash
# allow_cases.sh — allow lists through `tollgate explain` (tests/cases/allow/*.json).
#
# Each case file is one JSON object, as in decision_cases.sh:
#   "description"  what the case shows
#   "config"       tests/cases/policies/<name>, or a path from the repo root starting "rules/"
#   "args"         extra explain flags (--tenant, --category, ...)
#   "request"      the request body (or "request_raw": the body as a string)
#   "expect":
#       decision     allow | redact | deny
#       pii          {entity: count}  findings that still count (exact per entity listed)
#       pii_absent   [entity]         entities that must not appear in "pii"
#       allowed      {entity: count}  the decision's "allowed" array, exactly (an empty
#                                      object = no allowed findings)
#       reasons      [rule id]        decision-level rule ids that must appear
#   "never_printed" [string]         values that must not appear in explain's output
#                                      (allowed values are counted, never shown)
# Prints PASS:/FAIL: per case.
set -uo pipefail
ROOT=${TG_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
BIN=${TOLLGATE:-$ROOT/build/tollgate}
if ! command -v python3 >/dev/null 2>&1; then echo "SKIP: python3 not installed"; exit 0; fi
exec python3 - "$ROOT" "$BIN" <<'PY'
import json, os, subprocess, sys, tempfile, glob

root, binary = sys.argv[1], sys.argv[2]
tmp = tempfile.mkdtemp(prefix="tg-allow-")
failed = 0

def check(c):
    cfg = c["config"]
    cfg = os.path.join(root, cfg) if cfg.startswith("rules/") else os.path.join(root, "tests/cases/policies", cfg)
    body = c["request_raw"] if "request_raw" in c else json.dumps(c["request"])
    rpath = os.path.join(tmp, "req.json")
    with open(rpath, "w") as f:
        f.write(body)
    p = subprocess.run([binary, "explain", "--config", cfg, "--request", rpath] + c.get("args", []),
                       capture_output=True, text=True, timeout=30)
    e = c["expect"]
    errs = []
    if p.returncode != e.get("exit", 0):
        errs.append("exit %d (stderr: %s)" % (p.returncode, p.stderr.strip()[:300]))
    try:
        d = json.loads(p.stdout)
    except ValueError:
        return errs + ["stdout is not JSON: %r" % p.stdout[:200]]
    if "decision" in e and d.get("decision") != e["decision"]:
        errs.append("decision = %r, want %r (reasons %r)" % (d.get("decision"), e["decision"],
                    [r["rule"] for r in d.get("reasons", [])]))
    pii = {x["entity"]: x["count"] for x in d.get("pii", [])}
    for ent, n in e.get("pii", {}).items():
        if pii.get(ent) != n:
            errs.append("pii %s = %r, want %d (all %r)" % (ent, pii.get(ent), n, pii))
    for ent in e.get("pii_absent", []):
        if ent in pii:
            errs.append("pii has %s x%d, want none" % (ent, pii[ent]))
    if "allowed" in e:
        if "allowed" not in d:
            errs.append("decision JSON has no 'allowed' array")
        else:
            got = {x["entity"]: x["count"] for x in d["allowed"]}
            if got != e["allowed"]:
                errs.append("allowed = %r, want %r" % (got, e["allowed"]))
            for x in d["allowed"]:
                if sorted(x.keys()) != ["count", "entity"]:
                    errs.append("allowed item has keys %r (entity and count only)" % sorted(x.keys()))
    have = [r["rule"] for r in d.get("reasons", [])]
    for r in e.get("reasons", []):
        if r not in have:
            errs.append("reasons %r lack %s" % (have, r))
    for v in c.get("never_printed", []):
        if v.lower() in (p.stdout + p.stderr).lower():
            errs.append("output contains the value %r" % v)
    return errs

files = sorted(glob.glob(os.path.join(root, "tests/cases/allow/*.json")))
for path in files:
    name = os.path.basename(path)[:-5]
    try:
        with open(path) as f:
            c = json.load(f)
        errs = check(c)
    except Exception as ex:
        errs = ["%s: %s" % (type(ex).__name__, ex)]
    if errs:
        failed += 1
        print("FAIL: allow/%s" % name)
        for m in errs:
            print("    " + m)
    else:
        print("PASS: allow/%s" % name)
if not files:
    print("FAIL: allow/no-cases")
for f in os.listdir(tmp):
    os.remove(os.path.join(tmp, f))
os.rmdir(tmp)
sys.exit(1 if failed or not files else 0)
PY
