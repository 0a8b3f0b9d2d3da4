"""Finding records by the value of one of their fields: the keys by which import files name
records (``xrm import --update-by``, ``xrm import-relationships --source-key``)."""
from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

from sqlalchemy import select

from . import db, records
from .errors import ValidationError
from .fields import check_field, field_expr, sql_type, type_literal
from .instants import INSTANT, normal

if TYPE_CHECKING:
    from .session import Session

#: Values per IN (...) of a lookup (far below the bind limits of both engines).
CHUNK = 500
#: The JSON types a key field may hold: one value that compares exactly.
KEY_TYPES = ("string", "integer", "number", "boolean")
#: The integers a record can hold (see :func:`xrm_core.stored_json.storage_errors`): neither
#: engine binds a bigger one as a parameter, and no stored record can be named by one.
INT_RANGE = (-2**63, 2**63 - 1)


def key_type(et, key: str, option: str) -> str:
    """The JSON type of field ``key`` of ``et``; ValidationError (naming ``option``, the
    pointer ``/<option without dashes>``) unless it is a field holding one scalar type."""
    where = "/" + option.lstrip("-").replace("-", "_")
    check_field(key, where)
    if not et.has_field(key):
        raise ValidationError(f"{option} {key}: {et.name} has no field {key!r}",
                              [{"pointer": where, "message": "not a field of the type"}])
    json_type = et.field_type(key)
    if json_type not in KEY_TYPES:
        raise ValidationError(f"{option} {key}: a key must be a field holding one string, number or boolean, "
                              f"not {json_type or 'values of several types'}",
                              [{"pointer": where, "message": "not a scalar field"}])
    return json_type


def fits(json_type: str, value) -> bool:
    """Can ``value`` (from a row) be a stored value of a key of ``json_type``? Anything else
    names no record — and must not reach SQL: PostgreSQL refuses to compare a numeric key
    with text ("operator does not exist"), SQLite reads ``true`` as 1 — nor a set (lists and
    objects are unhashable). Integers outside 64 bits are no stored value either (records
    cannot hold one), and neither engine binds one."""
    if json_type == "string":
        return type(value) is str
    if json_type == "boolean":
        return type(value) is bool
    if type(value) is int:
        return INT_RANGE[0] <= value <= INT_RANGE[1]
    return type(value) is float and (json_type == "number" or value.is_integer())


def find(s: "Session", et, key: str, json_type: str, values) -> dict:
    """``{value: [row, …]}``: the stored records of ``et`` the session's user may read whose
    field ``key`` holds one of ``values`` (rows of :data:`xrm_core.records.COLUMNS`).

    A date-time key names records by instant, as its unique index and filters do:
    ``2026-03-01T02:00:00+03:30`` finds the record stored with ``2026-02-28T22:30:00Z``."""
    found: dict = defaultdict(list)
    values = sorted((v for v in values if fits(json_type, v)), key=repr)
    R = db.records
    if sql_type(et, key) == INSTANT:
        given: dict = defaultdict(list)  # instant -> the values given for it
        for v in values:
            if normal(v) is not None:
                given[normal(v)].append(v)
        values, expr = sorted(given), field_expr(s.dialect, key, INSTANT)
    else:
        given, expr = None, field_expr(s.dialect, key, json_type)
    for i in range(0, len(values), CHUNK):
        query = select(expr.label("key_value"), *records.COLUMNS).where(
            R.c.type == type_literal(et.name), expr.in_(values[i:i + CHUNK]), s.actor.clause(et.name, "read"))
        for row in s.conn.execute(query):
            if given is None:
                found[records.plain_number(row.key_value)].append(row)
            else:
                for v in given[row.key_value]:
                    found[v].append(row)
    return found
