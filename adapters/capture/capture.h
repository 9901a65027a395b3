/*
 * capture.h — captured traffic (docs/interface.md §7): the writer `serve` uses to
 * record requests, and the streaming reader `dry-run` replays.
 *
 * Writer: one JSON line per request in the tollgate capture form
 *   {"ts","id"?,"tenant","feature","category","export_tags":[],
 *    "request":{chat body},"decision","route":[...],"policy_version"}
 * appended with O_APPEND to a 0600 file.  Redacted by default: findings are
 * replaced by typed placeholders (<EMAIL_ADDRESS_1>) which the replay counts
 * as findings of that entity again (engine/placeholder.h), so decisions on
 * a redacted capture are the decisions serve made.
 *
 * Reader: both §7 forms mixed in one file, read line by line with a bounded
 * buffer (constant memory for any file size).  A line that is neither form
 * is reported with its line number, skipped and counted — never silently.
 */
#ifndef TG_CAPTURE_H
#define TG_CAPTURE_H

#include "engine/tg.h"
#include "engine/arena.h"
#include "engine/request.h"
#include "engine/preflight.h"
#include "policy/policy.h"

/* ---- writer ---------------------------------------------------------- */

struct tg_capture;

/*
 * Open the capture file cfg->path (created 0600, appended).  cfg->sample is
 * clamped to 0..1; sampling is deterministic (every 1/sample-th request, by
 * a running fraction) so a test can count the lines it expects.  The cfg
 * strings are copied.  On failure *out is untouched.
 */
int  tg_capture_open(const struct tg_capture_cfg *cfg, struct tg_capture **out,
                     struct tg_err *err);

/*
 * Record one request (thread-safe; one write(2) per line under a mutex, so
 * lines never interleave).  ts_us: wall clock in µs since the epoch.  d may
 * be NULL only when capture is not redacting (no findings to redact with).
 * Scratch memory comes from a (the request's arena).  Returns TG_OK also
 * when the request was not sampled, TG_EIO/TG_ENOMEM on failure (the caller
 * logs and carries on: capture never blocks traffic).  A request whose scan
 * was incomplete (findings.unscannable) is not written when redacting:
 * unredacted PII must never reach the file.
 */
int  tg_capture_record(struct tg_capture *c, int64_t ts_us, const struct tg_request *req,
                       const struct tg_decision *d, struct tg_arena *a);

/* Same, with the optional fields a caller may know (NULL / -1 when not). */
struct tg_capture_extra {
    const char *id;                /* decision id, becomes the record's "id" */
    int64_t     prompt_tokens;     /* provider usage; -1 unknown */
    int64_t     completion_tokens;
    const char *endpoint;          /* the door it came in by; NULL: not recorded */
    /* The client's body when it is not the canonical one (another door's
     * dialect): recorded as "body", redacted like "request".  NULL: none. */
    const char *client_body;
    size_t      client_len;
};
int  tg_capture_record_ex(struct tg_capture *c, int64_t ts_us, const struct tg_request *req,
                          const struct tg_decision *d, const struct tg_capture_extra *x,
                          struct tg_arena *a);

/* Counters since open: lines written, requests skipped (sampling / unscannable). */
void tg_capture_stats(struct tg_capture *c, uint64_t *written, uint64_t *skipped);

/* Flush and close; NULL is fine. */
void tg_capture_close(struct tg_capture *c);

/* ---- reader ---------------------------------------------------------- */

enum tg_capture_form {
    TG_CAPTURE_FORM_TOLLGATE = 0,   /* {"ts","tenant",...,"request":{}} */
    TG_CAPTURE_FORM_BATCH    = 1,   /* OpenAI Batch API input line */
};

/* One replayable request.  Strings are arena memory (or owned by req.body). */
struct tg_capture_item {
    uint64_t    line;           /* 1-based line number in the file */
    enum tg_capture_form form;
    const char *id;             /* capture "id", Batch custom_id, else "line N" */
    const char *tenant;         /* NULL when absent */
    const char *feature;
    const char *category;
    const char *endpoint;       /* the door ("/v1/messages"); NULL: chat completions */
    bool        has_ts;
    int64_t     ts_us;          /* µs since the epoch when has_ts */
    int64_t     prompt_tokens;  /* captured usage; -1 when absent */
    int64_t     completion_tokens;
    /* The chat request, already parsed by tg_request_from_tree() and with its
     * routing context (tenant, feature, category, export tags) filled in.
     * When the body is not a valid chat request, request_ok is false and
     * request_error says why (serve would deny it as request.malformed). */
    bool        request_ok;
    struct tg_request req;
    char        request_error[160];
};

/*
 * Parse one line (without its newline) into *it.  Returns TG_OK when the
 * line is one of the two forms (even if its chat body is invalid: see
 * request_ok), TG_EINVAL with a short reason in err for a malformed line,
 * TG_ENOMEM.  On TG_OK the caller must tg_request_dispose(&it->req).
 * Never prints; never keeps pointers into `line`.  The line is parsed once,
 * by the gateway's parser, into a: the item (and on failure what was built
 * of it) lives there until the caller resets a.
 */
int  tg_capture_parse_line(const char *line, size_t len, uint64_t lineno,
                           struct tg_arena *a, struct tg_capture_item *it, struct tg_err *err);

#define TG_CAPTURE_MALFORMED_KEEP 10u   /* line numbers remembered for the report */

struct tg_capture_reader;

/* Open path ("-" = stdin) for streaming.  On failure *out is untouched. */
int  tg_capture_reader_open(const char *path, struct tg_capture_reader **out, struct tg_err *err);

/*
 * Next replayable request: 1 with *it filled (caller disposes it->req),
 * 0 at end of file, negative on I/O error / a line over TG_MAX_LINE_BYTES
 * (that line is counted malformed and skipped, then reading goes on: the
 * error is only returned for real I/O failures).  Blank lines are skipped
 * silently; malformed lines are counted and skipped.  a is the item's
 * arena (the line's tree lives in it): the reader resets it after each
 * malformed line, so it must hold nothing else the caller still needs,
 * and memory stays bounded however many malformed lines come in a row.
 */
int  tg_capture_reader_next(struct tg_capture_reader *r, struct tg_arena *a,
                            struct tg_capture_item *it, struct tg_err *err);

struct tg_capture_reader_stats {
    uint64_t lines;             /* lines read, blank ones included */
    uint64_t bytes;             /* bytes consumed */
    uint64_t records;           /* replayable requests returned */
    uint64_t malformed;         /* skipped lines */
    uint64_t malformed_lines[TG_CAPTURE_MALFORMED_KEEP];  /* first few, 1-based */
    char     first_reason[128]; /* why the first malformed line was skipped */
    uint64_t file_size;         /* 0 when unknown (pipe) */
};
void tg_capture_reader_stats(const struct tg_capture_reader *r,
                             struct tg_capture_reader_stats *out);

void tg_capture_reader_close(struct tg_capture_reader *r);

/* RFC 3339 ("2026-11-23T10:00:00.123456Z", offsets allowed) -> µs since the epoch. */
int  tg_capture_parse_ts(const char *s, int64_t *out_us);

#endif /* TG_CAPTURE_H */
