/*
 * respguard.h — the output guard (engine/outguard.h) on the gateway's
 * canonical answers, before any dialect encodes them for the client: a
 * chat.completion object, or the SSE text of chat.completion.chunk events.
 * Every dialect (chat, responses, messages, completions) is encoded from
 * these, so guarding them guards every door once.
 *
 * Texts guarded: each choice's content (a string or text parts), refusal,
 * reasoning_content, and every tool call's (and the legacy function_call's)
 * arguments.  Embeddings are vectors and never come here.
 *
 * Streams: each text channel (a choice's content, refusal, reasoning, one
 * tool call's arguments) is held back and released through
 * tg_outguard_feed; a channel ends when its choice finishes, when the choice
 * moves on to another channel (content, then each tool call in turn: a
 * value never spans two of them) or at [DONE], and what it still held goes
 * out in an event of its own just before.  With `enforce` false (policy
 * mode: audit) the events go out untouched and the guard only counts.
 *
 * Pure data work: no I/O, no clocks.  Bounded by TG_OUTGUARD_MAX_HOLD per
 * channel and TG_OUTGUARD_MAX_CHANNELS.
 */
#ifndef TG_RESPGUARD_H
#define TG_RESPGUARD_H

#include "engine/outguard.h"
#include "adapters/providers/provider.h"

/*
 * Guard a whole canonical chat.completion.  *out NULL: send chat as it is
 * (nothing replaced, or g->verdict is deny: send nothing); else malloc'd
 * JSON with the values replaced.  TG_EINVAL for text that is not a JSON
 * object (the caller refuses it: an answer we cannot read is not relayed
 * when the guard is on), TG_ENOMEM.
 */
int  tg_rg_answer(struct tg_outguard *g, const char *chat, size_t len, char **out, size_t *outlen,
                  struct tg_err *err);

struct tg_rg_stream;

/* A stream filter feeding guarded canonical SSE events to emit. */
int  tg_rg_stream_new(struct tg_outguard *g, bool enforce, tg_prov_emit_fn emit, void *ud,
                      struct tg_rg_stream **out);
/*
 * Canonical SSE bytes in (split anywhere).  0, TG_EPOLICY once the guard
 * denied (nothing of the event that revealed it went out; the caller ends
 * the stream), TG_ELIMIT past a cap (also a deny), TG_EINVAL for an event
 * that is not JSON, TG_ENOMEM, or what emit returned.
 */
int  tg_rg_stream_feed(struct tg_rg_stream *s, const char *buf, size_t len);
void tg_rg_stream_free(struct tg_rg_stream *s);

/* The canonical error event that ends a blocked stream (OpenAI's in-stream
 * error object, code response_blocked, the rule id; each dialect turns it
 * into its own error event) into buf.  Its length, or -1 if cap is short. */
int  tg_rg_blocked_event(const char *rule, char *buf, size_t cap);

#endif /* TG_RESPGUARD_H */
