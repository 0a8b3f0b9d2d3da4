"""Shared fixtures: a fresh database per test on SQLite, and on PostgreSQL too when
``XRM_TEST_DATABASE_URL`` is set (each test in its own schema, dropped afterwards)."""
from __future__ import annotations

import contextlib
import os
import uuid

import pytest
from click.testing import CliRunner

from xrm_core import Platform, db
from xrm_core.plugins import hookimpl, make_plugin_manager

PG_URL = os.environ.get("XRM_TEST_DATABASE_URL")
ENGINES = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(autouse=True)
def fast_password_hashing(monkeypatch):
    """argon2id with its production cost takes ~0.1–0.7 s per hash; tests use the cheapest
    valid parameters (hashes stay real argon2id, verification unchanged)."""
    from argon2 import PasswordHasher
    from xrm_core import accounts
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(autouse=True, scope="session")
def short_passwords_allowed():
    """The password policy (at least 8 characters, accounts.MIN_PASSWORD_LENGTH) is lowered
    to 1 for the suite: hundreds of tests set passwords such as "pw" or "secret" that say
    nothing about the policy. Set through the environment, so the ``xrm`` subprocesses some
    tests start allow them too; for the whole session, so that module-scoped fixtures (set
    up before any function's) see it. tests/*/test_account_policy*.py delete the variable to
    test the real default on every path that sets a password."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XRM_MIN_PASSWORD_LENGTH", "1")
        mp.delenv("XRM_TOKEN_MAX_DAYS", raising=False)
        yield


@contextlib.contextmanager
def empty_database(engine: str, tmp_path, name: str = "xrm"):
    """URL of an empty database: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if engine == "sqlite":
        yield f"sqlite:///{tmp_path / (name + '.db')}"
        return
    schema = f"xrm_t_{uuid.uuid4().hex[:12]}"
    admin = db.make_engine(PG_URL)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=ENGINES)
def db_url(request, tmp_path):
    """URL of an empty database (SQLite file, or a fresh PostgreSQL schema)."""
    with empty_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def other_db_url(db_url, tmp_path):
    """A second empty database on the engine of ``db_url``."""
    with empty_database("sqlite" if db_url.startswith("sqlite") else "postgresql", tmp_path, "other") as url:
        yield url


@pytest.fixture
def make_platform(db_url):
    """Build an initialised Platform on the test database with the given plugins only
    (entry points are not loaded unless ``entry_points=True``)."""
    made = []

    def make(*plugins, entry_points=False, init=True):
        p = Platform(db_url, pm=make_plugin_manager(load_entry_points=entry_points, plugins=plugins))
        made.append(p)  # disposed even when init fails (a pooled connection left open is a warning)
        if init:
            p.init(admin_password="secret")
        return p

    yield make
    for p in made:
        p.dispose()


PERSON = {
    "name": "person", "label": {"en": "Person", "fa": "شخص", "zh": "人"}, "title_field": "name",
    "indexes": ["email", "age"], "unique": ["national_id"],
    "schema": {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1},
            "email": {"type": "string", "format": "email"},
            "age": {"type": "integer", "minimum": 0},
            "score": {"type": "number"},
            "vip": {"type": "boolean"},
            "national_id": {"type": "string"},
            "born": {"type": "string", "format": "date"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "address": {"$ref": "common.json#/$defs/address"},
            "phone": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/phone"},
        },
        "required": ["name"],
    },
}


class PersonPlugin:
    """A minimal plugin used by core tests: a person type, a 'knows' relationship, kinds."""

    __name__ = "testperson"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [PERSON, {"name": "note", "title_field": "text",
                         "schema": {"type": "object", "properties": {"text": {"type": "string"}},
                                    "required": ["text"]}}]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "knows", "source": "person", "target": "person", "cardinality": "many-to-many"},
                {"name": "has_note", "source": "person", "target": "note", "cardinality": "one-to-many",
                 "on_delete": "cascade"},
                {"name": "mentor_of", "source": "person", "target": "person", "cardinality": "one-to-one",
                 "on_delete": "restrict"}]

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "call", "label": "Phone call"}, {"name": "email", "label": "E-mail"}]


@pytest.fixture
def platform(make_platform):
    """An initialised platform with the person test plugin."""
    return make_platform(PersonPlugin())


@pytest.fixture
def org(platform):
    """Units hq > north > dealer_a, hq > south > dealer_b, and users with role scopes."""
    from xrm_core import accounts
    with platform.connection() as conn:
        accounts.create_unit(conn, "hq")
        accounts.create_unit(conn, "north", "hq")
        accounts.create_unit(conn, "south", "hq")
        accounts.create_unit(conn, "dealer_a", "north")
        accounts.create_unit(conn, "dealer_b", "south")
        accounts.save_role(conn, {"name": "agent", "grants": [
            {"type": "*", "actions": ["read", "create", "update"], "depth": "own"}]})
        accounts.save_role(conn, {"name": "manager", "grants": [
            {"type": "*", "actions": ["read", "create", "update", "delete"], "depth": "unit"}]})
        accounts.save_role(conn, {"name": "regional", "grants": [
            {"type": "person", "actions": ["read"], "depth": "subtree"}]})
        accounts.save_role(conn, {"name": "analyst", "grants": [
            {"type": "person", "actions": ["read"], "depth": "all"}]})
        accounts.create_user(conn, "agent_a", "dealer_a", ["agent"], "pw")
        accounts.create_user(conn, "agent_a2", "dealer_a", ["agent"], "pw")
        accounts.create_user(conn, "manager_a", "dealer_a", ["manager"], "pw")
        accounts.create_user(conn, "manager_b", "dealer_b", ["manager"], "pw")
        accounts.create_user(conn, "north_lead", "north", ["regional"], "pw")
        accounts.create_user(conn, "analyst", "hq", ["analyst"], "pw")
        accounts.create_user(conn, "nobody", "hq", [], "pw")
    return platform


@pytest.fixture
def cli(db_url, monkeypatch):
    """Run the ``xrm`` CLI against the test database: ``cli("records", "list", "person")``.

    Returns click's Result (``exit_code``, ``stdout``, ``stderr``). Entry-point plugins are
    not loaded unless ``entry_points=True``; extra plugins can be given. Every Platform a
    command opens is disposed after it: the CLI leaves that to process exit, and a PostgreSQL
    connection left open would fail a later test with a ResourceWarning.
    """
    from xrm_core.cli.main import build_cli
    opened = []
    init = Platform.__init__

    def tracking_init(self, *args, **kwargs):
        init(self, *args, **kwargs)
        opened.append(self)

    monkeypatch.setattr(Platform, "__init__", tracking_init)

    def run(*args, plugins=(), entry_points=False, input=None):
        pm = make_plugin_manager(load_entry_points=entry_points, plugins=plugins)
        try:
            return CliRunner().invoke(build_cli(pm), ["--db", db_url, *map(str, args)], input=input,
                                      catch_exceptions=False)
        finally:
            while opened:
                opened.pop().dispose()

    return run


@pytest.fixture
def make_package(tmp_path, monkeypatch):
    """Write an importable package of files (relative path -> text, or a JSON value written
    as JSON) under ``tmp_path`` and return its name; the package is forgotten afterwards.
    For plugins whose definitions are files (``plugin_kit.json_definitions``)."""
    import importlib
    import json
    import sys
    monkeypatch.syspath_prepend(str(tmp_path))

    def make(files: dict) -> str:
        name = f"testpkg_{uuid.uuid4().hex[:8]}"
        root = tmp_path / name
        root.mkdir()
        (root / "__init__.py").write_text("", encoding="utf-8")
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
        importlib.invalidate_caches()
        importlib.import_module(name)
        return name

    yield make
    for mod in [m for m in sys.modules if m.startswith("testpkg_")]:
        del sys.modules[mod]
