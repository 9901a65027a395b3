#!/usr/bin/env python3
"""check.py EXPECT.json ACTUAL.json — compare selected fields of a dry-run --json.

EXPECT maps paths to values.  A path is dot-separated keys ("changes.newly_denied");
keys may themselves contain dots when no shorter prefix exists ("by_rule.tenant.unknown"
finds the key "tenant.unknown"); "name[field=value]" picks the array element whose
field equals value ("cost.monolithic[model=gpt-4o].usd").  Numbers compare with a
relative tolerance of 1e-9.  Prints one "PASS: case/path" or "FAIL: case/path" line
per entry, with both sides on failure.
"""
import json
import re
import sys


def resolve(obj, path):
    if path == "":
        return obj
    if isinstance(obj, dict):
        # Longest key first, so "tenant.unknown" wins over "tenant".
        for key in sorted(obj.keys(), key=len, reverse=True):
            if path == key:
                return obj[key]
            if path.startswith(key + ".") or path.startswith(key + "["):
                rest = path[len(key):]
                return resolve_rest(obj[key], rest)
        m = re.match(r"^([^.\[]+)(.*)$", path)
        raise KeyError(m.group(1) if m else path)
    raise KeyError(path)


def resolve_rest(obj, rest):
    if rest.startswith("."):
        return resolve(obj, rest[1:])
    m = re.match(r"^\[([^=\]]+)=([^\]]*)\](.*)$", rest)
    if not m or not isinstance(obj, list):
        raise KeyError(rest)
    for e in obj:
        if isinstance(e, dict) and str(e.get(m.group(1))) == m.group(2):
            return resolve_rest(e, m.group(3)) if m.group(3) else e
    raise KeyError(rest)


def same(a, b):
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
    return a == b


def main():
    case = sys.argv[3] if len(sys.argv) > 3 else "case"
    exp = json.load(open(sys.argv[1]))
    try:
        act = json.load(open(sys.argv[2]))
    except Exception as e:  # noqa: BLE001
        print("FAIL: %s/json (%s)" % (case, e))
        return 1
    bad = 0
    for path, want in exp.items():
        try:
            got = resolve(act, path)
        except KeyError:
            got = "<missing>"
        if same(got, want):
            print("PASS: %s/%s" % (case, path))
        else:
            bad += 1
            print("FAIL: %s/%s want %s got %s" % (case, path, json.dumps(want), json.dumps(got)))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
