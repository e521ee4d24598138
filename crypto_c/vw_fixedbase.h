/* SPDX-License-Identifier: MIT */
/*
 * vw_fixedbase.h - fixed-base exponentiation over tables built at compile time.
 *
 * Method: the fixed-base comb of Lim & Lee, "More flexible exponentiation with
 * precomputation", CRYPTO '94 (LNCS 839, pp. 95-107); HAC (Menezes et al. 1996) 14.6.3,
 * Algorithm 14.117 for v = 1. For a base B, exponents of at most t bits, h rows and v
 * blocks: a = row length (bits), b = a / v columns per block, and the table holds
 *     T[u][j] = prod_{i < h, bit i of j} B^(2^(i*a + u*b))      (u < v, j < 2^h)
 * in Montgomery form. Then B^e = prod_{c < b} (prod_u T[u][d(u, c)])^(2^c), where the
 * digit d(u, c) collects the exponent bits i*a + u*b + c, i < h: b - 1 squarings and
 * v*b multiplications, each by an entry picked in constant time (every entry read,
 * mask-selected, as vw_ct_select). vw_fb_powmod runs several tables in one loop, sharing the squarings
 * (g^m h^r: Straus's simultaneous multi-exponentiation, HAC 14.88).
 *
 * Secrecy model as in vw_modexp.h: the modulus, the base, the tables and the exponent
 * LENGTHS are public; the exponent VALUES are secret. The tables come from
 * tools/gen_fb_tables.py (crypto_c/vw_fbtables.c, const data: flash on an MCU).
 */
#ifndef VW_FIXEDBASE_H
#define VW_FIXEDBASE_H

#include "vw_modexp.h"

typedef struct vw_fb_table {
    const vw_limb *mod;   /* the modulus, n limbs little-endian */
    const vw_limb *one;   /* R mod p (Montgomery form of 1), n limbs */
    const vw_limb *base;  /* the base B (plain), n limbs: to find the table */
    const vw_limb *tab;   /* v * 2^h entries of n limbs, entry (u, j) at (u << h) + j */
    uint16_t n;           /* limbs */
    uint16_t exp_bytes;   /* largest exponent, bytes (t rounded up to bytes) */
    uint8_t h, v;         /* rows, blocks */
    uint16_t a, b;        /* row length (= b * v) and columns, bits */
} vw_fb_table;

/* The generated tables (vw_fbtables.c, which checks VW_FB_COUNT at compile time). */
#define VW_FB_COUNT 3
extern const vw_fb_table *const vw_fb_tables[];
extern const size_t vw_fb_count;

/* Largest number of rows h (a table has 2^h entries per block). */
#define VW_FB_MAX_ROWS 6
#define VW_FB_MAX_ENTRIES (1 << VW_FB_MAX_ROWS)
/* Largest number of tables one vw_fb_powmod call takes. */
#define VW_FB_MAX_TERMS 4
/* Workspace, in limbs, for vw_fb_powmod with a modulus of n limbs. */
#define VW_FB_WORK_LIMBS(n) (4 * (size_t)(n) + 2)

/* The table for base B (base_len big-endian bytes) modulo mod (mod_len bytes) whose exponent
 * capacity is the smallest that holds exp_len bytes, or NULL. Base and modulus are public. */
const vw_fb_table *vw_fb_find(const uint8_t *base, size_t base_len,
                              const uint8_t *mod, size_t mod_len, size_t exp_len);

/* out = prod_k B_k^e_k mod p for k < count (1 .. VW_FB_MAX_TERMS) tables of one modulus;
 * exp[k]: exp_len[k] big-endian bytes, at most tabs[k]->exp_bytes. out_len >= n limbs'
 * bytes of the modulus is enough. work: VW_FB_WORK_LIMBS(n) limbs, wiped before return.
 * Returns VW_OK, VW_ERR_EXP_TOO_LARGE, VW_ERR_WORKSPACE, VW_ERR_OUT_LEN or VW_ERR_MOD_ZERO
 * (no table, tables of different moduli, or a bad count). */
int vw_fb_powmod(uint8_t *out, size_t out_len, size_t count,
                 const vw_fb_table *const *tabs,
                 const uint8_t *const *exp, const size_t *exp_len,
                 vw_limb *work, size_t work_limbs);

#endif /* VW_FIXEDBASE_H */
