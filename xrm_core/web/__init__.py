"""The web application: REST API and admin UI, built by ``create_app``."""
from __future__ import annotations

import os
import secrets

from flask import Blueprint, Flask, request


def create_app(platform=None, test_config: dict | None = None) -> Flask:
    """Build the Flask app for ``platform`` (default: one opened from ``XRM_DATABASE_URL``).

    Settings come from ``XRM_*`` environment variables (``XRM_SECRET_KEY``…) and
    ``test_config``. Plugins add pages through ``xrm_flask_app(app)``.
    """
    app = Flask(__name__)
    app.config.from_mapping(SECRET_KEY=os.environ.get("XRM_SECRET_KEY") or secrets.token_hex(32),
                            JSON_SORT_KEYS=False, API_MAX_LIMIT=1000, API_DEFAULT_LIMIT=50,
                            # Largest request body read (XRM_MAX_CONTENT_LENGTH): bigger ones are
                            # refused with 413 before being read, so no client can make a worker
                            # buffer and parse an arbitrarily large document.
                            MAX_CONTENT_LENGTH=16 * 1024 * 1024)
    app.config.from_prefixed_env("XRM")
    if test_config:
        app.config.update(test_config)
    check_settings(app.config)
    _trust_proxies(app)
    if platform is None:
        from ..platform import Platform
        platform = Platform(app.config.get("DATABASE_URL"))
    app.extensions["xrm"] = platform

    from ..plugins import call_registering_hook
    from . import api
    app.register_blueprint(api.bp)
    from . import ui
    ui.init_app(app)  # CSRF (API exempt), languages, cookies, security headers, UI pages
    _busy_database_pages(app)
    # a crash names its plugin; so does a blueprint returned instead of registered
    call_registering_hook(platform.pm, "xrm_flask_app", (Blueprint,),
                          "register it with app.register_blueprint(BLUEPRINT)", app=app)
    return app


def _busy_database_pages(app: Flask) -> None:
    """A deadlock, serialization failure or lock timeout on a UI page (the API answers its
    own 503) is the error page of :class:`~xrm_core.errors.DatabaseBusy` — "the database is
    busy …; nothing was saved; try again", status 503 — not "internal server error"; so is a
    database that cannot be reached (:class:`~xrm_core.db.DatabaseUnavailable`). Any other
    database error is raised again: logged, a 500."""
    from sqlalchemy.exc import DBAPIError

    from ..db import DatabaseUnavailable, busy_error, unavailable_error
    from .ui.common import render_error

    @app.errorhandler(DBAPIError)
    def database_busy(e):
        busy = busy_error(e) or unavailable_error(e)
        if busy is None:
            raise e
        if isinstance(busy, DatabaseUnavailable):  # the operator's business: say so in the log
            app.logger.warning("%s %s: the database cannot be reached: %s", request.method, request.path,
                               busy.reason)
        return render_error(busy)


#: Numeric settings (``XRM_`` + name) read while serving requests: what each must be, and
#: the least value. A value that is no such number used to start the server and then fail
#: every request that read it with a 500 (``XRM_API_AUTH_CACHE_SECONDS=two``: every API call).
_NUMBERS = {
    "API_AUTH_CACHE_SECONDS": ("a number of seconds (0 or more)", float, 0),
    "API_MAX_LIMIT": ("a whole number (1 or more)", int, 1),  # before the default, checked against it
    "API_DEFAULT_LIMIT": ("a whole number from 1 to API_MAX_LIMIT", int, 1),
    "MAX_CONTENT_LENGTH": ("a number of bytes (1 or more)", int, 1),
    "LOGIN_MAX_FAILURES": ("a whole number (1 or more)", int, 1),
    "LOGIN_WINDOW_SECONDS": ("a number of seconds (0 or more)", float, 0),
}


def check_settings(config) -> None:
    """Refuse, with ValueError naming the environment variable, a numeric setting of
    :data:`_NUMBERS` that is not a number of its kind, and a bad ``XRM_PROXY_HOPS``.
    ``create_app`` calls it, and ``xrm serve`` before it starts anything, so a typo in a
    setting stops the server at once instead of failing requests."""
    for name, (what, kind, least) in _NUMBERS.items():
        if name not in config or (name == "MAX_CONTENT_LENGTH" and config[name] is None):  # None: no limit
            continue
        value = config[name]
        # bool is an int to Python, and XRM_X=true reads as True; a float setting takes an int.
        ok = (not isinstance(value, bool) and isinstance(value, (int, float) if kind is float else int)
              and value == value and value >= least)  # value == value: not NaN
        if ok and name == "API_DEFAULT_LIMIT":
            ok = value <= config.get("API_MAX_LIMIT", value)
        if not ok:
            raise ValueError(f"XRM_{name} must be {what}, not {value!r}")
    check_proxy_hops(config.get("PROXY_HOPS", 0))


def _trust_proxies(app: Flask) -> None:
    """``XRM_PROXY_HOPS=N``: the app stands behind N reverse proxies that set
    ``X-Forwarded-For`` and ``X-Forwarded-Proto`` (and ``X-Forwarded-Host``, if they send
    another ``Host`` upstream); the client's address, scheme and host are read from them
    (werkzeug's ProxyFix), so login throttling counts each client, not the balancer, and
    the UI's forms over HTTPS pass the CSRF check of the Referer against the host. 0 (the
    default) trusts no such header: a client could write any address in it.
    """
    hops = check_proxy_hops(app.config.get("PROXY_HOPS", 0))
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix
        # Not X-Forwarded-Port: a proxy saying 443 made the host "name:443", which no
        # browser's Referer names, failing the CSRF check it is there to pass.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def check_proxy_hops(hops) -> int:
    """``hops`` if it is a number of proxies (0 to 10), else ValueError saying so
    (``xrm serve`` checks ``XRM_PROXY_HOPS`` before it starts any worker)."""
    if type(hops) is not int or not 0 <= hops <= 10:
        raise ValueError(f"XRM_PROXY_HOPS must be the number of reverse proxies in front of xrm (0 to 10), "
                         f"not {hops!r}")
    return hops
