"""A PostgreSQL connection lost under a running server (the database restarted, a DBA's
``pg_terminate_backend``, a failover) or a database that cannot be reached for a while:
the next request works again without a restart (the pool tests a connection before
handing it out), and while the database cannot be reached the REST API answers a 503
problem with ``Retry-After`` — no traceback, no password — not a 500."""
from __future__ import annotations

import pytest
from sqlalchemy import event

from conftest import PG_URL, PersonPlugin
from xrm_core import Platform, accounts, db
from xrm_core.web import create_app


def _require_pg(p):
    if p.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no server connection to lose")


def _setup(make_platform):
    p = make_platform(PersonPlugin())
    _require_pg(p)
    with p.session() as s:
        rid = s.create("person", {"name": "Ada"}).id
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    return p, rid, {"Authorization": f"Bearer {token}"}


def _terminate_own_backends(p, pids):
    """End the server-side processes of ``p``'s pooled connections (only those: the test
    database is shared) as a restart of PostgreSQL would."""
    killer = db.make_engine(PG_URL)
    try:
        with killer.begin() as conn:
            for pid in pids:
                assert conn.exec_driver_sql("SELECT pg_terminate_backend(%s)", (pid,)).scalar()
    finally:
        killer.dispose()


def test_the_next_request_after_lost_connections_succeeds(make_platform):
    p, rid, auth = _setup(make_platform)
    pids = []
    event.listen(p.engine, "connect", lambda dbapi_conn, _rec: pids.append(dbapi_conn.info.backend_pid))
    p.engine.dispose()  # every pooled connection from here on is seen by the listener
    client = create_app(p, {"TESTING": True}).test_client()
    for _ in range(2):  # a read and a write, so the pool holds their connections
        assert client.get(f"/api/v1/records/person/{rid}", headers=auth).status_code == 200
        assert client.patch(f"/api/v1/records/person/{rid}", json={"data": {"age": 1}},
                            headers=auth).status_code == 200
    assert pids
    _terminate_own_backends(p, list(pids))
    r = client.get(f"/api/v1/records/person/{rid}", headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)
    r = client.patch(f"/api/v1/records/person/{rid}", json={"data": {"age": 2}}, headers=auth)
    assert r.status_code == 200, r.get_data(as_text=True)


def test_an_unreachable_database_is_a_503_problem_without_password(make_platform, caplog):
    p, rid, auth = _setup(make_platform)
    # A server whose database stopped answering: nothing listens on port 1.
    gone = Platform("postgresql://xrm:s3cret-pw@127.0.0.1:1/xrm", pm=p.pm)
    try:
        client = create_app(gone, {"TESTING": True}).test_client()
        for r in (client.get(f"/api/v1/records/person/{rid}", headers=auth),
                  client.post("/api/v1/records/person", json={"data": {"name": "B"}}, headers=auth)):
            body = r.get_data(as_text=True)
            assert r.status_code == 503 and r.mimetype == "application/problem+json", body
            assert r.json["title"] == "Database unavailable"
            assert r.json["detail"].startswith("the database cannot be reached; try again shortly")
            # The driver's words (the database's host and port) go to the log, not to clients.
            assert "Connection refused" not in body and "127.0.0.1" not in body
            assert int(r.headers["Retry-After"]) >= 1
            assert "s3cret" not in body and "Traceback" not in body
        logged = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
        assert any("cannot be reached: connection failed" in m and "Connection refused" in m for m in logged), logged
    finally:
        gone.dispose()


def test_an_unreachable_database_is_a_503_page_and_a_log_line(make_platform, caplog):
    from test_ui_support import Browser, text
    p, _rid, _auth = _setup(make_platform)
    gone = Platform("postgresql://xrm:s3cret-pw@127.0.0.1:1/xrm", pm=p.pm)
    try:
        b = Browser(gone)
        page = b.post("/login", {"username": "admin", "password": "secret"})
        said = text(page)
        assert page.status_code == 503 and "cannot be reached" in said, said
        assert "s3cret" not in said and "Traceback" not in said and "Internal Server Error" not in said
        assert "127.0.0.1" not in said
        assert any("cannot be reached: connection failed" in r.getMessage() and "Connection refused" in r.getMessage()
                   and r.levelname == "WARNING" for r in caplog.records)
    finally:
        gone.dispose()


def test_a_lost_connection_is_unavailable_and_a_deadlock_busy():
    """``db.unavailable_error`` and ``db.busy_error`` tell the two apart."""
    from sqlalchemy.exc import OperationalError

    class Lost(Exception):
        sqlstate = "57P01"  # terminating connection due to administrator command

    class Deadlock(Exception):
        sqlstate = "40P01"

    lost = OperationalError("SELECT 1", {}, Lost("terminating connection"))
    deadlock = OperationalError("SELECT 1", {}, Deadlock("deadlock detected"))
    assert isinstance(db.unavailable_error(lost), db.DatabaseUnavailable) and db.busy_error(lost) is None
    assert db.unavailable_error(lost).status == 503
    assert db.unavailable_error(deadlock) is None and db.busy_error(deadlock) is not None
