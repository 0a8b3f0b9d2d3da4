"""A Persian user in a real browser (ui15): a Jalali date typed into a form is stored as
Gregorian ISO and shown in the Jalali calendar; the first page after logging in is already
in the browser's time zone.

Reuses ``test_ui14_time_zone_browser``'s running ``xrm serve`` (the dealers plugin's
``sales_report``: a ``date`` month and a ``date-time`` submitted_at) and its Tehran browser.
Skipped or failed like ``test_browser.py`` when Chromium or Playwright is missing (run with
``CI`` set).
"""
from __future__ import annotations

import re

from playwright.sync_api import expect

from test_browser import ADMIN_PASSWORD, chromium  # noqa: F401 — fixture by name
from test_ui14_time_zone_browser import in_tehran, site  # noqa: F401 — fixtures by name


def _login_in_persian(page, next_path: str):
    page.goto(f"/login?next={next_path}")
    page.click('form.lang button[lang="fa"]')
    expect(page.locator("html")).to_have_attribute("lang", "fa")
    page.fill("input[name=username]", "admin")
    page.fill("input[name=password]", ADMIN_PASSWORD)
    page.click("section.login button[type=submit]")
    page.wait_for_url(re.compile(re.escape(next_path) + "$"))


def test_the_first_page_after_login_is_in_the_browsers_zone(in_tehran):  # noqa: F811
    _login_in_persian(in_tehran, "/preferences")
    expect(in_tehran.locator("#zone-now")).to_contain_text("Asia/Tehran")


def test_a_jalali_date_typed_into_a_form_is_stored_gregorian(in_tehran):  # noqa: F811
    page = in_tehran
    _login_in_persian(page, "/r/sales_report/new")
    page.fill("input[name=dealer_code]", "D-15")
    page.fill("input[name=month]", "۱۴۰۳/۰۹/۱۱")  # 11 Azar 1403 = 2024-12-01, in Persian digits
    page.fill("input[name=units_sold]", "3")
    page.fill("input[name=submitted_at]", "1403-09-11 10:00")
    page.click("form.record button[type=submit]")
    page.wait_for_url(re.compile(r"/r/sales_report/[^/]+$"))
    month = page.locator('time[datetime="2024-12-01"]').first
    expect(month).to_have_text("۱۱ آذر ۱۴۰۳")
    expect(page.locator('time[datetime="2024-12-01T10:00:00+03:30"]').first).to_contain_text("۱۱ آذر ۱۴۰۳")
    # An impossible one (1402 has no Esfand 30) is refused at its input.
    page.goto("/r/sales_report/new")
    page.fill("input[name=dealer_code]", "D-15")
    page.fill("input[name=month]", "1402-12-30")
    page.fill("input[name=units_sold]", "3")
    page.click("form.record button[type=submit]")
    # The refusal names the year as the page shows every number: in Persian digits.
    expect(page.locator("#err-month")).to_contain_text("۱۴۰۲")
    expect(page.locator("input[name=month]")).to_have_attribute("aria-invalid", "true")
