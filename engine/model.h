/*
 * model.h — the loaded policy as the engine sees it: immutable structs and
 * their pure lookups (engine/model.c).  The engine owns this model; policy/
 * is only the loader that fills it from YAML (policy/policy.h), so nothing
 * the engine links reaches files, the environment or libyaml.
 *
 * A struct tg_policy is const after load and read by every thread without
 * locks.  Everything inside lives in the policy's own arena and is freed at
 * once by tg_policy_unref() when the last reference goes (hot reload swaps a
 * new snapshot in; requests keep the one they started with).  Indices, not
 * pointers, link the tables (rule -> model -> provider), so a snapshot can
 * be walked and compared cheaply.
 */
#ifndef TG_MODEL_H
#define TG_MODEL_H

#include "engine/tg.h"
#include "engine/arena.h"

#include <stdatomic.h>

struct tg_pii_db;        /* engine/pii.h */
struct tg_markings;      /* engine/markings.h */
struct tg_allow_entry;   /* engine/allow.h */

/* Where a value came from, for FILE:LINE:COL diagnostics (1-based). */
struct tg_pos {
    const char *file;
    uint32_t    line, col;
};

enum tg_adapter_kind {
    TG_ADAPTER_OPENAI    = 0,  /* any OpenAI-compatible chat completions API */
    TG_ADAPTER_ANTHROPIC = 1,  /* Messages API, translated */
    TG_ADAPTER_ECHO      = 2,  /* answers locally; demos and tests */
};

/* How the gateway reaches a provider: `auto` takes the in-loop HTTP/1.1
 * client for plain-HTTP IP-literal/localhost URLs and libcurl otherwise;
 * `curl` always libcurl (adapters/http/upstream.h). */
enum tg_transport { TG_TRANSPORT_AUTO = 0, TG_TRANSPORT_CURL = 1 };
enum tg_mode      { TG_MODE_ENFORCE = 0, TG_MODE_AUDIT = 1 };
enum tg_pii_action{ TG_PII_ACTION_DENY = 0, TG_PII_ACTION_REDACT = 1 };
/* policy.response.secrets / .pii: what the output guard does with a finding
 * of that class in the provider's answer (engine/outguard.h). */
enum tg_resp_action { TG_RESP_PASS = 0, TG_RESP_REDACT = 1, TG_RESP_DENY = 2 };
enum tg_fsync     { TG_FSYNC_BATCH = 0, TG_FSYNC_ALWAYS = 1, TG_FSYNC_NEVER = 2 };
enum tg_sign_mode { TG_SIGN_SEAL = 0, TG_SIGN_EACH = 1 };

struct tg_provider {
    const char *id;
    enum tg_adapter_kind adapter;
    const char *base_url;       /* "" for echo */
    const char *api_key;        /* after ${VAR} interpolation; "" if none. NEVER print or log. */
    const char *region;         /* where data is processed/stored: "us", "eu", "cn", ... */
    const char *jurisdiction;   /* ISO 3166-1 alpha-2 of the legal entity */
    bool        pii_allowed;    /* a DPA allows personal data */
    enum tg_transport transport;
    const char *proxy;          /* outbound proxy URL (http, https, socks5[h]); NULL = none.
                                   May carry credentials: NEVER print or log. */
    const char *ca_bundle;      /* resolved path of extra trust (PEM) for TLS to the provider; NULL = system */
    struct tg_pos pos;
};

struct tg_score {
    const char *metric;         /* "humaneval", "mmlu", "ceval", ... */
    double      value;
};

/* What a model serves: chat-like requests (chat completions and every
 * dialect decoded to it) or embeddings.  The pre-flight routes a request
 * only to models of its kind (rule id model.kind). */
enum tg_model_kind { TG_MODEL_CHAT = 0, TG_MODEL_EMBEDDING = 1 };

struct tg_model {
    const char *id;             /* registry id, e.g. "deepseek-v4-flash" */
    const char *upstream;       /* model name sent to the provider (key `upstream_model`, default id) */
    uint32_t    provider;       /* index into tg_policy.providers */
    enum tg_model_kind kind;    /* key `kind: chat | embedding`, default chat */
    uint32_t    max_context;    /* tokens; 0 = unknown */
    /* Most tokens one answer may have (key `max_output_tokens`; 0 = no cap):
     * a request asking for more (Claude Code asks 32000) is sent with this
     * instead, and costed and sized with it, rather than refused upstream. */
    uint32_t    max_output_tokens;
    bool        streaming;
    bool        vision;
    double      input_per_m;    /* USD per 1M input tokens; NAN = unknown */
    double      output_per_m;   /* USD per 1M output tokens; NAN = unknown */
    struct tg_score *scores;
    uint32_t    nscores;
    double      latency_ms;     /* NAN = unknown */
    double      tokens_per_s;   /* NAN = unknown */
    struct tg_pos pos;
};

/* A data_residency label and the provider regions it admits. */
struct tg_region_set {
    const char  *label;
    const char **regions;
    uint32_t     nregions;
    struct tg_pos pos;
};

struct tg_export_tag {
    const char  *name;          /* "itar", "ear", ... (lower case) */
    bool         has_allow;     /* allow_jurisdictions given (possibly empty = nobody) */
    const char **allow;
    uint32_t     nallow;
    const char **deny;
    uint32_t     ndeny;
    struct tg_pos pos;
};

struct tg_route_rule {
    const char *category;       /* also the rule's id in reasons */
    uint32_t   *chain;          /* model indices, primary first */
    uint32_t    nchain;
    double      quality_threshold;    /* NAN = none */
    const char *quality_metric;       /* default "humaneval" */
    double      max_cost_per_request; /* USD; INFINITY = none */
    uint32_t    timeout_ms;           /* primary attempt timeout; fallbacks grow when progressive */
    uint32_t    deadline_ms;          /* whole request; 0 = sum of attempt timeouts */
    int32_t     residency;            /* index into regions */
    bool        pii_allowed;
    bool        export_controlled;
    const char **aliases;       /* client model names (e.g. claude-opus-5-5) that select this rule */
    uint32_t    naliases;
    const struct tg_allow_entry *pii_allow;   /* the rule's pii_allow (engine/allow.h) */
    uint32_t    npii_allow;
    struct tg_pos pos;
};

struct tg_tenant {
    const char  *id;
    uint8_t      key_sha256[32];
    bool         has_key;
    uint8_t      cert_sha256[32];     /* SHA-256 of the client certificate (DER), mTLS identity */
    bool         has_cert;
    int32_t      residency;           /* index into regions; -1 = no tenant restriction */
    bool         pii_allowed;         /* default true: the tenant adds no restriction */
    const char **export_tags;         /* always applied to this tenant's requests */
    uint32_t     nexport_tags;
    double       max_cost_per_request;/* INFINITY = none */
    const char **categories;          /* categories this tenant may use; 0 = all */
    uint32_t     ncategories;
    uint32_t     requests_per_minute; /* 0 = unlimited; 429 past it */
    const char  *default_category;    /* category when the request names none; NULL = none */
    const struct tg_allow_entry *pii_allow;   /* the tenant's pii_allow (engine/allow.h) */
    uint32_t     npii_allow;
    struct tg_pos pos;
};

struct tg_breaker_cfg {
    uint32_t failure_threshold;       /* consecutive failures that open the breaker */
    uint32_t recovery_timeout_ms;     /* open -> half-open after this */
    bool     progressive_timeout;     /* fallback i gets timeout_ms * (1 + i/2) */
};

struct tg_telemetry_cfg {
    bool        enabled;
    const char *endpoint;
    uint32_t    batch_size;
    uint32_t    flush_interval_ms;
};

struct tg_audit_cfg {
    const char     *path;             /* NULL: no audit log (serve refuses: fail closed) */
    const char     *signing_key;      /* PEM Ed25519 private key (generated if missing) */
    enum tg_fsync   fsync;
    enum tg_sign_mode sign;
    uint32_t        seal_every;       /* entries per seal (sign: seal) */
    uint32_t        seal_interval_ms; /* max delay before a seal */
    uint64_t        rotate_bytes;     /* 0 = never rotate */
    uint32_t        queue_depth;
};

struct tg_capture_cfg {
    const char *path;                 /* NULL: capture off */
    bool        redact;               /* default true */
    double      sample;               /* 0..1 */
};

/* server.tls: the listener speaks TLS only when cert is set.  Paths are
 * resolved against the configuration's directory at load. */
enum tg_tls_version { TG_TLS_V1_2 = 0, TG_TLS_V1_3 = 1 };
struct tg_tls_cfg {
    const char *cert;                 /* PEM chain, leaf first; NULL = plain HTTP */
    const char *key;                  /* PEM private key; must not be group/other-readable */
    const char *client_ca;            /* PEM CA(s) that sign client certificates; NULL = none asked */
    const char *min_version;          /* "1.2" (default) or "1.3", as written */
    enum tg_tls_version min;          /* min_version, parsed */
    struct tg_pos pos;                /* of the tls block; line 0 = absent */
};

struct tg_server_cfg {
    const char *listen;               /* "127.0.0.1:8080" */
    uint32_t    threads;              /* 0 = one per core */
    uint32_t    max_body_bytes;
    uint32_t    header_timeout_ms;
    uint32_t    idle_timeout_ms;
    uint32_t    busy_poll_us;         /* 0 = off; else a loop keeps polling this long after
                                         its last activity before it sleeps (adapters/http) */
    struct tg_tls_cfg tls;
};

struct tg_policy {
    atomic_int  refs;
    struct tg_arena arena;            /* owns every string and array below */

    const char *source;               /* config file path */
    const char *version;              /* the config's `version:` ("2.1") */
    char        policy_version[65];   /* hex SHA-256 of the effective configuration */
    enum tg_mode mode;

    struct tg_provider   *providers;  uint32_t nproviders;
    struct tg_model      *models;     uint32_t nmodels;
    struct tg_region_set *regions;    uint32_t nregions;
    struct tg_route_rule *rules;      uint32_t nrules;
    struct tg_tenant     *tenants;    uint32_t ntenants;
    struct tg_export_tag *tags;       uint32_t ntags;

    /* policy.pii */
    struct tg_pii_db   *pii;          /* compiled packs; owned */
    const char        **pii_packs;    uint32_t npii_packs;
    double              pii_min_score;
    enum tg_pii_action  pii_action;
    bool                deny_secrets; /* secrets deny even where PII is allowed */
    const struct tg_allow_entry *pii_allow;  /* policy.pii.allow (engine/allow.h) */
    uint32_t            npii_allow;
    const struct tg_allow_entry *special_ip_allow; /* special-purpose IPs are not personal data;
                                                      NULL with policy.pii.special_ips: personal */
    const struct tg_allow_entry *role_allow; /* role mailboxes are not personal data;
                                                NULL with policy.pii.role_addresses: personal */
    uint32_t            nallow;       /* allow entries of every level + the role one:
                                         their ids are 0..nallow-1 */

    /* policy.response: the output guard; both pass = off, nothing scanned */
    enum tg_resp_action resp_secrets; /* findings whose detector class is secret */
    enum tg_resp_action resp_pii;     /* every other finding */

    /* policy.export_control */
    const char         *export_header;   /* default "X-Export-Control" */
    struct tg_markings *markings;        /* content markings; owned */

    uint32_t default_output_tokens;      /* cost estimate when max_tokens is absent (policy.default_output_tokens, 1024) */

    struct tg_breaker_cfg   breaker;
    struct tg_telemetry_cfg telemetry;
    struct tg_audit_cfg     audit;
    struct tg_capture_cfg   capture;
    struct tg_server_cfg    server;
};

struct tg_policy *tg_policy_ref(struct tg_policy *p);
void tg_policy_unref(struct tg_policy *p);

/* Lookups; NULL / -1 when absent. */
const struct tg_tenant     *tg_policy_tenant(const struct tg_policy *p, const char *id);
const struct tg_tenant     *tg_policy_tenant_by_key(const struct tg_policy *p, const uint8_t sha256[32]);
/* The tenant whose client_cert_sha256 is this DER certificate's SHA-256. */
const struct tg_tenant     *tg_policy_tenant_by_cert(const struct tg_policy *p, const uint8_t sha256[32]);
const struct tg_route_rule *tg_policy_rule(const struct tg_policy *p, const char *category);
int32_t tg_policy_model_index(const struct tg_policy *p, const char *model_id);
int32_t tg_policy_region_index(const struct tg_policy *p, const char *label);
const struct tg_export_tag *tg_policy_export_tag(const struct tg_policy *p, const char *name);
/* Does region label `set` admit provider region `region`? */
bool tg_policy_region_admits(const struct tg_policy *p, int32_t set, const char *region);
/* Score of model on metric, or NAN. */
double tg_model_score(const struct tg_model *m, const char *metric);

#endif /* TG_MODEL_H */
