# SPDX-License-Identifier: MIT
"""Security issue parts 4 and 5, against the real firmware (simulated meters on the unix
MicroPython behind ptys, the real CLI and pyserial):

4. The meter makes its signing/commitment and aggregation secrets itself and never exports them:
   the engineer's files (meter.pub.json, meter.admin.json) hold no secret that forges a reading or
   opens a commitment; two meters given the same host entropy get different keys; RESET and
   SET_CLOCK take the admin credential and refuse a tag derived from the signing key.
5. A RESET / SET_CLOCK challenge expires after its lifetime in meter uptime (shortened to 2 s here
   with VW_CHALLENGE_TTL_S) and changes at every boot: a withheld tag delivered late, or after a
   reboot, is refused and the clock stays where it was."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from veriwatt import device, records, serial_client
from veriwatt.errors import DeviceError
from vwcore import aead, auth, group, reading, sig, wire

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "firmware"))
from fwhelpers import keys_on_flash  # noqa: E402

pytestmark = [pytest.mark.host, pytest.mark.sim, pytest.mark.security]

T0 = 1796083200  # 2026-12-01 00:00 UTC
MID = bytes.fromhex("5345435552453031")


def run(*argv, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "veriwatt.cli", *argv], capture_output=True, text=True, timeout=timeout
    )


def sim(tmp_path, n=1, speed=1, **env):
    ms = device.load_meter_sim()
    return ms.MeterSim(
        n=n,
        storage=str(tmp_path / "sim"),
        speed=speed,
        start="none",
        extra_env=dict(device.natmod_env(ms).items() | {k: str(v) for k, v in env.items()}.items()),
    )


def hex32_values(obj):
    """Every 32-byte value written as hex anywhere in a JSON document (keys and values)."""
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += hex32_values(k) + hex32_values(v)
    elif isinstance(obj, list):
        for v in obj:
            out += hex32_values(v)
    elif isinstance(obj, str):
        try:
            b = bytes.fromhex(obj)
        except ValueError:
            return []
        if len(b) == 32:
            out.append(b)
    return out


def test_engineer_files_hold_no_signing_or_commitment_secret(tmp_path):
    out = tmp_path / "eng"
    with sim(tmp_path, speed=18000) as s:
        port = s.meters[0].port
        r = run("provision", port, "--meter-id", MID.hex(), "--clock", str(T0), "--out", str(out), "--json")
        assert r.returncode == 0, r.stderr
        res = json.loads(r.stdout)
        code = res["customer_code"]
        from veriwatt import webaccess  # the web service's verifier, published at provisioning (docs/WEB.md)

        assert res["access_verifier"] == webaccess.verifier(code, res["meter_id"])
        with serial_client.MeterLink(port, timeout=5) as link:
            deadline = time.monotonic() + 30
            while link.hello()["last_slot"] == wire.NO_SLOT or link.info["used"] < 3:
                assert time.monotonic() < deadline, "meter too slow"
                time.sleep(0.1)
            raw, _ = link.fetch_batch(link.info["first_slot"], 3)
        flash = keys_on_flash(s.meters[0].storage)
    files = sorted(p.name for p in out.iterdir())
    assert files == ["meter.admin.json", "meter.pub.json"], files
    adm = out / "meter.admin.json"
    assert stat.S_IMODE(adm.stat().st_mode) == 0o600
    docs = {p.name: json.loads(p.read_text()) for p in out.iterdir()}
    text = "".join(p.read_text() for p in out.iterdir())
    # nothing the meter keeps secret, nor the customer code, is on the engineer's disk
    for secret in (flash["sig_secret"], flash["agg_secret"], flash["customer_key"]):
        assert secret.hex() not in text
    assert code not in text and code.replace("-", "") not in text
    for d in docs.values():
        assert not {"sig_secret", "agg_secret", "customer_code", "secret"} & set(d)
    y = int(docs["meter.pub.json"]["y"], 16)
    G = group.get(1)
    recs = [records.decode(b) for b in raw]
    assert all(reading.verify_record(rec, y, MID) for rec in recs)
    ak = aead.AEAD(aead.parse_customer_code(code))
    opened = [reading.open_record(rec, ak) for rec in recs]  # (only the customer can do this)
    # the engineer tries every 32-byte value on their disk as the signing / commitment key:
    # no reading is forged, no commitment opened
    cands = [v for d in docs.values() for v in hex32_values(d)]
    assert cands, "the admin secret should be among the candidates"
    for v in cands:
        k = reading.MeterKeys(MID, v, b"x" * 15, 1)
        assert k.y != y and sig.SigningKey(v, G).y != y
        forged = reading.certify(k, recs[0].slot, 0)  # an all-zero reading
        assert not reading.verify_record(forged, y, MID)
        for rec, (m, _r) in zip(recs, opened):
            assert group.commit(m, k.r_for(rec.slot), G) != rec.C


def test_code_is_saved_only_when_asked(tmp_path):
    with sim(tmp_path, speed=1) as s:
        port = s.meters[0].port
        code_file = tmp_path / "label" / "code.json"
        code_file.parent.mkdir()
        r = run("provision", port, "--clock", str(T0), "--out", str(tmp_path / "eng"), "--save-code", str(code_file))
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE(code_file.stat().st_mode) == 0o600
        code = json.loads(code_file.read_text())["customer_code"]
        assert code in r.stdout and code not in (tmp_path / "eng" / "meter.admin.json").read_text()
        # provisioning into a folder that already holds an admin file never overwrites it
        r = run("provision", s.meters[0].port, "--out", str(tmp_path / "eng"))
        assert r.returncode == 2 and "exists already" in r.stderr, r.stderr


def test_same_host_entropy_gives_different_keys(tmp_path):
    """The host entropy is one input only: the meters' own RNG makes their keys differ."""
    ent, adm, ck = b"\x11" * 32, b"\x22" * 32, b"\x33" * 15
    pubs = []
    with sim(tmp_path, n=2, speed=1) as s:
        for m in s.meters:
            with serial_client.MeterLink(m.port, timeout=5) as link:
                link.provision(MID, 1, T0, ent, adm, ck)
                i = link.hello()
                assert i["provisioned"] and i["sig_pub"] and i["agg_pub"]
                pubs.append((i["sig_pub"], i["agg_pub"]))
    assert pubs[0][0] != pubs[1][0] and pubs[0][1] != pubs[1][1]


def provisioned_sim(tmp_path, **env):
    """A meter at real speed, provisioned a minute into a slot (no reading closes during the test)."""
    s = sim(tmp_path, speed=1, **env).start()
    port = s.meters[0].port
    r = run(
        "provision", port, "--meter-id", MID.hex(), "--clock", str(T0 + 60), "--out", str(tmp_path / "eng"), "--json"
    )
    assert r.returncode == 0, r.stderr
    return s, admin_credential(tmp_path / "eng")


def admin_credential(folder):
    """The engineer's RESET / SET_CLOCK key (before this fix: the signing secret of meter.secret.json,
    so that these tests show the old behaviour rather than a missing file)."""
    if not (folder / "meter.admin.json").exists():
        return bytes.fromhex(json.loads((folder / "meter.secret.json").read_text())["sig_secret"])
    return bytes.fromhex(json.loads((folder / "meter.admin.json").read_text())["admin_secret"])


def refused(link, mtype, payload, match):
    with pytest.raises(DeviceError, match=match) as e:
        link.request(mtype, payload, (wire.OK,))
    assert e.value.meter_code == wire.E_AUTH


def test_admin_credential_works_and_a_signing_key_tag_is_refused(tmp_path):
    s, admin = provisioned_sim(tmp_path)
    try:
        port = s.meters[0].port
        sig_secret = keys_on_flash(s.meters[0].storage)["sig_secret"]  # stolen from the flash, say
        with serial_client.MeterLink(port, timeout=5, retries=0) as link:
            before = link.hello()
            t = before["clock"] + 6 * 3600
            ch = before["challenge"]
            refused(
                link,
                wire.SET_CLOCK,
                wire.encode_set_clock(t, ch, auth.clock_tag(sig_secret, MID, ch, t)),
                "not authorised",
            )
            refused(link, wire.RESET, wire.encode_reset(MID, ch, auth.reset_tag(sig_secret, MID, ch)), "not authorised")
            assert abs(link.hello()["clock"] - before["clock"]) <= 5 and link.info["provisioned"]
        t = before["clock"] + 600  # beyond a drift trim, still inside the first slot
        r = run("set-clock", port, "--time", str(t), "--admin", str(tmp_path / "eng" / "meter.admin.json"), "--json")
        assert r.returncode == 0 and json.loads(r.stdout)["authenticated"], r.stderr
        r = run("reset", port, "--admin", str(tmp_path / "eng" / "meter.admin.json"))
        assert r.returncode == 0, r.stderr
        with serial_client.MeterLink(port, timeout=5) as link:
            assert not link.hello()["provisioned"]
    finally:
        s.stop()


def test_a_late_tag_is_refused(tmp_path):
    s, admin = provisioned_sim(tmp_path, VW_CHALLENGE_TTL_S=2)
    try:
        with serial_client.MeterLink(s.meters[0].port, timeout=5, retries=0) as link:
            before = link.hello()
            ch, t = before["challenge"], before["clock"] - 6 * 3600  # six hours back
            withheld = wire.encode_set_clock(t, ch, auth.clock_tag(admin, MID, ch, t))
            reset = wire.encode_reset(MID, ch, auth.reset_tag(admin, MID, ch))
            time.sleep(3)  # the line holds them back
            refused(link, wire.SET_CLOCK, withheld, "challenge expired: ask INFO again")
            refused(link, wire.RESET, reset, "challenge expired: ask INFO again")
            after = link.hello()
            assert after["provisioned"] and not after["clock_unverified"]
            assert abs(after["clock"] - (before["clock"] + 3)) <= 3  # not set back
            link.set_clock(t, MID, admin)  # asked again in time: taken
            assert abs(link.hello()["clock"] - t) <= 3
    finally:
        s.stop()


def test_a_tag_from_before_a_reboot_is_refused(tmp_path):
    s, admin = provisioned_sim(tmp_path)
    try:
        with serial_client.MeterLink(s.meters[0].port, timeout=5, retries=0) as link:
            before = link.hello()
            ch, t = before["challenge"], before["clock"] - 6 * 3600
        withheld = wire.encode_set_clock(t, ch, auth.clock_tag(admin, MID, ch, t))
        m = s.restart(0)  # within the challenge's lifetime, but a new boot
        with serial_client.MeterLink(m.port, timeout=5, retries=0) as link:
            i = link.hello()
            assert i["challenge"] != ch
            refused(link, wire.SET_CLOCK, withheld, "challenge not current")
            assert abs(link.hello()["clock"] - before["clock"]) <= 10
    finally:
        s.stop()


def test_admin_file_loader(tmp_path, capsys):
    """The admin file is checked; an old secret file (it held the signing key) still resets the meter
    it provisioned, with a warning to re-provision and delete it."""
    good = tmp_path / "m.admin.json"
    good.write_text(json.dumps({"format": device.ADMIN_FORMAT, "meter_id": MID.hex(), "admin_secret": "ab" * 32}))
    assert device.load_admin_file(str(good)) == (MID, b"\xab" * 32)
    old = tmp_path / "m.secret.json"
    old.write_text(
        json.dumps(
            {
                "format": device.OLD_SECRET_FORMAT,
                "meter_id": MID.hex(),
                "sig_secret": "cd" * 32,
                "agg_secret": "ef" * 32,
            }
        )
    )
    assert device.load_admin_file(str(old)) == (MID, b"\xcd" * 32)
    assert "SIGNING key" in capsys.readouterr().err
    for bad in (
        {"format": device.ADMIN_FORMAT, "meter_id": MID.hex()},
        {"meter_id": MID.hex(), "admin_secret": "ab" * 32},
        {"format": device.ADMIN_FORMAT, "meter_id": "00", "admin_secret": "ab" * 32},
    ):
        good.write_text(json.dumps(bad))
        with pytest.raises(device.VeriwattError, match="is not a meter admin file"):
            device.load_admin_file(str(good))
