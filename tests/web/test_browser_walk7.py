"""A staff walk through the admin UI in a real browser (Chromium, the server and demo data of
tests/web/test_browser.py), and the round-7 open items that need one:

- a dealer (unit-scoped) in Persian: a refused form keeps what was typed and ties each error
  to its input; a record linked from the link page (the relationship's description shown
  there and on the record page, the arrows pointing along the right-to-left reading order);
  a link the cardinality refuses said in Persian; an interaction logged; a CSV import with
  bad rows, its report in Persian;
- the administrator in Chinese: the users list names roles by their labels, the type page
  lists the type's relationships;
- nested inputs: a row added by the script takes the schema's defaults, a full list says so
  in its status line (by keyboard too), and a nested reference picks a record by its title.
"""
from __future__ import annotations

import re
import uuid

import pytest
from playwright.sync_api import expect

from test_browser import _login, _records, _shot, chromium, page, site  # noqa: F401 — fixtures used by name

TYPE = {"name": "walk7_card", "label": "Visit card", "schema": {
    "type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"},
        "prefs": {"type": "object", "properties": {
            "lang": {"enum": ["en", "fa"], "default": "fa"}, "level": {"type": "integer", "default": 3}}},
        "phones": {"type": "array", "maxItems": 2, "items": {"type": "object", "required": ["number"], "properties": {
            "number": {"type": "string"}, "label": {"type": "string", "default": "mobile"}}}},
        "visit": {"type": "object", "properties": {"dealer": {"type": "string", "x-ref": "dealer"},
                                                   "hours": {"type": "integer"}}}}}}


@pytest.fixture(scope="module")
def card_type(site):  # noqa: F811
    from xrm_core import Platform, entity_types
    p = Platform(site[1])
    try:
        with p.connection() as conn:
            entity_types.add(conn, TYPE)
    finally:
        p.dispose()
    return TYPE["name"]


def _persian(page):  # noqa: F811
    page.click("form.lang button[value=fa]")
    expect(page.locator("html")).to_have_attribute("dir", "rtl")


def test_a_dealer_walks_through_the_day_in_persian(page, site, tmp_path):  # noqa: F811
    _login(page, "dealer1", "demo")
    _persian(page)
    national_id = "W7" + uuid.uuid4().hex[:8].upper()
    # a refused form: what was typed is kept, the error is at its input and in the summary
    page.goto("/r/customer/new")
    page.fill("#f-name", "مشتری گشت")
    page.fill("#f-national_id", "x!")
    page.fill("#f-email", "not-an-email")
    page.click("form.record > button[type=submit]:not([hidden])")
    expect(page.locator("div.flash.error.summary")).to_be_visible()
    expect(page.locator("#f-name")).to_have_value("مشتری گشت")
    expect(page.locator("#f-email")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#err-email")).to_contain_text("ایمیل")
    assert "err-email" in page.get_attribute("#f-email", "aria-describedby").split()
    page.click("div.summary a[href='#f-email']")  # the summary's link takes the keyboard there
    assert page.evaluate("document.activeElement.id") == "f-email"
    _shot(page, "walk7-form-error-fa", full_page=True)
    page.fill("#f-national_id", national_id)
    page.fill("#f-email", "walk@example.com")
    page.click("form.record > button[type=submit]:not([hidden])")
    page.wait_for_url(re.compile(r"/r/customer/[0-9a-f]+$"))
    [rec] = _records(site[1], "dealer1", "customer", national_id=national_id)
    assert rec.unit == "D01"

    # the relationships: their descriptions, tied to the picker, arrows along the reading order
    help_list = page.locator("#rel-help")
    expect(help_list).to_contain_text("مالک است ← خودرو")
    expect(help_list).to_contain_text("مالک کنونی خودرو")  # the plugin's catalogue translates it
    assert "rel-help" in page.get_attribute("select[name=rel]", "aria-describedby")
    vehicle = next(v for v in _records(site[1], "dealer1", "vehicle") if v.unit == "D01")
    page.select_option("select[name=rel]", "customer_owns_vehicle:out")
    page.click("main form.inline button[type=submit]")
    expect(page.locator("#rel-description")).to_contain_text("مالک کنونی خودرو")
    _shot(page, "walk7-link-fa")
    # a vehicle that has its owner: offered as not available, in Persian, with no button to
    # click only to be refused
    page.fill("input[name=q]", vehicle.data.get("vin", ""))
    page.click("main form.inline button[type=submit]")
    expect(page.locator("table.list span.full").first).to_contain_text("در دسترس نیست")
    expect(page.locator("table.list span.full").first).to_contain_text("«متعلق به»")
    expect(page.locator("table.list form button[type=submit]")).to_have_count(0)
    page.goto(f"/r/customer/{rec.id}")

    # an interaction: an empty summary is refused at its input, then logged
    page.evaluate("document.querySelector('form.log input[name=summary]').removeAttribute('required')")
    page.click("form.log button[type=submit]")
    expect(page.locator("form.log input[name=summary]")).to_have_attribute("aria-invalid", "true")
    page.fill("form.log input[name=summary]", "تماس درباره سرویس")
    page.click("form.log button[type=submit]")
    expect(page.locator("#timeline li.activity.call").first).to_contain_text("تماس درباره سرویس")

    # a CSV import with bad rows: nothing imported, each problem in Persian at its line and field
    csv = tmp_path / "bad.csv"
    csv.write_text(f"name,email,national_id,kind\nخوب,g@example.com,{national_id}A,person\n"
                   f"بد,bad-mail,{national_id}B,person\n,x@example.com,{national_id}C,alien\n", encoding="utf-8")
    page.goto("/r/customer/import")
    page.set_input_files("input[name=file]", str(csv))
    page.click("main form button[type=submit]")
    expect(page.locator("div.summary")).to_contain_text("۲ سطر از ۳ سطر نامعتبر است")
    cells = page.locator("section.import-report tbody tr").all_inner_texts()
    assert any("۳" in c and "/email" in c and "ایمیل" in c for c in cells), cells
    assert any("/name" in c and "الزامی است" in c for c in cells), cells
    assert "--skip-invalid" not in page.content()
    _shot(page, "walk7-import-fa", full_page=True)
    assert _records(site[1], "admin", "customer", national_id=f"{national_id}A") == []

    # the KPIs of what the dealer may see
    page.goto("/")
    assert page.locator("article.card").count() > 0


def test_the_administrator_in_chinese_sees_role_labels_and_relationships(page):  # noqa: F811
    _login(page)
    page.click("form.lang button[value=zh]")
    page.goto("/admin/users")
    row = page.locator("tbody tr", has=page.locator("td:text-is('dealer1')"))
    expect(row.locator("td").nth(2)).to_have_text("经销商经理")
    expect(row.locator("td span[title=dealer_manager]")).to_have_count(1)
    page.goto("/types/vehicle")
    rels = page.locator("table[aria-labelledby=rel-title] tbody")
    expect(rels).to_contain_text("customer_owns_vehicle")
    expect(rels).to_contain_text("多对一")
    _shot(page, "walk7-type-zh", full_page=True)


def test_a_row_the_script_adds_takes_the_defaults_and_a_full_list_says_so(page, card_type):  # noqa: F811
    _login(page)
    page.goto(f"/r/{card_type}/new")
    expect(page.locator("[name='prefs.lang']")).to_have_value("fa")
    expect(page.locator("[name='prefs.level']")).to_have_value("3")
    expect(page.locator("[name='phones.0.label']")).to_have_value("mobile")
    page.click("#f-phones > button.add")  # the script's row
    expect(page.locator("[name='phones.1.label']")).to_have_value("mobile")
    assert page.evaluate("document.activeElement.name") == "phones.1.number"
    # full (maxItems 2): by keyboard, the button stays focused and the status line says why
    page.focus("#f-phones > button.add")
    page.keyboard.press("Enter")
    expect(page.locator("#f-phones li.row")).to_have_count(2)
    expect(page.locator("#f-phones .row-status")).to_have_text("Phones holds at most 2 items.")
    assert page.evaluate("document.activeElement.classList.contains('add')")
    page.fill("[name='phones.0.number']", "111")
    page.fill("#f-name", "Defaults")
    page.click("form.record > button[type=submit]:not([hidden])")
    page.wait_for_url(re.compile(rf"/r/{card_type}/[0-9a-f]+$"))


def test_a_nested_reference_is_picked_by_title(page, site, card_type):  # noqa: F811
    _login(page)
    dealer = _records(site[1], "admin", "dealer")[0]
    title = dealer.data["name"]
    page.goto(f"/r/{card_type}/new")
    picker = page.locator("[name='visit.dealer']")
    expect(picker).to_have_attribute("list", "dl-ref-dealer")
    assert page.locator(f"#dl-ref-dealer option[value='{dealer.id}']").count() == 1
    page.fill("#f-name", "Nested reference")
    picker.fill(title)
    page.click("form.record > button[type=submit]:not([hidden])")
    page.wait_for_url(re.compile(rf"/r/{card_type}/[0-9a-f]+$"))
    [rec] = [r for r in _records(site[1], "admin", card_type) if r.data["name"] == "Nested reference"]
    assert rec.data["visit"] == {"dealer": dealer.id}
    page.goto(f"/r/{card_type}/{rec.id}/edit")
    expect(page.locator("#cur-visit\\.dealer")).to_have_text(title)
