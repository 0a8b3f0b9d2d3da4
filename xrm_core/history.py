"""Append-only activity history: what happened to a record, who did it and when.

The core writes ``created`` (the baseline data), ``updated`` (a field-level diff),
``deleted``, ``related`` and ``unrelated``; users log interactions of plugin-declared kinds.
Database triggers refuse any UPDATE or DELETE of an activity (see the migrations).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Select, and_, literal_column, or_, select, true, union_all
from sqlalchemy.sql.elements import ColumnElement

from . import db
from .fields import field_sql
from .validation import pointer, pointer_keys

if TYPE_CHECKING:
    from .scope import Actor
    from .session import Session

CORE_KINDS = ("created", "updated", "deleted", "related", "unrelated")
#: Kinds no plugin may declare (schemas/activity-kind.schema.json): the core's own, and
#: ``imported``, kept back for the core.
RESERVED_KINDS = (*CORE_KINDS, "imported")


@dataclass
class Activity:
    """One history entry (contract: ``{"id", "record", "kind", "at", "actor", "summary", "payload"}``)."""

    id: int
    record: str
    kind: str
    at: str
    actor: str
    summary: str | None
    payload: dict | None
    record_type: str | None = None

    def to_dict(self) -> dict:
        out = {"id": self.id, "record": self.record, "kind": self.kind, "at": self.at,
               "actor": self.actor, "summary": self.summary, "payload": self.payload}
        if self.record_type is not None:
            out["record_type"] = self.record_type
        return out


_MISSING = object()


def diff(old, new, path=()) -> dict[str, tuple]:
    """Field-level differences ``{json_pointer: (old, new)}``; absent values are None.

    Objects are compared key by key, in key order (code points), so the same change gives
    the same diff on both engines (PostgreSQL's JSONB does not keep the stored key order);
    arrays and scalars as whole values, as JSON compares them: ``1``, ``1.0`` and ``true``
    differ, at any depth.
    """
    out: dict[str, tuple] = {}
    if isinstance(old, dict) and isinstance(new, dict):
        for k in sorted(old.keys() | new.keys()):
            a, b = old.get(k, _MISSING), new.get(k, _MISSING)
            if a is _MISSING or b is _MISSING or not (isinstance(a, dict) and isinstance(b, dict)):
                if not same_json(a, b):
                    out[pointer(path + (k,))] = (None if a is _MISSING else a, None if b is _MISSING else b)
            else:
                out.update(diff(a, b, path + (k,)))
        return out
    if not same_json(old, new):
        out[pointer(path)] = (old, new)
    return out


def same_json(a, b) -> bool:
    """Equal as JSON values: Python's ``==`` with the types compared too, at every depth
    (``[1] == [True] == [1.0]`` in Python, but they are three different JSON documents)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_json(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return len(a) == len(b) and all(same_json(x, y) for x, y in zip(a, b))
    return a == b


def merge_patch(target, patch):
    """RFC 7396 JSON merge patch: returns the patched copy (``target`` is not modified)."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge_patch(result.get(k), v)
    return result


def changes_payload(changes: dict[str, tuple], before: dict, after: dict) -> list[dict]:
    """The ``changes`` of an ``updated`` activity: ``{"pointer", "old", "new", "op"}`` per
    change of ``diff(before, after)``.

    ``op`` is what happened at the pointer, in JSON Patch's words (RFC 6902): ``"add"`` (no
    member there before), ``"remove"`` (none after) or ``"replace"``. ``old`` and ``new``
    are ``null`` for an absent member, as in the ``changes`` hooks get, so without ``op`` a
    member removed could not be told from one set to ``null`` (which an update with
    ``replace_members`` can store inside an object).
    """
    out = []
    for p, (o, n) in changes.items():
        op = "add" if not has_pointer(before, p) else "remove" if not has_pointer(after, p) else "replace"
        out.append({"pointer": p, "old": o, "new": n, "op": op})
    return out


def has_pointer(doc, ptr: str) -> bool:
    """Does ``doc`` have a member at JSON pointer ``ptr`` (RFC 6901), through objects only,
    as :func:`diff` writes its pointers?"""
    node = doc
    for key in pointer_keys(ptr):
        if not isinstance(node, dict) or key not in node:
            return False
        node = node[key]
    return True


#: What :func:`log_many` writes: the columns :meth:`xrm_core.Session.log_activity` sets, one
#: row a batch as multi-row ``VALUES`` (SQLite), or all rows from arrays (PostgreSQL), where
#: ``ORDER BY`` the ordinality gives the ids in the order of the entries.
INSERT_SQL = ("INSERT INTO xrm_activities (record_id, record_type, unit_id, owner_id, kind, at, actor, summary, "
              "payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
INSERT_PG = ("INSERT INTO xrm_activities (record_id, record_type, unit_id, owner_id, kind, at, actor, summary, "
             "payload) SELECT record_id, record_type, unit_id, owner_id, kind, at, actor, summary, payload::jsonb "
             "FROM unnest(%b::text[], %b::text[], %b::int[], %b::int[], %b::text[], %b::text[], %b::text[], "
             "%b::text[], %b::text[]) WITH ORDINALITY AS t(record_id, record_type, unit_id, owner_id, kind, at, "
             "actor, summary, payload, n) ORDER BY n")


def log_many(s: "Session", entries, at: str | None = None) -> None:
    """Append one activity per ``(record, kind, summary, payload)`` of ``entries``, as
    :meth:`xrm_core.Session.log_activity` appends one: the same row for each (the record's
    id, type, unit and owner copied from ``record`` — a Record, or any row with ``id``,
    ``type``, ``unit_id`` and ``owner_id`` —, the session's actor, the payload stored as
    the JSON column stores it, ``null`` included), with ids increasing in the order of
    ``entries``. Written in a few multi-row statements instead of one INSERT each (about a
    hundred rows a statement on SQLite, one statement on PostgreSQL).

    Every entry gets the time ``at``, by default the current time read once: the
    activities of one batch share it, as those of one :meth:`Session.relate_many` do.
    Nothing is written while ``s.quiet_history`` is set.
    """
    if s.quiet_history:
        return
    at = at or db.utcnow()
    actor, as_json = s.actor.name, db.json_bytes
    db.insert_values(s.conn, INSERT_SQL, [
        (rec.id, rec.type, rec.unit_id, rec.owner_id, kind, at, actor, summary, as_json(payload).decode())
        for rec, kind, summary, payload in entries], INSERT_PG)


#: Kinds whose payload names another record in ``other``.
LINK_KINDS = ("related", "unrelated")


def visible_links(actor: "Actor", types: list[str], dialect: str) -> ColumnElement:
    """SQL condition over :data:`xrm_core.db.activities` leaving out the link activities
    (``related``/``unrelated``) whose other record is outside ``actor``'s read scope.

    A record outside the reader's scope does not exist for them, so neither does its link
    with a record they can see: the whole activity goes, not just the other id (its payload
    also names the relationship, and its summary the other record). Every other activity
    passes. Add the condition to the query that selects a timeline's activities, so a
    ``LIMIT`` counts only what the reader sees.

    The other record is judged as :meth:`xrm_core.Session.history` judges a record: on its
    row while it exists, on its (scoped, surviving) history once it is deleted. ``types``
    are the entity types to consider (a record of any other type is not readable);
    administrators see every link.
    """
    if actor.is_admin:
        return true()
    A = db.activities
    other = literal_column(field_sql(dialect, "other", None, f"{A.name}.payload"))
    R = db.records.alias("link_other")
    H = db.activities.alias("link_other_history")
    exists_now = select(R.c.id).where(R.c.id == other)
    readable_now = exists_now.where(actor.clause_any_type(types, "read", R, R.c.type))
    readable_history = select(H.c.id).where(
        H.c.record_id == other, actor.clause_any_type(types, "read", H, H.c.record_type))
    return or_(A.c.kind.not_in(LINK_KINDS),
               readable_now.exists(),
               and_(~exists_now.exists(), readable_history.exists()))


def timeline_select(own: ColumnElement, related_ids: Select | None, conditions: list,
                    newest_first: bool, limit: int | None, dialect: str) -> Select:
    """The SELECT of a timeline page: the activities matching ``own`` (those of the record)
    or held by the records ``related_ids`` selects (those related to it; None: none), each
    also matching every one of ``conditions``, in the order of (``at``, id) — the latest
    first with ``newest_first`` — at most ``limit`` of them (None: all).

    On SQLite, with related records and a limit, each part is read on its own, ordered and
    limited, then the two merged: the record's own part reads just a page from the index
    ``(record_id, at, id)`` (revision 0008), where one ``own OR related`` condition made
    SQLite collect and sort every activity of the record (10,000 for a busy one) for each
    page: 18 → 9 ms for a record with 10,000 activities and 10,000 links (measured). The
    related part still sorts the activities of every related record: they share no index
    order.

    PostgreSQL keeps the one condition: it reads the related ids once into a hash and
    filters the activities with it, taking the top of them without sorting all. Split, it
    planned the related part as a semi join comparing every record with every link (8.8 s;
    with ``= ANY(ARRAY(…))`` instead, 2.2 s: each activity compared with the 10,000 ids).
    """
    A = db.activities

    def ordered(cols):
        return [cols.at.desc(), cols.id.desc()] if newest_first else [cols.at, cols.id]

    if related_ids is None or not limit or dialect != "sqlite":
        cond = own if related_ids is None else or_(own, A.c.record_id.in_(related_ids))
        q = select(A).where(cond, *conditions).order_by(*ordered(A.c))
        return q.limit(limit) if limit else q
    parts = [select(A).where(cond, *conditions).order_by(*ordered(A.c)).limit(limit).subquery()
             for cond in (own, A.c.record_id.in_(related_ids))]
    merged = union_all(*(select(part) for part in parts)).subquery()
    return select(merged).order_by(*ordered(merged.c)).limit(limit)
