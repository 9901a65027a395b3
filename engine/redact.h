/*
 * redact.h — replace findings with typed placeholders (<EMAIL_ADDRESS_1>),
 * stable per distinct value within one request, keeping the JSON valid.
 */
#ifndef TG_REDACT_H
#define TG_REDACT_H

#include "engine/pii.h"
#include "engine/request.h"

/*
 * Serialise req->body with every finding (by part and byte span) replaced
 * by its placeholder.  The request itself is not modified.  *out is arena
 * memory, NUL-terminated.  Returns TG_OK or TG_ENOMEM / TG_EINVAL.
 */
int tg_redact_body(const struct tg_request *req, const struct tg_findings *f,
                   struct tg_arena *a, char **out, size_t *outlen, struct tg_err *err);

/* Redact one plain text (part 0 findings); *out arena memory. */
int tg_redact_text(const char *text, size_t len, const struct tg_findings *f,
                   struct tg_arena *a, char **out, size_t *outlen, struct tg_err *err);

/*
 * The client's own body (json, any dialect) with every value findings f
 * found in req's parts replaced, wherever it occurs as string text, by the
 * placeholder tg_redact_body() gives it.  TG_EINVAL when a value is not
 * found in the body as text or sits in an object key: the body cannot be
 * shown redacted with certainty.  *out arena memory, one line.
 */
int tg_redact_values(const char *json, size_t len, const struct tg_request *req, const struct tg_findings *f,
                     struct tg_arena *a, char **out, size_t *outlen, struct tg_err *err);

#endif /* TG_REDACT_H */
