/*
 * placeholder.h — typed placeholders (<EMAIL_ADDRESS_1>) as PII findings.
 *
 * A redacted capture carries placeholders where serve found PII.  When such
 * a capture is replayed, the placeholder must still count as a finding of
 * its entity, or the replay would allow what serve redacted or denied.
 * tg_preflight_decide() calls tg_placeholder_scan() on every part after the
 * PII scan when the request sets placeholders_are_pii (dry-run does).
 */
#ifndef TG_PLACEHOLDER_H
#define TG_PLACEHOLDER_H

#include "engine/tg.h"
#include "engine/arena.h"
#include "engine/pii.h"

/*
 * Add a finding (score 1.0, detector "placeholder") for every token
 * <ENTITY_N> in text — ENTITY upper snake case starting with a letter, N a
 * positive decimal — tagged with `part`, inserted in start order among the
 * findings already present for that part; a placeholder overlapping an
 * existing finding is skipped (already counted).  Entities whose name says
 * key/token/secret/password are classed as secrets, the rest as PII.
 * Past TG_MAX_FINDINGS out->unscannable is set (fail closed).  Returns the
 * number of findings added, or TG_ENOMEM.
 */
int tg_placeholder_scan(const char *text, size_t len, uint32_t part,
                        struct tg_arena *a, struct tg_findings *out);

/* Is [s, s+len) exactly one placeholder token? Entity length in *entity_len. */
bool tg_placeholder_match(const char *s, size_t len, size_t *entity_len);

#endif /* TG_PLACEHOLDER_H */
