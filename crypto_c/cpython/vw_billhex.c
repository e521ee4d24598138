/* SPDX-License-Identifier: MIT */
/*
 * vw_billhex.c - a bill's hex columns decoded and checked in one pass; see vw_billhex.h.
 * One 256-entry table maps a lowercase hex digit to its value and anything else to 0xff,
 * so upper case, whitespace, signs and every non-ASCII byte are refused. The sums use GMP.
 */
#include <gmp.h>
#include <string.h>

#include "vw_billhex.h"

static uint8_t hexval[256];
static int hexval_ready;

/* The digit table: '0'-'9' and 'a'-'f' to 0..15, every other byte to 0xff. */
static void hex_init(void) {
    if (hexval_ready) return;
    memset(hexval, 0xff, sizeof hexval);
    for (int i = 0; i < 10; i++) hexval['0' + i] = (uint8_t)i;
    for (int i = 0; i < 6; i++) hexval['a' + i] = (uint8_t)(10 + i);
    hexval_ready = 1;
}

/* Decodes n hex digits (n <= 2*width) right-aligned into out[0..width) big-endian;
 * returns 0, or -1 on a byte that is not a lowercase hex digit. */
static int decode_be(uint8_t *out, size_t width, const uint8_t *s, size_t n) {
    size_t lead = width - (n + 1) / 2;
    memset(out, 0, lead);
    uint8_t *o = out + lead, bad = 0;
    size_t i = 0;
    if (n & 1) {
        bad |= hexval[s[0]];
        *o++ = hexval[s[0]];
        i = 1;
    }
    for (; i < n; i += 2) {
        uint8_t hi = hexval[s[i]], lo = hexval[s[i + 1]];
        bad |= hi | lo;
        *o++ = (uint8_t)((hi << 4) | (lo & 0x0f));
    }
    return (bad & 0xf0) ? -1 : 0;
}

/* 1 when 1 < v < p (both width bytes big-endian), else 0. */
static int in_range(const uint8_t *v, const uint8_t *p, size_t width) {
    size_t i = 0;
    while (i + 1 < width && v[i] == 0) i++;
    if (i + 1 == width && v[i] <= 1) return 0;
    return memcmp(v, p, width) < 0;
}

static void reverse_into(uint8_t *dst, const uint8_t *src, size_t width) {
    for (size_t i = 0; i < width; i++) dst[i] = src[width - 1 - i];
}

int64_t vw_hex_elems(uint8_t *be, uint8_t *le, const uint8_t *text, size_t text_len, uint8_t sep,
                     size_t count, size_t width, const uint8_t *p) {
    size_t pos = 0, t;
    if (width == 0 || width > 1024) return VW_BILLHEX_ERR_ARG;
    hex_init();
    for (t = 0; t < count; t++) {
        size_t end = pos;
        while (end < text_len && text[end] != sep) end++;
        size_t n = end - pos;
        if ((t + 1 < count) != (end < text_len)) break; /* more or fewer pieces than count */
        if (n == 0 || n > 2 * width || text[pos] == '0') break;
        uint8_t *out = be + t * width;
        if (decode_be(out, width, text + pos, n) || !in_range(out, p, width)) break;
        if (le) reverse_into(le + t * width, out, width);
        pos = end + 1;
    }
    return (int64_t)t;
}

int64_t vw_hex_sigs(uint8_t *es, uint8_t *ss, const uint8_t *text, size_t text_len, uint8_t sep,
                    size_t count, size_t qlen, const uint8_t *q) {
    size_t w = 4 * qlen, t;
    if (qlen == 0 || qlen > 64 || count == 0 || text_len != count * (w + 1) - 1) return VW_BILLHEX_ERR_ARG;
    hex_init();
    for (t = 0; t < count; t++) {
        const uint8_t *s = text + t * (w + 1);
        if (t + 1 < count && s[w] != sep) break;
        uint8_t *e = es + t * qlen, *sv = ss + t * qlen;
        if (decode_be(e, qlen, s, 2 * qlen) || decode_be(sv, qlen, s + 2 * qlen, 2 * qlen)) break;
        if (memcmp(e, q, qlen) >= 0 || memcmp(sv, q, qlen) >= 0) break;
    }
    return (int64_t)t;
}

int vw_weighted_sum(uint8_t *out, size_t out_len, const uint8_t *w, const uint8_t *v, size_t width,
                    size_t count) {
    mpz_t acc, x, a;
    size_t got;
    if (width == 0 || width > 1024 || out_len < width + 16) return VW_BILLHEX_ERR_ARG;
    mpz_inits(acc, x, a, NULL);
    for (size_t t = 0; t < count; t++) {
        mpz_import(a, 8, -1, 1, 0, 0, w + 8 * t); /* little-endian: any width of unsigned long */
        mpz_import(x, width, 1, 1, 1, 0, v + t * width);
        mpz_addmul(acc, x, a);
    }
    memset(out, 0, out_len); /* acc < 2^64 * 2^64 * 256^width: fits in width + 16 bytes */
    mpz_export(out + out_len - mpz_sizeinbase(acc, 256), &got, 1, 1, 1, 0, acc);
    mpz_clears(acc, x, a, NULL);
    return 0;
}
