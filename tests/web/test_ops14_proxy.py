"""Behind a TLS-terminating reverse proxy (XRM_PROXY_HOPS=1) that forwards to
``http://127.0.0.1:8000`` — nginx's ``proxy_pass`` sends that as the Host unless told
otherwise — and says the public host in ``X-Forwarded-Host``: the browser's Referer
(``https://crm.example.org/…``) must match the host the app sees, or Flask-WTF refuses every
UI form over HTTPS ("The referrer does not match the host"): nobody could log in."""
from __future__ import annotations

import re

from conftest import PersonPlugin
from test_ui_support import Browser

BEHIND = {"X-Forwarded-For": "203.0.113.5", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "crm.example.org"}
UPSTREAM = "http://127.0.0.1:8000"


def _login(b: Browser, headers: dict, upstream: str = UPSTREAM):
    page = b.client.get("/login", headers=headers, base_url=upstream)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return b.client.post("/login", data={"csrf_token": token, "username": "admin", "password": "secret"},
                         headers={**headers, "Referer": "https://crm.example.org/login"}, base_url=upstream)


def test_the_ui_logs_in_behind_a_proxy_that_forwards_the_host(make_platform):
    p = make_platform(PersonPlugin())
    b = Browser(p, PROXY_HOPS=1)
    r = _login(b, BEHIND)
    assert r.status_code == 302, r.get_data(as_text=True)
    assert r.headers["Location"] == "/"
    home = b.client.get("/", headers=BEHIND, base_url=UPSTREAM)
    assert home.status_code == 200


def test_a_forwarded_host_is_not_trusted_without_proxy_hops(make_platform):
    """XRM_PROXY_HOPS unset: any client could write the header, so the host is the request's
    own (here reached over HTTPS directly: the Referer names another host, refused)."""
    p = make_platform(PersonPlugin())
    r = _login(Browser(p), BEHIND, upstream="https://127.0.0.1:8000")
    assert r.status_code == 400 and "referrer does not match the host" in r.get_data(as_text=True)
