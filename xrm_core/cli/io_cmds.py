"""``xrm import`` and ``xrm export``."""
from __future__ import annotations

import sys

import click

from .. import importer
from ..errors import ValidationError
from ..filters import parse_where
from .context import as_option, emit_json, json_option, pass_ctx


def register(cli: click.Group) -> None:
    cli.add_command(import_)
    cli.add_command(export)


@click.command("import")
@click.argument("type_name", metavar="TYPE")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(importer.FORMATS), help="Default: from the file extension.")
@click.option("--skip-invalid", is_flag=True, help="Import the valid rows, report the invalid ones.")
@click.option("--dry-run", is_flag=True, help="Validate and report; write nothing.")
@as_option
@json_option
@pass_ctx
def import_(c, type_name, file, fmt, skip_invalid, dry_run, as_user, as_json):
    """Import records of TYPE from a CSV or JSONL FILE (all-or-nothing by default)."""
    try:
        with c.session(as_user) as s:
            report = importer.import_file(s, type_name, file, fmt, skip_invalid, dry_run,
                                          progress=sys.stderr.isatty())
    except ValidationError as e:
        if as_json and "report" in e.extra:
            emit_json(e.extra["report"])
        raise
    if as_json:
        emit_json(report)
        return
    verb = "would import" if dry_run else "imported"
    click.echo(f"{report['total']} rows read, {report['valid']} valid, {verb} "
               f"{report['valid'] if dry_run else report['imported']}")
    for r in report["invalid"][:50]:
        for e in r["errors"]:
            click.echo(f"  line {r['line']} {e['pointer'] or '/'}: {e['message']}", err=True)
    if len(report["invalid"]) > 50:
        click.echo(f"  … {len(report['invalid']) - 50} more invalid rows (use --json for all)", err=True)


@click.command()
@click.argument("type_name", metavar="TYPE")
@click.option("--format", "fmt", type=click.Choice(importer.FORMATS), default="jsonl", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
@click.option("--where", multiple=True, metavar="EXPR", help="Filter as in `records list`.")
@as_option
@pass_ctx
def export(c, type_name, fmt, output, where, as_user):
    """Export the visible records of TYPE (data only: what import reads)."""
    flt = parse_where(where)
    with c.session(as_user, write=False) as s:
        if output:
            with open(output, "w", encoding="utf-8", newline="") as out:
                n = importer.export(s, type_name, out, fmt, flt)
            click.echo(f"{n} records written to {output}", err=True)
        else:
            importer.export(s, type_name, sys.stdout, fmt, flt)
