# SPDX-License-Identifier: MIT
"""vwcrypto user C module inside the VERIWATT_AN386 firmware (build/qemu/vwcrypto)."""

import random
import re

import pytest

from qemu_board import MP_VECTORS, VECTORS, qemu_board, require_file  # noqa: F401 (fixture)

pytestmark = [pytest.mark.qemu, pytest.mark.crypto]

SUMMARY = re.compile(r"vwcrypto: (\d+) passed, (\d+) failed")


def expected_vectors():
    return sum(1 for line in VECTORS.read_text().splitlines() if line.startswith("powmod"))


def run_kat_on_board(board, import_line="import vwcrypto"):
    """Copy mp_vectors.py and the vector file onto the board's LittleFS with mpremote cp,
    run every vector and the bad-input checks; return (passed, failed, output)."""
    require_file(VECTORS, "it is part of the repository (crypto_c/vectors/gen_vectors.py)")
    require_file(MP_VECTORS, "it is part of the repository")
    board.mpremote("cp", str(MP_VECTORS), ":mp_vectors.py", "+", "cp", str(VECTORS), ":modexp.txt")
    out = board.exec(
        import_line + "\nimport mp_vectors\nmp_vectors.run_file('modexp.txt', vwcrypto)\n"
        "mp_vectors.check_errors(vwcrypto)\nmp_vectors.summary()\n",
        timeout=600,
    )
    m = SUMMARY.search(out)
    assert m, out
    return int(m.group(1)), int(m.group(2)), out


def test_known_answer_vectors(qemu_board):
    b = qemu_board("vwcrypto")
    passed, failed, out = run_kat_on_board(b)
    n_err = int(b.exec("import mp_vectors; print(len(mp_vectors.ERROR_CASES))"))
    assert failed == 0, out
    assert passed == expected_vectors() + n_err, out


def test_error_messages(qemu_board):
    b = qemu_board("vwcrypto")
    cases = [
        ("vwcrypto.powmod(2, 3, 0)", "ValueError: modulus must be positive"),
        ("vwcrypto.powmod(2, 3, 8)", "ValueError: modulus must be odd"),
        ("vwcrypto.powmod(2, 3, (1 << 4096) + 1)", "ValueError: modulus larger than 4096 bits"),
        ("vwcrypto.powmod(2, -1, 7)", "ValueError: exponent must be non-negative"),
        ("vwcrypto.powmod(2, 1 << 4096, 7)", "ValueError: exponent larger than 4096 bits"),
        ("vwcrypto.powmod2(2, 3, 5, 1, 10)", "ValueError: modulus must be odd"),
        ("vwcrypto.powmod('2', 3, 7)", "TypeError: base must be an int, not str"),
        ("vwcrypto.powmod(2, 3)", "TypeError"),
    ]
    b.exec("import vwcrypto")
    for expr, msg in cases:
        with pytest.raises(Exception) as ei:
            b.exec(expr)
        assert msg in str(ei.value), (expr, str(ei.value))
    # the board is still usable after the errors, and edge semantics hold
    assert b.eval("vwcrypto.powmod(-2, 3, 7)") == pow(-2, 3, 7)
    assert b.eval("vwcrypto.powmod(12345, 0, 1)") == 0


def test_matches_builtin_pow_2048(qemu_board):
    rnd = random.Random(7)
    p = rnd.getrandbits(2048) | 1 | (1 << 2047)
    g, h = rnd.getrandbits(2048) % p, rnd.getrandbits(2050)
    a, bb = rnd.getrandbits(256), rnd.getrandbits(256)
    b = qemu_board("vwcrypto")
    b.exec("import vwcrypto\np=%d\ng=%d\nh=%d\na=%d\nb=%d" % (p, g, h, a, bb))
    assert b.eval("vwcrypto.powmod(g, a, p) == pow(g, a, p)") is True
    assert b.eval("vwcrypto.powmod2(g, a, h, b, p) == pow(g, a, p) * pow(h, b, p) % p") is True
    assert b.eval("vwcrypto.powmod2(g, a, h, b, p)") == pow(g, a, p) * pow(h, bb, p) % p


def test_fixed_base_tables_in_flash(qemu_board):
    """The firmware's vwcrypto carries the fixed-base comb tables (crypto_c/vw_fbtables.c in
    flash): g^e, h^e and g^m h^r of the 2048/256 group match CPython's pow, on the
    Cortex-M4 build (32-bit limbs, UMAAL); other bases and the 3072 group give None."""
    import sys

    sys.path.insert(0, str(VECTORS.parents[2] / "firmware"))
    from vwcore import params

    P, P3 = params.P2048, params.P3072
    rnd = random.Random(11)
    b = qemu_board("vwcrypto")
    b.exec("import vwcrypto\np=%d\ng=%d\nh=%d" % (P["p"], P["g"], P["h"]))
    assert b.eval("vwcrypto.FB_TABLES") == 3
    for e, m in ((0, 0), (P["q"] - 1, 0xFFFF), (rnd.getrandbits(256), rnd.getrandbits(16))):
        assert b.eval("vwcrypto.powmod_fb(g, %d, p, 256)" % e) == pow(P["g"], e, P["p"])
        assert b.eval("vwcrypto.powmod_fb(h, %d, p, 256)" % e) == pow(P["h"], e, P["p"])
        assert (
            b.eval("vwcrypto.powmod2_fb(g, %d, 16, h, %d, 256, p)" % (m, e))
            == pow(P["g"], m, P["p"]) * pow(P["h"], e, P["p"]) % P["p"]
        )
    assert b.eval("vwcrypto.powmod_fb(3, 5, p, 256)") is None
    assert b.eval("vwcrypto.powmod_fb(%d, 5, %d, 256)" % (P3["g"], P3["p"])) is None
