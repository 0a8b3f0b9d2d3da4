"""Scope audit through the REST API: what a cached token may still do after the
administrator changed its user. Reads may lag by ``API_AUTH_CACHE_SECONDS`` (documented in
docs/deployment.md); a write always acts as the user is now.

Units from the ``org`` fixture: hq > north > dealer_a, hq > south > dealer_b.
"""
from __future__ import annotations

import pytest

from xrm_core import accounts
from xrm_core.web import create_app


@pytest.fixture
def cached(org):
    """A client whose process keeps resolved tokens for a minute, and manager_a's token."""
    client = create_app(org, {"TESTING": True, "API_AUTH_CACHE_SECONDS": 60}).test_client()
    with org.connection() as conn:
        token = accounts.create_token(conn, "manager_a")
    headers = {"Authorization": f"Bearer {token}"}

    def call(method, path, **kw):
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kw)

    assert call("GET", "/records/person").status_code == 200  # the token is now cached
    return call


def test_a_moved_user_writes_in_the_new_unit_at_once(org, cached):
    with org.session("manager_a") as s:
        old = s.create("person", {"name": "left behind"}, unit="dealer_a")
    with org.session("admin") as s:
        colleague = s.create("person", {"name": "colleague's"}, unit="dealer_a").id
    with org.connection() as conn:
        accounts.move_user(conn, "manager_a", "dealer_b")
    # dealer_a's records are no longer hers to change or delete ...
    assert cached("PATCH", f"/records/person/{colleague}", json={"data": {"age": 1}}).status_code == 404
    assert cached("DELETE", f"/records/person/{colleague}").status_code == 404
    assert cached("POST", f"/records/person/{colleague}/history",
                  json={"kind": "call", "summary": "x"}).status_code == 404
    # ... except the one she owns, and new records go to dealer_b
    assert cached("PATCH", f"/records/person/{old.id}", json={"data": {"age": 2}}).status_code == 200
    r = cached("POST", "/records/person", json={"data": {"name": "new"}})
    assert r.status_code == 201 and r.json["unit"] == "dealer_b"
    with org.session() as s:
        assert s.get(colleague).version == 1


def test_a_deactivated_user_or_revoked_token_writes_nothing(org, cached):
    with org.connection() as conn:
        accounts.set_active(conn, "manager_a", False)
    r = cached("POST", "/records/person", json={"data": {"name": "after leaving"}})
    assert r.status_code == 401 and r.mimetype == "application/problem+json"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    with org.session() as s:
        assert s.count("person") == 0


def test_a_revoked_grant_stops_writes_at_once(org, cached):
    with org.session("manager_a") as s:
        rid = s.create("person", {"name": "A"}).id
    with org.connection() as conn:
        accounts.revoke_grant(conn, "manager", "*", ["update", "delete"])
    assert cached("PATCH", f"/records/person/{rid}", json={"data": {"age": 1}}).status_code == 403
    assert cached("DELETE", f"/records/person/{rid}").status_code == 403
    with org.session() as s:
        assert s.get(rid).version == 1


def test_a_moved_user_reads_the_new_unit_at_once(org, cached):
    with org.session("admin") as s:
        a = s.create("person", {"name": "dealer_a's"}, unit="dealer_a").id
        b = s.create("person", {"name": "dealer_b's"}, unit="dealer_b").id
    assert [i["id"] for i in cached("GET", "/records/person").json["items"]] == [a]
    with org.connection() as conn:
        accounts.move_user(conn, "manager_a", "dealer_b")
    assert [i["id"] for i in cached("GET", "/records/person").json["items"]] == [b]
    assert cached("GET", f"/records/person/{a}").status_code == 404
    assert cached("GET", f"/records/person/{a}/history").status_code == 404
    assert cached("GET", f"/records/person/{b}").status_code == 200


def test_a_deactivated_user_reads_nothing_at_once(org, cached):
    with org.connection() as conn:
        accounts.set_active(conn, "manager_a", False)
    for path in ("/records/person", "/types", "/kpis"):
        r = cached("GET", path)
        assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer"), path
