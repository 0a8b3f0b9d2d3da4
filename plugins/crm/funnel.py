"""``xrm crm funnel``: the sales pipeline's conversion per stage (DESIGN §7).

The cohort is the opportunities opened in the period (``--from``/``--to`` on ``opened_at``;
all of them without) that the caller may read. Each has a furthest stage: its stage while it
is open, ``lost_stage`` once lost (the crm automations keep it), every stage once won. A stage
was *reached* by the opportunities whose furthest stage is it or a later one, and *went on*
from it when they reached the next stage (from negotiation: when they were won). An
opportunity still open at a stage has not gone on from it (yet); one lost at an unknown stage
is counted apart. Everything is counted with ``Session.count``: the caller's scope applies.
"""
from __future__ import annotations

import json

import click

from xrm_core import hookimpl

from .automations import OPEN_STAGES


@hookimpl
def xrm_cli_commands(cli):
    cli.add_command(crm)


@click.group(short_help="Customer relationship analytics: the sales funnel.")
def crm():
    """Customer relationship analytics."""


def stage_counts(session, date_from: str | None = None, date_to: str | None = None) -> dict:
    """The funnel of the opportunities opened in [date_from, date_to] that ``session``'s user
    may read: ``{"n", "won", "lost_at_unknown_stage", "stages": [{"stage", "reached",
    "went_on", "conversion"}]}`` (conversion in percent, None when no opportunity reached the
    stage)."""
    opened = {k: v for k, v in (("gte", date_from), ("lte", date_to)) if v}
    cohort = {"opened_at": opened} if opened else {}

    def count(**where):
        return session.count("opportunity", {**cohort, **where})

    won = count(stage="won")
    furthest = [count(stage=s) + count(stage="lost", lost_stage=s) for s in OPEN_STAGES]
    unknown = count(stage="lost", lost_stage={"exists": False})
    reached = [won + sum(furthest[i:]) for i in range(len(OPEN_STAGES))]
    stages = []
    for i, stage in enumerate(OPEN_STAGES):
        went_on = reached[i + 1] if i + 1 < len(OPEN_STAGES) else won
        stages.append({"stage": stage, "reached": reached[i], "went_on": went_on,
                       "conversion": round(100.0 * went_on / reached[i], 6) if reached[i] else None})
    return {"n": won + sum(furthest) + unknown, "won": won, "lost_at_unknown_stage": unknown, "stages": stages}


@crm.command("funnel")
@click.option("--from", "date_from", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="DATE",
              help="First day opportunities were opened on, inclusive (YYYY-MM-DD).")
@click.option("--to", "date_to", type=click.DateTime(formats=["%Y-%m-%d"]), metavar="DATE",
              help="Last day, inclusive (YYYY-MM-DD).")
@click.option("--as", "as_user", metavar="USER", help="Act within this user's scope (default: admin).")
@click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document on stdout.")
def funnel(date_from, date_to, as_user, as_json):
    """Conversion of the opportunities opened in the period, stage by stage."""
    start = date_from.date().isoformat() if date_from else None
    end = date_to.date().isoformat() if date_to else None
    if start and end and start > end:
        raise click.BadParameter(f"--from {start} is after --to {end}", param_hint="'--from'")
    platform = click.get_current_context().obj.platform
    with platform.session(as_user or "admin", write=False) as s:
        result = {"from": start, "to": end, **stage_counts(s, start, end)}
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    rows = [[r["stage"], r["reached"], r["went_on"], "n/a" if r["conversion"] is None else f"{r['conversion']:.1f}"]
            for r in result["stages"]]
    headers = ["STAGE", "REACHED", "WENT ON", "CONVERSION %"]
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]
    for row in [headers, *rows]:
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())
    click.echo(f"{result['n']} opportunities, {result['won']} won"
               + (f", {result['lost_at_unknown_stage']} lost at an unknown stage" if result["lost_at_unknown_stage"]
                  else ""))
