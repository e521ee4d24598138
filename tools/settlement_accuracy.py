#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Accuracy of settlement from sampled disclosures on a synthetic population (issue 15,
docs/COMPUTATIONS.md section 4): writes docs/settlement_accuracy.png and prints the table
of docs/COMPUTATIONS.md.

    tools/settlement_accuracy.py [--meters 3000] [--beacons 8] [--plot docs/settlement_accuracy.png]

Population: --meters households for November 2026 (1440 half-hours), four load shapes
(day worker, home all day, night storage heating, small business) with a log-normal size
per household, Gaussian noise and occasional 1-4 kWh spikes (kettle, oven, car). Each
beacon is a fresh 32-byte value; each meter discloses the slots veriwatt.sampling selects
(the same rule, SHA-256(DST || beacon || meter id || slot) mod rate == 0, checked against
sampling.selected). The supplier's estimate of a total is rate x the sum of the disclosed
readings (Horvitz-Thompson); we report the relative RMS error over beacons of the month's
total and of the daily totals (30 settlement days), for populations of N meters (the first
N of the population) and rates 1 in 10, 100, 1000, with the predicted error
sqrt((rate - 1) * sum m^2) / total.
"""

import argparse
import hashlib
import math
import os
import random
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "host"))
sys.path.insert(0, os.path.join(ROOT, "firmware"))

import numpy as np  # noqa: E402

from veriwatt import sampling, slots  # noqa: E402

A, B = slots.month_range("2026-11", "UTC")
N_SLOTS = B - A
RATES = (10, 100, 1000)
SIZES = (100, 300, 1000, 3000)


def population(n: int, seed: int = 15) -> np.ndarray:
    """n x N_SLOTS readings in Wh per half-hour (0..65535)."""
    rng = np.random.default_rng(seed)
    hh = (np.arange(A, B) % 48) / 2.0
    shapes = np.array(
        [
            np.where((hh >= 17) & (hh < 22), 900, np.where((hh >= 7) & (hh < 9), 400, 150)),
            np.where((hh >= 8) & (hh < 22), 500, 150),
            np.where(hh < 7, 1400, 250),
            np.where((hh >= 9) & (hh < 18), 1500, 200),
        ],
        dtype=float,
    )
    kind = rng.integers(0, 4, n)
    size = rng.lognormal(0.0, 0.4, n)
    x = shapes[kind] * size[:, None]
    x = x + rng.normal(0, 1, x.shape) * x / 3
    x = x + (rng.random(x.shape) < 0.02) * rng.integers(1000, 4000, x.shape)
    return np.clip(np.rint(x), 0, 65535).astype(np.int64)


def residues(value: bytes, n: int) -> np.ndarray:
    """n x N_SLOTS: the selection hash mod 1000 (mod 10 and mod 100 follow: 10 | 100 | 1000)."""
    base = hashlib.sha256(len(sampling.DST).to_bytes(4, "big") + sampling.DST + value)
    out = np.empty((n, N_SLOTS), dtype=np.int64)
    for i in range(n):
        hm = base.copy()
        hm.update(meter_id(i))
        for j, t in enumerate(range(A, B)):
            h = hm.copy()
            h.update(t.to_bytes(4, "big"))
            out[i, j] = int.from_bytes(h.digest(), "big") % 1000
    return out


def meter_id(i: int) -> bytes:
    return b"SYN" + i.to_bytes(5, "big")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--meters", type=int, default=max(SIZES))
    ap.add_argument("--beacons", type=int, default=8)
    ap.add_argument("--plot", default=os.path.join(ROOT, "docs", "settlement_accuracy.png"))
    a = ap.parse_args()
    sizes = [s for s in SIZES if s <= a.meters]
    X = population(a.meters)
    rnd = random.Random(2026)
    values = [bytes(rnd.getrandbits(8) for _ in range(32)) for _ in range(a.beacons)]
    res = {}  # (rate, N) -> lists of relative errors
    for v in values:
        R = residues(v, a.meters)
        for i, j in ((0, 0), (a.meters - 1, N_SLOTS - 1)):
            assert sampling.selected(v, meter_id(i), A + j, 1000) == (R[i, j] == 0)
        for rate in RATES:
            sel = (R % rate) == 0
            for n in sizes:
                x, s = X[:n], sel[:n]
                est_days = rate * (x * s).reshape(n, 30, 48).sum(axis=(0, 2))
                true_days = x.reshape(n, 30, 48).sum(axis=(0, 2))
                r = res.setdefault((rate, n), {"month": [], "day": []})
                r["month"].append(est_days.sum() / true_days.sum() - 1)
                r["day"].extend(list(est_days / true_days - 1))
    print("| meters | rate | month total: RMS error | predicted | daily totals: RMS error | predicted |")
    print("|---:|---:|---:|---:|---:|---:|")
    rows = []
    for rate in RATES:
        for n in sizes:
            x = X[:n]
            pm = math.sqrt((rate - 1) * float((x.astype(float) ** 2).sum())) / float(x.sum())
            d = x.reshape(n, 30, 48)
            pd = float(np.mean(np.sqrt((rate - 1) * (d.astype(float) ** 2).sum(axis=(0, 2))) / d.sum(axis=(0, 2))))
            em = math.sqrt(np.mean(np.square(res[(rate, n)]["month"])))
            ed = math.sqrt(np.mean(np.square(res[(rate, n)]["day"])))
            rows.append((rate, n, em, ed, pm, pd))
            print(
                "| %d | 1 in %d | %.2f %% | %.2f %% | %.2f %% | %.2f %% |"
                % (n, rate, 100 * em, 100 * pm, 100 * ed, 100 * pd)
            )
    plot(rows, sizes, a.plot, a.beacons)


def plot(rows, sizes, path, beacons) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, k, pk, title in ((axes[0], 2, 4, "month total"), (axes[1], 3, 5, "daily totals (30 days)")):
        for rate, style in zip(RATES, ("o-", "s-", "^-")):
            rr = [r for r in rows if r[0] == rate]
            (line,) = ax.plot([r[1] for r in rr], [100 * r[k] for r in rr], style, label="1 in %d measured" % rate)
            ax.plot([r[1] for r in rr], [100 * r[pk] for r in rr], ":", color=line.get_color(), label="predicted")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("meters in the population")
        ax.set_title("relative RMS error of the %s" % title)
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("% of the true total")
    axes[1].legend(fontsize=8)
    fig.suptitle("Settlement from sampled disclosures (synthetic households, November, %d beacons)" % beacons)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    print("wrote %s" % path)


if __name__ == "__main__":
    main()
