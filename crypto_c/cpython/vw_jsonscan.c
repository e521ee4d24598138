/* SPDX-License-Identifier: MIT */
/*
 * vw_jsonscan.c - see vw_jsonscan.h. Two memchr passes: the backslash (absent in a bill: one
 * scan at memory speed), then colon to colon (a month bill has about 4,500, all after keys).
 */
#include <string.h>

#include "vw_jsonscan.h"

int64_t vw_json_key_marks(const uint8_t *text, size_t len) {
    if (len == 0) {
        return 0;
    }
    if (memchr(text, '\\', len) != NULL) {
        return -1;
    }
    int64_t marks = 0;
    const uint8_t *end = text + len, *c = text;
    while ((c = memchr(c, ':', (size_t)(end - c))) != NULL) {
        if (c > text) {
            uint8_t b = c[-1];
            if (b == '"') {
                marks++;
            } else if (b == ' ' || b == '\t' || b == '\r' || b == '\n') {
                return -1;
            }
        }
        c++;
    }
    return marks;
}
