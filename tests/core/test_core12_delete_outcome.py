"""``Session.delete`` returns what went (xrm_core.removals.Deleted): every record and
relationship the delete removed — what its cascades took, and what its records' hooks added
to it or removed during it — each marked readable or not for the acting user. Before, it
returned None, and the admin UI guessed what went from the relationships read before the
delete: a note a hook related to the record while it was deleted went unmentioned."""
from __future__ import annotations

import pytest
from conftest import PersonPlugin

from xrm_core import Conflict, NotFound, accounts, hookimpl


class Tidier:
    """While a person named "tidy" is deleted, its hook relates one more note to it (which the
    cascade then takes), deletes the person named "hidden" (as the system: the user may not
    see it) and tries to delete a record that does not exist (refused, caught: nothing)."""

    __name__ = "core12tidier"

    @hookimpl
    def xrm_record_event(self, event, record, session):
        if event != "before_delete" or record.type != "person" or record.data.get("name") != "tidy":
            return
        system = session.as_system()
        late = system.create("note", {"text": "late"}, unit=record.unit)
        system.relate("has_note", record.id, late.id)
        for hidden in system.list("person", {"name": "hidden"}):
            system.delete(hidden.id)
        try:
            system.delete("no-such-record")
        except NotFound:
            pass


def _ids(deleted):
    return [(r.type, r.readable) for r in deleted.records]


def test_a_delete_without_hooks_returns_its_cascade_and_links(platform):
    with platform.session() as s:
        hub = s.create("person", {"name": "hub"})
        friend = s.create("person", {"name": "friend"})
        notes = [s.create("note", {"text": t}) for t in ("a", "b")]
        links = [s.relate("has_note", hub.id, n.id)["id"] for n in notes]
        links.append(s.relate("knows", hub.id, friend.id)["id"])
        deleted = s.delete(hub.id)
    assert [r.id for r in deleted.records] == [notes[0].id, notes[1].id, hub.id]
    assert all(r.readable for r in deleted.records)
    assert [r.record.data for r in deleted.records] == [{"text": "a"}, {"text": "b"}, {"name": "hub"}]
    assert sorted(link.id for link in deleted.links) == sorted(links)
    assert all(link.readable for link in deleted.links)
    assert [r.id for r in deleted.others(hub.id)] == [notes[0].id, notes[1].id]


def test_a_hooked_delete_returns_what_its_hooks_added_and_removed(make_platform):
    p = make_platform(PersonPlugin(), Tidier())
    with p.connection() as conn:
        accounts.create_unit(conn, "dealer_a")
        accounts.create_unit(conn, "dealer_b")
        accounts.save_role(conn, {"name": "manager", "grants": [
            {"type": "*", "actions": ["read", "create", "update", "delete"], "depth": "unit"}]})
        accounts.create_user(conn, "manager_a", "dealer_a", ["manager"], "pw")
    with p.session() as s:
        hidden = s.create("person", {"name": "hidden"}, unit="dealer_b")
    with p.session("manager_a") as s:
        tidy = s.create("person", {"name": "tidy"})
        stranger_link = s.as_system().relate("knows", tidy.id, hidden.id)["id"]
        deleted = s.delete(tidy.id)
        late = [r for r in deleted.records if r.type == "note"]
        assert [r.record.data for r in late] == [{"text": "late"}]  # related during the delete
        gone_hidden = [r for r in deleted.records if r.id == hidden.id]
        assert [(r.readable, r.record) for r in gone_hidden] == [(False, None)]  # counted, never named
        assert deleted.records[-1].id == tidy.id and len(deleted.records) == 3
        by_id = {link.id: link for link in deleted.links}
        assert by_id[stranger_link].readable is False  # its other end is outside the user's scope
        assert sum(link.type == "has_note" and link.readable for link in deleted.links) == 1


def test_a_delete_refused_returns_nothing_and_leaves_no_trace_in_an_outer_one(platform):
    with platform.session() as s:
        a, b = s.create("person", {"name": "a"}), s.create("person", {"name": "b"})
        s.relate("mentor_of", a.id, b.id)  # restrict: deleting a is refused
        with pytest.raises(Conflict):
            s.delete(a.id)
        assert s.removals == []
        assert [r.id for r in s.delete(b.id).records] == [b.id]
