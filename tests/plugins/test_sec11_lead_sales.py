"""Security review: a won opportunity sells only a lead its winner may see
(plugins/crm/lead_sales.py). ``lead_id`` is data anyone creating an opportunity writes; the
lead is changed as ``system``, so without a check a dealer could mark another dealer's leads
sold by naming their ids. Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

from xrm_core import PermissionDenied

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, net  # noqa: E402, F401


def _d01_lead(p, user="cc"):
    lead, = add(p, "lead", [{"name": "prospect", "dealer_code": "D01", "status": "converted",
                             "assigned_at": "2024-03-05T10:00:00Z"}], user=user)
    return lead


def _lead_data(p, lead):
    with p.session() as s:
        rec = s.get(lead)
        return rec.version, rec.data["status"]


def test_another_dealers_lead_named_by_a_won_opportunity_is_left_alone(net):
    lead = _d01_lead(net)
    # D02's manager cannot read D01's lead: creating a won opportunity naming it…
    add(net, "opportunity", [{"title": "X5", "lead_id": lead, "stage": "won"}], user="mgr2")
    assert _lead_data(net, lead) == (1, "converted")
    # …or updating one to won changes nothing either.
    opp, = add(net, "opportunity", [{"title": "X7", "lead_id": lead, "stage": "negotiation"}], user="mgr2")
    with net.session("mgr2") as s:
        s.update(opp, {"stage": "won"})
    assert _lead_data(net, lead) == (1, "converted")


def test_a_dealer_agent_sells_a_lead_of_its_unit_it_may_read_but_not_update(net):
    lead = _d01_lead(net)                       # owned by the call centre, routed to D01
    add(net, "opportunity", [{"title": "X5", "lead_id": lead, "stage": "won"}], user="agent1")
    assert _lead_data(net, lead) == (2, "sold")


def test_a_lead_linked_to_the_opportunity_is_sold_though_the_winner_cannot_read_it(net):
    lead, = add(net, "lead", [{"name": "prospect", "status": "converted"}], user="cc")  # stays in hq
    opp, = add(net, "opportunity", [{"title": "X5", "lead_id": lead, "stage": "negotiation"}], user="mgr1")
    # The call centre may update the lead but only read mgr1's opportunity: the link would take
    # the opportunity's one slot (one-to-one), so it is refused (docs/security.md, "Relating
    # and unrelating"); an administrator links them.
    with pytest.raises(PermissionDenied), net.session("cc") as s:
        s.relate("lead_converted_to", lead, opp)
    with net.session() as s:
        s.relate("lead_converted_to", lead, opp)
    with net.session("mgr1") as s:
        s.update(opp, {"stage": "won"})
    assert _lead_data(net, lead) == (2, "sold")
