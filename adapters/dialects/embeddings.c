/*
 * embeddings.c — OpenAI Embeddings.  An embeddings request is not a chat
 * request and is never lowered to one: its body is its own canonical form
 * (tg_request_parse_embedding, engine/request.h), routed to `kind:
 * embedding` models only, and the answer is the provider's embeddings
 * list (tg_prov_embed_response, adapters/providers/provider.h).  So, as
 * for chat, the NULL members mean identity; there is no stream.
 */
#include "adapters/dialects/dialect_int.h"

const struct tg_dialect_ops tg__dialect_embeddings = {
    .id = TG_DIALECT_EMBEDDINGS,
    .name = "embeddings",
    .path = "/v1/embeddings",
    .errors = TG_DIALECT_ERR_OPENAI,
};
