/*
 * respguard.c — the output guard on canonical answers and streams
 * (adapters/http/respguard.h).
 */
#include "adapters/http/respguard.h"
#include "adapters/providers/sse.h"
#include "engine/limits.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- whole answers -------------------------------------------------------- */

/* Guard the string node n in place.  *changed when its value was replaced. */
static int
guard_str(struct tg_outguard *g, cJSON *n, bool *changed, struct tg_err *err)
{
    const char *out;
    size_t olen;
    int rc;

    if (!cJSON_IsString(n) || n->valuestring == NULL || g->verdict == TG_RESP_DENY)
        return TG_OK;
    rc = tg_outguard_text(g, n->valuestring, strlen(n->valuestring), &out, &olen, err);
    if (rc != TG_OK)
        return rc;
    if (out != NULL && out != n->valuestring) {
        if (cJSON_SetValuestring(n, out) == NULL)
            return tg_err_set(err, TG_ENOMEM, "out of memory guarding the answer");
        *changed = true;
    }
    return TG_OK;
}

int
tg_rg_answer(struct tg_outguard *g, const char *chat, size_t len, char **out, size_t *outlen,
             struct tg_err *err)
{
    cJSON *j = cJSON_ParseWithLength(chat, len), *ch, *m, *x, *tc;
    bool changed = false;
    int rc = TG_OK;

    *out = NULL;
    *outlen = 0;
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return tg_err_set(err, TG_EINVAL, "the answer is not a JSON object");
    }
    cJSON_ArrayForEach(ch, cJSON_GetObjectItemCaseSensitive(j, "choices")) {
        m = cJSON_GetObjectItemCaseSensitive(ch, "message");
        if (!cJSON_IsObject(m))
            m = ch;   /* a legacy text completion carries `text` on the choice */
        x = cJSON_GetObjectItemCaseSensitive(m, "content");
        if (cJSON_IsArray(x)) {
            cJSON *part;
            cJSON_ArrayForEach(part, x)
                if (rc == TG_OK)
                    rc = guard_str(g, cJSON_GetObjectItemCaseSensitive(part, "text"), &changed, err);
        } else if (rc == TG_OK) {
            rc = guard_str(g, x, &changed, err);
        }
        static const char *const texts[] = { "refusal", "reasoning_content", "reasoning", "text" };
        for (size_t i = 0; i < TG_ARRAY_LEN(texts) && rc == TG_OK; i++)
            rc = guard_str(g, cJSON_GetObjectItemCaseSensitive(m, texts[i]), &changed, err);
        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(m, "tool_calls"))
            if (rc == TG_OK)
                rc = guard_str(g, cJSON_GetObjectItemCaseSensitive(
                                      cJSON_GetObjectItemCaseSensitive(tc, "function"), "arguments"),
                               &changed, err);
        if (rc == TG_OK)
            rc = guard_str(g, cJSON_GetObjectItemCaseSensitive(
                                  cJSON_GetObjectItemCaseSensitive(m, "function_call"), "arguments"),
                           &changed, err);
    }
    if (rc == TG_OK && changed && g->verdict != TG_RESP_DENY) {
        if ((*out = cJSON_PrintUnformatted(j)) == NULL)
            rc = tg_err_set(err, TG_ENOMEM, "out of memory printing the guarded answer");
        else
            *outlen = strlen(*out);
    }
    cJSON_Delete(j);
    return rc;
}

/* ---- streams ---------------------------------------------------------------- */

enum rg_kind { RG_CONTENT = 0, RG_REFUSAL = 1, RG_REASONING = 2, RG_TOOL = 3 };

static const char *const kind_field[] = { "content", "refusal", "reasoning_content" };

struct rg_chan {
    int64_t choice;
    enum rg_kind kind;
    int64_t tool;                   /* tool call index (RG_TOOL) */
    struct tg_outguard_chan c;
    bool    held;                   /* may hold text: fed since its last final */
};

struct tg_rg_stream {
    struct tg_outguard *g;
    bool         enforce;
    tg_prov_emit_fn emit;
    void        *ud;
    struct tg_sse sse;
    struct rg_chan *ch;
    uint32_t     nch, capch;
    int64_t     *active_choice;     /* choice -> its active channel, parallel arrays */
    uint32_t    *active_chan;
    uint32_t     nactive, capactive;
    char        *pre;               /* events to send before the current one */
    size_t       npre, cappre;
    char         id[128], model[128], fingerprint[128];
    double       created;
    int          failed;            /* sticky */
    /* Until the first text is released, events (the role, a tool call's
     * name) are kept here: a value found before anything was relayed can
     * then still be answered with a plain error status. */
    bool         started;
    bool         released;          /* this event released text */
    char        *hold;
    size_t       nhold, caphold;
};

static int
pre_add(struct tg_rg_stream *s, const char *p, size_t n)
{
    if (s->npre + n > s->cappre) {
        size_t nc = s->cappre ? s->cappre : 512;
        while (nc < s->npre + n)
            nc *= 2;
        char *nb = realloc(s->pre, nc);
        if (nb == NULL)
            return TG_ENOMEM;
        s->pre = nb;
        s->cappre = nc;
    }
    memcpy(s->pre + s->npre, p, n);
    s->npre += n;
    return TG_OK;
}

/* "data: " JSON "\n\n" of j into the pre buffer. */
static int
pre_event(struct tg_rg_stream *s, const cJSON *j)
{
    char *t = cJSON_PrintUnformatted(j);
    int rc;

    if (t == NULL)
        return TG_ENOMEM;
    rc = pre_add(s, "data: ", 6);
    if (rc == TG_OK)
        rc = pre_add(s, t, strlen(t));
    if (rc == TG_OK)
        rc = pre_add(s, "\n\n", 2);
    free(t);
    return rc;
}

static int
chan_get(struct tg_rg_stream *s, int64_t choice, enum rg_kind kind, int64_t tool, uint32_t *out)
{
    for (uint32_t i = 0; i < s->nch; i++)
        if (s->ch[i].choice == choice && s->ch[i].kind == kind && s->ch[i].tool == tool) {
            *out = i;
            return TG_OK;
        }
    if (s->nch >= TG_OUTGUARD_MAX_CHANNELS)
        return TG_ELIMIT;
    if (s->nch == s->capch) {
        uint32_t nc = s->capch ? 2 * s->capch : 4;
        struct rg_chan *v = realloc(s->ch, nc * sizeof(*v));
        if (v == NULL)
            return TG_ENOMEM;
        s->ch = v;
        s->capch = nc;
    }
    memset(&s->ch[s->nch], 0, sizeof(s->ch[s->nch]));
    s->ch[s->nch].choice = choice;
    s->ch[s->nch].kind = kind;
    s->ch[s->nch].tool = tool;
    *out = s->nch++;
    return TG_OK;
}

/* The slot holding choice's active channel (created as UINT32_MAX = none). */
static int
active_slot(struct tg_rg_stream *s, int64_t choice, uint32_t **slot)
{
    for (uint32_t i = 0; i < s->nactive; i++)
        if (s->active_choice[i] == choice) {
            *slot = &s->active_chan[i];
            return TG_OK;
        }
    if (s->nactive >= TG_OUTGUARD_MAX_CHANNELS)
        return TG_ELIMIT;
    if (s->nactive == s->capactive) {
        uint32_t nc = s->capactive ? 2 * s->capactive : 4;
        int64_t *a = realloc(s->active_choice, nc * sizeof(*a));
        if (a == NULL)
            return TG_ENOMEM;
        s->active_choice = a;
        uint32_t *b = realloc(s->active_chan, nc * sizeof(*b));
        if (b == NULL)
            return TG_ENOMEM;
        s->active_chan = b;
        s->capactive = nc;
    }
    s->active_choice[s->nactive] = choice;
    s->active_chan[s->nactive] = UINT32_MAX;
    *slot = &s->active_chan[s->nactive++];
    return TG_OK;
}

/* End channel k: what it still holds goes out in an event of its own. */
static int
flush_chan(struct tg_rg_stream *s, uint32_t k)
{
    struct rg_chan *c = &s->ch[k];
    struct tg_err err = { 0 };
    const char *out;
    size_t n;
    cJSON *j = NULL, *choices, *ch, *delta, *x;
    int rc;

    if (!c->held)
        return TG_OK;
    c->held = false;
    if ((rc = tg_outguard_feed(s->g, &c->c, "", 0, true, &out, &n, &err)) != TG_OK)
        return rc;
    if (n == 0 || !s->enforce || s->g->verdict == TG_RESP_DENY)
        return TG_OK;
    rc = TG_ENOMEM;
    if ((j = cJSON_CreateObject()) == NULL || !cJSON_AddStringToObject(j, "id", s->id) ||
        !cJSON_AddStringToObject(j, "object", "chat.completion.chunk") ||
        !cJSON_AddNumberToObject(j, "created", s->created) || !cJSON_AddStringToObject(j, "model", s->model) ||
        (s->fingerprint[0] != '\0' && !cJSON_AddStringToObject(j, "system_fingerprint", s->fingerprint)) ||
        (choices = cJSON_AddArrayToObject(j, "choices")) == NULL || (ch = cJSON_CreateObject()) == NULL)
        goto out;
    cJSON_AddItemToArray(choices, ch);
    if (!cJSON_AddNumberToObject(ch, "index", (double)c->choice) ||
        (delta = cJSON_AddObjectToObject(ch, "delta")) == NULL)
        goto out;
    if (c->kind != RG_TOOL) {
        if ((x = cJSON_CreateString("")) == NULL)
            goto out;
        cJSON_AddItemToObject(delta, kind_field[c->kind], x);
    } else {
        cJSON *tcs = cJSON_AddArrayToObject(delta, "tool_calls"), *tc = cJSON_CreateObject(), *fn;
        if (tcs == NULL || tc == NULL) {
            cJSON_Delete(tc);
            goto out;
        }
        cJSON_AddItemToArray(tcs, tc);
        if (!cJSON_AddNumberToObject(tc, "index", (double)c->tool) ||
            (fn = cJSON_AddObjectToObject(tc, "function")) == NULL || (x = cJSON_CreateString("")) == NULL)
            goto out;
        cJSON_AddItemToObject(fn, "arguments", x);
    }
    /* the released text may hold NUL-free bytes only: it came from a JSON string */
    if (cJSON_SetValuestring(x, out) == NULL || !cJSON_AddNullToObject(ch, "finish_reason"))
        goto out;
    rc = pre_event(s, j);
    s->released = true;
out:
    cJSON_Delete(j);
    return rc;
}

/* Feed one text node of the current event into its channel, ending the
 * choice's previous channel first when this is another one. */
static int
feed_node(struct tg_rg_stream *s, cJSON *node, int64_t choice, enum rg_kind kind, int64_t tool, bool final)
{
    struct tg_err err = { 0 };
    uint32_t k, *act;
    const char *out;
    size_t n;
    int rc;

    if (!cJSON_IsString(node) || node->valuestring == NULL)
        return TG_OK;
    if ((rc = chan_get(s, choice, kind, tool, &k)) != TG_OK || (rc = active_slot(s, choice, &act)) != TG_OK)
        return rc;
    if (*act != UINT32_MAX && *act != k && (rc = flush_chan(s, *act)) != TG_OK)
        return rc;
    *act = k;
    s->ch[k].held = !final;
    rc = tg_outguard_feed(s->g, &s->ch[k].c, node->valuestring, strlen(node->valuestring), final, &out, &n,
                          &err);
    if (rc != TG_OK || !s->enforce || s->g->verdict == TG_RESP_DENY)
        return rc;
    if (n > 0)
        s->released = true;
    if (n != strlen(node->valuestring) || memcmp(out, node->valuestring, n) != 0)
        if (cJSON_SetValuestring(node, out) == NULL)
            return TG_ENOMEM;
    return TG_OK;
}

static void
remember(struct tg_rg_stream *s, const cJSON *j)
{
    const cJSON *x;
    if (cJSON_IsString(x = cJSON_GetObjectItemCaseSensitive(j, "id")))
        snprintf(s->id, sizeof(s->id), "%s", x->valuestring);
    if (cJSON_IsString(x = cJSON_GetObjectItemCaseSensitive(j, "model")))
        snprintf(s->model, sizeof(s->model), "%s", x->valuestring);
    if (cJSON_IsNumber(x = cJSON_GetObjectItemCaseSensitive(j, "created")))
        s->created = x->valuedouble;
    if (cJSON_IsString(x = cJSON_GetObjectItemCaseSensitive(j, "system_fingerprint")))
        snprintf(s->fingerprint, sizeof(s->fingerprint), "%s", x->valuestring);
}

/* Bytes for the client: kept while nothing was released, then sent. */
static int
out(struct tg_rg_stream *s, const char *p, size_t n, bool start)
{
    int rc;

    if (!s->started && (start || s->nhold + n > TG_OUTGUARD_MAX_HOLD)) {
        s->started = true;
        if (s->nhold > 0 && (rc = s->emit(s->ud, s->hold, s->nhold)) != 0)
            return rc;
        s->nhold = 0;
    }
    if (s->started)
        return n > 0 ? s->emit(s->ud, p, n) : 0;
    if (s->nhold + n > s->caphold) {
        size_t nc = s->caphold ? s->caphold : 1024;
        while (nc < s->nhold + n)
            nc *= 2;
        char *nb = realloc(s->hold, nc);
        if (nb == NULL)
            return TG_ENOMEM;
        s->hold = nb;
        s->caphold = nc;
    }
    memcpy(s->hold + s->nhold, p, n);
    s->nhold += n;
    return 0;
}

static int
emit_pre(struct tg_rg_stream *s)
{
    int rc = 0;
    if (s->npre > 0 && s->enforce)
        rc = out(s, s->pre, s->npre, s->released);
    s->npre = 0;
    return rc;
}

static int
on_event(void *ud, const char *event, const char *data, size_t len)
{
    struct tg_rg_stream *s = ud;
    cJSON *j, *choices, *ch;
    int64_t pos = 0;
    int rc = TG_OK;

    (void)event;
    s->npre = 0;
    s->released = false;
    if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
        for (uint32_t i = 0; i < s->nch && rc == TG_OK; i++)
            rc = flush_chan(s, i);
        if (rc != TG_OK)
            return rc;
        if (s->g->verdict == TG_RESP_DENY && s->enforce)
            return TG_EPOLICY;
        s->released = true;   /* the end: whatever was kept goes now */
        if ((rc = emit_pre(s)) != 0)
            return rc;
        return s->enforce ? out(s, "data: [DONE]\n\n", 14, true) : s->emit(s->ud, "data: [DONE]\n\n", 14);
    }
    j = cJSON_ParseWithLength(data, len);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return TG_EINVAL;   /* a canonical event we cannot read is not relayed unguarded */
    }
    remember(s, j);
    choices = cJSON_GetObjectItemCaseSensitive(j, "choices");
    cJSON_ArrayForEach(ch, choices) {
        const cJSON *ix = cJSON_GetObjectItemCaseSensitive(ch, "index");
        int64_t ci = cJSON_IsNumber(ix) ? (int64_t)ix->valuedouble : pos;
        const cJSON *fr = cJSON_GetObjectItemCaseSensitive(ch, "finish_reason");
        bool fin = cJSON_IsString(fr);
        cJSON *delta = cJSON_GetObjectItemCaseSensitive(ch, "delta"), *tc;
        int64_t tpos = 0;
        pos++;
        for (int k = RG_CONTENT; k <= RG_REASONING && rc == TG_OK; k++)
            rc = feed_node(s, cJSON_GetObjectItemCaseSensitive(delta, kind_field[k]), ci, (enum rg_kind)k, 0,
                           fin);
        cJSON_ArrayForEach(tc, cJSON_GetObjectItemCaseSensitive(delta, "tool_calls")) {
            const cJSON *ti = cJSON_GetObjectItemCaseSensitive(tc, "index");
            if (rc == TG_OK)
                rc = feed_node(s, cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(tc, "function"),
                                                                   "arguments"),
                               ci, RG_TOOL, cJSON_IsNumber(ti) ? (int64_t)ti->valuedouble : tpos, fin);
            tpos++;
        }
        if (rc == TG_OK && fin) {
            /* the choice is over: whatever its channels still hold goes before this event */
            for (uint32_t i = 0; i < s->nch && rc == TG_OK; i++)
                if (s->ch[i].choice == ci)
                    rc = flush_chan(s, i);
        }
        if (rc != TG_OK)
            break;
    }
    if (rc == TG_OK && s->g->verdict == TG_RESP_DENY && s->enforce)
        rc = TG_EPOLICY;
    if (rc == TG_OK)
        rc = emit_pre(s);
    if (rc == TG_OK) {
        if (!s->enforce) {
            rc = s->emit(s->ud, "data: ", 6);
            if (rc == 0)
                rc = s->emit(s->ud, data, len);
            if (rc == 0)
                rc = s->emit(s->ud, "\n\n", 2);
        } else {
            s->npre = 0;
            rc = pre_event(s, j);
            if (rc == TG_OK)
                rc = emit_pre(s);   /* s->released still says whether this event carries text */
        }
    }
    cJSON_Delete(j);
    return rc;
}

int
tg_rg_stream_new(struct tg_outguard *g, bool enforce, tg_prov_emit_fn emit, void *ud, struct tg_rg_stream **out)
{
    struct tg_rg_stream *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return TG_ENOMEM;
    s->g = g;
    s->enforce = enforce;
    s->emit = emit;
    s->ud = ud;
    s->started = !enforce;   /* audit mode relays as it comes */
    /* one canonical event carries one delta: small, but tool arguments may
     * come in one piece */
    tg_sse_init(&s->sse, TG_MAX_RESP_STREAM_TEXT);
    *out = s;
    return TG_OK;
}

int
tg_rg_stream_feed(struct tg_rg_stream *s, const char *buf, size_t len)
{
    int rc;

    if (s->failed)
        return s->failed;
    rc = tg_sse_feed(&s->sse, buf, len, on_event, s);
    if (rc > 0)
        rc = TG_EINVAL;
    if (rc == TG_ELIMIT && s->g->verdict != TG_RESP_DENY) {
        /* a cap: deny rather than relay what could not be guarded */
        s->g->verdict = TG_RESP_DENY;
        s->g->rule = "response.unscannable";
    }
    if (rc == TG_OK && s->g->verdict == TG_RESP_DENY && s->enforce)
        rc = TG_EPOLICY;
    if (rc != TG_OK)
        s->failed = rc;
    return rc;
}

void
tg_rg_stream_free(struct tg_rg_stream *s)
{
    if (s == NULL)
        return;
    for (uint32_t i = 0; i < s->nch; i++)
        tg_outguard_chan_free(&s->ch[i].c);
    free(s->ch);
    free(s->active_choice);
    free(s->active_chan);
    free(s->pre);
    free(s->hold);
    tg_sse_free(&s->sse);
    free(s);
}

int
tg_rg_blocked_event(const char *rule, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "data: {\"error\":{\"message\":\"the answer was blocked by the response policy (%s)\","
                     "\"type\":\"policy_denied\",\"param\":null,\"code\":\"response_blocked\",\"rules\":[\"%s\"]}}\n\n",
                     rule, rule);
    return n < 0 || (size_t)n >= cap ? -1 : n;
}
