/*
 * json.h — a JSON parser that builds a read-only cJSON tree in an arena.
 *
 * Why not cJSON_Parse: on the gateway, cJSON's parser was the largest
 * single cost of a request (a malloc per node and per string, strings
 * copied a byte at a time; docs/gateway.md), and its grammar is lenient.
 * This one allocates from the caller's arena, copies unescaped string runs
 * with memcpy, and accepts RFC 8259 JSON in valid UTF-8 only (what OpenAI
 * and Anthropic accept; docs/http.md).  Refused, though cJSON takes them:
 *  - numbers outside the grammar: leading zeros ("01"), "1.", ".5", "-.5",
 *    "+1", "1e", "1.5.2", hex;
 *  - whitespace other than space, tab, LF, CR (form feed, vertical tab,
 *    NUL, other control bytes) and a leading UTF-8 BOM;
 *  - raw control bytes U+0000..U+001F inside strings;
 *  - invalid UTF-8 inside strings (bytes >= 0x80 outside strings are not
 *    JSON at all): overlong forms, encoded surrogates, code points past
 *    U+10FFFF, truncated or stray continuation bytes;
 *  - escapes cJSON reads loosely: \u with a non-hex digit, and \u
 *    escapes that do not form a Unicode scalar value.  The stated rule for
 *    surrogates: a high surrogate escape must be followed at once by a low
 *    one (the pair is one code point); a lone high or low surrogate is
 *    refused, since it has no UTF-8 form the text could be passed on in.
 * For the texts it accepts the tree equals cJSON's (tests/fuzz/fuzz_json.c
 * checks that, and checks the refusals against a reference grammar).
 *
 * The tree belongs to the arena: read it with cJSON's accessors,
 * cJSON_Duplicate or print it, but never cJSON_Delete it or any part of it,
 * nor add to or detach from it.
 */
#ifndef TG_JSON_H
#define TG_JSON_H

#include "engine/tg.h"
#include "engine/arena.h"

#include <cjson/cJSON.h>

/*
 * Set in the type of a string node whose JSON text had no escape: its
 * value holds no '"', '\\' or control byte, so a writer may copy it
 * between quotes as it is, without looking for bytes to escape.  cJSON's
 * accessors and printer read the type through `& 0xFF` and do not see it.
 */
#define TG_JSON_PLAIN (1 << 12)

/*
 * Parse one JSON value from s[0..len) (leading whitespace skipped); *end =
 * where parsing stopped (after the value on success, at the offending byte
 * on failure).  TG_OK, TG_EINVAL (not JSON), TG_ELIMIT (nested deeper than
 * max_depth), TG_ENOMEM.
 */
int tg_json_parse(const char *s, size_t len, unsigned max_depth, struct tg_arena *a,
                  cJSON **out, const char **end);

/*
 * A whole JSON text: one value with only JSON whitespace around it, as the
 * gateway, explain and the capture reader take a body.  *off = the byte
 * where it stopped being valid on TG_EINVAL, and *trailing (if not NULL)
 * whether that was data after a complete value.  Returns as tg_json_parse.
 */
int tg_json_text(const char *s, size_t len, unsigned max_depth, struct tg_arena *a,
                 cJSON **out, size_t *off, bool *trailing);

/* Length of the valid UTF-8 prefix of s[0..len) (len when all of it is):
 * no overlong forms, no encoded surrogates, nothing past U+10FFFF, no
 * truncated sequence. */
size_t tg_json_utf8_check(const char *s, size_t len);

/* Offset of the next '"' or '\\' in s at or after i (len if none): how both
 * this parser and the request pre-scan cross string content, 16 bytes per
 * step where SSE2 is there. */
size_t tg_json_next_special(const char *s, size_t i, size_t len);

#endif /* TG_JSON_H */
