"""REST API audit, second round: an integrator's entity type the developers never saw —
nested objects, arrays of objects, anyOf/oneOf, nullable fields, an enum of mixed types,
``$ref`` to the platform's common $defs and to an ``$anchor``, formats, odd property names,
a compound ``unique`` and indexes on dotted paths — through the contract and the OpenAPI
document only. Runs on SQLite and, with XRM_TEST_DATABASE_URL, on PostgreSQL: the answers
must be the same on both.
"""
from __future__ import annotations

import json
import re

import jsonschema
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from xrm_core import accounts, kpis
from xrm_core.plugins import hookimpl
from xrm_core.web import create_app

PROBLEM = "application/problem+json"
COMMON = "https://xrm.dev/schemas/common.json#/$defs/"

WIDGET = {
    "name": "widget", "label": {"en": "Widget", "zh": "部件"}, "title_field": "name",
    "indexes": ["address.city", "spec.dims.w"], "unique": ["code", ["ns", "serial"]],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["name"],
        "$defs": {"pt": {"$anchor": "pt", "type": "object", "required": ["x"], "additionalProperties": False,
                         "properties": {"x": {"type": "number"}, "y": {"type": "number"}}}},
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "code": {"type": "string"}, "ns": {"type": "string"}, "serial": {"type": "integer"},
            "address": {"$ref": COMMON + "address"},
            "price": {"$ref": COMMON + "money"},
            "spec": {"type": "object", "properties": {
                "dims": {"type": "object", "properties": {"w": {"type": "integer"}, "h": {"type": "number"}}},
                "label": {"type": "string"}}},
            "points": {"type": "array", "items": {"$ref": "#pt"}},
            "lines": {"type": "array", "items": {"type": "object", "required": ["sku"], "properties": {
                "sku": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}}}},
            "contact": {"anyOf": [{"type": "string", "format": "email"},
                                  {"type": "object", "required": ["phone"],
                                   "properties": {"phone": {"$ref": COMMON + "phone"}}}]},
            "maybe": {"type": ["integer", "null"]},
            "mixed": {"enum": [1, "1", "one", True, None, 2.5]},
            "when": {"type": "string", "format": "date-time"},
            "uid": {"type": "string", "format": "uuid"},
            "with space": {"type": "string"},
            "a/b~c": {"type": "integer"},
            "名前": {"type": "string"},
            "score": {"type": "number"},
        }},
}


class WidgetPlugin:
    __name__ = "audit_widget"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [WIDGET, {"name": "part", "schema": {"type": "object", "properties": {"t": {"type": "string"}}}}]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "uses", "source": "widget", "target": "part", "cardinality": "many-to-many"}]

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "note", "label": "Note"}]


@pytest.fixture
def api(make_platform):
    p = make_platform(WidgetPlugin())
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
        kpis.add(p, conn, {"name": "widgets", "label": "Widgets", "unit": "count", "entity": "widget",
                           "measure": {"count": True}})
    client = create_app(p, {"TESTING": True}).test_client()

    def call(method, path, headers=None, **kw):
        return client.open(f"/api/v1{path}", method=method,
                           headers={"Authorization": f"Bearer {token}", **(headers or {})}, **kw)

    call.engine = p.engine.dialect.name
    return call


def _create(api, type_name="widget", **data):
    r = api("POST", f"/records/{type_name}", json={"data": {"name": "w", **data} if type_name == "widget" else data})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json["id"]


def _problem(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:500])
    assert r.mimetype == PROBLEM
    return r.json


def _ids(api, query):
    r = api("GET", f"/records/widget?limit=100&{query}")
    assert r.status_code == 200, r.get_data(as_text=True)
    return {x["id"] for x in r.json["items"]}


# -- the record's shape through POST, GET, PATCH ------------------------------------------
def test_odd_types_round_trip_merge_patch_and_match_the_openapi_document(api):
    spec = api("GET", "/openapi.json").json
    registry = Registry().with_resource("urn:api", Resource.from_contents(spec, default_specification=DRAFT202012))

    def conforms(component, instance):
        validator = jsonschema.Draft202012Validator({"$ref": f"urn:api#/components/schemas/{component}"},
                                                    registry=registry, format_checker=jsonschema.FormatChecker())
        assert [e.message for e in validator.iter_errors(instance)] == [], component

    data = {"name": "W", "address": {"city": "Berlin", "country": "DE"}, "price": {"amount": 3.5, "currency": "EUR"},
            "spec": {"dims": {"w": 3, "h": 1.5}, "label": "L"}, "points": [{"x": 1, "y": 2}],
            "lines": [{"sku": "a", "qty": 2}], "contact": {"phone": "+49 30 1234"}, "maybe": None, "mixed": True,
            "when": "2024-01-02T03:04:05Z", "uid": "123e4567-e89b-12d3-a456-426614174000", "with space": "s",
            "a/b~c": 3, "名前": "n"}
    conforms("widget.data", data)
    r = api("POST", "/records/widget", json={"data": data})
    assert r.status_code == 201 and r.headers["ETag"] == '"1"'
    rid = r.json["id"]
    assert r.headers["Location"].endswith(f"/api/v1/records/widget/{rid}")
    conforms("widget.record", r.json)
    got = api("GET", f"/records/widget/{rid}")
    assert got.json["data"] == data and got.headers["ETag"] == '"1"'
    conforms("widget.record", got.json)

    # RFC 7396: null removes a key (also a nested one and an odd name), objects merge, arrays replace.
    patch = {"spec": {"dims": {"h": None}, "label": "M"}, "points": [{"x": 9}], "maybe": 4, "with space": None,
             "address": {"city": None}, "contact": "a@example.org", "a/b~c": None}
    r = api("PATCH", f"/records/widget/{rid}", json={"data": patch}, headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"', r.json
    expected = {**data, "spec": {"dims": {"w": 3}, "label": "M"}, "points": [{"x": 9}], "maybe": 4,
                "address": {"country": "DE"}, "contact": "a@example.org"}
    del expected["with space"], expected["a/b~c"]
    assert r.json["data"] == expected
    conforms("widget.record", r.json)
    # A patch that changes nothing makes no new version.
    r = api("PATCH", f"/records/widget/{rid}", json={"data": {"maybe": 4, "nowhere": None}})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    listing = api("GET", "/records/widget?filter[address.country]=DE&filter[spec.dims.w][gte]=3").json
    assert [x["id"] for x in listing["items"]] == [rid]
    conforms("widget.record", listing["items"][0])


@pytest.mark.parametrize("data,pointers", [
    ({"lines": [{"sku": "a"}, {"qty": 0}]}, ["/data/lines/1/qty", "/data/lines/1/sku"]),
    ({"points": [{"x": 1}, {"x": 1, "z": 3}]}, ["/data/points/1/z"]),
    ({"address": {"city": 3}, "price": {"amount": 1}}, ["/data/address/city", "/data/price/currency"]),
    ({"a/b~c": "x", "with space": 1, "名前": 2}, ["/data/a~1b~0c", "/data/with space", "/data/名前"]),
    ({"when": "yesterday", "uid": "nope", "mixed": "two"}, ["/data/mixed", "/data/uid", "/data/when"]),
])
def test_422_points_at_the_exact_field_in_arrays_refs_and_odd_names(api, data, pointers):
    body = _problem(api("POST", "/records/widget", json={"data": {"name": "w", **data}}), 422)
    assert sorted(e["pointer"] for e in body["errors"]) == pointers
    rid = _create(api)
    body = _problem(api("PATCH", f"/records/widget/{rid}", json={"data": data}), 422)
    assert sorted(e["pointer"] for e in body["errors"]) == pointers
    assert api("GET", f"/records/widget/{rid}").json["version"] == 1


def test_a_compound_unique_key_is_a_409_naming_both_fields(api):
    first = _create(api, ns="n", serial=1)
    body = _problem(api("POST", "/records/widget", json={"data": {"name": "x", "ns": "n", "serial": 1}}), 409)
    assert sorted(e["pointer"] for e in body["errors"]) == ["/data/ns", "/data/serial"]
    assert body["existing"] == first
    other = _create(api, ns="n", serial=2)
    _problem(api("PATCH", f"/records/widget/{other}", json={"data": {"serial": 1}}), 409)


# -- conditional GET ---------------------------------------------------------------------
@pytest.mark.parametrize("header", ["1", "W/1", '"1', '*, "1"', "abc"])
def test_malformed_if_none_match_is_a_400_as_if_match_is(api, header):
    """``If-None-Match: 1`` (unquoted) was read as the ETag "1" by Werkzeug's lenient parser
    (a 304) while ``If-Match: 1`` was a 400; any other malformed value silently never matched."""
    rid = _create(api)
    body = _problem(api("GET", f"/records/widget/{rid}", headers={"If-None-Match": header}), 400)
    assert body["errors"] == [{"pointer": "/headers/If-None-Match", "message": 'ETags are quoted strings, e.g. "3"'}]
    assert "quoted" in body["detail"]


@pytest.mark.parametrize("header,status", [('"x"', 200), ("", 200), ('"2", W/"3"', 200), ('"2", W/"1"', 304)])
def test_well_formed_if_none_match_that_names_no_version(api, header, status):
    rid = _create(api)
    assert api("GET", f"/records/widget/{rid}", headers={"If-None-Match": header}).status_code == status


def test_the_documented_etag_pattern_admits_what_the_server_reads(api):
    """The OpenAPI pattern demanded digits, so a well-formed ETag naming no version (a 412 for
    If-Match) and the empty list were documented as malformed requests."""
    spec = api("GET", "/openapi.json").json
    operation = spec["paths"]["/api/v1/records/widget/{id}"]
    patterns = {p["schema"]["pattern"] for op in operation.values() for p in op.get("parameters", [])
                if p["name"] in ("If-Match", "If-None-Match")}
    assert len(patterns) == 1
    pattern = re.compile(patterns.pop())
    rid = _create(api)
    for header in ('"x"', "", '"7", W/"1"', "*"):
        assert pattern.search(header), header
        assert api("PATCH", f"/records/widget/{rid}", json={"data": {}}, headers={"If-Match": header}).status_code != 400
    for header in ("1", "W/1", '*, "1"', '"1'):
        assert not pattern.search(header), header
        _problem(api("PATCH", f"/records/widget/{rid}", json={"data": {}}, headers={"If-Match": header}), 400)


# -- query parameters ---------------------------------------------------------------------
@pytest.mark.parametrize("path,param", [
    ("/records/widget?filters[code]=C1", "filters[code]"),
    ("/records/widget?page_size=1", "page_size"),
    ("/records/widget?Sort=-name", "Sort"),
    ("/records/widget/{id}/related?rels=uses", "rels"),
    ("/records/widget/{id}/history?sort=-at", "sort"),
    ("/kpis/widgets?since=2024-01-01", "since"),
])
def test_a_parameter_the_endpoint_does_not_take_is_a_400_not_ignored(api, path, param):
    """``filters[code]=C1`` (one letter too many) answered with every record: a client that
    deletes what it lists would have deleted them all."""
    rid = _create(api, code="C1")
    _create(api, code="C2")
    body = _problem(api("GET", path.format(id=rid)), 400)
    assert body["errors"] == [{"pointer": f"/query/{param}", "message": "unknown parameter"}]


def test_mixed_type_enum_filters_by_the_json_value(api):
    """An enum of mixed types has no single type: a query value is read as JSON when it
    parses (as the CLI's --where), so numbers, booleans and null can be found too."""
    ids = {repr(v): _create(api, mixed=v) for v in (1, "1", "one", True, None, 2.5)}
    absent = _create(api)
    assert _ids(api, "filter[mixed]=1") == {ids["1"]}
    assert _ids(api, 'filter[mixed]="1"') == {ids["'1'"]}
    assert _ids(api, "filter[mixed]=one") == {ids["'one'"]}
    assert _ids(api, "filter[mixed]=true") == {ids["True"]}
    assert _ids(api, "filter[mixed]=2.5") == {ids["2.5"]}
    assert _ids(api, "filter[mixed]=null") == {ids["None"], absent}
    assert _ids(api, "filter[mixed][in]=1,one") == {ids["1"], ids["'one'"]}
    assert _ids(api, "filter[mixed][gt]=1") == {ids["2.5"]}
    assert _ids(api, "filter[mixed][ne]=1") == set(ids.values()) - {ids["1"]} | {absent}
    body = _problem(api("GET", "/records/widget?filter[mixed]=99999999999999999999"), 400)
    assert body["errors"] == [{"pointer": "/query/filter[mixed]", "message": "integer beyond 64 bits"}]


def test_an_out_of_range_integer_points_at_the_parameter_sent(api):
    body = _problem(api("GET", "/records/widget?filter[serial]=99999999999999999999"), 400)
    assert body["errors"] == [{"pointer": "/query/filter[serial]", "message": "integer beyond 64 bits"}]
    body = _problem(api("GET", "/records/widget?filter[serial][in]=1,99999999999999999999"), 400)
    assert body["errors"] == [{"pointer": "/query/filter[serial][in]", "message": "integer beyond 64 bits"}]


# -- paging -------------------------------------------------------------------------------
def _walk(api, sort, limit, pages=50):
    seen, cursor = [], None
    for _ in range(pages):
        r = api("GET", f"/records/widget?limit={limit}&sort={sort}" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.get_data(as_text=True)
        seen += [x["id"] for x in r.json["items"]]
        cursor = r.json["next"]
        if cursor is None:
            return seen
    return seen  # never ended


@pytest.mark.parametrize("sort", ["maybe", "-maybe", "-maybe,name"])
def test_paging_over_huge_whole_numbers_of_an_integer_field_ends(api, sort):
    """1e300 and 1e23 are integers to JSON Schema. PostgreSQL stores them as the numeric of
    their JSON text (10**300); a cursor compared them with the double's binary value, so the
    page's last record came after itself and paging returned it forever (and a filter for
    the value found nothing, where SQLite found it)."""
    for v in (1, 1e300, 5, 1e23, 3.0, 2**63 - 1, 1e20, None):
        r = api("POST", "/records/widget", data=json.dumps({"data": {"name": "n", "maybe": v}}),
                headers={"Content-Type": "application/json"})
        assert r.status_code == 201
    whole = [x["id"] for x in api("GET", f"/records/widget?limit=100&sort={sort}").json["items"]]
    assert len(whole) == 8
    assert _walk(api, sort, 1) == whole
    assert _walk(api, sort, 3) == whole
    huge = {x["id"] for x in api("GET", "/records/widget?limit=100").json["items"] if x["data"]["maybe"] == 1e300}
    assert len(huge) == 1
    assert _ids(api, "filter[maybe]=1e300") == huge and _ids(api, "filter[maybe][gt]=1e23") == huge


def test_paging_sees_every_record_once_while_records_are_added(api):
    for i in range(12):
        _create(api, spec={"dims": {"w": i % 4}}, address={"city": ["b", "Ä", "a", "日"][i % 4]})
    before = {x["id"] for x in api("GET", "/records/widget?limit=100").json["items"]}
    for sort in ("spec.dims.w,-address.city", "-address.city"):
        seen, cursor, added = [], None, 0
        while True:
            r = api("GET", f"/records/widget?limit=4&sort={sort}" + (f"&cursor={cursor}" if cursor else ""))
            seen += [x["id"] for x in r.json["items"]]
            cursor = r.json["next"]
            if added < 3:  # before and after the page's position in the order
                _create(api, spec={"dims": {"w": [0, 3, 1][added]}}, address={"city": ["0", "z", "b"][added]})
                added += 1
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) and before <= set(seen)
        before = {x["id"] for x in api("GET", "/records/widget?limit=100").json["items"]}
