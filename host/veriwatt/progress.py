# SPDX-License-Identifier: MIT
"""A tiny progress bar on stderr (no dependency): shown only when stderr is a terminal or forced."""

from __future__ import annotations

import os
import sys
import time
from typing import Optional, TextIO


class Progress:
    def __init__(
        self,
        total: int,
        label: str = "",
        enabled: Optional[bool] = None,
        stream: Optional[TextIO] = None,
        width: int = 30,
        milestones: bool = False,
    ) -> None:
        self.total = max(int(total), 0)
        self.label = label
        self.stream = stream or sys.stderr
        if enabled is None:
            enabled = os.environ.get("VERIWATT_PROGRESS") == "1" or (
                hasattr(self.stream, "isatty") and self.stream.isatty() and os.environ.get("VERIWATT_PROGRESS") != "0"
            )
        self.enabled = enabled
        self.width = width
        self.milestones = milestones and not enabled  # no terminal: one line at 25/50/75/100 %
        self._next_milestone = 25
        self.done = 0
        self.extra = ""
        self.t0 = time.monotonic()
        self._last = 0.0

    def update(self, n: int = 1, extra: Optional[str] = None) -> None:
        self.done += n
        if extra is not None:
            self.extra = extra
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.1 or self.done >= self.total):
            self._last = now
            self._draw(now)
        elif self.milestones and self.total:
            pct = self.done * 100 // self.total
            if pct >= self._next_milestone:
                self.stream.write(
                    "%s: %d/%d (%d%%) after %.1f s\n" % (self.label, self.done, self.total, pct, now - self.t0)
                )
                self.stream.flush()
                while self._next_milestone <= pct:
                    self._next_milestone += 25

    def _draw(self, now: float) -> None:
        frac = min(self.done / self.total, 1.0) if self.total else 1.0
        fill = int(frac * self.width)
        rate = self.done / max(now - self.t0, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 and self.total > self.done else 0
        self.stream.write(
            "\r%s [%s%s] %d/%d %3d%% %.0f/s eta %ds %s"
            % (
                self.label,
                "#" * fill,
                "." * (self.width - fill),
                self.done,
                self.total,
                frac * 100,
                rate,
                eta,
                self.extra,
            )
        )
        self.stream.flush()

    def close(self) -> None:
        """Draw the last state and end the line (once: a second close does nothing)."""
        if self.enabled:
            self._draw(time.monotonic())
            self.stream.write("\n")
            self.stream.flush()
            self.enabled = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
