"""Audit: record event hooks of the records a cascade deletes write the record being deleted.

A third-party plugin keeps an aggregate on a parent (a holding's units, updated by its
trades' hooks) or files a note about it. When the parent is deleted and the delete cascades
to the children, their ``after_delete`` hooks run while the parent is still there.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from xrm_core import Conflict, PermissionDenied, for_types, hookimpl
from xrm_core import db


class HoldingPlugin:
    """Holdings with trades (cascade) and notes (unlink or restrict); a trade's
    ``after_delete`` hook does to its holding what the holding's ``mode`` says."""

    __name__ = "holdings"

    @staticmethod
    @hookimpl
    def xrm_entity_types():
        return [{"name": "holding", "schema": {"type": "object", "properties": {
                    "units": {"type": "integer"}, "mode": {"type": "string"}}}},
                {"name": "trade", "schema": {"type": "object", "properties": {
                    "holding": {"type": "string"}, "units": {"type": "integer"}}}},
                {"name": "memo", "schema": {"type": "object"}},
                {"name": "portfolio", "schema": {"type": "object"}}]

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "holding_trades", "source": "holding", "target": "trade",
                 "cardinality": "one-to-many", "on_delete": "cascade"},
                {"name": "holding_memos", "source": "holding", "target": "memo",
                 "cardinality": "one-to-many", "on_delete": "unlink"},
                {"name": "holding_pins", "source": "holding", "target": "memo",
                 "cardinality": "one-to-many", "on_delete": "restrict"},
                {"name": "portfolio_holdings", "source": "portfolio", "target": "holding",
                 "cardinality": "one-to-many", "on_delete": "cascade"}]

    @staticmethod
    @hookimpl
    def xrm_roles():
        return [{"name": "desk", "grants": [{"type": "*", "actions": ["read", "create", "update", "delete"],
                                             "depth": "unit"}]}]

    def __init__(self):
        self.deleted_holdings = []   # (version, data) each holding's after_delete saw

    @hookimpl
    @for_types("trade", "holding")
    def xrm_record_event(self, event, record, changes, session):
        if event == "before_delete" and record.type == "holding" and record.data["mode"] == "stamp":
            session.update(record.id, {"units": -1})   # e.g. a closing mark, through the session
        if event != "after_delete":
            return
        if record.type == "holding":
            self.deleted_holdings.append((record.version, dict(record.data)))
            return
        holding = session.get(record.data["holding"])
        mode = holding.data["mode"]
        if mode == "aggregate":
            session.update(holding.id, {"units": holding.data["units"] - record.data["units"]})
        elif mode in ("memo", "pin"):
            memo = session.create("memo", {"about": record.id})
            session.relate("holding_memos" if mode == "memo" else "holding_pins", holding.id, memo.id)
        elif mode == "loop":
            memo = session.create("memo", {})
            trade = session.create("trade", {"holding": holding.id, "units": 1})
            session.relate("holding_memos", holding.id, memo.id)
            session.relate("holding_trades", holding.id, trade.id)


@pytest.fixture
def platform(make_platform):
    return make_platform(HoldingPlugin())


def _holding_with_trades(platform, mode: str, *units: int) -> str:
    with platform.session() as s:
        holding = s.create("holding", {"units": sum(units), "mode": mode})
        for n in units:
            trade = s.create("trade", {"holding": holding.id, "units": n})
            s.relate("holding_trades", holding.id, trade.id)
    return holding.id


def _dump(platform) -> dict:
    with platform.session(write=False) as s:
        return {t.name: sorted(map(tuple, s.conn.execute(select(t)).all()), key=repr)
                for t in (db.records, db.relationships, db.activities)}


def test_the_deleted_entry_holds_what_the_cascades_hooks_left_of_the_record(platform):
    holding = _holding_with_trades(platform, "aggregate", 2, 3)
    with platform.session() as s:
        s.delete(holding)
    with platform.session(write=False) as s:
        entries = s.history(holding)
    updates = [e for e in entries if e["kind"] == "updated"]
    assert [e["payload"]["version"] for e in updates] == [2, 3]
    # Before: the entry said version 1 with units 5, contradicting the two updates before it.
    assert entries[-1]["kind"] == "deleted"
    assert entries[-1]["payload"] == {"data": {"units": 0, "mode": "aggregate"}, "version": 3}
    [plugin] = [p for p in platform.pm.get_plugins() if isinstance(p, HoldingPlugin)]
    assert plugin.deleted_holdings == [(3, {"units": 0, "mode": "aggregate"})]


def test_a_relationship_a_cascades_hook_gives_the_record_is_unlinked_too(platform):
    holding = _holding_with_trades(platform, "memo", 1)
    with platform.session() as s:
        s.delete(holding)   # was: IntegrityError (FOREIGN KEY constraint failed), a traceback
    with platform.session(write=False) as s:
        assert s.conn.execute(select(db.relationships)).all() == []
        [memo] = s.list("memo")
        kinds = [e["kind"] for e in s.history(memo.id)]
    assert kinds == ["created", "related", "unrelated"]


def test_a_restrict_relationship_a_cascades_hook_gives_the_record_refuses_the_delete(platform):
    holding = _holding_with_trades(platform, "pin", 1)
    before = _dump(platform)
    with pytest.raises(Conflict, match="holding_pins restrict deleting the source"):
        with platform.session() as s:
            s.delete(holding)
    assert _dump(platform) == before


def test_hooks_that_relate_the_record_for_ever_are_refused_changing_nothing(platform):
    holding = _holding_with_trades(platform, "loop", 1)
    before = _dump(platform)
    with pytest.raises(Conflict, match="keep relating it"):
        with platform.session() as s:
            s.delete(holding)
    assert _dump(platform) == before


def test_a_cascade_refused_further_down_its_chain_names_the_way_there(platform):
    """portfolio → holding → trade, both cascading: a desk user who may delete the holding
    but not the trade an admin booked is told which chain of relationships stops the delete
    (it said "its 'portfolio_holdings' relationships", sending them to a holding they may delete)."""
    with platform.session() as s:
        s.create_unit("east")
        s.create_user("desk", "east", roles=["desk"])
    with platform.session("desk") as s:
        portfolio = s.create("portfolio", {}).id
        holding = s.create("holding", {"units": 0, "mode": "none"}).id
        s.relate("portfolio_holdings", portfolio, holding)
    with platform.session() as s:
        trade = s.create("trade", {"holding": holding, "units": 1}).id
        s.relate("holding_trades", holding, trade)
    before = _dump(platform)
    with pytest.raises(PermissionDenied) as e:
        with platform.session("desk") as s:
            s.delete(portfolio)
    assert e.value.message == (f"cannot delete {portfolio}: its 'portfolio_holdings' → 'holding_trades' "
                               "relationships cascade to a record you may not delete")
    assert trade not in e.value.message
    assert _dump(platform) == before
    with pytest.raises(PermissionDenied) as e:
        with platform.session("desk") as s:
            s.delete(holding)
    assert e.value.message == (f"cannot delete {holding}: its 'holding_trades' relationships cascade to a "
                               "record you may not delete")


def test_the_deleted_entry_holds_what_the_records_own_before_delete_hook_wrote(platform):
    holding = _holding_with_trades(platform, "stamp")
    with platform.session() as s:
        s.delete(holding)
    with platform.session(write=False) as s:
        entries = s.history(holding)
    assert [e["kind"] for e in entries] == ["created", "updated", "deleted"]
    assert entries[-1]["payload"] == {"data": {"units": -1, "mode": "stamp"}, "version": 2}
