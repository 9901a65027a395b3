/*
 * allow_load.c — the allow lists of a policy (engine/allow.h): walking
 * `policy.pii.allow`, `routing_rules[].pii_allow` and `tenants[].pii_allow`,
 * compiling their patterns, and the static checks `tollgate check` reports.
 *
 * Kept apart from policy_load.c so that the loader proper only gains a
 * table line per level and one call.
 *
 * The checks, all warnings except a pattern that does not compile:
 *   - an entity no loaded detector produces: the entry can never apply;
 *   - a value the detectors never report, whole, as its entity (tried for
 *     the entities of the shapes table below, whose detectors need no
 *     context words): the value can never be a finding, so listing it does
 *     nothing;
 *   - a pattern that matches every sample of its entity, or every one of a
 *     handful of unrelated strings: it allows (nearly) everything of that
 *     entity, which is a switched-off detector, not an exception;
 *   - a pattern that can match no value of its entity: PCRE2 says which
 *     bytes a match can start with and which it must contain, and how short
 *     it can be; when none of the possible first bytes, or one of the
 *     required ones, lies outside the characters the entity's values are
 *     made of, or the shortest match is longer than any value, no finding
 *     can ever match it.
 * These are heuristics: they see the shapes tollgate knows, not every value
 * a detector could report.
 */
#include "policy/policy_int.h"
#include "engine/allow.h"
#include "engine/limits.h"
#include "engine/pii.h"

#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- known shapes ------------------------------------------------------------ */

static const char *const email_samples[] = {
    "jane.doe@example.com", "j.smith+news@mail.example.co.uk", "x7@ab.io",
    "Ops-Team_2@sub.example-corp.de", "noreply@example.org", NULL
};
static const char *const phone_samples[] = {
    "+1 415 555 0100", "+44 20 7946 0958", "(212) 555-0199", "212-555-0147",
    "+1 800 555 0100", NULL
};
static const char *const card_samples[] = {
    "4111 1111 1111 1111", "5500-0000-0000-0004", "378282246310005", NULL
};
static const char *const ssn_samples[] = { "536-22-1987", "536221987", "536 22 1987", NULL };
static const char *const ip_samples[] = {
    "192.168.1.20", "10.0.0.1", "203.0.113.7", "2001:db8::1", "fe80::1ff:fe23:4567:890a", NULL
};
static const char *const iban_samples[] = {
    "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606", NULL
};

const struct tg__allow_shape tg__allow_shapes[] = {
    { "EMAIL_ADDRESS", email_samples,
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._%+-@", 254 },
    { "PHONE_NUMBER", phone_samples, "0123456789 +().-", 32 },
    { "CREDIT_CARD", card_samples, "0123456789 -", 24 },
    { "US_SSN", ssn_samples, "0123456789 -", 11 },
    { "IP_ADDRESS", ip_samples, "0123456789abcdefABCDEF.:", 45 },
    { "IBAN_CODE", iban_samples, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ", 42 },
    { NULL, NULL, NULL, 0 }
};

const struct tg__allow_shape *
tg__allow_shape(const char *entity)
{
    for (const struct tg__allow_shape *s = tg__allow_shapes; s->entity != NULL; s++)
        if (strcmp(s->entity, entity) == 0)
            return s;
    return NULL;
}

/* Strings no real exception should cover all of: an allow pattern that
 * matches every one allows anything. */
static const char *const generic_samples[] = {
    "x", "0", "jane.doe@example.com", "+1 415 555 0100", "AKIAIOSFODNN7EXAMPLE",
    "Not a value at all!", "4111 1111 1111 1111", NULL
};

/* ---- walking ------------------------------------------------------------------- */

static const struct tg__field entry_tab[] = {
    { "entity", TG__F_REF, offsetof(struct tg__rallow, entity), 0, TG__NOOFF, 0, 0, NULL, NULL, NULL, NULL, TG__REQ },
    { "values", TG__F_REFLIST, offsetof(struct tg__rallow, values), offsetof(struct tg__rallow, nvalues),
      TG__NOOFF, 0, 0, NULL, NULL, NULL, NULL, 0 },
    { "patterns", TG__F_REFLIST, offsetof(struct tg__rallow, patterns), offsetof(struct tg__rallow, npatterns),
      TG__NOOFF, 0, 0, NULL, NULL, NULL, NULL, 0 },
    { NULL, 0, 0, 0, 0, 0, 0, NULL, NULL, NULL, NULL, 0 }
};

int
tg__allow_walk(struct tg__ld *ld, const struct tg__ynode *v, const char *key,
               struct tg__rallow_list *out)
{
    out->pos = v->pos;
    if (tg__is_null(v))
        return TG_OK;
    if (v->kind != TG__YN_SEQ) {
        tg__diag_node(ld, TG_DIAG_ERROR, v,
                      "'%s' must be a list of {entity, values, patterns} entries", key);
        return TG_OK;
    }
    uint32_t n = v->n;
    if (n > TG_MAX_ALLOW_ENTRIES) {
        tg__diag_node(ld, TG_DIAG_ERROR, v, "more than %u entries in '%s'", TG_MAX_ALLOW_ENTRIES, key);
        n = TG_MAX_ALLOW_ENTRIES;
    }
    out->v = tg_arena_calloc(&ld->tmp, n ? n : 1, sizeof(*out->v));
    if (out->v == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < n; i++) {
        const struct tg__ynode *it = v->kids[i];
        struct tg__rallow *e = &out->v[out->n];
        unsigned before = ld->nerrors;
        if (it->kind != TG__YN_MAP) {
            tg__diag_node(ld, TG_DIAG_ERROR, it, "'%s' entries must be mappings with 'entity' and 'values' or 'patterns'", key);
            continue;
        }
        e->pos = it->pos;
        int rc = tg__walk_map(ld, it, entry_tab, e);
        if (rc != TG_OK)
            return rc;
        if (ld->nerrors != before || e->entity.s == NULL)
            continue;
        if (e->entity.s[0] == '\0') {
            tg__diag_at(ld, TG_DIAG_ERROR, &e->entity.pos, "entity must not be empty");
            continue;
        }
        if (e->nvalues == 0 && e->npatterns == 0) {
            tg__diag_node(ld, TG_DIAG_ERROR, it,
                          "allow entry for %s has neither 'values' nor 'patterns': it allows nothing",
                          e->entity.s);
            continue;
        }
        if (e->nvalues > TG_MAX_ALLOW_VALUES) {
            tg__diag_at(ld, TG_DIAG_ERROR, &e->values[TG_MAX_ALLOW_VALUES].pos,
                        "more than %u values in one allow entry", TG_MAX_ALLOW_VALUES);
            continue;
        }
        if (e->npatterns > TG_MAX_ALLOW_PATTERNS) {
            tg__diag_at(ld, TG_DIAG_ERROR, &e->patterns[TG_MAX_ALLOW_PATTERNS].pos,
                        "more than %u patterns in one allow entry", TG_MAX_ALLOW_PATTERNS);
            continue;
        }
        out->n++;
    }
    return TG_OK;
}

/* ---- checks ---------------------------------------------------------------------- */

/* Show a pattern in a message, shortened (patterns are config text, not
 * request data, but a message stays one readable line). */
static const char *
shown_pattern(const char *s, char *b, size_t size)
{
    size_t n = strlen(s);
    if (n < size) {
        memcpy(b, s, n + 1);
    } else {
        memcpy(b, s, size - 4);
        memcpy(b + size - 4, "...", 4);
    }
    for (char *c = b; *c; c++)
        if ((unsigned char)*c < 0x20)
            *c = '?';
    return b;
}

/* Does e match every sample?  Out of match memory is the loader's out of
 * memory, not a silently skipped check. */
static bool
all_match(struct tg__ld *ld, const struct tg_allow_entry *e, const char *const *samples,
          struct tg_allow_matcher *m)
{
    if (samples == NULL || samples[0] == NULL)
        return false;
    for (const char *const *s = samples; *s != NULL; s++) {
        int rc = tg_allow_entry_test(e, *s, strlen(*s), m);
        if (rc == TG_ENOMEM)
            ld->oom = true;
        if (rc <= 0)
            return false;
    }
    return true;
}

static bool
in_alphabet(const char *alpha, uint8_t c)
{
    return c != 0 && (strchr(alpha, c) != NULL ||
                      strchr(alpha, tolower(c)) != NULL || strchr(alpha, toupper(c)) != NULL);
}

/* Why pattern re can match no value of shape sh, or NULL. */
static const char *
no_value_reason(const struct tg_allow_re *re, const struct tg__allow_shape *sh, char *b, size_t size)
{
    struct tg_allow_re_info in;
    bool any_first = false;

    tg_allow_re_info(re, &in);
    if (in.minlen > sh->maxlen) {
        snprintf(b, size, "its shortest match is %u bytes and no %s is longer than %u",
                 in.minlen, sh->entity, sh->maxlen);
        return b;
    }
    for (unsigned c = 1; c < 256 && !any_first; c++)
        any_first = in.first_bytes[c] && in_alphabet(sh->alphabet, (uint8_t)c);
    if (!any_first) {
        snprintf(b, size, "every match starts with a character no %s contains", sh->entity);
        return b;
    }
    for (uint32_t i = 0; i < in.nrequired; i++)
        if (!in_alphabet(sh->alphabet, in.required[i])) {
            if (in.required[i] >= 0x21 && in.required[i] < 0x7f)
                snprintf(b, size, "it requires '%c', which no %s contains", in.required[i], sh->entity);
            else
                snprintf(b, size, "it requires byte 0x%02x, which no %s contains", in.required[i], sh->entity);
            return b;
        }
    return NULL;
}

/* Is the whole of v reported as `entity` when scanned alone? */
static int
value_found(const struct tg_pii_db *db, struct tg_pii_scratch *sc, struct tg_arena *a,
            const char *entity, const char *v, bool *found)
{
    struct tg_findings f = {0};
    struct tg_err e = {0};
    size_t n = strlen(v);
    int rc = tg_pii_scan(db, sc, v, n, 0, 0.0, a, &f, &e);
    *found = false;
    if (rc != TG_OK)
        return rc;
    for (uint32_t i = 0; i < f.n; i++)
        if (f.v[i].start == 0 && f.v[i].end == n && strcmp(f.v[i].entity, entity) == 0)
            *found = true;
    /* a scan that hit a limit proves nothing either way */
    if (f.unscannable)
        *found = true;
    return TG_OK;
}

struct ckctx {
    struct tg_pii_scratch *sc;
    const char **entities;       /* distinct entities of the db */
    uint32_t nentities;
    struct tg_allow_matcher *m;
};

static void
check_entry(struct tg__ld *ld, struct ckctx *cx, const struct tg__rallow *raw,
            const struct tg_allow_entry *e)
{
    const struct tg_policy *p = ld->p;
    const struct tg__allow_shape *sh = tg__allow_shape(e->entity);
    char b[200], pb[80];

    if (p->pii != NULL) {
        bool known = false;
        for (uint32_t i = 0; i < cx->nentities && !known; i++)
            known = strcmp(cx->entities[i], e->entity) == 0;
        if (!known) {
            const char *sug = tg__suggest(e->entity, cx->entities, cx->nentities);
            tg__diag_at(ld, TG_DIAG_WARNING, &raw->entity.pos,
                        "entity '%s' is produced by no loaded PII detector, so this allow entry never applies%s%s%s",
                        e->entity, sug ? " (did you mean '" : "", sug ? sug : "", sug ? "'?)" : "");
            return;
        }
    }
    /* values the detectors never report whole */
    if (p->pii != NULL && cx->sc != NULL && sh != NULL) {
        for (uint32_t i = 0; i < raw->nvalues; i++) {
            struct tg_arena a;
            bool found = true;
            tg_arena_init(&a, 0);
            int rc = value_found(p->pii, cx->sc, &a, e->entity, raw->values[i].s, &found);
            tg_arena_free(&a);
            if (rc == TG_ENOMEM) {
                ld->oom = true;
                return;
            }
            if (!found)
                tg__diag_at(ld, TG_DIAG_WARNING, &raw->values[i].pos,
                            "the loaded detectors never report this value as a whole %s, so allowing it has no effect",
                            e->entity);
        }
    }
    for (uint32_t i = 0; i < e->npatterns; i++) {
        struct tg_allow_entry one = *e;
        const struct tg_pos *pos = &raw->patterns[i].pos;
        one.nvalues = 0;
        one.re = &e->re[i];
        one.patterns = &e->patterns[i];
        one.npatterns = 1;
        shown_pattern(e->patterns[i], pb, sizeof(pb));
        if (all_match(ld, &one, generic_samples, cx->m)) {
            tg__diag_at(ld, TG_DIAG_WARNING, pos,
                        "allow pattern '%s' matches anything, so it allows every %s: that switches the detector off rather than making an exception",
                        pb, e->entity);
            continue;
        }
        if (sh == NULL)
            continue;
        if (all_match(ld, &one, sh->samples, cx->m)) {
            tg__diag_at(ld, TG_DIAG_WARNING, pos,
                        "allow pattern '%s' matches every sample %s tollgate knows, so it would allow (nearly) every %s; narrow it to the values meant",
                        pb, e->entity, e->entity);
            continue;
        }
        const char *why = no_value_reason(e->re[i], sh, b, sizeof(b));
        if (why != NULL)
            tg__diag_at(ld, TG_DIAG_WARNING, pos,
                        "allow pattern '%s' can match no %s (%s), so it never applies",
                        pb, e->entity, why);
    }
}

/* ---- resolving -------------------------------------------------------------------- */

static int
resolve_list(struct tg__ld *ld, struct ckctx *cx, const struct tg__rallow_list *raw,
             enum tg_allow_source src, const char *owner,
             const struct tg_allow_entry **out, uint32_t *nout)
{
    struct tg_policy *p = ld->p;
    struct tg_allow_entry *v;
    uint32_t n = 0;

    *out = NULL;
    *nout = 0;
    if (raw == NULL || raw->n == 0)
        return TG_OK;
    if ((v = tg_arena_calloc(&p->arena, raw->n, sizeof(*v))) == NULL)
        return TG_ENOMEM;
    for (uint32_t i = 0; i < raw->n; i++) {
        const struct tg__rallow *r = &raw->v[i];
        struct tg_allow_entry *e = &v[n];
        bool bad = false;
        e->source = src;
        e->owner = owner;
        e->entity = r->entity.s;
        e->file = r->pos.file;
        e->line = r->pos.line;
        e->col = r->pos.col;
        e->values = tg_arena_calloc(&p->arena, r->nvalues ? r->nvalues : 1, sizeof(*e->values));
        e->patterns = tg_arena_calloc(&p->arena, r->npatterns ? r->npatterns : 1, sizeof(*e->patterns));
        e->re = tg_arena_calloc(&p->arena, r->npatterns ? r->npatterns : 1, sizeof(*e->re));
        if (e->values == NULL || e->patterns == NULL || e->re == NULL)
            return TG_ENOMEM;
        for (uint32_t j = 0; j < r->nvalues; j++) {
            if (r->values[j].s[0] == '\0') {
                tg__diag_at(ld, TG_DIAG_ERROR, &r->values[j].pos, "allow values must not be empty");
                bad = true;
                continue;
            }
            e->values[e->nvalues++] = r->values[j].s;
        }
        for (uint32_t j = 0; j < r->npatterns; j++) {
            struct tg_err err = {0};
            size_t off = 0;
            char pb[80];
            int rc = tg_allow_re_compile(r->patterns[j].s, &p->arena, &e->re[e->npatterns], &off, &err);
            if (rc == TG_ENOMEM)
                return rc;
            if (rc != TG_OK) {
                tg__diag_at(ld, TG_DIAG_ERROR, &r->patterns[j].pos,
                            "allow pattern '%s' does not compile: %s at offset %zu",
                            shown_pattern(r->patterns[j].s, pb, sizeof(pb)), err.msg, off);
                bad = true;
                continue;
            }
            e->patterns[e->npatterns++] = r->patterns[j].s;
        }
        if (bad)
            continue;
        tg_allow_entry_finish(e);
        e->id = p->nallow++;
        check_entry(ld, cx, r, e);
        n++;
    }
    *out = v;
    *nout = n;
    return TG_OK;
}

int
tg__allow_load(struct tg__ld *ld, const struct tg__rallow_list *policy_list, bool roles_personal,
               bool special_personal,
               const struct tg__rallow_list *const *rule_lists, const char *const *rule_ids,
               uint32_t nrules, const struct tg__rallow_list *const *tenant_lists,
               const char *const *tenant_ids, uint32_t ntenants)
{
    struct tg_policy *p = ld->p;
    struct ckctx cx = {0};
    struct tg_arena ma;
    int rc = TG_OK;

    tg_arena_init(&ma, 0);
    if (tg_allow_matcher_new(&ma, &cx.m) != TG_OK) {
        rc = TG_ENOMEM;
        goto out;
    }
    if (p->pii != NULL) {
        size_t nd = tg_pii_db_count(p->pii);
        cx.entities = tg_arena_calloc(&ld->tmp, nd ? nd : 1, sizeof(*cx.entities));
        if (cx.entities == NULL) {
            rc = TG_ENOMEM;
            goto out;
        }
        for (size_t i = 0; i < nd; i++) {
            const char *en = tg_pii_db_entity(p->pii, i);
            uint32_t k = 0;
            while (k < cx.nentities && strcmp(cx.entities[k], en) != 0)
                k++;
            if (k == cx.nentities)
                cx.entities[cx.nentities++] = en;
        }
        /* a scratch only to try values alone */
        if (tg_pii_scratch_new(p->pii, &cx.sc) != TG_OK) {
            cx.sc = NULL;
            rc = TG_ENOMEM;
            goto out;
        }
    }

    if ((rc = resolve_list(ld, &cx, policy_list, TG_ALLOW_SRC_POLICY, NULL,
                           &p->pii_allow, &p->npii_allow)) != TG_OK)
        goto out;
    for (uint32_t i = 0; i < nrules; i++) {
        struct tg_route_rule *r = (struct tg_route_rule *)tg_policy_rule(p, rule_ids[i]);
        if (r == NULL || rule_lists[i] == NULL || rule_lists[i]->n == 0)
            continue;
        if ((rc = resolve_list(ld, &cx, rule_lists[i], TG_ALLOW_SRC_RULE, r->category,
                               &r->pii_allow, &r->npii_allow)) != TG_OK)
            goto out;
    }
    for (uint32_t i = 0; i < ntenants; i++) {
        if (tenant_lists[i] == NULL || tenant_lists[i]->n == 0)
            continue;
        struct tg_tenant *t = (struct tg_tenant *)tg_policy_tenant(p, tenant_ids[i]);
        if (t == NULL)
            continue;
        if ((rc = resolve_list(ld, &cx, tenant_lists[i], TG_ALLOW_SRC_TENANT, t->id,
                               &t->pii_allow, &t->npii_allow)) != TG_OK)
            goto out;
    }
    if (!roles_personal) {
        struct tg_allow_entry *e = tg_arena_calloc(&p->arena, 1, sizeof(*e));
        if (e == NULL) {
            rc = TG_ENOMEM;
            goto out;
        }
        e->source = TG_ALLOW_SRC_ROLE;
        e->entity = "EMAIL_ADDRESS";
        e->id = p->nallow++;
        p->role_allow = e;
    }
    if (!special_personal) {
        struct tg_allow_entry *e = tg_arena_calloc(&p->arena, 1, sizeof(*e));
        if (e == NULL) {
            rc = TG_ENOMEM;
            goto out;
        }
        e->source = TG_ALLOW_SRC_SPECIAL_IP;
        e->entity = "IP_ADDRESS";
        e->id = p->nallow++;
        p->special_ip_allow = e;
    }
out:
    tg_pii_scratch_free(cx.sc);
    tg_arena_free(&ma);
    return rc;
}
