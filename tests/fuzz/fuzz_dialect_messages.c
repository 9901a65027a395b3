/*
 * fuzz_dialect_messages.c — the Anthropic Messages dialect on arbitrary
 * bytes: decoded as a Messages and as a count_tokens body, encoded as a
 * chat.completion answer, and translated as a canonical stream fed whole
 * and split at a fuzzer-chosen point.  Invariants: no crash or leak; a
 * decoded body is a chat request the engine accepts (or one past its parts
 * cap); decode_tree agrees with decode and the engine with itself on its
 * tree (canon_tree.h); an encoded answer is JSON; the stream output is the
 * same whatever the split and is a sequence of complete
 * "event: X\ndata: {type: X}\n\n" events.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "adapters/dialects/dialect.h"
#include "engine/request.h"
#include "tests/fuzz/canon_tree.h"

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
check_decode(enum tg_dialect_id id, const char *in, size_t size)
{
    const struct tg_dialect_ops *ops = tg_dialect_get(id);
    struct tg_dialect_ctx ctx = { .id = id, .answer_id = "f" };
    struct tg_arena a;
    struct tg_err err = { 0 };
    struct tg_request r;
    char *canon = NULL;
    size_t clen = 0;

    tg_arena_init(&a, 0);
    if (ops->decode(in, size, &a, &ctx, &canon, &clen, &err) == TG_OK) {
        int rc;
        if (canon == NULL || strlen(canon) != clen || ctx.client_model == NULL)
            abort();
        rc = tg_request_parse(canon, clen, &a, &r, &err);
        if (rc != TG_OK && rc != TG_ELIMIT)
            abort();
        if (rc == TG_OK)
            tg_request_dispose(&r);
    } else if (canon != NULL) {
        abort();
    }
    tg_arena_free(&a);
}

/* Complete events, each data a JSON object whose type names the event. */
static void
check_events(const struct acc *out)
{
    size_t i = 0;
    while (i < out->len) {
        const char *p = out->buf + i, *nl, *end;
        cJSON *j;
        const cJSON *t;
        if (out->len - i < 7 || memcmp(p, "event: ", 7) != 0)
            abort();
        nl = memchr(p, '\n', out->len - i);
        end = memmem(p, out->len - i, "\n\n", 2);
        if (nl == NULL || end == NULL || nl >= end || memcmp(nl + 1, "data: ", 6) != 0)
            abort();
        j = cJSON_ParseWithLength(nl + 7, (size_t)(end - nl - 7));
        t = cJSON_GetObjectItemCaseSensitive(j, "type");
        if (!cJSON_IsString(t) || strlen(t->valuestring) != (size_t)(nl - p - 7) ||
            memcmp(t->valuestring, p + 7, (size_t)(nl - p - 7)) != 0)
            abort();
        cJSON_Delete(j);
        i = (size_t)(end - out->buf) + 2;
    }
}

static int
translate(const char *in, size_t size, size_t cut, struct acc *out)
{
    const struct tg_dialect_ops *ops = tg_dialect_get(TG_DIALECT_MESSAGES);
    struct tg_dialect_ctx ctx = { .id = TG_DIALECT_MESSAGES, .answer_id = "f", .client_model = "m" };
    struct tg_dialect_stream *s = NULL;
    int rc;

    if (ops->stream_new(&ctx, on_emit, out, &s) != TG_OK)
        abort();
    rc = ops->stream_feed(s, in, cut);
    if (rc == 0)
        rc = ops->stream_feed(s, in + cut, size - cut);
    if (ops->stream_end(s, rc == 0) != 0)
        abort();
    ops->stream_free(s);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct acc whole = { 0 }, split = { 0 };
    size_t cut = size ? (size_t)data[0] % (size + 1) : 0;
    int r1, r2;

    check_decode(TG_DIALECT_MESSAGES, in, size);
    canon_tree_check(TG_DIALECT_MESSAGES, in, size);
    check_decode(TG_DIALECT_COUNT_TOKENS, in, size);

    {
        struct tg_dialect_ctx ctx = { .answer_id = "f", .client_model = "m" };
        struct tg_err err = { 0 };
        char *out = NULL;
        size_t n = 0;
        if (tg_dialect_get(TG_DIALECT_MESSAGES)->encode_answer(&ctx, in, size, &out, &n, &err) == TG_OK) {
            cJSON *j = cJSON_ParseWithLength(out, n);
            if (!cJSON_IsObject(j))
                abort();
            cJSON_Delete(j);
            free(out);
        }
    }

    r1 = translate(in, size, size, &whole);
    r2 = translate(in, size, cut, &split);
    if (r1 != r2 || whole.len != split.len ||
        (whole.len != 0 && memcmp(whole.buf, split.buf, whole.len) != 0))
        abort();
    check_events(&whole);
    free(whole.buf);
    free(split.buf);
    return 0;
}
