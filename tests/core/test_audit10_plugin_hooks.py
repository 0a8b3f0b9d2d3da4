"""Audit 10: a hook function an integrator forgot to mark ``@hookimpl``.

docs/plugins.md promises that "a typo in a hook name is an error, not a silently ignored
function". Leaving out the marker was silent all the same: pluggy registers only marked
functions, so ``xrm_entity_types`` without ``@hookimpl`` declared nothing, ``xrm init``
succeeded, and ``xrm plugins list`` showed the plugin with no hooks — the integrator only
learned of it from a missing type. A function named like a hook and left unmarked now
stops the platform with a ``PluginError`` naming the plugin and the function.
"""
from __future__ import annotations

import types

import pytest

from xrm_core import PluginError, hookimpl, hookspec
from xrm_core.plugins import make_plugin_manager

THING = {"name": "thing", "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}


def module(name: str, **attrs) -> types.ModuleType:
    m = types.ModuleType(name)
    for key, value in attrs.items():
        setattr(m, key, value)
    return m


def test_a_hook_function_without_the_marker_is_named():
    def xrm_entity_types():
        return [THING]
    with pytest.raises(PluginError) as e:
        make_plugin_manager(False, {"coop": module("xrm_coop.plugin", xrm_entity_types=xrm_entity_types)})
    assert e.value.message == ("plugin 'coop' defines xrm_entity_types without marking it @hookimpl (from "
                               "xrm_core import hookimpl), so it would never be called")
    assert e.value.plugin == "coop" and e.value.hook == "xrm_entity_types"


def test_an_unmarked_listener_of_another_plugins_hook_is_named_whatever_the_order():
    class Spec:
        @staticmethod
        @hookspec
        def xrm_coop_ticket_closed(ticket, session):
            """A ticket was closed."""

    announcer = module("ann", xrm_addhooks=hookimpl(lambda pm: pm.add_hookspecs(Spec)))

    def xrm_coop_ticket_closed(ticket, session):
        return None
    listener = module("lis", xrm_coop_ticket_closed=xrm_coop_ticket_closed)
    for plugins in ({"coop": announcer, "a_listener": listener}, {"a_listener": listener, "coop": announcer}):
        with pytest.raises(PluginError, match="^plugin 'a_listener' defines xrm_coop_ticket_closed without"):
            make_plugin_manager(False, plugins)


def test_marked_hooks_specs_and_other_names_are_left_alone():
    class Spec:
        @staticmethod
        @hookspec
        def xrm_coop_ticket_closed(ticket, session):
            """A spec is not an implementation."""

    plugin = module("ok", xrm_addhooks=hookimpl(lambda pm: pm.add_hookspecs(Spec)),
                    xrm_coop_ticket_closed=Spec.xrm_coop_ticket_closed,  # re-exported spec
                    xrm_entity_types=hookimpl(lambda: [THING]),
                    xrm_helper=lambda: None,  # no hook has that name
                    xrm_kpis=["not a function"])
    pm = make_plugin_manager(False, {"ok": plugin})
    assert [i.plugin_name for i in pm.hook.xrm_entity_types.get_hookimpls()] == ["ok"]


def test_the_installed_plugins_all_mark_their_hooks():
    make_plugin_manager(True)  # the built-in plugins (and any installed one) pass the check


def test_init_warns_about_a_blocked_name_no_plugin_has(db_url, monkeypatch):
    """``XRM_DISABLE_PLUGINS=cop xrm init`` (for ``coop``, whose upgrade was refused) blocked
    nothing and said nothing: init refused the same upgrade again, and a plugin an admin
    meant to switch off kept running. Init now warns, naming the installed plugins."""
    from xrm_core import Platform
    plugin = module("xrm_coop.plugin", xrm_entity_types=hookimpl(lambda: [THING]))
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", "cop, listener")
    p = Platform(db_url, plugins={"coop": plugin, "listener": module("lis")}, load_entry_points=False)
    try:
        report = p.init(admin_password="secret-pw")
    finally:
        p.dispose()
    assert report["types_added"] == ["thing"]  # coop was not blocked
    assert report["warnings"] == ["XRM_DISABLE_PLUGINS names 'cop', but no plugin has that name, so it blocks "
                                  "nothing (the plugins: coop, listener)"]


def test_a_blocked_name_that_matches_is_no_warning(db_url, monkeypatch):
    from xrm_core import Platform
    plugin = module("xrm_coop.plugin", xrm_entity_types=hookimpl(lambda: [THING]))
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", "coop")
    p = Platform(db_url, plugins={"coop": plugin}, load_entry_points=False)
    try:
        report = p.init(admin_password="secret-pw")
    finally:
        p.dispose()
    assert report["types_added"] == [] and report["warnings"] == []
