"""Audit 4 in a real browser: values that are not Persian keep their own reading order on
the Persian (right-to-left) pages, and long values stay inside the window — where only the
browser's layout shows the difference.

Uses the server and browser of tests/web/test_browser.py (``xrm demo`` data).
"""
from __future__ import annotations

import json

from test_browser import _login, _xrm, chromium, page, site  # noqa: F401 — fixtures used by name

#: The screen position of the text's first character relative to its last one, and of the
#: text's right edge relative to its cell's (the column's alignment).
_LAYOUT = """(td) => {
  const node = td.querySelector('a') ? td.querySelector('a').firstChild : td.firstChild;
  const box = (i) => { const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
                       return r.getBoundingClientRect(); };
  const all = document.createRange(); all.selectNodeContents(td);
  return {first: box(0).left, last: box(node.length - 1).left,
          gap: td.getBoundingClientRect().right - all.getBoundingClientRect().right};
}"""


def _cell(page, text: str):
    cell = page.locator("table.records td", has_text=text).first
    return cell.evaluate(_LAYOUT)


def test_phone_numbers_and_latin_names_read_left_to_right_in_persian_lists(page):  # noqa: F811
    """A phone number "+98 912 553 9541" showed as "9541 553 912 98+" in the Persian list:
    each group of digits was laid out right to left."""
    _login(page)
    page.click("form.lang button[value=fa]")
    page.goto("/r/customer")
    phone = _cell(page, "+98 ")
    # The "+" is drawn left of the last digit, and the cell stays right-aligned like its column.
    assert phone["first"] < phone["last"], phone
    assert phone["gap"] < 15, phone
    # A Persian value in the same table still reads right to left.
    persian = _cell(page, "شخص")
    assert persian["first"] > persian["last"], persian


def test_long_values_without_spaces_stay_inside_the_window(page, site):  # noqa: F811
    """A 190-letter name, a long URL in a logged interaction: the record page was 4,000
    pixels wide (its heading, a field and the timeline entry would not wrap), the list
    2,800."""
    long_name, url = "Z" * 190, "https://example.com/" + "q" * 400
    made = json.loads(_xrm(site[1], "records", "create", "customer", "--json",
                           "--data", json.dumps({"name": long_name, "name_latin": "W" * 190})))
    _xrm(site[1], "log", made["id"], "--kind", "call", "--summary", url)
    _login(page)
    page.click("form.lang button[value=fa]")
    for path in (f"/r/customer/{made['id']}", "/r/customer?q=ZZZZ", f"/r/customer/{made['id']}/edit"):
        page.goto(path)
        assert long_name in page.content()
        width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert width[0] <= width[1], (path, width)


def test_an_english_detail_on_a_persian_error_page_keeps_its_order(page):  # noqa: F811
    """"no record 'x'" showed as "'no record 'x" (the closing quote moved to the start),
    and a pointer "/rel" as "rel/"."""
    _login(page)
    page.click("form.lang button[value=fa]")
    page.goto("/r/customer/nothing")
    detail = page.locator("main p.flash.error").evaluate(_LAYOUT)
    assert detail["first"] < detail["last"], detail  # "n" of "no" left of the closing quote
    assert detail["gap"] < 20, detail  # still aligned to the right, as the page
