# SPDX-License-Identifier: MIT
"""vwhal, STM32 profile (NUCLEO-F401RE / NUCLEO-F446RE, MicroPython stm32 port).

NOT TESTED ON SILICON: no Nucleo board is attached to this project's CI.  This code runs,
frozen into MicroPython's real stm32 port, on the emulation board
simulators/stm32/boards/VERIWATT_NETDUINO_PLUS_2 (QEMU netduinoplus2, STM32F405:
tests/stm32/), which differs from a Nucleo only where QEMU lacks a peripheral (RTC, GPIO,
flash controller; see simulators/README.md).  Those differences are board configuration,
read from an optional frozen module `vwboardcfg` (CONFIG dict, overrides DEFAULTS below):
  clock      "rtc" (default) = machine.RTC; "ticks" = a software clock on time.ticks_ms
             at "speed" simulated seconds per second (boards or emulators without an RTC)
  safe_pin   the safe-boot button ("PC13"), None = no button
  source     "s0" (default) = S0 pulses on s0_pin; "sim" = the seeded simulated household
             of hal/common/vwload.py ("seed"), for boards without a pulse input
The fake-`machine` simulator test (tests/firmware/test_hal_boards_fakemachine.py) still
checks the RTC and S0 paths, which QEMU cannot exercise.

Pin map (Nucleo-64), defaults overridable in <storage>/vwhal.json:
  S0 pulse input  PA8 (Arduino D7), internal pull-up, falling edge
  meter line      "serial": "stdio" = USART2 (PA2 TX / PA3 RX), routed to the ST-LINK
                  virtual COM port, which is the REPL UART of the NUCLEO boards
                  (kbd_intr disabled while the meter runs); or {"uart": 1, "baud": 115200}
                  for USART1 (PA9 TX / PA10 RX, Arduino D8/D2) to a separate interface.
  RTC             machine.RTC on the LSE crystal (X2, 32.768 kHz); survives reset, and power
                  loss only with a VBAT supply (solder bridge SB45 / a coin cell).
  storage         /flash/vwdata on the internal flash FAT filesystem.  WARNING: on both the
                  F401RE and the F446RE that filesystem is only 64 KB (the port's linker
                  scripts: flash sectors 1-4), far below two months of ~400-byte records: set "capacity" lower in vwhal.json or mount an
                  SD card / external SPI flash at /sd (used first when present).
"""

import vwclock
import vwmachine

PROFILE = "stm32"
SLOT_SECONDS = vwmachine.SLOT_SECONDS
DEFAULTS = {"s0_pin": "PA8", "imp_per_kwh": 1000, "serial": "stdio", "clock": "rtc", "safe_pin": "PC13", "source": "s0"}
try:
    import vwboardcfg  # frozen by emulation boards only (simulators/stm32)

    DEFAULTS.update(vwboardcfg.CONFIG)
except ImportError:
    pass


def storage_root():
    return vwmachine.storage_dir(("/sd", "/flash"))


_ticks = None


def Clock(cfg=None):
    """machine.RTC, or with "clock": "ticks" a software clock on time.ticks_ms running at
    cfg["speed"] (default 1 = real time), unset after every reset until SET_CLOCK."""
    global _ticks
    cfg = cfg or DEFAULTS
    if cfg.get("clock", "rtc") == "rtc":
        return vwmachine.RtcClock()
    if _ticks is None:
        _ticks = vwclock.TicksMs()
    return vwclock.SimClock(_ticks, cfg.get("speed", 1))


def safe_boot():
    """Hold the user button B1 (PC13) while resetting: main.py then does not start the meter and the
    REPL stays usable (mpremote), since the meter line shares the REPL UART."""
    pin = DEFAULTS.get("safe_pin")
    return pin is not None and vwmachine.button_held(pin)


class _SimSource:
    def __init__(self, seed):
        import vwload

        self._wh = vwload.wh
        self.seed = seed

    def read_slot(self, slot):
        return self._wh(self.seed, slot)


def ReadingSource(cfg=None):
    c = cfg or DEFAULTS
    if c.get("source", "s0") == "sim":
        return _SimSource(c.get("seed", 1))
    return vwmachine.s0_source(storage_root(), DEFAULTS, cfg)


def board():
    cfg = vwmachine.load_config(storage_root(), DEFAULTS)
    return vwmachine.make_board(PROFILE, Clock(cfg), storage_root(), DEFAULTS, ReadingSource(cfg))
