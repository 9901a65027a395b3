#!/usr/bin/env python3
"""gen.py — writes tests/cases/pii/structured/<detector>.tsv for every
detector in rules/pii/*.yaml: a few of the "+" identifiers of its case file
(tests/cases/pii/<detector>.tsv) in the shapes structured text takes — CSV,
TSV, key=value logs, JSON, XML, Markdown tables, URL queries — and hard
negatives (a longer run holding the identifier; for a weak identifier, the
same value under an unrelated `order_id` column).  Column-context cases put
a weak identifier under a header cell made of each of its detector's context
words (every language the rules list).

Run it by hand after changing a detector or its case file, and commit the
output:  python3 tests/cases/pii/structured/gen.py [path/to/tollgate]

It runs the tollgate binary once, to sort each picked identifier into
"strong" (reported on its own: the shapes carry no context word) and "weak"
(needs a context word: every positive shape names the detector, through a
header, key or element name).  Keyword secrets (a rule whose pattern holds
the key, `COHERE_API_KEY=...`) keep the key of their case file.  The output
does not depend on anything else the scanner does, so a scanner bug shows up
as a FAIL in tests/scripts/structured_cases.sh, not as a missing case.
"""
import json, os, re, subprocess, sys, tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", "..", ".."))
CASES = os.path.join(ROOT, "tests", "cases", "pii")
PER_DETECTOR = 2      # identifiers taken from each case file


# ---------------------------------------------------------------- inputs

def detectors():
    out, seen = [], set()

    def load(path):
        d = yaml.safe_load(open(path, encoding="utf-8"))
        for inc in d.get("include", []) or []:
            p = os.path.join(os.path.dirname(path), inc)
            if p not in seen:
                seen.add(p)
                load(p)
        out.extend(d.get("detectors", []) or [])

    load(os.path.join(ROOT, "rules", "pii", "default.yaml"))
    return out


def body(s):
    """A JSON string body (the case files' field format)."""
    return json.dumps(s, ensure_ascii=False)[1:-1]


def unbody(s):
    return json.loads('"' + s + '"')


def case_file(det_id):
    ent, ms, plus = None, None, []
    for line in open(os.path.join(CASES, det_id + ".tsv"), encoding="utf-8"):
        line = line.rstrip("\n")
        if line.startswith("# entity:"):
            ent = line.split(":", 1)[1].strip()
        elif line.startswith("# min-score:"):
            ms = line.split(":", 1)[1].split()[0]
        elif line.startswith("+\t"):
            f = line.split("\t")
            plus.append((unbody(f[1]), unbody(f[2])))
    return ent, ms, plus


def scan(texts, min_score=None):
    """Findings (entity, matched text) of each text, in order."""
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "tollgate")
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False, encoding="utf-8") as f:
        for t in texts:
            f.write(json.dumps({"text": t}, ensure_ascii=False) + "\n")
        name = f.name
    try:
        cmd = [binary, "scan", "--jsonl", "--no-allow"]
        if min_score:
            cmd += ["--min-score", min_score]
        out = subprocess.run(cmd + [name], check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(name)
    res = []
    for line in out.splitlines():
        o = json.loads(line)
        t = o["text"]
        res.append({(x["entity"], t[x["start"]:x["end"]]) for x in o["findings"]})
    return res


# ---------------------------------------------------------------- shapes

# Words that are context words of no detector, for the neutral keys and
# headers of strong identifiers.
NEUTRAL = "value"


def key_of(text, match):
    """The key a keyword secret's case text puts before the value."""
    pre = text[: text.index(match)]
    keys = re.findall(r"[A-Za-z_][\w.-]*", pre)
    return keys[-1] if keys else None


def url_ok(v):
    # A URL carries a query value percent-encoded; only values made of
    # characters a query leaves as they are (plus the space, which a real
    # export writes as %20) are written into one.
    return re.fullmatch(r"[A-Za-z0-9._~:/@!$'()*,;= -]+", v) is not None


def keyword_shapes(v, key):
    """A keyword secret: its key is part of its pattern, so every shape
    writes the key beside the value (a table's header far above a value is
    context for detectors with context words; these rules have none).
    A name/value export row counts as an assignment: `KEY,v`, `KEY;v`,
    `KEY<TAB>v`, `| KEY | v |`."""
    js = json.dumps(v, ensure_ascii=False)
    out = [("csv pair", f"name,value\n{key},{v}", v),
           ("csv pair quoted", f'"name","value"\n"{key}","{v}"', v),
           ("csv pair;", f"name;value\n{key};{v}", v),
           ("tsv pair", f"name\tvalue\n{key}\t{v}", v),
           ("markdown pair", f"| name | value |\n|---|---|\n| {key} | {v} |", v),
           ("kv space", f"handler=checkout {key}={v} result=ok", v),
           ("kv pipe", f"handler=checkout|{key}={v}|result=ok", v),
           ("json", f'{{"{key}":{js},"ok":true}}', js[1:-1]),
           ("json spaced", f'{{"id": 4411, "{key}": {js}}}', js[1:-1]),
           ("xml", f"<row><{key}>{v}</{key}></row>", v)]
    if url_ok(v):
        out.append(("url first", f"https://example.com/pay?{key}={v}&x=1", v))
        out.append(("url after &", f"https://example.com/pay?x=1&{key}={v}", v))
    return out


def shapes(v, key, weak):
    """(name, text, expected match) positives for value v.  key names the
    column/field: the detector's context word for a weak value, a neutral
    word for a strong one (or a keyword secret's key)."""
    out = []
    one_line = v if "\n" not in v else v.replace("\n", "\\n")
    q = '"' + v.replace('"', '""') + '"'
    if weak:
        # CSV and TSV: the header names the column
        for d in (",", ";"):
            f = q if d in v else v   # a CSV writer quotes a field holding its delimiter
            out.append(("csv first" + d, f"{key}{d}id{d}date\n{f}{d}4411{d}2026-11-02", v))
            out.append(("csv middle" + d, f"id{d}{key}{d}date\n4411{d}{f}{d}2026-11-02", v))
            out.append(("csv last" + d, f"id{d}date{d}{key}\n4411{d}2026-11-02{d}{f}", v))
            out.append(("csv quoted" + d, f"id{d}{key}{d}date\n4411{d}{q}{d}2026-11-02", v))
        out.append(("tsv", f"id\t{key}\tdate\n4411\t{one_line}\t2026-11-02", one_line))
        out.append(("markdown", f"| id | {key} | date |\n| --- | --- | --- |\n| 4411 | {one_line} | 2026-11-02 |",
                    one_line))
    else:
        for d in (",", ";"):
            f = q if d in v else v
            out.append(("csv first" + d, f"{f}{d}4411{d}2026-11-02", v))
            out.append(("csv middle" + d, f"4411{d}{f}{d}2026-11-02", v))
            out.append(("csv last" + d, f"4411{d}2026-11-02{d}{f}", v))
            out.append(("csv quoted" + d, f"4411{d}{q}{d}2026-11-02", v))
        out.append(("tsv", f"4411\t{one_line}\t2026-11-02", one_line))
        out.append(("markdown", f"| 4411 | {one_line} | 2026-11-02 |", one_line))
    # key=value logs: a value with blanks is quoted, as loggers do (logfmt,
    # slog); the unquoted spaced IBAN is kept as well, below
    kv = one_line if " " not in one_line else '"' + one_line + '"'
    out.append(("kv space", f"handler=checkout {key}={kv} result=ok", one_line))
    out.append(("kv pipe", f"handler=checkout|{key}={one_line}|result=ok", one_line))
    if " " in one_line:
        out.append(("kv space unquoted", f"handler=checkout {key}={one_line} result=ok", one_line))
    js = json.dumps(v, ensure_ascii=False)
    out.append(("json", f'{{"{key}":{js},"ok":true}}', js[1:-1]))
    out.append(("json spaced", f'{{"id": 4411, "{key}": {js}}}', js[1:-1]))
    xml = v.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    out.append(("xml", f"<row><{key}>{xml}</{key}></row>", xml if xml == v else None))
    if url_ok(v) and "\n" not in v and "&" not in v:
        u = v.replace(" ", "%20")
        out.append(("url first", f"https://example.com/pay?{key}={u}&x=1", u))
        out.append(("url after &", f"https://example.com/pay?x=1&{key}={u}", u))
    return [s for s in out if s[2] is not None]


def run_negatives(v, secret):
    """A longer run of digits or letters holding v."""
    out = []
    if secret:
        # a URL glued to a word is still the URL
        return ["Q" + v] if v[:1].isalnum() and not v.startswith("http") else []
    if v[:1].isdigit():
        out.append("1" + v)
    elif v[:1].isalpha():
        out.append("Q" + v)
    if v[-1:].isdigit():
        out.append(v + "7")
    elif v[-1:].isalpha():
        out.append(v + "Q")
    return out


# Detectors whose identifier is not a fixed-length run, so a longer run
# holding it is itself an identifier of the same kind: no run negatives.
NO_RUN_NEGATIVE = {
    "email": "a longer local part or domain is another address",
    "phone": "numbering plans have several lengths",
    "url": "a longer host or path is another URL",
    "date_time": "a year with more digits is not a date, but 'Q2024-03-05' starts with a date",
    "crypto_btc": "Base58 addresses have 26-35 characters",
    "us_bank_number": "account numbers have 8-17 digits",
    "us_driver_license": "state formats have 5-13 characters",
    "private_key": "a PEM block has no fixed length",
    "generic_secret": "any random value of 8-200 characters",
    "auth_header": "any credential of 16-1000 characters",
    "ipv4": "octets have 1-3 digits: 192.168.1.207 is another address",
    "au_medicare": "the one-digit IRN after the number is optional",
    "de_tax_number": "the states' slashed forms have 2-3/3-4/4-5 digit groups",
    "es_passport": "two or three letters lead the number",
    "tr_license_plate": "1-3 letters and 2-4 digits",
    "ph_tin": "an optional 3-5 digit branch code follows",
    "de_kfz": "the district code has 1-3 letters",
    "de_commercial_register": "1-6 digits and an optional court suffix",
    "slack_webhook": "a URL glued to a word is still the URL",
    "teams_webhook": "a URL glued to a word is still the URL",
    "url_credentials": "a URL glued to a word is still the URL",
    "connection_string": "a URL glued to a word is still the URL",
}

# Secrets: only a letter glued before the token is a hard negative (the
# vendor prefix must start a token); most credentials have a body of
# variable length, so a longer one after it is the same credential.
SECRET_SUFFIX_OK = False

# Header words that two detectors share, where the other one's reading of
# the same value outranks this one's: a column named only by that word is
# ambiguous, so the column-context case is left out.
SHARED_WORD = {
    ("aba_routing", "bank"): "US_BANK_NUMBER (0.95 with 'bank') outranks the routing reading (0.75)",
    ("in_vehicle_registration", "plate"): "TR_LICENSE_PLATE reads '37LP0651' inside 'GJ 37LP0651' under 'plate'",
}

# Weak identifiers that are only ever written inside a larger string their
# pattern needs: the case text itself is the field value.
WHOLE_TEXT = {
    "azure_storage_key": "AccountKey= lives inside an Azure connection string",
    "connection_string": "the password is reported inside its ADO/JDBC connection string",
}

# Weak identifiers left out of the structured shapes.
WEAK_SKIP = {
    "npm_token": "the UUID form is an npm token only after '_authToken=' in an .npmrc line; the npm_ form is covered",
    "gcp_service_account": None,   # only the JSON shape (below)
    "nuget_api_key": "the password form is an attribute of a NuGet.Config <add> element; the oy2 form is covered",
}

# Detectors written in one shape only.
ONLY_SHAPES = {
    "gcp_service_account": ({"json", "json spaced"}, "a service-account key id is a field of the key's JSON file"),
    "auth_header": ({"kv space", "kv pipe", "json", "json spaced"},
                    "an Authorization header is a header dump line or a JSON headers object"),
}

# A prefix written before the value, and the key that goes with it.
VALUE_PREFIX = {"auth_header": ("Authorization", "Bearer ")}

# Shapes left out for a detector, and why.
SKIP_SHAPES = {
    "url": ({"csv first,", "csv middle,", "csv last,", "csv first;", "csv middle;", "csv last;", "kv pipe",
             "url first", "url after &"},
            "',' ';' '|' are URL characters: the finding runs on to the next blank (still reported); a URL "
            "inside a query is percent-encoded"),
    "generic_secret": ({"csv pair", "csv pair quoted", "csv pair;", "tsv pair", "markdown pair", "xml"},
                       "its keys are common words (pass, auth, token): only '=' and ':' assign, "
                       "since ',' or '>' after them is prose or code (a key-value export row is "
                       "covered for the vendors' keyword rules)"),
    "date_time": ({"url first", "url after &"},
                  "the URL finding (same 0.3 score, longer) covers a date in its query"),
}


def main():
    dets = detectors()
    files = {}
    probe = []   # texts whose scan sorts values into strong and weak
    plan = []
    for d in dets:
        ent, ms, plus = case_file(d["id"])
        ctx = [str(w) for w in d.get("context", []) or []]
        picked, seen = [], set()
        for match, text in plus:
            if match in seen:
                continue
            seen.add(match)
            picked.append((match, text))
        plan.append((d, ent, ms, ctx, picked))
        for match, _ in picked:
            probe.append((d["id"], ms, match))
    # one scan per min score
    bare = {}
    for ms in sorted({p[1] for p in probe}, key=lambda x: x or ""):
        sel = [p for p in probe if p[1] == ms]
        res = scan([p[2] for p in sel], ms)
        for p, r in zip(sel, res):
            bare[(p[0], p[2])] = r

    for d, ent, ms, ctx, picked in plan:
        did = d["id"]
        keyword = bool(d.get("group"))
        strong, weak = [], []
        for match, text in picked:
            found = (ent, match) in bare[(did, match)]
            (strong if found else weak).append((match, text))
        lines = []
        # strong values first (the shapes without context), then weak ones
        chosen = strong[:PER_DETECTOR] + weak[: max(0, PER_DETECTOR - len(strong[:PER_DETECTOR]))]
        if len(strong) >= PER_DETECTOR and weak:
            chosen.append(weak[0])   # one weak value too: column context
        secret = d.get("class") == "secret"
        only, _ = ONLY_SHAPES.get(did, (None, None))
        skip, _ = SKIP_SHAPES.get(did, (set(), None))
        for match, text in chosen:
            is_weak = (match, text) in weak
            if is_weak and did in WEAK_SKIP and did not in ONLY_SHAPES:
                continue
            if did in VALUE_PREFIX:
                key, pre = VALUE_PREFIX[did]
                for name, t, exp in keyword_shapes(pre + match, key):
                    if only is None or name in only:
                        lines.append(("+", match, t, name))
                continue
            if did in WHOLE_TEXT and is_weak:
                for name, t, _e in shapes(text, NEUTRAL, False):
                    if "url" not in name and (only is None or name in only):
                        lines.append(("+", match, t, name))
                continue
            if keyword and is_weak:
                key = key_of(text, match)
                for name, t, exp in keyword_shapes(match, key):
                    if (only is None or name in only) and name not in skip:
                        lines.append(("+", exp, t, name))
                continue
            if is_weak:
                words = [w for w in ctx if re.search(r"(?<!\w)" + re.escape(w) + r"(?!\w)", text, re.I)]
                key = words[0] if words else (ctx[0] if ctx else NEUTRAL)
            else:
                key = NEUTRAL
            for name, t, exp in shapes(match, key, is_weak):
                if (only is None or name in only) and name not in skip:
                    lines.append(("+", exp, t, name))
            # hard negatives: the filler beside them is no date, so no
            # date_of_birth reading of a neighbouring cell gets in the way
            if did not in NO_RUN_NEGATIVE and only is None:
                for r in run_negatives(match, secret):
                    if is_weak:
                        lines.append(("-", None, f"id,{key},status\n4411,{r},ok", "longer run"))
                    else:
                        lines.append(("-", None, f"4411,{r},ok", "longer run"))
            if is_weak and not keyword:
                # an unrelated column must not invent context
                lines.append(("-", None, f"id,order_id,status\n4411,{match},ok", "order_id column"))
                lines.append(("-", None, f"| id | order_id |\n| --- | --- |\n| 4411 | {match} |", "order_id column"))
                lines.append(("-", None, f"4411\t{match}\tok", "no header"))
                lines.append(("-", None, f"handler=checkout order_id={match} result=ok", "order_id key"))
                lines.append(("-", None, f'{{"order_id": "{match}", "status": "ok"}}', "order_id key"))
                # column context: every context word names the column, in
                # a CSV and a Markdown table
                for w in ctx:
                    if (did, w) in SHARED_WORD:
                        continue
                    lines.append(("+", match, f"name,{w},date\nAcme,{match},2026-11-02", "header " + w))
                    lines.append(("+", match, f"| name | {w} |\n|---|---|\n| Acme | {match} |", "md header " + w))
                    if w.isascii():
                        # the way exports name columns: nhs_number, Routing
                        lines.append(("+", match, f"name\t{w}_number\nAcme\t{match}", "tsv header " + w))
                        lines.append(("+", match, f"Name;{w.capitalize()}\nAcme;{match}", "title header " + w))
        files[did] = (ent, ms, lines)

    for did, (ent, ms, lines) in files.items():
        with open(os.path.join(HERE, did + ".tsv"), "w", encoding="utf-8") as f:
            f.write(f"# Structured-text cases for {did} (written by gen.py: edit that, not this)\n")
            f.write(f"# entity: {ent}\n")
            if ms:
                f.write(f"# min-score: {ms}\n")
            f.write("# \"+<TAB>match<TAB>text\": reported exactly at match; \"-<TAB>text\": no finding.\n")
            for kind, exp, t, name in lines:
                if kind == "+":
                    f.write(f"+\t{body(exp)}\t{body(t)}\n")
                else:
                    f.write(f"-\t{body(t)}\n")


if __name__ == "__main__":
    main()
