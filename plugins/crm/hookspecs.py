"""Hooks the crm plugin declares for other plugins (added through ``xrm_addhooks``)."""
from __future__ import annotations

from xrm_core import hookspec


@hookspec(firstresult=True)
def xrm_crm_send_notification(channel, to, message, record, session):
    """Deliver a message to a customer: the crm outbox's transport (SMS, e-mail adapters).

    :param channel: ``sms`` or ``email``.
    :param to: the customer's mobile number (sms) or e-mail address (email).
    :param message: the text, in the customer's preferred language.
    :param record: the :class:`xrm_core.Record` the message is about (a ``case``).
    :param session: the :class:`xrm_core.Session` of the change that triggered it.
    :return: a JSON-able receipt (e.g. ``{"transport": "kavenegar", "id": "…"}``) when this
        implementation delivered or queued the message, else ``None`` to let the next one try.

    Stops at the first non-``None`` result. Called inside the change's transaction, after
    the record is stored: a real adapter should queue the message and send it after commit,
    since the transaction may still roll back. The crm plugin's own implementation runs last
    (``trylast``) and only writes the message to the Python log (logger ``xrm_crm.outbox``).
    Whichever delivers it, the outbox records a ``notification`` activity on the record with
    the channel, recipient, text and receipt. An exception refuses the whole change
    (:class:`xrm_core.PluginError` naming the adapter's plugin).
    """
