"""Security review 10, admin UI: today's delete message (``deleted_with.py``), the read-only
link page (``may_link``, ``offered_links``) and the conditional "required when …" reasons
(``required_reasons.py``), attacked by a low-privilege user and by hostile titles, labels
and values.

Pinned here (they hold): the message escapes markup in titles; a record the user may not
read is counted, never named; a reader's crafted link/unlink POST is refused and changes
nothing, and one without a CSRF token is refused before anything runs; the record page
offers no button the server refuses; labels and values in "required when …" are escaped.
Was a hole, closed: a title's bidi controls leaked out of the title into the sentence (now dropped).
"""
from __future__ import annotations

import pytest
from conftest import PersonPlugin
from sqlalchemy import func, select

from xrm_core import accounts, db, entity_types

from test_ui_support import Browser, delete_on_page, flashed, text

BIDI_OPENERS = {"\u202a": "e", "\u202b": "e", "\u202d": "e", "\u202e": "e",  # LRE RLE LRO RLO
                "\u2066": "i", "\u2067": "i", "\u2068": "i"}  # LRI RLI FSI


def _still_open(message: str) -> list[str]:
    """The explicit embeddings, overrides and isolates still open at the end of ``message``,
    by the Unicode Bidirectional Algorithm's rules X1–X8 (a PDF closes the innermost
    embedding or override unless an isolate is innermost; a PDI closes the innermost isolate
    and everything opened inside it, and is ignored when no isolate is open). Text after an
    open override is shown in the override's direction: the sentence around a title."""
    stack: list[str] = []
    for ch in message:
        if ch in BIDI_OPENERS:
            stack.append(BIDI_OPENERS[ch])
        elif ch == "\u202c" and stack and stack[-1] == "e":  # PDF
            stack.pop()
        elif ch == "\u2069" and "i" in stack:  # PDI
            while stack.pop() != "i":
                pass
    return stack


@pytest.fixture
def ui(make_platform):
    """(platform, ids, browser_of): persons and notes (``has_note`` cascades); ``reader``
    reads persons and notes, ``deleter`` reads persons and its own notes but may delete every
    person and note (a cascade then reaches notes it cannot read)."""
    p = make_platform(PersonPlugin())
    with p.connection() as conn:
        accounts.save_role(conn, {"name": "reader", "grants": [
            {"type": "*", "actions": ["read"], "depth": "all"}]})
        accounts.save_role(conn, {"name": "deleter", "grants": [
            {"type": "person", "actions": ["read", "delete"], "depth": "all"},
            {"type": "note", "actions": ["read"], "depth": "own"},
            {"type": "note", "actions": ["delete"], "depth": "all"}]})
        accounts.create_user(conn, "reader", accounts.ROOT_UNIT, ["reader"], "pw")
        accounts.create_user(conn, "deleter", accounts.ROOT_UNIT, ["deleter"], "pw")

    def browser_of(user: str, lang: str = "en") -> Browser:
        b = Browser(p)
        b.login(user, "secret" if user == "admin" else "pw")
        if lang != "en":
            b.post("/lang", {"lang": lang, "next": "/"})
        return b

    return p, browser_of


def _person_with_notes(p, name: str, notes: list[str]) -> tuple[str, list[str]]:
    with p.session() as s:  # the admin
        person = s.create("person", {"name": name}).id
        ids = []
        for t in notes:
            ids.append(s.create("note", {"text": t}).id)
            s.relate("has_note", person, ids[-1])
    return person, ids


def _count(p, table) -> int:
    with p.connection() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


# -- the message after a delete ---------------------------------------------------------------
def test_the_delete_message_escapes_markup_in_the_titles_it_names(ui):
    p, browser_of = ui
    person, _notes = _person_with_notes(p, "<b onmouseover=alert(1)>Ward</b>",
                                        ["<script>alert('note')</script>", "<img src=x onerror=alert(2)>"])
    b = browser_of("admin")
    r = delete_on_page(b, "person", person)
    assert r.status_code == 302
    page = text(b.followed)
    assert "<script>alert" not in page and "<img src=x" not in page and "<b onmouseover" not in page
    assert "&lt;script&gt;alert(" in page and "&lt;img src=x onerror=alert(2)&gt;" in page
    message = flashed(b, "ok")
    assert message.startswith("Deleted <b onmouseover=alert(1)>Ward</b> and 2 related records: ")


def test_a_cascade_to_a_record_the_user_may_not_read_is_refused_without_naming_it(ui):
    p, browser_of = ui
    person, (secret,) = _person_with_notes(p, "Ward 3", ["Diagnosis: confidential"])
    b = browser_of("deleter")  # may delete the note, may not read it
    r = delete_on_page(b, "person", person)
    assert r.status_code == 302
    assert "may not delete" in flashed(b, "error")
    assert "confidential" not in text(b.followed) and secret not in text(b.followed)
    assert _count(p, db.records) == 2


@pytest.mark.parametrize("lang, title", [("en", "Ward\u202e 3"), ("fa", "Ward\u2069\u202e 3")])
def test_a_title_s_bidi_controls_stay_inside_the_title(ui, lang, title):
    p, browser_of = ui
    person, _notes = _person_with_notes(p, title, ["Bed 12"])
    b = browser_of("admin", lang)
    delete_on_page(b, "person", person)
    message = flashed(b, "ok")
    assert "Bed 12" in message
    assert _still_open(message) == [], f"the rest of the sentence is read reversed: {message!r}"


def test_the_still_open_check_itself_tells_balanced_from_broken():
    assert _still_open("Deleted \u2068Ward \u202e3\u2069 and 1 related record.") == []
    assert _still_open("Deleted Ward\u202e and 1 related record.") == ["e"]
    assert _still_open("Deleted \u2068Ward\u2069\u202e\u2069 and") == ["e"]


# -- linking: the page hides what the server refuses, and the server refuses it ---------------
@pytest.fixture
def two_people(ui):
    p, browser_of = ui
    with p.session() as s:
        a, c = s.create("person", {"name": "Ada"}).id, s.create("person", {"name": "Cy"}).id
        linked = s.relate("knows", a, c)["id"]
    return p, browser_of, a, c, linked


def test_a_reader_s_record_page_and_link_page_offer_no_button(two_people):
    p, browser_of, a, c, _linked = two_people
    b = browser_of("reader")
    page = text(b.get(f"/r/person/{a}"))
    assert "/unlink/" not in page and f"/r/person/{a}/link?" not in page
    r = b.get(f"/r/person/{a}/link?rel=knows:out")
    assert r.status_code == 200
    assert 'id="read-only"' in text(r) and 'name="other"' not in text(r)


def test_the_read_only_reason_escapes_the_title_it_names(ui):
    p, browser_of = ui
    with p.session() as s:
        a = s.create("person", {"name": "<script>alert('ro')</script>"}).id
    r = browser_of("reader").get(f"/r/person/{a}/link?rel=knows:out")
    assert r.status_code == 200 and 'id="read-only"' in text(r)
    assert "<script>alert('ro')" not in text(r) and "&lt;script&gt;alert(" in text(r)


def test_a_reader_s_crafted_link_post_is_refused_and_links_nothing(two_people):
    p, browser_of, a, c, _linked = two_people
    with p.session() as s:
        d = s.create("person", {"name": "Dee"}).id
    before = _count(p, db.relationships)
    b = browser_of("reader")
    b.get(f"/r/person/{a}")
    for rel, other in (("knows:out", d), ("knows:in", d), ("has_note:out", d)):
        r = b.post(f"/r/person/{a}/link", {"rel": rel, "other": other})
        assert r.status_code in (302, 400, 403, 404), r.status_code
        if r.status_code == 302:
            assert "Not linked" in flashed(b, "error")
    assert _count(p, db.relationships) == before


def test_a_reader_s_crafted_unlink_post_is_refused_and_removes_nothing(two_people):
    p, browser_of, a, c, linked = two_people
    b = browser_of("reader")
    b.get(f"/r/person/{a}")
    r = b.post(f"/r/person/{a}/unlink/{linked}", {})
    assert r.status_code in (403, 404), r.status_code
    with p.session() as s:
        assert [i["relationship"]["id"] for i in s.related(a, "knows")] == [linked]


def test_link_and_unlink_posts_without_a_csrf_token_change_nothing(two_people):
    p, browser_of, a, c, linked = two_people
    with p.session() as s:
        d = s.create("person", {"name": "Dee"}).id
    before = _count(p, db.relationships)
    b = browser_of("admin")  # may do both: only the token is missing
    assert b.post(f"/r/person/{a}/link", {"rel": "knows:out", "other": d}, token=False).status_code == 400
    assert b.post(f"/r/person/{a}/unlink/{linked}", {}, token=False).status_code == 400
    forged = b.post(f"/r/person/{a}/link", {"rel": "knows:out", "other": d, "csrf_token": "forged"}, token=False)
    assert forged.status_code == 400
    assert _count(p, db.relationships) == before


# -- "required when …": schema labels and values are text, not markup ------------------------
HOSTILE = {
    "name": "ticket", "label": "Ticket", "title_field": "subject",
    "schema": {
        "type": "object",
        "properties": {
            "subject": {"type": "string", "title": "<i>Subject</i>"},
            "status": {"type": "string", "title": "<script>alert('label')</script>"},
            "card": {"type": "string", "title": "<img src=x onerror=alert(1)>"},
            "zip": {"type": "string", "title": "<u>Zip</u>"},
            "closed_at": {"type": "string", "title": "Closed at"},
        },
        "dependentRequired": {"card": ["zip"]},
        "if": {"properties": {"status": {"const": "closed"}}, "required": ["status"]},
        "then": {"required": ["closed_at"]},
    },
    "value_labels": {"status": {"closed": "<b>Closed</b>"}},
}


def test_required_reasons_escape_labels_and_values_from_the_schema_and_the_form(ui):
    p, browser_of = ui
    with p.connection() as conn:
        entity_types.add(conn, HOSTILE)
    b = browser_of("admin")
    b.get("/r/ticket/new")
    r = b.post("/r/ticket/new", {"subject": "<svg onload=alert(3)>", "status": "closed", "card": "4111"})
    page = text(r)
    assert r.status_code in (200, 422), r.status_code
    assert "required when" in page  # the reasons are shown …
    for raw in ("<script>alert('label')", "<img src=x onerror", "<svg onload", "<u>Zip</u>"):
        assert raw not in page  # … as text
    assert "&lt;svg onload=alert(3)&gt;" in page
    assert "&lt;u&gt;Zip&lt;/u&gt;" in page and "&lt;b&gt;Closed&lt;/b&gt;" in page
    assert "&lt;script&gt;alert(&#39;label&#39;)&lt;/script&gt;" in page
    assert _count(p, db.records) == 0
