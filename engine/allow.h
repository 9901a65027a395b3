/*
 * allow.h — allow lists: values that look like personal data but are not.
 *
 * An agent's own system prompt, an SDK template or a company prompt carries
 * vendor no-reply addresses, support hotlines and documentation samples.
 * The scanner finds them like any other value; an allow entry says that a
 * given value (or every value matching a pattern) of one entity is not
 * personal data, so tg_preflight_decide() drops the finding before it can
 * deny or redact anything, and counts it as `allowed` instead.
 *
 * Entries come from three places, tried in this order: policy.pii.allow,
 * the routing rule's pii_allow and the tenant's pii_allow (the effective
 * list is their union); then, unless policy.pii.role_addresses is
 * `personal`, the built-in entry for role and no-reply mailboxes.  A finding
 * is charged to the first entry that allows it.
 *
 * Matching is on the request text as written at the finding's span: the
 * whole matched value must equal a `values` item (ASCII case ignored for
 * EMAIL_ADDRESS, exact otherwise) or match a pattern anchored at both ends.
 * An obfuscated spelling the scanner normalised (zero-width characters,
 * full-width forms, JSON \u escapes) does not match, and so stays a finding:
 * the allow list can only be used for the values it names.
 *
 * Patterns are compiled once at load from the policy's arena and shared
 * read-only; the match data comes from the request's arena.  A pattern that
 * hits a PCRE2 limit or runs out of memory does not allow (fail closed).
 */
#ifndef TG_ALLOW_H
#define TG_ALLOW_H

#include "engine/tg.h"
#include "engine/arena.h"
#include "engine/pii.h"
#include "engine/request.h"

struct tg_allow_re;   /* a compiled PCRE2 pattern, anchored at both ends */

enum tg_allow_source {
    TG_ALLOW_SRC_POLICY = 0,   /* policy.pii.allow */
    TG_ALLOW_SRC_RULE   = 1,   /* routing_rules[].pii_allow */
    TG_ALLOW_SRC_TENANT = 2,   /* tenants[].pii_allow */
    TG_ALLOW_SRC_ROLE   = 3,   /* built in: role and no-reply mailboxes */
    TG_ALLOW_SRC_SPECIAL_IP = 4, /* built in: special-purpose IP addresses (loopback, private, ...) */
};

struct tg_allow_entry {
    uint32_t     id;           /* 0..policy->nallow-1: dry-run counts by it */
    enum tg_allow_source source;
    const char  *owner;        /* the rule's category or the tenant's id; NULL otherwise */
    const char  *entity;       /* e.g. "EMAIL_ADDRESS" */
    const char **values;       /* sorted by tg_allow_entry_finish() */
    uint32_t     nvalues;
    const char **patterns;     /* sources, as written */
    struct tg_allow_re **re;   /* compiled, parallel to patterns */
    uint32_t     npatterns;
    const char  *file;         /* where the entry was written (NULL for the built-in one) */
    uint32_t     line, col;
};

/* Which entries apply to one request, in the order they are tried. */
struct tg_allow_scope {
    const struct tg_allow_entry *lists[3];   /* policy, rule, tenant */
    uint32_t                     nlists[3];
    const struct tg_allow_entry *role;       /* NULL: role addresses are personal data */
    const struct tg_allow_entry *special_ip; /* NULL: special-purpose IPs are personal data */
};

/* Findings one entry suppressed in one request. */
struct tg_allow_hit {
    const struct tg_allow_entry *entry;
    uint32_t count;
};

/*
 * Compile src (PCRE2, byte-wise, anchored at both ends) with memory from a,
 * which must outlive every match.  On failure returns TG_EINVAL, *out is
 * untouched, *erroff is the offset in src and err holds PCRE2's message.
 */
int  tg_allow_re_compile(const char *src, struct tg_arena *a, struct tg_allow_re **out,
                         size_t *erroff, struct tg_err *err);

/* PCRE2's own facts about a compiled pattern, for `tollgate check`'s
 * heuristics: first_bytes[c] is true when a match can start with byte c;
 * required[0..nrequired) are bytes every match contains; minlen is the
 * shortest match. */
struct tg_allow_re_info {
    bool     first_bytes[256];
    uint8_t  required[2];
    uint32_t nrequired;
    uint32_t minlen;
};
void tg_allow_re_info(const struct tg_allow_re *re, struct tg_allow_re_info *out);

/* Sort e->values for binary search (call once, after filling them). */
void tg_allow_entry_finish(struct tg_allow_entry *e);

/* Per-request matcher: PCRE2 match data and limits from the request arena. */
struct tg_allow_matcher;
int  tg_allow_matcher_new(struct tg_arena *a, struct tg_allow_matcher **out);

/* Does e allow the value [v, v+len) (of e's entity)?  m may be NULL when e
 * has no patterns.  A pattern that hits a limit does not allow. */
bool tg_allow_entry_match(const struct tg_allow_entry *e, const char *v, size_t len,
                          struct tg_allow_matcher *m);
/* The same, saying why not: 1 allowed, 0 not, TG_ENOMEM when PCRE2 ran out
 * of match memory, TG_ELIMIT when a pattern hit a PCRE2 limit. */
int  tg_allow_entry_test(const struct tg_allow_entry *e, const char *v, size_t len,
                         struct tg_allow_matcher *m);

/* Is [v, v+len) an address whose local part is a role or no-reply mailbox
 * (noreply@, postmaster@, abuse@, ...; the list is in allow.c)? */
bool tg_allow_role_address(const char *v, size_t len);
/*
 * Is [v, v+len) a special-purpose IP address — one that identifies no
 * machine on the internet, let alone a person: loopback, unspecified,
 * private (RFC 1918, fc00::/7), link-local, shared (100.64/10),
 * documentation (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32),
 * IETF protocol assignments (192.0.0/24, 2001::/23), benchmarking, multicast, reserved and broadcast, IPv4-compatible and
 * mapped forms of those, or a netmask (255.255.255.0)?  A textual IPv4 or
 * IPv6 address as the detectors report it (an IPv6 zone is ignored).  The
 * built-in special-IP entry also takes network prefixes
 * (tg_allow_ip_network()).
 */
bool tg_allow_special_ip(const char *v, size_t len);
/*
 * Is [v, v+len), followed in its text by after[0, alen), a network rather
 * than a host: an address with its prefix length ("/N", N shorter than the
 * address) whose host bits are all zero, as in routing tables and address
 * plans (8.8.8.0/24, 2001:4860::/32, 200::/7)?  It names an allocation, not
 * a machine.  "203.0.113.7/24" (a host with its netmask) is not one.
 */
bool tg_allow_ip_network(const char *v, size_t len, const char *after, size_t alen);
/* The built-in list, NULL-terminated (for docs and tests). */
extern const char *const tg_allow_role_locals[];

/*
 * Drop from f every finding that an entry of sc allows, keeping the order
 * of the rest; parts are the texts the findings index (f->v[i].part).
 * Secrets and PII alike may be allowed; only entries of the finding's entity
 * are tried.  *hits (arena) gets one element per entry that allowed
 * something, in first-use order.  Returns TG_OK or TG_ENOMEM (f and *hits
 * then unchanged: every finding stands, fail closed).
 */
int  tg_allow_apply(const struct tg_allow_scope *sc, const struct tg_part *parts, uint32_t nparts,
                    struct tg_findings *f, struct tg_arena *a,
                    struct tg_allow_hit **hits, uint32_t *nhits, struct tg_err *err);

#endif /* TG_ALLOW_H */
