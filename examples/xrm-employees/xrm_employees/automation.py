"""Automations on employee records, run by ``xrm_record_event`` inside each change's
transaction: whatever raises here undoes the whole change."""
from __future__ import annotations

from xrm_core import ValidationError, call_all


def on_record_event(event, record, changes, session) -> None:
    if record.type != "employee":
        return
    if event in ("before_create", "before_update"):
        check_dates(record.data)
        # Derived field. before_* hooks run before the schema is checked: the data may
        # still be invalid here (check_dates reads it defensively), and what we set is
        # checked with the rest, so it must be valid too.
        record.data["status"] = "left" if record.data.get("end_date") else "active"
    elif event == "after_update" and changes.get("/status", (None, None))[1] == "left":
        # call_all rather than pm.hook.xrm_employee_left(...): a listener that crashes is
        # then named in the error, not this plugin.
        call_all(session.platform.pm, "xrm_employee_left", employee=record, session=session)


def check_dates(data: dict) -> None:
    """Refuse an end date before the start date (ISO dates compare as strings)."""
    start, end = data.get("start_date"), data.get("end_date")
    if start and end and end < start:
        raise ValidationError(
            f"an employee cannot leave before they start: end_date {end} is before start_date {start}",
            [{"pointer": "/data/end_date", "message": f"before start_date {start}"}])
