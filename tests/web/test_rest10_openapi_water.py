"""REST 10 audit: does /api/v1/openapi.json tell the truth about entity types that use the
harder parts of JSON Schema 2020-12?

A water utility's admin adds, with ``xrm types add`` and no plugin, five types the project has
never seen: ``meter`` ($defs, $ref to common.json's address and money, patternProperties,
prefixItems, const, dependentRequired, if/then/else, nullable types, formats),
``service_account`` (allOf with unevaluatedProperties: false, if/then/else, oneOf of objects),
``network_node`` (a tree through $dynamicRef/$dynamicAnchor across an embedded resource),
``valve_chain`` (one resource reached in two dynamic scopes) and ``odd_names`` (property and
$defs names such as ``a-b``, ``ünïcode``, ``$x``, ``a.b``); and ``common`` and ``xrm``, named like
the platform's components. For each, the document must be valid OpenAPI 3.1 whose every
``$ref`` resolves inside it, its request
schema must accept what the API accepts and refuse what it refuses, and the real answers
(201, GET by id, a list page, the 422 problem) must match the documented schemas.
"""
from __future__ import annotations

import json
import re
from urllib.parse import quote, unquote

import jsonschema
import pytest
from openapi_spec_validator import validate

from xrm_core import accounts
from xrm_core.web import create_app

S2020 = "https://json-schema.org/draft/2020-12/schema"
COMMON = "https://xrm.dev/schemas/common.json#/$defs/"

METER = {"name": "meter", "label": "Water meter", "title_field": "serial", "indexes": ["status"], "unique": ["serial"],
         "schema": {
             "$schema": S2020, "type": "object",
             "$defs": {
                 "reading": {"type": "object", "required": ["at", "m3"], "additionalProperties": False,
                             "properties": {"at": {"type": "string", "format": "date-time"},
                                            "m3": {"type": "number", "minimum": 0}}},
                 "serial": {"type": "string", "pattern": "^WM-[0-9]{6}$"},
             },
             "properties": {
                 "serial": {"$ref": "#/$defs/serial"},
                 "status": {"enum": ["active", "removed", "faulty"]},
                 "address": {"$ref": COMMON + "address"},
                 "deposit": {"$ref": COMMON + "money"},
                 "installed_on": {"type": "string", "format": "date"},
                 "removed_on": {"type": "string", "format": "date"},
                 "removal_reason": {"type": "string", "minLength": 3},
                 "last_reading": {"$ref": "#/$defs/reading"},
                 "readings": {"type": "array", "items": {"$ref": "#/$defs/reading"}, "maxItems": 12},
                 "owner_email": {"type": ["string", "null"], "format": "email"},
                 "datasheet": {"type": "string", "format": "uri"},
                 "device_id": {"type": "string", "format": "uuid"},
                 "medium": {"const": "water"},
                 "location": {"type": "array", "minItems": 2, "items": False,
                              "prefixItems": [{"type": "number", "minimum": -90, "maximum": 90},
                                              {"type": "number", "minimum": -180, "maximum": 180}]},
                 "labels": {"type": "object", "patternProperties": {"^[a-z]{2}$": {"type": "string"}},
                            "additionalProperties": False},
             },
             "required": ["serial", "status"],
             "dependentRequired": {"removed_on": ["removal_reason"]},
             # a removed meter says when; any other has no removal date
             "if": {"properties": {"status": {"const": "removed"}}, "required": ["status"]},
             "then": {"required": ["removed_on"]},
             "else": {"not": {"required": ["removed_on"]}},
             "additionalProperties": False,
         }}

SERVICE_ACCOUNT = {
    "name": "service_account", "label": "Service account", "title_field": "holder",
    "schema": {
        "$schema": S2020, "type": "object",
        "allOf": [
            {"properties": {"holder": {"type": "string", "minLength": 1}, "email": {"$ref": COMMON + "email"}},
             "required": ["holder"]},
            {"properties": {"tariff": {"oneOf": [
                {"type": "object", "properties": {"flat": {"$ref": COMMON + "money"}}, "required": ["flat"],
                 "additionalProperties": False},
                {"type": "object", "properties": {"per_m3": {"type": "number", "exclusiveMinimum": 0}},
                 "required": ["per_m3"], "additionalProperties": False}]}}},
        ],
        # a business has a VAT number; a household may give a birth date
        "if": {"properties": {"kind": {"const": "business"}}, "required": ["kind"]},
        "then": {"properties": {"vat_no": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{8,12}$"}}, "required": ["vat_no"]},
        "else": {"properties": {"birth_date": {"type": "string", "format": "date"}}},
        "properties": {"kind": {"enum": ["household", "business"]},
                       "opened_at": {"type": "string", "format": "date-time"},
                       "note": {"type": ["string", "null"], "maxLength": 200}},
        "required": ["kind"],
        "unevaluatedProperties": False,
    }}

# The strict tree of JSON Schema 2020-12 §8.2.3.2: the generic tree is an embedded resource
# whose children follow whatever schema the validation started from ($dynamicRef).
NETWORK_NODE = {
    "name": "network_node", "label": "Network node", "title_field": "name",
    "schema": {
        "$schema": S2020, "$id": "https://water.example/schemas/node", "$dynamicAnchor": "node",
        "$ref": "tree",
        "$defs": {"tree": {"$id": "https://water.example/schemas/tree", "$dynamicAnchor": "node", "type": "object",
                           "properties": {"children": {"type": "array", "items": {"$dynamicRef": "#node"}}}}},
        "type": "object",
        "properties": {"name": {"type": "string"}, "pipe_mm": {"type": ["integer", "null"], "minimum": 10}},
        "required": ["name"],
        "unevaluatedProperties": False,
    }}

# One generic resource reached in two dynamic scopes: through ``strict`` (its $dynamicRef then
# means strict: every later valve needs an id) and directly (it means the generic valve). A
# single pointer per $dynamicRef made the document refuse a loose chain the API stores.
VALVE_CHAIN = {
    "name": "valve_chain", "label": "Valve chain",
    "schema": {
        "$schema": S2020, "type": "object",
        "$defs": {
            "strict": {"$id": "https://water.example/schemas/strict-valve", "$dynamicAnchor": "valve",
                       "$ref": "valve", "required": ["id"]},
            "valve": {"$id": "https://water.example/schemas/valve", "$dynamicAnchor": "valve", "type": "object",
                      "properties": {"id": {"type": "string"}, "next": {"$dynamicRef": "#valve"}}},
        },
        "properties": {"audited": {"$ref": "https://water.example/schemas/strict-valve"},
                       "sketch": {"$ref": "https://water.example/schemas/valve"}},
    }}

ODD_NAMES = {
    "name": "odd_names", "label": "Odd names",
    "schema": {
        "$schema": S2020, "type": "object",
        "$defs": {"ünï déf": {"type": "string", "maxLength": 3}, "a/b~c": {"type": "integer"}, "$x": {"type": "boolean"}},
        "properties": {
            "a-b": {"type": "string"}, "ünïcode": {"$ref": "#/$defs/%C3%BCn%C3%AF%20d%C3%A9f"},
            "$x": {"$ref": "#/$defs/$x"}, "a.b": {"$ref": "#/$defs/a~1b~0c"}, "with space": {"type": "number"},
            "$ref": {"type": "string"},
        },
        "required": ["a-b"],
        "additionalProperties": False,
    }}

# Types named like the components the document makes for the platform's own schemas.
COMMON_TYPE = {"name": "common", "schema": {"type": "object", "properties": {"money": {"$ref": COMMON + "money"}}}}
XRM_TYPE = {"name": "xrm", "schema": {"type": "object", "properties": {"email": {"$ref": COMMON + "email"}}}}

TYPES = [METER, SERVICE_ACCOUNT, NETWORK_NODE, VALVE_CHAIN, ODD_NAMES, COMMON_TYPE, XRM_TYPE]

M = {"serial": "WM-000001", "status": "active"}
A = {"kind": "household", "holder": "Ana"}

#: type -> [(accepted?, data)]: both verdicts for every feature the type uses.
CASES = {
    "meter": [
        (True, M),
        (True, {"serial": "WM-000002", "status": "active", "address": {"city": "Graz", "country": "AT"},
                "deposit": {"amount": 50, "currency": "EUR"}, "installed_on": "2024-02-29",
                "last_reading": {"at": "2026-01-01T10:00:00+01:00", "m3": 12.5}, "owner_email": None,
                "device_id": "123e4567-e89b-12d3-a456-426614174000", "medium": "water", "location": [47.07, 15.44],
                "labels": {"de": "Zähler"}, "datasheet": "https://example.org/ds.pdf",
                "readings": [{"at": "2026-01-01T00:00:00Z", "m3": 0}]}),
        (True, {"serial": "WM-000003", "status": "removed", "removed_on": "2026-01-02", "removal_reason": "broken"}),
        (True, {**M, "serial": "WM-000004", "owner_email": "a@example.org", "location": [1, 2.5]}),
        (False, {**M, "serial": "WM-1"}),                                          # $ref to a $def's pattern
        (False, {**M, "deposit": {"amount": 50}}),                                  # common money: currency
        (False, {**M, "deposit": {"amount": 50, "currency": "EURO"}}),
        (False, {**M, "address": {"country": "at"}}),                               # common address → country
        (False, {**M, "location": [47.07, 15.44, 3]}),                              # items: false after prefixItems
        (False, {**M, "location": [147.07, 15.44]}),
        (False, {**M, "location": [47.07]}),
        (False, {**M, "labels": {"deu": "x"}}),                                     # patternProperties
        (False, {**M, "medium": "gas"}),                                            # const
        (False, {"serial": "WM-000011", "status": "removed"}),                      # if/then
        (False, {**M, "removed_on": "2026-01-02", "removal_reason": "old age"}),    # else
        (False, {"serial": "WM-000013", "status": "removed", "removed_on": "2026-01-02"}),  # dependentRequired
        (False, {**M, "owner_email": "nobody"}),                                    # format email, nullable
        (False, {**M, "owner_email": 5}),
        (False, {**M, "device_id": "not-a-uuid"}),
        (False, {**M, "installed_on": "2024-02-30"}),
        (False, {**M, "last_reading": {"at": "yesterday", "m3": 1}}),
        (False, {**M, "readings": [{"at": "2026-01-01T00:00:00Z"}]}),
        (False, {**M, "extra": 1}),
    ],
    "service_account": [
        (True, A),
        (True, {"kind": "business", "holder": "Acme", "vat_no": "AT12345678", "tariff": {"per_m3": 1.5}, "note": None}),
        (True, {**A, "birth_date": "1980-05-01", "tariff": {"flat": {"amount": 20, "currency": "EUR"}},
                "email": "ana@example.org", "opened_at": "2026-01-01T00:00:00Z", "note": "gate code 12"}),
        (False, {**A, "vat_no": "AT12345678"}),             # evaluated by the untaken then: unevaluated
        (False, {"kind": "business", "holder": "Acme"}),    # then: vat_no required
        (False, {"kind": "business", "holder": "Acme", "vat_no": "AT12345678", "birth_date": "1980-05-01"}),
        (False, {**A, "tariff": {"per_m3": 1.5, "flat": {"amount": 1, "currency": "EUR"}}}),  # oneOf: neither
        (False, {**A, "tariff": {}}),
        (False, {**A, "tariff": {"per_m3": 0}}),
        (False, {**A, "surprise": True}),                   # unevaluatedProperties through allOf
        (False, {"kind": "household"}),                     # allOf's required
        (False, {**A, "email": "ana"}),
        (False, {**A, "note": 3}),
        (False, {**A, "opened_at": "2026-13-01T00:00:00Z"}),
    ],
    "network_node": [
        (True, {"name": "root"}),
        (True, {"name": "r", "pipe_mm": None, "children": [{"name": "a", "pipe_mm": 50, "children": [{"name": "b"}]}]}),
        (False, {"name": "r", "children": [{"pipe_mm": 50}]}),            # a child is a node: name required
        (False, {"name": "r", "children": [{"name": "a", "colour": "red"}]}),  # and strict
        (False, {"name": "r", "children": [{"name": "a", "children": [{"name": "b", "pipe_mm": 5}]}]}),
        (False, {"name": "r", "pipe_mm": 12.5}),
        (False, {"name": "r", "other": 1}),
    ],
    "valve_chain": [
        (True, {"audited": {"id": "v1", "next": {"id": "v2"}}}),
        (True, {"sketch": {"id": "v1", "next": {}}}),                    # was refused by the document
        (True, {"sketch": {"next": {"next": {}}}, "audited": {"id": "v1"}}),
        (False, {"audited": {"id": "v1", "next": {}}}),                  # strict all along the chain
        (False, {"audited": {"id": "v1", "next": {"id": "v2", "next": {"id": 3}}}}),
        (False, {"sketch": {"next": {"id": 3}}}),
    ],
    "odd_names": [
        (True, {"a-b": "x"}),
        (True, {"a-b": "x", "ünïcode": "abc", "$x": True, "a.b": 3, "with space": 1.5, "$ref": "y"}),
        (False, {"a-b": "x", "ünïcode": "abcd"}),
        (False, {"a-b": "x", "$x": "yes"}),
        (False, {"a-b": "x", "a.b": "3"}),
        (False, {"a-b": "x", "$ref": 1}),
        (False, {"ünïcode": "a"}),
    ],
    "common": [(True, {"money": {"amount": 1, "currency": "EUR"}}), (False, {"money": {"amount": 1}})],
    "xrm": [(True, {"email": "a@example.org"}), (False, {"email": "a"})],
}

#: OpenAPI 3.1 §4.8.7.1: the names of components.
COMPONENT_NAME = re.compile(r"^[a-zA-Z0-9.\-_]+$")


@pytest.fixture
def water(make_platform, cli, tmp_path):
    """(client, bearer headers, spec): the types added as an admin adds them, no plugin."""
    platform = make_platform()
    for t in TYPES:
        path = tmp_path / f"{t['name']}.json"
        path.write_text(json.dumps(t, ensure_ascii=False), encoding="utf-8")
        added = cli("types", "add", path)
        assert added.exit_code == 0, added.stderr
    with platform.connection() as conn:
        headers = {"Authorization": f"Bearer {accounts.create_token(conn, 'admin')}"}
    client = create_app(platform, {"TESTING": True}).test_client()
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200
    return client, headers, r.json


def _refs(node):
    """Every reference of the document, not counting data that looks like one (a ``const``)."""
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for k, v in node.items():
            if k not in ("const", "enum", "default", "examples", "example"):
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def _validator(spec, schema):
    """A 2020-12 validator of ``schema`` (a part of ``spec``) whose references resolve in ``spec``;
    formats asserted, as the platform asserts them."""
    return jsonschema.Draft202012Validator({"$schema": S2020, "components": spec["components"], **schema},
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def _schema(operation, status, media="application/json"):
    return operation["responses"][status]["content"][media]["schema"]


def test_the_document_is_valid_and_every_reference_resolves_inside_it(water):
    _client, _headers, spec = water
    validate(spec)
    schemas = spec["components"]["schemas"]
    for ref in set(_refs(spec)):
        assert ref.startswith("#/components/schemas/"), ref
        target = spec
        for part in ref[2:].split("/"):
            target = target[unquote(part).replace("~1", "/").replace("~0", "~")]
        assert isinstance(target, (dict, bool)), ref
    # Component names are valid, and no type's component took the place of a platform one.
    assert all(COMPONENT_NAME.match(name) for name in schemas), [n for n in schemas if not COMPONENT_NAME.match(n)]
    for t in TYPES:
        assert {f"{t['name']}.data", f"{t['name']}.record"} <= set(schemas)
    assert schemas["common.money"]["required"] == ["amount", "currency"]
    assert schemas["common.data"]["properties"]["money"] == {"$ref": "#/components/schemas/common.money"}
    assert schemas["xrm.data"]["properties"]["email"] == {"$ref": "#/components/schemas/common.email"}
    # The tree's children point at the type's own component (the outermost dynamic anchor).
    tree = schemas["network_node.data"]
    assert tree["$defs"]["tree"]["properties"]["children"]["items"] == {"$ref": "#/components/schemas/network_node.data"}
    assert "$dynamicAnchor" not in tree and "$id" not in tree["$defs"]["tree"]
    # The generic valve as the strict one reaches it is a component of its own.
    chain = schemas["valve_chain.data"]
    assert chain["properties"]["sketch"] == {"$ref": "#/components/schemas/valve_chain.data/$defs/valve"}
    assert chain["$defs"]["valve"]["properties"]["next"] == {"$ref": "#/components/schemas/valve_chain.data/$defs/valve"}
    assert chain["$defs"]["strict"]["$ref"] == "#/components/schemas/valve_chain.data.1"
    assert schemas["valve_chain.data.1"]["properties"]["next"] == {
        "$ref": "#/components/schemas/valve_chain.data/$defs/strict"}
    # Names that only look like keywords stay names.
    odd = schemas["odd_names.data"]
    assert set(odd["properties"]) == {"a-b", "ünïcode", "$x", "a.b", "with space", "$ref"}
    assert odd["properties"]["$ref"] == {"type": "string"}
    ids = [op["operationId"] for item in spec["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_a_type_name_the_document_could_not_carry_is_refused_with_a_pointer(water, cli, tmp_path):
    client, headers, _spec = water
    for name in ("a-b", "ünïcode", "$x", "a.b", "Meter"):
        path = tmp_path / "bad.json"
        path.write_text(json.dumps({"name": name, "schema": {"type": "object"}}), encoding="utf-8")
        refused = cli("types", "add", path)
        assert refused.exit_code != 0 and "/name" in refused.stderr and "Traceback" not in refused.stderr, name
    listed = [t["name"] for t in client.get("/api/v1/types", headers=headers).json]
    assert sorted(listed) == sorted(t["name"] for t in TYPES)


@pytest.mark.parametrize("type_name", list(CASES))
def test_the_documented_schemas_accept_and_refuse_what_the_api_does(water, type_name):
    client, headers, spec = water
    create = spec["paths"][f"/api/v1/records/{type_name}"]["post"]
    request = _validator(spec, create["requestBody"]["content"]["application/json"]["schema"])
    created = _validator(spec, _schema(create, "201"))
    problem = _validator(spec, _schema(create, "422", "application/problem+json"))
    get = _validator(spec, _schema(spec["paths"][f"/api/v1/records/{type_name}/{{id}}"]["get"], "200"))
    page = _validator(spec, _schema(spec["paths"][f"/api/v1/records/{type_name}"]["get"], "200"))
    cases = CASES[type_name]
    assert {ok for ok, _ in cases} == {True, False}  # both verdicts, so the comparison says something
    for ok, data in cases:
        r = client.post(f"/api/v1/records/{type_name}", json={"data": data}, headers=headers)
        assert r.status_code == (201 if ok else 422), (data, r.get_data(as_text=True))
        assert request.is_valid({"data": data}) == ok, (type_name, data)
        if ok:
            created.validate(r.json)
            got = client.get(f"/api/v1/records/{type_name}/{r.json['id']}", headers=headers)
            assert got.status_code == 200 and got.json["data"] == data
            get.validate(got.json)
        else:
            problem.validate(r.json)
            assert all(e["pointer"].startswith("/data") for e in r.json["errors"]), r.json
    listed = client.get(f"/api/v1/records/{type_name}?limit=1", headers=headers)
    assert listed.status_code == 200 and len(listed.json["items"]) == 1
    assert listed.json["next"] is not None or sum(ok for ok, _ in cases) == 1
    page.validate(listed.json)


def test_what_no_schema_keyword_says_is_in_the_request_description(water):
    """A date-time must fall within the years 0001–9999 in UTC (the platform orders instants),
    and formats are asserted, though OpenAPI 3.1 reads ``format`` as an annotation: a client
    reading the document alone sent data the schema accepts and got a 422."""
    client, headers, spec = water
    create = spec["paths"]["/api/v1/records/meter"]["post"]
    request = _validator(spec, create["requestBody"]["content"]["application/json"]["schema"])
    edge = {**M, "last_reading": {"at": "0001-01-01T00:30:00+01:00", "m3": 1}}
    assert request.is_valid({"data": edge})
    r = client.post("/api/v1/records/meter", json={"data": edge}, headers=headers)
    assert r.status_code == 422 and r.json["errors"][0]["pointer"] == "/data/last_reading/at"
    for operation in (create, spec["paths"]["/api/v1/records/meter/{id}"]["patch"]):
        said = operation["requestBody"]["description"]
        assert "years 0001–9999 in UTC" in said and "`format`" in said and "asserted" in said


def test_the_filter_description_says_which_property_names_a_filter_takes(water):
    """``$x`` and a property named ``a.b`` cannot be filtered (a dot separates nested fields):
    the 400 says so, and now the document does too."""
    client, headers, spec = water
    for field in ("$x", "a.b"):
        r = client.get(f"/api/v1/records/odd_names?filter[{quote(field)}]=1", headers=headers)
        assert r.status_code == 400 and r.json["errors"][0]["pointer"] == f"/query/filter[{field}]"
    client.post("/api/v1/records/odd_names", json={"data": {"a-b": "x", "ünïcode": "abc", "with space": 1.5}},
                headers=headers)
    for field, value in (("a-b", "x"), ("ünïcode", "abc"), ("with space", "1.5")):
        r = client.get(f"/api/v1/records/odd_names?filter[{quote(field)}]={quote(value)}", headers=headers)
        assert r.status_code == 200 and r.json["items"], field
    params = {p["name"]: p for p in spec["paths"]["/api/v1/records/odd_names"]["get"]["parameters"]}
    for name in ("filter", "sort"):
        assert "separated by dots" in params[name]["description"] and "`$x`" in params[name]["description"]
