"""Account security policies in the core: the password policy (at least 8 characters by
default, ``XRM_MIN_PASSWORD_LENGTH``) on every path that sets a password, and API tokens that
expire (``expires_at``, ``XRM_TOKEN_MAX_DAYS``), with the migration that adds the column.

tests/conftest.py lowers the password minimum for the whole suite; ``real_policy`` restores
the default here."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from xrm_core import Platform, accounts, db, migrations
from xrm_core.errors import AuthenticationError, ValidationError
from xrm_core.plugins import make_plugin_manager


@pytest.fixture
def real_policy(monkeypatch):
    """The password policy as shipped: no XRM_MIN_PASSWORD_LENGTH (see tests/conftest.py)."""
    monkeypatch.delenv("XRM_MIN_PASSWORD_LENGTH", raising=False)


def _pointers(e) -> list:
    return [(err["pointer"], err["message"]) for err in e.value.errors]


# -- the password policy ------------------------------------------------------------------
def test_the_default_minimum_is_8_characters(real_policy):
    assert accounts.min_password_length() == accounts.MIN_PASSWORD_LENGTH == 8
    with pytest.raises(ValidationError, match="at least 8 characters") as e:
        accounts.check_password("1234567")
    assert _pointers(e) == [("/password", "at least 8 characters")]
    accounts.check_password("12345678")
    # Characters as typed, not bytes: eight Persian letters are eight characters.
    accounts.check_password("گذرواژهٔ")
    with pytest.raises(ValidationError, match="empty"):
        accounts.check_password("")
    with pytest.raises(ValidationError, match="too long"):
        accounts.check_password("x" * (accounts.MAX_PASSWORD_LENGTH + 1))


def test_the_minimum_is_a_setting(real_policy, monkeypatch):
    monkeypatch.setenv("XRM_MIN_PASSWORD_LENGTH", "12")
    with pytest.raises(ValidationError, match="at least 12 characters"):
        accounts.check_password("x" * 11)
    accounts.check_password("x" * 12)
    for bad in ("0", "eight", "-3", "129", "²", "۸"):
        monkeypatch.setenv("XRM_MIN_PASSWORD_LENGTH", bad)
        with pytest.raises(ValidationError, match="XRM_MIN_PASSWORD_LENGTH"):
            accounts.check_password("long enough password")


def test_create_user_refuses_a_short_password_and_creates_nothing(platform, real_policy):
    with pytest.raises(ValidationError, match="at least 8 characters") as e:
        with platform.connection() as conn:
            accounts.create_user(conn, "bob", "root", [], "short")
    assert _pointers(e) == [("/password", "at least 8 characters")]
    with platform.connection() as conn:
        assert accounts.list_users(conn, "bob") == []
        accounts.create_user(conn, "bob", "root", [], "long enough")  # the same, with a good one
        accounts.create_user(conn, "carol", "root", [])  # no password: no UI login, allowed
        assert accounts.authenticate(conn, "bob", "long enough") == "bob"


def test_a_plugin_session_creating_a_user_gets_the_policy_too(platform, real_policy):
    with pytest.raises(ValidationError, match="at least 8 characters"):
        with platform.session() as s:
            s.create_user("dave", "root", password="1234")
    with platform.connection() as conn:
        assert accounts.list_users(conn, "dave") == []


def test_set_password_refuses_a_short_one_and_the_old_one_keeps_working(platform, monkeypatch):
    with platform.connection() as conn:
        accounts.create_user(conn, "bob", "root", [], "pw")  # set under the suite's lowered policy
        session = accounts.open_ui_session(conn, "bob")
    monkeypatch.delenv("XRM_MIN_PASSWORD_LENGTH")
    with pytest.raises(ValidationError, match="at least 8 characters"):
        with platform.connection() as conn:
            accounts.set_password(conn, "bob", "seven77")
    with platform.connection() as conn:
        # A policy on setting, not on login: the stored short password still logs in, and
        # the refused change ended no session.
        assert accounts.authenticate(conn, "bob", "pw") == "bob"
        assert accounts.ui_session_user(conn, "bob", session) is not None
        accounts.set_password(conn, "bob", "eight888")
        assert accounts.authenticate(conn, "bob", "eight888") == "bob"


def test_init_refuses_a_short_admin_password_and_changes_nothing(make_platform, real_policy):
    p = make_platform(init=False)
    with pytest.raises(ValidationError, match="at least 8 characters"):
        p.init(admin_password="admin")
    with p.engine.connect() as conn:
        assert migrations.current(conn) is None  # not even migrated: init is all or nothing
    p.init(admin_password="admin password")
    with pytest.raises(ValidationError, match="at least 8 characters"):
        p.init(admin_password="short")
    with p.connection() as conn:
        assert accounts.authenticate(conn, "admin", "admin password") == "admin"


# -- tokens that expire -------------------------------------------------------------------
def _expire(platform, token: str, when: str) -> None:
    with platform.connection() as conn:
        conn.execute(db.tokens.update().where(db.tokens.c.token_hash == accounts._token_hash(token))
                     .values(expires_at=when))


def test_a_token_works_until_it_expires_then_is_refused_like_a_revoked_one(platform):
    with platform.connection() as conn:
        token = accounts.create_token(conn, "admin", "ci", expires_in_days=3)
        forever = accounts.create_token(conn, "admin", "forever")
        assert accounts.user_for_token(conn, token) == "admin"
        row = conn.execute(select(db.tokens.c.created_at, db.tokens.c.expires_at)
                           .where(db.tokens.c.label == "ci")).one()
    created = datetime.fromisoformat(row.created_at.replace("Z", "+00:00"))
    expires = datetime.fromisoformat(row.expires_at.replace("Z", "+00:00"))
    assert abs(expires - created - timedelta(days=3)) < timedelta(minutes=1)
    _expire(platform, token, db.utcnow())
    with platform.connection() as conn:
        with pytest.raises(AuthenticationError, match="invalid, expired or revoked token"):
            accounts.user_for_token(conn, token)
        assert accounts.user_for_token(conn, forever) == "admin"
        assert [(t["label"], t["status"]) for t in accounts.list_tokens(conn, "admin")] == [
            ("ci", "expired"), ("forever", "active")]


def test_a_token_may_expire_at_a_given_time(platform):
    later = datetime.now(timezone.utc) + timedelta(days=10)
    with platform.connection() as conn:
        token = accounts.create_token(conn, "admin", expires_at=later)
        assert accounts.user_for_token(conn, token) == "admin"
        (listed,) = accounts.list_tokens(conn)
    assert listed["expires_at"] == later.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize("kwargs, pointer", [
    ({"expires_in_days": 0}, "/expires_in_days"),
    ({"expires_in_days": 36501}, "/expires_in_days"),
    ({"expires_in_days": True}, "/expires_in_days"),
    ({"expires_at": datetime(2020, 1, 1)}, "/expires_at"),
    ({"expires_in_days": 1, "expires_at": datetime(2099, 1, 1)}, "/expires_at"),
])
def test_a_bad_expiry_is_refused_and_creates_no_token(platform, kwargs, pointer):
    with pytest.raises(ValidationError) as e:
        with platform.connection() as conn:
            accounts.create_token(conn, "admin", **kwargs)
    assert [p for p, _ in _pointers(e)] == [pointer]
    with platform.connection() as conn:
        assert accounts.list_tokens(conn) == []


def test_the_organisations_longest_lifetime(platform, monkeypatch):
    monkeypatch.setenv("XRM_TOKEN_MAX_DAYS", "30")
    with platform.connection() as conn:
        accounts.create_token(conn, "admin", "default")            # gets the 30 days
        accounts.create_token(conn, "admin", "short", expires_in_days=7)
        accounts.create_token(conn, "admin", "longest", expires_in_days=30)
        with pytest.raises(ValidationError, match="at most 30 days") as e:
            accounts.create_token(conn, "admin", "too long", expires_in_days=31)
        assert _pointers(e) == [("/expires_in_days", "at most 30 days")]
        listed = {t["label"]: t for t in accounts.list_tokens(conn)}
    assert set(listed) == {"default", "short", "longest"}
    assert listed["default"]["expires_at"] is not None
    assert listed["short"]["expires_at"] < listed["default"]["expires_at"]
    monkeypatch.setenv("XRM_TOKEN_MAX_DAYS", "soon")
    with pytest.raises(ValidationError, match="XRM_TOKEN_MAX_DAYS"):
        with platform.connection() as conn:
            accounts.create_token(conn, "admin")


def test_ui_sessions_are_not_listed_and_not_subject_to_the_token_lifetime(platform, monkeypatch):
    monkeypatch.setenv("XRM_TOKEN_MAX_DAYS", "1")
    with platform.connection() as conn:
        secret = accounts.open_ui_session(conn, "admin")
        accounts.revoke_tokens(conn, "admin")
        accounts.create_token(conn, "admin", "api")
        assert [(t["label"], t["status"]) for t in accounts.list_tokens(conn)] == [("api", "active")]
        assert accounts.ui_session_user(conn, "admin", secret) is None  # revoked, not expired
        row = conn.execute(select(db.tokens.c.expires_at).where(db.tokens.c.label == accounts.UI_SESSION)).one()
    assert row.expires_at is None


def test_list_tokens_never_shows_a_token_or_its_hash(platform):
    with platform.connection() as conn:
        token = accounts.create_token(conn, "admin", "ci")
        accounts.revoke_tokens(conn, "admin")
        (listed,) = accounts.list_tokens(conn, "admin")
        stored_hash = conn.execute(select(db.tokens.c.token_hash)).scalar()
    assert set(listed) == {"user", "label", "created_at", "expires_at", "revoked_at", "status"}
    assert listed["status"] == "revoked" and listed["revoked_at"]
    assert token not in str(listed) and stored_hash not in str(listed)


# -- the migration --------------------------------------------------------------------------
def test_a_database_of_revision_0004_gets_the_column_and_keeps_its_tokens(db_url):
    engine = db.make_engine(db_url)
    try:
        with engine.begin() as conn:
            migrations.upgrade(conn, "0004")
            assert "expires_at" not in {c["name"] for c in sa.inspect(conn).get_columns("xrm_tokens")}
            # (no ids given: PostgreSQL's sequences must stay ahead of the rows)
            unit = conn.execute(db.units.insert().values(name="root", path="/1/", created_at=db.utcnow())
                                ).inserted_primary_key[0]
            conn.execute(db.units.update().values(path=f"/{unit}/"))
            user = conn.execute(db.users.insert().values(name="old", unit_id=unit, is_admin=False, active=True,
                                                         created_at=db.utcnow())).inserted_primary_key[0]
            # A token row as revision 0004 wrote it: the columns of that time only.
            conn.execute(sa.text("INSERT INTO xrm_tokens (user_id, token_hash, created_at) VALUES (:u, :h, :at)"),
                         {"u": user, "h": accounts._token_hash("xrm_old"), "at": "2026-01-01T00:00:00.000000Z"})
    finally:
        engine.dispose()
    p = Platform(db_url, pm=make_plugin_manager(load_entry_points=False))
    try:
        assert p.init()["migrated_from"] == "0004"
        with p.connection() as conn:
            assert migrations.current(conn) == migrations.HEAD  # 0005 added the column; any later head keeps it
            assert accounts.user_for_token(conn, "xrm_old") == "old"  # an old token never expires
            assert [t["expires_at"] for t in accounts.list_tokens(conn, "old")] == [None]
    finally:
        p.dispose()
