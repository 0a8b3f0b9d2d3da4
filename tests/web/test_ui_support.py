"""Shared helpers of the UI tests (no tests here): a Flask test client that logs in and
submits CSRF tokens like a browser."""
from __future__ import annotations

import re

from xrm_core.web import create_app

TOKEN_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


class Browser:
    """A Flask test client that reads the CSRF token from the last page like a browser would."""

    def __init__(self, platform=None, app=None, **config):
        self.app = app or create_app(platform, {"TESTING": True, "SECRET_KEY": "test", **config})
        self.client = self.app.test_client()
        self.token = None
        #: the page a redirect after the last POST led to
        self.followed = None

    def get(self, path, **kw):
        r = self.client.get(path, **kw)
        m = TOKEN_RE.search(r.get_data(as_text=True))
        if m:
            self.token = m.group(1)
        return r

    def post(self, path, data=None, token=True, **kw):
        data = dict(data or {})
        if token:
            if self.token is None:
                self.get("/login")
            data.setdefault("csrf_token", self.token)
        r = self.client.post(path, data=data, **kw)
        m = TOKEN_RE.search(r.get_data(as_text=True))
        if m:
            self.token = m.group(1)
        elif r.status_code in (302, 303):
            # Like a browser, load the page redirected to (login and logout renew the session,
            # and with it the CSRF token); the redirect itself is what the caller checks.
            self.followed = self.get(r.headers["Location"], base_url=kw.get("base_url", "http://localhost"))
        return r

    def login(self, user="admin", password="secret"):
        self.get("/login")
        r = self.post("/login", {"username": user, "password": password})
        assert r.status_code == 302, r.get_data(as_text=True)
        return r


def text(r) -> str:
    return r.get_data(as_text=True)
