"""The admin UI and fields declared in several places of a schema: the branches of a
discriminated ``oneOf``, a nested object's ``oneOf``, ``then``/``else`` giving different
``enum`` lists, an ``anyOf`` branch leaving a field free, an ``allOf`` narrowing an ``enum``.

The forms offer every value a record may hold there (and only those), a record holding a
later branch's value is shown and edited with its label, the list's filters name the members
declared in branches and take a later branch's value, and the CSV export follows them."""
from __future__ import annotations

import csv
import html
import io
import itertools
import re

import pytest

from xrm_core import entity_types

from test_ui_support import Browser, text

_counter = itertools.count()

PARTY = {
    "title_field": "name",
    "field_labels": {"kind": {"en": "Kind", "fa": "نوع", "zh": "类型"}},
    "value_labels": {
        "kind": {"person": {"en": "Person", "fa": "شخص", "zh": "个人"},
                 "org": {"en": "Organisation", "fa": "سازمان", "zh": "组织"}},
        "billing.method": {"invoice": {"en": "By invoice", "fa": "با صورتحساب", "zh": "发票"}},
        "tier": {"platinum": {"en": "Platinum", "fa": "پلاتینی", "zh": "白金"}},
    },
    "schema": {
        "type": "object", "required": ["name", "kind"],
        "properties": {
            "name": {"type": "string"},
            "billing": {"type": "object", "oneOf": [
                {"properties": {"method": {"const": "direct_debit"}, "iban": {"type": "string"}},
                 "required": ["method", "iban"]},
                {"properties": {"method": {"const": "invoice"}, "email": {"type": "string"}},
                 "required": ["method", "email"]}]},
            "country": {"type": "string"},
            # One branch leaves it free: any text, no select.
            "tag": {"anyOf": [{"enum": ["a", "b"]}, {"type": "string"}]},
            # The allOf narrows: "closed" is no value a record may hold.
            "status": {"enum": ["new", "active", "closed"], "allOf": [{"enum": ["new", "active"]}]},
            "shipping": {"type": "object", "properties": {"mode": {"type": "string"}}},
        },
        "if": {"properties": {"country": {"const": "IR"}}, "required": ["country"]},
        "then": {"properties": {"tier": {"enum": ["gold", "silver"]}, "code": {"enum": ["A1", "B2"]},
                                "shipping": {"properties": {"mode": {"enum": ["air"]}}}}},
        "else": {"properties": {"tier": {"enum": ["bronze", "platinum"]}, "code": {"type": "string"},
                                "shipping": {"properties": {"mode": {"enum": ["sea", "road"]}}}}},
        "oneOf": [
            {"properties": {"kind": {"const": "person"}}},
            {"properties": {"kind": {"const": "org"}, "vat": {"type": "string"}}},
        ],
    },
}


@pytest.fixture
def site(make_platform):
    p = make_platform()
    name = f"party{next(_counter)}"
    with p.connection() as conn:
        entity_types.add(conn, {"name": name, **PARTY})
    b = Browser(p)
    b.login()
    return p, b, name


def _create(p, name, data) -> str:
    with p.session() as s:
        return s.create(name, data).id


def _data(p, name, rid) -> dict:
    with p.session() as s:
        return s.get(rid).data


def _selects(page: str) -> dict:
    """``{input name: [(option value, option text, selected)]}`` of the page's selects."""
    out = {}
    for m in re.finditer(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        out[html.unescape(m.group(1))] = [
            (html.unescape(v), html.unescape(t).strip(), bool(sel))
            for v, sel, t in re.findall(r'<option value="([^"]*)"( selected)?[^>]*>(.*?)</option>', m.group(2), re.S)]
    return out


def _values(options) -> list:
    return [v for v, _t, _s in options if v]


def _input_type(page: str, name: str) -> str | None:
    """The kind of control named ``name``: ``select``, ``textarea`` or the input's type."""
    m = re.search(r'<(select|textarea|input)\b[^>]*\bname="%s"[^>]*>' % re.escape(name), page)
    if m is None:
        return None
    if m.group(1) != "input":
        return m.group(1)
    return re.search(r'type="([^"]+)"', m.group(0)).group(1)


def _edit_form(page: str) -> dict:
    """The edit form's inputs as a browser would send them unchanged."""
    form = {}
    for m in re.finditer(r'<input\b[^>]*>', page):
        name, value = re.search(r'name="([^"]+)"', m.group(0)), re.search(r'value="([^"]*)"', m.group(0))
        if name and 'type="hidden"' not in m.group(0) or (name and name.group(1) == "version"):
            form[html.unescape(name.group(1))] = html.unescape(value.group(1)) if value else ""
    for m in re.finditer(r'<textarea\b[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        form[html.unescape(m.group(1))] = html.unescape(m.group(2)).lstrip("\n")
    for name, options in _selects(page).items():
        form[name] = next((v for v, _t, sel in options if sel), "")
    return form


# -- what the form offers ----------------------------------------------------------------

def test_a_select_offers_the_values_of_every_place_the_field_is_declared(site):
    p, b, name = site
    page = text(b.get(f"/r/{name}/new"))
    selects = _selects(page)
    # The discriminator of a oneOf: each branch's const (the second was missing).
    assert _values(selects["kind"]) == ["person", "org"]
    assert [t for v, t, _s in selects["kind"] if v] == ["Person", "Organisation"]
    # then and else: both enums (the else's were missing).
    assert _values(selects["tier"]) == ["gold", "silver", "bronze", "platinum"]
    # An allOf narrows: "closed" was offered and then refused by the schema.
    assert _values(selects["status"]) == ["new", "active"]
    # A nested member given its values by then and else (it was a text input).
    assert _values(selects["shipping.mode"]) == ["air", "sea", "road"]


def test_a_field_one_place_leaves_free_takes_any_text(site):
    p, b, name = site
    page = text(b.get(f"/r/{name}/new"))
    # then gives an enum, else any text: a select of the then's values refused "Z9".
    assert _input_type(page, "code") == "text"
    assert _input_type(page, "tag") == "text"
    r = b.post(f"/r/{name}/new", {"name": "Free", "kind": "person", "code": "Z9", "tag": "zzz"})
    assert r.status_code == 302, text(r)[:3000]
    rid = r.headers["Location"].rsplit("/", 1)[1]
    assert _data(p, name, rid) == {"name": "Free", "kind": "person", "code": "Z9", "tag": "zzz"}


# -- saving ----------------------------------------------------------------------------------

def test_a_later_branch_value_is_saved_from_the_form(site):
    p, b, name = site
    r = b.post(f"/r/{name}/new", {"name": "Acme", "kind": "org", "vat": "DE1", "tier": "platinum",
                                  "shipping.mode": "road",
                                  "billing": '{"method": "invoice", "email": "ap@acme.example"}'})
    assert r.status_code == 302, text(r)[:3000]
    rid = r.headers["Location"].rsplit("/", 1)[1]
    assert _data(p, name, rid) == {"name": "Acme", "kind": "org", "vat": "DE1", "tier": "platinum",
                                   "shipping": {"mode": "road"},
                                   "billing": {"method": "invoice", "email": "ap@acme.example"}}


def test_an_invalid_combination_is_refused_at_its_field(site):
    p, b, name = site
    # "platinum" is a value of the else branch; with country IR the then branch applies.
    r = b.post(f"/r/{name}/new", {"name": "Bad", "kind": "org", "country": "IR", "tier": "platinum"})
    assert r.status_code == 422
    page = text(r)
    said = html.unescape(re.search(r'id="err-tier"[^>]*>(.*?)</', page, re.S).group(1))
    assert "platinum" in said and "gold" in said and "silver" in said
    assert re.search(r'<select id="f-tier"[^>]*aria-invalid="true"', page)
    with p.session() as s:
        assert s.list(name, {}) == []


# -- showing and editing a record of a later branch ----------------------------------------

def test_a_record_of_a_later_branch_is_shown_and_edited_with_its_label(site):
    p, b, name = site
    data = {"name": "Acme", "kind": "org", "tier": "platinum",
            "billing": {"method": "invoice", "email": "ap@acme.example"}}
    rid = _create(p, name, data)
    page = text(b.get(f"/r/{name}/{rid}"))
    assert "Organisation" in page and "Platinum" in page and "By invoice" in page

    page = text(b.get(f"/r/{name}/{rid}/edit"))
    selects = _selects(page)
    assert [(v, t) for v, t, sel in selects["kind"] if sel] == [("org", "Organisation")]
    assert [(v, t) for v, t, sel in selects["tier"] if sel] == [("platinum", "Platinum")]
    # Saved unchanged: nothing changes (the unselected kind was "required", the tier removed).
    r = b.post(f"/r/{name}/{rid}/edit", _edit_form(page))
    assert r.status_code == 302, text(r)[:3000]
    with p.session() as s:
        rec = s.get(rid)
    assert rec.data == data and rec.version == 1

    # Changed to another branch's values: saved.
    form = _edit_form(text(b.get(f"/r/{name}/{rid}/edit")))
    form.update(kind="person", tier="bronze")
    r = b.post(f"/r/{name}/{rid}/edit", form)
    assert r.status_code == 302, text(r)[:3000]
    assert _data(p, name, rid) == {**data, "kind": "person", "tier": "bronze"}


def test_a_later_branch_label_in_other_languages(site):
    p, b, name = site
    rid = _create(p, name, {"name": "Acme", "kind": "org", "billing": {"method": "invoice", "email": "a@b.c"}})
    b.post("/lang", {"lang": "fa", "next": "/"})
    page = text(b.get(f"/r/{name}/{rid}"))
    assert "سازمان" in page and "با صورتحساب" in page
    assert [t for v, t, sel in _selects(text(b.get(f"/r/{name}/{rid}/edit")))["kind"] if sel] == ["سازمان"]
    b.post("/lang", {"lang": "zh", "next": "/"})
    assert "组织" in text(b.get(f"/r/{name}/{rid}"))


# -- the list: filters and CSV ------------------------------------------------------------------

@pytest.fixture
def listed(site):
    p, b, name = site
    ids = {
        "debit": _create(p, name, {"name": "Debit", "kind": "person",
                                   "billing": {"method": "direct_debit", "iban": "DE00"}}),
        "invoice": _create(p, name, {"name": "Invoiced", "kind": "org", "tier": "platinum",
                                     "billing": {"method": "invoice", "email": "a@b.c"}}),
    }
    return p, b, name, ids


def _listed_names(page: str) -> set:
    return {n for n in ("Debit", "Invoiced") if f">{n}<" in page}


def test_the_filter_names_a_nested_member_declared_in_branches(listed):
    p, b, name, ids = listed
    page = text(b.get(f"/r/{name}"))
    fields = [v for v, _t, _s in _selects(page)["ff"]]
    # billing declares its members in its oneOf branches only: they were not offered.
    assert {"billing.method", "billing.iban", "billing.email"} <= set(fields)


@pytest.mark.parametrize("field, value, expected", [
    ("billing.method", "invoice", {"Invoiced"}),
    ("billing.method", "By invoice", {"Invoiced"}),  # by its label
    ("billing.method", "direct_debit", {"Debit"}),
    ("kind", "org", {"Invoiced"}),
    ("kind", "Organisation", {"Invoiced"}),
    ("tier", "platinum", {"Invoiced"}),
])
def test_the_filter_takes_a_later_branch_value(listed, field, value, expected):
    p, b, name, ids = listed
    r = b.get(f"/r/{name}", query_string={"ff": field, "fo": "eq", "fv": value})
    assert r.status_code == 200
    page = text(r)
    assert 'id="filter-error"' not in page or "never" not in page
    assert _listed_names(page) == expected


def test_a_value_no_branch_declares_is_refused_at_the_filter_value(listed):
    p, b, name, ids = listed
    page = text(b.get(f"/r/{name}", query_string={"ff": "billing.method", "fo": "eq", "fv": "cash"}))
    assert 'href="#filter-1-value"' in page
    assert _listed_names(page) == set()


def test_the_csv_export_follows_a_later_branch_filter(listed):
    p, b, name, ids = listed
    r = b.get(f"/r/{name}/export.csv", query_string={"ff": "billing.method", "fo": "eq", "fv": "By invoice"})
    assert r.status_code == 200
    rows = list(csv.DictReader(io.StringIO(text(r).lstrip("\ufeff"))))
    assert [(row["id"], row["name"], row["kind"], row["tier"]) for row in rows] == \
        [(ids["invoice"], "Invoiced", "org", "platinum")]


def test_a_typo_is_not_exported_as_an_empty_file(listed):
    p, b, name, ids = listed
    r = b.get(f"/r/{name}/export.csv", query_string={"ff": "kind", "fo": "eq", "fv": "orgs"})
    assert r.status_code == 422
    assert "not among the values of kind" in html.unescape(text(r))


def _datalists(page: str) -> dict:
    return {i: [html.unescape(v) for v in re.findall(r'<option value="([^"]*)"', body)]
            for i, body in re.findall(r'<datalist id="([^"]+)">(.*?)</datalist>', page, re.S)}


def test_the_filter_value_suggests_the_values_of_every_branch(listed):
    p, b, name, ids = listed
    page = text(b.get(f"/r/{name}", query_string={"ff": "tier", "fo": "eq", "fv": "platinum"}))
    lists = _datalists(page)
    chosen = {html.unescape(f): i for f, i in re.findall(r'<option value="([^"]+)" data-choices="([^"]+)"', page)}
    # By label where the value has one, as the list shows it and the filter reads it.
    assert lists[chosen["kind"]] == ["Person", "Organisation"]
    assert lists[chosen["tier"]] == ["gold", "silver", "bronze", "Platinum"]
    assert lists[chosen["billing.method"]] == ["direct_debit", "By invoice"]
    assert lists[chosen["status"]] == ["new", "active"]
    assert lists[chosen["shipping.mode"]] == ["air", "sea", "road"]
    # Free somewhere: nothing to suggest.
    assert "code" not in chosen and "tag" not in chosen and "name" not in chosen
    # The filled row's value input suggests its field's values; the blank row none yet
    # (filter-choices.js gives it the list of the field chosen there).
    assert re.search(r'<input name="fv" id="filter-1-value"[^>]*list="%s"' % chosen["tier"], page)
    assert not re.search(r'<input name="fv" id="filter-2-value"[^>]*list=', page)
    assert "filter-choices.js" in page


def test_an_object_declared_by_each_branch_takes_the_json_box(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, {"name": "contactable", "schema": {
            "type": "object", "required": ["via"],
            "properties": {"via": {"type": "string"}, "note": {"type": "object", "properties": {"text": {"type": "string"}}}},
            "oneOf": [
                {"properties": {"via": {"const": "mail"}, "contact": {"type": "object", "required": ["street"],
                                "properties": {"street": {"type": "string"}}}}},
                {"properties": {"via": {"const": "phone"}, "contact": {"type": "object", "required": ["number"],
                                "properties": {"number": {"type": "string"}}}}}]}})
    b = Browser(p)
    b.login()
    page = text(b.get("/r/contactable/new"))
    # Inputs for the first branch's members only: no way to type the second's "number".
    assert _input_type(page, "contact") == "textarea"
    assert _input_type(page, "contact.street") is None
    assert _input_type(page, "note.text") == "text"  # declared once: its inputs stay
    r = b.post("/r/contactable/new", {"via": "phone", "contact": '{"number": "+98 21 1234"}'})
    assert r.status_code == 302, text(r)[:3000]
    rid = r.headers["Location"].rsplit("/", 1)[1]
    with p.session() as s:
        assert s.get(rid).data == {"via": "phone", "contact": {"number": "+98 21 1234"}}
    r = b.post("/r/contactable/new", {"via": "phone", "contact": '{"street": "Main St"}'})
    assert r.status_code == 422


def test_a_value_level_then_else_narrows_the_choices(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, {"name": "graded", "schema": {"type": "object", "properties": {
            "tier": {"enum": ["a", "b", "c"], "if": {"const": "a"}, "then": {"enum": ["a"]}, "else": {"enum": ["b"]}}}}})
    b = Browser(p)
    b.login()
    assert _values(_selects(text(b.get("/r/graded/new")))["tier"]) == ["a", "b"]
