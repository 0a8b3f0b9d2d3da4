"""The rows of an import with ``--update-by KEY`` (:class:`Updates`): those naming a record
the user can see change it, the others create records.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import PluginError, XrmError
from .fields import value_at
from .history import diff, merge_patch
from .import_changes import Changes, gives_unique_value
from .import_clashes import is_unique_clash, update_clash
from .import_writer import Writer, row_errors
from .keys import find, fits
from .records import update as update_record

if TYPE_CHECKING:
    from .session import Session


class Updates:
    """The rows of an import with ``update_by``: a row whose key value names a record the
    user can see updates it (:func:`xrm_core.records.update`: merge patch, hooks, history
    naming the file and line), the others go to the writer as new records.

    Rows are looked up a batch at a time, after the writer has written what it holds, so a
    row can update a record an earlier row of the same file created. For a type without
    record hooks, the rows changing records are applied and written a batch at a time
    (:class:`xrm_core.import_changes.Changes`), with the outcome of records.update row by
    row: the same data, versions, history and invalid rows. A value naming several
    records is an invalid row; a record the user cannot see is not found (a new record with
    that value is then refused only if the field is ``unique``, as any duplicate is). A user
    without a create grant may update: a row naming no record is then invalid.
    """

    def __init__(self, s: "Session", et, key: str, json_type: str, writer: Writer):
        self.s, self.et, self.key, self.json_type, self.writer = s, et, key, json_type, writer
        self.pending: list[tuple[int, dict]] = []
        #: rows that changed the record they named, and rows that named one and changed nothing
        self.updated = self.unchanged = 0
        #: the batched path of rows changing records; a type with record hooks goes row by row
        #: (each row's hooks see the record as the rows before left it, and may write anything)
        self.changes = None if writer.hooks else Changes(s, et, writer.source, writer.invalid, self._one_by_one)

    def count(self, report: dict, stored: bool, dry_run: bool) -> None:
        """Put the counts in the import's ``report``: ``updated`` and ``unchanged`` as stored
        (0 unless the import is written: a refused import or a dry run changed nothing), and
        for a dry run ``would``, the counts the import would report if it were run for real."""
        counts = {"imported": report["valid"], "updated": self.updated, "unchanged": self.unchanged}
        if not stored:
            counts = dict.fromkeys(counts, 0)
        report.update(updated=0 if dry_run else counts["updated"], unchanged=0 if dry_run else counts["unchanged"])
        if dry_run:
            report["would"] = counts

    def add(self, line: int, data: dict) -> None:
        self.pending.append((line, data))
        if len(self.pending) >= self.writer.batch_size:  # the import's batch size
            self.flush()

    def _value(self, data: dict):
        """The row's key value, or None when it has none that could name a record (absent,
        or not of the key's JSON type: the row then fails the schema as a new record)."""
        value = value_at(data, self.key)
        return value if fits(self.json_type, value) else None

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        self.writer.flush()
        self.writer.before_lookup()
        values = {v for _, data in pending if (v := self._value(data)) is not None}
        found = find(self.s, self.et, self.key, self.json_type, values)
        created: set = set()
        #: the version each record updated in this batch is at now (``found`` has the one read
        #: before): a record named by several rows is compared with what the row before left
        #: (the per-row path, for types with record hooks)
        versions: dict[str, int] = {}
        if self.changes is not None:
            self.changes.start()
        for line, data in pending:
            value = self._value(data)
            if value in created:  # created by an earlier row of this batch: write it, look again
                self._write_changes()  # the rows before it first, as row by row
                self.writer.flush()
                found.update(find(self.s, self.et, self.key, self.json_type, {value}))
                created.discard(value)
            matches = found.get(value, []) if value is not None else []
            if len(matches) == 1 and self.writer.batch and gives_unique_value(self.et, matches[0].data, data):
                # An earlier row's new record, still held, may want the value: write it
                # first, so the rows' order decides who gets it, as row by row.
                self._write_changes()
                self.writer.flush()
            if len(matches) > 1:
                ids = ", ".join(sorted(r.id for r in matches)[:5])
                self.writer.invalid.append({"line": line, "errors": [{
                    "pointer": "/" + self.key.replace(".", "/"),
                    "message": f"{len(matches)} records have {self.key}={value!r} ({ids}): --update-by needs a "
                               f"field that names one record"}]})
            elif matches and self.changes is not None:
                self.changes.add(line, matches[0], data)
            elif matches:
                self._apply(line, matches[0], data, versions)
            elif not self.s.actor.can(self.et.name, "create"):
                self.writer.invalid.append({"line": line, "errors": [{
                    "pointer": "/" + self.key.replace(".", "/"),
                    "message": (f"no {self.et.name} record you may see has {self.key}={value!r}" if value is not None
                                else f"the row names no record by {self.key}") + ", and "
                               f"{self.s.actor.name!r} may not create {self.et.name} records"}]})
            elif not self.writer.hooks and not self.et.is_valid(data):
                self.writer.invalid.append({"line": line, "errors": self.et.errors(data)})
            else:
                # The key as stored, which a before_create hook may have normalised (" c-1 " to
                # "C-1"): a later row naming it updates this record, in this batch or a later one.
                self.writer.keep = []
                self.writer.add(line, data)
                for rec in self.writer.keep:  # the row's record, unless it was refused
                    if (stored := self._value(rec.data)) is not None:
                        created.add(stored)
                self.writer.keep = None
        self._write_changes()

    def _write_changes(self) -> None:
        """Write the changes the batched path holds (before anything else is written)."""
        if self.changes is not None:
            updated, unchanged = self.changes.write()
            self.updated += updated
            self.unchanged += unchanged

    def _apply(self, line: int, row, data: dict, versions: dict[str, int]) -> None:
        """The per-row path of one row naming the record ``row`` (as looked up); ``versions``
        holds the records changed or refused by earlier rows, at the version they are now."""
        if row.id not in versions and self._unchanged(row, data):
            self.unchanged += 1
        else:
            versions[row.id] = self._update(line, row.id, versions.get(row.id, row.version), data)

    def _one_by_one(self, steps, versions: dict[str, int]) -> None:
        """The per-row path of rows the batched path could not write as one batch."""
        for step in steps:
            self._apply(step.line, step.row, step.patch, versions)

    def _unchanged(self, row, data: dict) -> bool:
        """Would the row change nothing in ``row`` (a record as :func:`keys.find` read it)?
        Then :func:`records.update` writes nothing and runs no hook: the row is counted
        without it (a file imported again is mostly such rows: ~10 times faster). The grant
        is checked all the same: a user who may not update the record is refused by update."""
        return self.s.allows(row.type, "update", row) and not diff(row.data, merge_patch(row.data, data))

    def _update(self, line: int, record_id: str, version: int, data: dict) -> int:
        """Update the record at ``version`` with the row; returns the version it is at then."""
        source = self.writer.source
        try:
            # records.update writes in a savepoint of its own (hooks, UPDATE, history), and
            # nothing before it: a refused row leaves nothing behind without another one here.
            rec = update_record(self.s, record_id, data, summary=f"updated from {source} line {line}")
        except PluginError as e:
            raise PluginError(e.plugin, f"{e.hook} on line {line} of {source}", e.__cause__) from e.__cause__
        except XrmError as e:
            # A unique value another record holds: worded as a new row's clash (the value, who
            # holds it); else as Session.update says it (a value a hook set names the plugin).
            clash = update_clash(self.writer, record_id, data, self.s.hook_edits.get(record_id)) \
                if is_unique_clash(e) else None
            self.writer.invalid.append({"line": line, "errors": clash or row_errors(self.s.explained(e, record_id))})
            return version
        finally:
            self.s.hook_edits.pop(record_id, None)
        if rec.version == version:
            self.unchanged += 1
        else:
            self.updated += 1
        return rec.version
