"""Records: create, read, list, update (JSON merge patch) and delete, scoped and with history.

The path of one write: parse → validate → scope → ``before_*`` hooks → validate again →
store → ``after_*`` hooks → history. Each write runs in its own SAVEPOINT inside the
session's transaction, so a refused write leaves nothing behind even if the caller catches
the error and carries on.
"""
from __future__ import annotations

import copy
import os
import random
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import bindparam, insert, select, tuple_
from sqlalchemy.exc import IntegrityError

from . import db, history, instants
from .errors import PluginError, NotFound, PermissionDenied, PreconditionFailed, ValidationError
from .fields import field_expr, sql_type, type_literal
from .instants import INSTANT
from .record_events import plugins_text
from .scope import DEPTHS
from .history import changes_payload, diff, merge_patch, same_json
from .stored_json import storage_errors

if TYPE_CHECKING:
    from .session import Session

R = db.records


_clock = {"ms": 0, "seq": 0}


def new_id() -> str:
    """Opaque, time-ordered id: 12 hex digits of milliseconds, a 4-digit sequence, 4 random.

    Ids made by one process sort in creation order (the default list order), and the
    primary-key index grows at its end.
    """
    ms = int(time.time() * 1000)
    if ms <= _clock["ms"]:
        ms, seq = _clock["ms"], _clock["seq"] + 1
        if seq > 0xFFFF:
            ms, seq = ms + 1, 0
    else:
        seq = 0
    _clock["ms"], _clock["seq"] = ms, seq
    return f"{ms:012x}{seq:04x}{_random.getrandbits(16):04x}"


#: The random part of ids: it keeps processes that share a millisecond and a sequence number
#: apart, so it needs a seed per process, not a system call per id (os.urandom: 0.6 µs, a
#: tenth of an imported row's own Python). Reseeded in a forked child (gunicorn workers).
_random = random.Random(os.urandom(16))
os.register_at_fork(after_in_child=lambda: _random.seed(os.urandom(16)))


@dataclass
class Record:
    """A record as plugins and callers see it (contract JSON via :meth:`to_dict`)."""

    id: str
    type: str
    data: dict
    version: int = 1
    owner: str | None = None
    unit: str | None = None
    created_at: str | None = None
    updated_at: str | None = None
    created_by: str | None = None
    updated_by: str | None = None
    owner_id: int | None = field(default=None, repr=False)
    unit_id: int | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return self._as_dict(self.data)

    def to_json_ready(self) -> dict:
        """:meth:`to_dict` for ``orjson.dumps``: data not yet decoded goes out as the stored text."""
        raw = self.__dict__.get("_data_json")
        return self._as_dict(self.data if raw is None else orjson.Fragment(raw))

    def _as_dict(self, data) -> dict:
        return {"id": self.id, "type": self.type, "data": data, "version": self.version,
                "owner": self.owner, "unit": self.unit, "created_at": self.created_at,
                "updated_at": self.updated_at, "created_by": self.created_by,
                "updated_by": self.updated_by}

    @property
    def etag(self) -> str:
        return f'"{self.version}"'

    def __getattr__(self, name):
        # Reached only when normal lookup fails: the ``data`` of a listed record, kept as the
        # stored JSON text until first read (see :func:`_from_rows`).
        if name == "data":
            d = self.__dict__
            if "_data_json" in d:
                data = d["data"] = orjson.loads(d.pop("_data_json"))
                return data
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")


COLUMNS = (R.c.id, R.c.type, R.c.data, R.c.version, R.c.owner_id, R.c.unit_id,
           R.c.created_at, R.c.updated_at, R.c.created_by, R.c.updated_by)


def from_row(s: "Session", row) -> Record:
    users, units = s.user_names(), s.unit_names()
    return Record(row.id, row.type, row.data, row.version, users.get(row.owner_id), units.get(row.unit_id),
                  row.created_at, row.updated_at, users.get(row.created_by), users.get(row.updated_by),
                  row.owner_id, row.unit_id)


def _from_rows(s: "Session", rows) -> list[Record]:
    """Records of rows selected exactly as COLUMNS, unpacked by position (list pages).

    ``data`` given as JSON text (SQLite's driver returns it so) is decoded on first access.
    """
    users, units = s.user_names(), s.unit_names()
    out = []
    for rid, rtype, data, version, owner_id, unit_id, created_at, updated_at, created_by, updated_by in rows:
        rec = _new_record(Record)
        # Set the instance dict at once: a dataclass __init__ would need ``data`` decoded.
        rec.__dict__ = {
            "id": rid, "type": rtype, ("_data_json" if isinstance(data, (str, bytes)) else "data"): data,
            "version": version, "owner": users.get(owner_id), "unit": units.get(unit_id),
            "created_at": created_at, "updated_at": updated_at, "created_by": users.get(created_by),
            "updated_by": users.get(updated_by), "owner_id": owner_id, "unit_id": unit_id}
        out.append(rec)
    return out


_new_record = object.__new__


def _load(s: "Session", record_id: str, action: str = "read", lock: bool = False):
    """Row of ``record_id`` if the actor may read it (else NotFound) and ``action`` it (else 403).

    ``lock``: the row is about to be changed; on PostgreSQL it is read ``FOR UPDATE``, so a
    concurrent writer of the same record waits for this transaction and then reads what it
    wrote — as SQLite's single writer does — instead of working on a stale version.
    """
    if s.hooked and record_id in s.hooked:
        _refuse_hook_misuse(s.hooked[record_id], record_id, action)
    row = _row(s, record_id, lock)
    if row is None or not s.allows(row.type, "read", row):
        raise NotFound(f"no record {record_id!r}")
    if action != "read" and not s.allows(row.type, action, row):
        raise PermissionDenied(f"{s.actor.name!r} may not {action} record {record_id!r}")
    return row


class HookMisuse(RuntimeError):
    """A ``before_create``/``before_update`` hook reached for the record it is called for in
    a way that cannot work (the session turns it into a PluginError naming the plugin)."""


def _refuse_hook_misuse(event: str, record_id: str, action: str) -> None:
    if event == "before_create":
        # Not stored until its before_create hooks have run: "no record" would mislead.
        raise HookMisuse(f"record {record_id} is not stored until its before_create hooks have run: "
                         f"relate it, log on it or read it in an after_create hook")
    if action != "read":
        # The stored row is at the version the update started from: changing it now would
        # be refused as a concurrent change.
        raise HookMisuse(f"a before_update hook may not {action} the record it is called for ({record_id}): "
                         f"change record.data instead, or act in an after_update hook")


#: Built once: the hottest read of the REST API reuses SQLAlchemy's compiled form.
_BY_ID = select(*COLUMNS).where(R.c.id == bindparam("record_id"))
_BY_ID_LOCKED = _BY_ID.with_for_update()


def _row(s: "Session", record_id: str, lock: bool = False):
    """The stored row of ``record_id`` or None (unscoped: callers check the scope)."""
    if not isinstance(record_id, str):
        return None
    query = _BY_ID_LOCKED if lock and s.dialect == "postgresql" else _BY_ID
    return s.conn.execute(query, {"record_id": record_id}).first()


def get(s: "Session", record_id: str) -> Record:
    """The record ``record_id``; NotFound if unknown or outside the caller's read scope."""
    return from_row(s, _load(s, record_id))


def get_many(s: "Session", record_ids) -> dict[str, Record]:
    """``{id: record}`` of the records among ``record_ids`` the actor may read, in one query;
    an unknown id, or one outside the read scope, is left out (as :func:`get` would refuse it)."""
    ids = [i for i in dict.fromkeys(record_ids) if isinstance(i, str)]
    if not ids:
        return {}
    rows = s.conn.execute(select(*COLUMNS).where(R.c.id.in_(ids)))
    return {row.id: from_row(s, row) for row in rows if s.allows(row.type, "read", row)}


def _check_data(data, what: str = "record data"):
    if not isinstance(data, dict):
        raise ValidationError(f"{what} must be a JSON object", [{"pointer": "/data", "message": "not an object"}])
    problems = storage_errors(data, "/data")
    if problems:
        message = problems[0]["message"]
        raise ValidationError(f"{what} contains NUL characters" if "NUL" in message else
                              f"{what} is nested too deeply" if "nest" in message else
                              f"{what} holds an integer beyond signed 64 bits" if "64-bit" in message else
                              f"{what} holds text that is not valid Unicode" if "Unicode" in message else
                              f"{what} holds a value that is not JSON", problems)


def create(s: "Session", type_name: str, data: dict, unit: str | None = None,
           record_id: str | None = None, summary: str | None = None) -> Record:
    """Create a record of ``type_name`` owned by the actor, in their unit or ``unit``.

    ``unit`` must lie within the actor's create scope (else PermissionDenied). Invalid data
    raises ValidationError with a pointer per error; a unique clash raises Conflict.
    """
    et = s.entity_type_for_write(type_name)
    _check_data(data)
    unit_id = s.choose_unit(et.name, unit)
    now = db.utcnow()
    rec = Record(record_id or new_id(), et.name, copy.deepcopy(data), 1, s.actor.name, s.unit_names()[unit_id],
                 now, now, s.actor.name, s.actor.name, s.actor.id, unit_id)
    try:
        # One savepoint around hooks, insert and history: whatever a hook wrote is undone
        # with the record, even if the caller goes on using the session after an error.
        with s.conn.begin_nested():
            run_before_create(s, et, rec)
            s.conn.execute(insert(R).values(
                id=rec.id, type=et.name, data=rec.data, version=1, owner_id=s.actor.id, unit_id=rec.unit_id,
                created_by=s.actor.id, updated_by=s.actor.id, created_at=now, updated_at=now))
            # The record's own activity first, with the data as stored; what the after_*
            # hooks do (log a notification, open a follow-up) comes after it in the timeline.
            s.log_activity(rec, "created", summary or f"created {et.name}", {"data": rec.data}, at=now)
            s.fire("after_create", rec, {})
    except IntegrityError as e:
        raise s.unique_conflict(et, rec.data, e) from None
    return rec


def run_before_create(s: "Session", et, rec: Record) -> None:
    """Run the ``before_create`` hooks, then validate the (possibly normalised) data.

    Hooks see the data before validation so they can normalise input (e.g. convert
    Persian digits); if the data was invalid to begin with and a hook trips over it, the
    caller gets the validation errors, not the plugin's crash. A hook may route the record
    by setting ``record.unit`` to another unit's name.
    """
    unit = rec.unit
    _before_hooks(s, et, "before_create", rec, {})
    if rec.unit != unit:
        try:
            rec.unit_id = s.unit_id(rec.unit)
        except NotFound:
            raise ValidationError(f"a plugin routed the {et.name} to unknown unit {rec.unit!r}",
                                  [{"pointer": "/unit", "message": "unknown unit"}]) from None


def _before_hooks(s: "Session", et, event: str, rec: Record, changes: dict) -> None:
    """Run the ``before_*`` hooks on ``rec``, then check and validate the data they leave.

    If the data was invalid to begin with and a hook trips over it, the caller gets the
    validation errors, not the plugin's crash.
    """
    initially_invalid = None if et.is_valid(rec.data) else et.invalid(rec.data, "/data")
    try:
        s.fire(event, rec, changes)
    except PluginError:
        if initially_invalid is not None:
            raise initially_invalid from None
        raise
    _check_data(rec.data, f"record data after the {event} hooks")
    et.validate(rec.data)
    too_long = et.key_text_errors(rec.data)
    if too_long:
        raise ValidationError(f"{et.name} data cannot be stored in its indexes", too_long)


def update(s: "Session", record_id: str, patch: dict, if_version: int | None = None,
           summary: str | None = None, replace_members: bool = False) -> Record:
    """Apply a JSON merge patch (RFC 7396) to a record's data.

    With ``replace_members``, ``patch`` replaces the top-level members it names as they are
    (see :func:`with_members`) instead of merging into them: the one way to store a ``null``
    inside an object, which a merge patch can only read as "remove this key".
    With ``if_version``, refuse (PreconditionFailed) unless the stored version matches. The
    write is one conditional UPDATE on the version read, so no concurrent change is lost.
    A patch that changes nothing (JSON values compared with their types: ``1`` is not
    ``true``), or whose change the ``before_update`` hooks undo, writes nothing, runs no
    ``after_update`` hook and keeps the version. Everything the hooks write goes with a
    refused update.
    """
    _check_data(patch, "a merge patch")
    if if_version is not None and type(if_version) is not int:  # True == 1 in Python: no guess
        raise ValidationError(f"if_version must be a version number, not {if_version!r}",
                              [{"pointer": "/if_version", "message": "not an integer"}])
    row = _load(s, record_id, "update", lock=True)
    if if_version is not None and row.version != if_version:
        raise PreconditionFailed(f"record {record_id} is at version {row.version}, not {if_version}")
    et = s.entity_type_for_write(row.type)
    new_data = (with_members if replace_members else merge_patch)(row.data, copy.deepcopy(patch))
    rec = from_row(s, row)
    changes = diff(row.data, new_data)
    if not changes:
        return rec
    rec.data, rec.version = copy.deepcopy(new_data), row.version + 1
    now = db.utcnow()
    try:
        # One savepoint around hooks, update and history, as on create.
        with s.conn.begin_nested() as savepoint:
            # As on create, hooks see the patched data before validation so they can normalise it.
            _before_hooks(s, et, "before_update", rec, changes)
            moved = _moved(s, et, rec, row)
            if not same_json(rec.data, new_data):
                changes = diff(row.data, rec.data)
                if not changes and moved is None:  # the hooks undid the change: nothing to write
                    savepoint.rollback()
                    return from_row(s, row)
            _store_update(s, row, rec, now)
            rec.updated_at, rec.updated_by = now, s.actor.name
            payload = {"version": rec.version, "changes": changes_payload(changes, row.data, rec.data)}
            said = summary or _summarise(changes)
            if moved is not None:
                payload["unit"] = {"old": moved, "new": rec.unit}
                move = f"moved from unit {moved} to {rec.unit}"
                said = f"{said}; {move}" if changes or summary else move
            # The row Session.log_activity writes, without building an INSERT statement per
            # update (that cost more than the UPDATE itself: an import of a type with hooks
            # updates its records one by one). It is the record's new unit's, as every
            # activity after it.
            history.log_many(s, [(rec, "updated", said, payload)], at=now)
            s.fire("after_update", rec, changes)
    except IntegrityError as e:
        raise s.unique_conflict(et, rec.data, e, exclude=record_id) from None
    return rec


def _moved(s: "Session", et, rec: Record, row) -> str | None:
    """The unit ``rec`` was in (its name) when its ``before_update`` hooks moved it to
    another (``record.unit``: a plugin re-assigning the record); None when they did not.

    The hook decides where the record goes, within what the acting user may do: the unit
    must exist (else ValidationError at ``/unit``, which the session words naming the
    plugin) and lie where the user may create or update records of the type (else
    PermissionDenied naming the plugin, nothing written) — a plugin must not become a way
    to push records into other units' data. (A unit the user may create in but not read
    leaves them unable to see the record afterwards.) For a user whose scope is not every unit, an
    unknown unit is refused as one outside it, so that no unit name is learnt by trying.
    """
    old = s.unit_names().get(row.unit_id)
    if rec.unit == old:
        return None
    try:
        unit_id = s.unit_id(rec.unit)
    except NotFound:
        unit_id = None
        if _may_place_anywhere(s.actor, et.name):
            raise ValidationError(f"a plugin moved the {et.name} to unknown unit {rec.unit!r}",
                                  [{"pointer": "/unit", "message": "unknown unit"}]) from None
    if unit_id is None or not _may_place(s.actor, et.name, unit_id, s.unit_path(unit_id)):
        edits = s.hook_edits.get(rec.id)
        who = plugins_text(edits.unit, "before_update") if edits and edits.unit else "a before_update hook"
        raise PermissionDenied(f"{who} moved the {et.name} to unit {rec.unit!r}, where "
                               f"{s.actor.name!r} may neither create nor update {et.name} records; "
                               f"nothing was changed")
    rec.unit_id = unit_id
    return old


def _may_place(actor, type_name: str, unit_id: int, unit_path: str) -> bool:
    """May ``actor`` create or update records of ``type_name`` placed in the given unit?"""
    return any(actor.allows_unit(type_name, action, unit_id, unit_path) for action in ("create", "update"))


def _may_place_anywhere(actor, type_name: str) -> bool:
    """May ``actor`` create or update records of ``type_name`` in every unit?"""
    return any(actor.depth(type_name, action) >= DEPTHS["all"] for action in ("create", "update"))


def with_members(data: dict, members: dict) -> dict:
    """``data`` with each top-level member of ``members`` replaced by its value as it is
    (nothing merged into it), and the members whose value is ``null`` removed."""
    out = dict(data)
    for key, value in members.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


#: The conditional UPDATE of :func:`_store_update`, as the driver takes it (``?`` becomes
#: ``%s`` for psycopg; JSON text into the JSON/JSONB column, as the import's batches write
#: it). Building ``update().values(…)`` per call, and its cache key from the values, took
#: longer than running it; a prebuilt statement still spent ~40 µs a record in SQLAlchemy.
_UPDATE_AT_VERSION = ("UPDATE xrm_records SET data = ?, version = ?, updated_at = ?, updated_by = ?, unit_id = ? "
                      "WHERE id = ? AND version = ?")


def _store_update(s: "Session", row, rec: Record, now: str) -> None:
    """UPDATE the row only if it is still at the version read; else PreconditionFailed."""
    sql = _UPDATE_AT_VERSION if s.conn.dialect.paramstyle == "qmark" else _UPDATE_AT_VERSION.replace("?", "%s")
    res = s.conn.exec_driver_sql(sql, (db.json_bytes(rec.data).decode(), rec.version, now, s.actor.id, rec.unit_id,
                                       row.id, row.version))
    if res.rowcount != 1:
        raise PreconditionFailed(f"record {row.id} was changed concurrently; read it again and retry")


def _summarise(changes) -> str:
    # The pointers without their first "/"; the empty key (pointer "/") shown as "".
    fields = [p[1:] or '""' for p in changes]
    shown = ", ".join(fields[:5]) + (f" and {len(fields) - 5} more" if len(fields) > 5 else "")
    return f"updated {shown}"


def find_by_values(s: "Session", et, fields: tuple[str, ...], values: list[tuple]):
    """``{values: id}`` of stored records of ``et`` whose ``fields`` equal one of ``values``.

    Unscoped: callers decide what the actor may learn about the ids found.

    A date-time field is compared by the instant it names, as its unique index does
    (:mod:`xrm_core.instants`): ``2026-03-01T02:00:00+03:30`` finds the record holding
    ``2026-02-28T22:30:00Z``, and is the key it is found under.
    """
    kinds = [sql_type(et, f) for f in fields]
    exprs = [field_expr(s.dialect, f, k) for f, k in zip(fields, kinds)]
    # What each asked-for tuple is compared as; a text that names no instant matches nothing.
    compared: dict[tuple, list[tuple]] = {}
    for v in values:
        key = tuple(instants.normal(x) if k == INSTANT and isinstance(x, str) else x for x, k in zip(v, kinds))
        if None not in key:
            compared.setdefault(key, []).append(v)
    asked = list(compared)
    out = {}
    for i in range(0, len(asked), 500):
        chunk = asked[i:i + 500]
        target = exprs[0].in_([v[0] for v in chunk]) if len(exprs) == 1 else tuple_(*exprs).in_(chunk)
        q = select(R.c.id, *exprs).where(R.c.type == type_literal(et.name), target)
        for r in s.conn.execute(q):
            found = tuple(plain_number(v) for v in r[1:])
            for v in compared.get(found, [found]):
                out[v] = r[0]
    return out


def plain_number(v):
    """``v`` as a Python number where PostgreSQL returns a Decimal (numerics), else as is:
    values read back from either engine then compare alike."""
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() else float(v)
    return v
