/* SPDX-License-Identifier: MIT */
/*
 * ctgrind.c - constant-time check of vw_powmod/vw_powmod2 under valgrind memcheck
 * (Adam Langley's ctgrind technique): the secret base and exponent bytes are marked
 * undefined, so memcheck reports every branch or memory index that depends on them.
 * The fixed-base comb (vw_fb_powmod over the built-in tables) runs with secret exponents
 * too: one base with a full-length exponent, and two bases (the g^m h^r of a reading).
 * Run: valgrind --error-exitcode=1 ./ctgrind            -> must pass (exit 0)
 *      valgrind --error-exitcode=1 ./ctgrind --leaky    -> must FAIL: a textbook
 *      square-and-multiply that branches on exponent bits proves the check can fail.
 */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>

/* GCC 12 misreads mod[n - 1] below as index -1 (n comes from a constant table) */
#if defined(__GNUC__) && __GNUC__ >= 11
#pragma GCC diagnostic ignored "-Wstringop-overflow"
#endif
#include "vw_modexp.h"
#include "vw_fixedbase.h"

static vw_limb work[VW_POWMOD2_WORK_MAX];

/* Deterministic filler (xorshift) so the run is reproducible. */
static void fill(uint8_t *p, size_t n, uint32_t seed) {
    size_t i;
    for (i = 0; i < n; i++) {
        seed ^= seed << 13; seed ^= seed >> 17; seed ^= seed << 5;
        p[i] = (uint8_t)seed;
    }
}

/* Deliberately leaky: branches on each exponent bit (negative control). */
static unsigned leaky_pow(unsigned b, const uint8_t *e, size_t n, unsigned m) {
    unsigned long long r = 1;
    size_t i;
    int k;
    for (i = 0; i < n; i++)
        for (k = 7; k >= 0; k--) {
            r = r * r % m;
            if ((e[i] >> k) & 1) r = r * b % m;
        }
    return (unsigned)r;
}

int main(int argc, char **argv) {
    static uint8_t mod[256], mod2[256], base[256], h[256], a[32], b[32], out[256];
    size_t sizes[3] = {256, 64, 5}; /* 2048-bit, 512-bit and 40-bit moduli */
    int i, rc = 0;
    if (argc > 1 && strcmp(argv[1], "--leaky") == 0) {
        uint8_t e[4] = {0x5A, 0x3C, 0x00, 0xFF};
        VALGRIND_MAKE_MEM_UNDEFINED(e, sizeof e);
        return leaky_pow(3, e, sizeof e, 1000003) == 12345 ? 3 : 0;
    }
    for (i = 0; i < 3; i++) {
        size_t n = sizes[i];
        fill(mod, n, 1 + i);
        mod[0] |= 0x80;
        mod[n - 1] |= 1; /* n <= 256 */
        fill(base, n, 11 + i); fill(h, n, 21 + i); fill(a, 32, 31 + i); fill(b, 32, 41 + i);
        VALGRIND_MAKE_MEM_UNDEFINED(base, n);
        VALGRIND_MAKE_MEM_UNDEFINED(h, n);
        VALGRIND_MAKE_MEM_UNDEFINED(a, 32);
        VALGRIND_MAKE_MEM_UNDEFINED(b, 32);
        rc |= vw_powmod(out, n, base, n, a, 32, mod, n, work, VW_POWMOD2_WORK_MAX);
        rc |= vw_powmod2(out, n, base, n, a, 32, h, n, b, 32, mod, n, work, VW_POWMOD2_WORK_MAX);
        /* a base longer than the modulus goes through the reduction path */
        {
            size_t n2 = n > 8 ? n / 2 + 1 : n;
            memcpy(mod2, mod, n2);
            mod2[n2 - 1] |= 1;
            rc |= vw_powmod(out, n, base, n, a, 32, mod2, n2, work, VW_POWMOD2_WORK_MAX);
        }
        VALGRIND_MAKE_MEM_DEFINED(out, n); /* the result is public once computed */
    }
    { /* fixed-base comb: tables, modulus and lengths public; exponents secret */
        size_t k;
        for (k = 0; k < vw_fb_count; k++) {
            const vw_fb_table *t[2];
            const uint8_t *ep[2];
            size_t el[2], j, len = vw_fb_tables[k]->n * sizeof(vw_limb);
            t[0] = vw_fb_tables[k];
            t[1] = NULL;
            for (j = 0; j < vw_fb_count; j++)
                if (j != k && vw_fb_tables[j]->mod == t[0]->mod) t[1] = vw_fb_tables[j];
            fill(a, 32, 51 + (int)k); fill(b, 32, 61 + (int)k);
            VALGRIND_MAKE_MEM_UNDEFINED(a, 32);
            VALGRIND_MAKE_MEM_UNDEFINED(b, 32);
            ep[0] = a; el[0] = t[0]->exp_bytes; ep[1] = b;
            rc |= vw_fb_powmod(out, len, 1, t, ep, el, work, VW_POWMOD2_WORK_MAX);
            if (t[1] != NULL) {
                el[1] = t[1]->exp_bytes;
                rc |= vw_fb_powmod(out, len, 2, t, ep, el, work, VW_POWMOD2_WORK_MAX);
            }
            VALGRIND_MAKE_MEM_DEFINED(out, len);
        }
    }
    printf("ctgrind: %s\n", rc == 0 ? "done" : "unexpected error code");
    return rc == 0 ? 0 : 2;
}
