"""A page of a record's timeline with its related records' activities (the record page's)
reads the record's own activities from the index ``(record_id, at, id)`` on SQLite: one
``own OR related`` condition made the database collect and sort every activity of the
record for each page (10,000 for a busy one). ``history.timeline_select`` reads each part
ordered and limited, then merges them; the pages must be what they were.

Needs the change of ``Session.history`` that calls ``history.timeline_select`` (scale15's
patch of xrm_core/session.py).
"""
from __future__ import annotations

import pytest

from test_scale15_first_page_indexes import _statements


@pytest.fixture
def hub(platform):
    """A person related to 6 others; calls logged on it and on them, interleaved in time."""
    with platform.session() as s:
        hub = s.create("person", {"name": "Hub"}).id
        others = [s.create("person", {"name": f"P{i}"}).id for i in range(6)]
        for i, o in enumerate(others):
            s.relate("knows", hub, o) if i % 2 else s.relate("knows", o, hub)
        for i in range(12):
            s.log(hub, "call", f"hub call {i}")
            s.log(others[i % 6], "call", f"call {i}")
        stranger = s.create("person", {"name": "Stranger"}).id
        s.log(stranger, "call", "not related")
    return hub


def _pages(s, hub, size, newest_first):
    out, after = [], None
    while True:
        page = s.history(hub, include_related=True, limit=size, newest_first=newest_first, after=after)
        out.append(page)
        if len(page) < size:
            return out
        after = (page[-1]["at"], page[-1]["id"])


@pytest.mark.parametrize("newest_first", [True, False])
@pytest.mark.parametrize("size", [1, 5, 7, 200])
def test_pages_are_the_whole_timeline_in_order(platform, hub, newest_first, size):
    with platform.session() as s:
        whole = s.history(hub, include_related=True, newest_first=newest_first)  # no limit: one query
        pages = _pages(s, hub, size, newest_first)
    assert len(whole) == 7 + 6 * 2 + 12 + 12  # created (hub, others), related (each end), calls
    assert all(len(p) == size for p in pages[:-1])
    assert [a for p in pages for a in p] == whole
    keys = [(a["at"], a["id"]) for a in whole]
    assert keys == sorted(keys, reverse=newest_first)
    assert {a["record_type"] for a in whole} == {"person"}
    assert "not related" not in {a["summary"] for a in whole}


def _own_part_read_from_index(p, sql: str, params) -> bool:
    """Whether SQLite's plan reads the record's own activities in the index's order, apart
    from the related records' (which are sorted): a co-routine (sub-query) that searches
    them by the index and neither sorts nor reads the related ids."""
    with p.engine.connect() as conn:
        rows = list(conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
    children: dict = {}
    for node, parent, _unused, detail in rows:
        children.setdefault(parent, []).append(detail)
    return any(detail.startswith("CO-ROUTINE")
               and any("ix_xrm_activities_record (record_id=?)" in d for d in children.get(node, []))
               and not any("TEMP B-TREE" in d or "SUBQUERY" in d for d in children.get(node, []))
               for node, _parent, _unused, detail in rows)


@pytest.mark.parametrize("newest_first", [True, False])
def test_the_records_own_activities_are_read_a_page_from_the_index(platform, hub, newest_first):
    if platform.engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL keeps one condition (history.timeline_select says why)")
    statements = [(q, v) for q, v in _statements(
        platform, lambda s: s.history(hub, include_related=True, limit=5, newest_first=newest_first))
        if "xrm_activities" in q and "ORDER BY" in q]
    assert len(statements) == 1
    assert _own_part_read_from_index(platform, *statements[0]), statements[0][0]
