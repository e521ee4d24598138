# SPDX-License-Identifier: MIT
"""veriwatt: host side of privacy-friendly smart metering (fetch, verify, bill, aggregate)."""

__version__ = "0.1.0"
