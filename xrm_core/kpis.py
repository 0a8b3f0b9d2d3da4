"""KPIs: declarative measures compiled to one SQL aggregate, and Python KPI objects.

Either kind runs inside the database over the records the caller may read, within the period
``--from``/``--to`` (inclusive calendar dates on the KPI's ``time_field``), optionally grouped
by a field. Result (contract): ``{"kpi", "value", "unit", "n", "from", "to", "groups":
[{"key", "value", "n"}]}``; ``value`` is null when ``n`` is 0. A declarative avg_duration that
left records out because their end is before their start adds ``ended_before_start``: how many,
to the result and to each group that has some.

Numbers come back the same on both engines: integral values as integers, others rounded to
six decimals (PostgreSQL answers ``numeric``, SQLite ``real``).
"""
from __future__ import annotations

import math
import re
from datetime import date, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import Connection, and_, case, func, literal, literal_column, select, true
from sqlalchemy.sql.elements import ColumnElement, False_
from sqlalchemy.exc import DataError

from . import db
from .errors import DefinitionError, NotFound, PermissionDenied, PluginError, ValidationError, XrmError
from .fields import field_expr, sql_type, type_literal
from .filters import compile_filter
from .instants import INSTANT
from .kpi_measures import (DeclarativeKPI, JsonKey, _field_of, _float, _json_value, register_sqlite_functions,
                           too_many_groups)
from . import kpi_measures
from .plugins import PLUGIN_FAILURES
# The registry's functions, as callers name them: kpis.registry, kpis.add …
from .kpi_registry import add, check_type_change, registry, remove, waiting  # noqa: F401

if TYPE_CHECKING:
    from .session import Session

R = db.records
#: A calendar date as --from/--to take it; ASCII digits (``\d`` also matches "٢٠٢٤"), matched whole.
DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
#: A KPI's name, as ``schemas/kpi.schema.json`` has it.
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
#: A field whose schema makes it an array or an object is no grouping field (a field of no
#: single type that holds one in some records is grouped by that JSON value).
UNGROUPABLE = {"array", "object"}
#: What a period reads from its time field: a calendar day at the start of the text.
PG_DAY_AT_START = "^[0-9]{4}-[0-9]{2}-[0-9]{2}"
SQLITE_DAY_AT_START = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"


class KPI:
    """Base class of Python KPIs, for what the declarative form cannot say.

    Set ``name``, ``label``, ``unit``, ``higher_is_better``, ``description`` (with the
    formula) and optionally ``entity`` and ``time_field``; implement :meth:`compute`, which
    must build its queries from ``ctx`` (:meth:`KPIContext.base`, :meth:`KPIContext.field`)
    so the caller's scope and the period apply.
    """

    name: str = ""
    label: str | dict = ""
    unit: str = ""
    higher_is_better: bool = True
    description: str = ""
    entity: str | None = None
    time_field: str | None = None
    #: The plugin that declared it; set when the plugin's ``xrm_kpis`` is read.
    source: str | None = None

    def compute(self, ctx: "KPIContext") -> dict:
        """Return ``{"value": number|None, "n": int, "groups": [{"key", "value", "n"}]}``."""
        raise NotImplementedError

    def check(self, known_types: set[str]) -> None:
        """Called at registration; raise DefinitionError if the KPI cannot work."""
        shown = type(getattr(self, "obj", self)).__name__  # the plugin's class, not the platform's adapter
        if not self.name:
            raise DefinitionError(f"{shown} has no name")
        # As kpi.schema.json's: a name is text (lists sort and the REST path names it).
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise DefinitionError(f"{shown}'s name {self.name!r} is not a KPI name: lower-case "
                                  "letters, digits and _, starting with a letter (at most 63)",
                                  [{"pointer": "/name", "message": "not a KPI name"}])
        if self.entity is not None and not isinstance(self.entity, str):
            raise DefinitionError(f"KPI {self.name!r}: entity {self.entity!r} is not an entity type's name",
                                  [{"pointer": "/entity", "message": "not a name"}])
        if self.entity and self.entity not in known_types:
            raise DefinitionError(f"KPI {self.name!r} measures unknown entity type {self.entity!r}",
                                  [{"pointer": "/entity", "message": "unknown entity type"}])

    def to_dict(self) -> dict:
        out = {"name": self.name, "label": self.label or self.name, "unit": self.unit,
               "higher_is_better": self.higher_is_better, "description": self.description, "kind": "python",
               "source": self.source}
        if self.entity:
            out["entity"] = self.entity
        if self.time_field:
            out["time_field"] = self.time_field
        return out


class KPIContext:
    """What a KPI computes within: the session (scope), the period and the grouping field.

    ``date_from``/``date_to`` are checked ISO dates (or None), ``by`` a field name (or None).
    """

    def __init__(self, session: "Session", kpi, date_from: str | None, date_to: str | None, by: str | None):
        self.session = session
        self.kpi = kpi
        self.date_from = date_from
        self.date_to = date_to
        self.by = by
        self.dialect = session.dialect

    def entity_type(self, name: str):
        """The compiled entity type ``name`` (NotFound if unknown)."""
        return self.session.entity_type(name)

    def field(self, entity: str, path: str) -> ColumnElement:
        """SQL expression of a data field of ``entity`` (typed by its schema)."""
        et = _field_of(self.entity_type(entity), path, f"/{path}")
        return field_expr(self.dialect, path, et.field_type(path))

    def instant(self, entity: str, path: str) -> ColumnElement:
        """SQL expression of a ``format: date-time`` field of ``entity`` as the instant it
        names: fixed-width UTC text (``2026-03-03T16:30:00.000000Z``), so that two such
        fields compare (and ``min``/``max`` pick) in time order on both engines, whatever
        offsets their values were written with. :meth:`field` reads the text as stored, in
        which ``2026-03-03T23:30:00+07:00`` sorts after ``2026-03-03T18:00:00+01:00``
        although it is half an hour earlier. Refused (``ValidationError``) for a field of
        no ``format: date-time``."""
        et = _field_of(self.entity_type(entity), path, f"/{path}")
        if sql_type(et, path) != INSTANT:
            raise ValidationError(f"{path!r} of {entity} is not a date-time field: ctx.instant() reads "
                                  "fields whose schema says \"format\": \"date-time\"",
                                  [{"pointer": f"/{path}", "message": "not a date-time field"}])
        return field_expr(self.dialect, path, INSTANT)

    def base(self, entity: str, where: dict | None = None, time_field: str | None = None) -> ColumnElement:
        """Condition: records of ``entity`` that the caller may read, matching filter ``where``,
        inside the period on ``time_field``.

        ``time_field`` defaults to the KPI's own for the KPI's own entity; records of other
        entities are only limited to the period when a time field is named.
        """
        et = self.entity_type(entity)
        if time_field is None and entity == getattr(self.kpi, "entity", None):
            time_field = getattr(self.kpi, "time_field", None)
        scope = self.session.actor.clause(et.name, "read")
        if isinstance(scope, False_):
            # No grant: nothing matches. Not the constant itself — and_() reduces to it, and a
            # plugin's select(func.count()).where(base(...)) would lose its FROM (SQLAlchemy
            # finds the records table in this condition): "no such column". Ids are never null.
            return R.c.id.is_(None)
        conds = [R.c.type == type_literal(et.name), scope]
        if where:
            conds.append(compile_filter(self.dialect, et, where))
        if time_field:
            conds.append(self.period(entity, time_field))
        return and_(*conds)

    def period(self, entity: str, time_field: str) -> ColumnElement:
        """``time_field`` within [from, to], both whole days.

        Dates and RFC 3339 date-times are compared as text: ``2024-03-31T23:59Z`` is on
        or before ``--to 2024-03-31`` because it sorts before ``2024-04-01``. A date-time
        counts on the calendar day written in it, whatever its offset. A value that does not
        start with a day ``YYYY-MM-DD`` (text in a time field of no format: "soon", "") is in
        no period — as text, "soon" sorts after every date and would count from any --from.
        """
        et = self.entity_type(entity)
        _field_of(et, time_field, "/time_field")
        # No COLLATE "C" on PostgreSQL: ISO dates order the same under any locale, and the
        # plain expression can use an expression index declared on the time field.
        expr = field_expr(self.dialect, time_field, "string")
        conds = []
        declared = et.property_schema(time_field) or {}
        if (self.date_from or self.date_to) and declared.get("format") not in ("date", "date-time"):
            # Only a field of no date format can hold text that is no day (a date or
            # date-time field's values are checked on write): the test costs a pattern match
            # per row, which the usual KPI over a date field does not pay.
            conds.append(expr.op("~")(literal(PG_DAY_AT_START)) if self.dialect == "postgresql"
                         else expr.op("GLOB")(literal(SQLITE_DAY_AT_START)))
        if self.date_from:
            conds.append(expr >= self.date_from)
        if self.date_to:
            end = date.fromisoformat(self.date_to)
            # 9999-12-31 has no next day; "9999-12-32" sorts after any text written on it.
            conds.append(expr < ((end + timedelta(days=1)).isoformat() if end < date.max else "9999-12-32"))
        return and_(*conds) if conds else true()

    def group_key(self, entity: str) -> ColumnElement | None:
        """SQL expression of the ``--by`` field of ``entity``, or None when not grouping.

        A field of no single schema type is grouped by its JSON value, read back as that
        value on both engines (``5``, ``"5"`` and ``true`` are three groups, ``5`` and
        ``5.0`` one); an array or object is read back as a :class:`JsonKey` (equal values
        one key, whatever an object's key order), shown as the value itself in results.
        JSON null and an absent field are the missing key. A ``format: date-time`` field is
        keyed by the normal form of its instant (``2026-06-01T00:00:00.000000Z``).
        """
        if not self.by:
            return None
        et = _field_of(self.entity_type(entity), self.by, "/by")
        jt = et.field_type(self.by)
        if jt in UNGROUPABLE:
            raise ValidationError(f"cannot group by {self.by!r}: it is an {jt}",
                                  [{"pointer": "/by", "message": f"{jt} fields have no single value to group by"}])
        if jt is None:
            if self.dialect == "sqlite":
                register_sqlite_functions(self.session.conn)
            return _json_value(self.dialect, self.by)
        # A date-time field by the instant it names (its normal form, UTC): two spellings
        # of one instant (+03:30 and Z) are one group, as filters and unique keys see them.
        return field_expr(self.dialect, self.by, sql_type(et, self.by))

    def scalar(self, stmt):
        """Run ``stmt`` in the session's transaction; its first column of the first row."""
        return self.session.conn.execute(stmt).scalar()

    def execute(self, stmt):
        """Run ``stmt`` in the session's transaction."""
        return self.session.conn.execute(stmt)

    def grouped(self, stmt) -> list:
        """The rows of ``stmt``, one per group of ``by``; a :class:`ValidationError` at ``/by``
        when there are more than :data:`~xrm_core.kpi_measures.MAX_GROUPS` (only one row past it is read: the
        database, not this process, holds the groups of a near-unique field)."""
        limit = kpi_measures.MAX_GROUPS
        rows = self.execute(stmt.limit(limit + 1)).all()
        if len(rows) > limit:
            raise too_many_groups(self.by, limit)
        return rows

    # -- building blocks of Python KPIs ------------------------------------------------
    # Each returns what compute() returns, or the rows to build it from; groups follow ``by``.

    def all_time(self) -> "KPIContext":
        """A context like this one whose :meth:`base` limits records to the period only where a
        ``time_field`` is named, for look-backs that need records from before the period (an
        earlier purchase, the population at its start). :meth:`period` still works."""
        return KPIContext(self.session, None, self.date_from, self.date_to, self.by)

    def bytewise(self, expr: ColumnElement) -> ColumnElement:
        """``expr`` (a string) compared byte by byte on both engines (``COLLATE "C"`` on
        PostgreSQL), as ISO dates and date-times need whatever the database's locale."""
        return expr.collate("C") if self.dialect == "postgresql" else expr

    def aggregate(self, entity: str, *aggregates: ColumnElement, where: dict | None = None,
                  time_field: str | None = None) -> tuple[tuple, dict]:
        """Run ``aggregates`` over :meth:`base` ``(entity, where, time_field)``.

        Returns ``(overall row, {group key: row})``; the dict is empty unless grouping
        (``by``), and in key order — the same on both engines: numbers and booleans by value,
        then strings by code point, the missing key (None) last.
        """
        base = self.base(entity, where, time_field)
        total = tuple(self.execute(select(*aggregates).where(base)).first())
        groups = {}
        key = self.group_key(entity)
        if key is not None:
            rows = self.grouped(select(key, *aggregates).where(base).group_by(key))
            for row in sorted(rows, key=lambda r: _key_order(r[0])):
                groups[row[0]] = tuple(row[1:])
        return total, groups

    def measure(self, entity: str, value: ColumnElement, n: ColumnElement, where: dict | None = None,
                time_field: str | None = None) -> dict:
        """A KPI result from two aggregates over :meth:`base` ``(entity, where, time_field)``:
        ``value`` and ``n`` (the number of records it stands on), overall and per group."""
        (v, count), groups = self.aggregate(entity, value, n, where=where, time_field=time_field)
        return {"value": _float(v), "n": count or 0,
                "groups": [{"key": k, "value": _float(gv), "n": gn or 0} for k, (gv, gn) in groups.items()]}

    def share(self, entity: str, counted: ColumnElement, hit: ColumnElement, where: dict | None = None,
              time_field: str | None = None, scale: float = 100.0) -> dict:
        """A KPI result: ``scale`` × records matching ``counted`` and ``hit`` / records matching
        ``counted`` (SQL conditions), among :meth:`base` ``(entity, where, time_field)``;
        ``n`` is the number of ``counted`` records."""
        n = func.sum(case((counted, 1), else_=0))
        value = float(scale) * func.sum(case((and_(counted, hit), 1), else_=0)) / func.nullif(n, 0)
        return self.measure(entity, value, func.coalesce(n, 0), where, time_field)

    def ratio(self, numerator: tuple, denominator: tuple, scale: float = 100.0) -> dict:
        """A KPI result across two entity types: ``scale`` × Σnumerator / Σdenominator.

        Each side is ``(entity, aggregate[, where[, time_field]])``, e.g.
        ``("order", func.count(), {"status": "open"}, "opened_at")``, run through
        :meth:`aggregate`. ``n`` is the number of denominator records; the value is None when
        the denominator is 0 or empty. Groups pair up by the ``by`` key, which must then be a
        field of both entity types.
        """
        def side(spec: tuple, *extra):
            entity, agg, where, time_field = (*spec, None, None)[:4]
            return self.aggregate(entity, agg, *extra, where=where, time_field=time_field)

        (num,), num_groups = side(numerator)
        (den, n), den_groups = side(denominator, func.count())

        def value(a, b):
            return scale * _float(a or 0) / _float(b) if b else None

        groups = []
        for k in sorted(set(num_groups) | set(den_groups), key=_key_order):
            d, dn = den_groups.get(k, (None, 0))
            groups.append({"key": k, "value": value(num_groups.get(k, (0,))[0], d), "n": dn})
        return {"value": value(num, den), "n": n, "groups": groups}

    def summarise(self, rows, value: ColumnElement, n: ColumnElement) -> dict:
        """A KPI result from a subquery: ``value`` and ``n`` aggregate the columns of ``rows``
        overall and, when grouping, per its column ``k`` (which the KPI fills from
        :meth:`group_key`). For measures that need a first pass per record or per person.
        Groups come in the key order of :meth:`aggregate`."""
        total = self.execute(select(value, n)).first()
        groups = []
        if self.by:
            found = self.grouped(select(rows.c.k, value, n).group_by(rows.c.k))
            for k, gv, gn in sorted(found, key=lambda r: _key_order(r[0])):
                groups.append({"key": k, "value": _float(gv), "n": gn or 0})
        return {"value": _float(total[0]), "n": total[1] or 0, "groups": groups}


def _num(v):
    """A result number as JSON shows it on both engines: int when integral, else 6 decimals.

    An int (a count, an exact sum of integers) is shown as it is. Other values are first
    cut to 15 significant digits: PostgreSQL computes in exact numeric, SQLite in doubles,
    and their answers differ in the last bits — which rounding to 6 decimals alone let
    show: the average of 1e-06 and 0.3 is 0.1500005 in numeric, 0.15000049999999999 in
    doubles, and was 0.150001 on PostgreSQL, 0.15 on SQLite.
    """
    if v is None or isinstance(v, bool) or isinstance(v, int):
        return v
    if isinstance(v, (Decimal, float)):
        f = float(v)
        if not math.isfinite(f):
            raise ValidationError("the values are too large for this measure: its result is beyond the "
                                  "largest number a double holds (about 1.8e308)",
                                  [{"pointer": "/measure", "message": "result out of range"}])
        cut = float(f"{f:.15g}")
        # 1.7976931348623157e308 cut to 15 digits rounds up past the largest double.
        f = round(cut if math.isfinite(cut) else f, 6)
        # As an int only while JSON writers can hold it (orjson: 64 bits).
        return int(f) if f.is_integer() and -2**63 <= f < 2**63 else f
    return v


def _key(v, json_type: str | None):
    """A group key as JSON shows it: SQLite answers booleans as 0/1, PostgreSQL numbers as numeric.

    Keys are values, not results: never rounded (2**53 + 1 and 2**53 are two groups, and
    1e-07 is not 0), integral numbers as ints (SQLite's 5.0, PostgreSQL's Decimal 5.0).
    """
    if v is None:
        return None
    if isinstance(v, JsonKey):
        return v.value
    if json_type == "boolean":
        return bool(v)
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and -2**63 <= v < 2**63 else float(v)
    if isinstance(v, float) and v.is_integer() and -2**63 <= v < 2**63:
        return int(v)
    return v


def _key_order(k):
    """Sort key of a group key, the same on both engines: numbers and booleans (SQLite
    answers them as 0/1, PostgreSQL numbers as Decimal) by value, then strings by code point
    (not the database's collation), then arrays and objects by their JSON text with keys
    sorted (:class:`JsonKey`), the missing key last. Values of different JSON types
    (untyped fields) are never compared with each other."""
    if isinstance(k, (dict, list)):
        k = JsonKey(k)
    rank = 4 if k is None else 1 if isinstance(k, (bool, int, float, Decimal)) else 3 if isinstance(k, JsonKey) else 2
    # A number before the boolean of its value (0 before false, 1 before true): they tie
    # as values, and a tie kept the order the database returned, which differs by engine.
    return (rank, k if rank == 1 else k.text if rank == 3 else str(k) if rank == 2 else 0,
            isinstance(k, bool))


def _sort_key(group: dict):
    return _key_order(group["key"])


def _check_date(value, where: str) -> str | None:
    """An inclusive period bound: a calendar date ``YYYY-MM-DD`` (or a ``date``), else a clear error."""
    if value is None or value == "":
        return None
    text = value.isoformat() if isinstance(value, date) else str(value)
    try:
        if not DATE_RE.fullmatch(text):
            raise ValueError(text)
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValidationError(f"{where.strip('/')} must be a calendar date YYYY-MM-DD, got {value!r}",
                              [{"pointer": where, "message": "not a YYYY-MM-DD date"}]) from None


class _PeriodsContext(KPIContext):
    """A context over consecutive periods, grouping by the period that holds each record's
    ``time_field`` value (:func:`compute_periods`): the key of a record is the index of its
    period, decided by the very comparisons :meth:`KPIContext.period` makes, so that each
    group holds exactly the records a computation over its period alone would measure."""

    def __init__(self, session: "Session", kpi, periods: list[tuple[str, str]]):
        super().__init__(session, kpi, periods[0][0], periods[-1][1], "(period)")
        # (at least two periods: the CASE below needs a WHEN)
        self.ends = [(date.fromisoformat(last) + timedelta(days=1)).isoformat() for _, last in periods[:-1]]

    def group_key(self, entity: str) -> ColumnElement:
        expr = field_expr(self.dialect, self.kpi.time_field, "string")
        # Inline literals (ISO dates and small integers this module wrote): PostgreSQL must
        # see the key in SELECT and GROUP BY as one expression, which bound parameters are not.
        return case(*((expr < literal_column(f"'{end}'"), literal_column(str(i))) for i, end in enumerate(self.ends)),
                    else_=literal_column(str(len(self.ends))))


def compute_periods(session: "Session", name: str, periods: list[tuple[str, str]]) -> list:
    """The value of KPI ``name`` in each of ``periods`` — ``(first, last)`` ISO dates,
    consecutive (each starts the day after the one before ends), oldest first — as
    ``compute(session, name, first, last)["value"]`` gives it for each, scope applied.

    For a declarative KPI with a ``time_field`` it is one computation grouped by period
    (a dashboard's 12-month trend: 2 queries instead of 12); any other KPI is computed
    period by period. Raises what :func:`compute` raises.
    """
    kpi = _session_registry(session).get(name)
    days = [(_check_date(first, "/from"), _check_date(last, "/to")) for first, last in periods]
    ordered = all(a and b and a <= b for a, b in days) and all(
        date.fromisoformat(a[1]) + timedelta(days=1) == date.fromisoformat(b[0]) for a, b in zip(days, days[1:]))
    if not (len(days) > 1 and ordered and isinstance(kpi, DeclarativeKPI) and kpi.time_field) \
            or not may_compute(session, kpi):
        return [compute(session, name, first, last)["value"] for first, last in periods]
    result = _run(kpi, _PeriodsContext(session, kpi, days))
    found = {int(g["key"]): _num(g["value"]) if g["n"] else None for g in result["groups"]}
    return [found.get(i) for i in range(len(periods))]


def _run(kpi, ctx: KPIContext) -> dict:
    """``kpi.compute(ctx)``; a Python KPI that crashes or answers no dict is reported as
    its plugin's failure (:class:`PluginError` naming it), not as a bare exception."""
    if isinstance(kpi, DeclarativeKPI):
        try:
            return kpi.compute(ctx)
        except DataError as e:  # PostgreSQL: "numeric value out of range" past a double
            raise ValidationError(f"KPI {kpi.name!r} cannot be computed over these values: the database "
                                  f"says {str(e.orig).splitlines()[0]!r}",
                                  [{"pointer": "/measure", "message": "result out of range"}]) from None
    plugin, where = getattr(kpi, "source", None) or "?", f"KPI {kpi.name!r} compute()"
    try:
        result = kpi.compute(ctx)
    except XrmError as e:
        # Its refusal (a field its type no longer has…) says which KPI refused.
        e.message = f"KPI {kpi.name!r} of plugin {plugin!r}: {e.message}"
        raise
    except PLUGIN_FAILURES as e:  # noqa: BLE001 — name the plugin, not a traceback
        raise PluginError(plugin, where, e) from e
    if not isinstance(result, dict):
        raise PluginError(plugin, where, TypeError(f"returned {type(result).__name__}, not a dict "
                                                   '{"value", "n", "groups"}'))
    wrong = _result_errors(result)
    if wrong:
        raise PluginError(plugin, where, TypeError(f"returned a result of the wrong shape: {'; '.join(wrong)}"))
    return result


def _is_count(v) -> bool:
    """A number of records: a whole number ≥ 0 (an integral Decimal or float from SQL too)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, Decimal)):
        return False
    return math.isfinite(v) and v >= 0 and v == int(v)


def _is_value(v) -> bool:
    """A KPI value: null or a finite number (not a boolean)."""
    if v is None:
        return True
    return not isinstance(v, bool) and isinstance(v, (int, float, Decimal)) and math.isfinite(v)


def _result_errors(result: dict) -> list[str]:
    """What is wrong with a Python KPI's ``{"value", "n", "groups"}`` (empty when nothing).

    Its result goes into the contract's answer as it is: a ``"value": "high"`` reached every
    client, and ``{"value": 1}`` without ``n`` read as "no records" (value null) without a
    word. ``groups`` may be left out when there are none."""
    out = []
    if not _is_count(result.get("n")):
        out.append(f"n must be a whole number ≥ 0 (the records measured), not {result.get('n')!r}")
    if not _is_value(result.get("value")):
        out.append(f"value must be a number or null, not {result.get('value')!r}")
    groups = result.get("groups", [])
    if groups is not None and not isinstance(groups, list):
        out.append(f"groups must be a list, not {type(groups).__name__}")
    else:
        for i, g in enumerate(groups or []):
            if not isinstance(g, dict) or "key" not in g or not _is_count(g.get("n")) or not _is_value(g.get("value")):
                out.append(f'groups[{i}] must be {{"key", "value": number or null, "n": whole number ≥ 0}}, '
                           f"not {g!r}"[:200])
                break
            if not _is_key(g["key"]):
                out.append(f"groups[{i}]'s key must be a JSON value (text, number, boolean, null, array or "
                           f"object) or a date, not {g['key']!r}"[:200])
                break
    return out


def _is_key(k) -> bool:
    """Can group key ``k`` be answered? A JSON value (a finite number), a :class:`JsonKey`,
    or a date (the JSON answers write it as ISO text); an object of another class reached the
    JSON encoder and failed as a bare 500 that named no plugin."""
    if k is None or isinstance(k, (str, int, Decimal, date, JsonKey)):
        return True
    if isinstance(k, float):
        return math.isfinite(k)
    if isinstance(k, (list, tuple, dict)):
        try:
            JsonKey(k)  # its canonical JSON, as the key is grouped, sorted and answered
        except (TypeError, ValueError):
            return False
        return True
    return False


def period_ignored(platform, conn: Connection, name: str) -> bool:
    """Whether KPI ``name`` is a declarative one without ``time_field``, which
    :func:`compute` computes over all time whatever period it is given."""
    kpi = registry(platform, conn).get(name)
    return isinstance(kpi, DeclarativeKPI) and not kpi.time_field


def may_compute(session: "Session", kpi) -> bool:
    """Whether the session's user holds a read grant on the type ``kpi`` measures (a KPI
    naming no entity type computes for anyone; it must apply the scope itself)."""
    entity = getattr(kpi, "entity", None)
    return not entity or session.actor.can(entity, "read")


def _session_registry(session: "Session") -> dict:
    """The KPI registry as ``session`` sees it, read once per session.

    :func:`registry` reads its freshness stamp (every type's version, every admin KPI's
    change time) on each call; a dashboard computes a card's value and its 12 monthly trend
    points, each through :func:`compute`, and spent two statements per point on it (680 of
    a dashboard's 1,072). One session is one transaction: what it read once still holds,
    unless this process changed the KPIs or a type since (``kpi add``/``remove``, a type
    update reset ``platform._kpis``), which is why the registry object itself is compared.
    """
    reg = getattr(session, "_kpi_registry", None)
    if reg is None or reg is not session.platform._kpis:
        reg = registry(session.platform, session.conn)
        session._kpi_registry = reg
    return reg


def compute(session: "Session", name: str, date_from: str | None = None, date_to: str | None = None,
            by: str | None = None) -> dict:
    """Compute KPI ``name`` as the session's user (scope applied).

    ``date_from``/``date_to`` are inclusive calendar dates (``YYYY-MM-DD``), checked but
    not applied (the result's ``from`` and ``to`` are null) for a declarative KPI without
    ``time_field``; ``by`` a field to group by. Raises NotFound for an unknown KPI,
    PermissionDenied when the user holds no read grant on the KPI's entity type
    (:func:`may_compute`) and ValidationError (pointer ``/from``, ``/to`` or ``/by``) for
    bad arguments.
    """
    kpi = _session_registry(session).get(name)
    if kpi is None:
        if name in session.platform._kpis_waiting:
            raise DefinitionError(session.platform._kpis_waiting[name])
        raise NotFound(f"unknown KPI {name!r}")
    date_from = _check_date(date_from, "/from")
    date_to = _check_date(date_to, "/to")
    if date_from and date_to and date_from > date_to:
        raise ValidationError(f"--from {date_from} is after --to {date_to}",
                              [{"pointer": "/from", "message": "after /to"}])
    if isinstance(kpi, DeclarativeKPI) and not kpi.time_field:
        # Its records carry no time it reads: a period cannot limit it, and a result saying
        # "from 2026-01-01" over the records of every year would mislead. The result says
        # no period (from and to null); callers may warn (see :func:`period_ignored`).
        date_from = date_to = None
    ctx = KPIContext(session, kpi, date_from, date_to, by or None)
    entity = getattr(kpi, "entity", None)
    by_type = None
    if by and entity:
        try:
            ctx.group_key(entity)  # refuse a bad --by even when the caller sees nothing
            by_type = ctx.entity_type(entity).field_type(by)
        except ValidationError:
            if isinstance(kpi, DeclarativeKPI):
                raise  # a Python KPI may group by what it likes
    if not may_compute(session, kpi):
        # As a list of the type would: an empty result would read as "no data yet". Saying
        # so tells the caller only what its own roles already say.
        raise PermissionDenied(f"{session.actor.name!r} may not read {entity} records, "
                               f"which KPI {kpi.name!r} measures")
    result = _run(kpi, ctx)
    if by and len(result.get("groups") or []) > kpi_measures.MAX_GROUPS:  # a Python KPI's own grouping
        raise too_many_groups(by, kpi_measures.MAX_GROUPS)
    n = int(result.get("n") or 0)
    declarative = isinstance(kpi, DeclarativeKPI)
    if by and n and not declarative and not result.get("groups"):
        # Every record measured falls in some group (a missing field in the null key's), so
        # a Python KPI answering records but no group ignored ``by``: its ungrouped answer
        # to a grouped question read as a grouped one with nothing to show.
        raise ValidationError(f"KPI {kpi.name!r} does not group its result: it measured {n} records and "
                              f"answered no group for --by {by}",
                              [{"pointer": "/by", "message": "this KPI does not group by a field"}])
    # avg_duration's ended_before_start (an addition to the contract's result, there only when
    # some were): the records left out of the value and of n because their end is before their
    # start, in the whole result and in each group that has some.
    groups = [{"key": _key(g.get("key"), by_type), "value": _num(g.get("value")) if g.get("n") else None,
               "n": int(g.get("n") or 0),
               **({"ended_before_start": g["ended_before_start"]} if declarative and "ended_before_start" in g else {})}
              for g in result.get("groups") or []]
    if declarative:
        groups.sort(key=_sort_key)
    out = {"kpi": kpi.name, "value": _num(result.get("value")) if n else None, "unit": kpi.unit, "n": n,
           "from": date_from, "to": date_to, "groups": groups}
    if declarative and "ended_before_start" in result:
        out["ended_before_start"] = result["ended_before_start"]
    return out
