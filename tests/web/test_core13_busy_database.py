"""A transient database failure — PostgreSQL giving a transaction up so another can go on
(deadlock 40P01, serialization failure 40001, lock timeout 55P03), SQLite's write lock held
past the busy timeout — is a refusal to try again, not a crash: REST 503 problem+json with
``Retry-After``, one CLI line, a 503 UI page, each saying nothing was saved. Provoked for
real: two connections locking two rows in opposite orders (waiting on ``pg_locks``), a
second SQLite connection holding the write lock."""
from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import DBAPIError

from conftest import PersonPlugin
from test_ui_support import Browser, text
from xrm_core import Conflict, accounts, db, hookimpl
from xrm_core.cli.main import build_cli
from xrm_core.web import create_app

NOTHING_SAVED = "nothing was saved; try again"


class SecondRecordToo:
    """Updating the record named "first" updates ``second`` too, in the same transaction:
    its row is locked after the first's. ``own_words``: a deadlock there is refused as a
    Conflict of the plugin's (as plugins/prm_dealers/sales_months.py does)."""

    __name__ = "core13_second_too"

    def __init__(self, own_words=False):
        self.second, self.own_words = None, own_words

    @hookimpl
    def xrm_record_event(self, event, record, session):
        if event != "after_update" or record.data.get("name") != "first!":
            return
        try:
            session.update(self.second, {"name": "second!"})
        except DBAPIError as e:
            if self.own_words and getattr(e.orig, "sqlstate", None) == "40P01":
                raise Conflict("the plugin's own words: busy, try again") from e
            raise


def _setup(make_platform, own_words=False):
    hook = SecondRecordToo(own_words)
    p = make_platform(PersonPlugin(), hook)
    with p.session() as s:
        first = s.create("person", {"name": "first"}).id
        hook.second = s.create("person", {"name": "second"}).id
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    return p, hook, first, token


def _deadlocked(p, first: str, second: str, request):
    """Run ``request()`` (which locks ``first``'s row, then ``second``'s) in a thread while
    another connection holds ``second``'s row and, once ``request`` waits for it, asks for
    ``first``'s: a real deadlock. The other connection waits longer before checking for
    deadlocks, so PostgreSQL gives ``request``'s transaction up. Returns what it returned."""
    out = {}
    holder = p.engine.connect()
    try:
        holder.exec_driver_sql("SET LOCAL deadlock_timeout = '60s'")
        holder.exec_driver_sql("UPDATE xrm_records SET version = version WHERE id = %s", (second,))
        thread = threading.Thread(target=lambda: out.setdefault("result", request()))
        thread.start()
        deadline = time.monotonic() + 30
        while not holder.exec_driver_sql(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND pg_backend_pid() = ANY(pg_blocking_pids(pid))"
        ).scalar():
            assert time.monotonic() < deadline, "the request never waited for the held row"
            time.sleep(0.02)
        holder.exec_driver_sql("UPDATE xrm_records SET version = version WHERE id = %s", (first,))
        holder.rollback()
        thread.join(30)
        assert not thread.is_alive()
    finally:
        holder.close()
    return out["result"]


def _unchanged(p, first, second):
    with p.session(write=False) as s:
        a, b = s.get(first), s.get(second)
    assert (a.data["name"], a.version, b.data["name"], b.version) == ("first", 1, "second", 1)
    with p.engine.connect() as conn:  # no history of the change either
        assert conn.exec_driver_sql("SELECT count(*) FROM xrm_activities WHERE kind = 'updated'").scalar() == 0



def _require_pg(p):
    if p.engine.dialect.name != "postgresql":
        pytest.skip("a deadlock needs PostgreSQL (SQLite has one writer at a time)")


def test_a_deadlock_is_a_503_with_retry_after_and_nothing_saved(make_platform):
    p, hook, first, token = _setup(make_platform)
    _require_pg(p)
    client = create_app(p, {"TESTING": True}).test_client()
    r = _deadlocked(p, first, hook.second, lambda: client.patch(
        f"/api/v1/records/person/{first}", json={"data": {"name": "first!"}},
        headers={"Authorization": f"Bearer {token}"}))
    assert r.status_code == 503 and r.mimetype == "application/problem+json", r.get_data(as_text=True)
    assert r.headers["Retry-After"] == "1"
    assert r.json["title"] == "Database busy"
    assert r.json["detail"].startswith("the database is busy: another change was being saved at the same time")
    assert "deadlock" in r.json["detail"] and r.json["detail"].endswith(NOTHING_SAVED)
    _unchanged(p, first, hook.second)


def test_a_deadlock_is_one_cli_line(make_platform, db_url):
    p, hook, first, _ = _setup(make_platform)
    _require_pg(p)
    cli = build_cli(p.pm)
    r = _deadlocked(p, first, hook.second, lambda: CliRunner().invoke(
        cli, ["--db", db_url, "records", "update", first, "--data", '{"name": "first!"}'], catch_exceptions=False))
    assert r.exit_code == 1
    assert r.stderr.startswith("error: the database is busy: ") and r.stderr.strip().endswith(NOTHING_SAVED), r.stderr
    assert "Traceback" not in r.stderr and "plugin" not in r.stderr and len(r.stderr.splitlines()) == 1
    _unchanged(p, first, hook.second)


def test_a_plugin_that_words_its_own_deadlock_keeps_its_words(make_platform):
    p, hook, first, token = _setup(make_platform, own_words=True)
    _require_pg(p)
    client = create_app(p, {"TESTING": True}).test_client()
    r = _deadlocked(p, first, hook.second, lambda: client.patch(
        f"/api/v1/records/person/{first}", json={"data": {"name": "first!"}},
        headers={"Authorization": f"Bearer {token}"}))
    assert r.status_code == 409 and r.json["detail"] == "the plugin's own words: busy, try again", r.json
    _unchanged(p, first, hook.second)


def _with_lock_timeout(url: str) -> str:
    return url + ("%20" if "options=" in url else ("&" if "?" in url else "?") + "options=") + "-clock_timeout%3D200"


def test_a_lock_timeout_is_a_503_one_cli_line_and_a_503_page(make_platform, db_url):
    """55P03: a row another transaction holds, waited for longer than ``lock_timeout`` (set in
    the URL) — no plugin involved: the core's own statement, on each interface."""
    p, hook, first, token = _setup(make_platform)
    _require_pg(p)
    from xrm_core import Platform
    impatient = Platform(_with_lock_timeout(db_url), pm=p.pm)
    holder = p.engine.connect()
    try:
        holder.exec_driver_sql("UPDATE xrm_records SET version = version WHERE id = %s", (hook.second,))
        r = create_app(impatient, {"TESTING": True}).test_client().patch(
            f"/api/v1/records/person/{hook.second}", json={"data": {"name": "x"}},
            headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.get_data(as_text=True)
        assert r.json["detail"].endswith(NOTHING_SAVED) and "lock" in r.json["detail"]
        out = CliRunner().invoke(build_cli(p.pm), ["--db", _with_lock_timeout(db_url), "records", "update",
                                                   hook.second, "--data", '{"name": "x"}'], catch_exceptions=False)
        assert out.exit_code == 1 and out.stderr.startswith("error: the database is busy: "), out.stderr
        assert out.stderr.strip().endswith(NOTHING_SAVED) and "Traceback" not in out.stderr
        b = Browser(impatient)
        b.login()
        b.get(f"/r/person/{hook.second}/edit")
        page = b.post(f"/r/person/{hook.second}/edit", {"version": "1", "name": "x"})
        assert page.status_code == 503 and NOTHING_SAVED in text(page), text(page)
        assert "Internal Server Error" not in text(page) and "SELECT" not in text(page)
    finally:
        holder.rollback()
        holder.close()
        impatient.dispose()
    _unchanged(p, first, hook.second)


def test_a_busy_sqlite_database_says_nothing_was_saved_everywhere(make_platform, monkeypatch):
    """A second connection holds SQLite's write lock past a (short) busy timeout."""
    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 1)
    p, hook, first, token = _setup(make_platform)
    if p.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's busy timeout")
    p.engine.dispose()  # new connections take the short busy timeout
    b = Browser(p)
    b.login()
    b.get(f"/r/person/{first}/edit")
    holder = sqlite3.connect(p.engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = create_app(p, {"TESTING": True}).test_client().patch(
            f"/api/v1/records/person/{first}", json={"data": {"name": "first!"}},
            headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.get_data(as_text=True)
        assert r.json["detail"].endswith(NOTHING_SAVED)
        page = b.post(f"/r/person/{first}/edit", {"version": "1", "name": "first!"})
        assert page.status_code == 503 and NOTHING_SAVED in text(page), text(page)
        out = CliRunner().invoke(build_cli(p.pm), ["--db", str(p.engine.url), "records", "update", first,
                                                   "--data", '{"name": "first!"}'], catch_exceptions=False)
        assert out.exit_code == 1 and out.stderr.strip().endswith(NOTHING_SAVED), out.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    _unchanged(p, first, hook.second)
