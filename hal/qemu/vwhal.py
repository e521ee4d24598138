# SPDX-License-Identifier: MIT
"""vwhal, QEMU board profile (out-of-tree MicroPython board under simulators/qemu/).

It is an emulator, so the household is simulated (same generator as the unix profile,
hal/common/vwload.py).  Clock: time.ticks_ms on an accelerated scale (under `-icount` the
ticks count instructions, so a run is deterministic); not battery-backed: the clock is
unset after every reset until the host sends SET_CLOCK (or `start` is configured).
Storage: the board's LittleFS (first of /flash, / that is writable, directory vwdata/).
Serial: sys.stdin.buffer / sys.stdout.buffer over the UART (see hal/common/vwstdio.py for
the select.poll requirement).

Optional configuration file `vwhal.json` in the storage root:
  {"seed": 1, "speed": 1800, "start": 1767225600}
The word `speed=N` on the semihosting command line (`simulators/qemu/run --speed N`, the same
option as `veriwatt sim --speed`) overrides the file's speed: N simulated seconds per second.
"""

import os
import time

import vwclock
import vwload
from vwstdio import StdioSerial

PROFILE = "qemu"
SLOT_SECONDS = vwclock.SLOT_SECONDS

_root = None


def storage_root():
    global _root
    if _root is not None:
        return _root
    for base in ("/flash", ""):
        path = base + "/vwdata"  # not "vwmeter": a directory of that name on sys.path would shadow the package
        try:
            os.mkdir(path)
        except OSError:
            pass
        try:
            os.stat(path)
            _root = path
            return path
        except OSError:
            pass
    raise OSError("no writable filesystem (the qemu board must mount LittleFS)")


def _config():
    try:
        import json

        with open(storage_root() + "/vwhal.json") as f:
            return json.load(f)
    except Exception:
        return {}


def _cmdline(key):
    """Value of the word key=VALUE on the board's semihosting command line, or None."""
    try:
        import vwboard

        for w in vwboard.cmdline().split():
            if w.startswith(key + "="):
                return w[len(key) + 1 :]
    except Exception:
        pass
    return None


def _speed(cfg):
    v = _cmdline("speed")
    try:
        if v is not None and int(v) > 0:
            return int(v)
    except ValueError:
        pass
    return cfg.get("speed", 1800)


class _Ticks:
    # time.ticks_ms wraps (2**30 on most ports): keep an unwrapped millisecond counter.
    def __init__(self):
        self._last = time.ticks_ms()
        self._acc = 0

    def __call__(self):
        t = time.ticks_ms()
        self._acc += time.ticks_diff(t, self._last)
        self._last = t
        return self._acc


_ticks = _Ticks()


def ticks_ms():
    return _ticks()


class Clock(vwclock.SimClock):
    def __init__(self, speed=None, start=None):
        cfg = _config()
        vwclock.SimClock.__init__(self, _ticks, _speed(cfg) if speed is None else speed)
        start = cfg.get("start") if start is None else start
        if start is not None:
            self.set(start)


class ReadingSource:
    def __init__(self, seed=None):
        self.seed = _config().get("seed", 1) if seed is None else seed

    def read_slot(self, slot):
        return vwload.wh(self.seed, slot)


Serial = StdioSerial


def board():
    return {
        "profile": PROFILE,
        "clock": Clock(),
        "source": ReadingSource(),
        "storage": storage_root(),
        "serial": Serial(),
        # no RNG on this board (the qemu port has no os.urandom): the firmware then derives
        # its keys from the host entropy sent in PROVISION and device noise only (see
        # docs/PROTOCOL.md "Key generation"); a port that has os.urandom uses it
        "entropy": getattr(os, "urandom", None),
    }
