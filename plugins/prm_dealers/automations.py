"""The prm_dealers plugin's record automations (``xrm_record_event``): new leads are
assigned to a dealer of their region and routed to its unit (:mod:`xrm_prm_dealers.leads`)."""
from __future__ import annotations

from xrm_core import for_types, hookimpl

from . import leads


@hookimpl
@for_types("lead")
def xrm_record_event(event, record, session):
    if record.type != "lead":
        return
    if event == "before_create":
        leads.before_create(record, session)
    elif event == "after_create":
        leads.after_create(record, session)
