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
from collections import deque
from urllib.parse import unquote, urldefrag

import xrm_schemas

from ..schema_index import SchemaIndex, join, subschemas
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
        #: Copies of subschemas reached in another dynamic scope than where they stand (see
        #: :class:`_Copier`), by component name.
        self.scoped: dict[str, object] = {}

    def rewrite(self, schema, base: str, own: str, whole: bool = True):
        """A copy of ``schema`` (read with base URI ``base``) to publish as component ``own``.

        ``whole`` is false when ``schema`` is a part of the resource at ``base`` (a $def of
        ``common.json``): references to that resource then go to the platform's components.
        A subschema that a ``$dynamicRef`` makes mean something else where a reference
        reaches it is published once more, as it reads there (:attr:`scoped`).
        """
        index = SchemaIndex()
        index.add(schema, base, resource=whole)
        return _Copier(self, index, own).copy_root(schema, base if whole else None)

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

    def platform_reference(self, url: str, frag: str) -> str | None:
        """The component reference of ``url#frag`` if it names a platform schema, else None."""
        if url.startswith(xrm_schemas.BASE_URI) and url[len(xrm_schemas.BASE_URI):] in xrm_schemas.names():
            name, rest = _file_component(url[len(xrm_schemas.BASE_URI):], frag)
            self.needed[name] = (url[len(xrm_schemas.BASE_URI):], "" if name.startswith("xrm.") else frag)
            return component(name) + rest
        return None


#: Copies of subschemas (``own.N``) one schema may add to the document. A real schema needs a
#: handful (the water utility's valve chain needs 1); past this, a reference points at the
#: subschema where it stands and the type's component says so (:data:`CAPPED`). The document
#: is public and hostile-but-valid schemas could otherwise ask for 2^n copies.
MAX_COPIES = 200

#: Appended to the ``description`` of a type's component whose copies hit :data:`MAX_COPIES`.
CAPPED = (f"This schema reaches more than {MAX_COPIES} subschemas in other dynamic scopes than where they "
          "stand: past that many, a `$dynamicRef` inside them is published as it reads where the subschema "
          "stands (its lexical scope), so on some paths this document may accept or refuse other data than "
          "the API does, which validates against the entity type's own schema (`GET /api/v1/types/{name}`).")


class _Copier:
    """One schema copied into component ``own``, every reference made a pointer.

    A ``$dynamicRef`` to a ``$dynamicAnchor`` resolves to the outermost schema resource of
    the *dynamic* scope — the resources the validation passed through to get there — that
    declares the anchor (JSON Schema 2020-12 §8.2.3.2). A pointer is static, so a subschema
    reached in a scope other than the one it stands in lexically (``{"$ref": "generic"}``
    beside a ``strict`` resource that also refers to ``generic``) is copied once more, its
    dynamic references resolved for that scope, as the component ``own.N``: with a single
    pointer per ``$dynamicRef``, the document refused what the API accepted (or accepted
    what it refused) on one of the two paths. A scope is the dynamic anchors in force:
    ``{anchor name: the subschema that declares it in the outermost resource}``.

    Bounded whatever the schema: a scope holds only the anchor names some ``$dynamicRef`` of
    the schema names (no other anchor can change what a reference reads), at most
    :data:`MAX_COPIES` copies are made, and copies are made from a work list, not by
    recursion, so a chain of hundreds of resources costs no stack.
    """

    def __init__(self, components: SchemaComponents, index: SchemaIndex, own: str):
        self.components, self.index, self.own = components, index, own
        self.lexical: dict[int, dict] = {}  # id(subschema) -> the scope it stands in
        self.copies: dict[tuple, str] = {}  # (id(subschema), scope key) -> its component
        self.pending: deque[tuple[str, dict, dict]] = deque()  # (component, subschema, scope) to copy
        self.capped = False  # a reference was left lexical because of MAX_COPIES
        self.named = _dynamic_ref_names(index)

    def copy_root(self, schema, base: str | None):
        scope = self._enter({}, base) if base is not None else {}
        self._record_lexical(schema, scope)
        out = self._copy(schema, scope)
        while self.pending:  # copies asked for while copying, and by those copies in turn
            name, target, reached = self.pending.popleft()
            self.components.scoped[name] = self._copy(target, reached)
        if self.capped and isinstance(out, dict):
            said = out.get("description")
            out["description"] = f"{said}\n\n{CAPPED}" if isinstance(said, str) and said else CAPPED
        return out

    # -- scopes --------------------------------------------------------------------------
    def _enter(self, scope: dict, base: str | None) -> dict:
        """``scope`` once the resource at ``base`` is entered: its dynamic anchors that some
        ``$dynamicRef`` names added, unless an outer resource declared the same name (the
        outermost wins)."""
        added = {name: node for (b, name, dynamic), node in self.index.anchors.items()
                 if dynamic and b == base and name in self.named and name not in scope}
        return {**scope, **added} if added else scope

    @staticmethod
    def _key(scope: dict) -> tuple:
        return tuple(sorted((name, id(node)) for name, node in scope.items()))

    def _inner(self, node, scope: dict) -> dict:
        """The scope inside ``node``: an embedded resource (own ``$id``) is entered."""
        if isinstance(node.get("$id"), str) and id(node) in self.index.base:
            return self._enter(scope, self.index.base[id(node)])
        return scope

    def _record_lexical(self, node, scope: dict) -> None:
        if not isinstance(node, dict):
            return
        scope = self._inner(node, scope)
        self.lexical[id(node)] = scope
        for _key, _name, sub in subschemas(node):
            self._record_lexical(sub, scope)

    # -- copying -------------------------------------------------------------------------
    def _copy(self, node, scope: dict):
        if not isinstance(node, dict):
            return node
        scope = self._inner(node, scope)
        out = {}
        for key, value in node.items():
            if key in _DROPPED:
                continue
            if key in ("$ref", "$dynamicRef") and isinstance(value, str):
                target = self._target(value, node, scope, key == "$dynamicRef")
                if "$ref" in out:  # both keywords on one schema: both must hold
                    out.setdefault("allOf", []).append({"$ref": target})
                else:
                    out["$ref"] = target
            elif key in SCHEMA_MAPS or (key == "dependencies" and isinstance(value, dict)):
                out[key] = ({name: self._copy(sub, scope) for name, sub in value.items()}
                            if isinstance(value, dict) else copy.deepcopy(value))
            elif key in SCHEMA_LISTS or (key == "items" and isinstance(value, list)):
                out[key] = ([self._copy(sub, scope) for sub in value]
                            if isinstance(value, list) else copy.deepcopy(value))
            elif key in SCHEMA_ONE:
                out[key] = self._copy(value, scope)
            else:
                out[key] = copy.deepcopy(value)
        return out

    def _target(self, ref: str, holder: dict, scope: dict, dynamic: bool) -> str:
        """The component reference of ``ref``, found in ``holder`` within ``scope``."""
        index = self.index
        url, frag = urldefrag(join(index.base[id(holder)], ref))
        if url in index.resources:
            name = unquote(frag)
            target = index.find(url, name)
            if target is not None and frag and not frag.startswith("/"):
                if dynamic and target.get("$dynamicAnchor") == name:
                    target = scope.get(name, target)
                return self._reference(target, scope, None)
            if not frag or frag.startswith("/"):
                # As written (its own percent-encoding), unless the scope asks for a copy.
                written = component(self.own) + index.pointer[id(index.resources[url])] + frag
                return self._reference(target, scope, written)
        platform = self.components.platform_reference(url, frag)
        # Validation compiles offline against schemas/ only, so nothing else reaches here.
        return ref if platform is None else platform

    def _reference(self, target, scope: dict, written: str | None) -> str:
        """A pointer to ``target`` as it reads when reached from ``scope``: where it stands,
        or a copy of it for that scope."""
        if not isinstance(target, dict) or id(target) not in self.lexical:
            return written if written is not None else component(self.own) + self.index.pointer.get(id(target), "")
        reached = self._enter(scope, self.index.base[id(target)])
        if self._key(reached) == self._key(self.lexical[id(target)]):
            return written if written is not None else component(self.own) + self.index.pointer[id(target)]
        key = (id(target), self._key(reached))
        name = self.copies.get(key)
        if name is None:
            if len(self.copies) >= MAX_COPIES:  # read where it stands; copy_root says so
                self.capped = True
                return written if written is not None else component(self.own) + self.index.pointer[id(target)]
            name = self.copies[key] = f"{self.own}.{len(self.copies) + 1}"
            self.pending.append((name, target, reached))  # copied by copy_root: no recursion
        return component(name)


def _dynamic_ref_names(index: SchemaIndex) -> frozenset[str]:
    """The anchor names the ``$dynamicRef``s of the indexed schema name (``#node`` → ``node``):
    only a ``$dynamicAnchor`` of one of these names can change what a reference reads."""
    names = set()
    for node in index.nodes:
        ref = node.get("$dynamicRef")
        if isinstance(ref, str):
            name = unquote(urldefrag(ref)[1])
            if name and not name.startswith("/"):
                names.add(name)
    return frozenset(names)


def _file_component(file: str, frag: str) -> tuple[str, str]:
    """(component name, remaining pointer) of ``file#frag`` for a schema of ``schemas/``.

    ``common.json#/$defs/phone`` becomes the component ``common.phone``; any other platform
    schema file is embedded whole as ``xrm.<file stem>``.
    """
    if file == COMMON_FILE and frag.startswith("/$defs/"):
        name, _, rest = frag[len("/$defs/"):].partition("/")
        return f"common.{name}", f"/{rest}" if rest else ""
    return f"xrm.{file.removesuffix('.json')}", frag
