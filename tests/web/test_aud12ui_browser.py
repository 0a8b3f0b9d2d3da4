"""UI audit aud12ui in a real browser (the demo site of tests/web/test_browser.py), in
Persian, keyboard only: from the units page to a unit's users (each unit now says its parent
and how many users it has, linked), and the record page's times written in Persian words and
digits, not as stored (``2026-11-27T18:59``)."""
from __future__ import annotations

import re

from playwright.sync_api import expect

from test_browser import _login, chromium, page, site  # noqa: F401 — fixtures used by name


def test_a_units_users_are_reached_from_the_units_page_with_the_keyboard(page):  # noqa: F811
    _login(page)
    page.click("form.lang button[value=fa]")
    page.goto("/admin/units")
    link = page.locator("a[href='/admin/users?unit=D01']")
    expect(link).to_contain_text("۱ کاربر")
    expect(page.locator("ul.tree li", has=link).first).to_contain_text("در tehran")
    link.focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/admin/users\?unit=D01$"))
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("td").first).to_have_text("dealer1")


def test_the_record_pages_times_are_written_in_the_pages_language(page):  # noqa: F811
    _login(page, "dealer1", "demo")
    page.click("form.lang button[value=fa]")
    page.goto("/r/case")
    page.locator("table.records tbody tr a").first.click()
    stamp = page.locator("p.meta time")
    expect(stamp).to_have_count(1)
    shown = stamp.inner_text()
    assert re.search(r"[۰-۹]{4}", shown) and not re.search(r"[0-9]|T", shown), shown
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}.*", stamp.get_attribute("datetime"))
