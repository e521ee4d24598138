/* SPDX-License-Identifier: MIT */
/*
 * Bare-metal known-answer test of the crypto_c modexp library on a Cortex-M4 under
 *   qemu-system-arm -M mps2-an386 -semihosting-config enable=on,target=native -icount shift=0
 * Runs every vector of crypto_c/vectors/modexp.txt (compiled in as vectors.h), prints
 * "N passed, N failed" and exits non-zero (semihosting exit) on any failure.
 * Also prints instruction counts (virtual ns under -icount shift=0) for a 2048-bit
 * modulus with 256-bit exponents, each measured twice, as lines
 *   BENCH <name> <instructions>
 * and a calibration of the clock against a loop of known length.
 */
#include <stdio.h>
#include <string.h>

#include "bm.h"
#include "vw_modexp.h"
#include "vectors.h"

static vw_limb work[VW_POWMOD2_WORK_MAX];
static uint8_t out[VW_MAX_MOD_BITS / 8];
static uint8_t expect[VW_MAX_MOD_BITS / 8];

/* 2 * n instructions: subs + bne per iteration (plus a few around it). */
static void __attribute__((noinline)) spin(uint32_t n) {
    __asm volatile (
        "1: subs %0, %0, #1\n"
        "   bne 1b\n"
        : "+r" (n) : : "cc");
}

static uint64_t ns_now(void) {
    return bm_ticks() * BM_NS_PER_TICK;
}

/* Semihosting SYS_ELAPSED (0x30): a 64-bit tick count, for comparison only. */
static uint64_t semi_elapsed(void) {
    uint32_t v[2] = {0, 0};
    register uint32_t r0 __asm__ ("r0") = 0x30;
    register uint32_t *r1 __asm__ ("r1") = v;
    __asm volatile ("bkpt 0xab" : "+r" (r0) : "r" (r1) : "memory");
    if (r0 != 0) {
        return 0;
    }
    return ((uint64_t)v[1] << 32) | v[0];
}

static int run_vector(const vt_vec *v) {
    const vt_num *x = v->x;
    const vt_num *mod = v->kind == 1 ? &x[2] : &x[4];
    const vt_num *res = v->kind == 1 ? &x[3] : &x[5];
    size_t out_len = mod->n ? mod->n : 1;
    int rc;
    memset(out, 0xa5, sizeof(out));
    if (v->kind == 1) {
        rc = vw_powmod(out, out_len, x[0].p, x[0].n, x[1].p, x[1].n, x[2].p, x[2].n,
                       work, VW_POWMOD_WORK_MAX);
    } else {
        rc = vw_powmod2(out, out_len, x[0].p, x[0].n, x[1].p, x[1].n, x[2].p, x[2].n,
                        x[3].p, x[3].n, x[4].p, x[4].n, work, VW_POWMOD2_WORK_MAX);
    }
    if (rc != VW_OK) {
        printf("FAIL line %d: %s returned %d (%s)\n", v->line, v->kind == 1 ? "powmod" : "powmod2",
               rc, vw_strerror(rc));
        return 0;
    }
    memset(expect, 0, out_len);
    memcpy(expect + out_len - res->n, res->p, res->n);
    if (memcmp(out, expect, out_len) != 0) {
        printf("FAIL line %d: %s wrong result\n", v->line, v->kind == 1 ? "powmod" : "powmod2");
        return 0;
    }
    return 1;
}

static uint64_t bench_powmod(void) {
    uint64_t t0 = ns_now();
    int rc = vw_powmod(out, 256, bench_g, sizeof(bench_g), bench_a, sizeof(bench_a),
                       bench_p, sizeof(bench_p), work, VW_POWMOD_WORK_MAX);
    uint64_t t1 = ns_now();
    if (rc != VW_OK || memcmp(out, bench_expect_powmod, 256) != 0) {
        printf("FAIL bench powmod\n");
        return 0;
    }
    return t1 - t0;
}

static uint64_t bench_powmod2(void) {
    uint64_t t0 = ns_now();
    int rc = vw_powmod2(out, 256, bench_g, sizeof(bench_g), bench_a, sizeof(bench_a),
                        bench_h, sizeof(bench_h), bench_b, sizeof(bench_b),
                        bench_p, sizeof(bench_p), work, VW_POWMOD2_WORK_MAX);
    uint64_t t1 = ns_now();
    if (rc != VW_OK || memcmp(out, bench_expect_powmod2, 256) != 0) {
        printf("FAIL bench powmod2\n");
        return 0;
    }
    return t1 - t0;
}

int main(void) {
    bm_clock_start();

    /* Clock calibration: the difference between 2M and 1M loop iterations is exactly
     * 2,000,000 instructions; under -icount shift=0 it must read 2,000,000 ns. */
    uint64_t t0 = ns_now();
    spin(1000000);
    uint64_t t1 = ns_now();
    spin(2000000);
    uint64_t t2 = ns_now();
    uint64_t e0 = semi_elapsed();
    spin(2000000);
    uint64_t e1 = semi_elapsed();
    long long d = (long long)(t2 - t1) - (long long)(t1 - t0);
    printf("CLOCK systick_ns(1M loop)=%llu systick_ns(2M loop)=%llu difference=%lld (expect 2000000)\n",
           (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1), d);
    printf("CLOCK semihosting SYS_ELAPSED(2M loop)=%llu (host clock, not instruction-exact)\n",
           (unsigned long long)(e1 - e0));

    int passed = 0, failed = 0;
    for (int i = 0; i < VT_NVECTORS; i++) {
        if (run_vector(&vt_vectors[i])) {
            passed++;
        } else {
            failed++;
        }
    }

    for (int r = 0; r < 2; r++) {
        uint64_t p1 = bench_powmod();
        uint64_t p2 = bench_powmod2();
        if (!p1 || !p2) {
            failed++;
        }
        printf("BENCH powmod_2048_256 %llu\n", (unsigned long long)p1);
        printf("BENCH powmod2_2048_256 %llu\n", (unsigned long long)p2);
    }

    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
