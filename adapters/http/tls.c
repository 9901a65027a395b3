/*
 * tls.c — the listener's TLS context, its reload, and the per-connection
 * TLS bufferevent (tls.h).
 */
#include "adapters/http/tls.h"
#include "engine/limits.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tg_tls {
    pthread_mutex_t   mu;      /* guards cur: a reload swaps it while loops make SSLs */
    SSL_CTX          *cur;
    tg_tls_refused_fn refused;
};

/* TLS 1.2 suites: ECDHE key exchange (forward secrecy) with an AEAD
 * cipher only, as Mozilla's "intermediate" profile; TLS 1.3 keeps
 * OpenSSL's defaults, which are all of that kind. */
static const char tls12_ciphers[] =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static const unsigned char sid_ctx[] = "tollgate";

/* The last OpenSSL error as text, after `what`; clears the queue. */
static int
ossl_err(struct tg_err *err, int code, const char *what, const char *path)
{
    unsigned long e = ERR_peek_last_error();
    char buf[256];

    if (e != 0)
        ERR_error_string_n(e, buf, sizeof(buf));
    else
        snprintf(buf, sizeof(buf), "unknown error");
    ERR_clear_error();
    return tg_err_set(err, code, "%s %s: %s", what, path, buf);
}

/* A key anyone but its owner can read is no longer a secret: refuse it
 * (as ssh refuses a private key with loose permissions). */
static int
key_private(const char *path, struct tg_err *err)
{
    struct stat st;

    if (stat(path, &st) != 0)
        return tg_err_set(err, TG_EIO, "server.tls.key %s: %s", path, strerror(errno));
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return tg_err_set(err, TG_EPOLICY,
                          "server.tls.key %s is accessible by group or others (mode %04o): refusing to start; "
                          "chmod 600 it", path, (unsigned)(st.st_mode & 07777));
    return TG_OK;
}

/* Passphrase-protected keys would make OpenSSL prompt on the terminal;
 * a daemon has none: no passphrase, the load fails with a clear error. */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)u;
    return 0;
}

/* ALPN: the listener speaks HTTP/1.1 only.  A client that offers ALPN
 * without it (h2 only) is refused now rather than misunderstood later. */
static int
alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
            unsigned int inlen, void *arg)
{
    static const unsigned char h11[] = { 8, 'h', 't', 't', 'p', '/', '1', '.', '1' };
    unsigned char *sel = NULL;

    (void)ssl;
    (void)arg;
    if (SSL_select_next_proto(&sel, outlen, h11, sizeof(h11), in, inlen) != OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

/* Refused client certificates, seen as the fatal alert the server sends.
 * TLS 1.2 answers a missing certificate with a generic handshake_failure:
 * that one counts only while the server is reading the certificate. */
static void
info_cb(const SSL *ssl, int where, int ret)
{
    struct tg_tls *t;
    int desc = ret & 0xff;
    const char *reason = NULL;
    long vr;

    if (!(where & SSL_CB_ALERT) || !(where & SSL_CB_WRITE) || (ret >> 8) != SSL3_AL_FATAL)
        return;
    t = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
    if (t == NULL || t->refused == NULL)
        return;
    switch (desc) {
    case SSL_AD_BAD_CERTIFICATE:
    case SSL_AD_UNSUPPORTED_CERTIFICATE:
    case SSL_AD_CERTIFICATE_REVOKED:
    case SSL_AD_CERTIFICATE_EXPIRED:
    case SSL_AD_CERTIFICATE_UNKNOWN:
    case SSL_AD_UNKNOWN_CA:
        vr = SSL_get_verify_result(ssl);
        reason = vr != X509_V_OK ? X509_verify_cert_error_string(vr) : SSL_alert_desc_string_long(ret);
        break;
    case SSL_AD_CERTIFICATE_REQUIRED:
        reason = "no client certificate";
        break;
    case SSL_AD_HANDSHAKE_FAILURE:
        if (SSL_get_state(ssl) == TLS_ST_SR_CERT && SSL_get0_peer_certificate(ssl) == NULL)
            reason = "no client certificate";
        break;
    default:
        break;
    }
    if (reason != NULL)
        t->refused(reason);
}

static int
ctx_build(const struct tg_tls_cfg *cfg, struct tg_tls *owner, SSL_CTX **out, struct tg_err *err)
{
    SSL_CTX *ctx = NULL;
    STACK_OF(X509_NAME) *names = NULL;
    int rc;

    ERR_clear_error();
    if (cfg->cert == NULL || cfg->key == NULL)
        return tg_err_set(err, TG_EINVAL, "server.tls needs both cert and key");
    if ((rc = key_private(cfg->key, err)) != TG_OK)
        return rc;
    ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL)
        return tg_err_set(err, TG_ENOMEM, "cannot create a TLS context");
    rc = TG_ECRYPTO;
    if (SSL_CTX_set_min_proto_version(ctx, cfg->min == TG_TLS_V1_3 ? TLS1_3_VERSION : TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1) {
        rc = ossl_err(err, TG_ECRYPTO, "cannot set TLS versions and ciphers", "");
        goto out;
    }
    /* No compression (CRIME), no renegotiation (a client-driven CPU sink),
     * the server's cipher order. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
    /* Idle keep-alive connections give their I/O buffers back. */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert) != 1) {
        rc = ossl_err(err, TG_EIO, "server.tls.cert", cfg->cert);
        goto out;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
            rc = ossl_err(err, TG_EINVAL, "server.tls.key does not match server.tls.cert", cfg->cert);
        else
            rc = ossl_err(err, TG_EIO, "server.tls.key", cfg->key);
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        rc = ossl_err(err, TG_EINVAL, "server.tls.key does not match server.tls.cert", cfg->cert);
        goto out;
    }
    SSL_CTX_set_alpn_select_cb(ctx, alpn_select, NULL);
    /* Resumption: tickets (stateless, OpenSSL's default) for everyone, and
     * a bounded cache for TLS 1.2 clients that resume by session id.  The
     * id context is required once client certificates are verified. */
    SSL_CTX_set_session_id_context(ctx, sid_ctx, sizeof(sid_ctx) - 1);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_sess_set_cache_size(ctx, TG_TLS_SESSION_CACHE);
    if (cfg->client_ca != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, cfg->client_ca, NULL) != 1) {
            rc = ossl_err(err, TG_EIO, "server.tls.client_ca", cfg->client_ca);
            goto out;
        }
        names = SSL_load_client_CA_file(cfg->client_ca);
        if (names == NULL) {
            rc = ossl_err(err, TG_EIO, "server.tls.client_ca (no CA certificate in)", cfg->client_ca);
            goto out;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        SSL_CTX_set_verify_depth(ctx, TG_TLS_VERIFY_DEPTH);
    }
    SSL_CTX_set_app_data(ctx, owner);
    SSL_CTX_set_info_callback(ctx, info_cb);
    *out = ctx;
    ctx = NULL;
    rc = TG_OK;
out:
    SSL_CTX_free(ctx);
    ERR_clear_error();
    return rc;
}

int
tg_tls_open(const struct tg_tls_cfg *cfg, tg_tls_refused_fn refused, struct tg_tls **out, struct tg_err *err)
{
    struct tg_tls *t = calloc(1, sizeof(*t));
    int rc;

    if (t == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    t->refused = refused;
    if ((rc = ctx_build(cfg, t, &t->cur, err)) != TG_OK) {
        free(t);
        return rc;
    }
    pthread_mutex_init(&t->mu, NULL);
    *out = t;
    return TG_OK;
}

int
tg_tls_reload(struct tg_tls *t, const struct tg_tls_cfg *cfg, struct tg_err *err)
{
    SSL_CTX *ctx = NULL, *old;
    int rc = ctx_build(cfg, t, &ctx, err);

    if (rc != TG_OK)
        return rc;
    pthread_mutex_lock(&t->mu);
    old = t->cur;
    t->cur = ctx;
    pthread_mutex_unlock(&t->mu);
    SSL_CTX_free(old);   /* open connections hold their own references */
    return TG_OK;
}

void
tg_tls_close(struct tg_tls *t)
{
    if (t == NULL)
        return;
    SSL_CTX_free(t->cur);
    pthread_mutex_destroy(&t->mu);
    free(t);
}

struct bufferevent *
tg_tls_bev_new(struct tg_tls *t, struct event_base *base)
{
    struct bufferevent *bev;
    SSL *ssl;

    pthread_mutex_lock(&t->mu);
    ssl = SSL_new(t->cur);
    pthread_mutex_unlock(&t->mu);
    if (ssl == NULL)
        return NULL;
    bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
    if (bev == NULL) {
        SSL_free(ssl);
        return NULL;
    }
    /* Clients that close without close_notify (most HTTP clients, after a
     * complete response) end the connection; they do not make it an error. */
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    return bev;
}

void
tg_tls_bev_release(struct bufferevent *bev)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);

    /* A close_notify (best effort: the socket is non-blocking and may
     * already be shut) lets the client tell an end from a cut. */
    if (ssl != NULL && SSL_is_init_finished(ssl) && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
        (void)SSL_shutdown(ssl);
        ERR_clear_error();
    }
    bufferevent_decref(bev);
}

int
tg_tls_write_from(struct bufferevent *bev, struct evbuffer *src)
{
    SSL *ssl = bufferevent_openssl_get_ssl(bev);

    if (ssl == NULL || !SSL_is_init_finished(ssl) || evbuffer_get_length(bufferevent_get_output(bev)) != 0)
        return -1;
    while (evbuffer_get_length(src) > 0) {
        /* One record's worth per call: a write that blocks must be retried
         * with at least the same bytes, and src only grows until it is. */
        size_t k = evbuffer_get_length(src) < TG_TLS_RECORD ? evbuffer_get_length(src) : TG_TLS_RECORD;
        unsigned char *p = evbuffer_pullup(src, (ev_ssize_t)k);
        int r, e;

        if (p == NULL)
            return -1;
        ERR_clear_error();
        r = SSL_write(ssl, p, (int)k);
        if (r > 0) {
            evbuffer_drain(src, (size_t)r);
            continue;
        }
        e = SSL_get_error(ssl, r);
        ERR_clear_error();
        return e == SSL_ERROR_WANT_WRITE ? 0 : -1;
    }
    return 1;
}

static SSL *
ssl_of(struct bufferevent *bev)
{
    struct bufferevent *u;
    SSL *ssl;

    if (bev == NULL)
        return NULL;
    ssl = bufferevent_openssl_get_ssl(bev);
    if (ssl == NULL && (u = bufferevent_get_underlying(bev)) != NULL)
        ssl = bufferevent_openssl_get_ssl(u);
    return ssl;
}

bool
tg_tls_is_tls(struct bufferevent *bev)
{
    return ssl_of(bev) != NULL;
}

bool
tg_tls_peer_sha256(struct bufferevent *bev, uint8_t out[32])
{
    SSL *ssl = ssl_of(bev);
    X509 *cert;
    unsigned int n = 0;

    if (ssl == NULL || (cert = SSL_get0_peer_certificate(ssl)) == NULL)
        return false;
    /* Only a certificate that verified names anyone (with client_ca the
     * handshake already failed otherwise; this guards a context without). */
    if (SSL_get_verify_result(ssl) != X509_V_OK)
        return false;
    return X509_digest(cert, EVP_sha256(), out, &n) == 1 && n == 32;
}
