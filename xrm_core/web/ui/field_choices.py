"""The choices a form's select offers: the values a field may hold wherever the schema
declares it (:func:`xrm_core.field_values.allowed_values`), not those of the first place found.

A field declared in several places — the branches of a discriminated ``oneOf`` each fixing
``kind`` by ``const``, a ``then`` and an ``else`` giving different ``enum`` lists, an ``allOf``
narrowing an ``enum`` — offered only the first declaration's values: a record holding a later
branch's value could not be created, and its edit form showed no value selected, so saving it
unchanged removed the value. Where one place leaves the field free (an ``anyOf`` branch with
no ``enum``), the field takes any text instead of a select.
"""
from __future__ import annotations

import orjson

from ... import schema_types
from ...field_values import same_value
from ...fields import FIELD_RE
from . import listing


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


#: What :func:`choices_at` gives when it cannot ask (the caller keeps the subschema's own
#: ``enum``/``const``).
UNKNOWN = _Unknown()


def choices_at(et, path: tuple) -> list | None | _Unknown:
    """The values the member at ``path`` (keys from the record's data down through nested
    objects) may hold, as a list; None when the schema leaves it free; :data:`UNKNOWN` when
    the path cannot be put to :func:`allowed_values`: a key holding a dot (``"a.b"`` would be
    read as a path into ``a``), or a path through a list's items (the answer would be "not
    declared", not "free")."""
    if not path or any(not isinstance(k, str) for k in path):
        return UNKNOWN
    if len(path) == 1:
        name = path[0]
        # A name that is no field is looked up as written; a field name with a dot is a path.
        return UNKNOWN if "." in name and FIELD_RE.match(name) else et.allowed_values(name)
    dotted = ".".join(path)
    if any("." in k for k in path) or not FIELD_RE.match(dotted):
        return UNKNOWN
    for n in range(1, len(path)):
        if et.field_type(".".join(path[:n])) != "object":
            return UNKNOWN  # through a list (or a value of no single type)
    return et.allowed_values(dotted)


def without_choice(sub: dict) -> dict:
    """``sub`` without its own ``enum``/``const``: for choosing the input of a field the
    schema leaves free elsewhere (a text input, not a select of one place's values)."""
    return {k: v for k, v in sub.items() if k not in ("enum", "const")}


def own(sub: dict) -> list | None:
    """The values ``sub``'s own ``enum`` or ``const`` allows, or None."""
    return list(sub["enum"]) if isinstance(sub.get("enum"), list) else [sub["const"]] if "const" in sub else None


def of_parts(parts) -> list | None:
    """The values every one of ``parts`` (subschemas that all apply: a ``$ref`` target, the
    ``allOf`` parts) allows by its ``enum``/``const`` — each narrows the list — or None when
    none restricts them. The first part's list alone offered values the others refuse."""
    found = None
    for p in parts:
        values = own(p)
        if values is not None:
            found = values if found is None else [v for v in found if any(same_value(v, w) for w in values)]
    return found


def filter_suggestions(et, fields, value_label) -> dict:
    """``{field: (datalist id, [text])}`` for the list page's filter fields whose values the
    schema restricts: what the value input suggests when its row names that field. A value
    with a label (``value_label(field, value)``) is suggested by it, as the list shows it and
    the filter reads it (``listing._key_of_label``), unless two values share that label."""
    out = {}
    for field in fields:
        values = et.allowed_values(field)
        if not values:
            continue
        labels = [value_label(field, v) for v in values]
        texts = []
        for v, label in zip(values, labels):
            if v is None or isinstance(v, (dict, list)):
                continue  # no filter value to type
            raw = v if isinstance(v, str) else _json(v)
            texts.append(label if label and labels.count(label) == 1 else raw)
        if texts:
            out[field] = (f"choices-{len(out) + 1}", list(dict.fromkeys(texts)))
    return out


def _json(value) -> str:
    return orjson.dumps(value).decode()


def members_declared_once(et, name: str) -> bool:
    """Whether every place of the schema declaring the top-level property ``name`` declares
    no member the first does not. Each ``oneOf`` branch declaring its own ``contact`` object
    gives no one set of members: inputs for the first declaration's left the others' members
    impossible to type in, so the form gives it the JSON box. A ``then`` that only narrows a
    member (its ``enum``) keeps the inputs, which offer the values of every place."""
    root = et.schema
    first = et.property_schema(name)
    if not isinstance(first, dict):
        return True
    known: dict = {}
    schema_types.collect_properties(root, first, known, 0)
    for p in listing.in_place(root, root):
        props = p.get("properties")
        if isinstance(props, dict) and name in props:
            members: dict = {}
            schema_types.collect_properties(root, props[name], members, 0)
            if not members.keys() <= known.keys():
                return False
    return True
