"""What a list page shows: labels, columns, the filter built from the query string, CSV.

Filters are rows of (field, operator, value) from the repeated query parameters ``ff``,
``fo`` and ``fv``; they become the core filter language, so only the type's own fields are
accepted (the core refuses anything else with a pointer). Search ``q`` is a case-sensitive
prefix match on the title field (``gte q`` and ``lt q + U+10FFFF``): the filter language has
no substring operator.
"""
from __future__ import annotations

import csv
import functools
import io
import re
import unicodedata

import orjson
import xrm_schemas
from flask_babel import gettext as _
from markupsafe import Markup

from ... import schema_types
from ...csvcells import ABSENT, Column, column_for
from ...entity_types import value_label_key
from ...errors import ValidationError
from ...fields import FIELD_RE
from . import jalali
from .i18n import RTL, digits, lang, stored_time, tr
from .plugin_catalogues import core_text

OPS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "exists")
OP_SIGNS = {"eq": "=", "ne": "≠", "lt": "<", "lte": "≤", "gt": ">", "gte": "≥", "in": "in", "exists": "exists"}
MAX_COLUMNS = 5
#: Cells a spreadsheet would run as a formula start with one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def op_labels() -> dict:
    """The operators as the filter form shows them, in the user's language."""
    return {**OP_SIGNS, "in": _("is one of (a, b, …)"), "exists": _("exists (yes/no)")}


#: Most parts of a dotted filter field (``address.geo.lat``): nested objects deeper are left out.
FILTER_DEPTH = 4


def filter_fields(et) -> list[str]:
    """The fields a filter may name: the type's own properties with a name the filter language
    takes (letters of any script, digits, ``_``), and the properties of nested objects as dotted paths."""
    out = []

    def walk(prefix: str, parts: list[dict], depth: int) -> None:
        # A nested object's members wherever its schemas declare them: a ``billing`` whose
        # ``oneOf`` branches each declare ``method`` has a ``billing.method`` to filter on.
        names = et.properties() if not prefix else _declared(parts)
        for name in names:
            path = f"{prefix}.{name}" if prefix else name
            if not FIELD_RE.match(path) or "." in name:
                continue  # a name with a dot ("a.b") would be read as a path into "a"
            out.append(path)
            if depth < FILTER_DEPTH and et.field_type(path) == "object":
                walk(path, _member_parts(et.schema, parts, name), depth + 1)
    walk("", in_place(et.schema, et.schema), 1)
    return out


def _declared(parts: list[dict]) -> list[str]:
    """The member names the schemas ``parts`` declare, in the order they first appear."""
    names: dict[str, None] = {}
    for p in parts:
        props = p.get("properties")
        names.update(dict.fromkeys(props if isinstance(props, dict) else ()))
    return list(names)


def field_label(et, name: str) -> str:
    """A field's label in the current language (``field_labels``, else the property's JSON
    Schema ``title``; either translated by the type's plugin), else its name made readable
    (a dotted path: each part's label, joined by ›)."""
    if "." in name and name not in et.properties():
        # The members by their labels, as the record page and the form name them.
        parts = in_place(et.schema, et.schema)
        said = []
        for i, part in enumerate(name.split(".")):
            parts = _member_parts(et.schema, parts, part)
            said.append(field_label(et, part) if i == 0 else member_title(et, parts, part))
        return " › ".join(said)
    label = et.definition.get("field_labels", {}).get(name)
    if label is None:
        sub = et.properties().get(name)
        title = sub.get("title") if isinstance(sub, dict) else None
        label = title if isinstance(title, str) else None
    return tr(label, readable(et, name), et.source)


def readable(et, key: str, common: bool = False) -> str:
    """The label of a field or member without one: its key made readable (``postal_code``:
    "Postal code"), in the page's language when the type's plugin's catalogue translates
    that, or, for a ``common`` member (one of the platform's common schemas declares it:
    :func:`_common_member`), the UI's catalogue (:data:`.plugin_catalogues.CORE_TEXTS`)."""
    text = key.replace("_", " ").capitalize()
    translated = tr(text, "", et.source)
    return core_text(text) if translated == text and common else translated


@functools.cache
def _common_members() -> frozenset:
    """The ids of the members' subschemas of the platform's common schemas (``money``'s
    ``amount``…): the schema is read once (``xrm_schemas.load`` caches it), and a ``$ref``
    to it reaches these very objects."""
    defs = xrm_schemas.load("common.json").get("$defs", {})
    return frozenset(id(sub) for d in defs.values() if isinstance(d.get("properties"), dict)
                     for sub in d["properties"].values())


def _common_member(parts: list[dict]) -> bool:
    """Whether the member described by ``parts`` is one a common schema declares: its label
    is the platform's text, not the plugin's (a plugin's own untitled ``city`` stays as its
    plugin names it, beside its other members)."""
    members = _common_members()
    return any(id(p) in members for p in parts)


# -- the schema at a path into a record's data ---------------------------------------------

def in_place(root, node, depth: int = 0, seen: dict | None = None) -> list[dict]:
    """``node`` and the subschemas applied in place with it: its ``$ref``/``$dynamicRef``
    targets and ``allOf`` parts first (in the order the form reads a member's ``title``:
    :func:`.nested_inputs._parts`), then ``anyOf``/``oneOf``, ``then``/``else`` and
    ``dependentSchemas`` (a member declared in one alternative still has its label)."""
    seen = {} if seen is None else seen
    if not isinstance(node, dict) or depth > 20 or not schema_types.first_visit(node, seen):
        return []
    out = [node]
    for sub in [schema_types.ref_target(root, node, depth), *schema_types.dynamic_targets(root, node)]:
        out += in_place(root, sub, depth + 1, seen)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, []) if isinstance(node.get(key), list) else []:
            out += in_place(root, sub, depth + 1, seen)
    for sub in [node.get("then"), node.get("else"), *schema_types.dependent_schemas(node)]:
        out += in_place(root, sub, depth + 1, seen)
    return out


def _member_parts(root, parts: list[dict], key: str) -> list[dict]:
    """The parts of the schema of member ``key`` of a value described by ``parts``: a
    declared property (or one a ``patternProperties`` pattern allows), else an item when
    ``key`` is an array index. [] when the schema says nothing of it."""
    found = []
    for p in parts:
        props = p.get("properties")
        if isinstance(props, dict) and key in props:
            found.append(props[key])
        found += schema_types.pattern_properties(p, key)
    if not found and key.isdigit():
        for p in parts:
            prefix = p.get("prefixItems")
            if isinstance(prefix, list) and int(key) < len(prefix):
                found.append(prefix[int(key)])
            elif isinstance(p.get("items"), dict):
                found.append(p["items"])
    out: list[dict] = []
    seen: dict = {}
    for sub in found:
        out += in_place(root, sub, 0, seen)
    return out


def member_title(et, parts: list[dict], key: str) -> str:
    """A nested member's label as its form input shows it (:func:`.nested_inputs._members`):
    its schema's ``title`` in the current language, else its name made readable (:func:`readable`)."""
    title = next((p["title"] for p in parts if isinstance(p.get("title"), str)), None)
    if not title:
        return readable(et, key, _common_member(parts))
    # A common schema's title is the platform's text (the UI's catalogue) unless the type's
    # plugin translates it.
    translated = tr(title, "", et.source)
    return core_text(title) if translated == title and _common_member(parts) else translated


class ValueShape:
    """What the schema says of the parts of a stored value, for showing it (the record
    page's nested values): each declared member's label, the shape of its items, and the
    labels of its values (``value_labels`` by dotted path, as the form's choices use them)."""

    def __init__(self, et, parts: list[dict], names: tuple = ()):
        self.et, self.parts, self.names = et, parts, names

    @classmethod
    def of(cls, et, name: str) -> "ValueShape":
        """The shape of the top-level field ``name``."""
        return cls(et, _member_parts(et.schema, in_place(et.schema, et.schema), name), (name,))

    def members(self, value: dict) -> list[tuple]:
        """``(key, item, label, shape)`` of each member of the object ``value``: the declared
        ones first, in the schema's order, then the others sorted by key (PostgreSQL's JSONB
        keeps no written order). An undeclared member's label is its key."""
        order: dict[str, int] = {}
        for p in self.parts:
            props = p.get("properties")
            for k in props if isinstance(props, dict) else ():
                order.setdefault(k, len(order))
        out = []
        for key in sorted(value, key=lambda k: (order.get(k, len(order)), k)):
            parts = _member_parts(self.et.schema, self.parts, key)
            label = member_title(self.et, parts, key) if parts else key
            out.append((key, value[key], label, ValueShape(self.et, parts, self.names + (key,)) if parts else None))
        return out

    def item(self) -> "ValueShape | None":
        """The shape of a list's items (None when the schema declares none)."""
        parts = _member_parts(self.et.schema, self.parts, "0")
        return ValueShape(self.et, parts, self.names) if parts else None

    def value_label(self, value) -> str | None:
        """A scalar's label (``value_labels`` of its dotted path, a list's items by the list's
        path, as the form's choices take theirs), else a date or time as the page writes
        it (:func:`date_text`), or None."""
        label = value_label(self.et, ".".join(self.names), value)
        if label is None and isinstance(value, str):
            fmt = _date_format(self.parts)
            return _date_markup(value, fmt) if fmt else None
        return label


def pointer_label(et, pointer: str) -> str:
    """A JSON pointer into a record's data (``/address/city``, ``/phones/1``) said with the
    fields' labels, as the forms show them: ``Address › City``, ``Phones › item 2``. A key
    the schema does not declare is shown as it is; "" for the empty pointer."""
    if not isinstance(pointer, str) or not pointer.startswith("/"):
        return ""
    return " › ".join(path_labels(et, _tokens(pointer)))


def record_pointer_label(et, pointer: str) -> str:
    """A pointer into a record (``/data/a/0/b``) by the labels of where it is in its data
    (``A › item 1 › B``; "" for the data as a whole); any other pointer as it is."""
    if pointer == "/data" or pointer.startswith("/data/"):
        return pointer_label(et, pointer[len("/data"):])
    return pointer


def path_labels(et, keys) -> list[str]:
    """Each key of a path into a record's data (``("address", "city")``, ``("phones",
    "1")``) by its label, as :func:`pointer_label` says them: a top-level field's label, a
    list's item by its number counted from 1 (``item 2``), a nested member by its schema's
    ``title``, an undeclared key as it is."""
    parts = in_place(et.schema, et.schema)
    said = []
    for i, key in enumerate(keys):
        key = str(key)
        listed = any(p.get("type") == "array" or "items" in p or "prefixItems" in p for p in parts)
        parts = _member_parts(et.schema, parts, key)
        if i == 0 and key in et.properties():
            said.append(field_label(et, key))
        elif key.isdigit() and listed:
            said.append(_("item %(n)s", n=digits(int(key) + 1)))
        else:
            said.append(member_title(et, parts, key) if parts else key)
    return said


def _tokens(pointer: str) -> list[str]:
    """The keys a JSON pointer names (RFC 6901 escapes undone); [] for ""."""
    return [t.replace("~1", "/").replace("~0", "~") for t in pointer[1:].split("/")] if pointer else []


def pattern_hint(et, pointer: str, pattern, prefix: str = "/data") -> str | None:
    """What the schema says in words of the form the ``pattern`` refused at ``pointer``
    asks for, in the current language: the ``description`` beside that pattern, else the
    value's own (``{"$ref": …, "description": …}``); None when it has none. No keyword of
    its own: the ``description`` is what the form already shows under the input."""
    rest = pointer[len(prefix):] if isinstance(pointer, str) and pointer.startswith(prefix) else None
    if rest is None or (rest and not rest.startswith("/")):
        return None
    parts = in_place(et.schema, et.schema)
    for key in _tokens(rest):
        parts = _member_parts(et.schema, parts, key)
    ranked = [p for p in parts if p.get("pattern") == pattern] + parts
    text = next((p["description"] for p in ranked if isinstance(p.get("description"), str) and p["description"]), None)
    return field_description(et, text) if text else None


def field_description(et, text: str) -> str:
    """A property's JSON Schema ``description`` in the current language: the type's plugin's
    translation, else the platform's (for a description of its common schemas), else as written."""
    if not text:
        return text
    translated = tr(text, "", et.source)
    return core_text(text) if translated == text else translated


def value_label(et, name: str, value) -> str | None:
    """The label of a field's value in the current language (``value_labels``), or None when
    it has none (the value is then shown as it is). A text value is its own key, any other
    scalar its JSON text (``1``, ``true``)."""
    labels = et.definition.get("value_labels", {}).get(name) if isinstance(name, str) else None
    if not labels or isinstance(value, (dict, list)):
        return None
    key = value_label_key(value)
    return tr(labels[key], key, et.source) if key in labels else None


#: The ``format``s of a text that is a date or a time: on a Persian page its digits are
#: Persian like every number shown (:mod:`.i18n`).
DATE_FORMATS = ("date", "date-time", "time")


def date_text(et, keys, value):
    """A stored date or time (a text whose schema at ``keys``, a path into the record's
    data, says ``format: date``/``date-time``/``time``) as the page writes it: a date or a
    date-time as its language writes one (:func:`.i18n.stored_time`); else (a ``time``, a
    text that is no such date) on a Persian page in Persian digits, kept left to right
    (``<bdi dir="ltr">``: its ``-`` and ``:`` between digits would else be read right to
    left). None when the value is shown as it is."""
    if not isinstance(value, str):
        return None
    fmt = _date_format(_parts_at(et, keys))
    return _date_markup(value, fmt) if fmt else None


def _date_markup(value: str, fmt: str) -> Markup | None:
    shown = stored_time(value, fmt)
    if shown is None and lang() in RTL:
        shown = Markup('<bdi dir="ltr">%s</bdi>') % digits(value)
    return shown


def _date_format(parts: list[dict]) -> str | None:
    """The date format (:data:`DATE_FORMATS`) the schema's ``parts`` give a value, or None."""
    return next((p["format"] for p in parts if p.get("format") in DATE_FORMATS), None)


def _parts_at(et, keys) -> list[dict]:
    """The schema's parts at a path of keys into a record's data."""
    parts = in_place(et.schema, et.schema)
    for key in keys:
        parts = _member_parts(et.schema, parts, str(key))
    return parts


def type_label(et, plural: bool = False) -> str:
    d = et.definition
    if plural and d.get("plural_label"):
        return tr(d["plural_label"], et.name, et.source)
    return tr(d.get("label"), et.name.replace("_", " ").capitalize(), et.source)


def type_description(et) -> str:
    """The type's ``description`` in the current language (its plugin's translation, or a
    ``{lang: text}`` dict's), "" when it has none."""
    text = et.definition.get("description")
    return tr(text, "", et.source) if isinstance(text, (str, dict)) and text else ""


def columns(et) -> list[str]:
    """The title field, then the first other top-level properties."""
    names = list(et.properties())
    title = et.title_field
    if title:  # a dotted title (``person.name``) is no top-level property, and still comes first
        if title in names:
            names.remove(title)
        names.insert(0, title)
    return names[:MAX_COLUMNS]


def filter_rows(args) -> list[tuple[str, str, str]]:
    """The (field, op, value) rows of the query string, blank rows left out."""
    rows = zip(args.getlist("ff"), args.getlist("fo"), args.getlist("fv"))
    return [(f, o, v) for f, o, v in rows if f.strip()]


def filter_error_entries(et, items: list[dict], rows) -> tuple[list[dict], set]:
    """The summary of a refused filter or search (the list page's, as a refused form's):
    each of the refusal's ``items`` (``{"pointer", "message"}``) as ``{"item", "target",
    "label"}``, where ``target`` is the id of the input to correct and ``label`` its name
    (None, None when no input holds what it is about: the list's order, set by a column
    heading). Also the fields whose filter rows the refusal points at, to mark them.

    ``/where/F/OP…`` is about the value of the row filtering F with OP (the last such row:
    a later row takes the place of an earlier one with the same field and operator), or
    its operator when OP is none; ``/where/F`` about the field a row names (no such
    field); ``/search`` about the search text. Row numbers are the page's (``rows``, from
    :func:`filter_rows`, counted from 1)."""
    entries, bad = [], set()
    for item in items:
        tokens = _tokens(item.get("pointer", ""))
        target = label = None
        if len(tokens) >= 2 and tokens[0] == "where":
            bad.add(tokens[1])
            op = tokens[2] if len(tokens) > 2 else None
            n = _filter_row(rows, tokens[1], op)
            if n is not None:
                part = "field" if op is None else "value" if op in op_labels() else "op"
                target = f"filter-{n}-{part}"
                label = {"field": _("Filter %(n)s: field", n=digits(n)),
                         "op": _("Filter %(n)s: operator", n=digits(n)),
                         "value": _("Filter %(n)s: value", n=digits(n))}[part]
        elif tokens[:1] == ["search"] and et.title_field:
            target = "filter-q"
            label = _("Search %(field)s (contains, any case)", field=field_label(et, et.title_field))
        entries.append({"item": item, "target": target, "label": label})
    return entries, bad


def _filter_row(rows, field: str, op: str | None) -> int | None:
    """The number (from 1) of the last filter row on ``field`` with operator ``op`` (any
    when None or when no row has it), or None."""
    on = [n for n, (f, _o, _v) in enumerate(rows, 1) if f == field]
    same = [n for n in on if (rows[n - 1][1] or "eq") == op]
    found = same or on
    return found[-1] if found else None


def where_of(et, rows) -> dict:
    """The core filter for the filter rows (the search text is :func:`search_of`)."""
    where: dict = {}
    for fname, op, value in rows:
        op = op or "eq"
        untyped = et.field_type(fname) is None
        numeric = et.field_type(fname) in ("number", "integer")
        if op not in ("exists",) and _filter_date_field(et, fname):
            value = _filter_dates(fname, op, value)
        if op == "in":
            v = [_typed(_number_text(_key_of_label(et, fname, x.strip()), numeric), untyped)
                 for x in LIST_SEPARATORS.split(value) if x.strip()]
        elif op == "exists":
            v = value.strip().lower() not in ("false", "0", "no", _("no").lower())
        elif op in ("eq", "ne"):
            v = _typed(_number_text(_key_of_label(et, fname, value), numeric), untyped)
        else:
            v = _typed(_number_text(value, numeric), untyped)
        cond = where.setdefault(fname, {})
        if isinstance(cond, dict):
            cond[op] = v
    return where


def _filter_date_field(et, name: str) -> bool:
    """Whether the field a filter row names holds a date or a date-time (``format``)."""
    keys = [name] if name in et.properties() else name.split(".")
    try:
        return _date_format(_parts_at(et, keys)) in ("date", "date-time")
    except (KeyError, TypeError, ValueError):  # no such field: the core says so
        return False


def _filter_dates(name: str, op: str, value: str) -> str:
    """A date filter's value as typed on a Persian page: each Jalali date (as a form takes
    one, :func:`.jalali.filter_date`) made the Gregorian ISO date the stored text is
    compared with; other pages, and other text, unchanged. A Jalali date that does not
    exist is refused at the row's value."""
    try:
        if op == "in":
            return ",".join(jalali.filter_date(x.strip()) for x in LIST_SEPARATORS.split(value) if x.strip())
        return jalali.filter_date(value)
    except ValueError as e:
        raise ValidationError(f"filter on {name!r}: {e}", [{"pointer": f"/where/{name}/{op}", "message": str(e)}])


#: What separates the values of an "is one of" filter: the comma of English, Persian (،),
#: Chinese (、 and the full-width ，).
LIST_SEPARATORS = re.compile("[,\u060c\u3001\uff0c]")


def _number_text(text: str, numeric: bool) -> str:
    """A number typed the Persian way (۱۲٬۵۰۰٫۵: its decimal sign ٫ and group sign ٬ were
    "not a number") as the filter language reads it: ASCII digits (the core reads a number
    as JSON writes it), a point for the decimal sign, no group sign, no spaces around it."""
    if not numeric:
        return text
    text = text.strip().replace("\u066b", ".").replace("\u066c", "")
    return "".join(str(unicodedata.decimal(c)) if c.isdecimal() else c for c in text)


def _key_of_label(et, name: str, text: str) -> str:
    """The stored value (its ``value_labels`` key) a filter value names by its label: the
    list shows ``value_labels`` ("High", "高"), so that is what a user types; the stored
    ``high`` matched nothing else. A label in any language and in any case counts when it
    names one value only (the label the page shows counts too, a plugin catalogue's
    translation); a stored value, or any other text, is returned as typed."""
    labels = et.definition.get("value_labels", {}).get(name)
    wanted = text.strip().casefold()
    if not isinstance(labels, dict) or not wanted or text in labels:
        return text

    def names(key, label) -> set[str]:
        given = list(label.values()) if isinstance(label, dict) else [label]
        return {t.strip().casefold() for t in [*given, tr(label, key, et.source)] if isinstance(t, str)}
    keys = [key for key, label in labels.items() if wanted in names(key, label)]
    return keys[0] if len(keys) == 1 else text


def _typed(value: str, untyped: bool):
    """A filter value as typed. A field of no single type (``anyOf`` integer or text) matches
    stored values of the value's own JSON type, so ``1`` is read as the number (``M`` stays
    text, ``"1"`` in quotes is the text) — as ``xrm records list --where`` reads it."""
    if not untyped:
        return value
    try:
        parsed = orjson.loads(value.strip())
    except orjson.JSONDecodeError:
        return value
    return parsed if isinstance(parsed, (str, int, float, bool)) else value


def search_of(et, q: str | None) -> str | None:
    """The text searched for in the title field, any case (``Session.list(search=…)``);
    None when there is none or the type has no title field."""
    return q if q and et.title_field else None


#: A signed number or a phone number: starts like a formula, but with no letters, ``|`` or
#: ``!`` it can call nothing — left as it is, so the file still imports (``+98 912 …``).
#: An exponent is a number too: ``-1e-7`` (how a small negative number is written) was
#: exported as ``'-1e-7``, which reads back as no number.
PLAIN_NUMBER = re.compile(r"[+-][0-9][0-9 ().-]*(?:[eE][+-]?[0-9]+)?")


def neutralise(cell: str) -> str:
    """Prefix a cell a spreadsheet would read as a formula with ``'`` (CSV injection)."""
    if cell.startswith(FORMULA_START) and not PLAIN_NUMBER.fullmatch(cell):
        return "'" + cell
    return cell


def may_hold_undeclared(et) -> bool:
    """Can records of ``et`` hold top-level names its schema does not declare (no
    ``additionalProperties: false`` beside its ``properties``, or ``patternProperties``)?
    If not, an export needs no pass to find them. (``unevaluatedProperties: false`` still
    lets names of ``allOf`` branches through: such a schema gets the pass.)"""
    schema = et.schema if isinstance(et.schema, dict) else {}
    return schema.get("additionalProperties") is not False or bool(schema.get("patternProperties"))


def undeclared_keys(et, records) -> list[str]:
    """The top-level names of ``records`` that ``et``'s schema does not declare, sorted."""
    declared = set(et.properties())
    return sorted({key for rec in records for key in rec.data if key not in declared})


def csv_lines(et, records, extra: list[str] | None = None):
    """CSV of ``records`` (any iterable, read once when ``extra`` is given), line by line:
    id, one column per top-level property, then one per attribute the schema does not
    declare (``additionalProperties``): ``extra``, else those found in these records
    (:func:`undeclared_keys`), sorted (PostgreSQL's JSONB keeps no key order). Formulas are
    neutralised, the header's too (an undeclared key is the data's, not the admin's)."""
    if extra is None:
        records = list(records)
        extra = undeclared_keys(et, records)
    cols = [column_for(et, name) for name in et.properties()]
    cols += [Column(key, [key], None) for key in extra]  # any JSON value, as the CLI reads it
    names = {c.name for c in cols}
    # The record id's column: "id", unless a field has that name.
    id_col = "id"
    while id_col in names:
        id_col = "_" + id_col
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")

    def line(cells) -> str:
        out.seek(0)
        out.truncate()
        w.writerow(cells)
        return out.getvalue()
    yield line([id_col] + [neutralise(c.name) for c in cols])
    for rec in records:
        yield line([rec.id] + [neutralise(c.write(rec.data.get(c.name, ABSENT))) for c in cols])
