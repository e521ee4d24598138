# SPDX-License-Identifier: MIT
# Bills computed in the meter (docs/COMPUTATIONS.md section 6, docs/PROTOCOL.md "Meter billing
# messages"): the supplier key (SUPPLIER_KEY), the signed per-cycle meter tariff (TARIFF_SET),
# the running sums of the cycle and the signed bill (BILL_FETCH -> BILL).  Imported when the
# meter has billing state at boot or on the first billing request (meter.Meter.billing): a
# meter that never bills keeps none of it on the heap.
#
# What the meter adds at each certification of slot t in the cycle [start, end) of the current
# tariff: total += p_t * m_t, R = (R + p_t * r_t) mod q (r_t: reading.MeterKeys.r_for, the
# commitment randomness of the record), i.e. the linear bill and its proof of veriwatt.bill.
# A slot the meter did not certify (off, catch-up gap) makes the cycle unbillable by the meter
# (`bad`: the first missing slot); the customer's device bills it the usual way.
#
# Storage (board["storage"]), each a durable.SmallState (two copies, the older overwritten):
#   supkey.a/.b  the supplier's public key Y (plen bytes), installed by SUPPLIER_KEY with the
#                engineer's admin tag; never taken from the line otherwise
#   mbill.a/.b   "VWB1" || current cycle's sums (ACC) || last finished cycle's sums (ACC) ||
#                n (2) || the current tariff's points (6 n bytes, as signed).  ACC = '>II32sIq32sI'
#                start, end (0, 0: none), tariff digest, next slot expected, total, R, first
#                missing slot (NO_SLOT: none).  Written after every slot of the cycle.
#   mtnext.a/.b  a verified tariff for a later cycle, installed while the current cycle runs
#                ('>II32sH' start, end, digest, n || points); it becomes current when the
#                current cycle ends.
# Power cuts: the reading is appended to the log before the sums are saved, so the sums are
# at most one slot behind the log; load() adds the stored readings after `next` again (AEAD
# opening of the record: the same m and r the meter certified).  Promotion of mtnext writes
# mbill first, then removes mtnext; load() drops an mtnext that is already current.
import gc
import struct

from vwcore import meterbill as mb
from vwcore import wire

from vwmeter import MeterError
from vwmeter import durable

_MAGIC = b"VWB1"
_ACC = ">II32sIq32sI"
_ACC_LEN = 88
_HEAD = ">II32sH"
_HEAD_LEN = 42
_NONE = (0, 0, bytes(32), 0, 0, bytes(32), wire.NO_SLOT)


def _acc_bytes(a):
    if a is None:
        a = _NONE
    return struct.pack(
        _ACC, a[0], a[1], a[2], a[3], a[4], a[5].to_bytes(32, "big") if isinstance(a[5], int) else a[5], a[6]
    )


def _acc_of(raw, o):
    a = list(struct.unpack_from(_ACC, raw, o))
    if a[0] == 0 and a[1] == 0:
        return None
    a[2] = bytes(a[2])
    a[5] = int.from_bytes(a[5], "big")
    return a


def _trust(y, G):
    """Tell vwcore.sig that key y was checked to be in the group (its membership cache), so a
    COMMIT verifies with one double exponentiation, no membership modexp."""
    from vwcore import sig

    if len(sig._checked) >= 8:
        sig._checked.clear()
    sig._checked[(G.id, y)] = True


class Billing:
    """Billing state of a provisioned meter.  `cur`: [start, end, digest, next, total, R, bad]
    of the current tariff's cycle (None: no tariff), `pts`: its points (bytes, 6 per point),
    `done`: the same list for the last finished cycle, `y`: the supplier key (int or None)."""

    def __init__(self, root, prov, keys, metering):
        self.root = root
        self.prov = prov
        self.keys = keys
        self.metering = metering
        self.G = keys.grp
        self.cur = None
        self.done = None
        self.pts = b""
        self.y = None
        self._pending = None
        self._last = None  # digest || signature of the last accepted COMMIT (a repeat is answered OK)
        self._states = {}
        self.last_error = None
        self.load()

    # ------------------------------------------------------------ files
    def _state(self, name):
        """The two-copy state file `name`, loaded once: a save must know which copy is older."""
        st = self._states.get(name)
        if st is None:
            st = self._states[name] = durable.SmallState(self.root + "/" + name)
            st.load()
        return st

    def load(self):
        raw = self._state("supkey").load()
        if raw:
            self.y = int.from_bytes(raw, "big")
            _trust(self.y, self.G)  # checked by SUPPLIER_KEY before it was stored
        raw = self._state("mbill").load()
        if raw and bytes(raw[0:4]) == _MAGIC and len(raw) >= 4 + 2 * _ACC_LEN + 2:
            self.cur = _acc_of(raw, 4)
            self.done = _acc_of(raw, 4 + _ACC_LEN)
            self.pts = bytes(raw[4 + 2 * _ACC_LEN + 2 :])
        st = self._state("mtnext")
        nxt = st.load()
        if (
            nxt
            and self.cur is not None
            and bytes(nxt[8:40]) == self.cur[2]
            and struct.unpack_from(">I", nxt)[0] == self.cur[0]
        ):
            st.clear()  # promoted before a power cut
        self._catch_up()

    def _save(self):
        n = len(self.pts) // mb.POINT_LEN
        self._state("mbill").save(
            _MAGIC + _acc_bytes(self.cur) + _acc_bytes(self.done) + struct.pack(">H", n) + self.pts
        )

    def clear_files(self):
        for name in ("supkey", "mbill", "mtnext"):
            self._state(name).clear()

    # ------------------------------------------------------------ accumulation
    def _price(self, off):
        """The price of the slot `off` slots into the cycle (binary search over the points)."""
        pts = self.pts
        lo, hi = 0, len(pts) // mb.POINT_LEN - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if struct.unpack_from(">H", pts, mid * mb.POINT_LEN)[0] <= off:
                lo = mid
            else:
                hi = mid - 1
        return struct.unpack_from(">i", pts, lo * mb.POINT_LEN + 2)[0]

    def _add(self, slot, m, r):
        c = self.cur
        if slot != c[3] and c[6] == wire.NO_SLOT:
            c[6] = c[3]  # a slot the meter did not certify: the cycle cannot be billed here
        if c[6] == wire.NO_SLOT:
            p = self._price(slot - c[0])
            c[4] += p * m
            c[5] = (c[5] + p * r) % self.G.q
        c[3] = slot + 1

    def on_slot(self, slot, m):
        """Metering certified slot with reading m (called after it is in the log).  Never raises:
        the reading is stored, and the sums catch up from the log at the next boot."""
        try:
            self._slot(slot, m)
        except Exception as e:
            self.last_error = self.metering.last_error = "billing: %s" % e

    def _slot(self, slot, m, r=None):
        c = self.cur
        if c is None or slot < c[0]:
            return
        if slot >= c[1]:
            self._finish()
            return self._slot(slot, m, r)
        self._add(slot, m, self.keys.r_for(slot) if r is None else r)
        if c[3] >= c[1]:
            self._finish()
        else:
            self._save()

    def _finish(self):
        """The current cycle is over: its sums become `done`, a waiting tariff becomes current."""
        c = self.cur
        if c[3] < c[1] and c[6] == wire.NO_SLOT:
            c[6] = c[3]
        self.done = c
        self.cur = None
        self.pts = b""
        st = self._state("mtnext")
        nxt = st.load()
        if nxt:
            a, b, d, n = struct.unpack_from(_HEAD, nxt)
            self.cur = [a, b, bytes(d), a, 0, 0, wire.NO_SLOT]
            self.pts = bytes(nxt[_HEAD_LEN : _HEAD_LEN + n * mb.POINT_LEN])
        self._save()
        if nxt:
            st.clear()

    def _catch_up(self):
        """After a power cut: add the readings the log holds beyond the saved sums."""
        c = self.cur
        s = self.metering.store
        if c is None or s is None or s.last_slot is None or s.last_slot < c[3]:
            return
        from vwcore import reading

        for slot, raw in s.iter_from(c[3], c[1] - c[3]):
            if slot >= c[1]:
                break
            m, r = reading.open_record(wire.decode_record(raw), self.keys.aead)
            self._slot(slot, m, r)
            c = self.cur
            if c is None:
                break
            gc.collect()

    # ------------------------------------------------------------ requests
    def handle(self, t, p, policy):
        """A meter billing request (wire type t, decoded payload p): the BILL payload, or None
        (answer OK).  policy: clockpolicy.ClockPolicy (SUPPLIER_KEY's challenge)."""
        if t == wire.SUPPLIER_KEY:
            self.supplier_key(p, policy)
        elif t == wire.TARIFF_SET:
            self.metering.need_store()
            self.tariff_set(p)
        else:
            return self.bill(p["start_slot"])
        return None

    def supplier_key(self, p, policy):
        """SUPPLIER_KEY: install Y with the engineer's admin tag for the current challenge."""
        plen = wire.GROUP_PLEN[self.G.id]
        want = mb.supplier_key_tag(self.prov["admin_secret"], self.prov["meter_id"], p["challenge"], p["y"])
        policy.check_admin("supplier key", p["challenge"], p["tag"], want)
        if len(p["y"]) != plen:
            raise MeterError(wire.E_BAD_ARGUMENT, "supplier key must be an element of this meter's group")
        y = int.from_bytes(p["y"], "big")
        from vwcore import group

        gc.collect()
        if not (1 < y < self.G.p) or not group.is_element(y, self.G):
            raise MeterError(wire.E_BAD_ARGUMENT, "supplier key is not in the group")
        policy.spend()
        self._state("supkey").save(bytes(p["y"]))
        self.y = y
        _trust(y, self.G)

    def tariff_set(self, p):
        """TARIFF_SET BEGIN / POINTS / COMMIT (docs/PROTOCOL.md); the stored tariff changes only
        at a COMMIT that verified.  Any refusal drops the pending tariff."""
        op = p["op"]
        try:
            if op == mb.OP_BEGIN:
                self._pending = None
                self._begin(p)
            elif op == mb.OP_POINTS:
                self._points(p)
            else:
                self._commit(p)
        except MeterError:
            self._pending = None
            raise

    def _begin(self, p):
        if self.y is None:
            raise MeterError(wire.E_NOT_PROVISIONED, "no supplier key installed: send SUPPLIER_KEY first")
        a, b, n = p["start_slot"], p["end_slot"], p["n"]
        if not (1 <= n <= mb.MAX_POINTS):
            raise MeterError(wire.E_BAD_ARGUMENT, "tariff too large: %d points (at most %d)" % (n, mb.MAX_POINTS))
        try:
            mb.check_cycle(a, b)
        except ValueError as e:
            raise MeterError(wire.E_BAD_ARGUMENT, str(e))
        self._pending = [a, b, n, [], -1]  # start, end, n, point byte chunks, last offset

    def _points(self, p):
        q = self._pending
        if q is None:
            raise MeterError(wire.E_BAD_MEMBERS, "tariff points without BEGIN")
        got = sum(len(x) for x in q[3]) // mb.POINT_LEN
        if p["first"] < got and p["first"] + len(p["points"]) == got:
            return  # a repeat of the last part (its OK was lost); COMMIT's signature covers the content
        if p["first"] != got:
            raise MeterError(wire.E_BAD_MEMBERS, "tariff points do not continue: expected index %d" % got)
        pts = p["points"]
        if got + len(pts) > q[2]:
            raise MeterError(wire.E_BAD_ARGUMENT, "tariff larger than announced (%d points)" % q[2])
        last = q[4]
        for off, _ in pts:
            if off <= last or (last < 0 and off != 0) or off >= q[1] - q[0]:
                raise MeterError(wire.E_BAD_MEMBERS, "tariff points out of order (offset %d)" % off)
            last = off
        q[4] = last
        q[3].append(mb.encode_points(pts))

    def _commit(self, p):
        q = self._pending
        if q is None:
            if self._holds(p["digest"], p["sig"]):
                return  # a repeat of the COMMIT that installed it (its OK was lost)
            raise MeterError(wire.E_BAD_MEMBERS, "tariff COMMIT without BEGIN")
        self._pending = None
        pts = b"".join(q[3])
        q[3] = None
        if len(pts) != q[2] * mb.POINT_LEN:
            raise MeterError(wire.E_BAD_MEMBERS, "tariff has %d of %d points" % (len(pts) // mb.POINT_LEN, q[2]))
        from vwcore import sig

        msg = mb.tariff_head(self.prov["meter_id"], q[0], q[1], p["digest"], q[2]) + pts
        gc.collect()
        if not sig.verify(self.y, msg, sig.decode_sig(p["sig"]), self.G):
            raise MeterError(wire.E_AUTH, "tariff not signed by the installed supplier key for this meter and cycle")
        msg = None
        self._install(q[0], q[1], p["digest"], pts)
        self._last = bytes(p["digest"]) + bytes(p["sig"])

    def _holds(self, digest, sig64):
        """True if this exact COMMIT (digest and signature) was the last one accepted since boot."""
        return self._last == bytes(digest) + bytes(sig64)

    def _started(self, slot):
        s = self.metering.store
        now = self.metering.clock.now_slot()
        return (s is not None and s.last_slot is not None and s.last_slot >= slot) or (now is not None and now > slot)

    def _install(self, a, b, digest, pts):
        if self._started(a):
            raise MeterError(wire.E_BAD_ARGUMENT, "the cycle starting at slot %d has already started" % a)
        c = self.cur
        if c is not None and self._started(c[0]):
            if a < c[1]:
                raise MeterError(
                    wire.E_BAD_ARGUMENT, "cycle overlaps the cycle in progress (slots %d..%d)" % (c[0], c[1] - 1)
                )
            self._state("mtnext").save(struct.pack(_HEAD, a, b, digest, len(pts) // mb.POINT_LEN) + pts)
            return
        self.cur = [a, b, bytes(digest), a, 0, 0, wire.NO_SLOT]
        self.pts = pts
        self._save()
        self._state("mtnext").clear()

    def bill(self, start):
        """BILL_FETCH: the signed BILL payload of the finished cycle that starts at `start`."""
        d = self.done
        if d is None or d[0] != start:
            c = self.cur
            if c is not None and c[0] == start:
                if c[6] != wire.NO_SLOT:
                    self._unbillable(c[6])
                raise MeterError(
                    wire.E_BAD_ARGUMENT,
                    "cycle not finished: certified up to slot %d of %d..%d" % (c[3] - 1, c[0], c[1] - 1),
                )
            raise MeterError(wire.E_BAD_ARGUMENT, "no meter tariff for the cycle starting at slot %d" % start)
        if d[6] != wire.NO_SLOT:
            self._unbillable(d[6])
        mid = self.prov["meter_id"]
        from vwcore import sig

        e, s = self.keys.signer.sign(mb.bill_bytes(mid, d[0], d[1], d[2], d[4], d[5]))
        return mb.encode_bill(mid, d[0], d[1], d[2], d[4], d[5], sig.encode_sig((e, s)))

    def _unbillable(self, slot):
        raise MeterError(
            wire.E_UNKNOWN_SLOT,
            "slot %d was not certified by the meter (it was off): this cycle cannot be billed by "
            "the meter; bill it on the customer's device" % slot,
        )

    def info(self):
        """The current tariff for INFO (None: none installed)."""
        c = self.cur
        return None if c is None else {"digest": c[2], "start_slot": c[0], "end_slot": c[1]}
