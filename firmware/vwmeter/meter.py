# SPDX-License-Identifier: MIT
# The meter application: the coordinator the serial server calls, one method per request.
# Hardware comes from the board dict of hal vwhal.board().  The work is done by focused modules:
#
#   keys.py         keys.a/.b (layout VWK2), PROVISION's key generation, boot epoch and entropy
#                   pool (epoch.a/.b); imported at boot, PROVISION and RESET, then unloaded
#   clockpolicy.py  ClockPolicy: INFO challenges (epoch, counter, uptime TTL), the RESET / ACK /
#                   SET_CLOCK authorisation (tags of vwcore/auth.py), drift trims, lost clock
#   metering.py     Metering: the reading log (log/), slot closing and catch-up, FETCH/ACK bookkeeping
#   aggstate.py     AggState: aggregation enrollment (agg.a/.b), release log, shares; imported
#                   on the first aggregation request
#   billing.py      Billing: bills computed in the meter (supplier key, meter tariff, cycle sums,
#                   signed BILL); imported at boot when billing state exists, else on first use
#
# Provisioning and reset, as a meter engineer meets them:
#   * A new meter is unprovisioned: INFO shows no keys, FETCH/ACK answer "not provisioned",
#     and it records nothing.  The engineer's tool (host CLI) sends PROVISION once with host
#     entropy, a fresh admin secret and the customer key (and the clock).  The meter makes
#     its signing/commitment and aggregation secrets itself (keys.new_keys: the board's RNG
#     where the HAL has one, mixed with the host entropy and device sources by HKDF) and
#     shows only the public keys (INFO).
#   * PROVISION on a provisioned meter is refused ("already provisioned").
#   * RESET needs the tag auth.reset_tag(admin_secret, meter_id, challenge) for the challenge
#     shown in INFO: only whoever holds the engineer's admin file can compute it.  It is
#     refused while readings are unacknowledged (fetch and ACK them first), so a reset
#     never destroys readings the supplier has not collected.  RESET wipes the log and the
#     keys; the meter is then unprovisioned.
#   * SET_CLOCK: see clockpolicy.py (drift trims, lost clock, otherwise auth.clock_tag).
#   * ACK needs auth.ack_tag(customer_key, ...): only the customer's device, which stores the
#     readings, may let the meter reuse their space (no challenge spent: ACK is monotonic).
#     And it frees only readings sent since boot (metering.py).
#   * Lost admin file (meter.admin.json): there is no way over the wire.  With physical access the
#     engineer erases the filesystem (mpremote / esptool / st-flash) and re-installs the
#     firmware: every reading not yet collected is lost with it.
from vwcore import reading
from vwcore import wire

from vwmeter import VERSION
from vwmeter import MeterError
from vwmeter import durable
from vwmeter import unload
from vwmeter.clockpolicy import MIN_CLOCK, ClockPolicy
from vwmeter.metering import Metering

_AGG_FILES = ("/agg.a", "/agg.b", "/aggrel.a", "/aggrel.b")  # aggstate.py's files
_BILL_FILES = ("/supkey", "/mbill", "/mtnext")  # billing.py's files (.a/.b)


class Meter:
    """`policy` (clockpolicy.ClockPolicy), `metering` (metering.Metering); `prov`: the
    provisioned keys dict (keys.py; None: unprovisioned); `pool`: this boot's entropy pool."""

    def __init__(self, board):
        self.board = board
        self.clock = board["clock"]
        self.root = board["storage"]
        self.profile = board.get("profile", "?")
        from vwmeter import keys

        epoch, self.pool = keys.boot_epoch(self.root, board.get("unique_id"))
        self.policy = ClockPolicy(epoch, board.get("uptime_ms"), board.get("challenge_ttl_s") or wire.CHALLENGE_TTL_S)
        self.metering = Metering(board, self.root)
        self.prov = None
        self._agg = None  # aggstate.AggState, created on first use
        self._bill = None  # billing.Billing, created at boot if it has state, else on first use
        p = keys.load(self.root)
        keys = None
        unload("vwmeter.keys")
        if p is not None:
            self._load_keys(p)
            if durable.exists(self.root + "/mbill.a"):  # the first copy billing.py writes
                self.billing()

    def _load_keys(self, p):
        self.prov = p
        keys = reading.MeterKeys(p["meter_id"], p["sig_secret"], p["customer_key"], p["group_id"])
        self.metering.open(keys, p["group_id"])

    @property
    def provisioned(self):
        return self.metering.keys is not None

    @property
    def agg_pub(self):
        """The aggregation public key (int; None when unprovisioned), kept only as bytes in prov."""
        return int.from_bytes(self.prov["agg_pub_b"], "big") if self.prov else None

    def challenge(self):
        """The challenge INFO shows (clockpolicy.ClockPolicy.issue)."""
        return self.policy.issue()

    # ------------------------------------------------------------ queries
    def info(self):
        keys = self.metering.keys
        d = {
            "meter_id": self.prov["meter_id"] if self.prov else bytes(8),
            "group_id": self.prov["group_id"] if self.prov else 1,
            "provisioned": self.provisioned,
            "clock_set": self.clock.is_set(),
            "storage_full": self.metering.storage_full,
            "clock_unverified": self.policy.unverified,
            "clock": (self.clock.now() or 0) & 0xFFFFFFFF,
            "challenge": self.challenge(),
            "fw_version": "%s/%s" % (VERSION, self.profile),
            "sig_pub": keys.y if keys else None,
            "agg_pub": self.agg_pub,
        }
        s = self.metering.store
        if s is not None:
            d["capacity"] = s.capacity
            if s.last_slot is not None:
                d["first_slot"] = s.first_slot
                d["last_slot"] = s.last_slot
                # records stored, not the span first..last (gaps, e.g. after a clock jump)
                d["used"] = s.count()
                u = s.unacked_from()
                d["unacked"] = 0 if u is None or u > s.last_slot else s.count(u)
        if self._bill is not None and self._bill.cur is not None:
            d["tariff"] = self._bill.info()
        return d

    # ------------------------------------------------------------ requests
    def provision(self, p):
        if self.provisioned:
            raise MeterError(wire.E_ALREADY_PROVISIONED, "already provisioned (RESET first)")
        if p["clock"] and p["clock"] < MIN_CLOCK:
            raise MeterError(wire.E_BAD_ARGUMENT, "clock before 2020")
        from vwmeter import keys as kmod

        b = self.board
        keys, self.pool = kmod.new_keys(p, self.pool, b.get("entropy"), b.get("unique_id"))
        # leftovers of an interrupted RESET (store wiped first, then keys): clear them
        self.metering.wipe()
        self._agg_clear()
        self._bill_clear()
        kmod.save(self.root, keys, self.policy.epoch, self.pool)
        kmod = None
        unload("vwmeter.keys")
        self._load_keys(keys)
        if p["clock"]:
            self.clock.set(p["clock"])

    def reset(self, r):
        if not self.provisioned:
            raise MeterError(wire.E_NOT_PROVISIONED, "not provisioned: nothing to reset")
        self.policy.authorise_reset(self.prov, r)
        self.metering.check_all_acked()
        # the tag is spent first (a power cut below reboots into a new epoch anyway), then the
        # log, then the keys: an interrupted reset leaves a provisioned meter with an empty log.
        self.policy.spend()
        self.metering.wipe()
        self._agg_clear()
        self._bill_clear()
        from vwmeter import keys

        keys.clear(self.root)
        keys = None
        unload("vwmeter.keys")
        self.prov = None
        self.metering.close()
        self.policy.unverified = False

    def set_clock(self, t, challenge=None, tag=None):
        """SET_CLOCK: see clockpolicy.py for who may move the clock."""
        self.policy.authorise_set(t, self.prov, self.clock, self.metering.clock_floor(), challenge, tag)
        self.clock.set(t)
        self.metering.resume()

    def fetch(self, from_slot, max_count):
        """Iterator of (slot, record bytes) from from_slot, at most max_count."""
        return self.metering.fetch(from_slot, max_count)

    def ack(self, up_to, tag=None):
        """ACK: the customer's device (holder of the customer key) lets the meter reuse the space
        of readings <= up_to; without its tag nothing is acknowledged (auth.ack_tag)."""
        self.metering.need_store()
        self.policy.authorise_ack(self.prov, up_to, tag)
        self.metering.ack(up_to)

    # ------------------------------------------------------------ metering
    def backlog(self):
        """Number of closed slots waiting to be certified (0 when idle or not metering)."""
        return self.metering.backlog()

    def tick(self, ticks_ms=None):
        """Close at most one slot.  Returns True if more closed slots are waiting."""
        self.policy.uptime()  # keeps the unwrapped uptime counter current
        return self.metering.tick(ticks_ms)

    # ------------------------------------------------------------ aggregation
    def aggregation(self):
        """The aggregation state (aggstate.AggState) of the provisioned meter, loaded on first use."""
        if self._agg is None:
            from vwmeter.aggstate import AggState

            self._agg = AggState(self.root, self.prov, self.metering.keys, self.policy)
        return self._agg

    def _agg_clear(self):
        """Remove the aggregation state (RESET, PROVISION), loaded or not."""
        self._agg = None
        for name in _AGG_FILES:
            if durable.exists(self.root + name):
                durable.wp_remove(self.root + name)

    def _agg_ready(self):
        self.metering.need_store()
        a = self.aggregation()
        a.need_enrolled(self.clock)
        return a

    def agg_enroll(self, p):
        """AGG_ENROLL (aggstate.AggState.enroll): None (answer OK) or (gid, n_members) for COMMIT."""
        if not self.provisioned:
            raise MeterError(wire.E_NOT_PROVISIONED, "not provisioned")
        return self.aggregation().enroll(p)

    def agg_drop_pending(self):
        """Forget a half-received AGG_ENROLL (its peer buffers), e.g. when the heap ran out."""
        if self._agg is not None:
            self._agg._pending = None

    def agg_fetch(self, from_slot, max_count):
        """Iterator of (slot, 60-byte share or None) (aggstate.AggState.fetch)."""
        return self._agg_ready().fetch(self.metering.store, from_slot, max_count)

    def agg_recover(self, slot, missing):
        """AGG_RECOVER: the reduced share of the slot without the missing members."""
        return self._agg_ready().recover(self.metering.store, slot, missing)

    # ------------------------------------------------------------ billing in the meter
    def billing(self):
        """The billing state (billing.Billing) of the provisioned meter, loaded on first use; from
        then on every certified slot goes to it (metering.on_slot)."""
        if not self.provisioned:
            raise MeterError(wire.E_NOT_PROVISIONED, "not provisioned")
        if self._bill is None:
            try:
                import vwmeter.billing as bm
            except ImportError:  # left out of the image (firmware/manifest.py VW_METER_BILLING)
                raise MeterError(2, "no meter billing in this firmware")

            self._bill = bm.Billing(self.root, self.prov, self.metering.keys, self.metering)
            self.metering.on_slot = self._bill.on_slot
        return self._bill

    def _bill_clear(self):
        """Remove the billing state (RESET, PROVISION), loaded or not."""
        self._bill = None
        self.metering.on_slot = None
        for name in _BILL_FILES:
            durable.SmallState(self.root + name).clear()
