"""Declarative KPIs: each measure of DESIGN §3 compiled to one SQL aggregate on both engines.

:class:`DeclarativeKPI` wraps a definition validated by ``schemas/kpi.schema.json``; its
``compute(ctx)`` runs the measure over ``ctx.base()`` (type, scope, filter, period), grouped
by ``ctx.group_key()`` when asked. The helpers below give both engines the same answers:
times read alike, exact integer sums, group keys read as JSON values. The registry, the
Python KPI API and the result's shape are in :mod:`xrm_core.kpis`.
"""
from __future__ import annotations

import copy
from decimal import Decimal
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import (
    TIMESTAMP, Date, Float, Integer, and_, case, cast, extract, func, literal, literal_column, or_,
    select, type_coerce,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import Text, TypeDecorator

from . import db
from .errors import DefinitionError, NotFound, ValidationError
from .fields import NUMERIC, _sqlite_label, check_field, field_expr, pg_path
from .error_wording import json_text, listed
from .filters import compile_filter, enum_terms, held
from .instants import formats_of as _formats_of  # the same reading as filters' date-time fields
from .validation import check_definition

if TYPE_CHECKING:
    from .kpis import KPIContext

R = db.records
DURATION_DIVISOR = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
#: The date-times (and dates) a duration reads, the same on both engines: RFC 3339 with a
#: real calendar day (no 2025-02-30, no year 0000), hours 00–23, minutes and seconds 00–59,
#: an offset written ±HH:MM up to ±14:59 (SQLite's limit) or Z. Anything else is skipped
#: (NULL) instead of failing the query (PostgreSQL's cast) or being read some other way
#: (SQLite's julianday() takes "12:30", "now", a Julian day number, 2025-02-30).
PG_ISO_TIME = (r"^(?!0000)[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"
               r"([Tt ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?([Zz]|[+-](0[0-9]|1[0-4]):[0-5][0-9])?)?$")
PG_HAS_OFFSET = r"[Tt ][0-9:.]+([Zz]|[+-][0-9]{2}:[0-9]{2})$"
#: SQLite's side of PG_ISO_TIME (it has no regular expressions): the date and HH:MM as GLOB
#: patterns; julianday() refuses the rest (seconds past 59, offsets past ±14:59).
SQLITE_ISO_DATE = "[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]"
SQLITE_ISO_TIME = SQLITE_ISO_DATE + "[Tt ][01][0-9]:[0-5][0-9]*"
SQLITE_ISO_TIME_23 = SQLITE_ISO_DATE + "[Tt ]2[0-3]:[0-5][0-9]*"


def _unit_beside_measure(definition: dict) -> dict:
    """``definition`` (valid against the meta-schema) with an ``"in"`` written inside
    ``measure`` moved beside it.

    DESIGN §3 lists the measure as ``{"avg_duration": [START, END], "in": "hours"}``, so an
    integrator may well put the unit inside ``measure``; the shipped plugins put it at the
    top level. Both spellings mean the same; two different units are refused.
    """
    measure = definition["measure"]
    if "in" not in measure:
        return definition
    if "in" in definition and definition["in"] != measure["in"]:
        raise DefinitionError(f"KPI {definition['name']!r} is invalid",
                              [{"pointer": "/measure/in",
                                "message": f"{measure['in']!r} differs from the unit at /in ({definition['in']!r}): "
                                           f"give the unit once"}])
    rest = {k: v for k, v in measure.items() if k != "in"}
    return {**definition, "measure": rest, "in": measure["in"]}


def _values_never_held(et, flt: dict, prefix: str) -> list[dict]:
    """Errors for the ``eq``/``in`` values of filter ``flt`` (compiled already) that a field
    with an ``enum`` or ``const`` cannot hold (:func:`xrm_core.filters.enum_terms`): such a
    condition matches no record, so a typo ("noshow" for "no_show") would leave the KPI
    counting nothing, silently. Each such value is an error, one of an ``in`` list too."""
    out = []
    for fname, op, ptr, sent, allowed in enum_terms("sqlite", et, flt, prefix):
        for i, v in enumerate(sent):
            if not held(v, allowed):
                out.append({"pointer": f"{ptr}/{i}" if op == "in" else ptr,
                            "message": f"{json_text(v)} is not one of the values of {fname} ({listed(allowed)}): "
                                       "no record can match it"})
    return out


def _backwards(count) -> dict:
    """``{"ended_before_start": count}`` when ``count`` (of records an avg_duration left out
    because they end before they start) is not 0, else ``{}``: the result of clean data, and
    each of its groups, is as it always was."""
    return {"ended_before_start": int(count)} if count else {}


class DeclarativeKPI:
    """A KPI given as data (``schemas/kpi.schema.json``), compiled to SQL."""

    def __init__(self, definition: dict, source: str = "admin"):
        check_definition("kpi.schema.json", definition, "KPI")
        definition = _unit_beside_measure(definition)
        self.definition = copy.deepcopy(definition)
        self.source = source
        d = self.definition
        self.name = d["name"]
        self.label = d.get("label", self.name)
        self.unit = d.get("unit", "")
        self.higher_is_better = d.get("higher_is_better", True)
        self.description = d.get("description", "")
        self.entity = d["entity"]
        self.time_field = d.get("time_field")
        self.measure_kind = next(iter(d["measure"]))
        if "in" in d and self.measure_kind != "avg_duration":
            # The schema cannot tie "in" to one measure; accepting it elsewhere would let an
            # author believe a count or an average is converted when it is not.
            raise DefinitionError(f"KPI {self.name!r}: \"in\" is the unit of avg_duration only",
                                  [{"pointer": "/in",
                                    "message": f"only avg_duration takes a time unit, not {self.measure_kind}"}])

    def check(self, session_or_types, values: bool = True) -> None:
        """Check the KPI against its entity type (needs compiled types: a Session or a dict).

        ``time_field`` and both ``avg_duration`` fields must be strings of format date or
        date-time, or of no format (periods and durations compare and parse them as ISO
        text; see :func:`_is_time_field`); ``sum``/``avg``/``median``/``nps``
        need a numeric field; filters must compile and, unless ``values`` is False, hold no
        ``eq``/``in`` value a field's enum or const cannot (:func:`_values_never_held`).
        Raises DefinitionError naming every misfit field by its JSON pointer and actual type.
        """
        get = session_or_types.entity_type if hasattr(session_or_types, "entity_type") else session_or_types.__getitem__
        try:
            et = get(self.entity)
        except (KeyError, NotFound):
            raise DefinitionError(f"KPI {self.name!r} measures unknown entity type {self.entity!r}",
                                  [{"pointer": "/entity", "message": "unknown entity type"}]) from None
        d, kind = self.definition, self.measure_kind
        m = d["measure"]
        fields = []  # (pointer, field, what the KPI needs of it: "time" or "number")
        if self.time_field:
            fields.append(("/time_field", self.time_field, "time"))
        if kind in ("sum", "avg", "median", "nps"):
            fields.append((f"/measure/{kind}", m[kind], "number"))
        if kind == "avg_duration":
            fields += [(f"/measure/avg_duration/{i}", f, "time") for i, f in enumerate(m[kind])]
        errors, unknown = [], False
        for where, f, need in fields:
            if not et.has_field(f):
                unknown = True
                errors.append({"pointer": where, "message": f"{f!r} is not a field of {self.entity}"})
            elif need == "time" and not _is_time_field(et, f):
                errors.append({"pointer": where, "message": f"{f!r} is {_describe_field(et, f)}; "
                                                            "it must be a date or date-time string field"})
            elif need == "number" and et.field_type(f) not in NUMERIC:
                errors.append({"pointer": where, "message": f"{f!r} is {_describe_field(et, f)}; "
                                                            f"{kind} needs a numeric field"})
        if errors:
            raise DefinitionError(f"KPI {self.name!r} names a field {self.entity} does not have" if unknown else
                                  f"KPI {self.name!r} names fields of the wrong type for entity type {self.entity!r}",
                                  errors)
        filters = [("/where", d.get("where"))]
        if kind == "share":
            filters.append(("/measure/share", m["share"]))
        if kind == "ratio":
            filters += [("/measure/ratio/numerator", m["ratio"]["numerator"]),
                        ("/measure/ratio/denominator", m["ratio"]["denominator"])]
        try:
            for ptr, flt in filters:
                if flt:
                    compile_filter("sqlite", et, flt, ptr)
        except ValidationError as e:
            # e.message starts "invalid filter: " (filters._bad): said once, not twice
            said = e.message.removeprefix("invalid filter: ")
            raise DefinitionError(f"KPI {self.name!r} has an invalid filter: {said}", e.errors) from None
        never = [err for ptr, flt in filters if flt and values for err in _values_never_held(et, flt, ptr)]
        if never:
            raise DefinitionError(f"KPI {self.name!r} filters on values its fields never hold", never)

    def to_dict(self) -> dict:
        return {**self.definition, "label": self.label, "unit": self.unit,
                "higher_is_better": self.higher_is_better, "kind": "declarative", "source": self.source}

    # -- compilation -------------------------------------------------------------------
    def _field(self, ctx: KPIContext, name: str) -> ColumnElement:
        return field_expr(ctx.dialect, name, ctx.entity_type(self.entity).field_type(name))

    def _aggregates(self, ctx: KPIContext) -> tuple[ColumnElement, ColumnElement]:
        """(value expression, n expression) of the measure, over the rows of the base query."""
        d, m, kind = self.definition, self.definition["measure"], self.measure_kind
        et = ctx.entity_type(self.entity)
        # A float, so SQL never divides integers (``"scale": 1`` must give 0.4, not 0).
        scale = float(d["scale"]) if "scale" in d else None
        if kind in ("share", "ratio"):
            # a fraction of matching rows, in percent unless a scale says otherwise
            def hits(flt):
                return func.sum(case((compile_filter(ctx.dialect, et, flt), 1), else_=0))
            if kind == "share":
                num, den = hits(m["share"]), func.count()
            else:
                num, den = hits(m["ratio"]["numerator"]), hits(m["ratio"]["denominator"])
            return (scale if scale is not None else 100.0) * num / func.nullif(den, 0), func.coalesce(den, 0)
        if kind == "count":
            value, n = func.count(), func.count()
        elif kind in ("sum", "avg"):
            f = self._field(ctx, m[kind])
            n = func.count(f)
            if et.field_type(m[kind]) == "integer":
                # PostgreSQL sums integers exactly (numeric); SQLite's total() added doubles,
                # so past 2**53 the engines differed (3 × (2**53 + 1): …976 against …979).
                # An average is that exact sum as a double divided as a double, on both.
                value = _exact_sum(ctx.dialect, f, as_double=kind == "avg")
                if kind == "avg":
                    value = value / func.nullif(n, 0)
            elif ctx.dialect == "postgresql":
                value = func.sum(f) if kind == "sum" else func.avg(f)
            else:
                # SQLite's sum() stops with "integer overflow" past 64 bits; total() is the
                # same sum as a float. Fractions are doubles on SQLite: they agree with
                # PostgreSQL's exact numeric sum to about 15 digits (_num), not to the last.
                value = func.total(f) if kind == "sum" else func.avg(f)
        elif kind == "nps":
            # Scores are only compared with 9 and 6: PostgreSQL casts text to float8
            # faster than to numeric (NPS over 1M rows: 1.47× → 1.34× of hand-written SQL).
            f = field_expr(ctx.dialect, m[kind], ctx.entity_type(self.entity).field_type(m[kind]),
                           pg_number="float8")
            n = func.count(f)
            promoters = func.sum(case((f >= 9, 1), else_=0))
            detractors = func.sum(case((f <= 6, 1), else_=0))
            value = 100.0 * (promoters - detractors) / func.nullif(n, 0)
        else:  # avg_duration has its own query: _durations
            raise DefinitionError(f"unknown measure {kind!r}")
        return (value * scale if scale is not None else value), n

    def compute(self, ctx: KPIContext) -> dict:
        """``{"value", "n", "groups"}``; an avg_duration that left records out of its value (in
        scope, filter and period) because they end before they start adds
        ``ended_before_start``: how many (see :meth:`_durations`)."""
        base = ctx.base(self.entity, self.definition.get("where"), self.time_field)
        key = ctx.group_key(self.entity)
        if self.measure_kind == "median":
            return self._median(ctx, base, key)
        if self.measure_kind == "avg_duration":
            return self._durations(ctx, base, key)
        value, n = self._aggregates(ctx)
        # A sum of integers is exact on both engines (PostgreSQL answers it as numeric):
        # shown as that integer, not through the float rounding of other values (_num).
        exact = _exact_int if self.measure_kind == "sum" and "scale" not in self.definition \
            and ctx.entity_type(self.entity).field_type(self.definition["measure"]["sum"]) == "integer" \
            else (lambda v: v)
        total = ctx.execute(select(value, n).select_from(R).where(base)).first()
        groups = []
        if key is not None:
            rows = ctx.grouped(select(key, value, n).select_from(R).where(base).group_by(key))
            groups = [{"key": r[0], "value": exact(r[1]), "n": r[2]} for r in rows]
        return {"value": exact(total[0]), "n": total[1] or 0, "groups": groups}

    def _durations(self, ctx: KPIContext, base, key) -> dict:
        """avg_duration: the average of END minus START over the records where both are times.

        A record that ends before it starts (closed before it was opened: a typo, two
        systems' clocks) has no duration to average: it is left out of the value and of n,
        and counted apart as ``ended_before_start`` in the result and in each group that has
        some (only when there are some: the result of clean data is as it always was), so
        that it never lowers the average unseen.

        Each record's duration is computed once, in a subquery that ``OFFSET 0`` keeps the
        engines from merging into the aggregate (which would parse the two times once per
        use: three times a row).
        """
        d = self.definition
        start, end = (field_expr(ctx.dialect, f, "string") for f in d["measure"]["avg_duration"])
        inner = (select((key if key is not None else literal_column("NULL")).label("k"),
                        (_epoch_ms(ctx.dialect, end) - _epoch_ms(ctx.dialect, start)).label("ms"))
                 .select_from(R).where(base).offset(0).subquery())
        ms = inner.c.ms
        forward = case((ms >= 0, ms), else_=None)
        value = func.avg(forward / (1000.0 * DURATION_DIVISOR[d.get("in", "hours")]))
        if "scale" in d:
            value = value * float(d["scale"])
        n = func.count(forward)
        backwards = func.coalesce(func.sum(case((ms < 0, 1), else_=0)), 0)
        total = ctx.execute(select(value, n, backwards)).first()
        groups = []
        if key is not None:
            rows = ctx.grouped(select(inner.c.k, value, n, backwards).group_by(inner.c.k))
            groups = [{"key": r[0], "value": r[1], "n": r[2], **_backwards(r[3])} for r in rows]
        return {"value": total[0], "n": total[1] or 0, "groups": groups, **_backwards(total[2])}

    def _median(self, ctx: KPIContext, base, key) -> dict:
        """Median in SQL: number the values per group and average the middle one or two.

        With c values numbered 1..c, the middle rows are (c+1) div 2 .. (c+2) div 2: one row
        for odd c, two for even c. ``//`` keeps that an integer division on both engines
        (SQLAlchemy turns ``/`` of integers into true division).
        """
        f = self._field(ctx, self.definition["measure"]["median"])
        part = [key] if key is not None else None
        # Records without a value sort last and are not counted: a group that has none keeps
        # its row 1 (NULL) and comes out as n 0, as it does for the other measures.
        inner = (select((key if key is not None else literal_column("NULL")).label("k"), f.label("v"),
                        func.row_number().over(partition_by=part, order_by=f.asc().nulls_last()).label("rn"),
                        func.count(f).over(partition_by=part).label("c"))
                 .select_from(R).where(base).subquery())
        mid = and_(inner.c.rn >= (inner.c.c + 1) // 2, inner.c.rn <= (inner.c.c + 2) // 2)
        # The same double arithmetic on both engines, so the same answer to the last bit:
        # integers added exactly, then halved as a double; other numbers averaged as doubles
        # (PostgreSQL's numeric average rounded otherwise: 0.150001 against SQLite's 0.15).
        if ctx.entity_type(self.entity).field_type(self.definition["measure"]["median"]) == "integer":
            value = _exact_sum(ctx.dialect, inner.c.v) / func.nullif(func.count(inner.c.v), 0)
        elif ctx.dialect == "postgresql":
            value = func.avg(cast(inner.c.v, Float))
        else:
            value = func.avg(inner.c.v)
        if "scale" in self.definition:
            value = value * float(self.definition["scale"])
        stmt = select(inner.c.k, value, func.max(inner.c.c)).where(mid).group_by(inner.c.k)
        rows = ctx.grouped(stmt) if key is not None else ctx.execute(stmt).all()
        if key is None:
            r = rows[0] if rows else (None, None, 0)
            return {"value": r[1], "n": r[2] or 0, "groups": []}
        groups = [{"key": r[0], "value": r[1], "n": r[2]} for r in rows]
        overall = self._median(ctx, base, None)
        return {**overall, "groups": groups}


#: Most groups a KPI answers with ``--by``/``by=``. Grouping by a field of near-unique values
#: (an email, an id) made a million groups, held in memory and sent as one huge document that
#: no reader wants; past this many the computation is refused, naming the field.
MAX_GROUPS = 10_000


def too_many_groups(by: str, limit: int) -> ValidationError:
    """The refusal of a grouping by ``by`` that makes more than ``limit`` groups (pointer ``/by``)."""
    return ValidationError(
        f"cannot group by {by!r}: the records measured hold more than {limit:,} different values of it, and a "
        f"KPI answers at most {limit:,} groups; group by a field with fewer values, or narrow the period",
        [{"pointer": "/by", "message": f"more than {limit:,} groups (at most {limit:,})"}])


#: The ``format`` values that make a string field usable as a time: ISO dates and RFC 3339
#: date-times, which sort as text by day and which the duration SQL parses.
TIME_FORMATS = {"date", "date-time"}


def _is_time_field(et, path: str) -> bool:
    """True when field ``path`` of ``et`` is a string of format date or date-time — or a
    string of no format at all.

    A plain string is accepted: the contract asks no format of a time field, many schemas
    leave it out, and ISO text compares as dates; refusing it would stop ``xrm init`` for
    such a plugin. A string of another format (``email``…) or a value of another type
    cannot hold a time.
    """
    formats = _formats_of(et.schema, et.property_schema(path))
    return et.field_type(path) == "string" and (formats is None or formats <= TIME_FORMATS)


def _describe_field(et, path: str) -> str:
    """The type of field ``path`` in words, for errors: ``integer``, ``a string of format email``…"""
    json_type = et.field_type(path)
    if json_type is None:
        return "of no single JSON type"
    if json_type != "string":
        return json_type
    formats = _formats_of(et.schema, et.property_schema(path))
    if not formats:
        return "a string"
    return f"a string of format {' or '.join(sorted(formats))}"


def _field_of(et, path: str, pointer: str):
    """``et`` if ``path`` names one of its fields, else a ValidationError at ``pointer``."""
    check_field(path, pointer)
    if not et.has_field(path):
        raise ValidationError(f"{path!r} is not a field of {et.name}", [{"pointer": pointer, "message": "unknown field"}])
    return et


def _epoch_ms(dialect: str, expr: ColumnElement) -> ColumnElement:
    """Whole milliseconds since an epoch of a date or date-time string (:data:`PG_ISO_TIME`);
    NULL when it is not one.

    Offsets are honoured; dates and date-times without an offset are read as UTC on both
    engines, so a duration never depends on the server's time zone (and its DST changes).
    Milliseconds are SQLite's resolution; they are whole numbers so that a difference is
    exact (seconds from a float Julian day are off by up to 40 µs: 0.25 s came out 0.249969).
    """
    if dialect == "postgresql":
        ts = case((expr.op("~")(literal(PG_HAS_OFFSET)), cast(expr, TIMESTAMP(timezone=True))),
                  else_=func.timezone("UTC", cast(expr, TIMESTAMP())))
        # Rounded half up, as SQLite rounds a fraction of a second to milliseconds.
        ms = func.floor(extract("epoch", ts) * 1000 + 0.5)
        # The regular expression checks the form; the day must also exist in its month (the
        # cast fails the whole query on 2025-02-30). Nested CASEs keep that order.
        first = cast(func.substr(expr, 1, 7).concat("-01"), Date)
        real_day = func.to_char(first + (cast(func.substr(expr, 9, 2), Integer) - 1), "YYYY-MM-DD") \
            == func.substr(expr, 1, 10)
        return case((expr.op("~")(literal(PG_ISO_TIME)), case((real_day, ms), else_=None)), else_=None)
    # RFC 3339 allows a lower-case "t" (and "z"); SQLite's julianday reads only "T".
    day = func.substr(expr, 1, 10)
    well_formed = and_(
        or_(expr.op("GLOB")(literal(SQLITE_ISO_DATE)), expr.op("GLOB")(literal(SQLITE_ISO_TIME)),
            expr.op("GLOB")(literal(SQLITE_ISO_TIME_23))),
        func.substr(expr, 1, 4) != "0000",
        # date() of a Julian day normalises 2025-02-30 to 2025-03-02: only a real day is itself
        func.date(func.julianday(day)) == day,
        # julianday() also reads a space before the offset or after the value
        func.instr(func.substr(expr, 12), " ") == 0,
    )
    return case((well_formed, func.round(func.julianday(func.upper(expr)) * 86400000.0)), else_=None)


class JsonKey:
    """A group key that is an array or an object: hashable (a dict key of
    :meth:`KPIContext.aggregate`), equal to another exactly when their JSON values are equal
    (objects whatever their key order, ``[1]`` and ``[1.0]``) and never to a string (the
    array ``[1]`` is not the text ``"[1]"``). ``value`` is the JSON value (integral numbers
    as ints, see :func:`canonical_json`), ``text`` its JSON text with keys sorted, which
    orders such keys alike on both engines. Results show ``value``."""

    __slots__ = ("value", "text")

    def __init__(self, value):
        self.value = canonical_json(value)
        self.text = orjson.dumps(self.value, option=orjson.OPT_SORT_KEYS).decode()

    def __eq__(self, other):
        return isinstance(other, JsonKey) and other.text == self.text

    def __hash__(self):
        return hash((JsonKey, self.text))

    def __repr__(self):
        return f"JsonKey({self.text})"


def canonical_json(value):
    """A JSON value with every number written one way: integral numbers within 64 bits as
    ints (5.0 is 5, 1e16 is 10000000000000000, as the filter and the engines' grouping
    treat them), others as floats (PostgreSQL gives a whole number past 64 bits as an int)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, (int, float, Decimal)):
        if isinstance(value, int) and -2**63 <= value < 2**63:
            return value
        f = float(value)
        return int(f) if f.is_integer() and -2**63 <= f < 2**63 else f
    if isinstance(value, list):
        return [canonical_json(v) for v in value]
    if isinstance(value, dict):
        return {k: canonical_json(v) for k, v in value.items()}
    return value


def sqlite_json_key(text):
    """SQLite function ``xrm_json_key``: the JSON text of an array or object with keys sorted
    and numbers as :func:`canonical_json` writes them, so that equal values group together
    (SQLite keeps an object's keys in the order they were written)."""
    if text is None:
        return None
    return orjson.dumps(canonical_json(orjson.loads(text)), option=orjson.OPT_SORT_KEYS).decode()


def register_sqlite_functions(conn) -> None:
    """Make :func:`sqlite_json_key` callable on the SQLite connection ``conn`` (a SQLAlchemy
    Connection); registering again replaces it, so this may run before every query."""
    conn.connection.driver_connection.create_function("xrm_json_key", 1, sqlite_json_key, deterministic=True)


class _JsonValue(TypeDecorator):
    """The group key of a field of no single type, read back as its JSON value: a scalar as
    itself, an array or object as a :class:`JsonKey`. SQLite answers JSON text;
    PostgreSQL's driver decodes the jsonb itself."""

    impl = Text
    cache_ok = True

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            value = orjson.loads(value)
        if isinstance(value, (dict, list)):
            return JsonKey(value)
        return canonical_json(value)


def _json_value(dialect: str, path: str) -> ColumnElement:
    """The value of data field ``path`` as a group key (NULL when absent or null), typed to
    be read back as that JSON value (:class:`_JsonValue`): SQLite's json_extract() answers
    true as 1 and PostgreSQL's ``#>>`` every value as text, so neither can tell 5, "5" and
    true apart.

    Equal JSON values are one key and different ones are not, on both engines: 5, 5.0 and
    1e16 = 10000000000000000 are numbers of one value; objects are equal whatever their key
    order; ``[1]`` is not ``"[1]"``. PostgreSQL's jsonb equality says exactly that. SQLite
    keeps the stored text, so its key is a canonical text: an integral real within 64 bits
    as the integer, an array or object through ``xrm_json_key`` (keys sorted, numbers as
    above; :func:`register_sqlite_functions` must have run on the connection).
    """
    parts = check_field(path)
    col = f"{R.name}.data"
    if dialect == "postgresql":
        sql = f"NULLIF({col} #> '{pg_path(parts)}', 'null'::jsonb)"
    else:
        jpath = "$." + ".".join(_sqlite_label(p) for p in parts)
        num = f"json_extract({col}, '{jpath}')"
        kind = f"json_type({col}, '{jpath}')"
        # ``->`` gives the JSON text as stored (NULL when absent, 'null' for JSON null).
        # json_quote() of a real wrote 15 significant digits: 0.30000000000000004 was the
        # group of 0.3, and a key other than PostgreSQL's.
        sql = (f"NULLIF(CASE WHEN {kind} = 'real' AND {num} = CAST({num} AS INTEGER) "
               f"AND abs({num}) < 9223372036854775808.0 THEN CAST(CAST({num} AS INTEGER) AS TEXT) "
               f"WHEN {kind} IN ('array', 'object') THEN xrm_json_key({col} -> '{jpath}') "
               f"ELSE {col} -> '{jpath}' END, 'null')")
    return type_coerce(literal_column(sql), _JsonValue())


def _float(v):
    """A SQL number as a float (PostgreSQL answers ``numeric``), None as None."""
    return None if v is None else float(v)


def _exact_sum(dialect: str, f: ColumnElement, as_double: bool = True) -> ColumnElement:
    """The exact sum of integer field ``f`` — as a double when ``as_double`` — the same on
    both engines (:func:`_sqlite_integer_sum`; PostgreSQL's numeric sum is exact)."""
    if dialect == "postgresql":
        return cast(func.sum(f), Float) if as_double else func.sum(f)
    total = _sqlite_integer_sum(f)
    return total * 1.0 if as_double else total


def _sqlite_integer_sum(f: ColumnElement) -> ColumnElement:
    """The exact sum of an integer field on SQLite, as PostgreSQL's numeric sum is.

    sum() stops with "integer overflow" past 64 bits and total() adds doubles, so each value
    is added in two halves (its high bits, its low 32 bits) that cannot overflow, and the
    halves are joined by integer arithmetic, which SQLite turns into one correctly rounded
    double only when the total itself is past 64 bits. The bit operators read a value
    written as a real (``1.0``, valid for an integer) as that integer. (No typeof() test per
    row: a second JSON read per value; this costs about 1.4× total() already.)
    """
    high = func.coalesce(func.sum(f.op(">>")(literal_column("32"))), 0)
    low = func.coalesce(func.sum(f.op("&")(literal_column("4294967295"))), 0)
    # The low halves' carry goes to the high ones first: high × 2**32 alone can pass 64 bits
    # (and turn the result into a double) when the total does not.
    high = high + low.op(">>")(literal_column("32"))
    low = low.op("&")(literal_column("4294967295"))
    return high * literal_column("4294967296") + low


def _exact_int(v):
    """An exact integer sum as an int: PostgreSQL answers numeric (an integral Decimal)."""
    if isinstance(v, Decimal) and v == v.to_integral_value() and -2**63 <= v < 2**63:
        return int(v)
    return v
