/*
 * fuzz_sse.c — the upstream stream relay: SSE parsing at arbitrary split
 * points, then the OpenAI relay and the Anthropic -> chat.completion.chunk
 * translation over the same bytes.  Invariants: no crash/leak, the parser
 * gives the same events whatever the split, and everything relayed to the
 * client is a sequence of complete "data: ...\n\n" events.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/providers/provider.h"
#include "adapters/providers/sse.h"

struct acc {
    char  *buf;
    size_t len, cap;
};

static void
acc_add(struct acc *a, const char *s, size_t n)
{
    if (a->len + n + 1 > a->cap) {
        size_t nc = (a->len + n + 1) * 2;
        char *nb = realloc(a->buf, nc);
        if (nb == NULL)
            abort();
        a->buf = nb;
        a->cap = nc;
    }
    memcpy(a->buf + a->len, s, n);
    a->len += n;
    a->buf[a->len] = '\0';
}

static int
on_event(void *ud, const char *event, const char *data, size_t len)
{
    struct acc *a = ud;
    /* data may hold NULs from the input: compare bytes, not strings */
    acc_add(a, event, strlen(event));
    acc_add(a, "\x01", 1);
    acc_add(a, data, len);
    acc_add(a, "\x02", 1);
    return 0;
}

static int
on_emit(void *ud, const char *b, size_t n)
{
    acc_add(ud, b, n);
    return 0;
}

static void
check_relay(const struct acc *out)
{
    /* Every relayed event starts with "data: " and ends with a blank line. */
    size_t i = 0;
    while (i < out->len) {
        const char *end;
        if (out->len - i < 8 || memcmp(out->buf + i, "data: ", 6) != 0)
            abort();
        end = memmem(out->buf + i, out->len - i, "\n\n", 2);
        if (end == NULL)
            abort();
        i = (size_t)(end - out->buf) + 2;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    struct acc whole = { 0 }, split = { 0 }, out = { 0 };
    struct tg_sse p;
    size_t cut = size ? (size_t)data[0] % (size + 1) : 0;
    int r1, r2 = 0;

    tg_sse_init(&p, 4096);
    r1 = tg_sse_feed(&p, in, size, on_event, &whole);
    tg_sse_free(&p);

    tg_sse_init(&p, 4096);
    r2 = tg_sse_feed(&p, in, cut, on_event, &split);
    if (r2 == 0)
        r2 = tg_sse_feed(&p, in + cut, size - cut, on_event, &split);
    tg_sse_free(&p);
    if (r1 == 0 && r2 == 0 &&
        (whole.len != split.len || (whole.len != 0 && memcmp(whole.buf, split.buf, whole.len) != 0)))
        abort();

    for (int k = 0; k < 2; k++) {
        struct tg_prov_stream s;
        out.len = 0;
        tg_prov_stream_init(&s, k ? TG_ADAPTER_ANTHROPIC : TG_ADAPTER_OPENAI, size != 0 && (data[0] & 1) != 0,
                            "model", 0, on_emit, &out);
        (void)tg_prov_stream_feed(&s, in, cut);
        (void)tg_prov_stream_feed(&s, in + cut, size - cut);
        tg_prov_stream_free(&s);
        check_relay(&out);
    }
    free(whole.buf);
    free(split.buf);
    free(out.buf);
    return 0;
}
