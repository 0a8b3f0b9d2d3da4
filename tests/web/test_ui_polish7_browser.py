"""A refused form in a real browser (Chromium, the server and demo data of
tests/web/test_browser.py): the error summary takes the keyboard focus when the page opens,
each of its links moves the focus to its input (a group's first input), and the words of a
pattern error; the record page's nested keys by their labels."""
from __future__ import annotations

import re

from test_browser import _login, _shot, chromium, page, site  # noqa: F401 — fixtures used by name


def _focused(page) -> str:  # noqa: F811
    return page.evaluate("() => document.activeElement.id")


def test_a_refused_record_form_focuses_its_summary_and_each_link_its_input(page, site):  # noqa: F811
    _login(page)
    page.goto("/r/customer/new")
    page.fill("#f-name", "Focus Test")
    page.fill("#f-national_id", "no!")
    page.fill("[name='address.country']", "iran")
    page.click("form.record button[type=submit]")
    page.wait_for_selector(".flash.summary")
    # The summary has the focus: a screen reader reads it, the next Tab goes on from it.
    assert _focused(page) == "form-errors"
    summary = page.locator("#form-errors")
    assert "is not in the required form: 5 to 20 Latin letters and digits, without spaces or other signs." in summary.inner_text()
    assert "does not match" not in summary.inner_text()
    _shot(page, "form-error-focused", full_page=True)
    # A link moves the focus to its input, the nested one too.
    summary.locator("a[href='#f-national_id']").click()
    assert _focused(page) == "f-national_id"
    country = summary.locator("a").filter(has_text=re.compile("Country"))
    country.click()
    assert _focused(page) == page.locator("[name='address.country']").get_attribute("id")
    # The keyboard: from the summary, Tab reaches its first link, Enter moves to the input.
    page.focus("#form-errors")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert _focused(page) == summary.locator("a").first.get_attribute("href")[1:]


def test_an_admin_forms_summary_takes_the_focus_in_persian(page, site):  # noqa: F811
    _login(page)
    page.click("form.lang button[value=fa]")
    page.goto("/admin/users")
    page.fill("#user-name", "manager")  # a demo user: the name is taken
    page.select_option("#user-unit", "hq")
    page.click("form.stacked button[type=submit]")
    page.wait_for_selector(".flash.summary")
    assert _focused(page) == page.locator(".flash.summary").get_attribute("id")
    page.locator(".flash.summary a[href='#user-name']").click()
    assert _focused(page) == "user-name"


def test_a_link_to_a_group_focuses_its_first_input_and_shows_its_legend(page, site):  # noqa: F811
    """A group's or list's error (said of it as a whole) links to its fieldset: the focus goes
    to its first input, with the legend in view (the script of the page, on a page of its own)."""
    base = site[0]
    page.goto(base + "/login")
    page.set_content(
        '<div class="summary" tabindex="-1" id="s"><a href="#f-phones">Phones</a></div>'
        '<div style="height: 3000px"></div>'
        '<fieldset id="f-phones" tabindex="-1"><legend id="legend">Phones</legend>'
        '<input type="hidden" name="h"><input id="f-phones.0" name="phones.0"></fieldset>'
        '<div style="height: 3000px"></div>')
    page.add_script_tag(url=base + "/static/error-summary.js")
    page.focus("#s")
    page.click("#s a")
    assert _focused(page) == "f-phones.0"
    top = page.evaluate("() => document.getElementById('legend').getBoundingClientRect().top")
    assert 0 <= top < 860, top


def test_the_record_page_names_nested_keys_by_their_labels(page, site):  # noqa: F811
    _login(page)
    page.goto("/r/customer/new")
    page.fill("#f-name", "Nested Labels")
    page.fill("[name='address.city']", "Rasht")
    page.click("form.record button[type=submit]")
    page.wait_for_url(re.compile(r"/r/customer/[^/]+$"))
    term = page.locator("dl.nested dt").filter(has_text="City")
    assert term.count() == 1 and term.get_attribute("title") == "city"
