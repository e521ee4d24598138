/* SPDX-License-Identifier: MIT */
/*
 * vw_jsonscan.h - one pass over JSON text for the quick strict parse of veriwatt.jsonio
 * (issue 14): counts the keys of a text whose key count the plain parser's result can be
 * checked against. Host only (crypto_c/cpython/vwcrypto_build.py). Python API:
 * veriwatt.jsonio._key_marks. Reads public input; no allocation.
 */
#ifndef VW_JSONSCAN_H
#define VW_JSONSCAN_H

#include <stddef.h>
#include <stdint.h>

/* In UTF-8 text[0..len): returns -1 when it holds a backslash, or a JSON whitespace byte
 * (space, tab, CR, LF) right before a ':' (then the count below does not bound the keys);
 * else the number of '"' bytes followed at once by ':'. UTF-8 multi-byte sequences never
 * contain these ASCII bytes, so bytes and characters agree. */
int64_t vw_json_key_marks(const uint8_t *text, size_t len);

#endif
