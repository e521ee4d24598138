# vwcore: code shared by the meter firmware (MicroPython) and the host (CPython).
# Everything in this package is written in the Python subset both interpreters run.
