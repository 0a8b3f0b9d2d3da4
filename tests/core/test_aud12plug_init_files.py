"""Audit 12 (comes with the foreign patch to xrm_core/platform.py): ``xrm init`` names the
file of ``json_definitions`` holding an invalid entity type, relationship type, activity
kind or role — ``plugin 'refdup' (pkg: types/ward.json), entity type #0 (ward): …`` —
not only the plugin."""
from __future__ import annotations

import pytest

from xrm_core import DefinitionError, Platform, json_definitions

WARD = {"name": "ward", "schema": {"type": "object", "properties": {"bed": {"type": "integer"}}}}


def init_error(db_url, package: str) -> str:
    hooks = json_definitions(package)
    plugin = type("Plugin", (), {"__name__": package, **{k: staticmethod(v) for k, v in hooks.items()}})()
    platform = Platform(db_url, plugins={"refdup": plugin}, load_entry_points=False)
    try:
        with pytest.raises(DefinitionError) as e:
            platform.init(admin_password="secret-pw")
    finally:
        platform.dispose()
    return str(e.value)


@pytest.mark.parametrize("files, where", [
    ({"types/a.json": WARD | {"name": "aa"}, "types/ward.json": {**WARD, "schema": {"type": "objekt"}}},
     "types/ward.json), entity type #1 (ward)"),
    ({"types/ward.json": WARD, "relationship_types.json": [
        {"name": "next_to", "source": "ward", "target": "ward", "cardinality": "many-to-many"},
        {"name": "x", "source": "ward", "target": "wardz", "cardinality": "one-to-many"}]},
     "relationship_types.json, item 1): relationship type 'x' names an unknown entity type"),
    ({"types/ward.json": WARD, "activity_kinds.json": [{"name": "round", "label": 5}]},
     "activity_kinds.json, item 0), activity kind #0 (round)"),
    ({"types/ward.json": WARD, "roles.json": [{"name": "nurse", "grants": [
        {"type": "ward", "actions": ["reed"], "depth": "unit"}]}]},
     "roles.json, item 0), role #0 (nurse)"),
    ({"types/ward.json": WARD, "roles.json": [{"name": "nurse", "grants": [
        {"type": "wardz", "actions": ["read"], "depth": "unit"}]}]},
     "roles.json, item 0): role 'nurse' grants on unknown entity type"),
])
def test_an_invalid_definition_names_its_file(db_url, make_package, files, where):
    package = make_package(files)
    assert init_error(db_url, package).startswith(f"plugin 'refdup' ({package}: {where}")
