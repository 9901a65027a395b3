/* capture_reader.c — stream both §7 capture forms, line by line, in bounded memory. */
#include "adapters/capture/capture.h"
#include "adapters/dialects/dialect.h"
#include "engine/json.h"
#include "engine/limits.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* ---- line parser ----------------------------------------------------- */

static char *
dup_str(struct tg_arena *a, const cJSON *s)
{
    return tg_arena_strdup(a, s->valuestring);
}

/* Optional string field: absent or null -> NULL; other non-strings are an error. */
static int
opt_string(const cJSON *obj, const char *key, struct tg_arena *a, const char **out,
           struct tg_err *err)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return TG_OK;
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return tg_err_set(err, TG_EINVAL, "\"%s\" must be a string", key);
    if (strlen(v->valuestring) > TG_MAX_HEADER_VALUE)
        return tg_err_set(err, TG_EINVAL, "\"%s\" is longer than %u bytes", key,
                          TG_MAX_HEADER_VALUE);
    *out = dup_str(a, v);
    return *out ? TG_OK : tg_err_set(err, TG_ENOMEM, "out of memory");
}

static int
days_from_civil(int64_t y, unsigned m, unsigned d, int64_t *out)
{
    /* Howard Hinnant's days-from-civil (public-domain algorithm, facts only). */
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = era * 146097 + (int64_t)doe - 719468;
    return TG_OK;
}

static bool
digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

int
tg_capture_parse_ts(const char *s, int64_t *out_us)
{
    int Y, M, D, h, mi, sec;
    int64_t days, us = 0, off = 0;
    const char *p;

    if (s == NULL || strlen(s) < 20)
        return TG_EINVAL;
    if (!digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
        !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' ||
        !digits(s + 17, 2, &sec))
        return TG_EINVAL;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec > 60)
        return TG_EINVAL;
    p = s + 19;
    if (*p == '.') {
        int n = 0;
        p++;
        while (*p >= '0' && *p <= '9') {
            if (n < 6)
                us = us * 10 + (*p - '0');
            n++;
            p++;
        }
        if (n == 0)
            return TG_EINVAL;
        for (; n < 6; n++)
            us *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (!digits(p + 1, 2, &oh) || p[3] != ':' || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return TG_EINVAL;
        off = (int64_t)(oh * 60 + om) * 60 * (*p == '+' ? 1 : -1);
        p += 6;
    } else {
        return TG_EINVAL;
    }
    if (*p != '\0')
        return TG_EINVAL;
    days_from_civil(Y, (unsigned)M, (unsigned)D, &days);
    *out_us = ((days * 86400 + h * 3600 + mi * 60 + sec) - off) * 1000000 + us;
    return TG_OK;
}

static int
parse_ts(const cJSON *v, struct tg_capture_item *it, struct tg_err *err)
{
    if (v == NULL || cJSON_IsNull(v))
        return TG_OK;
    if (cJSON_IsNumber(v)) {
        /* Seconds since the epoch (fractions allowed), as most loggers write. */
        if (!(v->valuedouble >= 0 && v->valuedouble < 1e11))
            return tg_err_set(err, TG_EINVAL, "\"ts\" out of range");
        it->ts_us = (int64_t)(v->valuedouble * 1e6);
        it->has_ts = true;
        return TG_OK;
    }
    if (cJSON_IsString(v) && tg_capture_parse_ts(v->valuestring, &it->ts_us) == TG_OK) {
        it->has_ts = true;
        return TG_OK;
    }
    return tg_err_set(err, TG_EINVAL, "\"ts\" must be RFC 3339 or seconds since the epoch");
}

static int
parse_usage(const cJSON *u, struct tg_capture_item *it, struct tg_err *err)
{
    static const char *const keys[2] = { "prompt_tokens", "completion_tokens" };
    int64_t *dst[2] = { &it->prompt_tokens, &it->completion_tokens };

    if (u == NULL || cJSON_IsNull(u))
        return TG_OK;
    if (!cJSON_IsObject(u))
        return tg_err_set(err, TG_EINVAL, "\"usage\" must be an object");
    for (int i = 0; i < 2; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(u, keys[i]);
        if (v == NULL || cJSON_IsNull(v))
            continue;
        if (!cJSON_IsNumber(v) || !(v->valuedouble >= 0 && v->valuedouble < 1e12))
            return tg_err_set(err, TG_EINVAL, "\"usage.%s\" must be a non-negative number", keys[i]);
        *dst[i] = (int64_t)v->valuedouble;
    }
    return TG_OK;
}

/* A capture's export_tags: an array of strings, or a "itar,ear" string. */
static int
collect_tags(const cJSON *v, const char *what, char **csv, struct tg_arena *a, struct tg_err *err)
{
    size_t len = 0, n = 0;
    const cJSON *e;
    char *buf;

    *csv = NULL;
    if (v == NULL || cJSON_IsNull(v))
        return TG_OK;
    if (cJSON_IsString(v)) {
        *csv = tg_arena_strdup(a, v->valuestring);
        return *csv ? TG_OK : tg_err_set(err, TG_ENOMEM, "out of memory");
    }
    if (!cJSON_IsArray(v))
        return tg_err_set(err, TG_EINVAL, "\"%s\" must be an array of strings", what);
    cJSON_ArrayForEach(e, v) {
        if (!cJSON_IsString(e) || strchr(e->valuestring, ',') != NULL)
            return tg_err_set(err, TG_EINVAL, "\"%s\" must be an array of strings", what);
        len += strlen(e->valuestring) + 1;
        if (++n > TG_MAX_EXPORT_TAGS)
            return tg_err_set(err, TG_EINVAL, "\"%s\": more than %u tags", what, TG_MAX_EXPORT_TAGS);
    }
    if (n == 0)
        return TG_OK;
    buf = tg_arena_alloc(a, len + 1);
    if (buf == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    len = 0;
    cJSON_ArrayForEach(e, v) {
        size_t l = strlen(e->valuestring);
        if (len)
            buf[len++] = ',';
        memcpy(buf + len, e->valuestring, l);
        len += l;
    }
    buf[len] = '\0';
    *csv = buf;
    return TG_OK;
}

static const char *
meta_string(const cJSON *body, const char *key)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(body, "metadata");
    const cJSON *v = cJSON_IsObject(m) ? cJSON_GetObjectItemCaseSensitive(m, key) : NULL;
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int
tg_capture_parse_line(const char *line, size_t len, uint64_t lineno,
                      struct tg_arena *a, struct tg_capture_item *it, struct tg_err *err)
{
    cJSON *root = NULL, *body = NULL;
    const struct tg_dialect_ops *door = tg_dialect_get(TG_DIALECT_CHAT);
    const cJSON *v;
    char *tags_csv = NULL, *meta_tags = NULL;
    const char *mt;
    struct tg_err rerr = {0};
    int rc;

    memset(it, 0, sizeof(*it));
    it->line = lineno;
    it->prompt_tokens = it->completion_tokens = -1;

    {
        /* One parse, the gateway's (engine/json.h: strict RFC 8259 in valid
         * UTF-8), so a dry run or explain refuses what the gateway would;
         * the tree is the item's arena's and is only read from here on. */
        size_t off = 0;
        rc = tg_json_text(line, len, TG_MAX_JSON_DEPTH + 1, a, &root, &off, NULL);
        if (rc == TG_ENOMEM || rc == TG_ELIMIT) {
            rc = tg_err_set(err, rc, rc == TG_ENOMEM ? "out of memory" : "JSON nests too deep");
            goto out;
        }
        if (rc != TG_OK) {
            rc = tg_json_utf8_check(line, len) != len
                     ? tg_err_set(err, TG_EINVAL, "not valid UTF-8 (near byte %zu)", tg_json_utf8_check(line, len))
                     : tg_err_set(err, TG_EINVAL, "not valid JSON (near byte %zu)", off);
            goto out;
        }
    }
    if (!cJSON_IsObject(root)) {
        rc = tg_err_set(err, TG_EINVAL, "not a JSON object");
        goto out;
    }

    if (cJSON_GetObjectItemCaseSensitive(root, "request") != NULL) {
        it->form = TG_CAPTURE_FORM_TOLLGATE;
        body = cJSON_GetObjectItemCaseSensitive(root, "request");
        if (!cJSON_IsObject(body)) {
            rc = tg_err_set(err, TG_EINVAL, "\"request\" must be a JSON object");
            goto out;
        }
        if ((rc = opt_string(root, "tenant", a, &it->tenant, err)) != TG_OK ||
            (rc = opt_string(root, "feature", a, &it->feature, err)) != TG_OK ||
            (rc = opt_string(root, "category", a, &it->category, err)) != TG_OK ||
            (rc = opt_string(root, "endpoint", a, &it->endpoint, err)) != TG_OK ||
            (rc = parse_ts(cJSON_GetObjectItemCaseSensitive(root, "ts"), it, err)) != TG_OK ||
            (rc = parse_usage(cJSON_GetObjectItemCaseSensitive(root, "usage"), it, err)) != TG_OK ||
            (rc = collect_tags(cJSON_GetObjectItemCaseSensitive(root, "export_tags"), "export_tags",
                               &tags_csv, a, err)) != TG_OK)
            goto out;
        /* `request` is canonical: a chat body, except that an embeddings
         * request is its own canonical form. */
        if (it->endpoint != NULL) {
            const struct tg_dialect_ops *d = tg_dialect_for_path(it->endpoint, strlen(it->endpoint));
            if (d != NULL && d->id == TG_DIALECT_EMBEDDINGS)
                door = d;
        }
        v = cJSON_GetObjectItemCaseSensitive(root, "id");
        if (cJSON_IsString(v)) {
            if ((rc = opt_string(root, "id", a, &it->id, err)) != TG_OK)
                goto out;
        } else if (cJSON_IsNumber(v)) {
            it->id = tg_arena_sprintf(a, "%.17g", v->valuedouble);
        } else if (v != NULL && !cJSON_IsNull(v)) {
            rc = tg_err_set(err, TG_EINVAL, "\"id\" must be a string or number");
            goto out;
        }
    } else if (cJSON_GetObjectItemCaseSensitive(root, "custom_id") != NULL ||
               cJSON_GetObjectItemCaseSensitive(root, "body") != NULL) {
        it->form = TG_CAPTURE_FORM_BATCH;
        v = cJSON_GetObjectItemCaseSensitive(root, "custom_id");
        if (!cJSON_IsString(v) || v->valuestring[0] == '\0') {
            rc = tg_err_set(err, TG_EINVAL, "batch line: \"custom_id\" must be a non-empty string");
            goto out;
        }
        if ((rc = opt_string(root, "custom_id", a, &it->id, err)) != TG_OK)
            goto out;
        v = cJSON_GetObjectItemCaseSensitive(root, "method");
        if (!cJSON_IsString(v) || strcmp(v->valuestring, "POST") != 0) {
            rc = tg_err_set(err, TG_EINVAL, "batch line: \"method\" must be \"POST\"");
            goto out;
        }
        v = cJSON_GetObjectItemCaseSensitive(root, "url");
        if (!cJSON_IsString(v) || (door = tg_dialect_for_path(v->valuestring, strlen(v->valuestring))) == NULL) {
            rc = tg_err_set(err, TG_EINVAL, "batch line: \"url\" must be an endpoint tollgate serves "
                                            "(/v1/chat/completions, /v1/responses, /v1/messages, ...)");
            goto out;
        }
        if (door->id != TG_DIALECT_CHAT &&
            (it->endpoint = tg_arena_strdup(a, door->path)) == NULL) {
            rc = tg_err_set(err, TG_ENOMEM, "out of memory");
            goto out;
        }
        body = cJSON_GetObjectItemCaseSensitive(root, "body");
        if (!cJSON_IsObject(body)) {
            rc = tg_err_set(err, TG_EINVAL, "batch line: \"body\" must be a JSON object");
            goto out;
        }
    } else {
        rc = tg_err_set(err, TG_EINVAL, "neither a tollgate capture (\"request\") nor a Batch API line (\"custom_id\", \"body\")");
        goto out;
    }
    /* body.metadata carries the routing context in Batch files; in capture
     * lines it is the fallback for fields the record leaves out. */
    if (it->tenant == NULL && (mt = meta_string(body, "tenant")) != NULL)
        it->tenant = tg_arena_strndup(a, mt, strnlen(mt, TG_MAX_HEADER_VALUE));
    if (it->feature == NULL && (mt = meta_string(body, "feature")) != NULL)
        it->feature = tg_arena_strndup(a, mt, strnlen(mt, TG_MAX_HEADER_VALUE));
    if (it->category == NULL && (mt = meta_string(body, "category")) != NULL)
        it->category = tg_arena_strndup(a, mt, strnlen(mt, TG_MAX_HEADER_VALUE));
    if (tags_csv == NULL && (mt = meta_string(body, "export_tags")) != NULL)
        meta_tags = tg_arena_strndup(a, mt, strnlen(mt, TG_MAX_HEADER_VALUE));
    if (it->id == NULL)
        it->id = tg_arena_sprintf(a, "line %" PRIu64, lineno);

    /* The same decoder and parser the gateway uses.  A NUL (\u0000) would
     * end a string of the tree early and hide what follows it from the
     * scan: the gateway refuses such a body, and so does a replay. */
    if (tg_dialect_has_nul(line, len)) {
        rc = tg_err_set(&rerr, TG_EINVAL,
                        "request body contains a NUL character (raw or \\u0000), which is not accepted");
    } else if (door->decode != NULL) {
        struct tg_dialect_ctx dctx = { .id = door->id, .answer_id = "replay" };
        char *txt = cJSON_PrintUnformatted(body), *canon = NULL;
        size_t clen = 0;
        if (txt == NULL) {
            rc = tg_err_set(err, TG_ENOMEM, "out of memory");
            goto out;
        }
        rc = door->decode(txt, strlen(txt), a, &dctx, &canon, &clen, &rerr);
        if (rc == TG_OK)
            rc = tg_request_parse(canon, clen, a, &it->req, &rerr);
        cJSON_free(txt);   /* cJSON's allocator: the dry-run loop points it at its arena */
    } else if (door->id == TG_DIALECT_EMBEDDINGS) {
        rc = tg_request_embedding_from_tree(body, len, a, &it->req, &rerr);
    } else {
        rc = tg_request_from_tree(body, len, a, &it->req, &rerr);
    }
    if (rc == TG_ENOMEM) {
        tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    it->request_ok = rc == TG_OK;
    if (!it->request_ok) {
        snprintf(it->request_error, sizeof(it->request_error), "%.*s",
                 (int)sizeof(it->request_error) - 1, rerr.msg);
        memset(&it->req, 0, sizeof(it->req));
    }
    it->req.tenant_id = it->tenant;
    it->req.feature = it->feature;
    it->req.category = it->category;
    it->req.placeholders_are_pii = true;
    if (it->request_ok && (tags_csv || meta_tags) &&
        tg_request_add_tags(&it->req, tags_csv ? tags_csv : meta_tags, a) != TG_OK) {
        tg_request_dispose(&it->req);
        rc = tg_err_set(err, TG_EINVAL, "bad export tags");
        goto out;
    }
    if (it->id == NULL) {
        tg_request_dispose(&it->req);
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    rc = TG_OK;
out:
    return rc;
}

/* ---- streaming reader ------------------------------------------------ */

struct tg_capture_reader {
    int      fd;
    bool     own_fd;
    char    *buf;        /* [0, len) unread bytes start at off */
    size_t   cap, off, len;
    bool     eof;
    bool     skipping;   /* inside an over-long line, dropping bytes to its newline */
    struct tg_capture_reader_stats st;
};

#define READ_CHUNK (1u << 20)

int
tg_capture_reader_open(const char *path, struct tg_capture_reader **out, struct tg_err *err)
{
    struct tg_capture_reader *r = calloc(1, sizeof(*r));
    struct stat sb;
    int rc = TG_ENOMEM;

    if (r == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory");
    r->cap = READ_CHUNK;
    r->buf = malloc(r->cap);
    if (r->buf == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory");
        goto out;
    }
    if (strcmp(path, "-") == 0) {
        r->fd = 0;
    } else {
        r->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (r->fd < 0) {
            rc = tg_err_set(err, TG_EIO, "%s: %s", path, strerror(errno));
            goto out;
        }
        r->own_fd = true;
    }
    if (fstat(r->fd, &sb) == 0 && S_ISREG(sb.st_mode)) {
        r->st.file_size = (uint64_t)sb.st_size;
        (void)posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    *out = r;
    r = NULL;
    rc = TG_OK;
out:
    if (r != NULL) {
        free(r->buf);
        free(r);
    }
    return rc;
}

/* Make room and read more: TG_OK (r->eof set at end of file), TG_EIO, TG_ENOMEM. */
static int
fill(struct tg_capture_reader *r, struct tg_err *err)
{
    ssize_t n;

    if (r->off > 0 && (r->off == r->len || r->cap - r->len < READ_CHUNK / 4)) {
        memmove(r->buf, r->buf + r->off, r->len - r->off);
        r->len -= r->off;
        r->off = 0;
    }
    if (r->len == r->cap) {
        /* One line fills the buffer: grow up to the line cap, then skip it. */
        size_t ncap = r->cap * 2;
        char *nb;
        if (ncap > (size_t)TG_MAX_LINE_BYTES + READ_CHUNK) {
            r->skipping = true;
            r->len = r->off = 0;
        } else {
            nb = realloc(r->buf, ncap);
            if (nb == NULL)
                return tg_err_set(err, TG_ENOMEM, "out of memory");
            r->buf = nb;
            r->cap = ncap;
        }
    }
    do {
        n = read(r->fd, r->buf + r->len, r->cap - r->len);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return tg_err_set(err, TG_EIO, "read: %s", strerror(errno));
    if (n == 0)
        r->eof = true;
    r->len += (size_t)n;
    r->st.bytes += (uint64_t)n;
    return TG_OK;
}

static void
note_malformed(struct tg_capture_reader *r, uint64_t lineno, const char *why)
{
    if (r->st.malformed < TG_CAPTURE_MALFORMED_KEEP)
        r->st.malformed_lines[r->st.malformed] = lineno;
    if (r->st.malformed == 0)
        snprintf(r->st.first_reason, sizeof(r->st.first_reason), "%.*s",
                 (int)sizeof(r->st.first_reason) - 1, why);
    r->st.malformed++;
}

int
tg_capture_reader_next(struct tg_capture_reader *r, struct tg_arena *a,
                       struct tg_capture_item *it, struct tg_err *err)
{
    for (;;) {
        char *nl = memchr(r->buf + r->off, '\n', r->len - r->off);
        const char *line;
        size_t llen;
        struct tg_err lerr = {0};
        int rc;

        if (nl == NULL) {
            if (!r->eof) {
                bool was_skipping = r->skipping;
                if ((rc = fill(r, err)) != TG_OK)
                    return rc;
                if (!was_skipping && r->skipping) {
                    /* The line just dropped counts once, as malformed. */
                    r->st.lines++;
                    note_malformed(r, r->st.lines, "line longer than the line limit");
                }
                continue;
            }
            if (r->off == r->len)
                return 0;
            nl = r->buf + r->len;   /* last line without a newline */
        }
        line = r->buf + r->off;
        llen = (size_t)(nl - line);
        r->off = nl < r->buf + r->len ? (size_t)(nl - r->buf) + 1 : r->len;
        if (r->skipping) {
            /* Tail of an over-long line: already counted. */
            r->skipping = false;
            continue;
        }
        r->st.lines++;
        while (llen > 0 && (line[llen - 1] == '\r' || line[llen - 1] == ' ' || line[llen - 1] == '\t'))
            llen--;
        {
            size_t i = 0;
            while (i < llen && (line[i] == ' ' || line[i] == '\t'))
                i++;
            if (i == llen)
                continue;   /* blank line */
        }
        rc = tg_capture_parse_line(line, llen, r->st.lines, a, it, &lerr);
        if (rc == TG_ENOMEM)
            return tg_err_set(err, TG_ENOMEM, "out of memory");
        if (rc != TG_OK) {
            note_malformed(r, r->st.lines, lerr.msg);
            tg_arena_reset(a);   /* the refused line's tree: bounded memory */
            continue;
        }
        r->st.records++;
        return 1;
    }
}

void
tg_capture_reader_stats(const struct tg_capture_reader *r, struct tg_capture_reader_stats *out)
{
    *out = r->st;
}

void
tg_capture_reader_close(struct tg_capture_reader *r)
{
    if (r == NULL)
        return;
    if (r->own_fd)
        close(r->fd);
    free(r->buf);
    free(r);
}
