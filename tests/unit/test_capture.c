/* test_capture.c — capture reader (both §7 forms), writer, placeholders. */
#include "adapters/capture/capture.h"
#include "engine/limits.h"
#include "engine/placeholder.h"

#include <criterion/criterion.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static struct tg_arena A;

static void
setup(void)
{
    tg_arena_init(&A, 0);
}

static void
teardown(void)
{
    tg_arena_free(&A);
}

TestSuite(capture, .init = setup, .fini = teardown, .timeout = 60);

#define BODY "{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"hi there\"}],\"max_tokens\":64}"

static int
parse(const char *line, struct tg_capture_item *it, struct tg_err *err)
{
    return tg_capture_parse_line(line, strlen(line), 7, &A, it, err);
}

/* ---- line parser ------------------------------------------------------- */

Test(capture, tollgate_form)
{
    struct tg_capture_item it;
    struct tg_err err = {0};
    const char *l = "{\"ts\":\"2026-11-02T00:00:01.5Z\",\"id\":\"r1\",\"tenant\":\"acme\",\"feature\":\"f\","
                    "\"category\":\"code_generation\",\"export_tags\":[\"ITAR\",\"ear\"],"
                    "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":20},\"request\":" BODY "}";
    cr_assert_eq(parse(l, &it, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(it.form, TG_CAPTURE_FORM_TOLLGATE);
    cr_assert_str_eq(it.id, "r1");
    cr_assert_str_eq(it.tenant, "acme");
    cr_assert_str_eq(it.feature, "f");
    cr_assert_str_eq(it.category, "code_generation");
    cr_assert(it.has_ts);
    cr_assert_eq(it.ts_us, 1793577601500000LL);
    cr_assert_eq(it.prompt_tokens, 10);
    cr_assert_eq(it.completion_tokens, 20);
    cr_assert(it.request_ok, "%s", it.request_error);
    cr_assert_str_eq(it.req.tenant_id, "acme");
    cr_assert_str_eq(it.req.category, "code_generation");
    cr_assert(it.req.placeholders_are_pii);
    cr_assert_eq(it.req.max_tokens, 64);
    cr_assert_eq(it.req.nexport_tags, 2);
    cr_assert_str_eq(it.req.export_tags[0], "itar");   /* lower-cased like the header */
    cr_assert_str_eq(it.req.export_tags[1], "ear");
    tg_request_dispose(&it.req);
}

Test(capture, batch_form_metadata)
{
    struct tg_capture_item it;
    struct tg_err err = {0};
    const char *l = "{\"custom_id\":\"b-9\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\","
                    "\"body\":{\"model\":\"auto\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                    "\"metadata\":{\"tenant\":\"globex\",\"category\":\"enterprise_qa\",\"feature\":\"qa\","
                    "\"export_tags\":\"itar\"}}}";
    cr_assert_eq(parse(l, &it, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(it.form, TG_CAPTURE_FORM_BATCH);
    cr_assert_str_eq(it.id, "b-9");
    cr_assert_str_eq(it.tenant, "globex");
    cr_assert_str_eq(it.category, "enterprise_qa");
    cr_assert_str_eq(it.feature, "qa");
    cr_assert(!it.has_ts);
    cr_assert_eq(it.prompt_tokens, -1);
    cr_assert(it.request_ok);
    cr_assert_eq(it.req.nexport_tags, 1);
    cr_assert_str_eq(it.req.export_tags[0], "itar");
    tg_request_dispose(&it.req);
}

Test(capture, record_fields_win_over_metadata_and_default_id)
{
    struct tg_capture_item it;
    struct tg_err err = {0};
    const char *l = "{\"tenant\":\"t1\",\"request\":{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}],"
                    "\"metadata\":{\"tenant\":\"t2\",\"category\":\"c2\"}}}";
    cr_assert_eq(parse(l, &it, &err), TG_OK, "%s", err.msg);
    cr_assert_str_eq(it.tenant, "t1");
    cr_assert_str_eq(it.category, "c2");
    cr_assert_str_eq(it.id, "line 7");
    cr_assert_null(it.feature);
    tg_request_dispose(&it.req);
}

Test(capture, invalid_chat_body_is_replayable_not_malformed)
{
    struct tg_capture_item it;
    struct tg_err err = {0};
    cr_assert_eq(parse("{\"tenant\":\"t\",\"request\":{\"messages\":[]}}", &it, &err), TG_OK);
    cr_assert(!it.request_ok);
    cr_assert(it.request_error[0] != '\0');
    cr_assert_null(it.req.body);
    cr_assert_str_eq(it.tenant, "t");
    tg_request_dispose(&it.req);
}

/* A NUL escape would end a string of the parsed body early and hide what
 * follows it from the scan; the gateway refuses such a body, and a replay
 * reports the request as one it would refuse.  An escaped backslash
 * followed by "u0000" is text, not a NUL. */
Test(capture, nul_escape_is_refused_like_the_gateway)
{
    struct tg_capture_item it;
    struct tg_err err = {0};
    cr_assert_eq(parse("{\"tenant\":\"t\",\"request\":{\"messages\":[{\"role\":\"user\","
                       "\"content\":\"hi\\u0000 ssn 536-22-4817\"}]}}", &it, &err), TG_OK, "%s", err.msg);
    cr_assert(!it.request_ok);
    cr_assert(strstr(it.request_error, "NUL") != NULL, "%s", it.request_error);
    tg_request_dispose(&it.req);
    cr_assert_eq(parse("{\"tenant\":\"t\",\"request\":{\"messages\":[{\"role\":\"user\","
                       "\"content\":\"a path C:\\\\u0000 here\"}]}}", &it, &err), TG_OK, "%s", err.msg);
    cr_assert(it.request_ok, "%s", it.request_error);
    cr_assert_str_eq(it.req.parts[0].text, "a path C:\\u0000 here");
    tg_request_dispose(&it.req);
}

Test(capture, malformed_lines)
{
    static const char *bad[] = {
        "not json",
        "[1,2,3]",
        "{\"tenant\":\"t\"}",
        "{\"request\":[]}",
        "{\"request\":{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}} trailing",
        "{\"tenant\":5,\"request\":{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}",
        "{\"ts\":\"yesterday\",\"request\":{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}",
        "{\"export_tags\":[1],\"request\":{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}",
        "{\"usage\":{\"prompt_tokens\":-3},\"request\":{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}}",
        "{\"custom_id\":\"a\",\"method\":\"GET\",\"url\":\"/v1/chat/completions\",\"body\":{}}",
        "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/images/generations\",\"body\":{}}",
        "{\"custom_id\":\"a\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\"}",
        "{\"custom_id\":7,\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":{}}",
        "{\"body\":{\"messages\":[]}}",
    };
    for (size_t i = 0; i < TG_ARRAY_LEN(bad); i++) {
        struct tg_capture_item it;
        struct tg_err err = {0};
        cr_assert_eq(parse(bad[i], &it, &err), TG_EINVAL, "line %zu accepted: %s", i, bad[i]);
        cr_assert(err.msg[0] != '\0');
    }
}

Test(capture, rfc3339)
{
    int64_t us;
    cr_assert_eq(tg_capture_parse_ts("1970-01-01T00:00:00Z", &us), TG_OK);
    cr_assert_eq(us, 0);
    cr_assert_eq(tg_capture_parse_ts("2000-02-29T12:30:15.25Z", &us), TG_OK);
    cr_assert_eq(us, 951827415250000LL);
    cr_assert_eq(tg_capture_parse_ts("2000-02-29T14:30:15+02:00", &us), TG_OK);
    cr_assert_eq(us, 951827415000000LL);
    cr_assert_eq(tg_capture_parse_ts("2000-02-29", &us), TG_EINVAL);
    cr_assert_eq(tg_capture_parse_ts("2000-13-01T00:00:00Z", &us), TG_EINVAL);
    cr_assert_eq(tg_capture_parse_ts("2000-01-01T00:00:00Zjunk", &us), TG_EINVAL);
}

/* ---- streaming reader -------------------------------------------------- */

static char *
write_tmp(const char *content, size_t len)
{
    char *path = strdup("/tmp/tg-capture-test-XXXXXX");
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}

Test(capture, reader_mixed_file_counts_malformed_with_line_numbers)
{
    const char *content =
        "{\"id\":\"a\",\"tenant\":\"t\",\"request\":" BODY "}\n"                      /* 1 */
        "\n"                                                                          /* 2 blank */
        "{broken\n"                                                                   /* 3 */
        "{\"custom_id\":\"b\",\"method\":\"POST\",\"url\":\"/v1/chat/completions\",\"body\":" BODY "}\r\n" /* 4 */
        "   \t \n"                                                                    /* 5 blank */
        "{\"custom_id\":\"c\",\"method\":\"PUT\",\"url\":\"/v1/chat/completions\",\"body\":" BODY "}\n" /* 6 */
        "{\"request\":" BODY "}";                                                     /* 7, no newline */
    char *path = write_tmp(content, strlen(content));
    struct tg_capture_reader *r = NULL;
    struct tg_capture_item it;
    struct tg_capture_reader_stats st;
    struct tg_err err = {0};
    const char *want_ids[] = { "a", "b", "line 7" };
    uint64_t want_lines[] = { 1, 4, 7 };
    int n = 0, rc;

    cr_assert_eq(tg_capture_reader_open(path, &r, &err), TG_OK, "%s", err.msg);
    while ((rc = tg_capture_reader_next(r, &A, &it, &err)) == 1) {
        cr_assert_lt(n, 3);
        cr_assert_str_eq(it.id, want_ids[n]);
        cr_assert_eq(it.line, want_lines[n]);
        tg_request_dispose(&it.req);
        n++;
    }
    cr_assert_eq(rc, 0, "%s", err.msg);
    cr_assert_eq(n, 3);
    tg_capture_reader_stats(r, &st);
    cr_assert_eq(st.lines, 7);
    cr_assert_eq(st.records, 3);
    cr_assert_eq(st.malformed, 2);
    cr_assert_eq(st.malformed_lines[0], 3);
    cr_assert_eq(st.malformed_lines[1], 6);
    cr_assert(strstr(st.first_reason, "JSON") != NULL, "%s", st.first_reason);
    tg_capture_reader_close(r);
    unlink(path);
    free(path);
}

/* Lines that are JSON but not captures are parsed into the item's arena;
 * the reader drops each one's tree before the next line, so a run of them
 * costs one line's memory, not all of them. */
Test(capture, reader_malformed_run_keeps_memory_bounded)
{
    const char *bad = "{\"neither\":[\"a capture\",\"nor a batch line\",1,2,3,4,5,6,7,8,9]}\n";
    size_t bl = strlen(bad), n = 2000, o = 0;
    const char *good = "{\"id\":\"z\",\"request\":" BODY "}\n";
    char *content = malloc(n * bl + strlen(good) + 1);
    struct tg_capture_reader *r = NULL;
    struct tg_capture_item it;
    struct tg_capture_reader_stats st;
    struct tg_err err = {0};

    cr_assert_not_null(content);
    for (size_t i = 0; i < n; i++, o += bl)
        memcpy(content + o, bad, bl);
    strcpy(content + o, good);
    char *path = write_tmp(content, strlen(content));
    cr_assert_eq(tg_capture_reader_open(path, &r, &err), TG_OK, "%s", err.msg);
    tg_arena_reset(&A);
    cr_assert_eq(tg_capture_reader_next(r, &A, &it, &err), 1, "%s", err.msg);
    cr_assert_str_eq(it.id, "z");
    /* the good line's item only: far less than 2000 parsed lines */
    cr_expect_lt(A.total, 64 * 1024, "%zu bytes held after %zu malformed lines", A.total, n);
    tg_request_dispose(&it.req);
    tg_capture_reader_stats(r, &st);
    cr_expect_eq(st.malformed, n);
    tg_capture_reader_close(r);
    unlink(path);
    free(path);
    free(content);
}

Test(capture, reader_skips_overlong_line_and_goes_on)
{
    size_t big = (size_t)TG_MAX_LINE_BYTES + 4096;
    const char *good = "{\"id\":\"after\",\"request\":" BODY "}\n";
    size_t len = big + 1 + strlen(good);
    char *buf = malloc(len);
    char *path;
    struct tg_capture_reader *r = NULL;
    struct tg_capture_item it;
    struct tg_capture_reader_stats st;
    struct tg_err err = {0};

    cr_assert_not_null(buf);
    memset(buf, 'x', big);
    buf[0] = '{';
    buf[big] = '\n';
    memcpy(buf + big + 1, good, strlen(good));
    path = write_tmp(buf, len);
    free(buf);
    cr_assert_eq(tg_capture_reader_open(path, &r, &err), TG_OK);
    cr_assert_eq(tg_capture_reader_next(r, &A, &it, &err), 1, "%s", err.msg);
    cr_assert_str_eq(it.id, "after");
    cr_assert_eq(it.line, 2);
    tg_request_dispose(&it.req);
    cr_assert_eq(tg_capture_reader_next(r, &A, &it, &err), 0);
    tg_capture_reader_stats(r, &st);
    cr_assert_eq(st.malformed, 1);
    cr_assert_eq(st.malformed_lines[0], 1);
    tg_capture_reader_close(r);
    unlink(path);
    free(path);
}

Test(capture, reader_lines_across_buffer_refills)
{
    /* ~3 MiB of lines of varying length: many lines straddle the reader's
     * 1 MiB reads; every one must come back whole and in order. */
    size_t cap = 4u << 20, len = 0;
    char *buf = malloc(cap), *path;
    struct tg_capture_reader *r = NULL;
    struct tg_capture_item it;
    struct tg_err err = {0};
    int n = 0, want = 0;

    cr_assert_not_null(buf);
    while (len < (3u << 20)) {
        int pad = 100 + (want * 37) % 3000;
        int w = snprintf(buf + len, cap - len,
                         "{\"id\":\"r%d\",\"request\":{\"messages\":[{\"role\":\"user\",\"content\":\"%0*d\"}]}}\n",
                         want, pad, want);
        len += (size_t)w;
        want++;
    }
    path = write_tmp(buf, len);
    free(buf);
    cr_assert_eq(tg_capture_reader_open(path, &r, &err), TG_OK);
    while (tg_capture_reader_next(r, &A, &it, &err) == 1) {
        char id[32];
        snprintf(id, sizeof(id), "r%d", n);
        cr_assert_str_eq(it.id, id);
        cr_assert(it.request_ok);
        cr_assert_eq(it.req.parts[0].len, (size_t)(100 + (n * 37) % 3000));
        tg_request_dispose(&it.req);
        tg_arena_reset(&A);
        n++;
    }
    cr_assert_eq(n, want);
    tg_capture_reader_close(r);
    unlink(path);
    free(path);
}

/* ---- placeholders ------------------------------------------------------ */

Test(capture, placeholder_match)
{
    size_t el;
    cr_assert(tg_placeholder_match("<EMAIL_ADDRESS_1>", 17, &el));
    cr_assert_eq(el, strlen("EMAIL_ADDRESS"));
    cr_assert(tg_placeholder_match("<US_SSN_12>", 11, &el));
    cr_assert_eq(el, 6);
    cr_assert(!tg_placeholder_match("<EMAIL_ADDRESS>", 15, NULL));
    cr_assert(!tg_placeholder_match("<email_1>", 9, NULL));
    cr_assert(!tg_placeholder_match("<EMAIL_01>", 10, NULL));
    cr_assert(!tg_placeholder_match("<_1>", 4, NULL));
    cr_assert(!tg_placeholder_match("<A__1>", 6, NULL));
    cr_assert(!tg_placeholder_match("<1A_1>", 6, NULL));
}

Test(capture, placeholder_scan_adds_sorted_findings)
{
    const char *t = "mail <EMAIL_ADDRESS_1> or <b>bold</b>, key <AWS_ACCESS_KEY_2>, <EMAIL_ADDRESS_1> <x_1>";
    struct tg_findings f = {0};
    struct tg_finding pre = { .part = 0, .start = 0, .end = 4, .entity = "PERSON", .detector = "d" };
    int n;

    f.v = tg_arena_calloc(&A, 1, sizeof(pre));
    f.v[0] = pre;
    f.n = f.cap = 1;
    n = tg_placeholder_scan(t, strlen(t), 0, &A, &f);
    cr_assert_eq(n, 3);
    cr_assert_eq(f.n, 4);
    cr_assert_str_eq(f.v[0].entity, "PERSON");
    cr_assert_str_eq(f.v[1].entity, "EMAIL_ADDRESS");
    cr_assert_eq(f.v[1].start, 5);
    cr_assert_eq(f.v[1].end, 5 + 17);
    cr_assert_eq(f.v[1].cls, TG_PII_CLASS_PII);
    cr_assert_str_eq(f.v[2].entity, "AWS_ACCESS_KEY");
    cr_assert_eq(f.v[2].cls, TG_PII_CLASS_SECRET);
    cr_assert_str_eq(f.v[3].entity, "EMAIL_ADDRESS");
    for (uint32_t i = 1; i < f.n; i++)
        cr_assert_lt(f.v[i - 1].start, f.v[i].start);
    /* An overlapping finding is not counted twice. */
    cr_assert_eq(tg_placeholder_scan(t, strlen(t), 0, &A, &f), 0);
    cr_assert_eq(f.n, 4);
}

/* ---- writer ------------------------------------------------------------ */

static char *
tmp_path(void)
{
    char *p = strdup("/tmp/tg-capture-out-XXXXXX");
    int fd = mkstemp(p);
    cr_assert(fd >= 0);
    close(fd);
    unlink(p);   /* tg_capture_open creates it */
    return p;
}

static void
make_request(struct tg_request *req, const char *body)
{
    struct tg_err err = {0};
    cr_assert_eq(tg_request_parse(body, strlen(body), &A, req, &err), TG_OK, "%s", err.msg);
    req->tenant_id = "acme";
    req->feature = "feat";
    req->category = "code_generation";
}

Test(capture, writer_roundtrip_mode_and_sampling)
{
    char *path = tmp_path();
    struct tg_capture_cfg cfg = { .path = path, .redact = false, .sample = 0.5 };
    struct tg_capture *c = NULL;
    struct tg_err err = {0};
    struct tg_request req;
    struct tg_capture_extra x = { .id = "dec-1", .prompt_tokens = 11, .completion_tokens = 22 };
    struct stat sb;
    uint64_t written, skipped;
    struct tg_capture_reader *r = NULL;
    struct tg_capture_item it;
    int n = 0;

    cr_assert_eq(tg_capture_open(&cfg, &c, &err), TG_OK, "%s", err.msg);
    cr_assert_eq(stat(path, &sb), 0);
    cr_assert_eq(sb.st_mode & 0777, 0600);
    make_request(&req, BODY);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(tg_capture_record_ex(c, 1793577600000000LL + i, &req, NULL, &x, &A), TG_OK);
    tg_capture_stats(c, &written, &skipped);
    cr_assert_eq(written, 5);
    cr_assert_eq(skipped, 5);
    tg_capture_close(c);
    tg_request_dispose(&req);

    cr_assert_eq(tg_capture_reader_open(path, &r, &err), TG_OK);
    while (tg_capture_reader_next(r, &A, &it, &err) == 1) {
        cr_assert_eq(it.form, TG_CAPTURE_FORM_TOLLGATE);
        cr_assert_str_eq(it.id, "dec-1");
        cr_assert_str_eq(it.tenant, "acme");
        cr_assert_str_eq(it.feature, "feat");
        cr_assert_str_eq(it.category, "code_generation");
        cr_assert(it.has_ts);
        cr_assert_eq(it.prompt_tokens, 11);
        cr_assert_eq(it.completion_tokens, 22);
        cr_assert(it.request_ok);
        cr_assert_str_eq(it.req.parts[0].text, "hi there");
        tg_request_dispose(&it.req);
        n++;
    }
    cr_assert_eq(n, 5);
    tg_capture_reader_close(r);
    unlink(path);
    free(path);
}

Test(capture, writer_redacts_findings_and_never_writes_unscannable)
{
    char *path = tmp_path();
    struct tg_capture_cfg cfg = { .path = path, .redact = true, .sample = 1.0 };
    struct tg_capture *c = NULL;
    struct tg_err err = {0};
    struct tg_request req;
    struct tg_decision d;
    struct tg_finding fnd;
    char *content = NULL;
    size_t len = 0;
    FILE *f;
    const char *body = "{\"messages\":[{\"role\":\"user\",\"content\":\"mail bob@example.com now\"}]}";

    cr_assert_eq(tg_capture_open(&cfg, &c, &err), TG_OK);
    make_request(&req, body);
    memset(&d, 0, sizeof(d));
    d.verdict = TG_REDACT;
    fnd = (struct tg_finding){ .part = 0, .start = 5, .end = 20, .entity = "EMAIL_ADDRESS",
                               .detector = "email", .cls = TG_PII_CLASS_PII, .score = 1.0f };
    d.findings.v = &fnd;
    d.findings.n = d.findings.cap = 1;
    cr_assert_eq(tg_capture_record(c, 0, &req, &d, &A), TG_OK);
    /* Without a decision there is nothing to redact with: not written. */
    cr_assert_eq(tg_capture_record(c, 0, &req, NULL, &A), TG_OK);
    d.findings.unscannable = true;
    cr_assert_eq(tg_capture_record(c, 0, &req, &d, &A), TG_OK);
    tg_capture_close(c);
    tg_request_dispose(&req);

    f = fopen(path, "r");
    cr_assert_not_null(f);
    cr_assert_gt(getdelim(&content, &len, '\0', f), 0);
    fclose(f);
    cr_assert_null(strstr(content, "bob@example.com"), "PII on disk: %s", content);
    cr_assert_not_null(strstr(content, "<EMAIL_ADDRESS_1>"), "%s", content);
    cr_assert_not_null(strstr(content, "\"decision\":\"redact\""), "%s", content);
    /* exactly one line */
    cr_assert_eq(strchr(content, '\n'), content + strlen(content) - 1);
    free(content);
    unlink(path);
    free(path);
}

struct thr {
    struct tg_capture *c;
    int id;
};

static void *
writer_thread(void *arg)
{
    struct thr *t = arg;
    struct tg_arena a;
    char body[4096];
    struct tg_request req;
    struct tg_err err = {0};

    tg_arena_init(&a, 0);
    /* Long lines make interleaving visible if the write were not atomic. */
    snprintf(body, sizeof(body), "{\"messages\":[{\"role\":\"user\",\"content\":\"thread %d %0*d\"}]}",
             t->id, 3000, 0);
    for (int i = 0; i < 200; i++) {
        tg_arena_reset(&a);
        if (tg_request_parse(body, strlen(body), &a, &req, &err) != TG_OK)
            break;
        req.tenant_id = "t";
        (void)tg_capture_record(t->c, i, &req, NULL, &a);
        tg_request_dispose(&req);
    }
    tg_arena_free(&a);
    return NULL;
}

Test(capture, writer_threads_never_interleave)
{
    char *path = tmp_path();
    struct tg_capture_cfg cfg = { .path = path, .redact = false, .sample = 1.0 };
    struct tg_capture *c = NULL;
    struct tg_err err = {0};
    pthread_t th[4];
    struct thr t[4];
    struct tg_capture_reader *r = NULL;
    struct tg_capture_item it;
    struct tg_capture_reader_stats st;
    int n = 0;

    cr_assert_eq(tg_capture_open(&cfg, &c, &err), TG_OK);
    for (int i = 0; i < 4; i++) {
        t[i] = (struct thr){ c, i };
        pthread_create(&th[i], NULL, writer_thread, &t[i]);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    tg_capture_close(c);
    cr_assert_eq(tg_capture_reader_open(path, &r, &err), TG_OK);
    while (tg_capture_reader_next(r, &A, &it, &err) == 1) {
        tg_request_dispose(&it.req);
        tg_arena_reset(&A);
        n++;
    }
    tg_capture_reader_stats(r, &st);
    cr_assert_eq(n, 800);
    cr_assert_eq(st.malformed, 0);
    tg_capture_reader_close(r);
    unlink(path);
    free(path);
}

Test(capture, open_fails_cleanly)
{
    struct tg_capture_cfg cfg = { .path = "/nonexistent-dir/x.jsonl", .redact = true, .sample = 1 };
    struct tg_capture *c = (struct tg_capture *)0x1;
    struct tg_err err = {0};
    cr_assert_eq(tg_capture_open(&cfg, &c, &err), TG_EIO);
    cr_assert_eq(c, (struct tg_capture *)0x1);   /* untouched on failure */
    cr_assert(strstr(err.msg, "nonexistent") != NULL);
}
