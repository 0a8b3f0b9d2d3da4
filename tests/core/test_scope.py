"""Scope: the depths own/unit/subtree/all for every action, through every read path; it fails
closed; ``*`` grants; the widest depth over several roles; unknown and inactive users."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from xrm_core import AuthenticationError, NotFound, PermissionDenied, accounts, db, records
from xrm_core.scope import DEPTHS, Actor, load_actor


@pytest.fixture
def world(org):
    """One person (and one note) per place, named after who made it and where.

    Units: hq > north > dealer_a, hq > south > dealer_b.
    """
    ids = {}
    made = [("agent_a", None), ("agent_a2", None), ("manager_a", None), ("manager_b", None),
            ("admin", "north"), ("admin", "hq"), ("admin", "dealer_b")]
    for user, unit in made:
        key = f"{user}@{unit}" if unit else user
        with org.session(user) as s:
            ids[key] = s.create("person", {"name": key}, unit=unit).id
            ids["note:" + key] = s.create("note", {"text": key}, unit=unit).id
    return org, ids


PERSONS = {"agent_a", "agent_a2", "manager_a", "manager_b", "admin@north", "admin@hq", "admin@dealer_b"}
READ_SCOPE = {
    "agent_a": {"agent_a"},                                             # own
    "agent_a2": {"agent_a2"},
    "manager_a": {"agent_a", "agent_a2", "manager_a"},                  # unit dealer_a
    "manager_b": {"manager_b", "admin@dealer_b"},                       # unit dealer_b
    "north_lead": {"agent_a", "agent_a2", "manager_a", "admin@north"},  # subtree of north
    "analyst": PERSONS,                                                 # all
    "admin": PERSONS,
    "nobody": set(),
}


def test_read_scope_through_get_list_count_related_and_history(world):
    org, ids = world
    with org.session() as s:  # link every person to the one in hq, so related() has work
        for key in PERSONS - {"admin@hq"}:
            s.relate("knows", ids["admin@hq"], ids[key])
    for user, visible in READ_SCOPE.items():
        with org.session(user) as s:
            check_reads(s, ids, visible)


def check_reads(s, ids, visible):
    # Many at once (the admin UI's timeline titles) as one at a time: unknown ids left out.
    many = records.get_many(s, [ids[k] for k in sorted(PERSONS)] + ["nope", None])
    assert {rec.data["name"] for rec in many.values()} == visible, s.actor.name
    assert all(many[rid].id == rid == s.get(rid).id for rid in many)
    for key in PERSONS:
        rid = ids[key]
        if key in visible:
            assert s.get(rid).data["name"] == key
            assert s.history(rid)[0]["kind"] == "created"
            assert {r["record"].id for r in s.related(rid)} <= {ids[k] for k in visible}
            continue
        for read in (s.get, s.history, s.related):
            with pytest.raises(NotFound) as e:
                read(rid)
            assert str(e.value) == f"no record {rid!r}", s.actor.name  # the same as an unknown id
    if not visible:
        for read in (s.list, s.count):
            with pytest.raises(PermissionDenied):
                read("person")
        return
    assert {r.data["name"] for r in s.list("person")} == visible, s.actor.name
    assert s.count("person") == len(visible)
    if "admin@hq" in visible:
        assert {r["record"].data["name"] for r in s.related(ids["admin@hq"])} == visible - {"admin@hq"}
    # Timelines keep the links between visible records (everyone is linked with admin@hq)
    # and name no record outside the scope, not even through a link.
    hidden = {ids[k] for k in PERSONS - visible}
    linked = {ids[k] for k in visible} if "admin@hq" in visible else set()
    for key in visible:
        timeline = s.history(ids[key], include_related=True)
        assert {a["payload"]["other"] for a in timeline if a["kind"] == "related"} == linked, s.actor.name
        assert not any(h in json.dumps(timeline) for h in hidden), s.actor.name


def test_a_grant_on_one_type_gives_nothing_on_another(world):
    org, ids = world
    with org.session("analyst") as s:  # analyst reads every person, no notes
        with pytest.raises(PermissionDenied):
            s.list("note")
        with pytest.raises(NotFound):
            s.get(ids["note:admin@hq"])
        with pytest.raises(NotFound):
            s.history(ids["note:admin@hq"])
    with org.session("north_lead") as s:
        with pytest.raises(NotFound):
            s.get(ids["note:agent_a"])


def test_unknown_ids_and_types(world):
    org, _ = world
    with org.session("analyst") as s:
        with pytest.raises(NotFound):
            s.get("0" * 20)
        with pytest.raises(NotFound):
            s.list("no_such_type")


def test_update_scope(world):
    org, ids = world
    for user, target, error in [
        ("agent_a", "agent_a2", NotFound),          # own depth: not even readable
        ("manager_a", "manager_b", NotFound),       # unit depth: another unit
        ("north_lead", "agent_a", PermissionDenied),  # readable, but no update grant
        ("analyst", "admin@hq", PermissionDenied),
        ("nobody", "agent_a", NotFound),
    ]:
        with pytest.raises(error) as e:
            with org.session(user) as s:
                s.update(ids[target], {"age": 1})
        assert ids[target] in str(e.value)
    with org.session() as s:
        assert {r.version for r in s.list("person")} == {1}
    for user, target in [("agent_a", "agent_a"), ("manager_a", "agent_a2"), ("admin", "manager_b")]:
        with org.session(user) as s:
            assert s.update(ids[target], {"age": 1}).updated_by == user


def test_delete_scope(world):
    org, ids = world
    for user, target, error in [
        ("agent_a", "agent_a", PermissionDenied),   # agents may not delete at all
        ("manager_a", "manager_b", NotFound),
        ("north_lead", "agent_a", PermissionDenied),
        ("nobody", "agent_a", NotFound),
    ]:
        with pytest.raises(error):
            with org.session(user) as s:
                s.delete(ids[target])
    with org.session() as s:
        assert s.count("person") == len(PERSONS)
    for user, target in [("manager_a", "agent_a"), ("manager_b", "admin@dealer_b")]:
        with org.session(user) as s:
            s.delete(ids[target])
        with org.session() as s:
            with pytest.raises(NotFound):
                s.get(ids[target])


def test_star_grants_cover_every_type(world):
    org, ids = world
    with org.connection() as conn:
        accounts.save_role(conn, {"name": "auditor", "grants": [{"type": "*", "actions": ["read"], "depth": "all"}]})
        accounts.create_user(conn, "auditor", "dealer_b", ["auditor"])
    with org.session("auditor") as s:
        assert s.count("person") == len(PERSONS) and s.count("note") == len(PERSONS)
        assert s.get(ids["note:agent_a"]).data == {"text": "agent_a"}
        with pytest.raises(PermissionDenied):
            s.create("note", {"text": "x"})


def test_the_widest_depth_over_several_roles_wins(world):
    org, ids = world
    with org.connection() as conn:
        accounts.create_user(conn, "double", "dealer_a", ["agent", "regional"])
    with org.session("double") as s:
        # read: subtree of dealer_a (regional's) is wider than own (agent's)
        assert {r.data["name"] for r in s.list("person")} == {"agent_a", "agent_a2", "manager_a"}
        # update: only the agent role grants it, at own depth
        with pytest.raises(PermissionDenied):
            s.update(ids["agent_a"], {"age": 1})
        mine = s.create("person", {"name": "mine"})
        assert s.update(mine.id, {"age": 1}).version == 2
        # notes: only the agent role's "*" grant applies
        assert s.count("note") == 0
    with org.connection() as conn:
        accounts.assign_role(conn, "double", "analyst")
    with org.session("double") as s:
        assert s.count("person") == len(PERSONS) + 1


def test_subtree_is_a_real_subtree_not_a_path_prefix(org):
    """Unit paths are /1/2/…/: the subtree of unit 2 must not take in unit 20, 21…"""
    with org.connection() as conn:
        hq = next(u for u in accounts.list_units(conn) if u["name"] == "hq")
        hq_id = conn.execute(select(db.units.c.id).where(db.units.c.name == "hq")).scalar_one()
        trap = None
        for i in range(200):
            u = accounts.create_unit(conn, f"u{i}")
            if str(u["id"]).startswith(str(hq_id)) and u["id"] != hq_id:
                trap = u["name"]
                break
        accounts.create_user(conn, "hq_lead", "hq", ["regional"])
    assert trap and hq["parent"] == "root"
    with org.session() as s:
        for unit in ("hq", "dealer_b", trap):
            s.create("person", {"name": unit}, unit=unit)
    with org.session("hq_lead") as s:
        assert sorted(r.data["name"] for r in s.list("person")) == ["dealer_b", "hq"]


# -- the Actor itself ----------------------------------------------------------------------
def test_actor_without_grants_fails_closed(org):
    actor = Actor(id=999, name="ghost", unit_id=1, unit_path="/1/")
    assert all(actor.depth("person", a) == 0 and not actor.can("person", a)
               for a in ("read", "create", "update", "delete"))
    with org.session() as s:
        s.create("person", {"name": "A"})
    with org.engine.connect() as conn:
        q = select(func.count()).select_from(db.records).where(actor.clause("person", "read"))
        assert conn.execute(q).scalar_one() == 0
        q = select(func.count()).select_from(db.records).where(actor.clause_any_type(["person", "note"], "read"))
        assert conn.execute(q).scalar_one() == 0
    assert not actor.allows_row("person", "read", 999, 1, "/1/")


def test_actor_depths(org):
    with org.connection() as conn:
        double = accounts.create_user(conn, "double", "dealer_a", ["agent", "regional"])
        actor = load_actor(conn, "double")
    assert actor.id == double["id"]
    assert actor.depth("person", "read") == DEPTHS["subtree"]
    assert actor.depth("note", "read") == DEPTHS["own"]
    assert actor.depth("person", "update") == DEPTHS["own"]
    assert actor.depth("person", "delete") == DEPTHS["none"]


def test_unknown_and_inactive_users_cannot_act(org):
    with pytest.raises(NotFound):
        with org.session("ghost"):
            pass
    with org.connection() as conn:
        conn.execute(db.users.update().where(db.users.c.name == "manager_a").values(active=False))
    with pytest.raises(AuthenticationError):
        with org.session("manager_a"):
            pass
