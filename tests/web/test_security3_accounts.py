"""Security review 3: accounts an administrator can create or edit.

``system`` is the actor the platform's automations act as (``Session.as_system``): every
history entry they write names it. A user of that name wrote entries nobody could tell from
the platform's own, so no account may take it — through the core, the admin UI or the CLI.
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from xrm_core import accounts, db
from xrm_core.errors import ValidationError

from test_ui_support import Browser


def _users(org) -> int:
    with org.connection() as conn:
        return conn.execute(select(func.count()).select_from(db.users)).scalar_one()


def test_automations_act_as_system_in_the_history(org):
    with org.session("admin", write=True) as s:
        rec = s.create("person", {"name": "P"})
        s.as_system().log(rec.id, "call", "routed by a plugin")
        assert s.history(rec.id)[-1]["actor"] == "system"


@pytest.mark.parametrize("name", ["system", "System", "SYSTEM"])
def test_no_user_can_be_named_like_the_platforms_automations(org, name):
    before = _users(org)
    with org.connection() as conn, pytest.raises(ValidationError) as e:
        accounts.create_user(conn, name, "hq", ["agent"], "pw")
    assert "reserved" in e.value.message
    assert e.value.errors == [{"pointer": "/name", "message": "reserved"}]
    assert _users(org) == before


def test_the_admin_ui_refuses_the_name_and_keeps_the_form(org):
    b = Browser(org)
    b.login("admin", "secret")
    before = _users(org)
    r = b.post("/admin/users", {"name": "system", "unit": "hq", "roles": ["agent"], "password": "pw"})
    assert r.status_code == 422
    page = r.get_data(as_text=True)
    assert "reserved" in page and 'value="system"' in page
    assert _users(org) == before


def test_the_cli_refuses_the_name(org, cli):
    before = _users(org)
    r = cli("users", "create", "system", "--unit", "hq", "--role", "agent", "--password", "pw")
    assert r.exit_code != 0
    assert "reserved" in r.stderr and "Traceback" not in r.stderr
    assert _users(org) == before


def test_other_names_are_still_free(org):
    with org.connection() as conn:
        assert accounts.create_user(conn, "systems", "hq", ["agent"], "pw")["name"] == "systems"
        assert accounts.create_user(conn, "sys", "hq", [], None)["name"] == "sys"


def test_two_admins_deactivating_each_other_at_once_leave_one_active(org):
    """The last-administrator guard holds when two deactivations run at the same time: the
    second waits for the first and is refused (without the lock both saw the other active
    and the platform was left with no administrator, the CLI included)."""
    import threading

    from xrm_core.errors import Conflict
    with org.connection() as conn:
        accounts.create_user(conn, "admin2", "hq", [], "pw", is_admin=True)
    outcome = {}

    def second():
        try:
            with org.connection() as conn:
                accounts.set_active(conn, "admin", False)
            outcome["second"] = "deactivated admin"
        except Conflict as e:
            outcome["second"] = e.message

    with org.connection() as conn:
        accounts.set_active(conn, "admin2", False)  # not committed yet
        other = threading.Thread(target=second)
        other.start()
        # A bounded wait, not a timing assertion: without the lock the second finishes now,
        # reading admin2 as still active.
        other.join(2)
    other.join(30)
    assert "last active administrator" in outcome["second"], outcome
    with org.connection() as conn:
        active = {u["name"] for u in accounts.list_users(conn) if u["is_admin"] and u["active"]}
    assert active == {"admin"}


def _state(org):
    with org.connection() as conn:
        return (accounts.list_units(conn), accounts.list_users(conn), accounts.list_roles(conn),
                conn.execute(select(func.count()).select_from(db.tokens)
                             .where(db.tokens.c.label.is_(None) | (db.tokens.c.label != accounts.UI_SESSION)))
                .scalar_one())


@pytest.mark.parametrize("user", ["manager_a", "analyst", "nobody"])
def test_no_admin_form_does_anything_for_a_non_administrator(org, user):
    """Every state-changing admin form, sent with a valid CSRF token by a logged-in user who
    is no administrator — to raise their own roles, make a user, grant a role everything,
    mint a token for the administrator — is a 403 that changes nothing."""
    b = Browser(org)
    b.login(user, "pw")
    before = _state(org)
    forms = [
        ("/admin/units", {"name": "mine", "parent": "hq"}),
        ("/admin/users", {"name": "eve", "unit": "hq", "roles": ["manager"], "password": "pw"}),
        (f"/admin/users/{user}", {"unit": "hq", "roles": ["manager", "analyst", "regional"], "active": "on"}),
        ("/admin/users/admin", {"unit": "hq", "active": "", "password": "taken-over"}),
        ("/admin/roles", {"name": "agent", "action": "grant", "type": "*", "actions": ["read", "delete"],
                          "depth": "all"}),
        ("/admin/roles", {"name": "sneaky", "label": "x"}),
        ("/admin/tokens", {"user": user, "label": "mine"}),
        ("/admin/tokens", {"user": "admin", "action": "revoke"}),
        ("/types/person", {"definition": "{}", "action": "apply"}),
    ]
    for path, form in forms:
        r = b.post(path, form)
        assert r.status_code == 403, (path, r.status_code)
        assert "xrm_" not in r.get_data(as_text=True)
    assert _state(org) == before
    # The administrator's password is untouched.
    assert Browser(org).post("/login", {"username": "admin", "password": "secret"}).status_code == 302
