"""The one filter language of lists, KPIs and the CLI, compiled to SQL.

``{"field": value}`` is equality; ``{"field": {"eq"|"ne"|"lt"|"lte"|"gt"|"gte": v}}``,
``{"field": {"in": [...]}}`` and ``{"field": {"exists": bool}}`` the rest; fields are dotted
paths into ``data`` and must be fields of the entity type's schema; several keys are ANDed.
Values are coerced to the field's schema type, so they never reach SQL as something else.
"""
from __future__ import annotations

import re

import orjson
from sqlalchemy import and_, false, or_, true
from sqlalchemy.sql.elements import ColumnElement

from .errors import ValidationError
from .fields import NUMERIC, field_expr

OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "exists")
WHERE_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)\s*(!=|<=|>=|=|<|>)(.*)$", re.S)
CLI_OPS = {"=": "eq", "!=": "ne", "<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}


def _bad(where: str, message: str) -> ValidationError:
    return ValidationError(f"invalid filter: {message}", [{"pointer": where, "message": message}])


def coerce(value, json_type: str | None, where: str, dialect: str):
    """Convert a filter value to what the field's SQL expression compares against."""
    if value is None:
        return None
    if json_type in NUMERIC:
        if isinstance(value, bool):
            raise _bad(where, f"{value!r} is not a number")
        if isinstance(value, (int, float)):
            return value
        try:
            return int(value) if re.fullmatch(r"[+-]?\d+", str(value)) else float(value)
        except (TypeError, ValueError):
            raise _bad(where, f"{value!r} is not a number") from None
    if json_type == "boolean":
        if isinstance(value, bool):
            return value
        if str(value).lower() in ("true", "false"):
            return str(value).lower() == "true"
        raise _bad(where, f"{value!r} is not a boolean")
    if json_type in ("array", "object"):
        raise _bad(where, f"cannot compare a field of type {json_type}; use exists")
    if isinstance(value, (dict, list)):
        raise _bad(where, "value must be a string, number or boolean")
    if json_type == "string" or dialect == "postgresql":
        # PostgreSQL reads untyped fields as text: compare with the JSON text form.
        return value if isinstance(value, str) else orjson.dumps(value).decode()
    return value


def compile_filter(dialect: str, et, where: dict, pointer_prefix: str = "/where",
                   table: str = "xrm_records") -> ColumnElement:
    """SQL condition for filter ``where`` over records of entity type ``et``."""
    if not isinstance(where, dict):
        raise _bad(pointer_prefix, "a filter is a JSON object of field → condition")
    conds = []
    for fname, cond in where.items():
        ptr = f"{pointer_prefix}/{fname}"
        if not isinstance(fname, str) or not et.has_field(fname):
            raise _bad(ptr, f"{fname!r} is not a field of {et.name}")
        jt = et.field_type(fname)
        expr = field_expr(dialect, fname, jt, table)
        ops = cond if isinstance(cond, dict) else {"eq": cond}
        if not ops:
            raise _bad(ptr, "empty condition")
        for op, value in ops.items():
            optr = f"{ptr}/{op}" if isinstance(cond, dict) else ptr
            if op not in OPS:
                raise _bad(optr, f"unknown operator {op!r}; use one of {', '.join(OPS)}")
            if op == "exists":
                if not isinstance(value, bool):
                    raise _bad(optr, "exists takes true or false")
                conds.append(expr.isnot(None) if value else expr.is_(None))
            elif op == "in":
                if not isinstance(value, list):
                    raise _bad(optr, "in takes a list")
                vals = [coerce(v, jt, optr, dialect) for v in value]
                conds.append(expr.in_(vals) if vals else false())
            else:
                v = coerce(value, jt, optr, dialect)
                if v is None:
                    if op not in ("eq", "ne"):
                        raise _bad(optr, f"{op} needs a value")
                    conds.append(expr.is_(None) if op == "eq" else expr.isnot(None))
                elif op == "eq":
                    conds.append(expr == v)
                elif op == "ne":
                    conds.append(or_(expr.is_(None), expr != v))
                else:
                    conds.append(getattr(expr, {"lt": "__lt__", "lte": "__le__", "gt": "__gt__",
                                                "gte": "__ge__"}[op])(v))
    return and_(*conds) if conds else true()


def order_by(dialect: str, et, sort: list[str], table=None):
    """Keys ``[(expr, descending)]`` and ORDER BY clauses for ``sort`` (``F`` or ``-F``), id last."""
    from . import db
    t = table if table is not None else db.records
    keys = []
    for i, item in enumerate(sort):
        desc = item.startswith("-")
        name = item[1:] if desc else item
        if not et.has_field(name):
            raise _bad(f"/sort/{i}", f"{name!r} is not a field of {et.name}")
        jt = et.field_type(name)
        if jt in ("array", "object"):
            raise _bad(f"/sort/{i}", f"cannot sort by {name!r} of type {jt}")
        keys.append((field_expr(dialect, name, jt, t.name), desc))
    keys.append((t.c.id, False))
    return keys, [k.desc() if d else k.asc() for k, d in keys]


def parse_where(exprs: list[str] | tuple[str, ...]) -> dict:
    """Turn CLI ``--where`` items (``F=V``, ``F!=V``, ``F<V``, ``F<=V``, ``F>V``, ``F>=V``) into a filter.

    V is read as JSON when it parses (``true``, ``3``), else as a string.
    """
    out: dict = {}
    for i, item in enumerate(exprs):
        m = WHERE_RE.match(item)
        if not m:
            raise ValidationError(f"cannot read --where {item!r}: use FIELD=V, FIELD!=V, FIELD<V, "
                                  "FIELD<=V, FIELD>V or FIELD>=V")
        fname, op, raw = m.group(1), CLI_OPS[m.group(2)], m.group(3)
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            value = raw
        if isinstance(value, (dict, list)):
            value = raw
        cur = out.setdefault(fname, {})
        if not isinstance(cur, dict) or op in cur:
            raise ValidationError(f"--where gives {fname} {op} twice")
        cur[op] = value
    return out
