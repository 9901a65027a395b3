/*
 * messages_pass.c — may a Messages body go to an Anthropic provider as the
 * client wrote it?
 *
 * Why a separate check: the decoder reads the fields it knows by name and
 * leaves the rest out of the canonical request, and what is left out is
 * never scanned.  Sent verbatim, such a field would reach the provider
 * unscanned.  So a body is passed through only when every member and
 * block in it is one the decoder carries into the canonical request
 * (whose every text the policy saw), or one of the few settings that hold
 * no text and only tune Anthropic's service: `cache_control`, `top_k`,
 * `service_tier`, `thinking`, and a tool's `defer_loading`, `strict` and
 * `eager_input_streaming` flags.  Their values are checked too (Anthropic's
 * own words, numbers, booleans): a string of the client's could ride in
 * one unscanned otherwise.  Anything else — a thinking block of an
 * earlier turn, an Anthropic-defined tool, citations, an unknown field —
 * sends the request the translated way (docs/dialects.md).
 */
#include "adapters/dialects/messages_int.h"

#include <cjson/cJSON.h>

#include <stdbool.h>
#include <string.h>

/* Is every key of object o in the NULL-terminated list? */
static bool
keys_in(const cJSON *o, const char *const *keys)
{
    for (const cJSON *c = o->child; c != NULL; c = c->next) {
        const char *const *k;
        for (k = keys; *k != NULL && (c->string == NULL || strcmp(c->string, *k) != 0); k++)
            ;
        if (*k == NULL)
            return false;
    }
    return true;
}

#define KEYS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Is v a string from the NULL-terminated list?  The settings passed
 * through hold no text of the client's: their values are Anthropic's own
 * words, checked, so that nothing unscanned rides in them. */
static bool
word_in(const cJSON *v, const char *const *words)
{
    if (!cJSON_IsString(v))
        return false;
    for (; *words != NULL; words++)
        if (strcmp(v->valuestring, *words) == 0)
            return true;
    return false;
}

/* A member m of object o, when present, satisfies ok(m)? */
#define ABSENT_OR(o, key, cond) \
    (tg__msg_get((o), (key)) == NULL || (cond))

/* cache_control: {"type": "ephemeral", "ttl": "5m" | "1h"} */
static bool
cache_ok(const cJSON *o)
{
    const cJSON *c = tg__msg_get(o, "cache_control");
    return c == NULL || (cJSON_IsObject(c) && keys_in(c, KEYS("type", "ttl")) &&
                         word_in(tg__msg_get(c, "type"), KEYS("ephemeral")) &&
                         ABSENT_OR(c, "ttl", word_in(tg__msg_get(c, "ttl"), KEYS("5m", "1h"))));
}

static bool
type_is(const cJSON *b, const char *t)
{
    const cJSON *ty = tg__msg_get(b, "type");
    return cJSON_IsString(ty) && strcmp(ty->valuestring, t) == 0;
}

static bool
text_block(const cJSON *b)
{
    return type_is(b, "text") && keys_in(b, KEYS("type", "text", "cache_control")) && cache_ok(b);
}

/* An image or document whose bytes or text are carried as they are. */
static bool
source_block(const cJSON *b)
{
    const cJSON *src = tg__msg_get(b, "source"), *st = tg__msg_get(src, "type");

    if (!cJSON_IsObject(src) || !cJSON_IsString(st))
        return false;
    if (!cache_ok(b))
        return false;
    if (type_is(b, "image"))
        return keys_in(b, KEYS("type", "source", "cache_control")) &&
               (strcmp(st->valuestring, "base64") == 0 || strcmp(st->valuestring, "url") == 0) &&
               keys_in(src, KEYS("type", "media_type", "data", "url"));
    /* a text document's media type is not carried: only Anthropic's own */
    if (type_is(b, "document"))
        return keys_in(b, KEYS("type", "source", "title", "context", "cache_control")) &&
               keys_in(src, KEYS("type", "media_type", "data")) &&
               ((strcmp(st->valuestring, "text") == 0 &&
                 word_in(tg__msg_get(src, "media_type"), KEYS("text/plain"))) ||
                (strcmp(st->valuestring, "base64") == 0 &&
                 word_in(tg__msg_get(src, "media_type"), KEYS("application/pdf"))));
    return false;
}

static bool
tool_result_block(const cJSON *b)
{
    const cJSON *c = tg__msg_get(b, "content");

    if (!keys_in(b, KEYS("type", "tool_use_id", "content", "is_error", "cache_control")) || !cache_ok(b))
        return false;
    if (cJSON_IsArray(c))
        for (const cJSON *x = c->child; x != NULL; x = x->next)
            if (!text_block(x) && !(type_is(x, "image") && source_block(x)))
                return false;
    return true;
}

static bool
content_ok(const cJSON *content, bool assistant)
{
    if (cJSON_IsString(content))
        return true;
    if (!cJSON_IsArray(content))
        return false;
    for (const cJSON *b = content->child; b != NULL; b = b->next) {
        bool ok;
        if (!cJSON_IsObject(b))
            return false;
        if (assistant)
            ok = text_block(b) ||
                 (type_is(b, "tool_use") && keys_in(b, KEYS("type", "id", "name", "input", "cache_control")) &&
                  cache_ok(b));
        else
            ok = text_block(b) || source_block(b) || (type_is(b, "tool_result") && tool_result_block(b));
        if (!ok)
            return false;
    }
    return true;
}

bool
tg__msg_verbatim_ok(const cJSON *body)
{
    const cJSON *v;

    if (!cJSON_IsObject(body) ||
        !keys_in(body, KEYS("model", "max_tokens", "messages", "system", "tools", "tool_choice",
                            "stop_sequences", "temperature", "top_p", "top_k", "stream", "metadata",
                            "thinking", "service_tier", "cache_control")))
        return false;
    if ((v = tg__msg_get(body, "metadata")) != NULL &&
        (!cJSON_IsObject(v) || !keys_in(v, KEYS("user_id", "category"))))
        return false;
    if ((v = tg__msg_get(body, "thinking")) != NULL &&
        (!cJSON_IsObject(v) || !keys_in(v, KEYS("type", "budget_tokens")) ||
         !word_in(tg__msg_get(v, "type"), KEYS("enabled", "disabled", "adaptive")) ||
         !ABSENT_OR(v, "budget_tokens", cJSON_IsNumber(tg__msg_get(v, "budget_tokens")))))
        return false;
    if (!ABSENT_OR(body, "service_tier", word_in(tg__msg_get(body, "service_tier"), KEYS("auto", "standard_only"))) ||
        !ABSENT_OR(body, "top_k", cJSON_IsNumber(tg__msg_get(body, "top_k"))))
        return false;
    if ((v = tg__msg_get(body, "system")) != NULL && !cJSON_IsString(v)) {
        if (!cJSON_IsArray(v))
            return false;
        for (const cJSON *b = v->child; b != NULL; b = b->next)
            if (!text_block(b))
                return false;
    }
    v = tg__msg_get(body, "messages");
    if (!cJSON_IsArray(v))
        return false;
    for (const cJSON *m = v->child; m != NULL; m = m->next) {
        const cJSON *role = tg__msg_get(m, "role");
        if (!cJSON_IsObject(m) || !keys_in(m, KEYS("role", "content")) || !cJSON_IsString(role))
            return false;
        if (strcmp(role->valuestring, "user") != 0 && strcmp(role->valuestring, "assistant") != 0)
            return false;   /* a system message in the list is a translation of ours */
        if (!content_ok(tg__msg_get(m, "content"), role->valuestring[0] == 'a'))
            return false;
    }
    if ((v = tg__msg_get(body, "tools")) != NULL) {
        if (!cJSON_IsArray(v))
            return false;
        for (const cJSON *t = v->child; t != NULL; t = t->next) {
            const cJSON *ty = tg__msg_get(t, "type");
            /* defer_loading, strict, eager_input_streaming: flags, no text */
            if (!cJSON_IsObject(t) || !keys_in(t, KEYS("type", "name", "description", "input_schema", "cache_control",
                                                       "defer_loading", "strict", "eager_input_streaming")))
                return false;
            if (ty != NULL && !(cJSON_IsString(ty) && strcmp(ty->valuestring, "custom") == 0))
                return false;   /* Anthropic-defined tools are dropped on the way in */
            if (!cache_ok(t) || !ABSENT_OR(t, "defer_loading", cJSON_IsBool(tg__msg_get(t, "defer_loading"))) ||
                !ABSENT_OR(t, "strict", cJSON_IsBool(tg__msg_get(t, "strict"))) ||
                !ABSENT_OR(t, "eager_input_streaming", cJSON_IsBool(tg__msg_get(t, "eager_input_streaming"))))
                return false;
        }
    }
    if ((v = tg__msg_get(body, "tool_choice")) != NULL &&
        (!cJSON_IsObject(v) || !keys_in(v, KEYS("type", "name", "disable_parallel_tool_use"))))
        return false;
    /* a top-level cache_control (automatic caching) is allowed; checked like the others */
    return cache_ok(body);
}
