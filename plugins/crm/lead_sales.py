"""A won opportunity sells its lead: the lead it came from (``lead_id``) gets status ``sold``.

The dealer lead-to-sale conversion (prm_dealers' ``dealer_lead_conversion_rate``) and the
lead conversion count leads by status; without this, a lead whose opportunity was won in the
UI or through the API stayed ``converted`` and the sale was never counted.

An opportunity created won, or updated to ``won``, that names a lead: the lead gets
``status`` sold and, unless it has one, ``sold_at`` = now — but only when the win is recent
(the opportunity's ``closed_at`` is missing, or yesterday or later in UTC: a day written in
another time zone may be UTC's yesterday or tomorrow): an opportunity entered as won long
ago is history, and now would be the wrong time. A lead already sold is left as it is; an
unknown ``lead_id``, or one naming another type, changes nothing.

Who may sell a lead this way: the lead is changed as ``system`` (a seller who may read the
lead need not hold an update grant on it: a dealer agent's lead was usually created by the
call centre), but only when the user who wins the opportunity **may read the lead**, or the
lead is linked to the opportunity by ``lead_converted_to`` (a link only a user who may update
the lead can add). ``lead_id`` is plain data that anyone creating an opportunity writes: a
lead the user cannot read does not exist for them (DESIGN §3), so naming its id must not
change it — else a dealer could mark another dealer's leads sold.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from xrm_core import NotFound, times

WON = "won"
SOLD = "sold"
#: The relationship that links a lead to the opportunity it became (source: the lead).
CONVERTED_TO = "lead_converted_to"


def after_create(record, session) -> None:
    if record.data.get("stage") == WON:
        sell_lead(record, session)


def after_update(record, changes, session) -> None:
    if "/stage" in changes and changes["/stage"][1] == WON:
        sell_lead(record, session)


def sell_lead(record, session) -> None:
    """Mark the opportunity's lead sold (see the module docstring)."""
    lead_id = record.data.get("lead_id")
    if not isinstance(lead_id, str):
        return
    system = session.as_system()
    if not (_readable(session, lead_id) or _linked(system, lead_id, record.id)):
        return  # unknown, or outside the user's scope: the same "nothing", said to nobody
    lead = system.get(lead_id)
    if lead.type != "lead" or lead.data.get("status") == SOLD:
        return
    patch = {"status": SOLD}
    closed = record.data.get("closed_at")
    yesterday = (datetime.now(timezone.utc).date() - timedelta(days=1)).isoformat()
    if "sold_at" not in lead.data and (not isinstance(closed, str) or closed >= yesterday):
        patch["sold_at"] = times.now()
    system.update(lead_id, patch)


def _readable(session, record_id: str) -> bool:
    """May the acting user read record ``record_id`` (does it exist for them)?"""
    try:
        session.get(record_id)
    except NotFound:
        return False
    return True


def _linked(system, lead_id: str, opportunity_id: str) -> bool:
    """Is ``lead_id`` linked to the opportunity by :data:`CONVERTED_TO` (as its source)?"""
    try:
        links = system.related(opportunity_id, rel=CONVERTED_TO)
    except NotFound:  # the relationship type was removed by an admin
        return False
    return any(link["relationship"]["source"] == lead_id for link in links)
