"""Scope probes (issue 4): dealer A's tokens against dealer B's records through every REST
path — list, get, filter, sort, cursor, related, history, KPI, export — leak nothing, and
each answer about one of B's records is identical (status, body shape, title, detail) to the
answer about an id that does not exist.

Users from the ``org`` fixture: manager_a (dealer_a, unit depth), agent_a (dealer_a, own
depth); B's records are created by manager_b in dealer_b.
"""
from __future__ import annotations

import json

import pytest

from xrm_core import accounts, kpis
from xrm_core.web import create_app

UNKNOWN = "0123456789abcdef0123"  # looks like an id, names nothing
A_USERS = ("manager_a", "agent_a")


@pytest.fixture
def world(org):
    app = create_app(org, {"TESTING": True})
    client = app.test_client()
    with org.connection() as conn:
        tokens = {u: accounts.create_token(conn, u) for u in ("admin", "manager_b", *A_USERS)}
        kpis.add(org, conn, {"name": "avg_age", "label": "Average age", "unit": "years", "entity": "person",
                             "measure": {"avg": "age"}})

    def call(method, path, user, **kw):
        headers = {"Authorization": f"Bearer {tokens[user]}", **kw.pop("headers", {})}
        return client.open(f"/api/v1{path}", method=method, headers=headers, **kw)

    def create(user, **data):
        r = call("POST", "/records/person", user, json={"data": data})
        assert r.status_code == 201, r.json
        return r.json["id"]

    a1 = create("agent_a", name="Alice A", age=30, national_id="A-1")
    a2 = create("manager_a", name="Arash A", age=40)
    b1 = create("manager_b", name="Bahram B", age=90, national_id="B-SECRET")
    b2 = create("manager_b", name="Bita B", age=10)
    # Relationships across the dealers (made by admin, who sees both).
    r1 = call("POST", "/relationships", "admin", json={"type": "knows", "source": a1, "target": b1}).json["id"]
    call("POST", "/relationships", "admin", json={"type": "knows", "source": b2, "target": a1})
    call("POST", "/records/person/" + b1 + "/history", "manager_b", json={"kind": "call", "summary": "B's secret"})
    call("PATCH", "/records/person/" + b1, "manager_b", json={"data": {"age": 91}})
    return {"call": call, "a": {a1, a2}, "a1": a1, "a2": a2, "b": [b1, b2], "b1": b1, "rel_ab": r1}


def _same_as_unknown(world, method, path, user, body=None, headers=None):
    """Ask about B's record and about an unknown id in the same way; the answers must match.

    ``{id}`` in ``path`` and in the JSON ``body`` is replaced by the id asked about.
    """
    answers = {}
    for rid in (world["b1"], UNKNOWN):
        data = json.dumps(body).replace("{id}", rid) if body is not None else None
        answers[rid] = world["call"](method, path.format(id=rid), user, data=data, headers=headers or {},
                                     content_type="application/json" if data else None)
    leak, missing = answers[world["b1"]], answers[UNKNOWN]
    assert leak.status_code == missing.status_code == 404, (method, path, leak.status_code, leak.json)
    assert leak.mimetype == missing.mimetype == "application/problem+json"
    assert leak.json.keys() == missing.json.keys()
    assert leak.json["title"] == missing.json["title"]
    assert leak.json["detail"].replace(world["b1"], "ID") == missing.json["detail"].replace(UNKNOWN, "ID")
    assert dict(leak.headers).keys() == dict(missing.headers).keys()


def _no_b(world, response) -> None:
    text = response.get_data(as_text=True)
    for b in world["b"]:
        assert b not in text
    assert "Bahram" not in text and "Bita" not in text and "B-SECRET" not in text and "B's secret" not in text


@pytest.mark.parametrize("user", A_USERS)
def test_one_record_paths_answer_as_for_unknown_ids(world, user):
    for method, path, kw in [
        ("GET", "/records/person/{id}", {}),
        ("GET", "/records/person/{id}", {"headers": {"If-None-Match": '"1"'}}),
        ("GET", "/records/note/{id}", {}),
        ("PATCH", "/records/person/{id}", {"body": {"data": {"age": 1}}}),
        ("PATCH", "/records/person/{id}", {"body": {"data": {"age": 1}}, "headers": {"If-Match": '"2"'}}),
        ("PATCH", "/records/person/{id}", {"body": {"data": {"age": 1}}, "headers": {"If-Match": '"99"'}}),
        ("DELETE", "/records/person/{id}", {}),
        ("DELETE", "/records/person/{id}", {"headers": {"If-Match": '"2"'}}),
        ("GET", "/records/person/{id}/related", {}),
        ("GET", "/records/person/{id}/related?rel=knows", {}),
        ("GET", "/records/person/{id}/history", {}),
        ("GET", "/records/person/{id}/history?related=true", {}),
        ("POST", "/records/person/{id}/history", {"body": {"kind": "call", "summary": "probe"}}),
        ("POST", "/relationships", {"body": {"type": "knows", "source": world["a1"], "target": "{id}"}}),
        ("POST", "/relationships", {"body": {"type": "knows", "source": "{id}", "target": world["a1"]}}),
    ]:
        _same_as_unknown(world, method, path, user, **kw)
    # Nothing changed for B.
    r = world["call"]("GET", f"/records/person/{world['b1']}", "manager_b")
    assert r.json["version"] == 2 and r.json["data"]["age"] == 91


@pytest.mark.parametrize("user", A_USERS)
def test_lists_filters_sorts_and_cursors_show_only_a(world, user):
    call = world["call"]
    mine = {world["a1"]} if user == "agent_a" else world["a"]
    queries = ["", "?limit=1000", "?filter[name]=Bahram%20B", "?filter[national_id]=B-SECRET",
               "?filter[age][gte]=50", "?filter[age][in]=10,90,91", "?filter[age][exists]=true",
               "?sort=-age", "?sort=age", "?sort=name", "?sort=-national_id"]
    for q in queries:
        r = call("GET", f"/records/person{q}", user)
        assert r.status_code == 200, (q, r.json)
        assert {i["id"] for i in r.json["items"]} <= mine, q
        _no_b(world, r)
    # Paging one by one by a field B's records would sort between A's: still only A's.
    for sort in ("age", "-age", "name"):
        seen, cursor = [], None
        while True:
            r = call("GET", f"/records/person?limit=1&sort={sort}" + (f"&cursor={cursor}" if cursor else ""), user)
            seen += [i["id"] for i in r.json["items"]]
            _no_b(world, r)
            cursor = r.json["next"]
            if cursor is None:
                break
        assert set(seen) == mine and len(seen) == len(mine), sort


def test_related_and_history_of_a_visible_record_hide_b(world):
    call = world["call"]
    for user in A_USERS:
        r = call("GET", f"/records/person/{world['a1']}/related", user)
        assert r.status_code == 200 and r.json["items"] == []
        _no_b(world, r)
        for q in ("", "?related=true"):
            r = call("GET", f"/records/person/{world['a1']}/history{q}", user)
            assert r.status_code == 200
            # The links with B's records are left out entirely, relationship id and all.
            assert [a["kind"] for a in r.json["items"]] == ["created"]
            assert world["rel_ab"] not in r.get_data(as_text=True)
            _no_b(world, r)
    # The relationship between A's and B's record cannot be removed from A's side.
    r = world["call"]("DELETE", f"/relationships/{world['rel_ab']}", "manager_a")
    missing = world["call"]("DELETE", f"/relationships/{UNKNOWN}", "manager_a")
    assert r.status_code == missing.status_code == 404
    assert r.json["detail"].replace(world["rel_ab"], "ID") == missing.json["detail"].replace(UNKNOWN, "ID")


def test_kpis_count_only_a(world):
    call = world["call"]
    r = call("GET", "/kpis/avg_age", "manager_a")
    assert r.status_code == 200
    assert (r.json["n"], r.json["value"]) == (2, 35)
    r = call("GET", "/kpis/avg_age?by=name", "manager_a")
    assert sorted(g["key"] for g in r.json["groups"]) == ["Alice A", "Arash A"]
    _no_b(world, r)
    r = call("GET", "/kpis/avg_age", "agent_a")
    assert (r.json["n"], r.json["value"]) == (1, 30)
    r = call("GET", "/kpis/avg_age", "manager_b")
    assert (r.json["n"], r.json["value"]) == (2, 50.5)


def test_unique_conflict_does_not_name_bs_record(world):
    r = world["call"]("POST", "/records/person", "manager_a", json={"data": {"name": "X", "national_id": "B-SECRET"}})
    assert r.status_code == 409
    assert "existing" not in r.json
    assert world["b1"] not in r.get_data(as_text=True)  # the value typed is echoed, B's id is not
    r = world["call"]("POST", "/records/person", "manager_b", json={"data": {"name": "X", "national_id": "B-SECRET"}})
    assert r.status_code == 409 and r.json["existing"] == world["b1"]  # B may learn it


def test_export_as_a_user_leaves_b_out(world, cli):
    result = cli("export", "person", "--as", "manager_a")
    assert result.exit_code == 0, result.stderr
    names = {json.loads(line)["name"] for line in result.stdout.splitlines() if line.strip()}
    assert names == {"Alice A", "Arash A"}  # export writes each record's data
    assert "B-SECRET" not in result.stdout and "Bahram" not in result.stdout
