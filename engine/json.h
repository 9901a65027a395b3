/*
 * json.h — a JSON parser that builds a read-only cJSON tree in an arena.
 *
 * Why not cJSON_Parse: on the gateway, cJSON's parser was the largest
 * single cost of a request (a malloc per node and per string, strings
 * copied a byte at a time; docs/gateway.md).  This one accepts exactly the
 * texts cJSON 1.7 accepts and builds the same tree (cJSON_Compare-equal;
 * tests/fuzz/fuzz_json.c checks both directions), but allocates from the
 * caller's arena and copies unescaped string runs with memcpy.
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
 * Parse one JSON value from s[0..len) (leading whitespace and a UTF-8 BOM
 * skipped, as cJSON does); *end = where parsing stopped (after the value on
 * success, at the offending byte on failure).  TG_OK, TG_EINVAL (not JSON),
 * TG_ELIMIT (nested deeper than max_depth), TG_ENOMEM.
 */
int tg_json_parse(const char *s, size_t len, unsigned max_depth, struct tg_arena *a,
                  cJSON **out, const char **end);

/* Offset of the next '"' or '\\' in s at or after i (len if none): how both
 * this parser and the request pre-scan cross string content, 16 bytes per
 * step where SSE2 is there. */
size_t tg_json_next_special(const char *s, size_t i, size_t len);

#endif /* TG_JSON_H */
