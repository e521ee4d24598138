# SPDX-License-Identifier: MIT
"""vwcore/agg.py is shared with the meter: the unix MicroPython must produce byte-identical
enrollment state, shares, reduced shares and noise to CPython's."""

import json
import subprocess

import pytest

from vwtest import ROOT, micropython_bin
from toygroup import TOY
from vwcore import agg
from vwcore.agg import Enrollment

pytestmark = [pytest.mark.aggregation, pytest.mark.sim]

MP_SCRIPT = r"""
import sys, json
sys.path.insert(0, '%(root)s/firmware')
from vwcore import agg
from vwcore.group import Group
G = Group('toy512', json.loads('%(grp)s'))
xs = [agg.secret_scalar(b'agg-secret-%%d' %% i, G) for i in range(%(n)d)]
members = [(b'MTR' + bytes((0, 0, 0, i, 0)), agg.public_key(x, G)) for i, x in enumerate(xs)]
ya = %(ya)d
e = agg.Enrollment.create(xs[1], members[1][0], b'feeder-17', members, ya, G)
out = {'enroll': e.to_bytes().hex(),
       'shares': [e.share(s, 100 + s).hex() for s in (0, 1, 4000000000)],
       'recovery': e.reduced_share(7, 321, [members[0][0]]).hex(),
       'noise': [agg.member_noise(b'nk', s, em, sens) for s in range(40) for em, sens in ((1000, 50), (100, 1000), (3000, 7))]}
print(json.dumps(out))
"""


def test_micropython_matches_cpython(tmp_path):
    n = 4
    grp = {"id": TOY.id, "p": TOY.p, "q": TOY.q, "g": TOY.g, "h": TOY.h, "L": TOY.L, "N": TOY.N}
    xa = agg.secret_scalar(b"aggregator", TOY)
    ya = agg.public_key(xa, TOY)
    script = tmp_path / "agg_check.py"
    script.write_text(MP_SCRIPT % {"root": ROOT, "grp": json.dumps(grp), "n": n, "ya": ya})
    r = subprocess.run([micropython_bin(), str(script)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    mp = json.loads(r.stdout.strip().splitlines()[-1])

    xs = [agg.secret_scalar(b"agg-secret-%d" % i, TOY) for i in range(n)]
    members = [(b"MTR" + bytes((0, 0, 0, i, 0)), agg.public_key(x, TOY)) for i, x in enumerate(xs)]
    e = Enrollment.create(xs[1], members[1][0], b"feeder-17", members, ya, TOY)
    assert mp["enroll"] == e.to_bytes().hex()
    assert mp["shares"] == [e.share(s, 100 + s).hex() for s in (0, 1, 4000000000)]
    assert mp["recovery"] == e.reduced_share(7, 321, [members[0][0]]).hex()
    want = [
        list(agg.member_noise(b"nk", s, em, sens))
        for s in range(40)
        for em, sens in ((1000, 50), (100, 1000), (3000, 7))
    ]
    assert mp["noise"] == want and len(set(map(tuple, want))) > 100
