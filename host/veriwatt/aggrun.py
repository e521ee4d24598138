# SPDX-License-Identifier: MIT
"""The grid operator's aggregation of many groups on Dask (issue 14): `veriwatt aggregate run`.

A folder holds, per aggregation group NAME, the aggregator's group file groups/NAME.group.json
(the format `veriwatt aggregate enroll` writes, with its aggregator_secret: private) and the
shares collected for it, shares/NAME.shares.json ({"shares": [HEX, ...]}, the format of
`aggregate collect --save-shares`). Each group is one Dask task (`run_group`): the worker loads
the group (deriving its members' MAC keys), adds the shares with veriwatt.bulkagg (the
Aggregator's rules, in bulk) and returns per slot the sums or what is still awaited, and the
refused shares with their reasons. The client writes results/NAME.result.json (atomic; the same
input gives the same file, so a re-run task -- a worker died -- changes nothing) and returns a
summary. Secrets stay in the worker's memory and are never sent back.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from vwcore import agg
from vwcore import group as _group

from . import jsonio
from .errors import VeriwattError

RESULT_FORMAT = "veriwatt-agg-run/1"


def group_names(folder: str) -> List[str]:
    d = Path(folder) / "groups"
    if not d.is_dir():
        raise VeriwattError("%s has no groups/ folder (groups/NAME.group.json, shares/NAME.shares.json)" % folder)
    return sorted(p.name[: -len(".group.json")] for p in d.glob("*.group.json"))


def run_group(folder: str, name: str) -> Dict[str, Any]:
    """One group's results (a Dask task; also callable directly)."""
    from .aggregate import GroupFile, _load_shares
    from .bulkagg import BulkAggregator

    d = Path(folder)
    gf = GroupFile(jsonio.load(str(d / "groups" / (name + ".group.json")), "group", "aggregation"), name)
    A = gf.aggregator()
    shares = _load_shares(str(d / "shares" / (name + ".shares.json")))
    rep = BulkAggregator(A).add_shares(shares)
    slots = sorted(
        {int.from_bytes(s[24:28], "big") for s in shares if len(s) == agg.SHARE_LEN and s[: agg.GID_LEN] == A.gid}
    )
    out = []
    for t in slots:
        try:
            r = A.result(t)
            out.append(r.as_json())
        except agg.AggError as e:
            out.append({"slot": t, "waiting": str(e)})
    return {
        "format": RESULT_FORMAT,
        "group": name,
        "gid": A.gid.hex(),
        "members": len(A.ids),
        "shares": len(shares),
        "accepted": rep.accepted,
        "resent": rep.resent,
        "refused": [{"index": i, "reason": why} for i, why in rep.refused],
        "slots": out,
    }


def run(
    folder: str,
    scheduler: Optional[str] = None,
    workers: int = 2,
    client: Any = None,
    progress: Optional[Callable[[int], None]] = None,
) -> Dict[str, Any]:
    """Every group of the folder on Dask; results/NAME.result.json per group; the summary."""
    from distributed import as_completed

    from .scale import _close, make_client

    t0 = time.perf_counter()
    names = group_names(folder)
    folder = str(Path(folder).resolve())
    own = client is None
    c = client or make_client(scheduler, workers)
    summary: Dict[str, Any] = {
        "groups": len(names),
        "shares": 0,
        "accepted": 0,
        "refused": 0,
        "slots": 0,
        "problems": [],
    }
    try:
        futs = [c.submit(run_group, folder, n, key="aggregate-run-" + n, retries=2) for n in names]
        for fut in as_completed(futs):
            _collect(folder, fut.result(), summary)
            if progress:
                progress(1)
    finally:
        if own:
            _close(c)
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    return summary


def _collect(folder: str, res: Dict[str, Any], summary: Dict[str, Any]) -> None:
    jsonio.write(os.path.join(folder, "results", res["group"] + ".result.json"), res)
    summary["shares"] += res["shares"]
    summary["accepted"] += res["accepted"]
    summary["refused"] += len(res["refused"])
    summary["slots"] += len(res["slots"])
    summary["problems"] += [{"group": res["group"], "reason": r["reason"]} for r in res["refused"][:5]]


def synthetic(folder: str, groups: int, size: int, slots: List[int], seed: int = 1) -> None:
    """Test data: `groups` groups of `size` members with real keys (DH enrollment), their
    aggregator group files (private) and every member's share for each slot."""
    from .aggregation import Aggregator
    from .aggregate import GROUP_FORMAT

    rnd = random.Random(seed)
    G = _group.DEFAULT
    d = Path(folder)
    for g in range(groups):
        xs = [agg.secret_scalar(rnd.getrandbits(256).to_bytes(32, "big"), G) for _ in range(size)]
        members = [(b"AG%02dM%03d" % (g, i), agg.public_key(x, G)) for i, x in enumerate(xs)]
        x_agg = agg.secret_scalar(rnd.getrandbits(256).to_bytes(32, "big"), G)
        A = Aggregator(b"feeder-%d" % g, members, x_agg, G)
        gd = {
            "format": GROUP_FORMAT,
            "label": "feeder-%d" % g,
            "group": G.name,
            "gid": A.gid.hex(),
            "epsilon": 0.0,
            "sensitivity_wh": 0,
            "aggregator_pub": "%x" % A.pub,
            "aggregator_secret": "%x" % x_agg,
            "members": [{"meter_id": m.hex(), "agg_pub": "%x" % y, "port": ""} for m, y in members],
        }
        jsonio.write(str(d / "groups" / ("g%03d.group.json" % g)), gd, private=True)
        ens = [agg.Enrollment.create(x, m, b"feeder-%d" % g, members, A.pub, G) for x, (m, _) in zip(xs, members)]
        shares = [e.share(t, rnd.randrange(0, 3000)).hex() for t in slots for e in ens]
        jsonio.write(str(d / "shares" / ("g%03d.shares.json" % g)), {"shares": shares})
