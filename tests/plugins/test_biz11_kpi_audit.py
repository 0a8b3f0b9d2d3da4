"""An audit of the business KPIs (DESIGN §7) against small hand-computed data sets with their
edge cases: the period's boundary days (offsets written in the value), empty windows, zero
denominators, ``--by`` groups with absent values, a dealer's scope — computed through
``xrm kpi compute --json`` as well as the Python API. Runs on SQLite and, with
``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import PLUGINS, add, business_platform, groups, kpi, net  # noqa: E402, F401

from xrm_core.cli.main import build_cli  # noqa: E402

MARCH = {"date_from": "2024-03-01", "date_to": "2024-03-31"}
EMPTY = {"date_from": "2030-01-01", "date_to": "2030-01-31"}


def cli_kpi(p, name, *args):
    """``xrm kpi compute NAME ARGS --json`` on the platform's database: the parsed document."""
    result = CliRunner().invoke(build_cli(p.pm), ["--db", p.url, "kpi", "compute", name, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_churn_rate_on_the_boundary_days(net):
    add(net, "customer", [
        {"name": "a", "customer_since": "2023-01-01", "churned_at": "2024-03-01", "region": "north"},  # first day
        {"name": "b", "customer_since": "2023-01-01", "churned_at": "2024-03-31", "region": "north"},  # last day
        {"name": "c", "customer_since": "2023-01-01", "churned_at": "2024-04-01"},                     # after
        {"name": "d", "customer_since": "2023-01-01", "churned_at": "2024-02-29"},     # before: not in the base
        {"name": "e", "customer_since": "2024-03-01"},                                # acquired on day one: not
        {"name": "f"},                                                                 # since unknown: in the base
    ])
    r = cli_kpi(net, "churn_rate", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"]) == (50.0, 4)                                       # a, b of a, b, c, f
    by = groups(kpi(net, "churn_rate", by="region", **MARCH))
    assert by == {None: (0.0, 2), "north": (100.0, 2)}
    assert (kpi(net, "churn_rate", **EMPTY)["value"], kpi(net, "churn_rate", **EMPTY)["n"]) == (0.0, 2)  # c, f left


def test_churn_rate_without_customers_has_no_value(net):
    r = cli_kpi(net, "churn_rate", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"], r["groups"]) == (None, 0, [])


def test_customer_lifetime_value_boundaries_cancelled_and_groups(net):
    add(net, "contract", [
        {"contract_number": "K1", "kind": "sale", "customer_id": "c1", "signed_at": "2024-03-01",
         "amount": {"amount": 100, "currency": "IRR"}, "dealer_code": "D01"},
        {"contract_number": "K2", "kind": "service_plan", "customer_id": "c1", "signed_at": "2024-03-31",
         "amount": {"amount": 50, "currency": "IRR"}, "dealer_code": "D01"},
        {"contract_number": "K3", "kind": "sale", "customer_id": "c2", "signed_at": "2024-03-15",
         "amount": {"amount": 30, "currency": "IRR"}},                                   # no dealer
        {"contract_number": "K4", "kind": "sale", "customer_id": "c3", "signed_at": "2024-03-15",
         "amount": {"amount": 1000, "currency": "IRR"}, "status": "cancelled"},
        {"contract_number": "K5", "kind": "sale", "customer_id": "c4", "signed_at": "2024-04-01",
         "amount": {"amount": 1000, "currency": "IRR"}},                                 # after the period
    ])
    r = cli_kpi(net, "customer_lifetime_value", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"]) == (90.0, 2)                                            # 180 / c1, c2
    assert groups(kpi(net, "customer_lifetime_value", by="dealer_code", **MARCH)) == {
        None: (30.0, 1), "D01": (150.0, 1)}
    empty = kpi(net, "customer_lifetime_value", **EMPTY)
    assert (empty["value"], empty["n"]) == (None, 0)


def test_profile_completeness_counts_a_recorded_no_as_filled(net):
    add(net, "customer", [
        {"name": "full", "mobile": "09120000000", "email": "a@example.com", "national_id": "0012345678",
         "birth_date": "1990-01-01", "gender": "female", "address": {"city": "Tehran"},
         "preferred_channel": "sms", "consent_marketing": False, "customer_since": "2024-03-01"},
        {"name": "bare", "customer_since": "2024-03-31"},
        {"name": "later", "mobile": "09120000001", "customer_since": "2024-04-01"},
    ])
    r = cli_kpi(net, "profile_completeness", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"]) == (50.0, 2)


def test_sla_compliance_compares_instants_not_text(net):
    add(net, "defect_report", [
        # acknowledged 06:30Z, due 07:00Z: on time, though its text sorts after the due time's
        {"part_number": "P", "quantity": 1, "detected_at": "2024-03-01T08:00:00Z",
         "response_due_at": "2024-03-02T07:00:00Z", "acknowledged_at": "2024-03-02T10:00:00+03:30"},
        # acknowledged exactly at the due time: on time
        {"part_number": "P", "quantity": 1, "detected_at": "2024-03-31T23:00:00-05:00",
         "response_due_at": "2024-04-02T00:00:00Z", "acknowledged_at": "2024-04-02T00:00:00Z"},
        # past due, never acknowledged: late
        {"part_number": "P", "quantity": 1, "detected_at": "2024-03-10T08:00:00Z",
         "response_due_at": "2024-03-12T08:00:00Z"},
        # no due time: not counted; detected on 1 April (the day written): outside
        {"part_number": "P", "quantity": 1, "detected_at": "2024-03-10T08:00:00Z", "acknowledged_at": "2024-03-11T08:00:00Z"},
        {"part_number": "P", "quantity": 1, "detected_at": "2024-04-01T01:00:00+03:30",
         "response_due_at": "2024-04-02T00:00:00Z", "acknowledged_at": "2024-04-03T00:00:00Z"},
    ])
    r = cli_kpi(net, "sla_compliance", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"]) == (66.666667, 3)


def test_on_time_delivery_counts_overdue_and_leaves_out_the_future(net):
    def d(no, promised, delivered=None, **extra):
        row = {"delivery_number": no, "supplier_code": "S1", "part_number": "P", "quantity": 1,
               "promised_date": promised, **extra}
        return row | ({"delivered_date": delivered} if delivered else {})
    add(net, "delivery", [
        d("N1", "2024-03-01", "2024-03-01"), d("N2", "2024-03-31", "2024-04-02"),      # on time, late
        d("N3", "2024-03-15"),                                                        # overdue: late
        d("N4", "2024-03-15", "2024-03-10", status="cancelled"),                       # left out
        d("N5", "2024-04-01", "2024-03-20"),                                          # promised after
        d("N6", "2099-03-15"),                                                         # not due yet
    ])
    r = cli_kpi(net, "on_time_delivery", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"]) == (33.333333, 3)
    future = kpi(net, "on_time_delivery", date_from="2099-03-01", date_to="2099-03-31")
    assert (future["value"], future["n"]) == (None, 0)


def test_sales_vs_target_grouped_by_model(net):
    add(net, "sales_target", [
        {"dealer_code": "D01", "month": "2024-03-01", "model": "X5", "target_units": 10},
        {"dealer_code": "D01", "month": "2024-03-01", "model": "X7", "target_units": 5},
    ], unit="D01")
    add(net, "sales_report", [
        {"dealer_code": "D01", "month": "2024-03-01", "model": "X5", "units_sold": 12},
        {"dealer_code": "D01", "month": "2024-03-01", "model": "X9", "units_sold": 3},   # no target for X9
    ], unit="D01")
    r = cli_kpi(net, "sales_vs_target", "--from", "2024-03-01", "--to", "2024-03-31", "--by", "model")
    assert (r["value"], r["n"]) == (100.0, 2)                                          # 15 / 15
    assert {g["key"]: (g["value"], g["n"]) for g in r["groups"]} == {"X5": (120.0, 1), "X7": (0.0, 1),
                                                                     "X9": (None, 0)}
    mine = kpi(net, "sales_vs_target", user="mgr2", **MARCH)                           # D02 sees none
    assert (mine["value"], mine["n"]) == (None, 0)


def test_nps_ces_csat_take_the_day_written_in_the_value(net):
    def answer(kind, score, at, touchpoint="after_sales", **extra):
        return {"question_kind": kind, "score": score, "answered_at": at, "touchpoint": touchpoint, **extra}
    add(net, "survey_response", [
        answer("nps", 10, "2024-03-01T00:30:00+03:30"),          # 29 Feb UTC, 1 March as written: in
        answer("nps", 6, "2024-03-31T23:30:00-05:00"),           # 1 April UTC, 31 March as written: in
        answer("nps", 8, "2024-04-01T00:10:00+03:30", touchpoint="purchase"),   # out
        answer("csat", 5, "2024-03-10T10:00:00Z"), answer("csat", 2, "2024-03-10T10:00:00Z", touchpoint="purchase"),
        answer("ces", 7, "2024-03-10T10:00:00Z"), answer("ces", 4, "2024-03-10T10:00:00Z"),
    ])
    r = cli_kpi(net, "nps", "--from", "2024-03-01", "--to", "2024-03-31", "--by", "touchpoint")
    assert (r["value"], r["n"]) == (0.0, 2)
    assert {g["key"]: (g["value"], g["n"]) for g in r["groups"]} == {"after_sales": (0.0, 2)}
    assert groups(kpi(net, "csat", by="touchpoint", **MARCH)) == {"after_sales": (100.0, 1), "purchase": (25.0, 1)}
    ces = cli_kpi(net, "ces", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (ces["value"], ces["n"]) == (5.5, 2)
    assert (kpi(net, "nps", **EMPTY)["value"], kpi(net, "nps", **EMPTY)["n"]) == (None, 0)


def test_complaint_handling_time_honours_offsets_and_ignores_open_ones(net):
    add(net, "case", [
        {"kind": "complaint", "subject": "s", "status": "closed", "resolution": "r", "category": "other",
         "opened_at": "2024-03-01T09:00:00+03:30", "closed_at": "2024-03-01T09:00:00Z"},     # 3.5 h
        {"kind": "complaint", "subject": "s", "status": "closed", "resolution": "r", "category": "other",
         "opened_at": "2024-03-30T10:00:00Z", "closed_at": "2024-03-31T16:30:00Z"},          # 30.5 h
        {"kind": "request", "subject": "s", "status": "closed", "resolution": "r", "category": "other",
         "opened_at": "2024-03-01T09:00:00Z", "closed_at": "2024-03-05T09:00:00Z"},          # not a complaint
        {"kind": "complaint", "subject": "s", "category": "other", "opened_at": "2024-03-01T09:00:00Z"},  # open
    ])
    r = cli_kpi(net, "complaint_handling_time", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"]) == (17.0, 2)


def test_complaints_per_100_receptions_by_dealer_with_absent_keys_and_no_receptions(net):
    def complaint(day, dealer=None, **extra):
        c = {"kind": "complaint", "subject": "s", "category": "after_sales", "opened_at": f"2024-03-{day}T10:00:00Z",
             **extra}
        return c | ({"dealer_code": dealer} if dealer else {})
    add(net, "case", [complaint("01", "D01"), complaint("31", "D02"), complaint("15"),
                      complaint("15", "D01", channel="survey"),                  # a detractor's follow-up
                      {"kind": "complaint", "subject": "s", "category": "after_sales",
                       "opened_at": "2024-04-01T00:10:00+03:30", "dealer_code": "D01"}])   # 1 April as written
    add(net, "service_visit", [
        {"vin": "1HGCM82633A004352", "received_at": f"2024-03-{d:02d}T09:00:00Z", "visit_type": "periodic_service",
         "dealer_code": "D01"} for d in range(1, 5)] + [
        {"vin": "1HGCM82633A004352", "received_at": "2024-03-05T09:00:00Z", "visit_type": "repair",
         "dealer_code": "D01", "status": "cancelled"}])
    r = cli_kpi(net, "complaints_per_100_receptions", "--from", "2024-03-01", "--to", "2024-03-31",
                "--by", "dealer_code")
    assert (r["value"], r["n"]) == (75.0, 4)                                       # 3 complaints / 4 receptions
    assert {g["key"]: (g["value"], g["n"]) for g in r["groups"]} == {
        None: (None, 0), "D01": (25.0, 4), "D02": (None, 0)}                      # no receptions: no value
    empty = kpi(net, "complaints_per_100_receptions", **EMPTY)
    assert (empty["value"], empty["n"], empty["groups"]) == (None, 0, [])


def test_win_rate_and_lead_conversion_with_empty_windows(net):
    add(net, "opportunity", [
        {"title": "a", "stage": "won", "closed_at": "2024-03-01"},
        {"title": "b", "stage": "lost", "closed_at": "2024-03-31"},
        {"title": "c", "stage": "negotiation"},
        {"title": "d", "stage": "won", "closed_at": "2024-04-01"},
    ])
    r = cli_kpi(net, "win_rate", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"]) == (50.0, 2)
    assert (kpi(net, "win_rate", **EMPTY)["value"], kpi(net, "win_rate", **EMPTY)["n"]) == (None, 0)
    add(net, "lead", [{"name": "x", "received_at": "2024-03-10T10:00:00Z", "status": "sold"},
                      {"name": "y", "received_at": "2024-03-10T10:00:00Z", "status": "lost"},
                      {"name": "z", "received_at": "2024-03-10T10:00:00Z", "status": "converted"},
                      {"name": "w", "received_at": "2024-03-10T10:00:00Z"}])
    leads = cli_kpi(net, "lead_conversion_rate", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (leads["value"], leads["n"]) == (50.0, 4)


def test_repeat_repair_rate_on_the_thirty_day_boundary(net):
    def visit(vin, at, fault="F1", **extra):
        return {"vin": vin, "received_at": at, "visit_type": "repair", "fault_code": fault, "dealer_code": "D01",
                **extra}
    a, b, c = "1HGCM82633A004352", "2HGCM82633A004352", "3HGCM82633A004352"
    add(net, "service_visit", [
        visit(a, "2024-02-10T10:00:00Z"), visit(a, "2024-03-11T10:00:00Z"),             # exactly 30 days: repeat
        visit(b, "2024-02-10T10:00:00Z"), visit(b, "2024-03-11T10:00:01Z"),             # a second more: not
        visit(c, "2024-03-01T10:00:00Z", status="cancelled"), visit(c, "2024-03-05T10:00:00Z"),  # cancelled: no
        visit(c, "2024-03-06T10:00:00Z", fault="F2"),                                    # another fault: no
        visit(c, "2024-04-01T10:00:00Z"),                                                # after the period
    ])
    r = cli_kpi(net, "repeat_repair_rate", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"]) == (25.0, 4)


def test_csm_weights_per_customer_and_leaves_out_anonymous_items(net):
    def item(score, importance, at="2024-03-10T10:00:00Z", **extra):
        return {"question_kind": "csm", "score": score, "importance": importance, "answered_at": at,
                "touchpoint": "after_sales", **extra}
    add(net, "survey_response", [
        item(5, 3, customer_id="c1"), item(1, 1, customer_id="c1"),     # (15 + 1) / 4 = 4 -> 75
        item(3, 2, submission_id="s9"),                                  # 3 -> 50
        item(5, 5),                                                      # nobody: left out
        item(1, 5, customer_id="c1", at="2024-04-01T00:30:00+03:30"),   # after the period (as written)
    ])
    r = cli_kpi(net, "csm", "--from", "2024-03-01", "--to", "2024-03-31", "--by", "touchpoint")
    assert (r["value"], r["n"]) == (62.5, 2)
    assert {g["key"]: (g["value"], g["n"]) for g in r["groups"]} == {"after_sales": (62.5, 2)}
    assert (kpi(net, "csm", **EMPTY)["value"], kpi(net, "csm", **EMPTY)["n"]) == (None, 0)


def test_a_regional_manager_sees_the_dealers_of_the_region(net):
    rows = [("D01", "sold"), ("D01", "lost"), ("D02", "sold"), ("D03", "sold")]
    add(net, "lead", [{"name": f"{d} {s}", "dealer_code": d, "status": s, "assigned_at": "2024-03-10T10:00:00Z",
                       "_unit": d} for d, s in rows])
    north = kpi(net, "dealer_lead_conversion_rate", user="north_rm", by="dealer_code", **MARCH)
    assert (north["value"], north["n"]) == (66.666667, 3)                      # D01 and D02, not D03
    assert groups(north) == {"D01": (50.0, 2), "D02": (100.0, 1)}


def test_sales_forecast_weights_open_opportunities_by_stage(net):
    add(net, "opportunity", [
        {"title": "w1", "stage": "won", "closed_at": "2024-01-10"},
        {"title": "l1", "stage": "lost", "lost_stage": "prospecting", "closed_at": "2024-01-10"},
        {"title": "l2", "stage": "lost", "lost_stage": "negotiation", "closed_at": "2024-01-10"},
        {"title": "l3", "stage": "lost", "closed_at": "2024-01-10"},                    # stage unknown: left out
        {"title": "o1", "stage": "prospecting", "expected_close": "2024-03-01",
         "amount": {"amount": 300, "currency": "IRR"}},                                  # × 1/3
        {"title": "o2", "stage": "negotiation", "expected_close": "2024-03-31",
         "amount": {"amount": 100, "currency": "IRR"}},                                  # × 1/2
        {"title": "o3", "stage": "quotation", "expected_close": "2024-03-15"},           # no amount
        {"title": "o4", "stage": "negotiation", "expected_close": "2024-04-01",
         "amount": {"amount": 1000, "currency": "IRR"}},                                 # after the period
    ])
    r = cli_kpi(net, "sales_forecast", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"]) == (150.0, 2)


def test_defect_ppm_without_deliveries_and_with_a_report_of_unknown_supplier(net):
    add(net, "defect_report", [
        {"part_number": "P", "quantity": 2, "detected_at": "2024-03-31T23:30:00-05:00"},              # no supplier
        {"part_number": "P", "supplier_code": "S1", "quantity": 1, "detected_at": "2024-03-01T00:10:00+03:30"},
    ])
    none = cli_kpi(net, "defect_ppm", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (none["value"], none["n"]) == (None, 0)                                  # nothing delivered
    add(net, "delivery", [{"delivery_number": "N1", "supplier_code": "S1", "part_number": "P", "quantity": 1000,
                           "promised_date": "2024-03-01", "delivered_date": "2024-03-31"}])
    r = cli_kpi(net, "defect_ppm", "--from", "2024-03-01", "--to", "2024-03-31", "--by", "supplier_code")
    assert (r["value"], r["n"]) == (3000.0, 1)
    assert {g["key"]: (g["value"], g["n"]) for g in r["groups"]} == {None: (None, 0), "S1": (1000.0, 1)}


def test_recovered_dissatisfied_rate_counts_only_complaints_asked(net):
    def closed(sat=None, kind="complaint", day="10"):
        c = {"kind": kind, "subject": "s", "category": "other", "status": "closed", "resolution": "r",
             "opened_at": "2024-03-01T09:00:00Z", "closed_at": f"2024-03-{day}T09:00:00Z"}
        return c | ({"resolution_satisfaction": sat} if sat else {})
    add(net, "case", [closed(4), closed(5), closed(3), closed(), closed(5, kind="request"), closed(1, day="31")])
    r = cli_kpi(net, "recovered_dissatisfied_rate", "--from", "2024-03-01", "--to", "2024-03-31")
    assert (r["value"], r["n"]) == (50.0, 4)
