"""Every admin form ties a refusal to the input it is about: the input is
``aria-invalid="true"`` and its ``aria-describedby`` names the message shown next to it; the
summary at the top of the form (``role="alert"``) links to the input; an error that is no
input's (a stale form) is said in the summary only; what was typed is shown again.

The core's pointers (``/name``, ``/password``, ``/parent``, a type definition's
``/title_field``) become inputs in one place, :class:`xrm_core.web.ui.form_errors.FormErrors`.
Before, these forms said their refusals above the form with nothing tying them to an input."""
from __future__ import annotations

import html
import io
import re

import pytest

from test_a11y_support import audit, parse
from test_ui_support import Browser, text

CONTROLS = ("input", "select", "textarea")


def _ids(doc) -> dict:
    return {n.attrs["id"]: n for n in doc.iter() if "id" in n.attrs}


def _summaries(doc) -> list:
    return [n for n in doc.iter() if "summary" in n.attrs.get("class", "").split()]


def tied(page: str, input_id: str, message: str, next_to: bool = True, linked: bool = True) -> None:
    """The control ``input_id`` is refused with ``message``: marked invalid, described by an
    element holding the message (``next_to``: next to it, no other input's control in
    between; the message of a group of boxes comes before them, after their legend), and
    (``linked``) linked from the form's error summary."""
    doc = parse(page)
    ids = _ids(doc)
    assert input_id in ids, (input_id, sorted(ids))
    control = ids[input_id]
    assert control.tag in CONTROLS and control.attrs.get("aria-invalid") == "true", control.describe()
    described = control.attrs.get("aria-describedby", "").split()
    assert described and all(d in ids for d in described), (input_id, described)
    error = ids[described[0]]
    assert message in error.text(), (message, error.text())
    # Next to its input: after it, with no control of another input in between.
    order = list(doc.iter())
    if next_to:
        first, last = sorted((order.index(control), order.index(error)))
        others = [n for n in order[first:last]
                  if n.tag in CONTROLS and n.attrs.get("name") != control.attrs.get("name")]
        assert not others, (input_id, [n.describe() for n in others])
    if not linked:
        return
    [summary] = [s for s in _summaries(doc) if any(a.attrs.get("href") == f"#{input_id}" for a in s.iter())]
    assert summary.attrs.get("role") == "alert"


def not_marked(page: str) -> None:
    assert 'aria-invalid="true"' not in page


@pytest.fixture
def b(org):
    browser = Browser(org)
    browser.login()
    return browser


def _lang(b, language):
    b.post("/lang", {"lang": language, "next": "/"})


# -- login ------------------------------------------------------------------------------
def test_a_refused_login_links_to_the_user_name_and_keeps_what_was_typed(org):
    anon = Browser(org)
    anon.get("/login?next=/admin/users")
    r = anon.post("/login", {"username": "admin", "password": "wrong", "next": "/admin/users"})
    page = text(r)
    assert r.status_code == 401 and audit(page) == []
    # One message for both (which was wrong is not said, on purpose): the summary itself.
    tied(page, "login-username", "Wrong user name or password.", next_to=False)
    tied(page, "login-password", "Wrong user name or password.", next_to=False, linked=False)
    assert 'value="admin"' in page and 'value="wrong"' not in page  # the password is typed again
    assert '<input type="hidden" name="next" value="/admin/users">' in page  # still goes there after


# -- users ------------------------------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_taken_user_name_is_said_at_the_name(org, b, language):
    _lang(b, language)
    b.get("/admin/users")
    r = b.post("/admin/users", {"name": "agent_a", "unit": "north", "roles": ["regional"], "password": "pw12"})
    page = text(r)
    assert r.status_code == 409 and audit(page, language) == []
    tied(page, "user-name", "user 'agent_a' already exists")  # the core's message (the detail on a fa page)
    doc = parse(page)
    ids = _ids(doc)
    assert ids["user-name"].attrs["value"] == "agent_a"
    assert [o.attrs["value"] for o in ids["user-unit"].iter() if "selected" in o.attrs] == ["north"]
    assert [n.attrs["value"] for n in doc.iter() if n.attrs.get("name") == "roles" and "checked" in n.attrs] == \
        ["regional"]
    assert "pw12" not in page
    for other in ("user-unit", "user-password"):
        assert "aria-invalid" not in ids[other].attrs


def test_a_reserved_user_name_and_a_short_password_are_said_at_their_inputs(org, b, monkeypatch):
    b.get("/admin/users")
    r = b.post("/admin/users", {"name": "system", "unit": "hq"})
    page = text(r)
    assert r.status_code == 422
    tied(page, "user-name", "reserved")  # the core's pointer /name
    [summary] = _summaries(parse(page))
    assert "is reserved" in summary.text()  # what happened, in the summary too
    monkeypatch.setenv("XRM_MIN_PASSWORD_LENGTH", "20")
    r = b.post("/admin/users", {"name": "newbie", "unit": "hq", "password": "short"})
    page = text(r)
    assert r.status_code == 422 and audit(page) == []
    tied(page, "user-password", "at least 20 characters")  # the core's pointer /password
    assert 'aria-invalid' not in str(_ids(parse(page))["user-name"].attrs)


def test_a_refused_user_edit_is_said_at_its_input_and_keeps_what_was_chosen(org, b):
    b.get("/admin/users/admin")
    # Moving the last active administrator and deactivating it: refused as a whole.
    r = b.post("/admin/users/admin", {"unit": "hq", "roles": ["admin", "analyst"]})
    page = text(r)
    assert r.status_code == 409 and audit(page) == []
    tied(page, "edit-active", "last active administrator")
    ids = _ids(parse(page))
    assert "checked" not in ids["edit-active"].attrs  # as it was submitted
    assert [o.attrs["value"] for o in ids["edit-unit"].iter() if "selected" in o.attrs] == ["hq"]
    assert re.search(r'name="roles" value="analyst" checked', page)
    from xrm_core import accounts
    with org.connection() as conn:
        user = accounts.get_user(conn, "admin")
    assert user["active"] and user["unit"] == "root" and user["roles"] == ["admin"]  # nothing changed


def test_a_stale_user_form_is_said_in_the_summary_only(org, b):
    b.get("/admin/users/agent_a")
    r = b.post("/admin/users/agent_a", {"state": "0" * 32, "unit": "hq", "active": "on"})
    page = text(r)
    assert r.status_code == 409 and audit(page) == []
    [summary] = _summaries(parse(page))
    assert summary.attrs["role"] == "alert" and "someone else changed this user" in summary.text()
    assert not [a for a in summary.iter() if a.tag == "a"]
    not_marked(page)


# -- units ------------------------------------------------------------------------------
def test_a_taken_unit_name_and_an_unknown_parent_are_said_at_their_inputs(org, b):
    b.get("/admin/units")
    r = b.post("/admin/units", {"name": "north", "parent": "hq"})
    page = text(r)
    assert r.status_code == 409 and audit(page) == []
    tied(page, "unit-name", "unit 'north' already exists")
    assert _ids(parse(page))["unit-name"].attrs["value"] == "north"
    r = b.post("/admin/units", {"name": "west", "parent": "gone"})
    page = text(r)
    assert r.status_code == 404
    tied(page, "unit-parent", "unknown parent unit 'gone'")
    assert _ids(parse(page))["unit-name"].attrs["value"] == "west" and "aria-invalid" not in \
        _ids(parse(page))["unit-name"].attrs


# -- roles and grants -------------------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_taken_role_and_a_grant_without_actions_are_said_at_their_inputs(org, b, language):
    _lang(b, language)
    b.get("/admin/roles")
    r = b.post("/admin/roles", {"action": "create", "name": "agent", "label": "Agents"})
    page = text(r)
    assert r.status_code == 409 and audit(page, language) == []
    tied(page, "role-name", "role 'agent' already exists")
    assert _ids(parse(page))["role-label"].attrs["value"] == "Agents"
    r = b.post("/admin/roles", {"action": "grant", "name": "agent", "type": "person", "depth": "subtree"})
    page = text(r)
    assert r.status_code == 422 and audit(page, language) == []
    tied(page, "grant-actions", "unknown action(s)")  # linked to the first box of the group
    doc = parse(page)
    boxes = [n for n in doc.iter() if n.attrs.get("name") == "actions"]
    assert len(boxes) == 4 and all(x.attrs.get("aria-invalid") == "true" for x in boxes)
    assert len(_summaries(doc)) == 1  # the other form says nothing
    assert "aria-invalid" not in _ids(doc)["role-name"].attrs and _ids(doc)["role-name"].attrs["value"] == ""
    assert [o.attrs["value"] for o in _ids(doc)["grant-depth"].iter() if "selected" in o.attrs] == ["subtree"]


# -- import -----------------------------------------------------------------------------
def _upload(b, name, content, **form):
    return b.post("/r/person/import", {"file": (io.BytesIO(content.encode()), name), **form},
                  content_type="multipart/form-data")


@pytest.mark.parametrize("language", ["en", "fa"])
def test_an_import_refused_for_its_file_is_said_at_the_file_input(org, b, language):
    _lang(b, language)
    b.get("/r/person/import")
    r = b.post("/r/person/import", {"dry_run": "1"}, content_type="multipart/form-data")
    page = text(r)
    assert r.status_code == 422 and audit(page, language) == []
    tied(page, "import-file", "")
    assert re.search(r'name="dry_run" value="1" checked', page)  # the options chosen are kept
    r = _upload(b, "people.txt", "name\nAda\n")
    assert r.status_code == 422
    tied(text(r), "import-file", "people.txt")
    r = _upload(b, "people.csv", "name,age\nAda,x\n", update_by="national_id")
    page = text(r)
    assert r.status_code == 422 and audit(page, language) == []
    tied(page, "import-file", "Nothing was imported." if language == "en" else "هیچ چیز وارد نشد.")
    assert re.search(r'<option value="national_id" selected>', page)
    assert '<bdi class="pointer" dir="ltr"><code>/age</code></bdi>' in page  # the report still lists the row


# -- the type editor --------------------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_refused_definition_is_said_at_its_text(org, b, language):
    _lang(b, language)
    page = text(b.get("/types/person"))
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = b.post("/types/person", {"definition": "{nope", "action": "check", "version": version})
    page = text(r)
    assert r.status_code == 422 and audit(page, language) == []
    tied(page, "type-definition", "not valid JSON" if language == "en" else "JSON")
    assert "{nope" in page  # the text is kept
    bad = '{"name": "person", "schema": {"type": "object", "properties": {"name": {"type": "string"}}}, ' \
          '"title_field": "nothing"}'
    r = b.post("/types/person", {"definition": bad, "action": "check", "version": version})
    page = text(r)
    assert r.status_code == 422 and audit(page, language) == []
    tied(page, "type-definition", "/title_field")  # the pointer, inside the definition
    assert _ids(parse(page))["type-definition"].text() == bad  # the text is kept


def test_a_definition_edited_from_an_older_version_is_said_in_the_summary_only(org, b):
    page = text(b.get("/types/person"))
    definition = html.unescape(re.search(r"<textarea[^>]*>\n?(.*?)</textarea>", page, re.S).group(1))
    r = b.post("/types/person", {"definition": definition, "action": "apply", "version": "0"})
    page = text(r)
    assert r.status_code == 422 and audit(page) == []
    [summary] = _summaries(parse(page))
    assert "changed by someone else" in summary.text() and not [a for a in summary.iter() if a.tag == "a"]
    not_marked(page)


# -- the one mapping --------------------------------------------------------------------
def test_pointers_become_inputs_in_one_place(org):
    from xrm_core import Conflict, ValidationError
    from xrm_core.web import create_app
    from xrm_core.web.ui.form_errors import FormErrors
    app = create_app(org, {"TESTING": True, "SECRET_KEY": "t"})
    with app.test_request_context("/"):
        e = ValidationError("refused", [{"pointer": "/password", "message": "empty"},
                                        {"pointer": "/definition/schema/properties/a~1b", "message": "bad"},
                                        {"pointer": "/elsewhere", "message": "not here"}])
        f = FormErrors("x", {"password": "Password", "definition": "Definition"}).refused(e)
        assert f.messages("password") == [{"text": "empty", "lang": None, "where": None}]
        assert f.messages("definition") == [{"text": "bad", "lang": None, "where": "/schema/properties/a~1b"}]
        assert [m["text"] if isinstance(m, dict) else m for m in f.general] == ["refused", "not here"]
        assert [e["id"] for e in f.entries()] == ["x-password", "x-definition"]  # in the form's order
        # A refusal with no pointer of the form: at the input the view names for its class.
        f = FormErrors("x", {"name": "Name"}).refused(Conflict("taken"), at={Conflict: "name"})
        assert f.invalid("name") and not f.general
        f = FormErrors("x", {"name": "Name"}).refused(Conflict("taken"), at={ValidationError: "name"})
        assert not f.invalid("name") and f.general
        assert not FormErrors("x", {"name": "Name"})


# -- log an interaction -----------------------------------------------------------------
@pytest.mark.parametrize("language", ["en", "fa"])
def test_a_refused_interaction_is_said_at_its_input_and_keeps_what_was_typed(org, b, language):
    """A refusal was a redirect to the record page with a message at the top: what was typed
    was lost, and nothing said which input was wrong."""
    with org.session() as s:
        ada = s.create("person", {"name": "Ada"})
    _lang(b, language)
    b.get(f"/r/person/{ada.id}")
    r = b.post(f"/r/person/{ada.id}/log", {"kind": "call", "summary": "   "})
    page = text(r)
    assert r.status_code == 422 and audit(page, language) == []
    tied(page, "log-summary", "empty" if language == "en" else "خالی است")
    [summary] = _summaries(parse(page))
    assert ("Not logged:" if language == "en" else "ثبت نشد") in summary.text()
    r = b.post(f"/r/person/{ada.id}/log", {"kind": "fax", "summary": "Sent the offer"})
    page = text(r)
    assert r.status_code == 422
    not_declared = "not a declared activity kind" if language == "en" else "از انواع تعریف\u200cشدهٔ تعامل نیست"
    tied(page, "log-kind", not_declared)
    assert _ids(parse(page))["log-summary"].attrs["value"] == "Sent the offer"
    assert "aria-invalid" not in _ids(parse(page))["log-summary"].attrs
    with org.session() as s:
        assert [h["kind"] for h in s.history(ada.id)] == ["created"]
    # Logged: no error, nothing kept.
    r = b.post(f"/r/person/{ada.id}/log", {"kind": "call", "summary": "Called"})
    assert r.status_code == 302 and "aria-invalid" not in text(b.followed)
