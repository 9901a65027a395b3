/* sse.c — incremental SSE parser, see sse.h. */
#include "adapters/providers/sse.h"

#include <stdlib.h>
#include <string.h>

void
tg_sse_init(struct tg_sse *p, size_t max)
{
    memset(p, 0, sizeof(*p));
    p->max = max ? max : (size_t)1 << 20;
}

void
tg_sse_free(struct tg_sse *p)
{
    free(p->line);
    free(p->data);
    p->line = p->data = NULL;
    p->line_len = p->line_cap = p->data_len = p->data_cap = 0;
}

/* Grow *buf to hold need+1 bytes (room for a NUL), never past max+1. */
static int
grow(char **buf, size_t *cap, size_t need, size_t max)
{
    size_t ncap;
    char *nb;

    if (need > max)
        return TG_ELIMIT;
    if (need + 1 <= *cap)
        return TG_OK;
    ncap = *cap ? *cap : 256;
    while (ncap < need + 1)
        ncap *= 2;
    if (ncap > max + 1)
        ncap = max + 1;
    nb = realloc(*buf, ncap);
    if (nb == NULL)
        return TG_ENOMEM;
    *buf = nb;
    *cap = ncap;
    return TG_OK;
}

/* One complete line (without its terminator). */
static int
on_line(struct tg_sse *p, const char *s, size_t n, tg_sse_event_fn fn, void *ud)
{
    const char *colon, *val;
    size_t flen, vlen;
    int rc;

    if (n == 0) {
        /* Blank line: dispatch.  An event without data is dropped (spec). */
        if (p->have_data) {
            const char *ev = p->event[0] ? p->event : "message";
            if (p->data == NULL && (rc = grow(&p->data, &p->data_cap, 0, p->max)) != TG_OK)
                return rc;
            p->data[p->data_len] = '\0';
            rc = fn(ud, ev, p->data, p->data_len);
            p->data_len = 0;
            p->have_data = false;
            p->event[0] = '\0';
            return rc;
        }
        p->event[0] = '\0';
        return 0;
    }
    if (s[0] == ':')
        return 0;  /* comment / keep-alive */
    colon = memchr(s, ':', n);
    flen = colon ? (size_t)(colon - s) : n;
    val = colon ? colon + 1 : s + n;
    vlen = colon ? n - flen - 1 : 0;
    if (vlen > 0 && val[0] == ' ') {
        val++;
        vlen--;
    }
    if (flen == 4 && memcmp(s, "data", 4) == 0) {
        size_t need = p->data_len + (p->have_data ? 1 : 0) + vlen;
        if ((rc = grow(&p->data, &p->data_cap, need, p->max)) != TG_OK)
            return rc;
        if (p->have_data)
            p->data[p->data_len++] = '\n';
        memcpy(p->data + p->data_len, val, vlen);
        p->data_len += vlen;
        p->data[p->data_len] = '\0';
        p->have_data = true;
    } else if (flen == 5 && memcmp(s, "event", 5) == 0) {
        size_t k = vlen < sizeof(p->event) - 1 ? vlen : sizeof(p->event) - 1;
        memcpy(p->event, val, k);
        p->event[k] = '\0';
    }
    /* id, retry and unknown fields: nothing to do for a relay. */
    return 0;
}

int
tg_sse_feed(struct tg_sse *p, const char *buf, size_t len, tg_sse_event_fn fn, void *ud)
{
    size_t i = 0;
    int rc;

    if (len > 0 && p->last_cr && buf[0] == '\n')
        i = 1;
    p->last_cr = false;
    while (i < len) {
        const char *s = buf + i;
        size_t rest = len - i, k = 0;

        while (k < rest && s[k] != '\n' && s[k] != '\r')
            k++;
        if (k == rest) {
            /* No terminator yet: keep the partial line. */
            if ((rc = grow(&p->line, &p->line_cap, p->line_len + k, p->max)) != TG_OK)
                return rc;
            memcpy(p->line + p->line_len, s, k);
            p->line_len += k;
            return 0;
        }
        if (p->line_len > 0) {
            if ((rc = grow(&p->line, &p->line_cap, p->line_len + k, p->max)) != TG_OK)
                return rc;
            memcpy(p->line + p->line_len, s, k);
            p->line_len += k;
            rc = on_line(p, p->line, p->line_len, fn, ud);
            p->line_len = 0;
        } else {
            if (k > p->max)
                return TG_ELIMIT;
            rc = on_line(p, s, k, fn, ud);
        }
        i += k + 1;
        if (s[k] == '\r') {
            if (i < len && buf[i] == '\n')
                i++;
            else if (i == len)
                p->last_cr = true;
        }
        if (rc != 0)
            return rc;
    }
    return 0;
}
