"""Units, users, roles, grants and API tokens — the administration of who sees what."""
from __future__ import annotations

import hashlib
import os
import secrets
import zoneinfo
from datetime import datetime, timedelta, timezone
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, func, insert, select

from . import db
from .errors import AuthenticationError, Conflict, NotFound, ValidationError
from .scope import ACTIONS, DEPTHS
from .validation import check_definition

# argon2id with the library's defaults (RFC 9106 low-memory profile).
_hasher = PasswordHasher()
ROOT_UNIT = "root"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


# -- password policy ----------------------------------------------------------------------
#: The fewest characters a new password may have (NIST SP 800-63B: at least 8 for a password
#: the user chooses). ``XRM_MIN_PASSWORD_LENGTH`` overrides it (see :func:`min_password_length`).
MIN_PASSWORD_LENGTH = 8
#: The most characters a new password may have: far beyond what NIST asks to allow (64), and
#: it keeps a huge form field from being hashed.
MAX_PASSWORD_LENGTH = 1024


def min_password_length() -> int:
    """The minimum length of a new password: ``XRM_MIN_PASSWORD_LENGTH`` if set (a whole
    number from 1 to 128), else :data:`MIN_PASSWORD_LENGTH`. Read on every call, so the CLI
    and every app process apply the organisation's setting; a bad value is refused (a
    ValidationError naming the variable) rather than silently ignored."""
    raw = os.environ.get("XRM_MIN_PASSWORD_LENGTH", "").strip()
    if not raw:
        return MIN_PASSWORD_LENGTH
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 128:
        raise ValidationError(f"the setting XRM_MIN_PASSWORD_LENGTH={raw!r} is not a whole number from 1 to 128")
    return int(raw)


def check_password(password: str) -> None:
    """Refuse a new password the policy does not allow (ValidationError at ``/password``):
    shorter than :func:`min_password_length` characters (Unicode characters, as typed; spaces
    count) or longer than :data:`MAX_PASSWORD_LENGTH`. Applies when a password is *set*;
    logging in with a stored older, shorter password keeps working."""
    if not password:
        raise ValidationError("the new password is empty", [{"pointer": "/password", "message": "empty"}])
    least = min_password_length()
    if len(password) < least:
        raise ValidationError(f"the password is too short: it needs at least {least} characters",
                              [{"pointer": "/password", "message": f"at least {least} characters"}])
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError(f"the password is too long: at most {MAX_PASSWORD_LENGTH} characters",
                              [{"pointer": "/password", "message": f"at most {MAX_PASSWORD_LENGTH} characters"}])


def verify_password(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationError(f"invalid {what} name {name!r}")
    if not name.isprintable() or name != name.strip():
        # A name is typed again (--as, --unit, the login form) and shown in tables: line
        # breaks, control characters and surrounding spaces make it one nobody can type.
        raise ValidationError(f"invalid {what} name {name!r}: no control characters, line breaks or "
                              "surrounding spaces", [{"pointer": "/name", "message": "not printable"}])


# -- units ------------------------------------------------------------------------------
#: Most characters of a unit's materialised path ("/1/4/9/"): the column's length.
_PATH_LENGTH = db.units.c.path.type.length

def create_unit(conn: Connection, name: str, parent: str | None = None, label=None) -> dict:
    """Create a unit under ``parent`` (default: the root unit)."""
    _check_name(name, "unit")
    if conn.execute(select(db.units.c.id).where(db.units.c.name == name)).first():
        raise Conflict(f"unit {name!r} already exists")
    parent_row = None
    if parent is not None or name != ROOT_UNIT:
        pname = parent or ROOT_UNIT
        parent_row = conn.execute(select(db.units.c.id, db.units.c.path).where(db.units.c.name == pname)).first()
        if parent_row is None:
            raise NotFound(f"unknown parent unit {pname!r}")
    res = conn.execute(insert(db.units).values(name=name, label=label, path="",
                                               parent_id=parent_row.id if parent_row else None,
                                               created_at=db.utcnow()))
    uid = res.inserted_primary_key[0]
    path = f"{parent_row.path if parent_row else '/'}{uid}/"
    if len(path) > _PATH_LENGTH:
        # PostgreSQL refuses the path with a database error, SQLite would store it: refuse
        # on both, naming the unit, and take the row back out (the caller may go on).
        conn.execute(delete(db.units).where(db.units.c.id == uid))
        levels = (parent_row.path if parent_row else "/").count("/")
        raise ValidationError(f"cannot create unit {name!r} under {parent or ROOT_UNIT!r}: the unit tree "
                              f"would be {levels} levels deep, more than its paths can hold "
                              f"({_PATH_LENGTH} characters)",
                              [{"pointer": "/parent", "message": "unit tree too deep"}])
    conn.execute(db.units.update().where(db.units.c.id == uid).values(path=path))
    return {"id": uid, "name": name, "parent": parent_row and (parent or ROOT_UNIT), "path": path}


def list_units(conn: Connection) -> list[dict]:
    U = db.units
    P = U.alias("p")
    rows = conn.execute(select(U.c.name, U.c.path, P.c.name.label("parent"))
                        .outerjoin(P, P.c.id == U.c.parent_id).order_by(U.c.path))
    return [{"name": r.name, "parent": r.parent, "depth": r.path.count("/") - 2} for r in rows]


# -- users ------------------------------------------------------------------------------
#: User names no account may take: ``system`` is the actor the platform's automations act as
#: (:meth:`xrm_core.Session.as_system`), named in every history entry they write. A user of
#: that name would write entries nobody could tell from the platform's own.
RESERVED_USER_NAMES = frozenset({"system"})


# -- time zones ---------------------------------------------------------------------------
#: The longest IANA zone name stored (the column's length; the longest real one has 32).
TIME_ZONE_LENGTH = db.users.c.time_zone.type.length


@cache
def _known_zones() -> dict[str, str]:
    """Every zone of the IANA database the system has (``/usr/share/zoneinfo`` or the
    ``tzdata`` package), by its case-folded name: a name is looked up here, never opened as
    a path (``ZoneInfo("../../etc/passwd")``), and typed in any case it is stored as the
    database spells it."""
    return {name.casefold(): name for name in zoneinfo.available_timezones()}


def time_zones() -> list[str]:
    """Every IANA zone name the server knows, sorted (Africa/Abidjan … Zulu)."""
    return sorted(_known_zones().values())


def known_time_zone(name) -> str | None:
    """The IANA spelling of zone ``name`` (``asia/tehran`` → ``Asia/Tehran``), or None
    when it is no known zone (or no text)."""
    if not isinstance(name, str) or not name or len(name) > TIME_ZONE_LENGTH:
        return None
    return _known_zones().get(name.casefold())


def check_time_zone(name) -> str | None:
    """A user's time zone as it is stored: its IANA spelling, or None for none (None or
    ""). Raises ValidationError naming a zone the IANA database does not know."""
    if name is None or name == "":
        return None
    zone = known_time_zone(name)
    if zone is None:
        raise ValidationError(f"unknown time zone {name!r}: give an IANA name such as 'Asia/Tehran' or 'UTC'",
                              [{"pointer": "/time_zone", "message": "unknown time zone"}])
    return zone


def set_time_zone(conn: Connection, name: str, zone: str | None) -> str | None:
    """Set (or, with None or "", clear) user ``name``'s time zone and return it as stored.
    Without one the admin UI uses the browser's zone, else the server's default. An unknown
    zone or user changes nothing (ValidationError, NotFound)."""
    zone = check_time_zone(zone)
    uid = _user_id(conn, name)
    conn.execute(db.users.update().where(db.users.c.id == uid).values(time_zone=zone))
    return zone


def time_zone_of(conn: Connection, name: str) -> str | None:
    """User ``name``'s own time zone (an IANA name), or None; NotFound if unknown."""
    row = conn.execute(select(db.users.c.time_zone).where(db.users.c.name == name)).first()
    if row is None:
        raise NotFound(f"unknown user {name!r}")
    return row.time_zone


def create_user(conn: Connection, name: str, unit: str, roles: list[str] = (), password: str | None = None,
                is_admin: bool = False, time_zone: str | None = None) -> dict:
    """Create user ``name`` in ``unit`` with ``roles``. Without a password (None or empty)
    the user cannot log in to the admin UI; a password must pass :func:`check_password`.
    ``time_zone``: the IANA zone the admin UI shows and reads the user's times in
    (:func:`check_time_zone`); the returned dict has ``"time_zone"`` only when one is given."""
    _check_name(name, "user")
    zone = check_time_zone(time_zone)
    if password:
        check_password(password)
    if name.casefold() in RESERVED_USER_NAMES:
        raise ValidationError(f"the user name {name!r} is reserved: the platform's automations act as "
                              f"{name.casefold()!r} in the history", [{"pointer": "/name", "message": "reserved"}])
    if conn.execute(select(db.users.c.id).where(db.users.c.name == name)).first():
        raise Conflict(f"user {name!r} already exists")
    uid = conn.execute(select(db.units.c.id).where(db.units.c.name == unit)).scalar()
    if uid is None:
        raise NotFound(f"unknown unit {unit!r}")
    # A role named twice is given once (a second row would break the key of user_roles).
    roles = list(dict.fromkeys(roles))
    role_ids = [_role_id(conn, r) for r in roles]
    res = conn.execute(insert(db.users).values(
        name=name, unit_id=uid, password_hash=hash_password(password) if password else None,
        is_admin=is_admin, active=True, created_at=db.utcnow(), time_zone=zone))
    user_id = res.inserted_primary_key[0]
    for rid in role_ids:
        conn.execute(insert(db.user_roles).values(user_id=user_id, role_id=rid))
    out = {"id": user_id, "name": name, "unit": unit, "roles": roles, "is_admin": is_admin}
    if zone:
        out["time_zone"] = zone
    return out


def _user_id(conn: Connection, name: str) -> int:
    uid = conn.execute(select(db.users.c.id).where(db.users.c.name == name)).scalar()
    if uid is None:
        raise NotFound(f"unknown user {name!r}")
    return uid


def set_password(conn: Connection, name: str, password: str) -> None:
    """Set ``name``'s password and end the user's open UI sessions (a changed password
    locks out whoever logged in with the old one); API tokens stay valid. The password must
    pass :func:`check_password`."""
    check_password(password)
    uid = _user_id(conn, name)
    conn.execute(db.users.update().where(db.users.c.id == uid).values(password_hash=hash_password(password)))
    _end_ui_sessions(conn, uid)


def _other_active_admins(conn: Connection, uid: int) -> int:
    """How many active administrators there are besides ``uid``, with every active
    administrator's row locked until the transaction ends (PostgreSQL; SQLite's writers take
    the whole database): two administrators deactivating each other at once both saw the
    other still active, and left the platform with none. The second now waits for the first
    and then counts what it left."""
    admins = conn.execute(select(db.users.c.id)
                          .where(db.users.c.is_admin.is_(True), db.users.c.active.is_(True))
                          .with_for_update()).scalars().all()
    return sum(1 for i in admins if i != uid)


def set_active(conn: Connection, name: str, active: bool) -> int:
    """Activate or deactivate ``name``. Deactivating refuses every login and request of the
    user and revokes all its API tokens and UI sessions, so that reactivating does not bring
    old credentials back; its records keep their owner. Returns the number of credentials
    revoked. The last active administrator cannot be deactivated (nobody could administer
    the platform any more, the CLI included: it acts as ``admin``)."""
    row = conn.execute(select(db.users.c.id, db.users.c.is_admin).where(db.users.c.name == name)).first()
    if row is None:
        raise NotFound(f"unknown user {name!r}")
    if not active and row.is_admin and not _other_active_admins(conn, row.id):
        raise Conflict(f"{name!r} is the last active administrator and cannot be deactivated")
    conn.execute(db.users.update().where(db.users.c.id == row.id).values(active=active))
    if active:
        return 0
    return conn.execute(db.tokens.update().where(db.tokens.c.user_id == row.id, db.tokens.c.revoked_at.is_(None))
                        .values(revoked_at=db.utcnow())).rowcount


def move_user(conn: Connection, name: str, unit: str) -> None:
    """Move ``name`` to ``unit``. Its scope follows at once (unit and subtree grants are read
    from the user's unit on every request); records it owns keep their unit."""
    uid = _user_id(conn, name)
    unit_id = conn.execute(select(db.units.c.id).where(db.units.c.name == unit)).scalar()
    if unit_id is None:
        raise NotFound(f"unknown unit {unit!r}")
    conn.execute(db.users.update().where(db.users.c.id == uid).values(unit_id=unit_id))


def authenticate(conn: Connection, name: str, password: str) -> str:
    """Return the user name if the password matches, else raise AuthenticationError.

    An unknown user costs a password check too: answering faster would tell which user
    names exist."""
    row = conn.execute(select(db.users.c.password_hash, db.users.c.active).where(db.users.c.name == name)).first()
    stored = row.password_hash if row is not None else None
    if not verify_password(stored or _dummy_hash(), password) or row is None or not row.active or not stored:
        raise AuthenticationError("wrong user name or password")
    return name


@cache
def _dummy_hash() -> str:
    """A hash no password matches, checked for unknown users (same cost as a real check)."""
    return _hasher.hash(secrets.token_urlsafe(16))


def get_user(conn: Connection, name: str, lock: bool = False) -> dict:
    """One user as :func:`list_users` shows it; NotFound if unknown. With ``lock``, the
    user's row is locked until the transaction ends (PostgreSQL; SQLite's writers take the
    whole database), so that an edit reads and writes a state no one else changes between."""
    if lock:
        conn.execute(select(db.users.c.id).where(db.users.c.name == name).with_for_update())
    found = list_users(conn, name)
    if not found:
        raise NotFound(f"unknown user {name!r}")
    return found[0]


def list_users(conn: Connection, name: str | None = None) -> list[dict]:
    """Users (or only ``name``) with unit, roles, administrator and active flags, by name."""
    out = []
    query = (select(db.users.c.id, db.users.c.name, db.users.c.is_admin, db.users.c.active,
                    db.units.c.name.label("unit"))
             .join(db.units, db.units.c.id == db.users.c.unit_id).order_by(db.users.c.name))
    rows = conn.execute(query if name is None else query.where(db.users.c.name == name))
    for r in rows:
        roles = conn.execute(select(db.roles.c.name).join(db.user_roles, db.user_roles.c.role_id == db.roles.c.id)
                             .where(db.user_roles.c.user_id == r.id).order_by(db.roles.c.name)).scalars().all()
        out.append({"name": r.name, "unit": r.unit, "roles": roles, "is_admin": bool(r.is_admin),
                    "active": bool(r.active)})
    return out


# -- roles and grants -------------------------------------------------------------------
def save_role(conn: Connection, definition: dict, source: str = "admin", replace_grants: bool = True) -> dict:
    """Create or update a role (``schemas/role.schema.json``) with its grants.

    Saving a role as it is stored writes nothing (``xrm init`` saves every plugin's roles
    each time): only grants that changed are written, and with ``replace_grants`` those the
    definition no longer lists are deleted.
    """
    check_definition("role.schema.json", definition, "role")
    name = definition["name"]
    row = conn.execute(select(db.roles.c.id, db.roles.c.label, db.roles.c.source).where(db.roles.c.name == name)).first()
    wanted = {(g["type"], action): g["depth"] for g in definition.get("grants", []) for action in g["actions"]}
    if row is None:
        rid = conn.execute(insert(db.roles).values(name=name, label=definition.get("label"),
                                                   source=source)).inserted_primary_key[0]
    else:
        rid = row.id
        if (row.label, row.source) != (definition.get("label"), source):
            conn.execute(db.roles.update().where(db.roles.c.id == rid).values(label=definition.get("label"),
                                                                             source=source))
        if replace_grants and "grants" in definition:
            stored = conn.execute(select(db.grants.c.id, db.grants.c.entity_type, db.grants.c.action)
                                  .where(db.grants.c.role_id == rid)).all()
            gone = [g.id for g in stored if (g.entity_type, g.action) not in wanted]
            if gone:
                conn.execute(delete(db.grants).where(db.grants.c.id.in_(gone)))
    for (etype, action), depth in wanted.items():
        _put_grant(conn, rid, etype, action, depth)
    return definition


def _put_grant(conn, role_id, etype, action, depth):
    existing = conn.execute(select(db.grants.c.id, db.grants.c.depth).where(
        db.grants.c.role_id == role_id, db.grants.c.entity_type == etype, db.grants.c.action == action)).first()
    if existing is None:
        conn.execute(insert(db.grants).values(role_id=role_id, entity_type=etype, action=action, depth=depth))
    elif existing.depth != depth:
        conn.execute(db.grants.update().where(db.grants.c.id == existing.id).values(depth=depth))


def create_role(conn: Connection, name: str, label=None) -> dict:
    if conn.execute(select(db.roles.c.id).where(db.roles.c.name == name)).first():
        raise Conflict(f"role {name!r} already exists")
    definition = {"name": name, **({"label": label} if label else {})}
    return save_role(conn, definition)


def grant(conn: Connection, role: str, etype: str, actions: list[str], depth: str,
          known_types: set[str]) -> dict:
    """Grant ``actions`` on ``etype`` (or ``*``) at ``depth`` to ``role`` (replacing its depth)."""
    rid = _role_id(conn, role)
    if etype != "*" and etype not in known_types:
        raise NotFound(f"unknown entity type {etype!r}")
    actions = list(dict.fromkeys(actions))  # "read,read" grants read once
    bad = [a for a in actions if a not in ACTIONS]
    if bad or not actions:
        raise ValidationError(f"unknown action(s) {', '.join(bad) or '(none)'}: use {', '.join(ACTIONS)}")
    if depth not in DEPTHS or depth == "none":
        raise ValidationError(f"unknown depth {depth!r}: use own, unit, subtree or all")
    for a in actions:
        _put_grant(conn, rid, etype, a, depth)
    return {"role": role, "type": etype, "actions": actions, "depth": depth}


def revoke_grant(conn: Connection, role: str, etype: str, actions: list[str]) -> list[str]:
    """Remove ``role``'s grants of ``actions`` on ``etype`` (a type name or ``*``); returns the
    actions that were granted and are now gone (an action that was not granted is no error:
    the role ends without it either way)."""
    rid = _role_id(conn, role)
    bad = [a for a in actions if a not in ACTIONS]
    if bad or not actions:
        raise ValidationError(f"unknown action(s) {', '.join(bad) or '(none)'}: use {', '.join(ACTIONS)}")
    gone = conn.execute(select(db.grants.c.action).where(db.grants.c.role_id == rid, db.grants.c.entity_type == etype,
                                                         db.grants.c.action.in_(actions))).scalars().all()
    conn.execute(delete(db.grants).where(db.grants.c.role_id == rid, db.grants.c.entity_type == etype,
                                         db.grants.c.action.in_(actions)))
    return [a for a in ACTIONS if a in gone]


def role_source(conn: Connection, role: str) -> str | None:
    """Who defines ``role``: ``admin``, ``core`` or a plugin's name (None if unknown)."""
    return conn.execute(select(db.roles.c.source).where(db.roles.c.name == role)).scalar()


def list_roles(conn: Connection) -> list[dict]:
    out = []
    for rid, name, label, source in conn.execute(select(db.roles.c.id, db.roles.c.name, db.roles.c.label,
                                                        db.roles.c.source).order_by(db.roles.c.name)):
        grants: dict[tuple, list] = {}
        for etype, action, depth in conn.execute(select(db.grants.c.entity_type, db.grants.c.action,
                                                        db.grants.c.depth).where(db.grants.c.role_id == rid)
                                                 .order_by(db.grants.c.entity_type, db.grants.c.id)):
            grants.setdefault((etype, depth), []).append(action)
        out.append({"name": name, "label": label, "source": source,
                    "grants": [{"type": t, "actions": a, "depth": d} for (t, d), a in grants.items()]})
    return out


def _role_id(conn: Connection, name: str) -> int:
    rid = conn.execute(select(db.roles.c.id).where(db.roles.c.name == name)).scalar()
    if rid is None:
        raise NotFound(f"unknown role {name!r}")
    return rid


def revoke_role(conn: Connection, user: str, role: str) -> bool:
    """Take ``role`` from ``user``; False if the user did not have it."""
    uid = _user_id(conn, user)
    rid = _role_id(conn, role)
    return conn.execute(delete(db.user_roles).where(db.user_roles.c.user_id == uid,
                                                    db.user_roles.c.role_id == rid)).rowcount > 0


def assign_role(conn: Connection, user: str, role: str) -> None:
    uid, rid = _user_id(conn, user), _role_id(conn, role)
    if not conn.execute(select(db.user_roles).where(db.user_roles.c.user_id == uid,
                                                   db.user_roles.c.role_id == rid)).first():
        conn.execute(insert(db.user_roles).values(user_id=uid, role_id=rid))


# -- tokens -----------------------------------------------------------------------------
def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


#: The longest lifetime ``expires_in_days`` may ask for (a hundred years: "never" is None).
_MAX_TOKEN_DAYS = 36500


def token_max_days() -> int | None:
    """The organisation's longest API token lifetime in days, ``XRM_TOKEN_MAX_DAYS`` (a whole
    number from 1 to 36500), or None when unset: tokens may then be made without expiry. A bad
    value is refused with a ValidationError naming the variable."""
    raw = os.environ.get("XRM_TOKEN_MAX_DAYS", "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= _MAX_TOKEN_DAYS:
        raise ValidationError(f"the setting XRM_TOKEN_MAX_DAYS={raw!r} is not a whole number of days from 1 "
                              f"to {_MAX_TOKEN_DAYS}")
    return int(raw)


def _stamp(moment: datetime) -> str:
    """``moment`` as the ISO-8601 UTC string the tables store (a naive time is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def token_expiry(expires_in_days: int | None = None, expires_at: datetime | None = None) -> str | None:
    """When a new API token should stop working, as a stored stamp (None: never).

    ``expires_in_days`` (a whole number of days from now) or ``expires_at`` (a time in the
    future; a naive one is UTC), not both. With ``XRM_TOKEN_MAX_DAYS`` set, a token asked for
    without expiry gets that lifetime, and a later expiry is refused. ValidationError at
    ``/expires_in_days`` or ``/expires_at`` otherwise."""
    now = datetime.now(timezone.utc)
    if expires_in_days is not None and expires_at is not None:
        raise ValidationError("give the token's lifetime in days or its expiry date, not both",
                              [{"pointer": "/expires_at", "message": "conflict"}])
    if expires_in_days is not None:
        if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int) \
                or not 1 <= expires_in_days <= _MAX_TOKEN_DAYS:
            word = ("not an integer" if isinstance(expires_in_days, bool) or not isinstance(expires_in_days, int)
                    else "at least 1 day" if expires_in_days < 1 else f"at most {_MAX_TOKEN_DAYS} days")
            raise ValidationError(f"a token's lifetime is a whole number of days from 1 to {_MAX_TOKEN_DAYS}, "
                                  f"not {expires_in_days!r}", [{"pointer": "/expires_in_days", "message": word}])
        expires_at, where = now + timedelta(days=expires_in_days), "/expires_in_days"
    else:
        where = "/expires_at"
    if expires_at is not None and _stamp(expires_at) <= _stamp(now):
        raise ValidationError(f"the token's expiry {_stamp(expires_at)} is not in the future",
                              [{"pointer": where, "message": "in the past"}])
    most = token_max_days()
    if most is not None:
        latest = now + timedelta(days=most)
        if expires_at is None:
            expires_at = latest
        elif _stamp(expires_at) > _stamp(latest):
            raise ValidationError(f"a token may live at most {most} days here (XRM_TOKEN_MAX_DAYS): "
                                  f"expiry {_stamp(expires_at)} is later than {_stamp(latest)}",
                                  [{"pointer": where, "message": f"at most {most} days"}])
    return None if expires_at is None else _stamp(expires_at)


def create_token(conn: Connection, user: str, label: str | None = None, expires_in_days: int | None = None,
                 expires_at: datetime | None = None) -> str:
    """Create an API token for ``user``; only its hash is stored, the token is returned once.

    It expires ``expires_in_days`` days from now or at ``expires_at`` (see
    :func:`token_expiry`; by default never, unless ``XRM_TOKEN_MAX_DAYS`` is set); an expired
    token is refused like a revoked one."""
    expires = token_expiry(expires_in_days, expires_at)
    if label is not None and label.strip() == UI_SESSION:
        # The label marks the rows behind UI sessions: such a "token" would be no API token
        # but a UI session secret of the user (and deleted at the next login).
        raise ValidationError(f"the label {UI_SESSION!r} is reserved for admin UI sessions",
                              [{"pointer": "/label", "message": "reserved"}])
    active = conn.execute(select(db.users.c.active).where(db.users.c.name == user)).scalar()
    if active is not None and not active:
        # It would not work now, and would start working when the user is activated again:
        # deactivating revokes every credential so that reactivating brings none back.
        raise Conflict(f"user {user!r} is deactivated: activate it first (`xrm users activate {user}`)",
                       [{"pointer": "/user", "message": "deactivated"}])
    return _new_token(conn, user, label, expires)


def _new_token(conn: Connection, user: str, label: str | None, expires_at: str | None = None) -> str:
    uid = _user_id(conn, user)
    if label is not None and len(label) > 200:
        raise ValidationError("a token label has at most 200 characters",
                              [{"pointer": "/label", "message": f"{len(label)} characters"}])
    token = "xrm_" + secrets.token_urlsafe(32)
    conn.execute(insert(db.tokens).values(user_id=uid, token_hash=_token_hash(token), label=label,
                                          created_at=db.utcnow(), expires_at=expires_at))
    return token


def user_for_token(conn: Connection, token: str) -> str:
    """The user name a bearer token belongs to; AuthenticationError if unknown, revoked or
    expired (or if it is a UI session, which is no API token). The three are one answer: a
    caller learns nothing about which tokens exist."""
    return token_holder(conn, token)[0]


def token_holder(conn: Connection, token: str) -> tuple[str, str | None]:
    """``(user name, expires_at)`` of a bearer token that works now, ``expires_at`` the
    stored UTC stamp or None for a token that never expires; refused as by
    :func:`user_for_token`. For callers that keep a resolved token for a while (the REST
    API's per-process cache), so that they keep it no longer than it works."""
    row = conn.execute(select(db.users.c.name, db.users.c.active, db.tokens.c.expires_at)
                       .join(db.tokens, db.tokens.c.user_id == db.users.c.id)
                       .where(db.tokens.c.token_hash == _token_hash(token or ""),
                              db.tokens.c.revoked_at.is_(None),
                              # stamps are fixed-width ISO-8601 UTC strings: they compare as times
                              db.tokens.c.expires_at.is_(None) | (db.tokens.c.expires_at > db.utcnow()),
                              db.tokens.c.label.is_(None) | (db.tokens.c.label != UI_SESSION))).first()
    if row is None or not row.active:
        raise AuthenticationError("invalid, expired or revoked token")
    return row.name, row.expires_at


def list_tokens(conn: Connection, user: str | None = None) -> list[dict]:
    """The API tokens (of ``user``, else of everyone), by user then creation: ``user``,
    ``label``, ``created_at``, ``expires_at`` and ``revoked_at`` (stamps or None) and
    ``status`` (``active``, ``expired`` or ``revoked``). Never the token or its hash; UI
    sessions are left out. NotFound for an unknown ``user``."""
    T, U = db.tokens, db.users
    query = (select(U.c.name, T.c.label, T.c.created_at, T.c.expires_at, T.c.revoked_at)
             .join(U, U.c.id == T.c.user_id)
             .where(T.c.label.is_(None) | (T.c.label != UI_SESSION))
             .order_by(U.c.name, T.c.created_at, T.c.id))
    if user is not None:
        query = query.where(T.c.user_id == _user_id(conn, user))
    now = db.utcnow()
    return [{"user": r.name, "label": r.label, "created_at": r.created_at, "expires_at": r.expires_at,
             "revoked_at": r.revoked_at,
             "status": "revoked" if r.revoked_at else "expired" if r.expires_at and r.expires_at <= now else "active"}
            for r in conn.execute(query)]


#: The label of the token rows that back admin UI sessions (see :func:`open_ui_session`).
UI_SESSION = "(admin UI session)"
#: How long a UI session stays open on the server, logged out or not (``XRM_UI_SESSION_HOURS``).
UI_SESSION_HOURS = 12.0


def _stamp_before(hours: float) -> str:
    return (datetime.now(timezone.utc) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def open_ui_session(conn: Connection, user: str, max_age_hours: float = UI_SESSION_HOURS) -> str:
    """A new UI session of ``user``: a random secret whose hash is stored like an API token's,
    for the session cookie. The server can then end it (:func:`close_ui_session`, or
    ``xrm tokens revoke USER``), which a signed cookie alone could not: it would stay valid
    after logout for as long as the browser kept it. Sessions ended or older than
    ``max_age_hours`` are deleted here, so the rows do not pile up."""
    conn.execute(delete(db.tokens).where(db.tokens.c.label == UI_SESSION,
                                         db.tokens.c.revoked_at.is_not(None)
                                         | (db.tokens.c.created_at < _stamp_before(max_age_hours))))
    return _new_token(conn, user, UI_SESSION)


def ui_session_user(conn: Connection, user: str, secret: str, max_age_hours: float = UI_SESSION_HOURS):
    """``(name, is_admin, time_zone)`` if ``secret`` is an open UI session of the active user
    ``user``, opened less than ``max_age_hours`` ago; else None."""
    return conn.execute(select(db.users.c.name, db.users.c.is_admin, db.users.c.time_zone)
                        .join(db.tokens, db.tokens.c.user_id == db.users.c.id)
                        .where(db.users.c.name == user, db.users.c.active.is_(True),
                               db.tokens.c.token_hash == _token_hash(secret or ""),
                               db.tokens.c.label == UI_SESSION, db.tokens.c.revoked_at.is_(None),
                               db.tokens.c.created_at >= _stamp_before(max_age_hours))).first()


def close_ui_session(conn: Connection, secret: str) -> None:
    """End the UI session ``secret`` (logout)."""
    conn.execute(db.tokens.update().where(db.tokens.c.token_hash == _token_hash(secret or ""),
                                          db.tokens.c.label == UI_SESSION, db.tokens.c.revoked_at.is_(None))
                 .values(revoked_at=db.utcnow()))


def _end_ui_sessions(conn: Connection, uid: int) -> None:
    conn.execute(db.tokens.update().where(db.tokens.c.user_id == uid, db.tokens.c.label == UI_SESSION,
                                          db.tokens.c.revoked_at.is_(None))
                 .values(revoked_at=db.utcnow()))


def revoke_tokens(conn: Connection, user: str) -> int:
    uid = _user_id(conn, user)
    return conn.execute(db.tokens.update().where(db.tokens.c.user_id == uid, db.tokens.c.revoked_at.is_(None))
                        .values(revoked_at=db.utcnow())).rowcount
