"""Helpers shared by the UI blueprints: the platform, acting as the logged-in user, errors."""
from __future__ import annotations

from contextlib import contextmanager
from functools import wraps

from flask import Blueprint, abort, current_app, g, render_template, url_for
from flask_babel import gettext as _

from ...errors import AuthenticationError, XrmError


def platform():
    return current_app.extensions["xrm"]


@contextmanager
def acting(write: bool = False):
    """A Session as the logged-in user: the page sees exactly what the API shows them.

    Public as ``xrm_core.user_session`` for plugin pages. Raises AuthenticationError on a
    page served without a login (:func:`login_exempt`), where there is no user to act as.
    """
    user = g.get("user")
    if user is None:
        raise AuthenticationError("no user is logged in on this page")
    with platform().session(user, write=write) as s:
        yield s


def login_exempt(view):
    """Mark a view as served without a login (a public form, a webhook that checks its own
    signature). Every other page of the app, a plugin's included, needs a logged-in user.

    Public as ``xrm_core.login_exempt``.
    """
    view.xrm_login_exempt = True
    return view


def admin_required(view):
    """Refuse (403) anyone but an administrator."""
    @wraps(view)
    def wrapped(*args, **kwargs):
        if not g.get("is_admin"):
            abort(403)
        return view(*args, **kwargs)
    return wrapped


def _titles() -> dict:
    """The core errors' titles (English, as the API's problem documents carry them) in the
    UI's language: a Persian page was headed "Not found"."""
    return {"Bad request": _("Bad request"), "Validation failed": _("Not valid"),
            "Invalid definition": _("Invalid definition"), "Not found": _("Not found"),
            "Forbidden": _("Not allowed"), "Conflict": _("Conflict"),
            "Precondition failed": _("Changed meanwhile"), "Unauthorized": _("Not logged in"),
            "Plugin failed": _("A plugin failed"), "Database busy": _("Database busy"),
            "Database unavailable": _("Database unavailable")}


def render_error(e: XrmError):
    """An XrmError as a page with its HTTP status and every pointer it names, headed and
    explained in the user's language (a plugin's own title is shown as written); on a page
    in another language the core's English message follows as the detail."""
    from ...db import busy_error
    from .core_messages import explain  # it imports i18n, which imports this module
    e = busy_error(e) or e  # a plugin's hook that met a deadlock: the database was busy
    title = _titles().get(e.title, e.title)
    said = explain(e)
    if said.detail is None:  # English: the core's message is the text; a 404 says what it means
        hint = _("It does not exist, or it is outside what you may see.") if e.status == 404 else None
    else:
        hint = said.text
    # An error the UI has worded itself (never_held.NeverHeld) shows its own items.
    items = getattr(e, "said_items", None) or said.items
    return render_template("error.html", error=e, title=title, hint=hint, detail_lang="en" if said.detail else None,
                           items=items), e.status


def blueprint(name: str, import_name: str, **kw) -> Blueprint:
    """A UI blueprint whose XrmErrors become error pages (404 outside scope, 403, 422…)."""
    bp = Blueprint(name, import_name, **kw)
    bp.register_error_handler(XrmError, render_error)
    return bp


def safe_next(target: str | None) -> str:
    """``target`` if it is a local path, else the dashboard: no open redirect. Control
    characters and spaces are refused too — a client drops a tab, so ``/\t/evil.com``
    became ``//evil.com``."""
    if (target and target.startswith("/") and not target.startswith("//") and "\\" not in target
            and target.isprintable() and " " not in target):
        return target
    return url_for("dashboard.index")
