# SPDX-License-Identifier: MIT
"""The frozen 48 KB-heap meter (QEMU `meter` variant) never leaves its program because of what
arrives on the line during an aggregation enrollment.

Before the fix, AGG_ENROLL of a 255-member group (the protocol's maximum) ran the heap out part-way
(about 110 members in: 41 bytes per peer on a fragmented heap) and the MemoryError came from the
frame decoder, outside the request handler: the meter printed a traceback
(`vwcore/wire.py ... in feed / MemoryError: memory allocation failed, allocating 796 bytes`) and
fell to the MicroPython REPL, which then read the host's next frames as Python. The same
happened to a 50-member enrollment on a loaded machine, where host retries left a second
frame buffered. Now the meter allocates a group's peer buffers at BEGIN and refuses a group
its heap cannot hold (ERROR 16, E_NO_MEMORY), answers any later MemoryError with ERROR 16, and
keeps serving; MEMBERS parts may be sent again."""

from __future__ import annotations

import time

import pytest
import serial

from veriwatt import device, serial_client, slots
from veriwatt.aggregation import Aggregator
from veriwatt.serial_client import DeviceError
from vwcore import agg, aggwire, group, wire
from qemumeter import install_and_start_meter, qemu_board_port

pytestmark = [pytest.mark.aggregation, pytest.mark.reliability]

A = slots.month_range("2026-12")[0]
G = group.get(None)


@pytest.fixture
def unix_meter(tmp_path):
    """(port, provisioning result) of a provisioned unix simulated meter (same server.py)."""
    sim = device.start_sim(1, str(tmp_path / "sim"), 90000, "none")
    try:
        port = sim.meters[0].port
        with serial_client.MeterLink(port, timeout=20, retries=2) as link:
            prov = device.provision(link, b"AGGMEM01", str(tmp_path), (A - 2) * 1800, name="m0")
        yield port, prov
    finally:
        sim.stop()


@pytest.fixture
def frozen_meter(tmp_path):
    """(port, provisioning result) of a provisioned frozen meter (48 KB heap) under QEMU."""
    with qemu_board_port("meter", tmp_path) as port:
        install_and_start_meter(port, tmp_path, "meter", speed=90000)
        with serial_client.MeterLink(port, timeout=20, retries=2) as link:
            prov = device.provision(link, b"AGGMEM00", str(tmp_path), (A - 2) * 1800, name="m0")
        yield port, prov


def _group(info, prov, n, label, parts=None):
    """(AGG_ENROLL payloads BEGIN, MEMBERS..., COMMIT; gid) of a group of the meter and n-1 virtual
    members; parts: the (first, end) index ranges of the MEMBERS parts (default: full frames)."""
    members = [(info["meter_id"], info["agg_pub"])]
    members += [(b"VIRT%04d" % i, agg.public_key(agg.secret_scalar(b"v-%d" % i, G), G)) for i in range(n - 1)]
    members.sort()
    a = Aggregator(label, members, agg.secret_scalar(b"aggregator", G), G)
    digest = agg.enroll_digest(agg.group_hash(label, members, a.pub, G), n, 0, 0)
    tag = agg.enroll_tag(prov["customer_key"], info["meter_id"], info["challenge"], digest)
    k = aggwire.agg_members_per_frame(G.id)
    frames = [aggwire.encode_agg_begin(G.id, label, a.pub, n)]
    parts = parts or [(i, min(i + k, n)) for i in range(0, n, k)]
    frames += [aggwire.encode_agg_members(G.id, i, members[i:j]) for i, j in parts]
    return frames + [aggwire.encode_agg_commit(tag)], a.gid


class _Line:
    """The raw line: frames out, every byte in (the console text a crash prints included)."""

    def __init__(self, port):
        self.s = serial.Serial(port, 115200, timeout=0.05)
        self.dec = wire.Decoder(keep=0)
        self.rx = bytearray()
        self.frames = []
        self.seq = 100

    def send(self, mtype, payload):
        self.seq += 1
        self.s.write(wire.encode_frame(mtype, self.seq, payload))
        return self.seq

    def answer(self, seq, timeout=60.0, may_drop=False):
        """The answer to seq; None if may_drop and the meter said it dropped buffered input (ERROR
        16, or 1 for a frame cut by a pause on a loaded line, with seq 0) and then did not answer
        within 5 s."""
        end = time.monotonic() + timeout
        dropped = False
        while time.monotonic() < end:
            for f in list(self.frames):
                if f.seq == seq:
                    self.frames.remove(f)
                    return f
                if may_drop and f.seq == 0 and f.mtype == wire.ERROR:
                    self.frames.remove(f)
                    if wire.decode_error(f.payload)["code"] in (wire.E_NO_MEMORY, wire.E_BAD_FRAME):
                        dropped, end = True, min(end, time.monotonic() + 5)
            d = self.s.read(4096)
            self.rx += d
            self.frames += self.dec.feed(d)
        if dropped:
            return None
        raise AssertionError("no answer to seq %d; the line said: %r" % (seq, bytes(self.rx[-300:])))


def _what(f):
    return wire.decode_error(f.payload) if f.mtype == wire.ERROR else wire.TYPE_NAMES.get(f.mtype, f.mtype)


def _still_serving(port):
    with serial_client.MeterLink(port, timeout=20, retries=1) as link:
        return link.hello()


@pytest.mark.qemu
@pytest.mark.slow
def test_frozen_meter_survives_a_group_too_big_for_its_heap(frozen_meter):
    """255 members: refused with ERROR 16 (or enrolled); the meter answers afterwards and still
    enrolls a 50-member group. Unfixed firmware: the MemoryError ended the meter's program."""
    port, prov = frozen_meter
    info = _still_serving(port)
    frames, _gid = _group(info, prov, 255, b"too-big")
    line = _Line(port)
    for pl in frames:
        f = line.answer(line.send(wire.AGG_ENROLL, pl))
        if f.mtype == wire.ERROR:
            err = wire.decode_error(f.payload)
            assert err["code"] == wire.E_NO_MEMORY, err
            break
    line.s.close()
    assert b"Traceback" not in line.rx and b">>> " not in line.rx, bytes(line.rx[-400:])
    # the host resends on ERROR 16 (within its tries), then reports the meter's reason
    with serial_client.MeterLink(port, timeout=60, retries=2) as link:
        with pytest.raises(DeviceError) as e:
            link.request(wire.AGG_ENROLL, frames[0], (wire.OK,), timeout=60)
        assert e.value.meter_code == wire.E_NO_MEMORY and "too big" in str(e.value)
        assert link.stats.retries == 2
    info = _still_serving(port)
    frames, gid = _group(info, prov, 50, b"fifty")
    with serial_client.MeterLink(port, timeout=60, retries=1) as link:
        begin, parts, commit = frames[0], frames[1:-1], frames[-1]
        link.request(wire.AGG_ENROLL, begin, (wire.OK,), timeout=60)
        for pl in parts:
            link.request(wire.AGG_ENROLL, pl, (wire.OK,), timeout=60)
        got = aggwire.decode_agg_enrolled(
            link.request(wire.AGG_ENROLL, commit, (wire.AGG_ENROLLED,), timeout=60).payload
        )
    assert got["gid"] == gid and got["n_members"] == 50


def _twice(line, payload, want):
    """Send the frame twice at once until a copy is answered `want` (at most 5 rounds; a copy is
    answered ERROR 16 or, dropped with the buffered input, not at all: the host resends). Returns
    (answer, ERROR 16 count)."""
    oom = 0
    for _ in range(5):
        seqs = [line.send(wire.AGG_ENROLL, payload), line.send(wire.AGG_ENROLL, payload)]
        got = [line.answer(q, 60.0, may_drop=True) for q in seqs]
        for f in got:
            if f is not None and f.mtype == wire.ERROR and wire.decode_error(f.payload)["code"] == wire.E_NO_MEMORY:
                oom += 1
            else:
                assert f is None or f.mtype == want, _what(f)
        ok = [f for f in got if f is not None and f.mtype == want]
        if ok:
            return ok[0], oom
    raise AssertionError("no %s after 5 rounds" % wire.TYPE_NAMES[want])


@pytest.mark.qemu
@pytest.mark.slow
def test_frozen_meter_serves_resent_and_late_enrollment_frames(frozen_meter):
    _resent_and_late(frozen_meter)


@pytest.mark.sim
def test_unix_meter_serves_resent_and_late_enrollment_frames(unix_meter):
    _resent_and_late(unix_meter)


def _resent_and_late(meter):
    """A 50-member enrollment where every frame is sent twice at once (a host retry arriving
    while the meter still computes the first copy: two frames buffered), COMMIT included:
    each copy is answered (OK, or ERROR 16 and resent), the group is enrolled, and the meter then
    serves AGG_FETCH; a late MEMBERS part is refused cleanly."""
    port, prov = meter
    info = _still_serving(port)
    frames, gid = _group(info, prov, 50, b"fifty")
    line = _Line(port)
    oom = 0
    for pl in frames[:-1]:
        oom += _twice(line, pl, wire.OK)[1]
    f, n = _twice(line, frames[-1], wire.AGG_ENROLLED)
    line.s.close()
    print("ERROR 16 answers: %d" % (oom + n))
    assert b"Traceback" not in line.rx and b">>> " not in line.rx, bytes(line.rx[-400:])
    assert aggwire.decode_agg_enrolled(f.payload)["gid"] == gid
    with serial_client.MeterLink(port, timeout=60, retries=1) as link:
        assert len(link.agg_fetch(A, A + 2)) == 2
        with pytest.raises(DeviceError) as e:
            link.request(wire.AGG_ENROLL, frames[1], (wire.OK,), timeout=60)
        assert e.value.meter_code == wire.E_BAD_MEMBERS, (str(e.value), bytes(link._tail))
        assert link.hello()["provisioned"]


@pytest.mark.sim
def test_unix_meter_takes_a_part_sent_again_from_inside(unix_meter):
    """A MEMBERS part that starts before where the meter is and ends after it (sent again after
    an ERROR 16 part-way through) adds the members after it: the group is the same, so the
    COMMIT (its tag over the group hash) enrolls it. Before: ERROR 13, enrollment dropped."""
    port, prov = unix_meter
    info = _still_serving(port)
    parts = [(0, 3), (1, 4)] + [(i, min(i + 3, 50)) for i in range(4, 50, 3)]
    frames, gid = _group(info, prov, 50, b"fifty", parts)
    with serial_client.MeterLink(port, timeout=30, retries=2) as link:
        for pl in frames[:-1]:
            link.request(wire.AGG_ENROLL, pl, (wire.OK,), timeout=60)
        got = aggwire.decode_agg_enrolled(
            link.request(wire.AGG_ENROLL, frames[-1], (wire.AGG_ENROLLED,), timeout=60).payload
        )
    assert got["gid"] == gid


class _LosesItsEnrollment(serial_client.MeterLink):
    """A MeterLink that, before its first `times` COMMITs, makes the real meter drop the
    enrollment it began (a COMMIT with a wrong tag: "enrollment dropped"), the state a COMMIT that
    ran out of heap (ERROR 16) or a restart leaves. Only the timing is forced: the meter is real."""

    times = 1

    def request(self, mtype, payload=b"", expect=(), timeout=None):
        if mtype == wire.AGG_ENROLL and payload[0] == aggwire.AGG_OP_COMMIT and self.times:
            self.times -= 1
            with pytest.raises(DeviceError) as e:
                super().request(mtype, aggwire.encode_agg_commit(bytes(16)), expect, timeout)
            assert e.value.meter_code == wire.E_AUTH, str(e.value)
        return super().request(mtype, payload, expect, timeout)


@pytest.mark.sim
@pytest.mark.parametrize("lost", [1, serial_client.ENROLL_RESTARTS + 1])
def test_host_enrolls_again_after_the_meter_lost_its_enrollment(unix_meter, lost):
    """agg_enroll: COMMIT answered ERROR 13 "no enrollment begun" (the meter lost what BEGIN
    started) sends the whole enrollment again, at most ENROLL_RESTARTS times, then reports the
    meter's reason. Before: the first such answer ended the enrollment."""
    port, prov = unix_meter
    info = _still_serving(port)
    frames, gid = _group(info, prov, 5, b"five")
    begin = aggwire.decode_agg_enroll(frames[0])
    members = [m for pl in frames[1:-1] for m in aggwire.split_agg_members(aggwire.decode_agg_enroll(pl)["raw"], G.id)]
    tag = aggwire.decode_agg_enroll(frames[-1])["tag"]
    with _LosesItsEnrollment(port, timeout=30, retries=1) as link:
        link.times = lost
        args = (G.id, b"five", begin["agg_pub"], members)
        if lost <= serial_client.ENROLL_RESTARTS:
            got = link.agg_enroll(*args, tag=tag)
            assert got["gid"] == gid and got["n_members"] == 5 and link.stats.enroll_restarts == lost
        else:
            with pytest.raises(DeviceError) as e:
                link.agg_enroll(*args, tag=tag)
            assert e.value.meter_code == wire.E_BAD_MEMBERS and serial_client.NOTHING_BEGUN in str(e.value)
            assert link.stats.enroll_restarts == serial_client.ENROLL_RESTARTS
