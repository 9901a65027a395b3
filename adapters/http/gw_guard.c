/*
 * gw_guard.c — the output guard in the gateway (docs/output-guard.md): the
 * provider's answer, whole or streamed, goes through engine/outguard.h (by
 * way of respguard.h, on the canonical form) before the client's dialect
 * encodes it.  With both classes at `pass` none of this runs: no guard is
 * made, nothing is parsed or held.
 */
#include "adapters/http/gw_int.h"

static bool
enforcing(const struct gw_req *r)
{
    return r->p->mode == TG_MODE_ENFORCE;
}

bool
tg__gw_guard_on(const struct gw_req *r)
{
    return r->p != NULL && tg_outguard_enabled(r->p) && r->have_req && r->have_d &&
           r->req.kind != TG_REQUEST_EMBEDDING;   /* vectors: nothing to read */
}

void
tg__gw_guard_free(struct gw_req *r)
{
    tg_rg_stream_free(r->rgs);
    r->rgs = NULL;
    if (r->og != NULL)
        tg_outguard_free(r->og);
}

/* A fresh guard for this attempt's answer: an attempt that failed before
 * anything reached the client leaves no counts or numbers behind. */
void
tg__gw_guard_begin(struct gw_req *r, bool stream)
{
    tg__gw_guard_free(r);
    r->og_blocked = false;
    if (!tg__gw_guard_on(r))
        return;
    if (r->og == NULL && (r->og = tg_arena_alloc(&r->arena, sizeof(*r->og))) == NULL)
        return;   /* no guard: tg__gw_canon_emit and answer_out fail closed below */
    tg_outguard_init(r->og, r->p, &r->d, r->req.allow_lists_off, tg__gw_scratch_for(r->L, r->p), &r->arena);
    if (stream && tg_rg_stream_new(r->og, enforcing(r), tg__gw_client_emit, r, &r->rgs) != TG_OK)
        r->rgs = NULL;
}

/* Canonical SSE from the provider adapter: through the guard when it is on. */
int
tg__gw_canon_emit(void *ud, const char *buf, size_t len)
{
    struct gw_req *r = ud;
    int rc;

    if (!tg__gw_guard_on(r))
        return tg__gw_client_emit(r, buf, len);
    if (r->rgs == NULL) {
        /* out of memory making the filter: nothing unguarded leaves */
        r->og_blocked = enforcing(r);
        if (r->og != NULL) {
            r->og->verdict = TG_RESP_DENY;
            r->og->rule = "response.unscannable";
        }
        return enforcing(r) ? TG_EPOLICY : tg__gw_client_emit(r, buf, len);
    }
    rc = tg_rg_stream_feed(r->rgs, buf, len);
    if (r->og->verdict == TG_RESP_DENY && enforcing(r))
        r->og_blocked = true;
    return rc;
}

/* A whole canonical answer through the guard: *out NULL = unchanged.
 * TG_EPOLICY when it is blocked (r->og_blocked). */
int
tg__gw_guard_answer(struct gw_req *r, const char *canon, size_t len, char **out, size_t *outlen,
                    struct tg_err *err)
{
    int rc;

    *out = NULL;
    *outlen = 0;
    tg__gw_guard_begin(r, false);
    if (r->og == NULL) {
        if (!enforcing(r))
            return TG_OK;
        r->og_blocked = true;
        return tg_err_set(err, TG_EPOLICY, "out of memory guarding the answer");
    }
    rc = tg_rg_answer(r->og, canon, len, out, outlen, err);
    if (rc == TG_ENOMEM) {
        r->og->verdict = TG_RESP_DENY;
        r->og->rule = "response.unscannable";
    } else if (rc != TG_OK) {
        return rc;   /* not an answer: the attempt failed */
    }
    if (!enforcing(r)) {
        free(*out);   /* audit mode: decided and recorded, never applied */
        *out = NULL;
        *outlen = 0;
        return TG_OK;
    }
    if (r->og->verdict == TG_RESP_DENY) {
        free(*out);
        *out = NULL;
        r->og_blocked = true;
        return tg_err_set(err, TG_EPOLICY, "the answer was blocked by the response policy");
    }
    return TG_OK;
}

/* "[response.secrets] the answer contains a secret (GITHUB_TOKEN)" */
static const char *
blocked_message(struct gw_req *r)
{
    const struct tg_outguard *g = r->og;
    const char *rule = g != NULL && g->rule != NULL ? g->rule : "response.unscannable";
    struct tg_jtext b = { 0 };
    const char *msg;
    bool secret = strcmp(rule, "response.secrets") == 0, pii = strcmp(rule, "response.pii") == 0;
    uint32_t n = 0;

    tg_jtext_printf(&b, "the provider's answer was blocked by the response policy: [%s] ", rule);
    if (!secret && !pii) {
        tg_jtext_printf(&b, "the answer could not be fully scanned");
    } else {
        tg_jtext_printf(&b, "the answer contains %s (", secret ? "a secret" : "personal data");
        for (uint32_t i = 0; g != NULL && i < g->ncounts; i++)
            if ((g->counts[i].cls == TG_PII_CLASS_SECRET) == secret)
                tg_jtext_printf(&b, "%s%s", n++ ? ", " : "", g->counts[i].entity);
        tg_jtext_printf(&b, ")");
    }
    msg = b.fail ? NULL : tg_arena_strndup(&r->arena, b.p, b.len);
    tg_jtext_free(&b);
    return msg != NULL ? msg : "the provider's answer was blocked by the response policy";
}

/* The client gets the block as an error in its dialect (nothing of the
 * answer was sent): 502, code response_blocked, the rule id. */
void
tg__gw_guard_blocked(struct gw_req *r)
{
    const char *rule = r->og != NULL && r->og->rule != NULL ? r->og->rule : "response.unscannable";
    const char *rules = tg_arena_sprintf(&r->arena, "\"rules\":[\"%s\"]", rule);

    r->error = NULL;
    tg__gw_set_error(r, 502, "policy_denied", "response_blocked", blocked_message(r), rules);
}

/* A stream the guard blocked after its headers went out: the status cannot
 * change, so it ends with the dialect's error event. */
void
tg__gw_guard_end_stream(struct gw_req *r)
{
    const char *rule = r->og != NULL && r->og->rule != NULL ? r->og->rule : "response.unscannable";
    char ev[512];
    int n = tg_rg_blocked_event(rule, ev, sizeof(ev));

    if (n > 0 && r->ev != NULL && evhttp_request_get_connection(r->ev) != NULL) {
        (void)tg__gw_client_emit(r, ev, (size_t)n);
        if (r->ds != NULL)
            (void)r->dialect->stream_end(r->ds, false);
    }
    r->error = "response_blocked";
}
