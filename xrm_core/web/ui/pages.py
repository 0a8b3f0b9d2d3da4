"""Record pages: per-type lists (filters, search, paging, CSV), the record page, forms."""
from __future__ import annotations

import itertools

import orjson
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from ... import db, filters, records, relationships
from ...errors import Conflict, NotFound, PreconditionFailed, ValidationError, XrmError
from ...fields import value_at
from ...session import MAX_SUMMARY
from .. import query
from . import core_messages, field_choices, forms, listing, nested_inputs, required_reasons, schema_messages
from .common import acting, blueprint
from .form_errors import FormErrors
from .i18n import RTL, digits, lang, tr

bp = blueprint("pages", __name__, url_prefix="/r")
#: ``pointer_label(et, pointer)`` for the templates: where an error is, said with the fields'
#: labels (the import report's field column).
bp.add_app_template_global(listing.pointer_label)
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000


def _sort_arg() -> list[str]:
    """The list's order from ``sort`` (``FIELD``, or ``-FIELD`` for descending), as the core
    takes it; none (the records' id order) when absent. The core refuses a field that is
    not the type's, with a pointer the page shows."""
    sort = request.args.get("sort", "").strip()
    return [sort] if sort and sort != "-" else []


def _after(sort: list[str]):
    """The keyset position of a next page: a record id, or when sorted a cursor holding the
    sort value too (the API's, :func:`..query.cursor_encode`); None on the first page."""
    after = request.args.get("after") or None
    if after is None:
        return None
    return query.cursor_decode(after, sort) if sort else (after,)


@bp.get("/<type_name>")
def list_records(type_name: str):
    q = request.args.get("q", "").strip()
    rows = listing.filter_rows(request.args)
    sort = _sort_arg()
    with acting() as s:
        et = s.entity_type(type_name)  # unknown: NotFound, a 404 page
        items, error = [], None
        try:
            where = listing.where_of(et, rows)
            filters.refuse_values_never_held(s.dialect, et, where)  # a typo: "none" would mislead
            items = s.list(et.name, where, limit=PAGE_SIZE + 1, sort=sort or None, after=_after(sort),
                           search=listing.search_of(et, q))
        except ValidationError as e:
            error = core_messages.explain(e, lambda n: listing.field_label(et, n))
        more = len(items) > PAGE_SIZE
        items = items[:PAGE_SIZE]
        can_create = s.actor.can(et.name, "create")
        cols = listing.columns(et)
        titles = _reference_titles(s, et, cols, items)
    next_args = None
    if more:
        next_args = request.args.to_dict(flat=False)
        last = items[-1]
        next_args["after"] = [query.cursor_encode(sort, [value_at(last.data, sort[0].lstrip("-")), last.id])
                              if sort else last.id]
    # A refusal's summary, each entry linked to the input to correct; the rows it points at marked.
    error_entries, bad_fields = listing.filter_error_entries(et, error.items if error else [], rows)
    fields = listing.filter_fields(et)
    return render_template("list.html", et=et, items=items, columns=cols, q=q, rows=rows, error=error,
                           error_entries=error_entries, bad_fields=bad_fields, fields=fields,
                           suggestions=field_choices.filter_suggestions(
                               et, fields, lambda c, v: listing.value_label(et, c, v)),
                           ops=listing.op_labels(), next_args=next_args,
                           paged=bool(request.args.get("after")), can_create=can_create,
                           description=listing.type_description(et), sort=sort[0] if sort else "",
                           sort_link=lambda c: _sort_link(et, c, sort),
                           label=lambda n: listing.field_label(et, n), type_label=listing.type_label(et, True),
                           cell=lambda data, c: value_at(data, c) if c == et.title_field else data.get(c),
                           value_label=lambda c, v: (titles.get((c, v)) if isinstance(v, str) else None)
                           or listing.value_label(et, c, v))


def _reference_titles(s, et, columns: list[str], items) -> dict:
    """``{(column, id): title}`` for the list's reference columns (``x-ref``): a cell named
    the record it refers to by its opaque id, which staff cannot read. Only records the
    user may see are named (:func:`_titles_of`); any other keeps its id, as on the record
    page."""
    known = set(s.entity_types_map())
    refs = [c for c in columns if forms.reference_type(et, c, known)]
    wanted = {(c, r.data.get(c)) for c in refs for r in items if isinstance(r.data.get(c), str)}
    found = _titles_of(s, {v for _c, v in wanted})
    return {(c, v): found[v] for c, v in wanted if v in found}


def _sort_link(et, column: str, sort: list[str]) -> str:
    """The list ordered by ``column``: ascending, or descending when it is ascending now;
    the filters and search kept, back on the first page."""
    args = request.args.to_dict(flat=False)
    args.pop("after", None)
    args["sort"] = ["-" + column] if sort == [column] else [column]
    return url_for("pages.list_records", type_name=et.name, **args)


@bp.get("/<type_name>/export.csv")
def export_csv(type_name: str):
    """The records the list shows (every page), as CSV with formula cells neutralised."""
    q = request.args.get("q", "").strip()
    with acting() as s:
        et = s.entity_type(type_name)  # unknown: NotFound, a 404 page
        where = listing.where_of(et, listing.filter_rows(request.args))
        filters.refuse_values_never_held(s.dialect, et, where)
        items = s.list(et.name, where, limit=EXPORT_LIMIT, sort=_sort_arg() or None,
                       search=listing.search_of(et, q))
    # A byte-order mark first: spreadsheet programs read the file as UTF-8 by it (without
    # one Excel takes Persian or Chinese text for a legacy code page). xrm import skips it.
    lines = listing.csv_lines(et, items)
    body = itertools.chain(["\ufeff" + next(lines)], lines)  # written as it is sent
    return Response(body, mimetype="text/csv",  # Werkzeug adds "; charset=utf-8"
                    headers={"Content-Disposition": f'attachment; filename="{et.name}.csv"'})


def _activity_kinds(s) -> list[tuple[str, str, str]]:
    """``(name, label, description)`` of every declared activity kind, in the UI's language
    (the declaring plugin's catalogue); the description is "" when the kind has none."""
    rows = s.conn.execute(select(db.activity_kinds.c.name, db.activity_kinds.c.definition,
                                 db.activity_kinds.c.source).order_by(db.activity_kinds.c.name))
    return [(name, tr(d.get("label"), name, source),
             tr(d.get("description"), "", source) if d.get("description") else "") for name, d, source in rows]


def relationship_sources(s) -> dict[str, str]:
    """Who declared each relationship type (a plugin's name, or "admin"): its labels are
    translated by that plugin's catalogue (the core's ``relationships.load_all`` returns the
    definitions alone)."""
    return {name: source for name, source in
            s.conn.execute(select(db.relationship_types.c.name, db.relationship_types.c.source))}


def relationship_label(rt: dict, outgoing: bool, sources: dict) -> str:
    """A relationship type's label as read from the record at its ``outgoing`` (source)
    end, or its inverse label from the target's, in the UI's language."""
    return tr(rt.get("label") if outgoing else rt.get("inverse_label"), rt["name"], sources.get(rt["name"]))


def relationship_description(rt: dict, sources: dict) -> str:
    """A relationship type's ``description`` in the UI's language (the declaring plugin's
    catalogue, as its labels), "" when it has none."""
    text = rt.get("description")
    return tr(text, "", sources.get(rt["name"])) if text else ""


def relationship_heading(rt: dict, outgoing: bool, sources: dict, other_label: str) -> str:
    """A relationship as the record at one end reads it, with the other end's type:
    ``owns → Asset`` from the source, ``owned by ← Person`` from the target. On a
    right-to-left page the arrows turn round: they point along the reading order (an arrow
    is not mirrored with the text, so "مالک است → دارایی" pointed back at the label)."""
    arrow = "→" if outgoing else "←"
    if lang() in RTL:
        arrow = {"→": "←", "←": "→"}[arrow]
    return f"{relationship_label(rt, outgoing, sources)} {arrow} {other_label}"


def relationship_help(related: list[dict], links: list[dict]) -> list[tuple[str, str]]:
    """``(heading, description)`` of each relationship the record page names (its links, and
    the choices of its link form) that has a description, once each, as read from this
    record (:func:`relationship_heading`): the list under the related records, which the
    link picker points to."""
    seen, out = set(), []
    for item in [*related, *links]:
        key = (item["heading"], item.get("description", ""))
        if key[1] and key not in seen:
            seen.add(key)
            out.append(key)
    return out


def _ref_titles(s, fields, data) -> dict:
    """``{field: (id, title)}`` for reference fields whose target the user can see."""
    out = {}
    for f in fields:
        if f.widget == "ref" and isinstance(data.get(f.name), str):
            try:
                target = s.get(data[f.name])
            except NotFound:
                continue
            out[f.name] = (target, _title(s, target))
    return out


def _title(s, rec) -> str:
    return _title_of(s.entity_type(rec.type), rec)


def _fields(s, et):
    fields = forms.build(et, set(s.entity_types_map()), lambda n: listing.field_label(et, n),
                         lambda n, v: listing.value_label(et, n, v))
    for f in fields:
        f.description = listing.field_description(et, f.description)
    return fields


#: Timeline entries per record page, the latest first; "Older entries" pages back.
TIMELINE_PAGE = 100


def _older(arg: str | None) -> tuple[str, int] | None:
    """The ``older=AT_ID`` position of a timeline page (the last entry shown); None if absent
    or not one (a hand-edited link shows the latest entries)."""
    at, _, last = (arg or "").rpartition("_")
    if not at or len(at) > 32 or not (last.isascii() and last.isdigit()) or len(last) > 18:
        return None
    return at, int(last)


def _log_form() -> FormErrors:
    """The record page's form to log an interaction."""
    return FormErrors("log", {"kind": _("Kind"), "summary": _("Summary")})


@bp.get("/<type_name>/<record_id>")
def show(type_name: str, record_id: str, log_errors: FormErrors | None = None):
    """The record page; ``log_errors``: a refused interaction, said at the log form (which
    keeps what was typed)."""
    with acting() as s:
        rec = s.get(record_id)
        if rec.type != type_name:
            raise NotFound(f"no record {record_id!r}")
        et = s.entity_type(rec.type)
        fields = _fields(s, et)
        refs = _ref_titles(s, fields, rec.data)
        related = []
        sources = relationship_sources(s)
        for item in s.related(rec.id):
            rt = s.relationship_type(item["relationship"]["type"])
            outgoing = item["direction"] == "outgoing"
            source = rec if outgoing else item["record"]
            other_label = listing.type_label(s.entity_type(item["record"].type))
            related.append({"rel": relationship_label(rt, outgoing, sources), "record": item["record"],
                            "title": _title(s, item["record"]), "id": item["relationship"]["id"],
                            "description": relationship_description(rt, sources),
                            "heading": relationship_heading(rt, outgoing, sources, other_label),
                            "type_label": other_label,
                            # The core removes a link for a user who may change its source.
                            "can_unlink": s.allows(source.type, "update", _RowView(source))})
        older = _older(request.args.get("older"))
        timeline = s.history(rec.id, include_related=True, limit=TIMELINE_PAGE + 1, newest_first=True, after=older)
        more = len(timeline) > TIMELINE_PAGE
        timeline = timeline[:TIMELINE_PAGE]
        older_link = f"{timeline[-1]['at']}_{timeline[-1]['id']}" if more else None
        kinds = _activity_kinds(s)
        # The types whose values a diff may show with their labels (the timeline holds the
        # related records' activities too).
        known = s.entity_types_map()
        types_map = {t: s.entity_type(t) for t in {a.get("record_type") for a in timeline} if t in known}
        entries = _timeline_entries(s, timeline, {name: label for name, label, _help in kinds},
                                    {name: help_ for name, _label, help_ in kinds if help_})
        can_edit = s.allows(rec.type, "update", _RowView(rec))
        can_delete = s.allows(rec.type, "delete", _RowView(rec))
        from .record_actions import offered_links  # the actions' module imports this one
        links = offered_links(s, rec)
    extra = [k for k in rec.data if k not in {f.name for f in fields}]
    shown_labels = {f.name: lbl for f in fields if (lbl := listing.value_label(et, f.name, rec.data.get(f.name)))}
    # Nested values are named by their members' labels, as the form's inputs are.
    shapes = {f.name: listing.ValueShape.of(et, f.name) for f in fields
              if isinstance(rec.data.get(f.name), (dict, list))}
    return render_template("record.html", et=et, rec=rec, fields=fields, refs=refs, related=related,
                           shown_labels=shown_labels, shapes=shapes, diff_label=_diff_label(types_map),
                           timeline=entries, older_link=older_link, paged=older is not None, kinds=kinds, extra=extra, can_edit=can_edit,
                           can_delete=can_delete, links=links, max_summary=MAX_SUMMARY,
                           rel_help=relationship_help(related, links),
                           log_errors=log_errors or _log_form(), log_form=request.form if log_errors else {},
                           title=_title_of(et, rec), type_label=listing.type_label(et))


def _diff_label(types: dict):
    """``label(record_type, pointer, value)``: the label of a value a timeline diff shows at a
    top-level field (``/status``) of a type with ``value_labels``, else None."""
    def label(record_type, ptr, value):
        et = types.get(record_type)
        if et is None or not isinstance(ptr, str) or not ptr.startswith("/") or "/" in ptr[1:]:
            return None
        return listing.value_label(et, forms.unescape_token(ptr[1:]), value)
    return label


def _core_kind_labels() -> dict:
    # Lower case in English, as the kinds' own names read (the timeline showed the names).
    return {"created": _("created"), "updated": _("updated"), "deleted": _("deleted"),
            "related": _("link added"), "unrelated": _("link removed")}


def _timeline_entries(s, timeline, kind_labels: dict, kind_help: dict | None = None) -> list[dict]:
    """Each activity with its kind's label (and description, ``kind_help``) in the user's
    language and the summary to show.

    The core writes English summaries for its own kinds (``created person``, ``updated
    name, age``, ``knows → person ID``); they are replaced here by what the rest of the entry
    already shows in the user's language — the diff table, or the relationship's label and a
    link to the other record. A summary given by a plugin or an import is shown as written.
    """
    labels = {**kind_labels, **_core_kind_labels()}
    rel_types = relationships.load_all(s.conn)
    sources = relationship_sources(s) if rel_types else {}
    types = s.entity_types_map()
    out = []
    for a in timeline:
        record_type = a.get("record_type") or ""
        entry = {"a": a, "kind": labels.get(a["kind"], a["kind"]), "summary": a["summary"] or "", "link": None,
                 "kind_help": (kind_help or {}).get(a["kind"], ""),
                 # A related record's entry names its type by label (the name read as English).
                 "record_label": listing.type_label(s.entity_type(record_type)) if record_type in types else record_type}
        payload = a["payload"] if isinstance(a["payload"], dict) else {}
        summary, rtype = entry["summary"], a.get("record_type") or ""
        if a["kind"] in ("created", "deleted") and summary == f"{a['kind']} {rtype}":
            entry["summary"] = ""
        elif a["kind"] == "updated" and isinstance(payload.get("changes"), list) and summary == _updated_summary(payload["changes"]):
            entry["summary"] = ""
        elif a["kind"] in ("related", "unrelated") and isinstance(payload.get("type"), str):
            rt = rel_types.get(payload["type"])
            parts = summary.split(" ")
            if rt and len(parts) == 4 and parts[0] == payload["type"] and parts[3] == payload.get("other"):
                outgoing = parts[1] == "→"
                other_type = parts[2]
                entry["summary"] = relationship_label(rt, outgoing, sources)
                entry["link"] = {"type": other_type, "id": parts[3],
                                 "label": listing.type_label(s.entity_type(other_type)) if other_type in types else other_type}
        out.append(entry)
    titles = _titles_of(s, {e["a"]["record"] for e in out} | {e["link"]["id"] for e in out if e["link"]})
    for e in out:
        e["record_title"] = titles.get(e["a"]["record"], e["a"]["record"])
        if e["link"]:
            e["link"]["title"] = titles.get(e["link"]["id"], e["link"]["id"])
    return out


#: Distinct records a timeline page names by title (read in one query); past this, by id.
TITLED_RECORDS = 60


def _titles_of(s, ids) -> dict[str, str]:
    """``{id: title}`` of the records among ``ids`` the user may see: a timeline named its
    related records and the other ends of its links by their opaque ids ("Visit
    01a21b4f…"), which staff cannot read. A record outside the user's scope, or deleted,
    keeps its id (what the history already says), never its title."""
    wanted = sorted(i for i in ids if isinstance(i, str))[:TITLED_RECORDS]
    return {record_id: _title(s, rec) for record_id, rec in records.get_many(s, wanted).items()}


def _updated_summary(changes) -> str:
    """The summary the core writes for an update with these changes (``records._summarise``)."""
    fields = [c.get("pointer", "").lstrip("/") for c in changes if isinstance(c, dict)]
    return "updated " + ", ".join(fields[:5]) + (f" and {len(fields) - 5} more" if len(fields) > 5 else "")


class _RowView:
    """The owner/unit ids of a Record in the shape Session.allows expects of a row."""

    def __init__(self, rec):
        self.owner_id, self.unit_id = rec.owner_id, rec.unit_id


def _title_of(et, rec) -> str:
    value = value_at(rec.data, et.title_field) if et.title_field else None  # it may be dotted
    if value in (None, ""):
        return rec.id
    # Not Python's spelling of a value (True, ['a']): the JSON one, as the fields show it.
    return value if isinstance(value, str) else orjson.dumps(value).decode()


def _with_choices(s, fields, current: dict) -> None:
    """Offer up to PICKER_LIMIT visible records of the target type for each reference, and
    name the record the field refers to now (when the user may see it); ``current`` holds
    the form's inputs by input name."""
    for f in fields:
        if f.widget != "ref":
            continue
        try:
            target = s.entity_type(f.ref)
            if not s.actor.can(target.name, "read"):
                raise NotFound(f.ref)
            recs = s.list(target.name, limit=forms.PICKER_LIMIT)
        except XrmError:
            f.widget = "text"  # nothing to pick from: the id can still be typed
            continue
        f.options = [(r.id, _title_of(target, r)) for r in recs]
        value = current.get(f.input)
        if isinstance(value, str) and value:
            try:
                f.current = _title(s, s.get(value))
            except NotFound:
                f.current = ""
    _with_nested_choices(s, fields, current)


#: Distinct records the nested reference inputs of one form are named by (read one by one).
NESTED_TITLES = 100


def _with_nested_choices(s, fields, current: dict) -> None:
    """The same for the reference inputs inside groups and lists: the records of each target
    type, offered once per type (``fields.ref_options``), and the titles of the records
    their values name (``fields.ref_titles``)."""
    options, titles = {}, {}
    for f in nested_inputs.ref_fields(fields):
        if f.ref in options:
            continue
        try:
            target = s.entity_type(f.ref)
            if not s.actor.can(target.name, "read"):
                continue  # nothing to pick from: the id can still be typed
            options[f.ref] = [(r.id, _title_of(target, r)) for r in s.list(target.name, limit=forms.PICKER_LIMIT)]
        except XrmError:
            continue
    if options:
        flat = {}
        for key, value in current.items():  # an edit form's groups come as Inputs (by input name)
            flat.update(value if isinstance(value, dict) else {key: value})
        for key, value in flat.items():
            found = nested_inputs.find(fields, key) if isinstance(value, str) and value else None
            if found and found[0].widget == "ref" and value not in titles and len(titles) < NESTED_TITLES:
                try:
                    titles[value] = _title(s, s.get(value))
                except NotFound:
                    titles[value] = ""
    fields.ref_options, fields.ref_titles = options, titles


def _render_form(et, fields, values, errors, general, rec=None, status=200):
    return render_template("form.html", et=et, fields=fields, values=values, errors=errors, general=general,
                           rec=rec, type_label=listing.type_label(et), input_type=forms.input_type,
                           title=_title_of(et, rec) if rec else None), status


@bp.route("/<type_name>/new", methods=["GET", "POST"])
def create(type_name: str):
    with acting(write=request.method == "POST") as s:
        et = s.entity_type(type_name)  # unknown: NotFound, a 404 page
        if not s.actor.can(et.name, "create"):
            abort(403)
        fields = _fields(s, et)
        if request.method == "GET":
            _with_choices(s, fields, {})
            return _render_form(et, fields, forms.defaults(fields), {}, [])
        data, errors = forms.read_form(fields, request.form)
        _check_refs(s, fields, data, errors)
        general = []
        if errors:
            _schema_errors_too(et, data, fields, errors)
        else:
            try:
                rec = s.create(et.name, data)
            except (ValidationError, Conflict) as e:
                errors, general = _errors(e, fields, et, data)
            else:
                flash(_("Created."), "ok")
                return redirect(url_for("pages.show", type_name=et.name, record_id=rec.id))
        _with_choices(s, fields, request.form)
    return _render_form(et, fields, request.form, errors, general, status=422)


@bp.route("/<type_name>/<record_id>/edit", methods=["GET", "POST"])
def edit(type_name: str, record_id: str):
    with acting(write=request.method == "POST") as s:
        rec = s.get(record_id)
        if rec.type != type_name:
            raise NotFound(f"no record {record_id!r}")
        if not s.allows(rec.type, "update", _RowView(rec)):
            abort(403)
        et = s.entity_type(rec.type)
        fields = _fields(s, et)
        if request.method == "GET":
            values = {f.input: forms.shown(f, rec.data.get(f.name)) for f in fields}
            _with_choices(s, fields, values)
            return _render_form(et, fields, values, {}, [], rec)
        # The form carries the version it was built from: a stale form is refused (If-Match
        # semantics) instead of silently overwriting someone else's change.
        version = forms.version_of(request.form.get("version"))
        patch, errors = forms.read_form(fields, request.form, rec.data)
        _check_refs(s, fields, patch, errors, rec.data)
        general, status = [], 422
        if errors:
            _schema_errors_too(et, records.with_members(rec.data, patch), fields, errors)
        else:
            try:
                s.update(rec.id, patch, if_version=version, replace_members=True)
            except PreconditionFailed:
                status = 409
                general = [_("This record was changed by someone else since you opened the form "
                             "(it is now at version %(v)s). Reload it and make your change again.",
                             v=digits(rec.version))]
            except (ValidationError, Conflict) as e:
                errors, general = _errors(e, fields, et, records.with_members(rec.data, patch))
            else:
                flash(_("Saved."), "ok")
                return redirect(url_for("pages.show", type_name=et.name, record_id=rec.id))
        _with_choices(s, fields, request.form)
    return _render_form(et, fields, request.form, errors, general, rec, status=status)


def _check_refs(s, fields, data: dict, errors, original: dict | None = None) -> None:
    """A reference input must name a record of its type the user can see. The picker offers
    ids, but a user may type the record's title instead: a title naming exactly one visible
    record is taken as that record's id; anything else is refused at the field (it was
    stored as typed, a reference to nothing). The same for the references inside groups
    and lists, each refused at its own input; one left as stored (``original``, an edit)
    is not looked at again."""
    for f in fields:
        value = data.get(f.name)
        if f.widget == "ref" and isinstance(value, str) and f.name not in errors:
            found, message = _resolve_ref(s, f, value)
            if message:
                errors[f.name] = message
            else:
                data[f.name] = found
        elif f.widget in ("group", "list") and value is not None and f.name not in errors:
            _check_nested_refs(s, f, value, (f.name,), errors, (original or {}).get(f.name))


def _check_nested_refs(s, f, value, path: tuple, errors, stored=None, pool=None) -> None:
    """:func:`_check_refs` inside the group or list ``f`` holding ``value`` (changed in
    place); an error is said at the nested input's path (a list's item number in it).

    A reference left as stored is not checked again (it may name a record the user cannot
    see): one stored at the same place (``stored``), or, for a member of a list's items,
    one the stored items held (``pool``: member -> values not yet matched; removing a row
    renumbers the rows after it). Each stored value is kept once: copying a stored
    reference to a hidden record into a new row is checked as typed."""
    if f.widget == "group" and isinstance(value, dict):
        for c in f.children:
            if c.name not in value:
                continue
            was = stored.get(c.name) if isinstance(stored, dict) else None
            v = value[c.name]
            if c.widget == "ref" and isinstance(v, str):
                if _kept(pool, c.name, v) or v == was:
                    continue
                found, message = _resolve_ref(s, c, v)
                if message:
                    errors.add(path + (c.name,), message)
                else:
                    value[c.name] = found
            elif c.widget != "ref":
                _check_nested_refs(s, c, v, path + (c.name,), errors, was)
    elif f.widget == "list" and isinstance(value, list):
        pool: dict[str, list] = {}
        for item in stored if isinstance(stored, list) else []:
            for k, v in item.items() if isinstance(item, dict) else ():
                pool.setdefault(k, []).append(v)
        for i, item in enumerate(value):
            was = stored[i] if isinstance(stored, list) and i < len(stored) else None
            _check_nested_refs(s, f.item, item, path + (str(i),), errors, was, pool)


def _kept(pool: dict | None, member: str, value) -> bool:
    """Take one stored ``value`` of ``member`` from ``pool``: True when there was one."""
    left = pool.get(member) if pool else None
    if left and value in left:
        left.remove(value)
        return True
    return False


def _resolve_ref(s, f, value: str) -> tuple[str, str | None]:
    """``(id, None)`` of the record the reference input ``f`` names by ``value`` (its id, or
    the title of exactly one record), or ``(value, message)`` when it names none."""
    try:
        if s.get(value).type == f.ref:
            return value, None
    except NotFound:
        pass
    if f.ref not in s.entity_types_map() or not s.actor.can(f.ref, "read"):
        return value, None  # nothing to look in: the id is taken as typed
    target = s.entity_type(f.ref)
    matches = _titled(s, target, value)
    if len(matches) == 1:
        return matches[0].id, None
    if matches:
        return value, _("several records have this title: pick one from the list")
    return value, _("no %(type)s record with this id or title", type=listing.type_label(target))


def _titled(s, target, value: str) -> list:
    """Up to two records of ``target`` the user may read whose title is ``value``: by the
    title field itself where a filter can compare it (any number of records whose titles
    only contain ``value`` before them), else among the first 50 the search finds."""
    if target.title_field and target.field_type(target.title_field) == "string":
        try:
            return s.list(target.name, {target.title_field: value}, limit=2)
        except ValidationError:
            pass  # a title field no filter reads (a name the filter language cannot say)
    return [r for r in s.list(target.name, limit=50, search=listing.search_of(target, value))
            if _title_of(target, r) == value][:2]


def _schema_errors_too(et, data: dict, fields, errors: dict) -> None:
    """Add the schema's errors for the other inputs to ``errors`` (the form's own checks
    refused some), so every field's problem shows on the first submit. Nothing is written;
    an input already refused keeps its own message."""
    found = schema_messages.translate(et.errors(data, "/data"), et.validator, data, hint=_pattern_hint(et),
                                      schema=et.schema, reason=required_reasons.reason_for(et))
    more, _general = forms.field_errors(ValidationError("", found), {f.name for f in fields})
    for name, message in more.items():
        errors.setdefault(name, message)


def _pattern_hint(et):
    """``hint(pointer, pattern)`` for :func:`.schema_messages.translate`: the schema's words
    for the form a pattern asks for (:func:`.listing.pattern_hint`)."""
    return lambda pointer, pattern: listing.pattern_hint(et, pointer, pattern)


def _errors(e, fields, et, data: dict) -> tuple[dict, list]:
    """Field errors and form-level messages of a refused create or update of ``data``, in
    the UI's language: the schema's errors, the core's fixed words at a field ("already
    used"), and a conflict said from its class and pointers with the core's message as detail."""
    found = e.errors
    if isinstance(e, ValidationError) and found:
        # Worded from the data checked: a plugin's before_* hook may have changed what was posted.
        checked = getattr(e, "checked_data", None)
        found = schema_messages.translate(found, et.validator, checked if isinstance(checked, dict) else data,
                                          hint=_pattern_hint(et), schema=et.schema,
                                          reason=required_reasons.reason_for(et))
    found = [{**err, "message": core_messages.pointer_word(err.get("message")) or err.get("message", "")}
             if isinstance(err, dict) else err for err in found]
    errors, general = forms.field_errors(ValidationError(e.message, found), {f.name for f in fields},
                                         where=lambda ptr: listing.record_pointer_label(et, ptr))
    if isinstance(e, Conflict) and not general:
        # e.g. "a person with national_id='X' already exists": the field is marked, the page says why
        general = [core_messages.explain(e, lambda n: listing.field_label(et, n)).said()]
    return errors, general


@bp.post("/<type_name>/<record_id>/log")
def log(type_name: str, record_id: str):
    """Log an interaction of a declared kind on the record. A refusal shows the record page
    again (422), the error at its input and what was typed kept (a redirect lost it)."""
    with acting(write=True) as s:
        rec = s.get(record_id)
        if rec.type != type_name:
            raise NotFound(f"no record {record_id!r}")
        try:
            s.log(rec.id, request.form.get("kind", ""), request.form.get("summary", ""))
        except ValidationError as e:
            errors = _log_form().refused(e, wrap=lambda m: _("Not logged: %(msg)s", msg=m))
        else:
            flash(_("Interaction logged."), "ok")
            return redirect(url_for("pages.show", type_name=type_name, record_id=record_id) + "#timeline")
    return show(type_name, record_id, log_errors=errors), 422
