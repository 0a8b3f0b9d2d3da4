"""The one filter language of lists, KPIs and the CLI, compiled to SQL.

``{"field": value}`` is equality; ``{"field": {"eq"|"ne"|"lt"|"lte"|"gt"|"gte": v}}``,
``{"field": {"in": [...]}}`` and ``{"field": {"exists": bool}}`` the rest; fields are dotted
paths into ``data`` and must be fields of the entity type's schema; several keys (and several
operators of one field) are ANDed. ``ne`` also matches records without the field;
``{"field": null}`` matches records without it.

Values are coerced to the field's schema type (``"30"`` for an integer field is 30, ``123``
for a string field is ``"123"``; a number given as text must be written as JSON writes it,
:data:`NUMBER_RE`) and always reach SQL as bound parameters; field names are
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

from .error_wording import composed_hint as _composed_hint, json_text
from .errors import ValidationError
from .fields import FIELD_RE, FIELD_RULE, NAME, NUMERIC, check_field, field_expr, pg_path, sql_type
from .stored_json import InexactFloat, read_float
from .instants import DATE_RE, DATE_TIME_RE, INSTANT, Day, formats_of, next_day, normal
from .validation import SHOWN_VALUE_LIMIT, shorten_values
from .validation import pointer as json_pointer

OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "exists")
COMPARE = {"lt": "__lt__", "lte": "__le__", "gt": "__gt__", "gte": "__ge__"}
WHERE_RE = re.compile(rf"^\s*({NAME}(?:\.{NAME})*)\s*(!=|<=|>=|=|<|>)(.*)$", re.S)
CLI_OPS = {"=": "eq", "!=": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}
#: A number as JSON writes it (RFC 8259 §6), the only spelling a filter value given as text
#: has for a numeric field: ASCII digits, an optional minus, nothing around it — except that
#: zeros in front are allowed (``0007`` is 7, as filters always read it). Python's int() and
#: float() also read "١٢٣" (any Unicode digits), "1_000", " 12 ", "+5", "infinity" and
#: "nan", which no JSON reader and no SQL engine takes for numbers.
NUMBER_RE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
#: A number of :data:`NUMBER_RE` without fraction or exponent: read as an integer.
INTEGER_RE = re.compile(r"-?[0-9]+")
#: JSON's own number grammar, zeros in front not allowed: what ``--where`` reads as a number.
JSON_NUMBER_RE = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
#: The white space JSON skips around a value (RFC 8259 §2).
JSON_SPACE = " \t\n\r"
#: How to write a number, for error messages.
NUMBER_RULE = "write it as JSON does (12, -3.5, 1e6): ASCII digits, no spaces, + or _"


def _bad_sort(where: str, message: str) -> ValidationError:
    return ValidationError(f"invalid sort: {message}", [{"pointer": where, "message": message}])


class NumberText(str):
    """A ``--where`` value typed as a JSON number that a float or int would not keep as typed:
    ``99999999999999999999`` (past 64 bits: a float rounds it), ``1e2`` (100.0), ``1.50``,
    ``-0``, ``1e400``. Kept as the text typed (see :func:`parse_where`): a string field
    compares the text itself (a 20-digit code is not ``1e+20``), a numeric field reads it
    exactly (:func:`read_number`: beyond 64 bits refused, not rounded), a field of no single
    type as the number it is."""

    __slots__ = ()


def _bad(where: str, message: str) -> ValidationError:
    return ValidationError(f"invalid filter: {message}", [{"pointer": where, "message": message}])


def _bad_value(where: str, value, problem: str, field: str | None, hint: str = "") -> ValidationError:
    """A value the field cannot take: "``value`` ``problem``" at pointer ``where``; the
    sentence also names ``field`` (the pointer names it for programs, not for people) and
    says how to write the value (``hint``)."""
    shown = _shown(value)
    said = f"{shown} for {field} {problem}" if field else f"{shown} {problem}"
    return ValidationError(f"invalid filter: {said}{f': {hint}' if hint else ''}",
                           [{"pointer": where, "message": f"{shown} {problem}"}])


def _shown(value) -> str:
    """A filter value as its error message shows it: a string quoted, anything else in JSON's
    spelling (``true``, not Python's ``True``)."""
    if isinstance(value, NumberText) and len(value) <= SHOWN_VALUE_LIMIT:
        return str(value)  # typed as a number: shown as one
    if isinstance(value, InexactFloat):
        return shorten_values(value.literal)  # as written, not as the double it rounds to
    if isinstance(value, str):
        return shorten_values(repr(value))  # a 5,000-digit "number" is shown by its start
    if isinstance(value, int) and not -2**64 < value < 2**64:
        # orjson writes no integer beyond 64 bits, repr() none of 4,300 digits or more
        # (ValueError): the message says its size instead (a value only a program passes).
        return f"an integer of about {int(value.bit_length() * math.log10(2)) + 1} digits"
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return repr(value)


def coerce(value, json_type: str | None, where: str, dialect: str, field: str | None = None):
    """Convert a filter value to what the field's SQL expression compares against.

    Numbers for ``integer``/``number`` fields (finite only; text only in JSON's spelling,
    :data:`NUMBER_RE`), booleans for ``boolean``, the JSON text of scalars for ``string``
    fields; for a field of no single type (untyped, or several types) the value as given,
    whose JSON type selects the stored values it is compared with (:func:`term_clause`).
    ``None`` stays ``None``. On PostgreSQL a float compared with numbers becomes a Decimal
    (:func:`_pg_numeric`). Refusals point at ``where`` and name ``field`` when given.
    """
    if value is None:
        return None
    if isinstance(value, str) and "\x00" in value:
        # No stored text holds one (records refuse them) and PostgreSQL takes none in a
        # parameter (DataError, a server error); a keyset cursor carries its values encoded,
        # past the REST API's check of the query's text.
        raise _bad_value(where, value, "holds a NUL character (\\u0000), which no stored value holds", field)
    if json_type in NUMERIC:
        number = _number(value, where, field)
        if dialect == "postgresql" and isinstance(number, float):
            return _pg_numeric(number, json_type)
        return number
    if json_type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise _bad_value(where, value, "is not a boolean", field)
    if json_type in ("array", "object"):
        raise _bad(where, f"cannot compare a field of type {json_type}{USE_EXISTS}")
    if isinstance(value, (dict, list)):
        raise _bad(where, "value must be a string, number or boolean")
    if isinstance(value, int) and not isinstance(value, bool) and not -2**63 <= value < 2**63:
        # No stored value is an integer beyond 64 bits (records refuse them), and a JSON reader
        # gives 2**63…2**64-1 as an int (a keyset cursor, a KPI's where): SQLite cannot bind it
        # (OverflowError) and orjson writes none longer (TypeError) — both were a server error.
        raise _bad_value(where, value, "is outside the 64-bit integer range", field)
    if json_type == "string":
        return str(value) if isinstance(value, str) else orjson.dumps(value).decode()
    if json_type == INSTANT:
        return _instant(value, where, field)
    if isinstance(value, (NumberText, InexactFloat)):  # the number typed, for a field of no single type
        value = _number(value, where, field)
    if dialect == "postgresql" and isinstance(value, float) and math.isfinite(value):
        return _pg_numeric(value, None)  # compared with numbers read as numeric (_typed)
    return value  # an untyped field: the value's own JSON type decides what it matches


#: How :func:`coerce` ends its refusal to compare an array or object field: only presence can be
#: tested, with the filter language's ``exists`` (REST ``filter[F][exists]``, a KPI's where).
USE_EXISTS = "; use exists"


def in_cli_words(e: ValidationError) -> ValidationError:
    """``e``, a refusal of a filter given as CLI ``--where`` items (:func:`parse_where`), as
    the CLI user can act on it: ``--where`` has no ``exists``, so the advice to use it says
    ``FIELD!=null`` (present) and ``FIELD=null`` (absent) instead, which mean the same.
    Other refusals are returned as they are."""
    if not any(isinstance(x, dict) and str(x.get("message", "")).endswith(USE_EXISTS) for x in e.errors):
        return e
    errors = []
    for x in e.errors:
        message = x.get("message", "") if isinstance(x, dict) else ""
        if isinstance(message, str) and message.endswith(USE_EXISTS):
            # /where/FIELD/OP: parse_where always gives an operator object
            field = x["pointer"].removeprefix("/where/").rsplit("/", 1)[0].replace("~1", "/").replace("~0", "~")
            message = (message.removesuffix(USE_EXISTS)
                       + f"; only whether it is there can be tested: {field}!=null (present) or {field}=null (absent)")
            x = {**x, "message": message}
        errors.append(x)
    return ValidationError(f"invalid filter: {errors[0]['message']}" if len(errors) == 1 else e.message, errors)


def _number(value, where: str, field: str | None) -> int | float:
    """A filter value for a numeric field: a JSON number, or text in JSON's spelling
    (:func:`read_number`); finite, and an integer within 64 bits. Else a ValidationError."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise _bad_value(where, value, "is not a number", field)
    number = read_number(value) if isinstance(value, str) else float(value) if isinstance(value, Decimal) else value
    if number is None:
        raise _bad_value(where, value, "is not a number", field, NUMBER_RULE)
    if isinstance(number, float) and not math.isfinite(number):
        raise _bad_value(where, value, "is not a finite number", field)
    if isinstance(number, InexactFloat):
        # As stored data refuses it (stored_json.read_float): compared as the double it
        # rounds to, 12345678901234567.01 matched the records holding 12345678901234568.
        raise _bad_value(where, value, f"has more digits than a number keeps: it would be compared as {float(number)!r}",
                         field, "round it")
    if isinstance(number, int) and not -2**63 <= number < 2**63:
        raise _bad_value(where, value, "is outside the 64-bit integer range", field)
    return number


def read_number(text: str) -> int | float | None:
    """The number ``text`` writes in JSON's spelling (:data:`NUMBER_RE`), or None when it is
    no such number. An integer comes back as an int — one of more than 19 digits (zeros in
    front aside) as ``2**63``, beyond every 64-bit value (``int()`` refuses 4,300 digits or
    more) — other numbers as a float (``inf`` past the largest double), an
    :class:`~xrm_core.stored_json.InexactFloat` when the double is another number than the
    one written (``12345678901234567.01``: :func:`coerce` refuses it)."""
    if not NUMBER_RE.fullmatch(text):
        return None
    if INTEGER_RE.fullmatch(text):
        digits = text.lstrip("-").lstrip("0") or "0"  # int() counts zeros in front too
        if len(digits) > 19:
            return 2**63
        return -int(digits) if text.startswith("-") else int(digits)
    return read_float(text)


#: What a date-time field's filter values may be, for error messages.
_INSTANT_RULE = "use an RFC 3339 date-time with an offset (2026-03-01T08:00:00Z, 2026-03-01T11:30:00+03:30) or a date (2026-03-01)"


def _instant(value, where: str, field: str | None = None) -> str:
    """A filter value for a date-time field: the normal form of its instant, or a
    :class:`~xrm_core.instants.Day` for a date ``YYYY-MM-DD``."""
    # ASCII only: the patterns' \d and int() read any Unicode digits ("٢٠٢٦-٠٣-٠١…"), which
    # RFC 3339 does not, and a fraction of such digits reached the SQL as text.
    if isinstance(value, str) and value.isascii():
        if DATE_RE.fullmatch(value):
            try:
                date.fromisoformat(value)
            except ValueError:
                raise _bad_value(where, value, "is no calendar day", field) from None
            return Day(value)
        found = normal(value)
        if found is not None:
            return found
        if DATE_TIME_RE.fullmatch(value):
            raise _bad_value(where, value, "names no instant (no such day or hour, an offset beyond ±14:59 or "
                                           "a year outside 0001–9999)", field)
    raise _bad_value(where, value, f"is not a date-time: {_INSTANT_RULE}", field)


def _day_text(op: str, day: str) -> str:
    """The text a date-time field's stored text is compared with for a :class:`Day` ``day``
    by ``op``: a value written on ``day`` sorts after ``"day"`` as text, so ``lte`` (the day
    included) and ``gt`` (the day left out) compare with the next day's start — ``text <``
    it and ``text >=`` it — and ``lt``/``gte`` with the day itself."""
    return next_day(day, 1) if op in ("lte", "gt") else day


def _day_bound(op: str, day: str) -> str:
    """The instant range (as normal-form text) that holds every date-time written on a day
    compared by ``op`` with ``day``: offsets are less than a day, so one written on a day
    is at most a day before its midnight in UTC, and less than a day after its end. Bound
    beside the text comparison, it lets the field's instant index serve a filter by days."""
    shift = {"gte": -1, "gt": 0, "lt": 1, "lte": 2}[op]
    return next_day(day, shift) if shift else day


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
            raise _bad(ptr, et.not_a_field(fname))
        jt = sql_type(et, fname)
        ops = cond if isinstance(cond, dict) else {"eq": cond}
        if not ops:
            raise _bad(ptr, "empty condition")
        dated = jt == "string" and formats_of(et.schema, et.property_schema(fname)) == {"date"}
        for op, value in ops.items():
            optr = ptr + json_pointer([op]) if isinstance(cond, dict) else ptr
            v = _term_value(dialect, jt, op, value, optr, fname)
            if dated:
                _check_dates(v if op == "in" else [v], value if op == "in" else [value], optr, op, fname)
            terms.append((fname, jt, op, v))
    return terms


def _check_dates(values: list, given: list, optr: str, op: str, field: str) -> None:
    """Refuse a value of a ``format: date`` field's filter that is no calendar date: stored
    dates are compared as text, so "yesterday" or "1.3.2026" matched nothing (or, with
    gt/lt, a meaningless range) without a word."""
    for i, (v, shown) in enumerate(zip(values, given)):
        if not isinstance(v, str):
            continue  # None (eq/ne null) and exists' booleans
        where = f"{optr}/{i}" if op == "in" else optr
        if not (v.isascii() and DATE_RE.fullmatch(v)):
            raise _bad_value(where, shown, "is not a date: use YYYY-MM-DD (2026-03-01)", field)
        try:
            date.fromisoformat(v)
        except ValueError:
            raise _bad_value(where, shown, "is no calendar day", field) from None


def _term_value(dialect: str, jt: str | None, op, value, optr: str, field: str):
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
            vals.append(coerce(v, jt, f"{optr}/{i}", dialect, field))
            if isinstance(vals[-1], Day):
                raise _day_equality(f"{optr}/{i}", v)
        return vals
    v = coerce(value, jt, optr, dialect, field)
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
            if isinstance(v, Day):
                out += [_day_text(op, v), _day_bound(op, v)]
            else:
                out.append(v)
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
            after = op in ("gt", "gte")
            day = b(_day_text(op, v))
            written = text >= day if after else text < day
            near = expr >= b(_day_bound(op, v)) if after else expr < b(_day_bound(op, v))
            return and_(written, near)
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
            raise _bad_sort(f"/sort/{i}", et.not_a_field(name))
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
    the string typed. A number that an int or float would not keep as typed (``1e2``,
    ``99999999999999999999``) stays the text typed, as a :class:`NumberText`. Errors point
    at ``/where/I``, the item's position.
    """
    out: dict = {}
    for i, item in enumerate(exprs):
        m = WHERE_RE.match(item)
        if not m:
            raise ValidationError(f"cannot read --where {item!r}: use FIELD=V, FIELD!=V, FIELD<V, "
                                  "FIELD<=V, FIELD>V or FIELD>=V",
                                  [{"pointer": f"/where/{i}", "message": "not FIELD<op>VALUE"}])
        fname, op, raw = m.group(1), CLI_OPS[m.group(2)], m.group(3)
        if JSON_NUMBER_RE.fullmatch(raw.strip(JSON_SPACE)):
            value = _typed_number(raw.strip(JSON_SPACE))
        else:
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


def _typed_number(text: str) -> int | float | NumberText:
    """The number ``text`` (JSON's spelling) as an int or float when that is written ``text``
    again (``3``, ``-1``, ``2.5``), else the text as a :class:`NumberText`: JSON readers
    round ``99999999999999999999`` to a float and read ``1e2`` as 100.0, which a string
    field would then compare as "1e+20" and "100.0"."""
    number = read_number(text)
    if isinstance(number, int) and -2**63 <= number < 2**63 and str(number) == text:
        return number
    if type(number) is float and math.isfinite(number) and orjson.dumps(number).decode() == text:
        return number
    return NumberText(text)


def enum_terms(dialect: str, et, where: dict, prefix: str = "/where"):
    """Each ``eq``/``in`` term of ``where`` on a field whose ``enum`` or ``const`` says what it
    can hold: ``(field, op, pointer of the term, values sent (a list), allowed values)``, the
    values as the filter coerces them ("2" is the integer 2 for an integer field). A value
    none of ``allowed`` is (:func:`held`) matches no record: a typo. Date-time fields are
    left out (compared as the instant named, not as the enum spells it)."""
    for field, json_type, op, value in filter_terms(dialect, et, where, prefix):
        allowed = et.allowed_values(field)  # every place the schema declares it
        if op not in ("eq", "in") or allowed is None or value is None or json_type == INSTANT:
            continue
        ptr = prefix + json_pointer([field]) + (json_pointer([op]) if isinstance(where[field], dict) else "")
        yield field, op, ptr, value if op == "in" else [value], allowed


def held(value, allowed: list) -> bool:
    """Whether ``value`` is one of ``allowed`` as JSON values: 1 and 1.0 are equal, true and 1
    are not."""
    return any(isinstance(value, bool) == isinstance(a, bool) and value == a for a in allowed)


def refuse_values_never_held(dialect: str, et, where: dict) -> None:
    """Refuse an ``eq`` value, or an ``in`` list of values, that a field's ``enum`` or
    ``const`` cannot hold (pointer ``/where/F/op``; the REST API names it as the parameter
    sent). The REST list, and the CLI's ``records list`` and ``export`` ``--where``, call it.

    Such a condition matches no record, so a typo (``filter[status]=activ``) answered an
    empty page, which a sync reads as "none left": a KPI's filter is refused for the same
    reason (``kpi_measures``). An ``in`` list holding some possible value still finds what
    it can (a value the enum has since dropped may stay in a client's list). Other errors
    of the filter are left to the list to say.
    """
    try:
        terms = list(enum_terms(dialect, et, where))
    except ValidationError:
        return
    errors = []
    for field, _op, ptr, sent, allowed in terms:
        if not sent or any(held(v, allowed) for v in sent):
            continue
        values = ", ".join(a if isinstance(a, str) else orjson.dumps(a).decode() for a in allowed)
        # as typed: a text in quotes (a value with spaces is seen whole), the rest as JSON
        # (``true``, not Python's ``True``)
        said = ", ".join(repr(v) if isinstance(v, str) else json_text(v) for v in sent)
        errors.append({"pointer": ptr,
                       "message": f"{said} {'is' if len(sent) == 1 else 'are'} not among the values of {field} "
                                  f"({values}): no record can match{_composed_hint(sent, allowed)}"})
    if errors:
        raise ValidationError(f"invalid filter: {errors[0]['message']}", errors)
