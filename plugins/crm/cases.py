"""Case automations: categorise a new case, route it to its category's team and its customer's
dealer (one the acting user may file cases for), give it an SLA due time, record its handling
time when it closes, and tell the customer.

The rules (categories, keywords in en/fa/zh, SLA hours, message texts) are data:
``case_rules.json`` beside this module. docs/data-model.md (Automations) describes them.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib.resources import files

from xrm_core import NotFound, ValidationError, times

from . import outbox

CLOSED = ("resolved", "closed")
# Persian text is typed with Arabic or Persian yeh/kaf and with or without a zero-width
# non-joiner; unify both sides before matching keywords.
_FOLD = str.maketrans({"ي": "ی", "ك": "ک", "\u200c": " ", "ة": "ه"})


@lru_cache(maxsize=1)
def rules() -> dict:
    """The parsed ``case_rules.json`` (read once; it ships with the plugin)."""
    return json.loads(files(__package__).joinpath("case_rules.json").read_text(encoding="utf-8"))


def _fold(text: str) -> str:
    return text.casefold().translate(_FOLD)


def categorise(subject: str, description: str = "") -> str:
    """The category with the most distinct keywords found in the text (ties: the earlier
    category of the rules; no keyword at all: the default category)."""
    text = _fold(f"{subject}\n{description}")
    best, best_hits = rules()["default_category"], 0
    for category in rules()["categories"]:
        hits = sum(1 for words in category["keywords"].values() for word in words if _fold(word) in text)
        if hits > best_hits:
            best, best_hits = category["name"], hits
    return best


def sla_hours(category: str) -> float:
    """The SLA of ``category`` (of the default category when the rules do not name it)."""
    by_name = {c["name"]: c["sla_hours"] for c in rules()["categories"]}
    return by_name.get(category, by_name[rules()["default_category"]])


def team(category: str) -> str | None:
    """The team that handles ``category`` (the default category's for one the rules do not name)."""
    by_name = {c["name"]: c.get("team") for c in rules()["categories"]}
    return by_name.get(category, by_name[rules()["default_category"]])


def before_create(record, session) -> None:
    data = record.data
    live = data.get("status") not in CLOSED and not (data.get("closed_at") or data.get("resolved_at"))
    if data.get("kind") in rules()["kinds"]:
        if live:
            data.setdefault("opened_at", times.now())
        data.setdefault("category", categorise(data.get("subject") or "", data.get("description") or ""))
        if "due_at" not in data and data.get("opened_at"):
            data["due_at"] = times.add_hours(data["opened_at"], sla_hours(data["category"]))
        if "team" not in data and team(data["category"]):
            data["team"] = team(data["category"])
    _route(record, session)
    if "handling_hours" not in data:  # an imported, already closed case keeps a given value
        _handling_time(data, data.get("opened_at"))


def before_update(record, changes, session) -> None:
    """Closing (resolved/closed) needs a resolution and stamps the time and handling hours;
    reopening clears them. A re-categorised case moves to the new category's team, unless
    someone had chosen its team (it was not the old category's) or chooses one now. A case
    given another dealer moves to that dealer's unit."""
    _follow_category(record.data, changes)
    if "/dealer_code" in changes:
        # Handed to another dealer: it moves to that dealer's unit, as on creation (the core
        # refuses the move for a user who may not place cases there).
        _follow_dealer(record, session)
    if "/status" not in changes:
        return
    old, new = changes["/status"]
    data = record.data
    if new in CLOSED:
        if not str(data.get("resolution") or "").strip():
            raise ValidationError(f"a case cannot be {new} without a resolution: say what was done",
                                  [{"pointer": "/data/resolution", "message": f"required when status is {new}"}])
        data.setdefault("resolved_at" if new == "resolved" else "closed_at", times.now())
        _handling_time(data, data.get("opened_at") or record.created_at)
    elif old in CLOSED:
        for field in ("resolved_at", "closed_at", "handling_hours"):
            data.pop(field, None)


def _follow_category(data: dict, changes: dict) -> None:
    if "/category" not in changes or "/team" in changes or data.get("kind") not in rules()["kinds"]:
        return
    old, new = changes["/category"]
    if data.get("team") == (team(old) if isinstance(old, str) else None) and isinstance(new, str) and team(new):
        data["team"] = team(new)


def after_create(record, session) -> None:
    data = record.data
    if data.get("kind") in rules()["kinds"] and data.get("status") not in CLOSED and not data.get("closed_at"):
        _notify(session, record, "opened")


def after_update(record, changes, session) -> None:
    old, new = changes.get("/status", (None, None))
    if new in CLOSED and old not in CLOSED:
        _notify(session, record, "closed")


def _handling_time(data: dict, start: str | None) -> None:
    """handling_hours = closed (else resolved) − opened; refuse an end before the start."""
    field = "closed_at" if data.get("closed_at") else "resolved_at"
    if not data.get(field) or not start:
        return
    hours = times.hours_between(start, data[field])
    if hours < 0:
        raise ValidationError(f"a case cannot be closed before it was opened ({data[field]} < {start})",
                              [{"pointer": f"/data/{field}", "message": "before opened_at"}])
    data["handling_hours"] = hours


def _route(record, session) -> None:
    """dealer_code from the customer's servicing dealer (if not given); then the record
    moves to the unit of that name, when there is one (a dealer's unit is its code)."""
    data = record.data
    from_customer = False
    if "dealer_code" not in data:
        customer = _customer(session, data.get("customer_id"))
        if customer is not None and customer.data.get("dealer_code"):
            data["dealer_code"] = customer.data["dealer_code"]
            from_customer = True
    _check_may_file(record, session, from_customer)
    _follow_dealer(record, session)


def _check_may_file(record, session, from_customer: bool) -> None:
    """Refuse a new case routed to a dealer the acting user may not file cases for: a
    ``dealer_code`` (given, or the customer's servicing dealer) whose unit is not the case's
    and lies outside the user's create scope for cases (:meth:`Session.may_create_in`, the
    rule of ``--unit``). Else a dealer's user could file cases (complaints) into a rival's
    unit and complaint KPIs. HQ, the call centre and automations (``session.as_system()``,
    e.g. voc's closed loop) pass. A code naming no unit is refused alike, unless the user may
    create cases everywhere (then the case stays where it is): no dealer code is learnt by trying."""
    code = record.data.get("dealer_code")
    if isinstance(code, str) and code != record.unit and not session.may_create_in(record.type, code):
        whose = " (the customer's servicing dealer: name your own in dealer_code)" if from_customer else ""
        raise ValidationError(
            f"dealer {code!r}{whose} is outside the dealers {session.actor.name!r} may file case records for; "
            f"nothing was created",
            [{"pointer": "/data/dealer_code", "message": "outside the dealers you may file records for"}])


def _follow_dealer(record, session) -> None:
    """Move the case to the unit named by its ``dealer_code``, when there is one."""
    code = record.data.get("dealer_code")
    if isinstance(code, str) and code != record.unit and session.has_unit(code):
        record.unit = code


def _customer(session, customer_id):
    """The customer record ``customer_id`` (read as the platform: routing does not depend on
    what the user may see), or None."""
    if not isinstance(customer_id, str):
        return None
    try:
        rec = session.as_system().get(customer_id)
    except NotFound:
        return None
    return rec if rec.type == "customer" else None



def _notify(session, record, event: str) -> None:
    """Tell the case's customer (in their language, on their channel), if reachable."""
    customer = _customer(session, record.data.get("customer_id"))
    reach = outbox.contact(customer.data) if customer is not None else None
    if reach is None:
        return
    lang = str(customer.data.get("preferred_language") or "en").split("-")[0]
    texts = rules()["messages"][event]
    text = texts.get(lang, texts["en"]).format(
        case=record.data.get("case_number") or record.id, due_at=record.data.get("due_at", "-"),
        resolution=record.data.get("resolution", ""))
    outbox.send(session, record, reach[0], reach[1], text, f"case_{event}")
