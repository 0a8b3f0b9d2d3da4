"""Which "unevaluated" errors only echo another error.

In JSON Schema 2020-12 a subschema that fails keeps none of its annotations, so the
properties (and array items) it declares do not count as evaluated. With ``allOf: [{properties:
{amount: …}}]`` beside ``unevaluatedProperties: false``, one bad ``amount`` makes the validator
also report every property of that ``allOf`` part as "unevaluated", although the schema declares
them and their values are valid. The same happens at any depth: in a nested object, in the
objects of an array, behind a ``$ref``, in ``then``/``else``, and for array items with
``unevaluatedItems: false``.

:func:`echoes` finds them from the errors themselves. An unevaluated-properties error names the
subschema holding ``unevaluatedProperties`` (its evaluation path, minus the keyword); a name it
reports is an echo when a subschema applied in place there (itself, through ``$ref``,
``$dynamicRef``, ``allOf``/``anyOf``/``oneOf``, ``if``/``then``/``else``, ``dependentSchemas``)
declares that name and *failed*: another error was reported inside it (or about the
``anyOf``/``oneOf`` holding it). A name no applied subschema declares, or one declared only where
nothing failed (an ``if`` that did not hold, a ``then`` that did not apply, an ``anyOf`` branch
beside one that passed), is genuinely unevaluated and stays reported.
"""
from __future__ import annotations

import jsonschema_rs
import orjson

from .schema_types import dynamic_targets, lookup_ref, pattern_properties
from .validation import _at

#: In-place applicators: their subschemas apply to the same instance location.
_LISTS = ("allOf", "anyOf", "oneOf")
_ONE = ("if", "then", "else")
#: A subschema whose error is about its branches as a whole (no error inside them is reported).
_BRANCHING = ("anyOf", "oneOf")
_MAX_DEPTH = 40
_Kind = jsonschema_rs.ValidationErrorKind


def echoes(root: dict, errors: list, instance) -> dict[int, set | list]:
    """``{id(error): what it reports that only echoes another error}`` for the jsonschema-rs
    ``errors`` of ``instance`` against the entity schema ``root``: property names for an
    unevaluated-properties error, the library's texts of item values (as ``kind.unexpected``
    lists them, once per time to leave out) for an unevaluated-items error. Errors with
    nothing to drop are absent."""
    out: dict[int, set | list] = {}
    if not any(isinstance(e.kind, (_Kind.UnevaluatedProperties, _Kind.UnevaluatedItems)) for e in errors):
        return out
    paths = []
    for e in errors:
        try:
            paths.append((tuple(e.evaluation_path), tuple(e.instance_path)))
        except AttributeError:  # a jsonschema-rs without evaluation paths: nothing is dropped
            return {}
    for e, (epath, ipath) in zip(errors, paths):
        props = isinstance(e.kind, _Kind.UnevaluatedProperties)
        if not (props or isinstance(e.kind, _Kind.UnevaluatedItems)) or not epath:
            continue
        # Errors at or under this object only: the objects of an array share evaluation
        # paths, so another item's error says nothing of this one's subschemas.
        others = [p for p, other in zip(paths, errors) if other is not e and p[1][:len(ipath)] == ipath]
        if not others:
            continue  # nothing else failed here: it cannot echo anything
        holder = epath[:-1]
        nodes = _walk(root, holder)
        if not nodes:
            continue
        failed = [sub for node in nodes for suffix, sub in _in_place(root, node, (), 0, set())
                  if _failed(holder + suffix, [p for p, _ in others])]
        if not failed:
            continue
        unexpected = [u for u in e.kind.unexpected if isinstance(u, str)]
        at = _at(instance, list(e.instance_path))
        if props:
            dropped = {u for u in unexpected if any(_declares(sub, u) for sub in failed)}
        elif isinstance(at, list):
            dropped = _echoed_items(unexpected, at, failed)
        else:
            dropped = []
        if dropped:
            out[id(e)] = dropped
    return out


def _walk(root: dict, path: tuple) -> list[dict]:
    """The subschemas at evaluation path ``path`` from ``root`` (``$ref`` steps followed; a
    ``$dynamicRef`` may lead to several)."""
    nodes = [root]
    for step in path:
        following = []
        for node in nodes:
            if step == "$ref" and isinstance(node, dict) and isinstance(node.get("$ref"), str):
                target = lookup_ref(root, node, node["$ref"])
                following += [target] if target is not None else []
            elif step == "$dynamicRef" and isinstance(node, dict):
                following += dynamic_targets(root, node)
            elif isinstance(node, dict) and isinstance(step, str) and step in node:
                following.append(node[step])
            elif isinstance(node, list) and isinstance(step, int) and 0 <= step < len(node):
                following.append(node[step])
        nodes = [n for n in following if isinstance(n, (dict, list))]
        if not nodes:
            return []
    return [n for n in nodes if isinstance(n, dict)]


def _in_place(root: dict, node, suffix: tuple, depth: int, seen: set):
    """``(evaluation path suffix, subschema)`` of ``node`` and of every subschema applied in
    place under it, ``node`` first (suffix ``()``). A cycle of references is walked once."""
    if not isinstance(node, dict) or depth > _MAX_DEPTH or id(node) in seen:
        return
    seen = seen | {id(node)}
    yield suffix, node
    for key in _LISTS:
        if isinstance(node.get(key), list):
            for i, sub in enumerate(node[key]):
                yield from _in_place(root, sub, suffix + (key, i), depth + 1, seen)
    for key in _ONE:
        yield from _in_place(root, node.get(key), suffix + (key,), depth + 1, seen)
    if isinstance(node.get("dependentSchemas"), dict):
        for name, sub in node["dependentSchemas"].items():
            yield from _in_place(root, sub, suffix + ("dependentSchemas", name), depth + 1, seen)
    if isinstance(node.get("$ref"), str):
        yield from _in_place(root, lookup_ref(root, node, node["$ref"]), suffix + ("$ref",), depth + 1, seen)
    for target in dynamic_targets(root, node):
        yield from _in_place(root, target, suffix + ("$dynamicRef",), depth + 1, seen)


def _failed(location: tuple, others: list[tuple]) -> bool:
    """Did the subschema at evaluation path ``location`` fail, by the other errors' paths? An
    error inside it says so, as does an ``anyOf``/``oneOf`` error about the list holding it."""
    n = len(location)
    for p in others:
        if p[:n] == location:
            return True
        if p and p[-1] in _BRANCHING and len(p) < n and location[:len(p)] == p:
            return True
    return False


def _declares(node: dict, name: str) -> bool:
    """Would ``node`` evaluate property ``name``, had it passed?"""
    props = node.get("properties")
    if isinstance(props, dict) and name in props:
        return True
    if pattern_properties(node, name):
        return True
    # additionalProperties (any but false) evaluates every other name.
    return "additionalProperties" in node and node["additionalProperties"] is not False


def _echoed_items(unexpected: list[str], items: list, failed: list[dict]) -> list[str]:
    """The texts of ``unexpected`` that only echo another error, each as many times as it
    is to be left out.

    The library names unevaluated items by value, not by index. Of the ``n`` times a value
    is listed, at most as many as the items holding it that no failed subschema covers can
    be genuine; the rest are echoes (so a repeated value never hides a genuine item)."""
    covered = set()
    for sub in failed:
        prefix = sub.get("prefixItems")
        n = len(prefix) if isinstance(prefix, list) else 0
        covered.update(range(min(n, len(items))))
        if "items" in sub and sub["items"] is not False:
            covered.update(range(n, len(items)))
    texts = [_text(v) for v in items]
    out: list[str] = []
    for u in dict.fromkeys(unexpected):
        try:
            key = _text(orjson.loads(u))
        except orjson.JSONDecodeError:
            continue
        if key is None:
            continue
        uncovered = sum(1 for i, t in enumerate(texts) if t == key and i not in covered)
        listed = unexpected.count(u)
        out += [u] * (listed - min(listed, uncovered))
    return out


def _text(value) -> bytes | None:
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # not JSON orjson can write (an integer beyond 64 bits)
        return None
