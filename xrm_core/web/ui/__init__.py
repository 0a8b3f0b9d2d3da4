"""The admin UI: server-rendered Flask + Jinja pages on top of the same Session as the API.

``init_app(app)`` wires what every page needs — CSRF protection (the bearer-token REST API is
exempt), Flask-Babel (English, Persian, Chinese), hardened session cookies and security
headers — and registers the UI blueprints. Every page acts as the logged-in user through
``platform.session(user)``, so it sees exactly what the API would show that user.
"""
from __future__ import annotations

import orjson
from flask import Flask, render_template, request
from flask_babel import gettext as _
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect

from ... import accounts
from ...errors import XrmError

#: The header every response carries; no inline script or style is ever needed.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


class _SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure when configured (XRM_SECURE_COOKIES) or over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        if app.config.get("SECURE_COOKIES") or app.config.get("SESSION_COOKIE_SECURE"):
            return True
        return bool(request) and request.is_secure


def init_app(app: Flask) -> None:
    """Configure security, languages and the UI blueprints on ``app``."""
    # Flask's defaults exist as keys (SameSite None, name "session"): override unless set.
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = app.config.get("SESSION_COOKIE_SAMESITE") or "Lax"
    if app.config.get("SESSION_COOKIE_NAME") in (None, "session"):
        app.config["SESSION_COOKIE_NAME"] = "xrm_session"
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session's lifetime
    app.config.setdefault("LOGIN_MAX_FAILURES", 5)
    app.config.setdefault("LOGIN_WINDOW_SECONDS", 15 * 60)
    app.config.setdefault("UI_SESSION_HOURS", accounts.UI_SESSION_HOURS)  # server-side session lifetime
    if isinstance(app.config.get("SECURE_COOKIES"), str):
        app.config["SECURE_COOKIES"] = app.config["SECURE_COOKIES"].lower() in ("1", "true", "yes", "on")
    app.session_interface = _SessionInterface()

    csrf = CSRFProtect(app)
    from .. import api
    csrf.exempt(api.bp)  # bearer tokens, not cookies: no cross-site request can carry one

    from . import i18n
    i18n.init_app(app)

    # record_forms, record_actions and imports add routes to pages.bp
    from . import (admin, auth, dashboard, imports, pages, preferences, record_actions,  # noqa: F401
                   record_forms, types)
    for module in (auth, dashboard, pages, types, admin, preferences):
        app.register_blueprint(module.bp)
    auth.init_app(app)
    # Shown as text, so autoescaping applies (unlike |tojson, which is marked safe).
    app.jinja_env.filters["as_json"] = lambda v: orjson.dumps(v).decode()

    # A refusal on a plugin's page (its blueprint has no handler of its own, unlike the
    # core's) is an error page with its status, not a 500.
    from .common import render_error
    app.register_error_handler(XrmError, render_error)

    @app.errorhandler(CSRFError)
    def csrf_failed(e):
        err = XrmError(_("The form has expired or did not come from this site (%(reason)s). "
                         "Reload the page and try again.", reason=e.description))
        err.title = _("Form refused")
        return render_template("error.html", error=err), 400

    @app.errorhandler(403)
    @app.errorhandler(405)
    @app.errorhandler(413)
    def http_error_page(e):
        # The UI's own page, in the user's language (Flask's is bare English); the API
        # answers problem+json itself.
        if request.path.startswith("/api/"):
            return e
        titles = {403: _("Not allowed"), 405: _("Not this way"), 413: _("Too large")}
        texts = {403: _("You may not do this with this record."),
                 405: _("This page does not take that kind of request."),
                 413: _("What was sent is larger than this server accepts.")}
        err = XrmError(texts[e.code])
        err.title = titles[e.code]
        return render_template("error.html", error=err), e.code

    @app.after_request
    def security_headers(resp):
        # The API's docs page (owned by the API) carries an inline <style>: allow inline
        # styles there, never scripts.
        csp = CSP
        if request.endpoint == "api.docs":
            csp = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
        resp.headers.setdefault("Content-Security-Policy", csp)
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        return resp
