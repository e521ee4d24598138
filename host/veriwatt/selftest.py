# SPDX-License-Identifier: MIT
"""`veriwatt selftest`: the modexp backend against known answers and against Python's pow."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Dict, Optional

from . import resources
from .errors import VeriwattError


def run(vectors: Optional[str] = None, n_random: int = 50, seed: int = 1) -> Dict[str, Any]:
    """Check vwcrypto.powmod/powmod2 against the known-answer file (default: the packaged one) and
    `n_random` random cases against pow: {"backend", "vectors", "checked", "failed"}."""
    from . import vwcrypto

    checked = failed = 0
    path = Path(vectors) if vectors else resources.vectors_file()
    if vectors and not path.is_file():
        raise VeriwattError("known-answer file %s not found (omit --vectors for the packaged one)" % path)
    if path.exists():
        for line in path.read_text().splitlines():
            if not line or line.startswith("#"):
                continue
            kind, *nums = line.split()
            v = [int(x, 16) for x in nums]
            got = vwcrypto.powmod(*v[:3]) if kind == "powmod" else vwcrypto.powmod2(*v[:5])
            checked += 1
            failed += got != v[-1]
    rnd = random.Random(seed)
    for _ in range(n_random):
        m = rnd.getrandbits(rnd.choice([64, 256, 2048])) | 1
        b, e = rnd.getrandbits(2048), rnd.getrandbits(256)
        checked += 1
        failed += vwcrypto.powmod(b, e, m) != pow(b, e, m)
    return {
        "backend": "vwcrypto (cffi, %d-bit limbs)" % vwcrypto.LIMB_BITS,
        "vectors": str(path) if path.exists() else None,
        "checked": checked,
        "failed": failed,
    }
