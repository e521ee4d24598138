# SPDX-License-Identifier: MIT
"""docs/API.md: its examples run as written, against simulated meters (the real firmware on the
unix MicroPython behind ptys), and the published API (veriwatt.api.__all__) matches its reference."""

from __future__ import annotations

import inspect
import os
import re
import stat
from pathlib import Path

import pytest

from veriwatt import api, device, jsonio

DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"


def _blocks(text: str):
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.mark.packaging
def test_published_api_matches_the_docs():
    """Every name in api.__all__ has a reference section, every section names a published name,
    and every published function is documented in code (docstring)."""
    text = DOC.read_text()
    documented = re.findall(r"^### `([A-Za-z_]+)`", text, flags=re.M)
    assert len(documented) == len(set(documented)), "a name is documented twice"
    assert set(documented) == set(api.__all__), set(api.__all__) ^ set(documented)
    for name in api.__all__:
        obj = getattr(api, name)
        if inspect.isfunction(obj):
            assert inspect.getdoc(obj), name
            assert "api.%s(" % name in text, "%s: no signature in docs/API.md" % name


@pytest.mark.packaging
def test_the_api_never_takes_an_argparse_namespace():
    for name in api.__all__:
        obj = getattr(api, name)
        if inspect.isfunction(obj):
            for p in inspect.signature(obj).parameters.values():
                assert "Namespace" not in str(p.annotation) and p.name != "args", (name, p)


@pytest.mark.slow
@pytest.mark.sim
def test_api_examples_run(tmp_path, monkeypatch):
    blocks = _blocks(DOC.read_text())
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("VERIWATT_CODE", raising=False)
    monkeypatch.setenv("VERIWATT_HOME", str(tmp_path / "home"))
    sim = device.start_sim(3, str(tmp_path / "sim"), 300000, "none")
    try:
        ns = {"ports": [m.port for m in sim.meters]}
        for i, code in enumerate(blocks):
            try:
                exec(compile(code, "docs/API.md python block %d" % (i + 1), "exec"), ns)
            except Exception as e:  # name the block that failed
                raise AssertionError("docs/API.md python block %d failed: %r\n%s" % (i + 1, e, code)) from e
    finally:
        sim.stop()
    assert (tmp_path / "aggregate.json").exists() and (tmp_path / "total.json").exists()
    assert stat.S_IMODE(os.stat(tmp_path / "group.json").st_mode) == 0o600  # the aggregator's secret


# ------------------------------------------------------------------ private files (jsonio)
@pytest.mark.security
@pytest.mark.parametrize("how", ["write", "create_private"])
def test_a_secret_file_is_never_readable_by_others(tmp_path, monkeypatch, how):
    """Even with umask 0, a private file is 0600 from the instant it exists: the mode is checked on
    the open file descriptor before a byte is written (no chmod afterwards)."""
    seen = []
    real_fdopen = os.fdopen

    def spy(fd, *a, **kw):
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *a, **kw)

    monkeypatch.setattr(jsonio.os, "fdopen", spy)
    old = os.umask(0)
    try:
        path = tmp_path / "secret.json"
        if how == "write":
            jsonio.write(str(path), {"secret": "ab" * 32}, private=True)
        else:
            jsonio.create_private(str(path), {"secret": "ab" * 32})
        public = tmp_path / "public.json"
        jsonio.write(str(public), {"public": 1})
    finally:
        os.umask(old)
    assert seen and seen[0] == 0o600, seen
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(public.stat().st_mode) == 0o666  # umask 0: only private files are restricted


def test_create_private_never_overwrites(tmp_path):
    path = tmp_path / "meter.admin.json"
    jsonio.create_private(str(path), {"a": 1})
    with pytest.raises(api.VeriwattError, match="exists already"):
        jsonio.create_private(str(path), {"a": 2})
    assert jsonio.load(str(path), "admin") == {"a": 1}
