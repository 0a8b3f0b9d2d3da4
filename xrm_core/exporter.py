"""Export of the records a user can see, as JSONL or CSV: exactly what import reads back.

Records are read in id order in keyset batches, so memory stays flat. JSONL holds each
record's ``data`` as one JSON object per line and is lossless. Keys are written sorted, in
nested objects too (JSONL lines, CSV object cells): each engine keeps them in its own order
(SQLite as given, PostgreSQL's JSONB shorter keys first), and the same records exported from
either engine are the same file. CSV has one column per
top-level property of the schema, cells written by :mod:`xrm_core.csvcells` so that import
reads back the same values; a text a spreadsheet would run as a formula (``=1+2``) is written
JSON-quoted (``"=1+2"``), which a spreadsheet shows as text and import reads back as the
same string.

A top-level ``patternProperties`` lets records hold names the schema does not list. Those
the exported records actually hold get a column each, after the declared properties, sorted:
the header comes before the first row, so one SQL query finds them first (``json_each`` on
SQLite, ``jsonb_object_keys`` on PostgreSQL) under the export's own scope and filter — a name
held only by records the user cannot see never shows — and the database, not Python, makes
them distinct. What a CSV still cannot hold (attributes the schema does not allow by name,
names a CSV header cannot give back — with a dot, a quote, spaces around —, a record with no
attribute in any column) is reported through ``warn``.
"""
from __future__ import annotations

import csv
from typing import IO, TYPE_CHECKING, Callable

import orjson
from sqlalchemy import and_, func, select, true

from . import db
from .csvcells import ABSENT, Column, column_for
from .errors import PermissionDenied, ValidationError
from .fields import type_literal
from .schema_types import find_property, has_pattern_properties

if TYPE_CHECKING:
    from .session import Session

FORMATS = ("csv", "jsonl")
#: Most columns a CSV export gives names that ``patternProperties`` allows. Past it, records
#: use such names as keys of a map (ids, dates), which a CSV cannot sensibly hold.
MAX_PATTERN_COLUMNS = 1000


def export(s: "Session", type_name: str, out: IO[str], fmt: str = "jsonl", where: dict | None = None,
           batch: int = 2000, warn: Callable[[str], None] | None = None) -> int:
    """Write the ``data`` of every record of ``type_name`` visible to the session's user
    (optionally matching filter ``where``) to the text stream ``out``; returns the count.
    """
    from .filters import compile_filter
    if fmt not in FORMATS:
        raise ValidationError(f"unknown format {fmt!r}: use csv or jsonl")
    et = s.entity_type(type_name)
    if not s.actor.can(et.name, "read"):
        raise PermissionDenied(f"{s.actor.name!r} may not read {et.name} records")
    R = db.records
    base = and_(R.c.type == type_literal(et.name), s.actor.clause(et.name, "read"),
                compile_filter(s.dialect, et, where or {}))
    if fmt == "csv":
        write = CsvOut(et, out, pattern_columns(s, et, base))
    else:
        def write(data):
            out.write(orjson.dumps(data, option=orjson.OPT_SORT_KEYS).decode() + "\n")
    count, last = 0, ""
    while True:
        rows = s.conn.execute(select(R.c.id, R.c.data).where(base, R.c.id > last)
                              .order_by(R.c.id).limit(batch)).all()
        if not rows:
            break
        if not count and len(rows) == batch:
            # More pages to come: on a table PostgreSQL never analyzed (filled by one import,
            # autovacuum not round yet or off) it guessed 22 rows of the type and planned a
            # page as a read and sort of every record of the type after ``last`` (18 ms a
            # page at 40k records, growing with the table) instead of the first 2,000 in id
            # order. Analyzed once, if never before: 160k records 1.02 s → 0.68 s.
            db.GrowthStatistics(s.conn, "xrm_records", reads=("xrm_records",))
        for _, data in rows:
            write(data)
        count += len(rows)
        last = rows[-1][0]
    if fmt == "csv" and warn is not None:
        for message in write.warnings():
            warn(message)
    return count


def pattern_columns(s: "Session", et, where) -> list[Column]:
    """The columns of the top-level names that ``patternProperties`` allow and the records
    matching ``where`` (a clause on ``xrm_records``: type, scope and filter) hold, sorted;
    none when the schema has no such patterns. Names a CSV header cannot give back (see
    :func:`xrm_core.csvcells.column_for`) get none. ValidationError past
    :data:`MAX_PATTERN_COLUMNS`."""
    if not has_pattern_properties(et.schema, et.schema):
        return []
    declared = et.properties()
    columns = []
    names = held_names(s, where)
    try:
        for name in names:
            if name in declared:
                continue
            col = column_for(et, name)
            if col is None or col.path != [name]:
                continue  # no field name ("a.b", " x"): told by CsvOut's warnings
            columns.append(col)
            if len(columns) > MAX_PATTERN_COLUMNS:
                raise ValidationError(
                    f"the {et.name} records to export hold more than {MAX_PATTERN_COLUMNS:,} attribute names "
                    f"that patternProperties allow: too many CSV columns; use --format jsonl")
    finally:
        names.close()
    return sorted(columns, key=lambda c: c.name)


def held_names(s: "Session", where):
    """The distinct top-level names of the records matching ``where`` (a clause on
    ``xrm_records``: type, scope, filter), streamed: the database reads the documents and
    makes the names distinct (``json_each`` on SQLite, ``jsonb_object_keys`` on PostgreSQL),
    so finding them costs one query, not a read of every record in Python."""
    R = db.records
    if s.dialect == "sqlite":
        each = func.json_each(R.c.data).table_valued("key").alias("k")
        # json_each of an array (data a schema without "type": "object" let through) yields indexes
        q = (select(each.c.key).select_from(R.join(each, true()))
             .where(where, func.json_type(R.c.data) == "object"))
    else:
        key = func.jsonb_object_keys(R.c.data).label("key")
        q = select(key).where(where, func.jsonb_typeof(R.c.data) == "object")
    # Streamed: a type whose records use undeclared names as map keys may hold many.
    result = s.conn.execute(q.distinct().execution_options(yield_per=1000))
    try:
        for (name,) in result:
            if isinstance(name, str):
                yield name
    finally:
        result.close()


def undeclared_names(s: "Session", et, where: dict | None = None) -> list[str]:
    """The top-level names that records of ``et`` the session's user may read (matching
    filter ``where``) hold and its schema does not declare, sorted: the extra columns of a
    CSV of them (the admin UI's list export)."""
    from .filters import compile_filter
    R = db.records
    clause = and_(R.c.type == type_literal(et.name), s.actor.clause(et.name, "read"),
                  compile_filter(s.dialect, et, where or {}))
    declared = set(et.properties())
    return sorted(name for name in held_names(s, clause) if name not in declared)


class CsvOut:
    """Writes the header, then one row per record; counts what the CSV could not hold.

    The columns are the declared top-level properties, in declaration order, then
    ``extra`` (:func:`pattern_columns`)."""

    def __init__(self, et, out: IO[str], extra: list[Column] = ()):
        self.et = et
        self.columns = [column_for(et, name) for name in et.properties()] + list(extra)
        self.names = {c.name for c in self.columns}
        self.writer = csv.writer(out, lineterminator="\n")
        # Python's csv (before 3.12) quotes a cell holding "\n" but not one holding a lone
        # "\r" when the line terminator is "\n": written bare, import then refuses the row
        # (CR in an unquoted cell) or drops a trailing "\r". Such rows are written fully
        # quoted, which reads back as the same cells.
        self.quoted = csv.writer(out, lineterminator="\n", quoting=csv.QUOTE_ALL)
        if self.columns and self.columns[0].name.startswith("\ufeff"):
            # Import drops a byte-order mark at the start of the file: one of its own
            # first keeps the first property's name (which starts with U+FEFF) whole.
            out.write("\ufeff")
        self.header = [c.name for c in self.columns]
        self._write(self.header)
        self.dropped: dict[str, int] = {}
        self.blank = 0

    def __call__(self, data: dict) -> None:
        cells = [c.write(data.get(c.name, ABSENT), True) for c in self.columns]
        if not self.names.issuperset(data):
            for k in data:
                if k not in self.names:
                    self.dropped[k] = self.dropped.get(k, 0) + 1
        if not any(cells):
            self.blank += 1
        if cells and (cells == self.header or cells[0].startswith("\ufeff")):
            # Import refuses a line that repeats the header as written, or starts with a
            # byte-order mark (the signs of a second file joined to the first). A record whose
            # cells are the field names, or whose first cell starts with U+FEFF, is written
            # fully quoted: a line that differs from both, read back as the same cells.
            self.quoted.writerow(cells)
            return
        self._write(cells)

    def _write(self, cells: list[str]) -> None:
        if any("\r" in c for c in cells):
            self.quoted.writerow(cells)
        else:
            self.writer.writerow(cells)

    def warnings(self) -> list[str]:
        out = []
        # A name a pattern allows that is left out is one a CSV header cannot give back.
        root = self.et.schema
        allowed = {k for k in self.dropped if find_property(root, root, k, 0) is not None}
        undeclared = {k: n for k, n in self.dropped.items() if k not in allowed}
        if undeclared:
            fields = ", ".join(f"{k} ({n})" for k, n in sorted(undeclared.items()))
            out.append(f"CSV has no column for attributes the schema does not declare, so they were left out: "
                       f"{fields}; use --format jsonl to keep them")
        if allowed:
            fields = ", ".join(f"{k!r} ({n})" for k, n in sorted((k, self.dropped[k]) for k in allowed))
            out.append(f"CSV has no column for attributes whose names a CSV header cannot give back (with a dot, "
                       f"quote, comma, bracket, = < > ! or spaces around), so they were left out: {fields}; "
                       f"use --format jsonl to keep them")
        if self.blank:
            out.append(f"{self.blank} records have no attribute in any CSV column: their rows are blank and "
                       f"import skips blank rows; use --format jsonl to keep them")
        return out
