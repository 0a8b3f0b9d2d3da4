"""The prm_dealers plugin's record automations (``xrm_record_event``): new leads are
assigned to a dealer of their region and routed to its unit, and follow their dealer when
it changes (:mod:`xrm_prm_dealers.leads`); a dealer has one all-model sales target and
report per month (:mod:`xrm_prm_dealers.sales_months`)."""
from __future__ import annotations

from xrm_core import for_types, hookimpl

from . import leads, sales_months


@hookimpl
@for_types("lead", *sales_months.TYPES)
def xrm_record_event(event, record, changes, session):
    if record.type == "lead":
        if event == "before_create":
            leads.before_create(record, session)
        elif event == "after_create":
            leads.after_create(record, session)
        elif event == "before_update":
            leads.before_update(record, changes, session)
    elif record.type in sales_months.TYPES:
        if event == "before_create":
            sales_months.before_create(record, session)
        elif event == "after_create":
            sales_months.after_create(record, session)
        elif event == "after_update":
            sales_months.after_update(record, changes, session)
