"""Inputs for nested objects and lists in the generated record forms (:mod:`.forms`).

A property of type object whose schema declares its ``properties`` (through ``$ref`` and
``allOf``) becomes a **group**: a fieldset with one input per member, chosen by the rules of
top-level fields, down to :data:`NEST_DEPTH` levels. A property of type array whose items are
scalars, or objects of scalar members, becomes a **list**: one row per item, a row to type
a new one in, and buttons to add and remove rows (plain submit buttons, so they work without
JavaScript; ``static/nested-inputs.js`` does the same in the page). An object whose own
``oneOf``/``anyOf`` branches declare different members (a ``payment`` holding a ``bank`` and
an ``iban``, or a ``card_last4``) is a group too: one input per member any branch declares,
chosen by its declarations (a member declared with two types keeps a JSON box of its own),
marked required only where the whole schema requires it; an empty input is an absent
member, and the server's validation judges which branch the value fits. Shapes the inputs
cannot say (``oneOf``/``anyOf`` between shapes of other types, alternatives inside a branch,
conditions, ``patternProperties``, maps through ``additionalProperties``, ``prefixItems``,
lists of lists or of booleans, items holding objects or lists) keep the JSON box.

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

The schema's ``default``s fill a new record's groups and every new row of a list (the row to
type an item in, a row added by a button or by the script): what the form filled in and the
user left is no value of theirs, so an optional object whose inputs hold nothing else is
absent on a new record, and a row holding nothing but its defaults is no item (a stored
value that would read back otherwise is shown in the JSON box, as above). A member that
refers to a record (``x-ref``, or ``T_id`` with ``$ref`` to ``record_ref``, as at the top
level) is a picker of the records of its type, a title typed there taken as the record's id.

A list shows and reads at most :data:`MAX_ROWS` rows, and its "Add a row" buttons stop at
its schema's ``maxItems``: a form asking for more is refused at the list.
"""
from __future__ import annotations

import re

import orjson
from flask_babel import gettext as _

from ... import schema_types
from ...history import same_json
from . import field_choices, forms, listing, required_marks
from .i18n import digits

#: Levels of objects shown as fieldsets inside one another; deeper ones take a JSON box.
NEST_DEPTH = 3
#: Rows read from a posted list (a row number has at most this many digits).
ROW_DIGITS = 4
#: The most rows a list shows or reads, whatever its schema allows: a posted form asking for
#: more is refused at the list (10,000 rows of a one-input list made a 4 MB page in 8 s),
#: and a stored list longer than this is edited in its JSON box. A schema's smaller ``maxItems`` is the limit of the
#: "Add a row" buttons (:func:`row_limit`).
MAX_ROWS = 200
#: Keywords after which the schema's shape is not one set of members.
UNSHOWABLE = ("oneOf", "anyOf", "if", "then", "else", "dependentSchemas", "patternProperties",
              "$dynamicRef", "prefixItems", "propertyNames")
#: Alternatives whose branches an object's group may gather members from (:func:`_branch_parts`).
BRANCHES = ("oneOf", "anyOf")
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


def _plain(parts, branches: bool = False) -> bool:
    """One fixed shape: no alternatives, conditions or members named by a pattern or map
    (with ``branches``, ``oneOf``/``anyOf`` allowed: :func:`_branch_parts` reads them)."""
    unshowable = [k for k in UNSHOWABLE if not (branches and k in BRANCHES)]
    for p in parts:
        if any(k in p for k in unshowable) or isinstance(p.get("additionalProperties"), dict):
            return False
    return True


def _branch_parts(root, parts) -> list | None:
    """The parts of the ``oneOf``/``anyOf`` branches of the schema ``parts`` (each branch's
    own ``$ref`` targets and ``allOf``), [] when there are none; None when a branch is no
    set of an object's members: alternatives or conditions inside it, another type."""
    out = []
    for p in parts:
        for key in BRANCHES:
            group = p.get(key, [])
            if not isinstance(group, list):
                return None
            for branch in group:
                bparts = _parts(root, branch)
                types = _types(bparts)
                if not bparts or not _plain(bparts) or (types and "object" not in types):
                    return None
                out += bparts
    return out


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


def structure(f, et, node, value_label, depth: int = 1, known=()) -> None:
    """Make the JSON field ``f`` a group or a list when its subschema ``node`` can be shown as
    inputs (the module docstring); leave it a JSON box otherwise. ``known``: the names of the
    entity types, for members that refer to a record (:func:`_member_ref`)."""
    root = et.schema
    parts = _parts(root, node)
    branches = _branch_parts(root, parts) if parts and _plain(parts, branches=True) else None
    if branches is None:
        return
    kind = _one_type(parts + branches)
    if branches and kind != "object":
        return  # alternatives of a list or a scalar: the JSON box
    if kind == "object" and depth <= NEST_DEPTH:
        children = _members(f, et, parts, value_label, depth, scalars_only=False, known=known,
                            branches=branches)
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
        if field_choices.of_parts(iparts) is not None or ikind in ("string", "integer", "number"):
            _scalar(item, iparts, ikind, value_label, ".".join(f.path))
        elif ikind == "object":
            children = _members(item, et, iparts, value_label, depth, scalars_only=True, known=known)
            if not children:
                return
            item.widget, item.children = "group", children
        else:
            return
        if item.widget in ("json", "checkbox", "ref"):
            return
        limits = [p["maxItems"] for p in parts if type(p.get("maxItems")) is int and p["maxItems"] >= 0]
        f.widget, f.item, f.max_items = "list", item, min(limits) if limits else None


def row_limit(f) -> int:
    """The most rows the list ``f`` may have in the form: its schema's ``maxItems``, at most
    :data:`MAX_ROWS`."""
    return MAX_ROWS if f.max_items is None else min(f.max_items, MAX_ROWS)


def _scalar(f, parts, kind, value_label, label_name, et=None) -> None:
    """Make ``f`` the scalar input its ``parts`` describe. A member of a group (given its
    entity type ``et``) takes the values its path may hold wherever the schema declares it
    (:mod:`.field_choices`); a list's item, those of ``parts``."""
    merged = {}
    for p in reversed(parts):
        merged.update(p)
    choice = field_choices.choices_at(et, f.path) if et is not None else field_choices.UNKNOWN
    if choice is field_choices.UNKNOWN:
        choice = field_choices.of_parts(parts)
    f.widget = forms.widget_of({"enum": choice} if choice is not None else field_choices.without_choice(merged),
                               kind)
    if choice is not None:
        f.enum = list(choice)
        forms.choices(f, value_label, label_name)
    f.default = merged.get("default")


def _member_ref(key: str, sub: dict, sparts, known) -> str | None:
    """The entity type a member refers to, by the rule of top-level fields
    (:func:`.forms.reference_type`): ``"x-ref": "T"``, or a member named ``T_id`` whose schema
    is ``$ref`` to ``common.json#/$defs/record_ref`` when T is a known entity type."""
    found = next((p["x-ref"] for p in sparts if isinstance(p.get("x-ref"), str)), None)
    if found is not None:
        return found
    ref = sub.get("$ref")
    if isinstance(ref, str) and ref.endswith(forms.RECORD_REF) and key.endswith("_id") and key[:-3] in known:
        return key[:-3]
    return None


def _members(f, et, parts, value_label, depth, scalars_only, known=(), branches=()) -> list:
    """The sub-fields of an object schema, or [] when one of them cannot be shown.
    ``branches``: the parts of its ``oneOf``/``anyOf`` branches, whose members are its
    members too (required by the whole schema only, not by one branch)."""
    root = et.schema
    props: dict = {}
    for p in parts:
        schema_types.collect_properties(root, p, props, 0)
    required = set()
    for p in parts:
        required |= schema_types.required_properties(root, p)
    if not scalars_only:  # a group: what the whole schema requires of its object, not its first declaration
        required |= required_marks.members(et, f.path)
    out = []
    for key, sub in props.items():
        sub = sub if isinstance(sub, dict) else {}
        # Every declaration's parts (a member two branches, or two allOf parts, declare has
        # both), the member's own subschema first: a common schema's member is known by it.
        sparts = _declarations(root, [*parts, *branches], key) or _parts(root, sub)
        desc = next((p["description"] for p in sparts if isinstance(p.get("description"), str)), "")
        c = forms.Field(key, listing.member_title(et, sparts, key), "json",
                        required=key in required, description=listing.field_description(et, desc),
                        readonly=any(p.get("readOnly") is True for p in sparts), path=f.path + (key,))
        kind = _one_type(sparts) if _plain(sparts) else None
        if sparts and _plain(sparts) and (field_choices.of_parts(sparts) is not None or kind in SCALARS):
            _scalar(c, sparts, kind, value_label, ".".join(c.path), et)
            ref = _member_ref(key, sub, sparts, known) if c.widget == "text" else None
            if ref:
                c.widget, c.ref = "ref", ref
        elif scalars_only:
            return []
        else:
            structure(c, et, sub, value_label, depth + 1, known)
            if c.widget == "json":
                c.example = forms.example_text(sub, root)
            # An object's own default fills its inputs (default_inputs); a list's, its rows.
            c.default = next((p["default"] for p in sparts if "default" in p), None)
        if c.readonly:
            return []  # a member the form must not change, inside a value it rewrites whole
        out.append(c)
    return out


def _declarations(root, parts, key: str) -> list:
    """The parts of every declaration of member ``key`` in ``parts`` (a member two branches
    declare has both: its input asks for what they agree on); [] when none declares it there."""
    out: list = []
    seen: dict = {}
    for p in parts:
        props = p.get("properties")
        if isinstance(props, dict) and isinstance(props.get(key), dict):
            out += _parts(root, props[key], 0, seen)
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


# -- the schema's defaults --------------------------------------------------------------------

def default_inputs(f, path) -> Inputs:
    """The texts the schema's ``default`` values put in the inputs of the group or list item
    ``f`` at ``path`` (input names, as :func:`shown_inputs` gives them): an object's own
    default when its inputs can show it, else each member's. A new record's groups and every
    new row of a list start with these; a list starts with no row of its own."""
    out = Inputs()
    _defaults_into(f, tuple(path), out)
    return out


def _defaults_into(f, path: tuple, out: Inputs) -> None:
    if f.widget in ("group", "list") and f.default is not None:
        shown = Inputs()
        if _flatten(f, path, f.default, shown):
            out.update(shown)
        return
    if f.widget == "group":
        for c in f.children:
            _defaults_into(c, path + (c.name,), out)
    elif f.widget != "list" and f.default is not None:
        text = forms.shown(f, f.default)
        if text != "":
            out[name_of(path)] = text


def _untouched(form, name: str, defaults: dict) -> bool:
    """Whether the inputs named ``name…`` hold what the form filled in and nothing else: the
    ``defaults`` texts, every other input empty (a box is sent only when ticked)."""
    keys = {k for k in form.keys() if k == name or k.startswith(name + ".")} | set(defaults)
    return all(form.get(k, "") == defaults.get(k, "") for k in keys)


def _row_blank(form, f, names: tuple) -> bool:
    """A row of the list item ``f`` at ``names`` is no item: its inputs are all empty, or hold
    nothing but the defaults a new row is filled with (the row to type a new item in)."""
    name = name_of(names)
    return _row_empty(form, name) or _untouched(form, name, default_inputs(f, names))


# -- finding an input's field ------------------------------------------------------------------

def find(fields, name: str):
    """``(field, path)`` of the nested input, group or list named ``name`` (an input name:
    keys and row numbers, see the module docstring), or None. A row number in the name goes
    to the list's item field and stays in ``path``."""
    parts = [p.replace("~1", ".").replace("~0", "~") for p in name.split(".")]
    current = next((f for f in fields if f.name == parts[0] and f.widget in ("group", "list")), None)
    path = (parts[0],)
    for part in parts[1:]:
        if current is None:
            return None
        if current.widget == "group":
            current = next((c for c in current.children if c.name == part), None)
        elif current.widget == "list" and (part.isdigit() or part == "__row__"):
            current = current.item
        else:
            return None
        path += (part,)
    return None if current is None else (current, path)


def overflow(fields, form) -> ErrorMap:
    """Errors at every list of ``fields`` whose rows in ``form`` are more than
    :data:`MAX_ROWS` (what a form may ask for; the rest are not shown)."""
    errors = ErrorMap()
    for f in fields:
        _overflow(f, f.path, f.path, form, errors)
    return errors


def _overflow(f, names, keys, form, errors) -> None:
    if f.widget == "group":
        for c in f.children:
            _overflow(c, names + (c.name,), keys + (c.name,), form, errors)
    elif f.widget == "list" and len(rows(form, name_of(names))) > MAX_ROWS:
        errors.add(keys, too_many_rows())


def too_many_rows() -> str:
    return _("more rows than a form holds (at most %(n)s): type the list in fewer rows", n=digits(MAX_ROWS))


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


def _read(f, names: tuple, keys: tuple, form, orig, errors: ErrorMap, fresh: bool = False):
    """The value of the inputs of ``f`` named after ``names``; errors are said at ``keys``
    (the same path with a list's row numbers as item numbers: empty rows are no items).
    ``fresh``: the inputs were filled with the schema's defaults (a new record, a new row),
    so an optional object whose inputs hold nothing else was not filled in, and a box with a
    default is false when unticked (as a top-level one)."""
    if f.widget == "group":
        if fresh and not f.required:
            defaults = default_inputs(f, names)
            if defaults and _untouched(form, name_of(names), defaults):
                return None  # left as the form filled it in: absent, the defaults apply
        obj, falses = {}, []
        for c in f.children:
            sub = orig.get(c.name) if isinstance(orig, dict) else None
            v = _read(c, names + (c.name,), keys + (c.name,), form, sub, errors, fresh)
            if v is not None:
                obj[c.name] = v
            elif c.widget == "checkbox" and (c.required or (isinstance(orig, dict) and c.name in orig)
                                             or (fresh and c.default is not None)):
                falses.append(c.name)  # a box unticked: false, where it must be, was there or was ticked
        if not obj:
            return {} if orig == {} else None  # an empty object stored stays (as shown)
        for name in falses:
            obj[name] = False
        return {c.name: obj[c.name] for c in f.children if c.name in obj}
    if f.widget == "list":
        items = []
        numbers = rows(form, name_of(names))
        if len(numbers) > MAX_ROWS:
            errors.add(keys, too_many_rows())
            return None
        for n in numbers:
            if _row_blank(form, f.item, names + (n,)):
                continue  # a row left empty (or as a new row is filled in): no item
            at = int(n)
            sub = orig[at] if isinstance(orig, list) and at < len(orig) else None
            v = _read(f.item, names + (n,), keys + (str(len(items)),), form, sub, errors, fresh or sub is None)
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
    value = _read(f, f.path, f.path, form, original, errors, fresh=not editing)
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
        if not isinstance(value, list) or len(value) > row_limit(f):
            return False  # more items than the form's rows may hold: the JSON box
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

    #: ``{entity type: [(id, title)]}``: the records a nested reference input offers
    #: (filled by the page, which may read them; :func:`ref_fields`).
    ref_options: dict = {}
    #: ``{id: title}`` of the records the nested reference inputs name now.
    ref_titles: dict = {}
    #: The entity type the fields are of (set by :func:`.forms.build`).
    et = None

    def view(self, values, errors):
        """The template's layout of these fields' inputs (:class:`.nested_view.FormView`)."""
        from .nested_view import FormView  # it builds on this module
        return FormView(self, values, errors)


def ref_fields(fields) -> list:
    """The reference fields inside the groups and lists of ``fields``, at any depth."""
    out = []

    def walk(f):
        if f.widget == "ref":
            out.append(f)
        for c in f.children:
            walk(c)
        if f.item is not None:
            walk(f.item)
    for f in fields:
        if f.widget in ("group", "list"):
            walk(f)
    return out
