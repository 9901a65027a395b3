/*
 * upstream.c — the in-loop plain-HTTP/1.1 client (upstream.h).
 *
 * A connection is either idle (in the pool, EV_READ armed so that a peer
 * close or stray byte retires it at once, instead of a poll() before each
 * reuse) or owned by one request.  Requests never pipeline.  No callback
 * runs from inside tg_up_start(): errors found there are delivered from the
 * loop through event_active().
 */
#include "adapters/http/upstream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define UP_IDLE_MAX      256u     /* idle connections kept per pool (per loop) */
#define UP_IDLE_SECONDS  30       /* below the keep-alive timeout of common servers
                                     (nginx 75 s, Node 5 s is the outlier: the
                                     stale-connection retry covers it) */
#define UP_RBUF          16384u

struct tg_up_conn {
    struct tg_up_pool *pool;
    int                fd;
    struct event       ev;          /* EV_READ|EV_PERSIST, + EV_WRITE while connecting/sending */
    bool               ev_write;    /* EV_WRITE currently armed */
    struct event       idle_timer;
    struct sockaddr_storage addr;
    socklen_t          alen;
    bool               connecting;
    bool               reused;      /* served a request before */
    enum tg_up_result  pending;     /* error to deliver from the loop (TG_UP_OK: none) */
    struct tg_up_req  *rq;          /* NULL while idle */
    struct tg_h1r      parser;
    TAILQ_ENTRY(tg_up_conn) idle_link;
    LIST_ENTRY(tg_up_conn)  all_link;
};

struct tg_up_pool {
    struct event_base *base;
    TAILQ_HEAD(, tg_up_conn) idle;   /* most recently used first */
    uint32_t           nidle;
    LIST_HEAD(, tg_up_conn) all;
    char               rbuf[UP_RBUF];
};

static void on_io(evutil_socket_t fd, short what, void *arg);

static int64_t
mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- URL --------------------------------------------------------------------- */

struct up_url {
    struct sockaddr_storage addr;
    socklen_t   alen;
    const char *authority;   /* host[:port] as written, for Host: */
    size_t      authority_len;
    const char *path;        /* "/..." or "" (then "/") */
};

static bool
parse_url(const char *url, struct up_url *u)
{
    const char *h, *he, *p, *port = NULL;
    char host[64];
    unsigned long pn = 80;
    size_t hl;

    if (strncasecmp(url, "http://", 7) != 0)
        return false;
    h = url + 7;
    p = h + strcspn(h, "/?#");
    u->authority = h;
    u->authority_len = (size_t)(p - h);
    if (memchr(h, '@', (size_t)(p - h)) != NULL)
        return false;   /* credentials in the URL: libcurl's job */
    if (*h == '[') {
        he = memchr(h, ']', (size_t)(p - h));
        if (he == NULL)
            return false;
        hl = (size_t)(he - h - 1);
        if (hl == 0 || hl >= sizeof(host))
            return false;
        memcpy(host, h + 1, hl);
        he++;
    } else {
        he = h;
        while (he < p && *he != ':')
            he++;
        hl = (size_t)(he - h);
        if (hl == 0 || hl >= sizeof(host))
            return false;
        memcpy(host, h, hl);
    }
    host[hl] = '\0';
    if (he < p) {
        char *end;
        if (*he != ':')
            return false;
        port = he + 1;
        if (port == p)
            return false;
        for (const char *c = port; c < p; c++)
            if (*c < '0' || *c > '9')
                return false;
        pn = strtoul(port, &end, 10);
        if (pn == 0 || pn > 65535)
            return false;
    }
    if (*p != '\0' && *p != '/')
        return false;   /* "?query" straight after the host */
    for (const char *c = p; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f)
            return false;
    u->path = p;
    memset(&u->addr, 0, sizeof(u->addr));
    if (strcasecmp(host, "localhost") == 0)
        strcpy(host, "127.0.0.1");
    {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&u->addr;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&u->addr;
        if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
            a4->sin_family = AF_INET;
            a4->sin_port = htons((uint16_t)pn);
            u->alen = sizeof(*a4);
        } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
            a6->sin6_family = AF_INET6;
            a6->sin6_port = htons((uint16_t)pn);
            u->alen = sizeof(*a6);
        } else {
            return false;   /* a name: needs a resolver */
        }
    }
    return true;
}

bool
tg_up_eligible(const char *url)
{
    struct up_url u;
    return url != NULL && parse_url(url, &u);
}

/* ---- connections --------------------------------------------------------- */

static void
conn_set_write(struct tg_up_conn *c, bool on)
{
    if (c->ev_write == on)
        return;
    event_del(&c->ev);
    event_assign(&c->ev, c->pool->base, c->fd, (short)(EV_READ | EV_PERSIST | (on ? EV_WRITE : 0)), on_io, c);
    event_add(&c->ev, NULL);
    c->ev_write = on;
}

/* Drop a connection that is not in the idle list (owned by a request). */
static void
conn_drop(struct tg_up_conn *c)
{
    event_del(&c->ev);
    event_del(&c->idle_timer);
    LIST_REMOVE(c, all_link);
    if (c->fd >= 0)
        close(c->fd);
    free(c);
}

/* Close an idle connection. */
static void
conn_close(struct tg_up_conn *c)
{
    TAILQ_REMOVE(&c->pool->idle, c, idle_link);
    c->pool->nidle--;
    conn_drop(c);
}

static void
on_idle_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    conn_close(arg);
}

static struct tg_up_conn *
conn_new(struct tg_up_pool *pool, const struct sockaddr_storage *addr, socklen_t alen)
{
    struct tg_up_conn *c = calloc(1, sizeof(*c));
    int one = 1;

    if (c == NULL)
        return NULL;
    c->pool = pool;
    c->fd = socket(addr->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        free(c);
        return NULL;
    }
    /* Request and answer are each one write: Nagle would only add delay. */
    (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    memcpy(&c->addr, addr, alen);
    c->alen = alen;
    LIST_INSERT_HEAD(&pool->all, c, all_link);
    evtimer_assign(&c->idle_timer, pool->base, on_idle_timeout, c);
    c->connecting = true;
    if (connect(c->fd, (const struct sockaddr *)addr, alen) == 0)
        c->connecting = false;
    else if (errno != EINPROGRESS)
        c->pending = TG_UP_CONNECT;
    event_assign(&c->ev, pool->base, c->fd, (short)(EV_READ | EV_WRITE | EV_PERSIST), on_io, c);
    c->ev_write = true;
    if (c->pending == TG_UP_OK)
        event_add(&c->ev, NULL);
    return c;
}

/* ---- requests ------------------------------------------------------------ */



static void
rq_arm_timer(struct tg_up_req *rq)
{
    int64_t now = mono_ms(), due = rq->deadline_ms;
    struct timeval tv;

    if (rq->conn != NULL && rq->conn->connecting) {
        int64_t c = now + rq->connect_ms;
        if (due == 0 || c < due)
            due = c;
    }
    if (due == 0) {
        if (rq->timer_set)
            event_del(&rq->timer);
        rq->timer_set = false;
        return;
    }
    due -= now;
    if (due < 0)
        due = 0;
    tv.tv_sec = due / 1000;
    tv.tv_usec = (due % 1000) * 1000;
    event_add(&rq->timer, &tv);
    rq->timer_set = true;
}

/* Make rq inactive and part it from its connection, which it returns (or
 * NULL); the caller decides the connection's fate.  No callback. */
static struct tg_up_conn *
rq_detach(struct tg_up_req *rq)
{
    struct tg_up_conn *c = rq->conn;

    if (rq->timer_set)
        event_del(&rq->timer);
    rq->timer_set = false;
    rq->active = false;
    rq->conn = NULL;
    free(rq->head);
    rq->head = NULL;
    if (c != NULL)
        c->rq = NULL;
    return c;
}

/* End the request: the connection goes back to the pool (keep) or is
 * closed; then the one callback.  Nothing of rq is touched after on_done. */
static void
rq_end(struct tg_up_req *rq, enum tg_up_result res, bool keep)
{
    const struct tg_up_cbs *cbs = rq->cbs;
    void *ud = rq->ud;
    struct tg_up_conn *c = rq_detach(rq);

    if (c != NULL) {
        if (keep && c->pool->nidle < UP_IDLE_MAX) {
            struct timeval tv = { UP_IDLE_SECONDS, 0 };
            c->reused = true;
            conn_set_write(c, false);
            TAILQ_INSERT_HEAD(&c->pool->idle, c, idle_link);
            c->pool->nidle++;
            event_add(&c->idle_timer, &tv);
        } else {
            conn_drop(c);
        }
    }
    if (cbs->on_done)
        cbs->on_done(ud, res);
}

/* Send what is left; false on a write error (errno set). */
static bool
rq_send(struct tg_up_req *rq)
{
    struct tg_up_conn *c = rq->conn;

    while (rq->sent < rq->head_len + rq->body_len) {
        struct iovec iov[2];
        int n = 0;
        ssize_t w;
        if (rq->sent < rq->head_len) {
            iov[n].iov_base = rq->head + rq->sent;
            iov[n++].iov_len = rq->head_len - rq->sent;
            if (rq->body_len > 0) {
                iov[n].iov_base = (void *)rq->body;
                iov[n++].iov_len = rq->body_len;
            }
        } else {
            iov[n].iov_base = (void *)(rq->body + (rq->sent - rq->head_len));
            iov[n++].iov_len = rq->body_len - (rq->sent - rq->head_len);
        }
        {
            /* sendmsg for MSG_NOSIGNAL: a peer that hung up must not SIGPIPE
             * the process, whatever its signal disposition. */
            struct msghdr mh;
            memset(&mh, 0, sizeof(mh));
            mh.msg_iov = iov;
            mh.msg_iovlen = (size_t)n;
            w = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
        }
        if (w < 0) {
            if (errno == EINTR)
                continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                conn_set_write(c, true);
                return true;
            }
            return false;
        }
        rq->sent += (size_t)w;
    }
    conn_set_write(c, false);
    return true;
}

/* Attach rq to a connection to `addr` (idle one first) and start sending.
 * Returns false only when no connection could be made at all. */
static bool
rq_attach(struct tg_up_req *rq, const struct sockaddr_storage *addr, socklen_t alen, bool fresh)
{
    struct tg_up_pool *pool = rq->pool;
    struct tg_up_conn *c = NULL;

    if (!fresh) {
        TAILQ_FOREACH(c, &pool->idle, idle_link)
            if (c->alen == alen && memcmp(&c->addr, addr, alen) == 0)
                break;
    }
    if (c != NULL) {
        TAILQ_REMOVE(&pool->idle, c, idle_link);
        pool->nidle--;
        event_del(&c->idle_timer);
    } else if ((c = conn_new(pool, addr, alen)) == NULL) {
        return false;
    }
    c->rq = rq;
    rq->conn = c;
    rq->parser = &c->parser;
    tg_h1r_init(&c->parser);
    rq->sent = 0;
    if (c->pending != TG_UP_OK) {
        event_active(&c->ev, EV_WRITE, 0);   /* delivered from the loop */
        return true;
    }
    if (!c->connecting && !rq_send(rq)) {
        if (c->reused && !rq->retried) {
            /* The peer closed this keep-alive connection meanwhile. */
            rq->retried = true;
            conn_drop(c);
            rq->conn = NULL;
            return rq_attach(rq, addr, alen, true);
        }
        c->pending = TG_UP_RESET;
        event_active(&c->ev, EV_WRITE, 0);
    }
    return true;
}

static void
on_rq_timer(evutil_socket_t fd, short what, void *arg)
{
    struct tg_up_req *rq = arg;

    (void)fd;
    (void)what;
    rq->timer_set = false;
    rq_end(rq, TG_UP_TIMEOUT, false);
}

static int
p_head(void *ud, int status, const char *ra)
{
    struct tg_up_req *rq = ud;
    return rq->cbs->on_head ? rq->cbs->on_head(rq->ud, status, ra) : 0;
}

static int
p_body(void *ud, const char *p, size_t n)
{
    struct tg_up_req *rq = ud;
    return rq->cbs->on_body ? rq->cbs->on_body(rq->ud, p, n) : 0;
}

static const struct tg_h1r_cbs parser_cbs = { p_head, p_body };

/* The connection died before a byte of the answer: a reused keep-alive
 * connection the peer had closed gets one fresh try. */
static void
rq_broken(struct tg_up_req *rq, enum tg_up_result res)
{
    struct tg_up_conn *c = rq->conn;

    if (c->reused && !rq->retried && tg_h1r_pristine(&c->parser)) {
        struct sockaddr_storage addr = c->addr;
        socklen_t alen = c->alen;
        rq->retried = true;
        conn_drop(c);
        rq->conn = NULL;
        if (rq_attach(rq, &addr, alen, true)) {
            rq_arm_timer(rq);
            return;
        }
        res = TG_UP_CONNECT;
    }
    rq_end(rq, res, false);
}

static void
on_io(evutil_socket_t fd, short what, void *arg)
{
    struct tg_up_conn *c = arg;
    struct tg_up_req *rq = c->rq;
    struct tg_up_pool *pool = c->pool;
    ssize_t n;

    if (rq == NULL) {
        /* Idle and readable: closed by the peer, or talking out of turn. */
        conn_close(c);
        return;
    }
    if (c->pending != TG_UP_OK) {
        enum tg_up_result res = c->pending;
        c->pending = TG_UP_OK;
        if (res == TG_UP_CONNECT && rq->conn == c) {
            rq_end(rq, TG_UP_CONNECT, false);
            return;
        }
        rq_broken(rq, res);
        return;
    }
    if (c->connecting) {
        int err = 0;
        socklen_t el = sizeof(err);
        if (!(what & EV_WRITE) && !(what & EV_READ))
            return;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) != 0 || err != 0) {
            rq_end(rq, TG_UP_CONNECT, false);
            return;
        }
        c->connecting = false;
        rq_arm_timer(rq);   /* from the connect bound to the total one */
        what |= EV_WRITE;
    }
    if ((what & EV_WRITE) && rq->sent < rq->head_len + rq->body_len) {
        if (!rq_send(rq)) {
            rq_broken(rq, TG_UP_RESET);
            return;
        }
    }
    if (!(what & EV_READ))
        return;
    n = read(fd, pool->rbuf, sizeof(pool->rbuf));
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return;
        rq_broken(rq, TG_UP_RESET);
        return;
    }
    if (n == 0) {
        if (tg_h1r_pristine(&c->parser)) {
            rq_broken(rq, TG_UP_RESET);
            return;
        }
        rq_end(rq, tg_h1r_eof(&c->parser) == TG_H1R_DONE ? TG_UP_OK : TG_UP_RESET, false);
        return;
    }
    {
        size_t used = 0;
        int rc = tg_h1r_feed(&c->parser, pool->rbuf, (size_t)n, &used, &parser_cbs, rq);
        switch (rc) {
        case TG_H1R_MORE:
            return;
        case TG_H1R_DONE:
            /* Reusable only if the answer ended exactly here, the request
             * was fully sent and nobody said close. */
            rq_end(rq, TG_UP_OK, used == (size_t)n && !c->parser.close &&
                                   rq->sent == rq->head_len + rq->body_len);
            return;
        case TG_H1R_ABORT:
            rq_end(rq, TG_UP_ABORTED, false);
            return;
        default:
            rq_end(rq, TG_UP_BAD_RESPONSE, false);
            return;
        }
    }
}

int
tg_up_start(struct tg_up_pool *pool, struct tg_up_req *rq, const char *url,
            const char *const *headers, uint32_t nheaders, const char *body, size_t body_len,
            uint32_t connect_ms, uint32_t total_ms, const struct tg_up_cbs *cbs, void *ud)
{
    struct up_url u;
    size_t hl;
    char *h;
    int n;

    memset(rq, 0, sizeof(*rq));
    if (!parse_url(url, &u))
        return -1;
    hl = strlen(u.path) + u.authority_len + 96;
    for (uint32_t i = 0; i < nheaders; i++) {
        if (strpbrk(headers[i], "\r\n") != NULL)
            return -1;
        hl += strlen(headers[i]) + 2;
    }
    if ((h = malloc(hl)) == NULL)
        return -1;
    n = snprintf(h, hl, "POST %s HTTP/1.1\r\nHost: %.*s\r\n", u.path[0] ? u.path : "/",
                 (int)u.authority_len, u.authority);
    for (uint32_t i = 0; i < nheaders && n > 0; i++) {
        size_t k = strlen(headers[i]);
        memcpy(h + n, headers[i], k);
        memcpy(h + n + k, "\r\n", 2);
        n += (int)k + 2;
    }
    if (n > 0)
        n += snprintf(h + n, hl - (size_t)n, "Content-Length: %zu\r\n\r\n", body_len);
    if (n <= 0 || (size_t)n >= hl) {
        free(h);
        return -1;
    }
    rq->pool = pool;
    rq->cbs = cbs;
    rq->ud = ud;
    rq->head = h;
    rq->head_len = (size_t)n;
    rq->body = body;
    rq->body_len = body_len;
    rq->connect_ms = connect_ms ? connect_ms : 30000;
    rq->deadline_ms = total_ms ? mono_ms() + total_ms : 0;
    rq->active = true;
    evtimer_assign(&rq->timer, pool->base, on_rq_timer, rq);
    if (!rq_attach(rq, &u.addr, u.alen, false)) {
        free(h);
        rq->head = NULL;
        rq->active = false;
        return -1;
    }
    rq_arm_timer(rq);
    return 0;
}

void
tg_up_cancel(struct tg_up_req *rq)
{
    struct tg_up_conn *c;

    if (rq == NULL || !rq->active)
        return;
    if ((c = rq_detach(rq)) != NULL)
        conn_drop(c);   /* mid-exchange: the connection's state is unknown */
}

/* ---- pool ------------------------------------------------------------------ */

int
tg_up_pool_new(struct event_base *base, struct tg_up_pool **out)
{
    struct tg_up_pool *p = calloc(1, sizeof(*p));

    if (p == NULL)
        return -1;
    p->base = base;
    TAILQ_INIT(&p->idle);
    LIST_INIT(&p->all);
    *out = p;
    return 0;
}

void
tg_up_pool_free(struct tg_up_pool *pool)
{
    struct tg_up_conn *c;

    if (pool == NULL)
        return;
    while ((c = LIST_FIRST(&pool->all)) != NULL) {
        if (c->rq != NULL) {
            (void)rq_detach(c->rq);
            conn_drop(c);
        } else {
            conn_close(c);
        }
    }
    free(pool);
}

uint32_t
tg_up_pool_idle(const struct tg_up_pool *pool)
{
    return pool ? pool->nidle : 0;
}
