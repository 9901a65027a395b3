/* hdrguard.c — strict HTTP/1.1 request framing in front of evhttp.
 * See hdrguard.h for why and how; docs/http.md for the rules. */
#include "adapters/http/hdrguard.h"
#include "engine/limits.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

enum {
    HG_HEAD = 0,   /* request line and header block, not yet passed */
    HG_BODY,       /* Content-Length body: left bytes pass as they are */
    HG_CSIZE,      /* waiting for a chunk-size line */
    HG_CDATA,      /* chunk data: left bytes pass as they are */
    HG_CCRLF,      /* the CRLF after chunk data */
    HG_TRAILER,    /* trailer fields after the last chunk */
    HG_DEAD        /* refused: everything else is dropped */
};

/* Reasons; index 0 is "none". */
enum {
    R_NONE = 0, R_LINE, R_VERSION, R_METHOD, R_FIELD, R_HDR_SIZE, R_HOST, R_CL, R_CLTE, R_TE,
    R_TE_CODING, R_CHUNK, R_TOO_LARGE, R_EXPECT, R_HEAD_BODY, R_RESERVED, R_COUNT
};

static const struct tg_hg_reason reasons[R_COUNT] = {
    [R_LINE]      = { "request-line", 400, "invalid_request",
                      "malformed request line (RFC 9112 section 3)" },
    [R_VERSION]   = { "version", 505, "http_version_not_supported",
                      "only HTTP/1.0 and HTTP/1.1 are served" },
    [R_METHOD]    = { "method", 405, "method_not_allowed", "method not allowed" },
    [R_FIELD]     = { "field", 400, "invalid_request",
                      "malformed header field: whitespace or control bytes in or around a name, "
                      "bare CR or LF, NUL, or obs-fold line folding (RFC 9112 section 5)" },
    [R_HDR_SIZE]  = { "header-size", 431, "request_header_fields_too_large",
                      "request header block too large" },
    [R_HOST]      = { "host", 400, "invalid_request",
                      "missing, repeated or invalid Host header (RFC 9112 section 3.2)" },
    [R_CL]        = { "content-length", 400, "invalid_request",
                      "invalid or repeated Content-Length (RFC 9112 section 6.3)" },
    [R_CLTE]      = { "cl-te", 400, "invalid_request",
                      "both Content-Length and Transfer-Encoding (RFC 9112 section 6.3)" },
    [R_TE]        = { "transfer-encoding", 400, "invalid_request",
                      "Transfer-Encoding must end in chunked, once, on HTTP/1.1 (RFC 9112 section 6.3)" },
    [R_TE_CODING] = { "transfer-coding", 501, "not_implemented",
                      "transfer codings other than chunked are not supported" },
    [R_CHUNK]     = { "chunked", 400, "invalid_request", "malformed chunked body (RFC 9112 section 7.1)" },
    [R_TOO_LARGE] = { "too-large", 413, "request_too_large", "request body too large" },
    [R_EXPECT]    = { "expect", 417, "expectation_failed", "only Expect: 100-continue is supported" },
    [R_HEAD_BODY] = { "head-body", 400, "invalid_request", "a HEAD request cannot have a body" },
    [R_RESERVED]  = { "reserved", 400, "invalid_request", "reserved header " TG_HG_MARKER },
};

void
tg_hg_init(struct tg_hg *g)
{
    memset(g, 0, sizeof(*g));
    g->st = HG_HEAD;
}

/* Per-request state back to the start; the buffers stay (emptied). */
static void
reset(struct tg_hg *g)
{
    struct evbuffer *hold = g->hold, *buf = g->buf;
    void (*hook)(void *, int) = g->hook;
    void *arg = g->hook_arg;

    tg_hg_init(g);
    g->hook = hook;
    g->hook_arg = arg;
    if (hold != NULL)
        evbuffer_drain(hold, evbuffer_get_length(hold));
    if (buf != NULL)
        evbuffer_drain(buf, evbuffer_get_length(buf));
    g->hold = hold;
    g->buf = buf;
}

void
tg_hg_free(struct tg_hg *g)
{
    if (g->hold != NULL)
        evbuffer_free(g->hold);
    if (g->buf != NULL)
        evbuffer_free(g->buf);
    g->hold = g->buf = NULL;
}

const struct tg_hg_reason *
tg_hg_reason(const char *v)
{
    for (int i = 1; v != NULL && i < R_COUNT; i++)
        if (strcmp(v, reasons[i].name) == 0)
            return &reasons[i];
    return NULL;
}

/* ---- grammar (RFC 9110 section 5.6, RFC 9112) ----------------------------- */

static bool
tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar / SP / HTAB: no CTL but HTAB, no DEL. */
static bool
vchar_ws(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool
digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static int
hexval(unsigned char c)
{
    if (digit(c))
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool
ieq(const char *a, size_t n, const char *lit)
{
    return n == strlen(lit) && strncasecmp(a, lit, n) == 0;
}

static bool authority_ok(const char *v, size_t n);

/* method SP request-target SP HTTP-version, single spaces, nothing else. */
static int
request_line(struct tg_hg *g, const char *l, size_t n)
{
    size_t i = 0, m, t0, tn;

    while (i < n && tchar((unsigned char)l[i]))
        i++;
    m = i;
    if (m == 0 || i >= n || l[i] != ' ')
        return R_LINE;
    t0 = ++i;
    while (i < n && l[i] > 0x20 && l[i] < 0x7f && strchr("\"<>\\^`{|}#", l[i]) == NULL)
        i++;
    tn = i - t0;
    if (tn == 0 || i >= n || l[i] != ' ')
        return R_LINE;
    i++;
    if (n - i != 8 || memcmp(l + i, "HTTP/", 5) != 0 || !digit((unsigned char)l[i + 5]) ||
        l[i + 6] != '.' || !digit((unsigned char)l[i + 7]))
        return R_LINE;
    if (l[i + 5] != '1' || (l[i + 7] != '0' && l[i + 7] != '1'))
        return R_VERSION;
    g->http10 = l[i + 7] == '0';
    /* evhttp is set to these three; its own refusal would be HTML. */
    if (!(m == 3 && memcmp(l, "GET", 3) == 0) && !(m == 4 && memcmp(l, "POST", 4) == 0) &&
        !(m == 4 && memcmp(l, "HEAD", 4) == 0))
        return R_METHOD;
    /* origin-form, or absolute-form (RFC 9112 3.2.2: a server must accept
     * it; the gateway answers 404), with an authority evhttp can parse. */
    if (l[t0] != '/') {
        size_t sch = tn > 7 && strncasecmp(l + t0, "http://", 7) == 0    ? 7
                   : tn > 8 && strncasecmp(l + t0, "https://", 8) == 0 ? 8 : 0;
        size_t a = t0 + sch, e = a;
        if (sch == 0)
            return R_LINE;
        while (e < t0 + tn && l[e] != '/' && l[e] != '?')
            e++;
        if (e == a || !authority_ok(l + a, e - a))
            return R_LINE;
        /* Passed on in origin-form (put_request_line): evhttp takes an
         * absolute URI for a proxy request and stops serving the
         * connection after it. */
        g->t0 = t0;
        g->tauth = e - t0;
    }
    g->head = m == 4 && memcmp(l, "HEAD", 4) == 0;
    return R_NONE;
}

/* uri-host [ ":" port ] (RFC 3986 3.2.2-3): a reg-name of unreserved,
 * sub-delims and %-escapes, or an IP-literal in brackets; a port of 1-5
 * digits up to 65535.  Used for Host and for an absolute-form target's
 * authority, which evhttp parses itself and answers in HTML if it cannot. */
static bool
authority_ok(const char *v, size_t n)
{
    size_t i = 0;

    if (n > 0 && v[0] == '[') {
        for (i = 1; i < n && v[i] != ']'; i++)
            if (!(hexval((unsigned char)v[i]) >= 0 || v[i] == ':' || v[i] == '.'))
                return false;
        if (i >= n || i == 1)
            return false;
        i++;
    } else {
        for (; i < n && v[i] != ':'; i++) {
            unsigned char c = (unsigned char)v[i];
            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit(c) ||
                  strchr("-._~%!$&'()*+,;=", c) != NULL))
                return false;
        }
    }
    if (i < n) {
        uint32_t port = 0;
        size_t d = 0;
        if (v[i++] != ':')
            return false;
        for (; i < n; i++, d++) {
            if (!digit((unsigned char)v[i]) || d >= 5)
                return false;
            port = port * 10 + (uint32_t)(v[i] - '0');
        }
        if (d == 0 || port > 65535)
            return false;
    }
    return true;
}

/* One Transfer-Encoding value: a list of codings.  Empty list elements are
 * ignored (RFC 9110 section 5.6.1.2); "chunked" takes no parameters. */
static int
transfer_encoding(struct tg_hg *g, const char *v, size_t n)
{
    size_t i = 0;

    /* evhttp frames by the first Transfer-Encoding only, as chunked when it
     * is exactly that word: anything else ("chunked" inside a longer list,
     * ",chunked") it would read as no body at all. */
    g->nte++;
    g->te_exact = g->nte == 1 && ieq(v, n, "chunked");
    while (i < n) {
        size_t s, e;
        while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        if (i >= n)
            break;
        s = i;
        while (i < n && tchar((unsigned char)v[i]))
            i++;
        e = i;
        if (e == s)
            return R_TE;
        g->ncodings++;
        if (ieq(v + s, e - s, "chunked")) {
            g->nchunked++;
            g->te_last_chunked = true;
        } else {
            g->te_unknown = true;
            g->te_last_chunked = false;
        }
        /* Parameters of another coding: skipped up to the next comma (any
         * such coding is refused anyway); on chunked a violation. */
        while (i < n && v[i] != ',') {
            if (g->te_last_chunked && v[i] != ' ' && v[i] != '\t')
                return R_TE;
            if (v[i] == '"')
                return R_TE;   /* quoted parameter values: not worth parsing to refuse */
            i++;
        }
    }
    return R_NONE;
}

/* One field line l[0..n) without its CRLF.  Header fields (not trailers)
 * also feed the framing checks. */
static int
field_line(struct tg_hg *g, const char *l, size_t n, bool header)
{
    size_t i = 0, nl, vs, ve;

    while (i < n && tchar((unsigned char)l[i]))
        i++;
    nl = i;
    /* No name, whitespace (obs-fold starts with it) or anything else
     * before the colon: RFC 9112 section 5.1 says reject. */
    if (nl == 0 || i >= n || l[i] != ':')
        return R_FIELD;
    for (i = nl + 1; i < n; i++)
        if (!vchar_ws((unsigned char)l[i]))
            return R_FIELD;   /* bare CR, NUL, other controls */
    vs = nl + 1;
    ve = n;
    while (vs < ve && (l[vs] == ' ' || l[vs] == '\t'))
        vs++;
    while (ve > vs && (l[ve - 1] == ' ' || l[ve - 1] == '\t'))
        ve--;
    if (ieq(l, nl, TG_HG_MARKER))
        return R_RESERVED;
    if (!header)
        return R_NONE;
    if (ieq(l, nl, "host")) {
        g->nhost++;
        if (!authority_ok(l + vs, ve - vs))
            return R_HOST;
    } else if (ieq(l, nl, "content-length")) {
        uint64_t x = 0;
        if (++g->ncl > 1 || ve == vs)
            return R_CL;
        for (size_t k = vs; k < ve; k++) {
            if (!digit((unsigned char)l[k]))
                return R_CL;
            if (x > TG_MAX_WIRE_BODY_BYTES)
                continue;   /* keep checking the digits; the size is refused below */
            x = x * 10 + (uint64_t)(l[k] - '0');
        }
        g->cl = x;
    } else if (ieq(l, nl, "transfer-encoding")) {
        return transfer_encoding(g, l + vs, ve - vs);
    } else if (ieq(l, nl, "expect")) {
        if (!ieq(l + vs, ve - vs, "100-continue"))
            return R_EXPECT;
        g->expect = true;
    }
    return R_NONE;
}

/* The whole header block is in: framing decided here (RFC 9112 6.3). */
static int
end_of_headers(struct tg_hg *g)
{
    if (g->nhost > 1 || (!g->http10 && g->nhost != 1))
        return R_HOST;
    if (g->nte > 0) {
        if (g->ncl > 0)
            return R_CLTE;
        if (g->http10 || g->nchunked != 1 || !g->te_last_chunked)
            return R_TE;
        if (g->te_unknown)
            return R_TE_CODING;
        if (g->nte != 1 || !g->te_exact)
            return R_TE;
        if (g->head)
            return R_HEAD_BODY;
        return R_NONE;
    }
    if (g->ncl > 0 && g->cl > TG_MAX_WIRE_BODY_BYTES)
        return R_TOO_LARGE;
    if (g->ncl > 0 && g->cl > 0 && g->head)
        return R_HEAD_BODY;   /* evhttp reads no HEAD body: it would be a next request */
    return R_NONE;
}

/* chunk-size [ chunk-ext ], l[0..n) without CRLF: 1*HEXDIG, then
 * *( BWS ";" BWS token [ BWS "=" BWS ( token / quoted-string ) ] ). */
static int
chunk_size(const char *l, size_t n, uint64_t *size)
{
    size_t i = 0;
    uint64_t x = 0;
    int h;

    while (i < n && (h = hexval((unsigned char)l[i])) >= 0) {
        if (x > TG_MAX_WIRE_BODY_BYTES)
            return R_TOO_LARGE;
        x = x * 16 + (uint64_t)h;
        i++;
    }
    if (i == 0)
        return R_CHUNK;
    while (i < n) {
#define BWS() while (i < n && (l[i] == ' ' || l[i] == '\t')) i++
        BWS();
        if (i >= n || l[i] != ';')
            return R_CHUNK;
        i++;
        BWS();
        if (i >= n || !tchar((unsigned char)l[i]))
            return R_CHUNK;
        while (i < n && tchar((unsigned char)l[i]))
            i++;
        BWS();
        if (i < n && l[i] == '=') {
            i++;
            BWS();
            if (i < n && l[i] == '"') {
                for (i++; i < n && l[i] != '"'; i++) {
                    if (l[i] == '\\')
                        i++;
                    if (i >= n || !vchar_ws((unsigned char)l[i]))
                        return R_CHUNK;
                }
                if (i >= n)
                    return R_CHUNK;
                i++;
            } else {
                if (i >= n || !tchar((unsigned char)l[i]))
                    return R_CHUNK;
                while (i < n && tchar((unsigned char)l[i]))
                    i++;
            }
        }
#undef BWS
    }
    *size = x;
    return R_NONE;
}

/* ---- refusal ------------------------------------------------------------------ */

static bool
copy_line(const char *l, size_t n)
{
    static const char *const keep[] = { "authorization:", "x-task-category:", "x-feature-id:" };

    for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
        size_t k = strlen(keep[i]);
        if (n >= k && strncasecmp(l, keep[i], k) == 0)
            return true;
    }
    return false;
}

/* The request line b[0..n) (with CRLF) into out, an absolute-form target
 * cut down to its path and query. */
static int
put_request_line(const struct tg_hg *g, const char *b, size_t n, struct evbuffer *out)
{
    size_t rest;

    if (g->tauth == 0)
        return evbuffer_add(out, b, n);
    rest = g->t0 + g->tauth;
    if (evbuffer_add(out, b, g->t0) != 0 || (b[rest] != '/' && evbuffer_add(out, "/", 1) != 0))
        return -1;
    return evbuffer_add(out, b + rest, n - rest);
}

/* The synthetic refused request into dst, from the checked header bytes
 * b[0..n) (whole CRLF lines; rl_ok: the first is a valid request line). */
static int
refusal(const struct tg_hg *g, struct evbuffer *dst, const char *b, size_t n, int why, bool rl_ok)
{
    int rc = 0;

    if (rl_ok) {
        size_t i = 0;
        bool first = true;
        while (i < n) {
            const char *e = memchr(b + i, '\n', n - i);
            size_t k = e != NULL ? (size_t)(e - (b + i)) + 1 : n - i;
            if (first)
                rc |= put_request_line(g, b, k, dst);
            else if (copy_line(b + i, k))
                rc |= evbuffer_add(dst, b + i, k);
            first = false;
            i += k;
        }
    } else {
        rc |= evbuffer_add_printf(dst, "GET /__tollgate/refused HTTP/1.1\r\n") < 0;
    }
    rc |= evbuffer_add_printf(dst, "%s: %s\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
                              TG_HG_MARKER, reasons[why].name) < 0;
    return rc;
}

/* Refused in the request line or header block: src holds g->off checked
 * bytes at its head.  Everything else on the connection is dropped. */
static int
refuse_head(struct tg_hg *g, struct evbuffer *src, struct evbuffer *dst, int why, bool rl_ok)
{
    const char *b = g->off > 0 ? (const char *)evbuffer_pullup(src, (ev_ssize_t)g->off) : "";
    int rc;

    if (b == NULL)
        return -1;
    rc = refusal(g, dst, b, g->off, why, rl_ok && g->off > 0);
    evbuffer_drain(src, evbuffer_get_length(src));
    g->st = HG_DEAD;
    return rc;
}

/* Refused inside a chunked body: nothing of the request went to evhttp
 * yet (g->hold has its header lines). */
static int
refuse_body(struct tg_hg *g, struct evbuffer *src, struct evbuffer *dst, int why)
{
    size_t n = evbuffer_get_length(g->hold);
    const char *b = (const char *)evbuffer_pullup(g->hold, -1);
    int rc;

    g->tauth = 0;   /* the held request line is in origin-form already */
    rc = b == NULL ? -1 : refusal(g, dst, b, n, why, true);

    evbuffer_drain(src, evbuffer_get_length(src));
    g->st = HG_DEAD;
    return rc;
}

/* End of a valid header block of a chunked request: its lines without
 * Transfer-Encoding and Expect go to g->hold, to be passed on with a
 * Content-Length once the whole body is in and valid. */
static int
hold_headers(struct tg_hg *g, struct evbuffer *src)
{
    const char *b = (const char *)evbuffer_pullup(src, (ev_ssize_t)g->off);
    size_t i = 0;

    if (b == NULL)
        return -1;
    if ((g->hold == NULL && (g->hold = evbuffer_new()) == NULL) ||
        (g->buf == NULL && (g->buf = evbuffer_new()) == NULL))
        return -1;
    while (i < g->off) {
        const char *e = memchr(b + i, '\n', g->off - i);
        size_t k = (size_t)(e - (b + i)) + 1;
        if (i == 0) {
            if (put_request_line(g, b, k, g->hold) != 0)
                return -1;
        } else if (!(k > 18 && strncasecmp(b + i, "transfer-encoding:", 18) == 0) &&
                   !(k > 7 && strncasecmp(b + i, "expect:", 7) == 0) && evbuffer_add(g->hold, b + i, k) != 0) {
            return -1;
        }
        i += k;
    }
    return evbuffer_drain(src, g->off + 2);
}

/* The next CRLF-terminated line at src offset off: its length with the
 * CRLF in *n, a pointer to it, or NULL (not complete yet: *n = 0; a bare
 * LF: *n = 1). */
static const char *
next_line(struct evbuffer *src, size_t off, size_t *n)
{
    struct evbuffer_ptr start, p;
    size_t eol = 0;
    const char *b;

    *n = 0;
    if (evbuffer_ptr_set(src, &start, off, EVBUFFER_PTR_SET) != 0)
        return NULL;
    p = evbuffer_search_eol(src, &start, &eol, EVBUFFER_EOL_LF);
    if (p.pos < 0)
        return NULL;
    b = (const char *)evbuffer_pullup(src, p.pos + 1);
    if (b == NULL)
        return NULL;
    if ((size_t)p.pos == off || b[p.pos - 1] != '\r') {
        *n = 1;   /* RFC 9112 2.2 lets a recipient accept a bare LF; we do not */
        return NULL;
    }
    *n = (size_t)p.pos + 1 - off;
    return b + off;
}

/* ---- the filter ---------------------------------------------------------------- */

enum bufferevent_filter_result
tg_hg_filter(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t dst_limit,
             enum bufferevent_flush_mode mode, void *ctx)
{
    struct tg_hg *g = ctx;
    bool moved = false;

    (void)dst_limit;   /* evhttp sets no read high-water mark on its bufferevent */
    (void)mode;
    if (g->st >= HG_CSIZE && g->st <= HG_TRAILER && evbuffer_get_length(src) > 0 && g->hook != NULL)
        g->hook(g->hook_arg, TG_HG_PROGRESS);
    for (;;) {
        size_t len = evbuffer_get_length(src), n = 0;
        const char *l;
        int why;

        if (len == 0)
            break;
        switch (g->st) {
        case HG_DEAD:
            evbuffer_drain(src, len);
            return moved ? BEV_OK : BEV_NEED_MORE;

        case HG_BODY:
            n = g->left < len ? (size_t)g->left : len;
            if (evbuffer_remove_buffer(src, dst, n) != (int)n)
                return BEV_ERROR;
            g->left -= n;
            if (g->left == 0)
                g->st = HG_HEAD;
            moved = true;
            continue;

        case HG_CDATA:
            n = g->left < len ? (size_t)g->left : len;
            if (evbuffer_remove_buffer(src, g->buf, n) != (int)n)
                return BEV_ERROR;
            g->left -= n;
            if (g->left == 0)
                g->st = HG_CCRLF;
            continue;

        case HG_HEAD:
            l = next_line(src, g->off, &n);
            if (l == NULL && n == 0) {
                if (len > TG_MAX_HEADER_BLOCK) {
                    if (refuse_head(g, src, dst, R_HDR_SIZE, g->lines > 0) != 0)
                        return BEV_ERROR;
                    return BEV_OK;
                }
                return moved ? BEV_OK : BEV_NEED_MORE;   /* wait for the rest of the line */
            }
            why = R_NONE;
            if (l == NULL)
                why = g->lines == 0 ? R_LINE : R_FIELD;   /* bare LF */
            else if (g->off + n > TG_MAX_HEADER_BLOCK)
                why = R_HDR_SIZE;
            else if (g->lines == 0 && n == 2) {
                /* Empty lines before a request line: a few are ignored (RFC 9112 2.2). */
                evbuffer_drain(src, 2);
                if (++g->blank > 8)
                    why = R_LINE;
                else
                    continue;
            } else if (g->lines == 0) {
                why = request_line(g, l, n - 2);
            } else if (n == 2) {
                why = end_of_headers(g);
                if (why == R_NONE && g->nte > 0) {
                    /* Chunked: held whole (see hdrguard.h), so a bad chunk
                     * is still a refusal evhttp can be told about. */
                    if (hold_headers(g, src) != 0)
                        return BEV_ERROR;
                    g->st = HG_CSIZE;
                    g->off = 0;
                    /* evhttp's rule: an interim 100 only while no body byte is here. */
                    if (g->expect && !g->http10 && evbuffer_get_length(src) == 0 && g->hook != NULL)
                        g->hook(g->hook_arg, TG_HG_CONTINUE);
                    continue;
                }
                if (why == R_NONE) {
                    size_t all = g->off + 2;
                    uint64_t cl = g->ncl ? g->cl : 0;
                    if (g->tauth != 0) {
                        const char *b = (const char *)evbuffer_pullup(src, (ev_ssize_t)all);
                        const char *e = b != NULL ? memchr(b, '\n', all) : NULL;
                        size_t k = e != NULL ? (size_t)(e - b) + 1 : 0;
                        if (k == 0 || put_request_line(g, b, k, dst) != 0 ||
                            evbuffer_add(dst, b + k, all - k) != 0)
                            return BEV_ERROR;
                        evbuffer_drain(src, all);
                    } else if (evbuffer_remove_buffer(src, dst, all) != (int)all) {
                        return BEV_ERROR;
                    }
                    reset(g);
                    if (cl > 0) {
                        g->st = HG_BODY;
                        g->left = cl;
                    }
                    moved = true;
                    continue;
                }
            } else {
                why = field_line(g, l, n - 2, true);
            }
            if (why != R_NONE) {
                /* The request line is fine when a later line is at fault,
                 * unless the request line itself was the reason. */
                bool rl_ok = g->lines > 0 && why != R_LINE && why != R_VERSION && why != R_METHOD;
                if (refuse_head(g, src, dst, why, rl_ok) != 0)
                    return BEV_ERROR;
                return BEV_OK;
            }
            g->off += n;
            g->lines++;
            continue;

        case HG_CSIZE: {
            uint64_t size = 0;
            l = next_line(src, 0, &n);
            if (l == NULL && n == 0) {
                if (len <= TG_MAX_CHUNK_LINE)
                    return moved ? BEV_OK : BEV_NEED_MORE;
                why = R_CHUNK;
            } else if (l == NULL || n - 2 > TG_MAX_CHUNK_LINE) {
                why = R_CHUNK;
            } else {
                why = chunk_size(l, n - 2, &size);
                if (why == R_NONE && g->body + size > TG_MAX_WIRE_BODY_BYTES)
                    why = R_TOO_LARGE;
            }
            if (why != R_NONE)
                return refuse_body(g, src, dst, why) == 0 ? BEV_OK : BEV_ERROR;
            evbuffer_drain(src, n);
            if (size == 0) {
                g->st = HG_TRAILER;
                g->off = 0;
                continue;
            }
            g->body += size;
            g->left = size;
            g->st = HG_CDATA;
            continue;
        }

        case HG_CCRLF: {
            const char *c;
            if (len < 2)
                return moved ? BEV_OK : BEV_NEED_MORE;
            c = (const char *)evbuffer_pullup(src, 2);
            if (c == NULL)
                return BEV_ERROR;
            if (c[0] != '\r' || c[1] != '\n')
                return refuse_body(g, src, dst, R_CHUNK) == 0 ? BEV_OK : BEV_ERROR;
            evbuffer_drain(src, 2);
            g->st = HG_CSIZE;
            continue;
        }

        case HG_TRAILER:
            /* Checked like header fields, then dropped: nothing here is
             * used, and evhttp would add them to the request's headers. */
            l = next_line(src, 0, &n);
            if (l == NULL && n == 0) {
                if (g->off + len <= TG_MAX_HEADER_BLOCK)
                    return moved ? BEV_OK : BEV_NEED_MORE;
                why = R_HDR_SIZE;
            } else if (l == NULL) {
                why = R_FIELD;
            } else if (g->off + n > TG_MAX_HEADER_BLOCK) {
                why = R_HDR_SIZE;
            } else if (n == 2) {
                /* The whole request, framed by Content-Length now. */
                evbuffer_drain(src, 2);
                if (evbuffer_add_buffer(dst, g->hold) != 0 ||
                    evbuffer_add_printf(dst, "Content-Length: %zu\r\n\r\n", evbuffer_get_length(g->buf)) < 0 ||
                    evbuffer_add_buffer(dst, g->buf) != 0)
                    return BEV_ERROR;
                reset(g);
                moved = true;
                continue;
            } else {
                why = field_line(g, l, n - 2, false);
            }
            if (why != R_NONE)
                return refuse_body(g, src, dst, why) == 0 ? BEV_OK : BEV_ERROR;
            evbuffer_drain(src, n);
            g->off += n;
            continue;
        }
    }
    return moved ? BEV_OK : BEV_NEED_MORE;
}

enum bufferevent_filter_result
tg_hg_pass(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t dst_limit,
           enum bufferevent_flush_mode mode, void *ctx)
{
    (void)dst_limit;
    (void)mode;
    (void)ctx;
    /* Moves chains, copies nothing. */
    return evbuffer_add_buffer(dst, src) == 0 ? BEV_OK : BEV_ERROR;
}
