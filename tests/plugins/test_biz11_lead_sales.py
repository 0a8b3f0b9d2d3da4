"""A won opportunity marks its lead sold, so the dealer lead-to-sale conversion counts the
sale (DESIGN §7). Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, kpi, net  # noqa: E402, F401

MARCH = {"date_from": "2024-03-01", "date_to": "2024-03-31"}


def _lead(p, **extra):
    lead, = add(p, "lead", [{"name": "prospect", "dealer_code": "D01", "status": "converted",
                             "assigned_at": "2024-03-05T10:00:00Z", **extra}], unit="D01")
    return lead


def test_winning_the_opportunity_sells_the_lead_and_counts_for_the_dealer(net):
    lead = _lead(net)
    opp, = add(net, "opportunity", [{"title": "X5", "lead_id": lead, "stage": "negotiation"}], user="mgr1")
    assert kpi(net, "dealer_lead_conversion_rate", **MARCH)["value"] == 0.0
    before = datetime.now(timezone.utc).replace(microsecond=0)
    with net.session("mgr1") as s:
        s.update(opp, {"stage": "won"})
        sold = s.get(lead)
    assert sold.data["status"] == "sold"
    assert before <= datetime.fromisoformat(sold.data["sold_at"]) <= datetime.now(timezone.utc)
    r = kpi(net, "dealer_lead_conversion_rate", user="mgr1", **MARCH)
    assert (r["value"], r["n"]) == (100.0, 1)
    with net.session() as s:                                      # the change is on the lead's timeline
        assert [a["actor"] for a in s.history(lead) if a["kind"] == "updated"] == ["system"]


def test_an_opportunity_entered_as_won_long_ago_keeps_the_leads_times(net):
    lead = _lead(net)
    add(net, "opportunity", [{"title": "X5", "lead_id": lead, "stage": "won", "closed_at": "2024-03-20"}])
    with net.session() as s:
        data = s.get(lead).data
    assert data["status"] == "sold" and "sold_at" not in data


def test_other_changes_and_unknown_leads_change_nothing(net):
    lead = _lead(net, status="sold", sold_at="2024-03-21T10:00:00Z")
    opp, = add(net, "opportunity", [{"title": "a", "lead_id": lead, "stage": "quotation"}])
    other, = add(net, "opportunity", [{"title": "b", "lead_id": "no-such-record", "stage": "quotation"}])
    with net.session() as s:
        s.update(opp, {"stage": "won"})                            # already sold: left as it is
        s.update(other, {"stage": "won"})                          # nothing to sell
        assert s.get(lead).version == 1
