"""An admin form's error in a real browser (Chromium, the server and demo data of
tests/web/test_browser.py), in Persian, right to left: the summary's link moves the focus to
the refused input, which Chromium reads as invalid and described by its message, drawn under
the input on its right-hand (starting) side; what was typed is kept. No JavaScript is involved."""
from __future__ import annotations

import re

from test_browser import _login, _shot, chromium, page, site  # noqa: F401 — fixtures used by name


def test_a_refused_user_form_is_corrected_from_its_summary_right_to_left(page, site):  # noqa: F811
    _login(page)
    page.click("form.lang button[value=fa]")
    page.goto("/admin/users")
    page.fill("#user-name", "manager")  # a demo user: the name is taken
    page.select_option("#user-unit", "hq")
    page.click("form.stacked button[type=submit]")
    page.wait_for_selector(".flash.summary")
    summary = page.locator(".flash.summary")
    assert summary.get_attribute("role") == "alert"
    link = summary.locator("a[href='#user-name']")
    assert link.count() == 1
    _shot(page, "form-errors-users-fa", full_page=True)
    link.focus()
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "user-name"
    field = page.locator("#user-name")
    assert field.input_value() == "manager" and page.locator("#user-unit").input_value() == "hq"
    # Chromium's accessibility tree: invalid, and described by the message beside it.
    cdp = page.context.new_cdp_session(page)
    nodes = cdp.send("Accessibility.getFullAXTree")["nodes"]
    cdp.detach()
    node = next(n for n in nodes if (n.get("name") or {}).get("value", "").startswith("نام")
                and (n.get("role") or {}).get("value") == "textbox")
    props = {p["name"]: p["value"].get("value") for p in node.get("properties", [])}
    assert props.get("invalid") in ("true", True), props
    described = (node.get("description") or {}).get("value", "")
    assert "manager" in described and re.search("[\u0600-\u06ff]", described), described
    # Right to left: the message starts where the input's label starts, on the right, just
    # under the input.
    box, error = field.bounding_box(), page.locator("#user-name-error").bounding_box()
    label = page.locator("label:has(#user-name)").bounding_box()
    right = lambda b: b["x"] + b["width"]  # noqa: E731
    assert abs(right(label) - right(error)) < 4 and right(error) >= right(box), (label, box, error)
    assert 0 <= error["y"] - (box["y"] + box["height"]) < 30, (box, error)
