"""CSV cells <-> typed JSON values, driven by an entity type's schema.

One :class:`Column` per CSV column knows the JSON types its field allows and reads a cell as
import does, or writes a value as export does, so that export followed by import gives the
same data. The rules, for callers and for the docs:

- An empty cell means the attribute is absent (quoted or not: CSV cannot tell them apart).
- A header cell names the property spelled exactly so, even ``""``, ``" "`` or ``" x "``
  (the first such blank cell only: further blank cells are a spreadsheet's unnamed
  columns); otherwise its spaces around do not count.
- A field with one declared type: ``string`` cells are taken verbatim; ``integer``,
  ``number`` and ``boolean`` cells are parsed (``true/false/yes/no/1/0``); ``array`` cells are
  JSON (``["a", "b"]``) or ``;``-separated items (``a;b``) converted to the item type (the
  type of its position for the items of ``prefixItems``);
  ``object`` cells are JSON. A nested field can also have its own dotted column
  (``address.city``).
- A field allowing several types (``["integer", "string"]``, a nullable ``["string",
  "null"]``, typed differently in ``anyOf``/``oneOf`` branches) or declaring none: a cell
  that is a JSON literal of an allowed non-string type is that value (``3``, ``true``,
  ``null``, ``[1]``); otherwise text if text is allowed (spaces around it count only then),
  else the lenient readings of a single type (`` 3 ``, ``yes``, ``a;b`` for an array).
- A field declared only in ``then``/``else``, an ``anyOf`` branch or ``dependentSchemas``
  takes the types of its declarations when the object refuses the name anywhere else
  (``unevaluatedProperties: false``): see :func:`xrm_core.schema_types.field_types`.
- Numbers are read as JSON reads them: ``3`` (also ``007``, `` 12 ``, ``+5``) is an integer,
  ``3.0`` and ``1e3`` are floats — integers for JSON Schema, and kept as written so that an
  exported ``1.0`` reads back as ``1.0``. Integers beyond 64 bits are refused (they cannot be
  stored exactly), never rounded to a float. Digits of other scripts are read as their
  digits, on purpose (a spreadsheet kept in Persian writes ``۱۲`` for 12; the admin UI reads
  such numbers too); ``1_000``, ``nan`` and ``infinity`` are refused.
- Escape: a cell that is a JSON string literal (``"..."``) whose content would *not* read
  back as itself, or starts like a spreadsheet formula (:func:`looks_like_formula`), is that
  content. So ``""`` is the empty string, ``"null"`` / ``"3"`` are text in a field that also
  allows null or numbers, and ``"=1+2"`` is the text ``=1+2``. Export writes a string
  verbatim when it reads back as itself and JSON-encoded otherwise (and, with
  ``quote_formulas``, when a spreadsheet would run it); other values are written as JSON.
"""
from __future__ import annotations

import math
import re
import unicodedata

import orjson

from .errors import ValidationError
from .fields import FIELD_RE
from .stored_json import InexactFloat, inexact_message, loads_exact, read_float
from .schema_types import dynamic_targets, field_types, pattern_properties, ref_target, resolve
from .validation import pointer, shorten_values

#: Returned by :meth:`Column.read` for an empty cell: the attribute is absent.
ABSENT = object()

TRUE = frozenset({"true", "1", "yes", "y", "t", "on"})
FALSE = frozenset({"false", "0", "no", "n", "f", "off"})
ALL_TYPES = frozenset({"string", "integer", "number", "boolean", "array", "object", "null"})
_JSON_TYPE = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
              dict: "object", type(None): "null"}
# orjson accepts 64-bit integers only; refuse larger ones at the cell, not at INSERT time.
_INT_MIN, _INT_MAX = -(2 ** 63), 2 ** 64 - 1
#: Cells a spreadsheet would run as a formula start with one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: A signed number or a phone number: starts like a formula, but with no letters, ``|`` or
#: ``!`` it can call nothing.
_PLAIN_NUMBER = re.compile(r"[+-][0-9][0-9 ().-]*")


def looks_like_formula(text: str) -> bool:
    """Would a spreadsheet run the cell ``text`` as a formula (CSV injection)? Plain signed
    numbers and phone numbers (``-2``, ``+98 912 …``) are not formulas."""
    return text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text)


def schema_types(root: dict, sub, depth: int = 0) -> frozenset | None:
    """JSON types a subschema allows (``integer`` folded into ``number`` when both), or None for any."""
    if not isinstance(sub, dict) or depth > 20:
        return None
    if not ("type" in sub or "const" in sub or "enum" in sub):
        # A node's own type keywords come first: 2020-12 allows them beside a $ref.
        sub = resolve(root, sub, depth)
    t = sub.get("type")
    if isinstance(t, str):
        types = {t}
    elif isinstance(t, list) and t:
        types = set(t)
    elif "const" in sub:
        types = {_JSON_TYPE.get(type(sub["const"]), "string")}
    elif isinstance(sub.get("enum"), list) and sub["enum"]:
        types = {_JSON_TYPE.get(type(v), "string") for v in sub["enum"]}
    else:
        types = set()
        for key in ("allOf", "anyOf", "oneOf"):
            for s in sub.get(key, []) if isinstance(sub.get(key), list) else []:
                found = schema_types(root, s, depth + 1)
                if found is None:
                    if key != "allOf":
                        return None
                    continue
                types |= found
        if not types:
            return None
    if "number" in types:
        types.discard("integer")
    return frozenset(types & ALL_TYPES) or None


class Column:
    """Reads and writes the cells of one field. ``path`` is the list of keys into ``data``."""

    def __init__(self, name: str, path: list[str], types: frozenset | None, items: "Column | None" = None,
                 prefix: tuple = ()):
        self.name, self.path, self.types, self.items, self.prefix = name, path, types, items, prefix
        self.pointer = pointer(path)
        self.text = types is None or "string" in types
        single = next(iter(types)) if types is not None and len(types) == 1 else None
        self._plain = {
            "string": _as_string, "integer": _as_integer, "number": _as_number, "boolean": _as_boolean,
            "array": self._as_array, "object": _as_object, "null": _as_null,
        }.get(single, self._as_any)

    # -- import ------------------------------------------------------------------------
    def read(self, cell: str):
        """The value of ``cell`` (ABSENT for an empty cell); ValueError says what is wrong."""
        if cell == "" or (not self.text and cell.isspace()):
            return ABSENT
        if self.text and len(cell) >= 2 and cell[0] == '"' and cell[-1] == '"':
            try:
                inner = orjson.loads(cell)
            except orjson.JSONDecodeError:
                inner = None
            if isinstance(inner, str) and (looks_like_formula(inner) or not _same(self.read(inner), inner)):
                return inner
        return self._plain(cell)

    def _as_array(self, cell: str):
        if cell.lstrip().startswith("["):
            try:
                value = loads_exact(cell)
            except orjson.JSONDecodeError as e:
                raise ValueError(f"invalid JSON array: {e.msg}") from None
            if not isinstance(value, list):
                raise ValueError("not a JSON array")
            return value
        out = []
        parts = [part.strip() for part in cell.split(";")]
        while parts and not parts[-1]:  # "a;b;" is "a;b"
            parts.pop()
        for n, part in enumerate(parts, 1):
            if not part:
                if n <= len(self.prefix):  # skipping it would move the next items' positions
                    raise ValueError(f"item {n} of the list is empty, but this array's items have "
                                     "fixed positions: give every position a value")
                continue
            # an item at a position of ``prefixItems`` is read as that position's type
            item = self.prefix[len(out)] if len(out) < len(self.prefix) else self.items or _ANY
            out.append(item.read(part))
        return out

    def _as_any(self, cell: str):
        allowed = self.types or ALL_TYPES
        if not self.text:
            # Spaces around a value mean nothing where no text is allowed: " null" and
            # " [1]" read as "null " and "[1] " do (JSON skips trailing spaces only).
            cell = cell.strip()
        if cell[0] in '-0123456789tfn[{':
            try:
                value = loads_exact(cell)
            except orjson.JSONDecodeError:
                pass
            else:
                kind = _JSON_TYPE[type(value)]
                if kind != "string" and (kind in allowed or (kind == "integer" and "number" in allowed)
                                         or (kind == "number" and "integer" in allowed and value.is_integer())):
                    return value
        if self.text:
            return cell
        # No text allowed: try the lenient scalar readings (" 3 ", "yes") before giving up.
        for kind, conv in (("integer", _as_integer), ("number", _as_number), ("boolean", _as_boolean)):
            if kind in allowed:
                try:
                    return conv(cell)
                except _OutOfRange:
                    raise
                except ValueError:
                    pass
        expected = f"{cell!r} is not {' or '.join(sorted(allowed))}"
        if "array" in allowed:
            # A nullable array (["array", "null"]) reads "a;b" as a plain array field does.
            try:
                return self._as_array(cell)
            except ValueError as e:
                raise ValueError(f"{expected}: {e}") from None
        raise ValueError(expected)

    # -- export ------------------------------------------------------------------------
    def write(self, value, quote_formulas: bool = False) -> str:
        """The cell that :meth:`read` turns back into ``value`` ("" for an absent value).

        With ``quote_formulas``, a string a spreadsheet would run as a formula is written
        JSON-encoded (``"=1+2"``), which a spreadsheet shows as text and :meth:`read` reads
        back as the string.
        """
        if value is ABSENT:
            return ""
        if isinstance(value, str):
            if not (quote_formulas and looks_like_formula(value)):
                try:
                    if _same(self.read(value), value):
                        return value
                except ValueError:
                    pass
            return orjson.dumps(value).decode()
        if value is True or value is False:
            return "true" if value else "false"
        # keys sorted: the same cell from either engine (see xrm_core.exporter)
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


class _OutOfRange(ValueError):
    """An integer cell beyond 64 bits."""


def _same(a, b) -> bool:
    return type(a) is type(b) and a == b


def _as_string(cell: str) -> str:
    return cell


#: A number as a spreadsheet shows it, with thousands separators or a decimal comma
#: ("1,234.50", "1.234,50", "12,5", "1 234") or a currency sign ("$5", "5 €"): refused, as
#: "1,250" may be 1250 or 1.25, but the message says how to write it (:func:`_number_hint`).
_SHOWN_NUMBER = re.compile(r"\s*[-+]?\s*[$€£¥₹]?\s*[-+]?[0-9][0-9.,' \u00a0\u202f]*\s*[$€£¥₹]?\s*")


def _number_hint(cell: str, integer: bool = False) -> str:
    """How to write the number a spreadsheet showed as ``cell`` (": write it …"), or ""."""
    if not _SHOWN_NUMBER.fullmatch(cell):
        return ""
    signed = any(sign in cell for sign in "$€£¥₹")
    if not signed and not any(sep in cell.strip() for sep in ",' \u00a0\u202f"):
        return ""
    if integer:
        return ": write it with digits only (1234)"
    if signed:
        return ": write the number without a currency sign (1234.5)"
    return ": write the number with a dot for decimals and no thousands separators (1234.5)"


def _as_integer(cell: str) -> int | float:
    if "_" in cell:  # Python reads "12_34" as 1234; no spreadsheet or JSON does
        raise ValueError(f"{cell!r} is not an integer")
    try:
        value = int(cell)
    except ValueError:
        try:
            f = float(cell)
        except ValueError:
            raise ValueError(f"{cell!r} is not an integer{_number_hint(cell, integer=True)}") from None
        if not (math.isfinite(f) and f.is_integer()):
            raise ValueError(f"{cell!r} is not an integer") from None
        _refuse_inexact(cell.strip())
        # "3.0" and "1e3" are integers in JSON Schema; kept as the float JSON reads them as,
        # so that the 1.0 an export writes reads back as 1.0, not 1.
        return f
    if not _INT_MIN <= value <= _INT_MAX:
        raise _OutOfRange(f"{cell!r} is out of the 64-bit integer range")
    return value


def _as_number(cell: str) -> int | float:
    try:
        return _as_integer(cell) if cell.strip().lstrip("+-").isdigit() else _float(cell)
    except _OutOfRange:
        raise
    except ValueError:
        raise ValueError(f"{cell!r} is not a number{_number_hint(cell)}") from None


def _float(cell: str) -> float:
    if "_" in cell:
        raise ValueError(cell)
    f = float(cell)
    if not math.isfinite(f):
        raise ValueError(cell)
    _refuse_inexact(cell.strip())
    return f


class _Inexact(_OutOfRange):
    """A number cell that a double would change: said as such, not as "not a number"."""


def _refuse_inexact(cell: str) -> None:
    """Refuse a number cell whose double reads back as another number (stored, it would
    change without a word: ``12345678901234567.01``, ``9007199254740993.0``)."""
    f = read_float(cell)
    if isinstance(f, InexactFloat):
        raise _Inexact(inexact_message(cell, f))


def _as_boolean(cell: str) -> bool:
    low = cell.strip().lower()
    if low in TRUE:
        return True
    if low in FALSE:
        return False
    raise ValueError(f"{cell!r} is not a boolean (true/false)")


def _as_object(cell: str) -> dict:
    try:
        value = loads_exact(cell)
    except orjson.JSONDecodeError as e:
        raise ValueError(f"invalid JSON object: {e.msg}") from None
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _as_null(cell: str) -> None:
    if cell.strip() == "null":
        return None
    raise ValueError(f"{cell!r} is not null")


_ANY = Column("", [], None)


def column_for(et, name: str, path: list[str] | None = None) -> Column | None:
    """The Column of header ``name`` for entity type ``et``, or None when it names no field.

    A name is first looked up as a top-level property (any spelling), then as a dotted path
    into nested objects (``address.city``) or a name ``patternProperties`` allows.
    """
    props = et.properties()
    root = et.schema
    if name in props:
        path, sub = [name], props[name]
        types = _declared_types(root, name)
    elif FIELD_RE.match(name) and et.property_schema(name) is not None:
        # a dotted path into nested objects, or a name a ``patternProperties`` pattern matches
        path, sub = name.split("."), et.property_schema(name)
        # A top-level name is typed by every pattern matching it (and every place declaring
        # it), as for a declared property: export and import read the same column alike.
        types = _declared_types(root, name) if len(path) == 1 else schema_types(root, sub)
    else:
        return None
    # What the whole schema lets valid data hold there narrows that further: a name declared
    # only in ``then`` or ``dependentSchemas`` of an object whose ``unevaluatedProperties:
    # false`` refuses it elsewhere holds only what those declare (both answers are sound, so
    # what both allow is too).
    types = _meet(types, _frozen(field_types(root, root, path, null=True)))
    items, prefix = None, ()
    array = _array_schema(root, sub, 0) if types is not None and "array" in types else None
    if array is not None:
        items = Column(name, path, schema_types(root, array["items"])) if isinstance(array.get("items"), dict) else None
        prefix = tuple(Column(name, path, schema_types(root, s)) for s in array.get("prefixItems") or ())
    return Column(name, path, types, items, prefix)


def _array_schema(root: dict, sub, depth: int) -> dict | None:
    """The schema of the array a field's subschema declares, with its ``items`` or
    ``prefixItems`` — directly, or in the one ``anyOf``/``oneOf`` branch that is an array
    (``anyOf: [{array of integer}, {null}]``) — or None when there is none, or several
    branches are arrays."""
    resolved = resolve(root, sub, depth)  # may be a boolean schema (the array came from another declaration)
    if not isinstance(resolved, dict) or depth > 20:
        return None
    if isinstance(resolved.get("items"), dict) or isinstance(resolved.get("prefixItems"), list):
        return resolved
    found = []
    for key in ("anyOf", "oneOf"):
        for branch in resolved.get(key) if isinstance(resolved.get(key), list) else []:
            branch_types = schema_types(root, branch, depth + 1)
            if branch_types is not None and "array" in branch_types:
                found.append(_array_schema(root, branch, depth + 1))
    return found[0] if len(found) == 1 else None


def _declared_types(root: dict, name: str) -> frozenset | None:
    """The JSON types top-level property ``name`` (declared, or allowed by a pattern) may
    take in data valid against the entity schema, or None for any: every place the schema
    declares it counts, not just the first one ``properties()`` finds. With ``oneOf:
    [{kind a, value: string}, {kind b, value: integer}]`` a cell ``3`` must be read as the
    integer for a ``b`` row (and an exported ``"3"`` of an ``a`` row is then written
    JSON-quoted, so it reads back as text).

    Constraints that all apply (``properties`` beside a ``$ref`` or ``allOf`` parts, every
    ``patternProperties`` pattern matching the name) narrow the types; alternatives
    (``anyOf``/``oneOf`` branches, ``then``/``else``) widen them, and a branch that does not
    declare the property allows any type.
    """
    return _field_types(root, root, name, 0, set())


def _field_types(root, node, name, depth, path: set) -> frozenset | None:
    if not isinstance(node, dict) or depth > 20 or id(node) in path:
        return None  # a cycle (a recursive $ref) or too deep: any type, which reads every cell
    path.add(id(node))
    try:
        props = node.get("properties")
        out = schema_types(root, props[name]) if isinstance(props, dict) and name in props else None
        for sub in pattern_properties(node, name):  # these apply beside "properties"
            out = _meet(out, schema_types(root, sub))
        parts = node.get("allOf") if isinstance(node.get("allOf"), list) else []
        for sub in [ref_target(root, node, depth), *parts]:
            if sub is not None:
                out = _meet(out, _field_types(root, sub, name, depth + 1, path))
        dynamic = dynamic_targets(root, node)
        alternatives = [dynamic] if dynamic else []
        for key in ("anyOf", "oneOf"):
            if isinstance(node.get(key), list) and node[key]:
                alternatives.append(node[key])
        if "if" in node:
            alternatives.append([node.get("then"), node.get("else")])  # a missing one allows any
        for branches in alternatives:
            out = _meet(out, _join([_field_types(root, b, name, depth + 1, path) for b in branches]))
        return out
    finally:
        path.discard(id(node))


def _frozen(types: set | None) -> frozenset | None:
    return None if types is None else _fold(set(types) & ALL_TYPES)


def _fold(types: set) -> frozenset | None:
    if "number" in types:
        types.discard("integer")
    return frozenset(types) or None


def _meet(a: frozenset | None, b: frozenset | None) -> frozenset | None:
    """Types allowed by both (None is any; an integer is a number too)."""
    if a is None or b is None:
        return b if a is None else a
    out = set(a & b)
    if ("integer" in a and "number" in b) or ("number" in a and "integer" in b):
        out.add("integer")
    # Contradictory declarations (no type at all): keep the first one's rather than refuse
    # every cell; no valid record has the field anyway.
    return _fold(out) or a


def _join(alternatives: list) -> frozenset | None:
    if any(t is None for t in alternatives):
        return None
    return _fold(set().union(*alternatives))


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


class CsvHeader:
    """The columns of a CSV header, checked against the entity type; builds each row's data."""

    def __init__(self, et, header: list[str]):
        self.width = len(header)
        self.columns: list[tuple[int, Column]] = []
        #: columns without a name (a spreadsheet's trailing empty columns): their cells must be empty
        self.unnamed: list[int] = []
        errors = []
        seen: dict[str, int] = {}
        props = et.properties()
        for i, raw in enumerate(header):
            name = raw.strip()
            if raw in props and (name or raw not in seen):
                # A property named with spaces around it (" x "), or named "" or " " (JSON
                # Schema allows any name), as export writes it. A blank name names it once:
                # a spreadsheet's further empty columns stay unnamed.
                name = raw
            elif not name:
                self.unnamed.append(i)
                continue
            if name in seen:
                errors.append({"pointer": "", "message": f"column {name!r} appears twice "
                                                         f"(columns {seen[name] + 1} and {i + 1})"})
                continue
            seen[name] = i
            col = column_for(et, name)
            if col is None and not name.isascii():
                # The same letters composed otherwise (a decomposed "é", as macOS file names and
                # some spreadsheets write it) name the same property.
                same = next((p for p in et.properties() if _nfc(p) == _nfc(name)), None)
                col = column_for(et, same) if same is not None else None
            if col is None:
                near = next((p for p in et.properties() if p.casefold() == name.casefold()), None)
                head = column_for(et, name.split(".")[0]) if "." in name else None
                hint = (f" (did you mean {near!r}? names are case-sensitive)" if near else
                        f" ({head.name!r} is an array: give it whole in a column {head.name!r}, as a JSON array)"
                        if head is not None and head.types == frozenset({"array"}) else "")
                errors.append({"pointer": pointer(name.split(".")),
                               "message": f"column {name!r} is not a field of {et.name}{hint}"})
                continue
            self.columns.append((i, col))
        paths = {tuple(c.path): c.name for _, c in self.columns}
        for _, c in self.columns:
            for n in range(1, len(c.path)):
                if tuple(c.path[:n]) in paths:
                    errors.append({"pointer": c.pointer, "message": f"column {c.name!r} overlaps column "
                                                                    f"{paths[tuple(c.path[:n])]!r}"})
        if len(self.unnamed) == len(header):
            errors.append({"pointer": "", "message": "no column has a name"})
        if errors:
            raise ValidationError(f"the CSV header (line 1) does not match the fields of {et.name}",
                                  [{"line": 1, **e, "message": shorten_values(e["message"])} for e in errors])
        self.nested = any(len(c.path) > 1 for _, c in self.columns)

    def data(self, cells: list[str]) -> tuple[dict, list[dict]]:
        """The data object of one row and the errors of its cells (``{"pointer", "message"}``).

        A cell that cannot be converted holds None in the data, so that checking the data
        against the schema reports the row's other problems without repeating this one.
        """
        data: dict = {}
        errors = []
        n = len(cells)
        for i in self.unnamed:
            if i < n and cells[i].strip():
                errors.append({"pointer": "", "message": f"column {i + 1} has a value but no name in the header"})
        for i, col in self.columns:
            if i >= n:
                continue
            try:
                value = col.read(cells[i])
            except ValueError as e:
                # a cell's text is repeated in its message: a long one is shown by its start
                errors.append({"pointer": col.pointer, "message": shorten_values(str(e))})
                value = None  # a placeholder, so the schema check does not also call it missing
            if value is ABSENT:
                continue
            if len(col.path) == 1:
                data[col.path[0]] = value
            else:
                node = data
                for part in col.path[:-1]:
                    node = node.setdefault(part, {})
                node[col.path[-1]] = value
        return data, errors
