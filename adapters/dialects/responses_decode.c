/*
 * responses_decode.c — a POST /v1/responses body -> the canonical chat
 * completions body (decode, decode_tree).  `input`
 * (a string or items) becomes messages: message items keep their role
 * (developer -> system), function_call / custom_tool_call items are grouped
 * into one assistant message with tool_calls, *_output items become tool
 * messages; `instructions` is the first system message.  Function tools
 * map one to one; a custom tool becomes a function taking one string
 * argument `input`, and its name is remembered so that answers come back
 * as custom_tool_call items.  What a chat model cannot take is dropped or
 * refused by the rule of dialect.h; docs/dialects.md lists each field.
 *
 * decode builds the canonical body as a tree in the request's arena
 * (strings shared with the client's parse tree, not copied), prints it
 * once, and hands text and tree on (decode_tree), so the engine indexes
 * the tree rather than parsing the text a second time.
 */
#include "adapters/dialects/responses_int.h"

#include <cjson/cJSON.h>

#include <math.h>
#include <string.h>

/* A type name safe to quote in an error (errors reach logs and the audit
 * log, so never a value that could be request text). */
static const char *
safe_name(const char *s)
{
    size_t i = 0;
    for (; s != NULL && s[i] != '\0'; i++) {
        char c = s[i];
        /* the API's type and key names are lower-case snake case */
        if (i >= 40 || !((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return "(unnamed)";
    }
    return i > 0 ? s : "(unnamed)";
}


/*
 * Reject an object with a key twice: we read the first, another parser
 * the last, so what we scan and send could differ from what the client
 * meant.  Only the objects this file interprets are checked here; values
 * copied verbatim are checked by tg_request_parse on the canonical body.
 */
static int
check_dups(const cJSON *o, const char *where, struct tg_err *err)
{
    uint32_t n = 0;
    for (const cJSON *c = o->child; c != NULL; c = c->next)
        n++;
    if (n < 2)
        return TG_OK;
    if (n > 64)   /* request objects of this API have far fewer members */
        return tg_err_set(err, TG_EINVAL, "%s has too many members", where);
    for (const cJSON *c = o->child; c != NULL; c = c->next) {
        const char *ck = c->string ? c->string : "";
        for (const cJSON *d = c->next; d != NULL; d = d->next) {
            const char *dk = d->string ? d->string : "";
            /* most pairs differ in their first byte: no call for those */
            if (ck[0] == dk[0] && strcmp(ck, dk) == 0)
                return tg_err_set(err, TG_EINVAL, "duplicate key '%s' in %s",
                                  safe_name(c->string), where);
        }
    }
    return TG_OK;
}

/* ---- decode: Responses request -> canonical chat body -------------------- */

/*
 * The canonical body is built as a tree in the request's arena (the shape
 * tg_json_parse gives), printed once as the canonical text, and handed to
 * the engine with it (decode_tree): the engine indexes the tree instead of
 * parsing the text again.  Strings are the client's own (its parse tree
 * lives in the same arena), not copies.
 */
struct dec {
    struct tg__jt     t;
    struct tg__jw         tmp;
    struct tg_arena  *a;
    struct tg_err    *err;
    struct tg__resp_priv *pv;
    cJSON            *root;       /* the canonical body */
    cJSON            *msgs;       /* its messages */
    cJSON            *tools;      /* its tools, once one is written */
    cJSON            *open;       /* an assistant message tool calls may still join */
    cJSON            *open_tcs;   /* its tool_calls, once one joined */
    cJSON            *deferred;   /* image/file parts of tool outputs, sent as a user message */
    uint32_t          nmsgs;
    const char      **names;      /* tool names written, for the uniqueness check */
    uint32_t          nnames;
};

#define HOSTED_N 19
/* Tool types OpenAI (or the client's OpenAI-defined runtime) executes.  A
 * chat model cannot run them, so they are dropped; their definitions carry
 * no request text a chat model would read. */
static const char *const hosted_tools[HOSTED_N] = {
    "apply_patch", "code_interpreter", "computer", "computer_use", "computer_use_preview",
    "file_search", "image_generation", "local_shell", "mcp", "programmatic_tool_calling",
    "shell", "tool_search", "web_search", "web_search_2025_08_26", "web_search_preview",
    "web_search_preview_2025_03_11", "container", "code_execution", "web_fetch",
};

static bool
is_hosted(const char *t)
{
    for (unsigned i = 0; i < HOSTED_N; i++)
        if (strcmp(t, hosted_tools[i]) == 0)
            return true;
    return false;
}

static void
close_open(struct dec *d)
{
    d->open = NULL;
    d->open_tcs = NULL;
}

static cJSON *
msg_start(struct dec *d, const char *role)
{
    cJSON *m = tg__jt_obj(&d->t);
    d->nmsgs++;
    tg__jt_add(&d->t, d->msgs, NULL, m);
    tg__jt_add(&d->t, m, "role", tg__jt_str(&d->t, role));
    return m;
}

/* Images and files a tool returned: chat tool messages hold text only, so
 * they follow the run of tool messages as one user message. */
static void
flush_deferred(struct dec *d)
{
    if (d->deferred == NULL)
        return;
    tg__jt_add(&d->t, msg_start(d, "user"), "content", d->deferred);
    d->deferred = NULL;
}

enum part_kind { PART_TEXT = 0, PART_MEDIA = 1 };

/*
 * Check one content part; say whether it is text (input_text, output_text,
 * refusal: *text set) or media (input_image, input_file).
 */
static int
part_check(const cJSON *p, const char *where, uint32_t j, enum part_kind *kind,
           const char **text, struct tg_err *err)
{
    const cJSON *t;
    int rc;

    if (!cJSON_IsObject(p))
        return tg_err_set(err, TG_EINVAL, "%s[%u] must be an object", where, j);
    if ((rc = check_dups(p, "a content part", err)) != TG_OK)
        return rc;
    t = tg__resp_get(p, "type");
    if (!cJSON_IsString(t))
        return tg_err_set(err, TG_EINVAL, "%s[%u].type must be a string", where, j);
    if (tg__resp_streq(t->valuestring, "input_text") || tg__resp_streq(t->valuestring, "output_text") ||
        tg__resp_streq(t->valuestring, "refusal")) {
        const char *key = t->valuestring[0] == 'r' ? "refusal" : "text";
        const cJSON *s = tg__resp_get(p, key);
        if (!cJSON_IsString(s))
            return tg_err_set(err, TG_EINVAL, "%s[%u].%s must be a string", where, j, key);
        *kind = PART_TEXT;
        *text = s->valuestring;
        return TG_OK;
    }
    if (tg__resp_streq(t->valuestring, "input_image")) {
        if (!cJSON_IsString(tg__resp_get(p, "image_url")))
            return tg_err_set(err, TG_EINVAL,
                              "%s[%u]: input_image needs image_url (a file_id names a file "
                              "stored by OpenAI, which a chat model cannot read)", where, j);
        *kind = PART_MEDIA;
        return TG_OK;
    }
    if (tg__resp_streq(t->valuestring, "input_file")) {
        if (tg__resp_present(tg__resp_get(p, "file_url")))
            return tg_err_set(err, TG_EINVAL,
                              "%s[%u]: input_file with file_url is not supported (chat models "
                              "take file_data); send the file's content", where, j);
        if (!cJSON_IsString(tg__resp_get(p, "file_data")) && !cJSON_IsString(tg__resp_get(p, "file_id")))
            return tg_err_set(err, TG_EINVAL, "%s[%u]: input_file needs file_data", where, j);
        *kind = PART_MEDIA;
        return TG_OK;
    }
    return tg_err_set(err, TG_EINVAL, "%s[%u]: content type '%s' is not supported", where, j,
                      safe_name(t->valuestring));
}

/* A checked media part as a chat content part. */
static cJSON *
media_part(struct dec *d, const cJSON *p)
{
    struct tg__jt *t = &d->t;
    const cJSON *ty = tg__resp_get(p, "type");
    cJSON *o = tg__jt_obj(t), *in = tg__jt_obj(t);

    if (tg__resp_streq(ty->valuestring, "input_image")) {
        const char *detail = tg__resp_str_or(tg__resp_get(p, "detail"), NULL);
        tg__jt_add(t, o, "type", tg__jt_str(t, "image_url"));
        tg__jt_add(t, o, "image_url", in);
        tg__jt_add(t, in, "url", tg__jt_sv(t, tg__resp_get(p, "image_url")));
        /* chat knows auto/low/high; "original" (no downscaling) is closest to high */
        if (detail != NULL)
            tg__jt_add(t, in, "detail",
                       tg__jt_str(t, tg__resp_streq(detail, "original") ? "high" : detail));
    } else {
        static const char *const keys[] = { "file_data", "file_id", "filename" };
        tg__jt_add(t, o, "type", tg__jt_str(t, "file"));
        tg__jt_add(t, o, "file", in);
        for (unsigned k = 0; k < 3; k++) {
            const cJSON *v = tg__resp_get(p, keys[k]);
            if (cJSON_IsString(v))
                tg__jt_add(t, in, keys[k], tg__jt_sv(t, v));
        }
    }
    return o;
}

/* The text of a part part_check passed, NULL for media. */
static const char *
part_text(const cJSON *p)
{
    const char *ty = tg__resp_get(p, "type")->valuestring;
    if (ty[0] == 'r')
        return tg__resp_get(p, "refusal")->valuestring;
    if (tg__resp_streq(ty, "input_text") || tg__resp_streq(ty, "output_text"))
        return tg__resp_get(p, "text")->valuestring;
    return NULL;
}

/* The texts of checked parts joined, n bytes in all: a chat model reads
 * them as one text anyway. */
static cJSON *
joined(struct dec *d, const cJSON *first, size_t n)
{
    char *s = d->t.oom ? NULL : tg_arena_alloc(d->a, n + 1), *o = s;
    if (s == NULL) {
        d->t.oom = true;
        return NULL;
    }
    for (const cJSON *p = first; p != NULL; p = p->next) {
        const char *x = part_text(p);
        if (x != NULL) {
            size_t l = strlen(x);
            memcpy(o, x, l);
            o += l;
        }
    }
    *o = '\0';
    return tg__jt_str(&d->t, s);
}

/*
 * A message's content.  Text-only content is joined into one string (chat
 * providers that take no part arrays still read it; the parts of a
 * Responses message are read as one text anyway); content with images or
 * files stays an array of chat parts.
 */
static int
write_content(struct dec *d, cJSON *m, const cJSON *content, const char *where)
{
    struct tg__jt *t = &d->t;
    const cJSON *p;
    bool media = false;
    size_t n = 0;
    uint32_t j = 0;
    cJSON *arr;
    int rc;

    if (cJSON_IsString(content)) {
        tg__jt_add(t, m, "content", tg__jt_sv(t, content));
        return TG_OK;
    }
    if (!cJSON_IsArray(content))
        return tg_err_set(d->err, TG_EINVAL, "%s must be a string or an array of parts", where);
    for (p = content->child; p != NULL; p = p->next, j++) {
        enum part_kind k = PART_TEXT;
        const char *x = NULL;
        if ((rc = part_check(p, where, j, &k, &x, d->err)) != TG_OK)
            return rc;
        media |= k == PART_MEDIA;
        if (x != NULL)
            n += strlen(x);
    }
    if (!media) {
        tg__jt_add(t, m, "content", joined(d, content->child, n));
        return TG_OK;
    }
    tg__jt_add(t, m, "content", arr = tg__jt_arr(t));
    for (p = content->child; p != NULL; p = p->next) {
        const char *x = part_text(p);
        if (x != NULL) {
            cJSON *o = tg__jt_obj(t);
            tg__jt_add(t, o, "type", tg__jt_str(t, "text"));
            tg__jt_add(t, o, "text", tg__jt_str(t, x));
            tg__jt_add(t, arr, NULL, o);
        } else {
            tg__jt_add(t, arr, NULL, media_part(d, p));
        }
    }
    return TG_OK;
}

/* "input[<i>]<suffix>" for error messages, without printf (every message
 * item formats one). */
static void
where_at(char buf[48], uint32_t i, const char *suffix)
{
    char t[TG__DIALECT_INT_CHARS], *q = tg__dialect_fmt_int(t, i);
    size_t nq = (size_t)(t + sizeof(t) - q), ns = strlen(suffix);
    memcpy(buf, "input[", 6);
    memcpy(buf + 6, q, nq);
    buf[6 + nq] = ']';
    memcpy(buf + 7 + nq, suffix, ns + 1);   /* 7 + 10 digits + a short suffix < 48 */
}

static int
dec_message(struct dec *d, const cJSON *it, uint32_t i)
{
    const cJSON *role = tg__resp_get(it, "role");
    char where[48];
    const char *r;
    cJSON *m;
    int rc;

    if (!cJSON_IsString(role))
        return tg_err_set(d->err, TG_EINVAL, "input[%u].role must be a string", i);
    r = role->valuestring;
    if (!tg__resp_streq(r, "user") && !tg__resp_streq(r, "assistant") && !tg__resp_streq(r, "system") &&
        !tg__resp_streq(r, "developer"))
        return tg_err_set(d->err, TG_EINVAL,
                          "input[%u].role must be user, assistant, system or developer", i);
    close_open(d);
    flush_deferred(d);
    /* developer is OpenAI's newer name for system; most chat providers only know system */
    m = msg_start(d, tg__resp_streq(r, "developer") ? "system" : r);
    where_at(where, i, ".content");
    if ((rc = write_content(d, m, tg__resp_get(it, "content"), where)) != TG_OK)
        return rc;
    if (tg__resp_streq(r, "assistant"))
        d->open = m;   /* following function calls join this turn */
    return TG_OK;
}

/* function_call / custom_tool_call -> one tool_calls[] entry. */
static int
dec_call(struct dec *d, const cJSON *it, uint32_t i, bool custom)
{
    struct tg__jt *t = &d->t;
    const cJSON *call_id = tg__resp_get(it, "call_id"), *name = tg__resp_get(it, "name");
    const cJSON *args = tg__resp_get(it, custom ? "input" : "arguments"), *ns;
    cJSON *tc, *fn, *a;
    const char *nm;

    if (!cJSON_IsString(call_id) || call_id->valuestring[0] == '\0')
        return tg_err_set(d->err, TG_EINVAL, "input[%u].call_id must be a non-empty string", i);
    if (!cJSON_IsString(name))
        return tg_err_set(d->err, TG_EINVAL, "input[%u].name must be a string", i);
    if (!cJSON_IsString(args))
        return tg_err_set(d->err, TG_EINVAL, "input[%u].%s must be a string", i,
                          custom ? "input" : "arguments");
    ns = tg__resp_get(it, "namespace");
    if (tg__resp_present(ns) && !cJSON_IsString(ns))
        return tg_err_set(d->err, TG_EINVAL, "input[%u].namespace must be a string", i);
    if (d->open == NULL) {
        flush_deferred(d);
        d->open = msg_start(d, "assistant");
        tg__jt_add(t, d->open, "content", tg__jt_null(t));
    }
    if (d->open_tcs == NULL)
        tg__jt_add(t, d->open, "tool_calls", d->open_tcs = tg__jt_arr(t));
    nm = name->valuestring;
    /* the name its namespace's function was sent under (dec_one_tool) */
    if (cJSON_IsString(ns) &&
        (nm = tg_arena_sprintf(d->a, "%s__%s", ns->valuestring, name->valuestring)) == NULL)
        return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding the request");
    tc = tg__jt_obj(t);
    fn = tg__jt_obj(t);
    tg__jt_add(t, d->open_tcs, NULL, tc);
    tg__jt_add(t, tc, "id", tg__jt_sv(t, call_id));
    tg__jt_add(t, tc, "type", tg__jt_str(t, "function"));
    tg__jt_add(t, tc, "function", fn);
    tg__jt_add(t, fn, "name", tg__jt_str(t, nm));
    if (custom) {
        /* the custom tool's free-form input as the one argument of its function */
        d->tmp.len = 0;
        TG__JW_LIT(&d->tmp, "{\"input\":");
        tg__jw_str(&d->tmp, args->valuestring);
        TG__JW_LIT(&d->tmp, "}");
        if (d->tmp.rc)
            return tg_err_set(d->err, d->tmp.rc, "custom tool input too large");
        a = tg__jt_strn(t, d->tmp.buf, d->tmp.len);
    } else {
        a = tg__jt_sv(t, args);
    }
    tg__jt_add(t, fn, "arguments", a);
    return TG_OK;
}

/* function_call_output / custom_tool_call_output -> a tool message. */
static int
dec_output(struct dec *d, const cJSON *it, uint32_t i)
{
    struct tg__jt *t = &d->t;
    const cJSON *call_id = tg__resp_get(it, "call_id"), *out = tg__resp_get(it, "output"), *p;
    char where[48];
    uint32_t j = 0;
    size_t n = 0;
    cJSON *m;
    int rc;

    if (!cJSON_IsString(call_id) || call_id->valuestring[0] == '\0')
        return tg_err_set(d->err, TG_EINVAL, "input[%u].call_id must be a non-empty string", i);
    where_at(where, i, ".output");
    if (!cJSON_IsString(out) && !cJSON_IsArray(out))
        return tg_err_set(d->err, TG_EINVAL, "%s must be a string or an array of parts", where);
    for (p = cJSON_IsArray(out) ? out->child : NULL; p != NULL; p = p->next, j++) {
        enum part_kind k = PART_TEXT;
        const char *x = NULL;
        if ((rc = part_check(p, where, j, &k, &x, d->err)) != TG_OK)
            return rc;
        if (x != NULL)
            n += strlen(x);
    }
    close_open(d);
    m = msg_start(d, "tool");
    tg__jt_add(t, m, "tool_call_id", tg__jt_sv(t, call_id));
    if (cJSON_IsString(out)) {
        tg__jt_add(t, m, "content", tg__jt_sv(t, out));
        return TG_OK;
    }
    tg__jt_add(t, m, "content", joined(d, out->child, n));
    for (p = out->child; p != NULL; p = p->next) {
        if (part_text(p) != NULL)
            continue;
        if (d->deferred == NULL)
            d->deferred = tg__jt_arr(t);
        tg__jt_add(t, d->deferred, NULL, media_part(d, p));
    }
    return TG_OK;
}

static int
dec_input(struct dec *d, const cJSON *input)
{
    uint32_t i = 0;
    int rc;

    if (cJSON_IsString(input)) {
        close_open(d);
        tg__jt_add(&d->t, msg_start(d, "user"), "content", tg__jt_sv(&d->t, input));
        return TG_OK;
    }
    if (!cJSON_IsArray(input))
        return tg_err_set(d->err, TG_EINVAL, "input must be a string or an array of items");
    for (const cJSON *it = input->child; it != NULL; it = it->next, i++) {
        const cJSON *type, *role;
        const char *t;
        if (i >= TG_MAX_MESSAGES)
            return tg_err_set(d->err, TG_ELIMIT, "input has more than %u items",
                              TG_MAX_MESSAGES);
        if (!cJSON_IsObject(it))
            return tg_err_set(d->err, TG_EINVAL, "input[%u] must be an object", i);
        if ((rc = check_dups(it, "an input item", d->err)) != TG_OK)
            return rc;
        type = tg__resp_get(it, "type");
        role = tg__resp_get(it, "role");
        if (tg__resp_present(type)) {
            if (!cJSON_IsString(type))
                return tg_err_set(d->err, TG_EINVAL, "input[%u].type must be a string", i);
            t = type->valuestring;
        } else if (tg__resp_present(role)) {
            t = "message";           /* EasyInputMessage: type is optional */
        } else if (tg__resp_present(tg__resp_get(it, "id"))) {
            t = "item_reference";    /* ItemReferenceParam: type is optional too */
        } else {
            return tg_err_set(d->err, TG_EINVAL, "input[%u] has neither type nor role", i);
        }
        if (tg__resp_streq(t, "message"))
            rc = dec_message(d, it, i);
        else if (tg__resp_streq(t, "function_call"))
            rc = dec_call(d, it, i, false);
        else if (tg__resp_streq(t, "custom_tool_call"))
            rc = dec_call(d, it, i, true);
        else if (tg__resp_streq(t, "function_call_output") || tg__resp_streq(t, "custom_tool_call_output"))
            rc = dec_output(d, it, i);
        else if (tg__resp_streq(t, "reasoning"))
            rc = TG_OK;  /* a model's own (often encrypted) reasoning: another provider
                            cannot read it, and it is not the client's request */
        else if (tg__resp_streq(t, "item_reference"))
            return tg_err_set(d->err, TG_EINVAL,
                              "input[%u]: item_reference names an item stored by OpenAI; "
                              "tollgate keeps no server-side state, send the item itself", i);
        else
            return tg_err_set(d->err, TG_EINVAL,
                              "input[%u]: item type '%s' cannot be sent to a chat model", i,
                              safe_name(t));
        if (rc != TG_OK)
            return rc;
    }
    close_open(d);
    flush_deferred(d);
    return TG_OK;
}

/* ---- tools ---- */

struct allowed {
    const char **names;      /* NULL: every tool is allowed */
    uint32_t     n;
};

static bool
allowed_has(const struct allowed *al, const char *name)
{
    if (al->names == NULL)
        return true;
    for (uint32_t i = 0; i < al->n; i++)
        if (strcmp(al->names[i], name) == 0)
            return true;
    return false;
}

static int
add_name(struct dec *d, const char *name, uint32_t i)
{
    for (uint32_t k = 0; k < d->nnames; k++)
        if (strcmp(d->names[k], name) == 0)
            return tg_err_set(d->err, TG_EINVAL,
                              "tools[%u]: a tool of the same name is already defined", i);
    d->names[d->nnames++] = name;
    return TG_OK;
}

/* An optional member carried as the client sent it. */
static void
write_opt(struct dec *d, cJSON *o, const char *key, const cJSON *v)
{
    if (tg__resp_present(v))
        tg__jt_add(&d->t, o, key, tg__jt_ref(&d->t, v));
}

/*
 * One function or custom tool -> a chat function tool.  ns: the namespace
 * it belongs to (NULL at top level); its functions are sent as
 * "<namespace>__<name>" (chat has no namespaces) and mapped back in answers.
 */
static int
dec_one_tool(struct dec *d, const cJSON *t, uint32_t i, const cJSON *ns, const struct allowed *al,
             uint32_t *n)
{
    struct tg__jt *jt = &d->t;
    const cJSON *type = tg__resp_get(t, "type"), *name = tg__resp_get(t, "name"),
                *desc = tg__resp_get(t, "description");
    const char *flat;
    cJSON *to, *fo;
    bool custom = tg__resp_streq(type->valuestring, "custom");
    int rc;

    if (!cJSON_IsString(name) || name->valuestring[0] == '\0')
        return tg_err_set(d->err, TG_EINVAL, "tools[%u].name must be a non-empty string", i);
    if (tg__resp_present(desc) && !cJSON_IsString(desc))
        return tg_err_set(d->err, TG_EINVAL, "tools[%u].description must be a string", i);
    flat = name->valuestring;
    if (ns != NULL) {
        const char *nsn = tg__resp_get(ns, "name")->valuestring;
        struct tg__resp_ns_fn *f = &d->pv->nsfn[d->pv->nnsfn];
        if ((flat = tg_arena_sprintf(d->a, "%s__%s", nsn, name->valuestring)) == NULL)
            return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tools");
        f->flat = flat;
        f->ns = nsn;
        f->name = name->valuestring;
        d->pv->nnsfn++;
    }
    if ((rc = add_name(d, flat, i)) != TG_OK)
        return rc;
    if (custom)
        d->pv->custom[d->pv->ncustom++] = flat;
    if (!allowed_has(al, flat) && !allowed_has(al, name->valuestring))
        return TG_OK;        /* tool_choice.allowed_tools leaves it out */
    if ((*n)++ == 0)
        tg__jt_add(jt, d->root, "tools", d->tools = tg__jt_arr(jt));
    to = tg__jt_obj(jt);
    fo = tg__jt_obj(jt);
    tg__jt_add(jt, d->tools, NULL, to);
    tg__jt_add(jt, to, "type", tg__jt_str(jt, "function"));
    tg__jt_add(jt, to, "function", fo);
    tg__jt_add(jt, fo, "name", tg__jt_str(jt, flat));
    if (ns != NULL && cJSON_IsString(tg__resp_get(ns, "description"))) {
        /* the namespace's description is text the model reads too */
        const char *nd = tg__resp_get(ns, "description")->valuestring;
        const char *both = cJSON_IsString(desc)
                               ? tg_arena_sprintf(d->a, "%s\n\n%s", nd, desc->valuestring) : nd;
        if (both == NULL)
            return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tools");
        tg__jt_add(jt, fo, "description", tg__jt_str(jt, both));
    } else {
        write_opt(d, fo, "description", desc);
    }
    if (!custom) {
        const cJSON *params = tg__resp_get(t, "parameters"), *strict = tg__resp_get(t, "strict");
        if (tg__resp_present(params) && !cJSON_IsObject(params))
            return tg_err_set(d->err, TG_EINVAL, "tools[%u].parameters must be an object", i);
        if (tg__resp_present(strict) && !cJSON_IsBool(strict))
            return tg_err_set(d->err, TG_EINVAL, "tools[%u].strict must be a boolean", i);
        write_opt(d, fo, "parameters", params);
        write_opt(d, fo, "strict", strict);
    } else {
        /* One string argument.  A grammar the model must follow goes
         * into its description: a chat model cannot be constrained by
         * it, but it reads it (and it is scanned like any text). */
        const cJSON *fmt = tg__resp_get(t, "format");
        const char *syntax = NULL, *def = NULL;
        if (tg__resp_present(fmt)) {
            const cJSON *ft = tg__resp_get(fmt, "type");
            if (!cJSON_IsObject(fmt) || !cJSON_IsString(ft))
                return tg_err_set(d->err, TG_EINVAL, "tools[%u].format must be an object "
                                  "with a type", i);
            if (tg__resp_streq(ft->valuestring, "grammar")) {
                syntax = tg__resp_str_or(tg__resp_get(fmt, "syntax"), "grammar");
                def = tg__resp_str_or(tg__resp_get(fmt, "definition"), NULL);
                if (def == NULL)
                    return tg_err_set(d->err, TG_EINVAL,
                                      "tools[%u].format.definition must be a string", i);
            } else if (!tg__resp_streq(ft->valuestring, "text")) {
                return tg_err_set(d->err, TG_EINVAL,
                                  "tools[%u].format.type must be text or grammar", i);
            }
        }
        cJSON *pa = tg__jt_obj(jt), *props = tg__jt_obj(jt), *in = tg__jt_obj(jt);
        cJSON *req = tg__jt_arr(jt);
        tg__jt_add(jt, fo, "parameters", pa);
        tg__jt_add(jt, pa, "type", tg__jt_str(jt, "object"));
        tg__jt_add(jt, pa, "properties", props);
        tg__jt_add(jt, props, "input", in);
        tg__jt_add(jt, in, "type", tg__jt_str(jt, "string"));
        if (def != NULL) {
            const char *g = tg_arena_sprintf(d->a, "The input must follow this %s grammar:\n%s",
                                             syntax, def);
            if (g == NULL)
                return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tools");
            tg__jt_add(jt, in, "description", tg__jt_str(jt, g));
        }
        tg__jt_add(jt, pa, "required", req);
        tg__jt_add(jt, req, NULL, tg__jt_str(jt, "input"));
        tg__jt_add(jt, pa, "additionalProperties", tg__jt_bool(jt, false));
    }
    return TG_OK;
}

static bool
is_tool_kind(const cJSON *t)
{
    const cJSON *type = tg__resp_get(t, "type");
    return cJSON_IsString(type) &&
           (tg__resp_streq(type->valuestring, "function") || tg__resp_streq(type->valuestring, "custom"));
}

/* tools -> `,"tools":[...]`; *ntools = how many were written. */
static int
dec_tools(struct dec *d, const cJSON *tools, const struct allowed *al, uint32_t *ntools)
{
    uint32_t i = 0, n = 0, total = 0;
    int rc;

    *ntools = 0;
    if (!tg__resp_present(tools))
        return TG_OK;
    if (!cJSON_IsArray(tools))
        return tg_err_set(d->err, TG_EINVAL, "tools must be an array");
    for (const cJSON *t = tools->child; t != NULL; t = t->next) {
        const cJSON *inner = tg__resp_get(t, "tools");
        total += 1 + (cJSON_IsArray(inner) ? (uint32_t)cJSON_GetArraySize(inner) : 0);
        if (total > TG_MAX_RESP_TOOLS)
            return tg_err_set(d->err, TG_ELIMIT, "more than %u tools", TG_MAX_RESP_TOOLS);
    }
    d->names = tg_arena_calloc(d->a, total + 1, sizeof(*d->names));
    d->pv->custom = tg_arena_calloc(d->a, total + 1, sizeof(*d->pv->custom));
    d->pv->nsfn = tg_arena_calloc(d->a, total + 1, sizeof(*d->pv->nsfn));
    if (d->names == NULL || d->pv->custom == NULL || d->pv->nsfn == NULL)
        return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tools");
    for (const cJSON *t = tools->child; t != NULL; t = t->next, i++) {
        const cJSON *type;
        if (!cJSON_IsObject(t))
            return tg_err_set(d->err, TG_EINVAL, "tools[%u] must be an object", i);
        if ((rc = check_dups(t, "a tool", d->err)) != TG_OK)
            return rc;
        type = tg__resp_get(t, "type");
        if (!cJSON_IsString(type))
            return tg_err_set(d->err, TG_EINVAL, "tools[%u].type must be a string", i);
        if (is_tool_kind(t)) {
            rc = dec_one_tool(d, t, i, NULL, al, &n);
        } else if (tg__resp_streq(type->valuestring, "namespace")) {
            const cJSON *nsn = tg__resp_get(t, "name"), *inner = tg__resp_get(t, "tools");
            if (!cJSON_IsString(nsn) || nsn->valuestring[0] == '\0' || !cJSON_IsArray(inner))
                return tg_err_set(d->err, TG_EINVAL,
                                  "tools[%u]: a namespace needs a name and tools", i);
            if (tg__resp_present(tg__resp_get(t, "description")) && !cJSON_IsString(tg__resp_get(t, "description")))
                return tg_err_set(d->err, TG_EINVAL, "tools[%u].description must be a string", i);
            rc = TG_OK;
            for (const cJSON *f = inner->child; f != NULL && rc == TG_OK; f = f->next) {
                if (!cJSON_IsObject(f) || !is_tool_kind(f))
                    return tg_err_set(d->err, TG_EINVAL, "tools[%u]: a namespace holds function "
                                      "and custom tools only", i);
                if ((rc = check_dups(f, "a tool", d->err)) != TG_OK)
                    return rc;
                rc = dec_one_tool(d, f, i, t, al, &n);
            }
        } else if (is_hosted(type->valuestring)) {
            continue;        /* run by OpenAI: a chat model cannot use it */
        } else {
            return tg_err_set(d->err, TG_EINVAL, "tools[%u]: tool type '%s' is not supported",
                              i, safe_name(type->valuestring));
        }
        if (rc != TG_OK)
            return rc;
    }
    *ntools = n;
    return TG_OK;
}

/* tool_choice: read before the tools (allowed_tools filters them). */
static int
dec_tool_choice(struct dec *d, const cJSON *tc, struct allowed *al, const char **mode,
                const char **forced)
{
    const cJSON *type;

    *mode = NULL;
    *forced = NULL;
    al->names = NULL;
    al->n = 0;
    if (!tg__resp_present(tc))
        return TG_OK;
    if (cJSON_IsString(tc)) {
        if (!tg__resp_streq(tc->valuestring, "none") && !tg__resp_streq(tc->valuestring, "auto") &&
            !tg__resp_streq(tc->valuestring, "required"))
            return tg_err_set(d->err, TG_EINVAL, "tool_choice must be none, auto, required "
                              "or an object");
        *mode = tc->valuestring;
        return TG_OK;
    }
    type = tg__resp_get(tc, "type");
    if (!cJSON_IsObject(tc) || !cJSON_IsString(type))
        return tg_err_set(d->err, TG_EINVAL, "tool_choice must be a string or an object with "
                          "a type");
    if (tg__resp_streq(type->valuestring, "function") || tg__resp_streq(type->valuestring, "custom")) {
        const cJSON *name = tg__resp_get(tc, "name"), *ns = tg__resp_get(tc, "namespace");
        if (!cJSON_IsString(name))
            return tg_err_set(d->err, TG_EINVAL, "tool_choice.name must be a string");
        *forced = name->valuestring;
        if (cJSON_IsString(ns) &&   /* the name a namespaced function is sent under */
            (*forced = tg_arena_sprintf(d->a, "%s__%s", ns->valuestring, name->valuestring)) == NULL)
            return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tool_choice");
        return TG_OK;
    }
    if (tg__resp_streq(type->valuestring, "allowed_tools")) {
        const cJSON *m = tg__resp_get(tc, "mode"), *tools = tg__resp_get(tc, "tools");
        uint32_t n = 0;
        if (!cJSON_IsString(m) || (!tg__resp_streq(m->valuestring, "auto") &&
                                   !tg__resp_streq(m->valuestring, "required")))
            return tg_err_set(d->err, TG_EINVAL, "tool_choice.mode must be auto or required");
        if (!cJSON_IsArray(tools))
            return tg_err_set(d->err, TG_EINVAL, "tool_choice.tools must be an array");
        for (const cJSON *t = tools->child; t != NULL; t = t->next)
            if (++n > TG_MAX_RESP_TOOLS)
                return tg_err_set(d->err, TG_ELIMIT, "more than %u allowed tools",
                                  TG_MAX_RESP_TOOLS);
        al->names = tg_arena_calloc(d->a, n + 1, sizeof(*al->names));
        if (al->names == NULL)
            return tg_err_set(d->err, TG_ENOMEM, "out of memory decoding tool_choice");
        /* The chat form of the same constraint: only the allowed tools are
         * sent.  Hosted tools among them are dropped with the tools. */
        for (const cJSON *t = tools->child; t != NULL; t = t->next) {
            const char *nm = tg__resp_str_or(tg__resp_get(t, "name"), NULL);
            if (nm != NULL)
                al->names[al->n++] = nm;
        }
        *mode = m->valuestring;
        return TG_OK;
    }
    return tg_err_set(d->err, TG_EINVAL, "tool_choice forces the tool type '%s', which a chat "
                      "model cannot run", safe_name(type->valuestring));
}

/* text.format -> response_format. */
static int
dec_text_format(struct dec *d, const cJSON *text)
{
    const cJSON *fmt, *ft;

    if (!tg__resp_present(text))
        return TG_OK;
    if (!cJSON_IsObject(text))
        return tg_err_set(d->err, TG_EINVAL, "text must be an object");
    fmt = tg__resp_get(text, "format");
    if (!tg__resp_present(fmt))
        return TG_OK;
    ft = tg__resp_get(fmt, "type");
    if (!cJSON_IsObject(fmt) || !cJSON_IsString(ft))
        return tg_err_set(d->err, TG_EINVAL, "text.format must be an object with a type");
    if (tg__resp_streq(ft->valuestring, "text"))
        return TG_OK;
    if (tg__resp_streq(ft->valuestring, "json_object")) {
        cJSON *rf = tg__jt_obj(&d->t);
        tg__jt_add(&d->t, d->root, "response_format", rf);
        tg__jt_add(&d->t, rf, "type", tg__jt_str(&d->t, "json_object"));
        return TG_OK;
    }
    if (tg__resp_streq(ft->valuestring, "json_schema")) {
        const cJSON *schema = tg__resp_get(fmt, "schema"), *name = tg__resp_get(fmt, "name");
        if (!cJSON_IsObject(schema))
            return tg_err_set(d->err, TG_EINVAL, "text.format.schema must be an object");
        if (tg__resp_present(name) && !cJSON_IsString(name))
            return tg_err_set(d->err, TG_EINVAL, "text.format.name must be a string");
        cJSON *rf = tg__jt_obj(&d->t), *js = tg__jt_obj(&d->t);
        tg__jt_add(&d->t, d->root, "response_format", rf);
        tg__jt_add(&d->t, rf, "type", tg__jt_str(&d->t, "json_schema"));
        tg__jt_add(&d->t, rf, "json_schema", js);
        tg__jt_add(&d->t, js, "name", tg__jt_str(&d->t, tg__resp_str_or(name, "response")));
        write_opt(d, js, "description", tg__resp_get(fmt, "description"));
        write_opt(d, js, "schema", schema);
        write_opt(d, js, "strict", tg__resp_get(fmt, "strict"));
        return TG_OK;
    }
    return tg_err_set(d->err, TG_EINVAL, "text.format.type '%s' is not supported",
                      safe_name(ft->valuestring));
}

static int
want_number(const cJSON *v, const char *key, struct tg_err *err)
{
    if (tg__resp_present(v) && !cJSON_IsNumber(v))
        return tg_err_set(err, TG_EINVAL, "%s must be a number", key);
    return TG_OK;
}

/* Fields refused because tollgate cannot honour them. */
static int
refuse_state(const struct tg__resp_top *top, struct tg_err *err)
{
    if (tg__resp_present(top->previous_response_id))
        return tg_err_set(err, TG_EINVAL, "previous_response_id is not supported: tollgate "
                          "keeps no server-side state; send the whole conversation in input");
    if (tg__resp_present(top->conversation))
        return tg_err_set(err, TG_EINVAL, "conversation is not supported: tollgate keeps no "
                          "server-side state; send the whole conversation in input");
    if (tg__resp_present(top->prompt))
        return tg_err_set(err, TG_EINVAL, "prompt (a template stored by OpenAI) is not "
                          "supported: tollgate cannot read it; send instructions and input");
    return TG_OK;
}

int
tg__resp_decode_tree(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
                     char **canon, size_t *canon_len, cJSON **tree, struct tg_err *err)
{
    struct dec d;
    struct tg__jw out;
    struct allowed al;
    const struct tg__resp_top *top;
    cJSON *root = NULL, *m;
    const cJSON *v, *model, *input, *stream, *instr;
    const char *end = NULL, *mode = NULL, *forced = NULL;
    uint32_t ntools = 0;
    char *text;
    int rc;

    memset(&d, 0, sizeof(d));
    tg__jw_init(&out, TG_MAX_RESP_CANON_BYTES);
    tg__jw_init(&d.tmp, TG_MAX_RESP_CANON_BYTES);
    d.a = a;
    d.t.a = a;
    d.err = err;

    rc = tg_json_parse(body, len, TG_MAX_JSON_DEPTH, a, &root, &end);
    if (rc == TG_ELIMIT) {
        rc = tg_err_set(err, TG_ELIMIT, "request body nests deeper than %u levels",
                        TG_MAX_JSON_DEPTH);
        goto out;
    }
    if (rc != TG_OK) {
        rc = tg_err_set(err, rc, rc == TG_ENOMEM ? "out of memory parsing the request"
                                                 : "request body is not valid JSON");
        goto out;
    }
    while (end < body + len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
        end++;
    if (end != body + len) {
        rc = tg_err_set(err, TG_EINVAL, "request body is not valid JSON");
        goto out;
    }
    if (!cJSON_IsObject(root)) {
        rc = tg_err_set(err, TG_EINVAL, "request body must be a JSON object");
        goto out;
    }
    if (tg_dialect_has_nul(body, len)) {
        rc = tg_err_set(err, TG_EINVAL, "request body contains a NUL character");
        goto out;
    }
    if ((rc = check_dups(root, "the request body", err)) != TG_OK)
        goto out;
    if ((d.pv = tg_arena_calloc(a, 1, sizeof(*d.pv))) == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory decoding the request");
        goto out;
    }
    tg__resp_top_read(root, &d.pv->top);
    top = &d.pv->top;
    if ((rc = refuse_state(top, err)) != TG_OK)
        goto out;

    model = top->model;
    input = top->input;
    stream = top->stream;
    instr = top->instructions;
    if (tg__resp_present(model) && !cJSON_IsString(model)) {
        rc = tg_err_set(err, TG_EINVAL, "model must be a string");
        goto out;
    }
    if (tg__resp_present(stream) && !cJSON_IsBool(stream)) {
        rc = tg_err_set(err, TG_EINVAL, "stream must be a boolean");
        goto out;
    }
    if (tg__resp_present(instr) && !cJSON_IsString(instr)) {
        rc = tg_err_set(err, TG_EINVAL, "instructions must be a string");
        goto out;
    }
    if (!tg__resp_present(input)) {
        rc = tg_err_set(err, TG_EINVAL, "input is required (a string or an array of items)");
        goto out;
    }
    if ((rc = want_number(top->temperature, "temperature", err)) != TG_OK ||
        (rc = want_number(top->top_p, "top_p", err)) != TG_OK ||
        (rc = want_number(top->max_output_tokens, "max_output_tokens", err)) != TG_OK)
        goto out;
    v = top->max_output_tokens;
    if (cJSON_IsNumber(v) && !(v->valuedouble >= 0 && v->valuedouble == floor(v->valuedouble) &&
                               v->valuedouble <= 2147483647.0)) {
        rc = tg_err_set(err, TG_EINVAL, "max_output_tokens must be a non-negative integer");
        goto out;
    }

    d.root = tg__jt_obj(&d.t);
    if (cJSON_IsString(model))
        tg__jt_add(&d.t, d.root, "model", tg__jt_sv(&d.t, model));
    tg__jt_add(&d.t, d.root, "messages", d.msgs = tg__jt_arr(&d.t));
    if (cJSON_IsString(instr) && instr->valuestring[0] != '\0')
        tg__jt_add(&d.t, msg_start(&d, "system"), "content", tg__jt_sv(&d.t, instr));
    if ((rc = dec_input(&d, input)) != TG_OK)
        goto out;
    if (d.nmsgs == 0) {
        rc = tg_err_set(err, TG_EINVAL, "input has no message a chat model can read");
        goto out;
    }

    if ((rc = dec_tool_choice(&d, top->tool_choice, &al, &mode, &forced)) != TG_OK ||
        (rc = dec_tools(&d, top->tools, &al, &ntools)) != TG_OK)
        goto out;
    if (ntools > 0) {
        /* chat APIs refuse tool_choice and parallel_tool_calls without tools */
        if (forced != NULL) {
            cJSON *tc = tg__jt_obj(&d.t), *fn = tg__jt_obj(&d.t);
            tg__jt_add(&d.t, d.root, "tool_choice", tc);
            tg__jt_add(&d.t, tc, "type", tg__jt_str(&d.t, "function"));
            tg__jt_add(&d.t, tc, "function", fn);
            tg__jt_add(&d.t, fn, "name", tg__jt_str(&d.t, forced));
        } else if (mode != NULL) {
            tg__jt_add(&d.t, d.root, "tool_choice", tg__jt_str(&d.t, mode));
        }
        v = top->parallel_tool_calls;
        if (tg__resp_present(v) && !cJSON_IsBool(v)) {
            rc = tg_err_set(err, TG_EINVAL, "parallel_tool_calls must be a boolean");
            goto out;
        }
        write_opt(&d, d.root, "parallel_tool_calls", v);
    } else if (forced != NULL || tg__resp_streq(mode, "required")) {
        rc = tg_err_set(err, TG_EINVAL, "tool_choice requires a tool call, but no function or "
                        "custom tool is defined (hosted tools are dropped)");
        goto out;
    }

    write_opt(&d, d.root, "max_tokens", top->max_output_tokens);
    write_opt(&d, d.root, "temperature", top->temperature);
    write_opt(&d, d.root, "top_p", top->top_p);
    v = top->user;
    if (tg__resp_present(v) && !cJSON_IsString(v)) {
        rc = tg_err_set(err, TG_EINVAL, "user must be a string");
        goto out;
    }
    write_opt(&d, d.root, "user", v);
    if ((rc = dec_text_format(&d, top->text)) != TG_OK)
        goto out;
    v = top->metadata;
    if (tg__resp_present(v) && !cJSON_IsObject(v)) {
        rc = tg_err_set(err, TG_EINVAL, "metadata must be an object");
        goto out;
    }
    write_opt(&d, d.root, "metadata", v);
    if (cJSON_IsTrue(stream)) {
        tg__jt_add(&d.t, d.root, "stream", tg__jt_bool(&d.t, true));
        tg__jt_add(&d.t, d.root, "stream_options", m = tg__jt_obj(&d.t));
        tg__jt_add(&d.t, m, "include_usage", tg__jt_bool(&d.t, true));
    }
    /* Everything else (store, include, reasoning, prompt_cache_key, truncation,
     * service_tier, safety_identifier, background, stream_options, ...) only
     * tunes OpenAI's service: dropped, and its text never leaves tollgate. */

    if (d.t.oom) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory decoding the request");
        goto out;
    }
    /* the canonical text is about the client's size: one allocation */
    tg__jw_room(&out, len + len / 8 + 1024);
    tg__jw_value(&out, d.root);
    if (out.rc) {
        rc = tg_err_set(err, out.rc, out.rc == TG_ELIMIT ? "decoded request too large"
                                                           : "out of memory decoding the request");
        goto out;
    }
    d.pv->root = root;
    if ((text = tg_arena_alloc(a, out.len + 1)) == NULL) {
        rc = tg_err_set(err, TG_ENOMEM, "out of memory decoding the request");
        goto out;
    }
    memcpy(text, out.buf, out.len + 1);
    ctx->client_model = cJSON_IsString(model) ? model->valuestring : NULL;
    ctx->stream = cJSON_IsTrue(stream);
    ctx->priv = d.pv;
    *canon = text;
    *canon_len = out.len;
    if (tree != NULL)
        *tree = d.root;
    rc = TG_OK;
out:
    tg__jw_free(&out);
    tg__jw_free(&d.tmp);
    return rc;
}

int
tg__resp_decode(const char *body, size_t len, struct tg_arena *a, struct tg_dialect_ctx *ctx,
                char **canon, size_t *canon_len, struct tg_err *err)
{
    return tg__resp_decode_tree(body, len, a, ctx, canon, canon_len, NULL, err);
}