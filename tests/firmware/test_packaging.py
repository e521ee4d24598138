# SPDX-License-Identifier: MIT
"""mip package.json and freezing manifest list every firmware file (no device needed)."""

from __future__ import annotations

import json
import os

import pytest

from fwhelpers import FIRMWARE, ROOT

pytestmark = pytest.mark.sim


def py_files(sub):
    return sorted("%s/%s" % (sub, f) for f in os.listdir(FIRMWARE / sub) if f.endswith(".py"))


def test_package_json_complete():
    pkg = json.loads((FIRMWARE / "package.json").read_text())
    dests = [d for d, _ in pkg["urls"]]
    assert set(py_files("vwcore") + py_files("vwmeter")) <= set(dests)
    for _d, src in pkg["urls"]:
        assert (FIRMWARE / src).resolve().exists(), src


@pytest.mark.reliability
@pytest.mark.parametrize("prof", ["esp32", "stm32", "qemu"])
def test_hal_package_json_location_independent(prof):
    """A board's package is self-contained: every URL is relative to the package.json's own
    folder (mip resolves them so, wherever mpremote runs), and there are no deps (mip opens a
    local dep's path relative to the cwd: "Error opening firmware/package.json" elsewhere)."""
    here = ROOT / "hal" / prof
    p = json.loads((here / "package.json").read_text())
    assert p["deps"] == []
    dests = [d for d, _ in p["urls"]]
    need = py_files("vwcore") + py_files("vwmeter") + ["vwhal.py", "vwload.py", "vwclock.py", "vwstdio.py"]
    assert set(need) <= set(dests)
    assert ("vwmachine.py" in dests) == (prof != "qemu")
    for _d, src in p["urls"]:
        assert not src.startswith("/") and (here / src).resolve().is_file(), src


@pytest.mark.parametrize("hal", ["qemu", "esp32", "stm32", "unix"])
def test_manifest_paths(hal, monkeypatch):
    got = []

    def package(name, base_path):
        assert (ROOT / base_path / name / "__init__.py").exists()
        got.append(name)

    def module(name, base_path):
        assert (ROOT / base_path / name).exists(), (base_path, name)
        got.append(name)

    monkeypatch.setenv("VW_HAL", hal)
    src = (FIRMWARE / "manifest.py").read_text()
    exec(
        compile(src, str(FIRMWARE / "manifest.py"), "exec"),
        {"package": package, "module": module, "__file__": str(FIRMWARE / "manifest.py")},
    )
    assert {"vwcore", "vwmeter", "vwhal.py", "vwload.py"} <= set(got)


@pytest.mark.parametrize("hal", ["qemu", "esp32"])
def test_manifest_with_micropython_tool(hal, tmp_path):
    import subprocess
    import sys

    tool = ROOT / "build" / "micropython" / "tools" / "manifestfile.py"
    if not tool.exists():
        pytest.skip("build/micropython is missing (make setup)")
    r = subprocess.run(
        [sys.executable, str(tool), "--freeze", str(FIRMWARE / "manifest.py")],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env=dict(os.environ, VW_HAL=hal),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "target_path='vwmeter/store.py'" in r.stdout and "target_path='vwhal.py'" in r.stdout
    assert ("hal/%s/vwhal.py" % hal) in r.stdout


@pytest.mark.parametrize("billing", ["1", "0"])
def test_manifest_meter_billing_flag(billing, tmp_path):
    """VW_METER_BILLING=0 (for a board without the flash for it) freezes
    everything but vwcore/meterbill.py and vwmeter/billing.py; by default they are frozen."""
    import subprocess
    import sys

    tool = ROOT / "build" / "micropython" / "tools" / "manifestfile.py"
    if not tool.exists():
        pytest.skip("build/micropython is missing (make setup)")
    r = subprocess.run(
        [sys.executable, str(tool), "--freeze", str(FIRMWARE / "manifest.py")],
        capture_output=True,
        text=True,
        cwd=str(tmp_path),
        env=dict(os.environ, VW_HAL="stm32", VW_METER_BILLING=billing),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "target_path='vwmeter/store.py'" in r.stdout and "target_path='vwcore/wire.py'" in r.stdout
    for f in ("vwcore/meterbill.py", "vwmeter/billing.py"):
        assert ("target_path='%s'" % f in r.stdout) == (billing == "1"), f
