/*
 * policy_hash.c — policy_version: SHA-256 over a canonical serialisation of
 * the EFFECTIVE configuration (after the registry merge and defaults).
 *
 * Canonical = fixed field order, numbers as %.17g, every string length-
 * prefixed (so "ab","c" and "a","bc" differ), positions and the file name
 * left out (moving a key or renaming the file is not a policy change).
 * Secret values are never fed in as such: an API key contributes its own
 * SHA-256, so a rotated key still changes the version without the version
 * revealing anything.  PII packs and markings files contribute the digest
 * of their bytes: editing a pattern is a policy change.
 */
#include "policy/policy_int.h"
#include "engine/allow.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>

struct hctx {
    EVP_MD_CTX *md;
    bool failed;
};

static void
h_bytes(struct hctx *h, const void *p, size_t n)
{
    if (!h->failed && EVP_DigestUpdate(h->md, p, n) != 1)
        h->failed = true;
}

static void
h_str(struct hctx *h, const char *s)
{
    char len[32];
    if (s == NULL) {
        h_bytes(h, "~;", 2);
        return;
    }
    size_t n = strlen(s);
    int k = snprintf(len, sizeof(len), "%zu:", n);
    h_bytes(h, len, (size_t)k);
    h_bytes(h, s, n);
    h_bytes(h, ";", 1);
}

static void
h_num(struct hctx *h, double d)
{
    char b[40];
    int k;
    if (isnan(d))
        k = snprintf(b, sizeof(b), "nan;");
    else if (isinf(d))
        k = snprintf(b, sizeof(b), "%sinf;", d < 0 ? "-" : "");
    else
        k = snprintf(b, sizeof(b), "%.17g;", d);
    h_bytes(h, b, (size_t)k);
}

static void
h_u(struct hctx *h, uint64_t u)
{
    char b[32];
    int k = snprintf(b, sizeof(b), "%llu;", (unsigned long long)u);
    h_bytes(h, b, (size_t)k);
}

static void
h_secret(struct hctx *h, const char *s)
{
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    if (s == NULL || *s == '\0') {
        h_str(h, "");
        return;
    }
    if (EVP_Digest(s, strlen(s), d, &dl, EVP_sha256(), NULL) != 1) {
        h->failed = true;
        return;
    }
    h_bytes(h, "secret:", 7);
    h_bytes(h, d, dl);
}

static void
h_file(struct hctx *h, const char *path)
{
    unsigned char buf[16384];
    FILE *f = fopen(path, "rb");
    size_t n;
    h_str(h, "file");
    if (f == NULL) {
        h->failed = true;
        return;
    }
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        h_bytes(h, buf, n);
    if (ferror(f))
        h->failed = true;
    fclose(f);
    h_bytes(h, ";", 1);
}

/* An allow list: an exception is a policy change.  Values and patterns
 * in their stored order (values sorted at load, so reordering them in the
 * file is not a change). */
static void
h_allow(struct hctx *h, const struct tg_allow_entry *v, uint32_t n)
{
    h_u(h, n);
    for (uint32_t i = 0; i < n; i++) {
        h_str(h, v[i].entity);
        h_u(h, v[i].nvalues);
        for (uint32_t j = 0; j < v[i].nvalues; j++)
            h_str(h, v[i].values[j]);
        h_u(h, v[i].npatterns);
        for (uint32_t j = 0; j < v[i].npatterns; j++)
            h_str(h, v[i].patterns[j]);
    }
}

int
tg__policy_hash(struct tg_policy *p, const char *const *files, uint32_t nfiles, struct tg_err *err)
{
    struct hctx h = { EVP_MD_CTX_new(), false };
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int dl = 0;
    int rc = TG_ECRYPTO;

    if (h.md == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory hashing the policy");
    if (EVP_DigestInit_ex(h.md, EVP_sha256(), NULL) != 1)
        goto out;

    h_str(&h, "tollgate-policy-v1");
    h_str(&h, p->version);
    h_u(&h, p->mode);

    h_str(&h, "providers"); h_u(&h, p->nproviders);
    for (uint32_t i = 0; i < p->nproviders; i++) {
        const struct tg_provider *v = &p->providers[i];
        h_str(&h, v->id); h_u(&h, v->adapter); h_str(&h, v->base_url); h_secret(&h, v->api_key);
        h_u(&h, v->transport);
        h_str(&h, v->region); h_str(&h, v->jurisdiction); h_u(&h, v->pii_allowed);
        /* v2 keys only when set, so existing versions stay */
        if (v->proxy != NULL) {
            h_str(&h, "proxy"); h_secret(&h, v->proxy);
        }
        if (v->ca_bundle != NULL) {
            h_str(&h, "ca_bundle"); h_str(&h, v->ca_bundle);
        }
    }
    h_str(&h, "models"); h_u(&h, p->nmodels);
    for (uint32_t i = 0; i < p->nmodels; i++) {
        const struct tg_model *m = &p->models[i];
        h_str(&h, m->id); h_str(&h, m->upstream); h_u(&h, m->provider); h_u(&h, m->max_context); h_u(&h, m->max_output_tokens);
        h_u(&h, m->streaming); h_u(&h, m->vision); h_num(&h, m->input_per_m); h_num(&h, m->output_per_m);
        h_u(&h, m->nscores);
        for (uint32_t j = 0; j < m->nscores; j++) {
            h_str(&h, m->scores[j].metric);
            h_num(&h, m->scores[j].value);
        }
        h_num(&h, m->latency_ms); h_num(&h, m->tokens_per_s);
        /* only when set, so the versions of existing chat-only policies stay */
        if (m->kind != TG_MODEL_CHAT) {
            h_str(&h, "kind"); h_u(&h, m->kind);
        }
    }
    h_str(&h, "regions"); h_u(&h, p->nregions);
    for (uint32_t i = 0; i < p->nregions; i++) {
        h_str(&h, p->regions[i].label); h_u(&h, p->regions[i].nregions);
        for (uint32_t j = 0; j < p->regions[i].nregions; j++)
            h_str(&h, p->regions[i].regions[j]);
    }
    h_str(&h, "rules"); h_u(&h, p->nrules);
    for (uint32_t i = 0; i < p->nrules; i++) {
        const struct tg_route_rule *r = &p->rules[i];
        h_str(&h, r->category); h_u(&h, r->nchain);
        for (uint32_t j = 0; j < r->nchain; j++)
            h_u(&h, r->chain[j]);
        h_num(&h, r->quality_threshold); h_str(&h, r->quality_metric);
        h_num(&h, r->max_cost_per_request); h_u(&h, r->timeout_ms); h_u(&h, r->deadline_ms);
        h_u(&h, (uint64_t)(int64_t)r->residency); h_u(&h, r->pii_allowed); h_u(&h, r->export_controlled);
        if (r->naliases > 0) {   /* added in v2: absent keys leave older versions unchanged */
            h_str(&h, "aliases"); h_u(&h, r->naliases);
            for (uint32_t j = 0; j < r->naliases; j++)
                h_str(&h, r->aliases[j]);
        }
    }
    h_str(&h, "tenants"); h_u(&h, p->ntenants);
    for (uint32_t i = 0; i < p->ntenants; i++) {
        const struct tg_tenant *t = &p->tenants[i];
        h_str(&h, t->id); h_u(&h, t->has_key);
        if (t->has_key)
            h_bytes(&h, t->key_sha256, 32);
        if (t->has_cert) {
            h_str(&h, "cert"); h_bytes(&h, t->cert_sha256, 32);
        }
        h_u(&h, (uint64_t)(int64_t)t->residency); h_u(&h, t->pii_allowed);
        h_u(&h, t->nexport_tags);
        for (uint32_t j = 0; j < t->nexport_tags; j++)
            h_str(&h, t->export_tags[j]);
        h_num(&h, t->max_cost_per_request);
        h_u(&h, t->ncategories);
        for (uint32_t j = 0; j < t->ncategories; j++)
            h_str(&h, t->categories[j]);
        h_u(&h, t->requests_per_minute);
        if (t->default_category != NULL) {
            h_str(&h, "default_category"); h_str(&h, t->default_category);
        }
    }
    h_str(&h, "tags"); h_u(&h, p->ntags);
    for (uint32_t i = 0; i < p->ntags; i++) {
        const struct tg_export_tag *t = &p->tags[i];
        h_str(&h, t->name); h_u(&h, t->has_allow); h_u(&h, t->nallow);
        for (uint32_t j = 0; j < t->nallow; j++)
            h_str(&h, t->allow[j]);
        h_u(&h, t->ndeny);
        for (uint32_t j = 0; j < t->ndeny; j++)
            h_str(&h, t->deny[j]);
    }
    h_str(&h, "pii");
    h_num(&h, p->pii_min_score); h_u(&h, p->pii_action); h_u(&h, p->deny_secrets);
    h_str(&h, p->export_header); h_u(&h, p->default_output_tokens);
    /* Only when on, so that every configuration written before the output
     * guard existed keeps the version it had. */
    if (p->resp_secrets != TG_RESP_PASS || p->resp_pii != TG_RESP_PASS) {
        h_str(&h, "response");
        h_u(&h, p->resp_secrets); h_u(&h, p->resp_pii);
    }
    h_str(&h, "breaker");
    h_u(&h, p->breaker.failure_threshold); h_u(&h, p->breaker.recovery_timeout_ms);
    h_u(&h, p->breaker.progressive_timeout);
    h_str(&h, "telemetry");
    h_u(&h, p->telemetry.enabled); h_str(&h, p->telemetry.endpoint);
    h_u(&h, p->telemetry.batch_size); h_u(&h, p->telemetry.flush_interval_ms);
    h_str(&h, "audit");
    h_str(&h, p->audit.path); h_str(&h, p->audit.signing_key); h_u(&h, p->audit.fsync);
    h_u(&h, p->audit.sign); h_u(&h, p->audit.seal_every); h_u(&h, p->audit.seal_interval_ms);
    h_u(&h, p->audit.rotate_bytes); h_u(&h, p->audit.queue_depth);
    h_str(&h, "capture");
    h_str(&h, p->capture.path); h_u(&h, p->capture.redact); h_num(&h, p->capture.sample);
    h_str(&h, "server");
    h_str(&h, p->server.listen); h_u(&h, p->server.threads); h_u(&h, p->server.max_body_bytes);
    h_u(&h, p->server.header_timeout_ms); h_u(&h, p->server.idle_timeout_ms);
    h_u(&h, p->server.busy_poll_us);
    h_str(&h, "allow");
    h_u(&h, p->role_allow != NULL);
    if (p->special_ip_allow == NULL)   /* v2 default is "not personal": only the switch hashes */
        h_str(&h, "special_ips:personal");
    h_allow(&h, p->pii_allow, p->npii_allow);
    for (uint32_t i = 0; i < p->nrules; i++)
        h_allow(&h, p->rules[i].pii_allow, p->rules[i].npii_allow);
    for (uint32_t i = 0; i < p->ntenants; i++)
        h_allow(&h, p->tenants[i].pii_allow, p->tenants[i].npii_allow);
    if (p->server.tls.cert != NULL) {
        /* paths, not contents: a certificate renewed in place keeps the version */
        h_str(&h, "tls"); h_str(&h, p->server.tls.cert); h_str(&h, p->server.tls.key);
        h_str(&h, p->server.tls.client_ca); h_u(&h, p->server.tls.min);
    }
    /* Packs and markings by content, in configured order. */
    h_str(&h, "files"); h_u(&h, nfiles);
    for (uint32_t i = 0; i < nfiles; i++)
        h_file(&h, files[i]);

    if (h.failed || EVP_DigestFinal_ex(h.md, d, &dl) != 1 || dl != 32)
        goto out;
    for (unsigned i = 0; i < 32; i++)
        snprintf(p->policy_version + 2 * i, 3, "%02x", d[i]);
    rc = TG_OK;
out:
    EVP_MD_CTX_free(h.md);
    if (rc != TG_OK)
        tg_err_set(err, rc, "cannot hash the policy (SHA-256 failed or a pack became unreadable)");
    return rc;
}
