"""Audit 12 (a new integrator's referral plugin): a broken definition names its file.

An integrator keeping definitions as JSON files (``json_definitions``) got ``plugin
'refdup': KPI 'beds' names a field ward does not have`` from ``xrm init`` — the plugin,
but not which of its files to open (``kpis.json``, ``types/ward.json``…). A definition
error now says which file of ``json_definitions`` declared the definition (the package and the
file, and the item of a list file); a definition written in Python is named by its plugin,
as before.
"""
from __future__ import annotations

import pytest

from xrm_core import DefinitionError, Platform, hookimpl, json_definitions

WARD = {"name": "ward", "schema": {"type": "object", "properties": {"bed": {"type": "integer"}}}}


def plugin_of(package: str):
    """A plugin object with the package's json_definitions hooks (as pluggy reads a module)."""
    hooks = json_definitions(package)
    return type("Plugin", (), {"__name__": package, **{k: staticmethod(v) for k, v in hooks.items()}})()


class HandWritten:
    """A plugin declaring its types in Python, as examples/xrm-employees does."""

    __name__ = "handwritten"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "ward", "schema": {"type": "object"}}]


def init_error(db_url, plugins: dict) -> str:
    platform = Platform(db_url, plugins=plugins, load_entry_points=False)
    try:
        with pytest.raises(DefinitionError) as e:
            platform.init(admin_password="secret-pw")
    finally:
        platform.dispose()
    return str(e.value)


def test_a_kpi_naming_an_unknown_field_names_its_file(db_url, make_package):
    package = make_package({"types/ward.json": WARD,
                            "kpis.json": [{"name": "beds", "entity": "ward", "measure": {"count": True}},
                                          {"name": "beds2", "entity": "ward", "measure": {"sum": "beds"}}]})
    message = init_error(db_url, {"refdup": plugin_of(package)})
    assert message.startswith(f"plugin 'refdup' ({package}: kpis.json, item 1): KPI 'beds2' names a field")


def test_a_type_declared_by_two_plugins_names_both_declarations(db_url, make_package):
    package = make_package({"types/ward.json": WARD})
    message = init_error(db_url, {"handwritten": HandWritten(), "refdup": plugin_of(package)})
    assert "entity type 'ward' is declared by plugins" in message
    assert f"'refdup' ({package}: types/ward.json)" in message
    assert "'handwritten' and" in message or "'handwritten'," in message  # Python: the name alone
