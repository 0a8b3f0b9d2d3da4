"""Nested objects and lists of the record form in a real browser (Chromium, the server of
tests/web/test_browser.py): rows added and removed in the page with JavaScript, the same by
keyboard alone, and without JavaScript on the Persian (right-to-left) page."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from test_browser import _login, _records, _shot, chromium, page, site  # noqa: F401 — fixtures used by name

TYPE = {"name": "nested_browser", "label": "Contact card", "schema": {
    "type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"},
        "address": {"type": "object", "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}}},
        "phones": {"type": "array", "items": {"type": "object", "required": ["number"], "properties": {
            "number": {"type": "string"}, "label": {"type": "string"}}}},
        "tags": {"type": "array", "items": {"type": "string"}}}}}


@pytest.fixture(scope="module")
def nested_type(site):  # noqa: F811
    from xrm_core import Platform, entity_types
    p = Platform(site[1])
    try:
        with p.connection() as conn:
            entity_types.add(conn, TYPE)
    finally:
        p.dispose()
    return TYPE["name"]


def _focused(page) -> str:  # noqa: F811
    return page.evaluate("() => document.activeElement.getAttribute('name') || document.activeElement.className")


def test_rows_are_added_and_removed_in_the_page(page, site, nested_type):  # noqa: F811
    _login(page)
    page.goto(f"/r/{nested_type}/new")
    page.fill("[name=name]", "Row tester")
    page.fill("[name='address.city']", "Shiraz")
    page.fill("[name='phones.0.number']", "111")
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.click("#f-phones > button.add")
    expect(page.locator("#f-phones li.row")).to_have_count(2)
    assert requests == [] and page.url.endswith(f"/r/{nested_type}/new")  # no round trip
    assert _focused(page) == "phones.1.number"  # the new row's first input
    page.keyboard.type("222")
    page.fill("[name='phones.1.label']", "work")
    # the new row is labelled for a screen reader, like the server's rows
    assert page.locator("#f-phones li.row").nth(1).locator("legend").inner_text().startswith("Phones")
    page.locator("#f-phones li.row").nth(0).locator("button.remove").click()
    expect(page.locator("#f-phones li.row")).to_have_count(1)
    assert _focused(page) == "phones.1.number"  # focus stays in the list, on the row that moved up
    page.click("#f-tags > button.add")
    page.keyboard.type("blue")
    page.fill("[name='tags.0']", "red")
    _shot(page, "nested-inputs-rows")
    page.click("form.record > button[type=submit]:not([hidden])")
    page.wait_for_url(re.compile(rf"/r/{nested_type}/(?!new$)[^/]+$"))
    [rec] = [r for r in _records(site[1], "admin", nested_type) if r.data["name"] == "Row tester"]
    assert rec.data == {"name": "Row tester", "address": {"city": "Shiraz"},
                        "phones": [{"number": "222", "label": "work"}], "tags": ["red", "blue"]}


def test_a_list_is_used_by_keyboard_alone(page, site, nested_type):  # noqa: F811
    _login(page)
    page.goto(f"/r/{nested_type}/new")
    page.focus("[name=name]")
    page.keyboard.type("Keyboard only")
    # Tab through the address and the first phone row to the phones' add button
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement.matches('#f-phones > button.add')"):
            break
    else:
        pytest.fail(f"the add button was not reached by Tab (at {_focused(page)!r})")
    page.keyboard.press("Enter")
    assert _focused(page) == "phones.1.number"
    page.keyboard.type("333")
    page.keyboard.press("Enter")  # Enter in a text input saves the form (not the first Remove)
    page.wait_for_url(re.compile(rf"/r/{nested_type}/(?!new$)[^/]+$"))
    [rec] = [r for r in _records(site[1], "admin", nested_type) if r.data["name"] == "Keyboard only"]
    assert rec.data == {"name": "Keyboard only", "phones": [{"number": "333"}]}


def test_without_javascript_on_the_persian_page(chromium, site, nested_type):  # noqa: F811
    context = chromium.new_context(base_url=site[0], viewport={"width": 1280, "height": 860},
                                   java_script_enabled=False)
    context.set_default_timeout(15_000)
    pg = context.new_page()
    try:
        _login(pg)
        pg.click("form.lang button[value=fa]")
        pg.goto(f"/r/{nested_type}/new")
        expect(pg.locator("html")).to_have_attribute("dir", "rtl")
        pg.fill("[name=name]", "بی‌اسکریپت")
        pg.fill("[name='tags.0']", "سبز")
        pg.click("#f-tags > button.add")  # posts the form: it comes back with one more row
        pg.wait_for_url(re.compile(r"/rows$"))
        expect(pg.locator("#f-tags li.row")).to_have_count(2)
        assert pg.input_value("[name='tags.0']") == "سبز" and pg.input_value("[name=name]") == "بی‌اسکریپت"
        # right to left: the fieldset's legend starts at the right
        legend, box = pg.locator("#f-tags > legend").bounding_box(), pg.locator("#f-tags").bounding_box()
        assert box["x"] + box["width"] - (legend["x"] + legend["width"]) < 40, (legend, box)
        assert pg.locator("#f-tags > button.add").inner_text().strip().startswith("افزودن")
        _shot(pg, "nested-inputs-fa-nojs", full_page=True)
        pg.fill("[name='tags.1']", "آبی")
        pg.locator("#f-tags li.row").nth(0).locator("button.remove").click()
        pg.wait_for_url(re.compile(r"/rows$"))
        # the first row gone; the second kept as typed, and an empty row to type a new one in
        expect(pg.locator("[name='tags.0']")).to_have_count(0)
        assert pg.input_value("[name='tags.1']") == "آبی" and pg.input_value("[name='tags.2']") == ""
        assert not [r for r in _records(site[1], "admin", nested_type) if r.data["name"] == "بی‌اسکریپت"]
        pg.click("form.record > button[type=submit]:not([hidden])")
        pg.wait_for_url(re.compile(rf"/r/{nested_type}/(?!new$)[^/]+$"))
        [rec] = [r for r in _records(site[1], "admin", nested_type) if r.data["name"] == "بی‌اسکریپت"]
        assert rec.data == {"name": "بی‌اسکریپت", "tags": ["آبی"]}
    finally:
        context.close()
