"""Login, logout and the login requirement of every UI page, with failed-login throttling.

Throttling counts failures per (user name, client address) in this process: after
``LOGIN_MAX_FAILURES`` failures within ``LOGIN_WINDOW_SECONDS`` further attempts are refused
with 429 until the oldest failure leaves the window. (With several worker processes each keeps
its own count, so the effective limit is per worker.)
"""
from __future__ import annotations

import threading
import time
from collections import deque

from flask import Flask, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ... import accounts
from ...errors import AuthenticationError
from .common import blueprint, platform, safe_next

bp = blueprint("auth", __name__)
#: Blueprints anyone may reach: logging in, choosing the language, and the REST API (which
#: checks its bearer token itself). Every other page — the core's and the plugins' — needs a
#: logged-in user, so a plugin page is never served to an anonymous visitor by mistake.
PUBLIC = {"auth", "i18n", "api"}


class Throttle:
    """Failed attempts per key within a sliding window.

    Only keys with a failure inside the window are kept: asking about a key stores nothing,
    and keys whose failures all left the window are swept out once the map has grown past
    ``sweep_at`` keys (then twice the keys still live), so a stream of failed logins under
    ever new user names cannot grow the process's memory without bound.
    """

    def __init__(self, clock=None, sweep_at: int = 10_000):
        self._failures: dict[tuple, deque] = {}
        self._lock = threading.Lock()
        self._clock = clock or (lambda: time.monotonic())
        self._min_sweep = self._sweep_at = sweep_at

    def __len__(self) -> int:
        """The number of keys tracked now."""
        return len(self._failures)

    def _recent(self, key, window: float) -> deque | None:
        q = self._failures.get(key)
        if q is None:
            return None
        cutoff = self._clock() - window
        while q and q[0] < cutoff:
            q.popleft()
        if not q:
            del self._failures[key]
            return None
        return q

    def _sweep(self, window: float) -> None:
        cutoff = self._clock() - window
        for key in [k for k, q in self._failures.items() if not q or q[-1] < cutoff]:
            del self._failures[key]
        self._sweep_at = max(self._min_sweep, 2 * len(self._failures))

    def blocked(self, key, limit: int, window: float) -> bool:
        with self._lock:
            q = self._recent(key, window)
            return q is not None and len(q) >= limit

    def fail(self, key, window: float) -> None:
        with self._lock:
            if len(self._failures) >= self._sweep_at:
                self._sweep(window)
            q = self._recent(key, window)
            if q is None:
                q = self._failures[key] = deque()
            q.append(self._clock())

    def clear(self, key) -> None:
        with self._lock:
            self._failures.pop(key, None)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    name = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    cfg = current_app.config
    key = (name.lower(), request.remote_addr or "")
    throttle: Throttle = current_app.extensions["xrm_ui_throttle"]
    limit, window = cfg["LOGIN_MAX_FAILURES"], cfg["LOGIN_WINDOW_SECONDS"]
    if throttle.blocked(key, limit, window):
        minutes = max(1, round(window / 60))
        msg = _("Too many failed logins for this user from your address. Try again in %(n)s minutes.", n=minutes)
        return render_template("login.html", error=msg, username=name), 429
    try:
        with platform().connection() as conn:
            accounts.authenticate(conn, name, password)
            secret = accounts.open_ui_session(conn, name, _session_hours())
    except AuthenticationError:
        throttle.fail(key, window)
        return render_template("login.html", error=_("Wrong user name or password."), username=name), 401
    throttle.clear(key)
    lang = session.get("lang")
    session.clear()  # a fresh session on login: no fixation of a pre-login cookie
    session["user"], session["sid"] = name, secret
    if lang:
        session["lang"] = lang
    return redirect(safe_next(request.form.get("next")))


@bp.post("/logout")
def logout():
    lang, secret = session.get("lang"), session.get("sid")
    if secret:  # ended on the server: a copy of the cookie is worth nothing now
        with platform().connection() as conn:
            accounts.close_ui_session(conn, secret)
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


def _session_hours() -> float:
    """XRM_UI_SESSION_HOURS: a UI session ends on the server this long after login."""
    try:
        hours = float(current_app.config["UI_SESSION_HOURS"])
    except (TypeError, ValueError):
        hours = 0.0
    if not 0 < hours <= 24 * 366:  # a bad setting must not leave sessions open forever (nor NaN)
        current_app.logger.warning("XRM_UI_SESSION_HOURS=%r is not a number of hours up to a year: using %s",
                                   current_app.config["UI_SESSION_HOURS"], accounts.UI_SESSION_HOURS)
        hours = accounts.UI_SESSION_HOURS
    return hours


def _load_user():
    """Set ``g.user``/``g.is_admin`` for UI pages; send anonymous visitors to the login page.

    Fails closed: only the PUBLIC blueprints, static files, unknown paths (404) and views
    marked with :func:`~xrm_core.web.ui.common.login_exempt` are served without a login.
    """
    # Public by the endpoints the PUBLIC blueprints registered (kept by init_app), not by the
    # endpoint's name: Flask reads the blueprint from the text before the last dot, so an
    # app-level route a plugin named "auth.report" or "api.x" passed as public.
    if (request.endpoint in current_app.extensions["xrm_public_endpoints"] or request.endpoint in (None, "static")
            or getattr(current_app.view_functions.get(request.endpoint), "xrm_login_exempt", False)):
        return None
    name, secret = session.get("user"), session.get("sid")
    row = None
    if name and secret:
        # The session must still be open on the server (logout, `xrm tokens revoke USER`
        # and deactivating the user end it) — not just carry a valid signature.
        with platform().connection() as conn:
            row = accounts.ui_session_user(conn, name, secret, _session_hours())
    if row is None:
        session.pop("user", None)
        session.pop("sid", None)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    g.user, g.is_admin = row.name, bool(row.is_admin)
    return None


def init_app(app: Flask) -> None:
    """Throttling and the login requirement. Called once the PUBLIC blueprints are
    registered (before the plugins add their pages): their endpoints are the public ones."""
    app.extensions["xrm_ui_throttle"] = Throttle()
    app.extensions["xrm_public_endpoints"] = frozenset(
        endpoint for endpoint in app.view_functions if endpoint.rpartition(".")[0] in PUBLIC)
    app.before_request(_load_user)
