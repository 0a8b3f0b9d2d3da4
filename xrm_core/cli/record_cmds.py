"""``xrm records``, ``relate``, ``related``, ``history`` and ``log``."""
from __future__ import annotations

import click

from ..errors import ValidationError
from .context import (as_option, cut, dumps, emit_json, json_option, label_text, one_line, pad,
                      parse_json_arg, pass_ctx, table)


def register(cli: click.Group) -> None:
    for cmd in (records, relate, unrelate, related, history, log):
        cli.add_command(cmd)


@click.group()
def records():
    """Create, read, list, update and delete records."""


def _show(rec, as_json):
    if as_json:
        emit_json(rec.to_dict())
        return
    click.echo(f"{rec.type} {rec.id}  version {rec.version}  owner {rec.owner}  unit {rec.unit}")
    click.echo(f"created {rec.created_at} by {rec.created_by}; updated {rec.updated_at} by {rec.updated_by}")
    for k, v in rec.data.items():
        # shown whole (this is the one place to read a long value), but a multi-line text
        # keeps its later lines indented under its field
        text = v if isinstance(v, str) else dumps(v)
        click.echo(f"  {one_line(k)}: " + "\n    ".join(text.splitlines() or [""]))


@records.command("create")
@click.argument("type_name", metavar="TYPE")
@click.option("--data", required=True, metavar="JSON", help="The record's data (JSON, or @FILE).")
@click.option("--unit", metavar="U", help="Place the record in this unit (within your scope).")
@as_option
@json_option
@pass_ctx
def records_create(c, type_name, data, unit, as_user, as_json):
    """Create a record of TYPE."""
    payload = parse_json_arg(data, "--data")
    with c.session(as_user) as s:
        rec = s.create(type_name, payload, unit=unit)
    if as_json:
        emit_json(rec.to_dict())
    else:
        click.echo(rec.id)


@records.command("get")
@click.argument("record_id", metavar="ID")
@as_option
@json_option
@pass_ctx
def records_get(c, record_id, as_user, as_json):
    """Show one record."""
    with c.session(as_user, write=False) as s:
        rec = s.get(record_id)
    _show(rec, as_json)


@records.command("list")
@click.argument("type_name", metavar="TYPE")
@click.option("--where", "where", multiple=True, metavar="EXPR",
              help="FIELD=V, FIELD!=V, FIELD<V, FIELD<=V, FIELD>V, FIELD>=V (repeatable, ANDed).")
@click.option("--sort", metavar="F,-F", help="Sort by fields; - for descending.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(0, 100000), metavar="N",
              help="Print at most N records.")
@as_option
@json_option
@pass_ctx
def records_list(c, type_name, where, sort, limit, as_user, as_json):
    """List records of TYPE (oldest first unless --sort), at most --limit of them.

    V in --where is read as JSON when it parses (true, 3, "3") and as text otherwise; quote
    the expression for the shell: --where 'rating>=9'.
    """
    # local: SQLAlchemy, only when the command runs
    from ..filters import in_cli_words, parse_where, refuse_values_never_held
    flt = parse_where(where)
    sort_items = [x.strip() for x in sort.split(",") if x.strip()] if sort else None
    with c.session(as_user, write=False) as s:
        et = s.entity_type(type_name)
        try:
            # A typo in an enum's value ("activ") would list nothing, as if none were left.
            refuse_values_never_held(s.dialect, et, flt)
            items = s.list(type_name, flt, limit=limit, sort=sort_items)
        except ValidationError as e:
            raise in_cli_words(e) from None
    if as_json:
        emit_json([r.to_dict() for r in items])
        return
    title = et.title_field
    cols = [title] if title else []
    cols += [f for f in list(et.properties())[:5] if f != title][: 4 if title else 5]
    from ..fields import value_at  # here: the module imports SQLAlchemy
    if not cols:
        # a schema without properties ({"type": "object"}) still has data worth seeing
        table([[r.id, _cell(r.data), r.unit] for r in items], ["ID", "DATA", "UNIT"])
        return
    table([[r.id] + [_cell(value_at(r.data, f) if f == title else r.data.get(f)) for f in cols] + [r.unit]
           for r in items],
          ["ID"] + [f.upper() for f in cols] + ["UNIT"])


def _cell(v):
    if v is None:
        return ""
    return cut(v if isinstance(v, str) else dumps(v), 40)  # 40 columns: CJK text takes two each


@records.command("update")
@click.argument("record_id", metavar="ID")
@click.option("--data", required=True, metavar="JSON", help="JSON merge patch of the data (or @FILE).")
@click.option("--if-version", type=int, metavar="N", help="Refuse unless the record is at version N.")
@as_option
@json_option
@pass_ctx
def records_update(c, record_id, data, if_version, as_user, as_json):
    """Update a record with a JSON merge patch (null removes a field)."""
    patch = parse_json_arg(data, "--data")
    with c.session(as_user) as s:
        rec = s.update(record_id, patch, if_version=if_version)
    if as_json:
        emit_json(rec.to_dict())
    else:
        click.echo(f"{rec.id} now at version {rec.version}")


@records.command("delete")
@click.argument("record_id", metavar="ID")
@as_option
@pass_ctx
def records_delete(c, record_id, as_user):
    """Delete a record (relationships follow their on_delete rule); says the records its
    cascades took with it."""
    with c.session(as_user) as s:
        others = s.delete(record_id).others(record_id)
    click.echo(f"{record_id} deleted{_taken_with(others)}")


#: Records ``records delete`` names after a cascade at most; the rest are counted.
NAMED_TAKEN = 20


def _taken_with(others) -> str:
    """What a delete took with it (``Deleted.others``), for its line: the records the user
    can read by type and id (the first :data:`NAMED_TAKEN`), those they cannot only counted."""
    if not others:
        return ""
    seen = [f"{r.type} {r.id}" for r in others if r.readable]
    hidden = len(others) - len(seen)
    said = seen[:NAMED_TAKEN] + ([f"{len(seen) - NAMED_TAKEN} more"] if len(seen) > NAMED_TAKEN else [])
    if hidden:
        said.append(f"{hidden} record(s) you cannot read")
    return f", and with it {len(others)} record(s): {', '.join(said)}"


@click.command(short_help="Relate two records with relationship type REL.")
@click.argument("rel", metavar="REL")
@click.argument("source_id", metavar="SOURCE_ID")
@click.argument("target_id", metavar="TARGET_ID")
@click.option("--data", metavar="JSON", help="Attributes of the relationship (JSON object, or @FILE).")
@as_option
@json_option
@pass_ctx
def relate(c, rel, source_id, target_id, data, as_user, as_json):
    """Relate SOURCE_ID to TARGET_ID with relationship type REL."""
    payload = parse_json_arg(data, "--data") if data else None
    with c.session(as_user) as s:
        r = s.relate(rel, source_id, target_id, payload)
    if as_json:
        emit_json(r)
    else:
        click.echo(r["id"])


@click.command()
@click.argument("relationship_id", metavar="RELATIONSHIP_ID")
@as_option
@pass_ctx
def unrelate(c, relationship_id, as_user):
    """Remove a relationship."""
    with c.session(as_user) as s:
        s.unrelate(relationship_id)
    click.echo(f"{relationship_id} removed")


@click.command()
@click.argument("record_id", metavar="ID")
@click.option("--rel", metavar="REL", help="Only this relationship type.")
@as_option
@json_option
@pass_ctx
def related(c, record_id, rel, as_user, as_json):
    """Records related to ID, in both directions."""
    with c.session(as_user, write=False) as s:
        items = s.related(record_id, rel)
        labels = {n: s.relationship_type(n) for n in {i["relationship"]["type"] for i in items}}
        from ..fields import value_at  # here: the module imports SQLAlchemy
        titles = {}
        for i in items:
            et = s.entity_type(i["record"].type)
            titles[i["record"].id] = value_at(i["record"].data, et.title_field) if et.title_field else None
    if as_json:
        emit_json([{**i, "record": i["record"].to_dict()} for i in items])
        return
    rows = []
    for i in items:
        rt = labels[i["relationship"]["type"]]
        outgoing = i["direction"] == "outgoing"
        # Without an inverse_label the incoming side reads as the label, arrow reversed.
        lab = label_text(rt.get("label") if outgoing else rt.get("inverse_label")) or (
            f"{'→' if outgoing else '←'} {label_text(rt.get('label')) or i['relationship']['type']}")
        rows.append([i["relationship"]["type"], lab, i["record"].type,
                     i["record"].id, _cell(titles[i["record"].id]), i["relationship"]["id"]])
    table(rows, ["REL", "AS", "TYPE", "ID", "TITLE", "RELATIONSHIP"])


@click.command()
@click.argument("record_id", metavar="ID")
@click.option("--related", "include_related", is_flag=True, help="Include activities of related records.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Only the N latest entries (still oldest first).")
@as_option
@json_option
@pass_ctx
def history(c, record_id, include_related, limit, as_user, as_json):
    """The record's timeline (append-only), oldest first."""
    with c.session(as_user, write=False) as s:
        if limit:
            items = s.history(record_id, include_related=include_related, limit=limit, newest_first=True)[::-1]
        else:
            items = s.history(record_id, include_related=include_related)
    if as_json:
        emit_json(items)
        return
    for a in items:
        actor = one_line(a["actor"] or "")
        who = f"{a['at']}  {pad(actor, 12)} {a['kind']:<10}"
        # a summary typed with line breaks stays on its entry's line
        where = f"  [{a['record']}]" if a["record"] != record_id else ""
        click.echo(f"{who} {one_line(a['summary'] or '')}{where}")
        if a["kind"] == "updated":
            for ch in (a["payload"] or {}).get("changes", []):
                # long values are cut (`records get` or `history --json` show them whole);
                # an absent member is shown as such, not as the null it reads as
                op = ch.get("op")
                old = "(absent)" if op == "add" else cut(dumps(ch["old"]), 60)
                new = "(absent)" if op == "remove" else cut(dumps(ch["new"]), 60)
                click.echo(f"{'':>50} {one_line(ch['pointer'])}: {old} → {new}")


@click.command()
@click.argument("record_id", metavar="ID")
@click.option("--kind", required=True, metavar="KIND", help="A declared interaction kind (call, email…).")
@click.option("--summary", required=True, metavar="TEXT", help="One line: what happened.")
@click.option("--payload", metavar="JSON", help="Details (JSON object, or @FILE).")
@as_option
@json_option
@pass_ctx
def log(c, record_id, kind, summary, payload, as_user, as_json):
    """Log an interaction on a record."""
    data = parse_json_arg(payload, "--payload") if payload else None
    with c.session(as_user) as s:
        a = s.log(record_id, kind, summary, data)
    if as_json:
        emit_json(a)
    else:
        click.echo(f"logged {kind} on {record_id}")
