"""The members of the platform's common schemas (``money``: amount, currency; ``address``:
line1, city, postal code…) have no title: a Chinese or Persian page named them by their
English keys ("Amount", "Currency", "Postal code") on the record page, in the form and in
the list's filter fields. They are the platform's text, translated by the UI's catalogue,
and a plugin's catalogue may name an untitled member of its own."""
from __future__ import annotations

import re

import pytest

from xrm_core import entity_types

from test_ui_support import Browser, text

COMMON = "https://xrm.dev/schemas/common.json#/$defs/"
VISIT = {
    "name": "visit", "title_field": "ref",
    "schema": {"type": "object", "required": ["ref"], "properties": {
        "ref": {"type": "string"},
        "total": {"$ref": COMMON + "money", "title": "Total"},
        "place": {"$ref": COMMON + "address"},
        "extra": {"type": "object", "properties": {"floor_no": {"type": "integer"}}},
    }},
}


@pytest.fixture
def site(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, VISIT)
    with p.session() as s:
        rec = s.create("visit", {"ref": "V1", "total": {"amount": 12, "currency": "EUR"},
                                 "place": {"city": "Gent", "postal_code": "9000"}, "extra": {"floor_no": 2}})
    b = Browser(p)
    b.login()
    return p, b, rec


def _dts(page: str) -> list[str]:
    return re.findall(r"<dt[^>]*>([^<]*)</dt>", page)


def test_a_chinese_page_names_the_common_members_in_chinese(site):
    p, b, rec = site
    b.post("/lang", {"lang": "zh", "next": "/"})
    shown = _dts(text(b.get(f"/r/visit/{rec.id}")))
    assert {"金额", "币种", "城市", "邮政编码"} <= set(shown)
    assert not {"Amount", "Currency", "City", "Postal code"} & set(shown)
    assert "Floor no" in shown  # a plugin's own untitled member: its catalogue has none here
    page = text(b.get("/r/visit/new"))
    labels = {m.group(1): m.group(2).strip() for m in
              re.finditer(r'<label for="f-([^"]+)"[^>]*>\s*([^<]*)', page)}
    assert labels["total.amount"] == "金额" and labels["total.currency"] == "币种"
    assert labels["place.line1"] == "地址第 1 行" and labels["place.country"] == "国家/地区"
    # The filter's fields name the members as the form does.
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', text(b.get("/r/visit")))
    assert ("total.amount", "Total › 金额") in options and ("place.postal_code", "Place › 邮政编码") in options


def test_a_persian_page_too_and_english_stays(site):
    p, b, rec = site
    b.post("/lang", {"lang": "fa", "next": "/"})
    assert {"مبلغ", "واحد پول", "شهر", "کد پستی"} <= set(_dts(text(b.get(f"/r/visit/{rec.id}"))))
    b.post("/lang", {"lang": "en", "next": "/"})
    assert {"Amount", "Currency", "City", "Postal code"} <= set(_dts(text(b.get(f"/r/visit/{rec.id}"))))
