"""Security audit 2: the UI's record actions, search and CSV export, the type browser, plugin
pages (CSRF, exempt views), session fixation and unique conflicts, probed with records
outside the caller's scope (DESIGN §3: such a record does not exist for that caller).

Users from the ``org`` fixture: manager_a (dealer_a, unit depth) and agent_a (own depth)
probe B's records, made by manager_b in dealer_b.
"""
from __future__ import annotations

import re

import pytest

from xrm_core import accounts, kpis

from test_ui_support import Browser, text

UNKNOWN = "0123456789abcdef0123"  # looks like an id, names nothing
B_TEXTS = ("Bahram", "B-SECRET", "B's secret")


@pytest.fixture
def world(org):
    with org.session("agent_a") as s:
        a1 = s.create("person", {"name": "Alice A", "age": 30, "national_id": "A-1"}).id
    with org.session("manager_a") as s:
        a2 = s.create("person", {"name": "Arash A", "age": 40}).id
    with org.session("manager_b") as s:
        b1 = s.create("person", {"name": "Bahram B", "age": 90, "national_id": "B-SECRET"}).id
        s.log(b1, "call", "B's secret")
    with org.session() as s:  # links across the dealers, made by the admin who sees both
        rel_ab = s.relate("knows", a2, b1)["id"]
        s.relate("mentor_of", a2, b1)  # restrict: a2 cannot go while it mentors b1
    with org.connection() as conn:
        kpis.add(org, conn, {"name": "ages", "label": "Ages", "unit": "years", "entity": "person",
                             "measure": {"avg": "age"}})
    return {"a1": a1, "a2": a2, "b1": b1, "rel_ab": rel_ab}


def _no_b(world, body: str) -> None:
    assert world["b1"] not in body
    for t in B_TEXTS:
        assert t not in body


def _normalised(body: str, rid: str) -> str:
    # The CSRF token changes with each page; the id asked about is echoed.
    return re.sub(r'name="csrf_token" value="[^"]+"', "", body).replace(rid, "ID")


@pytest.mark.parametrize("user", ["manager_a", "agent_a"])
def test_ui_record_actions_on_a_hidden_record_answer_as_for_an_unknown_id(org, world, user):
    browser = Browser(org)
    browser.login(user, "pw")
    probes = [("GET", "/r/person/{id}", None), ("GET", "/r/person/{id}/edit", None),
              ("GET", "/r/person/{id}/delete", None), ("GET", "/r/person/{id}/link?rel=knows:out&q=A", None),
              ("POST", "/r/person/{id}/edit", {"name": "Hijacked", "version": "2"}),
              ("POST", "/r/person/{id}/delete", {}),
              ("POST", "/r/person/{id}/log", {"kind": "call", "summary": "probe"}),
              ("POST", "/r/person/{id}/link", {"rel": "knows:out", "other": world["a1"]}),
              ("POST", f"/r/person/{{id}}/unlink/{world['rel_ab']}", {}),
              ("GET", "/r/note/{id}", None)]
    for method, path, form in probes:
        answers = {}
        for rid in (world["b1"], UNKNOWN):
            url = path.format(id=rid)
            r = browser.get(url) if method == "GET" else browser.post(url, form)
            answers[rid] = (r.status_code, _normalised(text(r), rid))
        assert answers[world["b1"]][0] == 404, (method, path, answers[world["b1"]][0])
        assert answers[world["b1"]] == answers[UNKNOWN], (method, path)
        _no_b(world, answers[world["b1"]][1].replace("ID", ""))
    with org.session("manager_b") as s:
        b = s.get(world["b1"])
        assert b.version == 1 and b.data["name"] == "Bahram B"
        assert len(s.related(world["b1"])) == 0  # manager_b cannot see a2
    with org.session() as s:  # nothing was logged, linked or unlinked
        assert [a["kind"] for a in s.history(world["b1"])] == ["created", "call", "related", "related"]
        assert len(s.related(world["b1"])) == 2


def test_ui_linking_to_a_hidden_record_is_refused_as_for_an_unknown_id(org, world):
    browser = Browser(org)
    browser.login("manager_a", "pw")
    messages = {}
    for rid in (world["b1"], UNKNOWN):
        r = browser.post(f"/r/person/{world['a2']}/link", {"rel": "knows:in", "other": rid})
        assert r.status_code == 302
        page = text(browser.followed)
        messages[rid] = re.findall(r'<p class="flash error">([^<]*)</p>', page)
        assert messages[rid], page
    assert [m.replace(world["b1"], "ID") for m in messages[world["b1"]]] == \
        [m.replace(UNKNOWN, "ID") for m in messages[UNKNOWN]]
    with org.session() as s:
        assert {i["relationship"]["type"] for i in s.related(world["b1"])} == {"knows", "mentor_of"}
        assert len(s.related(world["b1"])) == 2  # no incoming knows from b1 to a2 was made


def test_ui_record_page_link_page_and_delete_page_leave_hidden_links_out(org, world):
    browser = Browser(org)
    browser.login("manager_a", "pw")
    for path in (f"/r/person/{world['a2']}", f"/r/person/{world['a2']}/delete",
                 f"/r/person/{world['a2']}/link?rel=knows:out&q=B", f"/r/person/{world['a2']}/link?rel=knows:out"):
        r = browser.get(path)
        assert r.status_code == 200, path
        _no_b(world, text(r))
        assert world["rel_ab"] not in text(r)
    # Two links exist, none visible: the delete page counts none of them.
    page = text(browser.get(f"/r/person/{world['a2']}/delete"))
    assert "link(s) to other records" not in page
    # ... yet the page says beforehand that a link to a record they cannot see refuses the delete.
    assert "Cannot be deleted: it is linked to a record you cannot see («" in page
    # The restrict link to the hidden record refuses the delete without naming that record.
    r = browser.post(f"/r/person/{world['a2']}/delete", {})
    assert r.status_code == 302
    page = text(browser.followed)
    assert "Not deleted: it is linked to a record you cannot see («" in page
    _no_b(world, page)
    with org.session() as s:
        assert s.get(world["a2"]).version == 1


@pytest.mark.parametrize("user", ["manager_a", "agent_a"])
def test_ui_search_filters_paging_and_csv_export_leave_b_out(org, world, user):
    browser = Browser(org)
    browser.login(user, "pw")
    mine = {"manager_a": {"Alice A", "Arash A"}, "agent_a": {"Alice A"}}[user]
    queries = ["", "?q=B", "?q=Bah", "?q=b", "?ff=national_id&fo=eq&fv=B-SECRET", "?ff=age&fo=gte&fv=50",
               "?ff=age&fo=in&fv=90,30,40", "?ff=national_id&fo=exists&fv=yes", f"?after={world['a1']}",
               "?after=0"]
    for q in queries:
        r = browser.get(f"/r/person{q}")
        assert r.status_code == 200, q
        page = text(r)  # the filter form echoes what was typed: B-SECRET may be the query itself
        assert world["b1"] not in page and "Bahram" not in page and ">90<" not in page, q
        csv = browser.get(f"/r/person/export.csv{q}")
        assert csv.status_code == 200 and csv.mimetype == "text/csv", q
        _no_b(world, text(csv))
    rows = text(browser.get("/r/person/export.csv")).splitlines()[1:]
    assert {row.split(",")[1] for row in rows} == mine


def test_type_browser_and_dashboard_count_only_what_the_user_may_read(org, world):
    browser = Browser(org)
    browser.login("manager_b", "pw")  # sees b1 only
    page = text(browser.get("/types/"))
    counts = re.findall(r"<td[^>]*>\s*(\d+)\s*</td>", page)
    assert "3" not in counts and "1" in counts, counts
    assert browser.get("/types/person").status_code == 200
    assert browser.post("/types/person", {"definition": "{}", "action": "check"}).status_code == 403
    nobody = Browser(org)
    nobody.login("nobody", "pw")
    assert "3" not in re.findall(r"<td[^>]*>\s*(\d+)\s*</td>", text(nobody.get("/types/")))
    with org.session("manager_b") as s:
        assert s.kpi("ages")["n"] == 1


def test_unique_conflicts_in_the_ui_do_not_name_a_hidden_record(org, world):
    browser = Browser(org)
    browser.login("manager_a", "pw")
    r = browser.post("/r/person/new", {"name": "Copy", "national_id": "B-SECRET"})
    assert r.status_code == 422 and "already exists" in text(r)
    assert world["b1"] not in text(r) and "Bahram" not in text(r)
    page = text(browser.get(f"/r/person/{world['a2']}/edit"))
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    r = browser.post(f"/r/person/{world['a2']}/edit", {"name": "Arash A", "national_id": "B-SECRET",
                                                        "version": version})
    assert r.status_code == 422 and "already exists" in text(r)
    assert world["b1"] not in text(r) and "Bahram" not in text(r)
    with org.session("manager_a") as s:
        assert s.count("person", {"national_id": "B-SECRET"}) == 0


def test_a_cookie_planted_before_login_is_not_logged_in_after_it(org):
    """Session fixation: the visitor's cookie from before the login (which an attacker may
    have planted) does not become a logged-in session."""
    victim = Browser(org)
    victim.get("/login")
    with victim.client.session_transaction() as s:
        planted = dict(s)
    victim.login("manager_a", "pw")
    assert victim.get("/r/person").status_code == 200
    attacker = Browser(org, app=victim.app)
    with attacker.client.session_transaction() as s:
        s.update(planted)
    r = attacker.get("/r/person")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_plugin_post_routes_need_the_csrf_token_and_exempt_views_never_act_as_anyone(make_platform):
    from flask import Blueprint, request

    from xrm_core import login_exempt, user_session
    from xrm_core.plugins import hookimpl

    from conftest import PersonPlugin

    bp = Blueprint("notes_pages", __name__, url_prefix="/quick")

    @bp.post("/add")
    def add():
        with user_session(write=True) as s:
            return s.create("person", {"name": request.form["name"]}).id

    @bp.route("/hook", methods=["GET", "POST"])
    @login_exempt
    def hook():
        with user_session(write=True) as s:
            return s.create("person", {"name": "from the hook"}).id

    class Pages:
        __name__ = "quick_pages"

        @staticmethod
        @hookimpl
        def xrm_flask_app(app):
            app.register_blueprint(bp)

    p = make_platform(PersonPlugin(), Pages())
    admin = Browser(p)
    admin.login()
    # A cross-site form posted with the admin's cookie but without the token: refused.
    assert admin.post("/quick/add", {"name": "Forged"}, token=False).status_code == 400
    assert admin.post("/quick/add", {"name": "Forged", "csrf_token": "x"}, token=False).status_code == 400
    # The exempt view: still CSRF-protected, and with a token it has no user to act as, even
    # when the admin is logged in.
    assert admin.post("/quick/hook", {}, token=False).status_code == 400
    r = admin.post("/quick/hook", {})
    assert r.status_code == 401 and "no user is logged in" in text(r)
    assert admin.get("/quick/hook").status_code == 401
    with p.session() as s:
        assert s.count("person") == 0
    r = admin.post("/quick/add", {"name": "Real"})
    assert r.status_code == 200
    with p.session() as s:
        assert [x.data["name"] for x in s.list("person")] == ["Real"]


def test_api_unique_conflict_on_update_and_hidden_unit_fields(org, world):
    from xrm_core.web import create_app
    client = create_app(org, {"TESTING": True}).test_client()
    with org.connection() as conn:
        token = accounts.create_token(conn, "manager_a")
    h = {"Authorization": f"Bearer {token}"}
    r = client.patch(f"/api/v1/records/person/{world['a2']}", json={"data": {"national_id": "B-SECRET"}}, headers=h)
    assert r.status_code == 409 and "existing" not in r.json and world["b1"] not in text(r)
    # A new record may be placed in a unit only within the caller's create scope (DESIGN §4:
    # the caller sets another unit within its own scope); an update cannot move a record.
    r = client.post("/api/v1/records/person", json={"data": {"name": "X"}, "unit": "dealer_b"}, headers=h)
    assert r.status_code == 403, r.json
    r = client.patch(f"/api/v1/records/person/{world['a2']}", json={"data": {"age": 41}, "unit": "dealer_b"},
                     headers=h)
    assert r.status_code in (400, 422)
    with org.session() as s:
        assert s.get(world["a2"]).unit == "dealer_a" and s.count("person") == 3


def test_an_app_level_plugin_route_named_like_a_public_blueprint_still_needs_a_login(make_platform):
    """Flask reads a request's blueprint from the endpoint's name (the text before its last
    dot): an app-level route a plugin named ``auth.report`` or ``api.report`` was public."""
    from xrm_core import user_session
    from xrm_core.plugins import hookimpl

    from conftest import PersonPlugin

    def report():
        with user_session() as s:
            return f"{s.count('person')} persons"

    class Pages:
        __name__ = "named_pages"

        @staticmethod
        @hookimpl
        def xrm_flask_app(app):
            app.add_url_rule("/report-a", "auth.report", report)
            app.add_url_rule("/report-b", "api.report", report)
            app.add_url_rule("/report-c", "i18n.report", report)

    p = make_platform(PersonPlugin(), Pages())
    with p.session() as s:
        s.create("person", {"name": "Ada"})
    anonymous = Browser(p)
    for path in ("/report-a", "/report-b", "/report-c"):
        r = anonymous.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=" + path), path
    admin = Browser(p)
    admin.login()
    assert text(admin.get("/report-a")) == "1 persons"
    # The real public pages stay public.
    assert anonymous.get("/login").status_code == 200
    assert anonymous.client.get("/api/v1/types").status_code == 401  # the API's own check


def test_the_login_throttle_forgets_keys_once_their_failures_left_the_window(org):
    """Every failed login under a new user name stored a key for good (asking about a key
    stored one too): a stream of made-up names grew the storage without bound."""
    from xrm_core.web.ui.auth import Throttle

    now = [0.0]
    t = Throttle(org.connection, clock=lambda: now[0])
    for i in range(50):
        assert not t.blocked((f"user{i}", "10.0.0.1"), 5, 60)
    assert len(t) == 0
    for i in range(300):
        t.fail((f"user{i}", "10.0.0.1"), 60)
        now[0] += 1.0  # one failure a second, a window of a minute
    assert len(t) <= 61
    # Throttling itself is unchanged: five failures within the window block the key ...
    for _ in range(5):
        t.fail(("admin", "10.0.0.2"), 60)
    assert t.blocked(("admin", "10.0.0.2"), 5, 60)
    now[0] += 30
    assert t.blocked(("admin", "10.0.0.2"), 5, 60)
    # ... until they leave it.
    now[0] += 31
    assert not t.blocked(("admin", "10.0.0.2"), 5, 60)


def test_a_token_cannot_take_the_label_of_ui_sessions(org):
    admin = Browser(org)
    admin.login()
    admin.get("/admin/tokens")
    r = admin.post("/admin/tokens", {"user": "manager_a", "label": accounts.UI_SESSION, "action": "create"})
    assert r.status_code == 422 and "reserved" in text(r) and "xrm_" not in text(r)
    from xrm_core import db
    from sqlalchemy import func, select
    with org.connection() as conn:
        assert conn.execute(select(func.count()).select_from(db.tokens)
                            .where(db.tokens.c.label == accounts.UI_SESSION)).scalar() == 1  # the admin's own
    r = admin.post("/admin/tokens", {"user": "manager_a", "label": "reports", "action": "create"})
    assert r.status_code == 200 and re.search(r"xrm_[A-Za-z0-9_-]{20,}", text(r))
