"""A record form's reference inputs: the records each one offers to pick (top-level and
inside groups and lists), and what a user typed in one — an id, or a record's title —
resolved to the record it names, or refused at the input."""
from __future__ import annotations

from flask_babel import gettext as _

from ...errors import NotFound, ValidationError, XrmError
from . import forms, listing, nested_inputs
from .record_titles import _title, _title_of


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
