"""An administrator sets another user's time zone on the admin user page (ui15), as
``xrm users set-time-zone`` does: CSRF-protected, administrators only, an unknown zone
refused at its input with nothing changed; the first page after logging in is already in
the browser's zone when the login form carries it."""
from __future__ import annotations

import re

import pytest

from xrm_core import accounts

from test_ui_support import Browser, text


@pytest.fixture
def p(make_platform, monkeypatch):
    monkeypatch.delenv("XRM_BABEL_DEFAULT_TIMEZONE", raising=False)
    p = make_platform()
    with p.connection() as conn:
        accounts.save_role(conn, {"name": "clerk", "grants": [
            {"type": "*", "actions": ["read"], "depth": "all"}]})
        accounts.create_user(conn, "reza", "root", ["clerk"], "pw")
    return p


def _zone(p, name):
    with p.connection() as conn:
        return accounts.time_zone_of(conn, name)


def _roles(p, name):
    with p.connection() as conn:
        return accounts.get_user(conn, name)["roles"]


def _form(page: str) -> dict:
    """What the user page's form sends unchanged (state, unit, roles ticked, active)."""
    data = {"state": re.search(r'name="state" value="([^"]+)"', page).group(1),
            "unit": "root", "roles": re.findall(r'name="roles" value="([^"]+)" checked', page)}
    if re.search(r'name="active" checked', page):
        data["active"] = "on"
    return data


def test_an_administrator_sets_and_clears_a_users_time_zone(p):
    admin = Browser(p)
    admin.login()
    page = text(admin.get("/admin/users/reza"))
    assert '<select name="time_zone"' in page and '<option value="Asia/Tehran">' in page
    r = admin.post("/admin/users/reza", {**_form(page), "time_zone": "Asia/Tehran"})
    assert r.status_code == 302, text(r)
    assert _zone(p, "reza") == "Asia/Tehran" and _roles(p, "reza") == ["clerk"]
    page = text(admin.get("/admin/users/reza"))
    assert '<option value="Asia/Tehran" selected>' in page
    r = admin.post("/admin/users/reza", {**_form(page), "time_zone": ""})
    assert r.status_code == 302 and _zone(p, "reza") is None


def test_an_unknown_zone_is_refused_at_its_input_and_nothing_changes(p):
    admin = Browser(p)
    admin.login()
    page = text(admin.get("/admin/users/reza"))
    r = admin.post("/admin/users/reza", {**_form(page), "roles": [], "time_zone": "Mars/Olympus"})
    assert r.status_code == 422
    assert re.search(r'Mars/Olympus is no time zone this server knows', text(r))
    assert 'aria-invalid="true"' in text(r)
    assert _zone(p, "reza") is None and _roles(p, "reza") == ["clerk"]  # the roles unticked: not saved


def test_a_zone_set_meanwhile_makes_the_form_stale(p):
    admin = Browser(p)
    admin.login()
    page = text(admin.get("/admin/users/reza"))
    with p.connection() as conn:  # the user chose one on the preferences page meanwhile
        accounts.set_time_zone(conn, "reza", "Asia/Shanghai")
    r = admin.post("/admin/users/reza", {**_form(page), "time_zone": "Asia/Tehran"})
    assert r.status_code == 409 and _zone(p, "reza") == "Asia/Shanghai"


def test_a_form_without_the_field_leaves_the_zone(p):
    with p.connection() as conn:
        accounts.set_time_zone(conn, "reza", "Asia/Tehran")
    admin = Browser(p)
    admin.login()
    page = text(admin.get("/admin/users/reza"))
    r = admin.post("/admin/users/reza", _form(page))
    assert r.status_code == 302 and _zone(p, "reza") == "Asia/Tehran"


def test_only_administrators_and_only_with_the_csrf_token(p):
    reza = Browser(p)
    reza.login("reza", "pw")
    assert reza.post("/admin/users/reza", {"time_zone": "Asia/Tehran"}).status_code == 403
    admin = Browser(p, WTF_CSRF_ENABLED=True)
    admin.login()
    r = admin.post("/admin/users/reza", {"time_zone": "Asia/Tehran"}, token=False)
    assert r.status_code == 400 and _zone(p, "reza") is None
