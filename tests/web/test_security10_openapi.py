"""Security review 10, ``/openapi.json``: today's dynamic-scope republishing
(``web/openapi_refs._Copier``) against hostile but valid entity schemas. The document is
public (no token), so what one admin-defined (or plugin-declared) schema costs there,
anyone could make the server pay, again and again.

Pinned: a ``$dynamicRef`` cycle (a tree through a dynamic anchor, two scopes) publishes a
bounded number of copies and terminates. Fixed: the copies were keyed by every dynamic
anchor in force, so a chain of resources each reachable two ways made 2^n copies (n=14:
131k components, 9 MB, 5 s and ~250 MB per request), and a chain of a few hundred
resources each entering a new anchor recursed past Python's limit (500 for everyone). Now
only anchors some ``$dynamicRef`` names count, a type gets at most ``MAX_COPIES`` copies
(past that, references read where they stand and the type's component says so), copies
are made from a work list, and the document is built once per set of type versions.
"""
from __future__ import annotations

import time

import pytest
from openapi_spec_validator import validate

from xrm_core import entity_types
from xrm_core.web import create_app
from xrm_core.web import openapi_refs

S2020 = "https://json-schema.org/draft/2020-12/schema"
BASE = "https://evil.example/s/"


def _add(p, name: str, schema: dict) -> None:
    with p.connection() as conn:
        entity_types.add(conn, {"name": name, "schema": {"$schema": S2020, **schema}})


def _document(p):
    client = create_app(p, {"TESTING": True}).test_client()
    started = time.perf_counter()
    r = client.get("/api/v1/openapi.json")  # no token: public
    return r, time.perf_counter() - started


def _copies(spec: dict, name: str) -> list[str]:
    return [k for k in spec["components"]["schemas"] if k.startswith(f"{name}.data.")]


def fan(n: int) -> dict:
    """X0 → (a0 | b0) → X1 → (a1 | b1) → … → Xn: ``ai`` and ``bi`` declare the same dynamic
    anchor, so Xi+1 is reached in 2^(i+1) dynamic scopes. No ``$dynamicRef`` at all: the
    anchors change nothing any reference resolves to. Valid, and accepted by the validator."""
    defs = {}
    for i in range(n):
        defs[f"X{i}"] = {"$id": BASE + f"X{i}", "anyOf": [{"$ref": f"a{i}"}, {"$ref": f"b{i}"}]}
        defs[f"a{i}"] = {"$id": BASE + f"a{i}", "$dynamicAnchor": f"x{i}", "$ref": f"X{i + 1}"}
        defs[f"b{i}"] = {"$id": BASE + f"b{i}", "$dynamicAnchor": f"x{i}", "$ref": f"X{i + 1}"}
    defs[f"X{n}"] = {"$id": BASE + f"X{n}", "type": "object"}
    return {"type": "object", "$defs": defs, "properties": {"f": {"$ref": BASE + "X0"}}}


def chain(n: int) -> dict:
    """X0 → X1 → … → Xn, each a resource declaring its own dynamic anchor."""
    defs = {f"X{i}": {"$id": BASE + f"X{i}", "$dynamicAnchor": f"x{i}", "$ref": f"X{i + 1}"} for i in range(n)}
    defs[f"X{n}"] = {"$id": BASE + f"X{n}", "type": "object"}
    return {"type": "object", "$defs": defs, "properties": {"f": {"$ref": BASE + "X0"}}}


def fan_dynamic(n: int) -> dict:
    """:func:`fan` where each ``ai``/``bi`` also has a ``$dynamicRef`` to its anchor: every
    anchor is named, so the 2^n scopes all count and only the cap bounds the copies."""
    schema = fan(n)
    for i in range(n):
        for r in (f"a{i}", f"b{i}"):
            schema["$defs"][r]["properties"] = {"p": {"$dynamicRef": f"#x{i}"}}
    return schema


def chain_dynamic(n: int) -> dict:
    """:func:`chain` where each resource also has a ``$dynamicRef`` to its anchor: each Xi+1
    is reached in a new scope, so copies (and, by recursion, stack) grow with n."""
    schema = chain(n)
    for i in range(n):
        schema["$defs"][f"X{i}"]["properties"] = {"p": {"$dynamicRef": f"#x{i}"}}
    return schema


#: Copies one type may add to the document: far more than any real schema needs (the water
#: utility's valve chain needs 1), far fewer than an attacker's 2^n.
MAX_COPIES = 200


# -- pinned -----------------------------------------------------------------------------------
def test_a_dynamic_ref_cycle_in_two_scopes_publishes_few_copies_and_terminates(platform):
    _add(platform, "tree", {
        "$id": "https://evil.example/tree-root", "$dynamicAnchor": "node", "$ref": "loose",
        "$defs": {
            "loose": {"$id": "https://evil.example/loose", "$dynamicAnchor": "node", "type": "object",
                      "properties": {"kids": {"type": "array", "items": {"$dynamicRef": "#node"}},
                                     "strict": {"$ref": "strict"}}},
            "strict": {"$id": "https://evil.example/strict", "$dynamicAnchor": "node", "$ref": "loose",
                       "required": ["id"]}},
        "type": "object"})
    r, _seconds = _document(platform)
    assert r.status_code == 200
    validate(r.json)
    assert len(_copies(r.json, "tree")) <= 4


def test_a_small_fan_of_scopes_still_publishes_a_valid_document(platform):
    _add(platform, "fan4", fan(4))
    r, _seconds = _document(platform)
    assert r.status_code == 200
    validate(r.json)


# -- fixed -------------------------------------------------------------------------------------
def test_copies_for_dynamic_scopes_are_bounded_whatever_the_schema(platform):
    _add(platform, "fan", fan(10))
    r, seconds = _document(platform)
    assert r.status_code == 200
    copies = _copies(r.json, "fan")
    assert len(copies) <= MAX_COPIES, f"{len(copies)} copies, {len(r.get_data())} bytes, {seconds:.2f} s"


def test_a_long_chain_of_dynamic_scopes_does_not_break_the_document(platform):
    _add(platform, "chain", chain(400))
    r, _seconds = _document(platform)
    assert r.status_code == 200
    assert len(_copies(r.json, "chain")) <= MAX_COPIES


def test_anchors_no_dynamic_ref_names_make_no_copies(platform):
    """The fan and the chain have no ``$dynamicRef``: their anchors change no reading."""
    _add(platform, "fan", fan(14))
    _add(platform, "chain", chain(400))
    r, _seconds = _document(platform)
    assert r.status_code == 200
    assert _copies(r.json, "fan") == [] and _copies(r.json, "chain") == []


@pytest.mark.parametrize("name, schema", [("fandyn", fan_dynamic(12)), ("chaindyn", chain_dynamic(400))])
def test_copies_named_by_dynamic_refs_stop_at_the_cap_and_the_document_says_so(platform, name, schema):
    _add(platform, name, schema)
    r, _seconds = _document(platform)
    assert r.status_code == 200
    validate(r.json)
    assert len(_copies(r.json, name)) == openapi_refs.MAX_COPIES <= MAX_COPIES
    assert openapi_refs.CAPPED in r.json["components"]["schemas"][f"{name}.data"]["description"]
    assert len(r.get_data()) < 2_000_000


def test_the_document_is_built_once_per_set_of_type_versions(platform, monkeypatch):
    """Built on the first request, then served as built until a type changes, is added or is
    removed (a removed type's name added again gets a new version, never an old one)."""
    from xrm_core.web import openapi
    built = []
    real = openapi._build_spec
    monkeypatch.setattr(openapi, "_build_spec", lambda s, limit: built.append(1) or real(s, limit))
    client = create_app(platform, {"TESTING": True}).test_client()

    def memo():
        r = client.get("/api/v1/openapi.json")
        assert r.status_code == 200
        return r.json["components"]["schemas"].get("memo.data")

    _add(platform, "memo", {"type": "object", "properties": {"a": {"type": "string"}}})
    assert set(memo()["properties"]) == {"a"} and set(memo()["properties"]) == {"a"}
    assert len(built) == 1
    with platform.connection() as conn:
        entity_types.update(conn, {"name": "memo", "schema": {"$schema": S2020, "type": "object", "properties": {
            "a": {"type": "string"}, "b": {"type": "integer"}}}})
    assert set(memo()["properties"]) == {"a", "b"} and len(built) == 2
    with platform.connection() as conn:
        entity_types.remove(conn, "memo")
    assert memo() is None
    _add(platform, "memo", {"type": "object", "properties": {"a": {"type": "string"}}})
    assert set(memo()["properties"]) == {"a"} and len(built) == 4
