/*
 * test_outguard.c — the output guard (engine/outguard.h) on the policy
 * tests/cases/policies/outguard.yaml loaded with the real loader and the
 * real packs: whole texts (pass, redact, deny, allow lists, placeholder
 * numbering), streams split at every byte (a value split across chunks is
 * never released, the released text is exactly the whole-text result),
 * the hold cap, and out-of-memory at every allocation (fails closed).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/limits.h"
#include "engine/outguard.h"
#include "policy/policy.h"

#ifndef TG_DATA_DIR
#define TG_DATA_DIR "."
#endif

static struct tg_policy *P;
static struct tg_pii_scratch *S;
static struct tg_arena A;

/* Real-looking values (the packs drop documentation samples). */
#define GH    "ghp_QOqb7XOfCsVtaXrZMAzSv2gENfMTx0MOdOQw"
#define AWS   "AKIAZ3MQRF7XW2LBNPQT"
#define EMAIL "jane.doe@acme-corp.com"

static void
setup(void)
{
    char path[512];
    struct tg_load_opts o = { 0 };
    struct tg_err err = { 0 };

    snprintf(path, sizeof(path), "%s/tests/cases/policies/outguard.yaml", TG_DATA_DIR);
    P = NULL;
    cr_assert_eq(tg_policy_load(path, &o, &P, &err), TG_OK, "%s: %s", path, err.msg);
    cr_assert_not_null(P->pii);
    cr_assert_eq(tg_pii_scratch_new(P->pii, &S), TG_OK);
    tg_arena_init(&A, 0);
}

static void
teardown(void)
{
    tg_arena_free(&A);
    tg_pii_scratch_free(S);
    tg_policy_unref(P);
}

TestSuite(outguard, .init = setup, .fini = teardown);

static uint32_t
count_of(const struct tg_outguard *g, const char *entity)
{
    for (uint32_t i = 0; i < g->ncounts; i++)
        if (strcmp(g->counts[i].entity, entity) == 0)
            return g->counts[i].count;
    return 0;
}

/* Guard one whole text; the result (or NULL on deny) in arena memory. */
static const char *
whole(struct tg_outguard *g, const char *text)
{
    const char *out;
    size_t n;
    struct tg_err err = { 0 };
    cr_assert_eq(tg_outguard_text(g, text, strlen(text), &out, &n, &err), TG_OK, "%s", err.msg);
    if (out != NULL)
        cr_assert_eq(strlen(out), n);
    return out;
}

Test(outguard, enabled_only_when_a_class_is_guarded)
{
    cr_assert(tg_outguard_enabled(P));
    P->resp_secrets = TG_RESP_PASS;
    P->resp_pii = TG_RESP_PASS;
    cr_assert_not(tg_outguard_enabled(P));
    P->resp_pii = TG_RESP_DENY;
    cr_assert(tg_outguard_enabled(P));
    cr_assert_not(tg_outguard_enabled(NULL));
}

Test(outguard, policy_version_changes_with_response_settings)
{
    /* the loaded (redact, pass) policy must not hash like the same file
     * with the guard off: reload the file's twin without the block */
    char path[512];
    struct tg_load_opts o = { 0 };
    struct tg_policy *q = NULL;
    struct tg_err err = { 0 };
    snprintf(path, sizeof(path), "%s/tests/cases/policies/allow.yaml", TG_DATA_DIR);
    cr_assert_eq(tg_policy_load(path, &o, &q, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(q->resp_secrets, TG_RESP_PASS);
    cr_assert_eq(q->resp_pii, TG_RESP_PASS);
    cr_assert_eq(P->resp_secrets, TG_RESP_REDACT);
    cr_assert_eq(P->resp_pii, TG_RESP_PASS);
    cr_assert_str_neq(P->policy_version, q->policy_version);
    tg_policy_unref(q);
}

Test(outguard, secret_redacted_pii_passes)
{
    struct tg_outguard g;
    tg_outguard_init(&g, P, NULL, false, S, &A);
    const char *out = whole(&g, "Use " GH " and mail " EMAIL ".");
    cr_assert_str_eq(out, "Use <GITHUB_TOKEN_1> and mail " EMAIL ".");
    cr_assert_eq(g.verdict, TG_RESP_REDACT);
    cr_assert_eq(count_of(&g, "GITHUB_TOKEN"), 1);
    cr_assert_eq(count_of(&g, "EMAIL_ADDRESS"), 0, "a pass class is not counted");
    cr_assert_eq(g.nfindings, 1);
    tg_outguard_free(&g);
}

Test(outguard, nothing_found_returns_the_text_itself)
{
    struct tg_outguard g;
    const char *text = "The answer is 42, plainly.";
    tg_outguard_init(&g, P, NULL, false, S, &A);
    cr_assert_eq(whole(&g, text), text);
    cr_assert_eq(g.verdict, TG_RESP_PASS);
    cr_assert_eq(g.ncounts, 0);
    tg_outguard_free(&g);
}

Test(outguard, secret_denied)
{
    struct tg_outguard g;
    P->resp_secrets = TG_RESP_DENY;
    tg_outguard_init(&g, P, NULL, false, S, &A);
    cr_assert_null(whole(&g, "key: " AWS));
    cr_assert_eq(g.verdict, TG_RESP_DENY);
    cr_assert_str_eq(g.rule, "response.secrets");
    cr_assert_eq(count_of(&g, "AWS_ACCESS_KEY"), 1);
    /* once denied, later texts are not even looked at */
    cr_assert_null(whole(&g, "harmless"));
    tg_outguard_free(&g);
}

Test(outguard, pii_denied_names_the_pii_rule)
{
    struct tg_outguard g;
    P->resp_secrets = TG_RESP_PASS;
    P->resp_pii = TG_RESP_DENY;
    tg_outguard_init(&g, P, NULL, false, S, &A);
    cr_assert_null(whole(&g, "write to " EMAIL " today"));
    cr_assert_str_eq(g.rule, "response.pii");
    cr_assert_eq(count_of(&g, "EMAIL_ADDRESS"), 1);
    tg_outguard_free(&g);
}

Test(outguard, pii_redacted_allow_lists_respected)
{
    struct tg_outguard g;
    P->resp_pii = TG_RESP_REDACT;
    tg_outguard_init(&g, P, NULL, false, S, &A);
    /* noreply@anthropic.com: policy allow list; postmaster@: role mailbox */
    const char *out = whole(&g, "From noreply@anthropic.com and postmaster@acme-corp.com to " EMAIL);
    cr_assert_str_eq(out, "From noreply@anthropic.com and postmaster@acme-corp.com to <EMAIL_ADDRESS_1>");
    cr_assert_eq(count_of(&g, "EMAIL_ADDRESS"), 1);
    tg_outguard_free(&g);
}

Test(outguard, allow_lists_off_counts_everything)
{
    struct tg_outguard g;
    P->resp_pii = TG_RESP_REDACT;
    tg_outguard_init(&g, P, NULL, true, S, &A);
    const char *out = whole(&g, "From noreply@anthropic.com");
    cr_assert_str_eq(out, "From <EMAIL_ADDRESS_1>");
    tg_outguard_free(&g);
}

Test(outguard, rule_allow_list_comes_from_the_decision)
{
    struct tg_outguard g;
    struct tg_decision d;
    memset(&d, 0, sizeof(d));
    d.rule = tg_policy_rule(P, "support");
    cr_assert_not_null(d.rule);
    P->resp_pii = TG_RESP_REDACT;
    tg_outguard_init(&g, P, &d, false, S, &A);
    cr_assert_str_eq(whole(&g, "Call +44 20 7946 0958 now"), "Call +44 20 7946 0958 now");
    tg_outguard_free(&g);
    d.rule = tg_policy_rule(P, "code");
    tg_outguard_init(&g, P, &d, false, S, &A);
    cr_assert_str_eq(whole(&g, "Call +44 20 7946 0958 now"), "Call <PHONE_NUMBER_1> now");
    tg_outguard_free(&g);
}

Test(outguard, same_value_same_placeholder_across_texts)
{
    struct tg_outguard g;
    P->resp_pii = TG_RESP_REDACT;
    tg_outguard_init(&g, P, NULL, false, S, &A);
    cr_assert_str_eq(whole(&g, EMAIL " and bob.smith@acme-corp.com"),
                     "<EMAIL_ADDRESS_1> and <EMAIL_ADDRESS_2>");
    cr_assert_str_eq(whole(&g, "again " EMAIL), "again <EMAIL_ADDRESS_1>");
    cr_assert_eq(count_of(&g, "EMAIL_ADDRESS"), 3);
    tg_outguard_free(&g);
}

Test(outguard, numbering_continues_after_a_redacted_request)
{
    struct tg_outguard g;
    struct tg_decision d;
    struct tg_pii_count req[1] = { { "EMAIL_ADDRESS", 2, TG_PII_CLASS_PII } };
    memset(&d, 0, sizeof(d));
    d.verdict = TG_REDACT;
    d.pii = req;
    d.npii = 1;
    P->resp_pii = TG_RESP_REDACT;
    tg_outguard_init(&g, P, &d, false, S, &A);
    cr_assert_str_eq(whole(&g, "to " EMAIL), "to <EMAIL_ADDRESS_3>");
    tg_outguard_free(&g);
}

Test(outguard, no_scratch_fails_closed)
{
    struct tg_outguard g;
    tg_outguard_init(&g, P, NULL, false, NULL, &A);
    cr_assert_null(whole(&g, "anything"));
    cr_assert_eq(g.verdict, TG_RESP_DENY);
    cr_assert_str_eq(g.rule, "response.unscannable");
    tg_outguard_free(&g);
}

/* ---- streams ---------------------------------------------------------- */

struct sbuf {
    char  *p;
    size_t n, cap;
};

static void
sb_add(struct sbuf *b, const char *s, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        cr_assert_not_null(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* Feed text in pieces cut at the given offsets (ascending), then end it;
 * returns the concatenated release.  *first_release: bytes fed before the
 * first byte came out. */
static char *
stream(struct tg_outguard *g, const char *text, const size_t *cuts, size_t ncuts, bool check_no,
       const char *never)
{
    struct tg_outguard_chan c = { 0 };
    struct sbuf all = { 0 };
    size_t len = strlen(text), pos = 0;
    struct tg_err err = { 0 };

    sb_add(&all, "", 0);
    for (size_t i = 0; i <= ncuts; i++) {
        size_t to = i < ncuts ? cuts[i] : len;
        const char *out;
        size_t n;
        cr_assert_eq(tg_outguard_feed(g, &c, text + pos, to - pos, i == ncuts, &out, &n, &err), TG_OK, "%s",
                     err.msg);
        sb_add(&all, out, n);
        pos = to;
        if (check_no)
            cr_assert_null(strstr(all.p, never), "released %s", never);
    }
    tg_outguard_chan_free(&c);
    return all.p;
}

static char *
filler(size_t n)
{
    static const char words[] = "lorem ipsum dolor sit amet consectetur adipiscing elit ";
    char *s = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        s[i] = words[i % (sizeof(words) - 1)];
    s[n] = '\0';
    return s;
}

Test(outguard, stream_without_findings_is_released_unchanged_and_held_back)
{
    struct tg_outguard g;
    char *text = filler(3000);
    size_t cuts[300];
    for (size_t i = 0; i < 300; i++)
        cuts[i] = (i + 1) * 10 - 1;   /* 10-byte chunks */
    tg_outguard_init(&g, P, NULL, false, S, &A);
    char *out = stream(&g, text, cuts, 299, false, NULL);
    cr_assert_str_eq(out, text);
    cr_assert_eq(g.verdict, TG_RESP_PASS);
    free(out);

    /* nothing is released before the window is full, all of it at the end */
    struct tg_outguard_chan c = { 0 };
    const char *o;
    size_t n;
    struct tg_err err = { 0 };
    cr_assert_eq(tg_outguard_feed(&g, &c, text, TG_OUTGUARD_WINDOW, false, &o, &n, &err), TG_OK);
    cr_assert_eq(n, 0);
    cr_assert_eq(tg_outguard_feed(&g, &c, text + TG_OUTGUARD_WINDOW, 600, false, &o, &n, &err), TG_OK);
    cr_assert(n > 0 && n <= 600, "released %zu", n);
    cr_assert(c.len - c.ctx >= TG_OUTGUARD_WINDOW, "held %zu", c.len - c.ctx);
    tg_outguard_chan_free(&c);
    tg_outguard_free(&g);
    free(text);
}

/* A secret in the middle of a long answer, split at every byte: the
 * concatenated release equals the whole-text result and never holds the
 * secret; with deny, no release ever carries its first 8 bytes. */
Test(outguard, stream_split_secret_every_offset)
{
    char *pre = filler(700), *post = filler(900);
    size_t tl = strlen(pre) + strlen(GH) + strlen(post) + 16;
    char *text = malloc(tl);
    snprintf(text, tl, "%s %s %s", pre, GH, post);
    size_t at = strlen(pre) + 1;

    struct tg_outguard w;
    tg_outguard_init(&w, P, NULL, false, S, &A);
    const char *expect = whole(&w, text);
    cr_assert_not_null(strstr(expect, "<GITHUB_TOKEN_1>"));
    tg_outguard_free(&w);

    for (size_t k = at - 3; k <= at + strlen(GH) + 3; k++) {
        struct tg_outguard g;
        size_t cuts[3] = { 300, k, k + 5 };
        tg_outguard_init(&g, P, NULL, false, S, &A);
        char *out = stream(&g, text, cuts, 3, true, "QOqb7XOf");
        cr_assert_str_eq(out, expect, "split at %zu", k);
        cr_assert_eq(count_of(&g, "GITHUB_TOKEN"), 1, "split at %zu", k);
        free(out);
        tg_outguard_free(&g);
    }

    P->resp_secrets = TG_RESP_DENY;
    for (size_t k = at - 3; k <= at + strlen(GH) + 3; k += 2) {
        struct tg_outguard g;
        size_t cuts[2] = { k, k + 7 };
        tg_outguard_init(&g, P, NULL, false, S, &A);
        char *out = stream(&g, text, cuts, 2, true, "ghp_QOqb");
        cr_assert_eq(g.verdict, TG_RESP_DENY, "split at %zu", k);
        cr_assert_str_eq(g.rule, "response.secrets");
        cr_assert(strlen(out) < at, "released past the secret's start");
        free(out);
        tg_outguard_free(&g);
    }
    free(pre);
    free(post);
    free(text);
}

/* One byte at a time: every cut point at once. */
Test(outguard, stream_byte_by_byte)
{
    char *pre = filler(400);
    size_t tl = strlen(pre) + 200;
    char *text = malloc(tl);
    P->resp_pii = TG_RESP_REDACT;
    snprintf(text, tl, "%s mail " EMAIL " key " AWS " bye", pre);
    struct tg_outguard w;
    tg_outguard_init(&w, P, NULL, false, S, &A);
    const char *expect = whole(&w, text);
    tg_outguard_free(&w);

    size_t len = strlen(text), *cuts = malloc(len * sizeof(*cuts));
    for (size_t i = 0; i + 1 < len; i++)
        cuts[i] = i + 1;
    struct tg_outguard g;
    tg_outguard_init(&g, P, NULL, false, S, &A);
    char *out = stream(&g, text, cuts, len - 1, true, AWS);
    cr_assert_str_eq(out, expect);
    cr_assert_null(strstr(out, EMAIL));
    cr_assert_eq(count_of(&g, "EMAIL_ADDRESS"), 1);
    cr_assert_eq(count_of(&g, "AWS_ACCESS_KEY"), 1);
    free(out);
    free(cuts);
    free(pre);
    free(text);
    tg_outguard_free(&g);
}

/* Multi-byte text cut inside characters comes out whole and unchanged. */
Test(outguard, stream_utf8_cut_anywhere)
{
    struct sbuf t = { 0 };
    for (int i = 0; i < 120; i++)
        sb_add(&t, "žluťoučký kůň ", strlen("žluťoučký kůň "));
    for (int i = 0; i < 200; i++)
        sb_add(&t, "日本語", strlen("日本語"));   /* no whitespace: the cut is not snapped */
    size_t len = t.n, cuts[64], nc = 0;
    for (size_t k = 7; k < len && nc < 64; k += 97)
        cuts[nc++] = k;
    struct tg_outguard g;
    tg_outguard_init(&g, P, NULL, false, S, &A);
    char *out = stream(&g, t.p, cuts, nc, false, NULL);
    cr_assert_str_eq(out, t.p);
    free(out);
    free(t.p);
    tg_outguard_free(&g);
}

/* A PEM key streamed line by line after a long preamble: the whole block
 * is held once its header matches and comes out as one placeholder; not one
 * body line is released. */
Test(outguard, stream_pem_key_line_by_line)
{
    static const char *body[] = {
        "/TkSF2RCdKDFRuNw5GCf+hA6ILI8gJhead6/wJ9kFZJSqgmRB9H+iMb+lk777PZn\n",
        "K8Cl6J5ixaaJLShuQjOud/+yDUA+5zmS1swoPqApryPZBlgvIyxJu2jGjNGkTfi3\n",
        "oYv2DzaKG05Rk+GQV81rkmghzem9yPVUJa/c5q52RYfLWrLoevhZC0x0awirH/ju\n",
        "QbLifxz53nCQE28+AJy75fNcTTN6KFAQdEmQg3OMJmYxhcABm6jof8efD0nHCY/1\n",
    };
    struct sbuf t = { 0 };
    char *pre = filler(600);
    sb_add(&t, pre, strlen(pre));
    sb_add(&t, "\n-----BEGIN RSA PRIVATE KEY-----\n", strlen("\n-----BEGIN RSA PRIVATE KEY-----\n"));
    size_t cuts[32], nc = 0;
    cuts[nc++] = 300;
    cuts[nc++] = t.n;
    for (int r = 0; r < 3; r++)
        for (size_t i = 0; i < 4; i++) {
            sb_add(&t, body[i], strlen(body[i]));
            cuts[nc++] = t.n;
        }
    sb_add(&t, "-----END RSA PRIVATE KEY-----\nThat was the key. ", strlen("-----END RSA PRIVATE KEY-----\nThat was the key. "));
    cuts[nc++] = t.n;
    char *post = filler(500);
    sb_add(&t, post, strlen(post));

    struct tg_outguard g;
    tg_outguard_init(&g, P, NULL, false, S, &A);
    char *out = stream(&g, t.p, cuts, nc, true, "K8Cl6J5ixaaJ");
    cr_assert_not_null(strstr(out, "<PRIVATE_KEY_1>"), "%s", out);
    cr_assert_null(strstr(out, "/TkSF2RC"));
    cr_assert_null(strstr(out, "QbLifxz5"));
    cr_assert_eq(count_of(&g, "PRIVATE_KEY"), 1);
    free(out);
    free(pre);
    free(post);
    free(t.p);
    tg_outguard_free(&g);
}

/* ---- out of memory ------------------------------------------------------ */

Test(outguard, out_of_memory_at_every_allocation_fails_closed)
{
    const char *text = "Use " GH " and " AWS " for " EMAIL;
    P->resp_pii = TG_RESP_REDACT;
    for (long n = 1; n < 200; n++) {
        struct tg_arena a;
        struct tg_outguard g;
        const char *out = NULL;
        size_t len = 0;
        struct tg_err err = { 0 };
        tg_arena_init(&a, 0);
        tg_outguard_init(&g, P, NULL, false, S, &a);
        tg_arena_fail_after(n);
        int rc = tg_outguard_text(&g, text, strlen(text), &out, &len, &err);
        tg_arena_fail_after(0);
        if (rc == TG_OK && g.verdict != TG_RESP_DENY) {
            cr_assert_not_null(out);
            cr_assert_null(strstr(out, "QOqb7XOf"), "n=%ld leaked", n);
            cr_assert_null(strstr(out, "jane.doe"), "n=%ld leaked", n);
        } else {
            cr_assert_eq(g.verdict, TG_RESP_DENY, "n=%ld: error without deny", n);
            cr_assert_null(out);
        }
        tg_outguard_free(&g);
        tg_arena_free(&a);
    }
}
