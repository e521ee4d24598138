# SPDX-License-Identifier: MIT
"""vwcore self-test that runs unchanged under MicroPython (unix or a board) and CPython.

    micropython tests/core/mp_selftest.py                 core checks + benchmarks
    micropython tests/core/mp_selftest.py --vectors F     also check records/frames/MACs
                                                          produced by CPython (JSON file F)
    micropython tests/core/mp_selftest.py --emit          also print records and frames made
                                                          here, for CPython to check

Output: "PASS name", "FAIL name: why", "BENCH key value", "XREC hex", "XFRAME hex",
and last "N passed, M failed". tests/core/test_core_micropython.py drives it.
"""

import sys
import gc

try:
    _here = __file__
except NameError:
    _here = sys.argv[0] if sys.argv else ""
_i = _here.rfind("/")
_root = (_here[:_i] if _i >= 0 else ".") + "/../.."
sys.path.insert(0, _root + "/firmware")

import binascii  # noqa: E402
import time  # noqa: E402

gc.collect()
_m0 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
from vwcore import wire  # noqa: E402  (largest first: less heap fragmentation)
from vwcore import aead, auth, group, kdf, modexp, reading, sig  # noqa: E402

gc.collect()
_m_import = (gc.mem_alloc() - _m0) if hasattr(gc, "mem_alloc") else 0

if hasattr(time, "ticks_us"):

    def now_us():
        return time.ticks_us()

    def diff_us(a, b):
        return time.ticks_diff(b, a)
else:

    def now_us():
        return int(time.perf_counter() * 1e6)

    def diff_us(a, b):
        return b - a


PASSED = [0]
FAILED = [0]
MID = b"MTR00042"
CK = bytes(range(15))
SS = b"\x11" * 32


def check(name, cond, why=""):
    if cond:
        PASSED[0] += 1
        print("PASS " + name)
    else:
        FAILED[0] += 1
        print("FAIL %s: %s" % (name, why))


def run(name, fn):
    try:
        fn()
    except Exception as e:
        FAILED[0] += 1
        print("FAIL %s: %s %s" % (name, type(e).__name__, e))
        return
    PASSED[0] += 1
    print("PASS " + name)


def unhex(s):
    return binascii.unhexlify(s)


def tohex(b):
    return binascii.hexlify(b).decode()


def raises(fn, exc=ValueError):
    try:
        fn()
    except exc:
        return True
    return False


# ---------------------------------------------------------------- checks
def t_hmac():
    assert (
        tohex(kdf.hmac_sha256(b"\x0b" * 20, b"Hi There"))
        == "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    )
    assert (
        tohex(kdf.hmac_sha256(b"Jefe", b"what do ya want for nothing?"))
        == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    )
    assert tohex(kdf.hmac_sha256(b"\x0c" * 20, b"Test With Truncation"))[:32] == "a3b6167473100ee06e0c796c2955552b"


def t_hkdf():
    okm = kdf.hkdf(b"\x0b" * 22, unhex("f0f1f2f3f4f5f6f7f8f9"), 42, salt=unhex("000102030405060708090a0b0c"))
    assert tohex(okm) == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


def t_ct_equal():
    assert kdf.ct_equal(b"abc", b"abc") and not kdf.ct_equal(b"abc", b"abd")
    assert not kdf.ct_equal(b"abc", b"ab")


def t_crc():
    assert wire.crc32(b"123456789") == 0xCBF43926
    saved = wire._crc32
    wire._crc32 = None
    try:
        assert wire.crc32(b"123456789") == 0xCBF43926
        assert wire.crc32(b"6789", wire.crc32(b"12345")) == 0xCBF43926
    finally:
        wire._crc32 = saved


def t_frames():
    fs = [(wire.HELLO, 1, b""), (wire.FETCH, 65535, wire.encode_fetch(1, 2)), (wire.READING, 7, bytes(range(256)) * 4)]
    data = b"".join(wire.encode_frame(*f) for f in fs)
    d = wire.Decoder()
    out = []
    for i in range(0, len(data), 7):
        out += d.feed(data[i : i + 7])
    assert [(f.mtype, f.seq, f.payload) for f in out] == fs
    # garbage, bit flip, truncation: rejected, and the next good frame is recovered
    good = wire.encode_frame(wire.ACK, 9, wire.encode_ack(5))
    bad = bytearray(good)
    bad[12] ^= 4
    d = wire.Decoder()
    out = d.feed(b"\x00\xa5\x57garbage\xa5" + bytes(bad) + good[:10])
    out += d.feed(good[10:] + good[:-1])
    out += d.flush()
    assert out == [wire.Frame(wire.ACK, 9, wire.encode_ack(5))], out
    assert d.n_rejected >= 3
    d = wire.Decoder()
    assert d.feed(wire.encode_frame(wire.HELLO, 1, b"", 2)) == []
    assert d.rejects[-1][0] == "unsupported version 2"


def t_garbage():
    # pseudo-random garbage (no RNG dependency): the decoder never raises or accepts
    x = 12345
    buf = bytearray(4000)
    for i in range(len(buf)):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        buf[i] = (x >> 16) & 0xFF
        if i % 97 == 0:
            buf[i] = 0xA5
        if i % 97 == 1:
            buf[i] = 0x57
    d = wire.Decoder()
    for i in range(0, len(buf), 61):
        assert d.feed(bytes(buf[i : i + 61])) == []
    assert d.flush() == []
    assert d.n_rejected > 0


def t_payloads():
    info = {
        "meter_id": MID,
        "group_id": 1,
        "provisioned": True,
        "clock_set": True,
        "storage_full": False,
        "clock": 1763780000,
        "first_slot": 10,
        "last_slot": 20,
        "used": 11,
        "capacity": 2000,
        "unacked": 3,
        "challenge": b"12345678",
        "fw_version": "0.1.0",
        "sig_pub": 12345,
        "agg_pub": 999,
    }
    got = wire.decode_info(wire.encode_info(info))
    for k in info:
        assert got[k] == info[k], k
    p = wire.decode_provision(wire.encode_provision(MID, 1, 5, SS, b"a" * 32, CK))
    assert p["customer_key"] == CK and p["host_entropy"] == SS and p["admin_secret"] == b"a" * 32 and p["clock"] == 5
    assert wire.decode_end(wire.encode_end(9, 3, False)) == {"next_slot": 9, "count": 3, "more": False}
    e = wire.decode_error(wire.encode_error(wire.E_AUTH, "bad tag", wire.RESET))
    assert e["reason"] == "bad tag" and e["code"] == wire.E_AUTH
    assert raises(lambda: wire.decode_payload(wire.FETCH, b"\x00"))
    assert raises(lambda: wire.decode_payload(0x42, b""))
    tag = auth.reset_tag(SS, MID, b"chchchch")
    assert wire.decode_reset(wire.encode_reset(MID, b"chchchch", tag))["tag"] == tag


def t_code():
    code = aead.format_customer_code(CK)
    assert aead.parse_customer_code(code) == CK
    assert aead.parse_customer_code(code.lower().replace("-", "")) == CK
    chars = code.replace("-", "")
    for i in range(len(chars)):
        c = "Z" if chars[i] != "Z" else "Y"
        assert raises(lambda: aead.parse_customer_code(chars[:i] + c + chars[i + 1 :]))


def t_aead():
    a = aead.AEAD(CK)
    ct = a.encrypt(b"nonce", b"hello reading 1234567890 abcdefghijklmnop", b"ad")
    assert a.decrypt(b"nonce", ct, b"ad") == b"hello reading 1234567890 abcdefghijklmnop"
    for i in (0, 10, len(ct) - 1):
        t = bytearray(ct)
        t[i] ^= 1
        assert raises(lambda: a.decrypt(b"nonce", bytes(t), b"ad"), aead.AuthError)
    assert raises(lambda: a.decrypt(b"nonce", ct, b"ae"), aead.AuthError)


def t_sig():
    k = sig.SigningKey(SS)
    s = k.sign(b"msg")
    assert sig.verify(k.y, b"msg", s)
    assert not sig.verify(k.y, b"msg2", s)
    assert not sig.verify(k.y, b"msg", (s[0], (s[1] + 1) % group.DEFAULT.q))
    assert not sig.verify(group.DEFAULT.p - k.y, b"msg", s)
    assert not sig.verify(k.y, b"msg", (s[0] + group.DEFAULT.q, s[1]))


def t_rfc6979():
    # RFC 6979 A.2.2 (DSA 2048/256, SHA-256, "sample"): check r = (g^k mod p) mod q
    P = int(
        "9DB6FB5951B66BB6FE1E140F1D2CE5502374161FD6538DF1648218642F0B5C48"
        "C8F7A41AADFA187324B87674FA1822B00F1ECF8136943D7C55757264E5A1A44F"
        "FE012E9936E00C1D3E9310B01C7D179805D3058B2A9F4BB6F9716BFE6117C6B5"
        "B3CC4D9BE341104AD4A80AD6C94E005F4B993E14F091EB51743BF33050C38DE2"
        "35567E1B34C3D6A5C0CEAA1A0F368213C3D19843D0B4B09DCB9FC72D39C8DE41"
        "F1BF14D4BB4563CA28371621CAD3324B6A2D392145BEBFAC748805236F5CA2FE"
        "92B871CD8F9C36D3292B5509CA8CAA77A2ADFC7BFD77DDA6F71125A7456FEA15"
        "3E433256A2261C6A06ED3693797E7995FAD5AABBCFBE3EDA2741E375404AE25B",
        16,
    )
    Q = int("F2C3119374CE76C9356990B465374A17F23F9ED35089BD969F61C6DDE9998C1F", 16)
    G = int(
        "5C7FF6B06F8F143FE8288433493E4769C4D988ACE5BE25A0E24809670716C613"
        "D7B0CEE6932F8FAA7C44D2CB24523DA53FBE4F6EC3595892D1AA58C4328A06C4"
        "6A15662E7EAA703A1DECF8BBB2D05DBE2EB956C142A338661D10461C0D135472"
        "085057F3494309FFA73C611F78B32ADBB5740C361C9F35BE90997DB2014E2EF5"
        "AA61782F52ABEB8BD6432C4DD097BC5423B285DAFB60DC364E8161F4A2A35ACA"
        "3A10B1C4D203CC76A470A33AFDCBDD92959859ABD8B56E1725252D78EAC66E71"
        "BA9AE3F1DD2487199874393CD4D832186800654760E1E34C09E4D155179F9EC0"
        "DC4473F996BDCE6EED1CABED8B6F116F7AD9CF505DF0F998E34AB27514B0FFE7",
        16,
    )
    X = int("69C7548C21D0DFEA6B9A51C9EAD4E27C33D3B3F180316E5BCAB92C933F0E4DBC", 16)
    import hashlib

    k = kdf.rfc6979_nonce(X, hashlib.sha256(b"sample").digest(), Q)
    assert modexp.powmod(G, k, P) % Q == int("EACE8BDBBE353C432A795D9EC556C6D021F7A03F42C36E9BC87E4AC7932CC809", 16)


def t_group():
    for name in ("2048", "3072"):
        G = group.GROUPS[name]
        assert wire.GROUP_PLEN[G.id] == G.plen
        assert group.is_element(G.g, G) and group.is_element(G.h, G)
        assert not group.is_element(G.p - 1, G) and not group.is_element(1, G)
    G = group.DEFAULT
    assert group.commit(3, 4) * group.commit(5, 6) % G.p == group.commit(8, 10)


def t_records():
    keys = reading.MeterKeys(MID, SS, CK)
    rec = reading.certify(keys, 983000, 1234)
    b = wire.encode_record(rec)
    assert len(b) == wire.record_len(1)
    rec2 = wire.decode_record(b)
    assert rec2 == rec
    assert reading.verify_record(rec2, keys.y, MID)
    m, r = reading.open_record(rec2, CK)
    assert m == 1234 and group.commit(m, r) == rec.C
    moved = wire.Record(MID, 983001, rec.C, rec.e, rec.s, rec.ct)
    assert not reading.verify_record(moved, keys.y)
    assert raises(lambda: reading.open_record(moved, CK))
    t = bytearray(b)
    t[30] ^= 1
    assert not reading.verify_record(wire.decode_record(bytes(t)), keys.y)


def t_records_3072():
    keys = reading.MeterKeys(MID, SS, CK, "3072")
    rec = reading.certify(keys, 5, 77)
    rec2 = wire.decode_record(wire.encode_record(rec))
    assert reading.verify_record(rec2, keys.y) and reading.open_record(rec2, CK)[0] == 77


def t_vectors(path):
    import json

    with open(path) as f:
        v = json.load(f)
    for key, data, mac in v["hmac"]:
        assert tohex(kdf.hmac_sha256(unhex(key), unhex(data))) == mac
    for x in v["records"]:
        rec = wire.decode_record(unhex(x["hex"]))
        pub = int(x["pub"], 16)
        assert reading.verify_record(rec, pub, unhex(x["meter_id"])), "verify"
        m, r = reading.open_record(rec, unhex(x["ck"]))
        assert m == x["m"] and r == int(x["r"], 16), "opening"
        assert wire.encode_record(rec) == unhex(x["hex"])
    d = wire.Decoder()
    out = d.feed(unhex(v["stream"]))
    assert [(f.mtype, f.seq, tohex(f.payload)) for f in out] == [tuple(f) for f in v["frames"]]
    for f in v["frames"]:
        assert tohex(wire.encode_frame(f[0], f[1], unhex(f[2]))) in v["stream"]


def emit():
    keys = reading.MeterKeys(MID, SS, CK)
    print("XPUB %x" % keys.y)
    for slot, m in ((1000, 0), (1001, 65535), (1002, 321)):  # 65535: reading.MAX_READING
        print("XREC %d %d %s" % (slot, m, tohex(wire.encode_record(reading.certify(keys, slot, m)))))
    print("XFRAME " + tohex(wire.encode_frame(wire.FETCH, 3, wire.encode_fetch(1000, 48))))
    print("XFRAME " + tohex(wire.encode_frame(wire.END, 3, wire.encode_end(1003, 3, False))))
    print("XFRAME " + tohex(wire.encode_frame(wire.ERROR, 4, wire.encode_error(wire.E_STORAGE, "full", wire.FETCH))))


def bench():
    print("BENCH backend %s" % modexp.BACKEND)
    print("BENCH impl %s" % sys.implementation.name)
    print("BENCH heap_import_bytes %d" % _m_import)
    gc.collect()
    a0 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    t0 = now_us()
    keys = reading.MeterKeys(MID, SS, CK)
    t1 = now_us()
    gc.collect()
    a1 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
    print("BENCH meterkeys_ms %.1f" % (diff_us(t0, t1) / 1000))
    print("BENCH heap_meterkeys_bytes %d" % (a1 - a0))
    reading.certify(keys, 1, 1)  # warm-up
    n = 5
    best = None
    peak = 0
    t_all = 0
    for i in range(n):
        gc.collect()
        b0 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
        t0 = now_us()
        rec = reading.certify(keys, 2000 + i, 1000 + i)
        dt = diff_us(t0, now_us())
        b1 = gc.mem_alloc() if hasattr(gc, "mem_alloc") else 0
        peak = max(peak, b1 - b0)
        t_all += dt
        best = dt if best is None else min(best, dt)
    print("BENCH certify_ms_mean %.1f" % (t_all / n / 1000))
    print("BENCH certify_ms_best %.1f" % (best / 1000))
    print("BENCH certify_alloc_bytes %d" % peak)
    print("BENCH record_bytes %d" % len(wire.encode_record(rec)))
    print("BENCH frame_bytes %d" % (len(wire.encode_record(rec)) + wire.FRAME_OVERHEAD))
    t0 = now_us()
    ok = reading.verify_record(rec, keys.y)
    print("BENCH verify_ms %.1f" % (diff_us(t0, now_us()) / 1000))
    t0 = now_us()
    reading.open_record(rec, keys.aead)
    print("BENCH open_ms %.1f" % (diff_us(t0, now_us()) / 1000))
    if hasattr(gc, "mem_free"):
        gc.collect()
        print("BENCH heap_free_bytes %d" % gc.mem_free())
        print("BENCH heap_used_bytes %d" % gc.mem_alloc())
    return ok


def main(argv):
    if "--pow" in argv:
        modexp.use("pow")
    tests = [
        ("hmac_rfc4231", t_hmac),
        ("hkdf_rfc5869", t_hkdf),
        ("ct_equal", t_ct_equal),
        ("crc32", t_crc),
        ("frames", t_frames),
        ("decoder_garbage", t_garbage),
        ("payloads", t_payloads),
        ("customer_code", t_code),
        ("aead", t_aead),
        ("schnorr", t_sig),
        ("rfc6979_dsa_vector", t_rfc6979),
        ("group", t_group),
        ("records", t_records),
    ]
    if "--no3072" not in argv:
        tests.append(("records_3072", t_records_3072))
    if "--bench-only" in argv:  # tools/bench_meter.py: the numbers without the checks
        tests = []
    for name, fn in tests:
        run(name, fn)
        gc.collect()
    if "--vectors" in argv:
        path = argv[argv.index("--vectors") + 1]
        run("cross_vectors", lambda: t_vectors(path))
    if "--emit" in argv:
        emit()
    if "--nobench" not in argv:
        check("bench", bench())
    print("%d passed, %d failed" % (PASSED[0], FAILED[0]))
    return 1 if FAILED[0] else 0


sys.exit(main(sys.argv[1:]))
