# SPDX-License-Identifier: MIT
"""cffi build of the crypto_c modexp library for CPython (extension vwcrypto._vwcrypto, under
the Python wrapper crypto_c/cpython/vwcrypto/__init__.py: the module `vwcrypto`, the same name
and API as the MicroPython module the meter imports).

Built by `pip install` through setup.py's cffi_modules, or by hand:
    python crypto_c/cpython/vwcrypto_build.py
The host build uses 64-bit limbs (unsigned __int128) where the compiler has them.
"""

import glob
import os
import subprocess
import sys
import sysconfig
import tempfile

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))  # the project (setup.py)
# setuptools wants paths relative to the project root (where setup.py is), which is
# the working directory during `pip install`; by hand (below) cffi works in a temporary folder,
# so the paths are absolute then.
CRYPTO_C = "crypto_c" if __name__ != "__main__" else os.path.join(ROOT, "crypto_c")  # by hand: cffi chdirs to tmpdir

ffibuilder = FFI()
ffibuilder.cdef(
    """
    typedef uint64_t vw_limb;
    const char *vw_strerror(int err);
    size_t vw_mod_limbs(const uint8_t *mod, size_t mod_len);
    int vw_powmod(uint8_t *out, size_t out_len, const uint8_t *base, size_t base_len,
                  const uint8_t *exp, size_t exp_len, const uint8_t *mod, size_t mod_len,
                  vw_limb *work, size_t work_limbs);
    int vw_powmod2(uint8_t *out, size_t out_len, const uint8_t *g, size_t g_len,
                   const uint8_t *a, size_t a_len, const uint8_t *h, size_t h_len,
                   const uint8_t *b, size_t b_len, const uint8_t *mod, size_t mod_len,
                   vw_limb *work, size_t work_limbs);
    #define VW_MAX_EXP_BYTES ...
    #define VW_MAX_MOD_BITS ...
    #define VW_LIMB_BITS ...
    size_t vw_work_limbs_powmod(size_t n);
    size_t vw_work_limbs_powmod2(size_t n);
    typedef struct vw_fb_table vw_fb_table;
    const vw_fb_table *vw_fb_find(const uint8_t *base, size_t base_len,
                                  const uint8_t *mod, size_t mod_len, size_t exp_len);
    int vw_fb_powmod(uint8_t *out, size_t out_len, size_t count,
                     const vw_fb_table *const *tabs,
                     const uint8_t *const *exp, const size_t *exp_len,
                     vw_limb *work, size_t work_limbs);
    size_t vw_fb_work_limbs(const vw_fb_table *t);
    const size_t vw_fb_count;
    #define VW_FB_MAX_TERMS ...
    """
)
# Host-only multi-exponentiation over GMP (crypto_c/cpython/vw_multiexp.c: batch verification of
# bills, PUBLIC inputs only, variable time; wrapped by veriwatt.cmexp). Links libgmp (libgmp-dev).
ffibuilder.cdef(
    """
    int vw_multiexp(uint8_t *out, const uint8_t *mod, size_t mod_len, size_t count, const uint8_t *bases,
                    const uint8_t *exps, size_t exp_len);
    unsigned vw_mexp_window(size_t count, size_t bits);
    int vw_mexp_ifma_supported(void);
    int vw_mexp_set_backend(int backend);
    int vw_mexp_backend(size_t mod_bits);
    int vw_mexp_mul_loop(uint8_t *out, const uint8_t *mod, size_t mod_len, const uint8_t *base, size_t reps,
                         int square);
    #define VW_MEXP_AUTO ...
    #define VW_MEXP_MPN ...
    #define VW_MEXP_IFMA ...
    #define VW_MEXP_IFMA_MIN_BITS ...
    #define VW_MEXP_MAX_MOD_BYTES ...
    #define VW_MEXP_MAX_EXP_BYTES ...
    """
)
# (vw_mont52.c: its AVX-512 IFMA Montgomery product, in functions with their own target
# attribute, chosen at run time: no extra compile flags)
MEXP_SOURCES = [os.path.join(CRYPTO_C, "cpython", f) for f in ("vw_multiexp.c", "vw_mont52.c")]
MEXP_INCLUDE = '#include "vw_multiexp.h"\n'
MEXP_LIBRARIES = ["gmp"]
_sources = sorted(
    os.path.join(CRYPTO_C, os.path.basename(p)) for p in glob.glob(os.path.join(ROOT, CRYPTO_C, "vw_*.c"))
)
_preamble = (
    MEXP_INCLUDE
    + """
    #include "vw_modexp.h"
    #include "vw_fixedbase.h"
    static size_t vw_fb_work_limbs(const vw_fb_table *t) { return VW_FB_WORK_LIMBS(t->n); }
    static size_t vw_work_limbs_powmod(size_t n) { return VW_POWMOD_WORK_LIMBS(n); }
    static size_t vw_work_limbs_powmod2(size_t n) { return VW_POWMOD2_WORK_LIMBS(n); }
    """
)
_libraries = list(MEXP_LIBRARIES)


# --- batch HMAC-SHA256 tag checks for the host aggregator (issue 14; vwcrypto.aggmac,
# veriwatt.bulkagg): crypto_c/cpython/vw_aggmac.c over OpenSSL libcrypto's SHA-256. Host only
# (the meter's library has no such file). Without OpenSSL's headers (Debian: libssl-dev,
# tools/setup installs it) the binding is built without it and bulkagg uses its Python path.
def _have_libcrypto() -> bool:
    cc = (sysconfig.get_config_var("CC") or "cc").split()
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "probe.c")
        with open(src, "w") as f:
            f.write("#include <openssl/sha.h>\nint main(void) { return SHA256_CBLOCK != 64; }\n")
        try:
            r = subprocess.run(cc + [src, "-o", os.path.join(d, "probe"), "-lcrypto"], capture_output=True)
        except OSError:
            return False
    return r.returncode == 0


if _have_libcrypto():
    ffibuilder.cdef(
        """
        #define VW_AGGMAC_OK ...
        #define VW_AGGMAC_ERR_ARG ...
        size_t vw_aggmac_state_bytes(void);
        int vw_aggmac_prepare(uint8_t *states, const uint8_t *key_blocks, size_t n,
                              const uint8_t *prefix, size_t prefix_len);
        int vw_aggmac_check(uint8_t *ok, const uint8_t *recs, size_t count, size_t rec_len,
                            size_t body_len, const int64_t *rows, const uint8_t *states, size_t n_states);
        int vw_aggmac_macs(uint8_t *out, const uint8_t *msgs, size_t count, size_t msg_len,
                           const int64_t *rows, const uint8_t *states, size_t n_states);
        """
    )
    _sources.append(os.path.join(CRYPTO_C, "cpython", "vw_aggmac.c"))
    _preamble += '#include "cpython/vw_aggmac.h"\n'
    # a bill's Schnorr challenges in one call (veriwatt.cchal, batchverify; SHA-256 and GMP)
    ffibuilder.cdef(
        """
        #define VW_CHAL_ERR_ARG ...
        int64_t vw_challenges_check(const uint8_t *pre0, const uint8_t *pre1, size_t pre_len,
                                    const uint8_t *mid, size_t mid_len, const uint8_t *rs,
                                    const uint8_t *slots, const uint8_t *cs, size_t elen,
                                    const uint8_t *es, const uint8_t *q, size_t qlen, size_t count);
        int vw_challenges_digests(uint8_t *out, const uint8_t *pre0, const uint8_t *pre1, size_t pre_len,
                                  const uint8_t *mid, size_t mid_len, const uint8_t *rs,
                                  const uint8_t *slots, const uint8_t *cs, size_t elen, size_t count);
        """
    )
    _sources.append(os.path.join(CRYPTO_C, "cpython", "vw_challenges.c"))
    _preamble += '#include "cpython/vw_challenges.h"\n'
    _libraries.append("crypto")
else:
    print(
        "vwcrypto: OpenSSL headers not found (libssl-dev): built without vwcrypto.aggmac and the C challenges",
        file=sys.stderr,
    )
# --- end of the aggregator's block

# --- a bill's hex columns checked and decoded in one call each (veriwatt.cbill, issue 14; GMP)
ffibuilder.cdef(
    """
    #define VW_BILLHEX_ERR_ARG ...
    int64_t vw_hex_elems(uint8_t *be, uint8_t *le, const uint8_t *text, size_t text_len, uint8_t sep,
                         size_t count, size_t width, const uint8_t *p);
    int64_t vw_hex_sigs(uint8_t *es, uint8_t *ss, const uint8_t *text, size_t text_len, uint8_t sep,
                        size_t count, size_t qlen, const uint8_t *q);
    int vw_weighted_sum(uint8_t *out, size_t out_len, const uint8_t *w, const uint8_t *v, size_t width,
                        size_t count);
    """
)
_sources.append(os.path.join(CRYPTO_C, "cpython", "vw_billhex.c"))
_preamble += '#include "cpython/vw_billhex.h"\n'
# --- end of the bill columns' block

ffibuilder.set_source(
    "vwcrypto._vwcrypto",
    _preamble,
    sources=_sources + MEXP_SOURCES,
    libraries=_libraries,
    include_dirs=[CRYPTO_C, os.path.join(CRYPTO_C, "cpython")],
    define_macros=[("VW_LIMB_BITS", "64")],
    extra_compile_args=["-O2", "-std=c99"] if sys.platform != "win32" else [],
)

if __name__ == "__main__":
    # By hand: a check that the extension compiles (e.g. with other CFLAGS), built in a temporary
    # folder and left there; `bash tools/setup` or `pip install -e .` builds and installs it. (Not
    # into crypto_c/cpython/vwcrypto: a .cpython-3XX .so there would shadow the installed abi3 one.)
    import tempfile

    out = ffibuilder.compile(tmpdir=tempfile.mkdtemp(prefix="vwcrypto-build-"), verbose=False)
    print("built %s (not installed: bash tools/setup or pip install -e . installs the extension)" % out)
