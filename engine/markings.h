/*
 * markings.h — export-control markings found in content ("ITAR",
 * "EAR99", "ECCN 5A002", "EXPORT CONTROLLED"), from rules/export/markings.yaml.
 * Each marking maps a case-insensitive PCRE2 pattern to an export tag.
 */
#ifndef TG_MARKINGS_H
#define TG_MARKINGS_H

#include "engine/tg.h"
#include "engine/arena.h"

struct tg_marking_spec {
    const char *id;
    const char *tag;        /* export tag it implies, e.g. "itar" */
    const char *pattern;    /* PCRE2, matched caseless */
    const char *file;
    uint32_t    line, col;
};

struct tg_markings;

int  tg_markings_build(const struct tg_marking_spec *specs, size_t n,
                       struct tg_markings **out, struct tg_err *err);
void tg_markings_free(struct tg_markings *m);

/*
 * Add to tags[] (deduplicated, at most max) the tags whose markings occur
 * in text. Returns the new count. Tag strings point into the markings db.
 * A marking that cannot be evaluated (out of memory, a PCRE2 limit) counts
 * as present: fail closed.
 */
uint32_t tg_markings_scan(const struct tg_markings *m, const char *text, size_t len,
                          const char **tags, uint32_t ntags, uint32_t max);

#endif /* TG_MARKINGS_H */
