"""Record page actions beyond editing: delete (after a confirmation page), link to another
record through a relationship type, remove a link; and the record form's buttons that add or
remove a row of a list without JavaScript.

No JavaScript: linking is two steps — the record page picks the relationship (and its
direction) and a search text, the link page lists the matching records of the other type,
each with its own small form. Every action is a CSRF-protected POST acting as the logged-in
user, so the core's scope and grants decide, and a refusal comes back as a message on the
record page.
"""
from __future__ import annotations

from collections import Counter

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from sqlalchemy import or_, select

from ... import db, records, relationships
from ...deletes import DELETE_CHUNK
from ...errors import Conflict, NotFound, PermissionDenied, PreconditionFailed, ValidationError
from . import core_messages, deleted_with, forms, listing, nested_inputs
from .common import acting
from .i18n import digits
from .i18n import isolated as _isolated
from .pages import _fields, _RowView, bp
from .record_forms import _render_form
from .record_titles import _title, _title_of, _titles_of
from .reference_inputs import _with_choices
from .relationship_labels import (relationship_description, relationship_heading, relationship_label,
                                  relationship_sources)

#: Candidate records the link page offers at once (narrow them with the search text).
CANDIDATES = 50


def _record(s, type_name: str, record_id: str):
    rec = s.get(record_id)
    if rec.type != type_name:
        raise NotFound(f"no record {record_id!r}")
    return rec


def _back(rec, anchor: str = ""):
    return redirect(url_for("pages.show", type_name=rec.type, record_id=rec.id) + anchor)


@bp.route("/<type_name>/<record_id>/delete", methods=["GET", "POST"])
def delete(type_name: str, record_id: str):
    """GET: what deleting would do, and a button; POST: delete (the relationship types'
    ``on_delete`` decide about links; ``restrict`` refuses with the links named)."""
    with acting(write=request.method == "POST") as s:
        rec = _record(s, type_name, record_id)
        if not s.allows(rec.type, "delete", _RowView(rec)):
            abort(403)
        et = s.entity_type(rec.type)
        if request.method == "GET":
            links = s.related(rec.id)
            # What the delete would do, said before it: the records its cascades take further
            # down than its own links, or the refusal it would meet (a restrict down a chain,
            # a cascade into a record the user may not delete: counted by nobody, since it
            # keeps the delete from happening). The page used to promise "deleted with it: 1
            # record you cannot see" for a delete that was then refused.
            refusal, further = None, []
            try:
                preview = s.delete_preview(rec.id)
            except Conflict as e:
                restricted = getattr(e, "restricted", None)
                if not restricted:
                    refusal = core_messages.explain(e).said(lambda m: _("Cannot be deleted: %(msg)s", msg=m))
                elif (restricted[0] != rec.id  # (its own restrict links are listed below, if visible)
                      or not {r.target_id for r in restricted[1]} <= {i["record"].id for i in links}):
                    refusal = _restrict_said(s, rec, restricted, before=True)
            except PermissionDenied as e:
                # (said before any delete was tried: "cannot be", not "not deleted")
                refusal = core_messages.explain(e).said(lambda m: _("Cannot be deleted: %(msg)s", msg=m))
            else:
                further = _cascaded_further(s, rec, links, preview)
            outcomes = _delete_outcomes(s, links, further)
            # A hub's 10,000 links made a page of 10,000 items: the first OUTCOMES_SHOWN are
            # named (those that keep it from being deleted first), the rest counted by outcome.
            more = Counter(o["outcome"] for o in outcomes[OUTCOMES_SHOWN:])
            return render_template("delete.html", et=et, rec=rec, links=len(links), title=_title_of(et, rec),
                                   type_label=listing.type_label(et), outcomes=outcomes[:OUTCOMES_SHOWN],
                                   more=more, refusal=refusal)
        # The confirmation page carries the version it showed: a record changed since (the
        # page was open a while, or came back through the browser's history) is not deleted
        # unseen. A form without one (a page of an older release) is not checked.
        version = request.form.get("version")
        try:
            deleted = s.delete(rec.id, if_version=None if version is None else forms.version_of(version))
            # What went with it, for the message: what the delete says it removed (a record a
            # hook related to it meanwhile included), not what a read before it expected.
            taken = deleted_with.taken(deleted, rec.id, lambda r: _title(s, r))
        except PreconditionFailed:
            flash(_("Not deleted: this record was changed by someone else since you asked to delete it "
                    "(it is now at version %(v)s). Check the changes and delete it again.",
                    v=digits(rec.version)), "error")
            return _back(rec)
        except Conflict as e:
            restricted = getattr(e, "restricted", None)
            flash(_restrict_said(s, rec, restricted) if restricted
                  else core_messages.explain(e).said(lambda m: _("Not deleted: %(msg)s", msg=m)), "error")
            return _back(rec)
        except PermissionDenied as e:  # a cascade to a record beyond the scope
            flash(core_messages.explain(e).said(lambda m: _("Not deleted: %(msg)s", msg=m)), "error")
            return _back(rec)
    flash(deleted_with.said(_title_of(et, rec), taken), "ok")
    return redirect(url_for("pages.list_records", type_name=type_name))


#: How many linked records the delete page names; the others are counted.
OUTCOMES_SHOWN = 100


def _delete_outcomes(s, links: list[dict], further: list[dict]) -> list[dict]:
    """What deleting does to each link the user can see (``Session.related`` items), for the
    confirmation page: ``{"outcome": "cascade"|"restrict"|"unlink", "record", "title",
    "label"}``. The page said only "each relationship type's rule decides", so staff could
    not tell which linked records go with it, and which keep it from being deleted. Only a
    link from the record (its source end) cascades or restricts (:mod:`xrm_core.deletes`).
    ``further``: items of the records the cascades take beyond the links (:func:`_cascaded_further`)."""
    sources = relationship_sources(s)
    out = []
    for item in links:
        rt = s.relationship_type(item["relationship"]["type"])
        outgoing = item["direction"] == "outgoing"
        rule = rt.get("on_delete") if outgoing else None
        out.append({"outcome": rule if rule in ("cascade", "restrict") else "unlink", "record": item["record"],
                    "title": _title(s, item["record"]), "label": relationship_label(rt, outgoing, sources)})
    order = {"restrict": 0, "cascade": 1, "unlink": 2}
    return sorted(out + further, key=lambda o: order[o["outcome"]])


def _cascaded_further(s, rec, links: list[dict], preview: dict) -> list[dict]:
    """The records the delete of ``rec`` takes that are not linked to it directly (further
    down its cascades), as :func:`_delete_outcomes` items, each labelled with the
    relationship whose cascade reaches it. All of them readable: a cascade into a record the
    user may not read refuses the delete (``Session.delete_preview``)."""
    direct = {item["record"].id for item in links} | {rec.id}
    further = [rid for rid in preview["records"] if rid not in direct]
    found = {}
    for i in range(0, len(further), DELETE_CHUNK):  # (a parameter per id: PostgreSQL takes 65,535)
        found.update(records.get_many(s, further[i:i + DELETE_CHUNK]))
    sources = relationship_sources(s)
    return [{"outcome": "cascade", "record": found[rid], "title": _title(s, found[rid]),
             "label": relationship_label(s.relationship_type(preview["reached_by"][rid]), True, sources)}
            for rid in further if rid in found]


def _restrict_said(s, rec, restricted, before: bool = False) -> str:
    """A delete a ``restrict`` relationship refused, in staff's words: the records that hold
    it back by title and the relationship by its label. The core's message names them by
    id and type name ("cannot delete 01a2…: its relationship type(s) holds_note
    restrict …"), which staff cannot act on. ``restricted`` is the error's ``(record id,
    blocking relationship rows)``: the record is ``rec``, or one its cascades would delete.
    A record the user cannot see is not named. ``before``: said on the confirmation page,
    before any delete was tried ("Cannot be deleted"), not after one ("Not deleted")."""
    held_id, blocked = restricted
    titles = {k: _isolated(v) for k, v in _titles_of(s, {held_id} | {r.target_id for r in blocked}).items()}
    sources = relationship_sources(s)
    links = _(", ").join(dict.fromkeys(
        _("%(record)s («%(relationship)s»)", record=titles.get(r.target_id, _("a record you cannot see")),
          relationship=_isolated(relationship_label(s.relationship_type(r.type), True, sources))) for r in blocked))
    if held_id == rec.id:
        if before:
            return _("Cannot be deleted: it is linked to %(links)s, and such a link keeps it from being "
                     "deleted. Remove the link first.", links=links)
        return _("Not deleted: it is linked to %(links)s, and such a link keeps it from being deleted. "
                 "Remove the link first.", links=links)
    record = titles.get(held_id, _("a record you cannot see"))
    if before:
        return _("Cannot be deleted: deleting it would also delete %(record)s, which is linked to %(links)s, "
                 "and such a link keeps it from being deleted. Remove the link first.", record=record, links=links)
    return _("Not deleted: deleting it would also delete %(record)s, which is linked to %(links)s, and such a "
             "link keeps it from being deleted. Remove the link first.", record=record, links=links)


def link_choices(s, type_name: str) -> list[dict]:
    """The relationship types a record of ``type_name`` can take part in, each direction it
    can take: ``{"value": "REL:out|in", "label", "other", "description"}`` (other = the
    other end's type; label = ``heading``, :func:`.pages.relationship_heading`; description
    "" when the type has none)."""
    out = []
    types = s.entity_types_map()

    def shown(t):
        return listing.type_label(s.entity_type(t)) if t in types else t
    sources = relationship_sources(s)
    for name, rt in sorted(relationships.load_all(s.conn).items()):
        description = relationship_description(rt, sources)
        for outgoing, end, other in ((True, "source", "target"), (False, "target", "source")):
            if rt[end] == type_name:
                heading = relationship_heading(rt, outgoing, sources, shown(rt[other]))
                out.append({"value": f"{name}:{'out' if outgoing else 'in'}", "other": rt[other],
                            "label": heading, "heading": heading, "description": description})
    return out


def offered_links(s, rec) -> list[dict]:
    """The :func:`link_choices` of ``rec`` the record page offers: those the user may make
    some link through (:func:`may_link`), so the link page it leads to has buttons."""
    return [c for c in link_choices(s, rec.type)
            if may_link(s, rec, c["value"].endswith(":out"), c["other"],
                        s.relationship_type(c["value"].split(":")[0])) is None]


def _choice(s, rec, value: str) -> dict:
    for c in link_choices(s, rec.type):
        if c["value"] == value:
            return c
    raise ValidationError(f"{rec.type} records cannot be linked through {value!r}",
                          [{"pointer": "/rel", "message": "not a relationship of this type"}])


@bp.get("/<type_name>/<record_id>/link")
def link_candidates(type_name: str, record_id: str):
    """Records of the other end's type matching the search text, each with a Link button;
    one the relationship's cardinality would refuse (:func:`_full_ends`) is marked with the
    reason instead, and when this record has its one link already, none is offered."""
    q = request.args.get("q", "").strip()
    with acting() as s:
        rec = _record(s, type_name, record_id)
        choice = _choice(s, rec, request.args.get("rel", ""))
        other = s.entity_type(choice["other"])
        rel, direction = choice["value"].split(":")
        linked = {item["record"].id for item in s.related(rec.id, rel)}
        items = [r for r in s.list(other.name, limit=CANDIDATES, search=listing.search_of(other, q))
                 if r.id != rec.id]
        et = s.entity_type(rec.type)
        rt = s.relationship_type(rel)
        full, own_full = _full_ends(s, rt, direction == "out", rec.id, [r.id for r in items])
        sources = relationship_sources(s)
        # The relationship as a candidate reads it (the other end of this record's).
        theirs = relationship_label(rt, direction == "in", sources)
        # The core relates only for a user who may change the link's source (and its target
        # when the link binds it): a button it would refuse is not offered (see may_link).
        may = may_link(s, rec, direction == "out", other.name, rt)
        ends = (lambda r: (_RowView(rec), _RowView(r))) if direction == "out" else (lambda r: (_RowView(r), _RowView(rec)))
        rows = []
        for r in items:
            refused = relationships.link_refusal(s, rt, *ends(r)) is not None
            # A taken slot is told only where the core would tell it: it refuses a link the
            # user may not make (403) before it looks at the slots (409), so a reader does
            # not learn of a link held by a record they may not see.
            rows.append({"id": r.id, "title": _title(s, r), "linked": r.id in linked,
                         "full": r.id in full and r.id not in linked and not refused, "refused": refused})
        own_full = own_full and may is None
    return render_template("link.html", et=et, rec=rec, title=_title_of(et, rec), choice=choice, q=q,
                           rows=rows, other_label=listing.type_label(other, True), more=len(items) >= CANDIDATES,
                           theirs=theirs, own_full=own_full, read_only=may,
                           ours=relationship_label(rt, direction == "out", sources))


def may_link(s, rec, outgoing: bool, other: str | None = None, rt: dict | None = None) -> str | None:
    """Why the user may link no record to ``rec`` through a relationship (type ``rt``) it
    is the source (``outgoing``) or the target of, or None when some link may be allowed.
    The core (:func:`~xrm_core.relationships.link_refusal`) asks for update on the source,
    and on the target when the link binds it (one-to-one, one-to-many, cascade; read
    otherwise): ``rec`` must be one the user may change when it is the source or a bound
    target; for the other end, the user needs a grant to change records of its type
    ``other`` when that end must be changed (each candidate is checked on its own on the
    link page). The record page offers only the relationships this allows."""
    bound = rt is None or relationships.binding(rt) is not None  # without rt: as strict as may be
    if (outgoing or bound) and not s.allows(rec.type, "update", _RowView(rec)):
        return _("You may see %(record)s but not change it, and linking it needs that: no link is offered.",
                 record=_title(s, rec))
    if (outgoing and not bound) or other is None or s.actor.can(other, "update"):
        return None
    return _("Linking needs permission to change the %(type)s record at the other end, which you do not have: "
             "no link is offered.", type=listing.type_label(s.entity_type(other)))


def _full_ends(s, rt: dict, outgoing: bool, record_id: str, candidates: list[str]) -> tuple[set, bool]:
    """Which ``candidates`` already hold the one link the relationship type ``rt``'s
    cardinality allows them at their end, and whether the record ``record_id`` holds its own
    (every link from it would be refused) — what :func:`~xrm_core.relationships.relate`
    checks, over every link (one whose other end the user cannot see counts: the core
    refuses on it too), read in one query, so the link page marks them instead of offering a
    button the core refuses. ``outgoing``: the record is the source, the candidates targets."""
    card = rt["cardinality"]
    target_takes_one = card in ("one-to-one", "one-to-many")  # a target has at most one source
    source_takes_one = card == "one-to-one"  # a source has at most one target
    mine, theirs = (source_takes_one, target_takes_one) if outgoing else (target_takes_one, source_takes_one)
    R = db.relationships
    own_col, their_col = (R.c.source_id, R.c.target_id) if outgoing else (R.c.target_id, R.c.source_id)
    conds = ([their_col.in_(candidates)] if theirs and candidates else []) + ([own_col == record_id] if mine else [])
    full, own = set(), False
    if not conds:
        return full, own
    for mine_id, their_id in s.conn.execute(select(own_col, their_col).where(R.c.type == rt["name"], or_(*conds))):
        own = own or (mine and mine_id == record_id)
        if theirs:
            full.add(their_id)  # a link at its end, whichever record holds the other
    return full, own


@bp.post("/<type_name>/<record_id>/link")
def link(type_name: str, record_id: str):
    """Relate this record and ``other`` through the chosen relationship and direction."""
    with acting(write=True) as s:
        rec = _record(s, type_name, record_id)
        choice = _choice(s, rec, request.form.get("rel", ""))
        rel, direction = choice["value"].split(":")
        other = request.form.get("other", "")
        source, target = (rec.id, other) if direction == "out" else (other, rec.id)
        try:
            s.relate(rel, source, target)
        except Conflict as e:
            flash(_full_end(s, e, rel, source, target) or
                  core_messages.explain(e).said(lambda m: _("Not linked: %(msg)s", msg=m)), "error")
        except (ValidationError, NotFound, PermissionDenied) as e:
            flash(core_messages.explain(e).said(lambda m: _("Not linked: %(msg)s", msg=m)), "error")
        else:
            flash(_("Linked."), "ok")
    return _back(rec, "#related")


def _full_end(s, e: Conflict, rel: str, source: str, target: str) -> dict | None:
    """A link refused by the relationship's cardinality, said in the UI's language with the
    record that has its one link already and the relationship as that record reads it (the
    core names both by id: "01a2… already has a 'person_owns_asset' source…"), or two
    records already linked, said in words; on a page in another language than English the
    core's message follows as the detail. None for any other conflict."""
    pointers = {err.get("pointer") for err in e.errors if isinstance(err, dict)}
    if pointers not in ({"/target"}, {"/source"}):
        return None
    rt = s.relationship_type(rel)
    sources = relationship_sources(s)
    if pointers == {"/target"} and any(item["record"].id == source for item in s.related(target, rel)):
        # The same two records: said in words in English too (the core's text names both by id).
        said = core_messages.explain(e)
        text = core_messages.sentence(e) if said.detail is None else said.text
        return {"text": _("Not linked: %(msg)s", msg=text), "detail": said.detail}
    at_target = pointers == {"/target"}
    try:
        full = s.get(target if at_target else source)
    except NotFound:
        return None
    return {"text": _("Not linked: %(record)s already has its one link “%(rel)s”; remove that link first.",
                      record=_title(s, full), rel=relationship_label(rt, not at_target, sources)),
            "detail": core_messages.explain(e).detail}


@bp.post("/<type_name>/<record_id>/unlink/<relationship_id>")
def unlink(type_name: str, record_id: str, relationship_id: str):
    """Remove one of this record's relationships."""
    with acting(write=True) as s:
        rec = _record(s, type_name, record_id)
        if relationship_id not in {item["relationship"]["id"] for item in s.related(rec.id)}:
            raise NotFound(f"no relationship {relationship_id!r} of {rec.id}")
        s.unrelate(relationship_id)
    flash(_("Link removed."), "ok")
    return _back(rec, "#related")


def _rows_changed(fields, form) -> tuple[dict, nested_inputs.ErrorMap]:
    """The posted form's inputs with the row the user asked for added (``~add``: the list's
    name) or removed (``~remove``: the row's name), as the form shows them again; and the
    errors of what could not be done: a list already holding as many rows as its schema's
    ``maxItems`` (or :data:`~.nested_inputs.MAX_ROWS`) allows gets none more, and a list
    posted with more rows than a form holds is refused (:func:`~.nested_inputs.overflow`)."""
    values = {k: form.get(k, "") for k in form.keys() if k not in ("~add", "~remove")}
    errors = nested_inputs.overflow(fields, values)
    removed = form.get("~remove")
    if removed:
        values = {k: v for k, v in values.items() if k != removed and not k.startswith(removed + ".")}
    added = form.get("~add")
    found = nested_inputs.find(fields, added) if added else None
    if found and found[0].widget == "list" and not errors:
        f, path = found
        numbers = [int(n) for n in nested_inputs.rows(values, added)]
        if len(numbers) >= nested_inputs.row_limit(f):
            # Said at the list (its path with the form's row numbers as they are: a list
            # inside a group has none).
            errors.add(path, _("no row added: the list holds at most %(n)s items",
                               n=digits(nested_inputs.row_limit(f))))
        else:
            # A row exists once one of its inputs does: an empty one, numbered after the
            # last, with the inputs the schema's defaults fill in.
            row = path + (str(max(numbers + [-1]) + 1),)
            values[nested_inputs.name_of(row)] = ""
            values.update(nested_inputs.default_inputs(f.item, row))
    return values, errors


@bp.post("/<type_name>/new/rows", endpoint="new_rows")
@bp.post("/<type_name>/<record_id>/edit/rows", endpoint="edit_rows")
def form_rows(type_name: str, record_id: str | None = None):
    """A record form's "add a row" and "remove" buttons without JavaScript: the form again,
    as typed, with one row more or less. Nothing is written (the save button posts to the
    form's own address)."""
    with acting() as s:
        rec = None
        if record_id is not None:
            rec = _record(s, type_name, record_id)
            if not s.allows(rec.type, "update", _RowView(rec)):
                abort(403)
        et = s.entity_type(type_name)
        if rec is None and not s.actor.can(et.name, "create"):
            abort(403)
        fields = _fields(s, et)
        values, errors = _rows_changed(fields, request.form)
        _with_choices(s, fields, values)
    return _render_form(et, fields, values, errors, [], rec, status=422 if errors else 200)
