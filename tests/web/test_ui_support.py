"""Shared helpers of the UI tests (no tests here): a Flask test client that logs in and
submits CSRF tokens like a browser; and what the UI audits' domain plugins share
(``audit6_trials``: clinical trials, ``uiaudit9_hospital``: a hospital's patient relations):
a plugin declared as data, units with their staff, a browser signed in as one of them."""
from __future__ import annotations

import html
import re

from xrm_core import accounts, hookimpl
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


def delete_on_page(b: Browser, type_name: str, record_id: str, version: str = "1"):
    """Delete a record as a user does: its confirmation page, then the button (the form
    carries the ``version`` the page showed). Returns the POST's response."""
    b.get(f"/r/{type_name}/{record_id}/delete")
    return b.post(f"/r/{type_name}/{record_id}/delete", {"version": version})


def flashed(b: Browser, kind: str) -> str:
    """The text of the ``kind`` (``ok``, ``error``) message on the page a redirect led to."""
    return html.unescape(re.search(r'<p class="flash %s">(.*?)</p>' % kind, text(b.followed), re.S).group(1))


class DeclaredPlugin:
    """A plugin whose definitions are data: a subclass sets ``__name__`` (the plugin's
    name), ``types``, ``relationship_types``, ``activity_kinds``, ``roles`` and ``kpis``
    (lists of definitions, as the hooks return them) and a docstring saying what it is."""

    __name__ = "declared"
    types: list[dict] = []
    relationship_types: list[dict] = []
    activity_kinds: list[dict] = []
    roles: list[dict] = []
    kpis: list[dict] = []

    @hookimpl
    def xrm_entity_types(self):
        return self.types

    @hookimpl
    def xrm_relationship_types(self):
        return self.relationship_types

    @hookimpl
    def xrm_activity_kinds(self):
        return self.activity_kinds

    @hookimpl
    def xrm_roles(self):
        return self.roles

    @hookimpl
    def xrm_kpis(self):
        return self.kpis


def one_to_many(name: str, source: str, target: str, on_delete: str, label: dict, inverse_label: dict) -> dict:
    """A one-to-many relationship type's definition."""
    return {"name": name, "source": source, "target": target, "cardinality": "one-to-many",
            "on_delete": on_delete, "label": label, "inverse_label": inverse_label}


def units_with_staff(platform, parent: str, units, staff) -> None:
    """Unit ``parent`` with each of ``units`` below it, and in each of those a user per
    ``(prefix, role, password)`` of ``staff``, named ``{prefix}_{unit}``."""
    with platform.connection() as conn:
        accounts.create_unit(conn, parent)
        for unit in units:
            accounts.create_unit(conn, unit, parent)
            for prefix, role, password in staff:
                accounts.create_user(conn, f"{prefix}_{unit}", unit, [role], password)


def signed_in(platform, user: str, password: str, lang: str = "en") -> Browser:
    """A browser signed in as ``user`` (``admin`` signs in with the tests' admin password),
    its pages in ``lang``."""
    b = Browser(platform)
    b.login(user, "secret" if user == "admin" else password)
    if lang != "en":
        b.post("/lang", {"lang": lang, "next": "/"})
    return b
