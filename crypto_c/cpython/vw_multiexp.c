// SPDX-License-Identifier: MIT
/* Multi-exponentiation prod b_i^e_i mod p over GMP (and AVX-512 IFMA): host only (the CPython
 * binding vwcrypto._vwcrypto, crypto_c/cpython/vwcrypto_build.py), never the firmware.
 *
 * PUBLIC INPUTS ONLY. The running time and the memory accessed depend on the exponents and
 * the bases (buckets chosen by exponent digits, skipped empty buckets, GMP's variable-time
 * arithmetic, the IFMA product's data-dependent carry pass): this serves verifiers (batch
 * verification of bills: commitments, signature commitments R_t, random batch weights,
 * prices), where every input is public or, for the batch weights, chosen by the verifier and
 * never reused. Never call it with a secret.
 *
 * Method: Montgomery multiplication (Montgomery, Math. Comp. 44, 1985; HAC 14.36) in one of two
 * backends, chosen at run time (vw_mexp_set_backend; mmul is the single point every method
 * calls): "mpn", REDC as GMP's mpn_redc_1 over 64-bit limbs (R = 2^(64 n), results in [0, p)),
 * any CPU; "ifma", radix 2^52 with AVX-512 IFMA (vw_mont52.c: Gueron and Krasnov's almost
 * Montgomery multiplication, R = 2^(52 D), results in [0, 2p), reduced once at the end), used by
 * default where the CPU has it for moduli of 640 bits and more, for every size when forced.
 * Elements are n limbs or D digits (mont.w words). Over either, Pippenger's bucket method
 * (HAC 14.5; Bernstein et al., "Faster batch forgery identification", INDOCRYPT 2012, sec. 4):
 * per c-bit window one multiplication per base into the bucket of its digit, the buckets
 * combined as prod B_d^d by running products, windows joined by c squarings. The window
 * width minimises n + 2 * 2^c per window. Exponents of at most 64 bits (the batch weights,
 * prices) go through Bos-Coster's method instead (below: about 7.6 multiplications per base
 * for 1,488 random 64-bit exponents and 5.1 for 47,616, against 10.8 and 6.5 for the buckets,
 * counted by a simulation; measured 12% and 3-20% less time on mpn, on a loaded machine),
 * except on IFMA from BOS_COSTER_IFMA_MAX_COUNT bases (there the heap's cache misses cost as
 * much as a product: the buckets take less time). The bases
 * enter as they are (no conversion into Montgomery form: one multiplication by R^E mod p at
 * the end, see vw_multiexp; R is the backend's), so a product of k bases costs k
 * multiplications.
 *
 * Byte strings are little-endian, fixed width: the modulus mod_len bytes, each base mod_len
 * bytes (base < modulus), each exponent exp_len bytes, the output mod_len bytes. */

#include <gmp.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vw_multiexp.h"
#include "vw_mont52.h"

#define LB (GMP_NUMB_BITS / 8)
#ifndef BOS_COSTER_BITS /* exponents up to this many bits go through Bos-Coster (0: never; tests) */
#define BOS_COSTER_BITS 64
#endif
/* ... but on the IFMA backend only below this many bases: there a product costs about as much as
 * Bos-Coster's heap step for a large heap, and the buckets (no heap, the bases read in order)
 * take less time from about 6,000 bases despite their 6.5 products per base against 5.1
 * (measured for 2048 bits: even at 1,488 and 6,000 bases, 8% and 10-15% less time at 16,000
 * and 47,616) */
#ifndef BOS_COSTER_IFMA_MAX_COUNT
#define BOS_COSTER_IFMA_MAX_COUNT 8192
#endif

static void from_le(mp_limb_t *r, size_t n, const uint8_t *b, size_t len) {
    memset(r, 0, n * sizeof(mp_limb_t));
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && GMP_NAIL_BITS == 0
    memcpy(r, b, len); /* the limbs are the bytes in order (len <= n LB) */
#else
    for (size_t i = 0; i < len; i++) {
        r[i / LB] |= (mp_limb_t)b[i] << (8 * (i % LB));
    }
#endif
}

static void to_le(uint8_t *b, size_t len, const mp_limb_t *r, size_t n) {
    for (size_t i = 0; i < len; i++) {
        b[i] = i / LB < n ? (uint8_t)(r[i / LB] >> (8 * (i % LB))) : 0;
    }
}

/* The IFMA path needs 64-bit limbs (its digits are uint64_t, as the limbs). */
#define VW_MEXP_HAVE_IFMA (GMP_NUMB_BITS == 64 && GMP_NAIL_BITS == 0)

static int backend_choice = VW_MEXP_AUTO;

int vw_mexp_ifma_supported(void) {
    static int s = -1;
    if (s < 0) {
        s = VW_MEXP_HAVE_IFMA && vw_mont52_supported();
    }
    return s;
}

int vw_mexp_set_backend(int b) {
    if (b != VW_MEXP_AUTO && b != VW_MEXP_MPN && b != VW_MEXP_IFMA) {
        return VW_MEXP_ERR_ARG;
    }
    if (b == VW_MEXP_IFMA && !vw_mexp_ifma_supported()) {
        return VW_MEXP_ERR_ARG;
    }
    backend_choice = b;
    return VW_MEXP_OK;
}

int vw_mexp_backend(size_t mod_bits) {
    if (backend_choice == VW_MEXP_MPN || !vw_mexp_ifma_supported() || vw_mont52_digits(mod_bits) == 0) {
        return VW_MEXP_MPN;
    }
    if (backend_choice == VW_MEXP_AUTO && mod_bits < VW_MEXP_IFMA_MIN_BITS) {
        return VW_MEXP_MPN;
    }
    return VW_MEXP_IFMA;
}

typedef struct {
    const mp_limb_t *p;
    size_t n;
    mp_limb_t pinv;        /* -1/p mod 2^GMP_NUMB_BITS */
    mp_limb_t *t;          /* 2n limbs of scratch */
    size_t w;              /* words per element: n (limbs) on the mpn path, D (52-bit digits) on IFMA */
    const vw_mont52 *m52;  /* the IFMA path's modulus, or NULL for the mpn path */
} mont;

/* r = a * b / R mod p (r may alias a or b). mpn path: R = 2^(GMP_NUMB_BITS n), 0 <= r < p;
 * IFMA path (m->m52): R = 2^(52 D), r in [0, 2p) as D 52-bit digits (vw_mont52_mul). */
static void mmul(const mont *m, mp_limb_t *r, const mp_limb_t *a, const mp_limb_t *b) {
    if (m->m52) {
        vw_mont52_mul(m->m52, (uint64_t *)r, (const uint64_t *)a, (const uint64_t *)b);
        return;
    }
    size_t n = m->n;
    mp_limb_t *t = m->t;
    if (a == b) {
        mpn_sqr(t, a, n);
    } else {
        mpn_mul_n(t, a, b, n);
    }
    for (size_t i = 0; i < n; i++) { /* as GMP's mpn_redc_1: t[i] becomes 0, keeps the carry */
        t[i] = mpn_addmul_1(t + i, m->p, n, t[i] * m->pinv);
    }
    mp_limb_t cy = mpn_add_n(r, t + n, t, n);
    if (cy || mpn_cmp(r, m->p, n) >= 0) {
        mpn_sub_n(r, r, m->p, n);
    }
}

static mp_limb_t neg_inverse(mp_limb_t p0) {
    mp_limb_t x = p0; /* p0 * p0 == 1 mod 8: 3 correct bits, each Newton step doubles them */
    for (int i = 0; i < 6; i++) {
        x *= 2 - p0 * x;
    }
    return (mp_limb_t)0 - x;
}

/* bits [sh, sh + w) of a little-endian exponent of len bytes (w <= 16). */
static unsigned digit(const uint8_t *e, size_t len, size_t sh, unsigned w) {
    uint32_t v = 0;
    size_t k = sh / 8;
    for (size_t j = 0; j < 3 && k + j < len; j++) {
        v |= (uint32_t)e[k + j] << (8 * j);
    }
    return (v >> (sh % 8)) & ((1u << w) - 1);
}

static size_t exp_bits(const uint8_t *exps, size_t count, size_t exp_len) {
    size_t bits = 0;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *e = exps + i * exp_len;
        for (size_t k = exp_len; k > 0 && 8 * k > bits; k--) {
            if (e[k - 1]) {
                size_t b = 8 * (k - 1);
                for (unsigned v = e[k - 1]; v; v >>= 1) {
                    b++;
                }
                bits = b > bits ? b : bits;
                break;
            }
        }
    }
    return bits;
}

unsigned vw_mexp_window(size_t count, size_t bits) {
    unsigned best = 4;
    double best_cost = -1;
    for (unsigned c = 4; c <= VW_MEXP_MAX_WINDOW; c++) {
        double cost = 0;
        size_t windows = 0;
        for (size_t sh = 0; sh < bits; sh += c) {
            size_t w = bits - sh < c ? bits - sh : c;
            cost += (double)count + 2.0 * (double)((size_t)1 << w);
            windows++;
        }
        cost += (double)c * (double)(windows ? windows - 1 : 0);
        if (best_cost < 0 || cost < best_cost) {
            best_cost = cost;
            best = c;
        }
    }
    return best;
}

/* acc = acc * x (acc_set: whether acc holds a value; an unset acc is 1). */
static void acc_mul(const mont *m, mp_limb_t *acc, int *acc_set, const mp_limb_t *x) {
    if (*acc_set) {
        mmul(m, acc, acc, x);
    } else {
        memcpy(acc, x, m->w * sizeof(mp_limb_t));
        *acc_set = 1;
    }
}

typedef struct {
    const mont *m;
    const mp_limb_t *bm; /* the bases (as Montgomery representatives), count x w words */
    const uint8_t *exps;
    size_t count, exp_len;
    mp_limb_t *buckets; /* 2^c x w words */
    uint8_t *used;      /* 2^c flags */
    mp_limb_t *run, *tot;
} pip;

/* tot = prod_d B_d^d over the window [sh, sh + w); returns whether tot was set. */
static int window(pip *P, size_t sh, unsigned w) {
    const mont *m = P->m;
    size_t n = m->w, nb = (size_t)1 << w;
    memset(P->used, 0, nb);
    for (size_t i = 0; i < P->count; i++) {
        unsigned d = digit(P->exps + i * P->exp_len, P->exp_len, sh, w);
        if (d) {
            int set = P->used[d];
            acc_mul(m, P->buckets + d * n, &set, P->bm + i * n);
            P->used[d] = 1;
        }
    }
    int run_set = 0, tot_set = 0;
    for (size_t d = nb - 1; d > 0; d--) {
        if (P->used[d]) {
            acc_mul(m, P->run, &run_set, P->buckets + d * n);
        }
        if (run_set) {
            acc_mul(m, P->tot, &tot_set, P->run);
        }
    }
    return tot_set;
}

static int pippenger(pip *P, mp_limb_t *acc, size_t bits) {
    const mont *m = P->m;
    unsigned c = vw_mexp_window(P->count, bits);
    int acc_set = 0;
    for (size_t sh = ((bits - 1) / c) * c;; sh -= c) {
        if (acc_set) {
            for (unsigned k = 0; k < c; k++) {
                mmul(m, acc, acc, acc);
            }
        }
        unsigned w = bits - sh < c ? (unsigned)(bits - sh) : c;
        if (window(P, sh, w)) {
            acc_mul(m, acc, &acc_set, P->tot);
        }
        if (sh == 0) {
            break;
        }
    }
    return acc_set;
}

/* malloc, or for 4 MB and more (a batch's bases: 15 MB for 47,616 2048-bit elements, read in
 * a random order by Bos-Coster) memory aligned to 2 MB and advised to the kernel as huge pages
 * where it has them (Linux's transparent huge pages): fewer TLB misses. Freed by free(). */
static void *alloc_big(size_t size) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    const size_t huge = (size_t)2 << 20;
    if (size >= 2 * huge && size <= SIZE_MAX - huge) {
        void *p = NULL;
        if (posix_memalign(&p, huge, (size + huge - 1) / huge * huge) != 0) {
            return NULL;
        }
        (void)madvise(p, (size + huge - 1) / huge * huge, MADV_HUGEPAGE); /* a hint: failure is harmless */
        return p;
    }
#endif
    return malloc(size);
}

/* ---- Bos-Coster (exponents of at most 64 bits): a max-heap of the exponents; the largest
 * two (x1, e1), (x2, e2) become (x1, e1 mod e2), (x1^(e1 div e2) x2, e2), since
 * x1^e1 x2^e2 = x1^(e1 mod e2) (x1^(e1 div e2) x2)^e2 (de Rooij, EUROCRYPT '94, crediting Bos
 * and Coster; the heap as in Bernstein et al., "High-speed high-security signatures", 2011,
 * batch verification). Every step lowers the sum of the exponents: it ends, with one
 * exponent left, raised by square-and-multiply.
 * The heap holds (exponent, index) pairs (no indirection into an array of exponents, which
 * cost a cache miss per level: a batch of 47,616 bases makes a 760 KB heap, sharing the L2 cache
 * with the bases' products), and the root's new exponent, e1 mod e2, mostly small, goes down by
 * Floyd's bottom-up sift (Knuth, TAOCP 5.2.3, ex. 18): the hole to a leaf along the larger
 * children (one comparison per level), then up to its place. Each step's heap work is done
 * before its product, so the next step's two elements (known then) are prefetched while the
 * product runs (the bases, 320 bytes each for 2048 bits, 15 MB for 47,616, are read in no
 * predictable order; they and the heap are on huge pages where the OS gives them: alloc_big). */

typedef struct {
    uint64_t e;
    uint64_t i; /* (not size_t: 16 bytes on every target) */
} bc_ent;

/* The heap is binary (children of k: 2k + 1, 2k + 2), its 16-byte entries placed so that the
 * two children of a node share a cache line (entry 0 at 16 bytes past a multiple of 64: see
 * bos_coster_le). (Prefetching the line of the grandchildren, or of 8 or 16 descendants, while
 * going down, and a 4-ary heap, measured no faster.) */

/* The index of the larger child of pos (there is at least one: 2 pos + 1 < len). */
static size_t larger_child(const bc_ent *h, size_t len, size_t pos) {
    size_t c = 2 * pos + 1;
    return (c + 1 < len && h[c + 1].e > h[c].e) ? c + 1 : c;
}

/* Restores the heap order of h (len entries) after h[0] got the exponent e (not larger than
 * before). */
static void sift_root(bc_ent *h, size_t len, uint64_t e) {
    bc_ent top = {e, h[0].i};
    size_t pos = 0;
    while (2 * pos + 1 < len) { /* the hole down to a leaf, along the larger children */
        size_t c = larger_child(h, len, pos);
        h[pos] = h[c];
        pos = c;
    }
    while (pos > 0) { /* and up to top's place */
        size_t parent = (pos - 1) / 2;
        if (h[parent].e >= e) {
            break;
        }
        h[pos] = h[parent];
        pos = parent;
    }
    h[pos] = top;
}

/* The heap order from scratch (Floyd's heap construction, plain sift-down). */
static void heapify(bc_ent *h, size_t len) {
    for (size_t pos = len / 2; pos-- > 0;) {
        bc_ent v = h[pos];
        size_t at = pos;
        while (2 * at + 1 < len) {
            size_t c = larger_child(h, len, at);
            if (h[c].e <= v.e) {
                break;
            }
            h[at] = h[c];
            at = c;
        }
        h[at] = v;
    }
}

/* The heap's second largest entry: root's larger child (len >= 2). */
static size_t second(const bc_ent *h, size_t len) {
    return larger_child(h, len, 0);
}

static void prefetch_elem(const mp_limb_t *x, size_t w) {
#if defined(__GNUC__)
    for (size_t k = 0; k < w; k += 64 / sizeof(mp_limb_t)) {
        __builtin_prefetch(x + k);
    }
#else
    (void)x;
    (void)w;
#endif
}

/* r = x^e (e >= 1) by left-to-right square-and-multiply; r must not alias x. */
static void mpow(const mont *m, mp_limb_t *r, const mp_limb_t *x, uint64_t e) {
    int top = 63;
    while (!((e >> top) & 1)) {
        top--;
    }
    memcpy(r, x, m->w * sizeof(mp_limb_t));
    for (int b = top - 1; b >= 0; b--) {
        mmul(m, r, r, r);
        if ((e >> b) & 1) {
            mmul(m, r, r, x);
        }
    }
}

/* acc = prod x_i^h[j].e over the count bases x (overwritten; h[j].i = j on entry, h
 * overwritten), returns whether acc was set (unset: the product is 1). tmp: one element (w
 * words). */
static int bos_coster(const mont *m, mp_limb_t *x, bc_ent *h, size_t count, mp_limb_t *acc, mp_limb_t *tmp) {
    size_t n = m->w;
    heapify(h, count);
    while (count >= 2) {
        size_t s = second(h, count);
        uint64_t e1 = h[0].e, e2 = h[s].e;
        if (e2 == 0) {
            break;
        }
        const mp_limb_t *x1 = x + h[0].i * n;
        mp_limb_t *x2 = x + h[s].i * n;
        uint64_t q = e1 / e2;
        sift_root(h, count, e1 - q * e2); /* the heap's work first: */
        prefetch_elem(x + h[0].i * n, n); /* the next step's elements, while this one's product runs */
        prefetch_elem(x + h[second(h, count)].i * n, n);
        if (q == 1) {
            mmul(m, x2, x2, x1);
        } else {
            mpow(m, tmp, x1, q);
            mmul(m, x2, x2, tmp);
        }
    }
    if (count == 0 || h[0].e == 0) {
        return 0;
    }
    mpow(m, acc, x + h[0].i * n, h[0].e);
    return 1;
}

/* bos_coster on exponents given as exp_len-byte little-endian strings of at most 64 bits;
 * -1 when out of memory. */
static int bos_coster_le(const mont *m, mp_limb_t *x, const uint8_t *exps, size_t count, size_t exp_len,
                         mp_limb_t *acc, mp_limb_t *tmp) {
    if (count > (SIZE_MAX - 128) / sizeof(bc_ent)) {
        return -1;
    }
    void *mem = alloc_big((count + 3) * sizeof(bc_ent) + 64);
    if (!mem) {
        return -1;
    }
    /* entry 0 at 16 bytes past a multiple of 64: the children 2k + 1, 2k + 2 in one line */
    bc_ent *h = (bc_ent *)(((uintptr_t)mem + 63) & ~(uintptr_t)63) + 1;
    for (size_t i = 0; i < count; i++) {
        uint64_t v = 0;
        for (size_t k = exp_len < 8 ? exp_len : 8; k > 0; k--) {
            v = (v << 8) | exps[i * exp_len + k - 1];
        }
        h[i].e = v; /* bytes above the 8th are zero: the exponents have at most 64 bits */
        h[i].i = i;
    }
    int set = bos_coster(m, x, h, count, acc, tmp);
    free(mem);
    return set;
}

/* z (n limbs) = R^E mod p with R = 2^unit_bits (the backend's Montgomery radix: GMP_NUMB_BITS n
 * bits on the mpn path, 52 D on the IFMA path) and E = sum of the exponents: the factor that
 * undoes taking the plain bases as Montgomery representatives (see vw_multiexp). */
static void r_power(mp_limb_t *z, const mp_limb_t *p, size_t n, const uint8_t *exps, size_t count,
                    size_t exp_len, size_t unit_bits) {
    mpz_t E, t, Z;
    mpz_srcptr P;
    mpz_t Pv;
    mpz_inits(E, t, Z, NULL);
    for (size_t i = 0; i < count; i++) {
        mpz_import(t, exp_len, -1, 1, 0, 0, exps + i * exp_len);
        mpz_add(E, E, t);
    }
    mpz_mul_ui(E, E, (unsigned long)unit_bits);
    P = mpz_roinit_n(Pv, p, (mp_size_t)n);
    mpz_set_ui(t, 2);
    mpz_powm(Z, t, E, P);
    memset(z, 0, n * sizeof(mp_limb_t));
    mpz_export(z, NULL, -1, sizeof(mp_limb_t), 0, 0, Z);
    mpz_clears(E, t, Z, NULL);
}

/* The bit length of the n-limb p (its top limb nonzero). */
static size_t mod_bits(const mp_limb_t *p, size_t n) {
    size_t b = GMP_NUMB_BITS * (n - 1);
    for (mp_limb_t v = p[n - 1]; v; v >>= 1) {
        b++;
    }
    return b;
}

/* Reads the count bases (mod_len bytes each) into x, one element of m->w words each, as the
 * backend's digits; VW_MEXP_ERR_BASE when one is not below p. */
static int load_bases(const mont *m, mp_limb_t *x, const uint8_t *bases, size_t count, size_t mod_len) {
    size_t w = m->w;
    for (size_t i = 0; i < count; i++) {
        mp_limb_t *xi = x + i * w;
        if (m->m52) { /* through limbs (m->t: the mpn product's scratch, unused here) */
            from_le(m->t, m->n, bases + i * mod_len, mod_len);
            if (mpn_cmp(m->t, m->p, m->n) >= 0) {
                return VW_MEXP_ERR_BASE;
            }
            vw_mont52_from_limbs((uint64_t *)xi, w, (const uint64_t *)m->t, m->n);
        } else {
            from_le(xi, w, bases + i * mod_len, mod_len);
            if (mpn_cmp(xi, m->p, w) >= 0) {
                return VW_MEXP_ERR_BASE;
            }
        }
    }
    return VW_MEXP_OK;
}

/* out (mod_len bytes) = the element x reduced to [0, p) (IFMA: from [0, 2p)); spare: n + 1
 * limbs of scratch. */
static void store(const mont *m, uint8_t *out, size_t mod_len, const mp_limb_t *x, mp_limb_t *spare) {
    size_t n = m->n;
    if (!m->m52) {
        to_le(out, mod_len, x, n);
        return;
    }
    vw_mont52_to_limbs((uint64_t *)spare, n, (const uint64_t *)x, m->w);
    if (spare[n] || mpn_cmp(spare, m->p, n) >= 0) {
        mpn_sub_n(spare, spare, m->p, n); /* the borrow, if any, cancels spare[n] */
    }
    to_le(out, mod_len, spare, n);
}

/* out (mod_len bytes) = acc * R^E / R mod p, fully reduced to [0, p): the multi-exponentiation's
 * result from its Montgomery value acc (see vw_multiexp). z: one element of scratch; spare:
 * n + 1 limbs of scratch. */
static void finish(const mont *m, uint8_t *out, size_t mod_len, mp_limb_t *acc, mp_limb_t *z,
                   mp_limb_t *spare, const uint8_t *exps, size_t count, size_t exp_len) {
    size_t n = m->n;
    if (!m->m52) {
        r_power(z, m->p, n, exps, count, exp_len, GMP_NUMB_BITS * n);
    } else {
        r_power(spare, m->p, n, exps, count, exp_len, VW_M52_BITS * m->w);
        vw_mont52_from_limbs((uint64_t *)z, m->w, (const uint64_t *)spare, n);
    }
    mmul(m, acc, acc, z);
    store(m, out, mod_len, acc, spare);
}

/* Sets m up for the validated modulus p (n limbs, scratch t of 3n + 1 limbs) on the backend
 * chosen for its size; m52: the IFMA modulus' storage. */
static void mont_setup(mont *m, vw_mont52 *m52, const mp_limb_t *p, size_t n, mp_limb_t *t) {
    size_t mb = mod_bits(p, n);
    m->p = p;
    m->n = n;
    m->pinv = neg_inverse(p[0]);
    m->t = t;
    m->w = n;
    m->m52 = NULL;
    if (vw_mexp_backend(mb) == VW_MEXP_IFMA) {
        m->w = vw_mont52_digits(mb);
        vw_mont52_init(m52, (const uint64_t *)p, n, m->w);
        m->m52 = m52;
    }
}

/* out = prod b_i^e_i from the validated modulus p (n limbs, scratch t of 2n + n + 1 limbs). */
static int multiexp_mod(uint8_t *out, mp_limb_t *p, size_t n, mp_limb_t *t, size_t mod_len, size_t count,
                        const uint8_t *bases, const uint8_t *exps, size_t exp_len) {
    vw_mont52 m52; /* about 1.7 KB */
    mont m;
    mont_setup(&m, &m52, p, n, t);
    size_t w = m.w;
    size_t bits = exp_bits(exps, count, exp_len);
    unsigned c = bits ? vw_mexp_window(count, bits) : 0;
    size_t nb = (size_t)1 << c;
    /* words: bm(count w), buckets(2^c w), run, tot, acc, z, and 8 to align to 64 bytes */
    if (count > SIZE_MAX / sizeof(mp_limb_t) / w - 4 - nb - 8) {
        return VW_MEXP_ERR_NOMEM; /* the workspace size would overflow */
    }
    mp_limb_t *mem = alloc_big((w * (4 + count + nb) + 8) * sizeof(mp_limb_t));
    uint8_t *used = malloc(nb);
    int err = (mem && used) ? VW_MEXP_OK : VW_MEXP_ERR_NOMEM;
    if (err == VW_MEXP_OK) {
        mp_limb_t *bm = (mp_limb_t *)(((uintptr_t)mem + 63) & ~(uintptr_t)63);
        mp_limb_t *bk = bm + count * w, *run = bk + nb * w, *tot = run + w, *acc = tot + w, *z = acc + w;
        err = load_bases(&m, bm, bases, count, mod_len);
        if (err == VW_MEXP_OK) {
            /* Each base b is taken as the Montgomery representative of b / R: no conversion in.
             * The multi-exponentiation (either method) then gives V = R * prod (b_i / R)^e_i =
             * R^(1 - E) prod b_i^e_i with E = sum e_i, and one Montgomery product by R^E mod p
             * gives prod b_i^e_i. */
            pip P = {&m, bm, exps, count, exp_len, bk, used, run, tot};
            int bc = bits <= BOS_COSTER_BITS && (!m.m52 || count < BOS_COSTER_IFMA_MAX_COUNT);
            int set = bits == 0 ? 0 : bc ? bos_coster_le(&m, bm, exps, count, exp_len, acc, run) : pippenger(&P, acc, bits);
            if (set < 0) {
                err = VW_MEXP_ERR_NOMEM;
            } else if (set) {
                finish(&m, out, mod_len, acc, z, t + 2 * n, exps, count, exp_len);
            } else {
                memset(t, 0, n * sizeof(mp_limb_t));
                t[0] = 1; /* the empty product (p > 1) */
                to_le(out, mod_len, t, n);
            }
        }
    }
    free(mem);
    free(used);
    return err;
}

/* Reads and checks the modulus (mod_len bytes) into p (n limbs): VW_MEXP_ERR_MOD when it is even,
 * 1, or its top limb is zero (padded). */
static int load_mod(mp_limb_t *p, size_t n, const uint8_t *mod, size_t mod_len) {
    from_le(p, n, mod, mod_len);
    return (p[n - 1] != 0 && (p[0] & 1) && !(n == 1 && p[0] == 1)) ? VW_MEXP_OK : VW_MEXP_ERR_MOD;
}

int vw_multiexp(uint8_t *out, const uint8_t *mod, size_t mod_len, size_t count, const uint8_t *bases,
                const uint8_t *exps, size_t exp_len) {
    size_t n = (mod_len + LB - 1) / LB;
    if (n == 0 || mod_len > VW_MEXP_MAX_MOD_BYTES || exp_len > VW_MEXP_MAX_EXP_BYTES) {
        return VW_MEXP_ERR_ARG;
    }
    mp_limb_t *p = malloc((4 * n + 1) * sizeof(mp_limb_t)); /* p(n), t(2n + n + 1: scratch) */
    if (!p) {
        return VW_MEXP_ERR_NOMEM;
    }
    int err = load_mod(p, n, mod, mod_len);
    if (err == VW_MEXP_OK) {
        err = multiexp_mod(out, p, n, p + n, mod_len, count, bases, exps, exp_len);
    }
    free(p);
    return err;
}

int vw_mexp_mul_loop(uint8_t *out, const uint8_t *mod, size_t mod_len, const uint8_t *base, size_t reps,
                     int square) {
    size_t n = (mod_len + LB - 1) / LB;
    if (n == 0 || mod_len > VW_MEXP_MAX_MOD_BYTES) {
        return VW_MEXP_ERR_ARG;
    }
    /* p(n), t(3n + 1), x and r (2 x VW_M52_MAX_DIGITS >= 2w), 8 to align */
    mp_limb_t *p = malloc((4 * n + 1 + 2 * VW_M52_MAX_DIGITS + 2 * n + 8) * sizeof(mp_limb_t));
    if (!p) {
        return VW_MEXP_ERR_NOMEM;
    }
    int err = load_mod(p, n, mod, mod_len);
    if (err == VW_MEXP_OK) {
        vw_mont52 m52;
        mont m;
        mont_setup(&m, &m52, p, n, p + n);
        mp_limb_t *x = (mp_limb_t *)(((uintptr_t)(p + 4 * n + 1) + 63) & ~(uintptr_t)63), *r = x + m.w;
        err = load_bases(&m, x, base, 1, mod_len);
        if (err == VW_MEXP_OK) {
            memcpy(r, x, m.w * sizeof(mp_limb_t));
            for (size_t k = 0; k < reps; k++) {
                mmul(&m, r, r, square ? r : x);
            }
            store(&m, out, mod_len, r, p + 3 * n);
        }
    }
    free(p);
    return err;
}
