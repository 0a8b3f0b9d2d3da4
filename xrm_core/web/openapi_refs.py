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
from urllib.parse import unquote, urldefrag

import xrm_schemas

from ..schema_index import SchemaIndex, join
from ..validation import SCHEMA_LISTS, SCHEMA_MAPS, SCHEMA_ONE

COMMON_FILE = "common.json"

#: Identifiers that mean something only in the schema's own resource.
_DROPPED = frozenset({"$id", "$schema", "$anchor", "$dynamicAnchor", "$vocabulary"})


def component(name: str) -> str:
    """The reference to the component ``name``."""
    return f"#/components/schemas/{name}"


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
        index = SchemaIndex()
        index.add(schema, base, resource=whole)
        return self._copy(schema, own, index)

    def _copy(self, node, own: str, index: SchemaIndex):
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                target = self._target(value, node, own, index, key == "$dynamicRef")
                if "$ref" in out:  # both keywords on one schema: both must hold
                    out.setdefault("allOf", []).append({"$ref": target})
                else:
                    out["$ref"] = target
            elif key in SCHEMA_MAPS or (key == "dependencies" and isinstance(value, dict)):
                out[key] = ({name: self._copy(sub, own, index) for name, sub in value.items()}
                            if isinstance(value, dict) else copy.deepcopy(value))
            elif key in SCHEMA_LISTS or (key == "items" and isinstance(value, list)):
                out[key] = ([self._copy(sub, own, index) for sub in value]
                            if isinstance(value, list) else copy.deepcopy(value))
            elif key in SCHEMA_ONE:
                out[key] = self._copy(value, own, index)
            else:
                out[key] = copy.deepcopy(value)
        return out

    def _target(self, ref: str, holder: dict, own: str, index: SchemaIndex, dynamic: bool) -> str:
        """The component reference of ``ref``, found in ``holder``. A ``$dynamicRef`` to a
        dynamic anchor goes to the outermost subschema declaring that anchor: the one a
        validation starting at the type's root reaches first."""
        url, frag = urldefrag(join(index.base[id(holder)], ref))
        if url in index.resources:
            if not frag or frag.startswith("/"):
                return component(own) + index.pointer[id(index.resources[url])] + frag
            target = index.find(url, unquote(frag))
            if target is not None:
                if dynamic and target.get("$dynamicAnchor") == unquote(frag):
                    target = index.dynamic_anchors(unquote(frag))[0]
                return component(own) + index.pointer[id(target)]
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
