"""What an organisation trips over in the admin UI, in English, Persian and Chinese:

- the platform's times (a record's last change, the timeline, the list's "updated") were shown
  as stored, ``2026-11-27T18:59``: now as a reader of the page's language writes a date and a
  time, the stored value kept in ``<time datetime=…>``;
- a large amount was not grouped (17200000000): now with the language's group separator;
- the units page named the units only: now each with its parent and its users (linked to
  the users page filtered to the unit);
- the members of the shared ``money``/``address`` schemas had no titles ("Line1");
- a refused ``minContains`` said "has no item of the required kind", without the number.
"""
from __future__ import annotations

import re
from datetime import datetime

import jdatetime
import pytest
from babel.dates import get_month_names

from xrm_core import accounts

from test_ui_support import Browser, DeclaredPlugin, text

COMMON = "https://xrm.dev/schemas/common.json#/$defs/"
PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
DEAL = {
    "name": "deal", "title_field": "ref",
    "schema": {"type": "object", "required": ["ref"], "properties": {
        "ref": {"type": "string"},
        "price": {"$ref": COMMON + "money"},
        "year": {"type": "integer"},
        "place": {"$ref": COMMON + "address"},
        "tags": {"type": "array", "contains": {"type": "integer"}, "minContains": 2},
    }},
}


class DealPlugin(DeclaredPlugin):
    """Deals with a price, a place and tags; a note may be logged on them."""
    __name__ = "deals"
    types = [DEAL]
    activity_kinds = [{"name": "note", "label": "Note"}]


@pytest.fixture
def site(make_platform):
    p = make_platform(DealPlugin())
    with p.session() as s:
        rec = s.create("deal", {"ref": "D-1", "price": {"amount": 17200000000, "currency": "IRR"}, "year": 2026,
                                "place": {"line1": "Main 1", "city": "Gent"}, "tags": [1, 2]})
        s.log(rec.id, "note", "called")
        rec = s.get(rec.id)
    b = Browser(p)
    b.login()
    return p, b, rec


def _lang(b, lang):
    b.post("/lang", {"lang": lang, "next": "/"})


def _times(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<time datetime="([^"]+)"[^>]*>([^<]*)</time>', page)


@pytest.mark.parametrize("lang", ["en", "fa", "zh"])
def test_times_are_written_as_the_pages_language_writes_them(site, lang):
    p, b, rec = site
    _lang(b, lang)
    at = datetime.fromisoformat(rec.updated_at.replace("Z", "+00:00"))
    if lang == "fa":  # the Solar Hijri calendar of Persian pages (ui15)
        day = jdatetime.date.fromgregorian(date=at.date())
        year, month = str(day.year).translate(PERSIAN), jdatetime.date.j_months_fa[day.month - 1]
    else:
        year = str(at.year)
        month = get_month_names("abbreviated" if lang == "en" else "wide", locale=lang)[at.month]
    for path in (f"/r/deal/{rec.id}", "/r/deal"):
        times = _times(text(b.get(path)))
        assert times, path
        for stored, shown in times:
            assert datetime.fromisoformat(stored.replace("Z", "+00:00"))  # machine-readable
            assert "T" not in shown and year in shown, (path, shown)
            if lang != "zh":  # zh writes the month as a number: 2026年11月27日
                assert month in shown, (path, shown)
        assert rec.updated_at in [s for s, _ in times]
    # The record page's last change and each timeline entry.
    assert len(_times(text(b.get(f"/r/deal/{rec.id}")))) >= 3


@pytest.mark.parametrize("lang, amount", [("en", "17,200,000,000"), ("zh", "17,200,000,000"),
                                          ("fa", "۱۷٬۲۰۰٬۰۰۰٬۰۰۰")])
def test_amounts_are_grouped_and_a_year_is_not(site, lang, amount):
    p, b, rec = site
    _lang(b, lang)
    page = text(b.get(f"/r/deal/{rec.id}"))
    assert f"<dd>{amount}</dd>" in page
    assert f"<dd>{'2026'.translate(PERSIAN) if lang == 'fa' else '2026'}</dd>" in page


def test_units_page_says_each_units_parent_and_users(site):
    p, b, rec = site
    with p.connection() as conn:
        accounts.create_unit(conn, "north", "root")
        accounts.create_unit(conn, "north_a", "north")
        accounts.create_user(conn, "ann", "north_a")
        accounts.create_user(conn, "bob", "north_a")
    page = text(b.get("/admin/units"))
    item = re.search(r"<li[^>]*>north_a<(.*?)(?:<li|</ul>)", page, re.S).group(1)
    assert "in <bdi>north</bdi>" in item
    assert 'href="/admin/users?unit=north_a"' in item and "2 users" in item
    north = re.search(r"<li[^>]*>north<(.*?)<ul>", page, re.S).group(1)
    assert "0 users" in north and "in <bdi>root</bdi>" in north
    users = text(b.get("/admin/users?unit=north_a"))
    listed = re.findall(r"<tr><td>([^<]*)</td><td>", users)
    assert listed == ["ann", "bob"]
    assert '<option value="north_a" selected>' in users  # a new user goes to that unit by default
    _lang(b, "fa")
    page = text(b.get("/admin/units"))
    assert "در <bdi>north</bdi>" in page and "۲ کاربر" in page


@pytest.mark.parametrize("lang, line1, amount", [("en", "Address line 1", "Amount"),
                                                 ("fa", "نشانی، سطر ۱", "مبلغ"),
                                                 ("zh", "地址第 1 行", "金额")])
def test_common_members_have_titles(site, lang, line1, amount):
    p, b, rec = site
    _lang(b, lang)
    shown = re.findall(r"<dt[^>]*>([^<]*)</dt>", text(b.get(f"/r/deal/{rec.id}")))
    assert line1 in shown and amount in shown and "Line1" not in shown
    form = text(b.get("/r/deal/new"))
    labels = {m.group(1): m.group(2).strip() for m in re.finditer(r'<label for="f-([^"]+)"[^>]*>\s*([^<]*)', form)}
    assert labels["place.line1"] == line1 and labels["price.amount"] == amount


@pytest.mark.parametrize("lang, said", [("en", "needs at least 2 items of the required kind"),
                                        ("fa", "دست‌کم ۲ مورد از نوع خواسته‌شده لازم است"),
                                        ("zh", "至少需要 2 个所需类型的项")])
def test_a_refused_min_contains_gives_the_number(site, lang, said):
    p, b, rec = site
    _lang(b, lang)
    r = b.post(f"/r/deal/{rec.id}/edit", {"version": "1", "ref": "D-1", "tags": '[1, "a"]'})
    page = text(r)
    assert r.status_code == 422, page
    message = re.search(r'<span class="error" id="[^"]*tags[^"]*">(.*?)</span>', page, re.S).group(1)
    assert said in message
    with p.session() as s:
        assert s.get(rec.id).data["tags"] == [1, 2]


def test_users_of_a_unit_that_does_not_exist_say_so(site):
    p, b, rec = site
    r = b.get("/admin/users?unit=%3Cb%3Enope")
    page = text(r)
    assert r.status_code == 404
    assert "There is no unit &lt;b&gt;nope." in page and "<b>nope" not in page
    assert not re.findall(r"<tr><td>([^<]*)</td><td>", page)


STAMPED = {
    "name": "stamped", "title_field": "ref",
    "schema": {"type": "object", "required": ["ref"], "properties": {
        "ref": {"type": "string"},
        "due": {"type": "string", "format": "date"},
        "seen": {"type": "string", "format": "date-time"},
    }},
}


@pytest.mark.parametrize("lang, due, seen", [
    ("en", "Apr 1, 2026", "Feb 18, 2025, 5:45\u202fPM GMT+03:30"),
    ("zh", "2026年4月1日", "2025年2月18日 17:45 GMT+03:30"),
    ("fa", "۱۲ فروردین ۱۴۰۵", "۳۰ بهمن ۱۴۰۳،\u200f ۱۷:۴۵ +۰۳:۳۰ گرینویچ")])  # Solar Hijri (ui15)
def test_a_records_dates_are_written_as_the_pages_language_writes_them(make_platform, lang, due, seen):
    """A record's ``date``/``date-time`` values were shown as stored (2025-02-18T17:45:00+03:30)."""
    class Stamped(DeclaredPlugin):
        """One type with dates."""
        __name__ = "stamped"
        types = [STAMPED]
    p = make_platform(Stamped())
    with p.session() as s:
        rec = s.create("stamped", {"ref": "S", "due": "2026-04-01", "seen": "2025-02-18T17:45:00+03:30"})
    b = Browser(p)
    b.login()
    _lang(b, lang)
    page = text(b.get(f"/r/stamped/{rec.id}"))
    # A Persian page's Jalali date says the stored Gregorian one in its title too.
    title = (lambda v: f' title="{v}"') if lang == "fa" else (lambda v: "")
    assert f'<time datetime="2026-04-01"{title("2026-04-01")}>{due}</time>' in page
    assert f'<time datetime="2025-02-18T17:45:00+03:30"{title("2025-02-18T17:45:00+03:30")}>{seen}</time>' in page
    row = re.search(r"<tbody>(.*?)</tbody>", text(b.get("/r/stamped")), re.S).group(1)
    assert f'<time datetime="2026-04-01"{title("2026-04-01")}>{due}</time>' in row
