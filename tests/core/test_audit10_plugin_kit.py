"""Audit 10: ``json_definitions(kpis=...)`` as an integrator reads docs/plugins.md.

The guide says ``kpis`` is "a list of ``KPI`` classes or objects, or a ``"module:attribute"``
naming one". An integrator with one Python KPI wrote ``kpis="xrm_coop.kpis:TurnoutKPI"`` (or
passed the class itself) and ``xrm init`` failed with ``plugin 'coop' failed in xrm_kpis:
TypeError: 'type' object is not iterable`` — a message that says neither what was wrong nor
where. One KPI is now taken as a list of one; a name that is not ``module:attribute``, or an
attribute that holds no KPIs, is a ``DefinitionError`` naming the plugin and what it found.
"""
from __future__ import annotations

import pytest

from xrm_core import DefinitionError, Platform, json_definitions

TYPE = {"name": "assembly", "title_field": "title",
        "schema": {"type": "object", "required": ["title"],
                   "properties": {"title": {"type": "string"}, "votes": {"type": "integer"},
                                  "held_on": {"type": "string", "format": "date"}}}}
KPI_PY = '''from sqlalchemy import func
from xrm_core import KPI


class Turnout(KPI):
    name = "a10_turnout"
    label = "Assembly turnout"
    unit = "votes"
    entity = "assembly"
    time_field = "held_on"

    def compute(self, ctx):
        return ctx.measure("assembly", func.avg(ctx.field("assembly", "votes")), func.count())


TURNOUT = Turnout()
NOT_KPIS = "turnout"
'''


def plugin_of(package: str, kpis):
    """A plugin module (an object with the hooks as attributes, as pluggy reads a module)."""
    hooks = json_definitions(package, kpis=kpis)
    return type("Plugin", (), {"__name__": package, **{k: staticmethod(v) for k, v in hooks.items()}})()


@pytest.fixture
def platform_with(db_url):
    """An initialised Platform with the plugin ``{name: module}`` only."""
    made = []

    def make(plugins: dict) -> Platform:
        made.append(Platform(db_url, plugins=plugins, load_entry_points=False))
        made[-1].init(admin_password="secret-pw")
        return made[-1]

    yield make
    for p in made:
        p.dispose()


@pytest.fixture
def package(make_package):
    return make_package({"types/assembly.json": TYPE, "kpis.py": KPI_PY})


@pytest.mark.parametrize("spec", ["{p}.kpis:Turnout", "{p}.kpis:TURNOUT", "class", "object"])
def test_one_python_kpi_is_a_list_of_one(package, platform_with, spec):
    import importlib
    module = importlib.import_module(f"{package}.kpis")
    kpis = {"class": module.Turnout, "object": module.TURNOUT}.get(spec) or spec.format(p=package)
    platform = platform_with({"coop": plugin_of(package, kpis)})
    with platform.session() as s:
        s.create("assembly", {"title": "AGM", "votes": 10, "held_on": "2025-01-01"})
        s.create("assembly", {"title": "EGM", "votes": 20, "held_on": "2025-06-01"})
        assert s.kpi("a10_turnout")["value"] == 15
        assert s.kpi("a10_turnout", date_from="2025-02-01")["value"] == 20  # the period applies


@pytest.mark.parametrize("spec, said", [
    ("{p}.kpis", "kpis '{p}.kpis' must name an attribute as 'module:attribute' (e.g. '{p}.kpis:KPI_CLASSES')"),
    ("{p}.kpis:NOT_KPIS", "kpis '{p}.kpis:NOT_KPIS' holds a str, not KPI classes or objects (a list of them, or one)"),
    ("{p}.kpis:MISSING", "kpis '{p}.kpis:MISSING': module '{p}.kpis' has no attribute 'MISSING'"),
])
def test_a_kpis_name_that_holds_no_kpis_is_named(package, platform_with, spec, said):
    with pytest.raises(DefinitionError) as e:
        platform_with({"coop": plugin_of(package, spec.format(p=package))})
    assert e.value.message == f"plugin 'coop': {package}: " + said.format(p=package)


def test_a_bad_kpis_name_fails_init_through_the_cli_without_a_traceback(package, cli):
    plugin = plugin_of(package, f"{package}.kpis")
    result = cli("init", "--admin-password", "secret-pw", plugins={"coop": plugin})
    assert result.exit_code == 2, result.output
    assert f"error: plugin 'coop': {package}: kpis '{package}.kpis' must name an attribute" in result.stderr
    assert "Traceback" not in result.stderr and "not iterable" not in result.stderr


def test_a_hook_of_the_kit_still_refuses_a_list_holding_something_else(package, platform_with):
    with pytest.raises(DefinitionError, match="KPI #0 is a str"):
        platform_with({"coop": plugin_of(package, ["turnout"])})


PLUGIN_PY = '''"""coop — housing cooperative."""
from xrm_core import json_definitions

globals().update(json_definitions(__name__))
'''


def test_json_definitions_of_a_module_reads_its_package(make_package, platform_with):
    """The example layout keeps the hooks in ``plugin.py`` beside the JSON files; written there,
    ``json_definitions(__name__)`` named a module, which Python 3.11's ``importlib.resources``
    refused — ``cannot import 'xrm_coop.plugin': TypeError: 'xrm_coop.plugin' is not a
    package`` — while 3.12's reads the module's folder. Both now read the package."""
    import importlib
    package = make_package({"types/assembly.json": TYPE, "plugin.py": PLUGIN_PY})
    module = importlib.import_module(f"{package}.plugin")
    platform = platform_with({"coop": module})
    with platform.session() as s:
        assert s.entity_type("assembly").definition["title_field"] == "title"


def test_json_definitions_of_a_top_level_module_says_what_to_do(make_package):
    import importlib
    import sys
    package = make_package({})
    folder = importlib.import_module(package).__path__[0]
    with open(f"{folder}/../{package}_solo.py", "w", encoding="utf-8") as f:
        f.write(PLUGIN_PY)
    importlib.invalidate_caches()
    try:
        with pytest.raises(DefinitionError) as e:
            importlib.import_module(f"{package}_solo")
    finally:
        sys.modules.pop(f"{package}_solo", None)
    assert e.value.message == (f"json_definitions({package + '_solo'!r}): a top-level module, not in a package: "
                               "keep the plugin and its JSON files in a package, and pass its name")


def test_entity_types_kept_outside_types_are_named(make_package, platform_with):
    """The worked example keeps its entity types in ``schemas/`` (with a loader of its own);
    a plugin laid out like it but using ``json_definitions`` declared none of them, and init
    failed on the first role or KPI naming one — ``role 'caretaker' grants on unknown entity
    type`` — without a word about where the kit reads types from."""
    package = make_package({"schemas/assembly.json": TYPE, "schemas/notes.txt": "not JSON",
                            "roles.json": [{"name": "board", "label": "Board",
                                            "grants": [{"type": "assembly", "actions": ["read"], "depth": "all"}]}]})
    note = (f"plugin 'coop': json_definitions reads entity types from types/*.json, and package {package!r} has "
            "no types/ folder, but schemas/ holds entity types (assembly.json): move them to types/")
    with pytest.raises(DefinitionError) as e:
        platform_with({"coop": plugin_of(package, ())})
    assert e.value.message == (f"plugin 'coop' ({package}: roles.json, item 0): role 'board' grants on unknown "
                               f"entity type; {note}")
    fine = make_package({"schemas/assembly.json": TYPE})
    report = platform_with({"coop": plugin_of(fine, ())}).init()
    assert report["warnings"] == [note.replace(repr(package), repr(fine))]
