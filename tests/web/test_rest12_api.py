"""REST audit 12: the small inconsistencies an external team reported.

- an empty query parameter (``sort=``, ``sort=,``, ``cursor=``, ``rel=``, ``from=``) was taken
  for an absent one, while ``limit=`` or ``order=`` were 400s: every one is now a 400 naming it;
- ``filter[F][in]=`` (an empty list) matched nothing while ``filter[F]=`` of a number was a
  400: an ``in`` list needs at least one value, none of them empty;
- ``TYPE.record`` in /openapi.json now says what answers hold (``type`` a const of the type's
  name, the id's pattern, names that are never null, timestamps' format), checked against
  real answers;
- a problem says when its ``errors`` are not all there is (``errors_incomplete``).
Runs on SQLite and, with XRM_TEST_DATABASE_URL, on PostgreSQL.
"""
from __future__ import annotations

import jsonschema
import pytest

from xrm_core import accounts
from xrm_core.web import create_app
from xrm_core.web.problems import MAX_ERRORS

PROBLEM = "application/problem+json"


@pytest.fixture
def api(org):
    app = create_app(org, {"TESTING": True})
    client = app.test_client()
    with org.connection() as conn:
        token = accounts.create_token(conn, "admin")

    def call(method, path, **kw):
        return client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw)

    return call


def _problem(r, status: int, pointer: str) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.mimetype == PROBLEM
    body = r.json
    assert [e["pointer"] for e in body["errors"]] == [pointer], body
    assert "Traceback" not in r.get_data(as_text=True)
    return body


def _person(api, **data) -> dict:
    r = api("POST", "/records/person", json={"data": {"name": "Ada", **data}})
    assert r.status_code == 201, r.json
    return r.json


# -- 1. empty parameters -------------------------------------------------------------------
@pytest.mark.parametrize("query,pointer,words", [
    ("sort=", "/query/sort", "'sort' is empty"),
    ("sort=,", "/query/sort", "empty item (number 1 of 2)"),
    ("sort=name,", "/query/sort", "empty item (number 2 of 2)"),
    ("sort=,,name", "/query/sort", "empty item (number 1 of 3)"),
    ("sort=-", "/query/sort", "a - alone"),
    ("cursor=", "/query/cursor", "'cursor' is empty"),
    ("limit=", "/query/limit", "'limit' is empty"),
])
def test_an_empty_list_parameter_is_a_400_naming_it(api, query, pointer, words):
    # sort= and sort=, answered 200 in creation order: the client that built "sort=" from an
    # empty list of columns, or left a trailing comma, never learnt its order was not applied.
    _person(api)
    body = _problem(api("GET", f"/records/person?{query}"), 400, pointer)
    assert words in body["detail"]


def test_empty_parameters_of_the_other_endpoints_are_400s_too(api, org):
    from xrm_core import kpis
    with org.connection() as conn:
        kpis.add(org, conn, {"name": "avg_age", "label": "Average age", "unit": "years", "entity": "person",
                             "measure": {"avg": "age"}})
    rid = _person(api, age=3)["id"]
    for path, pointer in [(f"/records/person/{rid}/related?rel=", "/query/rel"),
                          (f"/records/person/{rid}/history?cursor=", "/query/cursor"),
                          (f"/records/person/{rid}/history?order=", "/query/order"),
                          ("/kpis/avg_age?from=", "/query/from"), ("/kpis/avg_age?to=", "/query/to"),
                          ("/kpis/avg_age?by=", "/query/by")]:
        body = _problem(api("GET", path), 400, pointer)
        assert "is empty: give it a value, or leave it out for its default" in body["detail"], path
    # Left out, each still takes its default.
    assert api("GET", f"/records/person/{rid}/related").status_code == 200
    assert api("GET", "/kpis/avg_age").json["value"] == 3


def test_a_sort_with_no_empty_item_still_sorts(api):
    for name in ("b", "a", "c"):
        _person(api, national_id=name, age=len(name))
    r = api("GET", "/records/person?sort=-national_id,age")
    assert r.status_code == 200
    assert [i["data"]["national_id"] for i in r.json["items"]] == ["c", "b", "a"]


# -- 2. an empty in list ---------------------------------------------------------------------
@pytest.mark.parametrize("query,pointer,words", [
    ("filter[name][in]=", "/query/filter[name][in]", "needs at least one value"),
    ("filter[age][in]=", "/query/filter[age][in]", "needs at least one value"),
    ("filter[age][in]=,", "/query/filter[age][in]", "empty item (number 1 of 2)"),
    ("filter[name][in]=Ada,,Bo", "/query/filter[name][in]", "empty item (number 2 of 3)"),
    ("filter[name][in]=Ada,", "/query/filter[name][in]", "empty item (number 2 of 2)"),
])
def test_an_in_filter_needs_values_none_of_them_empty(api, query, pointer, words):
    # filter[age][in]= answered an empty page ("none"), while filter[age]= was a 400, and
    # Ada,,Bo silently dropped the empty item: both now say what was wrong, where.
    _person(api, age=3)
    body = _problem(api("GET", f"/records/person?{query}"), 400, pointer)
    assert words in body["detail"]


def test_the_empty_text_is_found_with_an_equality_filter(api):
    empty = _person(api, national_id="")["id"]
    _person(api, national_id="N1")
    r = api("GET", "/records/person?filter[national_id]=")
    assert r.status_code == 200 and [i["id"] for i in r.json["items"]] == [empty]
    r = api("GET", "/records/person?filter[national_id][in]=N1,N2")
    assert r.status_code == 200 and [i["data"]["national_id"] for i in r.json["items"]] == ["N1"]


# -- 3. what the document says of a record ----------------------------------------------------
def _validator(spec: dict, component: str) -> jsonschema.Draft202012Validator:
    """A validator of ``component`` that resolves the document's own ``#/components/…``."""
    root = {**spec, "$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": f"#/components/schemas/{component}"}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def test_a_types_record_schema_says_what_its_answers_hold(api):
    spec = api("GET", "/openapi.json").json
    person = spec["components"]["schemas"]["person.record"]
    props = person["properties"]
    assert props["type"] == {"const": "person"}
    assert spec["components"]["schemas"]["note.record"]["properties"]["type"] == {"const": "note"}
    assert props["id"]["pattern"] == "^[0-9a-f]{20}$"
    assert props["version"]["minimum"] == 1
    for name in ("owner", "unit", "created_by", "updated_by"):
        assert props[name]["type"] == "string", name  # never null: users and units are never deleted
    for name in ("created_at", "updated_at"):
        assert props[name]["format"] == "date-time" and props[name]["pattern"], name
    assert set(person["required"]) == set(props)

    # ... and every answer holding a record fits it, and no other type's.
    a = _person(api, age=3)
    b = _person(api, national_id="N2")
    r = api("PATCH", f"/records/person/{a['id']}", json={"data": {"age": 4}})
    assert r.status_code == 200
    rel = api("POST", "/relationships", json={"type": "knows", "source": a["id"], "target": b["id"]})
    assert rel.status_code == 201
    answers = [a, r.json, api("GET", f"/records/person/{b['id']}").json,
               *api("GET", "/records/person?sort=-age").json["items"]]
    record, note = _validator(spec, "person.record"), _validator(spec, "note.record")
    for answer in answers:
        record.validate(answer)
        assert not note.is_valid(answer)
    _validator(spec, "Relationship").validate(rel.json)
    related = api("GET", f"/records/person/{a['id']}/related").json["items"]
    assert related
    # A related record is one of the types' records, told apart by its type.
    assert spec["components"]["schemas"]["Related"]["properties"]["record"] == {
        "oneOf": [{"$ref": "#/components/schemas/note.record"}, {"$ref": "#/components/schemas/person.record"}]}
    for item in related:
        _validator(spec, "Related").validate(item)
        record.validate(item["record"])
        assert not _validator(spec, "Related").is_valid({**item, "record": {**item["record"], "type": "note"}})


def test_the_document_refuses_what_the_records_never_are(api):
    spec = api("GET", "/openapi.json").json
    record = _validator(spec, "person.record")
    good = _person(api)
    assert record.is_valid(good)
    for member, wrong in [("type", "note"), ("id", "X1"), ("version", 0), ("owner", None), ("unit", None),
                          ("created_at", "2026-11-27"), ("updated_at", "yesterday")]:
        assert not record.is_valid({**good, member: wrong}), member


def test_the_document_says_empty_parameters_are_refused(api):
    spec = api("GET", "/openapi.json").json
    params = {p["name"]: p for p in spec["paths"]["/api/v1/records/person"]["get"]["parameters"]}
    assert params["cursor"]["schema"]["minLength"] == 1
    assert "`sort=,`" in params["sort"]["description"]
    sort = jsonschema.Draft202012Validator(params["sort"]["schema"])
    assert sort.is_valid("-name,age") and not any(sort.is_valid(v) for v in ("", ",", "name,", ",name"))
    assert "`filter[F][in]=`" in params["filter"]["description"]
    assert "empty value" in spec["info"]["description"]


# -- 4. a problem that lists only some errors -------------------------------------------------
def test_a_problem_cut_at_max_errors_says_it_is_incomplete(api):
    n = MAX_ERRORS + 5
    r = api("POST", "/records/person", data='{"data": {"name": "x", "tags": [%s]}}' % ",".join(["1"] * n),
            content_type="application/json")
    assert r.status_code == 422
    assert r.json["errors_omitted"] == 5 and r.json["errors_incomplete"] is True
    r = api("POST", "/records/person", json={"data": {"name": "x", "tags": [1]}})
    assert r.status_code == 422 and "errors_incomplete" not in r.json and "errors_omitted" not in r.json
    problem = api("GET", "/openapi.json").json["components"]["schemas"]["Problem"]["properties"]
    assert problem["errors_incomplete"]["const"] is True


def test_a_large_invalid_record_says_only_its_first_error_is_listed(api):
    tags = ",".join(["1"] * 40_000)  # > 64 KiB of data, every item of the wrong type
    r = api("POST", "/records/person", data='{"data": {"name": "x", "tags": [%s]}}' % tags,
            content_type="application/json")
    assert r.status_code == 422
    body = r.json
    assert [e["pointer"] for e in body["errors"]] == ["/data/tags/0"]
    assert body["errors_incomplete"] is True and "errors_omitted" not in body
    assert "only its first error is listed" in body["detail"]
    assert api("GET", "/records/person").json["items"] == []


def test_a_created_record_links_to_what_can_be_done_with_it_next(api):
    # OpenAPI links: a client (and schemathesis' stateful runs) learn from the document that
    # the created record's id and type fill the paths of its read, change, delete, related
    # records and timeline.
    spec = api("GET", "/openapi.json").json
    links = spec["paths"]["/api/v1/records/person"]["post"]["responses"]["201"]["links"]
    operations = {op["operationId"]: (path, op) for path, ops in spec["paths"].items() for op in ops.values()}
    assert {link["operationId"] for link in links.values()} == {
        "get_person", "update_person", "delete_person", "related", "history", "log"}
    for link in links.values():
        path, op = operations[link["operationId"]]
        params = {p["name"] for p in op.get("parameters", []) if p["in"] == "path"}
        assert set(link["parameters"]) == params, (path, link)
        assert all(v in ("$response.body#/id", "$response.body#/type") for v in link["parameters"].values())
