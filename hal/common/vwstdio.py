# SPDX-License-Identifier: MIT
# Serial line on sys.stdin.buffer / sys.stdout.buffer for bare-metal ports whose REPL UART is
# the meter's line (qemu board, and the stm32/esp32 fallback).  read(n, timeout_ms) returns
# up to n bytes (b"" on timeout) using select.poll when the port has it; without select
# (stock qemu port: MICROPY_PY_SELECT=0, mp_hal_stdio_poll unimplemented) it falls back to a
# blocking one-byte read, so timeouts are not honoured and slots close only between frames.
# The line is also the REPL's (repl_line): a read stops right after a Ctrl-C (0x03) byte, so
# that the bytes a tool like mpremote sends after its interrupt (Ctrl-A: raw REPL) stay unread
# for the REPL when the meter yields (vwmeter/server.py); release() gives Ctrl-C back.
import sys

try:
    import select
except ImportError:
    select = None


class StdioSerial:
    repl_line = True  # the MicroPython REPL shares this line: the meter yields to an interrupt

    def __init__(self, ticks_ms=None):
        self._in = sys.stdin.buffer
        self._out = sys.stdout.buffer
        self._poll = None
        try:
            import micropython

            micropython.kbd_intr(-1)  # binary frames may contain 0x03
        except Exception:
            pass
        if select is not None and hasattr(select, "poll"):
            try:
                self._poll = select.poll()
                self._poll.register(self._in, select.POLLIN)
            except Exception:
                self._poll = None
        self.can_timeout = self._poll is not None

    def read(self, n, timeout_ms):
        out = b""
        wait = timeout_ms
        while len(out) < n:
            if self._poll is not None:
                ev = self._poll.poll(wait)
                if not ev:
                    break
                if not (ev[0][1] & select.POLLIN):
                    if out:
                        break  # hand over what came before the hang-up; the next read raises
                    raise EOFError("serial hangup")
            elif out:
                break  # no poll: return what we have rather than block a second time
            b = self._in.read(1)
            if not b:
                if out:
                    break
                raise EOFError("serial closed")
            out += b
            wait = 0
            if b == b"\x03" and self.repl_line:
                break  # leave what follows a Ctrl-C to the REPL if the meter yields
        return out

    def release(self):
        """Give the line back to the REPL: Ctrl-C interrupts again."""
        try:
            import micropython

            micropython.kbd_intr(3)
        except Exception:
            pass

    def write(self, b):
        self._out.write(b)
        if hasattr(self._out, "flush"):
            self._out.flush()

    def banner(self, line):
        # Human-readable line printed before the binary protocol starts.
        self.write(line.encode() + b"\r\n")
