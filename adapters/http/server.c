/*
 * server.c — tollgate serve: start (listen lock, audit and capture opened,
 * loops started), signals, drain, stop. The request path is split by
 * responsibility: gw_intake.c (doors, auth, decision), gw_attempt.c
 * (upstream attempts and what follows them), gw_reply.c (answers, streams,
 * errors, audit entry), gw_loop.c (event loops, connections, curl on the
 * loop), gw_reload.c (policy snapshots, reload), gw_telemetry.c.
 */
#include "adapters/http/gw_int.h"

struct gw tg__gw;

static void on_stop(evutil_socket_t fd, short what, void *arg);
static void on_tls_refused(const char *reason);
static int listen_lock(const char *host, uint16_t port, struct tg_err *err);
static void mkdir_parent(const char *path);


int
tg_gw_parse_listen(const char *s, char *host, size_t hostlen, uint16_t *port)
{
    const char *colon;
    char *end;
    long v;
    size_t hl;

    if (s == NULL || *s == '\0')
        return TG_EINVAL;
    if (s[0] == '[') {
        const char *rb = strchr(s, ']');
        if (rb == NULL || rb[1] != ':')
            return TG_EINVAL;
        hl = (size_t)(rb - s - 1);
        if (hl + 1 > hostlen)
            return TG_EINVAL;
        memcpy(host, s + 1, hl);
        host[hl] = '\0';
        colon = rb + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return TG_EINVAL;
        hl = (size_t)(colon - s);
        if (hl + 1 > hostlen)
            return TG_EINVAL;
        memcpy(host, s, hl);
        host[hl] = '\0';
        if (hl == 0 || strcmp(host, "*") == 0)
            snprintf(host, hostlen, "0.0.0.0");
        else if (strcmp(host, "localhost") == 0)
            snprintf(host, hostlen, "127.0.0.1");
    }
    errno = 0;
    v = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || v < 0 || v > 65535)
        return TG_EINVAL;
    *port = (uint16_t)v;
    return TG_OK;
}


bool
tg_gw_bearer(const char *a, const char **tok, size_t *len)
{
    size_t n;

    if (a == NULL)
        return false;
    while (*a == ' ' || *a == '\t')
        a++;
    if (strncasecmp(a, "bearer", 6) != 0 || (a[6] != ' ' && a[6] != '\t'))
        return false;
    a += 6;
    while (*a == ' ' || *a == '\t')
        a++;
    n = strlen(a);
    while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t'))
        n--;
    if (n == 0)
        return false;
    *tok = a;
    *len = n;
    return true;
}


static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    (void)arg;
    if (atomic_exchange(&tg__gw.draining, true))
        return;
    fprintf(stderr, "tollgate: serve: signal %d: draining\n", (int)fd);
    tg__gw.drain_deadline_ms = mono_ms() + GW_DRAIN_MAX_MS;
    for (uint32_t i = 0; i < tg__gw.nloops; i++)
        event_active(tg__gw.loops[i].drain_ev, 0, 0);
    event_base_loopexit(tg__gw.main_base, NULL);
}


/* ---- entry ------------------------------------------------------------ */

/* A handshake refused over the client certificate is an authentication
 * failure like a bad key: audited, with OpenSSL's verify reason only. */
static void
on_tls_refused(const char *reason)
{
    struct tg_audit_event ev;
    struct tg_audit_text text;
    struct gw_snap *s;
    char id[33], why[160];

    if (tg__gw.audit == NULL || atomic_load(&tg__gw.draining))
        return;
    s = tg__gw_snap_get();
    tg_audit_new_id(id);
    snprintf(why, sizeof(why), "client certificate refused: %s", reason);
    memset(&ev, 0, sizeof(ev));
    ev.event = "unauthenticated";
    ev.decision_id = id;
    ev.ts_us = wall_us();
    ev.policy = s ? s->p : NULL;
    ev.mode = s && s->p->mode == TG_MODE_AUDIT ? "audit" : "enforce";
    ev.cost_usd = NAN;
    ev.prompt_tokens = ev.completion_tokens = -1;
    ev.error = why;
    ev.auth = "mtls";
    if (tg_audit_entry_text(&ev, &text) == TG_OK)
        (void)tg_audit_append_text(tg__gw.audit, &text, NULL, NULL);
    tg__gw_snap_put(s);
}


/*
 * The loops listen with SO_REUSEPORT (one socket per loop), which would
 * also let a second tollgate bind the same port and take half the traffic
 * — into a second audit log, or the same one.  An abstract Unix socket
 * named after the address is bound first: only one process can hold the
 * name, the kernel frees it when the process dies, and it leaves no file.
 */
static int
listen_lock(const char *host, uint16_t port, struct tg_err *err)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), n;

    if (fd < 0)
        return tg_err_set(err, TG_EIO, "cannot create the listen lock: %s", strerror(errno));
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    n = snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "tollgate/listen/%s:%u", host, port);
    if (bind(fd, (struct sockaddr *)&sun, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) != 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE)
            return tg_err_set(err, TG_EBUSY, "another tollgate already serves %s:%u (one gateway per address)",
                              host, port);
        return tg_err_set(err, TG_EIO, "cannot bind the listen lock: %s", strerror(e));
    }
    tg__gw.listen_lock = fd;
    return TG_OK;
}


/* mkdir -p the directory part of path (0700), so a fresh checkout's
 * var/audit.log just works.  Errors surface when the file is opened. */
static void
mkdir_parent(const char *path)
{
    char buf[4096];
    char *slash;

    if (path == NULL || snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
        return;
    slash = strrchr(buf, '/');
    if (slash == NULL || slash == buf)
        return;
    *slash = '\0';
    for (char *c = buf + 1; *c; c++)
        if (*c == '/') {
            *c = '\0';
            (void)mkdir(buf, 0700);
            *c = '/';
        }
    (void)mkdir(buf, 0700);
}


int
tg_gw_serve(const struct tg_gw_opts *o, struct tg_err *err)
{
    struct diag_first d = { .errors = 0 };
    struct tg_load_opts lo = { .diag = tg__gw_diag_collect, .diag_ud = &d };
    struct tg_policy *p = NULL;
    struct sockaddr_storage ss;
    int salen = sizeof(ss);
    char host[256];
    uint16_t port;
    struct event *ev_term = NULL, *ev_int = NULL, *ev_hup = NULL, *ev_watch = NULL;
    uint32_t started = 0;
    int rc;

    memset(&tg__gw, 0, sizeof(tg__gw));
    tg__gw.listen_lock = -1;
    tg__gw.opts = *o;
    pthread_mutex_init(&tg__gw.snap_mu, NULL);
    pthread_mutex_init(&tg__gw.br_mu, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* A file-size limit (ulimit -f) must fail the audit write with EFBIG,
     * which the writer survives, not kill the gateway. */
    signal(SIGXFSZ, SIG_IGN);
    /* glibc consolidates its fastbins on every allocation of 1 KiB or more
     * (arena chunks, evbuffers, JSON); with per-request memory that was a
     * tenth of the CPU.  tcache still serves the small sizes. */
    (void)mallopt(M_MXFAST, 0);
    evthread_use_pthreads();   /* the audit writer wakes loops with event_active */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
        return tg_err_set(err, TG_EIO, "curl initialisation failed");
    {
        CURL *e = curl_easy_init();
        char *v = NULL;
        if (e != NULL && curl_easy_getinfo(e, CURLINFO_CAINFO, &v) == CURLE_OK && v != NULL)
            tg__gw.cainfo = strdup(v);
        v = NULL;
        if (e != NULL && curl_easy_getinfo(e, CURLINFO_CAPATH, &v) == CURLE_OK && v != NULL)
            tg__gw.capath = strdup(v);
        v = NULL;
        /* libcurl has no getter for the proxy's default; it is the same bundle. */
        tg__gw.proxy_cainfo = tg__gw.cainfo != NULL ? strdup(tg__gw.cainfo) : NULL;
        curl_easy_cleanup(e);
    }

    rc = tg_policy_load(o->config_path, &lo, &p, err);
    if (rc != TG_OK) {
        if (d.errors)
            tg_err_set(err, rc, "%s", d.line);
        goto out;
    }
    tg__gw_cfg_stat(&tg__gw.cfg_mtime, &tg__gw.cfg_size);
    snprintf(tg__gw.listen, sizeof(tg__gw.listen), "%s",
             o->listen ? o->listen : p->server.listen ? p->server.listen : "127.0.0.1:8080");
    if (tg_gw_parse_listen(tg__gw.listen, host, sizeof(host), &port) != TG_OK) {
        rc = tg_err_set(err, TG_EINVAL, "bad listen address '%s' (want HOST:PORT)", tg__gw.listen);
        goto out;
    }
    {
        char hp[300];
        snprintf(hp, sizeof(hp), strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
        if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &salen) != 0) {
            rc = tg_err_set(err, TG_EINVAL, "bad listen address '%s' (numeric host expected)", tg__gw.listen);
            goto out;
        }
    }
    if ((rc = listen_lock(host, port, err)) != TG_OK)
        goto out;
    if (p->audit.path == NULL && !o->no_audit) {
        rc = tg_err_set(err, TG_EPOLICY, "audit.path is not set: refusing to serve without an audit log "
                                         "(fail closed; --no-audit for demos)");
        goto out;
    }
    /* Certificates before any log is touched: a refused start leaves no trace. */
    if (p->server.tls.cert != NULL && (rc = tg_tls_open(&p->server.tls, on_tls_refused, &tg__gw.tls, err)) != TG_OK)
        goto out;
    mkdir_parent(p->audit.path);
    mkdir_parent(p->audit.signing_key);
    mkdir_parent(p->capture.path);
    /* The capture file is locked before the audit log is touched: a refused
     * start leaves no trace in a log it does not own. */
    if (p->capture.path != NULL && (rc = tg_capture_open(&p->capture, &tg__gw.capture, err)) != TG_OK)
        goto out;
    if (p->audit.path != NULL && (rc = tg_audit_open(&p->audit, &tg__gw.audit, err)) != TG_OK)
        goto out;
    tg__gw.audit_wait = p->audit.fsync != TG_FSYNC_NEVER;
    tg__gw.snap = tg__gw_snap_new(p, NULL);
    if (tg__gw.snap == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    p = NULL;

    tg__gw.nloops = o->threads ? o->threads : tg__gw.snap->p->server.threads;
    if (tg__gw.nloops == 0) {
        long nc = sysconf(_SC_NPROCESSORS_ONLN);
        tg__gw.nloops = nc > 0 ? (uint32_t)nc : 1;
    }
    if (tg__gw.nloops > 256)
        tg__gw.nloops = 256;
    tg__gw.loops = calloc(tg__gw.nloops, sizeof(*tg__gw.loops));
    if (tg__gw.loops == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    for (uint32_t i = 0; i < tg__gw.nloops; i++) {
        tg__gw.loops[i].gw = &tg__gw;
        tg__gw.loops[i].idx = i;
        if ((rc = tg__gw_loop_init(&tg__gw.loops[i], (struct sockaddr *)&ss, salen, tg__gw.snap->p, err)) != TG_OK)
            goto out;
    }
    tg__gw.main_base = event_base_new();
    if (tg__gw.main_base == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "cannot create event base");
        goto out;
    }
    ev_term = evsignal_new(tg__gw.main_base, SIGTERM, on_stop, NULL);
    ev_int = evsignal_new(tg__gw.main_base, SIGINT, on_stop, NULL);
    ev_hup = evsignal_new(tg__gw.main_base, SIGHUP, tg__gw_on_sighup, NULL);
    ev_watch = event_new(tg__gw.main_base, -1, EV_PERSIST, tg__gw_on_watch, NULL);
    if (!ev_term || !ev_int || !ev_hup || !ev_watch) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    event_add(ev_term, NULL);
    event_add(ev_int, NULL);
    event_add(ev_hup, NULL);
    {
        struct timeval one = { 1, 0 };
        event_add(ev_watch, &one);
    }
    for (; started < tg__gw.nloops; started++)
        if (pthread_create(&tg__gw.loops[started].th, NULL, tg__gw_loop_main, &tg__gw.loops[started]) != 0) {
            rc = tg_err_set(err, TG_EIO, "cannot start loop thread");
            on_stop(SIGTERM, 0, NULL);
            break;
        }
    if (started == tg__gw.nloops) {
        fprintf(stderr, "tollgate: serve: listening on %s%s (%u threads, policy %.12s%s)\n",
                tg__gw.tls != NULL ? "https://" : "", tg__gw.listen, tg__gw.nloops, tg__gw.snap->p->policy_version,
                tg__gw.audit ? "" : ", NO AUDIT LOG");
        rc = TG_OK;
        event_base_dispatch(tg__gw.main_base);
    }
    for (uint32_t i = 0; i < started; i++)
        pthread_join(tg__gw.loops[i].th, NULL);
out:
    /* From here the drain is decided: a second SIGTERM (a supervisor that
     * repeats itself) must not kill us halfway through closing the audit
     * log. event_free() restores the default action, so block first and
     * ignore after; a signal pending meanwhile is then discarded. */
    {
        sigset_t stop;
        sigemptyset(&stop);
        sigaddset(&stop, SIGTERM);
        sigaddset(&stop, SIGINT);
        sigaddset(&stop, SIGHUP);
        pthread_sigmask(SIG_BLOCK, &stop, NULL);
    }
    if (ev_term)
        event_free(ev_term);
    if (ev_int)
        event_free(ev_int);
    if (ev_hup)
        event_free(ev_hup);
    if (ev_watch)
        event_free(ev_watch);
    signal(SIGTERM, SIG_IGN);
    signal(SIGINT, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    for (uint32_t i = 0; tg__gw.loops && i < tg__gw.nloops; i++)
        tg__gw_loop_free(&tg__gw.loops[i]);
    free(tg__gw.loops);
    if (tg__gw.main_base)
        event_base_free(tg__gw.main_base);
    if (tg__gw.audit != NULL) {
        struct tg_err cerr = { 0 };
        if (tg_audit_close(tg__gw.audit, &cerr) != TG_OK && rc == TG_OK)
            rc = tg_err_set(err, cerr.code, "closing the audit log: %s", cerr.msg);
    }
    tg_capture_close(tg__gw.capture);
    tg_tls_close(tg__gw.tls);
    tg__gw.tls = NULL;
    free(tg__gw.cainfo);
    free(tg__gw.proxy_cainfo);
    free(tg__gw.capath);
    if (tg__gw.listen_lock >= 0)
        close(tg__gw.listen_lock);
    tg__gw_snap_put(tg__gw.snap);
    if (p)
        tg_policy_unref(p);
    curl_global_cleanup();
    pthread_mutex_destroy(&tg__gw.snap_mu);
    pthread_mutex_destroy(&tg__gw.br_mu);
    return rc;
}
