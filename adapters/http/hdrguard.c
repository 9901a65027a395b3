/* hdrguard.c — bare CR / obs-fold / NUL header lines -> a marker header.
 * See hdrguard.h for why. */
#include "adapters/http/hdrguard.h"

#include <string.h>
#include <strings.h>

enum { HG_FIRST = 0, HG_HDR, HG_BODY, HG_PASS };

#define HG_MAX_LINE (80u * 1024u)   /* above libevent's 64 KiB header cap: it refuses first */

static const char marker[] = TG_HG_MARKER ": 1\r\n";

void
tg_hg_init(struct tg_hg *g)
{
    memset(g, 0, sizeof(*g));
    g->st = HG_FIRST;
}

/* Methods libevent reads a body for (evhttp_method_may_have_body); for the
 * others a Content-Length is not framing we can follow: pass-through. */
static bool
body_method(const char *l, size_t n)
{
    static const char *const m[] = { "POST ", "GET ", "PUT ", "PATCH ", "DELETE ", "OPTIONS " };

    for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
        size_t k = strlen(m[i]);
        if (n >= k && memcmp(l, m[i], k) == 0)
            return true;
    }
    return false;
}

/* Content-Length value: blanks, digits, blanks (CR LF excluded by caller). */
static void
content_length(struct tg_hg *g, const char *v, size_t n)
{
    size_t i = 0;
    uint64_t x = 0;
    bool any = false;

    g->ncl++;
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    for (; i < n && v[i] >= '0' && v[i] <= '9'; i++) {
        if (x > (UINT64_MAX - 9) / 10) {
            g->cl_bad = true;
            return;
        }
        x = x * 10 + (uint64_t)(v[i] - '0');
        any = true;
    }
    while (i < n && (v[i] == ' ' || v[i] == '\t'))
        i++;
    if (!any || i != n)
        g->cl_bad = true;
    g->cl = x;
}

/* One complete header-block line l[0..n) (n includes the LF): forbidden? */
static bool
line_bad(const char *l, size_t n)
{
    size_t body = n - 1;   /* without the LF */

    if (body > 0 && l[body - 1] == '\r')
        body--;            /* the CR of CRLF is the only CR allowed */
    if (l[0] == ' ' || l[0] == '\t')
        return true;       /* obs-fold */
    return memchr(l, '\r', body) != NULL || memchr(l, '\0', body) != NULL;
}

/* End of a header block: where does the next request start? */
static void
end_of_headers(struct tg_hg *g)
{
    if (g->te || g->cl_bad || g->ncl > 1 || (g->ncl == 1 && !g->body_method))
        g->st = HG_PASS;
    else if (g->ncl == 1 && g->cl > 0) {
        g->st = HG_BODY;
        g->left = g->cl;
    } else {
        g->st = HG_FIRST;
    }
}

enum bufferevent_filter_result
tg_hg_filter(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t dst_limit,
             enum bufferevent_flush_mode mode, void *ctx)
{
    struct tg_hg *g = ctx;
    bool moved = false;

    (void)dst_limit;   /* evhttp sets no read high-water mark on its bufferevent */
    (void)mode;
    while (evbuffer_get_length(src) > 0) {
        size_t len = evbuffer_get_length(src), n, eol = 0;
        struct evbuffer_ptr p;
        const char *l;

        if (g->st == HG_PASS) {
            evbuffer_add_buffer(dst, src);
            return BEV_OK;
        }
        if (g->st == HG_BODY) {
            n = g->left < len ? (size_t)g->left : len;
            if (evbuffer_remove_buffer(src, dst, n) != (int)n)
                return BEV_ERROR;
            g->left -= n;
            if (g->left == 0)
                g->st = HG_FIRST;
            moved = true;
            continue;
        }
        p = evbuffer_search_eol(src, NULL, &eol, EVBUFFER_EOL_LF);
        if (p.pos < 0) {
            if (len > HG_MAX_LINE) {
                g->st = HG_PASS;   /* libevent's header cap answers this one */
                continue;
            }
            break;                 /* wait for the rest of the line */
        }
        n = (size_t)p.pos + 1;
        l = (const char *)evbuffer_pullup(src, (ev_ssize_t)n);
        if (l == NULL)
            return BEV_ERROR;
        if (g->st == HG_FIRST) {
            if (!(n == 1 || (n == 2 && l[0] == '\r'))) {   /* blank lines before a request */
                tg_hg_init(g);
                g->body_method = body_method(l, n);
                g->st = HG_HDR;
            }
        } else if (n == 1 || (n == 2 && l[0] == '\r')) {
            end_of_headers(g);
        } else if (line_bad(l, n)) {
            if (evbuffer_drain(src, n) != 0 || evbuffer_add(dst, marker, sizeof(marker) - 1) != 0)
                return BEV_ERROR;
            moved = true;
            continue;
        } else if (n > 15 && strncasecmp(l, "content-length:", 15) == 0) {
            size_t vn = n - 15 - 1;
            if (vn > 0 && l[15 + vn - 1] == '\r')
                vn--;
            content_length(g, l + 15, vn);
        } else if (n > 18 && strncasecmp(l, "transfer-encoding:", 18) == 0) {
            g->te = true;
        }
        if (evbuffer_remove_buffer(src, dst, n) != (int)n)
            return BEV_ERROR;
        moved = true;
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
