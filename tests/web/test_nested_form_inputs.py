"""Nested objects and lists in the generated record forms (xrm_core/web/ui/nested_inputs.py):
inputs instead of a JSON box, read back into the same record data, with errors at the nested
input, rows added and removed without JavaScript, and the JSON box kept for what the inputs
cannot show. Runs on SQLite, and on PostgreSQL with XRM_TEST_DATABASE_URL."""
from __future__ import annotations

import html
import itertools
import re
from html.parser import HTMLParser

import pytest

from xrm_core import entity_types

from test_a11y_support import accessible_name, audit, parse
from test_ui_support import Browser, text

_counter = itertools.count()

ADDRESS = {"type": "object", "title": "Postal address", "required": ["city"], "properties": {
    "city": {"type": "string", "minLength": 2, "description": "Town or city"},
    "zip": {"type": "integer"},
    "kind": {"enum": ["home", "work"]},
    "since": {"type": "string", "format": "date"},
    "geo": {"type": "object", "properties": {"lat": {"type": "number"}, "lon": {"type": "number"}}},
}}
PHONE = {"type": "object", "required": ["number"], "properties": {
    "number": {"type": "string", "pattern": "^[0-9+ ]+$"}, "label": {"type": "string"},
    "primary": {"type": "boolean"}}}
SCHEMA = {"type": "object", "required": ["name"], "$defs": {"phone": PHONE}, "properties": {
    "name": {"type": "string"},
    "address": ADDRESS,
    "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3, "uniqueItems": True},
    "phones": {"type": "array", "items": {"$ref": "#/$defs/phone"}},
    "scores": {"type": "array", "items": {"type": "integer"}},
    "choice": {"oneOf": [{"type": "object", "properties": {"a": {"type": "string"}}},
                         {"type": "object", "properties": {"b": {"type": "integer"}}}]},
    "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
    "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "integer"}}},
}}


class Form(HTMLParser):
    """The record form's controls: ``controls`` (name → attrs, textarea text in ``value``),
    error texts by id, fieldsets by id, buttons (name, value, formaction)."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.controls, self.errors, self.fieldsets, self.buttons, self.labels = {}, {}, {}, [], {}
        self.hidden = {}
        self._text = self._error = self._label = None
        self._in_template = 0
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        a = {k: v if v is not None else "" for k, v in attrs}
        if tag == "template":
            self._in_template += 1
        if self._in_template:
            return
        if tag == "input" and a.get("type") == "hidden" and a.get("name") != "csrf_token":
            self.hidden[a["name"]] = a.get("value", "")
        if tag in ("input", "select", "textarea") and a.get("name") and a.get("type") != "hidden":
            a.setdefault("value", "")
            a["tag"] = tag
            self.controls[a["name"]] = a
            if tag == "textarea":
                self._text = a
            if tag == "select":
                self._select = a
        if tag == "option" and "selected" in a:
            self._select["value"] = a.get("value", "")
        if tag == "span" and "error" in a.get("class", "").split() and a.get("id"):
            self._error = a["id"]
            self.errors[a["id"]] = ""
        if tag == "fieldset":
            self.fieldsets[a.get("id")] = a
        if tag == "button":
            self.buttons.append(a)
        if tag == "label" and a.get("for"):
            self._label = a["for"]
            self.labels[self._label] = ""

    def handle_endtag(self, tag):
        if tag == "template":
            self._in_template -= 1
        if tag == "textarea":
            self._text = None
        if tag == "span":
            self._error = None
        if tag == "label":
            self._label = None

    def handle_data(self, data):
        if self._text is not None:
            self._text["value"] += data
        if self._error is not None:
            self.errors[self._error] += data
        if self._label is not None:
            self.labels[self._label] += data

    def submission(self, **changes) -> dict:
        """What a browser sends, with ``changes`` typed (None unticks a box)."""
        out = dict(self.hidden)
        for name, a in self.controls.items():
            if a.get("type") == "checkbox":
                if "checked" in a:
                    out[name] = "on"
            elif a["tag"] == "textarea":
                out[name] = a["value"].removeprefix("\n")
            else:
                out[name] = a["value"]
        for name, value in changes.items():
            assert name in self.controls, f"no input {name!r}: {sorted(self.controls)}"
            if value is None:
                out.pop(name, None)
            else:
                out[name] = value
        return out

    def error_of(self, name: str) -> str:
        ids = [i for i in self.controls[name].get("aria-describedby", "").split() if i.startswith("err-")]
        assert self.controls[name].get("aria-invalid") == "true" and ids, (name, self.controls[name])
        return self.errors[ids[0]]


@pytest.fixture
def site(make_platform):
    p = make_platform()
    name = f"nested{next(_counter)}"
    with p.connection() as conn:
        entity_types.add(conn, {"name": name, "schema": SCHEMA})
    b = Browser(p)
    b.login()
    return p, b, name


def _form(b, path) -> Form:
    r = b.get(path)
    assert r.status_code == 200, text(r)[:2000]
    return Form(text(r))


def _records(p, name):
    with p.session() as s:
        return [r.data for r in s.list(name)]


def test_objects_and_lists_get_inputs_and_odd_shapes_keep_the_json_box(site):
    p, b, name = site
    form = _form(b, f"/r/{name}/new")
    for n in ("address.city", "address.zip", "address.kind", "address.since", "address.geo.lat",
              "tags.0", "phones.0.number", "phones.0.label", "phones.0.primary", "scores.0"):
        assert n in form.controls, n
    assert form.controls["address.zip"]["type"] == "number" and form.controls["address.since"]["type"] == "date"
    assert form.controls["address.kind"]["tag"] == "select" and form.controls["phones.0.primary"]["type"] == "checkbox"
    assert form.controls["address.city"].get("aria-required") == "true"
    # the description is the input's help
    assert "help-address.city" in form.controls["address.city"]["aria-describedby"].split()
    # a fieldset with a legend per object, list and row
    page = text(b.get(f"/r/{name}/new"))
    assert re.search(r'<fieldset class="group" id="f-address"[^>]*>\s*<legend>Postal address', page)
    assert re.search(r'<fieldset class="list" id="f-phones"[^>]*>\s*<legend>Phones', page)
    assert "<legend>Phones, item 1</legend>" in page
    assert form.labels["f-tags.0"].startswith("Tags, item 1")
    # an object whose oneOf branches declare different members: an input for each (it was
    # a JSON box until ui13), typed as its branch declares it
    assert "choice" not in form.controls
    assert form.controls["choice.a"]["type"] == "text" and form.controls["choice.b"]["type"] == "number"
    # shapes the inputs cannot say: one JSON box each, named after the property
    for n in ("counts", "matrix"):
        assert form.controls[n]["tag"] == "textarea" and "code" in form.controls[n]["class"], n
    assert not any(c.startswith(("counts.", "matrix.")) for c in form.controls)
    # add and remove buttons, labelled for a screen reader, posting to the rows address
    adds = [x for x in form.buttons if x.get("name") == "~add"]
    assert {x["value"] for x in adds} == {"tags", "phones", "scores"}
    assert all(x["formaction"] == f"/r/{name}/new/rows" for x in adds)
    # each button's name says which list or row it is about (visible words first)
    assert re.search(r'>Add a row<span class="visually-hidden"> \(Phones\)</span></button>', page)
    assert re.search(r'>Remove<span class="visually-hidden"> \(Phones, item 1\)</span></button>', page)


def test_a_posted_form_becomes_the_data_the_json_box_gave(site):
    p, b, name = site
    form = _form(b, f"/r/{name}/new")
    r = b.post(f"/r/{name}/new", form.submission(**{
        "name": "Ada", "address.city": "Tabriz", "address.zip": "5155", "address.kind": "home",
        "address.geo.lat": "38.08", "tags.0": "vip", "phones.0.number": "+98 21 555",
        "phones.0.primary": "on", "scores.0": "7"}))
    assert r.status_code == 302, text(r)[:3000]
    assert _records(p, name) == [{"name": "Ada", "address": {"city": "Tabriz", "zip": 5155, "kind": "home",
                                                             "geo": {"lat": 38.08}},
                                  "tags": ["vip"], "phones": [{"number": "+98 21 555", "primary": True}],
                                  "scores": [7]}]


def test_empty_inputs_are_absent_members_objects_and_items(site):
    p, b, name = site
    form = _form(b, f"/r/{name}/new")
    assert b.post(f"/r/{name}/new", form.submission(name="Bob")).status_code == 302
    assert _records(p, name) == [{"name": "Bob"}]  # no address, no geo, no empty lists


def test_adding_rows_without_javascript_keeps_what_was_typed_and_writes_nothing(site):
    p, b, name = site
    form = _form(b, f"/r/{name}/new")
    typed = form.submission(**{"name": "Ada", "address.city": "Yazd", "tags.0": "a", "phones.0.number": "1"})
    r = b.post(f"/r/{name}/new/rows", {**typed, "~add": "phones"})
    assert r.status_code == 200 and _records(p, name) == []
    again = Form(text(r))
    assert again.controls["address.city"]["value"] == "Yazd" and again.controls["phones.0.number"]["value"] == "1"
    assert "phones.1.number" in again.controls and "phones.2.number" not in again.controls
    assert not again.errors  # nothing refused yet
    # the form still saves to its own address
    assert f'action="/r/{name}/new"' in text(r)
    r = b.post(f"/r/{name}/new/rows", {**again.submission(**{"phones.1.number": "2"}), "~add": "tags"})
    again = Form(text(r))
    assert "tags.1" in again.controls and again.controls["phones.1.number"]["value"] == "2"
    r = b.post(f"/r/{name}/new/rows", {**again.submission(), "~remove": "phones.0"})
    again = Form(text(r))
    assert "phones.0.number" not in again.controls and again.controls["phones.1.number"]["value"] == "2"
    r = b.post(f"/r/{name}/new", again.submission(**{"tags.1": "b"}))
    assert r.status_code == 302, text(r)[:3000]
    assert _records(p, name) == [{"name": "Ada", "address": {"city": "Yazd"}, "tags": ["a", "b"],
                                  "phones": [{"number": "2"}]}]


def test_errors_bind_to_the_nested_input_and_a_refused_save_keeps_what_was_typed(site):
    p, b, name = site
    form = _form(b, f"/r/{name}/new")
    r = b.post(f"/r/{name}/new", form.submission(**{
        "name": "Ada", "address.city": "Q", "address.zip": "abc", "tags.0": "x",
        "phones.0.number": "letters", "phones.0.label": "home"}))
    assert r.status_code == 422
    page = text(r)
    again = Form(page)
    assert again.error_of("address.zip") == "not a whole number"
    assert again.controls["address.city"]["value"] == "Q"
    assert again.controls["phones.0.label"]["value"] == "home"
    assert _records(p, name) == []
    # the schema's errors come once the form's own are fixed: each at its nested input
    r = b.post(f"/r/{name}/new", again.submission(**{"address.zip": "12"}))
    assert r.status_code == 422
    again = Form(text(r))
    assert "at least 2" in again.error_of("address.city") or "short" in again.error_of("address.city")
    assert again.error_of("phones.0.number")
    assert "address.zip" not in again.errors and again.controls["address.zip"].get("aria-invalid") is None
    summary = re.search(r'<div class="flash error summary".*?</div>', text(r), re.S).group(0)
    assert 'href="#f-address.city"' in summary and 'href="#f-phones.0.number"' in summary
    assert _records(p, name) == []


def test_an_error_on_a_later_item_skips_the_empty_rows(site):
    """/data/phones/1/number is the second item: the third row when the second was left empty."""
    p, b, name = site
    form = _form(b, f"/r/{name}/new")
    typed = {**form.submission(name="Ada"), "phones.0.number": "1", "phones.1.number": "",
             "phones.2.number": "bad!"}
    r = b.post(f"/r/{name}/new", typed)
    assert r.status_code == 422
    again = Form(text(r))
    assert again.error_of("phones.2.number") and again.controls["phones.1.number"].get("aria-invalid") is None
    assert again.controls["phones.2.number"]["value"] == "bad!"


def test_list_errors_bind_to_the_lists_fieldset(site):
    p, b, name = site
    form = _form(b, f"/r/{name}/new")
    r = b.post(f"/r/{name}/new", {**form.submission(name="Ada"), "tags.0": "a", "tags.1": "a"})
    assert r.status_code == 422
    page = text(r)
    fieldset = Form(page).fieldsets["f-tags"]
    assert "err-tags" in fieldset["aria-describedby"].split()
    assert html.unescape(Form(page).errors["err-tags"]).strip()
    # said of the list, not of an item's input
    assert not any(Form(page).controls[n].get("aria-invalid") for n in ("tags.0", "tags.1"))
    r = b.post(f"/r/{name}/new", {**form.submission(name="Ada"), "tags.0": "a", "tags.1": "b", "tags.2": "c",
                                  "tags.3": "d"})
    assert r.status_code == 422 and Form(text(r)).errors.get("err-tags")
    assert _records(p, name) == []


def test_the_edit_form_shows_stored_values_and_an_unchanged_save_changes_nothing(site):
    p, b, name = site
    data = {"name": "Ada", "address": {"city": "Tehran", "zip": 11, "since": "2020-01-02", "geo": {"lat": 1.5}},
            "tags": ["a", "b"], "phones": [{"number": "1", "primary": False}, {"number": "2", "primary": True}]}
    with p.session() as s:
        rec = s.create(name, data)
    form = _form(b, f"/r/{name}/{rec.id}/edit")
    assert form.controls["address.city"]["value"] == "Tehran" and form.controls["address.zip"]["value"] == "11"
    assert form.controls["tags.1"]["value"] == "b" and "tags.2" in form.controls  # an empty row to add one
    assert "checked" in form.controls["phones.1.primary"] and "checked" not in form.controls["phones.0.primary"]
    assert b.post(f"/r/{name}/{rec.id}/edit", form.submission()).status_code == 302
    with p.session() as s:
        assert s.get(rec.id).version == 1 and s.get(rec.id).data == data
    # one nested member changed, one item removed by emptying its row
    form = _form(b, f"/r/{name}/{rec.id}/edit")
    r = b.post(f"/r/{name}/{rec.id}/edit", form.submission(**{"address.city": "Rasht", "tags.0": ""}))
    assert r.status_code == 302, text(r)[:3000]
    with p.session() as s:
        got = s.get(rec.id)
        changes = s.history(rec.id)[-1]["payload"]["changes"]
    assert got.version == 2 and got.data == {**data, "address": {**data["address"], "city": "Rasht"}, "tags": ["b"]}
    assert {c["pointer"] for c in changes} >= {"/address/city"}
    # every input of the object emptied: the object is removed
    form = _form(b, f"/r/{name}/{rec.id}/edit")
    emptied = {n: "" for n in form.controls if n.startswith("address.")}
    assert b.post(f"/r/{name}/{rec.id}/edit", form.submission(**emptied)).status_code == 302
    with p.session() as s:
        assert "address" not in s.get(rec.id).data


@pytest.mark.parametrize("stored", [
    {"address": {"city": "Tehran", "note": "undeclared"}},   # a member the inputs do not have
    {"address": {"city": "Tehran", "zip": None}},            # a null inside
    {"tags": ["a", 5]},                                      # an item of another type
    {"phones": [{"number": "1", "extra": [1]}]},            # an undeclared member in an item
])
def test_a_stored_value_the_inputs_cannot_show_keeps_its_json_box(make_platform, stored):
    p = make_platform()
    name = f"nested{next(_counter)}"
    loose = {**SCHEMA, "properties": {k: ({**v, "additionalProperties": True} if k == "address" else v)
                                      for k, v in SCHEMA["properties"].items()}}
    loose["properties"]["address"] = {**loose["properties"]["address"], "properties": {
        **ADDRESS["properties"], "zip": {"type": ["integer", "null"]}}}
    loose["properties"]["tags"] = {"type": "array", "items": {"type": ["string", "integer"]}}
    with p.connection() as conn:
        entity_types.add(conn, {"name": name, "schema": {**loose, "required": []}})
    b = Browser(p)
    b.login()
    with p.session() as s:
        rec = s.create(name, stored)
    form = _form(b, f"/r/{name}/{rec.id}/edit")
    [field] = stored
    if field == "tags":
        # items of two types: no one input for them, the property keeps its JSON box
        assert "tags" in form.controls
    else:
        assert form.controls[field]["tag"] == "textarea" and not any(c.startswith(field + ".") for c in form.controls)
    assert b.post(f"/r/{name}/{rec.id}/edit", form.submission()).status_code == 302
    with p.session() as s:
        assert s.get(rec.id).version == 1 and s.get(rec.id).data == stored
    if field == "address":
        # an edit in the JSON box is saved, and the next form shows inputs again
        r = b.post(f"/r/{name}/{rec.id}/edit", form.submission(address='{"city": "Qom"}'))
        assert r.status_code == 302, text(r)[:2000]
        assert _form(b, f"/r/{name}/{rec.id}/edit").controls["address.city"]["value"] == "Qom"


def test_a_property_named_like_a_nested_input_keeps_the_json_box(make_platform):
    p = make_platform()
    with p.connection() as conn:
        entity_types.add(conn, {"name": "clash", "schema": {"type": "object", "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "string"}}}, "a.b": {"type": "string"}}}})
    b = Browser(p)
    b.login()
    form = _form(b, "/r/clash/new")
    assert form.controls["a"]["tag"] == "textarea" and form.controls["a.b"]["tag"] == "input"
    assert b.post("/r/clash/new", form.submission(**{"a": '{"b": "x"}', "a.b": "y"})).status_code == 302
    with p.session() as s:
        assert [r.data for r in s.list("clash")] == [{"a": {"b": "x"}, "a.b": "y"}]


def test_the_rows_address_needs_the_right_to_create(site):
    p, b, name = site
    anon = Browser(p)
    r = anon.post(f"/r/{name}/new/rows", {"~add": "tags"})
    assert r.status_code in (302, 401, 403) and _records(p, name) == []
    r = b.post(f"/r/{name}/nope/edit/rows", {"~add": "tags"})
    assert r.status_code == 404


def test_the_persian_form_says_its_buttons_in_persian(site):
    p, b, name = site
    b.post("/lang", {"lang": "fa", "next": "/"})
    page = text(b.get(f"/r/{name}/new"))
    assert 'dir="rtl"' in page
    add = re.search(r'<button type="submit" class="add"[^>]*>([^<]+)<', page).group(1)
    assert add != "Add a row" and add.strip()
    assert "Remove" not in re.sub(r'value="[^"]*"', "", page.split("<form", 1)[1])


@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_refused_nested_form_passes_the_markup_audit(site, language):
    """Each nested input and button has a name, ids are unique, and the refused nested input
    is named by the summary's link and described by its message."""
    p, b, name = site
    b.post("/lang", {"lang": language, "next": "/"})
    form = _form(b, f"/r/{name}/new")
    r = b.post(f"/r/{name}/new", form.submission(**{"name": "Ada", "address.zip": "x", "phones.0.label": "a"}))
    page = text(r)
    assert r.status_code == 422 and audit(page, language) == []
    doc = parse(page)
    zip_input = next(n for n in doc.iter() if n.attrs.get("name") == "address.zip")
    assert zip_input.attrs.get("aria-invalid") == "true"
    assert "err-address.zip" in zip_input.attrs["aria-describedby"].split()
    assert accessible_name(zip_input, doc).startswith("Zip")
    remove = next(n for n in doc.iter() if n.tag == "button" and n.attrs.get("name") == "~remove")
    assert accessible_name(remove, doc) == ("Remove (Tags, item 1)" if language == "en" else "حذف (Tags، مورد ۱)")
    # a phone typed without its required number: the schema's error, found with the form's
    # own (the zip), is said at the number's input
    assert Form(page).error_of("phones.0.number")
