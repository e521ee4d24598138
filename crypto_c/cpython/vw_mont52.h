// SPDX-License-Identifier: MIT
/* Montgomery multiplication in radix 2^52 with AVX-512 IFMA (vw_mont52.c): host only, for
 * vw_multiexp.c. PUBLIC inputs only (variable time). */
#ifndef VW_MONT52_H
#define VW_MONT52_H

#include <stddef.h>
#include <stdint.h>

#define VW_M52_BITS 52
#define VW_M52_MASK ((((uint64_t)1) << VW_M52_BITS) - 1)
/* the most digits (8192-bit moduli: ceil(8194 / 52) = 158, rounded up to 160 = 20 x 8) */
#define VW_M52_MAX_DIGITS 160

/* A modulus p (odd, > 1) in D digits of 52 bits, D a multiple of 8 with 4p < R' = 2^(52 D). */
typedef struct {
    size_t d;                        /* D: digits per element (a multiple of 8) */
    uint64_t k0;                     /* -1/p mod 2^52 */
    uint64_t p[VW_M52_MAX_DIGITS]; /* p's digits (the first d used) */
    uint64_t p40[56];              /* for d = 40: 8 zero digits, p's 40, 8 zero digits */
} vw_mont52;

/* 1 when this build has the IFMA code and the CPU (and OS) runs it, else 0. */
int vw_mont52_supported(void);
/* The digit count D for a modulus of `bits` bits: ceil((bits + 2) / 52) rounded up to a multiple
 * of 8 (so 4p < 2^(52 D)); 0 when above VW_M52_MAX_DIGITS. */
size_t vw_mont52_digits(size_t bits);
/* Sets m up for the modulus given as n 64-bit limbs (little-endian, p odd, > 1, its top limb
 * nonzero) with d = vw_mont52_digits(bits of p) digits. */
void vw_mont52_init(vw_mont52 *m, const uint64_t *p, size_t n, size_t d);
/* r = a * b / 2^(52 D) mod p as Gueron and Krasnov's "almost Montgomery multiplication": a, b
 * in [0, 2p) as D normalised digits (each < 2^52), r in [0, 2p) normalised; r may alias a or b.
 * Only when vw_mont52_supported(). */
void vw_mont52_mul(const vw_mont52 *m, uint64_t *r, const uint64_t *a, const uint64_t *b);
/* r (d digits) = the n little-endian 64-bit limbs x (64 n <= 52 d). */
void vw_mont52_from_limbs(uint64_t *r, size_t d, const uint64_t *x, size_t n);
/* r (n + 1 limbs) = the d normalised digits x (52 d <= 64 (n + 1)). */
void vw_mont52_to_limbs(uint64_t *r, size_t n, const uint64_t *x, size_t d);

#endif
