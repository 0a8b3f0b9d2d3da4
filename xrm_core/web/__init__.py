"""The web application: REST API and admin UI, built by ``create_app``."""
from __future__ import annotations

import os
import secrets

from flask import Flask


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
    if platform is None:
        from ..platform import Platform
        platform = Platform(app.config.get("DATABASE_URL"))
    app.extensions["xrm"] = platform

    from ..plugins import call_hook
    from . import api
    app.register_blueprint(api.bp)
    from . import ui
    ui.init_app(app)  # CSRF (API exempt), languages, cookies, security headers, UI pages
    call_hook(platform.pm, "xrm_flask_app", app=app)  # a crash names its plugin
    return app
