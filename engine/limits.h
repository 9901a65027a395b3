/*
 * limits.h — every cap in tollgate, each with the reason it exists
 * (SQLite's sqliteLimit.h).  Adapters enforce the I/O ones; the engine the
 * rest.  A cap that is hit is an error or a deny, never a silent truncation.
 */
#ifndef TG_LIMITS_H
#define TG_LIMITS_H

/* Request body accepted by the gateway (413 past it). Chat requests with a
 * 128K-token context are ~512 KiB of text; 4 MiB leaves room for base64
 * images while bounding memory per connection. Configurable downwards. */
#define TG_MAX_BODY_BYTES          (4u * 1024u * 1024u)

/* Body bytes the HTTP framing guard reads at all (adapters/http/hdrguard.h).
 * Up to it a body is read whole and answered with an audited 413 on a
 * connection that stays usable; a larger declared or chunked body is
 * refused at the door (JSON 413, connection closed) without buffering it. */
#define TG_MAX_WIRE_BODY_BYTES     (4u * TG_MAX_BODY_BYTES)

/* Request line plus header fields (and, separately, chunked trailers):
 * real clients send well under 8 KiB; past this the answer is 431. */
#define TG_MAX_HEADER_BLOCK        (64u * 1024u)

/* One chunk-size line with its extensions: they are ignored, so only a
 * little is worth reading before calling the body malformed. */
#define TG_MAX_CHUNK_LINE          4096u

/* Messages in one chat request: far above any real conversation, bounds
 * the per-request scan/estimate loops. */
#define TG_MAX_MESSAGES            4096u

/* Text parts (contents, names, tool arguments) collected for scanning. */
#define TG_MAX_TEXT_PARTS          16384u

/* Inputs in one embeddings request: OpenAI's own API refuses more than
 * 2048, so no client of it sends more; bounds the per-input loops (scan,
 * estimate, answer validation, echo vectors). */
#define TG_MAX_EMBEDDING_INPUTS    2048u

/* Dimensions of the echo provider's local embedding vectors (8 unless the
 * request asks `dimensions`): it answers demos and tests, and 2048 inputs
 * of 256 floats keep its answer to a few MiB. */
#define TG_ECHO_EMBED_MAX_DIMS     256u

/* JSON nesting accepted from clients and capture files; cJSON's own
 * default (1000) would allow stack-heavy recursion in our walkers. */
#define TG_MAX_JSON_DEPTH          64u

/* PII findings kept per request; past it the request is treated as
 * "could not scan" (fail closed) rather than silently dropping findings. */
#define TG_MAX_FINDINGS            10000u

/* PCRE2 limits: a match that hits one is "could not scan" -> deny. */
#define TG_PCRE2_MATCH_LIMIT       100000u
#define TG_PCRE2_DEPTH_LIMIT       10000u
#define TG_PCRE2_HEAP_LIMIT_KIB    4096u

/* Models, rules, tenants in one policy: keeps linear lookups cheap and
 * catches runaway generated configs. */
#define TG_MAX_MODELS              1024u
#define TG_MAX_PROVIDERS           256u
#define TG_MAX_RULES               1024u
#define TG_MAX_TENANTS             65536u
#define TG_MAX_CHAIN               16u    /* primary + fallbacks per rule */
#define TG_MAX_EXPORT_TAGS         32u    /* tags on one request */

/* Allow lists (engine/allow.h): entries per list (policy, one rule, one
 * tenant), values and patterns per entry.  A request's findings are tried
 * against every entry of their entity, so the entry and pattern counts
 * bound the per-finding work; values are binary-searched, so a long list of
 * exact values (a company's registered numbers) stays cheap. */
#define TG_MAX_ALLOW_ENTRIES       256u
#define TG_MAX_ALLOW_VALUES        65536u
#define TG_MAX_ALLOW_PATTERNS      64u

/* Config file size: a policy is hand-written YAML; 8 MiB is generous. */
#define TG_MAX_CONFIG_BYTES        (8u * 1024u * 1024u)
#define TG_MAX_PACK_INCLUDE_DEPTH  4u   /* packs including packs: deeper is a cycle or a mistake */
#define TG_MAX_PACK_FILES          128u /* pack files in one policy, includes counted: hashed into policy_version */
/* PII spans kept per audit entry: offsets are useful evidence, but a request
 * with thousands of findings must not make a megabyte audit line. */
#define TG_MAX_AUDIT_SPANS         256u

/* Header values we read (category, feature, export tags). */
#define TG_MAX_HEADER_VALUE        1024u

/* Audit writer queue depth before producers block (backpressure). */
#define TG_AUDIT_QUEUE_DEPTH       65536u

/* One audit/capture line read by the verifier/readers. */
#define TG_MAX_LINE_BYTES          (8u * 1024u * 1024u)

/* OpenAI Responses dialect (adapters/dialects/responses.c).
 * Tool definitions in one request: OpenAI documents 128 functions per
 * request; 1024 leaves room for any real agent and bounds the name checks. */
#define TG_MAX_RESP_TOOLS          1024u
/* Canonical body a Responses body decodes to: the same texts plus small
 * framing, except custom tool inputs, which are escaped twice (a string
 * inside a JSON arguments string); 3x the largest accepted body covers that. */
#define TG_MAX_RESP_CANON_BYTES    (3u * TG_MAX_BODY_BYTES)
/* Text and tool arguments one translated stream accumulates (the final
 * response.completed repeats them all): 128K output tokens are ~512 KiB,
 * 8 MiB is far past any model's output.  Past it the stream fails. */
#define TG_MAX_RESP_STREAM_TEXT    (8u * 1024u * 1024u)
/* Output items (message + tool calls) of one streamed answer. */
#define TG_MAX_RESP_STREAM_ITEMS   1024u
/* One event written to the client (response.completed carries the whole
 * answer and the echoed instructions and tools, escaped). */
#define TG_MAX_RESP_EVENT_BYTES    (64u * 1024u * 1024u)

/* Output guard (engine/outguard.h), streams.
 * Bytes of streamed text held back behind the newest byte, so a value split
 * across chunks is scanned whole before any of it is released.  The
 * detectors' bounded values are shorter (the longest fixed-length token is
 * ~190 bytes, a URL with credentials ~260); values with no fixed end (keys,
 * JWTs, PEM bodies) match while still growing, and a finding that reaches
 * the held tail holds everything from its start.  256 bytes is ~64 tokens of
 * delay, the price of seeing a value whole. */
#define TG_OUTGUARD_WINDOW         256u
/* The cut is moved back to the last whitespace at most this far, so a token
 * is released whole (a longer run of non-space bytes is cut anyway). */
#define TG_OUTGUARD_SNAP           1024u
/* Released text kept as left context for the next scan: the scanner reads
 * context words up to 48 bytes before a value and look-behinds before it. */
#define TG_OUTGUARD_CONTEXT        128u
/* Held bytes per channel: a finding still growing past this (a PEM block is
 * at most 64 KiB to the scanner too) cannot be released whole or safely cut:
 * the stream is blocked (response.unscannable) rather than leak its tail. */
#define TG_OUTGUARD_MAX_HOLD       (64u * 1024u)
/* Text channels of one stream (choices x (content, refusal, reasoning,
 * each tool call)): a real stream has a handful; past it the stream is
 * blocked rather than relayed unguarded. */
#define TG_OUTGUARD_MAX_CHANNELS   256u

/* TLS listener (adapters/http/tls.c).
 * Sessions the server-side cache keeps for TLS 1.2 clients that resume by
 * session id (tickets need no server memory): ~1 KiB each, so 20480 is
 * ~20 MiB at most, as nginx's default shared cache holds ~40000 in 10 MiB. */
#define TG_TLS_SESSION_CACHE       20480u
/* Intermediate CAs a client certificate chain may carry: real PKIs are 2-4
 * deep; a bound stops a crafted chain from costing unbounded verification. */
#define TG_TLS_VERIFY_DEPTH        8
/* Plaintext handed to one SSL_write of a reply: one full TLS record, so a
 * reply becomes as few records (and syscalls) as it can. */
#define TG_TLS_RECORD              16384u

#endif /* TG_LIMITS_H */
