"""The vrm_suppliers outbox: tell a supplier something, through whichever transport answers.

Transports implement ``xrm_vrm_send_notification`` (:mod:`xrm_vrm_suppliers.hookspecs`); the
one here runs last and only logs (no network). The same pattern as the crm outbox, kept
separate because plugins never import each other.
"""
from __future__ import annotations

import logging

from xrm_core import PluginError, XrmError, hookimpl

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
    receipt = _deliver(session.platform.pm, channel=channel, to=to, message=message, record=record,
                       session=session)
    payload = {"event": event, "channel": channel, "to": to, "message": message, "receipt": receipt}
    return session.as_system().log(record.id, "supplier_notice", message, payload)


def _deliver(pm, **kwargs):
    """The first non-None result of the transports in pluggy's order, naming a failing one."""
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
def xrm_vrm_send_notification(channel, to, message, record):
    """The default transport: the Python log only (no network)."""
    log.info("%s to %s about %s %s: %s", channel, to, record.type, record.id, message)
    return {"transport": "log"}
