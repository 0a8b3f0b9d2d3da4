"""The crm outbox: tell a customer something, through whichever transport plugin answers.

Transports implement ``xrm_crm_send_notification`` (:mod:`xrm_crm.hookspecs`); the one here
runs last and only logs, so a platform without an SMS or e-mail adapter still records every
message on the record's history and in the log, and never touches the network.
"""
from __future__ import annotations

import logging

from xrm_core import call_first, hookimpl

log = logging.getLogger(__name__)
HOOK = "xrm_crm_send_notification"


def contact(customer: dict) -> tuple[str, str] | None:
    """(channel, address) to reach a customer: e-mail if they prefer it and have one, else
    their mobile by SMS, else e-mail; None when they have neither."""
    mobile, email = customer.get("mobile"), customer.get("email")
    if customer.get("preferred_channel") == "email" and email:
        return "email", email
    if mobile:
        return "sms", mobile
    if email:
        return "email", email
    return None


def send(session, record, channel: str, to: str, message: str, event: str) -> dict:
    """Deliver ``message`` and record a ``notification`` activity on ``record``.

    The activity is written as ``system`` (the platform sent it, whoever made the change)
    with the payload ``{event, channel, to, message, receipt}``; it is returned.
    """
    # The first transport that answers delivers; a failing one is named (xrm_core.call_first).
    receipt = call_first(session.platform.pm, HOOK, channel=channel, to=to, message=message,
                         record=record, session=session)
    payload = {"event": event, "channel": channel, "to": to, "message": message, "receipt": receipt}
    return session.as_system().log(record.id, "notification", message, payload)


@hookimpl(trylast=True)
def xrm_crm_send_notification(channel, to, message, record):
    """The default transport: the Python log only (no network)."""
    log.info("%s to %s about %s %s: %s", channel, to, record.type, record.id, message)
    return {"transport": "log"}
