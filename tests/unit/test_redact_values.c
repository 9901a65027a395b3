/*
 * test_redact_values.c — the client's own body redacted with the findings
 * of its canonical request (capture's "body"): the same placeholders as
 * tg_redact_body(), and a refusal whenever that cannot be certain.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "engine/redact.h"
#include "engine/request.h"

static struct tg_arena A;
static struct tg_request R;

static void setup(void) { tg_arena_init(&A, 0); memset(&R, 0, sizeof(R)); }
static void teardown(void) { tg_request_dispose(&R); tg_arena_free(&A); }
TestSuite(redact_values, .init = setup, .fini = teardown);

/* The canonical request: two parts, a system text and a user text. */
static const char CANON[] =
    "{\"messages\":[{\"role\":\"system\",\"content\":\"Mail jane@example.com only.\"},"
    "{\"role\":\"user\",\"content\":\"bob@example.org and jane@example.com, card 4111 1111 1111 1111\"}]}";

static struct tg_findings F;
static struct tg_finding FV[4];

/* Findings located by value in the parts (as the scanner would report). */
static void
canon(void)
{
    struct tg_err err = { 0 };
    static const struct { uint32_t part; const char *val, *entity; } want[] = {
        { 0, "jane@example.com", "EMAIL_ADDRESS" },
        { 1, "bob@example.org", "EMAIL_ADDRESS" },
        { 1, "jane@example.com", "EMAIL_ADDRESS" },
        { 1, "4111 1111 1111 1111", "CREDIT_CARD" },
    };
    cr_assert_eq(tg_request_parse(CANON, strlen(CANON), &A, &R, &err), TG_OK, "%s", err.msg);
    cr_assert_geq(R.nparts, 2);
    for (size_t i = 0; i < 4; i++) {
        const struct tg_part *p = &R.parts[want[i].part];
        const char *at = strstr(p->text, want[i].val);
        cr_assert_not_null(at);
        FV[i] = (struct tg_finding){ .part = want[i].part, .start = (uint32_t)(at - p->text),
                                     .end = (uint32_t)(at - p->text + strlen(want[i].val)),
                                     .entity = want[i].entity, .score = 1.0 };
    }
    F.v = FV;
    F.n = F.cap = 4;
}

Test(redact_values, messages_body_gets_the_canonical_placeholders)
{
    /* the same conversation as Anthropic Messages: other shape, same text */
    static const char body[] =
        "{\"model\":\"claude\",\"max_tokens\":10,\"system\":\"Mail jane@example.com only.\","
        "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\","
        "\"text\":\"bob@example.org and jane@example.com, card 4111 1111 1111 1111\"}]}]}";
    struct tg_err err = { 0 };
    char *out, *canon_out;
    size_t n, cn;

    canon();
    cr_assert_eq(tg_redact_values(body, strlen(body), &R, &F, &A, &out, &n, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(tg_redact_body(&R, &F, &A, &canon_out, &cn, &err), TG_OK, "%s", err.msg);
    cr_assert_null(strstr(out, "example.com"));
    cr_assert_null(strstr(out, "4111"));
    cr_assert_not_null(strstr(out, "\"system\":\"Mail <EMAIL_ADDRESS_1> only.\""), "%s", out);
    /* jane is 1 in both (first seen in the system text), bob 2 */
    cr_assert_not_null(strstr(out, "<EMAIL_ADDRESS_2> and <EMAIL_ADDRESS_1>, card <CREDIT_CARD_1>"), "%s", out);
    cr_assert_not_null(strstr(canon_out, "<EMAIL_ADDRESS_2> and <EMAIL_ADDRESS_1>, card <CREDIT_CARD_1>"), "%s",
                       canon_out);
    cr_assert_not_null(strstr(out, "\"max_tokens\":10"));
    cr_assert_null(strchr(out, '\n'), "one line");
}

Test(redact_values, a_value_the_body_does_not_hold_as_text_is_refused)
{
    /* the card written another way in the client's body */
    static const char body[] =
        "{\"system\":\"Mail jane@example.com only.\",\"messages\":[{\"role\":\"user\","
        "\"content\":\"bob@example.org and jane@example.com, card 4111-1111-1111-1111\"}]}";
    struct tg_err err = { 0 };
    char *out = NULL;
    size_t n;

    canon();
    cr_assert_eq(tg_redact_values(body, strlen(body), &R, &F, &A, &out, &n, &err), TG_EINVAL);
}

Test(redact_values, a_value_in_an_object_key_is_refused)
{
    static const char body[] =
        "{\"system\":\"Mail jane@example.com only.\",\"bob@example.org\":1,\"messages\":[{\"role\":\"user\","
        "\"content\":\"bob@example.org and jane@example.com, card 4111 1111 1111 1111\"}]}";
    struct tg_err err = { 0 };
    char *out = NULL;
    size_t n;

    canon();
    cr_assert_eq(tg_redact_values(body, strlen(body), &R, &F, &A, &out, &n, &err), TG_EINVAL);
}

Test(redact_values, no_findings_reprints_the_body_on_one_line)
{
    static const char body[] = "{\n  \"input\": \"hello\",\n  \"model\": \"x\"\n}";
    struct tg_findings none = { 0 };
    struct tg_err err = { 0 };
    char *out;
    size_t n;

    canon();
    cr_assert_eq(tg_redact_values(body, strlen(body), &R, &none, &A, &out, &n, &err), TG_OK, "%s", err.msg);
    cr_assert_str_eq(out, "{\"input\":\"hello\",\"model\":\"x\"}");
}
