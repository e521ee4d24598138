# SPDX-License-Identifier: MIT
"""Errors the CLI turns into one-line messages and documented exit codes."""

import sys

# Exit codes (documented in README and `veriwatt --help`); scripts can rely on them.
EXIT_OK = 0
EXIT_INVALID = 1  # a verification failed: bill, signature, proof, completeness
EXIT_USAGE = 2  # bad arguments, missing or malformed input files
EXIT_DEVICE = 3  # serial/device trouble: no answer, port missing, protocol error
EXIT_INTERNAL = 4  # a bug: please report with the command line


class VeriwattError(Exception):
    """An error with a message meant for the user and an exit code."""

    exit_code = EXIT_USAGE


class InvalidError(VeriwattError):
    exit_code = EXIT_INVALID


class DeviceError(VeriwattError):
    exit_code = EXIT_DEVICE

    def __init__(self, message: str, meter_code: "int | None" = None) -> None:
        super().__init__(message)
        self.meter_code = meter_code  # the meter's ERROR code (wire.E_*) when the meter refused


def stderr_note(msg: str) -> None:
    """The default `note` of the library functions (veriwatt.api): a remark such as "note: the
    meter's key was trusted on first use" goes to stderr as one line, like a warning. Library
    callers that want them elsewhere pass their own callable."""
    print("veriwatt: %s" % msg, file=sys.stderr, flush=True)
