/* SPDX-License-Identifier: MIT */
/*
 * kat.c - run crypto_c/vectors/modexp.txt against vw_powmod/vw_powmod2 on the host,
 * plus the error contract (codes, output untouched on error). Prints "N passed, N failed".
 * Usage: kat <vectors-file>
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "vw_modexp.h"
#include "vw_fixedbase.h"

#define MAXB 1200 /* bytes per number: bases may be longer than the modulus */

static vw_limb work[VW_POWMOD2_WORK_MAX];
static int passed, failed;

/* Parse lowercase hex into big-endian bytes; returns the length. */
static size_t unhex(const char *s, uint8_t *out) {
    size_t n = strlen(s), len = (n + 1) / 2, i;
    memset(out, 0, len);
    for (i = 0; i < n; i++) {
        char c = s[n - 1 - i];
        int v = (c >= '0' && c <= '9') ? c - '0' : c - 'a' + 10;
        out[len - 1 - i / 2] |= (uint8_t)(v << (4 * (i & 1)));
    }
    return len;
}

static void check(int ok, const char *what, int line) {
    if (ok) passed++;
    else { failed++; fprintf(stderr, "FAIL: %s (line %d)\n", what, line); }
}

/* Compare out (out_len bytes) with want (want_len bytes), ignoring leading zeros. */
static int same(const uint8_t *a, size_t al, const uint8_t *b, size_t bl) {
    while (al > 0 && *a == 0) { a++; al--; }
    while (bl > 0 && *b == 0) { b++; bl--; }
    return al == bl && memcmp(a, b, al) == 0;
}

static void error_contract(void) {
    uint8_t out[8] = {0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}, b[1] = {2}, e[1] = {3};
    uint8_t even[1] = {4}, zero[2] = {0, 0}, odd[1] = {7}, big[514];
    static uint8_t longexp[VW_MAX_EXP_BYTES + 1];
    memset(big, 0xFF, sizeof big);
    check(vw_powmod(out, 8, b, 1, e, 1, even, 1, work, VW_POWMOD_WORK_MAX) == VW_ERR_MOD_EVEN, "even modulus", 0);
    check(vw_powmod(out, 8, b, 1, e, 1, zero, 2, work, VW_POWMOD_WORK_MAX) == VW_ERR_MOD_ZERO, "zero modulus", 0);
    check(vw_powmod(out, 8, b, 1, e, 1, zero, 0, work, VW_POWMOD_WORK_MAX) == VW_ERR_MOD_ZERO, "empty modulus", 0);
    check(vw_powmod(out, 8, b, 1, e, 1, big, sizeof big, work, VW_POWMOD2_WORK_MAX) == VW_ERR_MOD_TOO_LARGE, "modulus > 4096 bits", 0);
    check(vw_powmod(out, 8, b, 1, longexp, sizeof longexp, odd, 1, work, VW_POWMOD_WORK_MAX) == VW_ERR_EXP_TOO_LARGE, "exponent > 4096 bits", 0);
    check(vw_powmod(out, 8, b, 1, e, 1, odd, 1, work, VW_POWMOD_WORK_LIMBS(1) - 3) == VW_ERR_WORKSPACE, "workspace too small", 0);
    check(vw_powmod2(out, 8, b, 1, e, 1, b, 1, e, 1, odd, 1, work, VW_POWMOD2_WORK_LIMBS(1) - 3) == VW_ERR_WORKSPACE, "powmod2 workspace too small", 0);
    check(vw_powmod(out, 0, b, 1, e, 1, odd, 1, work, VW_POWMOD_WORK_MAX) == VW_ERR_OUT_LEN, "output too short", 0);
    check(out[0] == 0xAA && out[7] == 0xAA, "output untouched on error", 0);
    check(vw_powmod(out, 8, b, 1, e, 1, odd, 1, work, VW_POWMOD_WORK_MAX) == VW_OK && out[7] == 1 && out[0] == 0,
          "2^3 mod 7 = 1, left-padded", 0);
    check(strcmp(vw_strerror(VW_ERR_MOD_EVEN), "modulus must be odd") == 0, "strerror", 0);
}

/* Deterministic filler (xorshift). */
static uint32_t xs = 12345;
static void fill(uint8_t *p, size_t n) {
    size_t i;
    for (i = 0; i < n; i++) { xs ^= xs << 13; xs ^= xs >> 17; xs ^= xs << 5; p[i] = (uint8_t)xs; }
}

/* Big-endian bytes of the n limbs x into out (len bytes). */
static void limbs_be(uint8_t *out, size_t len, const vw_limb *x, size_t n) {
    size_t pos;
    for (pos = 0; pos < len; pos++) {
        size_t i = pos / sizeof(vw_limb), k = pos % sizeof(vw_limb);
        out[len - 1 - pos] = i < n ? (uint8_t)(x[i] >> (8 * k)) : 0;
    }
}

/* The fixed-base comb against the generic vw_powmod/vw_powmod2 (themselves checked by
 * the vectors above): every built-in table, random, zero, one and all-ones exponents,
 * one and two terms; plus the lookup and error contract. */
static void fixed_base(void) {
    static uint8_t mod[512], base[2][512], e[2][64], out1[512], out2[512];
    size_t k, it;
    for (k = 0; k < vw_fb_count; k++) {
        const vw_fb_table *t = vw_fb_tables[k], *t2 = NULL, *pair[2];
        size_t len = t->n * sizeof(vw_limb), el = t->exp_bytes, j;
        const uint8_t *ep[2];
        size_t elen[2];
        limbs_be(mod, len, t->mod, t->n);
        limbs_be(base[0], len, t->base, t->n);
        check(vw_fb_find(base[0], len, mod, len, el) == t, "vw_fb_find finds the table", (int)k);
        check(vw_fb_find(base[0], len, mod, len, 4097) == NULL, "no table for a longer exponent", (int)k);
        for (j = 0; j < vw_fb_count; j++) /* a partner table of the same modulus */
            if (j != k && vw_fb_tables[j]->mod == t->mod) t2 = vw_fb_tables[j];
        for (it = 0; it < 24; it++) {
            if (it == 0) memset(e[0], 0, el);
            else if (it == 1) { memset(e[0], 0, el); e[0][el - 1] = 1; }
            else if (it == 2) memset(e[0], 0xFF, el);
            else fill(e[0], el);
            ep[0] = e[0]; elen[0] = el; pair[0] = t;
            check(vw_fb_powmod(out1, len, 1, pair, ep, elen, work, VW_FB_WORK_LIMBS(t->n)) == VW_OK,
                  "vw_fb_powmod ok", (int)k);
            vw_powmod(out2, len, base[0], len, e[0], el, mod, len, work, VW_POWMOD2_WORK_MAX);
            check(memcmp(out1, out2, len) == 0, "fixed base == vw_powmod", (int)k);
            /* a shorter exponent (public length) gives the same as the padded one */
            if (el > 1) {
                ep[0] = e[0] + 1; elen[0] = el - 1;
                vw_fb_powmod(out1, len, 1, pair, ep, elen, work, VW_FB_WORK_LIMBS(t->n));
                vw_powmod(out2, len, base[0], len, e[0] + 1, el - 1, mod, len, work, VW_POWMOD2_WORK_MAX);
                check(memcmp(out1, out2, len) == 0, "fixed base, shorter exponent", (int)k);
            }
            if (t2 != NULL) {
                size_t el2 = t2->exp_bytes;
                limbs_be(base[1], len, t2->base, t2->n);
                if (it == 2) memset(e[1], 0xFF, el2); else fill(e[1], el2);
                ep[0] = e[0]; elen[0] = el; ep[1] = e[1]; elen[1] = el2; pair[1] = t2;
                vw_fb_powmod(out1, len, 2, pair, ep, elen, work, VW_FB_WORK_LIMBS(t->n));
                vw_powmod2(out2, len, base[0], len, e[0], el, base[1], len, e[1], el2, mod, len,
                           work, VW_POWMOD2_WORK_MAX);
                check(memcmp(out1, out2, len) == 0, "two fixed bases == vw_powmod2", (int)k);
            }
        }
        pair[0] = t; ep[0] = e[0]; elen[0] = el + 1;
        check(vw_fb_powmod(out1, len, 1, pair, ep, elen, work, VW_FB_WORK_LIMBS(t->n)) == VW_ERR_EXP_TOO_LARGE,
              "fixed base: exponent over the table's capacity", (int)k);
        elen[0] = el;
        check(vw_fb_powmod(out1, len, 1, pair, ep, elen, work, VW_FB_WORK_LIMBS(t->n) - 1) == VW_ERR_WORKSPACE,
              "fixed base: workspace too small", (int)k);
        check(vw_fb_powmod(out1, len - 1, 1, pair, ep, elen, work, VW_FB_WORK_LIMBS(t->n)) == VW_ERR_OUT_LEN,
              "fixed base: output too short", (int)k);
        check(vw_fb_powmod(out1, len, 0, pair, ep, elen, work, VW_FB_WORK_LIMBS(t->n)) == VW_ERR_MOD_ZERO,
              "fixed base: no term", (int)k);
        base[0][len - 1] ^= 1;
        check(vw_fb_find(base[0], len, mod, len, el) == NULL, "no table for another base", (int)k);
    }
    check(vw_fb_count > 0, "tables are built in", 0);
}

int main(int argc, char **argv) {
    static char line[8192];
    static uint8_t x[6][MAXB], out[MAXB];
    size_t len[6];
    FILE *f;
    int lineno = 0;
    if (argc != 2 || !(f = fopen(argv[1], "r"))) {
        fprintf(stderr, "usage: kat crypto_c/vectors/modexp.txt\n");
        return 2;
    }
    while (fgets(line, sizeof line, f)) {
        char *tok[8];
        int nt = 0, k, rc;
        lineno++;
        if (line[0] == '#' || line[0] == '\n') continue;
        for (char *p = strtok(line, " \n"); p && nt < 8; p = strtok(NULL, " \n")) tok[nt++] = p;
        for (k = 1; k < nt; k++) len[k - 1] = unhex(tok[k], x[k - 1]);
        if (strcmp(tok[0], "powmod") == 0 && nt == 5) {
            rc = vw_powmod(out, len[2], x[0], len[0], x[1], len[1], x[2], len[2], work, VW_POWMOD2_WORK_MAX);
            check(rc == VW_OK && same(out, len[2], x[3], len[3]), "powmod vector", lineno);
        } else if (strcmp(tok[0], "powmod2") == 0 && nt == 7) {
            rc = vw_powmod2(out, len[4], x[0], len[0], x[1], len[1], x[2], len[2], x[3], len[3],
                            x[4], len[4], work, VW_POWMOD2_WORK_MAX);
            check(rc == VW_OK && same(out, len[4], x[5], len[5]), "powmod2 vector", lineno);
        } else {
            check(0, "malformed vector line", lineno);
        }
    }
    fclose(f);
    error_contract();
    fixed_base();
    printf("kat (%d-bit limbs): %d passed, %d failed\n", VW_LIMB_BITS, passed, failed);
    return failed ? 1 : 0;
}
