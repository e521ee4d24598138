# SPDX-License-Identifier: MIT
"""Re-export of the CPython binding ``vwcrypto`` (crypto_c/cpython/vwcrypto): the constant-time
modexp library under the name the firmware uses. New code imports ``vwcrypto`` directly."""

from vwcrypto import *  # noqa: F401,F403
from vwcrypto import __all__, __version__  # noqa: F401
