/*
 * pii.h — PII and secret detection (PCRE2 JIT + validators).
 *
 * Packs are data (rules/pii/*.yaml); policy/ reads them into
 * struct tg_pii_detector_spec and tg_pii_db_build() compiles them once into
 * an immutable database shared read-only by every thread.  Each thread (or
 * CLI run) owns a struct tg_pii_scratch holding PCRE2 match data, as
 * Hyperscan pairs a shared database with per-thread scratch.
 *
 * A scan that hits a PCRE2 limit or TG_MAX_FINDINGS sets
 * findings->unscannable: the policy treats that as PII present (fail closed).
 */
#ifndef TG_PII_H
#define TG_PII_H

#include "engine/tg.h"
#include "engine/arena.h"

enum tg_pii_class {
    TG_PII_CLASS_PII    = 0,
    TG_PII_CLASS_SECRET = 1,
};

/* One detector as read from a pack file. Strings are borrowed during build. */
struct tg_pii_detector_spec {
    const char  *id;              /* unique, e.g. "credit_card" */
    const char  *entity;          /* Presidio name, e.g. "CREDIT_CARD" */
    enum tg_pii_class cls;
    const char  *pattern;         /* PCRE2 (UTF mode off: byte-wise on normalised text) */
    const char  *validator;       /* NULL or a name tg_pii_validator_exists() knows */
    const char **context;         /* whole words that raise the score nearby */
    uint32_t     ncontext;
    double       score;           /* base score of a pattern match, 0..1 */
    bool         context_required;/* only a finding when a context word is near */
    const char  *file;            /* for error messages */
    uint32_t     line, col;
};

struct tg_pii_db;
struct tg_pii_scratch;

/* Compile specs into a database. On failure *out untouched, err names the detector. */
int  tg_pii_db_build(const struct tg_pii_detector_spec *specs, size_t n,
                     struct tg_pii_db **out, struct tg_err *err);
void tg_pii_db_free(struct tg_pii_db *db);
size_t tg_pii_db_count(const struct tg_pii_db *db);
bool tg_pii_validator_exists(const char *name);

/* Per-thread scratch for a db (or any db built from the same packs). */
int  tg_pii_scratch_new(const struct tg_pii_db *db, struct tg_pii_scratch **out);
void tg_pii_scratch_free(struct tg_pii_scratch *s);

struct tg_finding {
    uint32_t    part;       /* which text part of the request (0 for plain text) */
    uint32_t    start, end; /* byte offsets into the part's ORIGINAL text, end exclusive */
    const char *entity;     /* points into the db */
    const char *detector;   /* detector id, points into the db */
    enum tg_pii_class cls;
    float       score;
};

struct tg_findings {
    struct tg_finding *v;   /* arena memory */
    uint32_t n, cap;
    bool     unscannable;   /* a limit was hit: treat as sensitive */
};

/*
 * Scan text (any bytes; invalid UTF-8 scanned byte-wise) and append the
 * findings with score >= min_score to out, tagged with `part`.  Overlapping
 * findings are resolved (highest score, then longest).  Returns TG_OK, or
 * TG_ENOMEM; limits set out->unscannable and still return TG_OK.
 */
int  tg_pii_scan(const struct tg_pii_db *db, struct tg_pii_scratch *s,
                 const char *text, size_t len, uint32_t part, double min_score,
                 struct tg_arena *a, struct tg_findings *out, struct tg_err *err);

#endif /* TG_PII_H */
