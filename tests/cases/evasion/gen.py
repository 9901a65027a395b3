#!/usr/bin/env python3
"""gen.py — writes cases.jsonl: every evasion class in every request
position of every dialect (expect deny), and its clean look-alike in one
position each (expect allow).  Run it after editing the classes below."""
import json, os

def chat(t, where):
    m = {"user": [{"role": "user", "content": t}],
         "system": [{"role": "system", "content": t}, {"role": "user", "content": "hi"}],
         "toolargs": [{"role": "user", "content": "go"},
                      {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                       "function": {"name": "f", "arguments": json.dumps({"v": t}, ensure_ascii=False)}}]},
                      {"role": "tool", "tool_call_id": "c1", "content": "ok"}],
         "toolresult": [{"role": "user", "content": "go"},
                        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
                         "function": {"name": "f", "arguments": "{}"}}]},
                        {"role": "tool", "tool_call_id": "c1", "content": t}]}[where]
    return {"model": "m", "messages": m}

def resp(t, where):
    return {"input": {"model": "m", "input": t},
            "instructions": {"model": "m", "instructions": t, "input": "hi"},
            "function_call_output": {"model": "m", "input": [
                {"type": "function_call", "call_id": "c1", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c1", "output": t}]}}[where]

def msgs(t, where):
    return {"user": {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": t}]},
            "system": {"model": "m", "max_tokens": 10, "system": t, "messages": [{"role": "user", "content": "hi"}]},
            "tool_result": {"model": "m", "max_tokens": 10, "messages": [
                {"role": "user", "content": "go"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {}}]},
                {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": t}]}]}}[where]

doors = [("/v1/chat/completions", chat, ["user", "system", "toolargs", "toolresult"]),
         ("/v1/responses", resp, ["input", "instructions", "function_call_output"]),
         ("/v1/messages", msgs, ["user", "system", "tool_result"])]

classes = [  # name, personal data written evasively, a clean look-alike
    ("arabic_indic_digits", "card \u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661",
     "card \u0664\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0661 \u0661\u0661\u0661\u0662"),
    ("devanagari_digits", "SSN \u096b\u0969\u096c-\u0968\u0968-\u0967\u0968\u0969\u096a", "order \u096b\u0969\u096c-\u0968\u0968"),
    ("thai_digits", "card \u0e54\u0e51\u0e51\u0e51\u0e51\u0e51\u0e51\u0e51\u0e51\u0e51\u0e51\u0e51\u0e51\u0e51\u0e51\u0e51", "page \u0e54\u0e51\u0e51"),
    ("math_bold_digits", "card " + " ".join(["\U0001d7d2\U0001d7cf\U0001d7cf\U0001d7cf"] + ["\U0001d7cf" * 4] * 3), "score \U0001d7d2\U0001d7cf"),
    ("fullwidth_email", "mail \uff4a\uff41\uff4e\uff45\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d", "\uff4a\uff41\uff4e\uff45 at home"),
    ("zero_width_in_card", "card 4111\u200b1111\u200b1111\u200b1111", "version 4111\u200b12"),
    ("word_joiner_bidi_in_iban", "IBAN DE89\u20603704\u200e0044\u200f0532\u202a0130\u202c00", "ref DE89\u2060x"),
    ("soft_hyphen_in_ssn", "SSN 536\u00ad-22\u00ad-1234", "SSN\u00ad form"),
    ("nbsp_card", "card 4111\u00a01111\u00a01111\u00a01111", "4111\u00a0items"),
    ("en_dash_ssn", "ssn 536\u201322\u20131234", "pages 536\u201322"),
    ("percent_encoded_email", "mailto:jane.roe%40example.com", "100%40 share"),
    ("html_entity_email", "jane.roe&#64;example.com wrote", "tom &amp; jerry"),
    ("html_named_email", "jane.roe&commat;example.com", "at&commat; nothing"),
    ("json_escape_email", "jane.roe\\u0040example.com", "path \\u0041BC"),
    # separators between digit groups other than a space or a dash
    ("underscore_card", "card 4111_1111_1111_1111", "build 4111_1111_1111_1112"),
    ("slash_card", "card 4111/1111/1111/1111", "path 4111/1111/1111/1112"),
    ("dot_card", "card 4111.1111.1111.1111", "version 4111.1111.1111.1112"),
    ("line_break_card", "card 4111\n1111\n1111\n1111", "rows 4111\n1111\n1111\n1112"),
    ("underscore_ssn", "SSN 536_22_1234", "SSN form 536_22"),
    ("dot_iban", "IBAN DE89.3704.0044.0532.0130.00", "ref DE89.3704.0044.0532.0130.01"),
    ("underscore_iban", "IBAN DE89_3704_0044_0532_0130_00", "build DE89_3704_x"),
    ("slash_nhs", "NHS 943/476/5919", "NHS form 943/476"),
]

# An identifier split over two adjacent content parts of one message reaches
# the model whole: every door's way of carrying two parts.
def split_parts(a, b):
    return [
        ("/v1/chat/completions", "content_parts", {"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": a}, {"type": "text", "text": b}]}]}),
        ("/v1/responses", "input_text_parts", {"model": "m", "input": [{"role": "user", "content": [
            {"type": "input_text", "text": a}, {"type": "input_text", "text": b}]}]}),
        ("/v1/messages", "text_blocks", {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
            {"type": "text", "text": a}, {"type": "text", "text": b}]}]}),
    ]

splits = [  # name, first part, second part, expect
    ("split_card", "pay with 4111 1111", " 1111 1111 today", "deny"),
    ("split_card_no_space", "pay with 4111 1111 ", "1111 1111 today", "deny"),
    ("split_email", "write to jane.roe@", "example.com please", "deny"),
    ("split_lookalike", "version 4111 1111", " 1111 1112 today", "allow"),
]

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "cases.jsonl"), "w") as f:
    for i, (cls, bad, good) in enumerate(classes):
        for ep, mk, wheres in doors:
            for where in wheres:
                f.write(json.dumps({"name": "%s/%s/%s" % (cls, ep.rsplit("/", 1)[1], where), "endpoint": ep,
                                    "expect": "deny", "body": mk(bad, where)}, ensure_ascii=False) + "\n")
        ep, mk, wheres = doors[i % 3]
        where = wheres[i % len(wheres)]
        f.write(json.dumps({"name": "%s/lookalike/%s/%s" % (cls, ep.rsplit("/", 1)[1], where), "endpoint": ep,
                            "expect": "allow", "body": mk(good, where)}, ensure_ascii=False) + "\n")
    for name, a, b, expect in splits:
        for ep, where, body in split_parts(a, b):
            f.write(json.dumps({"name": "%s/%s/%s" % (name, ep.rsplit("/", 1)[1], where), "endpoint": ep,
                                "expect": expect, "body": body}, ensure_ascii=False) + "\n")
