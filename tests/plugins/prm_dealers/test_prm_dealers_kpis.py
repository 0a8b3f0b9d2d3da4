"""The prm_dealers plugin's KPIs against hand-computed values, per dealer (--by dealer_code)
and within a dealer manager's scope. Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``,
PostgreSQL."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, groups, kpi, net  # noqa: E402, F401

MARCH = {"date_from": "2024-03-01", "date_to": "2024-03-31"}


def _assigned(dealer, status, day, **extra):
    lead = {"name": f"lead {dealer} {day}", "status": status, "assigned_at": f"2024-{day}T09:00:00Z", **extra}
    if dealer:
        lead |= {"dealer_code": dealer, "_unit": dealer}
    return lead


def _leads(p):
    add(p, "lead", [
        _assigned("D01", "sold", "03-01"), _assigned("D01", "lost", "03-02"), _assigned("D01", "contacted", "03-03"),
        _assigned("D03", "sold", "03-04"),
        _assigned(None, "sold", "03-05"),            # never handed to a dealer
        _assigned("D01", "sold", "02-20"),           # assigned before the period
    ])


def test_dealer_lead_conversion_rate_is_sold_over_leads_handed_to_dealers(net):
    _leads(net)
    march = kpi(net, "dealer_lead_conversion_rate", **MARCH)
    assert (march["value"], march["n"]) == (50.0, 4)
    assert groups(kpi(net, "dealer_lead_conversion_rate", by="dealer_code", **MARCH)) == {
        "D01": (33.333333, 3), "D03": (100.0, 1)}
    ever = kpi(net, "dealer_lead_conversion_rate")
    assert (ever["value"], ever["n"]) == (60.0, 5)


def test_dealer_lead_conversion_rate_in_a_dealers_scope(net):
    _leads(net)
    mine = kpi(net, "dealer_lead_conversion_rate", user="mgr1", **MARCH)
    assert (mine["value"], mine["n"]) == (33.333333, 3)
    agent = kpi(net, "dealer_lead_conversion_rate", user="agent1", **MARCH)   # reads the dealer's unit
    assert (agent["value"], agent["n"]) == (33.333333, 3)
    assert kpi(net, "dealer_lead_conversion_rate", user="mgr2", **MARCH)["n"] == 0
    region = kpi(net, "dealer_lead_conversion_rate", user="north_rm", **MARCH)   # D01 and D02
    assert (region["value"], region["n"]) == (33.333333, 3)


def test_lead_response_time_averages_hours_to_first_contact(net):
    add(net, "lead", [
        {"name": "a", "dealer_code": "D01", "assigned_at": "2024-03-01T09:00:00Z",
         "first_response_at": "2024-03-01T11:00:00Z"},                        # 2 h
        {"name": "b", "dealer_code": "D03", "assigned_at": "2024-03-02T09:00:00Z",
         "first_response_at": "2024-03-03T12:30:00+03:30"},                  # 09:00Z next day: 24 h
        {"name": "c", "dealer_code": "D01", "assigned_at": "2024-03-03T09:00:00Z"},   # not answered yet
        {"name": "d", "assigned_at": "2024-03-03T09:00:00Z", "first_response_at": "2024-03-03T10:00:00Z"},
    ])
    r = kpi(net, "lead_response_time", **MARCH)
    assert (r["value"], r["n"], r["unit"]) == (13.0, 2, "hours")
    assert groups(kpi(net, "lead_response_time", by="dealer_code", **MARCH)) == {
        "D01": (2.0, 1), "D03": (24.0, 1)}


def _visit(vin, day, fault, kind="repair", dealer="D03", **extra):
    return {"vin": vin, "received_at": f"2024-{day}T08:00:00Z", "visit_type": kind, "dealer_code": dealer,
            "_unit": dealer, **({"fault_code": fault} if fault else {}), **extra}


V1, V2, V3 = "NAAM11CA9PK000001", "NAAM11CA9PK000002", "NAAM11CA9PK000003"


def _visits(p):
    add(p, "service_visit", [
        _visit(V1, "02-20", "P0300", dealer="D01"),
        _visit(V1, "03-10", "P0300", dealer="D01"),              # same fault 19 days later: repeat
        _visit(V1, "03-12", "B1000", dealer="D01"),              # another fault
        _visit(V1, "03-15", "P0300", dealer="D01", status="cancelled"),
        _visit(V2, "03-01", "P0300"),
        _visit(V2, "04-15", "P0300", kind="warranty_repair"),    # 45 days later: not a repeat
        _visit(V2, "03-05", None, kind="periodic_service"),
        _visit(V2, "03-06", None),                               # a repair without a fault code
        _visit(V3, "03-20", "C0035"),
        _visit(V3, "03-29", "C0035", kind="warranty_repair"),   # 9 days later: repeat
    ])


def test_repeat_repair_rate_counts_comebacks_for_the_same_fault(net):
    _visits(net)
    march = kpi(net, "repeat_repair_rate", **MARCH)
    assert (march["value"], march["n"]) == (40.0, 5)           # 2 of V1 03-10, V1 03-12, V2 03-01, V3 ×2
    ever = kpi(net, "repeat_repair_rate")
    assert (ever["value"], ever["n"]) == (28.571429, 7)
    assert groups(kpi(net, "repeat_repair_rate", by="dealer_code", **MARCH)) == {
        "D01": (50.0, 2), "D03": (33.333333, 3)}


def test_repeat_repair_rate_in_a_dealers_scope(net):
    _visits(net)
    mine = kpi(net, "repeat_repair_rate", user="mgr1", **MARCH)
    assert (mine["value"], mine["n"]) == (50.0, 2)             # the February visit is looked back at
    theirs = kpi(net, "repeat_repair_rate", user="mgr3", **MARCH)
    assert (theirs["value"], theirs["n"]) == (33.333333, 3)


def test_sales_vs_target(net):
    add(net, "sales_target", [
        {"dealer_code": "D01", "month": "2024-03-01", "target_units": 10, "_unit": "D01"},
        {"dealer_code": "D03", "month": "2024-03-01", "target_units": 20, "_unit": "D03"},
        {"dealer_code": "D01", "month": "2024-02-01", "target_units": 10, "_unit": "D01"},
    ])
    add(net, "sales_report", [
        {"dealer_code": "D01", "month": "2024-03-01", "model": "X7", "units_sold": 5, "_unit": "D01"},
        {"dealer_code": "D01", "month": "2024-03-01", "model": "X5", "units_sold": 3, "_unit": "D01"},
        {"dealer_code": "D03", "month": "2024-03-01", "units_sold": 25, "_unit": "D03"},
        {"dealer_code": "D01", "month": "2024-02-01", "units_sold": 5, "_unit": "D01"},
    ])
    march = kpi(net, "sales_vs_target", **MARCH)
    assert (march["value"], march["n"]) == (110.0, 2)           # 33 / 30
    assert groups(kpi(net, "sales_vs_target", by="dealer_code", **MARCH)) == {"D01": (80.0, 1), "D03": (125.0, 1)}
    ever = kpi(net, "sales_vs_target")
    assert (ever["value"], ever["n"]) == (95.0, 3)              # 38 / 40
    mine = kpi(net, "sales_vs_target", user="mgr1", **MARCH)
    assert (mine["value"], mine["n"]) == (80.0, 1)


def test_sales_vs_target_without_a_target_has_no_value(net):
    add(net, "sales_report", [{"dealer_code": "D02", "month": "2024-03-01", "units_sold": 4, "_unit": "D02"}])
    r = kpi(net, "sales_vs_target", **MARCH)
    assert (r["value"], r["n"]) == (None, 0)
