"""kpis.compute_periods: a KPI's value in each of consecutive periods (the dashboard's 12-month
trend) from one grouped computation, the same as computing each period on its own — every
declarative measure, date, date-time (any offset) and plain-text time fields, scope applied,
on both engines. The dashboard made 12 computations a card for its trend."""
from __future__ import annotations

import random

import pytest
from sqlalchemy import event

from xrm_core import accounts, kpis
from xrm_core.plugins import hookimpl
from xrm_core.web.ui.dashboard import months

from datetime import date

VISIT = {"name": "visit", "title_field": "label", "schema": {"type": "object", "required": ["label"], "properties": {
    "label": {"type": "string"}, "on": {"type": "string", "format": "date"},
    "at": {"type": "string", "format": "date-time"}, "left": {"type": "string", "format": "date-time"},
    "noted": {"type": "string"}, "score": {"type": "integer"}, "kind": {"type": "string"},
    "amount": {"type": "number"}}}}


class VisitPlugin:
    __name__ = "kpiperiods"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [VISIT]


KPIS = [
    {"name": "visits", "entity": "visit", "time_field": "on", "measure": {"count": True}},
    {"name": "mean_score", "entity": "visit", "time_field": "at", "measure": {"avg": "score"}},
    {"name": "median_amount", "entity": "visit", "time_field": "on", "measure": {"median": "amount"}},
    {"name": "score_total", "entity": "visit", "time_field": "at", "measure": {"sum": "score"}},
    {"name": "promoters", "entity": "visit", "time_field": "at", "measure": {"nps": "score"}},
    {"name": "share_a", "entity": "visit", "time_field": "on", "measure": {"share": {"kind": "a"}}},
    {"name": "a_per_b", "entity": "visit", "time_field": "on",
     "measure": {"ratio": {"numerator": {"kind": "a"}, "denominator": {"kind": {"in": ["b", "c"]}}}}},
    {"name": "stay", "entity": "visit", "time_field": "at", "measure": {"avg_duration": ["at", "left"]},
     "in": "minutes"},
    {"name": "noted", "entity": "visit", "time_field": "noted", "measure": {"count": True}},
    {"name": "high_scores", "entity": "visit", "time_field": "on", "where": {"score": {"gte": 7}},
     "measure": {"count": True}},
]
OFFSETS = ["Z", "+03:30", "-05:00", "+14:00", "-12:00"]
# Text a time field of no format may hold: the day-less and the odd are in no period.
ODD_NOTES = ["soon", "", "2025-3-1", "2025-03-00", "2025-02-30T10:00", "2025-13-01"]


@pytest.fixture
def platform(make_platform):
    p = make_platform(VisitPlugin())
    rnd = random.Random(15)
    with p.connection() as conn:
        accounts.create_unit(conn, "east")
        accounts.save_role(conn, {"name": "clerk", "grants": [{"type": "*", "actions": ["read", "create"],
                                                                "depth": "unit"}]})
        accounts.create_user(conn, "clerk", "east", ["clerk"], "pw")
    days = [date(2024, 5, 1).toordinal() + i for i in range(480)]
    for who in ("admin", "clerk"):
        with p.session(who) as s:
            for i in range(150):
                day = date.fromordinal(rnd.choice(days))
                # Many at the edges of months: the first and last second of a day.
                clock = rnd.choice(["00:00:00", "23:59:59", "12:30:00", "23:59:59.999"])
                data = {"label": f"v{i}", "on": day.isoformat(), "at": f"{day}T{clock}{rnd.choice(OFFSETS)}",
                        "kind": rnd.choice("abc"), "noted": rnd.choice(ODD_NOTES + [day.isoformat()] * 6)}
                if rnd.random() < 0.9:
                    data["score"] = rnd.randint(0, 10)
                if rnd.random() < 0.8:
                    data["amount"] = round(rnd.uniform(-50, 500), 2)
                if rnd.random() < 0.8:  # some leave before they came: avg_duration leaves them out
                    data["left"] = f"{day}T{rnd.choice(['01:00:00', '13:15:00', '23:00:00'])}Z"
                s.create("visit", data)
            # Two days either side of a month's end, at its edges in several offsets.
            for i, (at, left) in enumerate([("2025-03-31T23:59:59+03:30", "2025-04-01T00:30:00+03:30"),
                                            ("2025-03-31T00:00:00-12:00", "2025-03-31T01:00:00Z"),
                                            ("2025-04-01T00:00:00-05:00", "2025-04-01T06:00:00Z"),
                                            ("2025-04-01T23:59:59.999+14:00", "2025-04-01T12:00:00Z")]):
                s.create("visit", {"label": f"edge{i}", "on": at[:10], "at": at, "left": left, "noted": at[:10],
                                   "kind": "abc"[i % 3], "score": 3 * i, "amount": 10.5 * i})
    with p.connection() as conn:
        for k in KPIS:
            kpis.add(p, conn, {"unit": "", **k})
    return p


PERIODS = {
    "twelve months": months(date(2025, 6, 15)),
    "weeks": [(date.fromordinal(date(2025, 1, 6).toordinal() + 7 * w).isoformat(),
               date.fromordinal(date(2025, 1, 6).toordinal() + 7 * w + 6).isoformat()) for w in range(9)],
    "two days": [("2025-03-31", "2025-03-31"), ("2025-04-01", "2025-04-01")],
}


@pytest.mark.parametrize("periods", PERIODS.values(), ids=PERIODS.keys())
@pytest.mark.parametrize("user", ["admin", "clerk"])
def test_each_period_has_the_value_of_its_own_computation(platform, periods, user):
    with platform.session(user, write=False) as s:
        for k in KPIS:
            alone = [kpis.compute(s, k["name"], first, last)["value"] for first, last in periods]
            assert kpis.compute_periods(s, k["name"], periods) == alone, k["name"]
            assert any(v is not None for v in alone), k["name"]  # there is data in the periods


def test_one_grouped_computation_not_one_per_period(platform):
    statements = []

    def seen(conn, cursor, statement, *a):
        if "xrm_records" in statement:
            statements.append(statement)
    event.listen(platform.engine, "before_cursor_execute", seen)
    try:
        with platform.session(write=False) as s:
            kpis.compute_periods(s, "mean_score", PERIODS["twelve months"])
    finally:
        event.remove(platform.engine, "before_cursor_execute", seen)
    assert len(statements) == 2, statements  # the whole window and its groups (was 12)


def test_periods_not_following_each_other_are_computed_one_by_one(platform):
    gaps = [("2025-01-01", "2025-01-31"), ("2025-03-01", "2025-03-31")]
    overlap = [("2025-01-01", "2025-02-15"), ("2025-02-01", "2025-02-28")]
    with platform.session(write=False) as s:
        for periods in (gaps, overlap):
            assert kpis.compute_periods(s, "visits", periods) == \
                [kpis.compute(s, "visits", a, b)["value"] for a, b in periods]
        with pytest.raises(kpis.ValidationError) as e:
            kpis.compute_periods(s, "visits", [("2025-02-01", "2025-01-01")])
        assert e.value.errors[0]["pointer"] == "/from"
        with pytest.raises(kpis.ValidationError) as e:
            kpis.compute_periods(s, "visits", [("2025-01-01", "2025-02-31")])
        assert e.value.errors[0]["pointer"] == "/to"
