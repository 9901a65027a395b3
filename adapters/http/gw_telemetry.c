/*
 * gw_telemetry.c — telemetry events batched per loop and posted with
 * libcurl.
 */
#include "adapters/http/gw_int.h"

static void tel_drop(struct gw_loop *L, uint32_t n);


/* ---- telemetry -------------------------------------------------------- */

static struct gw_xfer tel_xfer = { GW_XFER_TELEMETRY };

static void
tel_drop(struct gw_loop *L, uint32_t n)
{
    pthread_mutex_lock(&L->m.mu);
    L->m.telemetry_dropped += n;
    pthread_mutex_unlock(&L->m.mu);
}


void
tg__gw_tel_flush(struct gw_loop *L)
{
    struct gw_tel *t = &L->tel;
    struct gw_snap *s;
    struct tg_jtext b = { 0 };
    uint32_t n;

    if (t->in_flight || t->n == 0)
        return;
    s = tg__gw_snap_get();
    if (s == NULL || !s->p->telemetry.enabled || s->p->telemetry.endpoint == NULL) {
        tg__gw_snap_put(s);
        return;
    }
    n = t->n;
    if (s->p->telemetry.batch_size > 0 && n > s->p->telemetry.batch_size)
        n = s->p->telemetry.batch_size;
    tg_jtext_printf(&b, "{\"source\":\"tollgate\",\"events\":[");
    for (uint32_t i = 0; i < n; i++)
        tg_jtext_printf(&b, "%s%s", i ? "," : "", t->ev[i]);
    tg_jtext_printf(&b, "]}");
    for (uint32_t i = 0; i < n; i++)
        free(t->ev[i]);
    memmove(t->ev, t->ev + n, (t->n - n) * sizeof(*t->ev));
    t->n -= n;
    if (b.fail || (t->easy = curl_easy_init()) == NULL) {
        tg_jtext_free(&b);
        tel_drop(L, n);
        tg__gw_snap_put(s);
        return;
    }
    t->body = b.p;
    t->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
    t->hdrs = curl_slist_append(t->hdrs, "Expect:");
    curl_easy_setopt(t->easy, CURLOPT_URL, s->p->telemetry.endpoint);
    curl_easy_setopt(t->easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(t->easy, CURLOPT_HTTPHEADER, t->hdrs);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDS, t->body);
    curl_easy_setopt(t->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b.len);
    curl_easy_setopt(t->easy, CURLOPT_PRIVATE, &tel_xfer);
    curl_easy_setopt(t->easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(t->easy, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(t->easy, CURLOPT_CONNECTTIMEOUT_MS, 2000L);
    t->sending = n;
    t->in_flight = true;
    tg__gw_snap_put(s);
    if (curl_multi_add_handle(L->multi, t->easy) != CURLM_OK)
        tg__gw_tel_done(L, CURLE_FAILED_INIT);
}


void
tg__gw_tel_done(struct gw_loop *L, CURLcode res)
{
    struct gw_tel *t = &L->tel;
    long st = 0;

    if (t->easy != NULL) {
        curl_easy_getinfo(t->easy, CURLINFO_RESPONSE_CODE, &st);
        curl_multi_remove_handle(L->multi, t->easy);
        curl_easy_cleanup(t->easy);
        t->easy = NULL;
    }
    curl_slist_free_all(t->hdrs);
    t->hdrs = NULL;
    free(t->body);
    t->body = NULL;
    t->in_flight = false;
    if (res == CURLE_OK && st >= 200 && st < 300) {
        pthread_mutex_lock(&L->m.mu);
        L->m.telemetry_sent += t->sending;
        pthread_mutex_unlock(&L->m.mu);
    } else {
        /* Telemetry is not the audit log: a failed batch is counted, not retried. */
        tel_drop(L, t->sending);
    }
    t->sending = 0;
}


void
tg__gw_on_tel_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    tg__gw_tel_flush(arg);
}


void
tg__gw_tel_push(struct gw_loop *L, struct gw_req *r)
{
    struct gw_tel *t = &L->tel;
    struct tg_jtext b = { 0 };

    if (t->n >= GW_TEL_MAX_BUFFER) {
        tel_drop(L, 1);
        return;
    }
    if (t->n == t->cap) {
        uint32_t nc = t->cap ? t->cap * 2 : 64;
        char **nv = realloc(t->ev, nc * sizeof(*nv));
        if (nv == NULL) {
            tel_drop(L, 1);
            return;
        }
        t->ev = nv;
        t->cap = nc;
    }
    /* Ids, labels and numbers only: never prompt text. */
    tg_jtext_printf(&b, "{\"ts_us\":%lld,\"decision_id\":\"%s\",\"tenant\":", (long long)r->ts_us, r->id);
    tg__gw_json_escape(&b, r->tenant ? r->tenant->id : "");
    tg_jtext_printf(&b, ",\"category\":");
    tg__gw_json_escape(&b, r->have_req && r->req.category ? r->req.category : "");
    tg_jtext_printf(&b, ",\"feature\":");
    tg__gw_json_escape(&b, r->have_req && r->req.feature ? r->req.feature : "");
    tg_jtext_printf(&b, ",\"decision\":\"%s\",\"status\":%d,\"model\":",
                     r->have_d ? tg_verdict_name(r->d.verdict) : "none", r->status);
    tg__gw_json_escape(&b, r->served ? r->served->id : "");
    tg_jtext_printf(&b, ",\"attempts\":%u,\"latency_ms\":%lld,\"prompt_tokens\":%lld,"
                         "\"completion_tokens\":%lld,\"cost_usd\":%.8f,\"stream\":%s}",
                     r->natt, (long long)(mono_ms() - r->t0_ms), (long long)r->usage.prompt_tokens,
                     (long long)r->usage.completion_tokens, isnan(r->cost) ? 0.0 : r->cost,
                     r->stream ? "true" : "false");
    if (b.fail) {
        tg_jtext_free(&b);
        tel_drop(L, 1);
        return;
    }
    t->ev[t->n++] = b.p;
    if (r->p->telemetry.batch_size > 0 && t->n >= r->p->telemetry.batch_size)
        tg__gw_tel_flush(L);
}
