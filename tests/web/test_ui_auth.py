"""Admin UI security: login, throttling, logout, CSRF, cookies, headers, redirects."""
from __future__ import annotations

import re

import pytest

from xrm_core import accounts

from test_ui_support import Browser, text


@pytest.fixture
def browser(org):
    return Browser(org)


def test_pages_need_login_and_send_back_after_it(browser):
    r = browser.get("/r/person?q=A")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=")
    browser.get(r.headers["Location"])
    r = browser.post("/login", {"username": "admin", "password": "secret", "next": "/r/person?q=A"})
    assert r.status_code == 302 and r.headers["Location"] == "/r/person?q=A"
    assert browser.get("/r/person").status_code == 200


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example",
                                    "/\t/evil.example", "/\n/evil.example", "/ /evil.example"])
def test_login_never_redirects_off_site(browser, target):
    browser.get("/login")
    r = browser.post("/login", {"username": "admin", "password": "secret", "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    browser.get("/")
    r = browser.post("/lang", {"lang": "fa", "next": target})
    assert r.status_code == 302 and r.headers["Location"] == "/"


def test_a_copy_of_the_session_cookie_is_worthless_after_logout(org):
    """The cookie is signed, not secret-free: the server ends the session itself."""
    b = Browser(org)
    b.login()
    with b.client.session_transaction() as s:
        stolen = dict(s)
    assert b.post("/logout").status_code == 302
    thief = Browser(org)
    with thief.client.session_transaction() as s:
        s.update(stolen)
    r = thief.get("/r/person")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")
    # Nor is the session's secret an API token.
    r = thief.client.get("/api/v1/types", headers={"Authorization": f"Bearer {stolen['sid']}"})
    assert r.status_code == 401


def test_revoking_a_users_tokens_ends_their_ui_sessions(org):
    b = Browser(org)
    b.login()
    assert b.get("/r/person").status_code == 200
    with org.connection() as conn:
        accounts.revoke_tokens(conn, "admin")
    r = b.get("/r/person")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login")


def test_an_unknown_user_costs_a_password_check_too(org, monkeypatch):
    """Answering an unknown name faster than a wrong password would tell which names exist."""
    checked = []
    orig = accounts.verify_password
    monkeypatch.setattr(accounts, "verify_password", lambda stored, pw: checked.append(stored) or orig(stored, pw))
    for name in ("admin", "ghost"):
        with pytest.raises(accounts.AuthenticationError), org.connection() as conn:
            accounts.authenticate(conn, name, "wrong")
    assert len(checked) == 2 and all(h.startswith("$argon2") for h in checked)


def test_wrong_password_is_refused_and_throttled_per_user_and_address(browser):
    for _ in range(5):
        r = browser.post("/login", {"username": "agent_a", "password": "nope"})
        assert r.status_code == 401 and "Wrong user name or password." in text(r)
    r = browser.post("/login", {"username": "agent_a", "password": "pw"})
    assert r.status_code == 429 and "Too many failed logins" in text(r)
    assert "user" not in _session(browser)
    # Another user, or the same user from another address, is not blocked.
    r = browser.post("/login", {"username": "manager_a", "password": "pw"})
    assert r.status_code == 302
    other = Browser(app=browser.app)  # same app (same throttle), another browser
    other.get("/login")
    r = other.post("/login", {"username": "agent_a", "password": "pw"},
                   environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert r.status_code == 302


def test_worker_processes_count_the_same_failures(org):
    """Two apps over one database stand for two workers behind a load balancer: the failures
    sent to either count towards one limit (kept per process, N workers gave N× the tries)."""
    worker_a, worker_b = Browser(org), Browser(org)
    for i in range(5):
        r = (worker_a if i % 2 else worker_b).post("/login", {"username": "agent_a", "password": "nope"})
        assert r.status_code == 401
    for worker in (worker_a, worker_b):
        r = worker.post("/login", {"username": "agent_a", "password": "pw"})
        assert r.status_code == 429 and "Too many failed logins" in text(r)
    assert Browser(org).post("/login", {"username": "manager_a", "password": "pw"}).status_code == 302


def test_the_failure_table_keeps_no_names_and_only_the_last_window(org):
    from sqlalchemy import select

    from xrm_core import db
    from xrm_core.web.ui.auth import Throttle

    now = [1_000_000.0]
    t = Throttle(org.connection, clock=lambda: now[0])
    key = ("s3cret-typed-as-a-name", "10.0.0.2")
    for _ in range(5):
        t.fail(key, 60)
    assert t.blocked(key, 5, 60) and not t.blocked(key, 6, 60)
    assert not t.blocked(("s3cret-typed-as-a-name", "10.0.0.3"), 1, 60)
    with org.connection() as conn:
        stored = conn.execute(select(db.login_failures.c.key)).scalars().all()
    assert len(stored) == 5 and all(len(k) == 64 and "s3cret" not in k for k in stored)
    now[0] += 30
    assert t.blocked(key, 5, 60)
    now[0] += 31  # the five left the window: not blocked, and the next failure deletes them
    assert not t.blocked(key, 5, 60)
    t.fail(("other", "10.0.0.2"), 60)
    assert len(t) == 1
    t.clear(("other", "10.0.0.2"))
    assert len(t) == 0


def test_a_success_resets_the_failure_count(browser):
    for _ in range(4):
        browser.post("/login", {"username": "agent_a", "password": "nope"})
    assert browser.post("/login", {"username": "agent_a", "password": "pw"}).status_code == 302
    browser.post("/logout")
    for _ in range(4):
        assert browser.post("/login", {"username": "agent_a", "password": "nope"}).status_code == 401
    assert browser.post("/login", {"username": "agent_a", "password": "pw"}).status_code == 302


def test_throttle_window_ends(org):
    b = Browser(org, LOGIN_WINDOW_SECONDS=0)
    for _ in range(6):
        assert b.post("/login", {"username": "agent_a", "password": "nope"}).status_code == 401


def _session(browser) -> dict:
    with browser.client.session_transaction() as s:
        return dict(s)


def test_logout_needs_post_with_token_and_ends_the_session(browser):
    browser.login()
    r = browser.client.get("/logout")
    assert r.status_code == 405 and "Not this way" in r.get_data(as_text=True)
    assert browser.client.get("/api/v1/types").mimetype == "application/problem+json"  # the API's own
    assert browser.post("/logout", token=False).status_code == 400
    assert browser.get("/").status_code == 200
    r = browser.post("/logout")
    assert r.status_code == 302 and r.headers["Location"] == "/login"
    assert browser.get("/").status_code == 302


def test_a_deactivated_or_deleted_user_is_logged_out(browser, org):
    browser.login("agent_a", "pw")
    from xrm_core import db
    with org.connection() as conn:
        conn.execute(db.users.update().where(db.users.c.name == "agent_a").values(active=False))
    assert browser.get("/").status_code == 302
    assert "user" not in _session(browser)


def test_every_form_post_needs_the_csrf_token(browser, org):
    r = browser.post("/login", {"username": "admin", "password": "secret"}, token=False)
    assert r.status_code == 400 and "The form has expired or did not come from this site" in text(r)
    browser.login()
    for path, data in [("/r/person/new", {"name": "X"}), ("/admin/units", {"name": "u1"}),
                       ("/lang", {"lang": "fa"}), ("/admin/tokens", {"user": "admin"})]:
        assert browser.post(path, data, token=False).status_code == 400, path
        assert browser.post(path, {**data, "csrf_token": "forged"}, token=False).status_code == 400, path
    with org.session() as s:
        assert s.list("person") == []
    with org.connection() as conn:
        assert "u1" not in {u["name"] for u in accounts.list_units(conn)}


def test_every_form_in_every_page_carries_the_token(browser, org):
    browser.login()
    with org.session() as s:
        rec = s.create("person", {"name": "Ada"})
    for path in ["/", "/r/person", "/r/person/new", f"/r/person/{rec.id}", f"/r/person/{rec.id}/edit",
                 "/types/person", "/admin/units", "/admin/users", "/admin/roles", "/admin/tokens"]:
        page = text(browser.get(path))
        posts = page.count('method="post"')
        assert posts and page.count('name="csrf_token"') == posts, path


def test_the_bearer_token_api_is_exempt_from_csrf(browser, org):
    with org.connection() as conn:
        token = accounts.create_token(conn, "admin")
    r = browser.client.post("/api/v1/records/person", json={"data": {"name": "Api"}},
                            headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201


def test_session_cookie_is_httponly_and_samesite_lax(browser):
    r = browser.post("/login", {"username": "admin", "password": "secret"})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_session_cookie_is_secure_when_configured_or_over_https(org):
    b = Browser(org, SECURE_COOKIES="true")
    assert "Secure" in b.login().headers["Set-Cookie"]
    b = Browser(org)
    b.get("/login", base_url="https://localhost")
    login = {"username": "admin", "password": "secret"}
    # Over https Flask-WTF also insists on a same-origin Referer.
    assert b.post("/login", login, base_url="https://localhost").status_code == 400
    r = b.post("/login", login, base_url="https://localhost", headers={"Referer": "https://localhost/login"})
    assert r.status_code == 302 and "Secure" in r.headers["Set-Cookie"]


def test_security_headers_on_pages(browser):
    static = browser.client.get("/static/style.css")
    static.close()  # the file response holds the file open until closed
    for r in (browser.get("/login"), static):
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
    # No inline script: only the UI's own files (the post form sent once, the browser's time
    # zone told), as the CSP allows.
    scripts = re.findall(r"<script[^>]*>", text(browser.get("/login")))
    assert scripts == ['<script src="/static/submit-once.js" defer>', '<script src="/static/time-zone.js" defer>']


def test_non_admins_cannot_reach_admin_pages(browser):
    browser.login("manager_a", "pw")
    for path in ["/admin/units", "/admin/users", "/admin/roles", "/admin/tokens"]:
        assert browser.get(path).status_code == 403, path
    assert browser.post("/admin/tokens", {"user": "admin"}).status_code == 403
    assert browser.post("/types/person", {"definition": "{}", "action": "apply"}).status_code == 403


def test_the_api_docs_page_may_style_inline_but_never_script(browser):
    csp = browser.client.get("/api/v1/docs").headers["Content-Security-Policy"]
    assert "style-src 'self' 'unsafe-inline'" in csp and "script-src 'self';" in csp


def test_plugin_pages_need_a_login_unless_exempt_and_act_as_the_user(make_platform):
    """Fail closed: a page a plugin adds (xrm_flask_app) is behind the login like the core's,
    and acts in the logged-in user's scope through xrm_core.user_session."""
    from flask import Blueprint

    from xrm_core import login_exempt, user_session
    from xrm_core.plugins import hookimpl

    from conftest import PersonPlugin

    bp = Blueprint("headcount", __name__, url_prefix="/headcount")

    @bp.route("/")
    def count():
        with user_session() as s:
            return f"{len(s.list('person'))} persons"

    @bp.route("/public")
    @login_exempt
    def public():
        with user_session():
            return "acted as nobody"

    class Pages:
        __name__ = "headcount_pages"

        @staticmethod
        @hookimpl
        def xrm_flask_app(app):
            app.register_blueprint(bp)

    p = make_platform(PersonPlugin(), Pages())
    with p.connection() as conn:
        accounts.create_unit(conn, "north")
        accounts.save_role(conn, {"name": "clerk", "grants": [{"type": "*", "actions": ["read", "create"],
                                                               "depth": "own"}]})
        accounts.create_user(conn, "clerk", "north", ["clerk"], "pw")
    with p.session("admin") as s:
        s.create("person", {"name": "Ada"})
    with p.session("clerk") as s:
        s.create("person", {"name": "Bob"})

    anonymous = Browser(p)
    r = anonymous.get("/headcount/")
    assert r.status_code == 302 and r.headers["Location"].startswith("/login?next=/headcount/")
    # An exempt view is served, but there is no user to act as: refused, never as admin.
    r = anonymous.get("/headcount/public")
    assert r.status_code == 401 and "no user is logged in" in text(r) and "nobody" not in text(r)

    clerk = Browser(p)
    clerk.login("clerk", "pw")
    assert clerk.get("/headcount/").text == "1 persons"
    admin = Browser(p)
    admin.login()
    assert admin.get("/headcount/").text == "2 persons"


def test_behind_proxies_each_client_is_throttled_apart(org):
    """Behind a load balancer every request came from its address: five failures by anyone
    blocked that user name for everyone. XRM_PROXY_HOPS=1 reads the client's address from
    X-Forwarded-For (and only then: a client could write any address in it)."""
    behind = Browser(org, PROXY_HOPS=1)
    balancer = {"REMOTE_ADDR": "10.0.0.1"}
    for _ in range(5):
        r = behind.post("/login", {"username": "agent_a", "password": "nope"}, environ_base=balancer,
                        headers={"X-Forwarded-For": "203.0.113.7"})
        assert r.status_code == 401
    r = behind.post("/login", {"username": "agent_a", "password": "pw"}, environ_base=balancer,
                    headers={"X-Forwarded-For": "203.0.113.7"})
    assert r.status_code == 429
    r = behind.post("/login", {"username": "agent_a", "password": "pw"}, environ_base=balancer,
                    headers={"X-Forwarded-For": "198.51.100.2"})
    assert r.status_code == 302  # another client behind the same balancer
    # Without the setting the header is not trusted: the balancer's address is the client.
    direct = Browser(org)
    for ip in ("203.0.113.8", "203.0.113.9", "203.0.113.10", "203.0.113.11", "203.0.113.12"):
        direct.post("/login", {"username": "manager_a", "password": "nope"}, environ_base=balancer,
                    headers={"X-Forwarded-For": ip})
    r = direct.post("/login", {"username": "manager_a", "password": "pw"}, environ_base=balancer,
                    headers={"X-Forwarded-For": "192.0.2.1"})
    assert r.status_code == 429


@pytest.mark.parametrize("hops", ["x", -1, 11, True])
def test_a_bad_proxy_hops_setting_is_refused(org, hops):
    with pytest.raises(ValueError, match="XRM_PROXY_HOPS must be the number of reverse proxies"):
        Browser(org, PROXY_HOPS=hops)
