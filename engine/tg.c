/* tg.c — error helpers shared by every module. */
#include "engine/tg.h"

#include <stdarg.h>
#include <stdio.h>

int
tg_err_set(struct tg_err *err, int code, const char *fmt, ...)
{
    if (err != NULL) {
        va_list ap;
        err->code = code;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
    }
    return code;
}

const char *
tg_status_name(int code)
{
    switch (code) {
    case TG_OK:        return "OK";
    case TG_ENOMEM:    return "ENOMEM";
    case TG_EINVAL:    return "EINVAL";
    case TG_EIO:       return "EIO";
    case TG_ENOTFOUND: return "ENOTFOUND";
    case TG_ELIMIT:    return "ELIMIT";
    case TG_EPOLICY:   return "EPOLICY";
    case TG_ECRYPTO:   return "ECRYPTO";
    case TG_ETAMPER:   return "ETAMPER";
    case TG_EBUSY:     return "EBUSY";
    case TG_ETIMEOUT:  return "ETIMEOUT";
    case TG_EUPSTREAM: return "EUPSTREAM";
    default:           return "EUNKNOWN";
    }
}
