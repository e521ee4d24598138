/* SPDX-License-Identifier: MIT */
/*
 * vw_internal.h - internal helpers shared by the crypto_c sources (not API).
 * Numbers are little-endian arrays of n limbs. The modulus is public; every
 * helper marked "CT" runs in time independent of the values of its inputs.
 */
#ifndef VW_INTERNAL_H
#define VW_INTERNAL_H

#include "vw_modexp.h"

/* A parsed odd modulus: n limbs, m0inv = -m^-1 mod 2^VW_LIMB_BITS. */
typedef struct {
    const vw_limb *m;
    size_t n;
    vw_limb m0inv;
} vw_mod;

/* Parse a big-endian modulus into m (n limbs). Returns VW_OK or an error. */
int vw_mod_init(vw_mod *mod, vw_limb *m, const uint8_t *buf, size_t len);

/* R^2 mod m into r2 and R mod m into one (R = 2^(n*VW_LIMB_BITS)); t: n+2 limbs.
 * Depends only on the public modulus. */
void vw_mod_consts(const vw_mod *mod, vw_limb *r2, vw_limb *one, vw_limb *t);

/* CT: out = a*b/R mod m for a < R, b < m; out < m. t: n+2 limbs. out may alias a or b. */
void vw_mont_mul(vw_limb *out, const vw_limb *a, const vw_limb *b, const vw_mod *mod, vw_limb *t);

/* CT: out = a + b mod m for a, b < m. t: n limbs. */
void vw_mod_add(vw_limb *out, const vw_limb *a, const vw_limb *b, const vw_mod *mod, vw_limb *t);

/* CT: Montgomery form (x*R mod m) of the big-endian number buf of any public length.
 * r2 = R^2 mod m; t: 2n+2 limbs. */
void vw_to_mont(vw_limb *out, const uint8_t *buf, size_t len, const vw_limb *r2,
                const vw_mod *mod, vw_limb *t);

/* CT: load the len bytes ending at buf+len (big-endian) into n limbs, zero-extended. */
void vw_load_be(vw_limb *x, size_t n, const uint8_t *buf, size_t len);

/* CT: store n limbs big-endian into out_len bytes (zero-padded on the left;
 * out_len * 8 >= significant bits is the caller's duty). */
void vw_store_be(uint8_t *out, size_t out_len, const vw_limb *x, size_t n);

/* CT: out = table[idx] for a table of count entries of n limbs; reads every entry. */
void vw_ct_select(vw_limb *out, const vw_limb *table, size_t count, size_t n, vw_limb idx);

/* Overwrite n limbs with zeros in a way the compiler keeps. */
void vw_wipe(vw_limb *x, size_t n);

#endif /* VW_INTERNAL_H */
