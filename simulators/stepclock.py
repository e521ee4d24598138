# SPDX-License-Identifier: MIT
# A hand-stepped clock for driving the meter in tests and benchmarks, on CPython, on the unix
# MicroPython (simulators/ is on both paths in tests/firmware) and pasted into a board's REPL
# (tools/bench_meter_heap.py): the meter's clock interface of hal/*/vwhal.py, with the time set
# by the caller (t = None: never set, like a meter without a battery-backed RTC).
from vwcore.consts import SLOT_SECONDS


class StepClock:
    def __init__(self):
        self.t = None

    def is_set(self):
        return self.t is not None

    def set(self, t):
        self.t = t

    def now(self):
        return self.t

    def now_slot(self):
        return None if self.t is None else self.t // SLOT_SECONDS
