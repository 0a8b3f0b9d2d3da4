"""The admin UI's remaining rough edges, settled: nested keys by their labels on the record
page, pattern errors in words, link candidates that already have their one link marked,
the import report's fields by label, and the error summary that takes the focus."""
from __future__ import annotations

import html
import io
import re

import pytest
from sqlalchemy import event

from xrm_core.plugins import hookimpl
from xrm_core.web.ui import listing

from test_ui_support import Browser, text

PHONE = {"$ref": "https://xrm.dev/schemas/common.json#/$defs/phone"}


class SitePlugin:
    __name__ = "sites"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [
            {"name": "keeper", "label": "Keeper", "title_field": "name",
             "schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
            {"name": "site", "label": "Site", "title_field": "name",
             "value_labels": {"address.kind": {"main": "Head office", "branch": "Branch office"}},
             "schema": {"type": "object", "required": ["name"], "properties": {
                 "name": {"type": "string"},
                 "code": {"type": "string", "pattern": "^[A-Z]{3}$", "description": "Three capital letters"},
                 "ref_no": {"type": "string", "pattern": "^[0-9]{4}$"},
                 "phone": PHONE,
                 "floors": {"type": "integer"},
                 "address": {"type": "object", "properties": {
                     "city": {"type": "string", "title": "Town"},
                     "kind": {"enum": ["main", "branch"]},
                     "geo": {"type": "object", "properties": {"lat_deg": {"type": "number"}}}}},
                 "contacts": {"type": "array", "items": {"type": "object", "properties": {
                     "name": {"type": "string", "title": "Contact name"}, "a/b": {"type": "string"}}}}}}}]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [
            # A site has one keeper at most; a keeper keeps many sites.
            {"name": "keeps", "label": "keeps", "inverse_label": "kept by", "source": "keeper", "target": "site",
             "cardinality": "one-to-many", "on_delete": "unlink"},
            {"name": "twin", "label": "twinned with", "inverse_label": "twin of", "source": "site", "target": "site",
             "cardinality": "one-to-one", "on_delete": "unlink"}]


@pytest.fixture
def app(make_platform):
    p = make_platform(SitePlugin())
    b = Browser(p)
    b.login()
    return p, b


def _lang(b, language):
    b.post("/lang", {"lang": language, "next": "/"})


def _create(p, type_name="site", **data):
    with p.session() as s:
        return s.create(type_name, data)


# -- 1. the record page names nested keys by their labels -------------------------------------
def test_the_record_page_names_nested_members_as_the_form_does(app):
    p, b = app
    rec = _create(p, name="S", address={"note": "n", "geo": {"lat_deg": 1.5}, "kind": "main", "city": "Rasht"},
                  contacts=[{"zz": "z", "a/b": "x", "name": "Ann"}])
    page = text(b.get(f"/r/site/{rec.id}"))
    # Declared members in the schema's order, by label (the key in the title); an undeclared
    # one by its key, last; a value by its label (value_labels of the dotted path).
    assert ('<dt>Address</dt><dd><dl class="nested"><dt title="city">Town</dt><dd>Rasht</dd>'
            '<dt title="kind">Kind</dt><dd>Head office</dd><dt title="geo">Geo</dt><dd><dl class="nested">'
            '<dt title="lat_deg">Lat deg</dt><dd>1.5</dd></dl></dd><dt>note</dt><dd>n</dd></dl></dd>') in page
    # Inside a list's items too.
    assert ('<ol class="nested"><li><dl class="nested"><dt title="name">Contact name</dt><dd>Ann</dd>'
            '<dt title="a/b">A/b</dt><dd>x</dd><dt>zz</dt><dd>z</dd></dl></li></ol>') in page
    # The same words as the form's inputs.
    form = text(b.get("/r/site/new"))
    for label in ("Town", "Kind", "Lat deg", "Contact name"):
        assert re.search(rf'<label for="f-[^"]+">{label}', form), label


# -- 2. a pattern error is said in words ------------------------------------------------------
def _field_errors(page: str) -> dict:
    return {m.group(1): html.unescape(m.group(2))
            for m in re.finditer(r'<span class="error" id="err-([^"]+)">([^<]*)</span>', page)}


@pytest.mark.parametrize("via_core", [True, False], ids=["core", "with-form-errors"])
def test_a_pattern_error_says_the_schemas_hint_or_introduces_the_pattern(app, via_core):
    """Refused by the core (every input read), or found beside an input the form refused
    itself (the schema's errors added for the other inputs): the same words."""
    p, b = app
    b.get("/r/site/new")
    form = {"name": "S", "code": "abc", "ref_no": "12", "phone": "no!"}
    if not via_core:
        form["floors"] = "two"  # the form's own refusal: not a whole number
    errors = _field_errors(text(b.post("/r/site/new", form)))
    # The property's description, the common phone schema's (beside its pattern), or the pattern introduced.
    assert errors["code"] == "is not in the required form: Three capital letters"
    assert errors["phone"].startswith("is not in the required form: Telephone number, digits with optional +")
    assert errors["ref_no"] == "is not in the required form (the pattern it must match: ^[0-9]{4}$)"
    assert not any("does not match" in e for e in errors.values())
    with p.session() as s:
        assert s.list("site") == []


@pytest.mark.parametrize("language, hint, introduced", [
    ("fa", "شکل درخواستی را ندارد: شماره تلفن",
     "شکل درخواستی را ندارد (الگویی که باید با آن جور باشد: \u2066^[0-9]{4}$\u2069)"),
    ("zh", "格式不符合要求：电话号码", "格式不符合要求（须匹配的模式：^[0-9]{4}$）")])
def test_a_pattern_error_in_persian_and_chinese(app, language, hint, introduced):
    p, b = app
    _lang(b, language)
    b.get("/r/site/new")
    errors = _field_errors(text(b.post("/r/site/new", {"name": "S", "ref_no": "12", "phone": "no!"})))
    assert errors["ref_no"] == introduced  # the pattern kept left to right in a Persian sentence
    assert errors["phone"].startswith(hint)


def test_the_api_keeps_the_validators_words(app):
    """The UI's wording is the UI's: the REST API's 422 says what the validator says."""
    p, b = app
    from xrm_core import accounts
    with p.connection() as conn:
        token = accounts.create_token(conn, "admin")
    r = b.client.post("/api/v1/records/site", json={"data": {"name": "S", "ref_no": "12"}},
                      headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 422
    assert any("does not match" in e["message"] for e in r.get_json()["errors"])


# -- 3. the link page marks candidates that have their one link -------------------------------
def _link_rows(page: str) -> dict:
    """{title: what the Link column holds} of the link page's table."""
    out = {}
    for title, cell in re.findall(r'<tr>\s*<td><a href="[^"]*">([^<]*)</a></td>\s*<td>(.*?)</td>\s*</tr>', page, re.S):
        out[title] = "button" if "<button" in cell else html.unescape(re.sub(r"<[^>]+>", "", cell)).strip()
    return out


def test_candidates_with_their_one_link_are_marked_with_the_reason(app):
    p, b = app
    k1, k2 = _create(p, "keeper", name="K1"), _create(p, "keeper", name="K2")
    s1, s2 = _create(p, name="S1"), _create(p, name="S2")
    with p.session() as s:
        s.relate("keeps", k1.id, s1.id)
    page = text(b.get(f"/r/keeper/{k2.id}/link?rel=keeps:out"))
    # S1 is kept by K1 already: marked, no button; S2 offered.
    assert _link_rows(page) == {"S1": "not available: already has its one link “kept by”", "S2": "button"}
    assert 'id="own-full"' not in page
    # From K1, S1 is its own link.
    assert _link_rows(text(b.get(f"/r/keeper/{k1.id}/link?rel=keeps:out")))["S1"] == "linked"
    # The mark says what the core does: S1 is refused, S2 taken.
    b.post(f"/r/keeper/{k2.id}/link", {"rel": "keeps:out", "other": s1.id})
    assert "already has its one link" in text(b.followed)
    b.post(f"/r/keeper/{k2.id}/link", {"rel": "keeps:out", "other": s2.id})
    assert "Linked." in text(b.followed)
    # From a site (the target end, which takes one keeper): S1 has its keeper, so nothing is offered.
    page = text(b.get(f"/r/site/{s1.id}/link?rel=keeps:in"))
    assert 'id="own-full"' in page and "S1 already has its one link “kept by”" in html.unescape(page)
    assert "<button" not in page.split("<table")[1]


def test_a_one_to_one_marks_both_ends(app):
    p, b = app
    s1, s2, s3 = (_create(p, name=n) for n in ("S1", "S2", "S3"))
    with p.session() as s:
        s.relate("twin", s1.id, s2.id)
    # S3 → ?: S2 has its source (S1); S1 is free as a target.
    rows = _link_rows(text(b.get(f"/r/site/{s3.id}/link?rel=twin:out")))
    assert rows == {"S1": "button", "S2": "not available: already has its one link “twin of”"}
    # ? → S3: S1 has its target (S2).
    rows = _link_rows(text(b.get(f"/r/site/{s3.id}/link?rel=twin:in")))
    assert rows == {"S1": "not available: already has its one link “twinned with”", "S2": "button"}
    # S1 → ?: S1 has its one target; nothing offered, said once above the table.
    page = text(b.get(f"/r/site/{s1.id}/link?rel=twin:out"))
    assert 'id="own-full"' in page and set(_link_rows(page).values()) == {"linked", "not available"}


def test_the_marks_cost_one_query_whatever_the_number_of_candidates(app):
    p, b = app
    keeper = _create(p, "keeper", name="K")
    other = _create(p, "keeper", name="O")

    def statements(n_sites: int) -> int:
        with p.session() as s:
            for i in range(n_sites):
                site = s.create("site", {"name": f"X{i:03}"})
                if i % 2:
                    s.relate("keeps", other.id, site.id)
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(p.engine, "before_cursor_execute", listener)
        try:
            page = text(b.get(f"/r/keeper/{keeper.id}/link?rel=keeps:out&q=X"))
        finally:
            event.remove(p.engine, "before_cursor_execute", listener)
        assert "not available" in page
        return len(seen)
    few = statements(4)
    many = statements(36)  # 40 candidates now, 20 of them marked
    assert many == few, (few, many)


# -- 4. the import report names fields by label ----------------------------------------------
def test_the_import_report_names_fields_by_label_with_the_pointer_after(app):
    p, b = app
    b.get("/r/site/import")
    body = "\n".join([
        '{"name": "A", "code": "x"}',
        '{"name": "B", "address": {"kind": "side", "geo": {"lat_deg": "n"}}}',
        '{"name": "C", "contacts": [{"name": "ok"}, {"name": 5, "a/b": 1}]}',
        '{"name": "D", "extra": {"x": 1}, "address": {"other": 1}}']) + "\n"
    r = b.post("/r/site/import", {"file": (io.BytesIO(body.encode()), "sites.jsonl")},
               content_type="multipart/form-data")
    page = text(r)
    assert r.status_code == 422
    rows = re.findall(r'<tr><td>(\d+)</td><td>([^<]*) <bdi class="pointer" dir="ltr"><code>([^<]*)</code></bdi></td>',
                      page)
    shown = {ptr: html.unescape(label) for _line, label, ptr in rows}
    assert shown["/code"] == "Code"
    assert shown["/address/kind"] == "Address › Kind"
    assert shown["/address/geo/lat_deg"] == "Address › Geo › Lat deg"
    assert shown["/contacts/1/name"] == "Contacts › item 2 › Contact name"
    assert shown["/contacts/1/a~1b"] == "Contacts › item 2 › A/b"


def test_pointer_labels(app):
    p, b = app
    with p.session() as s:
        et = s.entity_type("site")
    with b.app.test_request_context():
        assert listing.pointer_label(et, "") == ""
        assert listing.pointer_label(et, "/address/city") == "Address › Town"
        assert listing.pointer_label(et, "/address/nowhere/deeper") == "Address › nowhere › deeper"
        assert listing.pointer_label(et, "/undeclared") == "undeclared"
        assert listing.pointer_label(et, "/contacts/0") == "Contacts › item 1"
    with b.app.test_request_context(headers={"Cookie": "xrm_lang=fa"}):
        assert listing.pointer_label(et, "/contacts/11/name") == "Contacts › مورد ۱۲ › Contact name"


# -- 5. the error summary takes the focus ----------------------------------------------------
def test_every_error_summary_can_take_the_focus_and_the_script_is_served(app):
    p, b = app
    assert "error-summary.js" not in text(b.get("/r/site/new"))  # no summary, no script
    page = text(b.post("/r/site/new", {"name": "S", "code": "abc"}))
    assert '<div class="flash error summary" role="alert" id="form-errors" tabindex="-1">' in page
    assert '<script src="/static/error-summary.js" defer></script>' in page
    with b.client.get("/static/error-summary.js") as script:
        assert script.status_code == 200 and b"summary.focus()" in script.data
    # A refusal of the form as a whole (a stale version) is in the same summary, focusable.
    rec = _create(p, name="S")
    with p.session() as s:
        s.update(rec.id, {"name": "S2"})
    b.get(f"/r/site/{rec.id}/edit")
    r = b.post(f"/r/site/{rec.id}/edit", {"name": "S3", "version": "1"})
    assert r.status_code == 409
    summary = re.search(r'<div class="flash error summary" role="alert" id="form-errors" tabindex="-1">(.*?)</div>',
                        text(r), re.S).group(1)
    assert "changed by someone else" in summary and "<a " not in summary
    # The admin forms (macros.html's summary) and the login page.
    r = b.post("/admin/units", {"name": "", "parent": ""})
    assert re.search(r'<div class="flash error summary" role="alert" id="[a-z]+-errors" tabindex="-1">', text(r))
    anon = Browser(p)
    anon.get("/login")
    r = anon.post("/login", {"username": "admin", "password": "wrong"})
    assert '<p class="flash error summary" role="alert" id="login-error" tabindex="-1">' in text(r)
