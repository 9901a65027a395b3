/* placeholder.c — typed placeholders left by redaction, read back as findings. */
#include "engine/placeholder.h"
#include "engine/limits.h"

#include <string.h>

static bool
is_upper_or_digit(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool
tg_placeholder_match(const char *s, size_t len, size_t *entity_len)
{
    size_t us;   /* index of the last '_' */

    /* Shortest token: "<A_1>". */
    if (len < 5 || s[0] != '<' || s[len - 1] != '>')
        return false;
    if (!(s[1] >= 'A' && s[1] <= 'Z'))
        return false;
    us = 0;
    for (size_t i = 1; i < len - 1; i++) {
        if (s[i] == '_') {
            if (s[i - 1] == '_' || s[i - 1] == '<')
                return false;
            us = i;
        } else if (!is_upper_or_digit(s[i])) {
            return false;
        }
    }
    /* The counter after the last '_': digits only, no leading zero. */
    if (us == 0 || us + 1 >= len - 1 || s[us + 1] == '0')
        return false;
    for (size_t i = us + 1; i < len - 1; i++)
        if (!(s[i] >= '0' && s[i] <= '9'))
            return false;
    if (entity_len != NULL)
        *entity_len = us - 1;
    return true;
}

/* Secrets deny even where PII is allowed; the placeholder only keeps the
 * entity name, so classify by the words secret entity names use. */
static enum tg_pii_class
classify(const char *e, size_t n)
{
    static const char *const words[] = { "KEY", "TOKEN", "SECRET", "PASSWORD", "CREDENTIAL" };
    for (size_t w = 0; w < TG_ARRAY_LEN(words); w++) {
        size_t wl = strlen(words[w]);
        for (size_t i = 0; i + wl <= n; i++)
            if (memcmp(e + i, words[w], wl) == 0)
                return TG_PII_CLASS_SECRET;
    }
    return TG_PII_CLASS_PII;
}

static int
insert(struct tg_findings *out, struct tg_arena *a, const struct tg_finding *f)
{
    uint32_t pos;

    for (uint32_t i = 0; i < out->n; i++) {
        const struct tg_finding *g = &out->v[i];
        if (g->part == f->part && g->start < f->end && f->start < g->end)
            return 0;   /* overlaps a finding already counted */
    }
    if (out->n >= TG_MAX_FINDINGS) {
        out->unscannable = true;
        return 0;
    }
    if (out->n == out->cap) {
        uint32_t ncap = out->cap ? out->cap * 2 : 8;
        struct tg_finding *nv;
        if (ncap > TG_MAX_FINDINGS)
            ncap = TG_MAX_FINDINGS;
        nv = tg_arena_calloc(a, ncap, sizeof(*nv));
        if (nv == NULL)
            return TG_ENOMEM;
        if (out->n)
            memcpy(nv, out->v, out->n * sizeof(*nv));
        out->v = nv;
        out->cap = ncap;
    }
    /* Keep (part, start) order: after every finding of an earlier part or
     * of this part starting before f. */
    pos = out->n;
    while (pos > 0) {
        const struct tg_finding *g = &out->v[pos - 1];
        if (g->part < f->part || (g->part == f->part && g->start < f->start))
            break;
        pos--;
    }
    memmove(&out->v[pos + 1], &out->v[pos], (out->n - pos) * sizeof(*f));
    out->v[pos] = *f;
    out->n++;
    return 1;
}

int
tg_placeholder_scan(const char *text, size_t len, uint32_t part,
                    struct tg_arena *a, struct tg_findings *out)
{
    int added = 0;
    const char *p = text, *end = text + len;

    while (p < end) {
        const char *lt = memchr(p, '<', (size_t)(end - p));
        const char *gt;
        size_t elen;
        if (lt == NULL)
            break;
        /* A token is short; look for its '>' within a bounded window so a
         * text full of '<' stays linear. */
        gt = NULL;
        for (const char *q = lt + 1; q < end && q < lt + 128; q++) {
            if (*q == '>') {
                gt = q;
                break;
            }
            if (*q == '<')
                break;
        }
        if (gt == NULL) {
            p = lt + 1;
            continue;
        }
        if (tg_placeholder_match(lt, (size_t)(gt - lt + 1), &elen)) {
            struct tg_finding f = {
                .part = part,
                .start = (uint32_t)(lt - text),
                .end = (uint32_t)(gt - text + 1),
                .detector = "placeholder",
                .cls = classify(lt + 1, elen),
                .score = 1.0f,
            };
            int rc;
            f.entity = tg_arena_strndup(a, lt + 1, elen);
            if (f.entity == NULL)
                return TG_ENOMEM;
            rc = insert(out, a, &f);
            if (rc < 0)
                return rc;
            added += rc;
            if (out->unscannable)
                break;
        }
        p = gt + 1;
    }
    return added;
}
