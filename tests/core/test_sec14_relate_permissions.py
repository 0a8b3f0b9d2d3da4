"""Who may relate and unrelate (docs/security.md, "Relating and unrelating").

Relating needs update on the source and read on the target, and update on the target too
when the link binds it: its relationship type gives a target one source (one-to-one,
one-to-many) or deleting the source deletes the target (``on_delete: cascade``).
Unrelating needs what relating the link would. A refusal is a 403 that names the side
(pointer ``/source`` or ``/target``) and the action, and changes nothing; a record outside
the caller's read scope stays "no record" (404) as before, whatever the grants.

Before this rule a user who could merely *read* a record could take its one slot (the
target of a one-to-many or one-to-one), bind it to a cascade, and remove a link that held
it.
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
    reader who changes nothing; a local who sees only their own records. Each clerk owns a
    person and a note."""
    p = make_platform(PersonPlugin(), Sponsors())
    return p, make_clerks(p, clerk_actions=("create", "update", "delete"))


# -- relate --------------------------------------------------------------------------------
@pytest.mark.parametrize("rel,source,target,why", [
    ("has_note", "pa", "nb", "one-to-many"),   # the note's one person
    ("mentor_of", "pa", "pb", "one-to-one"),   # the mentee's one mentor
    ("sponsors", "pa", "pb", "cascade"),       # deleting the sponsor would delete the target
])
def test_taking_or_binding_a_target_one_may_only_read_is_refused_at_the_target(world, rel, source, target, why):
    p, ids = world
    e = refused(p, "clerk_a", lambda s: s.relate(rel, ids[source], ids[target]))
    assert e.status == 403
    assert e.errors == [{"pointer": "/target", "message": "relating needs update on this record"}]
    assert "may not update the target" in e.message and ids[target] in e.message and why in e.message
    # The platform's automations may (as_system() is unrestricted).
    with p.session("clerk_a") as s:
        s.as_system().relate(rel, ids[source], ids[target])
        assert [r["record"].id for r in s.related(ids[source], rel)] == [ids[target]]


def test_a_many_to_many_target_needs_only_read(world):
    p, ids = world
    with p.session("clerk_a") as s:
        s.relate("knows", ids["pa"], ids["pb"])
        assert [r["record"].id for r in s.related(ids["pa"])] == [ids["pb"]]


def test_a_source_one_may_only_read_is_refused_at_the_source(world):
    p, ids = world
    e = refused(p, "clerk_a", lambda s: s.relate("knows", ids["pb"], ids["pa"]))
    assert e.errors == [{"pointer": "/source", "message": "relating needs update on this record"}]
    assert "may not update the source" in e.message
    refused(p, "reader", lambda s: s.relate("knows", ids["pa"], ids["pb"]))


def test_a_taken_slot_is_not_told_to_who_may_not_change_the_record(world):
    """403 before 409: a user who may only read the note does not learn whether its one
    person slot is taken (by a record they may not see, say)."""
    p, ids = world
    with p.session() as s:
        s.relate("has_note", ids["pb"], ids["nb"])
    e = refused(p, "clerk_a", lambda s: s.relate("has_note", ids["pa"], ids["nb"]))
    assert e.status == 403 and e.errors[0]["pointer"] == "/target"


def test_a_hidden_end_is_still_no_record(world):
    p, ids = world
    with p.session("local") as s:
        mine = s.create("person", {"name": "mine"}).id
    for rel, src, tgt in (("has_note", mine, ids["nb"]), ("knows", ids["pb"], mine), ("knows", mine, ids["pb"])):
        e = refused(p, "local", lambda s: s.relate(rel, src, tgt), NotFound)
        assert "update" not in e.message and ids["pb"] not in json.dumps(e.to_dict()).replace(
            f"no record {ids['pb']!r}", "") and ids["nb"] not in json.dumps(e.to_dict()).replace(
            f"no record {ids['nb']!r}", "")


def test_relate_many_checks_the_target_as_relate_does(world):
    p, ids = world
    e = refused(p, "clerk_a", lambda s: s.relate_many("has_note", [(ids["pa"], ids["na"]), (ids["pa"], ids["nb"])]))
    assert e.errors == [{"pointer": "/pairs/1/target", "message": "relating needs update on this record"}]
    assert e.message.startswith("pair 1: ")


def test_the_file_import_checks_the_target_as_relate_does(world, tmp_path):
    p, ids = world
    path = tmp_path / "links.csv"
    path.write_text(f"source,target\n{ids['pa']},{ids['na']}\n{ids['pa']},{ids['nb']}\n")
    before = snapshot(p)
    with p.session("clerk_a") as s:
        with pytest.raises(ValidationError) as e:
            import_relationships(s, "has_note", str(path))
    report = e.value.extra["report"]
    assert report["imported"] == 0 and [i["line"] for i in report["invalid"]] == [3]
    (err,) = report["invalid"][0]["errors"]
    assert err["pointer"] == "/target" and err["message"].startswith(f"'clerk_a' may not update {ids['nb']}")
    assert snapshot(p) == before
    with p.session("clerk_a") as s:
        assert import_relationships(s, "has_note", str(path), skip_invalid=True)["imported"] == 1


# -- unrelate ------------------------------------------------------------------------------
def test_unrelate_needs_update_on_the_target_or_what_relating_would(world):
    """sec15 (docs/security.md, "Relating and unrelating"): the target's owner may detach
    it from any link; the source's owner only from a link that does not bind the target."""
    p, ids = world
    with p.session() as s:  # made by an administrator: a's person has b's note
        held = s.relate("has_note", ids["pa"], ids["nb"])["id"]
        loose = s.relate("knows", ids["pa"], ids["pb"])["id"]
    e = refused(p, "clerk_a", lambda s: s.unrelate(held))  # b's note's one slot: b's to free
    assert e.errors == [{"pointer": "/target", "message": "unrelating needs update on this record"}]
    assert "may not update the target" in e.message
    refused(p, "local", lambda s: s.unrelate(held), NotFound)
    with p.session("clerk_b") as s:
        s.unrelate(held)  # the target's owner detaches her note
        s.unrelate(loose)  # and her person from a link pointing at it
    with p.session() as s:
        loose = s.relate("knows", ids["pa"], ids["pb"])["id"]
        held = s.relate("has_note", ids["pa"], ids["nb"])["id"]
    with p.session("clerk_a") as s:
        s.unrelate(loose)  # many-to-many: the source's owner may
        s.as_system().unrelate(held)  # automations may
        assert s.related(ids["pa"]) == []


# -- deletes ------------------------------------------------------------------------------
def test_deleting_a_record_removes_its_links_whatever_the_other_end(world):
    """A link cannot outlive its record: deleting one removes (unlinks) its links also from
    records the deleter may only read, as documented; it frees their slot, takes none."""
    p, ids = world
    with p.session() as s:
        s.relate("knows", ids["pb"], ids["pa"])
    with p.session("clerk_a") as s:
        s.delete(ids["pa"])
    with p.session() as s:
        assert s.related(ids["pb"]) == []
        assert s.history(ids["pb"])[-1]["kind"] == "unrelated"
