# SPDX-License-Identifier: MIT
"""vwhal, unix simulator profile (runs on the unix `micropython`, also importable by CPython).

Configuration comes from the environment (simulators/meter_sim.py sets it):
  VW_STORAGE  directory holding the meter's files (default ./vwmeter-data)
  VW_SEED     load-profile seed, one simulated household per seed (default 1)
  VW_SPEED    simulated seconds per real second (default 1; 1800 = one slot per second;
              89280 = a 31-day month of half-hours in 30 s)
  VW_START    unix seconds: set the simulated RTC at boot if it was never set (as if set at
              the factory); absent = the clock stays unset until the host sends SET_CLOCK
  VW_SEG_RECORDS, VW_MAX_SEGMENTS, VW_CAPACITY  store geometry (default 96 x 32 slots)
  VW_MAX_CATCHUP  most missed slots certified after downtime (default: store capacity)
  VW_CHALLENGE_TTL_S  lifetime of a RESET/SET_CLOCK challenge in seconds of uptime (default 120)

Entropy for the meter's own keys: os.urandom (board["entropy"]).

The simulated RTC is battery-backed: its setting survives a restart (file `rtc` in storage,
written new-then-rename), so a power-cut test restarts the meter on the same timeline.
Serial = stdin/stdout in raw binary mode (termios raw when stdin is a tty/pty).
"""

import os
import time

import vwclock
import vwload
import vwstdio

PROFILE = "unix"
SLOT_SECONDS = vwclock.SLOT_SECONDS


def _env(name, default=None):
    v = os.getenv(name)
    return default if v is None or v == "" else v


def _wall_ms():
    if hasattr(time, "time_ns"):
        return time.time_ns() // 1000000
    return int(time.time() * 1000)  # pragma: no cover


def storage_root():
    root = _env("VW_STORAGE", "vwmeter-data")
    try:
        os.mkdir(root)
    except OSError:
        pass
    return root


def _rtc_path():
    return storage_root() + "/rtc"


def _rtc_load():
    try:
        with open(_rtc_path(), "r") as f:
            a, b = f.read().split()
        return int(a), int(b)
    except (OSError, ValueError):
        return None


def _rtc_save(sim_base, tick_base):
    tmp = _rtc_path() + ".new"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % (sim_base, tick_base))
    os.rename(tmp, _rtc_path())


class Clock(vwclock.SimClock):
    def __init__(self, speed=None, start=None):
        if speed is None:
            speed = int(_env("VW_SPEED", "1"))
        vwclock.SimClock.__init__(self, _wall_ms, speed, (_rtc_load, _rtc_save))
        if start is None:
            start = _env("VW_START")
        if not self.is_set() and start is not None:
            self.set(int(start))


class ReadingSource:
    """Simulated household: read_slot(slot) -> Wh consumed during that half-hour."""

    def __init__(self, seed=None):
        self.seed = int(_env("VW_SEED", "1")) if seed is None else seed

    def read_slot(self, slot):
        return vwload.wh(self.seed, slot)


class Serial(vwstdio.StdioSerial):
    """Binary serial line on stdin/stdout (the simulator's pty): vwstdio's line with the tty
    switched to raw mode. read(n, timeout_ms) returns up to n bytes (b"" on timeout); EOF or
    hang-up on stdin raises EOFError. No REPL shares this line: the meter never yields it."""

    repl_line = False

    def __init__(self):
        try:
            import termios

            termios.setraw(0)
        except Exception:
            pass  # not a tty (pipe): already binary
        super().__init__()


def ticks_ms():
    return _wall_ms()


def board():
    """Everything the meter app needs, as a dict (one call site in main.py)."""
    return {
        "profile": PROFILE,
        "clock": Clock(),
        "source": ReadingSource(),
        "storage": storage_root(),
        "serial": Serial(),
        # optional store geometry / catch-up limit (tests use tiny stores)
        "seg_records": _int_env("VW_SEG_RECORDS"),
        "max_segments": _int_env("VW_MAX_SEGMENTS"),
        "capacity": _int_env("VW_CAPACITY"),
        "max_catchup": _int_env("VW_MAX_CATCHUP"),
        # the meter's key generation: the host OS RNG (getrandom); firmware mixes it by HKDF
        "entropy": getattr(os, "urandom", None),
        "challenge_ttl_s": _int_env("VW_CHALLENGE_TTL_S"),  # tests shorten the 120 s
    }


def _int_env(name):
    v = _env(name)
    return int(v) if v is not None else None
