"""``xrm voc``: the VOC analytics commands (Kano classification, the ten-step CSM).

Both read only the records the caller may read (``--as USER``, default admin) with grouped
SQL; ``--json`` prints one JSON document. docs/voc-analytics.md explains the formulas.
"""
from __future__ import annotations

import json
import unicodedata

import click

from xrm_core import PermissionDenied, hookimpl

from . import csm as csm_steps
from . import kano as kano_eval

DATE = click.DateTime(formats=["%Y-%m-%d"])


@hookimpl
def xrm_cli_commands(cli):
    cli.add_command(voc)


@click.group(short_help="Voice of the customer: Kano classification, ten-step CSM.")
def voc():
    """Voice-of-the-customer analytics: Kano classification and the ten-step CSM."""


# Plugins use only xrm_core's public names, so the few CLI helpers the core commands share
# are repeated here in their simplest form.
def as_option(f):
    return click.option("--as", "as_user", metavar="USER", help="Act within this user's scope (default: admin).")(f)


def json_option(f):
    return click.option("--json", "as_json", is_flag=True, help="Print exactly one JSON document on stdout.")(f)


def _session(as_user):
    """A read-only Session as ``as_user`` (default admin) on the ``--db`` platform."""
    return click.get_current_context().obj.platform.session(as_user or "admin", write=False)


def emit_json(value) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _width(text: str) -> int:
    # Chinese (wide) characters take two terminal columns.
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def table(rows: list[list], headers: list[str]) -> None:
    """Print rows as an aligned text table."""
    cells = [[str("" if c is None else c) for c in r] for r in rows]
    widths = [max([_width(h)] + [_width(r[i]) for r in cells]) for i, h in enumerate(headers)]
    for r in [headers, *cells]:
        click.echo("  ".join(c + " " * (w - _width(c)) for c, w in zip(r, widths)).rstrip())


def _period(f):
    f = click.option("--to", "date_to", type=DATE, metavar="DATE", help="Last day, inclusive (YYYY-MM-DD).")(f)
    return click.option("--from", "date_from", type=DATE, metavar="DATE", help="First day, inclusive (YYYY-MM-DD).")(f)


def _iso(d):
    return d.date().isoformat() if d is not None else None


def _check_period(date_from, date_to):
    if date_from and date_to and date_from > date_to:
        raise click.BadParameter(f"--from {_iso(date_from)} is after --to {_iso(date_to)}", param_hint="'--from'")


def _require_read(s, type_name):
    if not s.actor.can(type_name, "read"):
        raise PermissionDenied(f"{s.actor.name!r} may not read {type_name} records")


def _r(v, digits=6):
    return None if v is None else round(float(v), digits)


@voc.command("kano")
@click.option("--survey", "survey_code", metavar="CODE", help="Only the answers of this survey (survey_code).")
@_period
@as_option
@json_option
def kano_cmd(survey_code, date_from, date_to, as_user, as_json):
    """Kano category, CS and DS of each requirement, from the visible Kano answers."""
    _check_period(date_from, date_to)
    with _session(as_user) as s:
        _require_read(s, "kano_answer")
        from .queries import context, kano_pair_counts  # local: SQL (SQLAlchemy) only when run
        rows = kano_pair_counts(context(s, _iso(date_from), _iso(date_to)), survey_code)
    by_req: dict[str, dict] = {}
    for code, label, functional, dysfunctional, n in rows:
        r = by_req.setdefault(code, {"requirement": None, "pairs": []})
        r["requirement"] = r["requirement"] or label
        r["pairs"].append((functional, dysfunctional, n))
    reqs = []
    for code, r in by_req.items():
        e = kano_eval.evaluate(r["pairs"])
        reqs.append({"requirement_code": code, "requirement": r["requirement"], **e,
                     "cs": _r(e["cs"]), "ds": _r(e["ds"])})
    result = {"survey": survey_code, "from": _iso(date_from), "to": _iso(date_to),
              "n": sum(r["n"] for r in reqs), "requirements": reqs}
    if as_json:
        emit_json(result)
        return
    if not reqs:
        click.echo("no Kano answers visible in this selection")
        return
    table([[r["requirement_code"], r["requirement"] or "", *[r["counts"][k] for k in kano_eval.CATEGORIES],
            r["n"], f"{r['category']} {r['category_name']}",
            "n/a" if r["cs"] is None else f"{r['cs']:.2f}", "n/a" if r["ds"] is None else f"{r['ds']:.2f}"]
           for r in reqs],
          ["REQUIREMENT", "LABEL", *kano_eval.CATEGORIES, "N", "CATEGORY", "CS", "DS"])


@voc.command("csm")
@_period
@click.option("--customers", "per_customer", is_flag=True,
              help="Also list each customer's CSM (least satisfied first).")
@as_option
@json_option
def csm_cmd(date_from, date_to, per_customer, as_user, as_json):
    """The ten-step customer satisfaction measure over the visible CSM answers."""
    _check_period(date_from, date_to)
    with _session(as_user) as s:
        _require_read(s, "survey_response")
        from sqlalchemy import select  # local: SQL (SQLAlchemy) only when run

        from .queries import context, csm_items, csm_overall, csm_per_customer
        ctx = context(s, _iso(date_from), _iso(date_to))
        items = csm_items(ctx)
        overall, n = csm_overall(ctx)
        customers = None
        if per_customer:  # one row per customer: only when asked for
            sub = csm_per_customer(ctx)
            customers = ctx.execute(select(sub.c.who, sub.c.sum_ws, sub.c.sum_w, sub.c.n)).all()
    result = _csm_result(items, overall, n, customers, _iso(date_from), _iso(date_to))
    if as_json:
        emit_json(result)
        return
    _print_csm(result)


def _csm_result(items, overall, n, customers, date_from, date_to) -> dict:
    """The command's result: steps 6–7 per item from :func:`csm_items`, steps 8–10 from
    :func:`csm_overall` and, when given, the per-customer sums of :func:`csm_per_customer`."""
    weights = csm_steps.item_weights({code: float(imp) for code, _, imp, _ in items})
    item_out = [{"question_code": code, "n": n_, "importance": _r(imp), "weight": _r(weights[code]),
                 "performance": _r(perf), "performance_pct": _r(csm_steps.normalise(float(perf)))}
                for code, n_, imp, perf in items]
    result = {"from": date_from, "to": date_to, "csm": _r(overall), "unit": "score (0–100)", "n": n,
              "answers": sum(i["n"] for i in item_out), "items": item_out}
    if customers is not None:
        per = sorted(((who, csm_steps.from_sums(float(ws), float(w)), k) for who, ws, w, k in customers),
                     key=lambda t: (t[1], t[0]))
        result["customers"] = [{"customer": who, "csm": _r(v), "items": k} for who, v, k in per]
    return result


def _print_csm(result: dict) -> None:
    value = "n/a" if result["csm"] is None else f"{result['csm']:.1f}"
    click.echo(f"CSM: {value} / 100 over {result['n']} customers ({result['answers']} item answers)")
    if result["items"]:
        table([["(none)" if i["question_code"] is None else i["question_code"], i["n"],
                f"{i['importance']:.2f}", f"{i['weight'] * 100:.1f}%", f"{i['performance']:.2f}",
                f"{i['performance_pct']:.1f}"] for i in result["items"]],
              ["ITEM", "N", "IMPORTANCE", "WEIGHT", "PERFORMANCE", "PERF 0-100"])
    if "customers" in result:
        click.echo("")
        table([[p["customer"], f"{p['csm']:.1f}", p["items"]] for p in result["customers"]],
              ["CUSTOMER", "CSM", "ITEMS"])
