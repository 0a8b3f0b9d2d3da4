"""UI round 10: three admin-UI leftovers, with the hospital of the audit-9 tests
(``uiaudit9_hospital``: a patient's complaints go with it, ``cascade``; a complaint's
resolution and resolution date are required once its status is "resolved", ``if/then``).

- After a delete that took records with it, the message said "Deleted." alone; it names what
  went with it now, by title, counted past a few, plural forms and languages right.
- A user who may read a record but not make a link from it (the core asks to change the
  link's source) was offered "Link" buttons the server then refused, on a link page the
  record page linked to, and "Unlink" buttons it refused too.
- A field only some cases require said "required" alone; it says why, by the form's labels.
"""
from __future__ import annotations

import html
import io
import re

import pytest
from flask_babel import force_locale

from xrm_core import accounts
from xrm_core.web.ui import deleted_with
from xrm_core.web.ui.deleted_with import Plan

from test_ui_support import Browser, DeclaredPlugin, delete_on_page, flashed, signed_in, text
from uiaudit9_hospital import HospitalPlugin, two_hospitals


@pytest.fixture
def hospital(make_platform):
    p = make_platform(HospitalPlugin())
    return p, two_hospitals(p)


def _as(p, user: str, lang: str = "en"):
    return signed_in(p, user, "pw-viewer" if user.startswith("viewer") else "pw-officer", lang)


def _complaints(p, user: str, patient: str, n: int) -> list[str]:
    ids = []
    with p.session(user) as s:
        for i in range(n):
            c = s.create("complaint", {"subject": f"Complaint {i:02d}", "status": "open",
                                       "received_at": "2026-11-22T10:00:00Z"})
            s.relate("patient_complaint", patient, c.id)
            ids.append(c.id)
    return ids


# -- 1. what a delete took with it ------------------------------------------------------------
@pytest.mark.parametrize("lang, said", [
    ("en", "Deleted Patient north 0 and 1 related record: Noise at night north."),
    ("fa", "\u2068Patient north 0\u2069 و ۱ رکورد مرتبط حذف شد: \u2068Noise at night north\u2069."),
    ("zh", "已删除 Patient north 0 及 1 条相关记录：Noise at night north。"),
])
def test_a_cascading_delete_says_what_went_with_the_record(hospital, lang, said):
    p, ids = hospital
    b = _as(p, "officer_north", lang)
    r = delete_on_page(b, "patient", ids["patient_north_0"])
    assert r.status_code == 302
    assert flashed(b, "ok") == said
    with p.session() as s:
        assert s.count("complaint", {"subject": "Noise at night north"}) == 0


def test_a_large_cascade_names_a_few_and_counts_the_rest(hospital):
    p, ids = hospital
    patient = ids["patient_north_2"]
    _complaints(p, "officer_north", patient, 8)
    b = _as(p, "officer_north")
    delete_on_page(b, "patient", patient)
    assert flashed(b, "ok") == ("Deleted Patient north 2 and 8 related records: Complaint 00, Complaint 01, Complaint 02, "
                         "Complaint 03, Complaint 04 and 3 more.")


def test_a_delete_that_took_nothing_names_the_record_alone(hospital):
    p, ids = hospital
    b = _as(p, "officer_north")
    delete_on_page(b, "complaint", ids["complaint_north"])
    assert flashed(b, "ok") == "Deleted Noise at night north."
    with p.session() as s:  # only the link to the patient went
        assert s.get(ids["patient_north_0"])


@pytest.mark.parametrize("lang, plan, said", [
    ("en", Plan(["a", "b"], {"x"}, {"a": "Bed 12", "b": "Bed 14"}),
     "Deleted Ward 3 and 3 related records: Bed 12, Bed 14, and 1 record you cannot see."),
    ("en", Plan([], {"x", "y"}, {}), "Deleted Ward 3 and 2 related records: 2 records you cannot see."),
    ("en", Plan(["a"], set(), {"a": "Bed 12"}), "Deleted Ward 3 and 1 related record: Bed 12."),
    ("zh", Plan(["a", "b"], {"x"}, {"a": "Bed 12", "b": "Bed 14"}),
     "已删除 Ward 3 及 3 条相关记录：Bed 12、Bed 14，以及1 条您无权查看的记录。"),
])
def test_records_outside_the_users_scope_are_counted_never_named(platform, lang, plan, said):
    """The core refuses a cascade into a record the user cannot see, so no delete gets here
    today; the message must still never name one (a hook may delete records too)."""
    with Browser(platform).app.test_request_context(), force_locale(lang):
        assert deleted_with.said("Ward 3", plan) == said


# -- 2. links the server would refuse are not offered -----------------------------------------
def test_a_reader_gets_the_link_page_read_only_with_the_reason(hospital):
    p, ids = hospital
    with p.session("officer_north") as s:  # a complaint with no patient yet
        s.create("complaint", {"subject": "Lost bag", "status": "open", "received_at": "2026-11-22T10:00:00Z"})
    b = _as(p, "viewer_north")
    record = text(b.get(f"/r/patient/{ids['patient_north_0']}"))
    assert "/link" not in record and 'class="unlink"' not in record  # the record page does not lead there
    page = text(b.get(f"/r/patient/{ids['patient_north_0']}/link?rel=patient_complaint:out"))
    assert "Noise at night north" in page and "Lost bag" in page  # what may be read is listed
    assert 'method="post"' not in page.split("<table", 1)[1]  # no Link button
    assert ("You may see Patient north 0 but not change it, and linking it needs that: no link is offered."
            in html.unescape(page))
    # And the server refuses what the page no longer offers.
    r = b.post(f"/r/patient/{ids['patient_north_0']}/link",
               {"rel": "patient_complaint:out", "other": ids["complaint_north"]})
    assert r.status_code == 302 and "Not linked" in text(b.followed)


@pytest.fixture
def clerk(hospital):
    """Two users of the north hospital: ``clerk_north`` reads both hospitals and changes
    its own hospital's patients and complaints; ``complaints_north`` reads its own hospital
    and changes only complaints — so may not link a complaint to a patient (the patient is
    the link's source)."""
    p, ids = hospital
    with p.connection() as conn:
        accounts.create_role(conn, "complaints_clerk")
        known = {"patient", "complaint"}
        accounts.grant(conn, "complaints_clerk", "*", ["read"], "all", known)
        accounts.grant(conn, "complaints_clerk", "complaint", ["update"], "unit", known)
        accounts.grant(conn, "complaints_clerk", "patient", ["update"], "unit", known)
        accounts.create_user(conn, "clerk_north", "north", ["complaints_clerk"], "pw-officer")
        accounts.create_role(conn, "complaints_only")
        accounts.grant(conn, "complaints_only", "*", ["read"], "unit", known)
        accounts.grant(conn, "complaints_only", "complaint", ["update"], "unit", known)
        accounts.create_user(conn, "complaints_north", "north", ["complaints_only"], "pw-officer")
    return p, ids


def test_the_record_page_offers_no_link_the_user_may_not_make(clerk):
    """May change the complaint, may not change any patient: linking the complaint to a
    patient (the patient is the link's source) was offered. Removing that link is offered
    and done: the complaint is its target, which its editor may detach (sec15,
    docs/security.md "Relating and unrelating")."""
    p, ids = clerk
    b = _as(p, "complaints_north")
    page = text(b.get(f"/r/complaint/{ids['complaint_north']}"))
    assert 'value="patient_complaint:in"' not in page
    assert 'class="unlink"' in page
    link_page = html.unescape(text(b.get(f"/r/complaint/{ids['complaint_north']}/link?rel=patient_complaint:in")))
    assert ("Linking needs permission to change the Patient record at the other end, which you do not have: "
            "no link is offered.") in link_page
    assert 'method="post"' not in link_page.split("<table", 1)[1]
    # The server agrees: it refuses the link, and removes the link it offers to remove.
    with p.session() as s:
        rel = s.related(ids["complaint_north"])[0]["relationship"]["id"]
    b.post(f"/r/complaint/{ids['complaint_north']}/unlink/{rel}")
    assert "Link removed." in text(b.followed)
    with p.session() as s:
        assert s.related(ids["complaint_north"]) == []


def test_the_link_page_marks_each_candidate_the_user_may_not_change(clerk):
    p, ids = clerk
    with p.session("officer_north") as s:  # a complaint with no patient yet: each may link to it
        complaint = s.create("complaint", {"subject": "Lost bag", "status": "open",
                                           "received_at": "2026-11-22T10:00:00Z"}).id
    b = _as(p, "clerk_north")
    page = html.unescape(text(b.get(f"/r/complaint/{complaint}/link?rel=patient_complaint:in")))
    rows = dict(re.findall(r'<tr>\s*<td><a href="/r/patient/(\w+)">.*?</a></td>\s*<td>(.*?)</td>', page, re.S))
    for i in range(3):
        assert "not available: you may not change it" in rows[ids[f"patient_south_{i}"]]
    assert "<button" in rows[ids["patient_north_1"]]
    # What is offered, the server does; what is not, it refuses.
    b.post(f"/r/complaint/{complaint}/link", {"rel": "patient_complaint:in", "other": ids["patient_south_1"]})
    assert "Not linked" in text(b.followed)
    b.post(f"/r/complaint/{complaint}/link", {"rel": "patient_complaint:in", "other": ids["patient_north_1"]})
    assert "Linked." in text(b.followed)


# -- 3. why a field is required -------------------------------------------------------------
def test_an_import_row_says_why_a_field_is_required(hospital):
    p, _ = hospital
    b = _as(p, "officer_north", "zh")
    b.get("/r/complaint/import")
    csv = "subject,status,received_at,resolution\nCold meals,resolved,2026-11-22T10:00:00Z,apologised\n".encode()
    r = b.post("/r/complaint/import", {"file": (io.BytesIO(csv), "c.csv")}, content_type="multipart/form-data")
    assert "<td>状态为已解决时必填</td>" in html.unescape(text(r))
    with p.session() as s:
        assert s.count("complaint", {"subject": "Cold meals"}) == 0


def test_a_field_required_by_another_says_which_by_its_label(make_platform):
    """``dependentRequired``, in Persian: the field that requires it by its label."""
    from test_ui_records import TaskPlugin
    from conftest import PersonPlugin
    p = make_platform(PersonPlugin(), TaskPlugin())
    b = signed_in(p, "admin", "", "fa")
    r = b.post("/r/task/new", {"title": "Call back", "urgent": "on"})
    assert r.status_code == 422
    errors = dict(re.findall(r'<span class="error" id="err-(\w+)">([^<]*)</span>', html.unescape(text(r))))
    assert errors["due"] == "الزامی است وقتی \u2068Urgent\u2069 پر شده باشد"


class ShipmentPlugin(DeclaredPlugin):
    """shipping — a condition inside a nested object, on a member with a value label."""

    __name__ = "shipping"
    types = [{"name": "shipment", "title_field": "ref",
              "value_labels": {"payment.method": {"card": {"en": "Card", "fa": "کارت", "zh": "银行卡"}}},
              "schema": {"type": "object", "required": ["ref"], "properties": {
                  "ref": {"type": "string"},
                  "payment": {"type": "object", "properties": {
                      "method": {"title": "Payment method", "enum": ["card", "cash"]},
                      "card_number": {"title": "Card number", "type": "string"}},
                      "if": {"properties": {"method": {"const": "card"}}, "required": ["method"]},
                      "then": {"required": ["card_number"]}}}}}]


def test_a_condition_inside_a_nested_object_is_said_by_its_members_labels(make_platform):
    p = make_platform(ShipmentPlugin())
    b = signed_in(p, "admin", "")
    r = b.post("/r/shipment/new", {"ref": "S-1", "payment": '{"method": "card"}'})
    assert r.status_code == 422
    assert "required when Payment method is Card" in html.unescape(text(r))
    with p.session() as s:
        assert s.count("shipment") == 0
