"""The vrm_suppliers outbox: tell a supplier something, through whichever transport answers.

Transports implement ``xrm_vrm_send_notification`` (:mod:`xrm_vrm_suppliers.hookspecs`); the
one here runs last and only logs (no network).
"""
from __future__ import annotations

import logging

from xrm_core import call_first, hookimpl

log = logging.getLogger(__name__)
HOOK = "xrm_vrm_send_notification"


def contact(supplier: dict) -> tuple[str, str] | None:
    """(channel, address) to reach a supplier: e-mail, else phone; None without either."""
    if supplier.get("email"):
        return "email", supplier["email"]
    if supplier.get("phone"):
        return "phone", supplier["phone"]
    return None


def send(session, record, channel: str, to: str, message: str, event: str) -> dict:
    """Deliver ``message`` and record a ``supplier_notice`` activity on ``record`` (as
    ``system``) with the payload ``{event, channel, to, message, receipt}``; it is returned."""
    # The first transport that answers delivers; a failing one is named (xrm_core.call_first).
    receipt = call_first(session.platform.pm, HOOK, channel=channel, to=to, message=message,
                         record=record, session=session)
    payload = {"event": event, "channel": channel, "to": to, "message": message, "receipt": receipt}
    return session.as_system().log(record.id, "supplier_notice", message, payload)


@hookimpl(trylast=True)
def xrm_vrm_send_notification(channel, to, message, record):
    """The default transport: the Python log only (no network)."""
    log.info("%s to %s about %s %s: %s", channel, to, record.type, record.id, message)
    return {"transport": "log"}
