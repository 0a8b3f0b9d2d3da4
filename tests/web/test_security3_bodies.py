"""Security review 3: request bodies built to hurt the server rather than to store anything.

* A body nested about a thousand levels deep (orjson reads up to 1,024) overflowed Python's
  stack in the API's NUL check: a 500 and a logged traceback instead of the 422 the core
  gives record data nested past ``stored_json.MAX_DEPTH``.
* A few megabytes of wrong array items drew one error each: two million errors made a
  150 MB problem document and kept a worker busy for over a minute. A problem now lists at
  most ``problems.MAX_ERRORS`` errors and says how many it left out.

Every refused body leaves the database as it was.
"""
from __future__ import annotations

import pytest

from xrm_core import accounts
from xrm_core.stored_json import MAX_DEPTH
from xrm_core.web import create_app
from xrm_core.web.problems import MAX_ERRORS

PROBLEM = "application/problem+json"


@pytest.fixture
def api(org):
    # TESTING off: an exception in a view becomes the 500 a client would get, not a test error.
    app = create_app(org, {"TESTING": False})
    client = app.test_client()
    with org.connection() as conn:
        token = accounts.create_token(conn, "admin")

    def call(method, path, raw=None, **kw):
        return client.open("/api/v1" + path, method=method, data=raw,
                           headers={"Authorization": f"Bearer {token}"},
                           content_type="application/json" if raw is not None else None, **kw)
    return call


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _counts(org) -> tuple[int, int, int]:
    from sqlalchemy import func, select
    from xrm_core import db
    with org.connection() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one()
                     for t in (db.records, db.relationships, db.activities))


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 300, 998, 1000, 1022])
def test_a_deeply_nested_body_is_a_422_naming_where_on_every_write(api, org, depth):
    a = api("POST", "/records/person", '{"data": {"name": "A"}}').json["id"]
    b = api("POST", "/records/person", '{"data": {"name": "B"}}').json["id"]
    before = _counts(org)
    deep = _nested(depth)
    for method, path, raw, where in [
            ("POST", "/records/person", '{"data": {"name": "x", "tags": %s}}' % deep, "/data/tags/0"),
            ("PATCH", f"/records/person/{a}", '{"data": {"tags": %s}}' % deep, "/data/tags/0"),
            ("POST", "/relationships", '{"type": "knows", "source": "%s", "target": "%s", "data": {"x": %s}}'
             % (a, b, deep), "/data/x/0"),
            ("POST", f"/records/person/{a}/history", '{"kind": "call", "summary": "s", "payload": {"x": %s}}'
             % deep, "/payload/x/0")]:
        r = api(method, path, raw)
        assert r.status_code == 422, (method, path, r.status_code, r.get_data(as_text=True)[:200])
        assert r.mimetype == PROBLEM
        (err,) = r.json["errors"]
        # MAX_DEPTH levels inside the stored value: the pointer runs down to the one too deep
        assert err["pointer"].startswith(where) and err["pointer"].count("/") == MAX_DEPTH + 1, err["pointer"]
        assert f"more than {MAX_DEPTH} levels" in err["message"]
    assert _counts(org) == before
    assert api("GET", f"/records/person/{a}").json["version"] == 1


def test_data_nested_to_the_limit_is_still_stored(api):
    # MAX_DEPTH - 1 arrays inside "tags", itself inside data: MAX_DEPTH levels in data.
    r = api("POST", "/records/person", '{"data": {"name": "x", "extra": %s}}' % _nested(MAX_DEPTH - 1))
    assert r.status_code == 201, r.json


def test_a_problem_lists_at_most_max_errors_and_counts_the_rest(api, org):
    before = _counts(org)
    n = MAX_ERRORS * 30
    r = api("POST", "/records/person", '{"data": {"name": "x", "tags": [%s]}}' % ",".join(["1"] * n))
    assert r.status_code == 422 and r.mimetype == PROBLEM
    body = r.json
    assert len(body["errors"]) == MAX_ERRORS
    assert body["errors_omitted"] == n - MAX_ERRORS
    assert all(e["pointer"].startswith("/data/tags/") for e in body["errors"])
    assert len(r.get_data()) < 100_000
    assert _counts(org) == before


def test_a_problem_with_few_errors_lists_them_all_and_omits_nothing(api):
    r = api("POST", "/records/person", '{"data": {"name": "x", "tags": [1, 2]}}')
    assert r.status_code == 422
    assert sorted(e["pointer"] for e in r.json["errors"]) == ["/data/tags/0", "/data/tags/1"]
    assert "errors_omitted" not in r.json


def test_an_error_message_quoting_a_huge_value_is_cut_short(api, org):
    from xrm_core.web.problems import MAX_MESSAGE
    before = _counts(org)
    # "tags" must be an array: the library's message quotes the object it got, all of it.
    huge = "{" + ",".join(f'"k{i}": "v"' for i in range(5000)) + "}"
    r = api("POST", "/records/person", '{"data": {"name": "x", "tags": %s}}' % huge)
    assert r.status_code == 422
    (err,) = r.json["errors"]
    assert err["pointer"] == "/data/tags"
    assert len(err["message"]) == MAX_MESSAGE and err["message"].endswith("…")
    assert err["message"].startswith('{"k0":"v"')
    assert _counts(org) == before
