/* SPDX-License-Identifier: MIT */
/*
 * vw_fixedbase.c - fixed-base comb exponentiation (Lim & Lee, CRYPTO '94; HAC 14.6.3)
 * over the compile-time tables of vw_fbtables.c. See vw_fixedbase.h for the method.
 * Every digit costs one multiplication by a vw_ct_select-ed entry whatever its value;
 * the loop bounds, the squarings and the byte positions read depend only on the
 * public table shapes and exponent lengths.
 */
#include "vw_fixedbase.h"
#include "vw_internal.h"

#define LIMB_BYTES (VW_LIMB_BITS / 8)

/* 1 iff the n limbs x hold the same number as the big-endian bytes p[0..len) (public values). */
static int same_number(const vw_limb *x, size_t n, const uint8_t *p, size_t len) {
    size_t pos;
    while (len > 0 && *p == 0) { p++; len--; } /* public values: may branch */
    if (len > n * LIMB_BYTES) return 0;
    for (pos = 0; pos < n * LIMB_BYTES; pos++) {
        uint8_t want = pos < len ? p[len - 1 - pos] : 0;
        if ((uint8_t)(x[pos / LIMB_BYTES] >> (8 * (pos % LIMB_BYTES))) != want) return 0;
    }
    return 1;
}

const vw_fb_table *vw_fb_find(const uint8_t *base, size_t base_len,
                              const uint8_t *mod, size_t mod_len, size_t exp_len) {
    const vw_fb_table *best = NULL;
    size_t k;
    for (k = 0; k < vw_fb_count; k++) {
        const vw_fb_table *t = vw_fb_tables[k];
        if (t->exp_bytes < exp_len) continue;
        if (best != NULL && best->exp_bytes <= t->exp_bytes) continue;
        if (!same_number(t->mod, t->n, mod, mod_len)) continue;
        if (!same_number(t->base, t->n, base, base_len)) continue;
        best = t;
    }
    return best;
}

/* CT: out = tab[idx] for nent (<= VW_FB_MAX_ENTRIES) entries of n limbs. Reads every entry
 * (as vw_ct_select), limb-major with the masks made once: one load, AND and OR per limb
 * and entry, the output written once. */
static void fb_select(vw_limb *out, const vw_limb *tab, size_t nent, size_t n, vw_limb idx) {
    vw_limb mk[VW_FB_MAX_ENTRIES];
    size_t i, j;
    for (i = 0; i < nent; i++) {
        vw_limb x = (vw_limb)i ^ idx; /* 0 only for the wanted entry */
        mk[i] = (vw_limb)0 - ((~x & (x - 1)) >> (VW_LIMB_BITS - 1));
    }
    for (j = 0; j < n; j++) {
        const vw_limb *e = tab + j;
        vw_limb acc = 0;
        for (i = 0; i < nent; i++) acc |= e[i * n] & mk[i];
        out[j] = acc;
    }
    vw_wipe(mk, nent);
}

/* Bit pos (0 = least significant) of the big-endian e[0..len); 0 beyond it.
 * The position is public, the value secret: no branch on the value. */
static vw_limb ebit(const uint8_t *e, size_t len, size_t pos) {
    if (pos / 8 >= len) return 0; /* public: position only */
    return (vw_limb)((e[len - 1 - pos / 8] >> (pos % 8)) & 1u);
}

int vw_fb_powmod(uint8_t *out, size_t out_len, size_t count,
                 const vw_fb_table *const *tabs,
                 const uint8_t *const *exp, const size_t *exp_len,
                 vw_limb *work, size_t work_limbs) {
    vw_mod mod;
    vw_limb *acc, *sel, *t, inv;
    size_t n, k, c, j, bmax = 0;
    int started = 0, i;
    if (count < 1 || count > VW_FB_MAX_TERMS || tabs[0] == NULL) return VW_ERR_MOD_ZERO;
    n = tabs[0]->n;
    for (k = 0; k < count; k++) {
        if (tabs[k] == NULL || tabs[k]->mod != tabs[0]->mod) return VW_ERR_MOD_ZERO;
        if (tabs[k]->h > VW_FB_MAX_ROWS) return VW_ERR_MOD_ZERO;
        if (exp_len[k] > tabs[k]->exp_bytes) return VW_ERR_EXP_TOO_LARGE;
        if (tabs[k]->b > bmax) bmax = tabs[k]->b;
    }
    if (out_len < n * LIMB_BYTES) {
        /* the top limb may have leading zero bytes; the modulus is public */
        size_t sig = n * LIMB_BYTES, pos;
        for (pos = n * LIMB_BYTES; pos-- > 0;) {
            if ((uint8_t)(tabs[0]->mod[pos / LIMB_BYTES] >> (8 * (pos % LIMB_BYTES))) != 0) break;
            sig--;
        }
        if (out_len < sig) return VW_ERR_OUT_LEN;
    }
    if (work_limbs < VW_FB_WORK_LIMBS(n)) return VW_ERR_WORKSPACE;

    mod.m = tabs[0]->mod;
    mod.n = n;
    inv = mod.m[0]; /* Newton: m0^-1 mod 2^w, doubling the correct bits each step */
    for (i = 0; i < 6; i++) inv *= 2 - mod.m[0] * inv;
    mod.m0inv = (vw_limb)0 - inv;
    acc = work; sel = acc + n; t = sel + n; /* t: 2n+2 limbs, enough for vw_mont_mul */

    for (c = bmax; c-- > 0;) {
        if (started) vw_mont_mul(acc, acc, acc, &mod, t);
        for (k = 0; k < count; k++) {
            const vw_fb_table *tb = tabs[k];
            size_t u, rows = tb->h, nent = (size_t)1 << tb->h;
            if (c >= tb->b) continue; /* public: this table has fewer columns */
            for (u = 0; u < tb->v; u++) {
                vw_limb d = 0;
                size_t r;
                for (r = 0; r < rows; r++) {
                    d |= ebit(exp[k], exp_len[k], r * tb->a + u * tb->b + c) << r;
                }
                fb_select(sel, tb->tab + u * nent * n, nent, n, d);
                if (started) {
                    vw_mont_mul(acc, acc, sel, &mod, t);
                } else {          /* acc = 1 * sel: a copy (public: first step only) */
                    for (j = 0; j < n; j++) acc[j] = sel[j];
                    started = 1;
                }
            }
        }
    }
    if (!started) for (j = 0; j < n; j++) acc[j] = tabs[0]->one[j];
    /* leave Montgomery form: multiply by plain 1 */
    for (j = 0; j < n; j++) sel[j] = 0;
    sel[0] = 1;
    vw_mont_mul(acc, acc, sel, &mod, t);
    vw_store_be(out, out_len, acc, n);
    vw_wipe(work, VW_FB_WORK_LIMBS(n));
    return VW_OK;
}
