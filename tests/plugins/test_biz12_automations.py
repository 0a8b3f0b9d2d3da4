"""crm and prm_dealers automations the biz12 KPI audit found wanting: an opportunity won or
lost through an update got no ``closed_at``, so ``win_rate`` never counted it in any period;
a lead entered with its first response already made, and assigned round robin, got
``assigned_at`` = now, after its first response: a negative response time.
Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, kpi, net  # noqa: E402, F401


def _today() -> str:
    return datetime.now(timezone.utc).date().isoformat()


def test_an_opportunity_won_or_lost_by_an_update_counts_in_todays_win_rate(net):
    won, lost, dated = add(net, "opportunity", [{"title": "a", "stage": "negotiation"},
                                                {"title": "b", "stage": "quotation"},
                                                {"title": "c", "stage": "quotation"}], unit="D01")
    with net.session("mgr1") as s:
        s.update(won, {"stage": "won"})
        s.update(lost, {"stage": "lost"})
        s.update(dated, {"stage": "won", "closed_at": "2024-03-31"})     # a date given is kept
    today = _today()
    r = kpi(net, "win_rate", date_from=today, date_to=today)
    assert (r["value"], r["n"]) == (50.0, 2)                                # 1 won of 2 closed today
    assert kpi(net, "win_rate", date_from="2024-03-31", date_to="2024-03-31")["n"] == 1
    with net.session("mgr1") as s:
        reopened = s.update(won, {"stage": "negotiation"})                  # no longer closed
        assert "closed_at" not in reopened.data
        assert s.update(lost, {"title": "b2"}).data["closed_at"] == today   # other changes keep it


def test_a_lead_answered_before_its_round_robin_assignment_keeps_a_sound_response_time(net):
    add(net, "dealer", [{"code": "D01", "name": "One", "region": "north"}], unit="D01")
    lead, = add(net, "lead", [{"name": "Old", "region": "north", "status": "contacted",
                               "received_at": "2024-03-01T09:00:00Z",
                               "first_response_at": "2024-03-01T10:00:00Z"}], user="cc")
    with net.session(write=False) as s:
        data = s.get(lead).data
    assert data["dealer_code"] == "D01"
    assert "assigned_at" not in data or data["assigned_at"] <= data["first_response_at"]
    r = kpi(net, "lead_response_time")
    assert r["value"] is None or r["value"] >= 0


def test_a_case_given_another_dealer_moves_to_its_unit_as_a_lead_does(net):
    case, = add(net, "case", [{"kind": "complaint", "subject": "noise", "dealer_code": "D01"}], user="cc")
    with net.session("cc") as s:
        assert s.get(case).unit == "D01"
        assert s.update(case, {"dealer_code": "D02"}).unit == "D02"
    with net.session("mgr2", write=False) as s:
        assert s.get(case).data["dealer_code"] == "D02"
    with net.session("mgr1", write=False) as s:
        assert s.count("case", {"dealer_code": "D02"}) == 0


def test_a_customer_marked_churned_counts_in_todays_churn_rate(net):
    kept, gone, dated = add(net, "customer", [
        {"name": "K", "customer_since": "2020-01-01", "status": "active"},
        {"name": "G", "customer_since": "2020-01-01", "status": "active"},
        {"name": "D", "customer_since": "2020-01-01", "status": "active"}], unit="D01")
    with net.session("mgr1") as s:
        s.update(gone, {"status": "churned"})
        s.update(dated, {"status": "churned", "churned_at": "2024-03-31"})     # a date given is kept
    today = _today()
    # base on today: K, G (D churned before today) → G of 2
    r = kpi(net, "churn_rate", date_from=today, date_to=today)
    assert (r["value"], r["n"]) == (50.0, 2)
    with net.session("mgr1") as s:
        assert "churned_at" not in s.update(gone, {"status": "active"}).data   # won back
        assert s.get(kept).data.get("churned_at") is None
