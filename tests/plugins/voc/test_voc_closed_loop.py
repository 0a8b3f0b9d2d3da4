"""The closed loop: a detractor's NPS answer (score 0–6) opens a follow-up case for the owning
dealer, related to the response; nothing for promoters, passives or other question kinds;
once per response; all or nothing with the response. SQLite and, with
``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import xrm_voc.closed_loop as closed_loop
from xrm_core import NotFound, PluginError, ValidationError
from xrm_core.cli.main import build_cli
from xrm_core.plugins import make_plugin_manager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/plugins: the shared fixtures
from business_org import PLUGINS, add, business_platform, net  # noqa: E402, F401


def _nps(score, kind="nps", **extra):
    return {"question_kind": kind, "score": score, "touchpoint": "after_sales",
            "answered_at": "2024-03-10T10:00:00Z", **extra}


def _cases(p, user="admin"):
    with p.session(user, write=False) as s:
        return s.list("case")


def _response(p, rid, user="admin"):
    with p.session(user, write=False) as s:
        return s.get(rid)


def _follow_ups(p, rid):
    with p.session() as s:
        return [r["record"].id for r in s.related(rid, "response_opened_case")]


def test_a_detractor_opens_a_case_for_the_dealer(net):
    [rid] = add(net, "survey_response", [_nps(3, dealer_code="D01", customer_id="C-1", comment="Rude advisor")])
    [case] = _cases(net)
    assert case.unit == "D01"
    assert case.data["survey_response_id"] == rid
    assert {k: case.data[k] for k in ("kind", "channel", "status", "category", "priority", "dealer_code",
                                      "customer_id", "description")} == {
        "kind": "complaint", "channel": "survey", "status": "open", "category": "after_sales",
        "priority": "high", "dealer_code": "D01", "customer_id": "C-1", "description": "Rude advisor"}
    response = _response(net, rid)
    assert (response.data["case_id"], response.version) == (case.id, 1)
    assert _follow_ups(net, rid) == [case.id]
    assert [c.id for c in _cases(net, "mgr1")] == [case.id]       # the dealer sees it
    assert _cases(net, "mgr2") == []


def test_the_dealer_comes_from_the_customer_and_the_case_may_lie_outside_the_users_scope(net):
    [customer] = add(net, "customer", [{"name": "مریم رضایی", "dealer_code": "D03"}], unit="D03")
    # an agent of D01 records the answer of a customer D03 serves
    [rid] = add(net, "survey_response", [_nps(6, customer_id=customer)], user="agent1")
    [case] = _cases(net)
    assert (case.unit, case.data["dealer_code"], case.data["priority"]) == ("D03", "D03", "normal")
    assert _response(net, rid, "agent1").data["case_id"] == case.id
    assert _cases(net, "mgr3") and _cases(net, "agent1") == []


def test_without_a_known_dealer_the_case_stays_in_the_responses_unit(net):
    add(net, "survey_response", [_nps(0, dealer_code="NOWHERE")], unit="north")
    [case] = _cases(net)
    assert (case.unit, case.data["dealer_code"]) == ("north", "NOWHERE")


@pytest.mark.parametrize("answer", [
    _nps(7), _nps(8), _nps(9), _nps(10),                         # passives and promoters
    _nps(1, "csat"), _nps(1, "ces"), _nps(1, "csm", importance=5),  # not NPS questions
])
def test_no_case_for_promoters_passives_or_other_questions(net, answer):
    [rid] = add(net, "survey_response", [{**answer, "dealer_code": "D01"}])
    assert _cases(net) == [] and "case_id" not in _response(net, rid).data


def test_updates_open_at_most_one_case(net):
    [rid] = add(net, "survey_response", [_nps(7, dealer_code="D01")])
    assert _cases(net) == []
    with net.session() as s:
        s.update(rid, {"score": 5})                              # now a detractor
    [case] = _cases(net)
    with net.session() as s:
        s.update(rid, {"score": 2, "comment": "still unhappy"})  # still one
        s.update(rid, {"score": 10})                             # recovered: the case stays
    assert [c.id for c in _cases(net)] == [case.id]
    assert _response(net, rid).data["case_id"] == case.id and _follow_ups(net, rid) == [case.id]


def test_an_update_of_a_followed_up_response_whose_case_id_was_removed_opens_nothing(net):
    [rid] = add(net, "survey_response", [_nps(4, dealer_code="D01")])
    with net.session() as s:
        s.update(rid, {"case_id": None, "comment": "moved"})
    assert len(_cases(net)) == 1 and len(_follow_ups(net, rid)) == 1


def test_bulk_creation_opens_one_case_per_detractor(net):
    with net.session() as s:
        ids = [r.id for r in s.create_many("survey_response", [_nps(s_, dealer_code="D02") for s_ in (0, 9, 6, 7)])]
    cases = {c.data["survey_response_id"]: c for c in _cases(net)}
    assert set(cases) == {ids[0], ids[2]} and {c.unit for c in cases.values()} == {"D02"}
    assert _follow_ups(net, ids[2]) == [cases[ids[2]].id]


def test_a_refused_case_rolls_the_response_back(net, monkeypatch):
    monkeypatch.setattr(closed_loop, "case_data", lambda record, dealer: {"kind": "grumble", "subject": "x"})
    with pytest.raises(ValidationError) as e:
        add(net, "survey_response", [_nps(2, dealer_code="D01")])
    assert "/data/kind" in [err["pointer"] for err in e.value.errors]
    with net.session() as s:
        assert (s.count("survey_response"), s.count("case")) == (0, 0)


def test_a_failure_after_the_case_was_opened_rolls_both_back(net, monkeypatch):
    monkeypatch.setattr(closed_loop, "REL", "no_such_relationship")
    with pytest.raises((PluginError, NotFound)):
        add(net, "survey_response", [_nps(2, dealer_code="D01")])
    with net.session() as s:
        assert (s.count("survey_response"), s.count("case")) == (0, 0)


def test_a_failed_update_leaves_the_response_as_it_was(net, monkeypatch):
    [rid] = add(net, "survey_response", [_nps(8, dealer_code="D01")])
    monkeypatch.setattr(closed_loop, "case_data", lambda record, dealer: {"kind": "grumble", "subject": "x"})
    with pytest.raises(ValidationError):
        with net.session() as s:
            s.update(rid, {"score": 1})
    response = _response(net, rid)
    assert (response.data["score"], response.version, "case_id" in response.data) == (8, 1, False)
    assert _cases(net) == []


def test_the_loop_closes_from_the_cli_too(net):
    cli = build_cli(make_plugin_manager(load_entry_points=False, plugins=PLUGINS))
    data = json.dumps(_nps(1, dealer_code="D02", comment="never again"))
    result = CliRunner().invoke(cli, ["--db", net.url, "records", "create", "survey_response", "--data", data,
                                      "--as", "agent1", "--json"], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    response = json.loads(result.stdout)
    [case] = _cases(net, "mgr2")
    assert response["data"]["case_id"] == case.id and case.data["description"] == "never again"
