"""The values a field's ``enum``/``const`` lets it hold, wherever the schema says so.

A filter value no record can hold is refused as a typo (``filters.refuse_values_never_held``,
KPI filters), and ``value_labels`` may only label values a field can hold. A field declared
in several places must not be judged by the first place found: in a discriminated union
(``"oneOf": [{"properties": {"via": {"const": "email"}}}, {"properties": {"via":
{"const": "phone"}}}]``) ``via`` may hold both. The answer here leans to "unknown"
(None): a check that misses a typo costs less than one that refuses a value records hold.
"""
from __future__ import annotations

from contextvars import ContextVar

from .fields import FIELD_RE
from .schema_types import dependent_schemas, dynamic_targets, pattern_properties, ref_target

_MAX_DEPTH = 20
#: Subschemas one answer may visit. A schema is an admin's or a plugin's, and the answer is
#: sought on every filter request: branches that reach one subschema several ways per level
#: (``anyOf`` of k ``$ref``s, ten levels) are k^10 paths. Each (subschema, path, depth) is
#: walked once (:class:`_Walk`), and past the budget the answer is None: unknown, so no
#: filter value is refused.
_BUDGET = 10_000
#: The field is not declared under this subschema (neutral in an ``allOf``; a branch of a
#: ``oneOf`` that does not declare it leaves the value free).
_ABSENT = object()


def allowed_values(root: dict, field: str) -> list | None:
    """The values valid data may hold at ``field`` of entity schema ``root`` (a dotted path
    into nested objects, ``billing.method``; any other name is one property as written),
    as a list, or None when the schema does not restrict them to a list."""
    if not isinstance(field, str):
        return None
    token = _walk.set(_Walk())
    try:
        found = _field(root, root, field.split(".") if FIELD_RE.match(field) else [field], 0)
    except _OverBudget:
        return None
    finally:
        _walk.reset(token)
    return None if found is _ABSENT else found


class _OverBudget(Exception):
    """The walk visited :data:`_BUDGET` subschemas."""


class _Walk:
    """One answer's memo — what each (subschema, remaining path, depth) allows: a schema
    reaching one subschema by many paths walks it once — and its count of visits."""

    def __init__(self):
        self.memo: dict = {}
        self.visits = 0

    def seen(self, key):
        """The memo's answer for ``key`` (a ``_MISSING`` sentinel if none); counts a visit."""
        self.visits += 1
        if self.visits > _BUDGET:
            raise _OverBudget
        return self.memo.get(key, _MISSING)


_walk: ContextVar[_Walk] = ContextVar("field_values_walk")
_MISSING = object()


def same_value(a, b) -> bool:
    """Whether two JSON values are equal as JSON: 1 and 1.0 are, true and 1 are not."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _both(a, b):
    """What two constraints that both hold allow (``_ABSENT`` and None constrain nothing)."""
    if a is _ABSENT or a is None:
        return b if b is not _ABSENT else a
    if b is _ABSENT or b is None:
        return a
    return [v for v in a if any(same_value(v, w) for w in b)]


def _either(options: list):
    """What one of several alternatives allows: unrestricted when any of them is."""
    out = []
    for option in options:
        if option is None or option is _ABSENT:
            return None
        out += [v for v in option if not any(same_value(v, w) for w in out)]
    return out


def _value(root, node, depth):
    """The values the subschema ``node`` allows (its `$ref` and its siblings alike), or None."""
    walk, key = _walk.get(), ("value", id(node), depth)
    found = walk.seen(key)
    if found is _MISSING:
        found = walk.memo[key] = _value_of(root, node, depth)
    return found


def _value_of(root, node, depth):
    if node is False:
        return []
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return None
    found = list(node["enum"]) if isinstance(node.get("enum"), list) else \
        [node["const"]] if "const" in node else None
    target = ref_target(root, node, depth)
    if target is not None:
        found = _both(found, _value(root, target, depth + 1))
    for part in node.get("allOf", []) if isinstance(node.get("allOf"), list) else []:
        found = _both(found, _value(root, part, depth + 1))
    for key in ("anyOf", "oneOf"):
        if isinstance(node.get(key), list):
            found = _both(found, _either([_value(root, p, depth + 1) for p in node[key]]))
    if "if" in node:  # the value is one of those then or else allows (a branch not given allows any)
        found = _both(found, _either([_value(root, node.get(k, True), depth + 1) for k in ("then", "else")]))
    return found


def _field(root, node, parts, depth):
    """The values at ``parts`` under the objects ``node`` describes: a list, None
    (unrestricted) or ``_ABSENT`` (not declared there)."""
    walk, key = _walk.get(), ("field", id(node), tuple(parts), depth)
    found = walk.seen(key)
    if found is _MISSING:
        found = walk.memo[key] = _field_of(root, node, parts, depth)
    return found


def _field_of(root, node, parts, depth):
    if not parts:
        return _value(root, node, depth)
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return None
    name, rest = parts[0], parts[1:]
    found = _ABSENT
    props = node.get("properties")
    if isinstance(props, dict) and name in props:
        found = _both(found, _field(root, props[name], rest, depth + 1))
    for sub in pattern_properties(node, name):
        found = _both(found, _field(root, sub, rest, depth + 1))
    target = ref_target(root, node, depth)
    musts = ([target] if target is not None else []) + \
        (node["allOf"] if isinstance(node.get("allOf"), list) else [])
    for sub in musts:
        found = _both(found, _field(root, sub, parts, depth + 1))
    groups = [node[k] for k in ("anyOf", "oneOf") if isinstance(node.get(k), list)]
    if dynamic_targets(root, node):  # a $dynamicRef may land on any of them
        groups.append(dynamic_targets(root, node))
    if "if" in node:
        groups.append([node.get("then", True), node.get("else", True)])
    groups += [[sub, True] for sub in dependent_schemas(node)]
    for group in groups:
        options = [_field(root, sub, parts, depth + 1) for sub in group]
        if all(o is _ABSENT for o in options):
            continue
        found = _both(found, _either(options))
    return found
