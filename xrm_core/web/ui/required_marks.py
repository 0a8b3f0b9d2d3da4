"""Which inputs a form marks required (``*``, ``aria-required``): the members every valid
value has, read from the whole schema.

A group's markers came from the first declaration of its object only, and the top-level
fields' from the root's own ``required``: a member required by a later ``allOf`` part (or by
every branch of a ``oneOf``) was not marked, and the form then refused it empty as the
schema does — "required" at an input that did not say so. The reading is the one
:func:`xrm_core.field_values.allowed_values` makes of values, turned around for names: the
parts that always apply (the declaration, its ``$ref`` target, ``allOf`` parts) each add
what they require; alternatives (``anyOf``/``oneOf`` branches, ``then``/``else``, a
``dependentSchemas`` entry, which may not apply) add only what every one of them requires.
A member required in some cases only stays unmarked: the schema says why when it is
missing (:mod:`.required_reasons`).
"""
from __future__ import annotations

from ... import schema_types

_MAX_DEPTH = 20


def members(et, path: tuple = ()) -> set[str]:
    """The names the object at ``path`` (keys from the record's data down through nested
    objects; ``()`` for the data itself) always holds when it is there."""
    found = _at(et.schema, et.schema, tuple(path), 0, {})
    return found or set()


def _at(root, node, parts: tuple, depth: int, memo: dict) -> set[str] | None:
    """What the object at ``parts`` under ``node`` must hold, or None when ``node`` says
    nothing of it (neutral where it applies; nothing required where it is one branch)."""
    if not isinstance(node, dict) or depth > _MAX_DEPTH:
        return None
    key = (id(node), len(parts))  # parts is always a suffix of the one path asked for
    if key not in memo:
        memo[key] = None  # a $ref back to itself adds nothing
        memo[key] = _of(root, node, parts, depth, memo)
    return memo[key]


def _of(root, node, parts, depth, memo):
    if parts:
        out = None
        props = node.get("properties")
        declared = [props[parts[0]]] if isinstance(props, dict) and parts[0] in props else []
        for sub in declared + schema_types.pattern_properties(node, parts[0]):
            out = _union(out, _at(root, sub, parts[1:], depth + 1, memo))
    else:
        required = node.get("required")
        out = {n for n in required if isinstance(n, str)} if isinstance(required, list) else set()
    target = schema_types.ref_target(root, node, depth)
    for sub in ([target] if target is not None else []) + _list(node, "allOf"):
        out = _union(out, _at(root, sub, parts, depth + 1, memo))
    groups = [_list(node, "anyOf"), _list(node, "oneOf"), schema_types.dynamic_targets(root, node)]
    if "if" in node:
        groups.append([node.get("then", True), node.get("else", True)])
    groups += [[sub, True] for sub in schema_types.dependent_schemas(node)]
    for group in groups:
        options = [_at(root, sub, parts, depth + 1, memo) for sub in group]
        if group and any(o is not None for o in options):
            out = _union(out, set.intersection(*[o or set() for o in options]))
    return out


def _list(node: dict, key: str) -> list:
    return node[key] if isinstance(node.get(key), list) else []


def _union(a: set | None, b: set | None) -> set | None:
    return b if a is None else a if b is None else a | b
