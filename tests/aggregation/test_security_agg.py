# SPDX-License-Identifier: MIT
"""Attacks on aggregation by whoever holds the serial port (issue "Security", part 3), over the
real serial path: simulated meters (the firmware on unix MicroPython behind ptys), raw wire
messages and `veriwatt aggregate`.

  - AGG_RECOVER naming every peer after AGG_FETCH gave the meter's whole mask: share minus
    mask = reading (48 of 48 readings of a day). Now refused, and no call sequence helps
    (the exhaustive proof is in test_agg_release_proof.py).
  - AGG_ENROLL without the customer's consent put the meter in a group of the attacker's keys
    (and replaced the real enrollment). Now refused without the customer's tag, with a
    tampered member key or a replayed tag; the real enrollment stays.
  - Groups of 2 (each member learns the other's reading) refused on the meter and the host.
  - Noise: exact discrete Laplace (integers only), its distribution against the exact pmf."""

from __future__ import annotations

import json
import math
import os
import time

import pytest

from veriwatt import cli, device, records, serial_client, slots
from veriwatt.aggregation import Aggregator
from vwcore import agg, aggwire, group, wire

pytestmark = [pytest.mark.aggregation, pytest.mark.security]

N = 4
DAY0 = slots.month_range("2026-12")[0]
A, B = DAY0, DAY0 + 48


def run_cli(capsys, *argv):
    rc = cli.main(list(argv))
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("aggsec")
    sim = device.start_sim(N, str(d / "sim"), 100000, "none")
    e = Env()
    e.sim, e.dir = sim, d
    try:
        e.ports = [m.port for m in sim.meters]
        e.prov = []
        for i, port in enumerate(e.ports):
            with serial_client.MeterLink(port, timeout=5, retries=3) as link:
                e.prov.append(
                    device.provision(link, b"AGGSEC%02d" % i, str(d), (A - 24) * 1800, name="s%d" % i)
                )  # a margin: metering starts at the slot in progress
        deadline = time.monotonic() + 30
        e.m = {}
        for i, port in enumerate(e.ports):
            with serial_client.MeterLink(port, timeout=5, retries=3) as link:
                while link.hello()["last_slot"] == wire.NO_SLOT or link.info["last_slot"] < B + 8:
                    assert time.monotonic() < deadline, "meters too slow"
                    time.sleep(0.2)
                recs, _ = link.fetch_batch(A, B - A)
                recs = [records.decode(r) for r in recs]
                e.m[bytes.fromhex(e.prov[i]["meter_id"])] = {
                    r.slot: m for r, (m, _) in zip(recs, records.open_all(recs, e.prov[i]["customer_key"]))
                }
        e.codes = str(d / "codes.json")
        with open(e.codes, "w") as f:
            json.dump({p["meter_id"]: p["customer_code"] for p in e.prov}, f)
        yield e
    finally:
        sim.stop()


def enroll_real(env, capsys, label="real feeder"):
    gfile = str(env.dir / "group.json")
    rc, out, err = run_cli(
        capsys, "aggregate", "enroll", *env.ports, "--codes", env.codes, "--label", label, "--out", gfile
    )
    assert rc == 0, out + err
    g = json.load(open(gfile))
    G = group.get(g["group"])
    members = [(bytes.fromhex(m["meter_id"]), int(m["agg_pub"], 16)) for m in g["members"]]
    return Aggregator(g["label"].encode(), members, int(g["aggregator_secret"], 16), G), g


def raw_enroll(link, G, label, agg_pub, members, tag, n=None):
    """BEGIN, MEMBERS, COMMIT by hand (an attacker's tool); returns the COMMIT answer or raises."""
    members = sorted(members)
    link.request(
        wire.AGG_ENROLL, aggwire.encode_agg_begin(G.id, label, agg_pub, n or len(members)), (wire.OK,), timeout=30
    )
    for i in range(0, len(members), 3):
        link.request(wire.AGG_ENROLL, aggwire.encode_agg_members(G.id, i, members[i : i + 3]), (wire.OK,), timeout=30)
    f = link.request(wire.AGG_ENROLL, aggwire.encode_agg_commit(tag), (wire.AGG_ENROLLED,), timeout=30)
    return aggwire.decode_agg_enrolled(f.payload)


def test_recover_every_peer_after_fetch_reveals_no_reading(env, capsys):
    """The reported attack: AGG_FETCH a day from meter 0, then AGG_RECOVER each slot naming every
    peer (and every other missing set): share minus recovery was the reading, 48 of 48."""
    Agg, _g = enroll_real(env, capsys)
    victim = bytes.fromhex(env.prov[0]["meter_id"])
    peers = [bytes.fromhex(p["meter_id"]) for p in env.prov[1:]]
    subsets = [peers, peers[:1], peers[1:], [peers[0], peers[2]]]
    revealed, refused = 0, 0
    with serial_client.MeterLink(env.ports[0], timeout=3, retries=1) as link:
        shares = link.agg_fetch(A, B)
        assert sorted(shares) == list(range(A, B))
        for slot in range(A, B):
            c1 = agg.decode_share(shares[slot])[3]
            for miss in subsets:
                try:
                    msg = link.agg_recover(slot, miss)
                except Exception as e:
                    assert "error 13" in str(e) or "error 15" in str(e), e
                    refused += 1
                    continue
                r1 = agg.decode_recovery(msg)[3]
                if (c1 - r1) % agg.MOD == env.m[victim][slot] or r1 == env.m[victim][slot]:
                    revealed += 1
    assert revealed == 0 and refused == (B - A) * len(subsets)


def test_missing_member_attack_and_double_release_refused(env, capsys):
    """Fetch meter 0's full share of a slot, then ask the others to recover it out: they give one
    reduced share each, but none of them then gives its full share, nor a second reduced share
    for another missing set; the victim's reading stays masked."""
    Agg, _g = enroll_real(env, capsys, "feeder 2")
    slot = B + 1
    ids = [bytes.fromhex(p["meter_id"]) for p in env.prov]
    with serial_client.MeterLink(env.ports[0], timeout=3, retries=1) as link:
        c0 = link.agg_fetch(slot, slot + 1)[slot]
    vals = []
    for k in (1, 2, 3):
        with serial_client.MeterLink(env.ports[k], timeout=3, retries=1) as link:
            msg = link.agg_recover(slot, [ids[0]])
            assert link.agg_recover(slot, [ids[0]]) == msg  # the same release again: identical
            vals.append(agg.decode_recovery(msg)[3])
            assert link.agg_fetch(slot, slot + 1) == {}  # no full share after a reduced one
            with pytest.raises(Exception, match=r"one release per slot.*\(error 15\)"):
                link.agg_recover(slot, [ids[0], ids[3 if k != 3 else 2]])
    others = sum(env_m(env, ids[k], slot) for k in (1, 2, 3))
    assert sum(vals) % agg.MOD == others  # the aggregate, as intended
    assert (agg.decode_share(c0)[3] - env_m(env, ids[0], slot)) % agg.MOD != 0  # still masked
    # the release log is durable: after a power cycle the same refusals and the same bytes
    for k in (0, 1):
        m = env.sim.restart(k)
        env.ports[k] = m.port
        with serial_client.MeterLink(m.port, timeout=5, retries=2) as link:
            if not link.hello()["clock_set"]:
                link.set_clock((B + 100) * 1800)
            if k == 0:
                with pytest.raises(Exception, match=r"may have been released.*\(error 15\)"):
                    link.agg_recover(slot, [ids[1]])
                assert link.agg_fetch(slot, slot + 1)[slot] == c0
            else:
                assert link.agg_fetch(slot, slot + 1) == {}
                assert agg.decode_recovery(link.agg_recover(slot, [ids[0]]))[3] == vals[0]
                with pytest.raises(Exception, match=r"one release per slot.*\(error 15\)"):
                    link.agg_recover(slot, [ids[0], ids[2]])


def env_m(env, mid, slot):
    if slot not in env.m[mid]:
        k = [bytes.fromhex(p["meter_id"]) for p in env.prov].index(mid)
        with serial_client.MeterLink(env.ports[k], timeout=3, retries=1) as link:
            recs, _ = link.fetch_batch(slot, 1)
        r = records.decode(recs[0])
        env.m[mid][slot] = records.open_all([r], env.prov[k]["customer_key"])[0][0]
    return env.m[mid][slot]


def test_enrollment_without_consent_refused_and_real_one_intact(env, capsys):
    """The attacker's group (meter 0 + two members whose secrets it knows) with no tag, a tag
    under a wrong key, a real customer tag over a tampered member key, and a replayed tag:
    all refused (error 6); meter 0 keeps answering shares of the real group."""
    Agg, g = enroll_real(env, capsys, "feeder 3")
    victim = env.prov[0]
    vid = bytes.fromhex(victim["meter_id"])
    with serial_client.MeterLink(env.ports[0], timeout=5, retries=1) as link:
        before = link.agg_fetch(B + 2, B + 4)
        info = link.hello()
        G = group.get(info["group_id"])
        xs = [agg.secret_scalar(b"attacker-%d" % i, G) for i in range(2)]
        fake = [(b"EVIL%04d" % i, agg.public_key(x, G)) for i, x in enumerate(xs)]
        x_att = agg.secret_scalar(b"attacker-aggregator", G)
        y_att = agg.public_key(x_att, G)
        members = [(vid, info["agg_pub"])] + fake
        digest = agg.enroll_digest(agg.group_hash(b"evil", members, y_att, G), 3, 0, 0)
        for tag in (bytes(16), agg.enroll_tag(os.urandom(15), vid, info["challenge"], digest)):
            with pytest.raises(Exception, match=r"not authorised.*\(error 6\)"):
                raw_enroll(link, G, b"evil", y_att, members, tag)
        # the customer consents to a group; on the way the attacker swaps one member's key
        real_members = [(bytes.fromhex(m["meter_id"]), int(m["agg_pub"], 16)) for m in g["members"]][:3]
        if vid not in [m for m, _ in real_members]:
            real_members[0] = (vid, info["agg_pub"])
        good = agg.enroll_tag(
            victim["customer_key"],
            vid,
            info["challenge"],
            agg.enroll_digest(agg.group_hash(b"agreed", real_members, Agg.pub, G), 3, 0, 0),
        )
        tampered = sorted(real_members)
        k = max(i for i, (m, _) in enumerate(tampered) if m != vid)
        tampered[k] = (tampered[k][0], fake[0][1])  # the attacker's key under a real member's id
        assert tampered != sorted(real_members)
        with pytest.raises(Exception, match=r"not authorised.*\(error 6\)"):
            raw_enroll(link, G, b"agreed", Agg.pub, tampered, good)
        # noise parameters are covered too: the same list with noise switched on is refused
        with pytest.raises(Exception, match=r"not authorised.*\(error 6\)"):
            link.agg_enroll(G.id, b"agreed", Agg.pub, real_members, 100000, 1, good)
        after = link.agg_fetch(B + 2, B + 4)
        assert after == before
        for sh in after.values():
            assert agg.decode_share(sh)[0] == Agg.gid
            assert Agg.add_share(sh)
        # the consented enrollment goes through once; its tag replayed is refused (challenge spent)
        assert raw_enroll(link, G, b"agreed", Agg.pub, real_members, good)["n_members"] == 3
        with pytest.raises(Exception, match=r"not authorised.*\(error 6\)"):
            raw_enroll(link, G, b"agreed", Agg.pub, real_members, good)
    enroll_real(env, capsys, "feeder 4")


def test_groups_of_two_refused(env, capsys):
    with serial_client.MeterLink(env.ports[0], timeout=3, retries=1) as link:
        info = link.hello()
        G = group.get(info["group_id"])
        with pytest.raises(Exception, match=r"3\.\.255 members.*\(error 13\)"):
            link.request(
                wire.AGG_ENROLL,
                bytes((wire.AGG_OP_BEGIN, G.id, 0, 2)) + aggwire.encode_agg_begin(G.id, b"x", G.g, 3)[4:],
                (wire.OK,),
            )
    rc, out, err = run_cli(
        capsys,
        "aggregate",
        "enroll",
        *env.ports[:2],
        "--codes",
        env.codes,
        "--label",
        "two",
        "--out",
        str(env.dir / "two.json"),
    )
    assert rc == 2 and "at least 3 meters" in err and not (env.dir / "two.json").exists()


def test_enroll_needs_every_port_and_the_codes(env, capsys):
    out_f = str(env.dir / "partial.json")
    rc, out, err = run_cli(
        capsys,
        "aggregate",
        "enroll",
        *env.ports[:3],
        "/dev/vw-no-such-port",
        "--codes",
        env.codes,
        "--label",
        "p",
        "--out",
        out_f,
        "--timeout",
        "0.5",
        "--retries",
        "0",
    )
    assert rc == 3 and "/dev/vw-no-such-port" in err and "--allow-partial" in err and not os.path.exists(out_f)
    rc, out, err = run_cli(capsys, "aggregate", "enroll", *env.ports[:3], "--label", "p", "--out", out_f)
    assert rc == 2 and "no customer code" in err and "--code" in err
    rc, out, err = run_cli(
        capsys,
        "aggregate",
        "enroll",
        *env.ports[:3],
        "/dev/vw-no-such-port",
        "--codes",
        env.codes,
        "--label",
        "p",
        "--out",
        out_f,
        "--timeout",
        "0.5",
        "--retries",
        "0",
        "--allow-partial",
    )
    assert rc == 0 and len(json.load(open(out_f))["members"]) == 3, out + err


# ---- exact noise -----------------------------------------------------------------------------


def _chi2_crit(df, z=3.72):
    """Upper 1e-4 point of chi-square(df), Wilson-Hilferty approximation."""
    return df * (1 - 2 / (9 * df) + z * math.sqrt(2 / (9 * df))) ** 3


@pytest.mark.parametrize("s, t", [(1, 2), (1000, 4000), (3, 1000)])
def test_discrete_laplace_matches_the_exact_pmf(s, t):
    """Chi-square of 10,000 draws against P[Z = z] = (1-a)/(1+a) a^|z|, a = exp(-s/t), in
    bins of equal expected mass; and the sample variance against 2a/(1-a)^2."""
    n = 10000
    a = math.exp(-s / t)
    draws = [agg.discrete_laplace(agg._Stream(b"chi-square", k, b"/t"), s, t) for k in range(n)]

    # cumulative P[Z <= z]; bin edges where it crosses multiples of 1/40
    def cdf(z):
        return 1 - a ** (z + 1) / (1 + a) if z >= 0 else a ** (-z) / (1 + a)

    edges, k, z = [], 1, -1
    lo = -int(math.log(2 * 1e-6) / -math.log(a)) - 2
    z = lo
    while k < 40:
        if cdf(z) >= k / 40:
            edges.append(z)
            while k < 40 and cdf(z) >= k / 40:
                k += 1
        z += 1
    edges = sorted(set(edges))
    probs, counts, prev = [], [], None
    for e in edges + [None]:
        p = (cdf(e) if e is not None else 1.0) - (cdf(prev) if prev is not None else 0.0)
        c = sum(1 for d in draws if (prev is None or d > prev) and (e is None or d <= e))
        probs.append(p)
        counts.append(c)
        prev = e
    stat = sum((c - n * p) ** 2 / (n * p) for c, p in zip(counts, probs))
    assert stat < _chi2_crit(len(probs) - 1), (stat, len(probs))
    mean = sum(draws) / n
    var = sum((x - mean) ** 2 for x in draws) / (n - 1)
    assert 0.9 < var / (2 * a / (1 - a) ** 2) < 1.1


def test_noise_uses_integers_only(monkeypatch):
    """Exactness: the meter's noise never touches floating point (a float sampler has bounded,
    rounded support and pure epsilon-DP fails): with math unavailable it still works."""

    class NoMath:
        def __getattr__(self, name):
            raise AssertionError("floating point math.%s used by the noise sampler" % name)

    monkeypatch.setattr(agg, "math", NoMath())
    vals = [agg.member_noise(b"k" * 32, s, 500, 200) for s in range(50)]
    assert len(set(vals)) > 40
