"""Existence oracles: a scoped caller must get the same answer for a record outside their
read scope as for an id that names nothing (DESIGN §3: such a record "does not exist for
that caller"). Units from the ``org`` fixture: hq > north > dealer_a, hq > south > dealer_b."""
from __future__ import annotations

import pytest

from xrm_core import NotFound, db


def _answer(call):
    try:
        return ("ok", call())
    except NotFound:
        return ("404", None)


def test_a_history_page_of_a_hidden_record_answers_as_for_an_unknown_id(org):
    with org.session() as s:
        hidden = s.create("person", {"name": "B"}, unit="dealer_b").id
    page = ("2026-01-01T00:00:00Z", 1)
    with org.session("manager_a") as s:
        for after in (None, page):
            assert (_answer(lambda: s.history(hidden, after=after))
                    == _answer(lambda: s.history("0000000000000000dead", after=after)))
        with pytest.raises(NotFound):
            s.history(hidden)


def test_the_earlier_history_of_a_record_moved_out_of_scope_stays_hidden(org):
    """A record created in dealer_a and moved to dealer_b keeps its first activity in
    dealer_a's unit; no page of its timeline may show it to dealer_a (a record that exists
    is judged on its row, never on its activities as a deleted one is)."""
    with org.session("manager_a") as s:
        rec = s.create("person", {"name": "A"})
    with org.session() as s:  # moved and handed over (as a plugin or an admin may do)
        manager_b = next(i for i, n in s.user_names().items() if n == "manager_b")
        s.conn.execute(db.records.update().where(db.records.c.id == rec.id)
                       .values(unit_id=s.unit_id("dealer_b"), owner_id=manager_b))
    with org.session("manager_a") as s:
        assert s.history(rec.id, after=("2000-01-01T00:00:00Z", 0)) == []
        with pytest.raises(NotFound):
            s.history(rec.id)
