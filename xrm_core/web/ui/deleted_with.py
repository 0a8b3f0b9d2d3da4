"""What a delete took with it, for the message after it: "Deleted Ward 3 and 2 related
records: Bed 12, Bed 14."

The message used to say "Deleted." alone, after a delete that may have removed a whole tree
through ``cascade`` relationships. :func:`taken` reads what the core's delete returns — the
records that really went (:class:`xrm_core.removals.Deleted`), those a record event hook
added to the delete included — and :func:`said` words it. :func:`plan` reads beforehand what
the stored ``cascade`` relationships reach (:meth:`xrm_core.deletes.DeleteRun.doomed`), for
the confirmation page's count of what the user cannot see; :func:`gone` keeps those of a
plan the delete did remove. A record outside the user's read scope is counted, never named.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from ... import db, records
from ...deletes import DELETE_CHUNK, DeleteRun
from .i18n import digits
from .i18n import isolated as _isolated

#: Records the message names at most; the rest are counted ("… and 240 more").
NAMED = 5


@dataclass
class Plan:
    """The records a delete is about to take with it: ``visible`` (ids the user may read,
    in the order the message names them) and ``hidden`` (the others), with the titles of
    the first :data:`NAMED` visible ones."""

    visible: list[str] = field(default_factory=list)
    hidden: set[str] = field(default_factory=set)
    titles: dict[str, str] = field(default_factory=dict)


def plan(s, rec, title) -> Plan:
    """What deleting ``rec`` takes with it, read before the delete: the records its stored
    ``cascade`` relationships reach, each sorted as visible or hidden to the user;
    ``title(record)`` names a visible one (only :data:`NAMED` of them are read in full, the
    first by id: the oldest)."""
    others = sorted(DeleteRun(s, rec.id).doomed() - {rec.id})
    out = Plan()
    R = db.records
    for i in range(0, len(others), DELETE_CHUNK):
        for row in s.conn.execute(select(R.c.id, R.c.type, R.c.owner_id, R.c.unit_id)
                                  .where(R.c.id.in_(others[i:i + DELETE_CHUNK]))):
            if s.allows(row.type, "read", row):
                out.visible.append(row.id)
            else:
                out.hidden.add(row.id)
    out.visible.sort()
    named = records.get_many(s, out.visible[:NAMED])
    out.titles = {rid: title(r) for rid, r in named.items()}
    # Named in the order a reader finds them: by title.
    out.visible.sort(key=lambda rid: (rid not in out.titles, out.titles.get(rid, ""), rid))
    return out


def taken(deleted, record_id: str, title) -> Plan:
    """What the delete of ``record_id`` took with it, from what ``Session.delete`` returned
    (``deleted``): each record sorted as visible or hidden to the user, ``title(record)``
    naming the first :data:`NAMED` visible ones by id (the oldest)."""
    out = Plan()
    went = deleted.others(record_id)
    for r in went:
        if r.readable:
            out.visible.append(r.id)
        else:
            out.hidden.add(r.id)
    out.visible.sort()
    named = set(out.visible[:NAMED])
    out.titles = {r.id: title(r.record) for r in went if r.id in named}
    # Named in the order a reader finds them: by title.
    out.visible.sort(key=lambda rid: (rid not in out.titles, out.titles.get(rid, ""), rid))
    return out


def gone(s, p: Plan) -> Plan:
    """``p`` without the records still stored after the delete (read in its transaction)."""
    ids = sorted({*p.visible, *p.hidden})
    kept: set[str] = set()
    for i in range(0, len(ids), DELETE_CHUNK):
        kept.update(s.conn.execute(select(db.records.c.id).where(db.records.c.id.in_(ids[i:i + DELETE_CHUNK])))
                    .scalars())
    return Plan([r for r in p.visible if r not in kept], p.hidden - kept,
                {r: t for r, t in p.titles.items() if r not in kept})


def said(title: str, p: Plan) -> str:
    """The message after the delete of the record ``title`` that took ``p`` with it."""
    n = len(p.visible) + len(p.hidden)
    if not n:
        return _("Deleted %(record)s.", record=_isolated(title))
    names = [_isolated(p.titles[r]) for r in p.visible if r in p.titles][:NAMED]
    listed = _(", ").join(names)
    more = len(p.visible) - len(names)
    if more and names:
        listed = ngettext("%(names)s and %(n)s more", "%(names)s and %(n)s more", more,
                          names=listed, n=digits(more))
    if p.hidden:
        unseen = ngettext("%(n)s record you cannot see", "%(n)s records you cannot see", len(p.hidden),
                          n=digits(len(p.hidden)))
        listed = _("%(names)s, and %(unseen)s", names=listed, unseen=unseen) if names else unseen
    if not listed:  # none could be named (another transaction changed them meanwhile)
        return ngettext("Deleted %(record)s and %(n)s related record.",
                        "Deleted %(record)s and %(n)s related records.", n, record=_isolated(title), n=digits(n))
    return ngettext("Deleted %(record)s and %(n)s related record: %(names)s.",
                    "Deleted %(record)s and %(n)s related records: %(names)s.", n,
                    record=_isolated(title), n=digits(n), names=listed)
