"""Audit 10: a housing cooperative's plugin — members, flats, maintenance tickets and
assemblies — written from DESIGN §4 and docs/plugins.md alone, built as a wheel with pip and
found through its real ``xrm.plugins`` entry points (one for the plugin, one for a listener
of the hook it declares), the way ``test_audit7_plugin`` installs its plugin.

It keeps its hooks in ``plugin.py`` beside the JSON files and binds
``json_definitions(__name__, kpis="…kpis:Turnout")`` — a module name and one KPI class,
both of which failed before (``'xrm_a10_coop.plugin' is not a package`` on Python 3.11;
``TypeError: 'type' object is not iterable``) — and its Python KPI is an object with the
KPI metadata and ``compute(ctx)``, not a ``KPI`` subclass, as DESIGN §3 allows.
"""
from __future__ import annotations

import importlib
import json
import sys

import pytest
from test_audit7_plugin import pip_install  # the same wheel build and --target install

DIST, PKG, PLUGIN, LISTENER = "xrm-a10-coop", "xrm_a10_coop", "a10_coop", "a10_coop_listener"
COMMON = "https://xrm.dev/schemas/common.json#/$defs/"

FILES = {
    "pyproject.toml": f'''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{DIST}"
version = "1.0.0"
requires-python = ">=3.11"

[project.entry-points."xrm.plugins"]
{PLUGIN} = "{PKG}.plugin"
{LISTENER} = "{PKG}.listener"

[tool.setuptools]
packages = ["{PKG}"]

[tool.setuptools.package-data]
{PKG} = ["types/*.json", "*.json"]
''',
    f"{PKG}/__init__.py": "",
    f"{PKG}/types/member.json": {
        "name": "a10_member", "label": {"en": "Member", "fa": "عضو", "zh": "成员"}, "title_field": "name",
        "unique": ["member_no"],
        "schema": {"type": "object", "additionalProperties": False, "required": ["member_no", "name"],
                   "properties": {"member_no": {"type": "string"}, "name": {"type": "string"},
                                  "joined_on": {"$ref": COMMON + "date"}, "left_on": {"$ref": COMMON + "date"},
                                  "status": {"enum": ["active", "left"]}}}},
    f"{PKG}/types/ticket.json": {
        "name": "a10_ticket", "label": {"en": "Maintenance ticket", "fa": "درخواست تعمیر", "zh": "维修工单"},
        "title_field": "title", "indexes": ["status"],
        "schema": {"type": "object", "required": ["title", "status"],
                   "properties": {"title": {"type": "string"}, "status": {"enum": ["open", "closed"]},
                                  "resolution": {"type": "string"}}}},
    f"{PKG}/types/assembly.json": {
        "name": "a10_assembly", "label": {"en": "Assembly", "fa": "مجمع", "zh": "大会"}, "title_field": "title",
        "schema": {"type": "object", "required": ["title", "held_on"],
                   "properties": {"title": {"type": "string"}, "held_on": {"$ref": COMMON + "date"},
                                  "votes": {"type": "integer"}}}},
    f"{PKG}/activity_kinds.json": [{"name": "a10_site_visit", "label": {"en": "Site visit", "zh": "现场查看"}}],
    f"{PKG}/roles.json": [{"name": "a10_caretaker", "label": "Caretaker",
                           "grants": [{"type": "a10_ticket", "actions": ["read", "update"], "depth": "unit"}]}],
    f"{PKG}/kpis.json": [{"name": "a10_open_tickets", "entity": "a10_ticket", "where": {"status": "open"},
                          "measure": {"count": True}, "unit": "tickets"}],
    f"{PKG}/kpis.py": '''from sqlalchemy import func


class Turnout:
    """Average votes per assembly in the period: the KPI metadata and compute(ctx)."""
    name = "a10_turnout"
    label = {"en": "Assembly turnout", "fa": "مشارکت مجمع", "zh": "大会投票率"}
    unit = "votes"
    entity = "a10_assembly"
    time_field = "held_on"

    def compute(self, ctx):
        return ctx.measure("a10_assembly", func.avg(ctx.field("a10_assembly", "votes")), func.count())
''',
    f"{PKG}/plugin.py": '''"""a10_coop — housing cooperative: members, flats, tickets and assemblies."""
from xrm_core import ValidationError, call_all, for_types, hookimpl, hookspec, json_definitions

globals().update(json_definitions(__name__, kpis="xrm_a10_coop.kpis:Turnout"))


class Spec:
    @staticmethod
    @hookspec
    def xrm_a10_ticket_closed(ticket, session):
        """A maintenance ticket was closed, in the change's transaction."""


@hookimpl
def xrm_addhooks(pm):
    pm.add_hookspecs(Spec)


@hookimpl
@for_types("a10_member", "a10_ticket")
def xrm_record_event(event, record, changes, session):
    data = record.data
    if record.type == "a10_member" and event in ("before_create", "before_update"):
        if data.get("left_on") and data.get("joined_on") and data["left_on"] < data["joined_on"]:
            raise ValidationError("a member cannot leave before joining",
                                  [{"pointer": "/data/left_on", "message": "before joined_on"}])
        data["status"] = "left" if data.get("left_on") else "active"
    elif record.type == "a10_ticket" and event == "after_update" and changes.get("/status", (0, 0))[1] == "closed":
        session.log(record.id, "a10_site_visit", "closed: " + data.get("resolution", ""))
        call_all(session.platform.pm, "xrm_a10_ticket_closed", ticket=record, session=session)
''',
    f"{PKG}/listener.py": '''"""a10_coop_listener — answers the cooperative's hook, importing nothing of it."""
from xrm_core import hookimpl


@hookimpl(optionalhook=True)
def xrm_a10_ticket_closed(ticket, session):
    session.log(ticket.id, "a10_site_visit", "listener: caretaker thanked")
''',
}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("audit10")
    for rel, content in FILES.items():
        path = root / "src" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
    return pip_install(root / "src", root / "site")


@pytest.fixture
def xrm(site, cli, monkeypatch):
    """``xrm ARGS`` with only this distribution's plugins installed (as in a fresh venv)."""
    others = {ep.name for ep in importlib.metadata.entry_points(group="xrm.plugins")}
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", ",".join(sorted(others)))
    monkeypatch.syspath_prepend(str(site))
    importlib.invalidate_caches()

    def run(*args, ok=True):
        result = cli(*args, entry_points=True)
        assert "Traceback" not in result.stderr
        if ok:
            assert result.exit_code == 0, f"xrm {' '.join(map(str, args))}: {result.stderr}"
            return json.loads(result.stdout) if "--json" in args else result.stdout
        assert result.exit_code != 0, result.stdout
        return result

    yield run
    for name in [m for m in sys.modules if m.split(".")[0] == PKG]:
        del sys.modules[name]


def create(xrm, type_name, **data):
    return xrm("records", "create", type_name, "--data", json.dumps(data), "--json")


def test_init_stores_the_definitions_of_a_plugin_module_beside_its_files(xrm):
    listed = {p["name"]: p for p in xrm("plugins", "list", "--json")}
    assert listed[PLUGIN]["distribution"] == DIST and listed[PLUGIN]["module"] == f"{PKG}.plugin"
    assert listed[LISTENER]["hooks"] == ["xrm_a10_ticket_closed"]
    report = xrm("init", "--admin-password", "secret-pw", "--json")
    assert sorted(report["types_added"]) == ["a10_assembly", "a10_member", "a10_ticket"]
    assert report["warnings"] == []
    kpis = {k["name"]: k for k in xrm("kpi", "list", "--json")}
    assert kpis["a10_turnout"]["label"]["zh"] == "大会投票率" and kpis["a10_turnout"]["source"] == PLUGIN


def test_hooks_refuse_derive_announce_and_the_kpis_compute(xrm):
    xrm("init", "--admin-password", "secret-pw")
    refused = xrm("records", "create", "a10_member", "--data", json.dumps(
        {"member_no": "M1", "name": "Ada", "joined_on": "2020-01-01", "left_on": "2019-01-01"}), ok=False)
    assert refused.exit_code == 2 and "a member cannot leave before joining" in refused.stderr
    assert create(xrm, "a10_member", member_no="M1", name="Ada", joined_on="2020-01-01")["data"]["status"] == "active"
    ticket = create(xrm, "a10_ticket", title="Leaking tap", status="open")
    xrm("records", "update", ticket["id"], "--data", json.dumps({"status": "closed", "resolution": "washer"}))
    summaries = [a["summary"] for a in xrm("history", ticket["id"], "--json")]
    assert summaries[-2:] == ["closed: washer", "listener: caretaker thanked"]
    for title, votes, held_on in (("AGM", 10, "2025-01-01"), ("EGM", 20, "2025-06-01")):
        create(xrm, "a10_assembly", title=title, votes=votes, held_on=held_on)
    assert xrm("kpi", "compute", "a10_turnout", "--json")["value"] == 15
    assert xrm("kpi", "compute", "a10_turnout", "--from", "2025-02-01", "--json")["value"] == 20


def test_a_misspelt_blocked_name_is_a_warning_of_init(xrm, monkeypatch):
    import os
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", os.environ["XRM_DISABLE_PLUGINS"] + ",a10_cop")
    report = xrm("init", "--admin-password", "secret-pw", "--json")
    assert "a10_coop" in xrm("plugins", "list")  # not blocked
    assert [w for w in report["warnings"] if "a10_cop'" in w] == [
        f"XRM_DISABLE_PLUGINS names 'a10_cop', but no plugin has that name, so it blocks nothing (the plugins: "
        f"{', '.join(sorted({ep.name for ep in importlib.metadata.entry_points(group='xrm.plugins')}))})"]
