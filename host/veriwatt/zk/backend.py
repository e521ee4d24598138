"""Modular exponentiation for the proof layer, with a switchable backend.

    powmod(b, e, m), powmod2(g, a, h, b, m)   same contract as vwcore.modexp / veriwatt.vwcrypto
    use(name) -> name in use                   "vwcrypto" (constant-time C over cffi, default),
                                               "pow" (builtin 3-argument pow), "gmpy2" (GMP)
    BACKEND                                    the name in use

Kept separate from vwcore.modexp.use() so that switching the proof layer's backend for a
benchmark never changes the rest of the process. Provers handle secret exponents (nonces,
witnesses): use "vwcrypto" for them, the only constant-time backend. "pow" and "gmpy2"
are variable-time; they are fine for verifiers, whose exponents are all public.
"""
from __future__ import annotations

BACKEND = "pow"


def _pow1(b, e, m):
    return pow(b, e, m)


def _pow2(g, a, h, b, m):
    return pow(g, a, m) * pow(h, b, m) % m


powmod = _pow1
powmod2 = _pow2


def use(name: str = "vwcrypto") -> str:
    """Select the backend ("vwcrypto" alias "cffi", "pow", "gmpy2" or "auto")."""
    global powmod, powmod2, BACKEND
    if name in ("auto", "vwcrypto", "cffi"):
        try:
            from veriwatt import vwcrypto as _vw
        except ImportError:
            if name != "auto":
                raise
            name = "pow"
        else:
            powmod, powmod2, BACKEND = _vw.powmod, _vw.powmod2, "vwcrypto"
            return BACKEND
    if name == "pow":
        powmod, powmod2, BACKEND = _pow1, _pow2, "pow"
        return BACKEND
    if name == "gmpy2":
        import gmpy2

        def _g1(b, e, m):
            return int(gmpy2.powmod(b, e, m))

        def _g2(g, a, h, b, m):
            return int(gmpy2.powmod(g, a, m) * gmpy2.powmod(h, b, m) % m)

        powmod, powmod2, BACKEND = _g1, _g2, "gmpy2"
        return BACKEND
    raise ValueError("unknown modexp backend %r" % (name,))


use("auto")
