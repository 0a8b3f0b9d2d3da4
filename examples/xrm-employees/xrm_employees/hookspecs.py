"""Hooks this plugin announces for other plugins (added through ``xrm_addhooks``).

A listener implements them with ``@xrm_core.hookimpl(optionalhook=True)``, so it still loads
when this plugin is not installed.
"""
from __future__ import annotations

from xrm_core import hookspec


@hookspec
def xrm_employee_left(employee, session):
    """An employee's ``end_date`` was set: they leave (or have left) the organisation.

    :param employee: the updated :class:`xrm_core.Record` (``status`` is ``left``).
    :param session: the :class:`xrm_core.Session` of the change; writes through it are part
        of the same transaction.
    :return: nothing.

    Called from the ``after_update`` record event, so raising
    :class:`xrm_core.ValidationError` refuses the update.
    """
