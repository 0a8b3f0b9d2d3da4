"""The XSS sweep of the admin UI: record data, names and labels are hostile input.

Payloads go into every string field of a record (top level, nested, in arrays, in an enum
value), into a unit name, a user name, a role label, an entity type's labels, a relationship
type's labels, an activity kind's label, an activity summary and a KPI's label/unit/
description. Every page that shows them is fetched and checked three ways:

* structurally (an HTML parser): no ``<script>`` element (but the UI's own
  ``/static/error-summary.js`` and ``/static/nested-inputs.js``, loaded from the app, with nothing inline), no ``on*`` event-handler attribute
  and no ``javascript:`` URL anywhere — the UI itself needs none of these;
* textually: no raw payload fragment (``<script>alert(1)``, ``<img src=x onerror`` …), and the
  escaped form appears where the data is shown (Jinja expressions in data are shown as text,
  never evaluated);
* headers: every HTML response carries a Content-Security-Policy that allows no inline script.

The CSV export is not HTML: it is served as an attachment with ``nosniff``, and cells a
spreadsheet would run as a formula (starting with ``= + - @``) are neutralised.
"""
from __future__ import annotations

import csv
import io
import re
from html.parser import HTMLParser
from urllib.parse import quote

import pytest

from xrm_core import accounts
from xrm_core.plugins import hookimpl

from test_ui_support import Browser, text

PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "'><svg onload=alert(1)>",
    '" autofocus onfocus="alert(1)',
    "' onmouseover='alert(1)",
    "</textarea><script>alert(2)</script>",
    "</title><script>alert(3)</script>",
    "javascript:alert(1)",
    "{{7*7}}",
    "{% print 7*7 %}",
    "${7*7}",
]
P = " ".join(PAYLOADS)
#: Unit and user names hold at most 200 characters: the worst of the payloads.
N = " ".join(PAYLOADS[i] for i in (0, 1, 2, 3, 5, 8, 9))
#: Fragments that must never reach a page unescaped.
RAW = ["<script", "<img src=x", "<svg onload", 'onfocus="alert', "onmouseover='alert", "</textarea><script",
       "</title><script"]
#: What a shown payload looks like after escaping (Jinja writes " as &#34; and ' as &#39;).
ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
TEMPLATES = ["{{7*7}}", "{% print 7*7 %}"]  # shown literally: data is never a template
FORMULAS = ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)"]

THING = {
    "name": "thing", "label": {"en": "T " + P}, "plural_label": {"en": "Ts " + P},
    "description": P, "title_field": "title",
    "field_labels": {"title": "Title " + P, "notes": "Notes " + P},
    "schema": {
        "type": "object",
        "properties": {
            "title": {"type": "string", "minLength": 1, "description": P},
            "notes": {"type": "string", "maxLength": 2000},  # a textarea
            "choice": {"enum": [P, "plain"]},
            "link": {"type": "string"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "details": {"type": "object", "properties": {"inner": {"type": "string"}}},
            "other_id": {"type": "string", "x-ref": "thing"},  # a picker of other things
            "code": {"type": "string", "pattern": "^[0-9]+$"},
            "when": {"type": "string", "format": "date"},
        },
        "required": ["title"],
    },
}


class XssPlugin:
    """A type, relationship type, activity kind and KPI whose labels are all hostile."""

    __name__ = "xssplugin"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [THING]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "links", "source": "thing", "target": "thing", "cardinality": "many-to-many",
                 "label": "links " + P, "inverse_label": "linked from " + P}]

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "call", "label": "Call " + P}]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [{"name": "things", "label": "Things " + P, "unit": P, "description": P,
                 "entity": "thing", "time_field": "when", "measure": {"count": True}}]


class Audit(HTMLParser):
    """Everything in a page that could run script."""

    URL_ATTRS = {"href", "src", "action", "formaction", "xlink:href", "data", "poster"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed", "img"):
            self.problems.append(f"<{tag}> element")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}={value!r} on <{tag}>")
            if name in self.URL_ATTRS and re.sub(r"\s", "", value or "").lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL in {name} of <{tag}>")


#: The scripts the UI loads, exactly as written: a post form sent once and the browser's time
#: zone told (every page), a refused form's error summary (which takes the focus) and the
#: record form's lists; any other is a problem.
OWN_SCRIPTS = ('<script src="/static/submit-once.js" defer></script>',
               '<script src="/static/time-zone.js" defer></script>',
               '<script src="/static/error-summary.js" defer></script>',
               '<script src="/static/nested-inputs.js" defer></script>',
               '<script src="/static/filter-choices.js" defer></script>')


def check_page(r, path: str, shows_payload: bool = True) -> str:
    """Assert the HTML response ``r`` for ``path`` is safe; returns its text."""
    page = text(r)
    for own in OWN_SCRIPTS:
        page = page.replace(own, "", 1)
    assert r.mimetype == "text/html", (path, r.mimetype)
    csp = r.headers.get("Content-Security-Policy", "")
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src and "'unsafe-inline'" not in script_src.group(1), (path, csp)
    assert "object-src 'none'" in csp and "default-src 'self'" in csp, (path, csp)
    audit = Audit()
    audit.feed(page)
    audit.close()
    assert audit.problems == [], (path, audit.problems)
    for raw in RAW:
        assert raw not in page, (path, raw)
    if shows_payload:
        assert ESCAPED in page, path
        for t in TEMPLATES:
            assert t in page, (path, t)
    return page


@pytest.fixture
def site(make_platform):
    """The platform with hostile data, and the ids of the records."""
    p = make_platform(XssPlugin())
    with p.connection() as conn:
        accounts.create_unit(conn, N)
        accounts.save_role(conn, {"name": "thing_manager", "label": "Role " + P, "grants": [
            {"type": "thing", "actions": ["read", "create", "update"], "depth": "unit"}]})
        accounts.create_user(conn, N, N, ["thing_manager"], "pw")
    with p.session(N) as s:
        other = s.create("thing", {"title": "Other " + P})
        rec = s.create("thing", {
            "title": P, "notes": P + "\n" + P, "choice": P, "link": "javascript:alert(1)",
            "tags": [P, "<b>bold</b>"], "details": {"inner": P, P: P}, "other_id": other.id,
        })
        s.update(rec.id, {"notes": "changed " + P, "tags": [P]})  # a diff of hostile values
        s.relate("links", rec.id, other.id)
        s.log(rec.id, "call", "Summary " + P)
        formulas = s.create("thing", {"title": FORMULAS[0], "notes": FORMULAS[1], "link": FORMULAS[2],
                                      "tags": [FORMULAS[3]], "details": {"inner": FORMULAS[0]}})
    return p, rec, other, formulas


@pytest.mark.parametrize("user, password", [("admin", "secret"), (N, "pw")])
def test_every_page_shows_hostile_data_escaped(site, user, password):
    p, rec, other, _ = site
    b = Browser(p)
    b.login(user, password)
    pages = ["/", "/r/thing", f"/r/thing?q={quote(P)}", f"/r/thing?ff=title&fo=eq&fv={quote(P)}",
             f"/r/thing/{rec.id}", f"/r/thing/{rec.id}/edit", f"/r/thing/{other.id}", "/r/thing/new",
             "/types/", "/types/thing", f"/r/thing/{rec.id}/link?rel=links:out&q={quote(P)}",
             f"/r/thing/{rec.id}/link?rel=links:out"]
    if user == "admin":
        pages += ["/admin/units", "/admin/users", f"/admin/users/{quote(N)}", "/admin/roles", "/admin/tokens",
                  f"/r/thing/{rec.id}/delete"]
    for path in pages:
        r = b.get(path)
        assert r.status_code == 200, (path, r.status_code)
        check_page(r, path)
    # The record page shows each kind of hostile value, as text.
    page = text(b.get(f"/r/thing/{rec.id}"))
    for shown in ["Summary " + ESCAPED, "links " + ESCAPED, "changed " + ESCAPED, "Other " + ESCAPED,
                  "javascript:alert(1)"]:
        assert shown in page, shown
    assert 'class="old"' in page and 'class="new"' in page  # the diff rows of the update


def test_the_payload_users_own_name_is_escaped_in_the_header(site):
    p, *_ = site
    b = Browser(p)
    b.login(N, "pw")
    page = check_page(b.get("/"), "/")
    assert '<span class="who">&lt;script&gt;alert(1)' in page


def test_reflected_input_is_escaped(site):
    """Query strings, submitted forms and error messages echo user input: escaped too."""
    p, rec, *_ = site
    b = Browser(p)
    # Logged out: the login page echoes ``next`` and a wrong user name.
    check_page(b.get(f"/login?next={quote(P)}"), "/login?next", shows_payload=False)
    r = b.post("/login", {"username": P, "password": "wrong"})
    assert r.status_code == 401
    check_page(r, "POST /login")
    b.login()
    # The language switcher echoes the current path and query string.
    check_page(b.get(f"/r/thing?x={quote(P)}"), "/r/thing?x")
    # Unknown types and ids are 404 pages naming what was asked for.
    for path in (f"/r/{quote(P, safe='')}", f"/r/thing/{quote(P, safe='')}", f"/types/{quote(P, safe='')}"):
        r = b.get(path)
        assert r.status_code == 404, path
        check_page(r, path, shows_payload=False)
    # A refused form shows the submitted values again, next to the field error.
    form = {"title": P, "notes": P, "link": P, "tags": '["x"]', "details": "{}", "code": P}
    r = b.post("/r/thing/new", form)
    assert r.status_code == 422
    page = check_page(r, "POST /r/thing/new")
    assert 'id="err-code"' in page
    r = b.post(f"/r/thing/{rec.id}/edit", {**form, "version": str(rec.version + 1)})
    assert r.status_code == 422
    check_page(r, "POST /r/thing/<id>/edit")
    # A definition that is not JSON is shown back in the textarea with the parser's message.
    r = b.post("/types/thing", {"definition": P, "action": "check"})
    assert r.status_code == 422
    check_page(r, "POST /types/thing")
    # A new token names its user.
    r = b.post("/admin/tokens", {"user": N, "label": N, "action": "create"})
    assert r.status_code == 200
    check_page(r, "POST /admin/tokens")
    # Flash messages naming a new unit or user.
    for path, data in [("/admin/units", {"name": N + " 2", "parent": N}),
                       ("/admin/users", {"name": N + " 3", "unit": N, "password": "x"}),
                       (f"/admin/users/{quote(N)}", {"unit": N, "roles": [], "active": "on"})]:
        r = b.post(path, data)
        assert r.status_code == 302, path
        check_page(b.followed, path)
    with p.session() as s:  # the refused forms stored nothing
        assert s.count("thing") == 3


def test_csv_export_is_an_attachment_with_formulas_neutralised(site):
    p, rec, other, formulas = site
    b = Browser(p)
    b.login()
    r = b.get("/r/thing/export.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"].startswith("attachment")
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    rows = list(csv.reader(io.StringIO(r.get_data().decode("utf-8-sig"))))
    body = {row[0]: dict(zip(rows[0], row)) for row in rows[1:]}
    assert set(body) == {rec.id, other.id, formulas.id}
    for row in body.values():
        for name, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), (name, cell)
    f = body[formulas.id]
    assert f["title"] == "'=1+2" and f["notes"] == "'+cmd|' /C calc'!A0" and f["link"] == "'-2+3"
    assert "@SUM(A1)" in f["tags"]
    # The payloads themselves are data in a CSV: kept exactly (a spreadsheet shows them as text).
    assert body[rec.id]["title"] == P
