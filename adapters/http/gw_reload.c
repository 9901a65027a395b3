/*
 * gw_reload.c — policy snapshots (reference-counted, with breaker and rate
 * state carried over by id) and reload on SIGHUP or a config file change.
 */
#include "adapters/http/gw_int.h"

static void reload(const char *why);


/* ---- snapshots ----------------------------------------------------------- */

struct gw_snap *
tg__gw_snap_new(struct tg_policy *p, const struct gw_snap *old)
{
    struct gw_snap *s = calloc(1, sizeof(*s));

    if (s == NULL)
        return NULL;
    s->br = calloc(p->nmodels ? p->nmodels : 1, sizeof(*s->br));
    s->rate = calloc(p->ntenants ? p->ntenants : 1, sizeof(*s->rate));
    s->hdrs = calloc(p->nproviders ? 2u * p->nproviders : 1, sizeof(*s->hdrs));
    s->native = calloc(p->nproviders ? p->nproviders : 1, 1);
    if (s->br == NULL || s->rate == NULL || s->hdrs == NULL || s->native == NULL) {
        free(s->br);
        free(s->rate);
        free(s->hdrs);
        free(s->native);
        free(s);
        return NULL;
    }
    atomic_init(&s->refs, 1);
    s->p = p;
    for (uint32_t i = 0; i < p->nmodels; i++)
        tg_breaker_init(&s->br[i]);
    for (uint32_t i = 0; i < p->nproviders; i++)
        s->native[i] = p->providers[i].transport == TG_TRANSPORT_AUTO &&
                       !tg_prov_is_local(p->providers[i].adapter) &&
                       p->providers[i].proxy == NULL &&   /* only libcurl speaks to proxies */
                       tg_up_eligible(p->providers[i].base_url);
    if (old != NULL) {
        /* Carry breaker state and rate windows over by id: a reload must not
         * reopen traffic to a provider that is down, nor reset limits. */
        pthread_mutex_lock(&tg__gw.br_mu);
        for (uint32_t i = 0; i < old->p->nmodels; i++) {
            int32_t k = tg_policy_model_index(p, old->p->models[i].id);
            if (k >= 0)
                s->br[k] = old->br[i];
        }
        for (uint32_t i = 0; i < old->p->ntenants; i++) {
            const struct tg_tenant *t = tg_policy_tenant(p, old->p->tenants[i].id);
            if (t != NULL)
                s->rate[t - p->tenants] = old->rate[i];
        }
        pthread_mutex_unlock(&tg__gw.br_mu);
    }
    return s;
}


struct gw_snap *
tg__gw_snap_get(void)
{
    struct gw_snap *s;

    pthread_mutex_lock(&tg__gw.snap_mu);
    s = tg__gw.snap;
    if (s != NULL)
        atomic_fetch_add(&s->refs, 1);
    pthread_mutex_unlock(&tg__gw.snap_mu);
    return s;
}


void
tg__gw_snap_put(struct gw_snap *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    for (uint32_t i = 0; i < 2u * s->p->nproviders; i++)
        curl_slist_free_all(atomic_load(&s->hdrs[i]));
    tg_policy_unref(s->p);
    free(s->br);
    free(s->rate);
    free(s->hdrs);
    free(s->native);
    free(s);
}


/* ---- reload, signals --------------------------------------------------- */


void
tg__gw_diag_collect(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    struct diag_first *d = ud;
    if (level != TG_DIAG_ERROR)
        return;
    if (d->errors++ == 0)
        snprintf(d->line, sizeof(d->line), "%s:%u:%u: %s", pos && pos->file ? pos->file : "?",
                 pos ? pos->line : 0, pos ? pos->col : 0, msg);
}


bool
tg__gw_cfg_stat(struct timespec *mt, off_t *size)
{
    struct stat st;
    if (stat(tg__gw.opts.config_path, &st) != 0)
        return false;
    *mt = st.st_mtim;
    *size = st.st_size;
    return true;
}


static void
reload(const char *why)
{
    struct diag_first d = { .errors = 0 };
    struct tg_load_opts lo = { .diag = tg__gw_diag_collect, .diag_ud = &d };
    struct tg_policy *p = NULL;
    struct tg_err err = { 0 };
    struct gw_snap *s, *old;

    tg__gw_cfg_stat(&tg__gw.cfg_mtime, &tg__gw.cfg_size);
    if (tg_policy_load(tg__gw.opts.config_path, &lo, &p, &err) != TG_OK) {
        atomic_fetch_add(&tg__gw.reloads_failed, 1);
        fprintf(stderr, "tollgate: serve: reload (%s) rejected, keeping the running policy: %s\n", why,
                d.errors ? d.line : err.msg);
        return;
    }
    /* The listener's mode is fixed when it binds; its certificates are
     * not: a new TLS context serves new connections from here on. */
    if ((p->server.tls.cert != NULL) != (tg__gw.tls != NULL)) {
        tg_policy_unref(p);
        atomic_fetch_add(&tg__gw.reloads_failed, 1);
        fprintf(stderr, "tollgate: serve: reload (%s) rejected, keeping the running policy: server.tls cannot be "
                        "switched %s by a reload; restart tollgate\n", why, tg__gw.tls != NULL ? "off" : "on");
        return;
    }
    if (tg__gw.tls != NULL && tg_tls_reload(tg__gw.tls, &p->server.tls, &err) != TG_OK) {
        tg_policy_unref(p);
        atomic_fetch_add(&tg__gw.reloads_failed, 1);
        fprintf(stderr, "tollgate: serve: reload (%s) rejected, keeping the running policy and certificates: %s\n",
                why, err.msg);
        return;
    }
    s = tg__gw_snap_new(p, tg__gw.snap);
    if (s == NULL) {
        tg_policy_unref(p);
        atomic_fetch_add(&tg__gw.reloads_failed, 1);
        fprintf(stderr, "tollgate: serve: reload (%s) failed: out of memory\n", why);
        return;
    }
    pthread_mutex_lock(&tg__gw.snap_mu);
    old = tg__gw.snap;
    tg__gw.snap = s;
    pthread_mutex_unlock(&tg__gw.snap_mu);
    tg__gw_snap_put(old);   /* in-flight requests keep their own reference */
    atomic_fetch_add(&tg__gw.reloads_ok, 1);
    fprintf(stderr, "tollgate: serve: policy reloaded (%s): version %.12s\n", why, p->policy_version);
}


void
tg__gw_on_sighup(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    (void)arg;
    reload("SIGHUP");
}


void
tg__gw_on_watch(evutil_socket_t fd, short what, void *arg)
{
    struct timespec mt;
    off_t size;

    (void)fd;
    (void)what;
    (void)arg;
    if (!tg__gw_cfg_stat(&mt, &size))
        return;
    if (mt.tv_sec != tg__gw.cfg_mtime.tv_sec || mt.tv_nsec != tg__gw.cfg_mtime.tv_nsec || size != tg__gw.cfg_size)
        reload("file changed");
}
