"""Where things are in a JSON Schema document, so references resolve as the validator
resolves them.

For each subschema the index knows its base URI (set by the ``$id``s around it) and its
JSON pointer from the document; it also knows the embedded resources by URI and the
``$anchor``/``$dynamicAnchor``s. ``#/$defs/x`` inside a subschema with its own ``$id`` then
points into that subschema, ``"$ref": "item"`` finds ``{"$id": "item"}``, and ``#name`` an
anchor. Used for field lookup (entity_types) and for the OpenAPI components (web.openapi_refs).
"""
from __future__ import annotations

from urllib.parse import quote, urldefrag, urljoin, urlsplit, urlunsplit

from .validation import SCHEMA_LISTS, SCHEMA_MAPS, SCHEMA_ONE


def join(base: str, ref: str) -> str:
    """``ref`` resolved against ``base``, its scheme and host in lower case."""
    # urljoin() drops the base of a fragment-only reference it cannot join to (a "urn:" $id).
    return base.partition("#")[0] + ref if ref.startswith("#") else normal_uri(urljoin(base, ref))


def normal_uri(uri: str) -> str:
    """``uri`` with its scheme and host in lower case and its path without ``.`` and ``..``
    segments (RFC 3986 §6.2.2), as the validator compares URIs: ``HTTPS://Example.com/a/../b``
    names ``https://example.com/b``. (urljoin() leaves an absolute reference as written.)"""
    try:
        parts = urlsplit(uri)
    except ValueError:  # an invalid IPv6 host: left to the validator to refuse
        return uri
    user, at, host = parts.netloc.rpartition("@")
    path = _without_dot_segments(parts.path) if parts.netloc or parts.path.startswith("/") else parts.path
    if uri.startswith(parts.scheme) and host == host.lower() and path == parts.path:
        return uri  # urlunsplit() would also drop an empty query ("a.json?")
    # (urlsplit() gives the scheme in lower case already)
    return urlunsplit(parts._replace(netloc=user + at + host.lower(), path=path))


def _without_dot_segments(path: str) -> str:
    """``path`` with its ``.`` and ``..`` segments applied (RFC 3986 §5.2.4)."""
    if "." not in path:
        return path
    segments = path.split("/")
    out: list[str] = []
    for i, seg in enumerate(segments):
        last = i == len(segments) - 1
        if seg in (".", ".."):
            if seg == ".." and (len(out) > 1 or (out and out[0] != "")):
                out.pop()
            if last:
                out.append("")
        else:
            out.append(seg)
    return "/".join(out)


def segment(key: str) -> str:
    """``key`` as one segment of a JSON pointer written in a URI fragment (RFC 6901 §6)."""
    return quote(key.replace("~", "~0").replace("/", "~1"), safe="!$&'()*+,;=:@~")


def subschemas(node: dict):
    """``(key, name or index or None, subschema)`` of each subschema directly under ``node``:
    only keywords that hold subschemas (a property may be named ``$id``; a ``const`` may hold
    ``$ref``)."""
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


class SchemaIndex:
    """The index of one or more schema documents (add each with its base URI)."""

    def __init__(self):
        self.base: dict[int, str] = {}
        self.pointer: dict[int, str] = {}  # JSON pointer from its document, URI-fragment form
        self.resources: dict[str, dict] = {}
        self.anchors: dict[tuple[str, str, bool], dict] = {}  # (base, name, dynamic) -> node
        self.nodes: list = []  # holds every indexed node, so no id() is reused meanwhile

    def add(self, node, base: str, resource: bool = True, at: str = "") -> None:
        """Index ``node`` (read with base URI ``base``) and its subschemas. ``resource``: the
        node is the resource at ``base`` (false for a part of a document, such as one $def)."""
        if not isinstance(node, dict):
            return
        own_id = node.get("$id")
        if isinstance(own_id, str):
            base, resource = urldefrag(join(base, own_id))[0], True
        if resource:
            self.resources.setdefault(base, node)
        self.base[id(node)] = base
        self.pointer[id(node)] = at
        self.nodes.append(node)
        for key, dynamic in (("$anchor", False), ("$dynamicAnchor", True)):
            if isinstance(node.get(key), str):
                self.anchors.setdefault((base, node[key], dynamic), node)
        for key, name, sub in subschemas(node):
            self.add(sub, base, False, f"{at}/{segment(key)}" + ("" if name is None else f"/{segment(name)}"))

    def find(self, url: str, fragment: str):
        """What ``url#fragment`` (the fragment percent-decoded) points at, or None."""
        doc = self.resources.get(url)
        if doc is None or not fragment:
            return doc
        if not fragment.startswith("/"):
            return self.anchors.get((url, fragment, False)) or self.anchors.get((url, fragment, True))
        target = doc
        for part in fragment.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                return None
        return target

    def dynamic_anchors(self, name: str) -> list[dict]:
        """Every subschema declaring ``$dynamicAnchor: name``, outermost first."""
        return sorted((n for (_, anchor, dynamic), n in self.anchors.items() if dynamic and anchor == name),
                      key=lambda n: len(self.pointer[id(n)]))
