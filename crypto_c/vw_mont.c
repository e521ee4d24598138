/* SPDX-License-Identifier: MIT */
/*
 * vw_mont.c - Montgomery arithmetic on vw_limb arrays (CIOS multiplication,
 * Koc, Acar & Kaliski 1996), with a masked final subtraction so that no branch
 * depends on the operands. Only the modulus set-up branches, on public data.
 */
#include <string.h>
#include "vw_internal.h"

#define LIMB_BYTES (VW_LIMB_BITS / 8)

/* CT: all-ones when x is nonzero-bit 1 (x in {0,1}), zero when x is 0. */
static vw_limb mask_of(vw_limb bit) { return (vw_limb)0 - bit; }

void vw_load_be(vw_limb *x, size_t n, const uint8_t *buf, size_t len) {
    size_t i, k;
    for (i = 0; i < n; i++) {
        vw_limb w = 0;
        for (k = 0; k < LIMB_BYTES; k++) {
            size_t pos = i * LIMB_BYTES + k; /* byte index from the least significant end */
            if (pos < len) {                 /* public: depends on lengths only */
                w |= (vw_limb)buf[len - 1 - pos] << (8 * k);
            }
        }
        x[i] = w;
    }
}

void vw_store_be(uint8_t *out, size_t out_len, const vw_limb *x, size_t n) {
    size_t pos;
    for (pos = 0; pos < out_len; pos++) {
        size_t i = pos / LIMB_BYTES, k = pos % LIMB_BYTES;
        out[out_len - 1 - pos] = (i < n) ? (uint8_t)(x[i] >> (8 * k)) : 0;
    }
}

void vw_wipe(vw_limb *x, size_t n) {
    volatile vw_limb *v = x;
    size_t i;
    for (i = 0; i < n; i++) v[i] = 0;
}

void vw_ct_select(vw_limb *out, const vw_limb *table, size_t count, size_t n, vw_limb idx) {
    size_t i, j;
    for (j = 0; j < n; j++) out[j] = 0;
    for (i = 0; i < count; i++) {
        vw_limb x = (vw_limb)i ^ idx;
        /* x == 0 -> top bit of (~x & (x-1)) is 1; x in [1, 2^(w-1)) -> 0 */
        vw_limb m = mask_of((~x & (x - 1)) >> (VW_LIMB_BITS - 1));
        const vw_limb *e = table + i * n;
        for (j = 0; j < n; j++) out[j] |= e[j] & m;
    }
}

/* CT: out = t - m if (hi || t >= m) else t, where t has n limbs plus the extra
 * top bit hi and t < 2m. out must not alias t (it may alias anything else). */
static void reduce_once(vw_limb *out, const vw_limb *t, vw_limb hi, const vw_mod *mod) {
    size_t j, n = mod->n;
    vw_limb borrow = 0, m;
    for (j = 0; j < n; j++) {
        vw_dlimb d = (vw_dlimb)t[j] - mod->m[j] - borrow;
        out[j] = (vw_limb)d;
        borrow = (vw_limb)(d >> (2 * VW_LIMB_BITS - 1)); /* 1 if it wrapped */
    }
    /* keep the difference when there was no borrow, or when hi absorbed it */
    m = mask_of(hi | (borrow ^ 1));
    for (j = 0; j < n; j++) out[j] = (out[j] & m) | (t[j] & ~m);
}

/* The inner step of Montgomery multiplication, t[j-1] = low limb of
 * t[j] + a[j]*bi + q*m[j] + carries, with one carry chain per product so no sum
 * leaves two limbs. On ARMv7E-M (Cortex-M4/M7) each product is one UMAAL
 * (hi:lo = x*y + lo + hi), single-cycle whatever the operands, which GCC does not
 * emit from C; elsewhere double-width accumulators, the fastest form for GCC. */
#if VW_LIMB_BITS == 32 && defined(__thumb2__) && defined(__ARM_FEATURE_DSP) && !defined(VW_NO_ASM)
#define VW_UMAAL(lo, hi, x, y) __asm__("umaal %0, %1, %2, %3" : "+r"(lo), "+r"(hi) : "r"(x), "r"(y))
typedef vw_limb vw_carry;
#define VW_STEP(j) do {                        \
        vw_limb lo_ = t[j];                    \
        VW_UMAAL(lo_, c1, a[j], bi);           \
        VW_UMAAL(lo_, c2, q, m[j]);            \
        t[(j) - 1] = lo_;                      \
    } while (0)
#define VW_LOW(c) (c)
#else
typedef vw_dlimb vw_carry;
#define VW_STEP(j) do {                        \
        c1 += (vw_dlimb)a[j] * bi + t[j];      \
        c2 += (vw_dlimb)q * m[j] + (vw_limb)c1; \
        t[(j) - 1] = (vw_limb)c2;              \
        c1 >>= VW_LIMB_BITS;                   \
        c2 >>= VW_LIMB_BITS;                   \
    } while (0)
#define VW_LOW(c) ((vw_limb)(c))
#endif

void vw_mont_mul(vw_limb *out, const vw_limb *a, const vw_limb *b, const vw_mod *mod, vw_limb *t) {
    size_t i, j, n = mod->n;
    const vw_limb *m = mod->m;
    for (j = 0; j <= n; j++) t[j] = 0;
    /* One pass per limb of b: t = (t + a*b[i] + q*m) / 2^w, with q chosen so that
     * the low limb vanishes (CIOS with the two products merged, as in BearSSL). */
    for (i = 0; i < n; i++) {
        vw_limb bi = b[i], q;
        vw_dlimb z = (vw_dlimb)a[0] * bi + t[0];
        vw_carry c1, c2;
        q = (vw_limb)z * mod->m0inv;
        c1 = (vw_carry)(z >> VW_LIMB_BITS);
        z = (vw_dlimb)q * m[0] + (vw_limb)z; /* low limb is 0 */
        c2 = (vw_carry)(z >> VW_LIMB_BITS);
        for (j = 1; j < n; j++) VW_STEP(j);
        z = (vw_dlimb)t[n] + VW_LOW(c1) + VW_LOW(c2); /* < 2^(w+1) */
        t[n - 1] = (vw_limb)z;
        t[n] = (vw_limb)(z >> VW_LIMB_BITS);
    }
    /* t[0..n] < 2m; a and b are no longer read, so out may alias them */
    reduce_once(out, t, t[n], mod);
}

void vw_mod_add(vw_limb *out, const vw_limb *a, const vw_limb *b, const vw_mod *mod, vw_limb *t) {
    size_t j, n = mod->n;
    vw_dlimb c = 0;
    for (j = 0; j < n; j++) {
        c += (vw_dlimb)a[j] + b[j];
        t[j] = (vw_limb)c;
        c >>= VW_LIMB_BITS;
    }
    reduce_once(out, t, (vw_limb)c, mod);
}

/* Significant length of a big-endian number (leading zero bytes dropped). */
static size_t sig_len(const uint8_t *buf, size_t len, const uint8_t **start) {
    while (len > 0 && buf[0] == 0) { buf++; len--; }
    *start = buf;
    return len;
}

size_t vw_mod_limbs(const uint8_t *mod, size_t mod_len) {
    const uint8_t *s;
    size_t len = sig_len(mod, mod_len, &s);
    return (len + LIMB_BYTES - 1) / LIMB_BYTES;
}

int vw_mod_init(vw_mod *mod, vw_limb *m, const uint8_t *buf, size_t len) {
    const uint8_t *s;
    size_t bits;
    vw_limb inv;
    int i;
    len = sig_len(buf, len, &s);
    if (len == 0) return VW_ERR_MOD_ZERO;
    if ((s[len - 1] & 1) == 0) return VW_ERR_MOD_EVEN;
    bits = (len - 1) * 8;
    for (i = s[0]; i; i >>= 1) bits++;
    if (bits > VW_MAX_MOD_BITS) return VW_ERR_MOD_TOO_LARGE;
    mod->n = (len + LIMB_BYTES - 1) / LIMB_BYTES;
    if (m != NULL) {
        vw_load_be(m, mod->n, s, len);
        /* Newton iteration for m0^-1 mod 2^w: each step doubles the correct bits (3 to start). */
        inv = m[0];
        for (i = 0; i < 6; i++) inv *= 2 - m[0] * inv;
        mod->m = m;
        mod->m0inv = (vw_limb)0 - inv;
    }
    return VW_OK;
}

/* x = 2x mod m (public data only). t: n limbs. */
static void mod_double(vw_limb *x, const vw_mod *mod, vw_limb *t) {
    size_t j;
    vw_limb carry = 0;
    for (j = 0; j < mod->n; j++) {
        t[j] = (x[j] << 1) | carry;
        carry = x[j] >> (VW_LIMB_BITS - 1);
    }
    reduce_once(x, t, carry, mod);
}

void vw_mod_consts(const vw_mod *mod, vw_limb *r2, vw_limb *one, vw_limb *t) {
    size_t n = mod->n, j, k = 0, steps;
    vw_limb top = mod->m[n - 1];
    for (j = 0; j < n; j++) one[j] = 0;
    if (n == 1 && mod->m[0] == 1) { /* everything is 0 mod 1 */
        for (j = 0; j < n; j++) r2[j] = 0;
        return;
    }
    while (top) { k++; top >>= 1; }
    k += (n - 1) * VW_LIMB_BITS;               /* k = bit length of m */
    one[(k - 1) / VW_LIMB_BITS] = (vw_limb)1 << ((k - 1) % VW_LIMB_BITS); /* 2^(k-1) < m */
    for (steps = n * VW_LIMB_BITS - (k - 1); steps; steps--) mod_double(one, mod, t); /* R mod m */
    /* R^2 = R * 2^(w n): double R mod m (w n / 32) times, then square 5 times in Montgomery form:
     * each squaring maps R*2^s to R*2^(2s). */
    for (j = 0; j < n; j++) r2[j] = one[j];
    for (steps = n * VW_LIMB_BITS / 32; steps; steps--) mod_double(r2, mod, t);
    for (steps = 0; steps < 5; steps++) vw_mont_mul(r2, r2, r2, mod, t);
}

void vw_to_mont(vw_limb *out, const uint8_t *buf, size_t len, const vw_limb *r2,
                const vw_mod *mod, vw_limb *t) {
    size_t n = mod->n, cb = n * LIMB_BYTES, chunks, first, k, j;
    vw_limb *c = t, *s = t + n;
    if (len == 0) {
        for (j = 0; j < n; j++) out[j] = 0;
        return;
    }
    chunks = (len + cb - 1) / cb;
    first = len - (chunks - 1) * cb;
    /* Horner over n-limb chunks, most significant first: v <- v*R + chunk. */
    for (k = 0; k < chunks; k++) {
        const uint8_t *p = buf + (k == 0 ? 0 : first + (k - 1) * cb);
        vw_load_be(c, n, p, k == 0 ? first : cb);
        vw_mont_mul(c, c, r2, mod, s); /* chunk * R mod m (chunk < R is enough) */
        if (k == 0) {
            for (j = 0; j < n; j++) out[j] = c[j];
        } else {
            vw_mont_mul(out, out, r2, mod, s);
            vw_mod_add(out, out, c, mod, s);
        }
    }
}
