"""vwhal, STM32 profile (NUCLEO-F401RE / NUCLEO-F446RE, MicroPython stm32 port).

NOT TESTED ON SILICON: no Nucleo board is attached to this project's CI, and the stm32 port
cannot be built from the Debian MicroPython source (lib/stm32lib is stripped).  Written from
the MicroPython docs; checked only by tests/firmware/test_hal_boards_fakemachine.py (fake
`machine` module on the unix MicroPython: a simulator test).  simulators/renode/ has the
Renode platform for a real MicroPython NUCLEO_F401RE/F446RE firmware ELF.

Pin map (Nucleo-64), defaults overridable in <storage>/vwhal.json:
  S0 pulse input  PA8 (Arduino D7), internal pull-up, falling edge
  meter line      "serial": "stdio" = USART2 (PA2 TX / PA3 RX), routed to the ST-LINK
                  virtual COM port, which is the REPL UART of the NUCLEO boards
                  (kbd_intr disabled while the meter runs); or {"uart": 1, "baud": 115200}
                  for USART1 (PA9 TX / PA10 RX, Arduino D8/D2) to a separate interface.
  RTC             machine.RTC on the LSE crystal (X2, 32.768 kHz); survives reset, and power
                  loss only with a VBAT supply (solder bridge SB45 / a coin cell).
  storage         /flash/vwdata on the internal flash FAT filesystem.  WARNING: on the F401RE
                  that filesystem is only about 64 KB (F446RE: about 112 KB), far below two
                  months of ~400-byte records: set "capacity" lower in vwhal.json or mount an
                  SD card / external SPI flash at /sd (used first when present).
"""
import vwmachine

PROFILE = "stm32"
SLOT_SECONDS = vwmachine.SLOT_SECONDS
DEFAULTS = {"s0_pin": "PA8", "imp_per_kwh": 1000, "serial": "stdio"}


def storage_root():
    return vwmachine.storage_dir(("/sd", "/flash"))


Clock = vwmachine.RtcClock


def safe_boot():
    """Hold the user button B1 (PC13) while resetting: main.py then does not start the meter and the
    REPL stays usable (mpremote), since the meter line shares the REPL UART."""
    return vwmachine.button_held("PC13")


def ReadingSource(cfg=None):
    return vwmachine.s0_source(storage_root(), DEFAULTS, cfg)


def board():
    return vwmachine.make_board(PROFILE, Clock(), storage_root(), DEFAULTS)
