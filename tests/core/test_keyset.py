"""Keyset pagination (Session.list with ``after``) and time-ordered ids."""
from __future__ import annotations

from xrm_core.records import new_id


def _page_through(s, sort, size=2):
    seen, after = [], None
    while True:
        page = s.list("person", sort=[sort], limit=size, after=after)
        seen += [r.data.get("age") for r in page]
        if len(page) < size:
            return seen
        last = page[-1]
        after = (last.data.get(sort.lstrip("-")), last.id)


def test_pages_step_past_records_missing_the_sort_field(platform):
    with platform.session() as s:
        for age in (2, None, 1, None, 3, 2):
            s.create("person", {"name": "p", **({} if age is None else {"age": age})})
        assert _page_through(s, "age") == [1, 2, 2, 3, None, None]
        assert _page_through(s, "-age") == [3, 2, 2, 1, None, None]
        assert _page_through(s, "age", size=1) == [1, 2, 2, 3, None, None]


def test_ids_sort_in_creation_order():
    ids = [new_id() for _ in range(5000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 20 for i in ids)
