"""Audit 9: the admin UI as a hospital's patient-relations staff use it, in two hospitals
(units) with different roles, with a plugin the platform's developers had not seen
(``uiaudit9_hospital``: patients, complaints, compliments, follow-up calls — nested objects,
lists of objects, enums, dates and date-times, references, patterns with and without a
description, fields required under ``if/then``).

What was found and is checked here:
- a list's reference column (a complaint's patient) showed the patient's opaque id; it
  shows the patient's name now, and a record of another hospital still by its id only;
- a delete a ``restrict`` link refused said "cannot delete 01a2…: its relationship type(s)
  patient_compliment restrict deleting the source", in English on every page; it names the
  linked record by its title and the link by its label now, in the page's language;
- a field required only under ``if/then`` (a resolved complaint's resolution) was refused
  with '"resolved_on" is a required property' on the English form and import report — the
  field's key, in schema words — where every other missing field says "required"; and once
  the core words that requirement with its reason, the Persian and Chinese pages showed the
  core's English (they worded their errors without the schema the core used);
- the delete page said only "each relationship type's rule decides": it lists what goes
  with the record, what keeps it from being deleted and the links merely removed.
"""
from __future__ import annotations

import html
import io
import re

import pytest

from uiaudit9_hospital import HospitalPlugin, two_hospitals
from test_ui_support import Browser, delete_on_page, flashed, signed_in, text


@pytest.fixture
def hospital(make_platform):
    p = make_platform(HospitalPlugin())
    return p, two_hospitals(p)


def _as(p, user: str, lang: str = "en") -> Browser:
    return signed_in(p, user, "pw-officer", lang)


def _cells(page: str) -> list[str]:
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td>(.*?)</td>", body, re.S)]


def test_a_lists_reference_column_names_the_patient_not_its_id(hospital):
    p, ids = hospital
    # A complaint of the north hospital naming a patient of the south one (typed by id).
    with p.session("officer_north") as s:
        s.create("complaint", {"subject": "Lost bag", "status": "open", "received_at": "2026-11-22T10:00:00Z",
                               "patient": ids["patient_south_0"]})
    cells = _cells(text(_as(p, "officer_north").get("/r/complaint?sort=subject")))
    assert "Patient north 0" in cells and ids["patient_north_0"] not in cells
    # The other hospital's patient: its id (what was stored), never its name.
    assert ids["patient_south_0"] in cells and "Patient south 0" not in cells


@pytest.mark.parametrize("lang, said", [
    ("en", "Not deleted: it is linked to Kind nurses north («gave»)"),
    # The sentence itself is in the catalogues; the link's label is the plugin's own. On the
    # right-to-left page each name keeps its own reading order (FSI … PDI).
    ("fa", "\u2068Kind nurses north\u2069 («\u2068داد\u2069»)"),
    ("zh", "Kind nurses north（«给出»）"),
])
def test_a_restricted_delete_names_the_linked_record_and_the_link(hospital, lang, said):
    p, ids = hospital
    b = _as(p, "officer_north", lang)
    r = delete_on_page(b, "patient", ids["patient_north_1"])
    assert r.status_code == 302
    flash = flashed(b, "error")
    assert said in flash, flash
    for raw in (ids["patient_north_1"], ids["compliment_north"], "patient_compliment", "restrict"):
        assert raw not in flash, (raw, flash)
    with p.session("officer_north") as s:
        assert s.get(ids["patient_north_1"])


@pytest.mark.parametrize("lang, required", [
    ("en", "required when Status is Resolved"),
    # The field's and the value's labels each in its own reading order (FSI … PDI).
    ("fa", "الزامی است وقتی \u2068وضعیت\u2069 برابر \u2068حل‌شده\u2069 است"),
    ("zh", "状态为已解决时必填")])
def test_a_field_required_under_a_condition_says_required_in_every_language(hospital, lang, required):
    """In Persian and Chinese too: the page words the core's errors afresh and matches them
    with the core's by their text, so it must word them from the same schema (the core's
    text of a requirement under ``if/then`` says why, from the schema). Since ui10 the
    field says why too, by the labels the form shows (it said "required" alone)."""
    p, ids = hospital
    b = _as(p, "officer_north", lang)
    b.get("/r/complaint/new")
    r = b.post("/r/complaint/new", {"subject": "Cold meals", "status": "resolved", "received_at": "2026-11-22T10:00"})
    page = html.unescape(text(r))
    assert r.status_code == 422
    errors = dict(re.findall(r'<span class="error" id="err-([\w.-]+)">([^<]*)</span>', page))
    assert errors == {"resolution": required, "resolved_on": required}
    assert "required property" not in page and "required here" not in page


def test_an_import_row_missing_a_required_field_says_required_in_english(hospital):
    p, _ = hospital
    b = _as(p, "officer_north")
    b.get("/r/patient/import")
    csv = "name,mrn\n,MRN-900003\n".encode()
    r = b.post("/r/patient/import", {"file": (io.BytesIO(csv), "p.csv")}, content_type="multipart/form-data")
    page = html.unescape(text(r))
    assert "is a required property" not in page
    assert re.search(r"<td>required</td>", page), page[page.find("import-report"):][:1500]


def test_the_delete_page_says_what_goes_with_the_record_and_what_holds_it(hospital):
    """Before: "It has 1 link(s) … each relationship type's rule decides" on both pages."""
    p, ids = hospital
    b = _as(p, "officer_north")
    cascade = html.unescape(text(b.get(f"/r/patient/{ids['patient_north_0']}/delete")))
    assert re.search(r'<li class="cascade">Deleted with it:\s*<a href="/r/complaint/%s">'
                     r'<bdi>Noise at night north</bdi></a> \(«<bdi>filed</bdi>»\)</li>' % ids["complaint_north"],
                     cascade)
    restrict = html.unescape(text(b.get(f"/r/patient/{ids['patient_north_1']}/delete")))
    assert re.search(r'<li class="restrict">Keeps it from being deleted \(remove the link first\):\s*'
                     r'<a href="/r/compliment/%s"><bdi>Kind nurses north</bdi></a> \(«<bdi>gave</bdi>»\)</li>'
                     % ids["compliment_north"], restrict)
    # From the complaint's side the patient's link is only removed.
    other = html.unescape(text(b.get(f"/r/complaint/{ids['complaint_north']}/delete")))
    assert re.search(r'<li class="unlink">Only the link is removed:\s*<a href="/r/patient/[^"]+">'
                     r'<bdi>Patient north 0</bdi></a> \(«<bdi>filed by</bdi>»\)</li>', other)
