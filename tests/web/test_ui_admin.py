"""Admin UI: dashboard KPI cards, the type browser with the impact check, units, users,
roles, tokens, and languages (English, Persian right-to-left, Chinese)."""
from __future__ import annotations

import copy
import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from sqlalchemy import select

from xrm_core import accounts, db
from xrm_core.plugins import hookimpl
from xrm_core.web.ui import dashboard

from test_ui_support import Browser, text

TRANSLATIONS = Path(__file__).parents[2] / "xrm_core" / "web" / "translations"


class BrokenKPI:
    """A Python KPI with a bug."""

    name, label, unit, higher_is_better, description, entity, time_field = (
        "broken", "Broken", "", True, "", "person", None)

    def check(self, known_types):
        pass

    def to_dict(self):
        return {"name": self.name, "label": self.label}

    def compute(self, ctx):
        raise ZeroDivisionError("oops")


class KpiPlugin:
    __name__ = "peoplekpis"

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [BrokenKPI(), {"name": "people_born", "label": {"en": "People born", "fa": "متولدین", "zh": "出生人数"},
                 "unit": "people", "entity": "person", "time_field": "born", "measure": {"count": True}},
                {"name": "avg_age", "label": "Average age", "entity": "person", "measure": {"avg": "age"}}]


@pytest.fixture
def kpi_platform(make_platform):
    from conftest import PersonPlugin
    return make_platform(PersonPlugin(), KpiPlugin())


def test_months_are_the_last_twelve_calendar_months():
    ms = dashboard.months(date(2026, 2, 14))
    assert len(ms) == 12 and ms[0] == ("2025-03-01", "2025-03-31") and ms[-1] == ("2026-02-01", "2026-02-28")
    assert ms[9] == ("2025-12-01", "2025-12-31")


def test_sparkline_is_plain_svg_with_gaps():
    svg = str(dashboard.sparkline([1, 2, None, 3, 4, None, 5], '<b>"x"</b>'))
    assert svg.startswith('<svg class="spark"') and svg.count("<polyline") == 2 and svg.count("<circle") == 1
    assert "<b>" not in svg and "&lt;b&gt;" in svg and "style=" not in svg and "<script" not in svg
    assert "<polyline" not in str(dashboard.sparkline([None, None]))


def test_dashboard_shows_kpi_cards_per_plugin_with_trends_in_the_users_scope(kpi_platform):
    p = kpi_platform
    last, this = dashboard.months(date.today())[-2:]
    with p.session() as s:
        for age, born in ((30, this[0]), (40, this[1]), (50, last[0])):
            s.create("person", {"name": "Admin's", "age": age, "born": born})
    b = Browser(p)
    b.login()
    page = text(b.get("/"))
    assert "<h2>peoplekpis</h2>" in page
    card = re.search(r'<article class="card" id="kpi-people_born">(.*?)</article>', page, re.S).group(1)
    assert "People born" in card and '<p class="value">3 <span class="unit">people</span>' in card
    assert "<svg" in card and "<polyline" in card  # last month 1, this month 2
    card = re.search(r'<article class="card" id="kpi-avg_age">(.*?)</article>', page, re.S).group(1)
    assert '<p class="value">40 ' in card and "<svg" not in card  # no time field: no trend
    card = re.search(r'id="kpi-broken">(.*?)</article>', page, re.S).group(1)
    assert "KPI broken failed in plugin &#39;peoplekpis&#39; (see the server log)" in card  # the others still work
    assert "oops" not in card  # the exception's text is for the log
    # Another user sees their own scope only: a grant on person but no record of their own
    # means no values; no grant on person means no cards of it (computing one is refused).
    with p.connection() as conn:
        accounts.save_role(conn, {"name": "own_people", "grants": [
            {"type": "person", "actions": ["read"], "depth": "own"}]})
        accounts.create_user(conn, "owner", "root", ["own_people"], "pw")
        accounts.create_user(conn, "viewer", "root", [], "pw")
    o = Browser(p)
    o.login("owner", "pw")
    card = re.search(r'id="kpi-people_born">(.*?)</article>', text(o.get("/")), re.S).group(1)
    assert '<p class="value">— ' in card
    assert text(o.get("/?plugin=nothing")).count('class="card"') == 0
    v = Browser(p)
    v.login("viewer", "pw")
    page = text(v.get("/"))
    assert 'class="card"' not in page and "peoplekpis" not in page


def test_type_browser_lists_types_and_fields(org):
    b = Browser(org)
    b.login("manager_a", "pw")
    page = text(b.get("/types/"))
    assert 'href="/types/person"' in page and 'href="/types/note"' in page
    page = text(b.get("/types/person"))
    assert "<code>age</code>" in page and "integer" in page and 'name="definition"' not in page


def _definition(org, name="person"):
    with org.session() as s:
        return copy.deepcopy(s.entity_type(name).definition)


def test_type_edit_checks_impact_and_applies_only_when_clean(org):
    import orjson
    with org.session() as s:
        young = s.create("person", {"name": "Young", "age": 5})
        s.create("person", {"name": "Old", "age": 50})
    b = Browser(org)
    b.login()
    d = _definition(org)
    d["schema"]["properties"]["age"]["minimum"] = 18
    body = orjson.dumps(d).decode()
    r = b.post("/types/person", {"definition": body, "action": "check"})
    page = text(r)
    assert r.status_code == 422 and "2 records checked, 1 would become invalid" in page
    assert young.id in page and "<code>/data/age</code>" in page
    r = b.post("/types/person", {"definition": body, "action": "apply"})
    assert r.status_code == 422 and "refused" in text(r)
    with org.session() as s:
        assert s.entity_type("person").version == 1
    # A clean change: the dry run says so and changes nothing; apply makes version 2.
    d["schema"]["properties"]["age"]["minimum"] = 0
    d["field_labels"] = {"age": {"en": "Age (years)", "fa": "سن", "zh": "年龄"}}
    body = orjson.dumps(d).decode()
    r = b.post("/types/person", {"definition": body, "action": "check"})
    assert r.status_code == 200 and "The change can be applied." in text(r)
    with org.session() as s:
        assert s.entity_type("person").version == 1
    r = b.post("/types/person", {"definition": body, "action": "apply"})
    assert r.status_code == 302 and "updated to version 2" in text(b.followed)
    assert "Age (years)" in text(b.followed)


def test_type_edit_refuses_a_change_that_breaks_a_kpi(org):
    import orjson

    from xrm_core import kpis
    with org.connection() as conn:
        kpis.add(org, conn, {"name": "mean_age", "entity": "person", "measure": {"avg": "age"}})
    b = Browser(org)
    b.login()
    d = _definition(org)
    d["schema"]["properties"]["age"] = {"type": "string"}
    d["indexes"] = [i for i in d.get("indexes", []) if i != "age"]
    for action in ("check", "apply"):
        r = b.post("/types/person", {"definition": orjson.dumps(d).decode(), "action": action})
        assert r.status_code == 422 and "would break 1 KPI(s): mean_age" in text(r), action
    with org.session() as s:
        assert s.entity_type("person").version == 1


def test_type_edit_reports_bad_json_and_renames(org):
    b = Browser(org)
    b.login()
    r = b.post("/types/person", {"definition": "{nope", "action": "check"})
    assert r.status_code == 422 and "not valid JSON" in text(r) and "{nope" in text(r)
    d = _definition(org)
    d["name"] = "other"
    import orjson
    r = b.post("/types/person", {"definition": orjson.dumps(d).decode(), "action": "apply"})
    assert r.status_code == 422 and "must keep the name person" in text(r)
    d = _definition(org)
    d["title_field"] = "missing"
    r = b.post("/types/person", {"definition": orjson.dumps(d).decode(), "action": "check"})
    assert r.status_code == 422 and "<code>/title_field</code>" in text(r)


def test_units_users_roles(org):
    b = Browser(org)
    b.login()
    assert b.post("/admin/units", {"name": "east", "parent": "hq"}).status_code == 302
    assert "east" in text(b.followed)
    assert b.post("/admin/roles", {"action": "create", "name": "viewer", "label": "Viewer"}).status_code == 302
    r = b.post("/admin/roles", {"action": "grant", "name": "viewer", "type": "person",
                                "actions": ["read"], "depth": "unit"})
    assert r.status_code == 302 and "<code>person</code> read · unit" in text(b.followed)
    r = b.post("/admin/users", {"name": "eve", "unit": "east", "roles": ["viewer"], "password": "pw2"})
    assert r.status_code == 302 and '<td>eve</td><td>east</td><td><span title="viewer">Viewer</span></td>' in text(b.followed)
    # The new user logs in and works within the new role's scope.
    e = Browser(org)
    e.login("eve", "pw2")
    assert e.get("/r/person").status_code == 200
    assert e.get("/r/person/new").status_code == 403
    # Errors are shown, and change nothing.
    r = b.post("/admin/units", {"name": "east", "parent": "hq"})
    assert r.status_code == 409 and "already exists" in text(r)
    r = b.post("/admin/roles", {"action": "grant", "name": "viewer", "type": "person", "actions": ["read"],
                                "depth": "galaxy"})
    assert r.status_code == 422 and "unknown depth" in text(r)


def test_tokens_are_shown_once_and_work_and_can_be_revoked(org):
    b = Browser(org, API_AUTH_CACHE_SECONDS=0)  # the API may cache a token briefly
    b.login()
    r = b.post("/admin/tokens", {"user": "manager_a", "label": "ci", "action": "create"})
    token = re.search(r'<code class="token">([^<]+)</code>', text(r)).group(1)
    assert r.headers["Cache-Control"] == "no-store"
    assert token not in text(b.get("/admin/tokens"))
    api = b.client.get("/api/v1/types", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 200
    r = b.post("/admin/tokens", {"user": "manager_a", "action": "revoke"})
    assert r.status_code == 302 and "1 tokens of manager_a revoked." in text(b.followed)
    assert b.client.get("/api/v1/types", headers={"Authorization": f"Bearer {token}"}).status_code == 401


def test_language_choice_sticks_and_persian_is_right_to_left(org):
    with org.session() as s:
        rec = s.create("person", {"name": "Ada", "age": 36})
    b = Browser(org)
    b.login()
    page = text(b.get(f"/r/person/{rec.id}"))
    assert '<html lang="en" dir="ltr">' in page and ">Dashboard<" in page
    r = b.post("/lang", {"lang": "fa", "next": f"/r/person/{rec.id}"})
    assert r.status_code == 302 and r.headers["Location"] == f"/r/person/{rec.id}"
    page = text(b.followed)
    assert '<html lang="fa" dir="rtl">' in page and ">داشبورد<" in page and "شخص" in page
    assert "نسخه ۱" in page  # Persian digits
    assert '<html lang="fa" dir="rtl">' in text(b.get("/r/person"))  # it sticks
    b.post("/logout")
    assert '<html lang="fa" dir="rtl">' in text(b.followed)  # and survives logging out
    b.login()
    b.post("/lang", {"lang": "zh", "next": "/r/person/new"})
    page = text(b.followed)
    assert '<html lang="zh" dir="ltr">' in page and ">仪表板<" in page and "新建人" in page
    b.post("/lang", {"lang": "xx", "next": "https://evil.example/"})
    assert b.followed is not None and '<html lang="zh"' in text(b.followed)


def test_browser_language_is_the_default(org):
    b = Browser(org)
    r = b.get("/login", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert '<html lang="zh" dir="ltr">' in text(r) and "登录" in text(r)


def test_catalogs_are_complete_and_compiled(tmp_path):
    """Every message of the UI is translated in fa and zh, and the .mo files match the .po."""
    from babel.messages.extract import extract_from_dir
    cfg = TRANSLATIONS / "babel.cfg"
    from babel.messages.frontend import parse_mapping_cfg
    with open(cfg) as f:
        method_map, options_map = parse_mapping_cfg(f)
    ids = {m[2] if isinstance(m[2], str) else m[2][0]
           for m in extract_from_dir(str(TRANSLATIONS.parent), method_map, options_map)}
    assert len(ids) > 80
    def entries(catalog) -> dict:
        # A plural message is keyed by its singular, with every form (all must be translated).
        return {m.id if isinstance(m.id, str) else m.id[0]:
                m.string if isinstance(m.string, str) else tuple(m.string) for m in catalog if m.id}

    for lang in ("fa", "zh"):
        with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
            catalog = read_po(f)
        # A fuzzy entry is pybabel's guess (it once gave "a record you cannot see" the text of
        # "%(n)s records you cannot see"): never compiled, so the page showed English.
        assert not [m.id for m in catalog if m.id and m.fuzzy], f"{lang}: fuzzy entries left"
        po = entries(catalog)
        with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo", "rb") as f:
            mo = entries(read_mo(f))
        translated = {k for k, v in po.items() if v and (isinstance(v, str) or all(v))}
        assert ids <= translated, (lang, sorted(ids - translated))
        assert mo == po, f"{lang}: run pybabel compile -d xrm_core/web/translations"


def test_an_admin_edits_and_deactivates_a_user(org):
    b = Browser(org)
    b.login()
    m = Browser(org)
    m.login("manager_a", "pw")
    assert m.get("/r/person").status_code == 200
    page = text(b.get("/admin/users"))
    assert 'href="/admin/users/manager_a"' in page
    form = text(b.get("/admin/users/manager_a"))
    assert '<option value="dealer_a" selected>' in form and 'value="manager" checked' in form
    assert 'name="active" checked' in form
    # Move, change roles and password in one save; the user's UI session ends with the password.
    r = b.post("/admin/users/manager_a", {"unit": "north", "roles": ["manager", "analyst"], "active": "on",
                                          "password": "new-pw"})
    assert r.status_code == 302 and "User manager_a saved." in text(b.followed)
    with org.connection() as conn:
        assert accounts.get_user(conn, "manager_a") == {"name": "manager_a", "unit": "north",
                                                        "roles": ["analyst", "manager"], "is_admin": False,
                                                        "active": True}
    assert m.get("/r/person").status_code == 302  # sent to the login page
    m.login("manager_a", "new-pw")
    # Deactivating (the box left unticked) ends the new session too and refuses the login.
    assert b.post("/admin/users/manager_a", {"unit": "north", "roles": ["manager"]}).status_code == 302
    assert m.get("/r/person").status_code == 302
    assert m.post("/login", {"username": "manager_a", "password": "new-pw"}).status_code == 401
    assert "<td>manager_a</td><td>north</td><td>manager</td><td></td><td></td>" in text(b.get("/admin/users"))


def test_user_edit_errors_change_nothing(org):
    b = Browser(org)
    b.login()
    with org.connection() as conn:
        before = accounts.list_users(conn)
    # The last administrator cannot deactivate itself, even with other changes in the same form.
    r = b.post("/admin/users/admin", {"unit": "hq", "roles": ["admin"], "password": "other"})
    assert r.status_code == 409 and "last active administrator" in text(r)
    r = b.post("/admin/users/agent_a", {"unit": "atlantis", "roles": ["agent"], "active": "on"})
    assert r.status_code == 404 and "unknown unit" in text(r)
    r = b.post("/admin/users/agent_a", {"unit": "dealer_a", "roles": ["agent", "nope"], "active": "on"})
    assert r.status_code == 404 and "unknown role" in text(r)
    assert b.get("/admin/users/ghost").status_code == 404
    with org.connection() as conn:
        assert accounts.list_users(conn) == before
        assert accounts.authenticate(conn, "admin", "secret") == "admin"
    m = Browser(org)
    m.login("manager_a", "pw")
    assert m.get("/admin/users/agent_a").status_code == 403
    assert m.post("/admin/users/agent_a", {"unit": "hq", "roles": ["admin"], "active": "on"}).status_code == 403


def test_ui_sessions_end_on_the_server_after_their_lifetime(org):
    b = Browser(org, UI_SESSION_HOURS=1)
    b.login("manager_a", "pw")
    assert b.get("/r/person").status_code == 200
    with org.connection() as conn:  # the session was opened two hours ago
        conn.execute(db.tokens.update().where(db.tokens.c.label == accounts.UI_SESSION)
                     .values(created_at=(datetime.now(timezone.utc) - timedelta(hours=2))
                             .strftime("%Y-%m-%dT%H:%M:%S.%fZ")))
    assert b.get("/r/person").status_code == 302
    b.login("manager_a", "pw")  # a new login works, and removes the expired row
    with org.connection() as conn:
        rows = conn.execute(select(db.tokens.c.id).where(db.tokens.c.label == accounts.UI_SESSION)).all()
    assert len(rows) == 1
    for bad in ("soon", "0", "-3", "nan", "inf"):  # a bad setting falls back to the default
        c = Browser(org, UI_SESSION_HOURS=bad)
        c.login("manager_a", "pw")
        assert c.get("/r/person").status_code == 200
