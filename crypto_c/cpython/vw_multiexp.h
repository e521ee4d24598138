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
/* Backends of the Montgomery multiplication: VW_MEXP_MPN (GMP's mpn layer, any CPU) and
 * VW_MEXP_IFMA (radix 2^52 with AVX-512 IFMA, vw_mont52.c, when the CPU has it); VW_MEXP_AUTO
 * (the default) takes IFMA where the CPU has it for moduli of at least VW_MEXP_IFMA_MIN_BITS bits,
 * mpn otherwise (measured per product: IFMA 2-3x faster from 768 bits up, slower at 512 and
 * below 384 bits, where its multiple of 8 digits is mostly padding). */
#define VW_MEXP_AUTO 0
#define VW_MEXP_MPN 1
#define VW_MEXP_IFMA 2
#define VW_MEXP_IFMA_MIN_BITS 640
/* 1 when this build and CPU can run the IFMA backend. */
int vw_mexp_ifma_supported(void);
/* Chooses the backend for later calls (process-wide; VW_MEXP_IFMA forces it for every modulus
 * size); VW_MEXP_ERR_ARG for an unknown one or IFMA where unsupported. */
int vw_mexp_set_backend(int backend);
/* The backend (VW_MEXP_MPN or VW_MEXP_IFMA) vw_multiexp uses now for a modulus of mod_bits bits. */
int vw_mexp_backend(size_t mod_bits);
/* Benchmarks and tests of the backends: r = base, then reps times r = r * base / R (square = 0)
 * or r = r * r / R (square = 1) mod p on the backend vw_multiexp would use (R its radix),
 * out = r reduced to [0, p) (mod_len bytes; base mod_len bytes, below mod). */
int vw_mexp_mul_loop(uint8_t *out, const uint8_t *mod, size_t mod_len, const uint8_t *base, size_t reps,
                     int square);
/* The bucket width (4..VW_MEXP_MAX_WINDOW) vw_multiexp uses for count exponents of bits bits. */
unsigned vw_mexp_window(size_t count, size_t bits);

#endif
