"""Digits on Persian pages follow one rule (web/ui/i18n.py): every number the UI shows — a
number stored in a record (list cells, the record's fields, nested values, the timeline's
diffs), a stored date or time, the platform's times (updated, the timeline, tokens) — is
written in Persian digits with ٫ for the decimal point, as the dashboard already wrote its
KPIs. What a form's input holds, and data that is no number (codes, ids, free text), stay as
they are; English and Chinese pages keep ASCII digits."""
from __future__ import annotations

import html
import re
from datetime import datetime

import jdatetime
import pytest

from xrm_core import entity_types

from test_ui_support import Browser, text

ITEM = {
    "name": "item", "title_field": "code",
    "schema": {"type": "object", "required": ["code"], "properties": {
        "code": {"type": "string"},
        "weight": {"type": "number"},
        "delta": {"type": "number"},
        "count": {"type": "integer"},
        "due": {"type": "string", "format": "date"},
        "note": {"type": "string"},
        "price": {"type": "object", "properties": {"amount": {"type": "number"},
                                                    "at": {"type": "string", "format": "date-time"}}},
        "grade": {"type": "integer", "enum": [1, 2]},
    }},
}
DATA = {"code": "A-17", "weight": 2.5, "delta": -12.5, "count": 40, "due": "2026-03-09", "note": "room 12",
        "price": {"amount": 7.25, "at": "2026-03-09T10:05:00Z"}}


@pytest.fixture
def site(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, ITEM)
    with p.session() as s:
        rec = s.create("item", dict(DATA))
        s.update(rec.id, {"weight": 3.75, "due": "2026-04-01"})
        rec = s.get(rec.id)
    b = Browser(p)
    b.login()
    return p, b, rec


def _fa(b):
    b.post("/lang", {"lang": "fa", "next": "/"})


def _dd(page: str, label: str) -> str:
    """The shown value of the record page's field ``label``."""
    return re.search(r"<dt>%s</dt><dd>(.*?)</dd>" % re.escape(label), page, re.S).group(1)


def test_record_values_and_times_are_written_in_persian_digits(site):
    p, b, rec = site
    _fa(b)
    page = text(b.get(f"/r/item/{rec.id}"))
    assert _dd(page, "Weight") == "۳٫۷۵"
    # A minus stays left of the digits on a right-to-left line (a left-to-right mark).
    assert _dd(page, "Delta") == "\u200e-۱۲٫۵"
    assert _dd(page, "Count") == "۴۰"
    # A stored date or date-time: as a Persian reader writes one (the Solar Hijri calendar,
    # ui15), the stored text in <time>.
    assert re.fullmatch(r'<time datetime="2026-04-01" title="2026-04-01">۱۲ فروردین ۱۴۰۵</time>', _dd(page, "Due"))
    nested = page.split("<dt>Price</dt>", 1)[1].split("</dl>", 1)[0]
    assert ">۷٫۲۵<" in nested
    assert re.search(r'<time datetime="2026-03-09T10:05:00Z"[^>]*>۱۸ اسفند ۱۴۰۴[^<0-9]+۱۰:۰۵ UTC</time>', nested)
    # Codes and free text are data, not numbers: as typed.
    assert "A-17" in page and _dd(page, "Note") == "room 12"
    # The platform's times: the last change, each timeline entry.
    # Written as a Persian reader writes a date and time (web/ui/i18n.py ``moment``), the
    # stored value kept in <time datetime>.
    meta = re.search(r'<p class="meta">(.*?)</p>', page).group(1)
    on = datetime.fromisoformat(rec.updated_at.replace("Z", "+00:00")).date()
    year = str(jdatetime.date.fromgregorian(date=on).year).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    shown = re.search(r'<bdi><time datetime="%s"[^>]*>([^<]*)</time></bdi>' % re.escape(rec.updated_at), meta).group(1)
    assert year in shown and not re.search(r"[0-9]", shown)
    times = re.findall(r'<span class="at"><time datetime="[^"]+"[^>]*>([^<]*)</time></span>', page)
    assert len(times) == 2 and all(year in t and not re.search(r"[0-9T]", t) for t in times)
    # The update's diff: the old and new number and date.
    diff = re.search(r'<table class="diff">(.*?)</table>', page, re.S).group(1)
    assert ">۲٫۵<" in diff and ">۳٫۷۵<" in diff
    assert re.search(r'<time datetime="2026-03-09"[^>]*>۱۸ اسفند ۱۴۰۴</time>', diff)
    assert re.search(r'<time datetime="2026-04-01"[^>]*>۱۲ فروردین ۱۴۰۵</time>', diff)
    assert not re.search(r"[0-9]", html.unescape(re.sub(r"<[^>]+>", "", diff.replace("/weight", "").replace("/due", ""))))


def test_list_cells_and_times_are_written_in_persian_digits(site):
    p, b, rec = site
    _fa(b)
    page = text(b.get("/r/item"))
    row = re.search(r"<tbody>(.*?)</tbody>", page, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)
    assert ">A-17<" in cells[0]  # the code links the record: as stored
    assert cells[1:4] == ["۳٫۷۵", "\u200e-۱۲٫۵", "۴۰"]
    assert re.fullmatch(r'<time datetime="2026-04-01" title="2026-04-01">۱۲ فروردین ۱۴۰۵</time>', cells[4])
    assert re.fullmatch(r'<bdi><time datetime="[^"]+"[^>]*>[^<0-9T]*[۰-۹]{4}[^<0-9T]*</time></bdi>', cells[-1])


def test_form_inputs_keep_what_the_server_reads(site):
    p, b, rec = site
    _fa(b)
    page = text(b.get(f"/r/item/{rec.id}/edit"))
    # A date input of a Persian form holds the Jalali date, typed and read back as such (ui15).
    assert re.search(r'name="weight" value="3.75"', page) and re.search(r'name="due" value="1405-01-12"', page)
    assert re.search(r'name="delta" value="-12.5"', page)
    # A choice's text is shown, its value is what the form sends.
    assert '<option value="1">۱</option>' in page and '<option value="2">۲</option>' in page


@pytest.mark.parametrize("language", ["en", "zh"])
def test_english_and_chinese_pages_keep_ascii_digits(site, language):
    p, b, rec = site
    b.post("/lang", {"lang": language, "next": "/"})
    page = text(b.get(f"/r/item/{rec.id}"))
    assert "۰" not in page and "٫" not in page and "\u200e" not in page
    assert "3.75" in page and "-12.5" in page
    assert {"en": '<time datetime="2026-04-01">Apr 1, 2026</time>',
            "zh": '<time datetime="2026-04-01">2026年4月1日</time>'}[language] in page
    assert '<option value="2">2</option>' in text(b.get(f"/r/item/{rec.id}/edit"))
    row = re.search(r"<tbody>(.*?)</tbody>", text(b.get("/r/item")), re.S).group(1)
    assert re.findall(r"<td>(.*?)</td>", row, re.S)[1:4] == ["3.75", "-12.5", "40"]
