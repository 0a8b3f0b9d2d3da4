"""Lead assignment: a new lead without a dealer goes to a dealer of its region, round robin;
a new lead that names its dealer is handed to it now (``assigned_at``, status ``assigned``).
A lead lives in its dealer's unit: on creation, and again when an update changes its
``dealer_code`` (:func:`before_update`). A lead that names its dealer is filed there only
if the acting user may create leads in that dealer's unit (:func:`check_may_file`), as the
core rules for a move on update; round robin is the platform's choice and routes anywhere.

"Round robin" is computed, not stored: the lead goes to the active dealer of its region
(``dealer.region`` = ``lead.region``) holding the fewest leads so far, ties broken by dealer
code — so dealers take turns, a dealer added later catches up first, and nothing can drift
out of step with the data. Counts are read from the database once per transaction and
region, then kept in memory, because a bulk import runs the hooks of a whole batch before
storing any of it. Two transactions assigning at the same moment may pick the same dealer;
the next leads even that out.
"""
from __future__ import annotations

import weakref

from xrm_core import ValidationError, times

INACTIVE = ("suspended", "terminated")
#: per open connection (one transaction): {region: {dealer_code: leads}} and the ids of the
#: leads assigned here (their handover is logged after they are stored)
_tallies: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def before_create(record, session) -> None:
    data = record.data
    check_may_file(record, session)
    if "dealer_code" not in data and isinstance(data.get("region"), str):
        code = next_dealer(session, data["region"])
        if code is not None:
            data["dealer_code"] = code
            if "first_response_at" not in data:
                # A lead answered already is history being entered: a handover now would come
                # after its first response (a negative lead response time).
                data.setdefault("assigned_at", times.now())
            if data.get("status", "new") == "new":
                data["status"] = "assigned"
            _tally(session)["assigned"].add(record.id)
    elif isinstance(data.get("dealer_code"), str) and _fresh(data):
        # Handed straight to a dealer it names (the call centre's choice): the dealer's clock
        # starts now, as for a round-robin lead — without assigned_at the dealer KPIs, whose
        # period is on assigned_at, would never count it. A lead recorded further on (a status
        # past new, a first response) is history being entered: now would be the wrong time.
        data["assigned_at"] = times.now()
        data["status"] = "assigned"
    follow_dealer(record, session)


def before_update(record, changes, session) -> None:
    """A lead handed to another dealer (its ``dealer_code`` changed) moves to that dealer's
    unit, as a new lead naming its dealer does, so the dealer's users see it and the old
    dealer's no longer do. The core checks the move: a user who may not place leads in the
    new dealer's unit (another dealer's user) is refused and nothing changes. A removed or
    unknown code leaves the lead where it is."""
    if "/dealer_code" in changes:
        follow_dealer(record, session)


def follow_dealer(record, session) -> None:
    """Move ``record`` to the unit named by its ``dealer_code``, when such a unit exists."""
    code = record.data.get("dealer_code")
    if isinstance(code, str) and code != record.unit and session.has_unit(code):
        record.unit = code  # a dealer's unit is named by its code


def check_may_file(record, session) -> None:
    """Refuse a new lead whose ``dealer_code`` names a dealer the acting user may not file
    leads for: its unit is not the lead's and lies outside the user's create scope for leads
    (the core's rule for a new record's unit, :meth:`Session.may_create_in`) — another dealer's
    user naming that dealer, who would push the lead into a rival's unit and KPIs and lose
    sight of it. HQ, the call centre and automations (``session.as_system()``) pass. A code
    naming no unit is refused alike, unless the user may create leads everywhere (then the
    lead stays where it is), so that no dealer code is learnt by trying."""
    code = record.data.get("dealer_code")
    if isinstance(code, str) and code != record.unit and not session.may_create_in(record.type, code):
        raise ValidationError(
            f"dealer {code!r} is outside the dealers {session.actor.name!r} may file lead records for; "
            f"nothing was created",
            [{"pointer": "/data/dealer_code", "message": "outside the dealers you may file records for"}])


def _fresh(data) -> bool:
    """Is the new lead not yet worked on: no status or ``new``, no first response, no
    assigned_at of its own?"""
    return data.get("status", "new") == "new" and "first_response_at" not in data and "assigned_at" not in data


def after_create(record, session) -> None:
    """Log the handover on the lead (as ``system``: the platform assigned it)."""
    assigned = _tally(session)["assigned"]
    if record.id in assigned:
        assigned.discard(record.id)
        data = record.data
        session.as_system().log(record.id, "lead_handover",
                                f"assigned to dealer {data['dealer_code']} (round robin, region {data['region']})",
                                {"dealer_code": data["dealer_code"], "region": data["region"], "rule": "round_robin"})


def next_dealer(session, region: str) -> str | None:
    """The active dealer of ``region`` with the fewest leads (ties: lowest code); counted."""
    counts = _tally(session)["regions"].get(region)
    if counts is None:
        system = session.as_system()
        dealers = system.list("dealer", {"region": region}, limit=10_000, sort=["code"])
        codes = [d.data["code"] for d in dealers if d.data.get("status") not in INACTIVE]
        counts = {code: system.count("lead", {"dealer_code": code}) for code in codes}
        _tally(session)["regions"][region] = counts
    if not counts:
        return None
    code = min(counts, key=lambda c: (counts[c], c))
    counts[code] += 1
    return code


def _tally(session) -> dict:
    return _tallies.setdefault(session.conn, {"regions": {}, "assigned": set()})

