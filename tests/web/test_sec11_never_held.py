"""Security review: the list page's refusal of a never-held filter value (ui/never_held.py)
echoes the value the user typed, worded by the UI itself; it must reach the page escaped,
on the list and on the CSV export's error page, in every language."""
from __future__ import annotations

import re

import pytest

from xrm_core import entity_types

from test_ui_support import Browser, text

KIND = {"name": "s11_member", "title_field": "name",
        "value_labels": {"kind": {"adult": {"en": "Adult", "fa": "بزرگسال"}}},
        "schema": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"}, "kind": {"enum": ["adult", "child"]}}}}
PROBE = '<img src=x onerror="alert(1)">'


@pytest.fixture
def browser(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, KIND)
    b = Browser(p)
    b.login()
    return b


@pytest.mark.parametrize("lang", ["en", "fa"])
@pytest.mark.parametrize("path", ["/r/s11_member", "/r/s11_member/export.csv"])
def test_the_typed_value_is_escaped_in_the_refusal(browser, lang, path):
    browser.post("/lang", {"lang": lang, "next": "/"})
    r = browser.get(path, query_string={"ff": "kind", "fo": "in", "fv": PROBE})
    page = text(r)
    assert r.status_code == (200 if path == "/r/s11_member" else 422)
    refusal = re.search(r'id="filter-error"[^>]*>(.*?)</div>|<ul class="errors">(.*?)</ul>', page, re.S)
    assert "&lt;img src=x onerror=" in refusal.group(0)      # the value is said in the refusal…
    assert PROBE not in page and "<img" not in page          # …as text, never as markup
