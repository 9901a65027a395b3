#!/usr/bin/env python3
"""gen-traffic.py — deterministic synthetic captured traffic for `tollgate dry-run`.

Writes JSON Lines in both forms of CONTRACT section 7, mixed:
  * tollgate capture records {"ts","id","tenant","feature","category","export_tags",
    "request":{chat body},"usage"?}
  * OpenAI Batch API input lines {"custom_id","method","url","body"} with the
    routing context in body.metadata.

Modes:
  sample (default)  the committed rules/examples/traffic-sample.jsonl: a few hundred
                    requests across tenants, categories and features, with and without
                    PII (raw and as redaction placeholders), export markings and tags,
                    captured usage on some, and two deliberately malformed lines.
  bench             N requests of ~2 KiB on average, 5% with PII, for bench/bench_dryrun.sh.

Same seed, same bytes: the output is a pure function of the arguments.
All names, numbers and addresses are synthetic (example.com, 555 numbers,
test card numbers, sample IBANs).

usage: scripts/gen-traffic.py [--mode sample|bench] [--count N] [--seed S] [--out FILE]
"""
import argparse
import json
import random
import sys

TENANTS = ["acme-bank", "globex", "initech", "umbrella"]
TENANT_WEIGHTS = [35, 30, 20, 15]
CATEGORIES = ["code_generation", "enterprise_qa", "multilingual", "lightweight_chat",
              "complex_reasoning"]
CATEGORY_WEIGHTS = [30, 25, 15, 20, 10]
FEATURES = {
    "code_generation": ["code-review", "ide-assist"],
    "enterprise_qa": ["policy-search", "support-bot"],
    "multilingual": ["translate", "support-bot"],
    "lightweight_chat": ["chat-widget"],
    "complex_reasoning": ["risk-report", "doc-summary"],
}
SYSTEM = {
    "code_generation": "You are a senior software engineer. Answer with code and a short explanation.",
    "enterprise_qa": "You answer questions about internal policies using the provided excerpts only.",
    "multilingual": "Translate the user's text faithfully, keeping formatting and product names.",
    "lightweight_chat": "You are a friendly assistant for a banking web site. Keep answers short.",
    "complex_reasoning": "Reason step by step, state assumptions, and end with a one-line conclusion.",
}
TOPICS = {
    "code_generation": [
        "Write a Python function that merges overlapping intervals and add unit tests.",
        "Refactor this Go handler to stream the response body instead of buffering it.",
        "Explain why this C loop is undefined behaviour and fix it: for (i = 0; i <= n; i++) a[i] = 0;",
        "Generate a SQL migration adding a nullable column with a default and an index.",
        "Review this TypeScript reducer for missing cases in the switch statement.",
    ],
    "enterprise_qa": [
        "What is the travel reimbursement limit for client visits abroad?",
        "Summarise the data retention policy for customer support tickets.",
        "Which approvals are needed before a vendor gets production access?",
        "How many days of parental leave does the handbook grant?",
    ],
    "multilingual": [
        "Translate into German: Your statement is ready. Log in to download it.",
        "Translate into Japanese: The maintenance window starts at 02:00 UTC.",
        "Translate into Chinese: Please confirm your new delivery address.",
        "Translate into French: Your card has been shipped and arrives in 3 days.",
    ],
    "lightweight_chat": [
        "What are your opening hours on Saturday?",
        "How do I reset my online banking password?",
        "Can I change the PIN of my debit card in the app?",
        "Is there a fee for international transfers?",
    ],
    "complex_reasoning": [
        "Assess the credit risk of a mid-size manufacturer with falling margins and rising inventory.",
        "Compare two pricing strategies for a subscription product over three years.",
        "Given these quarterly figures, is the revenue dip seasonal or structural?",
    ],
}
FILLER = ("The attached excerpt is part of a longer document; keep the answer grounded in it. "
          "Context: quarterly planning notes, meeting minutes and a short glossary of internal "
          "terms follow. Items: roadmap review, hiring plan, budget reallocation, incident "
          "follow-ups, vendor renewals, training schedule. ")

# Synthetic PII only: reserved domains, 555 numbers, test card numbers, sample IBANs.
FIRST = ["Alice", "Bruno", "Chen", "Dana", "Emeka", "Fatima", "Greta", "Hiro"]
LAST = ["Martin", "Okafor", "Schmidt", "Tanaka", "Garcia", "Novak", "Rossi", "Berg"]
CARDS = ["4111 1111 1111 1111", "5555 5555 5555 4444", "4012 8888 8888 1881",
         "3782 822463 10005"]
IBANS = ["DE89 3704 0044 0532 0130 00", "GB29 NWBK 6016 1331 9268 19",
         "FR14 2004 1010 0505 0001 3M02 606"]
SSNS = ["078-05-1120", "219-09-9999", "457-55-5462"]


def pii_snippet(rng, placeholders):
    """Text with one or two PII items, raw or as redaction placeholders."""
    kind = rng.choice(["email", "phone", "card", "iban", "ssn", "email+phone"])
    name = rng.choice(FIRST) + " " + rng.choice(LAST)
    email = "%s.%s@example.com" % (name.split()[0].lower(), name.split()[1].lower())
    phone = "+1 415 555 %04d" % rng.randrange(100, 9999)
    if placeholders:
        email, phone = "<EMAIL_ADDRESS_1>", "<PHONE_NUMBER_1>"
    if kind == "email":
        return "Please reply to the customer at %s about the refund." % email
    if kind == "phone":
        return "The client asked to be called back on %s tomorrow morning." % phone
    if kind == "card":
        card = "<CREDIT_CARD_1>" if placeholders else rng.choice(CARDS)
        return "The disputed payment was made with card %s last week." % card
    if kind == "iban":
        iban = "<IBAN_CODE_1>" if placeholders else rng.choice(IBANS)
        return "Transfer the settlement to IBAN %s before Friday." % iban
    if kind == "ssn":
        ssn = "<US_SSN_1>" if placeholders else rng.choice(SSNS)
        return "Applicant SSN %s, please verify the employment history." % ssn
    return "Contact %s at %s or %s." % (name, email, phone)


MARKINGS = ["This design note is ITAR controlled; do not share outside the program.",
            "Component classification: EAR99.",
            "The encryption module is classified ECCN 5A002."]


def chat_body(rng, cat, target_bytes, pii, placeholders, marking):
    user = rng.choice(TOPICS[cat])
    if pii:
        user += " " + pii_snippet(rng, placeholders)
    if marking:
        user += " " + rng.choice(MARKINGS)
    msgs = [{"role": "system", "content": SYSTEM[cat]}]
    # Pad with filler so request sizes vary (and the cost estimate with them).
    pad = max(0, target_bytes - len(user) - len(SYSTEM[cat]) - 120)
    if pad > 0:
        reps = pad // len(FILLER) + 1
        msgs.append({"role": "user", "content": (FILLER * reps)[:pad]})
        msgs.append({"role": "assistant", "content": "Understood. What is your question?"})
    msgs.append({"role": "user", "content": user})
    body = {"model": "auto", "messages": msgs}
    body["max_tokens"] = rng.choice([128, 256, 512, 1024, 2048, 4096])
    if rng.random() < 0.1:
        body["temperature"] = round(rng.uniform(0, 1), 2)
    return body


def record(rng, i, ts, mode):
    tenant = rng.choices(TENANTS, TENANT_WEIGHTS)[0]
    cat = rng.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]
    feature = rng.choice(FEATURES[cat])
    if mode == "bench":
        target = int(rng.triangular(500, 3700, 1200))
        pii = rng.random() < 0.05
        placeholders = False
        marking = rng.random() < 0.01
        tags = []
    else:
        target = rng.choice([250, 400, 800, 1500, 3000])
        pii = rng.random() < 0.25
        placeholders = pii and rng.random() < 0.4
        marking = rng.random() < 0.06
        tags = ["itar"] if rng.random() < 0.04 else []
    body = chat_body(rng, cat, target, pii, placeholders, marking)
    rid = "req-%06d" % i
    if rng.random() < 0.3:
        meta = {"tenant": tenant, "category": cat, "feature": feature}
        if tags:
            meta["export_tags"] = ",".join(tags)
        body["metadata"] = meta
        return {"custom_id": rid, "method": "POST", "url": "/v1/chat/completions", "body": body}
    rec = {"ts": ts, "id": rid, "tenant": tenant, "feature": feature, "category": cat,
           "export_tags": tags, "request": body}
    if rng.random() < 0.5:
        prompt = sum(len(m["content"]) for m in body["messages"]) // 4 + 4 * len(body["messages"])
        rec["usage"] = {"prompt_tokens": prompt,
                        "completion_tokens": rng.randrange(20, body["max_tokens"])}
    return rec


def fmt_ts(sec):
    day = 2 + sec // 86400
    s = sec % 86400
    return "2026-11-%02dT%02d:%02d:%02d.%06dZ" % (day, s // 3600, s % 3600 // 60, s % 60,
                                                 (sec * 7919) % 1000000)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=["sample", "bench"], default="sample")
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261102)
    ap.add_argument("--out", default="-")
    a = ap.parse_args()
    rng = random.Random(a.seed)
    out = sys.stdout if a.out == "-" else open(a.out, "w", encoding="utf-8")
    # One day of traffic: timestamps spread over 24 h in order.
    step = 86400 / max(1, a.count)
    if a.mode == "bench":
        # Millions of lines: build a pool of distinct records once, then write
        # them round-robin with fresh ids (Python's json is the bottleneck).
        pool = [record(rng, i, fmt_ts(0), "bench") for i in range(min(a.count, 4000))]
        dumped = []
        for r in pool:
            s = json.dumps(r, separators=(",", ":"))
            key = '"custom_id":"' if "custom_id" in r else '"id":"'
            k = s.index(key) + len(key)
            dumped.append((s[:k], s[k + len("req-000000"):]))
        for i in range(a.count):
            head, tail = dumped[i % len(dumped)]
            out.write("%sreq-%07d%s\n" % (head, i, tail))
    else:
        for i in range(a.count):
            rec = record(rng, i + 1, fmt_ts(int(i * step)), "sample")
            out.write(json.dumps(rec, separators=(",", ":"), ensure_ascii=False) + "\n")
            # Two malformed lines, so the report's malformed section has something to show.
            if i == 99:
                out.write('{"ts":"2026-11-02T06:00:00Z","tenant":"globex","request":{"messages":[\n')
            if i == 249:
                out.write('{"custom_id":"req-broken","method":"GET","url":"/v1/models","body":{}}\n')
    if out is not sys.stdout:
        out.close()


if __name__ == "__main__":
    main()
