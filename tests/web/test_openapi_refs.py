"""The OpenAPI document of entity types whose schemas use every way JSON Schema 2020-12 has of
referring to a subschema — ``$anchor``, embedded resources with their own ``$id`` (URLs and
URNs), ``$dynamicRef``, percent-encoded pointers, the platform's common $defs — plus keys
that only look like keywords (a property named ``$id``, a ``const`` holding ``$ref``).

The document must be valid OpenAPI 3.1, every ``$ref`` must point at a component, and each
type's component must accept and refuse exactly what the platform accepts and refuses.
"""
from __future__ import annotations

from urllib.parse import unquote

import jsonschema
import pytest
from openapi_spec_validator import validate

import xrm_schemas
from xrm_core import ValidationError, accounts
from xrm_core.plugins import hookimpl
from xrm_core.web import create_app
from xrm_core.web.openapi_refs import CAPPED, MAX_COPIES, SchemaComponents

S2020 = "https://json-schema.org/draft/2020-12/schema"

TREE = {"name": "tree", "title_field": "name", "schema": {
    "$schema": S2020, "type": "object", "required": ["name"],
    "$defs": {
        "node": {"$anchor": "node", "type": "object", "required": ["name"],
                 "properties": {"name": {"type": "string"}, "kids": {"type": "array", "items": {"$ref": "#node"}}}},
        "embedded": {"$id": "https://example.org/schemas/embedded.json", "type": "object",
                     "properties": {"v": {"$ref": "#/$defs/positive"}}, "$defs": {"positive": {"type": "integer", "minimum": 0}}},
        "urn": {"$id": "urn:example:size", "$anchor": "size", "enum": ["S", "M", "L"]},
        "with space/and slash": {"type": "string", "maxLength": 3},
    },
    "properties": {
        "name": {"type": "string"},
        "root": {"$ref": "#node"},
        "embedded": {"$ref": "https://example.org/schemas/embedded.json"},
        "positive": {"$ref": "https://example.org/schemas/embedded.json#/$defs/positive"},
        "size": {"$ref": "urn:example:size"},
        "size2": {"$ref": "urn:example:size#size"},
        "code": {"$ref": "#/$defs/with%20space~1and%20slash"},
        "phone": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/phone"},
        "$id": {"type": "integer"},
        "marker": {"const": {"$ref": "#node"}},
    }}}

# A second type with an anchor of the same name: in one document the two must not clash.
LIST = {"name": "linked", "schema": {
    "$schema": S2020, "$id": "https://example.org/linked", "$dynamicAnchor": "item", "type": "object",
    "$defs": {"node": {"$anchor": "node", "type": "integer"}},
    "properties": {"label": {"type": "string"}, "next": {"$dynamicRef": "#item"}, "n": {"$ref": "#node"}}}}


class ExoticPlugin:
    __name__ = "exotic_refs"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [TREE, LIST]


@pytest.fixture
def spec_and_platform(make_platform):
    p = make_platform(ExoticPlugin())
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(p, {"TESTING": True}).test_client()
    r = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    return r.json, p


def _refs(node):
    """Every reference of a schema, not counting data that looks like one (a ``const``)."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for k, v in node.items():
            if k not in ("const", "enum", "default", "examples"):
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_every_reference_points_at_a_component(spec_and_platform):
    spec, _ = spec_and_platform
    validate(spec)
    schemas = spec["components"]["schemas"]
    for ref in set(_refs({k: v for k, v in schemas.items()})) | set(_refs(spec["paths"])):
        assert ref.startswith("#/components/schemas/"), ref
        target = spec
        for part in unquote(ref[2:]).split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        assert isinstance(target, (dict, bool)), ref
    tree = schemas["tree.data"]
    # Identifiers of the type's own resources are gone; keys that only look like them stay.
    assert "$id" in tree["properties"] and tree["properties"]["$id"] == {"type": "integer"}
    assert tree["properties"]["marker"] == {"const": {"$ref": "#node"}}
    assert "$anchor" not in tree["$defs"]["node"] and "$id" not in tree["$defs"]["embedded"]
    assert tree["properties"]["root"] == {"$ref": "#/components/schemas/tree.data/$defs/node"}
    assert schemas["linked.data"]["properties"]["n"] == {"$ref": "#/components/schemas/linked.data/$defs/node"}
    assert schemas["linked.data"]["properties"]["next"] == {"$ref": "#/components/schemas/linked.data"}


CASES = [
    ("tree", {"name": "a", "root": {"name": "r", "kids": [{"name": "k", "kids": []}]}}),
    ("tree", {"name": "a", "root": {"name": "r", "kids": [{"name": 3}]}}),
    ("tree", {"name": "a", "root": {"kids": []}}),
    ("tree", {"name": "a", "embedded": {"v": 2}}),
    ("tree", {"name": "a", "embedded": {"v": -1}}),
    ("tree", {"name": "a", "positive": -5}),
    ("tree", {"name": "a", "size": "M", "size2": "L"}),
    ("tree", {"name": "a", "size": "XL"}),
    ("tree", {"name": "a", "size2": "XS"}),
    ("tree", {"name": "a", "code": "abc"}),
    ("tree", {"name": "a", "code": "abcd"}),
    ("tree", {"name": "a", "phone": "+49 30 1234"}),
    ("tree", {"name": "a", "phone": "call me"}),
    ("tree", {"name": "a", "$id": 4}),
    ("tree", {"name": "a", "$id": "x"}),
    ("tree", {"name": "a", "marker": {"$ref": "#node"}}),
    ("tree", {"name": "a", "marker": "x"}),
    ("linked", {"label": "a", "next": {"label": "b", "next": {"label": "c"}}, "n": 1}),
    ("linked", {"label": "a", "next": {"label": "b", "next": {"label": 3}}}),
    ("linked", {"n": "one"}),
]


@pytest.mark.parametrize("type_name, data", CASES)
def test_components_accept_what_the_platform_accepts(spec_and_platform, type_name, data):
    spec, p = spec_and_platform
    document = {"$schema": S2020, "$id": "https://api.example.org/openapi.json", "components": spec["components"]}
    validator = jsonschema.Draft202012Validator({**document, "$ref": f"#/components/schemas/{type_name}.data"},
                                                format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    documented = validator.is_valid(data)
    try:
        with p.session("admin") as s:
            s.create(type_name, data)
        accepted = True
    except ValidationError:
        accepted = False
    assert documented == accepted, (type_name, data, documented, accepted)
    # The cases hold both verdicts for each reference form, so the comparison says something.
    assert sum(1 for t, d in CASES if t == type_name) > 2


# -- copies for dynamic scopes (openapi_refs._Copier), checked without a database -------------
def _published(schema: dict, name: str = "t") -> dict:
    """The components ``name.data`` (and its copies, and any platform schema) publishes."""
    refs = SchemaComponents()
    out = {f"{name}.data": refs.rewrite(schema, f"{xrm_schemas.BASE_URI}{name}.type.json", f"{name}.data")}
    out.update(refs.platform_components())
    out.update(refs.scoped)
    return out


def _agree(schema: dict, components: dict, cases: list, name: str = "t") -> None:
    """Each case's verdict on the document's component is the schema's own, and the cases hold both."""
    own = jsonschema.Draft202012Validator(schema)
    documented = jsonschema.Draft202012Validator(
        {"$schema": S2020, "components": {"schemas": components}, "$ref": f"#/components/schemas/{name}.data"})
    for data in cases:
        assert documented.is_valid(data) == own.is_valid(data), data
    assert {own.is_valid(d) for d in cases} == {True, False}


# rest10's valve chain: one generic resource reached in two dynamic scopes.
VALVES = {
    "$schema": S2020, "type": "object",
    "$defs": {
        "strict": {"$id": "https://water.example/strict-valve", "$dynamicAnchor": "valve", "$ref": "valve",
                   "required": ["id"]},
        "valve": {"$id": "https://water.example/valve", "$dynamicAnchor": "valve", "type": "object",
                  "properties": {"id": {"type": "string"}, "next": {"$dynamicRef": "#valve"}}}},
    "properties": {"audited": {"$ref": "https://water.example/strict-valve"},
                   "sketch": {"$ref": "https://water.example/valve"}}}
VALVE_CASES = [{"audited": {"id": "a", "next": {"id": "b"}}}, {"audited": {"id": "a", "next": {"next": {}}}},
               {"sketch": {"next": {"next": {}}}}, {"sketch": {"next": {"id": 1}}}, {"audited": {"next": {"id": "b"}}}]

# rest10's network node: a tree through $dynamicRef across an embedded resource.
NODES = {
    "$schema": S2020, "$id": "https://water.example/node", "$dynamicAnchor": "node", "$ref": "tree",
    "$defs": {"tree": {"$id": "https://water.example/tree", "$dynamicAnchor": "node", "type": "object",
                       "properties": {"children": {"type": "array", "items": {"$dynamicRef": "#node"}}}}},
    "type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
NODE_CASES = [{"name": "x", "children": [{"name": "y", "children": []}]}, {"name": "x", "children": [{"kind": 1}]},
              {"children": []}, {"name": "x", "children": [{"name": "y", "children": [{}]}]}]


def test_copies_for_dynamic_scopes_read_as_the_validator_does():
    valves = _published(VALVES)
    assert set(valves) == {"t.data", "t.data.1"}  # the generic valve as the strict one reaches it
    assert valves["t.data"]["$defs"]["strict"]["$ref"] == "#/components/schemas/t.data.1"
    assert valves["t.data.1"]["properties"]["next"] == {"$ref": "#/components/schemas/t.data/$defs/strict"}
    _agree(VALVES, valves, VALVE_CASES)
    nodes = _published(NODES)
    assert set(nodes) == {"t.data"}  # the tree's children are the node: no copy needed
    children = nodes["t.data"]["$defs"]["tree"]["properties"]["children"]
    assert children["items"] == {"$ref": "#/components/schemas/t.data"}
    _agree(NODES, nodes, NODE_CASES)


def test_an_anchor_no_dynamic_ref_names_makes_no_copy():
    """``audited`` passes through a resource declaring a dynamic anchor no ``$dynamicRef``
    names: the strict valve reads there as anywhere, so it is not copied again."""
    schema = {**VALVES, "$defs": {**VALVES["$defs"], "audit": {
        "$id": "https://water.example/audit", "$dynamicAnchor": "unused", "$ref": "strict-valve"}},
        "properties": {**VALVES["properties"], "audited": {"$ref": "https://water.example/audit"}}}
    published = _published(schema)
    assert set(published) == {"t.data", "t.data.1"}
    _agree(schema, published, VALVE_CASES)


def test_past_the_copy_cap_references_read_where_they_stand_and_the_component_says_so():
    """Each of 300 resources reached in a new dynamic scope: 200 copies, then references to
    the subschema as it stands, said in the type's description; no RecursionError."""
    n = 300
    defs = {f"X{i}": {"$id": f"https://evil.example/X{i}", "$dynamicAnchor": f"x{i}", "$ref": f"X{i + 1}",
                      "properties": {"p": {"$dynamicRef": f"#x{i}"}}} for i in range(n)}
    defs[f"X{n}"] = {"$id": f"https://evil.example/X{n}", "type": "object"}
    schema = {"$schema": S2020, "description": "Deep.", "type": "object", "$defs": defs,
              "properties": {"f": {"$ref": "https://evil.example/X0"}}}
    published = _published(schema)
    assert len(published) == 1 + MAX_COPIES
    assert published["t.data"]["description"] == f"Deep.\n\n{CAPPED}"
    last = published[f"t.data.{MAX_COPIES}"]
    assert last["$ref"].startswith("#/components/schemas/t.data/$defs/X")  # past the cap: where it stands
    assert "description" not in _published(VALVES)["t.data"]  # under the cap nothing is said
