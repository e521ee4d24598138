# SPDX-License-Identifier: MIT
"""veriwatt meter <-> host wire protocol, version 1: the ONLY definition both sides import.
The authorisation tags the requests carry (RESET, SET_CLOCK, ACK, AGG_ENROLL COMMIT) are made
in vwcore/auth.py.

Written in the Python subset that MicroPython (1.25+) and CPython (3.9+) both run.
docs/PROTOCOL.md is the prose version of this docstring; keep them in step.

Frame (all integers big-endian)::

    offset size  field
    0      2     SYNC  = A5 57
    2      1     version (PROTO_VERSION = 1)
    3      1     message type (see below)
    4      2     sequence number (uint16; responses echo the request's)
    6      2     payload length n (0 .. MAX_PAYLOAD = 1024)
    8      1     header check = CRC-32(bytes 2..7) & 0xFF
    9      n     payload
    9+n    4     CRC-32 (ISO-HDLC / IEEE 802.3, as binascii.crc32) of bytes 2 .. 8+n

Overhead FRAME_OVERHEAD = 13 bytes. The header check lets a receiver reject a garbled
length at once instead of waiting for up to 1 KB. ``Decoder`` is fed bytes in any
chunking, returns whole frames, and after garbage, truncation or corruption skips one
byte and searches for the next SYNC (so it resynchronises on the next good frame). It
never raises on input; rejects are counted and kept with a reason. A truncated frame
stalls the decoder until its announced length has arrived: call ``flush()`` when the line
goes quiet, it rejects the stalled frame and returns the good frames it had swallowed.

Message types and payloads (struct formats, big-endian):

    HELLO     0x01 host->meter  empty                                  -> INFO
    PROVISION 0x02 host->meter  '>8sBIB32s32sB' meter_id, group_id, clock, layout (2),
                                host_entropy, admin_secret, len + customer_key -> OK | ERROR
    RESET     0x03 host->meter  '>8s8s16s' meter_id, challenge (from INFO), tag =
                                auth.reset_tag(admin_secret, meter_id, challenge) -> OK | ERROR
    SET_CLOCK 0x04 host->meter  '>I' unix seconds, optionally followed by '>8s16s' challenge
                                (from INFO), tag = auth.clock_tag(admin_secret, meter_id, challenge,
                                unix seconds): 4 or 28 bytes           -> OK | ERROR
                                (a provisioned meter needs the tag for any change beyond a
                                drift trim, see vwmeter/clockpolicy.py)
    FETCH     0x05 host->meter  '>IH' from_slot, max_count (0: meter's choice)
                                -> READING* then END
    ACK       0x06 host->meter  '>I' up_to_slot (inclusive), then '>16s' tag =
                                auth.ack_tag(customer_key, meter_id, challenge, up_to_slot): 20 bytes
                                (the meter refuses the old 4-byte form) -> OK | ERROR
    AGG_ENROLL 0x07 host->meter op BEGIN '>BBHIIB' + label + agg_pub    -> OK
                                op MEMBERS '>BH' first index + (id, Y)*  -> OK
                                op COMMIT '>B16s' + auth.enroll_tag      -> AGG_ENROLLED
    AGG_FETCH 0x08 host->meter  '>IH' from_slot, max_count -> AGG_SHARE* then END
    AGG_RECOVER 0x09 host->meter '>IB' slot, n + n member ids      -> AGG_RECOVERY
    AGG_ENROLLED 0x85 meter->host '>16sH' gid, n_members
    AGG_SHARE 0x86 meter->host  one 60-byte share (vwcore.agg)
    AGG_RECOVERY 0x87 meter->host one reduced share (vwcore.agg)
    INFO      0x81 meter->host  '>8sBBBIIIIII8s' meter_id, proto_version, group_id,
                                flags (1 provisioned, 2 clock set, 4 storage full), clock, first_slot,
                                last_slot, used, capacity, unacked, challenge; then
                                'B' len + firmware version (ascii), 'H' len + signing
                                public key y, 'H' len + aggregation public key
                                (keys: fixed group-size big-endian, or empty)
    OK        0x82 meter->host  '>B' type of the request that succeeded
    READING   0x83 meter->host  one RECORD (below)
    END       0x84 meter->host  '>IHB' next_slot, count sent, more (0/1)
    ERROR     0xFF meter->host  '>HB' code, request type, then reason (utf-8, <= 200 B)

Slots are uint32 half-hours since 1970-01-01T00:00Z (slot = unix_seconds // 1800);
NO_SLOT = 0xFFFFFFFF means "none". FETCH is idempotent (it never changes meter state),
so a host may repeat it; only ACK lets the meter forget readings.

RECORD (one certified reading; format 1)::

    'B'  record format (1)     'B' group_id (1 = 2048/256, 2 = 3072/256)
    '8s' meter_id              'I' slot
    C    commitment g^m h^r mod p, plen bytes (256 or 384)
    e, s Schnorr signature, 32 + 32 bytes (see sig.py)
    ct   AEAD ciphertext of m (uint32) || r (32 bytes) = 36 bytes, + 16-byte tag (aead.py)

386 bytes for group 1 (399 as a READING frame), 514 for group 2 (527). The signature covers
``signed_bytes(meter_id, slot, C, group_id)``: a fixed domain tag, the protocol version,
the group id, the meter id, the slot and C, so a signature cannot be replayed for
another meter, slot, group or protocol version.

Standards: CRC-32 per ISO/IEC 13239 / IEEE 802.3 (the zlib/binascii polynomial
0xEDB88320 reflected); framing in the style of HDLC-like sync + length + FCS.
"""

import struct

from vwcore.consts import SLOT_SECONDS

try:
    from binascii import crc32 as _crc32

    _crc32(b"")
except (ImportError, AttributeError):  # ports built without MICROPY_PY_BINASCII_CRC32
    _crc32 = None

PROTO_VERSION = 1
SYNC = b"\xa5\x57"
HDR_LEN = 9
CRC_LEN = 4
FRAME_OVERHEAD = HDR_LEN + CRC_LEN
MAX_PAYLOAD = 1024
NO_SLOT = 0xFFFFFFFF
METER_ID_LEN = 8

# message types
HELLO = 0x01
PROVISION = 0x02
RESET = 0x03
SET_CLOCK = 0x04
FETCH = 0x05
ACK = 0x06
AGG_ENROLL = 0x07  # aggregation (additive in v1, docs/PROTOCOL.md "Aggregation messages")
AGG_FETCH = 0x08
AGG_RECOVER = 0x09
SUPPLIER_KEY = 0x0A  # bills computed in the meter (additive in v1, vwcore/meterbill.py)
TARIFF_SET = 0x0B
BILL_FETCH = 0x0C
INFO = 0x81
OK = 0x82
READING = 0x83
END = 0x84
AGG_ENROLLED = 0x85
AGG_SHARE = 0x86
AGG_RECOVERY = 0x87
BILL = 0x88
ERROR = 0xFF

TYPE_NAMES = {
    HELLO: "HELLO",
    PROVISION: "PROVISION",
    RESET: "RESET",
    SET_CLOCK: "SET_CLOCK",
    FETCH: "FETCH",
    ACK: "ACK",
    INFO: "INFO",
    OK: "OK",
    READING: "READING",
    END: "END",
    ERROR: "ERROR",
    AGG_ENROLL: "AGG_ENROLL",
    AGG_FETCH: "AGG_FETCH",
    AGG_RECOVER: "AGG_RECOVER",
    AGG_ENROLLED: "AGG_ENROLLED",
    AGG_SHARE: "AGG_SHARE",
    AGG_RECOVERY: "AGG_RECOVERY",
}  # + the meter billing names, added by vwcore/meterbill.py when imported

# error codes (ERROR payload)
E_BAD_FRAME = 1
E_UNKNOWN_TYPE = 2
E_BAD_PAYLOAD = 3
E_NOT_PROVISIONED = 4
E_ALREADY_PROVISIONED = 5
E_AUTH = 6
E_CLOCK_NOT_SET = 7
E_STORAGE = 8
E_BAD_VERSION = 9
E_BAD_ARGUMENT = 10
E_INTERNAL = 11
E_NOT_ENROLLED = 12  # aggregation request before a completed AGG_ENROLL
E_BAD_MEMBERS = 13  # AGG_ENROLL member list refused (order, count, not a member, bad key)
E_UNKNOWN_SLOT = 14  # AGG_RECOVER for a slot the meter has no reading for
E_RELEASED = 15  # AGG_RECOVER refused: this slot's share was (or may have been) released otherwise
E_NO_MEMORY = 16  # no heap for the request (or the input buffered): nothing changed, send it again

# INFO flags
F_PROVISIONED = 1
F_CLOCK_SET = 2
F_STORAGE_FULL = 4  # the log is full of unacknowledged readings: metering is paused until an ACK
F_CLOCK_UNVERIFIED = 8  # provisioned meter whose clock was set without the admin tag after it was lost

# record layout
RECORD_FORMAT = 1
GROUP_PLEN = {1: 256, 2: 384}  # group_id -> bytes of p (checked against group.py by tests)
SIG_LEN = 64  # e || s, 32 bytes each
PT_LEN = 36  # m (uint32) || r (32 bytes)
TAG_LEN = 16
CT_LEN = PT_LEN + TAG_LEN
_REC_HEAD = ">BB8sI"
_REC_HEAD_LEN = 14
SIGNED_DOMAIN = b"veriwatt/reading/v1\x00"  # 20 bytes

_INFO_FIX = ">8sBBBIIIIII8s"
_INFO_FIX_LEN = 43
_PROV_FIX = ">8sBIB32s32sB"
_PROV_FIX_LEN = 79
PROV_LAYOUT = 2
CHALLENGE_TTL_S = 120  # challenge lifetime, s of meter uptime


# ---------------------------------------------------------------- CRC-32
_CRC_NIB = (
    0x00000000,
    0x1DB71064,
    0x3B6E20C8,
    0x26D930AC,
    0x76DC4190,
    0x6B6B51F4,
    0x4DB26158,
    0x5005713C,
    0xEDB88320,
    0xF00F9344,
    0xD6D6A3E8,
    0xCB61B38C,
    0x9B64C2B0,
    0x86D3D2D4,
    0xA00AE278,
    0xBDBDF21C,
)


def crc32(data, crc=0):
    """CRC-32 (same values as binascii.crc32 / zlib.crc32), pure-Python fallback."""
    if _crc32 is not None:
        return _crc32(data, crc) & 0xFFFFFFFF
    crc = ~crc & 0xFFFFFFFF
    for b in data:
        crc ^= b
        crc = (crc >> 4) ^ _CRC_NIB[crc & 15]
        crc = (crc >> 4) ^ _CRC_NIB[crc & 15]
    return ~crc & 0xFFFFFFFF


# ---------------------------------------------------------------- frames
class Frame:
    """A decoded frame: .mtype, .seq, .payload (bytes), .version."""

    def __init__(self, mtype, seq, payload, version=PROTO_VERSION):
        self.mtype = mtype
        self.seq = seq
        self.payload = payload
        self.version = version

    def __eq__(self, other):
        return (
            isinstance(other, Frame)
            and self.mtype == other.mtype
            and self.seq == other.seq
            and self.payload == other.payload
            and self.version == other.version
        )

    def __repr__(self):
        return "Frame(%s, seq=%d, %d bytes)" % (
            TYPE_NAMES.get(self.mtype, hex(self.mtype)),
            self.seq,
            len(self.payload),
        )


def encode_frame(mtype, seq, payload=b"", version=PROTO_VERSION):
    """Return the bytes of one frame. Raises ValueError on out-of-range fields."""
    n = len(payload)
    if n > MAX_PAYLOAD:
        raise ValueError("payload too long: %d > %d" % (n, MAX_PAYLOAD))
    if not (0 <= mtype <= 255 and 0 <= version <= 255):
        raise ValueError("bad message type or version")
    hdr = struct.pack(">BBHH", version, mtype, seq & 0xFFFF, n)
    hc = crc32(hdr) & 0xFF
    body = hdr + bytes((hc,)) + payload
    return SYNC + body + struct.pack(">I", crc32(body))


class Decoder:
    """Incremental frame decoder: ``frames = dec.feed(data)``.

    Never raises on input bytes. Each rejected stretch of input is counted in
    ``n_rejected`` and the most recent ones (at most ``keep``) are kept in ``rejects``
    as (reason, byte_count) tuples; ``on_reject(reason, nbytes)`` is called if given.
    Reasons: "garbage", "bad header check", "length too large", "bad crc",
    "unsupported version N".
    """

    def __init__(self, on_reject=None, keep=16, max_payload=MAX_PAYLOAD):
        self._buf = bytearray()
        self._pos = 0
        self.on_reject = on_reject
        self.keep = keep
        self.max_payload = max_payload
        self.rejects = []
        self.n_rejected = 0
        self.n_frames = 0

    def _reject(self, reason, n):
        self.n_rejected += 1
        if self.keep:
            if len(self.rejects) >= self.keep:
                self.rejects.pop(0)
            self.rejects.append((reason, n))
        if self.on_reject is not None:
            try:
                self.on_reject(reason, n)
            except Exception:
                pass

    def pending(self):
        """Number of buffered bytes not yet consumed."""
        return len(self._buf) - self._pos

    def reset(self):
        self._buf = bytearray()
        self._pos = 0

    def flush(self):
        """Call when the line has gone quiet (timeout) with bytes still buffered: the
        stalled partial frame is rejected as "truncated" and the bytes after its SYNC are
        rescanned, so good frames that it swallowed are still returned (as a list)."""
        out = []
        while self.pending():
            self._reject("truncated", self.pending())
            self._pos += 1
            out += self.feed(b"")
        self.reset()
        return out

    def feed(self, data):
        out = []
        if data:
            if self._pos and self._pos >= len(self._buf) // 2:
                self._buf = self._buf[self._pos :]
                self._pos = 0
            self._buf.extend(data)
        buf = self._buf
        while True:
            pos = self._pos
            end = len(buf)
            i = buf.find(SYNC, pos)
            if i < 0:
                # keep a trailing first sync byte: it may start the next frame
                keep = 1 if end > pos and buf[end - 1] == SYNC[0] else 0
                skip = end - pos - keep
                if skip:
                    self._reject("garbage", skip)
                self._pos = end - keep
                break
            if i > pos:
                self._reject("garbage", i - pos)
                self._pos = pos = i
            if end - pos < HDR_LEN:
                break
            ver, mtype, seq, n, hc = struct.unpack_from(">BBHHB", buf, pos + 2)
            if crc32(memoryview(buf)[pos + 2 : pos + 8]) & 0xFF != hc:
                self._reject("bad header check", 1)
                self._pos = pos + 1
                continue
            if n > self.max_payload:
                self._reject("length too large", 1)
                self._pos = pos + 1
                continue
            total = HDR_LEN + n + CRC_LEN
            if end - pos < total:
                break
            fcs = struct.unpack_from(">I", buf, pos + HDR_LEN + n)[0]
            if crc32(memoryview(buf)[pos + 2 : pos + HDR_LEN + n]) != fcs:
                self._reject("bad crc", 1)
                self._pos = pos + 1
                continue
            if ver != PROTO_VERSION:
                self._pos = pos + total
                self._reject("unsupported version %d" % ver, total)
                continue
            # one allocation (a slice of the bytearray would be a second copy); consumed only
            # once copied, so a MemoryError here leaves the frame in the buffer
            payload = bytes(memoryview(buf)[pos + HDR_LEN : pos + HDR_LEN + n])
            self._pos = pos + total
            self.n_frames += 1
            out.append(Frame(mtype, seq, payload, ver))
        if self._pos == len(self._buf):
            self._buf = bytearray()
            self._pos = 0
        return out


# ---------------------------------------------------------------- helpers
def slot_of(unix_seconds):
    """Half-hour slot index containing the given unix time."""
    return unix_seconds // SLOT_SECONDS


def slot_start(slot):
    """Unix time (seconds) at which the slot begins."""
    return slot * SLOT_SECONDS


def _u32(x, name):
    if not (0 <= x <= 0xFFFFFFFF):
        raise ValueError("%s out of uint32 range" % name)
    return x


def _mid(meter_id):
    if not isinstance(meter_id, (bytes, bytearray)) or len(meter_id) != METER_ID_LEN:
        raise ValueError("meter_id must be %d bytes" % METER_ID_LEN)
    return bytes(meter_id)


def _need(payload, n, name):
    if len(payload) != n:
        raise ValueError("%s payload must be %d bytes, got %d" % (name, n, len(payload)))


def int_to_bytes(x, n):
    """Fixed-width big-endian encoding; ValueError if x does not fit."""
    if x < 0 or x >> (8 * n):
        raise ValueError("integer does not fit in %d bytes" % n)
    return x.to_bytes(n, "big")


# ---------------------------------------------------------------- records
def signed_bytes(meter_id, slot, C, group_id=1):
    """Exact bytes the meter's Schnorr signature covers (C: int, fixed plen encoding)."""
    plen = GROUP_PLEN.get(group_id)
    if plen is None:
        raise ValueError("unknown group id %d" % group_id)
    return (
        SIGNED_DOMAIN
        + struct.pack(">BB8sI", PROTO_VERSION, group_id, _mid(meter_id), _u32(slot, "slot"))
        + int_to_bytes(C, plen)
    )


class Record:
    """One certified reading: meter_id (8 bytes), slot, C (int), e, s (ints), ct (bytes
    of ciphertext || tag), group_id."""

    def __init__(self, meter_id, slot, C, e, s, ct, group_id=1):
        self.meter_id = meter_id
        self.slot = slot
        self.C = C
        self.e = e
        self.s = s
        self.ct = ct
        self.group_id = group_id

    def __eq__(self, other):
        return (
            isinstance(other, Record)
            and self.meter_id == other.meter_id
            and self.slot == other.slot
            and self.C == other.C
            and self.e == other.e
            and self.s == other.s
            and self.ct == other.ct
            and self.group_id == other.group_id
        )

    def __repr__(self):
        return "Record(meter=%s, slot=%d, group=%d)" % (hexlify(self.meter_id), self.slot, self.group_id)

    def encode(self):
        return encode_record(self)

    def signed_bytes(self):
        return signed_bytes(self.meter_id, self.slot, self.C, self.group_id)


def record_len(group_id=1):
    return _REC_HEAD_LEN + GROUP_PLEN[group_id] + SIG_LEN + CT_LEN


def encode_record(rec):
    plen = GROUP_PLEN.get(rec.group_id)
    if plen is None:
        raise ValueError("unknown group id %d" % rec.group_id)
    if len(rec.ct) != CT_LEN:
        raise ValueError("ciphertext must be %d bytes" % CT_LEN)
    return (
        struct.pack(_REC_HEAD, RECORD_FORMAT, rec.group_id, _mid(rec.meter_id), _u32(rec.slot, "slot"))
        + int_to_bytes(rec.C, plen)
        + int_to_bytes(rec.e, 32)
        + int_to_bytes(rec.s, 32)
        + bytes(rec.ct)
    )


def decode_record(b):
    """Parse RECORD bytes into a Record; ValueError on any format/length problem.
    (Range and group-membership checks are the verifier's: see reading.verify_record.)"""
    if len(b) < _REC_HEAD_LEN:
        raise ValueError("record too short")
    fmt, gid, mid, slot = struct.unpack_from(_REC_HEAD, b, 0)
    if fmt != RECORD_FORMAT:
        raise ValueError("unsupported record format %d" % fmt)
    plen = GROUP_PLEN.get(gid)
    if plen is None:
        raise ValueError("unknown group id %d" % gid)
    if len(b) != _REC_HEAD_LEN + plen + SIG_LEN + CT_LEN:
        raise ValueError("record length %d wrong for group %d" % (len(b), gid))
    o = _REC_HEAD_LEN
    C = int.from_bytes(b[o : o + plen], "big")
    o += plen
    e = int.from_bytes(b[o : o + 32], "big")
    s = int.from_bytes(b[o + 32 : o + 64], "big")
    o += 64
    return Record(bytes(mid), slot, C, e, s, bytes(b[o : o + CT_LEN]), gid)


def hexlify(b):
    return "".join("%02x" % x for x in b)


# ---------------------------------------------------------------- payloads
def encode_hello():
    return b""


def encode_info(d):
    """d: dict with meter_id, group_id, provisioned, clock_set, storage_full, clock_unverified, clock, first_slot,
    last_slot, used, capacity, unacked, challenge (8 bytes), fw_version (str),
    sig_pub (int or None), agg_pub (int or None); optional tariff (dict digest, start_slot,
    end_slot: the installed meter tariff, vwcore/meterbill.py; decode_info has the key only then).
    proto_version is filled in."""
    gid = d.get("group_id", 1)
    plen = GROUP_PLEN.get(gid, 0)
    flags = (
        (F_PROVISIONED if d.get("provisioned") else 0)
        | (F_CLOCK_SET if d.get("clock_set") else 0)
        | (F_STORAGE_FULL if d.get("storage_full") else 0)
        | (F_CLOCK_UNVERIFIED if d.get("clock_unverified") else 0)
    )
    fw = d.get("fw_version", "").encode()
    ch = d.get("challenge", bytes(8))
    if len(ch) != 8 or len(fw) > 255:
        raise ValueError("bad challenge or fw_version")
    parts = [
        struct.pack(
            _INFO_FIX,
            _mid(d["meter_id"]),
            PROTO_VERSION,
            gid,
            flags,
            _u32(d.get("clock", 0), "clock"),
            _u32(d.get("first_slot", NO_SLOT), "first_slot"),
            _u32(d.get("last_slot", NO_SLOT), "last_slot"),
            _u32(d.get("used", 0), "used"),
            _u32(d.get("capacity", 0), "capacity"),
            _u32(d.get("unacked", 0), "unacked"),
            ch,
        ),
        bytes((len(fw),)),
        fw,
    ]
    for k in ("sig_pub", "agg_pub"):
        v = d.get(k)
        kb = b"" if v is None else int_to_bytes(v, plen)
        parts.append(struct.pack(">H", len(kb)))
        parts.append(kb)
    if d.get("tariff"):  # meter billing (additive): the installed meter tariff
        from vwcore import meterbill

        parts.append(meterbill.encode_info_tail(d["tariff"]))
    return b"".join(parts)


def decode_info(p):
    if len(p) < _INFO_FIX_LEN + 1:
        raise ValueError("INFO payload too short")
    (mid, pv, gid, flags, clock, first, last, used, cap, unacked, ch) = struct.unpack_from(_INFO_FIX, p, 0)
    o = _INFO_FIX_LEN
    n = p[o]
    o += 1
    if o + n > len(p):
        raise ValueError("INFO fw_version truncated")
    fw = bytes(p[o : o + n]).decode()
    o += n
    keys = []
    for _ in range(2):
        if o + 2 > len(p):
            raise ValueError("INFO key truncated")
        n = struct.unpack_from(">H", p, o)[0]
        o += 2
        if o + n > len(p):
            raise ValueError("INFO key truncated")
        keys.append(int.from_bytes(p[o : o + n], "big") if n else None)
        o += n
    tail = bytes(p[o:])  # meter billing (additive): the installed meter tariff, 40 bytes
    if tail and len(tail) != 40:
        raise ValueError("INFO has trailing bytes")
    d = {
        "meter_id": bytes(mid),
        "proto_version": pv,
        "group_id": gid,
        "provisioned": bool(flags & F_PROVISIONED),
        "clock_set": bool(flags & F_CLOCK_SET),
        "storage_full": bool(flags & F_STORAGE_FULL),
        "clock_unverified": bool(flags & F_CLOCK_UNVERIFIED),
        "clock": clock,
        "first_slot": first,
        "last_slot": last,
        "used": used,
        "capacity": cap,
        "unacked": unacked,
        "challenge": bytes(ch),
        "fw_version": fw,
        "sig_pub": keys[0],
        "agg_pub": keys[1],
    }
    if tail:
        from vwcore import meterbill

        d["tariff"] = meterbill.decode_info_tail(tail)
    return d


def encode_provision(meter_id, group_id, clock, host_entropy, admin_secret, customer_key):
    """Layout 2: the meter makes its own keys (host_entropy is one input); admin_secret keys
    auth.reset_tag and auth.clock_tag only."""
    if len(host_entropy) != 32 or len(admin_secret) != 32:
        raise ValueError("host entropy and admin secret must be 32 bytes")
    if not (1 <= len(customer_key) <= 64):
        raise ValueError("customer key must be 1..64 bytes")
    if group_id not in GROUP_PLEN:
        raise ValueError("unknown group id %d" % group_id)
    return struct.pack(
        _PROV_FIX,
        _mid(meter_id),
        group_id,
        _u32(clock, "clock"),
        PROV_LAYOUT,
        host_entropy,
        admin_secret,
        len(customer_key),
    ) + bytes(customer_key)


def decode_provision(p):
    if len(p) < _PROV_FIX_LEN:
        raise ValueError("PROVISION payload too short")
    mid, gid, clock, layout, ent, adm, n = struct.unpack_from(_PROV_FIX, p, 0)
    if layout != PROV_LAYOUT:
        raise ValueError("PROVISION layout %d: update the host's veriwatt" % layout)
    if n < 1 or len(p) != _PROV_FIX_LEN + n:
        raise ValueError("PROVISION customer key length wrong")
    if gid not in GROUP_PLEN:
        raise ValueError("unknown group id %d" % gid)
    return {
        "meter_id": bytes(mid),
        "group_id": gid,
        "clock": clock,
        "host_entropy": bytes(ent),
        "admin_secret": bytes(adm),
        "customer_key": bytes(p[_PROV_FIX_LEN:]),
    }


def encode_reset(meter_id, challenge, tag):
    if len(challenge) != 8 or len(tag) != 16:
        raise ValueError("challenge must be 8 bytes, tag 16")
    return _mid(meter_id) + bytes(challenge) + bytes(tag)


def decode_reset(p):
    _need(p, 32, "RESET")
    return {"meter_id": bytes(p[0:8]), "challenge": bytes(p[8:16]), "tag": bytes(p[16:32])}


def encode_set_clock(unix_seconds, challenge=None, tag=None):
    """4 bytes (unauthenticated) or, with challenge and tag (auth.clock_tag), 28 bytes."""
    t = struct.pack(">I", _u32(unix_seconds, "clock"))
    if challenge is None and tag is None:
        return t
    if challenge is None or tag is None or len(challenge) != 8 or len(tag) != 16:
        raise ValueError("challenge must be 8 bytes, tag 16")
    return t + bytes(challenge) + bytes(tag)


def decode_set_clock(p):
    if len(p) == 28:
        return {"clock": struct.unpack_from(">I", p, 0)[0], "challenge": bytes(p[4:12]), "tag": bytes(p[12:28])}
    if len(p) != 4:
        raise ValueError("SET_CLOCK payload must be 4 or 28 bytes, got %d" % len(p))
    return {"clock": struct.unpack(">I", p)[0], "challenge": None, "tag": None}


def encode_fetch(from_slot, max_count=0):
    if not (0 <= max_count <= 0xFFFF):
        raise ValueError("max_count out of range")
    return struct.pack(">IH", _u32(from_slot, "from_slot"), max_count)


def decode_fetch(p):
    _need(p, 6, "FETCH")
    a, n = struct.unpack(">IH", p)
    return {"from_slot": a, "max_count": n}


def encode_ack(up_to_slot, tag=None):
    """20 bytes with auth.ack_tag; the 4-byte form (protocol before the tag) is refused by the meter."""
    a = struct.pack(">I", _u32(up_to_slot, "up_to_slot"))
    if tag is None:
        return a
    if len(tag) != 16:
        raise ValueError("tag must be 16 bytes")
    return a + bytes(tag)


def decode_ack(p):
    if len(p) == 20:
        return {"up_to_slot": struct.unpack_from(">I", p, 0)[0], "tag": bytes(p[4:20])}
    if len(p) != 4:
        raise ValueError("ACK payload must be 4 or 20 bytes, got %d" % len(p))
    return {"up_to_slot": struct.unpack(">I", p)[0], "tag": None}


def encode_ok(req_type):
    return bytes((req_type & 0xFF,))


def decode_ok(p):
    _need(p, 1, "OK")
    return {"req_type": p[0]}


def encode_end(next_slot, count, more):
    return struct.pack(">IHB", _u32(next_slot, "next_slot"), count, 1 if more else 0)


def decode_end(p):
    _need(p, 7, "END")
    a, n, m = struct.unpack(">IHB", p)
    if m > 1:
        raise ValueError("END more flag must be 0 or 1")
    return {"next_slot": a, "count": n, "more": bool(m)}


def encode_error(code, reason="", req_type=0):
    r = reason.encode()[:200]
    return struct.pack(">HB", code, req_type & 0xFF) + r


def decode_error(p):
    if len(p) < 3 or len(p) > 203:
        raise ValueError("ERROR payload length wrong")
    code, rt = struct.unpack_from(">HB", p, 0)
    try:
        reason = bytes(p[3:]).decode()
    except Exception:
        reason = repr(bytes(p[3:]))
    return {"code": code, "req_type": rt, "reason": reason}


def _dec_empty(p):
    _need(p, 0, "HELLO")
    return {}


# ---------------------------------------------------------------- aggregation (additive)
# The encoders/decoders of the AGG_* messages live in vwcore/aggwire.py, imported on first
# use (a meter that never aggregates does not compile them: the heap stays as before).
AGG_OP_BEGIN = 1
AGG_OP_MEMBERS = 2
AGG_OP_COMMIT = 3
AGG_LABEL_MAX = 64
AGG_MAX_MEMBERS = 255
AGG_MIN_MEMBERS = 3  # vwcore.agg.MIN_MEMBERS: with 2 members each learns the other's reading
AGG_SHARE_LEN = 60
_AGG_TYPES = (AGG_ENROLL, AGG_FETCH, AGG_RECOVER, AGG_ENROLLED, AGG_SHARE, AGG_RECOVERY)
# meter billing: encoders/decoders in vwcore/meterbill.py, imported on first use
_BILL_TYPES = (SUPPLIER_KEY, TARIFF_SET, BILL_FETCH, BILL)


_DECODERS = {
    HELLO: _dec_empty,
    PROVISION: decode_provision,
    RESET: decode_reset,
    SET_CLOCK: decode_set_clock,
    FETCH: decode_fetch,
    ACK: decode_ack,
    INFO: decode_info,
    OK: decode_ok,
    READING: decode_record,
    END: decode_end,
    ERROR: decode_error,
    AGG_FETCH: decode_fetch,
}


def decode_payload(mtype, payload):
    """Decode a payload by message type: dict (Record for READING). ValueError if the
    type is unknown or the payload malformed; the meter answers with ERROR then."""
    f = _DECODERS.get(mtype)
    if f is None and mtype in _AGG_TYPES:
        from vwcore import aggwire

        f = aggwire.DECODERS.get(mtype)
    elif f is None and mtype in _BILL_TYPES:
        from vwcore import meterbill

        f = meterbill.DECODERS.get(mtype)
    if f is None:
        raise ValueError("unknown message type 0x%02x" % mtype)
    return f(payload)
