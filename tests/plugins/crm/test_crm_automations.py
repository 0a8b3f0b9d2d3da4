"""The crm plugin's automations: a new case is categorised, routed to its customer's dealer,
given an SLA due time; closing it needs a resolution and records the handling time; the
customer is told through the outbox (a transport hook other plugins implement). Runs on
SQLite and, with ``XRM_TEST_DATABASE_URL``, PostgreSQL."""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import xrm_crm
from xrm_core import NotFound, PluginError, ValidationError, hookimpl
from xrm_crm import cases

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/plugins: the shared fixtures
from business_org import add, business_platform, net  # noqa: E402, F401

CUSTOMER = {"name": "مریم احمدی", "mobile": "09121234567", "email": "maryam@example.ir",
            "preferred_language": "fa", "dealer_code": "D01", "region": "north"}


def _case(p, data, user="cc", unit=None):
    with p.session(user) as s:
        return s.create("case", data, unit=unit)


def _history(p, record_id, kind):
    with p.session() as s:
        return [a for a in s.history(record_id) if a["kind"] == kind]


def _stored(p, record_id):
    with p.session() as s:
        return s.get(record_id)


# -- categories and SLA: pure rules ----------------------------------------------------------

@pytest.mark.parametrize("subject, description, category", [
    ("Brake noise after service", "", "product_quality"),     # brake + noise (2) beat service (1)
    ("صدای ترمز", "", "product_quality"),                      # Persian: صدا + ترمز
    ("刹车异响", "", "product_quality"),
    ("Invoice", "I was charged twice, please refund", "billing"),
    ("گارانتي باتري", "", "warranty"),                          # Arabic yeh in the text
    ("برخورد بی\u200cاحترامی فروشنده", "", "dealer_conduct"),  # with a zero-width non-joiner
    ("预约保养", "", "after_sales"),
    ("Thank you", "", "other"),                                # no keyword: the default
    ("Repair of the warranty part", "", "warranty"),          # 1 hit each: the earlier category wins
])
def test_categorise_counts_keywords_in_any_language(subject, description, category):
    assert cases.categorise(subject, description) == category


def test_rules_name_only_case_categories_and_cover_three_languages():
    case_type = json.loads((Path(xrm_crm.__file__).parent / "types" / "case.json").read_text(encoding="utf-8"))
    allowed = set(case_type["schema"]["properties"]["category"]["enum"])
    rules = cases.rules()
    names = [c["name"] for c in rules["categories"]]
    assert set(names) <= allowed and rules["default_category"] in names and len(names) == len(set(names))
    for c in rules["categories"]:
        assert c["sla_hours"] > 0
        if c["name"] != rules["default_category"]:
            assert set(c["keywords"]) == {"en", "fa", "zh"} and all(c["keywords"].values())
    assert set(rules["kinds"]) <= set(case_type["schema"]["properties"]["kind"]["enum"])
    for texts in rules["messages"].values():
        assert set(texts) == {"en", "fa", "zh"}
    assert cases.sla_hours("product_quality") == 72 and cases.sla_hours("dealer_conduct") == 24
    assert cases.sla_hours("not_in_rules") == 72   # the default category's SLA


# -- a new case ------------------------------------------------------------------------------

def test_new_complaint_is_categorised_routed_to_the_customers_dealer_and_due_by_its_sla(net):
    (customer,) = add(net, "customer", [CUSTOMER], unit="D01")
    case = _case(net, {"kind": "complaint", "subject": "صدای ترمز", "customer_id": customer,
                       "case_number": "C-1", "opened_at": "2024-03-01T10:00:00+03:30"})
    stored = _stored(net, case.id)
    assert stored.data["category"] == "product_quality"
    assert stored.data["dealer_code"] == "D01" and stored.unit == "D01"    # cc works at hq
    assert stored.data["due_at"] == "2024-03-04T10:00:00+03:30"           # + 72 h, offset kept
    # the dealer sees it, another dealer does not
    with net.session("mgr1") as s:
        assert s.get(case.id).data["subject"] == "صدای ترمز"
    with net.session("mgr3") as s, pytest.raises(NotFound):
        s.get(case.id)


def test_the_customer_is_told_in_their_language_and_the_history_says_so(net, caplog):
    (customer,) = add(net, "customer", [CUSTOMER], unit="D01")
    with caplog.at_level(logging.INFO, logger="xrm_crm.outbox"):
        case = _case(net, {"kind": "request", "subject": "نوبت سرویس", "customer_id": customer,
                           "case_number": "C-2", "opened_at": "2024-03-01T08:00:00Z"})
    (note,) = _history(net, case.id, "notification")
    assert note["actor"] == "system"
    assert note["payload"] == {
        "event": "case_opened", "channel": "sms", "to": "09121234567", "receipt": {"transport": "log"},
        "message": "درخواست شما با شماره C-2 ثبت شد. تا 2024-03-03T08:00:00Z پاسخ خواهیم داد."}  # after_sales: 48 h
    assert note["summary"] == note["payload"]["message"]
    assert any("sms to 09121234567" in r.getMessage() and case.id in r.getMessage() for r in caplog.records)


def test_email_preference_and_a_customer_without_contact(net):
    quiet, mailer = add(net, "customer", [{"name": "No Contact", "dealer_code": "D03"},
                                          {"name": "Li Wei", "email": "li@example.cn", "preferred_channel": "email",
                                           "mobile": "13800000000", "preferred_language": "zh"}])
    unreachable = _case(net, {"kind": "complaint", "subject": "x", "customer_id": quiet})
    assert _history(net, unreachable.id, "notification") == []
    assert _stored(net, unreachable.id).unit == "D03"
    reached = _case(net, {"kind": "complaint", "subject": "刹车异响", "customer_id": mailer, "case_number": "C-3",
                          "opened_at": "2024-03-01T08:00:00Z"})
    (note,) = _history(net, reached.id, "notification")
    assert (note["payload"]["channel"], note["payload"]["to"]) == ("email", "li@example.cn")
    assert note["payload"]["message"] == "我们已收到您的工单 C-3，将于 2024-03-04T08:00:00Z 前答复。"
    assert _stored(net, reached.id).unit == "hq"     # no servicing dealer: stays where it was made


def test_given_values_are_kept_and_opened_at_defaults_to_now(net):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    case = _case(net, {"kind": "complaint", "subject": "brake noise", "category": "billing", "dealer_code": "D03"})
    data = _stored(net, case.id).data
    opened = datetime.fromisoformat(data["opened_at"])
    assert before <= opened <= datetime.now(timezone.utc) + timedelta(seconds=1)
    assert data["category"] == "billing"                                      # given: not re-categorised
    assert datetime.fromisoformat(data["due_at"]) - opened == timedelta(hours=48)   # billing's SLA
    assert _stored(net, case.id).unit == "D03"                                # a given dealer routes too
    kept = _case(net, {"kind": "complaint", "subject": "x", "opened_at": "2024-03-01T08:00:00Z",
                       "due_at": "2024-03-01T09:00:00Z"})
    assert _stored(net, kept.id).data["due_at"] == "2024-03-01T09:00:00Z"


def test_a_suggestion_is_routed_but_gets_no_category_sla_or_message(net):
    (customer,) = add(net, "customer", [CUSTOMER], unit="D01")
    case = _case(net, {"kind": "suggestion", "subject": "more brake colours", "customer_id": customer})
    stored = _stored(net, case.id)
    assert stored.unit == "D01" and not {"category", "due_at", "opened_at"} & set(stored.data)
    assert _history(net, case.id, "notification") == []


def test_an_imported_closed_case_gets_its_handling_time_and_no_message(net):
    (customer,) = add(net, "customer", [CUSTOMER], unit="D01")
    case = _case(net, {"kind": "complaint", "subject": "x", "customer_id": customer, "status": "closed",
                       "opened_at": "2024-03-01T08:00:00Z", "closed_at": "2024-03-01T23:30:00+03:30"})
    data = _stored(net, case.id).data
    assert data["handling_hours"] == 12.0 and data["due_at"] == "2024-03-04T08:00:00Z"
    assert _history(net, case.id, "notification") == []


def test_bulk_creation_routes_each_row(net):
    c1, c3 = add(net, "customer", [{"name": "a", "dealer_code": "D01"}, {"name": "b", "dealer_code": "D03"}])
    with net.session("cc") as s:
        made = s.create_many("case", [{"kind": "complaint", "subject": "refund", "customer_id": c1},
                                      {"kind": "request", "subject": "test drive", "customer_id": c3}])
    stored = [_stored(net, r.id) for r in made]
    assert [(r.unit, r.data["category"]) for r in stored] == [("D01", "billing"), ("D03", "sales")]


# -- closing ---------------------------------------------------------------------------------

def _open_case(p, customer):
    return _case(p, {"kind": "complaint", "subject": "Engine noise", "customer_id": customer, "case_number": "C-9",
                     "opened_at": "2024-03-01T08:00:00Z"})


def test_closing_records_handling_hours_and_tells_the_customer(net):
    (customer,) = add(net, "customer", [CUSTOMER | {"preferred_language": "en"}], unit="D01")
    case = _open_case(net, customer)
    with net.session("mgr1") as s:
        s.update(case.id, {"status": "resolved", "resolution": "Brake pads replaced",
                           "resolved_at": "2024-03-02T11:30:00+03:30"})      # 08:00Z: 24 h
    assert _stored(net, case.id).data["handling_hours"] == 24.0
    with net.session("mgr1") as s:
        s.update(case.id, {"status": "closed", "closed_at": "2024-03-03T20:00:00Z"})   # 60 h to closing
    data = _stored(net, case.id).data
    assert (data["handling_hours"], data["resolved_at"]) == (60.0, "2024-03-02T11:30:00+03:30")
    notes = _history(net, case.id, "notification")
    assert [n["payload"]["event"] for n in notes] == ["case_opened", "case_closed"]   # once, when resolved
    assert notes[1]["payload"]["message"] == "Your case C-9 is closed: Brake pads replaced"


def test_closing_without_a_time_stamps_now(net):
    case = _case(net, {"kind": "complaint", "subject": "x", "opened_at": "2024-03-01T08:00:00Z"})
    with net.session() as s:
        s.update(case.id, {"status": "closed", "resolution": "done"})
    data = _stored(net, case.id).data
    closed = datetime.fromisoformat(data["closed_at"])
    assert abs(closed - datetime.now(timezone.utc)) < timedelta(minutes=1)
    expected = (closed - datetime(2024, 3, 1, 8, tzinfo=timezone.utc)).total_seconds() / 3600
    assert data["handling_hours"] == round(expected, 2)


def test_closing_without_a_resolution_is_refused_and_changes_nothing(net):
    (customer,) = add(net, "customer", [CUSTOMER], unit="D01")
    case = _open_case(net, customer)
    with net.session("mgr1") as s, pytest.raises(ValidationError) as e:
        s.update(case.id, {"status": "closed", "resolution": "  "})
    assert e.value.errors == [{"pointer": "/data/resolution", "message": "required when status is closed"}]
    assert "without a resolution" in e.value.message
    stored = _stored(net, case.id)
    assert (stored.version, stored.data.get("status"), stored.data.get("resolution")) == (1, None, None)
    assert [n["payload"]["event"] for n in _history(net, case.id, "notification")] == ["case_opened"]
    assert len(_history(net, case.id, "updated")) == 0


def test_a_case_closed_before_it_opened_is_refused(net):
    case = _case(net, {"kind": "complaint", "subject": "x", "opened_at": "2024-03-05T08:00:00Z"})
    with net.session() as s, pytest.raises(ValidationError) as e:
        s.update(case.id, {"status": "closed", "resolution": "r", "closed_at": "2024-03-04T08:00:00Z"})
    assert e.value.errors[0]["pointer"] == "/data/closed_at"
    with net.session() as s, pytest.raises(ValidationError):
        s.create("case", {"kind": "complaint", "subject": "y", "opened_at": "2024-03-05T08:00:00Z",
                          "closed_at": "2024-03-04T08:00:00Z"})
    with net.session() as s:
        assert s.count("case") == 1


def test_reopening_clears_the_closing_fields(net):
    case = _case(net, {"kind": "complaint", "subject": "x", "opened_at": "2024-03-01T08:00:00Z"})
    with net.session() as s:
        s.update(case.id, {"status": "closed", "resolution": "r", "closed_at": "2024-03-02T08:00:00Z"})
        s.update(case.id, {"status": "in_progress"})
    data = _stored(net, case.id).data
    assert not {"closed_at", "resolved_at", "handling_hours"} & set(data)
    assert data["resolution"] == "r"


# -- the outbox is pluggable -----------------------------------------------------------------

class SmsAdapter:
    sent: list = []

    @hookimpl
    def xrm_crm_send_notification(self, channel, to, message):
        if channel != "sms":
            return None     # let the next transport try
        self.sent.append((to, message))
        return {"transport": "test-sms", "id": len(self.sent)}


class BrokenAdapter:
    @hookimpl
    def xrm_crm_send_notification(self, channel):
        raise RuntimeError("SMS gateway unreachable")


@pytest.fixture
def adapter(net):
    registered = []

    def register(plugin, name):
        net.pm.register(plugin, name)
        registered.append(plugin)
        return plugin
    yield register
    for plugin in registered:
        net.pm.unregister(plugin)


def test_a_transport_plugin_delivers_and_the_history_keeps_its_receipt(net, adapter, caplog):
    sms = adapter(SmsAdapter(), "test_sms")
    sms.sent.clear()
    c_sms, c_mail = add(net, "customer", [CUSTOMER, {"name": "e", "email": "e@example.com"}])
    with caplog.at_level(logging.INFO, logger="xrm_crm.outbox"):
        by_sms = _case(net, {"kind": "complaint", "subject": "x", "customer_id": c_sms, "case_number": "C-5"})
        by_mail = _case(net, {"kind": "complaint", "subject": "x", "customer_id": c_mail})
    assert len(sms.sent) == 1 and sms.sent[0][0] == "09121234567" and "C-5" in sms.sent[0][1]
    assert _history(net, by_sms.id, "notification")[0]["payload"]["receipt"] == {"transport": "test-sms", "id": 1}
    assert _history(net, by_mail.id, "notification")[0]["payload"]["receipt"] == {"transport": "log"}
    logged = [r.getMessage() for r in caplog.records]
    assert not any(by_sms.id in m for m in logged) and any(by_mail.id in m for m in logged)


def test_a_failing_transport_rolls_the_whole_change_back(net, adapter):
    adapter(BrokenAdapter(), "broken_sms")
    (customer,) = add(net, "customer", [CUSTOMER], unit="D01")
    with pytest.raises(PluginError) as e:
        _case(net, {"kind": "complaint", "subject": "x", "customer_id": customer, "case_number": "C-6"})
    assert e.value.plugin == "broken_sms" and "SMS gateway unreachable" in e.value.message
    with net.session() as s:
        assert s.count("case") == 0
        assert s.list("customer")[0].id == customer      # the earlier transaction stands


# -- input normalisation ---------------------------------------------------------------------

def test_persian_and_arabic_digits_become_ascii(net):
    (customer,) = add(net, "customer", [{"name": "x", "mobile": "۰۹۱۲ ۱۲۳ ۴۵۶۷", "national_id": "٠٠١٢٣٤٥٦٧٨"}])
    (lead,) = add(net, "lead", [{"name": "y", "mobile": "۰۹۳۵۱۱۱۲۲۳۳"}])
    assert _stored(net, customer).data | {} == {"name": "x", "mobile": "0912 123 4567", "national_id": "0012345678"}
    assert _stored(net, lead).data["mobile"] == "09351112233"
