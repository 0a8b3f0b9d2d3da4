"""UI audit 12 in a real browser (the demo site of tests/web/test_browser.py), keyboard only,
in Persian: a filter value no record can hold is refused in the page's language and by the
labels, the summary takes the focus, and its link takes the keyboard to the value to correct
with a visible focus."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from test_browser import _login, chromium, page, site  # noqa: F401 — fixtures used by name


def test_a_never_held_filter_value_is_corrected_with_the_keyboard_in_persian(page):  # noqa: F811
    _login(page)
    page.click("form.lang button[value=fa]")
    page.goto("/r/case?ff=kind&fo=eq&fv=complain")
    summary = page.locator("#filter-error")
    # The summary has the focus when the page opens, and says it in Persian by the labels.
    expect(summary).to_be_focused()
    said = summary.inner_text()
    assert "هیچ رکوردی" in said and "complain" in said and " is not among" not in said
    assert not re.search(r"\(request, complaint", said)
    # Tab reaches its link; Enter moves the focus to the value input, drawn as focused.
    page.keyboard.press("Tab")
    expect(page.locator("#filter-error a[href='#filter-1-value']")).to_be_focused()
    page.keyboard.press("Enter")
    value = page.locator("#filter-1-value")
    expect(value).to_be_focused()
    ring = value.evaluate("e => { const s = getComputedStyle(e); return s.outlineStyle !== 'none' "
                          "&& parseFloat(s.outlineWidth) > 0 || s.boxShadow !== 'none'; }")
    assert ring
    # Corrected from the keyboard: the list then shows records, no refusal.
    page.keyboard.press("Control+A")
    page.keyboard.type("complaint")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"fv=complaint(&|$)"))
    expect(page.locator("#filter-error")).to_have_count(0)
    expect(page.locator("table.records tbody tr").first).to_be_visible()
