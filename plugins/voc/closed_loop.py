"""Closed loop: a detractor's survey response opens a follow-up case for the owning dealer.

A survey response with ``question_kind`` ``nps`` and a ``score`` of 0–6 (a detractor) gets a
crm ``case`` when it is created, or when an update turns it into a detractor's answer:

- before the response is stored, the case is created as the platform (``session.as_system()``:
  the dealer's unit is usually outside the answering user's scope) in the unit of the owning
  dealer — the response's ``dealer_code``, else its customer's — or, with no known dealer,
  in the response's own unit; the case names the response (``survey_response_id``) and the
  response gets the case's id (``case_id``);
- once the response is stored, the two are related by ``response_opened_case``.

It runs once per response: a response that already has a ``case_id`` or a follow-up
relationship opens nothing, so updating a detractor's answer again is harmless, and a
promoter's, a passive's or a non-NPS answer never opens one. Everything happens in the
caller's transaction: if anything fails, the response is not stored either.
"""
from __future__ import annotations

from datetime import datetime, timezone

from xrm_core import NotFound, for_types, hookimpl

REL = "response_opened_case"
DETRACTOR_MAX = 6

#: The case category of a follow-up, by the touchpoint answered about.
CATEGORY = {"pre_purchase": "sales", "purchase": "sales", "after_sales": "after_sales"}


def is_detractor(data: dict) -> bool:
    """An NPS answer (``question_kind`` nps) with an integer score of 0–6."""
    score = data.get("score")
    return (data.get("question_kind") == "nps" and isinstance(score, int) and not isinstance(score, bool)
            and 0 <= score <= DETRACTOR_MAX)


@hookimpl
@for_types("survey_response")
def xrm_record_event(event, record, changes, session):
    if record.type != "survey_response":
        return
    if event in ("before_create", "before_update"):
        _open_case(record, session, created=event == "before_create")
    elif event == "after_create" or (event == "after_update" and "/case_id" in changes):
        _relate(record, session)


def _open_case(record, session, created: bool) -> None:
    """Create the follow-up case and put its id in ``record.data["case_id"]``."""
    if not is_detractor(record.data) or record.data.get("case_id"):
        return
    # Only for data that will be stored: an invalid response is refused after the hooks,
    # and must not leave a case behind.
    if not session.entity_type("survey_response").is_valid(record.data):
        return
    system = session.as_system()
    if not created and _followed_up(system, record.id):
        return
    dealer = dealer_code(record, system)
    case = system.create("case", case_data(record, dealer), unit=dealer_unit(record, dealer, system))
    record.data["case_id"] = case.id


def _relate(record, session) -> None:
    """Relate the response to the follow-up case this plugin opened for it (once)."""
    case_id = record.data.get("case_id")
    if not case_id:
        return
    system = session.as_system()
    try:
        case = system.get(case_id)
    except NotFound:
        return
    if case.type != "case" or case.data.get("survey_response_id") != record.id or _followed_up(system, record.id):
        return  # a case linked by hand, or already related
    system.relate(REL, record.id, case.id)


def _followed_up(system, response_id: str) -> bool:
    return any(r["direction"] == "outgoing" for r in system.related(response_id, REL))


def case_data(record, dealer: str | None) -> dict:
    """The follow-up case of detractor response ``record`` for ``dealer`` (a dealer code)."""
    d = record.data
    data = {"kind": "complaint", "channel": "survey", "status": "open",
            "subject": f"NPS detractor follow-up: score {d['score']} ({d.get('touchpoint', 'unknown touchpoint')})",
            "priority": "high" if d["score"] <= 3 else "normal",
            "opened_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "survey_response_id": record.id}
    if d.get("touchpoint") in CATEGORY:
        data["category"] = CATEGORY[d["touchpoint"]]
    if d.get("comment"):
        data["description"] = d["comment"]
    for field in ("customer_id", "vin"):
        if d.get(field):
            data[field] = d[field]
    if dealer:
        data["dealer_code"] = dealer
    return data


def dealer_code(record, session) -> str | None:
    """The owning dealer: the response's ``dealer_code``, else its customer's."""
    if record.data.get("dealer_code"):
        return record.data["dealer_code"]
    customer_id = record.data.get("customer_id")
    if not customer_id:
        return None
    try:
        customer = session.get(customer_id)
    except NotFound:
        return None
    return customer.data.get("dealer_code") if customer.type == "customer" else None


def dealer_unit(record, dealer: str | None, session) -> str:
    """The unit of ``dealer`` (a dealer's unit is named by its code), else the response's."""
    return dealer if dealer and dealer in set(session.unit_names().values()) else record.unit
