"""Inputs for nested objects and lists in the generated record forms (:mod:`.forms`).

A property of type object whose schema declares its ``properties`` (through ``$ref`` and
``allOf``) becomes a **group**: a fieldset with one input per member, chosen by the rules of
top-level fields, down to :data:`NEST_DEPTH` levels. A property of type array whose items are
scalars, or objects of scalar members, becomes a **list**: one row per item, a row to type
a new one in, and buttons to add and remove rows (plain submit buttons, so they work without
JavaScript; ``static/nested-inputs.js`` does the same in the page). Shapes the inputs cannot
say (``oneOf``/``anyOf`` between shapes, conditions, ``patternProperties``, maps through
``additionalProperties``, ``prefixItems``, lists of lists or of booleans, items holding
objects or lists) keep the JSON box.

Input names are paths: each key or row number with ``~`` written ``~0`` and ``.`` written
``~1``, joined by ``.`` (``address.city``, ``phones.2.number``, ``a~1b.c``). A group whose
names would equal a top-level input's (a property named ``address.city`` beside
``address``) keeps the JSON box, so every input name means one thing.

What a form sends becomes what the JSON box gave: an empty input is an absent member, an
object whose inputs are all empty is absent, a row whose inputs are all empty is no item,
and a list with no item is absent. A stored value the inputs cannot show exactly (an
undeclared member, a ``null`` inside, a number where text is declared) is shown in the JSON
box instead — checked by reading the shown inputs back — so an edit never loses it.

Errors are tied to the deepest input their pointer reaches (``/data/phones/1/number``: the
second item's number input); a list's own errors (``minItems``, ``uniqueItems``) to its
fieldset.
"""
from __future__ import annotations

import re

import orjson
from flask_babel import gettext as _

from ... import schema_types
from ...history import same_json
from . import forms, listing
from .i18n import digits, tr

#: Levels of objects shown as fieldsets inside one another; deeper ones take a JSON box.
NEST_DEPTH = 3
#: Rows read from a posted list (a row number has at most this many digits).
ROW_DIGITS = 4
#: Keywords after which the schema's shape is not one set of members.
UNSHOWABLE = ("oneOf", "anyOf", "if", "then", "else", "dependentSchemas", "patternProperties",
              "$dynamicRef", "prefixItems", "propertyNames")
SCALARS = ("string", "integer", "number", "boolean")


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


#: What reading an input gives when it came back as shown (or was refused): keep the stored value.
UNCHANGED = _Unchanged()


class Inputs(dict):
    """The texts of a group's or list's inputs, by input name (what :func:`forms.shown` gives
    for a value the inputs can show)."""


class Said(str):
    """A field's messages in one text, with ``parts``: each message and the path it is at."""

    parts: tuple = ()


class ErrorMap(dict):
    """A form's errors by field name (each field's messages in one text, a nested member's
    after its path: ``city: required``), and in ``nested`` the same by path (a tuple of keys
    and item numbers, as text), so a message can be shown at the nested input it is about."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.nested: dict[tuple, str] = {}

    def add(self, path: tuple, message: str) -> None:
        """Say ``message`` at ``path`` (its first key names the field)."""
        name = path[0]
        text = message if len(path) == 1 else f"{'/'.join(_escape_token(p) for p in path[1:])}: {message}"
        old = self.get(name)
        if old is None:
            said = Said(text)
        elif text not in old.split("; "):
            said = Said(old + "; " + text)
        else:
            said = old if isinstance(old, Said) else Said(old)
        said.parts = getattr(old, "parts", ()) + ((path, message),)
        self[name] = said
        if path not in self.nested:
            self.nested[path] = message
        elif message not in self.nested[path].split("; "):
            self.nested[path] += "; " + message

    def setdefault(self, name, message=None):
        """As dict's; a message of another ErrorMap brings the paths of its parts along (a
        view adding the schema's errors for the fields its own checks did not refuse)."""
        if name in self:
            return self[name]
        if isinstance(message, Said) and message.parts:
            for path, m in message.parts:
                self.add(path, m)
            return self[name]
        self[name] = message
        return message


def _escape_token(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def segment(key: str) -> str:
    """One key of an input name, ``~`` and ``.`` escaped."""
    return key.replace("~", "~0").replace(".", "~1")


def name_of(path) -> str:
    """The input name of the member at ``path``."""
    return ".".join(segment(str(p)) for p in path)


def dom(name: str) -> str:
    """An input name as it goes into an element id (no whitespace, see ``Field.dom_id``)."""
    return re.sub(r"[%\s]", lambda m: "".join(f"%{b:02X}" for b in m.group().encode()), name)


# -- what the schema allows ------------------------------------------------------------------

def _parts(root, node, depth=0, seen=None):
    """``node`` and every subschema applied in place with it (``$ref`` targets, ``allOf``)."""
    seen = {} if seen is None else seen
    if not isinstance(node, dict) or depth > 20 or not schema_types.first_visit(node, seen):
        return []
    out = [node]
    out += _parts(root, schema_types.ref_target(root, node, depth), depth + 1, seen)
    for sub in node.get("allOf", []) if isinstance(node.get("allOf"), list) else []:
        out += _parts(root, sub, depth + 1, seen)
    return out


def _plain(parts) -> bool:
    """One fixed shape: no alternatives, conditions or members named by a pattern or map."""
    for p in parts:
        if any(k in p for k in UNSHOWABLE) or isinstance(p.get("additionalProperties"), dict):
            return False
    return True


def _types(parts) -> set:
    found = None
    for p in parts:
        t = p.get("type")
        if t is None:
            continue
        t = {t} if isinstance(t, str) else set(t) if isinstance(t, list) else set()
        t.discard("null")
        found = t if found is None else found & t
    return found or set()


def _one_type(parts) -> str | None:
    types = _types(parts)
    if not types and any(isinstance(p.get("properties"), dict) for p in parts):
        return "object"
    if types and types <= {"integer", "number"}:
        return "number" if "number" in types else "integer"
    return next(iter(types)) if len(types) == 1 else None


def structure(f, et, node, value_label, depth: int = 1) -> None:
    """Make the JSON field ``f`` a group or a list when its subschema ``node`` can be shown as
    inputs (the module docstring); leave it a JSON box otherwise."""
    root = et.schema
    parts = _parts(root, node)
    if not parts or not _plain(parts):
        return
    kind = _one_type(parts)
    if kind == "object" and depth <= NEST_DEPTH:
        children = _members(f, et, parts, value_label, depth, scalars_only=False)
        if children:
            f.widget, f.children = "group", children
    elif kind == "array":
        items = next((p["items"] for p in parts if isinstance(p.get("items"), dict)), None)
        if items is None or any("contains" in p for p in parts):
            return
        item = forms.Field(f.name, f.label, "json", path=f.path)
        iparts = _parts(root, items)
        if not iparts or not _plain(iparts):
            return
        ikind = _one_type(iparts)
        if _choice(iparts) or ikind in ("string", "integer", "number"):
            _scalar(item, iparts, ikind, value_label, ".".join(f.path))
        elif ikind == "object":
            children = _members(item, et, iparts, value_label, depth, scalars_only=True)
            if not children:
                return
            item.widget, item.children = "group", children
        else:
            return
        if item.widget in ("json", "checkbox", "ref"):
            return
        f.widget, f.item = "list", item


def _choice(parts) -> dict | None:
    return next((p for p in parts if isinstance(p.get("enum"), list) or "const" in p), None)


def _scalar(f, parts, kind, value_label, label_name) -> None:
    merged = {}
    for p in reversed(parts):
        merged.update(p)
    choice = _choice(parts)
    f.widget = forms.widget_of(choice or merged, kind)
    if choice is not None:
        f.enum = list(choice["enum"]) if isinstance(choice.get("enum"), list) else [choice["const"]]
        forms.choices(f, value_label, label_name)
    f.default = merged.get("default")


def _members(f, et, parts, value_label, depth, scalars_only) -> list:
    """The sub-fields of an object schema, or [] when one of them cannot be shown."""
    root = et.schema
    props: dict = {}
    for p in parts:
        schema_types.collect_properties(root, p, props, 0)
    required = set()
    for p in parts:
        required |= schema_types.required_properties(root, p)
    out = []
    for key, sub in props.items():
        sub = sub if isinstance(sub, dict) else {}
        sparts = _parts(root, sub)
        title = next((p["title"] for p in sparts if isinstance(p.get("title"), str)), None)
        desc = next((p["description"] for p in sparts if isinstance(p.get("description"), str)), "")
        c = forms.Field(key, tr(title, key.replace("_", " ").capitalize(), et.source), "json",
                        required=key in required, description=listing.field_description(et, desc),
                        readonly=any(p.get("readOnly") is True for p in sparts), path=f.path + (key,))
        kind = _one_type(sparts) if _plain(sparts) else None
        if sparts and _plain(sparts) and (_choice(sparts) or kind in SCALARS):
            _scalar(c, sparts, kind, value_label, ".".join(c.path))
        elif scalars_only:
            return []
        else:
            structure(c, et, sub, value_label, depth + 1)
            if c.widget == "json":
                c.example = forms.example_text(sub, root)
        if c.readonly:
            return []  # a member the form must not change, inside a value it rewrites whole
        out.append(c)
    return out


def unambiguous(fields: list) -> list:
    """``fields``, a group or list whose input names could be a top-level input's (a
    property named ``a.b`` beside ``a``) turned back into its JSON box."""
    top = {f.input for f in fields} | {f.name for f in fields}
    for f in fields:
        if f.widget in ("group", "list"):
            # Every input of the field is named "PREFIX.…" (a row may have any number).
            prefix = name_of(f.path) + "."
            if any(t.startswith(prefix) for t in top):
                _to_json(f)
    return fields


def _to_json(f) -> None:
    f.widget, f.children, f.item = "json", [], None


# -- reading a posted form ---------------------------------------------------------------------

def rows(form, prefix: str) -> list[str]:
    """The row numbers of the list whose inputs are named ``prefix.N…``, in order."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d{1,%d})(?:\.|$)" % ROW_DIGITS)
    found = {m.group(1) for m in map(pattern.match, form.keys()) if m}
    return sorted(found, key=lambda n: (int(n), n))


def _row_empty(form, name: str) -> bool:
    return all(form.get(k, "") == "" for k in form.keys() if k == name or k.startswith(name + "."))


def _text(f, raw: str) -> str:
    return forms._line_breaks(raw) if f.widget in ("text", "textarea", "json") else raw


def _read(f, names: tuple, keys: tuple, form, orig, errors: ErrorMap):
    """The value of the inputs of ``f`` named after ``names``; errors are said at ``keys``
    (the same path with a list's row numbers as item numbers: empty rows are no items)."""
    if f.widget == "group":
        obj, falses = {}, []
        for c in f.children:
            sub = orig.get(c.name) if isinstance(orig, dict) else None
            v = _read(c, names + (c.name,), keys + (c.name,), form, sub, errors)
            if v is not None:
                obj[c.name] = v
            elif c.widget == "checkbox" and (c.required or (isinstance(orig, dict) and c.name in orig)):
                falses.append(c.name)  # a box unticked: false, where it must be or was there
        if not obj:
            return {} if orig == {} else None  # an empty object stored stays (as shown)
        for name in falses:
            obj[name] = False
        return {c.name: obj[c.name] for c in f.children if c.name in obj}
    if f.widget == "list":
        items = []
        for n in rows(form, name_of(names)):
            if _row_empty(form, name_of(names + (n,))):
                continue  # a row left empty: no item
            at = int(n)
            sub = orig[at] if isinstance(orig, list) and at < len(orig) else None
            v = _read(f.item, names + (n,), keys + (str(len(items)),), form, sub, errors)
            items.append(v)
        if not items:
            return [] if orig == [] else None
        return items
    raw = _text(f, form.get(name_of(names), ""))
    if orig is not None and raw == _text(f, forms.shown(f, orig)):
        return orig  # as shown: a date-time stored with an offset is not rewritten
    try:
        return forms.parse(f, raw)
    except ValueError as e:
        errors.add(keys, str(e))
        return None


def json_box(f):
    """The JSON box a group or list falls back to."""
    return forms.Field(f.name, f.label, "json", f.required, description=f.description, path=f.path,
                       example=f.example, readonly=f.readonly)


def read_field(f, form, original, editing: bool):
    """``(value, errors)`` of the group or list ``f`` in a posted form: from its JSON box when
    the form showed one (the stored value did not fit the inputs), else from its inputs.
    ``value`` is UNCHANGED when the field came back as shown; ``errors`` an :class:`ErrorMap`."""
    errors = ErrorMap()
    if f.input in form:
        box = json_box(f)
        raw = forms._line_breaks(form.get(f.input, ""))
        if editing and raw == forms._line_breaks(forms.shown(box, original)):
            return UNCHANGED, errors
        try:
            return forms.parse(box, raw), errors
        except ValueError as e:
            errors.add((f.name,), str(e))
            return UNCHANGED, errors
    value = _read(f, f.path, f.path, form, original, errors)
    if editing and original is not None and value is not None and same_json(value, original):
        return UNCHANGED, errors
    if editing and original is None and value is None:
        return UNCHANGED, errors
    return value, errors


# -- showing a stored value --------------------------------------------------------------------

def _flatten(f, path, value, out) -> bool:
    if f.widget == "group":
        if not isinstance(value, dict):
            return False
        members = {c.name: c for c in f.children}
        return all(k in members and _flatten(members[k], path + (k,), v, out) for k, v in value.items())
    if f.widget == "list":
        if not isinstance(value, list):
            return False
        return all(_flatten(f.item, path + (str(i),), v, out) for i, v in enumerate(value))
    if value is None or isinstance(value, (dict, list)):
        return False
    out[name_of(path)] = forms.shown(f, value)
    return True


def shown_inputs(f, value):
    """The inputs' texts for ``value`` (:class:`Inputs`), or its JSON text when reading those
    inputs back would not give ``value`` exactly (the field then shows its JSON box)."""
    out = Inputs()
    if value is None:
        return out
    if _flatten(f, f.path, value, out):
        errors = ErrorMap()
        back = _read(f, f.path, f.path, out, value, errors)
        if not errors and same_json(back, value):
            return out
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


# -- the form's view ---------------------------------------------------------------------------

class Fields(list):
    """The fields of a record form (:func:`forms.build`); :meth:`view` lays out their
    nested inputs for the template."""

    def view(self, values, errors) -> "FormView":
        return FormView(self, values, errors)


class FormView:
    """What the template shows of a form: ``nodes`` (a group or list field's inputs, by field
    name), ``texts`` (a one-input field's message, by name) and ``entries`` (the summary: each
    refused input's ``{"id", "label", "text"}``, in the form's order)."""

    def __init__(self, fields, values, errors):
        self.nodes, self.texts, self.entries = {}, {}, []
        nested = getattr(errors, "nested", {})
        for f in fields:
            mine = {k: m for k, m in nested.items() if k[0] == f.name}
            if f.widget in ("group", "list"):
                node = self._layout(f, values)
                self._bind(node, f, mine, errors)
                self.nodes[f.name] = node
                self._collect(node, f.label)
            elif f.name in errors:
                self.texts[f.name] = errors[f.name]
                self.entries.append({"id": "f-" + f.dom_id, "label": f.label, "text": errors[f.name]})

    # -- layout --
    def _layout(self, f, values):
        shown = values.get(f.input)
        if isinstance(shown, str) or (shown is not None and not isinstance(shown, Inputs)):
            box = json_box(f)
            return {"kind": "json", "f": box, "name": f.input, "id": "f-" + f.dom_id, "value": shown,
                    "keys": (f.name,), "errors": [], "label": f.label,
                    "example": f.example}
        source = shown if isinstance(shown, Inputs) else values
        return self._node(f, f.path, (f.name,), source, f.label, top=True)

    def _node(self, f, names, keys, source, label, top=False):
        name = name_of(names)
        ident = "f-" + (f.dom_id if top else dom(name))
        if f.widget == "group":
            return {"kind": "group", "f": f, "id": ident, "name": name, "label": label, "keys": keys, "errors": [],
                    "children": [self._node(c, names + (c.name,), None if keys is None else keys + (c.name,),
                                            source, c.label) for c in f.children]}
        if f.widget == "list":
            found, out, count = rows(source, name), [], 0
            numbers = list(found)
            if not numbers or not _row_empty(source, name_of(names + (numbers[-1],))):
                # One empty row to type a new item in, numbered after the last.
                numbers.append(str(max([int(n) for n in numbers] + [-1]) + 1))
            for position, n in enumerate(numbers, 1):
                empty = _row_empty(source, name_of(names + (n,)))
                row_keys = None if empty or keys is None else keys + (str(count),)
                count += 0 if empty else 1
                row_label = _("%(field)s, item %(n)s", field=label, n=digits(position))
                item = self._node(f.item, names + (n,), row_keys, source, row_label)
                item["in_row"] = True
                out.append({"node": item,
                            "remove": name_of(names + (n,)), "label": row_label})
            template = self._node(f.item, names + ("__row__",), None, {}, _("%(field)s, new item", field=label))
            template["in_row"] = True
            return {"kind": "list", "f": f, "id": ident, "name": name, "label": label, "keys": keys, "errors": [],
                    "rows": out, "add": name, "template": template}
        value = source.get(name, "")
        value = value if isinstance(value, str) else ""
        return {"kind": "input", "f": f, "name": name, "id": ident, "value": value, "label": label,
                "keys": keys, "errors": []}

    # -- errors --
    def _bind(self, node, f, mine, errors):
        at = {}

        def index(n):
            if n.get("keys") is not None:
                at[n["keys"]] = n
            for c in n.get("children", []):
                index(c)
            for r in n.get("rows", []):
                index(r["node"])
        index(node)
        if not mine and f.name in errors:
            node["errors"].append(errors[f.name])  # said of the field as a whole
        for path, message in mine.items():
            for cut in range(len(path), 0, -1):
                target = at.get(path[:cut])
                if target is not None:
                    rest = "/".join(_escape_token(p) for p in path[cut:])
                    target["errors"].append(f"{rest}: {message}" if rest else message)
                    break

    def _collect(self, node, trail):
        if node["errors"]:
            self.entries.append({"id": node["id"], "label": trail, "text": "; ".join(node["errors"])})
        for c in node.get("children", []):
            self._collect(c, f"{trail} › {c['label']}")
        for r in node.get("rows", []):
            self._collect(r["node"], r["label"])
