"""Audit 9 in a real browser (Chromium, the server and demo data of tests/web/test_browser.py):
a form that changes something is sent once. A second press of "Log interaction" (or "Save")
while the first request was on its way — a double-click, or an impatient second press on a
slow server — was sent again, and the server wrote the interaction (the record) twice."""
from __future__ import annotations

from test_browser import _login, chromium, page, site  # noqa: F401 — fixtures used by name

#: Records, in the page, whether each submit event reached the window cancelled.
WATCH = """() => { window.__cancelled = [];
  window.addEventListener("submit", (e) => window.__cancelled.push(e.defaultPrevented)); }"""


def test_a_second_press_while_the_first_is_on_its_way_is_not_sent(page):  # noqa: F811
    _login(page)
    page.goto("/r/customer")
    page.locator("table.records tbody a").first.click()
    page.evaluate(WATCH)
    page.fill("form.log input[name=summary]", "pressed twice")
    # Two presses, the second before the page the first asked for arrives: clicked by the
    # page's own script, one after the other, and what became of each submit read at once.
    said = page.evaluate("""() => { const b = document.querySelector("form.log button[type=submit]");
                                    b.click(); b.click();
                                    return [window.__cancelled, b.form.getAttribute("aria-busy")]; }""")
    assert said == [[False, True], "true"]
    page.wait_for_load_state()
