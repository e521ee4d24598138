# SPDX-License-Identifier: MIT
# Clock policy and challenges: who may move the meter's clock, and the INFO challenge every
# authorisation tag (vwcore/auth.py) is bound to.
#
#   * Challenges: INFO shows the current one, '>II' (boot epoch, counter); it is issued (its age
#     starts) by the first INFO that shows it and is valid for challenge_ttl_s
#     (wire.CHALLENGE_TTL_S = 120 s) of meter UPTIME (ticks, not the settable clock); INFO issues
#     a new one once the current one is older than half that, so a host has at least 60 s for
#     its tag.  A tag for an expired, spent or pre-reboot challenge is refused ("challenge
#     expired: ask INFO again").  The boot epoch (keys.py) changes at every boot, the counter at
#     every new or spent challenge, so a challenge never repeats.
#   * RESET needs auth.reset_tag(admin_secret, meter_id, challenge) and spends the challenge.
#   * SET_CLOCK on a provisioned meter (the clock decides which slot, and so which price, a
#     reading gets: moving it is tariff fraud) needs auth.clock_tag(admin_secret, meter_id,
#     challenge, t), which spends the challenge like RESET, except for
#       - drift trims: a change of at most CLOCK_TRIM_S, CLOCK_TRIM_BUDGET_S in all since boot
#         or the last authenticated change (what a host syncing the time needs);
#       - a lost clock (a board without battery-backed RTC after a power cut): accepted if it
#         does not go back before the end of the newest stored slot, and flagged in INFO
#         (clock_unverified) until an authenticated SET_CLOCK, so the host and the supplier see it.
#     An unprovisioned meter records nothing: any clock is accepted.
#   * ACK needs auth.ack_tag(customer_key, ...) for the current challenge; it spends nothing
#     (ACK is monotonic).
# vwcore.auth is imported by the first request with a tag (heap: a meter serves many INFO and
# FETCH requests for each one of them).
import struct
import time

from vwcore import kdf
from vwcore import wire

from vwmeter import MeterError

MIN_CLOCK = 1577836800  # 2020-01-01: anything earlier is a host bug
CLOCK_TRIM_S = 120  # unauthenticated SET_CLOCK on a provisioned meter: at most this per change,
CLOCK_TRIM_BUDGET_S = 300  # and this in all since boot or the last authenticated change


class ClockPolicy:
    """Challenges of one boot (`epoch`: keys.boot_epoch, None if it could not be saved) and
    the SET_CLOCK rules.  `trimmed`: seconds of unauthenticated trims since boot or the last
    authenticated change; `unverified`: the clock was set without the admin tag after it was lost.
    `uptime_ms`: the board's uptime callable, or None for the ticks_ms one of uptime()."""

    def __init__(self, epoch, uptime_ms, ttl_s):
        self.epoch = epoch
        self._up = uptime_ms
        self._tf = getattr(time, "ticks_ms", None)
        self._last = self._tf() if self._tf else 0
        self._acc = 0
        self.ttl_ms = 1000 * ttl_s
        self._n = 0  # challenge counter within this boot
        self._issued = None  # uptime (ms) at which INFO first showed the current challenge
        self.trimmed = 0
        self.unverified = False

    def uptime(self):
        """Milliseconds since boot, unwrapped (time.ticks_ms wraps; CPython: time.monotonic).
        Called at least every main-loop turn (Meter.tick), so no wrap is missed."""
        if self._up is not None:
            return self._up()
        if self._tf is None:
            return int(time.monotonic() * 1000)
        t = self._tf()
        self._acc += time.ticks_diff(t, self._last)
        self._last = t
        return self._acc

    def current(self):
        return struct.pack(">II", (self.epoch or 0) & 0xFFFFFFFF, self._n & 0xFFFFFFFF)

    def issue(self):
        """The challenge INFO shows: issued now unless the current one is fresh (younger than
        half its lifetime), so a host always has at least ttl / 2 for its tag."""
        now = self.uptime()
        if self._issued is None or now - self._issued > self.ttl_ms // 2:
            if self._issued is not None:
                self._n += 1
            self._issued = now
        return self.current()

    def expired(self):
        """True if the current challenge was never shown or is older than its lifetime."""
        return self._issued is None or self.uptime() - self._issued > self.ttl_ms

    def spend(self):
        self._n += 1
        self._issued = None

    def check_admin(self, what, challenge, tag, want):
        """Refuse a RESET / SET_CLOCK tag unless it is for the current, unexpired challenge."""
        if self.epoch is None:
            raise MeterError(wire.E_STORAGE, "boot counter not stored (flash?): %s refused" % what)
        ok = kdf.ct_equal(tag, want)
        if challenge != self.current():
            raise MeterError(
                wire.E_AUTH,
                "%s not authorised: challenge not current (spent, expired or "
                "from before a reboot): ask INFO again" % what,
            )
        if self.expired():
            raise MeterError(wire.E_AUTH, "%s not authorised: challenge expired: ask INFO again" % what)
        if not ok:
            raise MeterError(wire.E_AUTH, "%s not authorised (meter id, challenge or tag)" % what)

    def authorise_reset(self, prov, r):
        """RESET request r (wire.decode_reset) on a meter with keys prov; spends nothing yet."""
        from vwcore import auth

        want = auth.reset_tag(prov["admin_secret"], prov["meter_id"], r["challenge"])
        if r["meter_id"] != prov["meter_id"]:
            raise MeterError(wire.E_AUTH, "reset not authorised (meter id, challenge or tag)")
        self.check_admin("reset", r["challenge"], r["tag"], want)

    def authorise_ack(self, prov, up_to, tag):
        """ACK up to slot up_to: only with the customer's tag for the current challenge."""
        from vwcore import auth

        if tag is None or not kdf.ct_equal(
            tag, auth.ack_tag(prov["customer_key"], prov["meter_id"], self.current(), up_to)
        ):
            raise MeterError(
                wire.E_AUTH, "ACK not authorised: it needs the customer's tag (fetch with the customer code)"
            )

    def authorise_set(self, t, prov, clock, floor, challenge=None, tag=None):
        """May the clock be set to t?  prov: the keys (None: unprovisioned, anything goes);
        floor: the end (unix s) of the newest stored slot, the least a lost clock may be set to.
        Raises MeterError, or records the trim / the unverified flag / the spent challenge."""
        if t < MIN_CLOCK:
            raise MeterError(wire.E_BAD_ARGUMENT, "clock before 2020")
        if prov is None:
            return
        if tag is not None:
            from vwcore import auth

            want = auth.clock_tag(prov["admin_secret"], prov["meter_id"], challenge, t)
            self.check_admin("clock change", challenge, tag, want)
            self.spend()  # the tag is spent
            self.trimmed = 0
            self.unverified = False
            return
        now = clock.now()
        if now is None:
            if t < floor:
                raise MeterError(
                    wire.E_AUTH, "clock before the end of the newest stored reading (%d): needs the admin tag" % floor
                )
            self.unverified = True
            return
        d = t - now if t >= now else now - t
        if d > CLOCK_TRIM_S or self.trimmed + d > CLOCK_TRIM_BUDGET_S:
            raise MeterError(
                wire.E_AUTH,
                "a change of %d s needs the admin tag (without it: "
                "trims of up to %d s, %d s in all; %d s used)" % (d, CLOCK_TRIM_S, CLOCK_TRIM_BUDGET_S, self.trimmed),
            )
        self.trimmed += d
