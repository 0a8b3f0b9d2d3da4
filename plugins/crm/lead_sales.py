"""A won opportunity sells its lead: the lead it came from (``lead_id``) gets status ``sold``.

The dealer lead-to-sale conversion (prm_dealers' ``dealer_lead_conversion_rate``) and the
lead conversion count leads by status; without this, a lead whose opportunity was won in the
UI or through the API stayed ``converted`` and the sale was never counted.

An opportunity created won, or updated to ``won``, that names a lead: the lead (read and
changed as ``system``: the seller may not see the lead's unit) gets ``status`` sold and,
unless it has one, ``sold_at`` = now — but only when the win is recent (the opportunity's
``closed_at`` is missing, or yesterday or later in UTC: a day written in another time zone
may be UTC's yesterday or tomorrow): an opportunity entered as won long ago is history, and
now would be the wrong time. A lead already sold is left as it is; an unknown or
unreadable ``lead_id``, or one naming another type, changes nothing.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from xrm_core import NotFound, times

WON = "won"
SOLD = "sold"


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
    try:
        lead = system.get(lead_id)
    except NotFound:
        return
    if lead.type != "lead" or lead.data.get("status") == SOLD:
        return
    patch = {"status": SOLD}
    closed = record.data.get("closed_at")
    yesterday = (datetime.now(timezone.utc).date() - timedelta(days=1)).isoformat()
    if "sold_at" not in lead.data and (not isinstance(closed, str) or closed >= yesterday):
        patch["sold_at"] = times.now()
    system.update(lead_id, patch)
