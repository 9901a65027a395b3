/*
 * completions.c — OpenAI legacy Completions (POST /v1/completions) <->
 * canonical.
 *
 * A completion request is a prompt and sampling options; it lowers to a
 * chat completions body with one user message holding the prompt.  What
 * the canonical form cannot carry faithfully is refused with 400, never
 * approximated (docs/embeddings-completions.md):
 *   - more than one prompt (an array of prompts asks for one completion
 *     each; one chat request gives one answer), token-id prompts (they
 *     cannot be scanned), `suffix` (insertion), `n` > 1, `echo: true`;
 *   - `logprobs` and `best_of` only tune what comes back: dropped (the
 *     answer's `logprobs` is null);
 *   - no `max_tokens`: the Completions default of 16 is written in, since
 *     chat's default (the model's limit) would ask for something else.
 * Every other field is carried into the canonical body as it is, where
 * the engine scans it like any chat field.  With `stream: true` the
 * canonical body asks for the usage chunk (stream_options.include_usage),
 * so the audit gets real token counts; the client sees a usage chunk only
 * if it asked for one.
 */
#include "adapters/dialects/dialect_int.h"
#include "adapters/providers/sse.h"
#include "engine/json.h"
#include "engine/limits.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* OpenAI's documented default for a completion without max_tokens. */
#define TG__CPL_DEFAULT_MAX_TOKENS 16

struct cpl_priv {
    bool include_usage;        /* the client's stream_options.include_usage */
};

/* Fields the canonical form carries unchanged (besides unknown ones). */
static const char *const handled[] = {
    "model", "prompt", "suffix", "n", "echo", "logprobs", "best_of", "stream", "stream_options",
};

static int
handled_index(const char *k)
{
    for (size_t i = 0; i < TG_ARRAY_LEN(handled); i++)
        if (strcmp(k, handled[i]) == 0)
            return (int)i;
    return -1;
}

/* The prompt as one string node of j, or an error. */
static int
prompt_of(const cJSON *p, const cJSON **text, struct tg_err *err)
{
    if (cJSON_IsString(p)) {
        *text = p;
        return TG_OK;
    }
    if (p == NULL || cJSON_IsNull(p))
        return tg_err_set(err, TG_EINVAL, "prompt is required");
    if (!cJSON_IsArray(p) || p->child == NULL)
        return tg_err_set(err, TG_EINVAL, "prompt must be a string or a non-empty array of strings");
    if (!cJSON_IsString(p->child))
        return tg_err_set(err, TG_EINVAL,
                          "token-id prompts are not accepted: tollgate cannot scan them; send the prompt as text");
    if (p->child->next != NULL)
        return tg_err_set(err, TG_EINVAL,
                          "one prompt per request: an array of several prompts is not supported");
    *text = p->child;
    return TG_OK;
}

static bool
add_copy(cJSON *to, const char *key, const cJSON *v)
{
    cJSON *c = cJSON_Duplicate(v, true);
    if (c == NULL || !cJSON_AddItemToObject(to, key, c)) {
        cJSON_Delete(c);
        return false;
    }
    return true;
}

static int
cpl_decode(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
           char **canon, size_t *canon_len, struct tg_err *err)
{
    const cJSON *seen[TG_ARRAY_LEN(handled)] = { 0 };
    const cJSON *text = NULL, *v;
    cJSON *j = NULL, *out = NULL, *msgs, *m;
    struct cpl_priv *priv;
    const char *end = NULL;
    char *s = NULL, *copy;
    bool stream = false;
    int rc;

    if (body == NULL)
        return tg_err_set(err, TG_EINVAL, "request body is missing");
    /* A NUL (raw or \u0000) would end the prompt's C string here while
     * the client meant more: refuse rather than send a cut prompt. */
    if (memchr(body, '\0', len) != NULL)
        return tg_err_set(err, TG_EINVAL, "request body contains a NUL character, which is not accepted");
    for (const char *p = memchr(body, '\\', len); p != NULL && p + 1 < body + len;
         p = memchr(p + 2, '\\', (size_t)(body + len - (p + 2)))) {
        /* backslashes occur only in strings, in escape pairs */
        if (body + len - p >= 6 && memcmp(p + 1, "u0000", 5) == 0)
            return tg_err_set(err, TG_EINVAL, "request body contains a NUL character (\\u0000), which is not accepted");
        if (p + 2 >= body + len)
            break;
    }
    rc = tg_json_parse(body, len, TG_MAX_JSON_DEPTH, a, &j, &end);
    if (rc == TG_ENOMEM)
        return tg_err_set(err, TG_ENOMEM, "out of memory parsing the request body");
    if (rc == TG_ELIMIT)
        return tg_err_set(err, TG_ELIMIT, "request JSON nests deeper than %u levels", TG_MAX_JSON_DEPTH);
    if (rc != TG_OK)
        return tg_err_set(err, TG_EINVAL, "request body is not valid JSON");
    for (const char *p = end; p < body + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
            return tg_err_set(err, TG_EINVAL, "request body has trailing data after the JSON value");
    if (!cJSON_IsObject(j))
        return tg_err_set(err, TG_EINVAL, "request body must be a JSON object");
    for (v = j->child; v != NULL; v = v->next) {
        int k = handled_index(v->string);
        /* the canonical body's own messages come from the prompt alone */
        if (strcmp(v->string, "messages") == 0)
            return tg_err_set(err, TG_EINVAL, "messages is not a completions field (use /v1/chat/completions)");
        if (k < 0)
            continue;
        /* which of two copies a provider would read is anyone's guess */
        if (seen[k] != NULL)
            return tg_err_set(err, TG_EINVAL, "duplicate key '%s' in request body", handled[k]);
        seen[k] = v;
    }
#define SEEN(name) seen[handled_index(name)]
    if ((rc = prompt_of(SEEN("prompt"), &text, err)) != TG_OK)
        return rc;
    v = SEEN("model");
    if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsString(v))
        return tg_err_set(err, TG_EINVAL, "model must be a string");
    v = SEEN("suffix");
    if (v != NULL && !cJSON_IsNull(v) && !(cJSON_IsString(v) && v->valuestring[0] == '\0'))
        return tg_err_set(err, TG_EINVAL,
                          "suffix is not supported: insertion cannot be expressed as a chat request");
    v = SEEN("n");
    if (v != NULL && !cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble == 1))
        return tg_err_set(err, TG_EINVAL, "n must be 1: one completion per request");
    v = SEEN("echo");
    if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsFalse(v))
        return tg_err_set(err, TG_EINVAL, "echo: true is not supported");
    for (const char *const *k = (const char *const[]){ "logprobs", "best_of", NULL }; *k; k++) {
        v = SEEN(*k);
        if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsNumber(v))
            return tg_err_set(err, TG_EINVAL, "%s must be an integer", *k);
    }
    v = SEEN("stream");
    if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsBool(v))
        return tg_err_set(err, TG_EINVAL, "stream must be a boolean");
    stream = cJSON_IsTrue(v);
    v = SEEN("stream_options");
    if (v != NULL && !cJSON_IsNull(v) && !cJSON_IsObject(v))
        return tg_err_set(err, TG_EINVAL, "stream_options must be an object");

    if ((priv = tg_arena_calloc(a, 1, sizeof(*priv))) == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    priv->include_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v, "include_usage"));

    rc = TG_ENOMEM;
    if ((out = cJSON_CreateObject()) == NULL)
        goto out;
    v = SEEN("model");
    if (cJSON_IsString(v) && !add_copy(out, "model", v))
        goto out;
    if ((msgs = cJSON_AddArrayToObject(out, "messages")) == NULL ||
        (m = cJSON_CreateObject()) == NULL)
        goto out;
    if (!cJSON_AddItemToArray(msgs, m)) {
        cJSON_Delete(m);
        goto out;
    }
    if (!cJSON_AddStringToObject(m, "role", "user") || !add_copy(m, "content", text))
        goto out;
    if (stream) {
        cJSON *so;
        if (!cJSON_AddTrueToObject(out, "stream") ||
            (so = cJSON_AddObjectToObject(out, "stream_options")) == NULL ||
            !cJSON_AddTrueToObject(so, "include_usage"))
            goto out;
    }
    /* the rest in document order: max_tokens, temperature, top_p, stop,
     * user, seed, penalties, logit_bias, metadata and unknown fields */
    for (v = j->child; v != NULL; v = v->next)
        if (handled_index(v->string) < 0 && !add_copy(out, v->string, v))
            goto out;
    /* The Completions API's max_tokens defaults to 16; chat's to the
     * model's limit.  Carry the client's API's default, not chat's. */
    v = cJSON_GetObjectItemCaseSensitive(j, "max_tokens");
    if (v == NULL || cJSON_IsNull(v)) {
        cJSON_DeleteItemFromObjectCaseSensitive(out, "max_tokens");
        if (!cJSON_AddNumberToObject(out, "max_tokens", TG__CPL_DEFAULT_MAX_TOKENS))
            goto out;
    }
#undef SEEN
    if ((s = cJSON_PrintUnformatted(out)) == NULL)
        goto out;
    if ((copy = tg_arena_strdup(a, s)) == NULL)
        goto out;
    if (cJSON_IsString(cJSON_GetObjectItemCaseSensitive(j, "model"))) {
        ctx->client_model = tg_arena_strdup(a, cJSON_GetObjectItemCaseSensitive(j, "model")->valuestring);
        if (ctx->client_model == NULL)
            goto out;
    }
    ctx->stream = stream;
    ctx->priv = priv;
    *canon = copy;
    *canon_len = strlen(copy);
    rc = TG_OK;
out:
    if (rc == TG_ENOMEM)
        tg_err_set(err, TG_ENOMEM, "out of memory");
    free(s);
    cJSON_Delete(out);
    return rc;
}

/* "cmpl-" + the answer id, as OpenAI's completion ids look. */
static void
cpl_id(const struct tg_dialect_ctx *ctx, char *buf, size_t n)
{
    snprintf(buf, n, "cmpl-%s", ctx->answer_id != NULL ? ctx->answer_id : "0");
}

/* {prompt_tokens, completion_tokens, total_tokens} numbers of a chat usage. */
static cJSON *
usage_copy(const cJSON *u)
{
    static const char *const keys[] = { "prompt_tokens", "completion_tokens", "total_tokens" };
    cJSON *o = cJSON_CreateObject();
    for (size_t i = 0; o != NULL && i < TG_ARRAY_LEN(keys); i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(u, keys[i]);
        if (cJSON_IsNumber(x) && !cJSON_AddNumberToObject(o, keys[i], x->valuedouble)) {
            cJSON_Delete(o);
            return NULL;
        }
    }
    return o;
}

/* {id, object: text_completion, created, model, choices: []} */
static cJSON *
cpl_head(const char *id, int64_t created, const char *model)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddStringToObject(o, "id", id) ||
        !cJSON_AddStringToObject(o, "object", "text_completion") ||
        !cJSON_AddNumberToObject(o, "created", (double)created) ||
        !cJSON_AddStringToObject(o, "model", model ? model : "") ||
        !cJSON_AddArrayToObject(o, "choices")) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

static bool
add_choice(cJSON *o, const char *text, double index, const cJSON *finish)
{
    cJSON *c = cJSON_CreateObject();
    if (c == NULL || !cJSON_AddItemToArray(cJSON_GetObjectItemCaseSensitive(o, "choices"), c)) {
        cJSON_Delete(c);
        return false;
    }
    return cJSON_AddStringToObject(c, "text", text) && cJSON_AddNumberToObject(c, "index", index) &&
           cJSON_AddNullToObject(c, "logprobs") &&
           (cJSON_IsString(finish) ? cJSON_AddStringToObject(c, "finish_reason", finish->valuestring) != NULL
                                   : cJSON_AddNullToObject(c, "finish_reason") != NULL);
}

static int
cpl_encode_answer(const struct tg_dialect_ctx *ctx, const char *chat, size_t len, char **out,
                  size_t *outlen, struct tg_err *err)
{
    cJSON *j = cJSON_ParseWithLength(chat, len), *o = NULL;
    const cJSON *obj, *choices, *ch, *u, *model;
    char id[192], *s;
    int rc = TG_ENOMEM, i = 0;

    obj = cJSON_GetObjectItemCaseSensitive(j, "object");
    choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    if (!cJSON_IsObject(j) || !cJSON_IsArray(choices) ||
        (obj != NULL && !(cJSON_IsString(obj) && strcmp(obj->valuestring, "chat.completion") == 0))) {
        rc = tg_err_set(err, TG_EINVAL, "the answer is not a chat.completion");
        goto out;
    }
    model = cJSON_GetObjectItemCaseSensitive(j, "model");
    cpl_id(ctx, id, sizeof(id));
    if ((o = cpl_head(id, ctx->now_s, ctx->client_model != NULL ? ctx->client_model
                                      : cJSON_IsString(model) ? model->valuestring : "")) == NULL)
        goto out;
    cJSON_ArrayForEach(ch, choices) {
        const cJSON *msg = cJSON_GetObjectItemCaseSensitive(ch, "message");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(ch, "index");
        if (!cJSON_IsObject(ch)) {
            rc = tg_err_set(err, TG_EINVAL, "the answer's choices[%d] is not an object", i);
            goto out;
        }
        if (!add_choice(o, cJSON_IsString(content) ? content->valuestring : "",
                        cJSON_IsNumber(ix) ? ix->valuedouble : i,
                        cJSON_GetObjectItemCaseSensitive(ch, "finish_reason")))
            goto out;
        i++;
    }
    u = cJSON_GetObjectItemCaseSensitive(j, "usage");
    if (cJSON_IsObject(u)) {
        cJSON *uc = usage_copy(u);
        if (uc == NULL || !cJSON_AddItemToObject(o, "usage", uc)) {
            cJSON_Delete(uc);
            goto out;
        }
    }
    if ((s = cJSON_PrintUnformatted(o)) == NULL)
        goto out;
    *out = s;
    *outlen = strlen(s);
    rc = TG_OK;
out:
    if (rc == TG_ENOMEM)
        tg_err_set(err, TG_ENOMEM, "out of memory");
    cJSON_Delete(o);
    cJSON_Delete(j);
    return rc;
}

/* ---- stream ------------------------------------------------------------------ */

struct tg_dialect_stream {
    struct tg_sse sse;
    tg_dialect_emit_fn emit;
    void   *ud;
    char    id[192];
    char   *model;           /* malloc'd copy of the client's model name */
    int64_t created;
    bool    include_usage;
    bool    done;            /* [DONE] (or an error event) sent */
    bool    ended;
};

/* "data: " + o + "\n\n" in one emit; consumes o. */
static int
emit_obj(struct tg_dialect_stream *s, cJSON *o)
{
    char *t = o != NULL ? cJSON_PrintUnformatted(o) : NULL, *ev = NULL;
    size_t n;
    int rc = TG_ENOMEM;

    cJSON_Delete(o);
    if (t == NULL)
        return TG_ENOMEM;
    n = strlen(t);
    if ((ev = malloc(n + 9)) != NULL) {
        memcpy(ev, "data: ", 6);
        memcpy(ev + 6, t, n);
        memcpy(ev + 6 + n, "\n\n", 3);
        rc = s->emit(s->ud, ev, n + 8) != 0 ? TG_EIO : TG_OK;
    }
    free(ev);
    free(t);
    return rc;
}

static int
emit_raw(struct tg_dialect_stream *s, const char *ev)
{
    return s->emit(s->ud, ev, strlen(ev)) != 0 ? TG_EIO : TG_OK;
}

static int
on_event(void *ud, const char *event, const char *data, size_t len)
{
    struct tg_dialect_stream *s = ud;
    const cJSON *choices, *ch, *u, *e;
    cJSON *j = NULL, *o;
    int rc = TG_EINVAL, i = 0;

    (void)event;
    if (s->done)
        return TG_EINVAL;                     /* nothing may follow [DONE] */
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        s->done = true;
        return emit_raw(s, "data: [DONE]\n\n");
    }
    if (!cJSON_IsObject(j = cJSON_ParseWithLength(data, len)))
        goto out;
    if (cJSON_IsObject(e = cJSON_GetObjectItemCaseSensitive(j, "error"))) {
        /* an error event is passed on as OpenAI streams carry it */
        cJSON *w = cJSON_CreateObject(), *ec = cJSON_Duplicate(e, true);
        if (w == NULL || ec == NULL || !cJSON_AddItemToObject(w, "error", ec)) {
            cJSON_Delete(ec);
            cJSON_Delete(w);
            rc = TG_ENOMEM;
            goto out;
        }
        s->done = true;
        rc = emit_obj(s, w);
        goto out;
    }
    choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    u = cJSON_GetObjectItemCaseSensitive(j, "usage");
    if (!cJSON_IsArray(choices) && !cJSON_IsObject(u))
        goto out;
    cJSON_ArrayForEach(ch, choices) {
        const cJSON *delta = cJSON_GetObjectItemCaseSensitive(ch, "delta");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(delta, "content");
        const cJSON *fin = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(ch, "index");
        bool has_text = cJSON_IsString(content) && content->valuestring[0] != '\0';
        if (!cJSON_IsObject(ch))
            goto out;
        /* the role-only first chunk has nothing a completion client reads */
        if (!has_text && !cJSON_IsString(fin))
            continue;
        o = cpl_head(s->id, s->created, s->model);
        if (o == NULL || !add_choice(o, has_text ? content->valuestring : "",
                                     cJSON_IsNumber(ix) ? ix->valuedouble : i, fin)) {
            cJSON_Delete(o);
            rc = TG_ENOMEM;
            goto out;
        }
        if ((rc = emit_obj(s, o)) != TG_OK)
            goto out;
        i++;
    }
    if (cJSON_IsObject(u) && s->include_usage) {
        cJSON *uc = usage_copy(u);
        o = cpl_head(s->id, s->created, s->model);
        if (o == NULL || uc == NULL || !cJSON_AddItemToObject(o, "usage", uc)) {
            cJSON_Delete(uc);
            cJSON_Delete(o);
            rc = TG_ENOMEM;
            goto out;
        }
        if ((rc = emit_obj(s, o)) != TG_OK)
            goto out;
    }
    rc = TG_OK;
out:
    cJSON_Delete(j);
    return rc;
}

static int
cpl_stream_new(const struct tg_dialect_ctx *ctx, tg_dialect_emit_fn emit, void *ud,
               struct tg_dialect_stream **out)
{
    struct tg_dialect_stream *s = calloc(1, sizeof(*s));
    const struct cpl_priv *priv = ctx->priv;

    if (s == NULL)
        return TG_ENOMEM;
    tg_sse_init(&s->sse, 0);
    s->emit = emit;
    s->ud = ud;
    s->created = ctx->now_s;
    s->include_usage = priv != NULL && priv->include_usage;
    cpl_id(ctx, s->id, sizeof(s->id));
    if ((s->model = strdup(ctx->client_model != NULL ? ctx->client_model : "")) == NULL) {
        free(s);
        return TG_ENOMEM;
    }
    *out = s;
    return TG_OK;
}

static int
cpl_stream_feed(struct tg_dialect_stream *s, const char *buf, size_t len)
{
    if (s->ended)
        return TG_EINVAL;
    return tg_sse_feed(&s->sse, buf, len, on_event, s);
}

static int
cpl_stream_end(struct tg_dialect_stream *s, bool ok)
{
    if (s->ended)
        return TG_OK;
    s->ended = true;
    if (s->done)
        return TG_OK;
    s->done = true;
    if (ok)
        return emit_raw(s, "data: [DONE]\n\n");
    /* SDKs raise on an `error` member instead of waiting for [DONE] */
    return emit_raw(s, "data: {\"error\":{\"message\":\"the upstream stream broke off before it completed\","
                       "\"type\":\"server_error\",\"param\":null,\"code\":\"upstream_stream_failed\"}}\n\n");
}

static void
cpl_stream_free(struct tg_dialect_stream *s)
{
    if (s == NULL)
        return;
    tg_sse_free(&s->sse);
    free(s->model);
    free(s);
}

const struct tg_dialect_ops tg__dialect_completions = {
    .id = TG_DIALECT_COMPLETIONS,
    .name = "completions",
    .path = "/v1/completions",
    .errors = TG_DIALECT_ERR_OPENAI,
    .decode = cpl_decode,
    .encode_answer = cpl_encode_answer,
    .stream_new = cpl_stream_new,
    .stream_feed = cpl_stream_feed,
    .stream_end = cpl_stream_end,
    .stream_free = cpl_stream_free,
};
