"""The one filter language of lists, KPIs and the CLI, compiled to SQL.

``{"field": value}`` is equality; ``{"field": {"eq"|"ne"|"lt"|"lte"|"gt"|"gte": v}}``,
``{"field": {"in": [...]}}`` and ``{"field": {"exists": bool}}`` the rest; fields are dotted
paths into ``data`` and must be fields of the entity type's schema; several keys (and several
operators of one field) are ANDed. ``ne`` also matches records without the field;
``{"field": null}`` matches records without it.

Values are coerced to the field's schema type (``"30"`` for an integer field is 30, ``123``
for a string field is ``"123"``) and always reach SQL as bound parameters; field names are
checked property names (:data:`xrm_core.fields.FIELD_RE`). Anything else is refused with a
JSON pointer before any SQL runs.

A field of ``format: date-time`` compares the instants its values name, whatever their
offsets (:mod:`xrm_core.instants`): ``lt 2026-03-01T00:00:00Z`` keeps
``2026-03-01T02:00:00+03:30`` (22:30 UTC the day before) and leaves out
``2026-02-28T23:30:00-05:00``. A value for it is an RFC 3339 date-time, or a date
``YYYY-MM-DD`` for ``lt``/``lte``/``gt``/``gte``, compared with the calendar day written
in each value as KPI periods count it (see :class:`xrm_core.instants.Day`).
"""
from __future__ import annotations

import math
import re
from datetime import date
from decimal import Decimal

import orjson
from sqlalchemy import and_, false, func, literal, literal_column, not_, or_, true
from sqlalchemy.sql.elements import ColumnElement

from .errors import ValidationError
from .fields import FIELD_RE, FIELD_RULE, NAME, NUMERIC, check_field, field_expr, pg_path, sql_type
from .instants import DATE_RE, DATE_TIME_RE, INSTANT, Day, next_day, normal
from .validation import pointer as json_pointer

OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "exists")
COMPARE = {"lt": "__lt__", "lte": "__le__", "gt": "__gt__", "gte": "__ge__"}
WHERE_RE = re.compile(rf"^\s*({NAME}(?:\.{NAME})*)\s*(!=|<=|>=|=|<|>)(.*)$", re.S)
CLI_OPS = {"=": "eq", "!=": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
INTEGER_RE = re.compile(r"[+-]?\d+")


def _bad_sort(where: str, message: str) -> ValidationError:
    return ValidationError(f"invalid sort: {message}", [{"pointer": where, "message": message}])


def _bad(where: str, message: str) -> ValidationError:
    return ValidationError(f"invalid filter: {message}", [{"pointer": where, "message": message}])


def _shown(value) -> str:
    """A filter value as its error message shows it: a string quoted, anything else in JSON's
    spelling (``true``, not Python's ``True``)."""
    if isinstance(value, str):
        return repr(value)
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def coerce(value, json_type: str | None, where: str, dialect: str):
    """Convert a filter value to what the field's SQL expression compares against.

    Numbers for ``integer``/``number`` fields (finite only), booleans for ``boolean``, the
    JSON text of scalars for ``string`` fields; for a field of no single type (untyped, or
    several types) the value as given, whose JSON type selects the stored values it is
    compared with (:func:`term_clause`). ``None`` stays ``None``. On PostgreSQL a float
    compared with numbers becomes a Decimal (:func:`_pg_numeric`).
    """
    if value is None:
        return None
    if json_type in NUMERIC:
        if isinstance(value, bool):
            raise _bad(where, f"{_shown(value)} is not a number")
        try:
            if isinstance(value, (int, float)):
                number = value
            elif isinstance(value, str) and INTEGER_RE.fullmatch(value.strip()):
                number = int(value)
            else:
                number = float(value)
        except (TypeError, ValueError):
            raise _bad(where, f"{_shown(value)} is not a number") from None
        if isinstance(number, float) and not math.isfinite(number):
            raise _bad(where, f"{_shown(value)} is not a finite number")
        if isinstance(number, int) and not -2**63 <= number < 2**63:
            raise _bad(where, f"{_shown(value)} is outside the 64-bit integer range")
        if dialect == "postgresql" and isinstance(number, float):
            return _pg_numeric(number, json_type)
        return number
    if json_type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _bad(where, f"{_shown(value)} is not a boolean")
    if json_type in ("array", "object"):
        raise _bad(where, f"cannot compare a field of type {json_type}; use exists")
    if isinstance(value, (dict, list)):
        raise _bad(where, "value must be a string, number or boolean")
    if json_type == "string":
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    if json_type == INSTANT:
        return _instant(value, where)
    if dialect == "postgresql" and isinstance(value, float) and math.isfinite(value):
        return _pg_numeric(value, None)  # compared with numbers read as numeric (_typed)
    return value  # an untyped field: the value's own JSON type decides what it matches


#: What a date-time field's filter values may be, for error messages.
_INSTANT_RULE = "use an RFC 3339 date-time with an offset (2026-03-01T08:00:00Z, 2026-03-01T11:30:00+03:30) or a date (2026-03-01)"


def _instant(value, where: str) -> str:
    """A filter value for a date-time field: the normal form of its instant, or a
    :class:`~xrm_core.instants.Day` for a date ``YYYY-MM-DD``."""
    if isinstance(value, str):
        if DATE_RE.fullmatch(value):
            try:
                date.fromisoformat(value)
            except ValueError:
                raise _bad(where, f"{_shown(value)} is no calendar day") from None
            return Day(value)
        found = normal(value)
        if found is not None:
            return found
        if DATE_TIME_RE.fullmatch(value):
            raise _bad(where, f"{_shown(value)} names no instant (no such day or hour, an offset "
                              "beyond ±14:59 or a year outside 0001–9999)")
    raise _bad(where, f"{_shown(value)} is not a date-time: {_INSTANT_RULE}")


def _day_bound(op: str, day: str) -> str:
    """The instant range (as normal-form text) that holds every date-time written on a day
    compared by ``op`` with ``day``: offsets are less than a day, so one written on ``day``
    or later is at most a day before it in UTC, one written before ``day`` less than a day
    after its midnight. Bound beside the text comparison, it lets the field's instant index
    serve a filter by days."""
    return next_day(day, -1) if op in ("gt", "gte") else next_day(day, 1)


def _pg_numeric(number: float, json_type: str | None) -> Decimal:
    """A float filter value as PostgreSQL should compare it with a field read as numeric.

    As a float8 parameter, PostgreSQL compares in float8, rounding stored integers past
    2**53 (2**53 + 1 was not > 2.0**53); SQLite compares exactly. An integer field holds
    integers: the float's exact value compares with them exactly. A number field holds
    integers and floats, which are stored as their shortest decimal text (numeric reads
    exactly that): the float's shortest text compares with those as SQLite compares the
    doubles, and with integers exactly below 1e16 (where that text stops being exact).
    Beyond 64 bits an integer field holds no integer, only whole numbers written as floats
    (1e300 is an integer to JSON Schema), stored as their text: compared as the number field's.
    """
    return Decimal(number) if json_type == "integer" and abs(number) < 2**63 else Decimal(repr(number))


def filter_terms(dialect: str, et, where: dict, pointer_prefix: str = "/where") -> list[tuple]:
    """The conditions of filter ``where``, checked and with values coerced.

    One ``(field, json_type, op, value)`` per condition, in the filter's order; ``value`` is
    a bool for ``exists``, a list for ``in``, else a scalar or None. Raises ValidationError
    (pointer ``{pointer_prefix}/FIELD[/OP]``) for an unknown or malformed field, an unknown
    operator or a value the field's type cannot take.
    """
    if not isinstance(where, dict):
        raise _bad(pointer_prefix, "a filter is a JSON object of field → condition")
    terms = []
    for fname, cond in where.items():
        ptr = pointer_prefix + json_pointer([fname])
        if not isinstance(fname, str) or not FIELD_RE.match(fname):
            raise _bad(ptr, f"{fname!r} is not a field name ({FIELD_RULE})")
        if not et.has_field(fname):
            raise _bad(ptr, f"{fname!r} is not a field of {et.name}")
        jt = sql_type(et, fname)
        ops = cond if isinstance(cond, dict) else {"eq": cond}
        if not ops:
            raise _bad(ptr, "empty condition")
        for op, value in ops.items():
            optr = ptr + json_pointer([op]) if isinstance(cond, dict) else ptr
            terms.append((fname, jt, op, _term_value(dialect, jt, op, value, optr)))
    return terms


def _term_value(dialect: str, jt: str | None, op, value, optr: str):
    if op not in OPS:
        raise _bad(optr, f"unknown operator {op!r}; use one of {', '.join(OPS)}")
    if op == "exists":
        if not isinstance(value, bool):
            raise _bad(optr, "exists takes true or false")
        return value
    if op == "in":
        if not isinstance(value, list):
            raise _bad(optr, "in takes a list")
        vals = []
        for i, v in enumerate(value):
            if v is None:
                raise _bad(f"{optr}/{i}", "in takes strings, numbers or booleans; use exists for null")
            vals.append(coerce(v, jt, f"{optr}/{i}", dialect))
            if isinstance(vals[-1], Day):
                raise _day_equality(f"{optr}/{i}", v)
        return vals
    v = coerce(value, jt, optr, dialect)
    if isinstance(v, Day) and op not in COMPARE:
        raise _day_equality(optr, value)
    if v is None and op not in ("eq", "ne"):
        raise _bad(optr, f"{op} needs a value")
    if isinstance(v, bool) and op in COMPARE:
        raise _bad(optr, f"{op} does not order booleans; use eq, ne or in")
    return v


def _day_equality(where: str, value) -> ValidationError:
    return _bad(where, f"a date-time field holds no date alone: {_shown(value)} equals none of its values; "
                       "compare days with gte/lt, or give a date-time")


def term_values(terms) -> list:
    """The values :func:`term_clause` binds for ``terms``, in the order it binds them."""
    out = []
    for _f, _jt, op, v in terms:
        if op == "in":
            out.extend(v)
        elif op != "exists" and v is not None:
            out.append(v)
            if isinstance(v, Day):
                out.append(_day_bound(op, v))
    return out


def term_clause(dialect: str, term, table: str = "xrm_records", bind=None) -> ColumnElement:
    """SQL condition of one term of :func:`filter_terms`.

    Values are bound by ``bind(value)`` when given (named parameters for prepared
    statements, called in :func:`term_values` order), else as anonymous parameters.
    """
    fname, jt, op, v = term
    b = bind or (lambda x: x)
    expr = field_expr(dialect, fname, jt, table)
    if jt == INSTANT and (v is None or op == "exists" or isinstance(v, Day)):
        # Presence is the stored text's (a value of no instant, year 0000, still exists);
        # a day compares with the text, as written (instants.Day), within its instant range.
        text = field_expr(dialect, fname, "string", table)
        if isinstance(v, Day):
            bound = getattr(text, COMPARE[op])(b(v))
            near = expr >= b(_day_bound(op, v)) if op in ("gt", "gte") else expr < b(_day_bound(op, v))
            return and_(bound, near)
        expr = text
    if op == "exists":
        return expr.isnot(None) if v else expr.is_(None)
    if jt is None and v is not None:
        return _untyped_clause(dialect, fname, table, op, v, b)
    if op == "in":
        # One parameter per value, each typed by its own value: a list given to in_() is one
        # expanding parameter typed by its first value, so on PostgreSQL [0, 1.5] was cast
        # ::INTEGER (1.5 matched 2) and [1, 2147483648] failed "integer out of range".
        return expr.in_([bind(x) if bind else literal(x) for x in v]) if v else false()
    if v is None:
        return expr.is_(None) if op == "eq" else expr.isnot(None)
    if op == "eq":
        return expr == b(v)
    if op == "ne":
        return or_(expr.is_(None), expr != b(v))
    return getattr(expr, COMPARE[op])(b(v))


def _kind_of(value) -> str:
    return "boolean" if isinstance(value, bool) else "number" if isinstance(value, (int, float, Decimal)) \
        else "string"


def _typed(dialect: str, fname: str, table: str, kind: str) -> ColumnElement:
    """The field's value where it holds JSON of ``kind`` (number, string, boolean), else NULL.

    Strings are read by the plain field expression, so an expression index on an untyped
    field still serves them; the JSON type is checked beside it (:func:`_is_kind`)."""
    if kind == "string":
        return field_expr(dialect, fname, None, table)
    parts = check_field(fname)
    col = f"{table}.data"
    if dialect == "postgresql":
        path = pg_path(parts)
        cast = "numeric" if kind == "number" else "boolean"
        # CASE, not AND: PostgreSQL may evaluate a cast before the test beside it.
        return literal_column(f"(CASE WHEN jsonb_typeof({col} #> '{path}') = '{kind}' "
                              f"THEN ({col} #>> '{path}')::{cast} END)")
    jpath = "$." + ".".join(parts)
    kinds = "'integer', 'real'" if kind == "number" else "'true', 'false'"
    return literal_column(f"(CASE WHEN json_type({col}, '{jpath}') IN ({kinds}) "
                          f"THEN json_extract({col}, '{jpath}') END)")


def _is_string(dialect: str, fname: str, table: str) -> ColumnElement:
    parts = check_field(fname)
    col = f"{table}.data"
    if dialect == "postgresql":
        return literal_column(f"jsonb_typeof({col} #> '{pg_path(parts)}')") == literal_column("'string'")
    return literal_column(f"json_type({col}, '$.{'.'.join(parts)}')") == literal_column("'text'")


def _untyped_clause(dialect: str, fname: str, table: str, op: str, v, b) -> ColumnElement:
    """A condition on a field of no single schema type: a value matches stored values of its
    own JSON type only (5 matches 5 and 5.0, not "5"; ``lt 10`` compares numbers with
    numbers), the same on both engines — SQLite would otherwise order every number before
    every string, and PostgreSQL compare the JSON texts."""
    def one(value, cmp):
        kind = _kind_of(value)
        view = _typed(dialect, fname, table, kind)
        cond = getattr(view, cmp)(b(value))
        return and_(_is_string(dialect, fname, table), cond) if kind == "string" else cond

    if op == "in":
        return or_(*[one(x, "__eq__") for x in v]) if v else false()
    if op == "eq":
        return one(v, "__eq__")
    if op == "ne":  # absent, or of another type, or another value of this type
        return not_(func.coalesce(one(v, "__eq__"), false()))
    return one(v, COMPARE[op])


def compile_filter(dialect: str, et, where: dict, pointer_prefix: str = "/where",
                   table: str = "xrm_records") -> ColumnElement:
    """SQL condition for filter ``where`` over records of entity type ``et``.

    Raises ValidationError (pointer ``{pointer_prefix}/FIELD[/OP]``) for an unknown or
    malformed field, an unknown operator or a value the field's type cannot take.
    """
    conds = [term_clause(dialect, t, table) for t in filter_terms(dialect, et, where, pointer_prefix)]
    return and_(*conds) if conds else true()


def order_by(dialect: str, et, sort: list[str], table=None):
    """Keys ``[(expr, descending)]`` and ORDER BY clauses for ``sort`` (``F`` or ``-F``), id last.

    Raises ValidationError (pointer ``/sort/I``) for an unknown field or an array/object.
    """
    from . import db
    t = table if table is not None else db.records
    keys = []
    for i, item in enumerate(sort):
        desc = isinstance(item, str) and item.startswith("-")
        name = item[1:] if desc else item
        if not isinstance(name, str) or not FIELD_RE.match(name):
            # A property may be named "a.b" or "x [y]", but only field paths can be sorted by.
            raise _bad_sort(f"/sort/{i}", f"{name!r} is not a field name ({FIELD_RULE})")
        if not et.has_field(name):
            raise _bad_sort(f"/sort/{i}", f"{name!r} is not a field of {et.name}")
        jt = sql_type(et, name)
        if jt in ("array", "object"):
            raise _bad_sort(f"/sort/{i}", f"cannot sort by {name!r} of type {jt}")
        if jt is None:
            # Values of several JSON types: SQLite and PostgreSQL order such a mix differently,
            # and a keyset cursor cannot carry an object value the way the database compares it.
            raise _bad_sort(f"/sort/{i}", f"cannot sort by {name!r}: it has no single JSON type (values of several types)")
        keys.append((field_expr(dialect, name, jt, t.name), desc))
    keys.append((t.c.id, False))
    # NULLs (absent fields) last in either direction, the same on both engines, so keyset
    # cursors (records._after) can step past them.
    return keys, [(k.desc() if d else k.asc()).nulls_last() if k is not t.c.id else k.asc() for k, d in keys]


def parse_where(exprs: list[str] | tuple[str, ...]) -> dict:
    """Turn CLI ``--where`` items (``F=V``, ``F!=V``, ``F<V``, ``F<=V``, ``F>V``, ``F>=V``) into a filter.

    V is read as JSON when it parses to a scalar (``true``, ``3``, ``null``, ``"7"``), else as
    the string typed. Errors point at ``/where/I``, the item's position.
    """
    out: dict = {}
    for i, item in enumerate(exprs):
        m = WHERE_RE.match(item)
        if not m:
            raise ValidationError(f"cannot read --where {item!r}: use FIELD=V, FIELD!=V, FIELD<V, "
                                  "FIELD<=V, FIELD>V or FIELD>=V",
                                  [{"pointer": f"/where/{i}", "message": "not FIELD<op>VALUE"}])
        fname, op, raw = m.group(1), CLI_OPS[m.group(2)], m.group(3)
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = raw
        if isinstance(value, (dict, list)):
            value = raw
        cur = out.setdefault(fname, {})
        if op in cur:
            raise ValidationError(f"--where gives {fname} {m.group(2)} twice",
                                  [{"pointer": f"/where/{i}", "message": "repeated condition"}])
        cur[op] = value
    return out
