import re, html, sys
sys.path.insert(0, "/work/main/tests/web")
import pytest
from xrm_core.plugins import hookimpl
from test_ui_support import Browser, text

class P:
    __name__ = "orders"
    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "order", "label": "Order", "title_field": "name",
          "schema": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string"},
            "address": {"type": "object", "title": "Postal address", "required": ["street"], "properties": {
                "street": {"type": "string", "title": "Street", "minLength": 3},
                "zip": {"type": "string", "pattern": "^[0-9]{5}$"},
                "geo": {"type": "object", "properties": {"lat": {"type": "number", "maximum": 90}}}}},
            "items": {"type": "array", "title": "Items", "minItems": 1, "items": {"type": "object", "required": ["sku"], "properties": {
                "sku": {"type": "string"}, "qty": {"type": "integer", "title": "Quantity", "minimum": 1}}}},
            "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}},
            "meta": {"type": "object", "additionalProperties": {"type": "integer"}},
          }}}]

def test_repro(make_platform):
    p = make_platform(P())
    b = Browser(p); b.login()
    page = text(b.get("/r/order/new"))
    print(re.findall(r'name="([^"]+)"', page))
    r = b.post("/r/order/new", {"name": "X", "address.street": "ab", "address.zip": "1", "address.geo.lat": "100",
        "items.0.sku": "", "items.0.qty": "0", "items.1.sku": "s", "items.1.qty": "x", "tags.0": "long!", "meta": '{"a": "x"}'})
    page = text(r)
    m = re.search(r'<div class="flash error summary".*?</div>', page, re.S)
    print(html.unescape(m.group(0)))
    for m in re.finditer(r'<span class="error" id="([^"]+)">([^<]*)</span>', page):
        print("INLINE", m.group(1), html.unescape(m.group(2)))
