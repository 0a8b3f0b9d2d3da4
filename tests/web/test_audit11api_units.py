"""Audit 11 (REST): a freight forwarder's head office books shipments for its stations.

DESIGN §4: a record's unit is its creator's "unless the caller sets another unit within its
own scope". The CLI (``xrm records create --unit``) and the Python API (``Session.create(...,
unit=)``) could; the REST API could not: ``{"data": …, "unit": "SHA"}`` was refused as an
unknown member, so an external team's head-office token put every shipment in the head office
and the station's agents never saw them. A POST now takes an optional ``unit``, checked
against the caller's create scope like the CLI's.
"""
from __future__ import annotations

import types

import jsonschema
import pytest

from xrm_core import accounts, hookimpl
from xrm_core.web import create_app

SHIPMENT = {"name": "a11_parcel", "title_field": "reference",
            "schema": {"type": "object", "required": ["reference"], "additionalProperties": False,
                       "properties": {"reference": {"type": "string"}}}}
ROLES = [{"name": "a11_dispatcher", "label": "Dispatcher", "grants": [
             {"type": "a11_parcel", "actions": ["read", "create"], "depth": "subtree"}]},
         {"name": "a11_station_agent", "label": "Station agent", "grants": [
             {"type": "a11_parcel", "actions": ["read", "create"], "depth": "unit"}]}]


@pytest.fixture
def api(make_platform):
    m = types.ModuleType("a11_parcels")
    m.xrm_entity_types = hookimpl(lambda: [SHIPMENT])
    m.xrm_roles = hookimpl(lambda: ROLES)
    platform = make_platform(m)
    with platform.session("admin") as s:
        s.create_unit("hq"), s.create_unit("eu", "hq"), s.create_unit("ham", "eu"), s.create_unit("sha", "hq")
        s.create_user("dispatch", "hq", ["a11_dispatcher"])
        s.create_user("ham_agent", "ham", ["a11_station_agent"])
        s.create_user("sha_agent", "sha", ["a11_station_agent"])
        s.create_user("eu_agent", "eu", ["a11_station_agent"])
    with platform.connection() as conn:
        headers = {u: {"Authorization": f"Bearer {accounts.create_token(conn, u)}"}
                   for u in ("dispatch", "ham_agent", "sha_agent", "eu_agent", "admin")}
    return create_app(platform, {"TESTING": True}).test_client(), headers


def _references(client, headers):
    return [r["data"]["reference"] for r in client.get("/api/v1/records/a11_parcel", headers=headers).json["items"]]


def test_head_office_places_a_shipment_in_a_station_within_its_scope(api):
    client, h = api
    r = client.post("/api/v1/records/a11_parcel", headers=h["dispatch"], json={"data": {"reference": "SHA-1"}, "unit": "sha"})
    assert r.status_code == 201, r.json
    assert (r.json["unit"], r.json["owner"]) == ("sha", "dispatch")
    assert _references(client, h["sha_agent"]) == ["SHA-1"]
    assert _references(client, h["ham_agent"]) == []
    # absent or null: the caller's own unit, as before
    for body in ({"data": {"reference": "HQ-1"}}, {"data": {"reference": "HQ-2"}, "unit": None}):
        assert client.post("/api/v1/records/a11_parcel", headers=h["dispatch"], json=body).json["unit"] == "hq"


@pytest.mark.parametrize("unit", ["ham", "sha", "nowhere"])
def test_a_unit_outside_the_create_scope_is_refused_and_nothing_is_stored(api, unit):
    """An existing unit outside the scope and one that does not exist get the same 403: a
    station agent cannot learn the network's unit names by trying them."""
    client, h = api
    r = client.post("/api/v1/records/a11_parcel", headers=h["eu_agent"], json={"data": {"reference": "X"}, "unit": unit})
    assert r.status_code == 403 and r.headers["Content-Type"] == "application/problem+json"
    assert r.json["detail"] == f"'eu_agent' may not create a11_parcel records in unit {unit!r}"
    assert _references(client, h["dispatch"]) == []


def test_only_a_caller_who_may_create_anywhere_hears_of_an_unknown_unit(api):
    client, h = api
    r = client.post("/api/v1/records/a11_parcel", headers=h["admin"], json={"data": {"reference": "X"}, "unit": "nowhere"})
    assert r.status_code == 404 and r.json["detail"] == "unknown unit 'nowhere'"


def test_a_unit_that_is_no_name_is_a_422_at_its_pointer(api):
    client, h = api
    r = client.post("/api/v1/records/a11_parcel", headers=h["dispatch"], json={"data": {"reference": "X"}, "unit": 5})
    assert r.status_code == 422 and r.json["errors"] == [{"pointer": "/unit", "message": "Not a valid string."}]


def test_a_patch_moves_no_record_between_units(api):
    client, h = api
    rec = client.post("/api/v1/records/a11_parcel", headers=h["dispatch"], json={"data": {"reference": "P"}}).json
    r = client.patch(f"/api/v1/records/a11_parcel/{rec['id']}", headers=h["dispatch"], json={"data": {}, "unit": "sha"})
    assert r.status_code == 422 and r.json["errors"] == [{"pointer": "/unit", "message": "Unknown field."}]


def test_the_document_describes_the_unit_member(api):
    client, _h = api
    spec = client.get("/api/v1/openapi.json").json
    body = spec["paths"]["/api/v1/records/a11_parcel"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    check = jsonschema.Draft202012Validator({"components": spec["components"], **body})
    assert check.is_valid({"data": {"reference": "A"}, "unit": "sha"})
    assert check.is_valid({"data": {"reference": "A"}, "unit": None})
    assert not check.is_valid({"data": {"reference": "A"}, "unit": 5})
