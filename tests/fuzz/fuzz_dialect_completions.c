/*
 * fuzz_dialect_completions.c — the legacy Completions dialect.  The first
 * byte picks the mode (and, high bit, a stream's ending), the second a
 * split point as a fraction of the rest, which is the input:
 *   mode 0: a client body to decode.  Invariant: on success the canonical
 *           body is JSON holding exactly one user message, and the engine
 *           either accepts it or refuses it (no crash).
 *   mode 1: canonical SSE bytes to translate, fed whole and split at a
 *           fuzzer-chosen point, then ended ok or broken.  Invariants: the
 *           same output either way; the output is complete `data: ...\n\n`
 *           events, each JSON or [DONE].
 *   mode 2: a canonical answer to encode.  Invariant: on success the
 *           output is a text_completion object.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "adapters/dialects/dialect.h"
#include "engine/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct acc {
    char  *buf;
    size_t len, cap;
};

static int
on_emit(void *ud, const char *b, size_t n)
{
    struct acc *a = ud;
    if (a->len + n + 1 > a->cap) {
        size_t nc = (a->len + n + 1) * 2;
        char *nb = realloc(a->buf, nc);
        if (nb == NULL)
            abort();
        a->buf = nb;
        a->cap = nc;
    }
    memcpy(a->buf + a->len, b, n);
    a->len += n;
    a->buf[a->len] = '\0';
    return 0;
}

static void
check_events(const struct acc *out)
{
    size_t i = 0;
    while (i < out->len) {
        const char *end;
        if (out->len - i < 8 || memcmp(out->buf + i, "data: ", 6) != 0)
            abort();
        end = memmem(out->buf + i, out->len - i, "\n\n", 2);
        if (end == NULL)
            abort();
        size_t dl = (size_t)(end - (out->buf + i + 6));
        if (!(dl == 6 && memcmp(out->buf + i + 6, "[DONE]", 6) == 0)) {
            cJSON *j = cJSON_ParseWithLength(out->buf + i + 6, dl);
            if (!cJSON_IsObject(j))
                abort();
            cJSON_Delete(j);
        }
        i = (size_t)(end - out->buf) + 2;
    }
}

static const struct tg_dialect_ops *ops;

static void
run_stream(const struct tg_dialect_ctx *ctx, const char *in, size_t n, size_t cut, bool ok,
           struct acc *out)
{
    struct tg_dialect_stream *s = NULL;
    if (ops->stream_new(ctx, on_emit, out, &s) != TG_OK)
        abort();
    int rc = ops->stream_feed(s, in, cut);
    if (rc == TG_OK)
        rc = ops->stream_feed(s, in + cut, n - cut);
    if (rc == TG_OK)
        (void)ops->stream_end(s, ok);
    ops->stream_free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_dialect_ctx ctx = { .id = TG_DIALECT_COMPLETIONS, .answer_id = "fz", .now_s = 1 };
    struct tg_arena a;
    struct tg_err err;
    const char *in;
    size_t n;

    if (size < 2)
        return 0;
    ops = tg_dialect_get(TG_DIALECT_COMPLETIONS);
    in = (const char *)data + 2;
    n = size - 2;
    tg_arena_init(&a, 0);
    switch (data[0] % 3) {
    case 0: {
        char *canon = NULL;
        size_t cn = 0;
        struct tg_request r;
        if (ops->decode(in, n, &a, &ctx, &canon, &cn, &err) != TG_OK)
            break;
        cJSON *j = cJSON_ParseWithLength(canon, cn);
        const cJSON *msgs = cJSON_GetObjectItemCaseSensitive(j, "messages");
        const cJSON *m = cJSON_GetArrayItem(msgs, 0);
        if (cJSON_GetArraySize(msgs) != 1 ||
            strcmp(cJSON_GetObjectItemCaseSensitive(m, "role")->valuestring, "user") != 0 ||
            !cJSON_IsString(cJSON_GetObjectItemCaseSensitive(m, "content")))
            abort();
        cJSON_Delete(j);
        if (tg_request_parse(canon, cn, &a, &r, &err) == TG_OK && r.nmessages != 1)
            abort();
        break;
    }
    case 1: {
        struct acc whole = { 0 }, split = { 0 };
        size_t cut = n * data[1] / 255;
        bool ok = (data[0] & 0x80) != 0;
        ctx.client_model = "m";
        run_stream(&ctx, in, n, n, ok, &whole);
        run_stream(&ctx, in, n, cut, ok, &split);
        if (whole.len != split.len || (whole.len && memcmp(whole.buf, split.buf, whole.len) != 0))
            abort();
        check_events(&whole);
        free(whole.buf);
        free(split.buf);
        break;
    }
    default: {
        char *out = NULL;
        size_t on = 0;
        if (ops->encode_answer(&ctx, in, n, &out, &on, &err) != TG_OK)
            break;
        cJSON *j = cJSON_ParseWithLength(out, on);
        const cJSON *o = cJSON_GetObjectItemCaseSensitive(j, "object");
        if (!cJSON_IsString(o) || strcmp(o->valuestring, "text_completion") != 0)
            abort();
        cJSON_Delete(j);
        free(out);
        break;
    }
    }
    tg_arena_free(&a);
    return 0;
}
