# SPDX-License-Identifier: MIT
# vwmeter: the meter application (MicroPython; runs unchanged on every hal/<profile>/vwhal.py).
#   meter        Meter: the coordinator the serial server calls (one method per request)
#   keys         provisioned secrets (keys.a/.b, layout VWK2), key generation, boot epoch and entropy
#                pool (imported at boot, PROVISION and RESET only, then unloaded)
#   clockpolicy  ClockPolicy: INFO challenges (epoch, counter, uptime TTL), who may set the clock
#   metering     Metering: the reading log, slot closing (certify, catch-up), FETCH/ACK bookkeeping
#   aggstate     AggState: aggregation enrollment (agg.a/.b), release log, shares (imported on first use)
#   server, store, durable, main: serial server, segment log, write points, entry point
VERSION = "0.1.0"


class MeterError(Exception):
    """A request the meter refuses: wire error `code` and a one-line `reason`."""

    def __init__(self, code, reason):
        super().__init__(reason)
        self.code = code
        self.reason = reason


def unload(name):
    """Forget the module `name` ("pkg.mod") that is needed only now and then.  On MicroPython its
    functions, classes and globals are heap objects (frozen, its bytecode stays in flash): drop
    it from sys.modules AND from its package (which keeps every imported submodule as an
    attribute), so the heap gets them back; the next import makes them again.  A no-op on
    CPython, where module identity matters (exception classes) and there is no heap budget."""
    import sys

    if sys.implementation.name != "micropython":
        return
    sys.modules.pop(name, None)
    pkg, _, attr = name.rpartition(".")
    try:
        delattr(sys.modules[pkg], attr)
    except Exception:
        pass
