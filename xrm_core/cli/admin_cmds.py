"""``xrm init``, ``plugins``, ``units``, ``users``, ``roles`` and ``tokens``."""
from __future__ import annotations

import click

from ..errors import NotFound, ValidationError
from ..plugins import list_plugins
from .context import admin_as_option, emit_json, json_option, label_text, one_line, pass_ctx, table

# The commands import the platform modules they use (``accounts``: SQLAlchemy, argon2) when
# they run, so that `xrm --help` and every other command start without them.


def register(cli: click.Group) -> None:
    for cmd in (init, plugins, units, users, roles, tokens):
        cli.add_command(cmd)


def _require_admin(c, as_user):
    """Administration commands act as an admin; refuse other users clearly."""
    with c.admin_connection(as_user):
        pass


@click.command(short_help="Create or upgrade the database, sync plugins, create 'admin'.")
@click.option("--admin-password", metavar="P", help="Set the password of the 'admin' user (at least 8 "
              "characters: XRM_MIN_PASSWORD_LENGTH).")
@json_option
@pass_ctx
def init(c, admin_password, as_json):
    """Create or upgrade the database, sync plugin definitions, create 'admin'.

    The password must have at least 8 characters (XRM_MIN_PASSWORD_LENGTH)."""
    if admin_password:  # (an empty one sets none, as before)
        from .. import accounts
        accounts.check_password(admin_password)  # before anything is migrated or written
    report = c.open_platform().init(admin_password=admin_password)
    if as_json:
        emit_json(report)
        return
    was = report["migrated_from"]
    click.echo(f"database {report['database']}: "
               + ("created" if was is None else "up to date" if was == report["revision"] else f"upgraded from {was}")
               + f" (revision {report['revision']})")
    if report["types_added"]:
        click.echo(f"entity types added: {', '.join(report['types_added'])}")
    if report["types_updated"]:
        click.echo(f"entity types updated: {', '.join(report['types_updated'])}")
    if report["types_kept"]:
        click.echo(f"entity types kept as an admin changed them (their plugins declare them as before): "
                   f"{', '.join(report['types_kept'])}")
    if report["types_overridden"]:
        # An admin's change to the plugin's type, or a type an admin made that a newly
        # installed plugin declares under the same name: either way the admin's version.
        click.echo(f"warning: a plugin's definition replaced the admin's version of: "
                   f"{', '.join(report['types_overridden'])} (the admin's version stays in the type's history; "
                   "apply the change again with `xrm types update`)", err=True)
    for warning in report["warnings"]:
        click.echo(f"warning: {warning}", err=True)
    if report["reltypes_added"]:
        click.echo(f"relationship types added: {', '.join(report['reltypes_added'])}")
    if report["reltypes_updated"]:
        click.echo(f"relationship types updated: {', '.join(report['reltypes_updated'])}")
    click.echo(f"relationship types: {report['reltypes']}, activity kinds: {report['activity_kinds']}, "
               f"roles: {report['roles']}")
    if report["admin_created"]:
        click.echo("user 'admin' created" + ("" if admin_password else
                                             " without a password (set one with --admin-password)"))
    elif admin_password:
        click.echo("password of 'admin' set")


@click.group()
def plugins():
    """Installed plugins."""


@plugins.command("list")
@json_option
@pass_ctx
def plugins_list(c, as_json):
    """Plugins registered through the xrm.plugins entry points."""
    items = list_plugins(c.pm)
    if as_json:
        emit_json(items)
        return
    table([[p["name"], p["distribution"] or "", p["version"] or "", ", ".join(h.removeprefix("xrm_") for h in p["hooks"])]
           for p in items], ["NAME", "DISTRIBUTION", "VERSION", "HOOKS"])


@click.group(short_help="Organisational units: a tree (HQ → region → branch…).")
def units():
    """Organisational units (a tree: HQ → region → branch…)."""


@units.command("create")
@click.argument("name")
@click.option("--parent", metavar="NAME", help="Parent unit (default: root).")
@admin_as_option
@json_option
@pass_ctx
def units_create(c, name, parent, as_user, as_json):
    """Create a unit."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        u = accounts.create_unit(conn, name, parent)
    if as_json:
        emit_json(u)
    else:
        click.echo(f"unit {name!r} created under {u['parent']!r}")


@units.command("list")
@admin_as_option
@json_option
@pass_ctx
def units_list(c, as_user, as_json):
    """The unit tree."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        items = accounts.list_units(conn)
    if as_json:
        emit_json(items)
        return
    for u in items:
        # one line per unit, even for a name holding a line break
        click.echo("  " * max(u["depth"], 0) + one_line(u["name"]))


@click.group()
def users():
    """Users: each belongs to one unit and has roles."""


@users.command("create")
@click.argument("name")
@click.option("--unit", required=True, metavar="U", help="The user's unit.")
@click.option("--role", "roles_", multiple=True, metavar="R", help="Role (repeatable).")
@click.option("--password", metavar="P", help="Password for the admin UI, at least 8 characters "
              "(XRM_MIN_PASSWORD_LENGTH; without one the user cannot log in there until `xrm users set-password`; "
              "API tokens still work).")
@click.option("--admin", "is_admin", is_flag=True, help="May administer types, units, users and roles.")
@click.option("--time-zone", metavar="ZONE", help="The IANA time zone (Asia/Tehran) the admin UI shows and reads "
              "the user's times in; without one, the browser's zone, else the server's default "
              "(`xrm users set-time-zone` changes it). The --json output then has \"time_zone\".")
@admin_as_option
@json_option
@pass_ctx
def users_create(c, name, unit, roles_, password, is_admin, time_zone, as_user, as_json):
    """Create a user."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        u = accounts.create_user(conn, name, unit, list(roles_), password, is_admin, time_zone=time_zone)
    if as_json:
        u.pop("id", None)
        emit_json(u)
    else:
        roles_given = f" with roles {', '.join(u['roles'])}" if u["roles"] else ""
        click.echo(f"user {name!r} created in {unit!r}{roles_given}")


@users.command("list")
@admin_as_option
@json_option
@pass_ctx
def users_list(c, as_user, as_json):
    """Users with unit and roles."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        items = accounts.list_users(conn)
    if as_json:
        emit_json(items)
        return
    table([[u["name"], u["unit"], ", ".join(u["roles"]), "yes" if u["is_admin"] else "",
            "yes" if u["active"] else "no"] for u in items],
          ["NAME", "UNIT", "ROLES", "ADMIN", "ACTIVE"])


@users.command("grant-role")
@click.argument("user")
@click.argument("role")
@admin_as_option
@pass_ctx
def users_grant_role(c, user, role, as_user):
    """Give USER the role ROLE."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        accounts.assign_role(conn, user, role)
    click.echo(f"{user!r} now has role {role!r}")


@users.command("revoke-role")
@click.argument("user")
@click.argument("role")
@admin_as_option
@pass_ctx
def users_revoke_role(c, user, role, as_user):
    """Take the role ROLE from USER."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        had = accounts.revoke_role(conn, user, role)
    click.echo(f"{user!r} no longer has role {role!r}" if had else f"{user!r} did not have role {role!r}")


@users.command("set-password", short_help="Set USER's password.")
@click.argument("user")
@click.option("--password", metavar="P", help="The new password, at least 8 characters "
              "(XRM_MIN_PASSWORD_LENGTH; asked for, hidden, when left out).")
@admin_as_option
@pass_ctx
def users_set_password(c, user, password, as_user):
    """Set USER's password; the user's open admin UI sessions end (API tokens stay)."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        accounts.set_password(conn, user, _new_password(password))
    click.echo(f"password of {user!r} set")


def _new_password(given: str | None) -> str:
    """The password given, else asked for (hidden, twice), saying the policy's minimum."""
    if given is not None:
        return given
    import warnings  # local: only when asking
    from getpass import GetPassWarning

    from .. import accounts
    least = accounts.min_password_length()
    with warnings.catch_warnings():
        # Without a terminal (the password piped in) getpass warns with its own file and
        # line; click's prompt already says "Password input may be echoed".
        warnings.simplefilter("ignore", GetPassWarning)
        return click.prompt(f"New password (at least {least} characters)", hide_input=True,
                            confirmation_prompt=True, err=True)


@users.command("deactivate", short_help="Refuse USER every login and request.")
@click.argument("user")
@admin_as_option
@pass_ctx
def users_deactivate(c, user, as_user):
    """Refuse USER every login and request, and revoke its tokens and UI sessions (its records stay)."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        n = accounts.set_active(conn, user, False)
    click.echo(f"user {user!r} deactivated; {n} token(s) and UI session(s) revoked")


@users.command("activate", short_help="Let a deactivated USER log in again.")
@click.argument("user")
@admin_as_option
@pass_ctx
def users_activate(c, user, as_user):
    """Let a deactivated USER log in again (with new tokens: the old ones stay revoked)."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        accounts.set_active(conn, user, True)
    click.echo(f"user {user!r} activated")


@users.command("set-time-zone", short_help="Set or clear USER's own time zone.")
@click.argument("user")
@click.argument("zone", required=False)
@admin_as_option
@pass_ctx
def users_set_time_zone(c, user, zone, as_user):
    """Show and read USER's times in the admin UI in ZONE, an IANA name (Asia/Tehran, UTC).
    Without ZONE the user's own zone is cleared: the browser's zone is used, else the
    server's default (XRM_BABEL_DEFAULT_TIMEZONE, else UTC)."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        stored = accounts.set_time_zone(conn, user, zone)
    if stored:
        click.echo(f"user {user!r} now sees times in {stored}")
    else:
        click.echo(f"user {user!r} has no time zone of its own now (the browser's, else the server's)")


@users.command("move", short_help="Move USER to another unit.")
@click.argument("user")
@click.option("--unit", required=True, metavar="U", help="The user's new unit.")
@admin_as_option
@pass_ctx
def users_move(c, user, unit, as_user):
    """Move USER to unit U: its unit and subtree scope follow; its records keep their unit."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        accounts.move_user(conn, user, unit)
    click.echo(f"user {user!r} moved to {unit!r}")


@click.group(short_help="Roles and their grants.")
def roles():
    """Roles and their grants (type, actions, depth own/unit/subtree/all)."""


@roles.command("list")
@admin_as_option
@json_option
@pass_ctx
def roles_list(c, as_user, as_json):
    """Roles with grants."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        items = accounts.list_roles(conn)
    if as_json:
        emit_json(items)
        return
    for r in items:
        click.echo(f"{r['name']}  ({one_line(label_text(r['label'])) or '-'}; from {r['source']})")
        for g in r["grants"]:
            click.echo(f"    {g['type']}: {','.join(g['actions'])} @ {g['depth']}")


@roles.command("create")
@click.argument("name")
@click.option("--label", help="Human-readable name, shown by `xrm roles list`.")
@admin_as_option
@pass_ctx
def roles_create(c, name, label, as_user):
    """Create an empty role."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        accounts.create_role(conn, name, label)
    click.echo(f"role {name!r} created")


@roles.command("grant")
@click.argument("role")
@click.argument("type_", metavar="TYPE")
@click.argument("actions")
@click.option("--depth", required=True, type=click.Choice(["own", "unit", "subtree", "all"]),
              help="Which records: the user's own, its unit's, its unit's subtree, or all.")
@admin_as_option
@pass_ctx
def roles_grant(c, role, type_, actions, depth, as_user):
    """Grant ACTIONS (comma list: read,create,update,delete) on TYPE (or *) to ROLE."""
    from .. import accounts, entity_types
    with c.admin_connection(as_user) as conn:
        g = accounts.grant(conn, role, type_, _actions(actions), depth, set(entity_types.load_all(conn)))
        source = accounts.role_source(conn, role)
    click.echo(f"{role}: {','.join(g['actions'])} on {g['type']} @ {g['depth']}")
    _warn_plugin_role(source)


@roles.command("revoke")
@click.argument("role")
@click.argument("type_", metavar="TYPE")
@click.argument("actions")
@admin_as_option
@pass_ctx
def roles_revoke(c, role, type_, actions, as_user):
    """Take the grants of ACTIONS (comma list) on TYPE (or *) from ROLE."""
    from .. import accounts, entity_types
    with c.admin_connection(as_user) as conn:
        gone = accounts.revoke_grant(conn, role, type_, _actions(actions))
        if not gone and type_ != "*" and type_ not in entity_types.load_all(conn):
            raise NotFound(f"unknown entity type {type_!r}")  # a typo, not "no such grant"
        source = accounts.role_source(conn, role)
    click.echo(f"{role}: {','.join(gone)} on {type_} revoked" if gone else f"{role} had no such grant on {type_}")
    _warn_plugin_role(source)


def _actions(actions: str) -> list[str]:
    """The actions of a comma list (spaces around each allowed); an empty item is refused:
    "read,,update" most likely lost an action."""
    items = [a.strip() for a in actions.split(",")]
    if "" in items and any(items):
        raise ValidationError(f"ACTIONS {actions!r} has an empty item: give a comma list such as read,update")
    return [a for a in items if a]


def _warn_plugin_role(source: str | None) -> None:
    if source not in (None, "admin"):
        click.echo(f"note: this role comes from {source!r}; `xrm init` sets its grants back to {source!r}'s "
                   "definition", err=True)


@click.group()
def tokens():
    """API tokens (stored hashed; shown once)."""


@tokens.command("create")
@click.argument("user")
@click.option("--label", help="What the token is for.")
@click.option("--expires-in", "expires_in", type=click.IntRange(1, 36500), metavar="DAYS",
              help="The token stops working DAYS days from now.")
@click.option("--expires", "expires_on", type=click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S"]), metavar="DATE",
              help="The token stops working at DATE, UTC (YYYY-MM-DD: at 00:00 that day; or "
                   "YYYY-MM-DDTHH:MM:SS).")
@admin_as_option
@pass_ctx
def tokens_create(c, user, label, expires_in, expires_on, as_user):
    """Create a token for USER and print it alone on stdout.

    Without --expires-in or --expires it never expires, unless XRM_TOKEN_MAX_DAYS is set:
    then it lives that many days, and no token may live longer. An expired token is refused
    like a revoked one; `xrm tokens list` shows when each expires."""
    from .. import accounts
    if expires_in is not None and expires_on is not None:
        raise click.UsageError("give --expires-in or --expires, not both")
    with c.admin_connection(as_user) as conn:
        click.echo(accounts.create_token(conn, user, label, expires_in, expires_on))


@tokens.command("list")
@click.argument("user", required=False)
@admin_as_option
@json_option
@pass_ctx
def tokens_list(c, user, as_user, as_json):
    """API tokens (of USER, else of everyone): label, created, expires, revoked, status.

    Never the token itself (it is shown once, at creation) nor its hash; admin UI sessions
    are not listed."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        items = accounts.list_tokens(conn, user)
    if as_json:
        emit_json(items)
        return
    table([[t["user"], t["label"] or "", _minute(t["created_at"]), _minute(t["expires_at"]) or "never",
            _minute(t["revoked_at"]), t["status"]] for t in items],
          ["USER", "LABEL", "CREATED", "EXPIRES", "REVOKED", "STATUS"])


def _minute(stamp: str | None) -> str:
    """A stored stamp to the minute, for a table (``2026-11-26 18:20Z``); '' for None."""
    return f"{stamp[:10]} {stamp[11:16]}Z" if stamp else ""


@tokens.command("revoke")
@click.argument("user")
@admin_as_option
@pass_ctx
def tokens_revoke(c, user, as_user):
    """Revoke every token of USER."""
    from .. import accounts
    with c.admin_connection(as_user) as conn:
        n = accounts.revoke_tokens(conn, user)
    click.echo(f"{n} token(s) revoked")
