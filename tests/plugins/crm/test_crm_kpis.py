"""The crm plugin's KPIs against hand-computed values on small data, with the period, --by
groups and a dealer's scope. Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import xrm_crm
from xrm_core import Platform, ValidationError
from xrm_core.plugins import make_plugin_manager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, groups, kpi, net  # noqa: E402, F401

MARCH = {"date_from": "2024-03-01", "date_to": "2024-03-31"}


def test_complaint_handling_time_averages_open_to_close_hours_of_closed_complaints(net):
    add(net, "case", [
        # 2024-03-01T23:30+03:30 is 20:00Z: 12 hours, time zones honoured
        {"kind": "complaint", "subject": "صدای ترمز", "opened_at": "2024-03-01T08:00:00Z",
         "closed_at": "2024-03-01T23:30:00+03:30"},
        {"kind": "complaint", "subject": "刹车异响", "opened_at": "2024-03-02T00:00:00Z",
         "closed_at": "2024-03-03T12:00:00Z"},                                     # 36 h
        {"kind": "complaint", "subject": "still open", "opened_at": "2024-03-04T00:00:00Z"},
        {"kind": "request", "subject": "brochure", "opened_at": "2024-03-05T00:00:00Z",
         "closed_at": "2024-03-05T02:00:00Z"},                                     # not a complaint
        {"kind": "complaint", "subject": "late", "opened_at": "2024-03-30T00:00:00Z",
         "closed_at": "2024-04-02T00:00:00Z"},                                     # 72 h, closed in April
    ])
    march = kpi(net, "complaint_handling_time", **MARCH)
    assert (march["value"], march["n"], march["unit"]) == (24.0, 2, "hours")
    overall = kpi(net, "complaint_handling_time")
    assert (overall["value"], overall["n"]) == (40.0, 3)


def _receptions_and_complaints(p):
    add(p, "service_visit", [
        {"vin": "NAAM11CA9PK000001", "received_at": "2024-03-02T09:00:00Z", "visit_type": "periodic_service",
         "dealer_code": "D01", "_unit": "D01"},
        {"vin": "NAAM11CA9PK000002", "received_at": "2024-03-03T09:00:00Z", "visit_type": "repair",
         "dealer_code": "D01", "_unit": "D01"},
        {"vin": "NAAM11CA9PK000003", "received_at": "2024-03-04T09:00:00Z", "visit_type": "repair",
         "dealer_code": "D01", "_unit": "D01"},
        {"vin": "NAAM11CA9PK000004", "received_at": "2024-03-05T09:00:00Z", "visit_type": "repair",
         "dealer_code": "D01", "status": "cancelled", "_unit": "D01"},
        {"vin": "NAAM11CA9PK000005", "received_at": "2024-03-06T09:00:00Z", "visit_type": "recall",
         "dealer_code": "D03", "_unit": "D03"},
        {"vin": "NAAM11CA9PK000006", "received_at": "2024-04-06T09:00:00Z", "visit_type": "repair",
         "dealer_code": "D03", "_unit": "D03"},
    ])
    add(p, "case", [
        {"kind": "complaint", "subject": "a", "category": "after_sales", "dealer_code": "D01",
         "opened_at": "2024-03-10T10:00:00Z", "_unit": "D01"},
        {"kind": "complaint", "subject": "b", "category": "spare_parts", "dealer_code": "D03",
         "opened_at": "2024-03-11T10:00:00Z", "_unit": "D03"},
        {"kind": "complaint", "subject": "c", "category": "sales", "dealer_code": "D01",
         "opened_at": "2024-03-12T10:00:00Z", "_unit": "D01"},
        {"kind": "request", "subject": "d", "category": "after_sales", "dealer_code": "D01",
         "opened_at": "2024-03-13T10:00:00Z", "_unit": "D01"},
    ])


def test_complaints_per_100_receptions_divides_service_complaints_by_receptions(net):
    _receptions_and_complaints(net)
    # March: 2 service complaints (after_sales, spare_parts) / 4 receptions (one cancelled)
    r = kpi(net, "complaints_per_100_receptions", **MARCH)
    assert (r["value"], r["n"]) == (50.0, 4)
    by = kpi(net, "complaints_per_100_receptions", by="dealer_code", **MARCH)
    assert groups(by) == {"D01": (33.333333, 3), "D03": (100.0, 1)}


def test_complaints_per_100_receptions_in_a_dealers_scope(net):
    _receptions_and_complaints(net)
    mine = kpi(net, "complaints_per_100_receptions", user="mgr1", **MARCH)
    assert (mine["value"], mine["n"]) == (33.333333, 3)
    theirs = kpi(net, "complaints_per_100_receptions", user="mgr3", **MARCH)
    assert (theirs["value"], theirs["n"]) == (100.0, 1)
    assert kpi(net, "complaints_per_100_receptions", user="analyst", **MARCH)["value"] == 50.0


def test_complaints_per_100_receptions_is_empty_without_the_dealer_plugin(db_url):
    p = Platform(db_url, pm=make_plugin_manager(load_entry_points=False, plugins=[xrm_crm]))
    try:
        p.init()
        add(p, "case", [{"kind": "complaint", "subject": "a", "category": "after_sales",
                         "opened_at": "2024-03-10T10:00:00Z"}])
        r = kpi(p, "complaints_per_100_receptions")
        assert (r["value"], r["n"]) == (None, 0)
    finally:
        p.dispose()


def test_complaints_per_100_receptions_refuses_a_group_field_one_side_lacks(net):
    with pytest.raises(ValidationError, match="visit_type"):
        kpi(net, "complaints_per_100_receptions", by="visit_type")


def _sale(customer, signed, dealer="D01", **extra):
    return {"contract_number": f"{customer}-{signed}", "kind": "sale", "customer_id": customer,
            "signed_at": signed, "dealer_code": dealer, **extra}


def test_repeat_purchase_rate(net):
    add(net, "contract", [
        _sale("A", "2023-05-10", dealer="D02"), _sale("A", "2024-03-05"),   # bought before: repeat
        _sale("B", "2024-03-10", dealer="D03"),                               # first purchase
        _sale("C", "2024-03-12"), _sale("C", "2024-03-20"),                   # twice in March: repeat
        _sale("D", "2024-03-15", status="cancelled"),                         # cancelled: no purchase
        {"contract_number": "D-plan", "kind": "service_plan", "customer_id": "D", "signed_at": "2024-01-01"},
        _sale("E", "2024-02-01"),                                             # not a March buyer
        _sale("F", "2024-03-25"), _sale("F", "2024-04-05"),                   # second purchase after March
    ])
    march = kpi(net, "repeat_purchase_rate", **MARCH)
    assert (march["value"], march["n"]) == (50.0, 4)               # A, C of A, B, C, F
    april = kpi(net, "repeat_purchase_rate", date_from="2024-04-01", date_to="2024-04-30")
    assert (april["value"], april["n"]) == (100.0, 1)              # F, with its March purchase
    ever = kpi(net, "repeat_purchase_rate")
    assert (ever["value"], ever["n"]) == (60.0, 5)                 # A, C, F of A, B, C, E, F
    by = kpi(net, "repeat_purchase_rate", by="dealer_code", **MARCH)
    # within D01: A bought once there, C twice, F once in March; D02 has no March buyer
    assert groups(by) == {"D01": (33.333333, 3), "D02": (None, 0), "D03": (0.0, 1)}


def _customers_for_churn(p):
    add(p, "customer", [
        {"name": "c1", "customer_since": "2020-01-01", "_unit": "D01"},
        {"name": "c2", "customer_since": "2021-01-01", "churned_at": "2024-03-15", "status": "churned", "_unit": "D01"},
        {"name": "c3", "customer_since": "2022-01-01", "churned_at": "2023-12-01", "status": "churned"},
        {"name": "c4", "customer_since": "2024-03-10", "churned_at": "2024-03-20", "status": "churned"},
        {"name": "c5", "churned_at": "2024-03-31", "status": "churned"},
        {"name": "c6", "customer_since": "2019-05-05", "churned_at": "2024-04-02", "status": "churned"},
    ])


def test_churn_rate_counts_customers_lost_in_the_period_of_those_at_its_start(net):
    _customers_for_churn(net)
    march = kpi(net, "churn_rate", **MARCH)
    assert (march["value"], march["n"]) == (50.0, 4)          # c2, c5 of c1, c2, c5, c6
    ever = kpi(net, "churn_rate")
    assert (ever["value"], ever["n"]) == (83.333333, 6)       # everyone but c1
    to_march = kpi(net, "churn_rate", date_to="2024-03-31")
    assert (to_march["value"], to_march["n"]) == (66.666667, 6)


def test_churn_rate_in_a_dealers_scope(net):
    _customers_for_churn(net)
    mine = kpi(net, "churn_rate", user="mgr1", **MARCH)
    assert (mine["value"], mine["n"]) == (50.0, 2)            # c2 of c1, c2
    assert kpi(net, "churn_rate", user="mgr3", **MARCH) | {"from": None, "to": None} == {
        "kpi": "churn_rate", "value": None, "unit": "percent", "n": 0, "from": None, "to": None, "groups": []}


def test_lead_conversion_rate(net):
    add(net, "lead", [{"name": f"l{i}", "status": s, "received_at": f"2024-03-0{i + 1}T10:00:00Z"}
                      for i, s in enumerate(["new", "converted", "sold", "lost", "contacted"])]
        + [{"name": "old", "status": "converted", "received_at": "2024-02-20T10:00:00Z"}])
    march = kpi(net, "lead_conversion_rate", **MARCH)
    assert (march["value"], march["n"]) == (40.0, 5)
    ever = kpi(net, "lead_conversion_rate")
    assert (ever["value"], ever["n"]) == (50.0, 6)


def test_win_rate(net):
    add(net, "opportunity", [
        {"title": "a", "stage": "won", "closed_at": "2024-03-02"},
        {"title": "b", "stage": "won", "closed_at": "2024-03-03"},
        {"title": "c", "stage": "lost", "closed_at": "2024-03-04"},
        {"title": "d", "stage": "negotiation"},
        {"title": "e", "stage": "lost", "closed_at": "2024-02-04"},
    ])
    march = kpi(net, "win_rate", **MARCH)
    assert (march["value"], march["n"]) == (66.666667, 3)
    ever = kpi(net, "win_rate")
    assert (ever["value"], ever["n"]) == (50.0, 4)


def _money(amount):
    return {"amount": amount, "currency": "IRR"}


def test_sales_forecast_weights_the_open_pipeline_by_stage_conversion(net):
    """P(won | stage) = won / (won + lost at that stage or later), from every closed
    opportunity: 2 won; lost at test_drive 1, quotation 1, negotiation 1 (that one through
    the automation, from an update), one lost at an unknown stage (left out). So P is 0.4 at
    test_drive, 0.5 at quotation, 2/3 at negotiation."""
    add(net, "opportunity", [
        {"title": "won 1", "stage": "won", "dealer_code": "D01", "_unit": "D01"},
        {"title": "won 3", "stage": "won", "dealer_code": "D03", "_unit": "D03"},
        {"title": "lost early", "stage": "lost", "lost_stage": "test_drive", "dealer_code": "D01", "_unit": "D01"},
        {"title": "lost mid", "stage": "lost", "lost_stage": "quotation", "dealer_code": "D01", "_unit": "D01"},
        {"title": "lost somewhere", "stage": "lost", "dealer_code": "D01", "_unit": "D01"},
        # open, expected to close in March
        {"title": "q", "stage": "quotation", "amount": _money(30000), "expected_close": "2024-03-20",
         "dealer_code": "D01", "_unit": "D01"},
        {"title": "n", "stage": "negotiation", "amount": _money(9000), "expected_close": "2024-03-05",
         "dealer_code": "D01", "_unit": "D01"},
        {"title": "t", "stage": "test_drive", "amount": _money(40000), "expected_close": "2024-03-31",
         "dealer_code": "D03", "_unit": "D03"},
        {"title": "no amount", "stage": "prospecting", "expected_close": "2024-03-10", "dealer_code": "D01",
         "_unit": "D01"},
        {"title": "april", "stage": "quotation", "amount": _money(50000), "expected_close": "2024-04-01",
         "dealer_code": "D03", "_unit": "D03"},
    ])
    (late,) = add(net, "opportunity", [{"title": "lost late", "stage": "negotiation", "dealer_code": "D01",
                                        "_unit": "D01"}])
    with net.session() as s:
        assert s.update(late, {"stage": "lost"}).data["lost_stage"] == "negotiation"
        assert "lost_stage" not in s.update(late, {"stage": "negotiation"}).data  # reopened
        assert s.update(late, {"stage": "lost"}).data["lost_stage"] == "negotiation"
    march = kpi(net, "sales_forecast", **MARCH, by="dealer_code")
    assert march["value"] == pytest.approx(15000 + 6000 + 16000) and march["n"] == 3
    assert {k: (pytest.approx(v), n) for k, (v, n) in groups(march).items()} == {
        "D01": (pytest.approx(21000), 2), "D03": (pytest.approx(16000), 1)}
    ever = kpi(net, "sales_forecast")
    assert ever["value"] == pytest.approx(37000 + 50000 * 0.5) and ever["n"] == 4
    # A dealer's manager: its own history (one won, nothing lost) and pipeline only.
    own = kpi(net, "sales_forecast", user="mgr3", **MARCH)
    assert (own["value"], own["n"]) == (40000, 1)


def test_sales_forecast_without_closed_opportunities_is_empty(net):
    add(net, "opportunity", [{"title": "q", "stage": "quotation", "amount": _money(1000),
                              "expected_close": "2024-03-20"}])
    assert (kpi(net, "sales_forecast")["value"], kpi(net, "sales_forecast")["n"]) == (None, 0)


def test_profile_completeness_averages_the_filled_share_of_key_fields(net):
    add(net, "customer", [
        {"name": "علی رضایی", "region": "north", "mobile": "+989121234567", "email": "ali@example.ir",
         "national_id": "0012345678", "birth_date": "1980-01-01", "gender": "male",
         "address": {"city": "تهران"}, "preferred_channel": "sms", "consent_marketing": True},   # 100
        {"name": "Sara", "region": "north", "mobile": "+989121234568", "email": "sara@example.com",
         "address": {"line1": "no city"}},                                                     # 25
        {"name": "王小明", "region": "south"},                                                   # 0
        {"name": "李娜", "region": "south", "national_id": "11010519491231002X", "birth_date": "1990-05-05",
         "gender": "female", "address": {"city": "北京"}, "consent_marketing": False},           # 62.5
    ])
    r = kpi(net, "profile_completeness")
    assert (r["value"], r["n"]) == (46.875, 4)
    assert groups(kpi(net, "profile_completeness", by="region")) == {"north": (62.5, 2), "south": (31.25, 2)}


def test_recovered_dissatisfied_rate(net):
    add(net, "case", [
        {"kind": "complaint", "subject": "a", "closed_at": "2024-03-02T10:00:00Z", "resolution_satisfaction": 5},
        {"kind": "complaint", "subject": "b", "closed_at": "2024-03-03T10:00:00Z", "resolution_satisfaction": 4},
        {"kind": "complaint", "subject": "c", "closed_at": "2024-03-04T10:00:00Z", "resolution_satisfaction": 2},
        {"kind": "complaint", "subject": "d", "closed_at": "2024-03-05T10:00:00Z"},   # not asked
        {"kind": "request", "subject": "e", "closed_at": "2024-03-05T10:00:00Z", "resolution_satisfaction": 5},
    ])
    r = kpi(net, "recovered_dissatisfied_rate", **MARCH)
    assert (r["value"], r["n"]) == (66.666667, 3)


def test_customer_lifetime_value_is_revenue_per_customer(net):
    irr = "IRR"
    add(net, "contract", [
        _sale("A", "2024-03-01", amount={"amount": 30000, "currency": irr}),
        {"contract_number": "A-plan", "kind": "service_plan", "customer_id": "A", "signed_at": "2024-04-01",
         "amount": {"amount": 500, "currency": irr}},
        _sale("B", "2024-03-02", amount={"amount": 20000, "currency": irr}, _unit="D01"),
        _sale("C", "2024-03-03", amount={"amount": 10000, "currency": irr}, status="cancelled"),
    ])
    ever = kpi(net, "customer_lifetime_value")
    assert (ever["value"], ever["n"]) == (25250.0, 2)
    march = kpi(net, "customer_lifetime_value", **MARCH)
    assert (march["value"], march["n"]) == (25000.0, 2)
    mine = kpi(net, "customer_lifetime_value", user="mgr1")
    assert (mine["value"], mine["n"]) == (20000.0, 1)


def test_the_funnel_counts_each_stage_reached_and_gone_on_from(net):
    import json

    from click.testing import CliRunner

    from business_org import PLUGINS
    from xrm_core.cli.main import build_cli
    add(net, "opportunity", [
        {"title": "w1", "stage": "won", "opened_at": "2024-03-01", "dealer_code": "D01", "_unit": "D01"},
        {"title": "w3", "stage": "won", "opened_at": "2024-03-02", "dealer_code": "D03", "_unit": "D03"},
        {"title": "l-td", "stage": "lost", "lost_stage": "test_drive", "opened_at": "2024-03-03", "_unit": "D01"},
        {"title": "l-q", "stage": "lost", "lost_stage": "quotation", "opened_at": "2024-03-04", "_unit": "D01"},
        {"title": "l-?", "stage": "lost", "opened_at": "2024-03-05", "_unit": "D01"},
        {"title": "o-p", "stage": "prospecting", "opened_at": "2024-03-06", "_unit": "D01"},
        {"title": "o-n", "stage": "negotiation", "opened_at": "2024-03-07", "_unit": "D03"},
        {"title": "feb", "stage": "won", "opened_at": "2024-02-07", "_unit": "D01"},
    ])

    def run(*args):
        cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=PLUGINS))
        r = CliRunner().invoke(cli, ["--db", net.url, "crm", "funnel", *args], catch_exceptions=False)
        assert r.exit_code == 0, r.stderr
        return r

    march = json.loads(run("--from", "2024-03-01", "--to", "2024-03-31", "--json").stdout)
    # furthest stage: prospecting 1, test_drive 1, quotation 1, negotiation 1, won 2; one unknown
    assert (march["n"], march["won"], march["lost_at_unknown_stage"]) == (7, 2, 1)
    assert [(r["stage"], r["reached"], r["went_on"], r["conversion"]) for r in march["stages"]] == [
        ("prospecting", 6, 5, 83.333333), ("test_drive", 5, 4, 80.0), ("quotation", 4, 3, 75.0),
        ("negotiation", 3, 2, 66.666667)]
    text = run("--from", "2024-03-01", "--to", "2024-03-31").stdout
    assert "negotiation  3        2        66.7" in text and "7 opportunities, 2 won, 1 lost at an unknown stage" in text
    assert json.loads(run("--json").stdout)["won"] == 3
    # A dealer's manager counts its own opportunities only.
    own = json.loads(run("--from", "2024-03-01", "--as", "mgr3", "--json").stdout)
    assert [(r["stage"], r["reached"]) for r in own["stages"]][-1] == ("negotiation", 2) and own["n"] == 2
