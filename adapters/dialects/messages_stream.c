/*
 * messages_stream.c — stream: chat.completion.chunk SSE -> Anthropic
 * message_start, content_block_*, message_delta, message_stop events.
 *
 * What is carried or dropped, field by field, is in docs/dialects.md
 * ("Anthropic Messages"); the comments here say why.
 */

#include "adapters/dialects/messages_int.h"
#include "adapters/providers/sse.h"
#include "engine/json.h"
#include "engine/limits.h"

#include <cjson/cJSON.h>

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- streams --------------------------------------------------------------- */

enum open_block { OPEN_NONE = 0, OPEN_TEXT = 1, OPEN_TOOL = 2 };

struct tg_dialect_stream {
    struct tg_sse   sse;
    tg_dialect_emit_fn emit;
    void           *ud;
    struct tg_arena scratch;    /* one canonical event's parse tree, reset per event */
    struct tg__jw       ev;         /* the event being written, reused */
    char           *msg_id;     /* "msg_<answer id>" (malloc) */
    char           *aid;        /* answer id (malloc) */
    char           *model;      /* the client's model name (malloc) */
    char          **stops;      /* the request's stop sequences (malloc) */
    uint32_t        nstops;
    bool            started;    /* message_start sent */
    bool            done;       /* message_stop or error sent */
    int             rc;         /* sticky failure */
    bool            blocked;    /* tollgate's output guard ended the stream (code response_blocked) */
    enum open_block open;
    int64_t         open_tool;  /* OpenAI index of the open tool call */
    uint32_t        nblocks;    /* Anthropic blocks opened so far */
    uint8_t         seen[TG_MESSAGES_MAX_STREAM_TOOLS / 8];
    bool            any_tool;
    char            finish[32];
    const char     *stop_seq;   /* points into stops */
    int64_t         prompt, completion, cached;
};

static int
ev_send(struct tg_dialect_stream *s)
{
    if (s->ev.rc != TG_OK)
        return s->ev.rc;
    TG__JW_LIT(&s->ev, "\n\n");
    if (s->ev.rc != TG_OK)
        return s->ev.rc;
    return s->emit(s->ud, s->ev.buf, s->ev.len) ? TG_EIO : 0;
}

/* Start an event: "event: NAME\ndata: " then the caller's JSON. */
static void
ev_begin(struct tg_dialect_stream *s, const char *name)
{
    s->ev.len = 0;
    s->ev.rc = TG_OK;
    TG__JW_LIT(&s->ev, "event: ");
    tg__jw_raw(&s->ev, name, strlen(name));
    TG__JW_LIT(&s->ev, "\ndata: ");
}

static int
send_start(struct tg_dialect_stream *s)
{
    if (s->started)
        return 0;
    s->started = true;
    ev_begin(s, "message_start");
    TG__JW_LIT(&s->ev, "{\"type\":\"message_start\",\"message\":{\"id\":");
    tg__jw_str(&s->ev, s->msg_id);
    TG__JW_LIT(&s->ev, ",\"type\":\"message\",\"role\":\"assistant\",\"model\":");
    tg__jw_str(&s->ev, s->model);
    /* input tokens are known only from the last chunk: message_delta
     * carries them (the SDKs take its input_tokens over this 0) */
    TG__JW_LIT(&s->ev, ",\"content\":[],\"stop_reason\":null,\"stop_sequence\":null,\"usage\":"
                   "{\"input_tokens\":0,\"cache_creation_input_tokens\":0,"
                   "\"cache_read_input_tokens\":0,\"output_tokens\":0}}}");
    return ev_send(s);
}

static int
close_block(struct tg_dialect_stream *s)
{
    if (s->open == OPEN_NONE)
        return 0;
    s->open = OPEN_NONE;
    ev_begin(s, "content_block_stop");
    TG__JW_LIT(&s->ev, "{\"type\":\"content_block_stop\",\"index\":");
    tg__jw_int(&s->ev, s->nblocks - 1);
    TG__JW_LIT(&s->ev, "}");
    return ev_send(s);
}

static int
text_delta(struct tg_dialect_stream *s, const char *t)
{
    int rc;

    if (t[0] == '\0')
        return 0;
    if (s->open != OPEN_TEXT) {
        if ((rc = close_block(s)) != 0)
            return rc;
        ev_begin(s, "content_block_start");
        TG__JW_LIT(&s->ev, "{\"type\":\"content_block_start\",\"index\":");
        tg__jw_int(&s->ev, s->nblocks);
        TG__JW_LIT(&s->ev, ",\"content_block\":{\"type\":\"text\",\"text\":\"\"}}");
        s->nblocks++;
        s->open = OPEN_TEXT;
        if ((rc = ev_send(s)) != 0)
            return rc;
    }
    ev_begin(s, "content_block_delta");
    TG__JW_LIT(&s->ev, "{\"type\":\"content_block_delta\",\"index\":");
    tg__jw_int(&s->ev, s->nblocks - 1);
    TG__JW_LIT(&s->ev, ",\"delta\":{\"type\":\"text_delta\",\"text\":");
    tg__jw_str(&s->ev, t);
    TG__JW_LIT(&s->ev, "}}");
    return ev_send(s);
}

/*
 * One tool_calls[] delta.  Anthropic blocks never interleave, and OpenAI
 * providers stream one call after the other, so a call's block stays open
 * until another block starts.  A fragment for a call whose block was
 * already closed cannot be sent in Anthropic's shape: refused (TG_EINVAL).
 */
static int
tool_delta(struct tg_dialect_stream *s, const cJSON *tc)
{
    const cJSON *ix = tg__msg_get(tc, "index"), *id = tg__msg_get(tc, "id"), *fn = tg__msg_get(tc, "function");
    const cJSON *name = tg__msg_get(fn, "name"), *args = tg__msg_get(fn, "arguments");
    int64_t idx = 0;
    int rc;

    if (cJSON_IsNumber(ix)) {
        if (!(ix->valuedouble >= 0) || ix->valuedouble >= TG_MESSAGES_MAX_STREAM_TOOLS)
            return TG_ELIMIT;
        idx = (int64_t)ix->valuedouble;
    }
    if (s->open != OPEN_TOOL || s->open_tool != idx) {
        if (s->seen[idx / 8] & (1u << (idx % 8)))
            return TG_EINVAL;
        if ((rc = close_block(s)) != 0)
            return rc;
        s->seen[idx / 8] |= (uint8_t)(1u << (idx % 8));
        ev_begin(s, "content_block_start");
        TG__JW_LIT(&s->ev, "{\"type\":\"content_block_start\",\"index\":");
        tg__jw_int(&s->ev, s->nblocks);
        TG__JW_LIT(&s->ev, ",\"content_block\":{\"type\":\"tool_use\",\"id\":");
        if (cJSON_IsString(id) && id->valuestring[0] != '\0') {
            tg__jw_str(&s->ev, id->valuestring);
        } else {
            TG__JW_LIT(&s->ev, "\"toolu_");
            tg__jw_esc(&s->ev, s->aid, strlen(s->aid));
            TG__JW_LIT(&s->ev, "_");
            tg__jw_int(&s->ev, idx);
            TG__JW_LIT(&s->ev, "\"");
        }
        TG__JW_LIT(&s->ev, ",\"name\":");
        tg__jw_str(&s->ev, cJSON_IsString(name) ? name->valuestring : "");
        TG__JW_LIT(&s->ev, ",\"input\":{}}}");
        s->nblocks++;
        s->open = OPEN_TOOL;
        s->open_tool = idx;
        s->any_tool = true;
        if ((rc = ev_send(s)) != 0)
            return rc;
    }
    if (!cJSON_IsString(args) || args->valuestring[0] == '\0')
        return 0;
    ev_begin(s, "content_block_delta");
    TG__JW_LIT(&s->ev, "{\"type\":\"content_block_delta\",\"index\":");
    tg__jw_int(&s->ev, s->nblocks - 1);
    TG__JW_LIT(&s->ev, ",\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":");
    tg__jw_str(&s->ev, args->valuestring);
    TG__JW_LIT(&s->ev, "}}");
    return ev_send(s);
}

static int
finish(struct tg_dialect_stream *s)
{
    const char *sr;
    int rc;

    if ((rc = send_start(s)) != 0 || (rc = close_block(s)) != 0)
        return rc;
    sr = tg__msg_stop_reason(s->finish[0] ? s->finish : NULL, s->any_tool);
    if (strcmp(sr, "end_turn") == 0 && s->stop_seq != NULL)
        sr = "stop_sequence";
    ev_begin(s, "message_delta");
    TG__JW_LIT(&s->ev, "{\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"");
    tg__jw_raw(&s->ev, sr, strlen(sr));
    TG__JW_LIT(&s->ev, "\",\"stop_sequence\":");
    if (strcmp(sr, "stop_sequence") == 0)
        tg__jw_str(&s->ev, s->stop_seq);
    else
        TG__JW_LIT(&s->ev, "null");
    TG__JW_LIT(&s->ev, "},\"usage\":");
    tg__msg_write_usage(&s->ev, s->prompt, s->completion, s->cached, true);
    TG__JW_LIT(&s->ev, "}");
    if ((rc = ev_send(s)) != 0)
        return rc;
    s->done = true;
    ev_begin(s, "message_stop");
    TG__JW_LIT(&s->ev, "{\"type\":\"message_stop\"}");
    return ev_send(s);
}

static int
on_chunk(struct tg_dialect_stream *s, cJSON *j)
{
    const cJSON *usage = tg__msg_get(j, "usage"), *choice, *delta, *fr, *c, *tcs, *sr;
    int rc;

    if (tg__msg_get(j, "error") != NULL) {
        const cJSON *code = tg__msg_get(tg__msg_get(j, "error"), "code");
        s->blocked = cJSON_IsString(code) && strcmp(code->valuestring, "response_blocked") == 0;
        return TG_EUPSTREAM;
    }
    if ((rc = send_start(s)) != 0)
        return rc;
    if (cJSON_IsObject(usage)) {
        s->prompt = tg__msg_usage_int(usage, "prompt_tokens");
        s->completion = tg__msg_usage_int(usage, "completion_tokens");
        s->cached = tg__msg_usage_int(tg__msg_get(usage, "prompt_tokens_details"), "cached_tokens");
    }
    choice = cJSON_GetArrayItem(tg__msg_get(j, "choices"), 0);
    if (!cJSON_IsObject(choice))
        return 0;
    delta = tg__msg_get(choice, "delta");
    c = tg__msg_get(delta, "content");
    if (cJSON_IsString(c) && (rc = text_delta(s, c->valuestring)) != 0)
        return rc;
    c = tg__msg_get(delta, "refusal");
    if (cJSON_IsString(c) && (rc = text_delta(s, c->valuestring)) != 0)
        return rc;
    tcs = tg__msg_get(delta, "tool_calls");
    for (const cJSON *tc = cJSON_IsArray(tcs) ? tcs->child : NULL; tc != NULL; tc = tc->next)
        if (cJSON_IsObject(tc) && (rc = tool_delta(s, tc)) != 0)
            return rc;
    fr = tg__msg_get(choice, "finish_reason");
    if (cJSON_IsString(fr))
        snprintf(s->finish, sizeof(s->finish), "%s", fr->valuestring);
    sr = tg__msg_get(choice, "stop_reason");
    if (cJSON_IsString(sr))
        for (uint32_t i = 0; i < s->nstops; i++)
            if (strcmp(s->stops[i], sr->valuestring) == 0)
                s->stop_seq = s->stops[i];
    return 0;
}

static int
on_event(void *ud, const char *event, const char *data, size_t len)
{
    struct tg_dialect_stream *s = ud;
    cJSON *j = NULL;
    const char *end = NULL;
    int rc;

    if (s->done)
        return 0;
    if (strcmp(event, "error") == 0)
        return TG_EUPSTREAM;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
        return finish(s);
    tg_arena_reset(&s->scratch);
    rc = tg_json_parse(data, len, TG_MAX_JSON_DEPTH, &s->scratch, &j, &end);
    if (rc != TG_OK)
        return rc == TG_ENOMEM ? TG_ENOMEM : TG_EINVAL;
    if (!cJSON_IsObject(j))
        return TG_EINVAL;
    return on_chunk(s, j);
}

static char *
dup_or(const char *s, const char *dflt)
{
    return strdup(s != NULL ? s : dflt);
}

int
tg__msg_stream_new(const struct tg_dialect_ctx *ctx, tg_dialect_emit_fn emit, void *ud,
                   struct tg_dialect_stream **out)
{
    struct tg_dialect_stream *s = calloc(1, sizeof(*s));
    const struct tg__msg_priv *p = ctx != NULL ? ctx->priv : NULL;
    const char *aid = ctx != NULL && ctx->answer_id != NULL ? ctx->answer_id : "tollgate";

    if (s == NULL)
        return TG_ENOMEM;
    tg_sse_init(&s->sse, 0);
    tg_arena_init(&s->scratch, 0);
    tg__jw_init(&s->ev, TG_MESSAGES_MAX_EVENT_BYTES);
    s->emit = emit;
    s->ud = ud;
    s->aid = dup_or(aid, "");
    s->model = dup_or(ctx != NULL ? ctx->client_model : NULL, "");
    s->msg_id = malloc(strlen(aid) + 5);
    if (s->msg_id != NULL)
        snprintf(s->msg_id, strlen(aid) + 5, "msg_%s", aid);
    /* The stream may outlive nothing of the request, but copies keep it
     * independent of the arena the context lives in. */
    if (p != NULL && p->nstops > 0) {
        s->stops = calloc(p->nstops, sizeof(char *));
        for (uint32_t i = 0; s->stops != NULL && i < p->nstops; i++)
            if ((s->stops[s->nstops++] = strdup(p->stops[i])) == NULL)
                break;
    }
    if (s->aid == NULL || s->model == NULL || s->msg_id == NULL ||
        (p != NULL && p->nstops > 0 && (s->stops == NULL || s->stops[s->nstops - 1] == NULL))) {
        tg__dialect_messages.stream_free(s);
        return TG_ENOMEM;
    }
    *out = s;
    return TG_OK;
}

int
tg__msg_stream_feed(struct tg_dialect_stream *s, const char *buf, size_t len)
{
    int rc;

    if (s->rc != 0)
        return s->rc;
    rc = tg_sse_feed(&s->sse, buf, len, on_event, s);
    if (rc > 0)
        rc = TG_EINVAL;
    s->rc = rc;
    return rc;
}

int
tg__msg_stream_end(struct tg_dialect_stream *s, bool ok)
{
    int rc;

    if (s->done)
        return 0;
    if (ok && s->rc == 0)
        return finish(s);
    /* The SDKs raise on an `error` event; without one they would wait for
     * message_stop.  No upstream text goes into the message. */
    s->done = true;
    ev_begin(s, "error");
    if (s->blocked)   /* docs/output-guard.md: the rule is in the audit entry */
        TG__JW_LIT(&s->ev, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
                       "\"the answer was blocked by the response policy\",\"code\":\"response_blocked\"}}");
    else
        TG__JW_LIT(&s->ev, "{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":"
                       "\"the upstream stream failed before the answer was complete\"}}");
    rc = ev_send(s);
    return rc;
}

void
tg__msg_stream_free(struct tg_dialect_stream *s)
{
    if (s == NULL)
        return;
    tg_sse_free(&s->sse);
    tg_arena_free(&s->scratch);
    tg__jw_free(&s->ev);
    for (uint32_t i = 0; i < s->nstops; i++)
        free(s->stops[i]);
    free(s->stops);
    free(s->msg_id);
    free(s->aid);
    free(s->model);
    free(s);
}
