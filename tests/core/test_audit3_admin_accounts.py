"""Units, users and tokens an admin sets up (third audit): deep unit trees, a role named
twice, tokens of deactivated users (xrm_core.accounts). Runs on every engine."""
from __future__ import annotations

import pytest

from xrm_core import ValidationError, accounts, db
from xrm_core.errors import AuthenticationError, Conflict, NotFound
from sqlalchemy import func, select


@pytest.fixture
def platform(make_platform):
    return make_platform()


def _units(conn) -> int:
    return conn.execute(select(func.count()).select_from(db.units)).scalar()


def test_a_unit_tree_deeper_than_its_paths_hold_is_refused_clearly(platform):
    """Before: PostgreSQL failed with "value too long for type character varying(1000)" (a
    database error) around the 275th level, while SQLite stored the longer path."""
    with platform.connection() as conn:
        parent, made = None, 0
        with pytest.raises(ValidationError) as e:
            while made < 1000:
                accounts.create_unit(conn, f"level{made}", parent)
                parent, made = f"level{made}", made + 1
        assert "too deep" in e.value.errors[0]["message"] and e.value.errors[0]["pointer"] == "/parent"
        assert f"'level{made}'" in e.value.message and f"under {parent!r}" in e.value.message
        count = _units(conn)
        assert count == made + 1  # the root and every level made: the refused one is gone
        # The tree still works at its deepest: a user there sees its unit's records.
        accounts.create_user(conn, "deep", parent)
        assert accounts.get_user(conn, "deep")["unit"] == parent
    with platform.connection() as conn:
        assert all(len(path) <= db.units.c.path.type.length
                   for path in conn.execute(select(db.units.c.path)).scalars())


def test_a_role_named_twice_is_given_once(platform):
    """Before: ``xrm users create bob --unit root --role r --role r`` failed with a database
    error (duplicate key of user_roles)."""
    with platform.connection() as conn:
        accounts.create_role(conn, "clerk")
        made = accounts.create_user(conn, "bob", "root", ["clerk", "clerk"])
        assert made["roles"] == ["clerk"]
        assert accounts.get_user(conn, "bob")["roles"] == ["clerk"]
        with pytest.raises(NotFound):
            accounts.create_user(conn, "carl", "root", ["clerk", "ghost"])


def test_no_token_is_made_for_a_deactivated_user(platform):
    """Before: the token was made; useless while the user was deactivated, it started working
    when the user was activated again, though deactivating revokes every credential so that
    reactivating brings none back."""
    with platform.connection() as conn:
        accounts.create_user(conn, "ada", "root")
        accounts.set_active(conn, "ada", False)
        with pytest.raises(Conflict) as e:
            accounts.create_token(conn, "ada")
        assert "deactivated" in e.value.message and e.value.errors == [{"pointer": "/user",
                                                                        "message": "deactivated"}]
        assert conn.execute(select(func.count()).select_from(db.tokens)).scalar() == 0
        accounts.set_active(conn, "ada", True)
        token = accounts.create_token(conn, "ada")
        assert accounts.user_for_token(conn, token) == "ada"
        with pytest.raises(NotFound):
            accounts.create_token(conn, "ghost")
        accounts.set_active(conn, "ada", False)
        with pytest.raises(AuthenticationError):
            accounts.user_for_token(conn, token)


def test_an_action_named_twice_is_granted_once(platform):
    """Before: ``xrm roles grant clerk '*' read,read --depth own`` answered "read,read"."""
    with platform.connection() as conn:
        accounts.create_role(conn, "clerk")
        assert accounts.grant(conn, "clerk", "*", ["read", "read", "update"], "own", set())["actions"] == \
            ["read", "update"]
        (role,) = [r for r in accounts.list_roles(conn) if r["name"] == "clerk"]
        assert role["grants"] == [{"type": "*", "actions": ["read", "update"], "depth": "own"}]
        with pytest.raises(ValidationError) as e:
            accounts.grant(conn, "clerk", "*", ["fly", "fly"], "own", set())
        assert e.value.message.startswith("unknown action(s) fly:")
