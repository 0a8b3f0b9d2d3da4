"""Operator audit of database connections: a PostgreSQL server that never answers (a
firewall that drops packets, a hung host) fails a command within seconds instead of
hanging it forever; an SQLite URL SQLAlchemy refuses is one clear line."""
from __future__ import annotations

import socket
import threading
import time

import pytest
from click.testing import CliRunner

from xrm_core import db
from xrm_core.cli.main import build_cli
from xrm_core.plugins import make_plugin_manager

pytest.importorskip("psycopg")


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never says a word."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted, stop = [], threading.Event()

    def accept():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


def _xrm(*args):
    cli = build_cli(make_plugin_manager(load_entry_points=False))
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_a_command_gives_up_on_a_server_that_never_answers(silent_server, monkeypatch):
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    monkeypatch.setattr(db, "PG_CONNECT_TIMEOUT", 2)  # libpq's smallest
    started = time.monotonic()
    r = _xrm("--db", f"postgresql://postgres@127.0.0.1:{silent_server}/x", "units", "list")
    elapsed = time.monotonic() - started
    assert r.exit_code == 1, r.stderr
    assert r.stderr.startswith(f"error: database error at postgresql://postgres@127.0.0.1:{silent_server}/x "
                               "(from --db): ") and "timeout" in r.stderr, r.stderr
    assert elapsed < 10, elapsed  # was: forever


def test_the_default_wait_is_a_few_seconds():
    assert 2 <= db.PG_CONNECT_TIMEOUT <= 10


@pytest.mark.parametrize("query, env", [("?connect_timeout=2", None), ("", "2")])
def test_the_url_or_pgconnect_timeout_decides_when_given(silent_server, monkeypatch, query, env):
    monkeypatch.setattr(db, "PG_CONNECT_TIMEOUT", 600)  # would hang the test if it applied
    if env is None:
        monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    else:
        monkeypatch.setenv("PGCONNECT_TIMEOUT", env)  # libpq reads it itself
    started = time.monotonic()
    r = _xrm("--db", f"postgresql://postgres@127.0.0.1:{silent_server}/x{query}", "units", "list")
    assert r.exit_code == 1 and "timeout" in r.stderr, r.stderr
    assert time.monotonic() - started < 10


@pytest.mark.parametrize("url", ["sqlite://user:pw@/x.db", "sqlite://somehost/x.db"])
@pytest.mark.parametrize("command", [("units", "list"), ("init",)])
def test_an_sqlite_url_with_a_user_or_host_is_one_line(tmp_path, monkeypatch, url, command):
    monkeypatch.chdir(tmp_path)
    r = _xrm("--db", url, *command)
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith("error: sqlite://") and "is not a URL xrm can open" in r.stderr, r.stderr
    assert "pw" not in r.stderr and "Traceback" not in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_an_error_that_ended_the_transaction_is_not_hidden_by_its_savepoint(tmp_path):
    """On a full disk (a real one: ENOSPC) SQLite rolls the whole transaction back by
    itself; `xrm import` then reported "no such savepoint: sa_savepoint_1", the savepoint it
    left having gone with the transaction. The first error is the one to see."""
    from sqlalchemy.exc import OperationalError

    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn, conn.begin():
        with pytest.raises(OperationalError) as raised:
            with conn.begin_nested():
                conn.exec_driver_sql("ROLLBACK")  # what SQLite does itself on ENOSPC
                conn.exec_driver_sql("INSERT INTO nowhere VALUES (1)")  # stands for the failed write
    assert "no such table: nowhere" in str(raised.value)
    engine.dispose()


def test_a_full_database_during_an_import_says_so_and_changes_nothing(tmp_path, monkeypatch):
    """The database may not grow (max_page_count: SQLite's SQLITE_FULL, as a full disk
    gives): one line, nothing imported."""
    from conftest import PersonPlugin

    url = f"sqlite:///{tmp_path / 'xrm.db'}"
    cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()]))
    assert CliRunner().invoke(cli, ["--db", url, "init"]).exit_code == 0
    rows = tmp_path / "people.jsonl"
    rows.write_text("".join(f'{{"name": "person {i} {"x" * 200}"}}\n' for i in range(3000)))
    plain = db._sqlite_pragmas

    def small_disk(dbapi_conn, record):  # the file may grow by ~40 pages, no more
        plain(dbapi_conn, record)
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 40}")

    monkeypatch.setattr(db, "_sqlite_pragmas", small_disk)
    cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()]))
    r = CliRunner().invoke(cli, ["--db", url, "import", "person", str(rows)], catch_exceptions=False)
    assert r.exit_code == 1
    assert r.stderr == f"error: database error at {url} (from --db): database or disk is full\n", r.stderr
    monkeypatch.setattr(db, "_sqlite_pragmas", plain)
    r = CliRunner().invoke(cli, ["--db", url, "records", "list", "person", "--json"], catch_exceptions=False)
    assert r.exit_code == 0 and r.stdout == "[]\n", r.stderr


def test_a_write_lock_held_too_long_is_a_503_and_one_cli_line(tmp_path, monkeypatch):
    """Another process (a long import, a script) holds SQLite's write lock beyond the busy
    timeout: the REST API answered 500 "the server failed" with a traceback in the log."""
    import sqlite3

    from conftest import PersonPlugin
    from xrm_core import Platform, accounts
    from xrm_core.web import create_app

    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 1)
    path = tmp_path / "xrm.db"
    p = Platform(f"sqlite:///{path}", pm=make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin()]))
    p.init(admin_password="secret")
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    client = create_app(p, {"TESTING": True}).test_client()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        r = client.post("/api/v1/records/person", json={"data": {"name": "waits"}},
                        headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 503 and r.mimetype == "application/problem+json", r.get_data(as_text=True)
        assert r.json["title"] == "Database busy"
        assert r.json["detail"].startswith("the database is busy: another process has held its write lock for 1 s")
        cli = build_cli(p.pm)
        r = CliRunner().invoke(cli, ["--db", f"sqlite:///{path}", "units", "create", "u1"], catch_exceptions=False)
        assert r.exit_code == 1 and r.stderr.startswith("error: the database is busy: "), r.stderr
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    with p.session() as s:
        assert s.list("person") == []
        s.create("person", {"name": "now"})  # the lock gone, writes work again
    p.dispose()


def test_a_busy_database_that_ended_the_transaction_is_reported_as_busy(tmp_path, monkeypatch):
    from xrm_core.db import DatabaseBusy

    monkeypatch.setattr(db, "SQLITE_BUSY_SECONDS", 1)
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn, conn.begin():
        conn.exec_driver_sql("CREATE TABLE t (x)")
    import sqlite3
    holder = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
    try:
        with engine.connect() as conn, conn.begin():
            with pytest.raises(DatabaseBusy):
                with conn.begin_nested():
                    conn.exec_driver_sql("ROLLBACK")  # SQLite may end the transaction on SQLITE_BUSY
                    holder.execute("BEGIN IMMEDIATE")
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
        engine.dispose()


@pytest.mark.parametrize("lock", ["BEGIN; SELECT * FROM t", "BEGIN IMMEDIATE", "BEGIN EXCLUSIVE"])
def test_opening_a_new_database_another_process_has_locked_waits_for_it(tmp_path, lock):
    """Switching a new database to WAL goes from a read lock straight to an exclusive one,
    and SQLite refuses that at once, without the busy timeout, while another connection
    holds any lock: two `xrm init` deploying one release failed so about one time in ten.
    The connection now waits."""
    import sqlite3
    path = tmp_path / "new.db"
    locked, release = threading.Event(), threading.Event()

    def other_process():
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("CREATE TABLE t (x)")  # still in the rollback journal: no WAL yet
        for statement in lock.split("; "):
            other.execute(statement).fetchall()
        locked.set()
        release.wait(10)
        other.execute("COMMIT")
        other.close()

    holder = threading.Thread(target=other_process, daemon=True)
    holder.start()
    assert locked.wait(10)
    threading.Timer(0.3, release.set).start()
    engine = db.make_engine(f"sqlite:///{path}")
    started = time.monotonic()
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    assert time.monotonic() - started >= 0.25  # it waited for the lock, not around it
    holder.join(10)
    engine.dispose()
