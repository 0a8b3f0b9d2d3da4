"""REST API acceptance audit 5: a third-party type using 2020-12 keywords an integrator
reaches for (boolean subschemas, allOf + unevaluatedProperties, patternProperties), through
the API and its OpenAPI document. Runs on SQLite and, with XRM_TEST_DATABASE_URL, on PostgreSQL.
"""
from __future__ import annotations

import pytest

from xrm_core import accounts
from xrm_core.plugins import hookimpl
from xrm_core.web import create_app

PLACE = {
    "name": "place", "title_field": "name",
    "schema": {"type": "object",
               "allOf": [{"properties": {"name": {"type": "string"}, "rank": {"type": "integer", "minimum": 1}},
                          "required": ["name"]}],
               "properties": {
                   # exactly [lat, lon]: prefixItems with no further items
                   "latlon": {"type": "array", "prefixItems": [{"type": "number"}, {"type": "number"}],
                              "items": False},
                   "names": {"type": "object", "patternProperties": {"^[a-z]{2}$": {"type": "string"}},
                             "additionalProperties": False},
                   "legacy": True},
               "unevaluatedProperties": False},
}


class PlacePlugin:
    __name__ = "audit5_place"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [PLACE]


@pytest.fixture
def api(make_platform):
    p = make_platform(PlacePlugin())
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(p, {"TESTING": True}).test_client()

    def call(method, path, **kw):
        return client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw)
    return call


def _refs(node, out):
    if isinstance(node, dict):
        out.update(v for k, v in node.items() if k == "$ref")
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)
    return out


def test_openapi_publishes_boolean_subschemas_as_booleans_and_every_ref_resolves(api):
    doc = api("GET", "/openapi.json").json
    schemas = doc["components"]["schemas"]
    place = schemas["place.data"]
    assert place["properties"]["latlon"]["items"] is False
    assert place["properties"]["legacy"] is True
    for ref in _refs(doc, set()):
        assert ref.startswith("#/components/schemas/"), ref
        name = ref[len("#/components/schemas/"):].split("/")[0]
        assert name in schemas, ref


def test_a_bad_value_in_an_allof_part_is_one_422_error_not_an_unevaluated_echo(api):
    r = api("POST", "/records/place", json={"data": {"name": "Tabriz", "rank": 0}})
    assert r.status_code == 422, r.get_data(as_text=True)
    assert r.json["errors"] == [{"pointer": "/data/rank", "message": "0 is less than the minimum of 1"}]
    r = api("POST", "/records/place", json={"data": {"name": "Tabriz", "rank": 0, "extra": 1}})
    assert r.json["errors"] == [
        {"pointer": "/data/extra", "message": "Unevaluated properties are not allowed ('extra' was unexpected)"},
        {"pointer": "/data/rank", "message": "0 is less than the minimum of 1"}]
    assert api("GET", "/records/place").json == {"items": [], "next": None}


def test_a_pattern_property_filters_and_sorts(api):
    for name, fa in (("Tabriz", "تبریز"), ("Rasht", "رشت"), ("Yazd", None)):
        data = {"name": name, "latlon": [38.1, 46.3], **({"names": {"fa": fa}} if fa else {})}
        assert api("POST", "/records/place", json={"data": data}).status_code == 201
    r = api("GET", "/records/place?filter[names.fa]=رشت")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert [i["data"]["name"] for i in r.json["items"]] == ["Rasht"]
    r = api("GET", "/records/place?filter[names.fa][exists]=true&sort=-names.fa")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert [i["data"]["name"] for i in r.json["items"]] == ["Rasht", "Tabriz"]  # ر after ت
    r = api("GET", "/records/place?filter[names.fra]=x")
    assert r.status_code == 400 and r.json["errors"][0]["pointer"] == "/query/filter[names.fra]"
