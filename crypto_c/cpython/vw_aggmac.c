/* SPDX-License-Identifier: MIT */
/*
 * vw_aggmac.c - batch HMAC-SHA256 tag checks (RFC 2104 over FIPS 180-4 SHA-256) for the
 * host aggregator; see vw_aggmac.h. SHA-256 is OpenSSL libcrypto's (SHA-NI / AVX2 code
 * paths chosen at run time): its low-level SHA256_CTX API, deprecated in OpenSSL 3.0 but
 * kept, lets a precomputed key state be copied per message without an allocation (the
 * EVP interface's context copy allocates).
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>

#include "vw_aggmac.h"

typedef struct {
    SHA256_CTX in;  /* after (key ^ ipad) and the prefix */
    SHA256_CTX out; /* after (key ^ opad) */
} state;

size_t vw_aggmac_state_bytes(void) { return sizeof(state); }

int vw_aggmac_prepare(uint8_t *states, const uint8_t *key_blocks, size_t n,
                      const uint8_t *prefix, size_t prefix_len) {
    uint8_t pad[2][SHA256_CBLOCK];
    state s;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *k = key_blocks + i * SHA256_CBLOCK;
        for (size_t j = 0; j < SHA256_CBLOCK; j++) {
            pad[0][j] = (uint8_t)(k[j] ^ 0x36);
            pad[1][j] = (uint8_t)(k[j] ^ 0x5c);
        }
        SHA256_Init(&s.in);
        SHA256_Update(&s.in, pad[0], SHA256_CBLOCK);
        SHA256_Update(&s.in, prefix, prefix_len);
        SHA256_Init(&s.out);
        SHA256_Update(&s.out, pad[1], SHA256_CBLOCK);
        memcpy(states + i * sizeof(state), &s, sizeof(state));
    }
    OPENSSL_cleanse(pad, sizeof(pad));
    OPENSSL_cleanse(&s, sizeof(s));
    return VW_AGGMAC_OK;
}

/* HMAC of msg under the state at st (copied: the caller's buffer needs no alignment). */
static void mac(uint8_t d[SHA256_DIGEST_LENGTH], state *s, const uint8_t *st, const uint8_t *msg, size_t len) {
    memcpy(s, st, sizeof(*s));
    SHA256_Update(&s->in, msg, len);
    SHA256_Final(d, &s->in);
    SHA256_Update(&s->out, d, SHA256_DIGEST_LENGTH);
    SHA256_Final(d, &s->out);
}

static int rows_ok(const int64_t *rows, size_t count, size_t n_states, int allow_negative) {
    for (size_t i = 0; i < count; i++) {
        if (rows[i] < 0 ? !allow_negative : (uint64_t)rows[i] >= n_states) return 0;
    }
    return 1;
}

int vw_aggmac_check(uint8_t *ok, const uint8_t *recs, size_t count, size_t rec_len,
                    size_t body_len, const int64_t *rows, const uint8_t *states, size_t n_states) {
    if (body_len >= rec_len || rec_len - body_len > SHA256_DIGEST_LENGTH || !rows_ok(rows, count, n_states, 1))
        return VW_AGGMAC_ERR_ARG;
    size_t tag_len = rec_len - body_len;
    uint8_t d[SHA256_DIGEST_LENGTH];
    state s;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *r = recs + i * rec_len;
        if (rows[i] < 0) { /* public: the record names no member of the group */
            ok[i] = 0;
            continue;
        }
        mac(d, &s, states + (size_t)rows[i] * sizeof(state), r, body_len);
        unsigned diff = 0;
        for (size_t j = 0; j < tag_len; j++) diff |= (unsigned)(d[j] ^ r[body_len + j]);
        ok[i] = (uint8_t)(1u & ((diff - 1u) >> 8)); /* 1 iff diff == 0, without a branch */
    }
    OPENSSL_cleanse(d, sizeof(d));
    OPENSSL_cleanse(&s, sizeof(s));
    return VW_AGGMAC_OK;
}

int vw_aggmac_macs(uint8_t *out, const uint8_t *msgs, size_t count, size_t msg_len,
                   const int64_t *rows, const uint8_t *states, size_t n_states) {
    if (!rows_ok(rows, count, n_states, 0)) return VW_AGGMAC_ERR_ARG;
    state s;
    for (size_t i = 0; i < count; i++)
        mac(out + i * SHA256_DIGEST_LENGTH, &s, states + (size_t)rows[i] * sizeof(state), msgs + i * msg_len, msg_len);
    OPENSSL_cleanse(&s, sizeof(s));
    return VW_AGGMAC_OK;
}
