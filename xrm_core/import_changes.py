"""The batched path of ``xrm import --update-by``: rows that change the records they name.

Row by row, :func:`xrm_core.records.update` reads and locks the record again, runs the
hooks, validates, and writes one UPDATE and one ``updated`` activity, each in a savepoint:
about 1.2 ms a row on SQLite, 3 ms on PostgreSQL. For a type without record hooks,
:class:`Changes` takes the same steps for a whole batch instead:

1. each row is applied in memory, as a merge patch (RFC 7396), to the record as the lookup
   read it — or as the row before it left it, when several rows of the batch name one
   record — and checked exactly as ``records.update`` checks it, in the same order: what
   cannot be stored, the update grant, "changes nothing", the schema (the compiled
   validator; error detail only for an invalid row), what the indexes cannot hold;
2. the batch's UPDATEs are written in one go, each conditional on the version the row
   was applied to: set-based (``UPDATE … FROM unnest(arrays)`` on PostgreSQL, ``UPDATE …
   FROM (VALUES …)`` of a few hundred rows on SQLite) when each record changes once and no
   change touches a unique field; else one ``executemany`` in the rows' order, so a record
   goes through the versions it goes through row by row, and unique values are taken and
   given up in the same order;
3. the ``updated`` activities follow in the rows' order, with the payload and summary
   ``records.update`` writes (``{"version", "changes"}``, "updated from FILE line N").

The outcome is the row-by-row one: the same stored data, versions (one per changing row),
activities and invalid rows. Whatever the batch cannot settle by itself goes row by row
instead, through the caller's per-row path, after the batch's writes are rolled back: a
unique value already used (the per-row path reports the row's line, the field, the value
and who holds it, as a new row's clash; the rows' order decides which of two rows wanting
one value wins), or a record some other transaction changed after the lookup read it (the
per-row path reads it again, locked).
"""
from __future__ import annotations

import itertools
import sqlite3
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, NamedTuple

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from . import db, history
from .fields import value_at
from .history import changes_payload, diff, merge_patch
from .records import COLUMNS
from .stored_json import maybe_unstorable, storage_errors
from .validation import pointer

if TYPE_CHECKING:
    from .session import Session

#: The records' UPDATE, one row's parameters at a time (executemany, in the rows' order; the
#: parameters are written ``?`` and become ``%s`` for psycopg).
_UPDATE_SQL = ("UPDATE xrm_records SET data = ?, version = ?, updated_at = ?, updated_by = ? "
               "WHERE id = ? AND version = ?")
#: The same for a batch naming each record once, on PostgreSQL: one statement, each column
#: an array parameter (see :func:`xrm_core.db.insert_values`).
_UPDATE_PG = ("UPDATE xrm_records AS r SET data = t.data::jsonb, version = t.version, updated_at = %s, "
              "updated_by = %s FROM unnest(%b::text[], %b::text[], %b::int[], %b::int[]) "
              "AS t(id, data, version, old) WHERE r.id = t.id AND r.version = t.old")
#: The same on SQLite (3.33 and later): a few hundred rows a statement. Both engines start
#: an UPDATE's execution by opening the table's indexes (every entity type's partial indexes),
#: so executemany, one execution per row, took more than twice as long (2,000 rows, 116
#: indexes: 0.31 s against 0.13 s).
_UPDATE_FROM_VALUES = ("UPDATE xrm_records SET data = v.column2, version = v.column3, updated_at = ?, updated_by = ? "
                       "FROM (VALUES {rows}) AS v WHERE xrm_records.id = v.column1 AND xrm_records.version = v.column4")
class _State(NamedTuple):
    """A record as the batch has left it so far: ``row`` as the lookup read it (id, type,
    owner, unit), its ``data`` and ``version`` after the rows applied to it, and whether the
    user may update it. Immutable: the state a write left is kept as it was."""

    row: object
    data: dict
    version: int
    allowed: bool


@dataclass(slots=True)
class _Step:
    """One row of the batch naming one record, and what applying it gives: ``unchanged``,
    ``errors`` (an invalid row), or a change (``text``: the data to store as JSON)."""

    line: int
    row: object
    patch: dict
    errors: list | None = None
    unchanged: bool = False
    text: str | None = None
    version: int = 0
    changes: dict | None = None
    #: the ``changes`` of the row's ``updated`` activity (:func:`~xrm_core.history.changes_payload`)
    payload: list | None = None


class Changes:
    """Applies the rows of an ``--update-by`` import that name a record, a batch at a time.

    :meth:`start` begins a lookup's rows (the records as :func:`xrm_core.keys.find` read
    them); :meth:`add` applies one row in memory; :meth:`write` stores what the rows added
    since the last write changed, reports the invalid ones in ``invalid`` (``{"line",
    "errors"}``) and counts the others. ``one_by_one(steps, versions)`` is the caller's
    per-row path (each step has ``line``, ``row`` — the record as looked up — and ``patch``;
    ``versions`` maps the records already changed or refused to their version, and is
    updated), run when a batch cannot be written as one (see the module docstring); it
    counts and reports those rows itself.
    """

    def __init__(self, s: "Session", et, source: str, invalid: list,
                 one_by_one: Callable[[list, dict], None]):
        self.s, self.et, self.source, self.invalid, self.one_by_one = s, et, source, invalid, one_by_one
        #: records changed (or refused) by a row since :meth:`start`: a later row is applied
        #: to what the row before left (records.update would read it again)
        self.state: dict[str, _State] = {}
        #: the state as the last write left it (what the per-row path starts from)
        self.written: dict[str, _State] = {}
        self.steps: list[_Step] = []
        # Pointers of the unique fields: a change touching one makes the order of the
        # UPDATEs matter (which of two records gets a value first).
        self.unique_pointers = [pointer(f.split(".")) for key in et.unique_keys() for f in key]

    def start(self) -> None:
        """Begin the rows of a new lookup (the records it read are current); call after
        :meth:`write`."""
        assert not self.steps, "rows added and not written"
        self.state, self.written = {}, {}

    def add(self, line: int, row, patch: dict) -> None:
        """Apply the row ``patch`` to the record ``row`` names (as the lookup read it)."""
        step = _Step(line, row, patch)
        self.steps.append(step)
        s, et = self.s, self.et
        st = self.state.get(row.id)
        if st is None:
            allowed = s.allows(row.type, "update", row)
            new = merge_patch(row.data, patch)
            changes = diff(row.data, new)
            if allowed and not changes:  # as import_update_by.Updates._unchanged: nothing read again, no check
                step.unchanged = True
                return
            st = self.state[row.id] = _State(row, row.data, row.version, allowed)
        else:
            new = changes = None
        # From here as records.update checks a patch, in its order.
        errors = storage_errors(patch)
        if errors:
            step.errors = errors
            return
        if not st.allowed:  # the message of records._load
            step.errors = [{"pointer": "", "message": f"{s.actor.name!r} may not update record {row.id!r}"}]
            return
        if new is None:
            new = merge_patch(st.data, patch)
            changes = diff(st.data, new)
        if not changes:
            step.unchanged = True
            return
        text = db.json_bytes(new)
        errors = (storage_errors(new) if maybe_unstorable(text) else None) or \
            (None if et.is_valid(new) else et.errors(new)) or et.key_text_errors(new, "")
        if errors:
            step.errors = errors
            return
        self.state[row.id] = _State(st.row, new, st.version + 1, st.allowed)
        step.text, step.version, step.changes = text.decode(), st.version + 1, changes
        step.payload = changes_payload(changes, st.data, new)

    def write(self) -> tuple[int, int]:
        """Store the changes of the rows added since the last write and report the invalid
        ones; returns how many rows changed their record and how many changed nothing (those
        gone row by row are counted by the per-row path: not here)."""
        steps, self.steps = self.steps, []
        if not steps:
            return 0, 0
        changed = [step for step in steps if step.text is not None]
        now = db.utcnow()
        try:
            with self.s.conn.begin_nested() as savepoint:
                stored = self._store(changed, now)
                if not stored:
                    savepoint.rollback()
        except IntegrityError:
            stored = False
        if not stored:
            self._row_by_row(steps)
            return 0, 0
        self._log(changed, now)
        for step in steps:
            if step.errors:
                self.invalid.append({"line": step.line, "errors": step.errors})
        self.written = dict(self.state)
        return len(changed), sum(step.unchanged for step in steps)

    def _store(self, changed: list[_Step], now: str) -> bool:
        """The UPDATEs of ``changed``; False when a record was not at the version the batch
        applied its row to (changed by another transaction since it was read)."""
        if not changed:
            return True
        conn, by = self.s.conn, self.s.actor.id
        if len({step.row.id for step in changed}) < len(changed) or self._order_matters(changed):
            # One statement per row, in the rows' order (a record named twice is updated twice).
            sql = _UPDATE_SQL if conn.dialect.paramstyle == "qmark" else _UPDATE_SQL.replace("?", "%s")
            done = conn.exec_driver_sql(sql, [(step.text, step.version, now, by, step.row.id, step.version - 1)
                                              for step in changed]).rowcount
        elif conn.dialect.name == "postgresql":
            done = conn.exec_driver_sql(_UPDATE_PG, (
                now, by, [step.row.id for step in changed], [step.text for step in changed],
                [step.version for step in changed], [step.version - 1 for step in changed])).rowcount
        else:
            done = _update_from_values(conn, [(step.row.id, step.text, step.version, step.version - 1)
                                              for step in changed], now, by)
        return done == len(changed)

    def _order_matters(self, changed: list[_Step]) -> bool:
        """Does a change touch a unique field? Then the UPDATEs go in the rows' order: which
        row takes a value first decides which one is refused, as row by row."""
        uniques = self.unique_pointers
        return bool(uniques) and any(p == u or u.startswith(p + "/") or p.startswith(u + "/")
                                     for step in changed for p in step.changes for u in uniques)

    def _log(self, changed: list[_Step], now: str) -> None:
        """The ``updated`` activities of ``changed``, as records.update logs each."""
        history.log_many(self.s, [
            (step.row, "updated", f"updated from {self.source} line {step.line}",
             {"version": step.version, "changes": step.payload})
            for step in changed], at=now)

    def _row_by_row(self, steps: list[_Step]) -> None:
        """The batch could not be written as one: its rows go through the per-row path
        instead, from the records as the last write left them. The records it changed or
        refused are then read again, so later rows apply to what it left."""
        versions = {rid: st.version for rid, st in self.written.items()}
        self.one_by_one(steps, versions)
        self.state = dict(self.written)
        named = {step.row.id for step in steps} & versions.keys()
        for row in _rows(self.s, named):
            self.state[row.id] = _State(row, row.data, row.version, self.s.allows(row.type, "update", row))
        self.written = dict(self.state)


def gives_unique_value(et, data: dict, patch: dict) -> bool:
    """Would the merge ``patch`` give a record holding ``data`` a value of one of ``et``'s
    unique fields that it does not hold already (one another row may want)?"""
    for key in et.unique_keys():
        for f in key:
            new = value_at(patch, f)
            if new is not None and new != value_at(data, f):
                return True
    return False


def _update_from_values(conn, rows: list[tuple], now: str, by: int) -> int:
    """UPDATE the records of ``rows`` (id, data as JSON text, new version, version read) on
    SQLite; returns how many it changed. Each id must appear once."""
    if sqlite3.sqlite_version_info < (3, 33):  # no UPDATE … FROM before 3.33
        return conn.exec_driver_sql(_UPDATE_SQL, [(data, version, now, by, rid, old)
                                                  for rid, data, version, old in rows]).rowcount
    per = (db.MAX_VARIABLES - 2) // 4
    done = 0
    for start in range(0, len(rows), per):
        chunk = rows[start:start + per]
        sql = _UPDATE_FROM_VALUES.format(rows=", ".join(["(?, ?, ?, ?)"] * len(chunk)))
        done += conn.exec_driver_sql(sql, (now, by, *itertools.chain.from_iterable(chunk))).rowcount
    return done


def _rows(s: "Session", ids: set[str]) -> list:
    """The stored rows of ``ids`` (records.COLUMNS)."""
    ids = sorted(ids)
    out = []
    for i in range(0, len(ids), 500):
        out += s.conn.execute(select(*COLUMNS).where(db.records.c.id.in_(ids[i:i + 500]))).all()
    return out
