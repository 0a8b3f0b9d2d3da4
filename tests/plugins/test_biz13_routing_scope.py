"""A new lead or case is routed to its dealer's unit only where the acting user may file it.

Before, a dealer's user could create a lead or a case naming ANOTHER dealer's code (or, for a
case, a customer serviced by another dealer) and the plugins' ``before_create`` hooks moved it
into that dealer's unit: it counted in the rival's KPIs and the creator could no longer see it.
The core refuses such a move on update (``_moved``); on create the plugins now refuse it the
same way: ValidationError at ``/data/dealer_code``, nothing created. HQ, the call centre and
automations (``session.as_system()``) and round-robin assignment still route anywhere.
Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # tests/plugins: the shared fixtures
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "web"))  # the UI test helpers
from business_org import add, business_platform, kpi, net  # noqa: E402, F401
from test_ui_support import Browser  # noqa: E402

from xrm_core import ValidationError, accounts  # noqa: E402

POINTER = "/data/dealer_code"


def _count(p, type_name: str) -> int:
    with p.session() as s:
        return s.count(type_name)


def _refused(p, user: str, type_name: str, data: dict) -> ValidationError:
    """Create as ``user``, expecting the refusal at dealer_code; nothing is stored."""
    before = _count(p, type_name)
    with pytest.raises(ValidationError) as e:
        add(p, type_name, [data], user=user)
    assert [err["pointer"] for err in e.value.errors] == [POINTER]
    assert "outside the dealers" in str(e.value) and repr(user) in str(e.value)
    assert _count(p, type_name) == before
    return e.value


@pytest.mark.parametrize("user", ["mgr1", "agent1"])
def test_a_dealer_user_cannot_file_a_lead_for_another_dealer(net, user):
    err = _refused(net, user, "lead", {"name": "poached", "dealer_code": "D02", "region": "north"})
    assert "'D02'" in str(err)
    r = kpi(net, "dealer_lead_conversion_rate", user="mgr2")
    assert r["n"] == 0                                       # nothing counts against D02


@pytest.mark.parametrize("user", ["mgr1", "agent1"])
def test_a_dealer_user_files_a_lead_for_the_own_dealer(net, user):
    lead_id, = add(net, "lead", [{"name": "walk-in", "dealer_code": "D01"}], user=user)
    with net.session(user) as s:
        lead = s.get(lead_id)                                # still visible to its creator
    assert (lead.unit, lead.data["status"]) == ("D01", "assigned")


def test_an_unknown_dealer_code_is_refused_alike_for_a_dealer_user(net):
    _refused(net, "mgr1", "lead", {"name": "x", "dealer_code": "NOPE"})
    _refused(net, "mgr1", "case", {"kind": "request", "subject": "x", "dealer_code": "NOPE"})
    # Who may place leads everywhere keeps the lead in their unit, as before.
    lead_id, = add(net, "lead", [{"name": "x", "dealer_code": "NOPE"}], user="cc")
    with net.session() as s:
        assert s.get(lead_id).unit == "hq"


def test_the_call_centre_and_automations_route_anywhere(net):
    lead_id, = add(net, "lead", [{"name": "call", "dealer_code": "D02"}], user="cc")
    case_id, = add(net, "case", [{"kind": "complaint", "subject": "rude staff", "dealer_code": "D03"}], user="cc")
    with net.session("mgr1") as s:
        system = s.as_system()
        follow_up = system.create("case", {"kind": "complaint", "subject": "detractor", "dealer_code": "D02"})
        sys_lead = system.create("lead", {"name": "loader", "dealer_code": "D03"})
    with net.session() as s:
        assert [s.get(i).unit for i in (lead_id, case_id, follow_up.id, sys_lead.id)] == ["D02", "D03", "D02", "D03"]


def test_round_robin_still_assigns_a_dealer_users_lead_anywhere_in_its_region(net):
    add(net, "dealer", [{"code": "D03", "name": "South one", "region": "south", "_unit": "D03"}])
    lead_id, = add(net, "lead", [{"name": "web form", "region": "south"}], user="mgr1")
    with net.session() as s:
        lead = s.get(lead_id)
    assert (lead.unit, lead.data["dealer_code"]) == ("D03", "D03")


@pytest.mark.parametrize("user", ["mgr1", "agent1"])
def test_a_dealer_user_cannot_file_a_case_for_another_dealer(net, user):
    _refused(net, user, "case", {"kind": "complaint", "subject": "late delivery", "dealer_code": "D02"})
    case_id, = add(net, "case", [{"kind": "complaint", "subject": "late delivery", "dealer_code": "D01"}], user=user)
    with net.session(user) as s:
        assert s.get(case_id).unit == "D01"


def test_a_case_for_another_dealers_customer_names_the_filing_dealer(net):
    customer_id, = add(net, "customer", [{"name": "Sara", "dealer_code": "D02"}], unit="D02")
    err = _refused(net, "mgr1", "case", {"kind": "request", "subject": "brochure", "customer_id": customer_id})
    assert "servicing dealer" in str(err)
    # Naming the own dealer files it there; the call centre still routes to the servicing dealer.
    own, = add(net, "case", [{"kind": "request", "subject": "brochure", "customer_id": customer_id,
                              "dealer_code": "D01"}], user="mgr1")
    theirs, = add(net, "case", [{"kind": "request", "subject": "brochure", "customer_id": customer_id}], user="cc")
    with net.session() as s:
        assert (s.get(own).unit, s.get(theirs).unit) == ("D01", "D02")


def test_create_many_refuses_the_row_and_stores_nothing(net):
    with pytest.raises(ValidationError):
        with net.session("mgr1") as s:
            s.create_many("lead", [{"name": "ok", "dealer_code": "D01"}, {"name": "bad", "dealer_code": "D02"}])
    assert _count(net, "lead") == 0


def test_the_create_form_shows_the_refusal_at_dealer_code(net):
    with net.connection() as conn:
        if not conn.exec_driver_sql("SELECT 1 FROM xrm_users WHERE name = 'mgr1ui'").first():
            accounts.create_user(conn, "mgr1ui", "D01", ["dealer_manager"], "pw-dealer-13")
    b = Browser(net)
    b.login("mgr1ui", "pw-dealer-13")
    b.get("/r/lead/new")
    r = b.post("/r/lead/new", {"name": "poached", "dealer_code": "D02"})
    page = r.get_data(as_text=True)
    assert r.status_code == 422
    error = re.search(r'<span class="error" id="err-dealer_code">([^<]*)</span>', page)
    assert error and "outside the dealers" in error.group(1), page
    assert _count(net, "lead") == 0
