# SPDX-License-Identifier: MIT
# Real-board building blocks shared by hal/esp32 and hal/stm32 (MicroPython `machine` API).
#
# NOT TESTED ON SILICON: no ESP32 or STM32 board (nor an ESP32 emulator, nor Renode) is
# available to this project's CI.  Written from the MicroPython documentation
# (machine.Pin.irq, machine.RTC.datetime, machine.UART, machine.disable_irq); the only check
# is tests/firmware/test_hal_boards_fakemachine.py, which imports and drives these classes
# against a FAKE `machine` module on the unix MicroPython (a simulator test, not a board test).
import time

import machine
from vwcore.consts import SLOT_SECONDS

_RTC_MIN_YEAR = 2024  # an RTC reading before this year means "never set"


def days_from_civil(y, m, d):
    # Howard Hinnant's algorithm: days since 1970-01-01 for a proleptic Gregorian date.
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def civil_from_days(z):
    z += 719468
    era = (z if z >= 0 else z - 146096) // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


class RtcClock:
    """Wall clock on machine.RTC (UTC).  Independent of the port's time epoch (1970 or
    2000): converts RTC.datetime() tuples itself."""

    def __init__(self):
        self._rtc = machine.RTC()

    def is_set(self):
        return self._rtc.datetime()[0] >= _RTC_MIN_YEAR

    def set(self, unix_seconds):
        unix_seconds = int(unix_seconds)
        days, secs = divmod(unix_seconds, 86400)
        y, m, d = civil_from_days(days)
        wd = (days + 3) % 7  # 0 = Monday, as RTC.datetime expects
        self._rtc.datetime((y, m, d, wd, secs // 3600, secs // 60 % 60, secs % 60, 0))

    def now(self):
        if not self.is_set():
            return None
        y, m, d, _wd, hh, mm, ss = self._rtc.datetime()[:7]
        return days_from_civil(y, m, d) * 86400 + hh * 3600 + mm * 60 + ss

    def now_slot(self):
        t = self.now()
        return None if t is None else t // SLOT_SECONDS


class S0Source:
    """S0 pulse input (EN 62053-31): the meter's open-collector output pulls the pin low for
    >= 30 ms per impulse; `imp_per_kwh` impulses per kWh (typ. 1000 or 2000).

    The IRQ handler only increments a counter (debounced by `min_gap_ms`).  read_slot(slot)
    takes the pulses counted since the previous call, atomically, and converts them to Wh,
    carrying the sub-Wh remainder to the next slot so no energy is lost to rounding.  Pulses
    are attributed to the slot being closed; when the meter catches up several slots at once
    (after its clock was set), all pending pulses go to the first of them (honest limitation
    of a counter without per-pulse time stamps)."""

    def __init__(self, pin, imp_per_kwh=1000, pull_up=True, min_gap_ms=20):
        self.imp_per_kwh = imp_per_kwh
        self._count = 0
        self._rem = 0  # milli-impulse-Wh remainder carried over
        self._gap = min_gap_ms
        self._last = time.ticks_add(time.ticks_ms(), -min_gap_ms)  # first pulse counts
        pull = machine.Pin.PULL_UP if pull_up else None
        self._pin = machine.Pin(pin, machine.Pin.IN, pull)
        self._pin.irq(trigger=machine.Pin.IRQ_FALLING, handler=self._irq)

    def _irq(self, _pin):
        t = time.ticks_ms()
        if time.ticks_diff(t, self._last) >= self._gap:
            self._count += 1
            self._last = t

    def take_pulses(self):
        state = machine.disable_irq()
        n = self._count
        self._count = 0
        machine.enable_irq(state)
        return n

    def read_slot(self, slot):
        total = self.take_pulses() * 1000 + self._rem  # in Wh * imp_per_kwh
        wh, self._rem = divmod(total, self.imp_per_kwh)
        return wh


class UartSerial:
    """Meter line on a dedicated machine.UART.  read(n, timeout_ms) -> up to n bytes."""

    def __init__(self, uart_id, baudrate=115200, **pins):
        self._u = machine.UART(uart_id, baudrate=baudrate, **pins)
        self.can_timeout = True

    def read(self, n, timeout_ms):
        out = b""
        deadline = time.ticks_add(time.ticks_ms(), timeout_ms)
        while len(out) < n:
            k = self._u.any()
            if k:
                b = self._u.read(min(k, n - len(out)))
                if b:
                    out += b
                continue
            if out or time.ticks_diff(deadline, time.ticks_ms()) <= 0:
                break
            time.sleep_ms(1)
        return out

    def write(self, b):
        mv = memoryview(b)
        while mv:
            k = self._u.write(mv)
            mv = mv[k or 0 :]

    def banner(self, line):
        self.write(line.encode() + b"\r\n")


def load_config(root, defaults):
    cfg = dict(defaults)
    try:
        import json

        with open(root + "/vwhal.json") as f:
            cfg.update(json.load(f))
    except Exception:
        pass
    return cfg


def make_serial(cfg):
    s = cfg.get("serial", "stdio")
    if s == "stdio":
        from vwstdio import StdioSerial

        return StdioSerial()
    pins = {}
    for k in ("tx", "rx", "rxbuf"):  # rxbuf: the port's receive buffer size in bytes
        if k in s:
            pins[k] = s[k]
    return UartSerial(s["uart"], s.get("baud", 115200), **pins)


def storage_dir(candidates):
    import os

    for base in candidates:
        path = base + "/vwdata"  # not "vwmeter": a directory of that name on sys.path would shadow the package
        try:
            os.mkdir(path)
        except OSError:
            pass
        try:
            os.stat(path)
            return path
        except OSError:
            pass
    return ram_disk()


class RAMBlockDev:
    # Block device in RAM (MicroPython docs, "Custom block devices", extended interface).
    def __init__(self, block_size, num_blocks):
        self.block_size = block_size
        self.data = bytearray(block_size * num_blocks)

    def readblocks(self, block_num, buf, offset=0):
        addr = block_num * self.block_size + offset
        for i in range(len(buf)):
            buf[i] = self.data[addr + i]

    def writeblocks(self, block_num, buf, offset=None):
        if offset is None:
            for i in range(len(buf) // self.block_size):  # erase-then-write blocks
                self.ioctl(6, block_num + i)
            offset = 0
        addr = block_num * self.block_size + offset
        for i in range(len(buf)):
            self.data[addr + i] = buf[i]

    def ioctl(self, op, arg):
        if op == 4:  # block count
            return len(self.data) // self.block_size
        if op == 5:  # block size
            return self.block_size
        if op == 6:  # erase
            return 0
        return None


def ram_disk(kbytes=24):
    """Last resort (emulators whose flash model cannot program/erase): a small RAM
    filesystem at /ram.  VOLATILE: every reading is lost at reset."""
    import os
    import vfs as _vfs

    bdev = RAMBlockDev(512, kbytes * 2)
    if hasattr(_vfs, "VfsLfs2"):
        _vfs.VfsLfs2.mkfs(bdev)
        fs = _vfs.VfsLfs2(bdev)
    else:
        _vfs.VfsFat.mkfs(bdev)
        fs = _vfs.VfsFat(bdev)
    _vfs.mount(fs, "/ram")
    os.mkdir("/ram/vwdata")
    print("vwhal: WARNING no writable flash filesystem, using a volatile RAM disk")
    return "/ram/vwdata"


def button_held(pin, active_low=True):
    """True if a push button on `pin` is held (used at boot: hold it to skip the meter and
    keep the REPL, e.g. to update the firmware with mpremote; the meter line shares the
    REPL UART and disables Ctrl-C while it runs)."""
    try:
        p = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP if active_low else None)
        return p.value() == (0 if active_low else 1)
    except Exception:
        return False


def s0_source(root, defaults, cfg=None):
    """The S0 pulse reading source configured in ROOT/vwhal.json (or the board defaults)."""
    cfg = cfg or load_config(root, defaults)
    return S0Source(cfg["s0_pin"], cfg["imp_per_kwh"])


def make_board(profile, clock, root, defaults, source=None):
    """The board dict the meter expects (hal/README.md) for a real MCU profile (reading
    source: `source`, or the S0 input of the configuration)."""
    cfg = load_config(root, defaults)
    return {
        "profile": profile,
        "clock": clock,
        "source": source or s0_source(root, defaults, cfg),
        "storage": root,
        "serial": make_serial(cfg),
        "capacity": cfg.get("capacity"),
        "entropy": board_rng(),
        "unique_id": board_unique_id(cfg),
    }


def board_unique_id(cfg):
    """machine.unique_id (the chip's factory serial number: a per-device input of the meter's
    key generation), or None where the configuration says the chip has none readable
    ("unique_id": false, e.g. an emulator that does not map the UID registers)."""
    if cfg.get("unique_id", True) is False:
        return None
    return getattr(machine, "unique_id", None)


def board_rng():
    """The MCU's hardware RNG as os.urandom(n) (esp32: the RF-noise RNG; stm32: the RNG
    peripheral of the F4 parts), or None on a port without it: the meter's key generation
    then relies on the host entropy and device noise only (docs/PROTOCOL.md)."""
    try:
        import os

        return getattr(os, "urandom", None)
    except ImportError:
        return None
