/*
 * fuzz_json.c — engine/json.c against two others.  Invariants:
 *  - tg_json_parse accepts exactly what ref_value below accepts (an
 *    independent, deliberately plain reading of RFC 8259 with the rules
 *    engine/json.h states: valid UTF-8 in strings, surrogate escapes only
 *    as pairs), ending at the same byte;
 *  - whatever tg_json_parse accepts, cJSON accepts too, with an equal tree
 *    (same types, keys, values and member order) ending at the same byte.
 * So cJSON may accept more (the documented divergences: leading zeros,
 * "1.", form feed as whitespace, raw control bytes, a BOM, bad UTF-8 ...)
 * but only where the reference grammar refuses too.  No crash, no leak, no
 * read past the input (the copy has no terminator).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/json.h"

#define REF_DEPTH 1000

struct ref {
    const unsigned char *s;
    size_t n, i;
    unsigned depth;
    bool deep;
};

static void
ref_ws(struct ref *r)
{
    while (r->i < r->n && strchr(" \t\n\r", r->s[r->i]) != NULL && r->s[r->i] != 0)
        r->i++;
}

static bool
ref_lit(struct ref *r, const char *w)
{
    size_t k = strlen(w);
    if (r->n - r->i < k || memcmp(r->s + r->i, w, k) != 0)
        return false;
    r->i += k;
    return true;
}

static int
ref_hex(struct ref *r)
{
    int v = 0;
    if (r->n - r->i < 4)
        return -1;
    for (int k = 0; k < 4; k++) {
        unsigned char c = r->s[r->i + k];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    r->i += 4;
    return v;
}

/* One UTF-8 character at r->i (first byte >= 0x80), Unicode table 3-7. */
static bool
ref_utf8(struct ref *r)
{
    const unsigned char *c = r->s + r->i;
    size_t left = r->n - r->i;
    unsigned char lo = 0x80, hi = 0xBF;
    size_t k;

    if (c[0] >= 0xC2 && c[0] <= 0xDF) k = 1;
    else if (c[0] == 0xE0) { k = 2; lo = 0xA0; }
    else if (c[0] >= 0xE1 && c[0] <= 0xEC) k = 2;
    else if (c[0] == 0xED) { k = 2; hi = 0x9F; }
    else if (c[0] >= 0xEE && c[0] <= 0xEF) k = 2;
    else if (c[0] == 0xF0) { k = 3; lo = 0x90; }
    else if (c[0] >= 0xF1 && c[0] <= 0xF3) k = 3;
    else if (c[0] == 0xF4) { k = 3; hi = 0x8F; }
    else return false;
    if (left < k + 1 || c[1] < lo || c[1] > hi)
        return false;
    for (size_t j = 2; j <= k; j++)
        if (c[j] < 0x80 || c[j] > 0xBF)
            return false;
    r->i += k + 1;
    return true;
}

static bool
ref_string(struct ref *r)
{
    r->i++;   /* the quote */
    for (;;) {
        unsigned char c;
        if (r->i >= r->n)
            return false;
        c = r->s[r->i];
        if (c == '"') {
            r->i++;
            return true;
        }
        if (c < 0x20)
            return false;
        if (c >= 0x80) {
            if (!ref_utf8(r))
                return false;
            continue;
        }
        r->i++;
        if (c != '\\')
            continue;
        if (r->i >= r->n)
            return false;
        c = r->s[r->i++];
        if (c == 'u') {
            int u = ref_hex(r);
            if (u < 0 || (u >= 0xDC00 && u <= 0xDFFF))
                return false;
            if (u >= 0xD800 && u <= 0xDBFF) {
                int l;
                if (!ref_lit(r, "\\u") || (l = ref_hex(r)) < 0xDC00 || l > 0xDFFF)
                    return false;
            }
        } else if (strchr("\"\\/bfnrt", c) == NULL || c == 0) {
            return false;
        }
    }
}

static bool
ref_digits(struct ref *r)
{
    size_t at = r->i;
    while (r->i < r->n && r->s[r->i] >= '0' && r->s[r->i] <= '9')
        r->i++;
    return r->i > at;
}

static bool
ref_number(struct ref *r)
{
    if (r->s[r->i] == '-')
        r->i++;
    if (r->i < r->n && r->s[r->i] == '0')
        r->i++;
    else if (r->i >= r->n || r->s[r->i] < '1' || r->s[r->i] > '9' || !ref_digits(r))
        return false;
    if (r->i < r->n && r->s[r->i] == '.') {
        r->i++;
        if (!ref_digits(r))
            return false;
    }
    if (r->i < r->n && (r->s[r->i] == 'e' || r->s[r->i] == 'E')) {
        r->i++;
        if (r->i < r->n && (r->s[r->i] == '+' || r->s[r->i] == '-'))
            r->i++;
        if (!ref_digits(r))
            return false;
    }
    /* A number does not run into more number characters. */
    return !(r->i < r->n && r->s[r->i] != 0 && strchr("0123456789+-.eE", r->s[r->i]) != NULL);
}

static bool ref_value(struct ref *r);

static bool
ref_container(struct ref *r, unsigned char close)
{
    if (++r->depth > REF_DEPTH) {
        r->deep = true;
        return false;
    }
    r->i++;
    ref_ws(r);
    if (r->i < r->n && r->s[r->i] == close) {
        r->i++;
        r->depth--;
        return true;
    }
    for (;;) {
        ref_ws(r);
        if (close == '}') {
            if (r->i >= r->n || r->s[r->i] != '"' || !ref_string(r))
                return false;
            ref_ws(r);
            if (r->i >= r->n || r->s[r->i] != ':')
                return false;
            r->i++;
            ref_ws(r);
        }
        if (!ref_value(r))
            return false;
        ref_ws(r);
        if (r->i < r->n && r->s[r->i] == ',') {
            r->i++;
            continue;
        }
        if (r->i < r->n && r->s[r->i] == close) {
            r->i++;
            r->depth--;
            return true;
        }
        return false;
    }
}

static bool
ref_value(struct ref *r)
{
    unsigned char c;

    if (r->i >= r->n)
        return false;
    c = r->s[r->i];
    if (c == '{' || c == '[')
        return ref_container(r, c == '{' ? '}' : ']');
    if (c == '"')
        return ref_string(r);
    if (c == '-' || (c >= '0' && c <= '9'))
        return ref_number(r);
    return ref_lit(r, "true") || ref_lit(r, "false") || ref_lit(r, "null");
}

/* Structural equality in member order (cJSON_Compare looks members up by
 * name, which calls two equal trees with duplicate keys different). */
static bool
tree_eq(const cJSON *x, const cJSON *y)
{
    for (; x != NULL && y != NULL; x = x->next, y = y->next) {
        if ((x->type & 0xff) != (y->type & 0xff))
            return false;
        if ((x->string == NULL) != (y->string == NULL) || (x->string && strcmp(x->string, y->string) != 0))
            return false;
        switch (x->type & 0xff) {
        case cJSON_Number:
            if (x->valuedouble != y->valuedouble && !(x->valuedouble != x->valuedouble && y->valuedouble != y->valuedouble))
                return false;
            if (x->valueint != y->valueint)
                return false;
            break;
        case cJSON_String:
            if (strcmp(x->valuestring, y->valuestring) != 0)
                return false;
            /* a string marked plain holds nothing a writer must escape */
            if ((x->type & TG_JSON_PLAIN) && strpbrk(x->valuestring, "\"\\\x01\x02\x03\x04\x05\x06\x07\x08\t\n"
                                                        "\x0b\x0c\r\x0e\x0f\x10\x11\x12\x13\x14\x15\x16\x17\x18"
                                                        "\x19\x1a\x1b\x1c\x1d\x1e\x1f") != NULL)
                return false;
            break;
        case cJSON_Array:
        case cJSON_Object:
            if (!tree_eq(x->child, y->child))
                return false;
            /* the first child's prev is the last child in both */
            if (x->child != NULL && ((x->child->prev == NULL) != (y->child->prev == NULL) ||
                                     x->child->prev->next != NULL))
                return false;
            break;
        default:
            break;
        }
    }
    return x == NULL && y == NULL;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size ? size : 1);
    struct tg_arena a;
    struct ref r = { data, size, 0, 0, false };
    cJSON *mine = NULL, *theirs;
    const char *end_m = NULL, *end_t = NULL;
    bool ok_ref;
    int rc;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    tg_arena_init(&a, 0);
    rc = tg_json_parse(s, size, REF_DEPTH, &a, &mine, &end_m);
    ref_ws(&r);
    ok_ref = ref_value(&r);
    if (rc != TG_ENOMEM && !r.deep && rc != TG_ELIMIT) {
        if ((rc == TG_OK) != ok_ref)
            abort();   /* strict parser and reference grammar disagree */
        if (ok_ref && end_m != s + r.i)
            abort();
    }
    theirs = cJSON_ParseWithLengthOpts(s, size, &end_t, false);
    if (rc == TG_OK) {
        if (theirs == NULL || !tree_eq(mine, theirs) || end_m != end_t)
            abort();
    }
    /* The whole-text form agrees with the value form plus trailing space. */
    if (rc == TG_OK) {
        cJSON *t = NULL;
        size_t off = 0;
        bool trailing = false, rest_ws = true;
        for (const char *p = end_m; p < s + size; p++)
            rest_ws = rest_ws && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r');
        if ((tg_json_text(s, size, REF_DEPTH, &a, &t, &off, &trailing) == TG_OK) != rest_ws ||
            trailing == rest_ws)
            abort();
    }
    /* Valid UTF-8 check against the reference's reading of it. */
    {
        size_t u = tg_json_utf8_check(s, size), i = 0;
        struct ref q = { data, size, 0, 0, false };
        while (q.i < size && (data[q.i] < 0x80 ? (q.i++, true) : ref_utf8(&q)))
            ;
        i = q.i;
        if (u != i)
            abort();
    }
    cJSON_Delete(theirs);
    tg_arena_free(&a);
    free(s);
    return 0;
}
