/* SPDX-License-Identifier: MIT */
/*
 * vw_challenges.h - Schnorr challenges of a whole bill checked in one call (issue 14): for
 * every record t, e_t == H(R_t, y, M_t) with the hash-to-scalar of vwcore/group.py
 * (SHA-256, FIPS 180-4, of 0x00000000 || X and of 0x00000001 || X, the 64 bytes read
 * big-endian and reduced mod q). Host only, over OpenSSL libcrypto's SHA-256 and GMP:
 * part of the CPython binding (crypto_c/cpython/vwcrypto_build.py), never of the meter's
 * library. Python API: veriwatt.cchal. PUBLIC inputs only (variable time).
 */
#ifndef VW_CHALLENGES_H
#define VW_CHALLENGES_H

#include <stddef.h>
#include <stdint.h>

#define VW_CHAL_ERR_ARG (-1) /* lengths out of range */

/* Record t hashes pre0 || R_t || mid || slot_t || C_t (first half) and pre1 || the same
 * (second half), where R_t = rs[t*elen..], slot_t = slots[4t..4t+4), C_t = cs[t*elen..];
 * e_t = es[t*qlen..] (big-endian), q = q[0..qlen) big-endian. Returns the index of the
 * first record whose challenge differs, count when all match, VW_CHAL_ERR_ARG on bad
 * lengths (pre_len or mid_len above 4096, qlen 0 or above 64, elen 0 or above 1024). */
int64_t vw_challenges_check(const uint8_t *pre0, const uint8_t *pre1, size_t pre_len,
                            const uint8_t *mid, size_t mid_len, const uint8_t *rs,
                            const uint8_t *slots, const uint8_t *cs, size_t elen,
                            const uint8_t *es, const uint8_t *q, size_t qlen, size_t count);

/* The 64-byte hash of record t (both halves, before the reduction), into out (count * 64
 * bytes): for tests. Same arguments; returns 0 or VW_CHAL_ERR_ARG. */
int vw_challenges_digests(uint8_t *out, const uint8_t *pre0, const uint8_t *pre1, size_t pre_len,
                          const uint8_t *mid, size_t mid_len, const uint8_t *rs,
                          const uint8_t *slots, const uint8_t *cs, size_t elen, size_t count);

#endif
