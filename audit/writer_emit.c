/*
 * writer_emit.c — framing audit entries into the writer's batch buffer:
 * the chain fields (seq, prev, key id), the entry's own hash and, when
 * asked, its signature; the compact JSON printer for entries built as
 * trees; and seals (a signed Merkle root over the entries since the last).
 * Writer thread only (or tg_audit_open before it starts).
 */
#include "audit/writer_int.h"
#include "engine/limits.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/hmac.h>


int64_t
tg__aw_mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

bool
tg__aw_buf_reserve(struct tg_audit_log *l, size_t more)
{
    if (l->cap - l->len >= more)
        return true;
    size_t ncap = l->cap ? l->cap : 65536;
    while (ncap - l->len < more)
        ncap *= 2;
    char *nb = realloc(l->buf, ncap);
    if (nb == NULL)
        return false;
    l->buf = nb;
    l->cap = ncap;
    return true;
}

void
tg__aw_buf_put(struct tg_audit_log *l, const char *s, size_t n)
{
    memcpy(l->buf + l->len, s, n);
    l->len += n;
}

bool
tg__aw_leaf_push(struct tg_audit_log *l, uint64_t seq, const uint8_t h[32])
{
    if (l->mt.n == 0) {
        l->leaves_first = seq;
        l->pending_since = tg__aw_mono_us();
        l->mt.depth = 0;
    }
    /* Folded in now, a few hashes per entry: a seal of 1,000 entries used
     * to hash all 2,000 nodes at once, a burst on the writer that showed in
     * the gateway's one-connection p99 (docs/gateway.md). */
    tg__audit_mtree_add(&l->mt, l->sha, h);
    return true;
}

/* Start an entry line in the batch buffer: the fixed header. */
static int
emit_begin(struct tg_audit_log *l, const char *event, size_t *start)
{
    /* {"seq":N,"prev":"<64>","key_id":"<32>","event":"<event>", assembled
     * by hand rather than by an snprintf per entry on the writer thread. */
    char seq[20], rev[20];
    size_t ns = 0, nr = 0, ne = strlen(event), nk = strlen(l->key_id), n;
    uint64_t v = l->seq + 1;

    do {
        rev[nr++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    while (nr > 0)
        seq[ns++] = rev[--nr];
    n = 7 + ns + 9 + 64 + 12 + nk + 11 + ne + 1;
    if (n >= 256)   /* the bound the header always had */
        return TG_EINVAL;
    if (!tg__aw_buf_reserve(l, n))
        return TG_ENOMEM;
    *start = l->len;
    tg__aw_buf_put(l, "{\"seq\":", 7);
    tg__aw_buf_put(l, seq, ns);
    tg__aw_buf_put(l, ",\"prev\":\"", 9);
    tg__audit_hex(l->prev, 32, l->buf + l->len);   /* 64 digits and a NUL, overwritten next */
    l->len += 64;
    tg__aw_buf_put(l, "\",\"key_id\":\"", 12);
    tg__aw_buf_put(l, l->key_id, nk);
    tg__aw_buf_put(l, "\",\"event\":\"", 11);
    tg__aw_buf_put(l, event, ne);
    tg__aw_buf_put(l, "\"", 1);
    return TG_OK;
}

/* Finish the line begun at `start`: hash the canonical bytes, sign, suffix, advance the chain. */
static int
emit_end(struct tg_audit_log *l, size_t start, bool sign, uint64_t *seq_out)
{
    char hex[129];
    uint8_t h[32], sig[64];
    uint64_t seq = l->seq + 1;

    if (!tg__aw_buf_reserve(l, TG__AUDIT_SUFFIX_LONG + 1)) {
        l->len = start;
        return TG_ENOMEM;
    }
    tg__audit_sha256_ctx(l->sha, l->buf + start, l->len - start, h);
    if (sign && tg__audit_sign(l->md, l->key, h, sig) != TG_OK) {
        l->len = start;
        return TG_ECRYPTO;
    }
    if (!tg__aw_leaf_push(l, seq, h)) {
        l->len = start;
        return TG_ENOMEM;
    }
    tg__audit_hex(h, 32, hex);
    tg__aw_buf_put(l, ",\"hash\":\"", 9);
    tg__aw_buf_put(l, hex, 64);
    if (sign) {
        tg__audit_hex(sig, 64, hex);
        tg__aw_buf_put(l, "\",\"sig\":\"", 9);
        tg__aw_buf_put(l, hex, 128);
    }
    tg__aw_buf_put(l, "\"}\n", 3);
    l->seq = seq;
    memcpy(l->prev, h, 32);
    if (l->file_first_seq == 0)
        l->file_first_seq = seq;
    if (seq_out != NULL)
        *seq_out = seq;
    return TG_OK;
}

/*
 * Append one entry line to the batch buffer and advance the chain.
 * inner = the body's members without the surrounding braces (may be empty).
 */
int
tg__aw_emit(struct tg_audit_log *l, const char *event, const char *inner, size_t inner_len, bool sign,
     uint64_t *seq_out)
{
    size_t start;
    int rc = emit_begin(l, event, &start);

    if (rc != TG_OK)
        return rc;
    if (inner_len > 0) {
        if (!tg__aw_buf_reserve(l, inner_len + 1)) {
            l->len = start;
            return TG_ENOMEM;
        }
        tg__aw_buf_put(l, ",", 1);
        tg__aw_buf_put(l, inner, inner_len);
    }
    return emit_end(l, start, sign, seq_out);
}

/* ---- compact JSON printer --------------------------------------------------
 * cJSON_PrintUnformatted prints every number with sprintf and reads it back
 * with sscanf; on the writer thread that was most of the cost of an entry.
 * Integers take a fast path; other numbers the same shortest-round-trip rule.
 * Scalars are spelled by tg__audit_fmt_num / tg__audit_esc_str (util.c),
 * which tg_audit_entry_text uses too: both paths must hash the same bytes. */

static bool
put_lit(struct tg_audit_log *l, const char *s, size_t n)
{
    if (!tg__aw_buf_reserve(l, n))
        return false;
    tg__aw_buf_put(l, s, n);
    return true;
}

static bool
put_str(struct tg_audit_log *l, const char *s)
{
    size_t n = strlen(s);

    if (!tg__aw_buf_reserve(l, 2 + 6 * n))
        return false;
    l->len += tg__audit_esc_str(l->buf + l->len, s, n);
    return true;
}

static bool
put_num(struct tg_audit_log *l, double d)
{
    size_t n;

    if (!tg__aw_buf_reserve(l, TG__AUDIT_NUM_MAX))
        return false;
    n = tg__audit_fmt_num(d, l->buf + l->len);
    l->len += n;
    return n > 0;
}

static bool put_value(struct tg_audit_log *l, const cJSON *v, int depth);

static bool
put_members(struct tg_audit_log *l, const cJSON *obj, int depth, bool top)
{
    static const char *const chain[] = { "seq", "prev", "key_id", "event", "hash", "sig" };
    bool first = !top;   /* at the top level, members follow the header */
    const cJSON *c;

    for (c = obj->child; c != NULL; c = c->next) {
        if (c->string == NULL)
            return false;
        if (top) {
            /* The chain fields belong to the writer: drop any a producer put in. */
            bool skip = false;
            for (size_t i = 0; i < TG_ARRAY_LEN(chain) && !skip; i++)
                skip = strcmp(c->string, chain[i]) == 0;
            if (skip)
                continue;
        }
        if (!first && !put_lit(l, ",", 1))
            return false;
        first = false;
        if (!put_str(l, c->string) || !put_lit(l, ":", 1) || !put_value(l, c, depth + 1))
            return false;
    }
    return true;
}

static bool
put_value(struct tg_audit_log *l, const cJSON *v, int depth)
{
    if (depth > (int)TG_MAX_JSON_DEPTH)
        return false;
    switch (v->type & 0xff) {
    case cJSON_False:  return put_lit(l, "false", 5);
    case cJSON_True:   return put_lit(l, "true", 4);
    case cJSON_NULL:   return put_lit(l, "null", 4);
    case cJSON_Number: return put_num(l, v->valuedouble);
    case cJSON_String: return v->valuestring != NULL ? put_str(l, v->valuestring) : put_lit(l, "null", 4);
    case cJSON_Array: {
        bool first = true;
        if (!put_lit(l, "[", 1))
            return false;
        for (const cJSON *c = v->child; c != NULL; c = c->next) {
            if ((!first && !put_lit(l, ",", 1)) || !put_value(l, c, depth + 1))
                return false;
            first = false;
        }
        return put_lit(l, "]", 1);
    }
    case cJSON_Object:
        return put_lit(l, "{", 1) && put_members(l, v, depth, false) && put_lit(l, "}", 1);
    default:
        return false;   /* cJSON_Raw: unvalidated bytes have no place in the log */
    }
}

/* An entry object: header, its members (minus chain fields), suffix. */
int
tg__aw_emit_json(struct tg_audit_log *l, const char *event, const cJSON *body, bool sign, uint64_t *seq_out)
{
    size_t start;
    int rc = emit_begin(l, event, &start);

    if (rc != TG_OK)
        return rc;
    if (!put_members(l, body, 0, true)) {
        l->len = start;
        return TG_EINVAL;
    }
    return emit_end(l, start, sign, seq_out);
}

int
tg__aw_emit_seal(struct tg_audit_log *l)
{
    char inner[320], ts[32], root[32], roothex[65];
    int n;

    if (l->mt.n == 0)
        return TG_OK;
    tg__audit_mtree_root(&l->mt, l->sha, (uint8_t *)root);
    tg__audit_hex((uint8_t *)root, 32, roothex);
    tg__audit_fmt_ts(tg__audit_now_us(), ts);
    n = snprintf(inner, sizeof(inner),
                 "\"ts\":\"%s\",\"seal\":{\"first_seq\":%llu,\"last_seq\":%llu,\"count\":%zu,\"root\":\"%s\"}",
                 ts, (unsigned long long)l->leaves_first,
                 (unsigned long long)(l->leaves_first + l->mt.n - 1), (size_t)l->mt.n, roothex);
    if (n < 0 || (size_t)n >= sizeof(inner))
        return TG_EINVAL;
    /* A seal closes its range; the next range starts after it, so the
     * seal's own hash is not a leaf of the next one. */
    int rc = tg__aw_emit(l, "seal", inner, (size_t)n, true, NULL);
    l->mt.n = 0;
    return rc;
}

/* Tests only (audit_int.h): put_members on a scratch log that has no file. */
int
tg__audit_print_members(const cJSON *obj, char **out, size_t *len)
{
    struct tg_audit_log *l = calloc(1, sizeof(*l));
    int rc = TG_ENOMEM;

    *out = NULL;
    *len = 0;
    if (l == NULL)
        return TG_ENOMEM;
    if (!put_members(l, obj, 0, true)) {
        rc = TG_EINVAL;
        goto out;
    }
    if (!tg__aw_buf_reserve(l, 1))
        goto out;
    /* At the top level every member is preceded by a comma; the first one
     * is the separator tg__aw_emit() writes after the header. */
    *len = l->len > 0 ? l->len - 1 : 0;
    memmove(l->buf, l->buf + (l->len > 0), *len);
    l->buf[*len] = '\0';
    *out = l->buf;
    l->buf = NULL;
    rc = TG_OK;
out:
    free(l->buf);
    free(l);
    return rc;
}


