"""``xrm kpi``: list, add, remove and compute KPIs."""
from __future__ import annotations

import click

from .admin_cmds import _require_admin
from .context import (admin_as_option, as_option, cut, emit_json, json_option, label_text, pass_ctx,
                      read_json_file, show_value, table)

# The commands import ``kpis`` (SQLAlchemy) when they run, so that `xrm --help` and every
# other command start without it.


def register(cli: click.Group) -> None:
    cli.add_command(kpi)


@click.group()
def kpi():
    """Key performance indicators."""


@kpi.command("list")
@as_option
@json_option
@pass_ctx
def kpi_list(c, as_user, as_json):
    """Every KPI: plugins' and admin-declared (with --as, those the user may compute, as
    GET /api/v1/kpis lists them for the user's token)."""
    from .. import kpis
    if as_user is None:
        with c.platform.connection() as conn:
            found = sorted(c.platform.kpi_registry(conn).values(), key=lambda k: k.name)
            waiting = kpis.waiting(c.platform, conn)
    else:
        with c.session(as_user, write=False) as s:
            found = [k for k in sorted(c.platform.kpi_registry(s.conn).values(), key=lambda k: k.name)
                     if kpis.may_compute(s, k)]
            waiting = kpis.waiting(c.platform, s.conn)
    for message in waiting.values():  # not listed until `xrm init` stores their plugin's types
        click.echo(f"warning: not listed: {message}", err=True)
    items = [k.to_dict() | {"source": getattr(k, "source", None)} for k in found]
    if as_json:
        emit_json(items)
        return
    table([[k["name"], label_text(k.get("label")), k.get("unit", ""), k.get("entity", ""), k["source"]] for k in items],
          ["NAME", "LABEL", "UNIT", "ENTITY", "SOURCE"])


@kpi.command("add")
@click.argument("file", type=click.Path(dir_okay=False))
@admin_as_option
@json_option
@pass_ctx
def kpi_add(c, file, as_user, as_json):
    """Add a declarative KPI from a JSON FILE, or replace the admin KPI of that name.

    A KPI provided by a plugin cannot be replaced. With --json, prints the stored KPI with
    "replaced": true or false.
    """
    from .. import kpis
    from .schema_cmds import _about
    _require_admin(c, as_user)
    d = read_json_file(file)
    with _about(file), c.platform.connection() as conn:
        saved = kpis.add(c.platform, conn, d)
    if as_json:
        emit_json(saved)
    else:
        click.echo(f"KPI {saved['name']!r} {'replaced' if saved['replaced'] else 'added'}")


@kpi.command("remove")
@click.argument("name")
@admin_as_option
@pass_ctx
def kpi_remove(c, name, as_user):
    """Remove the admin-declared KPI NAME (one added with `xrm kpi add`).

    A plugin's KPI cannot be removed. Removing the KPIs that measure an entity type is what
    lets `xrm types remove` remove that type.
    """
    from .. import kpis
    _require_admin(c, as_user)
    with c.platform.connection() as conn:
        kpis.remove(c.platform, conn, name)
    click.echo(f"KPI {name!r} removed")


@kpi.command("compute")
@click.argument("name")
@click.option("--from", "date_from", metavar="DATE", help="First day, inclusive (YYYY-MM-DD).")
@click.option("--to", "date_to", metavar="DATE", help="Last day, inclusive (YYYY-MM-DD).")
@click.option("--by", metavar="FIELD", help="Group by this field.")
@as_option
@json_option
@pass_ctx
def kpi_compute(c, name, date_from, date_to, by, as_user, as_json):
    """Compute KPI NAME within the caller's scope."""
    from .. import kpis
    from ..errors import ValidationError
    for option, given in (("from", date_from), ("to", date_to), ("by", by)):
        # As the REST API's ?by= does: `--by "$FIELD"` with the variable unset meant a
        # grouping, and the answer without one (or over all time) would read as its answer.
        if given == "":
            raise ValidationError(f"--{option} is empty: give it a value, or leave it out",
                                  [{"pointer": f"/{option}", "message": "empty"}])
    with c.session(as_user, write=False) as s:
        result = kpis.compute(s, name, date_from, date_to, by)
        if (date_from or date_to) and kpis.period_ignored(c.platform, s.conn, name):
            click.echo(f"warning: KPI {name!r} has no time_field: --from/--to cannot limit it; the value "
                       "covers all its records", err=True)
        backwards = result.get("ended_before_start")
        if backwards:
            measured = c.platform.kpi_registry(s.conn)[name]
            start, end = measured.definition["measure"]["avg_duration"]
            entity = measured.entity
            click.echo(f"warning: {backwards} {entity} record{'s' if backwards != 1 else ''} whose {end} is before "
                       f"{'their' if backwards != 1 else 'its'} {start} {'are' if backwards != 1 else 'is'} left "
                       f"out of the value and of n", err=True)
    if as_json:
        emit_json(result)
        return
    period = f" from {result['from'] or '…'} to {result['to'] or '…'}" if (result["from"] or result["to"]) else ""
    # Values are already ints or floats rounded to 6 decimals: print them as they are
    # (``:g`` would turn a ppm figure such as 1234567 into 1.23457e+06).
    value = "n/a" if result["value"] is None else _plain(result["value"])
    unit = f" {result['unit']}" if result["unit"] else ""
    click.echo(f"{result['kpi']}{period}: {value}{unit} (n={result['n']})")
    if result["groups"]:
        # Keys of a field holding several JSON types (5 and "5") would print alike: then
        # they are shown as JSON, a string quoted when it reads as another value, as --where
        # takes them. Long keys are cut, so that the VALUE column stays in sight.
        # Booleans are spelled as JSON (true), as --where takes them, and so are the arrays
        # and objects a field of no schema type may hold ([1], not Python's repr).
        kinds = {type(g["key"]) for g in result["groups"] if g["key"] is not None}
        shown = show_value if len(kinds) > 1 or kinds & {dict, list} else \
            (lambda k: ("true" if k else "false") if isinstance(k, bool) else str(k))
        rows = [["(none)" if g["key"] is None else cut(shown(g["key"]), 40),
                 "n/a" if g["value"] is None else _plain(g["value"]), g["n"]] for g in result["groups"]]
        headers = [(by or "group").upper(), "VALUE", "N"]
        if any("ended_before_start" in g for g in result["groups"]):
            # Which groups the warning's left-out records come from (avg_duration).
            for row, g in zip(rows, result["groups"]):
                row.append(g.get("ended_before_start", 0))
            headers.append("ENDED BEFORE START")
        table(rows, headers)


def _plain(value):
    """A KPI value as written in positional notation: Python writes 0.000006 as 6e-06 and
    1e16 as 1e+16, which a reader of a table of figures misreads or cannot compare."""
    if isinstance(value, float) and "e" in repr(value):
        from decimal import Decimal
        return format(Decimal(repr(value)), "f")
    return value
