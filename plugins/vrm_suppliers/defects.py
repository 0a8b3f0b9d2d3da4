"""Defect reports: a new report on a part is forwarded to its supplier, which starts the
supplier's clock.

On creation, an open report not yet forwarded whose supplier is known — ``supplier_code``,
or the only supplier with an agreement in effect for the part — and reachable (the supplier
record has an e-mail or phone) gets ``forwarded_at`` = now and status ``forwarded``, and
the supplier is told through the outbox. Setting ``supplier_code`` later on an open report
forwards it then. Any forwarded report without ``response_due_at`` gets forwarded_at + the
``response_hours`` of the supply agreement in effect on the detection day (one for the part
before a frame agreement without part, then the latest ``valid_from``).
"""
from __future__ import annotations

import weakref

from xrm_core import times

from . import outbox

#: per open connection (one transaction): ids of the reports forwarded here, told after storing
_pending: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def before_create(record, session) -> None:
    if _unforwarded(record.data):
        _forward(record, session)
    _set_due(record.data, session)


def before_update(record, changes, session) -> None:
    if "/supplier_code" in changes and _unforwarded(record.data):
        _forward(record, session)
    _set_due(record.data, session)


def after_save(record, session) -> None:
    """after_create / after_update: tell the supplier of a report forwarded just now."""
    pending = _pending.get(session.conn, set())
    if record.id not in pending:
        return
    pending.discard(record.id)
    supplier = _supplier(session, record.data["supplier_code"])
    channel, to = outbox.contact(supplier.data)
    outbox.send(session, record, channel, to, message(record), "defect_forwarded")


def message(record) -> str:
    d = record.data
    lot = f" (lot {d['lot']})" if d.get("lot") else ""
    due = f" Please acknowledge by {d['response_due_at']}." if d.get("response_due_at") else ""
    return (f"Defect report {d.get('report_number') or record.id}: {d['quantity']} defective "
            f"{d['part_number']}{lot} detected {d['detected_at']}.{due}")


def _unforwarded(data: dict) -> bool:
    return not data.get("forwarded_at") and data.get("status", "open") == "open"


def _forward(record, session) -> None:
    data = record.data
    code = data.get("supplier_code") or _sole_supplier(session, data.get("part_number"), _day(data))
    supplier = _supplier(session, code) if code else None
    if supplier is None or outbox.contact(supplier.data) is None:
        return  # nobody to tell: the report stays open until a supplier is named
    data["supplier_code"] = code
    data["forwarded_at"] = times.now()
    data["status"] = "forwarded"
    _pending.setdefault(session.conn, set()).add(record.id)


def _set_due(data: dict, session) -> None:
    if data.get("response_due_at") or not data.get("forwarded_at") or not data.get("supplier_code"):
        return
    agreement = _agreement(session, data["supplier_code"], data.get("part_number"), _day(data))
    if agreement is not None and agreement.get("response_hours"):
        data["response_due_at"] = times.add_hours(data["forwarded_at"], agreement["response_hours"])


def _day(data: dict) -> str:
    # The calendar day written in the value, as the KPI period filter reads it.
    return str(data.get("detected_at") or times.now())[:10]


def _in_effect(session, where: dict, part_number, day: str) -> list[dict]:
    rows = session.as_system().list("supply_agreement", where, limit=10_000)
    return [a.data for a in rows
            if a.data.get("status", "active") == "active" and a.data["valid_from"] <= day
            and (a.data.get("valid_to") or "9999-12-31") >= day and a.data.get("part_number") in (None, part_number)]


def _agreement(session, supplier_code: str, part_number, day: str) -> dict | None:
    """The supplier's agreement in effect on ``day`` for the part (a frame one otherwise)."""
    found = _in_effect(session, {"supplier_code": supplier_code}, part_number, day)
    return max(found, key=lambda a: (a.get("part_number") == part_number, a["valid_from"]), default=None)


def _sole_supplier(session, part_number, day: str) -> str | None:
    """The supplier code when exactly one supplier has an agreement in effect for the part
    (dual-sourced parts need the report to name its supplier)."""
    if not isinstance(part_number, str):
        return None
    codes = {a["supplier_code"] for a in _in_effect(session, {"part_number": part_number}, part_number, day)}
    return codes.pop() if len(codes) == 1 else None


def _supplier(session, code: str):
    found = session.as_system().list("supplier", {"code": code}, limit=1)
    return found[0] if found else None
