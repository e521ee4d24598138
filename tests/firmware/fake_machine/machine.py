# SPDX-License-Identifier: MIT
# A FAKE `machine` module for the unix micropython, just enough for hal/common/vwmachine.py:
# lets tests import and drive the esp32/stm32 vwhal profiles.  It proves nothing about
# real silicon; it checks our use of the documented API shapes and our arithmetic.
import time

_irq_state = [True]


def disable_irq():
    s = _irq_state[0]
    _irq_state[0] = False
    return s


def enable_irq(state):
    _irq_state[0] = state


class Pin:
    IN = 1
    OUT = 2
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_FALLING = 2
    IRQ_RISING = 1
    instances = {}

    def __init__(self, pin, mode=-1, pull=None):
        self.id = pin
        self.mode = mode
        self.pull = pull
        self.handler = None
        self.trigger = None
        Pin.instances[pin] = self

    def irq(self, handler=None, trigger=IRQ_FALLING):
        self.handler = handler
        self.trigger = trigger

    def fire(self):
        # simulate one falling edge (the test spaces them in time for the debounce)
        if self.handler is not None:
            self.handler(self)

    def value(self, v=None):
        return 1  # buttons read as released (pull-up)


class RTC:
    _dt = (2000, 1, 1, 5, 0, 0, 0, 0)

    def datetime(self, dt=None):
        if dt is None:
            return RTC._dt
        RTC._dt = tuple(dt)


class UART:
    instances = {}

    def __init__(self, uid, baudrate=115200, tx=None, rx=None, **kw):
        self.id = uid
        self.baudrate = baudrate
        self.pins = (tx, rx)
        self.rxbuf = bytearray()
        self.txbuf = bytearray()
        UART.instances[uid] = self

    def any(self):
        return len(self.rxbuf)

    def read(self, n=-1):
        if not self.rxbuf:
            return None
        n = len(self.rxbuf) if n < 0 else n
        b = bytes(self.rxbuf[:n])
        self.rxbuf = self.rxbuf[n:]
        return b

    def write(self, b):
        self.txbuf += b
        return len(b)


def ticks_sleep():
    time.sleep_ms(25)
