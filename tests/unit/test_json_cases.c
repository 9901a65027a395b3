/*
 * test_json_cases.c — tests/cases/json/{y,n}_*.json through the strict
 * parser (engine/json.h): each y_ file is a JSON text that must be
 * accepted, each n_ file one that must be refused, both as a whole text
 * (tg_json_text) and as the value of a member of a chat request
 * (tg_request_parse: the gateway's and explain's door check).
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/json.h"
#include "engine/limits.h"
#include "engine/request.h"

#define CASES TG_DATA_DIR "/tests/cases/json"

static char *
slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    char *b = malloc(1 << 16);

    cr_assert_not_null(f, "%s", path);
    cr_assert_not_null(b);
    *n = fread(b, 1, (1 << 16) - 1, f);
    fclose(f);
    return b;
}

Test(json_cases, every_case_file)
{
    static const char pre[] = "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"x\":";
    DIR *d = opendir(CASES);
    struct dirent *e;
    unsigned ny = 0, nn = 0;

    cr_assert_not_null(d, CASES);
    while ((e = readdir(d)) != NULL) {
        char path[1024], *b, *body;
        size_t n, off = 0;
        bool want = e->d_name[0] == 'y';
        struct tg_arena a;
        struct tg_request req;
        struct tg_err err = { 0 };
        cJSON *j = NULL;
        int rc;

        if ((e->d_name[0] != 'y' && e->d_name[0] != 'n') || e->d_name[1] != '_')
            continue;
        snprintf(path, sizeof(path), "%s/%s", CASES, e->d_name);
        b = slurp(path, &n);
        tg_arena_init(&a, 0);
        rc = tg_json_text(b, n, TG_MAX_JSON_DEPTH, &a, &j, &off, NULL);
        cr_expect_eq(rc == TG_OK, want, "%s: whole text rc %d (stopped at byte %zu)", e->d_name, rc, off);
        if (!want)
            cr_expect_eq(rc, TG_EINVAL, "%s: rc %d", e->d_name, rc);

        body = malloc(sizeof(pre) + n + 1);
        cr_assert_not_null(body);
        memcpy(body, pre, sizeof(pre) - 1);
        memcpy(body + sizeof(pre) - 1, b, n);
        body[sizeof(pre) - 1 + n] = '}';
        rc = tg_request_parse(body, sizeof(pre) + n, &a, &req, &err);
        cr_expect_eq(rc == TG_OK, want, "%s: as a request member rc %d (%s)", e->d_name, rc, err.msg);
        if (rc == TG_OK)
            tg_request_dispose(&req);
        want ? ny++ : nn++;
        free(body);
        free(b);
        tg_arena_free(&a);
    }
    closedir(d);
    cr_assert_gt(ny, 20, "accepted cases found: %u", ny);
    cr_assert_gt(nn, 40, "refused cases found: %u", nn);
}

/* The UTF-8 check on its own, at the byte where validity ends. */
Test(json_cases, utf8_prefix_lengths)
{
    static const struct { const char *s; size_t n, want; } c[] = {
        { "abc", 3, 3 },
        { "a\xc3\xa9z", 4, 4 },
        { "ab\xc0\xaf", 4, 2 },             /* overlong */
        { "ab\xed\xa0\x80", 5, 2 },         /* surrogate */
        { "\xf4\x8f\xbf\xbf", 4, 4 },       /* U+10FFFF */
        { "\xf4\x90\x80\x80", 4, 0 },       /* past it */
        { "0123456789\xe4\xb8", 12, 10 },   /* truncated after the 8-byte fast path */
        { "01234567\x80", 9, 8 },           /* stray continuation */
    };

    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++)
        cr_expect_eq(tg_json_utf8_check(c[i].s, c[i].n), c[i].want, "case %zu: %zu", i,
                     tg_json_utf8_check(c[i].s, c[i].n));
}

/* TG_JSON_PLAIN: set on exactly the strings written without an escape,
 * hidden from cJSON's type checks, and the value is the same either way. */
Test(json_cases, plain_strings)
{
    static const struct { const char *json, *value; bool plain; } c[] = {
        { "\"abc\"", "abc", true },
        { "\"\"", "", true },
        { "\"caf\xc3\xa9 \xe4\xb8\xad\"", "caf\xc3\xa9 \xe4\xb8\xad", true },    /* UTF-8 needs no escape */
        { "\"a long ASCII run past sixteen bytes of text\"", "a long ASCII run past sixteen bytes of text", true },
        { "\"a\\nb\"", "a\nb", false },
        { "\"\\u0041\"", "A", false },                    /* an escape that decodes to a plain byte */
        { "\"\\\"quoted\\\"\"", "\"quoted\"", false },
        { "\"0123456789abcdef\\/\"", "0123456789abcdef/", false },
    };
    for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
        struct tg_arena a;
        cJSON *v = NULL;
        const char *end;
        tg_arena_init(&a, 0);
        cr_assert_eq(tg_json_parse(c[i].json, strlen(c[i].json), 8, &a, &v, &end), TG_OK, "case %zu", i);
        cr_expect(cJSON_IsString(v), "case %zu", i);
        cr_expect_str_eq(v->valuestring, c[i].value, "case %zu", i);
        cr_expect_eq((v->type & TG_JSON_PLAIN) != 0, c[i].plain, "case %zu", i);
        tg_arena_free(&a);
    }
    /* members: the mark is on values only, keys do not carry it */
    {
        struct tg_arena a;
        cJSON *v = NULL;
        const char *end;
        static const char j[] = "{\"k\\n\":\"v\",\"k2\":\"\\tv\"}";
        tg_arena_init(&a, 0);
        cr_assert_eq(tg_json_parse(j, sizeof j - 1, 8, &a, &v, &end), TG_OK);
        cr_expect(v->child->type & TG_JSON_PLAIN);
        cr_expect(!(v->child->next->type & TG_JSON_PLAIN));
        cr_expect(cJSON_IsString(v->child->next));
        tg_arena_free(&a);
    }
}
