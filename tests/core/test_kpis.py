"""The KPI engine: every declarative measure against hand-computed values, the period, groups,
scope, Python KPI objects, admin-declared KPIs and the SQL push-down.

Runs on SQLite and, with ``XRM_TEST_DATABASE_URL``, on PostgreSQL.
"""
from __future__ import annotations

import json
import math
import re

import pytest
from sqlalchemy import event, func, select

from xrm_core import KPI, Conflict, DefinitionError, NotFound, PermissionDenied, ValidationError, db, entity_types, kpis
from xrm_core.kpis import KPIContext
from xrm_core.plugins import hookimpl

from conftest import PersonPlugin

RESULT_KEYS = {"kpi", "value", "unit", "n", "from", "to", "groups"}

TICKET = {
    "name": "ticket", "title_field": "subject",
    "schema": {
        "type": "object",
        "properties": {
            "subject": {"type": "string"},
            "channel": {"type": "string"},
            "score": {"type": "integer", "minimum": 0, "maximum": 10},
            "amount": {"type": "number"},
            "urgent": {"type": "boolean"},
            "opened_at": {"type": "string", "format": "date-time"},
            "closed_at": {"type": "string", "format": "date-time"},
            "opened_on": {"type": "string", "format": "date"},
            "closed_on": {"type": "string", "format": "date"},
            "meta": {"type": "object", "properties": {"level": {"type": "integer"}, "area": {"type": "string"}}},
            "tags": {"type": "array", "items": {"type": "string"}},
            "due": {"type": "string"},
        },
        "required": ["subject"],
    },
}


class UrgentAmount(KPI):
    """A Python KPI: the sum of ``amount`` over urgent tickets, built from ``ctx``."""

    name = "urgent_amount"
    label = "Urgent amount"
    unit = "eur"
    entity = "ticket"
    time_field = "opened_at"
    description = "sum(amount) where urgent"

    def compute(self, ctx):
        amount = ctx.field("ticket", "amount")
        cond = ctx.base("ticket", {"urgent": True})
        value, n = ctx.execute(select(func.sum(amount), func.count(amount))
                               .select_from(db.records).where(cond)).first()
        return {"value": value, "n": n, "groups": []}


class TicketPlugin:
    __name__ = "testticket"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [TICKET]

    @staticmethod
    @hookimpl
    def xrm_kpis():
        return [UrgentAmount(),
                {"name": "ticket_count", "unit": "count", "entity": "ticket", "time_field": "opened_at",
                 "measure": {"count": True}}]


@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """These tests log nobody in: spare the 0.4 s of a real argon2 hash per user."""
    from argon2 import PasswordHasher
    from xrm_core import accounts
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def platform(make_platform):
    """Overrides conftest's: the person plugin plus tickets (``org`` builds on this one)."""
    return make_platform(PersonPlugin(), TicketPlugin())


# Five tickets, values chosen so each measure has a distinct hand-computed answer.
TICKETS = [
    {"subject": "t1", "channel": "web", "score": 10, "amount": 10.5, "urgent": True,
     "opened_at": "2024-03-01T08:00:00Z", "closed_at": "2024-03-01T10:00:00Z",          # 2 h
     "opened_on": "2024-03-01", "closed_on": "2024-03-03", "meta": {"level": 1, "area": "north"}},
    {"subject": "t2", "channel": "web", "score": 9, "amount": 20, "urgent": False,
     "opened_at": "2024-03-02T08:00:00Z", "closed_at": "2024-03-02T14:00:00Z",          # 6 h
     "opened_on": "2024-03-02", "closed_on": "2024-03-02", "meta": {"level": 2, "area": "south"}},
    {"subject": "t3", "channel": "phone", "score": 7, "amount": 30, "urgent": True,
     "opened_at": "2024-03-03T00:00:00Z", "closed_at": "2024-03-04T00:00:00Z",          # 24 h
     "opened_on": "2024-03-03", "closed_on": "2024-03-07", "meta": {"level": 2}},
    {"subject": "t4", "channel": "phone", "score": 3, "amount": 40, "urgent": False,
     "opened_at": "2024-03-31T23:59:00Z"},                                               # still open
    {"subject": "t5", "channel": "email", "score": 6, "urgent": False,
     "opened_at": "2024-04-01T00:00:00Z", "closed_at": "2024-04-01T01:30:00+01:00"},     # 0.5 h (offset)
]


@pytest.fixture
def tickets(platform):
    with platform.session() as s:
        for t in TICKETS:
            s.create("ticket", t)
    return platform


def add(platform, definition: dict) -> dict:
    with platform.connection() as conn:
        return kpis.add(platform, conn, definition)


def compute(platform, name, user="admin", date_from=None, date_to=None, by=None) -> dict:
    with platform.session(user, write=False) as s:
        result = kpis.compute(s, name, date_from, date_to, by)
    assert set(result) == RESULT_KEYS
    return result


def measure(platform, m: dict, **extra) -> dict:
    """Declare KPI ``k`` over tickets with measure ``m`` and compute it as admin."""
    add(platform, {"name": "k", "unit": "u", "entity": "ticket", "time_field": "opened_at",
                   "measure": m, **{k: v for k, v in extra.items() if k not in ("by", "date_from", "date_to")}})
    return compute(platform, "k", by=extra.get("by"), date_from=extra.get("date_from"),
                   date_to=extra.get("date_to"))


# -- every measure ----------------------------------------------------------------------
def test_count_sum_avg_and_result_shape(tickets):
    r = measure(tickets, {"count": True})
    assert r == {"kpi": "k", "value": 5, "unit": "u", "n": 5, "from": None, "to": None, "groups": []}
    assert measure(tickets, {"count": True}, where={"channel": "web"})["value"] == 2
    assert measure(tickets, {"sum": "amount"}) | {"groups": None} == {
        "kpi": "k", "value": 100.5, "unit": "u", "n": 4, "from": None, "to": None, "groups": None}
    r = measure(tickets, {"avg": "amount"})
    assert (r["value"], r["n"]) == (25.125, 4)
    r = measure(tickets, {"sum": "score"})
    assert r["value"] == 35 and isinstance(r["value"], int)  # integral sums stay integers on both engines
    assert measure(tickets, {"avg": "score"}, where={"urgent": True})["value"] == 8.5  # (10 + 7) / 2


def test_median_odd_even_and_grouped(tickets):
    assert measure(tickets, {"median": "score"})["value"] == 7                      # 3 6 [7] 9 10
    r = measure(tickets, {"median": "score"}, where={"channel": {"ne": "email"}})   # 3 [7 9] 10
    assert (r["value"], r["n"]) == (8, 4)
    assert measure(tickets, {"median": "amount"})["value"] == 25                    # 10.5 [20 30] 40
    r = measure(tickets, {"median": "score"}, by="channel")
    assert r["value"] == 7 and r["n"] == 5
    assert r["groups"] == [{"key": "email", "value": 6, "n": 1},
                           {"key": "phone", "value": 5, "n": 2},                     # (3 + 7) / 2
                           {"key": "web", "value": 9.5, "n": 2}]                     # (9 + 10) / 2
    assert measure(tickets, {"median": "score"}, scale=10)["value"] == 70


def test_median_middle_rows(platform):
    """Integer division picks the middle row(s), for odd and even n, on both engines."""
    cases = {"a": ([1, 2], 1.5), "b": ([5, 1, 3], 3), "c": ([4, 1, 3, 2], 2.5), "d": ([6, 1, 5, 2, 4, 3], 3.5),
             "e": ([9], 9), "f": ([2, 2, 8, 8, 8, 1, 1], 2), "g": ([1, 2, 3, 4, 5, 6, 7, 8], 4.5)}
    with platform.session() as s:
        for group, (values, _) in cases.items():
            for v in values:
                s.create("ticket", {"subject": "m", "channel": group, "score": v})
    r = measure(platform, {"median": "score"}, by="channel")
    assert r["groups"] == [{"key": g, "value": e, "n": len(v)} for g, (v, e) in cases.items()]
    assert (r["value"], r["n"]) == (3, 31)
    r = measure(platform, {"median": "score"}, where={"channel": {"in": ["a", "g"]}})
    assert (r["value"], r["n"]) == (3.5, 10)  # 1 1 2 2 [3 4] 5 6 7 8


def test_share_and_ratio_are_percent_by_default_and_scale_replaces_it(tickets):
    r = measure(tickets, {"share": {"urgent": True}})
    assert (r["value"], r["n"]) == (40, 5)                                           # 2 of 5
    assert measure(tickets, {"share": {"urgent": True}}, scale=1)["value"] == 0.4      # integer scale, true division
    assert measure(tickets, {"share": {"channel": "web"}}, where={"urgent": True})["value"] == 50
    assert measure(tickets, {"share": {"score": {"gte": 7}}})["value"] == 60
    ratio = {"numerator": {"channel": "web"}, "denominator": {"channel": {"in": ["web", "phone"]}}}
    r = measure(tickets, {"ratio": ratio})
    assert (r["value"], r["n"]) == (50, 4)                                           # 2 / 4
    assert measure(tickets, {"ratio": ratio}, scale=1000)["value"] == 500
    # complaints per 100 others: numerator need not be a subset of the denominator
    r = measure(tickets, {"ratio": {"numerator": {"channel": "phone"}, "denominator": {"channel": "web"}}})
    assert r["value"] == 100
    r = measure(tickets, {"ratio": {"numerator": {"channel": "web"}, "denominator": {"channel": "fax"}}})
    assert (r["value"], r["n"]) == (None, 0)
    r = measure(tickets, {"ratio": {"numerator": {"urgent": True}, "denominator": {"score": {"exists": True}}}},
                scale=1)
    assert r["value"] == 0.4


def test_nps_of_ten_responses(platform):
    # promoters 10 10 9 9 10 (50 %), passives 8 7, detractors 6 2 0 (30 %): NPS 20
    with platform.session() as s:
        for i, v in enumerate([10, 10, 9, 9, 10, 8, 7, 6, 2, 0]):
            s.create("ticket", {"subject": f"r{i}", "score": v})
        s.create("ticket", {"subject": "unanswered"})
    r = measure(platform, {"nps": "score"})
    assert (r["value"], r["n"]) == (20, 10)


def test_nps_rounding_and_groups(tickets):
    # web 10 9 -> 100; phone 7 3 -> -50; email 6 -> -100; all: 2 promoters, 2 detractors of 5 -> 0
    r = measure(tickets, {"nps": "score"}, by="channel")
    assert (r["value"], r["n"]) == (0, 5)
    assert r["groups"] == [{"key": "email", "value": -100, "n": 1}, {"key": "phone", "value": -50, "n": 2},
                           {"key": "web", "value": 100, "n": 2}]
    with tickets.session() as s:
        s.create("ticket", {"subject": "t6", "score": 9})
        s.create("ticket", {"subject": "t7", "score": 8})
    # 3 promoters, 2 detractors of 7: 100/7
    assert measure(tickets, {"nps": "score"})["value"] == pytest.approx(14.285714, abs=1e-6)


def test_avg_duration_between_date_times_and_dates(tickets):
    # 2 h, 6 h, 24 h and 0.5 h (00:00Z to 01:30+01:00); t4 has no end and is left out
    for unit, expected in [(None, 8.125), ("hours", 8.125), ("minutes", 487.5), ("seconds", 29250),
                           ("days", 0.338542)]:
        r = measure(tickets, {"avg_duration": ["opened_at", "closed_at"]}, **({"in": unit} if unit else {}))
        assert (r["value"], r["n"]) == (expected, 4), unit
    # 2, 0 and 4 days
    r = measure(tickets, {"avg_duration": ["opened_on", "closed_on"]}, **{"in": "days"})
    assert (r["value"], r["n"]) == (2, 3)
    assert measure(tickets, {"avg_duration": ["opened_on", "closed_on"]})["value"] == 48


def test_avg_duration_skips_what_is_not_a_date(tickets):
    with tickets.session() as s:
        s.create("ticket", {"subject": "t6", "opened_at": "2024-03-05T00:00:00Z", "due": "soon"})
        s.create("ticket", {"subject": "t7", "opened_at": "2024-03-05T00:00:00Z", "due": "2024-03-06"})
        s.create("ticket", {"subject": "t8", "opened_at": "2024-03-05T00:00:00Z", "due": "2024-03-05T12:00:00"})
    r = measure(tickets, {"avg_duration": ["opened_at", "due"]})
    assert (r["value"], r["n"]) == (18, 2)  # 24 h and 12 h (no offset: read as UTC); "soon" left out


def test_avg_duration_ignores_the_server_time_zone(tickets, db_url):
    """Dates are days of 24 hours even where the server's zone changes to summer time."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the session time zone is a PostgreSQL setting")
    from xrm_core import Platform
    from xrm_core.plugins import make_plugin_manager
    with tickets.session() as s:
        s.create("ticket", {"subject": "dst", "opened_on": "2024-03-31", "closed_on": "2024-04-01",
                            "opened_at": "2024-03-31T00:00:00+01:00", "closed_at": "2024-04-01T00:00:00+02:00"})
    add(tickets, {"name": "days", "entity": "ticket", "where": {"subject": "dst"},
                  "measure": {"avg_duration": ["opened_on", "closed_on"]}})
    add(tickets, {"name": "times", "entity": "ticket", "where": {"subject": "dst"},
                  "measure": {"avg_duration": ["opened_at", "closed_at"]}})
    berlin = Platform(db_url + "%20-ctimezone%3DEurope/Berlin",
                      pm=make_plugin_manager(load_entry_points=False, plugins=[PersonPlugin(), TicketPlugin()]))
    try:
        with berlin.session(write=False) as s:
            assert s.conn.exec_driver_sql("SHOW timezone").scalar() == "Europe/Berlin"
            assert kpis.compute(s, "days")["value"] == 24
            assert kpis.compute(s, "times")["value"] == 23  # the offsets say so
    finally:
        berlin.dispose()


def test_avg_duration_grouped(tickets):
    r = measure(tickets, {"avg_duration": ["opened_at", "closed_at"]}, by="channel")
    assert r["groups"] == [{"key": "email", "value": 0.5, "n": 1}, {"key": "phone", "value": 24, "n": 1},
                           {"key": "web", "value": 4, "n": 2}]


# -- period --------------------------------------------------------------------------------
def test_period_is_inclusive_calendar_dates_on_date_times_and_dates(tickets):
    add(tickets, {"name": "k", "entity": "ticket", "time_field": "opened_at", "measure": {"count": True}})
    r = compute(tickets, "k", date_from="2024-03-01", date_to="2024-03-31")
    assert (r["value"], r["from"], r["to"]) == (4, "2024-03-01", "2024-03-31")   # t4 at 23:59 counts, t5 not
    assert compute(tickets, "k", date_from="2024-04-01")["value"] == 1
    assert compute(tickets, "k", date_to="2024-03-01")["value"] == 1
    assert compute(tickets, "k", date_from="2024-03-02", date_to="2024-03-02")["value"] == 1
    r = compute(tickets, "k", date_from="2025-01-01")
    assert (r["value"], r["n"], r["groups"]) == (None, 0, [])
    add(tickets, {"name": "k", "entity": "ticket", "time_field": "opened_on", "measure": {"count": True}})
    assert compute(tickets, "k", date_from="2024-03-02", date_to="2024-03-03")["value"] == 2
    # records without the time field are outside any period, but count without one
    assert compute(tickets, "k")["value"] == 5
    assert compute(tickets, "k", date_to="2030-01-01")["value"] == 3


def test_invalid_dates(tickets):
    for args, pointer in [
            ({"date_from": "2024-13-01"}, "/from"), ({"date_to": "yesterday"}, "/to"),
            ({"date_from": "2024-03-01T00:00"}, "/from"), ({"date_to": "2024-W10-1"}, "/to"),
            ({"date_from": "20240301"}, "/from"), ({"date_from": "2024-02-30"}, "/from"),
            ({"date_to": " 2024-03-01"}, "/to")]:
        with pytest.raises(ValidationError) as e:
            compute(tickets, "ticket_count", **args)
        assert e.value.errors == [{"pointer": pointer, "message": "not a YYYY-MM-DD date"}], args
        assert "YYYY-MM-DD" in str(e.value)
    with pytest.raises(ValidationError) as e:
        compute(tickets, "ticket_count", date_from="2024-03-05", date_to="2024-03-01")
    assert e.value.errors[0]["pointer"] == "/from" and "after" in str(e.value)
    with pytest.raises(NotFound):
        compute(tickets, "no_such_kpi")
    with pytest.raises(ValidationError) as e:
        compute(tickets, "ticket_count", by="nope")
    assert e.value.errors[0]["pointer"] == "/by"
    for by in ["tags", "meta", "a b", "x') OR 1=1 --"]:  # arrays and objects have no single group key
        with pytest.raises(ValidationError) as e:
            compute(tickets, "ticket_count", by=by)
        assert e.value.errors[0]["pointer"] == "/by", by


# -- groups ----------------------------------------------------------------------------------
def test_groups_sorted_with_missing_key_last(tickets):
    r = compute(tickets, "ticket_count", by="meta.area")
    assert r["groups"] == [{"key": "north", "value": 1, "n": 1}, {"key": "south", "value": 1, "n": 1},
                           {"key": None, "value": 3, "n": 3}]
    r = compute(tickets, "ticket_count", by="meta.level")
    assert r["groups"] == [{"key": 1, "value": 1, "n": 1}, {"key": 2, "value": 2, "n": 2},
                           {"key": None, "value": 2, "n": 2}]
    assert all(isinstance(g["key"], int) for g in r["groups"][:2])
    r = compute(tickets, "ticket_count", by="urgent")
    assert r["groups"] == [{"key": False, "value": 3, "n": 3}, {"key": True, "value": 2, "n": 2}]
    r = compute(tickets, "ticket_count", date_from="2024-03-03", by="score")
    assert [(g["key"], g["n"]) for g in r["groups"]] == [(3, 1), (6, 1), (7, 1)]
    r = measure(tickets, {"avg": "amount"}, by="channel")
    assert r["groups"] == [{"key": "email", "value": None, "n": 0}, {"key": "phone", "value": 35, "n": 2},
                           {"key": "web", "value": 15.25, "n": 2}]


# -- scope -------------------------------------------------------------------------------------
@pytest.fixture
def scoped(org):
    """Tickets and persons in dealer_a and dealer_b; agent_a owns one dealer_a ticket."""
    with org.session() as s:
        for unit, score, amount in [("dealer_a", 10, 1), ("dealer_a", 2, 2), ("dealer_b", 9, 4),
                                    ("dealer_b", 9, 8), ("hq", 0, 16)]:
            s.create("ticket", {"subject": "s", "score": score, "amount": amount, "urgent": True,
                                "opened_at": "2024-05-01T12:00:00Z"}, unit=unit)
        for unit, age in [("dealer_a", 20), ("dealer_a", 40), ("dealer_b", 60), ("north", 80), ("hq", 100)]:
            s.create("person", {"name": "p", "age": age}, unit=unit)
    with org.session("agent_a") as s:
        s.create("ticket", {"subject": "mine", "score": 5, "amount": 32, "urgent": True,
                            "opened_at": "2024-05-02T12:00:00Z"})
    add(org, {"name": "avg_score", "entity": "ticket", "time_field": "opened_at", "measure": {"avg": "score"}})
    add(org, {"name": "avg_age", "entity": "person", "measure": {"avg": "age"}})
    return org


def test_declarative_kpi_in_scope(scoped):
    for user, n, value in [("admin", 6, 35 / 6), ("manager_a", 3, 17 / 3), ("manager_b", 2, 9),
                           ("agent_a", 1, 5), ("agent_a2", 0, None)]:
        r = compute(scoped, "avg_score", user)
        assert (r["n"], r["value"]) == (n, None if value is None else pytest.approx(value, abs=1e-6)), user
    # person: unit, subtree and all depths
    for user, n, value in [("admin", 5, 60), ("analyst", 5, 60), ("north_lead", 3, 140 / 3),
                           ("manager_b", 1, 60)]:
        r = compute(scoped, "avg_age", user)
        assert (r["n"], r["value"]) == (n, None if value is None else pytest.approx(value, abs=1e-6)), user
    # No read grant on the measured type at all: refused as a list of it is (403), not an
    # empty result that would read as "no data yet".
    for kpi, user in [("avg_score", "north_lead"), ("avg_score", "nobody"), ("avg_age", "nobody")]:
        with pytest.raises(PermissionDenied, match=f"'{user}' may not read .* records, which KPI '{kpi}' measures"):
            compute(scoped, kpi, user)


def test_scope_applies_to_groups_and_every_measure(scoped):
    r = compute(scoped, "ticket_count", "manager_a", by="score")
    assert r["groups"] == [{"key": 2, "value": 1, "n": 1}, {"key": 5, "value": 1, "n": 1},
                           {"key": 10, "value": 1, "n": 1}]
    add(scoped, {"name": "med", "entity": "ticket", "measure": {"median": "amount"}})
    assert compute(scoped, "med", "manager_b")["value"] == 6        # 4 and 8
    assert compute(scoped, "med", "manager_a")["value"] == 2        # 1 2 32
    assert compute(scoped, "med", "agent_a2")["value"] is None      # a grant, but nothing in scope
    add(scoped, {"name": "nps", "entity": "ticket", "measure": {"nps": "score"}})
    assert compute(scoped, "nps", "manager_b")["value"] == 100
    assert compute(scoped, "nps", "manager_a")["value"] == pytest.approx(-100 / 3, abs=1e-6)


# -- Python KPIs -------------------------------------------------------------------------------
def test_python_kpi_honours_scope_and_period(scoped):
    # urgent amounts: dealer_a 1 + 2, agent_a's 32 (May 2nd), dealer_b 4 + 8, hq 16
    assert compute(scoped, "urgent_amount")["value"] == 63
    assert compute(scoped, "urgent_amount", "manager_a")["value"] == 35
    assert compute(scoped, "urgent_amount", "manager_b")["value"] == 12
    assert compute(scoped, "urgent_amount", "agent_a")["value"] == 32
    r = compute(scoped, "urgent_amount", "agent_a2")    # a grant, but nothing in scope
    assert (r["value"], r["n"]) == (None, 0)
    with pytest.raises(PermissionDenied):                # no grant on its entity: refused
        compute(scoped, "urgent_amount", "nobody")
    r = compute(scoped, "urgent_amount", "manager_a", date_to="2024-05-01")
    assert (r["value"], r["n"], r["to"]) == (3, 2, "2024-05-01")
    assert compute(scoped, "urgent_amount", date_from="2024-05-03")["value"] is None

    # the context's helpers
    with scoped.session("manager_a", write=False) as s:
        kpi = kpis.registry(scoped, s.conn)["urgent_amount"]
        ctx = KPIContext(s, kpi, "2024-05-02", None, None)
        n = ctx.scalar(select(func.count()).select_from(db.records).where(ctx.base("ticket")))
        assert n == 1
        # another entity has no period unless a time field is named
        assert ctx.scalar(select(func.count()).select_from(db.records).where(ctx.base("person"))) == 2
        with pytest.raises(ValidationError) as e:
            ctx.field("ticket", "nope")
        assert e.value.errors[0]["pointer"] == "/nope"
        with pytest.raises(NotFound):
            ctx.base("no_such_type")
    d = kpi.to_dict()
    assert (d["kind"], d["entity"], d["unit"], kpi.source) == ("python", "ticket", "eur", "testticket")


def test_python_kpi_base_of_a_type_the_user_may_not_read_matches_nothing(scoped):
    # north_lead reads persons but no tickets. A plugin's query without select_from (the
    # records table is found in the condition) must still run, and count nothing.
    with scoped.session("north_lead", write=False) as s:
        ctx = KPIContext(s, kpis.registry(scoped, s.conn)["urgent_amount"], None, None, None)
        assert ctx.scalar(select(func.count()).where(ctx.base("ticket"))) == 0
        assert ctx.scalar(select(func.count()).where(ctx.base("ticket", {"urgent": True}))) == 0
        assert ctx.scalar(select(func.count()).where(ctx.base("person"))) == 3
        # across the two types, counting distinct values of the unreadable one's field
        r = ctx.ratio(("ticket", func.count(func.distinct(ctx.field("ticket", "channel"))), {"urgent": True}),
                      ("person", func.count()))
        assert (r["value"], r["n"]) == (0, 3)


# -- admin-declared KPIs -----------------------------------------------------------------------
def _stored(platform):
    with platform.connection() as conn:
        return conn.execute(select(db.kpi_definitions.c.name)).scalars().all()


BAD_DEFINITIONS = [
    ({"name": "Bad Name", "entity": "ticket", "measure": {"count": True}}, "/name"),
    ({"name": "x", "entity": "ticket", "measure": {"count": False}}, "/measure"),
    ({"name": "x", "entity": "ticket", "measure": {"mode": "score"}}, "/measure"),
    ({"name": "x", "entity": "ticket"}, ""),
    ({"name": "x", "entity": "ticket", "measure": {"count": True}, "extra": 1}, ""),
    ({"name": "x", "entity": "nothing", "measure": {"count": True}}, "/entity"),
    ({"name": "x", "entity": "ticket", "measure": {"sum": "nope"}}, "/measure/sum"),
    ({"name": "x", "entity": "ticket", "measure": {"avg": "channel"}}, "/measure/avg"),
    ({"name": "x", "entity": "ticket", "measure": {"nps": "urgent"}}, "/measure/nps"),
    ({"name": "x", "entity": "ticket", "measure": {"median": "meta"}}, "/measure/median"),
    ({"name": "x", "entity": "ticket", "measure": {"avg_duration": ["opened_at", "nope"]}}, "/measure/avg_duration/1"),
    ({"name": "x", "entity": "ticket", "measure": {"avg_duration": ["score", "closed_at"]}}, "/measure/avg_duration/0"),
    ({"name": "x", "entity": "ticket", "time_field": "nope", "measure": {"count": True}}, "/time_field"),
    ({"name": "x", "entity": "ticket", "time_field": "score", "measure": {"count": True}}, "/time_field"),
    ({"name": "x", "entity": "ticket", "measure": {"count": True}, "in": "hours"}, "/in"),
    ({"name": "x", "entity": "ticket", "where": {"nope": 1}, "measure": {"count": True}}, "/where/nope"),
    ({"name": "x", "entity": "ticket", "where": {"score": {"about": 1}}, "measure": {"count": True}},
     "/where/score"),
    ({"name": "x", "entity": "ticket", "measure": {"share": {"score": "high"}}}, "/measure/share/score"),
    ({"name": "x", "entity": "ticket", "measure": {"ratio": {"numerator": {}, "denominator": {"x.y": 1}}}},
     "/measure/ratio/denominator/x.y"),
]


def test_bad_definitions_are_refused_with_pointer_and_store_nothing(platform):
    for definition, pointer in BAD_DEFINITIONS:
        with pytest.raises(DefinitionError) as e:
            add(platform, definition)
        pointers = [err["pointer"] for err in e.value.errors]
        assert any(p == pointer or p.startswith(pointer + "/") for p in pointers), (definition, pointers)
    assert _stored(platform) == []


def test_add_replace_and_conflict_with_plugin_kpi(tickets, make_platform):
    saved = add(tickets, {"name": "web", "entity": "ticket", "measure": {"count": True}, "where": {"channel": "web"}})
    assert saved["name"] == "web" and saved["source"] == "admin" and saved["kind"] == "declarative"
    assert compute(tickets, "web")["value"] == 2
    assert saved["replaced"] is False
    again = add(tickets, {"name": "web", "entity": "ticket", "measure": {"count": True}, "where": {"channel": "phone"}})
    assert again["replaced"] is True and again["where"] == {"channel": "phone"}
    assert compute(tickets, "web")["value"] == 2 and _stored(tickets) == ["web"]
    add(tickets, {"name": "web", "entity": "ticket", "measure": {"count": True}, "where": {"channel": "email"}})
    assert compute(tickets, "web")["value"] == 1
    with pytest.raises(Conflict) as e:
        add(tickets, {"name": "ticket_count", "entity": "ticket", "measure": {"count": True}})
    assert "testticket" in e.value.message and e.value.errors[0]["pointer"] == "/name"
    assert _stored(tickets) == ["web"]
    # stored in the database: another process sees the last version
    other = make_platform(PersonPlugin(), TicketPlugin(), init=False)
    assert compute(other, "web")["value"] == 1


def test_broken_plugin_kpi_fails_init(make_platform):
    class Broken:
        __name__ = "broken"

        @staticmethod
        @hookimpl
        def xrm_kpis():
            return [{"name": "b", "entity": "ticket", "measure": {"sum": "nope"}}]

    p = make_platform(PersonPlugin(), TicketPlugin(), Broken(), init=False)
    with pytest.raises(DefinitionError) as e:
        p.init()
    assert "broken" in str(e.value) and e.value.errors[0]["pointer"] == "/measure/sum"


def test_a_plugin_installed_since_init_is_told_to_run_init_and_the_other_kpis_still_work(make_platform, cli):
    first = make_platform(PersonPlugin())  # the database as the last `xrm init` left it
    with first.connection() as conn:
        kpis.add(first, conn, {"name": "people", "entity": "person", "measure": {"count": True}})
    with first.session() as s:
        s.create("person", {"name": "Ada"})
    p = make_platform(PersonPlugin(), TicketPlugin(), init=False)  # the ticket plugin installed since
    with p.connection() as conn:
        assert set(kpis.registry(p, conn)) == {"people"}
        waiting = kpis.waiting(p, conn)
    assert set(waiting) == {"urgent_amount", "ticket_count"}
    for message in waiting.values():
        assert message.startswith("plugin 'testticket': KPI ") and "measures unknown entity type 'ticket'" in message
        assert message.endswith("the plugin declares entity type(s) ticket that this database does not hold "
                                "yet: run `xrm init` to store its definitions")
    # Its own KPIs say why they cannot be computed; the others are computed as before.
    assert compute(p, "people")["value"] == 1
    with p.session(write=False) as s, pytest.raises(DefinitionError) as e:
        kpis.compute(s, "ticket_count")
    assert e.value.message == waiting["ticket_count"]
    with p.session(write=False) as s, pytest.raises(NotFound):
        kpis.compute(s, "no_such_kpi")
    # The CLI lists the others and says on stderr which wait, and why.
    listed = cli("kpi", "list", "--json", plugins=[PersonPlugin(), TicketPlugin()])
    assert listed.exit_code == 0 and [k["name"] for k in json.loads(listed.stdout)] == ["people"]
    assert listed.stderr.count("warning: not listed: plugin 'testticket'") == 2
    refused = cli("kpi", "compute", "ticket_count", plugins=[PersonPlugin(), TicketPlugin()])
    assert refused.exit_code != 0 and "run `xrm init`" in refused.stderr and "Traceback" not in refused.stderr
    p.init()
    with p.connection() as conn:
        assert {"people", "urgent_amount", "ticket_count"} == set(kpis.registry(p, conn))
        assert kpis.waiting(p, conn) == {}


def test_a_plugin_kpi_naming_a_type_no_plugin_declares_still_fails_init(make_platform):
    class Typo:
        __name__ = "typo"

        @staticmethod
        @hookimpl
        def xrm_kpis():
            return [{"name": "t", "entity": "tickets", "measure": {"count": True}}]

    p = make_platform(PersonPlugin(), TicketPlugin(), Typo(), init=False)
    with pytest.raises(DefinitionError, match="plugin 'typo': KPI 't' measures unknown entity type 'tickets'"):
        p.init()


# -- push-down -------------------------------------------------------------------------------
class Recorder:
    """Counts the statements a platform's engine runs and the rows a KPI fetches."""

    def __init__(self, platform, monkeypatch):
        self.statements: list[str] = []
        self.rows = 0
        event.listen(platform.engine, "before_cursor_execute", self._before)
        self._platform = platform
        orig = KPIContext.execute

        def execute(ctx, stmt):
            frozen = orig(ctx, stmt).freeze()
            self.rows += len(frozen.data)
            return frozen()

        monkeypatch.setattr(KPIContext, "execute", execute)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append(statement)

    def reset(self):
        self.statements.clear()
        self.rows = 0

    def close(self):
        event.remove(self._platform.engine, "before_cursor_execute", self._before)


AGGREGATE = re.compile(r"\b(count|sum|avg|max)\(", re.I)
MEASURES = [{"count": True}, {"avg": "score"}, {"median": "score"}, {"nps": "score"},
            {"share": {"urgent": True}}, {"ratio": {"numerator": {"urgent": True}, "denominator": {}}},
            {"avg_duration": ["opened_at", "closed_at"]}]


def test_kpis_run_in_sql(platform, monkeypatch):
    """Statements issued are independent of the number of records; rows fetched are O(groups)."""
    for i, m in enumerate(MEASURES):
        add(platform, {"name": f"k{i}", "entity": "ticket", "time_field": "opened_at", "measure": m})
    compute(platform, "k0")  # warm the caches of definitions
    rec = Recorder(platform, monkeypatch)
    seen = []
    try:
        for size in (3, 60):
            with platform.session() as s:
                for i in range(size):
                    s.create("ticket", {"subject": "x", "score": i % 11, "urgent": i % 2 == 0,
                                        "channel": ["web", "phone", "email"][i % 3],
                                        "opened_at": f"2024-01-{1 + i % 28:02d}T00:00:00Z",
                                        "closed_at": f"2024-01-{1 + i % 28:02d}T06:00:00Z"})
            for i, m in enumerate(MEASURES):
                rec.reset()
                r = compute(platform, f"k{i}", date_from="2024-01-01", by="channel")
                assert r["n"] > 0 and len(r["groups"]) == 3
                record_reads = [st for st in rec.statements if "xrm_records" in st]
                assert record_reads and all(AGGREGATE.search(st) for st in record_reads), m
                # one row per group and one for the total
                assert rec.rows == 4, (m, rec.rows)
                seen.append((size, i, len(rec.statements)))
    finally:
        rec.close()
    small = {i: n for size, i, n in seen if size == 3}
    large = {i: n for size, i, n in seen if size == 60}
    assert small == large


def test_sums_and_averages_past_64_bits_are_numbers_not_errors(platform):
    """SQLite's sum() stopped with 'integer overflow', and a whole float past 2**63 could not
    be written as JSON (orjson: 64-bit ints)."""
    with platform.session() as s:
        s.create("ticket", {"subject": "a", "amount": 1e20, "opened_at": "2024-03-01T00:00:00Z"})
        s.create("ticket", {"subject": "b", "amount": 3e19, "opened_at": "2024-03-01T00:00:00Z"})
        s.create("ticket", {"subject": "c", "amount": 9223372036854775807, "opened_at": "2024-03-01T00:00:00Z"})
        s.create("ticket", {"subject": "d", "amount": 9223372036854775807, "opened_at": "2024-03-01T00:00:00Z"})
    r = measure(platform, {"sum": "amount"})
    assert r["n"] == 4 and r["value"] == pytest.approx(1.3e20 + 2 * 9223372036854775807, rel=1e-9)
    json.dumps(r)
    assert measure(platform, {"avg": "amount"}, by="subject")["groups"][0]["value"] == pytest.approx(1e20)
    empty = measure(platform, {"sum": "score"})
    assert (empty["value"], empty["n"]) == (None, 0)


def test_avg_duration_reads_lower_case_t_and_z_like_validation_does(platform):
    """RFC 3339 (and record validation) accept 2025-01-01t02:00:00z; SQLite's julianday
    read only an upper-case T, so such a record counted on PostgreSQL and not on SQLite."""
    with platform.session() as s:
        s.create("ticket", {"subject": "a", "opened_at": "2025-01-01t00:00:00z", "closed_at": "2025-01-01t02:00:00z"})
        s.create("ticket", {"subject": "b", "opened_at": "2025-01-01T00:00:00Z", "closed_at": "2025-01-01T04:00:00Z"})
    r = measure(platform, {"avg_duration": ["opened_at", "closed_at"]})
    assert (r["value"], r["n"]) == (3, 2)


def test_results_near_the_largest_double_are_exact_or_refused_clearly(platform):
    """The largest double is kept (cut to 15 digits it rounded past it, to inf, which is
    no JSON); a result beyond it — the sum of two such values as doubles on SQLite, a
    PostgreSQL numeric cast out of a double's range — is a clear refusal, not null with
    n > 0, and not a crash."""
    with platform.connection() as conn:
        entity_types.add(conn, {"name": "huge", "schema": {"type": "object", "properties": {"x": {"type": "number"}}}})
        for m in ("avg", "median", "sum"):
            kpis.add(platform, conn, {"name": f"huge_{m}", "entity": "huge", "measure": {m: "x"}})
    with platform.session() as s:
        s.create("huge", {"x": 1.7976931348623157e308})
    with platform.session() as s:
        for m in ("avg", "median", "sum"):
            r = s.kpi(f"huge_{m}")
            assert (r["value"], r["n"]) == (1.7976931348623157e308, 1), m
    with platform.session() as s:
        s.create("huge", {"x": 1e308})
    for m in ("avg", "median", "sum"):
        with platform.session() as s:
            try:
                r = s.kpi(f"huge_{m}")
            except ValidationError as e:
                assert e.errors == [{"pointer": "/measure", "message": "result out of range"}], m
            else:  # exact numeric on PostgreSQL: a finite answer
                assert r["n"] == 2 and r["value"] is not None and math.isfinite(r["value"]), (m, r)
