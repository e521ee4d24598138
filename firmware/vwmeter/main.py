# SPDX-License-Identifier: MIT
# Meter entry point, on every profile:
#   unix simulator:  MICROPYPATH=firmware:hal/unix:hal/common micropython -m vwmeter.main
#   boards:          installed as /main.py (see firmware/package.json), or `import vwmeter.main`
# Prints the banner line "veriwatt-meter <version> ready ..." before the binary protocol.
import vwhal

from vwmeter import VERSION
from vwmeter.meter import Meter
from vwmeter.server import Server


def main(board=None):
    safe = getattr(vwhal, "safe_boot", None)
    if board is None and safe is not None and safe():
        print("veriwatt-meter %s: safe boot, meter not started (REPL free)" % VERSION)
        return
    b = board or vwhal.board()
    ticks = getattr(vwhal, "ticks_ms", None)
    meter = Meter(b)
    srv = Server(meter, b["serial"], ticks)
    state = "meter %s" % wire_hex(meter.prov["meter_id"]) if meter.provisioned else "unprovisioned"
    from vwcore import modexp

    b["serial"].banner(
        "veriwatt-meter %s ready (%s, %s, modexp %s)" % (VERSION, b.get("profile", "?"), state, modexp.BACKEND)
    )
    try:
        srv.run()
    except EOFError:
        pass  # unix: the host side of the line went away
    if srv.stopped:
        # yielded to the REPL (mpremote): state is on flash; reset or main() to resume
        release = getattr(b["serial"], "release", None)
        if release:
            release()
        print("veriwatt-meter stopped: %s; REPL free (reset the board to restart the meter)" % srv.stopped)


def wire_hex(b):
    return "".join("%02x" % x for x in b)


if __name__ in ("__main__", "main"):
    main()
