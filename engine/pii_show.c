/*
 * pii_show.c — presenting findings without their values: code-point
 * offsets for spans (what clients count in), and masks that keep a value's
 * shape ("j***@e******.com") for people reading a report.
 */
#include "engine/pii.h"
#include "engine/pii_int.h"

#include <stdbool.h>
#include <string.h>

uint32_t
tg_pii_codepoint_offset(const char *text, size_t len, size_t off)
{
    const unsigned char *t = (const unsigned char *)text;
    size_t i = 0;
    uint32_t cp = 0;

    if (off > len)
        off = len;
    while (i < off) {
        unsigned char c = t[i];
        size_t need = c < 0x80 ? 0 : (c >= 0xC2 && c <= 0xDF) ? 1 : (c >= 0xE0 && c <= 0xEF) ? 2
                    : (c >= 0xF0 && c <= 0xF4) ? 3 : 0;
        size_t k = 1;
        if (need > 0 && i + need < len)
            for (k = 1; k <= need; k++)
                if ((t[i + k] & 0xC0) != 0x80)
                    break;
        /* a valid sequence is one code point; each invalid byte is one too */
        i += (need > 0 && i + need < len && k > need) ? need + 1 : 1;
        cp++;
    }
    return cp;
}

void
tg_pii_mask(const char *v, size_t len, char *out, size_t cap)
{
    size_t i, o = 0;
    bool in_run = false;
    size_t last_dot = SIZE_MAX;

    if (cap == 0)
        return;
    for (i = 0; i < len; i++)
        if (v[i] == '.')
            last_dot = i;
    /* keep an alphabetic top-level domain ("com") readable */
    if (last_dot != SIZE_MAX && memchr(v, '@', len) != NULL) {
        for (i = last_dot + 1; i < len && ((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z')); i++)
            ;
        if (i != len)
            last_dot = SIZE_MAX;
    } else
        last_dot = SIZE_MAX;
    for (i = 0; i < len && o + 1 < cap; i++) {
        unsigned char c = (unsigned char)v[i];
        if (last_dot != SIZE_MAX && i > last_dot) {
            out[o++] = (char)c;
        } else if (tg__pii_ascii_alnum(c) || c >= 0x80) {
            out[o++] = in_run ? '*' : (c >= 0x80 ? '*' : (char)c);
            in_run = true;
        } else {
            out[o++] = (c < 0x20 || c == 0x7f) ? ' ' : (char)c;
            in_run = false;
        }
    }
    out[o] = '\0';
}
