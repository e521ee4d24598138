/* SPDX-License-Identifier: MIT */
/*
 * vw_powmod.c - fixed-window modular exponentiation in Montgomery form: 4-bit
 * windows for one base, joint 2-bit windows for two (Straus/Shamir: the squarings
 * are shared, one 16-entry table). Every exponent nibble costs the same squarings and
 * multiplications whatever its value, and table entries are picked with
 * vw_ct_select, so time and memory access depend only on public lengths.
 */
#include "vw_internal.h"

const char *vw_strerror(int err) {
    switch (err) {
        case VW_OK: return "ok";
        case VW_ERR_MOD_ZERO: return "modulus must be nonzero";
        case VW_ERR_MOD_EVEN: return "modulus must be odd";
        case VW_ERR_MOD_TOO_LARGE: return "modulus larger than 4096 bits";
        case VW_ERR_EXP_TOO_LARGE: return "exponent larger than 4096 bits";
        case VW_ERR_WORKSPACE: return "workspace too small";
        case VW_ERR_OUT_LEN: return "output buffer shorter than the modulus";
        default: return "unknown error";
    }
}

/* Digit i (0 = most significant) of width w bits (2 or 4) of exp, seen as left-padded
 * with zeros to pad_len bytes. Positions are public; only the value is secret. */
static vw_limb digit(const uint8_t *exp, size_t len, size_t pad_len, size_t i, unsigned w) {
    size_t per = 8 / w, byte = i / per, off = pad_len - len;
    unsigned shift = (unsigned)(8 - w - w * (i % per));
    if (byte < off) return 0; /* public: position only */
    return (vw_limb)((exp[byte - off] >> shift) & ((1u << w) - 1));
}

/*
 * Shared core: out = prod_k base_k^exp_k mod m for k < nb (1 or 2), with one table of
 * VW_TABLE = 16 Montgomery-form entries:
 *   nb = 1: T[i] = b^i, 4-bit windows (fixed window exponentiation, HAC 14.82);
 *   nb = 2: T[4i + j] = g^i h^j, joint 2-bit windows (Straus/Shamir, HAC 14.88): the
 *           squarings are shared and the table is no bigger than for one base.
 * Each digit costs w squarings and one multiplication by a CT-selected entry.
 * Workspace: m | r2 | acc | sel | t (2n+2) | table (16n).
 */
static int pow_core(uint8_t *out, size_t out_len, size_t nb,
                    const uint8_t *const *base, const size_t *base_len,
                    const uint8_t *const *exp, const size_t *exp_len,
                    const uint8_t *modbuf, size_t mod_len,
                    vw_limb *work, size_t work_limbs) {
    vw_mod mod;
    size_t n, k, i, j, elen = 0, ndigits, need;
    unsigned w = nb == 1 ? VW_WINDOW : VW_WINDOW / 2;
    vw_limb *m, *r2, *acc, *sel, *t, *tab;
    int err = vw_mod_init(&mod, NULL, modbuf, mod_len);
    if (err != VW_OK) return err;
    n = mod.n;
    for (k = 0; k < nb; k++) {
        if (exp_len[k] > VW_MAX_EXP_BYTES) return VW_ERR_EXP_TOO_LARGE;
        if (exp_len[k] > elen) elen = exp_len[k];
    }
    {   /* the result needs as many bytes as the modulus has significant bytes */
        size_t sig = mod_len;
        const uint8_t *p = modbuf;
        while (sig > 0 && *p == 0) { p++; sig--; }
        if (out_len < sig) return VW_ERR_OUT_LEN;
    }
    need = (VW_TABLE + 6) * n + 2;
    if (work_limbs < need) return VW_ERR_WORKSPACE;

    m = work; r2 = m + n; acc = r2 + n; sel = acc + n; t = sel + n; tab = t + 2 * n + 2;
    vw_mod_init(&mod, m, modbuf, mod_len);
    vw_mod_consts(&mod, r2, tab, t); /* T[0] = R mod m, the Montgomery form of 1 */

    if (nb == 1) {
        vw_to_mont(tab + n, base[0], base_len[0], r2, &mod, t);
        for (i = 2; i < VW_TABLE; i++) vw_mont_mul(tab + i * n, tab + (i - 1) * n, tab + n, &mod, t);
    } else {
        vw_limb *g = acc; /* acc is free until the main loop */
        vw_to_mont(tab + n, base[1], base_len[1], r2, &mod, t);       /* T[1] = h */
        for (j = 2; j < 4; j++) vw_mont_mul(tab + j * n, tab + (j - 1) * n, tab + n, &mod, t);
        vw_to_mont(g, base[0], base_len[0], r2, &mod, t);
        for (i = 4; i < VW_TABLE; i++) vw_mont_mul(tab + i * n, tab + (i - 4) * n, g, &mod, t);
    }

    ndigits = elen * (8 / w);
    for (j = 0; j < n; j++) acc[j] = tab[j];
    for (i = 0; i < ndigits; i++) {
        vw_limb d;
        if (i > 0) {
            for (j = 0; j < w; j++) vw_mont_mul(acc, acc, acc, &mod, t);
        }
        d = digit(exp[0], exp_len[0], elen, i, w);
        if (nb == 2) d = (d << 2) | digit(exp[1], exp_len[1], elen, i, w);
        vw_ct_select(sel, tab, VW_TABLE, n, d);
        vw_mont_mul(acc, acc, sel, &mod, t);
    }
    /* leave Montgomery form: multiply by plain 1 */
    for (j = 0; j < n; j++) sel[j] = 0;
    sel[0] = 1;
    vw_mont_mul(acc, acc, sel, &mod, t);
    if (n == 1 && m[0] == 1) acc[0] = 0; /* x mod 1 = 0 (public) */
    vw_store_be(out, out_len, acc, n);
    vw_wipe(work, need);
    return VW_OK;
}

int vw_powmod(uint8_t *out, size_t out_len,
              const uint8_t *base, size_t base_len,
              const uint8_t *exp, size_t exp_len,
              const uint8_t *mod, size_t mod_len,
              vw_limb *work, size_t work_limbs) {
    const uint8_t *b[1] = {base}, *e[1] = {exp};
    size_t bl[1] = {base_len}, el[1] = {exp_len};
    return pow_core(out, out_len, 1, b, bl, e, el, mod, mod_len, work, work_limbs);
}

int vw_powmod2(uint8_t *out, size_t out_len,
               const uint8_t *g, size_t g_len,
               const uint8_t *a, size_t a_len,
               const uint8_t *h, size_t h_len,
               const uint8_t *b, size_t b_len,
               const uint8_t *mod, size_t mod_len,
               vw_limb *work, size_t work_limbs) {
    const uint8_t *bs[2] = {g, h}, *es[2] = {a, b};
    size_t bl[2] = {g_len, h_len}, el[2] = {a_len, b_len};
    return pow_core(out, out_len, 2, bs, bl, es, el, mod, mod_len, work, work_limbs);
}
