/*
 * outguard.h — the output guard: what the provider answers, scanned with the
 * policy's PII packs before it reaches the client (policy.response.secrets,
 * policy.response.pii; docs/output-guard.md).
 *
 * The scanner is the request side's (engine/pii.h) with the same min_score
 * and the same allow lists (policy, the request's rule and tenant, role
 * mailboxes, special-purpose IPs), so the guard is never noisier than the
 * pre-flight: what the pre-flight would not count as personal data in a
 * request, the guard does not count in an answer.  A finding whose detector
 * class is secret is governed by `secrets`, every other by `pii`.
 *
 * One struct tg_outguard per answer: it carries the verdict so far, the
 * per-entity counts for the audit entry (never values) and the placeholder
 * numbering, so one value gets one placeholder across every text of the
 * answer and every window of a stream.  Placeholders are the request side's
 * <ENTITY_N> (engine/redact.c); when the request itself was redacted, the
 * numbers continue after the request's so that an answer's <EMAIL_ADDRESS_1>
 * never means a different value than the request's.
 *
 * Streams go through a struct tg_outguard_chan per text channel (a choice's
 * content, one tool call's arguments): it holds back the last
 * TG_OUTGUARD_WINDOW bytes (snapped back to whitespace so a token is not cut)
 * and anything a finding still reaches into, so a value split across chunks
 * is seen whole before any of it is released.  The released text keeps
 * TG_OUTGUARD_CONTEXT bytes as left context for the next scan (context
 * words, look-behinds).
 *
 * Pure: no I/O, no clocks, no globals.  Channel buffers are malloc'd and
 * bounded (TG_OUTGUARD_MAX_HOLD); counts and placeholders come from the
 * caller's arena; each scan's scratch from a private arena reset per scan.
 */
#ifndef TG_OUTGUARD_H
#define TG_OUTGUARD_H

#include "engine/tg.h"
#include "engine/allow.h"
#include "engine/arena.h"
#include "engine/model.h"
#include "engine/pii.h"
#include "engine/preflight.h"

struct tg_og_ph;   /* one placeholder: entity, value, number (outguard.c) */

struct tg_outguard {
    const struct tg_policy *p;
    struct tg_pii_scratch  *scratch;
    struct tg_allow_scope   scope;
    bool                    allow_off;   /* the request turned allow lists off */
    struct tg_arena        *a;           /* counts, placeholders: the request's arena */
    struct tg_arena         tmp;         /* one scan's findings; reset per scan */

    enum tg_resp_action     verdict;     /* pass, redact (something was replaced) or deny */
    const char             *rule;        /* "response.secrets" | "response.pii" |
                                            "response.unscannable" when verdict is deny */
    struct tg_pii_count    *counts;      /* per entity, first-seen order; guarded classes only */
    uint32_t                ncounts, capcounts;
    uint32_t                nfindings;   /* sum of counts */

    struct tg_og_ph        *ph;          /* placeholder table */
    uint32_t                nph, capph;
    const struct tg_pii_count *seed;     /* the request's counts: numbering starts after them */
    uint32_t                nseed;
};

/* Is the guard on at all (either class not `pass`)?  When false nothing is
 * scanned or held: the answer path costs nothing. */
bool tg_outguard_enabled(const struct tg_policy *p);

/*
 * Start guarding one answer.  d (may be NULL) gives the rule and tenant
 * whose allow lists apply and, when it redacted the request, the counts the
 * placeholder numbers continue from.  scratch is the caller's per-thread
 * PII scratch for p's database (NULL: every scan is "could not scan", fail
 * closed).  a must outlive g.  Never fails; release with tg_outguard_free.
 */
void tg_outguard_init(struct tg_outguard *g, const struct tg_policy *p, const struct tg_decision *d,
                      bool allow_lists_off, struct tg_pii_scratch *scratch, struct tg_arena *a);
void tg_outguard_free(struct tg_outguard *g);

/*
 * Guard one whole text of the answer (a message's content, a tool call's
 * arguments).  Findings of guarded classes are counted; a `deny` class
 * finding (or a scan that hit a limit while any class is guarded) makes
 * g->verdict deny, and then *out is NULL.  Otherwise *out is the text with
 * every `redact` class finding replaced by its placeholder (arena memory,
 * NUL-terminated), or text itself when nothing was replaced.  Returns TG_OK
 * or TG_ENOMEM (g->verdict is then deny: fail closed).
 */
int  tg_outguard_text(struct tg_outguard *g, const char *text, size_t len,
                      const char **out, size_t *outlen, struct tg_err *err);

/* One streamed text channel. */
struct tg_outguard_chan {
    char   *buf;       /* [0, ctx): released left context; [ctx, len): held back */
    size_t  len, cap, ctx;
    char   *obuf;      /* the last release (tg_outguard_feed's *out) */
    size_t  ocap;
    size_t  next_scan; /* a value is being held: scan again once len reaches this */
};

/*
 * Feed streamed text of one channel; final = the channel ends here (its
 * choice finished, or the stream did): everything still held is released.
 * *out and *outlen get the text that may go to the client now (possibly empty;
 * valid until the next call on c), with `redact` findings replaced.  When
 * g->verdict turns deny, nothing is released (*outlen 0) and the caller must
 * stop the stream.  More than TG_OUTGUARD_MAX_HOLD bytes held (one value
 * that long) is a deny with rule response.unscannable.  Returns TG_OK or
 * TG_ENOMEM (verdict deny).
 */
int  tg_outguard_feed(struct tg_outguard *g, struct tg_outguard_chan *c, const char *text, size_t len,
                      bool final, const char **out, size_t *outlen, struct tg_err *err);
void tg_outguard_chan_free(struct tg_outguard_chan *c);

/* "pass" | "redact" | "deny" */
const char *tg_outguard_action_name(enum tg_resp_action a);

#endif /* TG_OUTGUARD_H */
