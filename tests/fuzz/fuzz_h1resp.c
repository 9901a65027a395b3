/*
 * fuzz_h1resp.c — the upstream HTTP/1.1 response parser (upstream.h).
 * Invariants: no crash or over-read; the outcome (rc, status, body bytes,
 * bytes consumed) is the same whether the input arrives whole, byte by
 * byte, or split at a point chosen by the input; a DONE message never
 * delivers more body than was fed; the status is 2xx-5xx when reported.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/http/upstream.h"

struct out {
    int    heads;
    int    status;
    size_t body;
    uint32_t sum;    /* a cheap digest of the body bytes, in order */
};

static int
on_head(void *ud, int status, const char *ra)
{
    struct out *o = ud;
    if (status < 200 || status > 599)
        abort();
    if (ra != NULL && strlen(ra) >= 64)
        abort();
    o->heads++;
    o->status = status;
    return 0;
}

static int
on_body(void *ud, const char *p, size_t n)
{
    struct out *o = ud;
    for (size_t i = 0; i < n; i++)
        o->sum = o->sum * 31u + (unsigned char)p[i];
    o->body += n;
    return 0;
}

static const struct tg_h1r_cbs cbs = { on_head, on_body };

/* Feed data in pieces of `step` bytes (0 = whole); returns rc, *consumed. */
static int
run(const uint8_t *data, size_t size, size_t step, struct out *o, size_t *consumed)
{
    static struct tg_h1r p;
    size_t off = 0;
    int rc = TG_H1R_MORE;

    memset(o, 0, sizeof(*o));
    tg_h1r_init(&p);
    while (off < size) {
        size_t n = step == 0 || size - off < step ? size - off : step, used = 0;
        rc = tg_h1r_feed(&p, (const char *)data + off, n, &used, &cbs, o);
        if (used > n)
            abort();
        off += used;
        if (rc != TG_H1R_MORE)
            break;
        if (used != n)
            abort();   /* MORE consumes everything */
    }
    if (rc == TG_H1R_MORE)
        rc = tg_h1r_eof(&p) == TG_H1R_DONE ? 2 : 3;   /* ended by close / truncated */
    *consumed = off;
    if (o->body > size)
        abort();
    return rc;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct out a, b, c;
    size_t ua, ub, uc;
    int ra, rb, rc;
    size_t split;

    if (size > 1 << 16)
        return 0;
    ra = run(data, size, 0, &a, &ua);
    rb = run(data, size, 1, &b, &ub);
    split = size ? (size_t)data[0] % size + 1 : 1;
    rc = run(data, size, split, &c, &uc);
    if (ra != rb || ra != rc)
        abort();
    /* Where an error is noticed may depend on the split; where a message
     * ends may not. */
    if (ra != TG_H1R_ERROR && (ua != ub || ua != uc))
        abort();
    if (a.heads != b.heads || a.heads != c.heads || a.heads > 1)
        abort();
    if (a.status != b.status || a.status != c.status)
        abort();
    if (a.body != b.body || a.body != c.body || a.sum != b.sum || a.sum != c.sum)
        abort();
    return 0;
}
