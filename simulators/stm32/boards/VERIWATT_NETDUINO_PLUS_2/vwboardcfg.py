# SPDX-License-Identifier: MIT
# Board configuration read by hal/stm32/vwhal.py (frozen into the QEMU emulation board only;
# the Nucleo images have no vwboardcfg and keep the hal's defaults).  Keys override the
# hal's DEFAULTS; <storage>/vwhal.json still overrides both.
#
#   clock      "ticks": QEMU models no RTC, so the wall clock is kept from time.ticks_ms
#              (SysTick) at `speed` simulated seconds per second (1 = real time); it is
#              unset after every reset until the host sends SET_CLOCK, like a Nucleo
#              without its LSE/VBAT.  Real boards: "rtc" (machine.RTC on the LSE crystal).
#   safe_pin   None: QEMU models no GPIO (every input reads 0, i.e. a held active-low
#              button); safe boot is the semihosting word `safe` instead (board_init.c).
#   source     "sim": QEMU has no GPIO, so no S0 pulse can arrive; the readings come from
#              the seeded simulated household (hal/common/vwload.py, "seed" in vwhal.json)
#              so that tests can check every opened value.
#   unique_id  False: QEMU's netduinoplus2 does not map the STM32F4 unique-ID registers
#              (0x1FFF7A10); a read never returns (or resets the board). A Nucleo has them
#              (machine.unique_id, one input of the meter's key generation).
#   serial     the meter line on USART2 (QEMU's second -serial) through machine.UART;
#              the REPL stays on USART1.  rxbuf: room for a whole request frame.
CONFIG = {
    "clock": "ticks",
    "speed": 1,
    "safe_pin": None,
    "source": "sim",
    "unique_id": False,
    "serial": {"uart": 2, "baud": 115200, "rxbuf": 1024},
}
