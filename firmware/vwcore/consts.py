# SPDX-License-Identifier: MIT
# Constants every layer agrees on (meter firmware, HAL profiles, host), defined once here.
# The HAL imports this module too (hal/common: the clocks count slots of this length), so it
# stays free of imports.

SLOT_SECONDS = 1800  # one metering slot: the half hour starting at unix time slot * 1800 (UTC)
