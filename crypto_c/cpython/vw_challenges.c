/* SPDX-License-Identifier: MIT */
/*
 * vw_challenges.c - a bill's Schnorr challenges in one call; see vw_challenges.h.
 * SHA-256 is OpenSSL libcrypto's (its SHA256_CTX API, as vw_aggmac.c: the prefix state is
 * copied per record), the reduction mod q GMP's mpz.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <gmp.h>
#include <openssl/sha.h>
#include <string.h>

#include "vw_challenges.h"

static int args_ok(size_t pre_len, size_t mid_len, size_t elen) {
    return pre_len <= 4096 && mid_len <= 4096 && elen > 0 && elen <= 1024;
}

static void digest(uint8_t d[64], const SHA256_CTX st[2], const uint8_t *mid, size_t mid_len,
                   const uint8_t *r, const uint8_t *slot, const uint8_t *c, size_t elen) {
    for (int k = 0; k < 2; k++) {
        SHA256_CTX s = st[k];
        SHA256_Update(&s, r, elen);
        SHA256_Update(&s, mid, mid_len);
        SHA256_Update(&s, slot, 4);
        SHA256_Update(&s, c, elen);
        SHA256_Final(d + 32 * k, &s);
    }
}

static void prefixes(SHA256_CTX st[2], const uint8_t *pre0, const uint8_t *pre1, size_t pre_len) {
    SHA256_Init(&st[0]);
    SHA256_Update(&st[0], pre0, pre_len);
    SHA256_Init(&st[1]);
    SHA256_Update(&st[1], pre1, pre_len);
}

int vw_challenges_digests(uint8_t *out, const uint8_t *pre0, const uint8_t *pre1, size_t pre_len,
                          const uint8_t *mid, size_t mid_len, const uint8_t *rs,
                          const uint8_t *slots, const uint8_t *cs, size_t elen, size_t count) {
    SHA256_CTX st[2];
    if (!args_ok(pre_len, mid_len, elen)) return VW_CHAL_ERR_ARG;
    prefixes(st, pre0, pre1, pre_len);
    for (size_t t = 0; t < count; t++)
        digest(out + 64 * t, st, mid, mid_len, rs + t * elen, slots + 4 * t, cs + t * elen, elen);
    return 0;
}

int64_t vw_challenges_check(const uint8_t *pre0, const uint8_t *pre1, size_t pre_len,
                            const uint8_t *mid, size_t mid_len, const uint8_t *rs,
                            const uint8_t *slots, const uint8_t *cs, size_t elen,
                            const uint8_t *es, const uint8_t *q, size_t qlen, size_t count) {
    SHA256_CTX st[2];
    uint8_t d[64];
    mpz_t h, qz, ez;
    size_t t;
    if (!args_ok(pre_len, mid_len, elen) || qlen == 0 || qlen > 64) return VW_CHAL_ERR_ARG;
    prefixes(st, pre0, pre1, pre_len);
    mpz_inits(h, qz, ez, NULL);
    mpz_import(qz, qlen, 1, 1, 1, 0, q);
    if (mpz_sgn(qz) == 0) {
        mpz_clears(h, qz, ez, NULL);
        return VW_CHAL_ERR_ARG;
    }
    for (t = 0; t < count; t++) {
        digest(d, st, mid, mid_len, rs + t * elen, slots + 4 * t, cs + t * elen, elen);
        mpz_import(h, 64, 1, 1, 1, 0, d);
        mpz_tdiv_r(h, h, qz);
        mpz_import(ez, qlen, 1, 1, 1, 0, es + t * qlen);
        if (mpz_cmp(h, ez) != 0) break;
    }
    mpz_clears(h, qz, ez, NULL);
    return (int64_t)t;
}
