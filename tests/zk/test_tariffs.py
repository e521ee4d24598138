# SPDX-License-Identifier: MIT
"""The four non-linear tariff kinds: completeness (property tests), lying provers, byte flips,
transcript binding, no reading or opening in the encoding, malformed input."""

from __future__ import annotations

import builtins
import json
import random
import secrets

import pytest
from hypothesis import given, settings, strategies as st

from veriwatt import backend
from veriwatt.zk import encoding, tariffs as T
from veriwatt.zk.encoding import ProofError


def openings(G, ms):
    rs = [secrets.randbelow(G.q) for _ in ms]
    return [G.commit(m, r) for m, r in zip(ms, rs)], rs


from zkfixtures import lying, real, tiny, toy  # noqa: F401,E402  (fixtures)

pytestmark = pytest.mark.zk
FAST = settings(max_examples=12, deadline=None)
CTX = T.context("meter-0001", "2026-11", 0)

# small max_reading keeps range proofs short in the toy-group tests
STEP = T.StepTariff((0, 20, 60), (10, 14, 20), max_reading=255)
CUM = T.CumulativeTariff((300, 700), (10, 15, 22), max_reading=255)
REB = T.RebateTariff(900, (100, 300), (1, 2, 4), max_reading=255)


def thr(n):
    return T.ThresholdTariff(tuple(range(0, n, 2)), 100, 7, max_reading=255)


def tariff_for(kind, n):
    return {"step": STEP, "cumulative": CUM, "threshold": thr(n), "rebate": REB}[kind]


KINDS = ["step", "cumulative", "threshold", "rebate"]
readings_st = st.lists(st.integers(0, 255), min_size=1, max_size=6)


def run(G, kind, ms, ctx=CTX):
    tar = tariff_for(kind, len(ms))
    Cs, rs = openings(G, ms)
    bp = T.PROVERS[kind](tar, Cs, ms, rs, ctx, G)
    return tar, Cs, rs, bp


@pytest.mark.parametrize("kind", KINDS)
@FAST
@given(ms=readings_st)
def test_complete(toy, kind, ms):
    tar, Cs, rs, bp = run(toy, kind, ms)
    assert bp.amount == tar.cost(ms) and bp.kind == kind
    assert T.VERIFIERS[kind](tar, Cs, bp.amount, bp.proof, CTX, toy) == bp.amount


@pytest.mark.parametrize("ms", [[0], [19, 20, 59, 60, 255], [255] * 4, [100, 101, 99, 0]])
@pytest.mark.parametrize("kind", KINDS)
def test_complete_edges(toy, kind, ms):
    tar, Cs, rs, bp = run(toy, kind, ms)
    T.VERIFIERS[kind](tar, Cs, bp.amount, bp.proof, CTX, toy)


@pytest.mark.parametrize("total", [0, 299, 300, 301, 700, 701, 900, 1200])
def test_tier_boundaries(toy, total):
    ms = [min(total, 255)] * (total // 255) + ([total % 255] if total % 255 else [])
    ms = ms or [0]
    assert sum(ms) == total
    for kind in ("cumulative", "rebate"):
        tar, Cs, rs, bp = run(toy, kind, ms)
        assert bp.amount == tar.cost(ms)
        T.VERIFIERS[kind](tar, Cs, bp.amount, bp.proof, CTX, toy)


def test_reference_costs():
    assert STEP.cost([19, 20, 60]) == 19 * 10 + 20 * 14 + 60 * 20
    assert CUM.cost([250, 250, 250]) == 300 * 10 + 400 * 15 + 50 * 22
    assert REB.cost([500]) == 100 * 1 + 200 * 2 + 100 * 4
    assert REB.cost([1000]) == 0
    assert thr(4).cost([150, 500, 80, 0]) == 7 * 50


# ------------------------------------------------------------------ lying provers


class WrongBand(T.StepTariff):
    def band(self, m):
        return (super().band(m) + 1) % len(self.lowers)


def test_lie_wrong_band(toy, lying):
    ms = [10, 30, 100]
    Cs, rs = openings(toy, ms)
    liar = WrongBand(STEP.lowers, STEP.prices, STEP.max_reading)
    bp = T.prove_step(liar, Cs, ms, rs, CTX, toy)
    assert bp.amount != STEP.cost(ms)
    for amount in (bp.amount, STEP.cost(ms)):
        with pytest.raises(ProofError):
            T.verify_step(STEP, Cs, amount, bp.proof, CTX, toy)


class CheapTotal(T.StepTariff):
    def cost(self, readings):
        return super().cost(readings) - 1


def test_lie_wrong_total(toy):
    ms = [10, 30, 100]
    Cs, rs = openings(toy, ms)
    liar = CheapTotal(STEP.lowers, STEP.prices, STEP.max_reading)
    bp = T.prove_step(liar, Cs, ms, rs, CTX, toy)
    with pytest.raises(ProofError):
        T.verify_step(STEP, Cs, bp.amount, bp.proof, CTX, toy)


def test_lie_reading_out_of_range(toy, lying, monkeypatch):
    # a committed value above max_reading (meter fault or forged commitment): no band holds
    ms = [10, 300]
    Cs, rs = openings(toy, ms)
    monkeypatch.setattr(T, "_check_openings", lambda *a: None)
    monkeypatch.setattr(STEP.__class__, "band", lambda self, m: min(2, sum(lo <= m for lo in self.lowers) - 1))
    bp = T.prove_step(STEP, Cs, ms, rs, CTX, toy)
    with pytest.raises(ProofError):
        T.verify_step(STEP, Cs, bp.amount, bp.proof, CTX, toy)


def test_lie_tier_split(toy, lying, monkeypatch):
    # fill the cheap first tier less than full while using the second: wrong (cheaper) bill
    ms = [250, 250]  # 500 Wh: honest pieces 300 / 200 / 0
    Cs, rs = openings(toy, ms)
    honest = CUM.cost(ms)
    monkeypatch.setattr(T, "_tiers", lambda total, widths: [100, 400, total - 500])
    bp = T.prove_cumulative(CUM, Cs, ms, rs, CTX, toy)
    monkeypatch.undo()
    assert bp.amount == 100 * 10 + 400 * 15 != honest == 6000
    with pytest.raises(ProofError):
        T.verify_cumulative(CUM, Cs, bp.amount, bp.proof, CTX, toy)


def test_lie_threshold_hides_excess(toy, lying, monkeypatch):
    # claim compliance (penalty 0) although slot 0 exceeded the limit
    ms = [180, 50, 90]
    tar = thr(3)
    Cs, rs = openings(toy, ms)
    monkeypatch.setattr(T, "max", lambda a, b: 0 if b == 0 else builtins.max(a, b), raising=False)
    bp = T.prove_threshold(tar, Cs, ms, rs, CTX, toy)
    monkeypatch.undo()
    assert bp.amount == 0 and tar.cost(ms) == 7 * 80
    for amount in (0, 7 * 80):
        with pytest.raises(ProofError):
            T.verify_threshold(tar, Cs, amount, bp.proof, CTX, toy)


def test_lie_rebate_inflated_savings(toy, lying, monkeypatch):
    ms = [255, 255, 255]  # 765 Wh against a baseline of 900: savings 135, the liar claims 400
    Cs, rs = openings(toy, ms)
    monkeypatch.setattr(T, "max", lambda a, b: 400 if b == 0 else builtins.max(a, b), raising=False)
    bp = T.prove_rebate(REB, Cs, ms, rs, CTX, toy)
    monkeypatch.undo()
    assert bp.amount == 100 + 2 * 200 + 4 * 100 != REB.cost(ms)
    for amount in (bp.amount, REB.cost(ms)):
        with pytest.raises(ProofError):
            T.verify_rebate(REB, Cs, amount, bp.proof, CTX, toy)


# ------------------------------------------------------------------ binding and encoding


@pytest.mark.parametrize("kind", KINDS)
def test_transcript_binding(toy, kind):
    ms = [10, 70, 200, 0]
    tar, Cs, rs, bp = run(toy, kind, ms)
    V = T.VERIFIERS[kind]
    V(tar, Cs, bp.amount, bp.proof, CTX, toy)
    other_Cs = list(Cs)
    other_Cs[1] = toy.commit(ms[1], rs[1] + 1)  # same readings, another commitment
    other_tar = {
        "step": T.StepTariff((0, 20, 60), (10, 14, 21), max_reading=255),
        "cumulative": T.CumulativeTariff((300, 701), (10, 15, 22), max_reading=255),
        "threshold": T.ThresholdTariff(tar.slots, 101, 7, max_reading=255) if kind == "threshold" else None,
        "rebate": T.RebateTariff(901, (100, 300), (1, 2, 4), max_reading=255),
    }[kind]
    cases = [
        (tar, Cs, bp.amount, T.context("meter-0002", "2026-11")),
        (tar, Cs, bp.amount, T.context("meter-0001", "2026-12")),
        (tar, other_Cs, bp.amount, CTX),
        (other_tar, Cs, bp.amount, CTX),
        (tar, Cs, bp.amount + (tar.price if kind == "threshold" else 1), CTX),
        (tar, Cs[:-1], bp.amount, CTX) if kind != "threshold" else (tar, Cs + Cs[:1], bp.amount, CTX),
    ]
    for t2, C2, a2, c2 in cases:
        with pytest.raises(ProofError):
            V(t2, C2, a2, bp.proof, c2, toy)
    # and a second honest proof of another bill does not verify for the first
    tar, Cs2, rs2, bp2 = run(toy, kind, [11, 70, 200, 0])
    with pytest.raises(ProofError):
        V(tar, Cs, bp.amount, bp2.proof, CTX, toy)


@pytest.mark.parametrize("kind", KINDS)
def test_every_byte_flip_rejected(tiny, kind):
    tars = {
        "step": T.StepTariff((0, 3), (2, 5), max_reading=9),
        "cumulative": T.CumulativeTariff((4,), (1, 3), max_reading=3),
        "threshold": T.ThresholdTariff((0, 1), 2, 5, max_reading=5),
        "rebate": T.RebateTariff(6, (2,), (1, 2), max_reading=3),
    }
    tar = tars[kind]
    ms = [2, 3] if kind != "step" else [2, 7]
    Cs, rs = openings(tiny, ms)
    bp = T.PROVERS[kind](tar, Cs, ms, rs, CTX, tiny)
    V = T.VERIFIERS[kind]
    V(tar, Cs, bp.amount, bp.proof, CTX, tiny)
    rnd = random.Random(7)
    for i in range(len(bp.proof)):
        bad = bytearray(bp.proof)
        bad[i] ^= rnd.randrange(1, 256)
        with pytest.raises(ProofError):
            V(tar, Cs, bp.amount, bytes(bad), CTX, tiny)
    for bad in (bp.proof[:-1], bp.proof + b"\0", bp.proof[: len(bp.proof) // 2]):
        with pytest.raises(ProofError):
            V(tar, Cs, bp.amount, bad, CTX, tiny)


@pytest.mark.parametrize("kind", KINDS)
def test_no_reading_or_opening_in_proof(toy, kind, monkeypatch):
    ms = [0, 1, 19, 20, 100, 101, 255, 7]
    tar, Cs, rs, bp = run(toy, kind, ms)
    # 1. raw bytes: no opening randomness, no reading as a scalar- or element-width field
    secrets_ = set(rs) | {sum(rs) % toy.q} | set(ms) | {sum(ms)}
    for s in secrets_:
        for width in (toy.qlen, toy.plen):
            assert s.to_bytes(width, "big") not in bp.proof
    # 2. structure: every field the verifier reads is a group element or a full-size scalar,
    #    none equal to a reading, a total or an opening
    seen = []
    orig_s, orig_e = encoding.Reader.scalar, encoding.Reader.element
    monkeypatch.setattr(encoding.Reader, "scalar", lambda self: seen.append(orig_s(self)) or seen[-1])
    monkeypatch.setattr(encoding.Reader, "element", lambda self: seen.append(orig_e(self)) or seen[-1])
    T.VERIFIERS[kind](tar, Cs, bp.amount, bp.proof, CTX, toy)
    assert seen and not secrets_ & set(seen)
    assert all(x >= 1 << 64 for x in seen)  # nothing small: no reading in any field


@pytest.mark.parametrize("kind", KINDS)
def test_malformed_statement(toy, kind):
    ms = [5, 90]
    tar, Cs, rs, bp = run(toy, kind, ms)
    V = T.VERIFIERS[kind]
    for badC in (0, 1, toy.p - 1, toy.p, Cs[0] + toy.p, 2):
        with pytest.raises(ProofError):
            V(tar, [badC, Cs[1]], bp.amount, bp.proof, CTX, toy)
    for amount in (-1, toy.q, 1.0, None, str(bp.amount)):
        with pytest.raises(ProofError):
            V(tar, Cs, amount, bp.proof, CTX, toy)
    wrong_kind = STEP if kind != "step" else CUM
    with pytest.raises(ProofError):
        V(wrong_kind, Cs, bp.amount, bp.proof, CTX, toy)
    with pytest.raises(ProofError):
        V(tar, [], bp.amount, bp.proof, CTX, toy)
    # a proof of another kind
    other = "cumulative" if kind != "cumulative" else "step"
    _, Cs2, _, bp2 = run(toy, other, ms)
    with pytest.raises(ProofError):
        V(tar, Cs, bp.amount, bp2.proof, CTX, toy)


def test_tariff_validation():
    for bad in [
        lambda: T.StepTariff((1, 5), (1, 2)),
        lambda: T.StepTariff((0, 5, 5), (1, 2, 3)),
        lambda: T.StepTariff((0,), (1, 2)),
        lambda: T.StepTariff((0,), (-1,)),
        lambda: T.CumulativeTariff((5, 3), (1, 2, 3)),
        lambda: T.CumulativeTariff((5,), (1,)),
        lambda: T.ThresholdTariff((), 5, 1),
        lambda: T.ThresholdTariff((2, 1), 5, 1),
        lambda: T.ThresholdTariff((1,), 5, 0),
        lambda: T.RebateTariff(-1, (5,), (1, 2)),
        lambda: T.StepTariff((0,), (1,), max_reading=1 << 16),
    ]:
        with pytest.raises(ValueError):
            bad()
    with pytest.raises(ValueError):
        T.prove_step(STEP, [2], [256], [1])
    assert STEP.digest() != T.StepTariff((0, 20, 60), (10, 14, 20), max_reading=256).digest()


@pytest.mark.parametrize("kind", KINDS)
def test_real_group_end_to_end(real, kind):
    ms = [0, 249, 250, 1000, 3000][: 3 if kind == "step" else 5]
    tar = {
        "step": T.StepTariff((0, 250, 1000), (10, 14, 20)),
        "cumulative": T.CumulativeTariff((2000,), (10, 15)),
        "threshold": T.ThresholdTariff((1, 3), 900, 7),
        "rebate": T.RebateTariff(10000, (1000, 3000), (1, 2, 4)),
    }[kind]
    Cs, rs = openings(real, ms)
    bp = T.PROVERS[kind](tar, Cs, ms, rs, CTX)  # grp=None: vwcore 2048/256 group
    assert bp.amount == tar.cost(ms)
    T.VERIFIERS[kind](tar, Cs, bp.amount, bp.proof, CTX)
    with pytest.raises(ProofError):
        T.VERIFIERS[kind](tar, Cs, bp.amount, bp.proof, CTX + b"x")


def test_backends_interoperate(toy):
    ms = [10, 70]
    prev = backend.CHOICE
    try:
        backend.use("pow")
        tar, Cs, rs, bp = run(toy, "step", ms)
        backend.use("vwcrypto")
        T.verify_step(tar, Cs, bp.amount, bp.proof, CTX, toy)
        bp2 = T.prove_step(tar, Cs, ms, rs, CTX, toy)
        backend.use("gmpy2")
        T.verify_step(tar, Cs, bp2.amount, bp2.proof, CTX, toy)
    finally:
        backend.use(prev)


def test_tariff_json_roundtrip(real):
    """The kind-specific parameters round-trip through JSON; the supplier signature is the host
    tariff format's (tests/zk/test_cli_zk.py)."""
    for tar in (STEP, CUM, REB, thr(6), T.StepTariff((0, 250, 1000), (10, 14, 20))):
        obj = T.to_json(tar)
        assert T.from_json(obj) == tar
        assert T.from_json(json.loads(json.dumps(obj))).digest() == tar.digest()
        changed = json.loads(json.dumps(obj))
        changed["max_reading"] -= 1
        assert T.from_json(changed).digest() != tar.digest()
    for bad in (
        {},
        dict(T.to_json(STEP), extra=1),
        dict(T.to_json(STEP), kind="nope"),
        dict(T.to_json(STEP), bands=[[0, 1.5]]),
        dict(T.to_json(CUM), prices="x"),
    ):
        with pytest.raises(ValueError):
            T.from_json(bad)


@pytest.mark.parametrize("kind", ["step", "threshold"])
def test_workers_same_format(toy, kind):
    ms = [0, 19, 20, 60, 101, 255, 99, 7]
    tar = tariff_for(kind, len(ms))
    Cs, rs = openings(toy, ms)
    P, V = T.PROVERS[kind], T.VERIFIERS[kind]
    bp2 = P(tar, Cs, ms, rs, CTX, toy, workers=2)
    bp1 = P(tar, Cs, ms, rs, CTX, toy)
    assert len(bp1.proof) == len(bp2.proof) and bp1.amount == bp2.amount == tar.cost(ms)
    V(tar, Cs, bp2.amount, bp2.proof, CTX, toy)
    V(tar, Cs, bp1.amount, bp1.proof, CTX, toy, workers=2)
    bad = bytearray(bp1.proof)
    bad[len(bad) // 3] ^= 1  # inside a slot's digit commitments: fails in a worker
    with pytest.raises(ProofError):
        V(tar, Cs, bp1.amount, bytes(bad), CTX, toy, workers=2)
    with pytest.raises(ProofError):
        V(
            tar,
            Cs,
            bp1.amount + tar.prices[0] if kind == "step" else bp1.amount + tar.price,
            bp1.proof,
            CTX,
            toy,
            workers=2,
        )


def test_unit_sizes_match_statement(toy):
    from veriwatt.zk import range as zr, sigma

    for tar in (STEP, T.StepTariff((0, 1, 2, 7), (1, 2, 3, 4), max_reading=7), T.StepTariff((0,), (3,))):
        aux, resp = T._step_sizes(toy, tar)
        bands = tar.bands()
        assert aux == toy.plen * (1 + sum(zr.elements(w) for _, w, _ in bands))
        C, D = toy.commit(1, 2), toy.commit(3, 4)
        W = T.Writer.raw(toy)
        node = T._step_branches(toy, tar, C, D, W=W, m=1, r=2, rho=4)
        assert len(W.getvalue()) == aux - toy.plen
        assert sigma.count(node)["scalars"] * toy.qlen == resp


def test_3072_group_cumulative_and_threshold():
    from veriwatt.zk import groups

    G = groups.default_group("3072")
    ms = [300, 1200, 40]
    Cs, rs = openings(G, ms)
    for tar in (T.CumulativeTariff((1000,), (10, 15)), T.ThresholdTariff((1,), 1000, 3)):
        bp = T.PROVERS[tar.kind_name](tar, Cs, ms, rs, CTX, G)
        assert T.VERIFIERS[tar.kind_name](tar, Cs, bp.amount, bp.proof, CTX, G) == tar.cost(ms)
        with pytest.raises(ProofError):  # a 2048-bit verifier does not accept it
            T.VERIFIERS[tar.kind_name](tar, Cs, bp.amount, bp.proof, CTX)
