# SPDX-License-Identifier: MIT
"""A pty relay that can corrupt bytes: a noisy serial line for tests and demonstrations.

    relay = PtyRelay(upstream_fd_or_path, noise=1e-3, seed=1)
    relay.start(); print(relay.path)   # open relay.path instead of the meter's own pty

Each byte passing in either direction is replaced by a random byte with probability
`noise`. `cut()` makes the line go silent (a meter that stops answering); `heal()` undoes it.
"""

from __future__ import annotations

import os
import random
import select
import threading
import tty
from typing import Optional, Union


def make_pty() -> "tuple[int, str]":
    """A raw pty pair: (master fd, slave path). The slave stays open (kept in the returned
    tuple's owner) so that the master does not see EOF while no client is attached."""
    master, slave = os.openpty()
    tty.setraw(slave)
    path = os.ttyname(slave)
    return master, path, slave  # type: ignore[return-value]


class PtyRelay:
    def __init__(
        self,
        upstream: Union[int, str],
        noise: float = 0.0,
        seed: Optional[int] = None,
        noise_up: Optional[float] = None,
    ) -> None:
        if isinstance(upstream, str):
            fd = os.open(upstream, os.O_RDWR | os.O_NOCTTY)
            tty.setraw(fd)
            self.up = fd
        else:
            self.up = upstream
        self.master, self.path, self._slave = make_pty()
        self.noise_down = noise
        self.noise_up = noise if noise_up is None else noise_up
        self.rnd = random.Random(seed)
        self.corrupted = 0
        self.bytes = 0
        self.silent = False
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True, name="pty-relay")

    def start(self) -> "PtyRelay":
        self._t.start()
        return self

    def cut(self) -> None:
        self.silent = True

    def heal(self) -> None:
        self.silent = False

    def _mangle(self, data: bytes, p: float) -> bytes:
        self.bytes += len(data)
        if p <= 0:
            return data
        b = bytearray(data)
        for i in range(len(b)):
            if self.rnd.random() < p:
                b[i] = (b[i] + 1 + self.rnd.randrange(255)) & 0xFF
                self.corrupted += 1
        return bytes(b)

    def _run(self) -> None:
        fds = [self.master, self.up]
        while not self._stop.is_set():
            try:
                r, _, _ = select.select(fds, [], [], 0.1)
            except (OSError, ValueError):
                return
            for fd in r:
                try:
                    data = os.read(fd, 4096)
                except OSError:
                    data = b""
                if not data:
                    continue
                if self.silent:
                    continue
                if fd == self.master:
                    os.write(self.up, self._mangle(data, self.noise_up))
                else:
                    os.write(self.master, self._mangle(data, self.noise_down))

    def stop(self) -> None:
        self._stop.set()
        self._t.join(timeout=2)
        for fd in (self.master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass
