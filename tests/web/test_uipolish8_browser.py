"""A refused list filter in a real browser (Chromium, the server and demo data of
tests/web/test_browser.py), as a refused form: its error summary takes the keyboard focus
when the page opens and each of its links moves the focus to the input to correct; a
pattern of a built-in type said in its own words."""
from __future__ import annotations

from test_browser import _login, _shot, chromium, page, site  # noqa: F401 — fixtures used by name


def _focused(page) -> str:  # noqa: F811
    return page.evaluate("() => document.activeElement.id")


def test_a_refused_filter_focuses_its_summary_and_the_link_its_value(page, site):  # noqa: F811
    _login(page)
    page.goto("/r/vehicle")
    page.select_option("#filter-1-field", "model_year")
    page.select_option("#filter-1-op", "gt")
    page.fill("#filter-1-value", "twenty")
    page.click("form.filters button[type=submit]")
    page.wait_for_selector(".flash.summary")
    # The summary has the focus: a screen reader reads it, the next Tab goes on from it.
    assert _focused(page) == "filter-error"
    _shot(page, "filter-error-focused")
    summary = page.locator("#filter-error")
    summary.locator("a[href='#filter-1-value']").click()
    assert _focused(page) == "filter-1-value"
    assert page.input_value("#filter-1-value") == "twenty"  # what was typed, to correct
    # The keyboard: from the summary, Tab reaches its link, Enter moves to the input.
    page.focus("#filter-error")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert _focused(page) == "filter-1-value"


def test_an_unknown_field_in_a_link_focuses_the_rows_field_in_persian(page, site):  # noqa: F811
    """A filter on a field the type does not have (a link kept from an older version of the
    type): the summary takes the focus, its link leads to the row's field."""
    _login(page)
    page.click("form.lang button[value=fa]")
    page.goto("/r/vehicle?ff=no_such_field&fo=eq&fv=1")
    page.wait_for_selector(".flash.summary")
    assert _focused(page) == "filter-error"
    page.locator("#filter-error a").click()
    assert _focused(page) == "filter-1-field"


def test_a_vin_that_does_not_match_says_what_a_vin_is(page, site):  # noqa: F811
    _login(page)
    page.goto("/r/vehicle/new")
    page.fill("#f-vin", "WVWZZZ1JZ3W38616O")
    page.fill("#f-model", "Golf")
    page.click("form.record button[type=submit]")
    page.wait_for_selector(".flash.summary")
    said = page.locator("#err-vin").inner_text()
    assert said == "is not in the required form: 17 capital letters and digits, without I, O or Q."
