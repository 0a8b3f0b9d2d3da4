"""Import of records from CSV or JSONL files, streamed.

The file is read row by row (:mod:`xrm_core.import_files`; memory stays flat whatever its
size: only the report of invalid rows grows). Each row is parsed (CSV cells converted to the
schema's types, see :mod:`xrm_core.csvcells`), validated with the compiled validator, passed through the
``before_create`` hooks and collected into batches; a batch is written with one
``executemany`` for the records and one for their ``created`` history — never an ORM session
per row. The activity of an imported record names the file and line it came from.

Outcome rules (the CLI's contract, DESIGN §5):

- The report is ``{"total", "valid", "imported", "invalid": [{"line", "errors": [{"pointer",
  "message"}]}]}``. ``line`` is the file's own line number (a CSV header is line 1; a row
  whose quoted cells span several lines is reported at the line where it starts). Blank
  lines, lines of only spaces or tabs, and CSV rows whose cells are all empty, are skipped
  and not counted.
- A row is invalid when it is not a JSON object, or is records as other tools give them (a
  whole record ``{"id", "type", "data", "version", …}``, a page of the REST API's list)
  rather than a record's data (JSONL); a cell cannot be converted, the row has another
  number of cells than the header, or it looks like the start of a second file joined to
  the first — it repeats the header line, or starts with a byte-order mark (CSV); it fails
  the schema; a ``before_create`` or ``after_create`` hook refuses it (raises
  ``ValidationError`` or another non-plugin-crash :class:`XrmError`); or a ``unique`` field
  repeats a value of an existing record or of an earlier row of the same file.
- With ``update_by`` the report adds ``updated`` and ``unchanged`` (rows that changed the
  record they named, and rows that named one and changed nothing); a dry run adds ``would``,
  ``{"imported", "updated", "unchanged"}`` as the same import would report them if run for
  real. ``imported``, ``updated`` and ``unchanged`` count what was stored: all 0 in a dry
  run and in a refused import.
- All-or-nothing by default: if any row is invalid nothing is imported (ValidationError
  carrying the report as ``extra["report"]``). Every row is still processed, so the report
  lists every invalid row — the same rows ``skip_invalid`` would skip.
- ``skip_invalid`` imports the valid rows. A skipped row leaves nothing behind, not even
  what its hooks wrote: when the type has record hooks, each row is written on its own in a
  savepoint (slower than batches). ``dry_run`` does everything (hooks included) and rolls it
  back.
- Whole-file problems refuse the import even with ``skip_invalid``: a CSV header that is
  blank or names unknown or repeated columns (reported on line 1), malformed CSV quoting,
  text that is not UTF-8 (UTF-16 is named as such, a ZIP workbook or a binary file too), a
  JSON document spread over many lines, a line longer than ``MAX_LINE``. Such a refusal
  comes partway through the file: its report's ``valid`` counts the rows before it found
  valid by then, and its message says how many (rows ``update_by`` still held to look up
  are not checked yet, and not counted: see :func:`_found_before`). A hook that crashes
  (:class:`PluginError`) aborts the import, naming the line.

Both formats accept UTF-8 with or without a byte-order mark; JSONL also ignores one at the
start of a later line (files joined with ``cat``).
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from . import db
from .errors import PluginError, ValidationError, XrmError
from .entity_types import KEY_TEXT_LIMIT
from .fields import value_at
from .history import diff, merge_patch
from .import_changes import Changes, gives_unique_value
from .import_clashes import clash_errors, holders, is_unique_clash, update_clash
from .import_files import FORMATS, FileRefused, csv_rows, detect_format, jsonl_rows
from .keys import find, fits, key_type
from .record_events import HookEdits, mark, plugins_text
from .records import Record, find_by_values, maybe_unstorable, new_id, storage_errors
from .records import update as update_record

if TYPE_CHECKING:
    from .session import Session

BATCH = 2000
PROGRESS_BYTES = 1_000_000


class Rollback(Exception):
    """Rolls back the import's savepoint (dry run, or refused)."""


class Progress:
    """A bytes-read progress bar on stderr, for files over PROGRESS_BYTES."""

    def __init__(self, f, enabled: bool):
        self.f, self.bar, self.last = f, None, 0
        try:
            size = os.fstat(f.fileno()).st_size if enabled else 0  # 0 for a pipe
        except (OSError, ValueError, io.UnsupportedOperation):  # standard input that is no file
            size = 0
        if enabled and size > PROGRESS_BYTES:
            import click
            self.bar = click.progressbar(length=size, label="importing", file=sys.stderr, show_eta=True)

    def __enter__(self):
        if self.bar is not None:
            self.bar.__enter__()
        return self

    def tick(self):
        if self.bar is not None:
            pos = self.f.tell()
            self.bar.update(pos - self.last)
            self.last = pos

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


# -- importing --------------------------------------------------------------------------
def import_file(s: "Session", type_name: str, path: str, fmt: str | None = None, skip_invalid: bool = False,
                dry_run: bool = False, progress: bool = False, update_by: str | None = None) -> dict:
    """Import records of ``type_name`` from the CSV or JSONL file ``path`` as the session's user.

    Records are owned by the user and placed in their unit (PermissionDenied without a
    create grant). Returns the report (see the module docstring). Raises ValidationError
    with the report as ``extra["report"]`` when the import is refused; the session's
    database state is then exactly as before. ``progress`` shows a bar on stderr for long
    files. ``path`` ``-`` reads standard input (``iconv … | xrm import TYPE - --format csv``;
    its activities name the file ``stdin``), which stays open.

    With ``update_by`` (a field of the type holding one string, number or boolean), a row
    whose value of that field names a record the user can see updates it — the row is a
    merge patch of its data, so a CSV's empty cells keep what is stored — and the other
    rows create records. The report then also counts the rows that changed the record they
    named (``updated``) and those that changed nothing (``unchanged``); ``valid`` and
    ``imported`` count them too (see :class:`_Updates`). Like ``imported``, they count only
    what was stored: 0 in a dry run or a refused import. A dry run adds ``would``: the
    ``imported``, ``updated`` and ``unchanged`` the same import would report if it were
    run for real (all 0 when it would be refused).
    """
    et = s.entity_type_for_write(type_name)
    fmt = detect_format(path, fmt)
    unit_id = s.choose_unit(et.name, None)
    if update_by is not None:
        key_json_type = key_type(et, update_by, "--update-by")  # before the file is opened
    opened, f, source = open_input(path)
    report: dict = {"total": 0, "valid": 0, "imported": 0, "invalid": []}
    invalid = report["invalid"]
    writer = _Writer(s, et, unit_id, source, skip_invalid, invalid)
    updates = _Updates(s, et, update_by, key_json_type, writer) if update_by is not None else None
    refused = None
    with opened, Progress(f, progress) as bar:
        rows = csv_rows(f, et, source) if fmt == "csv" else jsonl_rows(f, source, et)
        try:
            # A savepoint: a dry run or a refused import rolls back exactly what it wrote.
            with s.conn.begin_nested():
                for line, data, errors in rows:
                    report["total"] += 1
                    if errors:
                        if data is not None:  # CSV cells that failed: the row's other errors too
                            errors += [e for e in et.errors(data) if not _covered(e["pointer"], errors)]
                            errors.sort(key=lambda e: e["pointer"])
                        invalid.append({"line": line, "errors": errors})
                    elif updates is not None:  # validated as a new record or as the patched one
                        updates.add(line, data)
                    elif not writer.hooks and not et.is_valid(data):
                        invalid.append({"line": line, "errors": et.errors(data)})
                    else:  # with hooks, validated after them (they may normalise the row)
                        writer.add(line, data)
                    if len(writer.batch) >= BATCH:
                        writer.flush()
                    if not report["total"] % BATCH:  # by rows read: a file of invalid rows moves it too
                        bar.tick()
                if updates is not None:
                    updates.flush()
                report["valid"] = writer.finish() + (updates.updated + updates.unchanged if updates else 0)
                if dry_run or (invalid and not skip_invalid):
                    raise Rollback
        except Rollback:
            pass
        except FileRefused as e:
            refused = e.message + _found_before(report, e.line, writer, updates)
            invalid.append({"line": e.line, "errors": e.errors})
    if updates is not None:
        updates.count(report, stored=refused is None and not (invalid and not skip_invalid), dry_run=dry_run)
    return finish_report(report, refused, skip_invalid, dry_run, "import", "imported")


def _found_before(report: dict, line: int, writer: "_Writer", updates: "_Updates | None") -> str:
    """Set ``report["valid"]`` for an import refused as a whole at ``line`` (a quote left
    open, a second header): the rows before it found valid by then, which the refusal's
    message also says.

    Found valid are the rows written (then rolled back) and those held for the next batch
    write, which passed the schema (with record hooks, their ``before_create`` hooks and the
    schema after them) but not yet the unique check or the ``after_create`` hooks; and with
    ``--update-by``, the rows that updated a record or changed nothing. Rows ``--update-by``
    still held to look up the records they name were not checked yet — whether a row
    creates or patches decides what is valid — and are not counted: the message names them.
    """
    unchecked = len(updates.pending) if updates is not None else 0
    report["valid"] = writer.written + len(writer.batch) + (updates.updated + updates.unchanged if updates else 0)
    if not report["total"]:
        return ""
    found = (f"; of the {report['total']} rows before line {line}, {report['valid']} were valid and "
             f"{len(report['invalid'])} invalid")
    return found + (f" ({unchecked} not checked yet)" if unchecked else "")


def open_input(path: str) -> tuple:
    """``(context, file, name)`` of an import's FILE, opened for reading bytes: ``-`` is
    standard input (left open by the context), named ``stdin``; a file is named by its base
    name (in messages and history). A file that cannot be read is a ValidationError."""
    if path == "-":
        return contextlib.nullcontext(sys.stdin.buffer), sys.stdin.buffer, "stdin"
    try:
        f = open(path, "rb")
    except OSError as e:
        raise ValidationError(f"cannot read {path}: {e.strerror}") from None
    return f, f, os.path.basename(path)


def finish_report(report: dict, refused: str | None, skip_invalid: bool, dry_run: bool, verb: str,
                  done: str) -> dict:
    """Sort an import's invalid rows by line and settle it: raise the refusal (a whole-file
    problem ``refused``, or invalid rows without ``skip_invalid``) as a ValidationError with
    the report as ``extra["report"]``, else set ``imported`` and return the report.
    ``verb`` (import) and ``done`` (imported) word the messages."""
    invalid = report["invalid"]
    invalid.sort(key=lambda r: r["line"])
    if refused is None and invalid and not skip_invalid:
        refused = (f"{len(invalid)} of {report['total']} rows are invalid; use --skip-invalid to {verb} the "
                   f"valid rows")
    if refused is not None:
        prefix = "dry run: the import would be refused" if dry_run else "import refused"
        raise ValidationError(f"{prefix}: {refused} (nothing {done})",
                              [{"line": r["line"], **e} for r in invalid for e in r["errors"]], report=report)
    report["imported"] = 0 if dry_run else report["valid"]
    return report


class _Updates:
    """The rows of an import with ``update_by``: a row whose key value names a record the
    user can see updates it (:func:`xrm_core.records.update`: merge patch, hooks, history
    naming the file and line), the others go to the writer as new records.

    Rows are looked up a batch at a time, after the writer has written what it holds, so a
    row can update a record an earlier row of the same file created. For a type without
    record hooks, the rows changing records are applied and written a batch at a time
    (:class:`xrm_core.import_changes.Changes`), with the outcome of records.update row by
    row: the same data, versions, history and invalid rows. A value naming several
    records is an invalid row; a record the user cannot see is not found (a new record with
    that value is then refused only if the field is ``unique``, as any duplicate is).
    """

    def __init__(self, s: "Session", et, key: str, json_type: str, writer: "_Writer"):
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
        if len(self.pending) >= BATCH:
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
            self.writer.invalid.append({"line": line, "errors": clash or _row_errors(self.s.explained(e, record_id))})
            return version
        finally:
            self.s.hook_edits.pop(record_id, None)
        if rec.version == version:
            self.unchanged += 1
        else:
            self.updated += 1
        return rec.version


def create_many(s: "Session", type_name: str, rows, unit: str | None = None) -> list[Record]:
    """Create many records of one type at once, all or nothing — the bulk path of imports.

    Each row is validated and goes through the record hooks like :meth:`Session.create`,
    but records and their history are written in batches. Raises ValidationError naming
    every invalid row by its index (``/rows/3/email``) and writes nothing then.
    """
    et = s.entity_type_for_write(type_name)
    unit_id = s.choose_unit(et.name, unit)
    invalid: list = []
    writer = _Writer(s, et, unit_id, "", False, invalid)
    writer.keep = []
    with s.conn.begin_nested() as sp:
        for i, data in enumerate(rows):
            if not isinstance(data, dict):
                invalid.append({"line": i, "errors": [{"pointer": "", "message": "not an object"}]})
            elif (invalid or not writer.hooks) and not et.is_valid(data):
                invalid.append({"line": i, "errors": et.errors(data)})
            elif not invalid:  # with hooks, validated after them (they may normalise the row)
                writer.add(i, data)
            if len(writer.batch) >= BATCH and not invalid:
                writer.flush()
        if not invalid:
            writer.finish()
        if invalid:
            sp.rollback()
            shown = f"1 {et.name} row is" if len(invalid) == 1 else f"{len(invalid)} {et.name} rows are"
            raise ValidationError(f"{shown} invalid (nothing created)",
                                  [{"pointer": f"/rows/{r['line']}{e['pointer']}", "message": e["message"]}
                                   for r in invalid for e in r["errors"]])
    return writer.keep


def _covered(ptr: str, errors: list[dict]) -> bool:
    """Is ``ptr`` at or below the pointer of one of ``errors``?"""
    return any(ptr == e["pointer"] or ptr.startswith(e["pointer"] + "/") for e in errors if e["pointer"])


def _row_errors(e: XrmError) -> list[dict]:
    """A refusal raised for one record as import errors: pointers relative to the row."""
    out = [{"pointer": err.get("pointer", "").removeprefix("/data"), "message": err.get("message", e.message)}
           for err in e.errors]
    return out or [{"pointer": "", "message": e.message}]


class _Writer:
    """Collects valid rows, runs the record hooks and writes batches (records, then history).

    Invalid rows found here (refused by a hook, a unique value already used) are appended
    to ``invalid``; :meth:`finish` returns how many rows were written.

    A batch goes through the steps of :meth:`Session.create`, one step for all its rows:
    ``before_create`` hooks, records stored, ``after_create`` hooks, history (written last
    here, but timelines sort by time, so ``created`` still comes first: see
    :meth:`Session.history`).
    """

    def __init__(self, s: "Session", et, unit_id: int, source: str, skip_invalid: bool, invalid: list):
        self.s, self.et, self.unit_id, self.source, self.invalid = s, et, unit_id, source, invalid
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
            self.statistics = db.GrowthStatistics(self.conn, "xrm_records", first=BATCH,
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
            _Writer.add(self, line, data)
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
        :func:`xrm_core.records.storage_errors`)."""
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
            self.invalid.append({"line": line, "errors": _row_errors(e)})
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


from .exporter import export  # noqa: E402 — kept importable from here for existing callers

__all__ = ["import_file", "create_many", "export", "detect_format", "FORMATS", "BATCH"]
