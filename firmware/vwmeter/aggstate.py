# SPDX-License-Identifier: MIT
# Aggregation state of the meter: the enrollment (AGG_ENROLL), its file, the release log, and
# the shares AGG_FETCH / AGG_RECOVER send.  Imported on first use (meter.Meter.aggregation):
# a meter that never aggregates keeps none of it on the heap.
#
# Storage (board["storage"]):
#   agg.a/.b    aggregation enrollment, written by AGG_ENROLL COMMIT; two copies like
#               durable.SmallState (the older one is overwritten), but written and read in
#               pieces (a 48 KB heap may have no free 2 KB block): '>4sIHIIH' magic "VWAG",
#               seq, n_members, eps_milli, sensitivity_wh, n_peers; the 58-byte head and
#               41 bytes per peer of vwcore.agg; CRC-32 of all before.  Removed by RESET and
#               PROVISION (meter.Meter._agg_clear, which lists these files).
#   aggrel.a/.b the release log of the current enrollment (vwcore.agg.ReleaseLog,
#               durable.SmallState): which slots were released, and how.
#
# Aggregation shares are NOT stored: AGG_FETCH derives each share at fetch time from the
# stored reading of that slot (the AEAD opening under the customer key gives m; masks are
# n-1 HMACs).  The meter keeps its readings anyway, so this costs no flash (stored shares
# would add 60 bytes per slot: 89 KB for a month of 1488 slots), the
# share of a slot is exactly the certified reading (same Wh, never re-measured), and it is
# deterministic, so a re-fetch gives the same bytes (idempotent, like FETCH).  The price:
# shares exist only while the reading is stored; the host collects them before it ACKs.
import gc
import struct

from vwcore import auth
from vwcore import kdf
from vwcore import reading
from vwcore import wire

from vwmeter import MeterError
from vwmeter import durable

_AGG_MAGIC = b"VWAG"
_AGG_HDR = ">4sIHIIH"
_AGG_CHUNK = 8  # peers per read buffer (vwcore.agg.CHUNK_PEERS)
# free heap (bytes, after a collection) an enrollment must leave when its peer buffers are
# allocated at BEGIN: a slot's certification, a FETCH and a 1 KB request frame (about 8 KB on
# the frozen 48 KB meter, docs/BENCHMARKS.md); a bigger group is refused with E_NO_MEMORY
HEAP_RESERVE = 10240


class AggState:
    """Aggregation state of a provisioned meter (prov: its keys dict, keys: reading.MeterKeys,
    policy: clockpolicy.ClockPolicy for the COMMIT's challenge).  `enr`: the
    vwcore.agg.PackedEnrollment once enrolled, `meta`: (n_members, eps_milli, sensitivity_wh)."""

    def __init__(self, root, prov, keys, policy):
        self.root = root
        self.prov = prov
        self.keys = keys
        self.policy = policy
        self._seq = 0
        self._older = "a"
        self.enr = None
        self.meta = None
        self._nkey = None
        self._pending = None  # streamed AGG_ENROLL in progress
        self._committed = True  # no BEGIN since the stored enrollment's COMMIT (answers its retry)
        self.rel = None  # vwcore.agg.ReleaseLog, loaded on first use
        self.last_error = None
        self.load()

    # ------------------------------------------------------------ files
    def _rel_log(self):
        """The release log (vwcore.agg.ReleaseLog) of the current enrollment, loaded on first use.
        An unreadable log is treated as 'everything released' (F at the newest slot, no
        reduced share) rather than as empty: failing closed."""
        if self.rel is None:
            from vwcore import agg

            st = durable.SmallState(self.root + "/aggrel")
            try:
                self.rel = agg.ReleaseLog(st.load())
            except agg.AggError:
                self.rel = agg.ReleaseLog()
                self.rel.f = 0xFFFFFFFE
        return self.rel

    def _rel_save(self):
        durable.SmallState(self.root + "/aggrel").save(self.rel.to_bytes())

    def _read(self, c, keep):
        """(seq, (n, eps, sens), head, chunks) of copy c if valid (CRC streamed), else None."""
        try:
            f = open(self.root + "/agg." + c, "rb")
        except OSError:
            return None
        try:
            hdr = f.read(20)
            if len(hdr) != 20:
                return None
            magic, seq, n, eps, sens, k = struct.unpack(_AGG_HDR, hdr)
            head = f.read(58)
            if magic != _AGG_MAGIC or len(head) != 58:
                return None
            crc = durable.crc32(head, durable.crc32(hdr))
            chunks = []
            while k:
                m = k if k < _AGG_CHUNK else _AGG_CHUNK
                b = f.read(41 * m)
                if len(b) != 41 * m:
                    return None
                crc = durable.crc32(b, crc)
                if keep:
                    chunks.append(b)
                k -= m
            t = f.read(5)
            if len(t) != 4 or struct.unpack(">I", t)[0] != crc:
                return None
            return seq, (n, eps, sens), head, chunks
        finally:
            f.close()

    def _save(self, meta, head, chunks):
        k = 0
        for c in chunks:
            k += len(c) // 41
        seq = self._seq + 1
        path = self.root + "/agg." + self._older
        hdr = struct.pack(_AGG_HDR, _AGG_MAGIC, seq, meta[0], meta[1], meta[2], k)
        f = durable.wp_open(path, "wb")
        try:
            crc = durable.crc32(hdr)
            durable.wp_write(f, hdr, path)
            for b in [head] + chunks:
                crc = durable.crc32(b, crc)
                durable.wp_write(f, b, path)
            durable.wp_write(f, struct.pack(">I", crc), path)
            durable.wp_flush(f, path)
        finally:
            f.close()
        self._seq = seq
        self._older = "b" if self._older == "a" else "a"

    def load(self):
        """The newer valid copy of the enrollment (a power cut while saving leaves the other)."""
        best, best_c = None, None
        for c in ("a", "b"):
            r = self._read(c, False)
            if r is not None and (best is None or r[0] > best):
                best, best_c = r[0], c
        if best is None:
            self._seq, self._older = 0, "a"
            return
        self._seq, self._older = best, "b" if best_c == "a" else "a"
        r = self._read(best_c, True)
        if r is None:
            return
        from vwcore import agg

        try:
            enr = agg.PackedEnrollment(r[2], r[3])
        except Exception as e:
            self.last_error = "aggregation enrollment unreadable: %s" % e
            return
        self.enr, self.meta = enr, r[1]
        n, eps, sens = r[1]
        self._nkey = agg.noise_key(self.prov["agg_secret"], enr.gid, enr.member_id) if eps and sens else None

    # ------------------------------------------------------------ AGG_ENROLL
    def enroll(self, p):
        """AGG_ENROLL: BEGIN, MEMBERS (streamed, one modexp per member), COMMIT.
        Returns None (answer OK) or (gid, n_members) for COMMIT."""
        from vwcore import agg

        op = p["op"]
        try:
            if op == wire.AGG_OP_BEGIN:
                return self._begin(agg, p)
            if op == wire.AGG_OP_MEMBERS:
                return self._members(p)
            return self._commit(agg, p)
        except agg.AggError as e:
            self._pending = None
            raise MeterError(wire.E_BAD_MEMBERS, "%s (enrollment dropped: start again)" % e)

    def _begin(self, agg, p):
        self._pending = None
        self._committed = False  # a COMMIT now needs this BEGIN's members
        if p["group_id"] != self.prov["group_id"]:
            raise MeterError(
                wire.E_BAD_ARGUMENT, "group %d, this meter uses group %d" % (p["group_id"], self.prov["group_id"])
            )
        if not (wire.AGG_MIN_MEMBERS <= p["n_members"] <= wire.AGG_MAX_MEMBERS):
            raise MeterError(
                wire.E_BAD_MEMBERS, "a group has %d..%d members" % (wire.AGG_MIN_MEMBERS, wire.AGG_MAX_MEMBERS)
            )
        g = self.prov["group_id"]
        n = p["n_members"]
        gc.collect()  # a BEGIN sent again: the dropped builder's buffers first
        try:
            x = agg.secret_scalar(self.prov["agg_secret"], g)
            # all peer buffers now (EnrollBuilder), and the heap metering still needs after them
            b = agg.EnrollBuilder(x, self.prov["meter_id"], p["label"], p["agg_pub"], n, g)
            x = None
            gc.collect()
            free = gc.mem_free() if hasattr(gc, "mem_free") else HEAP_RESERVE
        except MemoryError:
            b = x = None
            free = -1
        if free < HEAP_RESERVE:
            b = None
            gc.collect()
            raise MeterError(
                wire.E_NO_MEMORY,
                "group of %d too big: %d B heap free after its keys, %d needed"
                % (n, free if free > 0 else 0, HEAP_RESERVE),
            )
        self._pending = (b, n, p["eps_milli"], p["sensitivity_wh"])
        return None

    def _members(self, p):
        pend = self._pending
        if pend is None:
            raise MeterError(wire.E_BAD_MEMBERS, "no enrollment begun (send AGG_ENROLL BEGIN)")
        from vwcore import aggwire

        try:
            mem = aggwire.split_agg_members(p["raw"], self.prov["group_id"])
        except ValueError as e:
            raise MeterError(wire.E_BAD_PAYLOAD, str(e))
        b = pend[0]
        first = p["first_index"]
        if first + len(mem) == b.count and first < b.count:
            return None  # a retry of the last part (its OK was lost)
        if not (first <= b.count < first + len(mem)):
            raise MeterError(wire.E_BAD_MEMBERS, "member part starts at %d, expected %d" % (first, b.count))
        # a part sent again after an ERROR (out of memory) part-way: its first members are in
        # (EnrollBuilder.add changes nothing when it raises); COMMIT's tag covers the list anyway
        for mid, y in mem[b.count - first :]:
            b.add(mid, y)
        return None

    def _commit(self, agg, p):
        # COMMIT: only with the customer's consent (auth.enroll_tag over everything the
        # enrollment sets); a refused COMMIT leaves the stored enrollment as it was.
        pend = self._pending
        if pend is None:
            if self.enr is not None and self._committed:  # a retry: the answer was lost
                return self.enr.gid, self.meta[0]
            raise MeterError(wire.E_BAD_MEMBERS, "no enrollment begun (send AGG_ENROLL BEGIN)")
        b, n, eps, sens = pend
        self._pending = pend = None
        head, chunks = b.finish_parts()
        pol = self.policy
        want = auth.enroll_tag(
            self.prov["customer_key"], self.prov["meter_id"], pol.current(), agg.enroll_digest(b.ghash, n, eps, sens)
        )
        b = None
        if not kdf.ct_equal(p["tag"], want):
            raise MeterError(
                wire.E_AUTH,
                "enrollment not authorised: it needs the customer's tag over this "
                "group (enrollment dropped, the previous one is kept)",
            )
        if pol.expired():
            raise MeterError(
                wire.E_AUTH,
                "enrollment not authorised: challenge expired: ask INFO again "
                "(enrollment dropped, the previous one is kept)",
            )
        pol.spend()  # the tag works once
        self.enr = None
        gc.collect()
        self._save((n, eps, sens), head, chunks)
        head = chunks = None
        durable.SmallState(self.root + "/aggrel").clear()  # a new group: nothing released in it
        self.rel = None
        gc.collect()
        self.load()
        if self.enr is None:
            raise MeterError(wire.E_STORAGE, "enrollment not readable after saving")
        self._committed = True
        return self.enr.gid, n

    # ------------------------------------------------------------ shares
    def need_enrolled(self, clock):
        if self.enr is None:
            raise MeterError(wire.E_NOT_ENROLLED, "not enrolled in an aggregation group (AGG_ENROLL)")
        if not clock.is_set():
            raise MeterError(wire.E_CLOCK_NOT_SET, "clock not set: send SET_CLOCK (readings are kept)")

    def wh(self, slot, rec):
        """The certified reading of a stored record: its AEAD opening, first 4 bytes."""
        from vwcore import aead

        k = self.keys
        pt = k.aead.decrypt(
            aead.record_nonce(k.meter_id, slot),
            rec[len(rec) - wire.CT_LEN :],
            reading.record_ad(self.prov["group_id"], k.meter_id, slot),
        )
        return int.from_bytes(pt[:4], "big")

    def _noise(self, slot):
        if self._nkey is None:
            return 0, 0
        from vwcore import agg

        return agg.member_noise(self._nkey, slot, self.meta[1], self.meta[2])

    def fetch(self, store, from_slot, max_count):
        """Iterator of (slot, 60-byte share or None) for the stored readings from from_slot. Before the
        first share, the release watermark moves (durably) past every slot this call may
        release: no reduced share for them later (vwcore.agg.ReleaseLog). Slots released as
        reduced shares are skipped (their one release is made)."""
        s = store
        if s.last_slot is None or s.last_slot < from_slot:
            return
        top = from_slot + max_count - 1
        top = s.last_slot if s.last_slot < top else top
        log = self._rel_log()
        if log.note_shares(top):
            self._rel_save()
        for slot, rec in s.iter_from(from_slot, max_count):
            if log.may_share(slot):
                n1, n2 = self._noise(slot)
                yield slot, self.enr.share(slot, self.wh(slot, rec), n1, n2)
            else:
                yield slot, None  # released as a reduced share: nothing sent, END moves past

    def recover(self, store, slot, missing):
        """AGG_RECOVER: the reduced share of the slot without the missing members, if this meter
        released nothing else for the slot (vwcore.agg.ReleaseLog, saved before answering)."""
        rec = None
        for sl, r in store.iter_from(slot, 1):
            if sl == slot:
                rec = r
        if rec is None:
            raise MeterError(wire.E_UNKNOWN_SLOT, "no reading stored for slot %d" % slot)
        from vwcore import agg

        try:
            self.enr.present_peers(missing)
        except agg.AggError as e:
            raise MeterError(wire.E_BAD_MEMBERS, str(e))
        log = self._rel_log()
        try:
            changed = log.reduce(slot, agg.missing_digest(missing), store.first_slot)
        except agg.AggError as e:
            raise MeterError(wire.E_RELEASED, str(e))
        if changed:
            self._rel_save()
        n1, n2 = self._noise(slot)
        return self.enr.reduced_share(slot, self.wh(slot, rec), missing, n1, n2)
