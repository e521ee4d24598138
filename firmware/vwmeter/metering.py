# SPDX-License-Identifier: MIT
# The metering loop: the reading log (store.py, under log/), slot closing, and the FETCH/ACK
# bookkeeping.
#
# Slots: slot = unix_seconds // 1800.  A slot is closed (read, certified, stored) once the
# clock is past its end.  Metering starts at the slot in progress when the meter is first
# both provisioned and clock-set; after that every slot is closed in order, exactly once.
# When metering resumes (boot, SET_CLOCK, a full store freed by ACK) the meter catches up
# at most `max_catchup` missed slots (default: the store capacity), one per main-loop turn
# so the serial line stays served; older missed slots are left as one gap, which the
# supplier sees (slot numbers are signed).  While running it never skips a slot.
#
# ACK frees only readings sent since boot (store.sent_to, RAM): an ACK beyond them is refused
# (ERROR 10), so no host can free a reading it never received (the customer's tag is checked
# before, clockpolicy.ClockPolicy.authorise_ack).
from vwcore import reading
from vwcore import wire

from vwmeter import MeterError
from vwmeter import durable
from vwmeter.store import Store, StoreError, StoreFull


class Metering:
    """The log and the slot clock of a meter.  `keys` (reading.MeterKeys) and `store` are set by
    open() once provisioned; `fault` says why the store could not be opened; `last_error` is
    the last metering problem (diagnostics)."""

    def __init__(self, board, root):
        self.clock = board["clock"]
        self.source = board["source"]
        self.root = root
        self.seg_records = board.get("seg_records") or 96
        self.max_segments = board.get("max_segments") or 32
        cap = board.get("capacity")
        if cap:
            self.max_segments = max(2, (cap + self.seg_records - 1) // self.seg_records)
        self.max_catchup = board.get("max_catchup")
        self.keys = None
        self.store = None
        self.fault = None
        self.next_slot = None
        self.storage_full = False
        self.last_error = None
        self._resume = True
        self.n_certified = 0
        self.certify_ms = 0  # total milliseconds spent certifying
        self.on_slot = None  # callable(slot, wh) after each certified slot (billing.Billing.on_slot)

    def open(self, keys, group_id):
        """Start metering with keys (reading.MeterKeys): open the log of this group's records."""
        self.keys = keys
        try:
            self.store = Store(self.root + "/log", wire.record_len(group_id), self.seg_records, self.max_segments)
        except (OSError, StoreError) as e:
            # keep serving the line (INFO, RESET) and say what is wrong
            self.store = None
            self.fault = "storage fault: %s" % e
            self.last_error = self.fault
            return
        if self.max_catchup is None:
            self.max_catchup = self.store.capacity
        self.next_slot = None if self.store.last_slot is None else self.store.last_slot + 1
        self.storage_full = False
        self._resume = True

    def close(self):
        """After RESET: no keys, no log, nothing to meter."""
        self.keys = self.store = self.next_slot = None
        self.storage_full = False

    def resume(self):
        """Metering resumes (clock changed): catch up at most max_catchup missed slots."""
        self._resume = True

    def wipe(self):
        """Remove every reading (RESET; PROVISION clears the leftovers of an interrupted RESET)."""
        self.fault = None
        if self.store is not None:
            self.store.wipe()
            return
        if durable.exists(self.root + "/log"):
            # unprovisioned: any segment files are leftovers; the geometry does not matter
            import os

            for name in os.listdir(self.root + "/log"):
                durable.wp_remove(self.root + "/log/" + name)

    def need_store(self):
        if self.keys is None:
            raise MeterError(wire.E_NOT_PROVISIONED, "not provisioned")
        if self.store is None:
            raise MeterError(wire.E_STORAGE, self.fault or "storage unavailable")

    def clock_floor(self):
        """End (unix s) of the newest stored slot: 0 when nothing is stored."""
        s = self.store
        return (s.last_slot + 1) * wire.SLOT_SECONDS if s is not None and s.last_slot is not None else 0

    def check_all_acked(self):
        """RESET is refused while readings are unacknowledged: it must never destroy readings
        the supplier has not collected."""
        s = self.store
        u = s.unacked_from() if s is not None else None
        if u is not None and u <= s.last_slot:
            raise MeterError(
                wire.E_STORAGE, "%d readings not acknowledged: fetch and ACK first" % (s.last_slot - u + 1)
            )

    # ------------------------------------------------------------ FETCH / ACK
    def fetch(self, from_slot, max_count):
        """Iterator of (slot, record bytes) from from_slot, at most max_count."""
        self.need_store()
        if not self.clock.is_set():
            raise MeterError(wire.E_CLOCK_NOT_SET, "clock not set: send SET_CLOCK (readings are kept)")
        return self._sending(from_slot, self.store.iter_from(from_slot, max_count))

    def _sent_base(self):
        # highest slot such that every stored slot up to it is acknowledged or was sent (FETCH)
        # since boot; an ACK may not reach beyond it (docs/PROTOCOL.md, ACK)
        s = self.store
        b = s.acked if s.acked is not None else (s.first_slot - 1 if s.first_slot is not None else -1)
        return s.sent_to if s.sent_to is not None and s.sent_to > b else b

    def _sending(self, from_slot, it):
        # an answer that starts at or before the first slot not yet sent sends every stored
        # slot in order: each one the server has written extends sent_to
        track = from_slot <= self._sent_base() + 1
        s = self.store
        for slot, rec in it:
            yield slot, rec
            if track and (s.sent_to is None or slot > s.sent_to):
                s.sent_to = slot

    def ack(self, up_to):
        """Let the log reuse the space of readings <= up_to (the ACK's tag already checked)."""
        s = self.store
        lim = self._sent_base()
        if s.last_slot is not None and up_to > lim and lim < s.last_slot:
            # never free a reading this meter has not sent since it started
            raise MeterError(
                wire.E_BAD_ARGUMENT,
                "ACK up to slot %d refused: readings sent since the meter "
                "started reach only slot %d; FETCH from slot %d first" % (up_to, lim, lim + 1),
            )
        s.ack(up_to)
        if self.storage_full:
            self.storage_full = False  # retry the pending slot
            self._resume = True

    # ------------------------------------------------------------ slots
    def backlog(self):
        """Number of closed slots waiting to be certified (0 when idle or not metering)."""
        if self.keys is None or self.storage_full or self.store is None:
            return 0
        now = self.clock.now_slot()
        if now is None:
            return 0
        if self.next_slot is None:
            self.next_slot = now  # start metering with the slot in progress
            return 0
        return now - self.next_slot if now > self.next_slot else 0

    def tick(self, ticks_ms=None):
        """Close at most one slot.  Returns True if more closed slots are waiting."""
        n = self.backlog()
        if n <= 0:
            return False
        if self._resume:
            # resuming after downtime, a clock change or a full store: certify at most
            # max_catchup missed slots and leave older ones as a gap.  While running, the
            # meter never skips (it can only lag if a simulated clock outruns it).
            self._resume = False
            if n > self.max_catchup:
                self.next_slot += n - self.max_catchup
        slot = self.next_slot
        s = self.store
        if s.would_be_full(slot):
            self.storage_full = True
            self.last_error = "storage full at slot %d" % slot
            return False
        t0 = ticks_ms() if ticks_ms else 0
        wh = self.source.read_slot(slot)
        if wh > reading.MAX_READING:  # beyond any rated supply: a pulse burst, not energy
            wh = reading.MAX_READING
        rec = reading.certify(self.keys, slot, wh).encode()
        try:
            s.append(slot, rec)
        except StoreFull:
            self.storage_full = True
            return False
        if ticks_ms:
            self.certify_ms += ticks_ms() - t0
        self.n_certified += 1
        self.next_slot = slot + 1
        if self.on_slot is not None:
            self.on_slot(slot, wh)  # never raises (billing.Billing.on_slot)
        return n > 1
