# SPDX-License-Identifier: MIT
"""The frozen meter's heap budget (48 KB): on MicroPython the meter does not keep the modules it
needs only at boot, PROVISION and RESET (vwmeter.keys, vwcore.agg for the aggregation public
key) nor the aggregation state of a meter that never aggregates (vwmeter.aggstate): each is
dropped from sys.modules and from its package (vwmeter.unload).  Run on the real unix
MicroPython; the heap numbers of the frozen board are tools/bench_meter_heap.py's."""

import subprocess

from fwhelpers import HERE, MICROPYTHON, mp_env


def test_meter_unloads_what_it_needs_only_now_and_then(tmp_path):
    r = subprocess.run(
        [str(MICROPYTHON), str(HERE / "mp_unload.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=mp_env(),
    )
    assert r.returncode == 0, r.stdout + r.stderr
    lines = dict(ln.split(" ", 1) for ln in r.stdout.splitlines())
    for stage in ("boot", "provisioned", "reboot"):
        assert lines[stage] == "vwmeter.keys=0 vwcore.agg=0 vwmeter.aggstate=0 vwcore.auth=0", (stage, r.stdout)
    # (vwcore.auth is loaded by the script itself for the RESET tag, and stays once used)
    assert lines["reset"].startswith("vwmeter.keys=0 vwcore.agg=0 vwmeter.aggstate=0 "), r.stdout
    assert lines["after_reset"] == "provisioned=0", r.stdout
