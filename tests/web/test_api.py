"""REST API /api/v1 (DESIGN §5): tokens, problems, ETags, cursors, filters, scope."""
from __future__ import annotations

import pytest

from xrm_core import accounts
from xrm_core.web import create_app


@pytest.fixture
def api(org):
    app = create_app(org, {"TESTING": True})
    client = app.test_client()
    tokens = {}
    with org.connection() as conn:
        for user in ("admin", "manager_a", "manager_b", "agent_a", "analyst", "nobody"):
            tokens[user] = accounts.create_token(conn, user)

    class Api:
        platform = org

        def __call__(self, method, path, user="admin", **kw):
            headers = kw.pop("headers", {})
            if user:
                headers["Authorization"] = f"Bearer {tokens[user]}"
            return client.open(f"/api/v1{path}", method=method, headers=headers, **kw)

    return Api()


def _create(api, user="admin", **data):
    r = api("POST", "/records/person", user, json={"data": {"name": "P", **data}})
    assert r.status_code == 201, r.json
    return r.json


def test_create_get_patch_delete_with_etags(api):
    r = api("POST", "/records/person", json={"data": {"name": "Ada", "age": 36}})
    assert r.status_code == 201
    assert r.headers["ETag"] == '"1"'
    assert r.headers["Location"].endswith(f"/api/v1/records/person/{r.json['id']}")
    rid = r.json["id"]
    assert set(r.json) >= {"id", "type", "data", "version", "owner", "unit", "created_at", "updated_at"}

    r = api("GET", f"/records/person/{rid}")
    assert r.status_code == 200 and r.headers["ETag"] == '"1"' and r.json["data"] == {"name": "Ada", "age": 36}

    r = api("PATCH", f"/records/person/{rid}", json={"data": {"age": None, "email": "ada@example.org"}},
            headers={"If-Match": '"1"'})
    assert r.status_code == 200 and r.headers["ETag"] == '"2"'
    assert r.json["data"] == {"name": "Ada", "email": "ada@example.org"}

    r = api("PATCH", f"/records/person/{rid}", json={"data": {"age": 1}}, headers={"If-Match": '"1"'})
    assert r.status_code == 412
    assert r.mimetype == "application/problem+json"
    assert api("GET", f"/records/person/{rid}").json["version"] == 2

    assert api("DELETE", f"/records/person/{rid}").status_code == 204
    assert api("GET", f"/records/person/{rid}").status_code == 404


def test_validation_problem_has_pointers(api):
    r = api("POST", "/records/person", json={"data": {"name": "X", "email": "not-an-email", "age": -1}})
    assert r.status_code == 422
    assert r.mimetype == "application/problem+json"
    pointers = {e["pointer"] for e in r.json["errors"]}
    assert pointers == {"/data/email", "/data/age"}
    assert {"type", "title", "status", "detail"} <= set(r.json)


@pytest.mark.parametrize("body,status", [
    ("{not json", 400),
    ('{"data": {"name": "x"}, "extra": 1}', 422),
    ('{"nodata": 1}', 422),
    ("[1, 2]", 422),
])
def test_bad_bodies(api, body, status):
    r = api("POST", "/records/person", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == status
    assert r.mimetype == "application/problem+json"


def test_auth_required(api):
    assert api("GET", "/records/person", user=None).status_code == 401
    r = api("GET", "/records/person", user=None, headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")


def test_unique_conflict_is_409(api):
    _create(api, national_id="N1")
    r = api("POST", "/records/person", json={"data": {"name": "Q", "national_id": "N1"}})
    assert r.status_code == 409
    assert r.json["errors"][0]["pointer"] == "/data/national_id"


def test_cursor_pagination_sort_and_filters(api):
    for age in (5, 3, 9, 1, 7, 3):
        _create(api, age=age)
    seen, cursor = [], None
    while True:
        q = "/records/person?limit=2&sort=-age" + (f"&cursor={cursor}" if cursor else "")
        r = api("GET", q)
        assert r.status_code == 200
        seen += [i["data"]["age"] for i in r.json["items"]]
        cursor = r.json["next"]
        if cursor is None:
            break
    assert seen == [9, 7, 5, 3, 3, 1]
    r = api("GET", "/records/person?filter[age][gte]=5&filter[age][lt]=9")
    assert sorted(i["data"]["age"] for i in r.json["items"]) == [5, 7]
    r = api("GET", "/records/person?filter[age]=3")
    assert len(r.json["items"]) == 2
    r = api("GET", "/records/person?filter[age][in]=1,9")
    assert sorted(i["data"]["age"] for i in r.json["items"]) == [1, 9]


@pytest.mark.parametrize("query", [
    "filter[nope]=1", "sort=nope", "filter[age][like]=1", "filter[age]=abc", "cursor=garbage",
    "limit=0", "limit=x", "filter[age]]=1", "sort=-data) OR 1=1 --",
])
def test_bad_queries_are_400_never_sql(api, query):
    _create(api, age=1)
    r = api("GET", f"/records/person?{query}")
    assert r.status_code == 400, (query, r.json)
    assert r.mimetype == "application/problem+json"


def test_scope_out_of_scope_is_404_everywhere(api):
    mine = _create(api, "manager_a", name="A")
    theirs = _create(api, "manager_b", name="B")
    r = api("GET", "/records/person", "manager_a")
    assert [i["id"] for i in r.json["items"]] == [mine["id"]]
    unknown = "0" * 20
    for path in (f"/records/person/{theirs['id']}", f"/records/person/{theirs['id']}/history",
                 f"/records/person/{theirs['id']}/related"):
        leak = api("GET", path, "manager_a")
        missing = api("GET", path.replace(theirs["id"], unknown), "manager_a")
        assert leak.status_code == missing.status_code == 404
        assert leak.json["title"] == missing.json["title"]
    assert api("PATCH", f"/records/person/{theirs['id']}", "manager_a", json={"data": {"age": 1}}).status_code == 404
    assert api("DELETE", f"/records/person/{theirs['id']}", "manager_a").status_code == 404
    r = api("GET", f"/records/person?filter[name]=B", "manager_a")
    assert r.json["items"] == []
    assert api("GET", "/records/person", "nobody").status_code == 403


def test_relationships_related_and_history(api):
    a = _create(api, name="A")
    b = _create(api, name="B")
    r = api("POST", "/relationships", json={"type": "knows", "source": a["id"], "target": b["id"]})
    assert r.status_code == 201
    rel = r.json
    r = api("GET", f"/records/person/{b['id']}/related")
    assert [(i["direction"], i["record"]["id"]) for i in r.json["items"]] == [("incoming", a["id"])]
    r = api("POST", f"/records/person/{a['id']}/history", json={"kind": "call", "summary": "asked about X"})
    assert r.status_code == 201 and r.json["kind"] == "call"
    r = api("POST", f"/records/person/{a['id']}/history", json={"kind": "telepathy", "summary": "?"})
    assert r.status_code == 422
    kinds = [x["kind"] for x in api("GET", f"/records/person/{a['id']}/history").json["items"]]
    assert kinds == ["created", "related", "call"]
    assert api("DELETE", f"/relationships/{rel['id']}").status_code == 204
    assert api("GET", f"/records/person/{b['id']}/related").json["items"] == []


def test_types_kpis_and_openapi(api):
    assert "person" in [t["name"] for t in api("GET", "/types").json]
    assert api("GET", "/types/person").json["name"] == "person"
    assert api("GET", "/types/nope").status_code == 404
    assert api("GET", "/kpis").status_code == 200
    assert api("GET", "/kpis/nope").status_code == 404
    spec = api("GET", "/openapi.json", user=None).json
    assert spec["openapi"].startswith("3.1")
    schemas = spec["components"]["schemas"]
    assert schemas["person.data"]["properties"]["age"] == {"type": "integer", "minimum": 0}
    assert schemas["person.data"]["properties"]["phone"]["$ref"] == "#/components/schemas/common.phone"
    assert "common.phone" in schemas
    assert "/api/v1/records/person/{id}" in spec["paths"]
    assert api("GET", "/docs", user=None).status_code == 200
