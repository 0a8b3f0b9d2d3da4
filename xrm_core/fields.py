"""SQL expressions for fields inside a record's JSON ``data``.

One function builds the expression for both queries and index DDL, so the database always
recognises its expression indexes. Field paths are validated (``a.b.c`` of property names
that hold no quote, backslash or bracket) before they reach SQL, so they can be inlined
safely.
"""
from __future__ import annotations

import re

from sqlalchemy import literal_column
from sqlalchemy.sql.elements import ColumnElement

from .errors import ValidationError
from .instants import INSTANT, instant_sql, is_instant_field

#: An identifier property name: a letter of any script or _, then letters, digits, _ and
#: the zero-width (non-)joiners Persian words are written with (``نام``, ``名前``,
#: ``می‌شود``). Written into SQL JSON paths as is (SQLite ``$.a.b``, PostgreSQL ``'{a,b}'``),
#: which keeps the text of indexes made before other names were allowed.
SEGMENT = r"[^\W\d][\w\u200c\u200d]*"
#: Characters a property name of a field may hold besides those of an identifier: names
#: written by people (``First Name``, ``e-mail``, ``cost (USD)``, ``R&D``, ``schema:name``,
#: ``@id``). Never a dot (it separates a path), a quote, backslash, bracket or comma (they
#: would need escaping in SQL paths and in the REST API's ``filter[F]``/``sort=F,G``), nor
#: ``= < > !`` (the operators of ``--where F=V``).
_NAME_CHARS = r"\w\u200c\u200d\-/:@#&+()%?"
#: One property name of a field path: an identifier (:data:`SEGMENT`), or a name starting
#: with a letter, digit, ``_``, ``@`` or ``#``, of the characters above and inner spaces,
#: not ending in one. Such names are double-quoted in SQL JSON paths.
NAME = rf"[\w@#](?:[{_NAME_CHARS} ]*[{_NAME_CHARS}])?"
#: A field: property names joined by dots (a path into nested objects). The meta-schemas
#: (``entity-type``, ``kpi``, ``filter``) say the same in ECMA-262 (``\p{L}\p{N}_…``).
FIELD_RE = re.compile(rf"^{NAME}(\.{NAME})*$")
_IDENTIFIER_RE = re.compile(rf"^{SEGMENT}$")
#: What :func:`check_field` tells a user whose field name it refuses.
FIELD_RULE = ("property names of letters, digits, spaces and _ - / : @ # & + ( ) % ?, "
              "separated by dots")

#: JSON Schema type -> how the value is read on PostgreSQL (text, numeric or boolean).
NUMERIC = {"integer", "number"}


def check_field(path: str, pointer: str | None = None) -> list[str]:
    """Split a dotted field path, refusing anything that is not property names of :data:`NAME`.

    The ValidationError carries ``pointer`` (where the name was given) when one is passed.
    """
    if not isinstance(path, str) or not FIELD_RE.match(path):
        errors = [{"pointer": pointer, "message": "not a field name"}] if pointer is not None else None
        raise ValidationError(f"invalid field name {path!r}: use {FIELD_RULE}", errors)
    return path.split(".")


def sql_type(et, path: str) -> str | None:
    """How field ``path`` of entity type ``et`` is compared in SQL: its JSON type
    (:meth:`EntityType.field_type`), or :data:`xrm_core.instants.INSTANT` for a string of
    format date-time, compared as the instant it names (:mod:`xrm_core.instants`). Pass it
    as ``json_type`` to :func:`field_sql` and :func:`field_expr`."""
    cache = et.__dict__.setdefault("_sql_types", {})
    try:
        return cache[path]
    except (KeyError, TypeError):
        pass
    json_type = et.field_type(path)
    found = INSTANT if json_type == "string" and is_instant_field(et, path) else json_type
    if isinstance(path, str):
        cache[path] = found
    return found


def field_sql(dialect: str, path: str, json_type: str | None = None, column: str = "data",
              pg_number: str = "numeric") -> str:
    """SQL text reading ``path`` from the JSON ``column`` as a comparable scalar.

    SQLite's ``json_extract`` returns typed SQL values. PostgreSQL's ``#>>`` returns text,
    so numbers and booleans are cast by the field's schema type: numbers to ``numeric``
    (exact; what filters and indexes use) unless ``pg_number`` names another type. A
    ``json_type`` of :data:`~xrm_core.instants.INSTANT` (:func:`sql_type`) reads a
    date-time as the normal text of its instant in UTC.
    """
    parts = check_field(path)
    if json_type == INSTANT:
        return instant_sql(dialect, field_sql(dialect, path, "string", column))
    if dialect == "postgresql":
        expr = f"({column} #>> '{pg_path(parts)}')"
        if json_type in NUMERIC:
            return f"({expr}::{pg_number})"
        if json_type == "boolean":
            return f"({expr}::boolean)"
        return expr
    return f"json_extract({column}, '$.{'.'.join(map(_sqlite_label, parts))}')"


def _sqlite_label(part: str) -> str:
    # SQLite reads a double-quoted label of a JSON path as written (spaces, dashes…).
    return part if _IDENTIFIER_RE.match(part) else f'"{part}"'


def pg_path(parts: list[str]) -> str:
    """PostgreSQL text-array literal of a checked field path, for ``#>`` and ``#>>``.

    An unquoted ``null`` element (any case) of an array literal is SQL NULL, and a path with
    a NULL in it reads nothing: a property named "null" would match no filter and break its
    unique key. Such elements are double-quoted, and so are names that are no identifier
    (spaces would be trimmed, braces and commas read as syntax); identifiers are left as they
    were, so the text of existing expression indexes (and their names) stays the same.
    """
    return "{" + ",".join(f'"{p}"' if p.lower() == "null" or not _IDENTIFIER_RE.match(p) else p
                          for p in parts) + "}"


def field_expr(dialect: str, path: str, json_type: str | None = None, table: str = "xrm_records",
               pg_number: str = "numeric") -> ColumnElement:
    """The expression of :func:`field_sql` as a SQLAlchemy column element for ``table``."""
    return literal_column(field_sql(dialect, path, json_type, f"{table}.data", pg_number))


def type_literal(name: str) -> ColumnElement:
    """An entity type name inlined as a SQL literal.

    Partial indexes (``WHERE type = 'x'``) are only used by SQLite when the query states
    the same literal; names are validated identifiers, so inlining is safe.
    """
    if not re.match(r"^[a-z][a-z0-9_]*$", name):
        raise ValidationError(f"invalid entity type name {name!r}")
    return literal_column(f"'{name}'")


def value_at(data, path: str):
    """The value of dotted field ``path`` in record data, or None when it is absent."""
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data
