// SPDX-License-Identifier: MIT
/* Multi-exponentiation over GMP for the CPython binding (vw_multiexp.c): PUBLIC inputs only. */
#ifndef VW_MULTIEXP_H
#define VW_MULTIEXP_H

#include <stddef.h>
#include <stdint.h>

#define VW_MEXP_OK 0
#define VW_MEXP_ERR_ARG (-1)   /* empty modulus, or modulus / exponent longer than the maxima */
#define VW_MEXP_ERR_MOD (-2)   /* modulus even, 1, or with a zero top limb (give its minimal length) */
#define VW_MEXP_ERR_BASE (-3)  /* a base is not below the modulus */
#define VW_MEXP_ERR_NOMEM (-4) /* out of memory */
#define VW_MEXP_MAX_MOD_BYTES 1024 /* 8192-bit moduli */
#define VW_MEXP_MAX_EXP_BYTES 1024
#define VW_MEXP_MAX_WINDOW 16

/* out = prod_{i < count} bases[i]^exps[i] mod mod (little-endian, fixed-width strings: mod and
 * every base mod_len bytes, every exponent exp_len bytes, out mod_len bytes). Variable time. */
int vw_multiexp(uint8_t *out, const uint8_t *mod, size_t mod_len, size_t count, const uint8_t *bases,
                const uint8_t *exps, size_t exp_len);
/* The bucket width (4..VW_MEXP_MAX_WINDOW) vw_multiexp uses for count exponents of bits bits. */
unsigned vw_mexp_window(size_t count, size_t bits);

#endif
