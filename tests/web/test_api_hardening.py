"""REST API hardening (audit findings): request size limit (413), JSON media types (415),
query parameters never silently dropped, malformed If-Match (400), bodiless 204/304, and
the KPI period error in REST terms. Every refused request must leave the database as it was.
"""
from __future__ import annotations

import pytest

from xrm_core import accounts, kpis
from xrm_core.web import create_app

PROBLEM = "application/problem+json"


def _client(org, **config):
    app = create_app(org, {"TESTING": True, **config})
    with org.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = app.test_client()

    def call(method, path, headers=None, **kw):
        return client.open(f"/api/v1{path}", method=method,
                           headers={"Authorization": f"Bearer {token}", **(headers or {})}, **kw)

    call.app, call.client = app, client
    return call


@pytest.fixture
def api(org):
    return _client(org)


def _problem(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:500])
    assert r.mimetype == PROBLEM
    assert {"type", "title", "status", "detail"} <= set(r.json) and r.json["status"] == status
    return r.json


def _people(api) -> list[dict]:
    return api("GET", "/records/person?limit=1000").json["items"]


def _person(api, **data):
    r = api("POST", "/records/person", json={"data": {"name": "Ada", **data}})
    assert r.status_code == 201, r.json
    return r.json


# -- 1. request size ------------------------------------------------------------------------
def test_default_limit_refuses_a_20_million_character_string(api):
    assert api.app.config["MAX_CONTENT_LENGTH"] == 16 * 1024 * 1024
    r = api("POST", "/records/person", json={"data": {"name": "x" * 20_000_000}})
    detail = _problem(r, 413)["detail"]
    assert str(16 * 1024 * 1024) in detail
    assert _people(api) == []


def test_limit_is_configurable_by_environment(org, monkeypatch):
    monkeypatch.setenv("XRM_MAX_CONTENT_LENGTH", "2000")
    api = _client(org)
    assert api.app.config["MAX_CONTENT_LENGTH"] == 2000
    assert api("POST", "/records/person", json={"data": {"name": "x" * 1500}}).status_code == 201
    _problem(api("POST", "/records/person", json={"data": {"name": "x" * 2500}}), 413)
    assert [p["data"]["name"] for p in _people(api)] == ["x" * 1500]


def test_limit_applies_to_every_body_and_to_chunked_bodies(org):
    api = _client(org, MAX_CONTENT_LENGTH=1000)
    a = _person(api)
    big = "x" * 2000
    _problem(api("PATCH", f"/records/person/{a['id']}", json={"data": {"name": big}}), 413)
    _problem(api("POST", f"/records/person/{a['id']}/history", json={"kind": "call", "summary": big}), 413)
    _problem(api("POST", "/relationships", json={"type": "knows", "source": a["id"], "target": a["id"],
                                                 "data": {"x": big}}), 413)
    # No Content-Length (Transfer-Encoding: chunked): refused while reading, still a problem.
    r = api("POST", "/records/person", data=('{"data": {"name": "%s"}}' % big).encode(),
            headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"},
            environ_overrides={"wsgi.input_terminated": True})
    _problem(r, 413)
    assert [p["version"] for p in _people(api)] == [1]
    assert not [i for i in api("GET", f"/records/person/{a['id']}/history").json["items"] if i["kind"] == "call"]
    assert api("GET", f"/records/person/{a['id']}/related").json["items"] == []


def test_admin_ui_gets_a_plain_413_not_a_traceback(org):
    app = create_app(org, {"TESTING": True})
    r = app.test_client().post("/login", data={"username": "admin", "password": "x" * 17_000_000})
    assert r.status_code == 413
    assert "Traceback" not in r.get_data(as_text=True)


# -- 2. media types ---------------------------------------------------------------------------
NOT_JSON = [
    ("text/plain", '{"data": {"name": "T"}}'),
    ("application/x-www-form-urlencoded", '{"data": {"name": "T"}}'),
    ("multipart/form-data; boundary=x", '{"data": {"name": "T"}}'),
    (None, '{"data": {"name": "T"}}'),
    (None, ""),
]


@pytest.mark.parametrize("content_type,data", NOT_JSON)
def test_post_without_a_json_media_type_is_415(api, content_type, data):
    headers = {"Content-Type": content_type} if content_type else {}
    r = api("POST", "/records/person", data=data, headers=headers)
    detail = _problem(r, 415)["detail"]
    assert "application/json" in detail and "application/merge-patch+json" in detail
    assert "application/json" in r.headers["Accept-Post"]
    assert _people(api) == []


@pytest.mark.parametrize("content_type,data", NOT_JSON)
def test_patch_without_a_json_media_type_is_415(api, content_type, data):
    a = _person(api)
    headers = {"Content-Type": content_type} if content_type else {}
    r = api("PATCH", f"/records/person/{a['id']}", data=data.replace("T", "Changed"), headers=headers)
    _problem(r, 415)
    assert r.headers["Accept-Patch"] == "application/json, application/merge-patch+json"
    assert api("GET", f"/records/person/{a['id']}").json["version"] == 1


def test_json_patch_is_refused_with_a_clear_415(api):
    a = _person(api)
    r = api("PATCH", f"/records/person/{a['id']}", data='[{"op": "replace", "path": "/data/name", "value": "B"}]',
            headers={"Content-Type": "application/json-patch+json"})
    detail = _problem(r, 415)["detail"]
    assert "JSON Patch" in detail and "merge patch" in detail and "application/merge-patch+json" in detail
    got = api("GET", f"/records/person/{a['id']}").json
    assert got["version"] == 1 and got["data"]["name"] == "Ada"


def test_other_bodies_need_json_too(api):
    a, b = _person(api), _person(api, name="Bob")
    r = api("POST", "/relationships", data=f'{{"type": "knows", "source": "{a["id"]}", "target": "{b["id"]}"}}',
            headers={"Content-Type": "text/plain"})
    _problem(r, 415)
    r = api("POST", f"/records/person/{a['id']}/history", data='{"kind": "call", "summary": "s"}',
            headers={"Content-Type": "application/x-www-form-urlencoded"})
    _problem(r, 415)
    assert api("GET", f"/records/person/{a['id']}/related").json["items"] == []
    assert not [i for i in api("GET", f"/records/person/{a['id']}/history").json["items"] if i["kind"] == "call"]


def test_json_media_types_are_accepted(api):
    r = api("POST", "/records/person", data='{"data": {"name": "A"}}',
            headers={"Content-Type": "application/json; charset=utf-8"})
    assert r.status_code == 201
    rid = r.json["id"]
    r = api("POST", "/records/person", data='{"data": {"name": "V"}}',
            headers={"Content-Type": "application/vnd.example+json"})
    assert r.status_code == 201
    r = api("PATCH", f"/records/person/{rid}", data='{"data": {"age": 3}}',
            headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200 and r.json["data"] == {"name": "A", "age": 3}


def test_unknown_routes_answer_404_405_before_the_media_type(api):
    assert api("POST", "/nowhere", data="x", headers={"Content-Type": "text/plain"}).status_code == 404
    assert api("PUT", "/records/person/x", data="x", headers={"Content-Type": "text/plain"}).status_code == 405


def test_openapi_declares_the_request_media_types_and_body_errors(api):
    paths = api("GET", "/openapi.json").json["paths"]
    patch = paths["/api/v1/records/person/{id}"]["patch"]
    assert set(patch["requestBody"]["content"]) == {"application/json", "application/merge-patch+json"}
    for op in (patch, paths["/api/v1/records/person"]["post"], paths["/api/v1/relationships"]["post"],
               paths["/api/v1/records/{type}/{id}/history"]["post"]):
        assert {"413", "415"} <= set(op["responses"])


# -- 3. query parameters --------------------------------------------------------------------------
@pytest.mark.parametrize("query,says", [
    ("filter[name]=A&filter[name]=B", "filter[name][in]=A,B"),
    ("filter[age][gte]=1&filter[age][gte]=50", "given 2 times"),
    ("filter[age]=1&filter[age][eq]=2", "eq condition"),
    ("filter=1", "filter[F]=V"),
    ("filter[]=1", "filter[F]=V"),
    ("filter[age][]=1", "filter[F]=V"),
    ("limit=1&limit=2", "'limit' is given 2 times"),
    ("sort=name&sort=-age", "'sort' is given 2 times"),
])
def test_ambiguous_or_unreadable_queries_are_400(api, query, says):
    _person(api, name="A", age=10)
    _person(api, name="B", age=60)
    detail = _problem(api("GET", f"/records/person?{query}"), 400)["detail"]
    assert says in detail


def test_in_filter_still_matches_several_values(api):
    for name in "ABC":
        _person(api, name=name)
    r = api("GET", "/records/person?filter[name][in]=A,B&sort=name")
    assert [p["data"]["name"] for p in r.json["items"]] == ["A", "B"]


def test_sort_errors_speak_of_sort(api):
    body = _problem(api("GET", "/records/person?sort=name,-nope"), 400)
    assert body["detail"].startswith("invalid sort:") and "nope" in body["detail"]
    assert "filter" not in body["detail"]
    assert body["errors"] == [{"pointer": "/query/sort", "message": "'nope' is not a field of person"}]
    # Filter errors keep their own wording.
    assert _problem(api("GET", "/records/person?filter[nope]=1"), 400)["detail"].startswith("invalid filter:")


# -- 4. If-Match ---------------------------------------------------------------------------------
@pytest.mark.parametrize("if_match", ["1", "1, 2", 'W/1', '*, "1"', '"1'])
def test_malformed_if_match_is_400_and_writes_nothing(api, if_match):
    a = _person(api)
    r = api("PATCH", f"/records/person/{a['id']}", json={"data": {"name": "Changed"}}, headers={"If-Match": if_match})
    detail = _problem(r, 400)["detail"]
    assert "quoted" in detail
    r = api("DELETE", f"/records/person/{a['id']}", headers={"If-Match": if_match})
    _problem(r, 400)
    got = api("GET", f"/records/person/{a['id']}").json
    assert got["version"] == 1 and got["data"]["name"] == "Ada"


def test_unquoted_if_match_says_how_to_quote_it(api):
    a = _person(api)
    r = api("PATCH", f"/records/person/{a['id']}", json={"data": {"name": "B"}}, headers={"If-Match": "1"})
    assert 'If-Match: "1"' in _problem(r, 400)["detail"]


def test_well_formed_if_match_still_works(api):
    a = _person(api)
    _problem(api("PATCH", f"/records/person/{a['id']}", json={"data": {"age": 1}}, headers={"If-Match": '"7"'}), 412)
    r = api("PATCH", f"/records/person/{a['id']}", json={"data": {"age": 1}}, headers={"If-Match": 'W/"1", "7"'})
    assert r.status_code == 200 and r.json["version"] == 2
    assert api("DELETE", f"/records/person/{a['id']}", headers={"If-Match": "*"}).status_code == 204


# -- 5. responses without a body --------------------------------------------------------------------
def test_204_and_304_carry_no_content_type(api):
    a, b = _person(api), _person(api, name="Bob")
    r = api("GET", f"/records/person/{a['id']}", headers={"If-None-Match": '"1"'})
    assert r.status_code == 304 and "Content-Type" not in r.headers and r.data == b""
    rel = api("POST", "/relationships", json={"type": "knows", "source": a["id"], "target": b["id"]}).json
    for path in (f"/relationships/{rel['id']}", f"/records/person/{a['id']}"):
        r = api("DELETE", path)
        assert r.status_code == 204 and "Content-Type" not in r.headers and r.data == b""


# -- 6. KPI period ----------------------------------------------------------------------------------
def test_reversed_kpi_period_is_explained_with_query_parameter_names(api, org):
    with org.connection() as conn:
        kpis.add(org, conn, {"name": "avg_age", "label": "Average age", "unit": "years", "entity": "person",
                             "measure": {"avg": "age"}})
    body = _problem(api("GET", "/kpis/avg_age?from=2025-02-01&to=2025-01-01"), 400)
    assert "--" not in body["detail"]
    assert "from=2025-02-01" in body["detail"] and "to=2025-01-01" in body["detail"]
    assert body["errors"][0]["pointer"] == "/query/from"
    assert api("GET", "/kpis/avg_age?from=2025-01-01&to=2025-01-01").status_code == 200
    _problem(api("GET", "/kpis/avg_age?from=2025-01-01&from=2025-02-01"), 400)
    assert "from" in _problem(api("GET", "/kpis/avg_age?from=2025-02-30&to=2025-01-01"), 400)["detail"]


# -- numbers JSON parsers would change ----------------------------------------------------------
def test_an_integer_beyond_64_bits_is_refused_not_rounded(api):
    """orjson reads 18446744073709551616 as a float: the record was stored as 1.8e19."""
    for big in (b"18446744073709551616", b"-9223372036854775809"):  # 20 digits, and 19 below -2**63
        body = b'{"data": {"name": "Big", "extra": ' + big + b'}}'
        r = api("POST", "/records/person", data=body, headers={"Content-Type": "application/json"})
        assert [e["pointer"] for e in _problem(r, 422)["errors"]] == ["/data/extra"], big
    assert _people(api) == []
    r = api("POST", "/records/person", data=b'{"data": {"name": "Fits", "extra": 9223372036854775807}}',
            headers={"Content-Type": "application/json"})
    assert r.status_code == 201 and r.json["data"]["extra"] == 9223372036854775807


def test_a_body_naming_a_key_twice_is_a_400_with_the_keys_pointer(api):
    """Parsers keep the last of repeated keys silently: {"age": 1, "age": 2} says two things."""
    r = api("POST", "/records/person", data='{"data": {"name": "Ada", "age": 1, "age": 2}}',
            headers={"Content-Type": "application/json"})
    problem = _problem(r, 400)
    assert problem["errors"] == [{"pointer": "/data/age", "message": "repeated key"}]
    assert "the key 'age' is repeated" in problem["detail"]
    r = api("POST", "/records/person", data='{"data": {"name": "Ada \\": not a key", "age": 1}}',
            headers={"Content-Type": "application/json"})
    assert r.status_code == 201 and r.json["data"]["name"] == 'Ada ": not a key'
