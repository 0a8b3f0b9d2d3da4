"""The list operation's ``filter`` parameter as /api/v1/openapi.json declares it (DESIGN §5).

It was an object of strings: ``filter[status]=open`` fitted, but
``filter[referred_on][gte]=2025-01-01`` — the form DESIGN §5 gives for every comparison — did
not, so a client generated from the document could not send it and a validating proxy
refused it. Now, per entity type and per field, a condition is a string (equality) or an
object of the operators the field takes (filters.OPS), each value typed as the field reads it.
"""
from __future__ import annotations

import jsonschema
import pytest
from openapi_spec_validator import validate

from xrm_core import accounts
from xrm_core.filters import OPS
from xrm_core.plugins import hookimpl
from xrm_core.web import create_app

REFERRAL = {"name": "referral", "title_field": "code", "schema": {
    "type": "object", "required": ["code"],
    "properties": {
        "code": {"type": "string"},
        "referred_on": {"type": "string", "format": "date"},
        "seen_at": {"type": "string", "format": "date-time"},
        "beds": {"type": "integer"},
        "urgent": {"type": "boolean"},
        "ward": {"enum": ["a", "b"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "address": {"type": "object", "properties": {"city": {"type": "string"}}},
        "$odd": {"type": "string"},
    }}}

ROWS = [
    {"code": "R1", "referred_on": "2024-12-31", "seen_at": "2025-01-01T08:00:00+01:00", "beds": 1, "urgent": True,
     "ward": "a", "tags": ["x"], "address": {"city": "Oslo"}},
    {"code": "R2", "referred_on": "2025-01-01", "seen_at": "2025-01-02T08:00:00Z", "beds": 3, "urgent": False,
     "ward": "b"},
    {"code": "R3", "referred_on": "2025-03-04", "beds": 7, "urgent": True, "ward": "a",
     "address": {"city": "Bergen"}},
]


class Referrals:
    __name__ = "rest13_referrals"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [REFERRAL]


def _api(make_platform, plugin, type_name: str, rows: list[dict]):
    """A GET of /api/v1 as the admin, on a platform with ``plugin`` and ``rows`` stored."""
    platform = make_platform(plugin)
    client = create_app(platform, {"TESTING": True}).test_client()
    with platform.connection() as conn:
        token = accounts.create_token(conn, "admin")
    with platform.session("admin") as s:
        for row in rows:
            s.create(type_name, row)
    return lambda path: client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def api(make_platform):
    return _api(make_platform, Referrals(), "referral", ROWS)


def _filter_param(api, type_name: str) -> dict:
    """The list's ``filter`` parameter, its schema with the document's components beside it
    (so that its references to the shared conditions resolve)."""
    doc = api("/openapi.json").json
    (param,) = [p for p in doc["paths"][f"/api/v1/records/{type_name}"]["get"]["parameters"] if p["name"] == "filter"]
    return {**param, "schema": {**param["schema"], "components": doc["components"]}}


def _resolved(schema: dict, node: dict) -> dict:
    return schema["components"]["schemas"][node["$ref"].rpartition("/")[2]] if "$ref" in node else node


def _filter_schema(api) -> dict:
    validate(api("/openapi.json").json)  # still a valid OpenAPI 3.1 document
    param = _filter_param(api, "referral")
    assert (param["in"], param["style"], param["explode"]) == ("query", "deepObject", True)
    return param["schema"]


def _deep_object(query: str) -> dict:
    """The ``filter`` object a deepObject query holds (as a generated client would build it)."""
    out: dict = {}
    for item in query.split("&"):
        key, _, value = item.partition("=")
        parts = key[len("filter["):-1].split("][")
        if len(parts) == 1:
            out[parts[0]] = value
        else:
            out.setdefault(parts[0], {})[parts[1]] = value
    return out


@pytest.mark.parametrize("query, codes", [
    ("filter[referred_on][gte]=2025-01-01", ["R2", "R3"]),
    ("filter[referred_on][gte]=2025-01-01&filter[referred_on][lt]=2025-02-01", ["R2"]),
    ("filter[beds][gt]=1&filter[beds][lte]=7&filter[urgent]=true", ["R3"]),
    ("filter[seen_at][lt]=2025-01-02", ["R1"]),  # a date-time field compared with a day
    ("filter[seen_at][gte]=2025-01-01T08:00:00Z", ["R2"]),
    ("filter[ward][in]=b&filter[beds][ne]=7", ["R2"]),
    ("filter[tags][exists]=true", ["R1"]),
    ("filter[address.city]=Bergen", ["R3"]),
    ("filter[code][eq]=R1", ["R1"]),
    ("filter[beds][in]=1,7&filter[urgent][in]=true", ["R1", "R3"]),
])
def test_a_request_with_operators_is_within_the_declared_schema_and_answers_it(api, query, codes):
    jsonschema.validate(_deep_object(query), _filter_schema(api))
    response = api(f"/records/referral?{query}")
    assert response.status_code == 200, response.json
    assert sorted(r["data"]["code"] for r in response.json["items"]) == codes


@pytest.mark.parametrize("query", [
    "filter[beds][between]=1",   # no such operator
    "filter[beds][gte]=many",    # not a number
    "filter[urgent][lt]=true",   # booleans have no order
    "filter[tags]=x",            # an array is compared by nothing but exists
    "filter[nope]=1",            # no such field
    "filter[$odd]=x",            # a property no filter can name
    "filter[referred_on][gte]=1.3.2025",
    "filter[seen_at]=2025-01-01",  # a date-time equals no date alone
    "filter[ward][exists]=yes",
    "filter[ward][in]=a,,b",
    "filter[beds][in]=1,x",
    "filter[seen_at][in]=2025-01-01",
])
def test_what_the_api_refuses_is_outside_the_declared_schema(api, query):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(_deep_object(query), _filter_schema(api))
    assert api(f"/records/referral?{query}").status_code == 400


def test_every_operator_of_the_filter_language_is_declared_for_a_field_that_takes_it(api):
    schema = _filter_schema(api)
    field = lambda name: _resolved(schema, schema["properties"][name])  # noqa: E731
    operators = lambda name: set(field(name)["oneOf"][1]["properties"])  # noqa: E731
    assert operators("beds") == operators("referred_on") == operators("seen_at") == operators("code") == set(OPS)
    assert operators("urgent") == {"eq", "ne", "in", "exists"}
    assert set(field("tags")["properties"]) == {"exists"}


class Tagged:
    __name__ = "rest13_tagged"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "tagged", "schema": {"type": "object", "properties": {"n": {"type": "integer"}},
                                              "patternProperties": {"^x_": {"type": "string"}}}}]


def test_a_type_with_pattern_properties_declares_any_name_a_filter_may_name(make_platform):
    api = _api(make_platform, Tagged(), "tagged", [{"n": 1, "x_colour": "red"}])
    schema = _filter_param(api, "tagged")["schema"]
    jsonschema.validate({"x_colour": "red", "n": {"gte": "1"}}, schema)  # x_colour is a field
    answer = api("/records/tagged?filter[x_colour]=red&filter[n][gte]=1")
    assert answer.status_code == 200 and len(answer.json["items"]) == 1
