/* test_gateway_sse.c — the SSE parser the gateway relays upstream streams
 * through: line endings, splits at every byte, multi-line data, limits. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adapters/providers/sse.h"

struct collect {
    char   out[4096];   /* "event|data\n" per dispatched event */
    size_t len;
    int    n;
    int    stop_after;  /* non-zero: return 7 at that event */
};

static int
collect_cb(void *ud, const char *event, const char *data, size_t len)
{
    struct collect *c = ud;
    cr_assert_eq(strlen(data), len, "data is NUL-terminated at len");
    c->len += (size_t)snprintf(c->out + c->len, sizeof(c->out) - c->len, "%s|%s\n", event, data);
    c->n++;
    return c->stop_after && c->n == c->stop_after ? 7 : 0;
}

/* Feed `in` whole and at every split point; each run must give `want`. */
static void
check_all_splits(const char *in, const char *want)
{
    size_t n = strlen(in);

    for (size_t cut = 0; cut <= n; cut++) {
        struct tg_sse p;
        struct collect c = { .len = 0 };
        tg_sse_init(&p, 0);
        cr_assert_eq(tg_sse_feed(&p, in, cut, collect_cb, &c), 0);
        cr_assert_eq(tg_sse_feed(&p, in + cut, n - cut, collect_cb, &c), 0);
        cr_assert_str_eq(c.out, want, "split at %zu of %s", cut, in);
        tg_sse_free(&p);
    }
    /* and one byte at a time */
    {
        struct tg_sse p;
        struct collect c = { .len = 0 };
        tg_sse_init(&p, 0);
        for (size_t i = 0; i < n; i++)
            cr_assert_eq(tg_sse_feed(&p, in + i, 1, collect_cb, &c), 0);
        cr_assert_str_eq(c.out, want);
        tg_sse_free(&p);
    }
}

Test(sse, lf_events)
{
    check_all_splits("data: {\"a\":1}\n\ndata: [DONE]\n\n", "message|{\"a\":1}\nmessage|[DONE]\n");
}

Test(sse, crlf_and_cr_line_endings)
{
    check_all_splits("data: x\r\n\r\ndata: y\r\rdata: z\n\n", "message|x\nmessage|y\nmessage|z\n");
}

Test(sse, named_events_and_multiline_data)
{
    check_all_splits("event: message_start\ndata: {\"type\":\"message_start\"}\n\n"
                     "event: ping\ndata: a\ndata: b\n\n",
                     "message_start|{\"type\":\"message_start\"}\nping|a\nb\n");
}

Test(sse, comments_ids_and_dataless_events_are_skipped)
{
    check_all_splits(": keep-alive\n\nid: 4\nretry: 100\n\nevent: x\n\ndata:nospace\n\n",
                     "message|nospace\n");
}

Test(sse, event_name_resets_after_dispatch)
{
    check_all_splits("event: a\ndata: 1\n\ndata: 2\n\n", "a|1\nmessage|2\n");
}

Test(sse, incomplete_event_is_not_dispatched)
{
    struct tg_sse p;
    struct collect c = { .len = 0 };
    tg_sse_init(&p, 0);
    cr_assert_eq(tg_sse_feed(&p, "data: partial\n", 14, collect_cb, &c), 0);
    cr_assert_eq(c.n, 0);
    tg_sse_free(&p);
}

Test(sse, callback_stop_value_is_returned)
{
    struct tg_sse p;
    struct collect c = { .len = 0, .stop_after = 1 };
    const char *in = "data: 1\n\ndata: 2\n\n";
    tg_sse_init(&p, 0);
    cr_assert_eq(tg_sse_feed(&p, in, strlen(in), collect_cb, &c), 7);
    cr_assert_eq(c.n, 1, "feeding stops at the refusing event");
    tg_sse_free(&p);
}

Test(sse, line_over_limit_is_an_error)
{
    struct tg_sse p;
    struct collect c = { .len = 0 };
    char big[300];
    memset(big, 'a', sizeof(big));
    tg_sse_init(&p, 256);
    /* without a newline: the pending line grows past the cap */
    cr_assert_eq(tg_sse_feed(&p, big, sizeof(big), collect_cb, &c), TG_ELIMIT);
    tg_sse_free(&p);
    /* with one: a complete line over the cap */
    tg_sse_init(&p, 256);
    {
        char line[310] = "data: ";
        memset(line + 6, 'b', 300);
        line[306] = '\n';
        cr_assert_eq(tg_sse_feed(&p, line, 307, collect_cb, &c), TG_ELIMIT);
    }
    tg_sse_free(&p);
}

Test(sse, data_over_limit_across_lines_is_an_error)
{
    struct tg_sse p;
    struct collect c = { .len = 0 };
    char line[110];
    int rc = 0;
    memcpy(line, "data: ", 6);
    memset(line + 6, 'c', 100);
    line[106] = '\n';
    tg_sse_init(&p, 256);
    for (int i = 0; i < 5 && rc == 0; i++)
        rc = tg_sse_feed(&p, line, 107, collect_cb, &c);
    cr_assert_eq(rc, TG_ELIMIT, "joined data past the cap");
    cr_assert_eq(c.n, 0);
    tg_sse_free(&p);
}
