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

# dry-run: what each entry took out of tests/cases/allow/traffic.jsonl (6 requests,
# see the file): per entry findings and requests, the effect of switching the
# lists off, and no allowed value in any of the three reports.
def dry(extra):
    return subprocess.run([binary, "dry-run", "--config", os.path.join(root, "tests/cases/policies/allow.yaml"),
                           "--traffic", os.path.join(root, "tests/cases/allow/traffic.jsonl")] + extra,
                          capture_output=True, text=True, timeout=60)
values = ["noreply@anthropic.com", "ops@acme.example", "postmaster@example.org", "+1 800 555 0100", "jane.doe@gmail.com"]
checks = []
try:
    p = dry(["--json"])
    d = json.loads(p.stdout)
    got = [(x["source"], x["owner"], x["entity"], x["suppressed"], x["requests"]) for x in d["allow_list"]]
    want = [("policy", None, "EMAIL_ADDRESS", 2, 2), ("policy", None, "PHONE_NUMBER", 1, 1),
            ("rule", "support", "PHONE_NUMBER", 0, 0), ("tenant", "t-a", "EMAIL_ADDRESS", 2, 1),
            ("role_addresses", None, "EMAIL_ADDRESS", 1, 1), ("special_ips", None, "IP_ADDRESS", 0, 0)]
    checks.append(("dryrun-json-entries", got == want, "allow_list %r, want %r" % (got, want)))
    eff = d["allow_list_effect"]
    checks.append(("dryrun-json-effect", eff == {"requests": 5, "denied_without": 4, "redacted_without": 0},
                   "allow_list_effect %r" % eff))
    checks.append(("dryrun-json-decisions", d["decisions"] == {"allow": 5, "redact": 0, "deny": 1},
                   "decisions %r" % d["decisions"]))
    t = dry([])
    ok = "role mailboxes" in t.stdout and "rule support" in t.stdout and "(unused)" in t.stdout \
        and "without the allow lists 4 of them would be denied" in t.stdout
    checks.append(("dryrun-text", ok, t.stdout[-800:]))
    hp = os.path.join(tmp, "r.html")
    h = dry(["--html", hp])
    html = open(hp).read() if h.returncode == 0 else ""
    checks.append(("dryrun-html", "<h2>Allow lists</h2>" in html and "tenant t-a" in html,
                   "exit %d, no allow-list table" % h.returncode))
    leaked = [v for v in values if v in p.stdout + t.stdout + html]
    checks.append(("dryrun-no-values", not leaked, "reports contain %r" % leaked))
except Exception as ex:
    checks.append(("dryrun", False, "%s: %s" % (type(ex).__name__, ex)))
# tollgate scan: the policy-level lists and the role-mailbox default apply
# (without a config: the default); --no-allow shows every detector match.
def scan(text, extra):
    return subprocess.run([binary, "scan", "--jsonl"] + extra + ["-"], input=json.dumps({"text": text}) + "\n",
                          capture_output=True, text=True, timeout=30)
def scan_counts(p):
    d = json.loads(p.stdout)
    return [f["entity"] for f in d["findings"]], {x["entity"]: x["count"] for x in d.get("allowed", [])}
pol = os.path.join(root, "tests/cases/policies/")
agent = "Co-Authored-By: Claude <noreply@anthropic.com>; bounces to postmaster@example.org"
for name, text, extra, want in [
        ("scan-default-role", "bounces to postmaster@example.org", [], ([], {"EMAIL_ADDRESS": 1})),
        ("scan-no-allow", "bounces to postmaster@example.org", ["--no-allow"], (["EMAIL_ADDRESS"], {})),
        ("scan-config-lists", agent, ["--config", pol + "allow.yaml"], ([], {"EMAIL_ADDRESS": 2})),
        ("scan-config-roles-personal", agent, ["--config", pol + "allow-roles-personal.yaml"],
         (["EMAIL_ADDRESS"], {"EMAIL_ADDRESS": 1})),
        ("scan-personal-still-found", "write to jane.doe@gmail.com", ["--config", pol + "allow.yaml"],
         (["EMAIL_ADDRESS"], {})),
        ("scan-tenant-list-not-applied", "cc ops@acme.example", ["--config", pol + "allow.yaml"],
         (["EMAIL_ADDRESS"], {}))]:
    try:
        p = scan(text, extra)
        got = scan_counts(p)
        checks.append((name, p.returncode == 0 and got == want, "exit %d, got %r, want %r" % (p.returncode, got, want)))
    except Exception as ex:
        checks.append((name, False, "%s: %s" % (type(ex).__name__, ex)))
# Claude Code's own request (tests/e2e/fixtures/claude-code-*.json, recorded
# from the real client): its system prompt carries noreply@anthropic.com.
# Unmodified, it passes the demo's code_generation rule (pii_allowed: false);
# with a real personal address added to the user's turn it is denied; and
# without the allow lists the detectors do see the address (so the first
# check can fail).
fixtures = sorted(glob.glob(os.path.join(root, "tests/e2e/fixtures/claude-code-*.json")))
demo = os.path.join(root, "rules/examples/demo.yaml")
def explain_body(body):
    rp = os.path.join(tmp, "cc.json")
    with open(rp, "w") as f:
        json.dump(body, f)
    p = subprocess.run([binary, "explain", "--config", demo, "--request", rp, "--tenant", "globex",
                        "--category", "code_generation"], capture_output=True, text=True, timeout=30)
    return json.loads(p.stdout)
if not fixtures:
    print("SKIP: allow/claude-code (no tests/e2e/fixtures/claude-code-*.json)")
for fx in fixtures:
    name = "claude-code/" + os.path.basename(fx)[:-5]
    try:
        body = json.load(open(fx))["body"]
        d = explain_body(body)
        ok = d["decision"] == "allow" and not d["pii"] and \
            {x["entity"]: x["count"] for x in d["allowed"]}.get("EMAIL_ADDRESS", 0) >= 1
        checks.append((name + "-served", ok, "decision %s pii %r allowed %r" % (d["decision"], d["pii"], d["allowed"])))
        raw = subprocess.run([binary, "scan", "--no-allow", "-"], input=json.dumps(body), capture_output=True,
                             text=True, timeout=30)
        checks.append((name + "-raw-scan-finds-it", "EMAIL_ADDRESS" in raw.stdout, raw.stdout[:300]))
        last = body["messages"][-1]
        if isinstance(last["content"], str):
            last["content"] += " Also mail the summary to jane.doe@gmail.com"
        else:
            last["content"].append({"type": "text", "text": "Also mail the summary to jane.doe@gmail.com"})
        d = explain_body(body)
        pii = {x["entity"]: x["count"] for x in d["pii"]}
        checks.append((name + "-personal-denied", d["decision"] == "deny" and pii.get("EMAIL_ADDRESS") == 1,
                       "decision %s pii %r" % (d["decision"], d["pii"])))
    except Exception as ex:
        checks.append((name, False, "%s: %s" % (type(ex).__name__, ex)))
for name, ok, why in checks:
    if ok:
        print("PASS: allow/%s" % name)
    else:
        failed += 1
        print("FAIL: allow/%s" % name)
        print("    " + why)
for f in os.listdir(tmp):
    os.remove(os.path.join(tmp, f))
os.rmdir(tmp)
sys.exit(1 if failed or not files else 0)
PY
