"""What a list page shows: labels, columns, the filter built from the query string, CSV.

Filters are rows of (field, operator, value) from the repeated query parameters ``ff``,
``fo`` and ``fv``; they become the core filter language, so only the type's own fields are
accepted (the core refuses anything else with a pointer). Search ``q`` is a case-sensitive
prefix match on the title field (``gte q`` and ``lt q + U+10FFFF``): the filter language has
no substring operator.
"""
from __future__ import annotations

import csv
import io
import re
import unicodedata

import orjson
from flask_babel import gettext as _

from ...csvcells import ABSENT, Column, column_for
from ...entity_types import value_label_key
from ...fields import FIELD_RE
from .i18n import tr
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

    def walk(prefix: str, depth: int) -> None:
        schema = et.property_schema(prefix) if prefix else None
        names = et.properties() if not prefix else (schema or {}).get("properties", {})
        if not isinstance(names, dict):
            return
        for name in names:
            path = f"{prefix}.{name}" if prefix else name
            if not FIELD_RE.match(path) or "." in name:
                continue  # a name with a dot ("a.b") would be read as a path into "a"
            out.append(path)
            if depth < FILTER_DEPTH and et.field_type(path) == "object":
                walk(path, depth + 1)
    walk("", 1)
    return out


def field_label(et, name: str) -> str:
    """A field's label in the current language (``field_labels``, else the property's JSON
    Schema ``title``; either translated by the type's plugin), else its name made readable
    (a dotted path: each part's label, joined by ›)."""
    if "." in name and name not in et.properties():
        return " › ".join(field_label(et, part) if i == 0 else part.replace("_", " ")
                          for i, part in enumerate(name.split(".")))
    label = et.definition.get("field_labels", {}).get(name)
    if label is None:
        sub = et.properties().get(name)
        title = sub.get("title") if isinstance(sub, dict) else None
        label = title if isinstance(title, str) else None
    return tr(label, name.replace("_", " ").capitalize(), et.source)


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


def where_of(et, rows) -> dict:
    """The core filter for the filter rows (the search text is :func:`search_of`)."""
    where: dict = {}
    for fname, op, value in rows:
        op = op or "eq"
        untyped = et.field_type(fname) is None
        numeric = et.field_type(fname) in ("number", "integer")
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


def csv_lines(et, records):
    """CSV of ``records``, line by line: id, one column per top-level property, then one
    per attribute the schema does not declare (``additionalProperties``) found in these
    records, sorted (PostgreSQL's JSONB keeps no key order). Formulas are neutralised, the
    header's too (an undeclared key is the data's, not the admin's)."""
    records = list(records)
    cols = [column_for(et, name) for name in et.properties()]
    declared = {c.name for c in cols}
    extra = sorted({key for rec in records for key in rec.data if key not in declared})
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
