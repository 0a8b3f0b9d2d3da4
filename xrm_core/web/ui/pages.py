"""Record pages: per-type lists (filters, search, paging, CSV) and the record page with its
timeline and log form.

``bp`` (the ``pages`` blueprint, under ``/r``) also carries the routes of
:mod:`.record_forms` (create, edit), :mod:`.record_actions` (delete, link, unlink, form rows)
and :mod:`.imports`; those modules import the helpers they share with the record page from
here (:func:`_fields`, :class:`_RowView`).
"""
from __future__ import annotations


from flask import Response, flash, redirect, render_template, request, stream_with_context, url_for
from flask_babel import gettext as _

from ... import exporter, relationships
from ...errors import NotFound, ValidationError
from ...fields import value_at
from ...session import MAX_SUMMARY
from .. import query
from . import core_messages, field_choices, forms, list_sorts, listing, never_held
from .common import acting, blueprint
from .form_errors import FormErrors
from .record_titles import _title, _title_of, _titles_of
from .relationship_labels import (relationship_description, relationship_heading, relationship_help,
                                  relationship_label, relationship_sources)
from .timeline import _activity_kinds, _diff_label, _timeline_entries

bp = blueprint("pages", __name__, url_prefix="/r")
#: ``pointer_label(et, pointer)`` for the templates: where an error is, said with the fields'
#: labels (the import report's field column).
bp.add_app_template_global(listing.pointer_label)
PAGE_SIZE = 50


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
        items, error, where, counted_small = [], None, None, False
        search = listing.search_of(et, q)
        try:
            where = listing.where_of(et, rows)
            never_held.refuse(s.dialect, et, where)  # a typo: "none" would mislead
            # A sort by a field without an index over a large list: refused, not a hang.
            counted_small = list_sorts.refuse_slow_sort(s, et, sort, where, search,
                                                        lambda n: listing.field_label(et, n))
            items = s.list(et.name, where, limit=PAGE_SIZE + 1, sort=sort or None, after=_after(sort),
                           search=search)
        except (never_held.NeverHeld, list_sorts.SlowSort) as e:
            error = e.explained()
        except ValidationError as e:
            error = core_messages.explain(e, lambda n: listing.field_label(et, n))
        more = len(items) > PAGE_SIZE
        items = items[:PAGE_SIZE]
        can_create = s.actor.can(et.name, "create")
        cols = listing.columns(et)
        # A first page without a next one is the whole list, and a slow sort just answered
        # was counted small: nothing to count. A refused list (a bad filter or search)
        # counts nothing: only indexed fields are offered.
        sortable = list_sorts.sortable_columns(
            s, et, cols, where if error is None else None, search,
            small=error is None and (counted_small or (not more and not request.args.get("after"))))
        titles = _reference_titles(s, et, cols, items)
        # Once, not per cell: et.properties() walks the schema each time (50 rows × the
        # columns made it ~10% of a list page).
        props = et.properties()
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
                           sortable=sortable,
                           label=lambda n: listing.field_label(et, n), type_label=listing.type_label(et, True),
                           cell=lambda data, c: value_at(data, c) if c == et.title_field else data.get(c),
                           value_label=lambda c, v: (titles.get((c, v)) if isinstance(v, str) else None)
                           or listing.value_label(et, c, v)
                           or listing.date_text(et, c.split(".") if c not in props else [c], v))


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
    """The records the list shows (every page, in the list's order), as CSV with formula
    cells neutralised, streamed: read in keyset pages of :data:`EXPORT_BATCH` within one
    transaction, so memory stays flat whatever the number of records."""
    q = request.args.get("q", "").strip()
    sort = _sort_arg() or None
    with acting() as s:
        et = s.entity_type(type_name)  # unknown: NotFound, a 404 page
        where = listing.where_of(et, listing.filter_rows(request.args))
        never_held.refuse(s.dialect, et, where)
        search = listing.search_of(et, q)
        # A refusal (a filter the field cannot take, no read grant) is a page, before the
        # download starts: once the body streams, its status is sent.
        s.list(et.name, where, limit=1, sort=sort, search=search)

    def body():
        with acting() as s:
            # The names records hold beyond the schema's properties, for the header: one
            # query (a search narrows the rows, not the columns: a column may stay empty).
            extra = exporter.undeclared_names(s, et, where) if listing.may_hold_undeclared(et) else []
            lines = listing.csv_lines(et, _export_pages(s, et.name, where, sort, search), extra)
            # A byte-order mark first: spreadsheet programs read the file as UTF-8 by it (without
            # one Excel takes Persian or Chinese text for a legacy code page). xrm import skips it.
            yield "\ufeff" + next(lines)
            yield from lines
    return Response(stream_with_context(body()), mimetype="text/csv",  # Werkzeug adds "; charset=utf-8"
                    headers={"Content-Disposition": f'attachment; filename="{et.name}.csv"'})


#: Records read per query while a CSV export streams.
EXPORT_BATCH = 2000


def _export_pages(s, type_name: str, where, sort, search):
    """Every record the list shows, in its order, read page by page (keyset)."""
    after = None
    while True:
        page = s.list(type_name, where, limit=EXPORT_BATCH, sort=sort, after=after, search=search)
        yield from page
        if len(page) < EXPORT_BATCH:
            return
        last = page[-1]
        # The list's own next-page position (the cursor its "Next" link carries), decoded.
        after = (query.cursor_decode(query.cursor_encode(sort, [value_at(last.data, sort[0].lstrip("-")), last.id]),
                                     sort) if sort else (last.id,))


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


def _fields(s, et):
    """The form fields of ``et`` (:func:`.forms.build`), labelled and described in the UI's language."""
    fields = forms.build(et, set(s.entity_types_map()), lambda n: listing.field_label(et, n),
                         lambda n, v: listing.value_label(et, n, v))
    for f in fields:
        f.description = listing.field_description(et, f.description)
    return fields


#: Timeline entries per record page, the latest first; "Older entries" pages back.
TIMELINE_PAGE = 100
#: Related records per record page; "More related records" pages on.
RELATED_PAGE = 100


def _related_after(arg: str | None):
    """The ``related=CURSOR`` position of a page of related records; None if absent or not
    one (a hand-edited link shows the first page)."""
    if not arg:
        return None
    try:
        return query.related_cursor_decode(arg)
    except ValidationError:
        return None


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
        related_after = _related_after(request.args.get("related"))
        page = s.related(rec.id, limit=RELATED_PAGE + 1, after=related_after)
        # A record linked 10,000 times rendered every link (a 5 MB page): a page of them,
        # and a link to the next.
        more_related = len(page) > RELATED_PAGE
        page = page[:RELATED_PAGE]
        related_link = (query.related_cursor_encode(page[-1]["direction"], page[-1]["relationship"]["type"],
                                                    page[-1]["relationship"]["id"]) if more_related else None)
        for item in page:
            rt = s.relationship_type(item["relationship"]["type"])
            outgoing = item["direction"] == "outgoing"
            source, target = (rec, item["record"]) if outgoing else (item["record"], rec)
            other_label = listing.type_label(s.entity_type(item["record"].type))
            related.append({"rel": relationship_label(rt, outgoing, sources), "record": item["record"],
                            "title": _title(s, item["record"]), "id": item["relationship"]["id"],
                            "description": relationship_description(rt, sources),
                            "heading": relationship_heading(rt, outgoing, sources, other_label),
                            "type_label": other_label,
                            # The core removes a link for a user who may change its target,
                            # or its source when the link does not bind the target.
                            "can_unlink": relationships.unlink_refusal(s, rt, _RowView(source),
                                                                       _RowView(target)) is None})
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
    shown_labels = {f.name: lbl for f in fields
                    if (lbl := listing.value_label(et, f.name, rec.data.get(f.name))
                        or listing.date_text(et, [f.name], rec.data.get(f.name)))}
    # Nested values are named by their members' labels, as the form's inputs are.
    shapes = {f.name: listing.ValueShape.of(et, f.name) for f in fields
              if isinstance(rec.data.get(f.name), (dict, list))}
    return render_template("record.html", et=et, rec=rec, fields=fields, refs=refs, related=related,
                           shown_labels=shown_labels, shapes=shapes, diff_label=_diff_label(types_map),
                           related_link=related_link, related_paged=related_after is not None,
                           timeline=entries, older_link=older_link, paged=older is not None, kinds=kinds, extra=extra, can_edit=can_edit,
                           can_delete=can_delete, links=links, max_summary=MAX_SUMMARY,
                           rel_help=relationship_help(related, links),
                           log_errors=log_errors or _log_form(), log_form=request.form if log_errors else {},
                           title=_title_of(et, rec), type_label=listing.type_label(et))


class _RowView:
    """The owner/unit ids of a Record in the shape Session.allows expects of a row."""

    def __init__(self, rec):
        self.type, self.owner_id, self.unit_id = rec.type, rec.owner_id, rec.unit_id


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
