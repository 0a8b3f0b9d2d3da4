"""A Persian page's list filters read a date the way its forms do (ui15): a Jalali date
typed into a date or date-time filter (``۱۴۰۳/۰۹/۰۷``) is compared as the Gregorian ISO date
it names; a Jalali date that does not exist is refused at the filter row's value, nothing
listed; English pages read the filter as typed."""
from __future__ import annotations

import pytest
from test_ui15_jalali import VisitPlugin, _persian
from test_ui_support import Browser, text

from xrm_core import accounts


@pytest.fixture
def visits(make_platform):
    p = make_platform(VisitPlugin())
    with p.connection() as conn:
        accounts.save_role(conn, {"name": "clerk", "grants": [
            {"type": "*", "actions": ["read", "create", "update"], "depth": "all"}]})
        accounts.create_user(conn, "reza", "root", ["clerk"], "pw", time_zone="Asia/Tehran")
    with p.session() as s:
        for topic, on, at in [("Autumn", "2024-11-27", "2024-11-27T08:00:00+03:30"),
                              ("Nowruz", "2025-03-21", "2025-03-21T10:00:00+03:30"),
                              ("Summer", "2024-07-01", "2024-07-01T09:00:00+03:30")]:
            s.create("visit", {"topic": topic, "on": on, "at": at})
    return p


def _topics(page: str) -> set[str]:
    body = page[page.index("<tbody"):]
    return {t for t in ("Autumn", "Nowruz", "Summer") if t in body}


def test_a_jalali_date_filters_a_date_field(visits):
    b = _persian(visits)
    assert _topics(text(b.get("/r/visit?ff=on&fo=eq&fv=۱۴۰۳/۰۹/۰۷"))) == {"Autumn"}
    assert _topics(text(b.get("/r/visit?ff=on&fo=gte&fv=1403-09-01"))) == {"Autumn", "Nowruz"}
    assert _topics(text(b.get("/r/visit?ff=on&fo=in&fv=1403-04-11،1404-01-01"))) == {"Summer", "Nowruz"}
    # A Gregorian ISO date is still read.
    assert _topics(text(b.get("/r/visit?ff=on&fo=lt&fv=2024-08-01"))) == {"Summer"}


def test_a_jalali_date_filters_a_date_time_field_from_that_day(visits):
    b = _persian(visits)
    assert _topics(text(b.get("/r/visit?ff=at&fo=gte&fv=1404/01/01"))) == {"Nowruz"}


def test_a_jalali_day_that_does_not_exist_is_refused_at_the_row(visits):
    b = _persian(visits)
    r = b.get("/r/visit?ff=on&fo=eq&fv=1402-12-30")  # 1402 is no leap year
    page = text(r)
    assert r.status_code == 200 and 'role="alert"' in page
    assert 'href="#filter-1-value"' in page
    assert _topics(page) == set()


def test_an_english_page_reads_the_filter_as_typed(visits):
    b = Browser(visits)
    b.login("reza", "pw")
    assert _topics(text(b.get("/r/visit?ff=on&fo=eq&fv=2024-11-27"))) == {"Autumn"}
    # 1403-09-07 is no Gregorian date anyone stored: nothing matches, nothing converted.
    assert _topics(text(b.get("/r/visit?ff=on&fo=eq&fv=1403-09-07"))) == set()
