"""KPIs that wait for ``xrm init``, as the REST API shows them.

A plugin installed (or upgraded) since the last ``xrm init`` declares KPIs over entity types
the database does not hold yet (:func:`xrm_core.kpis.waiting`). Nothing is wrong with a
request for one: the server is not ready to compute it until an operator runs ``xrm init``.
``GET /api/v1/kpis`` lists such a KPI with a ``waiting`` member saying why (``xrm kpi list``
warns about it on stderr), and ``GET /api/v1/kpis/{name}`` answers :class:`KPIWaiting` (503).
"""
from __future__ import annotations

from .. import kpis
from ..kpis import KPI
from ..errors import NotFound, PermissionDenied, XrmError
from ..kpi_measures import DeclarativeKPI
from ..kpi_registry import ObjectKPI
from ..plugins import call_each


class KPIWaiting(XrmError):
    """A KPI of a plugin whose entity types ``xrm init`` has not stored yet.

    503, not a 4xx: RFC 9110 §15.5 makes a 4xx say the client erred, and the request is
    right; 409 (§15.5.10) is for a conflict the client "might be able to resolve" and
    resubmit, and only the operator can resolve this one. §15.6.4's 503 is a server that
    "is currently unable to handle the request" for a reason "likely to be alleviated after
    some delay" — a pending upgrade step. No ``Retry-After``: nobody knows when the operator
    will run it. The problem's ``kpi`` member names the KPI.
    """

    status = 503
    title = "KPI waiting for xrm init"


def _declared(platform, name: str) -> tuple[str, object] | None:
    """(plugin, item) of the KPI ``name`` as its plugin's ``xrm_kpis`` returns it, or None."""
    for plugin, items in call_each(platform.pm, "xrm_kpis"):
        for item in items or []:
            declared = item.get("name") if isinstance(item, dict) else getattr(item, "name", None)
            if declared == name:
                return plugin, item
    return None


def _stand_in(platform, name: str) -> dict:
    """What the list shows of waiting KPI ``name``: its plugin's declaration in the list's
    shape (``kpi.to_dict()``), as much of it as reads without the entity type."""
    found = _declared(platform, name)
    if found is None:
        return {"name": name}
    plugin, item = found
    try:
        if isinstance(item, dict):
            return DeclarativeKPI(item, plugin).to_dict()
        if not isinstance(item, KPI):
            item = ObjectKPI(item)  # as the registry reads an object of no KPI subclass
        return {**item.to_dict(), "source": plugin}  # the registry sets .source on the objects it accepts
    except Exception:  # noqa: BLE001 — a declaration that does not read: its name, and what it measures
        entity = item.get("entity") if isinstance(item, dict) else getattr(item, "entity", None)
        return {"name": name, "source": plugin, "entity": entity}


def _visible(session, listed: dict) -> bool:
    # As kpis.may_compute: a KPI over a type the caller may not read is not theirs to see. One
    # whose declaration does not say which type (or says it in no name) is an admin's to see.
    entity = listed.get("entity")
    if entity is None or not isinstance(entity, str):
        return session.actor.is_admin
    return session.actor.can(entity, "read")


def waiting_items(session) -> list[dict]:
    """The waiting KPIs the session's user would be allowed to compute, in the list's shape,
    each with ``waiting``: why it cannot be computed yet (the message asks for ``xrm init``)."""
    out = []
    ready = kpis.registry(session.platform, session.conn)
    for name, why in sorted(kpis.waiting(session.platform, session.conn).items()):
        if name in ready:  # an admin KPI of that name: it is the one computed
            continue
        listed = _stand_in(session.platform, name)
        if _visible(session, listed):
            out.append({**listed, "waiting": why})
    return out


def refuse_waiting(session, name: str, date_from: str | None = None, date_to: str | None = None) -> None:
    """Raise :class:`KPIWaiting` if KPI ``name`` waits for ``xrm init``; else nothing.

    What the client got wrong is said first, as for any KPI: a malformed ``date_from`` or
    ``date_to`` (ValidationError at ``/from``, ``/to``), a KPI over a type the user may not
    read (PermissionDenied). ``by`` names a field of a type not stored yet: it cannot be checked.
    """
    why = kpis.waiting(session.platform, session.conn).get(name)
    if why is None or name in kpis.registry(session.platform, session.conn):
        return
    kpis._check_date(date_from, "/from")  # the one reading of a period bound (kpis.compute's)
    kpis._check_date(date_to, "/to")
    listed = _stand_in(session.platform, name)
    if not _visible(session, listed):
        if not isinstance(listed.get("entity"), str):  # hidden from the list: as if there were none
            raise NotFound(f"unknown KPI {name!r}")
        raise PermissionDenied(f"{session.actor.name!r} may not read {listed['entity']} records, "
                               f"which KPI {name!r} measures")
    raise KPIWaiting(f"KPI {name!r} cannot be computed until an operator runs `xrm init` on the server, which "
                     f"stores the entity types of a plugin installed or upgraded since it last ran; nothing is "
                     f"wrong with the request. Why: {why}", kpi=name)
