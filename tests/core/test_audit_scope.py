"""Scope audit: unusual grant setups. Depths nest, so a user's widest depth over several roles
never shows less than any one of their roles would: ``unit`` and ``subtree`` take in the
user's own records wherever they lie (created in a child unit, or left behind when the user
moved), exactly as ``own`` does.

Units from the ``org`` fixture: hq > north > dealer_a, hq > south > dealer_b.
"""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import func, select

from xrm_core import NotFound, accounts, db, kpis
from xrm_core.scope import DEPTHS, Actor


def _names(s, type_name="person"):
    return {r.data.get("name", r.data.get("text")) for r in s.list(type_name)}


def _sees_everywhere(s, rid: str, name: str) -> None:
    """``rid`` (called ``name``) shows through every read path of the session's user."""
    assert s.get(rid).data["name"] == name
    assert name in _names(s)
    assert s.count("person", {"name": name}) == 1
    assert s.history(rid)[0]["kind"] == "created"
    assert s.kpi("people")["n"] == s.count("person")


@pytest.fixture
def people_kpi(org):
    with org.connection() as conn:
        kpis.add(org, conn, {"name": "people", "label": "People", "unit": "n", "entity": "person",
                             "measure": {"count": True}})
    return org


def test_a_wider_read_role_never_hides_records_an_own_role_shows(people_kpi):
    """own (agent's ``*``) plus a ``*`` unit read: the widest (unit) must not lose the user's
    own record created in a child unit, which the own role alone shows."""
    org = people_kpi
    with org.connection() as conn:
        accounts.save_role(conn, {"name": "unit_reader", "grants": [
            {"type": "*", "actions": ["read"], "depth": "unit"}]})
        accounts.save_role(conn, {"name": "child_creator", "grants": [
            {"type": "person", "actions": ["create"], "depth": "subtree"}]})
        accounts.create_user(conn, "mixed", "north", ["agent", "child_creator"])
    with org.session("mixed") as s:
        rid = s.create("person", {"name": "made for dealer_a"}, unit="dealer_a").id
        note = s.create("note", {"text": "mine"}).id
        s.relate("has_note", rid, note)
    with org.session("mixed") as s:  # own depth alone: it shows
        _sees_everywhere(s, rid, "made for dealer_a")
    with org.connection() as conn:
        accounts.assign_role(conn, "mixed", "unit_reader")
    with org.session("manager_b") as s:
        other = s.create("person", {"name": "B"}).id
    with org.session("mixed") as s:  # own + unit: still shows, and nothing of dealer_b does
        _sees_everywhere(s, rid, "made for dealer_a")
        assert [i["record"].id for i in s.related(rid)] == [note]
        assert s.update(rid, {"age": 3}).version == 2  # update stays own (agent's)
        with pytest.raises(NotFound):
            s.get(other)
        assert "B" not in _names(s)


@pytest.mark.parametrize("depth", ["unit", "subtree"])
def test_a_moved_user_keeps_their_own_records_at_unit_and_subtree_depth(org, depth):
    """Moved from dealer_a to dealer_b, a user keeps the records they own (they stay in
    dealer_a, DESIGN: "records it owns keep their unit"), as ``own`` depth would keep them;
    the rest of dealer_a goes, dealer_b comes."""
    with org.connection() as conn:
        accounts.save_role(conn, {"name": "reader_" + depth, "grants": [
            {"type": "person", "actions": ["read", "create"], "depth": depth}]})
        accounts.create_user(conn, "mover", "dealer_a", ["reader_" + depth])
    with org.session("mover") as s:
        mine = s.create("person", {"name": "mover's"}).id
    with org.session("manager_a") as s:
        s.create("person", {"name": "colleague's"})
    with org.session("manager_b") as s:
        s.create("person", {"name": "new colleague's"})
    with org.session("mover") as s:
        assert _names(s) == {"mover's", "colleague's"}
    with org.connection() as conn:
        accounts.move_user(conn, "mover", "dealer_b")
    with org.session("mover") as s:
        assert _names(s) == {"mover's", "new colleague's"}
        assert s.get(mine).unit == "dealer_a"
    with org.session() as s:
        assert s.get(mine).owner == "mover"


def test_the_python_mirror_agrees_with_the_sql_clause(org):
    """Actor.allows_row (one loaded row) and Actor.clause (SQL) select the same rows for
    every depth, owner and unit."""
    with org.connection() as conn:
        units = dict(conn.execute(select(db.units.c.id, db.units.c.path)).all())
        users = [r[0] for r in conn.execute(select(db.users.c.id).order_by(db.users.c.id)).all()][:3]
        dealer_a = conn.execute(select(db.units.c.id).where(db.units.c.name == "dealer_a")).scalar_one()
    with org.session() as s:
        for unit_id, owner in itertools.product(units, users):
            name = next(n for i, (n, _) in s._unit_rows().items() if i == unit_id)
            rid = s.create("person", {"name": f"{name}/{owner}"}, unit=name).id
            s.conn.execute(db.records.update().where(db.records.c.id == rid).values(owner_id=owner))
    for depth in DEPTHS:
        actor = Actor(id=users[1], name="probe", unit_id=dealer_a, unit_path=units[dealer_a],
                      grants={"person": {"read": DEPTHS[depth]}} if DEPTHS[depth] else {})
        with org.engine.connect() as conn:
            rows = conn.execute(select(db.records.c.owner_id, db.records.c.unit_id,
                                       actor.clause("person", "read").label("ok"))
                                .where(db.records.c.type == "person")).all()
        assert rows
        for owner, unit_id, ok in rows:
            assert bool(ok) == actor.allows_row("person", "read", owner, unit_id, units[unit_id]), (depth, owner, unit_id)
        with org.engine.connect() as conn:
            n = conn.execute(select(func.count()).select_from(db.records)
                             .where(db.records.c.type == "person", actor.clause("person", "read"))).scalar_one()
        assert n == sum(1 for *_, ok in rows if ok)
