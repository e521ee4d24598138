# SPDX-License-Identifier: MIT
"""Serial client for veriwatt meters (wire protocol: vwcore.wire, docs/PROTOCOL.md).

Works over anything pyserial opens: a USB serial device, the pty of a simulated meter
(unix MicroPython or QEMU), or a pyserial URL (socket://host:port, rfc2217://...).

Robustness:
- every request has a sequence number; answers with another number are stale and ignored;
- a request with no (complete) answer within the timeout is sent again, up to `retries`
  times, then DeviceError says what to check;
- frames with a bad CRC are dropped by the decoder; readings lost that way are fetched
  again (FETCH is idempotent on the meter), readings received are stored at once;
- how a fetch knows what it missed: a whole answer (END arrived with a matching count, or
  all the readings asked for arrived) settles its range; from a partial answer only the
  holes between readings received are asked for again; when nothing of a range arrives,
  a probe asks for ONE reading, so the one that arrives is surely the meter's first at or
  after that slot -- which tells a real gap (the meter was off) from a lost frame;
- timeouts adapt to the line: a few times the worst latency seen lately, doubled on each
  retry, and the wait goes on while bytes still arrive (answers to abandoned requests on
  a slow line; their readings are kept, they are signed records like any other);
- the store commits each batch in one transaction, so a fetch killed at any point resumes
  from the first slot not stored; ACK is sent only for slots committed to the store.
"""

from __future__ import annotations

import fcntl
import os
import re
import sys
import tempfile
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from vwcore import aggwire, auth, wire

from .errors import DeviceError

DEFAULT_BAUD = 115200
# The one default of every command's --timeout and --retries (and of MeterLink): a request is
# sent at most DEFAULT_RETRIES + 1 times, each waiting at most DEFAULT_TIMEOUT seconds (less
# once the link has measured the meter's latency: MeterLink._tmo).
DEFAULT_TIMEOUT = 2.0
DEFAULT_RETRIES = 6
# AGG_ENROLL: how often agg_enroll sends a whole enrollment again when the meter answers COMMIT
# with ERROR 13 and this reason (firmware/vwmeter/aggstate.py: it lost the enrollment it began)
ENROLL_RESTARTS = 2
NOTHING_BEGUN = "no enrollment begun"


class Stats:
    """Counters for one session: bytes each way, frames, rejects, retries."""

    def __init__(self) -> None:
        self.tx_bytes = 0
        self.rx_bytes = 0
        self.frames = 0
        self.rejects = 0
        self.retries = 0
        self.requests = 0
        self.enroll_restarts = 0  # whole enrollments sent again (agg_enroll)
        self.reject_reasons: Dict[str, int] = {}

    def as_dict(self) -> Dict[str, Any]:
        return {
            "tx_bytes": self.tx_bytes,
            "rx_bytes": self.rx_bytes,
            "frames": self.frames,
            "rejected_frames": self.rejects,
            "retries": self.retries,
            "requests": self.requests,
            "reject_reasons": dict(self.reject_reasons),
        }


def lock_path(port: str) -> str:
    """The lock file of a serial device: one per device (symlinks resolved), in
    $VERIWATT_LOCK_DIR or the temporary folder; it holds the owner's PID."""
    real = os.path.realpath(port)
    d = os.environ.get("VERIWATT_LOCK_DIR") or tempfile.gettempdir()
    return os.path.join(d, "veriwatt-port-%s.lock" % re.sub(r"[^A-Za-z0-9]+", "_", real).strip("_"))


def lock_port(port: str) -> Optional[int]:
    """Take the port's lock file (flock, released by the kernel when the process ends, even by
    SIGKILL) and write this process's PID in it. A port owned by another process is refused at
    once with a DeviceError naming the owner. Returns the lock file descriptor (None when the
    lock file cannot be made: the exclusive open still guards the port)."""
    if not os.path.exists(port):
        return None  # open_port says what is wrong
    path = lock_path(port)
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        try:
            owner = os.read(fd, 200).decode("ascii", "replace").strip() or "?"
        except OSError:
            owner = "?"
        os.close(fd)
        pid, _, what = owner.partition(" ")
        raise DeviceError(
            "%s is in use by process %s (%s): one program at a time on a serial port; wait for it to "
            "finish or stop it, then run the command again" % (port, pid, what or "?")
        )
    os.ftruncate(fd, 0)
    os.write(fd, ("%d veriwatt %s\n" % (os.getpid(), " ".join(sys.argv[1:3]))).encode()[:200])
    return fd


def unlock_port(fd: Optional[int]) -> None:
    if fd is None:
        return
    try:
        os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
    except OSError:
        pass
    os.close(fd)


def open_port(port: str, baud: int = DEFAULT_BAUD, timeout: float = 0.05) -> Any:
    """Open a serial port for this process alone (pyserial exclusive=True: an flock on the
    device, so a second veriwatt or another program that locks the port is refused)."""
    import serial

    try:
        if "://" in port:
            return serial.serial_for_url(port, baudrate=baud, timeout=timeout)
        return serial.Serial(port, baudrate=baud, timeout=timeout, exclusive=True)
    except (serial.SerialException, OSError, ValueError) as e:
        msg = str(e)
        if "exclusively lock" in msg:
            raise DeviceError(
                "cannot open %s: another program holds it (a terminal, mpremote, another veriwatt?); "
                "close it and run the command again" % port
            )
        if "No such file" in msg or "could not open port" in msg:
            raise DeviceError(
                "cannot open %s: no such serial port; check the cable and the path "
                "(ls /dev/ttyUSB* /dev/ttyACM*), or start a simulated meter with `veriwatt sim`" % port
            )
        if "Permission denied" in msg:
            raise DeviceError(
                "cannot open %s: permission denied; add yourself to the dialout group "
                "(sudo usermod -aG dialout $USER) and log in again" % port
            )
        raise DeviceError("cannot open %s: %s" % (port, msg))


class _Try:
    """One try of an exchange (MeterLink._exchange): its sequence number, timing, frames, result."""

    def __init__(self, seq: int = 0, attempt: int = 0, tmo: float = 0.0) -> None:
        self.seq, self.attempt, self.tmo = seq, attempt, tmo
        self.t_sent = self.t_last = self.deadline = 0.0
        self.frames = 0
        self.result: Any = None
        self.last_err = "no answer"


class MeterLink:
    """One meter on one serial line."""

    def __init__(
        self,
        port: Any,
        baud: int = DEFAULT_BAUD,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        name: Optional[str] = None,
    ) -> None:
        self._lock: Optional[int] = None
        if isinstance(port, str) and "://" not in port:
            self._lock = lock_port(port)
        try:
            self.ser = open_port(port, baud) if isinstance(port, str) else port
        except BaseException:
            unlock_port(self._lock)
            raise
        self.name = name or (port if isinstance(port, str) else getattr(port, "port", "serial"))
        self.timeout = timeout
        self.retries = retries
        self.stats = Stats()
        self.dec = wire.Decoder(on_reject=self._on_reject)
        # a random start: two hosts (or a killed one's answers still on the line) rarely share numbers
        self.seq = int.from_bytes(os.urandom(2), "big")
        self.info: Optional[Dict[str, Any]] = None
        self.adaptive = True
        self.last_rx = 0.0  # when a good frame last arrived (a busy meter; garbage does not count)
        self._junk = 0  # bytes since the current request began that were not part of a good frame
        self._tail = bytearray()  # the last bytes received, for the error message of a noisy port
        self._lat: Optional[float] = None  # recent worst wait for the first frame of an answer
        self._gap: Optional[float] = None  # recent worst gap between frames of one answer
        self.stale_records: List[bytes] = []  # READINGs of answers to abandoned requests

    def _tmo(self, attempt: int, first: bool = True) -> float:
        """Timeout for one wait: a few times the worst latency seen lately (at least 0.25 s for
        the first frame of an answer, 0.1 s between its frames), doubled on every retry, never
        more than the configured timeout. Until something was measured: the configured timeout."""
        est = self._lat if first else self._gap
        if not self.adaptive or est is None:
            return self.timeout
        base = max(0.25, 4 * est) if first else max(0.1, 8 * est)
        return min(self.timeout, base * (2**attempt))

    def _seen(self, dt: float, first: bool = True) -> None:
        old = self._lat if first else self._gap
        new = dt if old is None else max(dt, old * 0.95)
        if first:
            self._lat = new
        else:
            self._gap = new

    def _on_reject(self, reason: str, n: int) -> None:
        self._junk += n
        if reason == "garbage":
            return  # resynchronisation skips: counted with the frame that caused them
        self.stats.rejects += 1
        self.stats.reject_reasons[reason] = self.stats.reject_reasons.get(reason, 0) + 1

    def close(self) -> None:
        try:
            self.ser.close()
        except Exception:
            pass
        unlock_port(self._lock)
        self._lock = None

    def __enter__(self) -> "MeterLink":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # --- low level
    def _next_seq(self) -> int:
        self.seq = (self.seq + 1) & 0xFFFF
        return self.seq

    def _send(self, mtype: int, seq: int, payload: bytes) -> None:
        data = wire.encode_frame(mtype, seq, payload)
        try:
            self.ser.write(data)
            self.ser.flush()
        except Exception as e:
            raise DeviceError("%s: write failed (%s): is the meter still connected?" % (self.name, e))
        self.stats.tx_bytes += len(data)

    def _read_frames(self, deadline: float) -> List[wire.Frame]:
        try:
            n = max(1, getattr(self.ser, "in_waiting", 0) or 0)
            data = self.ser.read(min(n, 65536))
        except Exception as e:
            raise DeviceError("%s: read failed (%s): is the meter still connected?" % (self.name, e))
        if data:
            self.stats.rx_bytes += len(data)
            self._tail += data
            del self._tail[:-256]
            frames = self.dec.feed(data)
            if frames:
                self.last_rx = time.monotonic()
            self.stats.frames += len(frames)
            return frames
        return []

    def _hard_deadline(self, t_sent: float, tmo: float, frames: int = 1) -> float:
        """The overall deadline of one try: its timeout, plus the time `frames` frames of a
        reading take on the line (three times over), whatever arrives meanwhile."""
        baud = getattr(self.ser, "baudrate", 0) or DEFAULT_BAUD
        return t_sent + 2 * tmo + 3 * frames * (wire.FRAME_OVERHEAD + 514) * 10 / baud

    def _line_hint(self) -> str:
        """What the port sent instead of frames (empty when it sent nothing else)."""
        if not self._junk or not self._tail:
            return ""
        tail = bytes(self._tail)
        text = sum(1 for b in tail if 32 <= b < 127 or b in (9, 10, 13))
        if text >= 0.8 * len(tail):
            excerpt = " ".join(tail.decode("ascii", "replace").split())[-80:]
            return (
                "; this port prints text, not veriwatt frames: is it a MicroPython REPL (or a console, "
                "another device)? It printed: %r" % excerpt
            )
        return (
            "; this port sends bytes that are not veriwatt frames (%d, last: %s): wrong baud rate, or "
            "another device?" % (self._junk, tail[-16:].hex())
        )

    def _drain(self) -> None:
        """Forget bytes of earlier, abandoned exchanges."""
        try:
            self.ser.reset_input_buffer()
        except Exception:
            pass
        self.dec.reset()

    def _exchange(
        self,
        mtype: int,
        payload: bytes,
        on_frame: Callable[[wire.Frame, "_Try"], Any],
        first_tmo: Callable[[int], float],
        hard_tmo: Optional[Callable[[float], float]] = None,
        frames: int = 1,
        min_gap: float = 0.0,
        on_stale: Optional[Callable[[wire.Frame], None]] = None,
        partial: Optional[Callable[["_Try"], Any]] = None,
    ) -> "_Try":
        """THE retry loop of every exchange: send the request (a fresh sequence number per try),
        listen for its frames, retry on silence up to self.retries times. For each frame of this
        request on_frame(frame, try) returns a value to end the exchange, or None to listen on
        (for a stream, frames > 1, the wait is extended by the gap timeout after each frame). A meter ERROR that it got a
        bad frame resends at once; any other ERROR raises DeviceError with the meter's reason.
        Frames of other (abandoned) requests go to on_stale. After a try's silence, partial(try)
        may end the exchange with what arrived. Returns the last _Try (.result None: no answer)."""
        self._junk = 0
        t = _Try()
        for attempt in range(self.retries + 1):
            if attempt:
                self.stats.retries += 1
                self._drain()
            t = _Try(self._next_seq(), attempt, first_tmo(attempt))
            self.stats.requests += 1
            self._send(mtype, t.seq, payload)
            t.t_sent = t.t_last = time.monotonic()
            t.deadline = t.t_sent + t.tmo
            hard = self._hard_deadline(t.t_sent, hard_tmo(t.tmo) if hard_tmo else t.tmo, frames)
            while time.monotonic() < min(hard, max(t.deadline, self.last_rx + t.tmo if t.deadline else 0)):
                for f in self._read_frames(t.deadline):
                    if f.seq != t.seq:
                        if f.seq == 0 and self._input_dropped(f, t):
                            break  # the meter dropped what it had buffered, maybe our request: resend
                        if on_stale is not None:
                            on_stale(f)
                        continue
                    now = time.monotonic()
                    self._seen(now - (t.t_sent if t.frames == 0 else t.t_last), first=t.frames == 0)
                    t.frames, t.t_last = t.frames + 1, now
                    if f.mtype == wire.ERROR and self._meter_error(mtype, f, t):
                        break  # the meter got a bad frame: resend at once
                    if frames > 1:  # a stream of frames: listen on for the next one (the gap timeout)
                        t.tmo = max(self._tmo(attempt, first=False), min_gap)
                        t.deadline = now + t.tmo
                    t.result = on_frame(f, t)
                    if t.result is not None:
                        return t
            if partial is not None:
                t.result = partial(t)
                if t.result is not None:
                    return t
        return t

    def _input_dropped(self, f: wire.Frame, t: "_Try") -> bool:
        """A frame of no request (seq 0): True when the meter says it dropped what it had buffered,
        likely our request: ERROR(E_NO_MEMORY) after its heap ran out, or ERROR(E_BAD_FRAME)
        "truncated" for a frame cut by a pause on the line (docs/PROTOCOL.md). The try ends and
        the request is resent at once, not after the timeout."""
        if f.mtype != wire.ERROR:
            return False
        try:
            err = wire.decode_error(f.payload)
        except ValueError:
            return False
        if err["code"] == wire.E_NO_MEMORY:
            t.last_err = "the meter ran out of memory and dropped its input"
        elif err["code"] == wire.E_BAD_FRAME and err["reason"].startswith("truncated"):
            t.last_err = "the meter dropped a frame cut by a pause on the line"
        else:
            return False
        t.deadline = 0
        return True

    def _meter_error(self, mtype: int, f: wire.Frame, t: "_Try") -> bool:
        """An ERROR answer: True when it says the meter got a bad frame, or had no memory for the
        request while tries are left (resend), else DeviceError."""
        err = wire.decode_error(f.payload)
        if err["code"] == wire.E_NO_MEMORY and t.attempt < self.retries:
            t.last_err = "meter out of memory: %s" % err["reason"]
            t.deadline = 0
            return True
        if err["code"] != wire.E_BAD_FRAME:
            raise DeviceError(
                "%s: meter refused %s: %s (error %d)"
                % (self.name, wire.TYPE_NAMES.get(mtype, mtype), err["reason"], err["code"]),
                err["code"],
            )
        t.last_err = "meter reported a bad frame"
        t.deadline = 0
        return True

    def request(
        self, mtype: int, payload: bytes = b"", expect: Tuple[int, ...] = (), timeout: Optional[float] = None
    ) -> wire.Frame:
        """Send a request and return the answer frame (a type in `expect`), retrying on silence.
        ERROR answers raise DeviceError with the meter's reason."""
        tmo = self.timeout if timeout is None else timeout
        t = self._exchange(
            mtype,
            payload,
            lambda f, _t: f if f.mtype in expect else None,
            lambda attempt: tmo if timeout is not None else self._tmo(attempt, first=True),
        )
        if t.result is not None:
            return t.result
        hint = self._line_hint()
        if hint:
            raise DeviceError(
                "%s: no veriwatt answer to %s after %d tries%s"
                % (self.name, wire.TYPE_NAMES.get(mtype, mtype), self.retries + 1, hint)
            )
        raise DeviceError(
            "%s: %s (%s after %d tries of %.1f s); check that the meter is powered and "
            "connected at %d baud, or try --timeout/--retries"
            % (
                self.name,
                t.last_err,
                wire.TYPE_NAMES.get(mtype, mtype),
                self.retries + 1,
                tmo,
                getattr(self.ser, "baudrate", 0) or DEFAULT_BAUD,
            )
        )

    # --- messages
    def hello(self) -> Dict[str, Any]:
        f = self.request(wire.HELLO, wire.encode_hello(), (wire.INFO,))
        try:
            self.info = wire.decode_info(f.payload)
        except ValueError as e:
            raise DeviceError("%s: malformed INFO from the meter: %s" % (self.name, e))
        if self.info["proto_version"] != wire.PROTO_VERSION:
            raise DeviceError(
                "%s: meter speaks protocol %d, this veriwatt %d: update one of them"
                % (self.name, self.info["proto_version"], wire.PROTO_VERSION)
            )
        return self.info

    def provision(
        self, meter_id: bytes, group_id: int, clock: int, host_entropy: bytes, admin_secret: bytes, customer_key: bytes
    ) -> None:
        """PROVISION (layout 2): the meter makes its own signing and aggregation secrets from its RNG,
        host_entropy and device sources; admin_secret is the engineer's RESET / SET_CLOCK credential."""
        self.request(
            wire.PROVISION,
            wire.encode_provision(meter_id, group_id, clock, host_entropy, admin_secret, customer_key),
            (wire.OK,),
            timeout=max(self.timeout, 10.0),
        )

    def set_clock(
        self, unix_seconds: int, meter_id: Optional[bytes] = None, admin_secret: Optional[bytes] = None
    ) -> None:
        """SET_CLOCK; with the meter's id and admin_secret (the engineer's admin file) it carries the
        admin tag for the meter's current challenge, which a provisioned meter needs for any change
        beyond a drift trim (docs/PROTOCOL.md)."""
        if admin_secret is None:
            self.request(wire.SET_CLOCK, wire.encode_set_clock(unix_seconds), (wire.OK,))
            return
        if meter_id is None:
            raise ValueError("set_clock: a tag needs the meter id with the secret")
        ch = self.hello()["challenge"]
        tag = auth.clock_tag(admin_secret, meter_id, ch, unix_seconds)
        self.request(wire.SET_CLOCK, wire.encode_set_clock(unix_seconds, ch, tag), (wire.OK,))

    def ack(self, up_to_slot: int, customer_key: bytes) -> None:
        """ACK with the customer's tag (auth.ack_tag) for the meter's current challenge."""
        info = self.hello()
        tag = auth.ack_tag(customer_key, info["meter_id"], info["challenge"], up_to_slot)
        self.request(wire.ACK, wire.encode_ack(up_to_slot, tag), (wire.OK,))

    def reset(self, meter_id: bytes, admin_secret: bytes) -> None:
        info = self.hello()
        tag = auth.reset_tag(admin_secret, meter_id, info["challenge"])
        self.request(wire.RESET, wire.encode_reset(meter_id, info["challenge"], tag), (wire.OK,))

    def _batch(self, mtype: int, item: int, from_slot: int, max_count: int, **kw: Any) -> "_Try":
        """One FETCH-like exchange (FETCH, AGG_FETCH): up to max_count `item` frames then END.
        t.result: (items received intact, END payload or None if END was lost); a partial
        answer is returned as it is; None when nothing at all came back after every try."""
        items: List[bytes] = []

        def on_frame(f: wire.Frame, t: _Try) -> Any:
            if t.frames == 1:
                items.clear()  # a new try
            if f.mtype == item:
                items.append(f.payload)
                return (list(items), None) if len(items) >= max_count else None  # END not needed
            if f.mtype == wire.END:
                try:
                    return list(items), wire.decode_end(f.payload)
                except ValueError:
                    return list(items), None
            return None

        return self._exchange(
            mtype,
            wire.encode_fetch(from_slot, max_count),
            on_frame,
            frames=max_count + 1,
            partial=lambda t: (list(items), None) if items and t.frames else None,
            **kw,
        )

    def fetch_batch(self, from_slot: int, max_count: int) -> Tuple[List[bytes], Optional[Dict[str, Any]]]:
        """One FETCH exchange: (raw records received intact, END payload or None if END was lost).
        Retries while nothing at all comes back; a partial answer is returned as it is. READINGs
        of abandoned requests (still signed records) are kept in stale_records."""

        def stale(f: wire.Frame) -> None:
            if f.mtype == wire.READING:
                self.stale_records.append(f.payload)

        t = self._batch(
            wire.FETCH,
            wire.READING,
            from_slot,
            max_count,
            on_stale=stale,
            first_tmo=lambda attempt: self._tmo(attempt, first=True),
            hard_tmo=lambda _tmo: self.timeout,
        )
        if t.result is not None:
            return t.result
        raise DeviceError(
            "%s: no answer to FETCH from slot %d after %d tries of %.1f s%s; check that the meter is "
            "powered and connected, then run the same command again: it resumes where it stopped"
            % (self.name, from_slot, self.retries + 1, self.timeout, self._line_hint())
        )

    # --- aggregation (docs/AGGREGATION.md)
    def agg_enroll(
        self,
        group_id: int,
        label: bytes,
        agg_pub: int,
        members: List[Tuple[bytes, int]],
        eps_milli: int = 0,
        sensitivity_wh: int = 0,
        tag: bytes = bytes(16),
    ) -> Dict[str, Any]:
        """Send the group to the meter (BEGIN, the members in id order a few per frame, COMMIT with
        the customer's tag, `enroll_tag`); the meter computes its pair keys (one modexp per
        member), checks the tag and answers its group id. A meter that lost the enrollment
        before COMMIT (its heap ran out in COMMIT, ERROR 16, so the resent COMMIT finds nothing
        begun; or it restarted) is sent the whole enrollment again, at most ENROLL_RESTARTS times."""
        members = sorted(members)
        begin = aggwire.encode_agg_begin(group_id, label, agg_pub, len(members), eps_milli, sensitivity_wh)
        for restart in range(ENROLL_RESTARTS + 1):
            self._enroll_parts(group_id, begin, members)
            try:
                f = self.request(
                    wire.AGG_ENROLL, aggwire.encode_agg_commit(tag), (wire.AGG_ENROLLED,), timeout=self._slow()
                )
                return aggwire.decode_agg_enrolled(f.payload)
            except DeviceError as e:
                if e.meter_code != wire.E_BAD_MEMBERS or NOTHING_BEGUN not in str(e) or restart == ENROLL_RESTARTS:
                    raise
                self.stats.enroll_restarts += 1
        raise AssertionError("unreachable")

    def _slow(self) -> float:
        return max(self.timeout, 30.0)  # a meter computes a modexp per member in a part

    def _enroll_parts(self, group_id: int, begin: bytes, members: List[Tuple[bytes, int]]) -> None:
        """AGG_ENROLL BEGIN, then the members in id order a few per frame."""
        self.request(wire.AGG_ENROLL, begin, (wire.OK,), timeout=self._slow())
        k = aggwire.agg_members_per_frame(group_id)
        for i in range(0, len(members), k):
            self.request(
                wire.AGG_ENROLL,
                aggwire.encode_agg_members(group_id, i, members[i : i + k]),
                (wire.OK,),
                timeout=self._slow(),
            )

    def agg_recover(self, slot: int, missing: List[bytes]) -> bytes:
        """The meter's reduced share of a slot without the missing members (one per slot)."""
        f = self.request(wire.AGG_RECOVER, aggwire.encode_agg_recover(slot, missing), (wire.AGG_RECOVERY,))
        return f.payload

    def agg_fetch_batch(self, from_slot: int, max_count: int) -> Tuple[List[bytes], Optional[Dict[str, Any]]]:
        """One AGG_FETCH exchange: (shares received, END payload or None if END was lost). The
        meter computes each share (masks from its pair keys): no overall deadline while shares
        keep coming, at least 0.5 s between two of them."""
        t = self._batch(
            wire.AGG_FETCH,
            wire.AGG_SHARE,
            from_slot,
            max_count,
            min_gap=0.5,
            first_tmo=lambda attempt: max(self.timeout, 1.0) if attempt == 0 else self._tmo(attempt, first=True),
            hard_tmo=lambda _tmo: float("inf"),
        )
        if t.result is not None:
            return t.result
        raise DeviceError(
            "%s: no answer to AGG_FETCH from slot %d after %d tries" % (self.name, from_slot, self.retries + 1)
        )

    def agg_fetch(self, from_slot: int, to_slot: int, batch: int = 48) -> Dict[int, bytes]:
        """Shares for slots [from_slot, to_slot) that the meter has, by slot. Lost frames are
        asked for again (AGG_FETCH is idempotent: the meter derives the same share)."""
        out: Dict[int, bytes] = {}
        nxt = from_slot
        idle = 0
        while nxt < to_slot and idle < 4:
            shares, end = self.agg_fetch_batch(nxt, min(batch, to_slot - nxt))
            before = len(out)
            for sh in shares:
                slot = int.from_bytes(sh[24:28], "big")
                if from_slot <= slot < to_slot:
                    out[slot] = sh
            if end is not None:
                if end["count"] == len(shares):
                    nxt = end["next_slot"]
                    if not end["more"]:
                        break
                    idle = 0
                    continue
            if shares:
                # a partial answer: go on after the last share received; holes are asked again below
                last = max(int.from_bytes(sh[24:28], "big") for sh in shares)
                nxt = max(nxt, last + 1)
            idle = idle + 1 if len(out) == before else 0
        # holes left by lost frames in the middle of an answer
        for s in range(from_slot, min(to_slot, nxt)):
            if s not in out:
                shares, _ = self.agg_fetch_batch(s, 1)
                for sh in shares:
                    slot = int.from_bytes(sh[24:28], "big")
                    if from_slot <= slot < to_slot:
                        out[slot] = sh
        return out


Interval = Tuple[int, int]


def code_opens(link: MeterLink, info: Dict[str, Any], customer_key: bytes, tries: int = 3) -> Optional[bool]:
    """Does the customer key open this meter's readings? Asks for the meter's newest reading
    and tries its AEAD (vwcore.aead) under the key: True, False (a code of another meter, or
    mistyped), or None when the meter holds no reading or none arrived intact. Stores nothing."""
    from vwcore import aead, reading

    if info["last_slot"] == wire.NO_SLOT:
        return None
    for _ in range(tries):
        raws, _end = link.fetch_batch(info["last_slot"], 1)
        link.stale_records = []
        for raw in raws:
            try:
                rec = wire.decode_record(raw)
            except ValueError:
                continue
            if rec.meter_id != info["meter_id"]:
                continue
            try:
                aead.AEAD(customer_key).decrypt(
                    aead.record_nonce(rec.meter_id, rec.slot),
                    rec.ct,
                    reading.record_ad(rec.group_id, rec.meter_id, rec.slot),
                )
            except aead.AuthError:
                return False
            return True
    return None


def fetch(
    link: MeterLink,
    store: Any,
    meter_id_hex: str,
    checker: Callable[[bytes], Tuple[str, int]],
    from_slot: Optional[int] = None,
    to_slot: Optional[int] = None,
    batch: int = 64,
    customer_key: Optional[bytes] = None,
    progress: Any = None,
    max_idle: int = 12,
) -> Dict[str, Any]:
    """Fetch the meter's certified readings into `store`, resuming from the first slot not stored.
    With the customer key, acknowledge what is durably stored (the meter may then reuse its
    space); without it nothing is acknowledged and the meter keeps every reading.

    ACK goes only up to the end of the first stretch from the meter's first unacknowledged
    slot in which every reading the meter holds is committed to the store (_ack_point): a
    reading lost on the line, refused, or taken by anyone else is never acknowledged. The
    meter in turn takes an ACK only for readings it sent since it started (docs/PROTOCOL.md),
    so an acknowledging fetch asks again from the slot after the last ACK this store got
    (nothing new normally; after fetches without the code: what they stored).

    Work is a queue of slot ranges (see the module docstring for how losses are told from
    gaps). Returns a summary dict (docs/FORMATS.md, "fetch output")."""
    info = link.info or link.hello()
    first, last = info["first_slot"], info["last_slot"]
    t0 = time.monotonic()
    summary: Dict[str, Any] = {
        "meter_id": meter_id_hex,
        "port": link.name,
        "added": 0,
        "duplicates": 0,
        "rejected": 0,
        "reject_reasons": [],
        "batches": 0,
    }
    if first == wire.NO_SLOT or last == wire.NO_SLOT:
        summary.update(
            from_slot=None, next_slot=None, acked_up_to=None, complete=True, seconds=0.0, line=link.stats.as_dict()
        )
        return summary
    lo = max(first, from_slot) if from_slot is not None else first
    hi = last + 1 if to_slot is None else min(last + 1, to_slot)
    start = store.resume_slot(meter_id_hex, lo)
    summary["from_slot"] = start
    acking = customer_key is not None and from_slot is None
    cert = start
    if acking:
        prev = store.acked(meter_id_hex)
        cert = first if prev is None else min(start, max(first, prev + 1))
    if progress is not None:
        progress.total = max(hi - lo, 0)
        progress.done = min(max(hi - lo, 0), len(store.slots(meter_id_hex, lo, hi)) if start > lo else 0)
    settled, bad = _collect(
        link, store, meter_id_hex, checker, cert, hi, batch, summary, progress, max_idle, skip_stored=not acking
    )
    acked = None
    if acking:
        acked = _acknowledge(link, store, meter_id_hex, customer_key, cert, hi, settled, bad)
        if acked is None and cert > first:
            # the meter did not send [first, cert) since it started (it restarted, or another
            # store acknowledged less): ask for them again, then acknowledge
            settled, bad = _collect(
                link, store, meter_id_hex, checker, first, hi, batch, summary, progress, max_idle, skip_stored=False
            )
            acked = _acknowledge(link, store, meter_id_hex, customer_key, first, hi, settled, bad, final=True)
        if acked is None:
            acked = store.acked(meter_id_hex)
    nxt = store.resume_slot(meter_id_hex, lo)
    summary.update(
        next_slot=nxt,
        acked_up_to=acked,
        complete=nxt >= hi,
        seconds=round(time.monotonic() - t0, 3),
        line=link.stats.as_dict(),
    )
    return summary


def _ack_point(store: Any, meter_id_hex: str, a: int, b: int, settled: List[Interval], bad: set) -> int:
    """The last slot x in [a, b) such that every slot in [a, x] is committed to the store or
    known not to be held by the meter (inside a settled interval: an answer that was whole,
    so the meter holds exactly the readings it sent there, and none of them was refused).
    a - 1 when the first slot is neither."""
    ivs: List[Interval] = []
    for t in store.slots(meter_id_hex, a, b):
        if ivs and ivs[-1][1] == t:
            ivs[-1] = (ivs[-1][0], t + 1)
        else:
            ivs.append((t, t + 1))
    for x, y in settled:
        for t in sorted(t for t in bad if x <= t < y):
            if x < t:
                ivs.append((x, t))
            x = t + 1
        if x < y:
            ivs.append((x, y))
    cur = a
    for x, y in sorted(ivs):
        if x > cur:
            break
        cur = max(cur, y)
    return min(cur, b) - 1


def _acknowledge(
    link: MeterLink,
    store: Any,
    meter_id_hex: str,
    key: bytes,
    a: int,
    b: int,
    settled: List[Interval],
    bad: set,
    final: bool = False,
) -> Optional[int]:
    """ACK what _ack_point allows; remember it in the store. None when nothing new could be
    acknowledged, or the meter refused because it did not send all of it (not `final`)."""
    to = _ack_point(store, meter_id_hex, a, b, settled, bad)
    if to < a:
        return None
    try:
        link.ack(to, key)
    except DeviceError as e:
        if e.meter_code == wire.E_AUTH:
            raise DeviceError(
                "%s: meter %s refused the acknowledgement's tag: the customer code given is not this "
                "meter's; the readings fetched are stored, the meter keeps them all. Give the code on "
                "this meter's label" % (link.name, meter_id_hex),
                e.meter_code,
            )
        if e.meter_code != wire.E_BAD_ARGUMENT or final:
            raise
        return None
    store.set_acked(meter_id_hex, to)
    return to


def _collect(
    link: MeterLink,
    store: Any,
    meter_id_hex: str,
    checker: Callable[[bytes], Tuple[str, int]],
    start: int,
    hi: int,
    batch: int,
    summary: Dict[str, Any],
    progress: Any,
    max_idle: int,
    skip_stored: bool = True,
) -> Tuple[List[Interval], set]:
    """Fetch [start, hi) into the store. Returns (settled intervals, slots answered with a
    refused record). `skip_stored`: do not ask again for slots already stored (an
    acknowledging fetch asks for them: the meter frees only what it sent)."""
    # (first slot, end, probe): a probe asks for ONE reading, so the one that arrives is surely the
    # meter's first at or after `first` -- this tells a real gap (meter was off) from lost frames
    pending: List[Tuple[int, int, bool]] = [(start, hi, False)]
    settled: List[Interval] = []
    idle = 0
    bad_slots: set = set()
    cap = batch  # the meter may answer fewer per FETCH ("meter's choice"): learn it
    while pending:
        a, b, probe = pending.pop(0)
        if a < b and skip_stored:
            a = store.resume_slot(meter_id_hex, a)  # skip what arrived meanwhile (e.g. late answers)
        if a >= b:
            continue
        want = 1 if probe else min(cap, b - a, 0xFFFF)
        raws, end = link.fetch_batch(a, want)
        summary["batches"] += 1
        stale, link.stale_records = link.stale_records, []
        res = store.add(stale + raws, checker, meter_id_hex)
        summary["added"] += res.added
        summary["duplicates"] += res.duplicates
        summary["rejected"] += res.rejected
        for r in res.reasons:
            if len(summary["reject_reasons"]) < 20:
                summary["reject_reasons"].append(r)
        if progress is not None and res.added:
            progress.update(res.added, "%d bad frames" % link.stats.rejects)
        answered, mine, top, opaque = _answer_slots(stale, raws, a, b, res.slots)
        bad_slots.update(answered - set(res.slots))
        got = sorted(mine)
        whole = not opaque and ((end is not None and end["count"] == len(raws)) or (end is None and len(raws) == want))
        if whole:
            # every reading the meter holds from `a` up to what it sent (or to END's next_slot) is here
            idle = 0
            if end is not None and end["more"] and 0 < end["count"] < want:
                cap = end["count"]
            if end is not None and not end["more"]:
                settled.append((a, hi))
                continue  # the meter holds nothing further
            nxt = end["next_slot"] if end is not None else (top + 1 if top is not None else a)
            settled.append((a, nxt))
            if nxt < b:
                pending.insert(0, (max(nxt, a + 1), b, False))
            continue
        if not got:
            # nothing of [a, b) arrived intact: ask for a single reading until one does
            idle += 1
            if idle >= max_idle:
                raise DeviceError(
                    "%s: the line is too noisy: no reading got through intact in %d requests "
                    "(%d bad frames so far); check the cable, lower the baud rate, and run the "
                    "command again: it resumes at slot %d" % (link.name, idle, link.stats.rejects, a)
                )
            pending.insert(0, (a, b, True))
            continue
        idle = 0
        pending[0:0] = _holes(store.gaps(meter_id_hex, a, got[-1] + 1), bad_slots) + [(got[-1] + 1, b, False)]
    return settled, bad_slots


def _answer_slots(
    stale: List[bytes], raws: List[bytes], a: int, b: int, stored: List[int]
) -> Tuple[set, set, Optional[int], bool]:
    """What one FETCH(a) answer tells: (slots answered with an intact frame, good or rejected: a
    record the meter signed wrongly will not improve by asking again; slots of [a, b) in this
    answer; the highest slot of this answer; opaque: a record of this answer has no readable
    slot or is below a, so the answer settles nothing)."""
    answered, mine = set(stored), set()
    top: Optional[int] = None
    opaque = False
    for i, raw in enumerate(stale + raws):
        try:
            t = wire.decode_record(raw).slot
        except ValueError:
            opaque = opaque or i >= len(stale)
            continue
        answered.add(t)
        if i >= len(stale):
            opaque = opaque or t < a  # FETCH(a) answers slots >= a: this answer is not ours
            top = t if top is None else max(top, t)
            if a <= t < b:
                mine.add(t)
    return answered, mine, top, opaque


def _holes(gaps: List[Interval], bad_slots: set) -> List[Tuple[int, int, bool]]:
    """The store's gaps as ranges to ask again, split around slots answered with a rejected record."""
    holes: List[Tuple[int, int, bool]] = []
    for x, y in gaps:
        for t in range(x, y):
            if t in bad_slots:
                continue
            if holes and holes[-1][1] == t:
                holes[-1] = (holes[-1][0], t + 1, False)
            else:
                holes.append((t, t + 1, False))
    return holes
