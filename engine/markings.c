/*
 * markings.c — export-control markings in content (rules/export/markings.yaml).
 *
 * One compiled PCRE2 code per spec (caseless, JIT when available) rather
 * than one alternation: a match must tell us which tag it implies, and
 * per-spec codes let the scan skip every spec whose tag is already known.
 * The db is immutable after build and shared read-only by every thread;
 * match data is allocated per scan (markings are few, scans are one per
 * request).
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "engine/markings.h"
#include "engine/limits.h"

#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

struct marking {
    char       *tag;
    pcre2_code *code;
};

struct tg_markings {
    struct marking       *v;
    size_t                n;
    pcre2_match_context  *mctx;   /* match/depth limits; read-only once built */
};

void
tg_markings_free(struct tg_markings *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i].tag);
        pcre2_code_free(m->v[i].code);
    }
    free(m->v);
    pcre2_match_context_free(m->mctx);
    free(m);
}

int
tg_markings_build(const struct tg_marking_spec *specs, size_t n,
                  struct tg_markings **out, struct tg_err *err)
{
    int rc = TG_ENOMEM;
    struct tg_markings *m = calloc(1, sizeof(*m));
    if (m == NULL)
        goto nomem;
    m->v = calloc(n ? n : 1, sizeof(*m->v));
    m->mctx = pcre2_match_context_create(NULL);
    if (m->v == NULL || m->mctx == NULL)
        goto nomem;
    pcre2_set_match_limit(m->mctx, TG_PCRE2_MATCH_LIMIT);
    pcre2_set_depth_limit(m->mctx, TG_PCRE2_DEPTH_LIMIT);
    pcre2_set_heap_limit(m->mctx, TG_PCRE2_HEAP_LIMIT_KIB);

    for (size_t i = 0; i < n; i++) {
        const struct tg_marking_spec *s = &specs[i];
        if (s->tag == NULL || s->pattern == NULL || s->tag[0] == '\0') {
            rc = tg_err_set(err, TG_EINVAL, "%s:%u:%u: marking %s needs a tag and a pattern",
                            s->file ? s->file : "?", s->line, s->col, s->id ? s->id : "?");
            goto out;
        }
        int ecode = 0;
        PCRE2_SIZE eoff = 0;
        pcre2_code *code = pcre2_compile((PCRE2_SPTR)s->pattern, PCRE2_ZERO_TERMINATED,
                                         PCRE2_CASELESS, &ecode, &eoff, NULL);
        if (code == NULL) {
            PCRE2_UCHAR buf[160];
            pcre2_get_error_message(ecode, buf, sizeof(buf));
            rc = tg_err_set(err, TG_EINVAL, "%s:%u:%u: marking %s: pattern error at offset %zu: %s",
                            s->file ? s->file : "?", s->line, s->col, s->id ? s->id : "?",
                            (size_t)eoff, (const char *)buf);
            goto out;
        }
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);  /* interpreter if JIT is absent */
        m->v[m->n].code = code;
        m->v[m->n].tag = strdup(s->tag);
        m->n++;
        if (m->v[m->n - 1].tag == NULL)
            goto nomem;
        for (char *c = m->v[m->n - 1].tag; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
    }
    *out = m;
    m = NULL;
    rc = TG_OK;
    goto out;
nomem:
    rc = tg_err_set(err, TG_ENOMEM, "out of memory building export markings");
out:
    tg_markings_free(m);
    return rc;
}

uint32_t
tg_markings_scan(const struct tg_markings *m, const char *text, size_t len,
                 const char **tags, uint32_t ntags, uint32_t max)
{
    if (m == NULL || m->n == 0 || text == NULL)
        return ntags;
    /* Fail closed: a marking that cannot be looked for (no memory for the
     * match, a PCRE2 match/depth/heap limit) counts as found, so a text
     * that defeats the matcher is treated as marked, never as clean. */
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    for (size_t i = 0; i < m->n && ntags < max; i++) {
        bool have = false;
        for (uint32_t k = 0; k < ntags && !have; k++)
            have = strcmp(tags[k], m->v[i].tag) == 0;
        if (have)
            continue;
        int r = md != NULL ? pcre2_match(m->v[i].code, (PCRE2_SPTR)text, len, 0, 0, md, m->mctx)
                           : PCRE2_ERROR_NOMEMORY;
        if (r != PCRE2_ERROR_NOMATCH)
            tags[ntags++] = m->v[i].tag;
    }
    pcre2_match_data_free(md);
    return ntags;
}
