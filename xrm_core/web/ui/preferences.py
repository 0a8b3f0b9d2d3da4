"""The logged-in user's own preferences: the time zone the UI shows and reads times in.

Without a zone of their own, users see the browser's (``time-zone.js`` tells the server in a
cookie), else the server's default (``XRM_BABEL_DEFAULT_TIMEZONE``, else UTC); see
:mod:`.i18n`. Administrators set a user's zone from the CLI too (``xrm users create
--time-zone``, ``xrm users set-time-zone``).
"""
from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ... import accounts
from ...errors import ValidationError
from . import i18n
from .common import blueprint, platform
from .form_errors import FormErrors

bp = blueprint("preferences", __name__)


def _render(own: str | None, chosen: str, errors: FormErrors, status: int = 200):
    return render_template("preferences.html", zones=accounts.time_zones(), own=own, chosen=chosen, errors=errors,
                           browser=i18n.browser_zone(), source=i18n.zone_source(), shown=i18n.zone_name()), status


@bp.route("/preferences", methods=["GET", "POST"])
def index():
    """Show (GET) or save (POST, CSRF-protected) the user's own time zone; an empty choice
    clears it. A zone the server does not know is refused, naming it, and nothing changes."""
    errors = FormErrors("prefs", {"time_zone": _("Time zone")})
    with platform().connection() as conn:
        own = accounts.time_zone_of(conn, g.user)
    if request.method == "GET":
        return _render(own, own or "", errors)
    chosen = request.form.get("time_zone", "").strip()
    try:
        with platform().connection() as conn:
            accounts.set_time_zone(conn, g.user, chosen or None)
    except ValidationError:
        errors.add(_("%(zone)s is no time zone this server knows: choose one from the list.", zone=chosen),
                   "time_zone")
        return _render(own, chosen, errors, 422)
    flash(_("Preferences saved."), "ok")
    return redirect(url_for("preferences.index"))
