"""REST 10: a KPI of a plugin installed since the last ``xrm init`` waits for it.

The request is right and the client can do nothing about it: ``GET /api/v1/kpis/{name}`` is a
503 problem naming the KPI and what the operator must do (not a 400 blaming the request), as
documented in the OpenAPI document; ``GET /api/v1/kpis`` lists it with ``waiting``, and the
KPIs that can be computed exactly as before.
"""
from __future__ import annotations

import jsonschema
import pytest
from conftest import PersonPlugin
from openapi_spec_validator import validate

from xrm_core import KPI, accounts, kpis
from xrm_core.plugins import hookimpl
from xrm_core.web import create_app

READING = {"name": "reading", "label": "Meter reading", "title_field": "meter",
           "schema": {"type": "object", "required": ["meter", "m3"],
                      "properties": {"meter": {"type": "string"}, "m3": {"type": "number", "minimum": 0},
                                     "read_on": {"type": "string", "format": "date"}}}}


class LeakShare(KPI):
    """Python KPI of the plugin installed since the last init."""

    name = "leak_share"
    label = "Readings flagged as leaks"
    unit = "%"
    entity = "reading"
    description = "100 × leaking readings / readings"

    def compute(self, ctx):  # pragma: no cover — never reached before `xrm init`
        m3 = ctx.field("reading", "m3")
        return ctx.share("reading", m3.is_not(None), m3 > 100)


class WaterPlugin:
    __name__ = "rest10_water"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [READING]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [{"name": "water_used", "label": "Water used", "unit": "m³", "entity": "reading",
                 "time_field": "read_on", "measure": {"sum": "m3"}}, LeakShare()]


@pytest.fixture
def upgraded(make_platform):
    """(platform, client, tokens): the water plugin installed since the database's last
    `xrm init`; ``people`` (an admin KPI) still computes. ``everyone`` reads every type,
    ``people_only`` only persons."""
    first = make_platform(PersonPlugin())
    with first.connection() as conn:
        kpis.add(first, conn, {"name": "people", "label": "People", "entity": "person", "measure": {"count": True}})
        accounts.create_role(conn, "reader")
        accounts.grant(conn, "reader", "*", ["read"], "all", {"person", "note"})
        accounts.create_role(conn, "person_reader")
        accounts.grant(conn, "person_reader", "person", ["read"], "all", {"person", "note"})
        accounts.create_user(conn, "everyone", accounts.ROOT_UNIT, ["reader"], "pw")
        accounts.create_user(conn, "people_only", accounts.ROOT_UNIT, ["person_reader"], "pw")
        tokens = {u: accounts.create_token(conn, u) for u in ("admin", "everyone", "people_only")}
    with first.session() as s:
        s.create("person", {"name": "Ada"})
    p = make_platform(PersonPlugin(), WaterPlugin(), init=False)
    return p, create_app(p, {"TESTING": True}).test_client(), tokens


def _get(client, token, path):
    return client.get(f"/api/v1{path}", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("name", ["water_used", "leak_share"])
def test_computing_a_kpi_that_waits_for_init_is_a_503_naming_it_and_the_operators_step(upgraded, name):
    p, client, tokens = upgraded
    r = _get(client, tokens["admin"], f"/kpis/{name}?from=2026-01-01&to=2026-12-31")
    assert r.status_code == 503, r.get_data(as_text=True)  # was 400 "Invalid definition"
    assert r.mimetype == "application/problem+json"
    body = r.json
    assert body["status"] == 503 and body["kpi"] == name and body["title"] == "KPI waiting for xrm init"
    assert f"KPI {name!r} cannot be computed until an operator runs `xrm init`" in body["detail"]
    assert "nothing is wrong with the request" in body["detail"]
    assert "rest10_water" in body["detail"] and "reading" in body["detail"]
    # The client's own mistakes are still its own: a bad period is a 400, an unknown KPI a 404.
    assert _get(client, tokens["admin"], f"/kpis/{name}?from=2026-13-01").status_code == 400
    assert _get(client, tokens["admin"], "/kpis/no_such_kpi").status_code == 404
    # The other KPIs compute as before.
    ok = _get(client, tokens["admin"], "/kpis/people")
    assert ok.status_code == 200 and ok.json["value"] == 1


def test_the_list_marks_the_waiting_kpis_and_leaves_the_others_as_they_were(upgraded):
    p, client, tokens = upgraded
    r = _get(client, tokens["admin"], "/kpis")
    assert r.status_code == 200
    listed = {k["name"]: k for k in r.json}
    assert [k["name"] for k in r.json] == ["leak_share", "people", "water_used"]  # sorted by name, as before
    with p.connection() as conn:
        ready = kpis.registry(p, conn)["people"].to_dict()
        why = kpis.waiting(p, conn)
    assert listed["people"] == ready and "waiting" not in listed["people"]
    for name in ("water_used", "leak_share"):
        assert listed[name]["waiting"] == why[name] and "run `xrm init`" in why[name]
        assert listed[name]["source"] == "rest10_water" and listed[name]["entity"] == "reading"
    assert listed["water_used"]["label"] == "Water used" and listed["water_used"]["kind"] == "declarative"
    assert listed["leak_share"]["label"] == "Readings flagged as leaks" and listed["leak_share"]["kind"] == "python"


def test_a_waiting_kpi_follows_the_callers_grants_like_any_kpi(upgraded):
    _p, client, tokens = upgraded
    everyone = {k["name"]: k for k in _get(client, tokens["everyone"], "/kpis").json}
    assert set(everyone) == {"people", "water_used", "leak_share"} and "waiting" in everyone["water_used"]
    assert _get(client, tokens["everyone"], "/kpis/water_used").status_code == 503
    # Who may not read readings neither sees their KPI nor learns more by computing it.
    people_only = [k["name"] for k in _get(client, tokens["people_only"], "/kpis").json]
    assert people_only == ["people"]
    r = _get(client, tokens["people_only"], "/kpis/water_used")
    assert r.status_code == 403 and "may not read reading records" in r.json["detail"]


def test_after_init_the_kpi_computes_and_is_no_longer_marked(upgraded):
    p, client, tokens = upgraded
    assert _get(client, tokens["admin"], "/kpis/water_used").status_code == 503
    p.init()
    with p.session() as s:
        s.create("reading", {"meter": "M1", "m3": 12.5, "read_on": "2026-03-01"})
    r = _get(client, tokens["admin"], "/kpis/water_used")
    assert r.status_code == 200 and r.json["value"] == 12.5
    assert all("waiting" not in k for k in _get(client, tokens["admin"], "/kpis").json)


def test_the_document_says_so_and_the_answers_match_it(upgraded):
    _p, client, tokens = upgraded
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    compute = spec["paths"]["/api/v1/kpis/{name}"]["get"]["responses"]["503"]
    assert "xrm init" in compute["description"]
    listing = spec["paths"]["/api/v1/kpis"]["get"]
    assert "waiting" in listing["description"]
    assert "waiting" in spec["components"]["schemas"]["KPI"]["properties"]

    def check(schema, instance):
        document = {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": spec["components"]}
        jsonschema.Draft202012Validator({**document, **schema}).validate(instance)

    problem = compute["content"]["application/problem+json"]["schema"]
    body = _get(client, tokens["admin"], "/kpis/water_used").json
    check(problem, body)
    assert problem["properties"]["kpi"]["type"] == "string"
    check(listing["responses"]["200"]["content"]["application/json"]["schema"],
          _get(client, tokens["admin"], "/kpis").json)
