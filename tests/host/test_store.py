# SPDX-License-Identifier: MIT
"""Local store: idempotent, rejects bad records with the reason, consistent after interruption."""

from __future__ import annotations

import pytest

from hosthelpers import WEEK

from vwcore import wire

from veriwatt import records
from veriwatt.errors import VeriwattError
from veriwatt.store import Store

pytestmark = pytest.mark.host


@pytest.fixture
def st(tmp_path):
    s = Store(str(tmp_path / "v.db"))
    yield s
    s.close()


def raws(meter, a, b):
    return [wire.encode_record(meter.record(t)) for t in range(a, b)]


def test_idempotent(st, meter_a):
    chk = records.Checker.from_pub(meter_a.pub).check_raw
    mid = meter_a.pub["meter_id"]
    r1 = st.add(raws(meter_a, WEEK[0], WEEK[0] + 20), chk, mid)
    assert (r1.added, r1.duplicates, r1.rejected) == (20, 0, 0)
    before = st.records(mid)
    r2 = st.add(raws(meter_a, WEEK[0], WEEK[0] + 20), chk, mid)
    assert (r2.added, r2.duplicates, r2.rejected) == (0, 20, 0)
    assert st.records(mid) == before


def test_rejects_bad_signature_and_foreign_meter(st, meter_a, meter_b):
    chk = records.Checker.from_pub(meter_a.pub).check_raw
    mid = meter_a.pub["meter_id"]
    good = raws(meter_a, WEEK[0], WEEK[0] + 3)
    bad = bytearray(good[1])
    bad[20] ^= 1  # inside the commitment
    foreign = raws(meter_b, WEEK[0] + 3, WEEK[0] + 4)[0]
    res = st.add([good[0], bytes(bad), good[2], foreign, b"\x01\x02"], chk, mid)
    assert (res.added, res.rejected) == (2, 3)
    assert any("signature does not verify" in r for r in res.reasons)
    assert any("foreign meter" in r for r in res.reasons)
    assert any("malformed record" in r for r in res.reasons)
    assert len(st.rejects()) == 3
    assert [s for s, _ in st.records(mid)] == [WEEK[0], WEEK[0] + 2]


def test_conflicting_record_for_a_stored_slot(st, meter_a):
    """A second, different, validly signed record for a slot (e.g. a re-provisioned meter
    replaying): the first stays, the conflict is reported."""
    from vwcore import reading

    chk = records.Checker.from_pub(meter_a.pub).check_raw
    mid = meter_a.pub["meter_id"]
    st.add(raws(meter_a, WEEK[0], WEEK[0] + 1), chk, mid)
    other = reading.certify(meter_a.keys, WEEK[0], 65000)
    res = st.add([wire.encode_record(other)], chk, mid)
    assert res.rejected == 1 and "different signed record is already stored" in res.reasons[0]
    assert st.records(mid)[0][1] == raws(meter_a, WEEK[0], WEEK[0] + 1)[0]


def test_interrupted_batch_leaves_the_store_as_before(st, meter_a):
    chk = records.Checker.from_pub(meter_a.pub).check_raw
    mid = meter_a.pub["meter_id"]
    st.add(raws(meter_a, WEEK[0], WEEK[0] + 5), chk, mid)

    def boom():
        yield from raws(meter_a, WEEK[0] + 5, WEEK[0] + 8)
        raise KeyboardInterrupt  # the user pressed Ctrl-C in the middle of a batch

    with pytest.raises(KeyboardInterrupt):
        st.add(boom(), chk, mid)
    assert st.count(mid) == 5
    assert st.integrity() == "ok"
    assert st.resume_slot(mid, WEEK[0]) == WEEK[0] + 5


def test_resume_and_gaps(st, meter_a):
    chk = records.Checker.from_pub(meter_a.pub).check_raw
    mid = meter_a.pub["meter_id"]
    a = WEEK[0]
    assert st.resume_slot(mid, a) == a
    st.add(raws(meter_a, a, a + 4) + raws(meter_a, a + 6, a + 9), chk, mid)
    assert st.resume_slot(mid, a) == a + 4
    assert st.resume_slot(mid, a + 6) == a + 9
    assert st.gaps(mid, a, a + 12) == [(a + 4, a + 6), (a + 9, a + 12)]


def test_meter_key_pinning(st, meter_a, meter_b):
    st.add_meter("aa" * 8, meter_a.pub)
    st.add_meter("aa" * 8, meter_a.pub)
    with pytest.raises(VeriwattError, match="different public key"):
        st.add_meter("aa" * 8, meter_b.pub)


def test_not_a_store(tmp_path):
    p = tmp_path / "junk.db"
    p.write_bytes(b"this is not sqlite at all" * 100)
    with pytest.raises(VeriwattError, match="not a veriwatt store"):
        Store(str(p))
    with pytest.raises(VeriwattError, match="is a folder"):
        Store(str(tmp_path))
