/*
 * echo.c — the local "provider" for demos and tests: answers with the last
 * user message, labelled "[echo] " so nobody mistakes it for a model.  It
 * answers from the body tollgate would have sent upstream (redacted when
 * the decision redacts), which makes redaction visible in the demo.
 */
#include "adapters/providers/provider.h"
#include "adapters/providers/prov_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append s to a malloc'd buffer; false on ENOMEM. */
static bool
append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t nc = *cap ? *cap : 256;
        char *nb;
        while (nc < *len + n + 1)
            nc *= 2;
        nb = realloc(*buf, nc);
        if (nb == NULL)
            return false;
        *buf = nb;
        *cap = nc;
    }
    memcpy(*buf + *len, s, n);
    *len += n;
    (*buf)[*len] = '\0';
    return true;
}

static bool
text_of(const cJSON *c, char **buf, size_t *len, size_t *cap)
{
    const cJSON *part;
    size_t start;

    if (cJSON_IsString(c))
        return append(buf, len, cap, c->valuestring, strlen(c->valuestring));
    if (!cJSON_IsArray(c))
        return true;
    start = *len;
    cJSON_ArrayForEach(part, c) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(part, "text");
        if (cJSON_IsString(t)) {
            if (*len > start && !append(buf, len, cap, " ", 1))
                return false;
            if (!append(buf, len, cap, t->valuestring, strlen(t->valuestring)))
                return false;
        }
    }
    return true;
}

static cJSON *
chunk(const char *id, int64_t now_s, const char *model, cJSON *delta, const char *finish)
{
    return tg__prov_chunk(id, now_s, model, "tollgate-echo", delta, finish);
}

static bool
emit(char **buf, size_t *len, size_t *cap, cJSON *o)
{
    char *s = cJSON_PrintUnformatted(o);
    bool ok = s != NULL && append(buf, len, cap, "data: ", 6) &&
              append(buf, len, cap, s, strlen(s)) && append(buf, len, cap, "\n\n", 2);
    free(s);
    cJSON_Delete(o);
    return ok;
}

int
tg_prov_echo(const char *model_id, const char *body, size_t len, bool stream,
             int64_t now_s, const char *id, char **out, size_t *outlen,
             struct tg_prov_usage *u, struct tg_err *err)
{
    cJSON *j = cJSON_ParseWithLength(body, len), *o = NULL, *usage;
    const cJSON *msgs, *msg, *last = NULL;
    char *text = NULL, *res = NULL, cid[64];
    size_t tlen = 0, tcap = 0, rlen = 0, rcap = 0;
    uint64_t in_bytes = 0;
    uint32_t nmsg = 0;
    bool want_usage;
    int rc = TG_ENOMEM;

    msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
    if (!cJSON_IsArray(msgs)) {
        rc = tg_err_set(err, TG_EINVAL, "messages must be an array");
        goto out;
    }
    cJSON_ArrayForEach(msg, msgs) {
        const cJSON *role = cJSON_GetObjectItemCaseSensitive(msg, "role");
        const cJSON *content = cJSON_GetObjectItemCaseSensitive(msg, "content");
        char *t = NULL;
        size_t tl = 0, tc = 0;
        if (!text_of(content, &t, &tl, &tc)) {
            free(t);
            goto out;
        }
        free(t);
        in_bytes += tl;
        nmsg++;
        if (cJSON_IsString(role) && strcmp(role->valuestring, "user") == 0)
            last = content;
    }
    if (!append(&text, &tlen, &tcap, "[echo] ", 7) || !text_of(last, &text, &tlen, &tcap))
        goto out;
    /* Same rough estimate as the pre-flight: ~4 bytes a token, plus a few per message. */
    u->prompt_tokens = (int64_t)((in_bytes + 3) / 4 + 3u * nmsg);
    u->completion_tokens = (int64_t)((tlen + 3) / 4);
    snprintf(cid, sizeof(cid), "chatcmpl-echo-%.32s", id ? id : "0");
    want_usage = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(j, "stream_options"), "include_usage"));

    if (!stream) {
        cJSON *choices, *ch, *m;
        o = cJSON_CreateObject();
        if (o == NULL)
            goto out;
        cJSON_AddStringToObject(o, "id", cid);
        cJSON_AddStringToObject(o, "object", "chat.completion");
        cJSON_AddNumberToObject(o, "created", (double)now_s);
        cJSON_AddStringToObject(o, "model", model_id);
        cJSON_AddStringToObject(o, "system_fingerprint", "tollgate-echo");
        choices = cJSON_AddArrayToObject(o, "choices");
        ch = cJSON_CreateObject();
        cJSON_AddItemToArray(choices, ch);
        cJSON_AddNumberToObject(ch, "index", 0);
        m = cJSON_AddObjectToObject(ch, "message");
        cJSON_AddStringToObject(m, "role", "assistant");
        cJSON_AddStringToObject(m, "content", text);
        cJSON_AddStringToObject(ch, "finish_reason", "stop");
        usage = cJSON_AddObjectToObject(o, "usage");
        cJSON_AddNumberToObject(usage, "prompt_tokens", (double)u->prompt_tokens);
        cJSON_AddNumberToObject(usage, "completion_tokens", (double)u->completion_tokens);
        cJSON_AddNumberToObject(usage, "total_tokens", (double)(u->prompt_tokens + u->completion_tokens));
        res = cJSON_PrintUnformatted(o);
        if (res == NULL)
            goto out;
        rlen = strlen(res);
    } else {
        cJSON *d = cJSON_CreateObject();
        size_t off = 0;
        cJSON_AddStringToObject(d, "role", "assistant");
        cJSON_AddStringToObject(d, "content", "");
        if (!emit(&res, &rlen, &rcap, chunk(cid, now_s, model_id, d, NULL)))
            goto out;
        /* Word-sized pieces, so clients see a real stream. */
        while (off < tlen) {
            size_t end = off + 1;
            char piece[512];
            while (end < tlen && text[end] != ' ' && end - off < sizeof(piece) - 8)
                end++;
            /* never split a UTF-8 sequence */
            while (end < tlen && ((unsigned char)text[end] & 0xC0) == 0x80)
                end++;
            if (end - off >= sizeof(piece))
                end = off + sizeof(piece) - 1;
            while (end > off + 1 && end < tlen && ((unsigned char)text[end] & 0xC0) == 0x80)
                end--;
            memcpy(piece, text + off, end - off);
            piece[end - off] = '\0';
            d = cJSON_CreateObject();
            cJSON_AddStringToObject(d, "content", piece);
            if (!emit(&res, &rlen, &rcap, chunk(cid, now_s, model_id, d, NULL)))
                goto out;
            off = end;
        }
        if (!emit(&res, &rlen, &rcap, chunk(cid, now_s, model_id, cJSON_CreateObject(), "stop")))
            goto out;
        if (want_usage) {
            cJSON *c = chunk(cid, now_s, model_id, NULL, NULL);
            usage = cJSON_AddObjectToObject(c, "usage");
            cJSON_AddNumberToObject(usage, "prompt_tokens", (double)u->prompt_tokens);
            cJSON_AddNumberToObject(usage, "completion_tokens", (double)u->completion_tokens);
            cJSON_AddNumberToObject(usage, "total_tokens", (double)(u->prompt_tokens + u->completion_tokens));
            if (!emit(&res, &rlen, &rcap, c))
                goto out;
        }
        if (!append(&res, &rlen, &rcap, "data: [DONE]\n\n", 14))
            goto out;
    }
    *out = res;
    *outlen = rlen;
    res = NULL;
    rc = TG_OK;
out:
    if (rc == TG_ENOMEM)
        tg_err_set(err, TG_ENOMEM, "out of memory");
    free(res);
    free(text);
    cJSON_Delete(o);
    cJSON_Delete(j);
    return rc;
}

const struct tg__prov_ops tg__prov_echo = {
    .kind = TG_ADAPTER_ECHO,
    .name = "echo",
    .local = true,
    .local_chat = tg_prov_echo,
    .local_embed = tg_prov_echo_embed,
};
