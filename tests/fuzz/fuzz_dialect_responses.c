/*
 * fuzz_dialect_responses.c — the Responses dialect on arbitrary bytes:
 * decode them as a request body, encode them as a chat.completion answer,
 * and translate them as a canonical stream, whole and split at a point
 * the input chooses.  Invariants: no crash or leak; a decoded body is
 * JSON; decode_tree agrees with decode and the engine with itself on its
 * tree (canon_tree.h); an encoded answer is JSON; the stream gives the
 * same events whatever the split, and every event is
 * "event: NAME\ndata: JSON\n\n".
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "adapters/dialects/dialect.h"
#include "engine/arena.h"
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
check_events(const struct acc *out)
{
    size_t i = 0;
    while (i < out->len) {
        const char *nl, *end;
        cJSON *j;
        if (out->len - i < 7 || memcmp(out->buf + i, "event: ", 7) != 0)
            abort();
        nl = memchr(out->buf + i, '\n', out->len - i);
        if (nl == NULL || (size_t)(out->buf + out->len - nl) < 7 || memcmp(nl + 1, "data: ", 6) != 0)
            abort();
        end = memmem(nl + 1, (size_t)(out->buf + out->len - (nl + 1)), "\n\n", 2);
        if (end == NULL)
            abort();
        j = cJSON_ParseWithLength(nl + 7, (size_t)(end - (nl + 7)));
        if (!cJSON_IsObject(j))
            abort();
        cJSON_Delete(j);
        i = (size_t)(end - out->buf) + 2;
    }
}

static void
translate(const struct tg_dialect_ops *o, const struct tg_dialect_ctx *ctx, const char *in,
          size_t size, size_t cut, bool ok, struct acc *out)
{
    struct tg_dialect_stream *s = NULL;
    int rc;

    out->len = 0;
    if (o->stream_new(ctx, on_emit, out, &s) != 0)
        abort();
    rc = o->stream_feed(s, in, cut);
    if (rc == 0)
        (void)o->stream_feed(s, in + cut, size - cut);
    (void)o->stream_end(s, ok);
    o->stream_free(s);
    check_events(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const struct tg_dialect_ops *o = tg_dialect_get(TG_DIALECT_RESPONSES);
    const char *in = (const char *)data;
    struct tg_dialect_ctx ctx = { .id = TG_DIALECT_RESPONSES, .answer_id = "fz", .now_s = 1 };
    struct tg_arena a;
    struct tg_err err;
    struct acc whole = { 0 }, split = { 0 };
    char *canon = NULL, *ans = NULL;
    size_t canon_len = 0, ans_len = 0;
    size_t cut = size ? (size_t)data[size - 1] * 131u % (size + 1) : 0;
    bool ok = size != 0 && (data[0] & 1) != 0;

    tg_arena_init(&a, 0);
    if (o->decode(in, size, &a, &ctx, &canon, &canon_len, &err) == 0) {
        cJSON *j = cJSON_ParseWithLength(canon, canon_len);
        if (!cJSON_IsObject(j) || strlen(canon) != canon_len)
            abort();
        cJSON_Delete(j);
    }
    canon_tree_check(TG_DIALECT_RESPONSES, in, size);
    /* the same bytes as an answer, with whatever the decode learned */
    if (o->encode_answer(&ctx, in, size, &ans, &ans_len, &err) == 0) {
        cJSON *j = cJSON_ParseWithLength(ans, ans_len);
        if (!cJSON_IsObject(j))
            abort();
        cJSON_Delete(j);
        free(ans);
    }
    translate(o, &ctx, in, size, size, ok, &whole);
    translate(o, &ctx, in, size, cut, ok, &split);
    if (whole.len != split.len || (whole.len && memcmp(whole.buf, split.buf, whole.len) != 0))
        abort();
    free(whole.buf);
    free(split.buf);
    tg_arena_free(&a);
    return 0;
}
