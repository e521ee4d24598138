# SPDX-License-Identifier: MIT
"""Checks over a meter's signed commitments for a period: completeness and signatures.

A period [start, end) is complete when every slot in it appears exactly once, in order,
from the given meter, with a valid signature. Each kind of problem gets its own message:

    outside   a slot outside the period (replayed from another period)
    duplicate a slot that appears more than once
    order     slots not in increasing order (reordered)
    missing   slots of the period that are absent (dropped)
    signature a record whose signature fails under the meter's key (altered, or from
              another meter)
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import slots as _slots
from .records import Checker

Entry = Tuple[int, int, int, int]  # slot, C, e, s


class Problem:
    __slots__ = ("kind", "slot", "message")

    def __init__(self, kind: str, slot: Optional[int], message: str) -> None:
        self.kind, self.slot, self.message = kind, slot, message

    def as_dict(self) -> Dict[str, Any]:
        return {"kind": self.kind, "slot": self.slot, "message": self.message}

    def __repr__(self) -> str:
        return "Problem(%s, %s)" % (self.kind, self.message)


def _when(t: int) -> str:
    return _slots.when(t)


def _ranges(xs: List[int]) -> List[Tuple[int, int]]:
    out: List[Tuple[int, int]] = []
    for x in xs:
        if out and out[-1][1] == x:
            out[-1] = (out[-1][0], x + 1)
        else:
            out.append((x, x + 1))
    return out


def check_period(
    entries: Sequence[Entry],
    start: int,
    end: int,
    checker: Optional[Checker],
    limit: int = 50,
    rs: Optional[Sequence[int]] = None,
) -> List[Problem]:
    """All problems with the entries for [start, end); empty list when complete and valid.
    With checker=None only the slot numbers are checked (no signatures). rs: the signatures'
    commitments R a bill carries (`sig_R`, one per entry): each must be exactly g^s y^-e."""
    _slots.check_range(start, end)
    probs: List[Problem] = []
    seen: Dict[int, int] = {}
    last = None
    for slot, C, e, s in entries:
        if not start <= slot < end:
            probs.append(
                Problem(
                    "outside",
                    slot,
                    "slot %d (%s) is outside the period %s: a reading replayed "
                    "from another period" % (slot, _when(slot), _slots.describe(start, end)),
                )
            )
        seen[slot] = seen.get(slot, 0) + 1
        if seen[slot] == 2:
            probs.append(
                Problem("duplicate", slot, "slot %d (%s) appears more than once (duplicated)" % (slot, _when(slot)))
            )
        if last is not None and slot < last and seen[slot] == 1:
            probs.append(
                Problem(
                    "order", slot, "slot %d comes after slot %d: readings are out of order (reordered)" % (slot, last)
                )
            )
        last = slot if last is None else max(last, slot)
    missing = [t for t in range(start, end) if t not in seen]
    for a, b in _ranges(missing):
        probs.append(
            Problem(
                "missing",
                a,
                "%d slot(s) missing from the period: %d..%d (%s to %s) (dropped)"
                % (b - a, a, b - 1, _when(a), _when(b - 1)),
            )
        )
    if checker is not None:
        for i, (slot, C, e, s) in enumerate(entries):
            why = (
                (None if checker.sig_ok(slot, C, e, s) else "signature")
                if rs is None
                else checker.sig_problem(slot, C, e, s, rs[i])
            )
            if why == "signature":
                probs.append(
                    Problem(
                        "signature",
                        slot,
                        "slot %d (%s): the meter's signature does not verify under "
                        "meter %s's key (commitment altered, or a reading from another meter)"
                        % (slot, _when(slot), checker.meter_id.hex()),
                    )
                )
            elif why == "sig_R":
                probs.append(
                    Problem(
                        "sig_R",
                        slot,
                        "slot %d (%s): sig_R[%d] is not the commitment g^s y^-e of the "
                        "meter's signature (the bill's sig_R was altered)" % (slot, _when(slot), i),
                    )
                )
            if why is not None and len(probs) > limit:
                break
    return probs


def summary(probs: List[Problem]) -> str:
    if not probs:
        return "ok"
    first = probs[0].message
    return first if len(probs) == 1 else "%s (and %d more problem(s))" % (first, len(probs) - 1)
