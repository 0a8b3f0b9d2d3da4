"""The URIs a JSON Schema's subschemas claim, and the references that must reach one.

JSON Schema 2020-12 names subschemas by URI: an ``$id`` (resolved against the base URI
around it) names a schema resource, and an ``$anchor`` or ``$dynamicAnchor`` a plain-name
fragment (``#name``) of the resource it stands in (core §8.2). When two subschemas claim one
URI, validators "SHOULD raise an error condition" (§9.1.2), and the effect of one fragment
name declared twice in a resource, by either keyword, is undefined (§8.2.2). jsonschema-rs
then picks one of them by an order that is not the document's, while
:mod:`xrm_core.schema_index` keeps the first: field types, indexes, CSV cells, filters and
the OpenAPI document would read another subschema than the one records are validated by.
So :func:`check_uris` refuses such a schema, and a reference that reaches nothing, even in a
``$defs`` entry nothing uses yet (the validator skips those, the OpenAPI document does not).

An anchor declared by both keywords on one subschema is accepted: both names are that one
schema's, so nothing is ambiguous. Entity types are each compiled alone, with the platform's
schemas (``schemas/``) as their only neighbours: two types may share an ``$id``, but no
schema may claim a platform schema's URI or a JSON Schema meta-schema's.
"""
from __future__ import annotations

from functools import cache
from urllib.parse import unquote, urldefrag

import xrm_schemas

from .errors import DefinitionError
from .schema_index import SchemaIndex, join, normal_uri, subschemas
from .schema_types import platform_index
from .validation import pointer, ref_failure

#: URIs the validator knows without being told: JSON Schema's meta-schemas, built into
#: jsonschema-rs, which an ``$id`` of the same URI does not replace.
META_SCHEMA_PREFIXES = ("https://json-schema.org/", "http://json-schema.org/")

ANCHORS = ("$anchor", "$dynamicAnchor")


@cache
def platform_uris() -> dict[str, str]:
    """URI -> file name of each of the platform's schemas (``schemas/``), as the validator's
    registry holds them."""
    out = {}
    for name in xrm_schemas.names():
        doc = xrm_schemas.load(name)
        out[normal_uri(xrm_schemas.BASE_URI + name)] = name
        if isinstance(doc.get("$id"), str):
            out[normal_uri(urldefrag(doc["$id"])[0])] = name
    return out


def check_uris(schema: dict, base_uri: str, where: str = "/schema") -> None:
    """Refuse (DefinitionError with a JSON pointer per problem, under ``where``) a schema
    read with base URI ``base_uri`` in which two subschemas claim one URI, an ``$id`` claims
    the URI of a platform schema or of a meta-schema, or a reference reaches nothing."""
    problems = identifier_problems(schema, base_uri, where)
    if problems:
        raise DefinitionError("schema gives one URI to two schemas: a reference to it could mean either",
                              problems)
    problems = reference_problems(schema, base_uri, where)
    if problems:
        raise DefinitionError("schema has an unresolvable $ref", problems)


def check_type(et) -> None:
    """:func:`check_uris` of entity type ``et``'s schema, the refusal naming the type.
    Checked when a type is added or changed, not when a stored one is loaded (see
    :func:`stored_type_warnings`)."""
    try:
        check_uris(et.schema, et.base_uri)
    except DefinitionError as e:
        e.message = f"entity type {et.name!r}: {e.message}"
        e.args = (e.message,)
        raise


def stored_type_warnings(types: dict) -> list[str]:
    """A warning for each stored entity type of ``types`` (name -> EntityType) that
    :func:`check_type` refuses. Stored before the check, it still loads, and its records stay
    readable and are validated as before; but field types, indexes and the OpenAPI document
    may read another subschema than the validator does, until an admin corrects it."""
    out = []
    for name in sorted(types):
        try:
            check_type(types[name])
        except DefinitionError as e:
            where = "; ".join(f"{p['pointer']}: {p['message']}" for p in e.errors)
            out.append(f"{e.message} ({where}). It was stored before such a schema was refused: its records are "
                       "kept and validated as before; correct it with `xrm types update`")
    return out


def walk(schema, base_uri: str):
    """``(path, node, base URI)`` of each subschema of ``schema`` (objects only), in
    document order; ``path`` holds keys and list indexes."""
    stack = [((), schema, normal_uri(base_uri))]
    while stack:
        path, node, base = stack.pop()
        if not isinstance(node, dict):
            continue
        own = node.get("$id")
        if isinstance(own, str):
            base = urldefrag(join(base, own))[0]
        yield path, node, base
        children = []
        for key, name, sub in subschemas(node):
            step = (key,) if name is None else (key, int(name) if isinstance(node[key], list) else name)
            children.append((path + step, sub, base))
        stack.extend(reversed(children))  # popped in document order


def identifier_problems(schema, base_uri: str, where: str = "/schema") -> list[dict]:
    """``{"pointer", "message"}`` of each ``$id``, ``$anchor`` or ``$dynamicAnchor`` that
    claims a URI already claimed: at the second declaration, naming the first."""
    base_uri = normal_uri(base_uri)
    resources: dict[str, str] = {}  # URI -> what claims it, in words
    anchors: dict[tuple[str, str], tuple[str, int]] = {}  # (resource, name) -> (pointer, id(node))
    problems = []
    for path, node, base in walk(schema, base_uri):
        own = node.get("$id")
        if not path:
            # The document is its base URI's resource even when it has an $id of its own.
            resources[base_uri] = f"the schema itself (its base URI {base_uri})"
        if isinstance(own, str):
            at = where + pointer(path + ("$id",))
            clash = _claimed(base, resources)
            if clash is None or (not path and base == base_uri):
                resources[base] = f"the $id at {at}"
            else:
                named = base if own == base else f"{own!r} names {base}, which"
                problems.append({"pointer": at, "message": f"{named} is already named by {clash}: choose another "
                                                           "$id (JSON Schema 2020-12 §9.1.2: one URI, one schema)"})
        for key in ANCHORS:
            name = node.get(key)
            if not isinstance(name, str):
                continue
            at = where + pointer(path + (key,))
            first = anchors.setdefault((base, name), (at, id(node)))
            if first[1] != id(node):  # by both keywords on one subschema: one schema, no clash
                problems.append({"pointer": at, "message": f"the anchor {name!r} is already declared at {first[0]} "
                                                           f"in the same schema resource ({base}): \"#{name}\" would "
                                                           "name either; rename one (JSON Schema 2020-12 §8.2.2)"})
    return problems


def _claimed(uri: str, resources: dict[str, str]) -> str | None:
    """What already claims ``uri``, in words, or None."""
    if uri in resources:
        return resources[uri]
    if uri in platform_uris():
        name = platform_uris()[uri]
        return f"the platform's schema {name} (schemas/{name})"
    if uri.startswith(META_SCHEMA_PREFIXES):
        return "JSON Schema's own meta-schemas (built into the validator, which keeps them)"
    return None


def reference_problems(schema, base_uri: str, where: str = "/schema") -> list[dict]:
    """``{"pointer", "message"}`` of each ``$ref`` or ``$dynamicRef`` that reaches nothing,
    wherever it stands (a ``$defs`` entry nothing refers to included). Nothing is fetched:
    what the schema itself and the platform's schemas hold is all there is."""
    own = SchemaIndex()
    own.add(schema, base_uri)
    problems = []
    for path, node, _base in walk(schema, base_uri):
        for key in ("$ref", "$dynamicRef"):
            ref = node.get(key)
            if not isinstance(ref, str):
                continue
            url, fragment = urldefrag(join(own.base[id(node)], ref))
            fragment = unquote(fragment)
            target = own.find(url, fragment)
            if target is None:
                target = platform_index().find(url, fragment)
            if isinstance(target, (dict, bool)):
                continue
            # Not found by the index: the validator may still know it (a meta-schema's URI).
            failure = ref_failure(schema, base_uri, path + (key,))
            if failure is not None:
                problems.append({"pointer": where + pointer(path + (key,)), "message": failure})
    return problems
