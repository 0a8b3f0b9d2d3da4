"""Login, logout and the login requirement of every UI page, with failed-login throttling.

Throttling counts failures in the database, so every worker process counts the same ones,
twice: per (user name, client address) — after ``LOGIN_MAX_FAILURES`` failures within
``LOGIN_WINDOW_SECONDS`` further attempts for that name are refused with 429 until the oldest
failure leaves the window — and per client address whatever the name, against one address
trying a few passwords on many names (password spraying): ``LOGIN_MAX_ADDRESS_FAILURES``
(default 100; 0 turns this count off) within the same window.
"""
from __future__ import annotations

import hashlib
import time

import orjson

from flask import Flask, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from sqlalchemy import delete, func, insert, select

from ... import accounts, db
from ...errors import AuthenticationError
from .common import blueprint, platform, safe_next

bp = blueprint("auth", __name__)
#: Blueprints anyone may reach: logging in, choosing the language, and the REST API (which
#: checks its bearer token itself). Every other page — the core's and the plugins' — needs a
#: logged-in user, so a plugin page is never served to an anonymous visitor by mistake.
PUBLIC = {"auth", "i18n", "api"}
#: Failed logins one client address may have within the window, whatever the user names:
#: twenty names' worth of the per-name limit, so an office behind one address is not
#: blocked by its own typing, while a sprayer gets 100 guesses per window, not 5 per name.
ADDRESS_FAILURES = 100


class Throttle:
    """Failed attempts per key within a sliding window, counted in the database.

    Every app process behind a load balancer counts the same failures (kept per process, N
    workers gave an attacker N times the attempts). A key is stored as its SHA-256 digest:
    what was typed as a user name is not kept. Failures that left the window are deleted
    whenever a new one is written, so the table holds only the failures of the last window.
    """

    def __init__(self, connection, clock=time.time):
        #: ``connection()``: a context manager giving a connection in a transaction
        self._connection = connection
        self._clock = clock

    @staticmethod
    def digest(key) -> str:
        return hashlib.sha256(orjson.dumps(list(key))).hexdigest()

    def blocked(self, key, limit: int, window: float) -> bool:
        """Whether ``key`` has ``limit`` failures or more within the last ``window`` seconds."""
        t = db.login_failures
        with self._connection() as conn:
            n = conn.execute(select(func.count()).select_from(t).where(
                t.c.key == self.digest(key), t.c.at >= self._clock() - window)).scalar_one()
        return n >= limit

    def fail(self, key, window: float) -> None:
        """Count a failure of ``key`` now (and forget every failure older than ``window``)."""
        t, now = db.login_failures, self._clock()
        with self._connection() as conn:
            conn.execute(delete(t).where(t.c.at < now - window))
            conn.execute(insert(t).values(key=self.digest(key), at=now))

    def attempt(self, key, limit: int, window: float) -> int | None:
        """Count an attempt of ``key`` now, as a failure until :meth:`clear` or
        :meth:`forget` forgets it, and say whether it may go on: the counted attempt's id
        (true), or None (and nothing counted) when ``key`` already has ``limit`` failures
        within the last ``window`` seconds.

        Counted before the password is checked, and in its own committed transaction, so
        that concurrent attempts see each other: checking first (:meth:`blocked`) and
        counting after the check let every attempt in flight pass the check — 8 to 11
        guesses instead of 5 against 2 workers of 4 threads, more with more of them. More
        than ``limit`` attempts racing each other may all be refused (each counts the others):
        strict rather than generous, and only a burst for one name from one address does it.
        """
        t, now, digest = db.login_failures, self._clock(), self.digest(key)
        with self._connection() as conn:
            conn.execute(delete(t).where(t.c.at < now - window))
            row_id = conn.execute(insert(t).values(key=digest, at=now)).inserted_primary_key[0]
        with self._connection() as conn:
            n = conn.execute(select(func.count()).select_from(t).where(
                t.c.key == digest, t.c.at >= now - window)).scalar_one()
            if n <= limit:
                return row_id
            # Refused: not a failure of its own (the window ends when the oldest failure
            # leaves it, however often a blocked client tries).
            conn.execute(delete(t).where(t.c.id == row_id))
        return None

    def forget(self, attempt_id: int) -> None:
        """Forget one attempt counted by :meth:`attempt` (it was not a failure)."""
        with self._connection() as conn:
            conn.execute(delete(db.login_failures).where(db.login_failures.c.id == attempt_id))

    def clear(self, key) -> None:
        """Forget the failures of ``key`` (it logged in)."""
        with self._connection() as conn:
            conn.execute(delete(db.login_failures).where(db.login_failures.c.key == self.digest(key)))

    def __len__(self) -> int:
        """The number of failures stored now."""
        with self._connection() as conn:
            return conn.execute(select(func.count()).select_from(db.login_failures)).scalar_one()


@bp.route("/login", methods=["GET", "POST"])
def login():
    if request.method == "GET":
        return render_template("login.html", next=request.args.get("next", ""))
    name = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    cfg = current_app.config
    address = request.remote_addr or ""
    key = (name.lower(), address)
    throttle: Throttle = current_app.extensions["xrm_ui_throttle"]
    limit, window = cfg["LOGIN_MAX_FAILURES"], cfg["LOGIN_WINDOW_SECONDS"]
    minutes = max(1, round(window / 60))
    again = {"username": name, "next": request.form.get("next", "")}
    name_attempt = throttle.attempt(key, limit, window)  # counted as a failure unless it succeeds
    if name_attempt is None:
        msg = _("Too many failed logins for this user from your address. Try again in %(n)s minutes.", n=minutes)
        return render_template("login.html", error=msg, **again), 429
    # The address's own count, whatever the name (a 1-tuple: no name's key is one). Taken
    # after the name's, and that attempt forgotten when the address is refused: a refused
    # attempt is no failure (no password was checked).
    address_limit = _address_limit()
    address_attempt = throttle.attempt((address,), address_limit, window) if address_limit else None
    if address_limit and address_attempt is None:
        throttle.forget(name_attempt)
        msg = _("Too many failed logins from your address. Try again in %(n)s minutes.", n=minutes)
        return render_template("login.html", error=msg, **again), 429
    try:
        with platform().connection() as conn:
            accounts.authenticate(conn, name, password)
            secret = accounts.open_ui_session(conn, name, _session_hours())
    except AuthenticationError:
        return render_template("login.html", error=_("Wrong user name or password."), invalid=True, **again), 401
    # Logged in: the name's failures are forgotten, and this attempt is none of the
    # address's (its earlier failures stay: a sprayer's own account must not reset them).
    throttle.clear(key)
    if address_attempt is not None:
        throttle.forget(address_attempt)
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


def _address_limit() -> int:
    """XRM_LOGIN_MAX_ADDRESS_FAILURES: failed logins one address may have within the window,
    whatever the names; 0 turns the count off (every client behind one address nobody can
    tell apart: see docs/deployment.md). A setting that is no count uses the default."""
    value = current_app.config["LOGIN_MAX_ADDRESS_FAILURES"]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        current_app.logger.warning("XRM_LOGIN_MAX_ADDRESS_FAILURES=%r is not a count: using %s",
                                   value, ADDRESS_FAILURES)
        return ADDRESS_FAILURES
    return value


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
        # A read transaction: a writer's (BEGIN IMMEDIATE on SQLite) took the database's
        # write lock for every page view, so pages waited behind any import or save.
        with platform().engine.connect() as conn, conn.begin():
            row = accounts.ui_session_user(conn, name, secret, _session_hours())
    if row is None:
        session.pop("user", None)
        session.pop("sid", None)
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    g.user, g.is_admin = row.name, bool(row.is_admin)
    g.time_zone = row.time_zone  # the user's own zone, for i18n.select_timezone
    return None


def init_app(app: Flask) -> None:
    """Throttling and the login requirement. Called once the PUBLIC blueprints are
    registered (before the plugins add their pages): their endpoints are the public ones."""
    app.config.setdefault("LOGIN_MAX_ADDRESS_FAILURES", ADDRESS_FAILURES)
    app.extensions["xrm_ui_throttle"] = Throttle(lambda: platform().connection())
    app.extensions["xrm_public_endpoints"] = frozenset(
        endpoint for endpoint in app.view_functions if endpoint.rpartition(".")[0] in PUBLIC)
    app.before_request(_load_user)
