"""A third party's plugin written from docs/plugins.md alone — alumni and donor relations —
built as a wheel with pip and found through its real ``xrm.plugins`` entry points.

The wheels are installed with ``pip install --target`` into a folder of the test's own, put
on ``sys.path`` while a test runs: a real non-editable install, found by
``importlib.metadata`` exactly as one in site-packages, without touching the shared venv
(where an extra plugin would change what ``xrm init`` loads for every other test).

Covers what such a plugin relies on (definitions of every kind synced by init, record
events that refuse and derive, each ``on_delete``, payload schemas, declarative and Python
KPIs, its command, the REST API and a page behind the login, a hook of its own answered by a
second entry point) and what init must do on an upgrade: apply a compatible version 2
(a schema change, a wider relationship, a new KPI), refuse a version 3 that stored records
break — saying what to do — and warn when a wheel was built without its JSON files.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from xrm_core import Platform

DIST = "xrm-audit7-donors"
PKG = "xrm_audit7_donors"
PLUGIN = "audit7_donors"
LISTENER = "audit7_listener"
COMMON = "https://xrm.dev/schemas/common.json#/$defs/"

DONOR = {
    "name": "donor", "label": "Donor", "title_field": "name", "indexes": ["faculty"], "unique": ["donor_no"],
    "schema": {"type": "object", "additionalProperties": False, "required": ["donor_no", "name", "faculty"],
               "properties": {"donor_no": {"type": "string", "pattern": "^D[0-9]{4}$"},
                              "name": {"type": "string"},
                              "email": {"$ref": COMMON + "email"},
                              "faculty": {"enum": ["law", "arts"]},
                              "lifetime_giving": {"type": "number"},
                              "status": {"enum": ["prospect", "donor"]}}}}
GIFT = {
    "name": "gift", "label": "Gift", "title_field": "gift_no", "unique": ["gift_no"], "indexes": ["received_on"],
    "schema": {"type": "object", "additionalProperties": False, "required": ["gift_no", "amount", "status"],
               "properties": {"gift_no": {"type": "string"}, "donor_no": {"type": "string"},
                              "amount": {"$ref": COMMON + "money"}, "value": {"type": "number"},
                              "status": {"enum": ["pledged", "received", "refunded"]},
                              "received_on": {"$ref": COMMON + "date"}, "refund_reason": {"type": "string"}}}}
FUND = {"name": "fund", "title_field": "code",
        "schema": {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"},
                                                                          "endowed": {"type": "boolean"}}}}
RELS = [
    {"name": "donated", "source": "donor", "target": "gift", "cardinality": "one-to-many", "on_delete": "restrict"},
    {"name": "fund_gift", "source": "fund", "target": "gift", "cardinality": "one-to-many", "on_delete": "cascade"},
    {"name": "mentors", "source": "donor", "target": "donor", "cardinality": "one-to-one", "on_delete": "unlink"},
    {"name": "fund_patron", "source": "fund", "target": "donor", "cardinality": "many-to-many"},
]
KINDS = [{"name": "phonathon_call", "label": {"en": "Phonathon call", "zh": "电话募捐"},
          "payload": {"type": "object", "required": ["outcome"], "additionalProperties": False,
                      "properties": {"outcome": {"enum": ["pledge", "declined"]}}}},
         {"name": "thank_you", "label": "Thank-you"}]
ROLES = [{"name": "advancement_officer", "label": "Advancement officer",
          "grants": [{"type": "donor", "actions": ["read", "create", "update"], "depth": "subtree"},
                     {"type": "gift", "actions": ["read", "create"], "depth": "subtree"}]}]
KPIS = [{"name": "a7_total_giving", "entity": "gift", "time_field": "received_on", "unit": "EUR",
         "where": {"status": "received"}, "measure": {"sum": "value"}}]

INIT = '''"""audit7_donors — alumni and donor relations: donors, gifts and funds."""
from xrm_core import json_definitions

from .automations import xrm_addhooks, xrm_record_event  # noqa: F401
from .commands import xrm_cli_commands  # noqa: F401
from .web import xrm_flask_app  # noqa: F401

globals().update(json_definitions(__name__, kpis=f"{__name__}.kpis:KPI_CLASSES"))
'''
AUTOMATIONS = '''from xrm_core import ValidationError, call_all, for_types, hookimpl, hookspec


class Spec:
    @staticmethod
    @hookspec
    def xrm_audit7_gift_received(gift, donor, session):
        """A received gift was recorded for a donor; in the change's transaction."""


@hookimpl
def xrm_addhooks(pm):
    pm.add_hookspecs(Spec)


@hookimpl
@for_types("gift", "fund")
def xrm_record_event(event, record, changes, session):
    data = record.data
    if record.type == "fund":
        if event == "before_delete" and data.get("endowed"):
            raise ValidationError("an endowed fund cannot be deleted",
                                  [{"pointer": "/data/endowed", "message": "endowed funds are permanent"}])
        return
    if event in ("before_create", "before_update"):
        if data.get("status") == "refunded" and not data.get("refund_reason"):
            raise ValidationError("a refunded gift needs a refund_reason",
                                  [{"pointer": "/data/refund_reason", "message": "required when refunded"}])
        amount = data.get("amount")
        if isinstance(amount, dict):
            if isinstance(amount.get("currency"), str):
                amount["currency"] = amount["currency"].upper()  # before validation: "eur" is accepted
            if isinstance(amount.get("amount"), (int, float)):
                data["value"] = amount["amount"]
        donor = data.get("donor_no")
        if donor and not session.as_system().count("donor", {"donor_no": donor}):
            raise ValidationError(f"no donor {donor}", [{"pointer": "/data/donor_no", "message": "unknown donor"}])
    elif event in ("after_create", "after_update", "after_delete") and data.get("donor_no"):
        system = session.as_system()
        (donor,) = system.list("donor", {"donor_no": data["donor_no"]}, limit=1)
        if event == "after_create":
            system.relate("donated", donor.id, record.id)
        gifts = system.list("gift", {"donor_no": data["donor_no"], "status": "received"}, limit=1000)
        total = float(sum(g.data["value"] for g in gifts))
        system.update(donor.id, {"lifetime_giving": total, "status": "donor" if total else "prospect"})
        if event != "after_delete" and data.get("status") == "received":
            call_all(session.platform.pm, "xrm_audit7_gift_received", gift=record, donor=donor, session=session)
'''
LISTENER_PY = '''"""audit7_listener — thanks donors, answering the donors plugin's hook."""
from xrm_core import hookimpl


@hookimpl(optionalhook=True)
def xrm_audit7_gift_received(gift, donor, session):
    session.log(donor.id, "thank_you", f"thanked for {gift.data['gift_no']}")
'''
KPIS_PY = '''from sqlalchemy import distinct, func

from xrm_core import KPI


class Participation(KPI):
    name = "a7_participation"
    label = "Donor participation"
    unit = "percent"
    entity = "donor"

    def compute(self, ctx):
        donors = func.count(distinct(ctx.field("gift", "donor_no")))
        return ctx.ratio(("gift", donors, {"status": "received"}, "received_on"), ("donor", func.count()))


KPI_CLASSES = [Participation]
'''
COMMANDS = '''import json

import click

from xrm_core import hookimpl


@click.group("audit7")
def group():
    """Donor relations."""


@group.command("top-donors")
@click.option("--as", "as_user", metavar="USER")
@click.pass_obj
def top_donors(obj, as_user):
    with obj.platform.session(as_user or "admin", write=False) as s:
        rows = s.list("donor", {"lifetime_giving": {"gt": 0}}, sort=["-lifetime_giving"])
        click.echo(json.dumps([[r.data["donor_no"], r.data["lifetime_giving"]] for r in rows]))


@hookimpl
def xrm_cli_commands(cli):
    cli.add_command(group)
'''
WEB = '''from flask import Blueprint, render_template_string

from xrm_core import hookimpl, user_session

bp = Blueprint("audit7", __name__, url_prefix="/audit7")
PAGE = """{% extends "base.html" %}{% block title %}Donors{% endblock %}
{% block content %}<h1>{{ n }} donors</h1>{% endblock %}"""


@bp.route("/donors")
def donors():
    with user_session() as s:
        return render_template_string(PAGE, n=s.count("donor", {"status": "donor"}))


@hookimpl
def xrm_flask_app(app):
    app.register_blueprint(bp)
'''


def pyproject(version: str, package_data: bool = True) -> str:
    data = (f'\n[tool.setuptools.package-data]\n{PKG} = ["types/*.json", "*.json"]\n' if package_data else "")
    return f'''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "{DIST}"
version = "{version}"
requires-python = ">=3.11"

[project.entry-points."xrm.plugins"]
{PLUGIN} = "{PKG}"
{LISTENER} = "{PKG}.listener"

[tool.setuptools]
packages = ["{PKG}"]
{data}'''


def files_of(version: int) -> dict:
    """The source tree of version 1, 2 or 3 of the plugin."""
    donor, rels, kpis = json.loads(json.dumps(DONOR)), json.loads(json.dumps(RELS)), list(KPIS)
    if version >= 2:  # compatible: a new optional field, a wider enum and relationship, a new KPI
        donor["schema"]["properties"]["linkedin"] = {"$ref": COMMON + "uri"}
        donor["schema"]["properties"]["faculty"]["enum"].append("science")
        rels[2]["cardinality"] = "one-to-many"
        rels[3]["target"] = "*"
        kpis.append({"name": "a7_avg_gift", "entity": "gift", "where": {"status": "received"},
                     "measure": {"avg": "value"}, "unit": "EUR"})
    if version >= 3:  # incompatible: a new required field that stored donors lack
        donor["schema"]["required"].append("email")
    return {"pyproject.toml": pyproject(f"{version}.0.0"),
            f"{PKG}/__init__.py": INIT, f"{PKG}/automations.py": AUTOMATIONS, f"{PKG}/listener.py": LISTENER_PY,
            f"{PKG}/kpis.py": KPIS_PY, f"{PKG}/commands.py": COMMANDS, f"{PKG}/web.py": WEB,
            f"{PKG}/types/donor.json": donor, f"{PKG}/types/gift.json": GIFT, f"{PKG}/types/fund.json": FUND,
            f"{PKG}/relationship_types.json": rels, f"{PKG}/activity_kinds.json": KINDS,
            f"{PKG}/roles.json": ROLES, f"{PKG}/kpis.json": kpis}


def _build_in_venv() -> bool:
    """setuptools before 70.1 builds wheels without build isolation only with ``wheel``."""
    if importlib.util.find_spec("wheel") is not None:
        return True
    major, minor = (int(x) for x in importlib.metadata.version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1)


def pip_install(src: Path, target: Path) -> Path:
    """Build ``src`` into a wheel and install it (not editable) into the folder ``target``."""
    args = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target), "--no-input",
            "--disable-pip-version-check", "--quiet", str(src)]
    if _build_in_venv():
        args.insert(4, "--no-build-isolation")
    result = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"pip failed:\n{result.stdout}\n{result.stderr}"
    return target


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """Install folders of versions 1, 2 and 3, and of version 1 built without package data."""
    root = tmp_path_factory.mktemp("audit7")
    out = {}
    for name, version, package_data in (("v1", 1, True), ("v2", 2, True), ("v3", 3, True), ("bare", 1, False)):
        src = root / "src" / name
        for rel, content in files_of(version).items():
            if rel == "pyproject.toml":
                content = pyproject(f"{version}.0.0", package_data)
            path = src / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content if isinstance(content, str) else json.dumps(content), encoding="utf-8")
        out[name] = pip_install(src, root / "site" / name)
    return out


def _forget() -> None:
    for name in [m for m in sys.modules if m.split(".")[0] == PKG]:
        del sys.modules[name]
    importlib.invalidate_caches()


@pytest.fixture
def use(wheels, monkeypatch):
    """``use("v2")``: from now on the installed plugin is that build (the upgrade of a pip install)."""
    others = {ep.name for ep in importlib.metadata.entry_points(group="xrm.plugins")}
    monkeypatch.setenv("XRM_DISABLE_PLUGINS", ",".join(sorted(others)))  # only this plugin
    current = []

    def switch(name: str) -> None:
        for path in current:
            sys.path.remove(path)
        current[:] = [str(wheels[name])]
        sys.path.insert(0, current[0])
        _forget()

    yield switch
    for path in current:
        sys.path.remove(path)
    _forget()


@pytest.fixture
def xrm(cli):
    def run(*args, ok=True):
        result = cli(*args, entry_points=True)
        assert "Traceback" not in result.stderr
        if ok:
            assert result.exit_code == 0, f"xrm {' '.join(map(str, args))}: {result.stderr}"
            return json.loads(result.stdout) if "--json" in args else result.stdout
        assert result.exit_code != 0, result.stdout
        return result
    return run


def create(xrm, type_name, **data):
    return xrm("records", "create", type_name, "--data", json.dumps(data), "--json")


def gift(xrm, no, donor, amount, status="received", **extra):
    return create(xrm, "gift", gift_no=no, donor_no=donor, status=status, received_on="2025-03-01",
                  amount={"amount": amount, "currency": "eur"}, **extra)


@pytest.fixture
def v1(use, xrm):
    use("v1")
    return xrm("init", "--admin-password", "secret", "--json")


def test_the_wheel_is_found_through_two_entry_points_of_one_distribution(use, xrm):
    use("v1")
    found = {p["name"]: p for p in xrm("plugins", "list", "--json")}
    assert set(found) == {PLUGIN, LISTENER}
    assert [(p["distribution"], p["version"]) for p in found.values()] == [(DIST, "1.0.0")] * 2
    assert found[LISTENER]["hooks"] == ["xrm_audit7_gift_received"]
    import xrm_audit7_donors
    assert "site-packages" not in xrm_audit7_donors.__file__ and Path(xrm_audit7_donors.__file__).parent.name == PKG


def test_init_syncs_every_kind_of_definition(v1, xrm):
    assert sorted(v1["types_added"]) == ["donor", "fund", "gift"] and v1["warnings"] == []
    assert v1["reltypes_added"] == ["donated", "fund_gift", "mentors", "fund_patron"] and v1["reltypes"] == 4
    rels = {r["name"]: (r["cardinality"], r["on_delete"]) for r in xrm("reltypes", "list", "--json")}
    assert rels == {"donated": ("one-to-many", "restrict"), "fund_gift": ("one-to-many", "cascade"),
                    "mentors": ("one-to-one", "unlink"), "fund_patron": ("many-to-many", "unlink")}
    roles = {r["name"]: r for r in xrm("roles", "list", "--json")}
    assert roles["advancement_officer"]["source"] == PLUGIN
    kpis = {k["name"]: k["source"] for k in xrm("kpi", "list", "--json")}
    assert kpis == {"a7_total_giving": PLUGIN, "a7_participation": PLUGIN}
    again = xrm("init", "--json")
    assert again["types_added"] == again["types_updated"] == [] and again["warnings"] == []
    assert (again["reltypes"], again["reltypes_added"], again["reltypes_updated"]) == (4, [], [])


def test_record_events_refuse_derive_and_announce(v1, xrm):
    donor = create(xrm, "donor", donor_no="D0001", name="Ada", faculty="law")
    refused = xrm("records", "create", "gift", "--data", json.dumps(
        {"gift_no": "G1", "status": "refunded", "amount": {"amount": 5, "currency": "EUR"}}), ok=False)
    assert refused.exit_code == 2 and "/data/refund_reason: required when refunded" in refused.stderr
    unknown = xrm("records", "create", "gift", "--data", json.dumps(
        {"gift_no": "G1", "donor_no": "D0404", "status": "pledged", "amount": {"amount": 5, "currency": "EUR"}}),
        ok=False)
    assert "/data/donor_no: unknown donor" in unknown.stderr
    g = gift(xrm, "G1", "D0001", 250)
    assert g["data"]["amount"]["currency"] == "EUR" and g["data"]["value"] == 250  # normalised, derived
    stored = xrm("records", "get", donor["id"], "--json")
    assert (stored["data"]["lifetime_giving"], stored["data"]["status"]) == (250.0, "donor")
    history = xrm("history", donor["id"], "--json")
    assert [h["summary"] for h in history if h["kind"] == "thank_you"] == ["thanked for G1"]  # the listener
    assert [r["record"]["id"] for r in xrm("related", donor["id"], "--rel", "donated", "--json")] == [g["id"]]
    assert json.loads(xrm("audit7", "top-donors")) == [["D0001", 250.0]]


def test_each_on_delete_and_the_payload_schema(v1, xrm):
    ada = create(xrm, "donor", donor_no="D0001", name="Ada", faculty="law")
    bob = create(xrm, "donor", donor_no="D0002", name="Bob", faculty="arts")
    g = gift(xrm, "G1", "D0001", 10)
    fund = create(xrm, "fund", code="LIB")
    endowed = create(xrm, "fund", code="END", endowed=True)
    xrm("relate", "fund_gift", fund["id"], g["id"])
    xrm("relate", "mentors", ada["id"], bob["id"])
    second = xrm("relate", "mentors", ada["id"], endowed["id"], ok=False)  # the wrong target type
    assert second.exit_code != 0
    assert "donated" in xrm("records", "delete", ada["id"], ok=False).stderr            # restrict
    assert "endowed" in xrm("records", "delete", endowed["id"], ok=False).stderr         # the plugin refuses
    xrm("records", "delete", fund["id"])                                                 # cascade
    assert xrm("records", "get", g["id"], ok=False).exit_code != 0
    assert xrm("records", "get", ada["id"], "--json")["data"]["lifetime_giving"] == 0.0  # after_delete ran
    xrm("records", "delete", ada["id"])                                                  # mentors: unlink
    assert xrm("related", bob["id"], "--json") == []
    xrm("log", bob["id"], "--kind", "phonathon_call", "--summary", "rang", "--payload", '{"outcome": "pledge"}')
    bad = xrm("log", bob["id"], "--kind", "phonathon_call", "--summary", "rang", "--payload", '{"outcome": "?"}',
              ok=False)
    assert "/payload/outcome" in bad.stderr


def test_kpis_the_rest_api_and_a_page_behind_the_login(v1, xrm, db_url):
    create(xrm, "donor", donor_no="D0001", name="Ada", faculty="law")
    create(xrm, "donor", donor_no="D0002", name="Bob", faculty="arts")
    gift(xrm, "G1", "D0001", 100)
    gift(xrm, "G2", "D0001", 300)
    total = xrm("kpi", "compute", "a7_total_giving", "--from", "2025-01-01", "--to", "2025-12-31", "--json")
    assert (total["value"], total["n"]) == (400, 2)
    share = xrm("kpi", "compute", "a7_participation", "--from", "2025-01-01", "--to", "2025-12-31", "--json")
    assert (share["value"], share["n"]) == (50, 2)
    from xrm_core.plugins import make_plugin_manager
    from xrm_core.web import create_app
    xrm("units", "create", "north", "--parent", "root")
    xrm("users", "create", "olivia", "--unit", "north", "--role", "advancement_officer", "--password", "pw")
    token = xrm("tokens", "create", "olivia").strip()
    platform = Platform(db_url, pm=make_plugin_manager())
    try:
        client = create_app(platform, {"TESTING": True}).test_client()
        headers = {"Authorization": f"Bearer {token}"}
        made = client.post("/api/v1/records/gift", headers=headers, json={"data": {
            "gift_no": "G3", "donor_no": "D0002", "status": "refunded", "amount": {"amount": 1, "currency": "EUR"}}})
        assert made.status_code == 422 and made.json["errors"][0]["pointer"] == "/data/refund_reason"
        assert client.get("/api/v1/kpis/a7_participation", headers=headers).json["n"] == 0  # olivia sees none
        assert client.get("/audit7/donors").status_code == 302  # behind the login
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
        client.post("/login", data={"username": "olivia", "password": "pw", "csrf_token": csrf})
        page = client.get("/audit7/donors").text  # the UI's layout, in olivia's scope (none of the donors)
        assert "<title>Donors · xRM</title>" in page and "<h1>0 donors</h1>" in page and "olivia" in page
    finally:
        platform.dispose()


def test_version_2_upgrades_and_version_3_is_refused_saying_what_to_do(v1, use, xrm):
    ada = create(xrm, "donor", donor_no="D0001", name="Ada", faculty="law")
    bob = create(xrm, "donor", donor_no="D0002", name="Bob", faculty="arts")
    cy = create(xrm, "donor", donor_no="D0003", name="Cy", faculty="arts")
    xrm("relate", "mentors", ada["id"], bob["id"])
    assert xrm("relate", "mentors", ada["id"], cy["id"], ok=False).exit_code != 0  # one-to-one in v1

    use("v2")
    assert [p["version"] for p in xrm("plugins", "list", "--json")] == ["2.0.0"] * 2
    report = xrm("init", "--json")
    assert report["types_updated"] == ["donor"] and report["warnings"] == []
    assert (report["reltypes_added"], report["reltypes_updated"]) == ([], ["mentors", "fund_patron"])
    xrm("relate", "mentors", ada["id"], cy["id"])            # widened to one-to-many
    fund = create(xrm, "fund", code="LIB")
    g = gift(xrm, "G1", "D0001", 10)
    xrm("relate", "fund_patron", fund["id"], g["id"])         # target widened to *
    create(xrm, "donor", donor_no="D0004", name="Di", faculty="science", linkedin="https://example.org/di")
    assert xrm("kpi", "compute", "a7_avg_gift", "--json")["value"] == 10
    version = xrm("types", "show", "donor", "--json")["version"]

    use("v3")
    refused = xrm("init", ok=False)
    assert "type change refused: 4 of 4 stored donor records would become invalid" in refused.stderr
    assert f"/records/{ada['id']}/data/email" in refused.stderr
    assert f"`XRM_DISABLE_PLUGINS={PLUGIN} xrm init`" in refused.stderr and "nothing was applied" in refused.stderr
    assert xrm("types", "show", "donor", "--json")["version"] == version
    # Blocking the plugin upgrades the rest, as the message says; its types stay as stored.
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XRM_DISABLE_PLUGINS", os.environ["XRM_DISABLE_PLUGINS"] + f",{PLUGIN}")
        assert xrm("init", "--json")["types_updated"] == []


def test_a_refusal_names_an_admins_change_that_the_new_version_replaces(v1, use, xrm, tmp_path):
    t = xrm("types", "show", "donor", "--json")
    t["schema"]["properties"]["nickname"] = {"type": "string"}
    (tmp_path / "donor.json").write_text(json.dumps(t), encoding="utf-8")
    xrm("types", "update", tmp_path / "donor.json")
    create(xrm, "donor", donor_no="D0001", name="Ada", faculty="law", nickname="Countess")
    assert xrm("init", "--json")["types_kept"] == ["donor"]
    use("v2")  # declares something new: it would replace the admin's version, which Ada uses
    refused = xrm("init", ok=False)
    assert "nickname" in refused.stderr
    assert "the stored version is an admin's change, which the plugin's new definition replaces" in refused.stderr


def test_a_wheel_built_without_its_json_files_is_named_as_the_likely_cause(use, xrm):
    use("bare")  # no [tool.setuptools.package-data]: the wheel has the code, not the JSON files
    refused = xrm("init", "--admin-password", "secret", ok=False)
    # Was only "KPI 'a7_participation' measures unknown entity type 'donor'".
    assert "KPI 'a7_participation' measures unknown entity type 'donor'" in refused.stderr
    assert (f"plugin '{PLUGIN}': json_definitions found no definition file in package '{PKG}'" in refused.stderr
            and "[tool.setuptools.package-data]" in refused.stderr)


@pytest.fixture
def platform_of(db_url):
    """``platform_of({"name": module})``: a Platform of these plugins only, not initialised."""
    from xrm_core.plugins import make_plugin_manager
    made = []

    def make(plugins: dict) -> Platform:
        made.append(Platform(db_url, pm=make_plugin_manager(load_entry_points=False, plugins=plugins)))
        return made[-1]

    yield make
    for p in made:
        p.dispose()


def test_a_package_without_definition_files_is_a_warning_of_init(make_package, platform_of):
    import types as pytypes

    from xrm_core import json_definitions
    module = pytypes.ModuleType("empty_plugin")
    pkg = make_package({})
    vars(module).update(json_definitions(pkg))
    report = platform_of({"empty": module}).init(admin_password="secret")
    assert report["types_added"] == []
    assert [w for w in report["warnings"] if "json_definitions found no definition file" in w] == [
        f"plugin 'empty': json_definitions found no definition file in package '{pkg}' (types/*.json, "
        "relationship_types.json, activity_kinds.json, roles.json, kpis.json); if it has them, ship them as "
        "package data ([tool.setuptools.package-data]): an installed wheel has only the files setuptools is "
        "told about"]


def test_init_warns_about_an_unchecked_format_in_a_plugin_type(platform_of):
    import types as pytypes

    from xrm_core import hookimpl
    module = pytypes.ModuleType("typo_plugin")
    t = {"name": "donor", "schema": {"type": "object", "properties": {"email": {"type": "string", "format": "emial"}}}}
    module.xrm_entity_types = hookimpl(lambda: [t])
    platform = platform_of({"typo": module})
    report = platform.init(admin_password="secret")
    assert report["warnings"] == [
        "plugin 'typo', entity type 'donor': /schema/properties/email/format: format 'emial' is not one xrm "
        "checks (date, date-time, email, uri, uuid… — JSON Schema's own); values are accepted whatever they hold"]
    assert platform.init()["warnings"] == []  # said when the type is added or changed, not on every init


def test_a_narrowed_relationship_type_is_refused_saying_what_to_do(platform_of):
    import types as pytypes

    from xrm_core import Conflict, hookimpl
    rel = {"name": "mentors", "source": "donor", "target": "donor", "cardinality": "one-to-many"}
    module = pytypes.ModuleType("narrowing_plugin")
    module.xrm_entity_types = hookimpl(lambda: [FUND | {"name": "donor"}])
    module.xrm_relationship_types = hookimpl(lambda: [rel])
    platform = platform_of({"narrowing": module})
    platform.init(admin_password="secret")
    with platform.session() as s:
        a, b, c = (s.create("donor", {"code": x}) for x in "abc")
        s.relate("mentors", a.id, b.id)
        s.relate("mentors", a.id, c.id)
    rel["cardinality"] = "one-to-one"
    with pytest.raises(Conflict) as e:
        platform.init()
    assert e.value.message.startswith("plugin 'narrowing': cannot make 'mentors' one-to-one: 1 record(s)")
    assert e.value.message.endswith("; nothing was applied. Change or remove what is listed and run `xrm init` "
                                    "again, or run `XRM_DISABLE_PLUGINS=narrowing xrm init` to upgrade everything "
                                    "else while the plugin's definitions stay as stored (its hooks do not run "
                                    "while it is blocked)")
    assert e.value.errors == [{"pointer": "/cardinality",
                               "message": f"record {a.id} is the source of 2 relationships: one-to-one allows it "
                                          "one target"}]


def test_a_misspelt_hook_gets_the_name_it_probably_meant():
    import types as pytypes

    from xrm_core import PluginError, hookimpl
    from xrm_core.plugins import make_plugin_manager
    typo = pytypes.ModuleType("typo")
    typo.xrm_relationship_type = hookimpl(lambda: [])
    with pytest.raises(PluginError) as e:
        make_plugin_manager(False, {"typo": typo})
    assert e.value.message == ("plugin 'typo' implements unknown hook 'xrm_relationship_type' (did you mean "
                               "'xrm_relationship_types'? mark it @hookimpl(optionalhook=True) if another plugin "
                               "declares it)")


def test_an_argument_the_hook_does_not_pass_is_named_with_the_hooks_arguments():
    import types as pytypes

    from xrm_core import PluginError, hookimpl
    from xrm_core.plugins import make_plugin_manager
    bad = pytypes.ModuleType("bad")
    bad.xrm_record_event = hookimpl(lambda event, rec: None)  # `rec` for `record`
    with pytest.raises(PluginError) as e:
        make_plugin_manager(False, {"bad": bad})
    # Was pluggy's "Argument(s) {'rec'} are declared in the hookimpl but can not be found in the
    # hookspec", which does not say what the hook does pass.
    assert e.value.message == ("plugin 'bad' cannot be registered: its xrm_record_event takes 'rec', which the "
                               "hook does not pass — xrm_record_event(event, record, changes, session) — take any "
                               "of those arguments, by name")
    assert e.value.plugin == "bad" and type(e.value.__cause__).__name__ == "PluginValidationError"
