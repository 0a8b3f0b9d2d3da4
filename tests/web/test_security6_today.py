"""Security review of the changes of audit 6 (no exploitable hole found; these pin the
protections verified). UI: hostile property names, enum values, descriptions, plugin
docstring titles, JSON examples and reflected sort/cursor values stay text under a CSP
without inline script; ids built from property names hold no whitespace; the rows routes
need the CSRF token, write nothing and answer for a hidden record as for an unknown id; a
timeline or a keyset cursor never names a record outside the reader's scope. REST: a relate
404 and a conditional write tell of a hidden record what they tell of an unknown id; a read
with a body is refused only after authentication. Users from the ``org`` fixture:
manager_a (dealer_a) cannot see B's records, made by manager_b in dealer_b."""
from __future__ import annotations

import base64
import re
from html.parser import HTMLParser

import orjson
import pytest

from xrm_core import accounts, entity_types
from xrm_core.plugins import hookimpl
from xrm_core.web import create_app, query

from test_nested_form_inputs import Form
from test_ui_support import Browser, text
from test_xss import check_page

UNKNOWN = "0123456789abcdef0123"
HOSTILE = '<script>alert(1)</script>"\'onmouseover=x'


@pytest.fixture
def world(org):
    with org.session("manager_a") as s:
        a2 = s.create("person", {"name": "Arash A", "age": 40}).id
    with org.session("manager_b") as s:
        b1 = s.create("person", {"name": "Bahram B", "age": 90}).id
    with org.session() as s:
        s.relate("knows", a2, b1)
    return {"a2": a2, "b1": b1}


def _normalised(body: str, rid: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", body).replace(rid, "ID")


def test_edit_rows_on_a_hidden_record_answers_as_for_an_unknown_id_and_writes_nothing(org, world):
    b = Browser(org)
    b.login("manager_a", "pw")
    answers = {}
    for rid in (world["b1"], UNKNOWN):
        r = b.post(f"/r/person/{rid}/edit/rows", {"name": "Hijacked", "~add": "tags"})
        answers[rid] = (r.status_code, _normalised(text(r), rid))
    assert answers[world["b1"]][0] == 404
    assert answers[world["b1"]] == answers[UNKNOWN]
    assert "Bahram" not in answers[world["b1"]][1]
    with org.session() as s:
        rec = s.get(world["b1"])
        assert rec.data["name"] == "Bahram B" and rec.version == 1


def test_rows_routes_need_the_csrf_token(org, world):
    b = Browser(org)
    b.login("manager_a", "pw")
    for path in ("/r/person/new/rows", f"/r/person/{world['a2']}/edit/rows"):
        refused = b.post(path, {"name": "x", "~add": "tags"}, token=False)
        assert refused.status_code == 400, path
        assert b.post(path, {"name": "x", "~add": "tags"}).status_code == 200, path
    with org.session() as s:
        assert s.get(world["a2"]).data["name"] == "Arash A"


def test_a_timeline_names_an_out_of_scope_record_by_id_never_by_title(org, world):
    admin = Browser(org)
    admin.login()
    page = text(admin.get(f"/r/person/{world['a2']}"))
    assert "Bahram B" in page  # the admin sees the other end by its title
    b = Browser(org)
    b.login("manager_a", "pw")
    r = b.get(f"/r/person/{world['a2']}")
    assert r.status_code == 200
    assert "Bahram" not in text(r)


def test_reflected_sort_and_cursor_values_stay_text(org, world):
    b = Browser(org)
    b.login("manager_a", "pw")
    r = b.get("/r/person", query_string={"sort": HOSTILE, "q": HOSTILE})
    assert r.status_code in (200, 400, 422)
    assert "<script>alert(1)" not in text(r) and "\"onmouseover" not in text(r)
    # a forged cursor is refused as input, never a server error
    forged = [(field, query.cursor_encode([field], [value, UNKNOWN]))
              for field in ("name", "-age", "age", "email")
              for value in ("x", 1.5, -2**63, True, None, HOSTILE, "2020-01-01T00:00:00Z")]
    big = base64.urlsafe_b64encode(b'["age",%d,"%s"]' % (2**70, UNKNOWN.encode())).decode()
    forged += [("age", big), ("name", query.cursor_encode(["age"], [1, UNKNOWN])), ("name", query.cursor_encode(["name"], [1]))]
    for sort, after in [("name", HOSTILE), ("name", "eyJ4IjoxfQ"), ("name", "!!!!")] + forged:
        r = b.get("/r/person", query_string={"sort": sort, "after": after})
        assert r.status_code < 500, (sort, after, r.status_code)
        assert "<script>alert(1)" not in text(r) and "Bahram" not in text(r)


def test_sort_links_and_next_cursor_hold_only_visible_values(org, world):
    with org.session("manager_a") as s:
        for i in range(55):
            s.create("person", {"name": f"A{i:02}", "age": i})
    b = Browser(org)
    b.login("manager_a", "pw")
    page = text(b.get("/r/person", query_string={"sort": "-name"}))
    m = re.search(r'rel="next" href="([^"]+)"', page)
    assert m, "a second page"
    nxt = text(b.get(m.group(1).replace("&amp;", "&")))
    assert "Bahram" not in page + nxt and world["b1"] not in page + nxt
    assert "Arash A" in page + nxt


@pytest.fixture
def hostile_type(make_platform):
    p = make_platform()
    schema = {"type": "object", "properties": {
        "name": {"type": "string"},
        "first name": {"type": "integer", "description": "spaced"},
        "box": {"type": "object", "description": HOSTILE, "properties": {
            HOSTILE: {"type": "string", "description": HOSTILE},
            "__proto__": {"type": "string"},
            "a.b": {"type": "string"},
            "x y\t%20": {"type": "string", "description": "spaced"},
            "kind": {"enum": [HOSTILE, "plain"]}}},
        "items": {"type": "array", "items": {"type": "object", "properties": {
            HOSTILE: {"type": "string"}}}},
    }}
    with p.connection() as conn:
        entity_types.add(conn, {"name": "hostile", "schema": schema, "description": HOSTILE})
    b = Browser(p)
    b.login()
    return p, b


def test_hostile_property_names_and_enum_values_stay_text_in_nested_inputs(hostile_type):
    p, b = hostile_type
    pages = [text(b.get("/r/hostile/new")), text(b.get("/r/hostile")),
             text(b.post("/r/hostile/new/rows", {"~add": "items"})),
             text(b.post("/r/hostile/new/rows", {"~add": HOSTILE, HOSTILE: HOSTILE, "~remove": HOSTILE}))]
    for page in pages:
        assert "<script>alert(1)" not in page
        assert "\"onmouseover" not in page and "'onmouseover" not in page
    new = pages[0]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in new  # shown, as text
    # the page's scripts are its own files only: the policy forbids inline script
    r = b.get("/r/hostile/new")
    csp = r.headers.get("Content-Security-Policy", "")
    assert "script-src" in csp and "'unsafe-inline'" not in csp.split("script-src", 1)[1].split(";")[0]
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", new)


def test_hostile_names_round_trip_as_data(hostile_type):
    p, b = hostile_type
    form = Form(text(b.get("/r/hostile/new")))
    key = "box." + HOSTILE.replace("~", "~0").replace(".", "~1")
    assert key in form.controls and "box.__proto__" in form.controls and "box.a~1b" in form.controls
    r = b.post("/r/hostile/new", form.submission(**{"name": "n", key: "v", "box.__proto__": "p",
                                                    "box.a~1b": "d"}))
    assert r.status_code == 302, text(r)[:2000]
    with p.session() as s:
        [rec] = s.list("hostile")
    assert rec.data == {"name": "n", "box": {HOSTILE: "v", "__proto__": "p", "a.b": "d"}}


# -- REST (09a036f, 1009da6) ----------------------------------------------------------------

@pytest.fixture
def api_as(org):
    client = create_app(org, {"TESTING": False}).test_client()

    def make(user):
        with org.connection() as conn:
            token = accounts.create_token(conn, user)

        def call(method, path, **kw):
            headers = {"Authorization": f"Bearer {token}", **kw.pop("headers", {})}
            return client.open("/api/v1" + path, method=method, headers=headers, **kw)
        return call
    return make


def _without(body: dict, rid: str) -> dict:
    """A problem document with the id asked about (which it may echo) replaced."""
    return orjson.loads(orjson.dumps(body).replace(rid.encode(), b"ID"))


def test_relate_404_tells_of_a_hidden_record_what_it_tells_of_an_unknown_id(org, world, api_as):
    call = api_as("manager_a")
    answers = {}
    for rid in (world["b1"], UNKNOWN):
        for member in ("source", "target"):
            body = {"type": "knows", "source": world["a2"], "target": world["a2"], member: rid}
            r = call("POST", "/relationships", json=body)
            answers[(rid, member)] = (r.status_code, _without(r.json, rid))
    for member in ("source", "target"):
        assert answers[(world["b1"], member)][0] == 404
        assert answers[(world["b1"], member)] == answers[(UNKNOWN, member)]
        assert [e["pointer"] for e in answers[(world["b1"], member)][1]["errors"]] == [f"/{member}"]
    with org.session() as s:
        assert len(s.related(world["b1"])) == 1  # only the admin's link


def test_writes_to_a_hidden_record_are_404_whatever_the_preconditions(org, world, api_as):
    """403 before 412 must not turn a hidden record into a 403 (it would say it exists)."""
    call = api_as("manager_a")
    for rid in (world["b1"], UNKNOWN):
        for method, kw in (("DELETE", {}), ("PATCH", {"json": {"data": {"age": 1}}})):
            for headers in ({}, {"If-Match": '"1"'}, {"If-Match": '"99"'}):
                r = call(method, f"/records/person/{rid}", headers=headers, **kw)
                assert r.status_code == 404, (rid, method, headers, r.status_code)
    with org.session() as s:
        assert s.get(world["b1"]).version == 1


def test_a_read_with_a_body_is_refused_only_after_authentication(org, world, api_as):
    anon = create_app(org, {"TESTING": False}).test_client()
    r = anon.open(f"/api/v1/records/person/{world['b1']}", method="GET", data=b'{"x": 1}',
                  content_type="application/json")
    assert r.status_code == 401
    call = api_as("manager_a")
    r = call("DELETE", f"/records/person/{world['a2']}", data=b'{"dry_run": true}', content_type="application/json")
    assert r.status_code == 400
    with org.session() as s:
        s.get(world["a2"])  # still there


# -- plugin-declared texts shown since 642d977 ------------------------------------------------

IMG = "<img src=x onerror=alert(1)>"


class HostileTexts:
    """hostiletexts — <img src=x onerror=alert(1)> plugin"""

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "gadget", "description": HOSTILE, "title_field": "title", "schema": {
            "type": "object", "properties": {
                "title": {"type": "string", "description": HOSTILE},
                "blob": {"oneOf": [{"type": "object"}, {"type": "array"}], "examples": [{HOSTILE: HOSTILE}]}}}}]

    @staticmethod
    @hookimpl
    def xrm_activity_kinds():
        return [{"name": "ping", "label": "Ping " + HOSTILE, "description": HOSTILE}]

    @staticmethod
    @hookimpl
    def xrm_roles():
        return [{"name": "gadgeteer", "label": "Gadgeteer " + HOSTILE, "description": HOSTILE,
                 "grants": [{"type": "gadget", "actions": ["read", "create", "update"], "depth": "all"}]}]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [{"name": "gadgets", "label": "Gadgets " + HOSTILE, "unit": "n", "entity": "gadget",
                 "measure": {"count": True}}]


def test_plugin_descriptions_titles_and_examples_are_shown_as_text(make_platform):
    p = make_platform(HostileTexts())
    with p.session() as s:
        rec = s.create("gadget", {"title": HOSTILE})
        other = s.create("gadget", {"title": IMG})
        s.log(rec.id, "ping", HOSTILE)
        s.log(other.id, "ping", "x")
    b = Browser(p)
    b.login()
    seen = {}
    for path in ("/", f"/?plugin={type(HostileTexts()).__name__}", "/r/gadget", "/r/gadget?sort=-title",
                 f"/r/gadget/{rec.id}", f"/r/gadget/{rec.id}/edit", "/r/gadget/new", "/types/", "/types/gadget",
                 "/admin/roles", "/admin/users/admin"):
        r = b.get(path)
        assert r.status_code == 200, (path, r.status_code)
        page = check_page(r, path, shows_payload=False)
        assert "<script>alert(1)" not in page and "<img src=x" not in page, path
        seen[path] = page
    esc_img, esc_script = "&lt;img src=x onerror=alert(1)&gt;", "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert esc_img in seen["/"]  # the plugin's docstring title on the dashboard
    assert esc_script in seen["/r/gadget"]  # the type's description
    record = seen[f"/r/gadget/{rec.id}"]
    assert record.count(esc_script) >= 3  # the title, the kind's description, the summary
    assert esc_script in seen["/admin/roles"]  # the role's description
    example = seen["/r/gadget/new"].split('id="ex-blob"', 1)[1].split("</small>", 1)[0]
    assert esc_script in example  # the JSON box's example value
    for r in (b.post("/r/gadget/new/rows", {"title": HOSTILE, "~add": HOSTILE}),
              b.post(f"/r/gadget/{rec.id}/edit/rows", {"title": IMG, "~remove": IMG})):
        assert r.status_code == 200
        check_page(r, "rows", shows_payload=False)


def test_ids_built_from_property_names_hold_no_whitespace_and_stay_unique(hostile_type):
    """aria-describedby is a list of ids split at whitespace: an id holding a space (a
    property named with one) would point a screen reader at other elements' texts."""
    p, b = hostile_type

    class Ids(HTMLParser):
        def __init__(self):
            super().__init__(convert_charrefs=True)
            self.ids, self.refs = [], []

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if a.get("id") is not None:
                self.ids.append(a["id"])
            for name in ("aria-describedby", "aria-labelledby", "for"):
                if a.get(name):
                    self.refs.append((name, a[name]))

    r = b.post("/r/hostile/new", {"name": "", "first name": "x", "box.kind": "nope", "box.x y\t%20": "1",
                                  "items.0." + HOSTILE: "x"})
    assert r.status_code == 422
    for page in (text(b.get("/r/hostile/new")), text(r)):
        ids = Ids()
        ids.feed(page.split("<template", 1)[0] + page.split("</template>", 1)[-1])
        assert not [i for i in ids.ids if re.search(r"\s", i)]
        assert len(ids.ids) == len(set(ids.ids))
        known = set(ids.ids)
        assert {"f-first%20name", "f-box.x%20y%09%2520"} <= known, sorted(known)
        for name, value in ids.refs:
            targets = [value] if name == "for" else value.split()
            assert all(t in known for t in targets), (name, value)


def test_relate_with_malformed_members_is_refused_not_a_server_error(org, world, api_as):
    call = api_as("manager_a")
    for body in ({"type": "nope", "source": 1, "target": world["b1"]},
                 {"type": ["knows"], "source": world["a2"], "target": world["b1"]},
                 {"type": "nope", "source": world["b1"], "target": {"id": world["a2"]}}):
        r = call("POST", "/relationships", json=body)
        assert 400 <= r.status_code < 500, (body, r.status_code)
        assert "Bahram" not in r.get_data(as_text=True)
