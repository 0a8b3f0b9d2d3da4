"""Administration pages (administrators only): units, users, roles with grants, API tokens."""
from __future__ import annotations

import hashlib
from collections import Counter

import orjson
from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ... import accounts, entity_types
from ...errors import Conflict, NotFound, ValidationError, XrmError
from ...plugins import call_each
from ...scope import ACTIONS, DEPTHS
from .common import admin_required, blueprint, platform
from . import listing
from .form_errors import FormErrors
from .i18n import tr

bp = blueprint("admin", __name__, url_prefix="/admin")
bp.before_request(admin_required(lambda: None))


#: Where the app keeps the roles' descriptions (see :func:`role_descriptions`).
ROLE_DESCRIPTIONS = "xrm.ui.role_descriptions"


def role_descriptions() -> dict[str, tuple[object, str]]:
    """``{role: (description, plugin)}`` of the roles plugins declare with a description.

    The database keeps a role's label and grants, not its description: it is what the
    plugins' ``xrm_roles`` return, read once per app (plugins change only with a restart,
    which ``xrm init`` needs anyway). The first plugin that describes a role says it, as
    the first label is the one stored (``Platform._merge_roles``)."""
    cached = current_app.extensions.get(ROLE_DESCRIPTIONS)
    if cached is None:
        cached = {}
        for plugin, defs in call_each(platform().pm, "xrm_roles"):
            for d in defs or []:
                if isinstance(d, dict) and isinstance(d.get("name"), str) and d.get("description"):
                    cached.setdefault(d["name"], (d["description"], plugin))
        current_app.extensions[ROLE_DESCRIPTIONS] = cached
    return cached


def _with_descriptions(roles: list[dict]) -> list[dict]:
    """``roles`` (``accounts.list_roles``) each with its ``description`` in the UI's language
    ("" when it has none), translated by the plugin that declared it."""
    known = role_descriptions()
    out = []
    for r in roles:
        text, plugin = known.get(r["name"], ("", None))
        out.append({**r, "description": tr(text, "", plugin) if text else ""})
    return out


def _done(message: str, endpoint: str):
    flash(message, "ok")
    return redirect(url_for(endpoint))


@bp.route("/units", methods=["GET", "POST"])
def units():
    errors, status = FormErrors("unit", {"name": _("Name"), "parent": _("Parent")}), 200
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        try:
            with platform().connection() as conn:
                accounts.create_unit(conn, name, request.form.get("parent") or None)
        except XrmError as e:  # a taken or bad name: said at its input, the form keeps it
            errors.refused(e, at={Conflict: "name", ValidationError: "name", NotFound: "parent"})
            status = e.status
        else:
            return _done(_("Unit %(name)s created.", name=name), "admin.units")
    with platform().connection() as conn:
        rows = accounts.list_units(conn)
        members = Counter(u["unit"] for u in accounts.list_users(conn))
    for row in rows:
        row["users"] = members.get(row["name"], 0)
    return render_template("admin/units.html", units=rows, errors=errors, form=request.form), status


@bp.route("/users", methods=["GET", "POST"])
def users():
    errors = FormErrors("user", {"name": _("Name"), "unit": _("Unit"), "roles": _("Roles"),
                                 "password": _("Password")})
    status = 200
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        try:
            with platform().connection() as conn:
                accounts.create_user(conn, name, request.form.get("unit", ""), request.form.getlist("roles"),
                                     request.form.get("password") or None)
        except XrmError as e:  # a taken name, a bad password: the form keeps what was typed
            errors.refused(e, at={Conflict: "name", ValidationError: "name", NotFound: "unit"})
            status = e.status
        else:
            return _done(_("User %(name)s created.", name=name), "admin.users")
    # ``?unit=NAME``: the users of one unit (the units page links each unit's count here).
    unit = request.args.get("unit") or None
    with platform().connection() as conn:
        roles = _with_descriptions(accounts.list_roles(conn))
        everyone = accounts.list_users(conn)
        units = accounts.list_units(conn)
        if status == 200 and unit is not None and unit not in {u["name"] for u in units}:
            status = 404  # said on the page, which still lists no one and offers the form
        return render_template("admin/users.html", errors=errors, unit=unit,
                               users=[u for u in everyone if unit is None or u["unit"] == unit],
                               form=request.form, units=units, roles=roles,
                               role_label=_role_labels(roles)), status


def _role_labels(roles: list[dict]) -> dict[str, str]:
    """``{role: label}`` in the UI's language (the declaring plugin's catalogue; the name
    when the role has no label): the users list showed the roles' names ("unit_manager")."""
    return {r["name"]: tr(r["label"], r["name"], r["source"]) for r in roles}


def _state(user: dict) -> str:
    """A digest of what the user page edits (unit, roles, active), carried by the form: a
    user has no version, and two administrators saving the same user would otherwise have
    the second silently undo the first's changes."""
    seen = orjson.dumps({"unit": user["unit"], "roles": sorted(user["roles"]), "active": user["active"],
                         "time_zone": user.get("time_zone")})
    return hashlib.sha256(seen).hexdigest()[:32]


def _user_form() -> FormErrors:
    return FormErrors("edit", {"unit": _("Unit"), "roles": _("Roles"), "active": _("Active"),
                               "time_zone": _("Time zone"), "password": _("New password")})


def _get_user(conn, name: str, lock: bool = False) -> dict:
    """The user the page edits: :func:`accounts.get_user` with the user's own ``time_zone``."""
    current = accounts.get_user(conn, name, lock=lock)
    return {**current, "time_zone": accounts.time_zone_of(conn, name)}


def _render_user(conn, user: dict, state: str, errors: FormErrors):
    """The user page showing ``user`` (as stored, or as the refused form typed it)."""
    return render_template("admin/user.html", user=user, state=state, errors=errors, zones=accounts.time_zones(),
                           units=accounts.list_units(conn), roles=_with_descriptions(accounts.list_roles(conn)))


@bp.route("/users/<path:name>", methods=["GET", "POST"])
def user(name):
    """Edit one user: unit, roles, active, time zone, a new password — all in one transaction. A form
    built from a state that has changed since is refused (409) and shown again as it is now.
    A refused change (the last active administrator deactivated…) changes nothing and shows
    the form again as it was filled in, the error at its input."""
    try:
        return _edit_user(name)
    except XrmError as e:
        if request.method != "POST":
            raise
        form = request.form
        with platform().connection() as conn:
            current = _get_user(conn, name)  # an unknown user: a 404 page, as before
            typed = {**current, "unit": form.get("unit") or current["unit"], "roles": form.getlist("roles"),
                     "active": form.get("active") == "on", "time_zone": form.get("time_zone", current["time_zone"])}
            errors = _user_form().refused(e, at={Conflict: "active"})
            return _render_user(conn, typed, _state(current), errors), e.status


def _edit_user(name):
    if request.method == "POST":
        form = request.form
        with platform().connection() as conn:
            current = _get_user(conn, name, lock=True)
            # A form without the field (a page of an older release) is not checked.
            if form.get("state") is not None and form["state"] != _state(current):
                refused = _("Not saved: someone else changed this user since you opened the page. This is "
                            "the user as it is now: make your changes again.")
                return _render_user(conn, current, _state(current), _user_form().add(refused)), 409
            # The time zone first: an unknown one is refused before anything changes. A form
            # without the field (an older page) leaves the zone as it is.
            zone = form.get("time_zone")
            if zone is not None and zone.strip() and not accounts.known_time_zone(zone.strip()):
                typed = {**current, "unit": form.get("unit") or current["unit"], "roles": form.getlist("roles"),
                         "active": form.get("active") == "on", "time_zone": zone}
                errors = _user_form().add(_("%(zone)s is no time zone this server knows: choose one from the list.",
                                            zone=zone.strip()), "time_zone")
                return _render_user(conn, typed, _state(current), errors), 422
            if form.get("unit") and form["unit"] != current["unit"]:
                accounts.move_user(conn, name, form["unit"])
            wanted = set(form.getlist("roles"))
            for role in sorted(wanted - set(current["roles"])):
                accounts.assign_role(conn, name, role)
            for role in sorted(set(current["roles"]) - wanted):
                accounts.revoke_role(conn, name, role)
            active = form.get("active") == "on"
            if active != current["active"]:
                accounts.set_active(conn, name, active)
            if zone is not None and (accounts.known_time_zone(zone.strip()) or None) != current["time_zone"]:
                accounts.set_time_zone(conn, name, zone.strip() or None)
            if form.get("password"):
                accounts.set_password(conn, name, form["password"])
        return _done(_("User %(name)s saved.", name=name), "admin.users")
    with platform().connection() as conn:
        current = _get_user(conn, name)
        return _render_user(conn, current, _state(current), _user_form())


@bp.route("/roles", methods=["GET", "POST"])
def roles():
    errors, status = _role_forms(), 200
    if request.method == "POST":
        name = request.form.get("name", "").strip()
        try:
            with platform().connection() as conn:
                if request.form.get("action") == "grant":
                    known = set(entity_types.load_all(conn))
                    accounts.grant(conn, name, request.form.get("type", ""), request.form.getlist("actions"),
                                   request.form.get("depth", ""), known)
                    message = _("Granted.")
                else:
                    accounts.create_role(conn, name, request.form.get("label") or None)
                    message = _("Role %(name)s created.", name=name)
        except XrmError as e:  # no action ticked, a taken name: the form keeps what was chosen
            if request.form.get("action") == "grant":
                errors["grant"].refused(e, at={ValidationError: "actions"})
            else:
                errors["role"].refused(e, at={Conflict: "name", ValidationError: "name"})
            status = e.status
        else:
            return _done(message, "admin.roles")
    with platform().connection() as conn:
        # Each type by its label in the page's language, its name beside it (grants name it).
        loaded = entity_types.load_all(conn)
        types = {name: listing.type_label(loaded[name]) for name in sorted(loaded)}
        rows = _with_descriptions(accounts.list_roles(conn))
    return render_template("admin/roles.html", roles=rows, types=types, actions=ACTIONS, errors=errors,
                           form=request.form, depths=[d for d in DEPTHS if d != "none"],
                           grant_word=_grant_words()), status


def _role_forms() -> dict:
    """The roles page's two forms: a new role, and a grant."""
    return {"role": FormErrors("role", {"name": _("Name"), "label": _("Label")}),
            "grant": FormErrors("grant", {"name": _("Role"), "type": _("Type"), "actions": _("Actions"),
                                          "depth": _("Depth")})}


def _grant_words() -> dict:
    """The words of a grant's actions and depths in the UI's language (a Persian page listed
    "read, create · all"); English keeps the stored words, which the CLI and the role files
    use too. An unknown one is shown as stored."""
    return {"read": _("read"), "create": _("create"), "update": _("update"), "delete": _("delete"),
            "own": _("own"), "unit": _("unit"), "subtree": _("subtree"), "all": _("all")}


@bp.route("/tokens", methods=["GET", "POST"])
def tokens():
    """Create a token (shown once, with its expiry), revoke a user's tokens, and list the
    tokens (label, created, expires, revoked; never the token). A refused creation (a bad
    lifetime, a reserved label) is said at its input and changes nothing."""
    token, status = None, 200
    errors = FormErrors("token", {"user": _("User"), "label": _("Label"),
                                  "expires_in_days": _("Expires in (days)")})
    if request.method == "POST":
        user = request.form.get("user", "")
        try:
            with platform().connection() as conn:
                if request.form.get("action") == "revoke":
                    n = accounts.revoke_tokens(conn, user)
                    return _done(_("%(n)s tokens of %(user)s revoked.", n=n, user=user), "admin.tokens")
                token = accounts.create_token(conn, user, request.form.get("label") or None,
                                              _token_days(request.form.get("expires_in_days")))
        except XrmError as e:
            errors.refused(e, at={NotFound: "user", Conflict: "user"})
            status = e.status
    with platform().connection() as conn:
        users = accounts.list_users(conn)
        rows = accounts.list_tokens(conn)
    # The token is shown in this one response only; it is never stored in clear.
    resp = render_template("admin/tokens.html", users=users, token=token, tokens=rows, errors=errors,
                           form=request.form if token is None else {}, max_days=_token_max_days(),
                           token_user=request.form.get("user") if token else None)
    return resp, status, {"Cache-Control": "no-store"}


def _token_days(given: str | None) -> int | None:
    """The token form's "expires in (days)": None when left empty (no expiry, or the
    organisation's XRM_TOKEN_MAX_DAYS), else a whole number (ValidationError at
    ``/expires_in_days``; :func:`accounts.token_expiry` checks its range)."""
    given = (given or "").strip()
    if not given:
        return None
    if not given.isdecimal():  # any script's digits (a Persian page's too): int() reads them all
        raise ValidationError(f"a token's lifetime is a whole number of days, not {given!r}",
                              [{"pointer": "/expires_in_days", "message": "not an integer"}])
    return int(given)


def _token_max_days() -> int | None:
    """XRM_TOKEN_MAX_DAYS, for the form's hint; None when unset or not readable (creating a
    token then says what is wrong with the setting)."""
    try:
        return accounts.token_max_days()
    except XrmError:
        return None
