"""The vrm_suppliers plugin's record automations (``xrm_record_event``) and its own hooks:
a new defect report is forwarded to its supplier (:mod:`xrm_vrm_suppliers.defects`)."""
from __future__ import annotations

from xrm_core import for_types, hookimpl

from . import defects, hookspecs


@hookimpl
def xrm_addhooks(pm):
    pm.add_hookspecs(hookspecs)


@hookimpl
@for_types("defect_report")
def xrm_record_event(event, record, changes, session):
    if record.type != "defect_report":
        return
    if event == "before_create":
        defects.before_create(record, session)
    elif event == "before_update":
        defects.before_update(record, changes, session)
    elif event in ("after_create", "after_update"):
        defects.after_save(record, session)
