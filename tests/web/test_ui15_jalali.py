"""The Solar Hijri (Jalali) calendar of Persian pages (ui15): dates shown in it on every page
(records, lists, the timeline), typed in it into a form's date and date-time inputs and
stored as Gregorian ISO text; an impossible Jalali date refused at its input, in Persian. The
stored data, and English and Chinese pages, stay Gregorian."""
from __future__ import annotations

import re
from datetime import date, datetime, timezone

import pytest
from flask import Flask

from xrm_core import accounts, hookimpl
from xrm_core.web.ui import forms, i18n, jalali

from test_ui_support import Browser, text

VISIT = {"name": "visit", "title_field": "topic", "schema": {
    "type": "object", "required": ["topic"],
    "properties": {"topic": {"type": "string"}, "on": {"type": "string", "format": "date"},
                   "at": {"type": "string", "format": "date-time"},
                   "days": {"type": "array", "items": {"type": "string", "format": "date"}}}}}


class VisitPlugin:
    __name__ = "ui15visits"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [VISIT]


# --- conversions and the reading of typed dates -----------------------------------------

def _in(lang_code):
    """A request context whose page language is ``lang_code`` (no platform needed)."""
    flask_app = Flask("xrm_core.web")  # its root: the catalogues in xrm_core/web/translations
    flask_app.config.update(SECRET_KEY="t")
    i18n.init_app(flask_app)
    return flask_app.test_request_context(headers={"Cookie": f"{i18n.COOKIE}={lang_code}"})


@pytest.mark.parametrize("typed, iso", [
    ("1403-09-07", "2024-11-27"),
    ("۱۴۰۳/۰۹/۰۷", "2024-11-27"),          # Persian digits, slashes
    ("١٤٠٣-٠٩-٠٧", "2024-11-27"),          # Arabic-Indic digits
    ("1403/9.7", "2024-11-27"),            # mixed separators, no leading zeros
    (" 1403-01-01 ", "2024-03-20"),        # Nowruz
    ("1403-12-30", "2025-03-20"),          # Esfand 30 of a leap year
    ("1399-12-30", "2021-03-20"),          # another leap year
    ("1404-12-29", "2026-03-20"),          # the last day of a common year
    ("2024-11-27", "2024-11-27"),          # Gregorian ISO: as typed
    ("۲۰۲۴-۱۱-۲۷", "2024-11-27"),          # Gregorian in Persian digits: ISO
])
def test_a_typed_jalali_date_is_read_as_gregorian_iso(typed, iso):
    with _in("fa"):
        assert jalali.read_date(typed) == iso


@pytest.mark.parametrize("typed, said", [
    ("1402-12-30", "1402"),        # 1402 is no leap year
    ("1404-12-30", "1404"),
    ("1403-13-01", "13"),          # no 13th month
    ("1403-00-10", "0"),
    ("1403-07-31", "30"),          # Mehr has 30 days
    ("1403-01-32", "31"),
    ("1403-12-31", "30"),          # Esfand of a leap year has 30
])
def test_no_such_jalali_day_is_refused_saying_why(typed, said):
    with _in("en"):
        with pytest.raises(ValueError) as e:
            jalali.read_date(typed)
    assert said in str(e.value)


def test_the_refusal_is_in_persian_on_a_persian_page():
    with _in("fa"):
        with pytest.raises(ValueError) as e:
            jalali.read_date("1402-12-30")
    assert "کبیسه" in str(e.value) and "۱۴۰۲" in str(e.value)  # its numbers in Persian digits


@pytest.mark.parametrize("typed", ["", "yesterday", "1403-09", "14030907", "1403-09-07-01"])
def test_text_that_is_no_date_is_left_to_the_schema(typed):
    with _in("fa"):
        assert jalali.read_date(typed) is None


def test_a_typed_jalali_date_and_time():
    with _in("fa"):
        assert jalali.read_date_time("1403-09-07 14:30") == "2024-11-27T14:30:00"
        assert jalali.read_date_time("۱۴۰۳/۰۹/۰۷T۱۴:۳۰:۰۵") == "2024-11-27T14:30:05"
        assert jalali.read_date_time("2024-11-27 14:30") == "2024-11-27T14:30:00"
        assert jalali.read_date_time("1403-09-07") is None
        with pytest.raises(ValueError):
            jalali.read_date_time("1403-09-07 25:00")
        with pytest.raises(ValueError):
            jalali.read_date_time("1402-12-30 10:00")


def test_dates_are_written_in_the_jalali_calendar_on_a_persian_page_only():
    day = date(2024, 11, 27)
    with _in("fa"):
        assert jalali.long_date(day) == "7 آذر 1403"
        assert jalali.jalali_iso(date(2025, 3, 20)) == "1403-12-30"
        shown = str(i18n.stored_time("2024-11-27", "date"))
        assert shown == '<time datetime="2024-11-27" title="2024-11-27">۷ آذر ۱۴۰۳</time>'
        moment = str(i18n.moment(datetime(2024, 11, 27, 10, 0, tzinfo=timezone.utc)))
        assert "آذر ۱۴۰۳" in moment and 'datetime="2024-11-27T10:00:00+00:00"' in moment
        assert "نوامبر" not in moment
        month = str(i18n.month("2026-11-01"))  # a KPI's Gregorian month: its Jalali days in the title
        assert 'title="۱۰ آبان ۱۴۰۵ – ۹ آذر ۱۴۰۵"' in month
    with _in("en"):
        assert str(i18n.stored_time("2024-11-27", "date")) == '<time datetime="2024-11-27">Nov 27, 2024</time>'


def test_the_form_reads_jalali_only_on_a_persian_page():
    f = forms.Field(name="on", label="On", widget="date")
    g = forms.Field(name="at", label="At", widget="datetime")
    with _in("fa"):
        assert forms.parse(f, "۱۴۰۳/۰۹/۰۷") == "2024-11-27"
        assert forms.shown(f, "2024-11-27") == "1403-09-07"
        assert forms.input_type(f, "1403-09-07") == "text"
        assert forms.parse(g, "1403-09-07 14:30") == "2024-11-27T14:30:00Z"  # UTC: the server's default
        assert forms.shown(g, "2024-11-27T14:30:00Z") == "1403-09-07 14:30"
        with pytest.raises(ValueError):
            forms.parse(f, "1403-13-01")
    with _in("en"):
        assert forms.parse(f, "1403-09-07") == "1403-09-07"  # the schema judges it: Gregorian only
        assert forms.shown(f, "2024-11-27") == "2024-11-27"
        assert forms.input_type(f, "2024-11-27") == "date"


# --- pages --------------------------------------------------------------------------------

@pytest.fixture
def visits(make_platform, monkeypatch):
    monkeypatch.delenv("XRM_BABEL_DEFAULT_TIMEZONE", raising=False)
    p = make_platform(VisitPlugin())
    with p.connection() as conn:
        accounts.save_role(conn, {"name": "clerk", "grants": [
            {"type": "*", "actions": ["read", "create", "update"], "depth": "all"}]})
        accounts.create_user(conn, "reza", "root", ["clerk"], "pw", time_zone="Asia/Tehran")
    return p


def _persian(p) -> Browser:
    b = Browser(p)
    b.client.set_cookie(i18n.COOKIE, "fa")
    b.login("reza", "pw")
    return b


def _stored(p, rid):
    with p.session() as s:
        return s.get(rid).data


def test_a_persian_user_types_jalali_dates_and_gregorian_iso_is_stored(visits):
    p = visits
    b = _persian(p)
    form = text(b.get("/r/visit/new"))
    assert "1403-09-07" in form  # the hint says how to type one
    assert not re.search(r'name="on"[^>]*type="date"', form)  # no Gregorian date picker
    r = b.post("/r/visit/new", {"topic": "Delivery", "on": "۱۴۰۳/۰۹/۰۷", "at": "1403-12-30 09:00",
                                 "days.0": "1399-12-30"})
    assert r.status_code == 302, text(r)
    rid = r.headers["Location"].rsplit("/", 1)[1]
    assert _stored(p, rid) == {"topic": "Delivery", "on": "2024-11-27", "at": "2025-03-20T09:00:00+03:30",
                               "days": ["2021-03-20"]}
    page = text(b.get(f"/r/visit/{rid}"))
    assert '<time datetime="2024-11-27" title="2024-11-27">۷ آذر ۱۴۰۳</time>' in page
    assert "۳۰ اسفند ۱۴۰۳" in page and "نوامبر" not in page
    listing = text(b.get("/r/visit"))
    assert "۷ آذر ۱۴۰۳" in listing
    # The edit form shows the Jalali dates; sent back unchanged, nothing is rewritten.
    edit = text(b.get(f"/r/visit/{rid}/edit"))
    assert 'value="1403-09-07"' in edit and 'value="1403-12-30 09:00"' in edit
    r = b.post(f"/r/visit/{rid}/edit", {"topic": "Delivery", "on": "1403-09-07", "at": "1403-12-30 09:00",
                                         "days.0": "1399-12-30", "version": "1"})
    assert r.status_code == 302, text(r)
    with p.session() as s:
        assert s.get(rid).version == 1
    # A Gregorian ISO date is still read.
    r = b.post(f"/r/visit/{rid}/edit", {"topic": "Delivery", "on": "2024-12-01", "at": "1403-12-30 09:00",
                                         "days.0": "1399-12-30", "version": "1"})
    assert r.status_code == 302, text(r)
    assert _stored(p, rid)["on"] == "2024-12-01"


def test_an_impossible_jalali_date_is_refused_at_its_input_in_persian(visits):
    p = visits
    b = _persian(p)
    r = b.post("/r/visit/new", {"topic": "Delivery", "on": "1402-12-30"})
    assert r.status_code == 422
    page = text(r)
    assert re.search(r'class="error" id="err-on">[^<]*کبیسه', page), page
    r = b.post("/r/visit/new", {"topic": "Delivery", "on": "1403-13-01"})
    assert r.status_code == 422 and 'id="err-on"' in text(r)
    assert "Delivery" not in text(b.get("/r/visit"))  # nothing stored


def test_english_pages_and_the_api_stay_gregorian(visits):
    p = visits
    with p.session() as s:
        rid = s.create("visit", {"topic": "Delivery", "on": "2024-11-27"}).id
    b = Browser(p)
    b.login("reza", "pw")
    page = text(b.get(f"/r/visit/{rid}"))
    assert '<time datetime="2024-11-27">Nov 27, 2024</time>' in page
    assert 'type="date"' in text(b.get(f"/r/visit/{rid}/edit"))
