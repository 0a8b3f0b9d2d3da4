"""The vrm_suppliers automation: a new defect report on a part is forwarded to its supplier
(told through the supplier outbox) and the supplier's clock starts (response_due_at from
the supply agreement). Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import logging
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from xrm_core import PluginError, hookimpl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, net  # noqa: E402, F401

SUPPLIERS = [
    {"code": "S1", "name": "Brake Systems Co.", "email": "quality@s1.example"},
    {"code": "S2", "name": "شرکت قطعه‌سازان", "phone": "+98 21 5555 0000"},
    {"code": "S3", "name": "No contact Ltd."},
    {"code": "S4", "name": "Second source", "email": "qa@s4.example"},
]
AGREEMENTS = [
    {"agreement_number": "A1", "supplier_code": "S1", "part_number": "P-100", "valid_from": "2024-01-01",
     "response_hours": 48},
    {"agreement_number": "A0", "supplier_code": "S1", "valid_from": "2023-01-01", "response_hours": 72},   # frame
    {"agreement_number": "A2", "supplier_code": "S2", "part_number": "P-200", "valid_from": "2024-01-01",
     "valid_to": "2024-12-31", "response_hours": 24},
    {"agreement_number": "A2-old", "supplier_code": "S2", "part_number": "P-200", "valid_from": "2020-01-01",
     "valid_to": "2023-12-31", "response_hours": 240},                                               # expired
    {"agreement_number": "A3", "supplier_code": "S3", "part_number": "P-300", "valid_from": "2024-01-01",
     "response_hours": 24},
    {"agreement_number": "A4", "supplier_code": "S4", "part_number": "P-100", "valid_from": "2024-01-01",
     "response_hours": 12},                                                              # P-100 is dual-sourced
    {"agreement_number": "A5", "supplier_code": "S4", "part_number": "P-400", "valid_from": "2024-01-01",
     "status": "draft", "response_hours": 12},                                                     # not in effect
]


@pytest.fixture
def supply(net):
    add(net, "supplier", SUPPLIERS, unit="hq")
    add(net, "supply_agreement", AGREEMENTS, unit="hq")
    return net


def _report(p, data, user="sqe"):
    base = {"quantity": 3, "detected_at": "2024-03-01T08:00:00Z"}
    with p.session(user) as s:
        rec = s.create("defect_report", base | data)
    with p.session() as s:
        return s.get(rec.id)


def _notices(p, record_id):
    with p.session() as s:
        return [a for a in s.history(record_id) if a["kind"] == "supplier_notice"]


def test_a_report_is_forwarded_to_its_supplier_and_the_clock_starts(supply, caplog):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    with caplog.at_level(logging.INFO, logger="xrm_vrm_suppliers.outbox"):
        report = _report(supply, {"part_number": "P-100", "supplier_code": "S1", "report_number": "DR-1",
                                  "lot": "L7"})
    data = report.data
    forwarded = datetime.fromisoformat(data["forwarded_at"])
    assert before <= forwarded <= datetime.now(timezone.utc) + timedelta(seconds=1)
    assert data["status"] == "forwarded"
    # the part's own agreement (48 h) wins over the frame agreement (72 h)
    assert datetime.fromisoformat(data["response_due_at"]) - forwarded == timedelta(hours=48)
    (notice,) = _notices(supply, report.id)
    assert notice["actor"] == "system"
    assert notice["payload"] == {
        "event": "defect_forwarded", "channel": "email", "to": "quality@s1.example", "receipt": {"transport": "log"},
        "message": f"Defect report DR-1: 3 defective P-100 (lot L7) detected 2024-03-01T08:00:00Z. "
                   f"Please acknowledge by {data['response_due_at']}."}
    assert any("email to quality@s1.example" in r.getMessage() for r in caplog.records)


def test_the_only_supplier_of_a_part_is_found_by_its_agreement(supply):
    report = _report(supply, {"part_number": "P-200", "detected_at": "2024-06-01T10:00:00+03:30"})
    assert (report.data["supplier_code"], report.data["status"]) == ("S2", "forwarded")
    forwarded = datetime.fromisoformat(report.data["forwarded_at"])
    assert datetime.fromisoformat(report.data["response_due_at"]) - forwarded == timedelta(hours=24)   # A2, not A2-old
    (notice,) = _notices(supply, report.id)
    assert (notice["payload"]["channel"], notice["payload"]["to"]) == ("phone", "+98 21 5555 0000")


def test_the_agreement_in_effect_on_the_detection_day_sets_the_due_time(supply):
    # Detected in 2023: A2 is not yet valid, A2-old (240 h) is. Forwarded at import time.
    report = _report(supply, {"part_number": "P-200", "supplier_code": "S2", "detected_at": "2023-11-30T08:00:00Z",
                              "forwarded_at": "2023-12-01T10:00:00+03:30", "status": "forwarded"})
    assert report.data["response_due_at"] == "2023-12-11T10:00:00+03:30"
    assert _notices(supply, report.id) == []            # forwarded before: nobody is told again
    frame = _report(supply, {"part_number": "P-999", "supplier_code": "S1", "forwarded_at": "2024-03-01T10:00:00Z"})
    assert frame.data["response_due_at"] == "2024-03-04T10:00:00Z"          # the frame agreement: 72 h
    draft = _report(supply, {"part_number": "P-400", "supplier_code": "S4"})
    assert draft.data["status"] == "forwarded" and "response_due_at" not in draft.data   # draft: no SLA


def test_a_dual_sourced_part_waits_for_its_supplier_to_be_named(supply):
    report = _report(supply, {"part_number": "P-100"})
    assert report.data.get("status") is None and not {"supplier_code", "forwarded_at"} & set(report.data)
    assert _notices(supply, report.id) == []
    with supply.session("sqe") as s:
        s.update(report.id, {"supplier_code": "S4"})
    with supply.session() as s:
        data = s.get(report.id).data
    assert data["status"] == "forwarded"
    assert datetime.fromisoformat(data["response_due_at"]) - datetime.fromisoformat(data["forwarded_at"]) \
        == timedelta(hours=12)
    assert [n["payload"]["to"] for n in _notices(supply, report.id)] == ["qa@s4.example"]


def test_an_unreachable_or_unknown_supplier_is_not_forwarded(supply):
    for data in ({"part_number": "P-300"}, {"part_number": "P-100", "supplier_code": "S9"}):
        report = _report(supply, data)
        assert not {"forwarded_at", "response_due_at", "status"} & set(report.data)
        assert _notices(supply, report.id) == []


class BrokenPortal:
    @hookimpl
    def xrm_vrm_send_notification(self, to):
        raise ConnectionError(f"portal refused {to}")


def test_a_failing_transport_rolls_the_report_back(supply):
    supply.pm.register(BrokenPortal(), "broken_portal")
    try:
        with pytest.raises(PluginError) as e:
            _report(supply, {"part_number": "P-100", "supplier_code": "S1"})
    finally:
        supply.pm.unregister(name="broken_portal")
    assert e.value.plugin == "broken_portal" and "portal refused quality@s1.example" in e.value.message
    with supply.session() as s:
        assert s.count("defect_report") == 0
