"""What a JSON Schema says about the JSON types of its properties, read as the validator
reads it.

``field_types`` and ``types_of`` find the types valid data may hold at a property path (for
SQL casts, index expressions, CSV conversion, KPI measures); ``find_property`` and
``collect_properties`` find the subschemas of properties. References (``$ref``,
``$dynamicRef``) resolve through :mod:`xrm_core.schema_index`, relative to the subschema
holding them; recursive schemas are walked once per subschema.
"""
from __future__ import annotations

import weakref
from functools import cache
from urllib.parse import unquote, urldefrag

import jsonschema_rs
import xrm_schemas

from .schema_index import SchemaIndex, join


def resolve(root: dict, node: dict, depth: int) -> dict:
    """``node``, or what its ``$ref`` points at (followed through chains of ``$ref``s) when
    it resolves; ``root`` is the entity schema ``node`` was found through."""
    target = ref_target(root, node, depth) if isinstance(node, dict) and depth <= 20 else None
    return node if target is None else target


def ref_target(root, node, depth):
    """The schema a node's ``$ref`` points at (resolved), or None when it has none or it
    does not resolve. In 2020-12 a ``$ref`` is one more constraint beside the node's other
    keywords, so callers look at both."""
    ref = node.get("$ref")
    if not isinstance(ref, str) or depth > 20:
        return None
    target = _lookup(root, node, ref)
    return None if target is None else resolve(root, target, depth + 1)


def dynamic_targets(root, node) -> list[dict]:
    """What a node's ``$dynamicRef`` may point at: its static target, or — when that target
    carries the same ``$dynamicAnchor`` — any subschema of ``root`` declaring that dynamic
    anchor (which one applies depends on the path of evaluation, so callers take them as
    alternatives). Empty when there is none or it does not resolve."""
    ref = node.get("$dynamicRef")
    if not isinstance(ref, str):
        return []
    target = _lookup(root, node, ref)
    if target is None:
        return []
    name = ref.rpartition("#")[2]
    if target.get("$dynamicAnchor") != name:
        return [target]  # without a matching dynamic anchor, $dynamicRef is a plain $ref
    return index_of(root).dynamic_anchors(name)


#: The base URI of a schema given no base of its own by :func:`read_with_base` (one that is no
#: entity type's); an entity type's is read with its validator's, ``<name>.type.json``.
_ROOT_BASE = f"{xrm_schemas.BASE_URI}entity.type.json"


@cache
def platform_index() -> SchemaIndex:
    """The platform's own schemas (``common.json``…), each under its ``$id``."""
    index = SchemaIndex()
    for name in xrm_schemas.names():
        index.add(xrm_schemas.load(name), xrm_schemas.BASE_URI + name)
    return index


#: id(root schema) -> (root, the base URI it is read with, the owner's token): set by
#: :func:`read_with_base` for as long as its owner lives; holding ``root`` keeps its id unique.
_BASES: dict[int, tuple[dict, str, object]] = {}

#: id(root schema) -> (root, its base URI, its index): a bounded cache.
_INDEXES: dict[int, tuple[dict, str, SchemaIndex]] = {}


def read_with_base(root: dict, base_uri: str, owner) -> None:
    """Read ``root`` (a schema the functions here are given as ``root``) with base URI
    ``base_uri`` — the one its validator was compiled with — while ``owner`` lives.

    An entity type's validator reads its schema as ``<name>.type.json``; read as another
    URI here, a reference naming either (``"$ref": "<name>.type.json#/$defs/x"``, or an
    embedded ``"$id"`` that the other one's URI names) would resolve to one subschema for
    the validator and to another, or to nothing, for field types, indexes and filters.
    """
    token = object()
    _BASES[id(root)] = (root, base_uri, token)

    def forget(key=id(root)):
        if _BASES.get(key, (None, None, None))[2] is token:  # not a later owner's reading
            del _BASES[key]
    weakref.finalize(owner, forget)


def base_of(root: dict) -> str:
    """The base URI ``root`` is read with (:func:`read_with_base`; else :data:`_ROOT_BASE`)."""
    hit = _BASES.get(id(root))
    return hit[1] if hit is not None and hit[0] is root else _ROOT_BASE


def index_of(root: dict) -> SchemaIndex:
    """The :class:`SchemaIndex` of ``root`` read with its base URI (:func:`base_of`)."""
    base = base_of(root)
    hit = _INDEXES.get(id(root))
    if hit is not None and hit[0] is root and hit[1] == base:
        return hit[2]
    if len(_INDEXES) >= 256:
        _INDEXES.clear()
    index = SchemaIndex()
    index.add(root, base)
    _INDEXES[id(root)] = (root, base, index)
    return index


def lookup_ref(root: dict, node: dict, ref: str) -> dict | None:
    """The subschema one reference ``ref`` (found in ``node``, a subschema of ``root`` or of a
    platform schema) points at — one step, not followed through the target's own ``$ref``
    as :func:`ref_target` does — or None when it points at nothing known or not at an object."""
    return _lookup(root, node, ref)


def _lookup(root: dict, node: dict, ref: str) -> dict | None:
    """The subschema reference ``ref`` (found in ``node``, a subschema of ``root`` or of a
    platform schema) points at, or None when it points at nothing known or not at an object."""
    own, platform = index_of(root), platform_index()
    base = own.base.get(id(node)) or platform.base.get(id(node)) or own.base.get(id(root), base_of(root))
    url, fragment = urldefrag(join(base, ref))
    fragment = unquote(fragment)
    target = own.find(url, fragment)
    if target is None:
        target = platform.find(url, fragment)
    return target if isinstance(target, dict) else None


def first_visit(node, visited: dict | None) -> bool:
    """True the first time ``node`` is met in one walk of a schema. A recursive schema
    (``$ref`` cycles, a tree of ``allOf`` parts naming one ``$defs`` entry) is then walked
    once per subschema, not once per path to it. The nodes are kept in ``visited`` so no id
    is reused by a new dict during the walk."""
    if visited is None:
        return True
    if id(node) in visited:
        return False
    visited[id(node)] = node
    return True


def find_property(root, node, name, depth, visited: dict | None = None):
    """The subschema of property ``name`` under ``node`` (``$ref`` resolved), wherever the
    schema declares it (beside or behind a ``$ref``, in ``allOf``/``anyOf``/``oneOf``,
    ``if``/``then``/``else``, ``dependentSchemas``); None when it declares none."""
    if not isinstance(node, dict) or depth > 20:
        return None
    visited = {} if visited is None else visited
    if not first_visit(node, visited):
        return None
    props = node.get("properties")
    if isinstance(props, dict) and name in props:
        return resolve(root, props[name], depth)
    matching = pattern_properties(node, name)
    if matching:
        return resolve(root, matching[0], depth)
    subs = [ref_target(root, node, depth), *dynamic_targets(root, node)]
    for key in ("allOf", "anyOf", "oneOf"):
        subs += node.get(key, []) if isinstance(node.get(key), list) else []
    subs += [node.get(key) for key in ("if", "then", "else")]
    subs += dependent_schemas(node)
    for sub in subs:
        found = find_property(root, sub, name, depth + 1, visited)
        if found is not None:
            return found
    return None


def dependent_schemas(node: dict) -> list:
    """The ``dependentSchemas`` subschemas of ``node``. Each applies in place to an object
    holding its trigger property, so the properties it declares are fields like those of
    ``then``/``else`` (``{"card": …}`` making ``billing_zip`` a field)."""
    found = node.get("dependentSchemas")
    return list(found.values()) if isinstance(found, dict) else []


def pattern_properties(node: dict, name: str) -> list:
    """The ``patternProperties`` subschemas of ``node`` whose pattern matches ``name``.

    Such a name is a field like a declared one (``social.twitter`` under
    ``"patternProperties": {"^[a-z]+$": …}``). Patterns are matched as the validator
    matches them (ECMA-262, ``\\p{L}`` included); one it cannot compile matches nothing.
    """
    patterns = node.get("patternProperties")
    if not isinstance(patterns, dict):
        return []
    return [sub for pattern, sub in patterns.items() if _matches(pattern, name)]


@cache
def _pattern_validator(pattern: str):
    try:
        return jsonschema_rs.validator_for({"type": "string", "pattern": pattern})
    except (ValueError, jsonschema_rs.ValidationError):
        return None


def _matches(pattern, name: str) -> bool:
    v = _pattern_validator(pattern) if isinstance(pattern, str) else None
    return v is not None and v.is_valid(name)


def has_pattern_properties(root, node, depth: int = 0, visited: dict | None = None) -> bool:
    """Does ``node`` (or a subschema applied in place under it, where :func:`find_property`
    looks) have ``patternProperties``: may its objects hold names it does not list?"""
    if not isinstance(node, dict) or depth > 20:
        return False
    visited = {} if visited is None else visited
    if not first_visit(node, visited):
        return False
    if isinstance(node.get("patternProperties"), dict) and node["patternProperties"]:
        return True
    subs = [ref_target(root, node, depth), *dynamic_targets(root, node)]
    for key in ("allOf", "anyOf", "oneOf"):
        subs += node.get(key, []) if isinstance(node.get(key), list) else []
    subs += [node.get(key) for key in ("if", "then", "else")]
    subs += dependent_schemas(node)
    return any(has_pattern_properties(root, sub, depth + 1, visited) for sub in subs)


def required_properties(root, node, depth: int = 0, visited: dict | None = None) -> set[str]:
    """Names every valid instance of ``node`` has: its ``required`` and those of the
    subschemas that always apply (``$ref``, ``allOf`` parts) — not the alternatives'."""
    if not isinstance(node, dict) or depth > 20:
        return set()
    visited = {} if visited is None else visited
    if not first_visit(node, visited):
        return set()
    required = node.get("required")
    out = {n for n in required if isinstance(n, str)} if isinstance(required, list) else set()
    out |= required_properties(root, ref_target(root, node, depth), depth + 1, visited)
    for sub in node.get("allOf", []) if isinstance(node.get("allOf"), list) else []:
        out |= required_properties(root, sub, depth + 1, visited)
    return out


def collect_properties(root, node, out, depth, visited: dict | None = None):
    """Add to ``out`` each property name declared under ``node`` (wherever, as
    :func:`find_property` looks) with its first subschema."""
    if not isinstance(node, dict) or depth > 20:
        return
    visited = {} if visited is None else visited
    if not first_visit(node, visited):
        return
    props = node.get("properties")
    for k, v in (props.items() if isinstance(props, dict) else ()):
        out.setdefault(k, resolve(root, v, depth))
    for sub in [ref_target(root, node, depth), *dynamic_targets(root, node)]:
        collect_properties(root, sub, out, depth + 1, visited)
    for key in ("allOf", "anyOf", "oneOf"):
        for sub in node.get(key, []) if isinstance(node.get(key), list) else []:
            collect_properties(root, sub, out, depth + 1, visited)
    for sub in [node.get("then"), node.get("else"), *dependent_schemas(node)]:
        collect_properties(root, sub, out, depth + 1, visited)


_PY_TYPES = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object",
             type(None): "null"}


def _both(a: set[str] | None, b: set[str] | None) -> set[str] | None:
    """JSON types admitted by both sets (None admits any; an integer is a number too)."""
    if a is None or b is None:
        return b if a is None else a
    out = a & b
    if ("integer" in a and "number" in b) or ("number" in a and "integer" in b):
        out.add("integer")
    return out


def _either(*sets: set[str] | None) -> set[str] | None:
    """JSON types admitted by one of the sets (None admits any)."""
    return None if any(s is None for s in sets) else set().union(*sets)


#: What a subschema met again while it is being walked (a recursive ``$ref``) contributes:
#: no constraint beside its other parts, no types beside its alternatives.
_CYCLE = frozenset({"<cycle>"})


def _all_of(parts: list) -> set[str] | None:
    """Types every part admits (None parts constrain nothing); None when no part constrains."""
    known = [p for p in parts if p is not None and p is not _CYCLE]
    if not known:
        return _CYCLE if _CYCLE in parts else None
    out = known[0]
    for p in known[1:]:
        out = _both(out, p)
    return out


def _any_of(parts: list) -> set[str] | None:
    """Types some part admits; None (anything) when a part does not constrain types."""
    parts = [p for p in parts if p is not _CYCLE]
    return set().union(*parts) if parts and all(p is not None for p in parts) else None


def _known(types: set[str] | None) -> set[str] | None:
    """A walk's answer for callers: a field reached only through a cycle of references
    (``{"$ref": "#/$defs/a"}`` where ``a`` refers back to itself) admits any type: None,
    not the marker."""
    return None if types is _CYCLE else types


def _alternatives(root, node) -> list[list]:
    """The groups of alternative subschemas of ``node``: each ``anyOf``/``oneOf`` list,
    ``then``/``else`` (one of the two applies; a missing one allows anything, as ``{}``),
    and the subschemas a ``$dynamicRef`` may point at."""
    groups = [node[key] for key in ("anyOf", "oneOf") if isinstance(node.get(key), list) and node[key]]
    if "$dynamicRef" in node:
        # one that does not resolve is left to the validator; it constrains nothing here
        groups.append(dynamic_targets(root, node) or [{}])
    if "if" in node and ("then" in node or "else" in node):
        groups.append([node.get("then", {}), node.get("else", {})])
    return groups


# -- the types of a property ------------------------------------------------------------
#
# Where a subschema may evaluate a property, the property's types are the union, over the
# ways the subschema can pass, of what each way admits. A way either evaluates the name
# (``properties``, a matching ``patternProperties``, ``additionalProperties``,
# ``unevaluatedProperties`` — beside each other or in subschemas applied in place) and then
# admits the types its declarations agree on, or leaves the name unevaluated and so admits
# any value there. Two numbers sum the ways up exactly enough:
#
#   (declared, bare): ``declared`` — the types (None: any) the ways that evaluate the name
#   admit, an empty set when there is no such way; ``bare`` — can the subschema pass with
#   the name present but unevaluated?
#
# Parts that all apply combine as (d1 ∩ d2 ∪ (d1 if bare2) ∪ (d2 if bare1), bare1 and bare2)
# (intersection distributes over union, so this is the union over pairs of ways);
# alternatives as (d1 ∪ d2, bare1 or bare2). ``unevaluatedProperties`` turns the bare ways
# of its own subschema into declared ones of its subschema's types — none at all when it is
# ``false``. So a field declared only in ``then``, in ``dependentSchemas`` or in one
# ``anyOf`` branch, of an object whose ``unevaluatedProperties: false`` refuses the name
# everywhere else, has exactly the types those declarations agree on; without it, a record
# taking another branch may hold any value under the name, and the field has no type.
# Likewise ``additionalProperties: false`` (or a ``false`` property schema) beside a
# declaration leaves no way to pass with the name present at all.

#: {} applied to an object with the name: passes without evaluating it.
_FREE = (set(), True)
#: false: no valid object holds the name.
_NONE = (set(), False)


def _meet_ways(parts: list) -> tuple | frozenset:
    """The ways to pass every one of ``parts`` (subschemas applied in place together)."""
    known = [p for p in parts if p is not _CYCLE]
    if not known:
        return _CYCLE if parts else _FREE
    declared, bare = known[0]
    for d2, b2 in known[1:]:
        declared = _either(_both(declared, d2), declared if b2 else set(), d2 if bare else set())
        bare = bare and b2
    return declared, bare


def _join_ways(parts: list) -> tuple | frozenset:
    """The ways to pass one of ``parts`` (alternatives)."""
    known = [p for p in parts if p is not _CYCLE]
    if not known:
        return _CYCLE if parts else _NONE
    return _either(*(d for d, _ in known)), any(b for _, b in known)


class _Walk:
    """One walk of the entity schema ``root``: a memo of the subschemas met (so a schema
    naming one ``$defs`` entry many times is walked once per entry, and a recursive one
    ends), and whether ``null`` counts among the types."""

    def __init__(self, root: dict, null: bool = False):
        self.root, self.null, self.memo = root, null, {}

    def types(self, sub, depth: int) -> set[str] | None:
        """:func:`types_of` within this walk: may answer :data:`_CYCLE`."""
        if sub is False:
            return set()
        if not isinstance(sub, dict) or depth > 20:
            return None
        key = (id(sub), None)
        if key in self.memo:
            return self.memo[key][1]
        self.memo[key] = (sub, _CYCLE)
        conj = []
        t = sub.get("type")
        if isinstance(t, (str, list)):
            conj.append({x for x in ([t] if isinstance(t, str) else t) if self.null or x != "null"})
        values = sub["enum"] if isinstance(sub.get("enum"), list) else [sub["const"]] if "const" in sub else None
        if values is not None:
            conj.append({_PY_TYPES[type(v)] for v in values
                         if type(v) in _PY_TYPES and (self.null or v is not None)})
        conj.append(self.types(ref_target(self.root, sub, depth), depth + 1))
        for part in sub.get("allOf", []) if isinstance(sub.get("allOf"), list) else []:
            conj.append(self.types(part, depth + 1))
        for group in _alternatives(self.root, sub):
            conj.append(_any_of([self.types(part, depth + 1) for part in group]))
        self.memo[key] = (sub, _all_of(conj))
        return self.memo[key][1]

    def value(self, sub, rest: list[str], depth: int) -> set[str] | None:
        """Types valid data may hold at path ``rest`` under a value ``sub`` describes (a
        value reached only through a cycle of references is unconstrained: None)."""
        if not rest:
            return _known(self.types(sub, depth))
        ways = self.ways(sub, rest, depth)
        if ways is _CYCLE:
            return None
        declared, bare = ways
        return None if bare else declared

    def ways(self, node, parts: list[str], depth: int) -> tuple | frozenset:
        """``(declared, bare)`` of property ``parts[0]`` (its value at ``parts[1:]``) for
        the objects ``node`` admits, or :data:`_CYCLE` (see the comment above)."""
        if node is True:
            return _FREE
        if node is False:
            return _NONE
        if not isinstance(node, dict) or depth > 20:
            return _FREE  # no schema (a $ref that does not resolve), or too deep: no constraint
        key = (id(node), tuple(parts))
        if key in self.memo:  # met before in this walk, or a cycle back to a part being walked
            return self.memo[key][1]
        self.memo[key] = (node, _CYCLE)
        name, rest = parts[0], parts[1:]
        root = self.root
        conj = []
        props = node.get("properties")
        # A step down the path (bounded by its length): the depth limit is for $ref chains.
        if isinstance(props, dict) and name in props:
            conj.append((self.value(props[name], rest, depth), False))
        matching = pattern_properties(node, name)  # these apply beside "properties"
        conj += [(self.value(sub, rest, depth), False) for sub in matching]
        if "additionalProperties" in node and not (isinstance(props, dict) and name in props) and not matching:
            conj.append((self.value(node["additionalProperties"], rest, depth), False))
        conj.append(self.ways(ref_target(root, node, depth), parts, depth + 1) if "$ref" in node else _FREE)
        for sub in node.get("allOf", []) if isinstance(node.get("allOf"), list) else []:
            conj.append(self.ways(sub, parts, depth + 1))
        for group in [node[k] for k in ("anyOf", "oneOf") if isinstance(node.get(k), list) and node[k]]:
            conj.append(_join_ways([self.ways(sub, parts, depth + 1) for sub in group]))
        if "$dynamicRef" in node:
            # one that does not resolve is left to the validator; it constrains nothing here
            conj.append(_join_ways([self.ways(sub, parts, depth + 1)
                                    for sub in dynamic_targets(root, node) or [{}]]))
        if "if" in node:
            # ``then`` applies where ``if`` held, and the names ``if`` evaluated count then;
            # ``else`` where it failed (and what failed evaluated nothing).
            held = _meet_ways([self.ways(node["if"], parts, depth + 1),
                               self.ways(node.get("then", {}), parts, depth + 1)])
            conj.append(_join_ways([held, self.ways(node.get("else", {}), parts, depth + 1)]))
        dependent = node.get("dependentSchemas")
        for trigger, sub in dependent.items() if isinstance(dependent, dict) else ():
            ways = self.ways(sub, parts, depth + 1)
            # Applies when ``trigger`` is present: always, where the property is the trigger.
            conj.append(ways if trigger == name else _join_ways([ways, _FREE]))
        found = _meet_ways(conj)
        if "unevaluatedProperties" in node and found is not _CYCLE and found[1]:
            found = _either(found[0], self.value(node["unevaluatedProperties"], rest, depth)), False
        self.memo[key] = (node, found)
        return found


def field_types(root, node, parts: list[str], depth: int = 0, null: bool = False) -> set[str] | None:
    """JSON types that valid data may hold at the property path ``parts`` under ``node``
    (``null`` left out unless ``null``), or None when the schema does not pin them down.

    Every place the schema describes the property counts: ``properties`` beside a ``$ref``,
    the ``$ref``'s target and ``allOf`` parts all bind (their types intersect), while the
    branches of ``anyOf``/``oneOf``, ``then``/``else`` and ``dependentSchemas`` are
    alternatives (their types unite). A branch silent about the property admits any type —
    unless the object then refuses the name (``unevaluatedProperties: false``,
    ``additionalProperties: false`` beside the declarations): a field declared only in
    ``then`` is of ``then``'s type when no record can hold it otherwise. So a field that is
    an integer in one branch and a string in another has no single type: the database must
    not cast it to a number.
    """
    walk = _Walk(root, null)
    if not parts:
        return _known(walk.types(node, depth))
    found = walk.ways(node, parts, depth)
    if found is _CYCLE:
        return None
    declared, bare = found
    return None if bare else _known(declared)


def types_of(root, sub, depth: int = 0) -> set[str] | None:
    """JSON types a subschema admits (``null`` left out), or None when it does not constrain them.

    ``type``, ``enum``/``const``, a ``$ref`` and ``allOf`` parts all bind; ``anyOf``/``oneOf``
    and ``then``/``else`` are alternatives. An empty set admits nothing but null.
    """
    return _known(_Walk(root).types(sub, depth))


def json_type_of(types: set[str] | None) -> str | None:
    """The one JSON type of a set of types, or None if it holds several (or is unknown).

    A field that may hold a number or a string must not be cast to numeric in SQL, so
    mixed types give None; integer with number gives number.
    """
    if not types:
        return None
    if types <= {"integer", "number"}:
        return "number" if "number" in types else "integer"
    return next(iter(types)) if len(types) == 1 else None
