"""``xrm history --as``: a link with a record outside the user's scope is left out entirely,
with or without ``--related``, in text and JSON (DESIGN §3)."""
from __future__ import annotations

import json

from conftest import PersonPlugin


def _runner(cli):
    """``ok(*args)``: run ``xrm`` with the person test plugin, expect success, return stdout."""
    def ok(*args) -> str:
        r = cli(*args, plugins=[PersonPlugin()])
        assert r.exit_code == 0, r.stderr
        return r.stdout
    return ok


def test_history_cli_leaves_out_links_outside_scope(cli):
    ok = _runner(cli)
    ok("init")
    for unit in ("east", "west"):
        ok("units", "create", unit)
    ok("roles", "create", "manager")
    ok("roles", "grant", "manager", "*", "read,create,update", "--depth", "unit")
    ok("users", "create", "alice", "--unit", "east", "--role", "manager")
    ok("users", "create", "bob", "--unit", "west", "--role", "manager")
    def create(name, user):
        return json.loads(ok("records", "create", "person", "--data", json.dumps({"name": name}),
                             "--as", user, "--json"))["id"]

    mine, theirs = create("Mine", "alice"), create("Theirs", "bob")
    rel = json.loads(ok("relate", "knows", mine, theirs, "--json"))["id"]

    for extra in ((), ("--related",)):
        items = json.loads(ok("history", mine, *extra, "--as", "alice", "--json"))
        assert [i["kind"] for i in items] == ["created"]
        shown = json.dumps(items) + ok("history", mine, *extra, "--as", "alice")
        assert theirs not in shown and rel not in shown and "cannot see" not in shown
    admin = json.loads(ok("history", mine, "--json"))
    assert [(i["kind"], (i["payload"] or {}).get("other")) for i in admin] == [("created", None), ("related", theirs)]
    assert theirs in ok("history", mine)


def test_history_limit_shows_the_latest_entries_oldest_first(cli):
    ok = _runner(cli)
    ok("init")
    rid = json.loads(ok("records", "create", "person", "--data", '{"name": "A"}', "--json"))["id"]
    for age in (1, 2, 3):
        ok("records", "update", rid, "--data", json.dumps({"age": age}))
    items = json.loads(ok("history", rid, "--limit", "2", "--json"))
    assert [i["payload"]["changes"][0]["new"] for i in items] == [2, 3]
    assert len(json.loads(ok("history", rid, "--json"))) == 4
    r = cli("history", rid, "--limit", "0", plugins=[PersonPlugin()])
    assert r.exit_code == 2 and "--limit" in r.stderr
