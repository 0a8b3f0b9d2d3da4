"""Audit 4 of the business plugins against DESIGN.md §7 and the automotive CRM practice of the
seed documents ("نسبت شکایات فروش به محصول فروخته شده", "نسبت شکایات کیفی به محصولات تولید
شده"): KPIs that were missing, computed on small hand-checked data sets, with the period, --by
groups and a dealer's scope. Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

import xrm_crm
from xrm_core import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, groups, kpi, net  # noqa: E402, F401

MARCH = {"date_from": "2024-03-01", "date_to": "2024-03-31"}
VIN = "NAAM11CA9PK0000{:02d}"


def _complaints(p):
    """Complaints of every category, in and around March 2024, at D01 and D03."""
    add(p, "case", [
        {"kind": "complaint", "subject": "late delivery", "category": "sales", "dealer_code": "D01",
         "opened_at": "2024-03-01T00:10:00+03:30", "_unit": "D01"},            # 29 Feb UTC, 1 March as written
        {"kind": "complaint", "subject": "wrong invoice", "category": "sales", "dealer_code": "D01",
         "opened_at": "2024-03-31T23:59:59Z", "_unit": "D01"},
        {"kind": "complaint", "subject": "pushy seller", "category": "sales", "dealer_code": "D03",
         "opened_at": "2024-03-15T10:00:00Z", "_unit": "D03"},
        {"kind": "complaint", "subject": "April", "category": "sales", "dealer_code": "D03",
         "opened_at": "2024-04-01T00:00:00Z", "_unit": "D03"},
        {"kind": "request", "subject": "price list", "category": "sales", "dealer_code": "D01",
         "opened_at": "2024-03-05T10:00:00Z", "_unit": "D01"},                 # a request, not a complaint
        {"kind": "complaint", "subject": "صدای موتور", "category": "product_quality", "dealer_code": "D01",
         "opened_at": "2024-03-05T10:00:00Z", "_unit": "D01"},
        {"kind": "complaint", "subject": "异响", "category": "product_quality", "dealer_code": "D03",
         "opened_at": "2024-03-06T10:00:00Z", "_unit": "D03"},
        {"kind": "complaint", "subject": "rust", "category": "product_quality", "dealer_code": "D03",
         "opened_at": "2024-03-07T10:00:00Z", "_unit": "D03"},
        {"kind": "complaint", "subject": "rattle", "category": "product_quality",
         "opened_at": "2024-02-28T10:00:00Z"},                                  # before March
        {"kind": "complaint", "subject": "service", "category": "after_sales", "dealer_code": "D01",
         "opened_at": "2024-03-08T10:00:00Z", "_unit": "D01"},                 # neither KPI
    ])


def _sales(p):
    """Sale contracts: D01 sells 4 in March (one more cancelled), D03 sells 2; other kinds do not count."""
    buyer = add(p, "customer", [{"name": "Reza"}])[0]
    rows = [("D01", "2024-03-01", "sale", "active"), ("D01", "2024-03-10", "sale", "completed"),
            ("D01", "2024-03-20", "sale", None), ("D01", "2024-03-31", "sale", "active"),
            ("D01", "2024-03-21", "sale", "cancelled"), ("D01", "2024-03-22", "extended_warranty", "active"),
            ("D03", "2024-03-02", "sale", "active"), ("D03", "2024-03-03", "sale", "active"),
            ("D03", "2024-04-01", "sale", "active"), ("D03", "2024-02-29", "sale", "active")]
    add(p, "contract", [
        {"contract_number": f"C{i}", "kind": kind, "customer_id": buyer, "signed_at": day, "dealer_code": dealer,
         **({"status": status} if status else {}), "_unit": dealer}
        for i, (dealer, day, kind, status) in enumerate(rows)])


def test_sales_complaints_per_100_sold_divides_sales_complaints_by_sale_contracts(net):
    _complaints(net)
    _sales(net)
    # March: sales complaints 2 (D01) + 1 (D03) = 3; sales 4 (D01) + 2 (D03) = 6
    march = kpi(net, "sales_complaints_per_100_sold", **MARCH)
    assert (march["value"], march["n"], march["unit"]) == (50.0, 6, "per 100 vehicles sold")
    assert groups(kpi(net, "sales_complaints_per_100_sold", by="dealer_code", **MARCH)) == {
        "D01": (50.0, 4), "D03": (50.0, 2)}
    # all time: 4 complaints / 8 sales
    assert kpi(net, "sales_complaints_per_100_sold")["value"] == 50.0
    # --to alone ends on the last day inclusive; --from alone starts on the first
    assert kpi(net, "sales_complaints_per_100_sold", date_to="2024-02-29")["n"] == 1
    april = kpi(net, "sales_complaints_per_100_sold", date_from="2024-04-01")
    assert (april["value"], april["n"]) == (100.0, 1)


def test_sales_complaints_per_100_sold_in_a_dealers_scope(net):
    _complaints(net)
    _sales(net)
    mine = kpi(net, "sales_complaints_per_100_sold", user="mgr1", **MARCH)
    assert (mine["value"], mine["n"]) == (50.0, 4)
    theirs = kpi(net, "sales_complaints_per_100_sold", user="mgr3", **MARCH)
    assert (theirs["value"], theirs["n"]) == (50.0, 2)
    # a dealer without sales: no value, not a division by zero
    nothing = kpi(net, "sales_complaints_per_100_sold", user="mgr2", **MARCH)
    assert (nothing["value"], nothing["n"], nothing["groups"]) == (None, 0, [])


def test_quality_complaints_per_100_produced_divides_quality_complaints_by_production(net):
    _complaints(net)
    produced = ["2024-03-01", "2024-03-02", "2024-03-15", "2024-03-31", "2024-03-31", "2024-03-20",
                "2024-02-29", "2024-04-01"]
    add(net, "vehicle", [{"vin": VIN.format(i), "model": "X7", "production_date": day,
                          **({"dealer_code": "D03"} if i < 2 else {})}
                         for i, day in enumerate(produced)])
    add(net, "vehicle", [{"vin": VIN.format(90), "model": "X7"}])  # production unknown: not counted
    # March: 3 quality complaints / 6 vehicles produced
    march = kpi(net, "quality_complaints_per_100_produced", **MARCH)
    assert (march["value"], march["n"], march["unit"]) == (50.0, 6, "per 100 vehicles produced")
    # all time: 4 / 8
    overall = kpi(net, "quality_complaints_per_100_produced")
    assert (overall["value"], overall["n"]) == (50.0, 8)
    # grouped by a field of both types; a group with complaints but no vehicles has no value
    assert groups(kpi(net, "quality_complaints_per_100_produced", by="dealer_code", **MARCH)) == {
        "D01": (None, 0), "D03": (100.0, 2), None: (0.0, 4)}


def test_quality_complaints_per_100_produced_for_a_dealer_is_its_complaints_over_the_production(net):
    _complaints(net)
    add(net, "vehicle", [{"vin": VIN.format(i), "model": "X7", "production_date": "2024-03-10"}
                         for i in range(4)])
    # vehicles are readable network-wide by a dealer's user; the complaints are its own
    mine = kpi(net, "quality_complaints_per_100_produced", user="mgr1", **MARCH)
    assert (mine["value"], mine["n"]) == (25.0, 4)
    assert kpi(net, "quality_complaints_per_100_produced", user="mgr3", **MARCH)["value"] == 50.0


def test_without_production_the_quality_ratio_is_empty(net):
    _complaints(net)
    r = kpi(net, "quality_complaints_per_100_produced", **MARCH)
    assert (r["value"], r["n"]) == (None, 0)


@pytest.mark.parametrize("name, field", [("sales_complaints_per_100_sold", "category"),
                                         ("quality_complaints_per_100_produced", "model")])
def test_a_group_field_one_side_lacks_is_refused(net, name, field):
    with pytest.raises(ValidationError, match=field):
        kpi(net, name, by=field)


def test_the_new_ratios_are_crm_kpis_with_translated_labels_and_formulas():
    names = {k.name: k for k in xrm_crm.xrm_kpis() if not isinstance(k, dict)}
    for name in ("sales_complaints_per_100_sold", "quality_complaints_per_100_produced"):
        d = names[name].to_dict()
        assert set(d["label"]) >= {"en", "fa", "zh"} and "100 ×" in d["description"]
        assert d["higher_is_better"] is False


def test_repeat_repair_rate_orders_visits_by_instant_not_by_the_written_offset(net):
    # The first visit was written in Tehran time on 1 March (22:30Z on 29 Feb), the comeback
    # half an hour later in UTC (23:00Z, written on 29 Feb). The comeback is February's.
    add(net, "service_visit", [
        {"vin": VIN.format(1), "received_at": "2024-03-01T02:00:00+03:30", "visit_type": "repair",
         "fault_code": "P0300"},
        {"vin": VIN.format(1), "received_at": "2024-02-29T23:00:00Z", "visit_type": "warranty_repair",
         "fault_code": "P0300"},
    ])
    march = kpi(net, "repeat_repair_rate", **MARCH)
    assert (march["value"], march["n"]) == (0.0, 1)
    february = kpi(net, "repeat_repair_rate", date_from="2024-02-01", date_to="2024-02-29")
    assert (february["value"], february["n"]) == (100.0, 1)
    assert kpi(net, "repeat_repair_rate")["value"] == 50.0


def test_a_detractors_follow_up_case_is_not_counted_as_a_lodged_complaint(net):
    # 2 receptions and 2 sales at D01, one complaint of each kind lodged by a customer
    add(net, "service_visit", [{"vin": VIN.format(i), "received_at": "2024-03-02T09:00:00Z",
                                "visit_type": "periodic_service", "dealer_code": "D01", "_unit": "D01"}
                               for i in range(2)])
    _sales_at_d01 = [{"contract_number": f"S{i}", "kind": "sale", "customer_id": "C-1", "signed_at": "2024-03-02",
                      "dealer_code": "D01", "_unit": "D01"} for i in range(2)]
    add(net, "contract", _sales_at_d01)
    add(net, "case", [{"kind": "complaint", "subject": s, "category": c, "dealer_code": "D01", "_unit": "D01",
                       "opened_at": "2024-03-05T10:00:00Z"} for s, c in (("oil leak", "after_sales"),
                                                                          ("late car", "sales"))])
    before = {k: kpi(net, k)["value"] for k in ("complaints_per_100_receptions", "sales_complaints_per_100_sold")}
    assert before == {"complaints_per_100_receptions": 50.0, "sales_complaints_per_100_sold": 50.0}
    # Detractors answer the after-sales and the purchase survey: the closed loop opens two
    # follow-up complaints (after_sales and sales) for D01 — a survey's coverage, not complaints.
    add(net, "survey_response", [{"question_kind": "nps", "score": 2, "touchpoint": t, "dealer_code": "D01",
                                  "answered_at": "2024-03-10T10:00:00Z"} for t in ("after_sales", "purchase")])
    with net.session() as s:
        follow_ups = [c for c in s.list("case") if c.data.get("survey_response_id")]
    assert sorted(c.data["category"] for c in follow_ups) == ["after_sales", "sales"]
    # a follow-up recorded by hand or imported (as the demo's history): channel survey, no link
    add(net, "case", [{"kind": "complaint", "subject": "NPS detractor follow-up", "category": "after_sales",
                       "channel": "survey", "dealer_code": "D01", "_unit": "D01",
                       "opened_at": "2024-03-11T10:00:00Z"}])
    assert {k: kpi(net, k)["value"] for k in before} == before
    assert kpi(net, "complaints_per_100_receptions", user="mgr1")["value"] == 50.0
    # a complaint by phone still counts
    add(net, "case", [{"kind": "complaint", "subject": "noisy brakes", "category": "warranty", "channel": "phone",
                       "dealer_code": "D01", "_unit": "D01", "opened_at": "2024-03-12T10:00:00Z"}])
    assert kpi(net, "complaints_per_100_receptions")["value"] == 100.0


def test_repeat_purchase_rate_overall_does_not_change_when_grouped(net):
    reza, mina = add(net, "customer", [{"name": "Reza"}, {"name": "مینا"}])
    add(net, "contract", [
        {"contract_number": f"C{i}", "kind": "sale", "customer_id": who, "signed_at": day,
         **({"dealer_code": dealer} if dealer else {})}
        for i, (who, day, dealer) in enumerate([(reza, "2024-03-02", "D01"), (reza, "2024-03-03", "D03"),
                                                (mina, "2024-03-03", "D03"), (mina, "2023-12-01", None)])])
    # Reza bought twice in March (at two dealers), Mina once in March after once in December:
    # both are repeat buyers of the network.
    plain = kpi(net, "repeat_purchase_rate", **MARCH)
    assert (plain["value"], plain["n"]) == (100.0, 2)
    by_dealer = kpi(net, "repeat_purchase_rate", by="dealer_code", **MARCH)
    assert (by_dealer["value"], by_dealer["n"]) == (100.0, 2)
    # within a dealer nobody bought twice (December's dealer-less purchase: no buyer in March)
    assert groups(by_dealer) == {"D01": (0.0, 1), "D03": (0.0, 2), None: (None, 0)}


# -- complaints routed to a team (DESIGN.md §1: "categorised and routed to a team") ---------
def _case(p, rid, user="admin"):
    with p.session(user, write=False) as s:
        return s.get(rid)


@pytest.mark.parametrize("subject, category, team", [
    ("گیربکس صدا می‌دهد", "product_quality", "quality"),
    ("保修被拒绝", "warranty", "warranty"),
    ("the invoice is wrong", "billing", "finance"),
    ("nothing matches here", "other", "customer_care"),
])
def test_a_new_complaint_goes_to_its_categorys_team(net, subject, category, team):
    [rid] = add(net, "case", [{"kind": "complaint", "subject": subject}])
    case = _case(net, rid)
    assert (case.data["category"], case.data["team"]) == (category, team)


def test_a_given_team_is_kept_and_other_kinds_get_none(net):
    given, compliment = add(net, "case", [{"kind": "request", "subject": "brake noise", "team": "hotline"},
                                          {"kind": "compliment", "subject": "great brake service"}])
    assert _case(net, given).data["team"] == "hotline"
    assert "team" not in _case(net, compliment).data


def test_recategorising_moves_the_case_to_the_new_team_unless_a_team_was_chosen(net):
    auto, chosen = add(net, "case", [{"kind": "complaint", "subject": "engine noise"},
                                     {"kind": "complaint", "subject": "engine noise", "team": "hotline"}])
    with net.session() as s:
        s.update(auto, {"category": "warranty"})
        s.update(chosen, {"category": "warranty"})
    assert _case(net, auto).data["team"] == "warranty"
    assert _case(net, chosen).data["team"] == "hotline"
    # both changed at once: the caller's team wins
    with net.session() as s:
        s.update(auto, {"category": "billing", "team": "escalations"})
    assert (_case(net, auto).data["category"], _case(net, auto).data["team"]) == ("billing", "escalations")
