/*
 * sse.h — incremental Server-Sent Events parser (WHATWG "event stream"
 * interpretation), fed the upstream bytes as curl delivers them.
 *
 * Pure data work: no I/O.  Lines may end in CRLF, LF or CR, split anywhere
 * across feeds; `data:` lines of one event are joined with "\n"; comments
 * (":") and unknown fields are ignored; an event is dispatched on the blank
 * line that ends it.  The pending line and the pending data are bounded by
 * `max` bytes: past it the stream is an error (never silently truncated).
 */
#ifndef TG_SSE_H
#define TG_SSE_H

#include "engine/tg.h"

/* Called per dispatched event: event name ("message" when none was given),
 * data (NUL-terminated, len bytes).  Return 0 to continue, non-zero to stop
 * the feed (tg_sse_feed returns that value). */
typedef int (*tg_sse_event_fn)(void *ud, const char *event, const char *data, size_t len);

struct tg_sse {
    char    *line;          /* pending partial line (malloc) */
    size_t   line_len, line_cap;
    char    *data;          /* data of the event being built (malloc) */
    size_t   data_len, data_cap;
    bool     have_data;     /* at least one data: field seen */
    bool     last_cr;       /* previous feed ended in CR: skip a leading LF */
    char     event[64];     /* event: field (truncated names are fine: we only compare known ones) */
    size_t   max;           /* cap for line and data */
};

/* max = 0: 1 MiB. No allocation until the first byte. */
void tg_sse_init(struct tg_sse *p, size_t max);
void tg_sse_free(struct tg_sse *p);

/*
 * Feed bytes.  Returns 0, a non-zero value returned by fn (feeding stopped
 * there), TG_ELIMIT when a line or an event's data exceeds max, or
 * TG_ENOMEM.  After an error the parser must only be freed.
 */
int tg_sse_feed(struct tg_sse *p, const char *buf, size_t len, tg_sse_event_fn fn, void *ud);

#endif /* TG_SSE_H */
