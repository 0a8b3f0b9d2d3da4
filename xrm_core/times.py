"""RFC 3339 instants as records store them (``common.json#/$defs/datetime``): text such as
``2024-03-01T08:00:00Z``.

Helpers for plugins that stamp or compute times in Python (``from xrm_core import times``).
Results are strings in the same form, in UTC written with ``Z`` when the offset is zero.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

__all__ = ["now", "parse", "add_hours", "hours_between", "iso"]

_FRACTION = re.compile(r"(\.\d{6})\d+")


def now() -> str:
    """The current instant in UTC, to the second (``2024-03-01T08:00:00Z``)."""
    return iso(datetime.now(timezone.utc).replace(microsecond=0))


def parse(value: str) -> datetime:
    """An RFC 3339 date-time (or ISO date) as a :class:`datetime`; ValueError if it is not one.

    Lower-case ``t``/``z`` and fractions of any length are accepted (RFC 3339 allows them,
    :meth:`datetime.fromisoformat` does not: digits past microseconds are dropped).
    """
    return datetime.fromisoformat(_FRACTION.sub(r"\1", value.upper()))


def add_hours(value: str, hours: float) -> str:
    """``value`` + ``hours``, keeping its offset."""
    return iso(parse(value) + timedelta(hours=hours))


def hours_between(start: str, end: str) -> float:
    """``end`` − ``start`` in hours (offsets honoured), to two decimals."""
    return round((parse(end) - parse(start)).total_seconds() / 3600, 2)


def iso(dt: datetime) -> str:
    """``dt`` in ISO form, with ``Z`` for a zero UTC offset."""
    text = dt.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
