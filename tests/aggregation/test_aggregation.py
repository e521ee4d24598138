# SPDX-License-Identifier: MIT
"""Privacy-friendly aggregation (vwcore/agg.py + veriwatt/aggregation.py)."""

import functools
import math
import random
import struct

import pytest
from hypothesis import given, settings, strategies as st

from toygroup import TOY
from veriwatt.aggregation import Aggregator, demand_exceeded, feeder_check
from vwcore import agg, group
from vwcore.agg import AggError, Enrollment

pytestmark = pytest.mark.aggregation
LABEL = b"feeder-17"


def member_id(i: int) -> bytes:
    return b"MTR" + struct.pack(">I", i) + b"\x00"


@functools.lru_cache(maxsize=None)
def make_group(n: int, grp_name: str = "toy"):
    """n members + aggregator; returns (enrollments, aggregator factory args)."""
    G = TOY if grp_name == "toy" else group.get(grp_name)
    xs = [agg.secret_scalar(b"agg-secret-%d" % i, G) for i in range(n)]
    members = [(member_id(i), agg.public_key(x, G)) for i, x in enumerate(xs)]
    x_a = agg.secret_scalar(b"aggregator", G)
    y_a = agg.public_key(x_a, G)
    ens = [Enrollment.create(x, members[i][0], LABEL, members, y_a, G) for i, x in enumerate(xs)]
    return tuple(ens), tuple(members), x_a, G


def fresh(n, grp_name="toy"):
    ens, members, x_a, G = make_group(n, grp_name)
    return list(ens), Aggregator(LABEL, list(members), x_a, G)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(3, 50), data=st.data())
def test_aggregates_equal_plaintext_statistics(n, data):
    ens, A = fresh(n)
    readings = data.draw(st.lists(st.integers(0, 20000), min_size=n, max_size=n))
    slot = data.draw(st.integers(0, 2**32 - 1))
    for e, m in zip(ens, readings):
        assert A.add_share(e.share(slot, m))
    r = A.result(slot)
    assert r.total == sum(readings)
    assert r.total_sq == sum(m * m for m in readings)
    assert r.count == n
    mean = sum(readings) / n
    assert math.isclose(float(r.mean), mean)
    assert math.isclose(float(r.variance), sum((m - mean) ** 2 for m in readings) / n, rel_tol=1e-9, abs_tol=1e-9)


def test_real_2048_group_end_to_end():
    ens, A = fresh(4, "2048")
    readings = [120, 0, 4400, 317]
    for e, m in zip(ens, readings):
        A.add_share(e.share(96001, m))
    assert A.result(96001).total == sum(readings)


def test_masks_cancel_and_differ_per_slot():
    ens, _ = fresh(5)
    for slot in (0, 1, 2, 12345):
        assert sum(e.masks(slot)[0] for e in ens) % agg.MOD == 0
        assert sum(e.masks(slot)[1] for e in ens) % agg.MOD == 0
    assert len({ens[0].masks(s) for s in range(200)}) == 200


def _chi2_uniform_top_byte(values):
    counts = [0] * 256
    for v in values:
        counts[v >> 56] += 1
    exp = len(values) / 256
    return sum((c - exp) ** 2 / exp for c in counts)


def test_single_share_and_subset_sums_look_uniform():
    """A constant reading behind the masks: the share's top byte over 4096 slots, and the
    sum of a strict subset of shares, pass a chi-square test for uniformity (255 degrees of
    freedom; 340 is the 0.0003 quantile: a biased share would blow far past it)."""
    ens, _ = fresh(6)
    slots = range(4096)
    single = [agg.decode_share(ens[0].share(s, 500))[3] for s in slots]
    subset = [sum(agg.decode_share(e.share(s, 500))[3] for e in ens[:5]) % agg.MOD for s in slots]
    assert _chi2_uniform_top_byte(single) < 340
    assert _chi2_uniform_top_byte(subset) < 340
    # and the full set does reveal the sum: the test above is not vacuous
    full = [sum(agg.decode_share(e.share(s, 500))[3] for e in ens) % agg.MOD for s in range(10)]
    assert full == [3000] * 10


def test_same_reading_gives_unrelated_shares():
    ens, _ = fresh(3)
    a = agg.decode_share(ens[0].share(10, 42))[3]
    b = agg.decode_share(ens[0].share(11, 42))[3]
    assert a != b and abs(a - b) > 2**40


def test_duplicate_is_idempotent_and_conflict_is_rejected():
    ens, A = fresh(3)
    s = ens[0].share(5, 100)
    assert A.add_share(s) is True
    assert A.add_share(s) is False  # identical retry: ignored
    with pytest.raises(AggError, match="replay or forgery"):
        A.add_share(ens[0].share(5, 101))


def test_replayed_share_for_another_slot_is_rejected():
    ens, A = fresh(3)
    old = bytearray(ens[0].share(5, 100))
    struct.pack_into(">I", old, 24, 6)  # relabel as slot 6
    with pytest.raises(AggError, match="bad MAC"):
        A.add_share(bytes(old))


def test_wrong_group_unknown_member_and_tampering_are_rejected():
    ens, A = fresh(3)
    other_ens, _ = fresh(4)
    with pytest.raises(AggError, match="another aggregation group"):
        A.add_share(other_ens[0].share(5, 1))
    forged = bytearray(ens[0].share(5, 1))
    forged[16:24] = member_id(999)
    with pytest.raises(AggError, match="not in this group"):
        A.add_share(bytes(forged))
    flipped = bytearray(ens[1].share(5, 1))
    flipped[30] ^= 1
    with pytest.raises(AggError, match="bad MAC"):
        A.add_share(bytes(flipped))
    with pytest.raises(AggError, match="must be 60 bytes"):
        A.add_share(bytes(flipped[:-1]))


@pytest.mark.parametrize("absent", [[2], [0, 4], [1, 3, 5]])
def test_recovery_gives_exact_sum_of_present_members(absent):
    """The missing set is fixed first; every present member sends ONE reduced share."""
    ens, A = fresh(7)
    rnd = random.Random(len(absent))
    readings = [rnd.randrange(0, 5000) for _ in ens]
    slot = 777
    missing = A.start_recovery(slot, [member_id(i) for i in absent])
    assert sorted(missing) == sorted(member_id(i) for i in absent)
    with pytest.raises(AggError, match="waiting for the reduced share"):
        A.result(slot)
    for i, e in enumerate(ens):
        if i not in absent:
            assert A.add_recovery(e.reduced_share(slot, readings[i], missing))
    r = A.result(slot)
    present = [m for i, m in enumerate(readings) if i not in absent]
    assert r.total == sum(present)
    assert r.total_sq == sum(m * m for m in present)
    assert r.count == len(present)
    # a full share (late, or of a present member) is refused in a recovered slot
    with pytest.raises(AggError, match="recovered without"):
        A.add_share(ens[absent[0]].share(slot, readings[absent[0]]))


def test_recovery_must_name_the_rounds_missing_set_and_come_first():
    ens, A = fresh(4)
    A.start_recovery(9, [member_id(3)])
    with pytest.raises(AggError, match="other missing members"):
        A.add_recovery(ens[0].reduced_share(9, 10, [member_id(1)]))
    with pytest.raises(AggError, match="waiting for the reduced share"):
        A.result(9)
    for e in ens[:3]:
        A.add_share(e.share(10, 10))
    with pytest.raises(AggError, match="already has full shares"):
        A.start_recovery(10)
    with pytest.raises(AggError, match="at least 2 needed"):
        A.start_recovery(11, [member_id(i) for i in range(3)])


def test_group_of_two_refused():
    ens, members, x_a, G = make_group(3)
    with pytest.raises(AggError, match="at least 3 members"):
        Aggregator(LABEL, list(members[:2]), x_a, G)
    with pytest.raises(AggError, match="at least 3 members"):
        Enrollment.create(
            agg.secret_scalar(b"agg-secret-0", G), members[0][0], LABEL, members[:2], agg.public_key(x_a, G), G
        )


def test_closed_slot_refuses_more():
    ens, A = fresh(3)
    for e in ens:
        A.add_share(e.share(1, 5))
    assert A.close(1).total == 15
    with pytest.raises(AggError, match="closed"):
        A.add_share(ens[0].share(1, 6))


def test_enrollment_roundtrip_and_validation():
    ens, members, x_a, G = make_group(4)
    e = ens[2]
    e2 = Enrollment.from_bytes(e.to_bytes())
    assert e2.share(3, 77) == e.share(3, 77)
    with pytest.raises(AggError, match="corrupt"):
        Enrollment.from_bytes(e.to_bytes()[:-1])
    bad = list(members)
    bad[1] = (bad[1][0], 1)  # not a group element
    with pytest.raises(AggError, match="not an element"):
        Enrollment.create(agg.secret_scalar(b"agg-secret-0", G), members[0][0], LABEL, bad, agg.public_key(x_a, G), G)


def test_feeder_check_and_demand_threshold():
    ens, A = fresh(3)
    for e, m in zip(ens, (100, 200, 300)):
        A.add_share(e.share(4, m))
    r = A.result(4)
    assert feeder_check(r, 610, tolerance_wh=20)["flagged"] is False
    flagged = feeder_check(r, 700, tolerance_wh=20)
    assert flagged["flagged"] is True and flagged["difference_wh"] == 100
    assert demand_exceeded(r, 599) and not demand_exceeded(r, 600)


def test_member_noise_is_discrete_laplace():
    """Each member adds exact discrete Laplace noise; over many slots its variance is
    2a/(1-a)^2 (the exact pmf is tested in test_security_agg.py)."""
    eps_milli, sens = 1000, 50
    vals = [agg.member_noise(b"noise-key", s, eps_milli, sens)[0] for s in range(1500)]
    a = agg.noise_alpha(1.0, sens)
    var = 2 * a / (1 - a) ** 2
    mean = sum(vals) / len(vals)
    sample_var = sum((x - mean) ** 2 for x in vals) / (len(vals) - 1)
    assert abs(mean) < 4 * math.sqrt(var / len(vals))
    assert 0.8 * var < sample_var < 1.25 * var
    assert math.isclose(agg.noise_stddev(1.0, sens), math.sqrt(var))
    assert math.isclose(agg.noise_stddev(1.0, sens, 4), 2 * math.sqrt(var))


def test_noisy_aggregate_is_close_to_the_truth():
    ens, A = fresh(5)
    readings = [1000, 2000, 1500, 300, 800]
    for i, (e, m) in enumerate(zip(ens, readings)):
        n1, n2 = agg.member_noise(b"nk%d" % i, 42, 1000, 100)
        A.add_share(e.share(42, m, noise1=n1, noise2=n2))
    r = A.result(42)
    assert abs(r.total - sum(readings)) < 8 * agg.noise_stddev(1.0, 100, 5)
