"""Relationships to and from files: CSV or JSONL rows of (source, target[, data]).

The bulk path for bringing links over from another system, where the records were imported
first and the file names them by the keys the old system knew
rather than by this platform's ids (a member number, a serial number). Each row names its two records:

- by id (the default), or
- by the value of a field of the end's entity type (``source_key`` / ``target_key``),
  which must name exactly one record the caller can read.

Rows are checked as :func:`xrm_core.relationships.relate` checks one pair — visibility,
update on the source and on a target the link binds (:func:`~xrm_core.relationships.binding`),
the ends' types, no self-relation, duplicates and the cardinality
against the file's earlier rows and the stored relationships — and every invalid row is
reported by its file line and pointer (``/source``, ``/target``, ``/data``). All or nothing
unless ``skip_invalid``; ``dry_run`` checks and writes nothing. The report has the shape of
a record import's: ``{"total", "valid", "imported", "invalid": [{"line", "errors"}]}``.

CSV: a header naming ``source`` and ``target`` and, optionally, ``data`` (a JSON object);
JSONL: one ``{"source", "target", "data"?}`` object per line. Key values are read as the
key field's schema type (a CSV cell ``00123`` stays a string for a string field).

:func:`export_relationships` writes the relationships the caller can see (both ends
readable) in the same form, by id or by the same keys, so that a file exported here imports
into another database holding the same records.
"""
from __future__ import annotations

from collections import defaultdict
from typing import IO, TYPE_CHECKING, Callable

import orjson
from sqlalchemy import and_, column, select, tuple_
from sqlalchemy import values as sa_values

from . import db, keys, records, relationships
from .entity_types import EntityType
from .errors import ValidationError
from .exporter import CsvOut
from .fields import value_at
from .import_files import FORMATS, FileRefused, csv_rows, detect_format, jsonl_rows
from .importer import Progress, Rollback, finish_report, open_input
from .stored_json import storage_errors

if TYPE_CHECKING:
    from .session import Session

#: Rows checked and written together: the lookups of a batch are a few queries.
BATCH = 2000
CHUNK = keys.CHUNK


class _End:
    """How the rows name the records of one end (source or target) of the relationship type."""

    def __init__(self, s: "Session", rt: dict, end: str, key: str | None, type_name: str | None):
        self.end, self.key = end, key
        declared = rt[end]
        if type_name is not None and declared != "*" and type_name != declared:
            raise ValidationError(f"--{end}-type {type_name} does not match {rt['name']}'s {end} type {declared}",
                                  [{"pointer": f"/{end}", "message": f"the {end} end is {declared}"}])
        self.type_name = type_name or (declared if declared != "*" else None)
        self.et = None
        self.json_type = "string"  # an id
        if key is None:
            return
        if self.type_name is None:
            raise ValidationError(f"{rt['name']}'s {end} end takes records of any type: give --{end}-type TYPE "
                                  f"for --{end}-key {key}",
                                  [{"pointer": f"/{end}", "message": "which entity type the key belongs to"}])
        self.et = s.entity_type(self.type_name)
        self.json_type = keys.key_type(self.et, key, f"--{end}-key")

    def row_schema(self) -> dict:
        return {"type": "integer" if self.json_type == "integer" else self.json_type,
                **({"minLength": 1} if self.json_type == "string" else {})}

    def resolve(self, s: "Session", values: set) -> dict:
        """``{value: [row, …]}``: the stored rows the caller may read that each value names."""
        if self.key is not None:
            return keys.find(s, self.et, self.key, self.json_type, values)
        found: dict = defaultdict(list)
        values = sorted(values)
        R = db.records
        for i in range(0, len(values), CHUNK):
            for row in s.conn.execute(select(*records.COLUMNS).where(R.c.id.in_(values[i:i + CHUNK]))):
                if s.allows(row.type, "read", row):
                    found[row.id].append(row)
        return found

    def describe(self, value) -> str:
        if self.key is None:
            return f"record {value!r}"
        return f"{self.type_name} with {self.key}={value!r}"


def _row_type(source: _End, target: _End) -> EntityType:
    # The rows as a small entity type, so that both readers (cell conversion, unknown
    # columns, the file's line numbers) work on them as on records.
    return EntityType({"name": "relationship_row", "schema": {
        "type": "object", "additionalProperties": False, "required": ["source", "target"],
        "properties": {"source": source.row_schema(), "target": target.row_schema(), "data": {"type": "object"}}}})


def export_relationships(s: "Session", rel: str, out: IO[str], fmt: str = "jsonl",
                         source_key: str | None = None, target_key: str | None = None,
                         source_type: str | None = None, target_type: str | None = None,
                         batch: int = 2000, warn: Callable[[str], None] | None = None) -> int:
    """Write the relationships of type ``rel`` whose two records the session's user can read
    to the text stream ``out``, as :func:`import_relationships` reads them; returns the count.

    With a key, an end is written as the value of that field of its record. A relationship
    whose record lacks the key (or, for an end of any type, is of another type than the
    key's) cannot be named that way: it is left out and counted through ``warn``.
    """
    if fmt not in FORMATS:
        raise ValidationError(f"unknown format {fmt!r}: use csv or jsonl")
    rt = s.relationship_type(rel)
    ends = (_End(s, rt, "source", source_key, source_type), _End(s, rt, "target", target_key, target_type))
    if fmt == "csv":
        write = CsvOut(_row_type(*ends), out)
    else:
        def write(row):
            out.write(orjson.dumps(row, option=orjson.OPT_SORT_KEYS).decode() + "\n")
    REL = db.relationships
    src, tgt = db.records.alias("src"), db.records.alias("tgt")
    types = list(s.entity_types_map())
    base = and_(REL.c.type == rt["name"], s.actor.clause_any_type(types, "read", src),
                s.actor.clause_any_type(types, "read", tgt))
    query = (select(REL.c.id, REL.c.data, src.c.id, src.c.type, src.c.data, tgt.c.id, tgt.c.type, tgt.c.data)
             .join(src, src.c.id == REL.c.source_id).join(tgt, tgt.c.id == REL.c.target_id))
    count, unnamed, last = 0, [0, 0], ""
    while True:
        rows = s.conn.execute(query.where(base, REL.c.id > last).order_by(REL.c.id).limit(batch)).all()
        if not rows:
            break
        for rid, data, *both in rows:
            row = {}
            for n, (end, (record_id, record_type, record_data)) in enumerate(zip(ends, (both[:3], both[3:]))):
                # An end of any type given a type (--source-type) names records of that type only.
                value = None if end.type_name is not None and record_type != end.type_name else (
                    record_id if end.key is None else value_at(record_data, end.key))
                if value is None:
                    unnamed[n] += 1
                    break
                row[end.end] = value
            else:
                if data is not None:
                    row["data"] = data
                write(row)
                count += 1
        last = rows[-1][0]
    if warn is not None:
        for end, n in zip(ends, unnamed):
            if n:
                warn(f"{n} relationships were left out: their {end.end} is no {end.type_name}"
                     + (f" with a {end.key} to name it by" if end.key is not None else ""))
        if fmt == "csv":
            for message in write.warnings():
                warn(message)
    return count


def import_relationships(s: "Session", rel: str, path: str, fmt: str | None = None,
                         source_key: str | None = None, target_key: str | None = None,
                         source_type: str | None = None, target_type: str | None = None,
                         skip_invalid: bool = False, dry_run: bool = False, progress: bool = False) -> dict:
    """Relate the pairs of records the CSV or JSONL file ``path`` names with ``rel``.

    See the module docstring. Raises ValidationError with the report as
    ``extra["report"]`` when refused; the database is then exactly as before.
    """
    rt = s.relationship_type(rel)
    ends = (_End(s, rt, "source", source_key, source_type), _End(s, rt, "target", target_key, target_type))
    row_type = _row_type(*ends)
    fmt = detect_format(path, fmt)
    opened, f, source_name = open_input(path)
    report: dict = {"total": 0, "valid": 0, "imported": 0, "invalid": []}
    checker = _Checker(s, rt, ends, report["invalid"])
    refused = None
    with opened, Progress(f, progress) as bar:
        rows = csv_rows(f, row_type, source_name) if fmt == "csv" else jsonl_rows(f, source_name)
        try:
            with s.conn.begin_nested():  # a dry run or a refusal rolls back what was written
                batch: list = []
                for line, data, errors in rows:
                    report["total"] += 1
                    if not errors:
                        errors = row_type.errors(data)
                    if errors:
                        report["invalid"].append({"line": line, "errors": errors})
                    else:
                        batch.append((line, data))
                    if len(batch) >= BATCH:
                        report["valid"] += checker.write(batch)
                        batch = []
                        bar.tick()
                report["valid"] += checker.write(batch)
                if dry_run or (report["invalid"] and not skip_invalid):
                    raise Rollback
        except Rollback:
            pass
        except FileRefused as e:
            report["invalid"].append({"line": e.line, "errors": e.errors})
            refused = e.message
    return finish_report(report, refused, skip_invalid, dry_run, "relate", "related")


class _Checker:
    """Checks a batch of rows against the database and the file's earlier rows, and relates
    the valid ones."""

    def __init__(self, s: "Session", rt: dict, ends: tuple[_End, _End], invalid: list):
        self.s, self.rt, self.ends, self.invalid = s, rt, ends, invalid
        self.card = rt["cardinality"]
        #: the file's pairs so far and the ends they used (cardinality within the file), with
        #: the line that first used each
        self.pairs: dict[tuple[str, str], int] = {}
        self.sources: dict[str, int] = {}
        self.targets: dict[str, int] = {}
        self.statistics = db.GrowthStatistics(s.conn, "xrm_relationships", first=BATCH, reads=("xrm_records",))

    def write(self, batch: list) -> int:
        if not batch:
            return 0
        s, rt = self.s, self.rt
        found = [end.resolve(s, {data[end.end] for _, data in batch}) for end in self.ends]
        resolved, seen_rows = [], {}
        for line, data in batch:
            errors, rows = [], []
            for end, hits in zip(self.ends, found):
                value = data[end.end]
                matches = hits.get(value, [])
                if not matches:
                    errors.append({"pointer": f"/{end.end}", "message": f"no {end.describe(value)}"})
                elif len(matches) > 1:
                    ids = ", ".join(sorted(r.id for r in matches)[:5])
                    errors.append({"pointer": f"/{end.end}",
                                   "message": f"{len(matches)} records have {end.key}={value!r} ({ids}): a key must "
                                              f"name one record"})
                elif end.type_name is not None and matches[0].type != end.type_name:
                    # the end's type, or the one --source-type/--target-type gave an end of any type
                    errors.append({"pointer": f"/{end.end}",
                                   "message": f"{rt['name']}: the {end.end} must be a record of type {end.type_name}"
                                              f"{'' if rt[end.end] != '*' else f' (--{end.end}-type)'}, got "
                                              f"{matches[0].type} {matches[0].id}"})
                rows.append(matches[0] if len(matches) == 1 else None)
            src, tgt = rows
            if not errors:
                if src.id == tgt.id:
                    errors.append({"pointer": "/target", "message": "the same record as the source: a record "
                                                                    "cannot be related to itself"})
                elif (refusal := relationships.link_refusal(s, rt, src, tgt)) is not None:
                    # relate's rule: update on the source, and on a target the link binds
                    end, why = refusal
                    row = src if end == "source" else tgt
                    errors.append({"pointer": f"/{end}", "message": f"{s.actor.name!r} may not update {row.id}"
                                   + ("" if why is None else f": {why}; relating needs update on the target too")})
            if not errors and "data" in data:
                errors += storage_errors(data["data"], "/data")
            if errors:
                self.invalid.append({"line": line, "errors": errors})
            else:
                names = tuple(end.describe(data[end.end]) for end in self.ends)
                resolved.append((line, src.id, tgt.id, data.get("data"), names))
                seen_rows[src.id], seen_rows[tgt.id] = src, tgt
        stored = self._stored([(a, b) for _, a, b, _, _ in resolved])
        good, datas = [], []
        for line, a, b, payload, names in resolved:
            why = self._clash(a, b, names, stored)
            if why:
                self.invalid.append({"line": line, "errors": [{"pointer": why[0], "message": why[1]}]})
                continue
            self.pairs[(a, b)] = line
            self.sources[a] = line
            self.targets[b] = line
            good.append((a, b))
            datas.append(payload)
        if good:
            # The rows were checked above as relate_many checks them: written without a second read.
            relationships.write_pairs(s, rt["name"], seen_rows, good, datas)
            self.statistics.wrote(len(good))
        return len(good)

    def _stored(self, pairs: list[tuple[str, str]]) -> tuple[dict, dict, dict]:
        """The stored relationships of the type that ``pairs`` could clash with: the same
        pairs, and — where the cardinality limits them — relationships of their targets
        (one-to-many, one-to-one) and sources (one-to-one). Each lookup is bounded by the
        batch: a record related to thousands of others reads none of them."""
        REL = db.relationships
        name, card = self.rt["name"], self.card
        found: tuple[dict, dict, dict] = ({}, {}, {})
        wanted = set(pairs)
        if card == "many-to-many":
            values = sorted(wanted)
            for i in range(0, len(values), CHUNK):
                part = values[i:i + CHUNK]
                if self.s.dialect == "postgresql":
                    # Joined to the batch's pairs as a VALUES table, each pair one index probe:
                    # PostgreSQL made a row-value IN list a 500-way OR and filtered every
                    # stored relationship of the type with it.
                    batch = sa_values(column("s", REL.c.source_id.type), column("t", REL.c.target_id.type),
                                      name="batch_pairs").data(part)
                    query = select(REL.c.id, REL.c.source_id, REL.c.target_id).join(
                        batch, and_(REL.c.source_id == batch.c.s, REL.c.target_id == batch.c.t))
                else:  # SQLite probes the unique (type, source_id, target_id) index per pair
                    query = select(REL.c.id, REL.c.source_id, REL.c.target_id).where(
                        tuple_(REL.c.source_id, REL.c.target_id).in_(part))
                for rid, a, b in self.s.conn.execute(query.where(REL.c.type == name)):
                    found[0][(a, b)] = rid
            return found
        # A target has at most one source here: reading the batch's targets' relationships
        # finds the repeated pairs too, one index probe per target.
        lookups = [(2, REL.c.target_id, sorted({b for _, b in pairs}))]
        if card == "one-to-one":
            lookups.append((1, REL.c.source_id, sorted({a for a, _ in pairs})))
        for which, column_, values in lookups:
            for i in range(0, len(values), CHUNK):
                query = select(REL.c.id, REL.c.source_id, REL.c.target_id).where(
                    REL.c.type == name, column_.in_(values[i:i + CHUNK]))
                for rid, a, b in self.s.conn.execute(query):
                    found[which][a if which == 1 else b] = rid
                    if (a, b) in wanted:
                        found[0][(a, b)] = rid
        return found

    def _clash(self, a: str, b: str, names: tuple[str, str], stored) -> tuple[str, str] | None:
        """``(pointer, message)`` when relating ``a`` to ``b`` repeats a pair or breaks the
        cardinality, against the stored relationships and the file's earlier rows."""
        by_pair, by_source, by_target = stored
        name, card = self.rt["name"], self.card
        if (a, b) in self.pairs:
            return "", f"repeats line {self.pairs[(a, b)]}: {names[0]} → {names[1]}"
        if (a, b) in by_pair:
            return "", f"{names[0]} is already related to {names[1]} by {name!r} (relationship {by_pair[(a, b)]})"
        if card != "many-to-many" and (b in self.targets or b in by_target):
            where = f"line {self.targets[b]}" if b in self.targets else "stored"
            return "/target", (f"{names[1]} already has a {name!r} source ({where}); {name} is {card}, so a "
                               f"target has at most one source")
        if card == "one-to-one" and (a in self.sources or a in by_source):
            where = f"line {self.sources[a]}" if a in self.sources else "stored"
            return "/source", (f"{names[0]} already has a {name!r} target ({where}); {name} is one-to-one, so a "
                               f"source has at most one target")
        return None
