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

#if defined(__SSE2__)
#include <emmintrin.h>
/* 32 hex digits to 16 bytes with SSE2 (x86-64's baseline): each byte's value as a digit or a
 * lowercase letter, the pairs joined as hi << 4 | lo; returns 0, or -1 when one of the 32
 * bytes is not a lowercase hex digit (then out holds garbage). */
static int decode32(uint8_t *out, const uint8_t *s) {
    const __m128i c0 = _mm_set1_epi8('0' - 1), c9 = _mm_set1_epi8('9' + 1);
    const __m128i ca = _mm_set1_epi8('a' - 1), cf = _mm_set1_epi8('f' + 1);
    const __m128i k0 = _mm_set1_epi8('0'), ka = _mm_set1_epi8('a' - 10), lo8 = _mm_set1_epi16(0x00ff);
    __m128i w[2];
    int ok = 0xffff;
    for (int k = 0; k < 2; k++) {
        __m128i v = _mm_loadu_si128((const __m128i *)(s + 16 * k)); /* bytes < 0x80: signed compares */
        __m128i dig = _mm_and_si128(_mm_cmpgt_epi8(v, c0), _mm_cmplt_epi8(v, c9));
        __m128i let = _mm_and_si128(_mm_cmpgt_epi8(v, ca), _mm_cmplt_epi8(v, cf));
        ok &= _mm_movemask_epi8(_mm_or_si128(dig, let));
        __m128i val = _mm_or_si128(_mm_and_si128(dig, _mm_sub_epi8(v, k0)), _mm_and_si128(let, _mm_sub_epi8(v, ka)));
        /* 16-bit lane j = val[2j] | val[2j+1] << 8 -> val[2j] << 4 | val[2j+1] */
        w[k] = _mm_or_si128(_mm_slli_epi16(_mm_and_si128(val, lo8), 4), _mm_srli_epi16(val, 8));
    }
    _mm_storeu_si128((__m128i *)out, _mm_packus_epi16(w[0], w[1]));
    return ok == 0xffff ? 0 : -1;
}
#endif

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
#if defined(__SSE2__)
    for (; i + 32 <= n; i += 32, o += 16)
        if (decode32(o, s + i)) return -1;
#endif
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

/* dst[0..width) = src[0..width) in reverse byte order: eight bytes at a time (one byte swap
 * each) when width is a multiple of 8, as every group's is. */
static void reverse_into(uint8_t *dst, const uint8_t *src, size_t width) {
#if defined(__GNUC__)
    if (width % 8 == 0) {
        for (size_t i = 0; i < width; i += 8) {
            uint64_t w;
            memcpy(&w, src + width - 8 - i, 8);
            w = __builtin_bswap64(w);
            memcpy(dst + i, &w, 8);
        }
        return;
    }
#endif
    for (size_t i = 0; i < width; i++) dst[i] = src[width - 1 - i];
}

int64_t vw_hex_elems(uint8_t *be, uint8_t *le, const uint8_t *text, size_t text_len, uint8_t sep,
                     size_t count, size_t width, const uint8_t *p) {
    size_t pos = 0, t;
    if (width == 0 || width > 1024) return VW_BILLHEX_ERR_ARG;
    hex_init();
    for (t = 0; t < count; t++) {
        const uint8_t *hit = memchr(text + pos, sep, text_len - pos);
        size_t end = hit ? (size_t)(hit - text) : text_len;
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
