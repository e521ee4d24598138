# SPDX-License-Identifier: MIT
"""vwcrypto's CMake build file (crypto_c/micropython/micropython.cmake, used by the CMake ports
rp2 and esp32) checked by a real build: the MicroPython 1.25 rp2 port for the Raspberry Pi
Pico (RP2040, Cortex-M0+), built by tools/build_rp2 (`make rp2`) into
build/rp2/RPI_PICO/firmware.elf.

The firmware cannot be RUN here: QEMU has no RP2040/RP2350 machine (and Renode is not
installable), so these tests check the build output only. That the binding and the library
compute the right thing is tested elsewhere on the same sources (the natmod, the QEMU
firmware built through micropython.mk). What this file can catch: the CMake file gathering
the wrong sources, include folders or definitions; the module not being registered with the
port; the library built with the wrong flags or for the wrong core; the binding not compiling
under the rp2 port's -Wall -Werror; a link failure. esp32 is not built (no ESP-IDF here).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from vwtest import ROOT, require_artifact

pytestmark = [pytest.mark.crypto, pytest.mark.slow]

BOARD = "RPI_PICO"
BUILD = ROOT / "build" / "rp2" / BOARD
ELF = BUILD / "firmware.elf"
CRYPTO = ROOT / "crypto_c"
CMAKE_FILES = [CRYPTO / "micropython" / "micropython.cmake", CRYPTO / "micropython" / "vwcrypto" / "micropython.cmake"]
SOURCES = [CRYPTO / n for n in ("mod_vwcrypto.c", "vw_mont.c", "vw_powmod.c")]
HEADERS = [CRYPTO / n for n in ("vw_modexp.h", "vw_internal.h")]
LIBRARY = ["vw_mont.c", "vw_powmod.c"]
# RP2040 memory map: XIP flash at 0x10000000 (2 MB on the Pico), SRAM at 0x20000000.
FLASH = (0x10000000, 0x10000000 + 2 * 1024 * 1024)


def _fail(msg: str):
    pytest.fail(msg, pytrace=False)


def _tool(name: str) -> str:
    exe = shutil.which(name)
    if exe is None:
        _fail("%s is missing: run `make setup` (apt package gcc-arm-none-eabi)" % name)
    return exe


@pytest.fixture(scope="module")
def elf() -> Path:
    require_artifact(ELF, "rp2")
    newest = max(CMAKE_FILES + SOURCES + HEADERS + [ROOT / "tools" / "build_rp2"], key=lambda p: p.stat().st_mtime)
    if newest.stat().st_mtime > ELF.stat().st_mtime:
        _fail(
            "%s is older than %s: run `make rp2` (tools/build_rp2) to rebuild it"
            % (ELF.relative_to(ROOT), newest.relative_to(ROOT))
        )
    return ELF


@pytest.fixture(scope="module")
def symbols(elf) -> dict[str, tuple[int, int, str]]:
    """name -> (address, size, nm type letter) of the firmware's defined symbols."""
    out = subprocess.run(
        [_tool("arm-none-eabi-nm"), "-S", "--defined-only", str(elf)], check=True, capture_output=True, text=True
    ).stdout
    syms = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 4:
            addr, size, kind, name = parts
            syms[name] = (int(addr, 16), int(size, 16), kind)
    return syms


def object_of(source: str) -> Path:
    """The object CMake made of crypto_c/<source> for the firmware target."""
    objs = list((BUILD / "CMakeFiles" / "firmware.dir").rglob(source + ".o"))
    objs = [o for o in objs if o.as_posix().endswith("/crypto_c/" + source + ".o")]
    if len(objs) != 1:
        _fail("expected one object for crypto_c/%s in %s, found %s" % (source, BUILD, objs))
    return objs[0]


def attributes(path: Path) -> str:
    return subprocess.run(
        [_tool("arm-none-eabi-readelf"), "-A", str(path)], check=True, capture_output=True, text=True
    ).stdout


def test_firmware_is_a_linked_arm_executable_in_flash(elf):
    with elf.open("rb") as f:
        e = ELFFile(f)
        assert e["e_machine"] == "EM_ARM"
        assert e["e_type"] == "ET_EXEC", "not a linked executable"
        assert e.elfclass == 32 and e.little_endian
        assert FLASH[0] <= e["e_entry"] < FLASH[1], hex(e["e_entry"])
        # the RP2040 second-stage bootloader comes first in flash: the SDK's link script ran
        boot2 = e.get_section_by_name(".boot2")
        assert boot2 is not None and boot2["sh_addr"] == FLASH[0] and boot2["sh_size"] == 256


def test_gathered_sources_were_compiled(elf):
    """The three sources of micropython.cmake became objects of the firmware target."""
    for src in SOURCES:
        obj = object_of(src.name)
        assert obj.stat().st_size > 0
        assert obj.stat().st_mtime <= elf.stat().st_mtime


def test_module_functions_are_linked_in_flash(symbols):
    # library entry points (global), the binding's functions (static) and function objects
    for name in (
        "vw_powmod",
        "vw_powmod2",
        "vw_mont_mul",
        "vw_mod_init",
        "vwcrypto_powmod",
        "vwcrypto_powmod2",
        "vwcrypto_work_bytes",
        "vwcrypto_powmod_obj",
        "vwcrypto_powmod2_obj",
        "vwcrypto_module_globals_table",
        "vwcrypto_user_cmodule",
    ):
        assert name in symbols, "%s is not in the firmware" % name
        addr, size, _ = symbols[name]
        assert size > 0, name
        assert FLASH[0] <= addr < FLASH[1], "%s at %#x is not in flash" % (name, addr)
    for name in ("vw_powmod", "vw_powmod2", "vw_mont_mul"):
        assert symbols[name][2] == "T", name


def test_module_is_registered_with_the_port(elf, symbols):
    """MP_REGISTER_MODULE was found by the CMake port's module scan: `import vwcrypto` resolves
    through mp_builtin_module_table, which holds the address of vwcrypto_user_cmodule."""
    moduledefs = (BUILD / "genhdr" / "moduledefs.h").read_text()
    assert re.search(r"MP_QSTR_vwcrypto\b.*vwcrypto_user_cmodule", moduledefs), "vwcrypto is not in genhdr/moduledefs.h"
    qstrs = (BUILD / "genhdr" / "qstrdefs.generated.h").read_text()
    for q in ("vwcrypto", "powmod", "powmod2", "work_bytes", "LIMB_BITS", "MAX_MOD_BITS"):
        assert re.search(r'QDEF\d?\(MP_QSTR_%s,.*"%s"\)' % (q, q), qstrs), "qstr %s missing" % q

    table_addr, table_size, _ = symbols["mp_builtin_module_table"]
    module_addr = symbols["vwcrypto_user_cmodule"][0]
    with elf.open("rb") as f:
        e = ELFFile(f)
        sec = next(
            s
            for s in e.iter_sections()
            if s["sh_addr"] <= table_addr < s["sh_addr"] + s["sh_size"] and s["sh_type"] == "SHT_PROGBITS"
        )
        off = table_addr - sec["sh_addr"]
        table = sec.data()[off : off + table_size]
        assert module_addr.to_bytes(4, "little") in table, (
            "vwcrypto_user_cmodule is not referenced by mp_builtin_module_table"
        )
        rodata = b"".join(
            s.data() for s in e.iter_sections() if s["sh_type"] == "SHT_PROGBITS" and s["sh_flags"] & 2
        )  # SHF_ALLOC
        assert b"vwcrypto\x00" in rodata and b"powmod2\x00" in rodata


def test_compile_flags_from_the_cmake_file(elf):
    """Definitions, include folder and the library's -O2 reached the compile lines."""
    flags = (BUILD / "CMakeFiles" / "firmware.dir" / "flags.make").read_text()
    assert "-DVW_LIMB_BITS=32" in flags
    assert re.search(r"-I%s(\s|$)" % re.escape(str(CRYPTO)), flags), "crypto_c/ is not an include folder"
    assert "-mcpu=cortex-m0plus" in flags
    for src in LIBRARY:
        assert re.search(r"crypto_c/%s\.o_OPTIONS = -O2$" % re.escape(src), flags, re.M), "%s is not built at -O2" % src
    assert not re.search(r"mod_vwcrypto\.c\.o_OPTIONS", flags), "the binding keeps the port's -Os"


def test_library_compiled_for_cortex_m0plus_and_its_size(elf, record_property):
    """Cortex-M0+ is ARMv6-M (Thumb-1 only, no UMULL: 32x32->64 products are library calls).
    Reports the library's .text for this core; the bounds catch a lost -O flag or an
    unrolled build, not a few bytes."""
    text = {}
    for src in LIBRARY:
        obj = object_of(src)
        attrs = attributes(obj)
        assert re.search(r"Tag_CPU_arch: v6S-M", attrs), attrs
        assert re.search(r"Tag_THUMB_ISA_use: Thumb-1", attrs), attrs
        with obj.open("rb") as f:
            e = ELFFile(f)
            text[src] = sum(s["sh_size"] for s in e.iter_sections() if s.name.startswith(".text") and s["sh_size"])
    total = sum(text.values())
    record_property("vwcrypto_text_bytes_cortex_m0plus", total)
    print("vwcrypto library .text on Cortex-M0+ (-O2): %s = %d bytes" % (json.dumps(text), total))
    # -Os gives about 2.3 KB, -O2 about 2.9 KB (gcc 12.2)
    assert 1500 < total < 6000, text


def test_firmware_core_attributes(elf):
    attrs = attributes(elf)
    assert "Tag_CPU_arch: v6S-M" in attrs and "Tag_CPU_arch_profile: Microcontroller" in attrs
