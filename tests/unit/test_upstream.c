/* test_upstream.c — the in-loop plain-HTTP/1.1 upstream client
 * (adapters/http/upstream.h): the pure response parser, table-driven and
 * fed whole, byte by byte and split at every point; then the client on a
 * real event_base against a scripted blocking server on 127.0.0.1 running
 * in a thread of the test. */
#include <criterion/criterion.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "adapters/http/upstream.h"

/* ======================================================================== */
/* parser                                                                   */
/* ======================================================================== */

struct pout {
    int    heads;
    int    status;
    bool   has_ra;
    char   ra[128];
    char   body[4096];
    size_t blen;        /* bytes kept in body */
    size_t btotal;      /* all body bytes delivered */
    int    nbody;       /* on_body calls */
    bool   abort_body;  /* on_body returns non-zero */
};

static int
p_on_head(void *ud, int status, const char *ra)
{
    struct pout *o = ud;
    o->heads++;
    o->status = status;
    o->has_ra = ra != NULL;
    if (ra != NULL)
        snprintf(o->ra, sizeof(o->ra), "%s", ra);
    return 0;
}

static int
p_on_body(void *ud, const char *p, size_t n)
{
    struct pout *o = ud;
    cr_assert_gt(n, 0, "on_body with 0 bytes");
    for (size_t i = 0; i < n && o->blen < sizeof(o->body) - 1; i++)
        o->body[o->blen++] = p[i];
    o->body[o->blen] = '\0';
    o->btotal += n;
    o->nbody++;
    return o->abort_body ? 1 : 0;
}

static const struct tg_h1r_cbs pcbs = { p_on_head, p_on_body };

enum want {
    W_DONE,       /* feed returns DONE */
    W_ERROR,      /* feed returns ERROR */
    W_ABORT,      /* feed returns ABORT */
    W_EOF_DONE,   /* feed says MORE for everything, then eof -> DONE */
    W_EOF_ERROR,  /* feed says MORE for everything, then eof -> ERROR */
};

struct pcase {
    const char *name;
    const char *in;
    enum want   want;
    int         status;     /* 0: don't care */
    const char *body;       /* NULL: don't care */
    const char *ra;         /* NULL: no Retry-After reported */
    int         close;      /* -1: don't care */
    size_t      extra;      /* W_DONE: bytes after the message left unconsumed */
    int         heads;      /* -1: don't care */
    bool        abort_body;
};

struct presult {
    int    rc;
    int    eof_rc;      /* when rc == MORE */
    size_t used;
    bool   close;
    struct pout o;
};

/* Feed `in`: a first piece of `first` bytes (0: none), then pieces of
 * `step` bytes (0: the rest at once). */
static void
drive(const char *in, size_t len, size_t first, size_t step, bool abort_body, struct presult *r)
{
    static struct tg_h1r p;
    size_t off = 0;
    int rc = TG_H1R_MORE;

    memset(r, 0, sizeof(*r));
    r->o.abort_body = abort_body;
    tg_h1r_init(&p);
    cr_assert(tg_h1r_pristine(&p));
    while (off < len) {
        size_t n = off == 0 && first ? first : step ? step : len - off;
        size_t used = (size_t)-1;
        if (n > len - off)
            n = len - off;
        rc = tg_h1r_feed(&p, in + off, n, &used, &pcbs, &r->o);
        cr_assert_leq(used, n, "used %zu of %zu", used, n);
        cr_assert_not(tg_h1r_pristine(&p));
        off += used;
        if (rc != TG_H1R_MORE)
            break;
        cr_assert_eq(used, n, "MORE consumes everything");
    }
    r->rc = rc;
    r->used = off;
    r->eof_rc = rc == TG_H1R_MORE ? tg_h1r_eof(&p) : 99;
    r->close = p.close;
}

static void
check_one(const struct pcase *c, const char *in, size_t len, size_t first, size_t step)
{
    struct presult r;
    char how[64];

    snprintf(how, sizeof(how), "first=%zu step=%zu", first, step);
    drive(in, len, first, step, c->abort_body, &r);
    switch (c->want) {
    case W_DONE:
        cr_assert_eq(r.rc, TG_H1R_DONE, "%s (%s): rc %d", c->name, how, r.rc);
        cr_assert_eq(r.used, len - c->extra, "%s (%s): used %zu of %zu", c->name, how, r.used, len);
        break;
    case W_ERROR:
        cr_assert_eq(r.rc, TG_H1R_ERROR, "%s (%s): rc %d", c->name, how, r.rc);
        break;
    case W_ABORT:
        cr_assert_eq(r.rc, TG_H1R_ABORT, "%s (%s): rc %d", c->name, how, r.rc);
        cr_assert_eq(r.o.nbody, 1, "%s: no on_body after the abort", c->name);
        break;
    case W_EOF_DONE:
    case W_EOF_ERROR:
        cr_assert_eq(r.rc, TG_H1R_MORE, "%s (%s): rc %d", c->name, how, r.rc);
        cr_assert_eq(r.used, len);
        cr_assert_eq(r.eof_rc, c->want == W_EOF_DONE ? TG_H1R_DONE : TG_H1R_ERROR,
                     "%s (%s): eof rc %d", c->name, how, r.eof_rc);
        break;
    }
    if (c->heads >= 0)
        cr_assert_eq(r.o.heads, c->heads, "%s (%s): %d heads", c->name, how, r.o.heads);
    if (c->status)
        cr_assert_eq(r.o.status, c->status, "%s (%s): status %d", c->name, how, r.o.status);
    if (c->body)
        cr_assert_str_eq(r.o.body, c->body, "%s (%s)", c->name, how);
    if (c->want == W_DONE || c->want == W_EOF_DONE || c->ra != NULL) {
        cr_assert_eq(r.o.has_ra, c->ra != NULL, "%s (%s): retry-after presence", c->name, how);
        if (c->ra)
            cr_assert_str_eq(r.o.ra, c->ra, "%s (%s)", c->name, how);
    }
    if (c->close >= 0)
        cr_assert_eq(r.close, c->close == 1, "%s (%s): close %d", c->name, how, r.close);
}

/* Whole, byte by byte, and (for small inputs) split in two at every point. */
static void
check_case(const struct pcase *c, const char *in, size_t len)
{
    check_one(c, in, len, 0, 0);
    check_one(c, in, len, 0, 1);
    check_one(c, in, len, 0, 7);
    if (len <= 4096)
        for (size_t cut = 1; cut < len; cut++)
            check_one(c, in, len, cut, 0);
}

#define OK200 "HTTP/1.1 200 OK\r\n"

static const struct pcase cases[] = {
    { "content-length", OK200 "Content-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello",
      W_DONE, 200, "hello", NULL, 0, 0, 1, false },
    { "content-length, next message left", OK200 "Content-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\n",
      W_DONE, 200, "hello", NULL, 0, 17, 1, false },
    { "content-length 0", OK200 "content-length:0\r\n\r\n", W_DONE, 200, "", NULL, 0, 0, 1, false },
    { "same content-length twice", OK200 "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
      W_DONE, 200, "abc", NULL, 0, 0, 1, false },
    { "header case and OWS", "HTTP/1.1 201 Created\r\ncOnTeNt-LeNgTh: \t2 \t\r\nX-Empty:\r\n\r\nok",
      W_DONE, 201, "ok", NULL, 0, 0, 1, false },
    { "no reason phrase", "HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx", W_DONE, 200, "x", NULL, 0, 0, 1, false },
    { "chunked, extensions, trailers",
      OK200 "Transfer-Encoding: chunked\r\n\r\n"
            "5;ext=1\r\nhello\r\n6 ; a=\"b\"\r\n world\r\nA\r\n0123456789\r\n"
            "0;last\r\nX-Trailer: y\r\nX-Other: z\r\n\r\n",
      W_DONE, 200, "hello world0123456789", NULL, 0, 0, 1, false },
    { "chunked, upper-case hex, no trailers, next message left",
      OK200 "transfer-encoding: Chunked\r\n\r\n1F\r\n0123456789012345678901234567890\r\n0\r\n\r\nNEXT",
      W_DONE, 200, "0123456789012345678901234567890", NULL, 0, 4, 1, false },
    { "read until close, HTTP/1.0", "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of it\r\n\r\nand more",
      W_EOF_DONE, 200, "all of it\r\n\r\nand more", NULL, 1, 0, 1, false },
    { "read until close, HTTP/1.1 without length", OK200 "Content-Type: text/plain\r\n\r\nabc",
      W_EOF_DONE, 200, "abc", NULL, 1, 0, 1, false },
    { "read until close, empty body", OK200 "\r\n", W_EOF_DONE, 200, "", NULL, 1, 0, 1, false },
    { "100 Continue then final",
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
      W_DONE, 200, "ok", NULL, 0, 0, 1, false },
    { "interim Connection: close does not stick",
      "HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n" OK200 "Content-Length: 0\r\n\r\n",
      W_DONE, 200, "", NULL, 0, 0, 1, false },
    { "204 has no body", "HTTP/1.1 204 No Content\r\n\r\n", W_DONE, 204, "", NULL, 0, 0, 1, false },
    { "204 ignores Content-Length, rest left",
      "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello", W_DONE, 204, "", NULL, 0, 5, 1, false },
    { "304 has no body", "HTTP/1.1 304 Not Modified\r\n\r\n", W_DONE, 304, "", NULL, 0, 0, 1, false },
    { "Retry-After to on_head",
      "HTTP/1.1 429 Too Many Requests\r\nRetry-After:  120 \r\nContent-Length: 0\r\n\r\n",
      W_DONE, 429, "", "120", 0, 0, 1, false },
    { "Retry-After date, 503",
      "HTTP/1.1 503 Unavailable\r\nretry-after: Wed, 21 Oct 2015 07:28:00 GMT\r\nContent-Length: 1\r\n\r\nx",
      W_DONE, 503, "x", "Wed, 21 Oct 2015 07:28:00 GMT", 0, 0, 1, false },
    { "Retry-After on a 1xx is not kept",
      "HTTP/1.1 100 Continue\r\nRetry-After: 5\r\n\r\n" OK200 "Content-Length: 0\r\n\r\n",
      W_DONE, 200, "", NULL, 0, 0, 1, false },
    { "Connection: close", OK200 "Connection: close\r\nContent-Length: 2\r\n\r\nok",
      W_DONE, 200, "ok", NULL, 1, 0, 1, false },
    { "Connection: token list with close", OK200 "Connection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n",
      W_DONE, 200, "", NULL, 1, 0, 1, false },
    { "Connection: closed is not close", OK200 "Connection: closed\r\nContent-Length: 0\r\n\r\n",
      W_DONE, 200, "", NULL, 0, 0, 1, false },
    { "HTTP/1.0 with length closes", "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
      W_DONE, 200, "ok", NULL, 1, 0, 1, false },
    { "HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
      W_DONE, 200, "ok", NULL, 0, 0, 1, false },

    /* errors */
    { "duplicate different Content-Length", OK200 "Content-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
      W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "Content-Length list", OK200 "Content-Length: 3, 3\r\n\r\nabc", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "Content-Length sign", OK200 "Content-Length: +3\r\n\r\nabc", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "Content-Length empty", OK200 "Content-Length:\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "Content-Length huge", OK200 "Content-Length: 1234567890123456789\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "Transfer-Encoding + Content-Length",
      OK200 "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "Content-Length + Transfer-Encoding",
      OK200 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "Transfer-Encoding gzip", OK200 "Transfer-Encoding: gzip\r\n\r\nxx", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "Transfer-Encoding gzip, chunked", OK200 "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "Transfer-Encoding chunked twice",
      OK200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "bare LF everywhere", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "bare LF after a header", OK200 "Content-Length: 2\n\r\nok", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "bare LF in chunk framing", OK200 "Transfer-Encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 1, false },
    { "bare LF after chunk data", OK200 "Transfer-Encoding: chunked\r\n\r\n2\r\nok\n0\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 1, false },
    { "chunk data longer than its size", OK200 "Transfer-Encoding: chunked\r\n\r\n2\r\nokX\r\n0\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 1, false },
    { "bad chunk size", OK200 "Transfer-Encoding: chunked\r\n\r\nzz\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 1, false },
    { "chunk size too big", OK200 "Transfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 1, false },
    { "CR inside a line", OK200 "X-A: a\rb\r\nContent-Length: 0\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "obs-fold header", OK200 "X-Long: a\r\n  continued\r\nContent-Length: 0\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "obs-fold with tab", OK200 "X-Long: a\r\n\tcontinued\r\nContent-Length: 0\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "space before colon", OK200 "Content-Length : 0\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "header without colon", OK200 "Nonsense\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "NUL in a header value", OK200 "X-A: a\0b\r\nContent-Length: 0\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "status line HTTP/2", "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "status line HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "status line two digits", "HTTP/1.1 20 OK\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "status line four digits", "HTTP/1.1 2000 OK\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "status 600", "HTTP/1.1 600 Odd\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "status 099", "HTTP/1.1 099 Odd\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "not HTTP", "ICY 200 OK\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "lower-case http", "http/1.1 200 OK\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "empty status line", "\r\nHTTP/1.1 200 OK\r\n\r\n", W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "101 Switching Protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
      W_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "truncated Content-Length body", OK200 "Content-Length: 10\r\n\r\nshort",
      W_EOF_ERROR, 200, "short", NULL, -1, 0, 1, false },
    { "truncated chunked body", OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhel",
      W_EOF_ERROR, 200, "hel", NULL, -1, 0, 1, false },
    { "chunked without the last chunk", OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n",
      W_EOF_ERROR, 200, "hello", NULL, -1, 0, 1, false },
    { "chunked without the end of trailers", OK200 "Transfer-Encoding: chunked\r\n\r\n0\r\nX: y\r\n",
      W_EOF_ERROR, 200, "", NULL, -1, 0, 1, false },
    { "truncated head", OK200 "Content-Length: 2\r\n", W_EOF_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "nothing at all", "", W_EOF_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "only a 100 Continue", "HTTP/1.1 100 Continue\r\n\r\n", W_EOF_ERROR, 0, NULL, NULL, -1, 0, 0, false },
    { "on_body stops (length)", OK200 "Content-Length: 5\r\n\r\nhello",
      W_ABORT, 200, NULL, NULL, -1, 0, 1, true },
    { "on_body stops (chunked)", OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
      W_ABORT, 200, NULL, NULL, -1, 0, 1, true },
    { "on_body stops (until close)", "HTTP/1.0 200 OK\r\n\r\nhello",
      W_ABORT, 200, NULL, NULL, -1, 0, 1, true },
};

Test(h1resp, table)
{
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct pcase *c = &cases[i];
        size_t len = strlen(c->in);
        if (strcmp(c->name, "NUL in a header value") == 0)
            len = sizeof(OK200 "X-A: a\0b\r\nContent-Length: 0\r\n\r\n") - 1;
        check_case(c, c->in, len);
    }
}

Test(h1resp, body_bytes_exact_across_splits)
{
    /* A body that looks like HTTP must come through verbatim, whatever the split. */
    const char *in = OK200 "Transfer-Encoding: chunked\r\n\r\n"
                     "13\r\nHTTP/1.1 200 OK\r\n\r\n\r\n3\r\n0\r\n\r\n0\r\n\r\n";
    struct pcase c = { "chunk data that looks like framing", in, W_DONE, 200,
                       "HTTP/1.1 200 OK\r\n\r\n0\r\n", NULL, 0, 0, 1, false };
    check_case(&c, in, strlen(in));
}

Test(h1resp, header_section_over_head_max)
{
    /* Many short headers: each line is fine, the section is too big. */
    size_t cap = TG_H1R_HEAD_MAX + 4096, n = 0;
    char *in = malloc(cap);
    struct pcase c = { "head over TG_H1R_HEAD_MAX", NULL, W_ERROR, 0, NULL, NULL, -1, 0, 0, false };
    struct pcase ok = { "head just under TG_H1R_HEAD_MAX", NULL, W_DONE, 200, "", NULL, 0, 0, 1, false };

    cr_assert_not_null(in);
    n += (size_t)sprintf(in + n, OK200);
    while (n < TG_H1R_HEAD_MAX + 100)
        n += (size_t)sprintf(in + n, "X-Pad: %0900d\r\n", 7);
    n += (size_t)sprintf(in + n, "Content-Length: 0\r\n\r\n");
    c.in = in;
    check_case(&c, in, n);

    /* A head of exactly TG_H1R_HEAD_MAX bytes is still accepted. */
    n = (size_t)sprintf(in, OK200 "Content-Length: 0\r\n");
    while (n + 1000 < TG_H1R_HEAD_MAX)
        n += (size_t)sprintf(in + n, "X-Pad: %0900d\r\n", 7);
    {
        size_t pad = TG_H1R_HEAD_MAX - n - 9;   /* "X-P: " + pad + CRLF, then CRLF */
        n += (size_t)sprintf(in + n, "X-P: %0*d\r\n\r\n", (int)pad, 0);
    }
    cr_assert_eq(n, TG_H1R_HEAD_MAX);
    ok.in = in;
    check_one(&ok, in, n, 0, 0);
    check_one(&ok, in, n, 0, 1);
    free(in);
}

Test(h1resp, line_over_line_max)
{
    size_t cap = TG_H1R_LINE_MAX + 256, n;
    char *in = malloc(cap);
    struct pcase c = { "header line over TG_H1R_LINE_MAX", NULL, W_ERROR, 0, NULL, NULL, -1, 0, 0, false };
    struct pcase ok = { "header line under TG_H1R_LINE_MAX", NULL, W_DONE, 200, "", NULL, 0, 0, 1, false };

    cr_assert_not_null(in);
    n = (size_t)sprintf(in, OK200 "X-Big: %0*d\r\nContent-Length: 0\r\n\r\n", (int)TG_H1R_LINE_MAX, 1);
    c.in = in;
    check_case(&c, in, n);

    /* Status line too long, and a chunk-size line (extensions) too long. */
    n = (size_t)sprintf(in, "HTTP/1.1 200 %0*d\r\n\r\n", (int)TG_H1R_LINE_MAX, 1);
    check_case(&c, in, n);
    n = (size_t)sprintf(in, OK200 "Transfer-Encoding: chunked\r\n\r\n1;x=%0*d\r\na\r\n0\r\n\r\n",
                        (int)TG_H1R_LINE_MAX, 1);
    c.heads = 1;
    check_case(&c, in, n);

    /* The longest line that fits: TG_H1R_LINE_MAX - 1 bytes with its CR. */
    n = (size_t)sprintf(in, OK200 "X-Big: %0*d\r\nContent-Length: 0\r\n\r\n",
                        (int)(TG_H1R_LINE_MAX - 1 - 1 - 7), 1);
    ok.in = in;
    check_one(&ok, in, n, 0, 0);
    check_one(&ok, in, n, 0, 1);

    /* One byte more and it is refused. */
    c.heads = 0;
    n = (size_t)sprintf(in, OK200 "X-Big: %0*d\r\nContent-Length: 0\r\n\r\n",
                        (int)(TG_H1R_LINE_MAX - 1 - 7), 1);
    c.in = in;
    check_one(&c, in, n, 0, 0);
    check_one(&c, in, n, 0, 1);
    free(in);
}

Test(h1resp, long_retry_after_is_truncated_not_overflowed)
{
    char in[512];
    struct presult r;
    int n = snprintf(in, sizeof(in), "HTTP/1.1 429 x\r\nRetry-After: %0200d\r\nContent-Length: 0\r\n\r\n", 5);

    drive(in, (size_t)n, 0, 0, false, &r);
    cr_assert_eq(r.rc, TG_H1R_DONE);
    cr_assert(r.o.has_ra);
    cr_assert_eq(strlen(r.o.ra), 63);
}

Test(h1resp, large_content_length_body_streams)
{
    /* A body bigger than any buffer: delivered in pieces, counted exactly. */
    size_t blen = 200000, hl, n;
    char *in = malloc(blen + 128);
    struct presult r;

    cr_assert_not_null(in);
    hl = (size_t)sprintf(in, OK200 "Content-Length: %zu\r\n\r\n", blen);
    memset(in + hl, 'z', blen);
    n = hl + blen;
    drive(in, n, 0, 0, false, &r);
    cr_assert_eq(r.rc, TG_H1R_DONE);
    cr_assert_eq(r.o.btotal, blen);
    cr_assert_eq(r.o.nbody, 1);
    drive(in, n, 0, 1000, false, &r);
    cr_assert_eq(r.rc, TG_H1R_DONE);
    cr_assert_eq(r.o.btotal, blen);
    drive(in, n - 1, 0, 0, false, &r);
    cr_assert_eq(r.rc, TG_H1R_MORE);
    cr_assert_eq(r.eof_rc, TG_H1R_ERROR);
    free(in);
}

Test(h1resp, reinit_after_done_and_error)
{
    static struct tg_h1r p;
    struct pout o = { 0 };
    size_t used;
    const char *bad = "garbage\r\n";
    const char *good = OK200 "Content-Length: 1\r\n\r\nx";

    tg_h1r_init(&p);
    cr_assert_eq(tg_h1r_feed(&p, bad, strlen(bad), &used, &pcbs, &o), TG_H1R_ERROR);
    /* Stays in error. */
    cr_assert_eq(tg_h1r_feed(&p, good, strlen(good), &used, &pcbs, &o), TG_H1R_ERROR);
    cr_assert_eq(used, 0);
    tg_h1r_init(&p);
    cr_assert(tg_h1r_pristine(&p));
    cr_assert_eq(tg_h1r_feed(&p, good, strlen(good), &used, &pcbs, &o), TG_H1R_DONE);
    cr_assert_eq(used, strlen(good));
    cr_assert_str_eq(o.body, "x");
    /* Done stays done and consumes nothing more. */
    cr_assert_eq(tg_h1r_feed(&p, "more", 4, &used, &pcbs, &o), TG_H1R_DONE);
    cr_assert_eq(used, 0);
    cr_assert_eq(tg_h1r_eof(&p), TG_H1R_DONE);
}

/* ======================================================================== */
/* client                                                                   */
/* ======================================================================== */

#define MAXREQ 8

struct srv;
typedef void (*script_fn)(struct srv *s);

struct srv {
    int         lfd;
    int         port;
    pthread_t   th;
    script_fn   script;
    atomic_int  accepted;
    atomic_int  nreq;
    char       *req[MAXREQ];      /* raw request bytes */
    size_t      reqlen[MAXREQ];
    atomic_int  phase;            /* script progress, for the test thread */
    atomic_int  go;               /* test thread -> script */
    const char *answer;           /* scripted answer for simple scripts */
};

static void
srv_log(const char *what)
{
    fprintf(stderr, "test server: %s (%s)\n", what, strerror(errno));
}

/* accept with a bound, so that a broken client never hangs a test */
static int
srv_accept(struct srv *s, int ms)
{
    struct pollfd pf = { s->lfd, POLLIN, 0 };
    int fd;

    if (poll(&pf, 1, ms) != 1)
        return -1;
    fd = accept(s->lfd, NULL, NULL);
    if (fd >= 0)
        atomic_fetch_add(&s->accepted, 1);
    return fd;
}

static bool
wait_readable(int fd, int ms)
{
    struct pollfd pf = { fd, POLLIN, 0 };
    return poll(&pf, 1, ms) == 1;
}

/* Read one request (head + Content-Length body); false on EOF/timeout. */
static bool
srv_read_req(struct srv *s, int fd)
{
    size_t cap = 4096, len = 0, need = 0;
    char *b = malloc(cap);
    bool head = false;

    while (!head || len < need) {
        ssize_t r;
        if (len == cap) {
            cap *= 2;
            b = realloc(b, cap);
        }
        if (!wait_readable(fd, 5000)) {
            free(b);
            return false;
        }
        r = read(fd, b + len, cap - len);
        if (r <= 0) {
            free(b);
            return false;
        }
        len += (size_t)r;
        if (!head) {
            char *e = memmem(b, len, "\r\n\r\n", 4);
            if (e != NULL) {
                char *cl = memmem(b, (size_t)(e - b), "\r\nContent-Length: ", 18);
                head = true;
                need = (size_t)(e - b) + 4 + (cl ? strtoul(cl + 18, NULL, 10) : 0);
            }
        }
    }
    if (len != need) {
        fprintf(stderr, "test server: %zu bytes past the request\n", len - need);
        free(b);
        return false;
    }
    {
        int i = atomic_load(&s->nreq);
        if (i < MAXREQ) {
            s->req[i] = b;
            s->reqlen[i] = len;
            atomic_store(&s->nreq, i + 1);
        } else {
            free(b);
        }
    }
    return true;
}

static void
srv_send(int fd, const char *p)
{
    size_t n = strlen(p), off = 0;
    while (off < n) {
        ssize_t w = send(fd, p + off, n - off, MSG_NOSIGNAL);
        if (w <= 0) {
            srv_log("send");
            return;
        }
        off += (size_t)w;
    }
}

/* Wait until the client closes (EOF or reset) or `ms` pass. */
static void
srv_wait_eof(int fd, int ms)
{
    char b[256];
    while (wait_readable(fd, ms)) {
        if (read(fd, b, sizeof(b)) <= 0)
            return;
    }
}

static void
wait_go(struct srv *s, int want)
{
    for (int i = 0; i < 5000 && atomic_load(&s->go) < want; i++)
        usleep(1000);
}

static void *
srv_main(void *arg)
{
    struct srv *s = arg;
    s->script(s);
    return NULL;
}

static void
srv_start(struct srv *s, script_fn script)
{
    struct sockaddr_in a = { 0 };
    socklen_t al = sizeof(a);
    int one = 1;

    memset(s, 0, sizeof(*s));
    signal(SIGPIPE, SIG_IGN);
    s->script = script;
    s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(s->lfd, 0);
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(s->lfd, 16), 0);
    cr_assert_eq(getsockname(s->lfd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->th, NULL, srv_main, s), 0);
}

/* Join the script; true when no connection is left waiting in the backlog
 * (i.e. the client opened no connection the script did not accept). */
static bool
srv_join(struct srv *s)
{
    struct pollfd pf = { s->lfd, POLLIN, 0 };
    bool clean;

    pthread_join(s->th, NULL);
    clean = poll(&pf, 1, 0) == 0;
    close(s->lfd);
    return clean;
}

static void
srv_free(struct srv *s)
{
    for (int i = 0; i < MAXREQ; i++)
        free(s->req[i]);
}

/* ---- client side ---- */

struct cli {
    struct event_base *base;
    struct tg_up_pool *pool;
    int    heads, dones, bodies;
    int    status;
    bool   has_ra;
    char   ra[64];
    char  *body;
    size_t blen, bcap;
    enum tg_up_result res;
    int    abort_body_at;      /* non-zero: on_body returns 1 on that call */
    int    calls_after_done;
};

static int
c_on_head(void *ud, int status, const char *ra)
{
    struct cli *c = ud;
    if (c->dones)
        c->calls_after_done++;
    c->heads++;
    c->status = status;
    c->has_ra = ra != NULL;
    if (ra)
        snprintf(c->ra, sizeof(c->ra), "%s", ra);
    return 0;
}

static int
c_on_body(void *ud, const char *p, size_t n)
{
    struct cli *c = ud;
    if (c->dones)
        c->calls_after_done++;
    c->bodies++;
    if (c->blen + n + 1 > c->bcap) {
        c->bcap = (c->blen + n + 1) * 2;
        c->body = realloc(c->body, c->bcap);
    }
    memcpy(c->body + c->blen, p, n);
    c->blen += n;
    c->body[c->blen] = '\0';
    return c->abort_body_at && c->bodies == c->abort_body_at ? 1 : 0;
}

static void
c_on_done(void *ud, enum tg_up_result res)
{
    struct cli *c = ud;
    if (c->dones)
        c->calls_after_done++;
    c->dones++;
    c->res = res;
    event_base_loopbreak(c->base);
}

static const struct tg_up_cbs ccbs = { c_on_head, c_on_body, c_on_done };

static void
cli_init(struct cli *c)
{
    memset(c, 0, sizeof(*c));
    c->base = event_base_new();
    cr_assert_not_null(c->base);
    cr_assert_eq(tg_up_pool_new(c->base, &c->pool), 0);
}

static void
cli_reset(struct cli *c)
{
    c->heads = c->dones = c->bodies = c->status = c->calls_after_done = 0;
    c->has_ra = false;
    c->blen = 0;
    if (c->body)
        c->body[0] = '\0';
    c->res = (enum tg_up_result)-1;
    c->abort_body_at = 0;
}

static void
cli_free(struct cli *c)
{
    tg_up_pool_free(c->pool);
    event_base_free(c->base);
    free(c->body);
}

static void
on_guard(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    event_base_loopbreak(arg);
}

/* Run the loop until on_done or `ms` pass; returns whether on_done ran. */
static bool
cli_run(struct cli *c, int ms)
{
    struct event *guard = evtimer_new(c->base, on_guard, c->base);
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
    int before = c->dones;

    evtimer_add(guard, &tv);
    while (c->dones == before) {
        event_base_loop(c->base, EVLOOP_ONCE);
        if (!evtimer_pending(guard, NULL))
            break;
    }
    event_free(guard);
    return c->dones != before;
}

/* Run the loop for `ms` whatever happens (callbacks still counted). */
static void
cli_spin(struct cli *c, int ms)
{
    struct event *guard = evtimer_new(c->base, on_guard, c->base);
    struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

    evtimer_add(guard, &tv);
    while (evtimer_pending(guard, NULL))
        event_base_loop(c->base, EVLOOP_ONCE);
    event_free(guard);
}

static void
url_of(char *buf, size_t n, const char *host, int port, const char *path)
{
    snprintf(buf, n, "http://%s:%d%s", host, port, path);
}

/* One request start-to-done, asserting it finished within `ms`. */
static enum tg_up_result
do_req(struct cli *c, struct tg_up_req *rq, const char *url, const char *body, uint32_t total_ms)
{
    static const char *hdrs[] = { "Content-Type: application/json" };
    cli_reset(c);
    cr_assert_eq(tg_up_start(c->pool, rq, url, hdrs, 1, body, strlen(body), 2000, total_ms, &ccbs, c), 0);
    cr_assert_eq(c->dones, 0, "no callback from inside tg_up_start");
    cr_assert(cli_run(c, 5000), "request to %s never finished", url);
    cr_assert_eq(c->dones, 1);
    cr_assert_eq(c->calls_after_done, 0);
    return c->res;
}

static int64_t
now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- scripts ---- */

/* Serve s->answer to each request on one connection until the client closes. */
static void
script_answer_all(struct srv *s)
{
    int fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    while (srv_read_req(s, fd))
        srv_send(fd, s->answer);
    close(fd);
}

Test(upstream_client, ok_200_body)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_answer_all);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/v1/messages");
    cr_assert_eq(do_req(&c, &rq, url, "{}", 0), TG_UP_OK);
    cr_assert_eq(c.heads, 1);
    cr_assert_eq(c.status, 200);
    cr_assert_not(c.has_ra);
    cr_assert_str_eq(c.body, "hello world");
    cr_assert_eq(tg_up_pool_idle(c.pool), 1);
    cli_free(&c);
    cr_assert(srv_join(&s));
    cr_assert_eq(atomic_load(&s.nreq), 1);
    srv_free(&s);
}

Test(upstream_client, retry_after_and_chunked_streaming)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_answer_all);
    s.answer = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 17\r\nTransfer-Encoding: chunked\r\n\r\n"
               "4\r\nslow\r\n5;x=y\r\n down\r\n0\r\nT: 1\r\n\r\n";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cr_assert_eq(do_req(&c, &rq, url, "", 0), TG_UP_OK);
    cr_assert_eq(c.status, 429);
    cr_assert(c.has_ra);
    cr_assert_str_eq(c.ra, "17");
    cr_assert_str_eq(c.body, "slow down");
    cr_assert_eq(tg_up_pool_idle(c.pool), 1);
    cli_free(&c);
    cr_assert(srv_join(&s));
    srv_free(&s);
}

Test(upstream_client, keepalive_reuse_one_connection)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_answer_all);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/a");
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(do_req(&c, &rq, url, "{\"n\":1}", 1000), TG_UP_OK, "request %d", i);
        cr_assert_str_eq(c.body, "ok");
        cr_assert_eq(tg_up_pool_idle(c.pool), 1, "after request %d", i);
        /* let the loop notice anything the server might do */
        cli_spin(&c, 20);
        cr_assert_eq(tg_up_pool_idle(c.pool), 1);
    }
    cr_assert_eq(atomic_load(&s.accepted), 1);
    cli_free(&c);
    cr_assert(srv_join(&s), "the client opened a second connection");
    cr_assert_eq(atomic_load(&s.accepted), 1);
    cr_assert_eq(atomic_load(&s.nreq), 3);
    srv_free(&s);
}

Test(upstream_client, connection_close_answer_is_not_pooled)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_answer_all);
    s.answer = "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cr_assert_eq(do_req(&c, &rq, url, "x", 0), TG_UP_OK);
    cr_assert_str_eq(c.body, "ok");
    cr_assert_eq(tg_up_pool_idle(c.pool), 0);
    cli_free(&c);
    srv_join(&s);
    srv_free(&s);
}

/* Answer with a read-until-close body, close only when the test says so. */
static void
script_until_close_on_go(struct srv *s)
{
    int fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    if (srv_read_req(s, fd))
        srv_send(fd, s->answer);
    wait_go(s, 1);
    close(fd);
}

Test(upstream_client, until_close_answer_waits_for_close)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_until_close_on_go);
    s.answer = "HTTP/1.0 200 OK\r\n\r\nuntil the end";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cli_reset(&c);
    cr_assert_eq(tg_up_start(c.pool, &rq, url, NULL, 0, "b", 1, 2000, 0, &ccbs, &c), 0);
    cr_assert_not(cli_run(&c, 200), "a read-until-close body cannot end before the close");
    cr_assert_str_eq(c.body, "until the end");
    atomic_store(&s.go, 1);
    cr_assert(cli_run(&c, 5000));
    cr_assert_eq(c.res, TG_UP_OK);
    cr_assert_str_eq(c.body, "until the end");
    cr_assert_eq(tg_up_pool_idle(c.pool), 0);
    cli_free(&c);
    cr_assert(srv_join(&s));
    srv_free(&s);
}

static void
script_answer_then_close(struct srv *s)
{
    int fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    if (srv_read_req(s, fd))
        srv_send(fd, s->answer);
    close(fd);
}

Test(upstream_client, until_close_answer_ends_at_eof)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_answer_then_close);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cr_assert_eq(do_req(&c, &rq, url, "b", 0), TG_UP_OK);
    cr_assert_str_eq(c.body, "until the end");
    cr_assert_eq(tg_up_pool_idle(c.pool), 0);
    cli_free(&c);
    cr_assert(srv_join(&s));
    srv_free(&s);
}

Test(upstream_client, truncated_answer_is_reset)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_answer_then_close);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cr_assert_eq(do_req(&c, &rq, url, "b", 0), TG_UP_RESET);
    cr_assert_str_eq(c.body, "only this");
    cr_assert_eq(tg_up_pool_idle(c.pool), 0);
    cli_free(&c);
    cr_assert(srv_join(&s), "no retry once a byte of the answer came");
    srv_free(&s);
}

Test(upstream_client, exact_request_bytes)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128], want[512];
    const char *hdrs[] = { "Content-Type: application/json", "X-Api-Key: sk-test", "Anthropic-Version: 2023-06-01" };
    const char *body = "{\"model\":\"m\",\"max_tokens\":1}";

    srv_start(&s, script_answer_all);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    cli_init(&c);

    url_of(url, sizeof(url), "127.0.0.1", s.port, "/path");
    cli_reset(&c);
    cr_assert_eq(tg_up_start(c.pool, &rq, url, hdrs, 3, body, strlen(body), 2000, 0, &ccbs, &c), 0);
    cr_assert(cli_run(&c, 5000));
    cr_assert_eq(c.res, TG_UP_OK);

    /* No path, localhost: "/" and the authority as written. */
    snprintf(url, sizeof(url), "http://localhost:%d", s.port);
    cli_reset(&c);
    cr_assert_eq(tg_up_start(c.pool, &rq, url, NULL, 0, NULL, 0, 2000, 0, &ccbs, &c), 0);
    cr_assert(cli_run(&c, 5000));
    cr_assert_eq(c.res, TG_UP_OK);

    /* A query string is kept. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/x?beta=true&y=1", s.port);
    cli_reset(&c);
    cr_assert_eq(tg_up_start(c.pool, &rq, url, hdrs, 1, "z", 1, 2000, 0, &ccbs, &c), 0);
    cr_assert(cli_run(&c, 5000));
    cr_assert_eq(c.res, TG_UP_OK);

    cli_free(&c);
    cr_assert(srv_join(&s));
    cr_assert_eq(atomic_load(&s.nreq), 3);
    cr_assert_eq(atomic_load(&s.accepted), 1, "localhost and 127.0.0.1 share the connection");

    snprintf(want, sizeof(want),
             "POST /path HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
             "X-Api-Key: sk-test\r\nAnthropic-Version: 2023-06-01\r\nContent-Length: %zu\r\n\r\n%s",
             s.port, strlen(body), body);
    cr_assert_eq(s.reqlen[0], strlen(want));
    cr_assert_arr_eq(s.req[0], want, strlen(want), "got:\n%.*s", (int)s.reqlen[0], s.req[0]);

    snprintf(want, sizeof(want), "POST / HTTP/1.1\r\nHost: localhost:%d\r\nContent-Length: 0\r\n\r\n", s.port);
    cr_assert_eq(s.reqlen[1], strlen(want));
    cr_assert_arr_eq(s.req[1], want, strlen(want), "got:\n%.*s", (int)s.reqlen[1], s.req[1]);

    snprintf(want, sizeof(want),
             "POST /v1/x?beta=true&y=1 HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nContent-Type: application/json\r\n"
             "Content-Length: 1\r\n\r\nz", s.port);
    cr_assert_eq(s.reqlen[2], strlen(want));
    cr_assert_arr_eq(s.req[2], want, strlen(want), "got:\n%.*s", (int)s.reqlen[2], s.req[2]);
    srv_free(&s);
}

Test(upstream_client, large_body_partial_writes)
{
    /* Bigger than the socket buffers: the client must finish with EV_WRITE. */
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];
    size_t n = 4u << 20;
    char *body = malloc(n + 1);

    cr_assert_not_null(body);
    for (size_t i = 0; i < n; i++)
        body[i] = (char)('a' + i % 26);
    body[n] = '\0';
    srv_start(&s, script_answer_all);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbig";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/big");
    cr_assert_eq(do_req(&c, &rq, url, body, 0), TG_UP_OK);
    cr_assert_str_eq(c.body, "big");
    cr_assert_eq(tg_up_pool_idle(c.pool), 1);
    cli_free(&c);
    cr_assert(srv_join(&s));
    cr_assert_eq(atomic_load(&s.nreq), 1);
    {
        const char *e = memmem(s.req[0], s.reqlen[0], "\r\n\r\n", 4);
        cr_assert_not_null(e);
        e += 4;
        cr_assert_eq(s.reqlen[0] - (size_t)(e - s.req[0]), n);
        cr_assert(memcmp(e, body, n) == 0, "body bytes differ");
    }
    free(body);
    srv_free(&s);
}

/* conn 1: answer, then close the idle connection; conn 2: answer all. */
static void
script_close_idle(struct srv *s)
{
    int fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    if (srv_read_req(s, fd))
        srv_send(fd, s->answer);
    wait_go(s, 1);   /* the test saw the answer */
    close(fd);
    atomic_store(&s->phase, 1);
    fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    while (srv_read_req(s, fd))
        srv_send(fd, s->answer);
    close(fd);
}

Test(upstream_client, idle_close_detected)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_close_idle);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cr_assert_eq(do_req(&c, &rq, url, "1", 0), TG_UP_OK);
    cr_assert_eq(tg_up_pool_idle(c.pool), 1);
    atomic_store(&s.go, 1);
    for (int i = 0; i < 5000 && atomic_load(&s.phase) < 1; i++)
        usleep(1000);
    /* The loop sees the close while the connection is idle and retires it. */
    for (int i = 0; i < 100 && tg_up_pool_idle(c.pool) != 0; i++)
        cli_spin(&c, 10);
    cr_assert_eq(tg_up_pool_idle(c.pool), 0, "the peer's close went unnoticed");
    cr_assert_eq(do_req(&c, &rq, url, "2", 0), TG_UP_OK);
    cr_assert_str_eq(c.body, "ok");
    cr_assert_eq(tg_up_pool_idle(c.pool), 1);
    cli_free(&c);
    cr_assert(srv_join(&s));
    cr_assert_eq(atomic_load(&s.accepted), 2);
    cr_assert_eq(atomic_load(&s.nreq), 2);
    srv_free(&s);
}

Test(upstream_client, idle_close_unseen_then_stale_retry)
{
    /* The peer closed the idle connection but the loop has not run since:
     * the request goes out on the dead connection and must be retried. */
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_close_idle);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cr_assert_eq(do_req(&c, &rq, url, "1", 0), TG_UP_OK);
    atomic_store(&s.go, 1);
    for (int i = 0; i < 5000 && atomic_load(&s.phase) < 1; i++)
        usleep(1000);
    usleep(20000);   /* the FIN is in; the loop does not run */
    cr_assert_eq(tg_up_pool_idle(c.pool), 1);
    cr_assert_eq(do_req(&c, &rq, url, "2", 0), TG_UP_OK);
    cr_assert_str_eq(c.body, "ok");
    cli_free(&c);
    cr_assert(srv_join(&s));
    cr_assert_eq(atomic_load(&s.accepted), 2);
    cr_assert_eq(atomic_load(&s.nreq), 2);
    srv_free(&s);
}

/* conn 1: answer request 1, read request 2 and close; conn 2: answer all. */
static void
script_drop_second(struct srv *s)
{
    int fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    if (srv_read_req(s, fd))
        srv_send(fd, s->answer);
    srv_read_req(s, fd);
    close(fd);
    fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    while (srv_read_req(s, fd))
        srv_send(fd, s->answer);
    close(fd);
}

Test(upstream_client, reused_connection_dropped_is_retried_once)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_drop_second);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfine!";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/r");
    cr_assert_eq(do_req(&c, &rq, url, "first", 0), TG_UP_OK);
    cr_assert_eq(tg_up_pool_idle(c.pool), 1);
    cr_assert_eq(do_req(&c, &rq, url, "second", 0), TG_UP_OK);
    cr_assert_str_eq(c.body, "fine!");
    cr_assert_eq(c.heads, 1);
    cr_assert_eq(tg_up_pool_idle(c.pool), 1);
    cli_free(&c);
    cr_assert(srv_join(&s));
    cr_assert_eq(atomic_load(&s.accepted), 2);
    cr_assert_eq(atomic_load(&s.nreq), 3);
    cr_assert_eq(s.reqlen[1], s.reqlen[2]);
    cr_assert_arr_eq(s.req[1], s.req[2], s.reqlen[1], "the retry sends the same request");
    srv_free(&s);
}

/* conn 1: answer request 1, read request 2 and close; conn 2: read the
 * retry and close too. */
static void
script_drop_second_twice(struct srv *s)
{
    int fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    if (srv_read_req(s, fd))
        srv_send(fd, s->answer);
    srv_read_req(s, fd);
    close(fd);
    fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    srv_read_req(s, fd);
    close(fd);
}

Test(upstream_client, retry_is_only_once)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_drop_second_twice);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cr_assert_eq(do_req(&c, &rq, url, "a", 0), TG_UP_OK);
    cr_assert_eq(do_req(&c, &rq, url, "b", 0), TG_UP_RESET);
    cr_assert_eq(c.heads, 0);
    cr_assert_eq(tg_up_pool_idle(c.pool), 0);
    cli_free(&c);
    cr_assert(srv_join(&s), "a second retry was made");
    cr_assert_eq(atomic_load(&s.accepted), 2);
    cr_assert_eq(atomic_load(&s.nreq), 3);
    srv_free(&s);
}

/* Read the request and close without a word. */
static void
script_drop_first(struct srv *s)
{
    int fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    srv_read_req(s, fd);
    close(fd);
    /* a retry (wrongly made) would be left in the backlog: give it time */
    usleep(100000);
}

Test(upstream_client, fresh_connection_dropped_is_reset_without_retry)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_drop_first);
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cr_assert_eq(do_req(&c, &rq, url, "x", 0), TG_UP_RESET);
    cr_assert_eq(c.heads, 0);
    cr_assert_eq(c.bodies, 0);
    cr_assert_eq(tg_up_pool_idle(c.pool), 0);
    cli_spin(&c, 50);
    cr_assert(srv_join(&s), "a fresh connection was retried");
    cr_assert_eq(atomic_load(&s.accepted), 1);
    cli_free(&c);
    srv_free(&s);
}

Test(upstream_client, connection_refused)
{
    /* A bound socket that does not listen: connects to it are refused. */
    struct sockaddr_in a = { 0 };
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct cli c;
    struct tg_up_req rq;
    char url[128];
    int64_t t0;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", ntohs(a.sin_port), "/");
    t0 = now_ms();
    cr_assert_eq(do_req(&c, &rq, url, "x", 0), TG_UP_CONNECT);
    cr_assert_lt(now_ms() - t0, 1000);
    cr_assert_eq(c.heads, 0);
    cr_assert_eq(tg_up_pool_idle(c.pool), 0);
    /* and again, with a total bound */
    cr_assert_eq(do_req(&c, &rq, url, "x", 500), TG_UP_CONNECT);
    cli_free(&c);
    close(fd);
}

/* Read the request, never answer; wait for the client to give up. */
static void
script_silent(struct srv *s)
{
    int fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    srv_read_req(s, fd);
    atomic_store(&s->phase, 1);
    srv_wait_eof(fd, 3000);
    atomic_store(&s->phase, 2);
    close(fd);
}

Test(upstream_client, total_timeout)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];
    int64_t t0, dt;

    srv_start(&s, script_silent);
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/slow");
    t0 = now_ms();
    cr_assert_eq(do_req(&c, &rq, url, "x", 200), TG_UP_TIMEOUT);
    dt = now_ms() - t0;
    cr_assert_geq(dt, 190, "timed out after %lld ms", (long long)dt);
    cr_assert_lt(dt, 1000, "timed out after %lld ms", (long long)dt);
    cr_assert_eq(c.heads, 0);
    cr_assert_eq(tg_up_pool_idle(c.pool), 0);
    /* The connection is closed by the timeout (the server sees EOF). */
    for (int i = 0; i < 1000 && atomic_load(&s.phase) < 2; i++)
        usleep(1000);
    cr_assert_eq(atomic_load(&s.phase), 2, "the timed-out connection was left open");
    cli_free(&c);
    cr_assert(srv_join(&s));
    srv_free(&s);
}

/* Send the head and part of the body, then stall. */
static void
script_stall_mid_body(struct srv *s)
{
    int fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    if (srv_read_req(s, fd))
        srv_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npart");
    srv_wait_eof(fd, 3000);
    close(fd);
}

Test(upstream_client, total_timeout_mid_body)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];
    int64_t t0, dt;

    srv_start(&s, script_stall_mid_body);
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    t0 = now_ms();
    cr_assert_eq(do_req(&c, &rq, url, "x", 300), TG_UP_TIMEOUT);
    dt = now_ms() - t0;
    cr_assert_geq(dt, 290);
    cr_assert_lt(dt, 1500);
    cr_assert_eq(c.heads, 1);
    cr_assert_str_eq(c.body, "part");
    cli_free(&c);
    cr_assert(srv_join(&s));
    srv_free(&s);
}

Test(upstream_client, on_body_abort)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_answer_all);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cli_reset(&c);
    c.abort_body_at = 1;
    cr_assert_eq(tg_up_start(c.pool, &rq, url, NULL, 0, "x", 1, 2000, 0, &ccbs, &c), 0);
    cr_assert(cli_run(&c, 5000));
    cr_assert_eq(c.res, TG_UP_ABORTED);
    cr_assert_eq(c.bodies, 1);
    cr_assert_eq(tg_up_pool_idle(c.pool), 0, "an aborted exchange leaves the connection unusable");
    cli_spin(&c, 50);
    cr_assert_eq(c.dones, 1);
    cr_assert_eq(c.calls_after_done, 0);
    cli_free(&c);
    cr_assert(srv_join(&s));
    srv_free(&s);
}

Test(upstream_client, malformed_response)
{
    static const char *answers[] = {
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
        "SSH-2.0-OpenSSH_9.6\r\n",
        "HTTP/1.1 200 OK\nContent-Length: 0\n\n",
        "HTTP/1.1 101 Switching Protocols\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
        struct srv s;
        struct cli c;
        struct tg_up_req rq;
        char url[128];

        srv_start(&s, script_answer_all);
        s.answer = answers[i];
        cli_init(&c);
        url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
        cr_assert_eq(do_req(&c, &rq, url, "x", 0), TG_UP_BAD_RESPONSE, "answer %zu", i);
        cr_assert_eq(c.heads, 0);
        cr_assert_eq(tg_up_pool_idle(c.pool), 0);
        cli_free(&c);
        cr_assert(srv_join(&s));
        srv_free(&s);
    }
}

Test(upstream_client, trailing_bytes_after_answer_not_pooled)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_answer_all);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbad";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cr_assert_eq(do_req(&c, &rq, url, "x", 0), TG_UP_OK);
    cr_assert_str_eq(c.body, "ok");
    cr_assert_eq(tg_up_pool_idle(c.pool), 0, "a connection with extra bytes must not be reused");
    cli_free(&c);
    cr_assert(srv_join(&s));
    srv_free(&s);
}

/* Read the request, wait for the test to cancel, then answer anyway. */
static void
script_answer_after_cancel(struct srv *s)
{
    int fd = srv_accept(s, 5000);
    if (fd < 0)
        return;
    srv_read_req(s, fd);
    atomic_store(&s->phase, 1);
    wait_go(s, 1);
    srv_send(fd, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    srv_wait_eof(fd, 3000);
    close(fd);
}

Test(upstream_client, cancel_in_flight_no_callbacks)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_answer_after_cancel);
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cli_reset(&c);
    cr_assert_eq(tg_up_start(c.pool, &rq, url, NULL, 0, "x", 1, 2000, 300, &ccbs, &c), 0);
    /* Run the loop until the server has the request. */
    for (int i = 0; i < 500 && atomic_load(&s.phase) < 1; i++)
        cli_spin(&c, 5);
    cr_assert_eq(atomic_load(&s.phase), 1);
    cr_assert(rq.active);
    tg_up_cancel(&rq);
    cr_assert_not(rq.active);
    atomic_store(&s.go, 1);
    /* past the total timeout too: the cancelled request's timer must not fire */
    cli_spin(&c, 500);
    cr_assert_eq(c.heads + c.bodies + c.dones, 0, "a callback ran after tg_up_cancel");
    cr_assert_eq(tg_up_pool_idle(c.pool), 0);
    tg_up_cancel(&rq);   /* twice is harmless */
    cli_free(&c);
    cr_assert(srv_join(&s));
    srv_free(&s);
}

Test(upstream_client, cancel_right_after_start)
{
    /* Both before the connect completes and before a queued error is
     * delivered (connection refused). */
    struct sockaddr_in a = { 0 };
    socklen_t al = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", ntohs(a.sin_port), "/");
    cli_reset(&c);
    cr_assert_eq(tg_up_start(c.pool, &rq, url, NULL, 0, "x", 1, 2000, 100, &ccbs, &c), 0);
    tg_up_cancel(&rq);

    srv_start(&s, script_drop_first);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    {
        struct tg_up_req rq2;
        cr_assert_eq(tg_up_start(c.pool, &rq2, url, NULL, 0, "x", 1, 2000, 100, &ccbs, &c), 0);
        tg_up_cancel(&rq2);
    }
    cli_spin(&c, 300);
    cr_assert_eq(c.heads + c.bodies + c.dones, 0, "a callback ran after tg_up_cancel");
    cli_free(&c);
    srv_join(&s);
    srv_free(&s);
    close(fd);
}

static struct tg_up_req chain_rq;
static const char *chain_url;
static int chain_n;

static void
chain_done(void *ud, enum tg_up_result res)
{
    struct cli *c = ud;
    static const struct tg_up_cbs cbs2 = { c_on_head, c_on_body, chain_done };
    cr_assert_eq(res, TG_UP_OK);
    if (++chain_n < 3) {
        /* reuse the same struct from inside on_done */
        cr_assert_eq(tg_up_start(c->pool, &chain_rq, chain_url, NULL, 0, "n", 1, 2000, 1000, &cbs2, c), 0);
        return;
    }
    c->dones++;
    event_base_loopbreak(c->base);
}

Test(upstream_client, start_from_inside_on_done)
{
    struct srv s;
    struct cli c;
    char url[128];
    static const struct tg_up_cbs cbs2 = { c_on_head, c_on_body, chain_done };

    srv_start(&s, script_answer_all);
    s.answer = "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n!";
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    chain_url = url;
    cli_reset(&c);
    cr_assert_eq(tg_up_start(c.pool, &chain_rq, url, NULL, 0, "n", 1, 2000, 1000, &cbs2, &c), 0);
    cr_assert(cli_run(&c, 5000));
    cr_assert_eq(chain_n, 3);
    cr_assert_eq(c.heads, 3);
    cr_assert_str_eq(c.body, "!!!");
    cli_free(&c);
    cr_assert(srv_join(&s));
    cr_assert_eq(atomic_load(&s.accepted), 1);
    srv_free(&s);
}

Test(upstream_client, pool_free_with_active_request)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];

    srv_start(&s, script_silent);
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cli_reset(&c);
    cr_assert_eq(tg_up_start(c.pool, &rq, url, NULL, 0, "x", 1, 2000, 200, &ccbs, &c), 0);
    for (int i = 0; i < 500 && atomic_load(&s.phase) < 1; i++)
        cli_spin(&c, 5);
    tg_up_pool_free(c.pool);
    c.pool = NULL;
    cr_assert_not(rq.active);
    /* the request's timer is gone with it */
    {
        struct event *guard = evtimer_new(c.base, on_guard, c.base);
        struct timeval tv = { 0, 400000 };
        evtimer_add(guard, &tv);
        event_base_dispatch(c.base);
        event_free(guard);
    }
    cr_assert_eq(c.dones, 0);
    cli_free(&c);
    cr_assert(srv_join(&s));
    srv_free(&s);
}

Test(upstream_client, eligible)
{
    cr_assert(tg_up_eligible("http://127.0.0.1:8080/v1"));
    cr_assert(tg_up_eligible("http://[::1]:80/x"));
    cr_assert(tg_up_eligible("http://localhost/v1"));
    cr_assert(tg_up_eligible("http://LOCALHOST:11434"));
    cr_assert(tg_up_eligible("HTTP://10.1.2.3/"));
    cr_assert(tg_up_eligible("http://[::1]"));

    cr_assert_not(tg_up_eligible("https://127.0.0.1/v1"));
    cr_assert_not(tg_up_eligible("https://api.anthropic.com/v1"));
    cr_assert_not(tg_up_eligible("http://example.com/"));
    cr_assert_not(tg_up_eligible("http://user@127.0.0.1/"));
    cr_assert_not(tg_up_eligible("http://user:pw@127.0.0.1:80/"));
    cr_assert_not(tg_up_eligible("http://127.0.0.1:0/"));
    cr_assert_not(tg_up_eligible("http://127.0.0.1:99999/"));
    cr_assert_not(tg_up_eligible("http://127.0.0.1:/"));
    cr_assert_not(tg_up_eligible("http://127.0.0.1:8a/"));
    cr_assert_not(tg_up_eligible("http://:80/"));
    cr_assert_not(tg_up_eligible("http:///"));
    cr_assert_not(tg_up_eligible("http://[::1/"));
    cr_assert_not(tg_up_eligible("http://[]/"));
    cr_assert_not(tg_up_eligible("http://[::1]x/"));
    cr_assert_not(tg_up_eligible("http://127.0.0.1?q=1"));
    cr_assert_not(tg_up_eligible("http://127.0.0.1/a b"));
    cr_assert_not(tg_up_eligible("http://127.0.0.1/a\r\nX: y"));
    cr_assert_not(tg_up_eligible("http://256.0.0.1/"));
    cr_assert_not(tg_up_eligible("ftp://127.0.0.1/"));
    cr_assert_not(tg_up_eligible(""));
    cr_assert_not(tg_up_eligible(NULL));
}

Test(upstream_client, start_rejects_bad_input)
{
    struct cli c;
    struct tg_up_req rq;
    const char *crlf[] = { "X-A: ok", "X-B: evil\r\nX-Injected: 1" };
    const char *lf[] = { "X-B: evil\nX-Injected: 1" };
    const char *cr[] = { "X-B: evil\r" };

    cli_init(&c);
    cli_reset(&c);
    cr_assert_eq(tg_up_start(c.pool, &rq, "http://127.0.0.1:9/", crlf, 2, "x", 1, 100, 100, &ccbs, &c), -1);
    cr_assert_not(rq.active);
    cr_assert_null(rq.head);
    cr_assert_eq(tg_up_start(c.pool, &rq, "http://127.0.0.1:9/", lf, 1, "x", 1, 100, 100, &ccbs, &c), -1);
    cr_assert_eq(tg_up_start(c.pool, &rq, "http://127.0.0.1:9/", cr, 1, "x", 1, 100, 100, &ccbs, &c), -1);
    cr_assert_eq(tg_up_start(c.pool, &rq, "https://127.0.0.1/", NULL, 0, "x", 1, 100, 100, &ccbs, &c), -1);
    cr_assert_eq(tg_up_start(c.pool, &rq, "http://example.com/", NULL, 0, "x", 1, 100, 100, &ccbs, &c), -1);
    cli_spin(&c, 150);
    cr_assert_eq(c.heads + c.bodies + c.dones, 0, "no callbacks after a refused start");
    cli_free(&c);
}

Test(upstream_client, connect_timeout)
{
    /* A listener whose accept queue is full drops further SYNs (Linux), so
     * the connect hangs: connect_ms must bound it.  The header promises
     * TG_UP_CONNECT for a connect timeout; curl calls it a timeout, which
     * is what the gateway maps either one to, so both are accepted here;
     * the bound is what is tested. */
    struct sockaddr_in a = { 0 };
    socklen_t al = sizeof(a);
    int lfd = socket(AF_INET, SOCK_STREAM, 0), fill[4];
    struct cli c;
    struct tg_up_req rq;
    char url[128];
    int64_t t0, dt;

    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    cr_assert_eq(listen(lfd, 0), 0);
    cr_assert_eq(getsockname(lfd, (struct sockaddr *)&a, &al), 0);
    for (int i = 0; i < 4; i++) {
        fill[i] = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
        (void)connect(fill[i], (struct sockaddr *)&a, sizeof(a));
    }
    usleep(50000);
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", ntohs(a.sin_port), "/");
    cli_reset(&c);
    t0 = now_ms();
    cr_assert_eq(tg_up_start(c.pool, &rq, url, NULL, 0, "x", 1, 200, 0, &ccbs, &c), 0);
    cr_assert(cli_run(&c, 5000), "connect_ms did not bound the connect");
    dt = now_ms() - t0;
    cr_assert(c.res == TG_UP_CONNECT || c.res == TG_UP_TIMEOUT, "result %d", c.res);
    cr_assert_geq(dt, 190, "ended after %lld ms", (long long)dt);
    cr_assert_lt(dt, 1500, "ended after %lld ms", (long long)dt);
    cr_assert_eq(tg_up_pool_idle(c.pool), 0);
    cli_free(&c);
    for (int i = 0; i < 4; i++)
        close(fill[i]);
    close(lfd);
}

#ifndef EARLY_DELAY_US
#define EARLY_DELAY_US 200000   /* time for the client to read the answer before the RST */
#endif

/* Read only the request head, answer 413 and close with the body unread. */
static void
script_early_answer(struct srv *s)
{
    char b[4096];
    int fd = srv_accept(s, 5000);
    ssize_t r;
    if (fd < 0)
        return;
    r = read(fd, b, sizeof(b));
    (void)r;
    srv_send(fd, "HTTP/1.1 413 Payload Too Large\r\nConnection: close\r\nContent-Length: 4\r\n\r\nbig!");
    usleep(20000);
    close(fd);
}

Test(upstream_client, early_answer_before_body_sent)
{
    struct srv s;
    struct cli c;
    struct tg_up_req rq;
    char url[128];
    size_t n = 8u << 20;
    char *body = malloc(n + 1);

    cr_assert_not_null(body);
    memset(body, 'q', n);
    body[n] = '\0';
    srv_start(&s, script_early_answer);
    cli_init(&c);
    url_of(url, sizeof(url), "127.0.0.1", s.port, "/");
    cr_assert_eq(do_req(&c, &rq, url, body, 0), TG_UP_OK, "result %d", c.res);
    cr_assert_eq(c.status, 413);
    cr_assert_str_eq(c.body, "big!");
    cli_free(&c);
    srv_join(&s);
    srv_free(&s);
    free(body);
}
