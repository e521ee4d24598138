# SPDX-License-Identifier: MIT
"""Modular exponentiation with the fastest backend available, same API everywhere.

    powmod(b, e, m)          -> b**e mod m
    powmod2(g, a, h, b, m)   -> g**a * h**b mod m      (Pedersen commitments, Schnorr verify)
    powmod_fb(b, e, m, ebits)            -> b**e mod m, b a FIXED base (the group's g or h)
    powmod2_fb(g, a, abits, h, b, bbits, m) -> g**a * h**b mod m, g and h fixed bases
                                The *_fb forms take a PUBLIC bound on each exponent
                                (0 <= e < 2**ebits, ValueError otherwise) and run the
                                fixed-base comb over tables compiled into the C library
                                (Lim & Lee, CRYPTO '94; HAC 14.6.3) when it has tables for
                                that base and modulus (the 2048/256 group); otherwise they
                                fall back to powmod/powmod2. Results are identical.
    BACKEND                  -> "vwcrypto" (MicroPython C module / natmod),
                                "cffi" (CPython: the module vwcrypto, cffi over crypto_c/) or
                                "pow" (builtin 3-argument pow, not constant-time)
    use(name)                -> force a backend ("pow", "vwcrypto", "cffi" or "auto");
                                returns the backend now in use. Benchmarks call use("pow").

Call through the module (``modexp.powmod(...)``), not ``from vwcore.modexp import powmod``,
so that use() takes effect everywhere. Setting the environment variable VERIWATT_MODEXP=pow (CPython or unix MicroPython) at
import time has the same effect as use("pow"). On the host, choose through veriwatt.backend
(the one switch, which also covers the public-value and proof-layer exponentiations): it
calls use() here.

The arithmetic is plain modular exponentiation (HAC, Menezes et al. 1996, ch. 14.6);
powmod2 is the simultaneous ("Shamir's trick") double exponentiation of HAC 14.88 in the
C backends, and two pow() calls in the fallback.
"""

_pow = pow
WORK_BITS = 2048  # workspace kept for moduli up to this size (the default group)
_impl = None
_c = None
BACKEND = "pow"


def _find(name):
    if name in ("auto", "vwcrypto", "cffi"):
        # The module vwcrypto: the MicroPython user C module or natmod on the meter, the cffi
        # binding (crypto_c/cpython) on CPython; the same API under the same name.
        try:
            import vwcrypto as m
        except ImportError:
            if name != "auto":
                raise
        else:
            return m, ("cffi" if hasattr(m, "ffi") else "vwcrypto")
    if name in ("auto", "pow"):
        return None, "pow"
    raise ValueError("unknown modexp backend: %s" % name)


def _pow_powmod(b, e, m):
    return _pow(b, e, m)


def _pow_powmod2(g, a, h, b, m):
    return _pow(g, a, m) * _pow(h, b, m) % m


def _bound(e, ebits):
    if not 0 <= e < (1 << ebits):
        raise ValueError("exponent above its bound")


def powmod_fb(b, e, m, ebits):
    """b**e mod m for a fixed base b, 0 <= e < 2**ebits (ebits: a public bound)."""
    _bound(e, ebits)
    r = _fb1(b, e, m, ebits)
    return powmod(b, e, m) if r is None else r


def powmod2_fb(g, a, abits, h, b, bbits, m):
    """g**a * h**b mod m for fixed bases g, h; 0 <= a < 2**abits, 0 <= b < 2**bbits."""
    _bound(a, abits)
    _bound(b, bbits)
    r = _fb2(g, a, abits, h, b, bbits, m)
    return powmod2(g, a, h, b, m) if r is None else r


def _none(*args):
    return None


_fb1 = _fb2 = _none


def use(name="auto"):
    """Select the backend: "auto" (best available), "vwcrypto", "cffi" or "pow"."""
    global _c, BACKEND, powmod, powmod2, _fb1, _fb2
    m, BACKEND = _find(name)
    _c = m
    _fb1 = _fb2 = _none
    if m is not None and getattr(m, "FB_TABLES", 0):
        _fb1 = m.powmod_fb
        _fb2 = m.powmod2_fb
    if m is None:
        powmod = _pow_powmod
        powmod2 = _pow_powmod2
    elif hasattr(m, "work_bytes") and BACKEND == "vwcrypto":
        # One workspace for the default group's size, allocated now while the heap is
        # young: a meter with a 48 KB heap cannot count on a fresh 5.6 KB block per call.
        # Larger moduli (the 3072 group) still get a block per call from the C module.
        w = bytearray(m.work_bytes(WORK_BITS))
        powmod = lambda b, e, mod: m.powmod(b, e, mod, w)  # noqa: E731
        powmod2 = lambda g, a, h, b, mod: m.powmod2(g, a, h, b, mod, w)  # noqa: E731
        if _fb1 is not _none:
            _fb1 = lambda b, e, mod, eb: m.powmod_fb(b, e, mod, eb, w)  # noqa: E731
            _fb2 = lambda g, a, ab, h, b, bb, mod: m.powmod2_fb(g, a, ab, h, b, bb, mod, w)  # noqa: E731
    else:
        powmod = m.powmod
        powmod2 = m.powmod2
    return BACKEND


def _env_choice():
    try:
        import os

        v = os.getenv("VERIWATT_MODEXP")
    except Exception:  # no os/getenv on some ports
        v = None
    return v or "auto"


powmod = _pow_powmod
powmod2 = _pow_powmod2
# What VERIWATT_MODEXP asked for ("auto" when unset). The host's one backend switch,
# veriwatt.backend, reads it from here: "gmpy2" (host only) chooses GMP for PUBLIC values
# there, and leaves this module (secrets) on its constant-time default.
REQUESTED = _env_choice()
try:
    use("auto" if REQUESTED == "gmpy2" else REQUESTED)
except Exception:
    use("pow")
