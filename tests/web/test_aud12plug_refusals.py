"""Audit 12 (a new integrator's referral plugin, seen by an external REST team).

A record-event hook refusing with ``ValidationError("message")`` — no ``errors`` list, as
the guide's first example of refusing reads naturally — gave a 422 problem without
``errors``, while the contract (DESIGN §5) gives every validation problem an ``errors``
array of ``{pointer, message}``: a client reading ``errors`` found none. Such a refusal now
carries one error for the whole document (pointer ``""``) with the message.
"""
from __future__ import annotations

import pytest

from xrm_core import ValidationError, accounts, for_types, hookimpl
from xrm_core.web import create_app

PROBLEM = "application/problem+json"


class Sundays:
    """Refuses referrals made on a Sunday, with a message only (no ``errors``)."""

    __name__ = "sundays"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "referral", "title_field": "ref_no",
                 "schema": {"type": "object", "required": ["ref_no"],
                            "properties": {"ref_no": {"type": "string"}, "day": {"type": "string"}}}}]

    @staticmethod
    @hookimpl
    @for_types("referral")
    def xrm_record_event(event, record):
        if event in ("before_create", "before_update") and record.data.get("day") == "sunday":
            raise ValidationError("no referrals are taken on Sundays")
        if event == "before_create" and record.data.get("day") == "monday":
            raise ValidationError("Mondays are full", [{"pointer": "/data/day", "message": "full"}])


@pytest.fixture
def api(make_platform):
    platform = make_platform(Sundays())
    client = create_app(platform, {"TESTING": True}).test_client()
    with platform.connection() as conn:
        token = accounts.create_token(conn, "admin")

    def call(method, path, **kw):
        return client.open(f"/api/v1{path}", method=method, headers={"Authorization": f"Bearer {token}"}, **kw)

    return call


def test_a_refusal_without_errors_still_lists_one(api):
    r = api("POST", "/records/referral", json={"data": {"ref_no": "R1", "day": "sunday"}})
    assert r.status_code == 422 and r.mimetype == PROBLEM
    assert r.json["detail"] == "no referrals are taken on Sundays"
    assert r.json["errors"] == [{"pointer": "", "message": "no referrals are taken on Sundays"}]
    assert api("GET", "/records/referral").json["items"] == []  # nothing stored
    made = api("POST", "/records/referral", json={"data": {"ref_no": "R2"}}).json
    r = api("PATCH", f"/records/referral/{made['id']}", json={"data": {"day": "sunday"}})
    assert r.status_code == 422 and r.json["errors"] == [{"pointer": "", "message": "no referrals are taken on Sundays"}]
    assert api("GET", f"/records/referral/{made['id']}").json["version"] == 1


def test_a_refusal_with_errors_keeps_them(api):
    r = api("POST", "/records/referral", json={"data": {"ref_no": "R1", "day": "monday"}})
    assert r.status_code == 422 and r.json["errors"] == [{"pointer": "/data/day", "message": "full"}]
