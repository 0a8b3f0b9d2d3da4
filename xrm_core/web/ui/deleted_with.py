"""What a delete took with it, for the message after it: "Deleted Ward 3 and 2 related
records: Bed 12, Bed 14."

The message used to say "Deleted." alone, after a delete that may have removed a whole tree
through ``cascade`` relationships. :func:`taken` reads what the core's delete returns — the
records that really went (:class:`xrm_core.removals.Deleted`), those a record event hook
added to the delete included — and :func:`said` words it. A record outside the user's read
scope is counted, never named. (What a delete would take is said before it, on the
confirmation page, from ``Session.delete_preview``.)
"""
from __future__ import annotations

from dataclasses import dataclass, field

from flask_babel import gettext as _
from flask_babel import ngettext

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
