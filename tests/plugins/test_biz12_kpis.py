"""The biz12 audit of every KPI DESIGN §7 names, each on a small data set of its own (not the
demo), its expected figure worked out by hand in the comments and written as a literal, and
computed through ``xrm kpi compute NAME --json`` (``--from``/``--to`` inclusive, ``--by``,
``--as``), ``xrm voc kano|csm --json`` and ``xrm crm funnel --json``. Edge cases: empty
periods, one answer, the boundary days (a value's written day decides, whatever its offset),
zero denominators, records outside the user's scope. Runs on SQLite and, with
``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import json
import sys
from pathlib import Path

from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, net  # noqa: E402, F401

from xrm_core.cli.main import build_cli  # noqa: E402

MARCH = ("--from", "2024-03-01", "--to", "2024-03-31")
EMPTY = ("--from", "2030-01-01", "--to", "2030-01-31")


def xrm(p, *args):
    """``xrm ARGS --json`` on the platform's database: the parsed document."""
    result = CliRunner().invoke(build_cli(p.pm), ["--db", p.url, *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def kpi(p, name, *args):
    return xrm(p, "kpi", "compute", name, *args)


def vn(result):
    return result["value"], result["n"]


def by_key(result):
    return {g["key"]: (g["value"], g["n"]) for g in result["groups"]}


# -- VOC: NPS, CSAT/CSI, CES per touchpoint; ten-step CSM; Kano; closed loop --------------
def _answer(kind, score, at, unit, touchpoint="after_sales", **extra):
    return {"question_kind": kind, "score": score, "answered_at": at, "touchpoint": touchpoint,
            "dealer_code": unit, "_unit": unit, **extra}


def test_nps_csat_ces_by_touchpoint_scope_and_boundaries(net):
    add(net, "survey_response", [
        _answer("nps", 10, "2024-03-01T00:00:00+03:30", "D01"),
        _answer("nps", 9, "2024-03-05T10:00:00Z", "D01"),
        _answer("nps", 8, "2024-03-06T10:00:00Z", "D01"),
        _answer("nps", 6, "2024-03-07T10:00:00Z", "D01"),          # 6 is a detractor
        _answer("nps", 0, "2024-03-08T10:00:00Z", "D01"),
        _answer("nps", 10, "2024-03-31T23:59:00-08:00", "D01"),    # written 31 March: in (UTC: 1 April)
        _answer("nps", 0, "2024-04-01T00:30:00+03:30", "D01"),     # written 1 April: out (UTC: 31 March)
        _answer("nps", 0, "2024-02-29T23:59:59Z", "D01"),
        _answer("nps", 7, "2024-03-10T10:00:00Z", "D02", "purchase"),   # 7 is passive
        _answer("nps", 10, "2024-03-11T10:00:00Z", "D02", "purchase"),
        _answer("csat", 5, "2024-03-12T10:00:00Z", "D01"),
        _answer("csat", 4, "2024-03-12T10:00:00Z", "D01"),
        _answer("csat", 1, "2024-03-12T10:00:00Z", "D01"),
        _answer("csat", 3, "2024-03-12T10:00:00Z", "D02", "purchase"),
        _answer("ces", 7, "2024-03-12T10:00:00Z", "D01"),
        _answer("ces", 6, "2024-03-13T10:00:00Z", "D01"),
        _answer("ces", 2, "2024-03-14T10:00:00Z", "D02"),
        _answer("ces", 1, "2024-04-01T10:00:00Z", "D02"),
    ])
    # NPS, March: 10 9 8 6 0 10 | 7 10 → n 8; promoters (9–10) 10 9 10 10 = 4; detractors (0–6) 6 0 = 2
    # 100 × 4/8 − 100 × 2/8 = 50 − 25 = 25
    assert vn(kpi(net, "nps", *MARCH)) == (25.0, 8)
    r = kpi(net, "nps", *MARCH, "--by", "touchpoint")
    assert by_key(r) == {"after_sales": (16.666667, 6),   # (3 − 2) / 6 × 100
                         "purchase": (50.0, 2)}           # (1 − 0) / 2 × 100
    assert vn(kpi(net, "nps", *MARCH, "--as", "mgr1")) == (16.666667, 6)    # D01's own
    assert vn(kpi(net, "nps", "--from", "2024-02-29", "--to", "2024-02-29")) == (-100.0, 1)   # one detractor
    assert vn(kpi(net, "nps", "--from", "2024-04-01", "--to", "2024-04-01")) == (-100.0, 1)
    assert vn(kpi(net, "nps", *EMPTY)) == (None, 0)
    # CSAT 0–100: (s − 1) / 4 × 100 → 5: 100, 4: 75, 1: 0, 3: 50; mean 225 / 4
    assert vn(kpi(net, "csat", *MARCH)) == (56.25, 4)
    assert by_key(kpi(net, "csat", *MARCH, "--by", "touchpoint")) == {"after_sales": (58.333333, 3),  # 175/3
                                                                      "purchase": (50.0, 1)}
    assert vn(kpi(net, "csat", *MARCH, "--as", "mgr2")) == (50.0, 1)
    # CES: mean of 7, 6, 2 (the 1 is answered in April)
    assert vn(kpi(net, "ces", *MARCH)) == (5.0, 3)
    assert vn(kpi(net, "ces", *MARCH, "--as", "mgr1")) == (6.5, 2)
    assert vn(kpi(net, "ces", *EMPTY)) == (None, 0)


def test_csm_ten_steps_per_customer_normalised_overall(net):
    def item(sub, code, w, s, unit, at="2024-03-15T10:00:00Z"):
        return {"question_kind": "csm", "touchpoint": "after_sales", "submission_id": sub, "question_code": code,
                "importance": w, "score": s, "answered_at": at, "_unit": unit}
    add(net, "survey_response", [
        item("S1", "Q1", 5, 4, "D01"), item("S1", "Q2", 3, 2, "D01"), item("S1", "Q3", 2, 5, "D01"),
        item("S2", "Q1", 1, 1, "D01"), item("S2", "Q2", 1, 5, "D01"),
        item("S3", "Q1", 4, 5, "D02"),
        item("S4", "Q1", 5, 1, "D02", at="2024-04-01T01:00:00+05:00"),       # written 1 April: out
    ])
    # step 8, Σw·s / Σw: S1 (20 + 6 + 10) / 10 = 3.6; S2 (1 + 5) / 2 = 3; S3 20 / 4 = 5
    # step 9, (c − 1) / 4 × 100: S1 65, S2 50, S3 100; step 10: (65 + 50 + 100) / 3 = 71.666667
    assert vn(kpi(net, "csm", *MARCH)) == (71.666667, 3)
    assert vn(kpi(net, "csm", *MARCH, "--as", "mgr1")) == (57.5, 2)          # (65 + 50) / 2
    assert vn(kpi(net, "csm", "--from", "2024-04-01", "--to", "2024-04-01")) == (0.0, 1)   # one answer: s = 1
    assert vn(kpi(net, "csm", *EMPTY)) == (None, 0)
    r = xrm(net, "voc", "csm", *MARCH)
    assert (r["csm"], r["n"], r["answers"]) == (71.666667, 3, 6)
    # steps 6–7 per item: mean importance Q1 (5+1+4)/3 = 3.333333, Q2 (3+1)/2 = 2, Q3 2/1 = 2; sum 7.333333
    # weight = mean / sum: Q1 0.454545, Q2 0.272727, Q3 0.272727; performance Q1 (4+1+5)/3, Q2 3.5, Q3 5
    assert [(i["question_code"], i["weight"], i["performance"]) for i in r["items"]] == [
        ("Q1", 0.454545, 3.333333), ("Q2", 0.272727, 3.5), ("Q3", 0.272727, 5.0)]


def test_kano_berger_table_coefficients_ties_and_no_classifiable_answer(net):
    def ans(req, f, d, unit="D01", at="2024-03-10T10:00:00Z"):
        return {"requirement_code": req, "functional": f, "dysfunctional": d, "answered_at": at, "_unit": unit}
    rows = ([ans("R1", "like", "neutral")] * 2 + [ans("R1", "like", "live_with")]      # A ×3
            + [ans("R1", "like", "dislike")] * 2                                        # O ×2
            + [ans("R1", "neutral", "dislike"), ans("R1", "live_with", "dislike")]      # M ×2
            + [ans("R1", "must_be", "must_be")]                                         # I
            + [ans("R1", "dislike", "like"), ans("R1", "like", "like")]                 # R, Q
            + [ans("R1", "like", "neutral", at="2024-04-01T00:00:00+05:00")]            # out of March
            + [ans("R2", "must_be", "dislike")] * 2 + [ans("R2", "like", "dislike")] * 2  # M ×2, O ×2: a tie
            + [ans("R3", "dislike", "neutral"), ans("R3", "dislike", "dislike")]        # R, Q only
            + [ans("R4", "like", "must_be", unit="D02")])                                # A, D02's
    add(net, "kano_answer", rows)
    r = xrm(net, "voc", "kano", *MARCH)
    got = {q["requirement_code"]: q for q in r["requirements"]}
    # R1: A 3, O 2, M 2, I 1, R 1, Q 1; CS = (3 + 2) / 8 = 0.625; DS = −(2 + 2) / 8 = −0.5
    assert got["R1"]["counts"] == {"A": 3, "O": 2, "M": 2, "I": 1, "R": 1, "Q": 1}
    assert (got["R1"]["n"], got["R1"]["category"], got["R1"]["cs"], got["R1"]["ds"]) == (10, "A", 0.625, -0.5)
    # R2: M 2 = O 2 → M (M > O > A > I); CS = 2 / 4 = 0.5; DS = −(2 + 2) / 4 = −1
    assert (got["R2"]["category"], got["R2"]["cs"], got["R2"]["ds"]) == ("M", 0.5, -1.0)
    # R3: A + O + M + I = 0 → no coefficients; R 1 = Q 1 → R
    assert (got["R3"]["category"], got["R3"]["cs"], got["R3"]["ds"]) == ("R", None, None)
    assert r["n"] == 10 + 4 + 2 + 1
    mine = xrm(net, "voc", "kano", *MARCH, "--as", "mgr1")
    assert "R4" not in {q["requirement_code"] for q in mine["requirements"]} and mine["n"] == 16
    assert xrm(net, "voc", "kano", *EMPTY)["requirements"] == []


def test_a_detractor_opens_a_follow_up_case_for_the_owning_dealer(net):
    # answered at HQ (a survey platform's import) about dealer D02
    detractor, passive = add(net, "survey_response", [
        _answer("nps", 6, "2024-03-10T10:00:00Z", "D02") | {"_unit": "hq"},
        _answer("nps", 7, "2024-03-10T10:00:00Z", "D02") | {"_unit": "hq"}])
    with net.session("mgr2", write=False) as s:
        cases = s.list("case", {"survey_response_id": detractor})
        assert len(cases) == 1 and cases[0].unit == "D02" and cases[0].data["dealer_code"] == "D02"
        assert s.count("case", {"survey_response_id": passive}) == 0
    with net.session("mgr1", write=False) as s:
        assert s.count("case", {"survey_response_id": detractor}) == 0
    # The follow-up is not a lodged complaint: the service complaint ratio leaves it out.
    add(net, "service_visit", [{"vin": "WVWZZZ1JZ3W386752", "received_at": "2024-03-10T09:00:00Z",
                                "visit_type": "repair", "dealer_code": "D02"}], unit="D02")
    assert vn(kpi(net, "complaints_per_100_receptions", *MARCH)) == (0.0, 1)


# -- customers ------------------------------------------------------------------------------
def _case(kind, unit, **data):
    return {"kind": kind, "subject": "s", "dealer_code": unit, "_unit": unit, **data}


def test_complaint_handling_time_and_recovered_dissatisfied(net):
    closed = {"status": "closed", "resolution": "done"}
    add(net, "case", [
        _case("complaint", "D01", opened_at="2024-03-01T08:00:00+03:30", closed_at="2024-03-02T08:00:00+03:30",
              resolution_satisfaction=5, **closed),                                          # 24 h
        _case("complaint", "D02", opened_at="2024-03-10T10:00:00Z", closed_at="2024-03-10T12:00:00+01:00",
              resolution_satisfaction=4, **closed),                                          # 1 h (11:00Z)
        _case("complaint", "D01", opened_at="2024-03-31T20:00:00-05:00", closed_at="2024-03-31T23:00:00-05:00",
              resolution_satisfaction=3, **closed),                                          # 3 h, written 31st
        _case("complaint", "D01", opened_at="2024-03-31T20:00:00Z", closed_at="2024-04-01T01:00:00+04:00",
              resolution_satisfaction=1, **closed),                                          # written 1 April
        _case("complaint", "D01", opened_at="2024-03-05T10:00:00Z", closed_at="2024-03-06T10:00:00Z",
              **closed),                                                                     # 24 h, not asked
        _case("request", "D01", opened_at="2024-03-05T10:00:00Z", closed_at="2024-03-05T15:00:00Z",
              resolution_satisfaction=1, **closed),                                          # not a complaint
        _case("complaint", "D01", opened_at="2024-03-05T10:00:00Z"),                         # still open
    ])
    # (24 + 1 + 3 + 24) / 4 = 13
    assert vn(kpi(net, "complaint_handling_time", *MARCH)) == (13.0, 4)
    assert vn(kpi(net, "complaint_handling_time", *MARCH, "--as", "mgr1")) == (17.0, 3)    # (24 + 3 + 24) / 3
    assert vn(kpi(net, "complaint_handling_time", "--from", "2024-04-01", "--to", "2024-04-01")) == (1.0, 1)
    assert vn(kpi(net, "complaint_handling_time", *EMPTY)) == (None, 0)
    # asked in March: 5, 4, 3 → satisfied (≥ 4): 2 of 3
    assert vn(kpi(net, "recovered_dissatisfied_rate", *MARCH)) == (66.666667, 3)
    assert vn(kpi(net, "recovered_dissatisfied_rate", *MARCH, "--as", "mgr2")) == (100.0, 1)
    assert vn(kpi(net, "recovered_dissatisfied_rate", "--from", "2024-04-01", "--to", "2024-04-30")) == (0.0, 1)


def test_service_sales_and_quality_complaint_ratios(net):
    add(net, "case", [
        _case("complaint", "D01", category="after_sales", opened_at="2024-03-05T10:00:00Z"),
        _case("complaint", "D01", category="warranty", opened_at="2024-03-31T23:59:00-03:00"),     # the 31st
        _case("complaint", "D01", category="after_sales", opened_at="2024-03-06T10:00:00Z", channel="survey"),
        _case("request", "D01", category="after_sales", opened_at="2024-03-06T10:00:00Z"),
        _case("complaint", "D02", category="spare_parts", opened_at="2024-03-15T10:00:00Z"),
        _case("complaint", "D02", category="spare_parts", opened_at="2024-04-01T00:10:00+03:30"),  # April
        _case("complaint", "D01", category="sales", opened_at="2024-03-02T10:00:00Z"),
        _case("complaint", "D01", category="sales", opened_at="2024-03-02T10:00:00Z", channel="survey"),
        _case("complaint", "D01", category="product_quality", opened_at="2024-03-03T10:00:00Z"),
        _case("complaint", "D02", category="product_quality", opened_at="2024-03-04T10:00:00Z"),
    ])
    vin = "WVWZZZ1JZ3W3867{:02d}"
    add(net, "service_visit", [
        {"vin": vin.format(i), "received_at": f"2024-03-{10 + i}T09:00:00Z", "visit_type": "repair",
         "dealer_code": "D01", "_unit": "D01", **({"status": "cancelled"} if i == 3 else {})} for i in range(4)]
        + [{"vin": vin.format(10 + i), "received_at": "2024-03-20T09:00:00Z", "visit_type": "periodic_service",
            "dealer_code": "D02", "_unit": "D02"} for i in range(2)]
        + [{"vin": vin.format(20), "received_at": "2024-04-01T09:00:00Z", "visit_type": "repair",
            "dealer_code": "D02", "_unit": "D02"}])
    # service complaints: D01 after_sales + warranty = 2 (survey one and request left out), D02 1
    # receptions: D01 3 (one cancelled), D02 2 → 100 × 3 / 5 = 60
    assert vn(kpi(net, "complaints_per_100_receptions", *MARCH)) == (60.0, 5)
    assert by_key(kpi(net, "complaints_per_100_receptions", *MARCH, "--by", "dealer_code")) == {
        "D01": (66.666667, 3), "D02": (50.0, 2)}
    assert vn(kpi(net, "complaints_per_100_receptions", *MARCH, "--as", "mgr1")) == (66.666667, 3)
    assert vn(kpi(net, "complaints_per_100_receptions", "--from", "2024-04-01", "--to", "2024-04-01")) == (100.0, 1)
    assert vn(kpi(net, "complaints_per_100_receptions", *EMPTY)) == (None, 0)
    add(net, "contract", [
        {"contract_number": f"K{i}", "kind": "sale", "customer_id": f"c{i}", "signed_at": "2024-03-10",
         "dealer_code": "D01", "_unit": "D01", **({"status": "cancelled"} if i == 3 else {})} for i in range(4)]
        + [{"contract_number": "K10", "kind": "service_plan", "customer_id": "c1", "signed_at": "2024-03-10",
            "dealer_code": "D01", "_unit": "D01"},
           {"contract_number": "K11", "kind": "sale", "customer_id": "c9", "signed_at": "2024-03-31",
            "dealer_code": "D02", "_unit": "D02"}])
    # sales complaints 1 (D01; the survey one left out) / sales 3 (D01) + 1 (D02) = 25 per 100
    assert vn(kpi(net, "sales_complaints_per_100_sold", *MARCH)) == (25.0, 4)
    assert by_key(kpi(net, "sales_complaints_per_100_sold", *MARCH, "--by", "dealer_code")) == {
        "D01": (33.333333, 3), "D02": (0.0, 1)}
    assert vn(kpi(net, "quality_complaints_per_100_produced", *MARCH)) == (None, 0)   # nothing produced
    add(net, "vehicle", [{"vin": vin.format(50 + i), "model": "X5", "production_date": d}
                         for i, d in enumerate(["2024-03-01", "2024-03-15", "2024-03-31", "2024-02-29"])])
    # quality complaints D01 1 + D02 1 = 2 / vehicles produced in March 3
    assert vn(kpi(net, "quality_complaints_per_100_produced", *MARCH)) == (66.666667, 3)
    assert vn(kpi(net, "quality_complaints_per_100_produced", *MARCH, "--as", "mgr1")) == (33.333333, 3)


def test_repeat_purchase_churn_lifetime_value_profile_completeness(net):
    def sale(no, cust, day, unit="D01", status="active", kind="sale", amount=None):
        row = {"contract_number": no, "kind": kind, "customer_id": cust, "signed_at": day, "status": status,
               "dealer_code": unit, "_unit": unit}
        return row | ({"amount": {"amount": amount, "currency": "IRR"}} if amount is not None else {})
    add(net, "contract", [
        sale("A1", "A", "2023-12-01", amount=9), sale("A2", "A", "2024-03-05", amount=1000),
        sale("A3", "A", "2024-03-06", kind="service_plan", amount=500),
        sale("B1", "B", "2024-03-10", amount=300),
        sale("C1", "C", "2024-03-01", unit="D02", amount=100), sale("C2", "C", "2024-03-31", unit="D02", amount=200),
        sale("D1", "D", "2024-03-20", amount=50), sale("D2", "D", "2024-04-02", amount=7),
        sale("E1", "E", "2024-02-10", status="cancelled"), sale("E2", "E", "2024-03-12", amount=150),
        sale("F1", "F", "2024-03-12", status="cancelled", amount=9999),
    ])
    # buyers in March: A, B, C, D, E (F's sale is cancelled); with ≥ 2 sales up to 31 March: A (Dec + Mar),
    # C (two in March); D's second is in April, E's first cancelled → 2 / 5
    assert vn(kpi(net, "repeat_purchase_rate", *MARCH)) == (40.0, 5)
    assert vn(kpi(net, "repeat_purchase_rate", *MARCH, "--as", "mgr2")) == (100.0, 1)          # C
    assert vn(kpi(net, "repeat_purchase_rate", *EMPTY)) == (None, 0)
    # lifetime value, March, not cancelled: A 1000 + 500, B 300, C 100 + 200, D 50, E 150 = 2300 / 5 customers
    assert vn(kpi(net, "customer_lifetime_value", *MARCH)) == (460.0, 5)
    assert by_key(kpi(net, "customer_lifetime_value", *MARCH, "--by", "dealer_code")) == {
        "D01": (500.0, 4), "D02": (300.0, 1)}                                               # 2000 / 4; 300 / 1
    assert vn(kpi(net, "customer_lifetime_value", *EMPTY)) == (None, 0)
    add(net, "customer", [
        {"name": "P1", "customer_since": "2023-01-01", "churned_at": "2024-03-15"},   # base, lost
        {"name": "P2", "customer_since": "2023-06-01"},                               # base
        {"name": "P3", "customer_since": "2024-03-10", "churned_at": "2024-03-20"},   # joined in March: not base
        {"name": "P4", "churned_at": "2024-02-01"},                                   # gone before March
        {"name": "P5", "customer_since": "2023-01-01", "churned_at": "2024-03-31"},   # base, lost on the last day
        {"name": "P6", "customer_since": "2023-01-01", "churned_at": "2024-04-01"},   # base, lost after
    ])
    assert vn(kpi(net, "churn_rate", *MARCH)) == (50.0, 4)                            # 2 of P1 P2 P5 P6
    add(net, "customer", [
        {"name": "X", "customer_since": "2024-03-31", "mobile": "+989121234567", "email": "x@example.com",
         "national_id": "0012345678", "birth_date": "1990-01-01", "gender": "female",
         "address": {"city": "Tehran"}, "preferred_channel": "sms", "consent_marketing": True},   # 8 of 8
        {"name": "Y", "customer_since": "2024-03-01", "mobile": "+989121234568", "consent_marketing": False},
        {"name": "Z", "customer_since": "2024-03-02"},                                           # 0 of 8
    ])
    # customers since March: X 100, Y 2/8 = 25, Z 0, P3 0 (no profile field) → 125 / 4
    assert vn(kpi(net, "profile_completeness", *MARCH)) == (31.25, 4)
    assert vn(kpi(net, "profile_completeness", "--from", "2024-03-31", "--to", "2024-03-31")) == (100.0, 1)


# -- sales: funnel, win rate, forecast; lead conversion ---------------------------------------
def test_win_rate_forecast_and_funnel(net):
    def opp(stage, unit="D01", **data):
        return {"title": "o", "stage": stage, "dealer_code": unit, "_unit": unit, **data}
    add(net, "opportunity", [
        opp("won", opened_at="2024-03-01", closed_at="2024-03-20"),
        opp("won", unit="D02", opened_at="2024-02-01", closed_at="2024-03-31"),
        opp("lost", lost_stage="prospecting", opened_at="2024-03-02", closed_at="2024-03-05"),
        opp("lost", lost_stage="quotation", opened_at="2024-01-02", closed_at="2024-04-01"),
        opp("prospecting", opened_at="2024-03-03", expected_close="2024-03-31",
            amount={"amount": 1000, "currency": "IRR"}),
        opp("quotation", opened_at="2024-03-04", expected_close="2024-03-15", amount={"amount": 300, "currency": "IRR"}),
        opp("negotiation", unit="D02", opened_at="2024-02-04", expected_close="2024-03-01",
            amount={"amount": 100, "currency": "IRR"}),
        opp("test_drive", opened_at="2024-03-05", expected_close="2024-04-01", amount={"amount": 5000, "currency": "IRR"}),
    ])
    # closed in March: won, won, lost (the other lost is closed 1 April) → 2 / 3
    assert vn(kpi(net, "win_rate", *MARCH)) == (66.666667, 3)
    assert vn(kpi(net, "win_rate", *MARCH, "--as", "mgr2")) == (100.0, 1)
    assert vn(kpi(net, "win_rate", *EMPTY)) == (None, 0)
    # P(won | stage) = won / (won + lost at that stage or later), all closed: won 2, lost at prospecting 1,
    # at quotation 1 → prospecting 2/4, test_drive 2/3, quotation 2/3, negotiation 2/2
    # open, expected in March: 1000 × 1/2 + 300 × 2/3 + 100 × 1 = 500 + 200 + 100 = 800
    assert vn(kpi(net, "sales_forecast", *MARCH)) == (800.0, 3)
    assert by_key(kpi(net, "sales_forecast", *MARCH, "--by", "dealer_code")) == {"D01": (700.0, 2),
                                                                                 "D02": (100.0, 1)}
    # funnel of those opened in March: won 1, lost at prospecting 1, open at prospecting 1, quotation 1,
    # test_drive 1 → reached: prospecting 5, test_drive 3 (won + td + quotation), quotation 2, negotiation 1
    f = xrm(net, "crm", "funnel", *MARCH)
    assert (f["n"], f["won"]) == (5, 1)
    assert [(s["stage"], s["reached"], s["went_on"], s["conversion"]) for s in f["stages"]] == [
        ("prospecting", 5, 3, 60.0), ("test_drive", 3, 2, 66.666667),
        ("quotation", 2, 1, 50.0), ("negotiation", 1, 1, 100.0)]
    assert xrm(net, "crm", "funnel", *EMPTY)["stages"][0]["conversion"] is None


def test_lead_conversion_dealer_conversion_and_response_time(net):
    def lead(status, unit, assigned, responded=None, received="2024-03-02T10:00:00Z"):
        row = {"name": "l", "status": status, "dealer_code": unit, "assigned_at": assigned, "received_at": received}
        return row | ({"first_response_at": responded} if responded else {})
    add(net, "lead", [
        lead("sold", "D01", "2024-03-01T09:00:00+03:30", "2024-03-01T10:30:00+03:30"),     # 1.5 h
        lead("contacted", "D01", "2024-03-05T08:00:00Z", "2024-03-05T12:00:00+02:00"),     # 2 h (10:00Z)
        lead("sold", "D02", "2024-03-31T22:00:00-04:00"),                                 # written 31st, no answer
        lead("converted", "D02", "2024-03-10T08:00:00Z", "2024-03-10T08:30:00Z"),         # 0.5 h
        lead("lost", "D02", "2024-03-11T08:00:00Z", received="2024-02-28T10:00:00Z"),
        lead("sold", "D02", "2024-04-01T00:00:00+05:00", "2024-04-01T01:00:00+05:00"),     # written 1 April
    ], user="cc")
    # dealer conversion, assigned in March: sold D01 1 of 2, D02 1 of 3 (the April one is out) → 2 / 5
    assert vn(kpi(net, "dealer_lead_conversion_rate", *MARCH)) == (40.0, 5)
    assert by_key(kpi(net, "dealer_lead_conversion_rate", *MARCH, "--by", "dealer_code")) == {
        "D01": (50.0, 2), "D02": (33.333333, 3)}
    assert vn(kpi(net, "dealer_lead_conversion_rate", *MARCH, "--as", "mgr1")) == (50.0, 2)
    # response time: answered in March 1.5, 2, 0.5 → 4 / 3
    assert vn(kpi(net, "lead_response_time", *MARCH)) == (1.333333, 3)
    assert vn(kpi(net, "lead_response_time", *MARCH, "--as", "mgr2")) == (0.5, 1)
    assert vn(kpi(net, "lead_response_time", "--from", "2024-04-01", "--to", "2024-04-01")) == (1.0, 1)
    assert vn(kpi(net, "lead_response_time", *EMPTY)) == (None, 0)
    # crm lead conversion, received in March: sold, contacted, sold, converted, sold → converted or sold 4 / 5
    assert vn(kpi(net, "lead_conversion_rate", *MARCH)) == (80.0, 5)


def test_repeat_repair_rate(net):
    def visit(vin, fault, at, kind="repair", **extra):
        return {"vin": f"WVWZZZ1JZ3W38{vin:04d}", "fault_code": fault, "received_at": at, "visit_type": kind,
                "dealer_code": "D01", **extra}
    add(net, "service_visit", [
        visit(1, "F1", "2024-02-20T10:00:00Z"), visit(1, "F1", "2024-03-15T10:00:00Z"),   # back after 24 days
        visit(1, "F1", "2024-04-20T10:00:00Z"),
        visit(2, "F2", "2024-03-01T10:00:00Z"), visit(2, "F2", "2024-03-31T10:00:00Z", "warranty_repair"),  # 30 days
        visit(3, "F3", "2024-03-02T10:00:00Z"), visit(3, "F9", "2024-03-03T10:00:00Z"),  # another fault
        visit(4, "F4", "2024-03-04T10:00:00Z", "periodic_service"), visit(4, "F4", "2024-03-05T10:00:00Z"),
        visit(5, "F5", "2024-03-10T10:00:00Z", status="cancelled"), visit(5, "F5", "2024-03-12T10:00:00Z"),
        visit(6, "F6", "2024-01-01T10:00:00Z"), visit(6, "F6", "2024-03-05T10:00:00Z"),   # 64 days
    ], unit="D01")
    # repair visits in March (not cancelled): 1/03-15, 2/03-01, 2/03-31, 3/03-02, 3/03-03, 4/03-05,
    # 5/03-12, 6/03-05 = 8; repeats: 1/03-15 (24 d), 2/03-31 (30 d) = 2 → 25
    assert vn(kpi(net, "repeat_repair_rate", *MARCH)) == (25.0, 8)
    assert vn(kpi(net, "repeat_repair_rate", *MARCH, "--as", "mgr2")) == (None, 0)
    assert vn(kpi(net, "repeat_repair_rate", "--from", "2024-03-31", "--to", "2024-03-31")) == (100.0, 1)


# -- suppliers ---------------------------------------------------------------------------------
def test_defect_ppm_forwarding_time_sla_and_on_time_delivery(net):
    def delivery(no, supplier, part, qty, promised, delivered=None, status=None):
        row = {"delivery_number": no, "supplier_code": supplier, "part_number": part, "quantity": qty,
               "promised_date": promised}
        return row | ({"delivered_date": delivered} if delivered else {}) | ({"status": status} if status else {})
    add(net, "delivery", [
        delivery("L1", "S1", "P1", 10000, "2024-03-10", "2024-03-09"),      # early
        delivery("L2", "S1", "P2", 5000, "2024-03-10", "2024-03-10"),       # on the day
        delivery("L3", "S2", "P1", 20000, "2024-03-15", "2024-03-16"),      # late
        delivery("L4", "S2", "P1", 999, "2024-03-31", "2024-03-31", status="cancelled"),
        delivery("L5", "S1", "P1", 777, "2024-03-20"),                      # overdue, not delivered
        delivery("L6", "S1", "P1", 1, "2024-04-01", "2024-03-31"),          # promised in April
    ], unit="hq")
    add(net, "defect_report", [
        {"supplier_code": "S1", "part_number": "P1", "quantity": 3, "detected_at": "2024-03-01T08:00:00Z",
         "forwarded_at": "2024-03-01T10:00:00Z", "response_due_at": "2024-03-02T10:00:00+03:30",
         "acknowledged_at": "2024-03-02T09:00:00+01:00"},                 # 2 h; ack 08:00Z > due 06:30Z: late
        {"supplier_code": "S1", "part_number": "P2", "quantity": 2, "detected_at": "2024-03-10T08:00:00+03:30",
         "forwarded_at": "2024-03-10T08:00:00Z", "response_due_at": "2024-03-11T12:00:00Z",
         "acknowledged_at": "2024-03-11T13:00:00+02:00"},                 # 3.5 h; ack 11:00Z ≤ due: on time
        {"supplier_code": "S2", "part_number": "P1", "quantity": 10, "detected_at": "2024-03-31T23:00:00-02:00",
         "forwarded_at": "2024-04-01T01:00:00Z", "response_due_at": "2024-04-02T00:00:00Z"},  # 0 h; overdue
        {"supplier_code": "S2", "part_number": "P1", "quantity": 50, "detected_at": "2024-04-01T00:00:00+03:30"},
    ], unit="hq")
    # ppm: defects detected in March 3 + 2 + 10 = 15 / delivered in March (L4 cancelled, L5 not delivered,
    # L6 delivered on the 31st) 10000 + 5000 + 20000 + 1 = 35001 → 15 / 35001 × 1e6 = 428.559184
    assert vn(kpi(net, "defect_ppm", *MARCH)) == (428.559184, 4)
    assert by_key(kpi(net, "defect_ppm", *MARCH, "--by", "supplier_code")) == {
        "S1": (333.311113, 3),          # 5 / (10000 + 5000 + 1) × 1e6
        "S2": (500.0, 1)}               # 10 / 20000 × 1e6
    assert vn(kpi(net, "defect_ppm", *MARCH, "--as", "mgr1")) == (None, 0)         # not a dealer's data
    assert vn(kpi(net, "defect_ppm", "--from", "2024-04-01", "--to", "2024-04-01")) == (None, 0)  # no deliveries
    # forwarding: (2 + 3.5 + 0) / 3; the 31st's report (23:00−02:00 = 01:00Z) was forwarded at once
    assert vn(kpi(net, "complaint_forwarding_time", *MARCH)) == (1.833333, 3)
    # SLA: counted = acknowledged or past due: all three → on time 1 of 3
    assert vn(kpi(net, "sla_compliance", *MARCH)) == (33.333333, 3)
    # on time: L1 yes, L2 yes (same day), L3 no, L5 no (overdue); L4 cancelled, L6 promised in April → 2 / 4
    assert vn(kpi(net, "on_time_delivery", *MARCH)) == (50.0, 4)
    assert vn(kpi(net, "on_time_delivery", *EMPTY)) == (None, 0)
