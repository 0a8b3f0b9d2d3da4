"""The voc plugin's KPIs (NPS, CSAT, CES, CSM) against hand-computed values, per touchpoint and
within a dealer's scope, and the survey-response schema's score ranges. Runs on SQLite and,
with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from xrm_core import ValidationError

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, groups, kpi, net  # noqa: E402, F401

MARCH = {"date_from": "2024-03-01", "date_to": "2024-03-31"}


def _answer(kind, score, touchpoint="after_sales", day="03-10", **extra):
    return {"question_kind": kind, "score": score, "touchpoint": touchpoint,
            "answered_at": f"2024-{day}T10:00:00Z", **extra}


def _nps_answers(p):
    add(p, "survey_response", [
        _answer("nps", 10, dealer_code="D01", _unit="D01"), _answer("nps", 9, dealer_code="D01", _unit="D01"),
        _answer("nps", 6, dealer_code="D01", _unit="D01"), _answer("nps", 0, dealer_code="D03", _unit="D03"),
        _answer("nps", 8, "purchase"), _answer("nps", 7, "purchase"), _answer("nps", 10, "purchase"),
        _answer("csat", 1),                                  # another question kind
        _answer("nps", 0, day="04-02"),                      # answered in April
    ])


def test_nps_is_promoters_minus_detractors(net):
    _nps_answers(net)
    march = kpi(net, "nps", **MARCH)
    assert (march["value"], march["n"]) == (14.285714, 7)      # (3 − 2) / 7
    assert groups(kpi(net, "nps", by="touchpoint", **MARCH)) == {
        "after_sales": (0.0, 4), "purchase": (33.333333, 3)}


def test_nps_in_a_dealers_scope(net):
    _nps_answers(net)
    mine = kpi(net, "nps", user="mgr1", **MARCH)
    assert (mine["value"], mine["n"]) == (33.333333, 3)        # 10, 9, 6
    theirs = kpi(net, "nps", user="mgr3", **MARCH)
    assert (theirs["value"], theirs["n"]) == (-100.0, 1)
    assert kpi(net, "nps", user="vocan", **MARCH)["n"] == 7    # the VOC analyst sees all


def test_csat_is_mean_satisfaction_on_0_to_100(net):
    add(net, "survey_response", [_answer("csat", s) for s in (5, 4, 3, 1)] + [_answer("nps", 10)])
    r = kpi(net, "csat", **MARCH)
    assert (r["value"], r["n"]) == (56.25, 4)                  # (100 + 75 + 50 + 0) / 4


def test_ces_is_the_mean_effort_score(net):
    add(net, "survey_response", [_answer("ces", s) for s in (7, 5, 6)] + [_answer("csat", 2)])
    r = kpi(net, "ces", **MARCH)
    assert (r["value"], r["n"]) == (6.0, 3)


def test_csm_weights_items_by_importance_per_customer_then_normalises_and_averages(net):
    add(net, "survey_response", [
        # customer X: (5·4 + 3·2 + 2·5) / 10 = 3.6 → 65
        _answer("csm", 4, importance=5, customer_id="X"), _answer("csm", 2, importance=3, customer_id="X"),
        _answer("csm", 5, importance=2, customer_id="X"),
        # an anonymous questionnaire: (1·1 + 1·3) / 2 = 2 → 25
        _answer("csm", 1, importance=1, submission_id="S-9"), _answer("csm", 3, importance=1, submission_id="S-9"),
        # customer Z: 5 → 100
        _answer("csm", 5, "purchase", importance=4, customer_id="Z"),
        _answer("csm", 1, importance=5),                         # nobody to attribute it to
        _answer("nps", 0, customer_id="X"),
    ])
    r = kpi(net, "csm", **MARCH)
    assert (r["value"], r["n"]) == (63.333333, 3)
    assert groups(kpi(net, "csm", by="touchpoint")) == {"after_sales": (45.0, 2), "purchase": (100.0, 1)}


@pytest.mark.parametrize("answer, pointer", [
    (_answer("nps", 11), "/data/score"),
    (_answer("csat", 0), "/data/score"),
    (_answer("ces", 8), "/data/score"),
    (_answer("csm", 3), "/data/importance"),                     # a CSM item needs its importance
    (_answer("nps", 7, touchpoint="delivery"), "/data/touchpoint"),
])
def test_survey_response_scores_are_checked_per_question_kind(net, answer, pointer):
    with pytest.raises(ValidationError) as e:
        add(net, "survey_response", [answer])
    assert pointer in [err["pointer"] for err in e.value.errors]
    with net.session() as s:
        assert s.count("survey_response") == 0
