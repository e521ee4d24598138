# SPDX-License-Identifier: MIT
# Accelerated simulated clock shared by the simulated HAL profiles (unix, qemu).
#
# Simulated unix time = sim_base + (ticks since ticks_base) * speed / 1000, where ticks are
# milliseconds (time.ticks_ms on the qemu board, time.time_ns on unix) and `speed` is
# simulated seconds per real second (1 = real time, 1800 = one half-hour slot per second,
# 89280 = a 31-day month of half-hours in 30 s).  The meter only sees now()/now_slot().

from vwcore.consts import SLOT_SECONDS


class SimClock:
    def __init__(self, ticks_ms, speed=1, persist=None):
        # ticks_ms: callable returning a monotonically increasing millisecond count (ints of
        # any size; on ports where ticks wrap, the caller passes an unwrapped counter).
        # persist: optional (load(), save(sim_base, tick_base)) pair emulating a
        # battery-backed RTC; None = time is lost at reset, like an ESP32 without battery.
        self._ticks = ticks_ms
        self.speed = speed
        self._persist = persist
        self._sim_base = None
        self._tick_base = 0
        if persist is not None:
            st = persist[0]()
            if st is not None:
                self._sim_base, self._tick_base = st

    def is_set(self):
        return self._sim_base is not None

    def set(self, unix_seconds):
        self._sim_base = int(unix_seconds)
        self._tick_base = self._ticks()
        if self._persist is not None:
            self._persist[1](self._sim_base, self._tick_base)

    def now(self):
        # Simulated unix seconds, or None when the clock was never set.
        if self._sim_base is None:
            return None
        return self._sim_base + (self._ticks() - self._tick_base) * self.speed // 1000

    def now_slot(self):
        t = self.now()
        return None if t is None else t // SLOT_SECONDS


class TicksMs:
    """Unwrapped millisecond counter on time.ticks_ms (which wraps, at 2**30 on most ports).
    Call it at least once per half wrap period (about 6 days) to keep it exact; the meter's
    main loop does so many times a second."""

    def __init__(self):
        import time

        self._time = time
        self._last = time.ticks_ms()
        self._acc = 0

    def __call__(self):
        t = self._time.ticks_ms()
        self._acc += self._time.ticks_diff(t, self._last)
        self._last = t
        return self._acc
