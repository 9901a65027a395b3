/*
 * test_dialect_text.c — the small text helpers every dialect shares
 * (adapters/dialects/dialect_int.h): the integer formatter must print what
 * "%lld" prints, and the NUL check must find exactly the escaped NULs a
 * JSON parser would decode (a backslash run taken in pairs).
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "adapters/dialects/dialect_int.h"

Test(dialect_text, fmt_int_matches_printf)
{
    static const int64_t v[] = {
        0, 1, -1, 9, 10, -10, 99, 100, 1024, 123456789, -987654321,
        INT32_MAX, INT32_MIN, (int64_t)1e15 - 1, INT64_MAX, INT64_MIN, INT64_MIN + 1,
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        char t[TG__DIALECT_INT_CHARS], want[32];
        char *q = tg__dialect_fmt_int(t, v[i]);
        size_t n = (size_t)(t + sizeof(t) - q);
        snprintf(want, sizeof(want), "%" PRId64, v[i]);
        cr_assert_eq(n, strlen(want), "length for %s", want);
        cr_assert(memcmp(q, want, n) == 0, "digits for %s: %.*s", want, (int)n, q);
    }
}

static bool
nul(const char *s)
{
    return tg_dialect_has_nul(s, strlen(s));
}

Test(dialect_text, has_nul_reads_escapes_in_pairs)
{
    cr_assert(!nul("{\"a\":\"plain text\"}"));
    cr_assert(nul("{\"a\":\"x\\u0000y\"}"));                 /* \u0000 */
    cr_assert(!nul("{\"a\":\"x\\\\u0000y\"}"));              /* \\ then text u0000 */
    cr_assert(nul("{\"a\":\"x\\\\\\u0000y\"}"));             /* \\ then \u0000 */
    cr_assert(!nul("{\"a\":\"x\\\\\\\\u0000y\"}"));          /* \\\\ then text */
    cr_assert(nul("{\"a\":\"\\\"\\u0000\"}"));               /* \" then \u0000 */
    cr_assert(nul("{\"a\":\"\\u00001\"}"));                   /* a NUL, then the text 1 */
    cr_assert(!nul("{\"a\":\"\\u0001\"}"));                   /* another control: not NUL */
    cr_assert(!nul("{\"a\":\"ends with \\\\\"}"));            /* a trailing escaped backslash */
    cr_assert(!nul("\\u000"));                                /* cut short: not a NUL */
    cr_assert(nul("\\u0000"));                                /* exactly at the end */
    {
        static const char raw[] = "{\"a\":\"x\0y\"}";
        cr_assert(tg_dialect_has_nul(raw, sizeof(raw) - 1)); /* a raw NUL byte */
    }
}
