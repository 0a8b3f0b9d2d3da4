"""The four business plugins as a whole: their definitions (complete, translated, minimal),
unique keys and patterns, relationship rules, the roles' unit scopes, the entry points, and
the CLI of a new installation (``xrm init`` with every entry-point plugin, then the listings
and a dealer's KPI). Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import xrm_crm
import xrm_prm_dealers
import xrm_voc
import xrm_vrm_suppliers
from xrm_core import Conflict, DefinitionError, PermissionDenied, Platform, ValidationError, kpis
from xrm_core.plugins import make_plugin_manager

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, net  # noqa: E402, F401

LANGS = {"en", "fa", "zh"}

CONTRACT_TYPES = {
    xrm_crm: {"customer", "vehicle", "lead", "opportunity", "case", "campaign", "contract"},
    xrm_prm_dealers: {"dealer", "service_visit", "dealer_stock", "sales_target", "warranty_claim"},
    xrm_vrm_suppliers: {"supplier", "part", "supply_agreement", "delivery", "defect_report"},
    xrm_voc: {"survey", "survey_response", "feedback", "kano_answer"},
}
CONTRACT_KPIS = {
    xrm_voc: {"nps", "csat", "ces", "csm", "after_sales_satisfaction"},
    xrm_crm: {"complaint_handling_time", "complaints_per_100_receptions", "repeat_purchase_rate", "churn_rate",
              "lead_conversion_rate", "win_rate", "profile_completeness", "recovered_dissatisfied_rate",
              "customer_lifetime_value", "sales_complaints_per_100_sold", "quality_complaints_per_100_produced",
              "sales_forecast"},
    xrm_prm_dealers: {"dealer_lead_conversion_rate", "lead_response_time", "repeat_repair_rate", "sales_vs_target"},
    xrm_vrm_suppliers: {"defect_ppm", "complaint_forwarding_time", "sla_compliance", "on_time_delivery"},
}
ROLES = {"hq_analyst", "dealer_manager", "dealer_agent", "supplier_quality_engineer", "voc_analyst"}
ENTRY_POINTS = {"crm": xrm_crm, "prm_dealers": xrm_prm_dealers, "vrm_suppliers": xrm_vrm_suppliers, "voc": xrm_voc}
VIN = "NAAM11CA9PK000001"


def translated(label) -> bool:
    return isinstance(label, dict) and set(label) >= LANGS and all(label[k].strip() for k in LANGS)


def keys_in(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from keys_in(v)
    elif isinstance(node, list):
        for v in node:
            yield from keys_in(v)


# -- definitions ------------------------------------------------------------------------
@pytest.mark.parametrize("plugin", list(CONTRACT_TYPES), ids=lambda m: m.__name__)
def test_entity_types_are_complete_translated_and_minimal(plugin):
    types = {t["name"]: t for t in plugin.xrm_entity_types()}
    assert set(types) >= CONTRACT_TYPES[plugin]
    for name, t in types.items():
        assert translated(t["label"]) and translated(t["plural_label"]), name
        props = set(t["schema"]["properties"])
        assert set(t["field_labels"]) == props, name
        assert all(translated(label) for label in t["field_labels"].values()), name
        assert t["schema"].get("additionalProperties") is False, name
        # minimal: no default values, no timestamps, no draft declaration repeated per file
        assert not {"default", "$schema", "created_at", "updated_at"} & set(keys_in(t)), name
        indexed = set(t.get("indexes", [])) | {f for u in t.get("unique", []) for f in ([u] if isinstance(u, str) else u)}
        assert indexed <= props, name


@pytest.mark.parametrize("plugin", list(CONTRACT_TYPES), ids=lambda m: m.__name__)
def test_relationships_kinds_roles_and_kpis_are_translated_and_documented(plugin):
    for rel in plugin.xrm_relationship_types():
        assert translated(rel["label"]) and translated(rel["inverse_label"]), rel["name"]
    for kind in plugin.xrm_activity_kinds():
        assert translated(kind["label"]), kind["name"]
    for role in plugin.xrm_roles():
        assert translated(role["label"]) and role["description"], role["name"]
    items = plugin.xrm_kpis()
    names = {k["name"] if isinstance(k, dict) else k.name for k in items}
    assert names == CONTRACT_KPIS[plugin]
    for k in items:
        d = k if isinstance(k, dict) else k.to_dict()
        assert translated(d["label"]) and d["unit"], d["name"]
        # each description states its formula
        assert any(sym in d["description"] for sym in ("/", "×", "−", "avg", "average")), d["name"]


def test_the_roles_of_the_issue_exist(net):
    from xrm_core import accounts
    with net.connection() as conn:
        assert {r["name"] for r in accounts.list_roles(conn)} >= ROLES


def test_kpis_come_from_their_plugins(net):
    with net.connection() as conn:
        registry = net.kpi_registry(conn)
    for plugin, names in CONTRACT_KPIS.items():
        assert {n for n in names if registry[n].source == plugin.__name__} == names


# -- data rules -------------------------------------------------------------------------
@pytest.mark.parametrize("type_name, data, field", [
    ("customer", {"name": "علی رضایی", "national_id": "0012345678"}, "national_id"),
    ("vehicle", {"vin": VIN, "model": "X7"}, "vin"),
    ("dealer", {"code": "D01", "name": "نمایندگی ۱۰۱", "region": "north"}, "code"),
    ("part", {"part_number": "P-100", "name": "刹车片"}, "part_number"),
    ("supplier", {"code": "S1", "name": "پارس قطعه"}, "code"),
    ("dealer_stock", {"dealer_code": "D01", "item_kind": "part", "sku": "P-100", "quantity": 3}, "dealer_code"),
])
def test_the_same_business_key_is_never_entered_twice(net, type_name, data, field):
    add(net, type_name, [data])
    with pytest.raises(Conflict) as e:
        add(net, type_name, [{**data, "name": "someone else"} if "name" in data else dict(data)])
    assert f"/data/{field}" in [err["pointer"] for err in e.value.errors]
    with net.session() as s:
        assert s.count(type_name) == 1


def test_persian_and_chinese_data_is_welcome(net):
    add(net, "customer", [{"name": "علی رضایی", "name_latin": "Ali Rezaei", "address": {"city": "تهران"}},
                          {"name": "王小明", "name_latin": "Wang Xiaoming", "address": {"city": "北京"}}])
    add(net, "vehicle", [{"vin": VIN, "model": "تارا", "plate": "۱۲ ب ۳۴۵ ایران ۶۷", "color": "سفید"}])
    add(net, "survey", [{"code": "AS-1", "name": "نظرسنجی پس از فروش", "touchpoint": "after_sales", "questions": [
        {"code": "q1", "kind": "nps", "text": {"fa": "چقدر احتمال دارد ما را توصیه کنید؟", "zh": "您向朋友推荐我们的可能性有多大？"}},
        {"code": "q2", "kind": "csm", "text": "Repair done right the first time", "weight": 2}]}])
    with net.session() as s:
        assert [r.data["name_latin"] for r in s.list("customer", {"name": "王小明"})] == ["Wang Xiaoming"]
        assert s.count("vehicle", {"plate": "۱۲ ب ۳۴۵ ایران ۶۷"}) == 1


@pytest.mark.parametrize("type_name, data, pointer", [
    ("vehicle", {"vin": "NAAM11CA9PK00000O", "model": "X7"}, "/data/vin"),     # O is not a VIN letter
    ("vehicle", {"vin": "NAAM11CA9PK0001", "model": "X7"}, "/data/vin"),       # 15 characters
    ("vehicle", {"vin": VIN, "model": "X7", "mileage_km": -5}, "/data/mileage_km"),
    ("customer", {"name": "x", "mobile": "not a phone"}, "/data/mobile"),
    ("customer", {"name": ""}, "/data/name"),
    ("case", {"kind": "complaint", "subject": "x", "category": "weather"}, "/data/category"),
    ("sales_target", {"dealer_code": "D01", "month": "2024-03-15", "target_units": 3}, "/data/month"),
    ("lead", {"name": "x", "phone_nr": "1"}, "/data/phone_nr"),               # unknown field
])
def test_invalid_data_is_refused_with_its_pointer(net, type_name, data, pointer):
    with pytest.raises(ValidationError) as e:
        add(net, type_name, [data])
    assert pointer in [err["pointer"] for err in e.value.errors]
    with net.session() as s:
        assert s.count(type_name) == 0


def test_relationship_rules(net):
    alice, bob = add(net, "customer", [{"name": "Alice"}, {"name": "Bob"}])
    (car,) = add(net, "vehicle", [{"vin": VIN, "model": "X7"}])
    (lead,) = add(net, "lead", [{"name": "Alice"}])
    opp1, opp2 = add(net, "opportunity", [{"title": "X7 for Alice"}, {"title": "X5 for Alice"}])
    with net.session() as s:
        s.relate("customer_owns_vehicle", alice, car)
        s.relate("lead_converted_to", lead, opp1)
    with pytest.raises(Conflict), net.session() as s:      # a vehicle has one owner
        s.relate("customer_owns_vehicle", bob, car)
    with pytest.raises(Conflict), net.session() as s:      # a lead converts once
        s.relate("lead_converted_to", lead, opp2)
    with pytest.raises(Conflict), net.session() as s:      # transfer the vehicle before deleting its owner
        s.delete(alice)
    with pytest.raises(ValidationError), net.session() as s:
        s.relate("customer_owns_vehicle", car, alice)       # wrong direction
    with net.session() as s:
        assert [r["record"].id for r in s.related(car)] == [alice]


# -- roles and units --------------------------------------------------------------------
def test_dealer_users_see_their_dealer_and_hq_sees_all(net):
    a1, a1b = add(net, "customer", [{"name": "own"}], user="agent1") + add(net, "customer", [{"name": "colleague's"}],
                                                                            user="agent1b")
    add(net, "customer", [{"name": "D03's", "_unit": "D03"}, {"name": "HQ's", "_unit": "hq"}])
    add(net, "vehicle", [{"vin": VIN, "model": "X7", "_unit": "D03"}])
    add(net, "delivery", [{"delivery_number": "N1", "supplier_code": "S1", "part_number": "P-100", "quantity": 1,
                           "promised_date": "2024-03-01", "_unit": "hq"}])

    def names(user, type_name="customer"):
        with net.session(user, write=False) as s:
            return sorted(r.data.get("name", r.id) for r in s.list(type_name))

    assert names("agent1") == names("mgr1") == ["colleague's", "own"]
    assert names("mgr3") == ["D03's"]
    assert names("mgr2") == []
    assert names("north_rm") == ["colleague's", "own"]
    assert names("analyst") == names("cc") == ["D03's", "HQ's", "colleague's", "own"]
    with net.session("agent1") as s:
        assert s.get(a1).unit == "D01"                      # created in the creator's dealer unit
        s.update(a1, {"mobile": "+989121234567"})
        with pytest.raises(PermissionDenied):               # an agent updates only their own records
            s.update(a1b, {"mobile": "+989121234567"})
    with net.session("mgr1") as s:
        s.update(a1b, {"mobile": "+989121234567"})          # the manager updates the dealer's records
        assert [r.data["vin"] for r in s.list("vehicle")] == [VIN]   # vehicles: network-wide VIN lookup
        with pytest.raises(PermissionDenied):
            s.create("customer", {"name": "elsewhere"}, unit="D03")
        assert s.list("delivery") == []                     # supplier data stays at HQ
    with net.session("sqe", write=False) as s:
        assert len(s.list("delivery")) == 1
        with pytest.raises(PermissionDenied):
            s.list("customer")
    with net.session("vocan", write=False) as s:
        assert s.list("survey_response") == []
        with pytest.raises(PermissionDenied):
            s.list("case")


# -- installation -----------------------------------------------------------------------
def test_the_plugins_are_entry_points():
    pm = make_plugin_manager(load_entry_points=True)
    for name, module in ENTRY_POINTS.items():
        assert pm.get_plugin(name) is module


def test_suppliers_stand_alone_and_the_others_need_crm(db_url):
    alone = Platform(db_url, pm=make_plugin_manager(load_entry_points=False, plugins=[xrm_vrm_suppliers]))
    try:
        report = alone.init()
        assert set(report["types_added"]) == CONTRACT_TYPES[xrm_vrm_suppliers]
        with alone.session() as s:
            assert kpis.compute(s, "defect_ppm")["value"] is None
    finally:
        alone.dispose()
    broken = Platform(db_url, pm=make_plugin_manager(load_entry_points=False, plugins=[xrm_vrm_suppliers, xrm_voc]))
    try:
        with pytest.raises(DefinitionError, match="voc") as e:
            broken.init()
        assert "customer" in str(e.value.errors)
        with broken.connection() as conn:      # all or nothing: voc's types were not stored
            assert _type_names(conn) == CONTRACT_TYPES[xrm_vrm_suppliers]
    finally:
        broken.dispose()


def _type_names(conn):
    from xrm_core import entity_types
    return set(entity_types.load_all(conn))


@pytest.fixture
def xrm(cli):
    """The CLI with the entry-point plugins; a command must succeed."""
    def run(*args):
        result = cli(*args, entry_points=True)
        assert result.exit_code == 0, result.stderr
        return result
    return run


def test_a_new_installation_from_the_cli(xrm):
    xrm("init")
    assert "entity types added" not in xrm("init").stdout         # a second init changes nothing
    types = {t["name"]: t["source"] for t in json.loads(xrm("types", "list", "--json").stdout)}
    for plugin, names in CONTRACT_TYPES.items():
        entry_point = next(n for n, m in ENTRY_POINTS.items() if m is plugin)
        assert {n for n in names if types.get(n) == entry_point} == names
    listed = {k["name"]: k["source"] for k in json.loads(xrm("kpi", "list", "--json").stdout)}
    for plugin, names in CONTRACT_KPIS.items():
        entry_point = next(n for n, m in ENTRY_POINTS.items() if m is plugin)
        assert {n for n in names if listed.get(n) == entry_point} == names
    plugins = {p["name"]: p["hooks"] for p in json.loads(xrm("plugins", "list", "--json").stdout)}
    assert set(plugins) >= set(ENTRY_POINTS)
    assert all("xrm_kpis" in plugins[n] or "kpis" in plugins[n] for n in ENTRY_POINTS)

    # A dealer's user computes a KPI and gets the dealer's share only.
    xrm("units", "create", "hq")
    xrm("units", "create", "north", "--parent", "hq")
    for dealer in ("D01", "D02"):
        xrm("units", "create", dealer, "--parent", "north")
    xrm("users", "create", "dealer1", "--unit", "D01", "--role", "dealer_manager")
    for dealer, status in [("D01", "sold"), ("D01", "lost"), ("D02", "sold"), ("D02", "sold")]:
        lead = {"name": "مشتری بالقوه", "dealer_code": dealer, "status": status, "assigned_at": "2024-03-01T09:00:00Z"}
        xrm("records", "create", "lead", "--data", json.dumps(lead), "--unit", dealer)
    mine = json.loads(xrm("kpi", "compute", "dealer_lead_conversion_rate", "--as", "dealer1", "--json").stdout)
    assert (mine["value"], mine["n"]) == (50, 2)
    everyone = json.loads(xrm("kpi", "compute", "dealer_lead_conversion_rate", "--by", "dealer_code", "--json").stdout)
    assert (everyone["value"], everyone["n"]) == (75, 4)
    assert [(g["key"], g["value"]) for g in everyone["groups"]] == [("D01", 50), ("D02", 100)]
