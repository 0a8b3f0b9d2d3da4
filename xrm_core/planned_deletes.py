"""Deletes no record event hook takes part in: planned in memory, written set-based.

A cascade goes one record at a time in :mod:`xrm_core.deletes` (delete → before_record_delete
→ _cascade → the cascaded record's delete …): five statements per record, so 20,000
cascaded records took seconds (several round trips each on PostgreSQL). When no record the delete removes has record
event hooks, nothing can change the graph while the delete runs: it is read once, the
one-by-one delete is replayed in memory in its own order (so the refusals and the history
come out exactly as that order gives them), and the outcome is written in a few
statements per 500 records.

:func:`xrm_core.deletes.delete` tries :func:`delete_without_hooks` first; the one-by-one
path (:mod:`xrm_core.deletes`, ``before_record_delete``) stays for deletes a hook
takes part in, and is the oracle the tests compare this one with.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select, true

from . import db, history, records, removals
from .deletes import DELETE_CHUNK, cascade_refusal, delete_relationship_rows, delete_rows, restrict_refusal
from .relationships import REL, load_all

if TYPE_CHECKING:
    from .records import Record
    from .session import Session

_TOUCHING_FROM = select(REL.c.id, REL.c.type, REL.c.source_id, REL.c.target_id)


def delete_without_hooks(s: "Session", rec: "Record") -> bool:
    """Delete ``rec`` (read, locked and checked by :func:`xrm_core.deletes.delete`) and everything
    its ``cascade`` relationships reach, when no record event hook is called for any of
    those records; returns False, having written nothing, when one is (the caller then
    deletes one record at a time, hooks and all), when nothing cascades, or when another
    transaction changed the cascades between their recursive read and the locks (PostgreSQL).

    The outcome is that of the one-by-one delete: the same refusal — a ``restrict`` to a
    record that stays (Conflict naming the record it starts from), a cascade into a record
    the actor may not delete (PermissionDenied naming the root and the chain of
    relationship types to it) — raised before anything is written; else the same records
    and relationships removed, each record once (cycles, records reached twice), and the
    same activities in the same order: the other end's ``unrelated`` for every relationship
    only removed, each removed record's ``deleted`` after its own relationships were dealt
    with.
    """
    impls = s.platform.record_event_impls
    if impls(rec.type):
        return False
    definitions = load_all(s.conn)
    kinds = {name: d.get("on_delete", "unlink") for name, d in definitions.items()}
    cascading = sorted(name for name, kind in kinds.items() if kind == "cascade")
    if not any(definitions[n].get("source") in (rec.type, "*") for n in cascading):
        return False  # nothing can cascade from this record: no recursive read for every plain delete
    reached = _reached(s.dialect, rec.id, cascading)
    doomed = _doomed_rows(s, rec, reached)
    if doomed is None or len(doomed) == 1:
        # With nothing to cascade to, the record alone goes as fast one record at a time
        # (its relationships are removed set-based: deletes._unlink_all).
        return False
    links: dict[str, object] = {}
    ids = select(reached.c.id)
    for column in (REL.c.source_id, REL.c.target_id):
        links.update((r.id, r) for r in s.conn.execute(_TOUCHING_FROM.where(column.in_(ids))))
    if _cascades_from(rec.id, links.values(), kinds) != doomed.keys():
        # Another transaction changed the cascades between the recursive read and the locks
        # (PostgreSQL, READ COMMITTED: a relationship inserted before the locks were taken and
        # committed while this delete waited for them is read by the next statement only). A
        # record reached now but not locked, or locked but no longer reached, would make the
        # plan wrong (a cascade refused as a record "you may not delete", a restrict let
        # through): the one-by-one delete reads each record's relationships once it holds it.
        return False
    plan = _replay(s, rec, doomed, links, kinds)
    _write(s, doomed, plan, links)
    return True


def _reached(dialect: str, record_id: str, cascading: list[str]):
    """A recursive CTE of the ids of ``record_id`` and of every record its stored
    relationships of the types ``cascading`` reach, at any depth (UNION, not UNION ALL: a
    cycle ends when it comes round)."""
    R = db.records
    reached = select(R.c.id).where(R.c.id == record_id).cte("xrm_reached", recursive=True)
    if not cascading:
        return reached
    if dialect == "postgresql":
        # Each step looks its records' relationships up by index. PostgreSQL plans the
        # recursive step once, for a guessed number of rows: a plain join was planned as a
        # hash join over every relationship of the types, once per level — a chain 5,000
        # records deep read 5,000 × 5,000 rows. A LATERAL subquery is run per row (OFFSET 0
        # keeps the planner from pulling it up into the same join).
        step = (select(REL.c.target_id).where(REL.c.source_id == reached.c.id, REL.c.type.in_(cascading))
                .offset(0).lateral())
        return reached.union(select(step.c.target_id).select_from(reached.join(step, true())))
    return reached.union(select(REL.c.target_id).join(reached, REL.c.source_id == reached.c.id)
                         .where(REL.c.type.in_(cascading)))


def _cascades_from(root_id: str, links, kinds: dict[str, str]) -> set[str]:
    """The ids of ``root_id`` and of every record the ``cascade`` relationships among
    ``links`` reach from it: what :func:`_reached` read, as the relationships read after the
    locks give it."""
    targets: dict[str, list[str]] = {}
    for row in links:
        if kinds.get(row.type) == "cascade":
            targets.setdefault(row.source_id, []).append(row.target_id)
    found, frontier = {root_id}, [root_id]
    while frontier:
        for target in targets.get(frontier.pop(), ()):
            if target not in found:
                found.add(target)
                frontier.append(target)
    return found


#: What the plan reads of each record it reaches: enough to check the actor's permissions
#: and to log. Not its data: a delete refused at its first cascade read every record the
#: cascades reach, data and all (20,000 records of 2 kB: 80 MB for a refusal); the data of
#: the records actually deleted is read when the plan is written (:func:`_data_of`).
_CHECKED = (db.records.c.id, db.records.c.type, db.records.c.version, db.records.c.owner_id,
            db.records.c.unit_id)


def _doomed_rows(s: "Session", rec: "Record", reached) -> dict | None:
    """``{id: row}`` (:data:`_CHECKED`; ``rec`` itself for its id) of the records ``reached``
    holds, locked on PostgreSQL as deletes.delete locks each; None when one of them has
    record event hooks."""
    R = db.records
    q = select(*_CHECKED).where(R.c.id.in_(select(reached.c.id)), R.c.id != rec.id)
    if s.dialect == "postgresql":
        # In id order: two deletes reaching the same records lock them in the same order
        # (each one's root is locked first, by deletes.delete).
        q = q.with_for_update(of=R).order_by(R.c.id)
    impls = s.platform.record_event_impls
    doomed: dict[str, object] = {rec.id: rec}
    for row in s.conn.execute(q):
        if impls(row.type):
            return None
        doomed[row.id] = row
    return doomed


class _Plan:
    """What the replayed delete removes and logs, in order."""

    def __init__(self):
        self.links: list[str] = []      # relationship ids, in the order removed
        self.records: list[str] = []    # record ids, in the order deleted
        #: the relationship type of the cascade that reached each record (:func:`preview`)
        self.reached_by: dict[str, str] = {}
        #: activities in order, as (kind, relationship row or None, record id): ("deleted",
        #: None, the record deleted) or ("unrelated", the relationship removed, the record
        #: being deleted — the activity goes on its other end)
        self.activities: list[tuple] = []


def _replay(s: "Session", root: "Record", doomed: dict, links: dict, kinds: dict[str, str]) -> _Plan:
    """The one-by-one delete of ``root`` run in memory (see :func:`delete_without_hooks`):
    depth first, each record's relationships in id order, a run of relationships that are
    only removed logged before the cascade after it. Raises its first refusal."""
    touching: dict[str, list] = {rid: [] for rid in doomed}
    for row in sorted(links.values(), key=lambda r: r.id):
        for end in {row.source_id, row.target_id}:
            if end in touching:
                touching[end].append(row)
    plan, removed, seen = _Plan(), set(), {root.id}

    def take(rid: str, run: list) -> None:  # relationships only removed: their other end logs
        for row in run:
            if row.id not in removed:
                removed.add(row.id)
                plan.links.append(row.id)
                plan.activities.append(("unrelated", row, rid))

    # A frame: [record id, the way there (None for the root, else the frame it was reached
    # from and the relationship type: kept as links, a tuple per record would grow with the
    # depth), its relationships as read when reached, the next one to visit, the run not
    # yet removed].
    stack = [_enter(s, root, root.id, None, touching, removed, doomed, kinds)]
    while stack:
        rid, _way, rows, at, run = frame = stack[-1]
        while at < len(rows):
            row = rows[at]
            at += 1
            if row.source_id == rid and kinds.get(row.type) == "cascade":
                take(rid, run)
                run.clear()
                if row.id in removed:
                    continue  # removed with a record a cascade reached before
                removed.add(row.id)
                plan.links.append(row.id)
                if row.target_id in seen:
                    continue  # a cycle, or a record reached twice: deleted once
                seen.add(row.target_id)
                frame[3] = at
                stack.append(_enter(s, root, row.target_id, (frame, row.type), touching, removed, doomed, kinds))
                break
            run.append(row)
        else:
            take(rid, run)
            plan.records.append(rid)
            plan.activities.append(("deleted", None, rid))
            stack.pop()
    return plan


def _enter(s: "Session", root: "Record", rid: str, way, touching: dict, removed: set, doomed: dict,
           kinds: dict[str, str]) -> list:
    """The frame of ``rid`` as the one-by-one delete reaches it: the checks of deletes.delete
    (the actor may read and delete it; a cascaded one refused names the root and the chain)
    and of :func:`xrm_core.deletes._refuse_restricted`, then its relationships still stored, in id order."""
    # (No check of s.hooked as records._load makes: a record whose before_* hooks run now
    # has hooks, so the planned path never reaches it.)
    if way is not None:
        row = doomed.get(rid)
        if row is None or not (s.allows(row.type, "read", row) and s.allows(row.type, "delete", row)):
            raise cascade_refusal(root.id, _chain(way))
    rows = [r for r in touching.get(rid, ()) if r.id not in removed]
    blocked = [r for r in rows if r.source_id == rid and kinds.get(r.type) == "restrict" and r.target_id not in doomed]
    if blocked:
        raise restrict_refusal(s, rid, blocked, via=None if way is None else (root.id, _chain(way)))
    return [rid, way, rows, 0, []]


def _chain(way) -> tuple[str, ...]:
    """The relationship types of the cascades from the root to the frame ``way`` leads to."""
    chain = []
    while way is not None:
        chain.append(way[1])
        way = way[0][1]
    return tuple(reversed(chain))


def _write(s: "Session", doomed: dict, plan: _Plan, links: dict) -> None:
    """Store what :func:`_replay` planned: the relationships, then the records (the former
    refer to the latter), then the activities in one batch. ``links``: the relationships
    read, by id. What went is noted for the delete's outcome (:mod:`xrm_core.removals`)."""
    # (read even without history: the delete's outcome carries the data of what went)
    data = _data_of(s, doomed, plan.records)
    gone: set[str] = set()
    for i in range(0, len(plan.links), DELETE_CHUNK):
        gone |= delete_relationship_rows(s, plan.links[i:i + DELETE_CHUNK])
    deleted: set[str] = set()
    for i in range(0, len(plan.records), DELETE_CHUNK):
        deleted |= delete_rows(s, db.records, plan.records[i:i + DELETE_CHUNK])
    removals.note_links(s, [links[lid] for lid in plan.links if lid in gone])
    for rid in plan.records:
        if rid in deleted:
            removals.note_record(s, rid, doomed[rid], data[rid])
    if s.quiet_history:
        return
    # The other ends that stay (read whatever the actor's scope, as _remove_links reads them).
    others = sorted({r.target_id if r.source_id == rid else r.source_id
                     for kind, r, rid in plan.activities if kind == "unrelated"} - doomed.keys())
    ends = dict(doomed)
    for i in range(0, len(others), DELETE_CHUNK):
        ends.update((o.id, o) for o in s.conn.execute(
            select(db.records.c.id, db.records.c.type, db.records.c.unit_id, db.records.c.owner_id)
            .where(db.records.c.id.in_(others[i:i + DELETE_CHUNK]))))
    removals.note_ends(s, [ends[o] for o in others if o in ends])
    entries = []
    for kind, row, rid in plan.activities:
        if kind == "deleted":
            rec = doomed[rid]
            if rid in deleted:
                entries.append((rec, "deleted", f"deleted {rec.type}", {"data": data[rid], "version": rec.version}))
            continue
        outgoing = row.source_id == rid
        other = ends.get(row.target_id if outgoing else row.source_id)
        if row.id in gone and other is not None:
            rec = doomed[rid]
            entries.append((other, "unrelated", f"{row.type} with {rec.type} {rid} removed (deleted)",
                            {"relationship": row.id, "type": row.type,
                             "direction": "incoming" if outgoing else "outgoing", "other": rid, "reason": "deleted"}))
    history.log_many(s, entries)


def _data_of(s: "Session", doomed: dict, ids: list[str]) -> dict:
    """``{id: data}`` of the records ``ids`` (before they are deleted: their ``deleted``
    activity keeps it), read :data:`DELETE_CHUNK` at a time; the root's from its Record.
    Locked already (PostgreSQL) or the only writer (SQLite): what the plan checked."""
    out, rest, R = {}, [], db.records
    for rid in ids:
        rec = doomed[rid]
        if isinstance(rec, records.Record):
            out[rid] = rec.data
        else:
            rest.append(rid)
    for i in range(0, len(rest), DELETE_CHUNK):
        out.update(s.conn.execute(select(R.c.id, R.c.data).where(R.c.id.in_(rest[i:i + DELETE_CHUNK]))).all())
    return out


def preview(s: "Session", rec: "Record") -> _Plan:
    """What deleting ``rec`` would remove, read without writing or locking anything: the
    plan of :func:`delete_without_hooks` (``records`` in the order deleted, ``rec`` last;
    ``links``, the relationship ids removed), or the refusal the delete would raise — a
    ``restrict`` anywhere down its cascades (Conflict), a cascade into a record the actor
    may not read or delete (PermissionDenied, which record not said).

    For a confirmation page: it names only what the delete then does, and a record the
    actor cannot read is never counted, since a cascade into one refuses the delete. Record
    event hooks are not run: what a hook would add to the delete is not in the plan.
    """
    kinds = {name: d.get("on_delete", "unlink") for name, d in load_all(s.conn).items()}
    cascading = sorted(name for name, kind in kinds.items() if kind == "cascade")
    reached = _reached(s.dialect, rec.id, cascading)
    R = db.records
    doomed: dict[str, object] = {rec.id: rec}
    doomed.update((row.id, row) for row in s.conn.execute(
        select(*_CHECKED).where(R.c.id.in_(select(reached.c.id)), R.c.id != rec.id)))
    ids = select(reached.c.id)
    links: dict[str, object] = {}
    for column in (REL.c.source_id, REL.c.target_id):
        links.update((r.id, r) for r in s.conn.execute(_TOUCHING_FROM.where(column.in_(ids))))
    plan = _replay(s, rec, doomed, links, kinds)
    # (by the cascade that reached each record: the confirmation page says which)
    plan.reached_by = {links[lid].target_id: links[lid].type for lid in reversed(plan.links)
                       if kinds.get(links[lid].type) == "cascade" and links[lid].target_id != rec.id}
    return plan
