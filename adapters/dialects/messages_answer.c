/*
 * messages_answer.c — answer: a chat.completion -> an Anthropic Message
 * object.
 *
 * What is carried or dropped, field by field, is in docs/dialects.md
 * ("Anthropic Messages"); the comments here say why.
 */

#include "adapters/dialects/messages_int.h"
#include "engine/json.h"
#include "engine/limits.h"

#include <cjson/cJSON.h>

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---- answers ------------------------------------------------------------- */

/* Anthropic's stop_reason for an OpenAI finish_reason. */
const char *
tg__msg_stop_reason(const char *finish, bool tool_calls)
{
    if (finish != NULL && strcmp(finish, "length") == 0)
        return "max_tokens";
    if (finish != NULL && strcmp(finish, "content_filter") == 0)
        return "refusal";
    /* some providers say "stop" after tool calls: the blocks decide */
    if (tool_calls || (finish != NULL && (strcmp(finish, "tool_calls") == 0 ||
                                          strcmp(finish, "function_call") == 0)))
        return "tool_use";
    return "end_turn";
}

/* The request's stop sequence that ended the answer, when the provider
 * says which (vLLM-style choices[].stop_reason); NULL otherwise: OpenAI's
 * finish_reason "stop" does not tell a stop sequence from a natural end. */
static const char *
matched_stop(const struct tg__msg_priv *p, const cJSON *choice)
{
    const cJSON *sr = tg__msg_get(choice, "stop_reason");
    if (p == NULL || !cJSON_IsString(sr))
        return NULL;
    for (uint32_t i = 0; i < p->nstops; i++)
        if (strcmp(p->stops[i], sr->valuestring) == 0)
            return p->stops[i];
    return NULL;
}

int64_t
tg__msg_usage_int(const cJSON *o, const char *k)
{
    const cJSON *v = tg__msg_get(o, k);
    if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0) || v->valuedouble > 9e15)
        return 0;
    return (int64_t)v->valuedouble;
}

/* Anthropic counts cached input apart from input_tokens. */
void
tg__msg_write_usage(struct tg__jw *w, int64_t prompt, int64_t completion, int64_t cached, bool input)
{
    if (cached > prompt)
        cached = prompt;
    TG__JW_LIT(w, "{");
    if (input) {
        TG__JW_LIT(w, "\"input_tokens\":");
        tg__jw_int(w, prompt - cached);
        TG__JW_LIT(w, ",\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":");
        tg__jw_int(w, cached);
        TG__JW_LIT(w, ",");
    }
    TG__JW_LIT(w, "\"output_tokens\":");
    tg__jw_int(w, completion);
    TG__JW_LIT(w, "}");
}

/* A tool call's arguments as the tool_use block's input object. */
static void
write_input(struct tg__jw *w, struct tg_arena *a, const char *args)
{
    cJSON *in = NULL;
    const char *p = args, *end;

    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    if (*p == '\0') {
        TG__JW_LIT(w, ",\"input\":{}");
        return;
    }
    /* what cJSON_Parse accepts (trailing text ignored), in the answer's arena */
    if (tg_json_parse(args, strlen(args), CJSON_NESTING_LIMIT, a, &in, &end) != TG_OK)
        in = NULL;
    if (cJSON_IsObject(in)) {
        TG__JW_LIT(w, ",\"input\":");
        tg__jw_value(w, in);
    } else {
        /* Not a JSON object (the model's JSON broke, or was cut by
         * max_tokens): input {} as the block requires, and the text as the
         * model wrote it, so that nothing is lost and the client can see why
         * the call failed. */
        TG__JW_LIT(w, ",\"input\":{},\"tollgate_arguments\":");
        tg__jw_str(w, args);
    }
}

int
tg__msg_encode_answer(const struct tg_dialect_ctx *ctx, const char *chat, size_t len,
                      char **out, size_t *outlen, struct tg_err *err)
{
    struct tg_arena a;
    cJSON *j = NULL;
    const char *jend;
    const cJSON *choice, *msg, *content, *tcs, *tc, *refusal, *usage, *fr;
    const char *sr, *seq = NULL;
    const char *aid = ctx != NULL && ctx->answer_id != NULL ? ctx->answer_id : "tollgate";
    struct tg__jw w;
    bool first = true, tools = false;
    uint32_t k = 0;
    int rc = TG_EINVAL;

    /* text is re-escaped at most once and arguments shrink to objects */
    tg__jw_init(&w, len * 2 + 65536);
    /* The answer's tree lives in an arena freed at once: cJSON_Parse made a
     * malloc per node and string, the largest cost of this function.  Same
     * texts accepted (trailing text ignored, cJSON's nesting limit). */
    tg_arena_init(&a, 0);
    if (tg_json_parse(chat, len, CJSON_NESTING_LIMIT, &a, &j, &jend) != TG_OK)
        j = NULL;
    /* about the size it will be: one allocation */
    tg__jw_reserve(&w, len + 256);
    choice = cJSON_GetArrayItem(tg__msg_get(j, "choices"), 0);
    msg = tg__msg_get(choice, "message");
    if (!cJSON_IsObject(j) || !cJSON_IsObject(msg)) {
        rc = tg_err_set(err, TG_EINVAL, "upstream answer is not a chat.completion");
        goto out;
    }
    content = tg__msg_get(msg, "content");
    tcs = tg__msg_get(msg, "tool_calls");
    refusal = tg__msg_get(msg, "refusal");

    TG__JW_LIT(&w, "{\"id\":\"msg_");
    tg__jw_esc(&w, aid, strlen(aid));
    TG__JW_LIT(&w, "\",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    tg__jw_str(&w, ctx != NULL && ctx->client_model != NULL ? ctx->client_model : "");
    TG__JW_LIT(&w, ",\"content\":[");
#define TEXT_BLOCK(s) do {                                   \
        if (!first) TG__JW_LIT(&w, ",");                         \
        first = false;                                       \
        TG__JW_LIT(&w, "{\"type\":\"text\",\"text\":");          \
        tg__jw_str(&w, (s));                                     \
        TG__JW_LIT(&w, "}");                                     \
    } while (0)
    if (cJSON_IsString(content) && content->valuestring[0] != '\0') {
        TEXT_BLOCK(content->valuestring);
    } else if (cJSON_IsArray(content)) {
        for (const cJSON *p = content->child; p != NULL; p = p->next) {
            const cJSON *t = tg__msg_get(p, "text");
            if (!cJSON_IsString(t))
                t = tg__msg_get(p, "refusal");
            if (cJSON_IsString(t) && t->valuestring[0] != '\0')
                TEXT_BLOCK(t->valuestring);
        }
    }
    if (cJSON_IsString(refusal) && refusal->valuestring[0] != '\0')
        TEXT_BLOCK(refusal->valuestring);
#undef TEXT_BLOCK
    for (tc = cJSON_IsArray(tcs) ? tcs->child : NULL; tc != NULL; tc = tc->next, k++) {
        const cJSON *fn = tg__msg_get(tc, "function"), *id = tg__msg_get(tc, "id");
        const cJSON *name = tg__msg_get(fn, "name"), *args = tg__msg_get(fn, "arguments");
        if (!cJSON_IsObject(fn))
            continue;
        tools = true;
        if (!first)
            TG__JW_LIT(&w, ",");
        first = false;
        TG__JW_LIT(&w, "{\"type\":\"tool_use\",\"id\":");
        if (cJSON_IsString(id) && id->valuestring[0] != '\0') {
            tg__jw_str(&w, id->valuestring);
        } else {
            /* Anthropic requires an id to answer the call with */
            TG__JW_LIT(&w, "\"toolu_");
            tg__jw_esc(&w, aid, strlen(aid));
            TG__JW_LIT(&w, "_");
            tg__jw_int(&w, k);
            TG__JW_LIT(&w, "\"");
        }
        TG__JW_LIT(&w, ",\"name\":");
        tg__jw_str(&w, cJSON_IsString(name) ? name->valuestring : "");
        write_input(&w, &a, cJSON_IsString(args) ? args->valuestring : "");
        TG__JW_LIT(&w, "}");
    }
    fr = tg__msg_get(choice, "finish_reason");
    sr = tg__msg_stop_reason(cJSON_IsString(fr) ? fr->valuestring : NULL, tools);
    if (cJSON_IsString(refusal) && refusal->valuestring[0] != '\0')
        sr = "refusal";
    if (strcmp(sr, "end_turn") == 0 && (seq = matched_stop(ctx ? ctx->priv : NULL, choice)) != NULL)
        sr = "stop_sequence";
    TG__JW_LIT(&w, "],\"stop_reason\":\"");
    tg__jw_raw(&w, sr, strlen(sr));
    TG__JW_LIT(&w, "\",\"stop_sequence\":");
    if (seq != NULL)
        tg__jw_str(&w, seq);
    else
        TG__JW_LIT(&w, "null");
    usage = tg__msg_get(j, "usage");
    TG__JW_LIT(&w, ",\"usage\":");
    tg__msg_write_usage(&w, tg__msg_usage_int(usage, "prompt_tokens"), tg__msg_usage_int(usage, "completion_tokens"),
                tg__msg_usage_int(tg__msg_get(usage, "prompt_tokens_details"), "cached_tokens"), true);
    TG__JW_LIT(&w, "}");
    if (w.rc != TG_OK) {
        rc = tg_err_set(err, w.rc, w.rc == TG_ENOMEM ? "out of memory encoding the answer"
                                                      : "answer too large to encode");
        goto out;
    }
    *out = w.buf;
    *outlen = w.len;
    w.buf = NULL;
    rc = TG_OK;
out:
    tg__jw_free(&w);
    tg_arena_free(&a);
    return rc;
}
