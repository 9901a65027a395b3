/*
 * anthropic.c — chat completions <-> Anthropic Messages API (version
 * 2023-06-01): request translation, response translation, and the stream
 * events (message_start, content_block_start/delta, message_delta,
 * message_stop) turned into chat.completion.chunk SSE.
 */
#include "adapters/providers/provider.h"
#include "adapters/providers/prov_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Text of an OpenAI content value (string or array of parts), appended to buf. */
static void
content_text(const cJSON *c, cJSON *into_arr, char **acc, size_t *acclen)
{
    (void)into_arr;
    if (cJSON_IsString(c)) {
        size_t n = strlen(c->valuestring);
        char *nb = realloc(*acc, *acclen + n + 3);
        if (nb == NULL)
            return;
        *acc = nb;
        if (*acclen > 0) {
            memcpy(nb + *acclen, "\n\n", 2);
            *acclen += 2;
        }
        memcpy(nb + *acclen, c->valuestring, n);
        *acclen += n;
        nb[*acclen] = '\0';
    } else if (cJSON_IsArray(c)) {
        const cJSON *part;
        cJSON_ArrayForEach(part, c) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
            if (cJSON_IsString(t))
                content_text(t, NULL, acc, acclen);
        }
    }
}

/* OpenAI content -> Anthropic content (string stays a string). NULL on ENOMEM/empty. */
static cJSON *
convert_content(const cJSON *c)
{
    cJSON *arr;
    const cJSON *part;

    if (cJSON_IsString(c))
        return cJSON_CreateString(c->valuestring);
    if (!cJSON_IsArray(c))
        return NULL;
    arr = cJSON_CreateArray();
    if (arr == NULL)
        return NULL;
    cJSON_ArrayForEach(part, c) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(part, "type");
        cJSON *b = cJSON_CreateObject();
        if (b == NULL)
            goto fail;
        cJSON_AddItemToArray(arr, b);
        if (cJSON_IsString(type) && strcmp(type->valuestring, "image_url") == 0) {
            const cJSON *iu = cJSON_GetObjectItemCaseSensitive(part, "image_url");
            const cJSON *url = cJSON_IsString(iu) ? iu : cJSON_GetObjectItemCaseSensitive(iu, "url");
            cJSON *src;
            cJSON_AddStringToObject(b, "type", "image");
            src = cJSON_AddObjectToObject(b, "source");
            if (src == NULL || !cJSON_IsString(url))
                goto fail;
            if (strncmp(url->valuestring, "data:", 5) == 0) {
                /* data:<media type>;base64,<data> */
                const char *semi = strchr(url->valuestring, ';');
                const char *comma = strchr(url->valuestring, ',');
                char mt[128];
                if (semi == NULL || comma == NULL || comma < semi || (size_t)(semi - url->valuestring - 5) >= sizeof(mt))
                    goto fail;
                snprintf(mt, sizeof(mt), "%.*s", (int)(semi - url->valuestring - 5), url->valuestring + 5);
                cJSON_AddStringToObject(src, "type", "base64");
                cJSON_AddStringToObject(src, "media_type", mt);
                cJSON_AddStringToObject(src, "data", comma + 1);
            } else {
                cJSON_AddStringToObject(src, "type", "url");
                cJSON_AddStringToObject(src, "url", url->valuestring);
            }
        } else {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
            cJSON_AddStringToObject(b, "type", "text");
            cJSON_AddStringToObject(b, "text", cJSON_IsString(t) ? t->valuestring : "");
        }
    }
    return arr;
fail:
    cJSON_Delete(arr);
    return NULL;
}

static cJSON *
tool_use_blocks(const cJSON *tool_calls, cJSON *arr)
{
    const cJSON *tc;
    cJSON_ArrayForEach(tc, tool_calls) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(tc, "id");
        const cJSON *fn = cJSON_GetObjectItemCaseSensitive(tc, "function");
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(fn, "arguments");
        cJSON *b = cJSON_CreateObject(), *input;
        if (b == NULL)
            return NULL;
        cJSON_AddItemToArray(arr, b);
        cJSON_AddStringToObject(b, "type", "tool_use");
        cJSON_AddStringToObject(b, "id", cJSON_IsString(id) ? id->valuestring : "");
        cJSON_AddStringToObject(b, "name", cJSON_IsString(name) ? name->valuestring : "");
        input = cJSON_IsString(args) ? cJSON_Parse(args->valuestring) : NULL;
        if (!cJSON_IsObject(input)) {
            cJSON_Delete(input);
            input = cJSON_CreateObject();
        }
        cJSON_AddItemToObject(b, "input", input);
    }
    return arr;
}

/* URL and headers of a Messages API request (h->stream set); false when
 * out of memory. */
static bool
anthropic_http(const struct tg_provider *prov, struct tg_arena *a, struct tg_prov_http *h)
{
    /* base_url may name the API root ("https://api.anthropic.com", the
     * stub's "/anthropic") or its /v1 (as the registry does). */
    const char *base = prov->base_url ? prov->base_url : "";
    size_t bl = strlen(base);

    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    h->url = bl >= 3 && memcmp(base + bl - 3, "/v1", 3) == 0
                 ? tg__prov_url(a, base, "/messages")
                 : tg__prov_url(a, base, "/v1/messages");
    h->nheaders = 0;
    h->headers[h->nheaders++] = "Content-Type: application/json";
    h->headers[h->nheaders++] = "anthropic-version: 2023-06-01";
    h->headers[h->nheaders++] = h->stream ? "Accept: text/event-stream" : "Accept: application/json";
    if (prov->api_key != NULL && prov->api_key[0] != '\0')
        h->headers[h->nheaders++] = tg_arena_sprintf(a, "x-api-key: %s", prov->api_key);
    return h->url != NULL && h->headers[h->nheaders - 1] != NULL;
}

static int
anthropic_build_tree(const struct tg_provider *prov, const struct tg_model *m, cJSON *j,
                         uint32_t default_max_tokens, struct tg_arena *a,
                         struct tg_prov_http *h, struct tg_err *err)
{
    cJSON *o = cJSON_CreateObject(), *msgs, *v;
    const cJSON *msg, *in_msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    char *sys = NULL;
    size_t syslen = 0;
    int64_t max_tokens;
    int rc = TG_ENOMEM;

    if (o == NULL)
        goto out;
    if (!cJSON_IsArray(in_msgs)) {
        rc = tg_err_set(err, TG_EINVAL, "messages must be an array");
        goto out;
    }
    cJSON_AddStringToObject(o, "model", m->upstream ? m->upstream : m->id);
    max_tokens = tg__prov_int(j, "max_tokens");
    if (max_tokens < 0)
        max_tokens = tg__prov_int(j, "max_completion_tokens");
    if (max_tokens <= 0)
        max_tokens = default_max_tokens ? default_max_tokens : 1024;
    if (m->max_output_tokens > 0 && max_tokens > (int64_t)m->max_output_tokens)
        max_tokens = m->max_output_tokens;
    cJSON_AddNumberToObject(o, "max_tokens", (double)max_tokens);
    msgs = cJSON_AddArrayToObject(o, "messages");
    if (msgs == NULL)
        goto out;
    cJSON_ArrayForEach(msg, in_msgs) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
        const char *r = cJSON_IsString(role) ? role->valuestring : "";
        cJSON *am;

        if (strcmp(r, "system") == 0 || strcmp(r, "developer") == 0) {
            /* Anthropic takes instructions in a top-level `system`. */
            content_text(content, NULL, &sys, &syslen);
            continue;
        }
        am = cJSON_CreateObject();
        if (am == NULL)
            goto out;
        cJSON_AddItemToArray(msgs, am);
        if (strcmp(r, "tool") == 0) {
            const cJSON *tid = cJSON_GetObjectItemCaseSensitive(msg, "tool_call_id");
            cJSON *arr = cJSON_CreateArray(), *b = cJSON_CreateObject(), *c;
            char *t = NULL;
            size_t tl = 0;
            cJSON_AddStringToObject(am, "role", "user");
            cJSON_AddItemToObject(am, "content", arr);
            cJSON_AddItemToArray(arr, b);
            if (arr == NULL || b == NULL)
                goto out;
            cJSON_AddStringToObject(b, "type", "tool_result");
            cJSON_AddStringToObject(b, "tool_use_id", cJSON_IsString(tid) ? tid->valuestring : "");
            content_text(content, NULL, &t, &tl);
            c = cJSON_AddStringToObject(b, "content", t ? t : "");
            free(t);
            if (c == NULL)
                goto out;
            continue;
        }
        cJSON_AddStringToObject(am, "role", strcmp(r, "assistant") == 0 ? "assistant" : "user");
        {
            const cJSON *tcs = cJSON_GetObjectItemCaseSensitive(msg, "tool_calls");
            cJSON *c = convert_content(content);
            if (cJSON_IsArray(tcs) && cJSON_GetArraySize(tcs) > 0) {
                cJSON *arr = cJSON_CreateArray();
                if (arr == NULL) {
                    cJSON_Delete(c);
                    goto out;
                }
                if (cJSON_IsString(c) && c->valuestring[0] != '\0') {
                    cJSON *b = cJSON_CreateObject();
                    cJSON_AddStringToObject(b, "type", "text");
                    cJSON_AddStringToObject(b, "text", c->valuestring);
                    cJSON_AddItemToArray(arr, b);
                } else if (cJSON_IsArray(c)) {
                    cJSON *b;
                    while ((b = cJSON_DetachItemFromArray(c, 0)) != NULL)
                        cJSON_AddItemToArray(arr, b);
                }
                cJSON_Delete(c);
                tool_use_blocks(tcs, arr);
                c = arr;
            }
            if (c == NULL)
                c = cJSON_CreateString("");
            cJSON_AddItemToObject(am, "content", c);
        }
    }
    if (sys != NULL)
        cJSON_AddStringToObject(o, "system", sys);
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "temperature")) && cJSON_IsNumber(v))
        cJSON_AddNumberToObject(o, "temperature", v->valuedouble > 1 ? 1 : v->valuedouble);
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "top_p")) && cJSON_IsNumber(v))
        cJSON_AddNumberToObject(o, "top_p", v->valuedouble);
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "stop")) != NULL) {
        if (cJSON_IsString(v)) {
            cJSON *arr = cJSON_AddArrayToObject(o, "stop_sequences");
            cJSON_AddItemToArray(arr, cJSON_CreateString(v->valuestring));
        } else if (cJSON_IsArray(v)) {
            cJSON_AddItemToObject(o, "stop_sequences", cJSON_Duplicate(v, true));
        }
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "tools")) && cJSON_IsArray(v)) {
        cJSON *tools = cJSON_AddArrayToObject(o, "tools");
        const cJSON *t;
        cJSON_ArrayForEach(t, v) {
            const cJSON *fn = cJSON_GetObjectItemCaseSensitive(t, "function");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(fn, "name");
            const cJSON *desc = cJSON_GetObjectItemCaseSensitive(fn, "description");
            const cJSON *params = cJSON_GetObjectItemCaseSensitive(fn, "parameters");
            cJSON *at = cJSON_CreateObject();
            cJSON_AddItemToArray(tools, at);
            cJSON_AddStringToObject(at, "name", cJSON_IsString(name) ? name->valuestring : "");
            if (cJSON_IsString(desc))
                cJSON_AddStringToObject(at, "description", desc->valuestring);
            cJSON_AddItemToObject(at, "input_schema", cJSON_IsObject(params)
                                  ? cJSON_Duplicate(params, true) : cJSON_Parse("{\"type\":\"object\"}"));
        }
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "tool_choice")) != NULL) {
        cJSON *tc = cJSON_CreateObject();
        if (cJSON_IsString(v) && strcmp(v->valuestring, "required") == 0)
            cJSON_AddStringToObject(tc, "type", "any");
        else if (cJSON_IsObject(v)) {
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(v, "function"), "name");
            cJSON_AddStringToObject(tc, "type", "tool");
            cJSON_AddStringToObject(tc, "name", cJSON_IsString(name) ? name->valuestring : "");
        } else
            cJSON_AddStringToObject(tc, "type", "auto");
        if (cJSON_IsString(v) && strcmp(v->valuestring, "none") == 0)
            cJSON_Delete(tc);   /* no tool use: just do not offer the choice */
        else
            cJSON_AddItemToObject(o, "tool_choice", tc);
    }
    if ((v = cJSON_GetObjectItemCaseSensitive(j, "user")) && cJSON_IsString(v)) {
        cJSON *md = cJSON_AddObjectToObject(o, "metadata");
        cJSON_AddStringToObject(md, "user_id", v->valuestring);
    }
    h->stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream"));
    if (h->stream)
        cJSON_AddTrueToObject(o, "stream");

    h->body = tg__prov_print(o, a, &h->body_len);
    if (h->body == NULL || !anthropic_http(prov, a, h))
        goto out;
    rc = TG_OK;
out:
    if (rc == TG_ENOMEM)
        tg_err_set(err, TG_ENOMEM, "out of memory translating for anthropic");
    free(sys);
    cJSON_Delete(o);
    return rc;
}

static const char *
finish_reason(const char *stop)
{
    if (stop == NULL)
        return NULL;
    if (strcmp(stop, "max_tokens") == 0)
        return "length";
    if (strcmp(stop, "tool_use") == 0)
        return "tool_calls";
    if (strcmp(stop, "refusal") == 0)
        return "content_filter";
    return "stop";   /* end_turn, stop_sequence, pause_turn */
}

static int
anthropic_answer(const char *model_id, const char *body, size_t len, int64_t now_s,
                            char **out, size_t *outlen, struct tg_prov_usage *u,
                            struct tg_err *err)
{
    cJSON *j = cJSON_ParseWithLength(body, len), *o = NULL, *choices, *ch, *msg, *usage, *tcs = NULL;
    const cJSON *content, *b, *id, *stop;
    char *text = NULL, *s;
    size_t tlen = 0;
    int rc = TG_EINVAL;

    content = cJSON_GetObjectItemCaseSensitive(j, "content");
    if (!cJSON_IsObject(j) || !cJSON_IsArray(content)) {
        rc = tg_err_set(err, TG_EINVAL, "upstream answer is not an Anthropic message");
        goto out;
    }
    rc = TG_ENOMEM;
    cJSON_ArrayForEach(b, content) {
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(b, "type");
        if (!cJSON_IsString(type))
            continue;
        if (strcmp(type->valuestring, "text") == 0) {
            const cJSON *t = cJSON_GetObjectItemCaseSensitive(b, "text");
            if (cJSON_IsString(t)) {
                size_t n = strlen(t->valuestring);
                char *nb = realloc(text, tlen + n + 1);
                if (nb == NULL)
                    goto out;
                text = nb;
                memcpy(text + tlen, t->valuestring, n);
                tlen += n;
                text[tlen] = '\0';
            }
        } else if (strcmp(type->valuestring, "tool_use") == 0) {
            const cJSON *tid = cJSON_GetObjectItemCaseSensitive(b, "id");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(b, "name");
            const cJSON *input = cJSON_GetObjectItemCaseSensitive(b, "input");
            cJSON *tc = cJSON_CreateObject(), *fn;
            char *args = input ? cJSON_PrintUnformatted(input) : NULL;
            if (tcs == NULL)
                tcs = cJSON_CreateArray();
            cJSON_AddItemToArray(tcs, tc);
            cJSON_AddStringToObject(tc, "id", cJSON_IsString(tid) ? tid->valuestring : "");
            cJSON_AddStringToObject(tc, "type", "function");
            fn = cJSON_AddObjectToObject(tc, "function");
            cJSON_AddStringToObject(fn, "name", cJSON_IsString(name) ? name->valuestring : "");
            cJSON_AddStringToObject(fn, "arguments", args ? args : "{}");
            free(args);
        }
    }
    o = cJSON_CreateObject();
    if (o == NULL)
        goto out;
    id = cJSON_GetObjectItemCaseSensitive(j, "id");
    stop = cJSON_GetObjectItemCaseSensitive(j, "stop_reason");
    cJSON_AddStringToObject(o, "id", cJSON_IsString(id) ? id->valuestring : "chatcmpl-anthropic");
    cJSON_AddStringToObject(o, "object", "chat.completion");
    cJSON_AddNumberToObject(o, "created", (double)now_s);
    cJSON_AddStringToObject(o, "model", model_id ? model_id : "");
    choices = cJSON_AddArrayToObject(o, "choices");
    ch = cJSON_CreateObject();
    cJSON_AddItemToArray(choices, ch);
    cJSON_AddNumberToObject(ch, "index", 0);
    msg = cJSON_AddObjectToObject(ch, "message");
    cJSON_AddStringToObject(msg, "role", "assistant");
    if (text == NULL && tcs != NULL)
        cJSON_AddNullToObject(msg, "content");
    else
        cJSON_AddStringToObject(msg, "content", text ? text : "");
    if (tcs != NULL) {
        cJSON_AddItemToObject(msg, "tool_calls", tcs);
        tcs = NULL;
    }
    {
        const char *fr = finish_reason(cJSON_IsString(stop) ? stop->valuestring : NULL);
        if (fr)
            cJSON_AddStringToObject(ch, "finish_reason", fr);
        else
            cJSON_AddNullToObject(ch, "finish_reason");
    }
    usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
    u->prompt_tokens = tg__prov_int(usage, "input_tokens");
    u->completion_tokens = tg__prov_int(usage, "output_tokens");
    if (u->prompt_tokens >= 0 && u->completion_tokens >= 0) {
        cJSON *ou = cJSON_AddObjectToObject(o, "usage");
        cJSON_AddNumberToObject(ou, "prompt_tokens", (double)u->prompt_tokens);
        cJSON_AddNumberToObject(ou, "completion_tokens", (double)u->completion_tokens);
        cJSON_AddNumberToObject(ou, "total_tokens", (double)(u->prompt_tokens + u->completion_tokens));
    }
    s = cJSON_PrintUnformatted(o);
    if (s == NULL)
        goto out;
    *out = s;
    *outlen = strlen(s);
    rc = TG_OK;
out:
    if (rc == TG_ENOMEM)
        tg_err_set(err, TG_ENOMEM, "out of memory");
    free(text);
    cJSON_Delete(tcs);
    cJSON_Delete(o);
    cJSON_Delete(j);
    return rc;
}

/* An OpenAI tool_calls delta {tool_calls: [{index, [id, type], function:
 * {[name], arguments}}]}: the first chunk of a call names it (id, name), the
 * following ones carry only argument fragments (id == NULL).  NULL on ENOMEM. */
static cJSON *
tool_call_delta(int64_t idx, const char *id, const char *name, const char *args)
{
    cJSON *delta = cJSON_CreateObject(), *tcs, *tc, *fn;

    tcs = cJSON_AddArrayToObject(delta, "tool_calls");
    tc = cJSON_CreateObject();
    if (tcs == NULL || tc == NULL || !cJSON_AddItemToArray(tcs, tc)) {
        cJSON_Delete(tc);
        cJSON_Delete(delta);
        return NULL;
    }
    cJSON_AddNumberToObject(tc, "index", (double)(idx < 0 ? 0 : idx));
    if (id != NULL) {
        cJSON_AddStringToObject(tc, "id", id);
        cJSON_AddStringToObject(tc, "type", "function");
    }
    fn = cJSON_AddObjectToObject(tc, "function");
    if (name != NULL)
        cJSON_AddStringToObject(fn, "name", name);
    cJSON_AddStringToObject(fn, "arguments", args);
    return delta;
}

/* Emit one chat.completion.chunk with `delta` (consumed) and finish_reason. */
static int
emit_chunk(struct tg_prov_stream *s, cJSON *delta, const char *finish, bool with_usage)
{
    cJSON *o = tg__prov_chunk(s->id[0] ? s->id : "chatcmpl-anthropic", s->created, s->model,
                              NULL, delta, finish);
    char *txt;
    int rc = TG_ENOMEM;

    if (o == NULL)
        return rc;
    if (with_usage) {
        cJSON *u = cJSON_AddObjectToObject(o, "usage");
        int64_t p = s->usage.prompt_tokens < 0 ? 0 : s->usage.prompt_tokens;
        int64_t c = s->usage.completion_tokens < 0 ? 0 : s->usage.completion_tokens;
        cJSON_AddNumberToObject(u, "prompt_tokens", (double)p);
        cJSON_AddNumberToObject(u, "completion_tokens", (double)c);
        cJSON_AddNumberToObject(u, "total_tokens", (double)(p + c));
    }
    txt = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    if (txt == NULL)
        return rc;
    rc = (s->emit(s->ud, "data: ", 6) || s->emit(s->ud, txt, strlen(txt)) ||
          s->emit(s->ud, "\n\n", 2)) ? TG_EIO : 0;
    free(txt);
    s->events++;
    return rc;
}

static int
anthropic_event(struct tg_prov_stream *s, const char *event, const char *data, size_t len)
{
    cJSON *j = cJSON_ParseWithLength(data, len), *delta = NULL;
    const cJSON *type;
    const char *t;
    int rc = 0;

    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return TG_EINVAL;
    }
    type = cJSON_GetObjectItemCaseSensitive(j, "type");
    t = cJSON_IsString(type) ? type->valuestring : event;
    if (strcmp(t, "message_start") == 0) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "message");
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(m, "id");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(m, "usage");
        if (cJSON_IsString(id))
            snprintf(s->id, sizeof(s->id), "%s", id->valuestring);
        s->usage.prompt_tokens = tg__prov_int(u, "input_tokens");
        if (tg__prov_int(u, "output_tokens") >= 0)
            s->usage.completion_tokens = tg__prov_int(u, "output_tokens");
        delta = cJSON_CreateObject();
        cJSON_AddStringToObject(delta, "role", "assistant");
        cJSON_AddStringToObject(delta, "content", "");
        rc = emit_chunk(s, delta, NULL, false);
    } else if (strcmp(t, "content_block_start") == 0) {
        const cJSON *cb = cJSON_GetObjectItemCaseSensitive(j, "content_block");
        const cJSON *ct = cJSON_GetObjectItemCaseSensitive(cb, "type");
        if (cJSON_IsString(ct) && strcmp(ct->valuestring, "tool_use") == 0) {
            const cJSON *id = cJSON_GetObjectItemCaseSensitive(cb, "id");
            const cJSON *name = cJSON_GetObjectItemCaseSensitive(cb, "name");
            delta = tool_call_delta(tg__prov_int(j, "index"),
                                    cJSON_IsString(id) ? id->valuestring : "",
                                    cJSON_IsString(name) ? name->valuestring : "", "");
            rc = delta != NULL ? emit_chunk(s, delta, NULL, false) : TG_ENOMEM;
        }
    } else if (strcmp(t, "content_block_delta") == 0) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
        const cJSON *dt = cJSON_GetObjectItemCaseSensitive(d, "type");
        if (cJSON_IsString(dt) && strcmp(dt->valuestring, "text_delta") == 0) {
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(d, "text");
            delta = cJSON_CreateObject();
            cJSON_AddStringToObject(delta, "content", cJSON_IsString(text) ? text->valuestring : "");
            rc = emit_chunk(s, delta, NULL, false);
        } else if (cJSON_IsString(dt) && strcmp(dt->valuestring, "input_json_delta") == 0) {
            const cJSON *pj = cJSON_GetObjectItemCaseSensitive(d, "partial_json");
            delta = tool_call_delta(tg__prov_int(j, "index"), NULL, NULL,
                                    cJSON_IsString(pj) ? pj->valuestring : "");
            rc = delta != NULL ? emit_chunk(s, delta, NULL, false) : TG_ENOMEM;
        }
    } else if (strcmp(t, "message_delta") == 0) {
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "delta");
        const cJSON *stop = cJSON_GetObjectItemCaseSensitive(d, "stop_reason");
        const cJSON *u = cJSON_GetObjectItemCaseSensitive(j, "usage");
        const char *fr = finish_reason(cJSON_IsString(stop) ? stop->valuestring : NULL);
        if (tg__prov_int(u, "output_tokens") >= 0)
            s->usage.completion_tokens = tg__prov_int(u, "output_tokens");
        if (tg__prov_int(u, "input_tokens") >= 0)
            s->usage.prompt_tokens = tg__prov_int(u, "input_tokens");
        if (fr != NULL) {
            snprintf(s->finish, sizeof(s->finish), "%s", fr);
            rc = emit_chunk(s, cJSON_CreateObject(), fr, false);
        }
    } else if (strcmp(t, "message_stop") == 0) {
        s->done = true;
        rc = s->emit(s->ud, "data: [DONE]\n\n", 14) ? TG_EIO : 0;
    } else if (strcmp(t, "error") == 0) {
        s->upstream_error = true;
        rc = TG_EUPSTREAM;
    }
    /* ping, content_block_stop and unknown events: nothing for the client. */
    cJSON_Delete(j);
    return rc;
}

static int
anthropic_build(const struct tg_provider *prov, const struct tg_model *m, const char *body, size_t len,
                uint32_t default_max_tokens, struct tg_arena *a, struct tg_prov_http *out,
                struct tg_err *err)
{
    struct tg_prov_http h;
    cJSON *j = NULL;
    int rc = tg__prov_canonical_tree(body, len, m, &j, err);

    if (rc != TG_OK)
        return rc;
    memset(&h, 0, sizeof(h));
    rc = anthropic_build_tree(prov, m, j, default_max_tokens, a, &h, err);
    if (rc == TG_OK)
        *out = h;
    cJSON_Delete(j);
    return rc;
}

int
tg_prov_build_messages(const struct tg_provider *prov, const struct tg_model *m, const char *body,
                       size_t len, struct tg_arena *a, struct tg_prov_http *out, struct tg_err *err)
{
    struct tg_prov_http h;
    cJSON *j, *md;
    int rc = TG_ENOMEM;

    if (prov->adapter != TG_ADAPTER_ANTHROPIC)
        return tg_err_set(err, TG_EINVAL, "provider %s does not speak the Messages API", prov->id);
    if (tg__prov_has_crlf(prov->api_key) || tg__prov_has_crlf(prov->base_url))
        return tg_err_set(err, TG_EINVAL, "provider %s: api_key/base_url contains a line break", prov->id);
    j = cJSON_ParseWithLength(body, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return tg_err_set(err, TG_EINVAL, "request body is not a JSON object");
    }
    memset(&h, 0, sizeof(h));
    /* the upstream model and its answer cap, as for a translated request */
    if (tg__prov_retarget(j, m) != TG_OK)
        goto out;
    /* metadata.category is tollgate's routing hint: Anthropic takes user_id only */
    md = cJSON_GetObjectItemCaseSensitive(j, "metadata");
    cJSON_DeleteItemFromObjectCaseSensitive(md, "category");
    if (cJSON_IsObject(md) && md->child == NULL)
        cJSON_DeleteItemFromObjectCaseSensitive(j, "metadata");
    h.stream = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(j, "stream"));
    h.body = tg__prov_print(j, a, &h.body_len);
    if (h.body == NULL || !anthropic_http(prov, a, &h))
        goto out;
    *out = h;
    rc = TG_OK;
out:
    if (rc == TG_ENOMEM)
        tg_err_set(err, TG_ENOMEM, "out of memory building the request for anthropic");
    cJSON_Delete(j);
    return rc;
}

const struct tg__prov_ops tg__prov_anthropic = {
    .kind = TG_ADAPTER_ANTHROPIC,
    .name = "anthropic",
    .build = anthropic_build,
    .answer = anthropic_answer,
    .event = anthropic_event,
};
