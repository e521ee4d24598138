#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Bulk aggregation throughput (veriwatt.bulkagg) for 10,000 meters: 200 feeder groups of 50,
several slots per batch, the same synthetic groups as tools/bench_agg.py; used by
tools/bench_scale.py. Shares per CPU-second (process time: per core), MAC checks, bookkeeping
and the slots' results (Aggregator.result: sums, members) included; each pass on fresh
aggregators (Aggregator.from_keys) over the same shares.

data(masked=True) makes every share with the member's real code (vwcore.agg.Enrollment.share:
49 pair masks each, slow to build); masked=False packs random c1, c2 under the member's real
MAC (vwcore.agg's share format and tag): the aggregator's work is the same (it checks MACs,
never masks), only the sums are random. Used for a day's batch (48 slots)."""

import os
import random
import struct
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "firmware"))
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, os.path.join(ROOT, "tools"))

from bench_agg import synthetic_group  # noqa: E402

from veriwatt.aggregation import Aggregator  # noqa: E402
from veriwatt.bulkagg import _BODY, _PREFIX, BulkAggregator  # noqa: E402
from vwcore import agg, kdf  # noqa: E402

SLOT0 = 1000


def _unmasked(e, slot, rnd):
    body = struct.pack(agg._SHARE_HEAD, e.gid, e.member_id, slot, rnd.getrandbits(64), rnd.getrandbits(64))
    return body + kdf.hmac_sha256(e.mac_key, _PREFIX + body)[: agg.TAG_LEN]


def data(groups=200, size=50, slots=4, masked=True):
    """[(gid, MAC keys, the group's shares for `slots` slots)]."""
    rnd = random.Random(1)
    out = []
    for g in range(groups):
        ens, A = synthetic_group(g, size, rnd)
        if masked:
            ss = [e.share(SLOT0 + t, rnd.randrange(0, 3000)) for t in range(slots) for e in ens]
        else:
            ss = [_unmasked(e, SLOT0 + t, rnd) for t in range(slots) for e in ens]
        out.append((A.gid, dict(A.keys), ss))
    return out


def _slots(d):
    return len(d[0][2]) // len(d[0][1])


def _rate(d, dt):
    return sum(len(ss) for _, _, ss in d) / dt


def before(d):
    """Aggregator.add_share share by share (tools/bench_agg.py), then each slot's result."""
    aggs = [Aggregator.from_keys(gid, keys) for gid, keys, _ in d]
    slots = _slots(d)
    t0 = time.process_time()
    for A, (_, _, ss) in zip(aggs, d):
        for s in ss:
            A.add_share(s)
        for t in range(slots):
            A.result(SLOT0 + t)
    return _rate(d, time.process_time() - t0)


def baseline(rev):
    """(Aggregator, BulkAggregator) of git revision rev (its host/veriwatt/aggregation.py and
    bulkagg.py, loaded as a package of their own from a temporary folder): the code before a
    change, measured in the same run as the change."""
    import importlib
    import subprocess
    import tempfile

    d = tempfile.mkdtemp(prefix="vw-bulkagg-base-")
    pkg = "vw_base_" + rev.replace("-", "_").replace("/", "_").replace("~", "_").replace("^", "_")
    os.mkdir(os.path.join(d, pkg))
    open(os.path.join(d, pkg, "__init__.py"), "w").close()
    for f in ("aggregation.py", "bulkagg.py"):
        src = subprocess.run(
            ["git", "-C", ROOT, "show", "%s:host/veriwatt/%s" % (rev, f)], check=True, capture_output=True
        ).stdout
        with open(os.path.join(d, pkg, f), "wb") as out:
            out.write(src)
    sys.path.insert(0, d)
    return importlib.import_module(pkg + ".aggregation").Aggregator, importlib.import_module(
        pkg + ".bulkagg"
    ).BulkAggregator


def throughput(d, native=None, impl=None):
    """BulkAggregator.add_shares of each group's batch, then each slot's result. The
    BulkAggregators (the members' HMAC key states) are made once per group and aggregator run,
    before the clock starts. impl: (Aggregator, BulkAggregator) classes to measure instead of
    this tree's (baseline())."""
    Agg, Bulk = impl or (Aggregator, BulkAggregator)
    aggs = [Agg.from_keys(gid, keys) for gid, keys, _ in d]
    bulks = [Bulk(A, native=native) for A in aggs]
    slots = _slots(d)
    t0 = time.process_time()
    for B, (_, _, ss) in zip(bulks, d):
        rep = B.add_shares(ss)
        assert rep.accepted == len(ss), rep.refused[:1]
        for t in range(slots):
            B.A.result(SLOT0 + t)
    return _rate(d, time.process_time() - t0)


def parts(d):
    """Where the bulk path's time goes (CPU us per share): the C MAC kernel alone (one call per
    group), the whole add_shares, and Aggregator.result per slot."""
    aggs = [Aggregator.from_keys(gid, keys) for gid, keys, _ in d]
    bulks = [BulkAggregator(A) for A in aggs]
    n, slots = sum(len(ss) for _, _, ss in d), _slots(d)

    work = [
        (B, b"".join(ss), np.array([B._mids.index(s[16:24]) for s in ss], dtype=np.int64))
        for B, (_, _, ss) in zip(bulks, d)
    ]
    t0 = time.process_time()
    for B, buf, rows in work:
        B._states.check(buf, agg.SHARE_LEN, _BODY, rows)
    t_mac = time.process_time() - t0
    t0 = time.process_time()
    for B, (_, _, ss) in zip(bulks, d):
        B.add_shares(ss)
    t_add = time.process_time() - t0
    t0 = time.process_time()
    for A in aggs:
        for t in range(slots):
            A.result(SLOT0 + t)
    t_res = time.process_time() - t0
    us = 1e6 / n
    return {
        "mac_kernel_us": round(t_mac * us, 3),
        "add_shares_us": round(t_add * us, 3),
        "result_us": round(t_res * us, 3),
    }


def forged(d, impl=None):
    """A flood of forged shares: every share of d with one byte of c1 changed (its MAC fails),
    through BulkAggregator.add_shares; forged shares refused per CPU-second (each refusal with
    add_share's reason). impl as in throughput()."""
    Agg, Bulk = impl or (Aggregator, BulkAggregator)
    bad = [[s[:30] + bytes([s[30] ^ 1]) + s[31:] for s in ss] for _, _, ss in d]
    bulks = [Bulk(Agg.from_keys(gid, keys)) for gid, keys, _ in d]
    t0 = time.process_time()
    for B, ss in zip(bulks, bad):
        rep = B.add_shares(ss)
        assert rep.accepted == 0 and len(rep.refused) == len(ss) and "bad MAC" in rep.refused[0][1]
    return _rate(d, time.process_time() - t0)
