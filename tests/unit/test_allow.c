/*
 * test_allow.c — the allow-list matcher (engine/allow.h) and its loader
 * (policy/allow_load.c): role mailboxes, exact values, anchored patterns,
 * limits, tg_allow_apply() precedence and out-of-memory behaviour, the
 * known shapes the check heuristics rely on, ids and policy_version.
 * The request-level behaviour is in tests/cases/allow/ (allow_cases.sh).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/allow.h"
#include "engine/limits.h"
#include "engine/pii.h"
#include "engine/preflight.h"
#include "engine/redact.h"
#include "engine/request.h"
#include "policy/policy.h"
#include "policy/policy_int.h"

#ifndef TG_DATA_DIR
#define TG_DATA_DIR "."
#endif

static struct tg_policy *
load(const char *name)
{
    char path[512];
    struct tg_load_opts o = {0};
    struct tg_policy *p = NULL;
    struct tg_err err = {0};
    snprintf(path, sizeof(path), "%s/tests/cases/policies/%s", TG_DATA_DIR, name);
    cr_assert_eq(tg_policy_load(path, &o, &p, &err), TG_OK, "%s: %s", path, err.msg);
    return p;
}

static bool
m(const struct tg_allow_entry *e, const char *v, struct tg_allow_matcher *mt)
{
    return tg_allow_entry_match(e, v, strlen(v), mt);
}

/* An entry with patterns compiled into a. */
static struct tg_allow_entry
pat_entry(struct tg_arena *a, const char *entity, const char *const *pats, uint32_t n)
{
    struct tg_allow_entry e = { .entity = entity };
    e.patterns = tg_arena_calloc(a, n, sizeof(*e.patterns));
    e.re = tg_arena_calloc(a, n, sizeof(*e.re));
    cr_assert(e.patterns != NULL && e.re != NULL);
    for (uint32_t i = 0; i < n; i++) {
        struct tg_err err = {0};
        size_t off;
        cr_assert_eq(tg_allow_re_compile(pats[i], a, &e.re[i], &off, &err), TG_OK, "%s: %s", pats[i], err.msg);
        e.patterns[i] = pats[i];
    }
    e.npatterns = n;
    return e;
}

Test(allow, role_mailboxes)
{
    char b[128];
    for (const char *const *r = tg_allow_role_locals; *r != NULL; r++) {
        snprintf(b, sizeof(b), "%s@example.org", *r);
        cr_assert(tg_allow_role_address(b, strlen(b)), "%s", b);
        for (char *c = b; *c; c++)   /* local parts compare without case */
            *c = (char)(*c >= 'a' && *c <= 'z' ? *c - 32 : *c);
        cr_assert(tg_allow_role_address(b, strlen(b)), "%s", b);
    }
    static const char *const no[] = {
        "noreply+jane@example.org",                     /* a tag may encode a person */
        "1234567+jane@users.noreply.github.com",        /* a person at a no-reply domain */
        "jane@noreply.example.org", "noreplyx@example.org", "xnoreply@example.org",
        "info@example.org", "support@example.org", "admin@example.org",
        "noreply", "@example.org", "",
    };
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
        cr_assert(!tg_allow_role_address(no[i], strlen(no[i])), "%s", no[i]);
}

Test(allow, values_exact_and_email_caseless)
{
    const char *ev[] = { "noreply@anthropic.com", "Billing@Example.com" };
    struct tg_allow_entry email = { .entity = "EMAIL_ADDRESS", .values = ev, .nvalues = 2 };
    tg_allow_entry_finish(&email);
    cr_assert(m(&email, "noreply@anthropic.com", NULL));
    cr_assert(m(&email, "NoReply@Anthropic.COM", NULL));
    cr_assert(m(&email, "billing@example.com", NULL));
    cr_assert(!m(&email, "noreply@anthropic.co", NULL));
    cr_assert(!m(&email, "noreply@anthropic.com.", NULL));
    cr_assert(!m(&email, "xnoreply@anthropic.com", NULL));
    cr_assert(!tg_allow_entry_match(&email, "noreply@anthropic.com", 20, NULL), "a prefix of the value");

    /* other entities: bytes exactly (a key differing in case is another key) */
    const char *kv[] = { "AKIAIOSFODNN7EXAMPLE" };
    struct tg_allow_entry key = { .entity = "AWS_ACCESS_KEY", .values = kv, .nvalues = 1 };
    tg_allow_entry_finish(&key);
    cr_assert(m(&key, "AKIAIOSFODNN7EXAMPLE", NULL));
    cr_assert(!m(&key, "akiaiosfodnn7example", NULL));
}

Test(allow, many_values_binary_search)
{
    enum { N = 5000 };
    const char **v = calloc(N, sizeof(*v));
    char (*buf)[32] = calloc(N, sizeof(*buf));
    cr_assert(v != NULL && buf != NULL);
    /* written in a scrambled order; tg_allow_entry_finish sorts */
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof(buf[i]), "+1 800 %03d %04d", (i * 7919) % 1000, (i * 104729) % 10000);
        v[i] = buf[i];
    }
    struct tg_allow_entry e = { .entity = "PHONE_NUMBER", .values = v, .nvalues = N };
    tg_allow_entry_finish(&e);
    for (int i = 1; i < N; i++)
        cr_assert(strcmp(e.values[i - 1], e.values[i]) <= 0, "sorted at %d", i);
    for (int i = 0; i < N; i++) {
        char probe[40];
        snprintf(probe, sizeof(probe), "+1 800 %03d %04d", (i * 7919) % 1000, (i * 104729) % 10000);
        cr_assert(m(&e, probe, NULL), "%s", probe);
        strcat(probe, "9");
        cr_assert(!m(&e, probe, NULL), "%s", probe);
    }
    cr_assert(!m(&e, "+1 800 000 000", NULL));
    free(v);
    free(buf);
}

Test(allow, patterns_anchored_at_both_ends)
{
    struct tg_arena a;
    struct tg_allow_matcher *mt;
    tg_arena_init(&a, 0);
    cr_assert_eq(tg_allow_matcher_new(&a, &mt), TG_OK);
    const char *p1[] = { "\\+1 800 [0-9 ]{8}", "foo|bar" };
    struct tg_allow_entry e = pat_entry(&a, "PHONE_NUMBER", p1, 2);
    cr_assert(m(&e, "+1 800 555 0100", mt));
    cr_assert(!m(&e, "x+1 800 555 0100", mt), "anchored at the start");
    cr_assert(!m(&e, "+1 800 555 01000", mt), "anchored at the end");
    cr_assert(!m(&e, "+1 800 555 010", mt));
    cr_assert(m(&e, "foo", mt));
    cr_assert(m(&e, "bar", mt));
    cr_assert(!m(&e, "foobar", mt), "each alternative must cover the whole value");
    cr_assert(!m(&e, "barfoo", mt));
    /* without a matcher, patterns cannot run: not allowed */
    cr_assert(!m(&e, "foo", NULL));
    tg_arena_free(&a);
}

Test(allow, pattern_limit_does_not_allow)
{
    struct tg_arena a;
    struct tg_allow_matcher *mt;
    char s[64];
    tg_arena_init(&a, 0);
    cr_assert_eq(tg_allow_matcher_new(&a, &mt), TG_OK);
    const char *p[] = { "(a+)+c" };
    struct tg_allow_entry e = pat_entry(&a, "X", p, 1);
    cr_assert(m(&e, "aaac", mt));
    memset(s, 'a', 40);
    s[40] = 'b';
    s[41] = '\0';
    cr_assert(!m(&e, s, mt), "catastrophic backtracking hits the match limit: not allowed");
    tg_arena_free(&a);
}

Test(allow, compile_errors)
{
    struct tg_arena a;
    struct tg_allow_re *re = NULL;
    struct tg_err err = {0};
    size_t off = 99;
    tg_arena_init(&a, 0);
    cr_assert_eq(tg_allow_re_compile("ab(c", &a, &re, &off, &err), TG_EINVAL);
    cr_assert_null(re);
    cr_assert_eq(off, 4);
    cr_assert(strstr(err.msg, "parenthesis") != NULL, "%s", err.msg);
    cr_assert_eq(tg_allow_re_compile("a\\Cb", &a, &re, &off, &err), TG_EINVAL, "\\C is refused");
    tg_arena_free(&a);
}

Test(allow, re_info_facts)
{
    struct tg_arena a;
    struct tg_allow_re_info in;
    tg_arena_init(&a, 0);
    const char *p[] = { "\\+1 800 [0-9]{4}x", "[a-c]yz", "[a-z]{300}" };
    struct tg_allow_entry e = pat_entry(&a, "X", p, 3);
    tg_allow_re_info(e.re[0], &in);
    cr_assert(in.first_bytes['+'] && !in.first_bytes['1']);
    bool x = false;
    for (uint32_t i = 0; i < in.nrequired; i++)
        x |= in.required[i] == 'x';
    cr_assert(x, "'x' is required");
    tg_allow_re_info(e.re[1], &in);
    cr_assert(in.first_bytes['a'] && in.first_bytes['b'] && in.first_bytes['c']);
    cr_assert(!in.first_bytes['d'] && !in.first_bytes['y']);
    tg_allow_re_info(e.re[2], &in);
    cr_assert_eq(in.minlen, 300);
    tg_arena_free(&a);
}

/* Text "A b@x.org C d@x.org E 555" with findings at the addresses and number. */
static const char TEXT[] = "A noreply@anthropic.com C ops@acme.example E postmaster@example.org F jane@gmail.com";

static struct tg_finding
fnd(const char *what, const char *entity)
{
    const char *at = strstr(TEXT, what);
    cr_assert(at != NULL);
    return (struct tg_finding){ .part = 0, .start = (uint32_t)(at - TEXT),
                                .end = (uint32_t)(at - TEXT + strlen(what)), .entity = entity,
                                .detector = "email", .score = 1.0f };
}

static void
four_findings(struct tg_arena *a, struct tg_findings *f)
{
    f->v = tg_arena_calloc(a, 8, sizeof(*f->v));
    cr_assert_not_null(f->v);
    f->cap = 8;
    f->n = 0;
    f->v[f->n++] = fnd("noreply@anthropic.com", "EMAIL_ADDRESS");
    f->v[f->n++] = fnd("ops@acme.example", "EMAIL_ADDRESS");
    f->v[f->n++] = fnd("postmaster@example.org", "EMAIL_ADDRESS");
    f->v[f->n++] = fnd("jane@gmail.com", "EMAIL_ADDRESS");
}

Test(allow, apply_order_counts_and_precedence)
{
    struct tg_arena a;
    struct tg_findings f = {0};
    struct tg_allow_hit *hits;
    uint32_t nh;
    struct tg_err err = {0};
    struct tg_part part = { .text = TEXT, .len = strlen(TEXT) };
    const char *pv[] = { "noreply@anthropic.com" };
    const char *tv[] = { "ops@acme.example", "noreply@anthropic.com" };   /* overlaps the policy's */
    const char *phone[] = { "ops@acme.example" };                          /* wrong entity */
    struct tg_allow_entry pol[2] = {
        { .id = 0, .entity = "PHONE_NUMBER", .values = phone, .nvalues = 1 },
        { .id = 1, .entity = "EMAIL_ADDRESS", .values = pv, .nvalues = 1 },
    };
    struct tg_allow_entry ten = { .id = 2, .entity = "EMAIL_ADDRESS", .values = tv, .nvalues = 2,
                                  .source = TG_ALLOW_SRC_TENANT };
    struct tg_allow_entry role = { .id = 3, .entity = "EMAIL_ADDRESS", .source = TG_ALLOW_SRC_ROLE };
    tg_allow_entry_finish(&ten);
    struct tg_allow_scope sc = { .lists = { pol, NULL, &ten }, .nlists = { 2, 0, 1 }, .role = &role };

    tg_arena_init(&a, 0);
    four_findings(&a, &f);
    cr_assert_eq(tg_allow_apply(&sc, &part, 1, &f, &a, &hits, &nh, &err), TG_OK);
    cr_assert_eq(f.n, 1, "only jane@gmail.com stays");
    cr_assert_eq(f.v[0].start, (uint32_t)(strstr(TEXT, "jane@") - TEXT));
    cr_assert_eq(nh, 3);
    /* first-use order; the policy entry wins over the tenant's copy of the value */
    cr_assert_eq(hits[0].entry, &pol[1]);
    cr_assert_eq(hits[0].count, 1);
    cr_assert_eq(hits[1].entry, &ten);
    cr_assert_eq(hits[1].count, 1);
    cr_assert_eq(hits[2].entry, &role);
    cr_assert_eq(hits[2].count, 1);

    /* no role entry (role_addresses: personal): postmaster@ stays */
    sc.role = NULL;
    four_findings(&a, &f);
    cr_assert_eq(tg_allow_apply(&sc, &part, 1, &f, &a, &hits, &nh, &err), TG_OK);
    cr_assert_eq(f.n, 2);
    cr_assert_eq(nh, 2);

    /* an empty scope changes nothing */
    struct tg_allow_scope none = {0};
    four_findings(&a, &f);
    cr_assert_eq(tg_allow_apply(&none, &part, 1, &f, &a, &hits, &nh, &err), TG_OK);
    cr_assert_eq(f.n, 4);
    cr_assert_eq(nh, 0);
    cr_assert_null(hits);

    /* a finding whose span lies outside its part is never allowed */
    four_findings(&a, &f);
    f.v[0].end = (uint32_t)strlen(TEXT) + 5;
    sc.role = &role;
    cr_assert_eq(tg_allow_apply(&sc, &part, 1, &f, &a, &hits, &nh, &err), TG_OK);
    cr_assert_eq(f.n, 2);
    cr_assert_eq(f.v[0].end, (uint32_t)strlen(TEXT) + 5);
    tg_arena_free(&a);
}

Test(allow, apply_out_of_memory_keeps_every_finding)
{
    struct tg_part part = { .text = TEXT, .len = strlen(TEXT) };
    const char *pat[] = { "ops@acme\\.example" };
    struct tg_allow_entry role = { .entity = "EMAIL_ADDRESS", .source = TG_ALLOW_SRC_ROLE };
    bool saw_ok = false;

    for (long n = 1; n < 200 && !saw_ok; n++) {
        struct tg_arena a;
        struct tg_findings f = {0};
        struct tg_allow_hit *hits = (void *)&role;
        uint32_t nh = 77;
        struct tg_err err = {0};
        tg_arena_init(&a, 0);
        struct tg_allow_entry e = pat_entry(&a, "EMAIL_ADDRESS", pat, 1);
        struct tg_allow_scope sc = { .lists = { &e }, .nlists = { 1 }, .role = &role };
        four_findings(&a, &f);
        tg_arena_fail_after(n);
        int rc = tg_allow_apply(&sc, &part, 1, &f, &a, &hits, &nh, &err);
        tg_arena_fail_after(0);
        if (rc == TG_OK) {
            /* noreply@ and postmaster@ (role) and ops@ (pattern) go; a
             * pattern whose match memory failed allows nothing, so ops@
             * may stay (fail closed), jane@ always does */
            cr_assert(f.n == 1 || f.n == 2, "n=%ld: %u findings", n, f.n);
            cr_assert_eq(f.v[f.n - 1].start, (uint32_t)(strstr(TEXT, "jane@") - TEXT));
            saw_ok = f.n == 1;
        } else {
            cr_assert_eq(rc, TG_ENOMEM);
            cr_assert_eq(f.n, 4, "allocation %ld failed: every finding stands", n);
            cr_assert_null(hits);
            cr_assert_eq(nh, 0);
        }
        tg_arena_free(&a);
    }
    cr_assert(saw_ok);
}

/* The samples the check heuristics treat as an entity's known shapes are
 * what its detectors report, whole, when scanned alone. */
Test(allow, shapes_are_what_the_detectors_find)
{
    struct tg_policy *p = load("allow.yaml");
    struct tg_pii_scratch *s;
    cr_assert_eq(tg_pii_scratch_new(p->pii, &s), TG_OK);
    int n = 0;
    for (const struct tg__allow_shape *sh = tg__allow_shapes; sh->entity != NULL; sh++) {
        cr_assert(sh->samples[0] != NULL && sh->samples[1] != NULL, "%s: at least two samples", sh->entity);
        for (const char *const *v = sh->samples; *v != NULL; v++) {
            struct tg_arena a;
            struct tg_findings f = {0};
            struct tg_err err = {0};
            bool whole = false;
            tg_arena_init(&a, 0);
            cr_assert_eq(tg_pii_scan(p->pii, s, *v, strlen(*v), 0, 0.0, &a, &f, &err), TG_OK);
            for (uint32_t i = 0; i < f.n; i++)
                whole |= f.v[i].start == 0 && f.v[i].end == strlen(*v) && strcmp(f.v[i].entity, sh->entity) == 0;
            cr_assert(whole, "%s sample %s is not found whole", sh->entity, *v);
            for (const char *c = *v; *c; c++)
                cr_assert(strchr(sh->alphabet, *c) != NULL, "%s: '%c' of %s not in the alphabet", sh->entity, *c, *v);
            cr_assert(strlen(*v) <= sh->maxlen);
            tg_arena_free(&a);
            n++;
        }
    }
    cr_assert_gt(n, 15);
    tg_pii_scratch_free(s);
    tg_policy_unref(p);
}

Test(allow, policy_entries_ids_and_role)
{
    struct tg_policy *p = load("allow.yaml");
    bool seen[16] = {0};
    cr_assert_eq(p->nallow, 6);   /* 4 written + role mailboxes + special-purpose IPs */
    cr_assert_eq(p->npii_allow, 2);
    const struct tg_route_rule *r = tg_policy_rule(p, "support");
    const struct tg_tenant *ta = tg_policy_tenant(p, "t-a"), *tb = tg_policy_tenant(p, "t-b");
    cr_assert_eq(r->npii_allow, 1);
    cr_assert_str_eq(r->pii_allow[0].owner, "support");
    cr_assert_eq(r->pii_allow[0].source, TG_ALLOW_SRC_RULE);
    cr_assert_eq(tg_policy_rule(p, "code")->npii_allow, 0);
    cr_assert_eq(ta->npii_allow, 1);
    cr_assert_eq(ta->pii_allow[0].source, TG_ALLOW_SRC_TENANT);
    cr_assert_eq(tb->npii_allow, 0);
    cr_assert_not_null(p->role_allow);
    cr_assert_str_eq(p->role_allow->entity, "EMAIL_ADDRESS");
    cr_assert_not_null(p->special_ip_allow);
    cr_assert_str_eq(p->special_ip_allow->entity, "IP_ADDRESS");
    const struct tg_allow_entry *all[] = { &p->pii_allow[0], &p->pii_allow[1], &r->pii_allow[0],
                                           &ta->pii_allow[0], p->role_allow, p->special_ip_allow };
    for (int i = 0; i < 6; i++) {
        cr_assert_lt(all[i]->id, 6);
        cr_assert(!seen[all[i]->id], "id %u twice", all[i]->id);
        seen[all[i]->id] = true;
    }
    cr_assert_eq(p->pii_allow[1].npatterns, 1);
    cr_assert_str_eq(p->pii_allow[1].entity, "PHONE_NUMBER");
    tg_policy_unref(p);

    p = load("allow-roles-personal.yaml");
    cr_assert_null(p->role_allow);
    cr_assert_eq(p->nallow, 5);   /* 4 written + the special-purpose IP default */
    tg_policy_unref(p);
}

static void
print_diag(void *ud, enum tg_diag_level level, const struct tg_pos *pos, const char *msg)
{
    (void)ud;
    fprintf(stderr, "%s:%u:%u: %s: %s\n", pos->file ? pos->file : "?", pos->line, pos->col,
            level == TG_DIAG_ERROR ? "error" : "warning", msg);
}

static void
version_of(const char *values, const char *role, char out[65])
{
    char buf[1024];
    struct tg_load_opts o = { .no_registry = true, .skip_compile = true, .diag = print_diag };
    struct tg_policy *p = NULL;
    struct tg_err err = {0};
    int n = snprintf(buf, sizeof(buf),
        "orchestration:\n"
        "  providers: {e: {adapter: echo, region: us, jurisdiction: US}}\n"
        "  models: {m: {provider: e}}\n"
        "  regions: {global: [us]}\n"
        "  routing_rules:\n"
        "    - {category: c, primary: {provider: e, model: m}}\n"
        "  policy:\n"
        "    pii:\n"
        "      packs: []\n"
        "      role_addresses: %s\n"
        "      allow: [{entity: EMAIL_ADDRESS, values: %s}]\n", role, values);
    cr_assert_eq(tg_policy_load_buffer("v.yaml", buf, (size_t)n, &o, &p, &err), TG_OK, "%s", err.msg);
    memcpy(out, p->policy_version, 65);
    tg_policy_unref(p);
}

Test(allow, policy_version_covers_allow_lists)
{
    char a[65], b[65], c[65], d[65];
    version_of("[a@x.org, b@x.org]", "not_personal", a);
    version_of("[b@x.org, a@x.org]", "not_personal", b);
    version_of("[a@x.org, c@x.org]", "not_personal", c);
    version_of("[a@x.org, b@x.org]", "personal", d);
    cr_assert_str_eq(a, b, "the order of values is not a policy change");
    cr_assert_str_neq(a, c, "another value is");
    cr_assert_str_neq(a, d, "the role switch is");
}

/* Redaction masks what is still a finding and leaves allowed values as
 * they are: they are not personal data, and the provider needs them. */
Test(allow, redaction_keeps_allowed_values)
{
    struct tg_policy *p = load("allow-redact.yaml");
    struct tg_pii_scratch *s;
    struct tg_arena a;
    struct tg_request req;
    struct tg_decision d;
    struct tg_err err = {0};
    char *out;
    size_t outlen;
    const char *body = "{\"messages\":[{\"role\":\"system\",\"content\":\"Co-Authored-By: Claude "
                       "<noreply@anthropic.com>\"},{\"role\":\"user\",\"content\":\"mail jane.doe@gmail.com, "
                       "cc postmaster@example.org\"}]}";
    cr_assert_eq(tg_pii_scratch_new(p->pii, &s), TG_OK);
    tg_arena_init(&a, 0);
    cr_assert_eq(tg_request_parse(body, strlen(body), &a, &req, &err), TG_OK, "%s", err.msg);
    req.tenant_id = "t-b";
    req.category = "code";
    cr_assert_eq(tg_preflight_decide(p, &req, NULL, s, &a, &d, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(d.verdict, TG_REDACT);
    cr_assert_eq(d.npii, 1);
    cr_assert_eq(d.pii[0].count, 1);
    cr_assert_eq(d.nallowed, 1);
    cr_assert_str_eq(d.allowed[0].entity, "EMAIL_ADDRESS");
    cr_assert_eq(d.allowed[0].count, 2);
    cr_assert_eq(d.nallow_hits, 2, "the policy entry and the role entry");
    cr_assert_eq(tg_redact_body(&req, &d.findings, &a, &out, &outlen, &err), TG_OK, "%s", err.msg);
    cr_assert(strstr(out, "noreply@anthropic.com") != NULL, "%s", out);
    cr_assert(strstr(out, "postmaster@example.org") != NULL, "%s", out);
    cr_assert(strstr(out, "jane.doe@gmail.com") == NULL, "%s", out);
    cr_assert(strstr(out, "<EMAIL_ADDRESS_1>") != NULL, "%s", out);

    /* the same request with the lists off: all three are masked */
    req.allow_lists_off = true;
    cr_assert_eq(tg_preflight_decide(p, &req, NULL, s, &a, &d, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(d.nallowed, 0);
    cr_assert_eq(d.pii[0].count, 3);
    cr_assert_eq(tg_redact_body(&req, &d.findings, &a, &out, &outlen, &err), TG_OK, "%s", err.msg);
    cr_assert(strstr(out, "noreply@anthropic.com") == NULL, "%s", out);
    tg_request_dispose(&req);
    tg_arena_free(&a);
    tg_pii_scratch_free(s);
    tg_policy_unref(p);
}

/* Special-purpose addresses identify no person: loopback, private,
 * link-local, documentation, multicast, netmasks; public ones still do. */
Test(allow, special_purpose_ips)
{
    static const char *const special[] = {
        "127.0.0.1", "0.0.0.0", "10.1.2.3", "172.16.254.3", "172.31.0.1", "192.168.1.20", "169.254.10.1",
        "100.64.0.10", "192.0.2.1", "198.51.100.7", "203.0.113.45", "198.18.0.1", "224.0.0.251",
        "255.255.255.255", "255.255.255.0", "255.255.0.0", "::", "::1", "::2", "fe80::1",
        "fe80::1ff:fe23:4567:890a%eth0", "fd12:3456:789a::1", "2001:db8::8a2e:370:7334", "ff02::1",
        "::ffff:192.168.0.1", "::ffff:127.0.0.1", "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        "2001:1::1", "2001::1", "2001:2::1", "2001:1ff:ffff::1",
    };
    static const char *const public_[] = {
        "8.8.8.8", "1.1.1.1", "172.32.0.1", "172.15.255.255", "192.169.0.1", "100.128.0.1", "203.0.114.1",
        "81.2.69.142", "2a00:1450:4001:82b::200e", "2606:4700:4700::1111", "::ffff:8.8.4.4",
        "2001:200::1", "2001:4860:4860::8888",
    };
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        cr_expect(tg_allow_special_ip(special[i], strlen(special[i])), "%s is special-purpose", special[i]);
    for (size_t i = 0; i < sizeof public_ / sizeof public_[0]; i++)
        cr_expect(!tg_allow_special_ip(public_[i], strlen(public_[i])), "%s is public", public_[i]);
    cr_expect(!tg_allow_special_ip("1.2.3", 5));
    cr_expect(!tg_allow_special_ip("1:2:3:4:5:6:7:8:9", 17));
    cr_expect(!tg_allow_special_ip("::1::", 5));
}

/* A network (host bits zero, a prefix shorter than the address) is an
 * allocation, not a machine; a host written with its prefix is a host. */
Test(allow, ip_networks)
{
    static const struct { const char *addr, *after; bool net; } c[] = {
        { "8.8.8.0", "/24, more", true },        { "81.2.69.0", "/24.", true },
        { "0.0.0.0", "/0", true },               { "10.128.0.0", "/9", true },
        { "2001:4860::", "/32)", true },         { "200::", "/7'", true },
        { "2a00:1450:4001:82b::", "/64", true }, { "2001:db8::", "/48 x", true },
        { "8.8.8.8", "/24", false },             { "8.8.8.0", "/23", true },
        { "8.8.9.0", "/23", false },             { "8.8.8.0", "/32", false },
        { "2001:4860::8888", "/64", false },     { "2001:4860::", "/128", false },
        { "8.8.8.0", "/245", false },            { "8.8.8.0", "/24.5", false },
        { "8.8.8.0", " /24", false },            { "8.8.8.0", "/", false },
        { "8.8.8.0", "", false },                { "8.8.8.0", "/x", false },
        { "fe80::%eth0", "/64", false },         { "not-an-ip", "/8", false },
    };
    for (size_t i = 0; i < sizeof c / sizeof *c; i++)
        cr_expect_eq(tg_allow_ip_network(c[i].addr, strlen(c[i].addr), c[i].after, strlen(c[i].after)), c[i].net,
                     "%s%s", c[i].addr, c[i].after);
}
