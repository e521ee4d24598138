# SPDX-License-Identifier: MIT
"""Where veriwatt finds the files it ships besides its Python code: the meter firmware sources
(firmware/vwcore, firmware/vwmeter), the board HALs (hal/<board>/vwhal.py, hal/common), the
modexp known-answer vectors (crypto_c/vectors/modexp.txt) and the vwcrypto natmods
(vwcrypto.mpy per MicroPython architecture).

One rule, two layouts:
- a source checkout (the editable install `pip install -e .`, or the tree on sys.path): the
  repository itself, found as the folder two levels above this package (host/veriwatt), with
  the natmods where `make natmods` builds them (build/natmod/<arch>/vwcrypto.mpy);
- an installed wheel (`pip install .`, `pip wheel .`): the copy that setup.py's build step puts
  inside the package, importlib.resources.files("veriwatt") / "_data", with the same paths
  (firmware/..., hal/..., crypto_c/vectors/modexp.txt) and the natmods in natmod/<arch>/.

The installed package must be an ordinary folder on disk (pip installs wheels so): the paths
are handed to micropython (MICROPYPATH) and to mpremote.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

_PKG = Path(__file__).resolve().parent
DATA_DIR = "_data"


def checkout_root() -> Optional[Path]:
    """The repository when this package runs from a source checkout, else None."""
    root = _PKG.parents[1]
    if (root / "host" / "veriwatt").is_dir() and (root / "firmware" / "vwmeter" / "main.py").is_file():
        return root
    return None


def data_root() -> Path:
    """The folder holding firmware/, hal/ and crypto_c/vectors/: the checkout, else the package's
    own copy (importlib.resources)."""
    root = checkout_root()
    if root is not None:
        return root
    try:
        from importlib.resources import files

        return Path(str(files("veriwatt") / DATA_DIR))
    except (ImportError, TypeError):  # pragma: no cover - Python < 3.9 or an unusual loader
        return _PKG / DATA_DIR


def firmware_dir() -> Path:
    """The folder with the vwcore and vwmeter packages (MicroPython sources)."""
    return data_root() / "firmware"


def hal_dir() -> Path:
    """The folder with hal/<board>/vwhal.py and hal/common/*.py."""
    return data_root() / "hal"


def vectors_file() -> Path:
    """The modexp known-answer vectors (`veriwatt selftest`)."""
    return data_root() / "crypto_c" / "vectors" / "modexp.txt"


def natmod_dir(arch: str) -> Path:
    """The folder that holds (or would hold) vwcrypto.mpy for a MicroPython architecture
    (x64, armv7m, armv7emsp, xtensawin, rv32imc, ...)."""
    root = checkout_root()
    if root is not None:
        return root / "build" / "natmod" / arch
    return data_root() / "natmod" / arch


def natmod_file(arch: str) -> Path:
    return natmod_dir(arch) / "vwcrypto.mpy"


def describe(path: Path) -> str:
    """A path as the user should read it: relative to the checkout or the package data."""
    for base in (checkout_root(), data_root()):
        if base is not None:
            try:
                return str(path.relative_to(base))
            except ValueError:
                pass
    return str(path)
