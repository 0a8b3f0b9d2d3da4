"""The list page's refusal of a filter value no record can hold (a typo): said with the
field's and the values' labels, in the page's language — it showed the stored values and,
on a Persian or Chinese page, the core's English sentence."""
from __future__ import annotations

import html
import re

import pytest

from xrm_core import entity_types

from test_ui_support import Browser, text

KIND = {
    "name": "member", "title_field": "name",
    "field_labels": {"kind": {"en": "Membership", "fa": "نوع عضویت", "zh": "会员类型"}},
    "value_labels": {"kind": {"adult": {"en": "Adult", "fa": "بزرگسال", "zh": "成人"},
                              "child": {"en": "Child", "fa": "کودک", "zh": "儿童"}}},
    "schema": {"type": "object", "required": ["name"], "properties": {
        "name": {"type": "string"}, "kind": {"enum": ["adult", "child"]}}},
}


@pytest.fixture
def site(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, KIND)
    with p.session() as s:
        s.create("member", {"name": "Ana", "kind": "adult"})
    b = Browser(p)
    b.login()
    return p, b


def _summary(page: str) -> str:
    return html.unescape(re.search(r'id="filter-error"[^>]*>(.*?)</div>', page, re.S).group(1))


@pytest.mark.parametrize("lang, field, choices, text_", [
    ("en", "Membership", ["Adult", "Child"], "is not among the values of"),
    ("fa", "نوع عضویت", ["بزرگسال", "کودک"], "جزو مقدارهای"),
    ("zh", "会员类型", ["成人", "儿童"], "不在"),
])
def test_a_never_held_value_is_said_by_labels_in_the_page_language(site, lang, field, choices, text_):
    p, b = site
    b.post("/lang", {"lang": lang, "next": "/"})
    page = text(b.get("/r/member", query_string={"ff": "kind", "fo": "eq", "fv": "adlt"}))
    said = _summary(page)
    assert field in said and all(c in said for c in choices) and text_ in said
    assert "adlt" in said
    # No raw stored value, no English left on a Persian or Chinese page.
    assert "(adult, child)" not in said
    assert 'lang="en"' not in said
    # Still linked to the value to correct.
    assert 'href="#filter-1-value"' in said


def test_several_values_of_an_in_list(site):
    p, b = site
    b.post("/lang", {"lang": "fa", "next": "/"})
    page = text(b.get("/r/member", query_string={"ff": "kind", "fo": "in", "fv": "x، y"}))
    said = _summary(page)
    assert "«x»" in said.replace("\u2068", "").replace("\u2069", "") and "بزرگسال" in said
    assert 'lang="en"' not in said


def test_the_csv_export_of_a_never_held_value_names_the_labels(site):
    p, b = site
    b.post("/lang", {"lang": "zh", "next": "/"})
    r = b.get("/r/member/export.csv", query_string={"ff": "kind", "fo": "eq", "fv": "adlt"})
    assert r.status_code == 422
    items = html.unescape(re.search(r'<ul class="errors">(.*?)</ul>', text(r), re.S).group(1))
    assert "会员类型" in items and "成人" in items and 'lang="en"' not in items


def test_a_held_value_typed_by_its_label_still_lists(site):
    p, b = site
    b.post("/lang", {"lang": "fa", "next": "/"})
    page = text(b.get("/r/member", query_string={"ff": "kind", "fo": "eq", "fv": "بزرگسال"}))
    assert 'id="filter-error"' not in page and ">Ana<" in page
