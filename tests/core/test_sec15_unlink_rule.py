"""Who may remove a link (docs/security.md, "Relating and unrelating").

Relating keeps its rule: update on the source, and on the target when the link binds it.
Unrelating needs update on the target, or what relating would. So the owner of a record
may always detach it from a link pointing at it — before this rule a user who could only
read a record could add a many-to-many link to it that its owner could not remove (only an
administrator could), and a one-to-many slot taken before the round-14 rule stayed taken.
The source's owner still may not free a bound target's slot (or cut its cascade) alone.
An end outside the caller's read scope is still "no record" (404) first, whatever they may
change; and a user who may only read changes nothing through any path.
"""
from __future__ import annotations

import json

import pytest
from conftest import PersonPlugin

from clerk_world import Sponsors, make_clerks, refused, snapshot
from xrm_core import NotFound, ValidationError
from xrm_core.relationship_files import import_relationships


@pytest.fixture
def world(make_platform):
    """Two clerks in two units who read every person and note and change their own; a
    reader who changes nothing; a local who sees only their own records."""
    p = make_platform(PersonPlugin(), Sponsors())
    return p, make_clerks(p, clerk_actions=("create", "update", "delete"),
                          local_actions=("read", "create", "update", "delete"))


def test_the_target_owner_removes_a_many_to_many_link_a_reader_of_it_added(world):
    """The open defect: clerk_a may only read b's person, yet may add a 'knows' link to it
    (read is enough on a many-to-many target); clerk_b, its owner, could not remove it."""
    p, ids = world
    with p.session("clerk_a") as s:
        rid = s.relate("knows", ids["pa"], ids["pb"])["id"]
    with p.session("clerk_b") as s:
        s.unrelate(rid)
        assert s.related(ids["pb"]) == [] and s.related(ids["pa"]) == []
        for end in ("pa", "pb"):  # both timelines say who removed it
            last = s.history(ids[end])[-1]
            assert (last["kind"], last["actor"]) == ("unrelated", "clerk_b")


@pytest.mark.parametrize("rel,source,target", [
    ("has_note", "pa", "nb"),   # one-to-many: the note's one person slot
    ("mentor_of", "pa", "pb"),  # one-to-one
    ("sponsors", "pa", "pb"),   # cascade: deleting a's person would delete b's
])
def test_the_owner_of_a_bound_target_frees_it_the_source_owner_alone_may_not(world, rel, source, target):
    p, ids = world
    with p.session() as s:  # an administrator's link (or one a reader took before round 14)
        rid = s.relate(rel, ids[source], ids[target])["id"]
    e = refused(p, "clerk_a", lambda s: s.unrelate(rid))
    assert e.status == 403
    assert e.errors == [{"pointer": "/target", "message": "unrelating needs update on this record"}]
    assert "may not update the target" in e.message and "unrelating needs update on the target" in e.message
    with p.session("clerk_b") as s:
        s.unrelate(rid)
        assert s.related(ids[target], rel) == []
        if rel == "has_note":  # the slot is free again: its owner may take it
            s.relate("has_note", ids["pb"], ids["nb"])


def test_who_may_change_neither_end_is_refused_at_both(world):
    p, ids = world
    with p.session("clerk_a") as s:
        rid = s.relate("knows", ids["pa"], ids["pb"])["id"]
    e = refused(p, "reader", lambda s: s.unrelate(rid))
    assert e.status == 403
    assert e.errors == [{"pointer": "/source", "message": "unrelating needs update on this record or the target"},
                        {"pointer": "/target", "message": "unrelating needs update on this record or the source"}]
    assert "'reader' may update neither end of this link" in e.message


def test_a_hidden_end_is_still_no_record_for_the_other_ends_owner(world):
    """local owns the target; the source is outside their read scope: the link does not
    exist for them (404, as an unknown id), though they may change the target."""
    p, ids = world
    with p.session("local") as s:
        mine = s.create("person", {"name": "mine"}).id
        note = s.create("note", {"text": "mine"}).id
    with p.session() as s:
        links = [s.relate("knows", ids["pb"], mine)["id"], s.relate("has_note", ids["pb"], note)["id"]]
    for rid in links:
        e = refused(p, "local", lambda s: s.unrelate(rid), NotFound)
        assert e.errors == [] or all(err["pointer"] not in ("/source", "/target") for err in e.errors)
        assert "update" not in e.message and ids["pb"] not in json.dumps(e.to_dict())
        assert e.message == refused(p, "local", lambda s: s.unrelate("R-no-such-link"), NotFound).message.replace(
            "R-no-such-link", rid)


# -- re-audit: a user who may only read changes nothing, by any path ---------------------
def test_a_reader_changes_no_link_by_any_path(world, tmp_path):
    p, ids = world
    with p.session() as s:
        made = [s.relate("knows", ids["pa"], ids["pb"])["id"], s.relate("has_note", ids["pa"], ids["na"])["id"],
                s.relate("sponsors", ids["pb"], ids["pa"])["id"], s.relate("mentor_of", ids["pb"], ids["pa"])["id"]]
    for rel, src, tgt in (("knows", "pb", "pa"), ("has_note", "pb", "nb"), ("sponsors", "pa", "pb"),
                          ("mentor_of", "pa", "pb")):
        refused(p, "reader", lambda s: s.relate(rel, ids[src], ids[tgt]))
        refused(p, "reader", lambda s: s.relate_many(rel, [(ids[src], ids[tgt])]))
        path = tmp_path / f"{rel}.csv"
        path.write_text(f"source,target\n{ids[src]},{ids[tgt]}\n")
        before = snapshot(p)
        with pytest.raises(ValidationError):
            with p.session("reader") as s:
                import_relationships(s, rel, str(path))
        assert snapshot(p) == before
    for rid in made:
        refused(p, "reader", lambda s: s.unrelate(rid))
    for rid in ids.values():
        refused(p, "reader", lambda s: s.delete(rid))
