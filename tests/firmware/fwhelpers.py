# SPDX-License-Identifier: MIT
"""Shared helpers for tests/firmware: paths, micropython environment."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRMWARE = ROOT / "firmware"
HAL_UNIX = ROOT / "hal" / "unix"
HAL_COMMON = ROOT / "hal" / "common"
HERE = Path(__file__).resolve().parent
SIMULATORS = ROOT / "simulators"  # stepclock.py
MICROPYTHON = Path(sys.executable).parent / "micropython"


def mp_path(*extra) -> str:
    """MICROPYPATH for the unix micropython: firmware (vwmeter, vwcore), hal/unix, hal/common, simulators."""
    parts = [str(p) for p in extra] + [str(FIRMWARE), str(HAL_UNIX), str(HAL_COMMON), str(SIMULATORS), ".frozen"]
    return ":".join(parts)


def mp_env(**kw) -> dict:
    env = dict(os.environ)
    env["MICROPYPATH"] = mp_path(HERE)
    env.pop("VW_CRASH_AT", None)
    for k, v in kw.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = str(v)
    return env


def cpython_paths():
    for p in (FIRMWARE, HAL_UNIX, HAL_COMMON, HERE, SIMULATORS):
        if str(p) not in sys.path:
            sys.path.insert(0, str(p))


def keys_on_flash(root) -> dict:
    """The secrets a provisioned meter keeps in its flash (keys.a/.b under its storage root), read
    the way an attacker with physical access to a simulated meter's flash would: tests that must
    check records against keys the meter made itself use this (no host file has them)."""
    cpython_paths()
    from vwmeter import durable
    from vwmeter import keys

    raw = durable.SmallState(str(Path(root) / "keys")).load()
    if raw is None:
        raise AssertionError("no provisioned keys under %s" % root)
    return keys.decode_keys(raw)
