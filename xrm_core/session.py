"""The Session: one transaction, acting as one user — the API plugins and interfaces use.

Open one with :meth:`xrm_core.Platform.session`; it commits when the ``with`` block ends and
rolls back on any exception, so a refused change leaves the database exactly as before.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import Connection, and_, func, insert, or_, select
from sqlalchemy.exc import IntegrityError

from . import db, deletes, history, listing, records, relationships, removals
from .stored_json import storage_errors
from .errors import Conflict, NotFound, PermissionDenied, PluginError, ValidationError, XrmError
from .fields import value_at
from .filters import compile_filter
from .plugins import PLUGIN_FAILURES, malformed_errors
from .record_events import HookEdits, explain, unit_refusal
from .scope import DEPTHS, Actor
from .validation import compile_schema, errors_of

if TYPE_CHECKING:
    from .platform import Platform


#: Most characters of an interaction's summary (a line of the timeline).
MAX_SUMMARY = 2000
#: What a logged summary may not hold: C0 controls but tab, LF and CR, and DEL and C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


class Session:
    """Data operations inside one transaction, scoped to ``actor``.

    Attributes: ``platform``, ``conn`` (the SQLAlchemy Connection, for plugins that need
    SQL), ``actor`` (:class:`xrm_core.scope.Actor`), ``dialect`` (``sqlite``/``postgresql``).
    """

    def __init__(self, platform: "Platform", conn: Connection, actor: Actor):
        self.platform = platform
        self.conn = conn
        self.actor = actor
        self.dialect = conn.dialect.name
        self._types: dict[str, int] | None = None
        self._users: dict[int, str] | None = None
        self._units: dict[int, tuple[str, str]] | None = None
        self._reltypes: dict[str, dict] | None = None
        self._write_types: set[str] = set()  # read FOR SHARE (entity_type_for_write)
        #: set by bulk operations that write history themselves
        self.quiet_history = False
        #: ``{record id: event}`` of the records whose before_create/before_update hooks run now
        self.hooked: dict[str, str] = {}
        #: ``{record id: HookEdits}``: what the before_create/before_update hooks that last ran
        #: for the record changed, while its data is checked after them (see :meth:`fire`)
        self.hook_edits: dict[str, HookEdits] = {}
        #: what each delete running now has removed so far, innermost last (:mod:`xrm_core.removals`)
        self.removals: list[removals.Removals] = []

    # -- definitions -------------------------------------------------------------------
    def entity_types_map(self) -> dict[str, int]:
        """Name -> current version of every entity type."""
        if self._types is None:
            self._types = dict(self.conn.execute(select(db.entity_types.c.name, db.entity_types.c.version)).all())
        return self._types

    def entity_type(self, name: str):
        """The compiled :class:`EntityType` ``name`` (NotFound if unknown)."""
        version = self.entity_types_map().get(name)
        if version is None:
            raise NotFound(f"unknown entity type {name!r}")
        return self.platform.compiled_type(self.conn, name, version)

    def entity_type_for_write(self, name: str):
        """The compiled :class:`EntityType` ``name`` to validate records being written.

        On PostgreSQL its row is read again, ``FOR SHARE``, once per transaction: a
        ``types update`` (which locks the row ``FOR UPDATE`` before checking the stored
        records) then waits for this transaction and sees its records, or this one waits for
        the update and validates against the new version. Without it, a record written
        meanwhile could be valid under the old schema only. SQLite serialises writers.
        """
        if self.dialect == "postgresql" and name not in self._write_types:
            version = self.conn.execute(select(db.entity_types.c.version).where(db.entity_types.c.name == name)
                                        .with_for_update(read=True)).scalar()
            if version is None:
                raise NotFound(f"unknown entity type {name!r}")
            self.entity_types_map()[name] = version
            self._write_types.add(name)
        return self.entity_type(name)

    def relationship_type(self, name: str) -> dict:
        if self._reltypes is None:
            self._reltypes = relationships.load_all(self.conn)
        rt = self._reltypes.get(name)
        if rt is None:
            raise NotFound(f"unknown relationship type {name!r}")
        return rt

    def invalidate(self) -> None:
        """Forget cached definitions (after types, units or users change in this session)."""
        self._types = self._users = self._units = self._reltypes = None
        self._write_types = set()

    # -- users and units ---------------------------------------------------------------
    def user_names(self) -> dict[int, str]:
        if self._users is None:
            self._users = dict(self.conn.execute(select(db.users.c.id, db.users.c.name)).all())
        return self._users

    def _unit_rows(self) -> dict[int, tuple[str, str]]:
        if self._units is None:
            self._units = {i: (n, p) for i, n, p in
                           self.conn.execute(select(db.units.c.id, db.units.c.name, db.units.c.path))}
        return self._units

    def unit_names(self) -> dict[int, str]:
        rows = self._unit_rows()
        # Built once per loaded unit table: from_row asks for it once per record.
        if getattr(self, "_unit_names_of", None) is not rows:
            self._unit_names_of, self._unit_names = rows, {i: n for i, (n, _) in rows.items()}
        return self._unit_names

    def unit_path(self, unit_id: int) -> str:
        return self._unit_rows()[unit_id][1]

    def has_unit(self, name: str) -> bool:
        """Is there a unit called ``name``?"""
        return any(n == name for n, _ in self._unit_rows().values())

    def unit_id(self, name: str) -> int:
        for i, (n, _) in self._unit_rows().items():
            if n == name:
                return i
        raise NotFound(f"unknown unit {name!r}")

    def allows(self, entity_type: str, action: str, row) -> bool:
        """May the actor ``action`` the loaded record ``row``?"""
        return self.actor.allows_row(entity_type, action, row.owner_id, row.unit_id, self.unit_path(row.unit_id))

    def choose_unit(self, entity_type: str, unit: str | None) -> int:
        """Unit for a new record: the actor's own, or ``unit`` if within their create scope.

        A unit outside that scope and a unit that does not exist are refused alike (403), so
        that a scoped caller cannot learn which unit names exist by trying them (REST ``unit``,
        ``--unit``); only a caller who may create anywhere hears "unknown unit" (404)."""
        if not self.actor.can(entity_type, "create"):
            raise PermissionDenied(f"{self.actor.name!r} may not create {entity_type} records")
        if unit is None:
            return self.actor.unit_id
        try:
            uid = self.unit_id(unit)
        except NotFound:
            if self.actor.depth(entity_type, "create") >= DEPTHS["all"]:
                raise
            uid = None
        if uid is None or not self.actor.allows_unit(entity_type, "create", uid, self.unit_path(uid)):
            raise PermissionDenied(f"{self.actor.name!r} may not create {entity_type} records in unit {unit!r}")
        return uid

    def may_create_in(self, entity_type: str, unit: str) -> bool:
        """May the actor create ``entity_type`` records in ``unit``: the rule of
        :meth:`choose_unit`, as a yes/no for a plugin routing a new record by its data.

        A unit that does not exist answers False for a scoped actor (no unit name is learnt by
        trying) and True for one who may create anywhere (the record stays where it was put)."""
        try:
            self.choose_unit(entity_type, unit)
        except NotFound:
            return True
        except PermissionDenied:
            return False
        return True

    def as_system(self) -> "Session":
        """A Session on the same transaction acting as the platform itself.

        For automations: a plugin routing a new record to a unit outside the user's scope,
        or opening a follow-up record, acts as ``system`` (unrestricted; its history entries
        name ``system``). Records it creates are owned by the ``admin`` user.
        """
        admin = self.conn.execute(select(db.users.c.id, db.users.c.unit_id, db.units.c.path)
                                  .join(db.units, db.units.c.id == db.users.c.unit_id)
                                  .where(db.users.c.name == "admin")).first()
        if admin is None:
            raise NotFound("no admin user: run `xrm init`")
        system = Session(self.platform, self.conn, Actor(admin.id, "system", admin.unit_id, admin.path, True))
        system._types, system._users, system._units, system._reltypes, system._write_types, system.hooked = (
            self._types, self._users, self._units, self._reltypes, self._write_types, self.hooked)
        system.removals = self.removals  # a hook's delete as the system counts for the user's delete
        return system

    # -- administration (admins and the system only) -----------------------------------
    def _require_admin(self, what: str) -> None:
        if not self.actor.is_admin:
            raise PermissionDenied(f"{self.actor.name!r} may not {what}: administrators only")

    def create_unit(self, name: str, parent: str | None = None, label=None) -> dict:
        """Create a unit under ``parent`` (default: the root unit). Administrators only."""
        from . import accounts
        self._require_admin("create units")
        unit = accounts.create_unit(self.conn, name, parent, label)
        self._units = None
        return unit

    def create_user(self, name: str, unit: str, roles=(), password: str | None = None) -> dict:
        """Create a user in ``unit`` with ``roles``. Administrators only."""
        from . import accounts
        self._require_admin("create users")
        user = accounts.create_user(self.conn, name, unit, list(roles), password)
        self._users = None
        return user

    def kpi(self, name: str, date_from: str | None = None, date_to: str | None = None,
            by: str | None = None) -> dict:
        """Compute KPI ``name`` in this session's scope (the contract result dict)."""
        from .kpis import compute
        return compute(self, name, date_from, date_to, by)

    def create_many(self, type_name: str, rows, unit: str | None = None) -> list:
        """Create many records of one type in batches, all or nothing (see importer.create_many)."""
        from .importer import create_many
        return create_many(self, type_name, rows, unit)

    # -- records -----------------------------------------------------------------------
    def create(self, type_name: str, data: dict, unit: str | None = None) -> records.Record:
        """Create a record; see :func:`xrm_core.records.create`. A refusal of a value (or
        unit) a ``before_create`` hook set names the plugin (:meth:`explained`)."""
        record_id = records.new_id()  # known here, so that a refusal can be matched to its hooks
        with self._hooks_named(record_id):
            return records.create(self, type_name, data, unit, record_id=record_id)

    def get(self, record_id: str) -> records.Record:
        return records.get(self, record_id)

    def list(self, type_name: str, where: dict | None = None, limit: int = 100,
             sort: list[str] | None = None, after: tuple | None = None,
             search: str | None = None) -> list[records.Record]:
        return listing.list_records(self, type_name, where, limit, sort, after, search)

    def update(self, record_id: str, patch: dict, if_version: int | None = None,
               replace_members: bool = False) -> records.Record:
        """Apply a JSON merge patch (RFC 7396) to a record's data, or with ``replace_members``
        replace the top-level members ``patch`` names as they are (a ``null`` inside an
        object is kept); see :func:`xrm_core.records.update`. A refusal of a value a
        ``before_update`` hook set names the plugin (:meth:`explained`)."""
        with self._hooks_named(record_id):
            return records.update(self, record_id, patch, if_version, replace_members=replace_members)

    @contextmanager
    def _hooks_named(self, record_id: str):
        """Around a write of record ``record_id``: its refusal re-raised as :meth:`explained`
        words it, and the record's :attr:`hook_edits` entry dropped in any case."""
        try:
            yield
        except XrmError as e:
            better = self.explained(e, record_id)
            if better is e:
                raise
            raise better from None
        finally:
            self.hook_edits.pop(record_id, None)

    def explained(self, error: XrmError, record_id: str, prefix: str = "/data") -> XrmError:
        """``error`` as raised while writing record ``record_id``, saying which plugin set
        what it refuses when that is a value (or the unit) the record's ``before_*`` hooks
        set and the error came from checking the record after them (see :meth:`fire`);
        else ``error`` unchanged. The record's :attr:`hook_edits` entry is used up."""
        edits = self.hook_edits.pop(record_id, None)
        if edits is None:
            return error
        if edits.unit and any(isinstance(e, dict) and e.get("pointer") == "/unit" for e in error.errors):
            # records.run_before_create's refusal of an unknown unit, which knows no plugin
            return unit_refusal(edits)
        return explain(error, edits, prefix)

    def delete(self, record_id: str, if_version: int | None = None) -> removals.Deleted:
        """Delete a record (see :func:`xrm_core.deletes.delete`); with ``if_version``, only if
        it is still at that version (else PreconditionFailed).

        Returns what went (:class:`xrm_core.removals.Deleted`): the records removed — the one
        asked for and those its cascades, or its records' hooks, took — each marked readable
        or not for the acting user (a hidden one is to be counted, never named), and the
        relationships removed. Callers that need none of it may ignore it."""
        return deletes.delete(self, record_id, if_version=if_version)

    def delete_preview(self, record_id: str) -> dict:
        """What :meth:`delete` of ``record_id`` would remove, nothing written:
        ``{"records": [ids in the order deleted, record_id last], "links": [relationship ids],
        "reached_by": {id of a record a cascade takes: the relationship type of that cascade}}``;
        or the refusal the delete would raise (NotFound, PermissionDenied, Conflict). Record
        event hooks are not run (see :func:`xrm_core.planned_deletes.preview`)."""
        from . import planned_deletes
        plan = planned_deletes.preview(self, records.from_row(self, records._load(self, record_id, "delete")))
        return {"records": plan.records, "links": plan.links, "reached_by": plan.reached_by}

    def relate(self, rel: str, source_id: str, target_id: str, data: dict | None = None) -> dict:
        return relationships.relate(self, rel, source_id, target_id, data)

    def relate_many(self, rel: str, pairs) -> list[dict]:
        """Relate many (source, target) pairs in batches, all or nothing (see relate)."""
        return relationships.relate_many(self, rel, pairs)

    def unrelate(self, relationship_id: str) -> None:
        """Remove a relationship: needs update on its target, or what relating it would
        (see :func:`xrm_core.relationships.unrelate`)."""
        relationships.unrelate(self, relationship_id)

    def related(self, record_id: str, rel: str | None = None, limit: int | None = None,
                after: tuple[str, str, str] | None = None) -> list[dict]:
        """See :func:`xrm_core.relationships.related`; ``limit``/``after`` page it."""
        return relationships.related(self, record_id, rel, limit, after)

    def count(self, type_name: str, where: dict | None = None) -> int:
        """Number of visible records of a type matching ``where`` (403 without a read grant, as list)."""
        et = self.entity_type(type_name)
        if not self.actor.can(et.name, "read"):
            raise PermissionDenied(f"{self.actor.name!r} may not read {et.name} records")
        q = select(func.count()).select_from(db.records).where(
            db.records.c.type == et.name, self.actor.clause(et.name, "read"),
            compile_filter(self.dialect, et, where or {}))
        return self.conn.execute(q).scalar_one()

    # -- history -----------------------------------------------------------------------
    def log_activity(self, rec: records.Record, kind: str, summary: str | None, payload: dict | None,
                     at: str | None = None) -> None:
        """Append one activity for ``rec`` (core use; users log through :meth:`log`)."""
        if self.quiet_history:
            return
        self.conn.execute(insert(db.activities).values(
            record_id=rec.id, record_type=rec.type, unit_id=rec.unit_id, owner_id=rec.owner_id,
            kind=kind, at=at or db.utcnow(), actor=self.actor.name, summary=summary, payload=payload))

    def log(self, record_id: str, kind: str, summary: str, payload: dict | None = None) -> dict:
        """Log a user interaction of a declared kind (call, email, visit…) on a visible record.

        Reading the record is enough: an interaction is history about the record, not a
        change of it (its version stays), as an agent with read access logs the calls taken.

        ValidationError for an undeclared kind, an empty summary or one over
        :data:`MAX_SUMMARY` characters (the details belong in the payload), or a payload that
        is not an object or fails the kind's ``payload`` schema.
        """
        rec = self.get(record_id)
        kinds = dict(self.conn.execute(select(db.activity_kinds.c.name, db.activity_kinds.c.definition)).all())
        if kind not in kinds:
            known = ", ".join(sorted(kinds)) or "none declared"
            raise ValidationError(f"unknown activity kind {kind!r} (known: {known})",
                                  [{"pointer": "/kind", "message": "not a declared activity kind"}])
        if not isinstance(summary, str) or not summary.strip():
            raise ValidationError("an interaction needs a summary", [{"pointer": "/summary", "message": "empty"}])
        if len(summary) > MAX_SUMMARY:
            # Every timeline that includes the record shows it: one 2 MB summary made the
            # record's page 2 MB for every user.
            raise ValidationError(f"a summary has at most {MAX_SUMMARY:,} characters",
                                  [{"pointer": "/summary", "message": f"{len(summary):,} characters"}])
        problems = storage_errors({"summary": summary})
        if problems:  # a NUL: SQLite stored it, PostgreSQL refused it with a database error
            raise ValidationError("the summary cannot be stored", problems)
        controls = sorted({f"U+{ord(ch):04X}" for ch in summary if _CONTROL.match(ch)})
        if controls:  # an escape sequence in a summary would reach every terminal showing the timeline
            raise ValidationError("a summary may not contain control characters (other than tab and line breaks)",
                                  [{"pointer": "/summary", "message": "holds " + ", ".join(controls)}])
        _check_payload(kinds[kind], payload)
        at = db.utcnow()
        res = self.conn.execute(insert(db.activities).values(
            record_id=rec.id, record_type=rec.type, unit_id=rec.unit_id, owner_id=rec.owner_id,
            kind=kind, at=at, actor=self.actor.name, summary=summary, payload=payload))
        return history.Activity(res.inserted_primary_key[0], rec.id, kind, at, self.actor.name, summary,
                                payload).to_dict()

    def history(self, record_id: str, include_related: bool = False, limit: int | None = None,
                newest_first: bool = False, after: tuple[str, int] | None = None) -> list[dict]:
        """Activities of a visible record, oldest first (``newest_first``: the latest first);
        with ``include_related`` also those of the visible records related to it (each then
        carries ``record_type``).

        NotFound unless the caller may read the record (or, once deleted, its history); a
        later page (``after``) of an id the caller cannot read is empty, whether the id names
        a hidden record or nothing.
        ``related``/``unrelated`` entries whose other record is outside the caller's read
        scope are left out (:func:`xrm_core.history.visible_links`): that record does not
        exist for them. ``limit`` counts the entries the caller sees; ``after`` is the
        ``(at, id)`` of the last entry of the previous page, in the same order.
        """
        A = db.activities
        types = list(self.entity_types_map())
        row = self.conn.execute(select(*records.COLUMNS).where(db.records.c.id == record_id)).first()
        if row is not None and not self.allows(row.type, "read", row):
            # Answered as for an id that names nothing the caller may read (404; with
            # ``after``, the empty page past the end of a deleted record's timeline): an
            # answer of its own would tell that a hidden record exists. Not through the
            # deleted-record condition below: activities logged while the record was in
            # the caller's scope would show for a record since moved out of it.
            if after is None:
                raise NotFound(f"no record {record_id!r}")
            return []
        related = None
        if row is not None:
            own = A.c.record_id == record_id
            if include_related:
                # As SQL, not a list of ids: one parameter per related record would exceed
                # PostgreSQL's 65,535 for a record linked to that many.
                related = relationships.related_ids(self, record_id)
        else:
            # A deleted record: its history stays visible to whoever could read it.
            own = (A.c.record_id == record_id) & self.actor.clause_any_type(types, "read", A, A.c.record_type)
        conditions = [history.visible_links(self.actor, types, self.dialect)]
        if after is not None:
            at, last = after
            conditions.append(or_(A.c.at < at, and_(A.c.at == at, A.c.id < last)) if newest_first
                              else or_(A.c.at > at, and_(A.c.at == at, A.c.id > last)))
        # In time order: an import writes a batch's `created` activities after the
        # activities its after_create hooks logged; ties (one transaction) in write order.
        rows = self.conn.execute(history.timeline_select(own, related, conditions, newest_first,
                                                         limit, self.dialect)).all()
        if row is None and not rows and after is None:
            raise NotFound(f"no record {record_id!r}")
        return [history.Activity(r.id, r.record_id, r.kind, r.at, r.actor, r.summary, r.payload,
                                 r.record_type if include_related else None).to_dict() for r in rows]

    # -- hooks -------------------------------------------------------------------------
    def fire(self, event: str, record: records.Record, changes: dict) -> None:
        """Run ``xrm_record_event`` implementations in order, converting their failures."""
        # Each call passes the implementation just the arguments it declares (resolved once
        # by Platform.record_event_impls): no keyword dict per implementation per event.
        impls = self.platform.record_event_impls(record.type)
        if not impls:
            return
        # What the record's last before_* hooks changed was kept while its data was checked
        # after them; any later event of the record (its after_* hooks) ends that.
        self.hook_edits.pop(record.id, None)
        # While a before_create/before_update hook runs, its record is not stored as the
        # hook sees it: records._load says so if the hook reaches for it (HookMisuse).
        before = event in ("before_create", "before_update")
        edits = None
        if before:
            self.hooked[record.id] = event
            edits = HookEdits(event, record)
        # What a hook may not change (docs/plugins.md): only record.data, and record.unit in
        # before_create (routing) and before_update (moving the record to another unit). A
        # change of the others was not stored, yet the caller got it back (create returned
        # owner "bob" for a record admin owns) and later hooks saw it.
        pinned = (record.id, record.type, record.version, record.owner, record.owner_id, record.unit,
                  record.unit_id, record.created_at, record.updated_at, record.created_by, record.updated_by)
        try:
            for name, call in impls:
                try:
                    call(event, record, changes, self)
                except XrmError as e:
                    # ValidationError, Conflict…: the plugin's own, clear refusal — once its
                    # errors have the shape every interface prints.
                    malformed = malformed_errors(e)
                    if malformed:
                        bug = TypeError(f"{type(e).__name__}({e.message!r}) raised with malformed errors: {malformed}")
                        raise PluginError(name, f"xrm_record_event({event})", bug) from bug
                    raise
                except PLUGIN_FAILURES as e:  # noqa: BLE001 — any plugin failure refuses the change
                    raise PluginError(name, f"xrm_record_event({event})", e) from e
                if edits is not None:
                    edits.after(name, record)
            if edits:  # kept for the checks after the hooks: explained() names the plugins
                self.hook_edits[record.id] = edits
        finally:
            if before:
                self.hooked.pop(pinned[0], None)
            routed = record.unit
            (record.id, record.type, record.version, record.owner, record.owner_id, record.unit, record.unit_id,
             record.created_at, record.updated_at, record.created_by, record.updated_by) = pinned
            if before:
                record.unit = routed  # the caller resolves the unit a hook routed the record to

    def unique_conflict(self, et, data: dict, exc: IntegrityError, exclude: str | None = None) -> XrmError:
        """Turn a unique-index violation into a Conflict naming the field(s).

        The existing record's id is named (and given as ``existing``) only if the actor may
        read it: a record outside their scope must not show through an error message.
        """
        for key in et.unique_keys():
            values = [value_at(data, f) for f in key]
            if any(v is None for v in values):
                continue
            found = records.find_by_values(self, et, key, [tuple(values)])
            other = next((i for i in found.values() if i != exclude), None)
            if other:
                return self._duplicate(et, key, values, other)
        return Conflict(f"the change conflicts with stored data: {str(exc.orig).splitlines()[0]}")

    def _duplicate(self, et, key, values, other: str) -> Conflict:
        shown = ", ".join(f"{f}={orjson.dumps(v).decode()}" for f, v in zip(key, values))
        errors = [{"pointer": "/data/" + f.replace(".", "/"), "message": "already used"} for f in key]
        row = records._row(self, other)
        if row is not None and self.allows(row.type, "read", row):
            return Conflict(f"{_a(et.name)} {et.name} with {shown} already exists (record {other})", errors,
                            existing=other)
        return Conflict(f"{_a(et.name)} {et.name} with {shown} already exists", errors)


def _a(word: str) -> str:
    """The indefinite article of a type name in an English message: "an" before a vowel."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _check_payload(kind: dict, payload) -> None:
    """Refuse a payload that is not an object or fails the kind's ``payload`` schema."""
    if payload is not None and not isinstance(payload, dict):
        raise ValidationError("payload must be an object", [{"pointer": "/payload", "message": "not an object"}])
    problems = storage_errors(payload, "/payload") if payload else []
    if problems:
        raise ValidationError("the payload cannot be stored", problems)
    if "payload" in kind:
        validator = compile_schema(kind["payload"], f"https://xrm.dev/schemas/kinds/{kind['name']}.json")
        errors = errors_of(validator, payload or {}, "/payload")
        if errors:
            raise ValidationError(f"payload of {_a(kind['name'])} {kind['name']} is invalid", errors)
