"""The list page's filter value suggests the values of the field chosen in its row, in a real
browser (Chromium, the server and demo data of tests/web/test_browser.py): a field picked in
the blank row brings its list along (static/filter-choices.js), another field takes it away."""
from __future__ import annotations

from test_browser import _login, chromium, page, site  # noqa: F401 — fixtures used by name


def _suggested(page) -> list[str]:  # noqa: F811
    return page.evaluate("""() => {
        const input = document.getElementById('filter-1-value');
        return input.list ? Array.from(input.list.options, o => o.value) : [];
    }""")


def test_a_field_chosen_in_a_row_brings_its_values_to_the_value_input(page, site):  # noqa: F811
    _login(page)
    page.goto("/r/case")
    assert _suggested(page) == []  # the blank row names no field yet
    page.select_option("#filter-1-field", "kind")
    assert _suggested(page) == ["Request", "Complaint", "Inquiry", "Suggestion", "Compliment"]
    page.select_option("#filter-1-field", "subject")  # any text: nothing to suggest
    assert _suggested(page) == []
    page.select_option("#filter-1-field", "kind")
    page.fill("#filter-1-value", "Complaint")
    page.click("form.filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#filter-error").count() == 0
    # The filled row keeps its field's list on the page it led to.
    assert "Complaint" in _suggested(page)
    kinds = page.locator("table.records tbody tr").all_inner_texts()
    assert kinds and all("Complaint" in row for row in kinds)
