"""JSON Schemas made into OpenAPI components: every reference becomes ``#/components/schemas/…``.

An OpenAPI document is one JSON resource. What an entity type's schema says relative to its
own base URI — a ``$ref`` to a JSON pointer, to an ``$anchor``, to a resource embedded with
its own ``$id``, a ``$dynamicRef`` — must become a plain pointer into the document, and the
``$id``s and anchors must go: two types may both declare an anchor ``node``, and in one
document they would clash, while plain pointers are what every OpenAPI tool resolves. The
platform's own schemas (``schemas/common.json`` and the rest) become components of their own.
"""
from __future__ import annotations

import copy
from urllib.parse import quote, urljoin

import xrm_schemas

from ..validation import SCHEMA_LISTS, SCHEMA_MAPS, SCHEMA_ONE

COMMON_FILE = "common.json"

#: Identifiers that mean something only in the schema's own resource.
_DROPPED = frozenset({"$id", "$schema", "$anchor", "$dynamicAnchor", "$vocabulary"})


def component(name: str) -> str:
    """The reference to the component ``name``."""
    return f"#/components/schemas/{name}"


def _segment(key: str) -> str:
    """``key`` as one segment of a JSON pointer written in a URI fragment (RFC 6901 §6)."""
    return quote(key.replace("~", "~0").replace("/", "~1"), safe="!$&'()*+,;=:@~")


def _join(base: str, ref: str) -> str:
    # urljoin drops a fragment-only reference against a URN base (urn:x:y + #a gives #a).
    return base.partition("#")[0] + ref if ref.startswith("#") else urljoin(base, ref)


def _subschemas(node: dict):
    """(key, name-or-index or None, subschema) of each subschema directly under ``node``."""
    for key, value in node.items():
        # draft 7's "dependencies" maps names to subschemas or to lists of names
        if key in SCHEMA_MAPS or (key == "dependencies" and isinstance(value, dict)):
            if isinstance(value, dict):
                for name, sub in value.items():
                    yield key, name, sub
        elif key in SCHEMA_LISTS or (key == "items" and isinstance(value, list)):
            if isinstance(value, list):
                for i, sub in enumerate(value):
                    yield key, str(i), sub
        elif key in SCHEMA_ONE:
            yield key, None, value


class _Index:
    """Where each resource (``$id``) and anchor of one schema lies, as a pointer into it."""

    def __init__(self, schema, base: str, whole: bool):
        self.resources: dict[str, str] = {}
        self.anchors: dict[tuple[str, str], str] = {}
        self.dynamic: set[tuple[str, str]] = set()
        self._walk(schema, base, "", whole)

    def _walk(self, node, base: str, at: str, register: bool) -> None:
        if not isinstance(node, dict):
            return
        if isinstance(node.get("$id"), str):
            base, register = _join(base, node["$id"]).partition("#")[0], True
        if register:
            self.resources.setdefault(base, at)
        for keyword in ("$anchor", "$dynamicAnchor"):
            if isinstance(node.get(keyword), str):
                self.anchors.setdefault((base, node[keyword]), at)
                if keyword == "$dynamicAnchor":
                    self.dynamic.add((base, node[keyword]))
        for key, name, sub in _subschemas(node):
            path = f"{at}/{_segment(key)}" + ("" if name is None else f"/{_segment(name)}")
            self._walk(sub, base, path, False)


class SchemaComponents:
    """Rewrites schemas into components and remembers which platform schemas
    (``common.json`` $defs, other files of ``schemas/``) they refer to."""

    def __init__(self):
        self.needed: dict[str, tuple[str, str]] = {}  # component -> (file, fragment)

    def rewrite(self, schema, base: str, own: str, whole: bool = True):
        """A copy of ``schema`` (read with base URI ``base``) to publish as component ``own``.

        ``whole`` is false when ``schema`` is a part of the resource at ``base`` (a $def of
        ``common.json``): references to that resource then go to the platform's components.
        """
        index = _Index(schema, base, whole)
        return self._copy(schema, base, own, index, ())

    def _copy(self, node, base: str, own: str, index: _Index, chain: tuple):
        if not isinstance(node, dict):
            return node
        if isinstance(node.get("$id"), str):
            base = _join(base, node["$id"]).partition("#")[0]
            chain = (*chain, base)
        elif not chain:
            chain = (base,)
        out = {}
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                target = self._target(value, base, own, index, chain if key == "$dynamicRef" else None)
                if "$ref" in out:  # both keywords on one schema: both must hold
                    out.setdefault("allOf", []).append({"$ref": target})
                else:
                    out["$ref"] = target
            elif key in SCHEMA_MAPS or (key == "dependencies" and isinstance(value, dict)):
                out[key] = ({name: self._copy(sub, base, own, index, chain) for name, sub in value.items()}
                            if isinstance(value, dict) else copy.deepcopy(value))
            elif key in SCHEMA_LISTS or (key == "items" and isinstance(value, list)):
                out[key] = ([self._copy(sub, base, own, index, chain) for sub in value]
                            if isinstance(value, list) else copy.deepcopy(value))
            elif key in SCHEMA_ONE:
                out[key] = self._copy(value, base, own, index, chain)
            else:
                out[key] = copy.deepcopy(value)
        return out

    def _target(self, ref: str, base: str, own: str, index: _Index, chain: tuple | None) -> str:
        """The component reference of ``ref``; ``chain`` (the resources around a
        ``$dynamicRef``, outermost first) lets the outermost dynamic anchor of its name win."""
        url, _, frag = _join(base, ref).partition("#")
        if url in index.resources:
            if not frag or frag.startswith("/"):
                return component(own) + index.resources[url] + frag
            if chain is not None and (url, frag) in index.dynamic:
                outer = next((u for u in chain if (u, frag) in index.dynamic), url)
                return component(own) + index.anchors[(outer, frag)]
            if (url, frag) in index.anchors:
                return component(own) + index.anchors[(url, frag)]
        if url.startswith(xrm_schemas.BASE_URI) and url[len(xrm_schemas.BASE_URI):] in xrm_schemas.names():
            name, rest = _file_component(url[len(xrm_schemas.BASE_URI):], frag)
            self.needed[name] = (url[len(xrm_schemas.BASE_URI):], "" if name.startswith("xrm.") else frag)
            return component(name) + rest
        # Validation compiles offline against schemas/ only, so nothing else reaches here.
        return ref

    def platform_components(self) -> dict[str, dict]:
        """Every platform schema component needed, transitively."""
        out: dict[str, dict] = {}
        while len(out) < len(self.needed):
            for name, (file, _frag) in list(self.needed.items()):
                if name in out:
                    continue
                doc = xrm_schemas.load(file)
                base = doc.get("$id", xrm_schemas.BASE_URI + file)
                if name.startswith("common."):
                    out[name] = self.rewrite(doc["$defs"][name[len("common."):]], base, name, whole=False)
                else:
                    out[name] = self.rewrite(doc, base, name)
        return out


def _file_component(file: str, frag: str) -> tuple[str, str]:
    """(component name, remaining pointer) of ``file#frag`` for a schema of ``schemas/``.

    ``common.json#/$defs/phone`` becomes the component ``common.phone``; any other platform
    schema file is embedded whole as ``xrm.<file stem>``.
    """
    if file == COMMON_FILE and frag.startswith("/$defs/"):
        name, _, rest = frag[len("/$defs/"):].partition("/")
        return f"common.{name}", f"/{rest}" if rest else ""
    return f"xrm.{file.removesuffix('.json')}", frag
