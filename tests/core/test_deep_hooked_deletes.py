"""Deletes a record hook takes part in go one record at a time (:mod:`xrm_core.deletes`), and
a chain of cascades deeper than Python's recursion limit is deleted like a short one: the
hooks in the same order, each record once, all or nothing, refusals that name the chain.

It used to be one Python call chain per cascade level: a chain a few hundred records deep
ended in RecursionError (an "unexpected error" for the user, nothing deleted).
"""
from __future__ import annotations

import sys

import pytest
from conftest import PersonPlugin
from sqlalchemy import func, select

from xrm_core import Conflict, PermissionDenied, PluginError, db, for_types, hookimpl

R, REL, A = db.records, db.relationships, db.activities


class Chain:
    """``sponsors`` cascades person → person; a person hook records the delete events and
    fails on the person named ``fail_on``."""

    __name__ = "chain_hooks"

    def __init__(self):
        self.calls: list[tuple[str, str]] = []
        self.fail_on: str | None = None

    @staticmethod
    @hookimpl
    def xrm_relationship_types():
        return [{"name": "sponsors", "source": "person", "target": "person", "cardinality": "many-to-many",
                 "on_delete": "cascade"},
                {"name": "vouches", "source": "person", "target": "person", "cardinality": "many-to-many",
                 "on_delete": "restrict"}]

    @hookimpl
    @for_types("person")
    def xrm_record_event(self, event, record, session):
        if event in ("before_delete", "after_delete"):
            self.calls.append((event, record.data["name"]))
            if record.data["name"] == self.fail_on and event == "after_delete":
                raise RuntimeError(f"{record.data['name']} cannot go")


@pytest.fixture
def hooks():
    return Chain()


@pytest.fixture
def chained(make_platform, hooks):
    return make_platform(PersonPlugin(), hooks)


DEPTH = sys.getrecursionlimit() + 500


def build_chain(platform, depth: int, unit=None) -> list[str]:
    """People c0 → c1 → … by ``sponsors``, and the last back to the first (a cycle)."""
    with platform.session() as s:
        chain = [r.id for r in s.create_many("person", [{"name": f"c{i}"} for i in range(depth)], unit)]
        for i in range(0, depth - 1, 2000):
            s.relate_many("sponsors", list(zip(chain[i:i + 2001], chain[i + 1:i + 2001])))
        s.relate("sponsors", chain[-1], chain[0])
    return chain


def snapshot(platform) -> tuple:
    with platform.engine.connect() as conn:
        return tuple(conn.execute(select(func.count()).select_from(t)).scalar_one() for t in (R, REL, A))


def test_a_hooked_chain_deeper_than_the_recursion_limit_is_deleted_in_the_order_of_a_short_one(chained, hooks):
    chain = build_chain(chained, DEPTH)
    with chained.engine.connect() as conn:
        mark = conn.execute(select(func.max(A.c.id))).scalar_one()
    with chained.session() as s:
        s.delete(chain[0])
    names = [f"c{i}" for i in range(DEPTH)]
    # each record's before_delete before those it cascades to, its after_delete after theirs
    assert hooks.calls == [("before_delete", n) for n in names] + [("after_delete", n) for n in reversed(names)]
    with chained.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(R).where(R.c.type == "person")).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(REL)).scalar_one() == 0
        deleted = conn.execute(select(A.c.record_id).where(A.c.id > mark, A.c.kind == "deleted")
                               .order_by(A.c.id)).scalars().all()
    assert deleted == list(reversed(chain))  # the end of the chain first, as the hooks saw it


def test_a_hook_failing_at_the_bottom_of_a_deep_chain_names_its_plugin_and_changes_nothing(chained, hooks):
    chain = build_chain(chained, DEPTH)
    before = snapshot(chained)
    hooks.fail_on = f"c{DEPTH - 1}"
    with pytest.raises(PluginError) as e, chained.session() as s:
        s.delete(chain[0])
    assert "chain_hooks" in e.value.message and f"c{DEPTH - 1} cannot go" in e.value.message
    assert snapshot(chained) == before
    # it failed where it should: after every before_delete and the first after_delete
    assert len(hooks.calls) == DEPTH + 1 and hooks.calls[-1] == ("after_delete", f"c{DEPTH - 1}")


def test_a_deep_cascade_into_a_record_the_user_may_not_delete_is_refused_naming_the_chain_shortly(chained):
    from xrm_core import accounts
    with chained.connection() as conn:
        accounts.create_unit(conn, "dealer_a")
        accounts.create_unit(conn, "dealer_b")
        accounts.save_role(conn, {"name": "manager", "grants": [
            {"type": "*", "actions": ["read", "create", "update", "delete"], "depth": "unit"}]})
        accounts.create_user(conn, "manager_a", "dealer_a", ["manager"], "pw")
    chain = build_chain(chained, DEPTH, unit="dealer_a")
    with chained.session() as s:
        theirs = s.create("person", {"name": "theirs"}, unit="dealer_b").id
        s.relate("sponsors", chain[-2], theirs)
    before = snapshot(chained)
    with pytest.raises(PermissionDenied) as e, chained.session(user="manager_a") as s:
        s.delete(chain[0])
    assert e.value.cascade_path == ("sponsors",) * (DEPTH - 1)
    assert e.value.message == (f"cannot delete {chain[0]}: its 'sponsors' → 'sponsors' → 'sponsors' → "
                               f"… ({DEPTH - 7} more) … → 'sponsors' → 'sponsors' → 'sponsors' relationships "
                               f"cascade to a record you may not delete")
    assert theirs not in e.value.message
    assert snapshot(chained) == before


def test_a_restrict_at_the_bottom_of_a_deep_chain_is_said_from_the_record_asked_for(chained, hooks):
    chain = build_chain(chained, DEPTH)
    with chained.session() as s:
        outside = s.create("person", {"name": "outside"}).id
        s.relate("vouches", chain[-1], outside)
    before = snapshot(chained)
    with pytest.raises(Conflict) as e, chained.session() as s:
        s.delete(chain[0])
    assert e.value.message == (f"cannot delete {chain[0]}: its 'sponsors' → 'sponsors' → 'sponsors' → "
                               f"… ({DEPTH - 7} more) … → 'sponsors' → 'sponsors' → 'sponsors' relationships "
                               f"cascade to {chain[-1]}, whose relationship type(s) vouches restrict deleting the "
                               f"source; remove the relationships first")
    assert e.value.errors == [{"pointer": "/relationships", "message": f"vouches → {outside}"}]
    assert e.value.cascade_path == ("sponsors",) * (DEPTH - 1)
    assert snapshot(chained) == before


def test_the_driver_gives_an_error_to_the_step_that_reached_it_and_forgets_it_once_handled():
    """``deletes._run``: an error of a yielded step is raised in the step that yielded it;
    one that step handles and ends on is not passed further up (the next step goes on)."""
    from xrm_core.deletes import _run
    seen = []

    def failing():
        seen.append("failing")
        raise KeyError("gone")
        yield  # a generator

    def handling():
        try:
            yield failing()
        except KeyError:
            seen.append("handled")

    def top():
        yield handling()
        seen.append("top goes on")
        yield failing()

    with pytest.raises(KeyError):
        _run(top())
    assert seen == ["failing", "handled", "top goes on", "failing"]
