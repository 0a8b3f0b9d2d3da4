"""RFC 3339 instants as the schemas store them (``common.json#/$defs/datetime``); the same
helpers as the crm plugin's, copied because plugins never import each other."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

_FRACTION = re.compile(r"(\.\d{6})\d+")


def now() -> str:
    """The current instant in UTC, to the second (``2024-03-01T08:00:00Z``)."""
    return _format(datetime.now(timezone.utc).replace(microsecond=0))


def parse(value: str) -> datetime:
    # RFC 3339 allows lower-case t/z and any number of fraction digits; fromisoformat does not.
    return datetime.fromisoformat(_FRACTION.sub(r"\1", value.upper()))


def add_hours(value: str, hours: float) -> str:
    """``value`` + ``hours``, keeping its offset."""
    return _format(parse(value) + timedelta(hours=hours))


def hours_between(start: str, end: str) -> float:
    """``end`` − ``start`` in hours (offsets honoured), to two decimals."""
    return round((parse(end) - parse(start)).total_seconds() / 3600, 2)


def _format(dt: datetime) -> str:
    text = dt.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
