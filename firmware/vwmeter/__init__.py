# vwmeter: the meter application (MicroPython; runs unchanged on every hal/<profile>/vwhal.py).
VERSION = "0.1.0"
