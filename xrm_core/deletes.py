"""Deleting a record: the ``on_delete`` of its relationships, its cascades, the record
event hooks around each record and the history.

``on_delete`` says what deleting the *source* of a relationship does: ``restrict`` refuses,
``cascade`` deletes the target too, ``unlink`` only removes the relationship; deleting a
target always unlinks. A delete no record hook takes part in is planned in memory and
written set-based (:mod:`xrm_core.planned_deletes`); the others go one record at a time,
here.

One record at a time used to mean one Python call chain per cascade level, and a chain of
a few hundred records ended in RecursionError. Each record's delete is a generator
instead: where it reaches a record to cascade to, it yields that record's delete, and
:func:`_run` drives the stack of them: any depth, the same order of hooks, statements and
history as the recursion had, and an error raised in a cascaded delete is thrown into the
delete that reached it, at the point it reached it.
"""
from __future__ import annotations

from collections.abc import Generator
from typing import TYPE_CHECKING

from sqlalchemy import bindparam, delete as delete_stmt, or_, select

from . import db, history, records, removals
from .errors import Conflict, NotFound, PermissionDenied, PreconditionFailed
from .relationships import REL, _visible, load_all

if TYPE_CHECKING:
    from .records import Record
    from .session import Session

R = db.records

#: What a step of a delete yields: the delete of a record it cascades to, to run first.
Steps = Generator["Steps", None, None]

#: Built once, as :data:`_BY_ID`: a cascade deletes one record after another.
_DELETE_BY_ID = R.delete().where(R.c.id == bindparam("record_id"))


def delete(s: "Session", record_id: str, *, if_version: int | None = None) -> removals.Deleted:
    """Delete a record, honouring each relationship type's ``on_delete``.

    ``restrict`` refuses (Conflict) unless the same delete removes the target too (through
    a cascade), ``cascade`` deletes the targets too (each needs the caller's delete
    permission), ``unlink`` and relationships where the record is the target are just
    removed. All or nothing. With ``if_version``, refuse (PreconditionFailed) unless the
    stored version matches, checked on the row as locked for the delete.

    When no record event hook is called for any record the delete removes, the whole
    delete is planned in memory and written set-based
    (:func:`xrm_core.planned_deletes.delete_without_hooks`: the same outcome, a few
    statements per 500 records, any depth); else it goes one record at a time, each
    record's ``before_delete`` and ``after_delete`` hooks around its own delete.

    Returns what went (:class:`xrm_core.removals.Deleted`): every record and relationship
    the delete removed, those its records' hooks removed or made it remove included.
    """
    from . import planned_deletes
    row = records._load(s, record_id, "delete", lock=True)
    if if_version is not None and row.version != if_version:
        raise PreconditionFailed(f"record {record_id} is at version {row.version}, not {if_version}")
    rec = records.from_row(s, row)
    done = removals.Removals()
    s.removals.append(done)
    try:
        with s.conn.begin_nested():
            # (planned: no record hook takes part, the whole delete planned and written at once)
            if not planned_deletes.delete_without_hooks(s, rec):
                _run(_delete_steps(s, rec, DeleteRun(s, record_id)))
    finally:
        s.removals.pop()
    if s.removals:  # a hook's delete inside another delete: what went, went with that one too
        s.removals[-1].take(done)
    return removals.finish(s, done)


def _run(first: Steps) -> None:
    """Drive the delete ``first`` and the deletes its cascades yield, depth first, as the
    recursion did: a yielded delete runs to its end before the one that yielded it goes on;
    what it raises is raised in that one at its ``yield``."""
    stack, error = [first], None
    while stack:
        steps = stack[-1]
        try:
            if error is None:
                reached = next(steps)
            else:  # cleared first: a delete that handles it and ends must not pass it on
                thrown, error = error, None
                reached = steps.throw(thrown)
        except StopIteration:
            stack.pop()
            continue
        except BaseException as e:  # noqa: BLE001 — goes to the delete that reached this one
            stack.pop()
            if not stack:
                raise
            error = e
            continue
        stack.append(reached)


def _cascaded_delete(s: "Session", record_id: str, seen: "DeleteRun") -> Steps:
    """The steps of deleting ``record_id``, which a cascade of this delete reached.

    It runs inside the savepoint of the delete that reached it, and whatever it raises
    fails that one too (:func:`_cascade` lets nothing through): a savepoint of its own
    would cost two statements per record for nothing.
    """
    rec = records.from_row(s, records._load(s, record_id, "delete", lock=True))
    yield from _delete_steps(s, rec, seen)


def _delete_steps(s: "Session", rec: "Record", seen: "DeleteRun") -> Steps:
    """The delete of ``rec`` (read and locked): its ``before_delete`` hooks, the
    ``on_delete`` of its relationships (yielding the deletes it cascades to), the DELETE,
    the ``deleted`` activity and its ``after_delete`` hooks."""
    s.fire("before_delete", rec, {})
    yield from before_record_delete(s, rec, seen)
    if s.conn.execute(_DELETE_BY_ID, {"record_id": rec.id}).rowcount == 0:
        return  # a hook of a record this delete cascaded to deleted it, history and events included
    removals.note_record(s, rec.id, rec, rec.data)
    # The row Session.log_activity would write, without building an INSERT per record
    # of a cascade.
    history.log_many(s, [(rec, "deleted", f"deleted {rec.type}", {"data": rec.data, "version": rec.version})])
    s.fire("after_delete", rec, {})


class DeleteRun(set):
    """The ids one delete (with its cascades) has reached so far, so a cascade through a
    cycle stops; and :meth:`doomed`, every record it removes in the end."""

    def __init__(self, s: "Session", record_id: str):
        super().__init__((record_id,))
        self._s = s
        self._doomed: set[str] | None = None

    def doomed(self) -> set[str]:
        """Every record this delete removes: those reached so far and what their stored
        ``cascade`` relationships reach. Computed once, on first need.

        Relationships already removed by this delete do not hide anything: a cascade
        relationship is removed just before the delete reaches its target, and a
        relationship to a record being deleted once that record is reached.
        """
        if self._doomed is None:
            cascading = [n for n, d in load_all(self._s.conn).items() if d.get("on_delete") == "cascade"]
            doomed, frontier = set(self), list(self)
            while frontier and cascading:
                found = set()
                for i in range(0, len(frontier), 500):
                    found.update(self._s.conn.execute(
                        select(REL.c.target_id).where(REL.c.type.in_(cascading),
                                                      REL.c.source_id.in_(frontier[i:i + 500]))).scalars())
                frontier = sorted(found - doomed)
                doomed.update(frontier)
            self._doomed = doomed
        return self._doomed

    def forget_doomed(self) -> None:
        """Compute :meth:`doomed` afresh on its next call (relationships changed meanwhile)."""
        self._doomed = None


def before_record_delete(s: "Session", rec: "Record", seen: DeleteRun) -> Steps:
    """Apply ``on_delete`` of every relationship touching ``rec`` before it is deleted.

    ``seen`` holds the ids being deleted by this one delete, so cascades through a cycle stop.
    A ``restrict`` relationship refuses the delete unless its target goes too, by a cascade
    of the same delete: the outcome never depends on the order relationships are visited in.

    The record event hooks of the records a cascade deletes run in between, and may write
    the record being deleted: relationships they give it are handled the same way (a round
    more, so none is left to block the delete), and ``rec`` is brought up to the stored
    state, so the ``deleted`` activity and the ``after_delete`` hooks see what was deleted.
    """
    rows, rounds, hooks_ran = _touching(s, rec), 0, bool(s.platform.record_event_impls(rec.type))
    while rows:
        if rounds == MAX_DELETE_ROUNDS:
            raise Conflict(f"cannot delete {rec.id}: record event hooks keep relating it to records while its "
                           f"relationships are removed ({MAX_DELETE_ROUNDS} rounds)",
                           [{"pointer": "/relationships", "message": "still related"}])
        if rounds:
            seen.forget_doomed()  # hooks related records since it was computed
        cascaded = yield from _unlink_all(s, rec, rows, seen)
        rounds += 1
        hooks_ran = hooks_ran or cascaded
        # Only the hooks of cascaded deletes run in between: without one, nothing new.
        rows = _touching(s, rec) if cascaded else []
    if hooks_ran:  # its own before_delete hooks, or a cascaded record's, may have written it
        _refresh(s, rec)


#: Built once: a cascade runs them once per record it deletes.
_TOUCHING = (select(REL.c.id, REL.c.type, REL.c.source_id, REL.c.target_id)
             .where(or_(REL.c.source_id == bindparam("record_id"), REL.c.target_id == bindparam("record_id")))
             .order_by(REL.c.id))
_DELETE_ONE = delete_stmt(REL).where(REL.c.id == bindparam("rel_id"))


def _touching(s: "Session", rec: "Record") -> list:
    """The stored relationships of ``rec``, either direction, in id order (the columns the
    delete needs: not their data)."""
    return s.conn.execute(_TOUCHING, {"record_id": rec.id}).all()


#: Rounds of :func:`before_record_delete` before hooks that relate the record being deleted
#: again and again (a plugin's loop) are refused rather than followed for ever.
MAX_DELETE_ROUNDS = 20


#: Relationships (or records) a statement of the delete names by id at most: well under
#: SQLite's 999 parameters before 3.32 and PostgreSQL's 65,535.
DELETE_CHUNK = 500


def _unlink_all(s: "Session", rec: "Record", rows, seen: DeleteRun) -> Generator["Steps", None, bool]:
    """Apply ``on_delete`` of ``rows`` (in their order); whether any of them cascaded.

    A ``cascade`` relationship of ``rec`` is removed just before its target is deleted,
    through :func:`_cascaded_delete` (the caller's permission and the record hooks, per
    record). Every other one — ``unlink`` or ``restrict`` (its target doomed) of ``rec``, or
    any where ``rec`` is the target — is only removed, and its other end gets an
    ``unrelated`` activity: the runs of those between two cascades go by set-based
    statements (:func:`_remove_links`), a few per 500 relationships instead of several each.
    A run goes before the cascade after it, so the activities come in the order the
    relationships were visited one by one (their ids), a cascaded delete's in between.
    """
    _refuse_restricted(s, rec, rows, seen)
    cascaded, run = False, []
    for row in rows:
        if row.source_id == rec.id and s.relationship_type(row.type).get("on_delete") == "cascade":
            _remove_links(s, rec, run)
            run = []
            if s.conn.execute(_DELETE_ONE, {"rel_id": row.id}).rowcount == 0:
                continue  # already removed by a cascade deleting its other end
            removals.note_links(s, [row])
            yield from _cascade(s, rec, row, row.target_id, seen)
            cascaded = True
        else:
            run.append(row)
    _remove_links(s, rec, run)
    return cascaded


def _refresh(s: "Session", rec: "Record") -> None:
    """Bring ``rec`` up to its stored row if a hook updated it during the delete (one of its
    own ``before_delete`` hooks, or one of a record a cascade deleted)."""
    row = records._row(s, rec.id)
    if row is None or row.version == rec.version:
        return
    fresh = records.from_row(s, row)
    for attr in ("data", "version", "updated_at", "updated_by"):
        setattr(rec, attr, getattr(fresh, attr))


def _refuse_restricted(s: "Session", rec: "Record", rows, run: DeleteRun) -> None:
    blocked = [r for r in rows
               if r.source_id == rec.id and s.relationship_type(r.type).get("on_delete") == "restrict"]
    if blocked:
        doomed = run.doomed()
        blocked = [r for r in blocked if r.target_id not in doomed]
    if blocked:
        raise restrict_refusal(s, rec.id, blocked)


def restrict_refusal(s: "Session", record_id: str, blocked, via: tuple[str, tuple[str, ...]] | None = None
                     ) -> Conflict:
    """The refusal of deleting ``record_id``: its ``restrict`` relationships ``blocked`` go
    to records that stay.

    ``via`` is ``(root, path)`` when a cascade of deleting ``root`` reached ``record_id``
    through the relationship types ``path``: the message then starts from the record the
    caller asked to delete and says the way there (the caller may delete every record on
    it, or the cascade would have been refused for that first). The error carries
    ``restricted`` (``record_id`` and ``blocked``) and ``cascade_path``, so a delete further
    up a chain can say its own way."""
    types = ", ".join(sorted({r.type for r in blocked}))
    if via is None:
        start = f"cannot delete {record_id}: its relationship type(s) {types}"
    else:
        start = (f"cannot delete {via[0]}: its {_said_path(via[1])} relationships cascade to {record_id}, "
                 f"whose relationship type(s) {types}")
    err = Conflict(f"{start} restrict deleting the source; remove the relationships first",
                   [{"pointer": "/relationships",
                     "message": f"{r.type} → {r.target_id if _visible(s, r.target_id) else 'a hidden record'}"}
                    for r in blocked])
    err.restricted = (record_id, blocked)
    err.cascade_path = () if via is None else via[1]
    return err


def _said_path(path: tuple[str, ...]) -> str:
    """A chain of relationship types in a message: ``'a' → 'b'``; one longer than eight by
    its ends (``'a' → 'a' → 'a' → … (94 more) … → 'a' → 'a' → 'a'``)."""
    shown = list(map(repr, path))
    if len(shown) > 8:
        shown = [*shown[:3], f"… ({len(shown) - 6} more) …", *shown[-3:]]
    return " → ".join(shown)


def _cascade(s: "Session", rec: "Record", row, other_id: str, seen: DeleteRun) -> Steps:
    if other_id in seen:
        return  # a cycle: that record is already being deleted
    seen.add(other_id)
    try:
        yield _cascaded_delete(s, other_id, seen)
    except (NotFound, PermissionDenied) as e:
        # Do not tell which record: the caller may not even see it. Do tell the way there:
        # the record may be further down a chain of cascades (a holding's trades), and the
        # first relationship alone would send the caller to records they may delete.
        raise cascade_refusal(rec.id, (row.type, *getattr(e, "cascade_path", ()))) from None
    except Conflict as e:
        restricted = getattr(e, "restricted", None)
        if restricted is None:
            raise  # not a restrict (a plugin's own Conflict): as it was raised
        # Said from the record the caller asked to delete, with the way there: the id of a
        # record a cascade reached is one they never typed.
        raise restrict_refusal(s, *restricted, via=(rec.id, (row.type, *e.cascade_path))) from None


def cascade_refusal(record_id: str, path: tuple[str, ...]) -> PermissionDenied:
    """The refusal of deleting ``record_id``: the chain of relationship types ``path``
    cascades to a record the actor may not delete (which one is not said: they may not
    even see it). A chain longer than eight is shown by its ends; ``cascade_path`` on the
    error holds all of it."""
    err = PermissionDenied(f"cannot delete {record_id}: its {_said_path(path)} relationships "
                           f"cascade to a record you may not delete")
    err.cascade_path = path
    return err


def _remove_links(s: "Session", rec: "Record", rows) -> None:
    """Remove the relationships ``rows`` of ``rec`` (being deleted) and write an
    ``unrelated`` activity on the other end of each, in the order of ``rows``.

    One DELETE per :data:`DELETE_CHUNK` relationships, one SELECT of the other ends per as
    many records, the activities in one batch (:func:`history.log_many`). A relationship a
    cascade of this delete removed meanwhile (with its other end) is left out, as a link
    already gone. The other end is read whatever the actor's scope: a link to a record
    they cannot see is removed and logged all the same.
    """
    if not rows:
        return
    removed = []
    for i in range(0, len(rows), DELETE_CHUNK):
        part = rows[i:i + DELETE_CHUNK]
        gone = delete_relationship_rows(s, [r.id for r in part])
        removed.extend(r for r in part if r.id in gone)
    removals.note_links(s, removed)
    if s.quiet_history:
        return  # history.log_many would write nothing: no need to read the other ends
    other_ids = sorted({r.target_id if r.source_id == rec.id else r.source_id for r in removed})
    others = {}
    for i in range(0, len(other_ids), DELETE_CHUNK):
        others.update((o.id, o) for o in s.conn.execute(
            select(db.records.c.id, db.records.c.type, db.records.c.unit_id, db.records.c.owner_id)
            .where(db.records.c.id.in_(other_ids[i:i + DELETE_CHUNK]))))
    removals.note_ends(s, others.values())
    entries = []
    for row in removed:
        outgoing = row.source_id == rec.id
        other = others.get(row.target_id if outgoing else row.source_id)
        if other is None:
            continue
        entries.append((other, "unrelated", f"{row.type} with {rec.type} {rec.id} removed (deleted)",
                        {"relationship": row.id, "type": row.type, "direction": "incoming" if outgoing else "outgoing",
                         "other": rec.id, "reason": "deleted"}))
    history.log_many(s, entries)


def delete_relationship_rows(s: "Session", ids: list[str]) -> set[str]:
    """DELETE the relationships ``ids``; the ids of those it removed (a concurrent writer,
    or a cascade of this delete, may have removed some already)."""
    return delete_rows(s, REL, ids)


def delete_rows(s: "Session", table, ids: list[str]) -> set[str]:
    """DELETE the rows of ``table`` whose ``id`` is in ``ids``; the ids of those it removed."""
    q = delete_stmt(table).where(table.c.id.in_(ids))
    if s.conn.dialect.delete_returning:
        return set(s.conn.execute(q.returning(table.c.id)).scalars())
    # SQLite before 3.35 (no RETURNING): one writer at a time, so what is there now goes.
    present = set(s.conn.execute(select(table.c.id).where(table.c.id.in_(ids))).scalars())
    s.conn.execute(q)
    return present

