/*
 * jtext.h — the one JSON text builder (bounded, growing, no tree).
 *
 * Decisions (engine/decision_text.c), audit entries (audit/entry.c) and the
 * gateway's own JSON are written straight to bytes with it.  Members are
 * written in order; `comma` says whether the next member or element needs
 * one (keys and elements write it, values set it, brackets clear it).  The
 * buffer grows to `max` (TG_JTEXT_MAX when 0) and no further: past it,
 * `fail` is set and the text must not be used — a render never truncates.
 */
#ifndef TG_JTEXT_H
#define TG_JTEXT_H

#include "engine/tg.h"

#include <string.h>

#define TG_JTEXT_NUM_MAX 40u                 /* tg_jtext_fmt_num output, with room to spare */
#define TG_JTEXT_MAX     (16u * 1024u * 1024u) /* default maximum: a decision of the largest
                                                  request with every finding fits far below */

struct tg_jtext {
    bool   fail;     /* out of memory, or past max: discard the text */
    bool   comma;
    char  *p;        /* malloc'd; tg_jtext_free() */
    size_t len, cap;
    size_t max;      /* 0: TG_JTEXT_MAX */
};

bool tg__jtext_grow(struct tg_jtext *b, size_t more);
void tg_jtext_free(struct tg_jtext *b);
/* Formatted text (not JSON-escaped: the caller escapes what needs it),
 * within the same maximum.  On failure `fail` is set. */
void tg_jtext_printf(struct tg_jtext *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Decimal integer, no NUL; returns its length (at most 20). */
size_t tg_jtext_fmt_i64(int64_t v, char *out);
/* A JSON number, no NUL: integers below 2^53 in decimal, other finite
 * values %1.15g or, when that does not read back exactly, %1.17g;
 * non-finite values "null".  Returns the length, 0 on failure. */
size_t tg_jtext_fmt_num(double d, char out[TG_JTEXT_NUM_MAX]);
/* s[0..n) as a quoted JSON string: '"' and '\\' backslashed, \b \f \n \r \t
 * short, other bytes below 0x20 as \u00xx, everything else (UTF-8 included)
 * as is.  dst needs room for 2 + 6n bytes; returns the bytes written. */
size_t tg_jtext_esc_str(char *dst, const char *s, size_t n);

static inline bool
tg_jtext_room(struct tg_jtext *b, size_t more)
{
    if (b->fail)
        return false;
    return b->cap - b->len >= more || tg__jtext_grow(b, more);
}

static inline void
tg_jtext_raw(struct tg_jtext *b, const char *s, size_t n)
{
    if (tg_jtext_room(b, n)) {
        memcpy(b->p + b->len, s, n);
        b->len += n;
    }
}

/* Member name, quoted with its colon: `"k":` (n bytes).  tg_jtext_key()
 * pastes the quotes and colon at compile time for a literal name. */
static inline void
tg_jtext_keyn(struct tg_jtext *b, const char *qk, size_t n)
{
    if (!tg_jtext_room(b, n + 1))
        return;
    if (b->comma)
        b->p[b->len++] = ',';
    memcpy(b->p + b->len, qk, n);
    b->len += n;
}
#define tg_jtext_key(b, k) tg_jtext_keyn((b), "\"" k "\":", sizeof("\"" k "\":") - 1)

/* Before an array element. */
static inline void
tg_jtext_elem(struct tg_jtext *b)
{
    if (b->comma)
        tg_jtext_raw(b, ",", 1);
}

static inline void
tg_jtext_open(struct tg_jtext *b, char c)
{
    tg_jtext_raw(b, &c, 1);
    b->comma = false;
}

static inline void
tg_jtext_close(struct tg_jtext *b, char c)
{
    tg_jtext_raw(b, &c, 1);
    b->comma = true;
}

/* An empty array. */
static inline void
tg_jtext_empty(struct tg_jtext *b)
{
    tg_jtext_raw(b, "[]", 2);
    b->comma = true;
}

static inline void
tg_jtext_null(struct tg_jtext *b)
{
    tg_jtext_raw(b, "null", 4);
    b->comma = true;
}

static inline void
tg_jtext_bool(struct tg_jtext *b, bool v)
{
    if (v)
        tg_jtext_raw(b, "true", 4);
    else
        tg_jtext_raw(b, "false", 5);
    b->comma = true;
}

/* A string, or null. */
static inline void
tg_jtext_str(struct tg_jtext *b, const char *s)
{
    size_t n;

    if (s == NULL) {
        tg_jtext_null(b);
        return;
    }
    n = strlen(s);
    if (tg_jtext_room(b, 2 + 6 * n))
        b->len += tg_jtext_esc_str(b->p + b->len, s, n);
    b->comma = true;
}

/* Any double, non-finite as null. */
static inline void
tg_jtext_num(struct tg_jtext *b, double v)
{
    size_t n;

    if (tg_jtext_room(b, TG_JTEXT_NUM_MAX)) {
        if ((n = tg_jtext_fmt_num(v, b->p + b->len)) == 0)
            b->fail = true;
        b->len += n;
    }
    b->comma = true;
}

static inline void
tg_jtext_int(struct tg_jtext *b, int64_t v)
{
    if (tg_jtext_room(b, 20))
        b->len += tg_jtext_fmt_i64(v, b->p + b->len);
    b->comma = true;
}

#endif /* TG_JTEXT_H */
