"""``xrm types`` and ``xrm reltypes``: entity and relationship types."""
from __future__ import annotations

from contextlib import contextmanager

import click

from ..errors import Conflict, DefinitionError, ValidationError
from .context import admin_as_option, as_option, emit_json, json_option, label_text, pass_ctx, read_json_file, table

# The commands import the platform modules they use (SQLAlchemy, JSON Schema) when they
# run, so that `xrm --help` and every other command start without them.


def register(cli: click.Group) -> None:
    cli.add_command(types)
    cli.add_command(reltypes)


@click.group(short_help="Entity types: JSON Schema of the data, indexes, unique keys.")
def types():
    """Entity types (JSON Schema for record data, indexes, unique keys)."""


@types.command("list")
@as_option
@json_option
@pass_ctx
def types_list(c, as_user, as_json):
    """Every entity type, with its number of records (those you may read, with --as)."""
    from .. import entity_types
    with c.session(as_user, write=False) as s:
        items = sorted(entity_types.load_all(s.conn).values(), key=lambda t: t.name)
        counts = _counts(s.conn, s.actor, [t.name for t in items])
    if as_json:
        emit_json([{**t.to_dict(), "records": counts.get(t.name, 0)} for t in items])
        return
    table([[t.name, label_text(t.label), t.version, t.source, counts.get(t.name, 0)] for t in items],
          ["NAME", "LABEL", "VERSION", "SOURCE", "RECORDS"])


def _counts(conn, actor, type_names) -> dict[str, int]:
    """Records per type within ``actor``'s read scope: a record the actor may not read does
    not exist for it, not even as a number."""
    from sqlalchemy import func, select
    from .. import db
    q = select(db.records.c.type, func.count()).group_by(db.records.c.type)
    if not actor.is_admin:
        q = q.where(actor.clause_any_type(type_names, "read"))
    return dict(conn.execute(q).all())


@types.command("show")
@click.argument("name")
@as_option
@json_option
@pass_ctx
def types_show(c, name, as_user, as_json):
    """One entity type's definition."""
    from .. import entity_types
    with c.reader_connection(as_user) as conn:
        et = entity_types.get(conn, name)
    if as_json:
        emit_json(et.to_dict())
        return
    click.echo(f"{et.name} — {label_text(et.label)} (version {et.version}, from {et.source})")
    if et.title_field:
        click.echo(f"title field: {et.title_field}")
    if et.definition.get("indexes"):
        click.echo(f"indexes: {', '.join(et.definition['indexes'])}")
    if et.definition.get("unique"):
        click.echo("unique: " + ", ".join(u if isinstance(u, str) else "+".join(u) for u in et.definition["unique"]))
    from .. import schema_types
    from ..instants import formats_of
    required = schema_types.required_properties(et.schema, et.schema)
    rows = []
    for fname, sub in et.properties().items():
        # a field of several types (anyOf, an enum of mixed values) shows them all:
        # "integer|string", not nothing; one that may also be null says so ("string|null")
        types = schema_types.field_types(et.schema, et.schema, [fname], null=True) or set()
        t = et.property_type(fname) or "|".join(sorted(types - {"null"}))
        if t and "null" in types:
            t += "|null"
        sub = sub if isinstance(sub, dict) else {}  # a property may be a boolean schema
        # a format inside anyOf/oneOf branches counts too ({"anyOf": [date, null]} is a date)
        formats = formats_of(et.schema, sub) or ()
        extra = "|".join(sorted(formats)) or ("enum" if "enum" in sub else "")
        rows.append([fname, t, extra, "yes" if fname in required else ""])
    table(rows, ["FIELD", "TYPE", "FORMAT", "REQUIRED"])


@contextmanager
def _about(path):
    """Prefix a refused definition's message with its file (pointers are inside the file)."""
    try:
        yield
    except DefinitionError as e:
        e.message = f"{path}: {e.message}"
        raise


#: What ``types show --json`` and ``types list --json`` print beside the definition: a file
#: saved from them, edited and given back is read without them.
_SHOWN_ONLY = ("version", "source", "records")


def _load_definition(path, what: str = "an entity type definition"):
    """The JSON object in ``path``; ``what`` names it in the refusal of anything else."""
    d = read_json_file(path)
    if not isinstance(d, dict):
        raise ValidationError(f"{path}: {what} is a JSON object", [{"pointer": "", "message": "not an object"}])
    return d


def _load_type_definition(path) -> tuple[dict, int | None]:
    """An entity type definition from ``path`` and the version it says it was shown at (None
    when it says none), without the keys only listings add (:data:`_SHOWN_ONLY`)."""
    d = _load_definition(path)
    version = d.get("version")
    if version is not None and (type(version) is not int or version < 1):
        raise ValidationError(f"{path}: \"version\" is the stored version the file was shown at (a whole "
                              "number from `xrm types show NAME --json`), or left out",
                              [{"pointer": "/version", "message": f"{version!r} is not a version number"}])
    return {k: v for k, v in d.items() if k not in _SHOWN_ONLY}, version


@types.command("add")
@click.argument("file", type=click.Path(dir_okay=False))
@admin_as_option
@json_option
@pass_ctx
def types_add(c, file, as_user, as_json):
    """Add an entity type from a JSON FILE."""
    from .. import entity_types
    d, _ = _load_type_definition(file)  # a type shown by another database: its version says nothing here
    with _about(file), c.admin_connection(as_user) as conn:
        et = entity_types.add(conn, d)
    _warn_about(d)
    if as_json:
        emit_json(et.to_dict())
    else:
        click.echo(f"entity type {et.name!r} added (version {et.version})")


def _warn_about(d: dict, before=None) -> None:
    """On stderr: each ``format`` of the schema that validation does not check, and each
    top-level property whose name no filter can give (it holds a dot) that the type held
    ``before`` (the stored type an update replaces) did not declare already."""
    from ..entity_types import dotted_properties
    from ..validation import unchecked_formats
    known = set(dotted_properties(before.schema)) if before is not None else set()
    for name in dotted_properties(d.get("schema")):
        if name in known:
            continue
        click.echo(f"warning: property {name!r} has a dot in its name: it is stored and validated, but cannot "
                   "be named in filters, sorting, indexes or KPIs (a dot separates a path into nested objects); "
                   f"rename it (e.g. {name.replace('.', '_')!r}) to use it there", err=True)
    for ptr, fmt in unchecked_formats(d.get("schema")):
        click.echo(f"warning: /schema{ptr}: format {fmt!r} is not one xrm checks (date, date-time, email, uri, "
                   "uuid… — JSON Schema's own); values are accepted whatever they hold", err=True)


@types.command("update", short_help="Replace a type's definition if every stored record stays valid.")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Check stored records and report; change nothing.")
@admin_as_option
@json_option
@pass_ctx
def types_update(c, file, dry_run, as_user, as_json):
    """Replace a type's definition from FILE, if every stored record stays valid.

    FILE may be the output of `xrm types show NAME --json`, edited: its "version" must then
    still be the stored one (the change is refused if the type changed meanwhile).
    """
    from .. import entity_types, kpis
    d, version = _load_type_definition(file)
    try:
        with _about(file), c.admin_connection(as_user) as conn:
            before = entity_types.load_all(conn)
            report = entity_types.update(conn, d, dry_run=dry_run, if_version=version)
            kpis.check_type_change(c.platform, conn, before, d["name"], d)
            kept = entity_types.undeclared_values(conn, before[d["name"]], entity_types.EntityType(d, 0)) \
                if report["changed"] else {}
        _warn_about(d, before.get(d["name"]))
        _note_undeclared(d["name"], kept, dry_run)
    except (ValidationError, Conflict) as e:
        if as_json and "impact" in e.extra:
            emit_json({**e.extra["impact"], "applied": False, "error": e.message})
        raise
    if as_json:
        emit_json(report)
        return
    verb = "would be applied" if dry_run else "applied"
    if not report["changed"]:
        click.echo(f"{report['type']}: no change")
    else:
        click.echo(f"{report['type']}: {report['checked']} records checked, all valid; change {verb}"
                   + ("" if dry_run else f" (version {report['version']})"))


def _note_undeclared(type_name: str, kept: dict[str, int], dry_run: bool) -> None:
    """On stderr: the records still holding a property the new definition no longer declares."""
    would = "would no longer declare" if dry_run else "no longer declares"
    for name, n in kept.items():
        shown = name if name.isidentifier() else repr(name)  # "a.b", "First Name" quoted
        click.echo(f"note: {n} {type_name} record{'s hold' if n != 1 else ' holds'} {shown}, which the schema "
                   f"{would}: kept as stored (a JSONL export keeps it, a CSV export leaves it out)", err=True)


@types.command("remove")
@click.argument("name")
@admin_as_option
@pass_ctx
def types_remove(c, name, as_user):
    """Remove a type that has no records (the roles' grants on it go with it)."""
    from .. import entity_types, kpis
    with c.admin_connection(as_user) as conn:
        before = entity_types.load_all(conn)
        grants = entity_types.remove(conn, name)
        kpis.check_type_change(c.platform, conn, before, name, None)
    click.echo(f"entity type {name!r} removed" + (f", with the {grants} grant(s) of roles on it" if grants else ""))


@click.group()
def reltypes():
    """Relationship types between entity types."""


@reltypes.command("list")
@as_option
@json_option
@pass_ctx
def reltypes_list(c, as_user, as_json):
    """Every relationship type."""
    from .. import relationships
    with c.reader_connection(as_user) as conn:
        items = sorted(relationships.load_all(conn).values(), key=lambda d: d["name"])
    if as_json:
        emit_json(items)
        return
    table([[d["name"], d["source"], d["target"], d["cardinality"], d.get("on_delete", "unlink"),
            label_text(d.get("label"))] for d in items],
          ["NAME", "SOURCE", "TARGET", "CARDINALITY", "ON_DELETE", "LABEL"])


@reltypes.command("add")
@click.argument("file", type=click.Path(dir_okay=False))
@admin_as_option
@json_option
@pass_ctx
def reltypes_add(c, file, as_user, as_json):
    """Add a relationship type from a JSON FILE."""
    from .. import entity_types, relationships
    d = _load_definition(file, "a relationship type definition")
    with _about(file), c.admin_connection(as_user) as conn:
        saved = relationships.save(conn, d, set(entity_types.load_all(conn)))
    if as_json:
        emit_json(saved)
    else:
        click.echo(f"relationship type {saved['name']!r} added")


@reltypes.command("remove")
@click.argument("name")
@admin_as_option
@pass_ctx
def reltypes_remove(c, name, as_user):
    """Remove a relationship type that no relationship uses.

    While relationships of it exist it is refused, naming how many and the first of them
    (id, source and target): remove each with `xrm unrelate RELATIONSHIP_ID`, then the type."""
    from .. import relationships
    with c.admin_connection(as_user) as conn:
        relationships.remove(conn, name)
    click.echo(f"relationship type {name!r} removed")
