/*
 * pii.h — PII and secret detection (PCRE2 JIT + validators).
 *
 * Packs are data (rules/pii/<pack>.yaml); policy/ reads them into
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

    /* Additive: prefilter and precision knobs (zero = defaults).  The
     * scanner only runs a detector's PCRE2 pattern on candidate windows
     * whose cheap features admit it, which is what makes scanning fast. */
    uint32_t     triggers;        /* TG_PII_TRIG_* bits; 0 = TG_PII_TRIG_DIGITS */
    uint32_t     min_digits;      /* longest digit cluster in the window >= this */
    uint32_t     max_digits;      /* ... and <= this (0 = no bound) */
    const char **literals;        /* one must occur in the window (case-sensitive) */
    uint32_t     nliterals;
    const char **exclude;         /* whole words near the match that drop it */
    uint32_t     nexclude;
    uint32_t     group;           /* capture group giving the span (0 = whole match) */
    bool         digits_grouped;  /* the digits cluster must be written in groups
                                   * (separators between runs) or after a '+':
                                   * one plain run of digits does not admit it */
};

/* Candidate-window triggers (bits of tg_pii_detector_spec.triggers). */
#define TG_PII_TRIG_DIGITS   0x01u  /* a digit */
#define TG_PII_TRIG_AT       0x02u  /* '@' */
#define TG_PII_TRIG_HEXSEP   0x04u  /* ':' or '-' between hex digits, "::" (IPv6, MAC) */
#define TG_PII_TRIG_LONG     0x08u  /* a token of >= 16 bytes without whitespace */
#define TG_PII_TRIG_ASSIGN   0x10u  /* key-ish word followed by ':' or '=' (generic secrets) */
#define TG_PII_TRIG_PEM      0x20u  /* "-----BEGIN" */
#define TG_PII_TRIG_DOTS     0x40u  /* a token with digits and >= 3 dots (IPv4) */
#define TG_PII_TRIG_LONGWORD 0x80u  /* a token of >= 25 letters/digits only (crypto addresses) */
#define TG_PII_TRIG_CAPS     0x100u /* two capitals starting a token with digits (IBAN, NINO) */
#define TG_PII_TRIG_MIXED    0x200u /* a token with a capital letter and a digit (document numbers) */
#define TG_PII_TRIG_CAPSWORD 0x400u /* a token starting with a digit after 1-4 capitals ("HRB 12345") */
#define TG_PII_TRIG_URL      0x800u /* a token holding "://" */
#define TG_PII_TRIG_COIN     0x1000u /* a LONGWORD run starting 1, 3, bc1 or tb1 (Bitcoin) */
#define TG_PII_TRIG_ALL      0x1fffu

struct tg_pii_db;
struct tg_pii_scratch;

/* Compile specs into a database. On failure *out untouched, err names the detector. */
int  tg_pii_db_build(const struct tg_pii_detector_spec *specs, size_t n,
                     struct tg_pii_db **out, struct tg_err *err);
void tg_pii_db_free(struct tg_pii_db *db);
size_t tg_pii_db_count(const struct tg_pii_db *db);
/* Entity of detector i (0..count-1), NULL past the end: which entities a
 * policy can find (the loader checks allow-list entities against them). */
const char *tg_pii_db_entity(const struct tg_pii_db *db, size_t i);
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

/* Trigger name ("digits", "at", "hexsep", "long", "assign", "pem", "dots",
 * "longword", "caps", "mixed", "capsword", "url", "coin") -> bit, 0 if unknown. */
uint32_t tg_pii_trigger_bit(const char *name);

struct tg_request;   /* engine/request.h */

/*
 * Scan every text part of a parsed request (contents, names, tool
 * arguments), tagging findings with part = index into req->parts.
 * Same return contract as tg_pii_scan().
 */
int  tg_pii_scan_request(const struct tg_pii_db *db, struct tg_pii_scratch *s,
                         const struct tg_request *req, double min_score,
                         struct tg_arena *a, struct tg_findings *out, struct tg_err *err);

/* Byte offset -> Unicode code point offset in text (invalid UTF-8 bytes
 * count one each), for Presidio-style reports. */
uint32_t tg_pii_codepoint_offset(const char *text, size_t len, size_t byte_off);

/* Mask a matched value for display: keep the first character of each
 * run of letters/digits and structure characters (@ . - space), star the
 * rest ("j***@e******.com").  Writes at most cap-1 bytes + NUL. */
void tg_pii_mask(const char *v, size_t len, char *out, size_t cap);

#endif /* TG_PII_H */
