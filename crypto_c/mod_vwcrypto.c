/* SPDX-License-Identifier: MIT */
/*
 * mod_vwcrypto.c - MicroPython binding of the crypto_c modexp library.
 *
 * One source, two builds (the emlearn-micropython pattern):
 *   - user C module, linked into a firmware: crypto_c/micropython/vwcrypto/micropython.mk
 *     (or micropython.cmake), module registered with MP_REGISTER_MODULE;
 *   - dynamic native module (.mpy): crypto_c/natmod/Makefile, built with
 *     py/dynruntime.mk, which defines MICROPY_ENABLE_DYNRUNTIME and reaches
 *     the runtime only through mp_fun_table.
 *
 * Python API (identical to crypto_c/cpython/vwcrypto, the CPython cffi binding):
 *   powmod(b, e, m[, work])          -> b**e mod m
 *   powmod2(g, a, h, b, m[, work])   -> g**a * h**b mod m
 *   work_bytes(bits)                 -> size of a `work` bytearray for moduli up to bits
 *   powmod_fb(b, e, m, ebits[, work])              -> b**e mod m, or None
 *   powmod2_fb(g, a, abits, h, b, bbits, m[, work]) -> g**a * h**b mod m, or None
 *   FB_TABLES                        -> number of fixed-base tables compiled in
 * The *_fb functions run the fixed-base comb (vw_fixedbase.h, Lim & Lee CRYPTO '94) over
 * the tables compiled into flash (vw_fbtables.c, tools/gen_fb_tables.py) for the group
 * generators; None when no table serves that base, modulus and bound (use powmod then).
 * ebits is a PUBLIC bound, 0 <= e < 2**ebits (ValueError otherwise); the exponent goes to
 * the library as ceil(ebits/8) bytes. The natmod is built with VW_NO_FB_TABLES: a natmod
 * is loaded into RAM, where 28 KB of tables do not belong on a meter, so there the *_fb
 * functions check their arguments and return None (FB_TABLES = 0).
 *   LIMB_BITS, MAX_MOD_BITS, __version__
 * `work` (optional): a bytearray reused as the library's workspace, so that a meter with
 * a small heap allocates it once at start-up instead of 5.6 KB (2048-bit) per call on a
 * fragmenting heap; a buffer that is too small is ignored (a block is allocated).
 * Ints in and out. ValueError for a modulus <= 0, even or over 4096 bits, and
 * for an exponent < 0 or over 4096 bits; TypeError for anything but an int.
 *
 * Conversions go through the int methods to_bytes/from_bytes and mp_binary_op,
 * which both builds reach the same way. Lengths passed to the C library:
 *   modulus  - its own byte length (public);
 *   base     - the modulus byte length; a base below zero or too long for that
 *              is first reduced with Python's % (the library reduces the rest);
 *   exponent - converted to 512 bytes, its significant length measured without
 *              branches and rounded up to a multiple of 32 bytes (at least 32),
 *              so the running time reveals only that rounded length.
 * (MicroPython's own int arithmetic and to_bytes are not constant-time; see
 * crypto_c/cpython/vwcrypto/__init__.py for why that is acceptable for fixed-width scalars.)
 * Workspace (unless given), output and the byte copies of the secrets live on the
 * MicroPython heap: no static state at all, so the natmod has no .data/.bss. The library
 * wipes its workspace; this file wipes the byte copies of bases and exponents.
 */
#include "vw_modexp.h"
#ifndef VW_NO_FB_TABLES
#include "vw_fixedbase.h"
#endif

#ifdef MICROPY_ENABLE_DYNRUNTIME
#include "py/dynruntime.h"
#else
#include "py/runtime.h"
#include "py/objstr.h"
#endif

#define VWC_VERSION "0.1.0"
#define VWC_EXP_PAD 32u  /* exponent length granularity, bytes */

#if defined(MICROPY_MALLOC_USES_ALLOCATED_SIZE) && MICROPY_MALLOC_USES_ALLOCATED_SIZE
#define VWC_FREE(p, n) m_free((p), (n))
#else
#define VWC_FREE(p, n) ((void)(n), m_free(p))
#endif

/* ---- small helpers over Python objects (same code in both builds) ---- */

/* Call a method found by mp_load_method: dest[0..1] from the lookup, args from dest[2]. */
static mp_obj_t vwc_call_method(mp_obj_t *dest, size_t n_args) {
    if (dest[1] == MP_OBJ_NULL) {
        return mp_call_function_n_kw(dest[0], n_args, 0, dest + 2);
    }
    return mp_call_function_n_kw(dest[0], n_args + 1, 0, dest + 1);
}

static bool vwc_op_true(mp_binary_op_t op, mp_obj_t a, mp_obj_t b) {
    return mp_obj_is_true(mp_binary_op(op, a, b));
}

/* 1 << bits as a Python int. */
static mp_obj_t vwc_pow2(size_t bits) {
    return mp_binary_op(MP_BINARY_OP_LSHIFT, MP_OBJ_NEW_SMALL_INT(1), MP_OBJ_NEW_SMALL_INT(bits));
}

/* x.to_bytes(len, "big") for 0 <= x < 2**(8*len). */
static mp_obj_t vwc_to_bytes(mp_obj_t x, size_t len) {
    mp_obj_t dest[4];
    mp_load_method(x, MP_QSTR_to_bytes, dest);
    dest[2] = MP_OBJ_NEW_SMALL_INT(len);
    dest[3] = MP_OBJ_NEW_QSTR(MP_QSTR_big);
    return vwc_call_method(dest, 2);
}

/* int.from_bytes(buf, "big") */
static mp_obj_t vwc_from_bytes(mp_obj_t buf) {
    mp_obj_t dest[4];
    mp_load_method(MP_OBJ_FROM_PTR(&mp_type_int), MP_QSTR_from_bytes, dest);
    dest[2] = buf;
    dest[3] = MP_OBJ_NEW_QSTR(MP_QSTR_big);
    return vwc_call_method(dest, 2);
}

static uint8_t *vwc_bytes_ptr(mp_obj_t o, size_t *len) {
    mp_buffer_info_t bi;
    mp_get_buffer_raise(o, &bi, MP_BUFFER_READ);
    if (len != NULL) {
        *len = bi.len;
    }
    return (uint8_t *)bi.buf;
}

static void vwc_wipe(uint8_t *p, size_t n) {
    volatile uint8_t *v = p;
    while (n--) {
        *v++ = 0;
    }
}

/* Number of bytes from the first non-zero byte to the end, without branches
 * or indices that depend on the bytes' values. */
static size_t vwc_ct_sig_len(const uint8_t *p, size_t n) {
    size_t seen = 0, len = 0;
    for (size_t i = 0; i < n; i++) {
        seen |= ((size_t)p[i] + 0xFFu) >> 8; /* 1 once a non-zero byte was seen */
        len += seen;
    }
    return len;
}

/* TypeError("<what> must be an int, not <type>") unless o is an int (bool is not). */
static void vwc_check_int(mp_obj_t o, const char *what, size_t what_len) {
    if (mp_obj_is_int(o)) {
        return;
    }
    static const char fmt[] = "%s must be an int, not %s";
    mp_obj_t items[2] = {
        mp_obj_new_str(what, what_len),
        MP_OBJ_NEW_QSTR(mp_obj_get_type(o)->name),
    };
    mp_obj_t msg = mp_binary_op(MP_BINARY_OP_MODULO, mp_obj_new_str(fmt, sizeof(fmt) - 1),
        mp_obj_new_tuple(2, items));
    mp_raise_type_arg(&mp_type_TypeError, msg);
}
#define VWC_CHECK_INT(o, what) vwc_check_int((o), (what), sizeof(what) - 1)

/* Validate the modulus; return it as big-endian bytes of its own length. */
static mp_obj_t vwc_modulus(mp_obj_t m, size_t *mod_len) {
    VWC_CHECK_INT(m, "modulus");
    if (vwc_op_true(MP_BINARY_OP_LESS_EQUAL, m, MP_OBJ_NEW_SMALL_INT(0))) {
        mp_raise_ValueError(MP_ERROR_TEXT("modulus must be positive"));
    }
    if (!vwc_op_true(MP_BINARY_OP_EQUAL,
        mp_binary_op(MP_BINARY_OP_AND, m, MP_OBJ_NEW_SMALL_INT(1)), MP_OBJ_NEW_SMALL_INT(1))) {
        mp_raise_ValueError(MP_ERROR_TEXT("modulus must be odd"));
    }
    if (vwc_op_true(MP_BINARY_OP_MORE_EQUAL, m, vwc_pow2(VW_MAX_MOD_BITS))) {
        mp_raise_ValueError(MP_ERROR_TEXT("modulus larger than 4096 bits"));
    }
    /* The modulus is public: trimming its leading zero bytes may branch. */
    mp_obj_t full = vwc_to_bytes(m, VW_MAX_MOD_BITS / 8);
    size_t n;
    const uint8_t *p = vwc_bytes_ptr(full, &n);
    size_t skip = 0;
    while (skip < n - 1 && p[skip] == 0) {
        skip++;
    }
    *mod_len = n - skip;
    return vwc_to_bytes(m, n - skip);
}

/* Validate an exponent; return it as 512 big-endian bytes (the caller passes
 * the last *exp_len of them: the significant length rounded up to 32). */
static mp_obj_t vwc_exponent(mp_obj_t e, size_t *exp_len) {
    VWC_CHECK_INT(e, "exponent");
    if (vwc_op_true(MP_BINARY_OP_LESS, e, MP_OBJ_NEW_SMALL_INT(0))) {
        mp_raise_ValueError(MP_ERROR_TEXT("exponent must be non-negative"));
    }
    if (vwc_op_true(MP_BINARY_OP_MORE_EQUAL, e, vwc_pow2(VW_MAX_EXP_BYTES * 8))) {
        mp_raise_ValueError(MP_ERROR_TEXT("exponent larger than 4096 bits"));
    }
    mp_obj_t full = vwc_to_bytes(e, VW_MAX_EXP_BYTES);
    size_t sig = vwc_ct_sig_len(vwc_bytes_ptr(full, NULL), VW_MAX_EXP_BYTES);
    size_t padded = (sig + VWC_EXP_PAD - 1) / VWC_EXP_PAD * VWC_EXP_PAD;
    *exp_len = padded < VWC_EXP_PAD ? VWC_EXP_PAD : padded;
    return full;
}

/* Base as mod_len big-endian bytes; reduced with % only when it does not fit. */
static mp_obj_t vwc_base(mp_obj_t b, mp_obj_t m, size_t mod_len) {
    VWC_CHECK_INT(b, "base");
    if (vwc_op_true(MP_BINARY_OP_LESS, b, MP_OBJ_NEW_SMALL_INT(0))
        || vwc_op_true(MP_BINARY_OP_MORE_EQUAL, b, vwc_pow2(8 * mod_len))) {
        b = mp_binary_op(MP_BINARY_OP_MODULO, b, m);
    }
    return vwc_to_bytes(b, mod_len);
}

static NORETURN void vwc_raise_lib(int err) {
    switch (err) {
        case VW_ERR_MOD_ZERO:
            mp_raise_ValueError(MP_ERROR_TEXT("modulus must be positive"));
        case VW_ERR_MOD_EVEN:
            mp_raise_ValueError(MP_ERROR_TEXT("modulus must be odd"));
        case VW_ERR_MOD_TOO_LARGE:
            mp_raise_ValueError(MP_ERROR_TEXT("modulus larger than 4096 bits"));
        case VW_ERR_EXP_TOO_LARGE:
            mp_raise_ValueError(MP_ERROR_TEXT("exponent larger than 4096 bits"));
        default:
            mp_raise_ValueError(MP_ERROR_TEXT("vwcrypto: internal error"));
    }
}

/* The workspace of `limbs` limbs: the caller's buffer when it passed one that is writable,
 * large enough and limb-aligned (allocated once, early, it spares a meter with a small,
 * fragmented heap one large allocation per call), else a fresh heap block (*owned). */
static vw_limb *vwc_work(size_t n_args, const mp_obj_t *args, size_t idx, size_t limbs, bool *owned) {
    if (n_args > idx && args[idx] != mp_const_none) {
        mp_buffer_info_t bi;
        mp_get_buffer_raise(args[idx], &bi, MP_BUFFER_WRITE);
        if (bi.len >= limbs * sizeof(vw_limb) && ((uintptr_t)bi.buf % sizeof(vw_limb)) == 0) {
            *owned = false;
            return (vw_limb *)bi.buf;
        }
    }
    *owned = true;
    return m_malloc(limbs * sizeof(vw_limb));
}

/* work_bytes(bits): size of a workspace buffer that serves every call with a modulus of
 * up to `bits` bits (pass it as the optional last argument of powmod/powmod2). */
static mp_obj_t vwcrypto_work_bytes(mp_obj_t bits_in) {
    mp_int_t bits = mp_obj_get_int(bits_in);
    if (bits < 1 || bits > VW_MAX_MOD_BITS) {
        mp_raise_ValueError(MP_ERROR_TEXT("modulus larger than 4096 bits"));
    }
    size_t n = ((size_t)bits + VW_LIMB_BITS - 1) / VW_LIMB_BITS;
    return MP_OBJ_NEW_SMALL_INT(VW_POWMOD2_WORK_LIMBS(n) * sizeof(vw_limb));
}
static MP_DEFINE_CONST_FUN_OBJ_1(vwcrypto_work_bytes_obj, vwcrypto_work_bytes);

/* ---- the two functions ---- */

/* The ending every call shares: free the workspace if this call allocated it, then raise
 * the library's error or return the result as an int; `out` is freed either way. */
static mp_obj_t vwc_finish(int err, uint8_t *out, size_t out_len, vw_limb *work, size_t work_limbs,
    bool owned) {
    if (owned) {
        VWC_FREE(work, work_limbs * sizeof(vw_limb));
    }
    if (err != VW_OK) {
        VWC_FREE(out, out_len);
        vwc_raise_lib(err);
    }
    mp_obj_t r = vwc_from_bytes(mp_obj_new_bytearray_by_ref(out_len, out));
    VWC_FREE(out, out_len);
    return r;
}

static mp_obj_t vwcrypto_powmod(size_t n_args, const mp_obj_t *args) {
    mp_obj_t b_in = args[0], e_in = args[1], m_in = args[2];
    size_t mod_len, exp_len;
    bool owned;
    mp_obj_t mb = vwc_modulus(m_in, &mod_len);
    mp_obj_t eb = vwc_exponent(e_in, &exp_len);
    mp_obj_t bb = vwc_base(b_in, m_in, mod_len);

    const uint8_t *mp = vwc_bytes_ptr(mb, NULL);
    size_t n = vw_mod_limbs(mp, mod_len);
    size_t out_len = n * sizeof(vw_limb);
    size_t work_limbs = VW_POWMOD_WORK_LIMBS(n);
    uint8_t *out = m_malloc(out_len);
    vw_limb *work = vwc_work(n_args, args, 3, work_limbs, &owned);

    /* No allocation from here to the call: the buffers cannot move or be collected. */
    mp = vwc_bytes_ptr(mb, NULL);
    uint8_t *ep = vwc_bytes_ptr(eb, NULL);
    uint8_t *bp = vwc_bytes_ptr(bb, NULL);
    int err = vw_powmod(out, out_len, bp, mod_len, ep + VW_MAX_EXP_BYTES - exp_len, exp_len,
        mp, mod_len, work, work_limbs);
    vwc_wipe(ep, VW_MAX_EXP_BYTES);
    vwc_wipe(bp, mod_len);
    return vwc_finish(err, out, out_len, work, work_limbs, owned);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vwcrypto_powmod_obj, 3, 4, vwcrypto_powmod);

static mp_obj_t vwcrypto_powmod2(size_t n_args, const mp_obj_t *args) {
    size_t mod_len, a_len, b_len;
    bool owned;
    mp_obj_t mb = vwc_modulus(args[4], &mod_len);
    mp_obj_t ab = vwc_exponent(args[1], &a_len);
    mp_obj_t bb = vwc_exponent(args[3], &b_len);
    mp_obj_t gb = vwc_base(args[0], args[4], mod_len);
    mp_obj_t hb = vwc_base(args[2], args[4], mod_len);

    const uint8_t *mp = vwc_bytes_ptr(mb, NULL);
    size_t n = vw_mod_limbs(mp, mod_len);
    size_t out_len = n * sizeof(vw_limb);
    size_t work_limbs = VW_POWMOD2_WORK_LIMBS(n);
    uint8_t *out = m_malloc(out_len);
    vw_limb *work = vwc_work(n_args, args, 5, work_limbs, &owned);

    /* No allocation from here to the call: the buffers cannot move or be collected. */
    mp = vwc_bytes_ptr(mb, NULL);
    uint8_t *ap = vwc_bytes_ptr(ab, NULL);
    uint8_t *bp = vwc_bytes_ptr(bb, NULL);
    uint8_t *gp = vwc_bytes_ptr(gb, NULL);
    uint8_t *hp = vwc_bytes_ptr(hb, NULL);
    int err = vw_powmod2(out, out_len, gp, mod_len, ap + VW_MAX_EXP_BYTES - a_len, a_len,
        hp, mod_len, bp + VW_MAX_EXP_BYTES - b_len, b_len, mp, mod_len, work, work_limbs);
    vwc_wipe(ap, VW_MAX_EXP_BYTES);
    vwc_wipe(bp, VW_MAX_EXP_BYTES);
    vwc_wipe(gp, mod_len);
    vwc_wipe(hp, mod_len);
    return vwc_finish(err, out, out_len, work, work_limbs, owned);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vwcrypto_powmod2_obj, 5, 6, vwcrypto_powmod2);

/* ---- fixed-base comb over the built-in tables ---- */

/* Exponent e with the public bound 0 <= e < 2**ebits, as ceil(ebits/8) big-endian bytes. */
static mp_obj_t vwc_bounded(mp_obj_t e, mp_obj_t ebits_in, size_t *len) {
    VWC_CHECK_INT(e, "exponent");
    mp_int_t ebits = mp_obj_get_int(ebits_in);
    if (ebits < 1 || ebits > VW_MAX_EXP_BYTES * 8) {
        mp_raise_ValueError(MP_ERROR_TEXT("exponent bound out of range"));
    }
    if (vwc_op_true(MP_BINARY_OP_LESS, e, MP_OBJ_NEW_SMALL_INT(0))) {
        mp_raise_ValueError(MP_ERROR_TEXT("exponent must be non-negative"));
    }
    if (vwc_op_true(MP_BINARY_OP_MORE_EQUAL, e, vwc_pow2((size_t)ebits))) {
        mp_raise_ValueError(MP_ERROR_TEXT("exponent above its bound"));
    }
    *len = ((size_t)ebits + 7) / 8;
    return vwc_to_bytes(e, *len);
}

/* count 1: args (b, e, m, ebits[, work]); count 2: (g, a, abits, h, b, bbits, m[, work]). */
static mp_obj_t vwc_fb_call(size_t count, size_t n_args, const mp_obj_t *args) {
    size_t mod_len, k;
    mp_obj_t m_in = count == 1 ? args[2] : args[6];
    mp_obj_t mb = vwc_modulus(m_in, &mod_len);
    mp_obj_t eb[2], bb[2];
    size_t elen[2];
    for (k = 0; k < count; k++) {
        mp_obj_t ebits = count == 1 ? args[3] : args[3 * k + 2];
        eb[k] = vwc_bounded(args[3 * k + 1], ebits, &elen[k]);
        bb[k] = vwc_base(args[3 * k], m_in, mod_len);
    }
#ifdef VW_NO_FB_TABLES
    (void)n_args;
    (void)mb;
    (void)bb;
    for (k = 0; k < count; k++) {
        vwc_wipe(vwc_bytes_ptr(eb[k], NULL), elen[k]);
    }
    return mp_const_none;
#else
    const vw_fb_table *tabs[2];
    const uint8_t *eps[2];
    const uint8_t *mp = vwc_bytes_ptr(mb, NULL);
    for (k = 0; k < count; k++) {
        tabs[k] = vw_fb_find(vwc_bytes_ptr(bb[k], NULL), mod_len, mp, mod_len, elen[k]);
        if (tabs[k] == NULL) {
            for (k = 0; k < count; k++) {
                vwc_wipe(vwc_bytes_ptr(eb[k], NULL), elen[k]);
            }
            return mp_const_none;
        }
    }
    size_t out_len = (size_t)tabs[0]->n * sizeof(vw_limb);
    size_t work_limbs = VW_FB_WORK_LIMBS(tabs[0]->n);
    bool owned;
    uint8_t *out = m_malloc(out_len);
    vw_limb *work = vwc_work(n_args, args, count == 1 ? 4 : 7, work_limbs, &owned);
    /* No allocation from here to the call: the buffers cannot move or be collected. */
    for (k = 0; k < count; k++) {
        eps[k] = vwc_bytes_ptr(eb[k], NULL);
    }
    int err = vw_fb_powmod(out, out_len, count, tabs, eps, elen, work, work_limbs);
    for (k = 0; k < count; k++) {
        vwc_wipe((uint8_t *)eps[k], elen[k]);
    }
    return vwc_finish(err, out, out_len, work, work_limbs, owned);
#endif
}

static mp_obj_t vwcrypto_powmod_fb(size_t n_args, const mp_obj_t *args) {
    return vwc_fb_call(1, n_args, args);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vwcrypto_powmod_fb_obj, 4, 5, vwcrypto_powmod_fb);

static mp_obj_t vwcrypto_powmod2_fb(size_t n_args, const mp_obj_t *args) {
    return vwc_fb_call(2, n_args, args);
}
static MP_DEFINE_CONST_FUN_OBJ_VAR_BETWEEN(vwcrypto_powmod2_fb_obj, 7, 8, vwcrypto_powmod2_fb);

#ifdef VW_NO_FB_TABLES
#define VWC_FB_TABLES 0
#else
#define VWC_FB_TABLES VW_FB_COUNT
#endif

/* ---- module definition ---- */

#ifdef MICROPY_ENABLE_DYNRUNTIME

mp_obj_t mpy_init(mp_obj_fun_bc_t *self, size_t n_args, size_t n_kw, mp_obj_t *args) {
    MP_DYNRUNTIME_INIT_ENTRY

    mp_store_global(MP_QSTR_powmod, MP_OBJ_FROM_PTR(&vwcrypto_powmod_obj));
    mp_store_global(MP_QSTR_powmod2, MP_OBJ_FROM_PTR(&vwcrypto_powmod2_obj));
    mp_store_global(MP_QSTR_work_bytes, MP_OBJ_FROM_PTR(&vwcrypto_work_bytes_obj));
    mp_store_global(MP_QSTR_powmod_fb, MP_OBJ_FROM_PTR(&vwcrypto_powmod_fb_obj));
    mp_store_global(MP_QSTR_powmod2_fb, MP_OBJ_FROM_PTR(&vwcrypto_powmod2_fb_obj));
    mp_store_global(MP_QSTR_FB_TABLES, MP_OBJ_NEW_SMALL_INT(VWC_FB_TABLES));
    mp_store_global(MP_QSTR_LIMB_BITS, MP_OBJ_NEW_SMALL_INT(VW_LIMB_BITS));
    mp_store_global(MP_QSTR_MAX_MOD_BITS, MP_OBJ_NEW_SMALL_INT(VW_MAX_MOD_BITS));
    mp_store_global(MP_QSTR___version__, mp_obj_new_str(VWC_VERSION, sizeof(VWC_VERSION) - 1));

    MP_DYNRUNTIME_INIT_EXIT
}

#else

static MP_DEFINE_STR_OBJ(vwcrypto_version_obj, VWC_VERSION);

static const mp_rom_map_elem_t vwcrypto_module_globals_table[] = {
    { MP_ROM_QSTR(MP_QSTR___name__), MP_ROM_QSTR(MP_QSTR_vwcrypto) },
    { MP_ROM_QSTR(MP_QSTR_powmod), MP_ROM_PTR(&vwcrypto_powmod_obj) },
    { MP_ROM_QSTR(MP_QSTR_powmod2), MP_ROM_PTR(&vwcrypto_powmod2_obj) },
    { MP_ROM_QSTR(MP_QSTR_work_bytes), MP_ROM_PTR(&vwcrypto_work_bytes_obj) },
    { MP_ROM_QSTR(MP_QSTR_powmod_fb), MP_ROM_PTR(&vwcrypto_powmod_fb_obj) },
    { MP_ROM_QSTR(MP_QSTR_powmod2_fb), MP_ROM_PTR(&vwcrypto_powmod2_fb_obj) },
    { MP_ROM_QSTR(MP_QSTR_FB_TABLES), MP_ROM_INT(VWC_FB_TABLES) },
    { MP_ROM_QSTR(MP_QSTR_LIMB_BITS), MP_ROM_INT(VW_LIMB_BITS) },
    { MP_ROM_QSTR(MP_QSTR_MAX_MOD_BITS), MP_ROM_INT(VW_MAX_MOD_BITS) },
    { MP_ROM_QSTR(MP_QSTR___version__), MP_ROM_PTR(&vwcrypto_version_obj) },
};
static MP_DEFINE_CONST_DICT(vwcrypto_module_globals, vwcrypto_module_globals_table);

const mp_obj_module_t vwcrypto_user_cmodule = {
    .base = { &mp_type_module },
    .globals = (mp_obj_dict_t *)&vwcrypto_module_globals,
};

MP_REGISTER_MODULE(MP_QSTR_vwcrypto, vwcrypto_user_cmodule);

#endif
