"""Security review 3: the failed-login throttle holds under concurrent attempts.

The throttle checked the failure count before the password check and counted the failure
after it, so every attempt in flight passed the check: against ``xrm serve --workers 2
--threads 4`` on PostgreSQL, 16 simultaneous wrong passwords got 8 to 11 password checks
instead of ``LOGIN_MAX_FAILURES`` (5); more workers and threads give more. An attempt is
now counted before its password is checked. (On SQLite the login's write transactions
happen one at a time, so attempts never overlapped there; the test holds on both engines.)
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from xrm_core import accounts, db
from xrm_core.errors import AuthenticationError
from xrm_core.web import create_app

from test_ui_support import Browser


def _failures(org) -> int:
    """The failures counted per (name, address); not those counted per address alone
    (every attempt counts once in each: tests/web/test_login_spraying.py)."""
    from xrm_core.web.ui.auth import Throttle
    with org.connection() as conn:
        return conn.execute(select(func.count()).select_from(db.login_failures).where(
            db.login_failures.c.key != Throttle.digest(("127.0.0.1",)))).scalar_one()


def test_simultaneous_wrong_passwords_get_at_most_the_limit_of_checks(org, monkeypatch):
    limit, n = 5, 10
    app = create_app(org, {"TESTING": True, "WTF_CSRF_ENABLED": False, "LOGIN_MAX_FAILURES": limit})
    # Hold every password check until all n attempts are checking at once (or, when the
    # throttle lets fewer through, until the wait gives up): the attempts are truly in flight
    # together, whatever the scheduling.
    in_check = threading.Barrier(n, timeout=1)
    checked = []
    real = accounts.authenticate

    def slow_authenticate(conn, name, password):
        checked.append(name)
        try:
            in_check.wait()
        except threading.BrokenBarrierError:
            pass
        return real(conn, name, password)

    monkeypatch.setattr(accounts, "authenticate", slow_authenticate)
    codes = []

    def attempt():
        r = app.test_client().post("/login", data={"username": "agent_a", "password": "wrong"})
        codes.append(r.status_code)

    threads = [threading.Thread(target=attempt) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(codes) == n
    assert len(checked) <= limit, (len(checked), sorted(codes))
    assert sorted(codes) == [401] * len(checked) + [429] * (n - len(checked))
    # Only the attempts that were checked count as failures: a refused one is not one more.
    # (Attempts racing each other may all be refused; none of them is then counted.)
    assert _failures(org) == len(checked)
    # The burst leaves no block beyond the failures it counted: the next attempt is checked
    # while they are fewer than the limit.
    monkeypatch.setattr(accounts, "authenticate", real)
    r = app.test_client().post("/login", data={"username": "agent_a", "password": "pw"})
    assert r.status_code == (302 if len(checked) < limit else 429)


def test_a_refused_attempt_does_not_lengthen_the_block(org):
    b = Browser(org, LOGIN_MAX_FAILURES=2)
    for _ in range(2):
        assert b.post("/login", {"username": "agent_a", "password": "wrong"}).status_code == 401
    for _ in range(3):
        assert b.post("/login", {"username": "agent_a", "password": "pw"}).status_code == 429
    assert _failures(org) == 2


def test_a_success_within_the_limit_clears_the_counted_attempts(org):
    b = Browser(org, LOGIN_MAX_FAILURES=3)
    assert b.post("/login", {"username": "agent_a", "password": "wrong"}).status_code == 401
    assert b.post("/login", {"username": "agent_a", "password": "pw"}).status_code == 302
    assert _failures(org) == 0


def test_an_attempt_that_fails_unexpectedly_still_counts(org, monkeypatch):
    # Fails closed: a check that crashed is not a free guess.
    app = create_app(org, {"TESTING": False, "WTF_CSRF_ENABLED": False})

    def broken(conn, name, password):
        raise RuntimeError("database went away")

    monkeypatch.setattr(accounts, "authenticate", broken)
    r = app.test_client().post("/login", data={"username": "agent_a", "password": "wrong"})
    assert r.status_code == 500
    assert _failures(org) == 1
