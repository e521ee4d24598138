// SPDX-License-Identifier: MIT
/* Montgomery multiplication in radix 2^52 with AVX-512 IFMA (vpmadd52luq / vpmadd52huq): host
 * only (the CPython binding vwcrypto._vwcrypto, through vw_multiexp.c), never the firmware.
 *
 * PUBLIC INPUTS ONLY: variable time (the carry normalisation branches on the data, the caller's
 * algorithms on the exponents); it serves vw_multiexp, whose inputs are public.
 *
 * Method: word-by-word Montgomery multiplication (CIOS; Koc, Acar, Kaliski, "Analyzing and
 * comparing Montgomery multiplication algorithms", IEEE Micro 16(3), 1996) over 52-bit digits,
 * as Gueron and Krasnov, "Software implementation of modular exponentiation, using advanced
 * vector instructions architectures" (WAIFI 2012) and "Accelerating big integer arithmetic using
 * Intel IFMA extensions" (ARITH 2016); OpenSSL's rsaz-2k/3k/4k-avx512 use the same method. The
 * product is their "almost Montgomery multiplication": inputs and output in [0, 2p), no final
 * subtraction, valid because 4p < R' = 2^(52 D): (2p)^2 / R' + p < 2p. An element is D = 8k
 * digits in k zmm registers (2048 bits: 40 digits, 5 registers); per digit b_i of b:
 *   acc += lo52(a b_i); m = acc_0 k0 mod 2^52; acc += lo52(m p)   (now acc_0 = 0 mod 2^52)
 *   shift acc down one digit, adding acc_0 >> 52 to the new acc_0;
 *   acc += hi52(a b_i) + hi52(m p)    (the high halves belong one digit up: at the shifted place)
 * The digits are normalised (carries propagated) once, at the end of each product. As in
 * OpenSSL's code, digit 0 (the one m depends on) is kept in a scalar register and m computed
 * there, the vectors' work overlapping the next steps (see amm). For 2048-bit moduli (D = 40)
 * amm5 keeps the accumulators in place and shifts the multiplicands instead (unaligned loads
 * from zero-padded copies): no per-step shift of the accumulator.
 *
 * The IFMA code is compiled only for x86-64 with GCC-compatible compilers, in functions with
 * their own target attribute (the rest of the extension stays plain x86-64); the caller asks
 * vw_mont52_supported() at run time (CPUID and the OS's AVX-512 state, by GCC's
 * __builtin_cpu_supports) before using vw_mont52_mul. -DVW_M52_NO_IFMA builds without the IFMA
 * code (vw_mont52_supported() == 0), as any other architecture or compiler. */

#include "vw_mont52.h"

#include <string.h>

size_t vw_mont52_digits(size_t bits) {
    size_t d = (bits + 2 + VW_M52_BITS - 1) / VW_M52_BITS;
    d = (d + 7) / 8 * 8;
    return d <= VW_M52_MAX_DIGITS ? d : 0;
}

/* -1/x mod 2^64 for odd x (Newton: x x = 1 mod 8, each step doubles the correct bits). */
static uint64_t neg_inv64(uint64_t x) {
    uint64_t y = x;
    for (int i = 0; i < 6; i++) {
        y *= 2 - x * y;
    }
    return (uint64_t)0 - y;
}

void vw_mont52_init(vw_mont52 *m, const uint64_t *p, size_t n, size_t d) {
    m->d = d;
    m->k0 = neg_inv64(p[0]) & VW_M52_MASK; /* -1/p mod 2^64, so also mod 2^52 */
    vw_mont52_from_limbs(m->p, d, p, n);
    memset(m->p40, 0, sizeof(m->p40));
    if (d == 40) {
        memcpy(m->p40 + 8, m->p, 40 * sizeof(uint64_t));
    }
}

void vw_mont52_from_limbs(uint64_t *r, size_t d, const uint64_t *x, size_t n) {
    for (size_t j = 0; j < d; j++) {
        size_t bit = VW_M52_BITS * j, k = bit / 64, off = bit % 64;
        uint64_t v = k < n ? x[k] >> off : 0;
        if (off > 64 - VW_M52_BITS && k + 1 < n) {
            v |= x[k + 1] << (64 - off);
        }
        r[j] = v & VW_M52_MASK;
    }
}

void vw_mont52_to_limbs(uint64_t *r, size_t n, const uint64_t *x, size_t d) {
    memset(r, 0, (n + 1) * sizeof(uint64_t));
    for (size_t j = 0; j < d; j++) {
        size_t bit = VW_M52_BITS * j, k = bit / 64, off = bit % 64;
        if (k <= n) {
            r[k] |= x[j] << off;
        }
        if (off > 64 - VW_M52_BITS && k + 1 <= n) {
            r[k + 1] |= x[j] >> (64 - off);
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(VW_M52_NO_IFMA) /* the latter: a build without it */

#include <immintrin.h>

#define VW_M52_TARGET __attribute__((target("avx512f,avx512ifma,avx512vl")))
#define VW_M52_MAX_V (VW_M52_MAX_DIGITS / 8)
/* unrolled loops over the vectors: with a constant count the arrays of vectors become registers */
#define VW_M52_UNROLL _Pragma("GCC unroll 20")

int vw_mont52_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512ifma");
}

/* Propagates the carries of the nv vectors acc (digits below 2^64) so that every digit is below
 * 2^52, and stores them to r. One vector pass moves each digit's carry (< 2^12) one digit up;
 * a digit can then exceed 2^52 - 1 only by less than 2^12, in which case (rare: the digit's low
 * 52 bits all but all ones) a scalar pass finishes. The carry out of the top digit is 0: the
 * value is below 2p < R'. */
static inline __attribute__((always_inline)) VW_M52_TARGET void normalise(uint64_t *r, __m512i *acc,
                                                                          size_t nv) {
    const __m512i mask = _mm512_set1_epi64((long long)VW_M52_MASK);
    __m512i prev = _mm512_setzero_si512();
    __mmask8 over = 0;
    VW_M52_UNROLL
    for (size_t k = 0; k < nv; k++) {
        __m512i c = _mm512_srli_epi64(acc[k], VW_M52_BITS);
        __m512i v = _mm512_and_si512(acc[k], mask);
        v = _mm512_add_epi64(v, _mm512_alignr_epi64(c, prev, 7)); /* c one digit up */
        prev = c;
        over |= _mm512_cmpgt_epu64_mask(v, mask);
        _mm512_storeu_si512((void *)(r + 8 * k), v);
    }
#ifdef VW_M52_FORCE_RIPPLE /* tests: run the rare scalar pass after every product */
    over = 1;
#endif
    if (over) {
        uint64_t cy = 0;
        for (size_t j = 0; j < 8 * nv; j++) {
            uint64_t v = r[j] + cy;
            r[j] = v & VW_M52_MASK;
            cy = v >> VW_M52_BITS;
        }
    }
}

/* lo52 of the 104-bit product x y of two 52-bit digits (as vpmadd52luq). */
static inline uint64_t lo52(uint64_t x, uint64_t y) {
    return (x * y) & VW_M52_MASK;
}

/* The product of vw_mont52_mul over nv vectors (inlined with a constant nv for 2048 bits, so the
 * accumulators stay in registers). The accumulator T = s + sum_{j >= 1} (L_j + H_j) 2^(52 j):
 * the vectors L (low halves) and H (high halves) are two independent chains (each step two
 * vpmadd52 and a one-digit shift), their lane 0 unused; digit 0 is the scalar s, and each step
 * computes m and the next s in scalars (from lane 1 of L + H, read at the start of the step), so
 * the step's latency is not the vector chain's. Per step, with b_i:
 *   u = s + a_0 b_i (128 bits);  m = u k0 mod 2^52;  u = u + m p_0 (now 0 mod 2^52)
 *   s' = L_1 + H_1 + lo52(a_1 b_i) + lo52(m p_1) + (u >> 52)
 *        (u >> 52 = hi52(a_0 b_i) + hi52(m p_0) + the carry out of digit 0, in one)
 *   L' = (L + lo52(a b_i) + lo52(m p)) shifted down one digit;  H' = H shifted + hi52(a b_i) + hi52(m p)
 * Bound: every step adds to a digit at most four 52-bit halves (< 2^54) and, to digit 0, a carry
 * below 2^11; a digit collects at most D steps' worth before it is shifted out, below
 * D 2^54 + 2^11 D < 2^62 for D <= 160 (any D below 1024 would do): no lane (nor s, L_j + H_j)
 * overflows 64 bits before the normalisation. */
static inline __attribute__((always_inline)) VW_M52_TARGET void amm(const vw_mont52 *m, uint64_t *r,
                                                                    const uint64_t *a, const uint64_t *b,
                                                                    size_t nv) {
    __m512i lo[VW_M52_MAX_V], hi[VW_M52_MAX_V];
    const __m512i zero = _mm512_setzero_si512();
    const uint64_t k0 = m->k0, a0 = a[0], a1 = a[1], p0 = m->p[0], p1 = m->p[1];
    uint64_t s = 0;
    /* a's and p's vectors: loop-invariant loads, kept in registers when nv is a constant */
#define AV(k) _mm512_loadu_si512((const void *)(a + 8 * (k)))
#define PV(k) _mm512_loadu_si512((const void *)(m->p + 8 * (k)))
    if (nv == 0 || nv > VW_M52_MAX_V) {
        __builtin_unreachable(); /* vw_mont52_digits: 8 <= D <= VW_M52_MAX_DIGITS */
    }
    VW_M52_UNROLL
    for (size_t k = 0; k < nv; k++) {
        lo[k] = hi[k] = zero;
    }
    for (size_t i = 0; i < 8 * nv; i++) {
        uint64_t bv = b[i];
        __m512i bi = _mm512_set1_epi64((long long)bv);
        /* lane 1 of L + H: digit 1 before this step's products */
        uint64_t d1 = (uint64_t)_mm_extract_epi64(_mm512_castsi512_si128(_mm512_add_epi64(lo[0], hi[0])), 1);
        unsigned __int128 u = (unsigned __int128)a0 * bv + s; /* digit 0 plus a_0 b_i (whole) */
        uint64_t mv = ((uint64_t)u * k0) & VW_M52_MASK;
        __m512i mi = _mm512_set1_epi64((long long)mv);
        u += (unsigned __int128)p0 * mv; /* 0 mod 2^52 */
        s = d1 + lo52(a1, bv) + lo52(p1, mv) + (uint64_t)(u >> VW_M52_BITS);
        VW_M52_UNROLL
        for (size_t k = 0; k < nv; k++) {
            lo[k] = _mm512_madd52lo_epu64(lo[k], AV(k), bi);
            lo[k] = _mm512_madd52lo_epu64(lo[k], PV(k), mi);
        }
        VW_M52_UNROLL
        for (size_t k = 0; k + 1 < nv; k++) {
            lo[k] = _mm512_alignr_epi64(lo[k + 1], lo[k], 1);
            hi[k] = _mm512_alignr_epi64(hi[k + 1], hi[k], 1);
        }
        lo[nv - 1] = _mm512_alignr_epi64(zero, lo[nv - 1], 1);
        hi[nv - 1] = _mm512_alignr_epi64(zero, hi[nv - 1], 1);
        VW_M52_UNROLL
        for (size_t k = 0; k < nv; k++) {
            hi[k] = _mm512_madd52hi_epu64(hi[k], AV(k), bi);
            hi[k] = _mm512_madd52hi_epu64(hi[k], PV(k), mi);
        }
    }
#undef AV
#undef PV
    VW_M52_UNROLL
    for (size_t k = 0; k < nv; k++) {
        lo[k] = _mm512_add_epi64(lo[k], hi[k]);
    }
    lo[0] = _mm512_mask_set1_epi64(lo[0], 1, (long long)s); /* digit 0 */
    normalise(r, lo, nv);
}

/* ---- 2048-bit moduli (D = 40 digits, 5 vectors) without the per-step shifts ----
 * amm's steps each shift both accumulators down one digit (10 valignq per step, on the same
 * ports as the 20 vpmadd52: about 35 vector operations per step with the broadcasts). Here the
 * accumulators stay in place, digit k of T at lane k mod 8 of vector k div 8 (L and H over 80
 * digits: 10 vectors each, 6 of them live in each block of 8 steps), and the multiplicands
 * move instead: step i = 8 j + r adds a b_i 2^(52 i), i.e. lo52(a_t b_i) at digit t + i and
 * hi52(a_t b_i) at digit t + i + 1, as the vectors of a shifted up by r digits (A_r: 6
 * vectors, A_r[v] lane l = a_(8 v + l - r), 0 outside 0..39) and by r + 1 into L[j + v] and
 * H[j + v]; the same for m p. A_r[v] is an unaligned load of the 8 digits at 8 + 8 v - r in a
 * copy of a between 8 zero digits on either side (made per product; p's once, in
 * vw_mont52_init: vw_mont52.p40), vpmadd52's memory operand. Per step 24 vpmadd52 (12 for a,
 * 12 for p; a few multiply zero digits) and no shift: 0.28-0.30 us per product against
 * 0.34-0.38 for amm (one core of the build machine, latency-bound chains of products).
 * The scalar digit s (digit i of T, the steps' carries included) and m are as in amm; s' takes
 * digit i + 1 of L + H (lane r + 1 of vector j, or lane 0 of vector j + 1 for r = 7) before
 * the step's products, and supersedes those lanes (the digits below i + 1 are never read
 * again). After the 40 steps, the result is digits 40..79: vectors 5..9 of L + H, digit 40 = s.
 * Bound: a lane (digit k) gets at most four 52-bit halves from each step i with
 * k - 40 <= i <= k (at most 41 steps): below 41 2^54 < 2^60, no lane overflows 64 bits; s, as
 * in amm, is below 2^60 + 2^53 + 2^54 < 2^61 and u below 2^61 + 2^105 (no overflow either); the
 * normalisation is amm's (its digits below 2^61). */

/* lane k of x (k a constant). */
#define VW_M52_LANE(x, k) \
    ((uint64_t)_mm_cvtsi128_si64(_mm512_castsi512_si128(_mm512_alignr_epi64((x), (x), (k)))))

static VW_M52_TARGET void amm5(const vw_mont52 *m, uint64_t *r, const uint64_t *a, const uint64_t *b) {
    uint64_t ab[56] __attribute__((aligned(64))); /* a between 8 zero digits on either side */
    __m512i L[6], H[6]; /* the window: in block j, L[k] = vector j + k of L (the same for H) */
    const uint64_t k0 = m->k0, a0 = a[0], a1 = a[1], p0 = m->p[0], p1 = m->p[1];
    const uint64_t *pb = m->p40; /* p between 8 zero digits on either side (vw_mont52_init) */
    uint64_t s = 0;
    _mm512_store_si512((void *)ab, _mm512_setzero_si512());
    _mm512_store_si512((void *)(ab + 48), _mm512_setzero_si512());
    VW_M52_UNROLL
    for (int k = 0; k < 5; k++) {
        _mm512_store_si512((void *)(ab + 8 + 8 * k), _mm512_loadu_si512((const void *)(a + 8 * k)));
    }
    VW_M52_UNROLL
    for (int k = 0; k < 6; k++) {
        L[k] = H[k] = _mm512_setzero_si512();
    }
    for (int j = 0; j < 5; j++) {
        _Pragma("GCC unroll 8") for (int q = 0; q < 8; q++) {
            uint64_t bv = b[8 * j + q];
            __m512i bi = _mm512_set1_epi64((long long)bv);
            uint64_t d1 = q < 7 ? VW_M52_LANE(_mm512_add_epi64(L[0], H[0]), (q + 1) & 7)
                                : VW_M52_LANE(_mm512_add_epi64(L[1], H[1]), 0);
            unsigned __int128 u = (unsigned __int128)a0 * bv + s;
            uint64_t mv = ((uint64_t)u * k0) & VW_M52_MASK;
            __m512i mi = _mm512_set1_epi64((long long)mv);
            u += (unsigned __int128)p0 * mv;
            s = d1 + lo52(a1, bv) + lo52(p1, mv) + (uint64_t)(u >> VW_M52_BITS);
            VW_M52_UNROLL
            for (int v = 0; v < 6; v++) {
                /* (the shifted copies as the last operand: a memory operand of vpmadd52) */
#define VW_M52_SV(x, r) _mm512_loadu_si512((const void *)((x) + 8 + 8 * v - (r)))
                L[v] = _mm512_madd52lo_epu64(L[v], bi, VW_M52_SV(ab, q));
                L[v] = _mm512_madd52lo_epu64(L[v], mi, VW_M52_SV(pb, q));
                H[v] = _mm512_madd52hi_epu64(H[v], bi, VW_M52_SV(ab, q + 1));
                H[v] = _mm512_madd52hi_epu64(H[v], mi, VW_M52_SV(pb, q + 1));
#undef VW_M52_SV
            }
        }
        VW_M52_UNROLL
        for (int k = 0; k < 5; k++) { /* vector j is done (its digits below 8 j + 8 superseded by s) */
            L[k] = L[k + 1];
            H[k] = H[k + 1];
        }
        L[5] = H[5] = _mm512_setzero_si512();
    }
    VW_M52_UNROLL
    for (int k = 0; k < 5; k++) { /* the window is now vectors 5..9: the result */
        L[k] = _mm512_add_epi64(L[k], H[k]);
    }
    L[0] = _mm512_mask_set1_epi64(L[0], 1, (long long)s); /* digit 40 */
    normalise(r, L, 5);
}

/* Any other D. */
static VW_M52_TARGET void amm_any(const vw_mont52 *m, uint64_t *r, const uint64_t *a, const uint64_t *b) {
    amm(m, r, a, b, m->d / 8);
}

void vw_mont52_mul(const vw_mont52 *m, uint64_t *r, const uint64_t *a, const uint64_t *b) {
    if (m->d == 40) {
        amm5(m, r, a, b);
    } else {
        amm_any(m, r, a, b);
    }
}

#else /* no IFMA code in this build: vw_mont52_mul is never called (vw_mont52_supported() == 0) */

int vw_mont52_supported(void) {
    return 0;
}

void vw_mont52_mul(const vw_mont52 *m, uint64_t *r, const uint64_t *a, const uint64_t *b) {
    (void)m;
    (void)r;
    (void)a;
    (void)b;
}

#endif
