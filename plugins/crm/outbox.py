"""The crm outbox: tell a customer something, through whichever transport plugin answers.

Transports implement ``xrm_crm_send_notification`` (:mod:`xrm_crm.hookspecs`); the one here
runs last and only logs, so a platform without an SMS or e-mail adapter still records every
message on the record's history and in the log, and never touches the network.
"""
from __future__ import annotations

import logging

from xrm_core import PluginError, XrmError, hookimpl

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
    receipt = _deliver(session.platform.pm, channel=channel, to=to, message=message, record=record,
                       session=session)
    payload = {"event": event, "channel": channel, "to": to, "message": message, "receipt": receipt}
    return session.as_system().log(record.id, "notification", message, payload)


def _deliver(pm, **kwargs):
    """The first non-None result of the transports, in pluggy's order (firstresult), naming
    the transport's plugin if it fails."""
    for impl in reversed(getattr(pm.hook, HOOK).get_hookimpls()):
        if impl.hookwrapper or getattr(impl, "wrapper", False):
            continue
        try:
            result = impl.function(**{k: kwargs[k] for k in impl.argnames})
        except XrmError:
            raise
        except Exception as e:  # noqa: BLE001 — name the adapter, roll the change back
            raise PluginError(pm.get_name(impl.plugin) or repr(impl.plugin), HOOK, e) from e
        if result is not None:
            return result
    return None


@hookimpl(trylast=True)
def xrm_crm_send_notification(channel, to, message, record):
    """The default transport: the Python log only (no network)."""
    log.info("%s to %s about %s %s: %s", channel, to, record.type, record.id, message)
    return {"transport": "log"}
