/*
 * pii_db.c — building the detector database from a pack's specs (patterns
 * compiled and JIT-ed once, the prefilter's masks, the context-word hash,
 * the literal index) and the per-thread scratch a scan needs.  The scan
 * itself is engine/pii.c.
 */
#include "engine/pii_db_int.h"
#include "engine/limits.h"

#include <stdlib.h>
#include <string.h>

uint32_t
tg_pii_trigger_bit(const char *name)
{
    static const struct { const char *n; uint32_t b; } t[] = {
        { "digits", TG_PII_TRIG_DIGITS }, { "at", TG_PII_TRIG_AT }, { "hexsep", TG_PII_TRIG_HEXSEP },
        { "long", TG_PII_TRIG_LONG }, { "assign", TG_PII_TRIG_ASSIGN }, { "pem", TG_PII_TRIG_PEM },
        { "dots", TG_PII_TRIG_DOTS }, { "longword", TG_PII_TRIG_LONGWORD }, { "caps", TG_PII_TRIG_CAPS },
        { "mixed", TG_PII_TRIG_MIXED }, { "capsword", TG_PII_TRIG_CAPSWORD }, { "url", TG_PII_TRIG_URL },
        { "coin", TG_PII_TRIG_COIN },
    };
    size_t i;
    for (i = 0; name != NULL && i < TG_ARRAY_LEN(t); i++)
        if (strcmp(t[i].n, name) == 0)
            return t[i].b;
    return 0;
}

/* ---- database -------------------------------------------------------------- */

static const char **
dup_list(struct tg_arena *a, const char **src, uint32_t n, bool lower)
{
    const char **v;
    uint32_t i;

    if (n == 0)
        return NULL;
    v = tg_arena_calloc(a, n, sizeof *v);
    if (v == NULL)
        return NULL;
    for (i = 0; i < n; i++) {
        char *s = tg_arena_strdup(a, src[i] != NULL ? src[i] : "");
        if (s == NULL)
            return NULL;
        if (lower)
            for (char *p = s; *p; p++)
                *p = (char)lc((unsigned char)*p);
        v[i] = s;
    }
    return v;
}

static inline void
wf_set_f(struct wfilter *wf, unsigned a, unsigned b, uint32_t bit)
{
    wf->w2f[(a | 0x20u) | (b | 0x20u) << 8] |= bit;
}

/* Add lower-case word w.  w2f is keyed by the text's raw bytes with bit 5
 * set: a letter of either case and its lower case fold alike, so the
 * first byte is w[0] | 0x20; a one-letter word is followed by any byte
 * that is not a word byte (or by nothing, read as NUL), each folded. */
static void
wf_add(struct wfilter *wf, const char *w, uint32_t bit)
{
    unsigned key = (unsigned)(unsigned char)w[0] << 8 | (unsigned char)w[1];
    if (w[1] != '\0')
        wf_set_f(wf, (unsigned char)w[0], (unsigned char)w[1], bit);
    else
        for (unsigned b = 0; b < 0x80; b++)
            if (!is_alnum((unsigned char)b))
                wf_set_f(wf, (unsigned char)w[0], b, bit);
    wf->lens |= 1u << strlen(w);
    key = w2l_key(key, strlen(w));
    wf->w2l[key >> 3] |= (uint8_t)(1u << (key & 7));
}

static bool
is_word(const char *w)
{
    size_t n = strlen(w), i;
    if (n == 0 || n >= WORD_MAX)
        return false;
    for (i = 0; i < n; i++)
        if (!is_wordc((unsigned char)w[i]))
            return false;
    return true;
}

/* Add lower-case word w to the hash for detector index bit. */
static bool
wh_add(struct tg_pii_db *db, const char *w, unsigned bit, bool excl)
{
    size_t n = strlen(w);
    uint32_t h = word_hash((const unsigned char *)w, n), k;
    for (k = 0; k < WH_SIZE; k++) {
        struct wh *e = &db->wh[(h + k) & (WH_SIZE - 1)];
        if (e->len == 0) {
            memcpy(e->w, w, n);
            e->len = (uint8_t)n;
        }
        if (e->len == n && memcmp(e->w, w, n) == 0) {
            if (excl)
                dm_set(&e->excl, bit);
            else
                dm_set(&e->ctx, bit);
            return true;
        }
    }
    return false;   /* table full */
}

static int
lit_cmp(const void *a, const void *b)
{
    const struct lit *x = a, *y = b;
    int c = (int)(unsigned char)x->s[0] - (int)(unsigned char)y->s[0];
    return c ? c : strcmp(x->s, y->s);
}

void
tg_pii_db_free(struct tg_pii_db *db)
{
    size_t i;
    if (db == NULL)
        return;
    for (i = 0; i < db->n; i++)
        pcre2_code_free(db->d[i].re);
    tg_arena_free(&db->arena);
    free(db);
}

size_t
tg_pii_db_count(const struct tg_pii_db *db)
{
    return db != NULL ? db->n : 0;
}

const char *
tg_pii_db_entity(const struct tg_pii_db *db, size_t i)
{
    return db != NULL && i < db->n ? db->d[i].entity : NULL;
}

/*
 * Compile every spec (PCRE2 + JIT) into a new db.  On failure *out is
 * untouched and err names the detector and where its pack defined it.
 */
int
tg_pii_db_build(const struct tg_pii_detector_spec *specs, size_t n,
                struct tg_pii_db **out, struct tg_err *err)
{
    struct tg_pii_db *db = calloc(1, sizeof *db);
    int rc = TG_ENOMEM;
    size_t i;
    uint32_t ngate = 0;   /* context-only detectors given a gbit so far */

    if (db == NULL)
        return tg_err_set(err, TG_ENOMEM, "out of memory building the PII database");
    tg_arena_init(&db->arena, 16384);
    if (n > MAX_DETECTORS) {
        rc = tg_err_set(err, TG_EPOLICY, "%zu PII detectors: at most %u", n, MAX_DETECTORS);
        goto fail;
    }
    db->d = n ? tg_arena_calloc(&db->arena, n, sizeof *db->d) : NULL;
    db->wh = tg_arena_calloc(&db->arena, WH_SIZE, sizeof *db->wh);
    if ((n && db->d == NULL) || db->wh == NULL)
        goto oom;
    for (i = 0; i < n; i++) {
        const struct tg_pii_detector_spec *s = &specs[i];
        struct det *d = &db->d[i];
        int ec;
        PCRE2_SIZE eo;
        uint32_t cap = 0, lo, hi, k;

        if (s->id == NULL || s->entity == NULL || s->pattern == NULL) {
            rc = tg_err_set(err, TG_EPOLICY, "%s:%u:%u: detector #%zu lacks id, entity or pattern",
                            s->file ? s->file : "(pack)", s->line, s->col, i + 1);
            goto fail;
        }
        if (s->validator != NULL && !tg_pii_validator_exists(s->validator)) {
            rc = tg_err_set(err, TG_EPOLICY, "%s:%u:%u: detector %s: unknown validator \"%s\"",
                            s->file ? s->file : "(pack)", s->line, s->col, s->id, s->validator);
            goto fail;
        }
        d->re = pcre2_compile((PCRE2_SPTR)s->pattern, PCRE2_ZERO_TERMINATED, 0, &ec, &eo, NULL);
        if (d->re == NULL) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            rc = tg_err_set(err, TG_EPOLICY, "%s:%u:%u: detector %s: bad pattern at offset %zu: %s",
                            s->file ? s->file : "(pack)", s->line, s->col, s->id, (size_t)eo,
                            (const char *)msg);
            db->n = i;   /* free the ones compiled so far */
            goto fail_nofree_cur;
        }
        db->n = i + 1;
        d->jit = pcre2_jit_compile(d->re, PCRE2_JIT_COMPLETE) == 0;
        pcre2_pattern_info(d->re, PCRE2_INFO_CAPTURECOUNT, &cap);
        if (pcre2_pattern_info(d->re, PCRE2_INFO_MINLENGTH, &d->minlen) != 0)
            d->minlen = 0;
        if (s->group > cap) {
            rc = tg_err_set(err, TG_EPOLICY, "%s:%u:%u: detector %s: group %u but the pattern has %u",
                            s->file ? s->file : "(pack)", s->line, s->col, s->id, s->group, cap);
            goto fail;
        }
        if (cap + 1 > db->max_groups)
            db->max_groups = cap + 1;
        d->id = tg_arena_strdup(&db->arena, s->id);
        d->entity = tg_arena_strdup(&db->arena, s->entity);
        if (d->id == NULL || d->entity == NULL)
            goto oom;
        d->cls = s->cls;
        d->validate = tg__pii_validator(s->validator);
        d->ctx = dup_list(&db->arena, s->context, s->ncontext, true);
        d->nctx = s->ncontext;
        d->lits = dup_list(&db->arena, s->literals, s->nliterals, false);
        d->nlits = s->nliterals;
        d->excl = dup_list(&db->arena, s->exclude, s->nexclude, true);
        d->nexcl = s->nexclude;
        if ((d->nctx && !d->ctx) || (d->nlits && !d->lits) || (d->nexcl && !d->excl))
            goto oom;
        for (k = 0; k < d->nctx + d->nexcl; k++) {
            bool ex = k >= d->nctx;
            const char *w = ex ? d->excl[k - d->nctx] : d->ctx[k];
            if (!is_word(w)) {
                rc = tg_err_set(err, TG_EPOLICY, "%s:%u:%u: detector %s: %s word \"%s\" must be letters and digits (ASCII or UTF-8, < %u bytes)",
                                s->file ? s->file : "(pack)", s->line, s->col, s->id,
                                ex ? "exclude" : "context", w, WORD_MAX);
                goto fail;
            }
            wf_add(&db->wall, w, 1);
            if (!ex && s->context_required) {
                if (db->gbit[i] == 0)
                    db->gbit[i] = 1u << (ngate++ & 31);
                wf_add(&db->wgate, w, db->gbit[i]);
            }
            if (!wh_add(db, w, (unsigned)i, ex)) {
                rc = tg_err_set(err, TG_EPOLICY, "too many PII context words");
                goto fail;
            }
        }
        for (k = 0; k < d->nlits; k++) {
            uint32_t l, ll = (uint32_t)strlen(d->lits[k]);
            if (ll == 0)
                continue;
            for (l = 0; l < db->nlits; l++)
                if (db->lits[l].len == ll && memcmp(db->lits[l].s, d->lits[k], ll) == 0)
                    break;
            if (l == db->nlits) {
                struct lit *nl;
                if (db->nlits >= UINT16_MAX) {
                    rc = tg_err_set(err, TG_EPOLICY, "too many PII literals");
                    goto fail;
                }
                if (db->nlits == db->litcap) {
                    /* doubling: the arena frees nothing, so growing by one
                     * would keep every old copy of a long list */
                    uint32_t nc = db->litcap ? db->litcap * 2 : 32;
                    nl = tg_arena_alloc(&db->arena, (size_t)nc * sizeof *nl);
                    if (nl == NULL)
                        goto oom;
                    if (db->nlits)
                        memcpy(nl, db->lits, db->nlits * sizeof *nl);
                    db->lits = nl;
                    db->litcap = nc;
                }
                db->lits[l] = (struct lit){ .s = d->lits[k], .len = ll };
                db->nlits++;
                if (ll == 1) {
                    db->lit1[(unsigned char)d->lits[k][0]] = 1;
                    db->nlit1++;
                } else {
                    unsigned key = (unsigned)(unsigned char)d->lits[k][0] << 8 | (unsigned char)d->lits[k][1];
                    db->lit2[key >> 3] |= (uint8_t)(1u << (key & 7));
                }
            }
            dm_set(&db->lits[l].mask, (unsigned)i);
        }
        if (d->nlits)
            dm_set(&db->lit_need, (unsigned)i);
        d->score = s->score < 0 ? 0 : s->score > 1 ? 1 : s->score;
        d->ctx_req = s->context_required;
        d->triggers = s->triggers ? s->triggers : TG_PII_TRIG_DIGITS;
        d->group = s->group;
        d->best = d->validate != NULL ? 1.0 : d->score + (d->nctx ? CTX_BOOST : 0);
        d->same = dm_bit((unsigned)i);
        for (k = 0; k < i; k++)
            if (specs[k].group == s->group && strcmp(specs[k].pattern, s->pattern) == 0) {
                /* join k's group; every member gets the grown set */
                unsigned j;
                dm_or(&d->same, &db->d[k].same);
                for (j = dm_first(&d->same); j < i; j = dm_next(&d->same, j))
                    db->d[j].same = d->same;
                break;
            }
        lo = s->min_digits > 63 ? 63 : s->min_digits;
        hi = s->max_digits == 0 || s->max_digits > 63 ? 63 : s->max_digits;
        d->digit_mask = 0;
        for (k = lo; k <= hi; k++)
            d->digit_mask |= (uint64_t)1 << k;
        if (d->ctx_req)
            dm_set(&db->ctx_req, (unsigned)i);
        for (k = 0; k < 16; k++)
            if ((d->triggers & ~TG_PII_TRIG_DIGITS) & (1u << k))
                dm_set(&db->trig_det[k], (unsigned)i);
        if (d->triggers & TG_PII_TRIG_DIGITS)
            dm_set(&db->dig_det, (unsigned)i);
        if ((d->triggers & TG_PII_TRIG_DIGITS) && s->digits_grouped)
            dm_set(&db->grp_det, (unsigned)i);
        for (k = 0; k < 64; k++)
            if (d->digit_mask & ((uint64_t)1 << k))
                dm_set(&db->clus_det[k], (unsigned)i);
    }
    if (db->nlits > 1)
        qsort(db->lits, db->nlits, sizeof *db->lits, lit_cmp);
    for (i = 0; i < db->nlits; i++) {
        unsigned char c0 = (unsigned char)db->lits[i].s[0];
        if (db->lit_hi[c0] == 0)
            db->lit_lo[c0] = (uint16_t)i;
        db->lit_hi[c0] = (uint16_t)(i + 1);
    }
    /* byte-pair index, at most half full */
    for (db->npix = 16; db->npix < 2 * (db->nlits + 1); db->npix *= 2)
        ;
    db->pix = tg_arena_calloc(&db->arena, db->npix, sizeof *db->pix);
    if (db->pix == NULL)
        goto oom;
    for (i = 0; i < db->nlits; i++) {
        const struct lit *l = &db->lits[i];
        uint32_t pair, h;
        if (l->len < 2)
            continue;
        pair = (uint32_t)(unsigned char)l->s[0] << 8 | (unsigned char)l->s[1];
        for (h = pix_slot(pair, db->npix); db->pix[h].key != 0 && db->pix[h].key != pair + 1;
             h = (h + 1) & (db->npix - 1))
            ;
        if (db->pix[h].key == 0)
            db->pix[h] = (struct pix){ pair + 1, (uint16_t)i, (uint16_t)(i + 1) };
        else
            db->pix[h].hi = (uint16_t)(i + 1);   /* sorted: this pair's literals are contiguous */
    }
    for (i = 0; i < db->nlits && !db->lit_hex; i++)
        db->lit_hex = db->lits[i].len > 0 &&
                      strspn(db->lits[i].s, "0123456789abcdef-") == db->lits[i].len;
    /* The detectors that can reach a threshold, for every threshold: the
     * distinct best scores, highest first, each with the detectors whose
     * best score is at least that (a scan picks its set in a few steps
     * instead of a pass over every detector per text) */
    if (n > 0) {
        db->live_at = tg_arena_calloc(&db->arena, n, sizeof *db->live_at);
        db->live_mask = tg_arena_calloc(&db->arena, n, sizeof *db->live_mask);
        if (db->live_at == NULL || db->live_mask == NULL)
            goto oom;
        for (i = 0; i < n; i++) {
            double b = db->d[i].best;
            uint32_t k, j;
            for (k = 0; k < db->nlive && db->live_at[k] > b; k++)
                ;
            if (k < db->nlive && db->live_at[k] == b)
                continue;
            for (j = db->nlive; j > k; j--)
                db->live_at[j] = db->live_at[j - 1];
            db->live_at[k] = b;
            db->nlive++;
        }
        for (uint32_t k = 0; k < db->nlive; k++)
            for (i = 0; i < n; i++)
                if (db->d[i].best >= db->live_at[k])
                    dm_set(&db->live_mask[k], (unsigned)i);
    }
    db->n = n;
    if (db->max_groups == 0)
        db->max_groups = 1;
    *out = db;
    return TG_OK;
oom:
    rc = tg_err_set(err, TG_ENOMEM, "out of memory building the PII database");
fail:
fail_nofree_cur:
    tg_pii_db_free(db);
    return rc;
}

/* ---- scratch ----------------------------------------------------------------- */

void
tg_pii_scratch_free(struct tg_pii_scratch *s)
{
    if (s == NULL)
        return;
    pcre2_match_data_free(s->md);
    pcre2_match_context_free(s->mctx);
    pcre2_jit_stack_free(s->jstack);
    free(s->nbuf);
    free(s->nseg);
    free(s->c);
    free(s);
}

int
tg_pii_scratch_new(const struct tg_pii_db *db, struct tg_pii_scratch **out)
{
    struct tg_pii_scratch *s = calloc(1, sizeof *s);

    if (s == NULL)
        return TG_ENOMEM;
    /* Room for more groups than this db needs, so sibling dbs can share it. */
    s->max_groups = (db != NULL && db->max_groups > 16) ? db->max_groups : 16;
    s->md = pcre2_match_data_create(s->max_groups, NULL);
    s->mctx = pcre2_match_context_create(NULL);
    s->jstack = pcre2_jit_stack_create(32 * 1024, 512 * 1024, NULL);
    if (s->md == NULL || s->mctx == NULL || s->jstack == NULL) {
        tg_pii_scratch_free(s);
        return TG_ENOMEM;
    }
    pcre2_set_match_limit(s->mctx, TG_PCRE2_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mctx, TG_PCRE2_DEPTH_LIMIT);
    pcre2_set_heap_limit(s->mctx, TG_PCRE2_HEAP_LIMIT_KIB);
    pcre2_jit_stack_assign(s->mctx, NULL, s->jstack);
    *out = s;
    return TG_OK;
}

