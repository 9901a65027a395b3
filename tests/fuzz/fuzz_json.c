/*
 * fuzz_json.c — engine/json.c against cJSON, differentially.  Invariants:
 * whatever tg_json_parse accepts, cJSON accepts too, with an equal tree
 * (same types, keys, values and member order) ending at the same byte; whatever cJSON
 * accepts, tg_json_parse accepts too, except a \u escape with a non-hex
 * digit (refused on purpose: cJSON reads it as U+0000).  No crash, no leak,
 * no read past the input (the copy has no terminator).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/json.h"

static bool
has_bad_u_escape(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] != '\\')
            continue;
        if (s[i + 1] == 'u') {
            for (size_t k = 2; k < 6; k++) {
                char c;
                if (i + k >= n)
                    return true;
                c = s[i + k];
                if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))
                    return true;
            }
        }
        i++;
    }
    return false;
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
    cJSON *mine = NULL, *theirs;
    const char *end_m = NULL, *end_t = NULL;
    int rc;

    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    tg_arena_init(&a, 0);
    rc = tg_json_parse(s, size, 1000, &a, &mine, &end_m);
    theirs = cJSON_ParseWithLengthOpts(s, size, &end_t, false);
    if (rc == TG_OK) {
        if (theirs == NULL || !tree_eq(mine, theirs) || end_m != end_t)
            abort();
    } else if (theirs != NULL && rc != TG_ENOMEM && !has_bad_u_escape(s, size)) {
        abort();
    }
    cJSON_Delete(theirs);
    tg_arena_free(&a);
    free(s);
    return 0;
}
