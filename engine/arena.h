/*
 * arena.h — bump allocator for per-request and per-policy memory.
 *
 * One arena per request (created by the inbound adapter, destroyed when the
 * response and the audit enqueue are done) and one per loaded policy.
 * Nothing allocated from an arena is freed piece by piece (nginx ngx_pool_t).
 * Allocation failure returns NULL; callers turn it into TG_ENOMEM.
 *
 * Fault injection: tg_arena_fail_after(n) makes the n-th following
 * allocation (process-wide, across arenas) fail, for tests that loop over
 * every allocation as curl's and SQLite's fault tests do.  It is a test hook:
 * the counter is the only mutable global in engine/ and is 0 (off) in
 * production.
 */
#ifndef TG_ARENA_H
#define TG_ARENA_H

#include "engine/tg.h"

struct tg_arena_chunk;

struct tg_arena {
    struct tg_arena_chunk *head;   /* current chunk, linked to older ones */
    size_t chunk_size;             /* default size of new chunks */
    size_t total;                  /* bytes handed out, for metrics/limits */
    size_t cap;                    /* 0 = unlimited; else allocations past it fail */
};

/* Initialise an arena whose chunks are chunk_size bytes (0: 16 KiB). No allocation yet. */
void  tg_arena_init(struct tg_arena *a, size_t chunk_size);
/* Free every chunk; the arena can be reused after tg_arena_init. */
void  tg_arena_free(struct tg_arena *a);
/* Free all but the first chunk and rewind it: cheap reuse between requests. */
void  tg_arena_reset(struct tg_arena *a);

/* n bytes aligned for any type, or NULL. */
void *tg_arena_alloc(struct tg_arena *a, size_t n);
/* Zeroed, overflow-checked n*size, or NULL. */
void *tg_arena_calloc(struct tg_arena *a, size_t n, size_t size);
char *tg_arena_strdup(struct tg_arena *a, const char *s);
char *tg_arena_strndup(struct tg_arena *a, const char *s, size_t n);
/* printf into the arena; NULL on failure. */
char *tg_arena_sprintf(struct tg_arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Test hook, see above. n = 0 disables. */
void  tg_arena_fail_after(long n);

#endif /* TG_ARENA_H */
