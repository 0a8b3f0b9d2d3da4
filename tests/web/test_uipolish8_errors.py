"""Admin UI polish 8: a refused record form says where inside a value an error is by the
labels staff see (not the value's keys), a refused list filter is a summary that takes the
focus and links to the input to correct, and the built-in patterns are described in words."""
from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from sqlalchemy import update

from xrm_core import ValidationError, db, entity_types
from xrm_core.plugins import hookimpl

from test_ui_support import Browser, text

ROOT = Path(__file__).resolve().parents[2]


class OrderPlugin:
    """Groups and lists as inputs, and the shapes that keep a JSON box (alternatives, items
    holding lists), with titles that differ from the keys."""
    __name__ = "orders"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "order", "label": "Order", "title_field": "name", "schema": {
            "type": "object", "required": ["name"], "properties": {
                "name": {"type": "string"},
                "floors": {"type": "integer"},
                "address": {"type": "object", "title": "Postal address", "properties": {
                    "street": {"type": "string", "title": "Street", "minLength": 3},
                    "geo": {"type": "object", "title": "Position", "properties": {
                        "lat": {"type": "number", "title": "Latitude", "maximum": 90}}}}},
                # A condition the inputs cannot say: the JSON box (a oneOf of members got
                # inputs in ui13, see test_ui13_branch_members.py).
                "contact": {"type": "object", "title": "Contact", "if": {"required": ["box"]},
                            "then": {"required": ["street_name"]},
                            "properties": {"street_name": {"type": "string", "title": "Street", "minLength": 3},
                                           "box": {"type": "string"}}},
                "items": {"type": "array", "title": "Items", "items": {"type": "object", "properties": {
                    "qty": {"type": "integer", "title": "Quantity", "minimum": 1},
                    "parts": {"type": "array", "items": {"type": "string"}}}}},
                # The same key at two depths (the summary must not take one for the other).
                "site": {"type": "object", "title": "Site", "required": ["street"],
                         "anyOf": [{"required": ["street"]}, {"required": ["geo"]}],
                         "properties": {"street": {"type": "string", "title": "Road"},
                                        "geo": {"type": "object", "title": "Position", "required": ["street"],
                                                "properties": {"street": {"type": "string", "title": "Grid street"}}}}},
                "lines": {"type": "array", "title": "Lines", "items": {"type": "object", "properties": {
                    "sku": {"type": "string", "title": "Article"}}}}}}}]

    @staticmethod
    @hookimpl
    def xrm_record_event(event, record):
        # A rule the schema cannot say, at a member of a row and past the inputs of a group.
        if event == "before_create" and record.data.get("name") == "hook":
            raise ValidationError("refused", [{"pointer": "/data/lines/0/sku", "message": "sku retired"},
                                              {"pointer": "/data/address/geo/lat", "message": "off the map"},
                                              {"pointer": "/data", "message": "too many orders today"}])


@pytest.fixture
def app(make_platform):
    p = make_platform(OrderPlugin())
    b = Browser(p)
    b.login()
    return p, b


def _inline(page: str) -> dict:
    return {m.group(1): html.unescape(m.group(2))
            for m in re.finditer(r'<span class="error" id="err-([^"]+)">([^<]*)</span>', page)}


def _summary(page: str) -> list[tuple]:
    """``(data-pointer, href, label, text)`` of each entry of the record form's summary."""
    block = re.search(r'<div class="flash error summary" role="alert" id="form-errors" tabindex="-1">(.*?)</div>',
                      page, re.S).group(1)
    return [(m.group(1), m.group(2), html.unescape(m.group(3)), html.unescape(m.group(4)))
            for m in re.finditer(r'<li(?: data-pointer="([^"]*)")?><a href="#([^"]+)">([^<]*)</a>: ([^<]*)</li>',
                                 block)]


# -- 1. where inside a value, by labels ------------------------------------------------------
def test_an_error_inside_a_json_box_is_said_by_the_labels_of_where_it_is(app):
    p, b = app
    b.get("/r/order/new")
    page = text(b.post("/r/order/new", {"name": "X", "contact": '{"street_name": "ab"}',
                                        "items": '[{"qty": 0, "parts": ["a"]}]'}))
    inline = _inline(page)
    # The member's title, a list's item counted from 1 — not "street_name: …" or "0/qty: …".
    assert inline["contact"] == 'Street: "ab" is shorter than 3 characters'
    assert inline["items"] == "item 1 › Quantity: 0 is less than the minimum of 1"
    # The summary: the field's label linked to its input, the pointer of the value kept.
    assert _summary(page) == [
        ("/data/contact", "f-contact", "Contact", 'Street: "ab" is shorter than 3 characters'),
        ("/data/items", "f-items", "Items", "item 1 › Quantity: 0 is less than the minimum of 1")]
    assert 'id="f-contact"' in page and 'id="f-items"' in page
    with p.session() as s:
        assert s.list("order") == []


def test_the_same_key_at_two_depths_is_said_by_each_ones_labels(app):
    _p, b = app
    b.get("/r/order/new")
    said = _inline(text(b.post("/r/order/new", {"name": "X", "site": '{"geo": {}}'})))["site"]
    assert set(said.split("; ")) == {"Road: required", "Position › Grid street: required"}


def test_a_group_shown_as_json_says_its_members_by_their_titles(app):
    """A stored value the inputs cannot show (an undeclared member) is edited in a JSON box;
    an error inside it is said with the titles the inputs would have."""
    p, b = app
    with p.session() as s:
        rec = s.create("order", {"name": "Y", "address": {"street": "Main", "extra": 1}})
    b.get(f"/r/order/{rec.id}/edit")
    page = text(b.post(f"/r/order/{rec.id}/edit", {
        "name": "Y", "version": "1", "address": '{"street": "ab", "extra": 1, "geo": {"lat": 100}}'}))
    said = set(_inline(page)["address"].split("; "))
    assert said == {'Street: "ab" is shorter than 3 characters',
                    "Position › Latitude: 100 is greater than the maximum of 90"}
    with p.session() as s:
        assert s.get(rec.id).version == 1


def test_an_error_past_the_inputs_and_one_of_the_record_as_a_whole(app):
    """A plugin's refusal: at a row's input (the summary counts rows from 1), at a member
    the group shows an input for, and of the whole record (said without a pointer)."""
    _p, b = app
    b.get("/r/order/new")
    page = text(b.post("/r/order/new", {"name": "hook", "lines.0.sku": "A1", "address.geo.lat": "10"}))
    entries = {href: (pointer, label, said) for pointer, href, label, said in _summary(page)}
    assert entries["f-lines.0.sku"] == ("/data/lines/0/sku", "Lines, item 1 › Article", "sku retired")
    assert entries["f-address.geo.lat"] == ("/data/address/geo/lat", "Postal address › Position › Latitude",
                                            "off the map")
    assert "<p>too many orders today</p>" in page and "/data: " not in page


def test_a_persian_page_says_the_labels_and_the_item_number_in_persian(app):
    _p, b = app
    b.post("/lang", {"lang": "fa", "next": "/"})
    b.get("/r/order/new")
    inline = _inline(text(b.post("/r/order/new", {"name": "X", "items": '[{"qty": 1}, {"qty": 0}]'})))
    assert inline["items"].startswith("مورد ۲ › Quantity: ")


# -- 2. a refused filter is a summary that takes the focus ----------------------------------
def _filter_summary(page: str) -> str:
    m = re.search(r'<div class="flash error summary" role="alert" id="filter-error" tabindex="-1">(.*?)</div>',
                  page, re.S)
    assert m, "no focusable summary"
    return m.group(1)


def _links(block: str) -> list[tuple[str, str]]:
    return [(m.group(1), html.unescape(m.group(2))) for m in re.finditer(r'<a href="#([^"]+)">([^<]*)</a>', block)]


@pytest.mark.parametrize("query, target, label", [
    ("ff=name&fo=eq&fv=a&ff=floors&fo=gt&fv=x", "filter-2-value", "Filter 2: value"),  # not a number
    ("ff=floors&fo=in&fv=1,b", "filter-1-value", "Filter 1: value"),
    ("ff=nope&fo=eq&fv=1", "filter-1-field", "Filter 1: field"),  # no such field
    ("ff=floors&fo=zz&fv=1", "filter-1-op", "Filter 1: operator"),  # no such operator
    ("q=a%00b", "filter-q", "Search Name (contains, any case)"),
])
def test_a_refused_filter_links_to_the_input_to_correct(app, query, target, label):
    _p, b = app
    page = text(b.get("/r/order?" + query))
    block = _filter_summary(page)
    assert _links(block) == [(target, label)]
    assert f'id="{target}"' in page  # the link leads somewhere
    # Focused by the script, as a refused form's summary, before the filters it is about.
    assert '<script src="/static/error-summary.js" defer></script>' in page
    assert page.index('id="filter-error"') < page.index('<form class="filters"')


def test_the_rows_of_a_refused_filter_are_numbered_in_their_ids_and_marked(app):
    _p, b = app
    page = text(b.get("/r/order?ff=name&fo=eq&fv=a&ff=floors&fo=gt&fv=x"))
    for n in (1, 2, 3):  # the third: the empty row to add a filter
        for part in ("field", "op", "value"):
            assert f'id="filter-{n}-{part}"' in page
    assert re.search(r'<input name="fv" id="filter-2-value" value="x" [^>]*aria-invalid="true"', page)
    assert not re.search(r'<input name="fv" id="filter-1-value" [^>]*aria-invalid', page)


def test_a_refused_order_is_said_without_a_link_and_an_accepted_filter_without_a_summary(app):
    _p, b = app
    block = _filter_summary(text(b.get("/r/order?sort=zzz")))
    assert "<a " not in block and "<code>/sort/0</code>" in block
    page = text(b.get("/r/order?ff=floors&fo=gt&fv=2"))
    assert 'id="filter-error"' not in page and "error-summary.js" not in page


def test_a_persian_filter_summary_names_the_row_in_persian(app):
    _p, b = app
    b.post("/lang", {"lang": "fa", "next": "/"})
    assert _links(_filter_summary(text(b.get("/r/order?ff=floors&fo=gt&fv=x")))) == [
        ("filter-1-value", "فیلتر ۱: مقدار")]


# -- 3. the built-in patterns are described --------------------------------------------------
def _patterns(node, path=""):
    """``(path, node)`` of every schema node holding a ``pattern``."""
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            yield path, node
        for k, v in node.items():
            yield from _patterns(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _patterns(v, f"{path}/{i}")


SHIPPED = [ROOT / "schemas" / "common.json", *sorted(ROOT.glob("plugins/*/types/*.json"))]


def test_every_pattern_the_platform_ships_says_in_words_what_it_wants():
    found = [(f.relative_to(ROOT), path, node) for f in SHIPPED for path, node in _patterns(json.loads(f.read_text()))]
    assert len(found) >= 14
    bare = [(str(f), path) for f, path, node in found
            if not (isinstance(node.get("description"), str) and node["description"].strip())]
    assert bare == []


@pytest.fixture
def builtin(make_platform):
    import xrm_crm
    import xrm_prm_dealers
    import xrm_voc
    import xrm_vrm_suppliers
    plugins = (xrm_crm, xrm_prm_dealers, xrm_vrm_suppliers, xrm_voc)
    return plugins, make_platform(*plugins)


@pytest.mark.parametrize("language, said", [
    ("en", "is not in the required form: 17 capital letters and digits, without I, O or Q."),
    ("fa", "شکل درخواستی را ندارد: ۱۷ حرف بزرگ لاتین و رقم، بدون I، O و Q."),
    ("zh", "格式不符合要求：17 位大写字母和数字，不含 I、O、Q。")])
def test_a_vin_that_does_not_match_is_said_in_the_types_words(builtin, language, said):
    _plugins, p = builtin
    b = Browser(p)
    b.login()
    b.post("/lang", {"lang": language, "next": "/"})
    page = text(b.get("/r/vehicle/new"))
    assert 'id="help-vin"' in page  # the same words under the input
    errors = _inline(text(b.post("/r/vehicle/new", {"vin": "WVWZZZ1JZ3W38616O", "model": "Golf"})))
    assert errors["vin"] == said


def test_init_adds_the_descriptions_to_a_database_made_without_them(builtin, make_platform):
    """A database whose built-in types predate the descriptions: `xrm init` upgrades them
    (the stored records checked, none refused) and validates as before."""
    plugins, p = builtin
    with p.session() as s:
        owner = s.create("customer", {"name": "Ada", "kind": "person", "national_id": "AB12345"})
        car = s.create("vehicle", {"vin": "WVWZZZ1JZ3W386165", "model": "Golf", "customer_id": owner.id})
    stripped = []
    with p.connection() as conn:
        for name, et in sorted(entity_types.load_all(conn).items()):
            old = json.loads(json.dumps(et.definition))
            nodes = [node for _path, node in _patterns(old["schema"]) if "description" in node]
            for node in nodes:
                del node["description"]
            if nodes:
                for table in (db.entity_types, db.entity_type_versions):
                    conn.execute(update(table).where(table.c.name == name).values(definition=old))
                stripped.append(name)
    assert {"vehicle", "customer", "dealer", "part", "supplier", "sales_target"} <= set(stripped)
    report = make_platform(*plugins, init=False).init()
    assert sorted(report["types_updated"]) == stripped and report["types_kept"] == []
    with p.connection() as conn:
        vin = entity_types.get(conn, "vehicle").schema["properties"]["vin"]
    assert vin == {"type": "string", "pattern": "^[A-HJ-NPR-Z0-9]{17}$",
                   "description": "17 capital letters and digits, without I, O or Q."}
    assert make_platform(*plugins, init=False).init()["types_updated"] == []
    with p.session() as s:
        assert s.get(car.id).data["vin"] == "WVWZZZ1JZ3W386165" and s.get(car.id).version == 1
        with pytest.raises(ValidationError):
            s.create("vehicle", {"vin": "WVWZZZ1JZ3W38616O", "model": "Golf"})  # an O: refused as before
