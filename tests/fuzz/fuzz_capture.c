/* fuzz_capture.c — the capture reader's line parser (both §7 forms), the
 * RFC 3339 parser and the placeholder matcher, on arbitrary bytes. */
#include "adapters/capture/capture.h"
#include "engine/placeholder.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct tg_arena a;
    struct tg_capture_item it;
    struct tg_err err = {0};
    struct tg_findings f = {0};
    char *s;
    int64_t us;

    tg_arena_init(&a, 0);
    if (tg_capture_parse_line((const char *)data, size, 1, &a, &it, &err) == TG_OK) {
        /* What the parser hands out must be usable: walk it. */
        if (it.id == NULL)
            abort();
        for (uint32_t i = 0; it.request_ok && i < it.req.nparts; i++)
            (void)tg_placeholder_scan(it.req.parts[i].text, it.req.parts[i].len, i, &a, &f);
        tg_request_dispose(&it.req);
    } else if (err.msg[0] == '\0') {
        abort();   /* every rejection says why */
    }
    (void)tg_placeholder_scan((const char *)data, size, 0, &a, &f);
    for (uint32_t i = 1; i < f.n; i++)
        if (f.v[i].part == f.v[i - 1].part && f.v[i].start < f.v[i - 1].end)
            abort();   /* findings of a part stay sorted and disjoint */
    s = malloc(size + 1);
    if (s != NULL) {
        memcpy(s, data, size);
        s[size] = '\0';
        (void)tg_capture_parse_ts(s, &us);
        free(s);
    }
    tg_arena_free(&a);
    return 0;
}
