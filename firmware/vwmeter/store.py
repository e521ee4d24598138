# SPDX-License-Identifier: MIT
# Durable append-only log of fixed-size certified readings, one record per half-hour slot.
#
# Layout (directory `root`):
#   sNNNNNNNN.seg  segment k = slot // seg_records (absolute, so no base slot is needed).
#                  24-byte header: "VWL1", version, rec_len, seg_records, first_slot, k,
#                  crc32(header); then records at offset H + (slot - first_slot) * RS, each
#                  <slot:u32> <payload: rec_len bytes> <crc32(slot + payload):u32>.
#                  Created complete (header written to s.tmp, flushed, renamed), so a
#                  segment file either does not exist or has a valid header.
#   ack.a / ack.b  highest slot acknowledged by the host (durable.SmallState, A/B copies).
#
# In RAM only: `sent_to`, the highest slot such that every stored slot after the acknowledged
# ones up to it was sent to the host since boot (vwmeter.meter: an ACK may not reach beyond
# it), and the number of records per segment (count(), for INFO), found lazily by reading
# each position's slot field once and kept up to date by append().
#
# Write protocol and recovery: a record is written in place at its computed offset and
# flushed; it is committed when append() returns.  A power cut can leave at most one torn
# record, always the last one written.  On open the tail segment is scanned BACKWARDS from
# its end to the last record whose CRC and slot field check: that is last_slot; bytes
# beyond it are a torn tail, never read and overwritten in place by the next append (no
# truncate() needed, MicroPython files lack it).  Positions before it whose record does not
# check are gaps (slots the meter never recorded) and read as missing.  Nothing committed
# is ever rewritten, so no committed record can be lost.
#
# Each slot at most once: append(slot) requires slot > last_slot (duplicates and
# out-of-order slots raise ValueError).  Capacity: max_segments segments of seg_records
# slots (default 32 x 96 = 3072 >= two 31-day months of half-hours, 2976).  A new segment
# beyond capacity first deletes the oldest segment only if every slot in it is
# acknowledged; otherwise append raises StoreFull and stores nothing.
#
# RAM: one record buffer plus a dict of at most max_segments first_slot integers; the log
# is never loaded into memory.
import os
import struct

from vwmeter import durable

MAGIC = b"VWL1"
VERSION = 1
_HDR = "<4sHHIII"
HDR_SIZE = 24
NONE = 0xFFFFFFFF


class StoreFull(Exception):
    pass


class StoreError(Exception):
    pass


def _seg_name(k):
    s = str(k)
    return "s" + "0" * (8 - len(s)) + s + ".seg"


class Store:
    def __init__(self, root, rec_len, seg_records=96, max_segments=32):
        if seg_records < 1 or max_segments < 2 or rec_len < 1:
            raise ValueError("bad store geometry")
        self.root = root
        self.rec_len = rec_len
        self.rs = rec_len + 8
        self.S = seg_records
        self.M = max_segments
        self.capacity = seg_records * max_segments
        try:
            os.mkdir(root)
        except OSError:
            pass
        self._ack = durable.SmallState(root + "/ack")
        self._first = {}  # segment id -> first_slot in that segment
        self.segs = []  # sorted segment ids
        self.last_slot = None
        self.recovered_torn = False
        self.sent_to = None  # RAM only: see the header
        self._cnt = {}  # segment id -> number of records (lazy)
        self._open()

    # ---------------------------------------------------------------- recovery
    def _path(self, k):
        return self.root + "/" + _seg_name(k)

    def _read_header(self, k):
        try:
            with open(self._path(k), "rb") as f:
                h = f.read(HDR_SIZE)
        except OSError:
            return None
        if len(h) != HDR_SIZE:
            return None
        magic, ver, rl, sr, first, kk = struct.unpack(_HDR, h[:20])
        if magic != MAGIC or struct.unpack("<I", h[20:])[0] != durable.crc32(h[:20]):
            return None
        if ver != VERSION or rl != self.rec_len or sr != self.S or kk != k:
            raise StoreError("segment %d has another format (rec_len %d, seg %d)" % (k, rl, sr))
        if first // self.S != k:
            return None
        return first

    def _open(self):
        ids = []
        for name in os.listdir(self.root):
            if name.endswith(".tmp"):
                durable.wp_remove(self.root + "/" + name)  # unfinished segment creation
            elif len(name) == 13 and name[0] == "s" and name.endswith(".seg"):
                try:
                    ids.append(int(name[1:9]))
                except ValueError:
                    pass
        ids.sort()
        for k in ids:
            first = self._read_header(k)
            if first is None:
                # cannot happen through our own writes (header is renamed into place);
                # media corruption: keep the file for forensics, ignore it.
                durable.wp_rename(self._path(k), self._path(k) + ".bad")
                continue
            self._first[k] = first
            self.segs.append(k)
        # find last_slot: scan tail segments backwards; drop a tail segment with no record
        while self.segs:
            k = self.segs[-1]
            last = self._scan_tail(k)
            if last is not None:
                self.last_slot = last
                break
            durable.wp_remove(self._path(k))  # created but its first record never committed
            self.segs.pop()
            del self._first[k]
        raw = self._ack.load()
        self.acked = None
        if raw is not None and len(raw) == 4:
            a = struct.unpack("<I", raw)[0]
            self.acked = None if a == NONE else a

    def _scan_tail(self, k):
        size = os.stat(self._path(k))[6]
        n = (size - HDR_SIZE) // self.rs
        last = self._scan_last(k)
        if (size - HDR_SIZE) % self.rs or (n and (last is None or last != self._first[k] + n - 1)):
            self.recovered_torn = True  # bytes beyond the last good record: a torn write
        return last

    def _check(self, raw, slot):
        if len(raw) != self.rs:
            return None
        if struct.unpack("<I", raw[:4])[0] != slot:
            return None
        if struct.unpack("<I", raw[-4:])[0] != durable.crc32(raw[:-4]):
            return None
        return raw[4:-4]

    # ---------------------------------------------------------------- queries
    @property
    def first_slot(self):
        return self._first[self.segs[0]] if self.segs else None

    def unacked_from(self):
        # first slot the host has not acknowledged (None when nothing is stored)
        if self.last_slot is None:
            return None
        f = self.first_slot
        if self.acked is None or self.acked < f:
            return f
        return self.acked + 1

    def would_be_full(self, slot):
        k = slot // self.S
        if not self.segs or k == self.segs[-1] or len(self.segs) < self.M:
            return False
        return not self._droppable(self.segs[0])

    def _droppable(self, k):
        # every slot stored in segment k (never the tail here) is acknowledged; the last
        # record is found by scanning back from the end (gaps and a torn record left by a
        # power cut before a gap are skipped), only when the store is at capacity
        if self.acked is None:
            return False
        last = self._scan_last(k)
        return last is None or self.acked >= last

    def _scan_last(self, k):
        first = self._first[k]
        n = (os.stat(self._path(k))[6] - HDR_SIZE) // self.rs
        with open(self._path(k), "rb") as f:
            for i in range(n - 1, -1, -1):
                f.seek(HDR_SIZE + i * self.rs)
                if self._check(f.read(self.rs), first + i) is not None:
                    return first + i
        return None

    def count(self, lo=None):
        """Number of stored records (with slot >= lo): what FETCH(lo) would send in all."""
        if self.last_slot is None:
            return 0
        n = 0
        for k in self.segs:
            first = self._first[k]
            end = (k + 1) * self.S - 1
            if end > self.last_slot:
                end = self.last_slot
            if lo is not None and lo > end:
                continue
            if lo is None or lo <= first:
                c = self._cnt.get(k)
                if c is None:
                    c = self._cnt[k] = self._count_range(k, first, end)
                n += c
            else:
                n += self._count_range(k, lo, end)
        return n

    def _count_range(self, k, a, b):
        # positions a..b of segment k holding a record of their slot (slot field; a position
        # never written reads as zeros, a torn record exists only after last_slot)
        first = self._first[k]
        n = 0
        with open(self._path(k), "rb") as f:
            for s in range(a, b + 1):
                f.seek(HDR_SIZE + (s - first) * self.rs)
                h = f.read(4)
                if len(h) == 4 and struct.unpack("<I", h)[0] == s:
                    n += 1
        return n

    def read(self, slot):
        k = slot // self.S
        first = self._first.get(k)
        if first is None or slot < first or self.last_slot is None or slot > self.last_slot:
            return None
        with open(self._path(k), "rb") as f:
            f.seek(HDR_SIZE + (slot - first) * self.rs)
            return self._check(f.read(self.rs), slot)

    def iter_from(self, slot, limit=None):
        """Yield (slot, payload) for stored slots >= slot, in order (gaps skipped)."""
        if self.last_slot is None:
            return
        n = 0
        for k in list(self.segs):
            if (k + 1) * self.S - 1 < slot:
                continue
            first = self._first.get(k)
            if first is None:
                continue
            s = slot if slot > first else first
            end = min((k + 1) * self.S - 1, self.last_slot)
            try:
                f = open(self._path(k), "rb")
            except OSError:
                continue  # dropped meanwhile
            try:
                f.seek(HDR_SIZE + (s - first) * self.rs)
                while s <= end:
                    p = self._check(f.read(self.rs), s)
                    if p is not None:
                        yield s, p
                        n += 1
                        if limit is not None and n >= limit:
                            return
                    s += 1
            finally:
                f.close()

    # ---------------------------------------------------------------- mutations
    def append(self, slot, payload):
        if len(payload) != self.rec_len:
            raise ValueError("record length %d != %d" % (len(payload), self.rec_len))
        if slot < 0 or slot >= NONE:
            raise ValueError("slot out of range")
        if self.last_slot is not None and slot <= self.last_slot:
            raise ValueError("slot %d already stored or out of order (last %d)" % (slot, self.last_slot))
        k = slot // self.S
        if not self.segs or k != self.segs[-1]:
            if len(self.segs) >= self.M:
                if not self._droppable(self.segs[0]):
                    raise StoreFull("storage full: oldest unacknowledged slot %s" % self.unacked_from())
                old = self.segs[0]
                durable.wp_remove(self._path(old))
                self.segs.pop(0)
                del self._first[old]
                self._cnt.pop(old, None)
            self._create(k, slot)
            self._cnt[k] = 0
        first = self._first[k]
        body = struct.pack("<I", slot) + payload
        rec = body + struct.pack("<I", durable.crc32(body))
        path = self._path(k)
        f = durable.wp_open(path, "r+b")
        try:
            f.seek(HDR_SIZE + (slot - first) * self.rs)
            durable.wp_write(f, rec, path)
            durable.wp_flush(f, path)
        finally:
            f.close()
        self.last_slot = slot
        if k in self._cnt:
            self._cnt[k] += 1

    def _create(self, k, first):
        h = struct.pack(_HDR, MAGIC, VERSION, self.rec_len, self.S, first, k)
        h += struct.pack("<I", durable.crc32(h))
        tmp = self.root + "/s.tmp"
        f = durable.wp_open(tmp, "wb")
        try:
            durable.wp_write(f, h, tmp)
            durable.wp_flush(f, tmp)
        finally:
            f.close()
        durable.wp_rename(tmp, self._path(k))
        self.segs.append(k)
        self._first[k] = first

    def ack(self, up_to_slot):
        """Host acknowledges every slot <= up_to_slot.  Clamped to last_slot; monotonic.
        Returns the new acked slot (None when nothing stored)."""
        if self.last_slot is None:
            return self.acked
        a = up_to_slot if up_to_slot < self.last_slot else self.last_slot
        if self.acked is not None and a <= self.acked:
            return self.acked
        self._ack.save(struct.pack("<I", a))
        self.acked = a
        return a

    def wipe(self):
        """Delete every record and the ack pointer (authenticated RESET only)."""
        for k in list(self.segs):
            durable.wp_remove(self._path(k))
        self.segs = []
        self._first = {}
        self._cnt = {}
        self.sent_to = None
        self.last_slot = None
        self._ack.clear()
        self.acked = None
