"""Audit 12 (comes with the foreign patch to xrm_core/session.py): a record-event hook that
calls ``sys.exit()`` is its plugin's failure — the change rolled back, a ``PluginError``
naming the plugin and the event — not a silent ``xrm`` exit or a dropped REST connection."""
from __future__ import annotations

import sys

import pytest

from xrm_core import PluginError, accounts, hookimpl
from xrm_core.web import create_app


class ExitingHook:
    __name__ = "exitinghook"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "ward", "schema": {"type": "object", "properties": {"beds": {"type": "integer"}}}}]

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record, session):
        if event == "after_create" and record.data.get("beds") == 0:
            sys.exit(1)


def test_a_record_event_that_exits_rolls_back_and_is_named(make_platform):
    p = make_platform(ExitingHook())
    with pytest.raises(PluginError, match=r"plugin 'exitinghook' failed in xrm_record_event\(after_create\): "
                                          "SystemExit: 1"), p.session() as s:
        s.create("ward", {"beds": 0})
    with p.session() as s:
        assert s.count("ward") == 0
    client = create_app(p, {"TESTING": True}).test_client()
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    r = client.post("/api/v1/records/ward", json={"data": {"beds": 0}}, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 500 and r.mimetype == "application/problem+json"
    assert "plugin 'exitinghook' failed in xrm_record_event(after_create)" in r.json["detail"]
