"""The vrm_suppliers plugin's KPIs against hand-computed values, per supplier and part, and
within the roles' scopes. Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from xrm_core import PermissionDenied

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, groups, kpi, net  # noqa: E402, F401

MARCH = {"date_from": "2024-03-01", "date_to": "2024-03-31"}


def _delivery(number, supplier, part, qty, promised, delivered=None, **extra):
    d = {"delivery_number": number, "supplier_code": supplier, "part_number": part, "quantity": qty,
         "promised_date": promised, **extra}
    return d | ({"delivered_date": delivered} if delivered else {})


def test_defect_ppm_is_defective_units_per_million_delivered(net):
    add(net, "delivery", [
        _delivery("N1", "S1", "P-100", 10000, "2024-03-01", "2024-03-01", status="delivered"),
        _delivery("N2", "S1", "P-200", 5000, "2024-03-02", "2024-03-02"),
        _delivery("N3", "S2", "P-100", 20000, "2024-03-03", "2024-03-04"),
        _delivery("N4", "S2", "P-100", 1000, "2024-03-03", "2024-03-04", status="cancelled"),
        _delivery("N5", "S2", "P-100", 5000, "2024-03-20"),                  # not delivered yet
    ])
    add(net, "defect_report", [
        {"part_number": "P-100", "supplier_code": "S1", "quantity": 3, "detected_at": "2024-03-05T10:00:00Z"},
        {"part_number": "P-200", "supplier_code": "S1", "quantity": 2, "detected_at": "2024-03-06T10:00:00Z"},
        {"part_number": "P-100", "supplier_code": "S2", "quantity": 1, "detected_at": "2024-03-07T10:00:00Z"},
        {"part_number": "P-100", "supplier_code": "S1", "quantity": 10, "detected_at": "2024-02-07T10:00:00Z"},
    ])
    march = kpi(net, "defect_ppm", **MARCH)
    assert (march["value"], march["n"], march["unit"]) == (171.428571, 3, "ppm")    # 6 / 35,000
    assert groups(kpi(net, "defect_ppm", by="supplier_code", **MARCH)) == {
        "S1": (333.333333, 2), "S2": (50.0, 1)}
    assert groups(kpi(net, "defect_ppm", by="part_number", **MARCH)) == {
        "P-100": (133.333333, 2), "P-200": (400.0, 1)}


def test_complaint_forwarding_time(net):
    add(net, "defect_report", [
        {"part_number": "P-100", "quantity": 1, "detected_at": "2024-03-01T08:00:00Z",
         "forwarded_at": "2024-03-01T12:00:00Z"},                              # 4 h
        {"part_number": "P-100", "quantity": 1, "detected_at": "2024-03-02T08:00:00Z",
         "forwarded_at": "2024-03-03T07:30:00+03:30"},                        # 04:00Z next day: 20 h
        {"part_number": "P-100", "quantity": 1, "detected_at": "2024-03-02T08:00:00Z"},
    ])
    r = kpi(net, "complaint_forwarding_time", **MARCH)
    assert (r["value"], r["n"]) == (12.0, 2)


def _report(due=None, ack=None, day="03-01", **extra):
    r = {"part_number": "P-100", "supplier_code": "S1", "quantity": 1, "detected_at": f"2024-{day}T08:00:00Z", **extra}
    return r | ({"response_due_at": due} if due else {}) | ({"acknowledged_at": ack} if ack else {})


def test_sla_compliance_counts_acknowledgements_within_the_response_time(net):
    add(net, "defect_report", [
        _report("2024-03-05T12:00:00Z", "2024-03-05T10:00:00Z"),             # in time
        _report("2024-03-06T12:00:00Z", "2024-03-07T12:00:00Z"),             # late
        _report("2024-03-08T12:00:00Z"),                                     # past due, never answered
        _report("2999-01-01T00:00:00Z"),                                     # still within its time: not counted
        _report(),                                                           # no SLA: not counted
        _report("2024-03-09T12:00:00+03:30", "2024-03-09T10:00:00+03:30"),   # in time
        _report("2024-03-10T10:00:00Z", "2024-03-10T12:00:00+03:00"),        # 09:00Z: in time, though it sorts after
        _report("2024-02-10T10:00:00Z", day="02-01"),                        # detected before the period
    ])
    r = kpi(net, "sla_compliance", **MARCH)
    assert (r["value"], r["n"]) == (60.0, 5)
    assert kpi(net, "sla_compliance")["n"] == 6


def test_on_time_delivery(net):
    add(net, "delivery", [
        _delivery("D1", "S1", "P-100", 10, "2024-03-05", "2024-03-04"),
        _delivery("D2", "S1", "P-100", 10, "2024-03-06", "2024-03-06"),
        _delivery("D3", "S2", "P-100", 10, "2024-03-07", "2024-03-09"),
        _delivery("D4", "S2", "P-100", 10, "2024-03-08"),                      # overdue
        _delivery("D5", "S2", "P-100", 10, "2024-03-09", status="cancelled"),
        _delivery("D6", "S1", "P-100", 10, "2024-02-09", "2024-02-09"),
        _delivery("D7", "S1", "P-100", 10, "2999-01-01"),                      # not due yet
    ])
    march = kpi(net, "on_time_delivery", **MARCH)
    assert (march["value"], march["n"]) == (50.0, 4)
    assert groups(kpi(net, "on_time_delivery", by="supplier_code", **MARCH)) == {"S1": (100.0, 2), "S2": (0.0, 2)}
    ever = kpi(net, "on_time_delivery")
    assert (ever["value"], ever["n"]) == (60.0, 5)


def test_supplier_kpis_by_role_scope(net):
    """Supplier records live at HQ: the quality engineer and the analyst see them, a dealer
    manager does not (the KPI is empty), and the VOC analyst, who holds no grant on
    deliveries at all, is refused as a list of them would be."""
    add(net, "delivery", [_delivery("D1", "S1", "P-100", 10, "2024-03-05", "2024-03-04")], unit="hq")
    for user in ("sqe", "analyst", "admin"):
        r = kpi(net, "on_time_delivery", user=user)
        assert (r["value"], r["n"]) == (100.0, 1), user
    r = kpi(net, "on_time_delivery", user="mgr1")
    assert (r["value"], r["n"]) == (None, 0)
    with pytest.raises(PermissionDenied, match="'vocan' may not read delivery records"):
        kpi(net, "on_time_delivery", user="vocan")
