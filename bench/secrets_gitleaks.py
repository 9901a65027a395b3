#!/usr/bin/env python3
"""secrets_gitleaks.py — tollgate's secret detectors against the true and
false positives of gitleaks' own rule tests.

    python3 bench/secrets_gitleaks.py /path/to/gitleaks [--tollgate build/tollgate]

Reads cmd/generate/config/rules/*.go of a gitleaks checkout at run time
(nothing of it is kept here).  Per rule it collects the `tps` and `fps`
samples that are string expressions: literals, concatenations, and
secrets.NewSecret(...) of simple patterns (drawn here from a fixed seed);
GenerateSampleSecrets(id, secret) is expanded into the assignment shapes
gitleaks uses (tests/scripts/gen_secret_cases.py SHAPES).  Samples built
with fmt.Sprintf or patterns this script cannot draw are skipped and
counted.  Each rule is mapped to the tollgate entity that covers it; rules
outside the secret set tollgate targets are left out.

A true positive counts as found when the scan reports the mapped entity;
"any secret" counts any class-secret finding.  A false positive is a false
alarm when the scan reports the mapped entity.  Prints a Markdown table.
"""
import json, os, random, re, subprocess, sys, tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "scripts"))
R = random.Random(7)

MAP = [  # gitleaks rule id prefix -> tollgate entity
    ("aws-access-token", "AWS_ACCESS_KEY"), ("aws-amazon-bedrock-api-key-long", "AWS_BEDROCK_API_KEY"),
    ("gcp-api-key", "GCP_API_KEY"), ("azure-ad-client-secret", "AZURE_CLIENT_SECRET"),
    ("alibaba-access-key", "ALIBABA_ACCESS_KEY"), ("alibaba-secret-key", "ALIBABA_SECRET_KEY"),
    ("digitalocean-", "DIGITALOCEAN_TOKEN"), ("github-", "GITHUB_TOKEN"), ("gitlab-", "GITLAB_TOKEN"),
    ("bitbucket-client-secret", "BITBUCKET_TOKEN"), ("travisci-", "TRAVIS_TOKEN"),
    ("slack-webhook", "SLACK_WEBHOOK"), ("slack-", "SLACK_TOKEN"), ("discord-api-token", "DISCORD_TOKEN"),
    ("discord-client-secret", "DISCORD_TOKEN"), ("telegram-", "TELEGRAM_BOT_TOKEN"),
    ("microsoft-teams-webhook", "TEAMS_WEBHOOK"), ("stripe-", "STRIPE_KEY"), ("square-access", "SQUARE_TOKEN"),
    ("shopify-", "SHOPIFY_TOKEN"), ("openai-", "OPENAI_API_KEY"), ("anthropic-", "ANTHROPIC_API_KEY"),
    ("huggingface-", "HUGGINGFACE_TOKEN"), ("perplexity-", "PERPLEXITY_API_KEY"), ("cohere-", "COHERE_API_KEY"),
    ("npm-", "NPM_TOKEN"), ("pypi-", "PYPI_TOKEN"), ("rubygems-", "RUBYGEMS_TOKEN"), ("nuget-", "NUGET_API_KEY"),
    ("artifactory-", "ARTIFACTORY_TOKEN"), ("jfrog-", "ARTIFACTORY_TOKEN"), ("planetscale-", "PLANETSCALE_TOKEN"),
    ("databricks-", "DATABRICKS_TOKEN"), ("sendgrid-", "SENDGRID_API_KEY"), ("twilio-", "TWILIO_API_KEY"),
    ("mailgun-", "MAILGUN_API_KEY"), ("mailchimp-", "MAILCHIMP_API_KEY"), ("heroku-", "HEROKU_API_KEY"),
    ("atlassian-", "ATLASSIAN_API_TOKEN"), ("datadog-", "DATADOG_API_KEY"), ("new-relic-", "NEW_RELIC_KEY"),
    ("sentry-", "SENTRY_TOKEN"), ("doppler-", "DOPPLER_TOKEN"), ("vault-", "VAULT_TOKEN"), ("okta-", "OKTA_TOKEN"),
    ("grafana-", "GRAFANA_TOKEN"), ("postman-", "POSTMAN_API_KEY"), ("linear-", "LINEAR_API_KEY"),
    ("notion-", "NOTION_TOKEN"), ("dropbox-", "DROPBOX_TOKEN"), ("pulumi-", "PULUMI_TOKEN"),
    ("hashicorp-tf-api-token", "TERRAFORM_TOKEN"), ("age-secret-key", "AGE_SECRET_KEY"),
    ("private-key", "PRIVATE_KEY"), ("jwt", "JWT"), ("generic-api-key", "GENERIC_SECRET"),
]
# entities of the PII detectors (everything else a scan reports is a secret)
PII = {"EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "US_ITIN", "IBAN_CODE", "IP_ADDRESS", "MAC_ADDRESS",
       "US_PASSPORT", "US_DRIVER_LICENSE", "US_BANK_NUMBER", "ABA_ROUTING_NUMBER", "UK_NHS", "UK_NINO",
       "CN_RESIDENT_ID", "CRYPTO", "DATE_OF_BIRTH"}
HELPERS = {"Numeric": "[0-9]{%s}", "Hex": "[a-f0-9]{%s}", "AlphaNumeric": "[a-z0-9]{%s}",
           "AlphaNumericExtendedShort": "[a-z0-9_-]{%s}", "AlphaNumericExtended": "[a-z0-9=_\\-]{%s}",
           "AlphaNumericExtendedLong": "[a-z0-9\\/=_\\+\\-]{%s}"}


class Skip(Exception):
    pass


def draw(rx):
    """A random string for a simple pattern: literals, escapes, [classes]
    with {n}, {m,n}, ?, +, *; (?i) ignored; groups are not drawn."""
    rx = rx.replace("(?i)", "")
    out, i = [], 0
    while i < len(rx):
        c = rx[i]
        if c in "()|^$":
            raise Skip
        if c == "[":
            j = i + 1
            chars = []
            while rx[j] != "]":
                a = rx[j]
                if a == "\\":
                    j += 1
                    a = rx[j]
                    if a in "dw":
                        chars += list("0123456789") + (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_") if a == "w" else [])
                        j += 1
                        continue
                if j + 2 < len(rx) and rx[j + 1] == "-" and rx[j + 2] != "]":
                    chars += [chr(k) for k in range(ord(a), ord(rx[j + 2]) + 1)]
                    j += 3
                else:
                    chars.append(a)
                    j += 1
            alpha, i = chars, j + 1
        elif c == "\\":
            if rx[i + 1] in "dw":
                alpha = list("0123456789") if rx[i + 1] == "d" else list("abcdefghijklmnopqrstuvwxyz0123456789_")
            else:
                alpha = [rx[i + 1]]
            i += 2
        elif c == ".":
            raise Skip
        else:
            alpha, i = [c], i + 1
        n = 1
        m = re.match(r"\{(\d+)(?:,(\d+))?\}|[?+*]", rx[i:])
        if m:
            if m.group(0) == "?":
                n = R.choice([0, 1])
            elif m.group(0) in "+*":
                n = R.randint(1, 8)
            else:
                n = R.randint(int(m.group(1)), int(m.group(2) or m.group(1)))
            i += len(m.group(0))
        out.append("".join(R.choice(alpha) for _ in range(n)))
    return "".join(out)


def go_string(src, i):
    """Parse a Go string literal at src[i]; return (value, next index)."""
    if src[i] == "`":
        j = src.index("`", i + 1)
        return src[i + 1:j], j + 1
    j = i + 1
    while src[j] != '"':
        j += 2 if src[j] == "\\" else 1
    return json.loads(src[i:j + 1].replace("\\'", "'")), j + 1


def split_args(src, i):
    """Top-level comma-separated expressions from src[i] (just inside a
    bracket) to the closing bracket; returns (list of source, end)."""
    depth, parts, start, j = 0, [], i, i
    while True:
        c = src[j]
        if c in "`\"":
            _, j = go_string(src, j)
            continue
        if c == "/" and src[j + 1] == "/":
            j = src.index("\n", j)
            continue
        if c in "([{":
            depth += 1
        elif c in ")]}":
            if depth == 0:
                parts.append(src[start:j])
                return [p for p in (x.strip() for x in parts) if p], j
            depth -= 1
        elif c == "," and depth == 0:
            parts.append(src[start:j])
            start = j + 1
        j += 1


def eval_expr(e):
    """Value of a Go string expression: literals, +, NewSecret(...)."""
    e = re.sub(r"//[^\n]*", "", e).strip()
    out, i = "", 0
    while i < len(e):
        c = e[i]
        if c in " \t\n+":
            i += 1
        elif c in "`\"":
            v, i = go_string(e, i)
            out += v
        elif e.startswith("secrets.NewSecret(", i):
            args, j = split_args(e, i + len("secrets.NewSecret("))
            a = args[0]
            m = re.match(r"utils\.(\w+)\(\"(\d+)\"\)$", a)
            if m and m.group(1) in HELPERS:
                out += draw(HELPERS[m.group(1)] % m.group(2))
            elif a == "utils.Hex8_4_4_4_12()":
                out += draw("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
            elif a[0] in "`\"":
                out += draw(go_string(a, 0)[0])
            else:
                raise Skip
            i = j + 1
        else:
            raise Skip
    return out


def samples(body, var, shapes):
    got, skipped = [], 0
    for m in re.finditer(r"\b%s\s*:?=\s*" % var, body):
        j = m.end()
        rest = body[j:]
        if rest.startswith("utils.GenerateSampleSecrets("):
            calls = [(j + len("utils.GenerateSampleSecrets("),)]
        elif rest.startswith("[]string{"):
            calls = None
            args, _ = split_args(body, j + len("[]string{"))
            for a in args:
                try:
                    got.append(eval_expr(a))
                except (Skip, ValueError, IndexError):
                    skipped += 1
            continue
        elif rest.startswith("append(%s," % var):
            args, _ = split_args(body, j + len("append(%s," % var))
            for a in args:
                if a.startswith("utils.GenerateSampleSecrets("):
                    a = a[:-3] if a.endswith("...") else a
                    inner, _ = split_args(a, len("utils.GenerateSampleSecrets("))
                    try:
                        got += shapes(eval_expr(inner[1]), eval_expr(inner[0]))
                    except (Skip, ValueError, IndexError):
                        skipped += 1
                    continue
                try:
                    got.append(eval_expr(a))
                except (Skip, ValueError, IndexError):
                    skipped += 1
            continue
        else:
            skipped += 1
            continue
        for (k,) in calls:
            inner, _ = split_args(body, k)
            try:
                got += shapes(eval_expr(inner[1]), eval_expr(inner[0]))
            except (Skip, ValueError, IndexError):
                skipped += 1
    return got, skipped


def main():
    from secret_shapes import SHAPES
    root = sys.argv[1]
    tg = sys.argv[sys.argv.index("--tollgate") + 1] if "--tollgate" in sys.argv else "build/tollgate"
    shapes = lambda s, ident: [x.replace("{i}", ident).replace("{I}", ident.upper()).replace("{s}", s) for x in SHAPES]
    rules = {}
    skipped = 0
    rdir = os.path.join(root, "cmd/generate/config/rules")
    for fn in sorted(os.listdir(rdir)):
        if not fn.endswith(".go") or fn.endswith("_test.go"):
            continue
        src = open(os.path.join(rdir, fn)).read()
        for body in re.split(r"\nfunc ", src)[1:]:
            m = re.search(r'RuleID:\s*"([^"]+)"', body)
            if not m:
                continue
            rid = m.group(1)
            ent = next((e for p, e in MAP if rid.startswith(p)), None)
            if ent is None:
                continue
            tps, s1 = samples(body, "tps", shapes)
            fps, s2 = samples(body, "fps", shapes)
            skipped += s1 + s2
            rules[rid] = (ent, tps, fps)
    lines = []
    for rid, (ent, tps, fps) in rules.items():
        for kind, xs in (("+", tps), ("-", fps)):
            for x in xs:
                if not x.strip():
                    continue
                lines.append(json.dumps({"rule": rid, "entity": ent, "kind": kind, "text": x}))
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        f.write("\n".join(lines) + "\n")
        path = f.name
    out = subprocess.run([tg, "scan", "--jsonl", path], capture_output=True, text=True).stdout.splitlines()
    os.unlink(path)
    per = {}
    secret = None
    for o in map(json.loads, out):
        ents = {x["entity"] for x in o["findings"]}
        d = per.setdefault(o["entity"], [0, 0, 0, 0, 0, 0])  # tp, found, any, fp, alarms, any
        miss = (o["kind"] == "+") != (o["entity"] in ents)
        if miss and "--show" in sys.argv:
            print("%s %s %s" % ("MISS" if o["kind"] == "+" else "ALARM", o["rule"], json.dumps(o["text"])[:150]),
                  file=sys.stderr)
        if o["kind"] == "+":
            d[0] += 1
            d[1] += o["entity"] in ents
            d[2] += bool(ents - PII)
        else:
            d[3] += 1
            d[4] += o["entity"] in ents
            d[5] += bool(ents - PII)
    print("| entity | true positives | found | recall | negatives | false alarms | false-alarm rate |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    t = [0] * 6
    for ent in sorted(per):
        d = per[ent]
        t = [a + b for a, b in zip(t, d)]
        print("| %s | %d | %d | %s | %d | %d | %s |" % (ent, d[0], d[1], "%.0f%%" % (100 * d[1] / d[0]) if d[0] else "-",
                                                    d[3], d[4], "%.0f%%" % (100 * d[4] / d[3]) if d[3] else "-"))
    print("| **all** | %d | %d | %.1f%% | %d | %d | %.1f%% |" % (t[0], t[1], 100 * t[1] / t[0], t[3], t[4], 100 * t[4] / t[3]))
    print("\nAny secret entity (not only the mapped one): %d of %d true positives found (%.1f%%), "
          "%d of %d negatives flagged (%.1f%%)." % (t[2], t[0], 100 * t[2] / t[0], t[5], t[3], 100 * t[5] / t[3]))
    print("\n%d gitleaks rules mapped; %d sample expressions skipped (fmt.Sprintf, patterns with groups)." % (len(rules), skipped))


if __name__ == "__main__":
    main()
