/* fuzz_prov_response: the openai adapter's answer check (a validating scan
 * that hands only `usage` to cJSON) must agree with a full cJSON parse on
 * every input: same verdict, same token counts.  The oracle below is the
 * straightforward definition (parse all, object, `choices` array, `usage`
 * numbers), written independently of provider.c. */
#include "adapters/providers/provider.h"
#include "engine/tg.h"

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int64_t
oracle_int(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 9e15)
        return -1;
    return (int64_t)v->valuedouble;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_prov_usage u;
    struct tg_err err = { 0 };
    char *out = NULL;
    size_t outlen = 0;
    int rc = tg_prov_response(TG_ADAPTER_OPENAI, "m", (const char *)data, size, 0, &out, &outlen, &u, &err);
    cJSON *j = cJSON_ParseWithLength((const char *)data, size);
    bool want_ok = cJSON_IsObject(j) && cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(j, "choices"));

    free(out);
    if (want_ok != (rc == TG_OK))
        abort();
    if (want_ok) {
        const cJSON *usage = cJSON_GetObjectItemCaseSensitive(j, "usage");
        if (u.prompt_tokens != oracle_int(usage, "prompt_tokens") ||
            u.completion_tokens != oracle_int(usage, "completion_tokens"))
            abort();
    }
    cJSON_Delete(j);
    return 0;
}
