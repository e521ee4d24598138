# SPDX-License-Identifier: MIT
"""vwhal, ESP32 profile (ESP32-DevKitC, MicroPython esp32 port, LittleFS on internal flash).

NOT TESTED ON SILICON: no ESP32 board or Xtensa emulator is reachable from this project's
CI.  Written from the MicroPython docs for machine.Pin/RTC/UART; checked only by
tests/firmware/test_hal_boards_fakemachine.py (imports and drives it against a fake
`machine` module on the unix MicroPython: a simulator test).

Pin map (ESP32-DevKitC V4), defaults overridable in <storage>/vwhal.json:
  S0 pulse input  GPIO25, internal pull-up, falling edge ("s0_pin", "imp_per_kwh": 1000)
  meter line      "serial": "stdio" = UART0 (GPIO1 TX / GPIO3 RX) through the on-board
                  CP2102/CH340 USB bridge, shared with the REPL (kbd_intr disabled while the
                  meter runs); or {"uart": 2, "tx": 17, "rx": 16, "baud": 115200} for a
                  dedicated RS-232/RS-485 or optical port on UART2.
  RTC             machine.RTC (keeps time across soft reset and deep sleep, NOT across power
                  loss: the host must SET_CLOCK after a power cut; "clock not set" until then;
                  without the engineer's tag only forward of the newest reading, and INFO
                  flags the clock unverified: `veriwatt set-clock PORT --admin ...`)
  storage         /vwdata on the internal flash LittleFS (about 1.5 MB on a 4 MB module:
                  enough for two months of records).
"""

import vwmachine

PROFILE = "esp32"
SLOT_SECONDS = vwmachine.SLOT_SECONDS
DEFAULTS = {"s0_pin": 25, "imp_per_kwh": 1000, "serial": "stdio"}


def storage_root():
    return vwmachine.storage_dir(("",))


Clock = vwmachine.RtcClock


def safe_boot():
    """Hold the BOOT button (GPIO0) while resetting: main.py then does not start the meter and the
    REPL stays usable (mpremote), since the meter line shares the REPL UART."""
    return vwmachine.button_held(0)


def ReadingSource(cfg=None):
    return vwmachine.s0_source(storage_root(), DEFAULTS, cfg)


def board():
    return vwmachine.make_board(PROFILE, Clock(), storage_root(), DEFAULTS)
