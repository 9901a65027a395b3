/*
 * tg.h — the few types every tollgate module shares: status codes, the
 * error struct, string slices.
 *
 * Functions return TG_OK (0) or a negative TG_E* code and, on failure, fill
 * a caller-owned struct tg_err with a human message.  Filling it never
 * allocates, so it works after an out-of-memory failure too.
 */
#ifndef TG_TG_H
#define TG_TG_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

enum tg_status {
    TG_OK       = 0,
    TG_ENOMEM   = -1,   /* allocation failed */
    TG_EINVAL   = -2,   /* bad input: malformed JSON, bad value, bad usage */
    TG_EIO      = -3,   /* read/write failed */
    TG_ENOTFOUND= -4,   /* named thing does not exist */
    TG_ELIMIT   = -5,   /* a cap from engine/limits.h was hit */
    TG_EPOLICY  = -6,   /* configuration invalid */
    TG_ECRYPTO  = -7,   /* signature/hash/key failure */
    TG_ETAMPER  = -8,   /* audit log integrity failure */
    TG_EBUSY    = -9,   /* queue full / try again */
    TG_ETIMEOUT = -10,
    TG_EUPSTREAM= -11,  /* provider failed */
};

#define TG_ERR_MSG_MAX 512

struct tg_err {
    int  code;                   /* one of enum tg_status */
    char msg[TG_ERR_MSG_MAX];    /* NUL-terminated, never contains PII or secrets */
};

/* Set err (may be NULL) and return code, so callers can `return tg_err_set(...)`. */
int tg_err_set(struct tg_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Short name for a status code ("ENOMEM", ...). */
const char *tg_status_name(int code);

/* A string slice: not necessarily NUL-terminated (nginx's ngx_str_t). */
struct tg_str {
    const char *ptr;
    size_t      len;
};

#define TG_STR(lit) ((struct tg_str){ (lit), sizeof(lit) - 1 })
#define TG_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif /* TG_TG_H */
