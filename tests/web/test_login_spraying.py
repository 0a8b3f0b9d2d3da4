"""Failed logins are also counted per client address, whatever the user name: one address
trying a few passwords on many names (password spraying) got ``LOGIN_MAX_FAILURES`` guesses
for every name there is — the per-(name, address) count never saw more than a few failures
of one key.
"""
from __future__ import annotations

from sqlalchemy import func, select

from xrm_core import db
from xrm_core.web.ui.auth import Throttle

from test_ui_support import Browser


def _rows(org, key) -> int:
    with org.connection() as conn:
        return conn.execute(select(func.count()).select_from(db.login_failures).where(
            db.login_failures.c.key == Throttle.digest(key))).scalar_one()


def test_one_address_trying_many_names_is_refused_past_its_limit(org):
    b = Browser(org, LOGIN_MAX_FAILURES=5, LOGIN_MAX_ADDRESS_FAILURES=4)
    for i in range(4):  # one guess per name: far below any name's limit
        assert b.post("/login", {"username": f"guess{i}", "password": "Summer2026"}).status_code == 401
    r = b.post("/login", {"username": "agent_a", "password": "pw"})  # right, but the address is blocked
    assert r.status_code == 429
    assert "Too many failed logins from your address" in r.get_data(as_text=True)
    # The refused attempt counts for neither key: no password was checked.
    assert _rows(org, ("127.0.0.1",)) == 4
    assert _rows(org, ("agent_a", "127.0.0.1")) == 0
    # Another address is not blocked.
    other = b.client.post("/login", data={"username": "agent_a", "password": "pw", "csrf_token": b.token},
                          environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 302


def test_a_login_forgets_its_own_attempt_but_not_the_addresss_failures(org):
    b = Browser(org, LOGIN_MAX_ADDRESS_FAILURES=3)
    for name in ("x1", "x2"):
        assert b.post("/login", {"username": name, "password": "nope"}).status_code == 401
    assert b.post("/login", {"username": "agent_a", "password": "pw"}).status_code == 302
    # A sprayer's own valid account must not reset the count: the two failures stay, the
    # successful attempt is not one.
    assert _rows(org, ("127.0.0.1",)) == 2
    b.post("/logout")
    assert b.post("/login", {"username": "x3", "password": "nope"}).status_code == 401
    assert b.post("/login", {"username": "x4", "password": "nope"}).status_code == 429


def test_zero_turns_the_address_count_off(org):
    b = Browser(org, LOGIN_MAX_ADDRESS_FAILURES=0)
    for i in range(8):
        assert b.post("/login", {"username": f"n{i}", "password": "nope"}).status_code == 401
    assert _rows(org, ("127.0.0.1",)) == 0


def test_a_setting_that_is_no_count_uses_the_default(org):
    b = Browser(org, LOGIN_MAX_ADDRESS_FAILURES="lots")
    assert b.post("/login", {"username": "n", "password": "nope"}).status_code == 401
    assert _rows(org, ("127.0.0.1",)) == 1  # counted: the default limit applies
