"""REST API audit, third round: an integrator's client written from the OpenAPI document
alone, against an entity type of its own (nested objects, a nullable field, dates, an
untyped field), probing what earlier rounds left: query parameters sent to endpoints that
take none, methods no route knows, bodies and query strings that are not UTF-8, compressed
bodies, If-None-Match on writes, sorts and ``in`` lists long enough to pin a worker, the last
calendar day as a KPI period's end, and ``limit`` spellings ``int()`` reads but no client
means. Runs on SQLite and, with XRM_TEST_DATABASE_URL, on PostgreSQL.
"""
from __future__ import annotations

import json

import pytest

from xrm_core import accounts
from xrm_core.plugins import hookimpl
from xrm_core.web import create_app

PROBLEM = "application/problem+json"

TICKET = {
    "name": "ticket", "label": "Ticket", "title_field": "title", "indexes": ["prio", "meta.level"],
    "unique": ["ref"],
    "schema": {"type": "object", "required": ["title"], "properties": {
        "title": {"type": "string"}, "ref": {"type": "string"}, "prio": {"type": "integer"},
        "due": {"type": "string", "format": "date"}, "opt": {"type": ["string", "null"]},
        "meta": {"type": "object", "properties": {"level": {"type": "integer"}, "tag": {"type": "string"}}},
        "any": {}}},
}


class TicketPlugin:
    __name__ = "audit3_ticket"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [TICKET, {"name": "desk", "schema": {"type": "object", "properties": {"n": {"type": "string"}}}}]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "handles", "source": "desk", "target": "ticket", "cardinality": "one-to-many"}]

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "call", "label": "Call"}]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [{"name": "tickets", "label": "Tickets", "unit": "count", "entity": "ticket",
                 "time_field": "due", "measure": {"count": True}}]


@pytest.fixture
def api(make_platform):
    p = make_platform(TicketPlugin())
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(p, {"TESTING": True}).test_client()

    def call(method, path, **kw):
        headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kw)

    call.platform, call.client = p, client
    return call


def _problem(r, status):
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True))
    assert r.mimetype == PROBLEM
    body = r.json
    assert {"type", "title", "status", "detail"} <= set(body) and body["status"] == status
    return body


def _create(api, **data):
    r = api("POST", "/records/ticket", json={"data": {"title": "t", **data}})
    assert r.status_code == 201, r.json
    return r.json["id"]


def _count(api, type_name="ticket"):
    with api.platform.session("admin", write=False) as s:
        return len(s.list(type_name, {}, limit=1000))


# -- query parameters on endpoints that take none ----------------------------------------
def test_a_write_with_a_parameter_it_does_not_take_writes_nothing(api):
    """``POST …?dry_run=1`` stored the record (201): the client meant to try, not to store.
    Every endpoint without parameters now refuses one, as the lists do, before any write."""
    body = _problem(api("POST", "/records/ticket?dry_run=1", json={"data": {"title": "x"}}), 400)
    assert body["errors"] == [{"pointer": "/query/dry_run", "message": "unknown parameter"}]
    assert "dry_run" in body["detail"] and "takes no parameters" in body["detail"]
    assert _count(api) == 0

    rid = _create(api, prio=1)
    path = f"/records/ticket/{rid}"
    _problem(api("PATCH", f"{path}?validate_only=true", json={"data": {"prio": 2}}), 400)
    _problem(api("DELETE", f"{path}?soft=true"), 400)
    _problem(api("POST", f"{path}/history?notify=0", json={"kind": "call", "summary": "s"}), 400)
    record = api("GET", path).json
    assert record["version"] == 1 and record["data"]["prio"] == 1
    assert [a["kind"] for a in api("GET", f"{path}/history").json["items"]] == ["created"]

    desk = api("POST", "/records/desk", json={"data": {"n": "d"}}).json["id"]
    _problem(api("POST", "/relationships?upsert=1", json={"type": "handles", "source": desk, "target": rid}), 400)
    assert api("GET", f"{path}/related").json["items"] == []


@pytest.mark.parametrize("path", ["/types?x=1", "/types/ticket?expand=1", "/kpis?all=1",
                                  "/records/ticket/{id}?fields=title"])
def test_reads_refuse_parameters_they_do_not_take(api, path):
    rid = _create(api)
    body = _problem(api("GET", path.format(id=rid)), 400)
    name = path.split("?")[1].split("=")[0]
    assert body["errors"] == [{"pointer": f"/query/{name}", "message": "unknown parameter"}]


def test_endpoints_without_parameters_still_answer_without_any(api):
    rid = _create(api)
    assert api("GET", "/types").status_code == 200
    assert api("GET", "/types/ticket").status_code == 200
    assert api("GET", "/kpis").status_code == 200
    assert api("GET", f"/records/ticket/{rid}").status_code == 200
    assert api("OPTIONS", f"/records/ticket/{rid}?x=1").status_code == 204  # OPTIONS reads nothing


# -- methods no route takes ---------------------------------------------------------------
@pytest.mark.parametrize("method,path,allowed", [
    ("TRACE", "/types", {"GET", "HEAD"}),
    ("PROPFIND", "/records/ticket", {"GET", "POST", "HEAD"}),
    ("CONNECT", "/records/ticket/{id}", {"GET", "PATCH", "DELETE", "HEAD"}),
    ("MKCOL", "/relationships", {"POST"}),
])
def test_an_unknown_method_is_a_405_problem_with_the_paths_methods(api, method, path, allowed):
    """TRACE or PROPFIND got Werkzeug's HTML 405 whose Allow named every method of the
    catch-all route (PUT and POST on /types)."""
    rid = _create(api)
    r = api(method, path.format(id=rid))
    body = _problem(r, 405)
    assert method in body["detail"]
    assert set(r.headers["Allow"].split(", ")) == allowed
    assert api("GET", f"/records/ticket/{rid}").json["version"] == 1


def test_an_unknown_method_on_an_unknown_api_path_is_a_404_problem(api):
    _problem(api("TRACE", "/nowhere"), 404)


def test_an_unknown_method_outside_the_api_is_left_to_the_ui(api):
    r = api.client.open("/login", method="TRACE")
    assert r.status_code == 405 and r.mimetype == "text/html"


# -- bodies that are not UTF-8 ------------------------------------------------------------
@pytest.mark.parametrize("raw,content_type,says", [
    (json.dumps({"data": {"title": "é"}}, ensure_ascii=False).encode("latin-1"),
     "application/json; charset=latin-1", ["0xe9 at offset 20", "charset=latin-1"]),
    (json.dumps({"data": {"title": "x"}}).encode("utf-16"), "application/json", ["0xff at offset 0"]),
    (b'{"data": {"title": "\xff"}}', "application/merge-patch+json", ["0xff at offset 20"]),
])
def test_a_body_that_is_not_utf8_says_which_byte(api, raw, content_type, says):
    """orjson's message was "str is not valid UTF-8: surrogates not allowed … (char 0)"
    wherever the bad byte was, and whatever the body's encoding."""
    body = _problem(api("POST", "/records/ticket", data=raw, content_type=content_type), 400)
    assert "not UTF-8" in body["detail"] and "surrogates" not in body["detail"]
    for text in says:
        assert text in body["detail"]
    assert _count(api) == 0


def test_utf8_declared_in_charset_is_read(api):
    raw = json.dumps({"data": {"title": "é"}}, ensure_ascii=False).encode()
    r = api("POST", "/records/ticket", data=raw, content_type="application/json; charset=UTF-8")
    assert r.status_code == 201 and r.json["data"]["title"] == "é"


# -- KPI period ending on the last calendar day --------------------------------------------
def test_a_kpi_period_may_end_on_the_last_calendar_day(api):
    """``to=9999-12-31`` is a valid calendar date: it was a 500 (the day after it overflows).
    Records without the time field stay outside any bounded period, as for every other ``to``."""
    _create(api, due="2025-01-01")
    _create(api, due="9999-12-31")
    _create(api)
    r = api("GET", "/kpis/tickets?to=9999-12-31")
    assert r.status_code == 200, r.get_data(as_text=True)
    assert (r.json["n"], r.json["to"], r.json["from"]) == (2, "9999-12-31", None)
    r = api("GET", "/kpis/tickets?from=2025-01-02&to=9999-12-31&by=prio")
    assert r.status_code == 200 and r.json["n"] == 1 and r.json["to"] == "9999-12-31"
    assert api("GET", "/kpis/tickets?from=9999-12-31&to=9999-12-31").json["n"] == 1
    assert api("GET", "/kpis/tickets?to=9999-12-30").json["n"] == 1


# -- limit --------------------------------------------------------------------------------
@pytest.mark.parametrize("given", ["1_0", "\uff12", " 2", "2 ", "+2", "0x10", "1e2", "9" * 5000])
def test_limit_is_written_in_ascii_digits(api, given):
    """int() read "1_0" as 10, a full-width "２" as 2 and " 2" as 2; 5,000 digits must not be a 500."""
    _create(api)
    body = _problem(api("GET", "/records/ticket", query_string={"limit": given}), 400)
    assert body["errors"][0]["pointer"] == "/query/limit"


@pytest.mark.parametrize("given,status", [("1", 200), ("0002", 200), ("1000", 200), ("0", 400), ("-1", 400),
                                           ("1001", 400), ("9" * 19, 400)])
def test_limit_range(api, given, status):
    _create(api)
    _create(api)
    r = api("GET", "/records/ticket", query_string={"limit": given})
    assert r.status_code == status
    if status == 400:
        assert r.json["errors"] == [{"pointer": "/query/limit", "message": "out of range"}]
    else:
        assert len(r.json["items"]) == min(int(given), 2)


# -- sort ---------------------------------------------------------------------------------
def test_a_long_sort_is_refused_before_it_reaches_the_database(api):
    """A cursor's keyset condition grows with the square of the sort fields: ``sort`` naming
    200 fields (``prio,-title`` repeated) kept the worker busy for 20 s per page, 2,000 for
    hours. A field may be named once, and at most 16 of them."""
    for i in range(3):
        _create(api, prio=i)
    body = _problem(api("GET", "/records/ticket", query_string={"sort": ",".join(["prio", "-title"] * 100)}), 400)
    assert body["errors"] == [{"pointer": "/query/sort", "message": "more than 16 fields"}]
    assert "200 fields" in body["detail"]
    body = _problem(api("GET", "/records/ticket?sort=prio,-prio"), 400)
    assert "'prio' is named twice" in body["detail"]
    body = _problem(api("GET", "/records/ticket?sort=title,-meta.level,title"), 400)
    assert body["errors"] == [{"pointer": "/query/sort", "message": "title repeated"}]


def test_sorting_by_several_fields_pages_through_every_record_once(api):
    ids = {_create(api, prio=i % 2, ref=f"r{i}", meta={"level": i % 3}, due=f"2025-01-0{1 + i % 4}") for i in range(9)}
    _create(api, ref="none")  # absent values come last
    ids = set(ids) | {next(x["id"] for x in api("GET", "/records/ticket?filter[ref]=none").json["items"])}
    seen, cursor = [], None
    while True:
        r = api("GET", "/records/ticket", query_string={"sort": "-prio,meta.level,-due,ref", "limit": 2,
                                                         **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.json
        seen += [x["id"] for x in r.json["items"]]
        cursor = r.json["next"]
        if not cursor:
            break
    one_page = [x["id"] for x in api("GET", "/records/ticket?sort=-prio,meta.level,-due,ref&limit=100").json["items"]]
    assert seen == one_page and set(seen) == ids and len(seen) == 10


def test_the_sort_rule_is_documented(api):
    spec = api("GET", "/openapi.json").json
    sort = next(p for p in spec["paths"]["/api/v1/records/ticket"]["get"]["parameters"] if p["name"] == "sort")
    assert "at most 16" in sort["description"] and "once" in sort["description"]


# -- compressed bodies --------------------------------------------------------------------
def test_a_compressed_body_is_a_415_naming_the_content_encoding(api):
    import gzip
    raw = gzip.compress(json.dumps({"data": {"title": "g"}}).encode())
    r = api("POST", "/records/ticket", data=raw, content_type="application/json", headers={"Content-Encoding": "gzip"})
    body = _problem(r, 415)
    assert "Content-Encoding gzip" in body["detail"] and r.headers["Accept-Encoding"] == "identity"
    assert _count(api) == 0
    r = api("POST", "/records/ticket", json={"data": {"title": "g"}}, headers={"Content-Encoding": "identity"})
    assert r.status_code == 201


# -- query strings that are not UTF-8 -----------------------------------------------------
@pytest.mark.parametrize("query,name", [
    ("filter%5Btitle%5D=%E9", "filter[title]"),  # é in Latin-1
    ("filter[title][in]=a,%E9t%E9", "filter[title][in]"),
    ("limit=%FF", "limit"),
])
def test_a_query_parameter_that_is_not_utf8_is_a_400_naming_it(api, query, name):
    """Werkzeug kept ``%E9`` as the text "%E9": ``filter[title]=%E9`` answered 200 with no
    records, as if nothing were called é, instead of saying the encoding was wrong."""
    _create(api, title="é")
    body = _problem(api("GET", f"/records/ticket?{query}"), 400)
    assert body["errors"] == [{"pointer": f"/query/{name}", "message": "not UTF-8"}]
    assert "%C3%A9" in body["detail"]


def test_a_write_with_a_non_utf8_parameter_writes_nothing(api):
    _problem(api("POST", "/records/ticket?note=%E9", json={"data": {"title": "x"}}), 400)
    assert _count(api) == 0


def test_utf8_query_parameters_still_match(api):
    rid = _create(api, title="é")
    for query in ("filter%5Btitle%5D=%C3%A9", "filter[title]=%C3%A9", "filter[title][in]=a,%C3%A9"):
        r = api("GET", f"/records/ticket?{query}")
        assert r.status_code == 200 and [x["id"] for x in r.json["items"]] == [rid], query


# -- If-None-Match on writes --------------------------------------------------------------
@pytest.mark.parametrize("header", ["*", '"1"', 'W/"1"', '"7", "1"'])
def test_if_none_match_naming_the_version_refuses_a_write(api, header):
    """RFC 9110 §13.1.2: a false If-None-Match on a write is a 412. It was ignored, so
    ``If-None-Match: *`` ("only if it does not exist") or the version last seen ("only if it
    changed since") overwrote or deleted the record the client meant to leave alone."""
    rid = _create(api, prio=1)
    path = f"/records/ticket/{rid}"
    body = _problem(api("PATCH", path, json={"data": {"prio": 2}}, headers={"If-None-Match": header}), 412)
    assert "If-None-Match" in body["detail"]
    _problem(api("DELETE", path, headers={"If-None-Match": header}), 412)
    record = api("GET", path).json
    assert (record["version"], record["data"]["prio"]) == (1, 1)
    assert [a["kind"] for a in api("GET", f"{path}/history").json["items"]] == ["created"]


def test_if_none_match_naming_another_version_lets_the_write_through(api):
    rid = _create(api, prio=1)
    path = f"/records/ticket/{rid}"
    r = api("PATCH", path, json={"data": {"prio": 2}}, headers={"If-None-Match": '"7"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    r = api("PATCH", path, json={"data": {"prio": 3}}, headers={"If-None-Match": '"1"', "If-Match": '"2"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"3"'
    _problem(api("PATCH", path, json={"data": {"prio": 4}}, headers={"If-None-Match": "3"}), 400)  # unquoted
    assert api("DELETE", path, headers={"If-None-Match": '"1", "2"'}).status_code == 204


def test_if_none_match_on_writes_is_documented(api):
    spec = api("GET", "/openapi.json").json
    for method in ("patch", "delete"):
        operation = spec["paths"]["/api/v1/records/ticket/{id}"][method]
        header = next(p for p in operation["parameters"] if p["name"] == "If-None-Match")
        assert "412" in header["description"] and "412" in operation["responses"]


# -- in lists -----------------------------------------------------------------------------
def test_an_in_filter_lists_at_most_1000_values(api):
    """Each value is a bound parameter: 10,000 took seconds, and past 65,535 PostgreSQL
    refused the statement (a 500)."""
    rid = _create(api, prio=999)
    values = ",".join(str(i) for i in range(1000))
    r = api("GET", "/records/ticket", query_string={"filter[prio][in]": values})
    assert r.status_code == 200 and [x["id"] for x in r.json["items"]] == [rid]
    body = _problem(api("GET", "/records/ticket", query_string={"filter[prio][in]": values + ",1000"}), 400)
    assert body["errors"] == [{"pointer": "/query/filter[prio][in]", "message": "more than 1000 values"}]
    spec = api("GET", "/openapi.json").json
    param = next(p for p in spec["paths"]["/api/v1/records/ticket"]["get"]["parameters"] if p["name"] == "filter")
    assert "at most 1000 values" in param["description"]


# -- related ------------------------------------------------------------------------------
def test_an_unknown_rel_is_a_400_on_the_parameter_not_a_404(api):
    """``?rel=nope`` answered 404 "unknown relationship type": a client reads a 404 on a
    record's path as "the record is gone"."""
    rid = _create(api)
    body = _problem(api("GET", f"/records/ticket/{rid}/related?rel=nope"), 400)
    assert body["errors"] == [{"pointer": "/query/rel", "message": "unknown relationship type"}]
    assert "nope" in body["detail"]
    assert api("GET", f"/records/ticket/{rid}/related?rel=handles").json == {"items": [], "next": None}
    _problem(api("GET", "/records/ticket/missing/related?rel=nope"), 404)  # the record first
