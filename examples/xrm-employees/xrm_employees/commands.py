"""``xrm employees …``: commands this plugin adds to the CLI (through ``xrm_cli_commands``)."""
from __future__ import annotations

import json

import click


@click.group()
def employees():
    """Employee relationship management."""


@employees.command()
@click.option("--department", help="Only this department.")
@click.option("--as", "as_user", metavar="USER", help="Act within this user's scope (default: admin).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout.")
@click.pass_obj
def headcount(obj, department, as_user, as_json):
    """Number of active employees the caller may see."""
    where = {"status": "active"}
    if department:
        where["department"] = department
    # obj is the CLI context: .platform is the xrm_core.Platform of --db.
    with obj.platform.session(as_user or "admin", write=False) as session:
        n = session.count("employee", where)
    if as_json:
        click.echo(json.dumps({"headcount": n, "department": department}))
    else:
        click.echo(f"{n} active employee{'' if n == 1 else 's'}" + (f" in {department}" if department else ""))
