/*
 * fuzz_hdrguard.c — the HTTP framing guard (adapters/http/hdrguard.h) on
 * arbitrary bytes.  Invariants: no crash, no leak; what reaches evhttp does
 * not depend on how the bytes were split into reads (the first input byte
 * picks the piece size); and every request the guard passes on is framed
 * canonically: a request line, CRLF-ended header lines with neither
 * Transfer-Encoding nor two Content-Length, then exactly Content-Length
 * body bytes (a refusal is such a request too, ending the output).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "adapters/http/hdrguard.h"

static struct evbuffer *
run(const uint8_t *d, size_t n, size_t step)
{
    struct tg_hg g;
    struct evbuffer *src = evbuffer_new(), *dst = evbuffer_new();

    tg_hg_init(&g);
    for (size_t i = 0; i < n; i += step) {
        evbuffer_add(src, d + i, n - i < step ? n - i : step);
        if (tg_hg_filter(src, dst, -1, BEV_NORMAL, &g) == BEV_ERROR)
            abort();
    }
    tg_hg_free(&g);
    evbuffer_free(src);
    return dst;
}

/* Walk the guard's output as evhttp would; abort on anything not canonical. */
static void
check_canonical(const char *o, size_t n)
{
    size_t i = 0;

    while (i < n) {
        size_t cl = 0, ncl = 0;
        bool first = true;
        for (;;) {
            const char *e = memchr(o + i, '\n', n - i);
            size_t k;
            if (e == NULL)
                return;   /* a header block still being passed on: fine */
            k = (size_t)(e - (o + i));
            if (k == 0 || o[i + k - 1] != '\r')
                abort();  /* only CRLF line ends */
            if (k == 1) {
                i += 2;
                break;
            }
            if (!first && k > 18 && strncasecmp(o + i, "transfer-encoding:", 18) == 0)
                abort();
            if (!first && k > 15 && strncasecmp(o + i, "content-length:", 15) == 0) {
                ncl++;
                cl = strtoull(o + i + 15, NULL, 10);
            }
            first = false;
            i += k + 1;
        }
        if (ncl > 1)
            abort();
        if (cl > n - i)
            return;       /* a body still arriving */
        i += cl;
    }
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct evbuffer *a, *b;
    size_t na, nb, step;

    if (size == 0)
        return 0;
    step = (size_t)data[0] % 17 + 1;
    a = run(data + 1, size - 1, size);
    b = run(data + 1, size - 1, step);
    na = evbuffer_get_length(a);
    nb = evbuffer_get_length(b);
    {
        const char *pa = na ? (const char *)evbuffer_pullup(a, -1) : "";
        const char *pb = nb ? (const char *)evbuffer_pullup(b, -1) : "";
        if (na != nb || memcmp(pa, pb, na) != 0)
            abort();
        check_canonical(pa, na);
    }
    evbuffer_free(a);
    evbuffer_free(b);
    return 0;
}
