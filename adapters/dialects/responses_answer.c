/*
 * responses_answer.c — chat.completion -> a Response object (encode_answer),
 * with the shapes of openai/openai-openapi, and the pieces of a Response
 * (echoed request members, output items, usage) that the stream reuses.
 * Written by hand into a bounded buffer, never built as a cJSON tree.
 */
#include "adapters/dialects/responses_int.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the Response object ------------------------------------------------- */

static int64_t
int_of(const cJSON *o, const char *k)
{
    const cJSON *v = tg__resp_get(o, k);
    return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 9e15
               ? (int64_t)v->valuedouble : 0;
}

/* A chat usage object (OpenAI's details or DeepSeek's cache counter). */
void
tg__resp_usage_read(struct tg__resp_usage *u, const cJSON *cu)
{
    if (!cJSON_IsObject(cu))
        return;
    u->have = true;
    u->in = int_of(cu, "prompt_tokens");
    u->out = int_of(cu, "completion_tokens");
    u->total = cJSON_IsNumber(tg__resp_get(cu, "total_tokens")) ? int_of(cu, "total_tokens")
                                                       : u->in + u->out;
    u->cached = int_of(tg__resp_get(cu, "prompt_tokens_details"), "cached_tokens");
    if (u->cached == 0)
        u->cached = int_of(cu, "prompt_cache_hit_tokens");
    u->reasoning = int_of(tg__resp_get(cu, "completion_tokens_details"), "reasoning_tokens");
}

static void
usage_write(struct tg__jw *b, const struct tg__resp_usage *u)
{
    if (u == NULL || !u->have) {
        TG__JW_LIT(b, "null");
        return;
    }
    TG__JW_LIT(b, "{\"input_tokens\":");
    tg__jw_int(b, u->in);
    TG__JW_LIT(b, ",\"input_tokens_details\":{\"cached_tokens\":");
    tg__jw_int(b, u->cached);
    TG__JW_LIT(b, "},\"output_tokens\":");
    tg__jw_int(b, u->out);
    TG__JW_LIT(b, ",\"output_tokens_details\":{\"reasoning_tokens\":");
    tg__jw_int(b, u->reasoning);
    TG__JW_LIT(b, "},\"total_tokens\":");
    tg__jw_int(b, u->total);
    TG__JW_LIT(b, "}");
}

const char *
tg__resp_answer_id(const struct tg_dialect_ctx *ctx)
{
    return ctx->answer_id != NULL && ctx->answer_id[0] != '\0' ? ctx->answer_id : "tollgate";
}

/* An output item's id: "<prefix>_<answer id>_<output index>". */
void
tg__resp_item_id(struct tg__jw *b, const struct tg_dialect_ctx *ctx, const char *prefix,
                 uint32_t idx)
{
    const char *id = tg__resp_answer_id(ctx);
    TG__JW_LIT(b, "\"");
    tg__jw_esc(b, prefix, strlen(prefix));
    TG__JW_LIT(b, "_");
    tg__jw_esc(b, id, strlen(id));
    TG__JW_LIT(b, "_");
    tg__jw_int(b, idx);
    TG__JW_LIT(b, "\"");
}

/* The incomplete reason of a chat finish_reason, NULL when complete. */
const char *
tg__resp_incomplete_reason(const char *finish)
{
    if (tg__resp_streq(finish, "length"))
        return "max_output_tokens";
    if (tg__resp_streq(finish, "content_filter"))
        return "content_filter";
    return NULL;
}

/* The Response members that echo the request (as OpenAI's do), starting
 * with ','; defaults without a request.  Built once per answer or stream. */
void
tg__resp_build_echo(struct tg__jw *b, const struct tg_dialect_ctx *ctx)
{
    const struct tg__resp_priv *pv = ctx->priv;
    static const struct tg__resp_top none;
    const struct tg__resp_top *top = pv != NULL ? &pv->top : &none;
    const cJSON *v;

    TG__JW_LIT(b, ",\"instructions\":");
    v = top->instructions;
    tg__jw_value(b, cJSON_IsString(v) ? v : NULL);
    TG__JW_LIT(b, ",\"max_output_tokens\":");
    v = top->max_output_tokens;
    tg__jw_value(b, cJSON_IsNumber(v) ? v : NULL);
    TG__JW_LIT(b, ",\"metadata\":");
    v = top->metadata;
    if (cJSON_IsObject(v))
        tg__jw_value(b, v);
    else
        TG__JW_LIT(b, "{}");
    v = top->parallel_tool_calls;
    TG__JW_LIT(b, ",\"parallel_tool_calls\":");
    tg__jw_cstr(b, cJSON_IsFalse(v) ? "false" : "true");
    TG__JW_LIT(b, ",\"previous_response_id\":null,\"reasoning\":{\"effort\":null,\"summary\":null}"
          ",\"service_tier\":\"default\",\"store\":false,\"temperature\":");
    v = top->temperature;
    if (cJSON_IsNumber(v))
        tg__jw_value(b, v);
    else
        TG__JW_LIT(b, "1");
    TG__JW_LIT(b, ",\"text\":");
    v = top->text;
    if (cJSON_IsObject(v) && cJSON_IsObject(tg__resp_get(v, "format")))
        tg__jw_value(b, v);
    else
        TG__JW_LIT(b, "{\"format\":{\"type\":\"text\"}}");
    TG__JW_LIT(b, ",\"tool_choice\":");
    v = top->tool_choice;
    if (tg__resp_present(v))
        tg__jw_value(b, v);
    else
        TG__JW_LIT(b, "\"auto\"");
    TG__JW_LIT(b, ",\"tools\":");
    v = top->tools;
    if (cJSON_IsArray(v))
        tg__jw_value(b, v);
    else
        TG__JW_LIT(b, "[]");
    TG__JW_LIT(b, ",\"top_p\":");
    v = top->top_p;
    if (cJSON_IsNumber(v))
        tg__jw_value(b, v);
    else
        TG__JW_LIT(b, "1");
    TG__JW_LIT(b, ",\"truncation\":\"disabled\",\"user\":");
    v = top->user;
    tg__jw_value(b, cJSON_IsString(v) ? v : NULL);
}

/*
 * A Response object in two halves around its output items, so that a plain
 * answer writes its items in place: the head ends with `"output":[`, the
 * tail closes it and adds the echo and the usage.
 * status: in_progress | completed | incomplete | failed.
 */
void
tg__resp_write_head(struct tg__jw *b, const struct tg_dialect_ctx *ctx, const char *status,
                    const char *incomplete, const char *err_msg)
{
    const char *id = tg__resp_answer_id(ctx);

    TG__JW_LIT(b, "{\"id\":\"resp_");
    tg__jw_esc(b, id, strlen(id));
    TG__JW_LIT(b, "\",\"object\":\"response\",\"created_at\":");
    tg__jw_int(b, ctx->now_s);
    TG__JW_LIT(b, ",\"status\":");
    tg__jw_str(b, status);
    TG__JW_LIT(b, ",\"background\":false,\"completed_at\":");
    if (tg__resp_streq(status, "completed"))
        tg__jw_int(b, ctx->now_s);
    else
        TG__JW_LIT(b, "null");
    TG__JW_LIT(b, ",\"error\":");
    if (err_msg != NULL) {
        TG__JW_LIT(b, "{\"code\":\"server_error\",\"message\":");
        tg__jw_str(b, err_msg);
        TG__JW_LIT(b, "}");
    } else {
        TG__JW_LIT(b, "null");
    }
    TG__JW_LIT(b, ",\"incomplete_details\":");
    if (incomplete != NULL) {
        TG__JW_LIT(b, "{\"reason\":");
        tg__jw_str(b, incomplete);
        TG__JW_LIT(b, "}");
    } else {
        TG__JW_LIT(b, "null");
    }
    TG__JW_LIT(b, ",\"model\":");
    tg__jw_str(b, ctx->client_model != NULL ? ctx->client_model : "");
    TG__JW_LIT(b, ",\"output\":[");
}

/* echo: tg__resp_build_echo()'s text, or NULL to write it here. */
void
tg__resp_write_tail(struct tg__jw *b, const struct tg_dialect_ctx *ctx, const struct tg__jw *echo,
                    const struct tg__resp_usage *u)
{
    TG__JW_LIT(b, "]");
    if (echo != NULL)
        tg__jw_raw(b, echo->buf ? echo->buf : "", echo->len);
    else
        tg__resp_build_echo(b, ctx);
    TG__JW_LIT(b, ",\"usage\":");
    usage_write(b, u);
    TG__JW_LIT(b, "}");
}

/* A whole Response object around `output` (the items' JSON, without
 * brackets): the stream's events carry it several times. */
void
tg__resp_write_response(struct tg__jw *b, const struct tg_dialect_ctx *ctx,
                        const struct tg__jw *echo,
                        const char *status,
                        const char *incomplete, const char *output, size_t output_len,
                        const struct tg__resp_usage *u, const char *err_msg)
{
    tg__resp_write_head(b, ctx, status, incomplete, err_msg);
    tg__jw_raw(b, output, output_len);
    tg__resp_write_tail(b, ctx, echo, u);
}

bool
tg__resp_is_custom(const struct tg_dialect_ctx *ctx, const char *name)
{
    const struct tg__resp_priv *pv = ctx->priv;
    for (uint32_t i = 0; pv != NULL && name != NULL && i < pv->ncustom; i++)
        if (strcmp(pv->custom[i], name) == 0)
            return true;
    return false;
}

/* A function name as the chat model saw it -> the client's name and, for a
 * namespaced function, its namespace (NULL otherwise). */
const char *
tg__resp_client_name(const struct tg_dialect_ctx *ctx, const char *flat, const char **ns)
{
    const struct tg__resp_priv *pv = ctx->priv;
    *ns = NULL;
    for (uint32_t i = 0; pv != NULL && flat != NULL && i < pv->nnsfn; i++)
        if (strcmp(pv->nsfn[i].flat, flat) == 0) {
            *ns = pv->nsfn[i].ns;
            return pv->nsfn[i].name;
        }
    return flat;
}

/* The `input` argument of a custom tool's call; the raw arguments when the
 * model did not send {"input": "..."}. */
void
tg__resp_write_custom_input(struct tg__jw *b, const char *args, size_t len)
{
    struct tg_arena a;
    cJSON *root = NULL;
    const char *end;
    const cJSON *in;

    tg_arena_init(&a, 0);
    if (tg_json_parse(args, len, TG_MAX_JSON_DEPTH, &a, &root, &end) == TG_OK &&
        cJSON_IsString(in = tg__resp_get(root, "input")))
        tg__jw_str(b, in->valuestring);
    else
        tg__jw_strn(b, args, len);
    tg_arena_free(&a);
}

/* A message item; text/refusal parts in content_index order. */
void
tg__resp_write_msg_item(struct tg__jw *b, const struct tg_dialect_ctx *ctx, uint32_t idx,
                        const char *status,
                        const char *text, size_t tlen, int text_ci, const char *refusal, size_t rlen,
                        int refusal_ci)
{
    TG__JW_LIT(b, "{\"id\":");
    tg__resp_item_id(b, ctx, "msg", idx);
    TG__JW_LIT(b, ",\"type\":\"message\",\"status\":");
    tg__jw_str(b, status);
    TG__JW_LIT(b, ",\"role\":\"assistant\",\"content\":[");
    for (int ci = 0; ci < 2; ci++) {
        if (ci == text_ci) {
            if (ci > 0)
                TG__JW_LIT(b, ",");
            TG__JW_LIT(b, "{\"type\":\"output_text\",\"text\":");
            tg__jw_strn(b, text, tlen);
            TG__JW_LIT(b, ",\"annotations\":[],\"logprobs\":[]}");
        } else if (ci == refusal_ci) {
            if (ci > 0)
                TG__JW_LIT(b, ",");
            TG__JW_LIT(b, "{\"type\":\"refusal\",\"refusal\":");
            tg__jw_strn(b, refusal, rlen);
            TG__JW_LIT(b, "}");
        }
    }
    TG__JW_LIT(b, "]}");
}

void
tg__resp_write_call_item(struct tg__jw *b, const struct tg_dialect_ctx *ctx, uint32_t idx,
                         bool custom,
                         const char *status, const char *call_id, const char *name, const char *args,
                         size_t alen)
{
    TG__JW_LIT(b, "{\"id\":");
    tg__resp_item_id(b, ctx, custom ? "ctc" : "fc", idx);
    tg__jw_cstr(b, custom ? ",\"type\":\"custom_tool_call\",\"status\":"
                 : ",\"type\":\"function_call\",\"status\":");
    tg__jw_str(b, status);
    TG__JW_LIT(b, ",\"call_id\":");
    tg__jw_str(b, call_id);
    const char *ns;
    TG__JW_LIT(b, ",\"name\":");
    tg__jw_str(b, tg__resp_client_name(ctx, name, &ns));
    if (ns != NULL) {
        TG__JW_LIT(b, ",\"namespace\":");
        tg__jw_str(b, ns);
    }
    if (custom) {
        TG__JW_LIT(b, ",\"input\":");
        tg__resp_write_custom_input(b, args, alen);
    } else {
        TG__JW_LIT(b, ",\"arguments\":");
        tg__jw_strn(b, args, alen);
    }
    TG__JW_LIT(b, "}");
}

/* ---- encode_answer: chat.completion -> Response --------------------------- */

int
tg__resp_encode_answer(const struct tg_dialect_ctx *ctx, const char *chat, size_t len, char **out,
                       size_t *outlen, struct tg_err *err)
{
    struct tg_arena a;
    struct tg__jw b;
    struct tg__resp_usage u = { 0 };
    cJSON *root = NULL;
    const cJSON *choice, *msg, *content, *refusal, *tcs;
    const char *end, *finish, *incomplete, *status;
    uint32_t idx = 0;
    int rc;

    tg_arena_init(&a, 0);
    tg__jw_init(&b, TG_MAX_RESP_EVENT_BYTES);
    rc = tg_json_parse(chat, len, TG_MAX_JSON_DEPTH, &a, &root, &end);
    if (rc != TG_OK || !cJSON_IsObject(root)) {
        rc = tg_err_set(err, rc == TG_ENOMEM ? TG_ENOMEM : TG_EINVAL,
                        "answer is not a chat.completion");
        goto out;
    }
    choice = cJSON_GetArrayItem(tg__resp_get(root, "choices"), 0);
    msg = tg__resp_get(choice, "message");
    if (!cJSON_IsArray(tg__resp_get(root, "choices")) || !cJSON_IsObject(msg)) {
        rc = tg_err_set(err, TG_EINVAL, "answer is not a chat.completion");
        goto out;
    }
    finish = tg__resp_str_or(tg__resp_get(choice, "finish_reason"), NULL);
    incomplete = tg__resp_incomplete_reason(finish);
    status = incomplete != NULL ? "incomplete" : "completed";
    content = tg__resp_get(msg, "content");
    refusal = tg__resp_get(msg, "refusal");
    tcs = tg__resp_get(msg, "tool_calls");
    tg__resp_usage_read(&u, tg__resp_get(root, "usage"));
    /* one buffer, written in order: the answer is a few KiB and goes out as is */
    if (len + 2048 <= TG_MAX_RESP_EVENT_BYTES)
        tg__jw_room(&b, len + 2048);
    tg__resp_write_head(&b, ctx, status, incomplete, NULL);

    /* A message item when there is text, a refusal, or nothing else at all
     * (clients read output[0] of a plain answer). */
    {
        bool has_text = cJSON_IsString(content) && content->valuestring[0] != '\0';
        bool has_ref = cJSON_IsString(refusal) && refusal->valuestring[0] != '\0';
        bool has_calls = cJSON_IsArray(tcs) && tcs->child != NULL;
        if (has_text || has_ref || !has_calls) {
            const char *t = cJSON_IsString(content) ? content->valuestring : "";
            const char *r = has_ref ? refusal->valuestring : "";
            int text_ci = has_text || !has_ref ? 0 : -1;
            tg__resp_write_msg_item(&b, ctx, idx++, status, t, strlen(t), text_ci, r, strlen(r),
                                    has_ref ? text_ci + 1 : -1);
        }
    }
    for (const cJSON *tc = cJSON_IsArray(tcs) ? tcs->child : NULL; tc != NULL; tc = tc->next) {
        const cJSON *fn = tg__resp_get(tc, "function");
        const char *name = tg__resp_str_or(tg__resp_get(fn, "name"), "");
        const char *args = tg__resp_str_or(tg__resp_get(fn, "arguments"), "");
        const cJSON *id = tg__resp_get(tc, "id");
        char gen[96];
        if (!cJSON_IsObject(fn))
            continue;
        if (!cJSON_IsString(id)) {
            snprintf(gen, sizeof(gen), "call_%.64s_%u", tg__resp_answer_id(ctx), idx);
        }
        if (idx > 0)
            TG__JW_LIT(&b, ",");
        tg__resp_write_call_item(&b, ctx, idx, tg__resp_is_custom(ctx, name), "completed",
                                 cJSON_IsString(id) ? id->valuestring : gen, name, args, strlen(args));
        idx++;
    }
    tg__resp_write_tail(&b, ctx, NULL, &u);
    if (b.rc) {
        rc = tg_err_set(err, b.rc, "answer too large");
        goto out;
    }
    *out = b.buf;
    *outlen = b.len;
    b.buf = NULL;
    rc = TG_OK;
out:
    tg__jw_free(&b);
    tg_arena_free(&a);
    return rc;
}
