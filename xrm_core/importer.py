"""Import of records from CSV or JSONL files, streamed.

The file is read row by row (:mod:`xrm_core.import_files`; memory stays flat whatever its
size: only the report of invalid rows grows). Each row is parsed (CSV cells converted to the
schema's types, see :mod:`xrm_core.csvcells`), validated with the compiled validator, passed through the
``before_create`` hooks and collected into batches; a batch is written with one
``executemany`` for the records and one for their ``created`` history — never an ORM session
per row. The activity of an imported record names the file and line it came from.

This module holds the entry points, which read as the path of one import; the steps live
in :mod:`xrm_core.import_files` (reading rows), :mod:`xrm_core.import_writer` (writing new
records in batches), :mod:`xrm_core.import_update_by` (the rows of ``update_by``) and
:mod:`xrm_core.import_run` (the file, the progress bar and the report, shared with
:mod:`xrm_core.relationship_files`).

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

from typing import TYPE_CHECKING

from .errors import ValidationError
from .import_files import FORMATS, FileRefused, csv_rows, detect_format, jsonl_rows
from .import_run import Progress, Rollback, finish_report, open_input
from .import_update_by import Updates
from .import_writer import Writer
from .keys import key_type
from .records import Record

if TYPE_CHECKING:
    from .session import Session

#: Rows a batch: written at once, and looked up at once with ``update_by``. Read as each
#: import starts, so tests may set it here (``monkeypatch.setattr(importer, "BATCH", 3)``).
BATCH = 2000


def import_file(s: "Session", type_name: str, path: str, fmt: str | None = None, skip_invalid: bool = False,
                dry_run: bool = False, progress: bool = False, update_by: str | None = None) -> dict:
    """Import records of ``type_name`` from the CSV or JSONL file ``path`` as the session's user.

    Records are owned by the user and placed in their unit (PermissionDenied without a
    create grant; with ``update_by``, only the rows that would create a record are refused). Returns the report (see the module docstring). Raises ValidationError
    with the report as ``extra["report"]`` when the import is refused; the session's
    database state is then exactly as before. ``progress`` shows a bar on stderr for long
    files. ``path`` ``-`` reads standard input (``iconv … | xrm import TYPE - --format csv``;
    its activities name the file ``stdin``), which stays open.

    With ``update_by`` (a field of the type holding one string, number or boolean), a row
    whose value of that field names a record the user can see updates it — the row is a
    merge patch of its data, so a CSV's empty cells keep what is stored — and the other
    rows create records. The report then also counts the rows that changed the record they
    named (``updated``) and those that changed nothing (``unchanged``); ``valid`` and
    ``imported`` count them too (see :class:`xrm_core.import_update_by.Updates`). Like ``imported``, they count only
    what was stored: 0 in a dry run or a refused import. A dry run adds ``would``: the
    ``imported``, ``updated`` and ``unchanged`` the same import would report if it were
    run for real (all 0 when it would be refused).
    """
    et = s.entity_type_for_write(type_name)
    fmt = detect_format(path, fmt)
    if update_by is None or s.actor.can(et.name, "create") or not s.actor.can(et.name, "update"):
        unit_id = s.choose_unit(et.name, None)
    else:  # a user who may only update records may still update them: a row that creates is refused
        unit_id = s.actor.unit_id
    if update_by is not None:
        key_json_type = key_type(et, update_by, "--update-by")  # before the file is opened
    opened, f, source = open_input(path)
    report: dict = {"total": 0, "valid": 0, "imported": 0, "invalid": []}
    invalid = report["invalid"]
    writer = Writer(s, et, unit_id, source, skip_invalid, invalid, BATCH)
    updates = Updates(s, et, update_by, key_json_type, writer) if update_by is not None else None
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


def _found_before(report: dict, line: int, writer: Writer, updates: Updates | None) -> str:
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
    total, valid = report["total"], report["valid"]
    found = (f"; of the {total} row{'s' if total != 1 else ''} before line {line}, {valid} "
             f"{'was' if valid == 1 else 'were'} valid and {len(report['invalid'])} invalid")
    return found + (f" ({unchecked} not checked yet)" if unchecked else "")


def create_many(s: "Session", type_name: str, rows, unit: str | None = None) -> list[Record]:
    """Create many records of one type at once, all or nothing — the bulk path of imports.

    Each row is validated and goes through the record hooks like :meth:`Session.create`,
    but records and their history are written in batches. Raises ValidationError naming
    every invalid row by its index (``/rows/3/email``) and writes nothing then.
    """
    et = s.entity_type_for_write(type_name)
    unit_id = s.choose_unit(et.name, unit)
    invalid: list = []
    writer = Writer(s, et, unit_id, "", False, invalid, BATCH)
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


from .exporter import export  # noqa: E402 — kept importable from here for existing callers

__all__ = ["import_file", "create_many", "export", "detect_format", "FORMATS", "BATCH", "Progress", "Rollback",
           "finish_report", "open_input"]
