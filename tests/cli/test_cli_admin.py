"""The ``xrm`` administration commands: init, plugins, types, reltypes, units, users, roles,
tokens — the command names of the contract, ``--json`` output, ``--as`` for non-admins, clear
errors — and one run of the installed ``xrm`` console script."""
from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from conftest import PERSON, PersonPlugin
from xrm_core import Platform, accounts, db
from xrm_core.cli.main import build_cli
from xrm_core.plugins import make_plugin_manager

PG_URL = os.environ.get("XRM_TEST_DATABASE_URL")
_names = itertools.count()


class Xrm:
    """Runs the CLI (with the person test plugin) against one database."""

    def __init__(self, url):
        self.url = url
        self.cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()]))

    def __call__(self, *args):
        return CliRunner().invoke(self.cli, ["--db", self.url, *map(str, args)], catch_exceptions=False)

    def ok(self, *args) -> str:
        r = self(*args)
        assert r.exit_code == 0, r.stderr
        return r.stdout

    def json(self, *args):
        """Run a command with --json: stdout must be exactly one JSON document."""
        return json.loads(self.ok(*args, "--json"))

    def fails(self, *args) -> str:
        """Run a command that must fail cleanly; return its stderr."""
        r = self(*args)
        assert r.exit_code != 0, r.stdout
        assert r.stderr.startswith("error: "), r.stderr
        assert "Traceback" not in r.stderr + r.stdout
        return r.stderr


@pytest.fixture(scope="module", params=["sqlite"] + (["postgresql"] if PG_URL else []))
def shared(request, tmp_path_factory):
    """One initialised database per engine; tests use names of their own in it."""
    if request.param == "sqlite":
        url, schema = f"sqlite:///{tmp_path_factory.mktemp('adm') / 'xrm.db'}", None
    else:
        schema = f"xrm_adm_{uuid.uuid4().hex[:12]}"
        engine = db.make_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        engine.dispose()
        url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    x = Xrm(url)
    x.ok("init")
    x.ok("units", "create", "branch")
    x.ok("roles", "create", "clerk")
    x.ok("roles", "grant", "clerk", "*", "read,create,update,delete", "--depth", "all")
    x.ok("users", "create", "clerk", "--unit", "branch", "--role", "clerk")
    yield x
    if schema:
        engine = db.make_engine(PG_URL)
        with engine.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        engine.dispose()


def unique(prefix: str) -> str:
    return f"{prefix}{next(_names)}"


def write(tmp_path: Path, content, name: str | None = None) -> Path:
    path = tmp_path / (name or f"{unique('f')}.json")
    path.write_text(content if isinstance(content, str) else json.dumps(content, indent=2), encoding="utf-8")
    return path


def type_def(name: str, **extra) -> dict:
    return {"name": name, "title_field": "title", "indexes": ["n"],
            "schema": {"type": "object", "required": ["title"],
                       "properties": {"title": {"type": "string"}, "n": {"type": "integer"},
                                      "code": {"type": "string"}}}, **extra}


# -- the contract's commands -------------------------------------------------------------
CONTRACT = {
    ("init",): (0, ["--admin-password"]),
    ("plugins", "list"): (0, ["--json"]),
    ("types", "list"): (0, ["--json"]),
    ("types", "show"): (1, ["--json"]),
    ("types", "add"): (1, []),
    ("types", "update"): (1, ["--dry-run"]),
    ("types", "remove"): (1, []),
    ("reltypes", "list"): (0, ["--json"]),
    ("reltypes", "add"): (1, []),
    ("reltypes", "remove"): (1, []),
    ("records", "create"): (1, ["--data", "--as"]),
    ("records", "get"): (1, ["--json", "--as"]),
    ("records", "list"): (1, ["--where", "--limit", "--json", "--as"]),
    ("records", "update"): (1, ["--data", "--if-version", "--as"]),
    ("records", "delete"): (1, ["--as"]),
    ("relate",): (3, ["--as"]),
    ("related",): (1, ["--rel", "--json", "--as"]),
    ("history",): (1, ["--json", "--as"]),
    ("log",): (1, ["--kind", "--summary", "--as"]),
    ("import",): (2, ["--format", "--skip-invalid", "--dry-run", "--json", "--as"]),
    ("export",): (1, ["--format", "-o", "--as"]),
    ("kpi", "list"): (0, ["--json"]),
    ("kpi", "add"): (1, []),
    ("kpi", "compute"): (1, ["--from", "--to", "--by", "--json", "--as"]),
    ("units", "create"): (1, ["--parent"]),
    ("users", "create"): (1, ["--unit", "--role", "--password"]),
    ("roles", "list"): (0, ["--json"]),
    ("roles", "create"): (1, []),
    ("roles", "grant"): (3, ["--depth"]),
    ("tokens", "create"): (1, []),
}


@pytest.mark.parametrize("path", sorted(CONTRACT), ids=" ".join)
def test_every_contract_command_exists_with_its_options(path):
    nargs, options = CONTRACT[path]
    cmd = build_cli(make_plugin_manager(load_entry_points=False))
    for name in path:
        assert isinstance(cmd, click.Group) and name in cmd.commands, f"xrm {' '.join(path)} is missing"
        cmd = cmd.commands[name]
    assert not isinstance(cmd, click.Group)
    args = [p for p in cmd.params if isinstance(p, click.Argument)]
    assert len(args) == nargs and all(a.required for a in args)
    opts = {o for p in cmd.params if isinstance(p, click.Option) for o in p.opts}
    assert set(options) <= opts, set(options) - opts
    if "--where" in options:
        assert next(p for p in cmd.params if "--where" in p.opts).multiple
    r = CliRunner().invoke(build_cli(make_plugin_manager(load_entry_points=False)), [*path, "--help"])
    assert r.exit_code == 0 and "Usage: " in r.stdout


def test_database_option_and_environment(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    cli = build_cli(make_plugin_manager(load_entry_points=False))
    assert runner.invoke(cli, ["init"]).exit_code == 0
    assert (tmp_path / "xrm.db").exists()  # the default: sqlite:///xrm.db in the current directory
    monkeypatch.setenv("XRM_DATABASE_URL", f"sqlite:///{tmp_path / 'env.db'}")
    assert runner.invoke(cli, ["init"]).exit_code == 0 and (tmp_path / "env.db").exists()
    assert runner.invoke(cli, ["--db", f"sqlite:///{tmp_path / 'opt.db'}", "init"]).exit_code == 0
    assert (tmp_path / "opt.db").exists()


# -- init --------------------------------------------------------------------------------
def test_init_is_idempotent(db_url):
    x = Xrm(db_url)
    first = x.json("init", "--admin-password", "s3cret")
    assert first["migrated_from"] is None and first["admin_created"] is True
    assert first["types_added"] == ["person", "note"]
    second = x.json("init")
    assert second["migrated_from"] == second["revision"] == first["revision"]
    assert second["admin_created"] is False and second["types_added"] == second["types_updated"] == []
    assert "up to date" in x.ok("init")
    types = x.json("types", "list")
    assert [(t["name"], t["version"]) for t in types] == [("note", 1), ("person", 1)]
    assert [u["name"] for u in x.json("users", "list")] == ["admin"]
    p = Platform(db_url, pm=make_plugin_manager(load_entry_points=False))
    try:
        with p.connection() as conn:
            assert accounts.authenticate(conn, "admin", "s3cret") == "admin"
    finally:
        p.dispose()
    assert "password of 'admin' set" in x.ok("init", "--admin-password", "other")  # and says so


def test_plugins_list():
    pm = make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()])
    r = CliRunner().invoke(build_cli(pm), ["plugins", "list", "--json"])
    assert r.exit_code == 0
    [plugin] = json.loads(r.stdout)
    assert plugin["name"] == "testperson"
    assert {"xrm_entity_types", "xrm_relationship_types"} <= set(plugin["hooks"])
    r = CliRunner().invoke(build_cli(pm), ["plugins", "list"])
    assert "testperson" in r.stdout


# -- types -------------------------------------------------------------------------------
def test_types_show_says_which_fields_may_be_null_and_formats_inside_branches(shared, tmp_path):
    name = unique("maybe")
    definition = {"name": name, "label": "Maybe", "schema": {"type": "object", "properties": {
        "a": {"type": ["string", "null"]}, "b": {"enum": [15, 20, "other", None]}, "c": {"type": "integer"},
        "d": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]}}}}
    shared.json("types", "add", write(tmp_path, definition))
    rows = {line.split()[0]: line.split()[1:] for line in shared.ok("types", "show", name).splitlines()[2:]}
    assert rows == {"a": ["string|null"], "b": ["integer|string|null", "enum"], "c": ["integer"],
                    "d": ["string|null", "date"]}


def test_types_add_list_show_update_remove(shared, tmp_path):
    name = unique("kind")
    added = shared.json("types", "add", write(tmp_path, type_def(name)))
    assert added["name"] == name and added["version"] == 1
    listed = {t["name"]: t for t in shared.json("types", "list")}
    assert listed[name]["records"] == 0 and "person" in listed
    shown = shared.json("types", "show", name)
    assert shown == {**type_def(name), "version": 1, "source": "admin"}
    text = shared.ok("types", "show", name)
    assert "title" in text and "integer" in text
    assert name in shared.ok("types", "list")

    v2 = write(tmp_path, type_def(name, label={"en": "Kind", "fa": "نوع"}))
    dry = shared.json("types", "update", v2, "--dry-run")
    assert dry["applied"] is False and dry["changed"] is True and dry["version"] == 1
    assert shared.json("types", "show", name)["version"] == 1
    assert "would be applied" in shared.ok("types", "update", v2, "--dry-run")
    applied = shared.json("types", "update", v2)
    assert applied["applied"] is True and applied["version"] == 2
    assert shared.json("types", "show", name)["label"] == {"en": "Kind", "fa": "نوع"}
    assert "no change" in shared.ok("types", "update", v2)

    assert "removed" in shared.ok("types", "remove", name)
    assert f"unknown entity type '{name}'" in shared.fails("types", "show", name)
    assert f"unknown entity type '{name}'" in shared.fails("types", "remove", name)
    assert "add it first" in shared.fails("types", "update", v2)


def test_types_update_refused_reports_count_ids_and_pointers(shared, tmp_path):
    name = unique("kind")
    shared.ok("types", "add", write(tmp_path, type_def(name)))
    ids = [shared.json("records", "create", name, "--data", json.dumps({"title": f"t{i}", "n": i}))["id"]
           for i in range(4)]
    stricter = type_def(name, indexes=["code"])
    stricter["schema"]["properties"]["n"]["maximum"] = 1
    path = write(tmp_path, stricter)
    for extra, verb in (([], "refused"), (["--dry-run"], "would be refused")):
        err = shared.fails("types", "update", path, *extra)
        assert f"type change {verb}: 2 of 4" in err
        for rid in ids[2:]:
            assert f"/records/{rid}/data/n" in err
        assert ids[0] not in err and ids[1] not in err
    r = shared("types", "update", path, "--json")
    assert r.exit_code != 0 and "Traceback" not in r.stderr
    report = json.loads(r.stdout)
    assert report["invalid"] == 2 and report["applied"] is False
    assert sorted(x["id"] for x in report["records"]) == sorted(ids[2:])
    assert report["records"][0]["errors"][0]["pointer"] == "/data/n"
    shown = shared.json("types", "show", name)
    assert shown["version"] == 1 and shown["indexes"] == ["n"]  # nothing applied

    dup = type_def(name, unique=["title"])
    shared.ok("records", "update", ids[1], "--data", '{"title": "t0"}')
    err = shared.fails("types", "update", write(tmp_path, dup))
    assert "/unique/0" in err and 'title="t0" is shared by 2 records' in err
    assert ids[0] in err and ids[1] in err


def test_formats_xrm_does_not_check_are_accepted_with_a_warning(shared, tmp_path):
    """A custom format ("phone") is legal JSON Schema, a typo ("emial") too: both check
    nothing, so the admin is told where — a property named "format" is not one."""
    name = unique("kind")
    d = type_def(name)
    d["schema"]["properties"].update({
        "email": {"type": "string", "format": "emial"}, "format": {"type": "string", "format": "date"},
        "lines": {"type": "array", "items": {"$ref": "#/$defs/line"}}})
    d["schema"]["$defs"] = {"line": {"type": "object", "properties": {"tel": {"format": "phone"}}}}
    r = shared("types", "add", write(tmp_path, d))
    assert r.exit_code == 0, r.stderr
    assert f"entity type '{name}' added" in r.stdout
    warned = [line.split(":")[1].strip() for line in r.stderr.splitlines() if line.startswith("warning:")]
    assert warned == ["/schema/properties/email/format", "/schema/$defs/line/properties/tel/format"]
    assert "'emial' is not one xrm checks" in r.stderr
    d["schema"]["properties"]["email"]["format"] = "email"
    r = shared("types", "update", write(tmp_path, d))
    assert r.exit_code == 0 and "emial" not in r.stderr and "'phone'" in r.stderr


def test_types_add_errors_name_file_line_and_pointer(shared, tmp_path):
    bad = write(tmp_path, '{\n  "name": "x",\n  "schema": {"type": "object",}\n}\n', "broken.json")
    err = shared.fails("types", "add", bad)
    assert f"{bad}:3:" in err and "invalid JSON" in err
    assert "no such file" in shared.fails("types", "add", tmp_path / "missing.json")
    assert "JSON object" in shared.fails("types", "add", write(tmp_path, [1, 2]))
    twice = write(tmp_path, '{"name": "a", "schema": {"type": "object"}, "name": "b"}', "twice.json")
    assert f"{twice}: the key 'name' appears twice in one object" in shared.fails("types", "add", twice)

    name = unique("kind")
    wrong = type_def(name, indexes=["title", "nope"])
    wrong["schema"]["properties"]["n"]["type"] = "int"
    path = write(tmp_path, wrong, "wrong.json")
    err = shared.fails("types", "add", path)
    assert str(path) in err and "/schema/properties/n/type" in err
    wrong["schema"]["properties"]["n"]["type"] = "integer"
    err = shared.fails("types", "add", write(tmp_path, wrong))
    assert "/indexes/1" in err and "'nope'" in err
    err = shared.fails("types", "add", write(tmp_path, type_def(name, schema={"type": "array"})))
    assert "/schema/type" in err
    err = shared.fails("types", "add", write(tmp_path, type_def(
        name, schema={"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"})))
    assert "/schema/$schema" in err and "2020-12" in err
    err = shared.fails("types", "add", write(tmp_path, type_def(
        name, schema={"type": "object", "properties": {"p": {"$ref": "common.json#/$defs/fax"}}})))
    assert "/schema/properties/p/$ref" in err
    assert name not in {t["name"] for t in shared.json("types", "list")}
    assert "already exists" in shared.fails("types", "add", write(tmp_path, PERSON))


def test_types_remove_refused_while_used(shared, tmp_path):
    name = unique("kind")
    shared.ok("types", "add", write(tmp_path, type_def(name)))
    rid = shared.json("records", "create", name, "--data", '{"title": "x"}')["id"]
    assert "still has 1 records" in shared.fails("types", "remove", name)
    shared.ok("records", "delete", rid)
    rel = unique("rel")
    shared.ok("reltypes", "add", write(tmp_path, {"name": rel, "source": "person", "target": name,
                                                  "cardinality": "one-to-many"}))
    assert f"relationship type '{rel}'" in shared.fails("types", "remove", name)
    shared.ok("reltypes", "remove", rel)
    shared.ok("types", "remove", name)


def test_a_type_change_that_would_break_a_kpi_is_refused(shared, tmp_path):
    """A KPI measures fields of its type: a change that takes such a field away (or gives
    it another type), or removes the type, is refused naming the KPI — else `kpi list`
    and the dashboard would lose it, or every KPI command fail."""
    name, kpi = unique("kind"), unique("kpi")
    shared.ok("types", "add", write(tmp_path, type_def(name)))
    shared.ok("kpi", "add", write(tmp_path, {"name": kpi, "entity": name, "measure": {"avg": "n"}}))
    changed = type_def(name)
    changed["schema"]["properties"]["n"] = {"type": "string"}
    changed["indexes"] = []
    before = shared.json("types", "show", name)
    for extra in ((), ("--dry-run",)):
        r = shared("types", "update", write(tmp_path, changed), *extra)
        assert r.exit_code != 0 and f"would break 1 KPI(s): {kpi}" in r.stderr, r.stderr
        assert f"/kpis/{kpi}" in r.stderr and "Traceback" not in r.stderr
    assert shared.json("types", "show", name) == before
    assert f"removing entity type '{name}' would break 1 KPI(s): {kpi}" in shared.fails("types", "remove", name)
    assert name in {t["name"] for t in shared.json("types", "list")}
    shared.json("records", "create", name, "--data", '{"title": "x", "n": 4}')
    assert shared.json("kpi", "compute", kpi)["value"] == 4
    # A change that keeps the KPI's field is applied.
    kept = type_def(name)
    kept["schema"]["properties"]["note"] = {"type": "string"}
    assert "change applied" in shared.ok("types", "update", write(tmp_path, kept))


# -- relationship types ------------------------------------------------------------------
def test_reltypes_list_add_remove(shared, tmp_path):
    rel = unique("rel")
    added = shared.json("reltypes", "add", write(tmp_path, {"name": rel, "source": "person", "target": "note",
                                                            "cardinality": "many-to-many"}))
    assert added["name"] == rel
    listed = {r["name"]: r for r in shared.json("reltypes", "list")}
    assert listed[rel]["source"] == "person" and "knows" in listed
    assert rel in shared.ok("reltypes", "list")
    err = shared.fails("reltypes", "add", write(tmp_path, {"name": unique("rel"), "source": "person",
                                                           "target": "nope", "cardinality": "many-to-many"}))
    assert "/target" in err
    err = shared.fails("reltypes", "add", write(tmp_path, {"name": unique("rel"), "source": "person",
                                                           "target": "note", "cardinality": "lots"}))
    assert "/cardinality" in err
    a = shared.json("records", "create", "person", "--data", '{"name": "A"}')["id"]
    n = shared.json("records", "create", "note", "--data", '{"text": "B"}')["id"]
    r = shared.json("relate", rel, a, n)
    assert "still used" in shared.fails("reltypes", "remove", rel)
    shared.ok("unrelate", r["id"])
    shared.ok("reltypes", "remove", rel)
    assert rel not in {r["name"] for r in shared.json("reltypes", "list")}
    assert "unknown relationship type" in shared.fails("reltypes", "remove", rel)


# -- units, users, roles, tokens ---------------------------------------------------------
def test_units_users_roles_tokens(shared):
    region, branch, role, user = unique("region"), unique("branch"), unique("role"), unique("user")
    shared.ok("units", "create", region)
    assert shared.json("units", "create", branch, "--parent", region)["parent"] == region
    units = {u["name"]: u for u in shared.json("units", "list")}
    assert units[branch]["parent"] == region and units[region]["parent"] == "root"
    assert "unknown parent unit" in shared.fails("units", "create", unique("u"), "--parent", "nowhere")
    assert "already exists" in shared.fails("units", "create", region)

    assert "created" in shared.ok("roles", "create", role)
    out = shared.ok("roles", "grant", role, "person", "read,create", "--depth", "subtree")
    assert "read,create" in out and "subtree" in out
    shared.ok("roles", "grant", role, "*", "read", "--depth", "unit")
    roles = {r["name"]: r for r in shared.json("roles", "list")}
    assert sorted((g["type"], a, g["depth"]) for g in roles[role]["grants"] for a in g["actions"]) == [
        ("*", "read", "unit"), ("person", "create", "subtree"), ("person", "read", "subtree")]
    assert "unknown entity type" in shared.fails("roles", "grant", role, "nope", "read", "--depth", "all")
    assert "unknown action" in shared.fails("roles", "grant", role, "person", "fly", "--depth", "all")
    r = shared("roles", "grant", role, "person", "read", "--depth", "galaxy")
    assert r.exit_code != 0 and "galaxy" in r.stderr

    created = shared.json("users", "create", user, "--unit", branch, "--role", role, "--password", "pw")
    assert created == {"name": user, "unit": branch, "roles": [role], "is_admin": False}
    users = {u["name"]: u for u in shared.json("users", "list")}
    assert users[user]["roles"] == [role] and users[user]["unit"] == branch
    assert "unknown unit" in shared.fails("users", "create", unique("u"), "--unit", "nowhere")
    assert "unknown role" in shared.fails("users", "create", unique("u"), "--unit", branch, "--role", "nope")

    r = shared("tokens", "create", user)
    assert r.exit_code == 0 and r.stderr == ""
    token = r.stdout.strip()
    assert r.stdout == token + "\n" and " " not in token and len(token) >= 32
    p = Platform(shared.url, pm=make_plugin_manager(load_entry_points=False))
    try:
        with p.connection() as conn:
            assert accounts.user_for_token(conn, token) == user
    finally:
        p.dispose()
    assert "unknown user" in shared.fails("tokens", "create", "nobody-here")
    # The new user works within their grants.
    rec = shared.json("records", "create", "person", "--data", '{"name": "Z"}', "--as", user)
    assert rec["unit"] == branch and rec["owner"] == user


def test_users_are_edited_deactivated_and_reactivated(shared):
    """An admin changes a user's roles, unit and password, and deactivates a leaver: every
    credential stops working, and reactivation does not bring old tokens back."""
    role, user = unique("role"), unique("user")
    shared.ok("roles", "create", role)
    shared.ok("roles", "grant", role, "person", "read,create", "--depth", "unit")
    shared.ok("users", "create", user, "--unit", "branch", "--role", role, "--password", "pw1")
    token = shared.ok("tokens", "create", user).strip()

    def user_row():
        return {u["name"]: u for u in shared.json("users", "list")}[user]

    def token_user():
        p = Platform(shared.url, pm=make_plugin_manager(load_entry_points=False))
        try:
            with p.connection() as conn:
                return accounts.user_for_token(conn, token)
        except Exception as e:
            return type(e).__name__
        finally:
            p.dispose()

    assert "no longer has role" in shared.ok("users", "revoke-role", user, role)
    assert "did not have role" in shared.ok("users", "revoke-role", user, role)
    assert user_row()["roles"] == []
    shared.ok("users", "grant-role", user, role)
    assert "moved to 'root'" in shared.ok("users", "move", user, "--unit", "root")
    assert user_row()["unit"] == "root"
    rec = shared.json("records", "create", "person", "--data", '{"name": "Moved"}', "--as", user)
    assert rec["unit"] == "root"
    assert "set" in shared.ok("users", "set-password", user, "--password", "pw2")
    assert token_user() == user  # a new password leaves API tokens alone

    out = shared.ok("users", "deactivate", user)
    assert "deactivated; 1 token(s)" in out
    assert user_row()["active"] is False and "no" in shared.ok("users", "list").split(user)[1].splitlines()[0]
    assert token_user() == "AuthenticationError"
    assert "is deactivated" in shared.fails("records", "list", "person", "--as", user)
    shared.ok("users", "activate", user)
    assert user_row()["active"] is True
    assert token_user() == "AuthenticationError"  # the old token stays revoked
    assert shared.json("records", "get", rec["id"], "--as", user)["id"] == rec["id"]

    # Errors are clear and change nothing.
    before = shared.json("users", "list"), shared.json("roles", "list")
    assert "unknown user 'ghost'" in shared.fails("users", "deactivate", "ghost")
    assert "unknown user 'ghost'" in shared.fails("users", "set-password", "ghost", "--password", "x")
    assert "unknown unit 'nowhere'" in shared.fails("users", "move", user, "--unit", "nowhere")
    assert "unknown role 'nope'" in shared.fails("users", "revoke-role", user, "nope")
    assert "password is empty" in shared.fails("users", "set-password", user, "--password", "")
    assert "unknown action(s) fly" in shared.fails("roles", "revoke", role, "person", "fly")
    assert "unknown role 'nope'" in shared.fails("roles", "revoke", "nope", "person", "read")
    # "read,,delete" most likely lost an action; revoking on a type that does not exist is a typo.
    assert "'read,,delete' has an empty item" in shared.fails("roles", "grant", role, "person", "read,,delete",
                                                              "--depth", "all")
    assert "'read,' has an empty item" in shared.fails("roles", "revoke", role, "person", "read,")
    assert "unknown entity type 'nope'" in shared.fails("roles", "revoke", role, "nope", "read")
    assert (shared.json("users", "list"), shared.json("roles", "list")) == before


def test_the_last_active_administrator_stays(shared):
    admins = [u["name"] for u in shared.json("users", "list") if u["is_admin"] and u["active"]]
    assert admins == ["admin"]
    assert "last active administrator" in shared.fails("users", "deactivate", "admin")
    assert shared.json("units", "list")  # the CLI still works as admin


def test_roles_revoke_takes_grants_away(shared):
    role, user = unique("role"), unique("user")
    shared.ok("roles", "create", role)
    shared.ok("roles", "grant", role, "person", "read,create,update", "--depth", "all")
    shared.ok("users", "create", user, "--unit", "branch", "--role", role)
    rec = shared.json("records", "create", "person", "--data", '{"name": "R"}', "--as", user)
    r = shared("roles", "revoke", role, "person", "create,update,delete")
    assert r.exit_code == 0 and "create,update on person revoked" in r.stdout and r.stderr == ""
    grants = {x["name"]: x for x in shared.json("roles", "list")}[role]["grants"]
    assert grants == [{"type": "person", "actions": ["read"], "depth": "all"}]
    assert "may not create person records" in shared.fails("records", "create", "person", "--data", '{"name": "S"}',
                                                            "--as", user)
    assert shared.json("records", "get", rec["id"], "--as", user)["id"] == rec["id"]
    assert "had no such grant" in shared.ok("roles", "revoke", role, "*", "read")
    # A role from a plugin (or the core) is reset by `xrm init`: say so.
    r = shared("roles", "revoke", "admin", "*", "delete")
    assert r.exit_code == 0 and "xrm init" in r.stderr
    shared.ok("init")
    admin_role = {x["name"]: x for x in shared.json("roles", "list")}["admin"]
    assert "delete" in admin_role["grants"][0]["actions"]


def test_kpi_commands(shared, tmp_path):
    name = unique("kpi")
    shared.ok("kpi", "add", write(tmp_path, {"name": name, "entity": "person", "measure": {"count": True}}))
    assert name in {k["name"] for k in shared.json("kpi", "list")}
    result = shared.json("kpi", "compute", name)
    assert set(result) >= {"kpi", "value", "unit", "n", "from", "to", "groups"} and result["kpi"] == name
    assert "unknown KPI" in shared.fails("kpi", "compute", "nope")


# -- administration is for administrators ------------------------------------------------
ADMIN_COMMANDS = [
    ("types", "add", "{file}"), ("types", "update", "{file}"), ("types", "remove", "person"),
    ("reltypes", "add", "{rel}"), ("reltypes", "remove", "knows"),
    ("units", "create", "x"), ("units", "list"), ("users", "create", "x", "--unit", "root"), ("users", "list"),
    ("roles", "create", "x"), ("roles", "grant", "clerk", "*", "read", "--depth", "all"), ("roles", "list"),
    ("tokens", "create", "admin"), ("kpi", "add", "{kpi}"),
    ("users", "revoke-role", "clerk", "clerk"), ("users", "set-password", "clerk", "--password", "x"),
    ("users", "deactivate", "clerk"), ("users", "activate", "clerk"), ("users", "move", "clerk", "--unit", "root"),
    ("roles", "revoke", "clerk", "*", "read"),
]


def test_admin_commands_refuse_non_admins(shared, tmp_path):
    files = {"{file}": write(tmp_path, type_def(unique("kind"))),
             "{rel}": write(tmp_path, {"name": unique("rel"), "source": "person", "target": "note",
                                       "cardinality": "many-to-many"}),
             "{kpi}": write(tmp_path, {"name": unique("kpi"), "entity": "person", "measure": {"count": True}})}
    before = {what: shared.json(what, "list") for what in ("types", "reltypes", "roles", "units", "users", "kpi")}
    for command in ADMIN_COMMANDS:
        args = [str(files.get(a, a)) for a in command]
        assert "'clerk' is not an administrator" in shared.fails(*args, "--as", "clerk"), command
        assert "unknown user 'ghost'" in shared.fails(*args, "--as", "ghost"), command
    assert {what: shared.json(what, "list") for what in before} == before


def test_definition_listings_accept_any_known_user(shared):
    assert "person" in {t["name"] for t in shared.json("types", "list", "--as", "clerk")}
    assert shared.json("types", "show", "person", "--as", "clerk")["name"] == "person"
    assert "knows" in {r["name"] for r in shared.json("reltypes", "list", "--as", "clerk")}


# -- the installed console script --------------------------------------------------------
def test_installed_console_script(tmp_path):
    exe = shutil.which("xrm", path=os.path.dirname(sys.executable)) or shutil.which("xrm")
    assert exe, "the xrm console script is not installed"
    env = {k: v for k, v in os.environ.items() if k != "XRM_DATABASE_URL"}
    url = f"sqlite:///{tmp_path / 'xrm.db'}"

    def run(*args):
        return subprocess.run([exe, "--db", url, *args], capture_output=True, text=True, env=env,
                              cwd=tmp_path, timeout=120)

    r = run("init", "--admin-password", "pw")
    assert r.returncode == 0, r.stderr
    r = run("types", "list", "--json")
    assert r.returncode == 0, r.stderr
    types = json.loads(r.stdout)
    assert isinstance(types, list) and all({"name", "version", "schema"} <= set(t) for t in types)
    # The built-in plugins came in through their entry points, like any installed plugin.
    assert {"crm", "prm_dealers", "vrm_suppliers", "voc"} <= {t["source"] for t in types}
    r = run("records", "get", "nope")
    assert r.returncode != 0 and r.stdout == ""
    assert r.stderr.startswith("error: ") and "Traceback" not in r.stderr
    # A reader that goes away (`xrm types list | head -0`): exit quietly, no error message.
    p = subprocess.Popen([exe, "--db", url, "types", "list"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=env, cwd=tmp_path)
    p.stdout.close()
    with p.stderr:
        assert p.wait(timeout=120) != 0 and p.stderr.read() == b""


def test_grant_and_revoke_usage_name_the_type_argument_as_design_does(cli):
    """DESIGN §5 writes `xrm roles grant ROLE TYPE ACTIONS`; click showed the parameter's
    Python name (TYPE_)."""
    for command in ("grant", "revoke"):
        r = cli("roles", command, "--help")
        assert r.exit_code == 0 and f"roles {command} [OPTIONS] ROLE TYPE ACTIONS" in r.stdout, r.stdout
