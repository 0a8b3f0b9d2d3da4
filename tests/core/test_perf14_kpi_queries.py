"""perf14: the statements a KPI computation costs do not grow with the number of KPIs a
request computes (the dashboard computes each card's value and 12 monthly trend points).

Each ``kpis.compute`` read the registry's freshness stamp again (every entity type's version
and every admin KPI's change time): two statements per call, 340 calls for a dashboard of
26 cards. Within one session (one transaction) the registry is read once.
"""
from __future__ import annotations

from sqlalchemy import event

from xrm_core import kpis

from conftest import PersonPlugin

KPI = {"name": "perf14_people", "label": "People", "unit": "count", "entity": "person",
       "time_field": "born", "measure": {"count": True}}


def _statements(conn, fn):
    seen = []

    def before(_c, _cur, statement, *_a):
        seen.append(statement)
    event.listen(conn, "before_cursor_execute", before)
    try:
        fn()
    finally:
        event.remove(conn, "before_cursor_execute", before)
    return seen


def test_computing_many_kpis_in_a_session_reads_the_registry_once(make_platform):
    p = make_platform(PersonPlugin())
    with p.connection() as conn:
        kpis.add(p, conn, KPI)
    with p.session() as s:
        for i in range(3):
            s.create("person", {"name": f"P{i}", "born": f"2020-0{i + 1}-01"})
    with p.session("admin", write=False) as s:
        kpis.compute(s, "perf14_people")  # the first call may read the registry
        months = [(f"2020-0{m}-01", f"2020-0{m}-28") for m in range(1, 7)]
        seen = _statements(s.conn, lambda: [kpis.compute(s, "perf14_people", a, b) for a, b in months])
        got = [kpis.compute(s, "perf14_people", a, b)["value"] for a, b in months]
    registry_reads = [q for q in seen if "xrm_kpis" in q or "xrm_entity_types" in q]
    assert registry_reads == [], registry_reads
    assert len(seen) == len(months)  # one aggregate a call, nothing else
    assert got == [1, 1, 1, None, None, None]


def test_a_kpi_added_in_the_session_is_computed_at_once(make_platform):
    """The session's registry is dropped when a KPI is added in it: the new one computes."""
    p = make_platform(PersonPlugin())
    with p.session() as s:
        s.create("person", {"name": "P", "born": "2020-01-01"})
        kpis.add(p, s.conn, KPI)
        assert kpis.compute(s, "perf14_people")["value"] == 1
        kpis.add(p, s.conn, {**KPI, "name": "perf14_other"})
        assert kpis.compute(s, "perf14_other")["value"] == 1
