"""What one delete removed: the records and relationships that really went, for the caller
to name ("Deleted Ward 3 and 2 related records: Bed 12, Bed 14").

Read before a delete, what its cascades reach is a guess: a record event hook may relate
another record to one being deleted (its ``on_delete`` then takes it too), delete a record
or remove a relationship itself. So the delete notes each removal as it writes it, in
:class:`Removals` — one per running delete, on a stack the session keeps
(:attr:`xrm_core.session.Session.removals`): a delete a hook runs inside another one notes
its removals there, and they count for the outer one when the inner one succeeds; a refused
one (its savepoint rolled back) counts for nothing. :func:`finish` then sorts what went into
what the acting user may see (:class:`Deleted`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import select

from . import db

if TYPE_CHECKING:
    from .records import Record
    from .session import Session

#: Record ids a statement names at most (as deletes.DELETE_CHUNK; not imported: deletes imports this).
_CHUNK = 500


@dataclass(frozen=True)
class DeletedRecord:
    """A record a delete removed. ``readable``: the acting user may read it (as it was);
    ``record`` is then the record as deleted (a :class:`~xrm_core.records.Record`, its
    data included), else None — name a hidden record by nothing but its count."""

    id: str
    type: str
    readable: bool
    record: "Record | None" = None


@dataclass(frozen=True)
class DeletedLink:
    """A relationship a delete removed (by its ``on_delete``, or a hook's ``unrelate``):
    ``readable`` when the acting user may read both its ends."""

    id: str
    type: str
    source: str
    target: str
    readable: bool


@dataclass(frozen=True)
class Deleted:
    """What :meth:`xrm_core.session.Session.delete` removed: ``records`` in the order they
    went (the one asked for after those its cascades took; a record a hook deleted where it
    did) and ``links``, the relationships removed, in the order they went."""

    records: tuple[DeletedRecord, ...] = ()
    links: tuple[DeletedLink, ...] = ()

    def others(self, record_id: str) -> list[DeletedRecord]:
        """The records removed besides ``record_id`` (the one asked for): what went with it."""
        return [r for r in self.records if r.id != record_id]


@dataclass
class Removals:
    """What a running delete has removed so far, as written (see the module's docstring)."""

    #: ``(id, type, version, owner_id, unit_id, data)`` of each record removed
    records: list[tuple] = field(default_factory=list)
    #: ``(id, type, source_id, target_id)`` of each relationship removed
    links: list[tuple] = field(default_factory=list)
    #: ``{id: (type, owner_id, unit_id)}`` of the other ends of those relationships that the
    #: delete read anyway (for their ``unrelated`` activities): not read again by :func:`finish`
    ends: dict[str, tuple] = field(default_factory=dict)

    def take(self, inner: "Removals") -> None:
        """Add what ``inner``, a delete run inside this one (by a hook), removed."""
        self.records += inner.records
        self.links += inner.links
        self.ends.update(inner.ends)


def note_record(s: "Session", record_id: str, rec, data) -> None:
    """Note the record ``record_id`` (``rec``: a Record or a row with its ``type``,
    ``version``, ``owner_id`` and ``unit_id``; ``data`` as it was) as removed by the running
    delete, if any."""
    if s.removals:
        s.removals[-1].records.append((record_id, rec.type, rec.version, rec.owner_id, rec.unit_id, data))


def note_links(s: "Session", rows) -> None:
    """Note the relationships ``rows`` (with ``id``, ``type``, ``source_id``, ``target_id``)
    as removed by the running delete, if any."""
    if s.removals:
        s.removals[-1].links.extend((r.id, r.type, r.source_id, r.target_id) for r in rows)


def note_ends(s: "Session", rows) -> None:
    """Note the records ``rows`` (with ``id``, ``type``, ``owner_id``, ``unit_id``), ends of
    relationships the running delete removed, as read: :func:`finish` needs their scope."""
    if s.removals:
        s.removals[-1].ends.update((r.id, (r.type, r.owner_id, r.unit_id)) for r in rows)


def finish(s: "Session", done: Removals) -> Deleted:
    """``done`` as the acting user of ``s`` may be told it (:class:`Deleted`)."""
    from .records import Record  # here: records imports the modules that import this one
    users, units = s.user_names(), s.unit_names()
    readable: dict[str, bool] = {}
    out = []
    for rid, rtype, version, owner_id, unit_id, data in done.records:
        may = readable[rid] = s.actor.allows_row(rtype, "read", owner_id, unit_id, s.unit_path(unit_id))
        out.append(DeletedRecord(rid, rtype, may, Record(rid, rtype, data, version, users.get(owner_id),
                                                         units.get(unit_id), owner_id=owner_id, unit_id=unit_id)
                                 if may else None))
    for rid, (rtype, owner_id, unit_id) in done.ends.items():
        if rid not in readable:
            readable[rid] = s.actor.allows_row(rtype, "read", owner_id, unit_id, s.unit_path(unit_id))
    # Ends not read by the delete (without history it reads none): read here.
    ends = sorted({end for _, _, src, tgt in done.links for end in (src, tgt)} - readable.keys())
    R = db.records
    for i in range(0, len(ends), _CHUNK):
        for row in s.conn.execute(select(R.c.id, R.c.type, R.c.owner_id, R.c.unit_id)
                                  .where(R.c.id.in_(ends[i:i + _CHUNK]))):
            readable[row.id] = s.allows(row.type, "read", row)
    links = tuple(DeletedLink(lid, ltype, src, tgt, readable.get(src, False) and readable.get(tgt, False))
                  for lid, ltype, src, tgt in done.links)
    return Deleted(tuple(out), links)
