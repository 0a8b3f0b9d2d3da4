"""Date-time fields compared as the instants they name, not as the text they are written in.

A field whose schema holds its values to ``"format": "date-time"`` (RFC 3339, an offset
always written: ``2026-03-01T02:00:00+03:30``) is filtered, sorted, paged and indexed by
its instant in UTC: ``2026-02-28T22:30:00.000000Z``. That *normal form* is fixed-width text
(four-digit year, microseconds, ``Z``), so text order is time order on both engines and one
expression serves queries and the per-type expression indexes alike:

- SQLite: built-in ``strftime`` over the value with its fraction appended (``strftime``'s
  own ``%f`` keeps milliseconds only);
- PostgreSQL: the IMMUTABLE function ``xrm_instant(text)`` of migration 0006.

Filter values are put in the same form in Python (:func:`normal`). Stored values are never
rewritten: a record returns the text it was given.

Limits, the same on both engines: digits past microseconds are dropped (two values that
differ only there are one instant); a leap second (``23:59:60``, which RFC 3339 and the
validator allow) is read as ``23:59:59.999999`` — after every other instant of its minute,
before the next minute.

Some valid RFC 3339 texts name no instant both engines can order: the year 0000 (before
the first year their calendars share), an offset beyond ±14:59 (SQLite reads none; no time
zone uses one), and a time whose UTC instant falls outside the years 0001–9999
(``9999-12-31T23:59:59-05:00``, ``0001-01-01T00:00:00+01:00``): no fixed-width text holds
it, and SQLite's date functions stop at 9999. The validator refuses them wherever a schema
asks for ``format: date-time`` (:func:`has_instant`, :mod:`xrm_core.validation`), with a
message saying why (:func:`why_no_instant`), as filters refuse them as values. Such a value
stored before that refusal is kept as it is, is matched by no comparison and sorts last.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

from .schema_types import resolve, types_of

#: The ``format`` that makes a string field an instant.
DATE_TIME = "date-time"
#: The SQL kind of such a field (in place of its JSON type ``string``, see
#: :func:`xrm_core.fields.sql_type`).
INSTANT = "date-time"

#: RFC 3339 ``date-time`` as the validator accepts it (ASCII digits: ``\d`` would take any
#: script's, which RFC 3339 does not): seconds and an offset required,
#: ``T``/``Z`` in either case, a fraction of any length, seconds up to 60 (a leap second).
DATE_TIME_RE = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})")
#: A calendar date ``YYYY-MM-DD`` (RFC 3339 ``full-date``).
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: The normal form's ``strftime``/``to_char`` part (the fraction and ``Z`` are appended).
_SECONDS = "%Y-%m-%dT%H:%M:%S"
#: Offsets up to ±14:59 only: SQLite's strftime reads no other (real ones end at +14:00).
_PG_REGEX = (r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:"
             r"([0-5][0-9]|60)(\.[0-9]+)?([Zz]|[+-](0[0-9]|1[0-4]):[0-5][0-9])$")
#: The start of a date-time for SQLite's GLOB (strftime would also read a date alone).
_SQLITE_GLOB = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9][Tt][0-9][0-9]:[0-9][0-9]:[0-9][0-9]?*"


class Day(str):
    """A filter value ``YYYY-MM-DD`` given for a date-time field: compared with the calendar
    day *written* in each stored value (its text), as text comparison always did and as KPI
    periods count (``--from``/``--to``): ``gte 2026-03-01`` keeps ``2026-03-01T02:00+03:30``
    although that instant is 22:30 UTC on 28 February. A type of its own so that a prepared
    list statement (:mod:`xrm_core.listing`) is keyed apart from an instant's."""

    __slots__ = ()


def formats_of(root: dict, sub, depth: int = 0) -> set[str] | None:
    """The ``format``s a subschema holds its non-null values to, or None when none applies.

    Resolves ``$ref`` as :meth:`EntityType.property_schema` does. A format in an ``allOf``
    part binds every value; an ``anyOf``/``oneOf`` gives its branches' formats only when each
    branch that admits more than null has one (``[{"format": "date"}, {"type": "null"}]``
    is a date; ``[{"format": "date"}, {"type": "string"}]`` is any string).
    """
    if not isinstance(sub, dict) or depth > 20:
        return None
    sub = resolve(root, sub, depth)
    if isinstance(sub.get("format"), str):
        return {sub["format"]}
    for part in sub.get("allOf", []):
        found = formats_of(root, part, depth + 1)
        if found:
            return found
    for key in ("anyOf", "oneOf"):
        # types_of leaves null out: an empty set is a branch that admits only null
        branches = [b for b in sub.get(key, []) if types_of(root, b, depth + 1) != set()]
        found = [formats_of(root, b, depth + 1) for b in branches]
        if branches and all(found):
            return set().union(*found)
    return None


def is_instant_field(et, path: str) -> bool:
    """True when every value field ``path`` of ``et`` may hold is a string of format date-time."""
    return et.field_type(path) == "string" and formats_of(et.schema, et.property_schema(path)) == {DATE_TIME}


def normal(text: str) -> str | None:
    """The normal form of RFC 3339 date-time ``text`` (``2026-02-28T22:30:00.000000Z``), or
    None when it is not one or names no instant both engines can read (see the module)."""
    m = DATE_TIME_RE.fullmatch(text)
    if not m or m.group(1) == "0000":
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction = ((m.group(7) or "") + "000000")[:6]
    if second == 60:
        second, fraction = 59, "999999"
    offset = m.group(8).upper()
    if offset != "Z" and (int(offset[1:3]) > 14 or int(offset[4:6]) > 59):
        return None  # SQLite's strftime reads no offset beyond ±14:59 (real ones end at +14:00)
    try:
        local = datetime(year, month, day, hour, minute, second)
        if offset != "Z":
            sign = -1 if offset[0] == "-" else 1
            local -= sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    except (ValueError, OverflowError):
        return None  # no such day (2026-02-30), hour 24, or beyond year 1–9999 in UTC
    if not 1 <= local.year <= 9999:
        return None
    return f"{local.year:04d}-{local:%m-%dT%H:%M:%S}.{fraction}Z"


#: The years in which an RFC 3339 date-time may name no instant: 0000 itself, and the first
#: and last years, which an offset can move out of 0001–9999 in UTC.
_EDGE_YEARS = frozenset({"0000", "0001", "9999"})


def has_instant(text: str) -> bool:
    """Does ``text``, a date-time the validator's RFC 3339 check accepts, name an instant
    (:func:`normal` is not None)? The format check of date-time values calls it for each
    one, so the usual date-time — a year 0002–9998, an offset within ±14 hours — is
    answered without being parsed."""
    if text[:4] not in _EDGE_YEARS and not (text[-6:-5] in ("+", "-") and text[-5:-3] > "14"):
        return True
    return normal(text) is not None


def why_no_instant(text) -> str | None:
    """Why an RFC 3339 date-time ``text`` names no instant, and what is asked instead (the
    message of a value the format check refuses follows ``text`` with it: ``is after
    9999-12-31T23:59:59Z in UTC: …``), or None when it names one or is no date-time at all."""
    m = DATE_TIME_RE.fullmatch(text) if isinstance(text, str) else None
    if m is None or normal(text) is not None:
        return None
    offset = m.group(8).upper()
    years = "a date-time must fall within the years 0001–9999 in UTC"
    if m.group(1) == "0000":
        return f"is in the year 0000: {years}"
    if offset != "Z" and (int(offset[1:3]) > 14 or int(offset[4:6]) > 59):
        return f"has the offset {offset}: a date-time's offset must be within ±14:59 (no time zone is further from UTC)"
    if offset == "Z" or m.group(1) not in ("0001", "9999"):
        return None  # no such day or hour: not a valid date-time in the first place
    # Only an offset moves a valid date-time out of the years: east of UTC in year 1, west in 9999.
    when = "before 0001-01-01T00:00:00Z" if offset[0] == "+" else "after 9999-12-31T23:59:59Z"
    return f"is {when} in UTC: {years}"


def next_day(day: str, days: int) -> str:
    """``YYYY-MM-DD`` ``days`` after ``day`` (before, when negative), clamped to years 1–9999."""
    d = datetime.strptime(day, "%Y-%m-%d")
    try:
        return f"{(d + timedelta(days=days)).date():%Y-%m-%d}" if d.year > 1 or days > 0 else "0000-00-00"
    except OverflowError:
        return "9999-12-32"  # after every day


def instant_sql(dialect: str, text_sql: str) -> str:
    """SQL text of the normal form of the date-time that SQL ``text_sql`` reads (NULL when it
    is none): the expression filters, sorts, cursors and indexes of such a field share."""
    if dialect == "postgresql":
        return f"xrm_instant({text_sql})"
    x = text_sql
    # The value rebuilt as strftime reads it: the date, a space, HH:MM, seconds no more than
    # 59 (min() of texts), no fraction, the offset in upper case ('z' is not read). What
    # follows the seconds is ".digits" and then the offset: ltrim() of the fraction's
    # characters leaves the offset, and their length difference the fraction.
    rest = f"substr({x}, 20)"
    offset = f"ltrim({rest}, '.0123456789')"
    fraction = f"substr(substr({rest}, 2, max(length({rest}) - length({offset}) - 1, 0)) || '000000', 1, 6)"
    read = (f"substr({x}, 1, 10) || ' ' || substr({x}, 12, 6) || min(substr({x}, 18, 2), '59') "
            f"|| upper({offset})")
    return (f"(CASE WHEN {x} GLOB '{_SQLITE_GLOB}' AND substr({x}, 1, 4) <> '0000' THEN strftime('{_SECONDS}', {read}) || '.' || "
            f"(CASE WHEN substr({x}, 18, 2) = '60' THEN '999999' ELSE {fraction} END) || 'Z' END)")


#: The body of ``xrm_instant(text)`` on PostgreSQL (created by migration 0006). IMMUTABLE
#: although a cast to timestamptz is only STABLE (it reads the session's TimeZone for text
#: without an offset, and DateStyle for ambiguous dates): it casts nothing. The parts are
#: read by position from text the regular expression has checked, the instant is computed by
#: immutable timestamp-without-time-zone arithmetic (make_timestamp, minus the written
#: offset), and to_char is given only numeric fields, which no setting changes (it is STABLE
#: for its locale-dependent TM patterns, unused here). So the result depends on the argument
#: alone, as an index expression must. A value that is no date-time gives NULL instead of
#: an error — no stored text can make an insert or a query fail, not even one of another
#: type the planner reads before its type test: the regular expression checks each part's
#: range, and a day past its month's last (2026-02-30, which make_timestamp would refuse)
#: is NULL too, as :func:`normal` answers None.
PG_FUNCTION = rf"""
CREATE OR REPLACE FUNCTION xrm_instant(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
SELECT CASE WHEN value ~ '{_PG_REGEX}' THEN CASE
  -- nested, not AND: PostgreSQL may evaluate AND's operands in any order
  WHEN substr(value, 9, 2)::int <= extract(day from make_date(substr(value, 1, 4)::int, substr(value, 6, 2)::int, 1)
                                                    + interval '1 month' - interval '1 day')::int THEN
    to_char(
        make_timestamp(substr(value, 1, 4)::int, substr(value, 6, 2)::int, substr(value, 9, 2)::int,
                       substr(value, 12, 2)::int, substr(value, 15, 2)::int,
                       least(substr(value, 18, 2)::int, 59))
        - CASE WHEN upper(right(value, 1)) = 'Z' THEN interval '0'
               ELSE make_interval(mins => (CASE WHEN substr(right(value, 6), 1, 1) = '-' THEN -1 ELSE 1 END)
                                          * (substr(right(value, 5), 1, 2)::int * 60 + substr(right(value, 2), 1, 2)::int))
          END,
        'YYYY-MM-DD"T"HH24:MI:SS')
    || '.' || CASE WHEN substr(value, 18, 2) = '60' THEN '999999'
                   ELSE rpad(coalesce(substring(value from '^.{{19}}\.([0-9]{{1,6}})'), ''), 6, '0') END
    || 'Z'
END END
$fn$
"""
