"""Create/edit forms generated from an entity type's JSON Schema.

One :class:`Field` per top-level property: a field whose values the schema restricts by
``enum`` or ``const`` wherever it declares it (every ``oneOf`` branch, ``then`` and ``else``:
:mod:`.field_choices`) → select of all those values, ``boolean`` → checkbox,
``integer``/``number`` → number input, ``format: date`` → date input, ``format: date-time``
→ datetime-local (in the user's time zone: :func:`.i18n.select_timezone`), long strings → textarea, objects with
declared members (in one place: :func:`.field_choices.members_declared_once`) → a fieldset
of inputs ("group") and arrays of scalars or simple objects →
rows of inputs ("list"), both in :mod:`.nested_inputs`; other arrays and objects → a JSON
textarea; and references → a picker of visible records (inside groups and lists too). A
property's ``default`` fills the new-record form (a nested member's, its group and every new
row: :mod:`.nested_inputs`); a ``readOnly`` one is shown but not taken from the form
(except on create when it is required: nothing else could set it). An input is named after
its property, except where the form uses the name itself (:func:`input_name`).

What a form cannot express, and what it does instead (never something else silently):
an empty input means the attribute is absent, so an empty text or a top-level ``null``
is left out (a required one is refused as "required"); an unticked box of an optional
boolean is absent on create (``false`` when the schema gives a ``default``), and ``false``
once the attribute exists (a box cannot remove it); a date-time is shown and typed in the
user's time zone, which the input names, and stored with that zone's offset at the time typed
(``…+03:30``; ``…Z`` where the offset is zero), a time the clocks skip there refused; a text input holds no line break (a ``maxLength`` over 400
gives a textarea); and an edit replaces each changed attribute whole, so an object typed
with a ``null`` inside keeps it, as a new record does. Attributes the schema does not declare are shown on the record page and kept by an
edit, but have no input.

A property is a **reference** to records of type T when its schema says ``"x-ref": "T"``
(next to any ``$ref``), or when it is named ``T_id``, T is a known entity type and its schema
is ``$ref`` to ``common.json#/$defs/record_ref``. Nothing else is guessed.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import orjson
from flask_babel import gettext as _

from ... import schema_types
from ...errors import ValidationError
from ...history import same_json
from ...validation import FORMAT_EXAMPLES
from . import field_choices, jalali, listing, required_marks
from .i18n import lang, local_zone, number, zone_name

RECORD_REF = "#/$defs/record_ref"
PICKER_LIMIT = 200


@dataclass
class Field:
    name: str
    label: str
    widget: str  # text, textarea, select, date, datetime, integer, number, checkbox, json, ref, group, list
    required: bool = False
    options: list = field(default_factory=list)  # [(value, shown)] for select/ref
    enum: list = field(default_factory=list)
    ref: str | None = None
    description: str = ""
    current: str = ""  # for a reference: the title of the record it names now
    default: object = None  # the schema's ``default``, shown in the new-record form
    readonly: bool = False  # ``readOnly``: shown, never read from the edit form
    json_keys: bool = False  # a select's options are keyed by their JSON text (see build)
    example: str = ""  # a JSON input: a value of the shape the schema asks for (json_example)
    children: list = field(default_factory=list)  # a "group": the object's sub-fields
    item: "Field | None" = None  # a "list": the field of one item (a scalar input or a group)
    path: tuple = ()  # the keys from the record's data down to this field
    max_items: int | None = None  # a "list": the schema's ``maxItems`` (nested_inputs.row_limit)

    @property
    def input(self) -> str:
        """The name of the field's input: the property's own name, unless the form itself
        uses it (a property named ``csrf_token`` took the CSRF token as its value, one named
        ``version`` the edit form's version) — see :func:`input_name`."""
        return input_name(self.name)

    @property
    def dom_id(self) -> str:
        """The name as it goes into an element id (``f-…``, ``err-…``): without whitespace,
        which would split an ``aria-describedby`` list in two (``err-has space``)."""
        return re.sub(r"[%\s]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), self.name)


#: Input names the forms use for themselves.
RESERVED_INPUTS = ("csrf_token", "version")


def input_name(name: str) -> str:
    """A property's input name: a reserved name, or one starting with ``~``, gets a ``~``
    in front; every other name is its own (so the mapping is one-to-one)."""
    return "~" + name if name in RESERVED_INPUTS or name.startswith("~") else name


def reference_type(et, name: str, known_types) -> str | None:
    """The entity type the property ``name`` refers to, by the convention above, or None."""
    raw = et.schema.get("properties", {}).get(name)
    if not isinstance(raw, dict):
        return None
    if isinstance(raw.get("x-ref"), str):
        return raw["x-ref"]
    ref = raw.get("$ref")
    if isinstance(ref, str) and ref.endswith(RECORD_REF) and name.endswith("_id") and name[:-3] in known_types:
        return name[:-3]
    return None


def build(et, known_types, label, value_label=None) -> "Fields":
    """The form fields of entity type ``et``; ``label(name)`` gives a field's shown label and
    ``value_label(name, value)`` a select option's text (None: the value itself; the option's
    value stays the enum value's key, so a submitted form stores exactly the enum value)."""
    required = required_marks.members(et)  # the root's, its allOf parts', every branch's
    out = []
    for name, sub in et.properties().items():
        sub = sub if isinstance(sub, dict) else {}
        # Every value the field may hold wherever the schema declares it (a later oneOf
        # branch's const, an else's enum), not the first declaration's (field_choices).
        allowed = field_choices.choices_at(et, (name,))
        if allowed is field_choices.UNKNOWN:
            allowed = field_choices.own(sub)
        shape = dict(sub, enum=allowed) if allowed is not None else field_choices.without_choice(sub)
        f = Field(name, label(name), _widget(et, name, shape), name in required,
                  description=sub.get("description", "") if isinstance(sub.get("description"), str) else "",
                  default=sub.get("default"), readonly=sub.get("readOnly") is True)
        if f.widget == "select":
            # A ``const`` is a choice of one: picked, not typed letter by letter.
            f.enum = list(allowed)
            choices(f, value_label)
        elif f.widget == "checkbox" and et.property_type(name) is None:
            # Declared in some branches only: a box, once ticked, could not leave it out
            # again (unticked is false); a select of yes, no and "—" (absent) can.
            f.widget, f.enum = "select", [True, False]
            choices(f, yes_no(value_label))
        ref = reference_type(et, name, known_types)
        if ref and f.widget == "text":
            f.widget, f.ref = "ref", ref
        f.path = (name,)
        if f.widget == "json":
            # Kept for the JSON box a group or list falls back to for a value it cannot show.
            f.example = example_text(et.property_schema(name) or sub, et.schema)
            if not f.readonly and field_choices.members_declared_once(et, name):
                nested.structure(f, et, et.property_schema(name) or sub, value_label, known=known_types)
        out.append(f)
    fields = nested.Fields(nested.unambiguous(out))
    fields.et = et  # the form's messages name a part of a value by its labels (nested_view)
    return fields


#: Levels of nesting an example shows, keys per object, and the longest example shown.
EXAMPLE_DEPTH, EXAMPLE_KEYS, EXAMPLE_LIMIT = 4, 10, 400
#: A text of no particular form, in an example.
ANY_TEXT = "…"


def example_text(sub, root: dict) -> str:
    """A JSON value of the shape the property schema ``sub`` describes, as text, for the help
    of its JSON input: staff filling a form cannot read the schema, and "JSON" alone does not
    say which keys an object takes or that a list holds objects. "" when there is nothing
    to show (a schema with no structure) or the example would be too long to read."""
    value = json_example(sub, root, 0)
    if not isinstance(value, (dict, list)) or not value:
        return ""
    text = orjson.dumps(value).decode()
    return text if len(text) <= EXAMPLE_LIMIT else ""


def json_example(sub, root: dict, depth: int):
    """A value valid for ``sub`` as far as its structure goes: its ``examples``, ``const``,
    ``default`` or first ``enum`` value; an object with each property's example (required
    ones first); a list of one item; a text of the ``format`` (``validation.FORMAT_EXAMPLES``).
    The first alternative of ``oneOf``/``anyOf``; local ``$ref``s followed."""
    if not isinstance(sub, dict) or depth > EXAMPLE_DEPTH:
        return ANY_TEXT
    ref = sub.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/") and len(sub) == 1:
        target = root
        for token in ref[2:].split("/"):
            target = target.get(unescape_token(token)) if isinstance(target, dict) else None
        return json_example(target, root, depth + 1)
    for key in ("examples", "enum"):
        if isinstance(sub.get(key), list) and sub[key]:
            return sub[key][0]
    for key in ("const", "default"):
        if key in sub:
            return sub[key]
    for key in ("oneOf", "anyOf"):
        if isinstance(sub.get(key), list) and sub[key]:
            return json_example(sub[key][0], root, depth + 1)
    kind = sub.get("type")
    kind = next((t for t in kind if t != "null"), None) if isinstance(kind, list) else kind
    if kind == "object" or isinstance(sub.get("properties"), dict):
        props = sub.get("properties") if isinstance(sub.get("properties"), dict) else {}
        required = [k for k in sub.get("required", []) if k in props] if isinstance(sub.get("required"), list) else []
        names = required + [k for k in props if k not in required]
        return {k: json_example(props[k], root, depth + 1) for k in names[:EXAMPLE_KEYS]}
    if kind == "array" or "items" in sub:
        return [json_example(sub.get("items"), root, depth + 1)] if isinstance(sub.get("items"), dict) else []
    if kind in ("integer", "number"):
        low = sub.get("minimum")
        return low if isinstance(low, (int, float)) and not isinstance(low, bool) else 0
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return FORMAT_EXAMPLES.get(sub.get("format"), ANY_TEXT)


def _widget(et, name: str, sub: dict) -> str:
    if _is_choice(sub):
        return "select"
    # property_type takes the name as written: field_type reads "a.b" as a path into "a".
    return widget_of(sub, et.property_type(name) or declared_type(et, name))


def declared_type(et, name: str) -> str | None:
    """The one JSON type the places declaring the top-level property ``name`` give it, or
    None. A property declared in one ``oneOf`` branch only (``iban`` in one, ``card_last4``
    in the other) has no single type for the core — the other branch leaves it free — and
    took the JSON box; its input is the one its declarations ask for, and the schema still
    judges what is typed (a value of another type stored there is shown as its JSON text
    and kept while left as shown)."""
    types: set[str] = set()
    for part in listing.in_place(et.schema, et.schema):
        props = part.get("properties")
        if isinstance(props, dict) and name in props:
            found = schema_types.types_of(et.schema, props[name])
            if not found:
                return None  # a declaration that says no type: any JSON value
            types |= found
    return schema_types.json_type_of(types)


def yes_no(value_label=None):
    """``value_label`` for a select of ``true``/``false``: the declared labels, else yes and no."""
    def label(name, value):
        return (value_label and value_label(name, value)) or (_("yes") if value else _("no"))
    return label


def _is_choice(sub: dict) -> bool:
    return isinstance(sub.get("enum"), list) or "const" in sub


def widget_of(sub: dict, jt: str | None) -> str:
    """The widget of a property whose subschema is ``sub`` and JSON type ``jt``."""
    if _is_choice(sub):
        return "select"
    if jt == "boolean":
        return "checkbox"
    if jt in ("integer", "number"):
        return jt
    if jt == "string":
        fmt = sub.get("format")
        if fmt == "date":
            return "date"
        if fmt == "date-time":
            return "datetime"
        return "textarea" if (sub.get("maxLength") or 0) > 400 else "text"
    return "json"


def _enum_key(v) -> str:
    # Keys sorted: PostgreSQL's JSONB keeps no written order, and an object value stored
    # there must still match its option (unmatched, an unchanged form removed it).
    return v if isinstance(v, str) else orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode()


def enum_key(f: Field, v) -> str:
    """The select's option value (and shown text) for the enum value ``v``."""
    return orjson.dumps(v, option=orjson.OPT_SORT_KEYS).decode() if f.json_keys else _enum_key(v)


def choices(f: Field, value_label=None, label_name=None) -> None:
    """Fill a select's ``json_keys`` and ``options`` from its values ``f.enum`` (see
    :func:`build`); ``label_name`` names the field for ``value_label``."""
    # Text and other values are keyed alike ("1" and 1 were both "1", so the text could
    # not be chosen): when one would be taken for another, every key is JSON.
    strings = {v for v in f.enum if isinstance(v, str)}
    f.json_keys = any(_enum_key(v) in strings for v in f.enum if not isinstance(v, str))
    f.options = [(enum_key(f, v), (value_label and value_label(label_name or f.name, v)) or _choice_text(f, v))
                 for v in f.enum if v is not None]


def _choice_text(f: Field, v) -> str:
    """An option's text when its value has no label: the value as the option sends it, a
    number written as the page writes numbers (:func:`.i18n.number`; the value sent stays)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return number(v)
    return enum_key(f, v)


def shown(f: Field, value):
    """The form's text for a stored value (what an unchanged input sends back). For a group
    or list: the texts of its inputs (:class:`nested.Inputs`), or the value's JSON text when
    the inputs cannot show it exactly (the field then takes a JSON box, so nothing is lost)."""
    if f.widget in ("group", "list"):
        return nested.shown_inputs(f, value)
    if value is None:
        return ""
    if f.widget == "checkbox":
        return "on" if value is True else ""
    if f.widget == "select":
        return enum_key(f, value)
    if f.widget == "datetime" and isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
            if dt.tzinfo is not None:  # the instant in the user's zone, as parse() reads it back
                dt = dt.astimezone(local_zone())
        except (ValueError, OverflowError):  # 0001-01-01T00:30+01:00 is in year 0 in UTC
            return value  # shown as stored, in a text input (input_type)
        if jalali_form():
            try:
                return jalali.shown_date_time(dt)
            except (ValueError, OverflowError):  # a year jdatetime cannot place: as stored
                return value
        # isoformat, not strftime: "%Y" writes the year 999 as "999", which a browser's
        # datetime-local input drops, so an unchanged form removed the value.
        return dt.replace(tzinfo=None).isoformat(timespec="seconds")[:None if dt.second else -3]
    if f.widget == "date" and isinstance(value, str) and jalali_form():
        try:
            return jalali.jalali_iso(date.fromisoformat(value))
        except (ValueError, OverflowError):  # no ISO date: shown as stored, read back unchanged
            return value
    if f.widget == "json" or not isinstance(value, (str, int, float)):
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return str(value)


#: What a datetime-local input holds (any other text would be dropped by the browser).
LOCAL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?")


def jalali_form() -> bool:
    """Whether the form's date and date-time inputs show and read the Solar Hijri calendar
    (:mod:`.jalali`): on a Persian page. A Gregorian ISO date is still read there."""
    return lang() == "fa"


def date_hint(f: Field) -> str | None:
    """What a date or date-time input of a Persian form takes (the Solar Hijri calendar, an
    example), or None where the browser's own input says it."""
    if not jalali_form():
        return None
    if f.widget == "date":
        return _("Solar Hijri date, e.g. %(example)s", example="1403-09-07")
    if f.widget == "datetime":
        return _("Solar Hijri date and time, e.g. %(example)s", example="1403-09-07 14:30")
    return None


def input_type(f: Field, value: str) -> str:
    """The ``type`` of a field's ``<input>`` showing ``value``: a date-time that cannot be
    shown in UTC (or is not one) keeps a text input, so the browser sends it back as shown."""
    if f.widget in ("date", "datetime") and jalali_form():
        return "text"  # a browser's date picker is Gregorian: a Jalali date is typed
    if f.widget == "datetime":
        return "datetime-local" if not value or LOCAL_DATETIME.fullmatch(value) else "text"
    return {"date": "date", "integer": "number", "number": "number"}.get(f.widget, "text")


def defaults(fields: list[Field]) -> dict:
    """The new-record form's inputs (by input name) as the schema's ``default`` values fill
    them: a field's own, else for a group the defaults of its members, at any depth (a list
    starts with no item; the row to type one in takes the items' defaults, see
    :mod:`.nested_inputs`)."""
    out = {}
    for f in fields:
        if f.default is not None:
            out[f.input] = shown(f, f.default)
        elif f.widget == "group":
            inputs = nested.default_inputs(f, f.path)
            if inputs:
                out[f.input] = inputs
    return out


def parse(f: Field, raw: str):
    """The value of one submitted input (None when empty); ValueError with a message if bad."""
    if f.widget == "checkbox":
        return True if raw else None
    raw = raw.strip() if f.widget not in ("text", "textarea") else raw
    if raw == "":
        return None
    if f.widget == "integer":
        try:
            if "_" in raw:  # Python reads "1_000" as 1000; no browser or JSON does
                raise ValueError
            return int(raw)
        except ValueError:
            raise ValueError(_("not a whole number")) from None
    if f.widget == "number":
        if re.fullmatch(r"[+-]?\d+", raw):
            # A whole number typed as one stays an integer, exactly (through a float,
            # 12345678901234567891 became 12345678901234567168).
            try:
                return int(raw)
            except ValueError:  # past 4,300 digits Python refuses: its own message was shown
                raise ValueError(_("not a number")) from None
        try:
            number = float(raw)
            # "nan", "inf" and "1e400" are floats to Python, but no JSON number: they were
            # stored as null ("null is not of type number" at a field holding 1e400).
            if "_" in raw or not math.isfinite(number):
                raise ValueError
        except ValueError:
            raise ValueError(_("not a number")) from None
        return number
    if f.widget == "select":
        for v in f.enum:
            if enum_key(f, v) == raw:
                return v
        raise ValueError(_("not one of the choices"))
    if f.widget == "date" and jalali_form():
        return jalali.read_date(raw) or raw  # else as typed: the schema judges it
    if f.widget == "datetime":
        if jalali_form():
            raw = jalali.read_date_time(raw) or raw
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}", raw):
            raw += ":00"
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?", raw):
            return raw + _offset_in_zone(raw)
        return raw
    if f.widget == "json":
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError:
            if raw[0] in "{[\"":
                raise ValueError(_("not valid JSON")) from None
            # Not JSON and not an attempt at an object, array or quoted string: the text
            # itself (a oneOf of an e-mail string or an object takes `a@b.co` as typed);
            # the schema then judges it.
            return raw
    return raw


def _offset_in_zone(typed: str) -> str:
    """The RFC 3339 offset of the user's time zone at the local time ``typed``
    (``2026-03-10T09:00:00``): ``+03:30``, or ``Z`` where it is zero (UTC, the server's
    default: what the form always wrote before zones were the user's). ValueError with a
    message naming the zone for a time its clocks skip (a spring-forward gap) or one the
    zone cannot place; a time its clocks pass twice is the first of the two."""
    zone = local_zone()
    try:
        local = datetime.fromisoformat(typed).replace(tzinfo=zone)
        back = local.astimezone(timezone.utc).astimezone(zone)
    except (ValueError, OverflowError):
        raise ValueError(_("not a time in %(zone)s", zone=zone_name())) from None
    if back.replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ValueError(_("no such time in %(zone)s: the clocks skip it", zone=zone_name()))
    offset = local.utcoffset()
    if offset % timedelta(minutes=1):  # local mean time before standard zones: not in RFC 3339
        raise ValueError(_("not a time in %(zone)s", zone=zone_name()))
    if not offset:
        return "Z"
    sign, minutes = ("-", -offset) if offset < timedelta(0) else ("+", offset)
    hours, rest = divmod(int(minutes.total_seconds()) // 60, 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def read_form(fields: list[Field], form, original: dict | None = None):
    """``(data, errors)`` from a submitted form.

    Without ``original`` (create), ``data`` holds the non-empty inputs. With it (edit),
    ``data`` holds the members that changed, for an update that replaces each as it is
    (``replace_members``): an input left exactly as shown keeps the stored value (so a
    date-time with another offset is not rewritten), an emptied one removes the attribute
    (``null``), and an edited JSON object replaces the stored one whole, so a key deleted
    in the text is removed and a ``null`` typed inside it is stored.
    A ticked-off box of a required boolean is ``false`` (it cannot be left out).
    A group or list is read from its inputs (:mod:`.nested_inputs`), or from its JSON box
    when the form showed one. ``errors`` maps field names to messages (an
    :class:`~.nested_inputs.ErrorMap`: a nested input's message by its path too).
    """
    data, errors = {}, nested.ErrorMap()
    for f in fields:
        if f.readonly and not (original is None and f.required):
            continue  # readOnly: the value is not the form's to change
        if f.widget in ("group", "list"):
            value, errs = nested.read_field(f, form, None if original is None else original.get(f.name),
                                            original is not None)
            for path, message in errs.nested.items():
                errors.add(path, message)
            if errs or value is nested.UNCHANGED:
                continue
        else:
            value = _read_scalar(f, form, original, errors)
            if value is nested.UNCHANGED:
                continue
        if value is None and f.required:
            errors[f.name] = _("required")
        elif original is not None:
            if same_json(original.get(f.name), value) and value is not None:
                continue  # the same value written differently (an object's spacing, key order)
            data[f.name] = value  # None removes it
        elif value is not None:
            data[f.name] = value
    return data, errors


def _read_scalar(f: Field, form, original: dict | None, errors: dict):
    """The value of a one-input field: UNCHANGED when it came back as shown or was refused
    (its message then put in ``errors``), None when empty."""
    raw = form.get(f.input, "")
    if f.widget in ("text", "textarea", "json"):
        raw = _line_breaks(raw)  # browsers send a textarea's line breaks as CRLF
    if original is not None and raw == _line_breaks(shown(f, original.get(f.name))):
        return nested.UNCHANGED  # as shown: a stored "a\r\nb" comes back "a\r\nb" and is not rewritten
    try:
        value = parse(f, raw)
    except ValueError as e:
        errors[f.name] = str(e)
        return nested.UNCHANGED
    if f.widget == "checkbox" and value is None and (
            f.required or (original is not None and f.name in original)
            or (original is None and f.default is not None)):
        # Unticked a box that was ticked (by the record or the schema's default: left
        # out, the attribute would read as the default), or one that must be there.
        value = False
    return value


def version_of(text: str | None) -> int:
    """The record or type version a form carries: -1 (matching none, so a stale-form check
    refuses) when it is not a number."""
    try:
        return int(text or "")
    except ValueError:
        return -1


def _line_breaks(text: str) -> str:
    """``text`` with every line break as ``\n``: a browser sends those of a textarea as
    CRLF whatever they were, so a stored CR or CRLF reads back as this."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def field_errors(e: ValidationError, names, where=None) -> tuple[dict, list[str]]:
    """Split a core ValidationError into ``{field: message}`` and messages for the whole form.

    A message at a pointer no input holds goes to the whole form after ``where(pointer)``
    (the pointer in words, "" for none), else after the pointer itself.

    Every error of a field is kept (a nested object may miss several keys), and a long value
    quoted in a message is shortened: the input beside it holds the whole text. The first
    is an :class:`~.nested_inputs.ErrorMap`: each message by its whole path as well, for the
    nested input it is about."""
    by_field, general = nested.ErrorMap(), []
    for err in e.errors:
        # The core points every error at the field it is about, a missing required one
        # included (/data/NAME), so the pointer alone says which input to mark.
        ptr, msg = err.get("pointer", ""), _shorten(err.get("message", ""))
        parts = ptr.split("/")
        name = unescape_token(parts[2]) if len(parts) > 2 and parts[1] == "data" else None
        if name in names:
            by_field.add((name, *(unescape_token(t) for t in parts[3:])), msg)
        else:
            at = where(ptr) if where and ptr else ptr
            general.append(f"{at}: {msg}" if at else msg)
    if not e.errors:
        general.append(e.message)
    return by_field, general


#: A quoted text in a message longer than this is shortened (the schema's messages quote the
#: whole value: a 10,000-character text made a 10,000-character error).
QUOTE_LIMIT = 60
MESSAGE_LIMIT = 300


def _shorten(message: str) -> str:
    message = re.sub(r'"((?:[^"\\]|\\.){%d,})"' % (QUOTE_LIMIT + 1),
                     lambda m: '"' + m.group(1)[:QUOTE_LIMIT] + '…"', message)
    return message if len(message) <= MESSAGE_LIMIT else message[:MESSAGE_LIMIT] + "…"


def unescape_token(token: str) -> str:
    """An RFC 6901 pointer token as the key it names."""
    return token.replace("~1", "/").replace("~0", "~")


# Last: nested_inputs builds on the functions above (and imports this module).
from . import nested_inputs as nested  # noqa: E402
