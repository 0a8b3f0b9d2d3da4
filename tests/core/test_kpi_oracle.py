"""The declarative KPI engine against an independent Python oracle (hypothesis).

Hypothesis draws record sets — fields missing or null, integers (some past 2**53), floats,
strings in Latin, Persian and Chinese, booleans, dates and date-times on both sides of month
and year ends with offsets, arrays and objects in a field of no schema type — and valid KPI
definitions: every measure of DESIGN §3, ``where`` filters with every operator of the filter
language (and the coercions filters.py documents), ``time_field`` periods with inclusive
``from``/``to``, ``scale``, ``in``, and ``--by`` on typed and untyped fields. Each definition is
computed with :func:`xrm_core.kpis.compute` as a user of some scope (all, unit, subtree, own)
and compared with the same definition computed here in plain Python over the records that
user may read: ``n`` and the group keys (values and JSON types) and their order exactly,
values to 1e-6 (results are rounded to six decimals) plus what double arithmetic may lose
on the values added.

The rules the oracle applies are the contract's (DESIGN §3, §5) and the documented choices
of the engine where the contract is silent:

- a period counts a record when its time field starts with a calendar day ``YYYY-MM-DD``
  within ``[from, to]`` (the day written in it, whatever its offset); text that starts with
  no day is in no period; without ``from``/``to`` every record counts, and a KPI without
  ``time_field`` ignores the period (``from``/``to`` null in the result);
- a duration reads RFC 3339 date-times and dates (midnight UTC, no offset = UTC), offsets up
  to ±14:59, to the millisecond; anything else leaves the record out of it;
- strings compare by code point; a value of an untyped field matches filter values of its
  own JSON type only (5 matches 5.0, never "5" or true);
- group keys are JSON values: equal values (5 and 5.0, objects whatever their key order,
  [1] and [1.0]) are one group, different ones (5, "5", true; [1] and "[1]") are not; keys
  sort numbers and booleans by value (a number before the boolean it equals), then strings by
  code point, then arrays and objects by their JSON text (keys sorted), the missing key last.

A CLI check runs ``xrm kpi compute --json`` on drawn cases and compares its one JSON document
with the oracle and with DESIGN §5's shape.

Fixed seeds (``derandomize``) keep CI reproducible; ``XRM_KPI_ORACLE_EXAMPLES``,
``XRM_KPI_ORACLE_RANDOM=1`` and ``XRM_KPI_ORACLE_NOSHRINK=1`` (report the first failing case
as drawn: shrinking recreates records for minutes) turn it into a longer, random bug hunt.
"""
from __future__ import annotations

import itertools
import json
import os
import re
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, Phase, given, note, settings
from hypothesis import strategies as st

from xrm_core import ValidationError, accounts, entity_types, instants, kpis

SETTINGS = settings(max_examples=int(os.environ.get("XRM_KPI_ORACLE_EXAMPLES", 150)), deadline=None,
                    derandomize=not os.environ.get("XRM_KPI_ORACLE_RANDOM"),
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                           HealthCheck.data_too_large],
                    **({"phases": [Phase.explicit, Phase.generate]}
                       if os.environ.get("XRM_KPI_ORACLE_NOSHRINK") else {}))

MISSING = object()

# -- the entity type ------------------------------------------------------------------------
PROPERTIES = {
    "txt": {"type": "string"},
    "n_int": {"type": "integer"},
    "n_num": {"type": "number"},
    "flag": {"type": "boolean"},
    "day": {"type": "string", "format": "date"},
    "at": {"type": "string", "format": "date-time"},
    "opened at": {"type": "string", "format": "date-time"},
    "ts_text": {"type": "string"},                       # a time field of no format: anything in it
    "any": {},                                           # any JSON value
    "هر چیز": {},                                        # the same, under a name SQL paths must quote
    "multi": {"type": ["integer", "string", "null"]},    # several types: grouped and filtered as untyped
    "maybe_num": {"type": ["number", "null"]},
    "امتیاز": {"type": "integer"},
    "地区": {"type": "string"},
    "meta": {"type": "object", "properties": {"level": {"type": "integer"}, "area": {"type": "string"}}},
    "tags": {"type": "array", "items": {"type": "string"}},
}
#: field -> the JSON type the oracle reads it as (None: several or no types).
KIND = {"txt": "string", "n_int": "integer", "n_num": "number", "flag": "boolean", "day": "string",
        "at": "string", "opened at": "string", "ts_text": "string", "any": None, "هر چیز": None, "multi": None,
        "maybe_num": "number", "امتیاز": "integer", "地区": "string", "meta.level": "integer",
        "meta.area": "string", "tags": "array", "meta": "object"}
#: Fields of ``format: date-time``: filters compare the instants they name (xrm_core.instants).
INSTANT_FIELDS = {"at", "opened at"}
NUMERIC_FIELDS = ["n_int", "n_num", "maybe_num", "امتیاز", "meta.level"]
TIME_FIELDS = ["day", "at", "opened at", "ts_text"]
FILTER_FIELDS = [f for f in KIND]
GROUP_FIELDS = ["txt", "n_int", "n_num", "flag", "day", "any", "هر چیز", "multi", "maybe_num", "地区", "meta.area",
                "meta.level", "ts_text"]
UNGROUPABLE = ["tags", "meta"]

# -- values ---------------------------------------------------------------------------------
WORDS = ["", "a", "B", "web", "Web", "phone", "a b", "5", "10", "true", "null", "[1]", '{"a":1}', "نام",
         "مشتری", "می‌شود", "客户", "北京", "Ünïcode", "😀", "zz", "2024-03-01"]
text = st.one_of(st.sampled_from(WORDS),
                 st.text(st.sampled_from("aZ0 -نم客户é😀"), max_size=3))
BIG = [2**31, 10**16, 2**53 + 1, -(2**62), 2**62]
ints = st.one_of(st.integers(-3, 11), st.integers(-3, 11), st.sampled_from(BIG))
small_ints = st.one_of(st.integers(-3, 11), st.sampled_from([6, 9]))  # NPS's edges
FLOATS = [0.1, 2.5, -3.75, 1e-07, 6.0, 9.0, 8.999999, 6.000001, 0.30000000000000004, 1e16, -0.0, 123456.789]
floats = st.one_of(st.sampled_from(FLOATS), st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False))
numbers = st.one_of(ints, floats)
DAYS = ["2023-12-31", "2024-01-01", "2024-02-28", "2024-02-29", "2024-03-01", "2024-03-31", "2024-04-01",
        "2024-12-31", "2025-01-01"]
TIMES = ["00:00:00", "23:59:59", "23:59:59.999", "12:00:00.5", "00:00:00.001", "08:30:00"]
OFFSETS = ["Z", "z", "+00:00", "-00:00", "+14:00", "-12:00", "+05:30", "-09:30"]
days = st.sampled_from(DAYS)
date_times = st.builds(lambda d, sep, t, o: f"{d}{sep}{t}{o}", days, st.sampled_from("Tt"), st.sampled_from(TIMES),
                       st.sampled_from(OFFSETS))
#: what a plain string time field may hold: times, and text that is none
JUNK_TIMES = ["soon", "", "2024-02-30", "2024-3-1", "12:30", "۲۰۲۴-۰۳-۰۱", " 2024-03-01", "2024-03-01 ",
              "2024-03-01 10:00", "2024-03-31T23:59", "فردا", "明天", "9999-12-31"]
plain_times = st.one_of(days, date_times, st.sampled_from(JUNK_TIMES))
ANY_VALUES = [5, 5.0, "5", True, False, 1, 0, 1.0, 10**16, 1e16, 2.5, "x", "[1]", [1], [1.0], ["1"], [],
              {}, {"a": 1, "b": 2}, {"b": 2, "a": 1}, '{"a":1,"b":2}', {"a": [1, {"y": 1, "x": 2}]},
              {"a": [1, {"x": 2, "y": 1.0}]}, [True], [1, 2], [2, 1], "نام", "客户", 1e20, [1e20, 2.5]]
any_values = st.one_of(st.sampled_from(ANY_VALUES), st.sampled_from(ANY_VALUES), st.none(), small_ints, text)

FIELD_VALUES = {
    "txt": text, "n_int": ints, "n_num": numbers, "flag": st.booleans(), "day": days, "at": date_times,
    "opened at": date_times, "ts_text": plain_times, "any": any_values, "هر چیز": any_values,
    "multi": st.one_of(st.none(), small_ints, st.sampled_from(["5", "x", "نام"])),
    "maybe_num": st.one_of(st.none(), floats, small_ints), "امتیاز": small_ints, "地区": text,
    "meta": st.fixed_dictionaries({}, optional={"level": small_ints, "area": text}),
    "tags": st.lists(text, max_size=2),
}


@st.composite
def record_data(draw) -> dict:
    """Each field present in about three records of four (absent fields are a case of their
    own; a field in few records would leave the measures little to work on)."""
    return {f: draw(values) for f, values in FIELD_VALUES.items() if draw(st.integers(0, 3))}


#: (user, unit) that create records: admin places them in any unit, agent_a owns its own
CREATORS = [("admin", u) for u in ["hq", "north", "dealer_a", "south", "dealer_b"]] + [("agent_a", "dealer_a")]
records_st = st.lists(st.tuples(record_data(), st.sampled_from(CREATORS)), min_size=3, max_size=12)

#: user -> which records (owner, unit) it may read: the grants of the `world` fixture
UNITS_UNDER = {"north": {"north", "dealer_a"}}
VISIBLE = {
    "admin": lambda owner, unit: True,
    "manager_a": lambda owner, unit: unit == "dealer_a" or owner == "manager_a",      # unit depth
    "lead_north": lambda owner, unit: unit in UNITS_UNDER["north"] or owner == "lead_north",  # subtree
    "agent_a": lambda owner, unit: owner == "agent_a",                                # own
}


# -- filters --------------------------------------------------------------------------------
def _number_or_text(draw):
    """A number, or a number written as a string (filters coerce it for numeric fields)."""
    n = draw(st.one_of(small_ints, st.sampled_from([2.5, 6.0, 9, 0.1, -0.0, 10**16]), ints))
    return str(n) if draw(st.integers(0, 4)) == 0 and not isinstance(n, float) else n


@st.composite
def filter_value(draw, kind, op):
    """A value filter ``op`` takes for a field of ``kind`` (valid for filter.schema.json)."""
    if kind == "instant":  # a date-time, or a day for an ordering (a day equals no date-time)
        if op in ("eq", "ne") and draw(st.integers(0, 7)) == 0:
            return None
        return draw(st.one_of(date_times, days) if op in ORDERED else date_times)
    if kind in ("integer", "number"):
        if op in ("eq", "ne") and draw(st.integers(0, 7)) == 0:
            return None
        return _number_or_text(draw)
    if kind == "boolean":
        if op in ("eq", "ne") and draw(st.integers(0, 7)) == 0:
            return None
        return draw(st.one_of(st.booleans(), st.sampled_from(["true", "FALSE"])))
    if kind == "date":
        if op in ("eq", "ne") and draw(st.integers(0, 7)) == 0:
            return None
        return draw(days)
    if kind == "string":
        if op in ("eq", "ne") and draw(st.integers(0, 7)) == 0:
            return None
        if op in ("eq", "ne", "in") and draw(st.integers(0, 5)) == 0:
            return draw(st.sampled_from([5, 10, 2.5, True, False]))  # compared as their JSON text
        if op in ("lt", "lte", "gt", "gte") and draw(st.integers(0, 5)) == 0:
            return draw(st.sampled_from([5, 10]))
        return draw(st.one_of(text, days, date_times))
    # untyped: the value's own JSON type decides what it matches
    if op in ("lt", "lte", "gt", "gte"):
        return draw(st.one_of(small_ints, st.sampled_from([2.5, 1e16, 10**16]), text))
    if op in ("eq", "ne") and draw(st.integers(0, 7)) == 0:
        return None
    return draw(st.one_of(small_ints, st.sampled_from([5.0, 2.5, 1e16, 10**16, True, False]), text))


ORDERED = ("lt", "lte", "gt", "gte")


@st.composite
def condition(draw, field):
    kind = "instant" if field in INSTANT_FIELDS else KIND[field]
    if field == "day":  # a date field's filter takes calendar dates only (else refused)
        kind = "date"
    if kind in ("array", "object"):
        return {"exists": draw(st.booleans())}
    ops = ["eq", "ne", "in", "exists"] + ([] if kind == "boolean" else list(ORDERED))
    if draw(st.integers(0, 3)) == 0:
        return draw(filter_value(kind, "eq"))  # {"field": value}
    out = {}
    for op in draw(st.lists(st.sampled_from(ops), min_size=1, max_size=2, unique=True)):
        if op == "exists":
            out[op] = draw(st.booleans())
        elif op == "in":
            vals = draw(st.lists(filter_value(kind, "in").filter(lambda v: v is not None), max_size=3))
            out[op] = vals
        else:
            out[op] = draw(filter_value(kind, op))
    return out


@st.composite
def filters(draw, min_size=1):
    fields = draw(st.lists(st.sampled_from(FILTER_FIELDS), min_size=min_size, max_size=3, unique=True))
    return {f: draw(condition(f)) for f in fields}


# -- definitions ----------------------------------------------------------------------------
MEASURES = ["count", "sum", "avg", "median", "share", "ratio", "nps", "avg_duration"]


@st.composite
def definitions(draw, entity: str) -> dict:
    kind = draw(st.sampled_from(MEASURES))
    if kind == "count":
        measure = {"count": True}
    elif kind in ("sum", "avg", "median", "nps"):
        measure = {kind: draw(st.sampled_from(NUMERIC_FIELDS))}
    elif kind == "share":
        measure = {"share": draw(filters())}
    elif kind == "ratio":
        measure = {"ratio": {"numerator": draw(filters(min_size=0)), "denominator": draw(filters(min_size=0))}}
    else:
        measure = {"avg_duration": draw(st.lists(st.sampled_from(TIME_FIELDS), min_size=2, max_size=2))}
    d = {"name": "k", "entity": entity, "measure": measure}
    if kind == "avg_duration" and draw(st.booleans()):
        d["in"] = draw(st.sampled_from(["seconds", "minutes", "hours", "days"]))
    if draw(st.booleans()):
        d["time_field"] = draw(st.sampled_from(TIME_FIELDS))
    if draw(st.booleans()):
        d["where"] = draw(filters())
    if draw(st.integers(0, 3)) == 0:
        d["scale"] = draw(st.sampled_from([1, 1000, 0.5, 1000000]))
    if draw(st.booleans()):
        d["unit"] = draw(st.sampled_from(["percent", "امتیاز", "分", "h"]))
    return d


bounds = st.one_of(st.none(), st.sampled_from(DAYS + ["2024-02-27", "2024-03-02", "2023-01-01", "9999-12-31"]))


@st.composite
def queries(draw) -> dict:
    """How a definition is computed: as whom, over which period, grouped by what."""
    by = draw(st.one_of(st.none(), st.sampled_from(GROUP_FIELDS), st.sampled_from(["any", "multi"]),
                        st.sampled_from(UNGROUPABLE)))
    return {"user": draw(st.sampled_from(sorted(VISIBLE))), "date_from": draw(bounds), "date_to": draw(bounds),
            "by": by}


# -- the oracle -----------------------------------------------------------------------------
def value_at(data: dict, path: str):
    for part in path.split("."):
        if not isinstance(data, dict) or part not in data:
            return MISSING
        data = data[part]
    return data


def present(v) -> bool:
    return v is not MISSING and v is not None


def json_kind(v) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    if isinstance(v, str):
        return "string"
    return "array" if isinstance(v, list) else "object"


def coerce(v, kind):
    """A filter value as the field's type reads it (filters.py: "Values are coerced to the
    field's schema type")."""
    if v is None or kind is None:
        return v
    if kind in ("integer", "number"):
        if isinstance(v, str):
            return int(v) if re.fullmatch(r"[+-]?\d+", v.strip()) else float(v)
        return v
    if kind == "boolean":
        return v.lower() == "true" if isinstance(v, str) else v
    if isinstance(v, str):
        return v
    return json.dumps(v)  # 5 -> "5", True -> "true", 2.5 -> "2.5"


def holds(stored, op: str, v, kind) -> bool:
    """Does a stored value (MISSING when absent) satisfy ``op v`` for a field of ``kind``?"""
    if op == "exists":
        return present(stored) == v
    if op == "in":
        return any(holds(stored, "eq", x, kind) for x in v)
    v = coerce(v, kind)
    if v is None:
        return (not present(stored)) if op == "eq" else present(stored)
    same_type = present(stored) and (kind is not None or json_kind(stored) == json_kind(v))
    if kind == "instant" and not DAY_AT_START.fullmatch(v):
        # a date-time compares the instant it names; a day, the day written (as text)
        stored = instants.normal(stored) if isinstance(stored, str) else stored
        v = instants.normal(v)
    if op == "eq":
        return same_type and stored == v
    if op == "ne":
        return not (same_type and stored == v)
    if not same_type:
        return False
    return {"lt": stored < v, "lte": stored <= v, "gt": stored > v, "gte": stored >= v}[op]


def matches(data: dict, flt: dict | None) -> bool:
    for field, cond in (flt or {}).items():
        ops = cond if isinstance(cond, dict) else {"eq": cond}
        stored = value_at(data, field)
        kind = "instant" if field in INSTANT_FIELDS else KIND[field]
        if not all(holds(stored, op, v, kind) for op, v in ops.items()):
            return False
    return True


DAY_AT_START = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def in_period(data: dict, time_field: str, date_from, date_to) -> bool:
    if date_from is None and date_to is None:
        return True
    v = value_at(data, time_field)
    if not isinstance(v, str) or not DAY_AT_START.match(v):
        return False
    day = v[:10]
    return (date_from is None or day >= date_from) and (date_to is None or day <= date_to)


TIME_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
                     r"(?:[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?([Zz]|[+-][0-9]{2}:[0-9]{2})?)?")


def epoch_ms(v):
    """Milliseconds since the epoch of an RFC 3339 date or date-time, None when not one."""
    if not isinstance(v, str):
        return None
    m = TIME_RE.fullmatch(v)
    if not m:
        return None
    y, mo, d, hh, mi, ss, frac, off = m.groups()
    try:
        day = date(int(y), int(mo), int(d))
    except ValueError:
        return None
    if y == "0000":
        return None
    hh, mi, ss = int(hh or 0), int(mi or 0), int(ss or 0)
    if hh > 23 or mi > 59 or ss > 59:
        return None
    offset = 0
    if off and off not in "Zz":
        oh, om = int(off[1:3]), int(off[4:6])
        if oh > 14 or om > 59:
            return None
        offset = (1 if off[0] == "+" else -1) * (oh * 60 + om)
    ms = round(Fraction(f"0.{frac}") * 1000) if frac else 0
    moment = datetime(day.year, day.month, day.day, hh, mi, ss, tzinfo=timezone.utc) - timedelta(minutes=offset)
    epoch = datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (moment - epoch) // timedelta(milliseconds=1) + ms


DIVISOR = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def measure(d: dict, rows: list[dict]):
    """(value as a Fraction or None, n, error bound of double arithmetic) of ``d`` over ``rows``."""
    m = d["measure"]
    kind = next(iter(m))
    scale = Fraction(d["scale"]) if "scale" in d else None
    if kind in ("share", "ratio"):
        num_f, den_f = (m["share"], None) if kind == "share" else (m["ratio"]["numerator"], m["ratio"]["denominator"])
        den = len(rows) if kind == "share" else sum(matches(r, den_f) for r in rows)
        num = sum(matches(r, num_f) for r in rows)
        return (None if den == 0 else (scale if scale is not None else 100) * Fraction(num, den)), den, 0
    if kind == "count":
        value, n, err = Fraction(len(rows)), len(rows), 0
    elif kind in ("sum", "avg", "median", "nps"):
        vals = [Fraction(v) for r in rows if present(v := value_at(r, m[kind]))]
        n = len(vals)
        mag = sum(abs(v) for v in vals)
        if not n:
            return None, 0, 0
        if kind == "sum":
            value, err = sum(vals), mag
        elif kind == "avg":
            value, err = sum(vals) / n, mag / n
        elif kind == "median":
            s = sorted(vals)
            value, err = (s[(n - 1) // 2] + s[n // 2]) / 2, max(abs(v) for v in vals)
        else:
            value, err = Fraction(100 * (sum(v >= 9 for v in vals) - sum(v <= 6 for v in vals)), n), 0
    else:
        start, end = m["avg_duration"]
        spans = [s for s in _spans(rows, start, end) if s >= 0]  # an end before its start: left out
        n = len(spans)
        if not n:
            return None, 0, 0
        value = sum(spans) / n / 1000 / DIVISOR[d.get("in", "hours")]
        err = sum(abs(s) for s in spans) / n / 1000 / DIVISOR[d.get("in", "hours")]
    if scale is not None:
        value, err = value * scale, err * abs(scale)
    return value, n, err


def _spans(rows: list, start: str, end: str) -> list[Fraction]:
    """END minus START (ms) of the rows where both are times."""
    return [Fraction(b - a) for r in rows
            if (a := epoch_ms(value_at(r, start))) is not None and (b := epoch_ms(value_at(r, end))) is not None]


def canonical(v):
    """A JSON value as the group key shows it: integral numbers (within 64 bits) as ints."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return int(v) if float(v).is_integer() and -2**63 <= v < 2**63 else v
    if isinstance(v, list):
        return [canonical(x) for x in v]
    return {k: canonical(x) for k, x in v.items()}


def identity(v):
    """Hashable identity of a JSON value: equal JSON values (5 and 5.0; objects in any key
    order) share it, different ones (5, "5", true; [1] and "[1]") do not."""
    if v is MISSING or v is None:
        return ("null",)
    if isinstance(v, bool):
        return ("boolean", v)
    if isinstance(v, (int, float)):
        return ("number", Fraction(v))
    if isinstance(v, str):
        return ("string", v)
    if isinstance(v, list):
        return ("array", tuple(identity(x) for x in v))
    return ("object", tuple(sorted((k, identity(x)) for k, x in v.items())))


def key_order(k):
    """Sort key of an output group key (see the module docstring)."""
    if k is None:
        return (4, 0, False)
    if isinstance(k, (bool, int, float)):
        return (1, Fraction(k), isinstance(k, bool))
    if isinstance(k, str):
        return (2, k, False)
    return (3, json.dumps(k, sort_keys=True, separators=(",", ":"), ensure_ascii=False), False)


def backwards(d: dict, rows: list) -> dict:
    """``{"ended_before_start": N}`` when avg_duration ``d`` leaves N > 0 of ``rows`` out
    because they end before they start, else ``{}``."""
    if "avg_duration" not in d["measure"]:
        return {}
    count = sum(1 for span in _spans(rows, *d["measure"]["avg_duration"]) if span < 0)
    return {"ended_before_start": count} if count else {}


def oracle(d: dict, records: list, q: dict) -> dict:
    """The result ``kpis.compute`` must give for definition ``d`` over ``records``."""
    date_from, date_to = (q["date_from"], q["date_to"]) if d.get("time_field") else (None, None)
    can_read = VISIBLE[q["user"]]
    rows = [data for data, owner, unit in records
            if can_read(owner, unit) and matches(data, d.get("where"))
            and (not d.get("time_field") or in_period(data, d["time_field"], date_from, date_to))]
    value, n, err = measure(d, rows)
    out = {"kpi": d["name"], "value": value if n else None, "unit": d.get("unit", ""), "n": n,
           "from": date_from, "to": date_to, "groups": [], "_err": err, **backwards(d, rows)}
    if q["by"]:
        parts: dict = {}
        for r in rows:
            v = value_at(r, q["by"])
            parts.setdefault(identity(v), (v, []))[1].append(r)
        for v, members in parts.values():
            gv, gn, gerr = measure(d, members)
            out["groups"].append({"key": None if not present(v) else canonical(v), "value": gv if gn else None,
                                  "n": gn, "_err": gerr, **backwards(d, members)})
        out["groups"].sort(key=lambda g: key_order(g["key"]))
    return out


# -- comparing ------------------------------------------------------------------------------
RESULT_KEYS = {"kpi", "value", "unit", "n", "from", "to", "groups"}


def same_key(got, want) -> bool:
    """Equal as JSON values, JSON types included (1 is not true, nor 1.0 shown as 1)."""
    if type(got) is not type(want):
        return False
    if isinstance(want, list):
        return len(got) == len(want) and all(same_key(a, b) for a, b in zip(got, want))
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(same_key(got[k], want[k]) for k in want)
    return got == want


def close(got, want: Fraction | None, err) -> bool:
    if want is None or got is None:
        return got is None and want is None
    if isinstance(got, bool) or not isinstance(got, (int, float)):
        return False
    # results are rounded to 6 decimals (and cut to 15 digits); doubles lose up to about
    # 1e-15 of the magnitude of what they add
    return abs(Fraction(got) - want) <= Fraction(1, 10**6) + Fraction(err) * Fraction(1, 10**12) \
        + abs(want) * Fraction(1, 10**13)


def check(got: dict, want: dict) -> None:
    assert set(got) == RESULT_KEYS | ({"ended_before_start"} if "ended_before_start" in want else set()), got
    assert got.get("ended_before_start") == want.get("ended_before_start"), ("ended_before_start", got, want)
    for k in ("kpi", "unit", "n", "from", "to"):
        assert got[k] == want[k] and type(got[k]) is type(want[k]), (k, got[k], want[k])
    assert close(got["value"], want["value"], want["_err"]), ("value", got["value"], float(want["value"] or 0))
    assert [g["key"] for g in got["groups"]] == [g["key"] for g in want["groups"]] \
        and all(same_key(g["key"], w["key"]) for g, w in zip(got["groups"], want["groups"])), \
        ("group keys", [g["key"] for g in got["groups"]], [g["key"] for g in want["groups"]])
    for g, w in zip(got["groups"], want["groups"]):
        assert set(g) == {"key", "value", "n"} | ({"ended_before_start"} if "ended_before_start" in w else set()), g
        assert g.get("ended_before_start") == w.get("ended_before_start"), ("group ended_before_start", g, w)
        assert g["n"] == w["n"] and type(g["n"]) is int, ("group n", g, w)
        assert close(g["value"], w["value"], w["_err"]), ("group value", g, w)
    json.dumps(got)  # one JSON document, as the CLI and REST API print it


# -- fixtures -------------------------------------------------------------------------------
@pytest.fixture
def world(org):
    """``org`` (conftest: units hq > north > dealer_a, hq > south > dealer_b; agent_a with
    own depth, manager_a with unit depth) plus lead_north, who reads every type in the
    subtree of north."""
    with org.connection() as conn:
        accounts.save_role(conn, {"name": "oracle_subtree", "grants": [
            {"type": "*", "actions": ["read"], "depth": "subtree"}]})
        accounts.create_user(conn, "lead_north", "north", ["oracle_subtree"], "pw")
    return org


_types = itertools.count()


def load(platform, records: list) -> str:
    """A new entity type holding ``records`` ((data, (creator, unit)) pairs); its name."""
    name = f"oracle_{next(_types)}"
    with platform.connection() as conn:
        entity_types.add(conn, {"name": name, "schema": {"type": "object", "properties": PROPERTIES}})
    for creator in ("admin", "agent_a"):
        mine = [(data, unit) for data, (who, unit) in records if who == creator]
        if mine:
            with platform.session(creator) as s:
                for data, unit in mine:
                    s.create(name, data, unit=unit if creator == "admin" else None)
    return name


def kinds_hold(platform, name: str) -> None:
    """The oracle's reading of each field is the platform's."""
    with platform.session(write=False) as s:
        et = s.entity_type(name)
        for field, kind in KIND.items():
            assert et.field_type(field) == kind, field


def expect_refusal(q: dict, d: dict):
    """The ValidationError pointer ``kpis.compute`` must answer ``q`` with, or None."""
    if q["date_from"] and q["date_to"] and q["date_from"] > q["date_to"]:
        return "/from"
    if q["by"] in UNGROUPABLE:
        return "/by"
    return None


@SETTINGS
@given(records=records_st, cases=st.lists(st.tuples(definitions("ENTITY"), queries()), min_size=3, max_size=6))
def test_kpis_agree_with_the_python_oracle(world, records, cases):
    name = load(world, records)
    if name == "oracle_0":
        kinds_hold(world, name)
    stored = [(data, who, unit) for data, (who, unit) in records]
    for d, q in cases:
        d = {**d, "entity": name}
        note(json.dumps({"definition": d, "query": q}, ensure_ascii=False))
        with world.connection() as conn:
            kpis.add(world, conn, d)
        refused = expect_refusal(q, d)
        with world.session(q["user"], write=False) as s:
            if refused:
                with pytest.raises(ValidationError) as e:
                    kpis.compute(s, "k", q["date_from"], q["date_to"], q["by"])
                assert e.value.errors[0]["pointer"] == refused
                continue
            got = kpis.compute(s, "k", q["date_from"], q["date_to"], q["by"])
        check(got, oracle(d, stored, q))


def test_oracle_reads_the_contract_examples():
    """The oracle itself, on the hand-computed cases of DESIGN §3 and test_kpis.py."""
    rows = [({"n_int": v}, "admin", "hq") for v in [10, 10, 9, 9, 10, 8, 7, 6, 2, 0]] + [({}, "admin", "hq")]
    q = {"user": "admin", "date_from": None, "date_to": None, "by": None}
    r = oracle({"name": "k", "measure": {"nps": "n_int"}}, rows, q)
    assert (r["value"], r["n"]) == (20, 10)
    r = oracle({"name": "k", "measure": {"median": "n_int"}}, rows, q)
    assert (r["value"], r["n"]) == (8.5, 10)  # 0 2 6 7 [8 9] 9 10 10 10
    spans = [({"at": "2024-03-01T08:00:00Z", "opened at": "2024-03-01T10:00:00Z"}, "admin", "hq"),
             ({"at": "2024-04-01T00:00:00Z", "opened at": "2024-04-01t01:30:00+01:00"}, "admin", "hq"),
             ({"at": "2024-04-01T00:00:00Z", "opened at": "2024-04-01T01:30:00+15:00"}, "admin", "hq")]
    r = oracle({"name": "k", "measure": {"avg_duration": ["at", "opened at"]}, "time_field": "at"}, spans,
               {**q, "date_to": "2024-03-31"})
    assert (r["value"], r["n"], r["to"]) == (2, 1, "2024-03-31")
    r = oracle({"name": "k", "measure": {"avg_duration": ["at", "opened at"]}, "in": "minutes"}, spans, q)
    assert (r["value"], r["n"]) == (75, 2) and "ended_before_start" not in r
    backwards = ({"at": "2024-05-01T10:00:00Z", "opened at": "2024-05-01T09:00:00Z"}, "admin", "hq")
    r = oracle({"name": "k", "measure": {"avg_duration": ["at", "opened at"]}, "in": "minutes"}, spans + [backwards], q)
    assert (r["value"], r["n"], r["ended_before_start"]) == (75, 2, 1)
    things = [({"any": v}, "admin", "hq") for v in [5, 5.0, "5", True, [1], "[1]", {"a": 1, "b": 2},
                                                     {"b": 2, "a": 1}, [1.0], None]] + [({}, "admin", "hq")]
    r = oracle({"name": "k", "measure": {"count": True}}, things, {**q, "by": "any"})
    assert [(g["key"], g["n"]) for g in r["groups"]] == [
        (True, 1), (5, 2), ("5", 1), ("[1]", 1), ([1], 2), ({"a": 1, "b": 2}, 2), (None, 2)]
    # filters: an untyped field matches values of the filter value's own type only
    assert [matches(d, {"any": {"lt": 6}}) for d, *_ in things] == [True, True] + [False] * 9
    assert [matches(d, {"any": {"ne": 5}}) for d, *_ in things] == [False, False] + [True] * 9
    assert matches({"txt": "5"}, {"txt": 5}) and matches({"n_int": 7}, {"n_int": {"in": ["7"]}})
    assert matches({"txt": "b"}, {"txt": {"gt": "B"}}) and not matches({}, {"txt": {"ne": None}})
    assert in_period({"ts_text": "2024-03-31T23:59-05:00"}, "ts_text", "2024-03-01", "2024-03-31")
    assert not in_period({"ts_text": "soon"}, "ts_text", "2024-03-01", None)


# -- the defects the oracle found, as fixed examples ------------------------------------------
def compute_k(platform, d: dict, q: dict) -> dict:
    with platform.connection() as conn:
        kpis.add(platform, conn, d)
    with platform.session(q["user"], write=False) as s:
        return kpis.compute(s, "k", q["date_from"], q["date_to"], q["by"])


ADMIN = {"user": "admin", "date_from": None, "date_to": None, "by": None}


def test_untyped_group_keys_are_the_json_values(world):
    """The array [1] and the text "[1]" were one key ("[1]") on both engines; on SQLite an
    object written with another key order, and the float 1e16 beside the integer
    10000000000000000, were a second group with the same key."""
    values = [[1], "[1]", [1.0], {"a": 1, "b": 2}, {"b": 2, "a": 1}, 1e16, 10**16, '{"a":1,"b":2}',
              {"a": [1, {"y": 1, "x": 2}]}, {"a": [1, {"x": 2, "y": 1.0}]}, [2, 1], [1, 2], [], {}, None,
              1e20, [1e20, 2.5]]
    records = [({"any": v, "n_int": i}, ("admin", "hq")) for i, v in enumerate(values)] + [({}, ("admin", "hq"))]
    name = load(world, records)
    q = {**ADMIN, "by": "any"}
    stored = [(data, w, u) for data, (w, u) in records]
    for measure in ({"count": True}, {"median": "n_int"}, {"sum": "n_int"}):
        d = {"name": "k", "entity": name, "measure": measure}
        got = compute_k(world, d, q)
        check(got, oracle(d, stored, q))
    # the count, by hand: equal JSON values one group, different values different groups
    assert [(g["key"], g["n"]) for g in compute_k(world, {"name": "k", "entity": name, "measure": {"count": True}},
                                                   q)["groups"]] == [
        (10**16, 2), (1e20, 1), ("[1]", 1), ('{"a":1,"b":2}', 1),
        # arrays and objects in the order of their JSON text: "[1,2]" < "[1]" < "[1e20,2.5]" < "[2,1]" < "[]"
        ([1, 2], 1), ([1], 2), ([1e20, 2.5], 1), ([2, 1], 1), ([], 1),
        ({"a": 1, "b": 2}, 2), ({"a": [1, {"x": 2, "y": 1}]}, 2),
        ({}, 1), (None, 2)]
    assert type(got["groups"][5]["key"][0]) is int  # [1.0] is the group of [1], shown as [1]
    json.dumps(got)  # 1e20: PostgreSQL answers a whole number past 64 bits, shown as the float


def test_a_period_counts_only_text_that_starts_with_a_day(world):
    """A time field of no format may hold any text: "soon" sorted after every date and was
    counted in any period with a --from (and no --to)."""
    texts = ["soon", "2024-03-01", "x", "", "فردا", "2024-04-01T00:00:00+14:00", " 2024-03-05", "2024-03-31 23:59"]
    name = load(world, [({"ts_text": t}, ("admin", "hq")) for t in texts])
    d = {"name": "k", "entity": name, "time_field": "ts_text", "measure": {"count": True}}
    got = compute_k(world, d, {**ADMIN, "date_from": "2024-03-01"})
    assert (got["value"], got["n"]) == (3, 3)
    got = compute_k(world, d, {**ADMIN, "date_to": "2024-03-31"})
    assert (got["value"], got["n"]) == (2, 2)
    assert compute_k(world, d, ADMIN)["n"] == len(texts)  # no period: every record


# -- the CLI: `xrm kpi compute NAME --json` -------------------------------------------------
def check_cli_shape(doc) -> None:
    """DESIGN §3/§5: one JSON document {"kpi", "value", "unit", "n", "from", "to", "groups":
    [{"key", "value", "n"}]}, value null exactly when n is 0, from/to ISO dates or null."""
    assert isinstance(doc, dict) and set(doc) == RESULT_KEYS, doc
    assert isinstance(doc["kpi"], str) and isinstance(doc["unit"], str)
    assert type(doc["n"]) is int and doc["n"] >= 0
    assert (doc["value"] is None) == (doc["n"] == 0)
    assert doc["value"] is None or type(doc["value"]) in (int, float)
    for bound in ("from", "to"):
        assert doc[bound] is None or re.fullmatch(r"\d{4}-\d{2}-\d{2}", doc[bound]), doc[bound]
    assert isinstance(doc["groups"], list)
    for g in doc["groups"]:
        assert set(g) == {"key", "value", "n"} and type(g["n"]) is int and g["n"] >= 0, g
        assert g["value"] is None or type(g["value"]) in (int, float)
        assert g["n"] > 0 or g["value"] is None


@settings(SETTINGS, max_examples=int(os.environ.get("XRM_KPI_ORACLE_CLI_EXAMPLES", 12)))
@given(records=records_st, case=st.tuples(definitions("ENTITY"), queries()))
def test_cli_compute_json_is_the_contract_document(world, cli, tmp_path, records, case):
    name = load(world, records)
    d, q = case
    d = {**d, "entity": name}
    note(json.dumps({"definition": d, "query": q}, ensure_ascii=False))
    path = tmp_path / "k.json"
    path.write_text(json.dumps(d, ensure_ascii=False), encoding="utf-8")
    r = cli("kpi", "add", path, "--json")
    assert r.exit_code == 0, r.stderr
    args = ["kpi", "compute", "k", "--json"]
    for option, value in (("--from", q["date_from"]), ("--to", q["date_to"]), ("--by", q["by"])):
        if value:
            args += [option, value]
    if q["user"] != "admin":
        args += ["--as", q["user"]]
    r = cli(*args)
    refused = expect_refusal(q, d)
    if refused:
        assert (r.exit_code, r.stdout) == (2, ""), (r.exit_code, r.stdout, r.stderr)
        assert r.stderr.startswith("error: ") and refused in r.stderr and "Traceback" not in r.stderr, r.stderr
        return
    assert r.exit_code == 0, r.stderr
    doc = json.loads(r.stdout)  # exactly one JSON document on stdout
    check_cli_shape(doc)
    check(doc, oracle(d, [(data, w, u) for data, (w, u) in records], q))
    period = bool(q["date_from"] or q["date_to"])
    assert ("has no time_field" in r.stderr) == (period and not d.get("time_field")), r.stderr


def test_cli_shows_array_and_object_keys_as_json(world, cli):
    name = load(world, [({"any": v}, ("admin", "hq")) for v in [[1], {"b": 2, "a": "نام"}, {"a": "نام", "b": 2}]])
    with world.connection() as conn:
        kpis.add(world, conn, {"name": "k", "entity": name, "measure": {"count": True}})
    r = cli("kpi", "compute", "k", "--by", "any")
    assert r.exit_code == 0, r.stderr
    assert [line.split() for line in r.stdout.splitlines()[2:]] == [["[1]", "1", "1"], ['{"a":"نام","b":2}', "2", "2"]]
    r = cli("kpi", "compute", "k", "--by", "any", "--json")
    assert json.loads(r.stdout)["groups"] == [{"key": [1], "value": 1, "n": 1},
                                              {"key": {"a": "نام", "b": 2}, "value": 2, "n": 2}]
