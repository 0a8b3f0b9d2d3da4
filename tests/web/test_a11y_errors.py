"""The core's refusals in the user's language (Persian, Chinese), with the core's English
message kept as the detail and marked ``lang="en"`` — on the error page, in a refused form,
in the messages of a refused delete, link or log, above a refused list filter and type
definition. The REST API and the CLI keep answering the core's English text.

Before, a Persian or Chinese page said "no record 'x'", "a person with national_id="AB123"
already exists (record …)", "cannot delete …: its relationship type(s) mentor_of restrict
deleting the source" in English only, read by a Persian screen-reader voice."""
from __future__ import annotations

import html
import re

import pytest

from xrm_core import Conflict, NotFound, ValidationError
from xrm_core.errors import DefinitionError, PermissionDenied, PluginError, PreconditionFailed, XrmError
from xrm_core.web import create_app
from xrm_core.web.ui import core_messages

from test_ui_support import Browser, text

#: Marked English detail: the core's message after the sentence in the page's language.
DETAIL = re.compile(r'<span class="detail" lang="en" dir="ltr">\((.*?)\)</span>', re.S)


def _flash(page: str) -> tuple[str, list[str]]:
    """The error flash's text without its detail, and the details: a page's flash, or what
    a record form's error summary says of the form as a whole (its first paragraph)."""
    m = (re.search(r'<p class="flash error"[^>]*>(.*?)</p>', page, re.S)
         or re.search(r'<div class="flash error summary"[^>]*>\s*<p>(.*?)</p>', page, re.S))
    assert m, page
    body = m.group(1)
    return html.unescape(DETAIL.sub("", body)).strip(), [html.unescape(d) for d in DETAIL.findall(body)]


@pytest.fixture
def b(org):
    browser = Browser(org)
    browser.login()
    return browser


def _lang(b, language):
    b.post("/lang", {"lang": language, "next": "/"})


def test_the_error_page_says_what_happened_in_the_users_language(org, b):
    _lang(b, "zh")
    r = b.get("/r/person/nothing")
    page = text(r)
    assert r.status_code == 404 and "<h1>未找到</h1>" in page
    assert "<p>它不存在，或不在您可查看的范围内。</p>" in page
    assert '<p class="flash error" lang="en">no record &#39;nothing&#39;</p>' in page  # the detail, marked
    # A refusal for want of a grant (a user without roles opens a list): the 403 page.
    nobody = Browser(org)
    nobody.login("nobody", "pw")
    _lang(nobody, "fa")
    r = nobody.get("/r/person")
    page = text(r)
    assert r.status_code == 403 and "<p>نقش‌های شما اجازهٔ این کار را نمی‌دهند.</p>" in page
    assert '<p class="flash error" lang="en">&#39;nobody&#39; may not read person records</p>' in page
    # English: the core's message, as before, and nothing marked.
    _lang(b, "en")
    page = text(b.get("/r/person/nothing"))
    assert "<p class=\"flash error\">no record &#39;nothing&#39;</p>" in page and 'lang="en">' not in page.split("<main")[1]


def test_a_taken_unique_value_is_said_at_its_field_and_above_the_form(org, b):
    with org.session() as s:
        first = s.create("person", {"name": "First", "national_id": "AB123"})
    _lang(b, "fa")
    b.get("/r/person/new")
    r = b.post("/r/person/new", {"name": "Second", "national_id": "AB123"})
    page = text(r)
    assert r.status_code == 422
    assert '<span class="error" id="err-national_id">قبلاً استفاده شده</span>' in page
    said, [detail] = _flash(page)
    assert said == "رکورد دیگری همین National id را دارد."  # the field by its label (none declared: its name)
    assert detail == f'a person with national_id="AB123" already exists (record {first.id})'
    _lang(b, "en")
    page = text(b.post("/r/person/new", {"name": "Second", "national_id": "AB123"}))
    assert '<span class="error" id="err-national_id">already used</span>' in page
    assert f'a person with national_id=&#34;AB123&#34; already exists (record {first.id})</p>' in page
    with org.session() as s:
        assert [p.data["name"] for p in s.list("person")] == ["First"]


def test_a_refused_delete_link_and_log_say_why_in_the_users_language(org, b):
    with org.session() as s:
        mentor = s.create("person", {"name": "Mentor"})
        pupil = s.create("person", {"name": "Pupil"})
        note = s.create("note", {"text": "n"})
        s.relate("mentor_of", mentor.id, pupil.id)  # on_delete: restrict
    _lang(b, "zh")
    b.get(f"/r/person/{mentor.id}/delete")
    assert b.post(f"/r/person/{mentor.id}/delete").status_code == 302
    # Named by title and label, in Chinese, with no id and no type name left to show.
    assert _flash(text(b.followed)) == ("未删除：它与 Pupil（«mentor_of»）相关联，这种关联不允许删除它。请先删除该关联。", [])
    b.post(f"/r/person/{mentor.id}/link", {"rel": "mentor_of:out", "other": pupil.id})
    said, [detail] = _flash(text(b.followed))
    assert said == "未关联：这些记录已经关联，或者该关系不允许在此再添加关联。"
    assert detail.startswith(f"{mentor.id} is already related to {pupil.id}")
    b.post(f"/r/person/{mentor.id}/link", {"rel": "knows:out", "other": "nope"})
    assert _flash(text(b.followed)) == ("未关联：它不存在，或不在您可查看的范围内。", ["no record 'nope'"])
    b.post(f"/r/person/{mentor.id}/link", {"rel": "knows:out", "other": note.id})
    said, [detail] = _flash(text(b.followed))
    assert said == "未关联：输入的内容无效。" and detail == f"knows: the target must be a record of type person, got note {note.id}"
    page = text(b.post(f"/r/person/{mentor.id}/log", {"kind": "call", "summary": " "}))  # shown again
    said = re.search(r'id="log-errors" tabindex="-1">.*?<li>(.*?)</li>', page, re.S).group(1)
    assert html.unescape(DETAIL.sub("", said)).strip() == "未记录：输入的内容无效。"
    assert [html.unescape(d) for d in DETAIL.findall(said)] == ["an interaction needs a summary"]
    with org.session() as s:
        assert s.get(mentor.id).version == 1 and len(s.related(mentor.id)) == 1
        assert [h["kind"] for h in s.history(mentor.id)] == ["created", "related"]


def test_a_refused_filter_and_type_definition_are_said_in_the_users_language(org, b):
    _lang(b, "fa")
    page = text(b.get("/r/person?ff=age&fo=gt&fv=x"))
    m = re.search(r'<div class="flash error summary" role="alert" id="filter-error" tabindex="-1">(.*?)\n', page)
    assert m and html.unescape(DETAIL.sub("", m.group(1))).strip() == "این فیلتر یا جستجو قابل استفاده نیست."
    assert DETAIL.search(m.group(1)).group(1).startswith("invalid filter")
    # The pointer's message is the core's own text (no fixed word): kept, and marked English.
    assert re.search(r'<li><a href="#filter-1-value">فیلتر ۱: مقدار</a>: <code>/where/age/gt</code> <span lang="en">[^<]+</span></li>', page)
    r = b.post("/types/person", {"definition": '{"name": "person", "schema": {"type": "object"}, "label": 5}',
                                 "action": "check"})
    page = text(r)
    assert r.status_code == 422 and "<li>این تعریف معتبر نیست.</li>" in page
    assert re.search(r'<li><span lang="en">[^<]+</span></li>', page)  # the core's message after it


def test_the_rest_api_and_the_cli_keep_the_cores_english(org, b, cli):
    """A Persian UI session (cookie and Accept-Language) changes nothing in the problem
    documents the API answers, nor in the CLI's messages."""
    from xrm_core import accounts
    with org.connection() as conn:
        token = accounts.create_token(conn, "admin")
    _lang(b, "fa")
    r = b.client.get("/api/v1/records/person/nothing", headers={"Authorization": f"Bearer {token}",
                                                                 "Accept-Language": "fa"})
    assert r.status_code == 404 and r.get_json()["detail"] == "no record 'nothing'"
    assert r.get_json()["title"] == "Not found"
    result = cli("records", "get", "nothing", plugins=[_person_plugin()])
    assert result.exit_code != 0 and "no record 'nothing'" in result.stderr


def _person_plugin():
    from conftest import PersonPlugin
    return PersonPlugin()


@pytest.fixture
def request_in(platform):
    """Run a function inside a request of the UI in a language."""
    app = create_app(platform, {"TESTING": True, "SECRET_KEY": "t"})

    def run(language, fn):
        with app.test_request_context("/", headers={"Accept-Language": language}):
            return fn()
    return run


def test_every_core_error_class_has_a_sentence_and_keeps_its_message(request_in):
    errors = [NotFound("no record 'x'"), PermissionDenied("'a' may not delete record 'x'"),
              PreconditionFailed("record x is at version 3, not 2"),
              Conflict("the change conflicts", [{"pointer": "/data/email", "message": "already used"}]),
              Conflict("user 'a' already exists"), ValidationError("bad", [{"pointer": "/summary", "message": "empty"}]),
              DefinitionError("bad definition"), PluginError("crm", "before_create", RuntimeError("boom")),
              XrmError("something")]
    for language in ("fa", "zh"):
        said = request_in(language, lambda: [core_messages.explain(e) for e in errors])
        texts = [s.text for s in said]
        assert len(set(texts)) == len(texts), texts  # each class (and conflict kind) its own sentence
        assert all(re.search("[\u0600-\u06ff]" if language == "fa" else "[\u4e00-\u9fff]", t) for t in texts), texts
        assert [s.detail for s in said] == [e.message for e in errors]  # nothing the core said is lost
        assert "crm" in said[7].text  # the plugin is named from the error's own field
        assert said[5].items == [{"pointer": "/summary", "message": "خالی است" if language == "fa" else "为空",
                                  "lang": None}]
    english = request_in("en", lambda: [core_messages.explain(e) for e in errors])
    assert [(s.text, s.detail) for s in english] == [(e.message, None) for e in errors]


def test_a_plugins_own_pointer_message_is_kept_and_marked_english(request_in):
    e = ValidationError("refused by the plugin", [{"pointer": "/data/vin", "message": "VIN check digit is wrong"},
                                                   {"pointer": "/summary", "message": "12,345 characters"}])
    said = request_in("fa", lambda: core_messages.explain(e))
    assert said.items == [{"pointer": "/data/vin", "message": "VIN check digit is wrong", "lang": "en"},
                          {"pointer": "/summary", "message": "۱۲۳۴۵ نویسه", "lang": None}]


def test_a_wrong_end_type_is_said_at_its_pointer_in_the_users_language(org, request_in):
    """The core's own refusal (not a copy of its wording) goes through the UI's mapping, so
    the two cannot drift apart: the pointer's message is translated, the type name kept."""
    with org.session() as s:
        person = s.create("person", {"name": "Mentor"})
        note = s.create("note", {"text": "n"})
        with pytest.raises(ValidationError) as refused:
            s.relate("knows", person.id, note.id)
    assert refused.value.errors == [{"pointer": "/target", "message": "expected a record of type person"}]
    for language, expected in (("fa", "باید رکوردی از نوع person باشد"), ("zh", "必须是 person 记录")):
        said = request_in(language, lambda: core_messages.explain(refused.value))
        assert said.items == [{"pointer": "/target", "message": expected, "lang": None}]
