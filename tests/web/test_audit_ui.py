"""Admin UI audit: forms, record pages, lists and timelines on a type with unusual schemas
(nested objects, arrays, anyOf, defaults, readOnly, references, Unicode names), in English
and Persian."""
from __future__ import annotations

import html
import re
from datetime import datetime

import jdatetime
import pytest

from xrm_core.plugins import hookimpl
from xrm_core.web.ui import forms

from test_ui_support import Browser, text


class ProjectPlugin:
    __name__ = "projects"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [
            {"name": "member", "label": {"en": "Member", "fa": "عضو"}, "title_field": "name",
             "schema": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}},
            {"name": "project", "label": {"en": "Project", "fa": "پروژه"}, "title_field": "title",
             "schema": {"type": "object", "required": ["title", "status", "signed"], "properties": {
                 "title": {"type": "string", "minLength": 2},
                 "status": {"type": "string", "enum": ["draft", "active"], "default": "draft"},
                 "signed": {"type": "boolean"},
                 "public": {"type": "boolean", "default": True},
                 "uid": {"type": "string", "readOnly": True, "description": "Set by the system"},
                 "tags": {"type": "array", "items": {"type": "string"}},
                 "milestones": {"type": "array", "items": {"type": "object", "required": ["name"]}},
                 "address": {"type": "object", "required": ["city"], "properties": {
                     "city": {"type": "string"},
                     "geo": {"type": "object", "required": ["lat"], "properties": {
                         "lat": {"type": "number"}, "lng": {"type": "number"},
                         "meta": {"type": "object", "properties": {"source": {"type": "string"}}}}}}},
                 "size": {"anyOf": [{"type": "integer"}, {"type": "string", "enum": ["S", "M", "L"]}]},
                 "lead": {"type": "string", "x-ref": "member"},
                 "notes": {"type": "string", "maxLength": 100},
                 "描述": {"type": "string"}}}}]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "staffed_by", "label": {"en": "staffed by", "fa": "با کارکنان"},
                 "inverse_label": {"en": "works on", "fa": "کار می‌کند روی"}, "source": "project",
                 "target": "member", "cardinality": "many-to-many", "on_delete": "unlink"}]


@pytest.fixture
def app(make_platform):
    p = make_platform(ProjectPlugin())
    b = Browser(p)
    b.login()
    return p, b


def _errors(page: str) -> dict:
    return {k: html.unescape(v) for k, v in re.findall(r'<span class="error" id="err-([^"]+)">([^<]*)</span>', page)}


def _create(p, **data):
    with p.session() as s:
        return s.create("project", {"title": "Alpha", "status": "active", "signed": True, **data})


def _edit(b, rec_id: str, **changes):
    """Submit the edit form as a browser would: every input as shown, some changed."""
    page = text(b.get(f"/r/project/{rec_id}/edit"))
    form = {k: html.unescape(v) for k, v in re.findall(r'<input id="f-([^"]+)" name="[^"]+" value="([^"]*)"', page)}
    for name, body in re.findall(r'<textarea id="f-([^"]+)"[^>]*>(.*?)</textarea>', page, re.S):
        form[name] = html.unescape(body).removeprefix("\n")  # as a browser reads a textarea
    for name, options in re.findall(r'<select id="f-([^"]+)"[^>]*>(.*?)</select>', page, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', options)
        form[name] = html.unescape(chosen.group(1)) if chosen else ""
    for name, checked in re.findall(r'<input id="f-([^"]+)" type="checkbox" name="[^"]+"( checked)?', page):
        if checked:
            form[name] = "on"
    form["version"] = re.search(r'name="version" value="(\d+)"', page).group(1)
    form.update(changes)
    return b.post(f"/r/project/{rec_id}/edit", form)


def test_deleting_a_key_in_a_json_object_removes_it(app):
    """A JSON object sent as a merge patch is merged: a key the user deleted in the text
    used to survive (address.geo.meta stayed stored) though the form said "Saved"."""
    p, b = app
    rec = _create(p, address={"city": "تهران", "geo": {"lat": 35.7, "lng": 51.4, "meta": {"source": "gps"}}},
                  tags=["a", "b"])
    r = _edit(b, rec.id, address='{"city": "تهران", "geo": {"lat": 35.7}}')
    assert r.status_code == 302, _errors(text(r))
    with p.session() as s:
        data = s.get(rec.id).data
        assert data["address"] == {"city": "تهران", "geo": {"lat": 35.7}}
        assert data["tags"] == ["a", "b"]  # untouched
        assert s.get(rec.id).version == 2
    # The same object written differently (spacing, key order) changes nothing.
    r = _edit(b, rec.id, address='{"geo":{"lat":35.7},   "city":"تهران"}')
    with p.session() as s:
        assert r.status_code == 302 and s.get(rec.id).version == 2
    # A key deleted from the text is removed, a new one added, the rest kept.
    r = _edit(b, rec.id, address='{"city": "تهران", "zip": "11369"}')
    with p.session() as s:
        assert r.status_code == 302 and s.get(rec.id).data["address"] == {"city": "تهران", "zip": "11369"}


def test_a_reference_typed_as_a_title_is_resolved_or_refused(app):
    """The picker offers ids but a user may type the title: it was stored as typed, a
    reference to nothing that the record page could not even link."""
    p, b = app
    with p.session() as s:
        ada = s.create("member", {"name": "Ada"})
        s.create("member", {"name": "Twin"})
        s.create("member", {"name": "Twin"})
    b.get("/r/project/new")
    r = b.post("/r/project/new", {"title": "By title", "status": "draft", "signed": "on", "lead": "Ada"})
    assert r.status_code == 302
    with p.session() as s:
        assert s.list("project")[0].data["lead"] == ada.id
    for typed, message in (("Nobody", "no Member record with this id or title"),
                           ("Twin", "several records have this title: pick one from the list")):
        r = b.post("/r/project/new", {"title": "Bad", "status": "draft", "signed": "on", "lead": typed})
        assert r.status_code == 422 and _errors(text(r)) == {"lead": message}
        assert f'value="{typed}"' in text(r)  # kept for correcting
    with p.session() as s:
        assert len(s.list("project")) == 1
    # An edit that leaves the reference alone is not checked again.
    rec = _create(p, lead="gone-record-id")
    assert _edit(b, rec.id, title="Renamed").status_code == 302


def test_a_required_boolean_can_be_false(app):
    """An unticked box of a required boolean was 'required' on create: false was impossible."""
    p, b = app
    b.get("/r/project/new")
    r = b.post("/r/project/new", {"title": "Unsigned", "status": "draft"})
    assert r.status_code == 302, _errors(text(r))
    with p.session() as s:
        assert s.list("project")[0].data["signed"] is False


def test_defaults_fill_the_new_form_and_read_only_fields_stay(app):
    p, b = app
    page = text(b.get("/r/project/new"))
    assert '<option value="draft" selected>' in page
    assert re.search(r'<input id="f-public" type="checkbox" name="public" checked', page)
    assert re.search(r'<input id="f-uid" name="uid" value=""[^>]*aria-describedby="help-uid"[^>]* readonly>', page)
    assert '<small class="muted" id="help-uid">Set by the system</small>' in page
    rec = _create(p, uid="U-1")
    r = _edit(b, rec.id, uid="forged")
    with p.session() as s:
        assert s.get(rec.id).data["uid"] == "U-1" and s.get(rec.id).version == 1
    assert r.status_code == 302
    b.get("/r/project/new")
    b.post("/r/project/new", {"title": "New", "status": "draft", "signed": "on", "uid": "forged"})
    with p.session() as s:
        assert "uid" not in next(r for r in s.list("project") if r.data["title"] == "New").data


def test_field_errors_are_complete_short_and_bound_to_their_input(app):
    p, b = app
    b.get("/r/project/new")
    r = b.post("/r/project/new", {"title": "x" * 5, "status": "draft", "signed": "on",
                                  "address": '{"geo": {"lng": 1}}', "notes": "n" * 500})
    page = text(r)
    errors = _errors(page)
    # Both missing keys of the nested object, not only the first.
    assert errors["address"] == "City: required; Geo › Lat: required"
    # The 500-character value is not repeated whole in its message.
    assert len(errors["notes"]) < 120 and errors["notes"].endswith('…" (500 characters) is longer than 100 characters')
    assert re.search(r'<textarea id="f-address" name="address"[^>]* aria-invalid="true" aria-describedby="err-address[^"]*"', page)
    with p.session() as s:
        assert s.list("project") == []


def test_a_text_with_a_leading_line_break_survives_an_unrelated_edit(app):
    """A browser drops the first line break of a textarea's content: without one added by the
    page, saving any other field rewrote the notes."""
    p, b = app
    rec = _create(p, notes="\nsecond line", 描述="a\nb")
    page = text(b.get(f"/r/project/{rec.id}/edit"))
    assert '<textarea id="f-notes" name="notes" rows="4">\n\nsecond line</textarea>' in page
    # A one-line input cannot hold a line break: a value with one gets a textarea.
    assert re.search(r'<textarea id="f-描述" name="描述" rows="4">\na\nb</textarea>', page)
    assert _edit(b, rec.id, title="Renamed").status_code == 302
    with p.session() as s:
        data = s.get(rec.id).data
        assert data["notes"] == "\nsecond line" and data["描述"] == "a\nb" and data["title"] == "Renamed"


def test_nested_values_and_arrays_are_shown_readably(app):
    p, b = app
    rec = _create(p, tags=["a", "ب"], address={"city": "C", "geo": {"lat": 1.5}}, milestones=[{"name": "M1"}])
    page = text(b.get(f"/r/project/{rec.id}"))
    assert '<dt>Tags</dt><dd><ul class="inline-list"><li>a</li><li>ب</li></ul></dd>' in page
    # Declared members by their labels, as the form names their inputs (the key in the title).
    assert ('<dt>Address</dt><dd><dl class="nested"><dt title="city">City</dt><dd>C</dd><dt title="geo">Geo</dt><dd>'
            '<dl class="nested"><dt title="lat">Lat</dt><dd>1.5</dd></dl></dd></dl></dd>') in page
    # A member the schema does not declare keeps its key.
    assert '<ol class="nested"><li><dl class="nested"><dt>name</dt><dd>M1</dd></dl></li></ol>' in page


def test_list_filters_name_only_filterable_fields_and_read_untyped_values(app):
    p, b = app
    _create(p, title="Small", size=1, address={"city": "Rasht", "geo": {"lat": 37.2}})
    _create(p, title="Medium", size="M", 描述="中型")
    page = text(b.get("/r/project"))
    offered = re.findall(r'<option value="([^"]*)"', re.search(r'<select name="ff".*?</select>', page, re.S).group(0))
    # A field named in another script is a field like any other (the filter language takes it).
    assert "描述" in offered
    page = text(b.get("/r/project?ff=描述&fo=eq&fv=中型"))
    assert ">Medium<" in page and ">Small<" not in page
    assert {"address.city", "address.geo.lat", "address.geo.meta.source"} <= set(offered)
    assert '<option value="address.geo.lat">Address › Geo › Lat</option>' in page
    ops = re.search(r'<select name="fo".*?</select>', page, re.S).group(0)
    assert '<option value="gte">≥</option>' in ops and ">exists (yes/no)<" in ops
    # anyOf integer/string: 1 is the number (it matched nothing), M the text.
    assert ">Small<" in text(b.get("/r/project?ff=size&fo=eq&fv=1"))
    assert ">Small<" in text(b.get("/r/project?ff=size&fo=in&fv=1,2"))
    page = text(b.get("/r/project?ff=size&fo=eq&fv=M"))
    assert ">Medium<" in page and ">Small<" not in page
    page = text(b.get("/r/project?ff=address.geo.lat&fo=gt&fv=30"))
    assert ">Small<" in page and ">Medium<" not in page


def test_the_timeline_speaks_the_users_language(app):
    """Kinds and the core's own summaries were English words on a Persian page
    (`updated`, `updated title`, `staffed_by → member ID`)."""
    p, b = app
    rec = _create(p)
    with p.session() as s:
        m = s.create("member", {"name": "Ada"})
        s.relate("staffed_by", rec.id, m.id)
        s.update(rec.id, {"title": "Beta"})
    page = text(b.get(f"/r/project/{rec.id}"))
    timeline = page[page.index('id="timeline"'):]
    assert "<strong>updated</strong>" in timeline and "updated title" not in timeline
    assert f'staffed by Member: <a href="/r/member/{m.id}">Ada</a>' in timeline
    b.post("/lang", {"lang": "fa", "next": "/"})
    page = text(b.get(f"/r/project/{rec.id}"))
    timeline = page[page.index('id="timeline"'):]
    assert 'dir="rtl"' in page
    words = re.findall(r"<strong>([^<]*)</strong>", timeline)
    assert words and not any(re.search(r"[A-Za-z]", w) for w in words), words
    assert f'با کارکنان عضو: <a href="/r/member/{m.id}">' in timeline
    page = text(b.get(f"/r/member/{m.id}"))
    assert f'کار می‌کند روی پروژه: <a href="/r/project/{rec.id}">' in page


def test_dates_and_names_keep_their_order_in_persian_text(app):
    """The bidirectional algorithm reordered a date inside Persian text (the record page's
    `updated 2026-11-26T02:29` read `26T02:29-11-2026`): each value is isolated."""
    p, b = app
    rec = _create(p)
    b.post("/lang", {"lang": "fa", "next": "/"})
    page = text(b.get(f"/r/project/{rec.id}"))
    meta = re.search(r'<p class="meta">(.*?)</p>', page).group(1)
    # In Persian digits and words, as a Persian reader writes a time (web/ui/i18n.py), isolated.
    # (The Solar Hijri year: ui15.)
    on = datetime.fromisoformat(rec.updated_at.replace("Z", "+00:00")).date()
    year = str(jdatetime.date.fromgregorian(date=on).year).translate(str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹"))
    assert re.search(r'<bdi><time datetime="%s"[^>]*>[^<]*%s[^<]*</time></bdi>' % (re.escape(rec.updated_at), year), meta)
    assert "<bdi>admin</bdi>" in meta
    assert '<span class="at"><time datetime=' in page
    assert '<link rel="icon" href="data:,">' in page  # no /favicon.ico 404 in the console
