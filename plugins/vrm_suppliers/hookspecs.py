"""Hooks the vrm_suppliers plugin declares for other plugins (added through ``xrm_addhooks``)."""
from __future__ import annotations

from xrm_core import hookspec


@hookspec(firstresult=True)
def xrm_vrm_send_notification(channel, to, message, record, session):
    """Deliver a message to a supplier: the vrm_suppliers outbox's transport (e-mail, a
    supplier portal, EDI adapters).

    :param channel: ``email`` or ``phone``.
    :param to: the supplier's e-mail address or phone number.
    :param message: the text (English: suppliers are addressed in the contract language).
    :param record: the :class:`xrm_core.Record` the message is about (a ``defect_report``).
    :param session: the :class:`xrm_core.Session` of the change that triggered it.
    :return: a JSON-able receipt when this implementation delivered or queued the message,
        else ``None`` to let the next one try.

    Stops at the first non-``None`` result. Called inside the change's transaction, after
    the record is stored: a real adapter should queue the message and send it after commit.
    The plugin's own implementation runs last (``trylast``) and only writes the Python log
    (logger ``xrm_vrm_suppliers.outbox``). Whichever delivers it, the outbox records a
    ``supplier_notice`` activity on the record with the channel, recipient, text and
    receipt. An exception refuses the whole change (:class:`xrm_core.PluginError` naming
    the adapter's plugin).
    """
