/*
 * h1resp.c — incremental HTTP/1.1 response parser (upstream.h).  Pure: no
 * I/O, no allocation; bytes in, callbacks out.
 *
 * Strict where being lenient would let an upstream smuggle a second
 * response into the client's stream: conflicting or repeated
 * Content-Length, Transfer-Encoding other than a final "chunked",
 * Content-Length with chunked, bare LF line ends in chunk framing, obs-fold
 * header lines.  Lenient where it costs nothing: reason phrases, header
 * case, optional whitespace, chunk extensions and trailers (ignored).
 */
#include "adapters/http/upstream.h"

#include <string.h>
#include <strings.h>

enum {
    S_STATUS = 0,    /* status line */
    S_HEADER,        /* header lines until the empty one */
    S_BODY_LEN,      /* Content-Length body */
    S_BODY_CLOSE,    /* body until EOF */
    S_CHUNK_SIZE,    /* chunk-size line */
    S_CHUNK_DATA,
    S_CHUNK_CRLF,    /* the CRLF after chunk data */
    S_TRAILER,       /* trailer lines until the empty one */
    S_DONE,
    S_ERROR,
};

void
tg_h1r_init(struct tg_h1r *p)
{
    p->state = S_STATUS;
    p->status = 0;
    p->http10 = p->close = p->keep_alive = p->chunked = p->have_len = p->until_close = false;
    p->remaining = 0;
    p->head_bytes = 0;
    p->any = false;
    p->llen = 0;
    p->retry_after[0] = '\0';
}

bool
tg_h1r_pristine(const struct tg_h1r *p)
{
    return !p->any;
}

static const char *
trim(char *s, size_t *n)
{
    while (*n > 0 && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    while (*n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        (*n)--;
    }
    s[*n] = '\0';
    return s;
}

/* "HTTP/1.x SSS[ reason]" */
static int
status_line(struct tg_h1r *p, const char *l, size_t n)
{
    if (n < 12 || memcmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ')
        return -1;
    if (l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9')
        return -1;
    if (n > 12 && l[12] != ' ')
        return -1;
    p->status = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    p->http10 = l[7] == '0';
    p->chunked = p->have_len = p->keep_alive = false;
    p->close = false;
    p->remaining = 0;
    p->retry_after[0] = '\0';
    return 0;
}

static bool
token_in(const char *v, const char *tok)
{
    size_t tl = strlen(tok);
    const char *s = v;

    while (*s) {
        const char *e;
        size_t n;
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        e = s;
        while (*e && *e != ',')
            e++;
        n = (size_t)(e - s);
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            n--;
        if (n == tl && strncasecmp(s, tok, tl) == 0)
            return true;
        s = e;
    }
    return false;
}

static int
header_line(struct tg_h1r *p, char *l, size_t n)
{
    char *colon = memchr(l, ':', n);
    size_t nl, vl;
    const char *v;

    if (l[0] == ' ' || l[0] == '\t' || colon == NULL || colon == l)
        return -1;   /* obs-fold, or not a header */
    nl = (size_t)(colon - l);
    for (size_t i = 0; i < nl; i++)
        if (l[i] <= ' ' || l[i] == 0x7f)
            return -1;   /* whitespace before the colon (RFC 9112 5.1) */
    vl = n - nl - 1;
    v = trim(colon + 1, &vl);
    for (size_t i = 0; i < vl; i++)
        if (v[i] == '\0')
            return -1;
    if (nl == 14 && strncasecmp(l, "content-length", 14) == 0) {
        uint64_t x = 0;
        if (vl == 0 || vl > 18)
            return -1;
        for (size_t i = 0; i < vl; i++) {
            if (v[i] < '0' || v[i] > '9')
                return -1;
            x = x * 10 + (uint64_t)(v[i] - '0');
        }
        if (p->have_len && x != p->remaining)
            return -1;
        p->have_len = true;
        p->remaining = x;
    } else if (nl == 17 && strncasecmp(l, "transfer-encoding", 17) == 0) {
        /* Only "chunked", once, as the final coding is something we can frame. */
        if (p->chunked || vl != 7 || strncasecmp(v, "chunked", 7) != 0)
            return -1;
        p->chunked = true;
    } else if (nl == 10 && strncasecmp(l, "connection", 10) == 0) {
        if (token_in(v, "close"))
            p->close = true;
        if (token_in(v, "keep-alive"))
            p->keep_alive = true;
    } else if (nl == 11 && strncasecmp(l, "retry-after", 11) == 0) {
        size_t k = vl < sizeof(p->retry_after) - 1 ? vl : sizeof(p->retry_after) - 1;
        memcpy(p->retry_after, v, k);
        p->retry_after[k] = '\0';
    }
    return 0;
}

/* The empty line after the headers: pick the body framing. */
static int
end_of_head(struct tg_h1r *p, const struct tg_h1r_cbs *cb, void *ud)
{
    if (p->status >= 100 && p->status < 200) {
        if (p->status == 101)
            return -1;   /* we never ask to switch protocols */
        p->state = S_STATUS;   /* interim response: the real one follows */
        p->head_bytes = 0;
        return 0;
    }
    if (p->chunked && p->have_len)
        return -1;   /* RFC 9112 6.3: a smuggling vector; refuse */
    if (p->http10 && !p->keep_alive)
        p->close = true;
    if (cb->on_head && cb->on_head(ud, p->status, p->retry_after[0] ? p->retry_after : NULL) != 0)
        return -2;
    if (p->status == 204 || p->status == 304) {
        p->state = S_DONE;
    } else if (p->chunked) {
        p->state = S_CHUNK_SIZE;
    } else if (p->have_len) {
        p->state = p->remaining > 0 ? S_BODY_LEN : S_DONE;
    } else {
        p->until_close = true;
        p->close = true;
        p->state = S_BODY_CLOSE;
    }
    return 0;
}

static int
chunk_size_line(struct tg_h1r *p, const char *l, size_t n)
{
    uint64_t x = 0;
    size_t i = 0;

    for (; i < n; i++) {
        int d;
        char c = l[i];
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            break;
        if (i >= 15)
            return -1;   /* > 2^60 bytes: nonsense */
        x = x * 16 + (uint64_t)d;
    }
    if (i == 0)
        return -1;
    while (i < n && (l[i] == ' ' || l[i] == '\t'))
        i++;
    if (i < n && l[i] != ';')
        return -1;   /* only extensions may follow the size; they are ignored */
    p->remaining = x;
    p->state = x == 0 ? S_TRAILER : S_CHUNK_DATA;
    return 0;
}

/* Complete line in p->line (without CRLF) for the line-oriented states. */
static int
on_line(struct tg_h1r *p, const struct tg_h1r_cbs *cb, void *ud)
{
    size_t n = p->llen;

    p->line[n] = '\0';
    p->llen = 0;
    switch (p->state) {
    case S_STATUS:
        if (n == 0)
            return -1;
        p->state = S_HEADER;
        return status_line(p, p->line, n);
    case S_HEADER:
        if (n == 0)
            return end_of_head(p, cb, ud);
        return header_line(p, p->line, n);
    case S_CHUNK_SIZE:
        return chunk_size_line(p, p->line, n);
    case S_CHUNK_CRLF:
        if (n != 0)
            return -1;
        p->state = S_CHUNK_SIZE;
        return 0;
    case S_TRAILER:
        if (n == 0)
            p->state = S_DONE;
        return 0;
    default:
        return -1;
    }
}

int
tg_h1r_feed(struct tg_h1r *p, const char *buf, size_t len, size_t *used,
            const struct tg_h1r_cbs *cb, void *ud)
{
    size_t i = 0;

    if (len > 0)
        p->any = true;
    while (i < len) {
        switch (p->state) {
        case S_DONE:
            *used = i;
            return TG_H1R_DONE;
        case S_ERROR:
            *used = i;
            return TG_H1R_ERROR;
        case S_BODY_LEN:
        case S_CHUNK_DATA: {
            size_t take = len - i;
            if ((uint64_t)take > p->remaining)
                take = (size_t)p->remaining;
            if (cb->on_body && cb->on_body(ud, buf + i, take) != 0) {
                *used = i + take;
                p->state = S_ERROR;
                return TG_H1R_ABORT;
            }
            i += take;
            p->remaining -= take;
            if (p->remaining == 0)
                p->state = p->state == S_BODY_LEN ? S_DONE : S_CHUNK_CRLF;
            break;
        }
        case S_BODY_CLOSE:
            if (cb->on_body && cb->on_body(ud, buf + i, len - i) != 0) {
                *used = len;
                p->state = S_ERROR;
                return TG_H1R_ABORT;
            }
            i = len;
            break;
        default: {
            /* Line-oriented states: collect up to LF. */
            const char *lf = memchr(buf + i, '\n', len - i);
            size_t take = lf ? (size_t)(lf - (buf + i)) : len - i;
            bool in_head = p->state == S_STATUS || p->state == S_HEADER;
            int rc;
            if (in_head)
                p->head_bytes += take + (lf != NULL);
            if (p->llen + take >= TG_H1R_LINE_MAX || p->head_bytes > TG_H1R_HEAD_MAX) {
                p->state = S_ERROR;
                *used = i;
                return TG_H1R_ERROR;
            }
            memcpy(p->line + p->llen, buf + i, take);
            p->llen += take;
            i += take;
            if (lf == NULL)
                break;
            i++;   /* the LF */
            /* CRLF required (a bare LF is how responses get split differently
             * by two parsers); a CR anywhere else in a line is refused too. */
            if (p->llen == 0 || p->line[p->llen - 1] != '\r' ||
                memchr(p->line, '\r', p->llen - 1) != NULL) {
                p->state = S_ERROR;
                *used = i;
                return TG_H1R_ERROR;
            }
            p->llen--;
            rc = on_line(p, cb, ud);
            if (rc != 0) {
                p->state = S_ERROR;
                *used = i;
                return rc == -2 ? TG_H1R_ABORT : TG_H1R_ERROR;
            }
            break;
        }
        }
    }
    *used = i;
    if (p->state == S_DONE)
        return TG_H1R_DONE;
    return p->state == S_ERROR ? TG_H1R_ERROR : TG_H1R_MORE;
}

int
tg_h1r_eof(struct tg_h1r *p)
{
    if (p->state == S_BODY_CLOSE || p->state == S_DONE) {
        p->state = S_DONE;
        return TG_H1R_DONE;
    }
    p->state = S_ERROR;
    return TG_H1R_ERROR;
}
