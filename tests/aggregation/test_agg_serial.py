# SPDX-License-Identifier: MIT
"""Aggregation end to end on the real firmware: simulated meters (unix MicroPython behind
ptys), the wire messages AGG_ENROLL / AGG_FETCH / AGG_RECOVER, and `veriwatt aggregate`.

One simulator for the module (4 group members + 1 meter left unprovisioned); the tests run
in file order: exact statistics, feeder/threshold, tampered shares, wrong group, then
meters stopped one and two at a time (recovery)."""

from __future__ import annotations

import json
import os
import time
from fractions import Fraction

import pytest

from veriwatt import cli, device, records, serial_client, slots
from vwcore import agg, aggwire, group, wire

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "firmware"))
from fwhelpers import keys_on_flash  # noqa: E402

pytestmark = [pytest.mark.aggregation, pytest.mark.sim]

N = 4
DAY0 = slots.month_range("2026-12")[0]
A, B = DAY0, DAY0 + 48  # one day of slots


def run_cli(capsys, *argv):
    rc = cli.main(list(argv))
    out = capsys.readouterr().out
    return rc, out


class Env:
    pass


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("aggsim")
    sim = device.start_sim(N + 1, str(d / "sim"), 100000, "none")
    e = Env()
    e.sim, e.dir = sim, d
    try:
        e.ports = [m.port for m in sim.meters[:N]]
        e.spare = sim.meters[N].port
        e.prov = []
        for i, port in enumerate(e.ports):
            with serial_client.MeterLink(port, timeout=5, retries=3) as link:
                e.prov.append(device.provision(link, b"AGGSER%02d" % i, str(d), (A - 2) * 1800, name="m%d" % i))
        # wait for a day of readings, then the plaintext from the decrypted readings
        deadline = time.monotonic() + 30
        e.m = {}
        for i, port in enumerate(e.ports):
            with serial_client.MeterLink(port, timeout=5, retries=3) as link:
                while link.hello()["last_slot"] in (wire.NO_SLOT,) or link.info["last_slot"] < B:
                    assert time.monotonic() < deadline, "meters too slow"
                    time.sleep(0.2)
                recs, _ = link.fetch_batch(A, B - A)
                recs = [records.decode(r) for r in recs]
                assert [r.slot for r in recs] == list(range(A, B))
                e.m[bytes.fromhex(e.prov[i]["meter_id"])] = [
                    m for m, _ in records.open_all(recs, e.prov[i]["customer_key"])
                ]
        # the customers' consent to enrollments: their codes, by meter id (`aggregate enroll --codes`)
        e.codes = str(d / "codes.json")
        with open(e.codes, "w") as f:
            json.dump({p["meter_id"]: p["customer_code"] for p in e.prov}, f)
        yield e
    finally:
        sim.stop()


def stats(values):
    n = len(values)
    s, s2 = sum(values), sum(v * v for v in values)
    return s, s2, Fraction(s2, n) - Fraction(s, n) ** 2


def plain(e, slot, ids=None):
    ids = sorted(e.m) if ids is None else ids
    return [e.m[i][slot - A] for i in ids]


def test_help_texts(capsys):
    for argv, want in (
        (["aggregate", "--help"], "enroll"),
        (["aggregate", "enroll", "--help"], "--label"),
        (["aggregate", "collect", "--help"], "--feeder"),
    ):
        with pytest.raises(SystemExit) as ex:
            cli.main(argv)
        assert ex.value.code == 0
        assert want in capsys.readouterr().out


def test_wire_errors(env):
    """Clear ERROR codes: not provisioned, not enrolled, bad member list, unknown slot."""
    with serial_client.MeterLink(env.spare, timeout=3, retries=1) as link:
        with pytest.raises(Exception, match=r"not provisioned \(error 4\)"):
            link.agg_fetch_batch(A, 1)
    with serial_client.MeterLink(env.ports[0], timeout=3, retries=1) as link:
        info = link.hello()
        with pytest.raises(Exception, match=r"not enrolled.*\(error 12\)"):
            link.agg_fetch_batch(A, 1)
        G = group.get(info["group_id"])
        members = [(info["meter_id"], info["agg_pub"]), (b"YYYYYYYY", G.g), (b"ZZZZZZZZ", G.g)]
        link.request(wire.AGG_ENROLL, aggwire.encode_agg_begin(G.id, b"x", G.g, 3), (wire.OK,))
        # members out of order
        with pytest.raises(Exception, match=r"increasing id order.*\(error 13\)"):
            link.request(wire.AGG_ENROLL, aggwire.encode_agg_members(G.id, 0, members[::-1]), (wire.OK,))
        # this meter not in the list
        with pytest.raises(Exception, match=r"not in the group list.*\(error 13\)"):
            link.agg_enroll(G.id, b"x", G.g, [(b"AAAAAAAA", G.g), (b"YYYYYYYY", G.g), (b"ZZZZZZZZ", G.g)])
        # a member key outside the group
        with pytest.raises(Exception, match=r"not an element.*\(error 13\)"):
            link.agg_enroll(G.id, b"x", G.g, [members[0], members[1], (b"ZZZZZZZZ", G.p - 1)])
        # a group of two
        with pytest.raises(Exception, match=r"3\.\.255 members.*\(error 13\)"):
            link.request(
                wire.AGG_ENROLL,
                bytes((wire.AGG_OP_BEGIN, G.id, 0, 2)) + aggwire.encode_agg_begin(G.id, b"x", G.g, 3)[4:],
                (wire.OK,),
            )
        tag = agg.enroll_tag(
            env.prov[0]["customer_key"],
            info["meter_id"],
            info["challenge"],
            agg.enroll_digest(agg.group_hash(b"x", members, G.g, G), 3, 0, 0),
        )
        link.agg_enroll(G.id, b"x", G.g, members, tag=tag)
        with pytest.raises(Exception, match=r"no reading stored for slot 5 \(error 14\)"):
            link.agg_recover(5, [b"ZZZZZZZZ"])


def test_enroll_collect_exact(env, capsys, tmp_path):
    gfile = str(env.dir / "groupA.json")
    rc, out = run_cli(
        capsys, "aggregate", "enroll", *env.ports, "--codes", env.codes, "--label", "feeder A", "--out", gfile, "--json"
    )
    assert rc == 0, out
    g = json.loads(json.dumps(json.load(open(gfile))))
    assert len(g["members"]) == N and oct(os.stat(gfile).st_mode & 0o777) == "0o600"
    assert json.loads(out)["gid"] == g["gid"]
    res = str(tmp_path / "agg.json")
    t0 = time.monotonic()
    rc, out = run_cli(
        capsys,
        "aggregate",
        "collect",
        *env.ports,
        "--group",
        gfile,
        "--period",
        "%d:%d" % (A, B),
        "--out",
        res,
        "--save-shares",
        str(env.dir / "sharesA.json"),
    )
    env.collect_s = time.monotonic() - t0
    assert rc == 0, out
    r = json.load(open(res))
    assert r["shares"] == N * 48 and not r["rejected"] and not r["unresolved"]
    assert [s["slot"] for s in r["slots"]] == list(range(A, B))
    for s in r["slots"]:
        v = plain(env, s["slot"])
        tot, tot2, var = stats(v)
        assert (s["count"], s["sum_wh"], s["sum_sq"]) == (N, tot, tot2)
        assert s["mean_wh"] == float(Fraction(tot, N)) and s["variance"] == float(var)
        assert s["missing"] == []
    assert "slot %d  n=4  sum %d Wh" % (A, sum(plain(env, A))) in out


def test_feeder_and_threshold(env, capsys, tmp_path):
    gfile = str(env.dir / "groupA.json")
    feeder = {str(s): sum(plain(env, s)) + 3 for s in range(A, A + 6)}
    feeder[str(A + 2)] += 500  # a feeder reading far above the meters: losses or theft
    fpath = tmp_path / "feeder.json"
    fpath.write_text(json.dumps({"slots": feeder}))
    limit = sorted(sum(plain(env, s)) for s in range(A, A + 6))[3]
    rc, out = run_cli(
        capsys,
        "aggregate",
        "collect",
        *env.ports,
        "--group",
        gfile,
        "--from-slot",
        str(A),
        "--to-slot",
        str(A + 6),
        "--feeder",
        str(fpath),
        "--tolerance",
        "10",
        "--threshold",
        str(limit),
        "--json",
    )
    r = json.loads(out)
    assert rc == 1 and r["feeder_flagged"] == [A + 2]
    assert r["threshold_exceeded"] == [s for s in range(A, A + 6) if sum(plain(env, s)) > limit]
    assert r["slots"][0]["feeder"]["difference_wh"] == 3


def test_tampered_and_replayed_shares_rejected(env, capsys, tmp_path):
    gfile = str(env.dir / "groupA.json")
    shares = [bytes.fromhex(h) for h in json.load(open(env.dir / "sharesA.json"))["shares"]]
    first = [s for s in shares if int.from_bytes(s[24:28], "big") == A]
    assert len(first) == N
    bad = bytearray(first[0])
    bad[35] ^= 1  # value changed, MAC kept
    moved = bytearray(first[1])
    moved[24:28] = (A + 1).to_bytes(4, "big")  # a slot-A share replayed as slot A+1
    f = tmp_path / "extra.json"
    f.write_text(json.dumps({"shares": [bytes(bad).hex(), bytes(moved).hex(), first[2].hex()]}))
    rc, out = run_cli(
        capsys,
        "aggregate",
        "collect",
        *env.ports,
        "--group",
        gfile,
        "--from-slot",
        str(A),
        "--to-slot",
        str(A + 2),
        "--shares",
        str(f),
        "--json",
    )
    r = json.loads(out)
    assert rc == 1
    reasons = [x["reason"] for x in r["rejected"]]
    assert len(reasons) == 2 and all("bad MAC" in x for x in reasons), reasons
    # the identical re-send of first[2] is idempotent; the sums are still exact
    assert [s["sum_wh"] for s in r["slots"]] == [sum(plain(env, A)), sum(plain(env, A + 1))]


def test_wrong_group_rejected(env, capsys, tmp_path):
    """Re-enroll the meters into group B: their shares now fail under group A's file."""
    gb = str(env.dir / "groupB.json")
    rc, out = run_cli(
        capsys, "aggregate", "enroll", *env.ports, "--codes", env.codes, "--label", "feeder B", "--out", gb
    )
    assert rc == 0, out
    rc, out = run_cli(
        capsys,
        "aggregate",
        "collect",
        *env.ports,
        "--group",
        str(env.dir / "groupA.json"),
        "--from-slot",
        str(A),
        "--to-slot",
        str(A + 2),
        "--json",
    )
    r = json.loads(out)
    assert rc == 1 and len(r["rejected"]) == 2 * N and not r["slots"]
    assert all("another aggregation group" in x["reason"] for x in r["rejected"])
    # a share of group A fed to group B is rejected the same way
    f = tmp_path / "a.json"
    f.write_text(json.dumps({"shares": json.load(open(env.dir / "sharesA.json"))["shares"][:1]}))
    rc, out = run_cli(
        capsys,
        "aggregate",
        "collect",
        *env.ports,
        "--group",
        gb,
        "--from-slot",
        str(A),
        "--to-slot",
        str(A + 2),
        "--shares",
        str(f),
        "--json",
    )
    r = json.loads(out)
    assert rc == 1 and len(r["rejected"]) == 1 and "another aggregation group" in r["rejected"][0]["reason"]
    assert [s["sum_wh"] for s in r["slots"]] == [sum(plain(env, A)), sum(plain(env, A + 1))]


def test_noise_on_the_meter(env, capsys, tmp_path):
    """Enrollment with epsilon/sensitivity: the meters add their share of discrete Laplace noise;
    the test, reading every agg_secret from the simulated meters' flash (the meters made them and no
    host file has them), recomputes each meter's noise exactly."""
    gn = str(env.dir / "groupN.json")
    rc, out = run_cli(
        capsys,
        "aggregate",
        "enroll",
        *env.ports,
        "--codes",
        env.codes,
        "--label",
        "noisy",
        "--out",
        gn,
        "--epsilon",
        "0.5",
        "--sensitivity",
        "200",
    )
    assert rc == 0, out
    rc, out = run_cli(
        capsys,
        "aggregate",
        "collect",
        *env.ports,
        "--group",
        gn,
        "--from-slot",
        str(A),
        "--to-slot",
        str(A + 12),
        "--json",
    )
    r = json.loads(out)
    assert rc == 0 and len(r["slots"]) == 12
    assert r["noise"]["member_stddev_wh"] == round(agg.noise_stddev(0.5, 200), 3)
    g = json.load(open(gn))
    gid = bytes.fromhex(g["gid"])
    secrets = {
        bytes.fromhex(p["meter_id"]): keys_on_flash(env.sim.meters[i].storage)["agg_secret"]
        for i, p in enumerate(env.prov)
    }
    diffs = []
    for s in r["slots"]:
        noise = [agg.member_noise(agg.noise_key(secrets[m], gid, m), s["slot"], 500, 200) for m in sorted(secrets)]
        assert s["sum_wh"] == sum(plain(env, s["slot"])) + sum(n1 for n1, _ in noise)
        assert s["sum_sq"] == sum(v * v for v in plain(env, s["slot"])) + sum(n2 for _, n2 in noise)
        diffs.append(s["sum_wh"] - sum(plain(env, s["slot"])))
    assert any(diffs) and max(abs(d) for d in diffs) < 20 * agg.noise_stddev(0.5, 200, N)
    # back to a group without noise for the next tests
    rc, out = run_cli(
        capsys,
        "aggregate",
        "enroll",
        *env.ports,
        "--codes",
        env.codes,
        "--label",
        "feeder B",
        "--out",
        str(env.dir / "groupB.json"),
    )
    assert rc == 0, out


def test_enrollment_survives_a_power_cycle(env, capsys):
    """The enrollment is in the meter's flash: after a restart the meter gives the same shares."""
    with serial_client.MeterLink(env.ports[0], timeout=5, retries=2) as link:
        before = link.agg_fetch(A, A + 4)
    m = env.sim.restart(0)
    env.ports[0] = m.port
    with serial_client.MeterLink(m.port, timeout=5, retries=2) as link:
        info = link.hello()
        assert info["provisioned"]
        if not info["clock_set"]:
            link.set_clock((B + 100) * 1800)
        after = link.agg_fetch(A, A + 4)
    assert len(before) == 4 and after == before


def test_torn_enrollment_write_keeps_the_previous_group(env, capsys):
    """Two copies on flash: if the newest enrollment copy is torn (power cut while saving),
    the meter boots with the previous enrollment instead of none."""
    gb = str(env.dir / "groupB.json")
    gc_ = str(env.dir / "groupC.json")
    with serial_client.MeterLink(env.ports[1], timeout=5, retries=2) as link:
        before = link.agg_fetch(A, A + 2)  # group B
    rc, out = run_cli(
        capsys, "aggregate", "enroll", *env.ports, "--codes", env.codes, "--label", "feeder C", "--out", gc_
    )
    assert rc == 0, out
    store = env.sim.meters[1].storage
    copies = sorted((store / n for n in ("agg.a", "agg.b") if (store / n).exists()), key=lambda p: p.stat().st_mtime)
    assert len(copies) == 2
    newest = copies[-1]
    data = newest.read_bytes()
    newest.write_bytes(data[: len(data) // 2])  # the torn write of group C
    m = env.sim.restart(1)
    env.ports[1] = m.port
    with serial_client.MeterLink(m.port, timeout=5, retries=2) as link:
        if not link.hello()["clock_set"]:
            link.set_clock((B + 100) * 1800)
        assert link.agg_fetch(A, A + 2) == before
    # back to group B everywhere, as the next tests expect
    rc, out = run_cli(
        capsys, "aggregate", "enroll", *env.ports, "--codes", env.codes, "--label", "feeder B", "--out", gb
    )
    assert rc == 0, out


def test_shares_built_on_the_customer_device(env, capsys, tmp_path):
    """A member that only certifies: its customer builds its shares from the decrypted readings in
    the local store (`aggregate share`); the aggregator mixes them with the meters' own shares."""
    from veriwatt.store import Store

    p3 = env.prov[3]
    db = str(tmp_path / "customer.db")
    with Store(db) as st, serial_client.MeterLink(env.ports[3], timeout=5, retries=2) as link:
        st.add_meter(p3["meter_id"], p3["pub"], {})
        serial_client.fetch(
            link, st, p3["meter_id"], records.Checker.from_pub(p3["pub"]).check_raw, from_slot=A, to_slot=A + 4
        )
    public = json.load(open(env.dir / "groupB.json"))
    del public["aggregator_secret"]  # the customer has the public part only
    gpub = tmp_path / "group.public.json"
    gpub.write_text(json.dumps(public))
    sh = str(tmp_path / "shares3.json")
    # the member secret of a meter that only certifies (here: taken from the simulated meter's flash,
    # since provisioned meters make their aggregation secret themselves and never export it)
    member = tmp_path / "member.secret.json"
    member.write_text(
        json.dumps(
            {"meter_id": p3["meter_id"], "agg_secret": keys_on_flash(env.sim.meters[3].storage)["agg_secret"].hex()}
        )
    )
    rc, out = run_cli(
        capsys,
        "aggregate",
        "share",
        "--group",
        str(gpub),
        "--secret",
        str(member),
        "--store",
        db,
        "--code",
        p3["customer_code"],
        "--period",
        "%d:%d" % (A, A + 4),
        "--out",
        sh,
    )
    assert rc == 0, out
    with serial_client.MeterLink(env.ports[3], timeout=5, retries=2) as link:
        assert sorted(bytes.fromhex(h) for h in json.load(open(sh))["shares"]) == sorted(
            link.agg_fetch(A, A + 4).values()
        )
    rc, out = run_cli(
        capsys,
        "aggregate",
        "collect",
        *env.ports[:3],
        "--group",
        str(env.dir / "groupB.json"),
        "--from-slot",
        str(A),
        "--to-slot",
        str(A + 4),
        "--shares",
        sh,
        "--json",
    )
    r = json.loads(out)
    assert rc == 0 and not r["rejected"] and r["recovery_messages"] == 0
    assert [(s["count"], s["sum_wh"]) for s in r["slots"]] == [(N, sum(plain(env, s))) for s in range(A, A + 4)]
    rc, out = run_cli(capsys, "aggregate", "collect", *env.ports, "--group", str(gpub), "--from-slot", str(A))
    assert rc == 2


@pytest.mark.parametrize("stop", [1, 2])
def test_missing_meters_recovered(env, capsys, tmp_path, stop):
    """Stop one, then a second simulated meter: recovery gives the exact sum of the present ones
    (slots not fetched before: a meter that released a slot's full share gives no reduced one)."""
    for k in range(N - stop, N):
        env.sim.meters[k].close()
    present = sorted(bytes.fromhex(p["meter_id"]) for p in env.prov[: N - stop])
    lo = A + 8 * stop
    rc, out = run_cli(
        capsys,
        "aggregate",
        "collect",
        *env.ports,
        "--group",
        str(env.dir / "groupB.json"),
        "--from-slot",
        str(lo),
        "--to-slot",
        str(lo + 8),
        "--timeout",
        "0.5",
        "--retries",
        "1",
        "--json",
    )
    r = json.loads(out)
    assert rc == 0, r
    assert len(r["meters_unreachable"]) == stop and not r["unresolved"]
    assert r["recovery_messages"] == 8 * (N - stop)
    for s in r["slots"]:
        tot, tot2, var = stats(plain(env, s["slot"], present))
        assert (s["count"], s["sum_wh"], s["sum_sq"], s["variance"]) == (N - stop, tot, tot2, float(var))
        assert sorted(s["missing"]) == sorted(p["meter_id"] for p in env.prov[N - stop :])
