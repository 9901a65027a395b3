/*
 * pii_pack.h — read a PII detector pack (rules/pii/NAME.yaml) into specs for
 * tg_pii_db_build().
 *
 *   detectors:
 *     - id: credit_card            # unique in the pack
 *       entity: CREDIT_CARD        # Presidio name where one exists
 *       class: pii                 # pii | secret
 *       pattern: '...'             # PCRE2, byte-wise on normalised text
 *       validator: credit_card     # optional, see engine/pii_valid.c
 *       context: [card, visa]      # whole words near the match raise the score
 *       score: 0.5                 # base score 0..1
 *       context_required: false
 *       triggers: [digits]         # prefilter: digits|at|hexsep|long|assign|pem|dots|longword|caps|mixed|capsword|url
 *       min_digits: 13             # a digit cluster in the window of this length..
 *       max_digits: 19             # ..up to this (digits trigger only)
 *       literals: [AKIA]           # one must occur in the window
 *       exclude: [version]         # whole words just before the match that drop it
 *       group: 1                   # capture group giving the span
 */
#ifndef TG_PII_PACK_H
#define TG_PII_PACK_H

#include "engine/pii.h"
#include "policy/policy.h"

/*
 * Load one pack.  Specs and their strings live in arena a.  Every bad
 * entry is reported through diag (may be NULL) with its FILE:LINE:COL;
 * returns TG_OK, TG_EIO (unreadable), TG_EPOLICY (invalid pack; err says
 * how many errors) or TG_ENOMEM.  On failure *out and *n are untouched.
 * Pattern syntax is checked by tg_pii_db_build().
 */
int tg_pii_pack_load(const char *path, struct tg_arena *a, struct tg_pii_detector_spec **out,
                     size_t *n, tg_diag_fn diag, void *ud, struct tg_err *err);

/* Same from a buffer; `name` is used in positions and must outlive the specs. */
int tg_pii_pack_load_buffer(const char *name, const char *buf, size_t len, struct tg_arena *a,
                            struct tg_pii_detector_spec **out, size_t *n, tg_diag_fn diag,
                            void *ud, struct tg_err *err);

#endif /* TG_PII_PACK_H */
