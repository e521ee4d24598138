# SPDX-License-Identifier: MIT
"""PNG of a customer's consumption with the tariff's bands, drawn locally (matplotlib, optional)."""

from __future__ import annotations

from typing import Any, List, Sequence

from . import slots as _slots
from .errors import VeriwattError

COLORS = ["#dbe9f6", "#fde0c5", "#d9f0d3", "#f3d1e6", "#eeeeee", "#fff3b0", "#d4d4f7"]


def plot_consumption(slot_list: Sequence[int], wh: Sequence[int], tariff: Any, out: str, title: str = "") -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch
    except ImportError:
        raise VeriwattError("plots need matplotlib: pip install 'veriwatt[plot]'")
    if not slot_list:
        raise VeriwattError("nothing to plot: no readings in the period")
    times = [_slots.slot_start(t) for t in slot_list]
    fig, ax = plt.subplots(figsize=(12, 4.5), dpi=100)
    handles: List[Any] = []
    if tariff is not None:
        names = [tariff.band(t).name for t in slot_list]
        prices = [tariff.band(t).price for t in slot_list]
        palette = {}
        for n in names:
            palette.setdefault(n, COLORS[len(palette) % len(COLORS)])
        i = 0
        while i < len(slot_list):
            j = i
            while j + 1 < len(slot_list) and names[j + 1] == names[i] and slot_list[j + 1] == slot_list[j] + 1:
                j += 1
            ax.axvspan(times[i], _slots.slot_start(slot_list[j] + 1), color=palette[names[i]], lw=0)
            i = j + 1
        handles = [
            Patch(color=c, label="%s (%s)" % (n, next(p for nm, p in zip(names, prices) if nm == n)))
            for n, c in palette.items()
        ]
        ax2 = ax.twinx()
        ax2.step(times, prices, where="post", color="#b04040", lw=0.8, alpha=0.8)
        ax2.set_ylabel("price (tariff units)", color="#b04040")
    ax.plot(times, wh, color="#1f4e79", lw=0.8)
    ax.set_ylabel("Wh per half hour")
    ax.set_title(title or "consumption")
    if handles:
        ax.legend(handles=handles, loc="upper left", fontsize=8, title="tariff bands")
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
