"""The prm_dealers automation: a new lead without a dealer is assigned, round robin, to an
active dealer of its region (fewest leads so far, ties by code) and moves to that dealer's
unit. Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from xrm_core import NotFound

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, net  # noqa: E402, F401

DEALERS = [
    {"code": "D00", "name": "Closed dealer", "region": "north", "status": "suspended", "_unit": "north"},
    {"code": "D01", "name": "نمایندگی ۱", "region": "north", "_unit": "D01"},
    {"code": "D02", "name": "Dealer 2", "region": "north", "status": "active", "_unit": "D02"},
    {"code": "D03", "name": "经销商 3", "region": "south", "_unit": "D03"},
]


@pytest.fixture
def dealers(net):
    add(net, "dealer", DEALERS)
    return net


def _lead(p, data, user="cc"):
    with p.session(user) as s:
        rec = s.create("lead", data)
    with p.session() as s:
        return s.get(rec.id)


def test_leads_go_round_robin_to_the_dealer_with_fewest_leads(dealers):
    add(dealers, "lead", [{"name": "earlier", "dealer_code": "D01"}])       # D01 already has one
    before = datetime.now(timezone.utc).replace(microsecond=0)
    made = [_lead(dealers, {"name": f"lead {i}", "region": "north", "source": "web"}) for i in range(4)]
    # D02 (0 < 1), then D01 (tie 1-1: lower code), D02, D01; suspended D00 never
    assert [r.data["dealer_code"] for r in made] == ["D02", "D01", "D02", "D01"]
    assert [r.unit for r in made] == ["D02", "D01", "D02", "D01"]
    latest = datetime.now(timezone.utc) + timedelta(seconds=1)
    for r in made:
        assert r.data["status"] == "assigned"
        assert before <= datetime.fromisoformat(r.data["assigned_at"]) <= latest
    assert _lead(dealers, {"name": "south", "region": "south"}).data["dealer_code"] == "D03"


def test_the_handover_is_on_the_leads_history(dealers):
    lead = _lead(dealers, {"name": "x", "region": "north"})
    with dealers.session() as s:
        (handover,) = [a for a in s.history(lead.id) if a["kind"] == "lead_handover"]
    assert handover["actor"] == "system"
    assert handover["summary"] == "assigned to dealer D01 (round robin, region north)"
    assert handover["payload"] == {"dealer_code": "D01", "region": "north", "rule": "round_robin"}


def test_the_assigned_dealer_sees_the_lead_and_the_others_do_not(dealers):
    lead = _lead(dealers, {"name": "x", "region": "north"})
    with dealers.session("agent1") as s:
        assert s.get(lead.id).data["dealer_code"] == "D01"
    with dealers.session("mgr2") as s, pytest.raises(NotFound):
        s.get(lead.id)


def test_a_bulk_import_spreads_its_leads_too(dealers):
    # The hooks of a whole batch run before any row is stored: the counts are kept in memory.
    with dealers.session("cc") as s:
        made = s.create_many("lead", [{"name": f"l{i}", "region": "north"} for i in range(5)])
    assert [r.data["dealer_code"] for r in made] == ["D01", "D02", "D01", "D02", "D01"]
    with dealers.session() as s:
        assert [s.get(r.id).unit for r in made] == ["D01", "D02", "D01", "D02", "D01"]
        assert s.count("lead", {"dealer_code": "D02"}) == 2


def test_given_values_are_kept(dealers):
    given = _lead(dealers, {"name": "x", "region": "north", "dealer_code": "D03", "status": "contacted"})
    assert (given.data["dealer_code"], given.unit, given.data["status"]) == ("D03", "D03", "contacted")
    assert "assigned_at" not in given.data
    with dealers.session() as s:
        assert [a for a in s.history(given.id) if a["kind"] == "lead_handover"] == []
    stamped = _lead(dealers, {"name": "y", "region": "north", "status": "qualified",
                              "assigned_at": "2024-03-01T09:00:00+03:30"})
    assert stamped.data["dealer_code"] == "D01"
    assert (stamped.data["status"], stamped.data["assigned_at"]) == ("qualified", "2024-03-01T09:00:00+03:30")


def test_a_lead_without_region_or_dealers_stays_unassigned(dealers):
    for data in ({"name": "nowhere"}, {"name": "east", "region": "east", "status": "new"}):
        lead = _lead(dealers, data)
        assert "dealer_code" not in lead.data and lead.unit == "hq"
        assert lead.data.get("status") == data.get("status")
