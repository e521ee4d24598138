/* SPDX-License-Identifier: MIT */
/*
 * vw_aggmac.h - batch HMAC-SHA256 (RFC 2104) tag checks for the host aggregator
 * (veriwatt.bulkagg, issue 14), over OpenSSL libcrypto's SHA-256 (FIPS 180-4).
 * Host only: part of the CPython binding (crypto_c/cpython/vwcrypto_build.py), never
 * of the meter's library. Python API: vwcrypto.aggmac.
 *
 * A "state" is one member's HMAC key schedule: the SHA-256 contexts after the key's ipad
 * block (plus a fixed message prefix) and after its opad block, so a tag costs the
 * compressions of the message only. States hold key material: the caller keeps them
 * as secret as the keys.
 */
#ifndef VW_AGGMAC_H
#define VW_AGGMAC_H

#include <stddef.h>
#include <stdint.h>

#define VW_AGGMAC_OK 0
#define VW_AGGMAC_ERR_ARG (-1) /* lengths out of range, or a row index >= n_states */

/* Size in bytes of one member state. */
size_t vw_aggmac_state_bytes(void);

/* states (n * vw_aggmac_state_bytes() bytes) from n 64-byte HMAC key blocks (the key,
 * hashed first if longer than 64 bytes, zero-padded to 64: RFC 2104 section 2), the
 * inner state having absorbed prefix[0..prefix_len). */
int vw_aggmac_prepare(uint8_t *states, const uint8_t *key_blocks, size_t n,
                      const uint8_t *prefix, size_t prefix_len);

/* For each of count records of rec_len bytes at recs: body = the first body_len bytes,
 * tag = the remaining rec_len - body_len (1..32) bytes. rows[i] < 0: ok[i] = 0 and no
 * MAC is computed (the record names no member); otherwise ok[i] = 1 iff tag equals
 * HMAC-SHA256(key of rows[i], prefix || body) truncated to the tag's length, compared
 * in constant time (no early exit; time depends only on the lengths and on which rows
 * are negative). Every row is checked against n_states before any work. */
int vw_aggmac_check(uint8_t *ok, const uint8_t *recs, size_t count, size_t rec_len,
                    size_t body_len, const int64_t *rows, const uint8_t *states, size_t n_states);

/* The full 32-byte HMAC-SHA256(key of rows[i], prefix || msg i) of count messages of
 * msg_len bytes each into out (32 * count bytes); rows must be 0 <= row < n_states.
 * For known-answer tests. */
int vw_aggmac_macs(uint8_t *out, const uint8_t *msgs, size_t count, size_t msg_len,
                   const int64_t *rows, const uint8_t *states, size_t n_states);

#endif
