"""``xrm import`` and ``xrm export``, of records and of relationships."""
from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

import click

from ..errors import ValidationError, XrmError
from .context import as_option, emit_json, json_option, pass_ctx

#: Invalid rows listed on stderr without --json (the JSON report lists them all).
SHOWN = 50
#: The formats of ``importer.FORMATS`` and ``exporter.FORMATS``, repeated here so that `xrm`
#: starts without importing them (SQLAlchemy, JSON Schema): they load when the command runs.
FORMATS = ("csv", "jsonl")


def register(cli: click.Group) -> None:
    cli.add_command(import_)
    cli.add_command(import_relationships)
    cli.add_command(export)
    cli.add_command(export_relationships)


@click.command("import")
@click.argument("type_name", metavar="TYPE")
@click.argument("file", type=click.Path())  # a directory: refused by the import, with its report
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Default: from the file extension.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows, report the invalid ones.")
@click.option("--dry-run", is_flag=True, help="Check every row (hooks included) and report; write nothing.")
@click.option("--update-by", metavar="FIELD",
              help="A row whose FIELD names a record updates it (merge patch); the others create records.")
@as_option
@json_option
@pass_ctx
def import_(c, type_name, file, fmt, skip_invalid, dry_run, update_by, as_user, as_json):
    """Import records of TYPE from a CSV or JSONL FILE.

    All-or-nothing: if any row is invalid nothing is imported, unless --skip-invalid. Every
    invalid row is reported with its line and JSON pointer. CSV: line 1 names the fields
    (dotted names for nested ones); cells are converted to the schema's types (an array
    cell holds a JSON array or items separated by ";", each read as its item type; an object
    cell holds a JSON object); an empty cell means the attribute is absent. FILE - reads
    standard input (give --format).

    --update-by FIELD updates the record whose FIELD equals the row's (the number the old
    system gave it): the row is merged into its data, so empty cells keep what is
    stored; the report then also counts "updated" and "unchanged" rows (0 when nothing is
    written), and with --dry-run what the import "would" do.

    --json prints the report even when the import is refused (the message on stderr);
    refused before a row was read (unknown type, no such file), it counts nothing.
    """
    from .. import importer  # local: see FORMATS
    with _reported(as_json):
        with c.session(as_user) as s:
            report = importer.import_file(s, type_name, file, fmt, skip_invalid, dry_run,
                                          progress=sys.stderr.isatty(), update_by=update_by)
    _report(report, dry_run, as_json, "imported")


@click.command("import-relationships", short_help="Relate the pairs of records a CSV or JSONL file names.")
@click.argument("rel", metavar="REL")
@click.argument("file", type=click.Path())  # a directory: refused by the import, with its report
@click.option("--format", "fmt", type=click.Choice(FORMATS), help="Default: from the file extension.")
@click.option("--source-key", metavar="FIELD", help="Find sources by this field of the source type, not by id.")
@click.option("--target-key", metavar="FIELD", help="Find targets by this field of the target type, not by id.")
@click.option("--source-type", metavar="TYPE", help="The type --source-key belongs to, when REL takes any source (*).")
@click.option("--target-type", metavar="TYPE", help="The type --target-key belongs to, when REL takes any target (*).")
@click.option("--skip-invalid", is_flag=True, help="Relate the valid rows, report the invalid ones.")
@click.option("--dry-run", is_flag=True, help="Check every row and report; write nothing.")
@as_option
@json_option
@pass_ctx
def import_relationships(c, rel, file, fmt, source_key, target_key, source_type, target_type, skip_invalid,
                         dry_run, as_user, as_json):
    """Relate the records each row of FILE names with relationship type REL.

    CSV: a header with the columns source and target, and optionally data (a JSON
    object); JSONL: one {"source", "target", "data"} object per line. Records are named by
    id, or by a field of their type (--source-key member_no, --target-key serial_no), which must
    name exactly one record you can read. All-or-nothing, as xrm import: every invalid row
    (unknown record, duplicate, cardinality, permission) is reported with its line and
    pointer. FILE - reads standard input (give --format). --json prints the report when the
    import is refused too, as xrm import does.
    """
    from .. import relationship_files  # local: see FORMATS
    with _reported(as_json):
        with c.session(as_user) as s:
            report = relationship_files.import_relationships(
                s, rel, file, fmt, source_key, target_key, source_type, target_type, skip_invalid, dry_run,
                progress=sys.stderr.isatty())
    _report(report, dry_run, as_json, "related")


#: The report of an import refused before it read a row (unknown type or user, no such
#: file, no format): the shape of every import report, nothing counted.
EMPTY_REPORT = {"total": 0, "valid": 0, "imported": 0, "invalid": []}


@contextlib.contextmanager
def _reported(as_json: bool):
    """With --json, a refused import still prints its report on stdout (the message goes to
    stderr, and the status is non-zero).

    Every refusal prints one: one refused before the file was read (an unknown type or user,
    a file that cannot be opened, a format that cannot be told) prints the report of nothing
    read, so that a script reading stdout always gets the document it expects. The report
    keeps exactly the keys of the contract (DESIGN §5): the status says it was refused.
    """
    try:
        yield
    except XrmError as e:
        if as_json:
            emit_json(e.extra.get("report", EMPTY_REPORT))
        raise


def _rows(n: int) -> str:
    return f"{n} row" if n == 1 else f"{n} rows"


def _report(report: dict, dry_run: bool, as_json: bool, done: str) -> None:
    """Print an import's report: the JSON document, or a summary and the invalid rows."""
    if as_json:
        emit_json(report)
        return
    if dry_run and "would" in report:  # --update-by: what the import would do, labelled as such
        would = report["would"]
        created = would["imported"] - would["updated"] - would["unchanged"]
        click.echo(f"dry run: {_rows(report['total'])} read, {report['valid']} valid; would create {created}, "
                   f"update {would['updated']}, leave {would['unchanged']} unchanged; nothing written")
    elif dry_run:
        click.echo(f"dry run: {_rows(report['total'])} read, {report['valid']} valid; nothing written")
    elif "updated" in report:
        created = report["imported"] - report["updated"] - report["unchanged"]
        click.echo(f"{_rows(report['total'])} read: {created} created, {report['updated']} updated, "
                   f"{report['unchanged']} unchanged")
    else:
        click.echo(f"{_rows(report['total'])} read, {report['imported']} {done}")
    invalid = report["invalid"]
    if invalid:
        click.echo(f"{len(invalid)} invalid {'row' if len(invalid) == 1 else 'rows'} "
                   f"{'would be ' if dry_run else ''}skipped:", err=True)
    for r in invalid[:SHOWN]:
        for e in r["errors"]:
            # As the refusal lists them (XrmError.__str__): a row-wide error has no pointer.
            where = f"line {r['line']} {e['pointer']}".strip()
            click.echo(f"  {where}: {e['message']}", err=True)
    if len(invalid) > SHOWN:
        click.echo(f"  … and {len(invalid) - SHOWN} more invalid rows (--json lists them all)", err=True)


@click.command(short_help="Export the records of TYPE you can see (CSV or JSONL).")
@click.argument("type_name", metavar="TYPE")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="Default: from the extension of -o, else jsonl.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout (- is stdout).")
@click.option("--where", multiple=True, metavar="EXPR", help="Filter as in `records list`.")
@as_option
@pass_ctx
def export(c, type_name, fmt, output, where, as_user):
    """Export the records of TYPE you can see: their data, in the form import reads back,
    in the order the records were created."""
    output, fmt = _output_format(output, fmt)
    from .. import exporter  # local: see FORMATS
    from ..filters import in_cli_words, parse_where, refuse_values_never_held
    flt = parse_where(where)

    with c.session(as_user, write=False) as s:
        try:
            if flt:  # a typo in an enum's value would export nothing, as if none were left
                refuse_values_never_held(s.dialect, s.entity_type(type_name), flt)
            _export_to(output, "records", lambda out: exporter.export(s, type_name, out, fmt, flt, warn=_warn))
        except ValidationError as e:
            raise in_cli_words(e) from None


@click.command("export-relationships", short_help="Export the relationships of REL you can see (CSV or JSONL).")
@click.argument("rel", metavar="REL")
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="Default: from the extension of -o, else jsonl.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout (- is stdout).")
@click.option("--source-key", metavar="FIELD", help="Name sources by this field of the source type, not by id.")
@click.option("--target-key", metavar="FIELD", help="Name targets by this field of the target type, not by id.")
@click.option("--source-type", metavar="TYPE", help="The type --source-key belongs to, when REL takes any source (*).")
@click.option("--target-type", metavar="TYPE", help="The type --target-key belongs to, when REL takes any target (*).")
@as_option
@pass_ctx
def export_relationships(c, rel, fmt, output, source_key, target_key, source_type, target_type, as_user):
    """Export the relationships of type REL whose two records you can see, in the form
    import-relationships reads back: source, target and data, the records named by id or
    by --source-key / --target-key."""
    output, fmt = _output_format(output, fmt)
    from .. import relationship_files  # local: see FORMATS
    with c.session(as_user, write=False) as s:
        _export_to(output, "relationships", lambda out: relationship_files.export_relationships(
            s, rel, out, fmt, source_key, target_key, source_type, target_type, warn=_warn))


def _output_format(output: str | None, fmt: str | None) -> tuple[str | None, str]:
    """The file to write (None: stdout) and the format: given, else from its extension."""
    if output == "-":  # the usual spelling of stdout, not a file named "-"
        output = None
    if fmt is None:
        suffix = Path(output).suffix.lower() if output else ""
        fmt = "csv" if suffix == ".csv" else "jsonl"
    return output, fmt


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _export_to(output: str | None, what: str, write) -> None:
    """Run ``write(stream)`` on the file ``output`` (replaced only once it succeeds), or on
    stdout; report the count written to a file on stderr (``what``: a plural noun)."""
    if output:
        with _replacing(output) as out:
            n = write(out)
        click.echo(f"{n} {what if n != 1 else what[:-1]} written to {output}", err=True)
    else:
        out = sys.stdout
        if hasattr(out, "reconfigure"):
            # UTF-8 whatever the console's code page; and no newline translation, which on
            # Windows would turn the "\n" inside a quoted CSV cell into "\r\n" (as -o does).
            utf8 = (out.encoding or "").lower().replace("-", "") == "utf8"
            out.reconfigure(newline="", **({} if utf8 else {"encoding": "utf-8"}))
        write(out)


@contextlib.contextmanager
def _replacing(path: str):
    """A UTF-8 text stream that replaces the file ``path`` once the block succeeds.

    It writes a temporary file next to ``path`` and renames it over ``path`` at the end, so a
    failed export (unknown type, no grant, a bad filter, a database error) leaves neither a
    half-written file nor an empty one in place of the file that was there. The new file
    gets the permissions of the one it replaces, or those ``open()`` would give a new file.
    A symbolic link is written through: the file it points at is replaced, the link stays.
    """
    import tempfile  # local: `xrm` starts without it
    shown, path = path, os.path.realpath(path)
    folder = os.path.dirname(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".part")
    except OSError as e:
        raise ValidationError(f"cannot write {shown}: {e.strerror}") from None
    try:
        with open(fd, "w", encoding="utf-8", newline="") as out:
            yield out
        try:
            mode = os.stat(path).st_mode & 0o7777
        except OSError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        try:
            os.chmod(tmp, mode)
            os.replace(tmp, path)
        except OSError as e:
            raise ValidationError(f"cannot write {shown}: {e.strerror}") from None
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
