# SPDX-License-Identifier: MIT
# setuptools hooks: the cffi extension (vwcrypto._vwcrypto, crypto_c/cpython), the package data that lives outside host/veriwatt, and
# the abi3 wheel tag (everything else is in pyproject.toml).
#
# A wheel (pip install ., pip wheel .) carries, under veriwatt/_data/ (see veriwatt/resources.py):
#   firmware/vwcore, firmware/vwmeter (+ manifest.py, package.json)  the meter firmware sources
#   hal/<board>/*, hal/common/*, hal/README.md                        the board HALs
#   crypto_c/vectors/modexp.txt                                       selftest's known answers
#   web/static/*, web/node_modules/<the 3 files served>               the customer's page (veriwatt serve)
#   natmod/<arch>/vwcrypto.mpy   the natmods present in build/natmod/ at build time (make natmods);
#                                none present: the wheel has none, and deploy / sim fall back to pow()
# An editable install (pip install -e .) copies nothing: it reads the checkout itself.
import glob
import os
import shutil
import sys
import sysconfig

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = "veriwatt/_data"
DATA_GLOBS = [
    "firmware/vwcore/*.py",
    "firmware/vwmeter/*.py",
    "firmware/manifest.py",
    "firmware/package.json",
    "hal/README.md",
    "hal/*/*.py",
    "hal/*/package.json",
    "crypto_c/vectors/modexp.txt",
    # the customer's page (veriwatt serve, docs/WEB.md) and, when tools/setup installed them, the
    # npm files the service serves (MIT licensed: their package.json / LICENSE.md go along)
    "web/static/*",
    "web/package.json",
    "web/node_modules/@micropython/micropython-webassembly-pyscript/micropython.mjs",
    "web/node_modules/@micropython/micropython-webassembly-pyscript/micropython.wasm",
    "web/node_modules/@micropython/micropython-webassembly-pyscript/package.json",
    "web/node_modules/chart.js/dist/chart.umd.js",
    "web/node_modules/chart.js/LICENSE.md",
    "web/node_modules/chart.js/package.json",
]
NATMOD_GLOB = "build/natmod/*/vwcrypto.mpy"


def package_data_files():
    """(source relative to the project, destination relative to veriwatt/_data)."""
    out = []
    for pattern in DATA_GLOBS:
        for src in sorted(glob.glob(os.path.join(HERE, pattern))):
            rel = os.path.relpath(src, HERE)
            out.append((rel, rel))
    for src in sorted(glob.glob(os.path.join(HERE, NATMOD_GLOB))):
        arch = os.path.basename(os.path.dirname(src))
        out.append((os.path.relpath(src, HERE), os.path.join("natmod", arch, "vwcrypto.mpy")))
    return out


class build_py_with_data(build_py):
    """build_py, plus the firmware, HAL, vectors and natmods copied into veriwatt/_data."""

    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return  # the editable install reads the checkout (veriwatt/resources.py)
        files = package_data_files()
        for src, dst in files:
            target = os.path.join(self.build_lib, DATA, dst)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copyfile(os.path.join(HERE, src), target)
        if not any(d.startswith("natmod") for _, d in files):
            print(
                "veriwatt: note: no natmod in build/natmod/ (make natmods): the package carries none; "
                "deploy and sim then use pow() on the meter",
                file=sys.stderr,
            )


def limited_api_tag():
    """cffi builds the binding against the stable ABI (_vwcrypto.abi3.so) on CPython unless the
    interpreter is a debug or free-threaded build; tag the wheel so then (cp39-abi3: any
    CPython >= 3.9, the project's requires-python)."""
    from cffi import recompiler

    if sys.implementation.name != "cpython" or hasattr(sys, "gettotalrefcount") or not recompiler.USE_LIMITED_API:
        return None
    if sysconfig.get_config_var("Py_GIL_DISABLED"):
        return None
    return "cp39"


options = {}
if limited_api_tag():
    options["bdist_wheel"] = {"py_limited_api": limited_api_tag()}

setup(
    cffi_modules=["crypto_c/cpython/vwcrypto_build.py:ffibuilder"],
    cmdclass={"build_py": build_py_with_data},
    options=options,
)
