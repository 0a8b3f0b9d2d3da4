"""A new lead handed straight to a dealer it names is assigned now, so the dealer KPIs (whose
period is on ``assigned_at``) count it; a lead recorded further on keeps what it was given.
Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, kpi, net  # noqa: E402, F401


def _today():
    return datetime.now(timezone.utc).date().isoformat()


def test_a_new_lead_naming_its_dealer_is_handed_to_it_now(net):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    lead_id, = add(net, "lead", [{"name": "walk-in", "dealer_code": "D01", "region": "north"}], user="cc")
    with net.session() as s:
        lead = s.get(lead_id)
    assert (lead.unit, lead.data["status"]) == ("D01", "assigned")
    assert before <= datetime.fromisoformat(lead.data["assigned_at"]) <= datetime.now(timezone.utc)
    today = {"date_from": _today(), "date_to": _today()}
    r = kpi(net, "dealer_lead_conversion_rate", user="mgr1", **today)
    assert (r["value"], r["n"]) == (0.0, 1)                              # the dealer's lead, handed today


def test_a_lead_recorded_further_on_keeps_its_own_values(net):
    given = [{"name": "a", "dealer_code": "D01", "status": "contacted"},
             {"name": "b", "dealer_code": "D01", "first_response_at": "2024-03-01T10:00:00Z"},
             {"name": "c", "dealer_code": "D01", "status": "new", "assigned_at": "2024-03-01T09:00:00Z"}]
    ids = add(net, "lead", given)
    with net.session() as s:
        assert [s.get(i).data for i in ids] == given
