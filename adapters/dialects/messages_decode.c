/*
 * messages_decode.c — decode: an Anthropic Messages body -> the canonical
 * chat completions body, built as a tree in the request's arena (strings
 * shared with the client's parse tree), printed once by a bounded JSON
 * writer and handed on with its text (decode_tree): the engine indexes the
 * tree, so a Messages request costs one parse, as a chat one does, plus
 * the print.
 *
 * What is carried, dropped or refused, field by field, is in
 * docs/dialects.md ("Anthropic Messages"); the comments here say why.
 */

#include "adapters/dialects/messages_int.h"
#include "engine/json.h"
#include "engine/limits.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decode: Messages body -> canonical -------------------------------- */

static bool
absent(const cJSON *v)
{
    return v == NULL || cJSON_IsNull(v);
}

static bool
is_type(const cJSON *o, const char *t)
{
    const cJSON *ty = tg__msg_get(o, "type");
    return cJSON_IsString(ty) && strcmp(ty->valuestring, t) == 0;
}

/* One canonical content part, collected before a message is written
 * (tool messages must precede the user message of the same turn). */
enum cp_kind { CP_TEXT = 0, CP_IMAGE_URL = 1, CP_IMAGE_B64 = 2, CP_PDF_B64 = 3 };

struct cpart {
    enum cp_kind kind;
    const char  *s;         /* text, URL or base64 data */
    const char  *mt;        /* CP_IMAGE_B64: media type */
    const char  *name;      /* CP_PDF_B64: file name */
};

struct cparts {
    struct cpart *v;
    uint32_t n, cap;
};

/*
 * The canonical body is built as a tree in the request's arena (the shape
 * tg_json_parse gives), printed once as the canonical text, and handed to
 * the engine with it (decode_tree), which then indexes the tree instead of
 * parsing the text again.  Strings are the client's own (its parse tree
 * lives in the same arena), not copies.
 */
struct dec {
    struct tg__jt    t;
    struct tg_arena *a;
    struct tg_err   *err;
    cJSON           *root;      /* the canonical body */
    cJSON           *msgs;      /* its messages */
    uint32_t         nmsgs;     /* canonical messages written */
    int              prc;       /* a tool input too large to print (TG_ELIMIT) or TG_ENOMEM */
};

static int
refuse(struct dec *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* TG_EINVAL with a message naming only positions and field names, never
 * request text (errors reach the client, the audit log and the logs). */
static int
refuse(struct dec *d, const char *fmt, ...)
{
    char m[TG_ERR_MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(m, sizeof(m), fmt, ap);
    va_end(ap);
    return tg_err_set(d->err, TG_EINVAL, "%s", m);
}

/* A position such as "messages[3].content[1]" for refusals: base, mid
 * and "[k]", cut to n - 1 bytes as snprintf would (a deeply nested
 * position is harmless cut short).  Made for every block, so without
 * printf. */
static void
pos(char *buf, size_t n, const char *base, const char *mid, uint32_t k)
{
    char t[TG__DIALECT_INT_CHARS], *q = tg__dialect_fmt_int(t, k);
    const char *v[5] = { base, mid, "[", q, "]" };
    size_t l[5] = { strlen(base), strlen(mid), 1, (size_t)(t + sizeof(t) - q), 1 }, o = 0;

    for (int i = 0; i < 5 && o + 1 < n; i++) {
        size_t c = l[i] < n - 1 - o ? l[i] : n - 1 - o;
        memcpy(buf + o, v[i], c);
        o += c;
    }
    buf[o] = '\0';
}

static int
cp_add(struct dec *d, struct cparts *cp, enum cp_kind k, const char *s, const char *mt,
       const char *name)
{
    if (cp->n == cp->cap) {
        uint32_t nc = cp->cap ? cp->cap * 2 : 8;
        struct cpart *nv;
        /* the canonical request cannot hold more parts than the engine indexes */
        if (cp->n >= TG_MAX_TEXT_PARTS)
            return tg_err_set(d->err, TG_ELIMIT, "a message has more than %u content parts",
                              TG_MAX_TEXT_PARTS);
        nv = tg_arena_calloc(d->a, nc, sizeof(*nv));
        if (nv == NULL)
            return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding the request");
        if (cp->n)
            memcpy(nv, cp->v, cp->n * sizeof(*nv));
        cp->v = nv;
        cp->cap = nc;
    }
    cp->v[cp->n++] = (struct cpart){ k, s, mt, name };
    return TG_OK;
}

static bool
all_text(const struct cparts *a, const struct cparts *b)
{
    for (uint32_t i = 0; a != NULL && i < a->n; i++)
        if (a->v[i].kind != CP_TEXT)
            return false;
    for (uint32_t i = 0; b != NULL && i < b->n; i++)
        if (b->v[i].kind != CP_TEXT)
            return false;
    return true;
}

/* "<a><b><c><e>" in the arena (data URLs). */
static const char *
cat4(struct dec *d, const char *a, const char *b, const char *c, const char *e)
{
    const char *v[4] = { a, b, c, e };
    size_t l[4], n = 0;
    char *o, *q;

    for (int i = 0; i < 4; i++)
        n += l[i] = strlen(v[i]);
    if ((o = q = d->t.oom ? NULL : tg_arena_alloc(d->a, n + 1)) == NULL) {
        d->t.oom = true;
        return "";
    }
    for (int i = 0; i < 4; i++) {
        memcpy(q, v[i], l[i]);
        q += l[i];
    }
    *q = '\0';
    return o;
}

static cJSON *
write_part(struct dec *d, const struct cpart *p)
{
    struct tg__jt *t = &d->t;
    cJSON *o = tg__jt_obj(t), *in = tg__jt_obj(t);

    switch (p->kind) {
    case CP_TEXT:
        tg__jt_add(t, o, "type", tg__jt_str(t, "text"));
        tg__jt_add(t, o, "text", tg__jt_str(t, p->s));
        break;
    case CP_IMAGE_URL:
    case CP_IMAGE_B64:
        tg__jt_add(t, o, "type", tg__jt_str(t, "image_url"));
        tg__jt_add(t, o, "image_url", in);
        tg__jt_add(t, in, "url", tg__jt_str(t, p->kind == CP_IMAGE_URL
                                                   ? p->s : cat4(d, "data:", p->mt, ";base64,", p->s)));
        break;
    case CP_PDF_B64:
        tg__jt_add(t, o, "type", tg__jt_str(t, "file"));
        tg__jt_add(t, o, "file", in);
        tg__jt_add(t, in, "filename", tg__jt_str(t, p->name ? p->name : "document.pdf"));
        tg__jt_add(t, in, "file_data", tg__jt_str(t, cat4(d, "data:application/pdf;base64,", p->s, "", "")));
        break;
    }
    return o;
}

/*
 * The content of a canonical message from parts a then b: a string when
 * every part is text (joined by a blank line: every OpenAI-compatible
 * provider takes string content, not all take arrays), else an array.
 * prefix, when not NULL, starts the text (text-only content).
 */
static cJSON *
write_content(struct dec *d, const struct cparts *a, const struct cparts *b, const char *prefix)
{
    const struct cparts *lists[2] = { a, b };
    bool first = true;
    cJSON *arr;

    if (all_text(a, b)) {
        size_t n = prefix != NULL ? strlen(prefix) : 0, k;
        char *s, *o;
        for (int l = 0; l < 2; l++)
            for (uint32_t i = 0; lists[l] != NULL && i < lists[l]->n; i++)
                n += strlen(lists[l]->v[i].s) + 2;
        if ((s = o = d->t.oom ? NULL : tg_arena_alloc(d->a, n + 1)) == NULL) {
            d->t.oom = true;
            return NULL;
        }
        if (prefix != NULL) {
            memcpy(o, prefix, k = strlen(prefix));
            o += k;
        }
        for (int l = 0; l < 2; l++)
            for (uint32_t i = 0; lists[l] != NULL && i < lists[l]->n; i++) {
                if (!first) {
                    memcpy(o, "\n\n", 2);
                    o += 2;
                }
                first = false;
                memcpy(o, lists[l]->v[i].s, k = strlen(lists[l]->v[i].s));
                o += k;
            }
        *o = '\0';
        return tg__jt_str(&d->t, s);
    }
    arr = tg__jt_arr(&d->t);
    for (int l = 0; l < 2; l++)
        for (uint32_t i = 0; lists[l] != NULL && i < lists[l]->n; i++)
            tg__jt_add(&d->t, arr, NULL, write_part(d, &lists[l]->v[i]));
    return arr;
}

/* A new canonical message of role; the caller adds its content. */
static cJSON *
msg_begin(struct dec *d, const char *role)
{
    cJSON *m = tg__jt_obj(&d->t);
    d->nmsgs++;
    tg__jt_add(&d->t, d->msgs, NULL, m);
    tg__jt_add(&d->t, m, "role", tg__jt_str(&d->t, role));
    return m;
}

/* Block types Anthropic's servers run or produce: no chat model can take
 * them, and dropping them would change the conversation.  Named in the
 * refusal (they are our own strings, not request text). */
static const char *const server_blocks[] = {
    "server_tool_use", "web_search_tool_result", "web_fetch_tool_result",
    "code_execution_tool_result", "bash_code_execution_tool_result",
    "text_editor_code_execution_tool_result", "tool_search_tool_result",
    "container_upload", "mcp_tool_use", "mcp_tool_result", "browser_state",
};

static int
refuse_block(struct dec *d, const char *where, const char *type)
{
    for (size_t i = 0; i < TG_ARRAY_LEN(server_blocks); i++)
        if (strcmp(type, server_blocks[i]) == 0)
            return refuse(d, "%s: %s blocks cannot be translated for a chat model", where, type);
    if (strcmp(type, "tool_use") == 0)
        return refuse(d, "%s: tool_use blocks are only accepted in assistant messages", where);
    if (strcmp(type, "tool_result") == 0)
        return refuse(d, "%s: tool_result blocks are only accepted in user messages", where);
    if (strcmp(type, "image") == 0 || strcmp(type, "document") == 0 ||
        strcmp(type, "search_result") == 0)
        return refuse(d, "%s: %s blocks are only accepted in user messages", where, type);
    return refuse(d, "%s: unsupported content block type", where);
}

/* image/<subtype>, the shape a data URL's media type must have. */
static bool
image_media_type(const char *mt)
{
    size_t i;
    if (strncmp(mt, "image/", 6) != 0 || mt[6] == '\0')
        return false;
    for (i = 6; mt[i] != '\0'; i++) {
        char c = mt[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '+' || c == '-'))
            return false;
    }
    return i <= 64;
}

static int
image_parts(struct dec *d, const cJSON *b, const char *where, struct cparts *cp)
{
    const cJSON *src = tg__msg_get(b, "source"), *data, *mt, *url;

    if (!cJSON_IsObject(src))
        return refuse(d, "%s.source must be an object", where);
    if (is_type(src, "base64")) {
        data = tg__msg_get(src, "data");
        mt = tg__msg_get(src, "media_type");
        if (!cJSON_IsString(data) || !cJSON_IsString(mt))
            return refuse(d, "%s.source: base64 images need string data and media_type", where);
        if (!image_media_type(mt->valuestring))
            return refuse(d, "%s.source.media_type must be an image media type", where);
        return cp_add(d, cp, CP_IMAGE_B64, data->valuestring, mt->valuestring, NULL);
    }
    if (is_type(src, "url")) {
        url = tg__msg_get(src, "url");
        if (!cJSON_IsString(url))
            return refuse(d, "%s.source.url must be a string", where);
        return cp_add(d, cp, CP_IMAGE_URL, url->valuestring, NULL, NULL);
    }
    /* file ids name Anthropic's Files API: no other provider can read them */
    return refuse(d, "%s.source: only base64 and url image sources can be translated", where);
}

static int
opt_string(struct dec *d, const cJSON *o, const char *k, const char *where, const char **out)
{
    const cJSON *v = tg__msg_get(o, k);
    *out = NULL;
    if (absent(v))
        return TG_OK;
    if (!cJSON_IsString(v))
        return refuse(d, "%s.%s must be a string", where, k);
    *out = v->valuestring;
    return TG_OK;
}

static int
document_parts(struct dec *d, const cJSON *b, const char *where, struct cparts *cp)
{
    const cJSON *src = tg__msg_get(b, "source"), *data, *mt, *c;
    const char *title, *context;
    char w2[160];
    uint32_t k = 0;
    int rc;

    if ((rc = opt_string(d, b, "title", where, &title)) != TG_OK ||
        (rc = opt_string(d, b, "context", where, &context)) != TG_OK)
        return rc;
    if (!cJSON_IsObject(src))
        return refuse(d, "%s.source must be an object", where);
    if (is_type(src, "base64")) {
        data = tg__msg_get(src, "data");
        mt = tg__msg_get(src, "media_type");
        if (!cJSON_IsString(data) || !cJSON_IsString(mt) ||
            strcmp(mt->valuestring, "application/pdf") != 0)
            return refuse(d, "%s.source: base64 documents must be application/pdf with string data",
                          where);
        /* the title names the file (scanned there); the PDF itself is an
         * opaque payload the engine cannot scan (fails closed) */
        if (context != NULL && (rc = cp_add(d, cp, CP_TEXT, context, NULL, NULL)) != TG_OK)
            return rc;
        return cp_add(d, cp, CP_PDF_B64, data->valuestring, NULL, title);
    }
    if (title != NULL && (rc = cp_add(d, cp, CP_TEXT, title, NULL, NULL)) != TG_OK)
        return rc;
    if (context != NULL && (rc = cp_add(d, cp, CP_TEXT, context, NULL, NULL)) != TG_OK)
        return rc;
    if (is_type(src, "text")) {
        data = tg__msg_get(src, "data");
        if (!cJSON_IsString(data))
            return refuse(d, "%s.source.data must be a string", where);
        return cp_add(d, cp, CP_TEXT, data->valuestring, NULL, NULL);
    }
    if (is_type(src, "content")) {
        c = tg__msg_get(src, "content");
        if (cJSON_IsString(c))
            return cp_add(d, cp, CP_TEXT, c->valuestring, NULL, NULL);
        if (!cJSON_IsArray(c))
            return refuse(d, "%s.source.content must be a string or an array", where);
        for (const cJSON *e = c->child; e != NULL; e = e->next, k++) {
            pos(w2, sizeof(w2), where, ".source.content", k);
            if (is_type(e, "text")) {
                const cJSON *t = tg__msg_get(e, "text");
                if (!cJSON_IsString(t))
                    return refuse(d, "%s.text must be a string", w2);
                rc = cp_add(d, cp, CP_TEXT, t->valuestring, NULL, NULL);
            } else if (is_type(e, "image")) {
                rc = image_parts(d, e, w2, cp);
            } else {
                rc = refuse(d, "%s: only text and image blocks can be translated", w2);
            }
            if (rc != TG_OK)
                return rc;
        }
        return TG_OK;
    }
    /* url and file sources would have Anthropic fetch the document */
    return refuse(d, "%s.source: only base64 PDF, text and content document sources can be translated",
                  where);
}

static int
search_result_parts(struct dec *d, const cJSON *b, const char *where, struct cparts *cp)
{
    const cJSON *c = tg__msg_get(b, "content");
    const char *title, *source;
    char w2[160];
    uint32_t k = 0;
    int rc;

    if ((rc = opt_string(d, b, "title", where, &title)) != TG_OK ||
        (rc = opt_string(d, b, "source", where, &source)) != TG_OK)
        return rc;
    if (title != NULL && (rc = cp_add(d, cp, CP_TEXT, title, NULL, NULL)) != TG_OK)
        return rc;
    if (source != NULL && (rc = cp_add(d, cp, CP_TEXT, source, NULL, NULL)) != TG_OK)
        return rc;
    if (!cJSON_IsArray(c))
        return refuse(d, "%s.content must be an array of text blocks", where);
    for (const cJSON *e = c->child; e != NULL; e = e->next, k++) {
        const cJSON *t = tg__msg_get(e, "text");
        pos(w2, sizeof(w2), where, ".content", k);
        if (!is_type(e, "text") || !cJSON_IsString(t))
            return refuse(d, "%s must be a text block", w2);
        if ((rc = cp_add(d, cp, CP_TEXT, t->valuestring, NULL, NULL)) != TG_OK)
            return rc;
    }
    return TG_OK;
}

/*
 * A content block of a user turn (or inside a tool_result) that becomes
 * canonical parts.  thinking blocks are dropped (a chat model cannot
 * verify their signatures, and their text never leaves tollgate).
 */
static int
block_parts(struct dec *d, const cJSON *b, const char *where, bool in_tool_result,
            struct cparts *cp)
{
    const cJSON *type = tg__msg_get(b, "type");
    const char *t;

    if (!cJSON_IsObject(b))
        return refuse(d, "%s must be an object", where);
    if (!cJSON_IsString(type))
        return refuse(d, "%s.type must be a string", where);
    t = type->valuestring;
    if (strcmp(t, "text") == 0) {
        const cJSON *text = tg__msg_get(b, "text");
        if (!cJSON_IsString(text))
            return refuse(d, "%s.text must be a string", where);
        return cp_add(d, cp, CP_TEXT, text->valuestring, NULL, NULL);
    }
    if (strcmp(t, "image") == 0)
        return image_parts(d, b, where, cp);
    if (strcmp(t, "document") == 0)
        return document_parts(d, b, where, cp);
    if (strcmp(t, "search_result") == 0)
        return search_result_parts(d, b, where, cp);
    if (in_tool_result && strcmp(t, "tool_reference") == 0) {
        /* Tool search's "this tool is now loaded": every tool is offered
         * to a chat model anyway, so the reference becomes its name. */
        const cJSON *n = tg__msg_get(b, "tool_name");
        if (!cJSON_IsString(n))
            return refuse(d, "%s.tool_name must be a string", where);
        return cp_add(d, cp, CP_TEXT, n->valuestring, NULL, NULL);
    }
    if (strcmp(t, "thinking") == 0 || strcmp(t, "redacted_thinking") == 0)
        return TG_OK;
    return refuse_block(d, where, t);
}

/* tool_result -> a role "tool" message (text only, as OpenAI's tool
 * messages are); its images and PDFs move to the user message that
 * follows the tool messages of the turn. */
static int
tool_result(struct dec *d, const cJSON *b, const char *where, struct cparts *moved)
{
    const cJSON *id = tg__msg_get(b, "tool_use_id"), *c = tg__msg_get(b, "content"), *ie = tg__msg_get(b, "is_error");
    struct cparts text = { 0 };
    char w2[160];
    uint32_t k = 0;
    cJSON *m;
    int rc;

    if (!cJSON_IsString(id) || id->valuestring[0] == '\0')
        return refuse(d, "%s.tool_use_id must be a non-empty string", where);
    if (!absent(ie) && !cJSON_IsBool(ie))
        return refuse(d, "%s.is_error must be a boolean", where);
    if (cJSON_IsString(c)) {
        if ((rc = cp_add(d, &text, CP_TEXT, c->valuestring, NULL, NULL)) != TG_OK)
            return rc;
    } else if (cJSON_IsArray(c)) {
        struct cparts all = { 0 };
        for (const cJSON *e = c->child; e != NULL; e = e->next, k++) {
            pos(w2, sizeof(w2), where, ".content", k);
            if ((rc = block_parts(d, e, w2, true, &all)) != TG_OK)
                return rc;
        }
        for (uint32_t i = 0; i < all.n; i++) {
            struct cpart *p = &all.v[i];
            rc = cp_add(d, p->kind == CP_TEXT ? &text : moved, p->kind, p->s, p->mt, p->name);
            if (rc != TG_OK)
                return rc;
        }
    } else if (!absent(c)) {
        return refuse(d, "%s.content must be a string or an array of content blocks", where);
    }
    m = msg_begin(d, "tool");
    tg__jt_add(&d->t, m, "tool_call_id", tg__jt_sv(&d->t, id));
    /* OpenAI's tool messages have no error flag: the text says it */
    tg__jt_add(&d->t, m, "content", write_content(d, &text, NULL, cJSON_IsTrue(ie) ? "Error: " : NULL));
    return TG_OK;
}

static int
user_message(struct dec *d, const cJSON *content, const char *where)
{
    struct cparts moved = { 0 }, own = { 0 };
    bool tools = false;
    char w2[160];
    uint32_t k = 0;
    int rc;

    if (cJSON_IsString(content)) {
        tg__jt_add(&d->t, msg_begin(d, "user"), "content", tg__jt_sv(&d->t, content));
        return TG_OK;
    }
    if (!cJSON_IsArray(content))
        return refuse(d, "%s.content must be a string or an array of content blocks", where);
    /* Tool results first, as OpenAI wants them right after the assistant's
     * tool_calls; the rest of the turn follows as one user message. */
    for (const cJSON *b = content->child; b != NULL; b = b->next, k++) {
        pos(w2, sizeof(w2), where, ".content", k);
        if (cJSON_IsObject(b) && is_type(b, "tool_result")) {
            tools = true;
            rc = tool_result(d, b, w2, &moved);
        } else {
            rc = block_parts(d, b, w2, false, &own);
        }
        if (rc != TG_OK)
            return rc;
    }
    if (moved.n + own.n == 0 && tools)
        return TG_OK;
    tg__jt_add(&d->t, msg_begin(d, "user"), "content", write_content(d, &moved, &own, NULL));
    return TG_OK;
}

static int
assistant_message(struct dec *d, const cJSON *content, const char *where)
{
    struct cparts text = { 0 };
    const cJSON *b;
    uint32_t k = 0, ncalls = 0;
    char w2[160];
    cJSON *m;
    int rc;

    if (cJSON_IsString(content)) {
        tg__jt_add(&d->t, msg_begin(d, "assistant"), "content",
                   tg__jt_sv(&d->t, content));
        return TG_OK;
    }
    if (!cJSON_IsArray(content))
        return refuse(d, "%s.content must be a string or an array of content blocks", where);
    for (b = content->child; b != NULL; b = b->next, k++) {
        const cJSON *type = tg__msg_get(b, "type");
        pos(w2, sizeof(w2), where, ".content", k);
        if (!cJSON_IsObject(b))
            return refuse(d, "%s must be an object", w2);
        if (!cJSON_IsString(type))
            return refuse(d, "%s.type must be a string", w2);
        if (strcmp(type->valuestring, "text") == 0) {
            const cJSON *t = tg__msg_get(b, "text");
            if (!cJSON_IsString(t))
                return refuse(d, "%s.text must be a string", w2);
            if ((rc = cp_add(d, &text, CP_TEXT, t->valuestring, NULL, NULL)) != TG_OK)
                return rc;
        } else if (strcmp(type->valuestring, "tool_use") == 0) {
            const cJSON *id = tg__msg_get(b, "id"), *name = tg__msg_get(b, "name");
            if (!cJSON_IsString(id) || id->valuestring[0] == '\0')
                return refuse(d, "%s.id must be a non-empty string", w2);
            if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
                return refuse(d, "%s.name must be a non-empty string", w2);
            ncalls++;
        } else if (strcmp(type->valuestring, "thinking") != 0 &&
                   strcmp(type->valuestring, "redacted_thinking") != 0) {
            return refuse_block(d, w2, type->valuestring);
        }
    }
    m = msg_begin(d, "assistant");
    tg__jt_add(&d->t, m, "content", ncalls > 0 && text.n == 0 ? tg__jt_null(&d->t)
                                                              : write_content(d, &text, NULL, NULL));
    if (ncalls > 0) {
        cJSON *tcs = tg__jt_arr(&d->t);
        tg__jt_add(&d->t, m, "tool_calls", tcs);
        for (b = content->child; b != NULL; b = b->next) {
            const cJSON *input;
            cJSON *tc, *fn, *args;
            if (!is_type(b, "tool_use"))
                continue;
            tc = tg__jt_obj(&d->t);
            fn = tg__jt_obj(&d->t);
            tg__jt_add(&d->t, tcs, NULL, tc);
            tg__jt_add(&d->t, tc, "id", tg__jt_sv(&d->t, tg__msg_get(b, "id")));
            tg__jt_add(&d->t, tc, "type", tg__jt_str(&d->t, "function"));
            tg__jt_add(&d->t, tc, "function", fn);
            tg__jt_add(&d->t, fn, "name", tg__jt_sv(&d->t, tg__msg_get(b, "name")));
            input = tg__msg_get(b, "input");
            if (absent(input)) {
                args = tg__jt_str(&d->t, "{}");
            } else {
                /* the input object's JSON text, as the arguments string */
                struct tg__jw t;
                tg__jw_init(&t, TG_MAX_BODY_BYTES);
                tg__jw_value(&t, input);
                if (t.rc != TG_OK && d->prc == TG_OK)
                    d->prc = t.rc;
                args = tg__jt_strn(&d->t, t.buf ? t.buf : "", t.len);
                tg__jw_free(&t);
            }
            tg__jt_add(&d->t, fn, "arguments", args);
        }
    }
    return TG_OK;
}

/* system: a string or text blocks (Claude Code sends blocks with
 * cache_control, which only tunes Anthropic's cache: dropped). */
static int
system_message(struct dec *d, const cJSON *sys, const char *where)
{
    struct cparts text = { 0 };
    uint32_t k = 0;
    char w2[160];
    int rc;

    if (absent(sys))
        return TG_OK;
    if (cJSON_IsString(sys)) {
        tg__jt_add(&d->t, msg_begin(d, "system"), "content", tg__jt_sv(&d->t, sys));
        return TG_OK;
    }
    if (!cJSON_IsArray(sys))
        return refuse(d, "%s must be a string or an array of text blocks", where);
    for (const cJSON *b = sys->child; b != NULL; b = b->next, k++) {
        const cJSON *t = tg__msg_get(b, "text");
        pos(w2, sizeof(w2), where, "", k);
        if (!cJSON_IsObject(b) || !is_type(b, "text") || !cJSON_IsString(t))
            return refuse(d, "%s must be a text block", w2);
        if ((rc = cp_add(d, &text, CP_TEXT, t->valuestring, NULL, NULL)) != TG_OK)
            return rc;
    }
    if (text.n == 0)
        return TG_OK;
    tg__jt_add(&d->t, msg_begin(d, "system"), "content", write_content(d, &text, NULL, NULL));
    return TG_OK;
}

/* Anthropic-defined tools (type name_YYYYMMDD): server tools Anthropic
 * runs, and client tools whose schema only Anthropic's models know. */
static bool
anthropic_tool_type(const char *t)
{
    static const char *const prefixes[] = {
        "web_search_", "web_fetch_", "bash_", "text_editor_", "computer_", "code_execution_",
        "memory_", "tool_search_tool_", "browser_", "mcp_toolset",
    };
    for (size_t i = 0; i < TG_ARRAY_LEN(prefixes); i++)
        if (strncmp(t, prefixes[i], strlen(prefixes[i])) == 0)
            return true;
    return false;
}

static int
write_tools(struct dec *d, const cJSON *tools, const cJSON *choice)
{
    const cJSON *t, *ty, *name = NULL, *par;
    uint32_t k = 0, ncustom = 0;
    char w2[64];
    cJSON *arr = NULL, *to, *fo;

    if (!absent(tools) && !cJSON_IsArray(tools))
        return refuse(d, "tools must be an array");
    for (t = tools ? tools->child : NULL; t != NULL; t = t->next, k++) {
        const cJSON *n = tg__msg_get(t, "name"), *desc = tg__msg_get(t, "description"), *schema = tg__msg_get(t, "input_schema");
        pos(w2, sizeof(w2), "tools", "", k);
        if (!cJSON_IsObject(t))
            return refuse(d, "%s must be an object", w2);
        ty = tg__msg_get(t, "type");
        if (!absent(ty) && !cJSON_IsString(ty))
            return refuse(d, "%s.type must be a string", w2);
        if (!absent(ty) && strcmp(ty->valuestring, "custom") != 0) {
            if (anthropic_tool_type(ty->valuestring))
                continue;
            return refuse(d, "%s: unsupported tool type", w2);
        }
        if (!cJSON_IsString(n) || n->valuestring[0] == '\0')
            return refuse(d, "%s.name must be a non-empty string", w2);
        if (!absent(desc) && !cJSON_IsString(desc))
            return refuse(d, "%s.description must be a string", w2);
        if (!cJSON_IsObject(schema))
            return refuse(d, "%s.input_schema must be an object", w2);
        if (ncustom++ == 0)
            tg__jt_add(&d->t, d->root, "tools", arr = tg__jt_arr(&d->t));
        to = tg__jt_obj(&d->t);
        fo = tg__jt_obj(&d->t);
        tg__jt_add(&d->t, arr, NULL, to);
        tg__jt_add(&d->t, to, "type", tg__jt_str(&d->t, "function"));
        tg__jt_add(&d->t, to, "function", fo);
        tg__jt_add(&d->t, fo, "name", tg__jt_sv(&d->t, n));
        if (cJSON_IsString(desc))
            tg__jt_add(&d->t, fo, "description", tg__jt_sv(&d->t, desc));
        tg__jt_add(&d->t, fo, "parameters", tg__jt_ref(&d->t, schema));
    }

    if (absent(choice))
        return TG_OK;
    if (!cJSON_IsObject(choice) || !cJSON_IsString(ty = tg__msg_get(choice, "type")))
        return refuse(d, "tool_choice must be an object with a string type");
    if (strcmp(ty->valuestring, "tool") == 0) {
        name = tg__msg_get(choice, "name");
        if (!cJSON_IsString(name))
            return refuse(d, "tool_choice.name must be a string");
        for (t = tools ? tools->child : NULL; t != NULL; t = t->next) {
            const cJSON *n = tg__msg_get(t, "name"), *tty = tg__msg_get(t, "type");
            if (cJSON_IsString(n) && strcmp(n->valuestring, name->valuestring) == 0 &&
                (absent(tty) || strcmp(tty->valuestring, "custom") == 0))
                break;
        }
        if (t == NULL)
            return refuse(d, "tool_choice names a tool that is not among the custom tools");
    } else if (strcmp(ty->valuestring, "auto") != 0 && strcmp(ty->valuestring, "any") != 0 &&
               strcmp(ty->valuestring, "none") != 0) {
        return refuse(d, "tool_choice.type must be auto, any, tool or none");
    }
    par = tg__msg_get(choice, "disable_parallel_tool_use");
    if (!absent(par) && !cJSON_IsBool(par))
        return refuse(d, "tool_choice.disable_parallel_tool_use must be a boolean");
    /* OpenAI refuses a tool_choice without tools: with every tool dropped
     * (Anthropic-defined ones only) there is nothing to choose. */
    if (ncustom == 0)
        return TG_OK;
    if (name != NULL) {
        cJSON *tc = tg__jt_obj(&d->t), *fn = tg__jt_obj(&d->t);
        tg__jt_add(&d->t, d->root, "tool_choice", tc);
        tg__jt_add(&d->t, tc, "type", tg__jt_str(&d->t, "function"));
        tg__jt_add(&d->t, tc, "function", fn);
        tg__jt_add(&d->t, fn, "name", tg__jt_sv(&d->t, name));
    } else {
        tg__jt_add(&d->t, d->root, "tool_choice",
                   tg__jt_str(&d->t, strcmp(ty->valuestring, "any") == 0 ? "required"
                                                                          : ty->valuestring));
    }
    if (cJSON_IsTrue(par) && strcmp(ty->valuestring, "none") != 0)
        tg__jt_add(&d->t, d->root, "parallel_tool_calls", tg__jt_bool(&d->t, false));
    return TG_OK;
}

/* Bytewise key order, for finding duplicate keys in big objects. */
static int
key_cmp(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/*
 * Refuse an object with the same key twice anywhere in the body: parsers
 * disagree on which one wins (cJSON's lookups take the first, Anthropic's
 * servers may take the last), so the text we translate and scan might not
 * be what the client meant.  The chat door refuses them too.
 */
static int
check_dups(struct dec *d, const cJSON *v)
{
    uint32_t n = 0, i = 0;
    const cJSON *c;
    const char **keys;
    int rc;

    for (c = v->child; c != NULL; c = c->next, n++)
        if ((cJSON_IsObject(c) || cJSON_IsArray(c)) && (rc = check_dups(d, c)) != TG_OK)
            return rc;
    if (!cJSON_IsObject(v) || n < 2)
        return TG_OK;
    if (n <= 16) {
        for (c = v->child; c != NULL; c = c->next)
            for (const cJSON *e = c->next; e != NULL; e = e->next)
                if (strcmp(c->string ? c->string : "", e->string ? e->string : "") == 0)
                    return refuse(d, "duplicate key in request body");
        return TG_OK;
    }
    keys = tg_arena_alloc(d->a, n * sizeof(*keys));
    if (keys == NULL)
        return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding the request");
    for (c = v->child; c != NULL; c = c->next)
        keys[i++] = c->string ? c->string : "";
    qsort(keys, n, sizeof(*keys), key_cmp);
    for (i = 1; i < n; i++)
        if (strcmp(keys[i - 1], keys[i]) == 0)
            return refuse(d, "duplicate key in request body");
    return TG_OK;
}

static int
number_field(struct dec *d, const cJSON *body, const char *k, bool integer)
{
    const cJSON *v = tg__msg_get(body, k);

    if (absent(v))
        return TG_OK;
    if (!cJSON_IsNumber(v))
        return refuse(d, "%s must be a number", k);
    if (integer && (!(v->valuedouble >= 0) || v->valuedouble != floor(v->valuedouble) ||
                    v->valuedouble > 2147483647.0))
        return refuse(d, "%s must be a non-negative integer", k);
    tg__jt_add(&d->t, d->root, k, tg__jt_ref(&d->t, v));
    return TG_OK;
}

int
tg__messages_decode(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
                    bool count_tokens, char **canon, size_t *canon_len, cJSON **tree,
                    struct tg_err *err)
{
    struct dec d = { .a = a, .err = err };
    struct tg__jw out;
    struct tg__msg_priv *priv = NULL;
    cJSON *j = NULL;
    const cJSON *model, *msgs, *m, *v, *meta = NULL, *uid = NULL, *cat = NULL;
    const char *end = NULL;
    bool stream = false;
    char where[48];
    uint32_t i = 0;
    char *text;
    int rc;

    /* The canonical body must pass tg_request_parse, which takes no more. */
    tg__jw_init(&out, TG_MAX_BODY_BYTES);
    out.a = a;
    d.t.a = a;
    if (body == NULL || len == 0) {
        rc = tg_err_set(err, TG_EINVAL, "request body is missing");
        goto out;
    }
    if (len > TG_MAX_BODY_BYTES) {
        rc = tg_err_set(err, TG_ELIMIT, "request body is larger than %u bytes", TG_MAX_BODY_BYTES);
        goto out;
    }
    if (tg_dialect_has_nul(body, len)) {
        rc = tg_err_set(err, TG_EINVAL,
                        "request body contains a NUL character (raw or \\u0000), which is not accepted");
        goto out;
    }
    /* One level less than the engine's cap: input_schema moves one level
     * down (tools[].function.parameters), and the canonical body must
     * still fit TG_MAX_JSON_DEPTH. */
    rc = tg_json_parse(body, len, TG_MAX_JSON_DEPTH - 1, a, &j, &end);
    if (rc == TG_ENOMEM) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory parsing the request body");
        goto out;
    }
    if (rc == TG_ELIMIT) {
        rc = tg_err_set(err, TG_ELIMIT, "request JSON nests deeper than %u levels",
                        TG_MAX_JSON_DEPTH - 1);
        goto out;
    }
    if (rc != TG_OK) {
        rc = tg_err_set(err, TG_EINVAL, "request body is not valid JSON (near byte %zu)",
                        end != NULL && end >= body ? (size_t)(end - body) : (size_t)0);
        goto out;
    }
    for (const char *p = end; p < body + len; p++)
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            rc = tg_err_set(err, TG_EINVAL, "request body has trailing data after the JSON value");
            goto out;
        }
    if (!cJSON_IsObject(j)) {
        rc = refuse(&d, "request body must be a JSON object");
        goto out;
    }
    if ((rc = check_dups(&d, j)) != TG_OK)
        goto out;
    model = tg__msg_get(j, "model");
    if (!cJSON_IsString(model) || model->valuestring[0] == '\0') {
        rc = refuse(&d, "model: a non-empty string is required");
        goto out;
    }
    msgs = tg__msg_get(j, "messages");
    if (!cJSON_IsArray(msgs) || msgs->child == NULL) {
        rc = refuse(&d, "messages: a non-empty array is required");
        goto out;
    }
    v = tg__msg_get(j, "max_tokens");
    if (!count_tokens && absent(v)) {
        rc = refuse(&d, "max_tokens: field required");
        goto out;
    }
    v = tg__msg_get(j, "stream");
    if (!count_tokens && !absent(v)) {
        if (!cJSON_IsBool(v)) {
            rc = refuse(&d, "stream must be a boolean");
            goto out;
        }
        stream = cJSON_IsTrue(v);
    }
    meta = tg__msg_get(j, "metadata");
    if (!absent(meta)) {
        if (!cJSON_IsObject(meta)) {
            rc = refuse(&d, "metadata must be an object");
            goto out;
        }
        uid = tg__msg_get(meta, "user_id");
        cat = tg__msg_get(meta, "category");
        if ((!absent(uid) && !cJSON_IsString(uid)) || (!absent(cat) && !cJSON_IsString(cat))) {
            rc = refuse(&d, "metadata.user_id and metadata.category must be strings");
            goto out;
        }
    }

    d.root = tg__jt_obj(&d.t);
    tg__jt_add(&d.t, d.root, "model", tg__jt_sv(&d.t, model));
    tg__jt_add(&d.t, d.root, "messages", d.msgs = tg__jt_arr(&d.t));
    if ((rc = system_message(&d, tg__msg_get(j, "system"), "system")) != TG_OK)
        goto out;
    for (m = msgs->child; m != NULL; m = m->next, i++) {
        const cJSON *role = tg__msg_get(m, "role"), *content = tg__msg_get(m, "content");
        if (i >= TG_MAX_MESSAGES) {
            rc = tg_err_set(err, TG_ELIMIT, "request has more than %u messages", TG_MAX_MESSAGES);
            goto out;
        }
        pos(where, sizeof(where), "messages", "", i);
        if (!cJSON_IsObject(m)) {
            rc = refuse(&d, "%s must be an object", where);
            goto out;
        }
        if (!cJSON_IsString(role)) {
            rc = refuse(&d, "%s.role must be a string", where);
            goto out;
        }
        if (strcmp(role->valuestring, "user") == 0)
            rc = user_message(&d, content, where);
        else if (strcmp(role->valuestring, "assistant") == 0)
            rc = assistant_message(&d, content, where);
        else if (strcmp(role->valuestring, "system") == 0) {
            snprintf(where + strlen(where), sizeof(where) - strlen(where), ".content");
            rc = system_message(&d, content, where);
        } else
            rc = refuse(&d, "%s.role must be user or assistant", where);
        if (rc != TG_OK)
            goto out;
    }
    if (d.nmsgs == 0) {
        rc = refuse(&d, "messages: nothing to send once thinking blocks are dropped");
        goto out;
    }

    if ((rc = number_field(&d, j, "max_tokens", true)) != TG_OK ||
        (rc = number_field(&d, j, "temperature", false)) != TG_OK ||
        (rc = number_field(&d, j, "top_p", false)) != TG_OK)
        goto out;
    v = tg__msg_get(j, "stop_sequences");
    if (!absent(v)) {
        uint32_t n = 0;
        if (!cJSON_IsArray(v)) {
            rc = refuse(&d, "stop_sequences must be an array of strings");
            goto out;
        }
        for (const cJSON *s = v->child; s != NULL; s = s->next, n++)
            if (!cJSON_IsString(s)) {
                rc = refuse(&d, "stop_sequences must be an array of strings");
                goto out;
            }
        if (n > 0) {
            priv = tg_arena_calloc(a, 1, sizeof(*priv));
            if (priv == NULL || (priv->stops = tg_arena_calloc(a, n, sizeof(char *))) == NULL) {
                rc = tg_err_set(err, TG_ENOMEM, "out of memory decoding the request");
                goto out;
            }
            tg__jt_add(&d.t, d.root, "stop", tg__jt_ref(&d.t, v));
            for (const cJSON *s = v->child; s != NULL; s = s->next)
                priv->stops[priv->nstops++] = s->valuestring;
        }
    }
    if ((rc = write_tools(&d, tg__msg_get(j, "tools"), tg__msg_get(j, "tool_choice"))) != TG_OK)
        goto out;
    v = tg__msg_get(tg__msg_get(j, "output_config"), "format");
    if (!absent(v)) {
        const cJSON *schema = tg__msg_get(v, "schema");
        if (!is_type(v, "json_schema") || !cJSON_IsObject(schema)) {
            rc = refuse(&d, "output_config.format must be a json_schema format with an object schema");
            goto out;
        }
        cJSON *rf = tg__jt_obj(&d.t), *js = tg__jt_obj(&d.t);
        tg__jt_add(&d.t, d.root, "response_format", rf);
        tg__jt_add(&d.t, rf, "type", tg__jt_str(&d.t, "json_schema"));
        tg__jt_add(&d.t, rf, "json_schema", js);
        tg__jt_add(&d.t, js, "name", tg__jt_str(&d.t, "output"));
        tg__jt_add(&d.t, js, "schema", tg__jt_ref(&d.t, schema));
    }
    /* an opaque id by Anthropic's rules, but carried and so scanned */
    if (cJSON_IsString(uid))
        tg__jt_add(&d.t, d.root, "user", tg__jt_sv(&d.t, uid));
    if (cJSON_IsString(cat)) {
        cJSON *mo = tg__jt_obj(&d.t);
        tg__jt_add(&d.t, d.root, "metadata", mo);
        tg__jt_add(&d.t, mo, "category", tg__jt_sv(&d.t, cat));
    }
    if (stream) {
        cJSON *so = tg__jt_obj(&d.t);
        tg__jt_add(&d.t, d.root, "stream", tg__jt_bool(&d.t, true));
        tg__jt_add(&d.t, d.root, "stream_options", so);
        tg__jt_add(&d.t, so, "include_usage", tg__jt_bool(&d.t, true));
    }

    if (d.t.oom && d.prc == TG_OK)
        d.prc = TG_ENOMEM;
    if (d.prc == TG_OK) {
        /* the canonical text is about the client's size: one allocation */
        tg__jw_reserve(&out, len + len / 8 + 1024);
        tg__jw_value(&out, d.root);
        d.prc = out.rc;
    }

    if (d.prc != TG_OK) {
        rc = d.prc == TG_ELIMIT
                 ? tg_err_set(err, TG_ELIMIT, "translated request is larger than %u bytes",
                              TG_MAX_BODY_BYTES)
                 : tg_err_set(err, TG_ENOMEM, "out of memory translating the request");
        goto out;
    }
    text = out.buf;
    if (ctx != NULL) {
        const char *cm = tg_arena_strdup(a, model->valuestring);
        if (cm == NULL) {
            rc = tg_err_set(err, TG_ENOMEM, "out of memory translating the request");
            goto out;
        }
        ctx->client_model = cm;
        ctx->stream = stream;
        ctx->priv = priv;
        ctx->verbatim = !count_tokens && tg__msg_verbatim_ok(j);
    }
    *canon = text;
    *canon_len = out.len;
    if (tree != NULL)
        *tree = d.root;
    rc = TG_OK;
out:
    tg__jw_free(&out);
    return rc;
}

int
tg__msg_decode(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
               char **canon, size_t *canon_len, struct tg_err *err)
{
    return tg__messages_decode(body, len, a, ctx, false, canon, canon_len, NULL, err);
}

int
tg__msg_decode_tree(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
                    char **canon, size_t *canon_len, cJSON **tree, struct tg_err *err)
{
    return tg__messages_decode(body, len, a, ctx, false, canon, canon_len, tree, err);
}
