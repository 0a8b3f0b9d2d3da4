"""The type browser: every entity type with its fields; administrators edit a definition
as JSON with the impact check (a dry run reports which stored records would become invalid,
and the change is applied only when none would)."""
from __future__ import annotations

import orjson
from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ... import entity_types, kpis, relationships
from ...errors import Conflict, XrmError
from . import forms, listing
from .common import acting, blueprint, platform
from .core_messages import explain
from .form_errors import FormErrors
from .i18n import RTL, digits, lang

bp = blueprint("types", __name__, url_prefix="/types")


@bp.get("/")
def index():
    with acting() as s:
        rows = []
        for name in sorted(s.entity_types_map()):
            et = s.entity_type(name)
            readable = s.actor.can(name, "read")
            rows.append({"et": et, "label": listing.type_label(et), "description": listing.type_description(et),
                         "fields": len(et.properties()),
                         "count": s.count(name) if readable else None, "readable": readable})
    return render_template("types.html", rows=rows)


def _field_rows(s, et) -> list[dict]:
    fields = forms.build(et, set(s.entity_types_map()), lambda n: listing.field_label(et, n),
                         lambda n, v: listing.value_label(et, n, v))
    words = _input_words()
    known = s.entity_types_map()
    # property_type takes the name as written: field_type reads "a.b" as a path into "a".
    return [{"f": f, "type": et.property_type(f.name) or "any", "input": words.get(f.widget, f.widget),
             "ref": listing.type_label(s.entity_type(f.ref)) if f.ref in known else f.ref,
             "arrow": "←" if lang() in RTL else "→"}  # along the reading order
            for f in fields]


def _input_words() -> dict:
    """What each kind of input is called in the UI's language (a Chinese type page listed
    "text", "select", "ref")."""
    return {"text": _("text"), "textarea": _("long text"), "select": _("choice"), "date": _("date"),
            "datetime": _("date and time"), "integer": _("whole number"), "number": _("number"),
            "checkbox": _("checkbox"), "json": _("JSON"), "ref": _("record"), "group": _("group of inputs"),
            "list": _("list of rows")}


def _relationship_rows(s, et) -> list[dict]:
    """The relationship types a record of ``et`` takes part in, each end it can be at (a
    type at both ends twice): ``{"name", "heading", "cardinality", "description"}`` in the
    UI's language, the heading as read from ``et`` (``owns → Asset``)."""
    from .pages import relationship_description, relationship_heading, relationship_sources
    types = s.entity_types_map()
    sources = relationship_sources(s)
    words = _cardinality_words()
    out = []
    for rel_name, rt in sorted(relationships.load_all(s.conn).items()):
        for outgoing, end, other in ((True, "source", "target"), (False, "target", "source")):
            if rt[end] not in (et.name, "*"):
                continue
            other_label = listing.type_label(s.entity_type(rt[other])) if rt[other] in types else rt[other]
            out.append({"name": rel_name, "heading": relationship_heading(rt, outgoing, sources, other_label),
                        # Read from this end: a one-to-many seen from its target is many to one.
                        "cardinality": words.get((rt.get("cardinality"), outgoing), rt.get("cardinality")),
                        "description": relationship_description(rt, sources)})
    return out


def _cardinality_words() -> dict:
    """``{(cardinality, read from the source): words}`` in the UI's language."""
    one, many, to_one, both = _("one to one"), _("many to many"), _("many to one"), _("one to many")
    return {("one-to-one", True): one, ("one-to-one", False): one, ("many-to-many", True): many,
            ("many-to-many", False): many, ("one-to-many", True): both, ("one-to-many", False): to_one}


@bp.route("/<name>", methods=["GET", "POST"])
def show(name: str):
    report = errors = None
    text = None
    if request.method == "POST":
        if not g.is_admin:
            abort(403)
        text = request.form.get("definition", "")
        version = request.form.get("version")
        report, errors, applied = _check_or_apply(name, text, request.form.get("action") == "apply", version)
        if applied:
            flash(_("Type %(name)s updated to version %(v)s.", name=name, v=report["version"]), "ok")
            return redirect(url_for("types.show", name=name))
    with acting() as s:
        et = s.entity_type(name)
        rows = _field_rows(s, et)
        rel_rows = _relationship_rows(s, et)
    if text is None:
        text = orjson.dumps(et.definition, option=orjson.OPT_INDENT_2).decode()
        version = et.version
    status = 422 if errors else 200
    # Every pointer of a refused definition is inside the text: the errors are said at its
    # textarea; what happened (and a stale form) in the summary only.
    form = FormErrors("type", {"definition": _("Definition")})
    for err in errors or []:
        form.add_pointer(err.get("pointer", ""), err.get("message", ""), err.get("lang"))
    # The form keeps the version the text was edited from (a refused text shown again still
    # says which one), so applying it can be refused when the type changed meanwhile.
    return render_template("type.html", et=et, rows=rows, rel_rows=rel_rows, text=text, report=report, errors=form,
                           version=version, label=listing.type_label(et),
                           description=listing.type_description(et)), status


def _check_or_apply(name: str, text: str, apply: bool, version: str | None = None):
    """``(report, errors, applied)`` of a dry run, or of applying when ``apply``; ``errors``
    point into the form (``/definition/...``), or at nothing for what concerns the whole form.

    ``version`` is the one the form was built from: another administrator's change applied
    since is not undone unseen (the text would silently put back the older definition).
    A form without one (a page of an older release) is not checked."""
    try:
        definition = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        return None, [{"pointer": "/definition", "message": _("not valid JSON: %(msg)s", msg=str(e))}], False
    if not isinstance(definition, dict) or definition.get("name") != name:
        return None, [{"pointer": "/definition/name",
                       "message": _("the definition must keep the name %(name)s", name=name)}], False
    before: dict = {}
    try:
        with platform().connection() as conn:
            before = entity_types.load_all(conn)
            report = entity_types.update(conn, definition, dry_run=not apply,
                                         if_version=None if version is None else forms.version_of(version))
            kpis.check_type_change(platform(), conn, before, name, definition)
    except Conflict as e:
        if any(err.get("pointer") == "/version" for err in e.errors or []) and name in before:
            return None, [{"pointer": "", "message": _(
                "This type was changed by someone else since you opened it (it is now at version "
                "%(v)s). Copy your change, reload the page and make it again.",
                v=digits(before[name].version))}], False
        return e.extra.get("impact"), _refusal(e), False
    except XrmError as e:
        return e.extra.get("impact"), _refusal(e), False
    return report, None, apply and report.get("applied", False)


def _refusal(e: XrmError) -> list[dict]:
    """The lines of a refused definition: what happened in the UI's language (the core's
    English message after it on a page in another language), then each pointer's message."""
    said = explain(e)
    head = [{"pointer": "", "message": said.text}]
    if said.detail:
        head.append({"pointer": "", "message": said.detail, "lang": "en"})
    return head + [{**item, "pointer": "/definition" + item.get("pointer", "")} if item.get("pointer") else item
                   for item in said.items]

