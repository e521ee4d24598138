# SPDX-License-Identifier: MIT
# Store test cases written in the MicroPython/CPython common subset: run by pytest under
# CPython (test_store.py) AND by mp_store_runner.py under the unix micropython.
# Each case_* takes an empty directory path.

from vwmeter import durable
from vwmeter.store import Store, StoreFull

RL = 40


def payload(slot, rl=RL):
    # deterministic record content for a slot (what a verifier expects back)
    b = bytearray(rl)
    x = (slot * 2654435761 + 12345) & 0xFFFFFFFF
    for i in range(rl):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        b[i] = (x >> 16) & 0xFF
    return bytes(b)


def expect_raises(exc, fn, *args):
    try:
        fn(*args)
    except exc:
        return
    raise AssertionError("expected %s" % exc.__name__)


def case_empty(d):
    s = Store(d, RL, 4, 3)
    assert s.last_slot is None and s.first_slot is None and s.acked is None
    assert s.read(5) is None and list(s.iter_from(0)) == []
    assert s.unacked_from() is None


def case_append_read_reopen(d):
    s = Store(d, RL, 4, 8)
    for t in range(1000, 1010):
        s.append(t, payload(t))
    assert s.first_slot == 1000 and s.last_slot == 1009
    s2 = Store(d, RL, 4, 8)
    assert s2.first_slot == 1000 and s2.last_slot == 1009
    for t in range(1000, 1010):
        assert s2.read(t) == payload(t)
    assert s2.read(999) is None and s2.read(1010) is None
    got = list(s2.iter_from(1003))
    assert [g[0] for g in got] == list(range(1003, 1010))
    assert all(p == payload(t) for t, p in got)
    assert [g[0] for g in s2.iter_from(0, limit=3)] == [1000, 1001, 1002]
    assert not s2.recovered_torn


def case_duplicates_and_order(d):
    s = Store(d, RL, 4, 8)
    s.append(10, payload(10))
    s.append(11, payload(11))
    expect_raises(ValueError, s.append, 11, payload(11))
    expect_raises(ValueError, s.append, 5, payload(5))
    expect_raises(ValueError, s.append, 12, b"short")
    s2 = Store(d, RL, 4, 8)
    expect_raises(ValueError, s2.append, 11, payload(11))
    assert s2.read(11) == payload(11) and s2.last_slot == 11


def case_gaps(d):
    s = Store(d, RL, 4, 8)
    for t in (100, 101, 103, 110, 111, 130):
        s.append(t, payload(t))
    s2 = Store(d, RL, 4, 8)
    assert [g[0] for g in s2.iter_from(0)] == [100, 101, 103, 110, 111, 130]
    assert s2.read(102) is None and s2.read(103) == payload(103)
    assert s2.last_slot == 130


def case_full_refuses_unacked(d):
    s = Store(d, RL, 4, 3)  # 3 segments of 4 slots
    for t in range(0, 12):
        s.append(t, payload(t))
    expect_raises(StoreFull, s.append, 12, payload(12))
    assert s.would_be_full(12)
    assert s.last_slot == 11 and s.read(0) == payload(0)
    s.ack(2)  # oldest segment (0..3) not fully acked
    expect_raises(StoreFull, s.append, 12, payload(12))
    s.ack(3)
    assert not s.would_be_full(12)
    s.append(12, payload(12))  # drops segment 0 only
    assert s.first_slot == 4 and s.read(3) is None and s.read(4) == payload(4)
    s2 = Store(d, RL, 4, 3)
    assert s2.acked == 3 and s2.first_slot == 4 and s2.last_slot == 12
    expect_raises(StoreFull, s2.append, 16, payload(16))
    assert s2.unacked_from() == 4


def case_ack_persist_and_clamp(d):
    s = Store(d, RL, 4, 8)
    assert s.ack(50) is None  # nothing stored
    for t in range(20, 26):
        s.append(t, payload(t))
    assert s.ack(22) == 22
    assert s.ack(21) == 22  # monotonic
    assert s.ack(99) == 25  # clamped to last_slot
    s2 = Store(d, RL, 4, 8)
    assert s2.acked == 25 and s2.unacked_from() == 26


def case_capacity_two_months(d):
    s = Store(d, 8, 96, 32)
    assert s.capacity >= 2976


def case_torn_tail_recovered(d):
    s = Store(d, RL, 4, 8)
    for t in range(0, 6):
        s.append(t, payload(t))
    path = d + "/s00000001.seg"
    with open(path, "ab") as f:  # half a record: a torn write
        f.write(b"\x06\x00\x00\x00" + payload(6)[:10])
    s2 = Store(d, RL, 4, 8)
    assert s2.last_slot == 5 and s2.recovered_torn
    s2.append(6, payload(6))
    s2.append(7, payload(7))
    s3 = Store(d, RL, 4, 8)
    assert [g[0] for g in s3.iter_from(0)] == list(range(8))
    assert s3.read(6) == payload(6)


def case_corrupt_record_detected(d):
    s = Store(d, RL, 4, 8)
    for t in range(0, 3):
        s.append(t, payload(t))
    path = d + "/s00000000.seg"
    with open(path, "r+b") as f:
        f.seek(24 + 48 + 10)  # flip a byte inside record of slot 1
        b = f.read(1)
        f.seek(24 + 48 + 10)
        f.write(bytes([b[0] ^ 0x40]))
    s2 = Store(d, RL, 4, 8)
    assert s2.read(1) is None and s2.read(0) == payload(0) and s2.read(2) == payload(2)
    assert [g[0] for g in s2.iter_from(0)] == [0, 2]


def case_wipe(d):
    s = Store(d, RL, 4, 8)
    for t in range(0, 6):
        s.append(t, payload(t))
    s.ack(3)
    s.wipe()
    s2 = Store(d, RL, 4, 8)
    assert s2.last_slot is None and s2.acked is None
    s2.append(2, payload(2))
    assert s2.read(2) == payload(2)


def case_small_state(d):
    st = durable.SmallState(d + "/st")
    assert st.load() is None
    st.save(b"one")
    st.save(b"two")
    st2 = durable.SmallState(d + "/st")
    assert st2.load() == b"two"
    with open(d + "/st.a", "wb") as f:  # damage one copy
        f.write(b"garbage")
    st3 = durable.SmallState(d + "/st")
    v = st3.load()
    assert v in (b"one", b"two")
    st3.save(b"three")
    assert durable.SmallState(d + "/st").load() == b"three"


def case_crc32_fallback(d):
    saved = durable._crc32
    try:
        want = durable.crc32(b"123456789")
        durable._crc32 = None
        assert durable.crc32(b"123456789") == want == 0xCBF43926
    finally:
        durable._crc32 = saved


CASES = [(k, v) for k, v in sorted(globals().items()) if k.startswith("case_")]
