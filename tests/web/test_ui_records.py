"""Admin UI record pages: scoped lists, filters, search, paging, CSV, record page, forms."""
from __future__ import annotations

import copy
import csv
import html
import io
import re

import pytest

from xrm_core.plugins import hookimpl
from xrm_core.web.ui import listing

from test_ui_support import Browser, text


@pytest.fixture
def browser(org):
    return Browser(org)


def _make(org, user, **data):
    with org.session(user) as s:
        return s.create("person", {"name": "P", **data})


def test_lists_and_record_pages_are_scoped_like_the_api(browser, org):
    a = _make(org, "manager_a", name="Alpha")
    b = _make(org, "manager_b", name="Bravo")
    browser.login("manager_a", "pw")
    page = text(browser.get("/r/person"))
    assert "Alpha" in page and "Bravo" not in page
    assert browser.get(f"/r/person/{a.id}").status_code == 200
    for path in (f"/r/person/{b.id}", f"/r/person/{b.id}/edit", "/r/person/nonexistent"):
        r = browser.get(path)
        assert r.status_code == 404 and "Bravo" not in text(r), path
    r = browser.post(f"/r/person/{b.id}/edit", {"name": "Hacked", "version": "1"})
    assert r.status_code == 404
    assert browser.post(f"/r/person/{b.id}/log", {"kind": "call", "summary": "x"}).status_code == 404
    csv_text = text(browser.get("/r/person/export.csv"))
    assert "Alpha" in csv_text and "Bravo" not in csv_text
    with org.session() as s:
        assert s.get(b.id).data == {"name": "Bravo"} and s.history(b.id)[-1]["kind"] == "created"


def test_read_only_users_get_no_edit_form(browser, org):
    a = _make(org, "manager_a", name="Alpha")
    browser.login("north_lead", "pw")  # subtree read of person, nothing else
    page = text(browser.get(f"/r/person/{a.id}"))
    assert "Alpha" in page and f"/r/person/{a.id}/edit" not in page
    r = browser.get(f"/r/person/{a.id}/edit")
    assert r.status_code == 403 and "Not allowed" in text(r) and 'class="flash error"' in text(r)  # the UI's page
    assert browser.post(f"/r/person/{a.id}/edit", {"name": "Changed", "version": "1"}).status_code == 403
    assert 'href="/r/person/new"' not in text(browser.get("/r/person"))
    with org.session() as s:
        assert s.get(a.id).data == {"name": "Alpha"}


def test_a_user_without_read_grant_gets_403_and_no_rows(browser, org):
    _make(org, "manager_a", name="Alpha")
    browser.login("nobody", "pw")
    r = browser.get("/r/person")
    assert r.status_code == 403 and "Alpha" not in text(r)
    assert browser.get("/r/person/new").status_code == 403


def test_filters_search_and_paging(browser, org, monkeypatch):
    with org.session() as s:
        for i in range(7):
            s.create("person", {"name": f"N{i}", "age": i * 10})
        s.create("person", {"name": "Other", "age": 5})
    browser.login()
    page = text(browser.get("/r/person?ff=age&fo=gte&fv=30"))
    assert {"N3", "N4", "N5", "N6"} <= set(re.findall(r">(N\d)<", page)) and ">N2<" not in page
    page = text(browser.get("/r/person?ff=age&fo=in&fv=10,20&ff=name&fo=ne&fv=N1"))
    assert re.findall(r">(N\d)<", page) == ["N2"]
    page = text(browser.get("/r/person?q=N"))
    assert "Other" not in page and len(re.findall(r">(N\d)<", page)) == 7
    page = text(browser.get("/r/person?q=tHe"))  # anywhere in the title, in any case
    assert ">Other<" in page and not re.findall(r">(N\d)<", page)
    assert "Other" in text(browser.get("/r/person/export.csv?q=ther"))
    # Only the type's own fields: anything else is refused with the pointer, no rows shown.
    r = browser.get("/r/person?ff=owner_id&fo=eq&fv=1")
    assert "is not a field of person" in text(r) and "/where/owner_id" in text(r) and ">N1<" not in text(r)  # a row cell; random tokens may contain "N1"
    r = browser.get("/r/person?ff=age&fo=like&fv=1")
    assert "unknown operator" in text(r)
    monkeypatch.setattr("xrm_core.web.ui.pages.PAGE_SIZE", 3)
    seen, url = [], "/r/person?q=N"
    while url:
        page = text(browser.get(url))
        seen += re.findall(r">(N\d)<", page)
        m = re.search(r'rel="next" href="([^"]+)"', page)
        url = m.group(1).replace("&amp;", "&") if m else None
    assert seen == [f"N{i}" for i in range(7)]


def test_csv_export_neutralises_formulas_and_keeps_filters(browser, org):
    for name in ["=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "\tTab", "\rCR", "Plain"]:
        _make(org, "admin", name=name, age=1)
    _make(org, "admin", name="Filtered out", age=2)
    browser.login()
    r = browser.get("/r/person/export.csv?ff=age&fo=eq&fv=1")
    assert r.mimetype == "text/csv" and "attachment" in r.headers["Content-Disposition"]
    assert r.get_data().startswith("\ufeff".encode())  # UTF-8 for spreadsheet programs
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    assert rows[0][0] == "id" and {"name", "email", "age"} <= set(rows[0])
    names = [row[rows[0].index("name")] for row in rows[1:]]
    assert names == ["'=cmd|' /C calc'!A0", "+1", "-2", "'@SUM(A1)", "'\tTab", "'\rCR", "Plain"]
    # Plain signed numbers and phone numbers stay as they are (they call nothing, and the
    # file imports back); anything else that starts like a formula is neutralised.
    for plain in ("-3", "+98 912 553 9541", "+1 (555) 123-4567", "-0.5"):
        assert listing.neutralise(plain) == plain
    for formula in ("-2+3", "+A1", "-1|calc", "=1", "+1!A0"):
        assert listing.neutralise(formula) == "'" + formula
    assert listing.neutralise("a=b") == "a=b"


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_data_is_escaped_on_every_page(browser, org):
    with org.session() as s:
        a = s.create("person", {"name": XSS, "email": "a@example.org", "tags": [XSS], "national_id": XSS})
        b = s.create("person", {"name": "B"})
        s.relate("knows", a.id, b.id)
        s.update(a.id, {"national_id": XSS + "2"})
        s.log(a.id, "call", XSS)
    # Labels in a type definition are data too.
    from xrm_core import entity_types
    with org.connection() as conn:
        d = copy.deepcopy(entity_types.get(conn, "person").definition)
        d["label"] = {"en": XSS}
        d["field_labels"] = {"name": XSS}
        entity_types.update(conn, d)
    browser.login()
    for path in ["/r/person", f"/r/person/{a.id}", f"/r/person/{a.id}/edit", f"/r/person/{b.id}",
                 f"/r/person?q={XSS}", f"/r/person?ff=name&fo=eq&fv={XSS}", "/r/person/new", "/",
                 "/types/", "/types/person"]:
        page = text(browser.get(path))
        assert "<script>" not in page and "<img" not in page, path
        assert "&lt;script&gt;" in page, path


def test_record_page_shows_fields_related_and_timeline_with_diffs(browser, org):
    with org.session() as s:
        a = s.create("person", {"name": "Ada", "age": 36})
        b = s.create("person", {"name": "Bob"})
        s.relate("knows", a.id, b.id)
        s.update(a.id, {"age": 37, "email": "ada@example.org"})
    browser.login()
    page = text(browser.get(f"/r/person/{a.id}"))
    assert "<dt>Age</dt><dd>37</dd>" in page
    assert f'href="/r/person/{b.id}">Bob</a>' in page
    assert re.search(r"<code>/age</code></td><td class=\"old\">36</td><td>→</td><td class=\"new\">37</td>", page)
    assert re.search(r"<code>/email</code></td><td class=\"old\">.*—.*</td><td>→</td><td class=\"new\">ada@example.org", page)
    # The other side sees the relationship too (incoming).
    assert f'href="/r/person/{a.id}">Ada</a>' in text(browser.get(f"/r/person/{b.id}"))


def test_a_long_timeline_shows_the_latest_entries_and_pages_back(browser, org, monkeypatch):
    from xrm_core.web.ui import pages
    monkeypatch.setattr(pages, "TIMELINE_PAGE", 3)
    with org.session() as s:
        a = s.create("person", {"name": "Ada"})
        for i in range(6):
            s.log(a.id, "call", f"call number {i}")
    browser.login()

    def shown(page):
        return re.findall(r"<div>(call number \d)</div>", page)

    page = text(browser.get(f"/r/person/{a.id}"))
    assert shown(page) == ["call number 5", "call number 4", "call number 3"]
    older = re.search(r'href="(/r/person/[^"]+\?older=[^"#]+)#timeline">Older entries', page).group(1)
    page = text(browser.get(older.replace("&amp;", "&")))
    assert shown(page) == ["call number 2", "call number 1", "call number 0"] and "Latest entries" in page
    older = re.search(r'href="(/r/person/[^"]+\?older=[^"#]+)#timeline">Older entries', page).group(1)
    page = text(browser.get(older.replace("&amp;", "&")))
    assert shown(page) == [] and "<strong>created</strong>" in page and "Older entries" not in page
    for junk in ("x", "2026_", "_5", "a_²", "9" * 40):  # a hand-edited link shows the latest entries
        assert shown(text(browser.get(f"/r/person/{a.id}?older={junk}")))[0] == "call number 5", junk


def test_a_dotted_title_field_titles_lists_and_pages(org, make_platform):
    from conftest import PERSON, PersonPlugin
    from xrm_core import accounts
    from xrm_core.plugins import hookimpl

    class Nested(PersonPlugin):
        @hookimpl
        def xrm_entity_types(self):
            return [PERSON, {"name": "card", "title_field": "who.name",
                             "schema": {"type": "object", "properties": {
                                 "who": {"type": "object", "properties": {"name": {"type": "string"}}},
                                 "note": {"type": "string"}}}}]

    p = make_platform(Nested())
    with p.connection() as conn:
        accounts.set_password(conn, "admin", "secret")
    with p.session() as s:
        rec = s.create("card", {"who": {"name": "Ada Card"}, "note": "n"})
    b = Browser(p)
    b.login()
    assert f'href="/r/card/{rec.id}">Ada Card</a>' in text(b.get("/r/card"))
    assert "Ada Card" in text(b.get(f"/r/card/{rec.id}"))


def test_log_an_interaction(browser, org):
    a = _make(org, "admin", name="Ada")
    browser.login()
    page = text(browser.get(f"/r/person/{a.id}"))
    assert '<option value="call">Phone call</option>' in page
    r = browser.post(f"/r/person/{a.id}/log", {"kind": "call", "summary": "Asked about service"})
    assert r.status_code == 302
    assert "Interaction logged." in text(browser.followed)
    assert "Asked about service" in text(browser.get(f"/r/person/{a.id}"))
    r = browser.post(f"/r/person/{a.id}/log", {"kind": "fax", "summary": "no"})
    assert r.status_code == 422 and "Not logged: unknown activity kind &#39;fax&#39;" in text(r)
    r = browser.post(f"/r/person/{a.id}/log", {"kind": "call", "summary": "  "})
    assert r.status_code == 422 and "Not logged: an interaction needs a summary" in text(r)
    with org.session() as s:
        assert [h["kind"] for h in s.history(a.id)] == ["created", "call"]


class TicketPlugin:
    """A type whose fields cover every widget, with both reference conventions."""

    __name__ = "tickets"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "ticket", "title_field": "subject",
                 "field_labels": {"subject": {"en": "Subject", "fa": "موضوع", "zh": "主题"}},
                 "schema": {"type": "object", "required": ["subject", "kind"], "properties": {
                     "subject": {"type": "string", "minLength": 3},
                     "kind": {"enum": ["bug", "question"]},
                     "priority": {"enum": [1, 2, 3]},
                     "due": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/date"},
                     "opened_at": {"type": "string", "format": "date-time"},
                     "hours": {"type": "number"},
                     "count": {"type": "integer", "minimum": 0},
                     "urgent": {"type": "boolean"},
                     "body": {"type": "string", "maxLength": 5000},
                     "person_id": {"$ref": "https://xrm.dev/schemas/common.json#/$defs/record_ref"},
                     "about": {"type": "string", "x-ref": "note"},
                     "meta": {"type": "object"}}}}]


@pytest.fixture
def tickets(make_platform):
    from conftest import PersonPlugin
    p = make_platform(PersonPlugin(), TicketPlugin())
    b = Browser(p)
    b.login()
    return p, b


def _widgets(page: str) -> dict:
    out = {}
    for m in re.finditer(r'<(input|select|textarea) id="f-(\w+)"([^>]*)>', page):
        kind = m.group(1)
        t = re.search(r'type="([^"]+)"', m.group(3))
        out[m.group(2)] = t.group(1) if kind == "input" and t else kind
    return out


def test_the_form_is_generated_from_the_schema(tickets):
    p, b = tickets
    with p.session() as s:
        person = s.create("person", {"name": "Pat"})
        note = s.create("note", {"text": "A note"})
    page = text(b.get("/r/ticket/new"))
    assert _widgets(page) == {"subject": "text", "kind": "select", "priority": "select", "due": "date",
                              "opened_at": "datetime-local", "hours": "number", "count": "number",
                              "urgent": "checkbox", "body": "textarea", "person_id": "text",
                              "about": "text", "meta": "textarea"}
    assert 'list="dl-person_id"' in page and 'list="dl-about"' in page
    assert '<option value="bug">bug</option>' in page
    assert f'<datalist id="dl-person_id"><option value="{person.id}">Pat</option></datalist>' in page
    assert f'<datalist id="dl-about"><option value="{note.id}">A note</option></datalist>' in page
    assert '<label for="f-subject">Subject <span class="req">*</span>' in page


def test_create_shows_field_errors_and_changes_nothing(tickets):
    p, b = tickets
    r = b.post("/r/ticket/new", {"subject": "ab", "kind": "", "count": "1.5", "hours": "x", "meta": "{"})
    page = text(r)
    assert r.status_code == 422
    errors = dict(re.findall(r'<span class="error" id="err-(\w+)">([^<]*)</span>', page))
    assert errors == {"kind": "required", "count": "not a whole number", "hours": "not a number",
                      "meta": "not valid JSON",  # the form's own checks, and the schema's at once:
                      "subject": "&#34;ab&#34; is shorter than 3 characters"}
    assert 'value="ab"' in page  # what the user typed is kept
    r = b.post("/r/ticket/new", {"subject": "ab", "kind": "bug", "count": "-1"})
    errors = dict(re.findall(r'<span class="error" id="err-(\w+)">([^<]*)</span>', text(r)))
    assert set(errors) == {"subject", "count"} and "shorter than 3" in errors["subject"]
    with p.session() as s:
        assert s.list("ticket") == []


class TaskPlugin:
    """A type whose requirements the form cannot see: only the core's validation finds them."""

    __name__ = "tasks"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "task", "schema": {
            "type": "object", "required": ["title"], "additionalProperties": False,
            "properties": {"title": {"type": "string"}, "urgent": {"type": "boolean"},
                           "due": {"type": "string"}, "meta": {"$ref": "#/$defs/meta"},
                           "count": {"type": "integer"},
                           "contact": {"oneOf": [{"type": "string", "format": "email"},
                                                 {"type": "object", "required": ["phone"]}]}},
            "dependentRequired": {"urgent": ["due"]},
            "$defs": {"meta": {"type": "object", "required": ["owner"]}}}}]


def test_a_requirement_only_the_core_knows_is_shown_at_its_field(make_platform):
    from conftest import PersonPlugin
    p = make_platform(PersonPlugin(), TaskPlugin())
    b = Browser(p)
    b.login()
    r = b.post("/r/task/new", {"title": "Call back", "urgent": "on", "meta": '{"a": 1}'})
    assert r.status_code == 422
    page = text(r)
    errors = dict(re.findall(r'<span class="error" id="err-(\w+)">([^<]*)</span>', page))
    # Required because `urgent` is ticked: said with the field's label (ui10).
    assert errors == {"due": "required when Urgent is filled in", "meta": "owner: required"}
    assert "/data:" not in page  # nothing left for the whole form
    with p.session() as s:
        assert s.list("task") == []


def test_every_field_error_shows_on_the_first_submit(make_platform):
    """The form's own check refused `count`; the schema's verdict on the rest (`due`) shows
    at once too, instead of after the user fixed the first."""
    from conftest import PersonPlugin
    p = make_platform(PersonPlugin(), TaskPlugin())
    b = Browser(p)
    b.login()
    r = b.post("/r/task/new", {"title": "Call back", "urgent": "on", "count": "many"})
    assert r.status_code == 422
    errors = dict(re.findall(r'<span class="error" id="err-(\w+)">([^<]*)</span>', text(r)))
    assert errors == {"count": "not a whole number", "due": "required when Urgent is filled in"}
    with p.session() as s:
        assert s.list("task") == []
        task = s.create("task", {"title": "t"})
    b.get(f"/r/task/{task.id}/edit")
    r = b.post(f"/r/task/{task.id}/edit", {"title": "t", "urgent": "on", "count": "many", "version": "1"})
    errors = dict(re.findall(r'<span class="error" id="err-(\w+)">([^<]*)</span>', text(r)))
    assert r.status_code == 422 and set(errors) == {"count", "due"}
    with p.session() as s:
        assert s.get(task.id).version == 1


def test_a_one_of_field_takes_plain_text_or_json(make_platform):
    from conftest import PersonPlugin
    p = make_platform(PersonPlugin(), TaskPlugin())
    b = Browser(p)
    b.login()
    b.get("/r/task/new")
    assert b.post("/r/task/new", {"title": "a", "contact": "ada@example.org"}).status_code == 302
    b.get("/r/task/new")
    assert b.post("/r/task/new", {"title": "b", "contact": '{"phone": "+98 21 1234"}'}).status_code == 302
    b.get("/r/task/new")
    r = b.post("/r/task/new", {"title": "c", "contact": '{"phone": '})
    errors = dict(re.findall(r'<span class="error" id="err-(\w+)">([^<]*)</span>', text(r)))
    assert errors == {"contact": "not valid JSON"}
    with p.session() as s:
        assert sorted(str(t.data["contact"]) for t in s.list("task")) == [
            "ada@example.org", "{'phone': '+98 21 1234'}"]


def test_field_errors_follow_the_pointer():
    from xrm_core import ValidationError
    from xrm_core.web.ui.forms import field_errors
    e = ValidationError("task data is invalid", [
        {"pointer": "/data/due", "message": '"due" is a required property'},
        {"pointer": "/data/meta/owner", "message": '"owner" is a required property'},
        {"pointer": "/data/a~1b", "message": "not a number"},
        {"pointer": "/data/bogus", "message": "Additional properties are not allowed ('bogus' was unexpected)"},
        {"pointer": "/data", "message": "{} is not valid under any of the schemas listed in the 'anyOf' keyword"},
        {"pointer": "", "message": "unit unknown"}])
    by_field, general = field_errors(e, {"due", "meta", "a/b"})
    assert by_field == {"due": '"due" is a required property', "meta": 'owner: "owner" is a required property',
                        "a/b": "not a number"}
    assert general == ["/data/bogus: Additional properties are not allowed ('bogus' was unexpected)",
                       "/data: {} is not valid under any of the schemas listed in the 'anyOf' keyword",
                       "unit unknown"]


def test_create_and_edit_round_trip_every_widget(tickets):
    p, b = tickets
    with p.session() as s:
        person = s.create("person", {"name": "Pat"})
    r = b.post("/r/ticket/new", {"subject": "Broken", "kind": "bug", "priority": "2", "due": "2026-01-31",
                                 "opened_at": "2026-01-02T03:04", "hours": "1.5", "count": "3", "urgent": "on",
                                 "body": "line1\nline2", "person_id": person.id, "meta": '{"a": [1]}'})
    assert r.status_code == 302
    rid = r.headers["Location"].rsplit("/", 1)[1]
    with p.session() as s:
        rec = s.get(rid)
    assert rec.data == {"subject": "Broken", "kind": "bug", "priority": 2, "due": "2026-01-31",
                        "opened_at": "2026-01-02T03:04:00Z", "hours": 1.5, "count": 3, "urgent": True,
                        "body": "line1\nline2", "person_id": person.id, "meta": {"a": [1]}}
    # The edit form shows the stored values; sending it back unchanged changes nothing.
    page = text(b.get(f"/r/ticket/{rid}/edit"))
    form = dict(re.findall(r'<input id="f-(\w+)" name="\w+" value="([^"]*)"', page))
    assert form["opened_at"] == "2026-01-02T03:04" and form["count"] == "3" and form["person_id"] == person.id
    assert '<option value="2" selected>' in page
    assert re.search(r'list="dl-person_id".*?<small class="muted">Pat</small>', page, re.S)
    unchanged = {**form, "kind": "bug", "priority": "2", "urgent": "on", "body": "line1\r\nline2",
                 "person_id": person.id, "about": "", "meta": '{\n  "a": [\n    1\n  ]\n}', "version": "1"}
    assert b.post(f"/r/ticket/{rid}/edit", unchanged).status_code == 302
    with p.session() as s:
        assert s.get(rid).version == 1
    # A merge patch of what changed: emptied fields are removed, the unticked box is false.
    changed = {**unchanged, "count": "", "urgent": "", "hours": "2"}
    assert b.post(f"/r/ticket/{rid}/edit", changed).status_code == 302
    with p.session() as s:
        data = s.get(rid).data
        assert s.get(rid).version == 2 and "count" not in data and data["urgent"] is False and data["hours"] == 2
        changes = sorted(s.history(rid)[-1]["payload"]["changes"], key=lambda c: c["pointer"])
        assert changes == [{"pointer": "/count", "old": 3, "new": None, "op": "remove"},
                           {"pointer": "/hours", "old": 1.5, "new": 2, "op": "replace"},
                           {"pointer": "/urgent", "old": True, "new": False, "op": "replace"}]


def test_a_stale_edit_form_is_refused_with_a_clear_message(tickets):
    p, b = tickets
    with p.session() as s:
        rid = s.create("ticket", {"subject": "First", "kind": "bug"}).id
    page = text(b.get(f"/r/ticket/{rid}/edit"))
    assert 'name="version" value="1"' in page
    with p.session() as s:
        s.update(rid, {"subject": "Changed elsewhere"})
    r = b.post(f"/r/ticket/{rid}/edit", {"subject": "Mine", "kind": "bug", "version": "1"})
    assert r.status_code == 409 and "changed by someone else" in text(r)
    with p.session() as s:
        assert s.get(rid).data["subject"] == "Changed elsewhere" and s.get(rid).version == 2


def test_reference_values_link_to_the_record_when_visible(tickets):
    p, b = tickets
    with p.session() as s:
        person = s.create("person", {"name": "Pat"})
        rid = s.create("ticket", {"subject": "Link", "kind": "bug", "person_id": person.id}).id
    page = text(b.get(f"/r/ticket/{rid}"))
    assert f'<a href="/r/person/{person.id}">Pat</a>' in page


def test_a_duplicate_unique_value_is_shown_at_its_field(browser, org):
    _make(org, "admin", name="First", national_id="AB123")
    browser.login()
    r = browser.post("/r/person/new", {"name": "Second", "national_id": "AB123"})
    page = text(r)
    assert r.status_code == 422
    assert '<span class="error" id="err-national_id">already used</span>' in page
    assert "already exists" in page
    with org.session() as s:
        assert [p.data["name"] for p in s.list("person")] == ["First"]


# -- delete, link, unlink ----------------------------------------------------------------
def test_delete_asks_first_then_deletes_and_keeps_the_history(browser, org):
    a = _make(org, "manager_a", name="Alpha")
    browser.login("manager_a", "pw")
    page = text(browser.get(f"/r/person/{a.id}"))
    assert f'href="/r/person/{a.id}/delete"' in page
    confirm = text(browser.get(f"/r/person/{a.id}/delete"))
    assert "Delete Person Alpha?" in confirm
    with org.session() as s:
        assert s.get(a.id).data["name"] == "Alpha"  # the confirmation page changes nothing
    assert browser.post(f"/r/person/{a.id}/delete", {"csrf_token": ""}, token=False).status_code == 400
    r = browser.post(f"/r/person/{a.id}/delete")
    assert r.status_code == 302 and r.headers["Location"].endswith("/r/person")
    assert "Deleted Alpha." in text(browser.followed)
    assert browser.get(f"/r/person/{a.id}").status_code == 404
    with org.session() as s:
        assert [h["kind"] for h in s.history(a.id)] == ["created", "deleted"]


def test_delete_needs_the_grant_and_the_scope(browser, org):
    a = _make(org, "manager_a", name="Alpha")
    b = _make(org, "manager_b", name="Bravo")
    browser.login("agent_a", "pw")  # read/create/update own, no delete
    own = _make(org, "agent_a", name="Mine")
    assert f"/r/person/{own.id}/delete" not in text(browser.get(f"/r/person/{own.id}"))
    assert browser.get(f"/r/person/{own.id}/delete").status_code == 403
    assert browser.post(f"/r/person/{own.id}/delete").status_code == 403
    browser.login("manager_a", "pw")
    assert browser.post(f"/r/person/{b.id}/delete").status_code == 404  # outside the unit
    with org.session() as s:
        assert {s.get(i).data["name"] for i in (a.id, b.id, own.id)} == {"Alpha", "Bravo", "Mine"}


def test_a_restricted_delete_is_refused_with_the_reason(browser, org):
    with org.session() as s:
        mentor = s.create("person", {"name": "Mentor"})
        pupil = s.create("person", {"name": "Pupil"})
        s.relate("mentor_of", mentor.id, pupil.id)  # on_delete: restrict
    browser.login()
    confirm = text(browser.get(f"/r/person/{mentor.id}/delete"))
    assert "It has 1 link(s) to other records" in confirm
    r = browser.post(f"/r/person/{mentor.id}/delete")
    assert r.status_code == 302
    said = html.unescape(re.search(r'<p class="flash error">(.*?)</p>', text(browser.followed), re.S).group(1))
    assert said.startswith("Not deleted: it is linked to Pupil («mentor_of»)") and mentor.id not in said
    with org.session() as s:
        assert s.get(mentor.id).data["name"] == "Mentor"


def test_link_then_unlink_from_the_record_page(browser, org):
    with org.session() as s:
        ada = s.create("person", {"name": "Ada"})
        bob = s.create("person", {"name": "Bob"})
        s.create("person", {"name": "Cy"})
        note = s.create("note", {"text": "call back"})
    browser.login()
    page = text(browser.get(f"/r/person/{ada.id}"))
    # Each relationship a person takes part in, in each direction it can take.
    for value in ("knows:out", "knows:in", "has_note:out", "mentor_of:out", "mentor_of:in"):
        assert f'<option value="{value}">' in page, value
    assert '<option value="has_note:out">has_note → Note</option>' in page  # the other end's type shown
    assert 'value="has_note:in"' not in page  # a person is never the target of has_note
    cands = text(browser.get(f"/r/person/{ada.id}/link?rel=knows:out&q=B"))
    # (row cells, not bare names: a random CSRF token in the page may contain "Cy")
    assert ">Bob</a>" in cands and ">Cy</a>" not in cands and f'href="/r/person/{ada.id}">Ada' not in cands.split("</h1>")[1]
    r = browser.post(f"/r/person/{ada.id}/link", {"rel": "knows:out", "other": bob.id})
    assert r.status_code == 302 and "Linked." in text(browser.followed)
    assert "linked" in text(browser.get(f"/r/person/{ada.id}/link?rel=knows:out&q=B"))
    # The target's side: a note gets linked from the person's page, incoming on the note.
    browser.post(f"/r/person/{ada.id}/link", {"rel": "has_note:out", "other": note.id})
    assert f'href="/r/person/{ada.id}">Ada</a>' in text(browser.get(f"/r/note/{note.id}"))
    # Refusals come back as messages: a duplicate, a wrong endpoint type, an unknown record.
    browser.post(f"/r/person/{ada.id}/link", {"rel": "knows:out", "other": bob.id})
    assert "Not linked:" in text(browser.followed)
    browser.post(f"/r/person/{ada.id}/link", {"rel": "knows:out", "other": note.id})
    assert "Not linked:" in text(browser.followed)
    browser.post(f"/r/person/{ada.id}/link", {"rel": "knows:out", "other": "nope"})
    assert "Not linked: no record" in text(browser.followed)
    assert browser.post(f"/r/person/{ada.id}/link", {"rel": "has_note:in", "other": note.id}).status_code == 422
    with org.session() as s:
        links = s.related(ada.id)
        assert sorted((i["relationship"]["type"], i["record"].id) for i in links) == sorted(
            [("knows", bob.id), ("has_note", note.id)])
        knows = next(i["relationship"]["id"] for i in links if i["relationship"]["type"] == "knows")
    assert f"/r/person/{ada.id}/unlink/{knows}" in text(browser.get(f"/r/person/{ada.id}"))
    r = browser.post(f"/r/person/{ada.id}/unlink/{knows}")
    assert r.status_code == 302 and "Link removed." in text(browser.followed)
    assert browser.post(f"/r/person/{bob.id}/unlink/{knows}").status_code == 404  # already gone
    with org.session() as s:
        assert [i["relationship"]["type"] for i in s.related(ada.id)] == ["has_note"]
        assert [h["kind"] for h in s.history(bob.id)] == ["created", "related", "unrelated"]


def test_read_only_users_cannot_link_or_unlink(browser, org):
    with org.session() as s:
        a = s.create("person", {"name": "Ada"}, unit="dealer_a")
        b = s.create("person", {"name": "Bob"}, unit="dealer_a")
        rel = s.relate("knows", a.id, b.id)
    browser.login("north_lead", "pw")  # subtree read only
    page = text(browser.get(f"/r/person/{a.id}"))
    assert "/unlink/" not in page and "/link" not in page
    assert browser.post(f"/r/person/{a.id}/link", {"rel": "knows:out", "other": b.id}).status_code == 302
    assert "Not linked:" in text(browser.followed)
    assert browser.post(f"/r/person/{a.id}/unlink/{rel['id']}").status_code in (403, 404)
    with org.session() as s:
        assert len(s.related(a.id)) == 1


def test_an_interaction_summary_has_a_length_limit(org):
    """A 2 MB summary made the record's page 2 MB for every user who opened it."""
    from xrm_core import ValidationError
    from xrm_core.session import MAX_SUMMARY
    a = _make(org, "admin", name="Alpha")
    with org.session() as s:
        s.log(a.id, "call", "x" * MAX_SUMMARY)
        with pytest.raises(ValidationError, match="at most 2,000 characters") as e:
            s.log(a.id, "call", "x" * (MAX_SUMMARY + 1))
        assert e.value.errors[0]["pointer"] == "/summary"
        assert [h["kind"] for h in s.history(a.id)] == ["created", "call"]
