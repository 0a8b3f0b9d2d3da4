"""The crm plugin's record automations (``xrm_record_event``) and its own hooks.

- customer and lead: Persian and Arabic-Indic digits in phone numbers and national IDs
  become ASCII digits on creation (the schemas accept ASCII digits only); a customer whose
  status becomes ``churned`` gets ``churned_at`` (today, unless given), which the churn rate
  counts by, and loses it when won back;
- case: see :mod:`xrm_crm.cases` (category, routing, SLA, handling time, notifications);
- opportunity: one moved to ``lost`` keeps the stage it was lost at (``lost_stage``), which
  the sales forecast's stage conversion needs; one moved to won or lost gets ``closed_at``
  (today, unless given), which the win rate counts by; a won one marks its lead sold
  (:mod:`xrm_crm.lead_sales`).
"""
from __future__ import annotations

from xrm_core import for_types, hookimpl, times

from . import cases, hookspecs, lead_sales

_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "0123456789" * 2)
DIGIT_FIELDS = {"customer": ("national_id", "mobile", "phone"), "lead": ("mobile",)}
CASE_EVENTS = {"before_create": lambda r, c, s: cases.before_create(r, s),
               "after_create": lambda r, c, s: cases.after_create(r, s),
               "before_update": cases.before_update,
               "after_update": cases.after_update}


@hookimpl
def xrm_addhooks(pm):
    pm.add_hookspecs(hookspecs)


@hookimpl
@for_types("case", "opportunity", *DIGIT_FIELDS)
def xrm_record_event(event, record, changes, session):
    if event == "before_create" and record.type in DIGIT_FIELDS:
        normalise_digits(record.data, DIGIT_FIELDS[record.type])
    if event == "before_update" and record.type == "customer":
        note_churned(record.data, changes)
    if record.type == "case" and event in CASE_EVENTS:
        CASE_EVENTS[event](record, changes, session)
    if record.type == "opportunity":
        if event == "before_update":
            note_lost_stage(record.data, changes)
            note_closed(record.data, changes)
        elif event == "after_create":
            lead_sales.after_create(record, session)
        elif event == "after_update":
            lead_sales.after_update(record, changes, session)


#: The stages an opportunity is open in, in the order of the funnel.
OPEN_STAGES = ("prospecting", "test_drive", "quotation", "negotiation")


def note_lost_stage(data: dict, changes: dict) -> None:
    """Moved to ``lost`` from an open stage: keep that stage as ``lost_stage``; reopened:
    forget it. A ``lost_stage`` the same change sets is left as given."""
    if "/stage" not in changes or "/lost_stage" in changes:
        return
    old, new = changes["/stage"]
    if new == "lost" and old in OPEN_STAGES:
        data["lost_stage"] = old
    elif new != "lost":
        data.pop("lost_stage", None)


CLOSED_STAGES = ("won", "lost")


def note_closed(data: dict, changes: dict) -> None:
    """Moved from an open stage to won or lost: ``closed_at`` = today (UTC), which
    ``win_rate``'s period is on; reopened: forget it. A ``closed_at`` the same change sets is
    left as given; a move between won and lost keeps the date."""
    if "/stage" not in changes or "/closed_at" in changes:
        return
    old, new = changes["/stage"]
    if new in CLOSED_STAGES and old not in CLOSED_STAGES:
        data["closed_at"] = times.now()[:10]
    elif new not in CLOSED_STAGES and old in CLOSED_STAGES:
        data.pop("closed_at", None)


def note_churned(data: dict, changes: dict) -> None:
    """A customer whose ``status`` becomes ``churned`` gets ``churned_at`` = today (UTC),
    which ``churn_rate`` counts by; one won back (another status) loses it. A
    ``churned_at`` the same change sets is left as given."""
    if "/status" not in changes or "/churned_at" in changes:
        return
    old, new = changes["/status"]
    if new == "churned" and old != "churned":
        data["churned_at"] = times.now()[:10]
    elif old == "churned" and new != "churned":
        data.pop("churned_at", None)


def normalise_digits(data: dict, fields) -> None:
    """Replace Persian/Arabic-Indic digits by ASCII ones in the string ``fields`` of ``data``."""
    for field in fields:
        if isinstance(data.get(field), str):
            data[field] = data[field].translate(_DIGITS)
