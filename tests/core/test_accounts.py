"""Accounts: units, users with argon2 password hashes, roles and grants, API tokens stored
as SHA-256 hashes only."""
from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from xrm_core import AuthenticationError, Conflict, NotFound, ValidationError, accounts, db
from xrm_core.errors import DefinitionError

PRODUCTION_HASHER = accounts._hasher


def test_production_hashes_are_argon2id_with_strong_parameters():
    from argon2 import Type
    h = PRODUCTION_HASHER
    assert h.type is Type.ID and h.time_cost >= 2 and h.memory_cost >= 19 * 1024  # OWASP minimum

def stored(platform, table, *columns):
    with platform.engine.connect() as conn:
        return conn.execute(select(*[table.c[c] for c in columns])).all()


# -- units -------------------------------------------------------------------------------
def test_units_form_a_tree(platform):
    with platform.connection() as conn:
        hq = accounts.create_unit(conn, "hq")
        north = accounts.create_unit(conn, "north", "hq")
        leaf = accounts.create_unit(conn, "leaf", "north", label={"en": "Leaf"})
        units = {u["name"]: u for u in accounts.list_units(conn)}
    assert hq["parent"] == "root" and north["parent"] == "hq" and leaf["parent"] == "north"
    assert leaf["path"] == f"{north['path']}{leaf['id']}/" and north["path"].startswith(hq["path"])
    assert {n: (u["parent"], u["depth"]) for n, u in units.items()} == {
        "root": (None, 0), "hq": ("root", 1), "north": ("hq", 2), "leaf": ("north", 3)}


def test_unit_errors_change_nothing(platform):
    with platform.connection() as conn:
        accounts.create_unit(conn, "hq")
    before = stored(platform, db.units, "name", "path")
    for args, error in ((("hq",), Conflict), (("x", "atlantis"), NotFound), (("",), ValidationError),
                        (("  ",), ValidationError), ((None,), ValidationError), (("x" * 201,), ValidationError)):
        with pytest.raises(error):
            with platform.connection() as conn:
                accounts.create_unit(conn, *args)
    assert stored(platform, db.units, "name", "path") == before


# -- users and passwords -----------------------------------------------------------------
def test_passwords_are_stored_as_argon2_hashes(platform):
    with platform.connection() as conn:
        u = accounts.create_user(conn, "ada", "root", password="correct horse")
        accounts.create_user(conn, "bob", "root", password="correct horse")
    assert u == {"id": u["id"], "name": "ada", "unit": "root", "roles": [], "is_admin": False}
    hashes = dict(stored(platform, db.users, "name", "password_hash"))
    assert hashes["ada"].startswith("$argon2id$") and "correct horse" not in hashes["ada"]
    assert hashes["ada"] != hashes["bob"]  # salted
    assert hashes["admin"].startswith("$argon2id$") and "secret" not in hashes["admin"]


def test_authenticate(platform):
    with platform.connection() as conn:
        accounts.create_user(conn, "ada", "root", password="pw1")
        accounts.create_user(conn, "nopass", "root")
        assert accounts.authenticate(conn, "ada", "pw1") == "ada"
        assert accounts.authenticate(conn, "admin", "secret") == "admin"
        failures = []
        for name, pw in (("ada", "pw2"), ("ada", ""), ("ghost", "pw1"), ("nopass", ""), ("nopass", "x")):
            with pytest.raises(AuthenticationError) as e:
                accounts.authenticate(conn, name, pw)
            failures.append(str(e.value))
        assert len(set(failures)) == 1  # an unknown user is not told apart from a wrong password
        accounts.set_password(conn, "ada", "pw2")
        assert accounts.authenticate(conn, "ada", "pw2") == "ada"
        with pytest.raises(AuthenticationError):
            accounts.authenticate(conn, "ada", "pw1")
        with pytest.raises(NotFound):
            accounts.set_password(conn, "ghost", "x")
        conn.execute(db.users.update().where(db.users.c.name == "ada").values(active=False))
        with pytest.raises(AuthenticationError):
            accounts.authenticate(conn, "ada", "pw2")


def test_verify_password_never_raises():
    h = accounts.hash_password("pw")
    assert accounts.verify_password(h, "pw")
    assert not accounts.verify_password(h, "other")
    for broken in (None, "", "plain text", "$argon2id$garbage"):
        assert not accounts.verify_password(broken, "pw")


def test_user_errors_change_nothing(platform):
    with platform.connection() as conn:
        accounts.create_role(conn, "clerk")
        accounts.create_user(conn, "ada", "root")
    before = stored(platform, db.users, "name"), stored(platform, db.user_roles, "user_id", "role_id")
    for kwargs, error in ((dict(name="ada", unit="root"), Conflict),
                          (dict(name="bob", unit="atlantis"), NotFound),
                          (dict(name="bob", unit="root", roles=["clerk", "no_role"]), NotFound),
                          (dict(name="", unit="root"), ValidationError)):
        with pytest.raises(error):
            with platform.connection() as conn:
                accounts.create_user(conn, **kwargs)
    assert (stored(platform, db.users, "name"), stored(platform, db.user_roles, "user_id", "role_id")) == before


# -- roles and grants --------------------------------------------------------------------
def test_roles_and_grants(platform):
    with platform.connection() as conn:
        accounts.create_role(conn, "clerk", "Clerk")
        g = accounts.grant(conn, "clerk", "person", ["read", "update"], "unit", {"person", "note"})
        accounts.grant(conn, "clerk", "*", ["read"], "own", {"person"})
        accounts.grant(conn, "clerk", "person", ["read"], "subtree", {"person"})  # replaces the depth
        accounts.create_user(conn, "ada", "root")
        accounts.assign_role(conn, "ada", "clerk")
        accounts.assign_role(conn, "ada", "clerk")  # idempotent
        roles = {r["name"]: r for r in accounts.list_roles(conn)}
        users = {u["name"]: u for u in accounts.list_users(conn)}
    assert g == {"role": "clerk", "type": "person", "actions": ["read", "update"], "depth": "unit"}
    assert roles["clerk"]["label"] == "Clerk" and roles["clerk"]["source"] == "admin"
    assert sorted(map(str, roles["clerk"]["grants"])) == sorted(map(str, [
        {"type": "*", "actions": ["read"], "depth": "own"},
        {"type": "person", "actions": ["read"], "depth": "subtree"},
        {"type": "person", "actions": ["update"], "depth": "unit"}]))
    assert users["ada"]["roles"] == ["clerk"] and users["admin"]["is_admin"]
    assert roles["admin"]["grants"] == [{"type": "*", "actions": ["read", "create", "update", "delete"],
                                         "depth": "all"}]


def test_grant_errors_change_nothing(platform):
    with platform.connection() as conn:
        accounts.create_role(conn, "clerk")
    for args, error, named in [
        (("ghost", "person", ["read"], "all"), NotFound, "ghost"),
        (("clerk", "no_type", ["read"], "all"), NotFound, "no_type"),
        (("clerk", "person", ["read", "fly"], "all"), ValidationError, "fly"),
        (("clerk", "person", [], "all"), ValidationError, "action"),
        (("clerk", "person", ["read"], "none"), ValidationError, "none"),
        (("clerk", "person", ["read"], "galaxy"), ValidationError, "galaxy"),
    ]:
        with pytest.raises(error) as e:
            with platform.connection() as conn:
                accounts.grant(conn, *args, known_types={"person"})
        assert named in str(e.value)
    with platform.connection() as conn:
        assert next(r for r in accounts.list_roles(conn) if r["name"] == "clerk")["grants"] == []


def test_role_definitions_are_validated(platform):
    with pytest.raises(DefinitionError):
        with platform.connection() as conn:
            accounts.save_role(conn, {"name": "x", "grants": [{"type": "*", "actions": ["read"], "depth": "galaxy"}]})
    with pytest.raises(Conflict):
        with platform.connection() as conn:
            accounts.create_role(conn, "admin")
    with pytest.raises(NotFound):
        with platform.connection() as conn:
            accounts.assign_role(conn, "admin", "ghost")
    with pytest.raises(NotFound):
        with platform.connection() as conn:
            accounts.assign_role(conn, "ghost", "admin")


# -- tokens ------------------------------------------------------------------------------
def test_tokens_are_stored_hashed(platform):
    with platform.connection() as conn:
        t1 = accounts.create_token(conn, "admin", "ci")
        t2 = accounts.create_token(conn, "admin")
    assert t1 != t2 and t1.startswith("xrm_") and len(t1) > 40
    rows = stored(platform, db.tokens, "token_hash", "label")
    assert sorted(rows) == sorted([(hashlib.sha256(t1.encode()).hexdigest(), "ci"),
                                   (hashlib.sha256(t2.encode()).hexdigest(), None)])
    with platform.engine.connect() as conn:
        dump = str(conn.execute(select(db.tokens)).all())
    assert t1 not in dump and t2 not in dump


def test_user_for_token_and_revoke(platform):
    with platform.connection() as conn:
        accounts.create_user(conn, "ada", "root")
        t_ada = accounts.create_token(conn, "ada")
        t_admin = accounts.create_token(conn, "admin")
        assert accounts.user_for_token(conn, t_ada) == "ada"
        assert accounts.user_for_token(conn, t_admin) == "admin"
        for bad in ("", None, "xrm_wrong", t_ada + "x", hashlib.sha256(t_ada.encode()).hexdigest()):
            with pytest.raises(AuthenticationError):
                accounts.user_for_token(conn, bad)
        assert accounts.revoke_tokens(conn, "ada") == 1
        assert accounts.revoke_tokens(conn, "ada") == 0
        with pytest.raises(AuthenticationError):
            accounts.user_for_token(conn, t_ada)
        assert accounts.user_for_token(conn, t_admin) == "admin"
        with pytest.raises(NotFound):
            accounts.create_token(conn, "ghost")
        with pytest.raises(NotFound):
            accounts.revoke_tokens(conn, "ghost")


def test_a_deactivated_users_token_stops_working(platform):
    with platform.connection() as conn:
        accounts.create_user(conn, "ada", "root")
        token = accounts.create_token(conn, "ada")
        conn.execute(db.users.update().where(db.users.c.name == "ada").values(active=False))
        with pytest.raises(AuthenticationError):
            accounts.user_for_token(conn, token)


def test_a_token_label_longer_than_its_column_is_refused(platform):
    from xrm_core import accounts
    with platform.connection() as conn:
        with pytest.raises(ValidationError) as exc:
            accounts.create_token(conn, "admin", "x" * 201)
        assert exc.value.errors[0]["pointer"] == "/label"
        assert accounts.create_token(conn, "admin", "x" * 200).startswith("xrm_")


# -- editing users and roles --------------------------------------------------------------
def test_deactivating_revokes_every_credential_and_keeps_the_last_admin(platform):
    with platform.connection() as conn:
        accounts.create_user(conn, "ada", "root", password="pw")
        token = accounts.create_token(conn, "ada")
        ui = accounts.open_ui_session(conn, "ada")
        assert accounts.set_active(conn, "ada", False) == 2
        with pytest.raises(AuthenticationError):
            accounts.authenticate(conn, "ada", "pw")
        assert accounts.ui_session_user(conn, "ada", ui) is None
        assert accounts.set_active(conn, "ada", True) == 0
        assert accounts.authenticate(conn, "ada", "pw") == "ada"
        with pytest.raises(AuthenticationError):
            accounts.user_for_token(conn, token)  # old credentials stay revoked
        assert accounts.ui_session_user(conn, "ada", ui) is None
        with pytest.raises(Conflict, match="last active administrator"):
            accounts.set_active(conn, "admin", False)
        accounts.create_user(conn, "root2", "root", is_admin=True)
        assert accounts.set_active(conn, "admin", False) == 0  # another admin is left
        with pytest.raises(Conflict):
            accounts.set_active(conn, "root2", False)
        with pytest.raises(NotFound):
            accounts.set_active(conn, "ghost", False)


def test_a_new_password_ends_ui_sessions_but_not_api_tokens(platform):
    with platform.connection() as conn:
        accounts.create_user(conn, "ada", "root", password="pw")
        token = accounts.create_token(conn, "ada")
        ui = accounts.open_ui_session(conn, "ada")
        assert accounts.ui_session_user(conn, "ada", ui).name == "ada"
        accounts.set_password(conn, "ada", "new")
        assert accounts.ui_session_user(conn, "ada", ui) is None
        assert accounts.user_for_token(conn, token) == "ada"
        with pytest.raises(ValidationError):
            accounts.set_password(conn, "ada", "")
        assert accounts.authenticate(conn, "ada", "new") == "ada"


def test_ui_sessions_expire_and_ended_ones_are_pruned(platform):
    with platform.connection() as conn:
        accounts.create_user(conn, "ada", "root")
        old = accounts.open_ui_session(conn, "ada")
        ended = accounts.open_ui_session(conn, "ada")
        accounts.close_ui_session(conn, ended)
        api = accounts.create_token(conn, "ada")
        accounts.revoke_tokens(conn, "ada")  # revoked API tokens are kept: they are no sessions
        conn.execute(db.tokens.update().where(db.tokens.c.token_hash == accounts._token_hash(old))
                     .values(created_at="2000-01-01T00:00:00.000000Z"))
        assert accounts.ui_session_user(conn, "ada", old) is None  # older than the lifetime
        fresh = accounts.open_ui_session(conn, "ada", max_age_hours=1)
        hashes = {h for (h,) in conn.execute(select(db.tokens.c.token_hash))}
    assert hashes == {accounts._token_hash(fresh), accounts._token_hash(api)}
    with platform.connection() as conn:
        assert accounts.ui_session_user(conn, "ada", fresh, max_age_hours=1).name == "ada"


def test_move_user_and_revoke_role_and_grant(platform):
    with platform.connection() as conn:
        accounts.create_unit(conn, "north")
        accounts.create_role(conn, "clerk")
        accounts.grant(conn, "clerk", "*", ["read", "update"], "unit", set())
        accounts.create_user(conn, "ada", "root", roles=["clerk"])
        accounts.move_user(conn, "ada", "north")
        assert accounts.get_user(conn, "ada")["unit"] == "north"
        assert accounts.revoke_role(conn, "ada", "clerk") is True
        assert accounts.revoke_role(conn, "ada", "clerk") is False
        assert accounts.get_user(conn, "ada")["roles"] == []
        assert accounts.revoke_grant(conn, "clerk", "*", ["delete", "update"]) == ["update"]
        assert accounts.revoke_grant(conn, "clerk", "*", ["update"]) == []
        clerk = {r["name"]: r for r in accounts.list_roles(conn)}["clerk"]
        assert clerk["grants"] == [{"type": "*", "actions": ["read"], "depth": "unit"}]
        assert accounts.role_source(conn, "clerk") == "admin" and accounts.role_source(conn, "nope") is None
    before = stored(platform, db.users, "name", "unit_id"), stored(platform, db.grants, "role_id", "action")
    for call, error in ((lambda c: accounts.move_user(c, "ada", "atlantis"), NotFound),
                        (lambda c: accounts.move_user(c, "ghost", "root"), NotFound),
                        (lambda c: accounts.revoke_role(c, "ada", "nope"), NotFound),
                        (lambda c: accounts.revoke_role(c, "ghost", "clerk"), NotFound),
                        (lambda c: accounts.revoke_grant(c, "clerk", "*", ["fly"]), ValidationError),
                        (lambda c: accounts.revoke_grant(c, "clerk", "*", []), ValidationError),
                        (lambda c: accounts.revoke_grant(c, "nope", "*", ["read"]), NotFound),
                        (lambda c: accounts.get_user(c, "ghost"), NotFound)):
        with pytest.raises(error):
            with platform.connection() as conn:
                call(conn)
    assert (stored(platform, db.users, "name", "unit_id"), stored(platform, db.grants, "role_id", "action")) == before


def test_the_ui_session_label_is_no_token_label(platform):
    """A token labelled like a UI session would be a UI session secret, not an API token."""
    from xrm_core import ValidationError
    with platform.connection() as conn:
        with pytest.raises(ValidationError, match="reserved for admin UI sessions"):
            accounts.create_token(conn, "admin", f" {accounts.UI_SESSION} ")
        secret = accounts.open_ui_session(conn, "admin")
        assert accounts.ui_session_user(conn, "admin", secret) is not None


@pytest.mark.parametrize("name", ["a\nb", "tab\there", " padded", "bell\x07", "ok\u2028no"])
def test_unit_and_user_names_hold_no_control_characters(platform, name):
    with platform.connection() as conn:
        with pytest.raises(ValidationError, match="no control characters"):
            accounts.create_unit(conn, name)
        with pytest.raises(ValidationError, match="no control characters"):
            accounts.create_user(conn, name, accounts.ROOT_UNIT)
        accounts.create_unit(conn, "Nord-Ost 2 (北)")


def test_init_again_rewrites_no_grant_and_a_new_release_only_what_changed(make_platform):
    """Every `xrm init` deleted a plugin role's grants and inserted them again (new ids):
    "init again changes nothing" did not hold for roles."""
    from sqlalchemy import select

    from xrm_core import db, hookimpl

    class Desk:
        __name__ = "desk"

        def __init__(self, grants):
            self.grants = grants

        @staticmethod
        @hookimpl
        def xrm_entity_types():
            return [{"name": "memo", "schema": {"type": "object"}}]

        @hookimpl
        def xrm_roles(self):
            return [{"name": "clerk", "label": {"en": "Clerk", "fa": "کارمند"}, "grants": self.grants}]

    def grants(platform):
        with platform.connection() as conn:
            return sorted(map(tuple, conn.execute(select(db.grants.c.id, db.grants.c.entity_type, db.grants.c.action,
                                                         db.grants.c.depth)
                                                  .join(db.roles).where(db.roles.c.name == "clerk")).all()))

    v1 = [{"type": "memo", "actions": ["read", "create"], "depth": "unit"}]
    p = make_platform(Desk(v1))
    before = grants(p)
    assert sorted(g[1:] for g in before) == [("memo", "create", "unit"), ("memo", "read", "unit")]
    make_platform(Desk(v1), init=False).init()
    assert grants(p) == before  # the same rows, ids included
    # A release that drops create and widens read: the read row is kept (its id), create goes.
    make_platform(Desk([{"type": "memo", "actions": ["read"], "depth": "subtree"}]), init=False).init()
    read_id = next(g[0] for g in before if g[2] == "read")
    assert grants(p) == [(read_id, "memo", "read", "subtree")]
