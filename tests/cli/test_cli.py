"""The ``xrm`` data commands: records, relate/related, history, log — JSON output, ``--where``,
``--as`` scope and clear errors (stderr, non-zero exit, never a traceback).

Most tests share one initialised database per engine and work on entity types of their own,
so the file does not pay for an ``xrm init`` per test.
"""
from __future__ import annotations

import itertools
import json
import os
import uuid
from contextlib import contextmanager

import pytest
from click.testing import CliRunner

from conftest import PersonPlugin
from xrm_core import Platform, db
from xrm_core.cli.main import build_cli
from xrm_core.plugins import make_plugin_manager

PG_URL = os.environ.get("XRM_TEST_DATABASE_URL")
_names = itertools.count()


@pytest.fixture(scope="module", params=["sqlite"] + (["postgresql"] if PG_URL else []))
def db_url_shared(request, tmp_path_factory):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('cli') / 'xrm.db'}"
        return
    schema = f"xrm_cli_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


class Xrm:
    """Runs the CLI (with the person test plugin) against one database."""

    def __init__(self, url):
        self.url = url
        self.cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()]))

    def __call__(self, *args, input=None):
        return CliRunner().invoke(self.cli, ["--db", self.url, *map(str, args)], input=input,
                                  catch_exceptions=False)

    def ok(self, *args) -> str:
        r = self(*args)
        assert r.exit_code == 0, r.stderr
        return r.stdout

    def json(self, *args):
        """Run a command with --json: stdout must be exactly one JSON document."""
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args, input=None) -> str:
        """Run a command that must fail cleanly; return its stderr."""
        r = self(*args, input=input)
        assert r.exit_code != 0, r.stdout
        assert r.stderr.startswith("error: ") and r.stderr.strip(), r.stderr
        assert "Traceback" not in r.stderr + r.stdout
        return r.stderr


@pytest.fixture(scope="module")
def shared(db_url_shared):
    """An initialised database: units hq > north, a user 'agent' (own records), 'viewer' (none)."""
    from argon2 import PasswordHasher
    from xrm_core import accounts
    saved = accounts._hasher
    accounts._hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)  # nobody logs in here
    try:
        x = Xrm(db_url_shared)
        x.ok("init")
        x.ok("units", "create", "north")
        x.ok("roles", "create", "agent")
        x.ok("roles", "grant", "agent", "*", "read,create,update", "--depth", "own")
        x.ok("users", "create", "agent", "--unit", "north", "--role", "agent")
        x.ok("users", "create", "viewer", "--unit", "north")
    finally:
        accounts._hasher = saved
    return x


@pytest.fixture
def xrm(shared):
    return shared


@pytest.fixture
def kind(xrm, tmp_path):
    """A fresh entity type for one test: a ``name`` (unique), ``n`` (indexed), ``vip``, ``city``."""
    name = f"item{next(_names)}"
    path = tmp_path / f"{name}.json"
    path.write_text(json.dumps({
        "name": name, "title_field": "name", "indexes": ["n"], "unique": ["code"],
        "schema": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1}, "n": {"type": "integer"},
            "vip": {"type": "boolean"}, "code": {"type": "string"},
            "email": {"type": "string", "format": "email"},
            "address": {"$ref": "common.json#/$defs/address"}}}}))
    xrm.ok("types", "add", path)
    return name


@contextmanager
def session_of(xrm):
    """An admin Session on the CLI's database, for preparing many records quickly."""
    p = Platform(xrm.url, pm=make_plugin_manager(load_entry_points=False))
    try:
        with p.session() as s:
            yield s
    finally:
        p.dispose()


def make(xrm, kind, *items, as_user=None):
    extra = ["--as", as_user] if as_user else []
    return [xrm.json("records", "create", kind, "--data", json.dumps(d), *extra)["id"] for d in items]


# -- records -----------------------------------------------------------------------------
def test_create_get_update_delete(xrm, kind):
    rec = xrm.json("records", "create", kind, "--data", '{"name": "Ada", "n": 1}')
    assert set(rec) >= {"id", "type", "data", "version", "owner", "unit", "created_at", "updated_at"}
    assert (rec["type"], rec["data"], rec["version"], rec["owner"], rec["unit"]) == (
        kind, {"name": "Ada", "n": 1}, 1, "admin", "root")
    assert xrm.json("records", "get", rec["id"]) == rec
    # Without --json, create prints the id alone.
    rid = xrm.ok("records", "create", kind, "--data", '{"name": "Bob"}').strip()
    assert xrm.json("records", "get", rid)["data"] == {"name": "Bob"}
    # Update is a JSON merge patch: null removes a field.
    upd = xrm.json("records", "update", rec["id"], "--data", '{"n": null, "vip": true}', "--if-version", "1")
    assert upd["version"] == 2 and upd["data"] == {"name": "Ada", "vip": True}
    assert "deleted" in xrm.ok("records", "delete", rec["id"])
    assert "no record" in xrm.fails("records", "get", rec["id"])


def test_if_version_mismatch_is_refused_and_changes_nothing(xrm, kind):
    [rid] = make(xrm, kind, {"name": "Ada"})
    err = xrm.fails("records", "update", rid, "--data", '{"n": 5}', "--if-version", "7")
    assert "version 1, not 7" in err
    assert xrm.json("records", "get", rid)["version"] == 1


def test_data_from_a_file(xrm, kind, tmp_path):
    f = tmp_path / "data.json"
    f.write_text('{"name": "From file", "n": 3}', encoding="utf-8")
    assert xrm.json("records", "create", kind, "--data", f"@{f}")["data"]["n"] == 3


def test_invalid_record_names_every_pointer_and_stores_nothing(xrm, kind):
    err = xrm.fails("records", "create", kind, "--data",
                    '{"name": "", "n": "x", "email": "nope", "address": {"country": "Iran"}}')
    for pointer in ("/data/name", "/data/n", "/data/email", "/data/address/country"):
        assert pointer in err
    assert xrm.json("records", "list", kind) == []


def test_malformed_json_names_line_and_column(xrm, kind, tmp_path):
    err = xrm.fails("records", "create", kind, "--data", '{"name": "x",\n "n": }')
    assert "--data is not valid JSON" in err and "line 2 column 7" in err
    f = tmp_path / "bad.json"
    f.write_text('{\n  "name": "x",\n  "n": 1,,\n}\n', encoding="utf-8")
    err = xrm.fails("records", "create", kind, "--data", f"@{f}")
    assert f"{f}:3:10" in err
    err = xrm.fails("records", "create", kind, "--data", f"@{tmp_path / 'missing.json'}")
    assert "missing.json: no such file" in err
    err = xrm.fails("records", "create", kind, "--data", "[1, 2]")
    assert "/data" in err and "object" in err


def test_unknown_type_id_and_field(xrm, kind):
    assert "unknown entity type 'nope'" in xrm.fails("records", "list", "nope")
    assert "unknown entity type 'nope'" in xrm.fails("records", "create", "nope", "--data", "{}")
    assert "no record 'zzz'" in xrm.fails("records", "get", "zzz")
    assert "no record 'zzz'" in xrm.fails("records", "update", "zzz", "--data", "{}")
    assert "no record 'zzz'" in xrm.fails("records", "delete", "zzz")
    assert "no record 'zzz'" in xrm.fails("history", "zzz")
    err = xrm.fails("records", "list", kind, "--where", "colour=red")
    assert "/where/colour" in err and "not a field" in err
    assert "FIELD=V" in xrm.fails("records", "list", kind, "--where", "no operator")


def test_unique_conflict_is_clear(xrm, kind):
    [first] = make(xrm, kind, {"name": "a", "code": "C1"})
    err = xrm.fails("records", "create", kind, "--data", '{"name": "b", "code": "C1"}')
    assert 'code="C1" already exists' in err and first in err and "/data/code" in err
    assert len(xrm.json("records", "list", kind)) == 1


@pytest.fixture
def numbered(xrm, kind):
    """Records n=0..5 (vip on even n), names r0..r5, r2 in Tehran."""
    with session_of(xrm) as s:
        for i in range(6):
            data = {"name": f"r{i}", "n": i, "vip": i % 2 == 0}
            if i == 2:
                data["address"] = {"city": "Tehran"}
            s.create(kind, data)
    return kind


@pytest.mark.parametrize("wheres, expected", [
    (["n=3"], [3]),
    (["n!=3"], [0, 1, 2, 4, 5]),
    (["n<2"], [0, 1]),
    (["n<=2"], [0, 1, 2]),
    (["n>4"], [5]),
    (["n>=4"], [4, 5]),
    (["n>=1", "n<4"], [1, 2, 3]),                 # several --where are ANDed
    (["vip=true"], [0, 2, 4]),                    # V read as JSON …
    (["vip=false", "n>1"], [3, 5]),
    (["name=r4"], [4]),                           # … else as a string
    (["name!=r4", "n<3"], [0, 1, 2]),
    (["address.city=Tehran"], [2]),               # dotted paths into data
    (["name=3"], []),                             # "3" compared as the string field it is
])
def test_list_where(xrm, numbered, wheres, expected):
    args = [a for w in wheres for a in ("--where", w)]
    items = xrm.json("records", "list", numbered, *args)
    assert sorted(r["data"]["n"] for r in items) == expected
    assert all(r["type"] == numbered for r in items)


def test_list_limit_and_default_of_100(xrm, kind):
    with session_of(xrm) as s:
        for i in range(105):
            s.create(kind, {"name": f"r{i}", "n": i})
    assert len(xrm.json("records", "list", kind)) == 100
    assert len(xrm.json("records", "list", kind, "--limit", "7")) == 7
    assert len(xrm.json("records", "list", kind, "--limit", "500")) == 105
    assert len(xrm.json("records", "list", kind, "--where", "n>=100", "--limit", "3")) == 3
    # The text listing is a table with the title field.
    out = xrm.ok("records", "list", kind, "--limit", "2")
    assert out.splitlines()[0].split()[:2] == ["ID", "NAME"] and len(out.splitlines()) == 3


def test_where_type_errors(xrm, numbered):
    err = xrm.fails("records", "list", numbered, "--where", "n>=abc")
    assert "/where/n/gte" in err and "not a number" in err
    assert "twice" in xrm.fails("records", "list", numbered, "--where", "n=1", "--where", "n=2")


# -- relationships, history, interactions ------------------------------------------------
def test_relate_related_history_log(xrm):
    a = xrm.json("records", "create", "person", "--data", '{"name": "Ada"}')["id"]
    b = xrm.json("records", "create", "person", "--data", '{"name": "Bob"}')["id"]
    n = xrm.json("records", "create", "note", "--data", '{"text": "hello"}')["id"]
    rel = xrm.json("relate", "knows", a, b)
    assert (rel["type"], rel["source"], rel["target"]) == ("knows", a, b)
    assert xrm.ok("relate", "has_note", a, n).strip()  # prints the relationship id
    related = xrm.json("related", a)
    assert sorted(i["record"]["id"] for i in related) == sorted([b, n])
    only = xrm.json("related", a, "--rel", "has_note")
    assert [i["record"]["id"] for i in only] == [n]
    assert [i["record"]["id"] for i in xrm.json("related", b)] == [a]  # both directions
    assert "Bob" in xrm.ok("related", a)
    assert "← knows" in xrm.ok("related", b)  # no inverse_label: the label, arrow reversed
    assert "unknown relationship type" in xrm.fails("relate", "nope", a, b)
    assert "the target must be a record of type person" in xrm.fails("relate", "knows", a, n)

    logged = xrm.json("log", a, "--kind", "call", "--summary", "Called about the offer")
    assert logged["kind"] == "call" and logged["summary"] == "Called about the offer"
    assert "unknown activity kind 'fax'" in xrm.fails("log", a, "--kind", "fax", "--summary", "x")
    xrm.ok("records", "update", a, "--data", '{"age": 40}')
    hist = xrm.json("history", a)
    assert [h["kind"] for h in hist] == ["created", "related", "related", "call", "updated"]
    assert hist[-1]["payload"]["changes"] == [{"pointer": "/age", "old": None, "new": 40, "op": "add"}]
    text = xrm.ok("history", a)
    assert "/age: (absent) → 40" in text
    assert "Called about the offer" in text and "/age" in text
    # A delete says what its cascades took (has_note cascades); knows only unlinks.
    assert xrm.ok("records", "delete", a).strip() == f"{a} deleted, and with it 1 record(s): note {n}"
    assert xrm.ok("records", "delete", b).strip() == f"{b} deleted"


# -- acting as a user --------------------------------------------------------------------
def test_as_user_acts_within_their_scope(xrm, kind):
    [mine] = make(xrm, kind, {"name": "mine"}, as_user="agent")
    [theirs] = make(xrm, kind, {"name": "admin's"})
    rec = xrm.json("records", "get", mine, "--as", "agent")
    assert (rec["owner"], rec["unit"]) == ("agent", "north")
    assert [r["id"] for r in xrm.json("records", "list", kind, "--as", "agent")] == [mine]
    assert sorted(r["id"] for r in xrm.json("records", "list", kind)) == sorted([mine, theirs])
    # Outside the scope a record does not exist.
    assert "no record" in xrm.fails("records", "get", theirs, "--as", "agent")
    assert "no record" in xrm.fails("records", "update", theirs, "--data", '{"n": 1}', "--as", "agent")
    assert "no record" in xrm.fails("history", theirs, "--as", "agent")
    assert xrm.json("records", "get", theirs)["version"] == 1
    # No delete grant; no grant at all.
    assert "may not delete" in xrm.fails("records", "delete", mine, "--as", "agent")
    assert "may not create" in xrm.fails("records", "create", kind, "--data", '{"name": "x"}', "--as", "viewer")
    assert "may not read" in xrm.fails("records", "list", kind, "--as", "viewer")


def test_unknown_user_for_as(xrm, kind):
    for args in (("records", "list", kind), ("records", "create", kind, "--data", '{"name": "x"}'),
                 ("types", "list"), ("history", "x")):
        assert "unknown user 'ghost'" in xrm.fails(*args, "--as", "ghost")
        # `--as "$USER"` with the variable unset is refused, never the admin's scope.
        assert "unknown user ''" in xrm.fails(*args, "--as", "")
    assert xrm.json("records", "list", kind) == []


# -- an uninitialised database -----------------------------------------------------------
@pytest.mark.parametrize("args", [
    ("records", "list", "person"), ("records", "get", "x"), ("records", "create", "person", "--data", "{}"),
    ("types", "list"), ("reltypes", "list"), ("history", "x"), ("kpi", "list"), ("roles", "list"),
    ("units", "create", "x"), ("tokens", "create", "admin"),
])
def test_data_commands_on_an_uninitialised_database(db_url, args):
    x = Xrm(db_url)
    err = x.fails(*args)
    assert "run `xrm init`" in err
    if db_url.startswith("sqlite:///"):  # and no empty database file appears as a side effect
        assert not os.path.exists(db_url[len("sqlite:///"):])


@pytest.mark.skipif(not PG_URL, reason="needs XRM_TEST_DATABASE_URL (PostgreSQL)")
def test_a_missing_postgresql_database_is_named_not_called_uninitialised():
    from sqlalchemy.engine import make_url
    url = make_url(PG_URL).set(database=f"xrm_missing_{uuid.uuid4().hex[:8]}").render_as_string(False)
    for args in (("init",), ("records", "list", "person")):
        err = Xrm(url).fails(*args)
        assert "does not exist" in err and "xrm init" not in err, err


def test_no_traceback_for_an_unreadable_database(tmp_path):
    x = Xrm(f"sqlite:///{tmp_path}/no/such/dir/x.db")
    assert "xrm init" in x.fails("records", "list", "person")
    err = x.fails("init")
    assert "unable to open database file" in err


def test_tables_align_wide_characters(capsys):
    """Chinese characters take two terminal columns: the next column starts at the same place."""
    from unicodedata import east_asian_width

    from xrm_core.cli.context import table
    table([["北京汽车服务", "x"], ["Pars Khodro", "y"], ["تهران", "z"]], ["NAME", "COL"])
    lines = capsys.readouterr().out.splitlines()

    def column_of(line: str, ch: str) -> int:
        before = line[:line.index(ch)]
        return sum(2 if east_asian_width(c) in "WF" else 1 for c in before)

    assert [column_of(line, c) for line, c in zip(lines, "Cxyz")] == [14, 14, 14, 14]  # 6 × 2 + 2
