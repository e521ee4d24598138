# SPDX-License-Identifier: MIT
"""Half-hour slots: slot t is the half hour starting at Unix time t * 1800 (UTC).

Slot numbers are absolute, so a reading signed for slot t can never be mistaken for a reading
of another month; a billing period is a half-open range of slots [start, end).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import List, Tuple

from vwcore.consts import SLOT_SECONDS

from .errors import VeriwattError

UTC = _dt.timezone.utc
NO_SLOT = 0xFFFFFFFF  # the protocol's "none"; slots are uint32 below it
MAX_PERIOD_SLOTS = 48 * 366 * 5  # five years of half hours: more is certainly a mistake


def check_range(start: int, end: int, what: str = "period") -> None:
    """A period of protocol slots: 0 <= start < end <= 2^32 - 1, at most five years long."""
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        raise VeriwattError("%s: slots must be integers" % what)
    if not 0 <= start < end <= NO_SLOT:
        raise VeriwattError("%s: slots %s..%s are not a valid range (0 <= start < end < 2^32)" % (what, start, end))
    if end - start > MAX_PERIOD_SLOTS:
        raise VeriwattError("%s: %d slots is longer than five years; split it" % (what, end - start))


def when(t: int) -> str:
    """Slot t's start as text, for messages (any integer, even absurd ones)."""
    try:
        return slot_start(t).strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, OSError, ValueError):
        return "slot out of range"


def slot_start(t: int) -> _dt.datetime:
    """The UTC start time of slot t."""
    return _dt.datetime.fromtimestamp(t * SLOT_SECONDS, UTC)


def slot_of(when: _dt.datetime) -> int:
    """The slot that contains the aware datetime `when`."""
    return int(when.timestamp()) // SLOT_SECONDS


def zone(name: str) -> _dt.tzinfo:
    if name in ("UTC", "Z", "utc"):
        return UTC
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:
        raise VeriwattError("unknown time zone %r: use an IANA name such as Europe/London, or UTC" % name)


def month_range(month: str, tz: str = "UTC") -> Tuple[int, int]:
    """Slots [start, end) of a calendar month "YYYY-MM" in time zone `tz`."""
    m = re.fullmatch(r"(\d{4})-(\d{2})", month)
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise VeriwattError("bad month %r: expected YYYY-MM, e.g. 2026-10" % month)
    y, mo = int(m.group(1)), int(m.group(2))
    z = zone(tz)
    a = _dt.datetime(y, mo, 1, tzinfo=z)
    b = _dt.datetime(y + (mo == 12), mo % 12 + 1, 1, tzinfo=z)
    return slot_of(a), slot_of(b)


def parse_period(text: str, tz: str = "UTC") -> Tuple[int, int]:
    """A period given as "YYYY-MM" (a month), "START:END" slot numbers, or "DATE..DATE" (end exclusive)."""
    text = text.strip()
    if re.fullmatch(r"\d{4}-\d{2}", text):
        return month_range(text, tz)
    m = re.fullmatch(r"(\d+):(\d+)", text)
    if m:
        a, b = int(m.group(1)), int(m.group(2))
        if b <= a:
            raise VeriwattError("empty period %s: END must be greater than START" % text)
        check_range(a, b)
        return a, b
    m = re.fullmatch(r"(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})", text)
    if m:
        z = zone(tz)
        try:
            a = _dt.datetime.fromisoformat(m.group(1)).replace(tzinfo=z)
            b = _dt.datetime.fromisoformat(m.group(2)).replace(tzinfo=z)
        except ValueError as e:
            raise VeriwattError("bad period %r: %s" % (text, e))
        if b <= a:
            raise VeriwattError("empty period %s: the end date must be after the start date" % text)
        return slot_of(a), slot_of(b)
    raise VeriwattError("bad period %r: use YYYY-MM, START:END (slot numbers) or YYYY-MM-DD..YYYY-MM-DD" % text)


def describe(start: int, end: int) -> str:
    try:
        a, b = slot_start(start), slot_start(end)
    except (OverflowError, OSError, ValueError):
        return "slots %d..%d" % (start, end)
    return "%s .. %s UTC (%d slots)" % (a.strftime("%Y-%m-%d %H:%M"), b.strftime("%Y-%m-%d %H:%M"), end - start)


def slot_list(text: str, tz: str = "UTC", help_text: str = "") -> List[int]:
    """The slots named by a list such as disclose --slots: slots, A:B slot ranges, days, day ranges,
    months, comma-separated; every range includes both ends. `help_text` ends the error of a bad item."""
    import sys

    slots = sys.modules[__name__]
    out: List[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(\d+):(\d+)", part)
        d = re.fullmatch(r"(\d{4}-\d{2}-\d{2})(?:\.\.(\d{4}-\d{2}-\d{2}))?", part)
        if m:
            a, b = int(m.group(1)), int(m.group(2))
            if b < a:
                raise VeriwattError("bad slot range %s: the last slot is before the first" % part)
            slots.check_range(a, b + 1)
            out.extend(range(a, b + 1))
        elif d:
            first, last = d.group(1), d.group(2) or d.group(1)
            try:
                after = (_dt.date.fromisoformat(last) + _dt.timedelta(days=1)).isoformat()
                _dt.date.fromisoformat(first)
            except ValueError as e:
                raise VeriwattError("bad date in %r: %s" % (part, e))
            if last < first:
                raise VeriwattError("bad date range %s: the last day is before the first" % part)
            a, b = slots.parse_period("%s..%s" % (first, after), tz)
            out.extend(range(a, b))
        elif re.fullmatch(r"\d{4}-\d{2}", part):
            a, b = slots.parse_period(part, tz)
            out.extend(range(a, b))
        else:
            try:
                out.append(int(part))
            except ValueError:
                raise VeriwattError("bad slot %r: %s" % (part, help_text or "give slots, A:B ranges, days or months"))
    if not out:
        raise VeriwattError("no slots chosen: --slots 995000,995001 or 995000:995047")
    return out
