/* arena.c — bump allocator; see arena.h for the contract. */
#include "engine/arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tg_arena_chunk {
    struct tg_arena_chunk *next;
    size_t size;     /* usable bytes in data[] */
    size_t used;
    _Alignas(max_align_t) unsigned char data[];
};

#define TG_ARENA_ALIGN  _Alignof(max_align_t)
#define TG_ARENA_DEFAULT_CHUNK (16u * 1024u)

/* Fault injection countdown (see header). Only touched by tests. */
static long tg__arena_fail_countdown;

void
tg_arena_fail_after(long n)
{
    tg__arena_fail_countdown = n;
}

static int
arena_should_fail(void)
{
    if (tg__arena_fail_countdown > 0 && --tg__arena_fail_countdown == 0)
        return 1;
    return 0;
}

void
tg_arena_init(struct tg_arena *a, size_t chunk_size)
{
    a->head = NULL;
    a->chunk_size = chunk_size ? chunk_size : TG_ARENA_DEFAULT_CHUNK;
    a->total = 0;
    a->cap = 0;
}

void
tg_arena_free(struct tg_arena *a)
{
    struct tg_arena_chunk *c = a->head, *next;
    while (c != NULL) {
        next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->total = 0;
}

void
tg_arena_reset(struct tg_arena *a)
{
    struct tg_arena_chunk *c = a->head, *keep = NULL, *next;
    /* Keep the oldest chunk (the tail): it is the one sized chunk_size. */
    while (c != NULL) {
        next = c->next;
        if (next == NULL)
            keep = c;
        else
            free(c);
        c = next;
    }
    if (keep != NULL) {
        keep->used = 0;
        keep->next = NULL;
    }
    a->head = keep;
    a->total = 0;
}

void *
tg_arena_alloc(struct tg_arena *a, size_t n)
{
    struct tg_arena_chunk *c = a->head;
    size_t off;

    if (arena_should_fail())
        return NULL;
    if (n == 0)
        n = 1;
    if (a->cap != 0 && (n > a->cap || a->total > a->cap - n))
        return NULL;

    if (c != NULL) {
        off = (c->used + TG_ARENA_ALIGN - 1) & ~(TG_ARENA_ALIGN - 1);
        if (off <= c->size && c->size - off >= n) {
            c->used = off + n;
            a->total += n;
            return c->data + off;
        }
    }
    /* Large requests get a chunk of their own, so one big string does not
     * waste the rest of a normal chunk. */
    size_t sz = n > a->chunk_size / 2 ? n : a->chunk_size;
    if (sz > SIZE_MAX - sizeof(*c))
        return NULL;
    c = malloc(sizeof(*c) + sz);
    if (c == NULL)
        return NULL;
    c->size = sz;
    c->used = n;
    if (a->head != NULL && sz == n) {
        /* Dedicated chunk: link it behind the current one so the current
         * chunk's free space stays usable. */
        c->next = a->head->next;
        a->head->next = c;
    } else {
        c->next = a->head;
        a->head = c;
    }
    a->total += n;
    return c->data;
}

void *
tg_arena_calloc(struct tg_arena *a, size_t n, size_t size)
{
    void *p;
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    p = tg_arena_alloc(a, n * size);
    if (p != NULL)
        memset(p, 0, n * size);
    return p;
}

char *
tg_arena_strndup(struct tg_arena *a, const char *s, size_t n)
{
    char *p = tg_arena_alloc(a, n + 1);
    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
tg_arena_strdup(struct tg_arena *a, const char *s)
{
    return tg_arena_strndup(a, s, strlen(s));
}

char *
tg_arena_sprintf(struct tg_arena *a, const char *fmt, ...)
{
    va_list ap;
    int n;
    char *p;

    va_start(ap, fmt);
    n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    p = tg_arena_alloc(a, (size_t)n + 1);
    if (p == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
