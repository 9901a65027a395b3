/*
 * jwriter.h — the dialects' bounded JSON text writer (jwriter.c).
 */
#ifndef TG_JWRITER_H
#define TG_JWRITER_H

#include "engine/arena.h"
#include "engine/tg.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Errors are sticky: after the first failure every call is a no-op and
 * the caller checks rc once at the end (curl's dynbuf does the same).
 * With an arena the text is built where it will live (the canonical body
 * is the request's), sized up front so that it rarely moves; without one
 * it is malloc'd (answers and stream events, handed to the caller). */
struct tg__jw {
    char  *buf;     /* NUL-terminated while len > 0 */
    size_t len, cap, max;
    struct tg_arena *a;  /* NULL: malloc/realloc */
    int    rc;      /* TG_OK, TG_ENOMEM or TG_ELIMIT */
};

void tg__jw_init(struct tg__jw *w, size_t max);
void tg__jw_free(struct tg__jw *w);
bool tg__jw_room(struct tg__jw *w, size_t n);
void tg__jw_reserve(struct tg__jw *w, size_t n);
void tg__jw_esc(struct tg__jw *w, const char *s, size_t n);
void tg__jw_strn(struct tg__jw *w, const char *s, size_t n);
void tg__jw_str(struct tg__jw *w, const char *s);   /* NULL: null */
void tg__jw_cstr(struct tg__jw *w, const char *s);  /* as it is */
void tg__jw_int(struct tg__jw *w, int64_t v);
void tg__jw_value(struct tg__jw *w, const cJSON *v);

/* Most writes are a few bytes into room already there: that path is a
 * compare and a copy, growth stays out of line in tg__jw_room. */
static inline void
tg__jw_raw(struct tg__jw *w, const char *s, size_t n)
{
    if (n == 0 || w->rc != TG_OK || (w->len + n + 1 > w->cap && !tg__jw_room(w, n)))
        return;
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

/* literals only: "" lit "" does not compile for a pointer, whose sizeof would lie */
#define TG__JW_LIT(w, lit) tg__jw_raw((w), "" lit "", sizeof(lit) - 1)

#endif /* TG_JWRITER_H */
