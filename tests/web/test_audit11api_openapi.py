"""Audit 11 (REST): an external team generates a client from /api/v1/openapi.json for a
freight forwarder's carrier plugin the project had not seen, then checks every answer it
gets against the document.

Two answers the document did not describe:

- a plugin's bug in a record event (DESIGN §4: "any exception rolls the whole change back and
  names the plugin in the error") or in a Python KPI answers 500 with a problem naming the
  plugin; no operation declared a 500, so a generated client had no type for that body;
- a Python KPI may declare its ``unit`` by language (docs/plugins.md, "a KPI's `unit`"); the
  REST API returns it as declared, an object, where the document said ``"type": "string"``.
"""
from __future__ import annotations

import types

import jsonschema
import pytest
from openapi_spec_validator import validate
from sqlalchemy import func

from xrm_core import KPI, ValidationError, accounts, hookimpl
from xrm_core.web import create_app

S2020 = "https://json-schema.org/draft/2020-12/schema"

SHIPMENT = {"name": "a11_shipment", "title_field": "reference", "unique": ["reference"],
            "schema": {"type": "object", "additionalProperties": False, "required": ["reference", "pickup_at"],
                       "properties": {"reference": {"type": "string"},
                                      "pickup_at": {"type": "string", "format": "date-time"},
                                      "delivered_at": {"type": "string", "format": "date-time"},
                                      "weight_kg": {"type": "number", "minimum": 0}}}}


class Shipments(KPI):
    """A Python KPI whose unit is given by language."""
    name = "a11_shipments"
    label = "Shipments"
    unit = {"en": "shipments", "fa": "محموله", "zh": "货件"}
    entity = "a11_shipment"
    time_field = "pickup_at"

    def compute(self, ctx):
        return ctx.measure("a11_shipment", func.count(), func.count())


class Broken(KPI):
    """A Python KPI with a bug: the platform answers 500, naming its plugin."""
    name = "a11_broken"
    label = "Broken"
    unit = "percent"
    entity = "a11_shipment"

    def compute(self, ctx):
        return {}["value"]


def freight_plugin() -> types.ModuleType:
    m = types.ModuleType("a11_freight")
    m.xrm_entity_types = hookimpl(lambda: [SHIPMENT])
    m.xrm_kpis = hookimpl(lambda: [Shipments(), Broken()])

    @hookimpl
    def xrm_record_event(event, record, changes, session):
        if record.type != "a11_shipment":
            return
        if event == "before_create" and record.data.get("weight_kg", 0) > 40000:
            raise ValidationError("too heavy for one truck", [{"pointer": "/data/weight_kg", "message": "over 40000"}])
        if event in ("after_create", "after_update", "before_delete") and record.data["reference"].startswith("BUG"):
            raise KeyError("consignee")  # the integrator's bug
    m.xrm_record_event = xrm_record_event
    return m


@pytest.fixture
def api(make_platform):
    platform = make_platform(freight_plugin())
    with platform.connection() as conn:
        headers = {"Authorization": f"Bearer {accounts.create_token(conn, 'admin')}"}
    client = create_app(platform, {"TESTING": True}).test_client()
    spec = client.get("/api/v1/openapi.json").json
    validate(spec)
    return client, headers, spec


def _check(spec, path, method, response):
    """The answer matches the schema the document gives for its status and media type."""
    declared = spec["paths"][path][method]["responses"]
    assert str(response.status_code) in declared, (method, path, response.status_code, sorted(declared))
    media = response.headers["Content-Type"].split(";")[0]
    schema = declared[str(response.status_code)]["content"][media]["schema"]
    jsonschema.Draft202012Validator({"$schema": S2020, "components": spec["components"], **schema}).validate(response.json)


def test_a_plugin_failing_in_a_record_event_answers_a_documented_500(api):
    client, headers, spec = api
    r = client.post("/api/v1/records/a11_shipment", headers=headers,
                    json={"data": {"reference": "BUG-1", "pickup_at": "2026-03-01T08:00:00+01:00"}})
    assert r.status_code == 500 and "plugin 'a11_freight' failed in xrm_record_event(after_create)" in r.json["detail"]
    _check(spec, "/api/v1/records/a11_shipment", "post", r)
    assert client.get("/api/v1/records/a11_shipment", headers=headers).json["items"] == []  # rolled back

    ok = client.post("/api/v1/records/a11_shipment", headers=headers,
                     json={"data": {"reference": "OK-1", "pickup_at": "2026-03-01T08:00:00+01:00"}}).json
    r = client.patch(f"/api/v1/records/a11_shipment/{ok['id']}", headers=headers, json={"data": {"reference": "BUG-2"}})
    assert r.status_code == 500
    _check(spec, "/api/v1/records/a11_shipment/{id}", "patch", r)
    assert client.get(f"/api/v1/records/a11_shipment/{ok['id']}", headers=headers).json["data"]["reference"] == "OK-1"
    for path, method in (("/api/v1/records/a11_shipment/{id}", "delete"), ("/api/v1/kpis", "get")):
        assert "500" in spec["paths"][path][method]["responses"], (method, path)


def test_a_plugin_refusal_is_a_documented_422(api):
    client, headers, spec = api
    r = client.post("/api/v1/records/a11_shipment", headers=headers,
                    json={"data": {"reference": "HEAVY", "pickup_at": "2026-03-01T08:00:00Z", "weight_kg": 50000}})
    assert r.status_code == 422 and r.json["errors"] == [{"pointer": "/data/weight_kg", "message": "over 40000"}]
    _check(spec, "/api/v1/records/a11_shipment", "post", r)


def test_a_python_kpi_failing_answers_a_documented_500(api):
    client, headers, spec = api
    r = client.get("/api/v1/kpis/a11_broken", headers=headers)
    assert r.status_code == 500 and "a11_freight" in r.json["detail"]
    _check(spec, "/api/v1/kpis/{name}", "get", r)


def test_a_kpi_unit_given_by_language_matches_the_documented_result(api):
    client, headers, spec = api
    client.post("/api/v1/records/a11_shipment", headers=headers,
                json={"data": {"reference": "S-1", "pickup_at": "2026-03-01T08:00:00+01:00"}})
    r = client.get("/api/v1/kpis/a11_shipments?from=2026-03-01&to=2026-03-31", headers=headers)
    assert r.status_code == 200
    assert r.json["unit"] == {"en": "shipments", "fa": "محموله", "zh": "货件"} and r.json["n"] == 1
    _check(spec, "/api/v1/kpis/{name}", "get", r)
