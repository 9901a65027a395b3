/*
 * config_int.h — the loader's raw configuration (names not yet resolved)
 * and what its three files share: config_tables.c (what each key may hold),
 * config_resolve.c (merge and resolve names) and policy_load.c (reading,
 * compiling, building).  Internal to policy/.
 */
#ifndef TG_CONFIG_INT_H
#define TG_CONFIG_INT_H

#include "policy/policy_int.h"
#include "engine/markings.h"

/* ---- raw (unresolved) structures ----------------------------------------- */

struct rmodel {
    const char     *id;
    struct tg__ref  provider;
    const char     *upstream;
    enum tg_model_kind kind;
    uint32_t        max_context, max_output_tokens;
    bool            streaming, vision;
    struct rprice { double input_per_m, output_per_m; } price;
    struct tg_score *scores;
    uint32_t        nscores;
    double          latency_ms, tokens_per_s;
    struct tg_pos   pos;
};

struct rcand {
    struct tg__ref provider, model;
    uint32_t       max_context;
    struct tg_pos  max_context_pos;
    bool           streaming;
    struct tg_pos  streaming_pos;
    struct tg_pos  pos;
};

struct rrule {
    struct tg__ref category;
    struct rcand   primary;
    struct rcand  *fallback;
    uint32_t       nfallback;
    double         quality_threshold;
    struct tg_pos  qt_pos;
    double         max_cost;
    struct tg_pos  cost_pos;
    uint32_t       timeout_ms, deadline_ms;
    struct tg_pos  deadline_pos;
    struct tg__ref residency;
    bool           pii_allowed;
    bool           export_controlled;
    struct tg_pos  export_pos;
    struct tg__ref metric;
    const char   **aliases;        /* client model names that select this category */
    uint32_t       naliases;
    struct tg__rallow_list allow;   /* pii_allow */
    struct tg_pos  pos;
};

struct rtenant {
    struct tg__ref  id;
    struct tg__ref  key;
    struct tg__ref  cert;
    struct tg__ref  residency;
    bool            pii_allowed;
    struct tg__ref *tags;
    uint32_t        ntags;
    double          max_cost;
    struct tg__ref *cats;
    uint32_t        ncats;
    uint32_t        rpm;
    struct tg__ref  default_category;
    struct tg__rallow_list allow;  /* pii_allow */
    struct tg_pos   pos;
};

struct rtag {
    struct tg_export_tag t;
    struct tg_pos allow_pos;
};

struct fconf {
    const char *version;
    struct tg_telemetry_cfg telemetry;
    struct tg_provider   *prov;     uint32_t nprov;
    struct rmodel        *models;   uint32_t nmodels;
    struct tg_region_set *regions;  uint32_t nregions;
    struct rrule         *rules;    uint32_t nrules;
    struct tg_breaker_cfg breaker;
    /* policy: */
    int                   mode;
    struct tg__ref       *packs;    uint32_t npacks;
    double                min_score;
    int                   action;
    bool                  deny_secrets;
    struct tg__rallow_list allow;    /* policy.pii.allow */
    int                   role_mode;
    int                   special_ip_mode;
    int                   resp_secrets, resp_pii;   /* policy.response */
    const char           *export_header;
    struct tg__ref        markings;
    struct rtag          *tags;     uint32_t ntags;
    bool                  tags_given;
    uint32_t              default_output_tokens;
    struct rtenant       *tenants;  uint32_t ntenants;
    struct tg_audit_cfg   audit;
    struct tg_capture_cfg capture;
    struct tg_server_cfg  server;
};


/* The export-markings file, as read (policy.export_control.markings). */
struct mconf {
    struct tg_marking_spec *specs;
    uint32_t n;
};

/* config_tables.c */
extern const struct tg__field tg__cfg_root_tab[], tg__cfg_reg_root_tab[], tg__cfg_markings_root_tab[];
int  tg__cfg_load_allow(struct tg__ld *ld, const struct fconf *cfg);
bool tg__cfg_file_exists(const char *path);

/* config_resolve.c */
int  tg__cfg_merge(struct tg__ld *ld, const struct fconf *reg, const struct fconf *cfg, struct rmodel **models_out);
int  tg__cfg_resolve_rule(struct tg__ld *ld, const struct rrule *rr, struct tg_route_rule *r);
int  tg__cfg_resolve_tenants(struct tg__ld *ld, const struct fconf *cfg);
void tg__cfg_check_tls(struct tg__ld *ld, const struct tg_policy *p);

#endif /* TG_CONFIG_INT_H */
