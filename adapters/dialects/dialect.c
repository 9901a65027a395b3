/*
 * dialect.c — the dialect registry (path -> ops) and the error bodies of
 * the two families.
 */
#include "adapters/dialects/dialect_int.h"
#include "engine/json.h"

#include <cjson/cJSON.h>

#include <stdlib.h>
#include <string.h>

static const struct tg_dialect_ops *const all[TG_DIALECT_N] = {
    [TG_DIALECT_CHAT]         = &tg__dialect_chat,
    [TG_DIALECT_RESPONSES]    = &tg__dialect_responses,
    [TG_DIALECT_MESSAGES]     = &tg__dialect_messages,
    [TG_DIALECT_COUNT_TOKENS] = &tg__dialect_count_tokens,
    [TG_DIALECT_EMBEDDINGS]   = &tg__dialect_embeddings,
    [TG_DIALECT_COMPLETIONS]  = &tg__dialect_completions,
};

const struct tg_dialect_ops *
tg_dialect_get(enum tg_dialect_id id)
{
    return (unsigned)id < TG_DIALECT_N ? all[id] : NULL;
}

const struct tg_dialect_ops *
tg_dialect_for_path(const char *path, size_t len)
{
    size_t plen = 0;

    while (plen < len && path[plen] != '?')
        plen++;
    for (unsigned i = 0; i < TG_DIALECT_N; i++) {
        const char *p = all[i]->path;          /* "/v1/..." */
        size_t n = strlen(p);
        if (plen == n && memcmp(path, p, n) == 0)
            return all[i];
        if (plen == n - 3 && memcmp(path, p + 3, n - 3) == 0)   /* without "/v1" */
            return all[i];
    }
    return NULL;
}

bool
tg_dialect_has_nul(const char *s, size_t len)
{
    const char *p = s, *end = s + len;

    if (memchr(s, '\0', len) != NULL)
        return true;
    /* Hop from backslash to backslash, each one with the byte it escapes:
     * a run of backslashes is then taken in pairs from its start, so
     * "\\u0000" (an escaped backslash, then text) is not a NUL and
     * "\u0000" is.  memchr is far cheaper than memmem for a 6-byte needle,
     * and bodies hold few backslashes. */
    while (p < end && (p = memchr(p, '\\', (size_t)(end - p))) != NULL) {
        if (end - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
            return true;
        p += 2;
    }
    return false;
}

const unsigned char tg__dialect_json_esc[256] = {
    [0x00] = 1, [0x01] = 1, [0x02] = 1, [0x03] = 1, [0x04] = 1, [0x05] = 1, [0x06] = 1,
    [0x07] = 1, [0x08] = 1, [0x09] = 1, [0x0a] = 1, [0x0b] = 1, [0x0c] = 1, [0x0d] = 1,
    [0x0e] = 1, [0x0f] = 1, [0x10] = 1, [0x11] = 1, [0x12] = 1, [0x13] = 1, [0x14] = 1,
    [0x15] = 1, [0x16] = 1, [0x17] = 1, [0x18] = 1, [0x19] = 1, [0x1a] = 1, [0x1b] = 1,
    [0x1c] = 1, [0x1d] = 1, [0x1e] = 1, [0x1f] = 1, ['"'] = 1, ['\\'] = 1,
};

/* ---- canonical trees --------------------------------------------------- */

static cJSON *
jt_node(struct tg__jt *t, int type)
{
    cJSON *n = t->oom ? NULL : tg_arena_calloc(t->a, 1, sizeof(*n));
    if (n == NULL) {
        t->oom = true;
        return NULL;
    }
    n->type = type;
    return n;
}

cJSON *
tg__jt_obj(struct tg__jt *t)
{
    return jt_node(t, cJSON_Object);
}

cJSON *
tg__jt_arr(struct tg__jt *t)
{
    return jt_node(t, cJSON_Array);
}

cJSON *
tg__jt_str(struct tg__jt *t, const char *s)
{
    cJSON *n = jt_node(t, cJSON_String);
    if (n != NULL)
        n->valuestring = (char *)(uintptr_t)s;   /* read-only tree (engine/json.h) */
    return n;
}

cJSON *
tg__jt_sv(struct tg__jt *t, const cJSON *v)
{
    cJSON *n = tg__jt_str(t, v->valuestring);
    if (n != NULL && cJSON_IsString(v))
        n->type |= v->type & TG_JSON_PLAIN;   /* the writer copies it as it is */
    return n;
}

cJSON *
tg__jt_strn(struct tg__jt *t, const char *s, size_t n)
{
    char *c = t->oom ? NULL : tg_arena_strndup(t->a, s, n);
    if (c == NULL) {
        t->oom = true;
        return NULL;
    }
    return tg__jt_str(t, c);
}

cJSON *
tg__jt_null(struct tg__jt *t)
{
    return jt_node(t, cJSON_NULL);
}

cJSON *
tg__jt_bool(struct tg__jt *t, bool v)
{
    return jt_node(t, v ? cJSON_True : cJSON_False);
}

cJSON *
tg__jt_ref(struct tg__jt *t, const cJSON *v)
{
    cJSON *n;

    if (v == NULL)
        return NULL;
    if ((n = jt_node(t, v->type)) == NULL)
        return NULL;
    n->child = v->child;
    n->valuestring = v->valuestring;
    n->valueint = v->valueint;
    n->valuedouble = v->valuedouble;
    return n;
}

void
tg__jt_add(struct tg__jt *t, cJSON *parent, const char *key, cJSON *item)
{
    if (parent == NULL || item == NULL) {
        t->oom = true;
        return;
    }
    item->string = (char *)(uintptr_t)key;
    item->next = NULL;
    /* cJSON's list shape: the first child's prev is the last child */
    if (parent->child == NULL) {
        parent->child = item;
        item->prev = item;
    } else {
        cJSON *last = parent->child->prev;
        last->next = item;
        item->prev = last;
        parent->child->prev = item;
    }
}

char *
tg__dialect_fmt_int(char t[TG__DIALECT_INT_CHARS], int64_t v)
{
    char *q = t + TG__DIALECT_INT_CHARS;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        *--q = '-';
    return q;
}

const struct tg_dialect_ops *
tg_dialect_by_name(const char *name)
{
    if (name == NULL)
        return NULL;
    for (unsigned i = 0; i < TG_DIALECT_N; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    return NULL;
}

const char *
tg_dialect_anthropic_error_type(int status)
{
    switch (status) {
    case 400: case 404: case 405: case 413: case 422:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 429:
        return "rate_limit_error";
    case 503: case 529:
        return "overloaded_error";
    default:
        return "api_error";
    }
}

int
tg_dialect_error_body(enum tg_dialect_errors fam, int status, const char *type, const char *code,
                      const char *msg, const char *rules_json, char **out, size_t *outlen)
{
    cJSON *root = cJSON_CreateObject(), *e = NULL;
    char *text = NULL, *rules = NULL;
    int rc = TG_ENOMEM;

    if (root == NULL)
        goto out;
    if (fam == TG_DIALECT_ERR_ANTHROPIC) {
        if (!cJSON_AddStringToObject(root, "type", "error") ||
            (e = cJSON_AddObjectToObject(root, "error")) == NULL ||
            !cJSON_AddStringToObject(e, "type", tg_dialect_anthropic_error_type(status)) ||
            !cJSON_AddStringToObject(e, "message", msg ? msg : ""))
            goto out;
        /* OpenAI's code is kept as an extra member: scripts can match on it. */
        if (code != NULL && !cJSON_AddStringToObject(e, "code", code))
            goto out;
    } else {
        if ((e = cJSON_AddObjectToObject(root, "error")) == NULL ||
            !cJSON_AddStringToObject(e, "message", msg ? msg : "") ||
            !cJSON_AddStringToObject(e, "type", type ? type : "server_error") ||
            !cJSON_AddNullToObject(e, "param") ||
            !(code ? cJSON_AddStringToObject(e, "code", code) : cJSON_AddNullToObject(e, "code")))
            goto out;
    }
    if (rules_json != NULL) {
        /* `"rules":[...]` -> parse "{...}" and move the array over. */
        size_t n = strlen(rules_json);
        cJSON *wrap, *arr;
        rules = malloc(n + 3);
        if (rules == NULL)
            goto out;
        rules[0] = '{';
        memcpy(rules + 1, rules_json, n);
        rules[n + 1] = '}';
        rules[n + 2] = '\0';
        wrap = cJSON_Parse(rules);
        arr = wrap ? cJSON_DetachItemFromObject(wrap, "rules") : NULL;
        cJSON_Delete(wrap);
        if (arr != NULL)
            cJSON_AddItemToObject(e, "rules", arr);
    }
    text = cJSON_PrintUnformatted(root);
    if (text == NULL)
        goto out;
    *out = text;
    *outlen = strlen(text);
    rc = TG_OK;
out:
    free(rules);
    cJSON_Delete(root);
    return rc;
}
