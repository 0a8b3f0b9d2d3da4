"""The writing side of an import of new records: valid rows collected into batches, each
batch written with one statement for its records and one for their ``created`` history
(on PostgreSQL, ``unnest`` of array parameters), the record hooks run around it, and the
rows whose ``unique`` values are used already found and reported (the clash retry).

:class:`Writer` is what :func:`xrm_core.importer.import_file` and
:func:`~xrm_core.importer.create_many` hand their valid rows to, and what the rows of
``--update-by`` that create records go to (:mod:`xrm_core.import_update_by`).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from . import db
from .errors import PluginError, XrmError
from .entity_types import KEY_TEXT_LIMIT
from .fields import value_at
from .import_clashes import clash_errors, holders
from .record_events import HookEdits, mark, plugins_text
from .records import Record, find_by_values, new_id
from .stored_json import maybe_unstorable, storage_errors

if TYPE_CHECKING:
    from .session import Session


def row_errors(e: XrmError) -> list[dict]:
    """A refusal raised for one record as import errors: pointers relative to the row."""
    out = [{"pointer": err.get("pointer", "").removeprefix("/data"), "message": err.get("message", e.message)}
           for err in e.errors]
    return out or [{"pointer": "", "message": e.message}]


class Writer:
    """Collects valid rows, runs the record hooks and writes batches (records, then history).

    Invalid rows found here (refused by a hook, a unique value already used) are appended
    to ``invalid``; :meth:`finish` returns how many rows were written.

    A batch goes through the steps of :meth:`Session.create`, one step for all its rows:
    ``before_create`` hooks, records stored, ``after_create`` hooks, history (written last
    here, but timelines sort by time, so ``created`` still comes first: see
    :meth:`Session.history`).
    """

    def __init__(self, s: "Session", et, unit_id: int, source: str, skip_invalid: bool, invalid: list,
                 batch_size: int):
        self.s, self.et, self.unit_id, self.source, self.invalid = s, et, unit_id, source, invalid
        #: rows a batch: :data:`xrm_core.importer.BATCH` as the import starts. The caller flushes
        #: at it; the statistics (:meth:`before_lookup`) and ``--update-by``'s lookups use it too.
        self.batch_size = batch_size
        self.conn = s.conn
        self.written = 0
        #: (line, record, its data as JSON text or None): the text is what gets stored
        self.batch: list[tuple[int, Record, str | None]] = []
        self.hooks = bool(s.platform.record_event_impls(et.name))  # those called for this type
        # With --skip-invalid a refused row must leave nothing behind, so with hooks each row
        # is written on its own, in its own savepoint (slower, but exact). Otherwise any
        # refusal rolls the whole import back anyway, and rows are written in batches.
        if skip_invalid and self.hooks:
            self.add = self._isolated_add  # chosen once: no per-row test on the plain path
        self.actor = s.actor
        self.unit_name = s.unit_names()[unit_id]
        self.started = self.now = db.utcnow()
        #: when a list, every record added is kept here (bulk creation returns them)
        self.keep: list | None = None
        #: made by the first lookup of stored records (see :meth:`before_lookup`)
        self.statistics: db.GrowthStatistics | None = None
        self.counted = 0  # rows written when the statistics were last told

    def before_lookup(self) -> None:
        """Before reading ``xrm_records`` by key values (``--update-by``, unique values already
        used): keep PostgreSQL's statistics of what this import has written current. Planned
        from none — autovacuum sees no uncommitted row, and a table filled by one big import
        may never have been analyzed — each batch's lookup scanned every record of the type:
        quadratic (--update-by rows creating records: 10k in 2.5 s, 40k in 38 s; now 1.4 s and 5 s)."""
        if self.statistics is None:  # an import that never looks anything up never analyzes
            self.statistics = db.GrowthStatistics(self.conn, "xrm_records", first=self.batch_size,
                                                  reads=("xrm_records", "xrm_activities"))
        self.statistics.wrote(self.written - self.counted)
        self.counted = self.written

    def _isolated_add(self, line: int, data: dict) -> None:
        """:meth:`add` with --skip-invalid and hooks: the row is written at once, and its
        ``before_create`` hooks, the checks of what they left (valid, storable, a known
        unit), its insert (a unique value already used), its ``after_create`` hooks and its
        history share one savepoint. A row refused at any step leaves nothing behind — not
        even what its hooks wrote elsewhere (another record, a log entry)."""
        with self.conn.begin_nested() as sp:
            Writer.add(self, line, data)
            if not self.batch:
                sp.rollback()
                return
            row = self.batch.pop()
            if not self._one_by_one([row]) or not self._fire(line, "after_create", row[1]):
                sp.rollback()
                if self.keep:
                    self.keep.remove(row[1])
                return
            self._insert_history([row])
            self.written += 1

    def add(self, line: int, data: dict) -> None:
        # One serialisation finds what cannot be stored (as storage_errors would), tells
        # whether the hooks changed the data, and is what gets stored when they did not.
        text = _plain_json(data)
        if maybe_unstorable(text) and self._unstorable(line, data):
            return
        a = self.actor
        rec = Record(new_id(), self.et.name, data, 1, a.name, self.unit_name, self.now, self.now,
                     a.name, a.name, a.id, self.unit_id)
        if self.hooks:
            valid = self.et.is_valid(data)
            initial = None if valid else self.et.errors(data)
            try:
                if not self._fire(line, "before_create", rec):
                    return
            except PluginError:
                if not initial:
                    raise
                # The row was invalid before a hook tripped over it: report the row.
                self.invalid.append({"line": line, "errors": initial})
                return
            # What the hooks changed, by plugin: the checks below name who set what they refuse.
            edits = self.s.hook_edits.pop(rec.id, None)
            before, text = text, _plain_json(rec.data)
            # Validated again unless the data is, as JSON, exactly the valid data the hooks
            # were given: what is stored is then what was validated.
            if not (valid and text is not None and text == before) and not self.et.is_valid(rec.data):
                self._refuse(line, self.et.errors(rec.data), edits)
                return
            if text != before and maybe_unstorable(text) and self._unstorable(line, rec.data, edits):
                return  # a hook put a NUL character in, or nested the data too deep
            if rec.unit != self.unit_name:  # a hook routed the record to another unit
                try:
                    rec.unit_id = self.s.unit_id(rec.unit)
                except XrmError:
                    who = plugins_text(edits.unit, "before_create") if edits and edits.unit else "a plugin's hook"
                    self.invalid.append({"line": line, "errors": [
                        {"pointer": "", "message": f"routed to unknown unit {rec.unit!r} by {who}"}]})
                    return
        else:
            edits = None
        # No string in a row shorter than the limit can be longer than it (orjson writes text
        # as UTF-8, escapes only make it longer), and integers beyond signed 64 bits were
        # refused above (maybe_unstorable): most rows skip the walk of their key fields.
        too_long = self.et.key_text_errors(rec.data, "") if text is None or len(text) > KEY_TEXT_LIMIT else None
        if too_long:
            self._refuse(line, too_long, edits)
            return
        # Kept as str: holding orjson's bytes objects until the flush costs more than decoding.
        self.batch.append((line, rec, None if text is None else text.decode()))
        if self.keep is not None:
            self.keep.append(rec)

    def _unstorable(self, line: int, data: dict, edits: HookEdits | None = None) -> bool:
        """Report the row if ``data`` holds NUL characters or nests too deep (see
        :func:`xrm_core.stored_json.storage_errors`)."""
        errors = storage_errors(data)
        if errors:
            self._refuse(line, errors, edits)
        return bool(errors)

    def _refuse(self, line: int, errors: list[dict], edits: HookEdits | None) -> None:
        """Report row ``line`` invalid, found so after its ``before_create`` hooks ran when
        ``edits`` holds what they changed: an error on a value a hook set names the plugin."""
        mark(errors, edits)
        self.invalid.append({"line": line, "errors": errors})

    def where(self, line: int) -> str:
        """Where row ``line`` is, in messages: a file's line, or for ``create_many`` (no
        file; ``line`` is the row's index) the row, as its errors point at ``/rows/N``."""
        return f"on line {line} of {self.source}" if self.source else f"on row {line}"

    def _fire(self, line: int, event: str, rec: Record) -> bool:
        """Run the hooks of ``event`` for one row; False when they refused it (reported)."""
        try:
            self.s.fire(event, rec, {})  # with --skip-invalid, inside the row's savepoint
        except PluginError as e:
            raise PluginError(e.plugin, f"{e.hook} {self.where(line)}", e.__cause__) from e.__cause__
        except XrmError as e:
            self.invalid.append({"line": line, "errors": row_errors(e)})
            return False
        return True

    def flush(self) -> None:
        """Write the batch collected so far: records, ``after_create`` hooks, history."""
        batch, self.batch = self.batch, []
        self.now = db.utcnow()
        if not batch:
            return
        try:
            with self.conn.begin_nested():
                self._insert_records(batch)
        except IntegrityError:
            # A unique value is used already. Rows clashing with stored records are found
            # with one query per unique key, rows clashing within the batch in Python (a file
            # imported twice clashes on every row: row by row, that was ~20 times the
            # import's time); the rest are written in one go again, and only a clash still
            # left goes row by row.
            batch = self._without_clashes(batch)
            try:
                with self.conn.begin_nested():
                    self._insert_records(batch)
            except IntegrityError:
                batch = self._one_by_one(batch)
        if self.hooks:
            batch = [row for row in batch if self._after_create(row[0], row[1])]
        # The history copies the data as stored (as Session.create does), whatever the
        # after_create hooks did to record.data; Session.history orders by time, so what
        # they logged still follows the `created` activities written after it.
        self._insert_history(batch)
        self.written += len(batch)

    def finish(self) -> int:
        """Write what is still held; returns how many rows were written in all."""
        self.flush()
        return self.written

    def _insert_records(self, batch) -> None:
        conn = self.conn
        # Tuples straight to the driver, the data as the JSON text made in add().
        _insert_values(conn, _RECORDS_SQL, [
            (rec.id, rec.type, db.json_bytes(rec.data).decode() if text is None else text, rec.owner_id, rec.unit_id,
             rec.owner_id, rec.owner_id, rec.created_at, rec.updated_at)
            for _, rec, text in batch])

    def _insert_history(self, batch) -> None:
        """The ``created`` activities: ``{"data": …, "import": {"file", "line"}}`` (just
        ``{"data": …}`` without a file), as orjson writes those dicts."""
        conn, actor, source = self.conn, self.actor.name, self.source
        # The payload's JSON text put together around the data's, byte for byte what
        # orjson.dumps of the payload dict gives (compact, keys in this order).
        dumps = orjson.dumps
        if source:
            file = dumps(source).decode()
            rows = [(rec.id, rec.type, rec.unit_id, rec.owner_id, rec.created_at, actor,
                     f"imported from {source} line {line}",
                     f'{{"data":{db.json_bytes(rec.data).decode() if text is None else text},'
                     f'"import":{{"file":{file},"line":{line}}}}}')
                    for line, rec, text in batch]
        else:
            rows = [(rec.id, rec.type, rec.unit_id, rec.owner_id, rec.created_at, actor, f"created {rec.type}",
                     f'{{"data":{db.json_bytes(rec.data).decode() if text is None else text}}}')
                    for line, rec, text in batch]
        _insert_values(conn, _ACTIVITIES_SQL, rows)

    def _after_create(self, line: int, rec: Record) -> bool:
        if self._fire(line, "after_create", rec):
            return True
        self.s.conn.execute(db.records.delete().where(db.records.c.id == rec.id))
        return False

    def _one_by_one(self, batch):
        """A unique value clashed somewhere in the batch: insert row by row, report the clashes."""
        ok, lines = [], {}
        conn = self.s.conn
        for line, rec, text in batch:
            try:
                with conn.begin_nested():
                    conn.execute(insert(db.records), [_row(rec)])
            except IntegrityError as e:
                self.invalid.append({"line": line, "errors": self._conflict(rec, e, lines)})
                continue
            ok.append((line, rec, text))
            lines[rec.id] = line
        return ok

    def _without_clashes(self, batch):
        """``batch`` without the rows whose unique values are used already — by stored
        records (one query per unique key for the whole batch) or by an earlier row of the
        batch — which are reported as :meth:`_conflict` would.

        Rows of the batch are compared in Python: values the database holds equal may be
        missed (the caller then goes row by row), but values equal here are equal there —
        a unique field has one JSON type, and strings are equal only when identical.
        """
        self.before_lookup()
        keys = self.et.unique_keys()
        row_values = [[tuple(value_at(rec.data, f) for f in key) for key in keys] for _, rec, _ in batch]
        stored: dict[int, tuple] = {}  # position in batch -> (key, values, id of the record using them)
        for k, key in enumerate(keys):
            # Values equal as JSON numbers (1 and 1.0) share a slot; each row keeps its own.
            wanted: dict[tuple, list[tuple[int, tuple]]] = {}
            for i, values in enumerate(row_values):
                if i not in stored and not any(v is None for v in values[k]):
                    wanted.setdefault(values[k], []).append((i, values[k]))
            if wanted:
                for found, other in find_by_values(self.s, self.et, key, list(wanted)).items():
                    for i, values in wanted.get(found, ()):
                        stored[i] = (key, values, other)
        used_by = holders(self, {other for _, _, other in stored.values()}, {})
        clashes = {i: (key, values, used_by[other]) for i, (key, values, other) in stored.items()}
        seen: list[dict[tuple, int]] = [{} for _ in keys]  # values -> line of the batch's row using them
        for i, values in enumerate(row_values):
            if i in clashes:
                continue
            for k, key in enumerate(keys):
                if values[k] in seen[k] and not any(v is None for v in values[k]):
                    clashes[i] = (key, values[k], f"line {seen[k][values[k]]} of this file")
                    break
            else:  # the row will be written: later rows of the batch clash with it
                for k in range(len(keys)):
                    seen[k].setdefault(values[k], batch[i][0])
        for i in sorted(clashes):
            key, values, where = clashes[i]
            self.invalid.append({"line": batch[i][0], "errors": clash_errors(key, values, where)})
        return [row for i, row in enumerate(batch) if i not in clashes]

    def _conflict(self, rec: Record, exc: IntegrityError, lines: dict[str, int]) -> list[dict]:
        """Errors for a row whose insert broke a unique index: which field, used by what."""
        self.before_lookup()
        for key in self.et.unique_keys():
            values = [value_at(rec.data, f) for f in key]
            if any(v is None for v in values):
                continue
            other = next(iter(find_by_values(self.s, self.et, key, [tuple(values)]).values()), None)
            if other is None:
                continue
            return clash_errors(key, values, holders(self, {other}, lines)[other])
        return [{"pointer": "", "message": f"conflicts with stored data: {str(exc.orig).splitlines()[0]}"}]


_RECORDS_SQL = ("INSERT INTO xrm_records (id, type, data, version, owner_id, unit_id, created_by, updated_by, "
                "created_at, updated_at) VALUES (?, ?, ?, 1, ?, ?, ?, ?, ?, ?)")
_ACTIVITIES_SQL = ("INSERT INTO xrm_activities (record_id, record_type, unit_id, owner_id, kind, at, actor, summary, "
                   "payload) VALUES (?, ?, ?, ?, 'created', ?, ?, ?, ?)")
#: The same on PostgreSQL: one statement per batch, each column one array parameter. A short
#: query with few parameters is one psycopg parses once (it caches up to 4 KiB and 50
#: parameters); multi-row VALUES were parsed again on every execution. ORDER BY the
#: ordinality keeps the activities' ids in the batch's order.
_RECORDS_PG = ("INSERT INTO xrm_records (id, type, data, version, owner_id, unit_id, created_by, updated_by, "
               "created_at, updated_at) SELECT id, type, data::jsonb, 1, owner_id, unit_id, created_by, updated_by, "
               "created_at, updated_at FROM unnest(%b::text[], %b::text[], %b::text[], %b::int[], %b::int[], "
               "%b::int[], %b::int[], %b::text[], %b::text[]) WITH ORDINALITY AS t(id, type, data, owner_id, unit_id, "
               "created_by, updated_by, created_at, updated_at, n) ORDER BY n")
_ACTIVITIES_PG = ("INSERT INTO xrm_activities (record_id, record_type, unit_id, owner_id, kind, at, actor, summary, "
                  "payload) SELECT record_id, record_type, unit_id, owner_id, 'created', at, actor, summary, "
                  "payload::jsonb FROM unnest(%b::text[], %b::text[], %b::int[], %b::int[], %b::text[], %b::text[], "
                  "%b::text[], %b::text[]) WITH ORDINALITY AS t(record_id, record_type, unit_id, owner_id, at, actor, "
                  "summary, payload, n) ORDER BY n")
_ARRAY_SQL = {_RECORDS_SQL: _RECORDS_PG, _ACTIVITIES_SQL: _ACTIVITIES_PG}

#: orjson options under which only plain JSON values serialise: datetimes, dataclasses and
#: subclasses of str, int, dict or list raise instead of being converted.
_PLAIN = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


def _plain_json(data) -> bytes | None:
    """``data`` as orjson's JSON bytes, or None when it holds values that are not plain JSON
    (which orjson would convert to text that the schema never saw as such)."""
    try:
        return db.json_bytes(data, option=_PLAIN)
    except TypeError:
        return None


def _insert_values(conn, sql: str, rows: list[tuple]) -> None:
    """:func:`db.insert_values` of the importer's statements; on PostgreSQL, their
    ``unnest(arrays)`` forms."""
    db.insert_values(conn, sql, rows, _ARRAY_SQL.get(sql))


def _row(rec: Record) -> dict:
    return {"id": rec.id, "type": rec.type, "data": rec.data, "version": 1, "owner_id": rec.owner_id,
            "unit_id": rec.unit_id, "created_by": rec.owner_id, "updated_by": rec.owner_id,
            "created_at": rec.created_at, "updated_at": rec.updated_at}
