/* SPDX-License-Identifier: MIT */
/*
 * vw_modexp.h - constant-time modular exponentiation for veriwatt.
 *
 * Portable C99. No malloc, no mutable globals: every call works in a
 * caller-provided workspace of vw_limb words. Numbers cross the API as
 * big-endian byte strings so that every binding (MicroPython user module,
 * MicroPython natmod, CPython cffi, bare metal) shares one calling convention.
 *
 * Secrecy model (as in BearSSL's i31/i62 code): the modulus and the LENGTHS of
 * all inputs are public; the VALUES of the base and the exponent are secret.
 * No branch and no memory index depends on a secret value: Montgomery
 * multiplication ends with a masked subtraction, window tables are read in
 * full and selected with masks. Callers that need the exponent length hidden
 * pad it to a public length (the Python bindings pad to a multiple of 32 bytes).
 */
#ifndef VW_MODEXP_H
#define VW_MODEXP_H

#include <stddef.h>
#include <stdint.h>

/* Limb size: 32 bits by default (Cortex-M, RISC-V, any C99 compiler);
 * 64 bits when VW_LIMB_BITS=64 and the compiler has unsigned __int128. */
#ifndef VW_LIMB_BITS
#define VW_LIMB_BITS 32
#endif
#if VW_LIMB_BITS == 64
typedef uint64_t vw_limb;
typedef unsigned __int128 vw_dlimb;
#elif VW_LIMB_BITS == 32
typedef uint32_t vw_limb;
typedef uint64_t vw_dlimb;
#else
#error "VW_LIMB_BITS must be 32 or 64"
#endif

/* Largest modulus, in bits, and the matching limb count. */
#define VW_MAX_MOD_BITS 4096
#define VW_MAX_LIMBS (VW_MAX_MOD_BITS / VW_LIMB_BITS)
/* Largest exponent, in bytes (4096 bits). */
#define VW_MAX_EXP_BYTES 512

/* Window width (bits) for one base, and the table size (one table of 16 entries for
 * powmod and powmod2 alike; powmod2 uses joint 2-bit windows). */
#define VW_WINDOW 4
#define VW_TABLE (1 << VW_WINDOW)

/* Workspace sizes, in limbs, for a modulus of n limbs (n = ceil(bits/VW_LIMB_BITS)). */
#define VW_POWMOD_WORK_LIMBS(n) ((VW_TABLE + 6) * (size_t)(n) + 4)
#define VW_POWMOD2_WORK_LIMBS(n) ((VW_TABLE + 6) * (size_t)(n) + 4)
/* Workspace for the largest modulus, usable for any call. */
#define VW_POWMOD_WORK_MAX VW_POWMOD_WORK_LIMBS(VW_MAX_LIMBS)
#define VW_POWMOD2_WORK_MAX VW_POWMOD2_WORK_LIMBS(VW_MAX_LIMBS)

/* Error codes (0 = success). */
#define VW_OK 0
#define VW_ERR_MOD_ZERO (-1)      /* modulus is zero */
#define VW_ERR_MOD_EVEN (-2)      /* modulus is even: Montgomery needs an odd one */
#define VW_ERR_MOD_TOO_LARGE (-3) /* modulus above VW_MAX_MOD_BITS */
#define VW_ERR_EXP_TOO_LARGE (-4) /* exponent longer than VW_MAX_EXP_BYTES */
#define VW_ERR_WORKSPACE (-5)     /* workspace too small (see VW_*_WORK_LIMBS) */
#define VW_ERR_OUT_LEN (-6)       /* output buffer shorter than the modulus */

/* Short English text for an error code (never contains data). */
const char *vw_strerror(int err);

/* Number of limbs needed for a modulus of mod_len bytes (leading zeros ignored). */
size_t vw_mod_limbs(const uint8_t *mod, size_t mod_len);

/*
 * out = base^exp mod mod.
 * out_len must be >= the modulus length in bytes without leading zeros; the
 * result is written big-endian, left-padded with zeros to out_len.
 * base may be any length (it is reduced); exp is at most VW_MAX_EXP_BYTES.
 * work must hold VW_POWMOD_WORK_LIMBS(vw_mod_limbs(mod, mod_len)) limbs; it is
 * wiped before return. Returns VW_OK or a VW_ERR_* code (out untouched then).
 */
int vw_powmod(uint8_t *out, size_t out_len,
              const uint8_t *base, size_t base_len,
              const uint8_t *exp, size_t exp_len,
              const uint8_t *mod, size_t mod_len,
              vw_limb *work, size_t work_limbs);

/*
 * out = g^a * h^b mod mod, in one pass (joint 2-bit windows over a table of
 * g^i h^j, i, j < 4: the squarings are shared). For Pedersen commitments g^m h^r.
 * a and b are padded internally to the longer of the two lengths.
 * work must hold VW_POWMOD2_WORK_LIMBS(n) limbs. Same errors as vw_powmod.
 */
int vw_powmod2(uint8_t *out, size_t out_len,
               const uint8_t *g, size_t g_len,
               const uint8_t *a, size_t a_len,
               const uint8_t *h, size_t h_len,
               const uint8_t *b, size_t b_len,
               const uint8_t *mod, size_t mod_len,
               vw_limb *work, size_t work_limbs);

#endif /* VW_MODEXP_H */
