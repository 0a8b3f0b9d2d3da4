"""Expiring API tokens and the password policy on the web: an expired token is a 401 problem
like a revoked one; the admin UI's tokens page sets and shows the expiry; its user forms
refuse a short password (422, the form says why) and change nothing."""
from __future__ import annotations

import pytest
from xrm_core import accounts, db
from xrm_core.web import create_app

from test_ui_support import Browser, text


@pytest.fixture
def real_policy(monkeypatch):
    """The password policy as shipped: no XRM_MIN_PASSWORD_LENGTH (see tests/conftest.py)."""
    monkeypatch.delenv("XRM_MIN_PASSWORD_LENGTH", raising=False)


def _expire_all(platform) -> None:
    with platform.connection() as conn:
        conn.execute(db.tokens.update().where(db.tokens.c.label.is_(None) | (db.tokens.c.label != accounts.UI_SESSION))
                     .values(expires_at="2000-01-01T00:00:00.000000Z"))


# -- REST -------------------------------------------------------------------------------------
@pytest.mark.parametrize("ttl", [0, 60])
def test_an_expired_token_is_refused_like_a_revoked_one(org, ttl):
    with org.connection() as conn:
        expiring = accounts.create_token(conn, "manager_a", expires_in_days=1)
        revoked = accounts.create_token(conn, "manager_b")
        accounts.revoke_tokens(conn, "manager_b")
    client = create_app(org, {"TESTING": True, "API_AUTH_CACHE_SECONDS": ttl}).test_client()

    def get(token, method="GET"):
        return client.open("/api/v1/records/person", method=method, headers={"Authorization": f"Bearer {token}"},
                           **({"json": {"data": {"name": "P"}}} if method == "POST" else {}))

    assert get(expiring).status_code == 200
    _expire_all(org)
    # A write resolves its token again at once; a read once the process's cache time is over
    # (as for a revoked token: API_AUTH_CACHE_SECONDS).
    for r in [get(expiring, "POST")] + ([get(expiring)] if ttl == 0 else []):
        assert r.status_code == 401 and r.mimetype == "application/problem+json"
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="xrm"'
        said = get(revoked, r.request.method)
        assert said.status_code == 401 and said.json == r.json
        assert r.json["detail"] == "invalid, expired or revoked token"


def test_the_api_keeps_a_token_no_longer_than_it_works_whatever_its_cache_time(org):
    """A token's expiry is known in advance: a read within API_AUTH_CACHE_SECONDS of a
    cached hit is refused as soon as the token expires, not up to the cache time later."""
    from datetime import datetime, timedelta, timezone
    import time
    with org.connection() as conn:
        token = accounts.create_token(conn, "manager_a", expires_in_days=1)
        never = accounts.create_token(conn, "manager_b")
        soon = datetime.now(timezone.utc) + timedelta(seconds=3)
        conn.execute(db.tokens.update().where(db.tokens.c.expires_at.is_not(None))
                     .values(expires_at=soon.strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
    app = create_app(org, {"TESTING": True, "API_AUTH_CACHE_SECONDS": 600})
    client = app.test_client()

    def get(t):
        return client.get("/api/v1/records/person", headers={"Authorization": f"Bearer {t}"})

    assert get(token).status_code == 200 and get(never).status_code == 200
    kept = app.extensions["xrm_api_actors"]._items
    left = kept[token][0] - time.monotonic()
    assert 0 < left <= 3  # kept until the token's expiry, not for the 600 s of the cache
    assert kept[never][0] - time.monotonic() > 590  # a token that never expires: the cache time
    time.sleep(max(0.0, (soon - datetime.now(timezone.utc)).total_seconds()) + 0.2)
    r = get(token)
    assert r.status_code == 401 and r.json["detail"] == "invalid, expired or revoked token"
    assert get(never).status_code == 200


# -- the tokens page -------------------------------------------------------------------------
def test_the_tokens_page_creates_a_token_with_an_expiry_and_lists_it(org):
    b = Browser(org)
    b.login()
    r = b.post("/admin/tokens", {"user": "manager_a", "label": "ci", "expires_in_days": "7", "action": "create"})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    page = text(r)
    token = page.split('<code class="token">')[1].split("<")[0]
    with org.connection() as conn:
        assert accounts.user_for_token(conn, token) == "manager_a"
        (listed,) = accounts.list_tokens(conn, "manager_a")
    assert listed["expires_at"] is not None
    b.post("/admin/tokens", {"user": "manager_b", "label": "forever", "action": "create"})
    page = text(b.get("/admin/tokens"))
    assert token not in page and listed["expires_at"][:16] in page
    assert "forever" in page and "never" in page and 'name="expires_in_days"' in page
    assert "Empty: the token never expires." in page
    # Persian digits, as typed on a Persian page
    assert b.post("/admin/tokens", {"user": "manager_b", "expires_in_days": "۳", "action": "create"}).status_code == 200


@pytest.mark.parametrize("days, message", [("soon", "not an integer"), ("2.5", "not an integer"), ("²", "not an integer"),
                                           ("0", "at least 1 day"), ("40000", "at most 36500 days")])
def test_the_tokens_page_refuses_a_bad_lifetime_at_its_input(org, days, message):
    b = Browser(org)
    b.login()
    r = b.post("/admin/tokens", {"user": "manager_a", "label": "ci", "expires_in_days": days, "action": "create"})
    assert r.status_code == 422
    page = text(r)
    assert 'id="token-expires_in_days" aria-invalid="true"' in page and message in page
    assert 'value="ci"' in page and '<code class="token">' not in page  # what was typed stays
    with org.connection() as conn:
        assert accounts.list_tokens(conn) == []


def test_the_tokens_page_follows_the_organisations_longest_lifetime(org, monkeypatch):
    monkeypatch.setenv("XRM_TOKEN_MAX_DAYS", "30")
    b = Browser(org)
    b.login()
    assert "Empty: 30 days, the longest a token may live here." in text(b.get("/admin/tokens"))
    r = b.post("/admin/tokens", {"user": "manager_a", "expires_in_days": "31", "action": "create"})
    assert r.status_code == 422 and "at most 30 days" in text(r)
    r = b.post("/admin/tokens", {"user": "manager_a", "action": "create"})
    assert r.status_code == 200
    with org.connection() as conn:
        (listed,) = accounts.list_tokens(conn)
    assert listed["expires_at"] is not None


def test_an_expired_token_is_shown_as_expired(org):
    with org.connection() as conn:
        accounts.create_token(conn, "manager_a", "ci")
    _expire_all(org)
    b = Browser(org)
    b.login()
    page = text(b.get("/admin/tokens"))
    assert "2000-01-01T00:00" in page and ">expired<" in page.replace("</td>", "<")


# -- passwords in the user forms ---------------------------------------------------------------
def test_the_new_user_form_refuses_a_short_password_and_creates_nothing(org, real_policy):
    b = Browser(org)
    b.login()
    r = b.post("/admin/users", {"name": "zoe", "unit": "hq", "password": "short"})
    assert r.status_code == 422
    page = text(r)
    assert "at least 8 characters" in page and 'id="user-password" aria-invalid="true"' in page
    assert 'value="zoe"' in page and 'value="short"' not in page
    with org.connection() as conn:
        assert accounts.list_users(conn, "zoe") == []
    r = b.post("/admin/users", {"name": "zoe", "unit": "hq", "password": "long enough"})
    assert r.status_code == 302


def test_the_user_page_refuses_a_short_password_and_changes_nothing(org, real_policy):
    b = Browser(org)
    b.login()
    page = text(b.get("/admin/users/agent_a"))
    state = page.split('name="state" value="')[1].split('"')[0]
    with org.connection() as conn:
        session = accounts.open_ui_session(conn, "agent_a")
    # With the password, the same form moves the user and takes its role: all refused together.
    r = b.post("/admin/users/agent_a", {"state": state, "unit": "hq", "active": "on", "password": "1234567"})
    assert r.status_code == 422 and "at least 8 characters" in text(r)
    assert 'id="edit-password" aria-invalid="true" aria-describedby="edit-password-error"' in text(r)
    assert 'href="#edit-password"' in text(r)  # the summary links to it
    with org.connection() as conn:
        assert accounts.get_user(conn, "agent_a") == {"name": "agent_a", "unit": "dealer_a", "roles": ["agent"],
                                                     "is_admin": False, "active": True}
        assert accounts.authenticate(conn, "agent_a", "pw") == "agent_a"  # the old short one still works
        assert accounts.ui_session_user(conn, "agent_a", session) is not None
    r = b.post("/admin/users/agent_a", {"state": state, "unit": "dealer_a", "roles": "agent", "active": "on",
                                        "password": "12345678"})
    assert r.status_code == 302
    with org.connection() as conn:
        assert accounts.authenticate(conn, "agent_a", "12345678") == "agent_a"

