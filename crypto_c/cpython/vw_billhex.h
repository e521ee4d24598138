/* SPDX-License-Identifier: MIT */
/*
 * vw_billhex.h - a bill's hex columns checked and decoded in one call each (issue 14): the
 * commitments' C, `sig_R` and the signatures (e, s) of docs/FORMATS.md, from the joined
 * JSON strings straight into the packed byte buffers the C challenges (vw_challenges.c) and
 * the C multi-exponentiation (vw_multiexp.c) read, without one Python integer per value.
 * Host only (crypto_c/cpython/vwcrypto_build.py), never in the meter's library. Python API:
 * veriwatt.cbill. Bills are PUBLIC: variable time, no secret ever passes here.
 */
#ifndef VW_BILLHEX_H
#define VW_BILLHEX_H

#include <stddef.h>
#include <stdint.h>

#define VW_BILLHEX_ERR_ARG (-1) /* lengths out of range */

/* count group elements written as minimal lowercase hex ("%x": 1..2*width digits 0-9a-f, the
 * first not '0'), separated by single `sep` bytes in text[0..text_len), each value with
 * 1 < v < p (p: width bytes big-endian). Writes element t big-endian to be[t*width..] and,
 * when le is not NULL, little-endian to le[t*width..]. Returns count when all are good, else
 * an index below count: the first element that is not canonical or out of range, or where
 * the text holds more or fewer pieces than count (the caller then parses element by
 * element); VW_BILLHEX_ERR_ARG for width 0 or above 1024. */
int64_t vw_hex_elems(uint8_t *be, uint8_t *le, const uint8_t *text, size_t text_len, uint8_t sep,
                     size_t count, size_t width, const uint8_t *p);

/* count signatures e || s, each exactly 4*qlen lowercase hex digits (leading zeros kept),
 * separated by single `sep` bytes, with e < q and s < q (q: qlen bytes big-endian): e_t to
 * es[t*qlen..], s_t to ss[t*qlen..], big-endian. Returns as vw_hex_elems (the first bad
 * signature's index, or count); VW_BILLHEX_ERR_ARG for qlen 0 or above 64, or a text whose
 * length is not count * (4*qlen + 1) - 1 (then returned before any byte is read). */
int64_t vw_hex_sigs(uint8_t *es, uint8_t *ss, const uint8_t *text, size_t text_len, uint8_t sep,
                    size_t count, size_t qlen, const uint8_t *q);

/* sum over t of w_t * v_t (w_t: 8 bytes little-endian at w[8t..], v_t: width bytes
 * big-endian at v[t*width..]) as out_len bytes big-endian. Returns 0, or VW_BILLHEX_ERR_ARG
 * when out_len < width + 16 or width is 0 or above 1024. */
int vw_weighted_sum(uint8_t *out, size_t out_len, const uint8_t *w, const uint8_t *v, size_t width,
                    size_t count);

#endif
