"""Audit 10: a plugin declaring a role named ``admin`` — the core's own role.

``xrm init`` stores the core's ``admin`` role (every action on every type at depth ``all``)
and then each plugin's roles "with exactly these grants". A plugin whose ``roles.json`` had an
``admin`` role (say, a cooperative's board "admin") silently replaced it: the label, the
source, and the grants — every user an administrator had given the role (``xrm users create
bob --role admin``) lost access to everything else, on every init. The core's role name is
now refused like the core's activity kinds are, naming the plugin, and nothing is applied.
"""
from __future__ import annotations

import types

import pytest

from xrm_core import DefinitionError, Platform, hookimpl

THING = {"name": "thing", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}


def plugin(roles: list) -> types.ModuleType:
    m = types.ModuleType("xrm_coop.plugin")
    m.xrm_entity_types = hookimpl(lambda: [THING])
    m.xrm_roles = hookimpl(lambda: roles)
    return m


@pytest.fixture
def platform_of(db_url):
    made = []

    def make(roles: list) -> Platform:
        made.append(Platform(db_url, plugins={"coop": plugin(roles)}, load_entry_points=False))
        return made[-1]

    yield make
    for p in made:
        p.dispose()


def test_a_plugin_role_named_admin_is_refused_and_nothing_changes(platform_of):
    first = platform_of([])
    first.init(admin_password="secret-pw")
    with first.session() as s:
        s.create_unit("north")
        s.create_user("bob", "north", roles=["admin"], password="bob-secret")
        s.create("thing", {"a": "x"})
    board = [{"name": "admin", "label": "Board admin",
              "grants": [{"type": "thing", "actions": ["read"], "depth": "own"}]}]
    with pytest.raises(DefinitionError) as e:
        platform_of(board).init()
    assert e.value.message == ("plugin 'coop', role #0 (admin): role 'admin' is the core's own: choose another "
                               "name")
    assert e.value.errors == [{"pointer": "/name", "message": "reserved: admin"}]
    with first.session("bob") as s:  # bob keeps what the core's admin role grants
        assert s.count("thing") == 1 and s.actor.can("thing", "delete")


def test_other_role_names_still_merge_across_plugins(platform_of):
    p = platform_of([{"name": "board", "label": "Board", "grants": [{"type": "*", "actions": ["read"],
                                                                      "depth": "all"}]}])
    assert p.init(admin_password="secret-pw")["roles"] == 1


def test_init_warns_about_the_grants_it_removes_from_a_role(platform_of, cli):
    """``xrm roles grant caretaker other read --depth all`` on a plugin's role, or an admin's
    own role ``caretaker`` made before the plugin was installed: the next ``xrm init`` set the
    role to exactly the plugin's grants — the admin's were gone, without a word, though the
    guide says running init again "changes nothing unless a plugin changed its definitions".
    Init still gives the role the plugin's grants (a new version may narrow them) but now
    says which grants it removed."""
    caretaker = [{"name": "caretaker", "label": "Caretaker",
                  "grants": [{"type": "thing", "actions": ["read"], "depth": "unit"}]}]
    p = platform_of([])
    p.init(admin_password="secret-pw")
    coop = {"coop": plugin(caretaker)}
    for args in (("roles", "create", "caretaker"), ("roles", "grant", "caretaker", "thing", "read,update",
                                                     "--depth", "all")):
        assert cli(*args, plugins=coop).exit_code == 0
    report = platform_of(caretaker).init()
    assert report["warnings"] == [
        "role 'caretaker' was an admin's: it now has the grants plugin 'coop' declares, and lost thing: read @ all "
        "(now @ unit), thing: update @ all — give those through a role of another name"]
    assert platform_of(caretaker).init()["warnings"] == []  # nothing more to say
    assert cli("roles", "grant", "caretaker", "*", "read", "--depth", "own", plugins=coop).exit_code == 0
    assert platform_of(caretaker).init()["warnings"] == [
        "role 'caretaker' of plugin 'coop': init gave it exactly the grants it declares, and it lost *: read @ own "
        "(an admin's grant, or one an earlier version declared) — an admin's grants belong in a role of another name"]
