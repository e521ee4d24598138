# SPDX-License-Identifier: MIT
# SIMULATOR TEST of the esp32/stm32 HAL profiles against a FAKE `machine` module
# (tests/firmware/fake_machine/machine.py) on the unix micropython:
#   MICROPYPATH=tests/firmware/fake_machine:hal/<profile>:hal/common:firmware:tests/firmware
#   micropython mp_hal_boards.py <profile> <tmpdir>
# Prints "ok <check>" lines and "done".  No real board is involved.
import sys

import machine
import vwmachine
import vwhal

from vwcore import wire


def check(name, cond):
    print(("ok " if cond else "FAIL ") + name)


def main():
    profile, tmp = sys.argv[1], sys.argv[2]
    check("profile", vwhal.PROFILE == profile)
    # calendar arithmetic against known dates
    check(
        "civil",
        vwmachine.days_from_civil(1970, 1, 1) == 0
        and vwmachine.days_from_civil(2026, 1, 1) * 86400 == 1767225600
        and vwmachine.civil_from_days(20454) == (2026, 1, 1),
    )
    # RTC clock
    clk = vwhal.Clock()
    check("rtc unset", not clk.is_set() and clk.now() is None and clk.now_slot() is None)
    clk.set(1767225600 + 3600 + 61)
    check("rtc set", clk.is_set() and clk.now() == 1767225600 + 3661 and clk.now_slot() == (1767225600 + 3661) // 1800)
    check("rtc weekday", machine.RTC._dt[3] == 3)  # 2026-01-01 is a Thursday
    # S0 pulses: 1000 imp/kWh -> 1 Wh per pulse; 800 imp/kWh -> remainder carried
    vwhal.storage_root = lambda: tmp
    src = vwhal.ReadingSource({"s0_pin": "X1", "imp_per_kwh": 800})
    pin = machine.Pin.instances["X1"]
    check("s0 irq falling pull-up", pin.trigger == machine.Pin.IRQ_FALLING and pin.pull == machine.Pin.PULL_UP)
    for _ in range(3):
        pin.fire()
        machine.ticks_sleep()
    a = src.read_slot(1)  # 3 pulses * 1000/800 = 3.75 Wh -> 3, carry 0.75
    for _ in range(1):
        pin.fire()
        machine.ticks_sleep()
    b = src.read_slot(2)  # 1.25 + 0.75 = 2.0 -> 2
    pin.fire()
    pin.fire()  # bounce inside 20 ms: counted once
    c = src.read_slot(3)
    check("s0 wh %d %d %d" % (a, b, c), (a, b, c) == (3, 2, 1))
    # dedicated UART serial
    ser = vwmachine.make_serial({"serial": {"uart": 2, "tx": 17, "rx": 16}})
    u = machine.UART.instances[2]
    check("uart pins", u.pins == (17, 16))
    check("uart timeout", ser.read(10, 5) == b"")
    u.rxbuf += wire.encode_frame(wire.HELLO, 3)
    # the whole meter app on this board
    from vwmeter.meter import Meter
    from vwmeter.server import Server

    b = {"profile": profile, "clock": clk, "source": src, "storage": tmp, "serial": ser}
    m = Meter(b)
    srv = Server(m, ser)
    srv.poll()
    fr = wire.Decoder().feed(bytes(u.txbuf))
    check(
        "meter answers HELLO with INFO over the UART",
        len(fr) == 1 and fr[0].mtype == wire.INFO and wire.decode_info(fr[0].payload)["clock_set"],
    )
    check("safe boot not held", vwhal.safe_boot() is False)
    # board(): the profile's dict, with the storage capacity from vwhal.json honoured
    import json

    with open(tmp + "/vwhal.json", "w") as f:
        json.dump({"capacity": 500, "s0_pin": "X2", "serial": {"uart": 1, "tx": 4, "rx": 5}}, f)
    bd = vwhal.board()
    check(
        "board() dict",
        bd["profile"] == profile and bd["storage"] == tmp and bd["capacity"] == 500 and "X2" in machine.Pin.instances,
    )
    # last-resort volatile storage for emulators without a flash model
    r = vwmachine.ram_disk(24)
    with open(r + "/probe", "wb") as f:
        f.write(b"x" * 1000)
    import os

    check("ram disk fallback", os.stat(r + "/probe")[6] == 1000)
    print("done")


main()
