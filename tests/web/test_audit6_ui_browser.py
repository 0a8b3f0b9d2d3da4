"""Audit 6 in a real browser (the server and browser of tests/web/test_browser.py, ``xrm
demo`` data): what only the browser's layout and keyboard show.

- The dashboard's plugin chips in Persian: the human name reads first (right), the
  entry-point name after it (left), kept left to right; the chips stay inside the window.
- A list sorted with the keyboard alone: Tab reaches a column heading, Enter sorts by it
  and the heading says so (aria-sort); Enter again reverses it.
- The activity-kind picker's descriptions are on screen under the log form, and the picker
  is described by them.
"""
from __future__ import annotations

from test_browser import _login, chromium, page, site  # noqa: F401 — fixtures used by name


def test_persian_plugin_chips_read_name_then_entry_point_and_fit(page):  # noqa: F811
    _login(page)
    page.click("form.lang button[value=fa]")
    page.goto("/")
    chip = page.locator('nav.chips a[href="/?plugin=crm"]')
    assert chip.inner_text().startswith("مشتری نهایی")
    name_box = chip.evaluate("""(a) => { const r = document.createRange(); r.setStart(a.firstChild, 0);
                                          r.setEnd(a.firstChild, 4); return r.getBoundingClientRect().left; }""")
    ep = chip.locator("bdi.ep").bounding_box()
    # Right to left: the entry-point name is left of the Persian name, its letters in order.
    assert ep["x"] + ep["width"] <= name_box + 1, (ep, name_box)
    first, last = chip.locator("bdi.ep").evaluate("""(b) => { const t = b.firstChild; const at = (i) => {
        const r = document.createRange(); r.setStart(t, i); r.setEnd(t, i + 1); return r.getBoundingClientRect().left; };
        return [at(0), at(t.length - 1)]; }""")
    assert first < last  # "crm", not "mrc"
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], width


def test_a_list_is_sorted_with_the_keyboard_alone(page):  # noqa: F811
    _login(page)
    page.goto("/r/customer")
    heading = page.locator("table.records thead th").first
    link = heading.locator("a.sort")
    page.locator("form.filters a", has_text="Clear").focus()
    # From the filter form's last control, Tab goes on to the first column heading's link.
    for _ in range(5):
        page.keyboard.press("Tab")
        if link.evaluate("(a) => a === document.activeElement"):
            break
    assert link.evaluate("(a) => a === document.activeElement")
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=name**")
    assert page.locator("table.records thead th").first.get_attribute("aria-sort") == "ascending"
    names = page.locator("table.records tbody tr td:first-child").all_inner_texts()
    assert names == sorted(names)
    page.locator("table.records thead th a.sort").first.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**sort=-name**")
    assert page.locator("table.records thead th").first.get_attribute("aria-sort") == "descending"


def test_the_kind_pickers_descriptions_are_shown_and_tied_to_it(page):  # noqa: F811
    _login(page)
    page.goto("/r/customer")
    page.locator("table.records tbody a").first.click()
    select = page.locator("form.log select[name=kind]")
    help_ = page.locator("#" + select.get_attribute("aria-describedby").split()[-1])
    assert help_.is_visible() and "A message the platform sent to the customer" in help_.inner_text()
    select.focus()
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.name") == "summary"
