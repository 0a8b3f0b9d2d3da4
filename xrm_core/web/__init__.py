"""The web application: REST API and admin UI, built by ``create_app``."""
from __future__ import annotations

import os
import secrets

from flask import Blueprint, Flask


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
    busy …; nothing was saved; try again", status 503 — not "internal server error". Any
    other database error is raised again: logged, a 500."""
    from sqlalchemy.exc import DBAPIError

    from ..db import busy_error
    from .ui.common import render_error

    @app.errorhandler(DBAPIError)
    def database_busy(e):
        busy = busy_error(e)
        if busy is None:
            raise e
        return render_error(busy)


def _trust_proxies(app: Flask) -> None:
    """``XRM_PROXY_HOPS=N``: the app stands behind N reverse proxies that set
    ``X-Forwarded-For`` and ``X-Forwarded-Proto``; the client's address and scheme are read
    from them (werkzeug's ProxyFix), so login throttling counts each client, not the
    balancer. 0 (the default) trusts no such header: a client could write any address in it.
    """
    hops = check_proxy_hops(app.config.get("PROXY_HOPS", 0))
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)


def check_proxy_hops(hops) -> int:
    """``hops`` if it is a number of proxies (0 to 10), else ValueError saying so
    (``xrm serve`` checks ``XRM_PROXY_HOPS`` before it starts any worker)."""
    if type(hops) is not int or not 0 <= hops <= 10:
        raise ValueError(f"XRM_PROXY_HOPS must be the number of reverse proxies in front of xrm (0 to 10), "
                         f"not {hops!r}")
    return hops
