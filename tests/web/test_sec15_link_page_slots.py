"""The UI's link page tells no more than the core (docs/security.md, "Relating and
unrelating": a missing update is a 403 before the cardinality's 409, so a user who may not
change a record does not learn whether its one slot is taken).

The page marked a candidate the user may only read "already has its one link" when its
slot was taken — by a record the user may not even see — and said the same of the record
itself in a banner: the existence of a hidden link, which the core does not tell them.

``viewer`` reads their unit's records and changes only their own; b's person (unit_b) is
hidden from them and holds the one person slot of a's note (unit_a, readable).
"""
from __future__ import annotations

import pytest
from conftest import PersonPlugin

from xrm_core import PermissionDenied, accounts

from test_ui_support import Browser, text

TAKEN = "already has its one link"


@pytest.fixture
def world(make_platform):
    p = make_platform(PersonPlugin())
    with p.connection() as conn:
        accounts.create_unit(conn, "unit_a")
        accounts.create_unit(conn, "unit_b")
        accounts.save_role(conn, {"name": "clerk", "grants": [
            {"type": "*", "actions": ["read"], "depth": "unit"},
            {"type": "*", "actions": ["create", "update"], "depth": "own"}]})
        accounts.create_user(conn, "clerk_a", "unit_a", ["clerk"], "pw")
        accounts.create_user(conn, "clerk_b", "unit_b", ["clerk"], "pw")
        accounts.create_user(conn, "viewer", "unit_a", ["clerk"], "pw")
    ids = {}
    for who in ("a", "b"):
        with p.session(f"clerk_{who}") as s:
            ids[f"p{who}"] = s.create("person", {"name": f"person {who}"}).id
            ids[f"n{who}"] = s.create("note", {"text": f"note {who}"}).id
    with p.session("viewer") as s:
        ids["mine"] = s.create("person", {"name": "mine"}).id
        ids["my_note"] = s.create("note", {"text": "my note"}).id
    with p.session() as s:
        s.relate("has_note", ids["pb"], ids["na"])  # a's note's slot, held by a hidden person
    return p, ids


def test_the_core_tells_a_viewer_nothing_of_the_slot(world):
    p, ids = world
    with pytest.raises(PermissionDenied) as e:
        with p.session("viewer") as s:
            s.relate("has_note", ids["mine"], ids["na"])
    assert e.value.errors[0]["pointer"] == "/target" and "already" not in e.value.message


def test_the_link_page_does_not_tell_a_viewer_a_readable_candidates_slot_is_taken(world):
    p, ids = world
    b = Browser(p)
    b.login("viewer", "pw")
    page = text(b.get(f"/r/person/{ids['mine']}/link?rel=has_note:out&q=note"))
    assert "note a" in page and "my note" in page
    assert TAKEN not in page
    assert "not available: you may not change it" in page
    # Their own note's slot taken is theirs to know: still said.
    with p.session() as s:
        s.relate("has_note", ids["pa"], ids["my_note"])
    page = text(b.get(f"/r/person/{ids['mine']}/link?rel=has_note:out&q=note"))
    assert page.count(TAKEN) == 1


def test_the_link_page_of_a_record_the_viewer_may_only_read_does_not_tell_its_slot(world):
    p, ids = world
    b = Browser(p)
    b.login("viewer", "pw")
    page = text(b.get(f"/r/note/{ids['na']}/link?rel=has_note:in"))
    assert 'id="read-only"' in page
    assert 'id="own-full"' not in page and TAKEN not in page
