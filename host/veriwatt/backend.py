# SPDX-License-Identifier: MIT
"""The one modular-exponentiation backend switch of a veriwatt process (host side).

    use(name) -> str     choose: "auto" (the default), "vwcrypto", "pow" or "gmpy2"
    CHOICE               the name last given to use() (restore a choice with use(CHOICE))
    BACKEND              what the proof layer uses: "vwcrypto", "pow" or "gmpy2"
    PUBLIC               what public-value checks use (veriwatt.fastexp): "gmpy2",
                         "vwcrypto" or "pow"
    GMP                  the gmpy2 module, or None when it is not installed
    powmod(b, e, m), powmod2(g, a, h, b, m)
                         the proof layer's exponentiations (veriwatt.zk), per BACKEND

Every exponentiation of the host goes through one of three layers, and each of them asks
this module (nothing else chooses a backend):

    choice     vwcore.modexp (secrets:       fastexp (public values:     zk proof layer
               keys, signing, commitments)   bill verification)          (provers hold secrets)
    vwcrypto   vwcrypto (constant-time C)    vwcrypto                    vwcrypto
    pow        pow (not constant-time)       pow                         pow
    gmpy2      vwcrypto                      gmpy2 + fixed-base tables   gmpy2 (variable-time:
                                                                         verifiers, benchmarks)
    auto       vwcrypto                      gmpy2 if installed,         vwcrypto
                                             else vwcrypto

vwcrypto falls back to pow where the binding is missing, as on the meter. Secrets never
reach gmpy2 under "auto"; "gmpy2" puts the proof layer (provers too) on GMP, which is for
verifiers and benchmarks only. The environment variable VERIWATT_MODEXP, read at import
(vwcore.modexp.REQUESTED; the meter's MicroPython reads it there too), gives the initial
choice; an unusable value falls back to "pow", as on the meter.
"""

from __future__ import annotations

from typing import Callable, Optional

from vwcore import modexp

try:
    import gmpy2 as GMP
except ImportError:  # pragma: no cover - gmpy2 is optional (extra "fast")
    GMP = None

NAMES = ("auto", "vwcrypto", "pow", "gmpy2")
CHOICE = "auto"
BACKEND = "pow"
PUBLIC = "pow"


def _pow1(b: int, e: int, m: int) -> int:
    return pow(b, e, m)


def _pow2(g: int, a: int, h: int, b: int, m: int) -> int:
    return pow(g, a, m) * pow(h, b, m) % m


def _gmp1(b: int, e: int, m: int) -> int:
    return int(GMP.powmod(b, e, m))


def _gmp2(g: int, a: int, h: int, b: int, m: int) -> int:
    return int(GMP.powmod(g, a, m) * GMP.powmod(h, b, m) % m)


powmod: Callable[[int, int, int], int] = _pow1
powmod2: Callable[[int, int, int, int, int], int] = _pow2


def _vwcrypto() -> Optional[object]:
    try:
        import vwcrypto
    except ImportError:
        return None
    return vwcrypto


def use(name: str = "auto") -> str:
    """Choose the backend of every layer (table above); returns BACKEND. ValueError for an
    unknown name, ImportError for "gmpy2" without gmpy2 or "vwcrypto" without the binding."""
    global CHOICE, BACKEND, PUBLIC, powmod, powmod2
    if name not in NAMES:
        raise ValueError("unknown modexp backend %r (choose one of %s)" % (name, ", ".join(NAMES)))
    if name == "gmpy2" and GMP is None:
        raise ImportError("gmpy2 is not installed (pip install veriwatt[fast])")
    vw = _vwcrypto()
    if name == "vwcrypto" and vw is None:
        raise ImportError("the vwcrypto binding is not built (pip install -e . / make setup)")
    modexp.use("pow" if name == "pow" else "auto")
    if name == "pow" or vw is None:
        BACKEND, powmod, powmod2 = "pow", _pow1, _pow2
    else:
        BACKEND, powmod, powmod2 = "vwcrypto", vw.powmod, vw.powmod2
    if name == "gmpy2":
        BACKEND, powmod, powmod2 = "gmpy2", _gmp1, _gmp2
    PUBLIC = "gmpy2" if name == "gmpy2" or (name == "auto" and GMP is not None) else BACKEND
    CHOICE = name
    return BACKEND


try:
    use(modexp.REQUESTED)
except (ValueError, ImportError):
    use("pow")
