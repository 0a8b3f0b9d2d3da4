"""Import and export of records as CSV or JSONL, streamed.

Import reads the file row by row, converts CSV cells to the schema's types (an empty cell
means the attribute is absent), validates with the compiled validator, and writes batches
with one ``executemany`` for records and one for their history — never an ORM session per
row. It is all-or-nothing unless ``skip_invalid``: after the first invalid row it stops
writing but keeps reading, so the report lists every invalid row (file line and pointer)
and the transaction is rolled back. Memory stays flat: only the invalid-row report grows.
"""
from __future__ import annotations

import codecs
import csv
import io
import os
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import IO, TYPE_CHECKING, Iterator

import orjson
from sqlalchemy import and_, insert, select
from sqlalchemy.exc import IntegrityError

from . import db
from .errors import PermissionDenied, ValidationError
from .fields import type_literal
from .records import COLUMNS, Record, new_id

if TYPE_CHECKING:
    from .session import Session

BATCH = 2000
FORMATS = ("csv", "jsonl")
TRUE = {"true", "1", "yes", "y", "t"}
FALSE = {"false", "0", "no", "n", "f"}


class _Abort(Exception):
    """Raised to roll back a dry run's savepoint."""


def detect_format(path: str, fmt: str | None) -> str:
    if fmt:
        if fmt not in FORMATS:
            raise ValidationError(f"unknown format {fmt!r}: use csv or jsonl")
        return fmt
    ext = Path(path).suffix.lower()
    if ext == ".csv":
        return "csv"
    if ext in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ValidationError(f"cannot tell the format of {path}: give --format csv or --format jsonl")


# -- reading ----------------------------------------------------------------------------
def _jsonl_rows(f: IO[bytes]) -> Iterator[tuple[int, object, list]]:
    for lineno, raw in enumerate(f, 1):
        if lineno == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[3:]
        if not raw.strip():
            continue
        try:
            yield lineno, orjson.loads(raw), []
        except orjson.JSONDecodeError as e:
            yield lineno, None, [{"pointer": "", "message": f"invalid JSON: {e}"}]


class CsvConverter:
    """Turns a CSV header and cells into a data object typed by the entity schema."""

    def __init__(self, et, header: list[str]):
        self.et = et
        self.columns = []
        errors = []
        seen = set()
        for i, name in enumerate(header):
            name = name.strip()
            if not name:
                errors.append({"pointer": "", "message": f"column {i + 1} has no name"})
                continue
            if name in seen:
                errors.append({"pointer": "/" + name.replace(".", "/"), "message": f"column {name!r} appears twice"})
            seen.add(name)
            sub = et.property_schema(name) if _is_field(name) else None
            if sub is None:
                errors.append({"pointer": "/" + name.replace(".", "/"),
                               "message": f"column {name!r} is not a field of {et.name}"})
                continue
            items = sub.get("items") if isinstance(sub.get("items"), dict) else {}
            from .entity_types import _json_type
            self.columns.append((i, name.split("."), et.field_type(name),
                                 _json_type(et.schema, items) if items else None))
        if errors:
            raise ValidationError(f"the CSV header (line 1) does not match {et.name}",
                                  [{"line": 1, **e} for e in errors])

    def convert(self, cells: list[str]) -> tuple[dict, list]:
        data: dict = {}
        errors = []
        for i, path, jtype, itype in self.columns:
            cell = cells[i] if i < len(cells) else ""
            if cell == "":
                continue
            try:
                value = _convert(cell, jtype, itype)
            except ValueError as e:
                errors.append({"pointer": "/" + "/".join(path), "message": str(e)})
                continue
            node = data
            for part in path[:-1]:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    break
            else:
                node[path[-1]] = value
        return data, errors


def _is_field(name: str) -> bool:
    from .fields import FIELD_RE
    return bool(FIELD_RE.match(name))


def _convert(cell: str, jtype: str | None, itype: str | None = None):
    if jtype == "integer":
        try:
            return int(cell.strip())
        except ValueError:
            f = float(cell)  # "3.0" is an integer in JSON Schema
            if f.is_integer():
                return int(f)
            raise ValueError(f"{cell!r} is not an integer") from None
    if jtype == "number":
        try:
            f = float(cell.strip())
        except ValueError:
            raise ValueError(f"{cell!r} is not a number") from None
        return int(f) if f.is_integer() and "." not in cell and "e" not in cell.lower() else f
    if jtype == "boolean":
        low = cell.strip().lower()
        if low in TRUE:
            return True
        if low in FALSE:
            return False
        raise ValueError(f"{cell!r} is not a boolean (true/false)")
    if jtype == "array":
        if cell.lstrip().startswith("["):
            try:
                return orjson.loads(cell)
            except orjson.JSONDecodeError as e:
                raise ValueError(f"invalid JSON array: {e}") from None
        return [_convert(part.strip(), itype) for part in cell.split(";") if part.strip() != ""]
    if jtype == "object":
        try:
            return orjson.loads(cell)
        except orjson.JSONDecodeError as e:
            raise ValueError(f"invalid JSON object: {e}") from None
    if jtype == "null":
        raise ValueError("only an empty cell can stand for null")
    return cell


def _csv_rows(f: IO[bytes], et) -> Iterator[tuple[int, object, list]]:
    text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise ValidationError("the CSV file is empty: line 1 must be a header of field names") from None
    conv = CsvConverter(et, header)
    start = reader.line_num + 1
    for cells in reader:
        line = start
        start = reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) > len(header):
            yield line, None, [{"pointer": "", "message": f"{len(cells)} cells but the header has {len(header)} columns"}]
            continue
        data, errors = conv.convert(cells)
        yield line, data, errors


class _Progress:
    """Bytes-read progress on stderr, shown for files over 1 MB."""

    def __init__(self, f, size: int, enabled: bool):
        self.f, self.bar = f, None
        if enabled and size > 1_000_000:
            import click
            self.bar = click.progressbar(length=size, label="importing", file=sys.stderr, show_eta=True)
            self.bar.__enter__()
        self.last = 0

    def tick(self):
        if self.bar is not None:
            pos = self.f.tell()
            self.bar.update(pos - self.last)
            self.last = pos

    def close(self):
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


# -- importing --------------------------------------------------------------------------
def import_file(s: "Session", type_name: str, path: str, fmt: str | None = None, skip_invalid: bool = False,
                dry_run: bool = False, progress: bool = False) -> dict:
    """Import records of ``type_name`` from ``path``; returns the contract report.

    Raises ValidationError (carrying the report as ``extra["report"]``) when the import is
    refused: an invalid row without ``skip_invalid``. Nothing is written then.
    """
    et = s.entity_type(type_name)
    fmt = detect_format(path, fmt)
    unit_id = s.choose_unit(et.name, None)
    if not s.actor.can(et.name, "create"):
        raise PermissionDenied(f"{s.actor.name!r} may not create {et.name} records")
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ValidationError(f"{path}: {e.strerror}") from None
    report = {"total": 0, "valid": 0, "imported": 0, "invalid": []}
    source = os.path.basename(path)
    with f:
        bar = _Progress(f, os.fstat(f.fileno()).st_size, progress)
        try:
            rows = _csv_rows(f, et) if fmt == "csv" else _jsonl_rows(f)
            writer = _Writer(s, et, unit_id, source, skip_invalid, report)
            try:
                with s.conn.begin_nested():
                    for n, (line, data, errors) in enumerate(rows, 1):
                        report["total"] += 1
                        if not errors:
                            if not isinstance(data, dict):
                                errors = [{"pointer": "", "message": "a row must be a JSON object"}]
                            elif not et.is_valid(data):
                                errors = et.errors(data)
                        if errors:
                            report["invalid"].append({"line": line, "errors": errors})
                            writer.stop_unless_skipping()
                        else:
                            report["valid"] += 1
                            writer.add(line, data)
                        if n % BATCH == 0:
                            writer.flush()
                            bar.tick()
                    writer.flush()
                    if dry_run or (report["invalid"] and not skip_invalid):
                        raise _Abort
            except _Abort:
                pass
        except UnicodeDecodeError as e:
            raise ValidationError(f"{path} is not UTF-8 text: {e.reason} at byte {e.start}") from None
        finally:
            bar.close()
    if report["invalid"] and not skip_invalid:
        report["imported"] = 0
        raise ValidationError(f"import refused: {len(report['invalid'])} of {report['total']} rows are invalid "
                              f"(nothing imported; use --skip-invalid to import the valid rows)",
                              [{"line": r["line"], **e} for r in report["invalid"] for e in r["errors"]],
                              report=report)
    if dry_run:
        report["imported"] = 0
    s.invalidate()
    return report


class _Writer:
    """Collects valid rows and writes them in batches (records, then their history)."""

    def __init__(self, s: "Session", et, unit_id: int, source: str, skip_invalid: bool, report: dict):
        self.s, self.et, self.unit_id, self.source = s, et, unit_id, source
        self.skip_invalid, self.report = skip_invalid, report
        self.batch: list[tuple[int, Record]] = []
        self.writing = True
        self.hooks = bool(s.platform.record_event_impls())
        self.unit_name = s.unit_names()[unit_id]

    def stop_unless_skipping(self):
        if not self.skip_invalid:
            self.writing = False
            self.batch.clear()

    def add(self, line: int, data: dict):
        if not self.writing:
            return
        now = db.utcnow()
        s = self.s
        rec = Record(new_id(), self.et.name, data, 1, s.actor.name, self.unit_name, now, now,
                     s.actor.name, s.actor.name, s.actor.id, self.unit_id)
        if self.hooks:
            s.fire("before_create", rec, {})
            if not self.et.is_valid(rec.data):
                self._invalid(line, self.et.errors(rec.data))
                return
        self.batch.append((line, rec))

    def _invalid(self, line, errors):
        self.report["valid"] -= 1
        self.report["invalid"].append({"line": line, "errors": errors})
        self.stop_unless_skipping()

    def flush(self):
        if not self.batch or not self.writing:
            self.batch.clear()
            return
        s, batch = self.s, self.batch
        self.batch = []
        rows = [_row(rec) for _, rec in batch]
        try:
            with s.conn.begin_nested():
                s.conn.execute(insert(db.records), rows)
            written = batch
        except IntegrityError:
            written = self._one_by_one(batch)
        if not self.writing:
            return
        if self.hooks:
            for _, rec in written:
                s.fire("after_create", rec, {})
        s.conn.execute(insert(db.activities), [
            {"record_id": rec.id, "record_type": rec.type, "unit_id": rec.unit_id, "owner_id": rec.owner_id,
             "kind": "created", "at": rec.created_at, "actor": s.actor.name,
             "summary": f"imported from {self.source} line {line}",
             "payload": {"data": rec.data, "import": {"file": self.source, "line": line}}}
            for line, rec in written])
        self.report["imported"] += len(written)

    def _one_by_one(self, batch):
        """A unique key clashed somewhere in the batch: find the rows, report them by line."""
        ok = []
        for line, rec in batch:
            try:
                with self.s.conn.begin_nested():
                    self.s.conn.execute(insert(db.records), [_row(rec)])
                ok.append((line, rec))
            except IntegrityError as e:
                err = self.s.unique_conflict(self.et, rec.data, e)
                self._invalid(line, [{"pointer": p["pointer"].removeprefix("/data"), "message": err.message}
                                     for p in err.errors] or [{"pointer": "", "message": err.message}])
                if not self.writing:
                    return []
        return ok


def _row(rec: Record) -> dict:
    return {"id": rec.id, "type": rec.type, "data": rec.data, "version": 1, "owner_id": rec.owner_id,
            "unit_id": rec.unit_id, "created_by": rec.owner_id, "updated_by": rec.owner_id,
            "created_at": rec.created_at, "updated_at": rec.updated_at}


# -- exporting --------------------------------------------------------------------------
def export(s: "Session", type_name: str, out: IO[str], fmt: str = "jsonl", where: dict | None = None,
           batch: int = BATCH) -> int:
    """Write the visible records of a type (data only, what import reads) to ``out``; returns the count."""
    from .filters import compile_filter
    if fmt not in FORMATS:
        raise ValidationError(f"unknown format {fmt!r}: use csv or jsonl")
    et = s.entity_type(type_name)
    if not s.actor.can(et.name, "read"):
        raise PermissionDenied(f"{s.actor.name!r} may not read {et.name} records")
    R = db.records
    base = and_(R.c.type == type_literal(et.name), s.actor.clause(et.name, "read"),
                compile_filter(s.dialect, et, where or {}))
    writer = None
    columns: list[str] = []
    if fmt == "csv":
        columns = list(et.properties())
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
    count, last = 0, ""
    while True:
        rows = s.conn.execute(select(R.c.id, R.c.data).where(base, R.c.id > last).order_by(R.c.id).limit(batch)).all()
        if not rows:
            break
        for rid, data in rows:
            if writer is None:
                out.write(orjson.dumps(data).decode() + "\n")
            else:
                writer.writerow([_cell(data.get(c)) for c in columns])
            count += 1
        last = rows[-1][0]
    return count


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, (int, float)):
        return repr(v)
    return orjson.dumps(v).decode()


__all__ = ["import_file", "export", "detect_format", "nullcontext", "COLUMNS"]
