"""REST API audit from an integrator's side (OpenAPI document only, own entity types):
conditional GETs, OPTIONS, sorting and paging with every record once, error pointers that
name the query parameter sent, uniform ``{"items", "next"}`` lists, and the OpenAPI document
describing what the server really does. Runs on SQLite and, with XRM_TEST_DATABASE_URL, on
PostgreSQL: the answers must be the same on both.
"""
from __future__ import annotations

import pytest

from xrm_core import accounts, kpis
from xrm_core.plugins import hookimpl
from xrm_core.web import create_app

PROBLEM = "application/problem+json"

GADGET = {
    "name": "gadget", "label": "Gadget", "title_field": "title", "indexes": ["title", "weight", "made"],
    "unique": ["sku"],
    "schema": {"type": "object", "required": ["title"], "properties": {
        "title": {"type": "string"}, "sku": {"type": "string"}, "weight": {"type": "number"},
        "made": {"type": "string", "format": "date"}, "color": {"enum": ["red", "green", "blue"]},
        "dims": {"type": "object", "properties": {"w": {"type": "integer"}}},
        "tags": {"type": "array", "items": {"type": "string"}},
        "extra": {}, "maybe": {"type": ["string", "null"]}}},
}


class GadgetPlugin:
    __name__ = "audit_gadget"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [GADGET, {"name": "box", "schema": {"type": "object", "properties": {"code": {"type": "string"}}}}]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "holds", "source": "box", "target": "gadget", "cardinality": "one-to-many"}]

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "note", "label": "Note"}]


@pytest.fixture
def api(make_platform):
    p = make_platform(GadgetPlugin())
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
        kpis.add(p, conn, {"name": "avg_weight", "label": "Average weight", "unit": "kg", "entity": "gadget",
                           "time_field": "made", "measure": {"avg": "weight"}})
    app = create_app(p, {"TESTING": True})
    client = app.test_client()

    def call(method, path, headers=None, auth=True, **kw):
        h = {"Authorization": f"Bearer {token}"} if auth else {}
        return client.open(f"/api/v1{path}", method=method, headers={**h, **(headers or {})}, **kw)

    return call


def _create(api, type_name="gadget", **data):
    r = api("POST", f"/records/{type_name}", json={"data": data})
    assert r.status_code == 201, r.get_data(as_text=True)
    return r.json["id"]


def _problem(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:500])
    assert r.mimetype == PROBLEM
    return r.json


# -- conditional requests ---------------------------------------------------------------
@pytest.mark.parametrize("header", ['"1"', 'W/"1"', '"7", W/"1"', "*"])
def test_if_none_match_uses_weak_comparison(api, header):
    """RFC 9110 §13.1.2: If-None-Match compares weakly, so W/"1" names version 1 too."""
    rid = _create(api, title="A")
    r = api("GET", f"/records/gadget/{rid}", headers={"If-None-Match": header})
    assert r.status_code == 304 and r.headers["ETag"] == '"1"' and r.data == b""
    r = api("GET", f"/records/gadget/{rid}", headers={"If-None-Match": 'W/"2"'})
    assert r.status_code == 200 and r.json["version"] == 1


# -- OPTIONS ----------------------------------------------------------------------------
@pytest.mark.parametrize("path,allowed", [
    ("/records/gadget/{id}", {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}),
    ("/records/gadget", {"GET", "HEAD", "POST", "OPTIONS"}),
    ("/relationships", {"POST", "OPTIONS"}),
    ("/relationships/x", {"DELETE", "OPTIONS"}),
    ("/records/gadget/{id}/history", {"GET", "HEAD", "POST", "OPTIONS"}),
])
def test_options_lists_the_methods_the_path_really_allows(api, path, allowed):
    rid = _create(api, title="A")
    r = api("OPTIONS", path.format(id=rid))
    assert r.status_code == 204 and r.data == b"" and "Content-Type" not in r.headers
    assert set(r.headers["Allow"].split(", ")) == allowed
    # Every method it lists besides OPTIONS is not a 405.
    for method in allowed - {"OPTIONS", "HEAD"}:
        assert api(method, path.format(id=rid), json={}).status_code != 405, method


def test_options_on_an_unknown_path_is_a_404(api):
    _problem(api("OPTIONS", "/nowhere"), 404)
    _problem(api("OPTIONS", "/records/gadget/x/nowhere"), 404)


def test_options_still_needs_a_token(api):
    r = api("OPTIONS", "/records/gadget", auth=False)
    _problem(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")


# -- sorting and paging -----------------------------------------------------------------
def _walk(api, query, limit):
    seen, cursor = [], None
    while True:
        r = api("GET", f"/records/gadget?limit={limit}&{query}" + (f"&cursor={cursor}" if cursor else ""))
        assert r.status_code == 200, r.get_data(as_text=True)
        seen += [x["id"] for x in r.json["items"]]
        cursor = r.json["next"]
        if cursor is None:
            return seen


@pytest.mark.parametrize("sort", ["title", "-title", "weight", "-weight", "made", "-made", "dims.w", "-dims.w",
                                  "color", "-color", "maybe", "-maybe", "-made,title", "weight,-title"])
def test_every_record_once_in_the_same_order_as_one_page(api, sort):
    values = [("b", 2.5, "2024-01-01", 1), ("a", None, "2023-12-31", None), ("B", -3, None, 2), ("ä", 10, None, 1),
              ("a", 2.5, "2024-01-01", None), ("Z", 0, "2025-06-01", 3)]
    for i, (title, weight, made, w) in enumerate(values * 2):
        data = {"title": title, "color": ["red", "green", "blue"][i % 3]}
        if weight is not None:
            data["weight"] = weight
        if made is not None:
            data["made"] = made
        if w is not None:
            data["dims"] = {"w": w}
        if i % 2:
            data["maybe"] = None if i % 4 == 1 else title
        _create(api, **data)
    whole = [x["id"] for x in api("GET", f"/records/gadget?limit=100&sort={sort}").json["items"]]
    assert len(whole) == 12
    for limit in (1, 5):
        assert _walk(api, f"sort={sort}", limit) == whole


@pytest.mark.parametrize("sort", ["extra", "-extra", "title,extra"])
def test_sorting_by_a_field_of_no_single_type_is_a_400(api, sort):
    """An untyped field may hold numbers, strings and objects: the engines order them
    differently, and a page's cursor could not hold its object values (PostgreSQL failed
    with a 500 on a boolean, SQLite refused the cursor it had issued)."""
    for value in (True, 3, "x", {"a": 1}, [1]):
        _create(api, title="t", extra=value)
    body = _problem(api("GET", f"/records/gadget?limit=2&sort={sort}"), 400)
    assert body["errors"] == [{"pointer": "/query/sort", "message": "cannot sort by 'extra': it has no single "
                                                                     "JSON type (values of several types)"}]


# -- error pointers name the query parameters -------------------------------------------
@pytest.mark.parametrize("query,pointer", [
    ("filter[nope]=1", "/query/filter[nope]"),
    ("filter[weight]=abc", "/query/filter[weight]"),
    ("filter[weight][gt]=abc", "/query/filter[weight][gt]"),
    ("filter[weight][in]=1,x", "/query/filter[weight][in]"),
    ("filter[title][like]=a", "/query/filter[title][like]"),
    ("filter[tags]=a", "/query/filter[tags]"),
    ("filter[a..b]=1", "/query/filter[a..b]"),
    ("filter[dims.w][lte]=1.5x", "/query/filter[dims.w][lte]"),
])
def test_bad_filters_point_at_the_query_parameter(api, query, pointer):
    body = _problem(api("GET", f"/records/gadget?{query}"), 400)
    assert [e["pointer"] for e in body["errors"]] == [pointer]


@pytest.mark.parametrize("query,pointer", [
    ("by=nope", "/query/by"), ("by=tags", "/query/by"), ("from=2024-13-01", "/query/from"),
    ("to=2024-02-30", "/query/to"), ("from=2025-01-01&to=2024-01-01", "/query/from"),
])
def test_kpi_query_errors_point_at_the_query_parameter(api, query, pointer):
    body = _problem(api("GET", f"/kpis/avg_weight?{query}"), 400)
    assert [e["pointer"] for e in body["errors"]] == [pointer]


@pytest.mark.parametrize("query", ["related=maybe", "related=true&related=false", "rel_x=1&order=sideways"])
def test_history_refuses_undocumented_parameter_values(api, query):
    rid = _create(api, title="A")
    _problem(api("GET", f"/records/gadget/{rid}/history?{query}"), 400)


def test_related_refuses_a_repeated_rel(api):
    rid = _create(api, title="A")
    body = _problem(api("GET", f"/records/gadget/{rid}/related?rel=holds&rel=nope"), 400)
    assert body["errors"][0]["pointer"] == "/query/rel"


# -- lists ------------------------------------------------------------------------------
def test_related_is_a_list_like_the_others(api):
    box = _create(api, "box", code="B")
    gid = _create(api, title="G")
    assert api("POST", "/relationships", json={"type": "holds", "source": box, "target": gid}).status_code == 201
    r = api("GET", f"/records/box/{box}/related")
    assert r.status_code == 200 and set(r.json) == {"items", "next"} and r.json["next"] is None
    assert [i["record"]["id"] for i in r.json["items"]] == [gid]


# -- the OpenAPI document ---------------------------------------------------------------
def test_openapi_documents_filters_location_and_the_limit_in_force(make_platform):
    p = make_platform(GadgetPlugin())
    spec = create_app(p, {"TESTING": True, "API_MAX_LIMIT": 200}).test_client().get("/api/v1/openapi.json").json
    listing = spec["paths"]["/api/v1/records/gadget"]["get"]
    params = {x["name"]: x for x in listing["parameters"]}
    assert params["limit"]["schema"]["maximum"] == 200
    assert params["filter"]["in"] == "query" and params["filter"]["style"] == "deepObject"
    assert "in" in params["filter"]["description"] and "exists" in params["filter"]["description"]
    created = spec["paths"]["/api/v1/records/gadget"]["post"]["responses"]["201"]["headers"]
    assert {"ETag", "Location"} <= set(created)
    related = spec["paths"]["/api/v1/records/{type}/{id}/related"]["get"]["responses"]["200"]
    assert related["content"]["application/json"]["schema"]["required"] == ["items", "next"]
