/*
 * responses_stream.c — a canonical chat.completion.chunk SSE stream -> the
 * Responses event stream (response.created ... response.completed), with
 * the shapes of openai/openai-openapi.  Events are written by hand into a
 * bounded buffer: they run on every streamed token.
 */
#include "adapters/dialects/responses_int.h"
#include "adapters/providers/sse.h"

#include <cjson/cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- stream: chat.completion.chunk SSE -> Responses events ----------------- */

enum item_kind { IT_MSG = 0, IT_FN = 1, IT_CUSTOM = 2 };

struct sitem {
    enum item_kind kind;
    int64_t  chat_index;     /* tool_calls[].index */
    bool     done;
    struct tg__jw text;          /* message text, or the call's arguments */
    struct tg__jw refusal;
    int      text_ci, refusal_ci;  /* content_index of each part, -1 if none */
    char    *call_id, *name;
};

struct tg_dialect_stream {
    const struct tg_dialect_ctx *ctx;   /* in the request's arena: outlives the stream */
    tg_dialect_emit_fn emit;
    void    *ud;
    struct tg_sse sse;
    struct tg_arena ea;                 /* one canonical event's parse, reset per event */
    struct tg__jw ev;                       /* the event being written */
    struct tg__jw echo;                     /* build_echo, once per stream */
    uint64_t seq;
    bool     started, finished;
    int      failed;                    /* sticky error of feed */
    struct sitem *items;
    uint32_t nitems, cap;
    int      open_msg;                  /* items[] index of the open message, -1 */
    char     finish[32];
    struct tg__resp_usage usage;
    size_t   text_total;
};

static int
ev_send(struct tg_dialect_stream *s, const char *name)
{
    int rc;
    if (s->ev.rc)
        return s->ev.rc;
    rc = s->emit(s->ud, "event: ", 7) || s->emit(s->ud, name, strlen(name)) ||
         s->emit(s->ud, "\ndata: ", 7) || s->emit(s->ud, s->ev.buf, s->ev.len) ||
         s->emit(s->ud, "\n\n", 2) ? TG_EIO : TG_OK;
    s->ev.len = 0;
    return rc;
}

/* Start an event's data: {"type":NAME,"sequence_number":N */
static void
ev_begin(struct tg_dialect_stream *s, const char *name)
{
    s->ev.len = 0;
    TG__JW_LIT(&s->ev, "{\"type\":");
    tg__jw_str(&s->ev, name);
    TG__JW_LIT(&s->ev, ",\"sequence_number\":");
    tg__jw_int(&s->ev, (int64_t)s->seq++);
}

/* output: every item in its current state, comma-separated. */
static void
write_items(struct tg_dialect_stream *s, struct tg__jw *b, const char *final_status)
{
    for (uint32_t i = 0; i < s->nitems; i++) {
        struct sitem *it = &s->items[i];
        const char *st = final_status != NULL ? final_status
                                              : (it->done ? "completed" : "in_progress");
        if (i > 0)
            TG__JW_LIT(b, ",");
        if (it->kind == IT_MSG)
            tg__resp_write_msg_item(b, s->ctx, i, st, it->text.buf ? it->text.buf : "", it->text.len,
                                    it->text_ci, it->refusal.buf ? it->refusal.buf : "", it->refusal.len,
                                    it->refusal_ci);
        else
            tg__resp_write_call_item(b, s->ctx, i, it->kind == IT_CUSTOM, st, it->call_id, it->name,
                                     it->text.buf ? it->text.buf : "", it->text.len);
    }
}

/* response.created / in_progress / completed / incomplete / failed */
static int
ev_response(struct tg_dialect_stream *s, const char *name, const char *status,
            const char *incomplete, const char *item_status, const char *err_msg)
{
    struct tg__jw items;
    int rc;

    tg__jw_init(&items, TG_MAX_RESP_EVENT_BYTES);
    write_items(s, &items, item_status);
    ev_begin(s, name);
    TG__JW_LIT(&s->ev, ",\"response\":");
    if (s->echo.len == 0)
        tg__resp_build_echo(&s->echo, s->ctx);
    if (s->echo.rc)
        s->ev.rc = s->echo.rc;
    tg__resp_write_response(&s->ev, s->ctx, &s->echo, status, incomplete, items.buf ? items.buf : "",
                            items.len,
                            tg__resp_streq(status, "in_progress") ? NULL : &s->usage, err_msg);
    TG__JW_LIT(&s->ev, "}");
    if (items.rc)
        s->ev.rc = items.rc;
    tg__jw_free(&items);
    rc = ev_send(s, name);
    return rc;
}

static int
start(struct tg_dialect_stream *s)
{
    int rc;
    if (s->started)
        return TG_OK;
    s->started = true;
    if ((rc = ev_response(s, "response.created", "in_progress", NULL, NULL, NULL)) != TG_OK)
        return rc;
    return ev_response(s, "response.in_progress", "in_progress", NULL, NULL, NULL);
}

/* output_item.added / .done for item i */
static int
ev_item(struct tg_dialect_stream *s, uint32_t i, bool done)
{
    struct sitem *it = &s->items[i];
    const char *name = done ? "response.output_item.done" : "response.output_item.added";
    const char *st = done ? "completed" : "in_progress";

    ev_begin(s, name);
    TG__JW_LIT(&s->ev, ",\"output_index\":");
    tg__jw_int(&s->ev, i);
    TG__JW_LIT(&s->ev, ",\"item\":");
    if (it->kind == IT_MSG)
        tg__resp_write_msg_item(&s->ev, s->ctx, i, st, it->text.buf ? it->text.buf : "", it->text.len,
                                done ? it->text_ci : -1, it->refusal.buf ? it->refusal.buf : "",
                                it->refusal.len, done ? it->refusal_ci : -1);
    else
        tg__resp_write_call_item(&s->ev, s->ctx, i, it->kind == IT_CUSTOM, st, it->call_id,
                                 it->name,
                                 done ? (it->text.buf ? it->text.buf : "") : "", done ? it->text.len : 0);
    TG__JW_LIT(&s->ev, "}");
    return ev_send(s, name);
}

/* The common head of item-scoped events: ,"item_id":...,"output_index":i */
static void
ev_item_ref(struct tg_dialect_stream *s, uint32_t i)
{
    static const char *const prefix[] = { "msg", "fc", "ctc" };
    TG__JW_LIT(&s->ev, ",\"item_id\":");
    tg__resp_item_id(&s->ev, s->ctx, prefix[s->items[i].kind], i);
    TG__JW_LIT(&s->ev, ",\"output_index\":");
    tg__jw_int(&s->ev, i);
}

static int
ev_part(struct tg_dialect_stream *s, uint32_t i, bool refusal, bool done)
{
    struct sitem *it = &s->items[i];
    const char *name = done ? "response.content_part.done" : "response.content_part.added";
    struct tg__jw *t = refusal ? &it->refusal : &it->text;

    ev_begin(s, name);
    ev_item_ref(s, i);
    TG__JW_LIT(&s->ev, ",\"content_index\":");
    tg__jw_int(&s->ev, refusal ? it->refusal_ci : it->text_ci);
    tg__jw_cstr(&s->ev, refusal ? ",\"part\":{\"type\":\"refusal\",\"refusal\":"
                       : ",\"part\":{\"type\":\"output_text\",\"text\":");
    if (done)
        tg__jw_strn(&s->ev, t->buf ? t->buf : "", t->len);
    else
        TG__JW_LIT(&s->ev, "\"\"");
    tg__jw_cstr(&s->ev, refusal ? "}}" : ",\"annotations\":[],\"logprobs\":[]}}");
    return ev_send(s, name);
}

static int
new_item(struct tg_dialect_stream *s, enum item_kind kind, uint32_t *out)
{
    struct sitem *it;
    if (s->nitems >= TG_MAX_RESP_STREAM_ITEMS)
        return TG_ELIMIT;
    if (s->nitems == s->cap) {
        uint32_t nc = s->cap ? s->cap * 2 : 4;
        struct sitem *ni = realloc(s->items, nc * sizeof(*ni));
        if (ni == NULL)
            return TG_ENOMEM;
        s->items = ni;
        s->cap = nc;
    }
    it = &s->items[s->nitems];
    memset(it, 0, sizeof(*it));
    it->kind = kind;
    it->text_ci = it->refusal_ci = -1;
    it->chat_index = -1;
    tg__jw_init(&it->text, TG_MAX_RESP_STREAM_TEXT);
    tg__jw_init(&it->refusal, TG_MAX_RESP_STREAM_TEXT);
    *out = s->nitems++;
    return TG_OK;
}

static int
add_text(struct tg_dialect_stream *s, struct tg__jw *b, const char *t, size_t n)
{
    if (n > TG_MAX_RESP_STREAM_TEXT - s->text_total)
        return TG_ELIMIT;
    s->text_total += n;
    tg__jw_raw(b, t, n);
    return b->rc;
}

/* Close item i: the done events of its parts or arguments, then its own. */
static int
close_item(struct tg_dialect_stream *s, uint32_t i)
{
    struct sitem *it = &s->items[i];
    int rc = TG_OK;

    if (it->done)
        return TG_OK;
    it->done = true;
    if (it->kind == IT_MSG) {
        if (it->text_ci < 0 && it->refusal_ci < 0) {
            /* an empty answer still has one (empty) text part */
            it->text_ci = 0;
            if ((rc = ev_part(s, i, false, false)) != TG_OK)
                return rc;
        }
        for (int ci = 0; ci < 2; ci++) {
            bool ref = ci == it->refusal_ci;
            struct tg__jw *t = ref ? &it->refusal : &it->text;
            const char *name = ref ? "response.refusal.done" : "response.output_text.done";
            if (ci != it->text_ci && ci != it->refusal_ci)
                continue;
            ev_begin(s, name);
            ev_item_ref(s, i);
            TG__JW_LIT(&s->ev, ",\"content_index\":");
            tg__jw_int(&s->ev, ci);
            tg__jw_cstr(&s->ev, ref ? ",\"refusal\":" : ",\"text\":");
            tg__jw_strn(&s->ev, t->buf ? t->buf : "", t->len);
            if (!ref)
                TG__JW_LIT(&s->ev, ",\"logprobs\":[]");
            TG__JW_LIT(&s->ev, "}");
            if ((rc = ev_send(s, name)) != TG_OK || (rc = ev_part(s, i, ref, true)) != TG_OK)
                return rc;
        }
    } else if (it->kind == IT_FN) {
        ev_begin(s, "response.function_call_arguments.done");
        ev_item_ref(s, i);
        const char *ns;
        TG__JW_LIT(&s->ev, ",\"name\":");
        tg__jw_str(&s->ev, tg__resp_client_name(s->ctx, it->name, &ns));
        TG__JW_LIT(&s->ev, ",\"arguments\":");
        tg__jw_strn(&s->ev, it->text.buf ? it->text.buf : "", it->text.len);
        TG__JW_LIT(&s->ev, "}");
        if ((rc = ev_send(s, "response.function_call_arguments.done")) != TG_OK)
            return rc;
    } else {
        /* A custom tool's input is the "input" member of the arguments the
         * chat model streamed: known only once they are complete. */
        const char *names[2] = { "response.custom_tool_call_input.delta",
                                 "response.custom_tool_call_input.done" };
        for (int k = 0; k < 2; k++) {
            ev_begin(s, names[k]);
            ev_item_ref(s, i);
            tg__jw_cstr(&s->ev, k == 0 ? ",\"delta\":" : ",\"input\":");
            tg__resp_write_custom_input(&s->ev, it->text.buf ? it->text.buf : "", it->text.len);
            TG__JW_LIT(&s->ev, "}");
            if ((rc = ev_send(s, names[k])) != TG_OK)
                return rc;
        }
    }
    if ((int)i == s->open_msg)
        s->open_msg = -1;
    return ev_item(s, i, true);
}

static int
open_message(struct tg_dialect_stream *s, uint32_t *out)
{
    int rc;
    if (s->open_msg >= 0) {
        *out = (uint32_t)s->open_msg;
        return TG_OK;
    }
    if ((rc = new_item(s, IT_MSG, out)) != TG_OK)
        return rc;
    s->open_msg = (int)*out;
    return ev_item(s, *out, false);
}

/* Text or refusal delta of the message. */
static int
on_text(struct tg_dialect_stream *s, const char *t, bool refusal)
{
    size_t n = strlen(t);
    uint32_t i;
    struct sitem *it;
    int rc;

    if (n == 0)
        return TG_OK;
    if ((rc = open_message(s, &i)) != TG_OK)
        return rc;
    it = &s->items[i];
    if ((refusal ? it->refusal_ci : it->text_ci) < 0) {
        int ci = (it->text_ci >= 0) + (it->refusal_ci >= 0);
        if (refusal)
            it->refusal_ci = ci;
        else
            it->text_ci = ci;
        if ((rc = ev_part(s, i, refusal, false)) != TG_OK)
            return rc;
    }
    if ((rc = add_text(s, refusal ? &it->refusal : &it->text, t, n)) != TG_OK)
        return rc;
    ev_begin(s, refusal ? "response.refusal.delta" : "response.output_text.delta");
    ev_item_ref(s, i);
    TG__JW_LIT(&s->ev, ",\"content_index\":");
    tg__jw_int(&s->ev, refusal ? it->refusal_ci : it->text_ci);
    TG__JW_LIT(&s->ev, ",\"delta\":");
    tg__jw_strn(&s->ev, t, n);
    tg__jw_cstr(&s->ev, refusal ? "}" : ",\"logprobs\":[]}");
    return ev_send(s, refusal ? "response.refusal.delta" : "response.output_text.delta");
}

static char *
dup_str(const char *s)
{
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    if (d != NULL)
        memcpy(d, s, n + 1);
    return d;
}

static int
on_tool_call(struct tg_dialect_stream *s, const cJSON *tc, int64_t pos)
{
    const cJSON *fn = tg__resp_get(tc, "function"), *idx = tg__resp_get(tc, "index");
    const char *name = tg__resp_str_or(tg__resp_get(fn, "name"), NULL);
    const char *args = tg__resp_str_or(tg__resp_get(fn, "arguments"), "");
    int64_t ci = cJSON_IsNumber(idx) ? (int64_t)idx->valuedouble : pos;
    uint32_t i = UINT32_MAX;
    struct sitem *it;
    int rc;

    if (!cJSON_IsObject(tc))
        return TG_EINVAL;
    for (uint32_t k = 0; k < s->nitems; k++)
        if (s->items[k].kind != IT_MSG && s->items[k].chat_index == ci && !s->items[k].done) {
            i = k;
            break;
        }
    if (i == UINT32_MAX) {
        const char *id = tg__resp_str_or(tg__resp_get(tc, "id"), NULL);
        char gen[96];
        /* text before a tool call is a message of its own: close it */
        if (s->open_msg >= 0 && (rc = close_item(s, (uint32_t)s->open_msg)) != TG_OK)
            return rc;
        if ((rc = new_item(s, tg__resp_is_custom(s->ctx, name) ? IT_CUSTOM : IT_FN, &i)) != TG_OK)
            return rc;
        it = &s->items[i];
        it->chat_index = ci;
        if (id == NULL || id[0] == '\0') {
            snprintf(gen, sizeof(gen), "call_%.64s_%u", tg__resp_answer_id(s->ctx), i);
            id = gen;
        }
        it->call_id = dup_str(id);
        it->name = dup_str(name != NULL ? name : "");
        if (it->call_id == NULL || it->name == NULL)
            return TG_ENOMEM;
        if ((rc = ev_item(s, i, false)) != TG_OK)
            return rc;
    } else if (name != NULL && name[0] != '\0' && s->items[i].name[0] == '\0') {
        /* a provider that names the function after its first chunk */
        char *nm = dup_str(name);
        if (nm == NULL)
            return TG_ENOMEM;
        free(s->items[i].name);
        s->items[i].name = nm;
    }
    it = &s->items[i];
    if (args[0] == '\0')
        return TG_OK;
    if ((rc = add_text(s, &it->text, args, strlen(args))) != TG_OK)
        return rc;
    if (it->kind == IT_CUSTOM)
        return TG_OK;
    ev_begin(s, "response.function_call_arguments.delta");
    ev_item_ref(s, i);
    TG__JW_LIT(&s->ev, ",\"delta\":");
    tg__jw_str(&s->ev, args);
    TG__JW_LIT(&s->ev, "}");
    return ev_send(s, "response.function_call_arguments.delta");
}

/* Close every item and send the terminal event. */
static int
finish(struct tg_dialect_stream *s)
{
    const char *incomplete = tg__resp_incomplete_reason(s->finish);
    uint32_t i;
    int rc;

    if (s->finished)
        return TG_OK;
    if ((rc = start(s)) != TG_OK)
        return rc;
    if (s->nitems == 0 && (rc = open_message(s, &i)) != TG_OK)
        return rc;
    for (i = 0; i < s->nitems; i++)
        if ((rc = close_item(s, i)) != TG_OK)
            return rc;
    s->finished = true;
    return incomplete != NULL
               ? ev_response(s, "response.incomplete", "incomplete", incomplete, "incomplete", NULL)
               : ev_response(s, "response.completed", "completed", NULL, "completed", NULL);
}

/* The stream broke: an `error` event (the SDKs raise on its `error`
 * member; its top-level members are the documented ones) and
 * response.failed (what Codex waits for). */
static int
fail(struct tg_dialect_stream *s, const char *msg)
{
    int rc;

    if (s->finished)
        return TG_OK;
    s->finished = true;
    if ((rc = start(s)) != TG_OK)
        return rc;
    ev_begin(s, "error");
    TG__JW_LIT(&s->ev, ",\"code\":\"server_error\",\"message\":");
    tg__jw_str(&s->ev, msg);
    TG__JW_LIT(&s->ev,
                ",\"param\":null,\"error\":{\"type\":\"server_error\",\"code\":\"server_error\","
                "\"message\":");
    tg__jw_str(&s->ev, msg);
    TG__JW_LIT(&s->ev, ",\"param\":null}}");
    if ((rc = ev_send(s, "error")) != TG_OK)
        return rc;
    return ev_response(s, "response.failed", "failed", NULL, "incomplete", msg);
}

static int
on_event(void *ud, const char *event, const char *data, size_t len)
{
    struct tg_dialect_stream *s = ud;
    const cJSON *choices, *err_obj;
    cJSON *root = NULL;
    const char *end;
    int64_t pos;
    int rc;

    if (s->finished)
        return TG_OK;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
        return finish(s);
    tg_arena_reset(&s->ea);
    rc = tg_json_parse(data, len, TG_MAX_JSON_DEPTH, &s->ea, &root, &end);
    if (rc != TG_OK)
        return rc == TG_ENOMEM ? TG_ENOMEM : TG_EINVAL;
    if (!cJSON_IsObject(root))
        return TG_EINVAL;
    if ((rc = start(s)) != TG_OK)
        return rc;
    err_obj = tg__resp_get(root, "error");
    if (tg__resp_present(err_obj)) {
        /* the provider's message is not ours to relay (it may quote the
         * request); tollgate's own output guard says what it did */
        const char *code = tg__resp_str_or(tg__resp_get(err_obj, "code"), "");
        rc = fail(s, strcmp(code, "response_blocked") == 0
                         ? "the answer was blocked by the response policy (response_blocked)"
                         : "the upstream provider reported an error during the stream");
        return rc != TG_OK ? rc : TG_EUPSTREAM;
    }
    choices = tg__resp_get(root, "choices");
    if (tg__resp_present(choices) && !cJSON_IsArray(choices))
        return TG_EINVAL;
    for (const cJSON *ch = cJSON_IsArray(choices) ? choices->child : NULL; ch != NULL;
         ch = ch->next) {
        const cJSON *delta = tg__resp_get(ch, "delta"), *ix = tg__resp_get(ch, "index"), *tcs;
        const char *fr = tg__resp_str_or(tg__resp_get(ch, "finish_reason"), NULL);
        if (cJSON_IsNumber(ix) && ix->valuedouble != 0)
            continue;          /* Responses has one answer; n > 1 is never asked for */
        if (cJSON_IsObject(delta)) {
            const cJSON *c = tg__resp_get(delta, "content"), *r = tg__resp_get(delta, "refusal");
            if (cJSON_IsString(c) && (rc = on_text(s, c->valuestring, false)) != TG_OK)
                return rc;
            if (cJSON_IsString(r) && (rc = on_text(s, r->valuestring, true)) != TG_OK)
                return rc;
            tcs = tg__resp_get(delta, "tool_calls");
            pos = 0;
            for (const cJSON *tc = cJSON_IsArray(tcs) ? tcs->child : NULL; tc != NULL;
                 tc = tc->next, pos++)
                if ((rc = on_tool_call(s, tc, pos)) != TG_OK)
                    return rc;
        }
        if (fr != NULL)
            snprintf(s->finish, sizeof(s->finish), "%s", fr);
    }
    if (tg__resp_present(tg__resp_get(root, "usage")))
        tg__resp_usage_read(&s->usage, tg__resp_get(root, "usage"));
    return TG_OK;
}

int
tg__resp_stream_new(const struct tg_dialect_ctx *ctx, tg_dialect_emit_fn emit, void *ud,
                    struct tg_dialect_stream **out)
{
    struct tg_dialect_stream *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return TG_ENOMEM;
    s->ctx = ctx;
    s->emit = emit;
    s->ud = ud;
    s->open_msg = -1;
    tg_sse_init(&s->sse, TG_MAX_RESP_STREAM_TEXT);
    tg_arena_init(&s->ea, 0);
    tg__jw_init(&s->ev, TG_MAX_RESP_EVENT_BYTES);
    tg__jw_init(&s->echo, TG_MAX_RESP_EVENT_BYTES);
    *out = s;
    return TG_OK;
}

int
tg__resp_stream_feed(struct tg_dialect_stream *s, const char *buf, size_t len)
{
    int rc;

    if (s->failed)
        return s->failed;
    rc = tg_sse_feed(&s->sse, buf, len, on_event, s);
    if (rc > 0)
        rc = TG_EINVAL;
    if (rc != TG_OK)
        s->failed = rc;
    return rc;
}

int
tg__resp_stream_end(struct tg_dialect_stream *s, bool ok)
{
    int rc, why = ok ? s->failed : TG_OK;

    if (ok && !s->failed) {
        rc = finish(s);
        if (rc == TG_OK || rc == TG_EIO)
            return rc;
        why = rc;    /* could not build the final events (a cap): tell the client */
    }
    rc = fail(s, "the upstream stream ended before the answer was complete");
    return rc != TG_OK ? rc : why;
}

void
tg__resp_stream_free(struct tg_dialect_stream *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->nitems; i++) {
        tg__jw_free(&s->items[i].text);
        tg__jw_free(&s->items[i].refusal);
        free(s->items[i].call_id);
        free(s->items[i].name);
    }
    free(s->items);
    tg_sse_free(&s->sse);
    tg_arena_free(&s->ea);
    tg__jw_free(&s->ev);
    tg__jw_free(&s->echo);
    free(s);
}