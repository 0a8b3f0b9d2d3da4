"""Relationships: cardinality, endpoint types, duplicates, both directions, on_delete
(restrict / cascade / unlink), unrelate and scope. A refused change leaves the database as before."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher
from clerk_world import snapshot
from conftest import PersonPlugin

from xrm_core import Conflict, NotFound, PermissionDenied, ValidationError, accounts, db, hookimpl



@pytest.fixture(autouse=True)
def cheap_password_hashes(monkeypatch):
    """The org fixture hashes eight passwords; cheap argon2 parameters keep these tests fast."""
    monkeypatch.setattr(accounts, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


class MoreRelations:
    """Extra relationship types: a person-to-person cascade (for chains and cycles) and
    a one-to-one between different types."""

    __name__ = "more_relations"

    @hookimpl
    def xrm_relationship_types(self):
        return [{"name": "sponsors", "source": "person", "target": "person", "cardinality": "many-to-many",
                 "on_delete": "cascade"},
                {"name": "signs", "source": "person", "target": "note", "cardinality": "one-to-one"}]


@pytest.fixture
def p(make_platform):
    return make_platform(PersonPlugin(), MoreRelations())


def make(s, n=3, type_="person"):
    field = "name" if type_ == "person" else "text"
    return [s.create(type_, {field: f"{type_}{i}"}).id for i in range(n)]


def kinds(s, record_id):
    return [a["kind"] for a in s.history(record_id)]


# -- relate ------------------------------------------------------------------------------
def test_relate_returns_the_relationship_and_logs_both_records(p):
    with p.session() as s:
        a, b = make(s, 2)
        rel = s.relate("knows", a, b, {"since": 2020})
        assert rel == {"id": rel["id"], "type": "knows", "source": a, "target": b, "data": {"since": 2020}}
        out = s.history(a)[-1]
        inc = s.history(b)[-1]
    assert (out["kind"], out["payload"]["direction"], out["payload"]["other"]) == ("related", "outgoing", b)
    assert (inc["kind"], inc["payload"]["direction"], inc["payload"]["other"]) == ("related", "incoming", a)
    assert out["payload"]["relationship"] == inc["payload"]["relationship"] == rel["id"]
    assert out["actor"] == "admin" and out["at"]


def test_related_in_both_directions(p):
    with p.session() as s:
        a, b, c = make(s)
        (n,) = make(s, 1, "note")
        s.relate("knows", a, b)
        s.relate("knows", c, a)
        s.relate("has_note", a, n)
        got = {(r["relationship"]["type"], r["direction"], r["record"].id) for r in s.related(a)}
        assert got == {("knows", "outgoing", b), ("knows", "incoming", c), ("has_note", "outgoing", n)}
        assert {r["record"].id for r in s.related(a, rel="has_note")} == {n}
        assert [(r["direction"], r["record"].id) for r in s.related(n)] == [("incoming", a)]
        item = s.related(b)[0]
        assert item["relationship"]["source"] == a and item["relationship"]["target"] == b
        assert item["record"].data == {"name": "person0"}
        with pytest.raises(NotFound):
            s.related(a, rel="no_such_rel")
        with pytest.raises(NotFound):
            s.related("no_such_record")


def test_many_to_many_allows_many_each_way(p):
    with p.session() as s:
        a, b, c = make(s)
        for src, tgt in ((a, b), (a, c), (b, c), (c, a)):
            s.relate("knows", src, tgt)
        assert len(s.related(a)) == 3


CARDINALITY_CASES = [  # (rel, relationships made first, the one refused, pointer of the error)
    # one-to-many: a target has at most one source; a source may have many targets.
    ("has_note", [(0, "n0"), (0, "n1")], (1, "n0"), "/target"),
    # one-to-one: at most one each way.
    ("mentor_of", [(0, 1)], (2, 1), "/target"),
    ("mentor_of", [(0, 1)], (0, 2), "/source"),
    ("signs", [(0, "n0")], (0, "n1"), "/source"),
    ("signs", [(0, "n0")], (1, "n0"), "/target"),
    # a duplicate is refused whatever the cardinality
    ("knows", [(0, 1)], (0, 1), "/target"),
]


def test_cardinality_and_duplicates_are_refused_clearly(p):
    for rel, setup, attempt, pointer in CARDINALITY_CASES:
        with p.session() as s:
            people = make(s)
            notes = dict(zip(("n0", "n1"), make(s, 2, "note")))

        def rid(x):
            return notes[x] if isinstance(x, str) else people[x]

        with p.session() as s:
            for src, tgt in setup:
                s.relate(rel, rid(src), rid(tgt))
        before = snapshot(p)
        with pytest.raises(Conflict) as e:
            with p.session() as s:
                s.relate(rel, rid(attempt[0]), rid(attempt[1]))
        assert e.value.status == 409 and rel in e.value.message
        assert [x["pointer"] for x in e.value.errors] == [pointer]
        assert snapshot(p) == before


def test_cardinality_holds_in_the_database_too(p):
    """The partial unique indexes back the check (a concurrent writer cannot slip past it)."""
    from sqlalchemy.exc import IntegrityError
    with p.session() as s:
        a, b = make(s, 2)
        (n,) = make(s, 1, "note")
        s.relate("has_note", a, n)
    with pytest.raises(IntegrityError):
        with p.connection() as conn:
            conn.execute(db.relationships.insert().values(id="x1", type="has_note", source_id=b, target_id=n,
                                                          created_by=1, created_at=db.utcnow()))


def _after_the_checks(monkeypatch, act):
    """Run ``act(s)`` once, just after relate's checks passed and before its INSERT: what a
    concurrent writer may do in between (made deterministic)."""
    from xrm_core import relationships
    real, done = relationships._check_cardinality, []

    def check_then_act(s, rt, source_id, target_id):
        real(s, rt, source_id, target_id)
        if not done:
            done.append(True)
            act(s)
    monkeypatch.setattr(relationships, "_check_cardinality", check_then_act)


def test_a_record_deleted_between_the_checks_and_the_insert_is_a_404_at_its_member(p, monkeypatch):
    with p.session() as s:
        a = make(s, 1)[0]
        (n,) = make(s, 1, "note")
    before = snapshot(p)
    # (its row gone, as another transaction's delete leaves it: the foreign key refuses)
    _after_the_checks(monkeypatch, lambda s: s.conn.execute(db.records.delete().where(db.records.c.id == n)))
    with pytest.raises(NotFound) as e, p.session() as s:
        s.relate("has_note", a, n)
    assert e.value.message == f"no record {n!r}: it was deleted meanwhile"
    assert e.value.errors == [{"pointer": "/target", "message": "no such record"}]
    assert snapshot(p) == before


def test_a_relationship_made_between_the_checks_and_the_insert_is_refused_as_the_check_words_it(p, monkeypatch):
    with p.session() as s:
        a, b = make(s, 2)
        (n,) = make(s, 1, "note")
    _after_the_checks(monkeypatch, lambda s: s.conn.execute(db.relationships.insert().values(
        id="x1", type="signs", source_id=b, target_id=n, created_by=1, created_at=db.utcnow())))
    with pytest.raises(Conflict) as e, p.session() as s:
        s.relate("signs", a, n)
    # the pointed message of the cardinality check, not "already related …, or its cardinality refuses it"
    assert e.value.errors and e.value.errors[0]["pointer"] in ("/source", "/target")
    assert "or its one-to-one cardinality refuses it" not in e.value.message


def test_endpoint_types_and_self_relation_are_checked(p):
    with p.session() as s:
        a, b = make(s, 2)
        (n,) = make(s, 1, "note")
    before = snapshot(p)
    cases = [("has_note", n, a, "/source"), ("has_note", a, b, "/target"), ("knows", a, n, "/target"),
             ("knows", a, a, "/target")]
    for rel, src, tgt, pointer in cases:
        with pytest.raises(ValidationError) as e:
            with p.session() as s:
                s.relate(rel, src, tgt)
        assert [x["pointer"] for x in e.value.errors] == [pointer]
    with pytest.raises(NotFound):
        with p.session() as s:
            s.relate("no_such_rel", a, b)
    with pytest.raises(NotFound):
        with p.session() as s:
            s.relate("knows", a, "no_such_record")
    with pytest.raises(ValidationError):
        with p.session() as s:
            s.relate("knows", a, b, data=["not", "an", "object"])
    assert snapshot(p) == before


# -- unrelate ----------------------------------------------------------------------------
def test_unrelate_logs_both_and_can_relate_again(p):
    with p.session() as s:
        a, b = make(s, 2)
        rel = s.relate("mentor_of", a, b)
        s.unrelate(rel["id"])
        assert s.related(a) == []
        assert kinds(s, a)[-1] == kinds(s, b)[-1] == "unrelated"
        assert s.history(b)[-1]["payload"]["direction"] == "incoming"
        s.relate("mentor_of", a, b)  # the one-to-one slot is free again
        with pytest.raises(NotFound):
            s.unrelate(rel["id"])


# -- on_delete ---------------------------------------------------------------------------
def test_restrict_refuses_and_changes_nothing(p):
    with p.session() as s:
        a, b = make(s, 2)
        (n,) = make(s, 1, "note")
        s.relate("mentor_of", a, b)
        s.relate("has_note", a, n)
    before = snapshot(p)
    with pytest.raises(Conflict) as e:
        with p.session() as s:
            s.delete(a)
    assert "mentor_of" in e.value.message and "restrict" in e.value.message
    assert e.value.errors == [{"pointer": "/relationships", "message": f"mentor_of → {b}"}]
    assert snapshot(p) == before
    with p.session() as s:  # restrict binds the source only: deleting the target unlinks
        s.delete(b)
        assert s.related(a, rel="mentor_of") == []
        assert kinds(s, a)[-1] == "unrelated"


def test_cascade_deletes_targets_recursively_with_history(p):
    with p.session() as s:
        a, b, c = make(s)
        (n,) = make(s, 1, "note")
        s.relate("sponsors", a, b)
        s.relate("sponsors", b, c)
        s.relate("has_note", c, n)
        s.relate("knows", b, a)  # unlink kind, pointing back at the root
    with p.session() as s:
        s.delete(a)
        for rid in (a, b, c, n):
            with pytest.raises(NotFound):
                s.get(rid)
            assert kinds(s, rid)[-1] == "deleted"
        assert s.count("person") == 0 and s.count("note") == 0
    assert snapshot(p)["counts"]["xrm_relationships"] == 0


def test_cascade_through_a_cycle_stops(p):
    with p.session() as s:
        a, b, c = make(s)
        s.relate("sponsors", a, b)
        s.relate("sponsors", b, c)
        s.relate("sponsors", c, a)
        s.relate("sponsors", a, c)
    with p.session() as s:
        s.delete(b)
        assert s.count("person") == 0
        assert all(kinds(s, r).count("deleted") == 1 for r in (a, b, c))


def test_cascade_blocked_by_a_restrict_further_down_changes_nothing(p):
    with p.session() as s:
        a, b, c = make(s)
        s.relate("sponsors", a, b)
        s.relate("mentor_of", b, c)
    before = snapshot(p)
    with pytest.raises(Conflict):
        with p.session() as s:
            s.delete(a)
    assert snapshot(p) == before


def test_unlink_and_deleting_a_target_remove_only_the_relationship(p):
    with p.session() as s:
        a, b, c = make(s)
        (n,) = make(s, 1, "note")
        s.relate("knows", a, b)
        s.relate("knows", c, a)
        s.relate("has_note", a, n)  # cascade from a; a is the source here
    with p.session() as s:
        s.delete(n)                 # the target of a cascade relationship: unlinks
        s.delete(a)                 # knows is unlink: b and c stay
        assert {r.id for r in s.list("person")} == {b, c}
        for other, direction in ((b, "incoming"), (c, "outgoing")):
            last = s.history(other)[-1]
            assert last["kind"] == "unrelated" and last["payload"]["direction"] == direction
            assert last["payload"]["other"] == a
    assert snapshot(p)["counts"]["xrm_relationships"] == 0


# -- scope -------------------------------------------------------------------------------
@pytest.fixture
def scoped(org):
    """manager_a's person with one related person in each of dealer_a and dealer_b."""
    with org.session("manager_a") as s:
        a, mine = make(s, 2)
    with org.session("manager_b") as s:
        (theirs,) = make(s, 1)
    with org.session() as s:
        s.relate("knows", a, mine)
        s.relate("knows", a, theirs)
        s.relate("knows", theirs, mine)
    return org, a, mine, theirs


def test_related_never_shows_records_outside_scope(scoped):
    org, a, mine, theirs = scoped
    with org.session("manager_a") as s:
        assert [r["record"].id for r in s.related(a)] == [mine]
        assert [r["record"].id for r in s.related(mine)] == [a]
    with org.session("analyst") as s:
        assert {r["record"].id for r in s.related(a)} == {mine, theirs}
    with org.session("manager_b") as s:
        with pytest.raises(NotFound):
            s.related(a)


def test_relate_needs_update_on_source_and_read_on_target(scoped):
    org, a, mine, theirs = scoped
    before = snapshot(org)
    for user, src, tgt, error in [("manager_a", a, theirs, NotFound),     # target hidden
                                  ("manager_b", a, theirs, NotFound),     # source hidden
                                  ("analyst", mine, a, PermissionDenied),  # read-only
                                  ("nobody", mine, a, NotFound)]:
        with pytest.raises(error):
            with org.session(user) as s:
                s.relate("mentor_of", src, tgt)
    assert snapshot(org) == before


def test_unrelate_of_a_hidden_relationship_is_not_found(scoped):
    org, a, mine, theirs = scoped
    with org.session() as s:
        rel_id = next(r["relationship"]["id"] for r in s.related(a) if r["record"].id == theirs)
        own_rel = next(r["relationship"]["id"] for r in s.related(a) if r["record"].id == mine)
    with pytest.raises(NotFound):
        with org.session("manager_a") as s:
            s.unrelate(rel_id)
    with pytest.raises(PermissionDenied):
        with org.session("analyst") as s:
            s.unrelate(own_rel)


def test_errors_never_name_a_hidden_record(org):
    with org.session("manager_b") as s:
        (hidden,) = make(s, 1)
    with org.session("manager_a") as s:
        a, b = make(s, 2)
    with org.session() as s:
        s.relate("mentor_of", hidden, b)   # b's one-to-one source slot is taken by a hidden record
        s.relate("mentor_of", a, hidden)   # a mentors someone manager_a cannot see
    for action in (lambda s: s.relate("mentor_of", a, b), lambda s: s.delete(a)):
        with pytest.raises(Conflict) as e:
            with org.session("manager_a") as s:
                action(s)
        assert hidden not in str(e.value.to_dict())


def test_cascade_to_a_record_the_caller_may_not_delete_is_refused(org):
    with org.session("manager_a") as s:
        (a,) = make(s, 1)
    with org.session("manager_b") as s:
        (n,) = make(s, 1, "note")
    with org.session() as s:
        s.relate("has_note", a, n)
    before = snapshot(org)
    with pytest.raises(PermissionDenied) as e:
        with org.session("manager_a") as s:
            s.delete(a)
    assert "cascade" in e.value.message and n not in e.value.message
    assert snapshot(org) == before


def test_relate_many_checks_like_relate_and_is_all_or_nothing(org):
    from xrm_core.errors import Conflict, NotFound, PermissionDenied
    from xrm_core import ValidationError
    with org.session("manager_a") as s:
        people = [s.create("person", {"name": f"P{i}"}).id for i in range(4)]
        notes = [s.create("note", {"text": f"n{i}"}).id for i in range(3)]
        made = s.relate_many("has_note", [(people[0], notes[0]), (people[0], notes[1]), (people[1], notes[2])])
        assert [m["target"] for m in made] == notes
        assert [r["record"].id for r in s.related(people[0])] == notes[:2]
        assert [a["kind"] for a in s.history(notes[2])] == ["created", "related"]
        with pytest.raises(Conflict):  # one-to-many: a note has one person
            s.relate_many("has_note", [(people[2], notes[0])])
        with pytest.raises(Conflict):  # repeated within the batch
            s.relate_many("knows", [(people[0], people[1]), (people[0], people[1])])
        with pytest.raises(ValidationError) as e:  # wrong endpoint type: relate's refusal, for the pair
            s.relate_many("knows", [(people[0], notes[0])])
        assert e.value.message.startswith("pair 0: knows: the target must be a record of type person")
        assert [err["pointer"] for err in e.value.errors] == ["/pairs/0/target"]
        with pytest.raises(ValidationError) as e:
            s.relate_many("knows", [(people[0], people[2]), (people[1], people[1])])
        assert e.value.message == "pair 1: a record cannot be related to itself"
        assert [err["pointer"] for err in e.value.errors] == ["/pairs/1/target"]
    with org.session("manager_b") as s:
        other = s.create("person", {"name": "B"}).id
        with pytest.raises(NotFound):  # manager_b cannot see dealer_a's people
            s.relate_many("knows", [(other, people[0])])
    with org.session("north_lead") as s:
        with pytest.raises(PermissionDenied):  # sees dealer_a's people (subtree) but may not update
            s.relate_many("knows", [(people[3], people[2])])
    with org.session("admin") as s:
        assert len(s.related(people[2])) == 0
        assert len(s.related(people[0])) == 2


def test_a_cardinality_or_endpoint_change_the_stored_relationships_break_is_refused_listing_them(p):
    """Narrowing many-to-many to one-to-many or one-to-one names each record with too many
    relationships; changing an end names how many relationships use it. Nothing changes."""
    from xrm_core import relationships
    with p.session() as s:
        a, b, c = make(s)
        s.relate("sponsors", a, c)
        s.relate("sponsors", b, c)
        s.relate("sponsors", a, b)
    before = snapshot(p)
    base = {"name": "sponsors", "source": "person", "target": "person", "on_delete": "cascade"}
    with p.connection() as conn:
        known = {"person", "note"}
        with pytest.raises(Conflict) as e:
            relationships.save(conn, {**base, "cardinality": "one-to-many"}, known, replace=True)
        assert e.value.message == ("cannot make 'sponsors' one-to-many: 1 record(s) have more relationships "
                                   "of it than that allows")
        assert e.value.errors == [{"pointer": "/cardinality", "message": f"record {c} is the target of 2 "
                                                                        "relationships: one-to-many allows it one source"}]
        with pytest.raises(Conflict) as e:
            relationships.save(conn, {**base, "cardinality": "one-to-one"}, known, replace=True)
        assert sorted(x["message"] for x in e.value.errors) == sorted([
            f"record {c} is the target of 2 relationships: one-to-one allows it one source",
            f"record {a} is the source of 2 relationships: one-to-one allows it one target"])
        with pytest.raises(Conflict, match="cannot change the target of 'sponsors': 3 relationship"):
            relationships.save(conn, {**base, "target": "note", "cardinality": "many-to-many"}, known, replace=True)
        assert relationships.load_all(conn)["sponsors"]["cardinality"] == "many-to-many"
    assert snapshot(p) == before
