/*
 * fuzz_embeddings.c — embedding requests and answers.  The first byte
 * picks a mode and a count, the rest is the input:
 *   even: the bytes are an embeddings request body.  Invariants: the parse
 *         never crashes; when it succeeds every input string is a part,
 *         the counts are within the caps, the openai upstream request is
 *         JSON with the upstream model name, and when the echo provider
 *         answers, its answer passes the same validation a real
 *         provider's must (one vector per input).
 *   odd:  the bytes are a provider's embeddings answer for (first byte
 *         >> 1) % 4 inputs (0 = unknown).  Invariant: when it validates,
 *         the output is JSON labelled with the registry model id.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "adapters/providers/provider.h"
#include "engine/limits.h"
#include "engine/request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct tg_provider PROV = {
    .id = "oa", .adapter = TG_ADAPTER_OPENAI, .base_url = "http://127.0.0.1:1/v1",
    .api_key = "k", .region = "us", .jurisdiction = "US",
};
static const struct tg_model MODEL = { .id = "reg-id", .upstream = "up-name", .kind = TG_MODEL_EMBEDDING };

static void
check_request(const char *in, size_t n)
{
    struct tg_arena a;
    struct tg_request r;
    struct tg_err err;
    struct tg_prov_http h;
    struct tg_prov_usage u;
    char *out = NULL, *v = NULL;
    size_t on = 0, vn = 0;

    tg_arena_init(&a, 0);
    if (tg_request_parse_embedding(in, n, &a, &r, &err) != TG_OK) {
        if (r.body != NULL)
            abort();                        /* a failure leaves no body */
        goto out;
    }
    if (r.kind != TG_REQUEST_EMBEDDING || r.max_tokens != 0 || r.ninputs == 0 ||
        r.ninputs > TG_MAX_EMBEDDING_INPUTS || r.opaque_payloads > r.ninputs ||
        r.nparts > TG_MAX_TEXT_PARTS)
        abort();
    /* a redactable part is its node's whole string (decoded data URLs are
     * not redactable and may hold a decoded NUL) */
    for (uint32_t i = 0; i < r.nparts; i++)
        if (r.parts[i].text == NULL ||
            (r.parts[i].node != NULL && (r.parts[i].node->valuestring != r.parts[i].text ||
                                         strlen(r.parts[i].text) != r.parts[i].len)))
            abort();
    if (tg_prov_embed_build(&PROV, &MODEL, in, n, &a, &h, &err) == TG_OK) {
        cJSON *j = cJSON_ParseWithLength(h.body, h.body_len);
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
        if (!cJSON_IsString(m) || strcmp(m->valuestring, "up-name") != 0 ||
            cJSON_GetObjectItemCaseSensitive(j, "metadata") != NULL)
            abort();
        cJSON_Delete(j);
    }
    if (tg_prov_echo_embed("reg-id", in, n, &out, &on, &u, &err) == TG_OK) {
        if (tg_prov_embed_response("reg-id", out, on, r.ninputs, &v, &vn, &u, &err) != TG_OK)
            abort();                        /* echo answers what a provider must */
        free(v);
        free(out);
    }
out:
    tg_request_dispose(&r);
    tg_arena_free(&a);
}

static void
check_answer(const char *in, size_t n, uint32_t ninputs)
{
    struct tg_prov_usage u;
    struct tg_err err;
    char *out = NULL;
    size_t on = 0;

    if (tg_prov_embed_response("reg-id", in, n, ninputs, &out, &on, &u, &err) != TG_OK) {
        if (out != NULL)
            abort();
        return;
    }
    cJSON *j = cJSON_ParseWithLength(out, on);
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(j, "model");
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(j, "data");
    if (!cJSON_IsString(m) || strcmp(m->valuestring, "reg-id") != 0 || !cJSON_IsArray(d) ||
        (ninputs > 0 && (uint32_t)cJSON_GetArraySize(d) != ninputs) || u.completion_tokens > 0)
        abort();
    cJSON_Delete(j);
    free(out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    if ((data[0] & 1) == 0)
        check_request((const char *)data + 1, size - 1);
    else
        check_answer((const char *)data + 1, size - 1, (uint32_t)(data[0] >> 1) % 4);
    return 0;
}
